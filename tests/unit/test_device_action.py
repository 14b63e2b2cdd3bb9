"""Network device actions complete left-out options from the project-wide
variables, then from the operation's defaults (module_utils/praxis_action.py)."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from tests.unit.windows_helpers import load_plugin


def action_for(name: str, args: dict, check_mode: bool = False):
    plugin = load_plugin("action_plugins", name)
    task = MagicMock()
    task.args = dict(args)
    task.action = name
    task.check_mode = check_mode
    task.async_val = 0
    action = plugin.ActionModule(task, MagicMock(), MagicMock(), MagicMock(), None, None)
    action._templar = Templar(loader=DataLoader())
    return action


BASE_VARS = {"playbook_dir": "/srv/praxisops/playbooks"}


@pytest.fixture(autouse=True)
def _no_generated_run(monkeypatch):
    monkeypatch.delenv("PRAXIS_RUN_ID", raising=False)


def test_left_out_options_take_the_operation_defaults():
    args = action_for("praxis_device_facts", {"thresholds": {}}).arguments(dict(BASE_VARS))
    assert args["timeout"] == 20.0 and args["retries"] == 3 and args["retry_delay"] == 1.0
    assert args["ledger"] == "/srv/praxisops/output/ledger.sqlite"
    assert args["facts_dir"] == "/srv/praxisops/output/facts"
    assert args["run"] == "" and args["now"] is None


def test_null_options_take_the_project_wide_variables():
    task_vars = dict(BASE_VARS, praxis_device_timeout="7", praxis_device_retries=5, praxis_device_retry_delay=0.5,
                     praxis_output_dir="/var/praxis", praxis_now="2026-11-24T23:00:00+01:00", awx_job_id=4711,
                     praxis_run_id="ignored: AWX wins")
    args = action_for("praxis_device_facts", {"timeout": None, "ledger": None, "facts_dir": None,
                                              "run": None}).arguments(task_vars)
    assert (args["timeout"], args["retries"], args["retry_delay"]) == (7.0, 5, 0.5)
    assert args["ledger"] == "/var/praxis/ledger.sqlite" and args["facts_dir"] == "/var/praxis/facts"
    assert args["run"] == "4711" and args["now"] == "2026-11-24T23:00:00+01:00"


def test_given_options_win_over_the_variables():
    task_vars = dict(BASE_VARS, praxis_device_timeout=7, praxis_ledger_path="/l/global.sqlite", praxis_run_id="r1")
    args = action_for("praxis_signature_update", {"timeout": 3, "ledger": "/l/role.sqlite",
                                                  "run": "job-9"}).arguments(task_vars)
    assert (args["timeout"], args["ledger"], args["run"]) == (3.0, "/l/role.sqlite", "job-9")
    assert action_for("praxis_signature_update", {}).arguments(task_vars)["run"] == "r1"


def test_backup_operations_default_to_the_store_and_a_longer_timeout():
    store = {"type": "sftp", "host": "backup.example", "path": "/srv/backups"}
    backup = action_for("praxis_config_backup", {}).arguments(dict(BASE_VARS, praxis_backup_store=store))
    assert backup["store"] == store and backup["timeout"] == 60.0
    firmware = action_for("praxis_firmware_update", {}).arguments(
        dict(BASE_VARS, praxis_output_dir="/var/praxis", praxis_force_reason="ticket 12"))
    assert firmware["backup_store"] == {"type": "local", "path": "/var/praxis/backups"}
    assert firmware["force_reason"] == "ticket 12" and firmware["timeout"] == 60.0
    assert action_for("praxis_device_settings", {"settings": {}}).arguments(dict(BASE_VARS))["timeout"] == 30.0


def test_a_bad_variable_is_named_in_the_error():
    with pytest.raises(AnsibleActionFail, match="timeout"):
        action_for("praxis_device_facts", {}).arguments(dict(BASE_VARS, praxis_device_timeout="soon"))
    with pytest.raises(AnsibleActionFail, match="fail_on"):
        action_for("praxis_device_facts", {"fail_on": "sometimes"}).arguments(dict(BASE_VARS))


ACTIONS = ["praxis_device_facts", "praxis_config_backup", "praxis_device_settings", "praxis_firmware_update",
           "praxis_signature_update"]


@pytest.mark.parametrize("name", ACTIONS)
def test_check_mode_records_nothing_in_the_ledger(name):
    task_vars = dict(BASE_VARS, praxis_ledger_path="/l/global.sqlite")
    args = {"settings": {}} if name == "praxis_device_settings" else {}
    assert action_for(name, dict(args, ledger="/l/task.sqlite"), check_mode=True).arguments(task_vars)["ledger"] is None
    assert action_for(name, dict(args), check_mode=True).arguments(task_vars)["ledger"] is None
    assert action_for(name, dict(args)).arguments(task_vars)["ledger"] == "/l/global.sqlite"


@pytest.mark.parametrize("name", ACTIONS)
def test_without_awx_or_praxis_run_id_the_generated_run_id_is_recorded(name, monkeypatch):
    monkeypatch.setenv("PRAXIS_RUN_ID", "local-20261125T223000Z-abc123")
    args = {"settings": {}} if name == "praxis_device_settings" else {}
    assert action_for(name, dict(args)).arguments(dict(BASE_VARS))["run"] == "local-20261125T223000Z-abc123"
    assert action_for(name, dict(args)).arguments(dict(BASE_VARS, praxis_run_id="r7"))["run"] == "r7"
    assert action_for(name, dict(args)).arguments(dict(BASE_VARS, awx_job_id=12, praxis_run_id="r7"))["run"] == "12"


@pytest.mark.parametrize("name", ACTIONS)
def test_check_mode_still_reads_the_recorded_identities(name, tmp_path):
    """A dry run writes nothing, but it must compare the device's key with the
    recorded one: without the ledger path it would call every device unknown."""
    from ansible.module_utils import praxis_ledger

    ledger = str(tmp_path / "ledger.sqlite")
    praxis_ledger.record_identity(ledger, host="lab001-sw01", kind="ssh", algorithm="ssh-ed25519",
                                  fingerprint="SHA256:" + "A" * 43, accepted_by="tech", accepted_reason="onboarding")
    task_vars = dict(BASE_VARS, praxis_ledger_path=ledger)
    args = {"settings": {}} if name == "praxis_device_settings" else {}
    action = action_for(name, dict(args), check_mode=True)
    params = action.arguments(task_vars)
    store = action.identity_store(params, task_vars)
    assert params["ledger"] is None and store.check_mode
    assert store.ledger == ledger
    assert praxis_ledger.identity(store.ledger, "lab001-sw01", "ssh")["fingerprint"] == "SHA256:" + "A" * 43
def device_vars(tmp_path, **extra):
    return dict(BASE_VARS, inventory_hostname="huber-fw01", praxis_output_dir=str(tmp_path),
                praxis_site={"id": "huber", "state": "BY"},
                praxis_device={"name": "fw01", "role": "firewall", "vendor": "opnsense", "address": "127.0.0.1",
                               "credentials": "vault_huber_fw01"},
                vault_huber_fw01={"username": "key", "password": "secret"}, **extra)


def test_a_bad_praxis_now_is_a_failed_result_naming_host_and_fix(tmp_path):
    result = action_for("praxis_device_facts", {}).run(task_vars=device_vars(tmp_path, praxis_now="gestern"))
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("huber-fw01: device facts: ")
    assert "'gestern' is not an ISO-8601 timestamp" in result["msg"] and "praxis_now" in result["msg"]


def test_a_bad_threshold_layer_is_a_failed_result(tmp_path):
    result = action_for("praxis_device_facts", {}).run(
        task_vars=device_vars(tmp_path, praxis_thresholds={"volume_full": 1}))
    assert result["failed"] is True
    assert "group_vars praxis_thresholds: unknown threshold 'volume_full'" in result["msg"]


def test_the_windows_actions_share_the_base():
    from ansible.module_utils.praxis_action import PraxisAction

    for name in ("praxis_win_health", "praxis_win_bitlocker", *ACTIONS):
        assert issubclass(load_plugin("action_plugins", name).ActionModule, PraxisAction), name


def test_every_project_error_derives_from_praxis_error():
    from ansible.module_utils import (
        praxis_backup, praxis_calendar, praxis_escrow, praxis_findings, praxis_health, praxis_ledger, praxis_netops,
        praxis_site, praxis_workplace,
    )
    from ansible.module_utils.praxis_errors import PraxisError

    for error in (praxis_netops.OperationError, praxis_ledger.LedgerError, praxis_calendar.CalendarError,
                  praxis_site.SiteError, praxis_health.HealthError, praxis_workplace.WorkplaceError,
                  praxis_escrow.EscrowError, praxis_backup.BackupError, praxis_findings.FindingError):
        assert issubclass(error, PraxisError), error


def test_check_actions_return_findings_checks_and_incidents(tmp_path, monkeypatch):
    from ansible.module_utils import praxis_action

    seen = []
    monkeypatch.setattr(praxis_action, "report", lambda ledger, **kw: seen.append((ledger, kw)) or {"opened": []})
    action = action_for("praxis_signature_update", {}, check_mode=True)
    monkeypatch.setattr(action, "operate", lambda *a: {"changed": False, "findings": [], "checks": ["net.x"]})
    result = action.run(task_vars=device_vars(tmp_path))
    assert result["incidents"] == {"opened": []}
    ((ledger, kw),) = seen
    assert ledger == str(tmp_path / "ledger.sqlite") and kw["check_mode"] is True and kw["checks"] == ["net.x"]
    assert kw["site"] == "huber" and kw["host"] == "huber-fw01"


def test_the_ledger_timeout_comes_from_praxis_ledger_timeout(tmp_path, monkeypatch):
    from ansible.module_utils import praxis_ledger

    seen = []
    action = action_for("praxis_signature_update", {})
    monkeypatch.setattr(action, "operate", lambda *a: seen.append(praxis_ledger._timeout) or {"changed": False})
    action.run(task_vars=device_vars(tmp_path, praxis_ledger_timeout="0.5"))
    assert seen == [0.5] and praxis_ledger._timeout == praxis_ledger.DEFAULT_TIMEOUT
    bad = device_vars(tmp_path, praxis_ledger_timeout="bald")
    result = action_for("praxis_signature_update", {}).run(task_vars=bad)
    assert result["failed"] is True and result["msg"].startswith("huber-fw01: ")
    assert "praxis_ledger_timeout 'bald' is not a positive number of seconds" in result["msg"]


def test_the_identity_check_in_check_mode_reads_the_recorded_identities(tmp_path):
    action = action_for("praxis_device_facts", {}, check_mode=True)
    task_vars = device_vars(tmp_path)
    args = action.arguments(task_vars)
    assert args["ledger"] is None    # nothing is recorded in check mode ...
    store = action.identity_store(args, task_vars)
    assert store.ledger == str(tmp_path / "ledger.sqlite") and store.check_mode is True   # ... but it is read


@pytest.mark.parametrize("variable", ["device_health_thresholds", "workplace_health_thresholds"])
def test_a_retired_variable_still_set_fails_the_host_naming_its_replacement(tmp_path, variable):
    result = action_for("praxis_device_facts", {}).run(
        task_vars=device_vars(tmp_path, **{variable: {"cpu_percent": 75}}))
    assert result["failed"] is True and result["changed"] is False
    assert f"{variable} is no longer read" in result["msg"] and "praxis_thresholds" in result["msg"]
    assert result["msg"].startswith("huber-fw01: ")


def test_play_sites_gives_each_practice_of_the_play_once_and_refuses_a_host_without_a_site():
    from ansible.module_utils.praxis_netops import OperationError

    action = action_for("praxis_patch_report", {})
    huber = {"id": "huber", "devices": {"workplaces": []}}
    weber = {"id": "weber", "devices": {}}
    task_vars = {"ansible_play_hosts_all": ["huber-ws01", "huber-ws02", "weber-fw01", "localhost"],
                 "groups": {"windows": ["huber-ws01", "huber-ws02"]},
                 "hostvars": {"huber-ws01": {"praxis_site": huber}, "huber-ws02": {"praxis_site": huber},
                              "weber-fw01": {"praxis_site": weber}, "localhost": {}}}
    assert list(action.play_sites(task_vars)) == ["huber", "weber"]
    assert list(action.play_sites(task_vars, "windows")) == ["huber"]
    task_vars["hostvars"]["weber-fw01"] = {"praxis_site": {"id": "weber"}}
    with pytest.raises(OperationError, match="weber-fw01: praxis_site has no id or devices"):
        action.play_sites(task_vars)
