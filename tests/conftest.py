"""Shared pytest set-up: the repository root on sys.path (for ``lab``), the
project's module_utils under ``ansible.module_utils`` (as Ansible itself
places them when it ships a module)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ansible.module_utils as _ansible_module_utils  # noqa: E402

if str(ROOT / "module_utils") not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(str(ROOT / "module_utils"))


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(item.fspath)
        if f"{os.sep}integration{os.sep}" in path:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


# -- the ledger on both backends (tests/pg.py: a real PostgreSQL server per session) ---------------

@pytest.fixture(scope="session")
def pg_cluster():
    """The session's PostgreSQL server (skips without the binaries, fails in CI)."""
    from tests import pg

    cluster = pg.session_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def pg_ledger(pg_cluster) -> str:
    """The URL of a new, empty PostgreSQL database for the ledger."""
    return pg_cluster.database()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_target(request, tmp_path) -> str:
    """A new ledger on each backend: an SQLite file path, or a ``postgresql://`` URL."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite")
    return request.getfixturevalue("pg_ledger")
