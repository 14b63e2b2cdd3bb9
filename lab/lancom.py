"""LANCOM emulators over SSH: an LCOS access point and an LCOS SX 5 switch.

Both speak SSH through asyncssh (one listener per device, all in the lab's
single asyncio loop) with password authentication against
``Device.check_credentials``. Every device of the process shares one host key,
made once per lab run directory (``<run_dir>/lab-ssh-hostkey``).

Sources the behaviour follows (cited again at each command handler):

* LCOS (routers and access points): LANCOM LCOS reference manual (chapters
  "Configuration with the command line" / Setup menu, and "The commands
  LoadFirmware, LoadConfig, LoadScript and LoadFile", inserted with LCOS 8.50);
  the login banner, prompt ``user@<device name>:<path>`` + ``> `` and the SSH
  version string ``SSH-2.0-lancom`` as recorded from an LCOS 10.20 device in
  netmiko issue #896; the ``sysinfo`` keys (``DEVICE:``, ``HW-RELEASE:``,
  ``VERSION:``, ``SERIAL-NUMBER:``, ``MAC-ADDRESS:``, ``NAME:``, ``TIME:``)
  as read by oxidized's ``lancom`` model; ``set``/``add``/``tab``/``del``
  table syntax as used in LANCOM scripts.
* LCOS SX 5: netmiko ``netmiko/lancom/lancom_lcossx5.py`` (session
  preparation: ``enable``, ``terminal length 0``; config mode checked by
  ``(Config)#``; ``end``; ``write memory confirm``; ``logout``; no exec
  commands inside config mode, no ``terminal width``) and its base
  ``netmiko/cisco_base_connection.py`` (``configure terminal``); LCOS SX 5
  command scripts (``configure``, ``interface 1/0/1-1/0/52``,
  ``copy system:running-config nvram:startup-config`` + ``y``,
  ``clear config``). The ``(Config)#`` check, the ``system:``/``nvram:``
  copy targets, unit/slot/port names and ``clear config`` are the Broadcom
  FASTPATH conventions; prompts ``(host) #``, ``vlan database``, the
  ``% Invalid input detected at '^' marker.`` error, the ``show
  running-config`` header lines, the dotted ``show version`` and the transfer
  / reload dialogs follow that CLI family (inferred, not checked against an
  LCOS SX 5 device).

Where a vendor text could not be verified word for word (refusal wording of
LoadFirmware, ``ls`` layout, the exact column set of LCOS tables) the emulator
keeps the documented syntax and a plain wording; those places say so.

Lab faults (``lab.core.Faults``): ``latency`` before every command,
``error_rate`` a share of commands answers a temporary internal error line
instead (LCOS ``Error: ...``, LCOS SX ``% Error: ...``; ``temporary_error()``)
and leaves the device unchanged, ``drop_rate`` closes a share of SSH sessions
right after the login, ``refuse_auth`` fails every login, ``truncate_backup`` /
``corrupt_backup`` spoil the configuration export, ``firmware_fail`` makes the
firmware upload fail, ``reboot_never_returns`` keeps a restarted device down.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import hashlib
import logging
import os
import random
import re
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import asyncssh

from lab.core import Device

log = logging.getLogger(__name__)

DEFAULT_RUN_DIR = Path(__file__).resolve().parent.parent / ".lab"
HOSTKEY_NAME = "lab-ssh-hostkey"

_HOST_KEYS: dict[str, asyncssh.SSHKey] = {}


def ssh_host_key(run_dir: Path | str) -> asyncssh.SSHKey:
    """The one SSH host key of the lab run dir, generated once, cached."""
    path = Path(run_dir) / HOSTKEY_NAME
    cached = _HOST_KEYS.get(str(path))
    if cached is not None:
        return cached
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment="praxisops-lab")
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        key.write_private_key(str(tmp))
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)          # fails if another process was first
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    key = asyncssh.read_private_key(str(path))
    _HOST_KEYS[str(path)] = key
    return key


# -- firmware files -------------------------------------------------------------------

_FW_VERSION_RE = re.compile(r"(\d+\.\d+\.\d{4}(?:\s?(?:Rel|RU\d+|SU\d+|PR|RC\d+))?)\s*/\s*(\d{2}\.\d{2}\.\d{4})")
_FW_TYPE_RE = re.compile(r'"([^"\r\n]{1,64})"')


def firmware_image(device_type: str, version: str, date: str, size: int = 2048) -> bytes:
    """A stand-in firmware file: one header line naming device type and
    version (as the header of a real .upx / switch image does), then filler."""
    header = f'LANCOM-FW "{device_type}" {version} / {date}\n'.encode()
    body = bytes(random.Random(version).getrandbits(8) for _ in range(max(0, size - len(header))))
    return header + body


def parse_firmware(data: bytes) -> dict[str, str] | None:
    head = data[:1024].decode("latin-1")
    first = head.split("\n", 1)[0]
    match = _FW_VERSION_RE.search(first)
    if not match:
        return None
    dtype = _FW_TYPE_RE.search(first)
    return {"version": match.group(1).replace(" ", ""), "date": match.group(2),
            "device_type": dtype.group(1) if dtype else ""}


def version_key(version: str) -> tuple:
    """Order LCOS versions: 10.72.0087 < 10.72.0087RU2 < 10.80.0100."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)\s*([A-Za-z]*)(\d*)", version.strip())
    if not match:
        return (0,)
    major, minor, build, tag, num = match.groups()
    rank = {"RC": -2, "PR": -1, "": 0, "REL": 0, "RU": 1, "SU": 2}.get(tag.upper(), 0)
    return (int(major), int(minor), int(build), rank, int(num or 0))


async def http_get(url: str, timeout: float = 60) -> bytes:
    # LCOS checks an HTTPS server only against a certificate stored on the
    # device (reference manual, load commands); the lab stores none.
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        async with session.get(url, ssl=False) as response:
            if response.status != 200:
                raise OSError(f"HTTP status {response.status}")
            return await response.read()


def _garble(text: str) -> str:
    rnd = random.Random(len(text))
    chars = list(text)
    for i in range(len(chars) // 4, len(chars), 7):
        if chars[i] not in "\r\n":
            chars[i] = rnd.choice("#%&@$~^|{}\x7f")
    return "".join(chars)


def backup_faults(device: Device, text: str) -> str:
    if device.faults.truncate_backup:
        text = text[: len(text) // 2]
    if device.faults.corrupt_backup:
        text = _garble(text)
    return text


# -- SSH plumbing ---------------------------------------------------------------------

class _Listener:
    """The device's SSH acceptor; closing it also drops the open sessions, as a
    rebooting device does."""

    def __init__(self, acceptor: asyncssh.SSHAcceptor, conns: set) -> None:
        self._acceptor = acceptor
        self._conns = conns

    def update_host_key(self, key: asyncssh.SSHKey) -> None:
        """New sessions get ``key``; open ones keep theirs."""
        self._acceptor.update(server_host_keys=[key])

    def close(self) -> None:
        self._acceptor.close()
        for conn in list(self._conns):
            conn.close()
        self._conns.clear()

    async def wait_closed(self) -> None:
        await self._acceptor.wait_closed()


class _LabSSHServer(asyncssh.SSHServer):
    def __init__(self, device: SSHDevice) -> None:
        self.device = device
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.device._conns.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.device._conns.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return self.device.check_credentials(username, password)

    def auth_completed(self) -> None:
        if self.device.faults.roll_drop() and self.conn is not None:
            self.conn.close()

    def session_requested(self) -> asyncssh.SSHServerSession:
        return self.device.session_class(self.device)


class CLISession(asyncssh.SSHServerSession):
    """Line-oriented CLI on one SSH channel. With a pseudo-terminal the input is
    echoed as a device's terminal does; without one (piped stdin, exec) it is
    not. Subclasses provide banner(), prompt(), handle() and run_exec()."""

    def __init__(self, device: SSHDevice) -> None:
        self.device = device
        self.chan: Any = None
        self.pty = False
        self.command: str | None = None
        self.username = ""
        self._inbuf = ""
        self._wake = asyncio.Event()
        self._eof = False
        self._closed = False
        self._last_cr = False
        self._esc = 0
        self._task: asyncio.Task | None = None

    # asyncssh callbacks
    def connection_made(self, chan: Any) -> None:
        self.chan = chan
        self.username = chan.get_extra_info("username") or ""

    def pty_requested(self, term_type: str, term_size: tuple, term_modes: dict) -> bool:
        self.pty = True
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self.command = command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        return False

    def session_started(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._main())

    def data_received(self, data: str, datatype: Any) -> None:
        self._inbuf += data
        self._wake.set()

    def eof_received(self) -> bool:
        self._eof = True
        self._wake.set()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._wake.set()
        if self._task is not None and not self._task.done() and self._task is not asyncio.current_task():
            self._task.cancel()

    # output
    def write(self, text: str) -> None:
        if self._closed or self.chan is None:
            return
        try:
            self.chan.write(text)
        except Exception:  # noqa: BLE001 - the client went away
            self._closed = True

    def out(self, text: str) -> None:
        self.write(text.replace("\r\n", "\n").replace("\n", "\r\n"))

    # input
    async def read_line(self) -> str | None:
        line: list[str] = []
        echo = self.pty
        while True:
            buf, self._inbuf = self._inbuf, ""
            for i, ch in enumerate(buf):
                if self._esc:                       # skip terminal escape sequences
                    if self._esc == 1:
                        self._esc = 2 if ch == "[" else 0
                    elif "@" <= ch <= "~":
                        self._esc = 0
                    continue
                if ch == "\n" and self._last_cr:
                    self._last_cr = False
                    continue
                self._last_cr = ch == "\r"
                if ch in "\r\n":
                    self._inbuf = buf[i + 1:] + self._inbuf
                    if echo:
                        self.write("\r\n")
                    return "".join(line)
                if ch == "\x1b":
                    self._esc = 1
                elif ch in "\x7f\x08":
                    if line:
                        line.pop()
                        if echo:
                            self.write("\b \b")
                elif ch == "\x03":
                    self._inbuf = buf[i + 1:] + self._inbuf
                    if echo:
                        self.write("^C\r\n")
                    return ""
                elif ch == "\x15":
                    if echo and line:
                        self.write("\b \b" * len(line))
                    line.clear()
                elif ch >= " ":
                    line.append(ch)
                    if echo:
                        self.write(ch)
            if self._eof or self._closed:
                return "".join(line) if line else None
            self._wake.clear()
            await self._wake.wait()

    async def ask(self, question: str) -> str:
        self.out(question)
        answer = await self.read_line()
        return (answer or "").strip()

    # lab fault error_rate: a temporary internal error of the device
    def fails_now(self, line: str) -> bool:
        """Whether ``line`` answers with ``temporary_error()`` this time
        (``faults.error_rate``). Session handling (leaving, modes, paging)
        is never hit: only commands that read or change the device."""
        return not self.session_command(line) and self.device.faults.roll_error()

    def session_command(self, line: str) -> bool:
        return False

    def temporary_error(self) -> str:
        return "Error: temporarily unavailable, try again later"

    async def _command(self, line: str) -> bool | None:
        if self.fails_now(line):
            self.out(self.temporary_error() + "\n")
            return None
        return await self.handle(line)

    # main loop
    async def _main(self) -> None:
        status = 0
        try:
            if self.command is not None:
                self.device.requests += 1
                await self.device.faults.delay()
                if self.fails_now(self.command.strip()):
                    self.out(self.temporary_error() + "\n")
                    status = 1
                else:
                    status = await self.run_exec(self.command.strip())
            else:
                self.out(self.banner())
                self.write(self.prompt())
                while not self._closed:
                    line = await self.read_line()
                    if line is None:
                        break
                    if line.strip():
                        self.device.requests += 1
                        await self.device.faults.delay()
                        if await self._command(line) is False:
                            break
                    self.write(self.prompt())
        except asyncio.CancelledError:
            return
        except Exception:  # noqa: BLE001 - a broken command must not kill the loop
            log.exception("%s: CLI session failed", self.device.name)
            status = 1
        if not self._closed:
            try:
                self.chan.exit(status)
            except Exception:  # noqa: BLE001
                pass

    # to be provided
    def banner(self) -> str:
        return ""

    def prompt(self) -> str:
        return "> "

    async def handle(self, line: str) -> bool | None:
        raise NotImplementedError

    async def run_exec(self, command: str) -> int:
        await self.handle(command)
        return 0


class SSHDevice(Device):
    """Common part of the LANCOM SSH devices."""

    protocol: ClassVar[str] = "ssh"
    default_port: ClassVar[int] = 2222
    session_class: ClassVar[type[CLISession]] = CLISession
    ssh_server_version: ClassVar[str | None] = None

    def __init__(self, *args: Any, run_dir: Path | str | None = None, model: str | None = None,
                 **kwargs: Any) -> None:
        self.run_dir = Path(run_dir) if run_dir else DEFAULT_RUN_DIR
        if model:
            self.model = model
        self._conns: set = set()
        self.connections = 0            # sessions opened, for "Connection No."
        self.host_key: asyncssh.SSHKey | None = None   # own key after set_host_key, else the lab's
        super().__init__(*args, **kwargs)

    def set_host_key(self) -> None:
        """Give the device a new SSH host key, as a replaced or factory-reset device
        has (the control API's "replace the host key"; no vendor behaviour is
        emulated: a new key for new sessions, like any SSH server after a key change)."""
        self.host_key = asyncssh.generate_private_key("ssh-ed25519", comment=f"praxisops-lab {self.name}")
        for listener in self._listeners:
            listener.update_host_key(self.host_key)

    def host_key_fingerprint(self) -> str:
        """SHA256:<base64> of the key new sessions get, as ssh-keygen -l prints it."""
        key = self.host_key or ssh_host_key(self.run_dir)
        return key.get_fingerprint("sha256")

    def summary(self) -> dict[str, Any]:
        return dict(super().summary(), host_key=self.host_key_fingerprint())

    async def _open_listeners(self) -> list[Any]:
        options: dict[str, Any] = {
            "server_host_keys": [self.host_key or ssh_host_key(self.run_dir)],
            "line_editor": False,
            "reuse_address": True,
            "login_timeout": 60,
        }
        if self.ssh_server_version:
            options["server_version"] = self.ssh_server_version
        acceptor = await asyncssh.listen(self.address, self.port,
                                         server_factory=lambda: _LabSSHServer(self), **options)
        return [_Listener(acceptor, self._conns)]

    def _number(self, salt: str) -> int:
        """A stable per-device number (same device name and site, same value)."""
        digest = hashlib.sha256(f"{salt}/{self.site_id}/{self.name}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def _serial(self, prefix: str) -> str:
        return f"{prefix}{self._number('sn') % 10**12:012d}"

    def _mac(self) -> str:
        # 00:A0:57 is LANCOM's OUI.
        return f"00a057{self._number('mac') % (1 << 24):06x}"


def _uptime_words(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{days} days {hours} hrs {minutes} mins {secs} secs"


def _tokens(line: str) -> list[str]:
    """Split a command line: blanks separate, double quotes group ("" is an
    empty value), as on the LCOS command line."""
    tokens: list[str] = []
    cur: list[str] = []
    in_quote = had_quote = escaped = False
    for ch in line:
        if escaped:
            cur.append(ch)
            escaped = False
        elif in_quote and ch == "\\":
            escaped = True
        elif in_quote:
            if ch == '"':
                in_quote = False
            else:
                cur.append(ch)
        elif ch == '"':
            in_quote = had_quote = True
        elif ch in " \t":
            if cur or had_quote:
                tokens.append("".join(cur))
            cur, had_quote = [], False
        else:
            cur.append(ch)
    if cur or had_quote:
        tokens.append("".join(cur))
    return tokens


# =====================================================================================
# LCOS access point
# =====================================================================================

class _Col:
    def __init__(self, name: str, kind: str = "str", choices: tuple[str, ...] = (), default: str = "",
                 maxlen: int = 64, lo: int = 0, hi: int = 65535) -> None:
        self.name, self.kind, self.choices, self.default = name, kind, choices, default
        self.maxlen, self.lo, self.hi = maxlen, lo, hi

    def check(self, value: str) -> str | None:
        """Normalised value, or None when the value is not valid."""
        if self.kind == "enum":
            for choice in self.choices:
                if choice.lower() == value.lower():
                    return choice
            return None
        if self.kind == "int":
            return str(int(value)) if value.isdigit() and self.lo <= int(value) <= self.hi else None
        if self.kind == "ip":
            ok = value == "" or re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", value) or \
                re.fullmatch(r"[A-Za-z0-9.-]{1,64}", value)
            return value if ok else None
        if self.kind == "hex":
            return value.lower() if re.fullmatch(r"0x[0-9a-fA-F]{1,8}", value) else None
        return value if len(value) <= self.maxlen else None

    def script(self, value: str) -> str:
        if self.kind in ("str", "ip"):
            return '"' + value.replace('"', '\\"') + '"'
        return value


class _Node:
    def __init__(self, name: str, kind: str, children: list[_Node] | None = None, col: _Col | None = None,
                 cols: list[_Col] | None = None, rows: list[str] | None = None) -> None:
        self.name, self.kind = name, kind
        self.children = children or []
        self.col, self.cols, self.fixed_rows = col, cols or [], rows
        self.parent: _Node | None = None
        for child in self.children:
            child.parent = self

    @property
    def path(self) -> str:
        if self.parent is None:
            return "/"
        parent = self.parent.path
        return (parent if parent != "/" else "") + "/" + self.name

    def child(self, name: str) -> _Node | None:
        low = name.lower()
        exact = [c for c in self.children if c.name.lower() == low]
        if exact:
            return exact[0]
        prefix = [c for c in self.children if c.name.lower().startswith(low)]
        return prefix[0] if len(prefix) == 1 else None

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


_YES_NO = ("Yes", "No")
_WLAN_IFCS = [f"WLAN-{r}" if i == 1 else f"WLAN-{r}-{i}" for r in (1, 2) for i in range(1, 9)]


def _lcos_schema() -> _Node:
    """An abridged LCOS menu tree (LCOS reference manual, Setup menu): device
    name, the logical WLAN networks and their encryption, the VLAN port table
    (per-SSID VLAN) and SYSLOG. Column sets are reduced to what the lab models."""
    network = _Node("Network", "table", cols=[
        _Col("Ifc", "enum", tuple(_WLAN_IFCS)),
        _Col("Network-Name", "str", default="LANCOM", maxlen=32),
        _Col("Operating", "enum", _YES_NO, default="No"),
        _Col("Closed-Network", "enum", _YES_NO, default="No"),
        _Col("Max.-Stations", "int", default="0", hi=512),
        _Col("Inter-Station-Traffic", "enum", _YES_NO, default="Yes"),
    ], rows=_WLAN_IFCS)
    encryption = _Node("Encryption", "table", cols=[
        _Col("Ifc", "enum", tuple(_WLAN_IFCS)),
        _Col("Encryption", "enum", _YES_NO, default="Yes"),
        _Col("Method", "enum", ("802.11i-WPA-PSK", "802.11i-WPA-802.1X", "OWE"), default="802.11i-WPA-PSK"),
        _Col("WPA-Version", "enum", ("WPA2", "WPA2/3", "WPA3"), default="WPA2/3"),
        _Col("Key", "str", default="", maxlen=63),
        _Col("Prot.-Mgmt-Frames", "enum", ("No", "Optional", "Mandatory"), default="Optional"),
    ], rows=_WLAN_IFCS)
    port_table = _Node("Port-Table", "table", cols=[
        _Col("Port", "enum", tuple(["LAN-1"] + _WLAN_IFCS)),
        _Col("Allow-All-VLANs", "enum", _YES_NO, default="Yes"),
        _Col("Port-VLAN-Id", "int", default="1", lo=1, hi=4094),
        _Col("Tagging-Mode", "enum", ("Untagged", "Mixed", "Tagged"), default="Untagged"),
        _Col("Ingress-Filter", "enum", _YES_NO, default="No"),
    ], rows=["LAN-1"] + _WLAN_IFCS)
    syslog_server = _Node("Server", "table", cols=[
        _Col("Idx.", "int", lo=1, hi=9999),
        _Col("IP-Address", "ip"),
        _Col("Port", "int", default="514", lo=1, hi=65535),
        _Col("Source", "hex", default="0xff"),
        _Col("Level", "hex", default="0x3f"),
        _Col("Loopback-Address", "str", default="", maxlen=16),
        _Col("Protocol", "enum", ("UDP", "TCP"), default="UDP"),
    ])
    setup = _Node("Setup", "menu", [
        _Node("Name", "value", col=_Col("Name", "str", maxlen=64)),
        _Node("Interfaces", "menu", [_Node("WLAN", "menu", [network, encryption])]),
        _Node("VLAN", "menu", [_Node("Operating", "value", col=_Col("Operating", "enum", _YES_NO, default="No")),
                               port_table]),
        _Node("SYSLOG", "menu", [_Node("Operating", "value", col=_Col("Operating", "enum", _YES_NO, default="Yes")),
                                 syslog_server]),
    ])
    return _Node("", "menu", [_Node("Status", "menu"), setup, _Node("Firmware", "menu"), _Node("Other", "menu")])


_LCOS_ROOT = _lcos_schema()
_LCOS_TABLES = [n for n in _LCOS_ROOT.walk() if n.kind == "table"]
_LCOS_VALUES = [n for n in _LCOS_ROOT.walk() if n.kind == "value"]


def _default_setup(name: str) -> dict[str, Any]:
    values = {n.path: (name if n.path == "/Setup/Name" else n.col.default) for n in _LCOS_VALUES}
    tables = {}
    for table in _LCOS_TABLES:
        rows = []
        for key in table.fixed_rows or []:
            rows.append([key] + [c.default for c in table.cols[1:]])
        tables[table.path] = rows
    return {"values": values, "tables": tables}


class LCOSSession(CLISession):
    """The LCOS command line (Telnet/SSH console) of a LANCOM router / AP."""

    device: LCOSAccessPoint

    def __init__(self, device: LCOSAccessPoint) -> None:
        super().__init__(device)
        self.cwd: _Node = _LCOS_ROOT
        self.tab: list[int] | None = None
        self.flash = True

    @property
    def setup(self) -> dict[str, Any]:
        return self.device.state["setup"]

    # Banner and prompt: LCOS 10.x console as recorded in netmiko issue #896.
    def banner(self) -> str:
        st = self.device.state
        self.device.connections += 1
        return (f"\n| {self.device.model}\n| Ver. {st['firmware_version']} / {st['firmware_date']}\n"
                f"| SN.  {st['serial']}\n| Copyright (c) LANCOM Systems\n\n"
                f"{self.device.device_name}, Connection No.: {self.device.connections % 1000:03d} (LAN)\n")

    def prompt(self) -> str:
        return f"\r\n{self.username}@{self.device.device_name}:{self.cwd.path}\r\n> "

    def session_command(self, line: str) -> bool:
        return (line.split() or [""])[0].lower() in ("exit", "quit", "bye", "logout")

    def temporary_error(self) -> str:
        # faults.error_rate. LCOS answers a command it cannot carry out with one
        # line "Error: <reason>" before the prompt comes back (the form of every
        # refusal in this emulator, after the LCOS reference manual's console
        # chapter). The wording of a temporary internal error (a busy or
        # out-of-resources device) is not published; a plain one is kept.
        return "Error: Resource temporarily unavailable, please try again later"

    async def run_exec(self, command: str) -> int:
        for index, part in enumerate(command.split(";")):
            if not part.strip():
                continue
            # the first part was already rolled for faults.error_rate by _main
            if await (self._command(part.strip()) if index else self.handle(part.strip())) is False:
                break
        return 0

    async def handle(self, line: str) -> bool | None:
        if line.lstrip().startswith("#"):      # comment line of a script
            return None
        args = _tokens(line)
        if not args:
            return None
        word, rest = args[0].lower(), args[1:]
        handler = {
            "ls": self.cmd_ls, "dir": self.cmd_ls, "list": self.cmd_ls, "l": self.cmd_ls,
            "cd": self.cmd_cd, "set": self.cmd_set, "tab": self.cmd_tab, "add": self.cmd_add,
            "del": self.cmd_del, "readscript": self.cmd_readscript, "sysinfo": self.cmd_sysinfo,
            "loadfirmware": self.cmd_loadfirmware, "flash": self.cmd_flash, "lang": self.cmd_lang,
            "help": self.cmd_help, "?": self.cmd_help,
        }.get(word)
        if word in ("exit", "quit", "bye", "logout"):
            return False
        if handler is None:
            self.out(f"Error: Unknown command '{args[0]}'\n")
            return None
        await handler(rest)
        return None

    # -- tree helpers ---------------------------------------------------------------
    def resolve(self, arg: str) -> tuple[_Node, str | None]:
        node = _LCOS_ROOT if arg.startswith("/") else self.cwd
        row: str | None = None
        parts = [p for p in arg.split("/") if p not in ("", ".")]
        for i, part in enumerate(parts):
            if part == "..":
                node = node.parent or node
                continue
            if node.kind == "table":
                if i != len(parts) - 1:
                    raise LookupError(arg)
                row = part
                break
            child = node.child(part)
            if child is None or node.kind == "value":
                raise LookupError(arg)
            node = child
        return node, row

    def rows(self, table: _Node) -> list[list[str]]:
        return self.setup["tables"][table.path]

    def find_row(self, table: _Node, key: str) -> list[str] | None:
        for row in self.rows(table):
            if row[0].lower() == key.lower():
                return row
        return None

    def committed(self) -> None:
        if self.flash:
            self.device.state["flashed"] = copy.deepcopy(self.setup)

    # -- commands ---------------------------------------------------------------------
    async def cmd_help(self, args: list[str]) -> None:
        # LCOS console "help" / "?": the commands (short list of what the lab knows).
        self.out("Commands: add, cd, del, dir, exit, flash, LoadFirmware, ls, readscript, set, sysinfo, tab\n")

    async def cmd_lang(self, args: list[str]) -> None:
        # readscript starts with "lang English"; scripts set the console language.
        if args and args[0].lower() not in ("english", "deutsch", "german"):
            self.out(f"Error: Unknown language '{args[0]}'\n")

    async def cmd_flash(self, args: list[str]) -> None:
        # LCOS "flash Yes|No": with No, changes stay in RAM until "flash Yes"
        # (scripts open with "flash No" and close with "flash Yes").
        if not args or args[0].lower() not in ("yes", "no"):
            self.out(f"flash {'Yes' if self.flash else 'No'}\n")
            return
        self.flash = args[0].lower() == "yes"
        self.committed()

    async def cmd_cd(self, args: list[str]) -> None:
        # LCOS reference manual, command line: "cd <path>", "/", "..", abbreviations.
        target = args[0] if args else "/"
        try:
            node, row = self.resolve(target)
        except LookupError:
            self.out(f"Error: Path '{target}' not found\n")
            return
        if row is not None or node.kind == "value":
            self.out(f"Error: '{target}' is not a menu or table\n")
            return
        if node is not self.cwd:
            self.tab = None
        self.cwd = node

    async def cmd_ls(self, args: list[str]) -> None:
        # LCOS "ls"/"dir": lists a menu, a table or a value. The column layout is
        # the lab's (not verified against a device).
        target = next((a for a in args if not a.startswith("-")), None)
        try:
            node, row = self.resolve(target) if target else (self.cwd, None)
        except LookupError:
            self.out(f"Error: Path '{target}' not found\n")
            return
        if node.kind == "value":
            self.out(f"{node.name:<32}{self.setup['values'][node.path]}\n")
        elif node.kind == "table":
            rows = self.rows(node)
            if row is not None:
                rows = [r for r in rows if r[0].lower() == row.lower()]
            self.out("\n" + self._table_text(node, rows))
        else:
            lines = []
            for child in node.children:
                if child.kind == "value":
                    lines.append(f"{child.name:<32}{self.setup['values'][child.path]}")
                else:
                    lines.append(f"{child.name:<32}{'TABLE' if child.kind == 'table' else 'MENU'}")
            self.out("\n" + "\n".join(lines) + ("\n" if lines else ""))

    @staticmethod
    def _table_text(table: _Node, rows: list[list[str]]) -> str:
        widths = [max([len(c.name)] + [len(r[i]) for r in rows]) + 2 for i, c in enumerate(table.cols)]
        head = "".join(c.name.ljust(w) for c, w in zip(table.cols, widths, strict=True)).rstrip()
        body = ["".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        return "\n".join([head, "=" * len(head)] + body) + "\n"

    def _named_values(self, table: _Node, tokens: list[str]) -> dict[int, str] | None:
        """{Column} value pairs -> {column index: value}."""
        result: dict[int, str] = {}
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if not tok.startswith("{"):
                return None
            name = tok
            while not name.endswith("}") and i + 1 < len(tokens):
                i += 1
                name += " " + tokens[i]
            name = name[1:-1].strip().lower()
            idx = next((n for n, c in enumerate(table.cols) if c.name.lower() == name), None)
            if idx is None or i + 1 >= len(tokens):
                raise ValueError(f"Unknown column '{name}'" if idx is None else "Missing value")
            result[idx] = tokens[i + 1]
            i += 2
        return result

    def _write_row(self, table: _Node, key: str, assign: dict[int, str], create: bool) -> str | None:
        """Validate and store one row; returns an error text or None."""
        key_val = table.cols[0].check(key)
        if key_val is None:
            return f"Invalid value '{key}' for {table.cols[0].name}"
        row = self.find_row(table, key_val)
        if row is None:
            if table.fixed_rows is not None or not create:
                return f"Entry '{key}' not found"
            row = [key_val] + [c.default for c in table.cols[1:]]
            new = True
        else:
            new = False
        updated = list(row)
        for idx, value in assign.items():
            if idx == 0 or value == "*":
                continue
            good = table.cols[idx].check(value)
            if good is None:
                return f"Invalid value '{value}' for {table.cols[idx].name}"
            updated[idx] = good
        if new:
            self.rows(table).append(updated)
        else:
            row[:] = updated
        return None

    async def cmd_set(self, args: list[str]) -> None:
        # LCOS reference manual, command line "set <path> <value(s)>": a value;
        # a table row by its index ("set <table>/<index> v2 v3 ..." or "set
        # <table> <index> v2 ..."), columns after the index in order, "*" keeps a
        # value, "{Column} value" names columns; a column order given by "tab".
        if not args:
            self.out("Error: Missing parameter\n")
            return
        try:
            node, row = self.resolve(args[0])
            values = args[1:]
        except LookupError:
            if self.cwd.kind == "table":        # "set WLAN-1 ..." inside the table
                node, row, values = self.cwd, None, args
            else:
                self.out(f"Error: Path '{args[0]}' not found\n")
                return
        if node.kind == "value":
            if len(values) != 1:
                self.out("Error: Exactly one value expected\n")
                return
            good = node.col.check(values[0])
            if good is None:
                self.out(f"Error: Invalid value '{values[0]}' for {node.name}\n")
                return
            self.setup["values"][node.path] = good
            self.committed()
            return
        if node.kind != "table":
            self.out(f"Error: '{args[0]}' is not a value or table\n")
            return
        if row is None:
            if not values:
                self.out("Error: Missing parameter\n")
                return
            row, values = values[0], values[1:]
        try:
            named = self._named_values(node, values)
        except ValueError as exc:
            self.out(f"Error: {exc}\n")
            return
        if named is None:
            order = [i for i in (self.tab or range(len(node.cols))) if i != 0] \
                if (self.tab is not None and node is self.cwd) else list(range(1, len(node.cols)))
            if len(values) > len(order):
                self.out("Error: Too many values\n")
                return
            named = dict(zip(order, values, strict=False))
        error = self._write_row(node, row, named, create=True)
        if error:
            self.out(f"Error: {error}\n")
            return
        self.committed()

    async def cmd_tab(self, args: list[str]) -> None:
        # "tab <columns>": column order for the following set/add in the current
        # table, as readscript writes before the rows of a table.
        if self.cwd.kind != "table":
            self.out("Error: tab only applies inside a table\n")
            return
        order = []
        for name in args:
            idx = next((n for n, c in enumerate(self.cwd.cols) if c.name.lower() == name.lower()), None)
            if idx is None:
                self.out(f"Error: Unknown column '{name}'\n")
                return
            order.append(idx)
        if 0 not in order:
            self.out(f"Error: Column '{self.cwd.cols[0].name}' is required\n")
            return
        self.tab = order

    async def cmd_add(self, args: list[str]) -> None:
        # "add <values>" inside a table (or "add <table> <values>"): a new row,
        # values in column order (or in the order set by "tab").
        table, values = self.cwd, args
        if args and (table.kind != "table" or "/" in args[0]):
            try:
                table, _ = self.resolve(args[0])
            except LookupError:
                self.out(f"Error: Path '{args[0]}' not found\n")
                return
            values = args[1:]
        if table.kind != "table" or not values:
            self.out("Error: add needs a table and values\n")
            return
        order = self.tab if (self.tab is not None and table is self.cwd) else list(range(len(table.cols)))
        if len(values) > len(order):
            self.out("Error: Too many values\n")
            return
        assign = dict(zip(order, values, strict=False))
        if 0 not in assign:
            self.out(f"Error: Column '{table.cols[0].name}' is required\n")
            return
        error = self._write_row(table, assign[0], assign, create=True)
        if error:
            self.out(f"Error: {error}\n")
            return
        self.committed()

    async def cmd_del(self, args: list[str]) -> None:
        # "del *" empties the current table (readscript writes it before "add"
        # rows); "del <index>" removes one row. Fixed tables go back to defaults.
        if not args:
            self.out("Error: Missing parameter\n")
            return
        table, key = self.cwd, args[0]
        if "/" in key:
            try:
                table, key = self.resolve(key)
            except LookupError:
                self.out(f"Error: Path '{args[0]}' not found\n")
                return
        if table.kind != "table" or key is None:
            self.out("Error: del only applies to table rows\n")
            return
        rows = self.rows(table)
        defaults = _default_setup(self.device.device_name)["tables"][table.path]
        if key == "*":
            rows[:] = defaults
        else:
            row = self.find_row(table, key)
            if row is None:
                self.out(f"Error: Entry '{key}' not found\n")
                return
            if table.fixed_rows is not None:
                row[:] = next(d for d in defaults if d[0] == row[0])
            else:
                rows.remove(row)
        self.committed()

    def render_script(self, base: _Node) -> str:
        st = self.device.state
        now = dt.datetime.now().strftime("%Y/%m/%d %H:%M:%S")
        lines = [f"# Script ({self.device.model}, {st['firmware_version']} / {st['firmware_date']})",
                 f"# {now}", "lang English", "flash No", ""]
        for node in base.walk():
            if node.kind == "value":
                value = self.setup["values"][node.path]
                if lines[-1] and not lines[-1].startswith("set /"):
                    lines.append("")
                lines.append(f"set {node.path} {node.col.script(value)}")
            elif node.kind == "table":
                rows = self.rows(node)
                lines += ["", f"cd {node.path}"]
                if node.fixed_rows is None:
                    lines.append("del *")
                if not rows:
                    continue
                cells = [[c.script(v) for c, v in zip(node.cols, r, strict=True)] for r in rows]
                widths = [max([len(c.name)] + [len(r[i]) for r in cells]) + 1 for i, c in enumerate(node.cols)]
                header = " ".join(c.name.ljust(w) for c, w in zip(node.cols, widths, strict=True))
                lines.append("tab " + header.rstrip())
                verb = "set" if node.fixed_rows is not None else "add"
                for r in cells:
                    lines.append(f"{verb} " + " ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
        lines += ["", "# done...", "flash Yes", ""]
        return "\n".join(lines)

    async def cmd_readscript(self, args: list[str]) -> None:
        # LCOS "readscript [path]": the configuration as a script of console
        # commands ("lang", "flash No", "cd"/"set"/"tab"/"add", "flash Yes").
        target = next((a for a in args if not a.startswith("-")), "/Setup")
        try:
            node, _ = self.resolve(target)
        except LookupError:
            self.out(f"Error: Path '{target}' not found\n")
            return
        self.out(backup_faults(self.device, self.render_script(node)))

    async def cmd_sysinfo(self, args: list[str]) -> None:
        # LCOS "sysinfo": KEY: value lines (keys as read by oxidized's lancom model).
        st = self.device.state
        up = self.device.uptime()
        days, rest = divmod(up, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        self.out(
            f"DEVICE: {self.device.model}\n"
            f"HW-RELEASE: {st['hw_release']}\n"
            f"VERSION: {st['firmware_version']} / {st['firmware_date']}\n"
            f"SERIAL-NUMBER: {st['serial']}\n"
            f"MAC-ADDRESS: {st['mac']}\n"
            f"NAME: {self.device.device_name}\n"
            f"LOCATION: \n"
            f"UPTIME: {days} days {hours:02d}:{minutes:02d}:{secs:02d}\n"
            f"TIME: {dt.datetime.now().strftime('%d.%m.%Y %H:%M:%S')}\n")

    async def cmd_loadfirmware(self, args: list[str]) -> None:
        # LCOS reference manual, "The commands LoadFirmware, LoadConfig,
        # LoadScript and LoadFile" (LCOS 8.50): "LoadFirmware <URL>" fetches a
        # firmware file by TFTP, HTTP or HTTPS; "-a <address>" sets the source
        # address, "-s <host> -f <file>" replace the URL for TFTP. The device
        # writes the file to its inactive FirmSafe slot and restarts with it.
        # Version check: only a newer firmware than the active one is taken
        # (lab default; the refusal wording is the lab's).
        url = None
        it = iter(args)
        for tok in it:
            if tok in ("-a",):
                next(it, None)
            elif tok in ("-s", "-f"):
                self.out("Error: TFTP server not reachable\n")
                return
            elif tok.startswith("-"):
                self.out(f"Error: Unknown parameter '{tok}'\n")
                return
            else:
                url = tok
        if not url or not re.match(r"https?://", url, re.I):
            self.out("Error: No URL given (LoadFirmware [-a <address>] <http(s)-URL>)\n")
            return
        self.out(f"Loading firmware from {url} ...\n")
        try:
            data = await http_get(url)
        except Exception as exc:  # noqa: BLE001 - any download failure is reported
            self.out(f"Error: Download failed ({exc})\n")
            return
        info = parse_firmware(data)
        if info is None:
            self.out("Error: File is not a valid firmware image\n")
            return
        if info["device_type"] and info["device_type"].lower() != self.device.model.lower():
            self.out(f"Error: Firmware is for '{info['device_type']}', not for this device\n")
            return
        current = self.device.state["firmware_version"]
        if version_key(info["version"]) <= version_key(current):
            self.out(f"Error: Firmware {info['version']} is not newer than the active firmware "
                     f"{current} - firmware not loaded\n")
            return
        self.out(f"{len(data)} bytes received, firmware {info['version']} / {info['date']}\n")
        if self.device.faults.firmware_fail:
            self.out("Error: Writing the firmware to flash memory failed\n")
            return
        self.device.state["staged_firmware"] = {"version": info["version"], "date": info["date"]}
        self.out("Firmware written to flash memory, the device restarts now.\n")
        self.device.reboot()


class LCOSAccessPoint(SSHDevice):
    """A LANCOM access point running LCOS (console over SSH)."""

    vendor: ClassVar[str] = "lancom"
    role: ClassVar[str] = "access_point"
    model: ClassVar[str] = "LANCOM LN-1700"
    session_class: ClassVar[type[CLISession]] = LCOSSession
    ssh_server_version: ClassVar[str | None] = "lancom"     # "SSH-2.0-lancom" (netmiko issue #896)

    def initial_state(self) -> dict[str, Any]:
        setup = _default_setup(self.name)
        return {
            "firmware_version": "10.72.0087RU2",
            "firmware_date": "14.11.2023",
            "hw_release": "A",
            "serial": self._serial("4005"),
            "mac": self._mac(),
            "setup": setup,
            "flashed": copy.deepcopy(setup),
            "staged_firmware": None,
        }

    @property
    def device_name(self) -> str:
        return self.state["setup"]["values"]["/Setup/Name"] or self.model

    def on_boot(self) -> None:
        staged = self.state.get("staged_firmware")
        if staged:
            self.state["firmware_version"] = staged["version"]
            self.state["firmware_date"] = staged["date"]
            self.state["staged_firmware"] = None
        # Only what was written to flash survives a restart.
        self.state["setup"] = copy.deepcopy(self.state["flashed"])

    # convenience for the lab: the WLANs as the site file describes them
    def wlans(self) -> list[dict[str, Any]]:
        tables = self.state["setup"]["tables"]
        enc = {r[0]: r for r in tables["/Setup/Interfaces/WLAN/Encryption"]}
        vlan = {r[0]: r for r in tables["/Setup/VLAN/Port-Table"]}
        result = []
        for row in tables["/Setup/Interfaces/WLAN/Network"]:
            if row[2] != "Yes":
                continue
            e = enc[row[0]]
            result.append({"ifc": row[0], "ssid": row[1], "vlan": int(vlan[row[0]][2]),
                           "encryption": e[3], "psk": e[4]})
        return result


# =====================================================================================
# LCOS SX 5 switch
# =====================================================================================

_INVALID = "% Invalid input detected at '^' marker."
_IF_RE = re.compile(r"^1/0/(\d+)$")


def _vlan_list(text: str) -> list[int] | None:
    result: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part.strip())
        if not m:
            return None
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if not (1 <= lo <= hi <= 4093):
            return None
        result.extend(range(lo, hi + 1))
    return sorted(set(result))


def _compress(ids: list[int]) -> str:
    ids = sorted(set(ids))
    parts, i = [], 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        parts.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(parts)


def _match(token: str, words: tuple[str, ...]) -> str | None:
    """FASTPATH-style keyword matching: exact or unique abbreviation."""
    low = token.lower()
    if low in words:
        return low
    hits = [w for w in words if w.startswith(low)]
    return hits[0] if len(hits) == 1 else None


class SX5Session(CLISession):
    """The LCOS SX 5 CLI: User EXEC ``(host) >``, Privileged EXEC ``(host) #``,
    Global Config ``(host) (Config)#``, VLAN database ``(host) (Vlan)#`` and
    Interface ``(host) (Interface 1/0/x)#``."""

    device: LCOSSXSwitch

    def __init__(self, device: LCOSSXSwitch) -> None:
        super().__init__(device)
        self.mode = "user"
        self.ifaces: list[str] = []
        self.if_label = ""

    @property
    def running(self) -> dict[str, Any]:
        return self.device.state["running"]

    def banner(self) -> str:
        return "\n"

    def prompt(self) -> str:
        host = f"({self.running['hostname']}) "
        return host + {"user": ">", "priv": "#", "config": "(Config)#", "vlan": "(Vlan)#",
                       "interface": f"(Interface {self.if_label})#"}[self.mode]

    def invalid(self, line: str, token_index: int) -> None:
        # FASTPATH / LCOS SX error: a caret under the offending word, then
        # "% Invalid input detected at '^' marker."
        pos, idx = 0, 0
        for m in re.finditer(r"\S+", line):
            if idx == token_index:
                pos = m.start()
                break
            idx += 1
        else:
            pos = len(line.rstrip()) + 1
        col = len(self.prompt().split("\n")[-1]) + pos if self.pty else pos
        self.out(" " * col + "^\n" + _INVALID + "\n\n")

    def session_command(self, line: str) -> bool:
        # entering and leaving modes and paging (netmiko lancom_lcossx5.py
        # session_preparation / cleanup / config_mode): never hit by error_rate
        args = line.split()
        return bool(args) and _match(args[0], ("enable", "disable", "exit", "logout", "quit", "terminal",
                                                "configure", "end")) is not None

    def temporary_error(self) -> str:
        # faults.error_rate. FASTPATH-family switches (LCOS SX 5) report a command
        # the switch could not carry out with a "% Error ..." line (as the "% Invalid
        # input" parse errors above); the wording of a temporary internal error is
        # not published for LCOS SX 5 and is a plain one here.
        return "% Error: The system is busy, the command was not executed. Try again later."

    async def run_exec(self, command: str) -> int:
        self.mode = "priv"
        await self.handle(command)
        return 0

    async def handle(self, line: str) -> bool | None:
        args = line.split()
        mode_handler = {"user": self.in_user, "priv": self.in_priv, "config": self.in_config,
                        "vlan": self.in_vlan, "interface": self.in_interface}[self.mode]
        return await mode_handler(line, args)

    # -- User / Privileged EXEC -------------------------------------------------------
    async def in_user(self, line: str, args: list[str]) -> bool | None:
        word = _match(args[0], ("enable", "exit", "logout", "quit", "show", "ping"))
        if word == "enable":
            # netmiko lancom_lcossx5.py session_preparation: enable(enable_pattern="#")
            self.mode = "priv"
            return None
        if word in ("exit", "logout", "quit"):
            return False
        if word == "show" and len(args) > 1 and _match(args[1], ("version",)) == "version":
            self.out(self.show_version())
            return None
        self.invalid(line, 0 if word is None else 1)
        return None

    async def in_priv(self, line: str, args: list[str]) -> bool | None:
        word = _match(args[0], ("enable", "disable", "exit", "logout", "quit", "terminal", "show",
                                "configure", "write", "copy", "boot", "reload", "clear"))
        if word is None:
            self.invalid(line, 0)
            return None
        if word == "enable":
            return None
        if word == "disable":
            self.mode = "user"
            return None
        if word in ("exit", "logout", "quit"):
            # netmiko lancom_lcossx5.py cleanup(): "logout"
            return False
        if word == "terminal":
            # netmiko disable_paging(): "terminal length 0". "terminal width" does
            # not exist on LCOS SX 5 (netmiko PR #3670).
            if len(args) == 3 and _match(args[1], ("length",)) and args[2].isdigit() and int(args[2]) <= 512:
                return None
            self.invalid(line, 1 if len(args) < 2 or not _match(args[1], ("length",)) else 2)
            return None
        if word == "configure":
            # netmiko cisco_base_connection.py config_mode(): "configure terminal";
            # LCOS SX 5 scripts use plain "configure".
            if len(args) == 1 or (len(args) == 2 and _match(args[1], ("terminal",))):
                self.mode = "config"
                return None
            self.invalid(line, 1)
            return None
        if word == "show":
            return await self.show(line, args)
        if word == "write":
            return await self.cmd_write(line, args)
        if word == "copy":
            return await self.cmd_copy(line, args)
        if word == "boot":
            return await self.cmd_boot(line, args)
        if word == "reload":
            return await self.cmd_reload(line, args)
        if word == "clear":
            # LCOS SX 5 "clear config" (+ y): back to factory settings (running config).
            if len(args) == 2 and _match(args[1], ("config",)):
                answer = await self.ask("\nAre you sure you want to clear the configuration? (y/n) ")
                if answer.lower().startswith("y"):
                    self.device.state["running"] = self.device.default_config()
                    self.out("\nClearing configuration. Please wait for login prompt.\n")
                return None
            self.invalid(line, 1)
            return None
        return None

    async def cmd_write(self, line: str, args: list[str]) -> None:
        # netmiko lancom_lcossx5.py save_config(): "write memory confirm"; without
        # "confirm" the CLI asks first (FASTPATH wording).
        if len(args) < 2 or _match(args[1], ("memory",)) != "memory":
            self.invalid(line, 1)
            return
        if len(args) == 3 and _match(args[2], ("confirm",)):
            self.save()
            return
        if len(args) > 2:
            self.invalid(line, 2)
            return
        await self.confirm_save()

    async def confirm_save(self) -> None:
        """The save dialog of "write memory" and "copy ... startup-config"."""
        answer = await self.ask("\nThis operation may take a few minutes.\n"
                                "Management interfaces will not be available during this time.\n\n"
                                "Are you sure you want to save? (y/n) ")
        if answer.lower().startswith("y"):
            self.save()
        else:
            self.out("\nConfiguration Not Saved!\n")

    def save(self) -> None:
        self.device.state["startup"] = copy.deepcopy(self.running)
        self.out("\nConfig file 'startup-config' created successfully .\n\nConfiguration Saved!\n")

    async def cmd_copy(self, line: str, args: list[str]) -> None:
        # LCOS SX 5 scripts: "copy system:running-config nvram:startup-config" + "y".
        if len(args) == 3 and args[1].lower() == "system:running-config" and \
                args[2].lower() == "nvram:startup-config":
            await self.confirm_save()
            return
        # Firmware: "copy <http-url> {active|backup}" (FASTPATH transfer dialog).
        if len(args) == 3 and re.match(r"https?://", args[1], re.I) and _match(args[2], ("active", "backup")):
            await self.firmware_copy(args[1], _match(args[2], ("active", "backup")))
            return
        self.invalid(line, 1 if len(args) < 2 else 2)

    async def firmware_copy(self, url: str, image: str) -> None:
        host = re.sub(r"^https?://", "", url).split("/", 1)[0]
        path, _, name = ("/" + url.split("//", 1)[1].split("/", 1)[-1]).rpartition("/")
        answer = await self.ask(
            f"\nMode........................................... {url.split(':')[0].upper()}\n"
            f"Set Server IP.................................. {host}\n"
            f"Path........................................... {path or '/'}/\n"
            f"Filename....................................... {name}\n"
            f"Data Type...................................... Code\n"
            f"Destination Filename........................... {image}\n\n"
            f"Management access will be blocked for the duration of the transfer\n"
            f"Are you sure you want to start? (y/n) ")
        if not answer.lower().startswith("y"):
            self.out("\nFile transfer cancelled!\n")
            return
        self.out("\n\nFile transfer in progress. Management access will be blocked for the duration "
                 "of the transfer. Please wait...\n")
        try:
            data = await http_get(url)
        except Exception as exc:  # noqa: BLE001
            self.out(f"\nFile transfer failed! ({exc})\n")
            return
        info = parse_firmware(data)
        model = self.device.model
        if info is None or (info["device_type"] and info["device_type"].lower() != model.lower()):
            self.out("\nFile transfer failed! Invalid image file.\n")
            return
        if self.device.faults.firmware_fail:
            self.out("\nFile transfer failed! Error writing the image to flash.\n")
            return
        self.device.state["images"][image] = {"version": info["version"], "date": info["date"]}
        self.out("\nFile transfer operation completed successfully.\n")

    async def cmd_boot(self, line: str, args: list[str]) -> None:
        # FASTPATH dual image: "boot system {active|backup}" picks the image for
        # the next start.
        if len(args) == 3 and _match(args[1], ("system",)) and _match(args[2], ("active", "backup")):
            image = _match(args[2], ("active", "backup"))
            if not self.device.state["images"].get(image):
                self.out(f"\nImage {image} is not present.\n")
                return
            self.device.state["next_boot"] = image
            self.out(f"Activating image {image} ..\n")
            return
        self.invalid(line, 1 if len(args) < 2 else 2)

    async def cmd_reload(self, line: str, args: list[str]) -> None:
        # FASTPATH "reload": confirm, offer to save a changed configuration, restart.
        # Unsaved changes are lost (on_boot loads the startup-config).
        if len(args) > 1:
            self.invalid(line, 1)
            return
        if self.running != self.device.state["startup"]:
            answer = await self.ask("\nAre you sure you would like to reset the system? (y/n) ")
            if not answer.lower().startswith("y"):
                self.out("\nSystem not reset.\n")
                return
            save = await self.ask("\nSystem configuration has changed. Would you like to save them now? (y/n) ")
            if save.lower().startswith("y"):
                self.save()
            else:
                self.out("\nConfiguration Not Saved!\n")
        else:
            answer = await self.ask("\nAre you sure you would like to reset the system? (y/n) ")
            if not answer.lower().startswith("y"):
                self.out("\nSystem not reset.\n")
                return
        self.out("\nSystem will now restart!\n")
        self.device.reboot()

    # -- show ---------------------------------------------------------------------------
    async def show(self, line: str, args: list[str]) -> None:
        # Privileged EXEC "show": version (netmiko's first command on a session),
        # running-/startup-config (the backup), vlan, interfaces status, sysinfo, poe.
        if len(args) < 2:
            self.invalid(line, 1)
            return
        what = _match(args[1], ("version", "running-config", "startup-config", "vlan", "interfaces",
                                "sysinfo", "poe"))
        if what == "version" and len(args) == 2:
            self.out(self.show_version())
        elif what == "running-config" and len(args) == 2:
            self.out(backup_faults(self.device, self.render_config(self.running)))
        elif what == "startup-config" and len(args) == 2:
            self.out(backup_faults(self.device, self.render_config(self.device.state["startup"])))
        elif what == "vlan" and (len(args) == 2 or (len(args) == 3 and _match(args[2], ("brief",)))):
            self.out(self.show_vlan())
        elif what == "interfaces" and len(args) >= 3 and _match(args[2], ("status",)):
            self.out(self.show_interfaces_status())
        elif what == "sysinfo" and len(args) == 2:
            self.out(self.show_sysinfo())
        elif what == "poe" and len(args) == 2:
            self.out(self.show_poe())
        else:
            self.invalid(line, 1 if what is None else 2)

    def system_description(self) -> str:
        st = self.device.state
        return f"{self.device.model}, {st['firmware_version']}, Linux 4.14.138"

    def show_version(self) -> str:
        # FASTPATH-style "show version" as on LCOS SX 5: dotted labels.
        st = self.device.state
        mac = st["mac"]
        mac = ":".join(mac[i:i + 2] for i in range(0, 12, 2)).upper()
        rows = [
            ("System Description", self.system_description()),
            ("Machine Type", self.device.model),
            ("Machine Model", self.device.model.replace("LANCOM ", "")),
            ("Serial Number", st["serial"]),
            ("Maintenance Level", "A"),
            ("Manufacturer", "0xbc00"),
            ("Burned In MAC Address", mac),
            ("Software Version", st["firmware_version"]),
            ("Operating System", "Linux 4.14.138"),
            ("Network Processing Device", "BCM56170_B0"),
        ]
        return "\nSwitch: 1\n\n" + "".join(f"{k:.<47} {v}\n" for k, v in rows) + "\n"

    def show_sysinfo(self) -> str:
        rows = [
            ("System Description", self.system_description()),
            ("System Name", self.running["hostname"]),
            ("System Location", ""),
            ("System Contact", ""),
            ("System Object ID", "1.3.6.1.4.1.2356.16"),
            ("System Up Time", _uptime_words(self.device.uptime())),
            ("Current SNTP Synchronized Time", "Not Synchronized"),
        ]
        return "\n" + "".join(f"{k:.<47} {v}\n" for k, v in rows) + "\n"

    def show_vlan(self) -> str:
        lines = ["", "VLAN ID VLAN Name                        VLAN Type",
                 "------- -------------------------------- ---------"]
        for vid in sorted(self.running["vlans"], key=int):
            name = self.running["vlans"][vid]
            lines.append(f"{int(vid):<7} {name:<32} {'Default' if int(vid) == 1 else 'Static'}")
        return "\n".join(lines) + "\n\n"

    def show_interfaces_status(self) -> str:
        lines = ["", "Port       Name                     Link    VLAN  PoE",
                 "---------  -----------------------  ------  ----  --------"]
        for port, cfg in self.running["interfaces"].items():
            link = "Down" if cfg["shutdown"] else "Up"
            poe = ("Enable" if cfg["poe"] else "Disable") if cfg["poe"] is not None else "n/a"
            lines.append(f"{port:<10} {cfg['description'][:23]:<23}  {link:<6}  {cfg['pvid']:<4}  {poe}")
        return "\n".join(lines) + "\n\n"

    def show_poe(self) -> str:
        lines = ["", "Intf     Admin   Priority  Limit (mW)",
                 "-------  ------  --------  ----------"]
        for port, cfg in self.running["interfaces"].items():
            if cfg["poe"] is None:
                continue
            limit = str(cfg["poe_limit"]) if cfg["poe_limit"] else "Class"
            lines.append(f"{port:<7}  {'Enable' if cfg['poe'] else 'Disable':<6}  {cfg['poe_priority']:<8}  {limit}")
        return "\n".join(lines) + "\n\n"

    def render_config(self, cfg: dict[str, Any]) -> str:
        # FASTPATH running-config layout: "!" header lines, "vlan database"
        # block, "configure" block with global settings and one block per
        # interface with non-default settings, closed by "exit".
        st = self.device.state
        out = [
            "!Current Configuration:",
            "!",
            f'!System Description "{self.system_description()}"',
            f'!System Software Version "{st["firmware_version"]}"',
            f'!System Up Time          "{_uptime_words(self.device.uptime())}"',
            "!Current SNTP Synchronized Time: SNTP Client Mode Is Disabled",
            "!",
        ]
        extra = sorted((int(v) for v in cfg["vlans"] if int(v) != 1))
        if extra:
            out += ["vlan database", f"vlan {_compress(extra)}"]
            out += [f'vlan name {v} "{cfg["vlans"][str(v)]}"' for v in extra if cfg["vlans"][str(v)]]
            out += ["exit", ""]
        out += ["configure", f'hostname "{cfg["hostname"]}"']
        for h in cfg["syslog"]["hosts"]:
            out.append(f"logging host {h['host']} ipv4 {h['port']} {h['severity']}")
        if cfg["syslog"]["enabled"]:
            out.append("logging syslog")
        out += ["line console", "exit", "", "line telnet", "exit", "", "line ssh", "exit", "!"]
        for port, i in cfg["interfaces"].items():
            body = []
            if i["description"]:
                body.append(f"description '{i['description']}'")
            if i["shutdown"]:
                body.append("shutdown")
            if i["pvid"] != 1:
                body.append(f"vlan pvid {i['pvid']}")
            if i["include"]:
                body.append(f"vlan participation include {_compress(i['include'])}")
            if i["exclude"]:
                body.append(f"vlan participation exclude {_compress(i['exclude'])}")
            if i["tagged"]:
                body.append(f"vlan tagging {_compress(i['tagged'])}")
            if i["poe"] is False:
                body.append("no poe")
            if i["poe"] is not None and i["poe_priority"] != "low":
                body.append(f"poe priority {i['poe_priority']}")
            if i["poe_limit"]:
                body.append(f"poe power limit user-defined {i['poe_limit']}")
            if body:
                out += [f"interface {port}"] + body + ["exit", ""]
        out += ["exit", ""]
        return "\n".join(out)

    # -- Global Config ------------------------------------------------------------------
    async def in_config(self, line: str, args: list[str]) -> bool | None:
        # In config mode LCOS SX 5 takes no exec commands (netmiko lancom_lcossx5.py).
        neg = args[0].lower() == "no"
        words = args[1:] if neg else args
        if not words:
            self.invalid(line, 1)
            return None
        off = 1 if neg else 0
        word = _match(words[0], ("exit", "end", "hostname", "vlan", "interface", "logging"))
        if word is None:
            self.invalid(line, off)
            return None
        if word in ("exit", "end") and not neg:
            self.mode = "priv"
            return None
        if word == "hostname" and not neg and len(words) == 2 and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", words[1]):
            self.running["hostname"] = words[1]
            return None
        if word == "vlan" and not neg and len(words) == 2 and _match(words[1], ("database",)):
            self.mode = "vlan"
            return None
        if word == "interface" and not neg and len(words) == 2:
            ports = self.device.parse_ports(words[1])
            if ports is None:
                self.invalid(line, 1)
                return None
            self.ifaces, self.if_label, self.mode = ports, words[1], "interface"
            return None
        if word == "logging":
            return self.cfg_logging(line, words, neg, off)
        self.invalid(line, off + 1)
        return None

    def cfg_logging(self, line: str, words: list[str], neg: bool, off: int) -> None:
        # FASTPATH syslog: "logging host <ip> [ipv4] [port] [severity]",
        # "logging syslog"; "no" forms remove / disable.
        sub = _match(words[1], ("host", "syslog")) if len(words) > 1 else None
        syslog = self.running["syslog"]
        if sub == "syslog" and len(words) == 2:
            syslog["enabled"] = not neg
            return None
        if sub == "host" and len(words) >= 3:
            host = words[2]
            if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", host):
                self.invalid(line, off + 2)
                return None
            syslog["hosts"] = [h for h in syslog["hosts"] if h["host"] != host]
            if neg:
                return None
            rest = words[3:]
            if rest and _match(rest[0], ("ipv4",)):
                rest = rest[1:]
            port, severity = 514, "info"
            if rest:
                if not rest[0].isdigit() or not 1 <= int(rest[0]) <= 65535:
                    self.invalid(line, off + len(words) - len(rest))
                    return None
                port, rest = int(rest[0]), rest[1:]
            levels = ("emergency", "alert", "critical", "error", "warning", "notice", "info", "debug")
            if rest:
                severity = _match(rest[0], levels)
                if severity is None or len(rest) > 1:
                    self.invalid(line, off + len(words) - len(rest))
                    return None
            syslog["hosts"].append({"host": host, "port": port, "severity": severity})
            return None
        self.invalid(line, off + 1)
        return None

    # -- VLAN database --------------------------------------------------------------------
    async def in_vlan(self, line: str, args: list[str]) -> bool | None:
        # FASTPATH "vlan database": "vlan <list>", "vlan name <id> <name>",
        # "no vlan <list>", "exit".
        neg = args[0].lower() == "no"
        words = args[1:] if neg else args
        off = 1 if neg else 0
        word = _match(words[0], ("vlan", "exit", "end")) if words else None
        if word in ("exit", "end") and not neg:
            self.mode = "config" if word == "exit" else "priv"
            return None
        if word != "vlan" or len(words) < 2:
            self.invalid(line, off + (1 if word else 0))
            return None
        vlans = self.running["vlans"]
        if _match(words[1], ("name",)) == "name":
            if len(words) < 3 or not words[2].isdigit() or words[2] not in vlans:
                self.invalid(line, off + 2)
                return None
            if neg:
                vlans[words[2]] = "default" if words[2] == "1" else ""
                return None
            name = " ".join(words[3:]).strip('"')
            if not re.fullmatch(r"[A-Za-z0-9_.\- ]{1,32}", name):
                self.invalid(line, off + 3)
                return None
            vlans[words[2]] = name
            return None
        ids = _vlan_list(words[1]) if len(words) == 2 else None
        if ids is None:
            self.invalid(line, off + 1)
            return None
        for vid in ids:
            if neg:
                if vid != 1:
                    vlans.pop(str(vid), None)
                    for cfg in self.running["interfaces"].values():
                        for key in ("include", "exclude", "tagged"):
                            if vid in cfg[key]:
                                cfg[key].remove(vid)
            else:
                vlans.setdefault(str(vid), "")
        return None

    # -- Interface config -------------------------------------------------------------------
    async def in_interface(self, line: str, args: list[str]) -> bool | None:
        # Interface config ("interface 1/0/1" or a range "1/0/1-1/0/52", as in the
        # LCOS SX 5 scripts): description, shutdown, vlan ..., poe ...
        neg = args[0].lower() == "no"
        words = args[1:] if neg else args
        off = 1 if neg else 0
        word = _match(words[0], ("exit", "end", "description", "shutdown", "vlan", "poe")) if words else None
        if word in ("exit", "end") and not neg:
            self.mode = "config" if word == "exit" else "priv"
            return None
        cfgs = [self.running["interfaces"][p] for p in self.ifaces]
        if word == "description":
            text = line.split(None, 2 if not neg else 3)[-1].strip("'\"") if len(words) > 1 else ""
            if not neg and not text:
                self.invalid(line, off + 1)
                return None
            for cfg in cfgs:
                cfg["description"] = "" if neg else text[:64]
            return None
        if word == "shutdown" and len(words) == 1:
            for cfg in cfgs:
                cfg["shutdown"] = not neg
            return None
        if word == "vlan":
            return self.if_vlan(line, words, neg, off, cfgs)
        if word == "poe":
            return self.if_poe(line, words, neg, off, cfgs)
        self.invalid(line, off + (1 if word else 0))
        return None

    def if_vlan(self, line: str, words: list[str], neg: bool, off: int, cfgs: list[dict]) -> None:
        # FASTPATH port VLANs: "vlan pvid <id>", "vlan participation
        # {include|exclude|auto} <list>", "[no] vlan tagging <list>".
        sub = _match(words[1], ("pvid", "participation", "tagging")) if len(words) > 1 else None
        vlans = self.running["vlans"]
        if sub == "pvid" and len(words) == 3 and words[2].isdigit() and words[2] in vlans:
            for cfg in cfgs:
                cfg["pvid"] = 1 if neg else int(words[2])
            return None
        if sub == "participation" and len(words) == 4 and not neg:
            how = _match(words[2], ("include", "exclude", "auto"))
            ids = _vlan_list(words[3])
            if how is None or ids is None or any(str(v) not in vlans for v in ids):
                self.invalid(line, off + (2 if how is None else 3))
                return None
            for cfg in cfgs:
                for vid in ids:
                    for key in ("include", "exclude"):
                        if vid in cfg[key]:
                            cfg[key].remove(vid)
                    if how != "auto":
                        cfg[how].append(vid)
                        cfg[how].sort()
            return None
        if sub == "tagging" and len(words) == 3:
            ids = _vlan_list(words[2])
            if ids is None or any(str(v) not in vlans for v in ids):
                self.invalid(line, off + 2)
                return None
            for cfg in cfgs:
                tagged = set(cfg["tagged"])
                tagged = tagged - set(ids) if neg else tagged | set(ids)
                cfg["tagged"] = sorted(tagged)
            return None
        self.invalid(line, off + (1 if sub is None else 2))
        return None

    def if_poe(self, line: str, words: list[str], neg: bool, off: int, cfgs: list[dict]) -> None:
        # FASTPATH PoE interface commands: "poe", "no poe", "poe priority
        # {low|high|critical}", "poe power limit user-defined <mW>" /
        # "no poe power limit".
        if any(cfg["poe"] is None for cfg in cfgs):
            self.invalid(line, off)
            return None
        if len(words) == 1:
            for cfg in cfgs:
                cfg["poe"] = not neg
            return None
        sub = _match(words[1], ("priority", "power"))
        if sub == "priority":
            prio = _match(words[2], ("low", "high", "critical")) if len(words) == 3 else None
            if neg and len(words) == 2:
                prio = "low"
            if prio is None:
                self.invalid(line, off + 2)
                return None
            for cfg in cfgs:
                cfg["poe_priority"] = "low" if neg else prio
            return None
        if sub == "power" and len(words) >= 3 and _match(words[2], ("limit",)):
            if neg and len(words) == 3:
                for cfg in cfgs:
                    cfg["poe_limit"] = None
                return None
            kind = _match(words[3], ("user-defined", "class-based")) if len(words) > 3 else None
            if kind == "class-based" and len(words) == 4:
                for cfg in cfgs:
                    cfg["poe_limit"] = None
                return None
            if kind == "user-defined" and len(words) == 5 and words[4].isdigit() and \
                    3000 <= int(words[4]) <= 90000:
                for cfg in cfgs:
                    cfg["poe_limit"] = int(words[4])
                return None
            self.invalid(line, off + (3 if kind is None else 4))
            return None
        self.invalid(line, off + 1)
        return None


class LCOSSXSwitch(SSHDevice):
    """A LANCOM switch running LCOS SX 5 (CLI over SSH)."""

    vendor: ClassVar[str] = "lancom"
    role: ClassVar[str] = "switch"
    model: ClassVar[str] = "LANCOM GS-4530XP"
    session_class: ClassVar[type[CLISession]] = SX5Session
    copper_ports: ClassVar[int] = 24     # PoE ports 1/0/1-24
    total_ports: ClassVar[int] = 30      # 1/0/25-30 uplinks without PoE

    def default_config(self) -> dict[str, Any]:
        interfaces = {}
        for n in range(1, self.total_ports + 1):
            poe = True if n <= self.copper_ports else None
            interfaces[f"1/0/{n}"] = {"description": "", "shutdown": False, "pvid": 1, "include": [],
                                      "exclude": [], "tagged": [], "poe": poe, "poe_priority": "low",
                                      "poe_limit": None}
        return {"hostname": self.name, "vlans": {"1": "default"}, "interfaces": interfaces,
                "syslog": {"enabled": False, "hosts": []}}

    def initial_state(self) -> dict[str, Any]:
        running = self.default_config()
        return {
            "firmware_version": "5.20.0095",
            "firmware_date": "18.09.2024",
            "images": {"active": {"version": "5.20.0095", "date": "18.09.2024"},
                       "backup": {"version": "5.10.0142", "date": "05.03.2024"}},
            "next_boot": "active",
            "serial": self._serial("4007"),
            "mac": self._mac(),
            "running": running,
            "startup": copy.deepcopy(running),
        }

    def parse_ports(self, text: str) -> list[str] | None:
        m = re.fullmatch(r"1/0/(\d+)(?:-(?:1/0/)?(\d+))?", text)
        if not m:
            return None
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if not 1 <= lo <= hi <= self.total_ports:
            return None
        return [f"1/0/{n}" for n in range(lo, hi + 1)]

    def on_boot(self) -> None:
        st = self.state
        if st["next_boot"] == "backup":
            st["images"]["active"], st["images"]["backup"] = st["images"]["backup"], st["images"]["active"]
            st["next_boot"] = "active"
        st["firmware_version"] = st["images"]["active"]["version"]
        st["firmware_date"] = st["images"]["active"]["date"]
        # Unsaved changes are gone after a restart.
        st["running"] = copy.deepcopy(st["startup"])


__all__ = ["LCOSAccessPoint", "LCOSSXSwitch", "firmware_image", "parse_firmware", "ssh_host_key",
           "version_key"]
