"""Lab core: the device model every emulator builds on, fault injection and
the address plan.

Every emulated device is an instance of a `Device` subclass (one module per
vendor: ``lab/opnsense.py``, ``lab/lancom.py``, ``lab/synology.py``). All
devices of all lab practices live in one asyncio event loop in one process
(``lab/server.py``). A device owns:

* ``state``: its emulated configuration and status (firmware version,
  signature date, users, disks, ...). API calls change it; exports (backups)
  are rendered from it, so a change made through one call shows up in the next
  backup.
* ``faults``: switchable at run time through the control API
  (``lab/control.py``) or ``python -m lab fault``.
* listeners: ``start()`` opens them, ``stop()`` closes them. A reboot closes
  the listeners (clients see "connection refused", as with a real device that
  is rebooting), waits ``reboot_seconds`` and opens them again, unless the
  fault ``reboot_never_returns`` is set.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import random
import secrets
import time
from typing import Any, ClassVar

# Address plan: practice index i (0-based) -> (a, b) = divmod(i, 250);
# device role r gets 127.<ROLE_OCTET[r]>.<a>.<b + 1>. 250 * 256 practices fit.
ROLE_OCTET = {"firewall": 31, "switch": 32, "access_point": 33, "nas": 34}
CONTROL_ADDRESS = "127.30.0.1"
CONTROL_PORT = 8790


def device_address(role: str, index: int) -> str:
    a, b = divmod(index, 250)
    return f"127.{ROLE_OCTET[role]}.{a}.{b + 1}"


@dataclasses.dataclass
class Faults:
    """Fault injection switches of one device. All off by default."""

    latency: float = 0.0            # seconds added before every answer
    # share of requests answered with a temporary internal error: HTTP 500 on
    # HTTPS devices, an error line instead of the command's answer on SSH devices
    error_rate: float = 0.0
    # share of connections dropped without an answer: HTTPS requests torn down
    # after they were read (lab.https.drop), SSH sessions closed after the login
    drop_rate: float = 0.0
    truncate_backup: bool = False   # configuration download cut in half
    corrupt_backup: bool = False    # configuration download garbled
    refuse_auth: bool = False       # every login refused (401 / SSH auth fail)
    reboot_never_returns: bool = False
    firmware_fail: bool = False     # the firmware update ends with an error

    def update(self, values: dict[str, Any]) -> None:
        fields = {f.name: f for f in dataclasses.fields(self)}
        for key, value in values.items():
            if key not in fields:
                raise ValueError(f"unknown fault '{key}'; known: {', '.join(sorted(fields))}")
            current = getattr(self, key)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"fault '{key}' takes true or false, not {value!r}")
            else:
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise ValueError(f"fault '{key}' takes a number, not {value!r}") from None
                if value < 0 or (key.endswith("_rate") and value > 1):
                    raise ValueError(f"fault '{key}' out of range: {value}")
            setattr(self, key, value)

    def reset(self) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, f.default)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    async def delay(self) -> None:
        if self.latency:
            await asyncio.sleep(self.latency)

    def roll_error(self) -> bool:
        return self.error_rate > 0 and random.random() < self.error_rate

    def roll_drop(self) -> bool:
        return self.drop_rate > 0 and random.random() < self.drop_rate


class Device:
    """Base of every emulated device.

    Subclasses set ``vendor``, ``role`` and ``default_port``, fill
    ``initial_state()`` and implement ``_open_listeners()`` returning objects
    with an async ``close()`` (or ``asyncio.Server``).
    """

    vendor: ClassVar[str] = ""
    role: ClassVar[str] = ""
    model: ClassVar[str] = ""
    default_port: ClassVar[int] = 0
    protocol: ClassVar[str] = ""    # "https" or "ssh": what the site file records
    # a firewall's interfaces (or zones) of the practice VLAN and the guest VLAN: the site
    # file's ``networks.vlans[].interface`` of a lab practice (``python -m lab up``)
    lab_interfaces: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def lab_kwargs(cls, run_dir: Any, name: str) -> dict[str, Any]:
        """Constructor arguments a lab run gives this kind of device beyond
        the common ones (e.g. the landing folder of its scheduled backups)."""
        return {}

    def site_options(self) -> dict[str, Any]:
        """The device ``options:`` the generated site file gives this device."""
        return {}

    @classmethod
    def random_credentials(cls) -> tuple[str, str]:
        """A fresh login for a lab device of this kind: a random ``svc-xxxx``
        account and password; vendors whose API logs in otherwise override it
        (OPNsense: API key and secret)."""
        return f"svc-{secrets.token_hex(4)}", secrets.token_urlsafe(18)

    def __init__(self, name: str, site_id: str, address: str, port: int | None = None,
                 username: str | None = None, password: str | None = None,
                 reboot_seconds: float = 3.0) -> None:
        self.name = name
        self.site_id = site_id
        self.address = address
        self.port = port or self.default_port
        self.username = username or "admin"
        self.password = password or secrets.token_urlsafe(18)
        self.reboot_seconds = reboot_seconds
        self.faults = Faults()
        self.boot_time = time.time()
        self.state: dict[str, Any] = self.initial_state()
        self.requests = 0               # answered requests / commands, for the benchmark
        self.login_attempts = 0         # credentials received (tests: none reach a device that is not trusted)
        self._listeners: list[Any] = []
        self._reboot_task: asyncio.Task | None = None
        self.up = False

    # -- to be provided by vendors -------------------------------------------------
    def initial_state(self) -> dict[str, Any]:
        return {}

    async def _open_listeners(self) -> list[Any]:
        raise NotImplementedError

    def on_boot(self) -> None:
        """Called when a reboot completes: apply a staged firmware, etc."""

    def on_faults(self) -> None:
        """Called after faults were switched (control API, contract suite): a
        device whose fault only shows in something it produces on its own
        (a scheduled backup) produces it now."""

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        if not self.up:
            self._listeners = await self._open_listeners()
            self.up = True

    async def stop(self) -> None:
        listeners, self._listeners = self._listeners, []
        self.up = False
        for listener in listeners:
            close = listener.close()
            if asyncio.iscoroutine(close):
                await close
            wait_closed = getattr(listener, "wait_closed", None)
            if wait_closed is not None:
                try:
                    await asyncio.wait_for(wait_closed(), 2)
                except (asyncio.TimeoutError, Exception):  # noqa: BLE001 - best effort on shutdown
                    pass

    def reboot(self, delay: float = 0.5) -> None:
        """Schedule a reboot: answer the current request, then go down."""
        if self._reboot_task is None or self._reboot_task.done():
            self._reboot_task = asyncio.get_running_loop().create_task(self._reboot(delay))

    @property
    def rebooting(self) -> bool:
        return self._reboot_task is not None and not self._reboot_task.done()

    async def _reboot(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.stop()
        if self.faults.reboot_never_returns:
            return
        await asyncio.sleep(self.reboot_seconds)
        self.on_boot()
        self.boot_time = time.time()
        await self.start()

    def uptime(self) -> int:
        return int(time.time() - self.boot_time)

    def check_credentials(self, username: str | None, password: str | None) -> bool:
        self.login_attempts += 1
        if self.faults.refuse_auth:
            return False
        return (secrets.compare_digest(str(username or ""), self.username)
                and secrets.compare_digest(str(password or ""), self.password))

    # -- reporting -------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name, "site": self.site_id, "vendor": self.vendor, "role": self.role,
            "model": self.model, "address": self.address, "port": self.port,
            "protocol": self.protocol, "up": self.up, "rebooting": self.rebooting,
            "uptime": self.uptime(), "requests": self.requests, "login_attempts": self.login_attempts,
            "firmware": self.state.get("firmware_version"),
            "faults": {k: v for k, v in self.faults.as_dict().items() if v},
        }


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
