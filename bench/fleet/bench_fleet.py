"""Fleet benchmark: the nightly network job against the lab's practices.

Starts ``python -m lab up --sites N`` once (default 300 practices: 300
OPNsense firewalls, 300 LCOS SX switches, 300 LCOS access points, 200
Synology NAS) in a temporary run directory with a temporary inventory, then
runs one ``ansible-playbook`` per variant against it:

* ``floor``: the plays, hosts and host-task count of playbooks/nightly.yml,
  every task a ``set_fact`` (what the Ansible engine costs at the least);
* ``praxisops``: playbooks/nightly.yml as it is (action plugins);
* ``module``: playbooks/nightly.yml with praxis_device_facts run as the module
  library/praxis_device_facts.py in a process of its own (the options
  completed by the action plugin's own code, bench/fleet/module_action/);
* ``naive``: the same job with stock modules only (uri, command + sshpass/ssh,
  copy, set_fact/assert; bench/fleet/nightly_naive.yml).

For each: wall time, time per device, host-tasks, failed hosts, peak memory
of the ansible-playbook process tree (summed PSS, psutil, every 0.2 s), CPU
seconds of the controller and of the lab, and checks that the work was really
done (recap of every host, facts files against the lab's own state,
signatures downloaded, ledger rows). When a check of any variant fails, the
benchmark names it, prints and records no ratio and exits with 1.

Results: a table on stdout and ``bench/output/fleet.json`` (not tracked by
git); ``--output PATH`` writes elsewhere, ``--record`` to the tracked
``bench/results/fleet.json``. The lab is stopped at the end, also on errors
and Ctrl-C.

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

RESULTS_TRACKED = ROOT / "bench" / "results" / "fleet.json"    # in git: only with --record
RESULTS_DEFAULT = ROOT / "bench" / "output" / "fleet.json"     # git-ignored
VARIANTS = ("floor", "praxisops", "module", "naive")
PLAYBOOKS = {
    "floor": HERE / "floor.yml",
    "praxisops": ROOT / "playbooks" / "nightly.yml",
    "module": ROOT / "playbooks" / "nightly.yml",
    "naive": HERE / "nightly_naive.yml",
}
MODULE_ACTION = HERE / "module_action" / "praxis_device_facts.py"
GOALS = {"praxisops_vs_floor": ("<=", 2.0), "naive_vs_praxisops": (">=", 3.0)}
NETNS_MARK = "PRAXIS_FLEET_NETNS"
SAMPLE_SECONDS = 0.2
CLK_TCK = os.sysconf("SC_CLK_TCK")

# What every variant must show it did. The floor does no device work by design;
# the naive job keeps no ledger (it writes the facts files and downloads the
# signatures like the others). Everything else is checked the same for all.
CHECKS = {
    "floor": ("run", "recap", "host_tasks"),
    "praxisops": ("run", "recap", "host_tasks", "facts", "signatures", "ledger"),
    "module": ("run", "recap", "host_tasks", "facts", "signatures", "ledger"),
    "naive": ("run", "recap", "facts", "signatures"),
}
NOT_CHECKED = {
    "floor": {"facts": "no device work by design", "signatures": "no device work by design",
              "ledger": "no device work by design"},
    "naive": {"ledger": "the naive job keeps no ledger (less work than praxisops, which favours naive)",
              "host_tasks": "the naive job has its own task structure (about 6 host-tasks per device)"},
}
# Host-tasks per host of nightly.yml: each role runs its argument check and its
# device task; every network device is in the first play, firewalls also in the second.
TASKS_PER_DEVICE = 2
TASKS_PER_FIREWALL = 4
# the last play of nightly.yml (alert e-mails) runs its role once, on one host: the
# role's argument check and the alerts task
ALERT_TASKS = 2
# Fields of a facts file as praxis_device_facts writes them (library/praxis_device_facts.py, RETURN).
FACTS_FIELDS = ("hostname", "model", "firmware_version", "uptime_seconds", "cpu_percent", "memory_percent",
                "temperature_c", "disks", "volumes", "signature_date", "checked_at", "vendor", "role", "address",
                "reachable")
CLOCK_SLACK = 60.0      # the lab keeps the download time to the minute
FAULT = "refuse_auth=true"


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
    """Memory of a process and all its descendants, sampled every ``interval``
    seconds on a fixed schedule (a slow sample does not shift the next ones).

    Per sample the PSS, USS and RSS of every process of the tree are summed
    (psutil ``memory_full_info``, i.e. /proc/<pid>/smaps_rollup); the result is
    the peak of each sum over the run. PSS is the metric: a page shared by n
    processes counts 1/n in each, so the summed PSS of the tree is what the tree
    really occupies (pages it shares with processes outside the tree, e.g.
    libpython, count only with its share). Summed RSS counts a shared page once
    per process that maps it: every forked Ansible worker shares most of its
    pages with ansible-playbook copy-on-write, so summed RSS grows with the
    number of workers although little memory is added. USS counts only pages
    private to one process and so leaves shared pages out altogether."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS) -> None:
        super().__init__(daemon=True)
        import psutil

        self.psutil = psutil
        self.root = psutil.Process(pid)
        self.interval = interval
        self.stop = threading.Event()
        self.peak = {"pss": 0, "uss": 0, "rss": 0}
        self.peak_single_rss = self.peak_single_pss = self.peak_processes = self.samples = 0
        self.cpu_seconds = 0.0

    def sample(self) -> bool:
        psutil = self.psutil
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return False
        sums = {"pss": 0, "uss": 0, "rss": 0}
        counted = 0
        for proc in procs:
            try:
                info = proc.memory_full_info()
            except psutil.Error:        # ended between listing and reading
                continue
            counted += 1
            sums["pss"] += info.pss
            sums["uss"] += info.uss
            sums["rss"] += info.rss
            self.peak_single_rss = max(self.peak_single_rss, info.rss)
            self.peak_single_pss = max(self.peak_single_pss, info.pss)
        for key, value in sums.items():
            self.peak[key] = max(self.peak[key], value)
        self.peak_processes = max(self.peak_processes, counted)
        self.samples += 1
        return True

    def run(self) -> None:
        cpu0 = time.thread_time()
        next_at = time.monotonic()
        while not self.stop.is_set():
            if not self.sample():
                break
            next_at += self.interval
            self.stop.wait(max(0.0, next_at - time.monotonic()))
        self.cpu_seconds = time.thread_time() - cpu0

    def figures(self) -> dict[str, Any]:
        return {"metric": f"peak of the summed PSS of ansible-playbook and all its descendants, "
                          f"sampled every {self.interval:g} s",
                "tree_pss_peak_bytes": self.peak["pss"], "tree_uss_peak_bytes": self.peak["uss"],
                "tree_rss_peak_bytes": self.peak["rss"], "process_rss_peak_bytes": self.peak_single_rss,
                "process_pss_peak_bytes": self.peak_single_pss, "processes_peak": self.peak_processes,
                "samples": self.samples, "sample_seconds": self.interval,
                "sampler_cpu_seconds": round(self.cpu_seconds, 2)}


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
        "environment": env_extra,
        "started": dt.datetime.fromtimestamp(started, dt.timezone.utc).isoformat(timespec="seconds"),
        "returncode": proc.returncode, "timed_out": timed_out,
        "wall_seconds": round(wall, 2),
        "hosts_in_recap": len(recap),
        "host_tasks": sum(c.get("ok", 0) + c.get("failed", 0) + c.get("skipped", 0) + c.get("unreachable", 0)
                          for c in recap.values()),
        "changed": sum(c.get("changed", 0) for c in recap.values()),
        "failed_hosts": len(failed),
        "failures": messages[:10] or [{"host": h} for h in failed[:10]],
        "memory": sampler.figures(),
        # sampler: this script's memory sampling thread, left out of "other"
        "cpu_seconds": {"controller": round(controller, 2), "lab": round(lab, 2),
                        "sampler": round(sampler.cpu_seconds, 2),
                        "other": round(max(0.0, (busy1 - busy0) - controller - lab - sampler.cpu_seconds), 2)},
        "load_average_before": [round(x, 2) for x in load_before],
        "log": str(log), "_started_epoch": started, "_recap": recap,
    }


# -- checking that the work was done ----------------------------------------------------------------
# Every check returns {"ok": bool, "problems": [short sentences], ...figures}; "ok" is
# true exactly when "problems" is empty.

def _verdict(problems: list[str], **figures: Any) -> dict[str, Any]:
    return {"ok": not problems, "problems": problems, **figures}


def _names(items: list[str] | set[str], limit: int = 5) -> str:
    items = sorted(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


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


def check_run(result: dict[str, Any], failing: set[str]) -> dict[str, Any]:
    """ansible-playbook ended by itself, with 0, or with 2 (failed hosts) exactly when hosts are meant to fail."""
    problems = []
    if result.get("timed_out"):
        problems.append("ansible-playbook was stopped after the timeout")
    code = result.get("returncode")
    if failing:
        if code != 2:
            problems.append(f"ansible-playbook exited with {code}, expected 2 (hosts with injected faults fail)")
    elif code != 0:
        problems.append(f"ansible-playbook exited with {code}")
    return _verdict(problems, returncode=code)


def check_recap(recap: dict[str, dict[str, int]], hosts: set[str], failing: set[str]) -> dict[str, Any]:
    """Every host of the run is in the recap and no other; every host is ok except those
    with an injected fault, which must have failed; nothing was skipped, rescued or ignored."""
    problems = []
    missing, extra = hosts - set(recap), set(recap) - hosts
    if missing:
        problems.append(f"{len(missing)} host(s) not in the recap: {_names(missing)}")
    if extra:
        problems.append(f"{len(extra)} host(s) in the recap that the run should not touch: {_names(extra)}")
    bad = {h for h, c in recap.items() if c.get("failed", 0) or c.get("unreachable", 0)}
    unexpected, survived = bad - failing, (failing & set(recap)) - bad
    if unexpected:
        problems.append(f"{len(unexpected)} host(s) failed or unreachable: {_names(unexpected)}")
    if survived:
        problems.append(f"{len(survived)} host(s) with an injected fault did not fail: {_names(survived)}")
    for field in ("skipped", "rescued", "ignored"):
        hit = {h for h, c in recap.items() if c.get(field, 0)}
        if hit:
            problems.append(f"{len(hit)} host(s) with {field} tasks: {_names(hit)}")
    idle = {h for h, c in recap.items() if h not in failing and not c.get("ok", 0)}
    if idle:
        problems.append(f"{len(idle)} host(s) ran no task: {_names(idle)}")
    ok_hosts = sum(1 for h in recap if h not in bad)
    return _verdict(problems, hosts=len(hosts), ok_hosts=ok_hosts, expected_ok_hosts=len(hosts - failing),
                    failed_hosts=len(bad))


def expected_tasks(device: dict[str, Any], failing: set[str]) -> int:
    """Host-tasks of one host in nightly.yml (and floor.yml). A host that fails
    leaves the job after the device task of the first play."""
    if device["vendor"] == "opnsense" and device["name"] not in failing:
        return TASKS_PER_FIREWALL
    return TASKS_PER_DEVICE


def check_host_tasks(recap: dict[str, dict[str, int]], devices: list[dict[str, Any]],
                     failing: set[str]) -> dict[str, Any]:
    """Each host ran exactly the host-tasks of nightly.yml: two per device, two more per firewall,
    and one host (the first of the last play) the alert play's ``ALERT_TASKS`` on top."""
    wrong, alert_hosts = [], []
    total = 0
    expected_total = ALERT_TASKS
    for device in devices:
        counts = recap.get(device["name"])
        want = expected_tasks(device, failing)
        expected_total += want
        got = 0 if counts is None else sum(counts.get(k, 0) for k in ("ok", "failed", "skipped", "unreachable"))
        total += got
        if got == want + ALERT_TASKS and device["name"] not in failing:
            alert_hosts.append(device["name"])
        elif got != want:
            wrong.append(f"{device['name']} {got}/{want}")
    problems = [f"{len(wrong)} host(s) ran another number of host-tasks than nightly.yml: {_names(wrong)}"] \
        if wrong else []
    if len(alert_hosts) != 1:
        problems.append(f"the alert play ran its {ALERT_TASKS} host-tasks on {len(alert_hosts)} hosts, not once: "
                        f"{_names(alert_hosts) or 'none'}")
    return _verdict(problems, host_tasks=total, expected=expected_total)


def facts_file(facts_dir: Path, device: dict[str, Any]) -> Path:
    """Where praxis_device_facts writes a device's facts: ``<facts>/<site>/<host>.json``
    (praxis_backup.facts_path, the one layout of network devices and Windows hosts)."""
    return facts_dir / str(device["site"]) / f"{device['name']}.json"


def check_facts(facts_dir: Path, devices: list[dict[str, Any]], since: float,
                failing: set[str] = frozenset()) -> dict[str, Any]:
    """Every device (but those meant to fail) has a facts file written during the
    run, with every field praxis_device_facts writes, whose firmware version and
    host name are the lab's own; firewalls with a signature date."""
    missing, wrong, health = [], [], {}
    fields: set[str] | None = None
    expected = [d for d in devices if d["name"] not in failing]
    for device in expected:
        path = facts_file(facts_dir, device)
        if not path.exists():
            missing.append(device["name"])
            continue
        try:
            facts = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            wrong.append(f"{device['name']}: unreadable ({exc})")
            continue
        keys = set(facts)
        fields = keys if fields is None else fields | keys
        problems = []
        absent = [f for f in FACTS_FIELDS if f not in keys]
        if absent:
            problems.append(f"no {', '.join(absent)}")
        if str(facts.get("firmware_version")) != str(device.get("firmware")):
            problems.append(f"firmware_version {facts.get('firmware_version')!r} != lab {device.get('firmware')!r}")
        if facts.get("hostname") != expected_hostname(device):
            problems.append(f"hostname {facts.get('hostname')!r} != lab {expected_hostname(device)!r}")
        if device["vendor"] == "opnsense" and not facts.get("signature_date"):
            problems.append("no signature_date")
        try:
            checked = dt.datetime.fromisoformat(str(facts.get("checked_at"))).timestamp()
        except ValueError:
            checked = None
        if checked is None or checked < since - CLOCK_SLACK:
            problems.append(f"checked_at {facts.get('checked_at')!r} is not from this run")
        if problems:
            wrong.append(f"{device['name']}: {'; '.join(problems)}")
        state = facts.get("health") or "-"
        health[state] = health.get(state, 0) + 1
    stray = sorted(d["name"] for d in devices if d["name"] in failing and facts_file(facts_dir, d).exists())
    problems = []
    if missing:
        problems.append(f"{len(missing)} of {len(expected)} facts files missing: {_names(missing)}")
    if wrong:
        problems.append(f"{len(wrong)} facts file(s) wrong: {'; '.join(wrong[:3])}")
    if stray:
        problems.append(f"facts files of hosts with an injected fault: {_names(stray)}")
    return _verdict(problems, files=len(expected) - len(missing), expected=len(expected),
                    fields=sorted(fields or ()), health_in_files=health)


def check_signatures(status: dict[str, Any], hosts: set[str], since: float,
                     failing: set[str] = frozenset()) -> dict[str, Any]:
    """The lab's own download time of every firewall's rules (but those meant to fail) lies within the run."""
    firewalls = [d for d in status["devices"] if d["vendor"] == "opnsense" and d["name"] in hosts - failing]
    stale = []
    for device in firewalls:
        stamp = device.get("signature_date")
        when = dt.datetime.fromisoformat(stamp).timestamp() if stamp else 0.0
        if when < since - CLOCK_SLACK:
            stale.append(device["name"])
    problems = [f"{len(stale)} of {len(firewalls)} firewalls did not download their signatures during the run: "
                f"{_names(stale)}"] if stale else []
    return _verdict(problems, firewalls=len(firewalls), updated_during_run=len(firewalls) - len(stale))


def ledger_rows(path: Path) -> list[tuple[str, str, str, str]]:
    """(host, kind, status, run) of every ledger row."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return [tuple(row) for row in conn.execute("SELECT host, kind, status, run FROM events")]


def check_ledger(rows: list[tuple[str, str, str, str]] | None, devices: list[dict[str, Any]], run: str,
                 failing: set[str] = frozenset()) -> dict[str, Any]:
    """Exactly one health row per device and one signature row per firewall (none for a
    firewall meant to fail: it leaves the job before the update), all with the run's id."""
    if rows is None:
        return _verdict(["no ledger file"])
    want = {(d["name"], "health") for d in devices}
    want |= {(d["name"], "signatures") for d in devices if d["vendor"] == "opnsense" and d["name"] not in failing}
    seen: dict[tuple[str, str], int] = {}
    for host, kind, _status, _run in rows:
        seen[(host, kind)] = seen.get((host, kind), 0) + 1
    missing = sorted(f"{h} {k}" for h, k in want - set(seen))
    extra = sorted(f"{h} {k}" for h, k in set(seen) - want)
    doubled = sorted(f"{h} {k}" for (h, k), n in seen.items() if n > 1)
    other_run = sorted({r for *_, r in rows if r != run})
    problems = []
    if missing:
        problems.append(f"{len(missing)} ledger row(s) missing: {_names(missing)}")
    if extra:
        problems.append(f"{len(extra)} unexpected ledger row(s): {_names(extra)}")
    if doubled:
        problems.append(f"{len(doubled)} ledger row(s) written more than once: {_names(doubled)}")
    if other_run:
        problems.append(f"ledger rows with run id {', '.join(map(repr, other_run))}, expected {run!r}")
    health: dict[str, int] = {}
    for _host, kind, status, _run in rows:
        if kind == "health":
            health[status] = health.get(status, 0) + 1
    return _verdict(problems, health_rows=sum(1 for r in rows if r[1] == "health"),
                    signature_rows=sum(1 for r in rows if r[1] == "signatures"),
                    expected_rows=len(want), health_in_ledger=health)


def check_same_job(results: list[dict[str, Any]]) -> None:
    """Across variants: floor, praxisops and module ran the same host-tasks (those with the
    same injected faults; the floor contacts no device, so a fault does not end its hosts
    early); module wrote facts files with the same fields as praxisops. Adds the check
    ``same_job`` to each of the three that ran."""
    got = {r["variant"]: r for r in results}
    tasks = {name: got[name]["host_tasks"] for name in ("floor", "praxisops", "module") if name in got}
    faults = {name: sorted(got[name].get("injected_failures") or ()) for name in tasks}
    fields = {name: got[name]["checks"].get("facts", {}).get("fields")
              for name in ("praxisops", "module") if name in got}
    for name in tasks:
        problems = [f"{name} ran {tasks[name]} host-tasks, {other} {tasks[other]}"
                    for other in tasks
                    if other != name and faults[other] == faults[name] and tasks[other] != tasks[name]]
        if name == "module" and len(fields) == 2 and fields["module"] != fields["praxisops"]:
            problems.append(f"module's facts files have other fields than praxisops': "
                            f"{sorted(set(fields['module'] or ()) ^ set(fields['praxisops'] or ()))}")
        got[name]["checks"]["same_job"] = _verdict(
            problems, compared_with=sorted(o for o in tasks if o != name and faults[o] == faults[name]))


# -- deciding what may be reported ---------------------------------------------------------------------

def failed_checks(results: list[dict[str, Any]]) -> list[str]:
    """One line per failed check: '<variant>: check <name> failed: <problems>'. A variant
    without any of the checks CHECKS names for it fails too (its work was not checked)."""
    lines = []
    for r in results:
        checks = r.get("checks") or {}
        for name in CHECKS.get(r["variant"], ()):
            if name not in checks:
                lines.append(f"{r['variant']}: check {name} failed: not run")
        for name, check in checks.items():
            if not check.get("ok") or check.get("problems"):
                lines.append(f"{r['variant']}: check {name} failed: " + "; ".join(check.get("problems") or ["not ok"]))
        if r["variant"] not in CHECKS:
            lines.append(f"{r['variant']}: unknown variant, nothing to check it against")
    return lines


def per_device(result: dict[str, Any]) -> float:
    return result["wall_seconds"] / max(1, result["devices"])


def ratio(a: dict[str, Any] | None, b: dict[str, Any] | None, key: str = "seconds_per_device") -> float | None:
    if not a or not b or not b.get(key):
        return None
    return round(a[key] / b[key], 2)


def compute_ratios(results: list[dict[str, Any]]) -> dict[str, float | None] | None:
    """Ratios of time per device (a naive run on a subset compares as its linear
    extrapolation) and of peak memory (summed PSS); None, and so no ratio at all,
    when any check of any variant failed."""
    if failed_checks(results):
        return None
    got = {r["variant"]: r for r in results}

    def pss(name: str) -> dict[str, Any] | None:
        r = got.get(name)
        return {"pss": r["memory"]["tree_pss_peak_bytes"]} if r else None

    return {
        "praxisops_vs_floor": ratio(got.get("praxisops"), got.get("floor")),
        "naive_vs_praxisops": ratio(got.get("naive"), got.get("praxisops")),
        "module_vs_praxisops": ratio(got.get("module"), got.get("praxisops")),
        "memory_praxisops_vs_floor": ratio(pss("praxisops"), pss("floor"), "pss"),
        "memory_module_vs_praxisops": ratio(pss("module"), pss("praxisops"), "pss"),
    }


def output_path(output: Path | None, record: bool) -> Path:
    """Where the results go: ``--output``, else the tracked bench/results/fleet.json with
    ``--record``, else the git-ignored bench/output/fleet.json. The tracked file only
    with ``--record``."""
    if output is None:
        return RESULTS_TRACKED if record else RESULTS_DEFAULT
    path = output.expanduser().resolve()
    if record and path != RESULTS_TRACKED:
        raise ValueError(f"--record writes {RESULTS_TRACKED.relative_to(ROOT)}; leave out --output {output} "
                         "or --record")
    if path == RESULTS_TRACKED and not record:
        raise ValueError(f"{output} is the tracked result file; write it with --record only")
    return path


def write_results(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1) + "\n")
    os.replace(tmp, path)


# -- the run ------------------------------------------------------------------------------------------

def known_hosts(run_dir: Path, path: Path) -> None:
    """The lab's SSH host key (one for every switch and access point) as a known_hosts file."""
    import asyncssh

    key = asyncssh.read_private_key(str(run_dir / "lab-ssh-hostkey"))
    path.write_text("* " + key.export_public_key().decode().strip() + "\n")


def module_variant_plugins(base: Path) -> Path:
    """The action plugin folder of the module variant: every action plugin of the
    project, except that praxis_device_facts is bench/fleet/module_action's, which
    ships library/praxis_device_facts.py to a module process. The plugins find
    module_utils beside their folder, so that is linked too."""
    folder = base / "action_plugins"
    folder.mkdir(parents=True)
    for plugin in sorted((ROOT / "action_plugins").glob("*.py")):
        target = MODULE_ACTION if plugin.name == MODULE_ACTION.name else plugin
        (folder / plugin.name).symlink_to(target)
    (base / "module_utils").symlink_to(ROOT / "module_utils")
    return folder


def print_table(result: dict[str, Any]) -> None:
    lab = result["lab"]
    print(f"\nfleet: {result['sites']} practices, {result['devices']} devices, -f {result['forks']}, "
          f"{result['host']['cpus']} CPUs; lab started in {lab['start_seconds']:.1f} s "
          f"(pid {lab['pid']}, RSS {lab['rss_after_start'] / 2**20:.0f} MiB); {result['network']}\n")
    header = (f"{'variant':<10}{'devices':>8}{'wall s':>9}{'ms/dev':>8}{'tasks':>7}{'failed':>7}"
              f"{'PSS MiB':>9}{'RSS MiB':>9}{'procs':>6}{'ctl CPU s':>10}{'lab CPU s':>10}{'other s':>8}  checks")
    print(header)
    print("-" * len(header))
    for r in result["variants"]:
        bad = failed_checks([r])
        mem = r["memory"]
        print(f"{r['variant']:<10}{r['devices']:>8}{r['wall_seconds']:>9.1f}{r['seconds_per_device'] * 1000:>8.1f}"
              f"{r['host_tasks']:>7}{r['failed_hosts']:>7}{mem['tree_pss_peak_bytes'] / 2**20:>9.0f}"
              f"{mem['tree_rss_peak_bytes'] / 2**20:>9.0f}{mem['processes_peak']:>6}"
              f"{r['cpu_seconds']['controller']:>10.1f}{r['cpu_seconds']['lab']:>10.1f}"
              f"{r['cpu_seconds']['other']:>8.1f}  {'FAILED' if bad else 'ok'}")
        if r.get("extrapolated"):
            x = r["extrapolated"]
            print(f"{'':<10}{x['devices']:>8}{x['wall_seconds']:>9.1f}{r['seconds_per_device'] * 1000:>8.1f}"
                  f"  <- extrapolated linearly per device from {r['devices']} devices")
    print("ms/dev: wall time / devices; PSS MiB: peak of the summed PSS of ansible-playbook and all its "
          "children (sampled every\n0.2 s); RSS MiB: the same with RSS, which counts pages the forked "
          "workers share once per process; procs: most\nprocesses at once; other s: CPU seconds of processes "
          "that were neither the controller nor the lab (other load)")
    print()
    if result["ratios"] is None:
        return
    for key, value in result["ratios"].items():
        goal = GOALS.get(key)
        verdict = ""
        if goal and value is not None:
            met = value <= goal[1] if goal[0] == "<=" else value >= goal[1]
            verdict = f"  (goal {goal[0]} {goal[1]:g}: {'met' if met else 'NOT met'})"
        print(f"{key:<28} {value if value is not None else '-'}{verdict}")


def finish(result: dict[str, Any], output: Path, kept: str = "") -> int:
    """Print the table and write the results. When a check failed: no ratio printed
    or recorded (``ratios`` is null), the failed checks named on stderr, the tracked
    file left alone (the results go to the untracked default instead), exit code 1."""
    refused = failed_checks(result["variants"])
    result["failed_checks"] = refused
    result["ratios"] = None if refused else compute_ratios(result["variants"])
    print_table(result)
    if not refused:
        write_results(result, output)
        print(f"\nall checks passed; results: {output}{kept}")
        return 0
    if output == RESULTS_TRACKED:
        output = RESULTS_DEFAULT
        print(f"not recorded in {RESULTS_TRACKED}: the checks failed", file=sys.stderr)
    write_results(result, output)
    print("\nNO RATIOS: checks failed, so the variants did not all do the job they stand for:", file=sys.stderr)
    for line in refused:
        print(f"  {line}", file=sys.stderr)
    for r in result["variants"]:
        for failure in r.get("failures") or []:
            if failure.get("host") in (r.get("injected_failures") or ()):
                continue
            print(f"  {r['variant']}: {failure.get('host')} {failure.get('status', 'failed')} "
                  f"in {failure.get('task')!r}: {failure.get('msg')}", file=sys.stderr)
    print(f"details (without ratios): {output}{kept}", file=sys.stderr)
    return 1


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str], Path]:
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
    parser.add_argument("--fail-device", action="append", default=[], metavar="HOST",
                        help="inject a fault: HOST refuses every login (lab fault refuse_auth=true); the checks "
                             "then expect exactly these hosts to fail in every variant that contacts devices "
                             "(repeatable)")
    parser.add_argument("--output", type=Path, default=None, metavar="PATH",
                        help=f"where the results go (default {RESULTS_DEFAULT.relative_to(ROOT)}, not tracked by "
                             "git)")
    parser.add_argument("--record", action="store_true",
                        help=f"write the tracked {RESULTS_TRACKED.relative_to(ROOT)} (only when every check passes)")
    args = parser.parse_args(argv)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or not variants:
        parser.error(f"unknown variant(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(VARIANTS)}")
    if args.sites < 1 or args.forks < 1:
        parser.error("--sites and --forks must be at least 1")
    try:
        output = output_path(args.output, args.record)
    except ValueError as exc:
        parser.error(str(exc))
    return args, [v for v in VARIANTS if v in variants], output


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args, variants, output = parse_args(argv)
    naive_sites = args.sites if args.naive_sites <= 0 else min(args.naive_sites, args.sites)

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
        unknown_hosts = sorted(set(args.fail_device) - set(by_name))
        if unknown_hosts:
            print(f"--fail-device: no lab device {', '.join(unknown_hosts)} (e.g. lab001-fw01)", file=sys.stderr)
            return 2
        for host in args.fail_device:
            answer = bench_lab.lab_cli(env, "fault", host, FAULT, timeout=60)
            if answer.returncode != 0:
                raise RuntimeError(f"lab fault {host} {FAULT}: {answer.stderr.strip() or answer.stdout.strip()}")
        sites = sorted({d["site"] for d in devices})
        naive_hosts = sorted(d["name"] for d in devices if d["site"] in set(sites[:naive_sites]))
        known_hosts(run_dir, base / "known_hosts")
        plugins = module_variant_plugins(base / "module-variant") if "module" in variants else None
        results = []
        for name in variants:
            work = base / name
            out = work / "output"
            run_id = f"fleet-bench-{name}"
            extra: dict[str, Any] = {"praxis_run_id": run_id}
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
            failing = set(args.fail_device) & hosts if name != "floor" else set()
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
            recap = r.pop("_recap")
            r["devices"] = len(hosts)
            r["seconds_per_device"] = round(per_device(r), 4)
            r["lab_requests"] = status["totals"]["requests"] - requests0
            r["missing_hosts"] = len(hosts - set(recap))
            r["injected_failures"] = sorted(failing)
            checked = [by_name[h] for h in sorted(hosts)]
            checks: dict[str, Any] = {}
            for check in CHECKS[name]:
                if check == "run":
                    checks[check] = check_run(r, failing)
                elif check == "recap":
                    checks[check] = check_recap(recap, hosts, failing)
                elif check == "host_tasks":
                    checks[check] = check_host_tasks(recap, checked, failing)
                elif check == "facts":
                    checks[check] = check_facts(out / "facts", checked, since, failing)
                elif check == "signatures":
                    checks[check] = check_signatures(status, hosts, since, failing)
                elif check == "ledger":
                    path = out / "ledger.sqlite"
                    checks[check] = check_ledger(ledger_rows(path) if path.exists() else None, checked, run_id,
                                                 failing)
            r["checks"] = checks
            r["not_checked"] = NOT_CHECKED.get(name, {})
            if limit is not None:
                r["extrapolated"] = {"devices": len(by_name),
                                     "wall_seconds": round(r["seconds_per_device"] * len(by_name), 1),
                                     "note": f"run on the first {naive_sites} of {len(sites)} practices "
                                             f"({len(hosts)} devices), time scaled linearly per device"}
            results.append(r)
            print(f"    {r['wall_seconds']:.1f} s, {r['failed_hosts']} failed hosts, "
                  f"checks {'FAILED' if failed_checks([r]) else 'ok'}", flush=True)
        check_same_job(results)
        result = {
            "benchmark": "fleet", "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": "bench/fleet/bench_fleet.py " + " ".join(argv),
            "host": {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine(),
                     "ansible_core": _ansible_version()},
            "network": network, "sites": len(sites), "devices": len(devices), "forks": args.forks,
            "naive_sites": naive_sites, "injected_failures": sorted(args.fail_device),
            "devices_by_vendor": {v: sum(1 for d in devices if d["vendor"] == v)
                                  for v in sorted({d["vendor"] for d in devices})},
            "lab": {"pid": pid, "start_seconds": figures["start_seconds"], "rss_after_start": figures["rss_bytes"],
                    "rss_peak": bench_lab.memory(pid).get("VmHWM")},
            "variants": results,
            "failed_checks": [], "ratios": None,      # decided by finish()
        }
        return finish(result, output, f"; logs, facts and ledgers kept in {base}" if args.keep else "")
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
