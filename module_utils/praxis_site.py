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

import difflib
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

try:
    from ansible.module_utils.praxis_calendar import CalendarError, SiteCalendar
except ImportError:  # imported outside Ansible (tests, lab, benchmarks)
    from praxis_calendar import CalendarError, SiteCalendar  # type: ignore[no-redef]

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
SITE_SUFFIXES = (".yml", ".yaml")
MAX_ERRORS = 50


class SiteError(ValueError):
    """One or more site files are invalid; ``problems`` lists them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_ERRORS]
        more = len(problems) - len(shown)
        text = "\n".join(f"  - {p}" for p in shown)
        if more:
            text += f"\n  ... and {more} more"
        super().__init__(f"{len(problems)} problem(s) in the site files:\n{text}")


# -- YAML: safe, fast, strict ------------------------------------------------------
_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SiteLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe YAML loader that rejects duplicate keys and reads 22:00 as text
    (YAML 1.1 would read it as the sexagesimal number 1320)."""


_SiteLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if not (tag == "tag:yaml.org,2002:int" and ":" in regexp.pattern)]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_SiteLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"))


def _construct_mapping(loader, node, deep=False):
    seen: dict[Any, Any] = {}
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first at line {seen[key] + 1})", key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping_plain(node, deep=deep)


_SiteLoader.construct_mapping_plain = _BaseLoader.construct_mapping  # type: ignore[attr-defined]
_SiteLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def read_yaml(path: Path) -> Any:
    with open(path, "rb") as handle:
        return yaml.load(handle, Loader=_SiteLoader)  # noqa: S506 - a SafeLoader subclass


# -- schema ------------------------------------------------------------------------
_VALIDATORS: dict[str, Any] = {}


def _validator(schema_path: Path):
    """(fast check or None, explaining validator) for a schema file, built once."""
    key = str(schema_path)
    if key not in _VALIDATORS:
        if not HAS_JSONSCHEMA:
            raise SiteError(["the Python package 'jsonschema' is required to validate site files"])
        with open(schema_path, encoding="utf-8") as handle:
            schema = json.load(handle)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        fast = fastjsonschema.compile(schema, use_default=False) if fastjsonschema else None
        _VALIDATORS[key] = (fast, cls(schema))
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
    if fast is not None:
        try:
            fast(data)
            return []
        except fastjsonschema.JsonSchemaException:
            pass  # jsonschema below names every problem in words
    problems = []
    for error in sorted(explaining.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where, what = _describe(error)
        problems.append(f"{where}: {what}")
    return problems


# -- rules the schema cannot express ------------------------------------------------
def _site_rules(site: dict) -> list[str]:
    problems = []
    devices = site.get("devices") or {}
    names: dict[str, str] = {}
    workplaces = set()
    for role in ROLE_GROUPS:
        for index, device in enumerate(devices.get(role) or []):
            name = device["name"]
            where = f"devices.{role}[{index}].name"
            if name in names:
                problems.append(f"{where}: device name '{name}' is used twice in this site (also {names[name]})")
            names[name] = f"devices.{role}[{index}]"
            if role == "workplaces":
                workplaces.add(name)
    for role in ROLE_GROUPS:
        for index, device in enumerate(devices.get(role) or []):
            uplink = device.get("uplink")
            if uplink and uplink not in names:
                problems.append(f"devices.{role}[{index}].uplink: '{uplink}' is not a device of this site")
    pilot = site.get("pilot")
    if pilot is not None and pilot not in workplaces:
        choices = ", ".join(sorted(workplaces)) or "none defined"
        problems.append(f"pilot: '{pilot}' is not one of the site's workplaces ({choices})")
    networks = site.get("networks") or {}
    vlan_ids = [v["id"] for v in networks.get("vlans") or []]
    for index, vlan_id in enumerate(vlan_ids):
        if vlan_ids.index(vlan_id) != index:
            problems.append(f"networks.vlans[{index}].id: VLAN {vlan_id} is defined twice")
    for index, wlan in enumerate(networks.get("wlans") or []):
        if vlan_ids and wlan["vlan"] not in vlan_ids:
            problems.append(f"networks.wlans[{index}].vlan: VLAN {wlan['vlan']} is not in networks.vlans")
    try:
        SiteCalendar(site)
    except CalendarError as exc:
        problems.append(str(exc).replace(f"site {site.get('id')}: ", ""))
    return problems


def group_name(text: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


def host_name(site_id: str, device_name: str) -> str:
    return f"{site_id}-{device_name}"


def site_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise SiteError([f"{directory}: the sites folder does not exist"])
    return sorted(p for p in directory.iterdir()
                  if p.suffix in SITE_SUFFIXES and p.is_file() and not p.name.startswith("."))


def load_site(path: Path, label: str | None = None) -> tuple[dict | None, list[str]]:
    """(site, problems) for one file; problems are prefixed with the file name."""
    label = label or str(path)
    try:
        data = read_yaml(path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [f"{label}: {where}: not valid YAML: {problem}"]
    except OSError as exc:
        return None, [f"{label}: cannot be read: {exc.strerror}"]
    if not isinstance(data, dict):
        return None, [f"{label}: (top level): expected a mapping of site fields, got {type(data).__name__}"]
    problems = schema_problems(data)
    if not problems:
        problems = _site_rules(data)
    return (data if not problems else None), [f"{label}: {p}" for p in problems]


def load_sites(directory: Path, base: Path | None = None) -> list[dict]:
    """Every site of a folder, validated together; raises SiteError."""
    directory = Path(directory)
    base = base or directory.parent
    sites: list[dict] = []
    problems: list[str] = []
    ids: dict[str, str] = {}
    addresses: dict[str, str] = {}
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
        for role in ROLE_GROUPS:
            for index, device in enumerate(site["devices"].get(role) or []):
                key = f"{device['address'].lower()}:{device.get('port', '')}"
                where = f"{label}: devices.{role}[{index}].address"
                if key in addresses:
                    problems.append(f"{where}: address {device['address']} is already used by {addresses[key]}")
                else:
                    addresses[key] = f"{label} ({device['name']})"
        site["_file"] = label
        sites.append(site)
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
        "networks": {"vlans": [], "wlans": []},
    }
    result = {key: value for key, value in site.items() if not key.startswith("_")}
    for key, value in calendar_defaults.items():
        result.setdefault(key, value)
    result["file"] = site.get("_file")
    result["group"] = "site_" + group_name(site["id"])
    for contact in result.get("contacts", []):
        contact.setdefault("alerts", True)
        contact.setdefault("priorities", ["high", "medium", "low"])
    return result


def site_hosts(site: dict) -> list[dict]:
    """One entry per device: host name, groups and the praxis_device dict."""
    hosts = []
    pilot = site.get("pilot")
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
                        "notes"):
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
                if role == "workplaces" and device["name"] == pilot:
                    groups.append("pilot")
            hosts.append({"host": host_name(site["id"], device["name"]), "groups": groups, "device": info})
    return hosts
