"""The PostgreSQL ledger (praxis_ledger_url): the URL and its faults, each one
message with the password masked, the translation of placeholders and of the
migrations, and against a real server (tests/pg.py): parallel writers from
several processes lose nothing, two jobs migrating at once, an older schema
upgraded step by step, a newer one refused, a lock held too long."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
from urllib.parse import quote

import pytest

from ansible.module_utils import praxis_incidents as pi
from ansible.module_utils import praxis_ledger as pl
from tests import pg

T0 = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)
SECRET = "s3cr:et@pw"
SECRET_FORMS = (SECRET, quote(SECRET, safe=""), pg.LEDGER_PASSWORD, quote(pg.LEDGER_PASSWORD, safe=""), "s3cr", "et@")


def assert_no_secret(text: str) -> None:
    for form in SECRET_FORMS:
        assert form not in text, f"the password appears in {text!r}"


# -- the URL -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "part"), [
    (f"postgresql://praxis:{quote(SECRET, safe='')}@db.example:54x2/ledger", "the port '54x2' is not a number"),
    (f"postgresql://praxis:{quote(SECRET, safe='')}@db.example:70000/ledger", "the port '70000'"),
    (f"postgresql://praxis:{quote(SECRET, safe='')}@/ledger", "the host is missing"),
    (f"postgresql://praxis:{quote(SECRET, safe='')}@db.example:5432", "the database name is missing"),
    (f"postgresql://praxis:{quote(SECRET, safe='')}@db.example:5432/", "the database name is missing"),
    (f"postgresql://:{quote(SECRET, safe='')}@db.example/ledger", "the user is missing"),
    (f"postgresql://praxis:{quote(SECRET, safe='')}@db.example/ledger?sslmode=maybe", "sslmode 'maybe'"),
    (f"postgresql://praxis:{quote(SECRET, safe='')}@db.example/ledger?options=-c", "the option 'options'"),
    (f"postgresql://praxis:{quote(SECRET, safe='')}@db.example/ledger?connect_timeout=soon", "connect_timeout"),
    (f"postgresql://praxis:{quote(SECRET, safe='')}@db.example/led/ger", "holds a '/'"),
    (f"mysql://praxis:{quote(SECRET, safe='')}@db.example/ledger", "the scheme 'mysql://' is not supported"),
    ("postgresql://praxis:s3cr/et@db.example/ledger", "holds an unencoded / ? or #"),
    ("postgresql://praxis:s3cr?et@db.example/ledger", "holds an unencoded / ? or #"),
])
def test_a_malformed_url_names_the_part_and_never_the_password(url, part):
    with pytest.raises(pl.LedgerError) as info:
        pl.connect(url)
    message = str(info.value)
    assert part in message and pl.URL_VARIABLE in message and ":***@" in message
    assert_no_secret(message)


def test_a_url_gives_each_setting_decoded():
    settings = pl.parse_url(f"postgres://praxis:{quote(SECRET, safe='')}@db.example:6543/ledger?sslmode=require")
    assert settings == {"host": "db.example", "port": 6543, "dbname": "ledger", "user": "praxis",
                        "password": SECRET, "sslmode": "require"}
    assert pl.parse_url("postgresql://praxis@[::1]/ledger")["host"] == "::1"
    assert pl.parse_url("postgresql://praxis@db/ledger")["port"] == 5432


def test_mask_hides_the_password_even_in_a_broken_url():
    assert pl.mask("postgresql://u:p%40ss@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert pl.mask(f"postgresql://u:{SECRET}@h/d") == "postgresql://u:***@h/d"
    assert pl.mask("postgresql://u@h/d") == "postgresql://u@h/d"
    assert pl.mask("/srv/ledger.sqlite") == "/srv/ledger.sqlite"


def test_location_expands_a_path_and_leaves_a_url_alone(monkeypatch):
    monkeypatch.setenv("LEDGER_DIR", "/srv/praxis")
    assert pl.location("$LEDGER_DIR/ledger.sqlite") == "/srv/praxis/ledger.sqlite"
    assert pl.location("postgresql://u:pa$LEDGER_DIR@h/d") == "postgresql://u:pa$LEDGER_DIR@h/d"
    assert pl.location("") is None and not pl.exists(None) and pl.exists("postgresql://u@h/d")


def test_placeholders_become_psycopg_ones_outside_literals():
    assert pl.pg_sql("SELECT '?', \"a?\" FROM t WHERE x = ? AND y LIKE '10%'") == \
        "SELECT '?', \"a?\" FROM t WHERE x = %s AND y LIKE '10%%'"
    assert pl.pg_sql("SELECT 'it''s ?' WHERE a = ?") == "SELECT 'it''s ?' WHERE a = %s"


def test_rows_answer_by_index_and_by_name():
    row = pl._row_type(("id", "site"))((7, "huber"))
    assert row[0] == 7 and row["site"] == "huber" and row["SITE"] == "huber" and row.keys() == ["id", "site"]
    assert dict(row) == {"id": 7, "site": "huber"} and tuple(row) == (7, "huber")
    with pytest.raises(IndexError, match="no column 'nope'"):
        row["nope"]


# -- the migrations, one source for both --------------------------------------------------------------

def test_every_migration_translates_for_postgresql():
    for step in pl.MIGRATIONS:
        found = pl.statements(step, pl.POSTGRESQL)
        assert found and len(found) == len(pl.statements(step, pl.SQLITE))
        assert not any("INTEGER" in s.upper().replace("BIGINT", "") for s in found), step
    assert "id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY" in pl.statements(1, pl.POSTGRESQL)[0]


def test_an_sqlite_only_statement_must_be_marked(monkeypatch):
    trigger = ("CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'append only'); "
               "END")
    monkeypatch.setitem(pl.MIGRATIONS, 99, "CREATE TABLE t (id INTEGER PRIMARY KEY);" + trigger)
    with pytest.raises(pl.LedgerError, match=r"migration 99: 'CREATE TRIGGER events_no_update.*SQLiteOnly"):
        pl.statements(99, pl.POSTGRESQL)
    monkeypatch.setitem(pl.MIGRATIONS, 99, ["CREATE TABLE t (id INTEGER PRIMARY KEY)",
                                            pl.SQLiteOnly(trigger, reason="PostgreSQL grants no UPDATE instead")])
    assert pl.statements(99, pl.SQLITE)[-1] == trigger
    assert pl.statements(99, pl.POSTGRESQL) == ["CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY "
                                                "PRIMARY KEY)"]
    with pytest.raises(ValueError, match="needs the reason"):
        pl.SQLiteOnly(trigger)


# -- faults against a real server -----------------------------------------------------------------------

def _fault(target: str) -> str:
    with pl.waiting(5), pytest.raises(pl.LedgerError) as info:
        pl.record(target, site="s", host="h", kind="health", status="ok", summary="x")
    message = str(info.value)
    assert_no_secret(message)
    return message


def test_a_wrong_password_says_so_and_never_shows_it(pg_cluster, pg_ledger):
    url = pg_ledger.replace(quote(pg.LEDGER_PASSWORD, safe=""), quote(SECRET, safe=""))
    message = _fault(url)
    assert "refused the password of user 'praxis'" in message and "praxis:***@127.0.0.1" in message


def test_a_missing_database_names_it(pg_cluster):
    message = _fault(pg_cluster.url("no_such_ledger"))
    assert "the database 'no_such_ledger' does not exist" in message and "createdb" in message


def test_connection_refused_names_host_and_port(pg_cluster):
    port = pg.free_port()
    message = _fault(pg_cluster.url("ledger", port=port))
    assert f"nothing accepts connections on 127.0.0.1:{port} (connection refused)" in message


def test_an_unknown_host_names_it(pg_cluster):
    message = _fault(pg_cluster.url("ledger", host="ledger-db.invalid"))
    assert "the host 'ledger-db.invalid' is unknown" in message


def test_a_database_of_a_newer_schema_is_refused_on_both_backends(pg_cluster, pg_ledger, tmp_path):
    pl.record(pg_ledger, site="s", host="h", kind="health", status="ok", summary="x")
    with pg_cluster.admin(pg_ledger.rsplit("/", 1)[1]) as admin:
        admin.execute("UPDATE praxis_schema SET version = %s", (pl.SCHEMA_VERSION + 1,))
    message = _fault(pg_ledger)
    assert f"has schema version {pl.SCHEMA_VERSION + 1}, newer than this praxisops knows" in message
    path = str(tmp_path / "newer.sqlite")
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={pl.SCHEMA_VERSION + 1}")
    assert "newer than this praxisops knows" in _fault(path)


def test_a_lock_held_too_long_is_the_ledgers_lock_error_and_nothing_is_half_written(pg_cluster, pg_ledger):
    pi.observe(pg_ledger, run="r", site="huber", host="fw", checks=["net.reachability"], now=T0,
               findings=[{"check": "net.reachability", "severity": "critical", "priority": "high"}])
    (incident,) = pi.incidents(pg_ledger)
    with pg_cluster.admin(pg_ledger.rsplit("/", 1)[1]) as holder:    # another job inside its write transaction
        holder.autocommit = False
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (pl.WRITE_LOCK,))
        holder.execute("SELECT * FROM deliveries FOR UPDATE")
        holder.execute("UPDATE incidents SET message = message")
        calls = {
            "observe": lambda: pi.observe(pg_ledger, run="r", site="huber", host="fw", checks=["net.reachability"],
                                          findings=[], now=T0 + dt.timedelta(days=1)),
            "acknowledge": lambda: pi.acknowledge(pg_ledger, incident["id"], actor="tech", reason="seen", now=T0),
            "record_identity": lambda: pl.record_identity(pg_ledger, host="fw", kind="ssh", algorithm="ssh-ed25519",
                                                          fingerprint="SHA256:x", accepted_by="t", accepted_reason="r"),
        }
        try:
            for name, call in calls.items():
                with pl.waiting(0.3), pytest.raises(pl.LedgerError, match="is locked by another process") as info:
                    call()
                assert "praxis_ledger_timeout" in str(info.value) and "praxis:***@" in str(info.value), name
                assert_no_secret(str(info.value))
        finally:
            holder.rollback()
    (after,) = pi.incidents(pg_ledger)
    assert after["acked_at"] is None and after["passes"] == 0 and pl.identity(pg_ledger, "fw", "ssh") is None


# -- migrations against a real server --------------------------------------------------------------------

def _migrate(args):
    url, barrier = args
    barrier.wait()
    with pl.reading(url) as conn:
        return conn.execute("SELECT version FROM praxis_schema").fetchone()[0]


def test_two_jobs_migrating_at_once_both_end_at_the_current_version(pg_cluster):
    url = pg_cluster.database()
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        barrier = manager.Barrier(3)
        with context.Pool(3) as pool:
            versions = pool.map_async(_migrate, [(url, barrier)] * 3).get(timeout=120)
    assert versions == [pl.SCHEMA_VERSION] * 3
    with pl.reading(url) as conn:
        assert conn.execute("SELECT COUNT(*) FROM praxis_schema").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_an_older_schema_is_upgraded_step_by_step(pg_cluster, monkeypatch):
    url = pg_cluster.database()
    everything = dict(pl.MIGRATIONS)
    monkeypatch.setattr(pl, "MIGRATIONS", {step: sql for step, sql in everything.items() if step <= 2})
    monkeypatch.setattr(pl, "SCHEMA_VERSION", 2)
    pl.record(url, site="huber", host="fw", kind="health", status="ok", summary="from version 2")
    with pl.reading(url) as conn:
        assert conn.execute("SELECT version FROM praxis_schema").fetchone()["version"] == 2
        assert conn.execute("SELECT to_regclass('incidents') IS NULL").fetchone()[0]
    monkeypatch.setattr(pl, "MIGRATIONS", everything)
    monkeypatch.setattr(pl, "SCHEMA_VERSION", max(everything))
    broken = dict(everything)
    broken[4] = everything[4] + ";\nCREATE TABLE patch_updates (key TEXT)"     # fails: the table exists
    monkeypatch.setattr(pl, "MIGRATIONS", broken)
    with pytest.raises(pl.LedgerError, match="already exists"):
        pl.connect(url)
    with pg_cluster.admin(url.rsplit("/", 1)[1]) as conn:   # step 3 is kept, step 4 left nothing behind
        assert conn.execute("SELECT version FROM praxis_schema").fetchone()[0] == 3
        assert conn.execute("SELECT to_regclass('patch_log') IS NULL").fetchone()[0]
        assert conn.execute("SELECT to_regclass('incidents') IS NOT NULL").fetchone()[0]
    monkeypatch.setattr(pl, "MIGRATIONS", everything)
    assert pi.incidents(url) == []
    with pl.reading(url) as conn:
        assert conn.execute("SELECT version FROM praxis_schema").fetchone()[0] == pl.SCHEMA_VERSION
    assert [e["summary"] for e in pl.events(url)] == ["from version 2"]


# -- parallel writers ------------------------------------------------------------------------------------

WRITERS, RECORDS = 8, 200


def _writer(args):
    url, worker = args
    for n in range(RECORDS):
        pl.record(url, site="huber", host=f"w{worker}", kind="health", status="ok", summary=str(n))
    # every worker sees the same problem of one shared host: one incident, queued once
    for night in range(3):
        pi.observe(url, run=f"r{worker}", site="huber", host="shared-nas", checks=["net.volume"], now=T0,
                   findings=[{"check": "net.volume", "subject": "volume1", "severity": "warning",
                              "priority": "medium", "message": f"night {night}"}])
    pi.observe(url, run=f"r{worker}", site="huber", host=f"w{worker}", checks=["net.reachability"], now=T0,
               findings=[{"check": "net.reachability", "severity": "critical", "priority": "high"}])
    return worker


def test_parallel_writers_on_postgresql_lose_nothing(pg_cluster):
    url = pg_cluster.database()
    pl.connect(url).close()       # migrated once; the writers race on records and incidents only
    with multiprocessing.get_context("fork").Pool(WRITERS) as pool:
        done = pool.map_async(_writer, [(url, w) for w in range(WRITERS)]).get(timeout=240)
    assert sorted(done) == list(range(WRITERS))
    with pl.reading(url) as conn:
        counts = dict(conn.execute("SELECT host, COUNT(*) FROM events GROUP BY host").fetchall())
        shared = conn.execute("SELECT id FROM incidents WHERE host = 'shared-nas'").fetchall()
        opened = conn.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'opened'").fetchone()[0]
    assert counts == {f"w{w}": RECORDS for w in range(WRITERS)}
    assert len(shared) == 1 and opened == WRITERS + 1
    assert sorted(set(range(RECORDS))) == sorted(int(e["summary"]) for e in pl.events(url, host="w3"))


def test_the_audit_trail_is_append_only_on_postgresql_too(pg_cluster, pg_ledger):
    from ansible.module_utils import praxis_audit as pa

    pa.append(pg_ledger, [{"kind": "change", "at": "2026-03-02T01:00:00+00:00", "run": "r1", "site": "huber",
                           "host": "fw", "data": {"task": f"task {n}"}} for n in range(3)])
    verified = pa.verify(pg_ledger)
    assert verified["intact"] and verified["count"] == 3
    with pg_cluster.admin(pg_ledger.rsplit("/", 1)[1]) as admin:
        for statement, word in (("UPDATE audit_log SET site = 'x'", "UPDATE"), ("DELETE FROM audit_log", "DELETE")):
            with pytest.raises(Exception, match=f"audit_log is append-only: {word} refused"):
                admin.execute(statement)
        assert admin.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0] == 3


# -- connections ------------------------------------------------------------------------------------------

def _backends(url: str) -> int:
    with pl.reading(url) as conn:
        return conn.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'praxisops' "
                            "AND datname = current_database()").fetchone()[0]


def _record_in_child(url: str) -> int:
    pl.record(url, site="huber", host="child", kind="health", status="ok", summary="child")
    return _backends(url)


def test_a_process_uses_its_open_connection_again_and_a_child_opens_its_own(pg_ledger):
    pl.close_all()
    for n in range(5):
        pl.record(pg_ledger, site="huber", host="fw", kind="health", status="ok", summary=str(n))
    assert _backends(pg_ledger) == 1                  # five records and the query: one connection
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_record_in_child, (pg_ledger,)) == 2    # the parent's and the child's own
    assert len(list(pl.events(pg_ledger))) == 6
    with pytest.raises(pl.LedgerError):
        with pl.reading(pg_ledger) as conn:
            conn.execute("SELECT * FROM no_such_table")
    assert [e["summary"] for e in pl.events(pg_ledger)][-1] == "child"    # a fresh connection after the error
    pl.close_all()
    assert pl._PG_OPEN == {}
