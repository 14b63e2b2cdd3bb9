"""The site file's backups section (WP-12): schema, the rules a schema cannot
express (every field named in the error), defaults, and what reaches the
inventory (groups databackup_linux / databackup_windows, praxis_device.backup)."""

from __future__ import annotations

import copy

import pytest
import yaml

from ansible.module_utils.praxis_site import SiteError, load_sites, resolved_site, site_hosts

from .test_site_files import minimal


def site_with_backups(**backups):
    data = minimal()
    data["devices"]["servers"] = [
        {"name": "srv01", "address": "192.168.50.10", "os": "linux", "credentials": "vault_mueller_srv"},
        {"name": "srv02", "address": "192.168.50.11", "credentials": "vault_mueller_win"},
    ]
    data["devices"]["workplaces"].append(
        {"name": "mac01", "address": "192.168.50.40", "os": "macos", "credentials": "vault_mueller_win"})
    data["backups"] = {
        "repositories": [
            {"name": "nas", "kind": "local", "url": "sftp:restic@192.168.50.5:/volume1/restic/mueller",
             "password": "vault_mueller_backup_nas"},
            {"name": "offsite", "kind": "offsite", "url": "rest:https://backup.example.net/mueller",
             "password": "vault_mueller_backup_offsite", "environment": "vault_mueller_backup_env"},
        ],
        "sources": [
            {"host": "srv01", "paths": ["/srv/praxis"], "exclude": ["*.tmp"],
             "dump": {"command": "pg_dump -Fc praxis", "file": "praxis.dump", "header": "PGDMP"}},
            {"host": "ws01", "paths": ["D:\\Praxis"]},
        ],
    }
    data["backups"].update(backups)
    return data


def load(tmp_path, data):
    (tmp_path / "mueller.yml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_sites(tmp_path, base=tmp_path)


def problems(tmp_path, data) -> list[str]:
    with pytest.raises(SiteError) as info:
        load(tmp_path, data)
    return info.value.problems


def change(function):
    data = site_with_backups()
    function(data["backups"])
    return data


def test_backup_sources_reach_the_inventory_with_defaults(tmp_path):
    (site,) = load(tmp_path, site_with_backups())
    hosts = {h["host"]: h for h in site_hosts(site)}
    assert "databackup_linux" in hosts["mueller-srv01"]["groups"]
    assert "not_managed" in hosts["mueller-srv01"]["groups"]
    assert "databackup_windows" in hosts["mueller-ws01"]["groups"]
    others = hosts["mueller-srv02"]["groups"] + hosts["mueller-fw01"]["groups"]
    assert not any(g.startswith("databackup") for g in others)
    source = hosts["mueller-srv01"]["device"]["backup"]
    assert source["server"] is True and source["os"] == "linux" and source["exclude"] == ["*.tmp"]
    workplace = hosts["mueller-ws01"]["device"]["backup"]
    assert workplace["server"] is False and workplace["exclude"] == [] and workplace["os"] == "windows"
    # minimal(): business hours Mon-Fri 08:00-18:00, no windows -> 18:30
    assert resolved_site(site)["backups"]["start"] == "18:30"


def test_default_start_is_the_first_window_plus_30_minutes(tmp_path):
    data = site_with_backups()
    data["maintenance_windows"] = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "05:00"},
                                   {"days": ["sat"], "start": "07:00", "end": "12:00"}]
    (site,) = load(tmp_path, data)
    assert resolved_site(site)["backups"]["start"] == "22:30"


def test_a_given_start_is_kept_and_a_site_without_backups_has_none(tmp_path):
    (site,) = load(tmp_path, site_with_backups(start="21:15"))
    assert resolved_site(site)["backups"]["start"] == "21:15"
    data = minimal()
    (plain,) = load(tmp_path, data)
    assert "backups" not in resolved_site(plain)
    assert not any(g.startswith("databackup") for h in site_hosts(plain) for g in h["groups"])


def test_a_default_start_that_does_not_fit_asks_for_one(tmp_path):
    data = site_with_backups()
    # the first window is on Saturday morning: 07:30 on a Monday is before business hours but
    # in no window that day
    data["maintenance_windows"] = [{"days": ["sat"], "start": "07:00", "end": "12:00"}]
    (message,) = problems(tmp_path, data)
    assert "backups.start: missing, and the default 07:30" in message and "set backups.start" in message


def _with(path, value):
    def apply(backups):
        target = backups
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return apply


BAD = [
    ("unknown source host", _with(["sources", 0, "host"], "srv09"),
     "backups.sources[0].host: 'srv09' is not a device of this site"),
    ("network device as source", _with(["sources", 0, "host"], "fw01"),
     "backups.sources[0].host: 'fw01' is one of the firewalls, not a server or workplace"),
    ("mac as source", _with(["sources", 1, "host"], "mac01"),
     "backups.sources[1].host: 'mac01' is a macOS computer"),
    ("source twice", _with(["sources", 1, "host"], "srv01"),
     "backups.sources[1].host: 'srv01' is already a source in backups.sources[0]"),
    ("windows path on linux", _with(["sources", 0, "paths"], ["/srv/praxis", "D:\\Praxis"]),
     "backups.sources[0].paths[1]: 'D:\\\\Praxis' is a Windows path, but srv01 is a linux computer"),
    ("linux path on windows", _with(["sources", 1, "paths"], ["/srv/praxis"]),
     "backups.sources[1].paths[0]: '/srv/praxis' is a Linux path, but ws01 is a windows computer"),
    ("relative path", _with(["sources", 0, "paths"], ["srv/praxis"]),
     "backups.sources[0].paths[0]: 'srv/praxis' is not an absolute Linux path"),
    ("climbing path", _with(["sources", 0, "paths"], ["/srv/../etc"]),
     "backups.sources[0].paths[0]: '/srv/../etc' contains '..'"),
    ("dump without command", _with(["sources", 0, "dump"], {"file": "praxis.dump"}),
     "backups.sources[0].dump.command: required field is missing"),
    ("dump file with a slash", _with(["sources", 0, "dump", "file"], "../praxis.dump"),
     "backups.sources[0].dump.file: '../praxis.dump' does not match"),
    ("no paths", _with(["sources", 0, "paths"], []), "backups.sources[0].paths: "),
    ("repository name twice", _with(["repositories", 1, "name"], "nas"),
     "backups.repositories[1].name: repository name 'nas' is used twice (also backups.repositories[0])"),
    ("bad repository name", _with(["repositories", 0, "name"], "NAS 1"),
     "backups.repositories[0].name: 'NAS 1' does not match"),
    ("bad url scheme", _with(["repositories", 0, "url"], "ftp://nas/restic"),
     "backups.repositories[0].url: 'ftp://nas/restic' is not a restic repository this project supports"),
    ("bad controller url", _with(["repositories", 0, "controller_url"], "b2:bucket"),
     "backups.repositories[0].controller_url: 'b2:bucket' is not a restic repository"),
    ("linux path repository for a windows source", _with(["repositories", 0, "url"], "/mnt/nas/restic"),
     "backups.repositories[0].url: '/mnt/nas/restic' is a Linux path, but the Windows sources cannot reach it"),
    ("windows path repository for a linux source", _with(["repositories", 0, "url"], "E:\\restic"),
     "backups.repositories[0].url: 'E:\\\\restic' is a Windows path, but the Linux sources cannot reach it"),
    ("password not a vault name", _with(["repositories", 0, "password"], "geheim123"),
     "backups.repositories[0].password: 'geheim123' must name a vault variable"),
    ("environment not a vault name", _with(["repositories", 1, "environment"], "AWS_KEY=x"),
     "backups.repositories[1].environment: 'AWS_KEY=x' must name a vault variable"),
    ("identity not a vault name", _with(["repositories", 0, "sftp_identity"], "/root/.ssh/id_ed25519"),
     "backups.repositories[0].sftp_identity: '/root/.ssh/id_ed25519' must name a vault variable"),
    ("sftp options on a rest repository", _with(["repositories", 1, "sftp_identity"], "vault_key"),
     "backups.repositories[1].sftp_identity: set, but url is not an sftp: repository"),
    ("unknown kind", _with(["repositories", 0, "kind"], "cloud"),
     "backups.repositories[0].kind: 'cloud' is not one of: local, offsite"),
    ("start in business time", _with(["start"], "12:00"),
     "backups.start: 12:00 is business time on mon; the daily backup must start in the practice's maintenance"),
    ("start in the hard floor", _with(["start"], "16:30"),
     "backups.start: 16:30 is business time on mon"),
    ("start not a time", _with(["start"], "25:00"), "backups.start: '25:00' must be a time HH:MM"),
    ("retention typo", _with(["retention"], {"dayly": 7}), "backups.retention.dayly: unknown field 'dayly'"),
    ("no repositories", _with(["repositories"], []), "backups.repositories: "),
    ("typo in source", _with(["sources", 0, "excludes"], ["*.tmp"]),
     "backups.sources[0].excludes: unknown field 'excludes' (did you mean 'exclude'?)"),
]


@pytest.mark.parametrize(("case", "apply", "message"), BAD, ids=[c[0] for c in BAD])
def test_bad_backups_name_the_field(tmp_path, case, apply, message):
    found = problems(tmp_path, change(apply))
    assert any(message in problem for problem in found), found
    assert all(problem.startswith("mueller.yml: ") for problem in found)


def test_start_outside_the_windows_and_in_the_floor_are_named(tmp_path):
    data = site_with_backups(start="23:30")
    data["maintenance_windows"] = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "20:00", "end": "23:00"}]
    (message,) = problems(tmp_path, data)
    assert "backups.start: 23:30 lies in none of the site's maintenance_windows on mon" in message
    data = site_with_backups(start="16:59")
    data["business_hours"] = {"mon": ["08:00-12:00"]}
    (message,) = problems(tmp_path, data)
    assert "backups.start: 16:59 is within Mon-Fri 08:00-17:00 (mon)" in message


def test_all_backup_problems_at_once_and_no_site(tmp_path):
    data = copy.deepcopy(site_with_backups(start="12:00"))
    data["backups"]["sources"][0]["host"] = "srv09"
    data["backups"]["repositories"][1]["name"] = "nas"
    found = problems(tmp_path, data)
    assert len(found) == 3, found
