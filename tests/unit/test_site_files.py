"""Site files (SITE-01): every kind of bad input gives one clear error naming
the file, the field path and what is wrong; nothing is returned half-done."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from ansible.module_utils import praxis_site
from ansible.module_utils.praxis_site import (
    SCHEMA_PATH, SiteError, field_path, load_sites, resolved_site, schema_problems, site_hosts,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "inventories" / "demo" / "sites"


def minimal(site_id="mueller", address_prefix="192.168.50"):
    vault = site_id.replace("-", "_")
    return {
        "id": site_id, "name": "Praxis Müller", "state": "BY",
        "contacts": [{"name": "Dr. Müller", "email": "praxis@mueller.example.org"}],
        "pilot": "ws01",
        "devices": {
            "firewalls": [{"name": "fw01", "address": f"{address_prefix}.1", "vendor": "opnsense",
                           "model": "DEC740", "credentials": f"vault_{vault}_fw01"}],
            "workplaces": [{"name": "ws01", "address": f"{address_prefix}.21", "credentials": f"vault_{vault}_win"}],
        },
    }


def write(folder: Path, name: str, data) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def problems_of(tmp_path: Path) -> list[str]:
    with pytest.raises(SiteError) as info:
        load_sites(tmp_path, base=tmp_path.parent)
    return info.value.problems


def test_demo_sites_load():
    sites = load_sites(DEMO)
    assert sorted(s["id"] for s in sites) == ["huber", "schmidt", "wagner"]
    states = {s["id"]: s["state"] for s in sites}
    assert states["huber"] == "BY"


def test_minimal_site_builds_hosts_and_defaults(tmp_path):
    write(tmp_path, "mueller.yml", minimal())
    (site,) = load_sites(tmp_path)
    resolved = resolved_site(site)
    assert resolved["business_hours"]["mon"] == ["08:00-18:00"]
    assert "sat" not in resolved["business_hours"]
    assert resolved["timezone"] == "Europe/Berlin"
    assert resolved["group"] == "site_mueller"
    hosts = {h["host"]: h for h in site_hosts(site)}
    assert set(hosts) == {"mueller-fw01", "mueller-ws01"}
    assert hosts["mueller-fw01"]["groups"] == ["firewalls", "vendor_opnsense", "network_devices"]
    assert set(hosts["mueller-ws01"]["groups"]) == {"workplaces", "windows", "pilot"}
    assert hosts["mueller-ws01"]["device"]["credentials"] == "vault_mueller_win"


def mutate(path_fn):
    data = minimal()
    path_fn(data)
    return data


BAD_CASES = [
    ("wrong type", mutate(lambda d: d.update(name=42)), "name: expected string, got int 42"),
    ("missing field", mutate(lambda d: d.pop("state")), "state: required field is missing"),
    ("missing device field", mutate(lambda d: d["devices"]["firewalls"][0].pop("credentials")),
     "devices.firewalls[0].credentials: required field is missing"),
    ("unknown state", mutate(lambda d: d.update(state="BA")), "state: 'BA' is not one of: BB, BE"),
    ("typo key", mutate(lambda d: d.update(maintenance_window=[])),
     "maintenance_window: unknown field 'maintenance_window' (did you mean 'maintenance_windows'?)"),
    ("typo in device", mutate(lambda d: d["devices"]["firewalls"][0].update(adress="x")),
     "devices.firewalls[0].adress: unknown field 'adress' (did you mean 'address'?)"),
    ("unknown vendor", mutate(lambda d: d["devices"]["firewalls"][0].update(vendor="cisco")),
     "devices.firewalls[0].vendor: 'cisco' is not one of: opnsense, lancom, synology, linux, sophos, fortigate"),
    ("secret instead of vault ref", mutate(lambda d: d["devices"]["firewalls"][0].update(credentials="s3cret!")),
     "devices.firewalls[0].credentials: 's3cret!' must name a vault variable"),
    ("bad business hours", mutate(lambda d: d.update(business_hours={"mon": ["8-18"]})),
     "business_hours.mon[0]: '8-18' must be a time HH:MM"),
    ("reversed range", mutate(lambda d: d.update(business_hours={"mon": ["18:00-08:00"]})),
     "business_hours.mon: range '18:00-08:00' ends before it starts"),
    ("bad email", mutate(lambda d: d["contacts"][0].update(email="nobody")),
     "contacts[0].email: 'nobody' does not match"),
    ("pilot not a workplace", mutate(lambda d: d.update(pilot="fw01")),
     "pilot: 'fw01' is not one of the site's workplaces (ws01)"),
    ("device twice", mutate(lambda d: d["devices"]["workplaces"].append(
        {"name": "fw01", "address": "192.168.50.99", "credentials": "vault_x"})),
     "devices.workplaces[1].name: device name 'fw01' is used twice"),
    ("unknown uplink", mutate(lambda d: d["devices"]["workplaces"][0].update(uplink="sw09")),
     "devices.workplaces[0].uplink: 'sw09' is not a device of this site"),
    ("unknown time zone", mutate(lambda d: d.update(timezone="Europe/Bonn")),
     "timezone: unknown time zone 'Europe/Bonn'"),
    ("bad id", mutate(lambda d: d.update(id="Praxis Müller")), "id: 'Praxis Müller' does not match"),
    ("wlan on unknown vlan", mutate(lambda d: d.update(networks={
        "vlans": [{"id": 10, "name": "praxis"}],
        "wlans": [{"ssid": "P", "vlan": 20, "psk": "vault_p"}]})),
     "networks.wlans[0].vlan: VLAN 20 is not in networks.vlans"),
]


@pytest.mark.parametrize(("case", "data", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_site_file(tmp_path, case, data, message):
    write(tmp_path, "good.yml", minimal("good", "10.9.9"))
    write(tmp_path, "bad.yml", data)
    problems = problems_of(tmp_path)
    assert any(p.startswith(f"{tmp_path.name}/bad.yml: ") and message in p for p in problems), problems
    assert not any("good.yml" in p for p in problems)


def test_unparsable_yaml_names_line(tmp_path):
    write(tmp_path, "broken.yml", "id: broken\nname: [unclosed\nstate: BY\n")
    (problem,) = problems_of(tmp_path)
    assert "broken.yml: line " in problem and "not valid YAML" in problem


def test_duplicate_key_is_an_error(tmp_path):
    text = yaml.safe_dump(minimal()) + "state: NW\n"
    write(tmp_path, "dup.yml", text)
    (problem,) = problems_of(tmp_path)
    assert "dup.yml" in problem and "duplicate key 'state'" in problem


def test_top_level_not_a_mapping(tmp_path):
    write(tmp_path, "list.yml", "- a\n- b\n")
    (problem,) = problems_of(tmp_path)
    assert problem.endswith("list.yml: (top level): expected a mapping of site fields, got list")


def test_duplicate_site_id_across_files(tmp_path):
    write(tmp_path, "a.yml", minimal("mueller", "10.1.1"))
    write(tmp_path, "b.yml", minimal("mueller", "10.1.2"))
    (problem,) = problems_of(tmp_path)
    assert "b.yml: id: site id 'mueller' is already used by" in problem and "a.yml" in problem


def test_duplicate_address_across_sites(tmp_path):
    write(tmp_path, "a.yml", minimal("alpha", "10.1.1"))
    write(tmp_path, "b.yml", minimal("beta", "10.1.1"))
    problems = problems_of(tmp_path)
    assert any("b.yml: devices.firewalls[0].address: address 10.1.1.1 is already used by" in p for p in problems)


def test_unquoted_times_are_read_as_text(tmp_path):
    text = yaml.safe_dump(minimal()) + "maintenance_windows:\n  - {days: [sat], start: 22:00, end: 05:00}\n"
    write(tmp_path, "m.yml", text)
    (site,) = load_sites(tmp_path)
    assert site["maintenance_windows"][0]["start"] == "22:00"


def test_all_problems_reported_and_nothing_returned(tmp_path):
    for n in range(3):
        bad = copy.deepcopy(minimal(f"site{n}", f"10.0.{n}"))
        bad["state"] = "ZZ"
        write(tmp_path, f"s{n}.yml", bad)
    problems = problems_of(tmp_path)
    assert len(problems) == 3


def test_missing_folder(tmp_path):
    with pytest.raises(SiteError, match="the sites folder does not exist"):
        load_sites(tmp_path / "nope")


# -- host names: unique across the whole inventory ------------------------------------
def test_host_name_collision_across_sites_names_both_files_and_fields(tmp_path):
    first = minimal("abc", "10.1.1")
    first["devices"]["workplaces"].append({"name": "d-ws01", "address": "10.1.1.31", "credentials": "vault_abc_win"})
    second = minimal("abc-d", "10.1.2")
    write(tmp_path, "abc.yml", first)
    write(tmp_path, "abc-d.yml", second)   # read first: '-' sorts before '.'
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path.name}/abc.yml: devices.workplaces[1].name: host name 'abc-d-ws01'"), problem
    assert f"{tmp_path.name}/abc-d.yml: devices.workplaces[0].name" in problem
    assert "'d-ws01'" in problem and "'ws01'" in problem


def test_host_and_group_names_cannot_meet():
    # host names always contain a dash (site id + '-' + device), group names never do
    site = load_sites(DEMO)[0]
    assert all("-" in h["host"] for h in site_hosts(site))
    assert all("-" not in g for h in site_hosts(site) for g in h["groups"])
    assert "-" not in resolved_site(site)["group"]


@pytest.mark.parametrize(("site_id", "device", "message"), [
    ("praxis-mit-sehr-langem-namen-123", "arbeitsplatz-im-hinteren-zimmer9",
     "host name 'praxis-mit-sehr-langem-namen-123-arbeitsplatz-im-hinteren-zimmer9' is 65 characters"),
    ("mueller", "ws01-", "'ws01-' does not match"),
    ("mueller-", "ws01", "id: 'mueller-' does not match"),
])
def test_host_names_are_dns_labels(tmp_path, site_id, device, message):
    data = minimal("mueller")
    data["id"] = site_id
    data["devices"]["workplaces"][0]["name"] = device
    data["pilot"] = device
    write(tmp_path, "m.yml", data)
    problems = problems_of(tmp_path)
    assert any(message in p for p in problems), problems


# -- files that cannot be read are errors, never skipped --------------------------------
def _good_and(tmp_path):
    write(tmp_path, "good.yml", minimal("good", "10.9.9"))


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: (d / "gone.yml").symlink_to(d / "nowhere.yml"), "gone.yml: is a symbolic link to '"),
    (lambda d: (d / "loop.yml").symlink_to(d / "loop.yml"), "loop.yml: is a symbolic link that loops"),
    (lambda d: os.mkfifo(d / "pipe.yml"), "pipe.yml: is a named pipe (FIFO), not a regular file"),
    (lambda d: (d / "dir.yml").mkdir(), "dir.yml: is a folder, not a regular file"),
    (lambda d: (d / "dev.yml").symlink_to("/dev/null"), "dev.yml: is a character device, not a regular file"),
    (lambda d: (d / "big.yml").write_bytes(b"# padding\n" * 110_000), "big.yml: is 1100000 bytes; a site file may"),
])
def test_unreadable_site_file_is_an_error(tmp_path, make, message):
    _good_and(tmp_path)
    make(tmp_path)
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path.name}/") and message in problem, problem


def test_upper_case_suffix_is_a_site_file(tmp_path):
    write(tmp_path, "Mueller.YML", minimal())
    assert [s["id"] for s in load_sites(tmp_path)] == ["mueller"]


def test_unreadable_for_permission_names_the_file():
    """As a user who may not read the file (root reads anything, so the check
    drops to nobody after the imports, in a child process)."""
    folder = Path(tempfile.mkdtemp(prefix="praxis-sites-perm-"))
    try:
        folder.chmod(0o755)
        write(folder, "good.yml", minimal("good", "10.9.9")).chmod(0o644)
        write(folder, "secret.yml", minimal("secret", "10.9.8")).chmod(0o000)
        code = (
            "import os, sys\n"
            "from ansible.module_utils.praxis_site import SiteError, load_sites, schema_problems\n"
            "schema_problems({})  # validators built and codecs loaded while still root\n"
            "os.setgid(65534); os.setuid(65534)\n"
            f"try:\n    load_sites({str(folder)!r})\n"
            "except SiteError as exc:\n    print('\\n'.join(exc.problems)); sys.exit(3)\n"
        )
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        prelude = ("import ansible.module_utils as m; m.__path__.append(" + repr(str(ROOT / "module_utils")) + ")\n")
        if os.geteuid() != 0:
            pytest.skip("needs root to switch to the user nobody")
        result = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, env=env,
                                check=False, timeout=60)
        assert result.returncode == 3, result.stdout + result.stderr
        assert result.stdout.strip() == (f"{folder.name}/secret.yml: cannot be read: permission denied for "
                                         "user id 65534"), result.stdout
    finally:
        shutil.rmtree(folder)


# -- YAML that would expand without bound fails at once ----------------------------------
def billion_laughs(levels=9):
    lines = ["id: laughs", "name: x", "state: BY", "devices: {}", "contacts:",
             "  - &a0 {name: a, email: a@b.cd, phone: [lol, lol, lol, lol, lol, lol, lol, lol, lol]}"]
    for level in range(1, levels):
        lines.append(f"  - &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("text", "message"), [
    (billion_laughs(), "too large: the document expands to more than 200000 values"),
    ("id: deep\nnotes: " + "[" * 100_000 + "]" * 100_000 + "\n", "line 2, column 39: too large: nested deeper than 32"),
    ("id: loop\nx-a: &a [1, *a]\n", "line 2, column 13: too large: the alias refers to a value that contains it"),
    ("id: many\nx-a: &a 1\nx-b: [" + ", ".join(["*a"] * 2001) + "]\n", "too large: more than 2000 aliases"),
])
def test_unbounded_yaml_is_refused(tmp_path, text, message):
    write(tmp_path, "bomb.yml", text)
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path.name}/bomb.yml: line "), problem
    assert message in problem, problem


def test_billion_laughs_fails_without_expanding(tmp_path):
    write(tmp_path, "bomb.yml", billion_laughs(12))   # 9^12 values if expanded
    (problem,) = problems_of(tmp_path)
    # the limit trips on the first alias past it (a5, about 10^6 values), not the last line
    assert "bomb.yml: line 11, column 10: too large" in problem, problem


# -- YAML merge keys ------------------------------------------------------------------
MERGED = """\
id: merged
name: Praxis Merge
state: BY
contacts: [{name: Team, email: team@merged.example.org}]
pilot: ws01
x-windows: &windows {credentials: vault_merged_win, vendor: Dell, model: OptiPlex 7010}
devices:
  workplaces:
    - {<<: *windows, name: ws01, address: 10.5.0.21}
    - {<<: *windows, name: ws02, address: 10.5.0.22, model: OptiPlex 3000}
"""


def test_merge_keys_are_accepted_and_overridable(tmp_path):
    write(tmp_path, "m.yml", MERGED)
    (site,) = load_sites(tmp_path)
    ws01, ws02 = site["devices"]["workplaces"]
    assert ws01 == {"name": "ws01", "address": "10.5.0.21", "credentials": "vault_merged_win", "vendor": "Dell",
                    "model": "OptiPlex 7010"}
    assert ws02["model"] == "OptiPlex 3000" and ws02["credentials"] == "vault_merged_win"
    assert "x-windows" not in resolved_site(site)


def test_duplicate_key_beside_a_merge_is_still_an_error(tmp_path):
    write(tmp_path, "m.yml", MERGED.replace("address: 10.5.0.22,", "address: 10.5.0.22, name: ws03,"))
    (problem,) = problems_of(tmp_path)
    assert "m.yml: line 10" in problem and "duplicate key 'name' (first at line 10)" in problem, problem


def test_dates_stay_text(tmp_path):
    data = minimal()
    data["closures"] = [{"date": "2026-12-24", "reason": "Heiligabend"}]
    write(tmp_path, "m.yml", yaml.safe_dump(data).replace("'2026-12-24'", "2026-12-24"))
    (site,) = load_sites(tmp_path)
    assert site["closures"][0]["date"] == "2026-12-24"


# -- values validated as what they are ------------------------------------------------
def fw_address(value):
    return mutate(lambda d: d["devices"]["firewalls"][0].update(address=value))


def with_networks(vlans, **device):
    def change(d):
        d["networks"] = {"vlans": vlans}
        d["devices"]["firewalls"][0].update(device)
    return mutate(change)


VALUE_CASES = [
    ("impossible IPv4", fw_address("999.1.1.1"), "devices.firewalls[0].address: '999.1.1.1' is not an IPv4 address"),
    ("address with port", fw_address("10.0.0.1:443"),
     "devices.firewalls[0].address: '10.0.0.1:443' contains a port (':443'): write address: 10.0.0.1 and port: 443"),
    ("unspecified", fw_address("0.0.0.0"), "'0.0.0.0' is the unspecified address"),
    ("broadcast", fw_address("255.255.255.255"), "'255.255.255.255' is the broadcast address"),
    ("multicast", fw_address("224.0.0.251"), "'224.0.0.251' is a multicast address"),
    ("reserved", fw_address("240.0.0.1"), "'240.0.0.1' is in a reserved range"),
    ("IPv6 multicast", fw_address("ff02::1"), "'ff02::1' is a multicast address"),
    ("bracketed IPv6 with port", fw_address("[fd00::1]:443"), "contains a port (':443')"),
    ("three octets", fw_address("10.0.1"), "'10.0.1' is not an IPv4 address"),
    ("bad host name", fw_address("fw-.praxis.example"), "label 'fw-' must be"),
    ("URL", fw_address("https://fw01"), "'https://fw01' is a URL: write only the host name or address"),
    ("subnet /33", with_networks([{"id": 10, "name": "p", "subnet": "192.168.50.0/33"}]),
     "networks.vlans[0].subnet: '192.168.50.0/33' is not an IPv4 network"),
    ("subnet with host bits", with_networks([{"id": 10, "name": "p", "subnet": "192.168.50.1/24"}]),
     "'192.168.50.1/24' has host bits set: the network is 192.168.50.0/24"),
    ("subnet without prefix", with_networks([{"id": 10, "name": "p", "subnet": "192.168.50.0"}]),
     "must be a network with prefix length"),
    ("gateway outside subnet", with_networks([{"id": 10, "name": "p", "subnet": "192.168.50.0/24",
                                               "gateway": "192.168.51.1"}]),
     "networks.vlans[0].gateway: 192.168.51.1 is outside the VLAN's subnet 192.168.50.0/24"),
    ("gateway is broadcast", with_networks([{"id": 10, "name": "p", "subnet": "192.168.50.0/24",
                                             "gateway": "192.168.50.255"}]),
     "networks.vlans[0].gateway: 192.168.50.255 is the network or broadcast address"),
    ("impossible gateway", with_networks([{"id": 10, "name": "p", "subnet": "192.168.50.0/24",
                                           "gateway": "192.168.50.256"}]),
     "networks.vlans[0].gateway: '192.168.50.256' is not an IPv4 address"),
    ("overlapping subnets", with_networks([{"id": 10, "name": "p", "subnet": "192.168.50.0/24"},
                                           {"id": 20, "name": "g", "subnet": "192.168.50.128/25"}]),
     "networks.vlans[1].subnet: 192.168.50.128/25 overlaps networks.vlans[0].subnet 192.168.50.0/24"),
    ("device outside the networks", with_networks([{"id": 10, "name": "p", "subnet": "192.168.60.0/24"}]),
     "devices.firewalls[0].address: 192.168.50.1 is in none of the site's networks (192.168.60.0/24)"),
    ("device on the network address", with_networks([{"id": 10, "name": "p", "subnet": "192.168.50.0/24"}],
                                                    address="192.168.50.0"),
     "devices.firewalls[0].address: 192.168.50.0 is the network or broadcast address of 192.168.50.0/24"),
    ("SSID longer than 32 bytes", mutate(lambda d: d.update(networks={
        "vlans": [{"id": 10, "name": "p"}], "wlans": [{"ssid": "Ä" * 17, "vlan": 10, "psk": "vault_p"}]})),
     "networks.wlans[0].ssid: 'ÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄÄ' is 34 bytes in UTF-8"),
    ("line break in a name", mutate(lambda d: d["devices"]["firewalls"][0].update(model="DEC740\nrm -rf")),
     "devices.firewalls[0].model: 'DEC740\\nrm -rf' does not match"),
    ("impossible closure day", mutate(lambda d: d.update(closures=[{"date": "2026-02-30", "reason": "x"}])),
     "closures[0].date: '2026-02-30' is not a day of the calendar"),
]


@pytest.mark.parametrize(("case", "data", "message"), VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_values_are_checked_as_what_they_are(tmp_path, case, data, message):
    write(tmp_path, "good.yml", minimal("good", "10.9.9"))
    write(tmp_path, "bad.yml", data)
    problems = problems_of(tmp_path)
    assert any(p.startswith(f"{tmp_path.name}/bad.yml: ") and message in p for p in problems), problems
    assert not any("good.yml" in p for p in problems)


@pytest.mark.parametrize("address", ["127.0.0.1", "fw01.praxis.example", "fd00::1", "192.168.50.1"])
def test_good_addresses_pass(tmp_path, address):
    data = minimal()
    data["networks"] = {"vlans": [{"id": 10, "name": "p", "subnet": "192.168.50.0/24", "gateway": "192.168.50.1"}]}
    data["devices"]["firewalls"][0]["address"] = address   # loopback: a tunnel or the lab, never checked
    write(tmp_path, "m.yml", data)
    assert load_sites(tmp_path)[0]["devices"]["firewalls"][0]["address"] == address


def test_same_endpoint_with_default_port_written_out(tmp_path):
    first = minimal("alpha", "10.1.1")
    second = minimal("beta", "10.1.2")
    second["devices"]["firewalls"][0].update(address="10.1.1.1", port=443)
    write(tmp_path, "a.yml", first)
    write(tmp_path, "b.yml", second)
    problems = problems_of(tmp_path)
    assert any("b.yml: devices.firewalls[0].address: address 10.1.1.1 is already used by" in p and "(port 443)" in p
               for p in problems), problems


# every pattern in the schema matches the whole value: "huber\n" is no site id
def _resolve(schema, node):
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].split("/")[-1]]
    return node


def _pattern_nodes(schema, node=None, seen=None):
    node = schema if node is None else node
    seen = set() if seen is None else seen
    if isinstance(node, dict):
        if "pattern" in node:
            seen.add(id(node))
        for value in node.values():
            _pattern_nodes(schema, value, seen)
    elif isinstance(node, list):
        for value in node:
            _pattern_nodes(schema, value, seen)
    return seen


def _string_leaves(schema, value, node, path, found):
    node = _resolve(schema, node)
    if isinstance(value, str) and "pattern" in node:
        found.append((id(node), node["pattern"], path))
    elif isinstance(value, dict):
        for key, item in value.items():
            sub = node.get("properties", {}).get(key)
            if sub is None:
                sub = next((v for k, v in node.get("patternProperties", {}).items() if re.search(k, key)), {})
            _string_leaves(schema, item, sub, path + [key], found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _string_leaves(schema, item, node.get("items", {}), path + [index], found)


FULL_SITE = """\
id: voll
name: Praxis Voll
state: BY
timezone: Europe/Berlin
environment: production
business_hours: {mon: ["08:00-18:00"]}
maintenance_windows: [{days: [sat], start: "07:00", end: "12:00"}, {days: [mon], start: "20:00", end: "23:00"}]
closures: [{date: 12-24, reason: Heiligabend}, {from: 2026-08-03, to: 2026-08-14, reason: Urlaub}]
holidays: {add: [{date: 08-08, name: Friedensfest}], remove: [Fronleichnam]}
contacts: [{name: Team, email: team@voll.example.org, phone: "+49 821 1", role: owner}]
pilot: ws01
networks:
  vlans: [{id: 10, name: praxis, subnet: 10.8.0.0/24, gateway: 10.8.0.1, interface: lan}]
  wlans: [{ssid: Praxis, vlan: 10, psk: vault_voll_wlan}]
devices:
  firewalls: [{name: fw01, address: 10.8.0.1, vendor: opnsense, model: DEC740, credentials: vault_voll_fw01,
               ca_path: /etc/ssl/ca.pem, notes: "x"}]
  switches: [{name: sw01, address: 10.8.0.2, vendor: lancom, model: GS-3652XP, credentials: vault_voll_sw01,
              uplink: fw01, vlans: [10]}]
  nas: [{name: nas01, address: 10.8.0.5, vendor: synology, model: DS224+, credentials: vault_voll_nas,
         validate_certs: false, tls_fingerprint: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}]
  workplaces: [{name: ws01, address: 10.8.0.21, vendor: Dell, model: OptiPlex, credentials: vault_voll_win,
                uplink: sw01}]
  servers: [{name: srv01, address: 10.8.0.10, credentials: vault_voll_win,
             maintenance_windows: [{days: [sat], start: "08:00", end: "10:00"}]}]
patching:
  pilot_delay_days: 3
  categories: [Security Updates, Critical Updates]
  servers: {own_ring: true, delay_days: 14}
  reboot_minutes: 45
  install_retries: 1
  overdue_days: 21
  sla: [{days: 7, percent: 90}, {days: 21, percent: 99.5}]
  third_party:
    enabled: true
    source: https://choco.dienstleister.example/api/v2/
    packages: [7zip, googlechrome, libreoffice-fresh]
    self_updating: [googlechrome]
backups:
  start: "21:00"
  retention: {daily: 7, weekly: 4, monthly: 12}
  repositories:
    - {name: nas, kind: local, url: "sftp://restic@10.8.0.5:2222//volume1/restic", password: vault_voll_nas_restic,
       controller_url: "sftp:restic@nas.voll.example:/volume1/restic", sftp_identity: vault_voll_nas_key,
       sftp_known_hosts: ["10.8.0.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA"]}
  sources:
    - {host: ws01, paths: ['D:\\Praxis'], exclude: ["*.tmp"],
       dump: {command: 'Get-Content D:\\db.bak -Raw', file: praxis.dump, header: "PGDMP"}}
"""


def test_every_schema_pattern_matches_the_whole_value(tmp_path):
    schema = json.loads(SCHEMA_PATH.read_text())
    write(tmp_path, "voll.yml", FULL_SITE)
    assert load_sites(tmp_path)  # the full site itself is valid
    site = praxis_site.parse_yaml(FULL_SITE)
    leaves: list = []
    _string_leaves(schema, site, schema, [], leaves)
    # every pattern of the schema is exercised by the full site, so a new pattern field needs a value here
    assert {leaf[0] for leaf in leaves} == _pattern_nodes(schema)
    for _node, pattern, path in leaves:
        assert pattern.startswith("^") and pattern.endswith("$"), (path, pattern)
        broken = copy.deepcopy(site)
        holder = broken
        for part in path[:-1]:
            holder = holder[part]
        holder[path[-1]] += "\n"
        problems = schema_problems(broken)
        assert any(p.startswith(field_path(path) + ":") for p in problems), (path, problems)


def test_id_with_trailing_newline_is_refused(tmp_path):
    write(tmp_path, "m.yml", yaml.safe_dump(minimal()).replace("id: mueller", 'id: "mueller\\n"'))
    (problem,) = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path.name}/m.yml: id: 'mueller\\n' does not match"), problem


# -- fields that contradict each other ---------------------------------------------------
def device(role, index, **fields):
    def change(d):
        items = d["devices"].setdefault(role, [])
        if index < len(items):
            items[index].update(fields)
        else:
            items.append(fields)
    return mutate(change)


LAPTOP = {"name": "lx01", "address": "192.168.50.30", "credentials": "vault_lx"}
SWITCH = {"name": "sw01", "address": "192.168.50.2", "model": "m", "credentials": "vault_sw"}
CONTRADICTIONS = [
    ("WinRM port on a Linux computer", device("workplaces", 1, os="linux", port=5986, **LAPTOP),
     "devices.workplaces[1].port: port 5986 is the WINRM-HTTPS port, but os linux computers are not Windows"),
    ("WinRM port on a Mac", device("servers", 0, os="macos", port=5985, **LAPTOP),
     "devices.servers[0].port: port 5985 is the WINRM-HTTP port"),
    ("SSH port on Windows", device("workplaces", 0, port=22),
     "devices.workplaces[0].port: port 22 is the SSH port, but Windows computers are managed over WinRM"),
    ("WinRM over HTTP on Windows", device("workplaces", 0, port=5985), "port 5985 is the WINRM-HTTP port"),
    ("WinRM port on a Linux firewall", device("firewalls", 0, vendor="linux", port=5986),
     "devices.firewalls[0].port: port 5986 is the WINRM-HTTPS port, but linux devices are managed over SSH"),
    ("SSH port on OPNsense", device("firewalls", 0, port=22),
     "devices.firewalls[0].port: port 22 is the SSH port, but opnsense devices are managed over HTTPS"),
    ("HTTPS port on LANCOM", device("switches", 0, vendor="lancom", port=443, **SWITCH),
     "devices.switches[0].port: port 443 is the HTTPS port, but lancom devices are managed over SSH"),
    ("OPNsense as a switch", device("switches", 0, vendor="opnsense", **SWITCH),
     "devices.switches[0].vendor: opnsense cannot be one of the switches"),
    ("Synology as a firewall", device("firewalls", 0, vendor="synology"),
     "devices.firewalls[0].vendor: synology cannot be one of the firewalls"),
    ("LANCOM as a NAS", device("nas", 0, vendor="lancom", **dict(SWITCH, name="nas01")),
     "devices.nas[0].vendor: lancom cannot be one of the nas"),
    ("CA for an SSH device", device("switches", 0, vendor="lancom", ca_path="/ca.pem", **SWITCH),
     "devices.switches[0].ca_path: lancom devices are managed over SSH; ca_path is for HTTPS devices"),
    ("CA without validation", device("firewalls", 0, ca_path="/ca.pem", validate_certs=False),
     "devices.firewalls[0].ca_path: a CA is given but validate_certs is false"),
    ("Mac without os", device("workplaces", 1, vendor="Apple", model="iMac", **LAPTOP),
     "devices.workplaces[1].os: missing, so windows is assumed, but the computer is a Mac (Apple iMac)"),
    ("pilot that is never patched", mutate(lambda d: d["devices"]["workplaces"][0].update(os="macos")),
     "pilot: 'ws01' is not a Windows workplace and is never patched"),
    ("own uplink", device("firewalls", 0, uplink="fw01"), "devices.firewalls[0].uplink: a device cannot be its own"),
    ("uplink to a PC", device("firewalls", 0, uplink="ws01"),
     "devices.firewalls[0].uplink: 'ws01' is one of the workplaces; an uplink is a firewall, switch or access point"),
    ("alerts off but priorities", mutate(lambda d: d["contacts"][0].update(alerts=False, priorities=["high"])),
     "contacts[0].priorities: set, but alerts is false"),
    ("switch VLAN not declared", mutate(lambda d: (d.update(networks={"vlans": [{"id": 10, "name": "p"}]}),
                                                   d["devices"]["firewalls"][0].update(vlans=[10, 30]))),
     "devices.firewalls[0].vlans[1]: VLAN 30 is not in networks.vlans"),
    ("catholic holidays where there are none", mutate(lambda d: d.update(state="NW", holiday_categories=["catholic"])),
     "holiday_categories: catholic adds no holiday in NW"),
    ("Augsburg outside Bavaria", mutate(lambda d: d.update(state="BW", municipality="Augsburg")),
     "municipality: Augsburg lies in BY, not in state BW"),
    ("closure with date and range", mutate(lambda d: d.update(closures=[
        {"date": "12-24", "from": "12-27", "to": "12-30", "reason": "x"}])),
     "closures[0]: give date, or from and to, not both"),
    ("closure range backwards", mutate(lambda d: d.update(closures=[
        {"from": "2026-08-14", "to": "2026-08-03", "reason": "Urlaub"}])),
     "closures[0]: to 2026-08-03 is before from 2026-08-14"),
    ("removing a day that is no holiday", mutate(lambda d: d.update(holidays={"remove": ["08-16"]})),
     "holidays.remove[0]: '08-16' is no holiday in BY, nothing to remove"),
]


@pytest.mark.parametrize(("case", "data", "message"), CONTRADICTIONS, ids=[c[0] for c in CONTRADICTIONS])
def test_contradicting_fields_are_errors(tmp_path, case, data, message):
    write(tmp_path, "bad.yml", data)
    problems = problems_of(tmp_path)
    assert any(p.startswith(f"{tmp_path.name}/bad.yml: ") and message in p for p in problems), problems


def test_all_problems_of_a_file_at_once(tmp_path):
    data = minimal()
    data["devices"]["firewalls"][0].update(port=22, vendor="synology")
    data["devices"]["workplaces"][0].update(port=22)
    write(tmp_path, "m.yml", data)
    problems = problems_of(tmp_path)
    assert len(problems) == 3, problems
def test_tls_fingerprint_pins_a_device_and_a_bad_one_is_named(tmp_path):
    good = minimal()
    good["devices"]["firewalls"][0].update(validate_certs=False, tls_fingerprint="SHA256:" + "A" * 43)
    write(tmp_path, "mueller.yml", good)
    (site,) = load_sites(tmp_path)
    hosts = {h["host"]: h for h in site_hosts(site)}
    assert hosts["mueller-fw01"]["device"]["tls_fingerprint"] == "SHA256:" + "A" * 43

    bad = minimal()
    bad["devices"]["firewalls"][0]["tls_fingerprint"] = "AB:CD"
    write(tmp_path, "mueller.yml", bad)
    problems = problems_of(tmp_path)
    assert any("devices.firewalls[0].tls_fingerprint" in p for p in problems), problems


# -- patching (WP-08/09/10) and a server's own maintenance windows ------------------------
SERVER = {"name": "srv01", "address": "192.168.50.10", "credentials": "vault_mueller_win"}
SATURDAY = [{"days": ["sat"], "start": "06:00", "end": "09:00"}]


def test_patching_and_server_windows_reach_the_inventory(tmp_path):
    data = minimal()
    data["maintenance_windows"] = [{"days": ["fri", "sat"], "start": "20:00", "end": "10:00"}]
    data["devices"]["servers"] = [dict(SERVER, maintenance_windows=SATURDAY)]
    data["patching"] = {"pilot_delay_days": 0, "servers": {"own_ring": True},
                        "third_party": {"source": None, "packages": ["7zip", "vlc"], "self_updating": []}}
    write(tmp_path, "mueller.yml", data)
    (site,) = load_sites(tmp_path)
    assert resolved_site(site)["patching"] == data["patching"]
    devices = {h["host"]: h["device"] for h in site_hosts(site)}
    assert devices["mueller-srv01"]["maintenance_windows"] == SATURDAY
    assert "maintenance_windows" not in devices["mueller-ws01"]


def test_site_without_patching_gets_an_empty_override(tmp_path):
    write(tmp_path, "mueller.yml", minimal())
    (site,) = load_sites(tmp_path)
    assert resolved_site(site)["patching"] == {}


def patching(**values):
    return mutate(lambda d: d.update(patching=values))


PATCHING_CASES = [
    ("delay negative", patching(pilot_delay_days=-1), "patching.pilot_delay_days: -1 is out of range (minimum 0)"),
    ("delay too long", patching(pilot_delay_days=61), "patching.pilot_delay_days: 61 is out of range (maximum 60)"),
    ("delay as text", patching(pilot_delay_days="7"), "patching.pilot_delay_days: expected integer, got str '7'"),
    ("delay fractional", patching(pilot_delay_days=1.5), "patching.pilot_delay_days: expected integer, got float"),
    ("unknown category", patching(categories=["Security Update"]),
     "patching.categories[0]: 'Security Update' is not one of: Application"),
    ("no category", patching(categories=[]), "patching.categories: [] is too short"),
    ("category twice", patching(categories=["Updates", "Updates"]), "patching.categories: ['Updates', 'Updates'] "
     "lists an entry twice"),
    ("server ring not a bool", patching(servers={"own_ring": "yes"}),
     "patching.servers.own_ring: expected boolean, got str 'yes'"),
    ("server delay too long", patching(servers={"delay_days": 90}),
     "patching.servers.delay_days: 90 is out of range (maximum 60)"),
    ("typo in servers", patching(servers={"delay": 3}),
     "patching.servers.delay: unknown field 'delay' (did you mean 'delay_days'?)"),
    ("reboot too short", patching(reboot_minutes=4), "patching.reboot_minutes: 4 is out of range (minimum 5)"),
    ("reboot too long", patching(reboot_minutes=241), "patching.reboot_minutes: 241 is out of range (maximum 240)"),
    ("retries", patching(install_retries=6), "patching.install_retries: 6 is out of range (maximum 5)"),
    ("overdue zero", patching(overdue_days=0), "patching.overdue_days: 0 is out of range (minimum 1)"),
    ("overdue too long", patching(overdue_days=91), "patching.overdue_days: 91 is out of range (maximum 90)"),
    ("sla over 100", patching(sla=[{"days": 7, "percent": 101}]),
     "patching.sla[0].percent: 101 is out of range (maximum 100)"),
    ("sla zero percent", patching(sla=[{"days": 7, "percent": 0}]), "patching.sla[0].percent: 0"),
    ("sla without days", patching(sla=[{"percent": 95}]), "patching.sla[0].days: required field is missing"),
    ("sla empty", patching(sla=[]), "patching.sla: [] is too short"),
    ("third party switch as text", patching(third_party={"enabled": "no"}),
     "patching.third_party.enabled: expected boolean, got str 'no'"),
    ("package id with blank", patching(third_party={"packages": ["notepad plus plus"]}),
     "patching.third_party.packages[0]: 'notepad plus plus' does not match"),
    ("self-updating id", patching(third_party={"self_updating": ["google chrome"]}),
     "patching.third_party.self_updating[0]: 'google chrome' does not match"),
    ("source empty", patching(third_party={"source": ""}), "patching.third_party.source: '' is too short"),
    ("source with a line break", patching(third_party={"source": "intern\nal"}),
     "patching.third_party.source: 'intern\\nal' does not match"),
    ("unknown patching key", patching(pilot_delay=7),
     "patching.pilot_delay: unknown field 'pilot_delay' (did you mean 'pilot_delay_days'?)"),
    ("patching not a mapping", mutate(lambda d: d.update(patching=[7])), "patching: expected object, got list"),
]


@pytest.mark.parametrize(("case", "data", "message"), PATCHING_CASES, ids=[c[0] for c in PATCHING_CASES])
def test_bad_patching_values_name_the_field(tmp_path, case, data, message):
    write(tmp_path, "bad.yml", data)
    problems = problems_of(tmp_path)
    assert any(p.startswith(f"{tmp_path.name}/bad.yml: ") and message in p for p in problems), problems


OWN_WINDOW_CASES = [
    ("on a workplace", device("workplaces", 0, maintenance_windows=SATURDAY),
     "devices.workplaces[0].maintenance_windows: only servers have maintenance windows of their own; "
     "a workplace follows the site's maintenance_windows"),
    ("on a firewall", device("firewalls", 0, maintenance_windows=SATURDAY),
     "devices.firewalls[0].maintenance_windows: only servers have maintenance windows of their own; "
     "a firewall follows the site's"),
    ("on an access point", device("access_points", 0, maintenance_windows=SATURDAY, vendor="lancom",
                                  **dict(SWITCH, name="ap01")),
     "devices.access_points[0].maintenance_windows: only servers have maintenance windows of their own; "
     "an access point follows"),
    ("on a NAS", device("nas", 0, maintenance_windows=SATURDAY, vendor="synology", **dict(SWITCH, name="nas01")),
     "devices.nas[0].maintenance_windows: only servers have maintenance windows of their own; a NAS follows"),
    ("on a Linux server", device("servers", 0, os="linux", maintenance_windows=SATURDAY, **SERVER),
     "devices.servers[0].maintenance_windows: os linux computers are never patched or rebooted"),
    ("server window in working hours", device("servers", 0, maintenance_windows=[
        {"days": ["mon", "tue"], "start": "09:00", "end": "12:00"}], **SERVER),
     "devices.servers[0].maintenance_windows: never meets the practice's maintenance time"),
    ("server window beside the site's", mutate(lambda d: (
        d.update(maintenance_windows=[{"days": ["sat"], "start": "20:00", "end": "23:00"}]),
        d["devices"].update(servers=[dict(SERVER, maintenance_windows=SATURDAY)]))),
     "devices.servers[0].maintenance_windows: never meets the practice's maintenance time"),
    ("bad time", device("servers", 0, maintenance_windows=[{"days": ["sat"], "start": "6:00", "end": "09:00"}],
                        **SERVER),
     "devices.servers[0].maintenance_windows[0].start: '6:00' must be a time HH:MM"),
    ("no day", device("servers", 0, maintenance_windows=[{"days": [], "start": "06:00", "end": "09:00"}], **SERVER),
     "devices.servers[0].maintenance_windows[0].days: [] is too short"),
    ("unknown day", device("servers", 0, maintenance_windows=[{"days": ["sa"], "start": "06:00", "end": "09:00"}],
                           **SERVER),
     "devices.servers[0].maintenance_windows[0].days[0]: 'sa' is not one of: mon"),
    ("missing end", device("servers", 0, maintenance_windows=[{"days": ["sat"], "start": "06:00"}], **SERVER),
     "devices.servers[0].maintenance_windows[0].end: required field is missing"),
    ("typo in window", device("servers", 0, maintenance_windows=[
        {"days": ["sat"], "start": "06:00", "ende": "09:00"}], **SERVER),
     "devices.servers[0].maintenance_windows[0].ende: unknown field 'ende' (did you mean 'end'?)"),
]


@pytest.mark.parametrize(("case", "data", "message"), OWN_WINDOW_CASES, ids=[c[0] for c in OWN_WINDOW_CASES])
def test_own_maintenance_windows_only_on_windows_servers_that_can_use_them(tmp_path, case, data, message):
    write(tmp_path, "bad.yml", data)
    problems = problems_of(tmp_path)
    assert any(p.startswith(f"{tmp_path.name}/bad.yml: ") and message in p for p in problems), problems


def test_server_window_crossing_midnight_into_the_site_window_is_accepted(tmp_path):
    data = minimal()
    data["maintenance_windows"] = [{"days": ["sun"], "start": "00:00", "end": "04:00"}]
    data["devices"]["servers"] = [dict(SERVER, maintenance_windows=[
        {"days": ["sat"], "start": "23:00", "end": "01:00"}])]
    write(tmp_path, "mueller.yml", data)
    assert load_sites(tmp_path)
