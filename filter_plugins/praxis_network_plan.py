# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Network plan filters (SITE-02): one practice's devices, VLANs, addresses,
WLANs and uplinks as a Graphviz diagram and as a Markdown document, from the
site (``praxis_site``) and the facts gathered from the devices.

Pure functions: same input, same text. Only the fields listed here are read;
credentials and WLAN passphrases (and the names of the vault variables holding
them) never reach the output. One .yml per filter beside this file documents
it for ansible-doc."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

import ansible.module_utils as _ansible_module_utils
from ansible.errors import AnsibleFilterError

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_driver import registry  # noqa: E402

# role groups of a site file in drawing order, with their labels
ROLES = (
    ("firewalls", "firewall", "Firewalls"),
    ("switches", "switch", "Switches"),
    ("access_points", "access_point", "Access points"),
    ("nas", "nas", "NAS"),
    ("servers", "server", "Servers"),
    ("workplaces", "workplace", "Workplaces"),
)
ENCRYPTION = {"wpa3": "WPA3", "wpa2-wpa3": "WPA2/WPA3"}
UNKNOWN = "unknown"
NONE = "-"
WAN = "Internet (WAN)"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~#])")


# -- checks ------------------------------------------------------------------------
def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(name: str, what: str, value) -> AnsibleFilterError:
    return AnsibleFilterError(f"{name}: {what}, got {type(value).__name__} {_shown(value)}")


def _mapping(name, value, what):
    if not isinstance(value, Mapping):
        raise _fail(name, f"{what} must be a mapping", value)
    return value


def _list(name, value, what):
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise _fail(name, f"{what} must be a list", value)
    return list(value)


def _text(name, value, what, required=True):
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _fail(name, f"{what} must be a string or a number", value)
    return str(value)


def _plan(name: str, site, facts) -> dict:
    """The checked, flattened plan: site identity, devices (in drawing order), VLANs, WLANs."""
    site = _mapping(name, site, "site (praxis_site)")
    site_id = _text(name, site.get("id"), "site.id")
    plan = {
        "id": site_id,
        "name": _text(name, site.get("name", site_id), "site.name"),
        "file": _text(name, site.get("file"), "site.file", required=False),
        "devices": [],
        "vlans": [],
        "wlans": [],
    }
    if facts is None:
        facts = {}
    facts = _mapping(name, facts, "facts (host name -> device facts)")
    for host, value in facts.items():
        if value is not None:
            _mapping(name, value, f"facts[{host!r}]")

    devices = _mapping(name, site.get("devices") or {}, "site.devices")
    for group, role, _label in ROLES:
        for index, device in enumerate(_list(name, devices.get(group), f"site.devices.{group}")):
            where = f"site.devices.{group}[{index}]"
            device = _mapping(name, device, where)
            device_name = _text(name, device.get("name"), f"{where}.name")
            # host names as the praxisops inventory builds them (module_utils/praxis_site.host_name)
            host = f"{site_id}-{device_name}"
            found = facts.get(host)
            plan["devices"].append({
                "host": host,
                "name": device_name,
                "group": group,
                "role": role,
                "address": _text(name, device.get("address"), f"{where}.address", required=False),
                "vendor": _vendor(_text(name, device.get("vendor"), f"{where}.vendor", required=False)),
                "model": _text(name, device.get("model"), f"{where}.model", required=False),
                "uplink": _text(name, device.get("uplink"), f"{where}.uplink", required=False),
                "vlans": [_text(name, v, f"{where}.vlans[{i}]")
                          for i, v in enumerate(_list(name, device.get("vlans"), f"{where}.vlans"))],
                "facts": dict(found or {}),
            })

    networks = _mapping(name, site.get("networks") or {}, "site.networks")
    for index, vlan in enumerate(_list(name, networks.get("vlans"), "site.networks.vlans")):
        where = f"site.networks.vlans[{index}]"
        vlan = _mapping(name, vlan, where)
        plan["vlans"].append({
            "id": _text(name, vlan.get("id"), f"{where}.id"),
            "name": _text(name, vlan.get("name"), f"{where}.name", required=False),
            "subnet": _text(name, vlan.get("subnet"), f"{where}.subnet", required=False),
            "gateway": _text(name, vlan.get("gateway"), f"{where}.gateway", required=False),
        })
    for index, wlan in enumerate(_list(name, networks.get("wlans"), "site.networks.wlans")):
        where = f"site.networks.wlans[{index}]"
        wlan = _mapping(name, wlan, where)
        # deliberately no "psk": the passphrase's vault variable is not part of the plan
        encryption = _text(name, wlan.get("encryption", "wpa3"), f"{where}.encryption")
        plan["wlans"].append({
            "ssid": _text(name, wlan.get("ssid"), f"{where}.ssid"),
            "vlan": _text(name, wlan.get("vlan"), f"{where}.vlan", required=False),
            "encryption": ENCRYPTION.get(encryption, encryption),
        })
    _links(plan)
    return plan


def _vendor(key: str | None) -> str | None:
    """The vendor's title as its driver declares it (praxis_driver.registry())."""
    record = registry().get(key) if key else None
    return record.title if record is not None else key


def _links(plan: dict) -> None:
    """Give every device its link: the uplink of the site file; for a firewall without
    one the internet; for any other device without one the first switch, else the first
    firewall (marked as assumed)."""
    names = {d["name"] for d in plan["devices"]}
    first = {}
    for device in plan["devices"]:
        first.setdefault(device["role"], device["name"])
    fallback = first.get("switch") or first.get("firewall")
    wlan_vlans = sorted({w["vlan"] for w in plan["wlans"] if w["vlan"]}, key=_vlan_key)
    for device in plan["devices"]:
        uplink = device["uplink"]
        device["wan"] = device["role"] == "firewall" and not uplink
        device["assumed"] = False
        if uplink and uplink not in names:
            device["link"] = None  # the inventory rejects this; draw nothing rather than guess
        elif uplink:
            device["link"] = uplink
        elif device["wan"] or fallback in (None, device["name"]):
            device["link"] = None
        else:
            device["link"] = fallback
            device["assumed"] = True
        if not device["link"]:
            device["link_vlans"] = []
        elif device["vlans"]:
            device["link_vlans"] = device["vlans"]
        elif device["role"] == "access_point":
            device["link_vlans"] = wlan_vlans
        else:
            device["link_vlans"] = []


def _vlan_key(value: str):
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def _fact(device: dict, key: str) -> str | None:
    value = device["facts"].get(key)
    if value is None or value == "":
        return None
    return _CONTROL.sub(" ", str(value)).strip() or None


def _model(device: dict) -> str | None:
    listed, reported = device["model"], _fact(device, "model")
    if listed and reported and reported != listed:
        return f"{listed} (device reports {reported})"
    return listed or reported


def _instant(text: str):
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _newest_check(plan: dict) -> str | None:
    newest = None
    for device in plan["devices"]:
        text = _fact(device, "checked_at")
        moment = _instant(text) if text else None
        if moment and (newest is None or moment > newest[0]):
            newest = (moment, text)
    return newest[1] if newest else None


def _vlan_list(values) -> str:
    return ", ".join(values)


# -- DOT ---------------------------------------------------------------------------
def _dot_id(text: str) -> str:
    text = _CONTROL.sub(" ", text).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _html(text) -> str:
    """Text for an HTML-like Graphviz label: entities for & < > " ' and a doubled
    backslash (Graphviz would read \\N, \\G ... as its own escapes)."""
    text = _CONTROL.sub(" ", str(text))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace('"', "&quot;").replace("'", "&#39;")
    return text.replace("\\", "\\\\")


def _node_label(device: dict, wlans: list[dict]) -> str:
    lines = [f"<B>{_html(device['name'])}</B>"]
    model = " ".join(_html(p) for p in (device["vendor"], _model(device)) if p)
    if model:
        lines.append(model)
    if device["address"]:
        lines.append(_html(device["address"]))
    firmware = _fact(device, "firmware_version")
    if firmware:
        lines.append(f"firmware {_html(firmware)}")
    if device["role"] == "access_point":
        for wlan in wlans:
            vlan = f", VLAN {_html(wlan['vlan'])}" if wlan["vlan"] else ""
            lines.append(f'<I>WLAN &quot;{_html(wlan["ssid"])}&quot; ({_html(wlan["encryption"])}{vlan})</I>')
    return "<" + "<BR/>".join(lines) + ">"


def praxis_network_dot(site, facts=None):
    """Graphviz DOT text of one practice's network: devices grouped by role, uplinks,
    VLANs on the links, WLANs on the access points, the internet above the firewall."""
    plan = _plan("praxis_network_dot", site, facts)
    title = f"<B>{_html('Network plan: ' + plan['name'] + ' (' + plan['id'] + ')')}</B>"
    if any(d["assumed"] for d in plan["devices"]):
        title += '<BR/><FONT POINT-SIZE="9">dashed: assumed link (no uplink in the site file)</FONT>'
    out = [
        f"graph {_dot_id('network_plan_' + plan['id'])} {{",
        f"  graph [label=<{title}>, labelloc=t, fontname=\"Helvetica\", fontsize=14,"
        " rankdir=TB, nodesep=0.3, ranksep=0.6];",
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=9, color="#555555"];',
    ]
    if any(d["wan"] for d in plan["devices"]):
        out.append(f'  "_wan" [label=<{_html(WAN)}>, shape=ellipse, fillcolor="#e8e8e8"];')
    fills = {"firewall": "#fde2e2", "switch": "#e2ecfd", "access_point": "#e5f6e5", "nas": "#fff4d6",
             "server": "#efe5fb", "workplace": "#f4f4f4"}
    for group, role, label in ROLES:
        members = [d for d in plan["devices"] if d["group"] == group]
        if not members:
            continue
        out.append(f"  subgraph {_dot_id('cluster_' + group)} {{")
        out.append(f'    label=<{_html(label)}>; style="rounded,dashed"; color="#aaaaaa"; fontsize=10;')
        for device in members:
            out.append(f'    {_dot_id(device["host"])} [label={_node_label(device, plan["wlans"])},'
                       f' fillcolor="{fills[role]}"];')
        out.append("  }")
    hosts = {d["name"]: d["host"] for d in plan["devices"]}
    for device in plan["devices"]:
        if device["wan"]:
            out.append(f'  "_wan" -- {_dot_id(device["host"])} [label=<WAN>];')
        if not device["link"]:
            continue
        attrs = []
        if device["link_vlans"]:
            attrs.append(f"label=<VLAN {_html(_vlan_list(device['link_vlans']))}>")
        if device["assumed"]:
            attrs.append('style=dashed, tooltip="no uplink in the site file: assumed"')
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        out.append(f"  {_dot_id(hosts[device['link']])} -- {_dot_id(device['host'])}{suffix};")
    if plan["vlans"]:
        rows = ['<TR><TD COLSPAN="4"><B>VLANs</B></TD></TR>',
                "<TR><TD>ID</TD><TD>Name</TD><TD>Subnet</TD><TD>Gateway</TD></TR>"]
        for vlan in plan["vlans"]:
            cells = (vlan["id"], vlan["name"], vlan["subnet"], vlan["gateway"])
            rows.append("<TR>" + "".join(f"<TD>{_html(c or NONE)}</TD>" for c in cells) + "</TR>")
        out.append('  "_vlans" [shape=plaintext, style="", label=<<TABLE BORDER="0" CELLBORDER="1"'
                   ' CELLSPACING="0" CELLPADDING="3">' + "".join(rows) + "</TABLE>>];")
    out.append("}")
    return "\n".join(out) + "\n"


# -- Markdown ----------------------------------------------------------------------
def _md(value) -> str:
    """Text for a Markdown table cell or heading: entities for & < >, backslash
    before the characters that start formatting, tables or headings."""
    if value is None or value == "":
        return NONE
    text = _CONTROL.sub(" ", str(value)).strip()
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text) or NONE


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def _link_text(device: dict, first_switch: bool) -> str:
    if device["wan"]:
        return WAN
    if not device["link"]:
        return None
    if device["assumed"]:
        return f"{device['link']} (assumed: first {'switch' if first_switch else 'firewall'})"
    return device["link"]


def _wlan_vlan(vlan: str | None, name: str | None) -> str | None:
    return f"{vlan} ({name})" if vlan and name else vlan


def praxis_network_markdown(site, facts=None, generated_at=None):
    """Markdown network plan of one practice: devices, VLANs, WLANs (without
    passphrases) and uplinks."""
    name = "praxis_network_markdown"
    plan = _plan(name, site, facts)
    generated_at = _text(name, generated_at, "generated_at", required=False) or _newest_check(plan)
    has_switch = any(d["role"] == "switch" for d in plan["devices"])
    out = [f"# Network plan: {_md(plan['name'])} ({_md(plan['id'])})", ""]
    out.append(f"Generated at: {_md(generated_at) if generated_at else '- (no device facts gathered)'}  ")
    if plan["file"]:
        out.append(f"Site file: {_md(plan['file'])}  ")
    out.append("Firmware versions, reported models and the last-seen times come from the device facts; "
               f"{UNKNOWN} or {NONE} where none were gathered.")
    out += ["", "## Devices", ""]
    out += _table(
        ["Name", "Role", "Vendor", "Model", "Address", "Uplink", "Firmware version", "Last seen"],
        [[d["name"], d["role"].replace("_", " "), d["vendor"], _model(d), d["address"],
          _link_text(d, has_switch), _fact(d, "firmware_version") or UNKNOWN, _fact(d, "checked_at")]
         for d in plan["devices"]])
    out += ["", "## VLANs", ""]
    if plan["vlans"]:
        out += _table(["ID", "Name", "Subnet", "Gateway"],
                      [[v["id"], v["name"], v["subnet"], v["gateway"]] for v in plan["vlans"]])
    else:
        out.append("No VLANs in the site file.")
    out += ["", "## WLANs", ""]
    if plan["wlans"]:
        vlan_names = {v["id"]: v["name"] for v in plan["vlans"]}
        out += _table(["SSID", "VLAN", "Encryption"],
                      [[w["ssid"], _wlan_vlan(w["vlan"], vlan_names.get(w["vlan"])), w["encryption"]]
                       for w in plan["wlans"]])
        out.append("")
        out.append("Passphrases are kept in the vault and are not part of this document.")
    else:
        out.append("No WLANs in the site file.")
    out += ["", "## Uplinks", ""]
    out += _table(["Device", "Connected to", "VLANs"],
                  [[d["name"], _link_text(d, has_switch), _vlan_list(d["link_vlans"])]
                   for d in plan["devices"]])
    return "\n".join(out) + "\n"


class FilterModule:
    def filters(self):
        return {
            "praxis_network_dot": praxis_network_dot,
            "praxis_network_markdown": praxis_network_markdown,
        }
