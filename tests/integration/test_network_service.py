"""The network device service end to end: the real playbooks (onboard,
nightly, monthly, firmware) run by ansible-playbook against a lab of three
practices (11 emulated devices), with the lab's fault injection.

NET-01 onboarding, NET-02 backups (three kept after four monthly runs),
NET-03 signatures, NET-04/NET-07 firmware in the maintenance window only,
NET-06 health; and the fault behaviour: truncated or corrupt backups,
HTTP 500 and dropped SSH, wrong credentials, a reboot that never returns,
a firmware run in business hours, an unreachable device.

The tests of this module build on each other in file order (one lab).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

import pytest

from tests.integration.ansible_run import ansible
from tests.integration.labrun import Lab, running_lab

SITES = 3
DEVICES = [f"lab{n:03d}-{d}" for n in (1, 2, 3) for d in ("fw01", "sw01", "ap01", "nas01")
           if not (n == 3 and d == "nas01")]
# Wednesday night, maintenance time for every lab practice; months for the monthly runs
NIGHT = "2026-11-25T23:30:00+01:00"
NEXT_NIGHT = "2026-11-26T23:30:00+01:00"
MONTHLY_NIGHTS = ["2026-12-02T23:30:00+01:00", "2027-01-06T23:30:00+01:00",
                  "2027-02-03T23:30:00+01:00", "2027-03-03T23:30:00+01:00"]
TUESDAY_10 = "2026-11-24T10:00:00+01:00"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


class Service:
    def __init__(self, lab: Lab, out: Path) -> None:
        self.lab = lab
        self.out = out
        self.vars_file = out / "vars.json"
        self.vars_file.write_text(json.dumps({
            "praxis_output_dir": str(out),
            "praxis_ledger_path": str(out / "ledger.sqlite"),
            "praxis_backup_store": {"type": "local", "path": str(out / "backups")},
            "network_plan_output_dir": str(out / "network-plans"),
            "praxis_device_retry_delay": 0.1,
            "firmware_update_poll": 0.5,
            "firmware_update_budget": 60,
        }))

    def play(self, playbook: str, *args: str, now: str = NIGHT) -> tuple[object, dict]:
        result = ansible("ansible-playbook", "-i", str(self.lab.inventory_dir), "--vault-password-file",
                         self.lab.vault_password_file, f"playbooks/{playbook}", "-e", f"@{self.vars_file}",
                         "-e", f"praxis_now={now}", *args,
                         env={"PRAXIS_SUMMARY_DIR": str(self.out / "runs")}, timeout=600)
        recap = {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
                 for m in RECAP.findall(result.stdout)}
        return result, recap

    def fault(self, device: str, **faults) -> None:
        self.lab.control("PUT", f"/devices/{device}/faults", faults)

    def clear(self, device: str) -> None:
        self.lab.control("DELETE", f"/devices/{device}/faults")

    def rows(self) -> int:
        return self.ledger("SELECT count(*) FROM events")[0][0]

    def ledger(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(self.out / "ledger.sqlite") as conn:
            return conn.execute(sql, params).fetchall()

    def copies(self, device: str) -> list[str]:
        site, name = device.split("-")
        folder = self.out / "backups" / site / name
        return sorted(p.name for p in folder.glob("*.vault")) if folder.exists() else []

    def summary(self, playbook: str) -> dict:
        newest = sorted((self.out / "runs").glob(f"*-{Path(playbook).stem}.json"))[-1]
        return json.loads(newest.read_text())


def failed_hosts(recap: dict) -> set[str]:
    return {h for h, c in recap.items() if c["failed"] or c["unreachable"]}


def changed_hosts(recap: dict) -> dict[str, int]:
    return {h: c["changed"] for h, c in recap.items() if c["changed"]}


def no_deprecation(result) -> None:
    assert "[DEPRECATION WARNING]" not in result.stdout + result.stderr, result.stderr[-3000:]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    base = tmp_path_factory.mktemp("netservice")
    with running_lab(base, SITES) as lab:
        (base / "out").mkdir()
        yield Service(lab, base / "out")


def secrets_of(lab: Lab) -> list[str]:
    values = []
    for entry in lab.vault().values():
        values += [entry["password"]] if isinstance(entry, dict) else [entry]
    return values


# -- NET-01 onboarding ------------------------------------------------------------------------------

def test_onboarding_converges_and_a_second_run_changes_nothing(service):
    result, recap = service.play("onboard_network.yml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert set(DEVICES) <= set(recap)
    assert all(recap[d]["changed"] for d in DEVICES if "-fw01" in d or "-ap01" in d or "-sw01" in d)
    firewall = json.dumps(service.lab.device("lab001-fw01")["state"])
    assert "praxisops: block gaeste to praxis" in firewall
    assert "Praxis-lab001" in json.dumps(service.lab.device("lab001-ap01")["state"])
    for secret in secrets_of(service.lab):
        assert secret not in result.stdout and secret not in result.stderr

    no_deprecation(result)
    plan = (service.out / "network-plans" / "lab001" / "network-plan.md").read_text()

    # the next night: new health checks of the same devices move only the times
    rows = service.rows()
    again, recap = service.play("onboard_network.yml", now=NEXT_NIGHT)
    assert again.returncode == 0, again.stdout[-3000:]
    assert changed_hosts(recap) == {}, again.stdout[-3000:]
    assert (service.out / "network-plans" / "lab001" / "network-plan.md").read_text() == plan
    no_deprecation(again)
    # every row of a run carries the run's id, generated once for all workers; the
    # summary names it
    runs = service.ledger("SELECT DISTINCT run FROM events WHERE id > ?", rows)
    assert len(runs) == 1 and runs[0][0].startswith("local-"), runs
    assert service.summary("onboard_network.yml")["run"] == runs[0][0]
    assert runs[0][0] not in {r for (r,) in service.ledger("SELECT DISTINCT run FROM events WHERE id <= ?", rows)}
    rows = service.rows()
    given, _recap = service.play("onboard_network.yml", "-l", "lab001-fw01", "-e", "praxis_run_id=ticket-4711")
    assert given.returncode == 0
    assert service.ledger("SELECT DISTINCT run FROM events WHERE id > ?", rows) == [("ticket-4711",)]
    assert service.summary("onboard_network.yml")["run"] == "ticket-4711"

    rows = service.rows()
    check, recap = service.play("onboard_network.yml", "--check", "--diff", now=NEXT_NIGHT)
    assert check.returncode == 0, check.stdout[-3000:]
    assert changed_hosts(recap) == {}
    assert service.rows() == rows     # a dry run records nothing
    for secret in secrets_of(service.lab):
        assert secret not in check.stdout


def test_network_plans_are_written_per_practice(service):
    for site in ("lab001", "lab002", "lab003"):
        folder = service.out / "network-plans" / site
        markdown = (folder / "network-plan.md").read_text()
        assert f"Praxis-{site}" in markdown and "wlan_praxis" not in markdown
        assert (folder / "network-plan.svg").read_text().lstrip().startswith(("<?xml", "<svg"))
        assert (folder / "network-plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- NET-06 / NET-03 nightly ---------------------------------------------------------------------------

def test_nightly_checks_every_device_and_updates_signatures(service):
    result, recap = service.play("nightly.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert failed_hosts(recap) == set()
    health = service.ledger("SELECT DISTINCT host FROM events WHERE kind = 'health'")
    assert {h for (h,) in health} == set(DEVICES)
    signatures = service.ledger("SELECT host, data FROM events WHERE kind = 'signatures' AND status != 'failed'")
    assert {h for h, _ in signatures} == {"lab001-fw01", "lab002-fw01", "lab003-fw01"}
    assert all(json.loads(d)["signature_date"] for _, d in signatures)
    facts = json.loads((service.out / "facts" / "lab001" / "lab001-nas01.json").read_text())
    assert facts["disks"] and facts["firmware_version"].startswith("DSM")
    no_deprecation(result)

    rows, written = service.rows(), (service.out / "facts" / "lab001" / "lab001-nas01.json").read_text()
    check, recap = service.play("nightly.yml", "--check", now=NEXT_NIGHT)
    assert check.returncode == 0 and failed_hosts(recap) == set(), check.stdout[-3000:]
    assert service.rows() == rows     # a dry run records nothing ...
    assert (service.out / "facts" / "lab001" / "lab001-nas01.json").read_text() == written     # ... and writes no facts


def test_unreachable_device_fails_alone_and_the_summary_lists_it(service):
    service.fault("lab001-ap01", reboot_never_returns=True)
    service.lab.control("POST", "/devices/lab001-ap01/reboot", {})
    try:
        result, recap = service.play("nightly.yml")
        assert result.returncode != 0
        assert failed_hosts(recap) == {"lab001-ap01"}
        assert all(recap[d]["ok"] for d in DEVICES)
        summary = service.summary("nightly.yml")
        (entry,) = summary["sites"]["lab001"]["failed"]
        assert entry["host"] == "lab001-ap01" and "lab001-ap01" in entry["msg"]
        markdown = sorted((service.out / "runs").glob("*-nightly.md"))[-1].read_text()
        assert "| lab001 | lab001-ap01 | failed |" in markdown
    finally:
        service.clear("lab001-ap01")
        service.lab.control("POST", "/devices/lab001-ap01/reboot", {})


def test_http_500_and_dropped_ssh_are_retried_then_fail_that_host_only(service):
    service.fault("lab002-fw01", error_rate=1.0)
    service.fault("lab002-sw01", drop_rate=1.0)
    try:
        result, recap = service.play("nightly.yml", "-l", "site_lab002,site_lab003")
        assert failed_hosts(recap) == {"lab002-fw01", "lab002-sw01"}
        for host in ("lab002-fw01", "lab002-sw01"):
            line = next(line for line in result.stdout.splitlines() if line.startswith(f"fatal: [{host}]"))
            assert "after 3 attempts" in line, line
        # a dropped session is reported as such, not as a login problem (the technician goes after the network)
        dropped = next(line for line in result.stdout.splitlines() if line.startswith("fatal: [lab002-sw01]"))
        assert "closed the SSH session" in dropped and "Authentication" not in dropped, dropped
        assert '"error_kind": "dropped"' in dropped, dropped
    finally:
        service.clear("lab002-fw01")
        service.clear("lab002-sw01")


def test_wrong_credentials_name_the_device_and_print_no_secret(service):
    service.fault("lab003-fw01", refuse_auth=True)
    try:
        result, recap = service.play("nightly.yml", "-l", "lab003-fw01", "-vvv")
        assert failed_hosts(recap) == {"lab003-fw01"}
        assert "lab003-fw01" in result.stdout and "credentials refused" in result.stdout
        for secret in secrets_of(service.lab):
            assert secret not in result.stdout and secret not in result.stderr
    finally:
        service.clear("lab003-fw01")


# -- NET-02 / NET-04 / NET-07 monthly ---------------------------------------------------------------------

def test_four_monthly_runs_keep_three_encrypted_copies(service):
    before = {d: service.lab.device(d)["state"].get("firmware_version") for d in DEVICES}
    switch_copies = []
    for index, night in enumerate(MONTHLY_NIGHTS):
        # a configuration change on the firewall between the runs
        service.lab.control("POST", "/devices/lab001-fw01/state", {"hostname": f"fw-month{index}"})
        result, recap = service.play("monthly.yml", now=night)
        assert result.returncode == 0, result.stdout[-4000:]
        assert failed_hosts(recap) == set()
        switch_copies.append(service.copies("lab002-sw01"))
    assert len(service.copies("lab001-fw01")) == 3
    manifest = json.loads((service.out / "backups" / "lab001" / "fw01" / "manifest.json").read_text())
    assert [c["name"] for c in manifest["copies"]] == service.copies("lab001-fw01")
    # the switch changed once (its firmware line, by the first run's update); the later
    # runs found its configuration unchanged and wrote nothing
    assert switch_copies[1] == switch_copies[2] == switch_copies[3] and len(switch_copies[3]) <= 3
    newest = service.out / "backups" / "lab001" / "fw01" / service.copies("lab001-fw01")[-1]
    view = ansible("ansible-vault", "view", "--vault-password-file", service.lab.vault_password_file, str(newest))
    assert view.returncode == 0 and "<hostname>fw-month3</hostname>" in view.stdout
    # firmware: updated once in the first monthly run, current afterwards
    after = {d: service.lab.device(d)["state"].get("firmware_version") for d in DEVICES}
    assert after["lab001-fw01"] != before["lab001-fw01"]
    assert after["lab001-ap01"] == "10.80.0100" and after["lab001-sw01"] == "5.30.0012"
    updates = service.ledger("SELECT host FROM events WHERE kind = 'firmware' AND status = 'changed'")
    assert sorted(h for (h,) in updates) == sorted(set(h for (h,) in updates))    # once per device
    no_deprecation(result)


def changed_outside_the_report(log: str) -> set[str]:
    """Hosts a task changed, leaving out the play that writes the monthly report."""
    hosts: set[str] = set()
    report = False
    for line in log.splitlines():
        if line.startswith("PLAY ["):
            report = "monthly report" in line
        elif not report and line.startswith("changed: ["):
            hosts.add(line.split("[", 1)[1].split("]", 1)[0])
    return hosts


def test_a_second_monthly_run_on_an_unchanged_lab_changes_and_records_nothing_in_check_mode(service):
    # the facts files as a nightly run leaves them after the monthly runs' firmware updates,
    # and the plans drawn from them
    for night in ("2027-03-04T23:30:00+01:00", "2027-03-05T23:30:00+01:00"):
        nightly, recap = service.play("nightly.yml", now=night)
        assert failed_hosts(recap) == set(), nightly.stdout[-3000:]
    # the monthly report (its own play, the last one) is a file on the controller that changes with the
    # month's figures and the facts files; this test is about the devices: the report is left out
    report = ("-e", "praxis_report_month=2027-02")
    first, recap = service.play("monthly.yml", *report, now="2027-03-06T23:30:00+01:00")
    assert first.returncode == 0 and failed_hosts(recap) == set(), first.stdout[-4000:]
    # a nightly run between the monthly runs moves only the times of the device facts
    nightly, recap = service.play("nightly.yml", now="2027-04-06T23:30:00+01:00")
    assert failed_hosts(recap) == set(), nightly.stdout[-3000:]
    plans = {p: p.read_bytes() for p in (service.out / "network-plans").rglob("network-plan.*")}
    result, recap = service.play("monthly.yml", *report, now="2027-04-07T23:30:00+01:00")
    assert result.returncode == 0 and failed_hosts(recap) == set(), result.stdout[-4000:]
    assert changed_outside_the_report(result.stdout) == set(), result.stdout[-4000:]
    assert {p: p.read_bytes() for p in plans} == plans
    no_deprecation(result)

    rows = service.rows()
    service.lab.control("POST", "/devices/lab001-fw01/state", {"hostname": "fw-check-mode"})
    check, recap = service.play("monthly.yml", "--check", "--diff", *report, now="2027-04-07T23:40:00+01:00")
    assert check.returncode == 0, check.stdout[-4000:]
    assert recap["lab001-fw01"]["changed"]      # the backup would be stored ...
    assert service.rows() == rows               # ... but nothing is recorded


@pytest.mark.parametrize("fault", ["truncate_backup", "corrupt_backup"])
def test_broken_backup_download_leaves_the_good_copies(service, fault):
    good = service.copies("lab001-fw01")
    service.lab.control("POST", "/devices/lab001-fw01/state", {"hostname": f"fw-{fault}"})
    service.fault("lab001-fw01", **{fault: True})
    try:
        result, recap = service.play("monthly.yml", "-l", "lab001-fw01", now=MONTHLY_NIGHTS[-1])
        assert failed_hosts(recap) == {"lab001-fw01"}
        assert "not valid" in result.stdout and "stored copies were not touched" in result.stdout
        assert service.copies("lab001-fw01") == good
    finally:
        service.clear("lab001-fw01")


def test_firmware_in_business_hours_is_refused_with_the_next_window(service):
    service.lab.control("POST", "/devices/lab003-fw01/state", {"firmware_latest": "25.7"})
    version = service.lab.device("lab003-fw01")["state"]["firmware_version"]
    result, recap = service.play("firmware.yml", "-l", "site_lab003", now=TUESDAY_10)
    assert failed_hosts(recap) == {"lab003-fw01"}
    line = next(line for line in result.stdout.splitlines() if line.startswith("fatal: [lab003-fw01]"))
    assert "refused" in line and "next maintenance window" in line
    assert service.lab.device("lab003-fw01")["state"]["firmware_version"] == version


def test_reboot_that_never_returns_fails_after_the_budget(service):
    service.lab.control("POST", "/devices/lab002-fw01/state", {"firmware_latest": "25.7"})
    service.fault("lab002-fw01", reboot_never_returns=True)
    try:
        result, recap = service.play("firmware.yml", "-l", "site_lab002", "-e", "firmware_update_budget=8")
        assert failed_hosts(recap) == {"lab002-fw01"}
        line = next(line for line in result.stdout.splitlines() if line.startswith("fatal: [lab002-fw01]"))
        assert "within 8 s" in line and "recorded as pending" in line, line
        ((status, data),) = service.ledger("SELECT status, data FROM events WHERE host = 'lab002-fw01' AND "
                                           "kind = 'firmware' ORDER BY id DESC LIMIT 1")
        assert status == "pending" and json.loads(data)["to"] == "25.7"
    finally:
        service.clear("lab002-fw01")
        service.lab.control("POST", "/devices/lab002-fw01/reboot", {})


def test_an_update_that_completed_after_the_budget_is_recorded_when_the_device_is_seen(service):
    deadline = time.monotonic() + 30     # the firewall boots the staged firmware (reboot above)
    while not service.lab.device("lab002-fw01").get("up") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert service.lab.device("lab002-fw01")["state"]["firmware_version"].startswith("25.7")
    later = "2026-11-26T23:45:00+01:00"
    result, recap = service.play("nightly.yml", "-l", "lab002-fw01", "-v", now=later)
    assert failed_hosts(recap) == set(), result.stdout[-3000:]
    assert "completed after its reboot budget" in result.stdout
    rows = service.ledger("SELECT status, data FROM events WHERE host = 'lab002-fw01' AND kind = 'firmware' "
                          "ORDER BY id DESC LIMIT 2")
    (status, data), (before, _data) = rows
    assert (status, before) == ("changed", "pending")
    assert json.loads(data)["noticed_at"] == later and json.loads(data)["to"] == "25.7"
    # recorded once: the next run finds nothing pending
    again, _recap = service.play("nightly.yml", "-l", "lab002-fw01", "-v", now=later)
    assert "completed after its reboot budget" not in again.stdout
    assert len(service.ledger("SELECT id FROM events WHERE host = 'lab002-fw01' AND kind = 'firmware' "
                              "AND status = 'changed' AND data LIKE '%noticed_at%'")) == 1


# -- bad input and a locked ledger: a failed result naming the host and the fix --------------------------

HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()     # until the test closes stdin
conn.rollback()
"""
PAIR = ["lab001-fw01", "lab001-sw01"]


def fatal_lines(result, hosts) -> dict[str, str]:
    lines = {}
    for host in hosts:
        lines[host] = next(line for line in result.stdout.splitlines() if line.startswith(f"fatal: [{host}]"))
    return lines


def test_a_bad_praxis_now_fails_each_host_naming_it_and_records_nothing(service):
    rows = service.rows()
    result, recap = service.play("nightly.yml", "-l", ",".join(PAIR), now="nonsense")
    assert result.returncode != 0 and failed_hosts(recap) == set(PAIR), result.stdout[-3000:]
    for host, line in fatal_lines(result, PAIR).items():
        assert f'"msg": "{host}: device facts: now (praxis_now or the task\'s now) \'nonsense\' is not an ' \
               "ISO-8601 timestamp" in line, line
    assert "Unexpected failure" not in result.stdout + result.stderr
    assert service.rows() == rows


def test_a_locked_ledger_fails_each_host_naming_it_and_keeps_the_facts(service):
    import subprocess
    import sys

    ledger = service.out / "ledger.sqlite"
    facts = {host: (service.out / "facts" / "lab001" / f"{host}.json").read_text() for host in PAIR}
    rows = service.rows()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(ledger)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result, recap = service.play("nightly.yml", "-l", ",".join(PAIR), "-e", "praxis_ledger_timeout=1",
                                     now=NEXT_NIGHT)
        elapsed = time.monotonic() - started
    finally:
        holder.stdin.close()
        holder.wait(30)
    assert result.returncode != 0 and failed_hosts(recap) == set(PAIR), result.stdout[-3000:]
    for host, line in fatal_lines(result, PAIR).items():
        assert f'"msg": "{host}: device facts: ledger {ledger} is locked by another process (waited 1 s)' in line, line
        assert "praxis_ledger_timeout" in line, line
    assert "Unexpected failure" not in result.stdout + result.stderr
    assert elapsed < 55     # the short timeout was used, not the 60 s default
    # nothing half-done: no row, and the facts files of the last good run stay
    assert service.rows() == rows
    assert {host: (service.out / "facts" / "lab001" / f"{host}.json").read_text() for host in PAIR} == facts
