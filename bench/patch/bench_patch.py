"""Patch benchmark: the patch ledger and the SLA of a month for 300 practices.

For 300 practices of 8 Windows PCs (the first is the pilot) and 30 updates a
month (24 Microsoft updates of Patch Tuesday, 6 program updates), every
host's check, plan and install run through ``praxis_patch.PatchLedger`` on a
ledger file in a temporary folder, as the nightly patch job calls them on the
controller: the night after Patch Tuesday every PC's check
(``record_check``: win_updates' and Chocolatey's offers) and the pilot's
plan and install (``plan``, ``record_install``); a week later the rule
releases the updates at a practice's first plan and every other PC plans
and installs them. Then ``praxis_patch.sla`` computes the month's figures
for the fleet and every practice.

Goal: ledger and SLA together under 10 s. Checks (every update on every PC,
installed, released by the rule in every practice, one check per PC, the
fleet's 14-day share 100 %) must pass, or no verdict is printed or recorded
and the exit code is 1. ``--daily`` runs every night of the month instead
(each PC checked and planned every night): a figure beside the goal, for
the cost of one call, not recorded.

    .venv/bin/python bench/patch/bench_patch.py [--sites 300] [--pcs 8] [--updates 30] [--daily] [--record]
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
import uuid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
import ansible.module_utils as _ansible_module_utils  # noqa: E402

if str(ROOT / "module_utils") not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(str(ROOT / "module_utils"))

from ansible.module_utils import praxis_patch as pp  # noqa: E402

RESULTS_TRACKED = ROOT / "bench" / "results" / "patch.json"
RESULTS_DEFAULT = ROOT / "bench" / "output" / "patch.json"
GOAL_SECONDS = 10.0
MONTH = "2026-11"
ZONE = ZoneInfo("Europe/Berlin")
NIGHT = dt.time(4, 0)
PROGRAMS = ["7zip", "firefox", "notepadplusplus", "vlc", "adobereader", "libreoffice-fresh", "temurin21jre"]
POLICY = pp.policy(None, None)


def site_id(index: int) -> str:
    return f"praxis{index + 1:03d}"


def hosts(index: int, pcs: int) -> list[str]:
    return [f"{site_id(index)}-ws{n + 1:02d}" for n in range(pcs)]


def catalog(updates: int) -> dict[str, Any]:
    """The month's updates: a fifth programs (at most 7, offered on days 2, 6,
    10, ...), the rest Microsoft updates of Patch Tuesday (win_updates' shape)."""
    programs = min(len(PROGRAMS), updates // 5)
    microsoft = {}
    for n in range(updates - programs):
        ident = str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://praxisops.invalid/bench/{MONTH}/{n}"))
        microsoft[ident] = {"title": f"{MONTH} Sicherheitsupdate {n + 1} für Windows 11 Version 24H2 für x64-basierte "
                                     f"Systeme (KB{5050000 + n})", "kb": [str(5050000 + n)], "id": ident,
                            "downloaded": False, "installed": False, "categories": ["Security Updates", "Windows 11"]}
    return {"microsoft": microsoft,
            "programs": [{"package": PROGRAMS[n], "old": "1.0", "new": "1.1", "day": 2 + 4 * n}
                         for n in range(programs)]}


def nights() -> list[dt.datetime]:
    first = dt.date.fromisoformat(f"{MONTH}-01")
    days = ((first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - first).days
    return [dt.datetime.combine(first + dt.timedelta(days=n), NIGHT, ZONE) for n in range(days)]


def record_month(ledger: pp.PatchLedger, sites: int, pcs: int, updates: int) -> dict[str, int]:
    """The month through the ledger, every host's check, plan and install:
    the night after Patch Tuesday every PC's check is offered the month's
    updates (the programs too) and the pilot plans and installs them; a week
    later the rule releases them at the first plan of a practice, and every
    other PC plans and installs. Returns the number of calls."""
    month = catalog(updates)
    tuesday = pp.patch_tuesday(int(MONTH[:4]), int(MONTH[5:]))
    first = dt.datetime.combine(tuesday + dt.timedelta(days=1), NIGHT, ZONE)
    second = first + dt.timedelta(days=POLICY["pilot_delay_days"])
    facts = {"packages": [{"package": p["package"], "version": p["old"]} for p in month["programs"]],
             "outdated": [{"package": p["package"], "current_version": p["old"], "available_version": p["new"],
                           "pinned": False} for p in month["programs"]]}
    calls = {"record_check": 0, "plan": 0, "record_install": 0}

    def install(site: str, host: str, pilot: str, when: dt.datetime) -> None:
        plan = ledger.plan(site=site, host=host, role="workplace", pilot_host=pilot, now=when, pol=POLICY, zone=ZONE)
        calls["plan"] += 1
        wanted = set(plan["updates"])
        chosen = {i: dict(e, installed=True) for i, e in month["microsoft"].items() if f"KB{e['kb'][0]}" in wanted}
        packages = [{"key": p["key"], "name": p["name"], "version": p["version"], "ok": True, "previous": "1.0"}
                    for p in plan["packages"]]
        ledger.record_install(site=site, host=host, pilot_host=pilot, planned=plan,
                              result={"updates": chosen, "reboot_required": False, "rebooted": True},
                              packages=packages, now=when + dt.timedelta(minutes=40), zone=ZONE)
        calls["record_install"] += 1

    for index in range(sites):
        site = site_id(index)
        names = hosts(index, pcs)
        for host in names:
            ledger.record_check(site=site, host=host, role="workplace", pilot_host=names[0],
                                updates=pp.normalize_updates({"updates": month["microsoft"]}, now=first, zone=ZONE),
                                packages=pp.normalize_packages(facts, POLICY, now=first, zone=ZONE), now=first,
                                pol=POLICY, zone=ZONE)
            calls["record_check"] += 1
        install(site, names[0], names[0], first + dt.timedelta(minutes=30))
    for index in range(sites):
        names = hosts(index, pcs)
        for host in names[1:]:
            install(site_id(index), host, names[0], second + dt.timedelta(minutes=30))
    return calls


def record_daily(ledger: pp.PatchLedger, sites: int, pcs: int, updates: int) -> dict[str, int]:
    """``--daily``: every night of the month, every host's check and plan and
    its install when the plan names updates; returns the number of calls."""
    month = catalog(updates)
    tuesday = pp.patch_tuesday(int(MONTH[:4]), int(MONTH[5:]))
    installed: dict[str, set[str]] = {}          # host -> Microsoft update ids installed
    programs: dict[str, dict[str, str]] = {}     # host -> program -> version
    calls = {"record_check": 0, "plan": 0, "record_install": 0}
    for when in nights():
        day = when.date()
        for index in range(sites):
            site = site_id(index)
            names = hosts(index, pcs)
            pilot = names[0]
            for host in names:
                done = installed.setdefault(host, set())
                have = programs.setdefault(host, {p["package"]: p["old"] for p in month["programs"]})
                offered = {i: e for i, e in month["microsoft"].items() if i not in done} if day > tuesday else {}
                facts = {"packages": [{"package": name, "version": version} for name, version in have.items()],
                         "outdated": [{"package": p["package"], "current_version": have[p["package"]],
                                       "available_version": p["new"], "pinned": False}
                                      for p in month["programs"] if day.day >= p["day"] and have[p["package"]] !=
                                      p["new"]]}
                ledger.record_check(site=site, host=host, role="workplace", pilot_host=pilot,
                                    updates=pp.normalize_updates({"updates": offered}, now=when, zone=ZONE),
                                    packages=pp.normalize_packages(facts, POLICY, now=when, zone=ZONE), now=when,
                                    pol=POLICY, zone=ZONE)
                calls["record_check"] += 1
            later = when + dt.timedelta(minutes=30)
            for host in names:
                plan = ledger.plan(site=site, host=host, role="workplace", pilot_host=pilot, now=later, pol=POLICY,
                                   zone=ZONE)
                calls["plan"] += 1
                if not plan["updates"] and not plan["packages"]:
                    continue
                wanted = set(plan["updates"])
                chosen = {i: dict(e, installed=True) for i, e in month["microsoft"].items()
                          if f"KB{e['kb'][0]}" in wanted}
                result = {"updates": chosen, "reboot_required": False, "rebooted": True} if chosen else None
                packages = [{"key": p["key"], "name": p["name"], "version": p["version"], "ok": True,
                             "previous": programs[host][p["name"]]} for p in plan["packages"]]
                ledger.record_install(site=site, host=host, pilot_host=pilot, planned=plan, result=result,
                                      packages=packages, now=later, zone=ZONE)
                calls["record_install"] += 1
                installed[host].update(chosen)
                for package in plan["packages"]:
                    programs[host][package["name"]] = package["version"]
    return calls


def compute_sla(ledger: pp.PatchLedger, sites: int, pcs: int) -> dict[str, Any]:
    end = nights()[-1] + dt.timedelta(hours=20)
    return pp.sla(ledger, month=MONTH, now=end, sites={
        site_id(i): {"policy": POLICY, "hosts": {h: "workplace" for h in hosts(i, pcs)},
                     "pilot_host": hosts(i, pcs)[0], "zone": ZONE} for i in range(sites)})


def ledger_counts(path: str) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        return {
            "device_updates": conn.execute("SELECT COUNT(*) FROM patch_devices").fetchone()[0],
            "installed": conn.execute("SELECT COUNT(*) FROM patch_devices WHERE state = 'installed'").fetchone()[0],
            "released_by_rule": conn.execute("SELECT COUNT(*) FROM patch_rollouts WHERE released_by = 'rule'"
                                             ).fetchone()[0],
            "checks": conn.execute("SELECT COUNT(*) FROM patch_checks").fetchone()[0],
        }


def checks(counts: dict[str, int], figures: dict[str, Any], sites: int, pcs: int, updates: int,
           nights_checked: int = 1) -> dict[str, bool]:
    fourteen = next((f for f in figures["fleet"] if f["days"] == 14), None)
    expected = sites * pcs * updates
    return {
        "every update on every PC": counts["device_updates"] == expected,
        "every update installed": counts["installed"] == expected,
        "every update released by the rule in every practice": counts["released_by_rule"] == sites * updates,
        "one check per PC and night": counts["checks"] == sites * pcs * nights_checked,
        "SLA for every practice": len(figures["practices"]) == sites,
        "14-day share of the fleet is 100 %": bool(fourteen and fourteen["percent"] == 100.0
                                                     and fourteen["device_updates"] == expected),
    }


def output_path(output: Path | None, record: bool) -> Path:
    """``--output``, else the tracked bench/results/patch.json with ``--record``,
    else bench/output/patch.json (not tracked)."""
    if record and output is not None:
        raise ValueError("--record writes bench/results/patch.json; leave out --output or --record")
    if output is not None and output.resolve() == RESULTS_TRACKED.resolve():
        raise ValueError(f"{output} is the tracked result file; write it with --record only")
    return RESULTS_TRACKED if record else (output or RESULTS_DEFAULT)


def run(sites: int, pcs: int, updates: int, folder: str, daily: bool = False) -> dict[str, Any]:
    path = os.path.join(folder, "ledger.sqlite")
    ledger = pp.PatchLedger(path)
    started = time.perf_counter()
    calls = (record_daily if daily else record_month)(ledger, sites, pcs, updates)
    recorded = time.perf_counter()
    figures = compute_sla(ledger, sites, pcs)
    finished = time.perf_counter()
    ledger.close()
    counts = ledger_counts(path)
    passed = checks(counts, figures, sites, pcs, updates, len(nights()) if daily else 1)
    seconds = round(finished - started, 3)
    return {
        "sites": sites, "pcs": pcs, "updates": updates, "daily": daily, "calls": calls,
        "ms_per_call": round(1000 * (recorded - started) / max(1, sum(calls.values())), 3),
        "ledger_seconds": round(recorded - started, 3), "sla_seconds": round(finished - recorded, 3),
        "seconds": seconds, "goal_seconds": GOAL_SECONDS, "within_goal": seconds < GOAL_SECONDS,
        "counts": counts, "checks": passed, "fleet": figures["fleet"],
        "ledger_bytes": os.path.getsize(path),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--pcs", type=int, default=8, help="Windows PCs per practice (the first is the pilot)")
    parser.add_argument("--updates", type=int, default=30, help="updates of the month")
    parser.add_argument("--daily", action="store_true",
                        help="every night's check, plan and install (a figure beside the goal, not recorded)")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--record", action="store_true", help="write the tracked bench/results/patch.json")
    args = parser.parse_args(argv)
    try:
        target = output_path(args.output, args.record)
        if args.record and ((args.sites, args.pcs, args.updates) != (300, 8, 30) or args.daily):
            raise ValueError("--record only for 300 practices of 8 PCs and 30 updates")
        if min(args.sites, args.pcs, args.updates) < 1:
            raise ValueError("--sites, --pcs and --updates must be at least 1")
    except ValueError as exc:
        print(f"bench_patch: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="praxisops-bench-patch-") as folder:
        result = run(args.sites, args.pcs, args.updates, folder, daily=args.daily)
    result.update(time=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S%z"),
                  host={"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()})
    print(f"{args.sites} practices x {args.pcs} PCs x {args.updates} updates{' (every night)' if args.daily else ''}: "
          f"ledger {result['ledger_seconds']} s ({sum(result['calls'].values())} calls, {result['ms_per_call']} ms "
          f"each), SLA {result['sla_seconds']} s")
    failing = [name for name, ok in result["checks"].items() if not ok]
    if failing:
        print(f"checks failed: {', '.join(failing)}", file=sys.stderr)
        return 1
    print(f"ledger + SLA: {result['seconds']} s (goal under {GOAL_SECONDS:g} s): "
          f"{'met' if result['within_goal'] else 'NOT met'}")
    if args.record and not result["within_goal"]:
        print("the goal is not met: bench/results/patch.json is not written", file=sys.stderr)
        return 1
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1) + "\n")
    print(f"results: {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return 0 if result["within_goal"] else 1


if __name__ == "__main__":
    sys.exit(main())
