# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The ledger: what the toolkit did and found, across runs (docs/architecture.md, "Ledger").

One SQLite file (WAL mode, so the parallel forks of a run can write at
once), or one PostgreSQL database that every job writes to
(``praxis_ledger_url``, on AWX whose jobs run on several execution nodes;
docs/ledger.md). Each row is an event of one device: a health check, a
backup, a firmware update, a signature update, a settings change. ``data``
holds the structured result as JSON and never a secret: callers pass
results the drivers have already cleaned.

Callers write one SQL for both backends through ``connect``/``reading``/
``writing``: ``?`` placeholders, rows by index and by name, ``RETURNING id``
instead of ``lastrowid``, ``ON CONFLICT ... DO NOTHING`` instead of
``INSERT OR IGNORE``, ``CASE`` instead of SQLite's two-argument ``MAX``.
psycopg is imported only when a URL is used: a managed host never needs it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import math
import os
import re
import secrets
import sqlite3
from decimal import Decimal
from typing import Any, Iterator, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit

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


@dataclasses.dataclass(frozen=True)
class SQLiteOnly:
    """A statement of a migration that only SQLite understands (a trigger, a PRAGMA), run whole
    (a trigger's body holds ``;``). ``postgresql`` is its PostgreSQL equivalent (one text, may
    hold several statements and ``$$`` bodies); None: PostgreSQL skips it, ``reason`` says why."""
    sqlite: str
    postgresql: str | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.postgresql is None and not self.reason.strip():
            raise ValueError("SQLiteOnly without a PostgreSQL equivalent needs the reason PostgreSQL skips it")


# Migrations by version (SQLite: user_version; PostgreSQL: the table praxis_schema): an
# older ledger is upgraded in place, step by step, each step in one transaction. One
# source for both backends: plain SQL (a string, or a list of strings and SQLiteOnly
# parts), translated for PostgreSQL by ``statements()``.
MIGRATIONS: dict[int, str | list[str | SQLiteOnly]] = {
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
    5: [
        """
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
        # append-only: SQLite refuses UPDATE and DELETE by triggers; PostgreSQL by one trigger function
        SQLiteOnly("CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
                   "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
                   postgresql="""
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END $$;
CREATE OR REPLACE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""),
        SQLiteOnly("CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
                   "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
                   postgresql="""
CREATE OR REPLACE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""),
    ],
    # practice-data backups (module_utils/praxis_databackup.py, docs/backups.md): the nightly
    # verification of each restic repository, the sizes of snapshots measured once, the quarterly
    # restore tests with their evidence
    6: """
CREATE TABLE IF NOT EXISTS databackup_checks (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    repository TEXT NOT NULL,
    checked_at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    error_kind TEXT,
    error TEXT,
    snapshots TEXT NOT NULL DEFAULT '{}',
    check_subset TEXT,
    check_ok INTEGER,
    pruned INTEGER NOT NULL DEFAULT 0,
    prune_summary TEXT NOT NULL DEFAULT '{}',
    unlocked TEXT NOT NULL DEFAULT '[]',
    duration_s REAL NOT NULL DEFAULT 0,
    run TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS databackup_checks_site ON databackup_checks (site, repository, checked_at);
CREATE TABLE IF NOT EXISTS databackup_sizes (
    site TEXT NOT NULL,
    repository TEXT NOT NULL,
    snapshot_id TEXT NOT NULL,
    host TEXT NOT NULL,
    snapshot_time TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    files INTEGER NOT NULL,
    measured_at TEXT NOT NULL,
    PRIMARY KEY (site, repository, snapshot_id)
);
CREATE TABLE IF NOT EXISTS restore_tests (
    id INTEGER PRIMARY KEY,
    quarter TEXT NOT NULL,
    seed TEXT NOT NULL,
    chosen_sites TEXT NOT NULL DEFAULT '[]',
    site TEXT NOT NULL,
    repository TEXT NOT NULL DEFAULT '',
    snapshot_id TEXT NOT NULL DEFAULT '',
    snapshot_time TEXT,
    host TEXT NOT NULL DEFAULT '',
    files TEXT NOT NULL DEFAULT '[]',
    dump TEXT NOT NULL DEFAULT 'null',
    ok INTEGER NOT NULL,
    error TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    duration_s REAL NOT NULL DEFAULT 0,
    by TEXT NOT NULL,
    run TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS restore_tests_quarter ON restore_tests (quarter, site);
""",
}
SCHEMA_VERSION = max(MIGRATIONS)
IDENTITY_KINDS = ("ssh", "tls")


# seconds a record or query waits for another process's lock on the ledger
# (project-wide variable praxis_ledger_timeout, set per task by praxis_action)
DEFAULT_TIMEOUT = 60.0
TIMEOUT_VARIABLE = "praxis_ledger_timeout"
PATH_VARIABLE = "praxis_ledger_path"
URL_VARIABLE = "praxis_ledger_url"     # postgresql://user:password@host:port/dbname: one database for every job
_timeout = DEFAULT_TIMEOUT

SQLITE, POSTGRESQL = "sqlite", "postgresql"
SCHEMES = ("postgresql", "postgres")
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
URL_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "connect_timeout", "application_name",
               "target_session_attrs")
URL_FORM = "postgresql://user:password@host:port/dbname[?sslmode=require]"
# PostgreSQL advisory lock keys ("prax" + 1/2): every writer waits for the write lock inside its
# transaction (as SQLite's BEGIN IMMEDIATE); a migration holds the migration lock for the session
WRITE_LOCK = 0x70726178_00000001
MIGRATION_LOCK = 0x70726178_00000002
SCHEMA_TABLE = "praxis_schema"


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


def _locked(shown: str) -> LedgerError:
    return LedgerError(f"ledger {shown} is locked by another process (waited {_timeout:g} s): let the other "
                       f"run or tool that holds it finish and run again, or give it more time with "
                       f"{TIMEOUT_VARIABLE} (seconds)")


def sqlite_error(path: str, exc: sqlite3.Error) -> LedgerError:
    """The LedgerError for an SQLite error; a lock held past the timeout says what to do."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return _locked(path)
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


# -- where the ledger is: an SQLite file or a PostgreSQL URL ---------------------------------------

def is_url(target: Any) -> bool:
    """Whether ``target`` names a database server (``scheme://...``) rather than an SQLite file."""
    return isinstance(target, str) and "://" in target


def exists(target: Any) -> bool:
    """Whether there is a ledger to read: the SQLite file exists, or a database URL (always: its
    connection says what is wrong with it)."""
    return bool(target) and (is_url(target) or os.path.exists(target))


def location(value: Any) -> str | None:
    """The ledger an option names: a database URL as given, a file path with ``~`` and ``$VARS``
    expanded (what Ansible's ``path`` type does, which would break a password holding ``$``)."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    return text if is_url(text) else os.path.expanduser(os.path.expandvars(text))


_USERINFO = re.compile(r"^([^:/?#]*://)(.*)@", re.S)   # greedy: up to the last @, an unencoded @ included


def mask(target: Any) -> str:
    """``target`` for a message or log: a URL's password shown as ``***``."""
    text = str(target)
    match = _USERINFO.match(text)
    if not match or ":" not in match.group(2):
        return text
    return f"{match.group(1)}{match.group(2).split(':', 1)[0]}:***@{text[match.end():]}"


def parse_url(url: str) -> dict[str, Any]:
    """The connection settings of a ``postgresql://`` URL (``host``, ``port``, ``dbname``, ``user``,
    ``password`` and the known options), else one LedgerError naming the part to fix, the URL
    shown with its password masked."""
    shown = mask(url)

    def bad(what: str) -> LedgerError:
        return LedgerError(f"{URL_VARIABLE} {shown}: {what}; expected {URL_FORM} (percent-encode "
                           f"@ : / ? # in the user or password, e.g. %40 for @)")

    scheme = url.split("://", 1)[0]
    if scheme.lower() not in SCHEMES:
        raise bad(f"the scheme {scheme + '://'!r} is not supported: the ledger is an SQLite file "
                  f"({PATH_VARIABLE}) or a PostgreSQL database (postgresql://)")
    parts = urlsplit(url)
    if "@" in parts.path or "@" in parts.query or "@" in parts.fragment:
        # a / ? or # in the password ended the host part early: no piece of it may be shown
        raise bad("the user or password holds an unencoded / ? or #")
    if parts.fragment:
        raise bad("a '#' part is not allowed")
    userinfo, hostport = parts.netloc.rpartition("@")[::2]
    if hostport.startswith("["):
        host, rest = hostport[1:].partition("]")[::2]
        port_text = rest[1:] if rest.startswith(":") else rest
    else:
        host, port_text = hostport.partition(":")[::2]
    host = unquote(host)
    if not host:
        raise bad("the host is missing")
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise bad(f"the port {port_text!r} is not a number from 1 to 65535")
    user, colon, password = userinfo.partition(":")
    if not user:
        raise bad("the user is missing (user@host)")
    dbname = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
    if not dbname:
        raise bad("the database name is missing (.../dbname)")
    if "/" in dbname:
        raise bad(f"the database name {dbname!r} holds a '/'")
    settings: dict[str, Any] = {"host": host, "port": int(port_text or 5432), "dbname": dbname,
                                "user": unquote(user), "password": unquote(password) if colon else None}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in URL_OPTIONS:
            raise bad(f"the option {key!r} is not supported (known: {', '.join(URL_OPTIONS)})")
        if key in settings:
            raise bad(f"the option {key!r} is given twice")
        if key == "sslmode" and value not in SSLMODES:
            raise bad(f"sslmode {value!r} is not one of {', '.join(SSLMODES)}")
        if key == "connect_timeout" and not (value.isdigit() and int(value) > 0):
            raise bad(f"connect_timeout {value!r} is not a positive number of seconds")
        settings[key] = value
    return settings


# -- one connection API for both backends ----------------------------------------------------------

class Row(tuple):
    """A row by index and by column name (``row["site"]``, ``keys()``, ``dict(row)``), as sqlite3.Row."""
    __slots__ = ()
    _names: tuple[str, ...] = ()
    _index: dict[str, int] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                key = self._index[key.lower()]
            except KeyError:
                raise IndexError(f"no column {key!r}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


_ROW_TYPES: dict[tuple[str, ...], type] = {}


def _row_type(names: tuple[str, ...]) -> type:
    cls = _ROW_TYPES.get(names)
    if cls is None:
        index = {name.lower(): i for i, name in reversed(list(enumerate(names)))}
        cls = _ROW_TYPES[names] = type("Row", (Row,), {"__slots__": (), "_names": names, "_index": index})
    return cls


def _pg_rows(cursor: Any) -> Any:
    """psycopg row factory: ``Row``."""
    description = cursor.description
    return _row_type(tuple(column.name for column in description)) if description else tuple


@functools.lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """``sql`` with SQLite's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled);
    a ``?`` inside a quoted literal or name stays."""
    out, quote = [], ""
    for char in sql:
        if char == "%":
            out.append("%%")
        elif quote:
            out.append(char)
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            out.append(char)
        else:
            out.append("%s" if char == "?" else char)
    return "".join(out)


def _pg_params(params: Any) -> Any:
    """Parameters as SQLite stores them: a bool is 0 or 1 (the columns are integers)."""
    if isinstance(params, Mapping):
        raise LedgerError("ledger queries take ? placeholders with a sequence of parameters, not names")
    return tuple(int(value) if isinstance(value, bool) else value for value in params)


class Cursor:
    """What ``Connection.execute`` returns: ``fetchone``, ``fetchall``, iteration and
    ``rowcount``. There is no ``lastrowid`` (PostgreSQL has none): an INSERT whose id is
    needed says ``RETURNING id`` and fetches it, on both backends."""
    __slots__ = ("_cursor", "_conn")

    def __init__(self, cursor: Any, conn: "Connection") -> None:
        self._cursor = cursor
        self._conn = conn

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        if self._conn.backend == POSTGRESQL and self._cursor.description is None:
            return None
        with self._conn.translated():
            return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        if self._conn.backend == POSTGRESQL and self._cursor.description is None:
            return []
        with self._conn.translated():
            return self._cursor.fetchall()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class Connection:
    """One connection to the ledger, SQLite or PostgreSQL, with one API for the callers:
    ``execute(sql, params)`` with ``?`` placeholders, rows by index and by name
    (``Row``/sqlite3.Row), ``with conn:`` commits (rolls back on an error), ``begin()`` starts
    a write transaction that waits for every other writer, ``commit``, ``rollback``, ``close``.
    Every error of the database is a LedgerError naming the ledger (a URL with its password
    masked)."""

    def __init__(self, raw: Any, backend: str, shown: str, errors: tuple[type, ...],
                 secret: str | None = None) -> None:
        self.raw = raw
        self.backend = backend
        self.shown = shown
        self._errors = errors
        self._secret = secret

    def error(self, exc: BaseException) -> LedgerError:
        if self.backend == SQLITE:
            return sqlite_error(self.shown, exc)  # type: ignore[arg-type]
        return _pg_error(self.shown, exc, self._secret)

    @contextlib.contextmanager
    def translated(self) -> Iterator[None]:
        try:
            yield
        except self._errors as exc:
            raise self.error(exc) from None

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        with self.translated():
            if self.backend == SQLITE:
                return Cursor(self.raw.execute(sql, params), self)
            return Cursor(self.raw.execute(pg_sql(sql), _pg_params(params)), self)

    def begin(self) -> None:
        """Start the write transaction: it waits (``praxis_ledger_timeout``) until no other writer
        holds the ledger and keeps it to the end (SQLite: BEGIN IMMEDIATE; PostgreSQL: a
        transaction-level advisory lock, so read-then-write logic sees every earlier commit)."""
        with self.translated():
            if self.backend == SQLITE:
                self.raw.execute("BEGIN IMMEDIATE")
            else:
                self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))

    @property
    def in_transaction(self) -> bool:
        if self.backend == SQLITE:
            return self.raw.in_transaction
        return self.raw.info.transaction_status != 0     # psycopg: 0 is IDLE

    def commit(self) -> None:
        with self.translated():
            self.raw.commit()

    def rollback(self) -> None:
        with self.translated():
            self.raw.rollback()

    def close(self) -> None:
        with contextlib.suppress(*self._errors):
            self.raw.close()

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is None:
            self.commit()
        else:
            with contextlib.suppress(*self._errors):
                self.raw.rollback()


# -- migrations ------------------------------------------------------------------------------------

_PG_TYPES = ((re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\b", re.I), "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
             (re.compile(r"\bINTEGER\b", re.I), "BIGINT"),
             (re.compile(r"\bREAL\b", re.I), "DOUBLE PRECISION"),
             (re.compile(r"\bBLOB\b", re.I), "BYTEA"))
_SQLITE_ONLY = re.compile(r"^\s*(CREATE\s+(TEMP\w*\s+)?TRIGGER\b|PRAGMA\b|CREATE\s+VIRTUAL\b|.*\bAUTOINCREMENT\b|"
                          r".*\bWITHOUT\s+ROWID\b|INSERT\s+OR\b|REPLACE\s+INTO\b)", re.I | re.S)


def statements(step: int, backend: str) -> list[str]:
    """The statements of migration ``step`` for ``backend`` (``sqlite`` or ``postgresql``): plain
    SQL split at ``;`` (for PostgreSQL with its types: ``INTEGER PRIMARY KEY`` becomes an
    identity column, ``INTEGER`` BIGINT, ...), a ``SQLiteOnly`` part whole, as the backend's own
    text or not at all. An SQLite-only statement that is not marked so is a LedgerError."""
    migration = MIGRATIONS[step]
    parts = [migration] if isinstance(migration, (str, SQLiteOnly)) else list(migration)
    found: list[str] = []
    for part in parts:
        if isinstance(part, SQLiteOnly):
            text = part.sqlite if backend == SQLITE else part.postgresql
            if text and text.strip():
                found.append(text.strip())
            continue
        for statement in part.split(";"):
            if not statement.strip():
                continue
            if backend == POSTGRESQL:
                if _SQLITE_ONLY.match(statement):
                    raise LedgerError(f"migration {step}: {' '.join(statement.split())[:70]!r} is SQLite-only: "
                                      f"give it as SQLiteOnly(sqlite, postgresql=... or reason=...)")
                for pattern, replacement in _PG_TYPES:
                    statement = pattern.sub(replacement, statement)
            found.append(statement.strip())
    return found


def _newer(shown: str, version: int) -> LedgerError:
    return LedgerError(f"ledger {shown} has schema version {version}, newer than this praxisops knows "
                       f"({SCHEMA_VERSION}): a newer praxisops wrote it; update praxisops here (the checkout "
                       f"on this controller or the AWX execution environment) instead of using an older one")


# -- SQLite ----------------------------------------------------------------------------------------

def _private(path: str) -> None:
    """The ledger and its -wal/-shm files readable by the owner only, whatever the umask."""
    for name in (path, path + "-wal", path + "-shm"):
        try:
            if os.stat(name).st_mode & 0o077:
                os.chmod(name, 0o600)
        except FileNotFoundError:
            pass


def _sqlite_connect(path: str) -> sqlite3.Connection:
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
        conn.row_factory = sqlite3.Row
        if hasattr(conn, "setconfig"):  # Python >= 3.12
            conn.setconfig(sqlite3.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, True)
        conn.execute("PRAGMA synchronous=NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise _newer(path, version)
        if version < SCHEMA_VERSION:
            conn.execute("PRAGMA journal_mode=WAL")
            _sqlite_migrate(conn, version)
    except sqlite3.Error as exc:
        raise sqlite_error(path, exc) from None
    if not memory:
        _private(path)   # SQLite creates -wal and -shm with the main file's mode; older files may be wider
    return conn


def _sqlite_migrate(conn: sqlite3.Connection, version: int) -> None:
    """Run the missing migrations, each with its new user_version in one
    transaction; a concurrent fork that upgraded first is noticed (the version
    is read again under the write lock) and nothing runs twice."""
    for step in sorted(MIGRATIONS):
        if step <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] < step:
                for statement in statements(step, SQLITE):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version={step}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


# -- PostgreSQL (psycopg 3, imported only when a URL is used) --------------------------------------

def _scrub(text: str, secret: str | None) -> str:
    """``text`` without the password (as given and percent-encoded)."""
    if secret:
        for form in (secret, quote(secret, safe="")):
            text = text.replace(form, "***")
    return text


def _pg_connect_error(shown: str, settings: Mapping[str, Any], exc: BaseException) -> LedgerError:
    """One message per reason a connection fails, naming what to fix."""
    text = _scrub(str(exc), settings.get("password"))
    state = getattr(exc, "sqlstate", None) or ""
    where = f"{settings['host']}:{settings['port']}"
    lowered = text.lower()
    if state == "28P01" or "password authentication failed" in lowered:
        reason = (f"PostgreSQL at {where} refused the password of user {settings['user']!r}: check the user and "
                  f"password in {URL_VARIABLE} (the vault or the AWX credential)")
    elif "no password supplied" in lowered:
        reason = (f"PostgreSQL at {where} wants a password for user {settings['user']!r} and the URL has none: "
                  f"add it to {URL_VARIABLE} (user:password@host)")
    elif state == "3D000" or ("database" in lowered and "does not exist" in lowered):
        reason = (f"the database {settings['dbname']!r} does not exist on {where}: create it (createdb --owner "
                  f"{settings['user']} {settings['dbname']}) or correct the database name in {URL_VARIABLE}")
    elif "connection refused" in lowered:
        reason = (f"nothing accepts connections on {where} (connection refused): is PostgreSQL running there, "
                  f"listening on that address, and is the port in {URL_VARIABLE} right?")
    elif any(sign in lowered for sign in ("could not translate host name", "failed to resolve host",
                                          "name or service not known", "nodename nor servname",
                                          "temporary failure in name resolution", "no address associated")):
        reason = (f"the host {settings['host']!r} is unknown (its name does not resolve): check the host in "
                  f"{URL_VARIABLE}")
    elif "timeout expired" in lowered:
        reason = (f"no answer from {where} in time (connect timeout): check the host, the port and the "
                  f"firewall between this node and the database")
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        reason = f"cannot connect: {lines[-1] if lines else type(exc).__name__}"
    return LedgerError(f"ledger {shown}: {reason}")


def _pg_error(shown: str, exc: BaseException, secret: str | None) -> LedgerError:
    state = getattr(exc, "sqlstate", None) or ""
    if state == "55P03":     # lock_not_available: lock_timeout passed while waiting
        return _locked(shown)
    lines = [line.strip() for line in _scrub(str(exc), secret).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    if state.startswith("08") or type(exc).__name__ == "OperationalError":
        return LedgerError(f"ledger {shown}: the connection to PostgreSQL failed: {text}")
    return LedgerError(f"ledger {shown}: {text}")


def _pg_connect(url: str) -> Connection:
    settings = parse_url(url)
    shown = mask(url)
    try:
        import psycopg
        from psycopg.adapt import Loader
    except ImportError:
        raise LedgerError(f"ledger {shown}: a PostgreSQL ledger needs the Python package psycopg 3 on this "
                          f"controller or execution environment (requirements.txt: psycopg[binary])") from None

    class Number(Loader):
        """numeric (SUM, AVG) as int or float, as SQLite answers, not Decimal."""

        def load(self, data: Any) -> Any:
            value = Decimal(bytes(data).decode())
            return int(value) if value == value.to_integral_value() else float(value)

    options = {key: value for key, value in settings.items() if value is not None}
    options.setdefault("connect_timeout", max(2, math.ceil(min(_timeout, 30.0))))
    options.setdefault("application_name", "praxisops")
    options["options"] = f"-c lock_timeout={max(1, int(_timeout * 1000))}"
    try:
        raw = psycopg.connect(**options, row_factory=_pg_rows)
    except psycopg.Error as exc:
        raise _pg_connect_error(shown, settings, exc) from None
    raw.adapters.register_loader("numeric", Number)
    conn = Connection(raw, POSTGRESQL, shown, (psycopg.Error,), settings.get("password"))
    try:
        _pg_migrate(conn, psycopg)
    except BaseException:
        conn.close()
        raise
    return conn


def _pg_version(raw: Any, psycopg: Any) -> int:
    try:
        row = raw.execute(f"SELECT version FROM {SCHEMA_TABLE}").fetchone()  # noqa: S608
    except psycopg.errors.UndefinedTable:
        raw.rollback()
        return 0
    return int(row[0]) if row else 0


def _pg_migrate(conn: Connection, psycopg: Any) -> None:
    """Bring the database to SCHEMA_VERSION: under a session advisory lock (a second job
    migrating at once waits, then finds the new version and does nothing), each missing
    migration with its new version in ``praxis_schema`` in one transaction."""
    raw = conn.raw
    with conn.translated():
        version = _pg_version(raw, psycopg)
        if version > SCHEMA_VERSION:
            raise _newer(conn.shown, version)
        if version == SCHEMA_VERSION:
            return
        raw.rollback()
        raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        raw.commit()
        try:
            raw.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), "
                        "version INTEGER NOT NULL, migrated_at TEXT NOT NULL)")
            raw.execute(f"INSERT INTO {SCHEMA_TABLE} (id, version, migrated_at) VALUES (1, 0, %s) "  # noqa: S608
                        "ON CONFLICT (id) DO NOTHING", (_stamp(),))
            raw.commit()
            for step in sorted(MIGRATIONS):
                version = _pg_version(raw, psycopg)
                if version > SCHEMA_VERSION:
                    raise _newer(conn.shown, version)
                if step <= version:
                    continue
                for statement in statements(step, POSTGRESQL):
                    raw.execute(statement)
                raw.execute(f"UPDATE {SCHEMA_TABLE} SET version = %s, migrated_at = %s",  # noqa: S608
                            (step, _stamp()))
                raw.commit()
        except BaseException:
            with contextlib.suppress(psycopg.Error):
                raw.rollback()
            raise
        finally:
            with contextlib.suppress(psycopg.Error):
                raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
                raw.commit()


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


# -- the API the callers use -----------------------------------------------------------------------

def connect(target: str) -> Connection:
    """A connection to the ledger at its current schema: ``target`` is the SQLite file (or
    ``:memory:``) or a ``postgresql://`` URL (``praxis_ledger_url``)."""
    if is_url(target):
        return _pg_connect(target)
    return Connection(_sqlite_connect(target), SQLITE, target, (sqlite3.Error,))


# Open PostgreSQL connections of this process, by (process, URL, lock timeout): a job's forks
# and the tools make several ledger calls each, and a new connection (TCP, authentication,
# the schema check) cost more than the calls themselves (bench/ledger). A forked child never
# uses its parent's connection (the process id is part of the key).
_PG_OPEN: dict[tuple[int, str, float, int], Connection] = {}


def _pg_key(target: str) -> tuple[int, str, float, int]:
    """A connection was opened with a lock timeout and checked against a schema version."""
    return (os.getpid(), target, _timeout, SCHEMA_VERSION)


def _pg_reusable(target: str) -> Connection:
    key = _pg_key(target)
    conn = _PG_OPEN.pop(key, None)
    if conn is not None and not conn.raw.closed and not conn.in_transaction:
        _PG_OPEN[key] = conn
        return conn
    if conn is not None:
        conn.close()
    conn = connect(target)
    _PG_OPEN[key] = conn
    return conn


def close_all() -> None:
    """Close this process's open PostgreSQL connections (tools that end, tests)."""
    for key in [k for k in _PG_OPEN if k[0] == os.getpid()]:
        _PG_OPEN.pop(key).close()


@contextlib.contextmanager
def reading(target: str) -> Iterator[Connection]:
    """A connection to the ledger; its errors are LedgerErrors (a lock held too long says what
    to do). SQLite: opened and closed. PostgreSQL: this process's open connection is used again
    (any transaction left open is rolled back afterwards; after an error it is closed)."""
    if not is_url(target):
        conn = connect(target)
        try:
            with conn.translated():
                yield conn
        finally:
            conn.close()
        return
    conn = _pg_reusable(target)
    key = _pg_key(target)
    clean = False
    try:
        with conn.translated():
            yield conn
        clean = True
    finally:
        if not clean:
            _PG_OPEN.pop(key, None)
            conn.close()
        elif conn.in_transaction:
            conn.rollback()


@contextlib.contextmanager
def writing(target: str, check_mode: bool = False) -> Iterator[Connection]:
    """One write transaction that waits for every other writer (``Connection.begin``):
    committed, or rolled back in check mode and on any error."""
    with reading(target) as conn:
        conn.begin()
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(LedgerError):
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
    with reading(path) as conn:
        with conn:
            conn.execute("INSERT INTO events (at, run, site, host, kind, status, summary, data) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                         (moment, run, site, host, kind, status, summary,
                          json.dumps(data or {}, sort_keys=True, default=str)))


def recent(path: str, *, host: str, kind: str, limit: int = 20) -> list[dict[str, Any]]:
    """The newest events (by order of writing, newest first) of one host and kind."""
    if not exists(path):
        return []
    with reading(path) as conn:
        rows = conn.execute("SELECT at, run, site, host, kind, status, summary, data FROM events "
                            "WHERE host = ? AND kind = ? ORDER BY id DESC LIMIT ?", (host, kind, limit)).fetchall()
    return [{"at": at, "run": run, "site": site_, "host": host_, "kind": kind_, "status": status,
             "summary": summary, "data": json.loads(data)}
            for at, run, site_, host_, kind_, status, summary, data in rows]


def events(path: str, *, site: str | None = None, host: str | None = None, kind: str | None = None,
           since: str | None = None) -> Iterator[dict[str, Any]]:
    """Events in order of time, filtered by the given fields."""
    if not exists(path):
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
    with reading(path) as conn:
        rows = conn.execute(f"SELECT at, run, site, host, kind, status, summary, data FROM events{where} "  # noqa: S608
                            "ORDER BY at, id", params).fetchall()
    for at, run, site_, host_, kind_, status, summary, data in rows:
        yield {"at": at, "run": run, "site": site_, "host": host_, "kind": kind_, "status": status,
               "summary": summary, "data": json.loads(data)}


# -- device identities (docs/device-identity.md) -----------------------------------------------

def identity(path: str, host: str, kind: str) -> dict[str, Any] | None:
    """The current record of ``host``'s SSH host key (``ssh``) or TLS certificate
    (``tls``), or None."""
    if not exists(path):
        return None
    with reading(path) as conn:
        row = conn.execute("SELECT algorithm, fingerprint, first_seen, accepted_by, accepted_reason "
                           "FROM device_identity WHERE host = ? AND kind = ? AND replaced_at IS NULL",
                           (host, kind)).fetchone()
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
    with writing(path) as conn:     # one writer at a time: two first records of a host cannot both insert
        conn.execute("UPDATE device_identity SET replaced_at = ? WHERE host = ? AND kind = ? "
                     "AND replaced_at IS NULL", (moment, host, kind))
        conn.execute("INSERT INTO device_identity (host, kind, algorithm, fingerprint, first_seen, accepted_by, "
                     "accepted_reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (host, kind, algorithm, fingerprint, moment, accepted_by, accepted_reason))


def identity_history(path: str, host: str | None = None) -> list[dict[str, Any]]:
    """Every identity record (current and replaced), oldest first."""
    if not exists(path):
        return []
    with reading(path) as conn:
        rows = conn.execute("SELECT host, kind, algorithm, fingerprint, first_seen, accepted_by, accepted_reason, "
                            "replaced_at FROM device_identity WHERE CAST(? AS TEXT) IS NULL OR host = ? ORDER BY id",
                            (host, host)).fetchall()
    keys = ("host", "kind", "algorithm", "fingerprint", "first_seen", "accepted_by", "accepted_reason", "replaced_at")
    return [dict(zip(keys, row, strict=True)) for row in rows]
