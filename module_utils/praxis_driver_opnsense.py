# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""OPNsense driver: the REST API with an API key (user name) and secret
(password) as HTTP Basic authentication, JSON over one kept-alive HTTPS
connection (``praxis_driver.HTTPClient``).

The requests each operation sends, and the opnsense/core sources they follow
(paths below ``src/opnsense/``; controllers below
``mvc/app/controllers/OPNsense/``):

``facts()``: six GET requests, no writes
    * ``/api/diagnostics/system/systemInformation``: ``name`` (host name and
      domain) and ``versions[0]`` (``"<product> <version>-<arch>"``, from
      ``configd firmware product``); ``Diagnostics/Api/SystemController.php``.
    * ``/api/diagnostics/system/systemTime``: ``uptime``, formatted by
      ``SystemController::formatUptime()`` (``"[<d> day(s), ]HH:MM:SS"``).
    * ``/api/diagnostics/system/systemResources``: ``memory.used`` / ``memory.total``
      (``used`` is the text "N/A" when the sysctls are missing).
    * ``/api/diagnostics/system/systemTemperature``: a list of sensors with
      ``temperature`` in °C as text; the highest is reported.
    * ``/api/diagnostics/system/systemDisk``: ``devices[]`` with ``used_pct`` per
      mounted ufs/zfs/tmpfs file system; reported as ``volumes``.
    * ``/api/ids/settings/listRulesets``: rows of the installable rule files with
      ``enabled`` and ``modified_local`` (``date('Y/m/d G:i')`` of the download);
      the newest date of an enabled file is ``signature_date``
      (``IDS/Api/SettingsController.php``).
    The REST API reports CPU load only as a server-sent event stream
    (``/api/diagnostics/cpu_usage/stream``), so ``cpu_percent`` stays None;
    serial number and disks are not reported either.

``export_config()``
    GET ``/api/core/backup/download/this``: the newest ``/conf/backup`` copy of
    ``config.xml`` (``Core/Api/BackupController.php``, ``downloadAction``).

``firmware_status()``
    POST ``/api/core/firmware/check`` starts the background check, GET
    ``/api/core/firmware/upgradestatus`` is polled until its log ends in
    ``***DONE***``, then GET ``/api/core/firmware/status`` reads the result:
    ``status`` ``update`` (packages, ``all_packages``; applied with POST
    ``update``), ``upgrade`` (a major release, ``all_sets`` and
    ``upgrade_major_version``; applied with POST ``upgrade``), ``none`` or
    ``error`` (``Core/Api/FirmwareController.php``, ``statusAction``; the firmware
    page ``views/OPNsense/Core/firmware.volt`` runs the same sequence).

``start_firmware_update()`` / ``wait_until_back()``
    POST ``/api/core/firmware/update`` or ``upgrade`` (answers ``status: ok``
    and a ``msg_uuid``), then GET ``upgradestatus`` until ``done``, ``error``
    (the update failed, the log says why) or the box went down for its reboot
    and answers again; ``upgradestatusAction`` decides by the ``***DONE***`` and
    ``***REBOOT***`` markers of the progress log.

``update_signatures()``
    GET ``listRulesets``, POST ``/api/ids/service/updateRules`` (without the
    ``wait`` parameter it waits for ``configd ids update`` to finish;
    ``IDS/Api/ServiceController.php``, ``updateRulesAction``), GET ``listRulesets``.

``apply_settings()``
    firewall rules: POST ``/api/firewall/filter/searchRule``, then only when
    something differs: POST ``savepoint`` (a config revision to return to),
    ``addRule`` / ``setRule/<uuid>`` / ``delRule/<uuid>``, ``apply/<revision>``
    (reloads the filter and starts ``scripts/filter/rollback_timer.php``, which
    restores the rules of the savepoint after 60 s) and ``cancelRollback/<revision>``
    (``rollback_cancel.php``, which prints nothing when it stopped the timer and
    fails when there was none: blank text means confirmed, an empty or other
    status is an error). If the firewall cannot be reached after
    ``apply`` (the new rules locked the controller out), the timer rolls the
    rules back by itself. A write the firewall refuses is undone with POST
    ``revert/<revision>`` before anything is applied. Sources:
    ``Firewall/Api/FilterController.php`` and ``FilterBaseController.php`` of the
    24.x/25.x releases (the main branch has dropped savepoint and rollback; on
    such a firewall this driver refuses to change rules), ``Base/ApiMutableModelControllerBase.php``
    (``addBase``, ``setBase``, ``delBase``: ``result`` ``saved``/``deleted`` or
    ``failed`` with ``validations``), ``mvc/app/models/OPNsense/Firewall/Filter.xml``.
    syslog destinations: POST ``/api/syslog/settings/searchDestinations``,
    ``addDestination`` / ``setDestination/<uuid>`` / ``delDestination/<uuid>``,
    POST ``/api/syslog/service/reconfigure`` (``Syslog/Api/SettingsController.php``,
    ``ServiceController.php``, ``mvc/app/models/OPNsense/Syslog/Syslog.xml``).

Items this driver manages carry the description prefix ``praxisops: ``; other
rules and destinations are never changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
import time
import xml.etree.ElementTree as ET
from typing import Any, Callable, ClassVar

from ansible.module_utils.praxis_driver import (
    Driver, DriverError, HTTPClient, ProtocolError, ServerError, Target, Timeout, Unreachable,
    MANAGED_PREFIX, managed_name, settings_list, syslog_server,
)

LONG_TIMEOUT = 300.0          # seconds for requests that wait for a backend job (IDS rule download)
CHECK_BUDGET_FACTOR = 6       # the firmware check may take target.timeout * this (at least 60 s)
ROLLBACK_SECONDS = 60         # scripts/filter/rollback_timer.php

# Firewall rule fields a settings fragment sets (mvc/app/models/OPNsense/Firewall/Filter.xml) and the
# values OPNsense gives a new rule when the fragment leaves them out.
RULE_KEYS = ("action", "interface", "direction", "ipprotocol", "protocol", "source_net", "destination_net",
             "destination_port", "sequence", "log")
RULE_DEFAULTS = {"action": "pass", "interface": "", "direction": "in", "ipprotocol": "inet", "protocol": "any",
                 "source_net": "any", "destination_net": "any", "destination_port": "", "log": "0"}

# config.xml elements whose text is a secret: password hashes (system/user/password, also service
# passwords), API key pairs (system/user/apikeys/item/key, secret), private keys of certificates and
# CAs (cert/prv, ca/prv), IPsec pre-shared keys, WireGuard keys, OpenVPN static keys (tls, shared_key),
# OTP seeds, LDAP bind and RADIUS secrets, SNMP communities.
_SECRET_TAGS = ("password", "passwd", "secret", "key", "prv", "pre-shared-key", "presharedkey", "psk",
                "privkey", "privatekey", "shared_key", "tls", "otp_seed", "ldap_bindpw", "radius_secret",
                "rocommunity", "auth_pass")


def _tag_pattern(tag: str) -> re.Pattern[str]:
    # the whole match is the secret, so praxis_backup.mask_secrets replaces nothing else
    return re.compile(rf"(?<=<{re.escape(tag)}>)(?P<secret>(?:<!\[CDATA\[.*?\]\]>|[^<]+))(?=</{re.escape(tag)}>)",
                      re.IGNORECASE | re.DOTALL)


SECRET_PATTERNS: list[re.Pattern[str]] = [_tag_pattern(tag) for tag in _SECRET_TAGS] + [
    # crypt(3) hashes wherever they appear: bcrypt ($2y$, as OPNsense stores user passwords),
    # SHA-512 / SHA-256 / MD5 crypt ($6$, $5$, $1$; API secrets are stored as $6$)
    re.compile(r"(?P<secret>\$2[abxy]\$\d\d\$[./A-Za-z0-9]{53})"),
    re.compile(r"(?P<secret>\$[156]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{22,86})"),
    # PEM private keys pasted as text
    re.compile(r"(?P<secret>-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----)", re.DOTALL),
]

_UPTIME = re.compile(r"^\s*(?:(?P<days>\d+)\s+days?,\s*)?(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d)\s*$")
_VERSION = re.compile(r"^(?P<name>.+?)\s+(?P<version>\S+?)(?:-(?P<arch>amd64|aarch64|arm64|armv[67]|i386))?$")
_RULESET_STAMP = re.compile(r"^\s*(\d{4})/(\d{1,2})/(\d{1,2})\s+(\d{1,2}):(\d{2})")


def managed_items(rows: list[dict[str, Any]], values: Callable[[dict[str, Any]], dict[str, str]]
                  ) -> tuple[dict[str, tuple[str, dict[str, str]]], list[str]]:
    """The items praxisops manages among the rows of a search answer, by name
    (description without MANAGED_PREFIX): ``{name: (uuid, values)}``, and the
    uuids of further rows with a name already seen (to be deleted)."""
    current: dict[str, tuple[str, dict[str, str]]] = {}
    duplicates: list[str] = []
    for row in rows:
        description = str(row.get("description") or "")
        if not description.startswith(MANAGED_PREFIX) or not row.get("uuid"):
            continue
        name = description[len(MANAGED_PREFIX):]
        if name in current:
            duplicates.append(str(row["uuid"]))
        else:
            current[name] = (str(row["uuid"]), values(row))
    return current, duplicates


class OPNsenseDriver(Driver):
    vendor = "opnsense"
    title = "OPNsense"
    roles = ("firewall",)
    protocol = "https"
    default_port = 443
    not_offered: ClassVar[dict[str, str]] = {}
    options: ClassVar[dict[str, str]] = {}
    config_suffix = ".xml"
    secret_patterns = SECRET_PATTERNS
    settings_supported = {"firewall": ("rules", "syslog")}

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.http = HTTPClient(target, default_port=self.default_port, basic_auth=True)
        self._long: HTTPClient | None = None
        # pauses while a firmware job runs; tests make them short
        self.poll_interval = 2.0
        self.clock: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], None] = time.sleep
        self._pending: dict[str, Any] | None = None      # the update firmware_status() found
        self._started: dict[str, Any] | None = None      # the update start_firmware_update() began

    def close(self) -> None:
        self.http.close()
        if self._long is not None:
            self._long.close()

    # -- HTTP helpers -----------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Any = None, *, client: HTTPClient | None = None) -> Any:
        return (client or self.http).json(method, path, json_body=body)

    def _object(self, method: str, path: str, body: Any = None, *, client: HTTPClient | None = None) -> dict:
        data = self._call(method, path, body, client=client)
        if not isinstance(data, dict):
            raise ProtocolError(self.target, f"{method} {path}: expected a JSON object, got {type(data).__name__}")
        return data

    def _optional(self, path: str) -> Any:
        """A GET whose answer only adds detail: a 404 or an odd answer leaves the fact empty."""
        try:
            return self._call("GET", path)
        except ProtocolError:
            return None

    def _long_client(self) -> HTTPClient:
        if self._long is None:
            slow = dataclasses.replace(self.target, timeout=max(self.target.timeout, LONG_TIMEOUT))
            self._long = HTTPClient(slow, default_port=443, basic_auth=True)
        return self._long

    # -- facts ------------------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        info = self._object("GET", "/api/diagnostics/system/systemInformation")
        clock = self._object("GET", "/api/diagnostics/system/systemTime")
        resources = self._object("GET", "/api/diagnostics/system/systemResources")
        temperatures = self._optional("/api/diagnostics/system/systemTemperature")
        disk = self._optional("/api/diagnostics/system/systemDisk")
        rulesets = self._optional("/api/ids/settings/listRulesets")
        product, version = parse_versions(info.get("versions"))
        stamp = latest_ruleset(rulesets)
        return {
            "hostname": str(info.get("name") or "") or None,
            "model": self.target.model or product or "OPNsense",
            "serial": None,
            "firmware_version": version,
            "uptime_seconds": parse_uptime(clock.get("uptime")),
            "cpu_percent": None,
            "memory_percent": memory_percent(resources.get("memory")),
            "temperature_c": max_temperature(temperatures),
            "disks": None,
            "volumes": volumes(disk),
            "signature_date": stamp.date().isoformat() if stamp else None,
        }

    # -- configuration ----------------------------------------------------------------------
    def export_config(self) -> bytes:
        _status, data = self.http.request("GET", "/api/core/backup/download/this")
        if not data.strip():
            raise ProtocolError(self.target, "GET /api/core/backup/download/this answered an empty file")
        return data

    @classmethod
    def validate_config(cls, content: bytes) -> None:
        """``content`` must be a complete config.xml: well-formed XML, root
        ``<opnsense>``, a ``<system>`` section."""
        if not content or not content.strip():
            raise ValueError("the configuration is empty")
        if re.search(rb"<!(?:DOCTYPE|ENTITY)", content, re.IGNORECASE):
            raise ValueError("config.xml holds a DOCTYPE or entity declaration, which OPNsense never writes")
        try:
            # expat resolves no external entities and refuses entity expansion bombs; DTDs are refused above
            root = ET.fromstring(content)  # noqa: S314
        except ET.ParseError as exc:
            raise ValueError(f"config.xml is not well-formed XML ({exc}); the download is truncated or corrupt") \
                from None
        if root.tag != "opnsense":
            raise ValueError(f"the root element is <{root.tag}>, not <opnsense>: not an OPNsense configuration")
        if root.find("system") is None:
            raise ValueError("config.xml has no <system> section; the download is incomplete")

    # -- firmware ---------------------------------------------------------------------------
    def firmware_status(self) -> dict[str, Any]:
        self._run_check()
        data = self._object("GET", "/api/core/firmware/status")
        result, pending = parse_firmware_status(data)
        if result is None:
            raise DriverError(self.target, f"firmware status: {data.get('status_msg') or data.get('status')}")
        self._pending = pending
        return result

    def _run_check(self) -> None:
        started = self._object("POST", "/api/core/firmware/check")
        if started.get("status") != "ok":
            raise ProtocolError(self.target, f"the firmware check was refused (status {started.get('status')!r})")
        budget = max(60.0, self.target.timeout * CHECK_BUDGET_FACTOR)
        deadline = self.clock() + budget
        polls, seen_running = 0, False
        while self.clock() < deadline:
            self.sleep(self.poll_interval)
            polls += 1
            progress = self._object("GET", "/api/core/firmware/upgradestatus")
            state, text = progress.get("status"), str(progress.get("log") or "")
            if state == "running":
                seen_running = True
            elif state == "done" and (seen_running or polls > 2 or "CHECK FOR UPDATES" in text.upper()):
                return
            elif state == "error" and text.strip():
                raise DriverError(self.target, f"the firmware check failed: {self.target.scrub(last_line(text))}")
        raise Timeout(self.target, f"the firmware check did not finish within {budget:g} s")

    def start_firmware_update(self) -> None:
        if self._pending is None:
            self.firmware_status()
        pending = self._pending
        if not pending or not pending.get("available"):
            raise DriverError(self.target, "no firmware update is pending; nothing to start")
        action = pending["action"]
        try:        # the log of the last job; until the update starts its own, upgradestatus still shows it
            before = str(self._object("GET", "/api/core/firmware/upgradestatus").get("log") or "")
        except DriverError:
            before = None
        answer = self._object("POST", f"/api/core/firmware/{action}")
        if answer.get("status") != "ok":
            raise ProtocolError(self.target, f"the firmware {action} to {pending['available']} was refused "
                                             f"(status {answer.get('status')!r})")
        self._started = dict(pending, log_before=before)
        self._pending = None

    def wait_until_back(self, budget: float, *, poll: float = 2.0,
                        clock: Callable[[], float] = time.monotonic,
                        sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
        """Follow the update's progress log until it is done, or the box went
        down for its reboot and answers again; a failed update raises a
        ``DriverError`` with the log's last line."""
        started = self._started
        if started is None:
            return super().wait_until_back(budget, poll=poll, clock=clock, sleep=sleep)
        deadline = clock() + budget
        went_down, seen_running = False, False
        last: DriverError | None = None

        def pause() -> None:
            sleep(min(poll, max(0.0, deadline - clock())))

        while clock() < deadline:
            try:
                progress = self._object("GET", "/api/core/firmware/upgradestatus")
            except (Unreachable, Timeout) as exc:        # down for the reboot
                went_down, last = True, exc
                self.close()
                pause()
                continue
            except (ServerError, ProtocolError) as exc:  # up, but not all services yet
                last = exc
                pause()
                continue
            state, text = progress.get("status"), str(progress.get("log") or "")
            if not went_down and text.strip() and text == started.get("log_before"):
                pause()         # the update job has not written its log yet
                continue
            if state == "error" and text.strip() and "***DONE***" not in text:
                self._started = None
                raise DriverError(self.target, f"the firmware {started['action']} to {started['available']} "
                                               f"failed: {self.target.scrub(last_line(text))}")
            if state == "running":
                seen_running = True
                pause()
                continue
            ours = seen_running or started.get("log_before") is not None or \
                re.search(r"REQUEST TO (UPDATE|UPGRADE)", text.upper()) is not None
            if went_down or (state == "done" and ours):
                try:
                    facts = self.facts()
                except (Unreachable, Timeout, ServerError, ProtocolError) as exc:
                    last = exc
                    pause()
                    continue
                if facts.get("firmware_version") != started.get("installed") or not went_down:
                    self._started = None
                    return facts
                if state == "done":
                    self._started = None
                    raise DriverError(self.target, f"came back after the reboot still running "
                                                   f"{facts.get('firmware_version')}; the {started['action']} to "
                                                   f"{started['available']} did not apply")
            pause()
        detail = f" (last error: {last})" if last else ""
        raise Timeout(self.target, f"did not come back within {budget:g} s after the firmware update{detail}")

    # -- IDS signatures ----------------------------------------------------------------------
    def update_signatures(self) -> dict[str, Any]:
        before = latest_ruleset(self._call("GET", "/api/ids/settings/listRulesets"))
        answer = self._object("POST", "/api/ids/service/updateRules", client=self._long_client())
        status = str(answer.get("status") or "").strip()
        if status.lower() in ("", "failed", "template error", "execute error", "error"):
            raise ProtocolError(self.target, f"the IDS rule download failed (status {status or 'empty'!r})")
        after = latest_ruleset(self._call("GET", "/api/ids/settings/listRulesets"))
        # Changed when the signature date moved: a second download on the same day
        # (a re-run) is no change, the nightly one on the next day is (NET-03).
        return {"changed": after is not None and (before is None or after.date() != before.date()),
                "signature_date": after.date().isoformat() if after else None}

    # -- settings ------------------------------------------------------------------------------
    def apply_settings(self, settings: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        supported = self.settings_supported.get(self.target.role, ())
        extra = sorted(k for k, v in settings.items() if v is not None and k not in supported)
        if extra:
            raise self.unsupported(f"settings {', '.join(extra)}")
        result: dict[str, Any] = {"changed": False, "before": {}, "after": {}}
        if settings.get("rules") is not None:
            changed, before, after = self._apply_rules(desired_rules(self.target, settings["rules"]), check_mode)
            result["changed"] |= changed
            result["before"]["rules"], result["after"]["rules"] = before, after
        if settings.get("syslog") is not None:
            changed, before, after = self._apply_syslog(desired_syslog(self.target, settings["syslog"]), check_mode)
            result["changed"] |= changed
            result["before"]["syslog"], result["after"]["syslog"] = before, after
        return result

    def _search(self, path: str) -> list[dict[str, Any]]:
        # UIModelGrid / searchBase: rowCount -1 returns every row; the phrase narrows to ours
        data = self._object("POST", path, {"current": 1, "rowCount": -1, "searchPhrase": MANAGED_PREFIX.strip()})
        rows = data.get("rows")
        if not isinstance(rows, list):
            raise ProtocolError(self.target, f"POST {path}: the answer has no list of rows")
        return [row for row in rows if isinstance(row, dict)]

    def _rule_values(self, row: dict[str, Any]) -> dict[str, str]:
        if all(key in row for key in (*RULE_KEYS, "enabled")):
            return {key: plain(row.get(key)) for key in (*RULE_KEYS, "enabled")}
        # an older searchRule that returns only a few columns: read the whole rule
        data = self._object("GET", f"/api/firewall/filter/getRule/{row['uuid']}")
        rule = data.get("rule") if isinstance(data.get("rule"), dict) else {}
        return {key: plain(rule.get(key)) for key in (*RULE_KEYS, "enabled")}

    def _apply_rules(self, desired: dict[str, dict[str, str]],
                     check_mode: bool) -> tuple[bool, dict[str, Any], dict[str, Any]]:
        current, duplicates = managed_items(self._search("/api/firewall/filter/searchRule"), self._rule_values)
        adds, sets = diff_items(desired, current, rule_differs)
        deletes = [current[name][0] for name in current if name not in desired] + duplicates
        before = {name: rule_view(values) for name, (_uuid, values) in current.items()}
        after = {name: rule_view({**RULE_DEFAULTS, **(current[name][1] if name in current else {}), **want})
                 for name, want in desired.items()}
        changed = bool(adds or sets or deletes)
        if not changed or check_mode:
            return changed, before, after
        self._write_rules(adds, sets, deletes)
        return True, before, after

    def _write_rules(self, adds: dict[str, dict[str, str]], sets: dict[str, dict[str, str]],
                     deletes: list[str]) -> None:
        base = "/api/firewall/filter"
        try:
            point = self._object("POST", f"{base}/savepoint")
        except ProtocolError as exc:
            raise ProtocolError(self.target, f"the firewall offers no savepoint to roll back to ({exc}); "
                                             "rules were not changed") from exc
        revision = re.sub(r"[^0-9.]", "", str(point.get("revision") or ""))
        if point.get("status") != "ok" or not revision:
            raise ProtocolError(self.target, f"POST {base}/savepoint did not return a revision; rules were not changed")
        try:
            for name, values in adds.items():
                body = {"rule": {**RULE_DEFAULTS, **values, "enabled": "1", "description": MANAGED_PREFIX + name}}
                self._saved_or_raise(self._object("POST", f"{base}/addRule", body), f"adding rule {name!r}")
            for uuid, values in sets.items():
                self._saved_or_raise(self._object("POST", f"{base}/setRule/{uuid}", {"rule": values}),
                                     f"changing rule {uuid}")
            for uuid in deletes:
                answer = self._object("POST", f"{base}/delRule/{uuid}")
                if answer.get("result") not in ("deleted", "not found"):
                    raise ProtocolError(self.target, f"deleting rule {uuid} answered {answer.get('result')!r}")
        except DriverError as exc:
            raise type(exc)(None, f"{exc}{self._revert(revision)}") from exc
        try:
            applied = self._object("POST", f"{base}/apply/{revision}")
        except DriverError as exc:
            raise type(exc)(None, f"{exc}; if the filter was reloaded, it returns to savepoint {revision} within "
                                  f"{ROLLBACK_SECONDS} s by itself") from exc
        if str(applied.get("status") or "").strip().upper() != "OK":
            raise ProtocolError(self.target, f"reloading the filter answered {applied.get('status')!r}"
                                             f"{self._revert(revision)}")
        try:
            confirm = self._object("POST", f"{base}/cancelRollback/{revision}")
        except DriverError as exc:
            raise type(exc)(None, f"{exc}; lost contact after applying the new rules: the firewall returns to "
                                  f"savepoint {revision} within {ROLLBACK_SECONDS} s by itself") from exc
        status = confirm.get("status")
        if not isinstance(status, str) or status == "":
            raise ProtocolError(self.target, f"the rollback timer of savepoint {revision} was no longer running when "
                                             "the new rules were confirmed; they may have been rolled back")
        if status.strip() and status.strip().upper() != "OK":
            raise ProtocolError(self.target, f"confirming the new rules answered {status.strip()!r}; the firewall "
                                             f"may return to savepoint {revision}")

    def _saved_or_raise(self, answer: dict[str, Any], what: str) -> None:
        if answer.get("result") == "saved":
            return
        problems = answer.get("validations")
        detail = "; ".join(f"{k}: {v}" for k, v in problems.items()) if isinstance(problems, dict) else ""
        raise DriverError(self.target, f"{what} was refused: {detail or answer.get('result')!r}")

    def _revert(self, revision: str) -> str:
        """Undo unapplied writes; a note for the error message."""
        try:
            answer = self._object("POST", f"/api/firewall/filter/revert/{revision}")
        except DriverError as exc:
            return f"; undoing the changes (revert to savepoint {revision}) failed as well: {exc}"
        if answer.get("status") != "ok":
            return f"; undoing the changes (revert to savepoint {revision}) answered {answer.get('status')!r}"
        return f"; the rules were reverted to savepoint {revision}"

    def _apply_syslog(self, desired: dict[str, dict[str, str]],
                      check_mode: bool) -> tuple[bool, dict[str, Any], dict[str, Any]]:
        base = "/api/syslog/settings"
        current, duplicates = managed_items(
            self._search(f"{base}/searchDestinations"),
            lambda row: {k: plain(row.get(k)) for k in ("hostname", "port", "transport", "enabled")})
        adds, sets = diff_items(desired, current, syslog_differs)
        deletes = [current[name][0] for name in current if name not in desired] + duplicates
        before = {name: syslog_view(values) for name, (_uuid, values) in current.items()}
        after = {name: syslog_view(values) for name, values in desired.items()}
        changed = bool(adds or sets or deletes)
        if not changed or check_mode:
            return changed, before, after
        for name, values in adds.items():
            body = {"destination": {**values, "enabled": "1", "description": MANAGED_PREFIX + name}}
            self._saved_or_raise(self._object("POST", f"{base}/addDestination", body),
                                 f"adding syslog destination {name!r}")
        for uuid, values in sets.items():
            self._saved_or_raise(self._object("POST", f"{base}/setDestination/{uuid}", {"destination": values}),
                                 f"changing syslog destination {uuid}")
        for uuid in deletes:
            answer = self._object("POST", f"{base}/delDestination/{uuid}")
            if answer.get("result") not in ("deleted", "not found"):
                raise ProtocolError(self.target, f"deleting syslog destination {uuid} answered "
                                                 f"{answer.get('result')!r}")
        answer = self._object("POST", "/api/syslog/service/reconfigure")
        if str(answer.get("status") or "").strip().lower() != "ok":
            raise ProtocolError(self.target, f"reconfiguring syslog answered {answer.get('status')!r}; the "
                                             "destinations are saved but may not be active")
        return True, before, after


DRIVER = OPNsenseDriver


# -- parsing helpers (module level so the tests reach them) -------------------------------------------

def last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip() and not line.startswith("***")]
    return lines[-1] if lines else text.strip()[:200]


def parse_versions(versions: Any) -> tuple[str | None, str | None]:
    """``["OPNsense 25.1.4_1-amd64", "FreeBSD ...", ...]`` -> ("OPNsense", "25.1.4_1")."""
    if not isinstance(versions, list) or not versions:
        return None, None
    match = _VERSION.match(str(versions[0]).strip())
    if not match:
        return None, None
    return match.group("name"), match.group("version")


def parse_uptime(text: Any) -> int | None:
    match = _UPTIME.match(str(text or ""))
    if not match:
        return None
    days = int(match.group("days") or 0)
    return days * 86400 + int(match.group("h")) * 3600 + int(match.group("m")) * 60 + int(match.group("s"))


def _number(value: Any) -> float | None:
    try:
        return float(str(value).strip().rstrip("%C").strip())
    except (TypeError, ValueError):
        return None


def memory_percent(memory: Any) -> float | None:
    if not isinstance(memory, dict):
        return None
    used, total = _number(memory.get("used")), _number(memory.get("total"))
    if used is None or not total:
        return None
    return round(100.0 * used / total, 1)


def max_temperature(sensors: Any) -> float | None:
    if not isinstance(sensors, list):
        return None
    values = [v for v in (_number(s.get("temperature")) for s in sensors if isinstance(s, dict)) if v is not None]
    return max(values) if values else None


def volumes(disk: Any) -> list[dict[str, Any]] | None:
    devices = disk.get("devices") if isinstance(disk, dict) else None
    if not isinstance(devices, list):
        return None
    result = []
    for device in devices:
        if not isinstance(device, dict) or device.get("type") not in ("ufs", "zfs", "tmpfs"):
            continue
        result.append({"id": str(device.get("mountpoint") or device.get("device")), "status": "normal",
                       "used_percent": _number(device.get("used_pct"))})
    return result


def latest_ruleset(data: Any) -> dt.datetime | None:
    """The newest download time (local time of the box) of an enabled rule file."""
    rows = data.get("rows") if isinstance(data, dict) else None
    stamps = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or str(row.get("enabled")) != "1":
            continue
        match = _RULESET_STAMP.match(str(row.get("modified_local") or ""))
        if match:
            year, month, day, hour, minute = (int(g) for g in match.groups())
            try:
                stamps.append(dt.datetime(year, month, day, hour, minute))
            except ValueError:
                continue
    return max(stamps) if stamps else None


def parse_firmware_status(data: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """FirmwareController::statusAction -> (result, pending update) or (None, None) on status error."""
    product = data.get("product") if isinstance(data.get("product"), dict) else {}
    installed = product.get("product_version") or data.get("product_version")
    status = data.get("status")
    if status == "error" or status not in ("none", "update", "upgrade"):
        return None, None
    result = {"installed": installed, "available": None, "reboot_required": False}
    if status == "none":
        return result, None
    if status == "update":
        wanted = data.get("product_target") or product.get("product_id") or "opnsense"
        packages = data.get("all_packages")
        if isinstance(packages, list):
            packages = {p.get("name"): p for p in packages if isinstance(p, dict)}
        entry = packages.get(wanted) if isinstance(packages, dict) else None
        available = entry.get("new") if isinstance(entry, dict) else None
        if not available or available == "N/A":
            latest = product.get("product_latest")
            available = latest if latest and latest != str(installed or "").split("_", maxsplit=1)[0] else None
        reboot = str(data.get("status_reboot") or data.get("needs_reboot") or "0") == "1"
        action = "update"
    else:
        available = data.get("upgrade_major_version") or product.get("product_latest")
        reboot = True
        action = "upgrade"
    if not available:
        return result, None
    result.update(available=str(available), reboot_required=reboot)
    return result, {"action": action, "available": str(available), "installed": installed}


def plain(value: Any) -> str:
    """A field as text: get_* answers list options as {key: {"value", "selected"}}."""
    if isinstance(value, dict):
        return ",".join(k for k, v in value.items() if k and isinstance(v, dict) and str(v.get("selected")) == "1")
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value).strip()


def _flag(value: Any, where: str, target: Target) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return "1"
    if text in ("0", "false", "no", "off", ""):
        return "0"
    raise DriverError(target, f"{where} must be true or false, got {value!r}")


def desired_rules(target: Target, items: Any) -> dict[str, dict[str, str]]:
    """Settings rules -> {description: device field values}; keys left out are not managed
    on existing rules and take OPNsense's defaults on new ones."""
    settings_list(target, items, "rules")
    result: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"settings.rules[{index}]"
        name = managed_name(target, item, where, seen)
        unknown = sorted(set(item) - set(RULE_KEYS) - {"description"})
        if unknown:
            raise DriverError(target, f"{where}: unknown keys {', '.join(unknown)}")
        values: dict[str, str] = {}
        for key in RULE_KEYS:
            if item.get(key) is None:
                continue
            value = item[key]
            if key == "log":
                values[key] = _flag(value, f"{where}.log", target)
            elif key == "sequence":
                try:
                    values[key] = str(int(value))
                except (TypeError, ValueError):
                    raise DriverError(target, f"{where}.sequence must be a number, got {value!r}") from None
            elif key == "interface":
                parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
                values[key] = ",".join(str(p).strip() for p in parts if str(p).strip())
            else:
                values[key] = str(value).strip()
        result[name] = {key: normalize_rule_value(key, value) for key, value in values.items()}
    return result


def normalize_rule_value(key: str, value: str) -> str:
    """The form OPNsense stores: ProtocolField upper case (but "any"), PortField lower case,
    options lower case, interfaces in a stable order."""
    value = str(value).strip()
    if key == "protocol":
        return "any" if value.lower() == "any" else value.upper()
    if key in ("destination_port", "action", "direction", "ipprotocol"):
        return value.lower()
    if key == "interface":
        return ",".join(sorted(p for p in value.split(",") if p))
    if key == "sequence":
        return str(int(value)) if value.lstrip("-").isdigit() else value
    return value


def rule_differs(want: dict[str, str], have: dict[str, str]) -> dict[str, str]:
    changes = {k: v for k, v in want.items() if normalize_rule_value(k, have.get(k, "")) != v}
    if have.get("enabled", "1") != "1":
        changes["enabled"] = "1"
    return changes


def rule_view(values: dict[str, str]) -> dict[str, Any]:
    sequence = values.get("sequence")
    return {
        **{k: normalize_rule_value(k, values.get(k, RULE_DEFAULTS.get(k, "")))
           for k in RULE_KEYS if k not in ("sequence", "log", "interface")},
        "interface": normalize_rule_value("interface", values.get("interface", "")),
        "sequence": int(sequence) if sequence and str(sequence).isdigit() else None,
        "log": values.get("log", "0") == "1",
    }


def desired_syslog(target: Target, items: Any) -> dict[str, dict[str, str]]:
    """Settings syslog -> {description: {hostname, port, transport}}; the address
    family of the transport (udp4/udp6, Syslog.xml) follows the host."""
    settings_list(target, items, "syslog")
    result: dict[str, dict[str, str]] = {}
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"settings.syslog[{index}]"
        name = managed_name(target, item, where, seen)
        entry = syslog_server(target, item, where)
        host, port, transport = entry["host"], entry["port"], entry["transport"]
        try:
            family = "6" if ipaddress.ip_address(host).version == 6 else "4"
        except ValueError:
            family = "4"
        result[name] = {"hostname": host, "port": str(port), "transport": transport + family}
    return result


def syslog_differs(want: dict[str, str], have: dict[str, str]) -> dict[str, str]:
    changes = {k: v for k, v in want.items() if str(have.get(k, "")).strip().lower() != v.lower()}
    if have.get("enabled", "1") != "1":
        changes["enabled"] = "1"
    return changes


def syslog_view(values: dict[str, str]) -> dict[str, Any]:
    port = values.get("port", "")
    return {"host": values.get("hostname", ""), "port": int(port) if str(port).isdigit() else port,
            "transport": str(values.get("transport", ""))[:3]}


def diff_items(desired: dict[str, dict[str, str]], current: dict[str, tuple[str, dict[str, str]]],
               differs: Callable[[dict[str, str], dict[str, str]], dict[str, str]],
               ) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """(items to add by name, changes by uuid)."""
    adds: dict[str, dict[str, str]] = {}
    sets: dict[str, dict[str, str]] = {}
    for name, want in desired.items():
        if name not in current:
            adds[name] = want
            continue
        uuid, have = current[name]
        changes = differs(want, have)
        if changes:
            sets[uuid] = changes
    return adds, sets
