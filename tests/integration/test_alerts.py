"""The alerts role through ansible-playbook (OPS-03): the demo practices'
inventory, a ledger seeded with incidents, the real lab SMTP server with
STARTTLS and AUTH. Check mode sends nothing, ``-l`` limits the practices, a
second run sends nothing again."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest
import yaml

from ansible.module_utils import praxis_incidents as pi
from lab.smtp import LabMailServer
from tests.integration.ansible_run import ROOT, ansible

PASSWORD = "lab-smtp-secret-7"
NOW = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)


def finding(site, host, check="net.reachability", priority="high"):
    return {"site": site, "host": host, "check": check, "subject": "", "severity": "critical",
            "priority": priority, "message": "no answer", "value": None, "threshold": None,
            "first_seen": NOW.isoformat(), "last_seen": NOW.isoformat()}


@pytest.fixture
def setup(tmp_path):
    server = LabMailServer("127.0.0.1", 0, maildir=None, username="praxisops", password=PASSWORD,
                           starttls=True, require_starttls=True, run_dir=tmp_path / "lab")
    inventory = tmp_path / "inventory"
    shutil.copytree(ROOT / "inventories" / "demo", inventory)
    ledger = tmp_path / "ledger.sqlite"
    with server:
        settings = {
            "praxis_ledger_path": str(ledger),
            "praxis_now": (NOW + dt.timedelta(minutes=5)).isoformat(),
            "praxis_alert_oncall": "oncall@provider.example.net",
            "praxis_smtp": {"host": "127.0.0.1", "port": server.port, "starttls": True, "username": "praxisops",
                            "password": PASSWORD, "from": "alarm@provider.example.net",
                            "ca_file": str(tmp_path / "lab" / "lab-cert.pem"), "retries": 0},
        }
        (inventory / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
        (inventory / "group_vars" / "all" / "alerts.yml").write_text(yaml.safe_dump(settings))
        playbook = tmp_path / "alerts.yml"
        playbook.write_text(yaml.safe_dump([{"name": "Alerts", "hosts": "all", "gather_facts": False,
                                             "roles": [{"role": "alerts"}]}]))
        pi.observe(str(ledger), run="1", site="huber", host="huber-fw01", checks=["net.reachability"],
                   findings=[finding("huber", "huber-fw01")], now=NOW)
        pi.observe(str(ledger), run="1", site="schmidt", host="schmidt-fw01", checks=["net.reachability"],
                   findings=[finding("schmidt", "schmidt-fw01", priority="medium")], now=NOW)
        yield server, inventory / "praxisops.yml", playbook, ledger


def run(inventory, playbook, *extra):
    result = ansible("ansible-playbook", "-i", str(inventory), str(playbook), "-v", *extra,
                     env={"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.json"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert PASSWORD not in result.stdout + result.stderr
    text = result.stdout
    tasks = json.loads(text[text.index("{"):text.rindex("}") + 1])["plays"][0]["tasks"]
    return next(iter(tasks[-1]["hosts"].values()))


def test_alerts_role_sends_per_practice_and_limit(setup):
    server, inventory, playbook, ledger = setup
    dry = run(inventory, playbook, "--check", "-l", "site_huber")
    assert dry["sites"] == ["huber"] and {w["to"] for w in dry["would_send"]} == {
        "praxis@huber.example.org", "noc@provider.example.net", "oncall@provider.example.net"}
    assert server.messages() == []

    sent = run(inventory, playbook, "-l", "site_huber")
    assert sent["changed"] and sent["sites"] == ["huber"]
    received = server.wait_for(3)
    assert sorted(m.rcpt_tos[0] for m in received) == [
        "noc@provider.example.net", "oncall@provider.example.net", "praxis@huber.example.org"]
    practice = next(m for m in received if m.rcpt_tos == ["praxis@huber.example.org"])
    assert practice.subject == "[Priorität Hoch] Hausarztpraxis Dr. Huber: huber-fw01 ist nicht erreichbar"
    assert "Montag, 2. März 2026, 02:30 Uhr" in practice.text()
    assert all(m.tls and m.auth_login == "praxisops" for m in received)

    again = run(inventory, playbook, "-l", "site_huber")
    assert again["sent"] == [] and not again["changed"]
    assert len(server.messages()) == 3

    everyone = run(inventory, playbook)
    assert [s["to"] for s in everyone["sent"]] == ["verwaltung@schmidt.example.org"]
    assert len(server.wait_for(4)) == 4
