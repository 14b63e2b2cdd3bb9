"""Shared by the Windows workplace tests: the recorded Windows side
(tests/fixtures/windows, shaped like Microsoft's documented cmdlet output) and
action plugins built around a stand-in for ``_execute_module``."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any, Callable
from unittest.mock import MagicMock

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "windows"


def fixture(name: str) -> dict[str, Any]:
    """A fixture file without its ``_source`` (fresh copy each time)."""
    data = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    data.pop("_source")
    return copy.deepcopy(data)


def load_plugin(kind: str, name: str) -> ModuleType:
    path = ROOT / kind / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"praxis_test_{kind}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recorder:
    """Stands in for ``ActionBase._execute_module``: answers with the given
    results in order and records the arguments and check mode of each call."""

    def __init__(self, action: Any, *answers: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.action = action
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, module_name=None, module_args=None, task_vars=None, **_kwargs) -> dict[str, Any]:
        self.calls.append({"module": module_name, "args": dict(module_args or {}),
                           "check_mode": self.action._task.check_mode,
                           "task_no_log": self.action._task.no_log,
                           "play_no_log": self.action._play_context.no_log})
        if not self.answers:
            raise AssertionError(f"unexpected call of {module_name}")
        answer = self.answers.pop(0)
        return copy.deepcopy(answer(module_args) if callable(answer) else answer)


def make_action(plugin: ModuleType, args: dict[str, Any], *answers: Any, check_mode: bool = False,
                vault_secrets: list | None = None) -> tuple[Any, Recorder]:
    task = MagicMock()
    task.args = dict(args)
    task.check_mode = check_mode
    task.async_val = 0
    task.no_log = False
    task.diff = False
    task.action = "praxis_test"
    play_context = MagicMock()
    play_context.no_log = False
    connection = MagicMock()
    connection._shell.tmpdir = "/nonexistent-tmp"
    connection._play_context = play_context
    loader = MagicMock()
    loader._vault.secrets = list(vault_secrets or [])
    action = plugin.ActionModule(task, connection, play_context, loader, None, None)
    action._templar = Templar(loader=DataLoader())
    recorder = Recorder(action, *answers)
    action._execute_module = recorder
    return action, recorder
