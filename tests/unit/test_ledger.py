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


def _child_run_id(queue) -> None:
    queue.put(praxis_ledger.run_id())


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_generated_run_id_is_the_same_in_every_forked_worker(monkeypatch):
    monkeypatch.setenv(praxis_ledger.RUN_ENV, "")   # restored after the test, whatever start_run sets
    monkeypatch.delenv(praxis_ledger.RUN_ENV)
    monkeypatch.setattr(praxis_ledger, "_STARTED", {})
    generated = praxis_ledger.start_run()
    assert generated.startswith("local-") and praxis_ledger.start_run() == generated
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_child_run_id, args=(queue,)) for _ in range(3)]
    for worker in workers:
        worker.start()
    ids = {queue.get(timeout=30) for _ in workers}
    for worker in workers:
        worker.join(30)
    assert ids == {generated}
    # AWX's job id first, then praxis_run_id, then the generated id
    assert praxis_ledger.run_id(4711, "mine") == "4711"
    assert praxis_ledger.run_id(None, "mine") == "mine" and praxis_ledger.run_id("", " ") == generated


def test_a_new_invocation_gets_a_new_run_id_even_with_an_inherited_one(monkeypatch):
    monkeypatch.setenv(praxis_ledger.RUN_ENV, "local-inherited-from-a-parent-run")
    monkeypatch.setattr(praxis_ledger, "_STARTED", {})
    fresh = praxis_ledger.start_run()
    assert fresh != "local-inherited-from-a-parent-run" and praxis_ledger.run_id() == fresh


def test_pending_is_a_status_and_recent_reads_newest_first(tmp_path):
    path = str(tmp_path / "ledger.sqlite")
    for status in ("pending", "failed"):
        record(path, site="s1", host="s1-fw01", kind="firmware", status=status, summary=status, run="r")
    assert [r["status"] for r in praxis_ledger.recent(path, host="s1-fw01", kind="firmware")] == ["failed", "pending"]
    assert praxis_ledger.recent(str(tmp_path / "none.sqlite"), host="s1-fw01", kind="firmware") == []


# -- a ledger locked by another process (praxis_ledger_timeout) -------------------------------------

LOCKED = r"is locked by another process \(waited 0\.2 s\).*praxis_ledger_timeout"


def _hold(path: str, *, wal: bool) -> sqlite3.Connection:
    """Another process's exclusive lock on the ledger at ``path`` (a written ledger)."""
    record(path, site="s1", host="s1-fw01", kind="health", status="ok", summary="before")
    if not wal:   # an older ledger in rollback-journal mode: the lock blocks readers too
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO events (at, run, site, host, kind, status, summary, data) "
                   "VALUES ('2026-01-01T00:00:00+00:00', '', 's1', 's1-sw01', 'health', 'ok', 'held', '{}')")
    return holder


def test_a_write_to_a_locked_ledger_waits_the_timeout_and_says_what_to_do(tmp_path):
    path = str(tmp_path / "ledger.sqlite")
    holder = _hold(path, wal=True)
    try:
        with praxis_ledger.waiting(0.2), pytest.raises(praxis_ledger.LedgerError, match=LOCKED) as info:
            record(path, site="s1", host="s1-fw01", kind="health", status="ok", summary="blocked")
        assert path in str(info.value)
        with praxis_ledger.waiting(0.2), pytest.raises(praxis_ledger.LedgerError, match=LOCKED):
            praxis_ledger.record_identity(path, host="s1-fw01", kind="ssh", algorithm="ssh-ed25519",
                                          fingerprint="SHA256:x", accepted_by="t", accepted_reason="r")
    finally:
        holder.rollback()
        holder.close()
    assert praxis_ledger._timeout == praxis_ledger.DEFAULT_TIMEOUT   # the block's timeout ends with it
    assert [r["summary"] for r in events(path)] == ["before"]


def test_every_read_of_a_locked_ledger_is_a_ledger_error(tmp_path):
    path = str(tmp_path / "ledger.sqlite")
    holder = _hold(path, wal=False)
    reads = {"events": lambda: list(events(path)),
             "recent": lambda: praxis_ledger.recent(path, host="s1-fw01", kind="health"),
             "identity": lambda: praxis_ledger.identity(path, "s1-fw01", "ssh"),
             "identity_history": lambda: praxis_ledger.identity_history(path)}
    try:
        for name, read in reads.items():
            with praxis_ledger.waiting(0.2), pytest.raises(praxis_ledger.LedgerError, match=LOCKED):
                read()
                pytest.fail(f"{name} read a locked ledger")
    finally:
        holder.rollback()
        holder.close()


@pytest.mark.parametrize("value", ["nonsense", 0, -5, "", True, float("nan"), float("inf")])
def test_a_bad_ledger_timeout_is_refused_naming_the_variable(value):
    with pytest.raises(praxis_ledger.LedgerError, match=r"praxis_ledger_timeout .* is not a positive number"):
        with praxis_ledger.waiting(value):
            pass
    assert praxis_ledger._timeout == praxis_ledger.DEFAULT_TIMEOUT


def test_the_ledger_timeout_accepts_seconds_as_text():
    with praxis_ledger.waiting("2.5") as seconds:
        assert seconds == 2.5 and praxis_ledger._timeout == 2.5
    assert praxis_ledger._timeout == praxis_ledger.DEFAULT_TIMEOUT
