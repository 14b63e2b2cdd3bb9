"""scripts/praxis-patch: status, hold, lift, release, report, sla, log on a
real ledger file (who and why logged), errors as one line naming the field
with exit code 2, and simulate's month of the demo practices against dates
computed by hand (WP-08, WP-09, WP-10)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ansible.module_utils import praxis_patch as pp

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "praxis-patch"
DEMO = ROOT / "inventories" / "demo"
BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 12, 9, 0, tzinfo=BERLIN)
LCU = "3f2d1a70-6c43-4b61-9d3e-2f1c8a7b9e01"
TITLE = "2026-11 Kumulatives Update für Windows 11 Version 24H2 für x64-basierte Systeme (KB5046633)"


def cli(ledger, *args, now=NOW):
    environment = {k: v for k, v in os.environ.items() if k not in ("PRAXIS_LEDGER_PATH", "PRAXIS_INVENTORY")}
    return subprocess.run([sys.executable, str(SCRIPT), "--ledger", str(ledger), "--now", now.isoformat(), *args],
                          capture_output=True, text=True, env=environment, timeout=120, check=False)


def seeded(tmp_path):
    """huber's three PCs saw the November LCU on Patch Tuesday night; the pilot installed it."""
    ledger = pp.PatchLedger(str(tmp_path / "ledger.sqlite"))
    when = dt.datetime(2026, 11, 10, 21, 0, tzinfo=BERLIN)
    result = {"updates": {LCU: {"title": TITLE, "kb": ["5046633"], "id": LCU, "categories": ["Security Updates"]}}}
    pol = pp.policy(None, None)
    for host in ("huber-ws01", "huber-ws02", "huber-ws03"):
        ledger.record_check(site="huber", host=host, role="workplace", pilot_host="huber-ws01",
                            updates=pp.normalize_updates(result, now=when), packages=None, now=when, pol=pol)
    ledger.record_check(site="huber", host="huber-ws01", role="workplace", pilot_host="huber-ws01", updates=[],
                        packages=None, now=when + dt.timedelta(hours=2), pol=pol)
    return tmp_path / "ledger.sqlite"


def test_status_and_log(tmp_path):
    ledger = seeded(tmp_path)
    shown = cli(ledger, "status", "--site", "huber")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["HOST", "UPDATE", "STATE", "ERROR", "INSTALLED", "RELEASED", "LAST", "CHECK"]
    assert any(line.split()[:3] == ["huber-ws02", "KB5046633", "available"] for line in lines)
    one = json.loads(cli(ledger, "--json", "status", "--site", "huber", "--host", "huber-ws01").stdout)
    assert [(i["host"], i["state"], i["installed_at"]) for i in one] == \
        [("huber-ws01", "installed", "2026-11-10T22:00:00+00:00")]
    assert "no updates recorded for schmidt" in cli(ledger, "status", "--site", "schmidt").stdout
    logged = json.loads(cli(ledger, "log", "--site", "huber", "--json").stdout)
    assert [(e["action"], e["host"]) for e in logged] == [("installed", "huber-ws01"), ("pilot_ok", "huber-ws01")]


def test_hold_lift_and_release_are_logged_with_who_and_why(tmp_path):
    ledger = seeded(tmp_path)
    held = cli(ledger, "--json", "hold", "KB5046633", "--site", "huber", "--by", "Sommer",
               "--reason", "Praxissoftware startet nicht", "--until", "2026-11-20")
    assert held.returncode == 0, held.stderr
    assert json.loads(held.stdout)["until"] == "2026-11-20T23:00:00+00:00", "end of 20 November, German time"
    assert json.loads(cli(ledger, "--json", "status", "--site", "huber", "--host", "huber-ws02").stdout)[0][
        "state"] == "held"
    refused = cli(ledger, "release", "KB5046633", "--site", "huber", "--by", "Sommer", "--reason", "eilig")
    assert refused.returncode == 2 and "held for huber by Sommer" in refused.stderr
    lifted = cli(ledger, "lift", "KB5046633", "--site", "huber", "--by", "Berg", "--reason", "Hersteller-Patch da")
    assert lifted.returncode == 0 and "lifted 1 hold(s) of KB5046633 for huber by Berg" in lifted.stdout
    released = cli(ledger, "release", "KB5046633", "--site", "huber", "--by", "Berg", "--reason", "Notfall")
    assert released.returncode == 0 and "released KB5046633 to huber by Berg" in released.stdout
    fleet = cli(ledger, "hold", "KB5046633", "--all", "--by", "Leitstelle", "--reason", "weltweit zurückgezogen",
                "--remove")
    assert fleet.returncode == 0 and "for every practice" in fleet.stdout and "(remove)" in fleet.stdout
    log = json.loads(cli(ledger, "--json", "log").stdout)
    assert [(e["action"], e["site"], e["actor"], e["detail"]) for e in log if e["action"] in
            ("held", "lifted", "released")] == [
        ("held", "huber", "Sommer", "Praxissoftware startet nicht (until 2026-11-20T23:00:00+00:00)"),
        ("lifted", "huber", "Berg", "Hersteller-Patch da"),
        ("released", "huber", "Berg", "Notfall"),
        ("held", "", "Leitstelle", "weltweit zurückgezogen (remove)")]


@pytest.mark.parametrize(("args", "named"), [
    (["hold", "KB5046633", "--by", "x", "--reason", "y"], "give either --site SITE or --all"),
    (["hold", "KB5046633", "--site", "huber", "--all", "--by", "x", "--reason", "y"], "give either --site"),
    (["hold", "5046633; drop", "--site", "huber", "--by", "x", "--reason", "y"], "is not a KB number"),
    (["hold", "KB5046633", "--site", "huber", "--by", "x", "--reason", " "], "reason must be given"),
    (["hold", "KB5046633", "--site", "huber", "--by", "x", "--reason", "y", "--until", "Freitag"], "--until"),
    (["lift", "KB5046633", "--site", "huber", "--by", "x", "--reason", "y"], "no open hold of KB5046633"),
    (["release", "KB9999999", "--site", "huber", "--by", "x", "--reason", "y"], "was not seen at practice"),
    (["sla", "--month", "November"], "--month 'November': expected YYYY-MM"),
    (["report", "--site", "zeller", "--inventory", str(DEMO)], "--site 'zeller' is not a practice"),
    (["simulate", "--month", "2026-11"], "needs --inventory"),
    (["simulate", "--inventory", "/nonexistent", "--month", "2026-11"], "--inventory /nonexistent: no such folder"),
])
def test_errors_are_one_line_naming_the_field(tmp_path, args, named):
    result = cli(seeded(tmp_path), *args)
    assert result.returncode == 2 and result.stdout == ""
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_missing_ledger_and_bad_policy_file(tmp_path):
    missing = cli(tmp_path / "none.sqlite", "status", "--site", "huber")
    assert missing.returncode == 2 and "no ledger at" in missing.stderr
    policy = tmp_path / "policy.yml"
    policy.write_text("praxis_patch_policy:\n  pilot_delay_days: 90\n")
    bad = cli(seeded(tmp_path), "--policy", str(policy), "simulate", "--inventory", str(DEMO), "--month", "2026-11")
    assert bad.returncode == 2 and "praxis_patch_policy.pilot_delay_days must be a whole number" in bad.stderr


def test_report_and_sla_of_a_practice(tmp_path):
    ledger = seeded(tmp_path)
    german = cli(ledger, "report", "--site", "huber", "--inventory", str(DEMO))
    assert german.returncode == 0, german.stderr
    assert german.stdout.startswith("# Updates: Hausarztpraxis Dr. Huber")
    assert "### huber-ws01 (Arbeitsplatz, Pilot)" in german.stdout
    data = json.loads(cli(ledger, "report", "--site", "huber", "--inventory", str(DEMO), "--language", "en",
                          "--format", "json").stdout)
    assert data["language"] == "en" and data["pilot_host"] == "huber-ws01"
    assert [d["host"] for d in data["devices"]] == ["huber-ws01", "huber-ws02", "huber-ws03"]
    sla = json.loads(cli(ledger, "sla", "--month", "2026-11", "--inventory", str(DEMO), "--format", "json").stdout)
    assert set(sla["practices"]) == {"huber", "schmidt", "wagner"}
    assert sla["fleet"][0] == {"days": 7, "installed": 1, "device_updates": 3, "percent": 33.3}
    text = cli(ledger, "sla", "--month", "2026-11", "--site", "huber", "--inventory", str(DEMO)).stdout
    assert "erreicht 33,3 % (1 von 3)" in text and "Frist läuft noch" in text


def test_simulate_the_demo_month_against_dates_computed_by_hand(tmp_path):
    result = cli(tmp_path / "unused.sqlite", "simulate", "--inventory", str(DEMO), "--month", "2026-11",
                 "--format", "json")
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert not (tmp_path / "unused.sqlite").exists(), "simulate works on a ledger in memory"
    assert outcome["patch_tuesday"] == "2026-11-10"            # 1 November 2026 is a Sunday
    huber = [e for e in outcome["events"] if e["site"] == "huber"]
    released = {e["key"]: e["day"] for e in huber if e["action"] == "released"}
    # 7-Zip is offered from 3 November, the pilot installs it that night (04:00, maintenance time): +7 days
    # the LCU, seen the night after Patch Tuesday, installed by the pilot on 11 November: +7 days = 18 November
    # the .NET update is held on 13 November and the hold lifted on 20 November: released that night
    assert released == {"pkg:7zip@26.00": "2026-11-10", "KB5046633": "2026-11-18", "KB890830": "2026-11-18",
                        "KB5045934": "2026-11-20"}
    pilot = [(e["day"], e["time"], e["keys"]) for e in huber if e["action"] == "pilot_installed"]
    assert pilot == [("2026-11-03", "04:00", ["pkg:7zip@26.00"]),
                     ("2026-11-11", "04:00", ["KB5045934", "KB5046633", "KB890830"])]
    ws02 = [(e["day"], e["keys"]) for e in huber if e["action"] == "installed" and e["host"] == "huber-ws02"]
    assert ws02 == [("2026-11-10", ["pkg:7zip@26.00"]), ("2026-11-18", ["KB5046633", "KB890830"]),
                    ("2026-11-20", ["KB5045934"])]
    # wagner's window ends at 05:00: 53 minutes of installs from 04:00 leave 7, less than the reboot's 30
    deferred = [(e["host"], e["to"]) for e in outcome["events"] if e["action"] == "reboot_deferred"]
    assert deferred[0] == ("wagner-therapie1", "2026-11-11T22:00:00+01:00")
    # SLA: huber's 12 device updates, within 7 days only the pilot's 4
    seven = outcome["sla"]["practices"]["huber"]["summary"][0]
    assert (seven["installed"], seven["device_updates"], seven["unreachable"]) == (4, 12, True)
    text = cli(tmp_path / "unused.sqlite", "simulate", "--inventory", str(DEMO), "--month", "2026-11").stdout
    assert "18. November 2026: huber: freigegeben KB5046633 (Pilot huber-ws01 hat es 7 Tage ohne Problem " \
           "betrieben)" in text
    assert "Neustart von wagner-therapie1 verschoben auf 11. Nov. 2026, 22:00 Uhr (Fenster zu kurz)" in text
    assert "Alle Praxen, 14 Tage: 100 % (32 von 32)" in text
