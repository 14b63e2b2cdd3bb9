# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Site files (SITE-01): load, validate and turn into inventory data.

A site file describes one practice. ``load_sites`` reads every site file of
an environment, validates each against ``schema/site.schema.json`` and the
rules a schema cannot express (unique device names, the pilot is a
workplace, no address used twice across sites, ...), and returns either the
complete list of sites or raises ``SiteError`` listing every problem as
``<file>: <field path>: <what is wrong>``. Nothing is returned half-done.
"""

from __future__ import annotations

import datetime as dt
import difflib
import errno
import ipaddress
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, Iterable

import yaml

from ansible.module_utils.praxis_driver import registry
from ansible.module_utils.praxis_errors import PraxisError

try:
    from ansible.module_utils.praxis_calendar import DAYS, HARD_FLOOR, CalendarError, SiteCalendar, window_hit
except ImportError:  # imported outside Ansible (tests, lab, benchmarks)
    from praxis_calendar import DAYS, HARD_FLOOR, CalendarError, SiteCalendar, window_hit  # type: ignore[no-redef]

try:
    import jsonschema
    HAS_JSONSCHEMA = True
except ImportError:  # pragma: no cover - reported on use
    jsonschema = None
    HAS_JSONSCHEMA = False

try:  # compiled validator: the fast path for valid files; jsonschema words the errors
    import fastjsonschema
except ImportError:  # pragma: no cover - jsonschema alone is slower but complete
    fastjsonschema = None

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema" / "site.schema.json"
ROLE_GROUPS = ("firewalls", "access_points", "switches", "nas", "workplaces", "servers")
NETWORK_ROLES = ("firewalls", "access_points", "switches", "nas")
ROLE_SINGULAR = {"firewalls": "firewall", "access_points": "access_point", "switches": "switch",
                 "nas": "nas", "workplaces": "workplace", "servers": "server"}
ROLE_PLURAL = {singular: plural for plural, singular in ROLE_SINGULAR.items()}
SITE_SUFFIXES = (".yml", ".yaml")
MAX_ERRORS = 50


class SiteError(PraxisError, ValueError):
    """One or more site files are invalid; ``problems`` lists them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_ERRORS]
        more = len(problems) - len(shown)
        text = "\n".join(f"  - {p}" for p in shown)
        if more:
            text += f"\n  ... and {more} more"
        super().__init__(f"{len(problems)} problem(s) in the site files:\n{text}")


# -- YAML: safe, fast, strict, bounded -----------------------------------------------
# Limits on what one site file may be. A practice with 500 devices is about
# 100 KiB and 20,000 YAML values at depth 5; anything far beyond is a mistake or
# an attack ("billion laughs": a few lines of aliases that expand to 10^9 values
# when a validator walks them), and must fail at once instead of taking
# minutes and gigabytes.
MAX_FILE_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_ALIASES = 2000
MAX_VALUES = 200_000          # YAML values after expanding every alias

try:  # libyaml's event parser: the fast path (no recursion in C, so no stack to overflow)
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - pure-Python parser, same rules
    _Parser = None


class SiteLimitError(yaml.YAMLError):
    """A site file exceeds a size limit; ``problem_mark`` is where."""

    def __init__(self, problem: str, mark=None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _BoundedComposer(yaml.composer.Composer):
    """PyYAML's composer with limits, fed by libyaml's events.

    libyaml's own composer recurses in C (a file of 100,000 '[' crashes the
    process) and hands back a graph whose aliases are shared; both are
    checked here while the graph is built: nesting depth (aliases count with
    the depth of what they stand for), number of aliases, and the number of
    values the document has once every alias is expanded. An alias to a node
    that is still open (a recursive structure) is refused too."""

    def compose_document(self):
        self._depth = 0
        self._deepest = 0
        self._values = 0
        self._alias_count = 0
        self._measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded values, height)
        return super().compose_document()

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            self._alias_count += 1
            if self._alias_count > MAX_ALIASES:
                raise SiteLimitError(f"more than {MAX_ALIASES} aliases (*name) in one file", mark)
            measured = self._measured.get(id(node))
            if measured is None:
                raise SiteLimitError("the alias refers to a value that contains it (a recursive structure)", mark)
            values, height = measured
            self._add_values(values, mark)
            self._deepen(self._depth + height, mark)
            return node
        mark = self.peek_event().start_mark
        self._depth += 1
        self._deepen(self._depth, mark)
        outer_deepest, self._deepest = self._deepest, self._depth
        before = self._values
        node = super().compose_node(parent, index)
        self._add_values(1, mark)
        height = self._deepest - self._depth + 1
        self._measured[id(node)] = (self._values - before, height)
        self._deepest = max(outer_deepest, self._deepest)
        self._depth -= 1
        return node

    def _add_values(self, count: int, mark) -> None:
        self._values += count
        if self._values > MAX_VALUES:
            raise SiteLimitError(f"the document expands to more than {MAX_VALUES} values "
                                 "(aliases that repeat aliases?)", mark)

    def _deepen(self, depth: int, mark) -> None:
        self._deepest = max(self._deepest, depth)
        if depth > MAX_DEPTH:
            raise SiteLimitError(f"nested deeper than {MAX_DEPTH} levels", mark)


if _Parser is not None:
    class _SiteLoader(_BoundedComposer, _Parser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        """Safe YAML loader (libyaml events, bounded composer, safe constructor)
        that rejects duplicate keys, accepts merge keys and reads 22:00 and
        2026-12-24 as text (YAML 1.1 would read the sexagesimal number 1320
        and a date object)."""

        def __init__(self, stream) -> None:
            _Parser.__init__(self, stream)
            _BoundedComposer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
else:  # pragma: no cover
    class _SiteLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, _BoundedComposer,  # type: ignore[no-redef]
                      yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        def __init__(self, stream) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            _BoundedComposer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)


_SiteLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if not (tag == "tag:yaml.org,2002:int" and ":" in regexp.pattern)
            and tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
}
_SiteLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"))

_MERGE_TAG = "tag:yaml.org,2002:merge"


def _construct_mapping(loader, node, deep=False):
    """Duplicate keys written in one mapping are an error; keys brought in by a
    merge key (``<<: *defaults``) may be overridden by keys written beside it,
    as YAML 1.1 defines."""
    seen: dict[Any, Any] = {}
    for key_node, _value_node in node.value:
        if key_node.tag == _MERGE_TAG:
            key: Any = "<<"
        else:
            key = loader.construct_object(key_node, deep=deep)
        try:
            first = seen.get(key)
        except TypeError:  # an unhashable key: SafeConstructor names it below
            continue
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {first + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping_plain(node, deep=deep)


_SiteLoader.construct_mapping_plain = yaml.constructor.SafeConstructor.construct_mapping  # type: ignore[attr-defined]
_SiteLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


class SiteFileError(OSError):
    """A site file that cannot be read as one: the message says why."""


_FILE_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISSOCK, "a socket"))


def _not_regular(mode: int) -> str | None:
    for test, kind in _FILE_KINDS:
        if test(mode):
            return f"is {kind}, not a regular file"
    return None if stat.S_ISREG(mode) else "is not a regular file"


def read_site_bytes(path: Path | str) -> bytes:
    """The bytes of one site file, or SiteFileError saying why not: a dangling
    or looping symbolic link, a folder, a FIFO or device (never opened, so
    nothing blocks), no permission, or more than MAX_FILE_BYTES."""
    path = os.fspath(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise SiteFileError(f"is a symbolic link to '{os.readlink(path)}', which does not exist") from None
        raise SiteFileError("does not exist (removed while reading?)") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SiteFileError("is a symbolic link that loops (it points back to itself)") from None
        raise SiteFileError(f"cannot be read: {exc.strerror}") from None
    kind = _not_regular(info.st_mode)
    if kind:
        raise SiteFileError(kind)
    if info.st_size > MAX_FILE_BYTES:
        raise SiteFileError(f"is {info.st_size} bytes; a site file may have at most {MAX_FILE_BYTES}")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except PermissionError:
        raise SiteFileError(f"cannot be read: permission denied for user id {os.geteuid()}") from None
    except OSError as exc:
        raise SiteFileError(f"cannot be read: {exc.strerror}") from None
    try:
        kind = _not_regular(os.fstat(fd).st_mode)  # replaced since the check above
        if kind:
            raise SiteFileError(kind)
        chunks, size = [], 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except SiteFileError:
        raise
    except OSError as exc:
        raise SiteFileError(f"cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise SiteFileError(f"is more than {MAX_FILE_BYTES} bytes, the most a site file may have")
    return b"".join(chunks)


def parse_yaml(data: bytes | str) -> Any:
    loader = _SiteLoader(data)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def read_yaml(path: Path | str) -> Any:
    return parse_yaml(read_site_bytes(path))


# -- formats: values checked by real parsers ----------------------------------------
# Each check returns None for a good value or says what is wrong. The schema
# names them in "format"; both validators (fastjsonschema for speed, jsonschema
# for the wording) use these same functions.
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
_DAY = re.compile(r"(?:([0-9]{4})-)?([0-9]{2})-([0-9]{2})\Z")


def _ip_problem(ip) -> str | None:
    """Why an IP address cannot be a device's (host) address, or None."""
    if ip.is_unspecified:
        return "is the unspecified address, not a host"
    if ip.is_multicast:
        return "is a multicast address, not a host"
    if ip.version == 4 and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "is the broadcast address, not a host"
    if ip.is_reserved:
        return "is in a reserved range, not a usable host address"
    return None


def check_host_address(value: str) -> str | None:
    """An IPv4 or IPv6 host address or a DNS host name, without port or scheme."""
    text = value.strip()
    if text != value or not text:
        return "has blanks around it" if text else "is empty"
    if "://" in text:
        return "is a URL: write only the host name or address"
    if re.fullmatch(r"[0-9.]+", text):  # dotted numbers: only ever an IPv4 address
        try:
            ip = ipaddress.IPv4Address(text)
        except ValueError as exc:
            return f"is not an IPv4 address ({exc})"
        return _ip_problem(ip)
    if ":" in text:
        try:
            ip6 = ipaddress.IPv6Address(text.strip("[]") if text.startswith("[") else text)
        except ValueError:
            head, _sep, tail = text.rpartition(":")
            if tail.isdigit():
                return f"contains a port (':{tail}'): write address: {head.strip('[]')} and port: {tail}"
            return "is not an IPv4/IPv6 address or host name"
        if text.startswith("["):
            return "is written with brackets: write the IPv6 address alone"
        return _ip_problem(ip6)
    if "/" in text:
        return "is a network or URL, not a host address"
    if len(text) > 253:
        return "is longer than 253 characters, too long for a host name"
    labels = text.rstrip(".").lower().split(".")
    for label in labels:
        if not _DNS_LABEL.match(label):
            return (f"is not a host name: label '{label}' must be 1-63 letters, digits or dashes, "
                    "not starting or ending with a dash")
    if labels[-1].isdigit():
        return "is not a host name (its last label is a number) nor an IPv4 address"
    return None


def check_ipv4_network(value: str) -> str | None:
    """An IPv4 network in CIDR form with no host bits set (192.168.10.0/24)."""
    if "/" not in value:
        return "must be a network with prefix length, e.g. 192.168.10.0/24"
    try:
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError as exc:
        return f"is not an IPv4 network ({exc})"
    if str(net) != value:
        if net.network_address != ipaddress.IPv4Address(value.split("/")[0]):
            return f"has host bits set: the network is {net}"
        return f"is not written canonically: write {net}"
    if net.prefixlen < 8 or net.prefixlen > 30:
        return f"prefix /{net.prefixlen} is not a practice subnet (allowed /8 to /30)"
    return _ip_problem(net.network_address) if not net.network_address.is_private else None


def check_ipv4_host(value: str) -> str | None:
    """An IPv4 host address (a gateway)."""
    try:
        ip = ipaddress.IPv4Address(value)
    except ValueError as exc:
        return f"is not an IPv4 address ({exc})"
    return _ip_problem(ip) or ("is a loopback address, not a gateway" if ip.is_loopback else None)


def check_day(value: str) -> str | None:
    """A calendar day: YYYY-MM-DD once, or MM-DD every year (02-29 in leap years)."""
    match = _DAY.match(value)
    if not match:
        return "must be a day YYYY-MM-DD (once) or MM-DD (every year)"
    year = int(match.group(1)) if match.group(1) else 2000  # 2000 is a leap year: 02-29 is a day
    try:
        dt.date(year, int(match.group(2)), int(match.group(3)))
    except ValueError as exc:
        return f"is not a day of the calendar ({exc})"
    return None


def check_holiday_ref(value: str) -> str | None:
    """A day (see check_day) or the name of a holiday as the holidays package writes it."""
    if re.match(r"[0-9]", value):
        return check_day(value)
    if not value.strip() or any(ord(c) < 32 for c in value):
        return "must be a day (MM-DD or YYYY-MM-DD) or the name of a holiday"
    return None


FORMATS = {
    "praxis-host-address": check_host_address,
    "praxis-ipv4-network": check_ipv4_network,
    "praxis-ipv4-host": check_ipv4_host,
    "praxis-day": check_day,
    "praxis-holiday-ref": check_holiday_ref,
}


class _FormatProblem(ValueError):
    pass


def _raising(check):
    def checker(value):
        if isinstance(value, str):
            problem = check(value)
            if problem:
                raise _FormatProblem(problem)
        return True
    return checker


def _boolean(check):
    return lambda value: not isinstance(value, str) or check(value) is None


# -- schema ------------------------------------------------------------------------
_VALIDATORS: dict[str, Any] = {}
_UNESCAPED_DOLLAR = re.compile(r"(?<!\\)\$")


def _whole_value_pattern(validator, pattern, instance, schema):
    """``pattern`` with every ``$`` meaning the end of the value: in Python ``$``
    also matches before a trailing newline, so ``id: "huber\n"`` would pass
    ``^[a-z]+$``. fastjsonschema does the same substitution."""
    if isinstance(instance, str) and not re.search(_UNESCAPED_DOLLAR.sub(r"\\Z", pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _validator(schema_path: Path):
    """(fast check or None, explaining validator) for a schema file, built once."""
    key = str(schema_path)
    if key not in _VALIDATORS:
        if not HAS_JSONSCHEMA:
            raise SiteError(["the Python package 'jsonschema' is required to validate site files"])
        with open(schema_path, encoding="utf-8") as handle:
            schema = json.load(handle)
        base = jsonschema.validators.validator_for(schema)
        base.check_schema(schema)
        cls = jsonschema.validators.extend(base, {"pattern": _whole_value_pattern})
        checker = jsonschema.FormatChecker(formats=())
        for name, check in FORMATS.items():
            checker.checks(name, raises=_FormatProblem)(_raising(check))
        fast = None
        if fastjsonschema:
            formats = {name: _boolean(check) for name, check in FORMATS.items()}
            fast = fastjsonschema.compile(schema, use_default=False, formats=formats)
        _VALIDATORS[key] = (fast, cls(schema, format_checker=checker))
    return _VALIDATORS[key]


def field_path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _describe(error) -> tuple[str, str]:
    """(field path, message) for a jsonschema error, in words a technician reads."""
    path = list(error.absolute_path)
    kind = error.validator
    value = error.instance
    if kind == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(value) - set(known)) if isinstance(value, dict) else []
        if extra:
            name = extra[0]
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(known)})"
            return field_path(path + [name]), f"unknown field '{name}'{hint}"
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else "?"
        return field_path(path + [name]), "required field is missing"
    if kind == "enum":
        choices = ", ".join(str(c) for c in error.validator_value)
        return field_path(path), f"{value!r} is not one of: {choices}"
    if kind == "type":
        wanted = error.validator_value
        wanted = wanted if isinstance(wanted, str) else " or ".join(wanted)
        return field_path(path), f"expected {wanted}, got {type(value).__name__} {value!r}"
    if kind == "format":
        cause = getattr(error, "cause", None)
        return field_path(path), f"{value!r} {cause}" if cause else f"{value!r} is not a valid {error.validator_value}"
    if kind == "pattern":
        hints = {
            "vault_": "must name a vault variable (vault_<name>: lower-case letters, digits, underscores)",
            "[01][0-9]": "must be a time HH:MM (ranges HH:MM-HH:MM)",
        }
        for needle, hint in hints.items():
            if needle in error.validator_value:
                return field_path(path), f"{value!r} {hint}"
        return field_path(path), f"{value!r} does not match the required form {error.validator_value}"
    if kind in ("minItems", "minLength"):
        return field_path(path), f"{value!r} is too short"
    if kind in ("maxLength", "maximum", "minimum", "maxItems"):
        return field_path(path), f"{value!r} is out of range ({kind} {error.validator_value})"
    if kind == "uniqueItems":
        return field_path(path), f"{value!r} lists an entry twice"
    return field_path(path), error.message


def schema_problems(data: Any, schema_path: Path = SCHEMA_PATH) -> list[str]:
    fast, explaining = _validator(schema_path)
    registry()  # the drivers' declarations are read with the schema, once, before any site file
    if fast is not None:
        try:
            fast(data)
            return []
        except fastjsonschema.JsonSchemaException as exc:
            fast_error = exc  # jsonschema below names every problem in words
    else:
        fast_error = None
    problems = []
    for error in sorted(explaining.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where, what = _describe(error)
        problems.append(f"{where}: {what}")
    if fast_error is not None and not problems:
        # the two validators must never disagree into accepting a file
        name = str(getattr(fast_error, "name", "data"))
        problems.append(f"{name.replace('data.', '', 1).replace('data', '(top level)', 1)}: {fast_error.message}")
    return problems


# -- rules the schema cannot express ------------------------------------------------
# How each vendor is driven, its default port and which roles it can fill: declared by
# its driver (praxis_driver.registry(), docs/drivers.md).
def vendor_protocol(vendor: str) -> str:
    return registry()[vendor].protocol


def vendor_roles(vendor: str) -> tuple[str, ...]:
    """The device groups of the site file (firewalls, ...) a vendor's devices can be in."""
    return tuple(ROLE_PLURAL[role] for role in registry()[vendor].roles)


def _known_vendor(where: str, vendor: Any) -> str | None:
    """None when ``vendor`` has a driver, else the problem listing the known vendors."""
    if vendor in registry():
        return None
    return f"{where}: {vendor!r} is not one of: {', '.join(registry())} (the vendors with a driver)"


# well-known ports and what speaks on them; a device whose protocol differs is a contradiction
WELL_KNOWN_PORTS = {22: "ssh", 80: "http", 443: "https", 3389: "rdp", 5000: "http", 5001: "https",
                    5985: "winrm-http", 5986: "winrm-https"}
PORT_FITS = {"https": {"https"}, "ssh": {"ssh"}, "winrm-https": {"winrm-https", "https"}}
UPLINK_ROLES = ("firewalls", "switches", "access_points")
APPLE = re.compile(r"\bapple\b", re.IGNORECASE)


def device_protocol(role: str, device: dict) -> str:
    """How the controller talks to a device: https, ssh or winrm-https (Windows);
    Linux and macOS computers are never contacted (ssh names their remote login)."""
    if role in NETWORK_ROLES:
        return vendor_protocol(device["vendor"])
    return "winrm-https" if device.get("os", "windows") == "windows" else "ssh"


def _device_rules(role: str, index: int, device: dict) -> list[str]:
    """Fields of one device that contradict each other."""
    problems = []
    where = f"devices.{role}[{index}]"
    if role in NETWORK_ROLES:
        unknown = _known_vendor(f"{where}.vendor", device["vendor"])
        if unknown:
            return [unknown]
    protocol = device_protocol(role, device)
    port = device.get("port")
    spoken = WELL_KNOWN_PORTS.get(port)
    if spoken and spoken not in PORT_FITS[protocol]:
        if role in NETWORK_ROLES:
            what = f"{device['vendor']} devices are managed over {protocol.upper()}"
        elif protocol == "winrm-https":
            what = "Windows computers are managed over WinRM with HTTPS (5986 or another port)"
        else:
            what = f"os {device.get('os')} computers are not Windows (never WinRM)"
        problems.append(f"{where}.port: port {port} is the {spoken.upper()} port, but {what}")
    if "maintenance_windows" in device:
        if role != "servers":
            noun = ROLE_SINGULAR[role].replace("_", " ").replace("nas", "NAS")
            article = "an" if noun[0] in "aeiouAEIOU" else "a"
            problems.append(f"{where}.maintenance_windows: only servers have maintenance windows of their own; "
                            f"{article} {noun} follows the site's maintenance_windows "
                            "(remove it here, or list the computer under devices.servers)")
        elif device.get("os", "windows") != "windows":
            problems.append(f"{where}.maintenance_windows: os {device['os']} computers are never patched or "
                            "rebooted by praxisops, so their own windows would do nothing")
    if role in NETWORK_ROLES:
        vendor = device["vendor"]
        if role not in vendor_roles(vendor):
            possible = ", ".join(vendor_roles(vendor))
            problems.append(f"{where}.vendor: {vendor} cannot be one of the {role} (a {vendor} device is one of: "
                            f"{possible})")
        if protocol != "https":
            for key in ("validate_certs", "ca_path"):
                if key in device:
                    https = ", ".join(v for v, r in registry().items() if r.protocol == "https")
                    problems.append(f"{where}.{key}: {vendor} devices are managed over SSH; {key} is for HTTPS "
                                    f"devices ({https})")
        elif device.get("validate_certs") is False and device.get("ca_path"):
            problems.append(f"{where}.ca_path: a CA is given but validate_certs is false (one of them is wrong)")
    else:
        if "os" not in device and (APPLE.search(str(device.get("vendor", "")))
                                   or re.search(r"\b(mac|imac|macbook)", str(device.get("model", "")), re.I)):
            problems.append(f"{where}.os: missing, so windows is assumed, but the computer is a Mac "
                            f"({device.get('vendor', '')} {device.get('model', '')}".rstrip() +
                            "): write os: macos (or os: windows for a Mac that runs Windows)")
    return problems


def _vendor_rules(site: dict) -> list[str]:
    """What the site file gives or asks of a network device, checked against
    its driver's declaration before any driver runs: its ``options`` against
    the vendor's options, the settings its fields ask for (networks.wlans of
    an access point, the VLANs of a switch) against ``settings_supported``."""
    problems = []
    records = registry()
    networks = site.get("networks") or {}
    devices = site.get("devices") or {}
    for role in NETWORK_ROLES:
        singular = ROLE_SINGULAR[role]
        noun = singular.replace("_", " ").replace("nas", "NAS") + ("" if singular == "nas" else "s")
        for index, device in enumerate(devices.get(role) or []):
            vendor = device.get("vendor")
            record = records.get(vendor)
            if record is None or singular not in record.roles:
                continue  # reported by _device_rules
            where = f"devices.{role}[{index}]"
            for name in device.get("options") or {}:
                if name not in record.options:
                    known = ", ".join(sorted(record.options)) or "none"
                    problems.append(f"{where}.options.{name}: unknown option for vendor {vendor}; known: {known}")
            asks: list[tuple[str, str]] = []
            if role == "access_points" and networks.get("wlans"):
                asks.append(("networks.wlans", "wlans"))
            if role == "switches" and device.get("vlans"):
                asks.append((f"{where}.vlans", "vlans"))
            elif role == "switches" and networks.get("vlans"):
                asks.append(("networks.vlans", "vlans"))
            supported = record.settings_supported(singular)
            for field, key in asks:
                if key not in supported:
                    can = ", ".join(supported) if supported else "no settings"
                    problems.append(f"{field}: {noun} of vendor {vendor} cannot apply {key} ({where}, "
                                    f"{device['name']}; it can apply: {can})")
    return problems


def _address_of(device: dict):
    try:
        return ipaddress.ip_address(device["address"])
    except ValueError:
        return None  # a host name


def _network_rules(site: dict) -> list[str]:
    problems = []
    networks = site.get("networks") or {}
    subnets: list[tuple[int, Any]] = []
    for index, vlan in enumerate(networks.get("vlans") or []):
        where = f"networks.vlans[{index}]"
        subnet = ipaddress.IPv4Network(vlan["subnet"], strict=False) if "subnet" in vlan else None
        if subnet is not None:
            for other_index, other in subnets:
                if subnet.overlaps(other):
                    problems.append(f"{where}.subnet: {subnet} overlaps networks.vlans[{other_index}].subnet {other}")
            subnets.append((index, subnet))
        if "gateway" in vlan and subnet is not None:
            gateway = ipaddress.IPv4Address(vlan["gateway"])
            if gateway not in subnet:
                problems.append(f"{where}.gateway: {gateway} is outside the VLAN's subnet {subnet}")
            elif gateway in (subnet.network_address, subnet.broadcast_address):
                problems.append(f"{where}.gateway: {gateway} is the network or broadcast address of {subnet}")
    devices = site.get("devices") or {}
    for role in ROLE_GROUPS:
        for index, device in enumerate(devices.get(role) or []):
            address = _address_of(device)
            if address is None or address.is_loopback or address.version != 4 or not subnets:
                continue  # host names, tunnels (loopback) and IPv6 are not checked against IPv4 subnets
            where = f"devices.{role}[{index}].address"
            inside = [net for _i, net in subnets if address in net]
            if not inside:
                listed = ", ".join(str(net) for _i, net in subnets)
                problems.append(f"{where}: {address} is in none of the site's networks ({listed})")
            elif any(address in (net.network_address, net.broadcast_address) for net in inside):
                problems.append(f"{where}: {address} is the network or broadcast address of {inside[0]}")
    return problems


def _finding_rules(site: dict) -> list[str]:
    """Thresholds (site and device) and priorities are checked at load time
    against the registry of praxis_findings, so a typo stops the inventory."""
    from ansible.module_utils.praxis_findings import FindingError, site_priorities, thresholds

    problems = []
    layers = [("thresholds", site.get("thresholds"))]
    for role in ROLE_GROUPS:
        for index, device in enumerate((site.get("devices") or {}).get(role) or []):
            if device.get("thresholds") is not None:
                layers.append((f"devices.{role}[{index}].thresholds", device["thresholds"]))
    for layer in layers:
        try:
            thresholds(layers[0], layer) if layer is not layers[0] else thresholds(layer)
        except FindingError as exc:
            problems.append(str(exc))
    try:
        site_priorities({"file": "priorities", "priorities": site.get("priorities")})
    except FindingError as exc:
        problems.append(str(exc).replace("site file priorities: priorities", "priorities"))
    return problems


def _site_rules(site: dict) -> list[str]:
    problems = []
    devices = site.get("devices") or {}
    names: dict[str, str] = {}
    roles: dict[str, str] = {}
    windows_workplaces = set()
    workplaces = set()
    for role in ROLE_GROUPS:
        for index, device in enumerate(devices.get(role) or []):
            name = device["name"]
            where = f"devices.{role}[{index}].name"
            if name in names:
                problems.append(f"{where}: device name '{name}' is used twice in this site (also {names[name]})")
            names[name] = f"devices.{role}[{index}]"
            roles.setdefault(name, role)
            host = host_name(site["id"], name)
            if len(host) > 63:
                problems.append(f"{where}: host name '{host}' is {len(host)} characters; a DNS label has at most 63 "
                                "(shorten the site id or the device name)")
            if role == "workplaces":
                workplaces.add(name)
                if device.get("os", "windows") == "windows":
                    windows_workplaces.add(name)
            problems.extend(_device_rules(role, index, device))
    vlan_ids = [v["id"] for v in (site.get("networks") or {}).get("vlans") or []]
    for role in ROLE_GROUPS:
        for index, device in enumerate(devices.get(role) or []):
            uplink = device.get("uplink")
            where = f"devices.{role}[{index}].uplink"
            if uplink == device["name"]:
                problems.append(f"{where}: a device cannot be its own uplink")
            elif uplink and uplink not in names:
                problems.append(f"{where}: '{uplink}' is not a device of this site")
            elif uplink and roles[uplink] not in UPLINK_ROLES:
                problems.append(f"{where}: '{uplink}' is one of the {roles[uplink]}; an uplink is a firewall, "
                                "switch or access point")
            for vindex, vlan in enumerate(device.get("vlans") or []):
                if vlan_ids and vlan not in vlan_ids:
                    problems.append(f"devices.{role}[{index}].vlans[{vindex}]: VLAN {vlan} is not in networks.vlans")
    pilot = site.get("pilot")
    if pilot is not None and pilot not in windows_workplaces:
        choices = ", ".join(sorted(windows_workplaces)) or "none defined"
        if pilot in workplaces:
            problems.append(f"pilot: '{pilot}' is not a Windows workplace and is never patched; the pilot must be "
                            f"one of the site's Windows workplaces ({choices})")
        else:
            problems.append(f"pilot: '{pilot}' is not one of the site's workplaces ({choices})")
    for index, contact in enumerate(site.get("contacts") or []):
        if contact.get("alerts") is False and "priorities" in contact:
            problems.append(f"contacts[{index}].priorities: set, but alerts is false (this contact gets no alerts)")
    networks = site.get("networks") or {}
    for index, vlan_id in enumerate(vlan_ids):
        if vlan_ids.index(vlan_id) != index:
            problems.append(f"networks.vlans[{index}].id: VLAN {vlan_id} is defined twice")
    for index, wlan in enumerate(networks.get("wlans") or []):
        if vlan_ids and wlan["vlan"] not in vlan_ids:
            problems.append(f"networks.wlans[{index}].vlan: VLAN {wlan['vlan']} is not in networks.vlans")
        if len(wlan["ssid"].encode("utf-8")) > 32:
            problems.append(f"networks.wlans[{index}].ssid: {wlan['ssid']!r} is "
                            f"{len(wlan['ssid'].encode('utf-8'))} bytes in UTF-8; an SSID has at most 32")
    problems.extend(_network_rules(site))
    problems.extend(_vendor_rules(site))
    problems.extend(_finding_rules(site))
    try:
        SiteCalendar(site)
    except CalendarError as exc:
        problems.append(str(exc).replace(f"site {site.get('id')}: ", ""))
    else:
        problems.extend(_server_window_rules(site))
        problems.extend(backup_rules(site))
    return problems


def _server_window_rules(site: dict) -> list[str]:
    """A server's own maintenance windows narrow the site's maintenance time;
    windows that never meet it would keep the server from ever rebooting."""
    problems = []
    for index, device in enumerate((site.get("devices") or {}).get("servers") or []):
        if not device.get("maintenance_windows") or device.get("os", "windows") != "windows":
            continue
        where = f"devices.servers[{index}].maintenance_windows"
        try:
            calendar = SiteCalendar(site, device)
        except CalendarError as exc:
            problems.append(f"{where}: {str(exc).split('maintenance_windows', 1)[-1].lstrip(': ')}")
            continue
        if calendar.weekly_maintenance_minutes() == 0:
            problems.append(f"{where}: never meets the practice's maintenance time (outside business hours and "
                            "Mon-Fri 08:00-17:00, inside the site's maintenance_windows): the server could never "
                            "install updates or reboot")
    return problems


# -- practice-data backups (WP-12) ---------------------------------------------------
BACKUP_URL = re.compile(r"^(?:/|[A-Za-z]:\\|\\\\|sftp:|rest:https?://|s3:)")
WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:\\|\\\\[^\\]+\\[^\\]+)")
LINUX_PATH = re.compile(r"^/")
BACKUP_START_OFFSET = 30   # minutes after the start of the first maintenance window


def _hhmm(minute: int) -> str:
    return f"{minute // 60 % 24:02d}:{minute % 60:02d}"


def _working_weekdays(calendar: SiteCalendar) -> list[int]:
    return [day for day, ranges in enumerate(calendar.business) if ranges] or list(range(5))


def default_backup_start(site: dict) -> str:
    """The start of the site's first maintenance window + 30 min; without windows
    30 min after the latest end of business hours (and of the Mon-Fri floor)."""
    windows = site.get("maintenance_windows") or []
    if windows:
        hours, minutes = windows[0]["start"].split(":")
        return _hhmm(int(hours) * 60 + int(minutes) + BACKUP_START_OFFSET)
    calendar = SiteCalendar(site)
    # the calendar's ranges end one minute after their written end (08:00-18:00 covers 18:00)
    latest = max([HARD_FLOOR[1] - 1] + [end - 1 for ranges in calendar.business for _start, end in ranges])
    return _hhmm(min(latest + BACKUP_START_OFFSET, 23 * 60 + 59))


def backup_start_problem(site: dict, start: str) -> str | None:
    """Why a daily start time is not maintenance time on every working day of the
    practice (the days whose backups count), or None."""
    calendar = SiteCalendar(site)
    hours, minutes = start.split(":")
    minute = int(hours) * 60 + int(minutes)
    monday = dt.datetime(2024, 1, 1)  # a Monday; wall-clock minutes as in weekly_maintenance_minutes
    for weekday in _working_weekdays(calendar):
        local = monday + dt.timedelta(days=weekday, minutes=minute)
        day = DAYS[weekday]
        if any(begin <= minute < end for begin, end in calendar.business[weekday]):
            return f"{start} is business time on {day}"
        if weekday < 5 and HARD_FLOOR[0] <= minute < HARD_FLOOR[1]:
            return f"{start} is within Mon-Fri 08:00-17:00 ({day}), never maintenance time"
        if not window_hit(calendar.windows, local):
            return f"{start} lies in none of the site's maintenance_windows on {day}"
    return None


def _source_os(site: dict, name: str) -> tuple[str | None, str | None, dict | None]:
    """(role, os, device) of a backup source's device."""
    devices = site.get("devices") or {}
    for role in ("servers", "workplaces"):
        for device in devices.get(role) or []:
            if device["name"] == name:
                return role, device.get("os", "windows"), device
    return None, None, None


def backup_rules(site: dict) -> list[str]:
    """The backups section against the rest of the site file."""
    backups = site.get("backups")
    if not backups:
        return []
    problems = []
    names: dict[str, int] = {}
    oses = set()
    for index, source in enumerate(backups.get("sources") or []):
        where = f"backups.sources[{index}]"
        role, system, _device = _source_os(site, source["host"])
        if role is None:
            choices = ", ".join(sorted(d["name"] for r in ("servers", "workplaces")
                                       for d in (site.get("devices") or {}).get(r) or [])) or "none defined"
            other = [r for r in ROLE_GROUPS
                     if any(d["name"] == source["host"] for d in (site.get("devices") or {}).get(r) or [])]
            what = f"is one of the {other[0]}, not a server or workplace" if other else "is not a device of this site"
            problems.append(f"{where}.host: '{source['host']}' {what} (servers and workplaces: {choices})")
            continue
        if system == "macos":
            problems.append(f"{where}.host: '{source['host']}' is a macOS computer; praxisops backs up Linux and "
                            "Windows computers only")
            continue
        oses.add(system)
        if system == "windows":
            wrong, right = LINUX_PATH, "an absolute Windows path (D:\\Praxis)"
        else:
            wrong, right = WINDOWS_PATH, "an absolute Linux path (/srv/praxis)"
        for pindex, path in enumerate(source["paths"]):
            fits = WINDOWS_PATH.match(path) if system == "windows" else LINUX_PATH.match(path)
            if wrong.match(path):
                kind = "a Linux path" if system == "windows" else "a Windows path"
                problems.append(f"{where}.paths[{pindex}]: {path!r} is {kind}, but {source['host']} is a "
                                f"{system} computer (write {right})")
            elif not fits:
                problems.append(f"{where}.paths[{pindex}]: {path!r} is not {right}")
            elif ".." in re.split(r"[\\/]", path):
                problems.append(f"{where}.paths[{pindex}]: {path!r} contains '..'")
        if source["host"] in names:
            problems.append(f"{where}.host: '{source['host']}' is already a source in "
                            f"backups.sources[{names[source['host']]}] (list all its paths there)")
        names.setdefault(source["host"], index)
    repositories: dict[str, int] = {}
    for index, repository in enumerate(backups.get("repositories") or []):
        where = f"backups.repositories[{index}]"
        name = repository["name"]
        if name in repositories:
            problems.append(f"{where}.name: repository name '{name}' is used twice (also "
                            f"backups.repositories[{repositories[name]}])")
        repositories.setdefault(name, index)
        for key in ("url", "controller_url"):
            url = repository.get(key)
            if url is None:
                continue
            if not BACKUP_URL.match(url):
                problems.append(f"{where}.{key}: {url!r} is not a restic repository this project supports (an "
                                "absolute path, sftp:user@host:/path, rest:https://..., s3:https://...)")
            elif key == "url" and LINUX_PATH.match(url) and "windows" in oses:
                problems.append(f"{where}.url: {url!r} is a Linux path, but the Windows sources cannot reach it "
                                "(use an sftp:, rest: or s3: repository, or a Windows path)")
            elif key == "url" and WINDOWS_PATH.match(url) and "linux" in oses:
                problems.append(f"{where}.url: {url!r} is a Windows path, but the Linux sources cannot reach it "
                                "(use an sftp:, rest: or s3: repository, or a Linux path)")
        sftp = repository["url"].startswith("sftp:")
        for key in ("sftp_identity", "sftp_known_hosts"):
            if key in repository and not sftp:
                problems.append(f"{where}.{key}: set, but url is not an sftp: repository")
        for secret in ("password", "environment", "sftp_identity"):
            if secret in repository and not repository[secret].startswith("vault_"):
                problems.append(f"{where}.{secret}: must name a vault variable (vault_...)")
    start = backups.get("start")
    try:
        problem = backup_start_problem(site, start or default_backup_start(site))
    except CalendarError as exc:  # pragma: no cover - the calendar was checked before
        problem = str(exc)
    if problem:
        if start:
            problems.append(f"backups.start: {problem}; the daily backup must start in the practice's maintenance "
                            "time")
        else:
            problems.append(f"backups.start: missing, and the default {default_backup_start(site)} (the first "
                            f"maintenance window + 30 min) does not fit: {problem}; set backups.start")
    return problems


def backup_sources(site: dict) -> dict[str, dict]:
    """device name -> its backups.sources entry with defaults filled in."""
    backups = site.get("backups") or {}
    result = {}
    for source in backups.get("sources") or []:
        role, system, _device = _source_os(site, source["host"])
        entry = dict(source)
        entry.setdefault("exclude", [])
        entry.setdefault("server", role == "servers")
        entry["os"] = system
        result[source["host"]] = entry
    return result


def group_name(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def host_name(site_id: str, device_name: str) -> str:
    return f"{site_id}-{device_name}"


FIXED_GROUPS = ("firewalls", "access_points", "switches", "nas", "workplaces", "servers", "pilot",
                "network_devices", "windows", "not_managed", "databackup_linux", "databackup_windows")


def site_files(directory: Path) -> list[Path]:
    """Every entry of the folder that is meant as a site file (name ends in .yml
    or .yaml in any case, not hidden), whatever it is: a folder, FIFO or broken
    link named like a site file is reported by load_site, never skipped."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SiteError([f"{directory}: the sites folder does not exist"])
    try:
        names = os.listdir(directory)
    except OSError as exc:
        raise SiteError([f"{directory}: the sites folder cannot be read: {exc.strerror}"]) from None
    return sorted(directory / name for name in names
                  if name.lower().endswith(SITE_SUFFIXES) and not name.startswith("."))


def load_site(path: Path, label: str | None = None) -> tuple[dict | None, list[str]]:
    """(site, problems) for one file; problems are prefixed with the file name."""
    label = label or str(path)
    try:
        data = read_yaml(path)
    except SiteFileError as exc:
        return None, [f"{label}: {exc}"]
    except SiteLimitError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        return None, [f"{label}: {where}too large: {exc.problem}"]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [f"{label}: {where}: not valid YAML: {problem}"]
    except RecursionError:  # pragma: no cover - MAX_DEPTH stops far earlier
        return None, [f"{label}: too large: nested too deeply"]
    if not isinstance(data, dict):
        return None, [f"{label}: (top level): expected a mapping of site fields, got {type(data).__name__}"]
    problems = schema_problems(data)
    if not problems:
        problems = _site_rules(data)
    return (data if not problems else None), [f"{label}: {p}" for p in problems]


def _endpoint(role: str, device: dict) -> tuple[str, int | None]:
    """(normalised address, port the controller uses or None for a Linux or macOS
    computer: never contacted, or over SSH as a backup source; either way its
    address is its own, on any port)."""
    address = _address_of(device)
    text = str(address) if address is not None else device["address"].lower().rstrip(".")
    if role not in NETWORK_ROLES and device.get("os", "windows") != "windows":
        return text, None
    if role in NETWORK_ROLES:
        default = registry()[device["vendor"]].default_port
    else:
        default = {"ssh": 22, "winrm-https": 5986}[device_protocol(role, device)]
    return text, device.get("port") or default


def load_sites(directory: Path, base: Path | None = None) -> list[dict]:
    """Every site of a folder, validated together; raises SiteError."""
    directory = Path(directory)
    base = base or directory.parent
    sites: list[dict] = []
    problems: list[str] = []
    ids: dict[str, str] = {}
    endpoints: dict[str, list[tuple[int | None, str]]] = {}
    hosts: dict[str, str] = {}
    groups: dict[str, str] = {group: "the praxisops inventory" for group in FIXED_GROUPS}
    for path in site_files(directory):
        label = os.path.relpath(path, base)
        site, file_problems = load_site(path, label)
        problems.extend(file_problems)
        if site is None:
            continue
        if site["id"] in ids:
            problems.append(f"{label}: id: site id '{site['id']}' is already used by {ids[site['id']]}")
            continue
        ids[site["id"]] = label
        site_group = "site_" + group_name(site["id"])
        if site_group in groups:
            problems.append(f"{label}: id: group {site_group} is already {groups[site_group]}")
        groups[site_group] = f"the group of {label}"
        for role in ROLE_GROUPS:
            for index, device in enumerate(site["devices"].get(role) or []):
                where = f"{label}: devices.{role}[{index}]"
                host = host_name(site["id"], device["name"])
                if host in hosts:
                    problems.append(f"{where}.name: host name '{host}' (site id '{site['id']}' + device "
                                    f"'{device['name']}') is already {hosts[host]}")
                else:
                    hosts[host] = (f"the host of {label}: devices.{role}[{index}].name (site id '{site['id']}' "
                                   f"+ device '{device['name']}')")
                if role in NETWORK_ROLES or device.get("vendor"):
                    vendor_group = "vendor_" + group_name(str(device.get("vendor")))
                    groups.setdefault(vendor_group, f"the vendor group of {label}: devices.{role}[{index}].vendor")
                address, port = _endpoint(role, device)
                shared = endpoints.setdefault(address, [])
                clash = next((other for other_port, other in shared
                              if other_port is None or port is None or other_port == port), None)
                if clash:
                    on_port = f" (port {port})" if port else ""
                    problems.append(f"{where}.address: address {device['address']} is already used by "
                                    f"{clash}{on_port}")
                shared.append((port, f"{label}: devices.{role}[{index}] ({device['name']})"))
        site["_file"] = label
        sites.append(site)
    for host, owner in hosts.items():
        if host in groups:
            problems.append(f"{owner.replace('the host of ', '')}: host name '{host}' is also {groups[host]}")
    if problems:
        raise SiteError(problems)
    return sites


def resolved_site(site: dict) -> dict:
    """The praxis_site dict: the site with defaults filled in."""
    calendar_defaults = {
        "timezone": "Europe/Berlin",
        "business_hours": {d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "maintenance_windows": [],
        "holiday_categories": ["public"],
        "holidays": {"add": [], "remove": []},
        "closures": [],
        "networks": {"vlans": [], "wlans": []},
    }
    # _file is internal; x-... keys only hold YAML anchors
    result = {key: value for key, value in site.items() if not key.startswith(("_", "x-"))}
    for key, value in calendar_defaults.items():
        result.setdefault(key, value)
    result.setdefault("patching", {})  # the provider's praxis_patch_policy applies unchanged
    if result.get("backups"):
        # retention: the provider's praxis_backup_policy.retention, key by key, where the site sets none
        result["backups"] = dict(result["backups"], start=result["backups"].get("start") or default_backup_start(site))
        result["backups"]["sources"] = list(backup_sources(site).values())
    result["file"] = site.get("_file")
    result["group"] = "site_" + group_name(site["id"])
    for contact in result.get("contacts", []):
        contact.setdefault("alerts", True)
        contact.setdefault("reports", False)
        contact.setdefault("priorities", ["high", "medium", "low"])
    return result


def site_hosts(site: dict) -> list[dict]:
    """One entry per device: host name, groups and the praxis_device dict."""
    hosts = []
    pilot = site.get("pilot")
    sources = backup_sources(site)
    for role in ROLE_GROUPS:
        for device in site["devices"].get(role) or []:
            groups = [role]
            info = {
                "name": device["name"],
                "role": ROLE_SINGULAR[role],
                "address": device["address"],
                "credentials": device["credentials"],
            }
            for key in ("port", "model", "vendor", "validate_certs", "ca_path", "tls_fingerprint", "vlans", "uplink",
                        "notes", "thresholds", "maintenance_windows", "options"):
                if key in device:
                    info[key] = device[key]
            if role in NETWORK_ROLES:
                info.setdefault("validate_certs", True)
                groups.append("vendor_" + group_name(device["vendor"]))
                groups.append("network_devices")
            else:
                info["os"] = device.get("os", "windows")
                if device.get("vendor"):
                    groups.append("vendor_" + group_name(device["vendor"]))
                groups.append("windows" if info["os"] == "windows" else "not_managed")
                if device["name"] in sources:
                    groups.append(f"databackup_{info['os']}")
                    info["backup"] = sources[device["name"]]
                if role == "workplaces" and device["name"] == pilot:
                    groups.append("pilot")
            hosts.append({"host": host_name(site["id"], device["name"]), "groups": groups, "device": info})
    return hosts
