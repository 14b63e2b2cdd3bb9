"""The PowerShell syntax gate finds real errors with line and column."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

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


# docs/powershell.md: valid PowerShell the parser rejects, which the project avoids.
KNOWN_REJECTED = {
    "size suffix in arithmetic": b"$x = 5 * 1GB\n",
    "one-line switch with default": b"switch ($x) { 'a' { 1 } 'b' { 2 } default { 3 } }\n",
    "ForEach method": b"$a.ForEach({ $_ * 2 })\n",
    "param with attributes": b"param(\n [Parameter(Mandatory=$true)][string]$Name\n)\n",
    "ternary": b"$x = $a ? 1 : 2\n",
}


@pytest.mark.parametrize("name", sorted(KNOWN_REJECTED))
def test_documented_rejections_still_hold(name):
    assert gate.problems(KNOWN_REJECTED[name]), f"the parser now accepts '{name}': drop it from docs/powershell.md"


@pytest.mark.parametrize("source", [
    b"$d = [System.Collections.Generic.Dictionary[string,object]]::new()\n",
    b"Remove-Item -Path $p -WhatIf:$module.CheckMode\n",
    b"switch ($x) {\n  'a' { 1 }\n  default { 2 }\n}\n",
    b"$h = [ordered]@{ a = 1 }\n",
])
def test_documented_acceptances(source):
    assert gate.problems(source) == []
