"""The one findings model (module_utils/praxis_findings.py): the finding
shape, the layered thresholds, the priority rules and the seam to the
incident engine."""

from __future__ import annotations

import datetime as dt
import sys
import types

import pytest

from ansible.module_utils import praxis_findings
from ansible.module_utils.praxis_errors import PraxisError
from ansible.module_utils.praxis_findings import (
    PRIORITY_REACTION, FindingError, finding_key, make_finding, priority_for, report, site_layers, site_priorities,
    thresholds, worst,
)

NOW = dt.datetime(2026, 11, 24, 22, 0, tzinfo=dt.timezone.utc)
GOOD = {"site": "huber", "host": "huber-nas01", "check": "net.volume_used", "subject": "volume_1",
        "severity": "critical", "priority": "medium", "message": "volume_1 96 % full"}


def test_make_finding_has_every_field():
    finding = make_finding(**GOOD, value=96, threshold=95, first_seen=NOW)
    assert set(finding) == set(praxis_findings.FIELDS)
    assert finding["first_seen"] == "2026-11-24T22:00:00+00:00" and finding["last_seen"] is None
    assert finding_key(finding) == ("huber", "huber-nas01", "net.volume_used", "volume_1")


@pytest.mark.parametrize("field,value,needle", [
    ("severity", "error", "severity of net.volume_used must be one of warning, critical"),
    ("priority", "urgent", "priority of net.volume_used must be one of high, medium, low"),
    ("check", "volume_used", "must be a dotted id"),
    ("check", "Net.Volume", "must be a dotted id"),
    ("subject", None, "subject of net.volume_used must be a string"),
    ("site", "", "site must be a non-empty string"),
    ("host", None, "host must be a non-empty string"),
    ("message", " ", "message must be a non-empty string"),
    ("first_seen", "gestern", "first_seen"),
    ("last_seen", dt.datetime(2026, 1, 1), "has no UTC offset"),
])
def test_make_finding_refuses_bad_fields(field, value, needle):
    with pytest.raises(FindingError, match=needle):
        make_finding(**dict(GOOD, **{field: value}))


def test_finding_error_is_a_praxis_error():
    assert issubclass(FindingError, PraxisError)


def test_worst_and_reaction_times():
    assert worst([]) == "ok"
    assert worst([dict(GOOD, severity="warning"), GOOD]) == "critical"
    assert PRIORITY_REACTION == {"high": dt.timedelta(hours=1), "medium": dt.timedelta(hours=4),
                                 "low": dt.timedelta(hours=24)}


# -- thresholds ------------------------------------------------------------------------------------
def test_each_layer_overrides_the_one_before():
    site = {"id": "huber", "file": "sites/huber.yml", "thresholds": {"volume_used_percent": 80, "cpu_percent": 70}}
    device = {"name": "nas01", "thresholds": {"volume_used_percent": 92}}
    layers = site_layers(site, device, group_vars={"volume_used_percent": 75, "memory_percent": 60},
                         task={"cpu_percent": 99})
    values = thresholds(*layers)
    assert values["memory_percent"] == 60           # group_vars
    assert values["volume_used_percent"] == 92      # device over site over group_vars
    assert values["cpu_percent"] == 99              # task option last
    assert values["temperature_c"] == 70            # project default
    assert thresholds(*site_layers(site, None))["volume_used_percent"] == 80


@pytest.mark.parametrize("layer_index,values,needle", [
    (0, {"volume_full": 90}, "group_vars praxis_thresholds: unknown threshold 'volume_full'"),
    (1, {"cpu_percent": "viel"}, "site file sites/huber.yml: thresholds: threshold cpu_percent must be a "
                                 "non-negative number, got 'viel'"),
    (2, {"volume_critical_percent": 97}, "site file sites/huber.yml: device nas01: thresholds: threshold "
                                         "volume_critical_percent is now called volume_used_percent_critical"),
    (2, {"signature_rule": "weekdays"}, "device nas01: thresholds: threshold signature_rule must be one of"),
    (1, ["cpu_percent"], "site file sites/huber.yml: thresholds: thresholds must be a mapping"),
])
def test_errors_name_the_layer_and_the_key(layer_index, values, needle):
    site = {"id": "huber", "file": "sites/huber.yml"}
    layers = site_layers(site, {"name": "nas01"})
    layers[layer_index] = (layers[layer_index][0], values)
    with pytest.raises(FindingError, match=needle.replace("(", r"\(")):
        thresholds(*layers)


def test_a_critical_threshold_below_its_warning_is_refused():
    with pytest.raises(FindingError, match="volume_used_percent_critical \\(80\\) is below volume_used_percent"):
        thresholds(("site file x.yml: thresholds", {"volume_used_percent_critical": 80}))


def test_every_threshold_is_documented_in_the_one_table():
    with open("docs/findings.md", encoding="utf-8") as handle:
        page = handle.read()
    for key in praxis_findings.THRESHOLDS:
        assert f"| `{key}` |" in page, key
    for check in praxis_findings.CHECKS:
        assert f"`{check}`" in page, check


# -- priorities ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("check,severity,role,priority", [
    ("net.reachability", "critical", "firewall", "high"),
    ("net.reachability", "critical", "switch", "medium"),
    ("win.service", "critical", "server", "high"),
    ("win.service", "critical", "workplace", "medium"),
    ("win.service", "warning", "workplace", "low"),
    ("net.volume_used", "warning", "nas", "low"),
    ("net.volume_used", "critical", "nas", "medium"),
    ("firmware.available", "warning", "switch", "low"),
    ("backup.config", "critical", "firewall", "medium"),
])
def test_default_priority_rules(check, severity, role, priority):
    assert priority_for(check, severity, role) == priority


def test_site_priorities_override_the_rules():
    site = {"id": "huber", "file": "sites/huber.yml",
            "priorities": {"net.volume_used": "high", "win.service": {"warning": "medium"}}}
    overrides = site_priorities(site)
    assert priority_for("net.volume_used", "warning", "nas", overrides) == "high"
    assert priority_for("win.service", "warning", "workplace", overrides) == "medium"
    assert priority_for("win.service", "critical", "server", overrides) == "high"   # not overridden


@pytest.mark.parametrize("priorities,needle", [
    ({"net.volume": "urgent"}, "sites/huber.yml: priorities.net.volume must be one of high, medium, low"),
    ({"net.volumes": "high"}, "sites/huber.yml: priorities: unknown check 'net.volumes'"),
    ({"win.service": {"error": "high"}}, "priorities.win.service: 'error' is not a severity"),
    (["net.volume"], "priorities must be a mapping"),
])
def test_bad_site_priorities_are_named(priorities, needle):
    with pytest.raises(FindingError, match=needle.replace("(", r"\(")):
        site_priorities({"id": "huber", "file": "sites/huber.yml", "priorities": priorities})


# -- the seam to the incident engine ------------------------------------------------------------------
def test_report_is_empty_without_the_engine(monkeypatch):
    monkeypatch.setitem(sys.modules, praxis_findings.ENGINE, types.ModuleType(praxis_findings.ENGINE))
    assert report("/l.sqlite", run="1", site="huber", host="h", checks=["net.cpu"], findings=[], now=NOW,
                  check_mode=False) == {"opened": [], "updated": [], "escalated": [], "resolved": []}


def test_report_calls_observe_with_the_contract(monkeypatch):
    calls = []
    engine = types.ModuleType(praxis_findings.ENGINE)

    def observe(ledger_path, *, run, site, host, checks, findings, now, check_mode):
        calls.append((ledger_path, run, site, host, checks, findings, now, check_mode))
        return {"opened": [{"check": "net.cpu"}], "resolved": []}

    engine.observe = observe
    monkeypatch.setitem(sys.modules, praxis_findings.ENGINE, engine)
    finding = make_finding(**dict(GOOD, check="net.cpu", subject=""))
    result = report("/l.sqlite", run="7", site="huber", host="huber-nas01", checks=["net.cpu", "net.cpu", "net.disk"],
                    findings=[finding], now=NOW, check_mode=True)
    assert calls == [("/l.sqlite", "7", "huber", "huber-nas01", ["net.cpu", "net.disk"], [finding], NOW, True)]
    assert result == {"opened": [{"check": "net.cpu"}], "updated": [], "escalated": [], "resolved": []}
    assert report(None, run="7", site="huber", host="h", checks=[], findings=[], now=NOW,
                  check_mode=False)["opened"] == []
