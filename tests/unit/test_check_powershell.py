"""The PowerShell syntax gate finds real errors with line and column."""

from __future__ import annotations

import importlib.util
import re
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
    "bare-word list argument": b"Export-ModuleMember -Function Get-A, Get-B\n",
}


@pytest.mark.parametrize("name", sorted(KNOWN_REJECTED))
def test_documented_rejections_still_hold(name):
    assert gate.problems(KNOWN_REJECTED[name]), f"the parser now accepts '{name}': drop it from docs/powershell.md"


@pytest.mark.parametrize("source", [
    b"$d = [System.Collections.Generic.Dictionary[string,object]]::new()\n",
    b"Remove-Item -Path $p -WhatIf:$module.CheckMode\n",
    b"switch ($x) {\n  'a' { 1 }\n  default { 2 }\n}\n",
    b"$h = [ordered]@{ a = 1 }\n",
    b"Export-ModuleMember -Function 'Get-A', 'Get-B'\n",
    b"Export-ModuleMember -Function @(\n    'Get-A',\n    'Get-B'\n)\n",
    b"$x = Read-Section -Module $module -Section 'facts.tpm' -Cmdlet 'Get-Tpm' -Read {\n    Get-Tpm\n}\n",
])
def test_documented_acceptances(source):
    assert gate.problems(source) == []


# Rules beyond syntax (docs/powershell.md): each catches a bad sample and passes a good one.
HEADER = b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n"
SPEC = b"$spec = @{\n    options = @{}\n    supports_check_mode = $true\n}\n"
BODY = b"$module = [Ansible.Basic.AnsibleModule]::Create($args, $spec)\n"
EXIT = b"$module.ExitJson()\n"


def rules(source: bytes) -> set[str]:
    """The rule ids of the breaches found in the source."""
    return {what.split("]")[0].lstrip("[") for _line, _column, what in gate.violations(source)}


def test_rule_sample_module_is_clean():
    assert gate.check(HEADER + SPEC + BODY + EXIT) == []
    assert gate.check(VALID) == []


@pytest.mark.parametrize("header", [
    b"#!powershell\n",
    b"#!powershell\n# needs: #AnsibleRequires -CSharpUtil Ansible.Basic\n",
    b"#!powershell\n<#\n#AnsibleRequires -CSharpUtil Ansible.Basic\n#>\n",
    b"#!powershell\n$x = '#AnsibleRequires -CSharpUtil Ansible.Basic'\n",
    b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basicx\n",
    b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic.Extra\n",
])
def test_module_needs_ansible_basic(header):
    assert "ansible-basic" in rules(header + SPEC + BODY + EXIT)


@pytest.mark.parametrize("header", [
    b"#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic\n",
    b"#!powershell\n\n# Copyright: praxisops contributors\n\n#ansiblerequires -csharputil Ansible.Basic\n",
    b"\xef\xbb\xbf#!powershell\n#AnsibleRequires -CSharpUtil Ansible.Basic -Optional\n",
])
def test_module_with_ansible_basic_passes(header):
    assert "ansible-basic" not in rules(header + SPEC + BODY + EXIT)


def test_ansible_basic_applies_to_modules_only():
    assert rules(b"function Get-Thing { return 1 }\n") == set()


UTIL = (b"# Copyright: praxisops contributors\n\nFunction Get-Thing($Value) {\n    return $Value\n}\n\n"
        b"Export-ModuleMember -Function 'Get-Thing'\n")


def test_module_util_is_not_a_module():
    # A module_util (no #!powershell) needs neither Ansible.Basic nor a $spec ...
    assert not gate.is_module(UTIL)
    assert gate.check(UTIL) == []
    # ... a $spec without supports_check_mode in it is no breach either ...
    assert gate.check(UTIL + b"$spec = @{ options = @{} }\n") == []
    # ... but the rules for every file hold.
    assert rules(UTIL.replace(b"return $Value", b"Write-Host $Value")) == {"write-host"}
    assert rules(UTIL.replace(b"return $Value", b"iex $Value")) == {"invoke-expression"}


@pytest.mark.parametrize("spec", [
    b"$spec = @{\n    options = @{}\n}\n",
    b"$spec = @{\n    options = @{}\n    supports_check_mode = $false\n}\n",
    b"$spec = @{\n    options = @{ supports_check_mode = @{ type = 'bool' } }\n}\n",
    b"# supports_check_mode = $true\n$spec = @{ options = @{} }\n",
    b"$options = @{ supports_check_mode = $true }\n",
])
def test_module_spec_needs_check_mode(spec):
    found = gate.violations(HEADER + spec + BODY + EXIT)
    assert any("[check-mode]" in what for _line, _column, what in found)


def test_check_mode_breach_names_the_spec_line():
    source = HEADER + b"\n$spec = @{\n    options = @{}\n}\n" + BODY
    assert [(line, what.split("]")[0]) for line, _column, what in gate.violations(source)] == [(4, "[check-mode")]


@pytest.mark.parametrize("spec", [
    b"$spec = @{ options = @{}; supports_check_mode = $true }\n",
    b"$spec = @{\n    'supports_check_mode' = $True\n    options = @{ a = @{ type = 'str' } }\n}\n",
])
def test_module_spec_with_check_mode_passes(spec):
    assert "check-mode" not in rules(HEADER + spec + BODY + EXIT)


@pytest.mark.parametrize("line", [
    b"Write-Host 'done'\n",
    b"write-host $module.Result\n",
    b"Microsoft.PowerShell.Utility\\Write-Host 'done'\n",
    b"if ($true) { Write-Host 'done' }\n",
    b"$s = \"$(Write-Host 'x')\"\n",
])
def test_write_host_is_caught(line):
    assert "write-host" in rules(line)


@pytest.mark.parametrize("line", [
    b"# never Write-Host here\n",
    b"$module.Warn('Write-Host is not used')\n",
    b"$text = @'\nWrite-Host in a here-string\n'@\n",
    b"$name = 'Write-Host'\n",
])
def test_write_host_in_comments_and_strings_passes(line):
    assert rules(line) == set()


@pytest.mark.parametrize("line", [
    b"$status = manage-bde -status C:\n",
    b"manage-bde.exe -protectors -get C: | Out-String\n",
    b"& 'C:\\Windows\\System32\\manage-bde.exe' -on C:\n",
    b"& \"$env:SystemRoot\\System32\\netsh.exe\" advfirewall show allprofiles\n",
    b"netsh wlan show profiles | Select-String 'x'\n",
    b"$logs = @(wevtutil el)\n",
    b"wevtutil.exe sl System /ms:1048576\n",
    b"Start-Process -FilePath 'manage-bde.exe' -ArgumentList '-on C:' -Wait\n",
    b"Start-Process manage-bde -Wait\n",
    b"cmd /c \"netsh advfirewall show allprofiles\"\n",
])
def test_localized_text_tools_are_caught(line):
    assert "localized-text" in rules(line)


@pytest.mark.parametrize("line", [
    b"# manage-bde, netsh and wevtutil print localized text: read objects instead\n",
    b"$volume = Get-BitLockerVolume -MountPoint $env:SystemDrive  # not manage-bde\n",
    b"$module.Warn('manage-bde output is never parsed')\n",
    b"$hint = \"netsh\"\n",
    b"<#\n wevtutil el\n#>\n",
    b"Write-Output 'wevtutil'\n",
])
def test_localized_text_tools_in_comments_and_strings_pass(line):
    assert rules(line) == set()


@pytest.mark.parametrize("line", [
    b"Invoke-Expression $command\n",
    b"iex 'Get-Date'\n",
    b"$command | Invoke-Expression\n",
    b"$out = Invoke-Expression -Command \"Get-$noun\"\n",
])
def test_invoke_expression_is_caught(line):
    assert "invoke-expression" in rules(line)


@pytest.mark.parametrize("line", [
    b"# Invoke-Expression is never used\n",
    b"$params = @{ Name = 'x' }\nGet-Item @params\n",
    b"$what = 'Invoke-Expression'\n",
])
def test_invoke_expression_in_comments_and_strings_passes(line):
    assert rules(line) == set()


def test_rule_breach_fails_the_gate_with_file_line_and_rule(tmp_path, capsys):
    bad = tmp_path / "bad.ps1"
    bad.write_bytes(HEADER + SPEC + BODY + b"Write-Host 'x'\n" + EXIT)
    assert gate.main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:8:1: [write-host]" in out


LIBRARY_SCRIPTS = sorted((ROOT / "library").glob("*.ps1"))
MODULE_UTILS = sorted((ROOT / "module_utils").glob("*.psm1"))


@pytest.mark.parametrize("path", LIBRARY_SCRIPTS, ids=[p.name for p in LIBRARY_SCRIPTS])
def test_library_module_passes_the_gate(path):
    assert gate.is_module(path.read_bytes()), f"{path.name} must start with #!powershell"
    assert gate.check(path.read_bytes()) == [], f"{path.name} fails scripts/check_powershell.py"


def test_library_has_the_windows_modules():
    names = {p.stem for p in LIBRARY_SCRIPTS}
    assert {"praxis_win_bitlocker", "praxis_win_defender"} <= names


def test_gate_checks_library_and_module_utils_by_default():
    found = {path.resolve() for path in gate.files([])}
    assert set(LIBRARY_SCRIPTS) | set(MODULE_UTILS) <= found
    assert not any(".venv" in path.parts for path in found)


def _tree(path: Path):
    source = path.read_bytes()
    return source, gate.PARSER.parse(source).root_node


def _defined(path: Path) -> set[str]:
    source, root = _tree(path)
    return {gate._text(node, source).lower() for node in gate._nodes(root, "function_name")}


def _exported(path: Path) -> tuple[set[str], str]:
    """The functions Export-ModuleMember names, and the text of the file's last statement."""
    source, root = _tree(path)
    names = set()
    for command in gate._nodes(root, "command"):
        named = gate._command_name(command, source)
        if named and named[0] == "export-modulemember":
            names |= {gate._text(node, source).strip("'\"").lower() for node in gate._nodes(command, "string_literal")}
    body = next(node for node in root.named_children if node.type == "statement_list")
    statements = [node for node in body.named_children if node.type != "comment"]
    return names, gate._text(statements[-1], source)


@pytest.mark.parametrize("path", MODULE_UTILS, ids=[p.name for p in MODULE_UTILS])
def test_module_util_passes_the_gate_and_exports_what_it_defines(path):
    source = path.read_bytes()
    assert path.name.startswith("Ansible.ModuleUtils."), "Ansible finds a PowerShell util by this name"
    assert not gate.is_module(source), f"{path.name} is a module_util, not a module"
    assert gate.check(source) == [], f"{path.name} fails scripts/check_powershell.py"
    exported, last = _exported(path)
    assert last.startswith("Export-ModuleMember -Function"), f"{path.name} must end with Export-ModuleMember"
    assert exported and exported <= _defined(path), f"{path.name} exports a function it does not define"


REQUIRES = re.compile(r"^#\s*requires\s+-modules?\s+(Ansible\.ModuleUtils\.\S+)\s*$", re.IGNORECASE | re.MULTILINE)


@pytest.mark.parametrize("path", LIBRARY_SCRIPTS, ids=[p.name for p in LIBRARY_SCRIPTS])
def test_library_module_finds_the_util_functions_it_calls(path):
    text = path.read_text(encoding="utf-8")
    required = REQUIRES.findall(text)
    source, root = _tree(path)
    called = {gate._command_name(command, source)[0] for command in gate._nodes(root, "command")
              if gate._command_name(command, source)}
    own = _defined(path)
    for util in MODULE_UTILS:
        util_name = util.name.removesuffix(".psm1")
        exported, _last = _exported(util)
        uses = (called & _defined(util)) - own
        if uses:
            assert util_name in required, f"{path.name} calls {sorted(uses)} without '#Requires -Module {util_name}'"
            assert uses <= exported, f"{util.name} does not export {sorted(uses - exported)}"
    for name in required:
        assert (ROOT / "module_utils" / f"{name}.psm1").is_file(), f"{path.name} requires {name}, which is not there"
