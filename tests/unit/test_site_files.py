"""Site files (SITE-01): every kind of bad input gives one clear error naming
the file, the field path and what is wrong; nothing is returned half-done."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from ansible.module_utils.praxis_site import SiteError, load_sites, resolved_site, site_hosts

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
