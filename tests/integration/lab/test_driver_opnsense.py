"""The OPNsense driver against the lab emulator: real HTTPS with the lab
certificate as trust anchor (host name checked against its IP SANs), API key
and secret as Basic authentication, fault injection through the emulator."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

import pytest

from tests.integration.lab.conftest import set_faults, wait_for

from ansible.module_utils.praxis_backup import mask_secrets
from ansible.module_utils.praxis_driver import (
    AuthFailed, DriverError, ServerError, Target, Timeout, open_driver,
)
from ansible.module_utils.praxis_driver_opnsense import MANAGED_PREFIX, OPNsenseDriver
from lab import tls
from lab.opnsense import OPNsenseFirewall

KEY = "lab-api-key-" + "k" * 68
SECRET = "lab-api-secret-" + "s" * 65
CURRENT, LATEST = "25.1.4", "25.1.5"
# addresses of this module's devices; the certificate of its run directory names all of them
ADDRESSES = [f"127.29.240.{i}" for i in range(1, 41)]

RULES = [
    {"description": "PVS to TI-Konnektor", "action": "pass", "interface": "lan", "direction": "in",
     "ipprotocol": "inet", "protocol": "tcp", "source_net": "lan", "destination_net": "10.9.0.10",
     "destination_port": 443, "sequence": 10, "log": True},
    {"description": "Block Gast to LAN", "action": "block", "interface": ["opt1"], "destination_net": "lan",
     "sequence": 20},
]
SYSLOG = [{"host": "10.20.0.5", "port": 6514, "transport": "tcp", "description": "Praxis SIEM"}]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("opnsense-driver")
    tls.ensure_certificate(path, ADDRESSES)
    return path


@pytest.fixture(scope="module")
def addresses():
    return iter(ADDRESSES)


@pytest.fixture
def firewall(lab_loop, run_dir, addresses):
    """make(**emulator kwargs) -> (device, driver); the driver polls fast and retries with short pauses."""
    opened: list[OPNsenseDriver] = []

    def make(**kwargs) -> tuple[OPNsenseFirewall, OPNsenseDriver]:
        kwargs.setdefault("reboot_seconds", 0.5)
        kwargs.setdefault("firmware_seconds", 0.4)
        device = lab_loop.start_device(OPNsenseFirewall, address=next(addresses), run_dir=run_dir, username=KEY,
                                       password=SECRET, firmware_version=CURRENT, firmware_latest=LATEST,
                                       hostname="fw01", domain="praxis-weber.lan", **kwargs)
        target = Target(site="weber", name="fw01", vendor="opnsense", role="firewall", address=device.address,
                        port=device.port, username=KEY, password=SECRET, ca_path=str(run_dir / "lab-cert.pem"),
                        timeout=5.0, retries=3, retry_delay=0.02)
        driver = open_driver(target)
        assert isinstance(driver, OPNsenseDriver)
        driver.poll_interval = 0.05
        opened.append(driver)
        return device, driver

    yield make
    for driver in opened:
        driver.close()






def managed(lab_loop, device) -> dict[str, dict[str, str]]:
    rules = lab_loop.call(lambda: dict(device.state["filter_rules"]))
    return {v["description"]: v for v in rules.values() if v["description"].startswith(MANAGED_PREFIX)}


# -- facts and backup -----------------------------------------------------------------------------

def test_facts(firewall, lab_loop):
    device, driver = firewall()
    before = lab_loop.call(lambda: device.requests)
    facts = driver.facts()
    assert lab_loop.call(lambda: device.requests) - before == 6
    assert facts["hostname"] == "fw01.praxis-weber.lan"
    assert facts["model"] == "OPNsense"
    assert facts["firmware_version"] == CURRENT
    assert isinstance(facts["uptime_seconds"], int) and facts["uptime_seconds"] >= 0
    assert facts["cpu_percent"] is None and facts["disks"] is None and facts["serial"] is None
    assert 10 < facts["memory_percent"] < 90
    assert 30 < facts["temperature_c"] < 60                   # the highest sensor (CPU, about 47 °C)
    assert {"id": "/", "status": "normal", "used_percent": 2.0} in facts["volumes"]
    rules_updated = lab_loop.call(lambda: device.local(device.state["ids"]["rules_updated"]))
    assert facts["signature_date"] == rules_updated.date().isoformat()


def test_export_validates_and_masks(firewall):
    _device, driver = firewall()
    content = driver.export_config()
    OPNsenseDriver.validate_config(content)
    text = content.decode()
    masked = mask_secrets(text, driver.secret_patterns)
    assert KEY not in masked and "$2y$" not in masked and "$6$" not in masked
    assert "<hostname>fw01</hostname>" in masked


@pytest.mark.parametrize("fault", ["truncate_backup", "corrupt_backup"])
def test_broken_backup_fails_validation(firewall, lab_loop, fault):
    device, driver = firewall()
    set_faults(lab_loop, device, **{fault: True})
    content = driver.export_config()
    with pytest.raises(ValueError, match="not well-formed XML"):
        OPNsenseDriver.validate_config(content)


# -- errors ----------------------------------------------------------------------------------------

def test_server_errors_are_retried_then_reported(firewall, lab_loop):
    device, driver = firewall()
    set_faults(lab_loop, device, error_rate=1.0)
    before = lab_loop.call(lambda: device.requests)
    with pytest.raises(ServerError) as caught:
        driver.facts()
    assert lab_loop.call(lambda: device.requests) - before == 3         # target.retries attempts
    message = str(caught.value)
    assert "weber-fw01" in message and "HTTP 500" in message and "after 3 attempts" in message


def test_refused_credentials(firewall, lab_loop):
    device, driver = firewall()
    set_faults(lab_loop, device, refuse_auth=True)
    with pytest.raises(AuthFailed) as caught:
        driver.facts()
    message = str(caught.value)
    assert message.startswith("weber-fw01 (opnsense firewall at 127.29.240.")
    assert "HTTP 401" in message
    assert SECRET not in message and KEY not in message


# -- settings --------------------------------------------------------------------------------------

def test_settings_converge_and_show_in_backup(firewall, lab_loop):
    device, driver = firewall()
    # a rule and a destination of the practice's own making stay as they are
    driver.http.json("POST", "/api/firewall/filter/addRule", json_body={"rule": {"description": "Praxis: own rule"}})
    driver.http.json("POST", "/api/syslog/settings/addDestination",
                     json_body={"destination": {"hostname": "10.1.1.1", "description": "own"}})
    own = lab_loop.call(lambda: {k: dict(v) for k, v in device.state["filter_rules"].items()})

    first = driver.apply_settings({"rules": RULES, "syslog": SYSLOG}, check_mode=False)
    assert first["changed"] is True
    assert first["before"] == {"rules": {}, "syslog": {}}
    assert first["after"]["rules"]["PVS to TI-Konnektor"] == {
        "action": "pass", "interface": "lan", "direction": "in", "ipprotocol": "inet", "protocol": "TCP",
        "source_net": "lan", "destination_net": "10.9.0.10", "destination_port": "443", "sequence": 10, "log": True}
    assert first["after"]["syslog"] == {"Praxis SIEM": {"host": "10.20.0.5", "port": 6514, "transport": "tcp"}}
    rules = managed(lab_loop, device)
    assert set(rules) == {MANAGED_PREFIX + "PVS to TI-Konnektor", MANAGED_PREFIX + "Block Gast to LAN"}
    assert rules[MANAGED_PREFIX + "Block Gast to LAN"]["interface"] == "opt1"
    assert lab_loop.call(lambda: device.rollback_timers) == {}          # confirmed: no rollback pending

    second = driver.apply_settings({"rules": RULES, "syslog": SYSLOG}, check_mode=False)
    assert second["changed"] is False
    assert second["before"] == second["after"] == first["after"]

    backup = ET.fromstring(driver.export_config())  # noqa: S314 - the emulator's document
    descriptions = [r.findtext("description") for r in backup.findall("OPNsense/Firewall/Filter/rules/rule")]
    assert MANAGED_PREFIX + "PVS to TI-Konnektor" in descriptions and "Praxis: own rule" in descriptions
    dest = [d for d in backup.findall("OPNsense/Syslog/destinations/destination")
            if d.findtext("description") == MANAGED_PREFIX + "Praxis SIEM"]
    assert dest and dest[0].findtext("transport") == "tcp4" and dest[0].findtext("port") == "6514"

    # one rule changed, one dropped: updated and deleted, the practice's own items untouched
    changed = [dict(RULES[0], destination_port=8443)]
    third = driver.apply_settings({"rules": changed, "syslog": []}, check_mode=False)
    assert third["changed"] is True
    assert set(third["before"]["rules"]) == {"PVS to TI-Konnektor", "Block Gast to LAN"}
    assert set(third["after"]["rules"]) == {"PVS to TI-Konnektor"}
    assert third["after"]["syslog"] == {}
    rules = managed(lab_loop, device)
    assert list(rules) == [MANAGED_PREFIX + "PVS to TI-Konnektor"]
    assert next(iter(rules.values()))["destination_port"] == "8443"
    after = lab_loop.call(lambda: {k: dict(v) for k, v in device.state["filter_rules"].items()})
    assert {k: v for k, v in after.items() if k in own} == own
    dests = lab_loop.call(lambda: [d["description"] for d in device.state["syslog_destinations"].values()])
    assert dests == ["own"]


def test_check_mode_does_not_write(firewall, lab_loop):
    device, driver = firewall()
    driver.apply_settings({"rules": RULES[:1]}, check_mode=False)
    state = lab_loop.call(lambda: (repr(device.state["filter_rules"]), repr(device.state["syslog_destinations"]),
                                   dict(device.state["config_revision"])))
    result = driver.apply_settings({"rules": RULES[1:], "syslog": SYSLOG}, check_mode=True)
    assert result["changed"] is True
    assert set(result["before"]["rules"]) == {"PVS to TI-Konnektor"}
    assert set(result["after"]["rules"]) == {"Block Gast to LAN"}
    assert lab_loop.call(lambda: (repr(device.state["filter_rules"]), repr(device.state["syslog_destinations"]),
                                  dict(device.state["config_revision"]))) == state


def test_lost_contact_after_apply_rolls_back(firewall, lab_loop):
    device, driver = firewall()
    driver.apply_settings({"rules": RULES[:1]}, check_mode=False)
    kept = managed(lab_loop, device)
    lab_loop.call(lambda: setattr(device, "rollback_seconds", 0.3))
    driver.target.timeout, driver.target.retries = 0.5, 1
    driver.close()                          # the next connection takes the short timeout
    real_request = driver.http.request

    def locked_out(method, path, **kwargs):
        if "/cancelRollback/" in path:      # the new rules cut the controller off
            set_faults(lab_loop, device, latency=2.0)
        return real_request(method, path, **kwargs)

    driver.http.request = locked_out
    with pytest.raises(Timeout) as caught:
        driver.apply_settings({"rules": RULES}, check_mode=False)
    assert "returns to savepoint" in str(caught.value)
    # the firewall put the rules of the savepoint back by itself
    wait_for(lambda: managed(lab_loop, device).keys() == kept.keys(), timeout=10.0)
    assert lab_loop.call(lambda: device.rollback_timers) == {}


def test_refused_rule_is_reverted(firewall, lab_loop):
    device, driver = firewall()
    bad = [RULES[1], {"description": "broken", "source_net": "lan-net"}]
    with pytest.raises(DriverError) as caught:
        driver.apply_settings({"rules": bad}, check_mode=False)
    message = str(caught.value)
    assert "'broken' was refused" in message and "lan-net is not a valid source" in message
    assert "reverted to savepoint" in message
    assert managed(lab_loop, device) == {}
    assert lab_loop.call(lambda: device.rollback_timers) == {}


# -- signatures ------------------------------------------------------------------------------------

def test_signature_update_records_date(firewall, lab_loop):
    device, driver = firewall()
    old = driver.facts()["signature_date"]
    result = driver.update_signatures()
    today = dt.datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()
    assert result == {"changed": True, "signature_date": today}
    assert old != today
    assert driver.facts()["signature_date"] == today


# -- firmware --------------------------------------------------------------------------------------

def test_firmware_update_cycle(firewall, lab_loop):
    device, driver = firewall()
    status = driver.firmware_status()
    assert status == {"installed": CURRENT, "available": LATEST, "reboot_required": True}
    driver.start_firmware_update()
    facts = driver.wait_until_back(30, poll=0.05)
    assert facts["firmware_version"] == LATEST
    assert lab_loop.call(lambda: device.state["firmware_version"]) == LATEST
    assert driver.firmware_status() == {"installed": LATEST, "available": None, "reboot_required": False}


def test_firmware_failure_is_reported(firewall, lab_loop):
    device, driver = firewall()
    set_faults(lab_loop, device, firmware_fail=True)
    assert driver.firmware_status()["available"] == LATEST
    driver.start_firmware_update()
    with pytest.raises(DriverError) as caught:
        driver.wait_until_back(30, poll=0.05)
    assert not isinstance(caught.value, Timeout)
    message = str(caught.value)
    assert message.startswith("weber-fw01 ") and f"update to {LATEST} failed" in message
    assert "The firmware update failed" in message
    assert lab_loop.call(lambda: device.state["firmware_version"]) == CURRENT


def test_reboot_that_never_returns_times_out(firewall, lab_loop):
    device, driver = firewall()
    set_faults(lab_loop, device, reboot_never_returns=True)
    driver.firmware_status()
    driver.start_firmware_update()
    with pytest.raises(Timeout) as caught:
        driver.wait_until_back(3, poll=0.1)
    assert "did not come back within 3 s" in str(caught.value)
    assert lab_loop.call(lambda: device.up) is False
