"""Network plan filters (SITE-02): the demo sites as DOT and Markdown, output
Graphviz and a Markdown parser read back unchanged, no secrets, hostile names,
missing facts and errors that name the filter and the bad value."""

from __future__ import annotations

import copy
import importlib.util
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible.module_utils.praxis_site import load_sites, resolved_site

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("praxis_network_plan_filters",
                                              ROOT / "filter_plugins" / "praxis_network_plan.py")
plan_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plan_module)
FILTERS = plan_module.FilterModule().filters()
DOT = FILTERS["praxis_network_dot"]
MARKDOWN = FILTERS["praxis_network_markdown"]
DEMO = {site["id"]: resolved_site(site) for site in load_sites(ROOT / "inventories" / "demo" / "sites")}
ROLE_GROUPS = ("firewalls", "switches", "access_points", "nas", "servers", "workplaces")  # drawing order
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = 'Praxis "Dr. <Müller>" | Söhne & Co \\N *fett* _kursiv_ [x](y) `z` #1'


def devices(site):
    return [d for group in ROLE_GROUPS for d in site["devices"].get(group) or []]


def secrets(site):
    """Every vault variable name a site file holds: WLAN passphrases and credentials."""
    names = {w["psk"] for w in site["networks"].get("wlans") or []}
    return names | {d["credentials"] for d in devices(site)}


def render_svg(dot_text: str) -> ET.Element:
    if shutil.which("dot") is None:
        pytest.skip("Graphviz (dot) is not installed")
    result = subprocess.run(["dot", "-Tsvg"], input=dot_text.encode("utf-8"), capture_output=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert not result.stderr, result.stderr.decode()  # Graphviz warns about bad labels on stderr
    return ET.fromstring(result.stdout)  # noqa: S314 - written by Graphviz in this test


def svg_texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def markdown_tables(text: str) -> dict[str, list[list[str]]]:
    """{heading: rows of cell texts} as a CommonMark + tables parser reads the document."""
    markdown_it = pytest.importorskip("markdown_it")
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)
    tables, heading, row, cell = {}, None, None, None
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            heading = tokens[index + 1].content
        elif token.type == "tr_open":
            row = []
            tables.setdefault(heading, []).append(row)
        elif token.type in ("th_open", "td_open"):
            cell = index
        elif token.type == "inline" and cell is not None:
            row.append("".join(child.content for child in token.children if child.type in ("text", "code_inline")))
            cell = None
    return tables


def hostile_site():
    site = copy.deepcopy(DEMO["huber"])
    site["name"] = HOSTILE
    site["networks"]["wlans"][0]["ssid"] = 'Gäste | "WLAN" <5G>'
    site["devices"]["workplaces"][0]["model"] = "<b>OptiPlex</b> \\G | 7010"
    return site


# -- demo sites ----------------------------------------------------------------------
@pytest.mark.parametrize("site_id", sorted(DEMO))
def test_markdown_lists_every_device_vlan_and_wlan(site_id):
    site = DEMO[site_id]
    text = MARKDOWN(site, {})
    tables = markdown_tables(text)
    assert text.startswith(f"# Network plan: {site['name'].replace('&', '&amp;')} ({site_id})\n")
    assert [row[0] for row in tables["Devices"][1:]] == [d["name"] for d in devices(site)]
    assert [row[4] for row in tables["Devices"][1:]] == [d["address"] for d in devices(site)]
    assert tables["Devices"][0] == ["Name", "Role", "Vendor", "Model", "Address", "Uplink", "Firmware version",
                                    "Last seen"]
    vlans = site["networks"].get("vlans") or []
    assert [row[0] for row in tables.get("VLANs", [[]])[1:]] == [str(v["id"]) for v in vlans]
    wlans = site["networks"].get("wlans") or []
    assert [row[0] for row in tables.get("WLANs", [[]])[1:]] == [w["ssid"] for w in wlans]
    assert [row[0] for row in tables["Uplinks"][1:]] == [d["name"] for d in devices(site)]


@pytest.mark.parametrize("site_id", sorted(DEMO))
def test_dot_of_the_demo_sites_renders(site_id):
    site = DEMO[site_id]
    text = DOT(site, {})
    root = render_svg(text)
    titles = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    for device in devices(site):
        assert f"{site_id}-{device['name']}" in titles
    texts = svg_texts(root)
    assert f"Network plan: {site['name']} ({site_id})" in texts
    for wlan in site["networks"].get("wlans") or []:
        assert any(f'"{wlan["ssid"]}"' in t for t in texts)


@pytest.mark.parametrize("site_id", sorted(DEMO))
def test_no_passphrase_or_credentials_name_in_the_output(site_id):
    site = DEMO[site_id]
    output = DOT(site, {}) + MARKDOWN(site, {}, "2026-11-24")
    names = secrets(site)
    assert names
    for name in names:
        assert name not in output
    assert "vault_" not in output


def test_huber_plan_in_detail():
    site = DEMO["huber"]
    tables = markdown_tables(MARKDOWN(site, {}))
    devices_by_name = {row[0]: row for row in tables["Devices"][1:]}
    assert devices_by_name["fw01"] == ["fw01", "firewall", "OPNsense", "DEC740", "192.168.10.1", "Internet (WAN)",
                                       "unknown", "-"]
    assert devices_by_name["ap01"][5] == "sw01"
    assert devices_by_name["ws01"][5] == "sw01 (assumed: first switch)"
    assert tables["VLANs"][1:] == [["10", "praxis", "192.168.10.0/24", "192.168.10.1"],
                                   ["20", "gaeste", "192.168.20.0/24", "192.168.20.1"]]
    assert tables["WLANs"][1:] == [["Praxis-Huber", "10 (praxis)", "WPA3"]]
    uplinks = {row[0]: row for row in tables["Uplinks"][1:]}
    assert uplinks["sw01"] == ["sw01", "fw01", "10, 20"]  # the switch's trunk
    assert uplinks["ap01"] == ["ap01", "sw01", "10"]  # the VLANs of the WLANs
    text = DOT(site, {})
    assert '"_wan" -- "huber-fw01"' in text
    assert '"huber-fw01" -- "huber-sw01" [label=<VLAN 10, 20>];' in text
    assert '"huber-sw01" -- "huber-ws01" [style=dashed' in text
    assert "WLAN &quot;Praxis-Huber&quot; (WPA3, VLAN 10)" in text


def test_devices_without_uplink_hang_on_the_firewall_when_there_is_no_switch():
    tables = markdown_tables(MARKDOWN(DEMO["wagner"], {}))
    uplinks = {row[0]: row[1] for row in tables["Uplinks"][1:]}
    assert uplinks == {"fw01": "Internet (WAN)", "ap01": "fw01", "nas01": "fw01 (assumed: first firewall)",
                       "therapie1": "fw01 (assumed: first firewall)", "therapie2": "fw01 (assumed: first firewall)"}


def test_a_site_with_workplaces_only_draws_no_links():
    site = {"id": "klein", "name": "Praxis Klein",
            "devices": {"workplaces": [{"name": "ws01", "address": "10.0.0.21"}]}}
    text = DOT(site, None)
    assert " -- " not in text and "_wan" not in text
    render_svg(text)
    rows = markdown_tables(MARKDOWN(site, None))["Devices"][1:]
    assert rows == [["ws01", "workplace", "-", "-", "10.0.0.21", "-", "unknown", "-"]]


# -- facts -------------------------------------------------------------------------
FACTS = {
    "huber-fw01": {"firmware_version": "24.7.9", "model": "DEC740", "hostname": "fw01",
                   "checked_at": "2026-11-24T01:10:00+00:00"},
    "huber-sw01": {"firmware_version": "5.00.0123", "model": "GS-3652XP-B", "checked_at": "2026-11-24T02:20:00+01:00"},
    "huber-nas01": {"firmware_version": None, "model": None, "checked_at": "2026-11-24T01:30:00Z"},
}


@pytest.mark.parametrize(("facts", "generated_at", "expected_line"), [
    ({}, None, "Generated at: - (no device facts gathered)  "),
    (None, "", "Generated at: - (no device facts gathered)  "),
    (FACTS, None, "Generated at: 2026-11-24T01:30:00Z  "),  # newest instant, not the largest text
    (FACTS, "2026-11-25T08:00:00+01:00", "Generated at: 2026-11-25T08:00:00+01:00  "),
])
def test_generated_at_line(facts, generated_at, expected_line):
    assert expected_line in MARKDOWN(DEMO["huber"], facts, generated_at).splitlines()


def test_facts_fill_firmware_model_and_last_seen():
    tables = markdown_tables(MARKDOWN(DEMO["huber"], FACTS))
    rows = {row[0]: row for row in tables["Devices"][1:]}
    assert rows["fw01"][3:] == ["DEC740", "192.168.10.1", "Internet (WAN)", "24.7.9", "2026-11-24T01:10:00+00:00"]
    assert rows["sw01"][3] == "GS-3652XP (device reports GS-3652XP-B)"
    assert rows["nas01"][6:] == ["unknown", "2026-11-24T01:30:00Z"]  # null values count as missing
    assert rows["ap01"][6:] == ["unknown", "-"]
    text = DOT(DEMO["huber"], FACTS)
    assert "192.168.10.1<BR/>firmware 24.7.9>" in text
    assert "firmware" not in text.split('"huber-ap01"')[1].split("\n")[0]


@pytest.mark.parametrize("facts", [{}, None, {"other-fw01": {"firmware_version": "1"}}, {"huber-fw01": None}])
def test_missing_facts_read_unknown(facts):
    tables = markdown_tables(MARKDOWN(DEMO["huber"], facts))
    for row in tables["Devices"][1:]:
        assert row[6:] == ["unknown", "-"]
    assert "firmware" not in DOT(DEMO["huber"], facts)


def test_same_input_same_text():
    assert DOT(DEMO["schmidt"], FACTS) == DOT(copy.deepcopy(DEMO["schmidt"]), copy.deepcopy(FACTS))
    assert MARKDOWN(DEMO["schmidt"], FACTS) == MARKDOWN(copy.deepcopy(DEMO["schmidt"]), copy.deepcopy(FACTS))


# -- escaping ----------------------------------------------------------------------
def test_hostile_names_survive_graphviz():
    site = hostile_site()
    facts = {"huber-fw01": {"firmware_version": '1.0 "beta" <rc> & \\L'}}
    texts = svg_texts(render_svg(DOT(site, facts)))
    assert f"Network plan: {HOSTILE} (huber)" in texts  # \N is not replaced by a node name
    assert 'WLAN "Gäste | "WLAN" <5G>" (WPA3, VLAN 10)' in texts
    assert "Dell <b>OptiPlex</b> \\G | 7010" in texts
    assert 'firmware 1.0 "beta" <rc> & \\L' in texts


@pytest.mark.parametrize("name", ['a"b', "a\\", 'x\\"y', "line\nbreak", "<tag>", "ä ö ü ß", "O'Neil & Söhne"])
def test_dot_ids_and_labels_with_quotes_and_backslashes_parse(name):
    site = {"id": "t", "name": name, "devices": {"firewalls": [{"name": name, "address": "10.0.0.1"}]}}
    root = render_svg(DOT(site, {}))
    titles = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    assert len(titles) == 5  # graph, role cluster, WAN, firewall, the link
    assert name.replace("\n", " ") in svg_texts(root)


def test_hostile_names_survive_markdown():
    site = hostile_site()
    text = MARKDOWN(site, {"huber-sw01": {"firmware_version": "5 | 6", "checked_at": "<now>"}})
    assert text.splitlines()[0] == (
        "# Network plan: Praxis \"Dr. &lt;Müller&gt;\" \\| Söhne &amp; Co \\\\N \\*fett\\* \\_kursiv\\_ "
        "\\[x\\](y) \\`z\\` \\#1 (huber)")
    tables = markdown_tables(text)
    assert all(len(row) == 8 for row in tables["Devices"])
    rows = {row[0]: row for row in tables["Devices"][1:]}
    assert rows["ws01"][3] == "<b>OptiPlex</b> \\G | 7010"
    assert rows["sw01"][6:] == ["5 | 6", "<now>"]
    assert tables["WLANs"][1] == ['Gäste | "WLAN" <5G>', "10 (praxis)", "WPA3"]
    assert "<b>" not in text and "<5G>" not in text


def test_line_breaks_do_not_break_a_table_row():
    site = copy.deepcopy(DEMO["huber"])
    site["devices"]["firewalls"][0]["model"] = "DEC\n| 740\r\n#"
    tables = markdown_tables(MARKDOWN(site, {}))
    assert tables["Devices"][1][3] == "DEC | 740 #"
    assert len(tables["Devices"]) == 1 + len(devices(site))


# -- bad input ---------------------------------------------------------------------
def with_change(path, value):
    site = copy.deepcopy(DEMO["huber"])
    target = site
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return site


@pytest.mark.parametrize(("name", "args", "message"), [
    ("praxis_network_dot", (None, {}), "praxis_network_dot: site (praxis_site) must be a mapping, got NoneType None"),
    ("praxis_network_markdown", (["huber"], {}),
     "praxis_network_markdown: site (praxis_site) must be a mapping, got list ['huber']"),
    ("praxis_network_dot", ("huber", {}), "praxis_network_dot: site (praxis_site) must be a mapping, got str 'huber'"),
    ("praxis_network_dot", (DEMO["huber"], "facts"),
     "praxis_network_dot: facts (host name -> device facts) must be a mapping, got str 'facts'"),
    ("praxis_network_markdown", (DEMO["huber"], [{"firmware_version": "1"}]),
     "praxis_network_markdown: facts (host name -> device facts) must be a mapping, got list"),
    ("praxis_network_markdown", (DEMO["huber"], {"huber-fw01": "24.7"}),
     "praxis_network_markdown: facts['huber-fw01'] must be a mapping, got str '24.7'"),
    ("praxis_network_dot", (with_change(["id"], None), {}),
     "praxis_network_dot: site.id must be a string or a number, got NoneType None"),
    ("praxis_network_dot", (with_change(["devices"], ["fw01"]), {}),
     "praxis_network_dot: site.devices must be a mapping, got list ['fw01']"),
    ("praxis_network_dot", (with_change(["devices", "switches"], {"name": "sw01"}), {}),
     "praxis_network_dot: site.devices.switches must be a list, got dict"),
    ("praxis_network_markdown", (with_change(["devices", "switches"], ["sw01"]), {}),
     "praxis_network_markdown: site.devices.switches[0] must be a mapping, got str 'sw01'"),
    ("praxis_network_dot", (with_change(["devices", "firewalls", 0, "name"], ["fw01"]), {}),
     "praxis_network_dot: site.devices.firewalls[0].name must be a string or a number, got list ['fw01']"),
    ("praxis_network_dot", (with_change(["devices", "switches", 0, "vlans"], "10,20"), {}),
     "praxis_network_dot: site.devices.switches[0].vlans must be a list, got str '10,20'"),
    ("praxis_network_markdown", (with_change(["networks", "vlans"], {"id": 10}), {}),
     "praxis_network_markdown: site.networks.vlans must be a list, got dict"),
    ("praxis_network_markdown", (with_change(["networks", "wlans", 0, "ssid"], True), {}),
     "praxis_network_markdown: site.networks.wlans[0].ssid must be a string or a number, got bool True"),
    ("praxis_network_markdown", (with_change(["networks", "wlans"], ["Praxis-Huber"]), {}),
     "praxis_network_markdown: site.networks.wlans[0] must be a mapping, got str 'Praxis-Huber'"),
    ("praxis_network_markdown", (DEMO["huber"], {}, {"at": "now"}),
     "praxis_network_markdown: generated_at must be a string or a number, got dict {'at': 'now'}"),
])
def test_bad_input_names_the_filter_and_the_value(name, args, message):
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS[name](*args)
    assert message in str(info.value)


def test_a_long_bad_value_is_shortened_in_the_message():
    with pytest.raises(AnsibleFilterError) as info:
        DOT(["x" * 500], {})
    assert len(str(info.value)) < 200


def test_every_filter_has_its_documentation():
    for name in FILTERS:
        assert (ROOT / "filter_plugins" / f"{name}.yml").is_file(), name
    assert re.search(r"^\s+name: praxis_network_dot$",
                     (ROOT / "filter_plugins" / "praxis_network_dot.yml").read_text(), re.MULTILINE)
