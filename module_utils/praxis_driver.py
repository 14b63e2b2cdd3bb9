# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The device driver contract (docs/architecture.md, "The data path", drivers).

One driver file per vendor (``praxis_driver_<vendor>.py``) subclasses
``Driver`` and speaks the vendor's protocol. Every driver offers the same
small set of operations, so the modules and action plugins above stay
vendor-neutral:

``facts()``
    normalized facts and telemetry (see ``FACT_KEYS``).
``export_config()`` / ``validate_config(content)``
    the full configuration as bytes, and the check that a copy parses as the
    vendor's format (raises ``ValueError`` naming what is wrong).
``firmware_status()`` / ``start_firmware_update()`` / ``wait_until_back()``
    installed and offered version, start the update, wait for the reboot.
``update_signatures()``
    download security signatures where the vendor has them.
``apply_settings(settings, check_mode)``
    make a vendor-neutral settings fragment (``SETTINGS_KEYS``) true.

Errors are ``DriverError`` subclasses whose message names the device and
never contains a secret; ``retry()`` repeats transient failures (connection
refused or dropped, HTTP 5xx) a bounded number of times. ``connection_error()``
tells the causes of a failed connection apart (login refused, connection
refused, dropped, timeout, host key or certificate not the recorded one);
the device's identity is checked before any credential is sent
(``praxis_identity``, docs/device-identity.md).
"""

from __future__ import annotations

import base64
import dataclasses
import errno
import http.client
import importlib
import json
import re
import socket
import ssl
import time
from typing import Any, Callable, ClassVar, TypeVar
from urllib.parse import urlencode

ROLES = ("firewall", "switch", "access_point", "nas")

# The driver modules, one per vendor (docs/drivers.md). Adding a vendor is one
# entry here and its file ``module_utils/<name>.py``; everything that needs to
# know the vendors (site validation, schema, network plan, lab, docs) reads
# ``registry()``.
DRIVER_MODULES = (
    "praxis_driver_opnsense",
    "praxis_driver_lancom",
    "praxis_driver_synology",
    "praxis_driver_linux",
    "praxis_driver_sophos",
    "praxis_driver_fortigate",
)

# What a driver can do; each is offered unless the driver names it in ``not_offered``.
CAPABILITIES = ("facts", "config_export", "firmware", "signatures", "settings")
PROTOCOLS = ("https", "ssh")

# The keys ``Driver.facts()`` returns; a driver leaves a value None when the
# device does not report it (e.g. an access point has no disks).
FACT_KEYS = (
    "hostname", "model", "serial", "firmware_version", "uptime_seconds",
    "cpu_percent", "memory_percent", "temperature_c", "disks", "volumes",
    "signature_date",
)
# disks: [{"id", "model", "status" (normal|warning|failing|crashed), "smart" (normal|warning|failing),
#          "temperature_c"}]; volumes: [{"id", "status" (normal|degraded|crashed), "used_percent"}]


def facts_record(**known: Any) -> dict[str, Any]:
    """A ``facts()`` result: the values a device reports, None for the other
    ``FACT_KEYS``; a key outside the contract is a programming error."""
    unknown = set(known) - set(FACT_KEYS)
    if unknown:
        raise ValueError(f"not fact keys: {', '.join(sorted(unknown))}")
    return {key: known.get(key) for key in FACT_KEYS}


# Keys of a settings fragment; which ones a role fills depends on the device role.
SETTINGS_KEYS = (
    "rules",      # firewall: [{"description", "action", "interface", "direction", "protocol",
                  #             "source_net", "destination_net", "destination_port", "sequence"}]
    "syslog",     # all: [{"host", "port", "transport" (udp|tcp), "description"}]
    "vlans",      # switch: [{"id", "name"}]; access point: not used
    "ports",      # switch: [{"port", "vlans": [ids], "pvid", "poe" (bool)}]
    "wlans",      # access point: [{"ssid", "vlan", "encryption" (wpa3|wpa2-wpa3), "psk"}]
    "users",      # nas: [{"name", "description", "email", "password", "state" (present|absent)}]
)

# The description prefix that marks an item (rule, syslog server, object) as managed by praxisops
# on a firewall; items without it are the practice's own and never changed.
MANAGED_PREFIX = "praxisops: "


def settings_list(target: "Target", items: Any, key: str) -> list[Any]:
    """``settings.<key>`` checked to be a list (the error names the field)."""
    if not isinstance(items, list):
        raise DriverError(target, f"settings.{key} must be a list, got {type(items).__name__}")
    return items


def managed_name(target: "Target", item: Any, where: str, seen: set[str]) -> str:
    """The name of a managed settings item: its ``description`` without MANAGED_PREFIX, required
    and unique among ``seen`` (added to it); errors name the field (``where``)."""
    if not isinstance(item, dict):
        raise DriverError(target, f"{where} must be a mapping, got {type(item).__name__}")
    name = str(item.get("description") or "").strip()
    if name.startswith(MANAGED_PREFIX):
        name = name[len(MANAGED_PREFIX):].strip()
    if not name:
        raise DriverError(target, f"{where}.description is required (it identifies the managed item)")
    if name in seen:
        raise DriverError(target, f"{where}.description {name!r} is used twice")
    seen.add(name)
    return name


# The keys of one ``syslog`` entry (see SETTINGS_KEYS); ``syslog_server()`` checks them.
SYSLOG_KEYS = ("host", "port", "transport", "description")


def syslog_server(target: "Target", item: Any, where: str) -> dict[str, Any]:
    """One entry of ``settings.syslog`` checked for every driver alike: a mapping of
    SYSLOG_KEYS with a host, transport udp or tcp (default udp) and a port 1-65535 (default
    514; 0 is refused, not read as missing). Returns ``{"host", "port", "transport"}``;
    errors name the field (``where``, e.g. ``settings.syslog[0]``)."""
    if not isinstance(item, dict):
        raise DriverError(target, f"{where} must be a mapping, got {type(item).__name__}")
    unknown = sorted(set(item) - set(SYSLOG_KEYS))
    if unknown:
        raise DriverError(target, f"{where}: unknown keys {', '.join(unknown)}")
    host = str(item.get("host") or "").strip()
    if not host:
        raise DriverError(target, f"{where}.host is required")
    transport = str(item.get("transport") or "udp").strip().lower()
    if transport not in ("udp", "tcp"):
        raise DriverError(target, f"{where}.transport must be udp or tcp, got {item.get('transport')!r}")
    raw = item.get("port")
    try:
        port = 514 if raw in (None, "") else int(raw)
    except (TypeError, ValueError):
        raise DriverError(target, f"{where}.port must be a number, got {raw!r}") from None
    if isinstance(raw, bool) or not 1 <= port <= 65535:
        raise DriverError(target, f"{where}.port must be 1-65535, got {raw!r}")
    return {"host": host, "port": port, "transport": transport}


SECRET_MASK = "********"  # noqa: S105 - the mask, not a secret
T = TypeVar("T")


class DriverError(Exception):
    """A device operation failed. ``kind`` tells the caller what happened:
    unreachable, auth, timeout, protocol, device, unsupported."""

    kind = "device"
    transient = False

    def __init__(self, target: "Target | None", message: str) -> None:
        prefix = f"{target.label}: " if target is not None else ""
        super().__init__(prefix + message)
        self.target = target


class Unreachable(DriverError):
    kind = "unreachable"
    transient = True


class Timeout(DriverError):
    kind = "timeout"
    transient = True


class ServerError(DriverError):
    """The device answered with a temporary server error (HTTP 5xx, or an SSH
    CLI's error line saying the device is busy for the moment)."""
    kind = "device"
    transient = True


class ConnectionRefused(Unreachable):
    """The device's address answered, but nothing listens on the port (TCP reset
    on connect): the service is down, the device is rebooting or the port is wrong."""
    kind = "refused"


class ConnectionDropped(Unreachable):
    """A session was opened and then closed or reset by the other side."""
    kind = "dropped"


class AuthFailed(DriverError):
    kind = "auth"


class IdentityError(DriverError):
    """The device's identity (SSH host key, TLS certificate) is not the one
    recorded for it, or none is recorded. Raised before any credential is
    sent; never transient."""
    kind = "identity"


class IdentityUnknown(IdentityError):
    kind = "identity_unknown"


class HostKeyMismatch(IdentityError):
    kind = "host_key_mismatch"


class TLSMismatch(IdentityError):
    kind = "tls_mismatch"


class TLSUntrusted(DriverError):
    """The TLS certificate does not validate against the trusted CAs."""
    kind = "tls_untrusted"


class ProtocolError(DriverError):
    kind = "protocol"


class Unsupported(DriverError):
    kind = "unsupported"


@dataclasses.dataclass
class Target:
    """Where and how to reach one device. ``password`` holds the secret (an
    OPNsense API secret, an SSH or DSM password); it is left out of repr."""

    site: str
    name: str
    vendor: str
    role: str
    address: str
    port: int | None = None
    model: str = ""
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    private_key_file: str | None = None
    validate_certs: bool = True
    ca_path: str | None = None
    timeout: float = 20.0
    retries: int = 3
    retry_delay: float = 1.0
    # Vendor-specific inputs, e.g. ``firmware``: the provider's catalog entry
    # for this model ``{"version", "url", "date"}`` (LANCOM loads images by URL).
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    # The pinned TLS certificate of the site file (``tls_fingerprint``, "SHA256:<base64>").
    tls_fingerprint: str | None = None
    # Where the device's SSH host key / TLS certificate is checked and recorded
    # (``praxis_identity.IdentityStore``); without one, nothing is trusted that
    # is not pinned explicitly (known_hosts, ``tls_fingerprint``).
    identity: Any = dataclasses.field(default=None, repr=False, compare=False)

    @property
    def host(self) -> str:
        """The inventory host name, ``<site>-<device>``."""
        return f"{self.site}-{self.name}"

    @property
    def label(self) -> str:
        where = self.address if self.port is None else f"{self.address}:{self.port}"
        return f"{self.host} ({self.vendor} {self.role} at {where})"

    def scrub(self, text: str) -> str:
        """``text`` with the secret replaced, for messages built from device output."""
        if self.password and len(self.password) >= 4:
            text = text.replace(self.password, SECRET_MASK)
        return text


def error_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during, innermost last."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _refused(chain: list[BaseException]) -> bool:
    for exc in chain:
        if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
            return True
        nested = getattr(exc, "errors", None)   # paramiko NoValidConnectionsError: {address: OSError}
        if isinstance(nested, dict) and nested and all(
                isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED
                for e in nested.values()):
            return True
    return False


_DROPPED_TYPES = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError, EOFError,
                  http.client.RemoteDisconnected, http.client.IncompleteRead, ssl.SSLEOFError)
_DROPPED_TEXTS = ("transport shut down or saw EOF", "SSH session not active", "the device closed the session",
                  "Connection reset by peer", "Socket is closed", "EOF during negotiation",
                  "Unable to open channel", "Channel closed")
_AUTH_TYPES = {"AuthenticationException", "BadAuthenticationType", "PartialAuthentication",
               "NetmikoAuthenticationException"}
_TIMEOUT_TYPES = {"ReadTimeout"}


def connection_error(target: Target, exc: BaseException, what: str, protocol: str = "connection") -> DriverError:
    """The contract error for a failure below the device protocol (socket, TLS,
    SSH library), so that each cause reaches the technician as what it is:
    connection refused (nothing listens: device down, restarting, wrong port),
    dropped (the device closed or reset an open session), timeout, no route,
    login refused, host key or certificate not the recorded one."""
    chain = error_chain(exc)
    for inner in chain:
        if isinstance(inner, DriverError):
            return inner
    text = target.scrub(" ".join(str(e) for e in chain)).strip()
    first = (target.scrub(str(exc)).strip().splitlines() or [type(exc).__name__])[0].strip() or type(exc).__name__
    names = {type(e).__name__ for e in chain}
    port = target.port or "default"
    dropped = any(isinstance(e, _DROPPED_TYPES) for e in chain) or any(t in text for t in _DROPPED_TEXTS)
    if "BadHostKeyException" in names:
        bad = next(e for e in chain if type(e).__name__ == "BadHostKeyException")
        return HostKeyMismatch(target, f"{protocol} during {what}: the SSH host key is not the recorded one "
                                       f"({getattr(bad, 'key', None) and bad.key.get_name()}); nothing was sent")
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in (exc, *chain)):
        verify = next(e for e in chain if isinstance(e, ssl.SSLCertVerificationError))
        return TLSUntrusted(target, f"TLS certificate not trusted during {what}: "
                                    f"{getattr(verify, 'verify_message', None) or verify}; "
                                    "nothing was sent")
    if names & _AUTH_TYPES and not dropped:
        return AuthFailed(target, f"{protocol} login as {target.username!r} refused during {what}; "
                                  f"check the vault credentials of {target.host}")
    if _refused(chain):
        return ConnectionRefused(target, f"{what}: connection refused on port {port}: nothing listens there "
                                         "(device down or restarting, service off, or wrong port)")
    if any(isinstance(e, (socket.timeout, TimeoutError)) for e in chain) or names & _TIMEOUT_TYPES:
        return Timeout(target, f"no answer within {target.timeout:g} s during {what}")
    if dropped:
        # the cause itself, not a wrapper's words (netmiko reports a drop during the login as
        # "Authentication to device failed.")
        cause = next((e for e in chain if isinstance(e, _DROPPED_TYPES)), None)
        if cause is not None:
            detail = f"{type(cause).__name__}: {target.scrub(str(cause)).strip() or 'connection closed'}"
        else:
            detail = next(t for t in _DROPPED_TEXTS if t in text)
        return ConnectionDropped(target, f"{what}: the device closed the {protocol} session ({detail}); "
                                         "not a login problem")
    return Unreachable(target, f"{what}: {protocol} failed ({type(exc).__name__}: {first})")


def retry(target: Target, what: str, func: Callable[[], T], *, sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``func``; repeat it on transient errors up to ``target.retries``
    times in all with a growing pause, then raise the last error with the
    number of attempts added. Authentication and protocol errors are raised
    at once."""
    attempts = max(1, int(target.retries))
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except DriverError as exc:
            if not exc.transient or attempt == attempts:
                if exc.transient and attempts > 1:
                    raise type(exc)(None, f"{exc} (gave up on {what} after {attempts} attempts)") from exc
                raise
            sleep(target.retry_delay * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


class Driver:
    """Base class of the vendor drivers. Subclasses declare what they are
    (the ClassVars below, docs/drivers.md) and implement the operations of the
    capabilities they offer; a capability in ``not_offered`` raises
    ``Unsupported`` with the declared reason, naming the device."""

    vendor: ClassVar[str] = ""
    # human name for docs and reports, e.g. "OPNsense"
    title: ClassVar[str] = ""
    # device roles served (ROLES)
    roles: ClassVar[tuple[str, ...]] = ()
    # what the site file records and identity pinning uses: "https" or "ssh"
    protocol: ClassVar[str] = ""
    default_port: ClassVar[int] = 0
    # capability (CAPABILITIES) -> plain-English reason it is not offered; every other one is
    not_offered: ClassVar[dict[str, str]] = {}
    # The SETTINGS_KEYS this driver can make true, per device role.
    settings_supported: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Vendor options a site file may give per device (``options:``), read from Target.options:
    # name -> one-line description. The site validation refuses any other name.
    options: ClassVar[dict[str, str]] = {}
    # The device is an SSH host Ansible itself could manage: the driver logs in with the
    # inventory's user, key and port (ansible_user, ansible_ssh_private_key_file, ansible_port)
    # and the vault needs no password; its vendor group gets SSH connection defaults.
    key_login: ClassVar[bool] = False
    config_suffix: ClassVar[str] = ".txt"
    # Patterns whose first group is a secret inside an exported configuration
    # (password hashes, keys, PSKs); masked in diffs (praxis_backup.mask_secrets).
    secret_patterns: ClassVar[list[re.Pattern[str]]] = []

    def __init__(self, target: Target) -> None:
        self.target = target

    def __enter__(self) -> "Driver":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the device session, if one is open."""

    @classmethod
    def offers(cls, capability: str) -> bool:
        """Whether the driver offers ``capability`` (one of CAPABILITIES)."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}; known: {', '.join(CAPABILITIES)}")
        return capability not in cls.not_offered

    def unsupported(self, what: str) -> Unsupported:
        """The error for an operation not offered: for a capability in
        ``not_offered`` with its declared reason, else naming ``what``."""
        reason = self.not_offered.get(what)
        noun = CAPABILITY_NOUNS.get(what, what)
        message = f"{noun} is not offered by {self.vendor} {self.target.role}s"
        return Unsupported(self.target, f"{message}: {reason}" if reason else message)

    # -- operations -------------------------------------------------------------------------
    def facts(self) -> dict[str, Any]:
        raise self.unsupported("facts")

    def export_config(self) -> bytes:
        raise self.unsupported("config_export")

    @classmethod
    def validate_config(cls, content: bytes) -> None:
        if not content.strip():
            raise ValueError("the configuration is empty")

    def firmware_status(self) -> dict[str, Any]:
        """``{"installed": str, "available": str | None, "reboot_required": bool}``."""
        raise self.unsupported("firmware")

    def start_firmware_update(self) -> None:
        raise self.unsupported("firmware")

    def wait_until_back(self, budget: float, *, poll: float = 2.0,
                        clock: Callable[[], float] = time.monotonic,
                        sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
        """Poll ``facts()`` until the device answers again after its reboot,
        at most ``budget`` seconds; raise ``Timeout`` naming the budget."""
        deadline = clock() + budget
        last: DriverError | None = None
        while clock() < deadline:
            self.close()
            try:
                return self.facts()
            except (Unreachable, Timeout, ServerError, ProtocolError) as exc:
                last = exc
            sleep(min(poll, max(0.0, deadline - clock())))
        detail = f" (last error: {last})" if last else ""
        raise Timeout(self.target, f"did not come back within {budget:g} s after the firmware update{detail}")

    def update_signatures(self) -> dict[str, Any]:
        """``{"changed": bool, "signature_date": "YYYY-MM-DD" | None}``."""
        raise self.unsupported("signatures")

    def apply_settings(self, settings: dict[str, Any], check_mode: bool) -> dict[str, Any]:
        """``{"changed": bool, "before": {...}, "after": {...}}`` without secrets."""
        raise self.unsupported("settings")


# How a capability is named in messages.
CAPABILITY_NOUNS = {"facts": "facts", "config_export": "configuration export", "firmware": "firmware update",
                    "signatures": "signature update", "settings": "settings"}


# -- the registry (docs/drivers.md) ---------------------------------------------------------------

class RegistryError(Exception):
    """A driver module is missing, cannot be imported or declares itself wrongly."""


@dataclasses.dataclass(frozen=True)
class VendorRecord:
    """What one vendor's driver module declares, read from its classes.
    ``classes`` maps each role to the driver class that serves it."""

    vendor: str
    title: str
    module: str
    roles: tuple[str, ...]
    protocol: str
    default_port: int
    classes: dict[str, type]
    driver: Any                     # the module's DRIVER: a class, or a function of the target
    options: dict[str, str]
    key_login: bool

    def driver_for(self, role: str) -> type:
        if role not in self.classes:
            raise ValueError(f"{self.vendor} drivers serve {', '.join(self.roles)}, not {role}")
        return self.classes[role]

    def offers(self, role: str, capability: str) -> bool:
        return self.driver_for(role).offers(capability)

    def not_offered(self, role: str) -> dict[str, str]:
        """capability -> reason for the driver of ``role``."""
        return dict(self.driver_for(role).not_offered)

    def capabilities(self, role: str) -> tuple[str, ...]:
        """The capabilities offered for ``role``, in CAPABILITIES order."""
        return tuple(c for c in CAPABILITIES if self.offers(role, c))

    def settings_supported(self, role: str) -> tuple[str, ...]:
        cls = self.driver_for(role)
        return tuple(cls.settings_supported.get(role, ())) if cls.offers("settings") else ()


def _import_driver_module(name: str) -> Any:
    """``ansible.module_utils.<name>``, else ``<name>`` on sys.path (module_utils itself)."""
    try:
        return importlib.import_module(f"ansible.module_utils.{name}")
    except ModuleNotFoundError as exc:
        if exc.name not in (f"ansible.module_utils.{name}", "ansible.module_utils", "ansible"):
            raise RegistryError(f"driver module {name} cannot be imported: it needs {exc.name}, which is not "
                                "installed") from None
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            raise RegistryError(f"driver module {name} (listed in praxis_driver.DRIVER_MODULES) is missing") \
                from None
        raise RegistryError(f"driver module {name} cannot be imported: it needs {exc.name}, which is not "
                            "installed") from None


def _declared(name: str, cls: type) -> None:
    """Refuse a driver class whose declaration is incomplete or inconsistent."""
    where = f"{name}.{cls.__name__}"
    problems = []
    for attr in ("vendor", "title", "protocol"):
        if not isinstance(getattr(cls, attr, None), str) or not getattr(cls, attr):
            problems.append(f"{attr} is not declared")
    if getattr(cls, "protocol", "") and cls.protocol not in PROTOCOLS:
        problems.append(f"protocol {cls.protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if not isinstance(getattr(cls, "default_port", None), int) or not 0 < cls.default_port < 65536:
        problems.append("default_port is not a port number")
    roles = getattr(cls, "roles", ())
    if not roles or any(role not in ROLES for role in roles):
        problems.append(f"roles {tuple(roles)!r} are not among {', '.join(ROLES)}")
    for capability in getattr(cls, "not_offered", {}):
        if capability not in CAPABILITIES:
            problems.append(f"not_offered names {capability!r}, not one of {', '.join(CAPABILITIES)}")
        elif not str(cls.not_offered[capability]).strip():
            problems.append(f"not_offered[{capability!r}] gives no reason")
    for role, keys in getattr(cls, "settings_supported", {}).items():
        if role not in roles:
            problems.append(f"settings_supported names role {role!r}, which the class does not serve")
        unknown = [key for key in keys if key not in SETTINGS_KEYS]
        if unknown:
            problems.append(f"settings_supported[{role!r}] names {', '.join(unknown)}, not SETTINGS_KEYS")
    if problems:
        raise RegistryError(f"driver {where}: " + "; ".join(problems))


def _record(name: str) -> VendorRecord:
    module = _import_driver_module(name)
    driver = getattr(module, "DRIVER", None)
    if driver is None:
        raise RegistryError(f"driver module {name} exports no DRIVER")
    declared = getattr(module, "DRIVER_CLASSES", None) or (driver,)
    if not all(isinstance(cls, type) for cls in declared):
        raise RegistryError(f"driver module {name}: DRIVER is a function, so DRIVER_CLASSES must list the classes")
    classes: dict[str, type] = {}
    for cls in declared:
        _declared(name, cls)
        for role in cls.roles:
            if role in classes:
                raise RegistryError(f"driver module {name}: role {role} is served by both "
                                    f"{classes[role].__name__} and {cls.__name__}")
            classes[role] = cls
    first = declared[0]
    for cls in declared[1:]:
        for attr in ("vendor", "title", "protocol", "default_port", "key_login"):
            if getattr(cls, attr) != getattr(first, attr):
                raise RegistryError(f"driver module {name}: {cls.__name__}.{attr} {getattr(cls, attr)!r} differs "
                                    f"from {first.__name__}.{attr} {getattr(first, attr)!r}")
    options: dict[str, str] = {}
    for cls in declared:
        options.update(cls.options)
    return VendorRecord(vendor=first.vendor, title=first.title, module=name,
                        roles=tuple(role for role in ROLES if role in classes), protocol=first.protocol,
                        default_port=first.default_port, classes=classes, driver=driver, options=options,
                        key_login=bool(first.key_login))


_REGISTRY: dict[str, VendorRecord] | None = None


def registry() -> dict[str, VendorRecord]:
    """vendor -> VendorRecord of every module in DRIVER_MODULES, in that
    order. The modules are imported on the first call, not when this module
    is; a module that is missing, lacks a dependency or declares itself
    wrongly raises RegistryError naming it."""
    global _REGISTRY  # noqa: PLW0603 - read once per process
    if _REGISTRY is None:
        records: dict[str, VendorRecord] = {}
        for name in DRIVER_MODULES:
            record = _record(name)
            if record.vendor in records:
                raise RegistryError(f"vendor {record.vendor} is declared by both {records[record.vendor].module} "
                                    f"and {name}")
            records[record.vendor] = record
        _REGISTRY = records
    return _REGISTRY


def vendor_record(vendor: str) -> VendorRecord:
    """The record of ``vendor``; ValueError naming the known vendors."""
    records = registry()
    if vendor not in records:
        raise ValueError(f"unknown vendor {vendor!r}; known: {', '.join(records)}")
    return records[vendor]


def vendors() -> tuple[str, ...]:
    return tuple(registry())


def __getattr__(name: str) -> Any:
    # VENDORS is kept for callers of the former constant; it is read from the registry on first use.
    if name == "VENDORS":
        return vendors()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def driver_class(vendor: str) -> Callable[[Target], Driver]:
    """The driver of ``vendor``: ``DRIVER`` of its module, a Driver subclass
    or a function of the target (LANCOM has one driver for LCOS and one for
    LCOS SX)."""
    return vendor_record(vendor).driver


def open_driver(target: Target) -> Driver:
    return driver_class(target.vendor)(target)


# -- HTTP(S) with keep-alive, used by the API drivers -------------------------------------------

class HTTPClient:
    """A small JSON-over-HTTPS client with one kept-alive connection, bounded
    retries on connection errors and HTTP 5xx, and errors that name the
    device. Standard library only, so it runs in any execution environment."""

    def __init__(self, target: Target, *, default_port: int = 443, basic_auth: bool = False) -> None:
        self.target = target
        self.port = target.port or default_port
        self.basic_auth = basic_auth
        self._conn: http.client.HTTPSConnection | None = None
        self._context = self._ssl_context()

    def _ssl_context(self) -> ssl.SSLContext:
        if not self.target.validate_certs:
            # the site file turned validation off: the certificate is pinned instead (_connect, check_tls)
            context = ssl._create_unverified_context()  # noqa: S323
        else:
            context = ssl.create_default_context(cafile=self.target.ca_path or None)
        return context

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json", "Connection": "keep-alive"}
        if self.basic_auth:
            token = base64.b64encode(f"{self.target.username}:{self.target.password}".encode()).decode()
            headers["Authorization"] = "Basic " + token
        return headers

    def _connect(self) -> http.client.HTTPSConnection:
        """A new connection whose certificate is checked before anything is sent:
        by the trusted CAs when validation is on, and against the pin (site file
        ``tls_fingerprint``, else the identity store) when validation is off or
        a pin is given."""
        conn = http.client.HTTPSConnection(self.target.address, self.port, timeout=self.target.timeout,
                                           context=self._context)
        try:
            conn.connect()
            if not self.target.validate_certs or self.target.tls_fingerprint:
                from ansible.module_utils.praxis_identity import check_tls

                check_tls(self.target, conn.sock.getpeercert(binary_form=True))
        except BaseException:
            conn.close()
            raise
        return conn

    def _once(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        try:
            if self._conn is None:
                self._conn = self._connect()
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
            expected = response.getheader("Content-Length")
            if response.getheader("Connection", "").lower() == "close":
                self.close()
        except DriverError:
            self.close()
            raise
        except (ConnectionError, OSError, http.client.HTTPException) as exc:
            self.close()
            raise connection_error(self.target, exc, f"{method} {path.split('?')[0]}", "HTTPS") from exc
        if expected is not None and expected.isdigit() and int(expected) != len(data):
            raise ProtocolError(self.target, f"{method} {path}: answer cut off ({len(data)} of {expected} bytes)")
        return response.status, data

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                json_body: Any = None, form: dict[str, Any] | None = None,
                ok: tuple[int, ...] = (200,)) -> tuple[int, bytes]:
        """Send one request (retried on transient failure); return status and body."""
        if params:
            path = f"{path}?{urlencode(params)}"
        headers = self._headers()
        body: bytes | None = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"

        def attempt() -> tuple[int, bytes]:
            status, data = self._once(method, path, body, headers)
            if status in (401, 403):
                raise AuthFailed(self.target, f"credentials refused (HTTP {status}) for {method} {path.split('?')[0]}; "
                                              f"check vault variable of {self.target.host}")
            if status >= 500:
                raise ServerError(self.target, f"{method} {path.split('?')[0]} answered HTTP {status}")
            if status not in ok:
                raise ProtocolError(self.target, f"{method} {path.split('?')[0]} answered HTTP {status}")
            return status, data

        return retry(self.target, f"{method} {path.split('?')[0]}", attempt)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        _status, data = self.request(method, path, **kwargs)
        try:
            return json.loads(data or b"null")
        except ValueError as exc:
            raise ProtocolError(self.target, f"{method} {path}: answer is not JSON") from exc
