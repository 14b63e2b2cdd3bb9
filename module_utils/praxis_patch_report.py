# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The patch report of a practice (WP-08, WP-09, WP-10; docs/patching.md).

``site_report`` reads the patch ledger (``praxis_patch.PatchLedger``) and
returns the report as Markdown and as data:

* per device the daily success check: the last successful check, the counts
  by state and every update with its state (``held`` while a hold is open),
  error code, installation time and a pending reboot;
* per update the rollout: pilot, the pilot's result, released when, by whom
  and by which rule, or when it will be released at the earliest;
* the open holds with who, why and until when;
* the programs that update themselves (the version seen and the one offered);
* the devices not checked successfully in the last 24 hours;
* the month's service level (``praxis_patch.sla``) against the practice's
  policy, saying plainly when the policy makes a target unreachable and why.

German by default (practice staff read it), English selectable; the texts are
the ``patch`` part of ``praxis_texts_<language>.py``, dates are written by
Babel in the practice's time zone. ``write_site_reports`` writes
``<output>/patches/<site>/report.md`` and ``report.json`` atomically (0600,
folders 0700) and only when something other than the time of the run
changed, so a second run changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ansible.module_utils import praxis_ledger
from ansible.module_utils import praxis_patch as pp
from ansible.module_utils.praxis_backup import SAFE_PART, private_makedirs, write_file_atomic, write_json_atomic
from ansible.module_utils.praxis_calendar import parse_timestamp

LANGUAGES = ("de", "en")
NOT_REACHED_HOURS = 24
RULES = (
    ("pilot_ok", re.compile(r"^pilot (?P<host>\S+) ran it (?P<days>\d+) days without a problem$")),
    ("no_pilot", re.compile(r"^no pilot: (?P<days>\d+) days after the release$")),
    ("not_offered", re.compile(r"^not offered to the pilot (?P<host>\S+): (?P<days>\d+) days after the practice "
                               r"first saw it$")),
    ("pilot_unreached", re.compile(r"^pilot (?P<host>\S+) not reached since (?P<since>\S+(?: \S+)?): "
                                   r"(?P<days>\d+) days after the release$")),
    ("manual", re.compile(r"^released by (?P<by>.+?): (?P<reason>.*)$", re.DOTALL)),
)


def catalog(language: str) -> dict[str, Any]:
    """The ``patch`` texts of a language (de or en)."""
    if language not in LANGUAGES:
        raise pp.PatchError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
    if language == "de":
        from ansible.module_utils.praxis_texts_de import TEXTS
    else:
        from ansible.module_utils.praxis_texts_en import TEXTS
    return dict(TEXTS["patch"], locale=TEXTS["locale"])


def zone_of(site: Mapping[str, Any]) -> ZoneInfo:
    name = site.get("timezone") or pp.DEFAULT_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise pp.PatchError(f"site {site.get('id')}: timezone {name!r} is not a known time zone") from None


class _Writer:
    """Dates, numbers and texts of one language and zone."""

    def __init__(self, texts: Mapping[str, Any], zone: ZoneInfo) -> None:
        self.t = texts
        self.zone = zone

    def date(self, value: Any) -> str:
        from babel.dates import format_date  # runtime dependency, requirements.txt

        if value in (None, ""):
            return self.t["dash"]
        if isinstance(value, str) and len(value) == 10:
            day = dt.date.fromisoformat(value)
        else:
            day = parse_timestamp(value, "time").astimezone(self.zone).date()
        return format_date(day, self.t["date_format"], locale=self.t["locale"])

    def moment(self, value: Any) -> str:
        from babel.dates import format_datetime

        if value in (None, ""):
            return self.t["dash"]
        return format_datetime(parse_timestamp(value, "time"), self.t["datetime_format"], tzinfo=self.zone,
                               locale=self.t["locale"])

    def number(self, value: Any) -> str:
        from babel.numbers import format_decimal

        if value is None:
            return self.t["dash"]
        return format_decimal(value, format="#,##0.#", locale=self.t["locale"])

    def month(self, month: str) -> str:
        from babel.dates import format_date

        return format_date(dt.date.fromisoformat(f"{month}-01"), "MMMM y", locale=self.t["locale"])

    def rule(self, text: str | None) -> str:
        """The core's release rule in the report's language (a technician's
        reason stays as written)."""
        if not text:
            return self.t["dash"]
        for name, pattern in RULES:
            match = pattern.match(text)
            if match:
                values = match.groupdict()
                if "since" in values:
                    values["since"] = self.t["never"] if values["since"] == "it was named" else \
                        self.date(values["since"])
                return self.t["rule"][name].format(**values)
        return text


def _cell(value: Any) -> str:
    return str(value).replace("|", "/").replace("\n", " ").strip()


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _month_of(now: dt.datetime, zone: ZoneInfo) -> str:
    return now.astimezone(zone).strftime("%Y-%m")


def policy_reasons(pol: Mapping[str, Any], days: int, texts: Mapping[str, Any], *, servers: bool) -> list[str]:
    """Why the policy keeps devices from a target of ``days`` (the reasons of
    ``praxis_patch.reachable``, in the report's language)."""
    reasons = []
    delay = pol["pilot_delay_days"]
    if delay >= days:
        reasons.append(texts["reason_pilot_delay"].format(delay=delay, days=days))
    server_delay = delay + (pol["servers"]["delay_days"] if pol["servers"]["own_ring"] else 0)
    if servers and server_delay >= days and delay < days:
        reasons.append(texts["reason_server_delay"].format(delay=server_delay))
    return reasons


def writer(texts: Mapping[str, Any], zone: ZoneInfo) -> _Writer:
    """Dates, numbers and release rules in the language of ``texts``."""
    return _Writer(texts, zone)


def annotate_sla(figures: dict[str, Any], pol: Mapping[str, Any], texts: Mapping[str, Any], *,
                 servers: bool) -> dict[str, Any]:
    """A practice's ``praxis_patch.sla`` figures with ``policy_reasons`` (in
    the texts' language) on every target of the summary."""
    for target in figures["summary"]:
        target["policy_reasons"] = policy_reasons(pol, target["days"], texts, servers=servers)
    return figures


def sla_lines(figures: dict[str, Any], pol: Mapping[str, Any], texts: Mapping[str, Any], zone: ZoneInfo, *,
              servers: bool) -> list[str]:
    """The SLA section of one practice (figures of ``praxis_patch.sla`` with
    ``month``) as Markdown lines."""
    return _sla_lines(annotate_sla(figures, pol, texts, servers=servers), _Writer(texts, zone), pol)


def site_report(ledger: pp.PatchLedger, *, site: Mapping[str, Any], now: Any, pol: Mapping[str, Any],
                hosts: Mapping[str, str], pilot_host: str | None, language: str = "de",
                month: str | None = None, generated_at: str | None = None) -> tuple[str, dict[str, Any]]:
    """The report of one practice as (Markdown, data); see the module
    docstring. ``hosts`` maps the practice's Windows hosts to their role
    (workplace or server); ``month`` (``YYYY-MM``) is the month of the SLA,
    by default the month of ``now`` in the practice's zone; ``generated_at``
    overrides the time written as the report's date (``now``)."""
    texts = catalog(language)
    zone = zone_of(site)
    now = parse_timestamp(now, "now")
    site_id = str(site["id"])
    month = month or _month_of(now, zone)
    w = _Writer(texts, zone)
    stamp = generated_at or now.astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    holds = ledger.holds(site_id, now)
    held = {h["key"]: h for h in holds}
    rows = ledger.device_states(site_id)
    with ledger._read() as conn:
        last = dict(conn.execute("SELECT host, MAX(at) FROM patch_checks WHERE site = ? GROUP BY host",
                                 (site_id,)).fetchall())
        previous = {(r[0], r[1]): r[2] for r in conn.execute(
            "SELECT host, key, previous_version FROM patch_devices WHERE site = ?", (site_id,))}
    self_updating = set(pol["third_party"]["self_updating"])
    all_hosts = dict(hosts)
    for row in rows:
        all_hosts.setdefault(row["host"], "workplace")
    devices, programs = [], []
    by_host: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_host.setdefault(row["host"], []).append(row)
    for host in sorted(all_hosts):
        updates, counts = [], {}
        for row in by_host.get(host, []):
            if row["kind"] == "package" and row["package"] in self_updating:
                programs.append({
                    "host": host, "package": row["package"], "version_offered": row["version"],
                    "version_seen": row["version"] if row["state"] == "installed"
                    else previous.get((host, row["key"])),
                    "updated": row["state"] == "installed", "offered_since": row["first_seen"]})
                continue
            state = "held" if row["key"] in held and row["state"] in pp.OPEN_STATES else row["state"]
            counts[state] = counts.get(state, 0) + 1
            updates.append({"key": row["key"], "title": row["title"], "kind": row["kind"], "state": state,
                            "error_code": row["error_code"], "error": row["error"],
                            "installed_at": row["installed_at"], "pending_reboot": row["state"] == "pending_reboot",
                            "first_seen": row["first_seen"], "released": row["released"],
                            "released_at": row["released_at"], "attempts": row["attempts"]})
        last_at = last.get(host)
        reached = last_at is not None and now - parse_timestamp(last_at, "time") <= dt.timedelta(
            hours=NOT_REACHED_HOURS)
        devices.append({"host": host, "role": all_hosts[host], "pilot": host == pilot_host, "last_check": last_at,
                        "reached": reached, "counts": {s: counts[s] for s in pp.STATES if counts.get(s)},
                        "reboot_pending": any(u["pending_reboot"] for u in updates), "updates": updates})
    rollouts = _rollouts(rows, held, pol, pilot_host, self_updating, zone)
    figures = pp.sla(ledger, month=month, now=now, sites={site_id: {
        "policy": pol, "hosts": dict(hosts) or None, "pilot_host": pilot_host, "zone": zone}})
    sla = annotate_sla(figures["practices"][site_id], pol, texts,
                       servers=any(role == "server" for role in all_hosts.values()))
    data = {
        "site": site_id, "name": site.get("name") or site_id, "generated_at": stamp, "language": language,
        "month": month, "pilot_host": pilot_host, "devices": devices, "rollouts": rollouts,
        "holds": [{"key": h["key"], "scope": h["site"] or "*", "set_by": h["set_by"], "set_at": h["set_at"],
                   "reason": h["reason"], "until": h["until"], "remove": bool(h["remove"])} for h in holds],
        "self_updating": programs,
        "not_reached": [{"host": d["host"], "role": d["role"], "last_check": d["last_check"]}
                        for d in devices if not d["reached"]],
        "sla": {"month": month, "summary": sla["summary"], "updates": sla["updates"], "policy": sla["policy"]},
    }
    return _markdown(data, w, pol), data


def _rollouts(rows: list[dict[str, Any]], held: Mapping[str, Any], pol: Mapping[str, Any], pilot_host: str | None,
              self_updating: set[str], zone: ZoneInfo) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["kind"] == "package" and row["package"] in self_updating:
            continue
        entry = seen.setdefault(row["key"], {
            "key": row["key"], "title": row["title"], "released": row["released"],
            "pilot_host": row["pilot_host"] or pilot_host, "pilot_result": row["pilot_result"],
            "pilot_installed_at": row["pilot_installed_at"], "pilot_error": None,
            "released_at": row["released_at"], "released_by": row["released_by"],
            "release_rule": row["release_rule"], "held": row["key"] in held, "release_due": None,
            "waiting": None})
        if entry["released_at"] or entry["held"]:
            continue
        delay = dt.timedelta(days=pol["pilot_delay_days"])
        if not pilot_host:
            entry["release_due"] = (dt.date.fromisoformat(row["released"]) + delay).isoformat()
        elif row["pilot_result"] == "failed":
            entry["waiting"] = "pilot_failed"
        elif row["pilot_result"] == "ok" and row["pilot_installed_at"]:
            day = parse_timestamp(row["pilot_installed_at"], "time").astimezone(zone).date()
            entry["release_due"] = (day + delay).isoformat()
        else:
            entry["waiting"] = "pilot"
    return sorted(seen.values(), key=lambda e: (e["released"], e["key"]))


def _markdown(data: Mapping[str, Any], w: _Writer, pol: Mapping[str, Any]) -> str:
    t = w.t
    lines = [f"# {t['title'].format(practice=data['name'])}", "",
             t["generated"].format(when=w.moment(data["generated_at"]), month=w.month(data["month"])), ""]
    lines += [f"## {t['devices_heading']}", ""]
    for device in data["devices"]:
        lines += [f"### {t['device_heading'].format(host=device['host'], role=t['role'][device['role']], pilot=t['pilot_suffix'] if device['pilot'] else '')}",  # noqa: E501
                  "", t["last_check"].format(when=w.moment(device["last_check"]) if device["last_check"]
                                             else t["never"]), ""]
        if not device["updates"]:
            lines += [t["no_updates"], ""]
            continue
        counts = ", ".join(f"{t['state'][state]} {count}" for state, count in device["counts"].items())
        lines += [t["counts"].format(counts=counts), ""]
        if device["reboot_pending"]:
            lines += [t["reboot_pending"], ""]
        lines += _table([t["col_key"], t["col_title"], t["col_state"], t["col_error"], t["col_installed"]],
                        [[u["key"], u["title"], t["state"][u["state"]], u["error_code"] or t["dash"],
                          w.moment(u["installed_at"])] for u in device["updates"]])
        lines.append("")
    lines += [f"## {t['rollouts_heading']}", ""]
    if data["rollouts"]:
        rows = []
        for item in data["rollouts"]:
            if item["pilot_result"] == "ok":
                result = t["pilot_result"]["ok"].format(when=w.date(item["pilot_installed_at"]))
            elif item["pilot_result"] == "failed":
                result = t["pilot_result"]["failed"].format(error=item["pilot_error"] or t["dash"])
            else:
                result = t["pilot_result"]["none"] if item["pilot_host"] else t["dash"]
            if item["released_at"]:
                released = w.date(item["released_at"])
                by = t["by_rule"] if item["released_by"] == "rule" else item["released_by"]
                rule = w.rule(item["release_rule"])
            else:
                by = t["dash"]
                rule = t["dash"]
                if item["held"]:
                    released = t["release_held"]
                elif item["release_due"]:
                    released = t["release_due"].format(when=w.date(item["release_due"]))
                elif item["waiting"] == "pilot_failed":
                    released = t["release_blocked"]
                else:
                    released = t["release_waiting_pilot"]
            rows.append([item["key"], item["title"], item["pilot_host"] or t["dash"], result, released, by, rule])
        lines += _table([t["col_key"], t["col_title"], t["col_pilot"], t["col_pilot_result"], t["col_released"],
                         t["col_by"], t["col_rule"]], rows)
    else:
        lines.append(t["no_rollouts"])
    lines += ["", f"## {t['holds_heading']}", ""]
    if data["holds"]:
        lines += _table([t["col_key"], t["col_scope"], t["col_set_by"], t["col_set_at"], t["col_reason"],
                         t["col_until"]],
                        [[h["key"] + (t["remove_note"] if h["remove"] else ""),
                          t["scope_all"] if h["scope"] == "*" else t["scope_site"], h["set_by"], w.date(h["set_at"]),
                          h["reason"], w.moment(h["until"]) if h["until"] else t["until_lifted"]]
                         for h in data["holds"]])
    else:
        lines.append(t["no_holds"])
    lines += ["", f"## {t['self_heading']}", "", t["self_intro"], ""]
    if data["self_updating"]:
        lines += _table([t["col_device"], t["col_program"], t["col_seen"], t["col_offered"], t["col_since"],
                         t["col_state"]],
                        [[p["host"], p["package"], p["version_seen"] or t["dash"], p["version_offered"],
                          w.date(p["offered_since"]), t["self_done"] if p["updated"] else t["self_open"]]
                         for p in data["self_updating"]])
    else:
        lines.append(t["no_self"])
    lines += ["", f"## {t['unreached_heading']}", ""]
    if data["not_reached"]:
        lines += [f"- {t['unreached_line'].format(host=d['host'], when=w.moment(d['last_check']) if d['last_check'] else t['never'])}"  # noqa: E501
                  for d in data["not_reached"]]
    else:
        lines.append(t["unreached_none"])
    lines += _sla_lines(data["sla"], w, pol)
    return "\n".join(lines).rstrip() + "\n"


def _sla_lines(sla: Mapping[str, Any], w: _Writer, pol: Mapping[str, Any]) -> list[str]:
    t = w.t
    month = w.month(sla["month"])
    lines = ["", f"## {t['sla_heading'].format(month=month)}", ""]
    if not sla["updates"]:
        return lines + [t["sla_none"].format(month=month)]
    for target in sla["summary"]:
        label = t["sla_target"].format(percent=w.number(target["target_percent"]), days=target["days"])
        if not target["device_updates"]:
            lines.append(f"- {t['sla_result_empty'].format(target=label)}")
            continue
        is_open = any(u2["open"] for u in sla["updates"] for u2 in u["targets"] if u2["days"] == target["days"])
        verdict = t["verdict"]["open"] if is_open and not target["met"] else \
            t["verdict"]["met" if target["met"] else "missed"]
        lines.append(f"- {t['sla_result'].format(target=label, reached=w.number(target['percent']), installed=target['installed'], total=target['device_updates'], verdict=verdict)}")  # noqa: E501
        if target["unreachable"] or target.get("policy_reasons"):
            # the share of the month's device updates the policy lets make it
            able = sum(u2["max_percent"] * u["devices"] for u in sla["updates"] for u2 in u["targets"]
                       if u2["days"] == target["days"])
            bound = round(able / target["device_updates"], 1)
            reasons = "; ".join(target.get("policy_reasons") or []) or t["dash"]
            if target["unreachable"]:
                lines.append(f"  {t['sla_unreachable'].format(reasons=reasons, max=w.number(bound))}")
    lines.append("")
    header = [t["col_key"], t["col_released_on"], t["col_devices"]]
    header += [t["col_target"].format(days=target["days"]) for target in pol["sla"]]
    header.append(t["col_offline"])
    rows = []
    for update in sla["updates"]:
        row = [update["key"], w.date(update["released"]), update["devices"]]
        for target in update["targets"]:
            mark = (t["mark_open"] if target["open"] else "") + \
                (t["mark_unreachable"] if target["unreachable"] else "")
            row.append(t["target_cell"].format(percent=w.number(target["percent"]), installed=target["installed"],
                                               total=update["devices"], mark=mark))
        row.append(", ".join(update["offline"]) or t["dash"])
        rows.append(row)
    return lines + _table(header, rows)


# -- files ------------------------------------------------------------------------------------------
def report_paths(output_dir: str, site_id: str) -> tuple[str, str]:
    if not SAFE_PART.match(str(site_id)):
        raise pp.PatchError(f"site id {site_id!r} is not usable as a folder name")
    folder = os.path.join(output_dir, "patches", str(site_id))
    return os.path.join(folder, "report.md"), os.path.join(folder, "report.json")


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False, default=str)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise pp.PatchError(f"{path}: the earlier report cannot be read: {exc}") from None


def site_language(site: Mapping[str, Any]) -> str:
    language = site.get("language") or "de"
    if language not in LANGUAGES:
        raise pp.PatchError(f"site {site.get('id')}: language {language!r}: the patch report is written in "
                            f"{' or '.join(LANGUAGES)}")
    return language


def write_site_reports(ledger_path: str | None, output_dir: str, sites: Mapping[str, Mapping[str, Any]], now: Any,
                       check_mode: bool = False) -> list[str]:
    """Write the report of every practice of ``sites`` ({site_id: {"site",
    "policy", "hosts", "pilot_host"}}) from the ledger at ``ledger_path`` (a
    missing ledger reads as empty and is not created). Every report is
    rendered before anything is written, so a bad site writes nothing.
    Returns the paths written (in check mode: that would be written); a
    report whose only change is the time of the run is left as it is."""
    ledger = pp.PatchLedger(ledger_path if praxis_ledger.exists(ledger_path) else None,
                            check_mode=True)
    rendered = []
    for site_id in sorted(sites):
        info = sites[site_id]
        site = info["site"]
        md_path, json_path = report_paths(output_dir, site_id)
        language = site_language(site)
        markdown, data = site_report(ledger, site=site, now=now, pol=info["policy"], hosts=info.get("hosts") or {},
                                     pilot_host=info.get("pilot_host"), language=language)
        old_json, old_md = _read(json_path), _read(md_path)
        if old_json is not None and old_md is not None:
            try:
                earlier = json.loads(old_json).get("generated_at")
            except (ValueError, AttributeError):
                earlier = None
            if earlier and earlier != data["generated_at"]:
                same_md, same_data = site_report(ledger, site=site, now=now, pol=info["policy"],
                                                 hosts=info.get("hosts") or {}, pilot_host=info.get("pilot_host"),
                                                 language=language, generated_at=earlier)
                if _json_text(same_data) == old_json and same_md == old_md:
                    continue
        candidates = ((md_path, markdown, old_md), (json_path, _json_text(data), old_json))
        writes = [(path, text, old) for path, text, old in candidates if text != old]
        rendered.extend(writes)
    if not check_mode:
        for path, text, _old in rendered:
            private_makedirs(os.path.dirname(path))
            if path.endswith(".json"):
                write_json_atomic(path, json.loads(text))
            else:
                write_file_atomic(path, text, durable=False)
    return [path for path, _text, _old in rendered]
