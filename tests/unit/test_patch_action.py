"""The patch action's seams (WP-08): PraxisAction.run_plugin runs an action
plugin as a sub-action (a copy of the task with the new arguments, the same
connection) and a module without one through _execute_module; the install's
retries after a dropped connection; a bad policy is refused naming the field.
The whole action through ansible-playbook: tests/integration/test_patching.py."""

from __future__ import annotations

from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleConnectionFailure

from tests.unit.windows_helpers import load_plugin, make_action

PLUGIN = load_plugin("action_plugins", "praxis_win_patch")
SITE = {"id": "weber", "state": "HE", "pilot": "ws01"}
VARS = {"inventory_hostname": "weber-ws01", "praxis_site": SITE, "group_names": ["windows", "workplaces", "pilot"],
        "praxis_now": "2026-11-10T21:00:00+01:00"}


class Loader:
    """Stands in for the action loader: knows the action plugins named."""

    def __init__(self, actions: dict[str, dict]) -> None:
        self.actions = actions
        self.built: list[dict] = []

    def has_plugin(self, name, collection_list=None):
        return name in self.actions

    def get(self, name, **kwargs):
        self.built.append(dict(kwargs, name=name))
        plugin = MagicMock()
        plugin.run.return_value = self.actions[name]
        return plugin


def action_with(loader: Loader, *answers, check_mode=False, args=None):
    action, recorder = make_action(PLUGIN, args or {"mode": "check"}, *answers, check_mode=check_mode)
    action._task.copy.return_value = MagicMock()
    action._shared_loader_obj = MagicMock()
    action._shared_loader_obj.action_loader = loader
    return action, recorder


def test_run_plugin_builds_an_action_plugin_as_a_sub_action_with_its_own_arguments():
    loader = Loader({"ansible.windows.win_updates": {"changed": False, "updates": {}}})
    action, recorder = action_with(loader)
    result = action.run_plugin("ansible.windows.win_updates", {"state": "searched"}, VARS)
    assert result == {"changed": False, "updates": {}}
    built = loader.built[0]
    assert built["task"] is action._task.copy.return_value and built["task"].args == {"state": "searched"}
    assert built["connection"] is action._connection and built["play_context"] is action._play_context
    assert action._task.args == {"mode": "check"}           # the task itself keeps its own arguments
    assert recorder.calls == []


def test_run_plugin_runs_a_module_without_action_plugin_as_a_module():
    loader = Loader({})
    action, recorder = action_with(loader, {"ansible_facts": {"ansible_chocolatey": {"packages": []}}})
    result = action.run_plugin("chocolatey.chocolatey.win_chocolatey_facts", {"filter": ["packages"]}, VARS)
    assert result["ansible_facts"]["ansible_chocolatey"] == {"packages": []}
    assert recorder.calls == [{"module": "chocolatey.chocolatey.win_chocolatey_facts",
                               "args": {"filter": ["packages"]}, "check_mode": False, "task_no_log": False,
                               "play_no_log": False}]
    assert loader.built == []


def test_the_generic_normal_action_is_never_taken_for_a_module():
    loader = Loader({"ansible.legacy.normal": {"changed": True}})
    action, recorder = action_with(loader, {"changed": False})
    assert action.run_plugin("ansible.legacy.normal", {}, VARS) == {"changed": False}
    assert loader.built == [] and len(recorder.calls) == 1


def test_install_retries_a_dropped_connection_then_gives_up():
    action, _recorder = action_with(Loader({}))
    answers = [AnsibleConnectionFailure("reset"), {"unreachable": True, "msg": "timed out"}, {"changed": True}]

    def run_plugin(name, args, task_vars):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    action.run_plugin = run_plugin
    assert action.attempt("win_updates", {}, VARS, 2) == ({"changed": True}, 2)
    answers[:] = [AnsibleConnectionFailure("reset")] * 3
    with pytest.raises(PLUGIN.Dropped, match=r"win_updates \(2 attempts, 1 retries\): reset"):
        action.attempt("win_updates", {}, VARS, 1)
    assert len(answers) == 1


def test_a_bad_policy_is_refused_naming_the_field_before_the_host_is_touched():
    action, recorder = action_with(Loader({}), args={"mode": "install", "policy": {"install_retries": 9}})
    result = action.run(task_vars=dict(VARS))
    assert result["failed"] and "praxis_patch_policy.install_retries must be a whole number from 0 to 5" in \
        result["msg"]
    assert recorder.calls == []


LCU = "3f2d1a70-6c43-4b61-9d3e-2f1c8a7b9e01"
NET = "8a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


def entry(title: str, kb: str, installed: bool) -> dict:
    return {"title": title, "kb": [kb], "installed": installed, "downloaded": True, "categories": ["Security Updates"]}


def test_what_an_attempt_installed_before_the_connection_dropped_is_kept():
    """win_updates reports the updates it saw with unreachable (ansible.windows action): one installed
    before the drop is not offered to the retry, and must not be lost from the outcome."""
    action, _recorder = action_with(Loader({}))
    first = {"unreachable": True, "msg": "connection reset", "reboot_required": True,
             "updates": {NET: dict(entry("2026-11 .NET (KB5045934)", "5045934", True), id=NET),
                         LCU: dict(entry("2026-11 LCU (KB5046633)", "5046633", False), id=LCU)}}
    second = {"changed": True, "reboot_required": False,
              "updates": {LCU: dict(entry("2026-11 LCU (KB5046633)", "5046633", True), id=LCU)}}
    answers = [first, second]
    action.run_plugin = lambda name, args, task_vars: answers.pop(0)
    result, retries = action.attempt("win_updates", {}, VARS, 2)
    assert retries == 1 and result["reboot_required"] is True
    assert {ident: e["installed"] for ident, e in result["updates"].items()} == {NET: True, LCU: True}
    # every attempt dropped: the partial outcome goes with the error
    answers[:] = [first, first]
    with pytest.raises(PLUGIN.Dropped) as caught:
        action.attempt("win_updates", {}, VARS, 1)
    assert caught.value.result["updates"][NET]["installed"] is True
    assert "unreachable" not in caught.value.result
