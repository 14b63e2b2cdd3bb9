# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""LANCOM drivers: LCOS (access points, routers) and LCOS SX 5 (switches).

``LCOSDriver`` speaks to the LCOS console over an interactive SSH shell
(paramiko), as oxidized's ``lancom`` model does: it waits for the prompt
``user@<device name>:<path>`` + ``> `` (recorded from an LCOS 10.20 device in
netmiko issue #896) after each command. Commands used, from the LANCOM LCOS
reference manual (command line / Setup menu):

* ``sysinfo``: ``KEY: value`` lines (``DEVICE``, ``VERSION``,
  ``SERIAL-NUMBER``, ``NAME``; keys as oxidized's lancom model reads them);
* ``readscript [path]``: the configuration as a script (``lang``, ``flash``,
  ``cd``, ``tab``, ``set``/``add``/``del``), for the backup and for reading the
  WLAN, VLAN and SYSLOG tables;
* ``set <table>/<row> {Column} value ...``, ``del <table>/<row>``: table
  changes by column name;
* ``LoadFirmware <url>`` ("The commands LoadFirmware, LoadConfig, LoadScript
  and LoadFile", LCOS 8.50): fetch a firmware by HTTP(S) and restart with it.

``LCOSSXDriver`` uses netmiko's ``lancom_lcossx5`` driver (session set-up
``enable`` + ``terminal length 0``, ``(Config)#`` config mode, ``write memory
confirm``) with ``show version``, ``show sysinfo`` and ``show running-config``;
VLANs, ports and syslog hosts are written in the LCOS SX 5 / FASTPATH CLI
syntax (``vlan database``, ``vlan participation``, ``vlan pvid``, ``vlan
tagging``, ``[no] poe``, ``logging host``); firmware by ``copy <url> backup``,
``boot system backup``, ``reload``.

Lists in a settings fragment are authoritative for what they manage: WLANs
not listed are switched off, syslog servers and VLANs (except VLAN 1) not
listed are removed; switch ports not listed are left alone.

SSH host keys are checked after the key exchange and before the password is
sent (docs/device-identity.md): against ``target.options["known_hosts"]`` (a
known_hosts file) when given, else against the identity store
(``target.identity``); without either, nothing is trusted.
"""

from __future__ import annotations

import codecs
import re
import shlex
import socket
import time
from typing import Any, Callable, ClassVar, TypeVar

from ansible.module_utils.praxis_driver import (
    SECRET_MASK,
    Driver,
    DriverError,
    ProtocolError,
    ServerError,
    connection_error,
    error_chain,
    Target,
    Unsupported,
    facts_record,
    retry,
    syslog_server,
)

from ansible.module_utils.praxis_identity import IdentityPolicy, ssh_client

try:
    import paramiko
except ImportError:  # pragma: no cover - the controller installs it (requirements.txt)
    paramiko = None

T = TypeVar("T")

DEFAULT_SSH_PORT = 22
FIRMWARE_TIMEOUT = 600.0      # seconds without output while a device fetches and writes an image
RESTART_TIMEOUT = 60.0        # seconds for the session to drop after the restart was confirmed


# -- versions ---------------------------------------------------------------------------------

_VERSION_RE = re.compile(r"\s*(\d+)\.(\d+)\.(\d+)\s*([A-Za-z]*)\s*(\d*)")
# Release tags of LCOS versions (10.72.0087 < 10.72.0087RU2 < 10.80.0100): release
# candidates and previews sort before the release, updates (RU, SU) after it.
_TAG_RANK = {"rc": -2, "pr": -1, "rel": 0, "ru": 1, "su": 2}


def version_key(version: str | None) -> tuple[int, ...]:
    """Sort key of an LCOS or LCOS SX version; unreadable versions sort first."""
    match = _VERSION_RE.match(version or "")
    if match is None:
        return (0,)
    major, minor, build, tag, number = match.groups()
    return (int(major), int(minor), int(build), _TAG_RANK.get(tag.lower(), 0), int(number or 0))


def offered_firmware(target: Target, installed: str) -> dict[str, Any] | None:
    """The catalog entry ``target.options["firmware"]`` when it is newer than ``installed``."""
    entry = target.options.get("firmware")
    if not isinstance(entry, dict) or not entry.get("version"):
        return None
    if version_key(str(entry["version"])) <= version_key(installed):
        return None
    return entry


# -- parsers ----------------------------------------------------------------------------------

def parse_sysinfo(text: str) -> dict[str, str]:
    """LCOS ``sysinfo``: ``KEY: value`` lines -> {KEY: value}."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and re.fullmatch(r"[A-Z][A-Z0-9_-]*", key.strip()):
            result.setdefault(key.strip(), value.strip())
    return result


def parse_dotted(text: str) -> dict[str, str]:
    """LCOS SX ``show version`` / ``show sysinfo``: ``Label....... value`` lines."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(r"^(\S.*?)\s*\.{2,}\s?(.*)$", line.rstrip())
        if match:
            result.setdefault(match.group(1).strip(), match.group(2).strip())
    return result


def parse_uptime(text: str | None) -> int | None:
    """Seconds from ``12 days 03:04:05`` (LCOS) or ``12 days 3 hrs 4 mins 5 secs`` (LCOS SX)."""
    if not text:
        return None
    seconds = 0
    found = False
    clock = re.search(r"(\d+):(\d{2}):(\d{2})", text)
    if clock:
        seconds += int(clock.group(1)) * 3600 + int(clock.group(2)) * 60 + int(clock.group(3))
        found = True
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    for number, unit in re.findall(r"(\d+)\s*(days?|hours?|hrs?|minutes?|mins?|seconds?|secs?)\b", text, re.I):
        if clock and unit[0].lower() != "d":
            continue
        seconds += int(number) * units[unit[0].lower()]
        found = True
    return seconds if found else None


def split_script_line(line: str) -> list[str]:
    """Tokens of an LCOS command line: blanks separate, double quotes group
    (``""`` is an empty value, ``\\"`` a quote inside). ValueError on an open quote."""
    tokens: list[str] = []
    current: list[str] = []
    quoted = in_quote = escape = False
    for ch in line:
        if escape:
            current.append(ch)
            escape = False
        elif in_quote:
            if ch == "\\":
                escape = True
            elif ch == '"':
                in_quote = False
            else:
                current.append(ch)
        elif ch == '"':
            in_quote = quoted = True
        elif ch in " \t":
            if current or quoted:
                tokens.append("".join(current))
            current, quoted = [], False
        else:
            current.append(ch)
    if in_quote or escape:
        raise ValueError("a quoted value is not closed")
    if current or quoted:
        tokens.append("".join(current))
    return tokens


def quote(value: str) -> str:
    """An LCOS command-line string value."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_script(text: str) -> dict[str, Any]:
    """An LCOS script (``readscript`` output) -> {"values": {path: value},
    "tables": {path: {"columns": [...], "rows": [{column: value}]}}}; paths
    as written by the device."""
    values: dict[str, str] = {}
    tables: dict[str, dict[str, Any]] = {}
    cwd = "/"
    columns: list[str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            tokens = split_script_line(line)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from None
        verb, args = tokens[0].lower(), tokens[1:]
        if verb == "cd" and args:
            cwd = args[0] if args[0].startswith("/") else cwd.rstrip("/") + "/" + args[0]
            columns = None
        elif verb == "tab":
            columns = args
            tables.setdefault(cwd, {"columns": args, "rows": []})["columns"] = args
        elif verb == "del" and args == ["*"]:
            tables.setdefault(cwd, {"columns": columns or [], "rows": []})["rows"] = []
        elif verb in ("set", "add") and args:
            if args[0].startswith("/"):
                values[args[0]] = args[1] if len(args) > 1 else ""
            elif columns:
                table = tables.setdefault(cwd, {"columns": columns, "rows": []})
                table["rows"].append(dict(zip(columns, args, strict=False)))
    return {"values": values, "tables": tables}


def _lookup(mapping: dict[str, T], path: str) -> T | None:
    low = path.lower()
    return next((v for k, v in mapping.items() if k.lower() == low), None)


def expand_vlans(text: str) -> list[int]:
    """``10,20-22`` -> [10, 20, 21, 22]."""
    ids: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, _sep, high = part.partition("-")
        ids.update(range(int(low), int(high or low) + 1))
    return sorted(ids)


def compress_vlans(ids: Any) -> str:
    """[10, 20, 21, 22] -> ``10,20-22``."""
    ordered = sorted(set(ids))
    parts: list[str] = []
    start = prev = None
    for vid in ordered + [None]:
        if start is not None and (vid is None or vid != prev + 1):
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if vid is not None and start is None:
            start = vid
        prev = vid
    return ",".join(parts)


def _default_port() -> dict[str, Any]:
    return {"pvid": 1, "include": [], "exclude": [], "tagged": [], "poe": None}


def parse_running_config(text: str) -> dict[str, Any]:
    """LCOS SX ``show running-config`` -> {"hostname", "vlans": {id: name},
    "syslog_hosts": [{"host", "port", "severity"}], "syslog_enabled",
    "interfaces": {port: {"pvid", "include", "exclude", "tagged", "poe"}}};
    ``poe`` is False after ``no poe``, else None (the default)."""
    cfg: dict[str, Any] = {"hostname": None, "vlans": {1: "default"}, "syslog_hosts": [],
                           "syslog_enabled": False, "interfaces": {}}
    stack: list[str] = []
    port: dict[str, Any] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        try:
            words = shlex.split(line)
        except ValueError:          # e.g. an apostrophe inside a description
            words = line.split()
        head = words[0].lower()
        block = stack[-1] if stack else ""
        if head == "exit":
            if stack:
                stack.pop()
            port = None
            continue
        if not stack and line == "vlan database":
            stack.append("vlan")
        elif not stack and head == "configure":
            stack.append("configure")
        elif block == "vlan" and head == "vlan" and len(words) >= 2:
            if words[1].lower() == "name" and len(words) >= 4:
                cfg["vlans"][int(words[2])] = " ".join(words[3:])
            elif words[1][0].isdigit():
                for vid in expand_vlans(words[1]):
                    cfg["vlans"].setdefault(vid, "")
        elif block == "configure" and head == "hostname" and len(words) == 2:
            cfg["hostname"] = words[1]
        elif block == "configure" and words[:2] == ["logging", "host"] and len(words) >= 3:
            rest = [w for w in words[3:] if w.lower() not in ("ipv4", "ipv6")]
            port_no = int(rest[0]) if rest and rest[0].isdigit() else 514
            severity = rest[1] if len(rest) > 1 else "info"
            cfg["syslog_hosts"].append({"host": words[2], "port": port_no, "severity": severity})
        elif block == "configure" and words == ["logging", "syslog"]:
            cfg["syslog_enabled"] = True
        elif block == "configure" and head in ("interface", "line") and len(words) >= 2:
            stack.append(head)
            if head == "interface":
                port = cfg["interfaces"].setdefault(words[1], _default_port())
        elif block == "interface" and port is not None:
            if words[:2] == ["vlan", "pvid"] and len(words) == 3:
                port["pvid"] = int(words[2])
            elif words[:2] == ["vlan", "participation"] and len(words) == 4 and words[2] in ("include", "exclude"):
                port[words[2]] = expand_vlans(words[3])
            elif words[:2] == ["vlan", "tagging"] and len(words) == 3:
                port["tagged"] = expand_vlans(words[2])
            elif words == ["no", "poe"]:
                port["poe"] = False
    return cfg


# -- configuration checks -----------------------------------------------------------------------

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LCOS_VERBS = ("lang", "flash", "cd", "set", "add", "del", "tab", "sleep")
_LCOS_BAD_UNQUOTED = set("#%&@$~^|")


def _decode(content: bytes) -> list[str]:
    if not content or not content.strip():
        raise ValueError("the configuration is empty")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the configuration is not UTF-8 text (byte {exc.start})") from None
    lines = text.replace("\r\n", "\n").split("\n")
    for number, line in enumerate(lines, 1):
        bad = _CONTROL_RE.search(line)
        if bad:
            raise ValueError(f"line {number}: control character {bad.group()!r}: the download is garbled")
    return lines


def _last_line(lines: list[str]) -> tuple[int, str]:
    for number in range(len(lines), 0, -1):
        if lines[number - 1].strip():
            return number, lines[number - 1].strip()
    return 0, ""


def validate_lcos_script(content: bytes) -> None:
    """An LCOS ``readscript`` export: ``# Script (...)`` header, only script
    commands, closed quotes, and ``flash Yes`` as the last line. The last line
    is left out of the line checks, so a cut-off download is reported as such."""
    lines = _decode(content)
    first = next(line.strip() for line in lines if line.strip())
    if not first.startswith("# Script"):
        raise ValueError(f"does not start with the LCOS script header '# Script (...)' but with {first[:40]!r}")
    last_number, last = _last_line(lines)
    for number, raw in enumerate(lines[:last_number - 1], 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            tokens = split_script_line(line)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}: the download is garbled") from None
        if tokens[0].lower() not in _LCOS_VERBS:
            raise ValueError(f"line {number}: {tokens[0][:30]!r} is not an LCOS script command: "
                             f"the download is garbled")
        unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', "", line)
        bad = next((ch for ch in unquoted if ch in _LCOS_BAD_UNQUOTED), None)
        if bad:
            raise ValueError(f"line {number}: unexpected {bad!r} outside a quoted value: the download is garbled")
    if last.lower() != "flash yes":
        raise ValueError(f"ends at line {last_number} with {last[:40]!r} instead of 'flash Yes': "
                         f"the download is incomplete")


def validate_sx_config(content: bytes) -> None:
    """An LCOS SX ``show running-config``: ``!Current Configuration:`` header,
    command words, ``vlan database``/``configure``/``interface``/``line``
    blocks each closed by ``exit``, and ``exit`` as the last line. The last
    line is left out of the line checks, so a cut-off download is reported as such."""
    lines = _decode(content)
    first = next(line.strip() for line in lines if line.strip())
    if not first.startswith("!Current Configuration"):
        raise ValueError(f"does not start with the running-config header '!Current Configuration:' "
                         f"but with {first[:40]!r}")
    last_number, last = _last_line(lines)
    depth = 0
    configured = False
    for number, raw in enumerate(lines[:last_number], 1):
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        head = line.split()[0]
        if number < last_number:
            if line.count('"') % 2:
                raise ValueError(f"line {number}: a quoted value is not closed: the download is garbled")
            if not re.fullmatch(r"[a-z][a-z0-9-]*", head):
                raise ValueError(f"line {number}: {head[:30]!r} is not an LCOS SX command: the download is garbled")
        if head == "exit":
            depth = max(0, depth - 1)       # blocks this check does not know close at 0
        elif (depth == 0 and line in ("vlan database", "configure")) or \
                (depth == 1 and head in ("interface", "line")):
            depth += 1
            configured = configured or line == "configure"
    if depth or last != "exit" or not configured:
        raise ValueError(f"ends at line {last_number} with {last[:40]!r} inside an open block instead of the "
                         f"closing 'exit': the download is incomplete")


# Volatile comment lines left out of the exports, so an unchanged device gives an
# identical copy every night: the time stamp readscript writes in its second line,
# the up time and SNTP time in the running-config header.
_VOLATILE_LCOS = re.compile(r"^# \d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\s*$")
_VOLATILE_SX = re.compile(r"^!(System Up Time|Current SNTP Synchronized Time)\b")


def _normalize_export(text: str, volatile: re.Pattern[str]) -> bytes:
    lines = text.replace("\r\n", "\n").replace("\r", "").split("\n")
    kept = [line for line in lines if not volatile.match(line)]
    return ("\n".join(kept).strip("\n") + "\n").encode("utf-8")


# -- SSH plumbing -------------------------------------------------------------------------------

def map_ssh_error(target: Target, exc: BaseException, what: str) -> DriverError | None:
    """The contract error for a paramiko / netmiko / socket failure, or None
    for an error that is not about the connection (a programming error)."""
    if isinstance(exc, DriverError):
        return exc
    names = {type(e).__name__ for e in error_chain(exc)}
    if names & {"ConfigInvalidException"}:
        first = (target.scrub(str(exc)).strip().splitlines() or [type(exc).__name__])[0]
        if _TEMPORARY_RE.search(first):
            return ServerError(target, f"{what}: the device reported a temporary error: {first}")
        return ProtocolError(target, f"{what}: the device refused a command: {first}")
    ssh_error = paramiko.SSHException if paramiko is not None else OSError
    if isinstance(exc, (OSError, EOFError, ssh_error)) or names & {"ReadException", "ReadTimeout",
                                                                   "NetmikoTimeoutException"} \
            or any(isinstance(e, DriverError) for e in error_chain(exc)):
        return connection_error(target, exc, what, "SSH")
    return None


class LCOSShell:
    """An interactive LCOS console session (paramiko): run a command, read until
    the prompt ``user@name:/path`` + ``> `` comes back."""

    PROMPT_RE = re.compile(r"\r?\n[^\r\n]*@[^\r\n]*:/[^\r\n]*\r?\n> ?$")

    def __init__(self, target: Target) -> None:
        if paramiko is None:
            raise DriverError(target, "the Python package paramiko is needed for LCOS devices")
        self.target = target
        # The host key is checked after the key exchange and before the password
        # is sent: against options.known_hosts if given, else the identity store.
        self.client = ssh_client(target, target.options.get("known_hosts"))
        try:
            self.client.connect(target.address, target.port or DEFAULT_SSH_PORT, username=target.username,
                                password=target.password or None, key_filename=target.private_key_file,
                                look_for_keys=False, allow_agent=False, timeout=target.timeout,
                                banner_timeout=target.timeout, auth_timeout=target.timeout)
            self.chan = self.client.get_transport().open_session(timeout=target.timeout)
            self.chan.get_pty(term="vt100", width=511, height=1000)
            self.chan.invoke_shell()
            self.chan.settimeout(min(1.0, target.timeout))
            self.banner = self._read(target.timeout)[0]
        except BaseException:
            self.client.close()
            raise

    def _read(self, idle: float, eof_ok: bool = False) -> tuple[str, bool]:
        """Text up to the prompt (prompt removed) and whether the prompt came.
        ``idle``: seconds without any output before TimeoutError."""
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        buf = ""
        last = time.monotonic()
        while True:
            tail_at = max(0, len(buf) - 600)
            match = self.PROMPT_RE.search(buf, tail_at)
            if match:
                return buf[:match.start()], True
            try:
                data = self.chan.recv(65536)
            except socket.timeout:
                if time.monotonic() - last > idle:
                    raise TimeoutError(f"no prompt within {idle:g} s") from None
                continue
            if not data:
                if eof_ok:
                    return buf, False
                raise EOFError("the device closed the session")
            buf += decoder.decode(data)
            last = time.monotonic()

    def run(self, command: str, idle: float | None = None, eof_ok: bool = False) -> str:
        """Output of ``command`` (echo and prompt removed, ``\\n`` line ends)."""
        self.chan.sendall((command + "\r").encode("utf-8"))
        text, _prompted = self._read(idle or self.target.timeout, eof_ok)
        text = text.replace("\r\n", "\n").replace("\r", "")
        head, _sep, rest = text.partition("\n")
        if head.strip() == command.strip():
            text = rest
        return text

    def wait_closed(self, budget: float) -> bool:
        """Read and discard until the device drops the session (it restarts)."""
        deadline = time.monotonic() + budget
        while time.monotonic() < deadline:
            try:
                if not self.chan.recv(65536):
                    return True
            except socket.timeout:
                continue
            except (OSError, EOFError):
                return True
        return False

    def close(self) -> None:
        self.client.close()


# Error lines of both CLIs: LCOS answers a command it cannot carry out with
# "Error: <reason>", LCOS SX 5 (FASTPATH family) with "% Invalid input ..." for a
# command it does not understand and "% Error ..." for one it could not carry
# out (lab/lancom.py cites both).
_ERROR_LINE_RE = re.compile(r"\s*(Error\b|%\s*(?:Invalid|Error\b))")
# A refusal that says the device is busy or short of a resource for the moment
# (a temporary internal error, the lab fault error_rate): the same command may
# work a moment later, so it is retried (ServerError) instead of failing at once.
_TEMPORARY_RE = re.compile(r"(?i)\b(?:temporar(?:y|ily)|try again|busy)\b")
# send_config_set: stop at the first error line and report it whole
_SX_CONFIG_ERROR = r"^\s*%\s*(?:Invalid input|Error\b).*$"


def _error_lines(output: str) -> list[str]:
    return [line.strip() for line in output.splitlines() if _ERROR_LINE_RE.match(line)]


def refusal(target: Target, what: str, line: str) -> DriverError:
    """The error for a device's error line answering ``what``: ServerError
    (transient, ``retry()`` repeats it) when the device reports a temporary
    error, else ProtocolError. The line is scrubbed of the target's secrets."""
    line = target.scrub(line)
    if _TEMPORARY_RE.search(line):
        return ServerError(target, f"{what} failed with a temporary error of the device: {line}")
    return ProtocolError(target, f"{what} refused: {line}")


class _LancomDriver(Driver):
    """Common part of both drivers: one lazily opened session, retries with a
    fresh session, error mapping, the firmware catalog check."""

    vendor = "lancom"
    title = "LANCOM"
    protocol = "ssh"
    default_port = 22
    not_offered: ClassVar[dict[str, str]] = {
        "signatures": "LCOS and LCOS SX have no security signatures to download (no IDS or antivirus "
                      "service on these devices)",
    }
    options: ClassVar[dict[str, str]] = {
        "firmware_timeout": "seconds the firmware upload may stay silent before it counts as failed "
                            f"(default {FIRMWARE_TIMEOUT:g})",
        "restart_timeout": f"seconds to wait for the device to close the session when it restarts "
                           f"(default {RESTART_TIMEOUT:g})",
    }

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self._session: Any = None

    def _open(self) -> Any:
        raise NotImplementedError

    def _close_session(self, session: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            try:
                self._close_session(session)
            except Exception:  # noqa: BLE001 - the session may already be gone (device restarting)
                pass

    def _attempt(self, what: str, work: Callable[[Any], T]) -> T:
        """``work(session)`` once; SSH failures become contract errors and drop the session."""
        try:
            if self._session is None:
                self._session = self._open()
            return work(self._session)
        except DriverError:
            raise
        except Exception as exc:
            mapped = map_ssh_error(self.target, exc, what)
            if mapped is None:
                raise
            self.close()
            raise mapped from exc

    def _do(self, what: str, work: Callable[[Any], T]) -> T:
        """``work(session)`` with retries on transient errors, a fresh session each time."""
        return retry(self.target, what, lambda: self._attempt(what, work))

    # -- firmware ---------------------------------------------------------------------------------
    def firmware_status(self) -> dict[str, Any]:
        installed = self.facts()["firmware_version"]
        entry = offered_firmware(self.target, installed)
        return {"installed": installed, "available": str(entry["version"]) if entry else None,
                "reboot_required": True}

    def _firmware_url(self) -> str:
        """The image URL of the offered firmware; DriverError when nothing newer is offered."""
        status = self.firmware_status()
        entry = self.target.options.get("firmware") or {}
        if status["available"] is None:
            raise DriverError(self.target, f"no newer firmware offered for {status['installed']} "
                                           f"(catalog: {entry.get('version') or 'no entry'})")
        url = str(entry.get("url") or "")
        if not re.match(r"https?://\S+$", url, re.I):
            raise DriverError(self.target, f"the firmware catalog entry {entry.get('version')} has no http(s) URL")
        return url


def _check_settings(driver: Driver, settings: dict[str, Any]) -> list[str]:
    if not isinstance(settings, dict):
        raise DriverError(driver.target, "settings must be a mapping")
    supported = driver.settings_supported.get(driver.target.role, ())
    keys = [key for key, value in settings.items() if value is not None]
    for key in keys:
        if key not in supported:
            raise Unsupported(driver.target, f"settings key {key!r} is not offered by {driver.vendor} "
                                             f"{driver.target.role}s (offered: {', '.join(supported) or 'none'})")
        if not isinstance(settings[key], list):
            raise DriverError(driver.target, f"settings key {key!r} must be a list")
    return keys


def _syslog_wanted(target: Target, entries: list[Any]) -> list[dict[str, Any]]:
    wanted = []
    for index, entry in enumerate(entries):
        where = f"settings.syslog[{index}]"
        item = syslog_server(target, entry, where)
        host = item["host"]
        if not re.fullmatch(r"[A-Za-z0-9.:-]{1,64}", host):
            raise DriverError(target, f"{where}.host {host!r} is not an address or host name")
        if any(w["host"].lower() == host.lower() for w in wanted):
            raise DriverError(target, f"{where}: syslog host {host} is listed twice")
        wanted.append(item)
    return wanted


class _Plan:
    """Commands to send (with a display form that hides secrets) and before/after."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, str]] = []
        self.before: dict[str, Any] = {}
        self.after: dict[str, Any] = {}

    def add(self, command: str, display: str | None = None) -> None:
        self.commands.append((command, display or command))


# =================================================================================================
# LCOS (access points, routers)
# =================================================================================================

NETWORK_TABLE = "/Setup/Interfaces/WLAN/Network"
ENCRYPTION_TABLE = "/Setup/Interfaces/WLAN/Encryption"
VLAN_PORT_TABLE = "/Setup/VLAN/Port-Table"
VLAN_OPERATING = "/Setup/VLAN/Operating"
SYSLOG_TABLE = "/Setup/SYSLOG/Server"
SYSLOG_OPERATING = "/Setup/SYSLOG/Operating"
# encryption -> (WPA-Version, Prot.-Mgmt-Frames); WPA3-Personal needs management frame protection.
WPA_VERSIONS = {"wpa3": ("WPA3", "Mandatory"), "wpa2-wpa3": ("WPA2/3", "Optional")}
_CASELESS = {"Operating", "Encryption", "Method", "WPA-Version", "Prot.-Mgmt-Frames", "Allow-All-VLANs",
             "Tagging-Mode", "Protocol"}
_QUOTED = {"Network-Name", "Key", "IP-Address"}


def _same(column: str, current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if column in _CASELESS:
        return current.lower() == wanted.lower()
    return current == wanted


def _encryption_name(row: dict[str, str] | None) -> str | None:
    if row is None:
        return None
    if row.get("Encryption", "Yes").lower() == "no":
        return "none"
    method = row.get("Method", "")
    if "802.1X" in method:
        return "wpa-enterprise"
    if method.upper() == "OWE":
        return "owe"
    version = row.get("WPA-Version", "")
    return {"wpa3": "wpa3", "wpa2/3": "wpa2-wpa3", "wpa2": "wpa2"}.get(version.lower(), version.lower() or None)


def _set_row(table: str, key: str, values: dict[str, str], secret_columns: tuple[str, ...] = ()) -> tuple[str, str]:
    parts, shown = [], []
    for column, value in values.items():
        text = quote(value) if column in _QUOTED else value
        parts.append(f"{{{column}}} {text}")
        shown.append(f"{{{column}}} {SECRET_MASK if column in secret_columns else text}")
    prefix = f"set {table}/{key} "
    return prefix + " ".join(parts), prefix + " ".join(shown)


def _table(parsed: dict[str, Any], path: str, target: Target) -> dict[str, Any]:
    table = _lookup(parsed["tables"], path)
    if table is None:
        raise ProtocolError(target, f"the device's readscript has no table {path}")
    return table


def _rows(table: dict[str, Any]) -> dict[str, dict[str, str]]:
    key = table["columns"][0] if table["columns"] else ""
    return {row.get(key, ""): row for row in table["rows"]}


def _wanted_wlans(target: Target, entries: list[Any]) -> list[dict[str, Any]]:
    wanted = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("ssid"):
            raise DriverError(target, "every WLAN needs an ssid")
        ssid = str(entry["ssid"])
        encryption = str(entry.get("encryption") or "wpa3")
        psk = entry.get("psk")
        vlan = entry.get("vlan", 1)
        if len(ssid) > 32:
            raise DriverError(target, f"SSID {ssid!r} is longer than 32 characters")
        if encryption not in WPA_VERSIONS:
            raise DriverError(target, f"WLAN {ssid}: encryption must be one of {', '.join(WPA_VERSIONS)}")
        if not isinstance(vlan, int) or not 1 <= vlan <= 4094:
            raise DriverError(target, f"WLAN {ssid}: vlan must be 1-4094")
        # WPA passphrase: 8 to 63 printable ASCII characters (IEEE 802.11i); the
        # message never repeats it.
        if not isinstance(psk, str) or not 8 <= len(psk) <= 63 or not all(" " <= c <= "~" for c in psk):
            raise DriverError(target, f"WLAN {ssid}: the PSK must be 8 to 63 printable ASCII characters")
        if any(w["ssid"] == ssid for w in wanted):
            raise DriverError(target, f"SSID {ssid!r} is listed twice")
        wanted.append({"ssid": ssid, "vlan": vlan, "encryption": encryption, "psk": psk})
    return wanted


def plan_lcos_wlans(target: Target, plan: _Plan, wanted: list[dict[str, Any]], wlan: dict[str, Any],
                    vlan: dict[str, Any]) -> None:
    """WLAN changes from the parsed ``readscript /Setup/Interfaces/WLAN`` and
    ``readscript /Setup/VLAN``. Each SSID gets one logical network on every
    radio (WLAN-1-x, WLAN-2-x); a network already carrying the SSID keeps it."""
    network_t = _table(wlan, NETWORK_TABLE, target)
    encryption_t = _table(wlan, ENCRYPTION_TABLE, target)
    ports_t = _table(vlan, VLAN_PORT_TABLE, target)
    for table, columns in ((network_t, ("Network-Name", "Operating")),
                           (encryption_t, ("Encryption", "Method", "WPA-Version", "Key", "Prot.-Mgmt-Frames")),
                           (ports_t, ("Allow-All-VLANs", "Port-VLAN-Id", "Tagging-Mode"))):
        missing = [c for c in columns if c not in table["columns"]]
        if missing:
            raise ProtocolError(target, f"the device's WLAN/VLAN tables lack the columns {', '.join(missing)}")
    networks, encryption, ports = _rows(network_t), _rows(encryption_t), _rows(ports_t)

    def active(ifc: str) -> bool:
        return networks[ifc].get("Operating", "").lower() == "yes"

    def vlan_of(ifc: str) -> int | None:
        value = ports.get(ifc, {}).get("Port-VLAN-Id", "")
        return int(value) if value.isdigit() else None

    before: dict[str, dict[str, Any]] = {}
    for ifc in networks:
        if active(ifc):
            entry = before.setdefault(networks[ifc].get("Network-Name", ""), {
                "ssid": networks[ifc].get("Network-Name", ""), "vlan": vlan_of(ifc),
                "encryption": _encryption_name(encryption.get(ifc)), "psk": SECRET_MASK, "interfaces": []})
            entry["interfaces"].append(ifc)

    radios: dict[str, list[str]] = {}
    for ifc in networks:
        match = re.fullmatch(r"WLAN-(\d+)(?:-\d+)?", ifc, re.I)
        if match:
            radios.setdefault(match.group(1), []).append(ifc)
    assigned: dict[str, list[str]] = {w["ssid"]: [] for w in wanted}
    taken: set[str] = set()
    for ifcs in radios.values():
        for w in wanted:                       # keep networks that carry the SSID already
            ifc = next((i for i in ifcs if i not in taken and active(i)
                        and networks[i].get("Network-Name") == w["ssid"]), None)
            if ifc:
                assigned[w["ssid"]].append(ifc)
                taken.add(ifc)
        for w in wanted:                       # new SSIDs: a switched-off network first
            if any(i in ifcs for i in assigned[w["ssid"]]):
                continue
            free = [i for i in ifcs if i not in taken]
            ifc = next((i for i in free if not active(i)), free[0] if free else None)
            if ifc is None:
                raise DriverError(target, f"no free logical WLAN network on radio {ifcs[0]} for {w['ssid']!r}")
            assigned[w["ssid"]].append(ifc)
            taken.add(ifc)

    after = []
    for w in wanted:
        wpa, pmf = WPA_VERSIONS[w["encryption"]]
        psk_changed = False
        for ifc in sorted(assigned[w["ssid"]], key=list(networks).index):
            for table, rows, want in (
                    (NETWORK_TABLE, networks, {"Network-Name": w["ssid"], "Operating": "Yes"}),
                    (ENCRYPTION_TABLE, encryption, {"Encryption": "Yes", "Method": "802.11i-WPA-PSK",
                                                    "WPA-Version": wpa, "Key": w["psk"],
                                                    "Prot.-Mgmt-Frames": pmf}),
                    (VLAN_PORT_TABLE, ports, {"Allow-All-VLANs": "No", "Port-VLAN-Id": str(w["vlan"]),
                                              "Tagging-Mode": "Untagged"})):
                row = rows.get(ifc)
                if row is None:
                    raise ProtocolError(target, f"the device's table {table} has no row {ifc}")
                diff = {c: v for c, v in want.items() if not _same(c, row.get(c), v)}
                if diff:
                    psk_changed = psk_changed or "Key" in diff
                    plan.add(*_set_row(table, ifc, diff, secret_columns=("Key",)))
        after.append({"ssid": w["ssid"], "vlan": w["vlan"], "encryption": w["encryption"], "psk": SECRET_MASK,
                      "psk_changed": psk_changed, "interfaces": sorted(assigned[w["ssid"]], key=list(networks).index)})
    for ifc in networks:
        if active(ifc) and ifc not in taken:
            plan.add(*_set_row(NETWORK_TABLE, ifc, {"Operating": "No"}))

    vlan_on = (_lookup(vlan["values"], VLAN_OPERATING) or "No").lower() == "yes"
    needs_vlan = any(w["vlan"] != 1 for w in wanted)
    if needs_vlan and not vlan_on:
        plan.add(f"set {VLAN_OPERATING} Yes")
    plan.before.update(wlans=list(before.values()), vlan_module=vlan_on)
    plan.after.update(wlans=after, vlan_module=vlan_on or needs_vlan)


def plan_lcos_syslog(target: Target, plan: _Plan, wanted: list[dict[str, Any]], syslog: dict[str, Any]) -> None:
    """SYSLOG server table changes from the parsed ``readscript /Setup/SYSLOG``;
    rows are matched by IP-Address, extra rows deleted."""
    # An empty table is written as "cd" + "del *" without a "tab" line.
    table = _lookup(syslog["tables"], SYSLOG_TABLE) or {"columns": [], "rows": []}
    rows = list(table["rows"])
    missing = [c for c in ("IP-Address", "Port", "Protocol") if c not in table["columns"]]
    if rows and missing:
        raise ProtocolError(target, f"the device's SYSLOG table lacks the columns {', '.join(missing)}")
    key = table["columns"][0] if table["columns"] else "Idx."

    def describe(row: dict[str, str]) -> dict[str, Any]:
        port = row.get("Port", "514")
        return {"host": row.get("IP-Address", ""), "port": int(port) if port.isdigit() else port,
                "transport": row.get("Protocol", "UDP").lower()}

    plan.before["syslog"] = [describe(r) for r in rows]
    matched: set[int] = set()
    used = {r.get(key) for r in rows}
    for w in wanted:
        want = {"Port": str(w["port"]), "Protocol": w["transport"].upper()}
        index = next((n for n, r in enumerate(rows) if n not in matched
                      and r.get("IP-Address", "").lower() == w["host"].lower()), None)
        if index is not None:
            matched.add(index)
            diff = {c: v for c, v in want.items() if not _same(c, rows[index].get(c), v)}
            if diff:
                plan.add(*_set_row(SYSLOG_TABLE, rows[index][key], diff))
        else:
            idx = next(str(n) for n in range(1, 10000) if str(n) not in used)
            used.add(idx)
            plan.add(*_set_row(SYSLOG_TABLE, idx, {"IP-Address": w["host"], **want}))
    for n, row in enumerate(rows):
        if n not in matched:
            plan.add(f"del {SYSLOG_TABLE}/{row[key]}")
    operating = (_lookup(syslog["values"], SYSLOG_OPERATING) or "Yes").lower() == "yes"
    if wanted and not operating:
        plan.add(f"set {SYSLOG_OPERATING} Yes")
    plan.after["syslog"] = [dict(w) for w in wanted]


class LCOSDriver(_LancomDriver):
    """LANCOM access points and routers with LCOS, over an interactive SSH console."""

    roles = ("firewall", "access_point")
    config_suffix = ".lcs"
    # a LANCOM router is listed under the site file's firewalls
    settings_supported = {"access_point": ("wlans", "syslog"), "firewall": ("syslog",)}
    # Secrets in a readscript export (group "secret"): the WPA passphrase in the
    # Encryption table rows (Ifc, Encryption, Method, WPA-Version, Key, ...), any
    # column named like a key, password, secret or community when written as
    # {Column} "value", and single values whose path ends in such a name (e.g.
    # RADIUS shared secrets, SNMP communities, administrator passwords).
    secret_patterns = [
        re.compile(r'(?m)^\s*(?:set|add)\s+WLAN-[\d-]+\s+(?:Yes|No)\s+\S+\s+WPA[\w/]*\s+'
                   r'"(?P<secret>(?:[^"\\\n]|\\.)+)"'),
        re.compile(r'(?i)\{[^}\n]*(?:key|passphrase|passw(?:or)?d|secret|community|psk)[^}\n]*\}\s+'
                   r'"(?P<secret>(?:[^"\\\n]|\\.)+)"'),
        re.compile(r'(?im)^\s*set\s+/\S*(?:key|passphrase|passw(?:or)?d|secret|community|psk)[^\s/]*\s+'
                   r'"(?P<secret>(?:[^"\\\n]|\\.)+)"'),
    ]

    def _open(self) -> LCOSShell:
        return LCOSShell(self.target)

    def _close_session(self, session: LCOSShell) -> None:
        session.close()

    def _command(self, shell: LCOSShell, command: str, display: str | None = None, idle: float | None = None) -> str:
        output = shell.run(command, idle)
        errors = _error_lines(output)
        if errors:
            raise refusal(self.target, repr(display or command), errors[0])
        return output

    def _read_script(self, shell: LCOSShell, path: str) -> dict[str, Any]:
        try:
            return parse_script(self._command(shell, f"readscript {path}"))
        except ValueError as exc:
            raise ProtocolError(self.target, f"readscript {path} not readable: {exc}") from None

    # -- facts ------------------------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        output = self._do("facts", lambda shell: self._command(shell, "sysinfo"))
        return self.facts_from_sysinfo(output)

    def facts_from_sysinfo(self, output: str) -> dict[str, Any]:
        info = parse_sysinfo(output)
        if not info.get("DEVICE") or not info.get("VERSION"):
            raise ProtocolError(self.target, "the sysinfo answer lacks DEVICE or VERSION")
        version = info["VERSION"].split("/")[0].strip()
        # sysinfo shows no load, memory or temperature figures
        return facts_record(hostname=info.get("NAME") or None, model=info["DEVICE"],
                            serial=info.get("SERIAL-NUMBER") or None, firmware_version=version,
                            uptime_seconds=parse_uptime(info.get("UPTIME")))

    # -- configuration ------------------------------------------------------------------------------
    def export_config(self) -> bytes:
        idle = max(self.target.timeout, 60.0)
        output = self._do("configuration export", lambda shell: self._command(shell, "readscript", idle=idle))
        return _normalize_export(output, _VOLATILE_LCOS)

    @classmethod
    def validate_config(cls, content: bytes) -> None:
        validate_lcos_script(content)

    # -- firmware ---------------------------------------------------------------------------------
    def start_firmware_update(self) -> None:
        url = self._firmware_url()
        command = f"LoadFirmware {url}"
        idle = float(self.target.options.get("firmware_timeout", FIRMWARE_TIMEOUT))

        def load(shell: LCOSShell) -> None:
            # Not retried: the device may already be writing the image.
            output = shell.run(command, idle, eof_ok=True)
            errors = _error_lines(output)
            if errors:
                raise refusal(self.target, "LoadFirmware", errors[0])
            shell.wait_closed(float(self.target.options.get("restart_timeout", RESTART_TIMEOUT)))

        try:
            self._attempt("firmware update", load)
        finally:
            self.close()

    # -- settings ---------------------------------------------------------------------------------
    def apply_settings(self, settings: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        keys = _check_settings(self, settings)
        wlans = _wanted_wlans(self.target, settings["wlans"]) if "wlans" in keys else None
        syslog = _syslog_wanted(self.target, settings["syslog"]) if "syslog" in keys else None
        secrets = [w["psk"] for w in wlans or []]

        def work(shell: LCOSShell) -> dict[str, Any]:
            plan = _Plan()
            if wlans is not None:
                wlan = self._read_script(shell, "/Setup/Interfaces/WLAN")
                plan_lcos_wlans(self.target, plan, wlans, wlan, self._read_script(shell, "/Setup/VLAN"))
            if syslog is not None:
                plan_lcos_syslog(self.target, plan, syslog, self._read_script(shell, "/Setup/SYSLOG"))
            if not check_mode:
                for command, display in plan.commands:
                    try:
                        self._command(shell, command, display)
                    except (ProtocolError, ServerError) as exc:
                        message = str(exc)
                        for secret in secrets:
                            message = message.replace(secret, SECRET_MASK)
                        raise type(exc)(None, message) from None
            return {"changed": bool(plan.commands), "before": plan.before, "after": plan.after,
                    "commands": [display for _command, display in plan.commands]}

        return self._do("settings", work)


# =================================================================================================
# LCOS SX 5 (switches)
# =================================================================================================

def _members(port: dict[str, Any]) -> set[int]:
    """VLANs a port belongs to: the included ones and VLAN 1 unless excluded
    (every port is an untagged member of VLAN 1 by default)."""
    members = set(port["include"])
    if 1 not in port["exclude"]:
        members.add(1)
    return members


def _port_view(name: str, port: dict[str, Any]) -> dict[str, Any]:
    return {"port": name, "vlans": sorted(_members(port)), "pvid": port["pvid"], "poe": port["poe"] is not False}


def _wanted_sx(target: Target, settings: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    wanted: dict[str, Any] = {}
    if "vlans" in keys:
        vlans: dict[int, str] = {}
        for entry in settings["vlans"]:
            vid = entry.get("id") if isinstance(entry, dict) else None
            name = str(entry.get("name") or "") if isinstance(entry, dict) else ""
            if not isinstance(vid, int) or not 1 <= vid <= 4093:
                raise DriverError(target, f"VLAN id {vid!r} must be 1-4093")
            if not re.fullmatch(r"[A-Za-z0-9_.-]{0,32}", name):
                raise DriverError(target, f"VLAN {vid}: name {name!r} must be up to 32 letters, digits, _ . -")
            if vid in vlans:
                raise DriverError(target, f"VLAN {vid} is listed twice")
            vlans[vid] = name
        wanted["vlans"] = vlans
    if "ports" in keys:
        ports = []
        for entry in settings["ports"]:
            if not isinstance(entry, dict) or not re.fullmatch(r"\d+/\d+/\d+", str(entry.get("port", ""))):
                raise DriverError(target, f"port {entry!r} needs a port name like 1/0/5")
            port = {"port": str(entry["port"])}
            if entry.get("vlans") is not None:
                ids = entry["vlans"]
                if not isinstance(ids, list) or not all(isinstance(v, int) and 1 <= v <= 4093 for v in ids):
                    raise DriverError(target, f"port {port['port']}: vlans must be a list of VLAN ids")
                port["vlans"] = sorted(set(ids))
            if entry.get("pvid") is not None:
                if not isinstance(entry["pvid"], int) or not 1 <= entry["pvid"] <= 4093:
                    raise DriverError(target, f"port {port['port']}: pvid must be 1-4093")
                port["pvid"] = entry["pvid"]
            if entry.get("poe") is not None:
                if not isinstance(entry["poe"], bool):
                    raise DriverError(target, f"port {port['port']}: poe must be true or false")
                port["poe"] = entry["poe"]
            if any(p["port"] == port["port"] for p in ports):
                raise DriverError(target, f"port {port['port']} is listed twice")
            ports.append(port)
        wanted["ports"] = ports
    if "syslog" in keys:
        hosts = _syslog_wanted(target, settings["syslog"])
        for host in hosts:
            if host["transport"] != "udp":
                raise Unsupported(target, f"syslog to {host['host']} over {host['transport']}: LCOS SX "
                                          f"'logging host' sends UDP only")
            if not re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", host["host"]):
                raise DriverError(target, f"syslog host {host['host']!r}: LCOS SX needs an IPv4 address")
        wanted["syslog"] = hosts
    if "vlans" in wanted and "ports" in wanted:
        for port in wanted["ports"]:
            unknown = sorted(v for v in [*port.get("vlans", []), port.get("pvid", 1)]
                             if v != 1 and v not in wanted["vlans"])
            if unknown:
                raise DriverError(target, f"port {port['port']} uses VLAN {compress_vlans(unknown)}, "
                                          f"which is not in the VLAN list")
    return wanted


def plan_sx(plan: _Plan, wanted: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    """Config-mode lines that make ``wanted`` true on the parsed running-config."""
    head: list[str] = []
    middle: list[str] = []
    tail: list[str] = []
    if "vlans" in wanted:
        want, current = wanted["vlans"], cfg["vlans"]
        plan.before["vlans"] = [{"id": v, "name": current[v]} for v in sorted(current) if v != 1]
        plan.after["vlans"] = [{"id": v, "name": want[v]} for v in sorted(want) if v != 1]
        body = []
        create = sorted(v for v in want if v not in current)
        if create:
            body.append(f"vlan {compress_vlans(create)}")
        for vid in sorted(want):
            if vid != 1 and current.get(vid, "") != want[vid]:
                body.append(f"vlan name {vid} {want[vid]}" if want[vid] else f"no vlan name {vid}")
        if body:
            head += ["vlan database", *body, "exit"]
        remove = sorted(v for v in current if v != 1 and v not in want)
        if remove:
            tail += ["vlan database", f"no vlan {compress_vlans(remove)}", "exit"]
    if "syslog" in wanted:
        hosts = cfg["syslog_hosts"]
        plan.before["syslog"] = [{"host": h["host"], "port": h["port"], "transport": "udp"} for h in hosts]
        plan.before["syslog_enabled"] = cfg["syslog_enabled"]
        for w in wanted["syslog"]:
            have = next((h for h in hosts if h["host"] == w["host"]), None)
            if have is None or have["port"] != w["port"]:
                middle.append(f"logging host {w['host']} ipv4 {w['port']} {have['severity'] if have else 'info'}")
        for h in hosts:
            if not any(w["host"] == h["host"] for w in wanted["syslog"]):
                middle.append(f"no logging host {h['host']}")
        if wanted["syslog"] and not cfg["syslog_enabled"]:
            middle.append("logging syslog")
        plan.after["syslog"] = [dict(w) for w in wanted["syslog"]]
        plan.after["syslog_enabled"] = cfg["syslog_enabled"] or bool(wanted["syslog"])
    if "ports" in wanted:
        plan.before["ports"], plan.after["ports"] = [], []
        for w in wanted["ports"]:
            port = cfg["interfaces"].get(w["port"], _default_port())
            plan.before["ports"].append(_port_view(w["port"], port))
            lines = []
            members = _members(port)
            pvid = w.get("pvid", port["pvid"])
            after = dict(port, include=list(port["include"]), exclude=list(port["exclude"]))
            if "vlans" in w or "pvid" in w:
                want_members = (set(w["vlans"]) if "vlans" in w else set(members)) | {pvid}
                add = sorted(want_members - members)
                if add:
                    lines.append(f"vlan participation include {compress_vlans(add)}")
                drop = members - want_members
                if 1 in drop:
                    lines.append("vlan participation exclude 1")
                if drop - {1}:
                    lines.append(f"vlan participation auto {compress_vlans(drop - {1})}")
                if pvid != port["pvid"]:
                    lines.append(f"vlan pvid {pvid}")
                # the PVID untagged, every other member VLAN tagged
                tagged = set(port["tagged"])
                want_tagged = (want_members if "vlans" in w else tagged) - {pvid}
                if want_tagged - tagged:
                    lines.append(f"vlan tagging {compress_vlans(want_tagged - tagged)}")
                if tagged - want_tagged:
                    lines.append(f"no vlan tagging {compress_vlans(tagged - want_tagged)}")
                after.update(pvid=pvid, include=sorted(want_members - {1}),
                             exclude=[] if 1 in want_members else [1], tagged=sorted(want_tagged))
            if "poe" in w:
                if w["poe"] is False and port["poe"] is not False:
                    lines.append("no poe")
                elif w["poe"] is True and port["poe"] is False:
                    lines.append("poe")
                after["poe"] = None if w["poe"] else False
            if lines:
                middle += [f"interface {w['port']}", *lines, "exit"]
            plan.after["ports"].append(_port_view(w["port"], after))
    lines = head + middle + tail
    for line in lines:
        plan.add(line)
    return lines


class LCOSSXDriver(_LancomDriver):
    """LANCOM switches with LCOS SX 5, through netmiko's ``lancom_lcossx5`` driver."""

    roles = ("switch",)
    config_suffix = ".cfg"
    settings_supported = {"switch": ("vlans", "ports", "syslog")}
    # Secrets in an LCOS SX running-config (group "secret"), in the command forms of
    # the LCOS SX 5 / FASTPATH CLI: user and enable passwords, SNMP communities,
    # RADIUS and TACACS+ keys (the lab emulator writes none of them).
    secret_patterns = [
        re.compile(r'(?im)^\s*username\s+"?[^"\s]+"?\s+(?:password|passwd)\s+"?(?P<secret>[^"\s]+)"?'),
        re.compile(r'(?im)^\s*enable\s+(?:password|secret)\s+"?(?P<secret>[^"\s]+)"?'),
        re.compile(r'(?im)^\s*snmp-server\s+community\s+"?(?P<secret>[^"\s]+)"?'),
        re.compile(r'(?im)^\s*radius[- ]server\s+(?:key\s+(?:auth|acct)\s+\S+|host\s+\S+\s+key|key)\s+'
                   r'(?:encrypted\s+)?"?(?P<secret>[^"\s]+)"?'),
        re.compile(r'(?im)^\s*tacacs-server\s+(?:host\s+\S+\s+)?key\s+(?:encrypted\s+)?"?(?P<secret>[^"\s]+)"?'),
    ]

    def _open(self) -> Any:
        try:
            from netmiko import ConnectHandler
        except ImportError as exc:  # pragma: no cover - the controller installs it (requirements.txt)
            raise DriverError(self.target, "the Python package netmiko is needed for LCOS SX switches") from exc
        t = self.target
        params: dict[str, Any] = {
            "device_type": "lancom_lcossx5", "host": t.address, "port": t.port or DEFAULT_SSH_PORT,
            "username": t.username, "password": t.password, "conn_timeout": t.timeout, "auth_timeout": t.timeout,
            "banner_timeout": t.timeout, "timeout": t.timeout,
        }
        if t.private_key_file:
            params.update(use_keys=True, key_file=t.private_key_file)
        if t.options.get("known_hosts"):
            params.update(ssh_strict=True, alt_host_keys=True, alt_key_file=t.options["known_hosts"])
        conn = ConnectHandler(auto_connect=False, **params)
        # netmiko's paramiko client consults key_policy after the key exchange and
        # before authentication for a key in no loaded known_hosts: the identity
        # store decides there, before the password leaves (its errors are no
        # SSHException, so netmiko passes them through unchanged).
        conn.key_policy = IdentityPolicy(t)
        # After login LCOS SX 5 prints its User EXEC prompt "(<host>) >" (LCOS SX 5
        # CLI reference, see lab/lancom.py). netmiko's generic first read waits for
        # 2 s of silence instead (_test_channel_read without a pattern); waiting for
        # the prompt saves that on every session, i.e. on every switch every night.
        generic = conn._test_channel_read
        conn._test_channel_read = lambda count=40, pattern="": generic(count=count, pattern=pattern or r"[>#]\s*$")
        try:
            conn._open()
        except BaseException:
            conn.paramiko_cleanup()
            raise
        return conn

    def _close_session(self, session: Any) -> None:
        session.disconnect()

    def _show(self, conn: Any, command: str, timeout: float | None = None) -> str:
        output = conn.send_command(command, read_timeout=timeout or self.target.timeout)
        errors = _error_lines(output)
        if errors:
            raise refusal(self.target, repr(command), errors[0])
        return output

    # -- facts ------------------------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        version, sysinfo = self._do("facts", lambda conn: (self._show(conn, "show version"),
                                                           self._show(conn, "show sysinfo")))
        return self.facts_from(version, sysinfo)

    def facts_from(self, version_text: str, sysinfo_text: str) -> dict[str, Any]:
        version, sysinfo = parse_dotted(version_text), parse_dotted(sysinfo_text)
        firmware = version.get("Software Version")
        model = version.get("Machine Type") or version.get("Machine Model")
        if not firmware or not model:
            raise ProtocolError(self.target, "the 'show version' answer lacks Software Version or Machine Type")
        return facts_record(hostname=sysinfo.get("System Name") or None, model=model,
                            serial=version.get("Serial Number") or None, firmware_version=firmware,
                            uptime_seconds=parse_uptime(sysinfo.get("System Up Time")))

    # -- configuration ------------------------------------------------------------------------------
    def export_config(self) -> bytes:
        timeout = max(self.target.timeout, 60.0)
        output = self._do("configuration export", lambda conn: self._show(conn, "show running-config", timeout))
        return _normalize_export(output, _VOLATILE_SX)

    @classmethod
    def validate_config(cls, content: bytes) -> None:
        validate_sx_config(content)

    # -- firmware ---------------------------------------------------------------------------------
    def start_firmware_update(self) -> None:
        url = self._firmware_url()
        idle = float(self.target.options.get("firmware_timeout", FIRMWARE_TIMEOUT))
        yes_no = r"\(y/n\)"

        def update(conn: Any) -> None:
            # FASTPATH dual image: fetch into the backup image, boot from it next, restart.
            prompt = re.escape(str(getattr(conn, "base_prompt", "") or "").strip())
            out = conn.send_command(f"copy {url} backup", expect_string=yes_no + (f"|{prompt}" if prompt else ""),
                                    read_timeout=self.target.timeout)
            if "(y/n)" not in out:
                line = (_error_lines(out) or out.strip().splitlines() or ["no answer"])[0]
                raise refusal(self.target, "copy", line)
            # auto_find_prompt=False: finding the prompt sends a newline, which would answer the dialog "no".
            out = conn.send_command("y", auto_find_prompt=False, read_timeout=idle)
            failed = [line.strip() for line in out.splitlines() if "fail" in line.lower()]
            if failed or "completed successfully" not in out:
                line = failed[0] if failed else (out.strip().splitlines() or ["no answer"])[-1]
                raise ProtocolError(self.target, f"firmware transfer failed: {line}")
            out = conn.send_command("boot system backup", read_timeout=self.target.timeout)
            if "activating" not in out.lower():
                raise ProtocolError(self.target, f"boot system backup refused: {out.strip() or 'no answer'}")
            conn.send_command("reload", expect_string=yes_no, read_timeout=self.target.timeout)
            try:
                out = conn.send_command("y", expect_string=r"\(y/n\)|restart", read_timeout=self.target.timeout)
                if "save" in out.lower() and "(y/n)" in out:
                    # Unsaved running-config changes are not saved here: this driver saves
                    # what it changes, anything else was left unsaved on purpose or by mistake.
                    conn.send_command("n", expect_string=r"restart", read_timeout=self.target.timeout)
            except Exception as exc:  # noqa: BLE001 - the session drops while the switch restarts
                if map_ssh_error(self.target, exc, "reload") is None:
                    raise
                return
            self._wait_dropped(conn, float(self.target.options.get("restart_timeout", RESTART_TIMEOUT)))

        try:
            self._attempt("firmware update", update)
        finally:
            self.close()

    @staticmethod
    def _wait_dropped(conn: Any, budget: float) -> None:
        channel = getattr(conn, "remote_conn", None)
        deadline = time.monotonic() + budget
        while channel is not None and time.monotonic() < deadline:
            transport = channel.get_transport() if hasattr(channel, "get_transport") else None
            if channel.closed or transport is None or not transport.is_active():
                return
            try:
                if channel.recv_ready():
                    if not channel.recv(65536):
                        return
                elif channel.exit_status_ready():
                    return
                else:
                    time.sleep(0.05)
            except (OSError, EOFError):
                return

    # -- settings ---------------------------------------------------------------------------------
    def apply_settings(self, settings: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        keys = _check_settings(self, settings)
        wanted = _wanted_sx(self.target, settings, keys)

        def work(conn: Any) -> dict[str, Any]:
            try:
                cfg = parse_running_config(self._show(conn, "show running-config", max(self.target.timeout, 60.0)))
            except ValueError as exc:
                raise ProtocolError(self.target, f"running-config not readable: {exc}") from None
            plan = _Plan()
            lines = plan_sx(plan, wanted, cfg)
            if lines and not check_mode:
                conn.send_config_set(lines, error_pattern=_SX_CONFIG_ERROR, read_timeout=self.target.timeout)
                saved = conn.save_config()
                if re.search(r"not saved|error|invalid", saved, re.I):
                    line = (_error_lines(saved) or saved.strip().splitlines() or ["no answer"])[-1]
                    raise refusal(self.target, "write memory", line)
            return {"changed": bool(lines), "before": plan.before, "after": plan.after, "commands": lines}

        return self._do("settings", work)


def lancom_driver(target: Target) -> Driver:
    """LCOS SX 5 for switches, LCOS for everything else (access points, routers)."""
    return LCOSSXDriver(target) if target.role == "switch" else LCOSDriver(target)


DRIVER = lancom_driver
DRIVER_CLASSES = (LCOSDriver, LCOSSXDriver)
