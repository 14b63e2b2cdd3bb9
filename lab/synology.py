"""Synology DiskStation (DSM 7.2) emulator: the DSM Web API over HTTPS on 5001.

What a client sees is DSM's own protocol: ``/webapi/query.cgi``,
``/webapi/auth.cgi`` and ``/webapi/entry.cgi`` take ``api``, ``version``,
``method`` and the method's parameters as GET query or POST form fields and
answer HTTP 200 with the JSON envelope ``{"success": true, "data": {...}}`` or
``{"success": false, "error": {"code": N}}``.

Sources (facts only, no code taken over):

* Synology "Developer's Guide for DSM Login Web API" (DSM 7,
  DSM_Login_Web_API_Guide_enu.pdf): request form, envelope, common error codes
  100-150, SYNO.API.Info ``query``, SYNO.API.Auth ``login``/``logout`` and the
  login error codes 400-410.
* Synology "File Station Official API" guide (Synology_File_Station_API_Guide):
  same envelope and common codes; SYNO.FileStation.Info ``get`` and
  SYNO.FileStation.List ``list_share`` (parameters, answer fields, the
  ``additional`` groups real_path/size/owner/time/perm/volume_status).
* DSM 7.2's login handshake and path form, as DSM's own web UI and the
  N4S4/synology-api client (``auth.py``: ``get_ik_message``, ``login``,
  ``_finish_noise_handshake``, ``_get_request_hash``, ``request_webapi_data``)
  use them: ``/webapi/entry.cgi/<API name>``, SYNO.API.Auth.UIConfig ``get``
  handing out the ``_SSID`` cookie (the server's static X25519 key),
  ``ik_message`` on login (Noise_IK_25519_ChaChaPoly_BLAKE2b, the server's
  answer in the login data) and the ``X-SYNO-HASH`` request header; the
  UIConfig answer is a list as typed in NielsKrijnen/synology-api
  (``src/services/api/auth/ui-config``).
* python-synology (ProtoThis/python-synology) and its successor
  py-synologydsm-api (mib1185/py-synologydsm-api, the library behind Home
  Assistant's ``synology_dsm`` integration): the recorded DSM 6/7 answers in
  ``tests/api_data`` (API info, auth, Core.System, Utilization,
  Storage.CGI.Storage, Core.Upgrade) and the client in ``synology_dsm.py``
  (API.Info on query.cgi, versions taken from maxVersion, retry on 119).
* N4S4/synology-api: ``core_user.py`` (SYNO.Core.User methods, parameters and
  example answers), ``error_codes.py`` (auth codes; Core codes 31xx taken from
  DSM's sds.bundle.js).
* NielsKrijnen/synology-api (TypeScript): ``src/services/storage/types.ts``
  (Storage/Smart field names), ``src/services/core/system/types.ts``,
  ``src/services/dsm/types.ts`` (SYNO.DSM.Info), ``core/upgrade``.

Where a shape is not documented anywhere public the comment says so and the
emulator picks the plainest plausible answer.

Lab faults (``lab.core.Faults``): ``latency`` before every answer,
``error_rate`` answers nginx's 500 page, ``drop_rate`` tears the connection
down without an answer (``lab.https.drop``), ``refuse_auth`` fails every
login, ``firmware_fail`` ends the DSM update with an error.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime as dt
import hashlib
import json
import random
import re
import secrets
import time
from pathlib import Path
from typing import Any, Callable, ClassVar

from aiohttp import web
from cryptography.exceptions import InvalidTag
from noise.connection import Keypair, NoiseConnection
from noise.exceptions import NoiseHandshakeError, NoiseInvalidMessage, NoiseValidationError, NoiseValueError

from lab.core import Device
from lab import https

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUN_DIR = REPO_ROOT / ".lab"



# -- error codes ------------------------------------------------------------------
# Common codes: DSM Login Web API Guide, "Common Error Code" (also File Station
# API guide, chapter "Error Code").
ERR_UNKNOWN = 100
ERR_BAD_REQUEST = 101        # no parameter of API, method or version / invalid parameter
ERR_NO_SUCH_API = 102
ERR_NO_SUCH_METHOD = 103
ERR_VERSION = 104            # requested version does not support the functionality
ERR_NO_PERMISSION = 105
ERR_SESSION_TIMEOUT = 106
ERR_LOST_PARAMETERS = 114
ERR_INVALID_SESSION = 119    # SID not found / invalid session
# SYNO.API.Auth: DSM Login Web API Guide, "API Error Code" of SYNO.API.Auth.
ERR_AUTH_BAD_CREDENTIALS = 400
ERR_AUTH_DISABLED = 401
ERR_AUTH_DENIED = 402
# SYNO.Core.User: N4S4/synology-api error_codes.py core_error_codes (from sds.bundle.js).
ERR_USER_NOT_FOUND = 3106
ERR_USER_EXISTS = 3107
ERR_USER_LAST_ADMIN = 3109
ERR_USER_SYSTEM_DEFAULT = 3115
ERR_USER_BAD_PASSWORD = 3121


class ApiError(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# -- hardware models --------------------------------------------------------------
# Model data: Synology product specifications; the disk is the vendor's own HAT3300 line.
MODELS: dict[str, dict[str, Any]] = {
    "DS923+": {"bays": 4, "ram_mb": 4096, "cpu_vendor": "AMD", "cpu_family": "Ryzen", "cpu_series": "R1600",
               "cpu_cores": "2", "cpu_clock_speed": 2600, "lan": 2, "esata": "yes", "serial_prefix": "2260"},
    "DS1522+": {"bays": 5, "ram_mb": 8192, "cpu_vendor": "AMD", "cpu_family": "Ryzen", "cpu_series": "R1600",
                "cpu_cores": "2", "cpu_clock_speed": 2600, "lan": 4, "esata": "yes", "serial_prefix": "2190"},
    "DS224+": {"bays": 2, "ram_mb": 2048, "cpu_vendor": "INTEL", "cpu_family": "Celeron", "cpu_series": "J4125",
               "cpu_cores": "4", "cpu_clock_speed": 2000, "lan": 2, "esata": "no", "serial_prefix": "2330"},
}
DISK_VENDOR, DISK_MODEL, DISK_FIRMWARE, DISK_SIZE = "Synology", "HAT3300-4T", "1110", 4000787030016

DEFAULT_FIRMWARE = "DSM 7.2.2-72806 Update 3"
DEFAULT_FIRMWARE_DATE = "2025/01/07"
DEFAULT_UPDATE = "DSM 7.2.2-72806 Update 4"

_VERSION_RE = re.compile(r"^(?:(\w+) )?(\d+)\.(\d+)(?:\.(\d+))?-(\d+)(?: Update (\d+))?$")

DISK_HEALTH = ("normal", "warning", "failing", "crashed")


def parse_firmware(version: str) -> dict[str, Any]:
    """'DSM 7.2.2-72806 Update 3' -> version_details as SYNO.Core.Upgrade.Server check reports them."""
    m = _VERSION_RE.match(version.strip())
    if not m:
        raise ValueError(f"not a DSM version string: {version!r}")
    os_name, major, minor, micro, build, nano = m.groups()
    return {"buildnumber": int(build), "major": int(major), "micro": int(micro or 0), "minor": int(minor),
            "nano": int(nano or 0), "os_name": os_name or "DSM"}


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


# -- request parameter helpers ------------------------------------------------------
# APIs with requestFormat "JSON" take JSON-encoded values (a string arrives as
# '"/dev/sata1"'); plain values are accepted too, as DSM does.
def _decode(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] in '"[{' and value[-1] in '"]}':
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _param(p: dict[str, str], key: str, default: Any = None) -> Any:
    return _decode(p[key]) if key in p else default


def _str(p: dict[str, str], key: str, default: str | None = None) -> str | None:
    value = _param(p, key, default)
    return None if value is None else str(value)


def _bool(p: dict[str, str], key: str, default: bool = False) -> bool:
    value = _param(p, key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("true", "1", "yes", "on")


def _int(p: dict[str, str], key: str, default: int) -> int:
    value = _param(p, key)
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        raise ApiError(ERR_BAD_REQUEST) from None


def _list(p: dict[str, str], key: str) -> list[str]:
    value = _param(p, key)
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v for v in str(value).split(",") if v]


# -- API table ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Method:
    handler: str
    min_version: int = 1
    max_version: int = 99


@dataclasses.dataclass(frozen=True)
class Api:
    path: str
    min_version: int
    max_version: int
    auth: str                   # "none", "session" (any user) or "admin"
    methods: dict[str, Method]
    request_format: str | None = "JSON"


# SYNO.API.Info query answers from this table. Paths and the missing
# requestFormat on SYNO.API.Auth follow the DSM 7 answer recorded in
# py-synologydsm-api tests/api_data/dsm_7/const_7_api_info.py; all APIs live on
# entry.cgi in DSM 7 (query.cgi and auth.cgi remain for older clients).
APIS: dict[str, Api] = {
    # DSM Login Web API Guide, "SYNO.API.Info": method query, version 1.
    "SYNO.API.Info": Api("entry.cgi", 1, 1, "none", {"query": Method("_api_info_query")}),
    # DSM Login Web API Guide, "SYNO.API.Auth": login/logout, versions 1-7.
    "SYNO.API.Auth": Api("entry.cgi", 1, 7, "none", {
        "login": Method("_auth_login"), "logout": Method("_auth_logout")}, request_format=None),
    # SYNO.API.Auth.UIConfig get (version 1, no session): the login page's
    # configuration; DSM 7.2 sets the "_SSID" cookie with the key of the login
    # handshake here (N4S4/synology-api auth.py get_ik_message).
    "SYNO.API.Auth.UIConfig": Api("entry.cgi", 1, 1, "none", {"get": Method("_auth_ui_config")}),
    # SYNO.DSM.Info getinfo: py-synologydsm-api api/dsm/information.py (called after
    # every login), fields as in NielsKrijnen/synology-api src/services/dsm/types.ts.
    "SYNO.DSM.Info": Api("entry.cgi", 1, 2, "session", {"getinfo": Method("_dsm_info")}),
    # SYNO.Core.System: py-synologydsm-api api/core/system.py (info; reboot and
    # shutdown "only available on api version 1"); data as recorded in
    # python-synology tests/api_data/dsm_6/core/const_6_core_system.py.
    "SYNO.Core.System": Api("entry.cgi", 1, 3, "admin", {
        "info": Method("_system_info"),
        "reboot": Method("_system_reboot", 1, 1),
        "shutdown": Method("_system_shutdown", 1, 1)}),
    # SYNO.Core.System.Utilization get: python-synology
    # tests/api_data/dsm_6/core/const_6_core_utilization.py.
    "SYNO.Core.System.Utilization": Api("entry.cgi", 1, 1, "admin", {"get": Method("_utilization")}),
    # SYNO.Storage.CGI.Storage load_info: py-synologydsm-api api/storage/storage.py
    # and tests/api_data/dsm_6/storage/const_6_storage_storage.py; DSM 7 field
    # names from NielsKrijnen/synology-api src/services/storage/types.ts.
    "SYNO.Storage.CGI.Storage": Api("entry.cgi", 1, 1, "admin", {"load_info": Method("_storage_load_info")}),
    # SYNO.Storage.CGI.Smart get_health_info (parameter device="/dev/sataN"):
    # NielsKrijnen/synology-api src/services/storage/cgi/smart (HealthInfo type).
    "SYNO.Storage.CGI.Smart": Api("entry.cgi", 1, 1, "admin", {"get_health_info": Method("_smart_health_info")}),
    # SYNO.Core.Upgrade.Server check: py-synologydsm-api api/core/upgrade.py and
    # tests/api_data/dsm_7/core/const_7_core_upgrade.py.
    "SYNO.Core.Upgrade.Server": Api("entry.cgi", 1, 3, "admin", {"check": Method("_upgrade_check")}),
    # SYNO.Core.Upgrade.Server.Download progress/start: N4S4/synology-api
    # core_sys_info.py (sys_upgrade_download -> progress); answer fields status,
    # progress, finished as read by public clients. start's answer is undocumented.
    "SYNO.Core.Upgrade.Server.Download": Api("entry.cgi", 1, 2, "admin", {
        "progress": Method("_upgrade_download_progress"), "start": Method("_upgrade_download_start")}),
    # SYNO.Core.Upgrade status (allow_upgrade, status): NielsKrijnen/synology-api
    # src/services/core/upgrade/index.ts. The install trigger is not documented
    # anywhere public; the lab offers "start" (installs the downloaded update and
    # reboots) so drivers and the firmware_fail fault can be exercised.
    "SYNO.Core.Upgrade": Api("entry.cgi", 1, 2, "admin", {
        "status": Method("_upgrade_status"), "start": Method("_upgrade_start")}),
    # SYNO.FileStation.Info get and SYNO.FileStation.List list_share: File
    # Station API guide, chapters "SYNO.FileStation.Info" and
    # "SYNO.FileStation.List" (versions 1-2 on DSM 7).
    "SYNO.FileStation.Info": Api("entry.cgi", 1, 2, "session", {"get": Method("_filestation_info")}),
    "SYNO.FileStation.List": Api("entry.cgi", 1, 2, "session", {"list_share": Method("_filestation_list_share")}),
    # SYNO.Core.User list/get/create/set/delete: N4S4/synology-api core_user.py.
    "SYNO.Core.User": Api("entry.cgi", 1, 1, "admin", {
        "list": Method("_user_list"), "get": Method("_user_get"), "create": Method("_user_create"),
        "set": Method("_user_set"), "delete": Method("_user_delete")}),
}

WEBAPI_PATHS = ("/webapi/entry.cgi", "/webapi/query.cgi", "/webapi/auth.cgi")
# DSM 7 also takes the API name as a path segment after the CGI
# ("/webapi/entry.cgi/SYNO.API.Auth"), the form its web UI and
# request_webapi_data() of N4S4/synology-api use; "api" may then be left out.
_WEBAPI_PATH_RE = re.compile(r"^/webapi/(entry|query|auth)\.cgi(?:/(SYNO(?:\.[A-Za-z0-9_]+)+))?/?$")

# The login handshake DSM 7.2 offers: Noise IK with X25519, ChaChaPoly and BLAKE2b
# (the protocol name N4S4/synology-api auth.py builds its initiator with).
NOISE_PROTOCOL = b"Noise_IK_25519_ChaChaPoly_BLAKE2b"


def b64url(data: bytes) -> str:
    """The encoding of the _SSID cookie, ik_message and X-SYNO-HASH parts: base64url without padding."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

_NGINX_PAGE = ("<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
               "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
_LOGIN_PAGE = ("<!DOCTYPE html>\n<html class=\"img-no-select\"><head><meta charset=\"utf-8\">"
               "<title>{hostname} - Synology NAS</title></head><body></body></html>\n")


@dataclasses.dataclass
class Session:
    sid: str
    account: str
    admin: bool
    name: str
    created: float
    last_seen: float
    synotoken: str | None = None
    noise: Any = None               # finished Noise handshake of the login (NoiseConnection)
    handshake_hash: str | None = None


@dataclasses.dataclass
class Call:
    """One Web API call being answered."""

    request: web.BaseRequest
    params: dict[str, str]
    version: int
    session: Session | None = None
    cookies: dict[str, str] = dataclasses.field(default_factory=dict)




class SynologyNAS(Device):
    vendor: ClassVar[str] = "synology"
    role: ClassVar[str] = "nas"
    model: ClassVar[str] = "DS923+"
    default_port: ClassVar[int] = 5001      # DSM's HTTPS port
    protocol: ClassVar[str] = "https"

    MAX_SESSIONS = 64
    SESSION_IDLE_SECONDS = 15 * 60

    def __init__(self, name: str, site_id: str, address: str, port: int | None = None, *,
                 model: str | None = None, run_dir: Path | None = None,
                 firmware: str = DEFAULT_FIRMWARE, update_available: str | None = DEFAULT_UPDATE,
                 **kwargs: Any) -> None:
        if model is not None:
            if model not in MODELS:
                raise ValueError(f"unknown Synology model {model!r}; known: {', '.join(MODELS)}")
            self.model = model  # type: ignore[misc]  # instance value shadows the class default
        parse_firmware(firmware)
        if update_available:
            parse_firmware(update_available)
        self._initial_firmware = firmware
        self._initial_update = update_available
        self.run_dir = Path(run_dir) if run_dir is not None else DEFAULT_RUN_DIR
        self._sessions: dict[str, Session] = {}
        self._passwords: dict[str, str] = {}     # write-only user passwords (not part of state)
        self._noise_private = secrets.token_bytes(32)   # static X25519 key of the login handshake
        super().__init__(name, site_id, address, port, **kwargs)

    # -- state ---------------------------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        spec = MODELS[self.model]
        rnd = random.Random(_seed(self.site_id, self.name))
        serial = spec["serial_prefix"] + "".join(rnd.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(9))
        mac_tail = rnd.getrandbits(24)
        disks = []
        for slot in range(1, spec["bays"] + 1):
            disks.append({
                "id": f"sata{slot}", "slot": slot, "vendor": DISK_VENDOR, "model": DISK_MODEL, "firm": DISK_FIRMWARE,
                "serial": "".join(rnd.choice("0123456789ABCDEF") for _ in range(12)), "size_total": DISK_SIZE,
                "temp": rnd.randint(33, 38), "health": "normal", "poweron_hours": rnd.randint(4000, 16000),
                "unc": 0, "reallocated": 0,
            })
        users: dict[str, dict[str, Any]] = {
            "admin": self._user_record("admin", 1024, "System default user",
                                       expired="normal" if self.username == "admin" else "now"),
            "guest": self._user_record("guest", 1025, "Guest", expired="now"),
        }
        if self.username != "admin":
            users[self.username] = self._user_record(self.username, 1026, "")
        return {
            "hostname": re.sub(r"[^A-Za-z0-9-]", "-", self.name)[:15] or "DiskStation",
            "serial": serial,
            "mac": "00:11:32:{:02X}:{:02X}:{:02X}".format(mac_tail >> 16, (mac_tail >> 8) & 0xFF, mac_tail & 0xFF),
            "firmware_version": self._initial_firmware,
            "firmware_date": DEFAULT_FIRMWARE_DATE,
            "update_available": self._initial_update,
            "download": {"status": "none", "progress": 0, "version": None},
            "upgrade_status": "none",
            "pending_firmware": None,
            "sys_temp": rnd.randint(38, 44),
            "disks": disks,
            "volume_used_ratio": round(rnd.uniform(0.25, 0.55), 3),
            "users": users,
            "next_uid": 1027,
            # shared folders on volume1 (File Station list_share); "homes" once user homes are on
            "shares": [{"name": "homes", "desc": "user home", "readonly": False},
                       {"name": "praxis", "desc": "Praxisdaten", "readonly": False},
                       {"name": "scans", "desc": "Scanner", "readonly": False}],
        }

    @staticmethod
    def _user_record(name: str, uid: int, description: str, email: str = "", expired: str = "normal") -> dict[str, Any]:
        return {"name": name, "uid": uid, "description": description, "email": email, "expired": expired,
                "cannot_chg_passwd": False, "passwd_never_expire": True,
                "password_last_change": int(time.time() // 86400), "is_password_pending": False}

    def on_boot(self) -> None:
        # Sessions do not survive a reboot; a staged firmware is now running.
        self._sessions.clear()
        pending = self.state.get("pending_firmware")
        if pending:
            self.state["firmware_version"] = pending
            self.state["firmware_date"] = dt.date.today().strftime("%Y/%m/%d")
            self.state["update_available"] = None
        self.state["pending_firmware"] = None
        self.state["upgrade_status"] = "none"
        self.state["download"] = {"status": "none", "progress": 0, "version": None}

    # -- control-friendly switches (lab/control.py, tests) -----------------------------
    def set_disk_health(self, disk_id: str, health: str) -> None:
        """Disk health (disk_id=sata1..): normal | warning (bad sectors) | failing (S.M.A.R.T.) | crashed."""
        if health not in DISK_HEALTH:
            raise ValueError(f"disk health must be one of {', '.join(DISK_HEALTH)}, not {health!r}")
        disk = self._disk(disk_id)
        if disk is None:
            raise ValueError(f"no disk {disk_id!r}; disks: {', '.join(d['id'] for d in self.state['disks'])}")
        disk["health"] = health
        disk["unc"] = {"normal": 0, "warning": 8, "failing": 112, "crashed": 2048}[health]
        disk["reallocated"] = {"normal": 0, "warning": 56, "failing": 1944, "crashed": 3960}[health]

    def apply_state(self, patch: dict[str, Any]) -> None:
        """State merge from the control API (``POST /devices/<name>/state``), checked for DSM values."""
        from lab import control

        control.check_merge(self.state, patch)
        disks = patch.get("disks") or {}
        for disk in disks.values() if isinstance(disks, dict) else []:
            if isinstance(disk, dict) and "health" in disk and disk["health"] not in DISK_HEALTH:
                raise ValueError(f"disk health must be one of {', '.join(DISK_HEALTH)}, not {disk['health']!r}")
        for key in ("firmware_version", "update_available"):
            if patch.get(key):
                parse_firmware(patch[key])
        control.apply_merge(self.state, patch)
        for index, disk in (disks.items() if isinstance(disks, dict) else []):
            if isinstance(disk, dict) and "health" in disk:
                target = self.state["disks"][int(index)]
                self.set_disk_health(target["id"], target["health"])

    def set_update_available(self, version: str | None) -> None:
        """Offer a DSM update (e.g. 'DSM 7.2.2-72806 Update 4') or none."""
        if version:
            parse_firmware(version)
        self.state["update_available"] = version or None
        self.state["download"] = {"status": "none", "progress": 0, "version": None}

    def set_volume_usage(self, ratio: float) -> None:
        """Used share of volume1, 0..1 (e.g. 0.95 for a nearly full volume)."""
        if not 0 <= ratio <= 1:
            raise ValueError("volume usage is a share between 0 and 1")
        self.state["volume_used_ratio"] = float(ratio)

    def set_user_password(self, name: str, password: str) -> None:
        """Password of a DSM user (the device's own admin account included)."""
        if name == self.username:
            self.password = password
        elif name in self.state["users"]:
            self._passwords[name] = password
        else:
            raise ValueError(f"no user {name!r}")

    # -- listener --------------------------------------------------------------------
    async def _open_listeners(self) -> list[Any]:
        return await https.serve(self._handle, self.address, self.port, self.run_dir, shutdown_timeout=0.5)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        await self.faults.delay()
        dropped = https.maybe_drop(request, self.faults)    # faults.drop_rate: no answer at all
        if dropped is not None:
            return dropped
        self.requests += 1
        if self.faults.roll_error():
            return self._html(500, "Internal Server Error")
        match = _WEBAPI_PATH_RE.match(request.path)
        if match:
            params: dict[str, str] = dict(request.query)
            if request.method == "POST" and request.can_read_body:
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
            if match.group(2) and not params.get("api"):
                params["api"] = match.group(2)
            return self._webapi(request, params)
        if request.path in ("/", "/index.cgi", "/webman/index.cgi"):
            resp = web.Response(text=_LOGIN_PAGE.format(hostname=self.state["hostname"]), content_type="text/html")
            resp.headers["Server"] = "nginx"
            return resp
        return self._html(404, "Not Found")

    @staticmethod
    def _html(status: int, reason: str) -> web.Response:
        resp = web.Response(status=status, text=_NGINX_PAGE.format(code=status, reason=reason),
                            content_type="text/html")
        resp.headers["Server"] = "nginx"
        return resp

    # -- Web API dispatch ------------------------------------------------------------
    # Request form and checks: DSM Login Web API Guide, "Making API Requests",
    # "Parsing API Response" and "Common Error Code".
    def _webapi(self, request: web.BaseRequest, params: dict[str, str]) -> web.Response:
        call = Call(request, params, 0)
        try:
            data = self._dispatch(call)
            body: dict[str, Any] = {"success": True} if data is None else {"data": data, "success": True}
        except ApiError as err:
            body = {"error": {"code": err.code}, "success": False}
        resp = web.Response(text=json.dumps(body, separators=(",", ":")), content_type="application/json",
                            charset="utf-8")
        resp.headers["Server"] = "nginx"
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Content-Type-Options"] = "nosniff"
        for name, value in call.cookies.items():
            if value:
                resp.set_cookie(name, value, path="/", secure=True, httponly=True)
            else:
                resp.del_cookie(name, path="/")
        return resp

    def _dispatch(self, call: Call) -> Any:
        p = call.params
        api_name, method_name, version = p.get("api"), p.get("method"), p.get("version")
        if not api_name:
            raise ApiError(ERR_BAD_REQUEST)
        api = APIS.get(api_name)
        if api is None:
            raise ApiError(ERR_NO_SUCH_API)
        if not method_name or not version:
            raise ApiError(ERR_BAD_REQUEST)
        try:
            call.version = int(version)
        except ValueError:
            raise ApiError(ERR_BAD_REQUEST) from None
        if not api.min_version <= call.version <= api.max_version:
            raise ApiError(ERR_VERSION)
        if api.auth != "none":
            call.session = self._session(call)
            if api.auth == "admin" and not call.session.admin:
                raise ApiError(ERR_NO_PERMISSION)
        method = api.methods.get(method_name)
        if method is None or not method.min_version <= call.version <= method.max_version:
            raise ApiError(ERR_NO_SUCH_METHOD)
        handler: Callable[[Call], Any] = getattr(self, method.handler)
        return handler(call)

    def _sid_of(self, call: Call) -> str | None:
        return call.params.get("_sid") or call.request.cookies.get("id")

    # A session opened with enable_syno_token guards its "id" cookie with the
    # SynoToken (DSM Login Web API Guide, SYNO.API.Auth login, enable_syno_token:
    # the token against cross-site requests, sent as the SynoToken parameter or
    # the X-SYNO-TOKEN header). A request naming the session by _sid needs no
    # token, one that sends a token must send the right one. A session opened
    # with the DSM 7.2 handshake checks the X-SYNO-HASH header whenever a request
    # carries one. Both failures answer 119, as for an unknown session (lab choice:
    # DSM documents no code of its own for them).
    def _session(self, call: Call) -> Session:
        by_param = bool(call.params.get("_sid"))
        sid = self._sid_of(call)
        session = self._sessions.get(sid) if sid else None
        if session is None:
            raise ApiError(ERR_INVALID_SESSION)
        now = time.monotonic()
        if now - session.last_seen > self.SESSION_IDLE_SECONDS:
            del self._sessions[session.sid]
            raise ApiError(ERR_SESSION_TIMEOUT)
        if session.synotoken is not None:
            token = call.params.get("SynoToken") or call.request.headers.get("X-SYNO-TOKEN")
            if token is None and not by_param:
                raise ApiError(ERR_INVALID_SESSION)
            if token is not None and not secrets.compare_digest(token, session.synotoken):
                raise ApiError(ERR_INVALID_SESSION)
        request_hash = call.request.headers.get("X-SYNO-HASH")
        if request_hash is not None and session.noise is not None and not self._hash_ok(session, request_hash):
            raise ApiError(ERR_INVALID_SESSION)
        session.last_seen = now
        return session

    @staticmethod
    def _hash_ok(session: Session, value: str) -> bool:
        """X-SYNO-HASH: first 8 characters of the handshake hash, the initiator's
        encryption of nothing (its tag) under the transport key at nonce n, ".", n."""
        head, tag_text, nonce_text = value[:8], *value[8:].rpartition(".")[::2]
        if not session.handshake_hash or head != session.handshake_hash[:8] or not tag_text or not nonce_text:
            return False
        try:
            nonce = int(b64url_decode(nonce_text).decode("ascii"))
            cipher = session.noise.noise_protocol.cipher_state_decrypt
            cipher.n = nonce
            cipher.decrypt_with_ad(b"", b64url_decode(tag_text))
        except Exception:  # noqa: BLE001 - any malformed or forged hash is simply wrong
            return False
        return True

    # -- SYNO.API.Info ---------------------------------------------------------------
    # DSM Login Web API Guide, SYNO.API.Info query: "query" is "ALL" or a comma list
    # of API names; a name ending in "." selects every API with that prefix.
    def _api_info_query(self, call: Call) -> dict[str, Any]:
        query = _str(call.params, "query", "ALL") or "ALL"
        wanted = [q.strip() for q in query.split(",") if q.strip()]
        out: dict[str, Any] = {}
        for name, api in APIS.items():
            if not any(q.upper() == "ALL" or q == name or (q.endswith(".") and name.startswith(q)) for q in wanted):
                continue
            entry: dict[str, Any] = {"maxVersion": api.max_version, "minVersion": api.min_version, "path": api.path}
            if api.request_format:
                entry["requestFormat"] = api.request_format
            out[name] = entry
        return out

    # -- SYNO.API.Auth.UIConfig -----------------------------------------------------
    # get: the list of login UI plugins (none configured on the lab NAS) and the
    # "_SSID" cookie with the server's static public key (base64url, unpadded).
    def _auth_ui_config(self, call: Call) -> list[Any]:
        call.cookies["_SSID"] = b64url(self._noise_public())
        return []

    def _noise_public(self) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        return X25519PrivateKey.from_private_bytes(self._noise_private).public_key().public_bytes_raw()

    def _answer_handshake(self, ik_message: str) -> tuple[Any, str, str]:
        """Responder side of the login handshake: read the initiator's message,
        answer it; returns (connection, reply for the login data, handshake hash)."""
        noise = NoiseConnection.from_name(NOISE_PROTOCOL)
        noise.set_as_responder()
        noise.set_keypair_from_private_bytes(Keypair.STATIC, self._noise_private)
        noise.start_handshake()
        try:
            payload = noise.read_message(b64url_decode(ik_message))
            json.loads(payload or b"{}")          # the initiator sends {"time": <epoch>}
        except (InvalidTag, NoiseHandshakeError, NoiseInvalidMessage, NoiseValidationError, NoiseValueError,
                ValueError, TypeError):      # not ours, tampered, or no JSON inside
            raise ApiError(ERR_BAD_REQUEST) from None
        reply = noise.write_message(json.dumps({"time": int(time.time())}).encode())
        return noise, b64url(reply), b64url(noise.get_handshake_hash())

    # -- SYNO.API.Auth ---------------------------------------------------------------
    # DSM Login Web API Guide, SYNO.API.Auth login: account, passwd, session,
    # format (cookie | sid, default cookie), otp_code, enable_syno_token,
    # enable_device_token, device_name, device_id. The answer carries sid (and
    # sets the "id" cookie for format=cookie); DSM 7 adds is_portal_port and, on
    # request, synotoken and the device token (did before version 7, device_id
    # from 7) as recorded in py-synologydsm-api tests/api_data/dsm_7/const_7_api_auth.py.
    def _auth_login(self, call: Call) -> dict[str, Any]:
        p = call.params
        account = _str(p, "account")
        if not account:
            raise ApiError(ERR_BAD_REQUEST)
        passwd = _str(p, "passwd", "") or ""
        if self.faults.refuse_auth:
            raise ApiError(ERR_AUTH_BAD_CREDENTIALS)
        user = self._user(account)
        if account == self.username or (user is not None and user["name"] == self.username):
            ok, admin, name = self.check_credentials(self.username, passwd), True, self.username
        else:
            stored = self._passwords.get(user["name"]) if user else None
            ok = stored is not None and secrets.compare_digest(stored, passwd)
            admin, name = False, user["name"] if user else account
        if not ok:
            raise ApiError(ERR_AUTH_BAD_CREDENTIALS)
        if user is not None and self._user_disabled(user):
            raise ApiError(ERR_AUTH_DISABLED)
        ik_message = _str(p, "ik_message")
        handshake = self._answer_handshake(ik_message) if ik_message and call.version >= 7 else None
        now = time.monotonic()
        if len(self._sessions) >= self.MAX_SESSIONS:
            oldest = min(self._sessions.values(), key=lambda s: s.last_seen)
            del self._sessions[oldest.sid]
        sid = secrets.token_urlsafe(48)
        session = Session(sid, name, admin, _str(p, "session", "") or "", now, now)
        data: dict[str, Any] = {"is_portal_port": False, "sid": sid}
        if call.version >= 3 and _bool(p, "enable_syno_token"):
            session.synotoken = secrets.token_urlsafe(9)
            data["synotoken"] = session.synotoken
        if call.version >= 6 and _bool(p, "enable_device_token"):
            token = _str(p, "device_id") or secrets.token_urlsafe(32)
            data["device_id" if call.version >= 7 else "did"] = token
        if handshake is not None:
            session.noise, data["ik_message"], session.handshake_hash = handshake
        self._sessions[sid] = session
        if (_str(p, "format", "cookie") or "cookie") != "sid":
            call.cookies["id"] = sid
        return data

    # SYNO.API.Auth logout: ends the session named by _sid or the "id" cookie;
    # answers {"success": true} (py-synologydsm-api const_7_api_auth.DSM_7_AUTH_LOGOUT).
    def _auth_logout(self, call: Call) -> None:
        sid = self._sid_of(call)
        if sid and self._sessions.pop(sid, None) is not None and call.request.cookies.get("id") == sid:
            call.cookies["id"] = ""
        return None

    # -- SYNO.DSM.Info ---------------------------------------------------------------
    def _dsm_info(self, call: Call) -> dict[str, Any]:
        details = parse_firmware(self.state["firmware_version"])
        spec = MODELS[self.model]
        return {"codepage": "ger", "model": self.model, "ram": spec["ram_mb"], "serial": self.state["serial"],
                "temperature": self._sys_temp(), "temperature_warn": False, "time": self._local_time().ctime(),
                "uptime": self.uptime(), "version": str(details["buildnumber"]),
                "version_string": self.state["firmware_version"]}

    # -- SYNO.FileStation.* -----------------------------------------------------------
    # File Station API guide, SYNO.FileStation.Info get: is_manager,
    # support_virtual_protocol, support_sharing, hostname.
    def _filestation_info(self, call: Call) -> dict[str, Any]:
        assert call.session is not None
        return {"hostname": self.state["hostname"], "is_manager": call.session.admin,
                "support_sharing": True, "support_virtual_protocol": "cifs,nfs,iso"}

    # File Station API guide, SYNO.FileStation.List list_share: offset, limit
    # (0 = all), sort_by (name, user, group, mtime, atime, ctime, crtime, posix),
    # sort_direction (asc, desc), onlywritable, additional (real_path, owner,
    # time, perm, mount_point_type, sync_share, volume_status). Answer: total,
    # offset, shares [{path, name, isdir, additional}]; "size" is no share field
    # and is ignored, as DSM does. Ownership, times and permissions: the lab's
    # shares belong to root/root and were created when the NAS was set up.
    def _filestation_list_share(self, call: Call) -> dict[str, Any]:
        p = call.params
        offset, limit = _int(p, "offset", 0), _int(p, "limit", 0)
        wanted = set(_list(p, "additional"))
        shares = [sh for sh in self.state["shares"] if not (_bool(p, "onlywritable") and sh["readonly"])]
        if (_str(p, "sort_by", "name") or "name") == "name":
            shares.sort(key=lambda sh: sh["name"].casefold(),
                        reverse=(_str(p, "sort_direction", "asc") or "asc").lower() == "desc")
        page = shares[offset:] if limit <= 0 else shares[offset:offset + limit]
        sizes = self._volume_sizes()
        created = int(self.boot_time) - 400 * 86400
        out = []
        for share in page:
            extra: dict[str, Any] = {}
            if "real_path" in wanted:
                extra["real_path"] = f"/volume1/{share['name']}"
            if "owner" in wanted:
                extra["owner"] = {"gid": 0, "group": "root", "uid": 0, "user": "root"}
            if "time" in wanted:
                extra["time"] = {"atime": created, "crtime": created, "ctime": created, "mtime": created}
            if "perm" in wanted:
                extra["perm"] = {"acl": {"append": True, "del": True, "exec": True, "read": True, "write": True},
                                 "acl_enable": True, "adv_right": {"disable_download": False,
                                                                   "disable_list": False, "disable_modify": False},
                                 "is_acl_mode": True, "is_share_readonly": share["readonly"], "posix": 777,
                                 "share_right": "RO" if share["readonly"] else "RW"}
            if "mount_point_type" in wanted:
                extra["mount_point_type"] = ""
            if "volume_status" in wanted:
                extra["volume_status"] = {"freespace": sizes["total"] - sizes["used"], "readonly": False,
                                          "totalspace": sizes["total"]}
            entry: dict[str, Any] = {"isdir": True, "name": share["name"], "path": f"/{share['name']}"}
            if wanted:
                entry["additional"] = extra
            out.append(entry)
        return {"offset": offset, "shares": out, "total": len(shares)}

    # -- SYNO.Core.System ------------------------------------------------------------
    @staticmethod
    def _local_time() -> dt.datetime:
        try:
            from zoneinfo import ZoneInfo
            return dt.datetime.now(ZoneInfo("Europe/Berlin"))
        except Exception:  # noqa: BLE001 - no tz database: fall back to CET
            return dt.datetime.now(dt.timezone(dt.timedelta(hours=1)))

    def _sys_temp(self) -> int:
        return self.state["sys_temp"] + random.randint(-1, 1)

    def _uptime_text(self) -> str:
        # DSM writes up_time as hours:minutes:seconds without padding ("75:12:9").
        hours, rest = divmod(self.uptime(), 3600)
        minutes, seconds = divmod(rest, 60)
        return f"{hours}:{minutes}:{seconds}"

    # SYNO.Core.System info; type=network and type=storage(_v2) select the other
    # views (fields: NielsKrijnen/synology-api src/services/core/system/types.ts).
    def _system_info(self, call: Call) -> dict[str, Any]:
        kind = _str(call.params, "type", "") or ""
        if kind == "network":
            return self._system_network()
        if kind in ("storage", "storage_v2"):
            return self._system_storage()
        spec = MODELS[self.model]
        temp = self._sys_temp()
        return {
            "cpu_clock_speed": spec["cpu_clock_speed"], "cpu_cores": spec["cpu_cores"],
            "cpu_family": spec["cpu_family"], "cpu_series": spec["cpu_series"], "cpu_vendor": spec["cpu_vendor"],
            "enabled_ntp": True, "external_pci_slot_info": [], "firmware_date": self.state["firmware_date"],
            "firmware_ver": self.state["firmware_version"], "model": self.model, "ntp_server": "pool.ntp.org",
            "ram_size": spec["ram_mb"], "sata_dev": [], "serial": self.state["serial"],
            "support_esata": spec["esata"], "sys_temp": temp, "sys_tempwarn": False, "systempwarn": False,
            "temperature_warning": False, "time": self._local_time().strftime("%Y-%m-%d %H:%M:%S"),
            "time_zone": "Amsterdam", "time_zone_desc": "(GMT+01:00) Amsterdam, Berlin, Rome, Stockholm, Vienna",
            "up_time": self._uptime_text(), "usb_dev": [],
        }

    def _system_network(self) -> dict[str, Any]:
        nif = [{"addr": self.address, "duplex": True, "id": "eth0", "ipv6": [], "mac": self.state["mac"],
                "mask": "255.255.255.0", "mtu": 1500, "speed": 1000, "status": "connected", "type": "lan",
                "use_dhcp": False}]
        return {"dns": "", "enabled_domain": False, "enabled_samba": True, "gateway": "",
                "hostname": self.state["hostname"], "nif": nif, "wins": "", "workgroup": "WORKGROUP"}

    def _system_storage(self) -> dict[str, Any]:
        hdd = []
        for disk in self._render_disks():
            entry = dict(disk)
            entry["remain_life"] = -1
            hdd.append(entry)
        vol = self._volume_sizes()
        return {"hdd_info": hdd, "vol_info": [{
            "desc": "", "inode_free": "0", "inode_total": "0", "name": "volume_1", "status": self._volume_status(),
            "total_size": str(vol["total"]), "used_size": str(vol["used"]), "vol_desc": "", "volume": "volume1"}]}

    # SYNO.Core.System reboot (version 1 only): answered, then the NAS goes down
    # for reboot_seconds (Device.reboot); shutdown: it goes down and stays down.
    def _system_reboot(self, call: Call) -> None:
        self.reboot()
        return None

    def _system_shutdown(self, call: Call) -> None:
        async def _down() -> None:
            await asyncio.sleep(0.5)
            await self.stop()
        asyncio.get_running_loop().create_task(_down())
        return None

    # -- SYNO.Core.System.Utilization -------------------------------------------------
    def _utilization(self, call: Call) -> dict[str, Any]:
        spec = MODELS[self.model]
        rnd = random.Random()
        mem_kb = spec["ram_mb"] * 1024
        total_real = mem_kb - 220 * 1024
        real_usage = rnd.randint(18, 34)
        cached = int(total_real * rnd.uniform(0.35, 0.5))
        buffer = int(total_real * 0.01)
        avail_real = max(total_real - int(total_real * real_usage / 100) - cached - buffer, 1024)
        total_swap = 4 * 1024 * 1024
        rx, tx = rnd.randint(2_000, 90_000), rnd.randint(1_000, 40_000)
        network = [{"device": "total", "rx": rx, "tx": tx}, {"device": "eth0", "rx": rx, "tx": tx}]
        network += [{"device": f"eth{i}", "rx": 0, "tx": 0} for i in range(1, spec["lan"])]
        disks, totals = [], {"read_access": 0, "read_byte": 0, "write_access": 0, "write_byte": 0}
        for disk in self.state["disks"]:
            d = {"device": disk["id"], "display_name": f"Drive {disk['slot']}", "type": "internal",
                 "read_access": rnd.randint(0, 6), "read_byte": rnd.randint(0, 90_000),
                 "write_access": rnd.randint(2, 20), "write_byte": rnd.randint(50_000, 500_000),
                 "utilization": rnd.randint(1, 12)}
            for key in totals:
                totals[key] += d[key]
            disks.append(d)
        vol = {"device": "md2", "display_name": "volume1", "read_access": totals["read_access"] // 4,
               "read_byte": totals["read_byte"] // 4, "write_access": totals["write_access"] // 2,
               "write_byte": totals["write_byte"] // 4, "utilization": rnd.randint(1, 8)}
        user_load, system_load = rnd.randint(1, 14), rnd.randint(1, 6)
        return {
            "cpu": {"15min_load": rnd.randint(10, 60), "1min_load": rnd.randint(10, 80),
                    "5min_load": rnd.randint(10, 70), "device": "System", "other_load": rnd.randint(0, 3),
                    "system_load": system_load, "user_load": user_load},
            "disk": {"disk": disks, "total": dict(totals, device="total",
                                                  utilization=sum(d["utilization"] for d in disks) // len(disks))},
            "lun": [],
            "memory": {"avail_real": avail_real, "avail_swap": total_swap - 12_000, "buffer": buffer,
                       "cached": cached, "device": "Memory", "memory_size": mem_kb, "real_usage": real_usage,
                       "si_disk": 0, "so_disk": 0, "swap_usage": 0, "total_real": total_real,
                       "total_swap": total_swap},
            "network": network,
            "nfs": [],
            "space": {"total": {k: v for k, v in vol.items() if k != "display_name"} | {"device": "total"},
                      "volume": [vol]},
            "time": int(time.time()),
        }

    # -- SYNO.Storage.CGI.Storage -----------------------------------------------------
    def _disk(self, disk_id: str) -> dict[str, Any] | None:
        for disk in self.state["disks"]:
            if disk_id in (disk["id"], f"/dev/{disk['id']}"):
                return disk
        return None

    def _render_disks(self) -> list[dict[str, Any]]:
        out = []
        for d in self.state["disks"]:
            health = d["health"]
            out.append({
                "adv_progress": "", "adv_status": "not_support", "below_remain_life_thr": False,
                "compatibility": "support",
                "container": {"order": 0, "str": self.model, "supportPwrBtnDisable": False, "type": "internal"},
                "container_id": 0, "device": f"/dev/{d['id']}", "disable_secera": False, "diskType": "SATA",
                "disk_code": "", "erase_time": 600,
                "exceed_bad_sector_thr": health in ("warning", "failing", "crashed"),
                "firm": d["firm"], "firmware_status": "-", "has_system": health != "crashed", "id": d["id"],
                "ihm_testing": False, "is4Kn": False, "isSsd": False, "isSynoDrive": True, "isSynoPartition": True,
                "is_erasing": False, "longName": f"Drive {d['slot']}", "model": d["model"],
                "name": f"Drive {d['slot']}", "num_id": d["slot"], "order": d["slot"],
                "overview_status": health, "pciSlot": -1, "perf_testing": False, "portType": "normal",
                "remain_life": {"trustable": True, "value": -1}, "remote_info": {"compatibility": "support", "unc": 0},
                "sb_days_left": 0, "serial": d["serial"], "size_total": str(d["size_total"]), "slot_id": d["slot"],
                "smart_progress": "", "smart_status": "failing" if health in ("failing", "crashed") else "normal",
                "smart_test_limit": 0, "smart_test_support": True, "smart_testing": False,
                "status": "crashed" if health == "crashed" else "normal", "temp": d["temp"],
                "testing_progress": "", "testing_type": "", "tray_status": "join", "ui_serial": d["serial"],
                "unc": d["unc"], "used_by": "reuse_1", "vendor": d["vendor"], "wdda_support": False,
            })
        return out

    def _pool_status(self) -> str:
        return "degraded" if any(d["health"] == "crashed" for d in self.state["disks"]) else "normal"

    def _volume_status(self) -> str:
        return self._pool_status()

    def _volume_sizes(self) -> dict[str, int]:
        disks = self.state["disks"]
        size = min(d["size_total"] for d in disks)
        pool = int(max(len(disks) - 1, 1) * size * 0.985)        # SHR-1: one disk of redundancy
        total = int(pool * 0.96)
        return {"pool": pool, "total": total, "used": int(total * self.state["volume_used_ratio"])}

    def _storage_load_info(self, call: Call) -> dict[str, Any]:
        disks = self._render_disks()
        ids = [d["id"] for d in disks]
        sizes = self._volume_sizes()
        status = self._pool_status()
        crashed = [d["id"] for d in self.state["disks"] if d["health"] == "crashed"]
        progress = {"percent": "-1", "step": "none"}
        pool = {
            "cacheStatus": "", "can_do": {"data_scrubbing": True, "delete": True, "expand_by_disk": 0},
            "container": "internal", "deploy_path": "volume_1", "desc": "", "device_type": "shr_with_1_disk_protect",
            "disk_failure_number": len(crashed), "disks": ids, "drive_type": 0, "id": "reuse_1",
            "is_actioning": False, "is_scheduled": False, "is_writable": True, "last_done_time": 0,
            "limited_disk_number": len(ids), "num_id": 1,
            "pool_child": [{"id": "volume_1", "size": {"total": str(sizes["total"])}}], "pool_path": "reuse_1",
            "progress": progress, "raidType": "single",
            "raids": [{"designedDiskCount": len(ids),
                       "devices": [{"id": i, "slot": n, "status": "crashed" if i in crashed else "normal"}
                                   for n, i in enumerate(ids)],
                       "hasParity": True, "minDevSize": str(min(d["size_total"] for d in self.state["disks"])),
                       "normalDevCount": len(ids) - len(crashed), "raidPath": "/dev/md2",
                       "raidStatus": 1, "spares": []}],
            "scrubbingStatus": "no_action", "size": {"total": str(sizes["pool"]), "used": str(sizes["pool"])},
            "space_path": "/dev/vg1", "spares": [], "status": status, "suggestions": [],
            "summary_status": status, "timebackup": False,
        }
        volume = {
            "atime_checked": False, "atime_opt": "relatime", "cacheStatus": "", "can_do": {"delete": True},
            "container": "internal", "deploy_path": "volume_1", "desc": "", "device_type": "shr_with_1_disk_protect",
            "disk_failure_number": len(crashed), "disks": [], "drive_type": 0, "fs_type": "btrfs", "id": "volume_1",
            "is_acting": False, "is_actioning": False, "is_encrypted": False, "is_inode_full": False,
            "is_scheduled": False, "is_writable": True, "last_done_time": 0, "limited_disk_number": len(ids),
            "max_fs_size": "1152921504606846976", "num_id": 1, "pool_path": "reuse_1", "progress": progress,
            "raidType": "single", "scrubbingStatus": "no_action",
            "size": {"free_inode": "0", "total": str(sizes["total"]), "total_device": str(sizes["pool"]),
                     "total_inode": "0", "used": str(sizes["used"])},
            "ssd_trim": {"support": "not support"}, "status": status, "suggestions": [], "summary_status": status,
            "timebackup": False, "used_by_gluster": False, "vol_attribute": "generic", "vol_desc": "",
            "vol_path": "/volume1",
        }
        spec = MODELS[self.model]
        env = {
            "batchtask": {"max_task": 64, "remain_task": 64}, "bay_number": str(spec["bays"]),
            "data_scrubbing": {"sche_enabled": "0", "sche_status": "disabled"}, "ebox": [], "fs_acting": False,
            "isSyncSysPartition": False, "is_space_actioning": False, "max_fs_bytes": "118747255799808",
            "model_name": self.model, "ram_enough_for_fs_high_end": False, "ram_size": spec["ram_mb"] // 1024,
            "showpooltab": True, "status": {"system_crashed": False, "system_need_repair": False},
            "support": {"ebox": True, "raid_cross": True, "sysdef": True}, "support_fit_fs_limit": True,
            "unique_key": hashlib.sha256(self.state["serial"].encode()).hexdigest()[:32],
            "volume_full_critical": 0.1, "volume_full_warning": 0.2,
        }
        return {"detected_pools": [], "disks": disks, "env": env, "hotSpareConf": {"cross_repair": True,
                "disable_repair": []}, "hotSpares": [], "iscsiLuns": [], "iscsiTargets": [], "missing_pools": [],
                "ports": [], "ssdCaches": [], "storagePools": [pool], "volumes": [volume]}

    # -- SYNO.Storage.CGI.Smart ------------------------------------------------------
    # get_health_info(device): data.healthInfo.overview (field names from the
    # HealthInfo type in NielsKrijnen/synology-api) and smartInfo attributes. The
    # per-attribute status vocabulary is not documented; smartctl's is used
    # ("-" for fine, "FAILING_NOW" below threshold).
    def _smart_health_info(self, call: Call) -> dict[str, Any]:
        device = _str(call.params, "device") or _str(call.params, "disk")
        if not device:
            raise ApiError(ERR_LOST_PARAMETERS)
        disk = self._disk(device)
        if disk is None:
            raise ApiError(ERR_BAD_REQUEST)
        health = disk["health"]
        failing = health in ("failing", "crashed")
        realloc_current = 100 if disk["reallocated"] == 0 else max(1, 100 - disk["reallocated"] // 20)
        attrs = [
            ("1", "Raw_Read_Error_Rate", "100", "100", "16", str(disk["unc"])),
            ("5", "Reallocated_Sector_Ct", str(realloc_current), str(realloc_current), "5", str(disk["reallocated"])),
            ("9", "Power_On_Hours", "98", "98", "0", str(disk["poweron_hours"])),
            ("194", "Temperature_Celsius", str(100 - disk["temp"]), "60", "0", str(disk["temp"])),
            ("197", "Current_Pending_Sector", "100", "100", "0", str(disk["unc"] // 4)),
            ("198", "Offline_Uncorrectable", "100", "100", "0", str(disk["unc"] // 8)),
        ]
        smart_info = [{"current": cur, "id": aid, "name": name, "raw": raw,
                       "status": "FAILING_NOW" if int(cur) <= int(thr) and int(thr) > 0 else "-",
                       "threshold": thr, "worst": worst} for aid, name, cur, worst, thr, raw in attrs]
        overview = {
            "adv_status": "not_support", "below_remain_life_thr": False, "compatibility": "support",
            "disk_code": "", "idnf": 0, "isNVMeDisk": False, "isSataDisk": True, "isSsd": False,
            "isSynoDrive": True, "overview_status": health, "poweron": str(disk["poweron_hours"]),
            "remain_life": -1, "retry": 0, "sb_days_left": 0, "smart": "failing" if failing else "normal",
            "smart_fail": ["5"] if failing else [], "smart_fail_critical": failing, "smart_info": "normal",
            "smart_progress": "", "smart_test": "normal", "smart_test_limit": 0, "unc": disk["unc"],
        }
        return {"count": 0, "healthInfo": {"overview": overview, "smartInfo": smart_info}}

    # -- SYNO.Core.Upgrade* ----------------------------------------------------------
    # check: {"update": {"available": false}} or the offered update with
    # version (without the "DSM " prefix), version_details, reboot, restart, type
    # (py-synologydsm-api tests/api_data/dsm_7/core/const_7_core_upgrade.py).
    def _upgrade_check(self, call: Call) -> dict[str, Any]:
        offered = self.state["update_available"]
        if not offered:
            return {"update": {"available": False}}
        details = parse_firmware(offered)
        current = parse_firmware(self.state["firmware_version"])
        same_build = current["buildnumber"] == details["buildnumber"]
        return {"update": {"available": True, "reboot": "now", "restart": "some" if same_build else "all",
                           "type": "nano" if same_build else "normal",
                           "version": offered.split(" ", 1)[1] if offered.startswith("DSM ") else offered,
                           "version_details": details}}

    def _upgrade_download_progress(self, call: Call) -> dict[str, Any]:
        d = self.state["download"]
        return {"finished": d["status"] == "finish", "progress": d["progress"], "status": d["status"]}

    def _upgrade_download_start(self, call: Call) -> dict[str, Any]:
        offered = self.state["update_available"]
        if not offered:
            raise ApiError(ERR_BAD_REQUEST)
        # The lab's "download" completes at once (no real .pat file).
        self.state["download"] = {"status": "finish", "progress": 100, "version": offered}
        return {}

    def _upgrade_status(self, call: Call) -> dict[str, Any]:
        return {"allow_upgrade": True, "status": self.state["upgrade_status"]}

    def _upgrade_start(self, call: Call) -> None:
        d = self.state["download"]
        if d["status"] != "finish" or not d["version"]:
            raise ApiError(ERR_BAD_REQUEST)
        if self.faults.firmware_fail:
            self.state["upgrade_status"] = "failed"
            raise ApiError(ERR_UNKNOWN)
        self.state["upgrade_status"] = "upgrading"
        self.state["pending_firmware"] = d["version"]
        self.reboot(delay=1.0)
        return None

    # -- SYNO.Core.User --------------------------------------------------------------
    # N4S4/synology-api core_user.py: list(offset, limit, sort_by, sort_direction,
    # additional=[description, email, expired, ...]) -> {offset, total, users};
    # get(name, additional) -> {users: [...]}; create(name, password, description,
    # email, expired, ...) -> {name, uid}; set(name, new_name, password, ...) ->
    # {name, password_last_change, uid}; delete(name) -> {name, uid}. Passwords
    # are write-only: no answer ever carries one. Error codes 3106/3107/3109/3115/
    # 3121: error_codes.py core_error_codes.
    def _user(self, name: str) -> dict[str, Any] | None:
        users = self.state["users"]
        if name in users:
            return users[name]
        folded = name.casefold()                 # DSM user names are case-insensitive
        for key, user in users.items():
            if key.casefold() == folded:
                return user
        return None

    @staticmethod
    def _user_disabled(user: dict[str, Any]) -> bool:
        expired = user.get("expired", "normal")
        if expired == "now":
            return True
        if expired not in ("normal", "never", ""):
            try:
                return dt.datetime.strptime(expired, "%Y/%m/%d").date() < dt.date.today()
            except ValueError:
                return False
        return False

    @staticmethod
    def _public_user(user: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
        if fields is None:
            return dict(user)
        out = {"name": user["name"]}
        for field in fields:
            if field in user:
                out[field] = user[field]
        return out

    @staticmethod
    def _expired_value(value: str | None, default: str) -> str:
        if value is None:
            return default
        return "normal" if value in ("never", "normal", "") else value

    def _user_list(self, call: Call) -> dict[str, Any]:
        p = call.params
        offset, limit = _int(p, "offset", 0), _int(p, "limit", -1)
        fields = _list(p, "additional")
        users = sorted(self.state["users"].values(), key=lambda u: u.get(_str(p, "sort_by", "name") or "name", ""))
        if (_str(p, "sort_direction", "ASC") or "ASC").upper() == "DESC":
            users.reverse()
        page = users[offset:] if limit < 0 else users[offset:offset + limit]
        return {"offset": offset, "total": len(users), "users": [self._public_user(u, fields) for u in page]}

    def _user_get(self, call: Call) -> dict[str, Any]:
        name = _str(call.params, "name")
        if not name:
            raise ApiError(ERR_LOST_PARAMETERS)
        user = self._user(name)
        if user is None:
            raise ApiError(ERR_USER_NOT_FOUND)
        return {"users": [self._public_user(user)]}

    def _user_create(self, call: Call) -> dict[str, Any]:
        p = call.params
        name = _str(p, "name")
        if not name:
            raise ApiError(ERR_LOST_PARAMETERS)
        if self._user(name) is not None or name.casefold() in ("root", "system", "users", "administrators"):
            raise ApiError(ERR_USER_EXISTS)
        password = _str(p, "password", "") or ""
        if not password:
            raise ApiError(ERR_USER_BAD_PASSWORD)
        uid = self.state["next_uid"]
        self.state["next_uid"] = uid + 1
        user = self._user_record(name, uid, _str(p, "description", "") or "", _str(p, "email", "") or "",
                                 self._expired_value(_str(p, "expired"), "normal"))
        user["cannot_chg_passwd"] = _bool(p, "cannot_chg_passwd")
        user["passwd_never_expire"] = _bool(p, "passwd_never_expire", True)
        self.state["users"][name] = user
        self._passwords[name] = password
        return {"name": name, "uid": uid}

    def _user_set(self, call: Call) -> dict[str, Any]:
        p = call.params
        name = _str(p, "name")
        if not name:
            raise ApiError(ERR_LOST_PARAMETERS)
        user = self._user(name)
        if user is None:
            raise ApiError(ERR_USER_NOT_FOUND)
        old = user["name"]
        new_name = _str(p, "new_name") or old
        if new_name != old:
            if old in ("admin", "guest"):
                raise ApiError(ERR_USER_SYSTEM_DEFAULT)
            if self._user(new_name) is not None:
                raise ApiError(ERR_USER_EXISTS)
        for field in ("description", "email"):
            if field in p:
                user[field] = _str(p, field, "") or ""
        if "expired" in p:
            expired = self._expired_value(_str(p, "expired"), user["expired"])
            if old == self.username and expired != "normal":
                raise ApiError(ERR_USER_LAST_ADMIN)
            user["expired"] = expired
        for field in ("cannot_chg_passwd", "passwd_never_expire"):
            if field in p:
                user[field] = _bool(p, field)
        password = _str(p, "password", "") or ""
        if password:
            if old == self.username:
                self.password = password
            else:
                self._passwords[old] = password
            user["password_last_change"] = int(time.time() // 86400)
        if new_name != old:
            users = self.state["users"]
            users[new_name] = users.pop(old)
            user["name"] = new_name
            if old in self._passwords:
                self._passwords[new_name] = self._passwords.pop(old)
            if old == self.username:
                self.username = new_name
        return {"name": user["name"], "password_last_change": user["password_last_change"], "uid": user["uid"]}

    def _user_delete(self, call: Call) -> dict[str, Any]:
        names = _param(call.params, "name")
        if not names:
            raise ApiError(ERR_LOST_PARAMETERS)
        names = [str(n) for n in names] if isinstance(names, list) else [str(names)]
        found = []
        for name in names:
            user = self._user(name)
            if user is None:
                raise ApiError(ERR_USER_NOT_FOUND)
            if user["name"] in ("admin", "guest"):
                raise ApiError(ERR_USER_SYSTEM_DEFAULT)
            if user["name"] == self.username:
                raise ApiError(ERR_USER_LAST_ADMIN)
            found.append(user)
        for user in found:
            del self.state["users"][user["name"]]
            self._passwords.pop(user["name"], None)
            for sid in [s.sid for s in self._sessions.values() if s.account == user["name"]]:
                del self._sessions[sid]
        return {"name": found[0]["name"], "uid": found[0]["uid"]}
