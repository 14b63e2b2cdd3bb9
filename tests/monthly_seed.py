"""A practice and a month with known figures for the monthly report (OPS-04).

``seed(tmp_path, ...)`` writes a ledger (events, incidents, patch tables, audit trail), the
facts files and the workplace inventory of one practice, as the nightly and monthly jobs
write them, and returns the paths, the site, the hosts and the EXPECTED figures. The
expected figures are worked out here from the seeded facts by plain counting, never by
``praxis_monthly``.

The practice (``devices=None``): a firewall fw01 (down on the 10th to 12th), a switch sw01
(its backup failed on the 20th; a firmware update waits since last month), an access point
ap01 (unreachable at the last check; its last good backup is months old), a NAS nas01 (no
configuration export: backups skipped; no facts file), Windows PCs ws01 (pilot, healthy,
a reboot pending), ws02 (real-time protection off), ws03 (old signatures, a failed update,
not encrypted), ws04 (never checked: no data) and a Mac mac01 that is not managed.
``devices=N``: N Windows PCs ws001.. instead, the first four with the profiles above, the
rest healthy.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from ansible.module_utils import praxis_audit, praxis_incidents, praxis_ledger

ZONE = ZoneInfo("Europe/Berlin")
PROVIDER = {"name": "IT-Service Muster GmbH"}
FW_OUT = (10, 11, 12)         # days fw01 did not answer
SIGNATURE_LIMIT = 2           # praxis_findings: signature_max_working_days
BACKUP_LIMIT = 35             # praxis_findings: backup_max_age_days


def _month(month: str) -> tuple[int, int, int]:
    year, number = int(month[:4]), int(month[5:7])
    following = dt.date(year + number // 12, number % 12 + 1, 1)
    return year, number, (following - dt.timedelta(days=1)).day


def _second_tuesday(year: int, number: int) -> dt.date:
    day = dt.date(year, number, 1)
    while day.weekday() != 1:
        day += dt.timedelta(days=1)
    return day + dt.timedelta(days=7)


def _working_days_between(first: dt.datetime, last: dt.datetime, state: str) -> int:
    """Whole working days (Mon-Fri, not a public holiday of ``state``) strictly between the two local days."""
    table = holidays.country_holidays("DE", subdiv=state, years=range(first.year, last.year + 1))
    day, count = first.astimezone(ZONE).date() + dt.timedelta(days=1), 0
    while day < last.astimezone(ZONE).date():
        if day.weekday() < 5 and day not in table:
            count += 1
        day += dt.timedelta(days=1)
    return count


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _insert_events(ledger: str, rows: list[tuple[Any, ...]]) -> None:
    with praxis_ledger.writing(ledger) as conn:
        for row in rows:
            conn.execute("INSERT INTO events (at, run, site, host, kind, status, summary, data) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)


def seed(tmp_path: Path, *, site: str = "huber", month: str = "2026-11", devices: int | None = None,
         sla: bool = True, network: bool = True, windows: bool = True, ledger: str | None = None) -> dict[str, Any]:
    """Seed one practice and month; see the module docstring. ``ledger``: an SQLite path or a
    PostgreSQL URL (default: ``tmp_path/ledger.sqlite``)."""
    year, number, last = _month(month)
    ledger = ledger or str(tmp_path / "ledger.sqlite")
    output = tmp_path / "output"

    def at(day: int, hour: int = 2, minute: int = 0) -> dt.datetime:
        return dt.datetime(year, number, day, hour, minute, tzinfo=dt.timezone.utc)

    names = ([f"ws{i:03d}" for i in range(1, devices + 1)] if devices else ["ws01", "ws02", "ws03", "ws04"]) \
        if windows else []
    profiles = {name: ("pilot", "protection_off", "old_signatures", "unchecked")[i] if i < 4 else "healthy"
                for i, name in enumerate(names)}
    pilot = names[0] if names else None
    site_dict: dict[str, Any] = {
        "id": site, "name": "Hausarztpraxis Dr. Huber", "state": "BY", "timezone": "Europe/Berlin", "language": "de",
        "networks": {"vlans": [{"id": 10, "name": "praxis"}, {"id": 20, "name": "gaeste"}], "wlans": []},
        "devices": {
            "workplaces": [{"name": n, "address": f"10.0.{i // 250}.{i % 250 + 2}", "credentials": "vault_x",
                            "vendor": "Dell", "model": "OptiPlex 7010"} for i, n in enumerate(names)]
            + [{"name": "mac01", "address": "10.9.0.9", "credentials": "vault_mac", "os": "macos",
                "vendor": "Apple", "model": "Mac mini"}],
        },
    }
    if pilot:
        site_dict["pilot"] = pilot
    if network:
        site_dict["devices"].update({
            "firewalls": [{"name": "fw01", "address": "10.1.0.1", "vendor": "opnsense", "credentials": "vault_fw"}],
            "switches": [{"name": "sw01", "address": "10.1.0.2", "vendor": "lancom", "credentials": "vault_sw"}],
            "access_points": [{"name": "ap01", "address": "10.1.0.3", "vendor": "lancom", "credentials": "vault_ap"}],
            "nas": [{"name": "nas01", "address": "10.1.0.5", "vendor": "synology", "credentials": "vault_nas"}],
        })
    host = {name: f"{site}-{name}" for name in [*names, "mac01", "fw01", "sw01", "ap01", "nas01"]}
    hosts = {host[n]: "workplace" for n in names}
    hosts[host["mac01"]] = "not_managed"
    if network:
        hosts.update({host["fw01"]: "firewall", host["sw01"]: "switch", host["ap01"]: "access_point",
                      host["nas01"]: "nas"})
    expected: dict[str, Any] = {"availability": {}, "antivirus": {}, "updates": {}, "backups": {}, "firmware": {},
                                "encryption": {}, "actions": set()}
    rows: list[tuple[Any, ...]] = []

    # -- health checks: one a night; fw01 down on FW_OUT, ap01 down at the last check, ws04 never ---
    checked = [n for n in names if profiles[n] != "unchecked"] + (["fw01", "sw01", "ap01", "nas01"] if network else [])
    for name in checked:
        answered = 0
        for day in range(1, last + 1):
            down = (name == "fw01" and day in FW_OUT) or (name == "ap01" and day == last)
            if down:
                data = {"findings": [{"check": "net.reachability", "severity": "critical", "priority": "high"}]}
                rows.append((_iso(at(day)), "r", site, host[name], "health", "critical", "unreachable",
                             json.dumps(data)))
            else:
                answered += 1
                rows.append((_iso(at(day)), "r", site, host[name], "health", "ok", "healthy",
                             json.dumps({"findings": []})))
        percent = round(100.0 * answered / last, 1)
        expected["availability"][host[name]] = {"checks": last, "ok": answered, "percent": percent,
                                                "status": "ok" if percent >= 99 else "warning" if percent >= 90
                                                else "critical"}
    for name in names:
        if profiles[name] == "unchecked":
            expected["availability"][host[name]] = {"checks": 0, "ok": 0, "percent": None, "status": "no_data"}
            expected["actions"].add(("check_missing", host[name]))
    if network:
        expected["actions"].add(("device_offline", host["ap01"]))
    # a health check of the month before and of another practice: not counted
    rows.append((_iso(at(1) - dt.timedelta(days=3)), "r", site, host[checked[0]] if checked else "x", "health",
                 "critical", "old", json.dumps({"findings": []})))
    rows.append((_iso(at(5)), "r", "wagner", "wagner-ws01", "health", "ok", "other practice", "{}"))

    # -- Windows facts files (praxis_win_health's record) and antivirus ------------------------------
    checked_at = at(last)
    for name in names:
        profile = profiles[name]
        if profile == "unchecked":
            expected["antivirus"][host[name]] = {"status": "no_data", "protection": None,
                                                 "signature_age_working_days": None}
            continue
        updated = (dt.datetime(year, number, 20, 6, tzinfo=ZONE) if profile == "old_signatures"
                   else checked_at - dt.timedelta(hours=20))
        defender = {"AMServiceEnabled": True, "AntivirusEnabled": True,
                    "RealTimeProtectionEnabled": profile != "protection_off", "IsTamperProtected": True,
                    "AntivirusSignatureLastUpdated": updated.astimezone(ZONE).isoformat(timespec="seconds")}
        _write(output / "facts" / site / f"{host[name]}.json",
               {"site": site, "host": host[name], "checked_at": _iso(checked_at), "status": "ok", "findings": [],
                "health": {"defender": defender}})
        age = _working_days_between(updated, checked_at, "BY")
        protection = profile != "protection_off"
        status = "critical" if not protection else "warning" if age > SIGNATURE_LIMIT else "ok"
        expected["antivirus"][host[name]] = {"status": status, "protection": protection,
                                             "signature_age_working_days": age}
        if not protection:
            expected["actions"].add(("protection_off", host[name]))
        elif status == "warning":
            expected["actions"].add(("signatures_old", host[name]))

    # -- network facts files, firmware, backups ------------------------------------------------------
    if network:
        prev = at(1) - dt.timedelta(days=20)
        _write(output / "facts" / site / f"{host['fw01']}.json", {"firmware_version": "24.7.5", "reachable": True})
        _write(output / "facts" / site / f"{host['sw01']}.json", {"firmware_version": "10.70.0.1"})
        _write(output / "facts" / site / f"{host['ap01']}.json", {"firmware_version": "10.80.0.2"})
        fw_update = at(14, 23)
        rows.append((_iso(fw_update), "r", site, host["fw01"], "firmware", "changed", "24.7.1 -> 24.7.5",
                     json.dumps({"from": "24.7.1", "to": "24.7.5"})))
        first_offer = at(1) - dt.timedelta(days=31)
        for moment in (first_offer, prev, at(15, 23)):
            rows.append((_iso(moment), "r", site, host["sw01"], "firmware", "refused", "refused",
                         json.dumps({"installed": "10.70.0.1", "available": "10.80.0.5"})))
        expected["firmware"] = {
            host["fw01"]: {"version": "24.7.5", "latest": "24.7.5", "last_update": _iso(fw_update), "status": "ok"},
            host["sw01"]: {"version": "10.70.0.1", "latest": "10.80.0.5", "last_update": None, "status": "warning"},
            host["ap01"]: {"version": "10.80.0.2", "latest": "10.80.0.2", "last_update": None, "status": "ok"},
            host["nas01"]: {"version": None, "latest": None, "last_update": None, "status": "no_data"},
        }
        expected["actions"].add(("firmware_waiting", host["sw01"]))

        def name_of(moment: dt.datetime, sha: str) -> str:
            return f"{moment.astimezone(dt.timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{sha}.vault"

        def backup(moment: dt.datetime, device: str, status: str, kept: list[str]) -> None:
            data = ({"path": f"{site}/{device}/{kept[-1]}", "kept": kept, "sha256": "0" * 64, "size": 1}
                    if status in ("ok", "changed") else {"findings": []})
            rows.append((_iso(moment), "r", site, host[device], "backup", status, f"backup {status}",
                         json.dumps(data)))

        fw_copies = [at(5) - dt.timedelta(days=61), at(5) - dt.timedelta(days=31), at(5)]
        fw_names = [name_of(m, f"{i:012x}") for i, m in enumerate(fw_copies)]
        backup(fw_copies[1], "fw01", "changed", fw_names[:2])      # the oldest copy predates the ledger
        backup(fw_copies[2], "fw01", "changed", fw_names)
        sw_name = name_of(at(5), "aaaaaaaaaaaa")
        backup(at(5), "sw01", "changed", [sw_name])
        backup(at(20), "sw01", "failed", [])
        ap_copy = at(1) - dt.timedelta(days=60)
        backup(ap_copy, "ap01", "changed", [name_of(ap_copy, "bbbbbbbbbbbb")])
        backup(at(5), "nas01", "skipped", [])
        expected["backups"] = {
            host["fw01"]: {"status": "ok", "copies": [{"at": _iso(m), "verified": v}
                                                      for m, v in zip(fw_copies, (None, True, True), strict=True)]},
            host["sw01"]: {"status": "warning", "copies": [{"at": _iso(at(5)), "verified": True}]},
            host["ap01"]: {"status": "critical", "copies": [{"at": _iso(ap_copy), "verified": True}]},
            host["nas01"]: {"status": "no_data", "copies": []},
        }
        expected["actions"] |= {("backup_failed", host["sw01"]), ("backup_missing", host["ap01"])}
        # firewall signature updates: every night
        for day in range(1, last + 1):
            rows.append((_iso(at(day, 3)), "r", site, host["fw01"], "signatures", "changed" if day % 7 else "failed",
                         "signatures", json.dumps({"signature_date": f"{year}-{number:02d}-{day:02d}"})))
    _insert_events(ledger, rows)

    # -- workplace inventory report (WP-11) and encryption --------------------------------------------
    computers = {}
    for name in names:
        profile = profiles[name]
        if profile == "unchecked":
            expected["encryption"][host[name]] = {"status": "no_data", "volume_status": None}
            continue
        volume, protection, method, status = {
            "protection_off": ("EncryptionInProgress", "Off", "XtsAes256", "warning"),
            "old_signatures": ("FullyDecrypted", "Off", "None", "critical"),
        }.get(profile, ("FullyEncrypted", "On", "XtsAes256", "ok"))
        computers[host[name]] = {"name": name.upper(), "model": "OptiPlex 7010", "serial": f"SN-{name}",
                                 "os": "Microsoft Windows 11 Pro", "cpu": "Intel(R) Core(TM) i5-13500",
                                 "ram_gb": 16.0, "bitlocker": volume, "bitlocker_protection": protection,
                                 "bitlocker_method": method, "software_count": 40 + len(name), "software": []}
        expected["encryption"][host[name]] = {"status": status, "volume_status": volume}
        if status == "critical":
            expected["actions"].add(("encryption_off", host[name]))
    _write(output / "workplaces" / site / "inventory.json",
           {"site": site, "practice": site_dict["name"], "computers": computers,
            "not_managed": {host["mac01"]: {"name": "mac01", "os": "macos", "vendor": "Apple", "model": "Mac mini"}}})
    expected["inventory"] = {"computers": sorted(computers), "missing": [host[n] for n in names if
                                                                         profiles[n] == "unchecked"],
                             "not_managed": [{"host": host["mac01"], "os": "macos", "vendor": "Apple",
                                              "model": "Mac mini"}],
                             "software_count": {h: c["software_count"] for h, c in computers.items()}}

    # -- incidents (OPS-06 reaction times: high 1 h, medium 4 h, low 24 h) -----------------------------
    def finding(check: str, severity: str, priority: str) -> dict[str, Any]:
        return {"check": check, "severity": severity, "priority": priority, "message": f"{check} failed"}

    items = []
    if network:
        fw = host["fw01"]
        praxis_incidents.observe(ledger, run="r", site=site, host=fw, checks=["net.reachability"],
                                 findings=[finding("net.reachability", "critical", "high")], now=at(FW_OUT[0]))
        first = praxis_incidents.incidents(ledger, site=site)[-1]["id"]
        praxis_incidents.acknowledge(ledger, first, actor="tech", reason="on it", now=at(FW_OUT[0], 2, 30))
        for day in (FW_OUT[-1] + 1, FW_OUT[-1] + 2):
            praxis_incidents.observe(ledger, run="r", site=site, host=fw, checks=["net.reachability"], findings=[],
                                     now=at(day))
        items.append({"host": fw, "check": "net.reachability", "opened": at(FW_OUT[0]), "hours": 0.5, "met": True,
                      "state": "resolved"})
        sw = host["sw01"]
        praxis_incidents.observe(ledger, run="r", site=site, host=sw, checks=["backup.config"],
                                 findings=[finding("backup.config", "warning", "medium")], now=at(20))
        third = [i for i in praxis_incidents.incidents(ledger, site=site) if i["host"] == sw][0]["id"]
        praxis_incidents.acknowledge(ledger, third, actor="tech", reason="looking", now=at(20, 5))
        items.append({"host": sw, "check": "backup.config", "opened": at(20), "hours": 3.0, "met": True,
                      "state": "open"})
    old_signatures = [n for n in names if profiles[n] == "old_signatures"]
    if old_signatures:
        ws = host[old_signatures[0]]
        praxis_incidents.observe(ledger, run="r", site=site, host=ws, checks=["win.av_signature_age"],
                                 findings=[finding("win.av_signature_age", "warning", "low")], now=at(23))
        for day in (24, 25):
            praxis_incidents.observe(ledger, run="r", site=site, host=ws, checks=["win.av_signature_age"],
                                     findings=[], now=at(day))
        items.append({"host": ws, "check": "win.av_signature_age", "opened": at(23), "hours": 48.0, "met": False,
                      "state": "resolved"})
    # resolved before the month, and another practice's: not in the report
    before = at(1) - dt.timedelta(days=12)
    praxis_incidents.observe(ledger, run="r", site=site, host=f"{site}-old", checks=["win.service"],
                             findings=[finding("win.service", "warning", "low")], now=before)
    for day in (1, 2):
        praxis_incidents.observe(ledger, run="r", site=site, host=f"{site}-old", checks=["win.service"], findings=[],
                                 now=before + dt.timedelta(days=day))
    praxis_incidents.observe(ledger, run="r", site="wagner", host="wagner-fw01", checks=["net.cpu"],
                             findings=[finding("net.cpu", "warning", "low")], now=at(3))
    weeks: dict[str, int] = {}
    day = dt.date(year, number, 1)
    while day.month == number:
        weeks.setdefault("%d-W%02d" % day.isocalendar()[:2], 0)
        day += dt.timedelta(days=1)
    for item in items:
        weeks["%d-W%02d" % item["opened"].astimezone(ZONE).isocalendar()[:2]] += 1
    expected["incidents"] = {"items": items, "per_week": weeks,
                             "open": sum(1 for i in items if i["state"] == "open")}

    # -- patches: the catalogue, the state per device, the nightly checks (WP-08, WP-10) ---------------
    expected["sla"] = None
    if windows:
        tuesday = _second_tuesday(year, number)
        updates = {"u1": (f"{year}-{number:02d} Cumulative Update for Windows 11 (KB5000001)", tuesday),
                   "u2": (f"{year}-{number:02d} Cumulative Update for .NET (KB5000002)", tuesday),
                   "u0": ("Earlier update (KB5000000)", dt.date(year, number, 1) - dt.timedelta(days=17))}
        states: dict[str, dict[str, tuple[str, dt.datetime | None, str | None]]] = {}
        for name in names if sla else []:
            profile = profiles[name]
            if profile == "unchecked":
                continue
            plan = {
                "pilot": {"u1": ("installed", at(tuesday.day + 1, 1), None), "u2": ("pending_reboot", None, None),
                          "u0": ("installed", dt.datetime.combine(updates["u0"][1] + dt.timedelta(days=6), dt.time(1),
                                                                  dt.timezone.utc), None)},
                "protection_off": {"u1": ("installed", at(tuesday.day + 9, 1), None),
                                   "u2": ("installed", at(tuesday.day + 2, 1), None)},
                "old_signatures": {"u1": ("failed", None, "0x80070002"), "u2": ("available", None, None)},
            }.get(profile, {"u1": ("installed", at(tuesday.day + 1, 1), None),
                            "u2": ("installed", at(tuesday.day + 2, 1), None)})
            states[host[name]] = plan
        with praxis_ledger.writing(ledger) as conn:
            if sla:
                for key, (title, released) in updates.items():
                    conn.execute("INSERT INTO patch_updates (key, kind, title, kb, update_ids, categories, severity, "
                                 "released, released_source, first_seen) VALUES (?, 'microsoft', ?, '', '[]', "
                                 "'[\"Security Updates\"]', 'security', ?, 'title', ?)",
                                 (key, title, released.isoformat(), _iso(at(1))))
            for device, plan in states.items():
                for key, (state, installed, code) in plan.items():
                    conn.execute("INSERT INTO patch_devices (site, host, key, state, error_code, first_seen, "
                                 "updated_at, installed_at, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
                                 (site, device, key, state, code, _iso(at(1)), _iso(at(last)),
                                  _iso(installed) if installed else None))
            for name in names:
                if profiles[name] == "unchecked":
                    continue
                for day in range(1, last + 1):
                    conn.execute("INSERT INTO patch_checks (site, host, day, at, role, ok) VALUES (?, ?, ?, ?, ?, 1)",
                                 (site, host[name], dt.date(year, number, day).isoformat(), _iso(at(day)),
                                  "workplace"))
        since, until = at(1) - dt.timedelta(hours=1), at(last, 23)   # the month in German time
        for name in names:
            device = host[name]
            plan = states.get(device, {})
            expected["updates"][device] = {
                "installed": sorted(k for k, (s, when, _c) in plan.items()
                                    if s == "installed" and since <= when < until),
                "failed": sorted(k for k, (s, _w, _c) in plan.items() if s == "failed"),
                "pending": sorted(k for k, (s, _w, _c) in plan.items() if s in ("available", "pending_reboot")),
                "status": "no_data" if profiles[name] == "unchecked" else
                "warning" if any(s == "failed" for s, _w, _c in plan.values()) else "ok"}
            if any(s == "failed" for s, _w, _c in plan.values()):
                expected["actions"].add(("update_failed", device))
            if any(s == "pending_reboot" for s, _w, _c in plan.values()):
                expected["actions"].add(("reboot_pending", device))
        # the SLA by hand: per update released in the month, the practice's Windows PCs that were offered
        # it or not checked within 7 days of the release (counted as not installed), installed before
        # the start of the release day + N in German time
        targets = {7: [0, 0], 14: [0, 0]}
        for key in ("u1", "u2") if sla else ():
            released = updates[key][1]
            counted = [host[n] for n in names if (host[n] in states and key in states[host[n]])
                       or profiles[n] == "unchecked"]
            for days, pair in targets.items():
                deadline = dt.datetime.combine(released + dt.timedelta(days=days), dt.time(), ZONE)
                pair[0] += sum(1 for d in counted if d in states and key in states[d]
                               and states[d][key][0] == "installed" and states[d][key][1] < deadline)
                pair[1] += len(counted)
        expected["sla"] = {days: (done, total, round(100.0 * done / total, 1) if total else None)
                           for days, (done, total) in targets.items()}

    # -- the audit trail (OPS-05) ------------------------------------------------------------------------
    praxis_audit.append(ledger, [
        {"kind": "run_start", "at": _iso(at(14, 22)), "run": "job-1",
         "data": {"by": "anna.technik", "playbooks": ["playbooks/firmware.yml"], "check": False}},
        {"kind": "change", "at": _iso(at(14, 23, 5)), "run": "job-1", "site": site,
         "host": host["fw01"] if network else host.get(names[0], "x") if names else "x",
         "data": {"task": "Update the firmware", "action": "praxis_firmware_update", "status": "changed"}},
        {"kind": "change", "at": _iso(at(14, 23, 6)), "run": "job-1", "site": "wagner", "host": "wagner-fw01",
         "data": {"task": "Update the firmware", "action": "praxis_firmware_update", "status": "changed"}},
        {"kind": "run_end", "at": _iso(at(14, 23, 30)), "run": "job-1",
         "data": {"status": "ok", "sites": [site, "wagner"], "hosts": {}}},
        {"kind": "change", "at": _iso(at(1) - dt.timedelta(days=2)), "run": "job-0", "site": site, "host": "old",
         "data": {"task": "earlier", "action": "x", "status": "changed"}},
    ])
    expected["work_done"] = [{"at": _iso(at(14, 23, 5)), "by": "anna.technik", "playbook": "playbooks/firmware.yml",
                              "task": "Update the firmware", "action": "praxis_firmware_update"}]
    os.makedirs(output, exist_ok=True)
    now = dt.datetime(year, number, last, tzinfo=ZONE) + dt.timedelta(days=1, hours=8)
    return {"ledger": ledger, "output_dir": str(output), "site": site_dict, "hosts": hosts, "month": month,
            "now": now, "provider": dict(PROVIDER), "pilot": host.get(pilot) if pilot else None,
            "expected": expected}
