"""Control API of the running lab (aiohttp, ``http://127.30.0.1:8790``).

Tests, the demo and ``python -m lab`` use it to look at the devices and to
switch faults at run time. All answers are JSON; errors are
``{"error": "..."}`` with status 400 (bad input) or 404 (no such device).

==========================================  =====================================================
``GET    /status``                          every device's summary and totals (incl. requests)
``GET    /devices``                         device names
``GET    /devices/<name>``                  summary, all fault switches and the emulated state
``PUT    /devices/<name>/faults``           JSON object of ``core.Faults`` fields (POST as well)
``DELETE /devices/<name>/faults``           all faults off
``POST   /devices/<name>/state``            JSON merge into the device state; keys must exist
``POST   /devices/<name>/call/<set_x>``     call a ``set_*`` method of the device class with the
                                            JSON object as keyword arguments (``set_disk_health``;
                                            ``set_host_key``: an SSH device gets a new host key,
                                            as after a device swap or factory reset)
``POST   /devices/<name>/reboot``           reboot (also powers up a device that stayed down)
``GET    /firmware/``                       the provider's firmware catalog of the lab (JSON list)
``GET    /firmware/<file>``                 a firmware image of that catalog (LANCOM loads by URL)
``GET    /mail``                            messages the lab mail server received; ``?text=1`` adds
                                            each message's decoded plain text body
``DELETE /mail``                            forget them (the .eml files stay in the maildir)
``POST   /mail/stop``                       stop the mail server's listener (connections are refused,
                                            as with a provider's mail server that is down)
``POST   /mail/start``                      listen again, same address, port and login
==========================================  =====================================================

Device names are ``<site>-<device>``, e.g. ``lab001-fw01``. A state change
goes through the device's own ``apply_state(values)`` when its class offers
one; otherwise it is merged generically: objects merge key by key, a list
element is addressed by its index as key
(``{"disks": {"1": {"health": "failing"}}}``), everything else is replaced,
and a key the device does not have, or a value of another type, is refused
before anything changes.
"""

from __future__ import annotations

import copy
import dataclasses
import xml.etree.ElementTree as ET
import datetime as dt
import json
import os
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from lab import core

if TYPE_CHECKING:
    from lab.server import Lab

LAB_KEY = web.AppKey("lab", Any)


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, ET.Element):           # the XML state of the Sophos emulator
        return ET.tostring(value, encoding="unicode")
    return str(value)


def _dumps(data: Any) -> str:
    return json.dumps(data, default=_json_default, indent=1)


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def error(message: str, status: int = 400) -> web.Response:
    return reply({"error": message}, status=status)


# -- state merge --------------------------------------------------------------------

def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def check_merge(target: Any, patch: dict[str, Any], path: str = "") -> None:
    """Raise ValueError naming the first key of ``patch`` that does not fit ``target``."""
    for key, value in patch.items():
        where = f"{path}.{key}" if path else str(key)
        if isinstance(target, dict):
            if key not in target:
                known = ", ".join(sorted(map(str, target))) or "none"
                raise ValueError(f"unknown state key '{where}'; known here: {known}")
            current = target[key]
        else:  # a list, addressed by index
            try:
                index = int(key)
                current = target[index]
            except (ValueError, IndexError):
                raise ValueError(f"state key '{where}': '{path}' is a list of {len(target)} "
                                 f"elements, address one by its index") from None
        if isinstance(current, (dict, list)) and isinstance(value, dict):
            check_merge(current, value, where)
        elif isinstance(current, dict):
            raise ValueError(f"state key '{where}' is an object; send an object to merge into it")
        elif current is None or value is None:
            continue
        elif isinstance(current, list) != isinstance(value, list) or (
                not isinstance(current, list) and _kind(current) != _kind(value)):
            raise ValueError(f"state key '{where}' takes {_kind(current)}, not {value!r}")


def apply_merge(target: Any, patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        slot = key if isinstance(target, dict) else int(key)
        current = target[slot]
        if isinstance(current, (dict, list)) and isinstance(value, dict):
            apply_merge(current, value)
        else:
            target[slot] = copy.deepcopy(value)


def merge_state(device: core.Device, patch: dict[str, Any]) -> None:
    custom = getattr(device, "apply_state", None)
    if callable(custom):
        custom(patch)
        return
    check_merge(device.state, patch)
    apply_merge(device.state, patch)


# -- handlers -----------------------------------------------------------------------

def _lab(request: web.Request) -> Lab:
    return request.app[LAB_KEY]


def _device(request: web.Request) -> core.Device:
    lab = _lab(request)
    name = request.match_info["name"]
    device = lab.devices.get(name)
    if device is None:
        raise web.HTTPNotFound(text=_dumps({"error": f"no device '{name}' in this lab; names look like "
                                                      f"lab001-fw01, lab001-sw01, lab001-ap01, lab001-nas01"}),
                               content_type="application/json")
    return device


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(text=_dumps({"error": f"body is not JSON: {exc}"}),
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=_dumps({"error": "body must be a JSON object"}),
                                 content_type="application/json")
    return body


def setters(device: core.Device) -> dict[str, str]:
    """Public ``set_*`` methods of the device class and the first line of their docs."""
    found = {}
    for name in dir(type(device)):
        if name.startswith("set_") and callable(getattr(device, name, None)):
            doc = (getattr(type(device), name).__doc__ or "").strip().splitlines()
            found[name] = doc[0] if doc else ""
    return found


def _detail(device: core.Device) -> dict[str, Any]:
    data = device.summary()
    data["faults_all"] = device.faults.as_dict()
    data["reboot_seconds"] = device.reboot_seconds
    data["setters"] = setters(device)
    data["state"] = device.state
    return data


def _messages(lab: Lab) -> list[Any]:
    return lab.mail.messages() if lab.mail is not None else []


def _mail_record(message: Any, text: bool = False) -> dict[str, Any]:
    """A ``lab.smtp.ReceivedMessage`` without its body (``text``: with the decoded plain text)."""
    record = {"from": message.mail_from, "to": list(message.rcpt_tos), "subject": message.subject,
              "received": message.received, "peer": message.peer,
              "path": str(message.path) if message.path else None}
    if text:
        record["text"] = message.text()
    return record


async def status(request: web.Request) -> web.Response:
    lab = _lab(request)
    devices = [d.summary() for d in lab.devices.values()]
    by_vendor: dict[str, dict[str, int]] = {}
    for d in devices:
        entry = by_vendor.setdefault(d["vendor"], {"devices": 0, "up": 0, "requests": 0})
        entry["devices"] += 1
        entry["up"] += int(bool(d["up"]))
        entry["requests"] += d["requests"]
    totals = {
        "practices": lab.sites,
        "devices": len(devices),
        "up": sum(1 for d in devices if d["up"]),
        "down": sum(1 for d in devices if not d["up"]),
        "rebooting": sum(1 for d in devices if d["rebooting"]),
        "with_faults": sum(1 for d in devices if d["faults"]),
        "requests": sum(d["requests"] for d in devices),
        "by_vendor": by_vendor,
    }
    mail = None
    if lab.mail is not None:
        mail = {"address": lab.mail.host, "port": lab.mail.port, "messages": len(_messages(lab)),
                "running": bool(lab.mail.running),
                "maildir": str(lab.mail.maildir) if lab.mail.maildir else None}
    return reply({"pid": os.getpid(), "uptime": round(time.time() - lab.started_at, 1),
                  "ready_after": lab.ready_after, "control_url": lab.control_url,
                  "totals": totals, "mail": mail, "devices": devices})


async def device_list(request: web.Request) -> web.Response:
    return reply(sorted(_lab(request).devices))


async def device_get(request: web.Request) -> web.Response:
    return reply(_detail(_device(request)))


async def faults_set(request: web.Request) -> web.Response:
    device = _device(request)
    body = await _json_object(request)
    trial = dataclasses.replace(device.faults)     # validate all keys before touching the device
    try:
        trial.update(body)
    except ValueError as exc:
        return error(f"{device.name}: {exc}")
    device.faults.update(body)
    device.on_faults()
    return reply({"name": device.name, "faults": device.faults.as_dict()})


async def faults_clear(request: web.Request) -> web.Response:
    device = _device(request)
    device.faults.reset()
    return reply({"name": device.name, "faults": device.faults.as_dict()})


async def state_set(request: web.Request) -> web.Response:
    device = _device(request)
    body = await _json_object(request)
    try:
        merge_state(device, body)
    except (ValueError, KeyError, TypeError) as exc:
        return error(f"{device.name}: {exc}")
    return reply({"name": device.name, "state": device.state})


async def call_setter(request: web.Request) -> web.Response:
    device = _device(request)
    method = request.match_info["method"]
    available = setters(device)
    if method not in available:
        return error(f"{device.name}: no method '{method}'; this device offers: "
                     f"{', '.join(sorted(available)) or 'none'}")
    body = await _json_object(request)
    try:
        getattr(device, method)(**body)
    except TypeError as exc:        # missing or unknown keyword
        return error(f"{device.name}: {method}: {exc}")
    except (ValueError, KeyError) as exc:
        return error(f"{device.name}: {method}: {exc}")
    return reply({"name": device.name, "called": method, "state": device.state})


async def reboot(request: web.Request) -> web.Response:
    device = _device(request)
    device.reboot(delay=0.1)
    return reply({"name": device.name, "rebooting": True, "reboot_seconds": device.reboot_seconds},
                 status=202)


async def mail_list(request: web.Request) -> web.Response:
    text = request.query.get("text", "") not in ("", "0", "false")
    return reply([_mail_record(m, text) for m in _messages(_lab(request))])


async def mail_stop(request: web.Request) -> web.Response:
    lab = _lab(request)
    if lab.mail is None:
        return error("this lab has no mail server", status=404)
    await lab.mail.stop_async()
    return reply({"running": False, "messages": len(_messages(lab))})


async def mail_start(request: web.Request) -> web.Response:
    lab = _lab(request)
    if lab.mail is None:
        return error("this lab has no mail server", status=404)
    if not lab.mail.running:
        try:
            await lab.mail.start_async()
        except OSError as exc:
            return error(f"mail server: cannot listen on {lab.mail.host}:{lab.mail.port}: {exc}")
    return reply({"running": True, "address": lab.mail.host, "port": lab.mail.port})


async def mail_clear(request: web.Request) -> web.Response:
    _lab(request).mail.clear()
    return reply({"messages": 0})


# The provider's firmware repository of the lab: the releases the technicians
# have approved, one per model, newer than what the emulators start with. A
# LANCOM device loads the image by URL (LCOS ``LoadFirmware``, LCOS SX ``copy``).
FIRMWARE_RELEASES = (
    {"vendor": "lancom", "model": "LANCOM LN-1700", "version": "10.80.0100", "date": "20.05.2025",
     "file": "LN-1700-10.80.0100.upx"},
    {"vendor": "lancom", "model": "LANCOM GS-4530XP", "version": "5.30.0012", "date": "10.02.2025",
     "file": "GS-4530XP-5.30.0012.stk"},
)


def firmware_catalog(base_url: str) -> list[dict[str, str]]:
    """The catalog entries with the URL each image is served at."""
    return [{k: v for k, v in dict(entry, url=f"{base_url}/firmware/{entry['file']}").items() if k != "file"}
            for entry in FIRMWARE_RELEASES]


async def firmware_index(request: web.Request) -> web.Response:
    return reply(firmware_catalog(_lab(request).control_url))


async def firmware_file(request: web.Request) -> web.Response:
    from lab.lancom import firmware_image

    for entry in FIRMWARE_RELEASES:
        if entry["file"] == request.match_info["file"]:
            body = firmware_image(entry["model"], entry["version"], entry["date"])
            return web.Response(body=body, content_type="application/octet-stream")
    return error(f"no firmware file {request.match_info['file']}", status=404)


def create_app(lab: Lab) -> web.Application:
    app = web.Application()
    app[LAB_KEY] = lab
    app.router.add_get("/status", status)
    app.router.add_get("/devices", device_list)
    app.router.add_get("/devices/{name}", device_get)
    app.router.add_put("/devices/{name}/faults", faults_set)
    app.router.add_post("/devices/{name}/faults", faults_set)
    app.router.add_delete("/devices/{name}/faults", faults_clear)
    app.router.add_post("/devices/{name}/state", state_set)
    app.router.add_post("/devices/{name}/call/{method}", call_setter)
    app.router.add_post("/devices/{name}/reboot", reboot)
    app.router.add_get("/firmware/", firmware_index)
    app.router.add_get("/firmware/{file}", firmware_file)
    app.router.add_get("/mail", mail_list)
    app.router.add_delete("/mail", mail_clear)
    app.router.add_post("/mail/stop", mail_stop)
    app.router.add_post("/mail/start", mail_start)
    return app


async def start(lab: Lab, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(create_app(lab), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    return runner
