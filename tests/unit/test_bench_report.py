"""The report benchmark (bench/report/bench_report.py) at size 2: varied
practices, every report rendered and checked, results kept out of the
tracked file unless recorded."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("praxis_test_bench_report", ROOT / "bench" / "report" / "bench_report.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["praxis_test_bench_report"] = bench
spec.loader.exec_module(bench)


def test_practices_are_varied():
    base = json.loads(bench.FIXTURE.read_text())
    first, second = bench.practice(base, 0), bench.practice(base, 4)
    assert first["site"]["id"] == "p000" and second["site"]["language"] == "en"
    assert len(first["antivirus"]["devices"]) != len(second["antivirus"]["devices"])
    assert base["site"]["id"] == "huber"        # the example itself is unchanged


def test_two_practices_render(tmp_path):
    result = bench.run(2, 2)
    assert result["sites"] == 2 and result["failed"] == [] and result["mean_seconds"] > 0
    assert result["pdf_bytes_mean"] > 10000
    assert result["within_goal"] == (result["wall_seconds"] / 2 < bench.GOAL_SECONDS)


def test_output_paths(tmp_path):
    assert bench.output_path(None, True) == bench.RESULTS_TRACKED
    assert bench.output_path(None, False) == bench.RESULTS_DEFAULT
    with pytest.raises(ValueError, match="--record"):
        bench.output_path(tmp_path / "x.json", True)
    with pytest.raises(ValueError, match="tracked"):
        bench.output_path(bench.RESULTS_TRACKED, False)
