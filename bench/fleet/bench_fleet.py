"""Fleet benchmark: the nightly network job against the lab's practices.

Starts ``python -m lab up --sites N`` once (default 300 practices: 300
OPNsense firewalls, 300 LCOS SX switches, 300 LCOS access points, 200
Synology NAS) in a temporary run directory with a temporary inventory, then
runs one ``ansible-playbook`` per variant against it:

* ``floor``: the plays, hosts and host-task count of playbooks/nightly.yml,
  every task a ``set_fact`` (what the Ansible engine costs at the least);
* ``praxisops``: playbooks/nightly.yml as it is (action plugins);
* ``module``: the same roles, the facts task run as the module
  library/praxis_device_facts.py (bench/fleet/nightly_module.yml);
* ``naive``: the same job with stock modules only (uri, command + sshpass/ssh,
  copy, set_fact/assert; bench/fleet/nightly_naive.yml).

For each: wall time, time per device, host-tasks, failed hosts, peak memory
of the ansible-playbook process tree (psutil, every 0.2 s), CPU seconds of the
controller and of the lab, and checks that the work was really done (facts
files against the lab's own state, signatures downloaded, ledger rows).
Results: a table on stdout and ``bench/results/fleet.json``. The lab is
stopped at the end, also on errors and Ctrl-C.

    .venv/bin/python bench/fleet/bench_fleet.py [--sites 300] [--forks 20] [--variants floor,praxisops]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "bench" / "lab"))
import bench_lab  # noqa: E402 - the lab benchmark's helpers: lab_cli, cpu_seconds, memory

RESULTS = ROOT / "bench" / "results" / "fleet.json"
VARIANTS = ("floor", "praxisops", "module", "naive")
PLAYBOOKS = {
    "floor": HERE / "floor.yml",
    "praxisops": ROOT / "playbooks" / "nightly.yml",
    "module": HERE / "nightly_module.yml",
    "naive": HERE / "nightly_naive.yml",
}
GOALS = {"praxisops_vs_floor": ("<=", 2.0), "naive_vs_praxisops": (">=", 3.0)}
NETNS_MARK = "PRAXIS_FLEET_NETNS"
SAMPLE_SECONDS = 0.2
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- a network of its own -----------------------------------------------------------------------

def private_network(argv: list[str]) -> str:
    """Re-run this script in a new network namespace (``unshare --net``) with
    only ``lo``: the lab's fixed loopback addresses (127.30.0.1:8790, ...) then
    neither collide with a lab another run keeps on this machine nor block it.
    Returns how the run is networked."""
    if os.environ.get(NETNS_MARK) == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        return "private network namespace (unshare --net)"
    unshare = shutil.which("unshare")
    if not unshare or not shutil.which("ip"):
        return "machine network (unshare or ip not found)"
    probe = subprocess.run([unshare, "--net", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"machine network (unshare --net refused: {probe.stderr.strip()})"
    os.environ[NETNS_MARK] = "1"
    sys.stdout.flush()
    os.execv(unshare, [unshare, "--net", "--", sys.executable, str(Path(__file__).resolve()), *argv])  # noqa: S606
    raise AssertionError("not reached")  # pragma: no cover


# -- measuring one ansible-playbook run ------------------------------------------------------------

class TreeSampler(threading.Thread):
    """Peak RSS of a process and all its descendants (sum, and the largest
    single process), sampled every SAMPLE_SECONDS."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.psutil = psutil
        self.root = psutil.Process(pid)
        self.stop = threading.Event()
        self.peak_sum = self.peak_single = self.peak_processes = self.samples = 0

    def run(self) -> None:
        psutil = self.psutil
        while not self.stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            total = single = 0
            for proc in procs:
                try:
                    rss = proc.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                single = max(single, rss)
            self.peak_sum = max(self.peak_sum, total)
            self.peak_single = max(self.peak_single, single)
            self.peak_processes = max(self.peak_processes, len(procs))
            self.samples += 1
            self.stop.wait(SAMPLE_SECONDS)


def busy_seconds() -> float:
    """CPU seconds the whole machine was busy since boot (all CPUs, /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def parse_recap(text: str) -> dict[str, dict[str, int]]:
    hosts: dict[str, dict[str, int]] = {}
    in_recap = False
    for line in text.splitlines():
        if line.startswith("PLAY RECAP"):
            in_recap = True
            continue
        if not in_recap:
            continue
        name, sep, rest = line.partition(" : ")
        if not sep or "ok=" not in rest:
            if hosts and not line.strip():
                in_recap = False
            continue
        counts = dict(pair.split("=") for pair in rest.split())
        hosts[name.strip()] = {k: int(v) for k, v in counts.items()}
    return hosts


def run_playbook(name: str, playbook: Path, work: Path, inventory_dir: Path, forks: int, lab_pid: int,
                 extra_vars: dict[str, Any], env_extra: dict[str, str], limit: list[str] | None,
                 timeout: float) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    vars_file = work / "extra-vars.json"
    vars_file.write_text(json.dumps(extra_vars, indent=1))
    ansible_playbook = Path(sys.executable).with_name("ansible-playbook")
    cmd = [str(ansible_playbook if ansible_playbook.exists() else "ansible-playbook"),
           "-i", str(inventory_dir), "--vault-password-file", str(inventory_dir / ".vault_pass"),
           "-f", str(forks), "-e", f"@{vars_file}", str(playbook)]
    if limit is not None:
        (work / "limit.txt").write_text("\n".join(limit) + "\n")
        cmd += ["--limit", f"@{work / 'limit.txt'}"]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), PRAXIS_SUMMARY_DIR=str(work / "runs"),
               ANSIBLE_NOCOLOR="1", **env_extra)
    log = work / "ansible.log"
    load_before = os.getloadavg()
    lab0, ctl0, busy0 = bench_lab.cpu_seconds(lab_pid), children_cpu(), busy_seconds()
    started = time.time()
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        timed_out = False
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            sampler.stop.set()
            sampler.join()
    wall = time.perf_counter() - t0
    lab1, ctl1, busy1 = bench_lab.cpu_seconds(lab_pid), children_cpu(), busy_seconds()
    text = log.read_text(errors="replace")
    recap = parse_recap(text)
    failed = sorted(h for h, c in recap.items() if c.get("failed", 0) or c.get("unreachable", 0))
    summaries = sorted((work / "runs").glob("*.json"))
    messages: list[dict[str, Any]] = []
    if summaries:
        data = json.loads(summaries[-1].read_text())
        messages = [f for site in data.get("sites", {}).values() for f in site.get("failed", [])]
    controller = ctl1 - ctl0
    lab = lab1 - lab0
    return {
        "variant": name, "playbook": str(playbook.relative_to(ROOT)), "command": " ".join(cmd),
        "started": dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(timespec="seconds"),
        "returncode": proc.returncode, "timed_out": timed_out,
        "wall_seconds": round(wall, 2),
        "hosts_in_recap": len(recap),
        "host_tasks": sum(c.get("ok", 0) + c.get("failed", 0) + c.get("skipped", 0) + c.get("unreachable", 0)
                          for c in recap.values()),
        "changed": sum(c.get("changed", 0) for c in recap.values()),
        "failed_hosts": len(failed),
        "failures": messages[:10] or [{"host": h} for h in failed[:10]],
        "memory": {"tree_peak_bytes": sampler.peak_sum, "process_peak_bytes": sampler.peak_single,
                   "processes_peak": sampler.peak_processes, "samples": sampler.samples},
        "cpu_seconds": {"controller": round(controller, 2), "lab": round(lab, 2),
                        "other": round(max(0.0, (busy1 - busy0) - controller - lab), 2)},
        "load_average_before": [round(x, 2) for x in load_before],
        "log": str(log), "_started_epoch": started,
    }


# -- checking that the work was done ----------------------------------------------------------------

def record_identities(work: Path, inventory_dir: Path, forks: int, extra_vars: dict[str, Any],
                      env_extra: dict[str, str], timeout: float) -> None:
    """The record step the onboarding does in production (not measured): the
    devices' SSH host keys into the variant's ledger, so the measured nightly
    job checks them strictly (docs/device-identity.md)."""
    work.mkdir(parents=True, exist_ok=True)
    vars_file = work / "identity-vars.json"
    vars_file.write_text(json.dumps(extra_vars, indent=1))
    ansible_playbook = Path(sys.executable).with_name("ansible-playbook")
    cmd = [str(ansible_playbook if ansible_playbook.exists() else "ansible-playbook"),
           "-i", str(inventory_dir), "--vault-password-file", str(inventory_dir / ".vault_pass"),
           "-f", str(forks), "-e", f"@{vars_file}", str(ROOT / "playbooks" / "device_identity.yml")]
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), PRAXIS_SUMMARY_DIR=str(work / "identity-runs"),
               ANSIBLE_NOCOLOR="1", **env_extra)
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise SystemExit(f"recording the device identities failed:\n{done.stdout[-3000:]}{done.stderr[-2000:]}")


def lab_status(env: dict[str, str]) -> dict[str, Any]:
    answer = bench_lab.lab_cli(env, "status", "--json", timeout=120)
    if answer.returncode != 0:
        raise RuntimeError(f"python -m lab status failed: {answer.stderr.strip() or answer.stdout.strip()}")
    return json.loads(answer.stdout)


def expected_hostname(device: dict[str, Any]) -> str:
    # the firewall reports host name and domain; switches, access points and NAS their device name
    return device.get("hostname") or device["name"]


def check_facts(facts_dir: Path, devices: list[dict[str, Any]]) -> dict[str, Any]:
    """Every device has a facts file whose firmware version and host name are the lab's own."""
    missing, wrong, health = [], [], {}
    for device in devices:
        path = facts_dir / f"{device['name']}.json"
        if not path.exists():
            missing.append(device["name"])
            continue
        facts = json.loads(path.read_text())
        problems = []
        if str(facts.get("firmware_version")) != str(device.get("firmware")):
            problems.append(f"firmware_version {facts.get('firmware_version')!r} != lab {device.get('firmware')!r}")
        if facts.get("hostname") != expected_hostname(device):
            problems.append(f"hostname {facts.get('hostname')!r} != lab {expected_hostname(device)!r}")
        if device["vendor"] == "opnsense" and not facts.get("signature_date"):
            problems.append("no signature_date")
        if problems:
            wrong.append({"host": device["name"], "problems": problems})
        state = facts.get("health") or "-"
        health[state] = health.get(state, 0) + 1
    return {"files": len(devices) - len(missing), "expected": len(devices), "missing": missing[:10],
            "wrong_values": len(wrong), "examples": wrong[:5], "health_in_files": health,
            "ok": not missing and not wrong}


def check_signatures(status: dict[str, Any], hosts: set[str], since: float) -> dict[str, Any]:
    firewalls = [d for d in status["devices"] if d["vendor"] == "opnsense" and d["name"] in hosts]
    stale = []
    for device in firewalls:
        stamp = device.get("signature_date")
        when = dt.datetime.fromisoformat(stamp).timestamp() if stamp else 0.0
        if when < since - 60:          # the lab keeps the download time to the minute
            stale.append(device["name"])
    return {"firewalls": len(firewalls), "updated_during_run": len(firewalls) - len(stale),
            "not_updated": stale[:10], "ok": not stale}


def check_ledger(path: Path, devices: int, firewalls: int) -> dict[str, Any]:
    if not path.exists():
        return {"ok": False, "error": f"no ledger at {path}"}
    with sqlite3.connect(path) as conn:
        rows = dict(conn.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind").fetchall())
        health = dict(conn.execute("SELECT status, COUNT(*) FROM events WHERE kind = 'health' GROUP BY status"))
    return {"health_rows": rows.get("health", 0), "signature_rows": rows.get("signatures", 0),
            "health_in_ledger": health,
            "ok": rows.get("health", 0) == devices and rows.get("signatures", 0) == firewalls}


# -- the run ------------------------------------------------------------------------------------------

def known_hosts(run_dir: Path, path: Path) -> None:
    """The lab's SSH host key (one for every switch and access point) as a known_hosts file."""
    import asyncssh

    key = asyncssh.read_private_key(str(run_dir / "lab-ssh-hostkey"))
    path.write_text("* " + key.export_public_key().decode().strip() + "\n")


def signature_only_plugins(base: Path) -> Path:
    """An action plugin folder with only praxis_signature_update: with it as
    ANSIBLE_ACTION_PLUGINS, praxis_device_facts runs as the module from library/.
    The plugin finds module_utils beside its folder, so that is linked too."""
    (base / "action_plugins").mkdir(parents=True)
    (base / "action_plugins" / "praxis_signature_update.py").symlink_to(
        ROOT / "action_plugins" / "praxis_signature_update.py")
    (base / "module_utils").symlink_to(ROOT / "module_utils")
    return base / "action_plugins"


def per_device(result: dict[str, Any]) -> float:
    return result["wall_seconds"] / max(1, result["devices"])


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str = "seconds_per_device") -> float | None:
    if not a or not b or not b.get(key):
        return None
    return round(a[key] / b[key], 2)


def print_table(result: dict[str, Any]) -> None:
    lab = result["lab"]
    print(f"\nfleet: {result['sites']} practices, {result['devices']} devices, -f {result['forks']}, "
          f"{result['host']['cpus']} CPUs; lab started in {lab['start_seconds']:.1f} s "
          f"(pid {lab['pid']}, RSS {lab['rss_after_start'] / 2**20:.0f} MiB); {result['network']}\n")
    header = (f"{'variant':<10}{'devices':>8}{'wall s':>9}{'ms/dev':>8}{'tasks':>7}{'failed':>7}"
              f"{'tree MiB':>9}{'proc MiB':>9}{'ctl CPU s':>10}{'lab CPU s':>10}{'other s':>8}  checks")
    print(header)
    print("-" * len(header))
    for r in result["variants"]:
        checks = r.get("checks") or {}
        verdict = "ok" if checks and all(c.get("ok") for c in checks.values()) else ("-" if not checks else "FAILED")
        print(f"{r['variant']:<10}{r['devices']:>8}{r['wall_seconds']:>9.1f}{r['seconds_per_device'] * 1000:>8.1f}"
              f"{r['host_tasks']:>7}{r['failed_hosts']:>7}{r['memory']['tree_peak_bytes'] / 2**20:>9.0f}"
              f"{r['memory']['process_peak_bytes'] / 2**20:>9.0f}{r['cpu_seconds']['controller']:>10.1f}"
              f"{r['cpu_seconds']['lab']:>10.1f}{r['cpu_seconds']['other']:>8.1f}  {verdict}")
        if r.get("extrapolated"):
            x = r["extrapolated"]
            print(f"{'':<10}{x['devices']:>8}{x['wall_seconds']:>9.1f}{r['seconds_per_device'] * 1000:>8.1f}"
                  f"  <- extrapolated linearly per device from {r['devices']} devices")
    print("ms/dev: wall time / devices; tree MiB: peak RSS of ansible-playbook and all its children; "
          "proc MiB: largest single process;\nother s: CPU seconds of processes that were neither the "
          "controller nor the lab (other load on the machine)")
    print()
    for key, value in result["ratios"].items():
        goal = GOALS.get(key)
        verdict = ""
        if goal and value is not None:
            met = value <= goal[1] if goal[0] == "<=" else value >= goal[1]
            verdict = f"  (goal {goal[0]} {goal[1]:g}: {'met' if met else 'NOT met'})"
        print(f"{key:<22} {value if value is not None else '-'}{verdict}")
    for r in result["variants"]:
        for failure in r.get("failures") or []:
            print(f"  {r['variant']}: {failure.get('host')} {failure.get('status', 'failed')} "
                  f"in {failure.get('task')!r}: {failure.get('msg')}")
        for name, check in (r.get("checks") or {}).items():
            if not check.get("ok"):
                print(f"  {r['variant']}: check {name} failed: {json.dumps(check)[:600]}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=300, help="practices the lab starts (default 300)")
    parser.add_argument("--forks", type=int, default=20, help="ansible-playbook -f (default 20)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated, in this order: {','.join(VARIANTS)} (default: all)")
    parser.add_argument("--naive-sites", type=int, default=30, metavar="K",
                        help="run the naive variant on the first K practices only and extrapolate its time "
                             "linearly per device (default 30; 0: all practices)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per variant (default 3600)")
    parser.add_argument("--shared-network", action="store_true",
                        help="use the machine's loopback addresses instead of a private network namespace "
                             "(fails when another lab is running)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, facts, ledgers)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or not variants:
        parser.error(f"unknown variant(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(VARIANTS)}")
    variants = [v for v in VARIANTS if v in variants]
    naive_sites = args.sites if args.naive_sites <= 0 else min(args.naive_sites, args.sites)
    output = args.output.resolve()

    network = "machine network (--shared-network)" if args.shared_network else private_network(argv)
    base = Path(tempfile.mkdtemp(prefix="praxis-fleet-bench-"))
    run_dir, inventory_dir = base / "run", base / "inventory"
    env = dict(os.environ, PRAXIS_LAB_DIR=str(run_dir))
    print(f"starting the lab: {args.sites} practices (run dir {run_dir}; {network}) ...", flush=True)
    up = bench_lab.lab_cli(env, "up", "--sites", str(args.sites), "--inventory-dir", str(inventory_dir), "--json")
    if up.returncode != 0:
        print(up.stdout + up.stderr, file=sys.stderr)
        return 1
    try:
        figures = json.loads(up.stdout.strip().splitlines()[-1])
        pid = figures["pid"]
        status = lab_status(env)
        devices = status["devices"]
        by_name = {d["name"]: d for d in devices}
        sites = sorted({d["site"] for d in devices})
        naive_hosts = sorted(d["name"] for d in devices if d["site"] in set(sites[:naive_sites]))
        known_hosts(run_dir, base / "known_hosts")
        plugins = signature_only_plugins(base / "module-variant") if "module" in variants else None
        results = []
        for name in variants:
            work = base / name
            out = work / "output"
            extra: dict[str, Any] = {"praxis_run_id": f"fleet-bench-{name}"}
            env_extra: dict[str, str] = {}
            limit = None
            if name in ("praxisops", "module"):
                extra.update(praxis_output_dir=str(out))
            if name == "module":
                env_extra["ANSIBLE_ACTION_PLUGINS"] = str(plugins)
            if name == "naive":
                extra.update(naive_facts_dir=str(out / "facts"), naive_known_hosts=str(base / "known_hosts"))
                if naive_sites < len(sites):
                    limit = naive_hosts
            hosts = set(limit) if limit is not None else set(by_name)
            print(f"  {name}: {PLAYBOOKS[name].relative_to(ROOT)} on {len(hosts)} devices, -f {args.forks} ...",
                  flush=True)
            if name in ("praxisops", "module"):
                record_identities(work, inventory_dir, args.forks, extra, {}, args.timeout)   # with the action plugins
                status = lab_status(env)
            requests0 = status["totals"]["requests"]
            r = run_playbook(name, PLAYBOOKS[name], work, inventory_dir, args.forks, pid, extra, env_extra, limit,
                             args.timeout)
            status = lab_status(env)
            since = r.pop("_started_epoch")
            r["devices"] = len(hosts)
            r["seconds_per_device"] = round(per_device(r), 4)
            r["lab_requests"] = status["totals"]["requests"] - requests0
            r["missing_hosts"] = len(hosts) - r["hosts_in_recap"]
            checked = [by_name[h] for h in sorted(hosts)]
            firewalls = sum(1 for d in checked if d["vendor"] == "opnsense")
            checks: dict[str, Any] = {}
            if name != "floor":
                checks["facts"] = check_facts(out / "facts", checked)
                checks["signatures"] = check_signatures(status, hosts, since)
            if name in ("praxisops", "module"):
                checks["ledger"] = check_ledger(out / "ledger.sqlite", len(hosts), firewalls)
            r["checks"] = checks
            if limit is not None:
                r["extrapolated"] = {"devices": len(by_name),
                                     "wall_seconds": round(r["seconds_per_device"] * len(by_name), 1),
                                     "note": f"run on the first {naive_sites} of {len(sites)} practices "
                                             f"({len(hosts)} devices), time scaled linearly per device"}
            results.append(r)
            print(f"    {r['wall_seconds']:.1f} s, {r['failed_hosts']} failed hosts, "
                  f"checks {'ok' if all(c.get('ok') for c in checks.values()) else 'FAILED'}", flush=True)
        got = {r["variant"]: r for r in results}
        result = {
            "benchmark": "fleet", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
                     "ansible_core": _ansible_version()},
            "network": network, "sites": len(sites), "devices": len(devices), "forks": args.forks,
            "naive_sites": naive_sites,
            "devices_by_vendor": {v: sum(1 for d in devices if d["vendor"] == v)
                                  for v in sorted({d["vendor"] for d in devices})},
            "lab": {"pid": pid, "start_seconds": figures["start_seconds"], "rss_after_start": figures["rss_bytes"],
                    "rss_peak": bench_lab.memory(pid).get("VmHWM")},
            "variants": results,
            "ratios": {
                # time per device, so a naive run on a subset compares as its linear extrapolation
                "praxisops_vs_floor": ratio(got.get("praxisops"), got.get("floor")),
                "naive_vs_praxisops": ratio(got.get("naive"), got.get("praxisops")),
                "module_vs_praxisops": ratio(got.get("module"), got.get("praxisops")),
            },
        }
        output.parent.mkdir(parents=True, exist_ok=True)
        tmp = output.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1) + "\n")
        os.replace(tmp, output)
        print_table(result)
        print(f"\nresults: {output}" + (f"; logs, facts and ledgers kept in {base}" if args.keep else ""))
        bad = [r["variant"] for r in results
               if r["failed_hosts"] or r["missing_hosts"] or r["returncode"] != 0
               or not all(c.get("ok") for c in r["checks"].values())]
        return 1 if bad else 0
    finally:
        down = bench_lab.lab_cli(env, "down", timeout=120)
        print(down.stdout.strip() or down.stderr.strip())
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


def _ansible_version() -> str:
    try:
        from ansible.release import __version__
    except ImportError:
        return "?"
    return __version__


if __name__ == "__main__":
    sys.exit(main())
