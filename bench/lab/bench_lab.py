"""Lab benchmark: start time, memory and the request rate the lab sustains.

Starts ``python -m lab up --sites N`` (default 300 practices, about 1,100
devices) in a temporary run directory, then drives it with real clients:

* HTTPS (aiohttp client) against every OPNsense firewall and Synology NAS,
  once over kept-alive connections and once with a new TLS connection per
  request (what one module process per device does);
* SSH (asyncssh client) against every LCOS switch and access point: whole
  sessions (connect, log in, one command, close) and commands over open
  sessions.

For every phase it reports requests/s, latency percentiles and the CPU share
the lab process used; a lab below 100 % CPU was not the limit, the client
was. Results: a table on stdout and ``bench/results/lab.json``. The lab is
stopped at the end (also on errors and Ctrl-C).

    .venv/bin/python bench/lab/bench_lab.py [--sites 300] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import itertools
import json
import multiprocessing
import os
import platform
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "lab.json"
CLK_TCK = os.sysconf("SC_CLK_TCK")
LATENCY_SAMPLE = 20000          # latencies kept per worker process


# -- lab process figures ---------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK      # utime + stime


def memory(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


# -- client workers (each in its own process with its own event loop) --------------------------

def _https_context(ca_path: str) -> ssl.SSLContext:
    # verified like a playbook with validate_certs: true and ca_path does: chain and address
    return ssl.create_default_context(cafile=ca_path)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class _Tally:
    """Outcome of one phase: successes, errors by reason, a sample of latencies."""

    def __init__(self) -> None:
        self.ok = self.errors = 0
        self.latencies: list[float] = []
        self.failures: dict[str, int] = {}

    def record(self, t0: float, good: bool, reason: str = "") -> None:
        if good:
            self.ok += 1
            if len(self.latencies) < LATENCY_SAMPLE:
                self.latencies.append(time.perf_counter() - t0)
        else:
            self.errors += 1
            self.failures[reason] = self.failures.get(reason, 0) + 1

    def result(self) -> dict[str, Any]:
        return {"ok": self.ok, "errors": self.errors, "latencies": self.latencies, "failures": self.failures}


async def _https_phase(targets: list[dict], ca_path: str, connections: int, start: float, duration: float,
                       keepalive: bool) -> dict[str, Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=0, ssl=_https_context(ca_path),
                                     force_close=not keepalive, enable_cleanup_closed=True)
    tally = _Tally()
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        # DSM needs a session id first (one login per NAS), OPNsense takes key:secret on every call.
        for target in targets:
            if target["vendor"] == "synology":
                target["url"] = await _dsm_login(session, target)
        cycle = itertools.cycle(targets)
        await asyncio.sleep(max(0.0, start - time.time()))
        stop = start + duration

        async def worker() -> None:
            while time.time() < stop:
                target = next(cycle)
                t0 = time.perf_counter()
                try:
                    async with session.get(target["url"], headers=target.get("headers")) as response:
                        await response.read()
                        good = response.status == 200
                        reason = f"HTTP {response.status}"
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                    good, reason = False, type(exc).__name__
                tally.record(t0, good, reason)

        await asyncio.gather(*(worker() for _ in range(connections)))
    return tally.result()


async def _dsm_login(session: Any, target: dict) -> str:
    base = f"https://{target['address']}:{target['port']}/webapi"
    params = {"api": "SYNO.API.Auth", "version": "6", "method": "login", "account": target["username"],
              "passwd": target["password"], "format": "sid"}
    async with session.get(f"{base}/auth.cgi", params=params) as response:
        data = await response.json(content_type=None)
    sid = (data.get("data") or {}).get("sid", "")
    return f"{base}/entry.cgi?api=SYNO.Core.System&version=1&method=info&_sid={sid}"


async def _ssh_phase(targets: list[dict], connections: int, start: float, duration: float,
                     persistent: bool) -> dict[str, Any]:
    import asyncssh

    tally = _Tally()
    record = tally.record
    cycle = itertools.cycle(targets)

    def connect(target: dict):
        return asyncssh.connect(target["address"], target["port"], username=target["username"],
                                password=target["password"], known_hosts=None, connect_timeout=30)

    async def session_worker() -> None:
        while time.time() < stop:
            target = next(cycle)
            t0 = time.perf_counter()
            try:
                async with connect(target) as conn:
                    result = await conn.run(target["command"], timeout=30)
                record(t0, result.exit_status in (0, None))
            except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
                record(t0, False, type(exc).__name__)

    async def command_worker(target: dict) -> None:
        try:
            conn = await connect(target)
        except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
            record(time.perf_counter(), False, "connect " + type(exc).__name__)
            return
        try:
            await asyncio.sleep(max(0.0, start - time.time()))
            while time.time() < stop:
                t0 = time.perf_counter()
                try:
                    result = await conn.run(target["command"], timeout=30)
                    record(t0, result.exit_status in (0, None))
                except (OSError, asyncssh.Error, asyncio.TimeoutError) as exc:
                    record(t0, False, type(exc).__name__)
        finally:
            conn.close()

    stop = start + duration
    if persistent:
        await asyncio.gather(*(command_worker(next(cycle)) for _ in range(connections)))
    else:
        await asyncio.sleep(max(0.0, start - time.time()))
        await asyncio.gather(*(session_worker() for _ in range(connections)))
    return tally.result()


def run_worker(phase: str, targets: list[dict], ca_path: str, connections: int, start: float,
               duration: float) -> dict[str, Any]:
    if phase.startswith("https"):
        coro = _https_phase(targets, ca_path, connections, start, duration, keepalive=phase == "https-keepalive")
    else:
        coro = _ssh_phase(targets, connections, start, duration, persistent=phase == "ssh-commands")

    async def measured() -> dict[str, Any]:
        # client CPU during the measured window only (log-ins and connects before it are excluded)
        task = asyncio.ensure_future(coro)
        await asyncio.sleep(max(0.0, start - time.time()))
        cpu0 = time.process_time()
        result = await task
        result["client_cpu_seconds"] = time.process_time() - cpu0
        return result
    return asyncio.run(measured())


# -- orchestration ---------------------------------------------------------------------------

def run_phase(pool: concurrent.futures.Executor, processes: int, phase: str, targets: list[dict], ca_path: str,
              connections: int, duration: float, pid: int, warmup: float) -> dict[str, Any]:
    start = time.time() + warmup
    shares = [targets[i::processes] for i in range(processes)]
    per_process = max(1, connections // processes)
    futures = [pool.submit(run_worker, phase, share, ca_path, per_process, start, duration) for share in shares]
    while time.time() < start:
        time.sleep(0.01)
    cpu0, t0 = cpu_seconds(pid), time.time()
    while time.time() < start + duration:
        time.sleep(0.05)
    cpu1, t1 = cpu_seconds(pid), time.time()
    results = [f.result() for f in futures]
    ok = sum(r["ok"] for r in results)
    errors = sum(r["errors"] for r in results)
    latencies = sorted(x for r in results for x in r["latencies"])
    failures: dict[str, int] = {}
    for r in results:
        for reason, n in r["failures"].items():
            failures[reason] = failures.get(reason, 0) + n

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 1) if latencies else None

    return {
        "phase": phase, "devices": len(targets), "connections": per_process * processes,
        "client_processes": processes, "duration_s": duration, "ok": ok, "errors": errors,
        "rate_per_s": round(ok / duration, 1),
        "latency_ms": {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99),
                       "mean": round(statistics.fmean(latencies) * 1000, 1) if latencies else None},
        "lab_cpu_percent": round(100 * (cpu1 - cpu0) / (t1 - t0), 1),
        # what one lab core would answer at 100 % CPU: rate / CPU share (an extrapolation)
        "lab_capacity_per_s": round(ok / duration / max((cpu1 - cpu0) / (t1 - t0), 1e-3), 0) if ok else 0,
        "client_cpu_percent": round(100 * sum(r["client_cpu_seconds"] for r in results) / duration, 1),
        "failures": failures,
    }


def lab_cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def load_targets(run_dir: Path, inventory_dir: Path) -> tuple[dict, dict[str, dict]]:
    from ansible.parsing.vault import VaultLib, VaultSecret
    import yaml

    state = json.loads((run_dir / "state.json").read_text())
    password = (inventory_dir / ".vault_pass").read_text().strip()
    lib = VaultLib([("default", VaultSecret(password.encode()))])
    vault: dict[str, dict[str, str]] = {}
    for path in (inventory_dir / "group_vars").glob("*/vault.yml"):
        vault.update(yaml.safe_load(lib.decrypt(path.read_bytes())))
    groups: dict[str, list[dict]] = {"https": [], "ssh": []}
    for d in state["devices"]:
        creds = vault["vault_" + d["name"].replace("-", "_")]
        target = dict(d, username=creds["username"], password=creds["password"])
        if d["vendor"] == "opnsense":
            target["url"] = f"https://{d['address']}:{d['port']}/api/core/firmware/status"
            target["headers"] = {"Authorization": _basic(creds["username"], creds["password"])}
            groups["https"].append(target)
        elif d["vendor"] == "synology":
            groups["https"].append(target)
        elif d["vendor"] == "lancom":
            target["command"] = "show version" if d["role"] == "switch" else "sysinfo"    # LCOS SX 5 / LCOS
            groups["ssh"].append(target)
    return state, groups


def print_table(result: dict[str, Any]) -> None:
    s = result["start"]
    print(f"\nlab: {result['sites']} practices, {result['devices']} devices in one process "
          f"(pid {s['pid']}); started in {s['start_seconds']:.2f} s "
          f"(devices listening after {s['ready_after']:.2f} s; inventory written in {s['inventory_seconds']:.2f} s)")
    print(f"RSS after start {s['rss_after_start'] / 2**20:.0f} MiB, after the load "
          f"{result['rss_after_load'] / 2**20:.0f} MiB (peak {result['rss_peak'] / 2**20:.0f} MiB); "
          f"client: {result['client_processes']} process(es) on {os.cpu_count()} CPUs\n")
    header = (f"{'phase':<17}{'devices':>8}{'conns':>7}{'ok/s':>9}{'errors':>8}{'p50 ms':>8}{'p95 ms':>8}"
              f"{'lab CPU':>9}{'client CPU':>12}{'lab max/s':>11}")
    print(header)
    print("-" * len(header))
    for p in result["phases"]:
        print(f"{p['phase']:<17}{p['devices']:>8}{p['connections']:>7}{p['rate_per_s']:>9.0f}{p['errors']:>8}"
              f"{p['latency_ms']['p50'] or 0:>8}{p['latency_ms']['p95'] or 0:>8}{p['lab_cpu_percent']:>8}%"
              f"{p['client_cpu_percent']:>11}%{p['lab_capacity_per_s']:>11.0f}")
    print("lab max/s: the rate one lab CPU core would answer at 100 % (rate / lab CPU share)")
    print(f"\nfleet estimate: {result['fleet_estimate']['text']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=300)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase (default 10)")
    parser.add_argument("--connections", type=int, default=200, help="concurrent HTTPS connections (default 200)")
    parser.add_argument("--ssh-connections", type=int, default=64, help="concurrent SSH sessions (default 64)")
    parser.add_argument("--client-processes", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                        help="client processes (default: CPUs - 1)")
    parser.add_argument("--requests-per-device", type=int, default=5,
                        help="requests a fleet run makes per device, for the estimate (default 5)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="praxis-lab-bench-"))
    run_dir, inventory_dir = base / "run", base / "inventory"
    env = dict(os.environ, PRAXIS_LAB_DIR=str(run_dir))
    print(f"starting the lab: {args.sites} practices (run dir {run_dir}) ...", flush=True)
    up = lab_cli(env, "up", "--sites", str(args.sites), "--inventory-dir", str(inventory_dir), "--json")
    if up.returncode != 0:
        print(up.stdout + up.stderr, file=sys.stderr)
        return 1
    try:
        figures = json.loads(up.stdout.strip().splitlines()[-1])
        pid = figures["pid"]
        state, groups = load_targets(run_dir, inventory_dir)
        ca_path = state["ca_path"]
        phases = []
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(args.client_processes, mp_context=context) as pool:
            plan = [("https-keepalive", groups["https"], args.connections),
                    ("https-new-conn", groups["https"], args.connections),
                    ("ssh-sessions", groups["ssh"], args.ssh_connections),
                    ("ssh-commands", groups["ssh"], args.ssh_connections)]
            for phase, targets, connections in plan:
                if not targets:
                    continue
                print(f"  {phase}: {len(targets)} devices, {connections} connections, {args.duration:g} s ...",
                      flush=True)
                phases.append(run_phase(pool, args.client_processes, phase, targets, ca_path, connections,
                                        args.duration, pid, warmup=3.0 if phase == "ssh-commands" else 1.5))
        mem = memory(pid)
        status = json.loads(lab_cli(env, "status", "--json").stdout)
        devices = len(state["devices"])
        capacity = {p["phase"]: p["lab_capacity_per_s"] or 1 for p in phases}
        n_https, n_ssh = len(groups["https"]), len(groups["ssh"])
        # A fleet run: one new connection per request on HTTPS devices, one session per device on SSH ones;
        # priced in lab CPU seconds, so a client slower than the lab does not inflate the figure.
        seconds = (n_https * args.requests_per_device / capacity.get("https-new-conn", 1)
                   + n_ssh / capacity.get("ssh-sessions", 1))
        result = {
            "benchmark": "lab", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()},
            "sites": args.sites, "devices": devices, "client_processes": args.client_processes,
            "start": {"pid": pid, "start_seconds": figures["start_seconds"], "ready_after": figures["ready_after"],
                      "inventory_seconds": figures["inventory_seconds"],
                      "rss_after_start": figures["rss_bytes"]},
            "rss_after_load": mem.get("VmRSS"), "rss_peak": mem.get("VmHWM"),
            "requests_served": status["totals"]["requests"],
            "phases": phases,
            "fleet_estimate": {
                "requests_per_https_device": args.requests_per_device, "ssh_sessions_per_device": 1,
                "lab_seconds": round(seconds, 1),
                "text": (f"a fleet run with {args.requests_per_device} HTTPS requests (new connection each) per "
                         f"firewall/NAS and one SSH session per switch/AP ({n_https} + {n_ssh} devices) "
                         f"costs the lab about {seconds:.1f} s of CPU"),
            },
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.output.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1) + "\n")
        os.replace(tmp, args.output)
        print_table(result)
        print(f"\nresults: {args.output}")
        return 0
    finally:
        down = lab_cli(env, "down", timeout=120)
        print(down.stdout.strip() or down.stderr.strip())


if __name__ == "__main__":
    sys.exit(main())
