#!/usr/bin/env python3
"""Gate: `ansible-doc` renders every custom module, filter and inventory
plugin, and every filter a FilterModule offers has its documentation."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSIBLE_DOC = str(Path(sys.executable).parent / "ansible-doc")


def filter_names() -> list[str]:
    names = []
    for path in sorted((ROOT / "filter_plugins").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "filters":
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Dict):
                        names += [k.value for k in ret.value.keys if isinstance(k, ast.Constant)]
    return names


def main() -> int:
    jobs = [("module", p.stem) for p in sorted((ROOT / "library").glob("*.py"))]
    jobs += [("filter", name) for name in filter_names()]
    jobs += [("inventory", p.stem) for p in sorted((ROOT / "inventory_plugins").glob("*.py"))]
    jobs += [("callback", p.stem) for p in sorted((ROOT / "callback_plugins").glob("*.py"))]
    failures = 0
    for kind, name in jobs:
        result = subprocess.run([ANSIBLE_DOC, "-t", kind, name], cwd=ROOT, capture_output=True, text=True,
                                check=False)
        output = result.stdout + result.stderr
        if result.returncode != 0 or "[WARNING]" in output or "[ERROR]" in output or name not in result.stdout:
            failures += 1
            print(f"ansible-doc -t {kind} {name} failed:\n{output}")
    print(f"ansible-doc: {len(jobs)} plugin(s) checked, {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
