"""OPNsense firewall emulator (``OPNsenseFirewall``).

Speaks the OPNsense REST API over HTTPS the way a real box does: HTTP Basic
authentication with an API key (user name) and secret (password), JSON
answers rendered like PHP's ``json_encode`` (escaped slashes, ``[]`` for
empty lists), ``Server: OPNsense``, the same routing rules (``search_rule``
and ``searchRule`` both reach ``searchRuleAction``; unknown controllers,
actions or missing parameters answer 404 before authentication is looked at).

What is emulated, and where the facts come from (all in opnsense/core unless
noted; paths below ``src/opnsense/``):

* routing and error bodies: ``www/api.php``, ``mvc/app/library/OPNsense/Mvc/Router.php``
  and ``Dispatcher.php``; authentication: ``mvc/app/controllers/OPNsense/Base/ApiControllerBase.php``
* configuration backup: ``.../Core/Api/BackupController.php`` (``downloadAction``)
* firmware: ``.../Core/Api/FirmwareController.php``, ``scripts/firmware/check.sh``,
  ``config.sh``, ``update.sh``, ``product.php``, ``latest.php``, ``read.sh``
* IDS: ``.../IDS/Api/ServiceController.php``, ``.../IDS/Api/SettingsController.php``,
  ``scripts/suricata/metadata/rules/et-open.xml``
* diagnostics: ``.../Diagnostics/Api/SystemController.php``, ``InterfaceController.php``
  (``scripts/interfaces/list_arp.py``, ``list_ndp.py``, ``scripts/routes/show_routes.py``),
  ``ActivityController.php`` (``scripts/system/activity.py``), ``scripts/system/swapinfo.py``
* core firmware info and changelog, system status, services: ``.../Core/Api/FirmwareController.php``
  (``infoAction``, ``changelogAction``), ``scripts/firmware/changelog.sh``, ``version/core.in`` with
  ``Mk/version.mk`` (``product_conflicts``), ``.../Core/Api/SystemController.php``,
  ``mvc/app/library/OPNsense/System/SystemStatus.php``, ``.../Core/Api/ServiceController.php`` with
  the service lists of ``etc/inc/plugins.inc.d/*.inc``; search grids as in
  ``.../Base/ApiControllerBase.php`` (``searchRecordsetBase``)
* gateways: ``.../Routes/Api/GatewayController.php``, ``scripts/routes/gateway_status.php``
* alias tables: ``.../Firewall/Api/AliasUtilController.php``, ``scripts/filter/list_tables.py``,
  ``list_table.py``
* firewall rules: ``.../Firewall/Api/FilterController.php``, ``FilterBaseController.php``,
  ``mvc/app/models/OPNsense/Firewall/Filter.xml``, ``.../Base/ApiMutableModelControllerBase.php``,
  ``.../Base/UIModelGrid.php`` and the field types in ``.../Base/FieldTypes/``; savepoint,
  ``apply/<revision>``, ``cancelRollback`` and ``revert`` as in ``FilterBaseController.php`` of the
  24.x/25.x releases (the main branch has since dropped them), ``scripts/filter/rollback_timer.php``,
  ``rollback_cancel.php`` and ``mvc/app/models/OPNsense/Firewall/Filter.php`` (``rollback()``)
* syslog: ``.../Syslog/Api/SettingsController.php``, ``ServiceController.php``,
  ``mvc/app/models/OPNsense/Syslog/Syslog.xml``, ``.../Base/ApiMutableServiceControllerBase.php``
* lighttpd: ``etc/inc/plugins.inc.d/webgui.inc`` (``server.tag = "OPNsense"``)

The device state (``self.state``) holds what the control API may change:
host name, firmware version and the version the mirror offers, the firewall
rules and syslog destinations (keyed by UUID), the IDS settings and the date
of the last rule download. ``GET /api/core/backup/download/this`` renders
``config.xml`` from it, so a rule added through the API is in the next backup.

Deliberate lab choices, kept close to the real behaviour:

* A firmware check (``POST /api/core/firmware/check``) runs in the background
  for ``firmware_seconds / 4`` and writes its log like ``check.sh``; the update
  (``update`` or ``upgrade``) writes its log line by line over
  ``firmware_seconds``, ends with ``***REBOOT***`` and reboots the device,
  which comes back with the offered version. After the reboot the progress log
  ends in ``***DONE***`` (status ``done``) and no check result is stored
  (status ``none``), as after a real reboot that cleared ``/tmp``.
* ``faults.error_rate``: that share of API calls answers 500 with
  ``{"errorMessage": "Unexpected error, check log for details"}`` (what
  ``www/api.php`` sends for an uncaught exception); ``faults.drop_rate``: that
  share of requests has its connection torn down without an answer
  (``lab.https.drop``).
* ``faults.firmware_fail``: the update log ends in a package download error,
  ``upgradestatus`` reports ``error`` and the version stays.
* ``faults.truncate_backup``: the download is cut in half (with a matching
  Content-Length, so the client sees a complete but broken file);
  ``faults.corrupt_backup``: bytes in the middle are garbled (status 200).
* Every configuration save keeps the filter rules of that revision (the
  ``/conf/backup/config-<time>.xml`` files, at most ``RETENTION``);
  ``apply/<revision>`` starts a rollback timer of ``rollback_seconds`` (60 as in
  ``rollback_timer.php``) that puts the rules of that revision back unless
  ``cancelRollback/<revision>`` comes first. A reboot ends pending timers.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import datetime as dt
import hashlib
import ipaddress
import json
import logging
import random
import re
import secrets
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, quote_plus
from zoneinfo import ZoneInfo

from aiohttp import web

from lab import https
from lab.core import Device

log = logging.getLogger("lab.opnsense")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUN_DIR = ROOT / ".lab"

DEFAULT_VERSION = "25.1.4"
DEFAULT_LATEST = "25.1.5"

# series -> (nickname, uname -sr, openssl version); opnsense.org release notes
SERIES = {
    "24.1": ("Savvy Shark", "FreeBSD 13.2-RELEASE-p11", "OpenSSL 3.0.13 30 Jan 2024"),
    "24.7": ("Thriving Tiger", "FreeBSD 14.1-RELEASE-p6", "OpenSSL 3.0.15 3 Sep 2024"),
    "25.1": ("Ultimate Unicorn", "FreeBSD 14.2-RELEASE-p3", "OpenSSL 3.0.16 11 Feb 2025"),
    "25.7": ("Visionary Viper", "FreeBSD 14.3-RELEASE-p2", "OpenSSL 3.0.17 1 Jul 2025"),
}

# ET open rule files the lab firewalls have enabled
# (scripts/suricata/metadata/rules/et-open.xml: prefix "ET open", file descriptions)
ET_OPEN_FILES = ("botcc", "compromised", "drop", "dshield", "emerging-exploit", "emerging-malware",
                 "emerging-scan", "emerging-trojan", "emerging-web_client", "tor")

# Services of a 25.1 box as `service list` reports them: (name, description, locked or nocheck);
# names and descriptions from the *_services() functions in etc/inc/plugins.inc.d/.
SERVICES = (
    ("configd", "System Configuration Daemon", True), ("cron", "Cron", False),
    ("dhcpd", "DHCPv4 Server", False), ("login", "Users and Groups", True),
    ("ntpd", "Network Time Daemon", False), ("openssh", "Secure Shell Daemon", False),
    ("pf", "Packet Filter", True), ("routing", "System routing", True),
    ("suricata", "Intrusion Detection", False), ("syslog-ng", "Syslog-ng Daemon", False),
    ("unbound", "Unbound DNS", False), ("webgui", "Web GUI", True),
)
# Mk/version.mk CORE_CONFLICTS (firewall wireguard wireguard-go), plus -devel, "os-" prefixed, sorted
PRODUCT_CONFLICTS = ("os-firewall os-firewall-devel os-wireguard os-wireguard-devel os-wireguard-go "
                     "os-wireguard-go-devel")

RETENTION = 60          # system/backupcount default; FilterBaseController::savepointAction "retention"
ROLLBACK_SECONDS = 60.0  # scripts/filter/rollback_timer.php: "give the api 60 seconds to callback"

JSON_CT = "application/json; charset=UTF-8"       # Phalcon setContentType('application/json', 'UTF-8')
ERROR_CT = "application/json;charset=utf-8"       # www/api.php error_output()

# -- small helpers ----------------------------------------------------------------------------

def php_json(data: Any) -> str:
    """json_encode() without flags: compact, ASCII only, slashes escaped."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/")


def php_date(moment: dt.datetime) -> str:
    """PHP date('D M j G:i:s T Y')."""
    return f"{moment:%a %b} {moment.day} {moment.hour}:{moment:%M:%S %Z %Y}"


def bsd_date(moment: dt.datetime) -> str:
    """date(1) default output on FreeBSD: '%a %b %e %H:%M:%S %Z %Y'."""
    return f"{moment:%a %b} {moment.day:2d} {moment:%H:%M:%S %Z %Y}"


def format_bytes(value: float) -> str:
    """FirmwareController::formatBytes()."""
    if value >= 1024 ** 3:
        return f"{value / 1024 ** 3:.1f}GiB"
    if value >= 1024 ** 2:
        return f"{value / 1024 ** 2:.1f}MiB"
    if value >= 1024:
        return f"{value / 1024:.1f}KiB"
    return f"{int(value)}B"


def natural_key(value: str) -> list[Any]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part.lower())
            for part in re.split(r"(\d+)", value) if part != ""]


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version.split("_")[0]))


def series_of(version: str) -> str:
    return ".".join(version.split("_")[0].split(".")[:2])


def _hash_chars(seed: str, alphabet: str, count: int) -> str:
    out, block = [], b""
    counter = 0
    while len(out) < count:
        block = hashlib.sha512(f"{seed}:{counter}".encode()).digest()
        out.extend(alphabet[b % len(alphabet)] for b in block)
        counter += 1
    return "".join(out[:count])


CRYPT64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def bcrypt_like(seed: str, cost: int = 11) -> str:
    """A bcrypt-format string ($2y$, 22 salt + 31 hash characters)."""
    return f"$2y${cost:02d}${_hash_chars(seed, CRYPT64, 53)}"


def sha512_crypt_like(seed: str) -> str:
    """A crypt(3) SHA-512 string as OPNsense stores API secrets."""
    return f"$6${_hash_chars(seed + 'salt', CRYPT64, 16)}${_hash_chars(seed, CRYPT64, 86)}"


def set_php_key(target: dict[str, Any], key: str, value: str) -> None:
    """Place a PHP-style form key (``rule[action]``) into nested dicts, as $_POST does."""
    head, bracket, rest = key.partition("[")
    if not bracket or not head:
        target[key] = value
        return
    parts = [head] + re.findall(r"\[([^\]]*)\]", "[" + rest)
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return
    node[parts[-1] if parts[-1] else str(len(node))] = value


# -- model fields (mvc/app/models/OPNsense/Base/FieldTypes/*) ---------------------------------

MSG_REQUIRED = "A value is required."                 # BaseField::getValidators (PresenceOf)
MSG_OPTION = "Option not in list."                    # BaseListField::defaultValidationMessage
MSG_BOOL = "Value should be a boolean (0,1)."         # BooleanField::defaultValidationMessage
MSG_INT = "Invalid integer value."                    # IntegerField::defaultValidationMessage
MSG_HOST = "Please specify a valid IP address or hostname."   # HostnameField
MSG_PORT = "Please specify a valid port number (1-65535)."    # PortField::getValidationMessage

# PortField::$wellknownservices
WELL_KNOWN_PORTS = frozenset((
    "any", "cvsup", "domain", "ftp", "hbci", "http", "https", "aol", "auth", "imap", "imaps", "ipsec-msft",
    "isakmp", "l2f", "ldap", "ms-streaming", "afs3-fileserver", "microsoft-ds", "ms-wbt-server", "wins",
    "msnp", "nntp", "ntp", "netbios-dgm", "netbios-ns", "netbios-ssn", "openvpn", "pop3", "pop3s", "pptp",
    "radius", "radius-acct", "avt-profile-1", "sip", "smtp", "igmpv3lite", "urd", "snmp", "snmptrap", "ssh",
    "nat-stun-port", "submission", "teredo", "telnet", "tftp", "rfb"))

# ProtocolField: "any", the <AddOptions> of Filter.xml and /etc/protocols (upper case)
PROTOCOLS = {p: p for p in ("any", "TCP/UDP", "ICMP", "IGMP", "TCP", "UDP", "GRE", "ESP", "AH",
                            "IPV6-ICMP", "OSPF", "PIM", "SCTP", "CARP", "PFSYNC")}


class Field:
    """One leaf of an MVC model item, just enough of its type to validate,
    render ``getNodes()`` (get_*) and ``getNodeContent()`` (search_*)."""

    LIST_KINDS = ("option", "interface", "protocol", "keyvalue", "relation")

    def __init__(self, kind: str, default: str = "", required: bool = False, *,
                 options: dict[str, str] | None = None, multiple: bool = False,
                 minimum: int | None = None, maximum: int | None = None,
                 message: str | None = None, well_known: bool = False, ranges: bool = False,
                 blank: str = "None") -> None:
        self.kind, self.default, self.required = kind, default, required
        self.options = options or {}
        self.multiple, self.minimum, self.maximum = multiple, minimum, maximum
        self.message, self.well_known, self.ranges, self.blank = message, well_known, ranges, blank

    # option list as the field type builds it; interfaces / nets come from the device
    def option_list(self, dev: OPNsenseFirewall) -> dict[str, str]:
        if self.kind == "interface":
            return {k: v["descr"] for k, v in dev.interfaces.items()}
        if self.kind == "protocol":
            return PROTOCOLS
        return self.options

    def validate(self, value: str, dev: OPNsenseFirewall) -> str | None:
        if value == "":
            return (self.message or MSG_REQUIRED) if self.required else None
        if self.kind == "bool":
            return None if value in ("0", "1") else (self.message or MSG_BOOL)
        if self.kind == "int":
            if not re.fullmatch(r"-?\d+", value):
                return self.message or MSG_INT
            number = int(value)
            if (self.minimum is not None and number < self.minimum) or \
                    (self.maximum is not None and number > self.maximum):
                return self.message or MSG_INT
            return None
        if self.kind in self.LIST_KINDS:
            valid = self.option_list(dev)
            items = value.split(",") if self.multiple else [value]
            return None if all(i in valid for i in items) else (self.message or MSG_OPTION)
        if self.kind == "net":
            ok = all(dev.valid_network(item) for item in value.split(","))
            # NetworkAliasField::getValidationMessage says "source" for either side
            return None if ok else f"{value} is not a valid source IP address or alias."
        if self.kind == "port":
            ok = all(self._valid_port(item) for item in value.split(","))
            return None if ok else (self.message or MSG_PORT)
        if self.kind == "host":
            return None if _valid_host(value) else (self.message or MSG_HOST)
        return None

    def _valid_port(self, item: str) -> bool:
        if item.isdigit():
            return 1 <= int(item) <= 65535
        if self.well_known and item in WELL_KNOWN_PORTS:
            return True
        if self.ranges and re.fullmatch(r"\d+-\d+", item):
            low, high = (int(p) for p in item.split("-"))
            return 1 <= low < high <= 65535
        return False

    def normalize(self, value: Any) -> str:
        if isinstance(value, bool):
            value = "1" if value else "0"
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, dict):      # getNodes() style {"key": {"selected": 1}} sent back
            value = ",".join(k for k, v in value.items() if isinstance(v, dict) and v.get("selected"))
        value = "" if value is None else str(value)
        if self.kind == "port":
            value = value.strip().lower()
        elif self.kind == "host":
            value = value.strip()
        return value

    def node_data(self, value: str, dev: OPNsenseFirewall) -> Any:
        """BaseListField::getNodeOptions() for lists, the plain string otherwise."""
        if self.kind not in self.LIST_KINDS:
            return value
        selected = set(value.split(",")) if value else set()
        result: dict[str, Any] = {}
        if not self.required and not self.multiple:
            result[""] = {"value": self.blank, "selected": 1 if not value else 0}
        for key, label in self.option_list(dev).items():
            result[key] = {"value": label, "selected": 1 if key in selected else 0}
        return result if result else []

    def description(self, value: str, dev: OPNsenseFirewall) -> str:
        labels = self.option_list(dev)
        return ", ".join(labels.get(v, v) for v in value.split(",") if v)


def _valid_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    if len(value) > 253:
        return False
    labels = value.rstrip(".").split(".")
    return all(re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?", label) for label in labels)


# mvc/app/models/OPNsense/Firewall/Filter.xml, rules.rule (the fields the lab models)
RULE_FIELDS: dict[str, Field] = {
    "enabled": Field("bool", "1", True),
    "statetype": Field("option", "keep", True, options={
        "keep": "keep state", "sloppy": "sloppy state", "modulate": "modulate state",
        "synproxy": "synproxy state", "none": "no state"}),
    "sequence": Field("int", "", True, minimum=1, maximum=999999,
                      message="Sequence shall be between 1 and 999999."),
    "action": Field("option", "pass", True, options={"pass": "Pass", "block": "Block", "reject": "Reject"}),
    "quick": Field("bool", "1", True),
    "interfacenot": Field("bool", "0", True),
    "interface": Field("interface", "", multiple=True),
    "direction": Field("option", "in", True, options={"in": "In", "out": "Out"}),
    "ipprotocol": Field("option", "inet", True, options={
        "inet": "IPv4", "inet6": "IPv6", "inet46": "IPv4+IPv6"}),
    "protocol": Field("protocol", "any", True),
    "source_net": Field("net", "any", True),
    "source_not": Field("bool", "0", True),
    "source_port": Field("port", "", well_known=True, ranges=True,
                         message="Please specify a valid portnumber, name, alias or range."),
    "destination_net": Field("net", "any", True),
    "destination_not": Field("bool", "0", True),
    "destination_port": Field("port", "", well_known=True, ranges=True,
                              message="Please specify a valid portnumber, name, alias or range."),
    "gateway": Field("keyvalue", "", options={},
                     message="Specify a valid gateway from the list matching the networks ip protocol."),
    "log": Field("bool", "0", True),
    "categories": Field("relation", "", multiple=True, options={}, message="Related category not found."),
    "description": Field("text", ""),
}

SYSLOG_LEVELS = {"debug": "debug", "info": "info", "notice": "notice", "warn": "warn", "err": "error",
                 "crit": "critical", "alert": "alert", "emerg": "emergency"}
SYSLOG_FACILITIES = {
    "kern": "kernel messages", "user": "user-level messages", "mail": "mail system",
    "daemon": "system daemons", "auth": "security/authorization messages",
    "syslog": "messages generated internally by syslogd", "lpr": "line printer subsystem",
    "news": "network news subsystem", "uucp": "UUCP subsystem", "cron": "clock daemon",
    "authpriv": "security/authorization messages", "ftp": "FTP daemon", "ntp": "NTP subsystem",
    "security": "log audit", "console": "log alert",
    **{f"local{i}": f"locally used ({i})" for i in range(8)}}

# mvc/app/models/OPNsense/Syslog/Syslog.xml, destinations.destination
DESTINATION_FIELDS: dict[str, Field] = {
    "enabled": Field("bool", "1", True),
    "transport": Field("option", "udp4", True, options={
        "udp4": "UDP(4)", "tcp4": "TCP(4)", "udp6": "UDP(6)", "tcp6": "TCP(6)",
        "tls4": "TLS(4)", "tls6": "TLS(6)"}),
    "program": Field("keyvalue", "", multiple=True, options={
        "audit": "audit", "configd.py": "configd.py", "dhcpd": "dhcpd", "filterlog": "filterlog",
        "firewall": "firewall", "lighttpd": "lighttpd", "openvpn": "openvpn", "suricata": "suricata",
        "sshd": "sshd", "unbound": "unbound"}, message="Specify valid source applications."),
    "level": Field("option", "info,notice,warn,err,crit,alert,emerg", multiple=True, options=SYSLOG_LEVELS),
    "facility": Field("option", "", multiple=True, options=SYSLOG_FACILITIES),
    "hostname": Field("host", "", True),
    "certificate": Field("option", "", options={},
                         message="Please select a valid certificate from the list"),
    "port": Field("port", "514", True),
    "rfc5424": Field("bool", "0", True),
    "description": Field("text", ""),
}


# -- routing (mvc/app/library/OPNsense/Mvc/Router.php::parsePath) -----------------------------

ROUTES: dict[tuple[str, str, str], tuple[str, int]] = {}


def _ucwords(segment: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in segment.split("_"))


def api(module: str, controller: str, action: str, required: int = 0) -> Callable:
    """Register a handler for /api/<module>/<controller>/<action>[/params]."""
    def mark(func: Callable) -> Callable:
        ROUTES[(module.lower(), controller, action.lower())] = (func.__name__, required)
        return func
    return mark


class Call:
    """One authenticated API call: method, path parameters, GET and POST data."""

    __slots__ = ("request", "method", "params", "query", "post", "path", "user")

    def __init__(self, request: web.BaseRequest, params: list[str], post: dict[str, Any]) -> None:
        self.request = request
        self.method = request.method
        self.params = params
        self.query = dict(request.query)
        self.post = post
        self.path = request.path
        self.user = "root"

    @property
    def is_post(self) -> bool:
        return self.method == "POST"

    def get(self, key: str, default: Any = None) -> Any:
        """Phalcon Request::get(): $_REQUEST, POST over GET."""
        if key in self.post:
            return self.post[key]
        return self.query.get(key, default)

    def param(self, index: int) -> str | None:
        return self.params[index] if len(self.params) > index else None

    @property
    def peer(self) -> str:
        return self.request.remote or "127.0.0.1"


def json_response(data: Any, status: int = 200, content_type: str = JSON_CT) -> web.Response:
    return web.Response(body=php_json(data).encode(), status=status, headers={"Content-Type": content_type})


# -- the device -------------------------------------------------------------------------------

class OPNsenseFirewall(Device):
    vendor = "opnsense"
    role = "firewall"
    model = "OPNsense DEC740"
    default_port = 8443
    protocol = "https"
    lab_interfaces = ("lan", "opt1")

    @classmethod
    def random_credentials(cls) -> tuple[str, str]:
        """OPNsense authenticates API calls with key and secret (80 characters each)."""
        return secrets.token_urlsafe(60), secrets.token_urlsafe(60)

    def __init__(self, name: str, site_id: str, address: str, port: int | None = None,
                 username: str | None = None, password: str | None = None,
                 reboot_seconds: float = 3.0, run_dir: Path | None = None, *,
                 hostname: str | None = None, domain: str | None = None,
                 firmware_version: str = DEFAULT_VERSION, firmware_latest: str | None = None,
                 firmware_seconds: float = 4.0) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else DEFAULT_RUN_DIR
        self.firmware_seconds = firmware_seconds
        self._init = {
            "name": name, "site_id": site_id, "hostname": hostname, "domain": domain,
            "firmware_version": firmware_version, "firmware_latest": firmware_latest or DEFAULT_LATEST,
        }
        self._rng = random.Random(f"{site_id}/{name}")
        self.interfaces = {
            "wan": {"descr": "WAN", "if": "igc0", "ipaddr": "dhcp", "subnet": ""},
            "lan": {"descr": "LAN", "if": "igc1", "ipaddr": "192.168.10.1", "subnet": "24"},
            "opt1": {"descr": "GUEST", "if": "igc2", "ipaddr": "192.168.20.1", "subnet": "24"},
        }
        # firmware runtime, not configuration: progress log, check result, running job
        self.fw_log = ""
        self.fw_error = False
        self.fw_check: dict[str, Any] | None = None
        self.changelog_latest = self._init["firmware_latest"]
        self.staged_version: str | None = None
        self._job: asyncio.Task | None = None
        # filter rules per saved revision (Config::save() backups) and pending rollback timers
        self.filter_backups: dict[str, dict[str, dict[str, str]]] = {}
        self.rollback_timers: dict[str, asyncio.Task] = {}
        self.rollback_seconds = ROLLBACK_SECONDS
        super().__init__(name=name, site_id=site_id, address=address, port=port, username=username,
                         password=password, reboot_seconds=reboot_seconds)
        self._backup_filter()

    # -- state ---------------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        init, rng = self._init, self._rng
        short = init["name"].split("-")[-1] if "-" in init["name"] else init["name"]
        hostname = init["hostname"] or re.sub(r"[^A-Za-z0-9-]", "-", short).strip("-").lower() or "OPNsense"
        domain = init["domain"] or f"{re.sub(r'[^A-Za-z0-9-]', '-', init['site_id']).lower()}.praxis.lan"
        now = time.time()
        config_time = now - rng.uniform(2, 20) * 86400
        return {
            "hostname": hostname,
            "domain": domain,
            "timezone": "Europe/Berlin",
            "firmware_version": init["firmware_version"],
            "firmware_latest": init["firmware_latest"],
            "firmware_needs_reboot": True,
            "filter_rules": {},
            "syslog_enabled": True,
            "syslog_destinations": {},
            "ids": {
                "enabled": True,
                "ips": False,
                "interfaces": "wan",
                "homenet": "192.168.0.0/16,10.0.0.0/8,172.16.0.0/12",
                "rulesets": list(ET_OPEN_FILES),
                "rules_updated": round(now - rng.uniform(1, 6) * 86400, 3),
                "update_cron": str(uuidlib.UUID(int=rng.getrandbits(128), version=4)),
            },
            "config_revision": {"time": round(config_time, 4), "username": "root@192.168.10.20",
                                "description": "/api/core/firmware/set made changes"},
            # services the box runs (service list): name -> running
            "services": {name: True for name, _desc, _locked in SERVICES},
            # host/network aliases of the configuration (AliasUtilController add/delete keep them)
            "aliases": {"praxis_blocklist": {"type": "host", "content": []}},
            # pf tables (pfctl -sT) and their addresses; the interface networks, bogons and the
            # automatic block lists exist on every box
            "pf_tables": {"__lan_network": ["192.168.10.0/24"], "__opt1_network": ["192.168.20.0/24"],
                          "bogons": ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
                                     "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
                                     "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
                                     "224.0.0.0/4", "240.0.0.0/4"],
                          "bogonsv6": ["::/8", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10"],
                          "praxis_blocklist": [], "sshlockout": [], "virusprot": []},
        }

    @property
    def tz(self) -> dt.tzinfo:
        try:
            return ZoneInfo(self.state.get("timezone") or "UTC")
        except (KeyError, ValueError):
            return dt.timezone.utc

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.tz)

    def local(self, epoch: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(epoch, self.tz)

    def _saved(self, call: Call) -> None:
        """Config::save(): a new revision (and backup file name)."""
        self._save_revision(f"{call.user}@{call.peer}", f"{call.path} made changes")

    def _save_revision(self, username: str, description: str) -> None:
        self.state["config_revision"] = {"time": round(time.time(), 4), "username": username,
                                         "description": description}
        self._backup_filter()

    def _backup_filter(self) -> None:
        """The filter section of /conf/backup/config-<revision>.xml, the newest RETENTION kept."""
        revision = f"{self.state['config_revision']['time']:.4f}"
        self.filter_backups[revision] = copy.deepcopy(self.state["filter_rules"])
        while len(self.filter_backups) > RETENTION:
            del self.filter_backups[next(iter(self.filter_backups))]

    def rollback_filter(self, revision: str) -> bool:
        """Filter::rollback(): the filter section of that backup replaces the current one, then save."""
        rules = self.filter_backups.get(revision)
        if rules is None:
            return False
        self.state["filter_rules"] = copy.deepcopy(rules)
        return True

    def valid_network(self, item: str) -> bool:
        """NetworkAliasField option list: any, (self), interface nets/addresses, IPs and subnets."""
        if item in ("any", "(self)") or item in self.interfaces or \
                (item.endswith("ip") and item[:-2] in self.interfaces):
            return True
        try:
            if "/" in item:
                ipaddress.ip_network(item, strict=False)
            else:
                ipaddress.ip_address(item)
            return True
        except ValueError:
            return False

    def summary(self) -> dict[str, Any]:
        data = super().summary()
        data.update(self.snapshot())
        return data

    def snapshot(self) -> dict[str, Any]:
        """What the control API shows besides the core summary."""
        return {
            "hostname": f"{self.state['hostname']}.{self.state['domain']}",
            "firmware_latest": self.state["firmware_latest"],
            "firmware_job": self.fw_status(),
            "signature_date": self.local(self.state["ids"]["rules_updated"]).isoformat(timespec="seconds"),
            "filter_rules": len(self.state["filter_rules"]),
            "syslog_destinations": len(self.state["syslog_destinations"]),
        }

    # -- lifecycle -----------------------------------------------------------------------
    async def _open_listeners(self) -> list[Any]:
        return await https.serve(self._handle, self.address, self.port, self.run_dir, shutdown_timeout=0.25)

    async def stop(self) -> None:
        job = self._job
        if job is not None and not job.done() and job is not asyncio.current_task():
            job.cancel()
        timers, self.rollback_timers = self.rollback_timers, {}
        for timer in timers.values():          # the background script dies with the box
            if not timer.done() and timer is not asyncio.current_task():
                timer.cancel()
        await super().stop()

    def on_boot(self) -> None:
        """The staged firmware is running now; /tmp lost the last check result."""
        if self.staged_version:
            self.state["firmware_version"] = self.staged_version
            self.staged_version = None
            if self.fw_log and "***DONE***" not in self.fw_log:
                self.fw_log += "***DONE***\n"
        self.fw_check = None

    # -- request handling ----------------------------------------------------------------
    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            response = await self._dispatch(request)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - a PHP exception becomes a 500 like www/api.php does
            log.exception("%s: %s %s failed", self.name, request.method, request.path)
            response = json_response({"errorMessage": "Unexpected error, check log for details"}, 500, ERROR_CT)
        response.headers["Server"] = "OPNsense"
        if not https.dropped(request):
            self.requests += 1
        return response

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read() if request.body_exists else b""
        await self.faults.delay()
        dropped = https.maybe_drop(request, self.faults)    # faults.drop_rate: no answer at all
        if dropped is not None:
            return dropped
        path = request.path
        if not path.startswith("/api/"):
            return self._ui(path)
        segments = [s for s in path[len("/api/"):].split("/") if s != ""]
        # Router::parsePath + resolveNamespace + Dispatcher::resolve -> DispatchException -> 404
        target = None
        if len(segments) >= 2:
            action = segments[2] if len(segments) > 2 else "index"
            key = (segments[0].replace("_", "").lower(), _ucwords(segments[1]), action.replace("_", "").lower())
            target = ROUTES.get(key)
        if target is None or len(segments) - 3 < target[1]:
            return json_response({"errorMessage": "Endpoint not found"}, 404, ERROR_CT)
        # ApiControllerBase::beforeExecuteRoute
        auth = request.headers.get("Authorization")
        if not auth:
            return web.Response(status=401, content_type="text/html", charset="UTF-8")
        if not self._authenticate(auth):
            return json_response({"status": 401, "message": "Authentication Failed"}, 401)
        post, error = self._parse_body(request, body)
        if error:
            return json_response({"message": error, "status": 400}, 400)
        if self.faults.roll_error():
            return json_response({"errorMessage": "Unexpected error, check log for details"}, 500, ERROR_CT)
        call = Call(request, segments[3:], post)
        result = getattr(self, target[0])(call)
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:     # the action returned nothing: an empty page
            return web.Response(status=200, content_type="text/html", charset="UTF-8")
        return json_response(result)

    def _authenticate(self, header: str) -> bool:
        parts = header.split(" ")
        if len(parts) < 2:
            return False
        try:
            decoded = base64.b64decode(parts[1], validate=False).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return False
        key, sep, secret = decoded.partition(":")
        return bool(sep) and self.check_credentials(key, secret)

    @staticmethod
    def _parse_body(request: web.BaseRequest, body: bytes) -> tuple[dict[str, Any], str | None]:
        """ApiControllerBase::parseJsonBodyData() and PHP's $_POST for forms."""
        ctype = request.headers.get("Content-Type", "").replace(" ", "").lower()
        if ctype in ("application/json", "application/json;charset=utf-8"):
            try:
                data = json.loads(body) if body.strip() else None
            except ValueError:
                data = None
            if not body.strip() or data is None:
                return {}, "Invalid JSON syntax"
            return (data if isinstance(data, dict) else {}), None
        if ctype.startswith("application/x-www-form-urlencoded") and body:
            post: dict[str, Any] = {}
            for key, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
                set_php_key(post, key, value)
            return post, None
        return {}, None

    def _ui(self, path: str) -> web.Response:
        if path in ("/", "/index.php"):
            page = (f"<!doctype html><html lang=\"en\"><head><title>Login | {self.state['hostname']}."
                    f"{self.state['domain']}</title></head><body class=\"page-login\">"
                    "<form method=\"post\"><input name=\"usernamefld\"><input type=\"password\" "
                    "name=\"passwordfld\"><button name=\"login\">Login</button></form></body></html>")
            return web.Response(text=page, content_type="text/html", charset="UTF-8")
        return web.Response(status=404, text="<!doctype html><html><body><h1>Page not found</h1></body></html>",
                            content_type="text/html", charset="UTF-8")

    # -- core/backup (Core/Api/BackupController.php) ---------------------------------------
    @api("core", "Backup", "providers")
    def backup_providers(self, call: Call) -> Any:
        return {"items": {"this": {"description": "This Firewall", "dirname": "/conf/backup"}}}

    @api("core", "Backup", "download", required=1)
    def backup_download(self, call: Call) -> Any:
        # downloadAction($host, $backup = null): the newest /conf/backup/config-<time>.xml,
        # served as config-<hostname>.<domain>-<time>.xml
        if call.param(0) != "this":
            return None
        revision = f"{self.state['config_revision']['time']:.4f}"
        wanted = call.param(1)
        if wanted and wanted != f"config-{revision}.xml":
            return None
        payload = self.render_config()
        if self.faults.truncate_backup:
            payload = payload[:len(payload) // 2]
        if self.faults.corrupt_backup:
            payload = garble(payload)
        filename = quote_plus(f"config-{self.state['hostname']}.{self.state['domain']}-{revision}.xml")
        return web.Response(body=payload, headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"attachment; filename={filename}",
            "Pragma": "no-cache", "Expires": "0"})

    # -- core/firmware (Core/Api/FirmwareController.php) -----------------------------------
    def product(self) -> dict[str, Any]:
        """scripts/firmware/product.php: /usr/local/opnsense/version/core plus runtime keys (ksort)."""
        version = self.state["firmware_version"]
        series = series_of(version)
        nickname = SERIES.get(series, ("", "", ""))[0]
        data = {
            "product_abi": series, "product_arch": "amd64", "product_check": self.fw_check,
            "product_conflicts": PRODUCT_CONFLICTS,
            "product_copyright_owner": "Deciso B.V.", "product_copyright_url": "https://www.deciso.com/",
            "product_copyright_years": f"2014-{self.now().year}", "product_email": "project@opnsense.org",
            "product_hash": hashlib.sha1(version.encode(), usedforsecurity=False).hexdigest()[:9],
            "product_id": "opnsense", "product_latest": self.changelog_latest.split("_")[0],
            "product_license": [], "product_log": 0,
            "product_mirror": f"https://pkg.opnsense.org/FreeBSD:14:amd64/{series}",
            "product_name": "OPNsense", "product_nickname": nickname, "product_repos": "OPNsense",
            "product_series": series, "product_tier": "1",
            "product_time": php_date(self.local(self.boot_time - 3600)),
            "product_version": version, "product_website": "https://opnsense.org/",
        }
        return dict(sorted(data.items()))

    def os_version(self, version: str | None = None) -> str:
        return SERIES.get(series_of(version or self.state["firmware_version"]), ("", "FreeBSD 14.2-RELEASE-p3"))[1]

    def _pending_packages(self) -> list[dict[str, Any]]:
        current, latest = self.state["firmware_version"], self.state["firmware_latest"]
        if version_key(latest) <= version_key(current):
            return []
        packages = [
            {"name": "opnsense", "repository": "OPNsense", "current_version": current, "new_version": latest},
            {"name": "opnsense-update", "repository": "OPNsense", "current_version": current,
             "new_version": latest},
        ]
        if self.state["firmware_needs_reboot"]:
            packages += [
                {"name": "base", "size": "154550832", "repository": "OPNsense", "current_version": current,
                 "new_version": latest},
                {"name": "kernel", "size": "54012708", "repository": "OPNsense", "current_version": current,
                 "new_version": latest},
            ]
        return packages

    def run_check(self) -> dict[str, Any]:
        """scripts/firmware/check.sh: the /tmp/pkg_upgrade.json structure (api_version 2)."""
        packages = self._pending_packages()
        self.changelog_latest = self.state["firmware_latest"]
        needs_reboot = any(p["name"] in ("base", "kernel") for p in packages)
        self.fw_check = {
            "api_version": "2", "connection": "ok", "downgrade_packages": [],
            "download_size": "47MiB" if packages else "", "last_check": bsd_date(self.now()),
            "needs_reboot": "1" if needs_reboot else "0", "new_packages": [],
            "os_version": self.os_version(), "product_id": "opnsense", "product_target": "opnsense",
            "product_version": self.state["firmware_version"],
            "product_abi": series_of(self.state["firmware_version"]),
            "reinstall_packages": [], "remove_packages": [], "repository": "ok",
            "upgrade_major_message": "", "upgrade_major_version": "", "upgrade_needs_reboot": "0",
            "upgrade_packages": packages, "upgrade_sets": [],
        }
        return self.fw_check

    @api("core", "Firmware", "check")
    def firmware_check(self, call: Call) -> Any:
        if not call.is_post:
            return {"status": "failure"}
        if self._busy():
            return {"msg_uuid": str(uuidlib.uuid4()), "status": "ok"}
        self._start_job(self._check_job())
        return {"msg_uuid": str(uuidlib.uuid4()), "status": "ok"}

    @api("core", "Firmware", "status")
    def firmware_status(self, call: Call) -> Any:
        if call.is_post:            # "run a synchronous check prior to the result fetch"
            self.run_check()
        product = self.product()
        if self.fw_check is None:
            return {"product": product, "status": "none",
                    "status_msg": "Firmware status requires to check for update first to provide more information."}
        response = dict(self.fw_check)
        response["product"] = product
        update_size = sum(int(p["size"]) for p in response["upgrade_packages"] if str(p.get("size", "")).isdigit())
        for part in str(response.get("download_size") or "").split(","):
            match = re.match(r"\s*(\d+)\s*([a-z])", part, re.IGNORECASE)
            if match:
                unit = match.group(2).lower()
                update_size += int(match.group(1)) * 1024 ** ("bkmgtp".index(unit) if unit in "kmgtp" else 0)
        packages = {p["name"]: {"reason": "upgrade", "old": p["current_version"] or "N/A", "new": p["new_version"],
                                "repository": p["repository"], "name": p["name"]}
                    for p in response["upgrade_packages"]}
        response["all_packages"] = {k: packages[k] for k in sorted(packages, key=natural_key)} or []
        response["all_sets"] = []
        count = len(packages)
        if count:
            noun = "There is 1 update available" if count == 1 else f"There are {count} updates available"
            msg = f"{noun}, total download size is {format_bytes(update_size)}."
            reboot = "1" if response["needs_reboot"] == "1" else "0"
            if reboot == "1":
                msg += " This update requires a reboot."
            response.update(status_msg=msg, status_reboot=reboot, status="update")
        else:
            response.update(status_msg="There are no updates available on the selected mirror.", status="none")
        return response

    @api("core", "Firmware", "update")
    def firmware_update(self, call: Call) -> Any:
        if not call.is_post:
            return {"status": "failure"}
        if not self._busy():
            self._start_job(self._update_job("UPDATE"))
        return {"msg_uuid": str(uuidlib.uuid4()), "status": "ok"}

    @api("core", "Firmware", "upgrade")
    def firmware_upgrade(self, call: Call) -> Any:
        if not call.is_post:
            return {"status": "failure"}
        if not self._busy():
            self._start_job(self._update_job("UPGRADE"))
        return {"msg_uuid": str(uuidlib.uuid4()), "status": "ok"}

    @api("core", "Firmware", "upgradestatus")
    def firmware_upgradestatus(self, call: Call) -> Any:
        return {"status": self.fw_status(), "log": self.fw_log.strip()}

    @api("core", "Firmware", "running")
    def firmware_running(self, call: Call) -> Any:
        return {"status": "busy" if self._busy() else "ready"}

    @api("core", "Firmware", "reboot")
    def firmware_reboot(self, call: Call) -> Any:
        if not call.is_post:
            return {"status": "failure"}
        self.reboot()
        return {"status": "ok", "msg_uuid": str(uuidlib.uuid4())}

    def fw_status(self) -> str:
        """upgradestatusAction(): markers in the progress log decide."""
        if self.fw_error:
            return "error"
        if not self.fw_log.strip():       # read.sh printed nothing
            return "error"
        if "***DONE***" in self.fw_log:
            return "done"
        if "***REBOOT***" in self.fw_log:
            return "reboot"
        return "running"

    def _busy(self) -> bool:
        return self._job is not None and not self._job.done()

    def _start_job(self, coro: Any) -> None:
        self.fw_error = False
        self._job = asyncio.get_running_loop().create_task(coro)

    def _request_header(self, what: str) -> str:
        # config.sh output_request()
        return (f"***GOT REQUEST TO {what}***\nCurrently running OPNsense {self.state['firmware_version']} "
                f"(amd64) at {bsd_date(self.now())}\n")

    async def _emit(self, lines: list[str], seconds: float) -> None:
        pause = seconds / max(len(lines), 1)
        for line in lines:
            await asyncio.sleep(pause)
            self.fw_log += line + "\n"

    async def _check_job(self) -> None:
        self.fw_log = self._request_header("CHECK FOR UPDATES")
        packages = self._pending_packages()
        lines = ["Fetching changelog information, please wait... done",
                 "Updating OPNsense repository catalogue...",
                 "Fetching meta.conf: . done", "Fetching packagesite.pkg: .......... done",
                 "Processing entries: .......... done",
                 "OPNsense repository update completed. 874 packages processed.",
                 "All repositories are up to date.", "Checking integrity... done (0 conflicting)"]
        if packages:
            pkgs = [p for p in packages if p["name"] not in ("base", "kernel")]
            lines += [f"The following {len(pkgs)} package(s) will be affected (of 0 checked):", "",
                      "Installed packages to be UPGRADED:"]
            lines += [f"\t{p['name']}: {p['current_version']} -> {p['new_version']} [OPNsense]" for p in pkgs]
            lines += ["", f"Number of packages to be upgraded: {len(pkgs)}", "", "47 MiB to be downloaded."]
        else:
            lines.append("Your packages are up to date.")
        await self._emit(lines, self.firmware_seconds / 4)
        self.run_check()
        self.fw_log += "***DONE***\n"

    async def _update_job(self, what: str) -> None:
        current, latest = self.state["firmware_version"], self.state["firmware_latest"]
        self.fw_log = self._request_header(what)
        packages = self._pending_packages()
        if not packages:
            await self._emit(["Updating OPNsense repository catalogue...", "OPNsense repository is up to date.",
                              "All repositories are up to date.", "Your packages are up to date."],
                             self.firmware_seconds / 4)
            self.fw_log += "***DONE***\n"
            return
        pkgs = [p for p in packages if p["name"] not in ("base", "kernel")]
        lines = ["Updating OPNsense repository catalogue...", "OPNsense repository is up to date.",
                 "All repositories are up to date.", "Checking for upgrades (2 candidates): .. done",
                 "Processing candidates (2 candidates): .. done",
                 f"The following {len(pkgs)} package(s) will be affected (of 0 checked):", "",
                 "Installed packages to be UPGRADED:"]
        lines += [f"\t{p['name']}: {current} -> {latest} [OPNsense]" for p in pkgs]
        lines += ["", f"Number of packages to be upgraded: {len(pkgs)}", "", "47 MiB to be downloaded.",
                  f"[1/{len(pkgs)}] Fetching opnsense-{latest}.pkg: .......... done"]
        await self._emit(lines, self.firmware_seconds / 2)
        if self.faults.firmware_fail:
            await self._emit([
                f"pkg: https://pkg.opnsense.org/FreeBSD:14:amd64/{series_of(current)}/latest/All/"
                f"opnsense-update-{latest}.pkg: Operation timed out",
                f"[2/{len(pkgs)}] Fetching opnsense-update-{latest}.pkg: ... failed",
                "pkg: Cannot fetch remote packages",
                "The firmware update failed. Please check the connection to the mirror and try again."],
                self.firmware_seconds / 4)
            self.fw_error = True
            return
        lines = [f"[{i}/{len(pkgs)}] Fetching {p['name']}-{latest}.pkg: .......... done"
                 for i, p in enumerate(pkgs[1:], 2)]
        lines.append("Checking integrity... done (0 conflicting)")
        for i, p in enumerate(pkgs, 1):
            lines += [f"[{i}/{len(pkgs)}] Upgrading {p['name']} from {current} to {latest}...",
                      f"[{i}/{len(pkgs)}] Extracting {p['name']}-{latest}: .......... done"]
        lines.append("Restarting web GUI... done")
        needs_reboot = any(p["name"] in ("base", "kernel") for p in packages)
        if needs_reboot:
            for part in ("base", "kernel"):
                lines += [f"Fetching {part}-{latest}-amd64.txz: ........... done",
                          f"Verifying {part}-{latest}-amd64.txz: OK",
                          f"Installing {part}-{latest}-amd64.txz... done"]
            lines.append("Please reboot.")
        await self._emit(lines, self.firmware_seconds / 2)
        if needs_reboot:
            self.staged_version = latest
            self.fw_log += "***REBOOT***\n"
            self.fw_check = None
            self.reboot(delay=0.5)            # update.sh: output_reboot -> sleep; rc.reboot
        else:
            self.state["firmware_version"] = latest
            self.fw_check = None
            self.fw_log += "***DONE***\n"

    # -- ids (IDS/Api/ServiceController.php, SettingsController.php) ------------------------
    @api("ids", "Service", "updateRules")
    def ids_update_rules(self, call: Call) -> Any:
        if not call.is_post:
            return {"status": "failed"}
        self.state["ids"]["rules_updated"] = round(time.time(), 3)
        # configdRun("ids update", $detach): detached (any parameter) answers the message id
        return {"status": str(uuidlib.uuid4()) if call.param(0) is not None else "OK\n\n"}

    @api("ids", "Service", "reloadRules")
    def ids_reload_rules(self, call: Call) -> Any:
        if not call.is_post:
            return {"status": "failed"}
        self.state["ids"]["rules_updated"] = round(time.time(), 3)
        return {"status": "OK\n\n"}

    @api("ids", "Service", "status")
    def ids_status(self, call: Call) -> Any:
        # ApiMutableServiceControllerBase::statusAction
        return {"status": "running" if self.state["ids"]["enabled"] else "disabled",
                "widget": {"caption_stop": "stop service", "caption_start": "start service",
                           "caption_restart": "restart service"}}

    def _rulesets(self) -> list[dict[str, Any]]:
        """SettingsController::listInstallableRules(), modified_local as date('Y/m/d G:i')."""
        moment = self.local(self.state["ids"]["rules_updated"])
        stamp = f"{moment:%Y/%m/%d} {moment.hour}:{moment:%M}"
        enabled = set(self.state["ids"]["rulesets"])
        rows = []
        for name in sorted({*ET_OPEN_FILES, "emerging-dos", "emerging-policy", "emerging-info"}):
            doc = "http://doc.emergingthreats.net/bin/view/Main/EmergingFAQ"
            rows.append({"description": f"ET open/{name}", "filename": f"{name}.rules",
                         "documentation_url": doc,
                         "documentation": f"<a href='{doc}' target='_new'>{doc}</a>",
                         "modified_local": stamp if name in enabled else None,
                         "enabled": "1" if name in enabled else "0"})
        rows.sort(key=lambda r: r["description"].lower())
        return rows

    @api("ids", "Settings", "listRulesets")
    def ids_list_rulesets(self, call: Call) -> Any:
        rows = self._rulesets()
        return {"rows": rows, "rowCount": len(rows), "total": len(rows), "current": 1}

    @api("ids", "Settings", "getRuleset", required=1)
    def ids_get_ruleset(self, call: Call) -> Any:
        for row in self._rulesets():
            if row["filename"] == call.param(0):
                return row
        return []

    # -- diagnostics (Diagnostics/Api/SystemController.php) ----------------------------------
    @api("diagnostics", "System", "systemInformation")
    def diag_system_information(self, call: Call) -> Any:
        version = self.state["firmware_version"]
        pending = (self.changelog_latest.split("_")[0] != version.split("_")[0]) or \
            bool(self.fw_check and self.fw_check.get("upgrade_packages"))
        return {"name": f"{self.state['hostname']}.{self.state['domain']}",
                "versions": [f"OPNsense {version}-amd64", self.os_version(),
                             SERIES.get(series_of(version), ("", "", "OpenSSL 3.0.16 11 Feb 2025"))[2]],
                "updates": "Click to view pending updates." if pending else "Click to check for updates."}

    @api("diagnostics", "System", "systemTime")
    def diag_system_time(self, call: Call) -> Any:
        up = self.uptime()
        days, rest = divmod(up, 86400)
        clock = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
        uptime = f"{days} {'days' if days > 1 else 'day'}, {clock}" if days else clock
        load = [max(0.0, random.gauss(base, 0.05)) for base in (0.32, 0.27, 0.22)]
        return {"uptime": uptime, "datetime": php_date(self.now()), "boottime": php_date(self.local(self.boot_time)),
                "config": php_date(self.local(self.state["config_revision"]["time"])),
                "loadavg": ", ".join(f"{v:.2f}" for v in load)}

    @api("diagnostics", "System", "systemResources")
    def diag_system_resources(self, call: Call) -> Any:
        physmem = 8432873472                 # hw.physmem of an 8 GB box
        used = round(physmem * min(0.9, max(0.1, random.gauss(0.31, 0.01))))
        return {"memory": {"total": str(physmem), "total_frmt": str(physmem // 1024 // 1024),
                           "used": used, "used_frmt": str(used // 1024 // 1024)}}

    @api("diagnostics", "System", "systemDisk")
    def diag_system_disk(self, call: Call) -> Any:
        return {"devices": [
            {"device": "/dev/gpt/rootfs", "type": "ufs", "blocks": "222G", "used": "3.9G", "available": "200G",
             "used_pct": 2, "mountpoint": "/"},
            {"device": "tmpfs", "type": "tmpfs", "blocks": "7.7G", "used": "1.1M", "available": "7.7G",
             "used_pct": 0, "mountpoint": "/var/log"}]}

    @api("diagnostics", "System", "systemTemperature")
    def diag_system_temperature(self, call: Call) -> Any:
        result = []
        for device, base in (("dev.amdtemp.0.core0.sensor0", 47.0), ("hw.acpi.thermal.tz0.temperature", 29.9)):
            kind = ("amd", "AMD") if device.startswith("dev.amdtemp.") else ("zone", "Zone")
            digits = re.sub(r"[^0-9+-]", "", device)
            result.append({"device": device, "device_seq": int(digits) if digits.isdigit() else 0,
                           "temperature": f"{random.gauss(base, 0.4):.1f}",
                           "type_translated": kind[1], "type": kind[0]})
        return result

    # -- core/firmware info and changelog ----------------------------------------------------
    def _changelogs(self) -> list[dict[str, str]]:
        """`firmware changelog list` (changelog index.json): version, date, series, newest first;
        infoAction rewrites the dates as ISO. The lab dates its releases two weeks apart."""
        current, latest = self.state["firmware_version"], self.state["firmware_latest"]
        versions = {current.split("_")[0], latest.split("_")[0]}
        for version in list(versions):
            parts = version.split(".")
            for minor in range(int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0):
                versions.add(".".join(parts[:2] + [str(minor)]) if minor else ".".join(parts[:2]))
        out = []
        base = dt.date(2000 + int(series_of(latest).split(".")[0]), int(series_of(latest).split(".")[1]), 28)
        for version in sorted(versions, key=version_key):
            step = version_key(version)[2] if len(version_key(version)) > 2 else 0
            day = base + dt.timedelta(days=14 * step)
            out.append({"series": series_of(version), "version": version, "date": day.isoformat()})
        out.sort(key=lambda c: c["date"], reverse=True)
        return out

    def _packages(self) -> list[dict[str, str]]:
        """`firmware local`/`remote` rows (name|||version|||comment|||flatsize|||locked|||automatic|||
        license|||repository|||origin) as infoAction merges them."""
        version = self.state["firmware_version"]
        rows = [("opnsense", version, "OPNsense release", 48_234_496, "0", "opnsense/opnsense"),
                ("opnsense-update", version, "OPNsense update utilities", 290_816, "0",
                 "sysutils/opnsense-update"),
                ("suricata", "7.0.8_4", "High Performance Network IDS, IPS and Security Monitoring engine",
                 10_862_592, "1", "security/suricata"),
                ("syslog-ng", "4.8.1_1", "Powerful syslogd replacement", 3_416_064, "1", "sysutils/syslog-ng"),
                ("unbound", "1.22.0", "Validating, recursive, and caching DNS resolver", 8_126_464, "1",
                 "dns/unbound")]
        out = []
        for name, pkg_version, comment, size, automatic, origin in sorted(rows, key=lambda r: natural_key(r[0])):
            out.append({"name": name, "version": pkg_version, "comment": comment, "flatsize": format_bytes(size),
                        "locked": "N/A", "automatic": automatic, "license": "BSD2CLAUSE", "repository": "OPNsense",
                        "origin": origin, "provided": "1", "installed": "1", "path": f"OPNsense/{origin}",
                        "configured": "1" if automatic == "1" else "0"})
        return out

    @api("core", "Firmware", "info")
    def firmware_info(self, call: Call) -> Any:
        return {"product_id": "opnsense", "product_version": self.state["firmware_version"],
                "package": self._packages(), "plugin": [], "changelog": self._changelogs(),
                "product": self.product()}

    @api("core", "Firmware", "changelog", required=1)
    def firmware_changelog(self, call: Call) -> Any:
        if not call.is_post:
            return {"status": "failure"}
        wanted = call.param(0) or ""
        for entry in self._changelogs():
            if entry["version"] == wanted:
                return {"status": "ok", "html": f"<h1>OPNsense {wanted} released</h1>\n<p>{entry['date']}</p>"}
        return {"status": "failure"}

    # -- core/system (Core/Api/SystemController.php) -----------------------------------------
    @api("core", "System", "status")
    def system_status(self, call: Call) -> Any:
        # SystemStatus::collectStatus() lists only subsystems that are not OK; a healthy box has
        # none, and then "subsystems" is only inside metadata (status 2 = SystemStatusCode::OK).
        return {"metadata": {"system": {"status": 2, "message": "No pending messages", "title": "System"},
                             "translations": {"dialogTitle": "System Status", "dialogCloseButton": "Close"},
                             "subsystems": []}}

    @api("core", "System", "reboot")
    def system_reboot(self, call: Call) -> Any:
        if not call.is_post:
            return {"status": "failed"}
        self.reboot()
        return {"status": "ok"}

    # -- search grids (ApiControllerBase::searchRecordsetBase) ---------------------------------
    @staticmethod
    def _search_records(call: Call, records: list[dict[str, Any]], default_sort: str | None = None) -> dict[str, Any]:
        """POST rowCount (default 9999, -1 = all), current, searchPhrase (every word somewhere), sort."""
        try:
            per_page = int(call.post.get("rowCount", 9999))
        except (TypeError, ValueError):
            per_page = 9999
        per_page = len(records) if per_page == -1 else per_page
        try:
            page = int(call.post.get("current", 1))
        except (TypeError, ValueError):
            page = 1
        sort_by, descending = default_sort, False
        sort = call.post.get("sort")
        if isinstance(sort, dict) and sort:
            sort_by = next(iter(sort))
            descending = sort[sort_by] != "asc"
        rows = list(records)
        if sort_by:
            rows.sort(key=lambda r: natural_key(str(r.get(sort_by) or "").lower()), reverse=descending)
        words = str(call.post.get("searchPhrase", "") or "").split()
        rows = [r for r in rows if all(any(w.lower() in str(v).lower() for v in r.values()) for w in words)]
        shown = rows[(page - 1) * per_page:page * per_page]
        return {"total": len(rows), "rowCount": len(shown), "current": page, "rows": shown}

    # -- core/service (Core/Api/ServiceController.php) -----------------------------------------
    def _service_records(self) -> list[dict[str, Any]]:
        running = self.state["services"]
        if not self.state["ids"]["enabled"]:
            running = dict(running, suricata=False)
        return [{"id": name, "locked": 1 if locked else 0, "running": 1 if running.get(name) else 0,
                 "description": desc, "name": name} for name, desc, locked in SERVICES]

    @api("core", "Service", "search")
    def service_search(self, call: Call) -> Any:
        return self._search_records(call, self._service_records())

    def _service_control(self, call: Call, running: bool | None) -> Any:
        if not call.is_post:
            return {"result": "failed"}
        name = call.param(0)
        # configdpRun('service start', [name, id]) answers nothing useful for an unknown name:
        # the action still reports "ok".
        if name in self.state["services"]:
            self.state["services"][name] = True if running is None else running
            if name == "suricata" and running is not None:
                self.state["ids"]["enabled"] = running
        return {"result": "ok"}

    @api("core", "Service", "start", required=1)
    def service_start(self, call: Call) -> Any:
        return self._service_control(call, True)

    @api("core", "Service", "restart", required=1)
    def service_restart(self, call: Call) -> Any:
        return self._service_control(call, None)

    @api("core", "Service", "stop", required=1)
    def service_stop(self, call: Call) -> Any:
        return self._service_control(call, False)

    # -- diagnostics/interface (Diagnostics/Api/InterfaceController.php) ----------------------
    def _interface_names(self) -> dict[str, str]:
        return {spec["if"]: spec["descr"] or key.upper() for key, spec in self.interfaces.items()}

    def _lan_clients(self) -> list[tuple[str, str, str, str]]:
        """(ip, mac, interface, hostname) of the practice's devices the firewall has seen."""
        rng = random.Random(f"{self.site_id}/{self.name}/arp")
        out = []
        for host, name in ((20, "praxis-pc01"), (21, "praxis-pc02"), (30, "nas01"), (40, "ap01")):
            mac = "00:a0:57:{:02x}:{:02x}:{:02x}".format(*(rng.getrandbits(8) for _ in range(3)))
            out.append((f"192.168.10.{host}", mac, "igc1", name))
        return out

    @api("diagnostics", "Interface", "getInterfaceNames")
    def diag_interface_names(self, call: Call) -> Any:
        return self._interface_names()

    def _arp(self) -> list[dict[str, Any]]:
        names = self._interface_names()
        # list_arp.py: mac, ip, intf, expired, expires, permanent, type, manufacturer, hostname;
        # the controller adds intf_description. 00:a0:57 is LANCOM Systems in the IEEE OUI list.
        rows = [{"mac": mac, "ip": ip, "intf": intf, "expired": False, "expires": 1200 - i * 37,
                 "permanent": False, "type": "ethernet", "manufacturer": "LANCOM Systems GmbH",
                 "hostname": host, "intf_description": names.get(intf, "")}
                for i, (ip, mac, intf, host) in enumerate(self._lan_clients())]
        rows.insert(0, {"mac": "00:0d:b9:5a:10:02", "ip": "192.168.10.1", "intf": "igc1", "expired": False,
                        "expires": -1, "permanent": True, "type": "ethernet", "manufacturer": "PC Engines GmbH",
                        "hostname": "", "intf_description": names.get("igc1", "")})
        return rows

    @api("diagnostics", "Interface", "getArp")
    def diag_get_arp(self, call: Call) -> Any:
        return self._arp()

    @api("diagnostics", "Interface", "searchArp")
    def diag_search_arp(self, call: Call) -> Any:
        return self._search_records(call, self._arp())

    def _ndp(self) -> list[dict[str, Any]]:
        names = self._interface_names()
        return [{"mac": "00:0d:b9:5a:10:02", "ip": "fe80::20d:b9ff:fe5a:1002%igc1", "intf": "igc1",
                 "manufacturer": "PC Engines GmbH", "intf_description": names.get("igc1", "")}]

    @api("diagnostics", "Interface", "getNdp")
    def diag_get_ndp(self, call: Call) -> Any:
        return self._ndp()

    @api("diagnostics", "Interface", "searchNdp")
    def diag_search_ndp(self, call: Call) -> Any:
        return self._search_records(call, self._ndp())

    @api("diagnostics", "Interface", "getRoutes")
    def diag_get_routes(self, call: Call) -> Any:
        # show_routes.py over `netstat -rW`: proto plus the lower-cased header fields of FreeBSD 14
        # (destination, gateway, flags, nhop#, mtu, netif, expire); the controller adds intf_description.
        names = self._interface_names()
        rows = [("ipv4", "default", "192.0.2.1", "UGS", "igc0"), ("ipv4", "127.0.0.1", "link#4", "UH", "lo0"),
                ("ipv4", "192.0.2.0/24", "link#1", "U", "igc0"), ("ipv4", "192.168.10.0/24", "link#2", "U", "igc1"),
                ("ipv4", "192.168.10.1", "link#4", "UHS", "lo0"), ("ipv4", "192.168.20.0/24", "link#3", "U", "igc2"),
                ("ipv4", "192.168.20.1", "link#4", "UHS", "lo0"), ("ipv6", "::1", "link#4", "UHS", "lo0")]
        return [{"proto": proto, "destination": dest, "gateway": gw, "flags": flags, "nhop#": str(i + 1),
                 "mtu": "16384" if netif == "lo0" else "1500", "netif": netif, "expire": "",
                 "intf_description": names.get(netif, "")}
                for i, (proto, dest, gw, flags, netif) in enumerate(rows)]

    # -- diagnostics/activity (Diagnostics/Api/ActivityController.php) -------------------------
    @api("diagnostics", "Activity", "getActivity")
    def diag_activity(self, call: Call) -> Any:
        # activity.py over `top -aHSTn -d2`: the header lines and one record per thread with the
        # top columns (THR ... COMMAND) plus PID looked up from procstat.
        up = self.uptime()
        days, rest = divmod(up, 86400)
        load = [max(0.0, random.gauss(base, 0.05)) for base in (0.32, 0.27, 0.22)]
        now = self.now()
        idle = max(0.0, min(100.0, random.gauss(97.5, 0.5)))
        headers = [
            f"last pid: {40000 + up % 20000};  load averages:  {load[0]:.2f},  {load[1]:.2f},  {load[2]:.2f}  "
            f"up {days}+{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}    {now:%H:%M:%S}",
            "254 threads:   3 running, 227 sleeping, 24 waiting",
            f"CPU:  {(100 - idle) * 0.6:.1f}% user,  0.0% nice,  {(100 - idle) * 0.4:.1f}% system,  "
            f"0.0% interrupt, {idle:.1f}% idle",
            "Mem: 151M Active, 1021M Inact, 1274M Wired, 56K Buf, 5432M Free",
            "Swap: 8192M Total, 8192M Free"]
        procs = [
            ("100003", "11", "root", "187 ki31", "0B", "128K", "CPU0", "0", "47.5H", "98.97%", "[idle{idle: cpu0}]"),
            ("100118", "12", "root", "-60 -", "0B", "400K", "WAIT", "1", "5:12", "0.12%", "[intr{swi4: clock (0)}]"),
            ("100412", "4211", "root", "20 0", "121M", "54M", "kqread", "0", "0:41", "0.05%",
             "/usr/local/bin/python3 /usr/local/opnsense/service/configd.py (python3.11){python3.11}"),
            ("100533", "5120", "root", "20 0", "52M", "18M", "select", "1", "0:09", "0.01%",
             "/usr/local/sbin/syslog-ng -f /usr/local/etc/syslog-ng.conf -p /var/run/syslog-ng.pid"),
            ("100587", "6290", "root", "20 0", "180M", "61M", "nanslp", "0", "1:03", "0.01%",
             "/usr/local/bin/suricata -D --netmap --pidfile /var/run/suricata.pid "
             "-c /usr/local/etc/suricata/suricata.yaml{suricata}"),
        ]
        fields = ["THR", "USERNAME", "PRI", "NICE", "SIZE", "RES", "STATE", "C", "TIME", "WCPU", "COMMAND"]
        details = []
        for thr, pid, user, prinice, size, res, state, cpu, cputime, wcpu, command in procs:
            pri, nice = prinice.split()
            values = [thr, user, pri, nice, size, res, state, cpu, cputime, wcpu, command]
            record = {"C": "0", "PID": pid}
            record.update(dict(zip(fields, values, strict=True)))
            details.append(record)
        return {"headers": headers, "details": details}

    # -- diagnostics/system swap (Diagnostics/Api/SystemController.php systemSwapAction) -------
    @api("diagnostics", "System", "systemSwap")
    def diag_system_swap(self, call: Call) -> Any:
        # swapinfo.py over `swapinfo -k`: device, total and used in KiB as strings
        return {"swap": [{"device": "/dev/gpt/swapfs", "total": "8388608", "used": "0"}]}

    # -- routes/gateway (Routes/Api/GatewayController.php statusAction) -------------------------
    @api("routes", "Gateway", "status")
    def gateway_status(self, call: Call) -> Any:
        delay = max(0.5, random.gauss(8.2, 0.6))
        stddev = max(0.05, random.gauss(0.9, 0.1))
        return {"items": [{"name": "WAN_DHCP", "address": "192.0.2.1", "status": "none", "loss": "0.0 %",
                           "delay": f"{delay:.1f} ms", "stddev": f"{stddev:.1f} ms", "monitor": "192.0.2.1",
                           "status_translated": "Online"}], "status": "ok"}

    # -- firewall/alias_util (Firewall/Api/AliasUtilController.php) ----------------------------
    @api("firewall", "AliasUtil", "aliases")
    def alias_util_aliases(self, call: Call) -> Any:
        return sorted(self.state["pf_tables"], key=lambda n: natural_key(n.lower()))

    @api("firewall", "AliasUtil", "list", required=1)
    def alias_util_list(self, call: Call) -> Any:
        # list_table.py: address -> packet/byte counters per direction; an unknown table is empty
        try:
            per_page = int(call.post.get("rowCount", -1))
        except (TypeError, ValueError):
            per_page = -1
        try:
            page = int(call.post.get("current", 1))
        except (TypeError, ValueError):
            page = 1
        counters = {f"{d}_{v}_{u}": 0 for d in ("in", "out") for v in ("block", "pass", "xpass") for u in ("p", "b")}
        entries = list(self.state["pf_tables"].get(call.param(0) or "", []))
        phrase = str(call.post.get("searchPhrase", "") or "")
        if phrase:
            entries = [e for e in entries if phrase in e]
        rows = [{"ip": e, **counters} for e in entries]
        sort = call.post.get("sort")
        if isinstance(sort, dict) and sort:
            column = next(iter(sort))
            if any(column in r for r in rows):
                rows.sort(key=lambda r: natural_key(str(r.get(column, ""))), reverse=sort[column] != "asc")
        offset = (page - 1) * per_page if per_page > 0 else 0
        shown = rows[offset:offset + per_page] if per_page > 0 else rows[offset:]
        return {"total": len(entries), "rowCount": per_page, "current": page, "rows": shown}

    @api("firewall", "AliasUtil", "flush", required=1)
    def alias_util_flush(self, call: Call) -> Any:
        if not call.is_post:
            return {"status": "failed"}
        name = call.param(0) or ""
        if name in self.state["pf_tables"]:
            self.state["pf_tables"][name] = []
        return {"status": "done"}

    @api("firewall", "AliasUtil", "add", required=1)
    def alias_util_add(self, call: Call) -> Any:
        if not call.is_post or "address" not in call.post:
            return {"status": "failed"}
        name, address = call.param(0) or "", str(call.post["address"])
        if re.search(r"[^0-9a-f:./_]", address):
            return {"status": "not_an_address"}
        alias = self.state["aliases"].get(name)
        if alias is None:
            return {"status": "failed", "status_msg": f"nonexistent alias {name}"}
        if alias["type"] in ("host", "network"):
            if "/" not in address and alias["type"] == "network":
                address += "/128" if ":" in address else "/32"
            if address not in alias["content"]:
                alias["content"].append(address)
                self._saved(call)
        table = self.state["pf_tables"].setdefault(name, [])
        if address not in table:
            table.append(address)
        return {"status": "done"}

    @api("firewall", "AliasUtil", "delete", required=1)
    def alias_util_delete(self, call: Call) -> Any:
        if not call.is_post or "address" not in call.post:
            return {"status": "failed"}
        name, address = call.param(0) or "", str(call.post["address"])
        alias = self.state["aliases"].get(name)
        masked = address if "/" in address else address + ("/128" if ":" in address else "/32")
        if alias is not None and alias["type"] in ("host", "network"):
            found = [item for item in (masked, address) if item in alias["content"]]
            for item in found:
                alias["content"].remove(item)
            if found:
                self._saved(call)
        table = self.state["pf_tables"].get(name)
        if table is not None:
            for item in (address, masked):
                if item in table:
                    table.remove(item)
        return {"status": "done"}

    # -- model helpers (ApiMutableModelControllerBase) ---------------------------------------
    def _items(self, kind: str) -> dict[str, dict[str, str]]:
        return self.state["filter_rules" if kind == "rule" else "syslog_destinations"]

    @staticmethod
    def _fields(kind: str) -> dict[str, Field]:
        return RULE_FIELDS if kind == "rule" else DESTINATION_FIELDS

    def _defaults(self, kind: str) -> dict[str, str]:
        values = {name: f.default for name, f in self._fields(kind).items()}
        if kind == "rule":      # FilterSequenceField::applyDefault: highest + 100
            values["sequence"] = str(max((int(r.get("sequence") or 0) for r in self._items(kind).values()),
                                         default=1) + 100)
        return values

    def _validate(self, kind: str, values: dict[str, str]) -> dict[str, str]:
        errors = {}
        for name, field in self._fields(kind).items():
            message = field.validate(values.get(name, ""), self)
            if message:
                errors[f"{kind}.{name}"] = message
        return errors

    def _apply_input(self, kind: str, values: dict[str, str], data: Any) -> None:
        """BaseField::setNodes(): known keys only."""
        if not isinstance(data, dict):
            return
        for name, field in self._fields(kind).items():
            if name in data:
                values[name] = field.normalize(data[name])

    def _search(self, call: Call, kind: str, fields: list[str], default_sort: str,
                filter_funct: Callable[[dict[str, str]], bool] | None = None) -> dict[str, Any]:
        """UIModelGrid::fetchBindRequest()."""
        try:
            per_page = int(call.get("rowCount", -1))
        except (TypeError, ValueError):
            per_page = -1
        try:
            page = int(call.get("current", 1))
        except (TypeError, ValueError):
            page = 1
        sort_by, descending = default_sort, False
        sort = call.post.get("sort")
        if isinstance(sort, dict) and sort:
            sort_by = next(iter(sort))
            descending = sort[sort_by] == "desc"
        phrase = str(call.get("searchPhrase", "") or "")
        specs = self._fields(kind)
        items = sorted(self._items(kind).items(), key=lambda kv: natural_key(str(kv[1].get(sort_by, ""))),
                       reverse=descending)
        rows, index = [], 0
        for item_uuid, values in items:
            if filter_funct is not None and not filter_funct(values):
                continue
            row: dict[str, Any] = {"uuid": item_uuid}
            for name, field in specs.items():
                row[name] = values.get(name, "")
                if field.kind in Field.LIST_KINDS:
                    row[f"%{name}"] = field.description(values.get(name, ""), self)
            found = True
            for clause in phrase.split():
                if not any(clause.lower() in str(row.get(f"%{f}", row.get(f, ""))).lower() for f in fields):
                    found = False
                    break
            if found:
                if per_page == -1 or (len(rows) < per_page and index >= per_page * (page - 1)):
                    rows.append(row)
                index += 1
        return {"rows": rows, "rowCount": len(rows), "total": index, "current": page}

    def _get(self, call: Call, kind: str) -> Any:
        item_uuid = call.param(0)
        if item_uuid is None:
            values = self._defaults(kind)
        else:
            values = self._items(kind).get(item_uuid)
            if values is None:
                return []
        return {kind: {name: field.node_data(values.get(name, ""), self)
                       for name, field in self._fields(kind).items()}}

    def _add(self, call: Call, kind: str) -> Any:
        if not call.is_post or kind not in call.post:
            return {"result": "failed"}
        values = self._defaults(kind)
        self._apply_input(kind, values, call.post[kind])
        errors = self._validate(kind, values)
        if errors:
            return {"result": "failed", "validations": errors}
        item_uuid = str(uuidlib.uuid4())
        self._items(kind)[item_uuid] = values
        self._saved(call)
        return {"result": "saved", "uuid": item_uuid}

    def _set(self, call: Call, kind: str) -> Any:
        item_uuid = call.param(0)
        current = self._items(kind).get(item_uuid or "")
        if not call.is_post or kind not in call.post or current is None:
            return {"result": "failed"}
        values = dict(current)
        self._apply_input(kind, values, call.post[kind])
        errors = self._validate(kind, values)
        if errors:
            return {"result": "failed", "validations": errors}
        self._items(kind)[item_uuid] = values
        self._saved(call)
        return {"result": "saved"}

    def _del(self, call: Call, kind: str) -> Any:
        if not call.is_post:
            return {"result": "failed"}
        if self._items(kind).pop(call.param(0) or "", None) is None:
            return {"result": "not found"}
        self._saved(call)
        return {"result": "deleted"}

    def _toggle(self, call: Call, kind: str) -> Any:
        """ApiMutableModelControllerBase::toggleBase()."""
        values = self._items(kind).get(call.param(0) or "")
        result: dict[str, Any] = {"result": "failed"}
        if not call.is_post or values is None:
            return result
        wanted = call.param(1)
        result["changed"] = True
        if wanted in ("0", "1"):
            result["result"] = "Enabled" if wanted == "1" else "Disabled"
            result["changed"] = values["enabled"] != wanted
            values["enabled"] = wanted
        elif wanted is not None:
            result["changed"] = False
        else:
            values["enabled"] = "0" if values["enabled"] == "1" else "1"
            result["result"] = "Enabled" if values["enabled"] == "1" else "Disabled"
        if result["changed"]:
            self._saved(call)
        return result

    # -- firewall/filter (Firewall/Api/FilterController.php, FilterBaseController.php) -------
    @api("firewall", "Filter", "searchRule")
    def filter_search_rule(self, call: Call) -> Any:
        category = call.get("category")
        wanted = category if isinstance(category, list) else ([category] if category else [])

        def match(values: dict[str, str]) -> bool:
            return not wanted or bool(set(values.get("categories", "").split(",")) & set(wanted))
        return self._search(call, "rule", ["enabled", "sequence", "action", "description"], "sequence", match)

    @api("firewall", "Filter", "getRule")
    def filter_get_rule(self, call: Call) -> Any:
        return self._get(call, "rule")

    @api("firewall", "Filter", "addRule")
    def filter_add_rule(self, call: Call) -> Any:
        return self._add(call, "rule")

    @api("firewall", "Filter", "setRule", required=1)
    def filter_set_rule(self, call: Call) -> Any:
        return self._set(call, "rule")

    @api("firewall", "Filter", "delRule", required=1)
    def filter_del_rule(self, call: Call) -> Any:
        return self._del(call, "rule")

    @api("firewall", "Filter", "toggleRule", required=1)
    def filter_toggle_rule(self, call: Call) -> Any:
        return self._toggle(call, "rule")

    @api("firewall", "Filter", "apply")
    def filter_apply(self, call: Call) -> Any:
        # applyAction($rollback_revision = null): with a revision, configd 'filter rollback_timer' starts
        # rollback_timer.php in the background first; configdRun('filter reload') answers "OK\n\n"
        if not call.is_post:
            return {"status": "error"}
        revision = _revision(call.param(0))
        if revision and revision not in self.rollback_timers:
            self.rollback_timers[revision] = asyncio.get_running_loop().create_task(self._rollback_timer(revision))
        return {"status": "OK\n\n"}

    async def _rollback_timer(self, revision: str) -> None:
        """rollback_timer.php: wait for the lock file to go, else Filter::rollback() and 'filter reload'."""
        await asyncio.sleep(self.rollback_seconds)
        if self.rollback_timers.get(revision) is asyncio.current_task():
            del self.rollback_timers[revision]
        if self.rollback_filter(revision):
            self._save_revision("(system)", "/usr/local/opnsense/scripts/filter/rollback_timer.php made changes")
            log.info("%s: no confirmation within %g s, filter rules rolled back to %s",
                     self.name, self.rollback_seconds, revision)
        else:
            log.warning("%s: unable to revert to unexisting revision : %s", self.name, revision)

    @api("firewall", "Filter", "cancelRollback", required=1)
    def filter_cancel_rollback(self, call: Call) -> Any:
        # configdpRun('filter cancel_rollback'): rollback_cancel.php prints nothing and exits 0 when it
        # removed the timer's lock file (configd's "\n\n" end of output remains), exits 1 when there is
        # none; the lab answers an empty status for that failed action
        if not call.is_post:
            return {"status": "error"}
        timer = self.rollback_timers.pop(_revision(call.param(0)), None)
        if timer is None or timer.done():
            return {"status": ""}
        timer.cancel()
        return {"status": "\n\n"}

    @api("firewall", "Filter", "savepoint")
    def filter_savepoint(self, call: Call) -> Any:
        if not call.is_post:
            return {"status": "error"}
        self._saved(call)
        return {"status": "ok", "retention": str(RETENTION),
                "revision": f"{self.state['config_revision']['time']:.4f}"}

    @api("firewall", "Filter", "revert", required=1)
    def filter_revert(self, call: Call) -> Any:
        # revertAction($revision): Filter::rollback($revision), then 'filter reload'
        if not call.is_post:
            return {"status": "error"}
        if not self.rollback_filter(call.param(0) or ""):
            return {"status": "unknown (or removed) savepoint"}
        self._saved(call)
        return {"status": "ok"}

    # -- syslog (Syslog/Api/SettingsController.php, ServiceController.php) ------------------
    @api("syslog", "Settings", "searchDestinations")
    def syslog_search(self, call: Call) -> Any:
        return self._search(call, "destination", ["enabled", "description", "transport", "program", "level",
                                                  "facility", "hostname", "port"], "description")

    @api("syslog", "Settings", "getDestination")
    def syslog_get(self, call: Call) -> Any:
        return self._get(call, "destination")

    @api("syslog", "Settings", "addDestination")
    def syslog_add(self, call: Call) -> Any:
        return self._add(call, "destination")

    @api("syslog", "Settings", "setDestination", required=1)
    def syslog_set(self, call: Call) -> Any:
        return self._set(call, "destination")

    @api("syslog", "Settings", "delDestination", required=1)
    def syslog_del(self, call: Call) -> Any:
        return self._del(call, "destination")

    @api("syslog", "Settings", "toggleDestination", required=1)
    def syslog_toggle(self, call: Call) -> Any:
        return self._toggle(call, "destination")

    @api("syslog", "Service", "reconfigure")
    def syslog_reconfigure(self, call: Call) -> Any:
        # ApiMutableServiceControllerBase::reconfigureAction
        return {"status": "ok"} if call.is_post else {"status": "failed"}

    @api("syslog", "Service", "status")
    def syslog_status(self, call: Call) -> Any:
        return {"status": "running" if self.state["syslog_enabled"] else "disabled",
                "widget": {"caption_stop": "stop service", "caption_start": "start service",
                           "caption_restart": "restart service"}}

    # -- config.xml ----------------------------------------------------------------------
    def render_config(self) -> bytes:
        """/conf/config.xml as of the current state (etc/config.xml.sample layout plus the MVC models)."""
        st = self.state
        root = ET.Element("opnsense")
        sub(root, "theme", "opnsense")
        sysctl = sub(root, "sysctl")
        for tunable, value, descr in (
                ("net.inet.ip.redirect", "0", "Enable/disable sending of ICMP redirects"),
                ("net.inet.icmp.drop_redirect", "1", "Drop ICMP redirects"),
                ("net.inet.tcp.blackhole", "default", "Drop packets to closed TCP ports without returning a RST"),
                ("net.inet.udp.blackhole", "default",
                 "Do not send ICMP port unreachable messages for closed UDP ports"),
                ("vm.pmap.pti", "default", "Page Table Isolation (Meltdown mitigation, requires reboot.)")):
            item = sub(sysctl, "item")
            sub(item, "descr", descr)
            sub(item, "tunable", tunable)
            sub(item, "value", value)
        system = sub(root, "system")
        sub(system, "optimization", "normal")
        sub(system, "hostname", st["hostname"])
        sub(system, "domain", st["domain"])
        sub(system, "dnsallowoverride", "1")
        group = sub(system, "group")
        for tag, text in (("name", "admins"), ("description", "System Administrators"), ("scope", "system"),
                          ("gid", "1999"), ("member", "0"), ("priv", "page-all")):
            sub(group, tag, text)
        user = sub(system, "user")
        for tag, text in (("name", "root"), ("descr", "System Administrator"), ("scope", "system"),
                          ("groupname", "admins"), ("password", bcrypt_like(f"{self.name}/root")), ("uid", "0")):
            sub(user, tag, text)
        keys = sub(sub(user, "apikeys"), "item")
        sub(keys, "key", self.username)
        sub(keys, "secret", sha512_crypt_like(f"{self.name}/{self.password}"))
        user = sub(system, "user")
        for tag, text in (("name", "praxisadmin"), ("descr", "Praxis IT-Betreuung"), ("scope", "user"),
                          ("groupname", "admins"), ("password", bcrypt_like(f"{self.name}/praxisadmin")),
                          ("uid", "2000"), ("expires", ""), ("authorizedkeys", ""), ("otp_seed", ""),
                          ("shell", "/bin/csh")):
            sub(user, tag, text)
        sub(system, "nextuid", "2001")
        sub(system, "nextgid", "2000")
        sub(system, "timezone", st["timezone"])
        sub(system, "timeservers", "0.opnsense.pool.ntp.org 1.opnsense.pool.ntp.org 2.opnsense.pool.ntp.org")
        webgui = sub(system, "webgui")
        sub(webgui, "protocol", "https")
        sub(webgui, "port", str(self.port))
        sub(webgui, "ssl-certref", _hash_chars(f"{self.name}/cert", "0123456789abcdef", 13))
        sub(system, "disablenatreflection", "yes")
        sub(system, "usevirtualterminal", "1")
        sub(system, "disableconsolemenu", "1")
        sub(system, "ipv6allow", "1")
        sub(system, "powerd_ac_mode", "hadp")
        ssh = sub(system, "ssh")
        sub(ssh, "group", "admins")
        sub(ssh, "noauto", "1")
        sub(ssh, "interfaces", "")
        sub(ssh, "kex", "")
        sub(ssh, "permitrootlogin", "0")
        firmware = sub(system, "firmware", version="1.0.1")
        sub(firmware, "mirror", "")
        sub(firmware, "flavour", "")
        sub(firmware, "plugins", "")
        sub(firmware, "type", "")
        sub(firmware, "subscription", "")
        sub(firmware, "reboot", "")
        interfaces = sub(root, "interfaces")
        for ifname, data in self.interfaces.items():
            node = sub(interfaces, ifname)
            sub(node, "enable", "1")
            sub(node, "if", data["if"])
            sub(node, "descr", data["descr"])
            sub(node, "ipaddr", data["ipaddr"])
            if data["subnet"]:
                sub(node, "subnet", data["subnet"])
            if ifname == "wan":
                sub(node, "blockpriv", "1")
                sub(node, "blockbogons", "1")
                sub(node, "ipaddrv6", "dhcp6")
        unbound = sub(root, "unbound")
        sub(unbound, "enable", "1")
        nat = sub(sub(root, "nat"), "outbound")
        sub(nat, "mode", "automatic")
        legacy = sub(root, "filter")
        rule = sub(legacy, "rule")
        for tag, text in (("type", "pass"), ("ipprotocol", "inet"), ("descr", "Default allow LAN to any rule"),
                          ("interface", "lan")):
            sub(rule, tag, text)
        sub(sub(rule, "source"), "network", "lan")
        sub(sub(rule, "destination"), "any", "")
        mvc = sub(root, "OPNsense")
        flt = sub(sub(mvc, "Firewall"), "Filter", version="1.0.4")
        rules = sub(flt, "rules")
        for item_uuid, values in st["filter_rules"].items():
            node = sub(rules, "rule", uuid=item_uuid)
            for name in RULE_FIELDS:
                sub(node, name, values.get(name, ""))
        for tag in ("snatrules", "npt", "onetoone"):
            sub(flt, tag)
        syslog = sub(mvc, "Syslog", version="1.0.2")
        general = sub(syslog, "general")
        sub(general, "enabled", "1" if st["syslog_enabled"] else "0")
        sub(general, "loglocal", "1")
        sub(general, "maxpreserve", "31")
        sub(general, "maxfilesize", "")
        dests = sub(syslog, "destinations")
        for item_uuid, values in st["syslog_destinations"].items():
            node = sub(dests, "destination", uuid=item_uuid)
            for name in DESTINATION_FIELDS:
                sub(node, name, values.get(name, ""))
        ids_state = st["ids"]
        ids = sub(mvc, "IDS", version="1.0.9")
        for tag in ("rules", "policies", "userDefinedRules"):
            sub(ids, tag)
        files = sub(ids, "files")
        for name in ids_state["rulesets"]:
            node = sub(files, "file", uuid=str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"{self.name}/{name}")))
            sub(node, "filename", f"{name}.rules")
            sub(node, "filter", "")
            sub(node, "enabled", "1")
        sub(ids, "fileTags")
        general = sub(ids, "general")
        for tag, text in (("enabled", "1" if ids_state["enabled"] else "0"), ("ips", "1" if ids_state["ips"] else "0"),
                          ("promisc", "0"), ("interfaces", ids_state["interfaces"]), ("homenet", ids_state["homenet"]),
                          ("defaultPacketSize", ""), ("UpdateCron", ids_state["update_cron"]),
                          ("AlertLogrotate", "W0D23"), ("AlertSaveLogs", "4"), ("MPMAlgo", "hs")):
            sub(general, tag, text)
        detect = sub(general, "detect")
        sub(detect, "Profile", "medium")
        for tag, text in (("syslog", "0"), ("syslog_eve", "0"), ("LogPayload", "0"), ("verbosity", "")):
            sub(general, tag, text)
        cron = sub(sub(sub(mvc, "cron", version="1.0.4"), "jobs"), "job", uuid=ids_state["update_cron"])
        for tag, text in (("origin", "IDS"), ("enabled", "1"), ("minutes", "0"), ("hours", "3"), ("days", "*"),
                          ("months", "*"), ("weekdays", "*"), ("who", "root"), ("command", "ids update"),
                          ("parameters", ""), ("description", "ids rule updates")):
            sub(cron, tag, text)
        rev = st["config_revision"]
        revision = sub(root, "revision")
        sub(revision, "username", rev["username"])
        sub(revision, "time", f"{rev['time']:.4f}")
        sub(revision, "description", rev["description"])
        ET.indent(root, space="  ")
        body = ET.tostring(root, encoding="utf-8").replace(b" />", b"/>")    # DOMDocument style empty tags
        return b'<?xml version="1.0"?>\n' + body + b"\n"


def _revision(value: str | None) -> str:
    """rollback_timer.php / rollback_cancel.php: preg_replace("/[^0-9.]/", "", $argv[1])."""
    return re.sub(r"[^0-9.]", "", value or "")


def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    node = ET.SubElement(parent, tag, attrs)
    if text:
        node.text = text
    return node


def garble(payload: bytes) -> bytes:
    """Overwrite a run of bytes in the middle with noise (a NUL included, never valid XML)."""
    middle, width = len(payload) // 2, max(16, len(payload) // 50)
    noise = bytearray(random.randbytes(width))
    noise[0], noise[width // 2] = 0x00, 0x3C
    return payload[:middle] + bytes(noise) + payload[middle + width:]
