"""The fleet benchmark's decisions (bench/fleet/bench_fleet.py), fed with recorded
variant results: which checks a variant must pass, when it refuses to give a
ratio, how ratios are computed and where the results go. No benchmark runs
here; the module variant's action is tested against the product's own
argument handling."""

from __future__ import annotations

import copy
import datetime as dt
import importlib.util
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from tests.unit.windows_helpers import load_plugin, make_action

ROOT = Path(__file__).resolve().parents[2]


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _load(ROOT / "bench" / "fleet" / "bench_fleet.py", "praxis_test_bench_fleet")

START = dt.datetime(2026, 11, 24, 23, 0, tzinfo=dt.timezone.utc).timestamp()
DEVICES = [
    {"site": "lab001", "name": "lab001-fw01", "vendor": "opnsense", "firmware": "25.1.4",
     "hostname": "fw01.lab001.praxis.lan"},
    {"site": "lab001", "name": "lab001-sw01", "vendor": "lancom", "firmware": "4.00.0151"},
    {"site": "lab001", "name": "lab001-nas01", "vendor": "synology", "firmware": "7.2.1-69057"},
    {"site": "lab002", "name": "lab002-fw01", "vendor": "opnsense", "firmware": "25.1.4",
     "hostname": "fw01.lab002.praxis.lan"},
    {"site": "lab002", "name": "lab002-ap01", "vendor": "lancom", "firmware": "10.80.0123"},
]
HOSTS = {d["name"] for d in DEVICES}


def recap_for(devices=DEVICES, failing=(), alerts=True):
    recap = {}
    for d in devices:
        if d["name"] in failing:
            recap[d["name"]] = {"ok": 1, "changed": 0, "unreachable": 0, "failed": 1, "skipped": 0,
                                "rescued": 0, "ignored": 0}
        else:
            ok = 4 if d["vendor"] == "opnsense" else 2
            recap[d["name"]] = {"ok": ok, "changed": 0, "unreachable": 0, "failed": 0, "skipped": 0,
                                "rescued": 0, "ignored": 0}
    if alerts:      # the alert play runs once, on the first host still in the job
        first = next(d["name"] for d in devices if d["name"] not in failing)
        recap[first]["ok"] += bench.ALERT_TASKS
    return recap


def write_facts(folder: Path, devices=DEVICES, at=START + 5, **override):
    folder.mkdir(parents=True, exist_ok=True)
    for d in devices:
        facts = {field: None for field in bench.FACTS_FIELDS}
        facts.update(firmware_version=d["firmware"], hostname=d.get("hostname") or d["name"],
                     checked_at=dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat(timespec="seconds"),
                     signature_date="2026-11-24" if d["vendor"] == "opnsense" else None)
        facts.update(override.get(d["name"], {}))
        (folder / d["site"]).mkdir(exist_ok=True)
        (folder / d["site"] / f"{d['name']}.json").write_text(json.dumps(facts))


def ledger_for(devices=DEVICES, run="fleet-bench-praxisops", failing=()):
    rows = [(d["name"], "health", "critical" if d["name"] in failing else "ok", run) for d in devices]
    rows += [(d["name"], "signatures", "ok", run) for d in devices
             if d["vendor"] == "opnsense" and d["name"] not in failing]
    return rows


def ok_check(**figures):
    return {"ok": True, "problems": [], **figures}


def variant(name, wall, devices=5, checks=None, pss=100 * 2**20, host_tasks=14, injected=()):
    if checks is None:
        checks = {check: ok_check() for check in bench.CHECKS[name]}
        if "facts" in checks:
            checks["facts"]["fields"] = sorted(bench.FACTS_FIELDS)
    return {"variant": name, "wall_seconds": wall, "devices": devices, "seconds_per_device": wall / devices,
            "host_tasks": host_tasks, "failed_hosts": 0, "failures": [], "checks": checks,
            "injected_failures": list(injected),
            "memory": {"tree_pss_peak_bytes": pss, "tree_rss_peak_bytes": 3 * pss, "processes_peak": 4},
            "cpu_seconds": {"controller": wall, "lab": 0.1, "other": 0.0}}


def recorded_run():
    return [variant("floor", 1.0), variant("praxisops", 1.5, pss=150 * 2**20),
            variant("module", 4.5, pss=600 * 2**20), variant("naive", 20.0, devices=2)]


# -- checks of one variant -------------------------------------------------------------------------

def test_the_run_must_end_by_itself_and_fail_exactly_when_faults_are_injected():
    assert bench.check_run({"returncode": 0, "timed_out": False}, set())["ok"]
    assert bench.check_run({"returncode": 2, "timed_out": False}, {"lab001-fw01"})["ok"]
    assert "exited with 2" in bench.check_run({"returncode": 2, "timed_out": False}, set())["problems"][0]
    assert "expected 2" in bench.check_run({"returncode": 0, "timed_out": False}, {"lab001-fw01"})["problems"][0]
    assert "timeout" in bench.check_run({"returncode": -15, "timed_out": True}, set())["problems"][0]


def test_recap_passes_only_when_every_host_is_there_and_ok():
    good = bench.check_recap(recap_for(), HOSTS, set())
    assert good["ok"] and good["ok_hosts"] == good["expected_ok_hosts"] == 5

    missing = recap_for()
    del missing["lab002-ap01"]
    assert "not in the recap: lab002-ap01" in bench.check_recap(missing, HOSTS, set())["problems"][0]

    extra = dict(recap_for(), **{"lab003-fw01": recap_for()["lab001-fw01"]})
    assert "should not touch: lab003-fw01" in bench.check_recap(extra, HOSTS, set())["problems"][0]

    unreachable = recap_for()
    unreachable["lab001-sw01"]["unreachable"] = 1
    verdict = bench.check_recap(unreachable, HOSTS, set())
    assert not verdict["ok"] and "failed or unreachable: lab001-sw01" in verdict["problems"][0]
    assert verdict["ok_hosts"] == 4

    for field in ("skipped", "rescued", "ignored"):
        recap = recap_for()
        recap["lab001-nas01"][field] = 1
        assert f"with {field} tasks: lab001-nas01" in bench.check_recap(recap, HOSTS, set())["problems"][0]


def test_recap_expects_the_injected_hosts_to_fail_and_no_others():
    failing = {"lab002-fw01"}
    assert bench.check_recap(recap_for(failing=failing), HOSTS, failing)["ok"]
    survived = bench.check_recap(recap_for(), HOSTS, failing)
    assert "injected fault did not fail: lab002-fw01" in survived["problems"][0]
    other = bench.check_recap(recap_for(failing={"lab001-fw01"}), HOSTS, failing)
    assert any("failed or unreachable: lab001-fw01" in p for p in other["problems"])


def test_host_tasks_follow_nightly_yml_per_host():
    assert bench.check_host_tasks(recap_for(), DEVICES, set()) == ok_check(host_tasks=16, expected=16)
    no_alerts = bench.check_host_tasks(recap_for(alerts=False), DEVICES, set())
    assert not no_alerts["ok"] and "alert play ran its 2 host-tasks on 0 hosts" in no_alerts["problems"][0]
    twice = recap_for()
    twice["lab002-ap01"]["ok"] += bench.ALERT_TASKS
    assert "on 2 hosts" in bench.check_host_tasks(twice, DEVICES, set())["problems"][0]
    short = recap_for()
    short["lab001-fw01"]["ok"] = 2          # the signature play left out
    verdict = bench.check_host_tasks(short, DEVICES, set())
    assert not verdict["ok"] and "lab001-fw01 2/4" in verdict["problems"][0]
    absent = recap_for()
    del absent["lab002-ap01"]
    assert "lab002-ap01 0/2" in bench.check_host_tasks(absent, DEVICES, set())["problems"][0]
    failing = {"lab001-fw01"}               # a failing firewall leaves before the signature play
    assert bench.check_host_tasks(recap_for(failing=failing), DEVICES, failing)["ok"]


def test_facts_files_must_be_complete_and_from_this_run(tmp_path):
    write_facts(tmp_path)
    good = bench.check_facts(tmp_path, DEVICES, START)
    assert good["ok"] and good["files"] == 5 and good["fields"] == sorted(bench.FACTS_FIELDS)

    (tmp_path / "lab002" / "lab002-ap01.json").unlink()
    assert "1 of 5 facts files missing: lab002-ap01" in bench.check_facts(tmp_path, DEVICES, START)["problems"][0]

    cases = {
        "lab001-sw01": ({"firmware_version": "3.0"}, "firmware_version '3.0' != lab '4.00.0151'"),
        "lab001-nas01": ({"hostname": "other"}, "hostname 'other' != lab 'lab001-nas01'"),
        "lab002-fw01": ({"signature_date": None}, "no signature_date"),
        "lab001-fw01": ({"checked_at": "2026-11-20T00:00:00+00:00"}, "is not from this run"),
    }
    for host, (override, message) in cases.items():
        folder = tmp_path / host
        write_facts(folder, **{host: override})
        verdict = bench.check_facts(folder, DEVICES, START)
        assert not verdict["ok"] and message in verdict["problems"][0], (host, verdict)

    folder = tmp_path / "fields"
    write_facts(folder)
    facts = json.loads((folder / "lab001" / "lab001-sw01.json").read_text())
    del facts["volumes"]
    (folder / "lab001" / "lab001-sw01.json").write_text(json.dumps(facts))
    assert "lab001-sw01: no volumes" in bench.check_facts(folder, DEVICES, START)["problems"][0]


def test_facts_of_a_host_with_an_injected_fault_are_neither_expected_nor_allowed(tmp_path):
    failing = {"lab002-fw01"}
    write_facts(tmp_path, [d for d in DEVICES if d["name"] not in failing])
    assert bench.check_facts(tmp_path, DEVICES, START, failing)["ok"]
    write_facts(tmp_path)
    assert "injected fault: lab002-fw01" in bench.check_facts(tmp_path, DEVICES, START, failing)["problems"][0]


def test_signatures_must_be_downloaded_during_the_run():
    def status(stamp):
        return {"devices": [dict(d, signature_date=stamp if d["vendor"] == "opnsense" else None) for d in DEVICES]}

    during = dt.datetime.fromtimestamp(START + 30, dt.timezone.utc).isoformat()
    assert bench.check_signatures(status(during), HOSTS, START)["updated_during_run"] == 2
    stale = bench.check_signatures(status("2026-11-22T03:00:00+00:00"), HOSTS, START)
    assert not stale["ok"] and "2 of 2 firewalls did not download" in stale["problems"][0]
    assert bench.check_signatures(status(None), HOSTS, START)["problems"]


def test_ledger_needs_one_row_per_device_and_firewall_with_the_run_id(tmp_path):
    run = "fleet-bench-module"
    assert bench.check_ledger(ledger_for(run=run), DEVICES, run)["ok"]
    assert bench.check_ledger(None, DEVICES, run)["problems"] == ["no ledger file"]
    assert "7 ledger row(s) missing" in bench.check_ledger([], DEVICES, run)["problems"][0]

    rows = ledger_for(run=run)
    assert "written more than once: lab001-sw01 health" in \
        bench.check_ledger(rows + [rows[1]], DEVICES, run)["problems"][0]
    assert "unexpected ledger row(s): lab001-sw01 signatures" in \
        bench.check_ledger(rows + [("lab001-sw01", "signatures", "ok", run)], DEVICES, run)["problems"][0]
    assert "run id ''" in bench.check_ledger(ledger_for(run=""), DEVICES, run)["problems"][0]
    # the counts alone would pass: one host's row twice, another's missing
    swapped = [r for r in rows if r[0] != "lab002-ap01"] + [rows[0]]
    assert not bench.check_ledger(swapped, DEVICES, run)["ok"]

    failing = {"lab002-fw01"}
    assert bench.check_ledger(ledger_for(run=run, failing=failing), DEVICES, run, failing)["ok"]

    path = tmp_path / "ledger.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, at TEXT, run TEXT, site TEXT, host TEXT, "
                     "kind TEXT, status TEXT, summary TEXT, data TEXT)")
        conn.executemany("INSERT INTO events (host, kind, status, run) VALUES (?, ?, ?, ?)", ledger_for(run=run))
    conn.close()
    assert sorted(bench.ledger_rows(path)) == sorted(ledger_for(run=run))


def test_every_variant_must_run_every_check_named_for_it():
    assert bench.CHECKS["module"] == bench.CHECKS["praxisops"]
    for name in ("praxisops", "module", "naive"):
        assert {"run", "recap", "facts", "signatures"} <= set(bench.CHECKS[name])
    for name, left_out in bench.NOT_CHECKED.items():
        assert not set(left_out) & set(bench.CHECKS[name]), name
    results = recorded_run()
    assert bench.failed_checks(results) == []
    del results[2]["checks"]["ledger"]
    assert bench.failed_checks(results) == ["module: check ledger failed: not run"]


def test_same_job_compares_host_tasks_and_facts_fields():
    results = recorded_run()
    bench.check_same_job(results)
    assert bench.failed_checks(results) == []
    assert results[2]["checks"]["same_job"]["compared_with"] == ["floor", "praxisops"]

    results = recorded_run()
    results[2]["host_tasks"] = 12
    results[2]["checks"]["facts"]["fields"] = sorted(bench.FACTS_FIELDS)[1:]
    bench.check_same_job(results)
    lines = bench.failed_checks(results)
    assert "module: check same_job failed: module ran 12 host-tasks, floor 14; module ran 12 host-tasks, " \
           "praxisops 14; module's facts files have other fields than praxisops': ['address']" in lines
    assert "floor: check same_job failed: floor ran 14 host-tasks, module 12" in lines

    results = recorded_run()          # the floor contacts no device: an injected fault does not shorten its run
    for r in results[1:3]:
        r.update(host_tasks=12, injected_failures=["lab001-fw01"])
    bench.check_same_job(results)
    assert bench.failed_checks(results) == []


# -- refusing, ratios, output -----------------------------------------------------------------------

def test_ratios_are_time_per_device_and_peak_pss():
    ratios = bench.compute_ratios(recorded_run())
    assert ratios == {"praxisops_vs_floor": 1.5, "naive_vs_praxisops": 33.33, "module_vs_praxisops": 3.0,
                      "memory_praxisops_vs_floor": 1.5, "memory_module_vs_praxisops": 4.0}
    only = bench.compute_ratios([variant("praxisops", 1.5)])
    assert only["praxisops_vs_floor"] is None and only["module_vs_praxisops"] is None


@pytest.mark.parametrize("index", range(4))
def test_no_ratio_at_all_when_any_check_of_any_variant_failed(index):
    results = recorded_run()
    name = results[index]["variant"]
    results[index]["checks"]["recap"] = {"ok": False, "problems": ["1 host(s) failed or unreachable: lab001-sw01"]}
    assert bench.compute_ratios(results) is None
    assert bench.failed_checks(results) == [
        f"{name}: check recap failed: 1 host(s) failed or unreachable: lab001-sw01"]
    results[index]["checks"]["recap"] = {"ok": True, "problems": ["contradiction"]}
    assert bench.compute_ratios(results) is None


def result_document(results):
    return {"sites": 2, "devices": 5, "forks": 20, "host": {"cpus": 2}, "network": "test",
            "lab": {"start_seconds": 0.5, "pid": 1, "rss_after_start": 2**20}, "variants": results,
            "failed_checks": [], "ratios": None}


def test_finish_records_and_prints_ratios_only_when_every_check_passed(tmp_path, capsys):
    path = tmp_path / "fleet.json"
    assert bench.finish(result_document(recorded_run()), path) == 0
    saved = json.loads(path.read_text())
    assert saved["ratios"]["praxisops_vs_floor"] == 1.5 and saved["failed_checks"] == []
    assert "praxisops_vs_floor           1.5  (goal <= 2: met)" in capsys.readouterr().out

    results = recorded_run()
    results[2]["checks"]["facts"] = {"ok": False, "problems": ["11 of 11 facts files missing: lab001-ap01"]}
    assert bench.finish(result_document(results), path) == 1
    out, err = capsys.readouterr()
    assert "_vs_" not in out and "NO RATIOS" in err
    assert "module: check facts failed: 11 of 11 facts files missing: lab001-ap01" in err
    saved = json.loads(path.read_text())
    assert saved["ratios"] is None
    assert saved["failed_checks"] == ["module: check facts failed: 11 of 11 facts files missing: lab001-ap01"]


def test_a_failed_run_never_overwrites_the_tracked_results(tmp_path, monkeypatch, capsys):
    tracked, default = tmp_path / "results" / "fleet.json", tmp_path / "output" / "fleet.json"
    tracked.parent.mkdir()
    tracked.write_text("{}\n")
    monkeypatch.setattr(bench, "RESULTS_TRACKED", tracked)
    monkeypatch.setattr(bench, "RESULTS_DEFAULT", default)
    results = recorded_run()
    results[0]["checks"]["run"] = {"ok": False, "problems": ["ansible-playbook exited with 4"]}
    assert bench.finish(result_document(results), tracked) == 1
    assert tracked.read_text() == "{}\n"
    assert json.loads(default.read_text())["ratios"] is None
    assert "not recorded in" in capsys.readouterr().err


def test_the_results_go_to_an_untracked_file_unless_recorded(tmp_path):
    assert bench.RESULTS_DEFAULT == ROOT / "bench" / "output" / "fleet.json"
    assert "bench/output/" in (ROOT / ".gitignore").read_text().splitlines()
    assert bench.output_path(None, record=False) == bench.RESULTS_DEFAULT
    assert bench.output_path(None, record=True) == ROOT / "bench" / "results" / "fleet.json"
    assert bench.output_path(tmp_path / "x.json", record=False) == tmp_path / "x.json"
    assert bench.output_path(bench.RESULTS_TRACKED, record=True) == bench.RESULTS_TRACKED
    with pytest.raises(ValueError, match="tracked result file; write it with --record only"):
        bench.output_path(bench.RESULTS_TRACKED, record=False)
    with pytest.raises(ValueError, match="--record writes bench/results/fleet.json"):
        bench.output_path(tmp_path / "x.json", record=True)


def test_the_command_line_rejects_bad_choices_before_starting_anything(capsys):
    args, variants, output = bench.parse_args(["--variants", "naive,floor", "--output", "/tmp/f.json"])
    assert variants == ["floor", "naive"] and output == Path("/tmp/f.json") and args.sites == 300
    for argv, message in ((["--variants", "floor,fast"], "unknown variant(s) fast"),
                          (["--output", str(bench.RESULTS_TRACKED)], "write it with --record only"),
                          (["--sites", "0"], "--sites and --forks must be at least 1")):
        with pytest.raises(SystemExit) as exc:
            bench.parse_args(argv)
        assert exc.value.code == 2 and message in capsys.readouterr().err


# -- the module variant does the product's job -------------------------------------------------------

def module_variant_action(args):
    action, recorder = make_action(_load(bench.MODULE_ACTION, "praxis_test_bench_module_action"), args,
                                   {"changed": False, "health": "ok"})
    action._templar = Templar(loader=DataLoader())
    action._remove_tmp_path = lambda path: None
    return action, recorder


SITE = {"id": "lab001", "state": "BY"}
DEVICE = {"name": "fw01", "role": "firewall", "vendor": "opnsense", "address": "127.31.0.1",
          "credentials": "vault_lab001_fw01"}
TASK_VARS = {"inventory_hostname": "lab001-fw01", "playbook_dir": "/srv/praxisops/playbooks",
             "praxis_site": SITE, "praxis_device": DEVICE,
             "vault_lab001_fw01": {"username": "key", "password": "secret"},
             "praxis_output_dir": "/tmp/fleet/module/output", "praxis_run_id": "fleet-bench-module",
             "praxis_device_timeout": 9, "praxis_device_retries": 2, "praxis_now": "2026-11-24T23:00:00+01:00"}


def test_the_module_gets_every_option_the_action_plugin_would_use():
    role_args = {"thresholds": {"cpu_percent": 80}, "fail_on": "critical"}
    action, recorder = module_variant_action(role_args)
    result = action.run(task_vars=copy.deepcopy(TASK_VARS))
    assert result["health"] == "ok" and len(recorder.calls) == 1
    call = recorder.calls[0]
    assert call["module"] == "praxis_device_facts"
    product = load_plugin("action_plugins", "praxis_device_facts")
    product_action, _ = make_action(product, role_args)
    product_action._templar = Templar(loader=DataLoader())
    expected = {k: v for k, v in product_action.arguments(copy.deepcopy(TASK_VARS)).items() if v is not None}
    expected.update(device=DEVICE, site=SITE, credentials={"username": "key", "password": "secret"})
    assert call["args"] == expected
    assert call["args"]["ledger"] == "/tmp/fleet/module/output/ledger.sqlite"
    assert call["args"]["facts_dir"] == "/tmp/fleet/module/output/facts"
    assert (call["args"]["run"], call["args"]["timeout"], call["args"]["retries"]) == ("fleet-bench-module", 9.0, 2)
    module = _load(ROOT / "library" / "praxis_device_facts.py", "praxis_test_library_device_facts")
    assert set(call["args"]) <= set(module.ARGUMENT_SPEC)


def test_the_module_variant_names_a_missing_vault_variable():
    action, _ = module_variant_action({})
    task_vars = {k: v for k, v in TASK_VARS.items() if k != "vault_lab001_fw01"}
    with pytest.raises(Exception, match="vault variable vault_lab001_fw01 of lab001-fw01 is not defined"):
        action.module_arguments(task_vars)


def test_the_module_variant_replaces_only_the_facts_action(tmp_path):
    folder = bench.module_variant_plugins(tmp_path)
    links = {p.name: p.resolve() for p in folder.iterdir()}
    product = {p.name: p.resolve() for p in (ROOT / "action_plugins").glob("*.py")}
    assert set(links) == set(product)
    assert links.pop("praxis_device_facts.py") == bench.MODULE_ACTION
    assert links == {name: path for name, path in product.items() if name != "praxis_device_facts.py"}
    assert (tmp_path / "module_utils").resolve() == ROOT / "module_utils"


# -- the memory metric ------------------------------------------------------------------------------

CHILD = """
import os, sys, time
block = b"x" * (64 * 2**20)          # touched pages, then shared copy-on-write with the fork
if os.fork() == 0:
    time.sleep(1.5)
    os._exit(0)
sys.stdout.write("ready\\n"); sys.stdout.flush()
os.wait()
"""


def test_tree_memory_is_summed_pss_which_counts_forked_pages_once():
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        sampler = bench.TreeSampler(proc.pid, interval=0.1)
        sampler.start()
        proc.wait(timeout=30)
        sampler.stop.set()
        sampler.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    figures = sampler.figures()
    mib = 2**20
    assert figures["processes_peak"] == 2 and figures["samples"] >= 3
    # the 64 MiB block is mapped by both processes: RSS counts it twice, PSS once
    assert figures["tree_rss_peak_bytes"] >= 128 * mib
    assert 64 * mib <= figures["tree_pss_peak_bytes"] <= figures["tree_rss_peak_bytes"] - 48 * mib
    assert figures["tree_uss_peak_bytes"] < figures["tree_pss_peak_bytes"]
    assert figures["metric"].startswith("peak of the summed PSS")


def test_the_naive_job_takes_praxis_thresholds_and_no_removed_variable():
    import yaml
    from ansible.template import trust_as_template

    (decide, *_rest) = yaml.safe_load((ROOT / "bench" / "fleet" / "naive_health.yml").read_text())
    source = decide["vars"]["naive_limits"]

    def limits(**task_vars):
        return Templar(loader=DataLoader(), variables=task_vars).template(trust_as_template(source))

    defaults = limits()
    assert defaults["volume_used_percent_critical"] == 95 and defaults["temperature_critical_c"] == 80
    assert limits(praxis_thresholds={"cpu_percent": 75})["cpu_percent"] == 75
    assert limits(device_health_thresholds={"cpu_percent": 75}) == defaults    # no longer read
    text = (ROOT / "bench" / "fleet" / "naive_health.yml").read_text()
    assert "+ 10" not in text and ">= 95" not in text      # the critical limits come from the thresholds
