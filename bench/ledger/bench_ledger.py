"""Ledger write rate with N parallel writer processes, SQLite and PostgreSQL.

The shape of the nightly job: every host records one health event
(``praxis_ledger.record``) and hands its findings to the incident engine
(``praxis_incidents.observe``: one write transaction; every fifth host has a
problem, so it opens an incident and queues a notification). N processes
(the forks of a run, or the jobs on several AWX execution nodes) write at
once; the result is the wall time and the rate in hosts per second, after a
check that nothing was lost.

PostgreSQL: ``--url`` (a database the user may create tables in), else a
temporary server started like the tests do (tests/pg.py, Debian's binaries).

    .venv/bin/python bench/ledger/bench_ledger.py [--writers 8] [--hosts 100] [--record]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import ansible.module_utils as _module_utils  # noqa: E402

if str(ROOT / "module_utils") not in _module_utils.__path__:
    _module_utils.__path__.append(str(ROOT / "module_utils"))

from ansible.module_utils import praxis_incidents, praxis_ledger  # noqa: E402

RESULTS_TRACKED = ROOT / "bench" / "results" / "ledger.json"
OUTPUT = ROOT / "bench" / "output" / "ledger.json"
NOW = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)
PROBLEM_EVERY = 5


def night(args: tuple[str, int, int, bool]) -> int:
    """One writer: ``hosts`` hosts of practice ``w<writer>``. ``per_host``: a new connection for
    every host, as in a job, where each host-task is a fork of its own (its record and its
    incident call share one connection)."""
    target, writer, hosts, per_host = args
    site = f"{'c' if per_host else 'w'}{writer}"
    for n in range(hosts):
        host = f"{site}-h{n:04d}"
        praxis_ledger.record(target, site=site, host=host, kind="health", status="ok", summary="fine",
                             data={"cpu_percent": 12}, run="bench")
        findings = ([{"check": "net.reachability", "severity": "critical", "priority": "high", "message": "down"}]
                    if n % PROBLEM_EVERY == 0 else [])
        praxis_incidents.observe(target, run="bench", site=site, host=host, checks=["net.reachability"],
                                 findings=findings, now=NOW)
        if per_host:
            praxis_ledger.close_all()
    return hosts


def counts(target: str) -> tuple[int, int, int]:
    """Events, incidents and queued notifications in the ledger (a database given with --url
    may hold an earlier measurement's)."""
    with praxis_ledger.reading(target) as conn:
        return tuple(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
                     for table in ("events", "incidents", "outbox"))


def measure(backend: str, target: str, writers: int, hosts: int, per_host: bool = False) -> dict:
    before = counts(target)                     # also makes the schema: the writers measure writing only
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(writers) as pool:
        done = sum(pool.map(night, [(target, w, hosts, per_host) for w in range(writers)]))
    seconds = time.perf_counter() - started
    events, incidents, opened = (after - earlier for after, earlier in zip(counts(target), before, strict=True))
    expected = writers * len(range(0, hosts, PROBLEM_EVERY))
    ok = events == done == writers * hosts and incidents == opened == expected
    return {"backend": backend, "connection": "per host" if per_host else "per writer", "writers": writers,
            "hosts": writers * hosts, "seconds": round(seconds, 3),
            "hosts_per_second": round(done / seconds, 1), "writes_per_second": round(2 * done / seconds, 1),
            "events": events, "incidents": incidents, "ok": ok}


def run(writers: int, hosts: int, backends: list[str], url: str | None) -> dict:
    results = []
    with tempfile.TemporaryDirectory(prefix="praxis-bench-ledger-") as folder:
        if "sqlite" in backends:
            results.append(measure("sqlite", str(Path(folder) / "ledger.sqlite"), writers, hosts))
        if "postgresql" in backends:
            cluster = None
            if url is None:
                from tests import pg

                reason = pg.unavailable()
                if reason:
                    raise SystemExit(f"bench_ledger: no PostgreSQL: {reason} (or give --url)")
                cluster = pg.Cluster()
                cluster.start()
            try:
                results.append(measure("postgresql", url or cluster.database("bench"), writers, hosts))
                results.append(measure("postgresql", url or cluster.database("bench_per_host"), writers, hosts,
                                       per_host=True))
            finally:
                if cluster is not None:
                    cluster.stop()
    return {"time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "writers": writers,
            "hosts_per_writer": hosts, "results": results}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=8, help="parallel writer processes")
    parser.add_argument("--hosts", type=int, default=100, help="hosts per writer")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--url", help="a PostgreSQL database to use (default: a temporary server)")
    parser.add_argument("--output", type=Path, help=f"default {OUTPUT.relative_to(ROOT)}")
    parser.add_argument("--record", action="store_true", help=f"write {RESULTS_TRACKED.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    if args.writers < 1 or args.hosts < 1:
        parser.error("--writers and --hosts must be at least 1")
    result = run(args.writers, args.hosts, [b.strip() for b in args.backends.split(",") if b.strip()], args.url)
    path = args.output or (RESULTS_TRACKED if args.record else OUTPUT)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    for item in result["results"]:
        print(f"{item['backend']:<11} {item['writers']} writers, connection {item['connection']:<10}, "
              f"{item['hosts']} hosts: {item['seconds']:.1f} s, "
              f"{item['hosts_per_second']:.0f} hosts/s {'ok' if item['ok'] else 'LOST WRITES'}")
    return 0 if all(item["ok"] for item in result["results"]) else 1


if __name__ == "__main__":
    sys.exit(main())
