"""scripts/check_docs.py: every document a tracked file cites exists in the repository."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("check_docs", ROOT / "scripts" / "check_docs.py")
check_docs = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_docs)

# The fixture's documents exist in this repository too (docs/site-file.md); the names that do not
# are built at run time, so this file itself cites no missing document.
MISSING_DESIGN = "DESIGN" + ".md"
MISSING_STYLE = "STYLE" + ".md"
MISSING_DOC = "docs/" + "nowhere.md"
WRONG_LEVEL = "../" + "docs/site-file.md"
ROLE_README = "/".join(("roles", "guard", "README.md"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "site-file.md").write_text("# Site file\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("See [the site file](docs/site-file.md#fields) and docs/site-file.md.\n",
                                        encoding="utf-8")
    (tmp_path / "roles" / "guard").mkdir(parents=True)
    (tmp_path / ROLE_README).write_text("[site file](../../docs/site-file.md)\n", encoding="utf-8")
    (tmp_path / "module.py").write_text('"""Writes <host>.md and network-plan.md reports (README.md)."""\n',
                                        encoding="utf-8")
    return tmp_path


def git_add(repo: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)


def test_a_repository_whose_citations_resolve_passes(repo):
    git_add(repo)
    assert check_docs.broken_citations(repo) == []


def test_every_kind_of_broken_citation_is_named_with_file_and_line(repo):
    (repo / "module.py").write_text(f'"""The ledger ({MISSING_DESIGN}, "Ledger")."""\n', encoding="utf-8")
    (repo / "docs" / "powershell.md").write_text(
        f"# PowerShell\n\nSee `{MISSING_STYLE}`, [the plan](plan.md), {MISSING_DOC} and\n"
        "[a link](https://example.org/x.md), which is not a repository document.\n", encoding="utf-8")
    (repo / ROLE_README).write_text(f"[site file]({WRONG_LEVEL})\n", encoding="utf-8")
    git_add(repo)
    assert check_docs.broken_citations(repo) == [
        f"docs/powershell.md:3: cites {MISSING_STYLE}, which does not exist in the repository",
        f"docs/powershell.md:3: cites {MISSING_DOC}, which does not exist in the repository",
        "docs/powershell.md:3: cites plan.md, which does not exist in the repository",
        f"module.py:1: cites {MISSING_DESIGN}, which does not exist in the repository",
        f"{ROLE_README}:1: cites {WRONG_LEVEL}, which does not exist in the repository",
    ]


def test_untracked_files_are_not_checked(repo):
    git_add(repo)
    (repo / "notes.py").write_text(f"# see {MISSING_DESIGN}\n", encoding="utf-8")
    assert check_docs.broken_citations(repo) == []


def test_the_project_cites_only_documents_it_has():
    assert check_docs.broken_citations(ROOT) == []
