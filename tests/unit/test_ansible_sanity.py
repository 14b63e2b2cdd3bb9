"""scripts/ansible_sanity.py: the temporary collection is the project's code, line for line,
with only the names a collection needs (the run of ansible-test itself is `make lint`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("ansible_sanity", ROOT / "scripts" / "ansible_sanity.py")
sanity = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sanity)

C = "ansible_collections.praxisops.service.plugins"

SOURCE = '''DOCUMENTATION = r"""
module: praxis_thing
extends_documentation_fragment:
  - praxis_device
description: Like M(praxis_win_facts) and P(praxis_working_days#filter).
seealso:
  - module: praxis_win_health
author: praxisops contributors
"""
import ansible.module_utils as _ansible_module_utils
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.praxis_netops import DEVICE_ARGUMENT_SPEC
from ansible.module_utils.praxis_action import DeviceAction
from ansible.module_utils import praxis_ledger
from ansible.module_utils import (  # noqa: F401  # pylint: disable=unused-import
    praxis_driver_lancom,
)
driver = f"ansible.module_utils.praxis_driver_{vendor}"
'''


def test_rewrite_qualifies_imports_fragments_and_references_line_for_line():
    text = sanity.rewrite(SOURCE, ".py", {"praxis_netops", "praxis_ledger", "praxis_driver_lancom"})
    lines = text.splitlines()
    assert len(lines) == len(SOURCE.splitlines())
    assert "module: praxis_thing" in lines
    assert "  - praxisops.service.praxis_device" in lines
    assert "description: Like M(praxisops.service.praxis_win_facts) and " \
           "P(praxisops.service.praxis_working_days#filter)." in lines
    assert "  - module: praxisops.service.praxis_win_health" in lines
    assert "author: praxisops contributors (!UNKNOWN)" in lines
    assert "import ansible.module_utils as _ansible_module_utils" in lines
    assert "from ansible.module_utils.basic import AnsibleModule" in lines
    assert f"from {C}.module_utils.praxis_netops import DEVICE_ARGUMENT_SPEC" in lines
    assert f"from {C}.plugin_utils.praxis_action import DeviceAction" in lines
    assert f"from {C}.module_utils import praxis_ledger" in lines
    assert f"from {C}.module_utils import (  # noqa: F401  # pylint: disable=unused-import" in lines
    assert f'driver = f"{C}.module_utils.praxis_driver_{{vendor}}"' in lines


def test_rewrite_of_powershell_and_filter_documentation():
    ps = "#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n" \
         "#Requires -Module Ansible.ModuleUtils.PraxisWindows\n\n"
    wanted = [f"#AnsibleRequires -PowerShell {C}.module_utils.PraxisWindows", "", ""]
    assert sanity.rewrite(ps, ".ps1").split("\n")[2:] == wanted
    assert sanity.rewrite("description: see M(praxis_win_facts)\n", ".yml") == \
        "description: see M(praxisops.service.praxis_win_facts)\n"


def test_module_utils_that_modules_import_stay_module_utils_the_others_are_controller_only():
    sources = {f"{p.parent.name}/{p.name}": p.read_text(encoding="utf-8")
               for folder in ("library", "module_utils") for p in (ROOT / folder).glob("*.py")}
    side = sanity.module_side(sources)
    assert {"praxis_netops", "praxis_driver", "praxis_driver_lancom", "praxis_ledger", "praxis_backup"} <= side
    assert not side & {"praxis_action", "praxis_site", "praxis_escrow", "praxis_workplace"}


def test_assembled_collection_maps_back_to_every_project_file(tmp_path):
    root, mapping = sanity.assemble(tmp_path)
    assert mapping["plugins/modules/praxis_config_backup.py"] == "library/praxis_config_backup.py"
    assert mapping["plugins/plugin_utils/praxis_action.py"] == "module_utils/praxis_action.py"
    assert mapping["plugins/module_utils/PraxisWindows.psm1"] == "module_utils/Ansible.ModuleUtils.PraxisWindows.psm1"
    assert mapping["plugins/filter/praxis_working_days.yml"] == "filter_plugins/praxis_working_days.yml"
    for relative, project in mapping.items():
        assert len((root / relative).read_text(encoding="utf-8").splitlines()) == \
            len((ROOT / project).read_text(encoding="utf-8").splitlines()), project
    output = f"ERROR: {root}/plugins/plugin_utils/praxis_action.py:29:0: something"
    assert sanity.project_path(output, root, mapping) == "ERROR: module_utils/praxis_action.py:29:0: something"


def test_every_ignore_needs_its_reason_and_a_project_file(tmp_path, monkeypatch):
    mapping = {"plugins/modules/praxis_x.py": "library/praxis_x.py",
               "plugins/modules/praxis_y.ps1": "library/praxis_y.ps1"}
    ignore = tmp_path / "ignore.txt"
    monkeypatch.setattr(sanity, "IGNORE_FILE", ignore)
    monkeypatch.setattr(sanity, "ROOT", tmp_path)
    ignore.write_text("# comment\n\nlibrary/praxis_x.py pylint:unused-import  # imported for its side effect\n")
    assert sanity.ignore_lines(mapping, pwsh=True) == ["plugins/modules/praxis_x.py pylint:unused-import"]
    assert sanity.ignore_lines(mapping, pwsh=False)[-1] == "plugins/modules/praxis_y.ps1 validate-modules!skip"
    ignore.write_text("library/praxis_x.py pylint:unused-import\n")
    with pytest.raises(SystemExit, match=r"ignore.txt:1: an ignore needs its reason"):
        sanity.ignore_lines(mapping, pwsh=True)
    ignore.write_text("library/praxis_z.py pylint:unused-import  # a reason\n")
    with pytest.raises(SystemExit, match=r"ignore.txt:1: library/praxis_z.py is not part of the collection"):
        sanity.ignore_lines(mapping, pwsh=True)


def test_every_skipped_test_has_its_reason():
    for reasons in (sanity.SKIPPED_TESTS, sanity.PWSH_TESTS):
        assert reasons and all(isinstance(reason, str) and len(reason) > 20 for reason in reasons.values())


def test_one_import_of_a_module_util_and_a_controller_only_util_is_refused_naming_the_line():
    sources = {"module_utils/praxis_report.py": "x = 1\nfrom ansible.module_utils import praxis_audit, praxis_ledger\n"}
    problems = sanity.mixed_imports(sources, {"praxis_ledger"})
    assert problems == ["module_utils/praxis_report.py:2: import praxis_audit, praxis_ledger on separate lines (some "
                        "are module utils, some controller-only: praxis_audit)"]
    assert sanity.mixed_imports({"a.py": "from ansible.module_utils import praxis_ledger, praxis_backup\n"},
                                {"praxis_ledger", "praxis_backup"}) == []
    project = {f"{p.parent.name}/{p.name}": p.read_text(encoding="utf-8")
               for folder in ("library", "module_utils", "action_plugins", "callback_plugins", "filter_plugins",
                              "inventory_plugins") for p in (ROOT / folder).glob("*.py")}
    assert sanity.mixed_imports(project, sanity.module_side(project)) == []
