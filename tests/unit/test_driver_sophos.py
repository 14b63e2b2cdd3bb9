"""The Sophos Firewall driver against the SFOS emulator (lab/sophos.py) run in
this process: real HTTPS with the lab certificate as trust anchor, the XML API
with login in every request, faults switched on the emulator."""

from __future__ import annotations

import os
import random
import time
import xml.etree.ElementTree as ET

import pytest

from ansible.module_utils.praxis_driver import (
    FACT_KEYS, AuthFailed, ConnectionDropped, DriverError, HTTPClient, ProtocolError,
    ServerError, Target, Timeout, TLSUntrusted, Unsupported,
)
from ansible.module_utils import praxis_driver_sophos as sfos
from ansible.module_utils.praxis_driver_sophos import MANAGED_PREFIX, APIAccessRefused, SophosDriver
from lab import tls
from lab.sophos import SophosFirewall
from tests.integration.lab.conftest import LabLoop, wait_for

USER = "api-praxisops"
SECRET = "Sfos-Secret-" + "p" * 20
ADDRESSES = [f"127.37.0.{i}" for i in range(1, 80)]

RULES = [
    {"description": "PVS to TI-Konnektor", "action": "pass", "interface": "lan", "protocol": "tcp",
     "destination_net": "10.9.0.10", "destination_port": 443, "sequence": 10, "log": True},
    {"description": "Block Gast to LAN", "action": "block", "interface": ["GUEST"], "destination_net": "lan",
     "ipprotocol": "inet", "sequence": 20},
]
SYSLOG = [{"host": "10.20.0.5", "port": 514, "transport": "udp", "description": "Praxis SIEM"}]
SCHEDULE = {"ftp_server": "10.20.0.7", "ftp_path": "/sfos/weber", "ftp_username": "sfos-weber",
            "frequency": "Daily", "hour": 2, "minute": 30}


@pytest.fixture(scope="module")
def lab_loop():
    lab = LabLoop()
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("sophos-driver")
    tls.ensure_certificate(path, ADDRESSES)
    return path


@pytest.fixture(scope="module")
def addresses():
    return iter(ADDRESSES)


@pytest.fixture
def firewall(lab_loop, run_dir, addresses, tmp_path):
    """make(**emulator kwargs) -> (device, driver) on a fresh address; the FTP landing folder is tmp_path."""
    opened: list[SophosDriver] = []

    def make(options: dict | None = None, password: str = SECRET, ca: str | None = None, **kwargs):
        kwargs.setdefault("reboot_seconds", 0.3)
        device = lab_loop.start_device(SophosFirewall, address=next(addresses), run_dir=run_dir, username=USER,
                                       password=SECRET, hostname="fw01", ftp_root=tmp_path / "ftp", **kwargs)
        target = Target(site="weber", name="fw01", vendor="sophos", role="firewall", address=device.address,
                        port=device.port, username=USER, password=password,
                        ca_path=ca or str(run_dir / "lab-cert.pem"), timeout=3.0, retries=2, retry_delay=0.01,
                        options=dict(options or {}))
        driver = SophosDriver(target)
        opened.append(driver)
        return device, driver

    yield make
    for driver in opened:
        driver.close()


def faults(lab_loop, device, **values):
    lab_loop.call(lambda: device.faults.update(values))


def entities(lab_loop, device, tag):
    return lab_loop.call(lambda: {n: ET.tostring(e, encoding="unicode")
                                  for n, e in device.state["entities"][tag].items()})


def no_secret(value) -> None:
    assert SECRET not in repr(value)


# -- declarations ---------------------------------------------------------------------------------

def test_declarations():
    assert sfos.DRIVER is SophosDriver and sfos.DRIVER_CLASSES == (SophosDriver,)
    assert SophosDriver.vendor == "sophos" and SophosDriver.title == "Sophos Firewall (SFOS)"
    assert SophosDriver.roles == ("firewall",) and SophosDriver.protocol == "https"
    assert SophosDriver.default_port == 4444 == SophosFirewall.default_port
    assert set(SophosDriver.not_offered) == {"firmware", "signatures"}
    assert all(r.startswith("not automatable through this vendor's API: ") for r in SophosDriver.not_offered.values())
    assert {"backup_dropbox", "backup_prefix", "backup_max_age_days", "backup_schedule"} == set(SophosDriver.options)
    assert SophosDriver.settings_supported == {"firewall": ("rules", "syslog")}


def test_random_credentials_differ():
    first, second = SophosFirewall.random_credentials(), SophosFirewall.random_credentials()
    assert first != second and first[0].startswith("api-") and len(first[1]) >= 20


# -- facts and errors -----------------------------------------------------------------------------

def test_facts_report_only_what_the_api_gives(firewall, lab_loop):
    device, driver = firewall()
    facts = driver.facts()
    assert set(facts) == set(FACT_KEYS)
    assert facts["hostname"] == "fw01"
    assert all(facts[k] is None for k in FACT_KEYS if k != "hostname")    # model: none in the site file
    driver.target.model = "XGS 116"
    assert driver.facts()["model"] == "XGS 116"
    assert lab_loop.call(lambda: device.requests) == 2


def test_wrong_password_is_auth_failed_without_the_secret(firewall):
    _device, driver = firewall(password="wrong-" + SECRET)
    with pytest.raises(AuthFailed, match="Authentication Failure") as caught:
        driver.facts()
    assert not isinstance(caught.value, APIAccessRefused)
    assert "wrong-" not in str(caught.value) and SECRET not in str(caught.value)


def test_refuse_auth_fault(firewall, lab_loop):
    device, driver = firewall()
    faults(lab_loop, device, refuse_auth=True)
    with pytest.raises(AuthFailed, match="login as 'api-praxisops' refused"):
        driver.facts()


def test_api_switched_off_names_the_web_admin_switch(firewall, lab_loop):
    device, driver = firewall(api_enabled=False)
    with pytest.raises(APIAccessRefused, match=r"532 .*enable Backup & firmware > API > API configuration"):
        driver.facts()
    assert lab_loop.call(lambda: device.login_attempts) == 0


def test_requester_not_allow_listed(firewall, lab_loop):
    device, driver = firewall(allowed_ips=["10.0.0.0/8"])
    with pytest.raises(APIAccessRefused, match=r"534 .*Allowed IP address") as caught:
        driver.facts()
    assert isinstance(caught.value, AuthFailed) and SECRET not in str(caught.value)
    lab_loop.call(lambda: device.state["allowed_ips"].append("127.0.0.0/8"))
    assert driver.facts()["hostname"] == "fw01"


def test_server_errors_are_retried_then_reported(firewall, lab_loop):
    device, driver = firewall()
    faults(lab_loop, device, error_rate=1.0)
    with pytest.raises(ServerError, match="HTTP 500.*after 2 attempts"):
        driver.facts()
    assert lab_loop.call(lambda: device.requests) == 2


def test_dropped_connections(firewall, lab_loop):
    device, driver = firewall()
    faults(lab_loop, device, drop_rate=1.0)
    with pytest.raises(ConnectionDropped):
        driver.facts()


def test_latency_beyond_the_timeout(firewall, lab_loop):
    device, driver = firewall()
    faults(lab_loop, device, latency=4.0)
    with pytest.raises(Timeout):
        driver.facts()


def test_untrusted_certificate_sends_no_credentials(firewall, lab_loop, tmp_path):
    other = tmp_path / "other-ca"
    tls.ensure_certificate(other, ["127.0.0.1"])
    device, driver = firewall(ca=str(other / "lab-cert.pem"))
    with pytest.raises(TLSUntrusted):
        driver.facts()
    assert lab_loop.call(lambda: device.login_attempts) == 0


@pytest.mark.parametrize("answer, message", [
    (b"<html><body>Login</body></html>", "root is <html>"),
    (b"<Response><Login><status>Authentication", "not well-formed XML"),
    (b'<!DOCTYPE x [<!ENTITY a "b">]><Response/>', "DOCTYPE"),
    (b"<Response><Login><status>Maybe</status></Login></Response>", "unexpected login answer"),
    (b'<Response><Status code="599">odd</Status></Response>', "refused the request"),
])
def test_malformed_answers_are_protocol_errors(monkeypatch, answer, message):
    monkeypatch.setattr(HTTPClient, "request", lambda self, *a, **k: (200, answer))
    driver = SophosDriver(Target(site="weber", name="fw01", vendor="sophos", role="firewall",
                                 address="192.0.2.1", username=USER, password=SECRET))
    with pytest.raises(ProtocolError, match=message):
        driver.facts()


# -- settings -------------------------------------------------------------------------------------

def test_rules_and_syslog_apply_once_then_unchanged(firewall, lab_loop):
    device, driver = firewall()
    result = driver.apply_settings({"rules": RULES, "syslog": SYSLOG}, check_mode=False)
    assert result["changed"] is True and result["before"] == {"rules": {}, "syslog": {}}
    no_secret(result)
    rules = entities(lab_loop, device, "FirewallRule")
    assert set(rules) == {MANAGED_PREFIX + "PVS to TI-Konnektor", MANAGED_PREFIX + "Block Gast to LAN"}
    assert "<Action>Accept</Action>" in rules[MANAGED_PREFIX + "PVS to TI-Konnektor"]
    assert f"<Service>{MANAGED_PREFIX}TCP 443</Service>" in rules[MANAGED_PREFIX + "PVS to TI-Konnektor"]
    assert "<DestinationZones><Zone>LAN</Zone>" in rules[MANAGED_PREFIX + "Block Gast to LAN"]
    assert set(entities(lab_loop, device, "IPHost")) == {MANAGED_PREFIX + "10.9.0.10"}
    assert set(entities(lab_loop, device, "SyslogServers")) == {MANAGED_PREFIX + "Praxis SIEM"}
    requests = lab_loop.call(lambda: device.requests)
    again = driver.apply_settings({"rules": RULES, "syslog": SYSLOG}, check_mode=False)
    assert again["changed"] is False and again["before"] == again["after"] == result["after"]
    assert lab_loop.call(lambda: device.requests) - requests == 2            # two Gets, no writes


def test_check_mode_reports_the_diff_and_writes_nothing(firewall, lab_loop):
    device, driver = firewall()
    driver.apply_settings({"rules": RULES}, check_mode=False)
    changed_rules = [dict(RULES[0], action="reject"), RULES[1]]
    before = entities(lab_loop, device, "FirewallRule")
    result = driver.apply_settings({"rules": changed_rules, "syslog": SYSLOG}, check_mode=True)
    assert result["changed"] is True
    assert result["before"]["rules"]["PVS to TI-Konnektor"]["action"] == "Accept"
    assert result["after"]["rules"]["PVS to TI-Konnektor"]["action"] == "Reject"
    assert result["after"]["syslog"] == {"Praxis SIEM": {"host": "10.20.0.5", "port": 514, "transport": "udp"}}
    assert entities(lab_loop, device, "FirewallRule") == before
    assert entities(lab_loop, device, "SyslogServers") == {}
    applied = driver.apply_settings({"rules": changed_rules}, check_mode=False)
    assert applied["changed"] is True
    assert "<Action>Reject</Action>" in entities(lab_loop, device, "FirewallRule")[MANAGED_PREFIX +
                                                                                    "PVS to TI-Konnektor"]


def test_only_managed_items_are_removed(firewall, lab_loop):
    device, driver = firewall()

    def foreign():
        text = ("<FirewallRule><Name>Admin rule</Name><Status>Enable</Status><NetworkPolicy>"
                "<Action>Accept</Action></NetworkPolicy></FirewallRule>")
        rule = ET.fromstring(text)  # noqa: S314 - a literal of this test
        device.state["entities"]["FirewallRule"]["Admin rule"] = rule
    lab_loop.call(foreign)
    driver.apply_settings({"rules": RULES, "syslog": SYSLOG}, check_mode=False)
    result = driver.apply_settings({"rules": RULES[1:], "syslog": []}, check_mode=False)
    assert result["changed"] is True
    assert set(entities(lab_loop, device, "FirewallRule")) == {"Admin rule", MANAGED_PREFIX + "Block Gast to LAN"}
    assert entities(lab_loop, device, "SyslogServers") == {}


def test_a_refused_write_names_the_entity(firewall):
    _device, driver = firewall()
    with pytest.raises(DriverError, match=r"add FirewallRule praxisops: To OT was refused: 500 .*'OT' does not"):
        driver.apply_settings({"rules": [{"description": "To OT", "interface": "OT"}]}, check_mode=False)


@pytest.mark.parametrize("settings, message", [
    ({"rules": {"a": 1}}, "settings.rules must be a list"),
    ({"rules": [{"action": "pass"}]}, r"settings.rules\[0\].description is required"),
    ({"rules": [{"description": "x", "action": "allow"}]}, r"rules\[0\].action must be pass, block or reject"),
    ({"rules": [{"description": "x", "direction": "out"}]}, r"rules\[0\].direction 'out'"),
    ({"rules": [{"description": "x", "protocol": "tcp", "destination_port": "70000"}]}, "port 1-65535"),
    ({"rules": [{"description": "x", "destination_port": 443}]}, "needs protocol"),
    ({"rules": [{"description": "x"}, {"description": "x"}]}, "used twice"),
    ({"rules": [{"description": "x", "colour": "red"}]}, "unknown keys colour"),
    ({"rules": [{"description": "x", "ipprotocol": "inet6"}]}, r"rules\[0\].ipprotocol 'inet6': only IPv4"),
    ({"syslog": [{"description": "s", "host": "10.0.0.1", "transport": "tcp"}]}, r"syslog\[0\].transport 'tcp'"),
    ({"syslog": [{"description": "s", "host": "10.0.0.1", "port": 0}]}, "port must be 1-65535"),
    ({"syslog": [{"description": "s"}]}, r"syslog\[0\].host"),
    ({"wlans": []}, "settings wlans are not supported"),
])
def test_bad_settings_are_named_and_nothing_is_written(firewall, lab_loop, settings, message):
    device, driver = firewall()
    with pytest.raises(DriverError, match=message) as caught:
        driver.apply_settings({**settings, "syslog": settings.get("syslog", SYSLOG)}
                              if "rules" in settings else settings, check_mode=False)
    no_secret(str(caught.value))
    assert entities(lab_loop, device, "SyslogServers") == {}
    assert lab_loop.call(lambda: device.login_attempts) == 0


# -- scheduled backup and configuration export -------------------------------------------------------

def dropbox_options(tmp_path, **more):
    return {"backup_dropbox": str(tmp_path / "ftp" / "sfos" / "weber"), "backup_schedule": dict(SCHEDULE), **more}


def test_schedule_points_to_the_provider_and_export_reads_the_newest(firewall, lab_loop, tmp_path):
    device, driver = firewall(options=dropbox_options(tmp_path))
    with pytest.raises(DriverError, match="not a folder"):
        driver.export_config()
    result = driver.apply_settings({}, check_mode=True)
    assert result["changed"] is True and result["before"]["backup_schedule"]["BackupMode"] == "Local"
    assert lab_loop.call(lambda: device.schedule()["BackupMode"]) == "Local"
    result = driver.apply_settings({}, check_mode=False)
    assert result["after"]["backup_schedule"] == {
        "BackupMode": "FTP", "BackupPrefix": "weber-fw01", "FTPServer": "10.20.0.7", "Username": "sfos-weber",
        "FtpPath": "/sfos/weber", "BackupFrequency": "Daily", "Hour": "2", "Minute": "30"}
    no_secret(result)
    assert driver.apply_settings({}, check_mode=False)["changed"] is False
    plan = lab_loop.call(device.schedule)
    assert plan["FTPServer"] == "10.20.0.7" and plan["BackupPrefix"] == "weber-fw01"
    content = driver.export_config()
    SophosDriver.validate_config(content)
    newest = lab_loop.call(lambda: device.backups_written[-1])
    assert content == newest.read_bytes() and newest.name.startswith("weber-fw01_")
    driver.apply_settings({"rules": RULES}, check_mode=False)             # a change writes a new backup
    assert driver.export_config() == lab_loop.call(lambda: device.backups_written[-1]).read_bytes() != content


@pytest.mark.parametrize("fault, message", [("truncate_backup", "less than three quarters of the previous one"),
                                            ("corrupt_backup", "run of 256 equal bytes")])
def test_damaged_backups_are_refused(firewall, lab_loop, tmp_path, fault, message):
    device, driver = firewall(options=dropbox_options(tmp_path))
    driver.apply_settings({}, check_mode=False)
    driver.export_config()
    faults(lab_loop, device, **{fault: True})
    driver.apply_settings({"syslog": SYSLOG}, check_mode=False)
    with pytest.raises(DriverError, match=message):
        driver.export_config()


def test_an_old_backup_names_its_age(firewall, lab_loop, tmp_path):
    device, driver = firewall(options=dropbox_options(tmp_path, backup_max_age_days=3))
    driver.apply_settings({}, check_mode=False)
    newest = lab_loop.call(lambda: device.backups_written[-1])
    old = time.time() - 5.5 * 86400
    os.utime(newest, (old, old))
    for earlier in lab_loop.call(lambda: device.backups_written[:-1]):
        os.utime(earlier, (old - 60, old - 60))
    with pytest.raises(DriverError, match=r"is 5\.5 days old \(more than 3\)"):
        driver.export_config()


def test_export_without_dropbox_is_unsupported_and_empty_folder_named(firewall, tmp_path):
    _device, driver = firewall()
    with pytest.raises(Unsupported, match="offers no configuration download; set the device option backup_dropbox"):
        driver.export_config()
    (tmp_path / "empty").mkdir()
    _device, driver = firewall(options={"backup_dropbox": str(tmp_path / "empty")})
    with pytest.raises(DriverError, match=r"no scheduled backup named weber-fw01_\* in"):
        driver.export_config()


# random-looking bytes, the same in every pytest worker (the parameters must be collected alike)
NOISE = random.Random(4711).randbytes(6000)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (NOISE[:100], "only 100 bytes"), (b"<html>" + b"x" * 2000, "plain text"),
    (NOISE[:3000] + bytes(100) + NOISE[3000:], "run of 100 equal bytes"),
    (bytes(range(64)) * 100, "entropy"),
], ids=["empty", "short", "plain-text", "equal-run", "low-entropy"])
def test_validate_config(content, message):
    with pytest.raises(ValueError, match=message):
        SophosDriver.validate_config(content)


@pytest.mark.parametrize("first", [b"<", b"{", b" <"])
def test_an_encrypted_backup_may_start_with_any_byte(first):
    """Encrypted data starts with "<" or "{" about once in 128 backups: that is no sign of text."""
    SophosDriver.validate_config(first + NOISE[len(first):])


@pytest.mark.parametrize("text", [b'{"status": 500, "error": "internal"}' * 100,
                                  b"\n\n<!DOCTYPE html><html><body>Fehler</body></html>" * 60,
                                  b"2026-12-05 02:00:00 backup started\n" * 200])
def test_text_is_refused_as_plain_text(text):
    with pytest.raises(ValueError, match="plain text"):
        SophosDriver.validate_config(text)


@pytest.mark.parametrize("schedule, message", [
    ({**SCHEDULE, "ftp_server": "ftp.example.org"}, "ftp_server must be an IP address"),
    ({**SCHEDULE, "frequency": "Hourly"}, "frequency must be Daily, Weekly or Monthly"),
    ({**SCHEDULE, "hour": 25}, "hour must be 0-23"),
    ({**SCHEDULE, "ftp_password": "x"}, "unknown keys ftp_password"),
    ({**SCHEDULE, "frequency": "Monthly", "date": 31}, "date must be 1-28"),
])
def test_bad_schedule_option_is_named(firewall, tmp_path, schedule, message):
    _device, driver = firewall(options={"backup_schedule": schedule})
    with pytest.raises(DriverError, match=f"option backup_schedule.*{message}"):
        driver.apply_settings({}, check_mode=False)


# -- not offered ------------------------------------------------------------------------------------

def test_firmware_and_signatures_are_not_offered(firewall, lab_loop):
    device, driver = firewall()
    for call, capability in ((driver.firmware_status, "firmware"), (driver.start_firmware_update, "firmware"),
                             (driver.update_signatures, "signatures")):
        with pytest.raises(Unsupported, match="not automatable through this vendor's API") as caught:
            call()
        assert SophosDriver.not_offered[capability] in str(caught.value)
    assert lab_loop.call(lambda: device.requests) == 0


# -- emulator faults that only the lab control reaches ------------------------------------------------

def test_firmware_fail_keeps_the_version_and_reboot_never_returns(firewall, lab_loop):
    device, driver = firewall(firmware_version="21.0.1")
    lab_loop.call(lambda: device.install_firmware("21.5.0"))
    wait_for(lambda: lab_loop.call(lambda: device.state["firmware_version"]) == "21.5.0" and
             lab_loop.call(lambda: device.up))
    faults(lab_loop, device, firmware_fail=True)
    lab_loop.call(lambda: device.install_firmware("22.0.0"))
    wait_for(lambda: lab_loop.call(lambda: device.up and not device.rebooting))
    assert lab_loop.call(lambda: device.state["firmware_version"]) == "21.5.0"
    faults(lab_loop, device, reboot_never_returns=True)
    lab_loop.call(lambda: device.reboot(delay=0.0))
    wait_for(lambda: not lab_loop.call(lambda: device.rebooting))
    assert lab_loop.call(lambda: device.up) is False
    driver.close()
    with pytest.raises(DriverError):
        driver.facts()
