# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Driver for Synology DiskStations (DSM 7) over the DSM Web API.

Sources of the protocol facts used here (no code taken over):

* Synology "Developer's Guide for DSM Login Web API" (DSM_Login_Web_API_Guide_enu.pdf):
  request form (``api``, ``version``, ``method`` as GET query or POST form
  fields), the answer envelope ``{"success": ..., "data"|"error": ...}``, the
  common error codes 100-150 and the SYNO.API.Auth codes 400-410, SYNO.API.Auth
  ``login`` (``account``, ``passwd``, ``session``, ``format=sid``) and ``logout``.
* mib1185/py-synologydsm-api (successor of ProtoThis/python-synology):
  ``api/dsm/information.py`` (SYNO.DSM.Info getinfo: model, serial,
  temperature, uptime, version_string), ``api/core/utilization.py`` (CPU load
  as user + system + other, memory ``real_usage``), ``api/storage/storage.py``
  (SYNO.Storage.CGI.Storage load_info: disks with status, smart_status,
  exceed_bad_sector_thr, below_remain_life_thr, temp; volumes with status and
  size.used/size.total), ``api/core/upgrade.py`` (SYNO.Core.Upgrade.Server
  check: update.available, update.version) and the DSM 7 API info answer in
  its tests (every API on ``entry.cgi``; ``requestFormat: JSON`` on the
  Core/Storage APIs).
* N4S4/synology-api: ``error_codes.py`` (texts of the common and login codes),
  ``core_user.py`` (SYNO.Core.User list/get/create/set/delete and their
  parameters), ``core_sys_info.py`` (SYNO.Core.Upgrade.Server.Download).
* NielsKrijnen/synology-api: ``core/system`` types (SYNO.Core.System info
  ``type=network`` carries the host name), ``core/upgrade`` (SYNO.Core.Upgrade
  status).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Callable, ClassVar

try:
    from ansible.module_utils.praxis_driver import (
        AuthFailed, Driver, DriverError, HTTPClient, ProtocolError, ServerError, Target, Timeout, Unreachable,
    )
except ImportError:  # outside Ansible: module_utils itself is on sys.path
    from praxis_driver import (  # type: ignore[no-redef]
        AuthFailed, Driver, DriverError, HTTPClient, ProtocolError, ServerError, Target, Timeout, Unreachable,
    )

# DSM 7 lists every API on entry.cgi (SYNO.API.Info answer recorded in
# py-synologydsm-api tests/api_data/dsm_7), so no SYNO.API.Info round trip is made.
WEBAPI_PATH = "/webapi/entry.cgi"
SESSION_NAME = "praxisops"

# Common error codes: DSM Login Web API Guide "Common Error Code"; texts as in
# N4S4/synology-api error_codes.py. SYNO.Core.User codes 31xx: the same file's
# core_error_codes.
ERROR_TEXTS = {
    100: "unknown error",
    101: "missing or invalid parameter",
    102: "API does not exist",
    103: "method does not exist",
    104: "version does not support the functionality",
    105: "session has no permission",
    106: "session timeout",
    107: "session interrupted by duplicate login",
    114: "lost parameters",
    119: "invalid session",
    150: "request source IP does not match the login IP",
    3106: "user not found",
    3107: "user already exists",
    3109: "cannot remove the last administrator",
    3115: "system default user cannot be changed",
    3121: "password rejected by the password policy",
}
# SYNO.API.Auth login codes (DSM Login Web API Guide, "API Error Code").
LOGIN_ERRORS = {
    400: "no such account or incorrect password",
    401: "account disabled",
    402: "permission denied",
    403: "2-factor authentication code required",
    404: "2-factor authentication code not accepted",
    405: "app portal incorrect",
    406: "2-factor authentication is enforced",
    407: "IP address blocked",
    408: "password expired and cannot be changed",
    409: "password expired",
    410: "password must be changed",
}
SESSION_ERRORS = (106, 119)

# Vocabulary of load_info disk/volume fields; values DSM reports that are not
# listed here are treated as "needs a look" (warning / degraded).
_DISK_OK = ("normal", "initialized", "not_initialized")
_SMART_OK = ("normal", "safe", "")
_SMART_FAILING = ("failing", "failed", "damage", "abnormal")
_VOLUME_OK = ("normal",)
_VOLUME_CRASHED = ("crashed", "crash")

USER_FIELDS = ("description", "email")


def _number(value: Any) -> int | float | None:
    """A number from a DSM field (DSM sends some as strings); ints stay ints."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        pass
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def smart_state(value: Any) -> str:
    """DSM's ``smart_status`` of a disk as normal | warning | failing."""
    text = str(value or "").strip().lower()
    if text in _SMART_OK:
        return "normal"
    if text in _SMART_FAILING:
        return "failing"
    return "warning"


def disk_state(disk: dict[str, Any]) -> str:
    """One load_info disk as normal | warning | failing | crashed. ``overview_status``
    (DSM 7 Storage Manager's health summary) wins where present; the older
    fields status/smart_status/exceed_bad_sector_thr/below_remain_life_thr
    (py-synologydsm-api storage.py) decide otherwise."""
    status = str(disk.get("status") or "").lower()
    overview = str(disk.get("overview_status") or "").lower()
    smart = smart_state(disk.get("smart_status"))
    if status == "crashed" or overview == "crashed":
        return "crashed"
    if overview == "failing" or smart == "failing":
        return "failing"
    if (overview == "warning" or smart == "warning" or disk.get("exceed_bad_sector_thr")
            or disk.get("below_remain_life_thr") or (status and status not in _DISK_OK)):
        return "warning"
    return "normal"


def volume_state(volume: dict[str, Any]) -> str:
    status = str(volume.get("status") or "").lower()
    if status in _VOLUME_OK:
        return "normal"
    if status in _VOLUME_CRASHED:
        return "crashed"
    return "degraded"


def used_percent(size: dict[str, Any] | None) -> float | None:
    size = size or {}
    total, used = _number(size.get("total")), _number(size.get("used"))
    if not total or used is None:
        return None
    return round(used / total * 100.0, 1)


def parse_facts(info: dict[str, Any], network: dict[str, Any], utilization: dict[str, Any],
                storage: dict[str, Any]) -> dict[str, Any]:
    """Normalized facts (praxis_driver.FACT_KEYS) from the four DSM answers."""
    cpu = utilization.get("cpu") or {}
    loads = [_number(cpu.get(k)) for k in ("user_load", "system_load", "other_load")]
    memory = utilization.get("memory") or {}
    disks = [{
        "id": disk.get("id"),
        "model": str(disk.get("model") or "").strip() or None,
        "status": disk_state(disk),
        "smart": smart_state(disk.get("smart_status")),
        "temperature_c": _number(disk.get("temp")),
    } for disk in storage.get("disks") or []]
    volumes = [{
        "id": volume.get("id"),
        "status": volume_state(volume),
        "used_percent": used_percent(volume.get("size")),
    } for volume in storage.get("volumes") or []]
    uptime = _number(info.get("uptime"))
    return {
        "hostname": network.get("hostname") or None,
        "model": info.get("model") or None,
        "serial": info.get("serial") or None,
        "firmware_version": info.get("version_string") or None,
        "uptime_seconds": int(uptime) if uptime is not None else None,
        "cpu_percent": sum(x for x in loads if x is not None) if all(x is not None for x in loads) else None,
        "memory_percent": _number(memory.get("real_usage")),
        "temperature_c": _number(info.get("temperature")),
        "disks": disks,
        "volumes": volumes,
        "signature_date": None,
    }


def dsm_version(version: str | None) -> str | None:
    """Offered versions come without the OS name ('7.2.2-72806 Update 4');
    installed ones with it ('DSM 7.2.2-72806 Update 3')."""
    if not version:
        return None
    version = str(version).strip()
    return version if version.startswith("DSM ") else f"DSM {version}"


class SynologyDriver(Driver):
    """Synology DSM 7 NAS over the DSM Web API (HTTPS, port 5001).

    One login (SYNO.API.Auth, ``format=sid``) per driver object; every call
    carries the session id in the POST form, so neither the password nor the
    session id ever appears in a URL. DSM answers HTTP 200 also for failures:
    login codes 400-410 become ``AuthFailed``; an expired or unknown session
    (106, 119, e.g. after a reboot) is logged in again once; every other code is
    a ``ProtocolError`` naming API, method and code.

    ``export_config()`` is not offered: DSM's configuration backup (the .dss
    file of Control Panel > Update & Restore) is not part of the public DSM
    Web API guides, and no public client documents a call that produces it, so
    there is nothing the driver could rely on. NAS data and settings are
    covered by Hyper Backup on the device itself.
    """

    vendor = "synology"
    title = "Synology DSM"
    roles = ("nas",)
    protocol = "https"
    default_port = 5001
    not_offered: ClassVar[dict[str, str]] = {
        "config_export": "DSM's configuration backup (.dss) is not part of the public DSM Web API, so it cannot "
                         "be exported reliably; NAS data and settings are covered by Hyper Backup on the device",
        "signatures": "DSM has no security signatures the driver could download",
    }
    options: ClassVar[dict[str, str]] = {}
    settings_supported = {"nas": ("users",)}
    # DSM's Upgrade.Server.Download progress is polled this often (seconds).
    download_poll = 2.0

    def __init__(self, target: Target, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(target)
        self._http = HTTPClient(target, default_port=5001)
        self._sid: str | None = None
        self._sleep = sleep
        self._clock = clock

    # -- session ----------------------------------------------------------------------------
    def _post(self, form: dict[str, Any]) -> dict[str, Any]:
        answer = self._http.json("POST", WEBAPI_PATH, form=form)
        if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
            raise ProtocolError(self.target, f"{form.get('api')} {form.get('method')}: answer is not a DSM "
                                             "Web API envelope")
        return answer

    @staticmethod
    def _code(answer: dict[str, Any]) -> int | None:
        error = answer.get("error")
        code = error.get("code") if isinstance(error, dict) else None
        return code if isinstance(code, int) else None

    def _login(self) -> None:
        account = self.target.username or "admin"
        form = {"api": "SYNO.API.Auth", "version": "6", "method": "login", "account": account,
                "passwd": self.target.password, "session": SESSION_NAME, "format": "sid"}
        answer = self._post(form)
        if answer["success"]:
            sid = (answer.get("data") or {}).get("sid")
            if not sid:
                raise ProtocolError(self.target, "SYNO.API.Auth login answered without a session id")
            self._sid = str(sid)
            return
        code = self._code(answer)
        if code in LOGIN_ERRORS:
            raise AuthFailed(self.target, f"DSM refused the login of account {account!r}: {LOGIN_ERRORS[code]} "
                                          f"(code {code}); check the vault variable of {self.target.host}")
        raise ProtocolError(self.target, f"SYNO.API.Auth login failed with DSM error {code} "
                                         f"({ERROR_TEXTS.get(code or 0, 'undocumented')})")

    def call(self, api: str, method: str, version: int, params: dict[str, Any] | None = None) -> Any:
        """One Web API call in the session; returns ``data`` (None when absent).

        The Core/Storage APIs declare ``requestFormat: JSON`` in SYNO.API.Info,
        so every parameter value is sent JSON-encoded (a string as '"text"'):
        the unambiguous form for values that themselves look like JSON.
        """
        form = {key: json.dumps(value) for key, value in (params or {}).items()}
        for attempt in (1, 2):
            if self._sid is None:
                self._login()
            answer = self._post({"api": api, "version": str(version), "method": method, **form, "_sid": self._sid})
            if answer["success"]:
                return answer.get("data")
            code = self._code(answer)
            if code in SESSION_ERRORS and attempt == 1:
                self._sid = None             # expired or lost (reboot): log in again, once
                continue
            raise ProtocolError(self.target, f"{api} {method} failed with DSM error {code} "
                                             f"({ERROR_TEXTS.get(code or 0, 'undocumented')})")
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._sid is not None:
            try:
                self._post({"api": "SYNO.API.Auth", "version": "6", "method": "logout", "session": SESSION_NAME,
                            "_sid": self._sid})
            except DriverError:
                pass                         # the session ends on its own (DSM idle timeout)
            self._sid = None
        self._http.close()

    # -- facts ------------------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        """Four calls in the session: DSM.Info getinfo, Core.System info
        (type=network, for the host name), Core.System.Utilization get and
        Storage.CGI.Storage load_info (disks with S.M.A.R.T. summary, volumes)."""
        info = self.call("SYNO.DSM.Info", "getinfo", 2) or {}
        network = self.call("SYNO.Core.System", "info", 1, {"type": "network"}) or {}
        utilization = self.call("SYNO.Core.System.Utilization", "get", 1) or {}
        storage = self.call("SYNO.Storage.CGI.Storage", "load_info", 1) or {}
        return parse_facts(info, network, utilization, storage)

    def export_config(self) -> bytes:
        raise self.unsupported("config_export")

    # -- firmware ---------------------------------------------------------------------------
    def _offered(self) -> str | None:
        update = (self.call("SYNO.Core.Upgrade.Server", "check", 1) or {}).get("update") or {}
        return dsm_version(update.get("version")) if update.get("available") else None

    def firmware_status(self) -> dict[str, Any]:
        installed = (self.call("SYNO.DSM.Info", "getinfo", 2) or {}).get("version_string")
        # A DSM update always restarts services or the whole NAS (check answers reboot "now").
        return {"installed": installed, "available": self._offered(), "reboot_required": True}

    def start_firmware_update(self, *, download_budget: float = 1800.0) -> None:
        """Download the offered update (SYNO.Core.Upgrade.Server.Download start,
        progress polled until finished) and install it (SYNO.Core.Upgrade start;
        the lab emulator's stand-in for the undocumented install trigger, see
        lab/synology.py). The NAS reboots afterwards: ``wait_until_back``."""
        offered = self._offered()
        if not offered:
            raise DriverError(self.target, "no DSM update is offered")
        self.call("SYNO.Core.Upgrade.Server.Download", "start", 2)
        deadline = self._clock() + download_budget
        while True:
            progress = self.call("SYNO.Core.Upgrade.Server.Download", "progress", 2) or {}
            status = str(progress.get("status") or "").lower()
            if progress.get("finished") or status in ("finish", "finished", "downloaded"):
                break
            if status in ("failed", "error"):
                raise DriverError(self.target, f"download of {offered} failed (status {status})")
            if self._clock() >= deadline:
                raise Timeout(self.target, f"download of {offered} not finished within {download_budget:g} s "
                                           f"({progress.get('progress', '?')} %)")
            self._sleep(self.download_poll)
        self.call("SYNO.Core.Upgrade", "start", 1)

    def wait_until_back(self, budget: float, *, poll: float = 2.0,
                        clock: Callable[[], float] = time.monotonic,
                        sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
        """Like the base method, but DSM keeps answering for a moment after the
        install has started: SYNO.Core.Upgrade status reads "upgrading" until
        the NAS goes down. Polls with one attempt per request (the poll loop is
        the retry) until the status is something else, then returns facts."""
        deadline = clock() + budget
        last: DriverError | None = None
        saved = self._http
        self._http = HTTPClient(dataclasses.replace(self.target, retries=1), default_port=5001)
        try:
            while clock() < deadline:
                try:
                    status = (self.call("SYNO.Core.Upgrade", "status", 1) or {}).get("status")
                    if status != "upgrading":
                        return self.facts()
                    last = None
                except (Unreachable, Timeout, ServerError, ProtocolError) as exc:
                    last = exc
                    self._sid = None
                    self._http.close()
                sleep(min(poll, max(0.0, deadline - clock())))
        finally:
            self._http.close()
            self._http = saved
        detail = f" (last error: {last})" if last else ""
        raise Timeout(self.target, f"did not come back within {budget:g} s after the firmware update{detail}")

    # -- settings ---------------------------------------------------------------------------
    def apply_settings(self, settings: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        supported = self.settings_supported.get(self.target.role, ())
        unknown = sorted(key for key, value in settings.items() if value is not None and key not in supported)
        if unknown:
            raise self.unsupported(f"settings {', '.join(unknown)}")
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        changed = False
        if settings.get("users") is not None:
            changed, before["users"], after["users"] = self._users(settings["users"], check_mode)
        return {"changed": changed, "before": before, "after": after}

    def _wanted_users(self, users: Any) -> list[dict[str, Any]]:
        if not isinstance(users, list):
            raise ValueError("users must be a list")
        wanted, seen = [], set()
        for index, user in enumerate(users):
            if not isinstance(user, dict) or not isinstance(user.get("name"), str) or not user["name"].strip():
                raise ValueError(f"users[{index}]: a user needs a name")
            name = user["name"].strip()
            state = user.get("state") or "present"
            if state not in ("present", "absent"):
                raise ValueError(f"user {name}: state must be present or absent, not {state!r}")
            if name.casefold() in seen:                # DSM user names are case-insensitive
                raise ValueError(f"user {name} is listed twice")
            seen.add(name.casefold())
            if state == "absent" and name.casefold() in ("admin", "guest",
                                                         (self.target.username or "admin").casefold()):
                raise ValueError(f"user {name} is the NAS's own or a system default account; it is not removed")
            for field in USER_FIELDS:
                if user.get(field) is not None and not isinstance(user[field], str):
                    raise ValueError(f"user {name}: {field} must be text")
            password = user.get("password")
            if password is not None and not isinstance(password, str):
                raise ValueError(f"user {name}: password must be text")
            wanted.append({"name": name, "state": state, "password": password or None,
                           **{field: user.get(field) for field in USER_FIELDS}})
        return wanted

    @staticmethod
    def _user_view(name: str, record: dict[str, Any] | None) -> dict[str, Any]:
        if record is None:
            return {"name": name, "state": "absent"}
        return {"name": record.get("name", name), "state": "present",
                **{field: record.get(field) or "" for field in USER_FIELDS}}

    def _users(self, users: Any, check_mode: bool) -> tuple[bool, list[dict[str, Any]], list[dict[str, Any]]]:
        wanted = self._wanted_users(users)
        # type=local: the NAS's own accounts, not those of a joined directory (N4S4 core_user.py).
        listing = self.call("SYNO.Core.User", "list", 1, {"type": "local", "offset": 0, "limit": -1,
                                                          "additional": ["description", "email", "expired"]})
        current = {str(u.get("name", "")).casefold(): u for u in (listing or {}).get("users") or []}
        plan: list[tuple[str, dict[str, Any]]] = []
        before, after = [], []
        for user in wanted:
            record = current.get(user["name"].casefold())
            before.append(self._user_view(user["name"], record))
            if user["state"] == "absent":
                if record is not None:
                    plan.append(("delete", {"name": record["name"]}))
                after.append(self._user_view(user["name"], None))
                continue
            if record is None:
                if not user["password"]:
                    raise ValueError(f"user {user['name']} does not exist and no password is given to create it")
                params = {"name": user["name"], "password": user["password"],
                          **{field: user[field] or "" for field in USER_FIELDS}}
                plan.append(("create", params))
                after.append(self._user_view(user["name"], {"name": user["name"],
                                                            **{f: user[f] or "" for f in USER_FIELDS}}))
                continue
            # The password is set on creation only (as ansible.builtin.user update_password=on_create):
            # DSM never reports it, so a change could not be detected without setting it every run.
            diff = {field: user[field] for field in USER_FIELDS
                    if user[field] is not None and user[field] != (record.get(field) or "")}
            if diff:
                plan.append(("set", {"name": record["name"], **diff}))
            after.append(self._user_view(user["name"], {**record, **diff}))
        if not check_mode:
            for method, params in plan:
                self.call("SYNO.Core.User", method, 1, params)
        return bool(plan), before, after


DRIVER = SynologyDriver
