"""The Synology driver against the DSM emulator (lab/synology.py) over real HTTPS."""

from __future__ import annotations

import ssl

import pytest

from ansible.module_utils.praxis_identity import fingerprint
from ansible.module_utils.praxis_driver import AuthFailed, ServerError, Target, Timeout, Unsupported
from ansible.module_utils.praxis_driver_synology import SynologyDriver
from lab import tls
from lab.synology import SynologyNAS

PASSWORD = "Lab-Passw0rd!"
USER_PASSWORD = "Empf4ng-Lab-Secret"


def lab_pin(device: SynologyNAS) -> str:
    """The fingerprint of the lab's self-signed certificate, as a site file pins it."""
    cert, _key = tls.ensure_certificate(device.run_dir)
    return fingerprint(ssl.PEM_cert_to_DER_cert(cert.read_text()))


def make_target(device: SynologyNAS, **kwargs) -> Target:
    # validate_certs off: the lab certificate names 127.0.0.1 and localhost only, not the device address;
    # the certificate is pinned instead (tls_fingerprint), as for a NAS with its factory certificate.
    values = dict(site="test", name=device.name, vendor="synology", role="nas", address=device.address,
                  port=device.port, username="admin", password=PASSWORD,
                  validate_certs=False, tls_fingerprint=lab_pin(device), timeout=5,
                  retries=2, retry_delay=0.05)
    values.update(kwargs)
    return Target(**values)


@pytest.fixture(scope="module")
def nas(lab_loop, lab_run_dir) -> SynologyNAS:
    return lab_loop.start_device(SynologyNAS, run_dir=lab_run_dir, password=PASSWORD, reboot_seconds=0.3)


@pytest.fixture
def target(nas) -> Target:
    return make_target(nas)


def test_facts_report_a_failing_disk(nas, target, lab_loop):
    lab_loop.call(lambda: nas.set_disk_health("sata2", "failing"))
    try:
        before = nas.requests
        with SynologyDriver(target) as driver:
            facts = driver.facts()
        assert nas.requests - before == 6          # login, four reads, logout
    finally:
        lab_loop.call(lambda: nas.set_disk_health("sata2", "normal"))
    assert facts["hostname"] == nas.state["hostname"] and facts["model"] == "DS923+"
    assert facts["serial"] == nas.state["serial"]
    assert facts["firmware_version"] == "DSM 7.2.2-72806 Update 3"
    assert 0 <= facts["uptime_seconds"] <= nas.uptime() + 1
    assert 0 <= facts["cpu_percent"] <= 100 and 0 < facts["memory_percent"] < 100
    assert 20 < facts["temperature_c"] < 70
    disks = {d["id"]: d for d in facts["disks"]}
    assert list(disks) == ["sata1", "sata2", "sata3", "sata4"]
    assert disks["sata2"]["status"] == "failing" and disks["sata2"]["smart"] == "failing"
    assert disks["sata1"] == {"id": "sata1", "model": "HAT3300-4T", "status": "normal", "smart": "normal",
                              "temperature_c": disks["sata1"]["temperature_c"]}
    (volume,) = facts["volumes"]
    assert volume["id"] == "volume_1" and volume["status"] == "normal"
    assert volume["used_percent"] == pytest.approx(nas.state["volume_used_ratio"] * 100, abs=0.2)
    assert facts["signature_date"] is None


def test_crashed_disk_degrades_the_volume(nas, target, lab_loop):
    lab_loop.call(lambda: nas.set_disk_health("sata3", "crashed"))
    try:
        with SynologyDriver(target) as driver:
            facts = driver.facts()
    finally:
        lab_loop.call(lambda: nas.set_disk_health("sata3", "normal"))
    assert {d["id"]: d["status"] for d in facts["disks"]}["sata3"] == "crashed"
    assert facts["volumes"][0]["status"] == "degraded"


def test_users_converge(nas, target):
    wanted = [{"name": "empfang", "description": "Empfang", "email": "empfang@praxis.example",
               "password": USER_PASSWORD, "state": "present"},
              {"name": "altkonto", "state": "absent"}]
    with SynologyDriver(target) as driver:
        checked = driver.apply_settings({"users": wanted}, check_mode=True)
    assert checked["changed"] is True and "empfang" not in nas.state["users"]

    with SynologyDriver(target) as driver:
        result = driver.apply_settings({"users": wanted}, check_mode=False)
    assert result["changed"] is True
    assert USER_PASSWORD not in repr(result)
    assert nas.state["users"]["empfang"]["email"] == "empfang@praxis.example"
    assert nas._passwords["empfang"] == USER_PASSWORD

    with SynologyDriver(target) as driver:
        again = driver.apply_settings({"users": wanted}, check_mode=False)
    assert again["changed"] is False and again["before"] == again["after"] == result["after"]

    wanted[0] = {"name": "empfang", "description": "Rezeption", "password": "Another-Secret-1"}
    with SynologyDriver(target) as driver:
        changed = driver.apply_settings({"users": wanted}, check_mode=False)
    assert changed["changed"] is True
    assert nas.state["users"]["empfang"]["description"] == "Rezeption"
    assert nas._passwords["empfang"] == USER_PASSWORD        # set on creation only

    with SynologyDriver(target) as driver:
        removed = driver.apply_settings({"users": [{"name": "empfang", "state": "absent"}]}, check_mode=False)
    assert removed["changed"] is True and "empfang" not in nas.state["users"]


def test_refused_login_is_auth_failed_without_the_password(nas, target, lab_loop):
    lab_loop.call(lambda: nas.faults.update({"refuse_auth": True}))
    try:
        before = nas.requests
        with pytest.raises(AuthFailed) as err:
            SynologyDriver(target).facts()
        assert nas.requests - before == 1           # no retry of a refused login
    finally:
        lab_loop.call(nas.faults.reset)
    assert err.value.kind == "auth" and "code 400" in str(err.value)
    assert target.host in str(err.value) and PASSWORD not in str(err.value)


def test_server_errors_are_retried_then_reported(nas, target, lab_loop):
    lab_loop.call(lambda: nas.faults.update({"error_rate": 1.0}))
    try:
        before = nas.requests
        with pytest.raises(ServerError, match="after 2 attempts"):
            SynologyDriver(target).facts()
        assert nas.requests - before == 2
    finally:
        lab_loop.call(nas.faults.reset)


def test_export_is_unsupported(target):
    with pytest.raises(Unsupported):
        SynologyDriver(target).export_config()


def test_firmware_update_and_back_with_the_new_version(lab_loop, lab_run_dir):
    nas = lab_loop.start_device(SynologyNAS, run_dir=lab_run_dir, password=PASSWORD, reboot_seconds=0.3)
    target = make_target(nas)
    with SynologyDriver(target) as driver:
        status = driver.firmware_status()
        assert status == {"installed": "DSM 7.2.2-72806 Update 3", "available": "DSM 7.2.2-72806 Update 4",
                          "reboot_required": True}
        driver.start_firmware_update()
        facts = driver.wait_until_back(20, poll=0.1)
        assert facts["firmware_version"] == "DSM 7.2.2-72806 Update 4"
        assert driver.firmware_status()["available"] is None


def test_reboot_that_never_returns_times_out(lab_loop, lab_run_dir):
    nas = lab_loop.start_device(SynologyNAS, run_dir=lab_run_dir, password=PASSWORD, reboot_seconds=0.3)
    lab_loop.call(lambda: nas.faults.update({"reboot_never_returns": True}))
    target = make_target(nas, retries=1)
    with SynologyDriver(target) as driver:
        driver.start_firmware_update()
        with pytest.raises(Timeout, match="did not come back within 3 s"):
            driver.wait_until_back(3, poll=0.1)
