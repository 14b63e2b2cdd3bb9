"""Sophos Firewall (SFOS) emulator (``SophosFirewall``).

Speaks the XML API of the SFOS web admin over HTTPS on port 4444:
``/webconsole/APIController`` with the request in the query or form field
``reqxml``. What is emulated, and where the facts come from:

* request and answer shape: ``<Request APIVersion><Login><Username/><Password/></Login>``
  with one ``<Get>``, ``<Set operation="add|update">`` or ``<Remove>``; the answer
  ``<Response APIVersion=".." IPS_CAT_VER="1">`` with ``<Login><status>Authentication
  Successful</status></Login>`` and one element per entity (``transactionid=""``).
  SFOS API help "List of tags used in API" (docs.sophos.com/nsg/sophos-firewall/v16056/PDF/APIDocument.zip,
  mirrored at utm-shop.de); answers as in github sophos/sophos-firewall-sdk
  ``sophosfirewall_python/tests/unittests.py`` and ``tests/functional.py`` and in the tutorial
  output of github sophos/sophosfirewall-ansible ``docs/docsite/rst/tutorial1.x.rst``
  (``APIVersion="2000.2"``, ``IPS_CAT_VER``, ``IS_WIFI6``).
* status codes: per entity ``<Status code="200">Configuration applied successfully.</Status>``
  (success is any 2xx, sophos-firewall-sdk ``api_client.py`` ``submit_template``); an empty
  Get answers ``<Status>Number of records Zero.</Status>`` (``_error_check``); a refused
  login ``<Login><status>Authentication Failure</status></Login>`` (``_post``); API access
  switched off answers ``<Status code="532">`` and a requester address missing from the
  allow-list ``<Status code="534">`` at the top of the answer, before the login is looked
  at (``_post``: "API access not enabled", "IP not allowed in API Access List"). The texts
  of 532/534 and of the failure codes 500/502/503 below are this lab's wording: the API help
  that lists them is a download not kept here.
* the API switch and allow-list: SFOS help "Backup and firmware > API"
  (docs.sophos.com/nsg/sophos-firewall/18.5/Help/en-us/webhelp/onlinehelp/AdministratorHelp/
  BackupAndFirmware/API/index.html): "API configuration" and "Allowed IP address";
  state ``api_enabled`` and ``allowed_ips``.
* entities: ``FirewallRule`` (sophos-firewall-sdk ``templates/createfwrule.j2``,
  ``updatefwrule.j2``), ``IPHost`` (``createiphost.j2``, ``createipnetwork.j2``),
  ``Services`` (``createservice.j2``), ``Zone`` (``createzone.j2``), ``SyslogServers``
  (sophosfirewall-ansible ``plugins/modules/sfos_syslog.py``), ``AdminSettings`` with
  ``HostnameSettings/HostName`` (``sfos_admin_settings.py``) and ``BackupRestore/ScheduleBackup``
  (sophos-firewall-sdk ``backup.py``, ``templates/updatebackup.j2``; passwords answered in
  ``hashform``). A rule naming a zone, network or service that does not exist is refused.
* scheduled backup: SFOS help "Backup and restore" (docs.sophos.com/nsg/sophos-firewall/19.0/
  Help/.../BackupAndFirmware/BackupAndRestore/): encrypted backups, stored locally, sent by
  FTP or mail, on a schedule. The lab writes a backup into ``ftp_root / FtpPath`` (the
  provider's FTP server) when ``BackupMode`` is FTP: once at boot and after every change of
  the configuration through the API (standing in for the schedule), and on
  ``run_scheduled_backup()``. The file is ``<BackupPrefix>_<serial>_<YYYY_MM_DD_HH_MM_SS>``
  (the lab's naming; SFOS starts the name with the prefix), a gzipped tar of the
  configuration (and a 48 KiB stand-in for the certificate store) encrypted with a key
  stream, so it looks like random bytes as a real encrypted backup does.

Faults (lab.core.Faults): ``latency`` before every answer; ``error_rate`` HTTP 500;
``drop_rate`` the connection is closed without an answer; ``refuse_auth`` every login
answers Authentication Failure; ``truncate_backup`` / ``corrupt_backup`` the next backup
files are cut in half / have a run of zero bytes in the middle (switching either on runs the
schedule at once, ``on_faults``); ``firmware_fail`` a
firmware installed with ``install_firmware()`` (the web admin or Sophos Central; the XML
API installs none) does not boot and the old version stays; ``reboot_never_returns`` the
device stays down after a reboot.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import hashlib
import io
import ipaddress
import logging
import os
import re
import secrets
import tarfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from lab import https
from lab.core import Device

log = logging.getLogger("lab.sophos")

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUN_DIR = ROOT / ".lab"
DEFAULT_VERSION = "21.0.1"
ZONES = ("LAN", "WAN", "DMZ", "VPN", "WiFi", "GUEST")
SINGLETONS = ("AdminSettings", "BackupRestore")
ENTITIES = ("FirewallRule", "IPHost", "Services", "Zone", "SyslogServers", *SINGLETONS)
OK_TEXT = "Configuration applied successfully."


def api_version(firmware: str) -> str:
    """SFOS 19.5 answers APIVersion 1905.1, 20.0 answers 2000.x."""
    match = re.match(r"(\d+)\.(\d+)", firmware)
    return f"{int(match.group(1))}{int(match.group(2)):02d}.1" if match else "2000.1"


def _el(tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.Element(tag, attrs)
    if text is not None:
        element.text = text
    return element


def _status(tag: str, code: str, text: str) -> ET.Element:
    element = _el(tag, transactionid="")
    element.append(_el("Status", text, code=code))
    return element


class SophosFirewall(Device):
    vendor = "sophos"
    role = "firewall"
    model = "Sophos XGS 116"
    default_port = 4444
    protocol = "https"
    lab_interfaces = ("LAN", "GUEST")

    def __init__(self, name: str, site_id: str, address: str, port: int | None = None,
                 username: str | None = None, password: str | None = None,
                 reboot_seconds: float = 3.0, run_dir: Path | None = None, *,
                 hostname: str | None = None, firmware_version: str = DEFAULT_VERSION,
                 ftp_root: Path | None = None, api_enabled: bool = True,
                 allowed_ips: list[str] | None = None, backup_schedule: dict[str, str] | None = None) -> None:
        self.run_dir = Path(run_dir) if run_dir is not None else DEFAULT_RUN_DIR
        self.ftp_root = Path(ftp_root) if ftp_root is not None else self.run_dir / "ftp"
        self._init = {"name": name, "site_id": site_id, "hostname": hostname, "firmware_version": firmware_version,
                      "api_enabled": api_enabled, "allowed_ips": allowed_ips,
                      "backup_schedule": dict(backup_schedule or {})}
        self.staged_version: str | None = None
        self.backups_written: list[Path] = []
        # the rest of a backup (certificate store, reports settings): incompressible, some 48 KiB
        self._store = hashlib.shake_256(f"{site_id}/{name}".encode()).digest(48 * 1024)
        super().__init__(name=name, site_id=site_id, address=address, port=port, username=username,
                         password=password, reboot_seconds=reboot_seconds)

    @classmethod
    def lab_kwargs(cls, run_dir: Any, name: str) -> dict[str, Any]:
        """A lab firewall sends its scheduled backups to the lab's FTP folder
        (``<run_dir>/ftp/sophos/<name>``), set up as a technician does once in the
        web admin (docs/drivers/sophos.md); the prefix is the driver's default."""
        return {"ftp_root": Path(run_dir) / "ftp",
                "backup_schedule": {"BackupMode": "FTP", "BackupPrefix": name, "FTPServer": "127.0.0.1",
                                    "Username": "praxisops-backup", "FtpPath": f"sophos/{name}",
                                    "BackupFrequency": "Daily", "Hour": "2", "Minute": "0"}}

    def site_options(self) -> dict[str, Any]:
        """``backup_dropbox``: the folder its scheduled backups land in, when they go by FTP."""
        plan = self.schedule()
        if plan.get("BackupMode") != "FTP" or not plan.get("FTPServer"):
            return {}
        return {"backup_dropbox": str(self.ftp_root / plan.get("FtpPath", "").strip("/"))}

    @classmethod
    def random_credentials(cls) -> tuple[str, str]:
        """An API administrator (Authentication > Users, type Administrator) and its password."""
        return f"api-{secrets.token_hex(2)}", secrets.token_urlsafe(18)

    # -- state ---------------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        init = self._init
        short = init["name"].split("-")[-1] if "-" in init["name"] else init["name"]
        hostname = init["hostname"] or re.sub(r"[^A-Za-z0-9-]", "-", short).strip("-").lower() or "sfos"
        digest = hashlib.sha256(f"{init['site_id']}/{init['name']}".encode()).hexdigest().upper()
        admin = _el("AdminSettings", transactionid="")
        names = ET.SubElement(admin, "HostnameSettings")
        names.append(_el("HostName", hostname))
        names.append(_el("HostNameDesc", f"Praxis {init['site_id']}"))
        backup = _el("BackupRestore", transactionid="")
        schedule = ET.SubElement(backup, "ScheduleBackup")
        for tag, value in (("BackupMode", "Local"), ("BackupPrefix", ""), ("FTPServer", ""), ("Username", ""),
                           ("FtpPath", ""), ("EmailAddress", ""), ("BackupFrequency", "Never"), ("Day", ""),
                           ("Hour", ""), ("Minute", ""), ("Date", "")):
            # backup_schedule: what a technician set up once in the web admin (ScheduleBackup texts)
            schedule.append(_el(tag, str(init["backup_schedule"].get(tag, value))))
        unknown = set(init["backup_schedule"]) - {child.tag for child in schedule}
        if unknown:
            raise ValueError(f"backup_schedule: unknown ScheduleBackup fields {', '.join(sorted(unknown))}")
        zones = {}
        for zone in ZONES:
            element = _el("Zone", transactionid="")
            element.append(_el("Name", zone))
            element.append(_el("Type", "LAN" if zone not in ("WAN", "VPN") else zone))
            zones[zone] = element
        return {
            "hostname": hostname,
            "serial": "X1160" + digest[:10],
            "firmware_version": init["firmware_version"],
            "api_enabled": init["api_enabled"],
            "allowed_ips": list(init["allowed_ips"] if init["allowed_ips"] is not None else ["127.0.0.0/8"]),
            "entities": {"FirewallRule": {}, "IPHost": {}, "Services": {}, "Zone": zones, "SyslogServers": {},
                         "AdminSettings": {"": admin}, "BackupRestore": {"": backup}},
            "backup_passwords": {"Password": "", "EncryptionPassword": secrets.token_urlsafe(12)},
        }

    def summary(self) -> dict[str, Any]:
        data = super().summary()
        entities = self.state["entities"]
        data.update(hostname=self.hostname, serial=self.state["serial"], api_enabled=self.state["api_enabled"],
                    allowed_ips=list(self.state["allowed_ips"]), firewall_rules=len(entities["FirewallRule"]),
                    syslog_servers=len(entities["SyslogServers"]), backups_written=len(self.backups_written))
        return data

    @property
    def hostname(self) -> str:
        return self.state["entities"]["AdminSettings"][""].findtext("HostnameSettings/HostName") or ""

    def schedule(self) -> dict[str, str]:
        element = self.state["entities"]["BackupRestore"][""].find("ScheduleBackup")
        return {child.tag: (child.text or "") for child in element}

    # -- lifecycle -----------------------------------------------------------------------
    async def _open_listeners(self) -> list[Any]:
        listeners = await https.serve(self._handle, self.address, self.port, self.run_dir, shutdown_timeout=0.25)
        self.run_scheduled_backup()
        return listeners

    def install_firmware(self, version: str) -> None:
        """What the web admin or Sophos Central does (the XML API cannot): stage and reboot."""
        self.staged_version = version
        self.reboot()

    def on_boot(self) -> None:
        if self.staged_version and not self.faults.firmware_fail:
            self.state["firmware_version"] = self.staged_version
        self.staged_version = None          # a failed image: SFOS boots the previous firmware partition

    # -- scheduled backup ------------------------------------------------------------------
    def on_faults(self) -> None:
        """truncate_backup / corrupt_backup show in the next scheduled backup:
        it is written now, standing in for the schedule's next run."""
        if self.up and (self.faults.truncate_backup or self.faults.corrupt_backup):
            self.run_scheduled_backup()

    def render_config(self) -> bytes:
        root = _el("Configuration", APIVersion=api_version(self.state["firmware_version"]))
        for tag in ENTITIES:
            for element in self.state["entities"][tag].values():
                root.append(copy.deepcopy(element))
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)

    def run_scheduled_backup(self) -> Path | None:
        """Write an encrypted backup to the FTP landing folder when the schedule says FTP."""
        plan = self.schedule()
        if plan.get("BackupMode") != "FTP" or not plan.get("FTPServer"):
            return None
        folder = self.ftp_root / plan.get("FtpPath", "").strip("/")
        folder.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for member, data in (("Entities.xml", self.render_config()), ("certificates.db", self._store)):
                info = tarfile.TarInfo(member)
                info.size, info.mtime = len(data), int(time.time())
                archive.addfile(info, io.BytesIO(data))
        payload = encrypt(buffer.getvalue(), self.state["backup_passwords"]["EncryptionPassword"])
        if self.faults.truncate_backup:
            payload = payload[:len(payload) // 2]
        if self.faults.corrupt_backup:
            middle = len(payload) // 2
            payload = payload[:middle] + bytes(256) + payload[middle + 256:]
        stamp = dt.datetime.now().strftime("%Y_%m_%d_%H_%M_%S_%f")
        path = folder / f"{plan.get('BackupPrefix') or 'Backup'}_{self.state['serial']}_{stamp}"
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(payload)
        os.replace(tmp, path)
        self.backups_written.append(path)
        return path

    # -- request handling ----------------------------------------------------------------
    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            response = await self._dispatch(request)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - an internal error becomes a 500 page
            log.exception("%s: %s %s failed", self.name, request.method, request.path)
            response = web.Response(status=500, text="<html><body>Internal Server Error</body></html>",
                                    content_type="text/html")
        self.requests += 1
        return response

    def _xml(self, root: ET.Element) -> web.Response:
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8")
        return web.Response(body=body, content_type="text/xml", charset="UTF-8")

    def _response(self) -> ET.Element:
        return _el("Response", APIVersion=api_version(self.state["firmware_version"]), IPS_CAT_VER="1",
                   IS_WIFI6="0")

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        body = await request.read() if request.body_exists else b""
        await self.faults.delay()
        dropped = https.maybe_drop(request, self.faults)    # no answer at all
        if dropped is not None:
            return dropped
        if request.path != "/webconsole/APIController":
            return web.Response(status=404, text="<html><body>Not Found</body></html>", content_type="text/html")
        if self.faults.roll_error():
            return web.Response(status=500, text="<html><body>Internal Server Error</body></html>",
                                content_type="text/html")
        reqxml = request.query.get("reqxml")
        if request.method == "POST" and body:
            reqxml = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)).get("reqxml", reqxml)
        response = self._response()
        if not self.state["api_enabled"]:
            response.append(_el("Status", "API access is disabled.", code="532"))
            return self._xml(response)
        if not self._allowed(request):
            response.append(_el("Status", "API operations are not allowed from the requester IP address",
                                code="534"))
            return self._xml(response)
        if not reqxml or not reqxml.strip():
            response.append(_el("Status", "Input request file is empty.", code="502"))
            return self._xml(response)
        try:
            if re.search(r"<!(?:DOCTYPE|ENTITY)", reqxml, re.IGNORECASE):
                raise ET.ParseError("DTD")
            root = ET.fromstring(reqxml)  # noqa: S314 - DTDs refused above
        except ET.ParseError:
            response.append(_el("Status", "Input request file has invalid XML format.", code="503"))
            return self._xml(response)
        login = root.find("Login")
        if root.tag != "Request" or login is None:
            response.append(_el("Status", "Input request file has invalid XML format.", code="503"))
            return self._xml(response)
        ok = self.check_credentials(login.findtext("Username"), login.findtext("Password"))
        response.append(login_answer := _el("Login"))
        login_answer.append(_el("status", "Authentication Successful" if ok else "Authentication Failure"))
        if not ok:
            return self._xml(response)
        changed = False
        for operation in root:
            if operation.tag == "Get":
                for query in operation:
                    response.extend(self._get(query))
            elif operation.tag == "Set":
                for entity in operation:
                    answer = self._set(operation.get("operation", "").lower(), entity)
                    changed |= answer.find("Status").get("code", "").startswith("2")
                    response.append(answer)
            elif operation.tag == "Remove":
                for entity in operation:
                    answer = self._remove(entity)
                    changed |= answer.find("Status").get("code", "").startswith("2")
                    response.append(answer)
        if changed:
            self.run_scheduled_backup()
        return self._xml(response)

    def _allowed(self, request: web.BaseRequest) -> bool:
        peer = request.remote or ""
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in self.state["allowed_ips"])

    # -- Get / Set / Remove -----------------------------------------------------------------
    def _get(self, query: ET.Element) -> list[ET.Element]:
        tag = query.tag
        if tag not in ENTITIES:
            return [_status(tag, "500", "Operation could not be performed on Entity.")]
        items = list(self.state["entities"][tag].values())
        key = query.find("Filter/key")
        if key is not None:
            field, criteria, value = key.get("name", "Name"), key.get("criteria", "="), key.text or ""
            texts = [(e.findtext(field) or "") for e in items]
            if criteria == "=":
                items = [e for e, t in zip(items, texts, strict=True) if t == value]
            elif criteria == "!=":
                items = [e for e, t in zip(items, texts, strict=True) if t != value]
            else:
                items = [e for e, t in zip(items, texts, strict=True) if value.lower() in t.lower()]
        if not items:
            element = _el(tag, transactionid="")
            element.append(_el("Status", "Number of records Zero."))
            return [element]
        result = []
        for item in items:
            copied = copy.deepcopy(item)
            if tag == "BackupRestore":        # passwords only as hashes (templates/updatebackup.j2)
                schedule = copied.find("ScheduleBackup")
                for secret, value in self.state["backup_passwords"].items():
                    if value:
                        schedule.append(_el(secret, hashlib.sha256(value.encode()).hexdigest(), hashform="mode1"))
            result.append(copied)
        return result

    def _set(self, operation: str, entity: ET.Element) -> ET.Element:
        tag = entity.tag
        if tag not in ENTITIES or tag == "Zone" and operation == "update":
            return _status(tag, "500", "Operation could not be performed on Entity.")
        store = self.state["entities"][tag]
        if tag in SINGLETONS:
            return self._update_singleton(store[""], entity)
        name = (entity.findtext("Name") or "").strip()
        if not name:
            return _status(tag, "500", "Operation could not be performed on Entity. Name is required.")
        if operation == "add" and name in store:
            return _status(tag, "502", "Operation failed. Entity having same name already exists.")
        if operation == "update" and name not in store:
            return _status(tag, "500", "Operation could not be performed on Entity. Entity not found.")
        problem = self._invalid(entity)
        if problem:
            return _status(tag, "500", f"Operation could not be performed on Entity. {problem}")
        stored = copy.deepcopy(entity)
        for transient in ("Position", "After", "Before"):
            for child in stored.findall(transient):
                stored.remove(child)
        stored.set("transactionid", "")
        store[name] = stored
        return _status(tag, "200", OK_TEXT)

    def _update_singleton(self, current: ET.Element, entity: ET.Element) -> ET.Element:
        tag = entity.tag
        for section in entity:
            target = current.find(section.tag)
            if target is None:
                return _status(tag, "500", f"Operation could not be performed on Entity. Unknown {section.tag}.")
            for child in section:
                if tag == "BackupRestore" and child.tag in ("Password", "EncryptionPassword"):
                    if child.get("hashform") is None:          # a hash sent back keeps the password
                        self.state["backup_passwords"][child.tag] = child.text or ""
                    continue
                if tag == "BackupRestore" and child.tag == "BackupFrequency" and \
                        (child.text or "") not in ("Never", "Daily", "Weekly", "Monthly"):
                    return _status(tag, "500", "Operation could not be performed on Entity. Invalid frequency.")
                old = target.find(child.tag)
                if old is None:
                    target.append(copy.deepcopy(child))
                else:
                    old.text = child.text
        return _status(tag, "200", OK_TEXT)

    def _invalid(self, entity: ET.Element) -> str | None:
        entities = self.state["entities"]
        if entity.tag == "FirewallRule":
            policy = entity.find("NetworkPolicy")
            if policy is None or (policy.findtext("Action") or "") not in ("Accept", "Drop", "Reject"):
                return "Action must be Accept, Drop or Reject."
            for path, store in (("SourceZones/Zone", "Zone"), ("DestinationZones/Zone", "Zone"),
                                ("SourceNetworks/Network", "IPHost"), ("DestinationNetworks/Network", "IPHost"),
                                ("Services/Service", "Services")):
                for ref in policy.findall(path):
                    if (ref.text or "") not in entities[store]:
                        return f"{path.split('/')[1]} '{ref.text}' does not exist."
        elif entity.tag == "IPHost":
            try:
                ipaddress.ip_address(entity.findtext("IPAddress") or "")
            except ValueError:
                return "Invalid IPAddress."
            if entity.findtext("HostType") not in ("IP", "Network"):
                return "Invalid HostType."
        elif entity.tag == "Services":
            detail = entity.find("ServiceDetails/ServiceDetail")
            if entity.findtext("Type") != "TCPorUDP" or detail is None or \
                    detail.findtext("Protocol") not in ("TCP", "UDP"):
                return "Invalid service details."
        elif entity.tag == "SyslogServers":
            port = entity.findtext("Port") or ""
            if not entity.findtext("ServerAddress") or not port.isdigit() or not 1 <= int(port) <= 65535:
                return "Invalid ServerAddress or Port."
        return None

    def _remove(self, entity: ET.Element) -> ET.Element:
        tag, name = entity.tag, (entity.findtext("Name") or "").strip()
        store = self.state["entities"].get(tag)
        if store is None or tag in SINGLETONS or name not in store:
            return _status(tag, "500", "Operation could not be performed on Entity. Entity not found.")
        if tag in ("IPHost", "Services", "Zone"):
            for rule in self.state["entities"]["FirewallRule"].values():
                if name in {(e.text or "") for e in rule.iter() if e.tag in ("Network", "Service", "Zone")}:
                    return _status(tag, "500", "Operation could not be performed on Entity. Entity is in use.")
        del store[name]
        return _status(tag, "200", OK_TEXT)


def encrypt(data: bytes, password: str) -> bytes:
    """A stand-in for SFOS's backup encryption: a random salt and a SHA-256 counter key stream."""
    salt = os.urandom(16)
    key = hashlib.sha256(salt + password.encode()).digest()
    stream = bytearray()
    counter = 0
    while len(stream) < len(data):
        stream += hashlib.sha256(key + counter.to_bytes(8, "big")).digest()
        counter += 1
    return salt + bytes(a ^ b for a, b in zip(data, stream, strict=False))
