"""The PowerShell syntax gate finds real errors with line and column."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("check_powershell", ROOT / "scripts" / "check_powershell.py")
gate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gate)

VALID = b"""#!powershell
#AnsibleRequires -CSharpUtil Ansible.Basic
$spec = @{
    options = @{ name = @{ type = 'str'; required = $true } }
    supports_check_mode = $true
}
$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)
$volume = Get-BitLockerVolume -MountPoint $env:SystemDrive -ErrorAction Stop
if ($volume.ProtectionStatus -ne 'On') { $module.Result.changed = $true }
$module.ExitJson()
"""


def test_valid_module_has_no_problems():
    assert gate.problems(VALID) == []


def test_unclosed_block_is_reported_with_position(tmp_path):
    broken = VALID.replace(b"{ $module.Result.changed = $true }", b"{ $module.Result.changed = $true ")
    found = gate.problems(broken)
    assert found, "an unclosed block must be reported"
    line, column, _what = found[0]
    assert line >= 9 and column >= 1
    bad = tmp_path / "bad.ps1"
    bad.write_bytes(broken)
    assert gate.main([str(bad)]) == 1
    good = tmp_path / "good.ps1"
    good.write_bytes(VALID)
    assert gate.main([str(good)]) == 0
