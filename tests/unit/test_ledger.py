"""The ledger keeps every event of parallel writers and opens older files."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest

from ansible.module_utils import praxis_ledger  # tests/conftest.py puts module_utils on the path

record, events = praxis_ledger.record, praxis_ledger.events


def _write(path: str, worker: int) -> None:
    for n in range(25):
        record(path, site="s1", host=f"s1-dev{worker}", kind="health", status="ok", summary=f"{worker}/{n}",
               data={"n": n})


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_parallel_writers_lose_nothing(tmp_path):
    path = str(tmp_path / "ledger.sqlite")
    procs = [multiprocessing.get_context("fork").Process(target=_write, args=(path, w)) for w in range(8)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    rows = list(events(path, site="s1"))
    assert len(rows) == 8 * 25
    expected = {(f"s1-dev{w}", f"{w}/{n}") for w in range(8) for n in range(25)}
    assert {(r["host"], r["summary"]) for r in rows} == expected
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == praxis_ledger.SCHEMA_VERSION


def test_ledger_without_version_is_upgraded_in_place(tmp_path):
    path = str(tmp_path / "old.sqlite")
    with sqlite3.connect(path) as conn:  # a ledger written before user_version was set
        conn.executescript(praxis_ledger.SCHEMA)
        conn.execute("INSERT INTO events (at, run, site, host, kind, status, summary, data) "
                     "VALUES ('2026-01-01T00:00:00+00:00', '', 's1', 's1-fw01', 'backup', 'ok', 'old', '{}')")
    conn.close()
    record(path, site="s1", host="s1-fw01", kind="health", status="ok", summary="new")
    assert [r["summary"] for r in events(path, host="s1-fw01")] == ["old", "new"]


def test_unknown_kind_is_refused_before_writing(tmp_path):
    path = str(tmp_path / "ledger.sqlite")
    with pytest.raises(praxis_ledger.LedgerError, match="unknown ledger kind 'nope'"):
        record(path, site="s1", host="h", kind="nope", status="ok", summary="x")
    assert not (tmp_path / "ledger.sqlite").exists()
