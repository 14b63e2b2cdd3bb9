# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Sophos Firewall (SFOS 19.x/20.x/21.x) driver: the XML API of the web admin
(``https://<fw>:4444/webconsole/APIController``, form field ``reqxml``), over
one kept-alive HTTPS connection whose certificate is checked before the
credentials are sent (``praxis_driver.HTTPClient``). docs/drivers/sophos.md
says what a technician sets up once on the firewall.

Every request is one ``<Request>`` with a ``<Login>`` (the API administrator
and password) and one ``<Get>``, ``<Set operation="add|update">`` or
``<Remove>``; the answer is a ``<Response APIVersion=".." IPS_CAT_VER="..">``
with ``<Login><status>`` and one element per entity. Sources: the Sophos SDK
(github sophos/sophos-firewall-sdk, ``sophosfirewall_python/api_client.py``:
the request shape, ``Status`` codes 532 "API access not enabled" and 534 "IP
not allowed in API Access List" at the top of the answer, ``Login/status``
"Authentication Failure", per-entity ``<Status code="2xx">`` for success and
"Number of records Zero." for an empty Get; ``tests/unittests.py`` and
``tests/functional.py`` for the answer shapes: ``Authentication Successful``,
``<Status code="200">Configuration applied successfully.</Status>``), the
Sophos Ansible collection (github sophos/sophosfirewall-ansible,
``plugins/modules/sfos_syslog.py``, ``sfos_firewall_rule.py``,
``sfos_admin_settings.py``, ``sfos_backup.py``) and the SFOS help "Backup and
firmware > API" (docs.sophos.com/nsg/sophos-firewall/18.5/Help/en-us/webhelp/
onlinehelp/AdministratorHelp/BackupAndFirmware/API/index.html).

``facts()``: ``<Get><AdminSettings/>`` (``HostnameSettings/HostName``). The
XML API is a configuration API: it reports no model, serial number, firmware
version, uptime, CPU, memory or pattern dates, so those facts stay None (the
model is the site file's, when it names one).

``apply_settings()``: ``rules`` as ``FirewallRule`` entities (``NetworkPolicy``
with zones, networks and services; IP addresses and networks become
``IPHost`` objects, ports ``Services`` objects, both named ``praxisops: ...``),
``syslog`` as ``SyslogServers``; and, when the device option
``backup_schedule`` is given, the ``BackupRestore/ScheduleBackup`` settings
(mode FTP, server, path, user, frequency, time, file prefix; the FTP and
encryption passwords are entered once in the web admin and never touched).
Items this driver manages carry the name prefix ``praxisops: ``; other rules
and servers are never changed.

``export_config()``: the XML API offers no configuration download. SFOS
writes its scheduled backups to the provider's FTP server; the driver reads
the newest file of this device from the landing folder (device option
``backup_dropbox``) and checks it (size, no long runs of equal bytes as an
encrypted file never has, not shorter than three quarters of the previous one, age).

Firmware and pattern (signature) updates are not offered: see ``NOT_OFFERED``.
"""

from __future__ import annotations

import ipaddress
import math
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable, ClassVar
from xml.sax.saxutils import escape

from ansible.module_utils.praxis_driver import (
    MANAGED_PREFIX, AuthFailed, Driver, DriverError, HTTPClient, ProtocolError, Target, Unsupported, managed_name,
    settings_list, syslog_server,
)

API_PATH = "/webconsole/APIController"
DEFAULT_PORT = 4444
DEFAULT_MAX_AGE_DAYS = 8            # a weekly schedule plus one day
MIN_BACKUP_BYTES = 1024
MAX_EQUAL_RUN = 64                  # encrypted data has no run of 64 equal bytes (p ~ 256**-63)

NOT_OFFERED: dict[str, str] = {
    "firmware": "not automatable through this vendor's API: the SFOS XML API neither reports the installed "
                "firmware nor installs one; firmware is installed in the web admin (Backup & firmware > "
                "Firmware) or scheduled in Sophos Central (Firewall management > Firmware updates), "
                "see docs/drivers/sophos.md",
    "signatures": "not automatable through this vendor's API: SFOS downloads its pattern updates (antivirus, "
                  "IPS, application signatures) by itself at the interval set in the web admin (Backup & "
                  "firmware > Pattern updates); the XML API neither starts a download nor reports pattern "
                  "versions, see docs/drivers/sophos.md",
}

OPTIONS: dict[str, str] = {
    "backup_dropbox": "folder on the controller where the provider's FTP server stores this firewall's "
                      "scheduled backups (read by the configuration backup)",
    "backup_prefix": "file name prefix of this firewall's scheduled backups (default: the host name "
                     "<site>-<device>); also set on the firewall when backup_schedule is given",
    "backup_max_age_days": f"newest backup older than this many days is an error (default {DEFAULT_MAX_AGE_DAYS})",
    "backup_schedule": "mapping {ftp_server, ftp_path, ftp_username, frequency (Daily|Weekly|Monthly), "
                       "hour, minute, day, date}: the scheduled backup to the provider's FTP server, made "
                       "true by the settings run (passwords are entered once in the web admin)",
}

ACTIONS = {"pass": "Accept", "block": "Drop", "reject": "Reject"}
RULE_KEYS = ("action", "interface", "direction", "ipprotocol", "protocol", "source_net", "destination_net",
             "destination_port", "sequence", "log")
FREQUENCIES = ("Daily", "Weekly", "Monthly")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SCHEDULE_KEYS = ("ftp_server", "ftp_path", "ftp_username", "frequency", "hour", "minute", "day", "date")
# ScheduleBackup elements (sophos-firewall-sdk templates/updatebackup.j2) and the option they come from
SCHEDULE_FIELDS = (("BackupMode", None), ("BackupPrefix", None), ("FTPServer", "ftp_server"),
                   ("Username", "ftp_username"), ("FtpPath", "ftp_path"), ("BackupFrequency", "frequency"),
                   ("Day", "day"), ("Hour", "hour"), ("Minute", "minute"), ("Date", "date"))

# Response/Status codes at the top of an answer (sophos-firewall-sdk api_client.py, APIClient._post)
CODE_API_DISABLED = "532"
CODE_IP_NOT_ALLOWED = "534"


class APIAccessRefused(AuthFailed):
    """The firewall refuses the XML API before looking at the credentials:
    API access is off, or the controller's address is not allow-listed."""

    kind = "auth"


class SophosDriver(Driver):
    vendor = "sophos"
    title: ClassVar[str] = "Sophos Firewall (SFOS)"
    roles: ClassVar[tuple[str, ...]] = ("firewall",)
    protocol: ClassVar[str] = "https"
    default_port: ClassVar[int] = DEFAULT_PORT
    not_offered: ClassVar[dict[str, str]] = NOT_OFFERED
    options: ClassVar[dict[str, str]] = OPTIONS
    config_suffix = ".bak"
    # no secret_patterns: the backup is encrypted as a whole
    settings_supported = {"firewall": ("rules", "syslog")}

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.http = HTTPClient(target, default_port=DEFAULT_PORT)
        self.clock: Callable[[], float] = time.time

    def close(self) -> None:
        self.http.close()

    def unsupported(self, what: str) -> Unsupported:
        reason = NOT_OFFERED.get(what)
        if reason:
            return Unsupported(self.target, f"{what}: {reason}")
        return super().unsupported(what)

    # -- XML API ----------------------------------------------------------------------------
    def _request(self, body: str, what: str) -> ET.Element:
        """Send one request; return the <Response> after the login and access checks."""
        login = (f"<Login><Username>{escape(self.target.username)}</Username>"
                 f"<Password>{escape(self.target.password)}</Password></Login>")
        reqxml = f'<Request APIVersion="1905.1">{login}{body}</Request>'
        _status, data = self.http.request("POST", API_PATH, form={"reqxml": reqxml})
        root = parse_response(self.target, data, what)
        status = root.find("Status")
        if status is not None and root.find("Login") is None:
            code = status.get("code", "")
            text = self.target.scrub((status.text or "").strip())
            if code == CODE_IP_NOT_ALLOWED:
                raise APIAccessRefused(self.target, f"{what}: the firewall answered {code} {text!r}: the "
                                                    "controller's address is not allow-listed; in the web admin "
                                                    "add it under Backup & firmware > API > Allowed IP address "
                                                    "(SFOS 22: Administration > API)")
            if code == CODE_API_DISABLED:
                raise APIAccessRefused(self.target, f"{what}: the firewall answered {code} {text!r}: the XML API "
                                                    "is switched off; in the web admin enable Backup & firmware "
                                                    "> API > API configuration")
            raise ProtocolError(self.target, f"{what}: the firewall refused the request ({code} {text!r})")
        login_status = (root.findtext("Login/status") or "").strip()
        if login_status != "Authentication Successful":
            if login_status == "Authentication Failure":
                raise AuthFailed(self.target, f"{what}: login as {self.target.username!r} refused "
                                              "(Authentication Failure); check the vault credentials of "
                                              f"{self.target.host} and that the administrator's profile "
                                              "allows API access")
            raise ProtocolError(self.target, f"{what}: unexpected login answer {login_status!r}")
        return root

    def get(self, tag: str) -> list[ET.Element]:
        """All entities of ``tag`` (an empty list for "Number of records Zero.")."""
        root = self._request(f"<Get><{tag}/></Get>", f"Get {tag}")
        found = root.findall(tag)
        if not found:
            raise ProtocolError(self.target, f"Get {tag}: the answer has no <{tag}> element")
        items = []
        for element in found:
            status = element.find("Status")
            if status is not None and len(element) == 1:
                text = (status.text or "").strip()
                if text.startswith(("Number of records Zero", "No. of records Zero")):
                    continue
                raise DriverError(self.target, f"Get {tag} answered {status.get('code', '')} {text!r}")
            items.append(element)
        return items

    def set(self, operation: str, element: ET.Element) -> None:
        self._write(f'<Set operation="{operation}">{ET.tostring(element, encoding="unicode")}</Set>',
                    element.tag, f"{operation} {element.tag} {element.findtext('Name') or ''}".strip())

    def remove(self, tag: str, name: str) -> None:
        self._write(f"<Remove><{tag}><Name>{escape(name)}</Name></{tag}></Remove>", tag, f"remove {tag} {name}")

    def _write(self, body: str, tag: str, what: str) -> None:
        root = self._request(body, what)
        status = root.find(f"{tag}/Status")
        if status is None:
            raise ProtocolError(self.target, f"{what}: the answer has no <{tag}><Status>")
        code, text = status.get("code", ""), self.target.scrub((status.text or "").strip())
        if not re.fullmatch(r"2\d\d", code):
            raise DriverError(self.target, f"{what} was refused: {code} {text!r}")

    # -- facts ------------------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        settings = self.get("AdminSettings")
        hostname = settings[0].findtext("HostnameSettings/HostName") if settings else None
        return {
            "hostname": (hostname or "").strip() or None,
            "model": self.target.model or None,
            "serial": None, "firmware_version": None, "uptime_seconds": None, "cpu_percent": None,
            "memory_percent": None, "temperature_c": None, "disks": None, "volumes": None,
            "signature_date": None,
        }

    # -- capabilities not offered -----------------------------------------------------------
    def firmware_status(self) -> dict[str, Any]:
        raise self.unsupported("firmware")

    def start_firmware_update(self) -> None:
        raise self.unsupported("firmware")

    def update_signatures(self) -> dict[str, Any]:
        raise self.unsupported("signatures")

    # -- configuration backup ---------------------------------------------------------------
    def backup_prefix(self) -> str:
        prefix = str(self.target.options.get("backup_prefix") or self.target.host).strip()
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", prefix):
            raise DriverError(self.target, f"option backup_prefix {prefix!r}: use 1-64 letters, digits, '.', '_', '-'")
        return prefix

    def export_config(self) -> bytes:
        folder = self.target.options.get("backup_dropbox")
        if not folder:
            raise Unsupported(self.target, "configuration export: the SFOS XML API offers no configuration "
                                           "download; set the device option backup_dropbox to the folder where "
                                           "the provider's FTP server receives this firewall's scheduled "
                                           "backups (docs/drivers/sophos.md)")
        path = Path(str(folder))
        if not path.is_dir():
            raise DriverError(self.target, f"option backup_dropbox: {path} is not a folder on the controller")
        prefix = self.backup_prefix()
        files = sorted((f for f in path.iterdir() if f.is_file() and f.name.startswith(prefix + "_")),
                       key=lambda f: (f.stat().st_mtime, f.name))
        if not files:
            raise DriverError(self.target, f"no scheduled backup named {prefix}_* in {path}; check the firewall's "
                              "scheduled backup (Backup & firmware > Backup & restore) and the FTP landing folder")
        newest = files[-1]
        try:
            max_age = float(self.target.options.get("backup_max_age_days", DEFAULT_MAX_AGE_DAYS))
        except (TypeError, ValueError):
            raise DriverError(self.target, "option backup_max_age_days must be a number, got "
                                           f"{self.target.options.get('backup_max_age_days')!r}") from None
        age_days = (self.clock() - newest.stat().st_mtime) / 86400
        if age_days > max_age:
            raise DriverError(self.target, f"the newest scheduled backup {newest.name} is {age_days:.1f} days old "
                                           f"(more than {max_age:g}); the firewall's scheduled backup has "
                                           "stopped reaching the FTP server")
        content = newest.read_bytes()
        if len(files) > 1:
            previous = files[-2].stat().st_size
            if previous and len(content) * 4 < previous * 3:
                raise DriverError(self.target, f"the newest scheduled backup {newest.name} has {len(content)} "
                                               f"bytes, less than three quarters of the previous one ({previous}); "
                                               "it looks cut off")
        try:
            self.validate_config(content)
        except ValueError as exc:
            raise DriverError(self.target, f"the newest scheduled backup {newest.name}: {exc}") from None
        return content

    @classmethod
    def validate_config(cls, content: bytes) -> None:
        """What can be checked of an encrypted SFOS backup without its password:
        not empty, not tiny, not text (an error page, a log), and no long run of
        equal bytes (encrypted data has none; a garbled or zero-filled transfer does)."""
        if not content or not content.strip():
            raise ValueError("the backup is empty")
        if len(content) < MIN_BACKUP_BYTES:
            raise ValueError(f"the backup has only {len(content)} bytes (an SFOS backup has at least "
                             f"{MIN_BACKUP_BYTES}); it is incomplete")
        head = content[:512]
        # text (an error page, JSON, a log) is printable almost throughout; encrypted data is about
        # 37 % printable, and may well start with "<" or "{" (a first byte judged alone refused 1 in 128)
        printable = sum(1 for b in head if 32 <= b < 127 or b in (9, 10, 13))
        if printable >= 0.95 * len(head):
            raise ValueError("the backup is plain text, not an encrypted SFOS backup")
        run = longest_run(content)
        if run >= MAX_EQUAL_RUN:
            raise ValueError(f"the backup holds a run of {run} equal bytes, which encrypted data never has; "
                             "it is damaged")
        if len(content) >= 4096 and entropy(content) < 7.5:
            raise ValueError(f"the backup's byte entropy is {entropy(content):.2f} bits, too low for encrypted "
                             "data; it is damaged or not encrypted")

    # -- settings ---------------------------------------------------------------------------
    def apply_settings(self, settings: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        if not isinstance(settings, dict):
            raise DriverError(self.target, f"settings must be a mapping, got {type(settings).__name__}")
        unknown = sorted(set(settings) - set(self.settings_supported["firewall"]))
        if unknown:
            raise DriverError(self.target, f"settings {', '.join(unknown)} are not supported on a Sophos firewall "
                                           f"(supported: {', '.join(self.settings_supported['firewall'])})")
        # everything is checked before anything is written
        rules = desired_rules(self.target, settings["rules"]) if "rules" in settings else None
        syslog = desired_syslog(self.target, settings["syslog"]) if "syslog" in settings else None
        schedule = desired_schedule(self.target, self.target.options.get("backup_schedule"), self.backup_prefix()) \
            if self.target.options.get("backup_schedule") is not None else None
        changed, before, after = False, {}, {}
        if rules is not None:
            c, before["rules"], after["rules"] = self._apply_rules(rules, check_mode)
            changed |= c
        if syslog is not None:
            c, before["syslog"], after["syslog"] = self._apply_syslog(syslog, check_mode)
            changed |= c
        if schedule is not None:
            c, before["backup_schedule"], after["backup_schedule"] = self._apply_schedule(schedule, check_mode)
            changed |= c
        return {"changed": changed, "before": before, "after": after}

    def _managed(self, tag: str) -> dict[str, ET.Element]:
        return {(e.findtext("Name") or "")[len(MANAGED_PREFIX):]: e for e in self.get(tag)
                if (e.findtext("Name") or "").startswith(MANAGED_PREFIX)}

    def _apply_rules(self, desired: dict[str, dict[str, Any]],
                     check_mode: bool) -> tuple[bool, dict[str, Any], dict[str, Any]]:
        current = {name: rule_view(element) for name, element in self._managed("FirewallRule").items()}
        adds = [n for n in desired if n not in current]
        updates = [n for n in desired if n in current and current[n] != desired[n]["view"]]
        deletes = [n for n in current if n not in desired]
        before = dict(current)
        after = {name: want["view"] for name, want in desired.items()}
        changed = bool(adds or updates or deletes)
        if not changed or check_mode:
            return changed, before, after
        self._ensure_objects([desired[n] for n in adds + updates])
        for name in sorted(adds, key=lambda n: (desired[n]["sequence"], n)):
            self.set("add", rule_element(name, desired[name]))
        for name in updates:
            self.set("update", rule_element(name, desired[name]))
        for name in deletes:
            self.remove("FirewallRule", MANAGED_PREFIX + name)
        return True, before, after

    def _ensure_objects(self, rules: list[dict[str, Any]]) -> None:
        """The IPHost and Services objects the rules name, added when missing."""
        hosts = {e.findtext("Name") for e in self.get("IPHost")} if any(r["hosts"] for r in rules) else set()
        services = {e.findtext("Name") for e in self.get("Services")} if any(r["services"] for r in rules) else set()
        for rule in rules:
            for name, network in rule["hosts"].items():
                if name not in hosts:
                    self.set("add", iphost_element(name, network))
                    hosts.add(name)
            for name, (protocol, port) in rule["services"].items():
                if name not in services:
                    self.set("add", service_element(name, protocol, port))
                    services.add(name)

    def _apply_syslog(self, desired: dict[str, dict[str, Any]],
                      check_mode: bool) -> tuple[bool, dict[str, Any], dict[str, Any]]:
        current = {name: syslog_view(element) for name, element in self._managed("SyslogServers").items()}
        adds = [n for n in desired if n not in current]
        updates = [n for n in desired if n in current and current[n] != desired[n]]
        deletes = [n for n in current if n not in desired]
        changed = bool(adds or updates or deletes)
        if changed and not check_mode:
            for name in adds:
                self.set("add", syslog_element(name, desired[name]))
            for name in updates:
                self.set("update", syslog_element(name, desired[name]))
            for name in deletes:
                self.remove("SyslogServers", MANAGED_PREFIX + name)
        return changed, current, dict(desired)

    def _apply_schedule(self, desired: dict[str, str],
                        check_mode: bool) -> tuple[bool, dict[str, Any], dict[str, Any]]:
        found = self.get("BackupRestore")
        schedule = found[0].find("ScheduleBackup") if found else None
        if schedule is None:
            raise ProtocolError(self.target, "Get BackupRestore: the answer has no <ScheduleBackup>")
        current = {tag: (schedule.findtext(tag) or "").strip() for tag, _key in SCHEDULE_FIELDS}
        changed = any(current[tag] != value for tag, value in desired.items())
        if changed and not check_mode:
            element = ET.Element("BackupRestore")
            body = ET.SubElement(element, "ScheduleBackup")
            for child in schedule:           # the passwords stay as the firewall has them (hashform)
                if child.tag in desired:
                    continue
                body.append(child)
            for tag, value in desired.items():
                ET.SubElement(body, tag).text = value
            self._write(f'<Set operation="update">{ET.tostring(element, encoding="unicode")}</Set>',
                        "BackupRestore", "update BackupRestore ScheduleBackup")
        return changed, current, dict(desired)


DRIVER = SophosDriver
DRIVER_CLASSES = (SophosDriver,)


# -- parsing and building (module level so the tests reach them) ---------------------------------

def parse_response(target: Target, data: bytes, what: str) -> ET.Element:
    if re.search(rb"<!(?:DOCTYPE|ENTITY)", data or b"", re.IGNORECASE):
        raise ProtocolError(target, f"{what}: the answer holds a DOCTYPE or entity declaration")
    try:
        root = ET.fromstring(data)  # noqa: S314 - no DTDs (refused above); expat resolves no external entities
    except ET.ParseError as exc:
        raise ProtocolError(target, f"{what}: the answer is not well-formed XML ({exc})") from None
    if root.tag != "Response":
        raise ProtocolError(target, f"{what}: the answer's root is <{root.tag}>, not <Response>")
    return root


def longest_run(data: bytes) -> int:
    best = run = 0
    last = None
    for byte in data:
        run = run + 1 if byte == last else 1
        last = byte
        best = max(best, run)
    return best


def entropy(data: bytes) -> float:
    counts = [0] * 256
    for byte in data:
        counts[byte] += 1
    total = len(data)
    return -sum(c / total * math.log2(c / total) for c in counts if c)


def _fail(target: Target, message: str) -> DriverError:
    return DriverError(target, message)


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
    return [str(p).strip() for p in parts if str(p).strip()]


def _name(item: Any, where: str, seen: set[str], target: Target) -> str:
    """managed_name(), and what SFOS allows in a name (255 characters, no XML specials)."""
    name = managed_name(target, item, where, seen)
    if len(MANAGED_PREFIX + name) > 255 or not re.fullmatch(r"[^<>&\"']+", name):
        raise _fail(target, f"{where}.description {name!r}: at most {255 - len(MANAGED_PREFIX)} characters "
                            "without < > & \" '")
    return name


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _zone(value: str, where: str, target: Target) -> str:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,49}", value):
        raise _fail(target, f"{where} {value!r} is neither an IP address, a network nor a zone name")
    return value.upper() if value.lower() in ("lan", "wan", "dmz", "vpn", "wifi") else value


def desired_rules(target: Target, items: Any) -> dict[str, dict[str, Any]]:
    """Settings rules -> {name: {"view": comparable form, "hosts": {object name: network},
    "services": {object name: (protocol, port)}, "sequence": int, "log": bool}}."""
    settings_list(target, items, "rules")
    result: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"settings.rules[{index}]"
        name = _name(item, where, seen, target)
        unknown = sorted(set(item) - set(RULE_KEYS) - {"description"})
        if unknown:
            raise _fail(target, f"{where}: unknown keys {', '.join(unknown)}")
        action = str(item.get("action") or "pass").strip().lower()
        if action not in ACTIONS:
            raise _fail(target, f"{where}.action must be pass, block or reject, got {item.get('action')!r}")
        if str(item.get("ipprotocol") or "inet").strip().lower() != "inet":
            raise _fail(target, f"{where}.ipprotocol {item.get('ipprotocol')!r}: only IPv4 (inet) rules are "
                                "managed on a Sophos firewall (the rules are written with IPFamily IPv4)")
        direction = str(item.get("direction") or "in").strip().lower()
        if direction != "in":
            raise _fail(target, f"{where}.direction {item.get('direction')!r}: Sophos rules are zone based and "
                                "match traffic entering from the source zones; only 'in' is possible")
        hosts: dict[str, str] = {}
        zones: dict[str, list[str]] = {"source": [], "destination": []}
        networks: dict[str, list[str]] = {"source": [], "destination": []}
        zones["source"] = [_zone(z, f"{where}.interface", target) for z in _list(item.get("interface"))]
        for side in ("source", "destination"):
            for value in _list(item.get(f"{side}_net")):
                if value.lower() == "any":
                    continue
                network = _network(value)
                if network is None:
                    zone = _zone(value, f"{where}.{side}_net", target)
                    if zone not in zones[side]:
                        zones[side].append(zone)
                    continue
                text = str(network.network_address) if network.num_addresses == 1 else str(network)
                object_name = MANAGED_PREFIX + text
                hosts[object_name] = text
                networks[side].append(object_name)
        protocol = str(item.get("protocol") or "any").strip().lower()
        ports = _list(item.get("destination_port"))
        services: dict[str, tuple[str, str]] = {}
        if protocol not in ("any", "tcp", "udp", "tcp/udp"):
            raise _fail(target, f"{where}.protocol must be any, tcp, udp or tcp/udp, got {item.get('protocol')!r}")
        if ports and protocol == "any":
            raise _fail(target, f"{where}.destination_port needs protocol tcp, udp or tcp/udp")
        for port in ports:
            if not re.fullmatch(r"\d{1,5}(?::\d{1,5})?", port) or \
                    not all(1 <= int(p) <= 65535 for p in port.split(":")):
                raise _fail(target, f"{where}.destination_port {port!r} must be a port 1-65535 or a range a:b")
            for proto in (("tcp", "udp") if protocol == "tcp/udp" else (protocol,)):
                services[f"{MANAGED_PREFIX}{proto.upper()} {port}"] = (proto.upper(), port)
        if protocol != "any" and not ports:
            raise _fail(target, f"{where}: protocol {protocol} without destination_port; give the ports (a "
                                "Sophos service names protocol and ports)")
        log = item.get("log", False)
        if not isinstance(log, bool):
            raise _fail(target, f"{where}.log must be true or false, got {log!r}")
        try:
            sequence = int(item.get("sequence") or 0)
        except (TypeError, ValueError):
            raise _fail(target, f"{where}.sequence must be a number, got {item.get('sequence')!r}") from None
        view = {"action": ACTIONS[action], "source_zones": sorted(zones["source"]),
                "destination_zones": sorted(zones["destination"]),
                "source_networks": sorted(networks["source"]), "destination_networks": sorted(networks["destination"]),
                "services": sorted(services), "log": log, "enabled": True}
        result[name] = {"view": view, "hosts": hosts, "services": services, "sequence": sequence}
    return result


def rule_view(element: ET.Element) -> dict[str, Any]:
    policy = element.find("NetworkPolicy")

    def names(path: str) -> list[str]:
        return sorted((e.text or "").strip() for e in policy.findall(path)) if policy is not None else []

    return {
        "action": (policy.findtext("Action") if policy is not None else "") or "",
        "source_zones": names("SourceZones/Zone"), "destination_zones": names("DestinationZones/Zone"),
        "source_networks": names("SourceNetworks/Network"),
        "destination_networks": names("DestinationNetworks/Network"),
        "services": names("Services/Service"),
        "log": (policy.findtext("LogTraffic") if policy is not None else "") == "Enable",
        "enabled": (element.findtext("Status") or "") == "Enable",
    }


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = text
    return child


def rule_element(name: str, want: dict[str, Any]) -> ET.Element:
    """A FirewallRule as in sophos-firewall-sdk templates/createfwrule.j2."""
    view = want["view"]
    rule = ET.Element("FirewallRule", {"transactionid": ""})
    _sub(rule, "Name", MANAGED_PREFIX + name)
    _sub(rule, "Description", "managed by praxisops")
    _sub(rule, "IPFamily", "IPv4")
    _sub(rule, "Status", "Enable")
    _sub(rule, "Position", "Bottom")
    _sub(rule, "PolicyType", "Network")
    policy = ET.SubElement(rule, "NetworkPolicy")
    _sub(policy, "Action", view["action"])
    _sub(policy, "LogTraffic", "Enable" if view["log"] else "Disable")
    _sub(policy, "SkipLocalDestined", "Disable")
    for key, outer, inner in (("source_zones", "SourceZones", "Zone"),
                              ("destination_zones", "DestinationZones", "Zone")):
        if view[key]:
            group = ET.SubElement(policy, outer)
            for value in view[key]:
                _sub(group, inner, value)
    _sub(policy, "Schedule", "All The Time")
    for key, outer, inner in (("source_networks", "SourceNetworks", "Network"),
                              ("destination_networks", "DestinationNetworks", "Network"),
                              ("services", "Services", "Service")):
        if view[key]:
            group = ET.SubElement(policy, outer)
            for value in view[key]:
                _sub(group, inner, value)
    return rule


def iphost_element(name: str, network: str) -> ET.Element:
    """An IPHost (sophos-firewall-sdk templates/createiphost.j2, createipnetwork.j2)."""
    net = ipaddress.ip_network(network, strict=False)
    host = ET.Element("IPHost", {"transactionid": ""})
    _sub(host, "Name", name)
    _sub(host, "IPFamily", "IPv6" if net.version == 6 else "IPv4")
    if net.num_addresses == 1:
        _sub(host, "HostType", "IP")
        _sub(host, "IPAddress", str(net.network_address))
    else:
        _sub(host, "HostType", "Network")
        _sub(host, "IPAddress", str(net.network_address))
        _sub(host, "Subnet", str(net.netmask) if net.version == 4 else str(net.prefixlen))
    return host


def service_element(name: str, protocol: str, port: str) -> ET.Element:
    """A TCP or UDP service (sophos-firewall-sdk templates/createservice.j2)."""
    service = ET.Element("Services", {"transactionid": ""})
    _sub(service, "Name", name)
    _sub(service, "Type", "TCPorUDP")
    details = ET.SubElement(ET.SubElement(service, "ServiceDetails"), "ServiceDetail")
    _sub(details, "SourcePort", "1:65535")
    _sub(details, "DestinationPort", port)
    _sub(details, "Protocol", protocol)
    return service


def desired_syslog(target: Target, items: Any) -> dict[str, dict[str, Any]]:
    """Settings syslog -> {name: {"host", "port"}}; SFOS sends syslog over UDP
    (or TLS, "secure connection", sfos_syslog.py), not over plain TCP."""
    settings_list(target, items, "syslog")
    result: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"settings.syslog[{index}]"
        name = _name(item, where, seen, target)
        entry = syslog_server(target, item, where)
        host, port = entry["host"], entry["port"]
        if not re.fullmatch(r"[A-Za-z0-9.:-]+", host):
            raise _fail(target, f"{where}.host must be an address or host name, got {item.get('host')!r}")
        if entry["transport"] != "udp":
            raise _fail(target, f"{where}.transport {item.get('transport')!r}: a Sophos firewall sends syslog over "
                                "UDP (or TLS), not plain TCP; use transport udp")
        result[name] = {"host": host, "port": port, "transport": "udp"}
    return result


def syslog_view(element: ET.Element) -> dict[str, Any]:
    port = (element.findtext("Port") or "").strip()
    secure = (element.findtext("EnableSecureConnection") or "Disable").strip() == "Enable"
    return {"host": (element.findtext("ServerAddress") or "").strip(),
            "port": int(port) if port.isdigit() else port, "transport": "tls" if secure else "udp"}


def syslog_element(name: str, want: dict[str, Any]) -> ET.Element:
    """SyslogServers as in sophos/sophosfirewall-ansible plugins/modules/sfos_syslog.py."""
    server = ET.Element("SyslogServers", {"transactionid": ""})
    _sub(server, "Name", MANAGED_PREFIX + name)
    _sub(server, "ServerAddress", want["host"])
    _sub(server, "Port", str(want["port"]))
    _sub(server, "EnableSecureConnection", "Disable")
    _sub(server, "Facility", "DAEMON")
    _sub(server, "SeverityLevel", "Information")
    _sub(server, "Format", "Device standard")
    logs = ET.SubElement(server, "LogSettings")
    for group, entries in (("SecurityPolicy", ("PolicyRules", "InvalidTraffic", "LocalACLs", "DoSAttack")),
                           ("IPS", ("Anomaly", "Signatures")),
                           ("Events", ("AdminEvents", "AuthenticationEvents", "SystemEvents"))):
        section = ET.SubElement(logs, group)
        for entry in entries:
            _sub(section, entry, "Enable")
    return server


def desired_schedule(target: Target, option: Any, prefix: str) -> dict[str, str]:
    """The option backup_schedule -> ScheduleBackup element texts (FTP mode)."""
    where = "option backup_schedule"
    if not isinstance(option, dict):
        raise _fail(target, f"{where} must be a mapping, got {type(option).__name__}")
    unknown = sorted(set(option) - set(SCHEDULE_KEYS))
    if unknown:
        raise _fail(target, f"{where}: unknown keys {', '.join(unknown)} (passwords are entered in the web admin)")
    server = str(option.get("ftp_server") or "").strip()
    try:
        ipaddress.ip_address(server)
    except ValueError:
        raise _fail(target, f"{where}.ftp_server must be an IP address (SFOS takes no host name there), "
                            f"got {option.get('ftp_server')!r}") from None
    frequency = str(option.get("frequency") or "Daily").strip().capitalize()
    if frequency not in FREQUENCIES:
        raise _fail(target, f"{where}.frequency must be Daily, Weekly or Monthly, got {option.get('frequency')!r}")
    values = {"BackupMode": "FTP", "BackupPrefix": prefix, "FTPServer": server,
              "Username": str(option.get("ftp_username") or "").strip(),
              "FtpPath": str(option.get("ftp_path") or "").strip(), "BackupFrequency": frequency}
    if not values["Username"]:
        raise _fail(target, f"{where}.ftp_username is required")
    for key, top in (("hour", 23), ("minute", 59)):
        try:
            number = int(option.get(key, 2 if key == "hour" else 0))
        except (TypeError, ValueError):
            raise _fail(target, f"{where}.{key} must be a number, got {option.get(key)!r}") from None
        if not 0 <= number <= top:
            raise _fail(target, f"{where}.{key} must be 0-{top}, got {number}")
        values[key.capitalize()] = str(number)
    if frequency == "Weekly":
        day = str(option.get("day") or "Sunday").strip().capitalize()
        if day not in WEEKDAYS:
            raise _fail(target, f"{where}.day must be a weekday (Monday..Sunday), got {option.get('day')!r}")
        values["Day"] = day
    if frequency == "Monthly":
        try:
            date = int(option.get("date") or 1)
        except (TypeError, ValueError):
            raise _fail(target, f"{where}.date must be a day of the month, got {option.get('date')!r}") from None
        if not 1 <= date <= 28:
            raise _fail(target, f"{where}.date must be 1-28 (every month has it), got {date}")
        values["Date"] = str(date)
    return values
