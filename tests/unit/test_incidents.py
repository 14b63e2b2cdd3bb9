"""Incident rules (OPS-03, OPS-06): open, update, escalate, remind, resolve,
acknowledge, silence, flapping damping, the ledger migration and the atomic
claim of deliveries by two processes."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3

import pytest

from ansible.module_utils import praxis_incidents as pi
from ansible.module_utils import praxis_ledger

T0 = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)   # a Monday night
NIGHT = dt.timedelta(days=1)


def make_finding(check="net.reachability", subject="", severity="critical", priority="high", message="down",
                 value=None, threshold=None, site="huber", host="huber-fw01", when=T0):
    return {"site": site, "host": host, "check": check, "subject": subject, "severity": severity,
            "priority": priority, "message": message, "value": value, "threshold": threshold,
            "first_seen": when.isoformat(), "last_seen": when.isoformat()}


def observe(ledger, findings, now, checks=("net.reachability", "net.cpu_percent"), host="huber-fw01",
            check_mode=False):
    return pi.observe(str(ledger), run="r1", site="huber", host=host, checks=checks, findings=findings, now=now,
                      check_mode=check_mode)


def outbox(ledger):
    with praxis_ledger.reading(ledger) as conn:
        return [tuple(r) for r in conn.execute("SELECT event_key, kind, priority FROM outbox ORDER BY id")]


@pytest.fixture
def ledger(ledger_target):
    """Every incident rule on both backends: an SQLite file and a PostgreSQL database."""
    return ledger_target


def test_first_finding_opens_and_queues_once(ledger):
    result = observe(ledger, [make_finding()], T0)
    assert [i["check"] for i in result["opened"]] == ["net.reachability"]
    incident = result["opened"][0]
    assert incident["state"] == "open" and incident["priority"] == "high"
    assert outbox(ledger) == [(f"{incident['id']}:opened:0", "opened", "high")]
    # the next night, unchanged: updated, nothing queued
    second = observe(ledger, [make_finding(value=3)], T0 + NIGHT)
    assert [i["id"] for i in second["updated"]] == [incident["id"]] and not second["opened"]
    assert second["updated"][0]["value"] == 3
    assert second["updated"][0]["last_seen"] == pi.iso(T0 + NIGHT)
    assert len(outbox(ledger)) == 1


def test_check_mode_records_nothing(ledger):
    import os

    result = observe(ledger, [make_finding()], T0, check_mode=True)
    assert len(result["opened"]) == 1
    assert not os.path.exists(ledger)          # a dry run creates no ledger
    observe(ledger, [make_finding(host="huber-sw01")], T0, host="huber-sw01")   # a real one, another host
    before = (outbox(ledger), pi.incidents(ledger))
    again = observe(ledger, [make_finding()], T0 + NIGHT, check_mode=True)
    assert len(again["opened"]) == 1
    assert (outbox(ledger), pi.incidents(ledger)) == before


def test_escalation_queues_once_per_level(ledger):
    observe(ledger, [make_finding(check="net.cpu_percent", severity="warning", priority="low")], T0)
    up = observe(ledger, [make_finding(check="net.cpu_percent", severity="critical", priority="medium")],
                 T0 + NIGHT)
    assert len(up["escalated"]) == 1 and up["escalated"][0]["priority"] == "medium"
    down = observe(ledger, [make_finding(check="net.cpu_percent", severity="warning", priority="low")],
                   T0 + 2 * NIGHT)
    assert down["updated"] and not down["escalated"]
    again = observe(ledger, [make_finding(check="net.cpu_percent", severity="critical", priority="medium")],
                    T0 + 3 * NIGHT)
    assert not again["escalated"], "back to an already notified level is no new escalation"
    assert [k for _, k, _ in outbox(ledger)] == ["opened", "escalated"]


def test_resolve_needs_consecutive_passes_and_only_checks_that_ran(ledger):
    opened = observe(ledger, [make_finding()], T0)["opened"][0]
    # the reachability check did not run: nothing can pass
    other = observe(ledger, [], T0 + NIGHT, checks=("net.cpu_percent",))
    assert not other["updated"] and not other["resolved"]
    first = observe(ledger, [], T0 + 2 * NIGHT)
    assert first["updated"][0]["state"] == "resolving" and not first["resolved"]
    second = observe(ledger, [], T0 + 3 * NIGHT)
    assert [i["id"] for i in second["resolved"]] == [opened["id"]]
    assert [k for _, k, _ in outbox(ledger)] == ["opened", "resolved"]
    assert observe(ledger, [], T0 + 4 * NIGHT) == {"opened": [], "updated": [], "escalated": [], "resolved": []}


def test_reopen_within_window_is_the_same_incident(ledger):
    first = observe(ledger, [make_finding()], T0)["opened"][0]
    observe(ledger, [], T0 + NIGHT)
    observe(ledger, [], T0 + 2 * NIGHT)
    back = observe(ledger, [make_finding()], T0 + 3 * NIGHT)["opened"][0]
    assert back["id"] == first["id"] and back["reopened"] == 1
    observe(ledger, [], T0 + 4 * NIGHT)
    observe(ledger, [], T0 + 5 * NIGHT)
    late = observe(ledger, [make_finding()], T0 + 5 * NIGHT + pi.REOPEN_WINDOW + dt.timedelta(hours=1))
    assert late["opened"][0]["id"] != first["id"], "after the window a new incident is opened"


def test_flapping_device_over_ten_nights_sends_one_mail_and_one_all_clear(ledger):
    """Down and up every other night for ten nights, then stable."""
    for night in range(10):
        observe(ledger, [make_finding()] if night % 2 == 0 else [], T0 + night * NIGHT)
    assert [k for _, k, _ in outbox(ledger)] == ["opened"]
    assert len(pi.incidents(ledger)) == 1
    observe(ledger, [], T0 + 10 * NIGHT)
    assert [k for _, k, _ in outbox(ledger)] == ["opened", "resolved"]


def test_reminder_after_reaction_time_without_ack(ledger):
    incident = observe(ledger, [make_finding(check="net.cpu_percent", priority="medium")], T0)["opened"][0]
    assert pi.queue_reminders(ledger, sites=["huber"], now=T0 + dt.timedelta(hours=3, minutes=59)) == []
    due = pi.queue_reminders(ledger, sites=["huber"], now=T0 + dt.timedelta(hours=4))
    assert [i["id"] for i in due] == [incident["id"]]
    assert pi.queue_reminders(ledger, sites=["huber"], now=T0 + 3 * NIGHT) == [], "one reminder per level"
    assert pi.queue_reminders(ledger, sites=["other"], now=T0 + 3 * NIGHT) == []
    assert [k for _, k, _ in outbox(ledger)] == ["opened", "reminder"]


def test_acknowledged_incident_gets_no_reminder_and_is_logged(ledger):
    incident = observe(ledger, [make_finding()], T0)["opened"][0]
    acked = pi.acknowledge(ledger, incident["id"], actor="mmueller", reason="technician on the way",
                           now=T0 + dt.timedelta(minutes=20))
    assert acked["changed"] and acked["acked_by"] == "mmueller"
    assert pi.queue_reminders(ledger, sites=["huber"], now=T0 + NIGHT) == []
    shown = pi.show(ledger, incident["id"])
    assert shown["log"] == [{"at": pi.iso(T0 + dt.timedelta(minutes=20)), "actor": "mmueller", "action": "ack",
                             "reason": "technician on the way"}]
    assert not pi.acknowledge(ledger, incident["id"], actor="x", reason="again", now=T0 + NIGHT)["changed"]
    with pytest.raises(pi.IncidentError, match="reason is required"):
        pi.acknowledge(ledger, incident["id"], actor="x", reason=" ", now=T0)


def test_silence_records_but_queues_nothing_until_it_ends(ledger):
    pi.silence(ledger, host="huber-fw01", check="net.reachability", until=T0 + 2 * NIGHT,
               reason="line moved by the carrier", actor="mmueller", now=T0 - dt.timedelta(hours=1))
    result = observe(ledger, [make_finding()], T0)
    assert len(result["opened"]) == 1 and outbox(ledger) == []
    assert pi.queue_reminders(ledger, sites=["huber"], now=T0 + NIGHT) == []
    # another check of the same host is not silenced
    observe(ledger, [make_finding(), make_finding(check="net.cpu_percent", priority="low", severity="warning")],
            T0 + NIGHT)
    assert [k for _, k, _ in outbox(ledger)] == ["opened"]
    # after the silence the still open problem is announced once
    observe(ledger, [make_finding()], T0 + 3 * NIGHT, checks=("net.reachability",))
    observe(ledger, [make_finding()], T0 + 4 * NIGHT, checks=("net.reachability",))
    assert [k for _, k, _ in outbox(ledger)] == ["opened", "opened"]


def test_unsilence_ends_the_silence(ledger):
    pi.silence(ledger, host="huber-fw01", check="net.reachability", subject="", until=T0 + 5 * NIGHT,
               reason="r", actor="a", now=T0 - dt.timedelta(hours=1))
    ended = pi.unsilence(ledger, host="huber-fw01", check="net.reachability", actor="b",
                         now=T0 - dt.timedelta(minutes=1))
    assert len(ended) == 1
    observe(ledger, [make_finding()], T0)
    assert len(outbox(ledger)) == 1


@pytest.mark.parametrize("finding, message", [
    (make_finding(priority="urgent"), "priority 'urgent'"),
    (make_finding(severity="ok"), "severity 'ok'"),
    ({"check": "net.x"}, "lacks severity, priority"),
    (make_finding(host="other-fw01"), "host 'other-fw01'"),
])
def test_bad_findings_are_refused_with_the_field_named(ledger, finding, message):
    with pytest.raises(pi.IncidentError, match=message):
        observe(ledger, [make_finding(check="net.cpu_percent"), finding], T0)
    assert pi.incidents(ledger) == [], "nothing half-done"


def test_duration_and_time_parsing():
    assert pi.parse_duration("3d") == dt.timedelta(days=3)
    assert pi.parse_duration("12h") == dt.timedelta(hours=12)
    for bad in ("3", "0d", "d3", "3y"):
        with pytest.raises(pi.IncidentError, match="duration"):
            pi.parse_duration(bad)
    with pytest.raises(pi.IncidentError, match="until"):
        pi.parse_time("tomorrow", "until")


def test_version_1_ledger_upgrades_in_place(tmp_path):
    path = str(tmp_path / "old.sqlite")
    conn = sqlite3.connect(path)
    conn.executescript(praxis_ledger.SCHEMA + "PRAGMA user_version=1;")
    conn.execute("INSERT INTO events (at, site, host, kind, status, summary, data) "
                 "VALUES ('2026-01-01T00:00:00+00:00', 'huber', 'huber-fw01', 'health', 'ok', 'fine', '{}')")
    conn.commit()
    conn.close()
    observe(path, [make_finding()], T0)
    assert [e["summary"] for e in praxis_ledger.events(path)] == ["fine"]
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == praxis_ledger.SCHEMA_VERSION
    conn.close()


def _claim_all(args):
    ledger, ids, worker = args
    return pi.claim(ledger, ids, worker=worker, now=T0)


def test_two_processes_never_claim_the_same_delivery(ledger):
    for n in range(30):
        observe(ledger, [make_finding(check=f"net.check{n}")], T0, checks=())
    pending = pi.expand(ledger, site="huber", now=T0, recipients=lambda event: [
        {"address": "a@huber.example.org", "language": "de", "audience": "practice"},
        {"address": "noc@provider.example.net", "language": "en", "audience": "provider"}])
    ids = [p["id"] for p in pending]
    assert len(ids) == 60
    with multiprocessing.get_context("fork").Pool(2) as pool:
        got = pool.map(_claim_all, [(ledger, ids, "job-a"), (ledger, list(reversed(ids)), "job-b")])
    assert sorted(got[0] + got[1]) == sorted(ids)
    assert not set(got[0]) & set(got[1])
    # an expired lease can be taken over; a sent row never again
    later = T0 + pi.CLAIM_LEASE + dt.timedelta(seconds=1)
    assert pi.claim(ledger, ids[:1], worker="job-c", now=later) == ids[:1]
    pi.mark_sent(ledger, ids[:1], worker="job-c", message_id="<m@x>", now=later)
    assert pi.claim(ledger, ids[:1], worker="job-d", now=later + NIGHT) == []


def test_failed_delivery_stays_queued_with_the_error(ledger):
    observe(ledger, [make_finding()], T0)
    pending = pi.expand(ledger, site="huber", now=T0, recipients=lambda event: [
        {"address": "a@huber.example.org", "language": "de", "audience": "practice"}])
    ids = pi.claim(ledger, [p["id"] for p in pending], worker="w", now=T0)
    pi.mark_failed(ledger, ids, worker="w", error="connection refused")
    again = pi.pending(ledger, site="huber")
    assert [(p["attempts"], p["last_error"], p["claimed_by"]) for p in again] == [(1, "connection refused", None)]
    # expanding again adds no second delivery for the same event
    assert len(pi.expand(ledger, site="huber", now=T0, recipients=lambda e: [
        {"address": "a@huber.example.org", "language": "de", "audience": "practice"}])) == 1


def test_a_dry_run_leaves_no_file_anywhere(tmp_path, monkeypatch):
    """The empty in-memory ledger of a dry run is SQLite's ':memory:', never a file
    of that name in the working folder."""
    import os

    monkeypatch.chdir(tmp_path)
    observe(str(tmp_path / "missing" / "ledger.sqlite"), [make_finding()], T0, check_mode=True)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-24T18:00+01:00", dt.datetime(2026, 12, 24, 17, 0, tzinfo=dt.timezone.utc)),
    ("2026-12-24T18:00Z", dt.datetime(2026, 12, 24, 18, 0, tzinfo=dt.timezone.utc)),
    ("2026-12-24T18:00", dt.datetime(2026, 12, 24, 18, 0, tzinfo=dt.timezone.utc)),     # no offset: UTC
    (dt.datetime(2026, 12, 24, 18, 0), dt.datetime(2026, 12, 24, 18, 0, tzinfo=dt.timezone.utc)),
])
def test_times_go_through_the_one_parser(text, expected):
    assert pi.parse_time(text, "until") == expected


def test_a_bad_time_names_the_field():
    with pytest.raises(pi.IncidentError, match="until"):
        pi.parse_time("2026-13-40T25:00", "until")


def test_every_incident_call_on_a_locked_ledger_is_the_ledgers_lock_error(tmp_path):
    """Writes and reads of the incident tables say what the ledger says about a lock
    (who holds it, praxis_ledger_timeout), never a bare SQLite error (PostgreSQL:
    tests/unit/test_ledger_postgresql.py)."""
    ledger = str(tmp_path / "ledger.sqlite")
    observe(ledger, [make_finding()], T0)
    (incident,) = pi.incidents(ledger)
    holder = sqlite3.connect(ledger, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE incidents SET message = message")
    calls = {
        "observe": lambda: observe(ledger, [make_finding()], T0 + NIGHT),
        "acknowledge": lambda: pi.acknowledge(ledger, incident["id"], actor="tech", reason="seen", now=T0),
        "silence": lambda: pi.silence(ledger, host="huber-fw01", check="net.reachability", until=T0 + NIGHT,
                                      reason="works", actor="tech", now=T0),
        "mark_failed": lambda: pi.mark_failed(ledger, [1], worker="w", error="x"),
    }
    try:
        for name, call in calls.items():
            with praxis_ledger.waiting(0.2), pytest.raises(praxis_ledger.LedgerError, match="is locked") as info:
                call()
            assert ledger in str(info.value), name
    finally:
        holder.rollback()
        holder.close()
    assert pi.incidents(ledger)[0]["acked_at"] is None      # nothing half-written
