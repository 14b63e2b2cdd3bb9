# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Onboarding settings of a network device from the site file (NET-01, NET-07).

``praxis_network_settings`` turns a device of the site file, the site's
VLANs/WLANs and the provider's variables into the vendor-neutral settings
fragment ``praxis_device_settings`` makes true. Secrets stay vault variable
names here (``psk: vault_huber_wlan_praxis``); the action plugin resolves them
when it talks to the device, so no secret passes through templating or
appears in a task's arguments.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ansible.errors import AnsibleFilterError

GUEST_NAMES = ("gast", "gaeste", "gäste", "guest", "guests")


def _vlans(site: dict[str, Any]) -> list[dict[str, Any]]:
    return list(((site.get("networks") or {}).get("vlans")) or [])


def _purpose(vlan: dict[str, Any]) -> str:
    if vlan.get("purpose"):
        return vlan["purpose"]
    return "guest" if str(vlan.get("name", "")).lower() in GUEST_NAMES else "practice"


def firewall_rules(site: dict[str, Any], interfaces: dict[Any, str] | None = None) -> list[dict[str, Any]]:
    """Baseline rules: guests reach the internet but no practice network
    (logged when blocked, NET-05); practice VLANs reach the internet; the
    other VLANs reach only their own net. Interface per VLAN from the site
    file, else from ``interfaces`` ({vlan id: name}), else lan / opt1, opt2, ..."""
    vlans = _vlans(site)
    interfaces = {int(k): v for k, v in (interfaces or {}).items()}
    rules: list[dict[str, Any]] = []
    internal = [v for v in vlans if _purpose(v) != "guest" and v.get("subnet")]
    for index, vlan in enumerate(vlans):
        iface = vlan.get("interface") or interfaces.get(int(vlan["id"])) or ("lan" if index == 0 else f"opt{index}")
        source = vlan.get("subnet") or f"{iface}net"
        base = {"interface": iface, "direction": "in", "ipprotocol": "inet", "protocol": "any",
                "source_net": source, "destination_port": ""}
        sequence = 100 + index * 10
        if _purpose(vlan) == "guest":
            for offset, other in enumerate(internal):
                rules.append(dict(base, description=f"block {vlan['name']} to {other['name']}", action="block",
                                  destination_net=other["subnet"], sequence=sequence + offset, log=True))
            rules.append(dict(base, description=f"allow {vlan['name']} to the internet", action="pass",
                              destination_net="any", sequence=sequence + 9, log=False))
        elif _purpose(vlan) == "practice":
            rules.append(dict(base, description=f"allow {vlan['name']} outbound", action="pass",
                              destination_net="any", sequence=sequence, log=False))
        else:
            rules.append(dict(base, description=f"allow {vlan['name']} within its net", action="pass",
                              destination_net=source, sequence=sequence, log=False))
    return rules


def _check_syslog(hosts: Any) -> list[dict[str, Any]]:
    if not isinstance(hosts, list):
        raise AnsibleFilterError(f"praxis_network_settings: syslog_hosts must be a list, got {hosts!r}")
    out = []
    for item in hosts:
        if not isinstance(item, dict) or not item.get("host"):
            raise AnsibleFilterError(f"praxis_network_settings: syslog_hosts item without host: {item!r}")
        try:
            ipaddress.ip_address(str(item["host"]))
        except ValueError:
            raise AnsibleFilterError(f"praxis_network_settings: syslog host {item['host']!r} is not an IP "
                                     "address") from None
        transport = item.get("transport", "udp")
        if transport not in ("udp", "tcp"):
            raise AnsibleFilterError(f"praxis_network_settings: syslog transport {transport!r} is not udp or tcp")
        out.append({"host": str(item["host"]), "port": int(item.get("port", 514)), "transport": transport,
                    "description": item.get("description") or f"log host {item['host']}"})
    return out


def praxis_network_settings(device: Any, site: Any, syslog_hosts: Any = None, switch_ports: Any = None,
                            nas_users: Any = None, interfaces: Any = None) -> dict[str, Any]:
    """The settings fragment for one device (see module docs of praxis_device_settings)."""
    if not isinstance(device, dict) or "role" not in device:
        raise AnsibleFilterError(f"praxis_network_settings: expects praxis_device, got {device!r}")
    if not isinstance(site, dict) or "id" not in site:
        raise AnsibleFilterError("praxis_network_settings: the second argument must be praxis_site")
    role = device["role"]
    settings: dict[str, Any] = {}
    syslog = _check_syslog(syslog_hosts or [])
    if syslog:
        settings["syslog"] = syslog
    if role == "firewall":
        if interfaces is not None and not isinstance(interfaces, dict):
            raise AnsibleFilterError(f"praxis_network_settings: interfaces must be a dict, got {interfaces!r}")
        settings["rules"] = firewall_rules(site, interfaces)
    elif role == "switch":
        wanted = set(device.get("vlans") or [v["id"] for v in _vlans(site)])
        settings["vlans"] = [{"id": int(v["id"]), "name": v["name"]} for v in _vlans(site) if v["id"] in wanted]
        ports = switch_ports or []
        if not isinstance(ports, list):
            raise AnsibleFilterError(f"praxis_network_settings: switch_ports must be a list, got {ports!r}")
        known = {v["id"] for v in settings["vlans"]}
        for port in ports:
            if not isinstance(port, dict) or not port.get("port"):
                raise AnsibleFilterError(f"praxis_network_settings: switch port without port name: {port!r}")
            unknown = sorted(set(port.get("vlans") or []) - known)
            if unknown:
                raise AnsibleFilterError(f"praxis_network_settings: port {port['port']} of {site['id']}-"
                                         f"{device['name']} names VLAN(s) {unknown} the switch does not carry")
        if ports:
            settings["ports"] = ports
    elif role == "access_point":
        settings["wlans"] = [{"ssid": w["ssid"], "vlan": int(w["vlan"]), "encryption": w.get("encryption", "wpa3"),
                              "psk": w["psk"]} for w in ((site.get("networks") or {}).get("wlans") or [])]
    elif role == "nas":
        users = nas_users or []
        if not isinstance(users, list):
            raise AnsibleFilterError(f"praxis_network_settings: nas_users must be a list, got {users!r}")
        for user in users:
            if not isinstance(user, dict) or not user.get("name"):
                raise AnsibleFilterError(f"praxis_network_settings: NAS user without name: {user!r}")
            if user.get("state", "present") == "present" and not str(user.get("password", "")).startswith("vault_"):
                raise AnsibleFilterError(f"praxis_network_settings: NAS user {user['name']}: password must name a "
                                         "vault variable (vault_...), not hold the password")
        if users:
            settings["users"] = [dict({"state": "present", "description": "", "email": ""}, **u) for u in users]
    else:
        raise AnsibleFilterError(f"praxis_network_settings: {device.get('name')} is a {role}, not a network device")
    return settings


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"praxis_network_settings": praxis_network_settings}
