# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The ledger: what the toolkit did and found, across runs (docs/architecture.md, "Ledger").

One SQLite file (WAL mode, so the parallel forks of a run can write at
once). Each row is an event of one device: a health check, a backup, a
firmware update, a signature update, a settings change. ``data`` holds the
structured result as JSON and never a secret: callers pass results the
drivers have already cleaned.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import secrets
import sqlite3
from typing import Any, Iterator

from ansible.module_utils.praxis_errors import PraxisError

KINDS = ("health", "backup", "firmware", "signatures", "settings", "patches")
# "pending": started, but its outcome was not seen yet (a firmware update whose reboot
# did not come back within the budget); a later row of the same host and kind settles it.
STATUSES = ("ok", "changed", "warning", "critical", "failed", "refused", "skipped", "pending")
MEMORY = ":memory:"         # SQLite's name for a database that lives in memory only
RUN_ENV = "PRAXIS_RUN_ID"   # the generated run id, inherited by every forked worker
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    run TEXT NOT NULL DEFAULT '',
    site TEXT NOT NULL,
    host TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    summary TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_host_kind ON events (host, kind, at);
CREATE INDEX IF NOT EXISTS events_site_at ON events (site, at);
"""
IDENTITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS device_identity (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    kind TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    accepted_by TEXT NOT NULL,
    accepted_reason TEXT NOT NULL,
    replaced_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS device_identity_current ON device_identity (host, kind)
    WHERE replaced_at IS NULL;
"""
# Migrations by user_version: an older ledger is upgraded in place, step by step,
# each step in one transaction. Plain SQL, so a PostgreSQL backend can follow.
MIGRATIONS: dict[int, str] = {
    1: SCHEMA,
    # SSH host keys and TLS certificates of the devices (module_utils/praxis_identity.py)
    2: IDENTITY_SCHEMA,
    # incidents, their notifications (outbox, one delivery per recipient), silences
    # and the log of acknowledgements (module_utils/praxis_incidents.py, docs/alerts.md)
    3: """
CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    host TEXT NOT NULL,
    check_id TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    severity TEXT NOT NULL,
    priority TEXT NOT NULL,
    notified_rank INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL,
    value TEXT NOT NULL DEFAULT 'null',
    threshold TEXT NOT NULL DEFAULT 'null',
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    resolved_at TEXT,
    passes INTEGER NOT NULL DEFAULT 0,
    reopened INTEGER NOT NULL DEFAULT 0,
    escalations INTEGER NOT NULL DEFAULT 0,
    reminders INTEGER NOT NULL DEFAULT 0,
    last_notified_at TEXT,
    acked_at TEXT,
    acked_by TEXT,
    ack_reason TEXT,
    run TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS incidents_identity ON incidents (site, host, check_id, subject, state);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY,
    event_key TEXT NOT NULL UNIQUE,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    site TEXT NOT NULL,
    kind TEXT NOT NULL,
    seq INTEGER NOT NULL,
    priority TEXT NOT NULL,
    created_at TEXT NOT NULL,
    run TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL,
    expanded_at TEXT
);
CREATE INDEX IF NOT EXISTS outbox_site ON outbox (site, expanded_at);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    outbox_id INTEGER NOT NULL REFERENCES outbox (id),
    site TEXT NOT NULL,
    recipient TEXT NOT NULL,
    language TEXT NOT NULL,
    audience TEXT NOT NULL,
    created_at TEXT NOT NULL,
    claimed_by TEXT,
    claim_expires TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at TEXT,
    message_id TEXT,
    UNIQUE (outbox_id, recipient)
);
CREATE INDEX IF NOT EXISTS deliveries_pending ON deliveries (site, sent_at);
CREATE TABLE IF NOT EXISTS silences (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL,
    check_id TEXT NOT NULL,
    subject TEXT,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    removed_at TEXT,
    removed_by TEXT
);
CREATE TABLE IF NOT EXISTS incident_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    incident_id INTEGER,
    silence_id INTEGER,
    reason TEXT NOT NULL DEFAULT ''
);
""",
    # patch management (module_utils/praxis_patch.py, docs/patching.md): the catalogue of updates,
    # the rollout per practice (pilot, release), holds, the state of each update on each device,
    # the daily checks and the log of every decision
    4: """
CREATE TABLE IF NOT EXISTS patch_updates (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    kb TEXT NOT NULL DEFAULT '',
    update_ids TEXT NOT NULL DEFAULT '[]',
    package TEXT,
    version TEXT,
    categories TEXT NOT NULL DEFAULT '[]',
    severity TEXT NOT NULL DEFAULT '',
    released TEXT NOT NULL,
    released_source TEXT NOT NULL,
    first_seen TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS patch_updates_released ON patch_updates (released);
CREATE TABLE IF NOT EXISTS patch_rollouts (
    site TEXT NOT NULL,
    key TEXT NOT NULL REFERENCES patch_updates (key),
    pilot_host TEXT,
    pilot_installed_at TEXT,
    pilot_result TEXT,
    pilot_error TEXT,
    released_at TEXT,
    released_by TEXT,
    release_rule TEXT,
    PRIMARY KEY (site, key)
);
CREATE TABLE IF NOT EXISTS patch_holds (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL,
    reason TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL,
    until TEXT,
    remove INTEGER NOT NULL DEFAULT 0,
    lifted_at TEXT,
    lifted_by TEXT
);
CREATE INDEX IF NOT EXISTS patch_holds_key ON patch_holds (key, site);
CREATE TABLE IF NOT EXISTS patch_devices (
    site TEXT NOT NULL,
    host TEXT NOT NULL,
    key TEXT NOT NULL REFERENCES patch_updates (key),
    state TEXT NOT NULL,
    error_code TEXT,
    error TEXT,
    first_seen TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    installed_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    previous_version TEXT,
    PRIMARY KEY (site, host, key)
);
CREATE INDEX IF NOT EXISTS patch_devices_key ON patch_devices (site, key);
CREATE TABLE IF NOT EXISTS patch_checks (
    site TEXT NOT NULL,
    host TEXT NOT NULL,
    day TEXT NOT NULL,
    at TEXT NOT NULL,
    role TEXT NOT NULL,
    ok INTEGER NOT NULL,
    PRIMARY KEY (site, host, day)
);
CREATE TABLE IF NOT EXISTS patch_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    site TEXT NOT NULL DEFAULT '',
    key TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS patch_log_site ON patch_log (site, at);
""",
    # the audit trail (module_utils/praxis_audit.py, docs/audit.md): append-only, a hash chain;
    # ids are given by the writer (the last id + 1, under the write lock), not by the database
    5: """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    run TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('run_start', 'change', 'run_end')),
    site TEXT NOT NULL DEFAULT '',
    host TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_site_at ON audit_log (site, at);
CREATE INDEX IF NOT EXISTS audit_log_run ON audit_log (run);
""",
}
# -- SQLite only ------------------------------------------------------------------------------
# Statements of a migration step that only SQLite understands, run whole (not split at ";")
# in the same transaction after the step's plain SQL. A PostgreSQL backend brings its own
# (for the audit trail: a rule or trigger function that refuses UPDATE and DELETE).
SQLITE_MIGRATIONS: dict[int, tuple[str, ...]] = {
    5: (
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
    ),
}
# -- end of SQLite only ------------------------------------------------------------------------
SCHEMA_VERSION = max(MIGRATIONS)
IDENTITY_KINDS = ("ssh", "tls")


# seconds a record or query waits for another process's lock on the ledger
# (project-wide variable praxis_ledger_timeout, set per task by praxis_action)
DEFAULT_TIMEOUT = 60.0
TIMEOUT_VARIABLE = "praxis_ledger_timeout"
_timeout = DEFAULT_TIMEOUT


class LedgerError(PraxisError, RuntimeError):
    pass


def check_timeout(value: Any) -> float:
    """``praxis_ledger_timeout`` as seconds (a positive number), else LedgerError naming it."""
    if isinstance(value, bool):
        value = None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not (seconds > 0 and math.isfinite(seconds)):
        raise LedgerError(f"{TIMEOUT_VARIABLE} {value!r} is not a positive number of seconds "
                          f"(default {DEFAULT_TIMEOUT:g})")
    return seconds


@contextlib.contextmanager
def waiting(seconds: Any = None) -> Iterator[float]:
    """Within the block, a record or query waits up to ``seconds`` for another
    process's lock (None: the default, 60 s)."""
    global _timeout
    previous = _timeout
    _timeout = DEFAULT_TIMEOUT if seconds is None else check_timeout(seconds)
    try:
        yield _timeout
    finally:
        _timeout = previous


def sqlite_error(path: str, exc: sqlite3.Error) -> LedgerError:
    """The LedgerError for an SQLite error; a lock held past the timeout says what to do."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return LedgerError(f"ledger {path} is locked by another process (waited {_timeout:g} s): let the other "
                           f"run or tool that holds it finish and run again, or give it more time with "
                           f"{TIMEOUT_VARIABLE} (seconds)")
    return LedgerError(f"ledger {path}: {text}")


_STARTED: dict[int, str] = {}


def start_run() -> str:
    """The generated id of this ansible-playbook invocation: made once per
    controller process, when the first callback sees the playbook start
    (before any worker is forked), and put into the environment
    (``PRAXIS_RUN_ID``) that every worker inherits. Calling it again in the
    same process returns the same id; a new invocation (a new process) makes
    a new one, even when it inherited the variable from a parent run."""
    pid = os.getpid()
    if pid not in _STARTED:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        _STARTED[pid] = f"local-{stamp}-{secrets.token_hex(3)}"
        os.environ[RUN_ENV] = _STARTED[pid]
    return _STARTED[pid]


def run_id(awx_job_id: Any = None, praxis_run_id: Any = None) -> str:
    """The run id to record: AWX's job id, else ``praxis_run_id``, else the id
    generated at playbook start (``start_run``), else empty (outside a playbook)."""
    for value in (awx_job_id, praxis_run_id):
        if value is not None and str(value).strip():
            return str(value).strip()
    return os.environ.get(RUN_ENV, "")


def _private(path: str) -> None:
    """The ledger and its -wal/-shm files readable by the owner only, whatever the umask."""
    for name in (path, path + "-wal", path + "-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            pass


def _connect(path: str) -> sqlite3.Connection:
    """A connection for one record or query. Hundreds of forks open the
    ledger once each in a nightly run, so the per-open work is kept small:
    the schema is created only when ``user_version`` says it is missing (WAL
    mode is a property of the file and set with it), and closing does not
    checkpoint (SQLite's automatic checkpoint every 1,000 pages still runs),
    because a checkpoint on every close made each fork write the database
    file and wait for the others."""
    memory = path == MEMORY     # an empty ledger of the same schema, no file (dry runs without a ledger)
    directory = os.path.dirname(os.path.abspath(path))
    if not memory and not os.path.isdir(directory):
        from ansible.module_utils.praxis_backup import private_makedirs

        private_makedirs(directory)
    if not memory and not os.path.exists(path):
        # created empty with mode 0600 first: sqlite3 would create it with 0666 & ~umask
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    try:
        conn = sqlite3.connect(path, timeout=_timeout)
        if hasattr(conn, "setconfig"):  # Python >= 3.12
            conn.setconfig(sqlite3.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, True)
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            conn.execute("PRAGMA journal_mode=WAL")
            _migrate(conn, version)
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    if not memory:
        _private(path)   # SQLite creates -wal and -shm with the main file's mode; older files may be wider
    return conn


def _migrate(conn: sqlite3.Connection, version: int) -> None:
    """Run the missing migrations, each with its new user_version in one
    transaction; a concurrent fork that upgraded first is noticed (the version
    is read again under the write lock) and nothing runs twice."""
    for step in sorted(MIGRATIONS):
        if step <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] < step:
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                for statement in SQLITE_MIGRATIONS.get(step, ()):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={step}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def connect(path: str) -> sqlite3.Connection:
    """A connection to the ledger at its current schema (for the incident tables)."""
    return _connect(path)


@contextlib.contextmanager
def reading(path: str) -> Iterator[sqlite3.Connection]:
    """A connection to the ledger whose SQLite errors become the ledger's own
    LedgerError (a lock held too long says what to do), closed afterwards."""
    conn = _connect(path)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    finally:
        conn.close()


@contextlib.contextmanager
def writing(path: str, check_mode: bool = False) -> Iterator[sqlite3.Connection]:
    """One write transaction (BEGIN IMMEDIATE): committed, or rolled back in
    check mode and on any error."""
    with reading(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        if check_mode:
            conn.rollback()
        else:
            conn.commit()


def record(path: str, *, site: str, host: str, kind: str, status: str, summary: str,
           data: dict[str, Any] | None = None, run: str = "", at: dt.datetime | None = None) -> None:
    """Append one event."""
    if kind not in KINDS:
        raise LedgerError(f"unknown ledger kind {kind!r}; known: {', '.join(KINDS)}")
    if status not in STATUSES:
        raise LedgerError(f"unknown ledger status {status!r}; known: {', '.join(STATUSES)}")
    moment = (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    conn = _connect(path)
    try:
        with conn:
            conn.execute("INSERT INTO events (at, run, site, host, kind, status, summary, data) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (moment, run, site, host, kind, status, summary,
                          json.dumps(data or {}, sort_keys=True, default=str)))
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    finally:
        conn.close()


def recent(path: str, *, host: str, kind: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest events (by order of writing, newest first) of one host and kind."""
    if not os.path.exists(path):
        return []
    conn = _connect(path)
    try:
        rows = conn.execute("SELECT at, run, site, host, kind, status, summary, data FROM events "
                            "WHERE host = ? AND kind = ? ORDER BY id DESC LIMIT ?", (host, kind, limit)).fetchall()
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    finally:
        conn.close()
    return [{"at": at, "run": run, "site": site_, "host": host_, "kind": kind_, "status": status,
             "summary": summary, "data": json.loads(data)}
            for at, run, site_, host_, kind_, status, summary, data in rows]


def events(path: str, *, site: str | None = None, host: str | None = None, kind: str | None = None,
           since: str | None = None) -> Iterator[dict[str, Any]]:
    """Events in order of time, filtered by the given fields."""
    if not os.path.exists(path):
        return
    clauses, params = [], []
    for column, value in (("site", site), ("host", host), ("kind", kind)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if since is not None:
        clauses.append("at >= ?")
        params.append(since)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    conn = _connect(path)
    try:
        rows = conn.execute(f"SELECT at, run, site, host, kind, status, summary, data FROM events{where} "  # noqa: S608
                            "ORDER BY at, id", params).fetchall()
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    finally:
        conn.close()
    for at, run, site_, host_, kind_, status, summary, data in rows:
        yield {"at": at, "run": run, "site": site_, "host": host_, "kind": kind_, "status": status,
               "summary": summary, "data": json.loads(data)}


# -- device identities (docs/device-identity.md) -----------------------------------------------

def identity(path: str, host: str, kind: str) -> dict[str, Any] | None:
    """The current record of ``host``'s SSH host key (``ssh``) or TLS certificate
    (``tls``), or None."""
    if not os.path.exists(path):
        return None
    conn = _connect(path)
    try:
        row = conn.execute("SELECT algorithm, fingerprint, first_seen, accepted_by, accepted_reason "
                           "FROM device_identity WHERE host = ? AND kind = ? AND replaced_at IS NULL",
                           (host, kind)).fetchone()
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    finally:
        conn.close()
    if row is None:
        return None
    return dict(zip(("algorithm", "fingerprint", "first_seen", "accepted_by", "accepted_reason"), row, strict=True),
                host=host, kind=kind)


def record_identity(path: str, *, host: str, kind: str, algorithm: str, fingerprint: str, accepted_by: str,
                    accepted_reason: str, at: dt.datetime | None = None) -> None:
    """Make ``fingerprint`` the current identity of ``host`` (kind ssh or tls);
    a previous record is kept with ``replaced_at`` set."""
    if kind not in IDENTITY_KINDS:
        raise LedgerError(f"unknown identity kind {kind!r}; known: {', '.join(IDENTITY_KINDS)}")
    moment = (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat(timespec="seconds")
    conn = _connect(path)
    try:
        with conn:
            conn.execute("UPDATE device_identity SET replaced_at = ? WHERE host = ? AND kind = ? "
                         "AND replaced_at IS NULL", (moment, host, kind))
            conn.execute("INSERT INTO device_identity (host, kind, algorithm, fingerprint, first_seen, accepted_by, "
                         "accepted_reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (host, kind, algorithm, fingerprint, moment, accepted_by, accepted_reason))
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    finally:
        conn.close()


def identity_history(path: str, host: str | None = None) -> list[dict[str, Any]]:
    """Every identity record (current and replaced), oldest first."""
    if not os.path.exists(path):
        return []
    conn = _connect(path)
    try:
        rows = conn.execute("SELECT host, kind, algorithm, fingerprint, first_seen, accepted_by, accepted_reason, "
                            "replaced_at FROM device_identity WHERE ? IS NULL OR host = ? ORDER BY id",
                            (host, host)).fetchall()
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    finally:
        conn.close()
    keys = ("host", "kind", "algorithm", "fingerprint", "first_seen", "accepted_by", "accepted_reason", "replaced_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]
