"""The praxisops_sites inventory plugin through the real ansible-inventory."""

from __future__ import annotations

import shutil

import yaml

from .ansible_run import ROOT, ansible, inventory_json

DEMO = ROOT / "inventories" / "demo"


def test_demo_inventory_groups_and_vars():
    data = inventory_json(str(DEMO / "praxisops.yml"))
    groups = {name: set(value.get("hosts", [])) for name, value in data.items() if name != "_meta"}
    for group in ("site_huber", "site_schmidt", "site_wagner", "firewalls", "switches", "access_points", "nas",
                  "workplaces", "servers", "pilot", "vendor_opnsense", "vendor_lancom", "vendor_synology",
                  "vendor_linux", "windows", "not_managed", "network_devices"):
        assert groups.get(group), f"group {group} missing or empty"
    assert groups["pilot"] == {"huber-ws01", "schmidt-empfang", "wagner-therapie1"}
    assert groups["not_managed"] == {"schmidt-mac-ceo"}
    hostvars = data["_meta"]["hostvars"]
    fw = hostvars["huber-fw01"]
    assert fw["ansible_host"] == "192.168.10.1"
    assert fw["praxis_site"]["state"] == "BY" and fw["praxis_site"]["group"] == "site_huber"
    assert fw["praxis_device"] == {"name": "fw01", "role": "firewall", "address": "192.168.10.1",
                                   "credentials": "vault_huber_fw01", "model": "DEC740", "vendor": "opnsense",
                                   "validate_certs": True}
    # no secret in a site file, so none in the inventory
    assert "password" not in str(data).lower()


def test_connection_defaults_by_group():
    for host, connection in (("huber-fw01", "local"), ("huber-ws01", "winrm"), ("wagner-fw01", "ssh")):
        result = ansible("ansible", host, "-i", str(DEMO / "praxisops.yml"), "-m", "ansible.builtin.debug",
                         "-a", "var=ansible_connection")
        assert f'"ansible_connection": "{connection}"' in result.stdout, result.stdout + result.stderr


def test_folder_source_ignores_site_files():
    data = inventory_json(str(DEMO))
    assert "huber-fw01" in data["_meta"]["hostvars"]
    assert not any(name in data for name in ("id", "devices", "contacts"))


def test_bad_site_fails_whole_inventory_with_clear_message(tmp_path):
    env = tmp_path / "env"
    shutil.copytree(DEMO, env)
    site = yaml.safe_load((env / "sites" / "huber.yml").read_text())
    site["devices"]["firewalls"][0]["vendor"] = "cisco"
    site["state"] = "Bayern"
    (env / "sites" / "huber.yml").write_text(yaml.safe_dump(site))
    result = ansible("ansible-inventory", "-i", str(env / "praxisops.yml"), "--list")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "sites/huber.yml: state: 'Bayern' is not one of" in output
    assert "sites/huber.yml: devices.firewalls[0].vendor: 'cisco' is not one of" in output
    assert "Traceback" not in output
    # no partial inventory: the playbook refuses to run at all
    run = ansible("ansible-playbook", "-i", str(env / "praxisops.yml"), "playbooks/site_summary.yml")
    assert run.returncode != 0 and "Schmidt" not in run.stdout


def _env_with(tmp_path):
    env = tmp_path / "env"
    shutil.copytree(DEMO, env)
    return env


def test_colliding_host_names_fail_the_inventory(tmp_path):
    env = _env_with(tmp_path)
    huber = yaml.safe_load((env / "sites" / "huber.yml").read_text())
    huber["devices"]["workplaces"].append({"name": "d-ws01", "address": "192.168.10.29",
                                           "credentials": "vault_huber_windows"})
    (env / "sites" / "huber.yml").write_text(yaml.safe_dump(huber))
    other = {"id": "huber-d", "name": "Praxis D", "state": "BY",
             "contacts": [{"name": "D", "email": "d@example.org"}],
             "devices": {"workplaces": [{"name": "ws01", "address": "10.77.0.21", "credentials": "vault_d"}]}}
    (env / "sites" / "huber-d.yml").write_text(yaml.safe_dump(other))
    result = ansible("ansible-inventory", "-i", str(env / "praxisops.yml"), "--list")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "sites/huber.yml: devices.workplaces[3].name: host name 'huber-d-ws01'" in output
    assert "sites/huber-d.yml: devices.workplaces[0].name" in output


def test_unreadable_site_file_fails_the_inventory(tmp_path):
    env = _env_with(tmp_path)
    (env / "sites" / "moved.yml").symlink_to(tmp_path / "elsewhere" / "moved.yml")
    result = ansible("ansible-inventory", "-i", str(env / "praxisops.yml"), "--list")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "sites/moved.yml: is a symbolic link to '" in output and "which does not exist" in output


def test_windows_port_and_merge_keys_reach_the_host(tmp_path):
    env = _env_with(tmp_path)
    text = (env / "sites" / "huber.yml").read_text()
    anchor = "x-pc: &pc {vendor: Dell, model: OptiPlex 7010, credentials: vault_huber_windows}\n"
    text = text.replace("devices:\n", anchor + "devices:\n", 1)
    text = text.replace("    - {name: ws03, address: 192.168.10.23, vendor: Lenovo, model: ThinkCentre M70q, "
                        "credentials: vault_huber_windows}",
                        "    - {<<: *pc, name: ws03, address: 192.168.10.23, port: 15986}")
    (env / "sites" / "huber.yml").write_text(text)
    hostvars = inventory_json(str(env / "praxisops.yml"))["_meta"]["hostvars"]
    assert hostvars["huber-ws03"]["ansible_port"] == 15986
    assert hostvars["huber-ws03"]["praxis_device"]["model"] == "OptiPlex 7010"
    assert hostvars["huber-ws01"]["ansible_port"] == 5986   # the group default


def test_patching_and_a_servers_own_windows_reach_the_hosts(tmp_path):
    env = _env_with(tmp_path)
    schmidt = yaml.safe_load((env / "sites" / "schmidt.yml").read_text())
    windows = [{"days": ["wed"], "start": "23:00", "end": "02:00"}]
    schmidt["devices"]["servers"][0]["maintenance_windows"] = windows
    schmidt["patching"] = {"pilot_delay_days": 3, "servers": {"own_ring": True},
                           "third_party": {"packages": ["7zip", "vlc"]}}
    (env / "sites" / "schmidt.yml").write_text(yaml.safe_dump(schmidt, allow_unicode=True))
    hostvars = inventory_json(str(env / "praxisops.yml"))["_meta"]["hostvars"]
    assert hostvars["schmidt-srv01"]["praxis_device"]["maintenance_windows"] == windows
    assert hostvars["schmidt-empfang"]["praxis_site"]["patching"] == schmidt["patching"]
    assert "maintenance_windows" not in hostvars["schmidt-empfang"]["praxis_device"]
    assert hostvars["huber-ws01"]["praxis_site"]["patching"] == {}


def test_own_windows_on_a_workplace_fail_the_inventory(tmp_path):
    env = _env_with(tmp_path)
    schmidt = yaml.safe_load((env / "sites" / "schmidt.yml").read_text())
    schmidt["devices"]["workplaces"][0]["maintenance_windows"] = [{"days": ["sat"], "start": "06:00",
                                                                  "end": "09:00"}]
    (env / "sites" / "schmidt.yml").write_text(yaml.safe_dump(schmidt, allow_unicode=True))
    result = ansible("ansible-inventory", "-i", str(env / "praxisops.yml"), "--list")
    assert result.returncode != 0
    assert ("sites/schmidt.yml: devices.workplaces[0].maintenance_windows: only servers have maintenance windows "
            "of their own") in result.stdout + result.stderr


def test_backup_sources_are_grouped_and_a_linux_source_is_contacted_over_ssh(tmp_path):
    """WP-12: a Linux server is inventoried, never contacted, unless it is a backup
    source: then it is in databackup_linux and reached over SSH."""
    env = _env_with(tmp_path)
    huber = yaml.safe_load((env / "sites" / "huber.yml").read_text())
    huber["devices"].setdefault("servers", []).append(
        {"name": "linsrv", "address": "192.168.10.77", "os": "linux", "credentials": "vault_huber_linux"})
    huber["devices"]["servers"].append(
        {"name": "lin2", "address": "192.168.10.78", "os": "linux", "credentials": "vault_huber_linux"})
    huber["backups"] = {
        "start": "21:30",
        "repositories": [{"name": "offsite", "kind": "offsite", "url": "sftp:restic@backup.example.net:/huber",
                          "password": "vault_huber_backup_offsite"}],
        "sources": [{"host": "linsrv", "paths": ["/srv/praxis"]}, {"host": "ws01", "paths": ["D:\\Praxis"]}],
    }
    (env / "sites" / "huber.yml").write_text(yaml.safe_dump(huber))
    data = inventory_json(str(env / "praxisops.yml"))
    assert set(data["databackup_linux"]["hosts"]) == {"huber-linsrv"}
    assert set(data["databackup_windows"]["hosts"]) == {"huber-ws01"}
    hostvars = data["_meta"]["hostvars"]
    assert hostvars["huber-linsrv"]["praxis_device"]["backup"]["paths"] == ["/srv/praxis"]
    assert hostvars["huber-linsrv"]["praxis_site"]["backups"]["start"] == "21:30"
    assert "backup" not in hostvars["huber-lin2"]["praxis_device"]
    # the connection defaults of the Linux group (ssh, python3) reach the source only
    undefined = '"<< error 1 - \'ansible_python_interpreter\' is undefined >>"'
    for host, interpreter in (("huber-linsrv", '"/usr/bin/python3"'), ("huber-lin2", undefined)):
        result = ansible("ansible", host, "-i", str(env / "praxisops.yml"), "-m", "ansible.builtin.debug",
                         "-a", "var=ansible_python_interpreter")
        assert f'"ansible_python_interpreter": {interpreter}' in result.stdout, result.stdout + result.stderr
