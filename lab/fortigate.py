"""FortiGate firewall emulator (``FortiGateFirewall``).

Speaks the FortiOS 7.x REST API over HTTPS the way a FortiGate does: a REST
API administrator's token as ``Authorization: Bearer <token>`` (or the
``access_token`` query parameter), the administrator's trusted hosts, JSON
answers in the FortiOS envelope (``http_method``, ``results``, ``vdom``,
``path``, ``name``, ``status``, ``http_status``, ``serial``, ``version``,
``build``; cmdb writes add ``mkey``, ``revision``, ``revision_changed``,
``old_revision``) and the FortiOS error answers.

What is emulated, and where the facts come from:

* envelope, HTTP status codes (200, 400, 401 "not authorized", 403
  "forbidden", 404 "resource not found" with error -3 "entry not found",
  405 "method not allowed", 424 "failed dependency", 500) and the token /
  trusted host rules: the FortiOS REST API reference (Fortinet Developer
  Network, "FortiOS REST API" > "HTTP status codes"; "REST API administrator"
  in the FortiOS 7.4 Administration Guide, ``config system api-user``,
  ``trusthost``), and the fortinet.fortios collection 2.6
  (``plugins/module_utils/fortios/fortios.py``: ``formatresponse``,
  ``fortios_error_codes`` {-3: "Object not found", -61: "Command error"};
  modules decide "changed" by ``revision_changed``).
* log-in of the collection: ``plugins/httpapi/fortios.py`` sends every
  request with the Bearer header, checks the token with
  ``GET /api/v2/monitor/system/status`` (401 = invalid token) and reads the
  FortiOS ``version`` from that answer (``update_system_version``) for the
  modules' version checks.
* monitor endpoints: ``plugins/modules/fortios_monitor_fact.py`` (selectors
  ``system_status``, ``system_firmware``, ``system_firmware_upgrade-paths``,
  ``system_resource_usage``, ``license_status``, ``web-ui_state``) and
  ``plugins/modules/fortios_monitor.py`` (``backup.system.config``,
  ``upgrade.system.firmware`` with ``source`` fortiguard, ``update.system.fortiguard``).
* configuration backup: ``GET`` up to FortiOS 7.4.4, ``POST`` only from 7.4.5
  and on 7.6 (GET answers 405); fortinet-ansible-dev/ansible-galaxy-fortios-collection
  issues #350, #361 and #414, ipspace/netlab pull request #3465. The answer is
  the configuration file as text (the collection keeps it as ``meta.raw``).
* cmdb tables: ``fortios_firewall_policy.py`` (``policyid`` is the mkey;
  ``srcintf``/``dstintf``/``srcaddr``/``dstaddr``/``service`` are lists of
  ``{"name": ...}``, ``action`` accept/deny, ``logtraffic``, ``comments``,
  ``send_deny_packet``), ``fortios_firewall_address.py`` (``subnet``),
  ``fortios_firewall_service_custom.py`` (``protocol`` TCP/UDP/SCTP,
  ``tcp_portrange``, ``udp_portrange``), ``fortios_log_syslogd_setting.py``
  (and ``syslogd2``..``syslogd4``: ``status``, ``server``, ``mode`` udp /
  legacy-reliable / reliable, ``port``, ``facility``); policy order with
  ``PUT ...?action=move&before=|after=`` (``move_fortios_firewall``).

The device state (``self.state``) holds host name, firmware version and the
images FortiGuard offers, the FortiGuard signature packages, the REST API
administrator (name, trusted hosts) and the cmdb tables. The backup is
rendered from the state, so a policy written through the API is in the next
backup. A firmware upgrade downloads, reboots the device by itself and
``on_boot`` applies the new version.

Lab faults: ``latency`` before every answer, ``error_rate`` answers 500,
``drop_rate`` closes the connection without an answer, ``truncate_backup`` /
``corrupt_backup`` damage the backup, ``refuse_auth`` answers 401,
``reboot_never_returns`` keeps the box down after the upgrade reboot,
``firmware_fail`` fails the image download (the version stays).
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import ipaddress
import json
import logging
import random
import re
import secrets
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from lab import https
from lab.core import Device

log = logging.getLogger("lab.fortigate")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUN_DIR = ROOT / ".lab"

# (version, build) of FortiOS images; the builds are those of the published releases
BUILDS = {"7.2.8": 1639, "7.2.10": 1706, "7.4.3": 2573, "7.4.4": 2662, "7.4.5": 2702, "7.4.7": 2731,
          "7.6.0": 3401, "7.6.1": 3462}
DEFAULT_VERSION = "7.4.4"
DEFAULT_LATEST = "7.4.7"
# FortiOS upgrade path tool: the hops a box takes (from -> to); others go straight to the target
UPGRADE_HOPS = {"7.2.8": "7.2.10", "7.2.10": "7.4.3", "7.4.3": "7.4.4"}

TABLES = {
    # path/name -> mkey field (None: a setting, one object without mkey)
    "firewall/policy": "policyid",
    "firewall/address": "name",
    "firewall.service/custom": "name",
    "system/interface": "name",
    "log.syslogd/setting": None,
    "log.syslogd2/setting": None,
    "log.syslogd3/setting": None,
    "log.syslogd4/setting": None,
}
# fields of a new entry before the body is applied (FortiOS defaults, ``get system ...`` of a 7.4 box)
DEFAULTS: dict[str, dict[str, Any]] = {
    "firewall/policy": {"name": "", "uuid": "", "srcintf": [], "dstintf": [], "action": "deny",
                        "srcaddr": [], "dstaddr": [], "service": [], "schedule": "always", "status": "enable",
                        "logtraffic": "utm", "nat": "disable", "send-deny-packet": "disable", "comments": ""},
    "firewall/address": {"uuid": "", "type": "ipmask", "subnet": "0.0.0.0 0.0.0.0", "comment": ""},
    "firewall.service/custom": {"protocol": "TCP/UDP/SCTP", "tcp-portrange": "", "udp-portrange": "",
                                "sctp-portrange": "", "category": "", "comment": ""},
    "system/interface": {"vdom": "root", "ip": "0.0.0.0 0.0.0.0", "type": "physical", "alias": ""},
}
SYSLOG_DEFAULT = {"status": "disable", "server": "", "mode": "udp", "port": 514, "facility": "local7",
                  "source-ip": "", "format": "default", "priority": "default", "max-log-rate": 0,
                  "enc-algorithm": "disable", "certificate": "", "interface-select-method": "auto", "interface": ""}
REFERENCES = {"srcintf": "system/interface", "dstintf": "system/interface", "srcaddr": "firewall/address",
              "dstaddr": "firewall/address", "service": "firewall.service/custom"}
PREDEFINED_ADDRESSES = ("all", "none")
PREDEFINED_SERVICES = ("ALL", "ALL_TCP", "ALL_UDP", "ALL_ICMP", "HTTP", "HTTPS", "DNS", "SSH", "NTP")
SECRET_FIELDS = ("password", "passwd", "psksecret", "private-key", "secret", "key")


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


def _json(data: Any, status: int = 200) -> web.Response:
    # FortiOS answers pretty-printed JSON (indent 2) as application/json
    return web.Response(body=json.dumps(data, indent=2).encode(), status=status,
                        headers={"Content-Type": "application/json"})


class FortiGateFirewall(Device):
    vendor = "fortigate"
    role = "firewall"
    model = "FortiGate-60F"
    default_port = 443
    protocol = "https"
    # the 60F's internal switch and its DMZ port (the guest network of a lab practice)
    lab_interfaces = ("internal", "dmz")

    MODEL_CODE = "FGT60F"

    def __init__(self, name: str, site_id: str, address: str, port: int | None = None,
                 username: str | None = None, password: str | None = None,
                 reboot_seconds: float = 3.0, run_dir: Path | None = None, *,
                 hostname: str | None = None, firmware_version: str = DEFAULT_VERSION,
                 firmware_latest: str | None = None, firmware_seconds: float = 1.0,
                 trusted_hosts: tuple[str, ...] = ("127.0.0.0/8",)) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else DEFAULT_RUN_DIR
        self.firmware_seconds = firmware_seconds
        self._init = {"name": name, "site_id": site_id, "hostname": hostname or f"FGT-{site_id}-{name}",
                      "firmware_version": firmware_version, "firmware_latest": firmware_latest or DEFAULT_LATEST,
                      "trusted_hosts": list(trusted_hosts)}
        self.staged_version: str | None = None
        self._job: asyncio.Task | None = None
        super().__init__(name=name, site_id=site_id, address=address, port=port, username=username or "api-admin",
                         password=password, reboot_seconds=reboot_seconds)

    @classmethod
    def random_credentials(cls) -> tuple[str, str]:
        """A REST API administrator and its 30-character token (``execute api-user
        generate-key``: letters and digits)."""
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        return f"api-{secrets.token_hex(3)}", "".join(secrets.choice(alphabet) for _ in range(30))

    # -- state ---------------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        init = self._init
        seed = hashlib.sha256(f"{init['site_id']}/{init['name']}".encode()).hexdigest()
        day = 86400
        now = int(time.time())
        return {
            "hostname": init["hostname"],
            "serial": f"{self.MODEL_CODE}TK{int(seed[:8], 16) % 10 ** 8:08d}",
            "firmware_version": init["firmware_version"],
            "firmware_latest": init["firmware_latest"],
            "api_user": {"name": self.username,
                         "trusthost": list(init["trusted_hosts"])},
            # FortiGuard packages: version and last update (epoch seconds)
            "fortiguard": {"antivirus": {"engine": ["7.00030", now - 9 * day], "db": ["92.08000", now - 3 * day]},
                           "ips": {"engine": ["7.01013", now - 9 * day], "db": ["29.00870", now - 3 * day]},
                           "appctrl": {"db": ["29.00870", now - 3 * day]}},
            "revision": 1,
            "tables": {
                "system/interface": {"wan1": {"name": "wan1", **DEFAULTS["system/interface"], "ip": "0.0.0.0 0.0.0.0"},
                                     "internal": {"name": "internal", **DEFAULTS["system/interface"],
                                                  "ip": "192.168.1.99 255.255.255.0", "type": "hard-switch"},
                                     "dmz": {"name": "dmz", **DEFAULTS["system/interface"],
                                             "ip": "10.10.10.1 255.255.255.0"}},
                "firewall/address": {},
                "firewall.service/custom": {},
                "firewall/policy": {},
                **{f"log.{slot}/setting": dict(SYSLOG_DEFAULT) for slot in ("syslogd", "syslogd2", "syslogd3",
                                                                             "syslogd4")},
            },
            "policy_order": [],
            "cpu": 3, "memory": 41,
        }

    @property
    def build(self) -> int:
        return BUILDS.get(self.state["firmware_version"], 2000)

    def on_boot(self) -> None:
        if self.staged_version:
            self.state["firmware_version"] = self.staged_version
            self.staged_version = None

    async def _open_listeners(self) -> list[Any]:
        return await https.serve(self._handle, self.address, self.port, self.run_dir)

    # -- request handling ----------------------------------------------------------------
    def envelope(self, method: str, path: str, name: str, status: int = 200, **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"http_method": method}
        data.update(extra)
        data.update({"vdom": "root", "path": path, "name": name,
                     "status": "success" if status == 200 else "error", "http_status": status,
                     "serial": self.state["serial"], "version": "v" + self.state["firmware_version"],
                     "build": self.build})
        return data

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read() if request.body_exists else b""
        await self.faults.delay()
        dropped = https.maybe_drop(request, self.faults)    # the connection is closed without an answer
        if dropped is not None:
            return dropped
        try:
            response = self._dispatch(request, body)
        except Exception:  # noqa: BLE001 - a daemon failure answers 500
            log.exception("%s: %s %s failed", self.name, request.method, request.path)
            response = web.Response(status=500, text="Internal Server Error")
        response.headers["Server"] = "xxxxxxxx-xxxxx"        # FortiOS hides the server name
        self.requests += 1
        return response

    def _authenticated(self, request: web.BaseRequest) -> int:
        """200, or the refusal's status: 401 no or a wrong token, 403 not from a trusted host."""
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Bearer ") else request.query.get("access_token", "")
        if not token:
            return 401
        self.login_attempts += 1
        if self.faults.refuse_auth or not secrets.compare_digest(token, self.password):
            return 401
        peer = ipaddress.ip_address(request.remote or "127.0.0.1")
        if not any(peer in ipaddress.ip_network(net, strict=False) for net in self.state["api_user"]["trusthost"]):
            return 403
        return 200

    def _dispatch(self, request: web.BaseRequest, body: bytes) -> web.StreamResponse:
        method, parts = request.method, [unquote(p) for p in request.path.split("/") if p]
        if len(parts) < 4 or parts[:2] != ["api", "v2"] or parts[2] not in ("cmdb", "monitor"):
            return web.Response(status=404, text="Not Found", content_type="text/html")
        kind, path, name, rest = parts[2], parts[3], parts[4] if len(parts) > 4 else "", parts[5:]
        auth = self._authenticated(request)
        if auth != 200:
            return _json({"http_method": method, "status": "error", "http_status": auth}, auth)
        if self.faults.roll_error():
            return _json(self.envelope(method, path, name, 500), 500)
        try:
            data = json.loads(body) if body.strip() else None
        except ValueError:
            return _json(self.envelope(method, path, name, 400, error=-1), 400)
        if kind == "cmdb":
            return self._cmdb(method, path, name, rest, request.query, data)
        handler = MONITOR.get((f"{path}/{name}" + "".join("/" + r for r in rest)))
        if handler is None:
            return _json(self.envelope(method, path, name, 404), 404)
        return handler(self, request, method, path, name, data)

    # -- cmdb (firewall policy, addresses, services, syslogd settings) ----------------------
    def _bump(self) -> tuple[str, str]:
        old = self._revision()
        self.state["revision"] += 1
        return old, self._revision()

    def _revision(self) -> str:
        return hashlib.md5(f"{self.state['serial']}:{self.state['revision']}".encode(),  # noqa: S324
                           usedforsecurity=False).hexdigest()

    def _cmdb(self, method: str, path: str, name: str, rest: list[str], query: Any,
              data: Any) -> web.Response:
        table = f"{path}/{name}"
        if table not in TABLES:
            return _json(self.envelope(method, path, name, 404), 404)
        mkeyname = TABLES[table]
        store = self.state["tables"][table]
        if query.get("action") == "schema":
            return _json(self.envelope(method, path, name, results={"name": name, "path": path,
                                                                     "mkey": mkeyname or ""}))
        if mkeyname is None:
            return self._setting(method, path, name, store, data)
        mkey = rest[0] if rest else None
        entries = self._ordered(table)
        if method == "GET":
            if mkey is None:
                return _json(self.envelope(method, path, name, results=copy.deepcopy(entries), size=len(entries),
                                           matched_count=len(entries), next_idx=len(entries) - 1,
                                           revision=self._revision()))
            if mkey not in store:
                return _json(self.envelope(method, path, name, 404, error=-3, mkey=mkey), 404)
            return _json(self.envelope(method, path, name, results=[copy.deepcopy(store[mkey])], mkey=mkey,
                                       revision=self._revision()))
        if method in ("POST", "PUT") and query.get("action") != "move" and not isinstance(data, dict):
            return _json(self.envelope(method, path, name, 400, error=-1), 400)
        if method == "POST":
            if mkey is not None:
                return _json(self.envelope(method, path, name, 405), 405)
            key = data.get(mkeyname)
            if mkeyname == "policyid":
                key = key if key not in (None, 0, "0", "") else max((int(k) for k in store), default=0) + 1
            if key in (None, ""):
                return _json(self.envelope(method, path, name, 500, error=-651), 500)
            key = str(key)
            if key in store:
                return _json(self.envelope(method, path, name, 500, error=-5, mkey=key), 500)   # entry exists
            entry = {mkeyname: int(key) if mkeyname == "policyid" else key, **copy.deepcopy(DEFAULTS[table])}
            problem = self._merge(table, entry, {k: v for k, v in data.items() if k != mkeyname})
            if problem is not None:
                return problem(method, path, name)
            if "uuid" in entry and not entry["uuid"]:
                entry["uuid"] = str(uuidlib.uuid4())
            store[key] = entry
            if table == "firewall/policy":
                self.state["policy_order"].append(key)
            old, new = self._bump()
            return _json(self.envelope(method, path, name, mkey=entry[mkeyname], revision=new,
                                       revision_changed=True, old_revision=old))
        if mkey is None:
            return _json(self.envelope(method, path, name, 405), 405)
        if mkey not in store:
            return _json(self.envelope(method, path, name, 404, error=-3, mkey=mkey), 404)
        if method == "PUT" and query.get("action") == "move":
            return self._move(method, path, name, mkey, query)
        if method == "PUT":
            entry = copy.deepcopy(store[mkey])
            problem = self._merge(table, entry, {k: v for k, v in data.items() if k != mkeyname})
            if problem is not None:
                return problem(method, path, name)
            changed = entry != store[mkey]
            old = self._revision()
            if changed:
                store[mkey] = entry
                old, _new = self._bump()
            return _json(self.envelope(method, path, name, mkey=entry[mkeyname], revision=self._revision(),
                                       revision_changed=changed, old_revision=old))
        if method == "DELETE":
            used = self._used_by(table, mkey)
            if used:
                return _json(self.envelope(method, path, name, 424, error=-23, mkey=mkey), 424)
            del store[mkey]
            if table == "firewall/policy":
                self.state["policy_order"].remove(mkey)
            old, new = self._bump()
            return _json(self.envelope(method, path, name, mkey=mkey, revision=new, revision_changed=True,
                                       old_revision=old))
        return _json(self.envelope(method, path, name, 405), 405)

    def _ordered(self, table: str) -> list[dict[str, Any]]:
        store = self.state["tables"][table]
        if table == "firewall/policy":
            return [store[k] for k in self.state["policy_order"]]
        return [store[k] for k in sorted(store)]

    def _move(self, method: str, path: str, name: str, mkey: str, query: Any) -> web.Response:
        order = self.state["policy_order"]
        anchor = query.get("before") or query.get("after")
        if not anchor or anchor not in order or anchor == mkey:
            return _json(self.envelope(method, path, name, 404, error=-3, mkey=mkey), 404)
        before = list(order)
        order.remove(mkey)
        index = order.index(anchor) + (1 if query.get("after") else 0)
        order.insert(index, mkey)
        changed = order != before
        old = self._revision()
        if changed:
            old, _new = self._bump()
        return _json(self.envelope(method, path, name, mkey=int(mkey), revision=self._revision(),
                                   revision_changed=changed, old_revision=old))

    def _merge(self, table: str, entry: dict[str, Any], data: dict[str, Any]) -> Any:
        """Apply a request body (hyphenated field names) to an entry; a reference to an
        object that does not exist is refused with 424 (failed dependency)."""
        for key, value in data.items():
            key = key.replace("_", "-")
            if table == "firewall/policy" and key in REFERENCES:
                if not isinstance(value, list):
                    return lambda m, p, n: _json(self.envelope(m, p, n, 500, error=-651), 500)
                names = [str(v.get("name") if isinstance(v, dict) else v) for v in value]
                target = self.state["tables"][REFERENCES[key]]
                known = PREDEFINED_ADDRESSES if "addr" in key else PREDEFINED_SERVICES if key == "service" else ("any",)
                for item in names:
                    if item not in target and item not in known:
                        return lambda m, p, n: _json(self.envelope(m, p, n, 424, error=-3), 424)
                entry[key] = [{"name": item, "q_origin_key": item} for item in names]
            elif key in ("policyid", "port", "max-log-rate"):
                try:
                    entry[key] = int(value)
                except (TypeError, ValueError):
                    return lambda m, p, n: _json(self.envelope(m, p, n, 500, error=-651), 500)
            else:
                entry[key] = value
        return None

    def _used_by(self, table: str, mkey: str) -> bool:
        for policy in self.state["tables"]["firewall/policy"].values():
            for field, target in REFERENCES.items():
                if target == table and any(ref["name"] == mkey for ref in policy.get(field, [])):
                    return True
        return False

    def _setting(self, method: str, path: str, name: str, store: dict[str, Any], data: Any) -> web.Response:
        if method == "GET":
            return _json(self.envelope(method, path, name, results=copy.deepcopy(store), revision=self._revision()))
        if method != "PUT":
            return _json(self.envelope(method, path, name, 405), 405)
        if not isinstance(data, dict):
            return _json(self.envelope(method, path, name, 400, error=-1), 400)
        entry = copy.deepcopy(store)
        problem = self._merge("", entry, data)
        if problem is not None:
            return problem(method, path, name)
        if entry.get("mode") not in ("udp", "legacy-reliable", "reliable") or \
                entry.get("status") not in ("enable", "disable") or not 0 <= int(entry.get("port", 0)) <= 65535:
            return _json(self.envelope(method, path, name, 500, error=-651), 500)      # "Command error"
        changed = entry != store
        old = self._revision()
        if changed:
            store.clear()
            store.update(entry)
            old, _new = self._bump()
        return _json(self.envelope(method, path, name, revision=self._revision(), revision_changed=changed,
                                   old_revision=old))

    # -- monitor ---------------------------------------------------------------------------
    def status(self, request: web.BaseRequest, method: str, path: str, name: str, data: Any) -> web.Response:
        if method != "GET":
            return _json(self.envelope(method, path, name, 405), 405)
        return _json(self.envelope(method, path, name, action="", results={
            "model_name": "FortiGate", "model_number": self.model.split("-", 1)[1], "model": self.MODEL_CODE,
            "hostname": self.state["hostname"], "log_disk_status": "available"}))

    def web_ui_state(self, request: web.BaseRequest, method: str, path: str, name: str, data: Any) -> web.Response:
        now_ms = int(time.time() * 1000)
        return _json(self.envelope(method, path, name, action="", results={
            "model_name": "FortiGate", "model_number": self.model.split("-", 1)[1], "model": self.MODEL_CODE,
            "hostname": self.state["hostname"], "snapshot_utc_time": now_ms,
            "utc_last_reboot": int(self.boot_time * 1000), "time_zone_offset": 60, "time_zone_text": "Europe/Berlin",
            "fortiguard_tier": "", "is_vdom_enabled": False}))

    def resource_usage(self, request: web.BaseRequest, method: str, path: str, name: str,
                       data: Any) -> web.Response:
        now = int(time.time())

        def series(value: int) -> list[dict[str, Any]]:
            return [{"current": value, "historical": {"1-min": {"values": [[now * 1000, value]], "max": value,
                                                               "min": value, "average": value,
                                                               "start": now * 1000 - 60000, "end": now * 1000}}}]
        return _json(self.envelope(method, path, name, action="", results={
            "cpu": series(self.state["cpu"]), "mem": series(self.state["memory"]), "disk": series(7),
            "session": series(312)}))

    def _image(self, version: str, source: str) -> dict[str, Any]:
        major, minor, patch = version_key(version)[:3]
        build = BUILDS.get(version, 2000)
        return {"id": f"{self.MODEL_CODE}-{major}.{minor}.{patch}-b{build}", "version": f"v{version}",
                "major": major, "minor": minor, "patch": patch, "build": build, "branch-point": build,
                "platform-id": self.MODEL_CODE, "source": source, "release-type": "GA"}

    def _available(self) -> list[str]:
        current, latest = self.state["firmware_version"], self.state["firmware_latest"]
        return sorted((v for v in BUILDS if version_key(current) < version_key(v) <= version_key(latest)),
                      key=version_key, reverse=True)

    def firmware(self, request: web.BaseRequest, method: str, path: str, name: str, data: Any) -> web.Response:
        return _json(self.envelope(method, path, name, action="", results={
            "current": self._image(self.state["firmware_version"], "fortinet"),
            "available": [self._image(v, "fortiguard") for v in self._available()]}))

    def upgrade_paths(self, request: web.BaseRequest, method: str, path: str, name: str,
                      data: Any) -> web.Response:
        steps = []
        for version in sorted(BUILDS, key=version_key):
            target = UPGRADE_HOPS.get(version)
            if target is None:
                later = [v for v in BUILDS if version_key(v) > version_key(version)
                         and version_key(v)[:2] == version_key(version)[:2]]
                target = max(later, key=version_key) if later else None
            if target:
                steps.append({"from": {k: v for k, v in self._image(version, "").items()
                                       if k in ("major", "minor", "patch", "build")},
                              "to": {k: v for k, v in self._image(target, "").items()
                                     if k in ("major", "minor", "patch", "build")}})
        return _json(self.envelope(method, path, name, action="", results=steps))

    def firmware_upgrade(self, request: web.BaseRequest, method: str, path: str, name: str,
                         data: Any) -> web.Response:
        if method != "POST":
            return _json(self.envelope(method, path, name, 405), 405)
        data = data if isinstance(data, dict) else {}
        if data.get("source") != "fortiguard":
            return _json(self.envelope(method, path, name, 400, error=-1, action="upgrade"), 400)
        wanted = {self._image(v, "fortiguard")["id"]: v for v in self._available()}
        version = wanted.get(str(data.get("filename") or ""))
        if version is None:
            return _json(self.envelope(method, path, name, 404, error=-3, action="upgrade"), 404)
        if self.faults.firmware_fail:
            return _json(self.envelope(method, path, name, action="upgrade", results={
                "status": "error", "error_code": "image_download_failed",
                "error": "Failed to download the firmware image from FortiGuard"}))
        self.staged_version = version
        self.reboot(delay=max(0.2, self.firmware_seconds))
        return _json(self.envelope(method, path, name, action="upgrade", results={"status": "success"}))

    def _packages(self) -> dict[str, Any]:
        result = {}
        for service, parts in self.state["fortiguard"].items():
            result[service] = {"type": "cloud_or_module", "status": "licensed",
                               "expires": int(time.time()) + 300 * 86400,
                               **{part: {"version": v, "last_update": ts, "last_update_method": "manual"}
                                  for part, (v, ts) in parts.items()}}
        return result

    def license_status(self, request: web.BaseRequest, method: str, path: str, name: str,
                       data: Any) -> web.Response:
        return _json(self.envelope(method, path, name, action="", results={
            "forticare": {"status": "registered", "account": "praxis@example.org"}, **self._packages()}))

    def fortiguard_update(self, request: web.BaseRequest, method: str, path: str, name: str,
                          data: Any) -> web.Response:
        if method != "POST":
            return _json(self.envelope(method, path, name, 405), 405)
        now = int(time.time())
        for parts in self.state["fortiguard"].values():
            entry = parts["db"]
            if time.strftime("%Y-%m-%d", time.gmtime(entry[1])) != time.strftime("%Y-%m-%d", time.gmtime(now)):
                major, minor = entry[0].split(".")
                entry[0] = f"{major}.{int(minor) + 1:05d}"
            entry[1] = now
        return _json(self.envelope(method, path, name, action="update", results={"status": "success"}))

    def config_backup(self, request: web.BaseRequest, method: str, path: str, name: str,
                      data: Any) -> web.Response:
        post_only = version_key(self.state["firmware_version"]) >= (7, 4, 5)
        if method not in ("GET", "POST") or (method == "GET" and post_only):
            return _json(self.envelope(method, path, name, 405, action="backup"), 405)
        params = dict(request.query)
        if isinstance(data, dict):
            params.update({k: str(v) for k, v in data.items()})
        if params.get("scope") not in ("global", "vdom"):
            return _json(self.envelope(method, path, name, 400, error=-1, action="backup"), 400)
        payload = self.render_config().encode()
        if self.faults.truncate_backup:
            payload = payload[:len(payload) // 2]
        if self.faults.corrupt_backup:
            payload = garble(payload)
        stamp = time.strftime("%Y%m%d_%H%M", time.localtime())
        return web.Response(body=payload, headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f'attachment; filename="{self.state["hostname"]}_{stamp}.conf"'})

    def render_config(self) -> str:
        """The backup as ``show full-configuration`` writes it, from the state."""
        major, minor, patch = version_key(self.state["firmware_version"])[:3]
        lines = [f"#config-version={self.MODEL_CODE}-{major}.{minor:02d}-FW-build{self.build}-240514:"
                 f"opmode=0:vdom=0:user={self.state['api_user']['name']}",
                 "#conf_file_ver=" + str(int(hashlib.sha1(self._revision().encode(), usedforsecurity=False)
                                            .hexdigest()[:12], 16)),
                 f"#buildno={self.build}", "#global_vdom=1",
                 "config system global",
                 '    set alias "' + self.MODEL_CODE + '"',
                 f'    set hostname "{self.state["hostname"]}"',
                 '    set timezone "Europe/Berlin"',
                 "end",
                 "config system admin",
                 '    edit "admin"',
                 "        set accprofile \"super_admin\"",
                 "        set password ENC SH2" + hashlib.sha256(self.state["serial"].encode()).hexdigest() +
                 hashlib.sha1(self.state["serial"].encode(), usedforsecurity=False).hexdigest()[:20],
                 "    next",
                 "end",
                 "config system api-user",
                 f'    edit "{self.state["api_user"]["name"]}"',
                 "        set api-key ENC SH2" + hashlib.sha256(self.password.encode()).hexdigest(),
                 '        set accprofile "rest_api_admin"',
                 "        config trusthost"]
        for index, net in enumerate(self.state["api_user"]["trusthost"], 1):
            network = ipaddress.ip_network(net, strict=False)
            lines += [f"            edit {index}", f"                set ipv4-trusthost {network.network_address} "
                                                    f"{network.netmask}", "            next"]
        lines += ["        end", "    next", "end"]
        lines += self._render_table("system interface", "system/interface")
        lines += self._render_table("firewall address", "firewall/address")
        lines += self._render_table("firewall service custom", "firewall.service/custom")
        lines += self._render_table("firewall policy", "firewall/policy")
        for slot in ("syslogd", "syslogd2", "syslogd3", "syslogd4"):
            lines.append(f"config log {slot} setting")
            for key, value in self.state["tables"][f"log.{slot}/setting"].items():
                if value not in ("", None) and value != SYSLOG_DEFAULT.get(key):
                    lines.append(f"    set {key} {_cli(value)}")
            lines.append("end")
        return "\n".join(lines) + "\n"

    def _render_table(self, title: str, table: str) -> list[str]:
        mkeyname = TABLES[table]
        lines = [f"config {title}"]
        for entry in self._ordered(table):
            key = entry[mkeyname]
            lines.append(f"    edit {key}" if isinstance(key, int) else f'    edit "{key}"')
            for field, value in entry.items():
                if field in (mkeyname, "q_origin_key") or value in ("", None, []):
                    continue
                lines.append(f"        set {field} {_cli(value)}")
            lines.append("    next")
        lines.append("end")
        return lines


def _cli(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(f'"{v["name"] if isinstance(v, dict) else v}"' for v in value)
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return f'"{text}"' if (" " in text and not re.fullmatch(r"[\d.]+ [\d.]+", text)) or "/" in text \
        or text == "" else text


def garble(payload: bytes) -> bytes:
    """Overwrite a run of bytes in the middle with noise (a NUL and invalid UTF-8 included)."""
    middle, width = len(payload) // 2, max(16, len(payload) // 50)
    noise = bytearray(random.randbytes(width))
    noise[0], noise[width // 2] = 0x00, 0xFF
    return payload[:middle] + bytes(noise) + payload[middle + width:]


MONITOR = {
    "system/status": FortiGateFirewall.status,
    "web-ui/state": FortiGateFirewall.web_ui_state,
    "system/resource/usage": FortiGateFirewall.resource_usage,
    "system/firmware": FortiGateFirewall.firmware,
    "system/firmware/upgrade-paths": FortiGateFirewall.upgrade_paths,
    "system/firmware/upgrade": FortiGateFirewall.firmware_upgrade,
    "license/status": FortiGateFirewall.license_status,
    "system/fortiguard/update": FortiGateFirewall.fortiguard_update,
    "system/config/backup": FortiGateFirewall.config_backup,
}
