"""The alerts benchmark's decisions (bench/alerts/bench_alerts.py): the seeded
fleet, the recorded nightly job it compares with, its checks, the share of
the goal and where results go; and one small night through the real engine."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("praxis_test_bench_alerts", ROOT / "bench" / "alerts" / "bench_alerts.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["praxis_test_bench_alerts"] = bench
spec.loader.exec_module(bench)

FLEET = {"sites": 300, "time": "2026-11-23T15:24:17+0000", "forks": 20, "devices": 1100, "variants": [
    {"variant": "floor", "wall_seconds": 85.5, "returncode": 0, "failed_hosts": 0, "checks": {}},
    {"variant": "praxisops", "wall_seconds": 115.47, "returncode": 0, "failed_hosts": 0, "timed_out": False,
     "checks": {"facts": {"ok": True}, "ledger": {"ok": True}}}]}


def test_plan_spreads_distinct_incidents_over_the_practice_devices():
    with_nas, without_nas = bench.plan(0, 20), bench.plan(2, 20)
    assert set(with_nas) == {"lab001-fw01", "lab001-sw01", "lab001-ap01", "lab001-nas01"}
    assert set(without_nas) == {"lab003-fw01", "lab003-sw01", "lab003-ap01"}
    for findings in (with_nas, without_nas):
        keys = [(f["host"], f["check"], f["subject"]) for fs in findings.values() for f in fs]
        assert len(keys) == 20 == len(set(keys))
        assert {f["priority"] for fs in findings.values() for f in fs} == {"high", "medium", "low"}
    assert [len(v) for v in with_nas.values()] == [5, 5, 5, 5]
    with pytest.raises(ValueError, match="do not fit"):
        bench.plan(2, 40)


def test_reference_is_the_recorded_nightly_job_and_refuses_a_bad_recording():
    assert bench.nightly_reference(FLEET)["wall_seconds"] == 115.47
    trial = bench.nightly_reference(FLEET, sites=30)
    assert trial["scaled"] and trial["wall_seconds"] == pytest.approx(11.547)
    failed = copy.deepcopy(FLEET)
    failed["variants"][1]["checks"]["facts"]["ok"] = False
    with pytest.raises(ValueError, match="failed its checks: facts"):
        bench.nightly_reference(failed)
    broken = copy.deepcopy(FLEET)
    broken["variants"][1]["returncode"] = 2
    with pytest.raises(ValueError, match="did not pass"):
        bench.nightly_reference(broken)
    missing = copy.deepcopy(FLEET)
    del missing["variants"][1]
    with pytest.raises(ValueError, match="no praxisops variant"):
        bench.nightly_reference(missing)


def test_recorded_fleet_file_is_a_valid_reference():
    reference = bench.nightly_reference(json.loads(bench.FLEET_RESULTS.read_text()))
    assert not reference["scaled"] and reference["wall_seconds"] > 0


def test_verdict_against_the_goal():
    assert bench.verdict(4.0, 100.0) == {"seconds": 4.0, "nightly_seconds": 100.0, "share": 0.04, "goal": 0.05,
                                         "within_goal": True}
    assert not bench.verdict(5.0, 100.0)["within_goal"]
    with pytest.raises(ValueError):
        bench.verdict(1.0, 0)


def test_output_paths(tmp_path):
    assert bench.output_path(None, False) == bench.RESULTS_DEFAULT
    assert bench.output_path(None, True) == bench.RESULTS_TRACKED
    assert bench.output_path(tmp_path / "a.json", False) == tmp_path / "a.json"
    with pytest.raises(ValueError, match="--record"):
        bench.output_path(tmp_path / "a.json", True)
    with pytest.raises(ValueError, match="tracked"):
        bench.output_path(bench.RESULTS_TRACKED, False)


def test_three_small_nights_pass_the_checks_and_a_broken_one_does_not(tmp_path):
    ledger = str(tmp_path / "ledger.sqlite")
    nights, counts = {}, {}
    for name, moment in (("first", bench.START), ("steady", bench.START + bench.dt.timedelta(minutes=10)),
                         ("reminder", bench.START + bench.dt.timedelta(hours=25))):
        nights[name] = bench.night(ledger, 3, 6, moment)
        counts[name] = bench.ledger_counts(ledger)
    assert nights["first"]["incidents"]["opened"] == 18 and nights["steady"]["incidents"]["updated"] == 18
    # practice contact for all, provider contact and on-call for the high ones: 3 practices x 3
    assert nights["first"]["messages_sent"] == 9 and nights["steady"]["messages_sent"] == 0
    assert nights["reminder"]["reminders"] == 18
    assert all(bench.checks(nights, counts, 3, 6).values())
    wrong = copy.deepcopy(nights)
    wrong["steady"]["messages_sent"] = 1            # a steady night that sent mail again
    assert not bench.checks(wrong, counts, 3, 6)["steady night updated, queued and sent nothing"]
