"""Site files (SITE-01): every kind of bad input gives one clear error naming
the file, the field path and what is wrong; nothing is returned half-done."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ansible.module_utils.praxis_site import SiteError, load_sites, resolved_site, site_hosts

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "inventories" / "demo" / "sites"


def minimal(site_id="mueller", address_prefix="192.168.50"):
    return {
        "id": site_id, "name": "Praxis Müller", "state": "BY",
        "contacts": [{"name": "Dr. Müller", "email": "praxis@mueller.example.org"}],
        "pilot": "ws01",
        "devices": {
            "firewalls": [{"name": "fw01", "address": f"{address_prefix}.1", "vendor": "opnsense",
                           "model": "DEC740", "credentials": f"vault_{site_id}_fw01"}],
            "workplaces": [{"name": "ws01", "address": f"{address_prefix}.21", "credentials": f"vault_{site_id}_win"}],
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
    ("unknown vendor", mutate(lambda d: d["devices"]["firewalls"][0].update(vendor="sophos")),
     "devices.firewalls[0].vendor: 'sophos' is not one of: opnsense, lancom, synology, linux"),
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
