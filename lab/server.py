"""The lab process: every emulated device of N practices, the lab mail server
and the control API in one asyncio event loop.

Started in the background by ``python -m lab up`` (see ``lab/__main__.py``);
it can also run in the foreground for debugging::

    python -m lab.server --sites 3 --run-dir .lab

Practice ``i`` (0-based) is ``lab%03d % (i + 1)`` and has one firewall
(``fw01``: OPNsense by default; ``--firewall sophos|fortigate`` or ``mixed``,
which rotates OPNsense, Sophos and FortiGate by practice), one LCOS SX switch
(``sw01``), one LCOS access point (``ap01``) and, except every third
practice, a Synology NAS (``nas01``). Which emulator plays a vendor's device
is ``EMULATORS``.
Addresses come from ``core.device_address``; device names are
``<site>-<device>`` (``lab001-fw01``). Every device gets random credentials.

Files in the run directory (default ``<repo>/.lab``, ``PRAXIS_LAB_DIR``
overrides):

* ``state.json``: ``status`` starting / ready / failed, pid, control URL,
  devices (name, site, vendor, role, model, address, port, protocol). Written
  atomically; removed again on a clean shutdown.
* ``credentials.json`` (mode 0600): username and password of every device;
  ``python -m lab up`` turns it into the encrypted lab vault.
* ``lab.log``: the log (the previous run's is ``lab.log.1``).
* ``lab-cert.pem`` / ``lab-key.pem``: the self-signed certificate every HTTPS
  device presents, issued for all device addresses (``ca_path`` of the site
  files); ``lab-ssh-hostkey``: the SSH host key of the LANCOM devices.
* ``mail/``: every message the lab mail server received, as ``.eml`` files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import importlib
import inspect
import json
import logging
import os
import resource
import secrets
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lab import core, tls

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("lab.server")

MAIL_ADDRESS = "127.30.0.2"
MAIL_PORT = 2525
MAIL_USER = "praxisops"
MAIL_CREDENTIALS = "_mail"    # key of the mail server's login in credentials.json
START_BATCH = 100       # devices started concurrently; keeps the listen() burst moderate


# The emulator of each vendor's device per role: (role, vendor) -> (module, class), a
# ``core.Device`` subclass in ``lab/<vendor>.py`` (docs/lab.md, docs/drivers.md). A vendor
# whose module is not there yet is refused when it is chosen, naming it.
EMULATORS: dict[tuple[str, str], tuple[str, str]] = {
    ("firewall", "opnsense"): ("lab.opnsense", "OPNsenseFirewall"),
    ("firewall", "sophos"): ("lab.sophos", "SophosFirewall"),
    ("firewall", "fortigate"): ("lab.fortigate", "FortiGateFirewall"),
    ("switch", "lancom"): ("lab.lancom", "LCOSSXSwitch"),
    ("access_point", "lancom"): ("lab.lancom", "LCOSAccessPoint"),
    ("nas", "synology"): ("lab.synology", "SynologyNAS"),
}
# --firewall: one vendor for every practice, or "mixed": these in turn by practice index
MIXED_FIREWALLS = ("opnsense", "sophos", "fortigate")
FIREWALL_CHOICES = (*sorted({v for (role, v) in EMULATORS if role == "firewall"}), "mixed")


@dataclasses.dataclass(frozen=True)
class Slot:
    """One device position of a lab practice."""

    role: str           # core.ROLE_OCTET key
    short: str          # device name inside the practice
    group: str          # devices key in the site file
    vendor: str         # default vendor of the position (the firewall's is chosen with --firewall)


LAYOUT = (
    Slot("firewall", "fw01", "firewalls", "opnsense"),
    Slot("switch", "sw01", "switches", "lancom"),
    Slot("access_point", "ap01", "access_points", "lancom"),
    Slot("nas", "nas01", "nas", "synology"),
)
MAIL_CLASS = ("lab.smtp", "LabMailServer")


class EmulatorError(Exception):
    """No emulator for a vendor (the message names it)."""


def firewall_vendor(mode: str, index: int) -> str:
    """The firewall vendor of practice ``index`` for ``--firewall mode``."""
    if mode == "mixed":
        return MIXED_FIREWALLS[index % len(MIXED_FIREWALLS)]
    if ("firewall", mode) not in EMULATORS:
        raise EmulatorError(f"no lab emulator for vendor {mode} firewalls; choose one of {', '.join(FIREWALL_CHOICES)}")
    return mode


def slot_vendor(slot: Slot, index: int, firewall: str = "opnsense") -> str:
    return firewall_vendor(firewall, index) if slot.role == "firewall" else slot.vendor


def emulator(role: str, vendor: str) -> type:
    """The emulator class of ``vendor``'s ``role`` device; EmulatorError when
    there is none or its module is missing."""
    entry = EMULATORS.get((role, vendor))
    if entry is None:
        raise EmulatorError(f"no lab emulator for vendor {vendor} ({role.replace('_', ' ')})")
    module, name = entry
    try:
        loaded = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise EmulatorError(f"no lab emulator for vendor {vendor}: {module.replace('.', '/')}.py is missing") \
            from None
    cls = getattr(loaded, name, None)
    if cls is None:
        raise EmulatorError(f"no lab emulator for vendor {vendor}: {module} has no class {name}")
    return cls


def emulators(sites: int, firewall: str = "opnsense") -> dict[tuple[str, str], type]:
    """Every emulator class a lab of ``sites`` practices needs; EmulatorError first."""
    return {(slot.role, vendor): emulator(slot.role, vendor)
            for vendor, slot in {(slot_vendor(s, i, firewall), s) for i, s in plan(sites)}}


def default_run_dir() -> Path:
    env = os.environ.get("PRAXIS_LAB_DIR")
    return Path(env).expanduser().resolve() if env else ROOT / ".lab"


def site_id(index: int) -> str:
    return f"lab{index + 1:03d}"


def has_slot(index: int, slot: Slot) -> bool:
    """Every practice has firewall, switch and AP; all but every third a NAS."""
    return slot.role != "nas" or (index + 1) % 3 != 0


def plan(sites: int) -> list[tuple[int, Slot]]:
    return [(i, slot) for i in range(sites) for slot in LAYOUT if has_slot(i, slot)]


def load_class(module: str, name: str) -> type:
    return getattr(importlib.import_module(module), name)


def write_atomic(path: Path, data: str | bytes, mode: int = 0o644) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _construct(cls: type, run_dir: Path, **kwargs: Any) -> core.Device:
    """Pass ``run_dir`` only to the classes that take it (HTTPS / SSH)."""
    params = inspect.signature(cls.__init__).parameters
    if "run_dir" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs["run_dir"] = run_dir
    return cls(**kwargs)


class StartError(Exception):
    """Devices that could not open their listeners (the message names them)."""


class Lab:
    """All devices, the mail server and the control API of one lab run."""

    def __init__(self, sites: int, run_dir: Path, reboot_seconds: float = 3.0,
                 classes: dict[str, type] | None = None, mail_class: type | None = None,
                 firewall: str = "opnsense",
                 control_address: str = core.CONTROL_ADDRESS, control_port: int = core.CONTROL_PORT,
                 mail_address: str = MAIL_ADDRESS, mail_port: int = MAIL_PORT) -> None:
        if sites < 1:
            raise ValueError("a lab needs at least one practice")
        self.sites = sites
        self.run_dir = run_dir
        self.reboot_seconds = reboot_seconds
        self.control_address, self.control_port = control_address, control_port
        self.mail_address, self.mail_port = mail_address, mail_port
        self.state_path = run_dir / "state.json"
        self.credentials_path = run_dir / "credentials.json"
        self.started_at = time.time()
        self.ready_after: float | None = None
        self.firewall = firewall
        # classes: a class per role replacing the emulators (tests); else EMULATORS
        self.overrides = dict(classes or {})
        self.classes = emulators(sites, firewall)
        self.mail_class = mail_class or load_class(*MAIL_CLASS)
        self.devices: dict[str, core.Device] = {}
        self.mail: Any = None       # lab.smtp.LabMailServer
        self._control_runner: Any = None

    @property
    def control_url(self) -> str:
        return f"http://{self.control_address}:{self.control_port}"

    # -- building ------------------------------------------------------------------
    def build(self) -> None:
        layout = plan(self.sites)
        # before any device loads it through lab/tls.py, which reuses the files it finds
        tls.ensure_certificate(self.run_dir, [*(core.device_address(slot.role, index) for index, slot in layout),
                                              self.mail_address])
        for index, slot in layout:
            site = site_id(index)
            cls = self.overrides.get(slot.role) or self.classes[(slot.role, slot_vendor(slot, index, self.firewall))]
            username, password = cls.random_credentials()
            name = f"{site}-{slot.short}"
            device = _construct(
                cls, self.run_dir,
                name=name, site_id=site,
                address=core.device_address(slot.role, index),
                username=username, password=password, reboot_seconds=self.reboot_seconds,
                **(cls.lab_kwargs(self.run_dir, name) if hasattr(cls, "lab_kwargs") else {}))
            self.devices[device.name] = device
        # STARTTLS and AUTH as at a real provider's submission server (docs/alerts.md)
        self.mail = self.mail_class(self.mail_address, self.mail_port, maildir=self.run_dir / "mail",
                                    run_dir=self.run_dir, username=MAIL_USER, password=secrets.token_urlsafe(18),
                                    starttls=True)

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        from lab import control  # aiohttp is imported only by the running lab

        t0 = time.monotonic()
        self.write_state("starting")
        self.build()
        self._write_credentials()
        # The control API first: it is what tells "the lab" from a stranger on the ports.
        self._control_runner = await control.start(self, self.control_address, self.control_port)
        await self.mail.start_async()
        devices = list(self.devices.values())
        failures: list[str] = []
        for first in range(0, len(devices), START_BATCH):
            batch = devices[first:first + START_BATCH]
            results = await asyncio.gather(*(d.start() for d in batch), return_exceptions=True)
            for device, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    failures.append(f"{device.name} on {device.address}:{device.port}: {result}")
        if failures:
            more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
            raise StartError("cannot start " + "; ".join(failures[:5]) + more)
        self.ready_after = time.monotonic() - t0
        gc.collect()
        gc.freeze()         # long-lived device objects: keep them out of every GC pass
        self.write_state("ready")
        log.info("lab ready: %d practices, %d devices in %.2f s, control %s",
                 self.sites, len(self.devices), self.ready_after, self.control_url)

    async def stop(self) -> None:
        if self._control_runner is not None:
            with contextlib.suppress(Exception):
                await self._control_runner.cleanup()
            self._control_runner = None
        devices = [d for d in self.devices.values() if d.up or d.rebooting]
        for device in self.devices.values():
            task = device._reboot_task
            if task is not None and not task.done():
                task.cancel()
        for first in range(0, len(devices), START_BATCH):
            await asyncio.gather(*(d.stop() for d in devices[first:first + START_BATCH]),
                                 return_exceptions=True)
        if self.mail is not None:
            with contextlib.suppress(Exception):
                await self.mail.stop_async()
        log.info("lab stopped")

    # -- files -----------------------------------------------------------------------
    def device_records(self) -> list[dict[str, Any]]:
        records = []
        for d in self.devices.values():
            record = {"name": d.name, "site": d.site_id, "vendor": d.vendor, "role": d.role,
                      "model": d.model, "address": d.address, "port": d.port, "protocol": d.protocol}
            if getattr(d, "lab_interfaces", ()):
                record["interfaces"] = list(d.lab_interfaces)
            options = d.site_options() if hasattr(d, "site_options") else {}
            if options:
                record["options"] = options
            records.append(record)
        return records

    def write_state(self, status: str, error: str | None = None) -> None:
        state: dict[str, Any] = {
            "status": status, "pid": os.getpid(), "sites": self.sites,
            "started_at": self.started_at, "control_url": self.control_url,
            "run_dir": str(self.run_dir), "reboot_seconds": self.reboot_seconds, "firewall": self.firewall,
        }
        if error:
            state["error"] = error
        if status == "ready":
            state.update({
                "ready_after": round(self.ready_after or 0.0, 3),
                "ca_path": str(self.run_dir / "lab-cert.pem"),
                "mail": {"address": self.mail_address, "port": self.mail_port,
                         "maildir": str(self.run_dir / "mail")},
                "devices": self.device_records(),
            })
        write_atomic(self.state_path, json.dumps(state, indent=1) + "\n")

    def _write_credentials(self) -> None:
        creds = {name: {"username": d.username, "password": d.password}
                 for name, d in self.devices.items()}
        if getattr(self.mail, "username", None):
            creds[MAIL_CREDENTIALS] = {"username": self.mail.username, "password": self.mail.password}
        write_atomic(self.credentials_path, json.dumps(creds, indent=1) + "\n", mode=0o600)

    def remove_files(self) -> None:
        for path in (self.state_path, self.credentials_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def setup_logging(run_dir: Path, verbose: bool = False) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "lab.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if sys.stderr.isatty():
        root.addHandler(logging.StreamHandler())
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    # One line per connection or request would flood the log during a fleet run.
    for noisy in ("asyncssh", "aiohttp.access", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def raise_fd_limit() -> None:
    """Every device listens on its own socket and a fleet run opens many
    connections at once: take the hard limit of open files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard))


async def serve(lab: Lab) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    starting = asyncio.create_task(lab.start())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if starting.done() and starting.exception() is not None:
        error = starting.exception()
        log.error("lab failed to start: %s", error, exc_info=None if isinstance(error, StartError) else error)
        await lab.stop()
        lab.write_state("failed", error=str(error))
        with contextlib.suppress(FileNotFoundError):
            lab.credentials_path.unlink()
        stopping.cancel()
        return 2
    if not starting.done():
        log.info("signal received during start-up; stopping")
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await starting
    else:
        await stopping
        log.info("signal received; stopping")
    stopping.cancel()
    await lab.stop()
    lab.remove_files()
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=3, help="number of lab practices (default 3)")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="state, log and TLS material (default: $PRAXIS_LAB_DIR or <repo>/.lab)")
    parser.add_argument("--reboot-seconds", type=float, default=3.0,
                        help="how long a rebooting device stays away (default 3)")
    parser.add_argument("--firewall", choices=FIREWALL_CHOICES, default="opnsense",
                        help="the practices' firewall vendor, or mixed: opnsense, sophos, fortigate in turn "
                             "(default opnsense)")
    parser.add_argument("--verbose", action="store_true", help="log every connection")
    args = parser.parse_args(argv)
    run_dir = (args.run_dir or default_run_dir()).resolve()
    setup_logging(run_dir, args.verbose)
    raise_fd_limit()
    log.info("lab starting: pid %d, %d practices, run dir %s", os.getpid(), args.sites, run_dir)
    try:
        lab = Lab(args.sites, run_dir, reboot_seconds=args.reboot_seconds, firewall=args.firewall)
    except Exception as exc:  # noqa: BLE001 - report any set-up error in state.json and the log
        log.exception("lab cannot be set up")
        state = {"status": "failed", "pid": os.getpid(), "error": f"{type(exc).__name__}: {exc}"}
        write_atomic(run_dir / "state.json", json.dumps(state) + "\n")
        return 2
    return asyncio.run(serve(lab))


if __name__ == "__main__":
    sys.exit(main())
