#!/usr/bin/env python3
"""Gate for every PowerShell file (.ps1, .psm1) of the project: syntax and house rules.

Parses each file with tree-sitter-powershell and reports, with line and column:

- every ERROR or MISSING node (syntax). The parser rejects a few constructs
  that are valid PowerShell; docs/powershell.md lists them and the project's
  PowerShell avoids them, so this gate needs no allow-list.
- every breach of the rules of docs/powershell.md ("Rules beyond syntax"),
  found in the parse tree, so comments and string contents never trigger them:
  ansible-basic      a module (first line `#!powershell`) has the comment
                     `#AnsibleRequires -CSharpUtil Ansible.Basic`
  check-mode         a module assigns `$spec = @{ ... }` with the entry
                     `supports_check_mode = $true`
  write-host         no `Write-Host`
  localized-text     no `manage-bde`, `netsh` or `wevtutil`: not as a command
                     (also by path, `.exe`, `&` or `.`), not as a bare word
                     argument, not as the program a launcher (`Start-Process`,
                     `cmd`, `powershell`, `pwsh`) starts
  invoke-expression  no `Invoke-Expression` (or its alias `iex`)

The module rules apply only to files that start with `#!powershell`; a
module_util (module_utils/Ansible.ModuleUtils.*.psm1) is checked for syntax
and the rules for every file.

Usage: check_powershell.py [PATH ...]   (default: the repository, so every
library/*.ps1 and module_utils/*.psm1; .venv, .git and the like are skipped)
Exit 0 when every file passes, 1 otherwise.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import tree_sitter
import tree_sitter_powershell

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", ".git", "node_modules", ".lab"}
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))

# Tools whose output is localized text, with the object-returning replacement to name in the message.
LOCALIZED_TOOLS = {
    "manage-bde": "the BitLocker cmdlets (Get-BitLockerVolume, Add-BitLockerKeyProtector, ...)",
    "netsh": "the NetSecurity and NetTCPIP cmdlets (Get-NetFirewallProfile, Get-NetIPConfiguration, ...)",
    "wevtutil": "Get-WinEvent and System.Diagnostics.Eventing.Reader (EventLogSession, EventLogConfiguration)",
}
LAUNCHERS = {"start-process", "saps", "start", "cmd", "powershell", "pwsh"}
# The line Ansible's module manifest looks for (ansible/executor/powershell/module_manifest.py).
ANSIBLE_BASIC = re.compile(r"^#\s*AnsibleRequires\s+-CSharpUtil\s+Ansible\.Basic(?![\w.])", re.IGNORECASE)


def problems(source: bytes) -> list[tuple[int, int, str]]:
    """(line, column, what) for every syntax error in the source; 1-based."""
    found = []
    tree = PARSER.parse(source)
    if not tree.root_node.has_error:
        return found
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.is_missing:
            found.append((node.start_point[0] + 1, node.start_point[1] + 1, f"missing {node.type!r}"))
        elif node.type == "ERROR":
            text = source[node.start_byte:node.end_byte].decode("utf-8", "replace").splitlines() or [""]
            found.append((node.start_point[0] + 1, node.start_point[1] + 1, f"cannot parse {text[0][:60]!r}"))
            continue
        if node.has_error:
            stack.extend(node.children)
    return sorted(found)


def _text(node, source: bytes) -> str:
    return source[node.start_byte:node.end_byte].decode("utf-8", "replace")


def _where(node) -> tuple[int, int]:
    return node.start_point[0] + 1, node.start_point[1] + 1


def _nodes(root, kind: str):
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == kind:
            yield node
        stack.extend(reversed(node.children))


def _program(word: str) -> str:
    """The bare program name of a command word: no quotes, folder, module qualifier or .exe."""
    word = word.strip().strip("'\"").strip()
    word = re.split(r"[\\/]", word)[-1].lower()
    return word[:-4] if word.endswith(".exe") else word


def _command_name(command, source: bytes) -> tuple[str, object] | None:
    """The program a command node runs, when it is written literally (a name or a quoted string)."""
    for child in command.children:
        if child.type == "command_name":
            return _program(_text(child, source)), child
        if child.type == "command_name_expr":
            inner = child.named_children[0] if child.named_children else child
            if inner.type in ("command_name", "string_literal"):
                return _program(_text(inner, source)), inner
            return None
    return None


def _arguments(command):
    for child in command.children:
        if child.type == "command_elements":
            for element in child.named_children:
                if element.type != "command_argument_sep":
                    yield element


def _first_word(node, source: bytes) -> str:
    words = _text(node, source).strip().strip("'\"").split()
    return _program(words[0]) if words else ""


def _localized_tool(command, name: str, at, source: bytes) -> tuple[str, object] | None:
    if name in LOCALIZED_TOOLS:
        return name, at
    for argument in _arguments(command):
        if argument.type == "generic_token":
            word = _program(_text(argument, source))
            if word in LOCALIZED_TOOLS:
                return word, argument
        elif name in LAUNCHERS and list(_nodes(argument, "string_literal")):
            word = _first_word(argument, source)
            if word in LOCALIZED_TOOLS:
                return word, argument
    return None


def _command_rules(root, source: bytes) -> list[tuple[int, int, str]]:
    found = []
    for command in _nodes(root, "command"):
        named = _command_name(command, source)
        name, at = named if named else ("", command)
        if name == "write-host":
            found.append((*_where(at), "[write-host] Write-Host writes to the console, not to the module result; "
                                       "use $module.Result, $module.Warn() or $module.FailJson()"))
        if name in ("invoke-expression", "iex"):
            found.append((*_where(at), "[invoke-expression] Invoke-Expression runs text as code; call the command "
                                       "itself (splat a hashtable for variable arguments)"))
        tool = _localized_tool(command, name, at, source)
        if tool:
            word, node = tool
            found.append((*_where(node), f"[localized-text] {word} prints localized text (German Windows "
                                         f"differs) and is not used; read objects from {LOCALIZED_TOOLS[word]}"))
    return found


def _single_child_down(node, kind: str):
    """Follow a chain of single named children (the expression wrappers) down to a node of the kind."""
    while node is not None and node.type != kind:
        named = node.named_children
        if len(named) != 1:
            return None
        node = named[0]
    return node


def _spec_assignments(root, source: bytes):
    """(assignment node, hash_literal_expression or None) for every `$spec = ...`."""
    for assignment in _nodes(root, "assignment_expression"):
        left = next((c for c in assignment.children if c.type == "left_assignment_expression"), None)
        if left is None or _text(left, source).strip().lower() != "$spec":
            continue
        right = assignment.named_children[-1]
        yield assignment, _single_child_down(right, "hash_literal_expression")


def _has_check_mode(table, source: bytes) -> bool:
    body = next((c for c in table.children if c.type == "hash_literal_body"), None)
    if body is None:
        return False
    for entry in body.children:
        if entry.type != "hash_entry":
            continue
        key = next((c for c in entry.children if c.type == "key_expression"), None)
        value = next((c for c in entry.children if c.type == "pipeline"), None)
        if key is None or value is None:
            continue
        if (_text(key, source).strip().strip("'\"").lower() == "supports_check_mode"
                and _text(value, source).strip().lower() == "$true"):
            return True
    return False


def _module_rules(root, source: bytes) -> list[tuple[int, int, str]]:
    found = []
    comments = [_text(node, source) for node in _nodes(root, "comment")]
    if not any(ANSIBLE_BASIC.match(comment) for comment in comments):
        found.append((1, 1, "[ansible-basic] a module (#!powershell) needs the line "
                            "'#AnsibleRequires -CSharpUtil Ansible.Basic'"))
    specs = list(_spec_assignments(root, source))
    if not specs:
        found.append((1, 1, "[check-mode] a module defines its options as '$spec = @{ ... }' with "
                            "'supports_check_mode = $true'"))
    elif not any(table is not None and _has_check_mode(table, source) for _assignment, table in specs):
        found.append((*_where(specs[0][0]), "[check-mode] $spec has no entry 'supports_check_mode = $true'"))
    return found


def is_module(source: bytes) -> bool:
    """A PowerShell module Ansible runs starts with `#!powershell` (after an optional BOM)."""
    return source.removeprefix(b"\xef\xbb\xbf").lstrip().lower().startswith(b"#!powershell")


def violations(source: bytes) -> list[tuple[int, int, str]]:
    """(line, column, what) for every breach of the house rules; 1-based."""
    root = PARSER.parse(source).root_node
    found = _command_rules(root, source)
    if is_module(source):
        found += _module_rules(root, source)
    return sorted(set(found))


def check(source: bytes) -> list[tuple[int, int, str]]:
    """Syntax errors and rule breaches together, in file order."""
    return sorted(problems(source) + violations(source))


def files(paths: list[str]) -> list[Path]:
    """The files named, and every .ps1/.psm1 below the folders named (default: the repository)."""
    result = []
    for base in [Path(p) for p in paths] or [ROOT]:
        if base.is_file():
            result.append(base)
            continue
        found = []
        for folder, dirnames, filenames in os.walk(base):
            # Skipped folders are not entered at all (.venv alone holds thousands of files).
            dirnames[:] = [name for name in dirnames if name not in SKIP_DIRS]
            for name in filenames:
                path = Path(folder) / name
                if path.suffix.lower() in (".ps1", ".psm1") and not SKIP_DIRS & set(path.parts):
                    found.append(path)
        result.extend(sorted(found))
    return result


def main(argv: list[str]) -> int:
    checked = failed = 0
    for path in files(argv):
        checked += 1
        for line, column, what in check(path.read_bytes()):
            failed += 1
            print(f"{path}:{line}:{column}: {what}")
    print(f"powershell gate (syntax and rules): {checked} file(s) checked, {failed} problem(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
