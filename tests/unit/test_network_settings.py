"""praxis_network_settings: onboarding settings from the site file (NET-01)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from filter_plugins.praxis_network import praxis_network_settings

SITE = {
    "id": "huber",
    "networks": {
        "vlans": [{"id": 10, "name": "praxis", "subnet": "192.168.10.0/24"},
                  {"id": 20, "name": "gaeste", "subnet": "192.168.20.0/24"},
                  {"id": 30, "name": "telefon", "subnet": "192.168.30.0/24", "purpose": "voice", "interface": "igc2"}],
        "wlans": [{"ssid": "Praxis", "vlan": 10, "psk": "vault_huber_wlan"}],
    },
}
FW = {"name": "fw01", "role": "firewall"}


def test_firewall_rules_keep_guests_away_and_log_blocks():
    rules = praxis_network_settings(FW, SITE)["rules"]
    blocks = [r for r in rules if r["action"] == "block"]
    assert {r["destination_net"] for r in blocks} == {"192.168.10.0/24", "192.168.30.0/24"}
    assert all(r["log"] and r["source_net"] == "192.168.20.0/24" and r["interface"] == "opt1" for r in blocks)
    passes = {r["description"]: r for r in rules if r["action"] == "pass"}
    assert passes["allow praxis outbound"]["interface"] == "lan"
    assert passes["allow telefon within its net"]["interface"] == "igc2"
    assert len({r["description"] for r in rules}) == len(rules)   # descriptions identify managed rules
    assert len({r["sequence"] for r in rules}) == len(rules)


def test_interfaces_map_used_where_site_names_none():
    rules = praxis_network_settings(FW, SITE, interfaces={20: "igc1_vlan20"})["rules"]
    assert {r["interface"] for r in rules if r["source_net"] == "192.168.20.0/24"} == {"igc1_vlan20"}


def test_access_point_wlans_keep_vault_reference():
    settings = praxis_network_settings({"name": "ap01", "role": "access_point"}, SITE,
                                       [{"host": "192.0.2.10"}])
    assert settings["wlans"] == [{"ssid": "Praxis", "vlan": 10, "encryption": "wpa3", "psk": "vault_huber_wlan"}]
    assert settings["syslog"] == [{"host": "192.0.2.10", "port": 514, "transport": "udp",
                                   "description": "log host 192.0.2.10"}]


def test_switch_vlans_follow_device_and_ports_are_checked():
    switch = {"name": "sw01", "role": "switch", "vlans": [10, 20]}
    settings = praxis_network_settings(switch, SITE, None, [{"port": "1/0/1", "vlans": [10], "poe": True}])
    assert [v["id"] for v in settings["vlans"]] == [10, 20] and settings["ports"][0]["port"] == "1/0/1"
    with pytest.raises(AnsibleFilterError, match=r"port 1/0/2 of huber-sw01 names VLAN\(s\) \[30\]"):
        praxis_network_settings(switch, SITE, None, [{"port": "1/0/2", "vlans": [30]}])


def test_nas_users_need_vault_passwords():
    nas = {"name": "nas01", "role": "nas"}
    users = praxis_network_settings(nas, SITE, None, None, [{"name": "praxis", "password": "vault_p"}])["users"]
    assert users == [{"state": "present", "description": "", "email": "", "name": "praxis", "password": "vault_p"}]
    with pytest.raises(AnsibleFilterError, match="NAS user anna: password must name a vault variable"):
        praxis_network_settings(nas, SITE, None, None, [{"name": "anna", "password": "Geheim123"}])
    absent = praxis_network_settings(nas, SITE, None, None, [{"name": "old", "state": "absent"}])
    assert absent["users"][0]["state"] == "absent"


@pytest.mark.parametrize("args,needle", [
    (("x", SITE), "expects praxis_device"),
    ((FW, {"no": "id"}), "must be praxis_site"),
    ((FW, SITE, "10.0.0.1"), "syslog_hosts must be a list"),
    ((FW, SITE, [{"port": 514}]), "syslog_hosts item without host"),
    ((FW, SITE, [{"host": "loghost.example"}]), "is not an IP address"),
    ((FW, SITE, [{"host": "10.0.0.1", "transport": "tls"}]), "transport 'tls'"),
    (({"name": "ws01", "role": "workplace"}, SITE), "not a network device"),
    ((FW, SITE, None, None, None, ["lan"]), "interfaces must be a dict"),
])
def test_bad_input_named(args, needle):
    with pytest.raises(AnsibleFilterError, match=needle):
        praxis_network_settings(*args)
