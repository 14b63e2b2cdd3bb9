# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""One finding shape, one threshold registry and the priority rules for
every check that judges health (NET-03, NET-02, NET-04, NET-06, WP-06,
OPS-06); docs/findings.md is the page for the technician.

A finding is one problem of one host, made by ``make_finding``:

``site``, ``host``
    the practice id and the inventory host;
``check``
    a dotted id, ``<area>.<what>`` (``net.reachability``, ``win.service``,
    ``backup.config``, ``firmware.pending``; ``CHECKS`` lists them);
``subject``
    what inside the host: a disk id, a service name, a volume; ``""`` when
    it is the host itself;
``severity``
    ``warning`` or ``critical``;
``priority``
    ``high``, ``medium`` or ``low`` (OPS-06; ``PRIORITY_REACTION``), decided
    by ``priority_for`` from the rules below and the site's ``priorities``;
``message``
    one line for the technician;
``value``, ``threshold``
    the measured value and the limit it crossed (None when not a number);
``first_seen``, ``last_seen``
    ISO times, filled in by the incident engine (None from a check).

``finding_key`` identifies the same problem from run to run: (site, host,
check, subject). What is new, worse or gone since the last run is decided
by the incident engine (``report``), never by a check.

Thresholds come in layers, each later one overriding single keys of the
earlier ones: the project defaults (``THRESHOLDS``), the group_vars variable
``praxis_thresholds``, the site file's ``thresholds:``, the device entry's
``thresholds:`` in the site file and, for ad-hoc runs, the task option
``thresholds``. A key that is unknown, renamed or not a number is refused
naming the key and the layer it came from.
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any, Iterable, Mapping

from ansible.module_utils.praxis_errors import PraxisError

SEVERITIES = ("warning", "critical")
PRIORITIES = ("high", "medium", "low")
SEVERITY_RANK = {"ok": 0, "warning": 1, "critical": 2}
PRIORITY_RANK = {"low": 0, "medium": 1, "high": 2}
# OPS-06: the time within which the provider reacts to an incident of a priority
PRIORITY_REACTION = {"high": dt.timedelta(hours=1), "medium": dt.timedelta(hours=4),
                     "low": dt.timedelta(hours=24)}
FIELDS = ("site", "host", "check", "subject", "severity", "priority", "message", "value", "threshold",
          "first_seen", "last_seen")


class FindingError(PraxisError, ValueError):
    """A finding, threshold or priority rule that is not valid; the message
    names the field or key and where it came from."""


# -- the checks ----------------------------------------------------------------------------------
# check id -> what it judges; every id a check may produce. docs/findings.md lists them.
CHECKS: dict[str, str] = {
    "net.reachability": "the device answers its API or SSH",
    "net.cpu": "CPU load",
    "net.memory": "memory use",
    "net.temperature": "system temperature",
    "net.disk": "disk state and SMART of a NAS",
    "net.volume": "volume (RAID) state of a NAS",
    "net.volume_used": "how full a NAS volume is",
    "net.signature_age": "age of the firewall's security signatures (NET-03)",
    "net.signature_update": "the nightly signature download (NET-03)",
    "win.health_data": "a section of the Windows health data could not be collected",
    "win.service": "services that must run and automatic services that stopped",
    "win.disk_space": "how full a Windows volume is",
    "win.av_protection": "Microsoft Defender protects (service, antivirus, real-time protection)",
    "win.av_signature_age": "age of the antivirus signatures",
    "win.event_critical": "critical events in the System and Application logs",
    "win.event": "error events in the System and Application logs",
    "win.smart": "physical disk health (Storage Management)",
    "win.disk_errors": "uncorrected read and write errors of a disk",
    "win.disk_wear": "SSD wear",
    "win.disk_temperature": "disk temperature",
    "win.failed_logons": "failed logons on a server",
    "win.cpu": "CPU load of a server",
    "win.memory": "memory use of a server",
    "win.disk_busy": "disk busy time of a server",
    "win.network": "network traffic of a server",
    "win.temperature": "temperature of a server",
    "backup.config": "the configuration backup failed or the last good one is too old (NET-02)",
    "firmware.pending": "a firmware update did not come back within its reboot budget or did not take (NET-04)",
    "firmware.available": "an available firmware update waits longer than allowed (NET-04)",
    "patch.check": "the daily search for Windows and program updates could not run (WP-10)",
    "patch.failed": "an update failed to install (WP-08)",
    "patch.overdue": "a released update is not installed after the policy's overdue_days (WP-08, WP-10)",
    "patch.reboot_pending": "a reboot that finishes updates has been pending for days (WP-08)",
    "backup.stale": "the last data backup of a host is older than allowed, in working days (WP-12)",
    "backup.failed": "a data backup repository cannot be read: password, connection, lock (WP-12)",
    "backup.check": "restic check found errors in a data backup repository; nothing is pruned (WP-12)",
    "backup.shrunk": "the latest data backup of a host is much smaller than the ones before (WP-12)",
    "restore.failed": "the quarterly restore test of a practice failed (WP-12)",
}

# -- thresholds --------------------------------------------------------------------------------
# key -> (default, unit, description, checks using it). Numbers unless ``choices`` is given.
THRESHOLDS: dict[str, dict[str, Any]] = {
    "cpu_percent": {"default": 90, "unit": "%", "checks": ["net.cpu", "win.cpu"],
                    "description": "CPU load above this is a warning"},
    "memory_percent": {"default": 90, "unit": "%", "checks": ["net.memory", "win.memory"],
                       "description": "memory use above this is a warning"},
    "temperature_c": {"default": 70, "unit": "°C", "checks": ["net.temperature", "win.temperature"],
                      "description": "system temperature above this is a warning"},
    "temperature_critical_c": {"default": 80, "unit": "°C", "checks": ["net.temperature", "win.temperature"],
                               "description": "system temperature above this is critical"},
    "volume_used_percent": {"default": 85, "unit": "%", "checks": ["net.volume_used", "win.disk_space"],
                            "description": "a volume fuller than this is a warning"},
    "volume_used_percent_critical": {"default": 95, "unit": "%", "checks": ["net.volume_used", "win.disk_space"],
                                     "description": "a volume this full or fuller is critical"},
    "signature_max_age_days": {"default": 2, "unit": "days", "checks": ["net.signature_age"],
                               "description": "firewall signatures older than this many calendar days"},
    "signature_rule": {"default": "working_days", "unit": "", "choices": ["working_days", "calendar_days"],
                       "checks": ["win.av_signature_age"],
                       "description": "how the antivirus signature age is counted"},
    "signature_max_working_days": {"default": 2, "unit": "working days", "checks": ["win.av_signature_age"],
                                   "description": "antivirus signatures older than this (rule working_days; "
                                                  "weekends and the state's public holidays not counted)"},
    "signature_max_days": {"default": 5, "unit": "days", "checks": ["win.av_signature_age"],
                           "description": "antivirus signatures older than this (rule calendar_days)"},
    "disk_wear_percent": {"default": 80, "unit": "%", "checks": ["win.disk_wear"],
                          "description": "SSD wear at or above this (100 = end of rated life)"},
    "disk_temperature_c": {"default": 60, "unit": "°C", "checks": ["win.disk_temperature"],
                           "description": "disk temperature above this is a warning"},
    "disk_temperature_critical_c": {"default": 70, "unit": "°C", "checks": ["win.disk_temperature"],
                                    "description": "disk temperature above this (or at the disk's rated "
                                                   "maximum) is critical"},
    "failed_logons": {"default": 20, "unit": "logons", "checks": ["win.failed_logons"],
                      "description": "failed logons since the last check above this are a warning (servers)"},
    "failed_logons_critical": {"default": 200, "unit": "logons", "checks": ["win.failed_logons"],
                               "description": "failed logons since the last check above this are critical"},
    "disk_busy_percent": {"default": 90, "unit": "%", "checks": ["win.disk_busy"],
                          "description": "disk busy time above this is a warning (servers)"},
    "network_bytes_per_sec": {"default": 100000000, "unit": "bytes/s", "checks": ["win.network"],
                              "description": "network traffic above this is a warning (servers; about 80 % "
                                             "of a gigabit link)"},
    "backup_max_age_days": {"default": 35, "unit": "days", "checks": ["backup.config"],
                            "description": "a failed backup whose last good copy is older than this is critical"},
    "firmware_available_max_days": {"default": 30, "unit": "days", "checks": ["firmware.available"],
                                    "description": "an available firmware update not installed for longer "
                                                   "than this is a finding (low)"},
}
# old key -> its name now (the earlier workplace thresholds)
RENAMED_THRESHOLDS = {"volume_critical_percent": "volume_used_percent_critical"}
# warning key -> critical key: the critical one may not be below the warning one
THRESHOLD_PAIRS = (("temperature_c", "temperature_critical_c"),
                   ("volume_used_percent", "volume_used_percent_critical"),
                   ("disk_temperature_c", "disk_temperature_critical_c"),
                   ("failed_logons", "failed_logons_critical"))


def _check_threshold(key: Any, value: Any, layer: str) -> Any:
    if key in RENAMED_THRESHOLDS:
        raise FindingError(f"{layer}: threshold {key} is now called {RENAMED_THRESHOLDS[key]}; rename it")
    if key not in THRESHOLDS:
        raise FindingError(f"{layer}: unknown threshold {key!r}; known: {', '.join(sorted(THRESHOLDS))}")
    entry = THRESHOLDS[key]
    if "choices" in entry:
        if value not in entry["choices"]:
            raise FindingError(f"{layer}: threshold {key} must be one of {', '.join(entry['choices'])}, "
                               f"got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise FindingError(f"{layer}: threshold {key} must be a non-negative number, got {value!r}")
    return value


def thresholds(*layers: tuple[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    """The project defaults with each layer's values on top, in order.
    ``layers`` are (name, mapping or None); the name says where the values
    came from ("group_vars praxis_thresholds", "site file huber.yml:
    thresholds", ...) and is part of every error."""
    merged = {key: entry["default"] for key, entry in THRESHOLDS.items()}
    for layer, values in layers:
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise FindingError(f"{layer}: thresholds must be a mapping of threshold name to value, got {values!r}")
        for key, value in values.items():
            merged[key] = _check_threshold(key, value, layer)
    for low, high in THRESHOLD_PAIRS:
        if merged[high] < merged[low]:
            raise FindingError(f"threshold {high} ({merged[high]:g}) is below {low} ({merged[low]:g}); "
                               f"set both in {', '.join(name for name, v in layers if v) or 'one layer'}")
    return merged


def site_layers(site: Mapping[str, Any] | None, device: Mapping[str, Any] | None = None,
                group_vars: Any = None, task: Any = None) -> list[tuple[str, Any]]:
    """The threshold layers of one host, in order: ``praxis_thresholds``,
    the site file, the device entry, the task option."""
    site = site or {}
    where = f"site file {site.get('file') or site.get('id') or '?'}"
    name = (device or {}).get("name") or "?"
    return [("group_vars praxis_thresholds", group_vars),
            (f"{where}: thresholds", site.get("thresholds")),
            (f"{where}: device {name}: thresholds", (device or {}).get("thresholds")),
            ("task option thresholds", task or None)]


# -- priority rules -------------------------------------------------------------------------------
# (check, severity, role) -> priority; None matches any. The first rule that matches wins, so the
# specific ones come first. Roles: firewall, access_point, switch, nas, linux host roles as in the
# site file, and "workplace" / "server" for Windows. OPS-06: high = the whole service of a practice
# is down (firewall unreachable, practice server down); medium = degraded; low = the rest.
PRIORITY_RULES: tuple[tuple[str | None, str | None, str | None, str], ...] = (
    ("net.reachability", None, "firewall", "high"),
    ("net.reachability", None, None, "medium"),
    ("net.volume", "critical", None, "high"),            # a crashed volume: the practice's data is gone
    ("net.volume", "warning", None, "medium"),           # degraded: no redundancy left
    ("net.volume_used", "critical", None, "medium"),
    ("net.disk", "critical", None, "medium"),
    ("net.temperature", "critical", None, "medium"),
    ("net.signature_age", None, None, "medium"),
    ("net.signature_update", None, None, "medium"),
    ("patch.overdue", "critical", None, "medium"),          # twice overdue: the practice runs unpatched
    ("patch.failed", None, "server", "medium"),
    ("patch.check", None, "server", "medium"),
    ("win.service", "critical", "server", "high"),       # a service of the practice server is down
    ("win.service", "critical", None, "medium"),
    ("win.service", "warning", "server", "medium"),
    ("win.disk_space", "critical", "server", "high"),
    ("win.disk_space", "critical", None, "medium"),
    ("win.av_protection", "critical", None, "medium"),
    ("win.av_signature_age", "warning", None, "medium"),
    ("win.event_critical", None, None, "medium"),
    ("win.smart", None, None, "medium"),
    ("win.disk_errors", None, None, "medium"),
    ("win.disk_temperature", "critical", None, "medium"),
    ("win.failed_logons", None, None, "medium"),
    ("win.temperature", "critical", None, "medium"),
    ("backup.config", "critical", None, "medium"),
    ("backup.stale", None, "server", "high"),            # the practice server's data is not backed up
    ("backup.stale", None, None, "medium"),
    ("backup.failed", None, None, "medium"),
    ("backup.check", None, None, "medium"),
    ("backup.shrunk", None, None, "medium"),
    ("restore.failed", None, None, "medium"),
    ("firmware.pending", None, None, "medium"),
    (None, None, None, "low"),
)


def _check_priority(value: Any, where: str) -> str:
    if value not in PRIORITIES:
        raise FindingError(f"{where} must be one of {', '.join(PRIORITIES)}, got {value!r}")
    return value


def site_priorities(site: Mapping[str, Any] | None) -> dict[str, dict[str, str]]:
    """The site file's ``priorities:`` as {check: {severity: priority}}. A
    check may name one priority for both severities or one per severity
    ({"warning": "low", "critical": "high"}); unknown checks, severities and
    priorities are refused naming the site file."""
    site = site or {}
    where = f"site file {site.get('file') or site.get('id') or '?'}: priorities"
    raw = site.get("priorities")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise FindingError(f"{where} must be a mapping of check id to priority, got {raw!r}")
    result: dict[str, dict[str, str]] = {}
    for check, value in raw.items():
        if check not in CHECKS:
            raise FindingError(f"{where}: unknown check {check!r}; known: {', '.join(sorted(CHECKS))}")
        if isinstance(value, Mapping):
            per = {}
            for severity, priority in value.items():
                if severity not in SEVERITIES:
                    raise FindingError(f"{where}.{check}: {severity!r} is not a severity "
                                       f"({', '.join(SEVERITIES)})")
                per[severity] = _check_priority(priority, f"{where}.{check}.{severity}")
            result[check] = per
        else:
            priority = _check_priority(value, f"{where}.{check}")
            result[check] = {severity: priority for severity in SEVERITIES}
    return result


def priority_for(check: str, severity: str, role: str | None = None,
                 overrides: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """The priority of a finding: the site's override (``site_priorities``),
    else the first matching ``PRIORITY_RULES`` entry."""
    override = (overrides or {}).get(check, {}).get(severity)
    if override:
        return override
    for rule_check, rule_severity, rule_role, priority in PRIORITY_RULES:
        if rule_check not in (None, check) or rule_severity not in (None, severity) \
                or rule_role not in (None, role):
            continue
        return priority
    return "low"   # pragma: no cover - the last rule matches everything


# -- findings -----------------------------------------------------------------------------------
def _time_text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise FindingError(f"finding {field}: {value.isoformat()!r} has no UTC offset")
        return value.isoformat(timespec="seconds")
    if isinstance(value, str) and value:
        from ansible.module_utils.praxis_calendar import CalendarError, parse_timestamp

        try:
            parse_timestamp(value, f"finding {field}")
        except CalendarError as exc:
            raise FindingError(str(exc)) from None
        return value
    raise FindingError(f"finding {field} must be an ISO time with offset, got {value!r}")


def make_finding(*, site: str, host: str, check: str, subject: str, severity: str, priority: str, message: str,
                 value: Any = None, threshold: Any = None, first_seen: Any = None,
                 last_seen: Any = None) -> dict[str, Any]:
    """One finding (see the module docstring); every field checked."""
    for field, text in (("site", site), ("host", host), ("check", check), ("message", message)):
        if not isinstance(text, str) or not text.strip():
            raise FindingError(f"finding {field} must be a non-empty string, got {text!r}")
    parts = check.split(".")
    if len(parts) < 2 or not all(p and p.replace("_", "").isalnum() and p == p.lower() for p in parts):
        raise FindingError(f"finding check {check!r} must be a dotted id such as net.reachability")
    if not isinstance(subject, str):
        raise FindingError(f"finding subject of {check} must be a string (\"\" for the host itself), "
                           f"got {subject!r}")
    if severity not in SEVERITIES:
        raise FindingError(f"finding severity of {check} must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    if priority not in PRIORITIES:
        raise FindingError(f"finding priority of {check} must be one of {', '.join(PRIORITIES)}, got {priority!r}")
    return {"site": site, "host": host, "check": check, "subject": subject, "severity": severity,
            "priority": priority, "message": message, "value": value, "threshold": threshold,
            "first_seen": _time_text(first_seen, "first_seen"), "last_seen": _time_text(last_seen, "last_seen")}


def finding_key(finding: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """The identity of a problem from run to run: (site, host, check, subject)."""
    return (str(finding["site"]), str(finding["host"]), str(finding["check"]), str(finding.get("subject") or ""))


def worst(findings: Iterable[Mapping[str, Any]]) -> str:
    """ok, warning or critical: the worst severity of the findings."""
    severities = [f["severity"] for f in findings]
    return max(severities, key=SEVERITY_RANK.__getitem__) if severities else "ok"


def sort_findings(findings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Worst first: severity, then priority, then check and subject."""
    return sorted(findings, key=lambda f: (-SEVERITY_RANK[f["severity"]], -PRIORITY_RANK[f["priority"]],
                                           f["check"], f["subject"]))


class Judge:
    """Makes the findings of one host: site, host and role fixed, the
    priority from the rules and the site's overrides."""

    def __init__(self, site: Mapping[str, Any] | None, host: str, role: str | None) -> None:
        self.site_id = str((site or {}).get("id") or "?")
        self.host = host
        self.role = role
        self.overrides = site_priorities(site)

    def __call__(self, check: str, subject: str, severity: str, message: str, value: Any = None,
                 threshold: Any = None) -> dict[str, Any]:
        return make_finding(site=self.site_id, host=self.host, check=check, subject=subject, severity=severity,
                            priority=priority_for(check, severity, self.role, self.overrides), message=message,
                            value=value, threshold=threshold)


# -- the seam to the incident engine ----------------------------------------------------------------
ENGINE = "ansible.module_utils.praxis_incidents"
EMPTY_REPORT: dict[str, list[Any]] = {"opened": [], "updated": [], "escalated": [], "resolved": []}


def report(ledger_path: str | None, *, run: str, site: str, host: str, checks: Iterable[str],
           findings: list[dict[str, Any]], now: dt.datetime, check_mode: bool) -> dict[str, list[Any]]:
    """Hand the findings of the checks that ran for one host to the incident
    engine (``praxis_incidents.observe``), which opens, updates, escalates
    and resolves incidents. Without a ledger, or while the engine is not
    installed, nothing is recorded and the lists are empty."""
    observe = None
    if ledger_path:
        try:
            engine = importlib.import_module(ENGINE)
        except ModuleNotFoundError as exc:
            if exc.name != ENGINE:
                raise
            engine = None
        observe = getattr(engine, "observe", None)
    if observe is None:
        return {key: [] for key in EMPTY_REPORT}
    result = observe(ledger_path, run=run, site=site, host=host, checks=sorted(set(checks)), findings=findings,
                     now=now, check_mode=check_mode)
    return {key: list((result or {}).get(key) or []) for key in EMPTY_REPORT}
