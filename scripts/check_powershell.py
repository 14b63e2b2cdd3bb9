#!/usr/bin/env python3
"""Syntax gate for every PowerShell file (.ps1, .psm1) of the project.

Parses each file with tree-sitter-powershell and reports every ERROR or
MISSING node with line and column. The parser rejects a few constructs that
are valid PowerShell; docs/powershell.md lists them and the project's
PowerShell avoids them, so this gate needs no allow-list.

Usage: check_powershell.py [PATH ...]   (default: the repository)
Exit 0 when every file parses, 1 otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import tree_sitter
import tree_sitter_powershell

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", ".git", "node_modules", ".lab"}
PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


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


def files(paths: list[str]) -> list[Path]:
    result = []
    for base in [Path(p) for p in paths] or [ROOT]:
        if base.is_file():
            result.append(base)
            continue
        for path in sorted(base.rglob("*")):
            if path.suffix.lower() in (".ps1", ".psm1") and not SKIP_DIRS & set(path.parts):
                result.append(path)
    return result


def main(argv: list[str]) -> int:
    checked = failed = 0
    for path in files(argv):
        checked += 1
        for line, column, what in problems(path.read_bytes()):
            failed += 1
            print(f"{path}:{line}:{column}: {what}")
    print(f"powershell syntax: {checked} file(s) checked, {failed} problem(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
