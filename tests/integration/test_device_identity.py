"""Who answers, end to end: the real playbooks against a lab of one practice.

The onboarding records every device's SSH host key and shows the fingerprint;
the nightly job checks strictly; a device that presents another key (the
lab's "replace the host key", as after a device swap) fails the nightly job
for that host only, before its password is sent, with a message that says
what it may mean and how to accept it; playbooks/device_identity.yml with
praxis_identity_accept and a reason accepts it, and the next nightly job
passes. Everything the runs write is readable by the owner only, although
they run under a permissive umask.

The tests of this module build on each other in file order (one lab).
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from tests.integration.ansible_run import ansible
from tests.integration.labrun import Lab, running_lab

NIGHT = "2026-11-25T23:30:00+01:00"
RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
SWAPPED = "lab001-ap01"


class Run:
    def __init__(self, lab: Lab, out: Path) -> None:
        self.lab = lab
        self.out = out
        self.vars_file = out.parent / "vars.json"
        self.vars_file.write_text(json.dumps({
            "praxis_output_dir": str(out),
            "praxis_ledger_path": str(out / "ledger.sqlite"),
            "praxis_backup_store": {"type": "local", "path": str(out / "backups")},
            "network_plan_output_dir": str(out / "network-plans"),
            "praxis_device_retry_delay": 0.1,
        }))

    def play(self, playbook: str, *args: str):
        old = os.umask(0o022)            # a permissive umask: the files must come out private anyway
        try:
            result = ansible("ansible-playbook", "-i", str(self.lab.inventory_dir), "--vault-password-file",
                             self.lab.vault_password_file, f"playbooks/{playbook}", "-e", f"@{self.vars_file}",
                             "-e", f"praxis_now={NIGHT}", *args,
                             env={"PRAXIS_SUMMARY_DIR": str(self.out / "runs")}, timeout=600)
        finally:
            os.umask(old)
        recap = {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}
                 for m in RECAP.findall(result.stdout)}
        return result, recap

    def summary(self, playbook: str) -> dict:
        newest = sorted((self.out / "runs").glob(f"*-{Path(playbook).stem}.json"))[-1]
        return json.loads(newest.read_text())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("identity")
    with running_lab(base, 1) as lab:
        yield Run(lab, base / "out")


def failed(recap: dict) -> set[str]:
    return {h for h, c in recap.items() if c["failed"] or c["unreachable"]}


def test_onboarding_records_and_shows_each_fingerprint(run):
    result, recap = run.play("onboard_network.yml")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for device in ("lab001-ap01", "lab001-sw01"):
        key = run.lab.device(device)["host_key"]
        assert key.startswith("SHA256:")
        assert re.search(rf"{device}.*{re.escape(key)}", result.stdout), f"{device}: {key} not shown"
    warnings = run.summary("onboard_network.yml")["sites"]["lab001"]["warnings"]
    assert {w["host"] for w in warnings} >= {"lab001-ap01", "lab001-sw01"}
    assert "## Warnings" in sorted((run.out / "runs").glob("*-onboard_network.md"))[-1].read_text()

    nightly, recap = run.play("nightly.yml")
    assert nightly.returncode == 0, nightly.stdout[-4000:]
    assert not failed(recap)


def test_a_changed_key_fails_the_nightly_job_for_that_host_only(run):
    run.lab.control("POST", f"/devices/{SWAPPED}/call/set_host_key", {})
    logins_before = run.lab.device(SWAPPED)["login_attempts"]
    result, recap = run.play("nightly.yml")
    assert result.returncode != 0
    assert failed(recap) == {SWAPPED}, recap
    assert run.lab.device(SWAPPED)["login_attempts"] == logins_before     # no password was sent
    entry = run.summary("nightly.yml")["sites"]["lab001"]["failed"][0]
    assert entry["host"] == SWAPPED
    message = entry["msg"]
    assert "SSH host key changed" in message and "replaced or reset" in message, message
    assert run.lab.device(SWAPPED)["host_key"] in message
    assert "Authentication" not in message
    assert "playbooks/device_identity.yml -l lab001-ap01 -e praxis_identity_accept=true" in result.stdout


def test_accepting_the_new_key_makes_the_next_run_pass(run):
    refused, _ = run.play("device_identity.yml", "-l", SWAPPED, "-e", "praxis_identity_accept=true")
    assert refused.returncode != 0 and "needs a reason" in refused.stdout

    result, recap = run.play("device_identity.yml", "-l", SWAPPED, "-e", "praxis_identity_accept=true",
                             "-e", "praxis_force_reason='ticket 4711 AP replaced'")
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap[SWAPPED]["changed"] == 1
    assert run.lab.device(SWAPPED)["host_key"] in result.stdout

    again, recap = run.play("device_identity.yml")
    assert again.returncode == 0 and not any(c["changed"] for c in recap.values())

    nightly, recap = run.play("nightly.yml")
    assert nightly.returncode == 0, nightly.stdout[-4000:]
    assert not failed(recap)


def test_everything_written_is_private(run):
    files = [p for p in run.out.rglob("*") if p.is_file()]
    assert any(p.name == "ledger.sqlite" for p in files) and any(p.suffix == ".json" for p in files)
    assert any("backups" in p.parts for p in files) and any("network-plans" in p.parts for p in files)
    wide = [f"{p} {oct(stat.S_IMODE(p.stat().st_mode))}" for p in files if stat.S_IMODE(p.stat().st_mode) != 0o600]
    assert not wide
    folders = [p for p in run.out.rglob("*") if p.is_dir()] + [run.out]
    wide = [f"{p} {oct(stat.S_IMODE(p.stat().st_mode))}" for p in folders if stat.S_IMODE(p.stat().st_mode) != 0o700]
    assert not wide
