"""Alerts benchmark: what the incident engine and the alert e-mails add to the
nightly job of 300 practices.

The nightly job (``playbooks/nightly.yml``) calls
``praxis_incidents.observe()`` once per host and check action (through the
``PraxisAction`` base) and ends with the action ``praxis_alerts`` (reminders,
outbox, one message per practice and recipient). This benchmark runs exactly
those calls in one process against a ledger seeded with 300 practices of 20
open incidents each (6,000 incidents on 1,100 devices: firewall, switch and
access point everywhere, a NAS in two practices of three, as in the lab):

* ``first night``: every incident is new: 1,100 ``observe()`` calls open
  them, 300 firewall signature checks pass, then ``queue_reminders()`` and
  ``praxis_mail.deliver()`` for every practice render and hand over one
  message per practice and recipient (the worst night);
* ``steady night`` (the goal): the same findings again 10 minutes later:
  every incident is updated, nothing is queued or sent;
* ``reminder night``: 25 hours later, unacknowledged: the same observations,
  and every incident's reminder goes to the on-call address.

Messages are rendered and serialised to bytes (``EmailMessage.as_bytes()``)
but handed to a sink instead of an SMTP server: the network round trip of a
real server is not evaluation cost and depends on the provider.

The figure of the steady night is compared with the wall time of the
300-practice nightly job recorded in ``bench/results/fleet.json`` (variant
``praxisops``); goal: it adds less than 5 %. Checks (ledger counts after each
night) must pass, or no share is printed or recorded and the exit code is 1.

    .venv/bin/python bench/alerts/bench_alerts.py [--sites 300] [--incidents 20] [--record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import ansible.module_utils as _ansible_module_utils  # noqa: E402

if str(ROOT / "module_utils") not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(str(ROOT / "module_utils"))

from ansible.module_utils import praxis_incidents, praxis_mail  # noqa: E402

FLEET_RESULTS = ROOT / "bench" / "results" / "fleet.json"
RESULTS_TRACKED = ROOT / "bench" / "results" / "alerts.json"
RESULTS_DEFAULT = ROOT / "bench" / "output" / "alerts.json"
GOAL = 0.05
ONCALL = "bereitschaft@provider.example.net"
START = dt.datetime(2026, 11, 25, 22, 30, tzinfo=dt.timezone.utc)
# what a device check can report, with a subject per instance; 20 incidents a
# practice are spread over its devices round robin
CHECKS = {
    "fw01": [("net.reachability", ""), ("net.cpu_percent", ""), ("net.memory_percent", ""),
             ("net.temperature_c", ""), ("net.signature_date", "")],
    "sw01": [("net.cpu_percent", ""), ("net.memory_percent", ""), ("net.temperature_c", "")]
    + [("net.port", f"port{n}") for n in range(1, 9)],
    "ap01": [("net.cpu_percent", ""), ("net.memory_percent", ""), ("net.temperature_c", "")]
    + [("net.radio", f"wlan{n}") for n in range(1, 5)],
    "nas01": [("net.disk_health", f"sata{n}") for n in range(1, 5)]
    + [("net.volume_used_percent", f"volume{n}") for n in range(1, 4)],
}
DEVICE_CHECKS = ["net.reachability", "net.cpu", "net.memory", "net.temperature", "net.disk", "net.volume",
                 "net.cpu_percent", "net.memory_percent", "net.temperature_c", "net.disk_health",
                 "net.volume_used_percent", "net.port", "net.radio", "net.signature_date"]
PRIORITIES = ("high", "medium", "low")
SEVERITY = {"high": "critical", "medium": "warning", "low": "warning"}


# -- the seeded fleet ----------------------------------------------------------------------------

def site_id(index: int) -> str:
    return f"lab{index + 1:03d}"


def devices(index: int) -> list[str]:
    """The devices of practice ``index`` as in the lab: no NAS in every third practice."""
    return ["fw01", "sw01", "ap01"] + ([] if index % 3 == 2 else ["nas01"])


def site_document(index: int) -> dict[str, Any]:
    site = site_id(index)
    return {"id": site, "name": f"Praxis Lab {index + 1:03d}", "timezone": "Europe/Berlin",
            "language": "en" if index % 10 == 9 else "de",
            "contacts": [{"name": "Praxisteam", "email": f"praxis.{site}@example.org"},
                         {"name": "Bereitschaft Technik", "email": "technik@example.org", "priorities": ["high"]}]}


def plan(index: int, per_site: int) -> dict[str, list[dict[str, Any]]]:
    """The findings of each host of practice ``index``: ``per_site`` distinct
    (host, check, subject), round robin over its devices, priorities mixed."""
    names = devices(index)
    offered = {name: list(CHECKS[name]) for name in names}
    capacity = sum(len(v) for v in offered.values())
    if per_site > capacity:
        raise ValueError(f"{per_site} incidents do not fit on {len(names)} devices ({capacity} checks)")
    site = site_id(index)
    findings: dict[str, list[dict[str, Any]]] = {f"{site}-{n}": [] for n in names}
    turn = 0
    while sum(len(v) for v in findings.values()) < per_site:
        name = names[turn % len(names)]
        turn += 1
        if not offered[name]:
            continue
        check, subject = offered[name].pop(0)
        priority = PRIORITIES[(turn + index) % 3]
        findings[f"{site}-{name}"].append({
            "site": site, "host": f"{site}-{name}", "check": check, "subject": subject,
            "severity": SEVERITY[priority], "priority": priority, "message": f"{check} {subject}".strip(),
            "value": 91, "threshold": 90})
    return findings


# -- one night ------------------------------------------------------------------------------------

def sink(_settings: Any, message: Any, _to: list[str]) -> None:
    """Stands for the SMTP server: the message is serialised as it would be sent."""
    message.as_bytes()


SMTP = {"host": "smtp.bench.invalid", "from": "alerts@provider.example.net", "starttls": False, "retries": 0}


def night(ledger: str, sites: int, per_site: int, now: dt.datetime,
          clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """observe() for every host and check action, then what praxis_alerts does
    for every practice; seconds of each part and what happened."""
    stamp = now.isoformat()
    counts = {"opened": 0, "updated": 0, "escalated": 0, "resolved": 0}
    t0 = clock()
    for index in range(sites):
        site = site_id(index)
        for host, findings in plan(index, per_site).items():
            for finding in findings:
                finding["first_seen"] = finding["last_seen"] = stamp
            outcome = praxis_incidents.observe(ledger, run="bench", site=site, host=host, checks=DEVICE_CHECKS,
                                               findings=findings, now=now)
            for key in counts:
                counts[key] += len(outcome[key])
            if host.endswith("-fw01"):      # signature_update's own observation, nothing found
                praxis_incidents.observe(ledger, run="bench", site=site, host=host, checks=["net.signature_age"],
                                         findings=[], now=now)
    t1 = clock()
    documents = [site_document(i) for i in range(sites)]
    reminders = praxis_incidents.queue_reminders(ledger, sites=[d["id"] for d in documents], now=stamp, run="bench")
    sent = queued = 0
    transport: dict[str, Any] = {}
    for document in documents:
        outcome = praxis_mail.deliver(ledger, document, SMTP, now=stamp, oncall=ONCALL, oncall_language="en",
                                      sender=sink, sleep=lambda _s: None, transport=transport)
        sent += len(outcome["sent"])
        queued += len(outcome["queued"])
    t2 = clock()
    return {"now": stamp, "observe_seconds": round(t1 - t0, 3), "alerts_seconds": round(t2 - t1, 3),
            "seconds": round(t2 - t0, 3), "observe_calls": sum(len(devices(i)) + 1 for i in range(sites)),
            "incidents": counts, "reminders": len(reminders), "messages_sent": sent, "messages_queued": queued}


def ledger_counts(ledger: str) -> dict[str, int]:
    with sqlite3.connect(ledger) as conn:
        return {
            "open_incidents": conn.execute("SELECT count(*) FROM incidents WHERE state = 'open'").fetchone()[0],
            "outbox": conn.execute("SELECT count(*) FROM outbox").fetchone()[0],
            "pending_deliveries": conn.execute("SELECT count(*) FROM deliveries WHERE sent_at IS NULL").fetchone()[0],
        }


# -- decisions --------------------------------------------------------------------------------------

def nightly_reference(fleet: dict[str, Any], sites: int = 300) -> dict[str, Any]:
    """The recorded nightly job (variant praxisops), refused when it did not
    pass. For another number of ``sites`` (a trial run) its wall time is scaled
    linearly and marked ``scaled``; only the unscaled comparison is recorded."""
    recorded = fleet.get("sites")
    if not isinstance(recorded, int) or recorded <= 0:
        raise ValueError(f"bench/results/fleet.json names no number of practices: {recorded!r}")
    variant = next((v for v in fleet.get("variants") or [] if v.get("variant") == "praxisops"), None)
    if variant is None:
        raise ValueError("bench/results/fleet.json has no praxisops variant (the nightly job)")
    if variant.get("returncode") != 0 or variant.get("failed_hosts") or variant.get("timed_out"):
        raise ValueError("the recorded nightly job did not pass; record bench/fleet again")
    failing = [name for name, check in (variant.get("checks") or {}).items() if not check.get("ok")]
    if failing:
        raise ValueError(f"the recorded nightly job failed its checks: {', '.join(failing)}")
    seconds = variant.get("wall_seconds")
    if not isinstance(seconds, (int, float)) or seconds <= 0:
        raise ValueError(f"the recorded nightly job has no wall time: {seconds!r}")
    return {"wall_seconds": round(float(seconds) * sites / recorded, 3), "recorded_wall_seconds": float(seconds),
            "recorded_sites": recorded, "scaled": sites != recorded, "time": fleet.get("time"),
            "forks": fleet.get("forks"), "devices": fleet.get("devices")}


def checks(nights: dict[str, dict[str, Any]], counts: dict[str, dict[str, int]], sites: int,
           per_site: int) -> dict[str, bool]:
    """What each night must have done; the benchmark reports nothing otherwise."""
    incidents = sites * per_site
    first, steady, reminder = nights["first"], nights["steady"], nights["reminder"]
    return {
        "first night opened every incident": first["incidents"]["opened"] == incidents,
        "first night sent every message": first["messages_sent"] > 0 and first["messages_queued"] == 0
        and counts["first"]["pending_deliveries"] == 0 and counts["first"]["outbox"] == incidents,
        "steady night updated, queued and sent nothing": steady["incidents"]["updated"] == incidents
        and steady["incidents"]["opened"] == 0 and steady["messages_sent"] == 0
        and counts["steady"]["outbox"] == incidents and counts["steady"]["open_incidents"] == incidents,
        "reminder night reminded every incident once": reminder["reminders"] == incidents
        and counts["reminder"]["outbox"] == 2 * incidents and counts["reminder"]["pending_deliveries"] == 0,
    }


def verdict(seconds: float, reference: float, goal: float = GOAL) -> dict[str, Any]:
    """Share of the nightly job's wall time the alerting adds, against the goal."""
    if reference <= 0:
        raise ValueError("the reference wall time must be positive")
    share = seconds / reference
    return {"seconds": round(seconds, 3), "nightly_seconds": reference, "share": round(share, 4),
            "goal": goal, "within_goal": share < goal}


def output_path(output: Path | None, record: bool) -> Path:
    """``--output``, else the tracked bench/results/alerts.json with ``--record``,
    else the git-ignored bench/output/alerts.json."""
    if record and output is not None:
        raise ValueError("--record writes bench/results/alerts.json; leave out --output or --record")
    if output is not None and output.resolve() == RESULTS_TRACKED.resolve():
        raise ValueError(f"{output} is the tracked result file; write it with --record only")
    return RESULTS_TRACKED if record else (output or RESULTS_DEFAULT)


# -- main ------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=300, help="practices (default 300)")
    parser.add_argument("--incidents", type=int, default=20, help="open incidents per practice (default 20)")
    parser.add_argument("--fleet", type=Path, default=FLEET_RESULTS, help="the recorded nightly job to compare with")
    parser.add_argument("--output", type=Path, default=None, metavar="PATH",
                        help="where the results go (default bench/output/alerts.json)")
    parser.add_argument("--record", action="store_true", help="write the tracked bench/results/alerts.json")
    args = parser.parse_args(argv)
    try:
        target = output_path(args.output, args.record)
        reference = nightly_reference(json.loads(args.fleet.read_text()), sites=args.sites)
        if args.record and (reference["scaled"] or args.incidents != 20):
            raise ValueError("--record only for the recorded fleet size and 20 incidents per practice")
    except (ValueError, OSError) as exc:
        print(f"bench_alerts: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="praxis-alerts-bench-") as tmp:
        ledger = os.path.join(tmp, "ledger.sqlite")
        nights: dict[str, dict[str, Any]] = {}
        counts: dict[str, dict[str, int]] = {}
        moments = {"first": START, "steady": START + dt.timedelta(minutes=10),
                   "reminder": START + dt.timedelta(hours=25)}
        for name, moment in moments.items():
            nights[name] = night(ledger, args.sites, args.incidents, moment)
            counts[name] = ledger_counts(ledger)
            n = nights[name]
            print(f"{name:9s} night: observe {n['observe_seconds']:7.2f} s ({n['observe_calls']} calls), "
                  f"alerts {n['alerts_seconds']:6.2f} s, {n['messages_sent']} messages, {n['reminders']} reminders")
        ledger_bytes = os.path.getsize(ledger)
    passed = checks(nights, counts, args.sites, args.incidents)
    result: dict[str, Any] = {
        "benchmark": "alerts", "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
        "sites": args.sites, "incidents_per_site": args.incidents, "nights": nights, "ledger_counts": counts,
        "ledger_bytes": ledger_bytes, "reference": reference, "checks": passed,
    }
    failing = [name for name, ok in passed.items() if not ok]
    if failing:
        print("checks failed: " + "; ".join(failing), file=sys.stderr)
    else:
        result["steady"] = verdict(nights["steady"]["seconds"], reference["wall_seconds"])
        result["first"] = verdict(nights["first"]["seconds"], reference["wall_seconds"])
        result["reminder"] = verdict(nights["reminder"]["seconds"], reference["wall_seconds"])
        for name in ("steady", "first", "reminder"):
            v = result[name]
            print(f"{name:9s} night adds {v['seconds']:.2f} s to the nightly job's {v['nightly_seconds']:.1f} s: "
                  f"{v['share']:.1%} (goal < {v['goal']:.0%}: {'met' if v['within_goal'] else 'MISSED'})")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1) + "\n")
    print(f"results: {target}")
    return 1 if failing or not result["steady"]["within_goal"] else 0


if __name__ == "__main__":
    sys.exit(main())
