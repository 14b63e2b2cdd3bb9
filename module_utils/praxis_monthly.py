# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The monthly practice report (OPS-04): the figures of one practice and month.

``month_report`` gathers and decides, and renders nothing: it reads the
ledger (events, incidents, the patch tables, the audit trail) and the files
the nightly and monthly jobs wrote (the facts files
``<output>/facts/<site>/<host>.json``, the workplace inventory
``<output>/workplaces/<site>/inventory.json``, the network plan), and never
contacts a device. The result is JSON-serialisable and language-neutral:
status words, numbers, ISO times with offset and check ids; the only prose
is what technicians' tools stored in the ledger, under keys ending in
``_raw``. Its shape is docs/report.md.

Every area has a ``status``: ``ok``, ``warning``, ``critical`` or
``no_data``. A device without a check in the month is ``no_data``, never
``ok``, and an area with such a device is not ``ok`` either.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from typing import Any, Iterable, Mapping

from ansible.module_utils import praxis_audit
from ansible.module_utils import praxis_databackup
from ansible.module_utils import praxis_ledger
from ansible.module_utils import praxis_patch
from ansible.module_utils.praxis_backup import facts_path
from ansible.module_utils.praxis_calendar import CalendarError, SiteCalendar, parse_timestamp
from ansible.module_utils.praxis_errors import PraxisError
from ansible.module_utils.praxis_findings import PRIORITY_REACTION, THRESHOLDS

STATUSES = ("ok", "no_data", "warning", "critical")
# worst first wins: a device without data is never outweighed by healthy ones
STATUS_RANK = {"ok": 0, "no_data": 1, "warning": 2, "critical": 3}
AREAS = ("antivirus", "updates", "checks", "backups", "firmware", "encryption", "inventory")
ROLES = ("firewall", "access_point", "switch", "nas", "workplace", "server", "not_managed")
NETWORK_ROLES = ("firewall", "access_point", "switch", "nas")
WINDOWS_ROLES = ("workplace", "server")
ROLE_GROUPS = {"firewalls": "firewall", "access_points": "access_point", "switches": "switch", "nas": "nas",
               "workplaces": "workplace", "servers": "server"}
# share of a device's health checks in which it answered: at least AVAILABILITY_OK is ok,
# at least AVAILABILITY_WARNING a warning, below it critical
AVAILABILITY_OK = 99.0
AVAILABILITY_WARNING = 90.0
HISTORY_MONTHS = 12
OPEN_UPDATE_STATES = ("available", "downloaded", "pending_reboot")
BACKUP_NAME = re.compile(r"^(\d{8}T\d{6}Z)-")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

# KBV IT-Sicherheitsrichtlinie ("Richtlinie nach § 390 SGB V über die Anforderungen zur Gewährleistung
# der IT-Sicherheit", Anlagen 1-5): the requirements this service touches, each with the areas of the
# month that are its evidence. The Anlage (1: all practices, 2: additionally medium-sized practices,
# 3: additionally large practices, 4: large medical devices, 5: decentralised components of the
# telematics infrastructure) follows the structure of the Richtlinie. The NUMBERS of the requirements
# within an Anlage could not be checked against the Richtlinie's text (the public sources at hand
# show only its table layout "Nr | Zielobjekt | Anforderung | Erläuterung | Geltung ab" on
# hub.kbv.de): every entry has ``number: None`` and ``number_verified: False`` unless the provider
# enters the Anlage and number from the current Richtlinie in ``praxis_report_kbv`` (kbv_numbers()).
KBV_REQUIREMENTS: tuple[dict[str, Any], ...] = (
    # Anlage 1 (all practices), endpoint devices: protection against malware, current signatures.
    # Number not verified.
    {"key": "virus_protection", "anlage": 1, "number": None, "evidence": ("antivirus",)},
    # Anlage 1, endpoint devices and programs: install security updates promptly. Number not verified.
    {"key": "security_updates", "anlage": 1, "number": None, "evidence": ("updates", "firmware")},
    # Anlage 1, data backup: regular backups (here: the configuration backups of the network
    # devices and the practice-data backups with their nightly verification and restore tests,
    # WP-12). Number not verified.
    {"key": "backups", "anlage": 1, "number": None, "evidence": ("backups",)},
    # Anlage 1, network: a firewall between the practice network and the internet, its
    # signatures current. Number not verified.
    {"key": "firewall", "anlage": 1, "number": None, "evidence": ("firewall",)},
    # Anlage 1 / 3 (mobile devices and laptops; the Anlage is not verified): encrypted storage
    # (BitLocker on the Windows PCs). Number not verified.
    {"key": "device_encryption", "anlage": 1, "number": None, "evidence": ("encryption",)},
    # Anlage 2 (medium-sized practices; the Anlage is not verified): network segmentation
    # (VLANs of the site file). Number not verified.
    {"key": "network_segmentation", "anlage": 2, "number": None, "evidence": ("segmentation",)},
    # Anlage 2 (the Anlage is not verified): documentation of the network (network plan) and
    # of the IT devices (inventory). Number not verified.
    {"key": "network_documentation", "anlage": 2, "number": None, "evidence": ("network_plan", "inventory")},
    # Anlage 1 (the Anlage is not verified): logging/traceability of administration (audit trail
    # of every run and change). Number not verified.
    {"key": "administration_log", "anlage": 1, "number": None, "evidence": ("work_done",)},
)


class MonthlyError(PraxisError, ValueError):
    """Input of the monthly report that is not usable; the message names the field, value or file."""


# -- helpers ---------------------------------------------------------------------------------------

def worst(statuses: Iterable[str], empty: str = "no_data") -> str:
    """The worst of ``statuses`` (no_data is worse than ok); ``empty`` when there is none."""
    items = list(statuses)
    return max(items, key=STATUS_RANK.__getitem__) if items else empty


def _counts(items: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts = {status: 0 for status in STATUSES}
    for item in items:
        counts[item["status"]] += 1
    return counts


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def _utc(moment: dt.datetime) -> str:
    """The ledger's form of a time (UTC, seconds), comparable as text with its ``at`` columns."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _time(value: Any, what: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    try:
        return parse_timestamp(value, what)
    except CalendarError:
        return None


def period(month: str, zone: Any) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of ``month`` (YYYY-MM) in the practice's time zone."""
    match = MONTH.match(str(month or ""))
    if not match:
        raise MonthlyError(f"month {month!r}: expected YYYY-MM, e.g. 2026-11")
    year, number = int(match.group(1)), int(match.group(2))
    start = dt.datetime(year, number, 1, tzinfo=zone)
    end = dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=zone)
    return start, end


def previous_months(month: str, count: int) -> list[str]:
    """``count`` months ending with ``month``, oldest first."""
    year, number = int(month[:4]), int(month[5:7])
    result = []
    for _step in range(count):
        result.append(f"{year:04d}-{number:02d}")
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
    return result[::-1]


def read_json(path: str) -> Any:
    """A JSON file's content; None when it does not exist; MonthlyError naming the file when unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise MonthlyError(f"{path}: not readable as JSON ({type(exc).__name__}: {exc})") from None


def site_hosts(site: Mapping[str, Any], hosts: Mapping[str, str] | None) -> dict[str, dict[str, Any]]:
    """host -> {role, device}: the site's devices (a computer with another ``os`` than windows is
    ``not_managed``), then ``hosts`` (role by host, as the inventory groups say) on top."""
    site_id = str(site["id"])
    result: dict[str, dict[str, Any]] = {}
    for group, role in ROLE_GROUPS.items():
        for device in (site.get("devices") or {}).get(group) or []:
            host = f"{site_id}-{device['name']}"
            managed = role not in WINDOWS_ROLES or str(device.get("os") or "windows") == "windows"
            result[host] = {"role": role if managed else "not_managed", "device": dict(device)}
    for host, role in (hosts or {}).items():
        if role not in ROLES:
            raise MonthlyError(f"hosts.{host}: role {role!r} is not one of {', '.join(ROLES)}")
        result.setdefault(host, {"device": {}})["role"] = role
    return dict(sorted(result.items()))


# -- reading the ledger ----------------------------------------------------------------------------

def _events(ledger: str, site_id: str, until: str) -> list[dict[str, Any]]:
    with praxis_ledger.reading(ledger) as conn:
        rows = conn.execute("SELECT at, host, kind, status, summary, data FROM events WHERE site = ? AND at < ? "
                            "ORDER BY at, id", (site_id, until)).fetchall()
    return [{"at": row["at"], "host": row["host"], "kind": row["kind"], "status": row["status"],
             "summary": row["summary"], "data": json.loads(row["data"])} for row in rows]


def _incident_rows(ledger: str, site_id: str, since: str, until: str) -> list[dict[str, Any]]:
    with praxis_ledger.reading(ledger) as conn:
        rows = conn.execute(
            "SELECT id, host, check_id, subject, state, severity, priority, message, opened_at, resolved_at, "
            "acked_at FROM incidents WHERE site = ? AND opened_at < ? AND (resolved_at IS NULL OR resolved_at >= ?) "
            "ORDER BY opened_at, id", (site_id, until, since)).fetchall()
    return [dict(row) for row in rows]


# -- the areas -------------------------------------------------------------------------------------

def _antivirus(windows: list[str], records: Mapping[str, Any], checked: Mapping[str, list[dict[str, Any]]],
               calendar: SiteCalendar, limit: int) -> dict[str, Any]:
    devices = []
    for host in windows:
        record = records.get(host)
        runs = checked.get(host) or []
        defender = ((record or {}).get("health") or {}).get("defender") if record else None
        item: dict[str, Any] = {"host": host, "status": "no_data", "protection": None,
                                "signature_age_working_days": None, "detections": None,
                                "last_check": runs[-1]["at"] if runs else None}
        if runs and record is not None and defender is not None:
            flags = [defender.get(k) for k in ("AMServiceEnabled", "AntivirusEnabled", "RealTimeProtectionEnabled")
                     if defender.get(k) is not None]
            item["protection"] = all(flags) if flags else None
            updated = _time(defender.get("AntivirusSignatureLastUpdated"), "AntivirusSignatureLastUpdated")
            at = _time(record.get("checked_at"), "checked_at") or _time(runs[-1]["at"], "at")
            if updated is not None and at is not None:
                item["signature_age_working_days"] = calendar.working_days_between(updated, at)
            if item["protection"] is False:
                item["status"] = "critical"
            elif item["protection"] is None or item["signature_age_working_days"] is None:
                item["status"] = "no_data"
            elif item["signature_age_working_days"] > limit:
                item["status"] = "warning"
            else:
                item["status"] = "ok"
        devices.append(item)
    return {"status": worst(d["status"] for d in devices), "devices": devices}


def _updates(ledger: str | None, site: Mapping[str, Any], windows: Mapping[str, str], month: str,
             start: dt.datetime, end: dt.datetime, now: dt.datetime, policy: Any,
             zone: Any) -> dict[str, Any]:
    devices = [{"host": h, "role": r, "status": "no_data", "installed": [], "failed": [], "pending": [],
                "checks": 0} for h, r in windows.items()]
    empty = {"status": "no_data", "devices": devices, "sla": None, "sla_history": []}
    if not windows or not ledger or not praxis_ledger.exists(ledger):
        return empty
    try:
        pol = praxis_patch.policy(policy, site)
    except praxis_patch.PatchError as exc:
        raise MonthlyError(f"site {site['id']}: {exc}") from None
    site_id = str(site["id"])
    pilot = f"{site_id}-{site['pilot']}" if site.get("pilot") else None
    since, until = _utc(start), _utc(end)
    with praxis_patch.PatchLedger(ledger) as patches:
        rows = patches.device_states(site_id)
        checks = patches.checks(site_id)
        info = {site_id: {"policy": pol, "hosts": dict(windows), "pilot_host": pilot, "zone": zone}}
        figures = praxis_patch.sla(patches, month=month, sites=info, now=now)["practices"][site_id]
        history = []
        for earlier in previous_months(month, HISTORY_MONTHS):
            summary = praxis_patch.sla(patches, month=earlier, sites=info, now=now)["practices"][site_id]["summary"]
            history.append({"month": earlier, "targets": [{"days": t["days"], "percent": t["percent"],
                                                           "target_percent": t["target_percent"]} for t in summary]})
    first_day, last_day = start.date().isoformat(), (end - dt.timedelta(seconds=1)).date().isoformat()
    self_updating = set(pol["third_party"]["self_updating"])
    devices = []
    for host, role in windows.items():
        installed, failed, pending = [], [], []
        for row in (r for r in rows if r["host"] == host):
            if row["kind"] == "package" and row["package"] in self_updating:
                continue
            if row["state"] == "installed" and row["installed_at"] and since <= _utc(
                    parse_timestamp(row["installed_at"], "installed_at")) < until:
                installed.append({"key": row["key"], "title": row["title"], "installed_at": row["installed_at"]})
            elif row["state"] == "failed":
                failed.append({"key": row["key"], "title": row["title"], "error_code": row["error_code"]})
            elif row["state"] in OPEN_UPDATE_STATES:
                pending.append({"key": row["key"], "title": row["title"], "state": row["state"]})
        days = [d for d in checks.get(host, []) if first_day <= d <= last_day]
        status = "no_data" if not days else "warning" if failed else "ok"
        devices.append({"host": host, "role": role, "status": status, "installed": installed, "failed": failed,
                        "pending": pending, "checks": len(days)})
    missed = any(t["met"] is False and not t["open"] for u in figures["updates"] for t in u["targets"])
    status = worst([*(d["status"] for d in devices), "warning" if missed else "ok"])
    return {"status": status, "devices": devices, "sla": figures, "sla_history": history}


def _reaction(item: Mapping[str, Any], as_of: dt.datetime) -> tuple[float | None, bool | None]:
    """Hours until the first answer (acknowledged or resolved) and whether that met the priority's
    reaction time, as they stood at ``as_of``: an answer given later does not count yet."""
    opened = parse_timestamp(item["opened_at"], "opened_at")
    limit = PRIORITY_REACTION[item["priority"]]
    answers = [moment for moment in (parse_timestamp(item[k], k) for k in ("acked_at", "resolved_at") if item.get(k))
               if moment <= as_of]
    if answers:
        took = min(answers) - opened
        return round(took.total_seconds() / 3600, 2), took <= limit
    return None, (False if as_of - opened > limit else None)


def _state_at(row: Mapping[str, Any], as_of: dt.datetime) -> dict[str, Any]:
    """The incident as it stood at ``as_of`` (the end of the report's month): a resolution or an
    acknowledgement that came later is left out (the incident was open then), so a past month's
    report stays the same when it is made again."""
    def before(key: str) -> str | None:
        value = row.get(key)
        return value if value and parse_timestamp(value, key) <= as_of else None

    resolved = before("resolved_at")
    state = "open" if row["state"] == "resolved" and resolved is None else row["state"]
    return {**row, "state": state, "resolved_at": resolved, "acked_at": before("acked_at")}


def _incidents(rows: list[dict[str, Any]], start: dt.datetime, end: dt.datetime, as_of: dt.datetime,
               zone: Any) -> dict[str, Any]:
    items = []
    for row in (_state_at(r, as_of) for r in rows):
        hours, met = _reaction(row, as_of)
        items.append({"id": row["id"], "host": row["host"], "check": row["check_id"], "subject": row["subject"],
                      "priority": row["priority"], "severity": row["severity"], "state": row["state"],
                      "opened_at": row["opened_at"], "resolved_at": row["resolved_at"], "acked_at": row["acked_at"],
                      "reaction_hours": hours, "reaction_met": met, "message_raw": row["message"]})
    weeks: dict[str, int] = {}
    day = start.date()
    while day < end.date():
        year, week, _weekday = day.isocalendar()
        weeks.setdefault(f"{year}-W{week:02d}", 0)
        day += dt.timedelta(days=1)
    for item in items:
        opened = parse_timestamp(item["opened_at"], "opened_at").astimezone(zone)
        if start <= opened < end:
            year, week, _weekday = opened.isocalendar()
            weeks[f"{year}-W{week:02d}"] += 1
    open_items = [i for i in items if i["state"] in ("open", "resolving")]
    if any(i["priority"] == "high" for i in open_items):
        status = "critical"
    elif open_items or any(i["reaction_met"] is False for i in items):
        status = "warning"
    else:
        status = "ok"
    return {"status": status, "items": items, "per_week": [{"week": k, "opened": v} for k, v in weeks.items()],
            "open": len(open_items)}


def _answered(event: Mapping[str, Any]) -> bool:
    """Whether the device answered this health check (a failed module run or an unreachable
    device did not)."""
    if event["status"] == "failed":
        return False
    return not any(f.get("check") == "net.reachability" for f in event["data"].get("findings") or [])


def _availability(managed: Mapping[str, str], checked: Mapping[str, list[dict[str, Any]]]) -> dict[str, Any]:
    devices = []
    for host, role in managed.items():
        runs = checked.get(host) or []
        ok = sum(1 for e in runs if _answered(e))
        percent = round(100.0 * ok / len(runs), 1) if runs else None
        if percent is None:
            status = "no_data"
        elif percent >= AVAILABILITY_OK:
            status = "ok"
        elif percent >= AVAILABILITY_WARNING:
            status = "warning"
        else:
            status = "critical"
        devices.append({"host": host, "role": role, "checks": len(runs), "ok": ok, "percent": percent,
                        "status": status, "last_answered": next((e["at"] for e in reversed(runs) if _answered(e)),
                                                                None),
                        "offline_at_end": bool(runs) and not _answered(runs[-1])})
    return {"status": worst(d["status"] for d in devices), "devices": devices}


def _backup_copies(good: list[dict[str, Any]], verified_paths: set[str]) -> list[dict[str, Any]]:
    if not good:
        return []
    last = good[-1]["data"]
    folder = str(last.get("path") or "").rpartition("/")[0]
    copies = []
    for name in last.get("kept") or []:
        match = BACKUP_NAME.match(str(name))
        at = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc) if match else None
        path = f"{folder}/{name}" if folder else str(name)
        copies.append({"at": _iso(at), "verified": True if path in verified_paths else None})
    return copies


def _backups(network: Mapping[str, str], events: list[dict[str, Any]], start: dt.datetime, end: dt.datetime,
             now: dt.datetime, max_age_days: float) -> dict[str, Any]:
    since = _utc(start)
    reference = min(now, end)
    config = []
    for host in network:
        rows = [e for e in events if e["host"] == host and e["kind"] == "backup"]
        good = [e for e in rows if e["status"] in ("ok", "changed")]
        # a copy is stored only after it was read back, decrypted and checked (praxis_backup.store_backup)
        verified = {str(e["data"].get("path")) for e in good if e["status"] == "changed"}
        in_month = [e for e in rows if e["at"] >= since]
        last_good = good[-1]["at"] if good else None
        item: dict[str, Any] = {"host": host, "copies": _backup_copies(good, verified), "last_good": last_good,
                                "runs": len(in_month), "failed": sum(1 for e in in_month if e["status"] == "failed"),
                                "skipped": bool(rows) and all(e["status"] == "skipped" for e in rows)}
        offered_not = _not_offered(rows)
        if offered_not:
            item["not_offered"] = offered_not
        if not rows or item["skipped"] or offered_not:
            item["status"] = "no_data"
        elif last_good is None or (reference - parse_timestamp(last_good, "at")).total_seconds() / 86400 > max_age_days:
            item["status"] = "critical"
        elif in_month and in_month[-1]["status"] == "failed":
            item["status"] = "warning"
        else:
            item["status"] = "ok"
        config.append(item)
    return {"status": worst(c["status"] for c in config), "config": config, "data": []}


def _with_data(backups: dict[str, Any], data: list[dict[str, Any]]) -> dict[str, Any]:
    """The configuration backups and the practice-data backups as one area."""
    items = [*backups["config"], *data]
    return {**backups, "data": data, "status": worst(i["status"] for i in items)}


def _data_backups(ledger: str | None, site: Mapping[str, Any], calendar: SiteCalendar, start: dt.datetime,
                  end: dt.datetime, as_of: dt.datetime) -> list[dict[str, Any]]:
    """The practice-data backups (WP-12) per repository of the site file: the month's nightly
    verifications (``databackup_checks``), the newest snapshot of each source at the last one with
    its age in working days at ``as_of``, and the newest restore test up to the month's end."""
    repos, sources = praxis_databackup.repositories(site), praxis_databackup.sources(site)
    if not repos or not sources:
        return []
    site_id = str(site["id"])
    pol = praxis_databackup.policy(None, site)
    since, until = _utc(start), _utc(end)
    rows = [r for r in praxis_databackup.checks(ledger, site=site_id) if r["checked_at"] < until] if ledger else []
    tests = [t for t in praxis_databackup.restore_tests(ledger, site=site_id) if t["started_at"] < until] \
        if ledger else []
    items = []
    for repo in repos:
        name = str(repo.get("name"))
        month_rows = [r for r in rows if r["repository"] == name and r["checked_at"] >= since]
        last = month_rows[-1] if month_rows else None
        hosts = []
        for source in sources:
            snap = ((last or {}).get("snapshots") or {}).get(source["device"])
            at = _time((snap or {}).get("time"), "snapshots.time")
            age = calendar.working_days_between(at, as_of) if at is not None else None
            hosts.append({"host": source["host"], "server": source["server"],
                          "snapshot_at": _iso(at), "age_working_days": age,
                          "size_bytes": (snap or {}).get("size_bytes"), "files": (snap or {}).get("files")})
        test = next((t for t in reversed(tests) if t["repository"] == name), None)
        item: dict[str, Any] = {
            "repository": name, "kind": str(repo.get("kind") or ""), "nights": len(month_rows),
            "failed_nights": sum(1 for r in month_rows if not r["ok"]),
            "check_failed_nights": sum(1 for r in month_rows if r["check_ok"] is False),
            "pruned_nights": sum(1 for r in month_rows if r["pruned"]),
            "last_check": last["checked_at"] if last else None, "last_ok": last["ok"] if last else None,
            "last_error_kind": last["error_kind"] if last else None, "hosts": hosts,
            "restore_test": None if test is None else {
                "at": test["started_at"], "quarter": test["quarter"], "ok": test["ok"], "host": test["host"],
                "snapshot_at": test["snapshot_time"], "files": len(test["files"] or []),
                "files_ok": sum(1 for f in test["files"] or [] if f.get("ok")),
                "dump_header_ok": (test["dump"] or {}).get("header_ok") if isinstance(test["dump"], Mapping) else None,
                "duration_s": test["duration_s"], "by": test["by"]}}
        ages = [h["age_working_days"] for h in hosts]
        if last is None:
            item["status"] = "no_data"
        elif not last["ok"] or last["check_ok"] is False or any(
                a is None or a >= pol["critical_working_days"] for a in ages):
            item["status"] = "critical"
        elif item["failed_nights"] or any(a >= pol["stale_working_days"] for a in ages) or (
                test is not None and not test["ok"]):
            item["status"] = "warning"
        else:
            item["status"] = "ok"
        items.append(item)
    return items


def _not_offered(rows: list[dict[str, Any]]) -> dict[str, str] | None:
    """``{capability, reason}`` when the newest of ``rows`` (ledger events of one
    device and kind) is a skip because the vendor's API does not offer the
    capability (praxis_netops records it as status skipped, ``data.not_offered``)."""
    if not rows or rows[-1]["status"] != "skipped":
        return None
    found = (rows[-1].get("data") or {}).get("not_offered")
    if not isinstance(found, Mapping) or not found.get("capability"):
        return None
    return {"capability": str(found["capability"]), "reason": str(found.get("reason") or "")}


def _firmware(network: Mapping[str, str], events: list[dict[str, Any]], records: Mapping[str, Any],
              next_window: str | None, now: dt.datetime, max_days: float) -> dict[str, Any]:
    devices = []
    for host in network:
        rows = [e for e in events if e["host"] == host and e["kind"] == "firmware"]
        record = records.get(host) or {}
        version = record.get("firmware_version")
        latest, first_seen = None, None
        if rows:
            last = rows[-1]
            latest = last["data"].get("available") or last["data"].get("to") or last["data"].get("installed")
            if last["data"].get("available"):
                first_seen = next(e["at"] for e in rows if e["data"].get("available") == last["data"]["available"])
        updated = [e["at"] for e in rows if e["status"] == "changed"]
        item = {"host": host, "version": version, "latest": latest or version, "last_update": updated[-1] if updated
                else None, "next_window": next_window, "available_since": first_seen}
        offered_not = _not_offered(rows)
        if offered_not:
            # the vendor's API cannot update (or report) firmware: no data, with the reason, never green
            item["not_offered"] = offered_not
            item["status"] = "no_data"
        elif version is None and not rows:
            item["status"] = "no_data"
        elif rows and rows[-1]["status"] in ("failed", "pending"):
            item["status"] = "warning"
        elif first_seen and (now - parse_timestamp(first_seen, "at")).total_seconds() / 86400 > max_days:
            item["status"] = "warning"
        else:
            item["status"] = "ok"
        devices.append(item)
    return {"status": worst(d["status"] for d in devices), "devices": devices}


def _encryption(windows: Iterable[str], computers: Mapping[str, Any]) -> dict[str, Any]:
    devices = []
    for host in windows:
        row = computers.get(host)
        item = {"host": host, "volume_status": None, "protection_status": None, "method": None, "status": "no_data"}
        if row is not None and row.get("bitlocker") is not None:
            item.update(volume_status=row.get("bitlocker"), protection_status=row.get("bitlocker_protection"),
                        method=row.get("bitlocker_method"))
            if item["volume_status"] == "FullyEncrypted" and item["protection_status"] == "On":
                item["status"] = "ok"
            elif item["volume_status"] == "EncryptionInProgress":
                item["status"] = "warning"
            else:
                item["status"] = "critical"
        devices.append(item)
    return {"status": worst(d["status"] for d in devices), "devices": devices}


def _inventory(windows: Iterable[str], report: Mapping[str, Any] | None,
               hosts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    computers_in = (report or {}).get("computers") or {}
    computers, software = [], {}
    for host in windows:
        row = computers_in.get(host)
        if row is None:
            continue
        computers.append({"host": host, "model": row.get("model"), "serial": row.get("serial"), "os": row.get("os"),
                          "cpu": row.get("cpu"), "ram_gb": row.get("ram_gb"),
                          "from_earlier_run": bool(row.get("from_earlier_run"))})
        if row.get("software_count") is not None:
            software[host] = row["software_count"]
    not_managed = [{"host": host, "os": info["device"].get("os"), "vendor": info["device"].get("vendor"),
                    "model": info["device"].get("model")}
                   for host, info in hosts.items() if info["role"] == "not_managed"]
    windows = list(windows)
    missing = [h for h in windows if h not in computers_in]
    if not windows:
        status = "ok" if not_managed else "no_data"
    elif report is None or len(missing) == len(windows):
        status = "no_data"
    else:
        status = "warning" if missing else "ok"
    return {"status": status, "computers": computers, "software_count": software, "not_managed": not_managed,
            "missing": missing}


def _work_done(ledger: str | None, site_id: str, month: str) -> list[dict[str, Any]] | None:
    if not ledger or not praxis_ledger.exists(ledger):
        return None
    report = praxis_audit.export(ledger, site_id, month)
    runs = {run["run"]: run for run in report["runs"]}
    done = []
    for change in report["changes"]:
        run = runs.get(change["run"]) or {}
        playbooks = run.get("playbooks") or []
        done.append({"at": change["at"], "by": run.get("by"), "playbook": playbooks[0] if playbooks else None,
                     "host": change["host"], "task": change.get("task"), "action": change.get("action"),
                     "status": change.get("status"), "run": change["run"]})
    return done


# -- KBV mapping -----------------------------------------------------------------------------------

KBV_NUMBER = re.compile(r"^[0-9]{1,3}[a-z]?(\.[0-9]{1,3})*$")


def kbv_numbers(given: Any) -> dict[str, dict[str, Any]]:
    """The provider's ``praxis_report_kbv``: requirement key -> ``{anlage: 1-5, number: "7"}``, the
    Anlage and number of the requirement as the current Richtlinie has them, entered once from the
    KBV document. A bad entry is refused naming it."""
    if given in (None, {}):
        return {}
    if not isinstance(given, Mapping):
        raise MonthlyError(f"praxis_report_kbv must be a mapping of requirement to {{anlage, number}}, got {given!r}")
    known = {entry["key"] for entry in KBV_REQUIREMENTS}
    result = {}
    for key, value in given.items():
        where = f"praxis_report_kbv.{key}"
        if key not in known:
            raise MonthlyError(f"{where}: not a requirement of the report; known: {', '.join(sorted(known))}")
        if not isinstance(value, Mapping) or set(value) - {"anlage", "number"}:
            raise MonthlyError(f"{where}: a mapping with anlage and number is required, got {value!r}")
        anlage = value.get("anlage")
        if isinstance(anlage, bool) or not isinstance(anlage, int) or not 1 <= anlage <= 5:
            raise MonthlyError(f"{where}.anlage must be 1 to 5, got {anlage!r}")
        number = str(value.get("number") if value.get("number") is not None else "").strip()
        if not KBV_NUMBER.match(number):
            raise MonthlyError(f"{where}.number must be the requirement's number in its Anlage (e.g. 7 or 7.1), "
                               f"got {value.get('number')!r}")
        result[str(key)] = {"anlage": anlage, "number": number}
    return result


def _kbv(evidence: Mapping[str, dict[str, Any] | None],
         numbers: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    result = []
    for entry in KBV_REQUIREMENTS:
        found = [{"key": key, "values": evidence[key]} for key in entry["evidence"] if evidence.get(key) is not None]
        given = (numbers or {}).get(entry["key"])
        anlage = given["anlage"] if given else entry["anlage"]
        number = given["number"] if given else entry["number"]
        result.append({"id": f"anlage{anlage}-{number if number else entry['key']}",
                       "anlage": anlage, "number": number, "number_verified": number is not None,
                       "requirement_key": entry["key"], "evidence": found,
                       "covered": any(item["values"].get("status") != "no_data" for item in found)})
    return result


def _area_evidence(area: Mapping[str, Any], items_key: str) -> dict[str, Any]:
    items = area.get(items_key) or []
    return {"status": area["status"], "devices": len(items), **{f"devices_{k}": v for k, v in _counts(items).items()}}


def _state_read_at(records: Mapping[str, Any], inventory_report: Mapping[str, Any] | None, end: dt.datetime,
                   zone: Any) -> str | None:
    """The newest check time of the facts files when it lies after the month's end, else None."""
    moments = [_time((record or {}).get("checked_at"), "checked_at") for record in records.values()]
    moments.append(_time((inventory_report or {}).get("generated_at"), "generated_at"))
    later = [m for m in moments if m is not None and m >= end]
    return _iso(max(later).astimezone(zone)) if later else None


# -- the report ------------------------------------------------------------------------------------

def month_report(ledger: str | None, *, output_dir: str, site: Mapping[str, Any], month: str, now: dt.datetime,
                 provider: Mapping[str, Any], policy: Mapping[str, Any] | None = None,
                 hosts: Mapping[str, str] | None = None, kbv: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The data of the monthly report of one practice (docs/report.md).

    ``ledger``: the SQLite file or ``postgresql://`` URL (None or a file that does not exist:
    every area from the ledger is ``no_data``; nothing is created); ``output_dir``: the output
    folder with ``facts/`` and ``workplaces/``; ``site``: the praxis_site dict with its devices;
    ``month``: ``YYYY-MM`` in the practice's time zone; ``now``: an aware datetime (open
    reaction times and SLA deadlines are judged against it); ``provider``: ``{"name": ...}``;
    ``policy``: the provider's praxis_patch_policy; ``hosts``: host -> role of the inventory;
    ``kbv``: the provider's ``praxis_report_kbv`` (the requirements' Anlage and number)."""
    if not isinstance(site, Mapping) or not site.get("id"):
        raise MonthlyError("site: the praxis_site dict with its id is required")
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise MonthlyError(f"now: an aware datetime is required, got {now!r}")
    if not isinstance(provider, Mapping) or not str(provider.get("name") or "").strip():
        raise MonthlyError("provider.name is required")
    site_id = str(site["id"])
    try:
        calendar = SiteCalendar(site)
    except CalendarError as exc:
        raise MonthlyError(str(exc)) from None
    zone = calendar.tz
    start, end = period(month, zone)
    # What the report judges (open reaction times, SLA deadlines, firmware waiting, the next window)
    # is judged at the end of the month, or now while the month runs: a past month's report made
    # again later says the same.
    as_of = min(now, end)
    all_hosts = site_hosts(site, hosts)
    roles = {host: info["role"] for host, info in all_hosts.items()}
    windows = {h: r for h, r in roles.items() if r in WINDOWS_ROLES}
    network = {h: r for h, r in roles.items() if r in NETWORK_ROLES}
    managed = {h: r for h, r in roles.items() if r != "not_managed"}

    has_ledger = bool(ledger) and praxis_ledger.exists(ledger)
    events = _events(ledger, site_id, _utc(end)) if has_ledger else []   # type: ignore[arg-type]
    since = _utc(start)
    checked: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["kind"] == "health" and event["at"] >= since:
            checked.setdefault(event["host"], []).append(event)
    facts_dir = os.path.join(output_dir, "facts")
    records = {host: read_json(facts_path(facts_dir, site_id, host)) for host in managed}
    inventory_file = os.path.join(output_dir, "workplaces", site_id, "inventory.json")
    inventory_report = read_json(inventory_file)
    if inventory_report is not None and not isinstance(inventory_report.get("computers", {}), Mapping):
        raise MonthlyError(f"{inventory_file}: computers is not a mapping of host to inventory row")

    limits = {key: THRESHOLDS[key]["default"] for key in ("signature_max_working_days", "backup_max_age_days",
                                                          "firmware_available_max_days")}
    antivirus = _antivirus(list(windows), records, checked, calendar, limits["signature_max_working_days"])
    updates = _updates(ledger if has_ledger else None, site, windows, month, start, end, as_of, policy, zone)
    incidents = (_incidents(_incident_rows(ledger, site_id, since, _utc(end)), start, end, as_of, zone)  # type: ignore
                 if has_ledger else {"status": "no_data", "items": [], "per_week": [], "open": 0})
    availability = _availability(managed, checked)
    backups = _with_data(_backups(network, events, start, end, as_of, limits["backup_max_age_days"]),
                         _data_backups(ledger if has_ledger else None, site, calendar, start, end, as_of))
    window = calendar.next_maintenance_window(max(as_of, start))
    firmware = _firmware(network, events, records, _iso(window[0]) if window else None, as_of,
                         limits["firmware_available_max_days"])
    encryption = _encryption(windows, (inventory_report or {}).get("computers") or {})
    inventory = _inventory(windows, inventory_report, all_hosts)
    work_done = _work_done(ledger, site_id, month)

    areas = {"antivirus": (antivirus, "devices"), "updates": (updates, "devices"),
             "checks": (availability, "devices"), "backups": (backups, "config"),
             "firmware": (firmware, "devices"), "encryption": (encryption, "devices"),
             "inventory": (inventory, "computers")}
    summary_areas = [{"area": name, "status": area["status"],
                      "counts": _counts(area[key] + (area["data"] if name == "backups" else []))
                      if name != "inventory"
                      else {"computers": len(inventory["computers"]), "missing": len(inventory["missing"]),
                            "not_managed": len(inventory["not_managed"])}}
                     for name, (area, key) in areas.items()]
    actions = _actions(antivirus, updates, availability, backups, firmware, encryption)

    firewalls = [h for h, r in network.items() if r == "firewall"]
    signatures = [e for e in events if e["kind"] == "signatures" and e["host"] in firewalls and e["at"] >= since]
    # firewalls whose vendor's API offers no signature update: not counted as runs, listed with the reason
    signatures_not_offered = []
    for host in firewalls:
        found = _not_offered([e for e in signatures if e["host"] == host])
        if found:
            signatures_not_offered.append({"host": host, **found})
    signatures = [e for e in signatures if not (e["status"] == "skipped" and (e.get("data") or {}).get("not_offered"))]
    firewall_checks = [d for d in availability["devices"] if d["host"] in firewalls]
    vlans = (site.get("networks") or {}).get("vlans") or []
    plan = os.path.join(output_dir, "network-plans", site_id, "network-plan.md")
    evidence: dict[str, dict[str, Any] | None] = {
        "antivirus": _area_evidence(antivirus, "devices") if windows else None,
        "updates": dict(_area_evidence(updates, "devices"),
                        sla=[{"days": t["days"], "percent": t["percent"], "target_percent": t["target_percent"]}
                             for t in (updates["sla"] or {}).get("summary", [])]) if windows else None,
        "firmware": _area_evidence(firmware, "devices") if network else None,
        "backups": dict(_area_evidence(backups, "config"), repositories=len(backups["data"]),
                        repositories_ok=sum(1 for d in backups["data"] if d["status"] == "ok"),
                        restore_tests_ok=sum(1 for d in backups["data"] if (d["restore_test"] or {}).get("ok")))
        if network or backups["data"] else None,
        "firewall": {"status": worst(d["status"] for d in firewall_checks), "firewalls": len(firewalls),
                     "signature_updates": len(signatures),
                     "signature_updates_ok": sum(1 for e in signatures if e["status"] in ("ok", "changed")),
                     "signatures_not_offered": signatures_not_offered}
        if firewalls else None,
        "encryption": _area_evidence(encryption, "devices") if windows else None,
        "segmentation": {"status": "ok" if len(vlans) > 1 else "warning", "vlans": len(vlans)} if network else None,
        "network_plan": {"status": "ok" if os.path.exists(plan) else "no_data", "present": os.path.exists(plan)}
        if network else None,
        "inventory": {"status": inventory["status"], "computers": len(inventory["computers"]),
                      "not_managed": len(inventory["not_managed"])} if all_hosts else None,
        "work_done": {"status": "ok" if work_done else "no_data", "changes": len(work_done or []),
                      "runs": len({w["run"] for w in work_done or []})} if work_done is not None else None,
    }
    return {
        "site": {"id": site_id, "name": site.get("name") or site_id, "language": site.get("language") or "de",
                 "timezone": str(zone.key if hasattr(zone, "key") else zone)},
        "provider": {"name": str(provider["name"])},
        "month": month,
        "period": {"start": _iso(start), "end": _iso(end)},
        "generated_at": _iso(now.astimezone(zone)),
        # The device state (antivirus, firmware, BitLocker, inventory) comes from the facts files as
        # the last check left them; read after the month ended, the report says from when it is.
        "state_read_at": _state_read_at(records, inventory_report, end, zone),
        "summary": {"areas": summary_areas, "open_incidents": incidents["open"], "actions": actions},
        "antivirus": antivirus,
        "updates": updates,
        "incidents": incidents,
        "availability": availability,
        "backups": backups,
        "firmware": firmware,
        "encryption": encryption,
        "inventory": inventory,
        "work_done": work_done or [],
        "kbv": _kbv(evidence, kbv_numbers(kbv)),
    }


def _actions(antivirus: Mapping[str, Any], updates: Mapping[str, Any], availability: Mapping[str, Any],
             backups: Mapping[str, Any], firmware: Mapping[str, Any],
             encryption: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the practice or the provider has to do, one entry per device and kind."""
    actions: list[dict[str, Any]] = []
    for device in antivirus["devices"]:
        if device["protection"] is False:
            actions.append({"kind": "protection_off", "host": device["host"], "detail": {}})
        elif device["status"] == "warning":
            actions.append({"kind": "signatures_old", "host": device["host"],
                            "detail": {"working_days": device["signature_age_working_days"]}})
    for device in updates["devices"]:
        if device["failed"]:
            actions.append({"kind": "update_failed", "host": device["host"],
                            "detail": {"keys": [u["key"] for u in device["failed"]]}})
        reboot = [u["key"] for u in device["pending"] if u["state"] == "pending_reboot"]
        if reboot:
            actions.append({"kind": "reboot_pending", "host": device["host"], "detail": {"keys": reboot}})
    for device in availability["devices"]:
        if device["offline_at_end"]:
            actions.append({"kind": "device_offline", "host": device["host"],
                            "detail": {"last_answered": device["last_answered"]}})
        elif device["status"] == "no_data":
            actions.append({"kind": "check_missing", "host": device["host"], "detail": {}})
    for item in backups["config"]:
        if item["status"] == "critical":
            actions.append({"kind": "backup_missing", "host": item["host"], "detail": {"last_good": item["last_good"]}})
        elif item["status"] == "warning":
            actions.append({"kind": "backup_failed", "host": item["host"], "detail": {"failed": item["failed"]}})
    for repo in backups["data"]:
        if repo["status"] in ("critical", "warning"):
            actions.append({"kind": f"data_backup_{repo['status']}", "host": repo["repository"],
                            "detail": {"last_check": repo["last_check"], "error_kind": repo["last_error_kind"]}})
        if (repo["restore_test"] or {}).get("ok") is False:
            actions.append({"kind": "restore_test_failed", "host": repo["repository"],
                            "detail": {"at": repo["restore_test"]["at"]}})
    for device in firmware["devices"]:
        if device["status"] == "warning":
            actions.append({"kind": "firmware_waiting", "host": device["host"],
                            "detail": {"version": device["version"], "latest": device["latest"]}})
    for device in encryption["devices"]:
        if device["status"] == "critical":
            actions.append({"kind": "encryption_off", "host": device["host"],
                            "detail": {"volume_status": device["volume_status"],
                                       "protection_status": device["protection_status"]}})
    return actions
