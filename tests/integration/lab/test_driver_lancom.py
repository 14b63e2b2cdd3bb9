"""The LANCOM drivers against the lab's LCOS access point and LCOS SX 5
switch: facts, backups and their faults, retries, login refusal, settings,
firmware updates from a local HTTP server."""

from __future__ import annotations

import copy
import json
import os
import tempfile

import asyncssh
import pytest
from ansible.module_utils.praxis_driver import (
    FACT_KEYS,
    AuthFailed,
    DriverError,
    HostKeyMismatch,
    IdentityUnknown,
    ProtocolError,
    ServerError,
    Target,
    Timeout,
    Unreachable,
)
from ansible.module_utils.praxis_driver_lancom import DRIVER, LCOSDriver, LCOSSXDriver
from ansible.module_utils.praxis_identity import IdentityStore

from tests.integration.lab.conftest import set_faults

from lab.lancom import LCOSAccessPoint, LCOSSXSwitch, firmware_image, ssh_host_key

PASSWORD = "Lab-Passw0rd-1"
KINDS = {"ap": LCOSAccessPoint, "switch": LCOSSXSwitch}




def start(lab_loop, run_dir, kind: str, **kwargs):
    return lab_loop.start_device(KINDS[kind], password=PASSWORD, reboot_seconds=1, run_dir=run_dir, **kwargs)


# the lab's keys, recorded on first use in a ledger of this module's own (docs/device-identity.md)
IDENTITY = IdentityStore(os.path.join(tempfile.mkdtemp(prefix="praxis-identity-"), "ledger.sqlite"), "record")


def target_for(device, **kwargs) -> Target:
    values = dict(site="test", name=device.name, vendor="lancom", role=device.role, address=device.address,
                  port=device.port, username=device.username, password=PASSWORD, timeout=5, retries=2,
                  retry_delay=0.05, identity=IDENTITY)
    values.update(kwargs)
    return Target(**values)




def counting_opens(driver) -> list[int]:
    """Count the SSH sessions the driver opens."""
    opened: list[int] = []
    real_open = driver._open

    def wrapped():
        opened.append(1)
        return real_open()

    driver._open = wrapped
    return opened


# -- facts and backups ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, model, version, cls", [
    ("ap", "LANCOM LN-1700", "10.72.0087RU2", LCOSDriver),
    ("switch", "LANCOM GS-4530XP", "5.20.0095", LCOSSXDriver),
])
def test_facts(lab_loop, lab_run_dir, kind, model, version, cls):
    device = start(lab_loop, lab_run_dir, kind)
    with DRIVER(target_for(device)) as driver:
        assert type(driver) is cls
        opened = counting_opens(driver)
        facts = driver.facts()
        assert driver.facts()["firmware_version"] == version        # same session
    assert opened == [1]
    assert set(facts) == set(FACT_KEYS)
    assert facts["hostname"] == device.name and facts["model"] == model
    assert facts["firmware_version"] == version
    assert facts["serial"] == device.state["serial"]
    assert isinstance(facts["uptime_seconds"], int) and facts["uptime_seconds"] >= 0
    assert facts["cpu_percent"] is None and facts["disks"] is None and facts["signature_date"] is None


@pytest.mark.parametrize("kind, start_line", [("ap", "# Script (LANCOM LN-1700"),
                                              ("switch", "!Current Configuration:")])
def test_export_validates_and_is_stable(lab_loop, lab_run_dir, kind, start_line):
    device = start(lab_loop, lab_run_dir, kind)
    with DRIVER(target_for(device)) as driver:
        first = driver.export_config()
        driver.validate_config(first)
        assert first.decode().startswith(start_line)
        assert driver.export_config() == first        # no time stamps or up time in the copy


@pytest.mark.parametrize("kind", ["ap", "switch"])
def test_truncated_and_corrupt_downloads_fail_validation(lab_loop, lab_run_dir, kind):
    device = start(lab_loop, lab_run_dir, kind)
    with DRIVER(target_for(device)) as driver:
        clean = driver.export_config()
        set_faults(lab_loop, device, truncate_backup=True)
        cut = driver.export_config()
        with pytest.raises(ValueError, match="incomplete"):
            driver.validate_config(cut)
        set_faults(lab_loop, device, truncate_backup=False, corrupt_backup=True)
        garbled = driver.export_config()
        assert garbled != clean
        with pytest.raises(ValueError, match="garbled|incomplete"):
            driver.validate_config(garbled)


# -- connection faults ----------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["ap", "switch"])
def test_dropped_sessions_are_retried_then_unreachable(lab_loop, lab_run_dir, kind):
    device = start(lab_loop, lab_run_dir, kind)
    set_faults(lab_loop, device, drop_rate=1.0)
    driver = DRIVER(target_for(device, retries=3))
    opened = counting_opens(driver)
    with pytest.raises(Unreachable, match="gave up on facts after 3 attempts") as err:
        driver.facts()
    assert len(opened) == 3
    assert PASSWORD not in str(err.value)

    # a drop on the first attempt only: the retry with a fresh session succeeds
    driver = DRIVER(target_for(device, retries=3))
    opened = counting_opens(driver)
    real_open = driver._open

    def heal_after_first():
        if len(opened) == 1:                # the first session was dropped
            set_faults(lab_loop, device, drop_rate=0.0)
        return real_open()

    driver._open = heal_after_first
    assert driver.facts()["hostname"] == device.name
    assert len(opened) == 2
    driver.close()


@pytest.mark.parametrize("kind", ["ap", "switch"])
def test_temporary_command_errors_are_retried_then_a_clear_failure(lab_loop, lab_run_dir, kind):
    device = start(lab_loop, lab_run_dir, kind)
    set_faults(lab_loop, device, error_rate=1.0)
    driver = DRIVER(target_for(device, retries=3))
    with pytest.raises(ServerError, match="gave up on facts after 3 attempts") as err:
        driver.facts()
    assert "temporary error" in str(err.value) and device.address in str(err.value)
    assert PASSWORD not in str(err.value)
    with pytest.raises(ServerError, match="gave up on configuration export after 3 attempts"):
        driver.export_config()
    driver.close()

    # busy on the first attempt only: the retry gets the answer
    driver = DRIVER(target_for(device, retries=3))
    calls = []
    real_attempt = driver._attempt

    def heal_after_first(what, work):
        calls.append(what)
        if len(calls) == 2:
            set_faults(lab_loop, device, error_rate=0.0)
        return real_attempt(what, work)

    driver._attempt = heal_after_first
    assert driver.facts()["hostname"] == device.name
    assert len(calls) == 2
    driver.close()


@pytest.mark.parametrize("kind", ["ap", "switch"])
def test_refused_login_is_auth_failed_without_the_password(lab_loop, lab_run_dir, kind):
    device = start(lab_loop, lab_run_dir, kind)
    set_faults(lab_loop, device, refuse_auth=True)
    driver = DRIVER(target_for(device, retries=3))
    opened = counting_opens(driver)
    with pytest.raises(AuthFailed) as err:
        driver.export_config()
    assert f"test-{device.name}" in str(err.value) and device.address in str(err.value)
    assert PASSWORD not in str(err.value)
    assert len(opened) == 1                          # not retried


@pytest.mark.parametrize("kind", ["ap", "switch"])
def test_known_hosts_option(lab_loop, lab_run_dir, tmp_path, kind):
    device = start(lab_loop, lab_run_dir, kind)
    key_type, blob = ssh_host_key(device.run_dir).export_public_key().decode().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[{device.address}]:{device.port} {key_type} {blob}\n")
    with DRIVER(target_for(device, options={"known_hosts": str(known)})) as driver:
        assert driver.facts()["hostname"] == device.name
    other = tmp_path / "other_known_hosts"
    other.write_text(f"[192.0.2.1]:22 {key_type} {blob}\n")
    # not in the file: the identity store decides; without one nothing is trusted
    driver = DRIVER(target_for(device, retries=3, options={"known_hosts": str(other)}, identity=None))
    opened = counting_opens(driver)
    with pytest.raises(IdentityUnknown, match="no identity store"):
        driver.facts()
    assert len(opened) == 1                          # not retried
    # in the file with another key: a mismatch, whatever the identity store says
    stranger = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().split()[1]
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"[{device.address}]:{device.port} ssh-ed25519 {stranger}\n")
    with pytest.raises(HostKeyMismatch, match="not the recorded one"):
        DRIVER(target_for(device, retries=3, options={"known_hosts": str(wrong)})).facts()


def test_refused_connection_is_unreachable(lab_loop, lab_run_dir):
    device = start(lab_loop, lab_run_dir, "ap")
    lab_loop.run(device.stop())
    with pytest.raises(Unreachable, match="after 2 attempts"):
        DRIVER(target_for(device)).facts()


# -- settings -------------------------------------------------------------------------------------

AP_SETTINGS = {
    "wlans": [{"ssid": "PRAXIS-INTERN", "vlan": 20, "encryption": "wpa3", "psk": "Sehr geheim 42"},
              {"ssid": "PRAXIS-GAST", "vlan": 30, "encryption": "wpa2-wpa3", "psk": "Gast-Passwort-2025"}],
    "syslog": [{"host": "192.168.10.5", "port": 514, "transport": "udp", "description": "SIEM"}],
}


def test_ap_settings_converge(lab_loop, lab_run_dir):
    ap = start(lab_loop, lab_run_dir, "ap")
    with DRIVER(target_for(ap)) as driver:
        first = driver.apply_settings(AP_SETTINGS, check_mode=False)
        assert first["changed"] is True and first["before"]["wlans"] == []
        assert [w["interfaces"] for w in first["after"]["wlans"]] == [["WLAN-1", "WLAN-2"], ["WLAN-1-2", "WLAN-2-2"]]
        text = json.dumps(first)
        assert "Sehr geheim" not in text and "Gast-Passwort" not in text

        second = driver.apply_settings(AP_SETTINGS, check_mode=False)
        assert second["changed"] is False and second["commands"] == []
        assert second["before"]["wlans"][0] == {"ssid": "PRAXIS-INTERN", "vlan": 20, "encryption": "wpa3",
                                                "psk": "********", "interfaces": ["WLAN-1", "WLAN-2"]}

        export = driver.export_config().decode()
        assert 'set WLAN-1-2  "PRAXIS-GAST"' in export and "set /Setup/VLAN/Operating Yes" in export
        assert '"192.168.10.5"' in export
    wlans = lab_loop.call(ap.wlans)
    assert {(w["ifc"], w["ssid"], w["vlan"], w["encryption"]) for w in wlans} == {
        ("WLAN-1", "PRAXIS-INTERN", 20, "WPA3"), ("WLAN-2", "PRAXIS-INTERN", 20, "WPA3"),
        ("WLAN-1-2", "PRAXIS-GAST", 30, "WPA2/3"), ("WLAN-2-2", "PRAXIS-GAST", 30, "WPA2/3")}
    assert lab_loop.call(lambda: ap.state["flashed"] == ap.state["setup"])      # survives a restart

    # new PSK, guest network gone: the key changes, the guest networks are switched off
    changed = copy.deepcopy(AP_SETTINGS)
    changed["wlans"] = [dict(AP_SETTINGS["wlans"][0], psk="Neuer Schluessel 7")]
    with DRIVER(target_for(ap)) as driver:
        result = driver.apply_settings(changed, check_mode=False)
    assert result["changed"] is True and result["after"]["wlans"][0]["psk_changed"] is True
    assert "Neuer Schluessel" not in json.dumps(result) and "Sehr geheim" not in json.dumps(result)
    assert {(w["ssid"], w["psk"]) for w in lab_loop.call(ap.wlans)} == {("PRAXIS-INTERN", "Neuer Schluessel 7")}


def test_ap_check_mode_writes_nothing(lab_loop, lab_run_dir):
    ap = start(lab_loop, lab_run_dir, "ap")
    before = lab_loop.call(lambda: copy.deepcopy(ap.state["setup"]))
    with DRIVER(target_for(ap)) as driver:
        result = driver.apply_settings(AP_SETTINGS, check_mode=True)
        assert result["changed"] is True and result["commands"]
        assert result["after"]["syslog"] == [{"host": "192.168.10.5", "port": 514, "transport": "udp"}]
    assert lab_loop.call(lambda: ap.state["setup"]) == before


SWITCH_SETTINGS = {
    "vlans": [{"id": 20, "name": "Praxis"}, {"id": 30, "name": "Labor"}],
    "ports": [{"port": "1/0/5", "vlans": [1, 30], "pvid": 30, "poe": True},
              {"port": "1/0/7", "vlans": [20], "pvid": 20, "poe": False}],
    "syslog": [{"host": "192.168.10.5", "port": 514, "transport": "udp", "description": "SIEM"}],
}


def test_switch_settings_converge_and_are_saved(lab_loop, lab_run_dir):
    switch = start(lab_loop, lab_run_dir, "switch")
    with DRIVER(target_for(switch)) as driver:
        first = driver.apply_settings(SWITCH_SETTINGS, check_mode=False)
        assert first["changed"] is True
        assert first["after"]["ports"] == [{"port": "1/0/5", "vlans": [1, 30], "pvid": 30, "poe": True},
                                           {"port": "1/0/7", "vlans": [20], "pvid": 20, "poe": False}]
        second = driver.apply_settings(SWITCH_SETTINGS, check_mode=False)
        assert second["changed"] is False and second["before"] == first["after"]
        export = driver.export_config().decode()
    assert 'vlan name 30 "Labor"' in export and "logging host 192.168.10.5 ipv4 514 info" in export
    block = export.split("interface 1/0/7\n", 1)[1].split("\nexit", 1)[0].splitlines()
    assert block == ["vlan pvid 20", "vlan participation include 20", "vlan participation exclude 1", "no poe"]
    running = lab_loop.call(lambda: copy.deepcopy(switch.state["running"]))
    assert running == lab_loop.call(lambda: switch.state["startup"])             # written to startup-config
    assert running["interfaces"]["1/0/5"]["tagged"] == [1]

    # VLAN 20 dropped from the plan: removed from the database and from port 1/0/7
    smaller = {"vlans": [{"id": 30, "name": "Labor"}], "ports": [{"port": "1/0/7", "vlans": [30], "pvid": 30}]}
    with DRIVER(target_for(switch)) as driver:
        assert driver.apply_settings(smaller, check_mode=False)["changed"] is True
        assert driver.apply_settings(smaller, check_mode=False)["changed"] is False
    running = lab_loop.call(lambda: copy.deepcopy(switch.state["running"]))
    assert set(running["vlans"]) == {"1", "30"} and running["interfaces"]["1/0/7"]["pvid"] == 30


def test_switch_check_mode_writes_nothing(lab_loop, lab_run_dir):
    switch = start(lab_loop, lab_run_dir, "switch")
    before = lab_loop.call(lambda: copy.deepcopy(switch.state))
    with DRIVER(target_for(switch)) as driver:
        result = driver.apply_settings(SWITCH_SETTINGS, check_mode=True)
    assert result["changed"] is True and "vlan 20,30" in result["commands"]
    after = lab_loop.call(lambda: copy.deepcopy(switch.state))
    assert after["running"] == before["running"] and after["startup"] == before["startup"]


def test_switch_refused_command_is_a_protocol_error(lab_loop, lab_run_dir):
    switch = start(lab_loop, lab_run_dir, "switch")
    with DRIVER(target_for(switch)) as driver:
        with pytest.raises(ProtocolError, match="refused a command"):
            driver.apply_settings({"ports": [{"port": "1/0/28", "poe": False}]}, check_mode=False)   # no PoE
    assert lab_loop.call(lambda: switch.state["running"] == switch.state["startup"])


# -- firmware -------------------------------------------------------------------------------------

FIRMWARE = {
    "ap": ("LANCOM LN-1700", "10.80.0100", "20.05.2025", "upx"),
    "switch": ("LANCOM GS-4530XP", "5.30.0012", "10.02.2025", "stk"),
}


def firmware_target(device, kind: str, fw_server, version: str | None = None, **kwargs) -> Target:
    model, newer, date, ext = FIRMWARE[kind]
    version = version or newer
    url = fw_server(f"{kind}-{device.name}-{version}.{ext}", firmware_image(model, version, date))
    return target_for(device, options={"firmware": {"version": version, "url": url, "date": date},
                                       "restart_timeout": 10}, **kwargs)


@pytest.mark.parametrize("kind", ["ap", "switch"])
def test_firmware_update_and_wait_until_back(lab_loop, lab_run_dir, fw_server, kind):
    device = start(lab_loop, lab_run_dir, kind)
    newer = FIRMWARE[kind][1]
    with DRIVER(firmware_target(device, kind, fw_server)) as driver:
        status = driver.firmware_status()
        assert status["available"] == newer and status["reboot_required"] is True
        driver.start_firmware_update()
        facts = driver.wait_until_back(60, poll=0.2)
        assert facts["firmware_version"] == newer
        assert driver.firmware_status()["available"] is None
    assert lab_loop.call(lambda: device.state["firmware_version"]) == newer


@pytest.mark.parametrize("kind, message", [
    ("ap", "Error: Writing the firmware to flash memory failed"),
    ("switch", "File transfer failed! Error writing the image to flash."),
])
def test_firmware_fail_is_a_protocol_error(lab_loop, lab_run_dir, fw_server, kind, message):
    device = start(lab_loop, lab_run_dir, kind)
    set_faults(lab_loop, device, firmware_fail=True)
    with DRIVER(firmware_target(device, kind, fw_server)) as driver:
        with pytest.raises(ProtocolError) as err:
            driver.start_firmware_update()
        assert message in str(err.value)
        assert driver.facts()["firmware_version"] != FIRMWARE[kind][1]
    assert lab_loop.call(lambda: device.up and not device.rebooting)


@pytest.mark.parametrize("kind", ["ap", "switch"])
def test_reboot_never_returns_is_a_timeout(lab_loop, lab_run_dir, fw_server, kind):
    device = start(lab_loop, lab_run_dir, kind)
    set_faults(lab_loop, device, reboot_never_returns=True)
    with DRIVER(firmware_target(device, kind, fw_server)) as driver:
        driver.start_firmware_update()
        with pytest.raises(Timeout, match="did not come back within 2 s"):
            driver.wait_until_back(2, poll=0.2)


def test_firmware_not_newer_is_not_started(lab_loop, lab_run_dir, fw_server):
    ap = start(lab_loop, lab_run_dir, "ap")
    with DRIVER(firmware_target(ap, "ap", fw_server, version="10.72.0087")) as driver:
        assert driver.firmware_status() == {"installed": "10.72.0087RU2", "available": None,
                                            "reboot_required": True}
        with pytest.raises(DriverError, match="no newer firmware"):
            driver.start_firmware_update()
    assert lab_loop.call(lambda: ap.up and not ap.rebooting)
