"""Alert e-mails end to end (OPS-03, OPS-06): the real nightly job
(``playbooks/nightly.yml``) by ansible-playbook against a lab of two
practices, faults injected through the lab's control API, the mails read back
from the lab's SMTP server (STARTTLS and AUTH, as the lab inventory
configures it) as the ``.eml`` files it stored.

A firewall that refuses the login and a failing NAS disk open incidents;
the practice's contacts get them by priority, the on-call address and the
provider contact the high one, one message per practice and recipient. A
second run sends nothing; the all-clear comes once, after the two passes the
engine waits for. With the mail server down a new incident stays queued (the
action and the run summary say so) and goes out once when the server is back.

The tests of this module build on each other in file order (one lab).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from lab.smtp import parse_message
from tests.integration.ansible_run import ansible
from tests.integration.labrun import Lab, running_lab

SITES = 2
ONCALL = "oncall@provider.lab.praxisops.example"
PROVIDER = "technik@example.org"        # the lab's provider contact: priorities [high]
PRACTICE = {"lab001": "praxis.lab001@example.org", "lab002": "praxis.lab002@example.org"}
# one night, maintenance time; the runs follow each other within the hour, so no
# reminder (reaction time of a high incident: 1 hour) is due in between
NIGHTS = [f"2026-11-25T23:{minute:02d}:00+01:00" for minute in range(0, 60, 5)]


class Nightly:
    def __init__(self, lab: Lab, out: Path) -> None:
        self.lab = lab
        self.out = out
        self.runs = 0
        self.vars_file = out / "vars.json"
        self.vars_file.write_text(json.dumps({
            "praxis_output_dir": str(out), "praxis_ledger_path": str(out / "ledger.sqlite"),
            "praxis_device_retry_delay": 0.1, "praxis_device_retries": 0}))
        self.seen = 0           # messages already looked at

    def run(self, playbook: str = "nightly.yml") -> tuple[object, dict]:
        now = NIGHTS[self.runs]
        self.runs += 1
        result = ansible("ansible-playbook", "-i", str(self.lab.inventory_dir), "--vault-password-file",
                         self.lab.vault_password_file, f"playbooks/{playbook}", "-e", f"@{self.vars_file}",
                         "-e", f"praxis_now={now}", "-v",
                         env={"PRAXIS_SUMMARY_DIR": str(self.out / "runs")}, timeout=600)
        secret = self.lab.vault_file(self.lab.inventory_dir / "group_vars" / "all" / "smtp_vault.yml")[
            "vault_lab_smtp_password"]
        assert secret not in result.stdout + result.stderr
        newest = sorted((self.out / "runs").glob(f"*-{Path(playbook).stem}.json"))[-1]
        return result, json.loads(newest.read_text())

    def fault(self, device: str, **faults) -> None:
        self.lab.control("PUT", f"/devices/{device}/faults", faults)

    def clear(self, device: str) -> None:
        self.lab.control("DELETE", f"/devices/{device}/faults")

    def new_mail(self) -> list[dict]:
        """The messages received since the last call: envelope from the control API,
        headers and text parsed from the stored .eml file (the bytes as received)."""
        records = self.lab.control("GET", "/mail")
        fresh = records[self.seen:]
        self.seen = len(records)
        mails = []
        for record in fresh:
            message = parse_message(Path(record["path"]).read_bytes())
            mails.append({"to": record["to"], "subject": str(message["Subject"]), "message": message,
                          "text": message.get_body(preferencelist=("plain",)).get_content()})
        return sorted(mails, key=lambda m: m["to"])

    def ledger(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(self.out / "ledger.sqlite") as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def nightly(tmp_path_factory):
    base = tmp_path_factory.mktemp("alertslab")
    with running_lab(base, SITES) as lab:
        (base / "out").mkdir()
        job = Nightly(lab, base / "out")
        # the devices' SSH host keys recorded as at onboarding; then a clean night: nothing to report
        result, _summary = job.run("device_identity.yml")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        result, _summary = job.run()
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        assert job.new_mail() == []
        yield job


def incidents(job: Nightly) -> dict[tuple[str, str], tuple[str, str]]:
    rows = job.ledger("SELECT host, check_id, state, priority FROM incidents")
    return {(host, check): (status, priority) for host, check, status, priority in rows}


def test_faults_open_incidents_and_mail_by_priority(nightly):
    nightly.fault("lab001-fw01", refuse_auth=True)
    nightly.lab.control("POST", "/devices/lab001-nas01/call/set_disk_health", {"disk_id": "sata2",
                                                                                 "health": "failing"})
    nightly.lab.control("POST", "/devices/lab002-nas01/call/set_disk_health", {"disk_id": "sata1",
                                                                                 "health": "failing"})
    result, summary = nightly.run()
    assert "lab001-fw01" in {f["host"] for f in summary["sites"]["lab001"]["failed"]}, summary
    opened = incidents(nightly)
    assert opened[("lab001-fw01", "net.reachability")] == ("open", "high"), opened
    assert opened[("lab001-nas01", "net.disk")][0] == "open", opened
    disk_priority = opened[("lab001-nas01", "net.disk")][1]
    assert disk_priority in ("medium", "high")

    mails = nightly.new_mail()
    by_to = {tuple(m["to"]): m for m in mails}
    # one message per practice and recipient, never one per event
    assert len(by_to) == len(mails), [m["to"] for m in mails]
    lab001 = [m for m in mails if "Lab 001" in m["subject"]]
    lab002 = [m for m in mails if "Lab 002" in m["subject"]]
    assert len(lab001) + len(lab002) == len(mails)
    assert {m["to"][0] for m in lab001} == {PRACTICE["lab001"], PROVIDER, ONCALL}
    # lab002's disk: its practice contact; the provider contact and on-call only if it is high
    expected_002 = {PRACTICE["lab002"]} | ({PROVIDER, ONCALL} if disk_priority == "high" else set())
    assert {m["to"][0] for m in lab002} == expected_002

    practice = by_to[(PRACTICE["lab001"],)]
    # German subject with the highest priority; umlauts decoded from the encoded header
    assert practice["subject"].startswith("[Priorität Hoch] ")
    assert "lab001-fw01 ist nicht erreichbar" in practice["text"]
    assert "Festplatte von lab001-nas01" in practice["text"]        # both events in one message
    assert "lab002" not in practice["text"]
    assert "Mit freundlichen Grüßen" in practice["text"] and "Priorität" in practice["text"]
    assert practice["message"]["Importance"] == "high"
    raw = practice["message"].as_bytes()
    assert b"Priorit\xc3\xa4t" not in raw.split(b"\n\n", 1)[0]     # the header is encoded, not raw UTF-8
    # the provider contact (high only) does not get the disk unless it is high
    provider = by_to[(PROVIDER,)]
    assert "lab001-fw01" in provider["text"]
    assert ("lab001-nas01" in provider["text"]) == (disk_priority == "high")
    assert "Lab 002" in by_to[(PRACTICE["lab002"],)]["subject"]
    # the on-call copy: English by default, with the technical line (incident number, check)
    oncall = by_to[(ONCALL,)]
    assert "lab001-fw01 does not answer" in oncall["text"] and "net.reachability" in oncall["text"]
    assert "net.reachability" not in practice["text"]


def test_a_second_run_sends_nothing_new(nightly):
    result, _summary = nightly.run()
    assert "lab001-fw01" in result.stdout
    assert nightly.new_mail() == []
    assert incidents(nightly)[("lab001-fw01", "net.reachability")] == ("open", "high")


def test_all_clear_once_after_two_passes(nightly):
    nightly.clear("lab001-fw01")
    for name, disk in (("lab001-nas01", "sata2"), ("lab002-nas01", "sata1")):
        nightly.lab.control("POST", f"/devices/{name}/call/set_disk_health", {"disk_id": disk, "health": "normal"})
    result, summary = nightly.run()
    assert result.returncode == 0, result.stdout[-3000:]
    assert nightly.new_mail() == []                 # one pass: the engine waits for a second one
    assert incidents(nightly)[("lab001-fw01", "net.reachability")][0] == "resolving"

    result, summary = nightly.run()
    assert result.returncode == 0, result.stdout[-3000:]
    mails = nightly.new_mail()
    assert incidents(nightly)[("lab001-fw01", "net.reachability")][0] == "resolved"
    practice = [m for m in mails if m["to"] == [PRACTICE["lab001"]]]
    assert len(practice) == 1, [(m["to"], m["subject"]) for m in mails]
    assert "Behoben" in practice[0]["text"] and "lab001-fw01" in practice[0]["text"]
    assert len([m for m in mails if m["to"] == [PRACTICE["lab002"]]]) == 1
    assert len({tuple(m["to"]) for m in mails}) == len(mails)

    result, summary = nightly.run()
    assert nightly.new_mail() == []                 # exactly one all-clear


def test_mail_server_down_queues_and_delivers_once_when_back(nightly):
    nightly.lab.control("POST", "/mail/stop")
    try:
        nightly.fault("lab002-fw01", refuse_auth=True)
        result, summary = nightly.run()
        assert result.returncode == 2, result.stdout[-3000:]     # the firewall fails, nothing else
        assert "1 queued" in result.stdout or "queued" in result.stdout, result.stdout[-3000:]
        queued = summary["alerts"]["queued"]
        assert {q["to"] for q in queued} == {PRACTICE["lab002"], PROVIDER, ONCALL}, summary["alerts"]
        assert all(q["site"] == "lab002" and q["last_error"] for q in queued), queued
        assert summary["alerts"]["sent"] == 0
        pending = nightly.ledger("SELECT count(*) FROM deliveries WHERE sent_at IS NULL")[0][0]
        assert pending == 3
    finally:
        nightly.lab.control("POST", "/mail/start")
    assert nightly.new_mail() == []

    result, summary = nightly.run()
    mails = nightly.new_mail()
    assert sorted(m["to"][0] for m in mails) == sorted([PRACTICE["lab002"], PROVIDER, ONCALL])
    for mail in mails:      # the practice side in German, the on-call copy in English (alerts_oncall_language)
        wanted = "lab002-fw01 does not answer" if mail["to"] == [ONCALL] else "lab002-fw01 ist nicht erreichbar"
        assert wanted in mail["text"], mail["text"]
    assert summary["alerts"] == {"sent": 3, "queued": []}
    assert nightly.ledger("SELECT count(*) FROM deliveries WHERE sent_at IS NULL")[0][0] == 0

    result, summary = nightly.run()
    assert nightly.new_mail() == []                 # delivered once, never twice
    nightly.clear("lab002-fw01")
