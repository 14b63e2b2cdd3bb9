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
