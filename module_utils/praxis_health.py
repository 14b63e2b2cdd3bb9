# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Health decisions from normalized device facts (NET-06, NET-03).

The drivers only report numbers and states; what counts as a problem is
decided here from the host's thresholds (``praxis_findings.thresholds``),
and how urgent it is (OPS-06) by the priority rules and the site's
``priorities`` (``praxis_findings.Judge``). Every finding has the one shape
of ``praxis_findings.make_finding``; docs/findings.md lists the checks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from ansible.module_utils.praxis_errors import PraxisError
from ansible.module_utils.praxis_findings import Judge, sort_findings, worst

# the checks device_facts runs for every reachable device; net.signature_age only where signatures exist
DEVICE_CHECKS = ("net.reachability", "net.cpu", "net.memory", "net.temperature", "net.disk", "net.volume",
                 "net.volume_used")


class HealthError(PraxisError, ValueError):
    pass


def unreachable_finding(judge: Judge, message: str) -> dict[str, Any]:
    """A device that does not answer. A firewall down takes the practice
    offline (high); any other device degrades the service (medium)."""
    return judge("net.reachability", "", "critical", message)


def device_checks(has_signatures: bool) -> list[str]:
    """The check ids a facts run of a reachable device decides."""
    return [*DEVICE_CHECKS, *(["net.signature_age"] if has_signatures else [])]


def evaluate(facts: Mapping[str, Any], judge: Judge, limits: Mapping[str, Any],
             now: dt.datetime | None = None, has_signatures: bool = False) -> list[dict[str, Any]]:
    """Findings for one device's facts, worst first; [] when healthy."""
    findings: list[dict[str, Any]] = []
    for key, check, label in (("cpu_percent", "net.cpu", "CPU load"), ("memory_percent", "net.memory", "memory use")):
        value = facts.get(key)
        if value is not None and value > limits[key]:
            findings.append(judge(check, "", "warning", f"{label} {value:.0f} % above {limits[key]:g} %", value,
                                  limits[key]))
    temp = facts.get("temperature_c")
    if temp is not None and temp > limits["temperature_c"]:
        critical = temp > limits["temperature_critical_c"]
        limit = limits["temperature_critical_c"] if critical else limits["temperature_c"]
        findings.append(judge("net.temperature", "", "critical" if critical else "warning",
                              f"temperature {temp:.0f} °C above {limit:g} °C", temp, limit))
    for disk in facts.get("disks") or []:
        states = {disk.get("status") or "normal", disk.get("smart") or "normal"}
        ident = str(disk.get("id") or "?")
        if states & {"failing", "crashed"}:
            findings.append(judge("net.disk", ident, "critical",
                                  f"disk {ident} ({disk.get('model') or 'unknown model'}) is failing: "
                                  f"status {disk.get('status')}, SMART {disk.get('smart')}", disk.get("status")))
        elif "warning" in states:
            findings.append(judge("net.disk", ident, "warning", f"disk {ident} reports a SMART warning",
                                  disk.get("smart")))
    for volume in facts.get("volumes") or []:
        ident = str(volume.get("id") or "?")
        status = volume.get("status") or "normal"
        if status in ("degraded", "crashed"):
            findings.append(judge("net.volume", ident, "critical" if status == "crashed" else "warning",
                                  f"volume {ident} is {status}", status))
        used = volume.get("used_percent")
        if used is not None and used > limits["volume_used_percent"]:
            critical = used >= limits["volume_used_percent_critical"]
            limit = limits["volume_used_percent_critical"] if critical else limits["volume_used_percent"]
            findings.append(judge("net.volume_used", ident, "critical" if critical else "warning",
                                  f"volume {ident} {used:.0f} % full (limit {limit:g} %)", used, limit))
    if has_signatures:
        findings.extend(signature_findings(judge, facts.get("signature_date"), limits, now))
    return sort_findings(findings)


def signature_findings(judge: Judge, date_text: Any, limits: Mapping[str, Any],
                       now: dt.datetime | None) -> list[dict[str, Any]]:
    """net.signature_age: the signatures are older than ``signature_max_age_days``."""
    today = (now or dt.datetime.now(dt.timezone.utc)).date()
    limit = limits["signature_max_age_days"]
    if not date_text:
        return [judge("net.signature_age", "", "warning", "the device reports no signature date", None, limit)]
    try:
        date = dt.date.fromisoformat(str(date_text)[:10])
    except ValueError:
        return [judge("net.signature_age", "", "warning", f"unreadable signature date {date_text!r}", None, limit)]
    age = (today - date).days
    if age > limit:
        return [judge("net.signature_age", "", "warning",
                      f"signatures are {age} days old (from {date.isoformat()}; limit {limit:g})", age, limit)]
    return []


def overall(findings: list[dict[str, Any]]) -> str:
    """ok, warning or critical: the worst severity of the findings."""
    return worst(findings)
