"""Patch management through ansible-playbook (WP-08, WP-09, WP-10): the
nightly job's search (playbooks/nightly.yml) and the install job
(playbooks/patch.yml) of one practice with a pilot, two more workplaces and
a server, against RECORDED module results.

Stand-in action plugins, first in ANSIBLE_ACTION_PLUGINS, answer in place of
win_updates, win_chocolatey_facts, win_chocolatey and win_reboot with the
offers of tests/fixtures/windows/patch_practice.json (shaped as the
collections document their results) and keep what each host "installed" in a
state file per host, so the next search no longer offers it; they can drop
the connection (AnsibleConnectionFailure) the first N installs, or fail the
search. The group_vars of the test environment point the action at them
(praxis_patch_updates_module, ...); the health check of the nightly job is a
stand-in too (it is tested in tests/unit/test_workplace.py). The hosts run
locally; the ledger, the calendar, the ring and the incident engine are the
real ones."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys

import pytest
import yaml

from .ansible_run import ROOT, ansible

FIXTURE = ROOT / "tests" / "fixtures" / "windows" / "patch_practice.json"
PILOT, WS02, WS03, SRV = "weber-ws01", "weber-ws02", "weber-ws03", "weber-srv01"
HOSTS = (PILOT, WS02, WS03, SRV)
LCU, SERVER_LCU = "KB5046633", "KB5046616"
SITE = {
    "id": "weber",
    "name": "Praxis Weber",
    "state": "HE",
    "contacts": [{"name": "Praxis Weber", "email": "praxis@weber.example.org"}],
    "pilot": "ws01",
    # Mon-Fri evenings; the weekend as the calendar has it
    "maintenance_windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "19:00", "end": "23:00"}],
    "devices": {
        "workplaces": [
            {"name": "ws01", "address": "192.0.2.21", "credentials": "vault_weber_windows"},
            {"name": "ws02", "address": "192.0.2.22", "credentials": "vault_weber_windows"},
            {"name": "ws03", "address": "192.0.2.23", "credentials": "vault_weber_windows"},
        ],
        "servers": [{"name": "srv01", "address": "192.0.2.10", "credentials": "vault_weber_windows"}],
    },
}
# Tuesday 10 November 2026 is Patch Tuesday
CHECK_DAY0 = "2026-11-10T19:30:00+01:00"
INSTALL_DAY0 = "2026-11-10T21:00:00+01:00"
CHECK_DAY7 = "2026-11-17T19:30:00+01:00"
INSTALL_DAY7 = "2026-11-17T21:00:00+01:00"

STANDIN = '''
import json
import os
import re

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase

KIND = "@KIND@"


def load(path, default):
    if not os.path.exists(path):
        return default
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class ActionModule(ActionBase):
    """Replays the recorded module result of one host (see the test module)."""
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        host = task_vars["inventory_hostname"]
        with open(task_vars["praxis_test_patch_fixture"], encoding="utf-8") as handle:
            offer = json.load(handle)[host]
        path = os.path.join(task_vars["praxis_test_patch_state"], host + ".json")
        state = load(path, {})
        for key, value in (("installed", []), ("packages", {}), ("calls", []), ("drops", 0), ("reboots", 0),
                           ("search_fails", None), ("reboot_pending", False)):
            state.setdefault(key, value)
        args = dict(self._task.args)
        state["calls"].append({"module": KIND, "args": args, "check_mode": bool(self._task.check_mode)})
        try:
            result.update(getattr(self, KIND)(offer, state, args))
        finally:
            with open(path, "w", encoding="utf-8") as handle:
                json.dump(state, handle, indent=1)
        return result

    @staticmethod
    def offered(offer, state):
        return {ident: entry for ident, entry in offer["updates"].items() if ident not in state["installed"]}

    def win_updates(self, offer, state, args):
        offered = self.offered(offer, state)
        counts = {"installed_update_count": 0, "failed_update_count": 0, "filtered_updates": {}}
        if args.get("state") == "searched":
            if state["search_fails"]:
                return {"failed": True, "msg": state["search_fails"]}
            return dict(counts, changed=False, updates=offered, found_update_count=len(offered),
                        reboot_required=state["reboot_pending"], rebooted=False)
        if state["drops"] > 0:
            state["drops"] -= 1
            raise AnsibleConnectionFailure("winrm send_input failed; Connection reset by peer (os error 104)")
        # as win_updates.ps1 (Test-InList): each entry a case-insensitive regex against the title and
        # the update's KB<number> ids, never its id
        accept = list(args.get("accept_list") or [])
        chosen = {ident: dict(entry, installed=True, downloaded=True) for ident, entry in offered.items()
                  if any(re.search(pattern, text, re.IGNORECASE) for pattern in accept
                         for text in [entry["title"]] + ["KB" + kb for kb in entry["kb"]])}
        needed = bool(chosen) and offer["reboot_required"]
        rebooted = needed and bool(args.get("reboot"))
        state["installed"] += sorted(chosen)
        state["reboot_pending"] = state["reboot_pending"] or (needed and not rebooted)
        if rebooted:
            state["reboots"] += 1
            state["reboot_pending"] = False
        return dict(counts, changed=bool(chosen), updates=chosen, found_update_count=len(chosen),
                    installed_update_count=len(chosen), reboot_required=needed and not rebooted, rebooted=rebooted)

    def chocolatey_facts(self, offer, state, args):
        if not offer["chocolatey"]:
            return {"failed": True, "msg": "Failed to find Chocolatey installation, make sure choco.exe is in "
                                           "the PATH env value"}
        packages = dict(offer["packages"], **state["packages"])
        facts = {"packages": [{"package": name, "version": version} for name, version in sorted(packages.items())]}
        if "outdated" in (args.get("filter") or []):
            facts["outdated"] = [{"package": name, "current_version": packages[name], "available_version": version,
                                  "pinned": False} for name, version in sorted(offer["outdated"].items())
                                 if packages.get(name) != version]
        return {"changed": False, "ansible_facts": {"ansible_chocolatey": facts}}

    def chocolatey(self, offer, state, args):
        state["packages"][args["name"]] = args["version"]
        return {"changed": True, "rc": 0, "stdout": "Chocolatey upgraded 1/1 packages.",
                "command": "choco.exe upgrade -r --no-progress -y " + args["name"]}

    def win_reboot(self, offer, state, args):
        state["reboots"] += 1
        state["reboot_pending"] = False
        return {"changed": True, "rebooted": True, "elapsed": 42}
'''
HEALTH_STANDIN = '''
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        result.update(changed=False, status="ok", msg="health not checked in this test")
        return result
'''
STANDINS = {"praxis_test_win_updates": "win_updates", "praxis_test_chocolatey_facts": "chocolatey_facts",
            "praxis_test_chocolatey": "chocolatey", "praxis_test_win_reboot": "win_reboot"}


class Practice:
    """The test environment: the site, the stand-ins, the output folder."""

    def __init__(self, tmp_path):
        self.env = tmp_path / "env"
        (self.env / "sites").mkdir(parents=True)
        (self.env / "praxisops.yml").write_text("---\nplugin: praxisops_sites\nsites_dir: sites\n", encoding="utf-8")
        (self.env / "sites" / "weber.yml").write_text("---\n" + yaml.safe_dump(SITE, sort_keys=False),
                                                      encoding="utf-8")
        self.actions = tmp_path / "actions"
        self.actions.mkdir()
        for name, kind in STANDINS.items():
            (self.actions / f"{name}.py").write_text(STANDIN.replace("@KIND@", kind), encoding="utf-8")
        (self.actions / "praxis_win_health.py").write_text(HEALTH_STANDIN, encoding="utf-8")
        self.state = tmp_path / "state"
        self.state.mkdir()
        self.output = tmp_path / "output"
        self.ledger = self.output / "ledger.sqlite"
        (self.env / "group_vars" / "windows").mkdir(parents=True)
        (self.env / "group_vars" / "windows" / "test.yml").write_text(yaml.safe_dump({
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "praxis_patch_updates_module": "praxis_test_win_updates",
            "praxis_patch_packages_facts_module": "praxis_test_chocolatey_facts",
            "praxis_patch_packages_module": "praxis_test_chocolatey",
            "praxis_patch_reboot_module": "praxis_test_win_reboot",
            "praxis_test_patch_fixture": str(FIXTURE), "praxis_test_patch_state": str(self.state),
        }), encoding="utf-8")

    def run(self, playbook: str, now: str, *args: str):
        result = ansible("ansible-playbook", "-i", str(self.env / "praxisops.yml"), f"playbooks/{playbook}",
                         "-e", f"praxis_output_dir={self.output}", "-e", f"praxis_now={now}", *args,
                         env={"ANSIBLE_ACTION_PLUGINS": f"{self.actions}:{ROOT / 'action_plugins'}"})
        return result, result.stdout + result.stderr

    def host(self, host: str) -> dict:
        path = self.state / f"{host}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"installed": [], "calls": []}

    def set(self, host: str, **values) -> None:
        state = self.host(host)
        state.update(values)
        (self.state / f"{host}.json").write_text(json.dumps(state), encoding="utf-8")

    def installs(self, host: str) -> list[dict]:
        return [c for c in self.host(host).get("calls", [])
                if c["module"] in ("chocolatey", "win_reboot")
                or (c["module"] == "win_updates" and c["args"].get("state") == "installed")]

    def rows(self, sql: str, *params) -> list[tuple]:
        with sqlite3.connect(self.ledger) as conn:
            return conn.execute(sql, params).fetchall()

    def states(self, host: str) -> dict[str, str]:
        return dict(self.rows("SELECT key, state FROM patch_devices WHERE host = ?", host))

    def snapshot(self) -> dict[str, list[tuple]]:
        tables = [row[0] for row in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")]
        # the audit trail records every run, dry runs too (docs/audit.md): not part of what a run decides
        return {table: self.rows(f"SELECT * FROM {table}") for table in sorted(tables)  # noqa: S608
                if table != "audit_log"}


def changed_by_patch_task(log: str) -> set[str]:
    """The hosts the patch task itself changed (the report task, run once, counts on the first host)."""
    hosts: set[str] = set()
    inside = False
    for line in log.splitlines():
        if line.startswith("TASK ["):
            inside = "Search or install the updates" in line
        elif inside and line.startswith("changed: ["):
            hosts.add(line.split("[", 1)[1].split("]", 1)[0])
    return hosts


def recap(log: str) -> dict[str, dict[str, int]]:
    """host -> the counters of the PLAY RECAP."""
    found = {}
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", log, re.MULTILINE):
        found[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counters)}
    return found


@pytest.fixture
def practice(tmp_path):
    return Practice(tmp_path)


def nightly_and_install(practice: Practice) -> None:
    result, log = practice.run("nightly.yml", CHECK_DAY0)
    assert result.returncode == 0, log
    result, log = practice.run("patch.yml", INSTALL_DAY0)
    assert result.returncode == 0, log


def test_the_pilot_installs_first_and_the_others_after_the_release(practice):
    result, log = practice.run("nightly.yml", CHECK_DAY0)
    assert result.returncode == 0, log
    # the search recorded what is in scope (the Defender definitions are not), nothing was installed
    assert practice.states(PILOT) == {LCU: "available", "pkg:7zip@24.09": "available",
                                      "pkg:googlechrome@131.0.6778.86": "available"}
    assert practice.states(WS03) == {LCU: "downloaded"}
    assert practice.states(SRV) == {SERVER_LCU: "available"}
    assert all(practice.installs(host) == [] for host in HOSTS)
    # the server has no Chocolatey: a warning, not a failure
    assert "programs not checked" in log and "is Chocolatey installed on this host?" in log
    assert [r[0] for r in practice.rows("SELECT DISTINCT status FROM events WHERE kind = 'patches'")] == ["ok"]
    assert {r[0] for r in practice.rows("SELECT host FROM patch_checks WHERE day = '2026-11-10'")} == set(HOSTS)

    result, log = practice.run("patch.yml", INSTALL_DAY0)
    assert result.returncode == 0, log
    counters = recap(log)
    assert changed_by_patch_task(log) == {PILOT}
    assert counters[WS02]["changed"] == 0 and counters[WS03]["changed"] == 0 and counters[SRV]["changed"] == 0
    # the pilot: the update in scope and 7-Zip (Chrome updates itself), rebooted inside the window
    pilot = practice.host(PILOT)
    assert pilot["installed"] == ["3f2d1a70-6c43-4b61-9d3e-2f1c8a7b9e01"] and pilot["reboots"] == 1
    assert pilot["packages"] == {"7zip": "24.09"}
    install = [c["args"] for c in practice.installs(PILOT) if c["module"] == "win_updates"]
    assert install == [{"state": "installed", "category_names": ["*"], "accept_list": [f"^{LCU}$"], "reboot": True,
                        "reboot_timeout": 1200}]
    assert practice.states(PILOT) == {LCU: "installed", "pkg:7zip@24.09": "installed",
                                      "pkg:googlechrome@131.0.6778.86": "available"}
    # the others wait for the release, the server too (its update is not offered to the pilot)
    for host in (WS02, WS03, SRV):
        assert practice.installs(host) == [], host
    assert practice.states(WS02) == {LCU: "available", "pkg:7zip@24.09": "available"}

    # a week later the nightly check releases what the pilot ran without a problem; the others install it
    result, log = practice.run("nightly.yml", CHECK_DAY7)
    assert result.returncode == 0, log
    released = dict(practice.rows("SELECT key, released_by FROM patch_rollouts WHERE released_at IS NOT NULL"))
    assert released == {LCU: "rule", "pkg:7zip@24.09": "rule", SERVER_LCU: "rule"}
    result, log = practice.run("patch.yml", INSTALL_DAY7)
    assert result.returncode == 0, log
    counters = recap(log)
    assert changed_by_patch_task(log) == {WS02, WS03, SRV}
    assert practice.states(WS02) == {LCU: "installed", "pkg:7zip@24.09": "installed"}
    assert practice.states(SRV) == {SERVER_LCU: "installed"}
    assert practice.host(WS02)["packages"] == {"7zip": "24.09"}


def test_a_second_identical_run_changes_nothing(practice):
    nightly_and_install(practice)
    before = practice.snapshot()["patch_devices"]
    result, log = practice.run("patch.yml", INSTALL_DAY0)
    assert result.returncode == 0, log
    assert all(counters["changed"] == 0 for counters in recap(log).values()), log
    assert practice.snapshot()["patch_devices"] == before
    assert len([c for c in practice.installs(PILOT) if c["module"] == "win_updates"]) == 1
    result, log = practice.run("nightly.yml", CHECK_DAY0)
    assert result.returncode == 0 and all(c["changed"] == 0 for c in recap(log).values()), log


def test_check_mode_writes_nothing_to_the_ledger_and_installs_nothing(practice):
    result, log = practice.run("nightly.yml", CHECK_DAY0)
    assert result.returncode == 0, log
    before = practice.snapshot()
    result, log = practice.run("patch.yml", INSTALL_DAY0, "--check", "-v")
    assert result.returncode == 0, log
    assert '"would_install": [\n        "KB5046633",\n        "pkg:7zip@24.09"\n    ]' in log or \
        re.search(r'"would_install": \[\s*"KB5046633",\s*"pkg:7zip@24\.09"\s*\]', log), log
    assert all(practice.installs(host) == [] for host in HOSTS)
    assert practice.snapshot() == before
    # the nightly check in check mode searches (read-only) and records nothing either
    result, log = practice.run("nightly.yml", CHECK_DAY7, "--check")
    assert result.returncode == 0, log
    assert practice.snapshot() == before


def test_a_dry_run_without_a_ledger_records_nothing_but_its_audit(practice):
    result, log = practice.run("nightly.yml", CHECK_DAY0, "--check")
    assert result.returncode == 0, log
    # the audit trail records the dry run itself (who looked at what); nothing else is written
    assert practice.ledger.exists()
    assert {table: rows for table, rows in practice.snapshot().items() if rows} == {}
    assert {r[0] for r in practice.rows("SELECT DISTINCT kind FROM audit_log")} >= {"run_start", "run_end"}


def test_install_outside_maintenance_time_is_refused_naming_the_next_window(practice):
    result, log = practice.run("nightly.yml", CHECK_DAY0)
    assert result.returncode == 0, log
    before = practice.snapshot()["patch_devices"]
    result, log = practice.run("patch.yml", "2026-11-11T10:00:00+01:00", "-v")      # Wednesday morning
    assert result.returncode == 0, log
    assert ("installing updates on weber-ws01 refused for site weber at 2026-11-11T10:00:00+01:00: business hours "
            "of the practice; next maintenance window 2026-11-11T19:00:00+01:00") in log
    counters = recap(log)
    assert all(counters[host]["skipped"] >= 1 and counters[host]["failed"] == 0 for host in HOSTS)
    assert all(practice.installs(host) == [] for host in HOSTS)
    assert practice.snapshot()["patch_devices"] == before
    refusals = practice.rows("SELECT host FROM patch_log WHERE action = 'refused'")
    assert sorted(r[0] for r in refusals) == sorted(HOSTS)
    assert [r[0] for r in practice.rows("SELECT DISTINCT status FROM events WHERE kind = 'patches' "
                                        "AND at > '2026-11-11'")] == ["refused"]


def test_forced_install_outside_maintenance_time_says_why(practice):
    result, log = practice.run("nightly.yml", CHECK_DAY0)
    assert result.returncode == 0, log
    result, log = practice.run("patch.yml", "2026-11-11T10:00:00+01:00", "-l", PILOT, "-e",
                               json.dumps({"praxis_force_reason": "Notfall-Patch nach Sicherheitswarnung"}))
    assert result.returncode == 0, log
    # a warning, and in the run summary of the practice
    assert ("weber: weber-ws01 warning: weber-ws01: updates installed outside maintenance time (business hours of "
            "the practice); reason given: Notfall-Patch nach Sicherheitswarnung") in log
    assert practice.states(PILOT)[LCU] == "installed"


def test_a_reboot_that_would_leave_the_window_is_deferred(practice):
    result, log = practice.run("nightly.yml", CHECK_DAY0)
    assert result.returncode == 0, log
    result, log = practice.run("patch.yml", "2026-11-10T22:45:00+01:00", "-l", PILOT, "-v")
    assert result.returncode == 0, log
    assert '"reboot_deferred_to": "2026-11-11T19:00:00+01:00"' in log
    assert practice.states(PILOT)[LCU] == "pending_reboot"
    assert practice.host(PILOT)["reboots"] == 0
    # the next window reboots first, then the search of the next night settles the update
    result, log = practice.run("patch.yml", "2026-11-11T19:30:00+01:00", "-l", PILOT)
    assert result.returncode == 0, log
    assert practice.host(PILOT)["reboots"] == 1
    result, log = practice.run("nightly.yml", "2026-11-11T20:30:00+01:00", "-l", PILOT)
    assert result.returncode == 0, log
    assert practice.states(PILOT)[LCU] == "installed"


def test_a_dropped_connection_is_retried(practice):
    result, log = practice.run("nightly.yml", CHECK_DAY0)
    assert result.returncode == 0, log
    practice.set(PILOT, drops=2)                         # the policy's default install_retries is 2
    result, log = practice.run("patch.yml", INSTALL_DAY0, "-l", PILOT)
    assert result.returncode == 0, log
    updates = [c for c in practice.installs(PILOT) if c["module"] == "win_updates"]
    assert len(updates) == 3
    assert practice.states(PILOT)[LCU] == "installed"


def test_a_connection_that_keeps_dropping_is_a_failure_with_an_incident(practice):
    result, log = practice.run("nightly.yml", CHECK_DAY0)
    assert result.returncode == 0, log
    practice.set(PILOT, drops=10)
    result, log = practice.run("patch.yml", INSTALL_DAY0, "-l", PILOT)
    assert result.returncode == 2, log
    assert recap(log)[PILOT]["failed"] == 1
    assert "connection to the host lost during praxis_test_win_updates (3 attempts, 2 retries)" in log
    assert len([c for c in practice.installs(PILOT) if c["module"] == "win_updates"]) == 3
    row = practice.rows("SELECT state, error_code FROM patch_devices WHERE host = ? AND key = ?", PILOT, LCU)
    assert row == [("failed", "connection")]
    incidents = practice.rows("SELECT check_id, subject, state FROM incidents WHERE host = ?", PILOT)
    assert ("patch.failed", LCU, "open") in incidents, incidents
    assert practice.rows("SELECT status FROM events WHERE kind = 'patches' AND host = ? ORDER BY id DESC LIMIT 1",
                         PILOT) == [("failed",)]


def test_a_failed_search_is_a_patch_check_finding(practice):
    practice.set(WS02, search_fails="Exception from HRESULT: 0x8024402C (WU_E_PT_WINHTTP_NAME_NOT_RESOLVED)")
    result, log = practice.run("nightly.yml", CHECK_DAY0)
    assert result.returncode == 0, log            # a warning: the host does not fail (fail_on critical)
    incidents = practice.rows("SELECT host, check_id, severity, message FROM incidents WHERE check_id LIKE 'patch.%'")
    assert [(h, c, s) for h, c, s, _m in incidents] == [(WS02, "patch.check", "warning")]
    assert "0x8024402C" in incidents[0][3]
    # not a successful check: no patch_checks row, the event says failed
    assert (WS02,) not in practice.rows("SELECT host FROM patch_checks")
    assert practice.rows("SELECT status FROM events WHERE kind = 'patches' AND host = ?", WS02) == [("failed",)]
    # the search works again the next night: the incident is resolved
    practice.set(WS02, search_fails=None)
    result, log = practice.run("nightly.yml", "2026-11-11T19:30:00+01:00")
    assert result.returncode == 0, log
    assert practice.rows("SELECT state FROM incidents WHERE host = ? AND check_id = 'patch.check'", WS02) != \
        [("open",)]


def test_a_held_program_is_taken_back_by_the_next_install_and_held_microsoft_updates_are_reported(practice):
    result, log = practice.run("nightly.yml", CHECK_DAY0)
    assert result.returncode == 0, log
    result, log = practice.run("patch.yml", INSTALL_DAY0)
    assert result.returncode == 0, log
    assert practice.host(PILOT)["packages"] == {"7zip": "24.09"}
    # a technician holds both with removal, through the CLI as on the job
    for key in ("pkg:7zip@24.09", LCU):
        cli = subprocess.run([sys.executable, str(ROOT / "scripts" / "praxis-patch"), "--ledger", str(practice.ledger),
                              "hold", key, "--site", "weber", "--by", "M. Sommer", "--remove",
                              "--reason", "Praxissoftware startet nicht"], capture_output=True, text=True, check=False)
        assert cli.returncode == 0, cli.stdout + cli.stderr
    result, log = practice.run("patch.yml", "2026-11-11T21:00:00+01:00", "-v")
    assert result.returncode == 0, log
    downgrades = [c["args"] for c in practice.installs(PILOT) if c["module"] == "chocolatey"
                  and c["args"].get("state") == "downgrade"]
    assert downgrades == [{"name": "7zip", "version": "24.08", "state": "downgrade"}]
    assert practice.states(PILOT)["pkg:7zip@24.09"] == "held"
    assert f"to be removed by hand (win_updates cannot uninstall): {LCU}" in log
    assert [r[0] for r in practice.rows("SELECT action FROM patch_log WHERE host = ? AND action = 'removed'",
                                        PILOT)] == ["removed"]
    # the others never get the held program or update
    result, log = practice.run("patch.yml", INSTALL_DAY7)
    assert result.returncode == 0, log
    assert all(c["args"].get("name") != "7zip" for c in practice.installs(WS02))
    assert practice.states(WS02)[LCU] != "installed"
