"""The patch benchmark (bench/patch/bench_patch.py) at a tiny size: the
month's calls, the ledger it leaves, the checks that refuse a wrong month,
the figures' shape and where results go."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("praxis_test_bench_patch", ROOT / "bench" / "patch" / "bench_patch.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["praxis_test_bench_patch"] = bench
spec.loader.exec_module(bench)


def test_catalog_has_microsoft_updates_and_programs():
    month = bench.catalog(30)
    assert len(month["microsoft"]) == 24 and len(month["programs"]) == 6
    assert all(e["title"].startswith("2026-11 ") for e in month["microsoft"].values())
    assert len(bench.catalog(3)["programs"]) == 0


def test_tiny_month_passes_its_checks_and_has_the_figures_shape(tmp_path):
    result = bench.run(2, 3, 5, str(tmp_path))
    # 2 practices x 3 PCs: one check, one plan and one install each
    assert result["calls"] == {"record_check": 6, "plan": 6, "record_install": 6}
    assert result["counts"] == {"device_updates": 30, "installed": 30, "released_by_rule": 10, "checks": 6}
    assert all(result["checks"].values()), result["checks"]
    assert result["fleet"] == [{"days": 7, "installed": 10, "device_updates": 30, "percent": 33.3},
                               {"days": 14, "installed": 30, "device_updates": 30, "percent": 100.0}]
    assert result["seconds"] == pytest.approx(result["ledger_seconds"] + result["sla_seconds"], abs=0.002)
    assert result["within_goal"] == (result["seconds"] < bench.GOAL_SECONDS)
    json.dumps(result)
    daily = bench.run(1, 2, 5, str(tmp_path / "daily"), daily=True)
    assert daily["calls"]["record_check"] == 2 * 30 and all(daily["checks"].values())


def test_checks_refuse_a_month_that_went_wrong(tmp_path):
    result = bench.run(1, 2, 5, str(tmp_path))
    counts = dict(result["counts"], installed=result["counts"]["installed"] - 1)
    figures = {"practices": {"praxis001": {}}, "fleet": result["fleet"]}
    assert not bench.checks(counts, figures, 1, 2, 5)["every update installed"]
    assert not bench.checks(result["counts"], {"practices": {}, "fleet": []}, 1, 2, 5)["SLA for every practice"]


def test_output_paths_and_record_only_at_full_size(tmp_path, capsys):
    assert bench.output_path(None, False) == bench.RESULTS_DEFAULT
    assert bench.output_path(None, True) == bench.RESULTS_TRACKED
    with pytest.raises(ValueError, match="--record"):
        bench.output_path(tmp_path / "a.json", True)
    with pytest.raises(ValueError, match="tracked"):
        bench.output_path(bench.RESULTS_TRACKED, False)
    assert bench.main(["--sites", "2", "--record"]) == 2
    assert "--record only for 300 practices" in capsys.readouterr().err


def test_recorded_result_met_the_goal():
    recorded = json.loads(bench.RESULTS_TRACKED.read_text())
    assert (recorded["sites"], recorded["pcs"], recorded["updates"]) == (300, 8, 30)
    assert recorded["within_goal"] and recorded["seconds"] < recorded["goal_seconds"] == 10.0
    assert all(recorded["checks"].values())


def test_ledger_keeps_one_connection_and_holds_no_lock_between_calls(tmp_path, monkeypatch):
    """What made the benchmark fast, kept: one connection per PatchLedger, each
    call its own transaction; one KB seen under two update ids (two PCs, and
    twice in one search) keeps both ids."""
    import sqlite3

    from ansible.module_utils import praxis_ledger
    from ansible.module_utils import praxis_patch as pp

    opened = []
    real = praxis_ledger.connect
    monkeypatch.setattr(praxis_ledger, "connect", lambda path: opened.append(path) or real(path))
    path = str(tmp_path / "ledger.sqlite")
    ledger = pp.PatchLedger(path)
    month = bench.catalog(5)["microsoft"]
    first, second = list(month)[:2]
    twice = {first: month[first], second: dict(month[second], kb=month[first]["kb"])}
    now = bench.nights()[12]
    for host, offered in (("a-ws01", {first: month[first]}), ("a-ws02", {second: twice[second]}),
                          ("a-ws03", twice)):
        ledger.record_check(site="a", host=host, role="workplace", pilot_host="a-ws01",
                            updates=pp.normalize_updates({"updates": offered}, now=now), packages=None, now=now,
                            pol=bench.POLICY)
        with sqlite3.connect(path, timeout=0) as other:      # no lock is left between calls
            other.execute("BEGIN IMMEDIATE")
            other.rollback()
    assert opened == [path]
    with sqlite3.connect(path) as conn:
        ids = conn.execute("SELECT update_ids FROM patch_updates").fetchall()
    assert [sorted(json.loads(row[0])) for row in ids] == [sorted([first, second])]
    ledger.close()
