# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""FortiGate driver: the FortiOS 7.x REST API with a REST API administrator's
token (``Authorization: Bearer <token>``), JSON over one kept-alive HTTPS
connection (``praxis_driver.HTTPClient``; the TLS identity is checked before
the token is sent). The site file's credentials hold the token as
``password``; ``username`` is the REST API administrator's name and only
informational. The controller's address must be one of the administrator's
trusted hosts (docs/drivers/fortigate.md).

Every answer is the FortiOS envelope: ``{"http_method", "results", "vdom",
"path", "name", "status": "success"|"error", "http_status", "serial",
"version": "v7.4.4", "build"}``; cmdb writes add ``mkey``, ``revision``,
``revision_changed`` and ``old_revision``; errors carry a negative ``error``
code (-3 entry not found, -5 entry exists, -23 entry in use, -651 invalid
value). Sources: the FortiOS REST API reference (Fortinet Developer Network,
"HTTP status codes"), the fortinet.fortios collection 2.6
(``plugins/module_utils/fortios/fortios.py``, ``plugins/httpapi/fortios.py``,
``plugins/modules/fortios_monitor_fact.py``, ``fortios_monitor.py``,
``fortios_firewall_policy.py``, ``fortios_firewall_address.py``,
``fortios_firewall_service_custom.py``, ``fortios_log_syslogd_setting.py``).

``facts()``: GET ``monitor/system/status`` (host name, model, serial and
    version from the envelope), ``monitor/system/resource/usage`` (``cpu`` and
    ``mem`` ``current`` in percent), ``monitor/web-ui/state``
    (``snapshot_utc_time`` - ``utc_last_reboot``, milliseconds, as uptime) and
    ``monitor/license/status`` (the newest ``last_update`` of the antivirus
    and IPS databases is ``signature_date``). Temperature, disks and volumes
    are not reported.
``export_config()``: POST ``monitor/system/config/backup`` with scope global
    (FortiOS 7.4.5 and 7.6 accept only POST); a box that answers 405 gets the
    GET of older releases (collection issues #350, #361, #414).
``firmware_status()`` / ``start_firmware_update()``: GET
    ``monitor/system/firmware`` (``current``, ``available`` images from
    FortiGuard) and ``monitor/system/firmware/upgrade-paths`` (the hop to take
    next); POST ``monitor/system/firmware/upgrade`` with ``source`` fortiguard
    and the image ``id`` as ``filename``. The box downloads the image and
    reboots by itself; ``wait_until_back()`` waits for the new version.
``update_signatures()``: POST ``monitor/system/fortiguard/update``, versions
    and dates from ``monitor/license/status``.
``apply_settings()``: firewall policies in ``cmdb/firewall/policy`` (with the
    address objects in ``cmdb/firewall/address`` and the services in
    ``cmdb/firewall.service/custom`` they need; order with ``PUT
    ...?action=move&after=``) and syslog servers in ``cmdb/log.syslogd/setting``
    and ``log.syslogd2`` .. ``log.syslogd4`` (one server per slot).

Policies this driver manages carry ``comments`` starting with ``praxisops: ``;
its address and service objects are named ``praxisops-...``. Other policies
and objects are never changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import ipaddress
import json
import re
import time
from typing import Any, Callable, ClassVar
from urllib.parse import quote

from ansible.module_utils.praxis_driver import (
    AuthFailed, Driver, DriverError, HTTPClient, ProtocolError, ServerError, Target, Timeout, Unreachable,
    Unsupported, MANAGED_PREFIX, managed_name, settings_list, syslog_server,
)

OBJECT_PREFIX = "praxisops-"
API = "/api/v2"
LONG_TIMEOUT = 300.0            # FortiGuard update: the box downloads the packages before it answers
SYSLOG_SLOTS = ("syslogd", "syslogd2", "syslogd3", "syslogd4")
NAME_LIMIT = 35                 # firewall policy name: 35 characters (FortiOS 7.x)
RULE_KEYS = ("action", "interface", "direction", "ipprotocol", "protocol", "source_net", "destination_net",
             "destination_port", "sequence", "log")
# the policy fields this driver writes and compares, FortiOS names
POLICY_FIELDS = ("name", "srcintf", "dstintf", "srcaddr", "dstaddr", "service", "action", "send-deny-packet",
                 "schedule", "status", "logtraffic", "nat")
LIST_FIELDS = ("srcintf", "dstintf", "srcaddr", "dstaddr", "service")
ERROR_CODES = {-1: "invalid request", -3: "entry not found", -5: "entry already exists", -23: "entry is in use",
               -651: "invalid value"}

# ``set <field> ENC <value>`` (stored secrets: admin passwords, API keys, IPsec PSKs, RADIUS/LDAP secrets,
# SNMP communities, certificate passphrases) and PEM private keys in the configuration file
SECRET_PATTERNS: list[re.Pattern[str]] = [
    re.compile(r"^\s*set [\w-]+ ENC (?P<secret>\S+)", re.MULTILINE),
    re.compile(r"^\s*set (?:password|passwd|psksecret|secret|key|api-key|passphrase|auth-pwd|priv-pwd|"
               r"community|server-key|sso-password) (?P<secret>(?!ENC )\S.*)$", re.MULTILINE),
    re.compile(r"(?P<secret>-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----)", re.DOTALL),
]

_LINE = re.compile(r"^\s*(?:#.*|config \S.*|edit \S.*|set \S.*|unset \S.*|append \S.*|next|end)\s*$")


class FortiHTTP(HTTPClient):
    """HTTPClient with the Bearer token and FortiOS' refusals told apart."""

    def _headers(self) -> dict[str, str]:
        headers = super()._headers()
        headers["Authorization"] = "Bearer " + self.target.password
        return headers

    def _once(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        status, data = super()._once(method, path, body, headers)
        where = f"{method} {path.split('?')[0]}"
        if status == 401:
            raise AuthFailed(self.target, f"the FortiGate refused the API token (HTTP 401) for {where}; check the "
                                          f"token in the vault variable of {self.target.host} (system api-user "
                                          f"{self.target.username or '<name>'}, execute api-user generate-key)")
        if status == 403:
            raise AuthFailed(self.target, f"the FortiGate refused the request (HTTP 403) for {where}: the "
                                          "controller's address is not a trusted host of the REST API "
                                          "administrator, or its profile lacks the permission; add the address "
                                          "to 'config system api-user' > trusthost and give the profile "
                                          "read-write on firewall, log and system")
        if status >= 500:
            code = _error_code(data)
            if code is not None:        # a command error answered as 500 is no transient fault
                raise DriverError(self.target, f"{where} was refused: error {code} "
                                               f"({ERROR_CODES.get(code, 'command error')})")
        return status, data


def _error_code(data: bytes) -> int | None:
    try:
        answer = json.loads(data)
    except ValueError:
        return None
    code = answer.get("error") if isinstance(answer, dict) else None
    return code if isinstance(code, int) and code < 0 else None


def _version(text: Any) -> str | None:
    match = re.fullmatch(r"v?(\d+\.\d+\.\d+)", str(text or "").strip())
    return match.group(1) if match else None


def _vkey(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


class FortiGateDriver(Driver):
    vendor = "fortigate"
    title: ClassVar[str] = "FortiGate (FortiOS)"
    roles: ClassVar[tuple[str, ...]] = ("firewall",)
    protocol: ClassVar[str] = "https"
    default_port: ClassVar[int] = 443
    options: ClassVar[dict[str, str]] = {
        "nat_outbound": "true (default) or false: allow policies to any destination get source NAT "
                        "(nat enable), as outbound internet access through a FortiGate needs it",
    }
    config_suffix = ".conf"
    secret_patterns = SECRET_PATTERNS
    settings_supported = {"firewall": ("rules", "syslog")}

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.http = FortiHTTP(target, default_port=443)
        self._long: FortiHTTP | None = None
        self._pending: dict[str, Any] | None = None
        self._started: dict[str, Any] | None = None

    def close(self) -> None:
        self.http.close()
        if self._long is not None:
            self._long.close()

    # -- HTTP helpers -----------------------------------------------------------------------
    def _call(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
              ok: tuple[int, ...] = (200,), client: FortiHTTP | None = None) -> dict[str, Any]:
        """One API call; the envelope as a dict (an error status in ``ok`` is returned, not raised)."""
        status, data = (client or self.http).request(method, API + path, params=params, json_body=body,
                                                     ok=(*ok, 200, 400, 404, 405, 424))
        try:
            answer = json.loads(data)
        except ValueError:
            raise ProtocolError(self.target, f"{method} {API}{path}: the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise ProtocolError(self.target, f"{method} {API}{path}: expected a JSON object, "
                                             f"got {type(answer).__name__}")
        if status not in ok:
            code = answer.get("error")
            detail = f", error {code} ({ERROR_CODES.get(code, 'command error')})" if isinstance(code, int) else ""
            what = {404: "not found", 405: "method not allowed", 424: "failed dependency",
                    400: "bad request"}.get(status, "refused")
            raise DriverError(self.target, f"{method} {API}{path} answered HTTP {status} ({what}{detail})")
        return answer

    def _results(self, path: str, kind: type, **kwargs: Any) -> Any:
        answer = self._call("GET", path, **kwargs)
        results = answer.get("results")
        if not isinstance(results, kind):
            raise ProtocolError(self.target, f"GET {API}{path}: 'results' is not a {kind.__name__}")
        return results

    def _optional(self, path: str, **kwargs: Any) -> Any:
        """A GET that only adds detail: an error or an odd answer leaves the fact empty."""
        try:
            return self._call("GET", path, **kwargs).get("results")
        except (ProtocolError, Unsupported):
            return None
        except DriverError as exc:
            if exc.transient or isinstance(exc, AuthFailed):
                raise
            return None

    def _long_client(self) -> FortiHTTP:
        if self._long is None:
            self._long = FortiHTTP(dataclasses.replace(self.target, timeout=max(self.target.timeout, LONG_TIMEOUT)),
                                   default_port=443)
        return self._long

    # -- facts ------------------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        status = self._call("GET", "/monitor/system/status")
        info = status.get("results") if isinstance(status.get("results"), dict) else {}
        usage = self._optional("/monitor/system/resource/usage", params={"interval": "1-min"})
        state = self._optional("/monitor/web-ui/state")
        licenses = self._optional("/monitor/license/status")
        model = " ".join(str(info.get(k) or "") for k in ("model_name", "model_number")).strip()
        stamp = signature_stamp(licenses)
        return {
            "hostname": str(info.get("hostname") or "") or None,
            "model": self.target.model or (model.replace(" ", "-") if model else None) or "FortiGate",
            "serial": str(status.get("serial") or "") or None,
            "firmware_version": _version(status.get("version")),
            "uptime_seconds": uptime_seconds(state),
            "cpu_percent": current_usage(usage, "cpu"),
            "memory_percent": current_usage(usage, "mem"),
            "temperature_c": None,
            "disks": None,
            "volumes": None,
            "signature_date": stamp.date().isoformat() if stamp else None,
        }

    # -- configuration ----------------------------------------------------------------------
    def export_config(self) -> bytes:
        path = f"{API}/monitor/system/config/backup"
        status, data = self.http.request("POST", path, params={"scope": "global"}, json_body={"scope": "global"},
                                         ok=(200, 405))
        if status == 405:           # FortiOS up to 7.4.4 serves the backup with GET
            status, data = self.http.request("GET", path, params={"scope": "global"})
        if not data.strip():
            raise ProtocolError(self.target, f"{path}: the backup is empty")
        if data.lstrip().startswith(b"{"):
            raise ProtocolError(self.target, f"{path}: answered a JSON message instead of the configuration "
                                             f"({_error_text(data)})")
        return data

    @classmethod
    def validate_config(cls, content: bytes) -> None:
        """A FortiOS configuration: UTF-8 text, the ``#config-version=`` header
        first, ``config system global``, only CLI lines, every ``config`` /
        ``edit`` closed by ``end`` / ``next``."""
        if not content or not content.strip():
            raise ValueError("the configuration is empty")
        if b"\x00" in content:
            offset = content.index(b"\0")
            raise ValueError(f"the configuration holds a NUL byte at offset {offset}: "
                             "the download is corrupt")
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"the configuration is not UTF-8 text (byte {exc.start}): the download is corrupt") \
                from None
        lines = text.splitlines()
        if not lines[0].startswith("#config-version="):
            raise ValueError("the first line is not the '#config-version=' header: not a FortiOS configuration")
        stack: list[str] = []
        seen_global = False
        quoted = False
        for number, line in enumerate(lines, 1):
            if quoted:                              # inside a multi-line value (certificates, scripts)
                quoted = _open_quote(line, quoted)
                continue
            if not line.strip():
                continue
            if not _LINE.match(line):
                if number == len(lines) and not text.endswith("\n"):
                    raise ValueError(f"the configuration ends in the middle of line {number}: the download is "
                                     "truncated")
                raise ValueError(f"line {number} is not FortiOS configuration syntax "
                                 f"(starts with {line.strip()[:12]!r}): the download is corrupt")
            word = line.split()[0]
            if word == "config":
                stack.append(line.strip())
                seen_global |= line.strip() == "config system global"
            elif word == "edit":
                stack.append("edit")
            elif word == "next":
                if not stack or stack.pop() != "edit":
                    raise ValueError(f"line {number}: 'next' without 'edit': the configuration is corrupt")
            elif word == "end":
                if not stack or stack.pop() == "edit":
                    raise ValueError(f"line {number}: 'end' without 'config': the configuration is corrupt")
            elif word in ("set", "append"):
                quoted = _open_quote(line, False)
        if not text.endswith("\n"):
            raise ValueError("the configuration does not end with a line break: the download is truncated")
        if quoted:
            raise ValueError("the configuration ends inside a quoted value: the download is truncated")
        if stack:
            raise ValueError(f"the configuration ends with {len(stack)} block(s) not closed (last: "
                             f"{stack[-1]!r}): the download is truncated")
        if not seen_global:
            raise ValueError("the configuration has no 'config system global' section; the download is incomplete")

    # -- firmware ---------------------------------------------------------------------------
    def firmware_status(self) -> dict[str, Any]:
        firmware = self._results("/monitor/system/firmware", dict)
        current = firmware.get("current") if isinstance(firmware.get("current"), dict) else {}
        installed = _version(current.get("version"))
        if installed is None:
            raise ProtocolError(self.target, "GET /monitor/system/firmware: no current version")
        images = {}
        for image in firmware.get("available") or []:
            version = _version(image.get("version")) if isinstance(image, dict) else None
            if version and _vkey(version) > _vkey(installed) and image.get("id"):
                images[version] = str(image["id"])
        paths = self._optional("/monitor/system/firmware/upgrade-paths")
        target = next_hop(installed, images, paths)
        self._pending = {"installed": installed, "available": target, "id": images.get(target)} if target else None
        return {"installed": installed, "available": target, "reboot_required": target is not None}

    def start_firmware_update(self) -> None:
        if self._pending is None:
            self.firmware_status()
        pending = self._pending
        if not pending:
            raise DriverError(self.target, "no firmware update is offered; nothing to start")
        answer = self._call("POST", "/monitor/system/firmware/upgrade",
                            body={"source": "fortiguard", "filename": pending["id"]})
        results = answer.get("results") if isinstance(answer.get("results"), dict) else {}
        if results.get("status") != "success":
            reason = results.get("error") or results.get("error_code") or results.get("status") or "no status"
            raise DriverError(self.target, f"the firmware upgrade to {pending['available']} failed: "
                                           f"{self.target.scrub(str(reason))}; {pending['installed']} stays")
        self._started = dict(pending, at=time.time())
        self._pending = None

    def wait_until_back(self, budget: float, *, poll: float = 2.0,
                        clock: Callable[[], float] = time.monotonic,
                        sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
        """Wait until the box went down for its reboot (or its uptime says it
        rebooted) and answers with the new version; the old version after the
        reboot is an error."""
        started = self._started
        if started is None:
            return super().wait_until_back(budget, poll=poll, clock=clock, sleep=sleep)
        deadline = clock() + budget
        went_down = False
        last: DriverError | None = None
        while clock() < deadline:
            self.close()
            try:
                facts = self.facts()
            except (Unreachable, Timeout, ServerError, ProtocolError) as exc:
                went_down, last = True, exc
                sleep(min(poll, max(0.0, deadline - clock())))
                continue
            if facts.get("firmware_version") == started["available"]:
                self._started = None
                return facts
            if went_down or self._booted_since(started["at"]):
                self._started = None
                raise DriverError(self.target, f"came back after the reboot still running "
                                               f"{facts.get('firmware_version')}; the upgrade to "
                                               f"{started['available']} did not apply")
            sleep(min(poll, max(0.0, deadline - clock())))
        detail = f" (last error: {last})" if last else ""
        raise Timeout(self.target, f"did not come back within {budget:g} s after the firmware update{detail}")

    def _booted_since(self, moment: float) -> bool:
        """Whether the box booted after ``moment`` (epoch seconds): ``utc_last_reboot`` of web-ui/state."""
        state = self._optional("/monitor/web-ui/state")
        boot = state.get("utc_last_reboot") if isinstance(state, dict) else None
        return isinstance(boot, (int, float)) and boot / 1000 > moment

    # -- FortiGuard signatures ----------------------------------------------------------------
    def update_signatures(self) -> dict[str, Any]:
        before = signature_stamp(self._results("/monitor/license/status", dict))
        answer = self._call("POST", "/monitor/system/fortiguard/update", body={}, client=self._long_client())
        results = answer.get("results")
        if isinstance(results, dict) and results.get("status") not in (None, "success"):
            raise ProtocolError(self.target, f"the FortiGuard update failed (status {results.get('status')!r})")
        after = signature_stamp(self._results("/monitor/license/status", dict))
        return {"changed": after is not None and (before is None or after.date() != before.date()),
                "signature_date": after.date().isoformat() if after else None}

    # -- settings ------------------------------------------------------------------------------
    def apply_settings(self, settings: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        supported = self.settings_supported.get(self.target.role, ())
        extra = sorted(k for k, v in settings.items() if v is not None and k not in supported)
        if extra:
            raise self.unsupported(f"settings {', '.join(extra)}")
        # everything is checked before the first write
        nat = _flag(self.target.options.get("nat_outbound", True), "options.nat_outbound", self.target)
        rules = desired_rules(self.target, settings["rules"], nat) if settings.get("rules") is not None else None
        syslog = desired_syslog(self.target, settings["syslog"]) if settings.get("syslog") is not None else None
        result: dict[str, Any] = {"changed": False, "before": {}, "after": {}}
        if rules is not None:
            changed, before, after = self._apply_rules(rules, check_mode)
            result["changed"] |= changed
            result["before"]["rules"], result["after"]["rules"] = before, after
        if syslog is not None:
            changed, before, after = self._apply_syslog(syslog, check_mode)
            result["changed"] |= changed
            result["before"]["syslog"], result["after"]["syslog"] = before, after
        return result

    def _table(self, path: str) -> list[dict[str, Any]]:
        return [row for row in self._results(path, list) if isinstance(row, dict)]

    def _apply_rules(self, desired: dict[str, dict[str, Any]],
                     check_mode: bool) -> tuple[bool, dict[str, Any], dict[str, Any]]:
        interfaces = {str(row.get("name")) for row in self._table("/cmdb/system/interface")} | {"any"}
        for name, rule in desired.items():
            for field in ("srcintf", "dstintf"):
                for item in _names(rule["values"][field]):
                    if item not in interfaces:
                        raise DriverError(self.target, f"settings.rules {name!r}: interface {item!r} does not exist "
                                                       f"on this FortiGate (it has: "
                                                       f"{', '.join(sorted(interfaces - {'any'}))})")
        policies = self._table("/cmdb/firewall/policy")
        current: dict[str, dict[str, Any]] = {}
        duplicates: list[int] = []
        for row in policies:
            comment = str(row.get("comments") or "")
            if not comment.startswith(MANAGED_PREFIX):
                continue
            name = comment[len(MANAGED_PREFIX):]
            if name in current:
                duplicates.append(int(row["policyid"]))
            else:
                current[name] = row
        addresses = {str(r.get("name")): r for r in self._table("/cmdb/firewall/address")}
        services = {str(r.get("name")): r for r in self._table("/cmdb/firewall.service/custom")}
        want_addresses = {k: v for rule in desired.values() for k, v in rule["addresses"].items()}
        want_services = {k: v for rule in desired.values() for k, v in rule["services"].items()}
        address_writes = {k: v for k, v in want_addresses.items()
                          if k not in addresses or _differs(v, addresses[k])}
        service_writes = {k: v for k, v in want_services.items()
                          if k not in services or _differs(v, services[k])}
        adds = {name: rule for name, rule in desired.items() if name not in current}
        sets = {name: _changes(rule["values"], current[name]) for name, rule in desired.items() if name in current}
        sets = {name: change for name, change in sets.items() if change}
        deletes = [int(current[name]["policyid"]) for name in current if name not in desired] + duplicates
        order_now = [str(row.get("comments"))[len(MANAGED_PREFIX):] for row in policies
                     if str(row.get("comments") or "").startswith(MANAGED_PREFIX)
                     and str(row.get("comments"))[len(MANAGED_PREFIX):] in desired]
        order_want = sorted(desired, key=lambda n: (desired[n]["sequence"] is None, desired[n]["sequence"] or 0, n))
        # the order after the writes without moves: kept ones as they stand, new ones appended
        reorder = list(dict.fromkeys(order_now)) + sorted(adds, key=order_want.index) != order_want
        # views of the fields this driver sets (of all it may set for policies it removes)
        before = {name: policy_view(row, order_now.index(name) + 1 if name in order_now else None,
                                    desired[name]["values"] if name in desired else None)
                  for name, row in current.items()}
        after = {name: policy_view(desired[name]["values"], order_want.index(name) + 1, desired[name]["values"])
                 for name in desired}
        changed = bool(adds or sets or deletes or address_writes or service_writes or reorder)
        if not changed or check_mode:
            return changed, before, after
        for name, values in address_writes.items():
            self._write("/cmdb/firewall/address", name, values, exists=name in addresses)
        for name, values in service_writes.items():
            self._write("/cmdb/firewall.service/custom", name, values, exists=name in services)
        for name, change in sets.items():
            self._write("/cmdb/firewall/policy", str(current[name]["policyid"]), change, exists=True)
        for name in sorted(adds, key=order_want.index):
            body = {**adds[name]["values"], "policyid": 0, "comments": MANAGED_PREFIX + name}
            self._call("POST", "/cmdb/firewall/policy", body=body)
        for policyid in deletes:
            self._call("DELETE", f"/cmdb/firewall/policy/{policyid}", ok=(200, 404))
        if len(desired) > 1:
            self._order(order_want)
        self._drop_unused_objects(set(want_addresses), set(want_services))
        return True, before, after

    def _write(self, table: str, mkey: str, values: dict[str, Any], *, exists: bool) -> None:
        if exists:
            self._call("PUT", f"{table}/{quote(mkey, safe='')}", body=values)
        else:
            self._call("POST", table, body={"name": mkey, **values})

    def _order(self, order_want: list[str]) -> None:
        """Move the managed policies into the order of their sequence, after one another."""
        rows = self._table("/cmdb/firewall/policy")
        ids = {str(r.get("comments"))[len(MANAGED_PREFIX):]: int(r["policyid"]) for r in rows
               if str(r.get("comments") or "").startswith(MANAGED_PREFIX)}
        now = [str(r.get("comments"))[len(MANAGED_PREFIX):] for r in rows
               if str(r.get("comments") or "").startswith(MANAGED_PREFIX)]
        if now == order_want:
            return
        for previous, name in zip(order_want, order_want[1:], strict=False):
            self._call("PUT", f"/cmdb/firewall/policy/{ids[name]}",
                       params={"action": "move", "after": ids[previous]})

    def _drop_unused_objects(self, keep_addresses: set[str], keep_services: set[str]) -> None:
        used: set[str] = set()
        for row in self._table("/cmdb/firewall/policy"):
            for field in ("srcaddr", "dstaddr", "service"):
                used |= {str(item.get("name")) for item in row.get(field) or [] if isinstance(item, dict)}
        for table, keep in (("/cmdb/firewall/address", keep_addresses),
                            ("/cmdb/firewall.service/custom", keep_services)):
            for row in self._table(table):
                name = str(row.get("name") or "")
                if name.startswith(OBJECT_PREFIX) and name not in keep and name not in used:
                    self._call("DELETE", f"{table}/{quote(name, safe='')}", ok=(200, 404, 424))

    def _apply_syslog(self, desired: list[dict[str, Any]],
                      check_mode: bool) -> tuple[bool, dict[str, Any], dict[str, Any]]:
        current: dict[str, dict[str, Any]] = {}
        for slot in SYSLOG_SLOTS:
            answer = self._call("GET", f"/cmdb/log.{slot}/setting", ok=(200, 404))
            if answer.get("http_status", 200) == 404 or not isinstance(answer.get("results"), dict):
                break
            current[slot] = answer["results"]
        if len(desired) > len(current):
            raise DriverError(self.target, f"settings.syslog has {len(desired)} servers; this FortiGate forwards to "
                                           f"at most {len(current)} ({', '.join(f'log {s}' for s in current)})")
        writes: dict[str, dict[str, Any]] = {}
        for index, slot in enumerate(current):
            want = desired[index]["values"] if index < len(desired) else {"status": "disable"}
            change = _changes(want, current[slot])
            if change:
                writes[slot] = change
        before = {slot: syslog_view(values) for slot, values in current.items()}
        after = {slot: syslog_view({**current[slot], **(desired[i]["values"] if i < len(desired)
                                                        else {"status": "disable"})})
                 for i, slot in enumerate(current)}
        if not writes or check_mode:
            return bool(writes), before, after
        for slot, change in writes.items():
            self._call("PUT", f"/cmdb/log.{slot}/setting", body=change)
        return True, before, after


DRIVER = FortiGateDriver
DRIVER_CLASSES = (FortiGateDriver,)


# -- parsing helpers (module level so the tests reach them) -------------------------------------------

def _error_text(data: bytes) -> str:
    try:
        answer = json.loads(data)
    except ValueError:
        return "unreadable"
    if isinstance(answer, dict):
        return f"status {answer.get('status')!r}, HTTP {answer.get('http_status')}"
    return "unexpected JSON"


def _open_quote(line: str, inside: bool) -> bool:
    """Whether a quoted value is still open after ``line`` (backslash escapes honoured)."""
    escaped = False
    for char in line:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            inside = not inside
    return inside


def current_usage(usage: Any, key: str) -> float | None:
    series = usage.get(key) if isinstance(usage, dict) else None
    if not isinstance(series, list) or not series or not isinstance(series[0], dict):
        return None
    try:
        return float(series[0].get("current"))
    except (TypeError, ValueError):
        return None


def uptime_seconds(state: Any) -> int | None:
    if not isinstance(state, dict):
        return None
    now, boot = state.get("snapshot_utc_time"), state.get("utc_last_reboot")
    if not isinstance(now, (int, float)) or not isinstance(boot, (int, float)) or boot <= 0 or now < boot:
        return None
    return int((now - boot) / 1000)


def signature_stamp(licenses: Any) -> dt.datetime | None:
    """The newest ``last_update`` (epoch seconds, UTC) of the antivirus and IPS databases."""
    stamps = []
    for service in ("antivirus", "ips"):
        entry = licenses.get(service) if isinstance(licenses, dict) else None
        for part in ("db", "etdb", "exdb"):
            package = entry.get(part) if isinstance(entry, dict) else None
            stamp = package.get("last_update") if isinstance(package, dict) else None
            if isinstance(stamp, (int, float)) and stamp > 0:
                stamps.append(dt.datetime.fromtimestamp(stamp, dt.timezone.utc))
    return max(stamps) if stamps else None


def next_hop(installed: str, images: dict[str, str], paths: Any) -> str | None:
    """The version to install next: along the upgrade path from ``installed``
    towards the newest offered image, else the newest offered image."""
    if not images:
        return None
    newest = max(images, key=_vkey)
    for step in paths if isinstance(paths, list) else []:
        source = step.get("from") if isinstance(step, dict) else None
        goal = step.get("to") if isinstance(step, dict) else None
        if not isinstance(source, dict) or not isinstance(goal, dict):
            continue
        try:
            start = f"{source['major']}.{source['minor']}.{source['patch']}"
            hop = f"{goal['major']}.{goal['minor']}.{goal['patch']}"
        except KeyError:
            continue
        if start == installed and hop in images and _vkey(hop) <= _vkey(newest):
            return hop
    return newest


def _flag(value: Any, where: str, target: Target) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise DriverError(target, f"{where} must be true or false, got {value!r}")


def _names(value: Any) -> list[str]:
    return sorted(str(item.get("name") if isinstance(item, dict) else item) for item in value or [])


def _same(key: str, want: Any, have: Any) -> bool:
    if key in LIST_FIELDS:
        return _names(want) == _names(have)
    return str(want).strip().lower() == str(have if have is not None else "").strip().lower()


def _changes(want: dict[str, Any], have: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in want.items() if not _same(key, value, have.get(key))}


def _differs(want: dict[str, Any], have: dict[str, Any]) -> bool:
    return bool(_changes(want, have))


def policy_view(row: dict[str, Any], position: int | None, keys: Any = None) -> dict[str, Any]:
    return {**{key: (_names(row.get(key)) if key in LIST_FIELDS else row.get(key)) for key in POLICY_FIELDS
               if keys is None or key in keys},
            "position": position}


def syslog_view(values: dict[str, Any]) -> dict[str, Any]:
    return {key: values.get(key) for key in ("status", "server", "mode", "port")}


def _policy_name(description: str) -> str:
    if len(description) <= NAME_LIMIT:
        return description
    digest = hashlib.sha1(description.encode(), usedforsecurity=False).hexdigest()[:6]
    return description[:NAME_LIMIT - 7].rstrip() + "~" + digest


def _network(value: Any, where: str, target: Target) -> tuple[str, dict[str, Any] | None]:
    """A rule's net -> (address object name, the object's fields or None for ``all``)."""
    text = str(value if value is not None else "any").strip()
    if text.lower() in ("any", ""):
        return "all", None
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise DriverError(target, f"{where} {text!r} is not a network (CIDR) or 'any'; a FortiGate takes "
                                  "addresses, not interface networks such as 'lannet'") from None
    if network.version != 4:
        raise DriverError(target, f"{where} {text!r}: IPv6 policies are not managed on FortiGate")
    name = f"{OBJECT_PREFIX}net-{network.network_address}-{network.prefixlen}"
    return name, {"type": "ipmask", "subnet": f"{network.network_address} {network.netmask}",
                  "comment": MANAGED_PREFIX + "address"}


def _services(protocol: Any, port: Any, where: str, target: Target) -> dict[str, dict[str, Any] | None]:
    """Protocol and destination port -> {service name: custom service fields, or None for a predefined one}."""
    proto = str(protocol or "any").strip().upper()
    text = str(port if port is not None else "").strip()
    if text and not re.fullmatch(r"\d{1,5}(-\d{1,5})?", text):
        raise DriverError(target, f"{where}.destination_port must be a port or a range (443, 8000-8080), "
                                  f"got {port!r}")
    if text and not all(1 <= int(p) <= 65535 for p in text.split("-")):
        raise DriverError(target, f"{where}.destination_port must be within 1-65535, got {port!r}")
    if proto == "ANY":
        if text:
            raise DriverError(target, f"{where}: a destination_port needs protocol TCP, UDP or TCP/UDP")
        return {"ALL": None}
    if proto == "ICMP":
        if text:
            raise DriverError(target, f"{where}: ICMP has no destination_port")
        return {"ALL_ICMP": None}
    if proto not in ("TCP", "UDP", "TCP/UDP"):
        raise DriverError(target, f"{where}.protocol must be any, TCP, UDP, TCP/UDP or ICMP, got {protocol!r}")
    if not text:
        return {f"ALL_{p}": None for p in proto.split("/")}
    fields = {"protocol": "TCP/UDP/SCTP", "tcp-portrange": text if "TCP" in proto else "",
              "udp-portrange": text if "UDP" in proto else "", "comment": MANAGED_PREFIX + "service"}
    return {f"{OBJECT_PREFIX}{proto.lower().replace('/', '')}-{text}": fields}


def desired_rules(target: Target, items: Any, nat_outbound: bool = True) -> dict[str, dict[str, Any]]:
    """Settings rules -> {description: {"values": policy fields, "addresses", "services", "sequence"}}."""
    settings_list(target, items, "rules")
    result: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    names: dict[str, str] = {}
    for index, item in enumerate(items):
        where = f"settings.rules[{index}]"
        name = managed_name(target, item, where, seen)
        unknown = sorted(set(item) - set(RULE_KEYS) - {"description"})
        if unknown:
            raise DriverError(target, f"{where}: unknown keys {', '.join(unknown)}")
        action = str(item.get("action") or "pass").strip().lower()
        if action not in ("pass", "block", "reject"):
            raise DriverError(target, f"{where}.action must be pass, block or reject, got {item.get('action')!r}")
        direction = str(item.get("direction") or "in").strip().lower()
        if direction not in ("in", "out"):
            raise DriverError(target, f"{where}.direction must be in or out, got {item.get('direction')!r}")
        if str(item.get("ipprotocol") or "inet").strip().lower() != "inet":
            raise DriverError(target, f"{where}.ipprotocol {item.get('ipprotocol')!r}: only IPv4 (inet) policies "
                                      "are managed on FortiGate")
        raw = item.get("interface")
        parts = raw if isinstance(raw, (list, tuple)) else str(raw or "").split(",")
        interfaces = sorted({str(p).strip() for p in parts if str(p).strip()})
        if not interfaces:
            raise DriverError(target, f"{where}.interface is required (the FortiGate interface the rule is on)")
        src_name, src_obj = _network(item.get("source_net"), f"{where}.source_net", target)
        dst_name, dst_obj = _network(item.get("destination_net"), f"{where}.destination_net", target)
        services = _services(item.get("protocol"), item.get("destination_port"), where, target)
        sequence = item.get("sequence")
        if sequence is not None:
            try:
                sequence = int(sequence)
            except (TypeError, ValueError):
                raise DriverError(target, f"{where}.sequence must be a number, got {sequence!r}") from None
        policy_name = _policy_name(name)
        if policy_name in names:
            raise DriverError(target, f"{where}.description {name!r} gives the same policy name as "
                                      f"{names[policy_name]!r}")
        names[policy_name] = name
        values: dict[str, Any] = {
            "name": policy_name,
            "srcintf": [{"name": i} for i in (interfaces if direction == "in" else ["any"])],
            "dstintf": [{"name": i} for i in (["any"] if direction == "in" else interfaces)],
            "srcaddr": [{"name": src_name}], "dstaddr": [{"name": dst_name}],
            "service": [{"name": s} for s in sorted(services)],
            "action": "accept" if action == "pass" else "deny",
            "send-deny-packet": "enable" if action == "reject" else "disable",
            "schedule": "always", "status": "enable",
        }
        if action == "pass":
            values["nat"] = "enable" if nat_outbound and dst_name == "all" else "disable"
        if item.get("log") is not None:
            log = _flag(item["log"], f"{where}.log", target)
            values["logtraffic"] = "all" if log else ("utm" if action == "pass" else "disable")
        result[name] = {
            "values": values, "sequence": sequence,
            "addresses": {k: v for k, v in ((src_name, src_obj), (dst_name, dst_obj)) if v is not None},
            "services": {k: v for k, v in services.items() if v is not None},
        }
    return result


def desired_syslog(target: Target, items: Any) -> list[dict[str, Any]]:
    """Settings syslog -> one entry per slot (syslogd, syslogd2, ...), in the order given."""
    settings_list(target, items, "syslog")
    if len(items) > len(SYSLOG_SLOTS):
        raise DriverError(target, f"settings.syslog has {len(items)} servers; a FortiGate forwards to at most "
                                  f"{len(SYSLOG_SLOTS)} (log syslogd, syslogd2, syslogd3, syslogd4)")
    result: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    for index, item in enumerate(items):
        where = f"settings.syslog[{index}]"
        entry = syslog_server(target, item, where)
        host, port, transport = entry["host"], entry["port"], entry["transport"]
        if (host, port) in seen:
            raise DriverError(target, f"{where}: {host}:{port} is given twice")
        seen.add((host, port))
        # mode reliable: syslog over TCP (RFC 6587); udp: RFC 3164 over UDP
        result.append({"values": {"status": "enable", "server": host, "port": port,
                                  "mode": "reliable" if transport == "tcp" else "udp"}})
    return result
