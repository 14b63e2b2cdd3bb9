"""The patch report of a practice (WP-08, WP-09, WP-10): a month of nights
on a real ledger file, then the report's devices, rollouts, holds, programs,
devices not reached and SLA, in German (no English words) and English, and
the files written atomically only when their content changes."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import stat
from zoneinfo import ZoneInfo

import pytest

from ansible.module_utils import praxis_patch as pp
from ansible.module_utils import praxis_patch_report as pr

BERLIN = ZoneInfo("Europe/Berlin")
POLICY = pp.policy(None, None)
LCU = "3f2d1a70-6c43-4b61-9d3e-2f1c8a7b9e01"
NET = "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
SITE = {"id": "weber", "name": "Praxis Dr. Weber", "state": "HE", "pilot": "ws01"}
PILOT = "weber-ws01"
HOSTS = {PILOT: "workplace", "weber-ws02": "workplace", "weber-ws03": "workplace", "weber-srv01": "server"}
LCU_TITLE = "2026-11 Kumulatives Update für Windows 11 Version 23H2 für x64-basierte Systeme (KB5046633)"
NET_TITLE = ("2026-11 Kumulatives Update für .NET Framework 3.5 und 4.8.1 für Windows 11, Version 23H2 "
             "für x64 (KB5045934)")
# words of the English report and the core's English that must not reach a German report
ENGLISH = ["installed", "available", "failed", "pending", "released", "reboot", "held", "device", "rule",
           "days", "target", "without", "ran it", "workplace", "none", "never", "True", "False", "None", "since",
           "offered", "reached", "until", "by the", "the "]


def local(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def entry(ident, title, kb):
    return ident, {"title": title, "kb": [kb], "id": ident, "downloaded": False, "installed": False,
                   "categories": ["Security Updates", "Windows 11"]}


def search(entries, **extra):
    return dict({"updates": dict(entries), "filtered_updates": {}, "reboot_required": False}, **extra)


def choco(chrome: str, offered: str | None):
    """win_chocolatey_facts' ansible_chocolatey (chocolatey.chocolatey 1.6)."""
    facts = {"packages": [{"package": "googlechrome", "version": chrome}], "outdated": []}
    if offered:
        facts["outdated"].append({"package": "googlechrome", "current_version": chrome, "available_version": offered,
                                  "pinned": False})
    return facts


def month_of_nights(ledger):
    """Patch Tuesday 10 November 2026: the pilot installs that night; the
    .NET update is held for the practice on the 12th; the LCU, released on
    the 17th, fails on ws03 (0x80240020); the server is not reached after the 14th; Chrome updates itself
    on every PC but ws02."""
    offered = {h: [entry(LCU, LCU_TITLE, "5046633"), entry(NET, NET_TITLE, "5045934")] for h in HOSTS}
    chrome = {h: "131.0.6778.86" for h in HOSTS}
    start = local("2026-11-10T21:00")
    for n in range(12):
        when = start + dt.timedelta(days=n)
        if n == 2:
            ledger.hold(key="KB5045934", site="weber", by="Technikerin Sommer", now=when,
                        reason="Praxissoftware startet nach dem .NET-Update nicht", until="2026-12-31T00:00:00+01:00")
        for host, role in HOSTS.items():
            if host == "weber-srv01" and n > 4:
                continue
            if n == 3 and host != "weber-ws02":
                chrome[host] = "131.0.6778.109"
            packages = pp.normalize_packages(choco(chrome[host], None if chrome[host].endswith("109")
                                                   else "131.0.6778.109"), POLICY, now=when)
            ledger.record_check(site="weber", host=host, role=role, pilot_host=PILOT,
                                updates=pp.normalize_updates(search(offered[host]), now=when, zone=BERLIN),
                                packages=packages, now=when, pol=POLICY, zone=BERLIN)
        later = when + dt.timedelta(hours=1)
        for host, role in HOSTS.items():
            if host == "weber-srv01" and n > 4:
                continue
            plan = ledger.plan(site="weber", host=host, role=role, pilot_host=PILOT, now=later, pol=POLICY,
                               zone=BERLIN)
            if not plan["updates"]:
                continue
            chosen = [e for e in offered[host] if pp.update_key(e[1]) in plan["updates"]]
            result = {"updates": {}, "filtered_updates": {}, "reboot_required": False, "rebooted": True}
            for ident, item in chosen:
                item = dict(item, installed=True)
                if host == "weber-ws03" and ident == LCU:
                    item.update(installed=False, failure_hresult_code=2149842976,
                                failure_msg="WU_E_NO_INTERACTIVE_USER")
                result["updates"][ident] = item
            ledger.record_install(site="weber", host=host, pilot_host=PILOT, planned=plan, result=result,
                                  packages=[], now=later, zone=BERLIN)
            done = {i for i, e in result["updates"].items() if e["installed"]}
            offered[host] = [e for e in offered[host] if e[0] not in done]
    return start + dt.timedelta(days=11, hours=2)      # 21 November, 23:00


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("ledger") / "ledger.sqlite")
    ledger = pp.PatchLedger(path)
    now = month_of_nights(ledger)
    return path, now


def report(month, language="de", **extra):
    path, now = month
    return pr.site_report(pp.PatchLedger(path), site=dict(SITE, **extra), now=now, pol=POLICY, hosts=HOSTS,
                          pilot_host=PILOT, language=language)


def test_devices_show_the_daily_check_states_errors_and_holds(month):
    _markdown, data = report(month)
    assert data["site"] == "weber" and data["language"] == "de" and data["month"] == "2026-11"
    assert data["generated_at"] == "2026-11-21T22:00:00+00:00"
    devices = {d["host"]: d for d in data["devices"]}
    assert set(devices) == set(HOSTS)
    pilot = devices[PILOT]
    assert pilot["pilot"] and pilot["role"] == "workplace" and pilot["last_check"] == "2026-11-21T20:00:00+00:00"
    assert pilot["counts"] == {"installed": 2}
    updates = {u["key"]: u for u in pilot["updates"]}
    assert updates["KB5046633"]["installed_at"] == "2026-11-10T21:00:00+00:00"
    assert updates["KB5046633"]["title"] == LCU_TITLE
    # the held .NET update: held where it is still open; the failed one keeps its error code
    ws02 = {u["key"]: u for u in devices["weber-ws02"]["updates"]}
    assert ws02["KB5045934"]["state"] == "held" and ws02["KB5046633"]["state"] == "installed"
    ws03 = {u["key"]: u for u in devices["weber-ws03"]["updates"]}
    assert ws03["KB5046633"]["state"] == "failed" and ws03["KB5046633"]["error_code"] == "0x80240020"
    assert ws03["KB5046633"]["installed_at"] is None and devices["weber-ws03"]["counts"] == {"failed": 1, "held": 1}
    assert devices["weber-srv01"]["counts"] == {"held": 1, "available": 1}


def test_rollout_holds_programs_and_devices_not_reached(month):
    markdown, data = report(month)
    rollouts = {r["key"]: r for r in data["rollouts"]}
    lcu = rollouts["KB5046633"]
    assert lcu["pilot_host"] == PILOT and lcu["pilot_result"] == "ok"
    assert lcu["released_at"] == "2026-11-17T20:00:00+00:00" and lcu["released_by"] == "rule"
    net = rollouts["KB5045934"]
    assert net["released_at"] is None and net["held"]
    assert data["holds"] == [{"key": "KB5045934", "scope": "weber", "set_by": "Technikerin Sommer",
                              "set_at": "2026-11-12T20:00:00+00:00",
                              "reason": "Praxissoftware startet nach dem .NET-Update nicht",
                              "until": "2026-12-30T23:00:00+00:00", "remove": False}]
    programs = {p["host"]: p for p in data["self_updating"]}
    assert programs["weber-ws02"] == {"host": "weber-ws02", "package": "googlechrome",
                                      "version_offered": "131.0.6778.109", "version_seen": "131.0.6778.86",
                                      "updated": False, "offered_since": "2026-11-10T20:00:00+00:00"}
    assert programs[PILOT]["updated"] and programs[PILOT]["version_seen"] == "131.0.6778.109"
    assert data["not_reached"] == [{"host": "weber-srv01", "role": "server",
                                    "last_check": "2026-11-14T20:00:00+00:00"}]
    assert "| KB5046633 |" in markdown and "Pilot weber-ws01 hat es 7 Tage ohne Problem betrieben" in markdown
    assert "weber-srv01: letzte erfolgreiche Prüfung 14. Nov. 2026, 21:00 Uhr" in markdown
    assert "| fehlgeschlagen | 0x80240020 | – |" in markdown
    assert "| weber-ws02 | googlechrome | 131.0.6778.86 | 131.0.6778.109 |" in markdown


def test_sla_of_the_month_says_why_the_policy_cannot_meet_the_target(month):
    markdown, data = report(month)
    seven, fourteen = data["sla"]["summary"]
    # 4 devices x 2 updates = 8; within 7 days only the pilot's two installs (before 17 November 00:00)
    assert (seven["installed"], seven["device_updates"], seven["percent"]) == (2, 8, 25.0)
    assert seven["unreachable"] and seven["policy_reasons"] == [
        "die übrigen Geräte erhalten ein Update erst 7 Tage nach dem Pilot, nicht vor Ablauf der 7 Tage"]
    assert fourteen["policy_reasons"] == []
    assert "Mit der vereinbarten Richtlinie ist dieses Ziel nicht erreichbar" in markdown
    assert "Höchstens 25 % der Geräte können es schaffen" in markdown
    relaxed = pp.policy({"pilot_delay_days": 3})
    _md, faster = pr.site_report(pp.PatchLedger(month[0]), site=SITE, now=month[1], pol=relaxed, hosts=HOSTS,
                                 pilot_host=PILOT)
    assert faster["sla"]["summary"][0]["policy_reasons"] == []


def test_german_report_has_no_english_and_english_is_selectable(month):
    markdown, _data = report(month)
    prose = re.sub(r"`[^`]*`|KB\d+|pkg:\S+|weber-\w+|googlechrome", "", markdown)
    prose = prose.replace(LCU_TITLE, "").replace(NET_TITLE, "")
    found = [word for word in ENGLISH if re.search(re.escape(word), prose, re.IGNORECASE)]
    assert found == [], found
    assert "Stand: 21. Nov. 2026, 23:00 Uhr" in markdown and "## Servicelevel im November 2026" in markdown
    english, data = report(month, language="en")
    assert data["language"] == "en"
    assert "## Service level in November 2026" in english and "pilot weber-ws01 ran it 7 days" in english
    assert "Zurückgehaltene" not in english
    with pytest.raises(pp.PatchError, match="language 'fr'"):
        report(month, language="fr")


def test_reports_are_written_atomically_once_and_not_in_check_mode(month, tmp_path):
    path, now = month
    output = tmp_path / "output"
    sites = {"weber": {"site": SITE, "policy": POLICY, "hosts": HOSTS, "pilot_host": PILOT}}
    assert pr.write_site_reports(path, str(output), sites, now, check_mode=True) == [
        str(output / "patches" / "weber" / "report.md"), str(output / "patches" / "weber" / "report.json")]
    assert not output.exists()
    written = pr.write_site_reports(path, str(output), sites, now)
    assert len(written) == 2
    for name in written:
        assert stat.S_IMODE(os.stat(name).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(output / "patches" / "weber").st_mode) == 0o700
    data = json.loads((output / "patches" / "weber" / "report.json").read_text())
    assert data["site"] == "weber" and data["generated_at"] == "2026-11-21T22:00:00+00:00"
    assert set(data) >= {"site", "generated_at", "language", "devices", "rollouts", "holds", "sla"}
    # ten minutes later nothing but the time of the run differs: nothing written
    assert pr.write_site_reports(path, str(output), sites, now + dt.timedelta(minutes=10)) == []
    assert json.loads((output / "patches" / "weber" / "report.json").read_text())["generated_at"] == \
        "2026-11-21T22:00:00+00:00"
    # in English the content differs: written again
    english = {"weber": dict(sites["weber"], site=dict(SITE, language="en"))}
    assert len(pr.write_site_reports(path, str(output), english, now)) == 2
    # a practice with a bad language stops the run before anything is written
    bad = dict(english, zeller={"site": {"id": "zeller", "language": "fr"}, "policy": POLICY, "hosts": {},
                                "pilot_host": None})
    before = (output / "patches" / "weber" / "report.md").read_text()
    with pytest.raises(pp.PatchError, match="zeller: language 'fr'"):
        pr.write_site_reports(path, str(output), dict(bad, weber=sites["weber"]), now)
    assert (output / "patches" / "weber" / "report.md").read_text() == before
    # a missing ledger reads as empty and is not created
    missing = tmp_path / "none.sqlite"
    assert len(pr.write_site_reports(str(missing), str(tmp_path / "o2"), sites, now)) == 2
    assert not missing.exists()
