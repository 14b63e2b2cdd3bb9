"""Patch management decisions on the controller (WP-08, WP-09, WP-10):
the policy, the module results read as updates, the ring over a simulated
month of Patch Tuesdays, holds, programs, maintenance time and reboots, the
SLA figures against hand-computed ones, findings, and check mode."""

from __future__ import annotations

import datetime as dt
import sqlite3
from zoneinfo import ZoneInfo

import pytest

from ansible.module_utils import praxis_patch as pp

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = pp.policy(None, None)
LCU = "3f2d1a70-6c43-4b61-9d3e-2f1c8a7b9e01"
NET = "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
MSRT = "0b6a0d55-6e0e-4b8b-9b5f-7d9c1c2b3a4e"
DEFS = "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
SITE = {"id": "weber", "state": "HE", "pilot": "ws01"}
PILOT = "weber-ws01"


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def update(ident: str, title: str, kb: str, categories: list[str], **extra) -> tuple[str, dict]:
    entry = {"title": title, "kb": [kb] if kb else [], "id": ident, "downloaded": False, "installed": False,
             "categories": categories}
    entry.update(extra)
    return ident, entry


def search(*entries: tuple[str, dict]) -> dict:
    """A win_updates result of state searched, as ansible.windows documents it."""
    updates = dict(entries)
    return {"changed": False, "updates": updates, "filtered_updates": {}, "found_update_count": len(updates),
            "installed_update_count": 0, "failed_update_count": 0, "reboot_required": False, "rebooted": False}


def installed(result: dict, *, reboot_required: bool = True, rebooted: bool = True, failed: dict | None = None) -> dict:
    """The install result for the updates of a search result."""
    updates = {}
    for ident, entry in result["updates"].items():
        entry = dict(entry, installed=ident not in (failed or {}), downloaded=True)
        if ident in (failed or {}):
            entry.update(failure_hresult_code=failed[ident],
                         failure_msg="Operation did not complete because there is no logged-on interactive user "
                                     "(WU_E_NO_INTERACTIVE_USER 0x80240020)")
        updates[ident] = entry
    return {"changed": True, "updates": updates, "filtered_updates": {}, "found_update_count": len(updates),
            "installed_update_count": sum(1 for e in updates.values() if e["installed"]),
            "failed_update_count": len(failed or {}), "reboot_required": reboot_required and not rebooted,
            "rebooted": rebooted}


NOVEMBER = [
    update(LCU, "2026-11 Kumulatives Update für Windows 11 Version 23H2 für x64-basierte Systeme (KB5046633)",
           "5046633", ["Security Updates", "Windows 11"]),
    update(NET, "2026-11 Kumulatives Update für .NET Framework 3.5 und 4.8.1 für Windows 11, Version 23H2 "
                "für x64 (KB5045934)", "5045934", ["Security Updates", "Windows 11"]),
    update(DEFS, "Security Intelligence-Update für Microsoft Defender Antivirus - KB2267602 (Version 1.421.30.0)",
           "2267602", ["Definition Updates", "Microsoft Defender Antivirus"]),
]


# -- policy ----------------------------------------------------------------------------------------
def test_policy_merges_provider_and_site_key_by_key():
    merged = pp.policy({"pilot_delay_days": 5, "servers": {"own_ring": True}},
                       {"patching": {"servers": {"delay_days": 3}, "third_party": {"source": "intern"}}})
    assert merged["pilot_delay_days"] == 5
    assert merged["servers"] == {"own_ring": True, "delay_days": 3}
    assert merged["third_party"]["source"] == "intern"
    assert merged["third_party"]["packages"] == pp.DEFAULT_POLICY["third_party"]["packages"]
    assert pp.DEFAULT_POLICY["pilot_delay_days"] == 7     # the defaults are not changed by a merge


@pytest.mark.parametrize(("provider", "site", "named"), [
    ({"pilot_delay_days": -1}, None, "praxis_patch_policy.pilot_delay_days"),
    ({"pilot_delay_days": True}, None, "praxis_patch_policy.pilot_delay_days"),
    (None, {"patching": {"reboot_minutes": 2}}, "patching.reboot_minutes"),
    (None, {"patching": {"install_retries": 9}}, "patching.install_retries"),
    (None, {"patching": {"overdue_days": 0}}, "patching.overdue_days"),
    (None, {"patching": {"categories": []}}, "patching.categories is empty"),
    (None, {"patching": {"categories": "Security Updates"}}, "patching.categories"),
    (None, {"patching": {"servers": {"own_ring": "yes"}}}, "patching.servers.own_ring"),
    (None, {"patching": {"servers": {"delay": 3}}}, "patching.servers.delay is not a setting"),
    (None, {"patching": {"sla": [{"days": 7, "percent": 120}]}}, "patching.sla[0].percent"),
    (None, {"patching": {"sla": [{"days": 14, "percent": 99}, {"days": 7, "percent": 95}]}}, "must rise"),
    (None, {"patching": {"sla": [{"days": 7}]}}, "patching.sla[0]"),
    (None, {"patching": {"third_party": {"packages": ["7zip", "7zip"]}}}, "names an entry twice"),
    (None, {"patching": {"third_party": {"packages": ["bad name"]}}}, "patching.third_party.packages"),
    (None, {"patching": {"third_party": {"source": ""}}}, "patching.third_party.source"),
    (None, {"patching": {"pilot_days": 3}}, "patching.pilot_days is not a patch policy setting"),
    ("7", None, "praxis_patch_policy must be a mapping"),
])
def test_policy_refuses_bad_values_naming_the_field(provider, site, named):
    with pytest.raises(pp.PatchError, match=named.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        pp.policy(provider, site)


# -- module results ----------------------------------------------------------------------------------
def test_win_updates_result_becomes_updates_with_release_date_and_severity():
    now = local("2026-11-10T21:00")
    updates = {u["key"]: u for u in pp.normalize_updates(search(*NOVEMBER), now=now, zone=BERLIN)}
    lcu = updates["KB5046633"]
    assert lcu["released"] == "2026-11-10" and lcu["released_source"] == "title"   # second Tuesday of November
    assert lcu["severity"] == "important" and lcu["id"] == LCU
    assert updates["KB2267602"]["released_source"] == "first_seen"
    assert pp.in_scope(lcu, POLICY) and not pp.in_scope(updates["KB2267602"], POLICY)


def test_patch_tuesday_and_out_of_band_release():
    assert [pp.patch_tuesday(2026, m).isoformat() for m in (1, 9, 11, 12)] == \
        ["2026-01-13", "2026-09-08", "2026-11-10", "2026-12-08"]
    # a title of the month seen before its Patch Tuesday (out of band) counts from the day it was seen
    assert pp.release_date("2026-12 Cumulative Update (KB5048000)", dt.date(2026, 12, 3)) == \
        (dt.date(2026, 12, 3), "first_seen")


def test_hresult_is_written_as_microsoft_writes_it():
    assert pp.hresult(2149842976) == "0x80240020"          # as an unsigned integer
    assert pp.hresult(-2145124320) == "0x80240020"         # as the signed HRESULT .NET gives
    assert pp.hresult(2147942402) == "0x80070002"          # the win_updates documentation's sample
    assert pp.hresult("0x80240020") == "0x80240020"
    assert pp.hresult(None) is None


@pytest.mark.parametrize(("result", "named"), [
    ({}, "has no 'updates'"),
    ({"updates": []}, "updates must be a mapping"),
    ({"updates": {LCU: {"title": "x", "kb": "5046633", "categories": []}}}, r"\.kb is missing or not a list"),
    ({"updates": {"not-a-guid": {"title": "x", "kb": [], "categories": []}}}, "is not an update GUID"),
])
def test_malformed_win_updates_result_is_refused_naming_the_field(result, named):
    with pytest.raises(pp.PatchError, match=named):
        pp.normalize_updates(result, now=local("2026-11-10T21:00"))


def test_update_with_several_kbs_is_keyed_by_its_id():
    entry = {"title": "Update", "kb": ["111111", "222222"], "id": LCU, "categories": ["Security Updates"]}
    assert pp.update_key(entry) == f"WU-{LCU}"


# -- the ring over a month -----------------------------------------------------------------------------
class Practice:
    """One practice's PCs answering like win_updates would, driven by the
    ledger's plans: what is offered until it is installed."""

    def __init__(self, ledger: pp.PatchLedger, hosts: dict[str, str], pol=POLICY, site="weber", pilot=PILOT):
        self.ledger, self.hosts, self.pol, self.site, self.pilot = ledger, hosts, pol, site, pilot
        self.offered: dict[str, list] = {h: [] for h in hosts}
        self.fail: dict[str, dict] = {}

    def publish(self, *entries, hosts=None):
        for host in hosts or self.hosts:
            self.offered[host] += list(entries)

    def night(self, when: dt.datetime, down: tuple[str, ...] = ()):
        for host, role in self.hosts.items():
            if host in down:
                continue
            self.ledger.record_check(site=self.site, host=host, role=role, pilot_host=self.pilot,
                                     updates=pp.normalize_updates(search(*self.offered[host]), now=when, zone=BERLIN),
                                     packages=None, now=when, pol=self.pol, zone=BERLIN)
        later = when + dt.timedelta(hours=1)
        for host, role in self.hosts.items():
            if host in down:
                continue
            plan = self.ledger.plan(site=self.site, host=host, role=role, pilot_host=self.pilot, now=later,
                                    pol=self.pol, zone=BERLIN)
            if not plan["updates"]:
                continue
            chosen = [e for e in self.offered[host] if pp.update_key(e[1]) in plan["updates"]]
            result = installed(search(*chosen), failed=self.fail.get(host))
            self.ledger.record_install(site=self.site, host=host, pilot_host=self.pilot, planned=plan, result=result,
                                       packages=[], now=later, zone=BERLIN)
            done = {i for i, e in result["updates"].items() if e["installed"]}
            self.offered[host] = [e for e in self.offered[host] if e[0] not in done]


def states(ledger, host):
    return {row["key"]: row for row in ledger.device_states("weber", host)}


def test_ring_over_a_month_of_patch_tuesdays_with_a_hold(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    practice = Practice(ledger, {PILOT: "workplace", "weber-ws02": "workplace", "weber-ws03": "workplace"})
    practice.publish(*NOVEMBER)
    day = local("2026-11-10T21:00")                 # Patch Tuesday, evening
    for n in range(22):
        when = day + dt.timedelta(days=n)
        if when.date() == dt.date(2026, 11, 12):
            ledger.hold(key="KB5045934", site="weber", by="Technikerin Sommer", now=when,
                        reason="Praxissoftware startet nach dem .NET-Update nicht")
        if when.date() == dt.date(2026, 11, 20):
            ledger.lift(key="KB5045934", site="weber", by="Technikerin Sommer", now=when,
                        reason="Hersteller-Patch der Praxissoftware eingespielt")
        practice.night(when)

    pilot = states(ledger, PILOT)
    # the pilot installs the night of Patch Tuesday, both in-scope updates; the definition update is not in scope
    assert set(pilot) == {"KB5046633", "KB5045934"}
    assert pilot["KB5046633"]["installed_at"] == "2026-11-10T21:00:00+00:00"
    assert pilot["KB5046633"]["pilot_installed_at"] == "2026-11-10T21:00:00+00:00"
    # released the next Tuesday by the rule, installed by the others that night
    assert pilot["KB5046633"]["released_at"] == "2026-11-17T20:00:00+00:00"
    assert pilot["KB5046633"]["released_by"] == "rule"
    assert "pilot weber-ws01 ran it 7 days" in pilot["KB5046633"]["release_rule"]
    other = states(ledger, "weber-ws02")
    assert other["KB5046633"]["installed_at"] == "2026-11-17T21:00:00+00:00"
    # the held update was not released on the 17th; released the night the hold was lifted
    assert pilot["KB5045934"]["released_at"] == "2026-11-20T20:00:00+00:00"
    assert other["KB5045934"]["installed_at"] == "2026-11-20T21:00:00+00:00"
    actions = [(e["action"], e["key"], e["actor"]) for e in ledger.log("weber")
               if e["action"] in ("held", "lifted", "released")]
    assert actions == [("held", "KB5045934", "Technikerin Sommer"), ("released", "KB5046633", "praxisops"),
                       ("lifted", "KB5045934", "Technikerin Sommer"), ("released", "KB5045934", "praxisops")]


def test_waiting_devices_are_told_when_and_held_updates_are_named(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    practice = Practice(ledger, {PILOT: "workplace", "weber-ws02": "workplace"})
    practice.publish(*NOVEMBER)
    when = local("2026-11-10T21:00")
    ledger.hold(key="5045934", site=None, by="Leitstelle", reason="fleet-wide problem", now=when)
    practice.night(when)
    plan = ledger.plan(site="weber", host="weber-ws02", role="workplace", pilot_host=PILOT,
                       now=when + dt.timedelta(hours=2), pol=POLICY, zone=BERLIN)
    assert plan["updates"] == []
    assert plan["waiting"] == [{"key": "KB5046633", "release_due": "after the pilot"}]
    assert plan["held"] == [{"key": "KB5045934", "reason": "fleet-wide problem", "by": "Leitstelle"}]
    # the pilot does not install the held one either
    assert states(ledger, PILOT)["KB5045934"]["state"] == "available"
    with pytest.raises(pp.PatchError, match="held for every practice by Leitstelle"):
        ledger.release(site="weber", key="KB5045934", by="tech", reason="early", now=when)


def test_failed_pilot_keeps_the_update_back_and_a_technician_may_release(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    practice = Practice(ledger, {PILOT: "workplace", "weber-ws02": "workplace"})
    practice.publish(NOVEMBER[0])
    practice.fail[PILOT] = {LCU: 2149842976}
    start = local("2026-11-10T21:00")
    for n in range(9):
        practice.night(start + dt.timedelta(days=n))
    pilot = states(ledger, PILOT)["KB5046633"]
    assert pilot["state"] == "failed" and pilot["error_code"] == "0x80240020"
    assert pilot["pilot_result"] == "failed" and pilot["released_at"] is None
    assert states(ledger, "weber-ws02")["KB5046633"]["state"] == "available"
    ledger.release(site="weber", key="KB5046633", by="Techniker Brandt", reason="Fehler nur am Pilot-PC",
                   now=start + dt.timedelta(days=9))
    plan = ledger.plan(site="weber", host="weber-ws02", role="workplace", pilot_host=PILOT,
                       now=start + dt.timedelta(days=9, hours=1), pol=POLICY, zone=BERLIN)
    assert plan["updates"] == ["KB5046633"]


def test_update_the_pilot_is_not_offered_is_released_after_the_delay(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    practice = Practice(ledger, {PILOT: "workplace", "weber-srv01": "server"})
    practice.publish(NOVEMBER[0], hosts=["weber-srv01"])         # a server-only update
    start = local("2026-11-10T21:00")
    for n in range(8):
        practice.night(start + dt.timedelta(days=n))
    server = states(ledger, "weber-srv01")["KB5046633"]
    assert server["released_at"] == "2026-11-17T20:00:00+00:00"
    assert "not offered to the pilot" in server["release_rule"]


def test_servers_with_their_own_ring_wait_after_the_workplaces(tmp_path, ledger_target):
    pol = pp.policy({"servers": {"own_ring": True, "delay_days": 3}})
    ledger = pp.PatchLedger(ledger_target)
    practice = Practice(ledger, {PILOT: "workplace", "weber-ws02": "workplace", "weber-srv01": "server"}, pol=pol)
    practice.publish(NOVEMBER[0])
    start = local("2026-11-10T21:00")
    for n in range(12):
        practice.night(start + dt.timedelta(days=n))
    assert states(ledger, "weber-ws02")["KB5046633"]["installed_at"].startswith("2026-11-17")
    assert states(ledger, "weber-srv01")["KB5046633"]["installed_at"].startswith("2026-11-20")


def test_practice_without_pilot_releases_after_the_delay_from_microsofts_release(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    practice = Practice(ledger, {"weber-ws02": "workplace"}, pilot=None)
    practice.publish(NOVEMBER[0])
    start = local("2026-11-10T21:00")
    for n in range(8):
        practice.night(start + dt.timedelta(days=n))
    row = states(ledger, "weber-ws02")["KB5046633"]
    assert row["release_rule"] == "no pilot: 7 days after the release"
    assert row["installed_at"].startswith("2026-11-17")


def test_connection_lost_during_install_is_a_failure_never_success(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    when = local("2026-11-10T21:00")
    ledger.record_check(site="weber", host=PILOT, role="workplace", pilot_host=PILOT,
                        updates=pp.normalize_updates(search(*NOVEMBER[:2]), now=when), packages=None, now=when,
                        pol=POLICY)
    plan = ledger.plan(site="weber", host=PILOT, role="workplace", pilot_host=PILOT, now=when, pol=POLICY)
    assert plan["updates"] == ["KB5045934", "KB5046633"]
    # the connection dropped after one update was reported installed
    partial = installed(search(NOVEMBER[1]), rebooted=False, reboot_required=True)
    outcome = ledger.record_install(site="weber", host=PILOT, pilot_host=PILOT, planned=plan, result=partial,
                                    packages=[], now=when, connection_lost="WinRM connection lost (retried 2 times)")
    assert outcome == {"installed": [], "pending_reboot": ["KB5045934"], "failed": ["KB5046633"]}
    rows = states(ledger, PILOT)
    assert rows["KB5046633"]["state"] == "failed" and rows["KB5046633"]["error_code"] == "connection"
    assert rows["KB5045934"]["state"] == "pending_reboot" and rows["KB5045934"]["installed_at"] is None
    assert rows["KB5045934"]["pilot_installed_at"] is None      # the pilot clock starts after the reboot
    # the next search after the reboot: the .NET update is gone (installed), the LCU still offered
    later = when + dt.timedelta(days=1)
    ledger.record_check(site="weber", host=PILOT, role="workplace", pilot_host=PILOT,
                        updates=pp.normalize_updates(search(NOVEMBER[0]), now=later), packages=None, now=later,
                        pol=POLICY)
    rows = states(ledger, PILOT)
    assert rows["KB5045934"]["state"] == "installed" and rows["KB5045934"]["pilot_installed_at"] is not None
    assert rows["KB5046633"]["state"] == "failed"


# -- programs (Chocolatey) ------------------------------------------------------------------------------
def choco(packages: dict[str, str], outdated: dict[str, str]) -> dict:
    """win_chocolatey_facts' ansible_chocolatey (chocolatey.chocolatey 1.6 RETURN)."""
    return {"ansible_facts": {"ansible_chocolatey": {
        "packages": [{"package": n, "version": v} for n, v in packages.items()],
        "outdated": [{"package": n, "current_version": packages[n], "available_version": v, "pinned": False}
                     for n, v in outdated.items()]}}}


def test_programs_follow_the_ring_and_self_updating_ones_are_only_reported(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    have = {"7zip": "24.08", "googlechrome": "130.0.6723.117", "chocolatey": "2.3.0"}

    def check(host, when, outdated, version="24.08"):
        facts = choco(dict(have, **{"7zip": version}), outdated)
        ledger.record_check(site="weber", host=host, role="workplace", pilot_host=PILOT, updates=[],
                            packages=pp.normalize_packages(facts, POLICY, now=when), now=when, pol=POLICY)

    first = local("2026-11-02T21:00")
    for host in (PILOT, "weber-ws02"):
        check(host, first, {"7zip": "24.09", "googlechrome": "131.0.6778.86", "chocolatey": "2.4.0"})
    pilot_plan = ledger.plan(site="weber", host=PILOT, role="workplace", pilot_host=PILOT, now=first, pol=POLICY)
    assert pilot_plan["packages"] == [{"name": "7zip", "version": "24.09", "key": "pkg:7zip@24.09"}]
    assert pilot_plan["self_updating"] == [{"key": "pkg:googlechrome@131.0.6778.86", "name": "googlechrome",
                                            "version": "131.0.6778.86"}]
    ledger.record_install(site="weber", host=PILOT, pilot_host=PILOT, planned=pilot_plan, result=None,
                          packages=[{"key": "pkg:7zip@24.09", "name": "7zip", "version": "24.09", "ok": True,
                                     "previous": "24.08"}], now=first)
    # a newer version appears before the release: the others get the version the pilot ran, not the newest
    week = first + dt.timedelta(days=7)
    check(PILOT, week, {"7zip": "24.10"}, version="24.09")
    check("weber-ws02", week, {"7zip": "24.10"})
    plan = ledger.plan(site="weber", host="weber-ws02", role="workplace", pilot_host=PILOT, now=week, pol=POLICY)
    assert plan["packages"] == [{"name": "7zip", "version": "24.09", "key": "pkg:7zip@24.09"}]
    assert {"key": "pkg:7zip@24.10", "release_due": "after the pilot"} in plan["waiting"]
    # a hold with removal takes the pilot back to the version before
    ledger.hold(key="pkg:7zip@24.09", site="weber", by="tech", reason="breaks the archive export", remove=True,
                now=week)
    pilot_plan = ledger.plan(site="weber", host=PILOT, role="workplace", pilot_host=PILOT, now=week, pol=POLICY)
    assert pilot_plan["remove"] == [{"name": "7zip", "version": "24.08", "key": "pkg:7zip@24.09"}]
    ledger.record_removed(site="weber", host=PILOT, key="pkg:7zip@24.09", ok=True, msg="downgraded", now=week)
    assert states(ledger, PILOT)["pkg:7zip@24.09"]["state"] == "held"


# -- maintenance time and reboots ----------------------------------------------------------------------------
WINDOWED = {"id": "weber", "state": "HE", "maintenance_windows": [
    {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "23:00"}]}


def test_install_outside_maintenance_time_is_refused_naming_the_next_window():
    info = pp.install_window(WINDOWED, None, local("2026-11-11T10:00"), POLICY)
    assert not info["allowed"] and info["reason"] == "business hours of the practice"
    assert info["next_window"]["start"] == "2026-11-11T22:00:00+01:00"


def test_reboot_that_would_leave_the_window_waits_over_the_weekend():
    info = pp.install_window(WINDOWED, None, local("2026-11-13T22:45"), POLICY)     # Friday, 15 minutes left
    assert info["allowed"] and not info["reboot"]
    assert info["reboot_deferred_to"] == "2026-11-16T22:00:00+01:00"                   # Monday
    assert pp.install_window(WINDOWED, None, local("2026-11-13T22:10"), POLICY)["reboot"]


def test_a_holiday_moves_the_maintenance_time_into_the_day():
    site = {"id": "weber", "state": "HE"}           # no windows: all time outside business hours
    assert not pp.install_window(site, None, local("2026-12-23T10:00"), POLICY)["allowed"]
    holiday = pp.install_window(site, None, local("2026-12-25T10:00"), POLICY)
    assert holiday["allowed"] and holiday["holiday"]
    # Monday after Christmas is a working day again: business hours are never maintenance time
    assert not pp.install_window(site, None, local("2026-12-28T10:00"), POLICY)["allowed"]


def test_server_reboots_only_in_its_own_window_inside_the_sites():
    server = {"name": "srv01", "maintenance_windows": [{"days": ["sat"], "start": "20:00", "end": "23:30"}]}
    site = dict(WINDOWED, maintenance_windows=[{"days": ["sat"], "start": "22:00", "end": "23:59"}])
    assert not pp.install_window(site, server, local("2026-11-14T21:00"), POLICY)["allowed"]   # site not yet
    inside = pp.install_window(site, server, local("2026-11-14T22:30"), POLICY)
    assert inside["allowed"] and inside["window_end"] == "2026-11-14T23:30:00+01:00"
    refused = pp.install_window(site, server, local("2026-11-12T22:30"), POLICY)                 # Thursday
    assert not refused["allowed"] and refused["next_window"]["start"] == "2026-11-14T22:00:00+01:00"


def test_forced_install_needs_a_reason_and_says_so():
    info = pp.install_window(WINDOWED, None, local("2026-11-11T10:00"), POLICY, force_reason="Notfall-Patch")
    assert info["allowed"] and info["forced"] and info["force_reason"] == "Notfall-Patch"


# -- SLA (WP-10) ----------------------------------------------------------------------------------------
def seed(ledger, site, host, role, key, title, when_seen, installed_at=None, state=None):
    when = local(when_seen)
    entry = update(LCU if key == "KB5046633" else NET, title, key[2:], ["Security Updates"])
    ledger.record_check(site=site, host=host, role=role, pilot_host=None,
                        updates=pp.normalize_updates(search(entry), now=when), packages=None, now=when,
                        pol=POLICY)
    if installed_at:
        with ledger._write() as conn:
            conn.execute("UPDATE patch_devices SET state = ?, installed_at = ? WHERE site = ? AND host = ? AND key = ?",
                         (state or "installed", local(installed_at).astimezone(dt.timezone.utc).isoformat(), site,
                          host, key))


def test_sla_figures_match_a_hand_computed_small_fleet(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    title = "2026-11 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5046633)"
    # practice a: 4 PCs. pilot on day 0, two on day 6, one on day 10 -> 7 days: 3/4, 14 days: 4/4
    for host, at in (("a-ws01", "2026-11-10T22:00"), ("a-ws02", "2026-11-16T23:59"),
                     ("a-ws03", "2026-11-16T22:00"), ("a-ws04", "2026-11-20T22:00")):
        seed(ledger, "a", host, "workplace", "KB5046633", title, "2026-11-10T21:00", at)
    # practice b: 3 PCs offered it, one not yet installed, one installed on day 7 (too late for 7 days);
    # one more PC was off the whole week: counted, not installed
    seed(ledger, "b", "b-ws01", "workplace", "KB5046633", title, "2026-11-10T21:00", "2026-11-11T01:00")
    seed(ledger, "b", "b-ws02", "workplace", "KB5046633", title, "2026-11-10T21:00", "2026-11-17T22:00")
    seed(ledger, "b", "b-ws03", "workplace", "KB5046633", title, "2026-11-10T21:00")
    now = local("2026-12-01T12:00")
    hosts_b = {"b-ws01": "workplace", "b-ws02": "workplace", "b-ws03": "workplace", "b-ws04": "workplace"}
    pol = pp.policy({"pilot_delay_days": 5})
    figures = pp.sla(ledger, month="2026-11", now=now, sites={
        "a": {"policy": pol, "pilot_host": "a-ws01"},
        "b": {"policy": pol, "hosts": hosts_b, "pilot_host": "b-ws01"}})
    a = figures["practices"]["a"]["updates"][0]
    assert a["devices"] == 4 and a["offline"] == []
    assert [(t["days"], t["installed"], t["percent"], t["met"]) for t in a["targets"]] == \
        [(7, 3, 75.0, False), (14, 4, 100.0, True)]
    b = figures["practices"]["b"]["updates"][0]
    assert b["devices"] == 4 and b["offline"] == ["b-ws04"]
    assert [(t["installed"], t["percent"]) for t in b["targets"]] == [(1, 25.0), (2, 50.0)]
    assert figures["fleet"] == [{"days": 7, "installed": 4, "device_updates": 8, "percent": 50.0},
                                {"days": 14, "installed": 6, "device_updates": 8, "percent": 75.0}]
    assert not any(t["unreachable"] for t in a["targets"])


def test_sla_says_when_the_policy_makes_the_target_unreachable(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    title = "2026-11 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5046633)"
    for host in ("a-ws01", "a-ws02", "a-ws03"):
        seed(ledger, "a", host, "workplace", "KB5046633", title, "2026-11-10T21:00", "2026-11-10T22:00")
    figures = pp.sla(ledger, month="2026-11", now=local("2026-11-12T12:00"),
                     sites={"a": {"policy": POLICY, "pilot_host": "a-ws01"}})
    seven, fourteen = figures["practices"]["a"]["updates"][0]["targets"]
    assert seven["unreachable"] and seven["max_percent"] == 33.3
    assert seven["reason"] == "pilot delay 7 days is not shorter than 7 days"
    assert not fourteen["unreachable"] and fourteen["open"]
    assert figures["practices"]["a"]["summary"][0]["policy_note"] == "pilot delay 7 days is not shorter than 7 days"
    with pytest.raises(pp.PatchError, match="month must be YYYY-MM"):
        pp.sla(ledger, month="November", sites={})


# -- findings ---------------------------------------------------------------------------------------------
def test_failed_overdue_and_reboot_pending_become_findings(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    practice = Practice(ledger, {PILOT: "workplace", "weber-ws02": "workplace"})
    practice.publish(*NOVEMBER[:2])
    practice.fail["weber-ws02"] = {NET: 2149842976}
    start = local("2026-11-10T21:00")
    for n in range(9):
        practice.night(start + dt.timedelta(days=n), down=("weber-ws02",) if n < 7 else ())
    late = start + dt.timedelta(days=40)
    found = {(f["check"], f["subject"]): f for f in ledger.findings(site="weber", host="weber-ws02",
                                                                   role="workplace", now=late, pol=POLICY)}
    assert found[("patch.failed", "KB5045934")]["message"].startswith("KB5045934 (2026-11 Kumulatives Update für .NET")
    assert found[("patch.failed", "KB5045934")]["value"] == "0x80240020"
    overdue = found[("patch.overdue", "KB5045934")]
    assert overdue["severity"] == "critical" and overdue["priority"] == "medium"
    assert overdue["value"] == 33              # days since the release to the practice on 17 November
    assert ("patch.overdue", "KB5046633") not in found         # installed
    assert ledger.findings(site="weber", host=PILOT, role="workplace", now=late, pol=POLICY) == []


# -- check mode ----------------------------------------------------------------------------------------------
def test_check_mode_decides_the_same_and_leaves_nothing(tmp_path):
    path = str(tmp_path / "ledger.sqlite")
    real = pp.PatchLedger(path)
    when = local("2026-11-10T21:00")
    real.record_check(site="weber", host=PILOT, role="workplace", pilot_host=PILOT,
                      updates=pp.normalize_updates(search(*NOVEMBER), now=when), packages=None, now=when, pol=POLICY)
    dry = pp.PatchLedger(path, check_mode=True)
    later = when + dt.timedelta(days=1)
    summary = dry.record_check(site="weber", host="weber-ws02", role="workplace", pilot_host=PILOT,
                               updates=pp.normalize_updates(search(*NOVEMBER), now=later), packages=None, now=later,
                               pol=POLICY)
    assert summary["counts"] == {"available": 2}
    dry.hold(key="KB5046633", site="weber", by="tech", reason="test", now=later)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM patch_devices WHERE host = 'weber-ws02'").fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM patch_holds").fetchone()[0] == 0
    # an in-memory ledger (no ledger configured) works the same way
    memory = pp.PatchLedger(None)
    memory.record_check(site="weber", host=PILOT, role="workplace", pilot_host=PILOT,
                        updates=pp.normalize_updates(search(*NOVEMBER), now=when), packages=None, now=when,
                        pol=POLICY)
    assert len(memory.device_states("weber")) == 2


def test_hold_and_release_need_who_and_why(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    now = local("2026-11-10T21:00")
    with pytest.raises(pp.PatchError, match="reason must be given"):
        ledger.hold(key="KB5046633", site="weber", by="tech", reason=" ", now=now)
    with pytest.raises(pp.PatchError, match="not a KB number"):
        ledger.hold(key="5046633; drop", site="weber", by="tech", reason="x", now=now)
    with pytest.raises(pp.PatchError, match="not in the future"):
        ledger.hold(key="KB5046633", site="weber", by="tech", reason="x", now=now, until="2026-11-01T00:00:00Z")
    with pytest.raises(pp.PatchError, match="was not seen at practice"):
        ledger.release(site="weber", key="KB5046633", by="tech", reason="x", now=now)
    with pytest.raises(pp.PatchError, match="no open hold"):
        ledger.lift(key="KB5046633", site="weber", by="tech", reason="x", now=now)


# -- the recorded module results (tests/fixtures/windows) -------------------------------------------------
def fixture(name: str) -> dict:
    import json
    from pathlib import Path

    data = json.loads((Path(__file__).parent.parent / "fixtures" / "windows" / f"{name}.json").read_text("utf-8"))
    data.pop("_source", None)
    return data


def test_recorded_german_search_keeps_the_security_updates_and_the_msrt_in_scope():
    now = local("2026-11-10T21:00")
    updates = pp.normalize_updates(fixture("updates_search_de"), now=now, zone=BERLIN)
    scoped = sorted(u["key"] for u in updates if pp.in_scope(u, POLICY))
    assert scoped == ["KB5045935", "KB5046633", "KB890830"]
    driver = next(u for u in updates if u["title"].startswith("Intel"))
    assert driver["key"].startswith("WU-") and not pp.in_scope(driver, POLICY)


def test_german_category_names_count_like_the_english_ones():
    entry = update(LCU, "2026-11 Kumulatives Update (KB5046633)", "5046633", ["Sicherheitsupdates", "Windows 11"])
    normalized = pp.normalize_updates(search(entry), now=local("2026-11-10T21:00"))[0]
    assert normalized["categories"] == ["Security Updates", "Windows 11"]
    assert normalized["severity"] == "important" and pp.in_scope(normalized, POLICY)


def test_accept_list_selects_exactly_the_planned_updates():
    assert pp.accept_pattern("KB890830", "Windows-Tool ... (KB890830)") == "^KB890830$"
    pattern = pp.accept_pattern(f"WU-{LCU}", "Intel Corporation - Display - 31.0.101.5590")
    import re
    assert re.fullmatch(pattern, "Intel Corporation - Display - 31.0.101.5590")
    assert not re.search(pattern, "Intel Corporation - Display - 31.0.101.5591")
    assert not re.search("^KB890830$", "KB8908301")


def test_recorded_failed_install_keeps_the_hresult_and_the_others_wait_for_the_reboot(tmp_path, ledger_target):
    ledger = pp.PatchLedger(ledger_target)
    now = local("2026-11-10T22:00")
    ledger.record_check(site="weber", host=PILOT, role="workplace", pilot_host=PILOT,
                        updates=pp.normalize_updates(fixture("updates_search_de"), now=now), packages=None, now=now,
                        pol=POLICY)
    plan = ledger.plan(site="weber", host=PILOT, role="workplace", pilot_host=PILOT, now=now, pol=POLICY)
    assert plan["accept_list"] == ["^KB5045935$", "^KB5046633$", "^KB890830$"]
    outcome = ledger.record_install(site="weber", host=PILOT, pilot_host=PILOT, planned=plan,
                                    result=fixture("updates_install_failed"), packages=[], now=now)
    assert outcome == {"installed": [], "pending_reboot": ["KB5045935", "KB890830"], "failed": ["KB5046633"]}
    row = states(ledger, PILOT)["KB5046633"]
    assert row["error_code"] == "0x80240020" and "WU_E_NO_INTERACTIVE_USER" in row["error"]
