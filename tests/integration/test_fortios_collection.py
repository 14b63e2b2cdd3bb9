"""Conformance of the FortiGate emulator with the fortinet.fortios collection:
``ansible-playbook`` (the venv's) runs the collection's modules through its
httpapi connection plugin (Bearer token, HTTPS) against the emulator, and the
praxisops driver works against the same device unchanged. The test asserts on
the emulator's state after the collection's calls and on the driver's view of
it (and the other way round)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ansible.module_utils.praxis_driver_fortigate import MANAGED_PREFIX, FortiGateDriver
from tests.integration.ansible_run import ansible
from tests.unit.fortigate_lab import Lab

COLLECTION = Path(__file__).resolve().parents[2] / ".venv/lib/python3.13/site-packages/ansible_collections/fortinet"

POLICY = {"policyid": 10, "name": "by-collection", "srcintf": [{"name": "internal"}], "dstintf": [{"name": "wan1"}],
          "srcaddr": [{"name": "all"}], "dstaddr": [{"name": "all"}], "service": [{"name": "ALL"}],
          "action": "accept", "schedule": "always", "comments": "made with fortinet.fortios"}
AUTH = {"access_token": "{{ fortios_access_token }}", "vdom": "root"}


def task(name: str, module: str, register: str, **args) -> dict:
    return {"name": name, f"fortinet.fortios.{module}": dict(AUTH, **args), "register": register}


PLAY = [{
    "hosts": "fgt", "gather_facts": False,
    "tasks": [
        task("system status", "fortios_monitor_fact", "status", selector="system_status"),
        task("firmware", "fortios_monitor_fact", "firmware", selector="system_firmware"),
        task("resource usage", "fortios_monitor_fact", "usage", selector="system_resource_usage"),
        task("licenses", "fortios_monitor_fact", "licenses", selector="license_status"),
        task("create policy", "fortios_firewall_policy", "created", state="present", firewall_policy=POLICY),
        task("same policy again", "fortios_firewall_policy", "same", state="present", firewall_policy=POLICY),
        dict(task("policy change, check mode", "fortios_firewall_policy", "checked", state="present",
                  firewall_policy=dict(POLICY, action="deny")), check_mode=True),
        task("update policy", "fortios_firewall_policy", "updated", state="present",
             firewall_policy=dict(POLICY, action="deny")),
        task("syslog", "fortios_log_syslogd_setting", "syslog",
             log_syslogd_setting={"status": "enable", "server": "192.0.2.30", "mode": "udp", "port": 514}),
        task("syslog again", "fortios_log_syslogd_setting", "syslog_again",
             log_syslogd_setting={"status": "enable", "server": "192.0.2.30", "mode": "udp", "port": 514}),
        task("backup", "fortios_monitor", "backup", selector="backup.system.config", params={"scope": "global"}),
        task("fortiguard update", "fortios_monitor", "fortiguard", selector="update.system.fortiguard"),
        task("policies", "fortios_configuration_fact", "policies", selector="firewall_policy"),
        {"name": "save", "ansible.builtin.copy": {
            "content": "{{ {%s} | to_json }}" % ", ".join(f"'{k}': {k}" for k in (
                "status", "firmware", "usage", "licenses", "created", "same", "checked", "updated", "syslog",
                "syslog_again", "fortiguard", "policies")),
            "dest": "{{ out_dir }}/results.json"}, "delegate_to": "localhost"},
        {"name": "save backup", "ansible.builtin.copy": {"content": "{{ backup.meta.raw }}",
                                                         "dest": "{{ out_dir }}/backup.conf"},
         "delegate_to": "localhost"},
    ],
}]


@pytest.fixture
def lab(tmp_path):
    if not (COLLECTION / "fortios").is_dir():
        pytest.fail("the fortinet.fortios collection is not installed in .venv")
    box = Lab(tmp_path / "lab")
    yield box
    box.close()


def run_play(lab: Lab, tmp_path: Path) -> tuple[dict, bytes]:
    inventory = {"all": {"hosts": {"fgt": {
        "ansible_host": lab.address, "ansible_httpapi_port": lab.device.port,
        "ansible_connection": "ansible.netcommon.httpapi", "ansible_network_os": "fortinet.fortios.fortios",
        "ansible_httpapi_use_ssl": True, "ansible_httpapi_validate_certs": False,
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "fortios_access_token": lab.device.password, "out_dir": str(tmp_path)}}}}
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "play.yml").write_text(yaml.safe_dump(PLAY, sort_keys=False))
    result = ansible("ansible-playbook", "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert lab.device.password not in result.stdout + result.stderr
    return json.loads((tmp_path / "results.json").read_text()), (tmp_path / "backup.conf").read_bytes()


def test_collection_and_driver_on_the_same_emulator(lab, tmp_path):
    driver = lab.driver()
    driver.apply_settings({"rules": [{"description": "allow praxis outbound", "action": "pass",
                                      "interface": "internal", "protocol": "any", "source_net": "192.168.10.0/24",
                                      "destination_net": "any", "sequence": 100}]}, check_mode=False)
    results, backup = run_play(lab, tmp_path)
    facts = driver.facts()

    # monitor facts: the same device through both
    status = results["status"]["meta"]
    assert status["serial"] == facts["serial"] and status["version"] == "v" + facts["firmware_version"]
    assert status["results"]["hostname"] == facts["hostname"]
    assert results["firmware"]["meta"]["results"]["current"]["version"] == "v" + facts["firmware_version"]
    assert results["usage"]["meta"]["results"]["cpu"][0]["current"] == facts["cpu_percent"]
    assert "antivirus" in results["licenses"]["meta"]["results"]

    # firewall policy: created, idempotent (revision_changed), check mode writes nothing, updated
    assert results["created"]["changed"] and results["created"]["meta"]["mkey"] == 10
    assert results["same"]["changed"] is False
    assert results["checked"]["changed"] is True
    assert results["updated"]["changed"] and results["updated"]["meta"]["revision_changed"]
    policy = lab.device.state["tables"]["firewall/policy"]["10"]
    assert (policy["action"], policy["comments"], policy["srcintf"][0]["name"]) == (
        "deny", "made with fortinet.fortios", "internal")

    # syslog setting: written once, the second run changes nothing
    assert results["syslog"]["changed"] and results["syslog_again"]["changed"] is False
    assert lab.device.state["tables"]["log.syslogd/setting"]["server"] == "192.0.2.30"

    # the collection's backup (POST, meta.raw) is a valid configuration with both sides' policies
    FortiGateDriver.validate_config(backup)
    assert b"made with fortinet.fortios" in backup and (MANAGED_PREFIX + "allow praxis outbound").encode() in backup

    # FortiGuard update through the collection moves the driver's signature date to today
    assert results["fortiguard"]["meta"]["results"]["status"] == "success"
    assert driver.update_signatures()["changed"] is False

    # configuration facts list the driver's policy and the collection's
    comments = {p["comments"] for p in results["policies"]["meta"]["results"]}
    assert {"made with fortinet.fortios", MANAGED_PREFIX + "allow praxis outbound"} <= comments

    # the driver sees the collection's syslog server in slot 1 and leaves the collection's policy alone
    result = driver.apply_settings({"syslog": [{"host": "192.0.2.40"}]}, check_mode=False)
    assert result["before"]["syslog"]["syslogd"]["server"] == "192.0.2.30"
    assert lab.device.state["tables"]["log.syslogd/setting"]["server"] == "192.0.2.40"
    again = driver.apply_settings({"rules": [{"description": "allow praxis outbound", "action": "pass",
                                              "interface": "internal", "protocol": "any",
                                              "source_net": "192.168.10.0/24", "destination_net": "any",
                                              "sequence": 100}]}, check_mode=False)
    assert again["changed"] is False and lab.device.state["tables"]["firewall/policy"]["10"]["action"] == "deny"
