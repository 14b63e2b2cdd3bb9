# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Alert e-mails of a run (OPS-03; options documented in library/praxis_alerts.py).

Runs once at the end of the nightly job (``run_once: true``) on the
controller: for every practice of the play's hosts (``ansible_play_hosts_all``,
so ``-l site_x`` limits it) it queues the reminders that are due
(``praxis_incidents.queue_reminders``) and sends the practice's outbox, one
message per recipient (``praxis_mail.deliver``). Check mode sends and writes
nothing and returns ``would_send``. What could not be sent stays queued and is
listed in ``queued`` with its error; the next run delivers it.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import ansible.module_utils as _ansible_module_utils
from ansible.plugins.action import ActionBase

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils import praxis_incidents, praxis_ledger  # noqa: E402
from ansible.module_utils import praxis_mail  # noqa: E402  (controller side only)
from ansible.module_utils.praxis_action import default_path  # noqa: E402

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "ledger": {"type": "str"},
    "smtp": {"type": "dict", "no_log": True},
    "oncall": {"type": "str"},
    "oncall_language": {"type": "str", "default": "en"},
    "sites": {"type": "list", "elements": "dict"},
    "now": {"type": "str"},
    "run": {"type": "str"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def _var(self, task_vars: Mapping[str, Any], name: str) -> Any:
        value = task_vars.get(name)
        return None if value is None else self._templar.template(value)

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            result.update(self._alerts(args, task_vars))
        except (praxis_mail.MailError, praxis_incidents.IncidentError, praxis_ledger.LedgerError, OSError) as exc:
            result.update(failed=True, changed=False, msg=f"praxis_alerts: {exc}")
        return result

    def _sites(self, args: Mapping[str, Any], task_vars: Mapping[str, Any]) -> list[dict[str, Any]]:
        if args.get("sites") is not None:
            sites = list(args["sites"])
        else:
            hostvars = task_vars.get("hostvars") or {}
            sites = []
            for host in task_vars.get("ansible_play_hosts_all") or []:
                site = (hostvars.get(host) or {}).get("praxis_site")
                if site is not None:
                    sites.append(self._templar.template(site))
        unique: dict[str, dict[str, Any]] = {}
        for site in sites:
            if not isinstance(site, Mapping) or not site.get("id"):
                raise praxis_mail.MailError(f"a site without id: {site!r:.80}")
            unique.setdefault(str(site["id"]), dict(site))
        return [unique[key] for key in sorted(unique)]

    def _alerts(self, args: Mapping[str, Any], task_vars: Mapping[str, Any]) -> dict[str, Any]:
        ledger = praxis_ledger.location(
            args.get("ledger") or self._var(task_vars, praxis_ledger.URL_VARIABLE)
            or self._var(task_vars, praxis_ledger.PATH_VARIABLE)
            or os.path.join(str(self._var(task_vars, "praxis_output_dir") or default_path(task_vars)), "ledger.sqlite"))
        if praxis_ledger.is_url(ledger):
            praxis_ledger.parse_url(ledger)     # a malformed URL: its one message, before anything is read
        smtp = args.get("smtp") if args.get("smtp") is not None else self._var(task_vars, "praxis_smtp")
        oncall = args.get("oncall") if args.get("oncall") is not None else self._var(task_vars, "praxis_alert_oncall")
        oncall = str(oncall).strip() if oncall else None
        if oncall and not praxis_mail.ADDRESS.match(oncall):
            raise praxis_mail.MailError(f"praxis_alert_oncall: {oncall!r} is not an e-mail address")
        praxis_mail.texts(args["oncall_language"])
        now = args.get("now") or self._var(task_vars, "praxis_now") or praxis_mail.utcnow().isoformat()
        run = args.get("run")
        if run is None:
            run = str(self._var(task_vars, "awx_job_id") or self._var(task_vars, "praxis_run_id") or "")
        check_mode = bool(self._task.check_mode)
        sites = self._sites(args, task_vars)
        for site in sites:          # every practice's language and zone first: nothing half-sent
            praxis_mail.texts(site.get("language") or "de")
            for contact in site.get("contacts") or []:
                praxis_mail.texts(contact.get("language") or site.get("language") or "de")
        if smtp is not None:
            praxis_mail.smtp_settings(smtp)
        reminders = praxis_incidents.queue_reminders(ledger, sites=[s["id"] for s in sites], now=now, run=run,
                                                     check_mode=check_mode) if praxis_ledger.exists(ledger) else []
        totals: dict[str, list[dict[str, Any]]] = {"sent": [], "queued": [], "would_send": []}
        if praxis_ledger.exists(ledger):
            transport: dict[str, Any] = {}      # a server that is down is tried once per run, not per practice
            for site in sites:
                outcome = praxis_mail.deliver(ledger, site, smtp, now=now, oncall=oncall,
                                              oncall_language=args["oncall_language"], check_mode=check_mode,
                                              transport=transport)
                for key in totals:
                    totals[key].extend(outcome[key])
        warnings = []
        if smtp is None and (totals["queued"] or totals["would_send"]):
            warnings.append("praxis_smtp is not set: alert e-mails stay queued in the ledger")
        for item in totals["queued"]:
            warnings.append(f"alert to {item['to']} ({item['site']}) queued: {item['last_error']}")
        if check_mode:
            msg = f"would send {len(totals['would_send'])} alert e-mail(s)"
        else:
            msg = f"sent {len(totals['sent'])} alert e-mail(s), {len(totals['queued'])} queued"
        result: dict[str, Any] = {
            "changed": bool(totals["sent"]) or bool(reminders and not check_mode),
            "sites": [s["id"] for s in sites], "reminders": [i["id"] for i in reminders],
            "sent": totals["sent"], "queued": totals["queued"], "msg": msg,
        }
        if check_mode:
            result["would_send"] = totals["would_send"]
            result["changed"] = bool(totals["would_send"] or reminders)
        if warnings:
            result["warnings"] = warnings
        return result
