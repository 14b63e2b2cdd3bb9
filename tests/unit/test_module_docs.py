"""The documentation in library/ matches the argument spec the action plugin really checks.

`ansible-test sanity` (validate-modules, scripts/ansible_sanity.py) compares a module's
DOCUMENTATION with the spec of the module file; the modules that run as action plugins are
documentation only there, so this test compares their DOCUMENTATION (with the document
fragments) against the action's spec: the same options, types, element types, choices,
required flags and defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import fragment_loader
from ansible.template import Templar
from ansible.utils.plugin_docs import get_docstring

from tests.unit.windows_helpers import load_plugin

ROOT = Path(__file__).resolve().parents[2]
ACTIONS = sorted(p.stem for p in (ROOT / "action_plugins").glob("praxis_*.py"))


def action_spec(name: str) -> dict[str, dict[str, Any]]:
    """The spec the action validates its options with, as a task sees it: an option the
    action fills from the project-wide variables or its defaults is not required of the task."""
    plugin = load_plugin("action_plugins", name)
    if hasattr(plugin, "ARGUMENT_SPEC"):
        return plugin.ARGUMENT_SPEC
    from ansible.module_utils.praxis_netops import DEVICE_ARGUMENT_SPEC

    action = plugin.ActionModule(MagicMock(), MagicMock(), MagicMock(), MagicMock(), None, None)
    action._templar = Templar(loader=DataLoader())
    spec = dict(DEVICE_ARGUMENT_SPEC, **action.SPEC)
    spec["timeout"] = dict(spec["timeout"], default=action.DEFAULT_TIMEOUT)
    filled = action.fallbacks({"playbook_dir": "/srv/praxisops/playbooks"})
    return {key: dict(value, required=False) if filled.get(key) is not None else value
            for key, value in spec.items()}


def documented_options(name: str) -> dict[str, dict[str, Any]]:
    fragment_loader.add_directory(str(ROOT / "doc_fragments"))
    doc, _plainexamples, _returndocs, _metadata = get_docstring(str(ROOT / "library" / f"{name}.py"), fragment_loader)
    return doc["options"]


def differences(spec: dict[str, dict[str, Any]], docs: dict[str, dict[str, Any]]) -> list[str]:
    found = [f"{key}: in the spec, not documented" for key in sorted(set(spec) - set(docs))]
    found += [f"{key}: documented, not in the spec" for key in sorted(set(docs) - set(spec))]
    for key in sorted(set(spec) & set(docs)):
        for field, blank in (("type", "str"), ("elements", None), ("choices", None), ("required", False),
                             ("default", None)):
            wanted, written = spec[key].get(field, blank), docs[key].get(field, blank)
            if field == "type" and wanted == "raw" and written is None:
                continue
            if wanted != written:
                found.append(f"{key}.{field}: spec {wanted!r}, documentation {written!r}")
    return found


@pytest.mark.parametrize("name", ACTIONS)
def test_documentation_matches_the_action_spec(name):
    assert (ROOT / "library" / f"{name}.py").exists(), f"action plugin {name} has no documentation in library/"
    assert differences(action_spec(name), documented_options(name)) == []


def test_differences_names_every_kind_of_mismatch():
    spec = {"a": {"type": "int", "default": 3}, "b": {"type": "str", "required": True},
            "c": {"type": "list", "elements": "str", "choices": ["x"]}, "d": {"type": "dict"}}
    docs = {"a": {"type": "int", "default": 4}, "b": {"type": "str"},
            "c": {"type": "list", "elements": "int", "choices": ["x", "y"]}, "e": {"type": "str"}}
    assert differences(spec, docs) == [
        "d: in the spec, not documented",
        "e: documented, not in the spec",
        "a.default: spec 3, documentation 4",
        "b.required: spec True, documentation False",
        "c.elements: spec 'str', documentation 'int'",
        "c.choices: spec ['x'], documentation ['x', 'y']",
    ]
