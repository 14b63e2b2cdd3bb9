# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Incidents: the open problems of the practices, and their notifications (OPS-03, OPS-06).

A check action reports its findings of one host with ``observe()``. A
problem's identity is ``(site, host, check, subject)``:

* the first finding opens an incident and queues an ``opened`` notification;
* later findings update it (``last_seen``, value, message); a higher
  priority or severity than the one notified escalates it (``escalated``);
* when the check ran and the problem is gone, the incident counts passes;
  after ``RESOLVE_PASSES`` consecutive passes it is resolved and one
  all-clear (``resolved``) is queued; a finding in between resets the count
  and sends nothing (flapping damping);
* a problem that comes back within ``REOPEN_WINDOW`` after its all-clear
  reopens the same incident (``opened`` again, marked as reopened) instead of
  creating a new one;
* ``queue_reminders()`` queues one ``reminder`` per notified level when the
  reaction time of the priority passed without acknowledgement.

Notifications go into the ledger's ``outbox`` (UNIQUE ``event_key`` =
incident id, kind, sequence: an event is queued once, whoever queues it);
the mail side expands each into one ``deliveries`` row per recipient and
claims rows atomically before sending, so two jobs never send the same mail.
A silence (``silence()``) keeps the incident bookkeeping but queues nothing
for its host/check/subject until it ends. docs/alerts.md describes the rules.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Callable, Iterable, Mapping

from ansible.module_utils import praxis_ledger
from ansible.module_utils.praxis_calendar import CalendarError, parse_timestamp

PRIORITIES = ("high", "medium", "low")
SEVERITIES = ("critical", "warning")
REACTION = {"high": dt.timedelta(hours=1), "medium": dt.timedelta(hours=4), "low": dt.timedelta(hours=24)}
PRIORITY_RANK = {"high": 3, "medium": 2, "low": 1}
SEVERITY_RANK = {"critical": 2, "warning": 1}
RESOLVE_PASSES = 2
REOPEN_WINDOW = dt.timedelta(hours=48)
CLAIM_LEASE = dt.timedelta(minutes=10)
EVENTS = ("opened", "escalated", "reminder", "resolved")
ACTIVE = ("open", "resolving")
FINDING_KEYS = ("site", "host", "check", "subject", "severity", "priority", "message", "value", "threshold",
                "first_seen", "last_seen")
DURATION = re.compile(r"^(\d+)\s*([mhdw])$")


class IncidentError(ValueError):
    pass


_OFFSET = re.compile(r"(?:[Zz]|[+-]\d{2}:?\d{2})$")   # an ISO time that names its offset


def rank(priority: str, severity: str) -> int:
    """Order of urgency: priority first, then severity."""
    return PRIORITY_RANK[priority] * 10 + SEVERITY_RANK[severity]


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds")


def parse_time(value: Any, field: str = "now") -> dt.datetime:
    """An aware datetime from a datetime or ISO text, through the project's one
    timestamp parser (``praxis_calendar.parse_timestamp``); a value without an
    offset (``--until 2026-12-24T18:00`` on the command line) is UTC."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    elif isinstance(value, str) and value.strip() and not _OFFSET.search(value.strip()):
        value = value.strip() + "+00:00"
    try:
        return parse_timestamp(value, field)
    except CalendarError as exc:
        raise IncidentError(str(exc)) from None


def parse_duration(text: str) -> dt.timedelta:
    """``30m``, ``4h``, ``3d``, ``2w``."""
    match = DURATION.match(str(text).strip())
    if not match:
        raise IncidentError(f"duration {text!r}: expected a number and m, h, d or w, e.g. 3d")
    number, unit = int(match.group(1)), match.group(2)
    if number <= 0:
        raise IncidentError(f"duration {text!r} must be positive")
    return {"m": dt.timedelta(minutes=number), "h": dt.timedelta(hours=number), "d": dt.timedelta(days=number),
            "w": dt.timedelta(weeks=number)}[unit]


def _check_finding(finding: Any, index: int, site: str, host: str) -> dict[str, Any]:
    if not isinstance(finding, Mapping):
        raise IncidentError(f"{site}/{host}: finding {index} is not a dict: {finding!r}")
    missing = [key for key in ("check", "severity", "priority") if not finding.get(key)]
    if missing:
        raise IncidentError(f"{site}/{host}: finding {index} lacks {', '.join(missing)}")
    if finding["priority"] not in PRIORITIES:
        raise IncidentError(f"{site}/{host}: finding {index} ({finding['check']}): priority "
                            f"{finding['priority']!r} is not one of {', '.join(PRIORITIES)}")
    if finding["severity"] not in SEVERITIES:
        raise IncidentError(f"{site}/{host}: finding {index} ({finding['check']}): severity "
                            f"{finding['severity']!r} is not one of {', '.join(SEVERITIES)}")
    for key in ("site", "host"):
        if finding.get(key) not in (None, "", site if key == "site" else host):
            raise IncidentError(f"{site}/{host}: finding {index} ({finding['check']}) is about "
                                f"{key} {finding[key]!r}")
    return dict(finding, subject=str(finding.get("subject") or ""))


def _row(row: praxis_ledger.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    item = dict(row)
    item["check"] = item.pop("check_id")
    for key in ("value", "threshold"):
        item[key] = json.loads(item[key]) if item.get(key) is not None else None
    return item


_reading = praxis_ledger.reading
_writing = praxis_ledger.writing


def _silenced(conn: praxis_ledger.Connection, site: str, host: str, check: str, subject: str,
              now: dt.datetime) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT * FROM silences WHERE removed_at IS NULL AND host = ? AND check_id = ? "
        "AND (site = '' OR site = ?) AND (subject IS NULL OR subject = ?) AND starts_at <= ? AND ends_at > ? "
        "ORDER BY ends_at DESC LIMIT 1", (host, check, site, subject, iso(now), iso(now))).fetchone()
    return dict(row) if row else None


def _queue(conn: praxis_ledger.Connection, incident: dict[str, Any], kind: str, seq: int, now: dt.datetime,
           run: str, extra: Mapping[str, Any] | None = None) -> bool:
    """Queue one event (once: the event key is unique); True when it is new."""
    data = {key: incident[key] for key in ("id", "site", "host", "check", "subject", "severity", "priority",
                                           "message", "value", "threshold", "first_seen", "last_seen",
                                           "opened_at", "resolved_at", "reopened")}
    data.update(extra or {})
    cursor = conn.execute(
        "INSERT INTO outbox (event_key, incident_id, site, kind, seq, priority, created_at, run, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_key) DO NOTHING",
        (f"{incident['id']}:{kind}:{seq}", incident["id"], incident["site"], kind, seq, incident["priority"],
         iso(now), run, json.dumps(data, sort_keys=True, default=str)))
    return cursor.rowcount == 1


def _get(conn: praxis_ledger.Connection, incident_id: int) -> dict[str, Any]:
    found = _row(conn.execute("SELECT * FROM incidents WHERE id = ?", (incident_id,)).fetchone())
    if found is None:
        raise IncidentError(f"no incident {incident_id}")
    return found


def observe(ledger_path: str, *, run: str, site: str, host: str, checks: Iterable[str],
            findings: Iterable[Mapping[str, Any]], now: Any, check_mode: bool = False) -> dict[str, list]:
    """Record the findings of one host; ``checks`` are the checks that ran
    (only their incidents can pass or resolve). Returns the incidents
    ``opened``, ``updated``, ``escalated`` and ``resolved`` by this call. In
    check mode nothing is recorded; the result says what would happen."""
    moment = parse_time(now)
    stamp = iso(moment)
    ran = {str(c) for c in checks}
    items = [_check_finding(f, i, site, host) for i, f in enumerate(findings or [])]
    result: dict[str, list] = {"opened": [], "updated": [], "escalated": [], "resolved": []}
    # a dry run against a ledger that does not exist yet must not create one: it
    # works on an empty in-memory ledger of the same schema instead
    with _writing(praxis_ledger.MEMORY if check_mode and not praxis_ledger.exists(ledger_path) else ledger_path,
                  check_mode) as conn:
        active = {(r["check"], r["subject"]): r for r in map(_row, conn.execute(
            "SELECT * FROM incidents WHERE site = ? AND host = ? AND state IN ('open', 'resolving')",
            (site, host)).fetchall())}
        seen = set()
        for finding in items:
            key = (finding["check"], finding["subject"])
            if key in seen:     # the same problem twice in one run: the worse one counts
                continue
            seen.add(key)
            same = [f for f in items if (f["check"], f["subject"]) == key]
            finding = max(same, key=lambda f: rank(f["priority"], f["severity"]))
            level = rank(finding["priority"], finding["severity"])
            silence = _silenced(conn, site, host, finding["check"], finding["subject"], moment)
            values = (finding.get("message") or "", json.dumps(finding.get("value"), default=str),
                      json.dumps(finding.get("threshold"), default=str))
            incident = active.get(key)
            if incident is not None:
                announced = rank(incident["priority"], incident["severity"])
                escalate = level > incident["notified_rank"] and level > announced
                conn.execute(
                    "UPDATE incidents SET state = 'open', passes = 0, last_seen = ?, updated_at = ?, message = ?, "
                    "value = ?, threshold = ?, run = ?, severity = ?, priority = ? WHERE id = ?",
                    (stamp, stamp, *values, run, finding["severity"], finding["priority"], incident["id"]))
                if incident["notified_rank"] == 0 and silence is None:
                    # opened while silenced and still there after the silence: announce it now
                    current = _get(conn, incident["id"])
                    if _queue(conn, current, "opened", current["reopened"], moment, run,
                              {"reopened": current["reopened"]}):
                        _notified(conn, current["id"], level, stamp)
                    result["opened"].append(_get(conn, incident["id"]))
                elif escalate:
                    conn.execute("UPDATE incidents SET escalations = escalations + 1, acked_at = NULL, "
                                 "acked_by = NULL, ack_reason = NULL WHERE id = ?", (incident["id"],))
                    current = _get(conn, incident["id"])
                    if silence is None and _queue(conn, current, "escalated", current["escalations"], moment, run):
                        _notified(conn, current["id"], level, stamp)
                    result["escalated"].append(_get(conn, incident["id"]))
                else:
                    result["updated"].append(_get(conn, incident["id"]))
                continue
            window = iso(moment - REOPEN_WINDOW)
            previous = conn.execute(
                "SELECT id FROM incidents WHERE site = ? AND host = ? AND check_id = ? AND subject = ? "
                "AND state = 'resolved' AND resolved_at >= ? ORDER BY resolved_at DESC LIMIT 1",
                (site, host, finding["check"], finding["subject"], window)).fetchone()
            if previous is not None:
                conn.execute(
                    "UPDATE incidents SET state = 'open', passes = 0, resolved_at = NULL, reopened = reopened + 1, "
                    "notified_rank = 0, reminders = 0, acked_at = NULL, acked_by = NULL, ack_reason = NULL, "
                    "last_seen = ?, updated_at = ?, message = ?, value = ?, threshold = ?, run = ?, severity = ?, "
                    "priority = ? WHERE id = ?",
                    (stamp, stamp, *values, run, finding["severity"], finding["priority"], previous["id"]))
                incident_id = previous["id"]
            else:
                first = iso(parse_time(finding["first_seen"], "first_seen")) if finding.get("first_seen") else stamp
                cursor = conn.execute(
                    "INSERT INTO incidents (site, host, check_id, subject, state, severity, priority, message, "
                    "value, threshold, first_seen, last_seen, opened_at, updated_at, run) "
                    "VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (site, host, finding["check"], finding["subject"], finding["severity"], finding["priority"],
                     *values, first, stamp, stamp, stamp, run))
                incident_id = cursor.fetchone()["id"]
            current = _get(conn, incident_id)
            if silence is None and _queue(conn, current, "opened", current["reopened"], moment, run,
                                          {"reopened": current["reopened"]}):
                _notified(conn, incident_id, level, stamp)
            result["opened"].append(_get(conn, incident_id))
        for key, incident in active.items():
            if key in seen or incident["check"] not in ran:
                continue
            passes = incident["passes"] + 1
            if passes >= RESOLVE_PASSES:
                conn.execute("UPDATE incidents SET state = 'resolved', passes = ?, resolved_at = ?, updated_at = ?, "
                             "run = ? WHERE id = ?", (passes, stamp, stamp, run, incident["id"]))
                current = _get(conn, incident["id"])
                if current["notified_rank"] > 0:    # an all-clear only for what was announced, to its recipients
                    announced = next(p for p, r in PRIORITY_RANK.items() if r == current["notified_rank"] // 10)
                    _queue(conn, dict(current, priority=announced), "resolved", current["reopened"], moment, run)
                result["resolved"].append(current)
            else:
                conn.execute("UPDATE incidents SET state = 'resolving', passes = ?, updated_at = ?, run = ? "
                             "WHERE id = ?", (passes, stamp, run, incident["id"]))
                result["updated"].append(_get(conn, incident["id"]))
    return result


def _notified(conn: praxis_ledger.Connection, incident_id: int, level: int, stamp: str) -> None:
    conn.execute("UPDATE incidents SET notified_rank = CASE WHEN notified_rank > ? THEN notified_rank ELSE ? END, "
                 "last_notified_at = ?, reminders = 0 WHERE id = ?", (level, level, stamp, incident_id))


def queue_reminders(ledger_path: str, *, sites: Iterable[str], now: Any, run: str = "",
                    check_mode: bool = False) -> list[dict[str, Any]]:
    """Queue a reminder for every open incident of the sites whose reaction
    time (REACTION of its priority) passed since its last notification
    without acknowledgement; one reminder per notified level."""
    moment = parse_time(now)
    wanted = sorted({str(s) for s in sites})
    if not wanted:
        return []
    queued = []
    with _writing(ledger_path, check_mode) as conn:
        marks = ", ".join("?" * len(wanted))
        rows = conn.execute(
            f"SELECT * FROM incidents WHERE site IN ({marks}) AND state IN ('open', 'resolving') "  # noqa: S608
            "AND acked_at IS NULL AND notified_rank > 0 AND reminders = 0 AND last_notified_at IS NOT NULL "
            "ORDER BY id", wanted).fetchall()
        for incident in map(_row, rows):
            due = parse_time(incident["last_notified_at"]) + REACTION[incident["priority"]]
            if due > moment or _silenced(conn, incident["site"], incident["host"], incident["check"],
                                         incident["subject"], moment):
                continue
            seq = incident["reopened"] * 1000 + incident["escalations"]
            if _queue(conn, incident, "reminder", seq, moment, run, {"due": iso(due)}):
                conn.execute("UPDATE incidents SET reminders = reminders + 1 WHERE id = ?", (incident["id"],))
                queued.append(_get(conn, incident["id"]))
    return queued


# -- delivery: outbox -> one row per recipient -> claimed -> sent ------------------------------

def expand(ledger_path: str, *, site: str, recipients: Callable[[dict[str, Any]], list[dict[str, str]]],
           now: Any, check_mode: bool = False) -> list[dict[str, Any]]:
    """Give each new outbox event of the site its recipients (``recipients(event)``
    returns dicts with ``address``, ``language``, ``audience``); returns the
    pending deliveries of the site (unsent), with their event."""
    moment = parse_time(now)
    with _writing(ledger_path, check_mode) as conn:
        events = conn.execute("SELECT * FROM outbox WHERE site = ? AND expanded_at IS NULL ORDER BY id",
                              (site,)).fetchall()
        for event in events:
            item = _event(event)
            for target in recipients(item):
                conn.execute(
                    "INSERT INTO deliveries (outbox_id, site, recipient, language, audience, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (outbox_id, recipient) DO NOTHING",
                    (event["id"], site, target["address"], target["language"], target["audience"], iso(moment)))
            conn.execute("UPDATE outbox SET expanded_at = ? WHERE id = ?", (iso(moment), event["id"]))
        pending = _pending(conn, site)
    return pending


def _event(row: praxis_ledger.Row) -> dict[str, Any]:
    item = dict(row)
    item["data"] = json.loads(item["data"])
    return item


def _pending(conn: praxis_ledger.Connection, site: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT d.*, o.kind, o.seq, o.priority, o.data, o.incident_id, o.event_key, o.created_at AS queued_at "
        "FROM deliveries d JOIN outbox o ON o.id = d.outbox_id WHERE d.site = ? AND d.sent_at IS NULL "
        "ORDER BY d.recipient, o.id", (site,)).fetchall()
    return [_event(r) for r in rows]


def pending(ledger_path: str, *, site: str | None = None) -> list[dict[str, Any]]:
    """Unsent deliveries (of one site or all)."""
    with _reading(ledger_path) as conn:
        sites = [site] if site else [r[0] for r in conn.execute("SELECT DISTINCT site FROM deliveries")]
        return [item for name in sites for item in _pending(conn, name)]


def claim(ledger_path: str, delivery_ids: Iterable[int], *, worker: str, now: Any,
          lease: dt.timedelta = CLAIM_LEASE) -> list[int]:
    """Claim unsent deliveries for sending; returns the ids this worker got.
    A row is taken only when nobody holds it or the holder's lease expired,
    in one UPDATE each, so two jobs never both get a row."""
    moment = parse_time(now)
    got = []
    with _reading(ledger_path) as conn:
        for delivery_id in delivery_ids:
            with conn:
                cursor = conn.execute(
                    "UPDATE deliveries SET claimed_by = ?, claim_expires = ? WHERE id = ? AND sent_at IS NULL "
                    "AND (claimed_by IS NULL OR claim_expires < ?)",
                    (worker, iso(moment + lease), delivery_id, iso(moment)))
            if cursor.rowcount == 1:
                got.append(delivery_id)
    return got


def mark_sent(ledger_path: str, delivery_ids: Iterable[int], *, worker: str, message_id: str, now: Any) -> None:
    ids = list(delivery_ids)
    with _reading(ledger_path) as conn:
        with conn:
            for delivery_id in ids:
                conn.execute("UPDATE deliveries SET sent_at = ?, message_id = ?, attempts = attempts + 1, "
                             "last_error = NULL, claimed_by = NULL, claim_expires = NULL "
                             "WHERE id = ? AND claimed_by = ?", (iso(parse_time(now)), message_id, delivery_id,
                                                                 worker))


def mark_failed(ledger_path: str, delivery_ids: Iterable[int], *, worker: str, error: str) -> None:
    """Release the claim, count the attempt and keep the error (the row stays queued)."""
    with _reading(ledger_path) as conn:
        with conn:
            for delivery_id in delivery_ids:
                conn.execute("UPDATE deliveries SET attempts = attempts + 1, last_error = ?, claimed_by = NULL, "
                             "claim_expires = NULL WHERE id = ? AND claimed_by = ?",
                             (error[:500], delivery_id, worker))


# -- acknowledgement and silences (scripts/praxis-incidents, playbooks/incident.yml) -------------

def _log(conn: praxis_ledger.Connection, actor: str, action: str, now: dt.datetime, reason: str = "",
         incident_id: int | None = None, silence_id: int | None = None) -> None:
    conn.execute("INSERT INTO incident_log (at, actor, action, incident_id, silence_id, reason) "
                 "VALUES (?, ?, ?, ?, ?, ?)", (iso(now), actor, action, incident_id, silence_id, reason))


def _need(value: Any, field: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise IncidentError(f"{field} is required")
    return text


def acknowledge(ledger_path: str, incident_id: int, *, actor: str, reason: str, now: Any,
                check_mode: bool = False) -> dict[str, Any]:
    """Acknowledge an open incident: no more reminders for it. Returns it
    with ``changed`` (False when it was acknowledged already)."""
    moment = parse_time(now)
    reason, actor = _need(reason, "reason"), _need(actor, "actor")
    with _writing(ledger_path, check_mode) as conn:
        incident = _get(conn, int(incident_id))
        if incident["state"] not in ACTIVE:
            raise IncidentError(f"incident {incident_id} is {incident['state']}, not open")
        changed = incident["acked_at"] is None
        if changed:
            conn.execute("UPDATE incidents SET acked_at = ?, acked_by = ?, ack_reason = ? WHERE id = ?",
                         (iso(moment), actor, reason, incident["id"]))
            _log(conn, actor, "ack", moment, reason, incident_id=incident["id"])
        incident = _get(conn, incident["id"])
    return dict(incident, changed=changed)


def silence(ledger_path: str, *, host: str, check: str, subject: str | None = None, site: str = "",
            until: Any, reason: str, actor: str, now: Any, check_mode: bool = False) -> dict[str, Any]:
    """Silence a host's check (one subject, or all when None) until ``until``."""
    moment, end = parse_time(now), parse_time(until, "until")
    host, check = _need(host, "host"), _need(check, "check")
    reason, actor = _need(reason, "reason"), _need(actor, "actor")
    if end <= moment:
        raise IncidentError(f"until {iso(end)} is not in the future")
    with _writing(ledger_path, check_mode) as conn:
        cursor = conn.execute(
            "INSERT INTO silences (site, host, check_id, subject, starts_at, ends_at, reason, created_by, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (site or "", host, check, subject, iso(moment), iso(end), reason, actor, iso(moment)))
        silence_id = cursor.fetchone()["id"]
        _log(conn, actor, "silence", moment, reason, silence_id=silence_id)
        row = dict(conn.execute("SELECT * FROM silences WHERE id = ?", (silence_id,)).fetchone())
    return row


def unsilence(ledger_path: str, *, host: str, check: str, subject: str | None = None, actor: str, now: Any,
              reason: str = "", check_mode: bool = False) -> list[dict[str, Any]]:
    """End the active silences of a host's check (of one subject when given)."""
    moment = parse_time(now)
    host, check, actor = _need(host, "host"), _need(check, "check"), _need(actor, "actor")
    with _writing(ledger_path, check_mode) as conn:
        rows = conn.execute(
            "SELECT * FROM silences WHERE removed_at IS NULL AND ends_at > ? AND host = ? AND check_id = ? "
            "AND (CAST(? AS TEXT) IS NULL OR subject = ?)", (iso(moment), host, check, subject, subject)).fetchall()
        for row in rows:
            conn.execute("UPDATE silences SET removed_at = ?, removed_by = ? WHERE id = ?",
                         (iso(moment), actor, row["id"]))
            _log(conn, actor, "unsilence", moment, reason, silence_id=row["id"])
    return [dict(r) for r in rows]


def incidents(ledger_path: str, *, site: str | None = None, states: Iterable[str] = ACTIVE) -> list[dict[str, Any]]:
    wanted = list(states)
    with _reading(ledger_path) as conn:
        clause = f"state IN ({', '.join('?' * len(wanted))})"
        params: list[Any] = list(wanted)
        if site:
            clause += " AND site = ?"
            params.append(site)
        return [_row(r) for r in conn.execute(  # type: ignore[misc]
            f"SELECT * FROM incidents WHERE {clause} ORDER BY site, host, id", params).fetchall()]  # noqa: S608


def show(ledger_path: str, incident_id: int) -> dict[str, Any]:
    """One incident with its notifications, deliveries and log."""
    with _reading(ledger_path) as conn:
        incident = _get(conn, int(incident_id))
        incident["notifications"] = [_event(r) for r in conn.execute(
            "SELECT * FROM outbox WHERE incident_id = ? ORDER BY id", (incident["id"],))]
        incident["deliveries"] = [dict(r) for r in conn.execute(
            "SELECT d.id, o.kind, d.recipient, d.sent_at, d.attempts, d.last_error FROM deliveries d "
            "JOIN outbox o ON o.id = d.outbox_id WHERE o.incident_id = ? ORDER BY d.id", (incident["id"],))]
        incident["log"] = [dict(r) for r in conn.execute(
            "SELECT at, actor, action, reason FROM incident_log WHERE incident_id = ? ORDER BY id",
            (incident["id"],))]
        return incident


def silences(ledger_path: str, *, now: Any) -> list[dict[str, Any]]:
    with _reading(ledger_path) as conn:
        return [dict(r) for r in conn.execute(
            "SELECT * FROM silences WHERE removed_at IS NULL AND ends_at > ? ORDER BY host, check_id",
            (iso(parse_time(now)),))]
