"""scripts/praxis-incidents and playbooks/incident.yml: list, show, ack,
silence, unsilence on a real ledger; who did it is logged (OPS-03)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from ansible.module_utils import praxis_incidents as pi

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "praxis-incidents"
T0 = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)


def cli(ledger, *args, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "SUDO_USER"}
    environment.update(env or {})
    return subprocess.run([sys.executable, str(SCRIPT), "--ledger", str(ledger), "--now", T0.isoformat(), *args],
                          capture_output=True, text=True, env=environment, timeout=60, check=False)


def seeded(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    pi.observe(str(ledger), run="1", site="huber", host="huber-fw01", checks=[], now=T0 - dt.timedelta(hours=2),
               findings=[{"check": "net.reachability", "subject": "", "severity": "critical", "priority": "high",
                          "message": "no answer"}])
    return ledger


def test_list_ack_and_log_with_sudo_user(tmp_path):
    ledger = seeded(tmp_path)
    listed = cli(ledger, "list", "--site", "huber")
    assert listed.returncode == 0 and "huber-fw01" in listed.stdout and "net.reachability" in listed.stdout
    assert "no incidents" in cli(ledger, "list", "--site", "other").stdout
    acked = cli(ledger, "--json", "ack", "1", "--reason", "Techniker unterwegs", env={"SUDO_USER": "mmueller"})
    assert acked.returncode == 0, acked.stderr
    assert json.loads(acked.stdout)["acked_by"] == "mmueller"
    shown = json.loads(cli(ledger, "--json", "show", "1").stdout)
    assert shown["log"] == [{"at": pi.iso(T0), "actor": "mmueller", "action": "ack", "reason": "Techniker unterwegs"}]
    missing = cli(ledger, "ack", "99", "--reason", "x")
    assert missing.returncode == 2 and "no incident 99" in missing.stderr


def test_silence_for_and_until_and_unsilence(tmp_path):
    ledger = seeded(tmp_path)
    quiet = cli(ledger, "--by", "awx-anna", "--json", "silence", "--host", "huber-nas01", "--check",
                "net.volume_used_percent", "--for", "3d", "--reason", "Platte wird getauscht")
    assert quiet.returncode == 0, quiet.stderr
    row = json.loads(quiet.stdout)
    assert row["created_by"] == "awx-anna" and row["ends_at"] == pi.iso(T0 + dt.timedelta(days=3))
    dated = json.loads(cli(ledger, "--json", "silence", "--host", "h", "--check", "c", "--until", "2026-03-09",
                           "--reason", "r").stdout)
    assert dated["ends_at"] == "2026-03-09T23:00:00+00:00", "end of 9 March, German time"
    bad = cli(ledger, "silence", "--host", "h", "--check", "c", "--for", "3d", "--until", "2026-03-09",
              "--reason", "r")
    assert bad.returncode == 2 and "either --for" in bad.stderr
    assert "huber-nas01" in cli(ledger, "silences").stdout
    ended = json.loads(cli(ledger, "--json", "unsilence", "--host", "huber-nas01", "--check",
                           "net.volume_used_percent").stdout)
    assert ended["changed"] and len(ended["ended"]) == 1
    assert "huber-nas01" not in cli(ledger, "silences").stdout


def test_check_mode_changes_nothing(tmp_path):
    ledger = seeded(tmp_path)
    result = json.loads(cli(ledger, "--json", "--check", "ack", "1", "--reason", "r").stdout)
    assert result["changed"] and result["check_mode"]
    assert pi.incidents(str(ledger))[0]["acked_at"] is None


def test_playbook_acknowledges_as_the_awx_user(tmp_path):
    ledger = seeded(tmp_path)
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), PRAXIS_SUMMARY_DIR=str(tmp_path / "runs"))
    result = subprocess.run(
        [str(bin_dir / "ansible-playbook"), "-i", "localhost,", "playbooks/incident.yml",
         "-e", json.dumps({"incident_command": "ack", "incident_id": 1, "incident_reason": "übernommen",
                           "awx_user_name": "anna.awx", "praxis_ledger_path": str(ledger),
                           "ansible_python_interpreter": sys.executable})],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "changed=1" in result.stdout
    incident = pi.incidents(str(ledger))[0]
    assert (incident["acked_by"], incident["ack_reason"]) == ("anna.awx", "übernommen")
