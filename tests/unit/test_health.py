"""Health decisions (module_utils/praxis_health.py) and the ledger
(module_utils/praxis_ledger.py)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from ansible.module_utils import praxis_ledger
from ansible.module_utils.praxis_findings import FindingError, Judge, thresholds
from ansible.module_utils.praxis_health import evaluate, overall, unreachable_finding

NOW = dt.datetime(2026, 11, 24, 22, 0, tzinfo=dt.timezone.utc)
LIMITS = thresholds()
SITE = {"id": "huber", "file": "sites/huber.yml"}


def judge(role="nas", site=SITE):
    return Judge(site, f"huber-{role}", role)


@pytest.mark.parametrize("facts,checks,status", [
    ({}, [], "ok"),
    ({"cpu_percent": 95}, ["net.cpu"], "warning"),
    ({"cpu_percent": 90}, [], "ok"),                             # at the limit is fine
    ({"memory_percent": 91.5}, ["net.memory"], "warning"),
    ({"temperature_c": 75}, ["net.temperature"], "warning"),
    ({"temperature_c": 81}, ["net.temperature"], "critical"),
    ({"disks": [{"id": "sata1", "status": "normal", "smart": "warning"}]}, ["net.disk"], "warning"),
    ({"disks": [{"id": "sata2", "status": "crashed", "smart": "normal"}]}, ["net.disk"], "critical"),
    ({"volumes": [{"id": "volume_1", "status": "degraded", "used_percent": 40}]}, ["net.volume"], "warning"),
    ({"volumes": [{"id": "volume_1", "status": "crashed", "used_percent": 40}]}, ["net.volume"], "critical"),
    ({"volumes": [{"id": "volume_1", "status": "normal", "used_percent": 88}]}, ["net.volume_used"], "warning"),
    ({"volumes": [{"id": "volume_1", "status": "normal", "used_percent": 96}]}, ["net.volume_used"], "critical"),
])
def test_evaluate_table(facts, checks, status):
    findings = evaluate(facts, judge(), LIMITS, NOW)
    assert sorted(f["check"] for f in findings) == sorted(checks)
    assert overall(findings) == status
    for finding in findings:
        assert finding["site"] == "huber" and finding["host"] == "huber-nas"


def test_findings_carry_subject_value_and_threshold():
    (finding,) = evaluate({"volumes": [{"id": "volume_1", "status": "normal", "used_percent": 96}]}, judge(),
                          LIMITS, NOW)
    assert (finding["subject"], finding["value"], finding["threshold"]) == ("volume_1", 96, 95)
    assert finding["priority"] == "medium"


def test_the_critical_limits_are_thresholds_not_constants():
    # 96 % is critical with the default (95) but only a warning when a NAS may be fuller
    limits = thresholds(("site file", {"volume_used_percent_critical": 98}))
    (finding,) = evaluate({"volumes": [{"id": "v", "status": "normal", "used_percent": 96}]}, judge(), limits, NOW)
    assert finding["severity"] == "warning"
    limits = thresholds(("site file", {"temperature_critical_c": 90}))
    (finding,) = evaluate({"temperature_c": 85}, judge(), limits, NOW)
    assert finding["severity"] == "warning" and finding["threshold"] == 70


@pytest.mark.parametrize("date,warn", [("2026-11-24", False), ("2026-11-22", False), ("2026-11-21", True),
                                       (None, True), ("yesterday", True)])
def test_signature_age(date, warn):
    findings = evaluate({"signature_date": date}, judge("firewall"), LIMITS, NOW, has_signatures=True)
    assert bool(findings) is warn
    assert all(f["check"] == "net.signature_age" for f in findings)


def test_signature_age_ignored_without_signatures():
    assert evaluate({"signature_date": None}, judge("switch"), LIMITS, NOW, has_signatures=False) == []


def test_thresholds_override_and_errors():
    assert thresholds(("site file", {"temperature_c": 60}))["temperature_c"] == 60
    with pytest.raises(FindingError, match="unknown threshold 'temp'"):
        thresholds(("site file", {"temp": 60}))
    with pytest.raises(FindingError, match="temperature_c must be a non-negative number"):
        thresholds(("site file", {"temperature_c": "hot"}))
    with pytest.raises(FindingError, match="cpu_percent"):
        thresholds(("site file", {"cpu_percent": True}))


def test_unreachable_priorities():
    assert unreachable_finding(judge("firewall"), "down")["priority"] == "high"
    assert unreachable_finding(judge("switch"), "down")["priority"] == "medium"
    site = dict(SITE, priorities={"net.reachability": "high"})
    assert unreachable_finding(judge("switch", site), "down")["priority"] == "high"


def test_ledger_roundtrip_and_filters(tmp_path):
    path = str(tmp_path / "sub" / "ledger.sqlite")
    praxis_ledger.record(path, site="a", host="a-fw01", kind="health", status="ok", summary="healthy",
                         data={"facts": {"x": 1}}, run="7")
    praxis_ledger.record(path, site="b", host="b-fw01", kind="firmware", status="changed", summary="25.1 -> 25.7")
    assert [e["host"] for e in praxis_ledger.events(path)] == ["a-fw01", "b-fw01"]
    (only,) = praxis_ledger.events(path, kind="health")
    assert only["data"] == {"facts": {"x": 1}} and only["run"] == "7"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("kind,status,needle", [("health", "bad", "unknown ledger status"),
                                                ("weather", "ok", "unknown ledger kind")])
def test_ledger_rejects_unknown_values(tmp_path, kind, status, needle):
    with pytest.raises(praxis_ledger.LedgerError, match=needle):
        praxis_ledger.record(str(tmp_path / "l.sqlite"), site="a", host="a-x", kind=kind, status=status, summary="")


def test_ledger_events_of_missing_file_is_empty(tmp_path):
    assert list(praxis_ledger.events(str(tmp_path / "none.sqlite"))) == []
