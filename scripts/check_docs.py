#!/usr/bin/env python3
"""Gate: `ansible-doc` renders every custom module, filter and inventory
plugin, and every filter a FilterModule offers has its documentation; and
every document a tracked file cites exists in the repository.

Citations checked in every file `git ls-files` lists (text files):
- a document named in capitals, such as `README.md` or `roles/config_backup/README.md`:
  relative to the repository root or to the citing file's folder;
- a path under docs/, `docs/site-file.md`: the same;
- in Markdown files, every relative link to a `.md` file, `[text](../x.md#part)`:
  relative to the citing file's folder.
Names of files the toolkit writes (`network-plan.md`, `<host>.md`) are none of these."""

from __future__ import annotations

import ast
import re
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


CAPITALS_DOC = re.compile(r"(?<![\w./-])((?:[\w.-]+/)*[A-Z][A-Z0-9_-]*\.md)\b")
DOCS_PATH = re.compile(r"(?<![\w./-])((?:\.\./)*docs/[\w./-]*?\.md)\b")
MARKDOWN_LINK = re.compile(r"\]\(\s*<?([^)\s>]+\.md)(?:#[^)\s>]*)?>?(?:\s+\"[^\"]*\")?\s*\)")


def tracked_files(root: Path) -> list[str]:
    result = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=True)
    return [name for name in result.stdout.split("\0") if name]


def broken_citations(root: Path, files: list[str] | None = None) -> list[str]:
    """``file:line: cites X, which does not exist`` for every citation of a missing document."""
    problems = []
    for name in tracked_files(root) if files is None else files:
        path = root / name
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            cited = CAPITALS_DOC.findall(line) + DOCS_PATH.findall(line)
            if name.endswith(".md"):
                cited += [target for target in MARKDOWN_LINK.findall(line) if "://" not in target]
            for target in dict.fromkeys(cited):
                bases = [path.parent] if target.startswith(".") else [path.parent, root]
                if target.startswith("/") or not any((base / target).is_file() for base in bases):
                    problems.append(f"{name}:{number}: cites {target}, which does not exist in the repository")
    return problems


def main() -> int:
    citations = broken_citations(ROOT)
    for problem in citations:
        print(problem)
    print(f"document citations: {len(citations)} broken")
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
    return 1 if failures or citations else 0


if __name__ == "__main__":
    sys.exit(main())
