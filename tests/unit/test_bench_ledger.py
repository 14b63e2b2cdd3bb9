"""The ledger benchmark (bench/ledger/bench_ledger.py) run tiny on both backends:
its check counts every write, and a lost one fails it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("praxis_test_bench_ledger", ROOT / "bench" / "ledger" / "bench_ledger.py")
bench = importlib.util.module_from_spec(spec)
sys.modules["praxis_test_bench_ledger"] = bench
spec.loader.exec_module(bench)


def test_tiny_run_on_both_backends_counts_every_write(tmp_path, pg_cluster):
    output = tmp_path / "ledger.json"
    assert bench.main(["--writers", "2", "--hosts", "6", "--url", pg_cluster.database("bench"),
                       "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    assert [(r["backend"], r["connection"]) for r in result["results"]] == \
        [("sqlite", "per writer"), ("postgresql", "per writer"), ("postgresql", "per host")]
    for item in result["results"]:
        assert item["ok"] and item["events"] == 12 and item["incidents"] == 4 and item["hosts_per_second"] > 0


def _claims_more(args):
    return args[2] + 1      # says it wrote a host it never wrote


def test_a_lost_write_fails_the_check(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "night", _claims_more)
    output = tmp_path / "ledger.json"
    assert bench.main(["--writers", "1", "--hosts", "3", "--backends", "sqlite", "--output", str(output)]) == 1
    assert json.loads(output.read_text())["results"][0]["ok"] is False
