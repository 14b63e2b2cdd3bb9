# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The network device operations, vendor-neutral (NET-01..NET-07).

Each function takes an open driver (``praxis_driver``) and returns a result
dict shaped for Ansible (``changed``, ``msg``, ``failed`` where it failed)
that never holds a secret. The action plugins and the modules in library/
are thin faces of these functions; so are the tests.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Callable, Mapping

from ansible.module_utils.praxis_errors import PraxisError
from ansible.module_utils.praxis_backup import (
    BackupError, LocalStore, SFTPStore, Store, facts_path, store_backup, write_json_atomic,
)
from ansible.module_utils.praxis_calendar import CalendarError, check_disruptive, parse_timestamp, refusal_message
from ansible.module_utils.praxis_driver import (
    CAPABILITY_NOUNS, ROLES, Driver, DriverError, ProtocolError, Target, Timeout, Unsupported, connection_error,
    open_driver, retry, vendor_record, vendors,
)
from ansible.module_utils.praxis_findings import SEVERITY_RANK, Judge, thresholds, worst
from ansible.module_utils.praxis_health import device_checks, evaluate, signature_findings, unreachable_finding
from ansible.module_utils import praxis_ledger

FAIL_ON = ("none", "warning", "critical")   # health at or above fail_on fails the host
FIRMWARE_BUDGET = 900.0   # seconds a device may take to come back after a firmware update


# Arguments every device operation takes (doc_fragments/praxis_device.py documents them).
DEVICE_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "device": {"type": "dict"},
    "site": {"type": "dict"},
    "credentials": {"type": "dict", "no_log": True},
    "timeout": {"type": "float", "default": 20.0},
    "retries": {"type": "int", "default": 3},
    "retry_delay": {"type": "float", "default": 1.0},
    "options": {"type": "dict", "default": {}},
    "ledger": {"type": "str"},
    "run": {"type": "str", "default": ""},
    "now": {"type": "str"},
    "identity": {"type": "str", "default": "strict", "choices": ["strict", "record"]},
}

# Arguments of device_facts beyond those (library/praxis_device_facts.py documents them).
FACTS_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "thresholds": {"type": "dict", "default": {}},
    "facts_dir": {"type": "path"},
    "fail_on": {"type": "str", "default": "critical", "choices": ["none", "warning", "critical"]},
}


class OperationError(PraxisError):
    """Bad input to an operation; the message names the field."""


def _now(value: Any = None) -> dt.datetime:
    """The operation's time: ``value`` (an ISO time with offset, e.g.
    ``praxis_now``) through the one parser, else the current time."""
    if value is None or value == "":
        return dt.datetime.now(dt.timezone.utc)
    try:
        return parse_timestamp(value, "now")
    except CalendarError as exc:
        raise OperationError(f"{exc} (praxis_now or the task's now)") from None


def _limits(limits: Mapping[str, Any] | None) -> dict[str, Any]:
    """The host's thresholds: the layered values the action resolved
    (praxis_findings.thresholds), checked again as one layer."""
    return thresholds(("thresholds", limits))


def _judge(target: Target, judge: Judge | None) -> Judge:
    return judge or Judge({"id": target.site}, target.host, target.role)


def build_target(device: Mapping[str, Any], site_id: str, credentials: Any, *,
                 connection: Mapping[str, Any] | None = None) -> Target:
    """A driver target from the inventory: ``praxis_device``, the site id,
    the vault variable's value ({username, password} or, for Linux, a user and
    key file) and connection options (timeout, retries, retry_delay,
    private_key_file, username, port, options, identity: the identity store)."""
    if not isinstance(device, Mapping):
        raise OperationError(f"device must be the praxis_device dict, got {type(device).__name__}")
    for key in ("name", "role", "vendor", "address"):
        if not device.get(key):
            raise OperationError(f"device.{key} is missing for site {site_id}")
    try:
        record = vendor_record(device["vendor"])
    except ValueError:
        raise OperationError(f"device.vendor {device['vendor']!r} of {site_id}-{device['name']} is not one of "
                             f"{', '.join(vendors())} (the vendors with a driver)") from None
    if device["role"] not in ROLES:
        raise OperationError(f"{site_id}-{device['name']} is a {device['role']}, not a network device")
    if device["role"] not in record.roles:
        raise OperationError(f"device.role of {site_id}-{device['name']}: {device['vendor']} drivers serve "
                             f"{', '.join(record.roles)}, not {device['role']}")
    conn = dict(connection or {})
    creds = credentials if isinstance(credentials, Mapping) else {}
    if credentials is not None and not isinstance(credentials, Mapping):
        raise OperationError(f"vault variable {device.get('credentials')} of {site_id}-{device['name']} must be a "
                             "mapping with username and password")
    username = str(creds.get("username") or conn.get("username") or "")
    password = str(creds.get("password") or "")
    key_file = creds.get("private_key_file") or conn.get("private_key_file")
    if not record.key_login and not (username and password):
        raise OperationError(f"vault variable {device.get('credentials')} of {site_id}-{device['name']} needs "
                             "username and password (for OPNsense: API key and secret)")
    port = device.get("port") or conn.get("port")
    pin = None
    if device.get("tls_fingerprint"):
        from ansible.module_utils.praxis_identity import normalize_pin

        try:
            pin = normalize_pin(device["tls_fingerprint"], "tls_fingerprint")
        except ValueError as exc:
            raise OperationError(f"{site_id}-{device['name']}: {exc}") from None
    return Target(site=site_id, name=str(device["name"]), vendor=device["vendor"], role=device["role"],
                  address=str(device["address"]), port=int(port) if port else None,
                  model=str(device.get("model") or ""), username=username or "root", password=password,
                  private_key_file=str(key_file) if key_file else None,
                  validate_certs=bool(device.get("validate_certs", True)), ca_path=device.get("ca_path"),
                  timeout=float(conn.get("timeout") or 20), retries=int(conn.get("retries") or 3),
                  retry_delay=float(conn.get("retry_delay") if conn.get("retry_delay") is not None else 1.0),
                  options={**dict(device.get("options") or {}), **dict(conn.get("options") or {})},
                  tls_fingerprint=pin, identity=conn.get("identity"))


def not_offered(target: Target, driver: Driver, capability: str) -> dict[str, Any] | None:
    """The skipped result of an operation whose capability the driver does
    not offer (its declared reason), or None when it is offered. Skipped is
    neither ok nor failed: the run summary lists it with the reason."""
    if driver.offers(capability):
        return None
    return _skipped(target, capability, driver.not_offered[capability])


def _skipped(target: Target, capability: str, reason: str) -> dict[str, Any]:
    noun = CAPABILITY_NOUNS[capability]
    return {"changed": False, "skipped": True, "findings": [], "checks": [],
            "not_offered": {"capability": capability, "reason": reason},
            "msg": f"{target.host}: {noun} is not offered by {target.vendor} {target.role}s: {reason}"}


def _unsupported_skip(target: Target, exc: Unsupported, capability: str) -> dict[str, Any]:
    """A driver method that raised Unsupported (a capability it does not
    offer for this device): skipped with the driver's message as reason."""
    reason = str(exc).removeprefix(f"{target.label}: ")
    return dict(_skipped(target, capability, reason), msg=target.scrub(str(exc)))


def _recorded_skip(ledger: str | None, target: Target, kind: str, result: dict[str, Any], moment: Any,
                   run: str) -> dict[str, Any]:
    """Record a not-offered result in the ledger as ``kind`` with status
    skipped and ``data.not_offered`` ({capability, reason}), so the month's
    report tells "not automatable through this vendor's API" from "no data"."""
    _ledger(ledger, target, kind, "skipped", result["msg"], {"not_offered": result["not_offered"]}, moment, run)
    return result


def failure(target: Target, exc: Exception, what: str) -> dict[str, Any]:
    """A failed result naming the device; DriverError messages already do."""
    message = str(exc) if isinstance(exc, DriverError) else f"{target.label}: {what} failed: {exc}"
    return {"failed": True, "changed": False, "msg": target.scrub(message),
            "error_kind": getattr(exc, "kind", "error")}


def _ledger(path: str | None, target: Target, kind: str, status: str, summary: str,
            data: dict[str, Any], at: dt.datetime, run: str = "") -> None:
    """One ledger row. Callers pass ``path=None`` in check mode: a dry run records nothing."""
    if path:
        praxis_ledger.record(path, site=target.site, host=target.host, kind=kind, status=status,
                             summary=summary, data=data, run=run, at=at)


def pending_firmware(ledger: str, host: str) -> dict[str, Any] | None:
    """The firmware update of ``host`` recorded as pending and not settled yet:
    failed, refused or skipped attempts after it leave it pending; an update
    or a "current" check after it, or a row that settled it, end it."""
    for row in praxis_ledger.recent(ledger, host=host, kind="firmware"):
        if row["status"] == "pending":
            return row
        if row["status"] in ("changed", "ok") or row["data"].get("settles"):
            return None
    return None


def settle_pending_firmware(ledger: str | None, target: Target, version: Any, moment: dt.datetime,
                            run: str = "") -> dict[str, Any] | None:
    """A firmware update recorded as pending (its reboot did not come back
    within the budget) is settled by the first later run that sees the
    device: running the target version, it is recorded as updated, with the
    time it was noticed; running another version, as failed. Returns what
    was recorded (``status``, ``msg``, ...), or None when nothing was pending."""
    if not ledger or not version:
        return None
    last = pending_firmware(ledger, target.host)
    if last is None:
        return None
    pending = last["data"]
    wanted, previous = pending.get("to"), pending.get("from")
    noticed = moment.isoformat(timespec="seconds")
    data = {"settles": True, "from": previous, "to": wanted, "started_at": last["at"], "noticed_at": noticed,
            "started_run": last["run"], "after_budget": True, "running": str(version)}
    if not _version_differs({"firmware_version": version}, str(wanted)):
        message = (f"{target.host}: firmware {previous} -> {wanted}: the update started {last['at']} completed "
                   f"after its reboot budget; noticed {noticed}")
        _ledger(ledger, target, "firmware", "changed", message, data, moment, run)
        return dict(data, status="updated", msg=message)
    message = (f"{target.host}: the firmware update to {wanted} started {last['at']} did not take: the device "
               f"runs {version} (noticed {noticed})")
    _ledger(ledger, target, "firmware", "failed", message, data, moment, run)
    return dict(data, status="failed", msg=message)


# -- NET-06: facts and health ------------------------------------------------------------------

def device_facts(target: Target, *, limits: Mapping[str, Any] | None = None, judge: Judge | None = None,
                 now: Any = None, facts_dir: str | None = None, ledger: str | None = None, run: str = "",
                 fail_on: str = "critical", check_mode: bool = False,
                 opener: Callable[[Target], Driver] = open_driver) -> dict[str, Any]:
    """Gather facts and decide health. ``limits``: the host's thresholds
    (praxis_findings.thresholds), ``judge``: the host's priorities
    (praxis_findings.Judge). An unreachable device fails the host with a
    finding (priority high for a firewall); so does a device whose health is
    ``fail_on`` (warning or critical) or worse, unless it is none. A firmware
    update left pending by an earlier run is settled here
    (``settle_pending_firmware``). The result lists the ``checks`` that ran
    and their ``findings``. The facts go to ``<facts_dir>/<site>/<host>.json``.
    Check mode writes neither the facts file nor the ledger."""
    if check_mode:
        ledger = facts_dir = None
    if fail_on not in FAIL_ON:
        return {"failed": True, "changed": False,
                "msg": f"fail_on must be one of {', '.join(FAIL_ON)}, got {fail_on!r}"}
    moment = _now(now)
    limit_values = _limits(limits)
    judge = _judge(target, judge)
    started = time.monotonic()
    try:
        with opener(target) as driver:
            facts = driver.facts()
            has_signatures = driver.offers("signatures")
    except DriverError as exc:
        result = failure(target, exc, "facts")
        result["findings"] = [unreachable_finding(judge, result["msg"])]
        result["checks"] = ["net.reachability"]
        result["health"] = "critical"
        _ledger(ledger, target, "health", "critical", result["msg"], {"findings": result["findings"]}, moment, run)
        return result
    findings = evaluate(facts, judge, limit_values, moment, has_signatures)
    checks = device_checks(has_signatures)
    facts = dict(facts, checked_at=moment.isoformat(timespec="seconds"), vendor=target.vendor,
                 role=target.role, address=target.address, reachable=True)
    path = facts_path(facts_dir, target.site, target.host) if facts_dir else None
    settled = settle_pending_firmware(ledger, target, facts.get("firmware_version"), moment, run)
    if ledger:
        checks.append("firmware.pending")
    if settled and settled["status"] == "failed":
        findings.append(judge("firmware.pending", "", "warning", settled["msg"], settled["running"],
                              settled["to"]))
    health = worst(findings)
    summary = "healthy" if not findings else "; ".join(f["message"] for f in findings)
    _ledger(ledger, target, "health", health, summary, {"facts": facts, "findings": findings}, moment, run)
    if path:   # after the ledger row: a ledger that cannot be written leaves the previous facts file
        write_json_atomic(path, facts)
    result = {"changed": False, "facts": facts, "findings": findings, "checks": checks, "health": health,
              "path": path, "seconds": round(time.monotonic() - started, 3), "msg": f"{target.host}: {summary}"}
    if settled:
        result["firmware_update"] = settled
        if settled["status"] != "failed":
            result["msg"] += f"; {settled['msg']}"
    if fail_on != "none" and SEVERITY_RANK[health] >= SEVERITY_RANK[fail_on]:
        result["failed"] = True
        result["msg"] = f"{target.host}: health {health}: {summary}"
    return result


# -- NET-02 / NET-07: configuration backups ------------------------------------------------------

def store_target(spec: Mapping[str, Any], identity: Any = None) -> Target:
    """The SFTP backup server as a target of the identity check (host ``sftp-<host>``)."""
    port = int(spec.get("port") or 22)
    return Target(site="sftp", name=str(spec["host"]) if port == 22 else f"{spec['host']}:{port}", vendor="linux",
                  role="nas", address=str(spec["host"]), port=port, username=str(spec.get("username") or ""),
                  timeout=30.0, identity=identity)


def open_store(spec: Mapping[str, Any], identity: Any = None) -> Store:
    """The backup store: ``{"type": "local", "path": ...}`` or ``{"type": "sftp",
    "host", "port", "username", "private_key_file", "path", "known_hosts"}``.
    The server's host key is checked before the key authentication: against
    ``known_hosts`` when given, else against the identity store ``identity``
    (recorded at the onboarding or with playbooks/device_identity.yml)."""
    kind = spec.get("type", "local")
    if kind == "local":
        if not spec.get("path"):
            raise OperationError("config_backup_store.path is required for a local store")
        return LocalStore(str(spec["path"]))
    if kind == "sftp":
        for key in ("host", "path", "username"):
            if not spec.get(key):
                raise OperationError(f"config_backup_store.{key} is required for an SFTP store")
        if spec.get("host_key_checking") is False:
            raise OperationError("config_backup_store.host_key_checking: false is not supported: the backup server "
                                 "would get the login whoever answers; record its key once with "
                                 "playbooks/device_identity.yml or give known_hosts")
        import paramiko  # controller only

        from ansible.module_utils.praxis_identity import ssh_client

        target = store_target(spec, identity)
        client = ssh_client(target, str(spec["known_hosts"]) if spec.get("known_hosts") else None)
        try:
            client.connect(str(spec["host"]), port=int(spec.get("port") or 22), username=str(spec["username"]),
                           key_filename=spec.get("private_key_file"), timeout=30, allow_agent=False,
                           look_for_keys=not spec.get("private_key_file"))
            sftp = client.open_sftp()
        except (paramiko.SSHException, OSError, EOFError, DriverError) as exc:
            client.close()
            error = connection_error(target, exc, "opening the backup store", "SSH")
            raise BackupError(f"backup store sftp://{spec['host']}: {error}") from None
        return SFTPStore(sftp, str(spec["path"]), label=f"sftp://{spec['username']}@{spec['host']}", ssh=client)
    raise OperationError(f"config_backup_store.type must be local or sftp, got {kind!r}")


def backup_finding(judge: Judge, history: str | None, host: str, message: str, limits: Mapping[str, Any],
                   moment: dt.datetime) -> dict[str, Any]:
    """backup.config for a failed backup: critical when the last good copy
    (in the ledger ``history``) is older than ``backup_max_age_days`` or
    there is none, else a warning."""
    limit = limits["backup_max_age_days"]
    last = None
    if history:
        last = next((row for row in praxis_ledger.recent(history, host=host, kind="backup", limit=200)
                     if row["status"] in ("ok", "changed")), None)
    if last is None:
        age = None
        detail = "no good backup is recorded"
    else:
        age = (moment - parse_timestamp(last["at"], "ledger time")).total_seconds() / 86400
        detail = f"the last good backup is {age:.0f} days old (from {last['at'][:10]})"
    severity = "critical" if age is None or age > limit else "warning"
    return judge("backup.config", "", severity, f"{message}; {detail}", None if age is None else round(age, 1),
                 limit)


def config_backup(target: Target, store: Store, cipher: Any, *, keep: int = 3, check_mode: bool = False,
                  now: Any = None, ledger: str | None = None, run: str = "", limits: Mapping[str, Any] | None = None,
                  judge: Judge | None = None, history: str | None = None,
                  driver: Driver | None = None, opener: Callable[[Target], Driver] = open_driver) -> dict[str, Any]:
    """Export, verify and store one device's configuration; keep ``keep`` copies.
    A device whose vendor offers no export is skipped (not failed, no check
    ran). A failed backup is a ``backup.config`` finding (``backup_finding``;
    ``history``: the ledger to read the last good backup from, also in
    check mode). Check mode records nothing."""
    moment = _now(now)
    limit_values = _limits(limits)
    judge = _judge(target, judge)
    history = history or ledger
    if check_mode:
        ledger = None
    own = driver is None
    failed: dict[str, Any] | None = None
    try:
        drv = driver or opener(target)
        try:
            skipped = not_offered(target, drv, "config_export")
            if skipped is not None:
                return _recorded_skip(ledger, target, "backup", skipped, moment, run)
            content = drv.export_config()
            result = store_backup(store, cipher, target.site, target.name, content, keep=keep,
                                  suffix=drv.config_suffix, validate=drv.validate_config,
                                  secret_patterns=drv.secret_patterns, check_mode=check_mode, now=moment)
        finally:
            if own:
                drv.close()
    except Unsupported as exc:
        return _recorded_skip(ledger, target, "backup", _unsupported_skip(target, exc, "config_export"), moment, run)
    except BackupError as exc:
        message = f"{target.label}: {exc}; the stored copies were not touched"
        failed = {"failed": True, "changed": False, "msg": target.scrub(message), "error_kind": "backup"}
    except DriverError as exc:
        failed = failure(target, exc, "configuration export")
    if failed is not None:
        finding = backup_finding(judge, history, target.host, failed["msg"], limit_values, moment)
        _ledger(ledger, target, "backup", "failed", failed["msg"], {"findings": [finding]}, moment, run)
        return dict(failed, findings=[finding], checks=["backup.config"])
    if not check_mode:
        data = {k: result.get(k) for k in ("path", "sha256", "size", "kept", "removed", "store")}
        _ledger(ledger, target, "backup", "changed" if result["changed"] else "ok", result["msg"], data, moment, run)
    return dict(result, findings=[], checks=["backup.config"])


# -- NET-03: signatures ----------------------------------------------------------------------------

def signature_update(target: Target, *, check_mode: bool = False, now: Any = None, ledger: str | None = None,
                     run: str = "", limits: Mapping[str, Any] | None = None, judge: Judge | None = None,
                     opener: Callable[[Target], Driver] = open_driver) -> dict[str, Any]:
    """Download the security signatures; a failed download is a
    ``net.signature_update`` finding, signatures older than
    ``signature_max_age_days`` afterwards a ``net.signature_age`` one.
    Check mode records nothing."""
    moment = _now(now)
    limit_values = _limits(limits)
    judge = _judge(target, judge)
    if check_mode:
        ledger = None
    try:
        with opener(target) as driver:
            skipped = not_offered(target, driver, "signatures")
            if skipped is not None:
                return _recorded_skip(ledger, target, "signatures", skipped, moment, run)
            if check_mode:
                facts = driver.facts()
                date = facts.get("signature_date")
                return {"changed": True, "signature_date": date, "checks": ["net.signature_age"],
                        "findings": signature_findings(judge, date, limit_values, moment),
                        "msg": f"{target.host}: would download signatures (now from {date or 'unknown'})"}
            outcome = driver.update_signatures()
    except Unsupported as exc:
        return _recorded_skip(ledger, target, "signatures", _unsupported_skip(target, exc, "signatures"), moment,
                              run)
    except DriverError as exc:
        result = failure(target, exc, "signature update")
        finding = judge("net.signature_update", "", "warning", result["msg"])
        _ledger(ledger, target, "signatures", "failed", result["msg"], {"findings": [finding]}, moment, run)
        return dict(result, findings=[finding], checks=["net.signature_update"])
    date = outcome.get("signature_date")
    findings = signature_findings(judge, date, limit_values, moment)
    message = f"{target.host}: signatures from {date or 'unknown date'}" + (" (updated)" if outcome["changed"] else "")
    _ledger(ledger, target, "signatures", "changed" if outcome["changed"] else "ok", message,
            {"signature_date": date, "findings": findings}, moment, run)
    return {"changed": bool(outcome["changed"]), "signature_date": date, "msg": message, "findings": findings,
            "checks": ["net.signature_update", "net.signature_age"]}


# -- NET-01: settings ---------------------------------------------------------------------------------

def device_settings(target: Target, settings: Mapping[str, Any], *, check_mode: bool = False, now: Any = None,
                    ledger: str | None = None, run: str = "",
                    opener: Callable[[Target], Driver] = open_driver) -> dict[str, Any]:
    """Make a settings fragment true. Keys the vendor cannot do for this role
    are reported in ``unsupported``, not silently dropped. Check mode records nothing."""
    moment = _now(now)
    if check_mode:
        ledger = None
    if not isinstance(settings, Mapping):
        raise OperationError(f"settings must be a mapping, got {type(settings).__name__}")
    try:
        with opener(target) as driver:
            skipped = not_offered(target, driver, "settings")
            if skipped is not None:
                return _recorded_skip(ledger, target, "settings", skipped, moment, run)
            supported = type(driver).settings_supported.get(target.role, ())
            wanted = {k: v for k, v in settings.items() if v is not None and k in supported}
            unsupported = sorted(k for k, v in settings.items() if v is not None and k not in supported)
            if not wanted:
                return {"changed": False, "skipped": True, "unsupported": unsupported,
                        "msg": f"{target.host}: nothing to set ({target.vendor} {target.role})"}
            outcome = driver.apply_settings(wanted, check_mode)
    except DriverError as exc:
        result = failure(target, exc, "settings")
        _ledger(ledger, target, "settings", "failed", result["msg"], {}, moment, run)
        return result
    changed = bool(outcome.get("changed"))
    keys = ", ".join(sorted(wanted))
    message = f"{target.host}: {keys} " + (("would change" if check_mode else "changed") if changed else "unchanged")
    if changed and not check_mode:
        _ledger(ledger, target, "settings", "changed", message, {"after": outcome.get("after")}, moment, run)
    return {"changed": changed, "msg": message, "unsupported": unsupported,
            "diff": {"before": outcome.get("before", {}), "after": outcome.get("after", {})}}


# -- NET-04 / NET-07: firmware ---------------------------------------------------------------------

def _version_differs(facts: Mapping[str, Any], wanted: str) -> bool:
    return str(facts.get("firmware_version") or "").split(" ", maxsplit=1)[0] != str(wanted).split(" ", maxsplit=1)[0]


def _available_findings(judge: Judge, history: str | None, host: str, available: Any,
                        limits: Mapping[str, Any], moment: dt.datetime) -> list[dict[str, Any]]:
    """firmware.available: the update ``available`` was first recorded in the
    ledger longer than ``firmware_available_max_days`` ago."""
    if not history:
        return []
    rows = [row for row in praxis_ledger.recent(history, host=host, kind="firmware", limit=500)
            if str(row["data"].get("available") or "") == str(available)]
    if not rows:
        return []
    first = rows[-1]["at"]
    days = (moment - parse_timestamp(first, "ledger time")).total_seconds() / 86400
    limit = limits["firmware_available_max_days"]
    if days <= limit:
        return []
    return [judge("firmware.available", "", "warning",
                  f"{host}: firmware {available} is available since {first[:10]} ({days:.0f} days, limit {limit:g}) "
                  "and not installed", round(days, 1), limit)]


def firmware_update(target: Target, site: Mapping[str, Any], *, now: Any = None, force_reason: str | None = None,
                    budget: float = FIRMWARE_BUDGET, poll: float = 5.0, check_mode: bool = False,
                    backup: Callable[[Driver], dict[str, Any]] | None = None, limits: Mapping[str, Any] | None = None,
                    ledger: str | None = None, run: str = "", judge: Judge | None = None,
                    history: str | None = None,
                    opener: Callable[[Target], Driver] = open_driver) -> dict[str, Any]:
    """Guarded firmware update: maintenance time (checked here, by the
    service calendar), configuration backup first, update, wait for the
    reboot within ``budget`` seconds, verify version and health, back up the
    configuration as the new firmware wrote it. A reboot that does not come
    back within the budget fails the host and records the update as pending;
    the next run that sees the device settles it (``settle_pending_firmware``).
    Findings: ``firmware.pending`` for such an update (or one that did not
    take), ``firmware.available`` (low) for an update that is available but
    not installed for longer than ``firmware_available_max_days`` (first
    seen in the ledger ``history``). Check mode records nothing."""
    moment = _now(now)
    limit_values = _limits(limits)
    judge = _judge(target, judge)
    history = history or ledger
    if check_mode:
        ledger = None
    try:
        guard = check_disruptive(site, moment, force_reason)
    except CalendarError as exc:
        return {"failed": True, "changed": False, "msg": f"{target.host}: {exc}"}
    started = time.monotonic()
    available = None
    try:
        with opener(target) as driver:
            skipped = not_offered(target, driver, "firmware")
            if skipped is not None:
                return _recorded_skip(ledger, target, "firmware", skipped, moment, run)
            status = driver.firmware_status()
            installed, available = status.get("installed"), status.get("available")
            base: dict[str, Any] = {"installed": installed, "available": available, "guard": guard,
                                    "checks": ["firmware.available", "firmware.pending"], "findings": []}
            settled = settle_pending_firmware(ledger, target, installed, moment, run)
            if settled:
                base["firmware_update"] = settled
                if settled["status"] == "failed":
                    base["findings"].append(judge("firmware.pending", "", "warning", settled["msg"],
                                                  settled["running"], settled["to"]))
            if available:
                base["findings"] += _available_findings(judge, history, target.host, available, limit_values,
                                                        moment)
            if not available:
                message = f"{target.host}: firmware {installed} is current"
                _ledger(ledger, target, "firmware", "ok", message, {"installed": installed}, moment, run)
                if settled:
                    message += f"; {settled['msg']}"
                return dict(base, changed=False, msg=message)
            action = f"firmware update of {target.host} from {installed} to {available}"
            if not guard["allowed"]:
                message = refusal_message(guard, action)
                if check_mode:
                    return dict(base, changed=False, refused=True, msg=f"{message} (check mode)")
                _ledger(ledger, target, "firmware", "refused", message, {"installed": installed,
                                                                         "available": available,
                                                                         "findings": base["findings"]}, moment, run)
                return dict(base, failed=True, changed=False, refused=True, msg=message)
            if check_mode:
                return dict(base, changed=True, msg=f"would run the {action}, back up the configuration first and "
                                                    f"wait up to {budget:g} s for the reboot")
            backup_result = backup(driver) if backup else None
            if backup_result and backup_result.get("failed"):
                message = f"{action} not started: the backup before it failed: {backup_result['msg']}"
                _ledger(ledger, target, "firmware", "failed", message, {"available": available}, moment, run)
                return dict(base, failed=True, changed=False, msg=message, backup=backup_result)
            driver.start_firmware_update()
            try:
                facts = driver.wait_until_back(budget, poll=poll)
            except Timeout as exc:
                result = failure(target, exc, "firmware update")
                result["msg"] += (f"; recorded as pending: the next run that reaches the device records the "
                                  f"update to {available} when the device runs it")
                pending = judge("firmware.pending", "", "warning", result["msg"], installed, available)
                _ledger(ledger, target, "firmware", "pending", result["msg"],
                        {"from": installed, "to": available, "budget": budget, "available": available,
                         "backup": (backup_result or {}).get("path"), "findings": [pending]}, moment, run)
                return dict(result, pending=True, checks=base["checks"], findings=[pending])
            if _version_differs(facts, available):
                raise ProtocolError(target, f"came back with firmware {facts.get('firmware_version')}, "
                                            f"expected {available}")
            backup_after = backup(driver) if backup else None
    except DriverError as exc:
        result = failure(target, exc, "firmware update")
        if isinstance(exc, Unsupported):
            return _recorded_skip(ledger, target, "firmware", _unsupported_skip(target, exc, "firmware"), moment,
                                  run)
        _ledger(ledger, target, "firmware", "failed", result["msg"], {"available": available} if available else {},
                moment, run)
        return dict(result, checks=[], findings=[])
    findings = evaluate(facts, judge, limit_values, _now(), False)
    seconds = round(time.monotonic() - started, 1)
    message = f"{target.host}: firmware {installed} -> {available} in {seconds:g} s; health {worst(findings)}"
    if guard["forced"]:
        message += f" (forced outside maintenance time: {guard['force_reason']})"
    if backup_after and backup_after.get("failed"):
        message += f"; the backup after the update failed: {backup_after['msg']}"
    data = {"from": installed, "to": available, "seconds": seconds, "findings": findings,
            "forced": guard["forced"], "force_reason": guard["force_reason"],
            "backup": (backup_result or {}).get("path"), "backup_after": (backup_after or {}).get("path")}
    _ledger(ledger, target, "firmware", "changed", message, data, moment, run)
    return {"changed": True, "installed": available, "previous": installed, "seconds": seconds,
            "findings": findings, "checks": [*base["checks"], *device_checks(False)], "backup": backup_result,
            "backup_after": backup_after, "guard": guard, "msg": message}


# -- device identity (docs/device-identity.md) -----------------------------------------------------

IDENTITY_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "accept": {"type": "bool", "default": False},
    "reason": {"type": "str"},
    "backup_store": {"type": "dict"},
}


def identity_kinds(target: Target) -> list[str]:
    """What proves the device's identity: its SSH host key (LCOS, LCOS SX,
    Linux), the certificate of an HTTPS device whose validation is off."""
    if vendor_record(target.vendor).protocol == "ssh":
        return ["ssh"]
    if not target.validate_certs or target.tls_fingerprint:
        return ["tls"]
    return []


def device_identity(target: Target, store: Any, *, backup_store: Mapping[str, Any] | None = None,
                    prober: Callable[[Target, str], tuple[str, str]] | None = None) -> dict[str, Any]:
    """Read what the device presents (no login) and check it against the store,
    which records it when new and replaces it when ``store.accept`` is set.
    The result lists each identity with its fingerprint for the technician."""
    from ansible.module_utils.praxis_identity import check_tls_fingerprint, probe

    prober = prober or probe
    checks: list[tuple[Target, str]] = [(target, kind) for kind in identity_kinds(target)]
    if backup_store and backup_store.get("type") == "sftp" and not backup_store.get("known_hosts") \
            and backup_store.get("host"):
        checks.append((store_target(backup_store, store), "ssh"))
    if not checks:
        return {"changed": False, "skipped": True, "identities": [],
                "msg": f"{target.host}: the certificate is validated against the CA (ca_path); nothing to pin"}
    identities, lines = [], []
    try:
        for who, kind in checks:
            who.identity = store
            algorithm, fp = retry(who, f"reading the {kind} identity", lambda w=who, k=kind: _probe(w, k, prober))
            if kind == "tls" and who.tls_fingerprint:
                check_tls_fingerprint(who, fp)
                status = "pinned in the site file"
            else:
                status = store.check(who, kind, algorithm, fp)
            identities.append({"host": who.host, "kind": kind, "algorithm": algorithm, "fingerprint": fp,
                               "status": status})
            lines.append(f"{who.host} {'SSH host key' if kind == 'ssh' else 'TLS certificate'} {algorithm} "
                         f"{fp}: {status}")
    except DriverError as exc:
        result = failure(target, exc, "device identity")
        result["identities"] = identities
        return result
    changed = any(i["status"] in ("recorded", "accepted", "would record", "would accept") for i in identities)
    return {"changed": changed, "identities": identities, "msg": "; ".join(lines)}


def _probe(target: Target, kind: str, prober: Callable[[Target, str], tuple[str, str]]) -> tuple[str, str]:
    try:
        return prober(target, kind)
    except DriverError:
        raise
    except Exception as exc:  # noqa: BLE001 - socket, TLS and SSH library errors, classified
        raise connection_error(target, exc, f"reading the {kind} identity", "SSH" if kind == "ssh" else "TLS") \
            from None
