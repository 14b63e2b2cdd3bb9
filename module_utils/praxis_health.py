# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Health decisions from normalized device facts (NET-06, NET-03).

The drivers only report numbers and states; what counts as a problem, and
how urgent it is (OPS-06: high = whole service down, reaction 1 h; medium =
degraded, 4 h; low = 24 h), is decided here from the site's thresholds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

DEFAULT_THRESHOLDS: dict[str, float] = {
    "cpu_percent": 90,             # sustained load above this is a warning
    "memory_percent": 90,
    "temperature_c": 70,           # warning; +10 degrees is critical
    "volume_used_percent": 85,     # warning; 95 is critical
    "signature_max_age_days": 2,   # NET-03: signatures are updated daily
}
PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}
STATUS_ORDER = {"critical": 0, "warning": 1, "ok": 2}


class HealthError(ValueError):
    pass


def thresholds(overrides: Mapping[str, Any] | None) -> dict[str, float]:
    """The default thresholds with a site's overrides; unknown keys and
    non-numbers are refused with the key named."""
    merged = dict(DEFAULT_THRESHOLDS)
    for key, value in (overrides or {}).items():
        if key not in DEFAULT_THRESHOLDS:
            raise HealthError(f"unknown health threshold {key!r}; known: {', '.join(sorted(DEFAULT_THRESHOLDS))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise HealthError(f"health threshold {key} must be a non-negative number, got {value!r}")
        merged[key] = float(value)
    return merged


def _finding(check: str, status: str, priority: str, message: str, value: Any = None) -> dict[str, Any]:
    return {"check": check, "status": status, "priority": priority, "message": message, "value": value}


def unreachable_finding(role: str, message: str) -> dict[str, Any]:
    """A device that does not answer. A firewall down takes the practice
    offline (high); any other device degrades the service (medium)."""
    priority = "high" if role == "firewall" else "medium"
    return _finding("reachability", "critical", priority, message)


def evaluate(facts: Mapping[str, Any], role: str, limits: Mapping[str, float],
             now: dt.datetime | None = None, has_signatures: bool = False) -> list[dict[str, Any]]:
    """Findings (status warning/critical) for one device's facts; [] when healthy."""
    findings: list[dict[str, Any]] = []
    for key, label in (("cpu_percent", "CPU load"), ("memory_percent", "memory use")):
        value = facts.get(key)
        if value is not None and value > limits[key]:
            findings.append(_finding(key, "warning", "low", f"{label} {value:.0f} % above {limits[key]:.0f} %", value))
    temp = facts.get("temperature_c")
    if temp is not None and temp > limits["temperature_c"]:
        critical = temp > limits["temperature_c"] + 10
        findings.append(_finding("temperature_c", "critical" if critical else "warning",
                                 "medium" if critical else "low",
                                 f"temperature {temp:.0f} °C above {limits['temperature_c']:.0f} °C", temp))
    for disk in facts.get("disks") or []:
        states = {disk.get("status") or "normal", disk.get("smart") or "normal"}
        if states & {"failing", "crashed"}:
            findings.append(_finding("disk", "critical", "medium",
                                     f"disk {disk.get('id')} ({disk.get('model') or 'unknown model'}) is failing: "
                                     f"status {disk.get('status')}, SMART {disk.get('smart')}", disk.get("id")))
        elif "warning" in states:
            findings.append(_finding("disk", "warning", "low",
                                     f"disk {disk.get('id')} reports a SMART warning", disk.get("id")))
    for volume in facts.get("volumes") or []:
        status = volume.get("status") or "normal"
        if status in ("degraded", "crashed"):
            findings.append(_finding("volume", "critical", "high" if status == "crashed" else "medium",
                                     f"volume {volume.get('id')} is {status}", volume.get("id")))
        used = volume.get("used_percent")
        if used is not None and used > limits["volume_used_percent"]:
            critical = used >= 95
            findings.append(_finding("volume_used_percent", "critical" if critical else "warning",
                                     "medium" if critical else "low",
                                     f"volume {volume.get('id')} {used:.0f} % full", used))
    if has_signatures:
        findings.extend(_signature_findings(facts.get("signature_date"), limits, now))
    findings.sort(key=lambda f: (STATUS_ORDER[f["status"]], PRIORITY_ORDER[f["priority"]], f["check"]))
    return findings


def _signature_findings(date_text: Any, limits: Mapping[str, float],
                        now: dt.datetime | None) -> list[dict[str, Any]]:
    today = (now or dt.datetime.now(dt.timezone.utc)).date()
    if not date_text:
        return [_finding("signature_date", "warning", "medium", "the device reports no signature date")]
    try:
        date = dt.date.fromisoformat(str(date_text)[:10])
    except ValueError:
        return [_finding("signature_date", "warning", "medium", f"unreadable signature date {date_text!r}")]
    age = (today - date).days
    if age > limits["signature_max_age_days"]:
        return [_finding("signature_date", "warning", "medium",
                         f"signatures are {age} days old (from {date.isoformat()}; "
                         f"limit {limits['signature_max_age_days']:.0f})", age)]
    return []


def overall(findings: list[dict[str, Any]]) -> str:
    """ok, warning or critical: the worst status of the findings."""
    if not findings:
        return "ok"
    return min((f["status"] for f in findings), key=STATUS_ORDER.__getitem__)
