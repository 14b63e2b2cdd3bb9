# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The monthly report of every practice in the play (OPS-04; options
documented in library/praxis_monthly_report.py).

Runs once on the controller (``run_once: true``): for every practice of the
play's hosts (``ansible_play_hosts_all``, so ``-l site_x`` limits it) it asks
``praxis_monthly.month_report`` for the month's data (or reads it from
``data_file``, meant for tests only), renders it
(``praxis_report_render``) and writes
``<output>/reports/<site>/<YYYY-MM>/bericht.pdf`` and ``bericht.html``
(English: ``report.*``) atomically, 0600 in folders 0700. A report whose only
change is the time it was made is not written again. With ``mail: true`` the
PDF goes to the site's contacts with ``reports: true`` through the alert
mails' SMTP settings (``praxis_smtp``); what was mailed is noted beside the
report (``mailed.json``), so a second run sends nothing. Check mode renders,
writes and sends nothing and returns the paths and recipients.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import smtplib
import time
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils import praxis_mail  # noqa: E402  (controller side only)
from ansible.module_utils import praxis_report_render as render  # noqa: E402
from ansible.module_utils import praxis_site  # noqa: E402
from ansible.module_utils.praxis_action import PraxisAction  # noqa: E402
from ansible.module_utils.praxis_backup import SAFE_PART, write_file_atomic, write_json_atomic  # noqa: E402

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "ledger": {"type": "str"},
    "now": {"type": "str"},
    "month": {"type": "str"},
    "output": {"type": "path"},
    "policy": {"type": "dict"},
    "provider": {"type": "dict"},
    "kbv": {"type": "dict"},
    "mail": {"type": "bool", "default": False},
    "smtp": {"type": "dict", "no_log": True},
    "data_file": {"type": "path"},
}
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
ROLE_GROUPS = {"firewalls": "firewall", "access_points": "access_point", "switches": "switch", "nas": "nas",
               "workplaces": "workplace", "servers": "server"}


class ActionModule(PraxisAction):
    OPERATION = "praxis_monthly_report"
    SPEC = ARGUMENT_SPEC
    _requires_connection = False
    GLOBALS = dict(PraxisAction.GLOBALS, output="praxis_output_dir", policy="praxis_patch_policy",
                   provider="praxis_provider", month="praxis_report_month", smtp="praxis_smtp",
                   kbv="praxis_report_kbv")

    def fallbacks(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        values = super().fallbacks(task_vars)
        if values.get("output") is None:
            values["output"] = self.output_dir(task_vars)
        if values.get("month") in ("", None):
            values.pop("month", None)
        return values

    def scrub(self, message: str) -> str:
        password = (self._scrub_password or "") if hasattr(self, "_scrub_password") else ""
        return message.replace(password, "********") if password else message

    # -- practices --------------------------------------------------------------------------------
    def practices(self, task_vars: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The practices of the play's hosts, each with its site and its hosts' roles."""
        found: dict[str, dict[str, Any]] = {}
        for site_id, site in self.play_sites(task_vars).items():
            if not SAFE_PART.match(site_id):
                raise render.ReportError(f"site id {site_id!r} cannot be a folder name")
            render.texts(site.get("language") or "de")      # a language without texts stops before anything
            hosts = {}
            for entry in praxis_site.site_hosts(dict(site)):
                groups = entry["groups"]
                role = "not_managed" if "not_managed" in groups else next(
                    (ROLE_GROUPS[g] for g in groups if g in ROLE_GROUPS), entry["device"].get("role"))
                hosts[entry["host"]] = role
            found[site_id] = {"site": dict(site), "hosts": hosts}
        return found

    def month(self, args: Mapping[str, Any], now: dt.datetime, site: Mapping[str, Any]) -> str:
        """The option ``month`` (``praxis_report_month``), else the month before
        ``now`` in the practice's time zone."""
        if args.get("month"):
            month = str(args["month"]).strip()
            if not MONTH.match(month):
                raise render.ReportError(f"month (praxis_report_month): {month!r} is not YYYY-MM")
            return month
        try:
            zone = ZoneInfo(site.get("timezone") or "Europe/Berlin")
        except (ZoneInfoNotFoundError, ValueError):
            raise render.ReportError(f"site {site.get('id')}: unknown time zone {site.get('timezone')!r}") from None
        local = now.astimezone(zone)
        first = local.date().replace(day=1) - dt.timedelta(days=1)
        return f"{first.year:04d}-{first.month:02d}"

    def test_data(self, path: str) -> dict[str, dict[str, Any]]:
        """``data_file`` (tests only): one report dict or a list of them, by site id."""
        try:
            with open(path, encoding="utf-8") as handle:
                loaded = json.load(handle)
        except (OSError, ValueError) as exc:
            raise render.ReportError(f"data_file {path}: {exc}") from None
        reports = loaded if isinstance(loaded, list) else [loaded]
        by_site = {}
        for index, report in enumerate(reports):
            if not isinstance(report, Mapping) or not isinstance(report.get("site"), Mapping):
                raise render.ReportError(f"data_file {path}: entry {index} has no site")
            by_site[str(report["site"].get("id"))] = dict(report)
        return by_site

    def data(self, args: Mapping[str, Any], practice: Mapping[str, Any], month: str, now: dt.datetime,
             test_data: Mapping[str, Any] | None) -> dict[str, Any]:
        site = practice["site"]
        if test_data is not None:
            if str(site["id"]) not in test_data:
                raise render.ReportError(f"data_file {args['data_file']}: no report for site {site['id']}")
            return dict(test_data[str(site["id"])])
        from ansible.module_utils import praxis_monthly  # the month's data; imported only when used

        provider = dict(args.get("provider") or {})
        if not provider.get("name"):
            provider["name"] = render.texts(site.get("language") or "de")["provider_default"]
        return praxis_monthly.month_report(self.ledger_path, output_dir=args["output"], site=dict(site), month=month,
                                           now=now, provider=provider, policy=args.get("policy"),
                                           hosts=dict(practice["hosts"]), kbv=args.get("kbv"))

    # -- run --------------------------------------------------------------------------------------
    def execute(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        now = self.now(args)
        self._scrub_password = str((args.get("smtp") or {}).get("password") or "")
        try:
            return self._execute(args, task_vars, now)
        except praxis_mail.MailError as exc:
            raise render.ReportError(str(exc)) from None
        except OSError as exc:
            raise render.ReportError(f"{type(exc).__name__}: {exc}") from None

    def _execute(self, args: dict[str, Any], task_vars: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        practices = self.practices(task_vars)
        settings = None
        if args["mail"]:
            if args.get("smtp") is None:
                raise render.ReportError("mail: true needs praxis_smtp (the alert e-mails' SMTP settings)")
            settings = praxis_mail.smtp_settings(args["smtp"])
        test_data = self.test_data(args["data_file"]) if args.get("data_file") else None
        # every practice's data and HTML first: a bad one stops the run before any file is written
        planned = []
        for site_id in sorted(practices):
            practice = practices[site_id]
            month = self.month(args, now, practice["site"])
            data = self.data(args, practice, month, now, test_data)
            if str((data.get("site") or {}).get("id")) != site_id:
                raise render.ReportError(f"site {site_id}: the report's data is for site "
                                         f"{(data.get('site') or {}).get('id')!r}")
            if data.get("month") != month:
                raise render.ReportError(f"site {site_id}: the report's data is for {data.get('month')!r}, "
                                         f"not {month}")
            html = render.render_html(data)
            folder = os.path.join(args["output"], "reports", site_id, month)
            base = os.path.join(folder, render.file_base(data))
            planned.append({"site": practice["site"], "data": data, "html": html, "month": month,
                            "html_path": base + ".html", "pdf_path": base + ".pdf",
                            "mailed_path": os.path.join(folder, "mailed.json")})
        written: list[str] = []
        reports: list[dict[str, Any]] = []
        would_send: list[dict[str, Any]] = []
        sent: list[dict[str, Any]] = []
        errors: list[str] = []
        transport: dict[str, Any] = {}
        for plan in planned:
            site_id = str(plan["site"]["id"])
            unchanged = os.path.isfile(plan["pdf_path"]) and os.path.isfile(plan["html_path"]) and \
                render.same_report(_read(plan["html_path"]), plan["html"])
            pdf = None
            if not unchanged:
                written += [plan["pdf_path"], plan["html_path"]]
                if not self.check_mode:
                    pdf = render.render_pdf(plan["html"])
                    write_file_atomic(plan["pdf_path"], pdf)
                    write_file_atomic(plan["html_path"], plan["html"])     # last: it marks the pair complete
            reports.append({"site": site_id, "month": plan["month"], "pdf": plan["pdf_path"],
                            "html": plan["html_path"], "changed": not unchanged})
            if not args["mail"]:
                continue
            recipients = [str(c["email"]).strip() for c in plan["site"].get("contacts") or []
                          if c.get("reports") is True]
            if not recipients:
                continue        # warned below
            if self.check_mode:
                digest = None if not unchanged else _digest_file(plan["pdf_path"])
                done = _mailed(plan["mailed_path"], digest) if digest else set()
                would_send += [{"site": site_id, "to": to} for to in recipients if to.lower() not in done]
                continue
            if pdf is None:
                with open(plan["pdf_path"], "rb") as handle:
                    pdf = handle.read()
            digest = hashlib.sha256(pdf).hexdigest()
            done = _mailed(plan["mailed_path"], digest)
            for to in recipients:
                if to.lower() in done:
                    continue
                message = render.mail_message(plan["data"], pdf, sender=settings["from"], to=to, now=now)
                error = self._send(settings, message, to, transport)
                if error:
                    errors.append(f"site {site_id}: report to {to} not sent: {error}")
                    continue
                done.add(to.lower())
                sent.append({"site": site_id, "to": to, "message_id": str(message["Message-ID"])})
                write_json_atomic(plan["mailed_path"], {"pdf_sha256": digest, "to": sorted(done)})
        result: dict[str, Any] = {"changed": bool(written or sent or would_send), "sites": sorted(practices),
                                  "reports": reports, "paths": written}
        verb = "would write" if self.check_mode else "wrote"
        result["msg"] = f"{verb} {len(written)} report file(s) for {len(practices)} practice(s)"
        if args["mail"]:
            result["sent"] = sent
            if self.check_mode:
                result["would_send"] = would_send
                result["msg"] += f", would mail {len(would_send)}"
            else:
                result["msg"] += f", mailed {len(sent)}"
            missing = [r["site"] for r in reports
                       if not any(c.get("reports") is True for c in practices[r["site"]]["site"].get("contacts")
                                  or [])]
            if missing:
                result["warnings"] = [f"site {s}: mail: true, but no contact has reports: true" for s in missing]
        if errors:
            result.update(failed=True, msg=self.scrub(result["msg"] + "; " + "; ".join(errors)))
        return result

    def _send(self, settings: Mapping[str, Any], message: Any, to: str, transport: dict[str, Any]) -> str | None:
        """One message with the alert mails' transport and retries; the error text (password masked) or None."""
        if transport.get("down"):
            return f"not tried, the mail server failed before: {transport['down']}"
        error = None
        for attempt in range(int(settings["retries"]) + 1):
            try:
                praxis_mail.send(settings, message, [to])
                return None
            except (smtplib.SMTPException, OSError) as exc:
                error = praxis_mail._error(exc, settings)
                permanent = isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600 \
                    and not isinstance(exc, smtplib.SMTPAuthenticationError)
                if praxis_mail._server_down(exc) and attempt == int(settings["retries"]):
                    transport["down"] = error
                if permanent or attempt == int(settings["retries"]):
                    break
                time.sleep(float(settings["retry_delay"]))
        return error


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _digest_file(path: str) -> str:
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _mailed(path: str, digest: str | None) -> set[str]:
    """The addresses this PDF (by its SHA-256) was already mailed to."""
    try:
        with open(path, encoding="utf-8") as handle:
            noted = json.load(handle)
    except (OSError, ValueError):
        return set()
    if not isinstance(noted, Mapping) or noted.get("pdf_sha256") != digest:
        return set()
    return {str(a).lower() for a in noted.get("to") or []}
