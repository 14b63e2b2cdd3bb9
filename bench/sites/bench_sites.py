#!/usr/bin/env python3
"""Benchmark: load N generated site files (default 2,000) through the real
inventory path (`ansible-inventory --graph` with the praxisops_sites plugin:
parse, validate, build groups and host variables, as every playbook run
does) and through the loader alone. Goal: under 5 s for 2,000 sites.

Usage: bench_sites.py [--sites N] [--keep DIR]
Writes bench/results/sites.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "module_utils"))
from praxis_site import load_sites  # noqa: E402

STATES = ["BB", "BE", "BW", "BY", "HB", "HE", "HH", "MV", "NI", "NW", "RP", "SH", "SL", "SN", "ST", "TH"]


def site(n: int) -> dict:
    a, b = divmod(n, 250)
    net = f"10.{a}.{b}"
    sid = f"p{n:05d}"
    data = {
        "id": sid, "name": f"Praxis {n}", "state": STATES[n % 16],
        "contacts": [{"name": "Praxis", "email": f"praxis{n}@example.org"}],
        "pilot": "ws01",
        "networks": {"vlans": [{"id": 10, "name": "praxis", "subnet": f"{net}.0/24"}],
                     "wlans": [{"ssid": f"Praxis-{n}", "vlan": 10, "psk": f"vault_{sid}_wlan"}]},
        "devices": {
            "firewalls": [{"name": "fw01", "address": f"{net}.1", "vendor": "opnsense", "model": "DEC740",
                           "credentials": f"vault_{sid}_fw01"}],
            "switches": [{"name": "sw01", "address": f"{net}.2", "vendor": "lancom", "model": "GS-3652XP",
                          "credentials": f"vault_{sid}_sw01", "uplink": "fw01"}],
            "access_points": [{"name": "ap01", "address": f"{net}.3", "vendor": "lancom", "model": "LW-600",
                               "credentials": f"vault_{sid}_ap01", "uplink": "sw01"}],
            "workplaces": [{"name": f"ws{i:02d}", "address": f"{net}.{20 + i}", "credentials": f"vault_{sid}_win"}
                           for i in range(1, 6)],
        },
    }
    if n % 3 == 0:
        data["maintenance_windows"] = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "05:00"}]
    if n % 4 == 0:
        data["business_hours"] = {d: ["08:00-12:00", "14:00-18:00"] for d in ("mon", "tue", "thu")}
        data["business_hours"]["wed"] = ["08:00-13:00"]
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=2000)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="praxis-bench-sites-"))
    (work / "sites").mkdir(parents=True, exist_ok=True)
    (work / "praxisops.yml").write_text("---\nplugin: praxisops_sites\nsites_dir: sites\n")
    for n in range(args.sites):
        (work / "sites" / f"p{n:05d}.yml").write_text(yaml.safe_dump(site(n), sort_keys=False))

    start = time.perf_counter()
    sites = load_sites(work / "sites")
    loader_seconds = time.perf_counter() - start
    assert len(sites) == args.sites

    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    start = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(work / "praxisops.yml"),
                             "--graph", "all"], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    inventory_seconds = time.perf_counter() - start
    if result.returncode != 0:
        print(result.stderr)
        return 1
    hosts = len({line.split("--")[-1] for line in result.stdout.splitlines() if "--" in line and "@" not in line})

    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "--version"], capture_output=True,
                   check=False)
    startup_seconds = time.perf_counter() - start

    figures = {
        "sites": args.sites, "hosts": hosts,
        "loader_seconds": round(loader_seconds, 2),
        "ansible_inventory_seconds": round(inventory_seconds, 2),
        "ansible_startup_seconds": round(startup_seconds, 2),
        "goal_seconds": 5.0, "goal_met": inventory_seconds < 5.0,
    }
    print(f"{args.sites} sites, {hosts} hosts")
    print(f"  loader (read + validate):          {loader_seconds:6.2f} s")
    print(f"  ansible-inventory --graph (total): {inventory_seconds:6.2f} s  (goal < 5 s)")
    print(f"  of which ansible start-up:         {startup_seconds:6.2f} s")
    out = ROOT / "bench" / "results" / "sites.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if figures["goal_met"] else 2


if __name__ == "__main__":
    sys.exit(main())
