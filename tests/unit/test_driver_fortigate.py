"""The FortiGate driver against the FortiGate emulator (lab/fortigate.py),
in process: the emulator's asyncio loop runs in a thread on a free 127.x
address and port, the driver talks real HTTPS to it (certificate checked
against the lab CA)."""

from __future__ import annotations

import re
import time

import pytest

from ansible.module_utils.praxis_backup import mask_secrets
from ansible.module_utils.praxis_driver import (
    FACT_KEYS, AuthFailed, ConnectionDropped, DriverError, ProtocolError, ServerError, Target, Timeout,
    Unsupported,
)
from ansible.module_utils import praxis_driver_fortigate as fg
from ansible.module_utils.praxis_driver_fortigate import MANAGED_PREFIX, FortiGateDriver
from lab import tls
from lab.fortigate import FortiGateFirewall
from tests.unit.fortigate_lab import Lab


@pytest.fixture
def lab(tmp_path):
    box = Lab(tmp_path / "lab")
    yield box
    box.close()


def secret_free(lab: Lab, *texts) -> None:
    for text in texts:
        assert lab.device.password not in str(text)


# -- declaration --------------------------------------------------------------------------------

def test_declaration():
    assert FortiGateDriver.vendor == "fortigate" and FortiGateDriver.protocol == "https"
    assert FortiGateDriver.default_port == 443 and FortiGateDriver.roles == ("firewall",)
    assert FortiGateDriver.not_offered == {} and FortiGateDriver.settings_supported == {"firewall": ("rules",
                                                                                                     "syslog")}
    assert fg.DRIVER is FortiGateDriver and fg.DRIVER_CLASSES == (FortiGateDriver,)
    name, token = FortiGateFirewall.random_credentials()
    assert name.startswith("api-") and re.fullmatch(r"[A-Za-z0-9]{30}", token)


# -- facts ---------------------------------------------------------------------------------------

def test_facts(lab):
    lab.device.state["cpu"], lab.device.state["memory"] = 17, 63
    facts = lab.driver().facts()
    assert set(facts) == set(FACT_KEYS)
    state = lab.device.state
    assert facts["hostname"] == state["hostname"] and facts["serial"] == state["serial"]
    assert facts["model"] == "FortiGate-60F" and facts["firmware_version"] == "7.4.4"
    assert facts["cpu_percent"] == 17.0 and facts["memory_percent"] == 63.0
    assert 0 <= facts["uptime_seconds"] < 60
    newest = max(state["fortiguard"][s]["db"][1] for s in ("antivirus", "ips"))
    assert facts["signature_date"] == time.strftime("%Y-%m-%d", time.gmtime(newest))
    assert facts["temperature_c"] is None and facts["disks"] is None


def test_token_travels_as_bearer_only_after_the_certificate_is_checked(lab, tmp_path):
    other = tmp_path / "other"
    tls.ensure_certificate(other, [lab.address])
    with pytest.raises(DriverError) as caught:
        lab.driver(ca_path=str(other / "lab-cert.pem"), retries=1).facts()
    assert caught.value.kind == "tls_untrusted"
    assert lab.device.login_attempts == 0, "no token reached a device whose certificate is not trusted"
    secret_free(lab, caught.value)


def test_wrong_token_is_an_auth_failure_without_the_token(lab):
    with pytest.raises(AuthFailed, match="HTTP 401") as caught:
        lab.driver(password="x" * 30).facts()
    assert "weber-fw01 (fortigate firewall at" in str(caught.value)
    assert lab.device.requests == 1, "not retried"


def test_refuse_auth_fault(lab):
    lab.device.faults.refuse_auth = True
    with pytest.raises(AuthFailed, match="refused the API token"):
        lab.driver().facts()


def test_untrusted_host_says_what_to_set(lab):
    lab.device.state["api_user"]["trusthost"] = ["192.0.2.0/24"]
    with pytest.raises(AuthFailed, match="HTTP 403") as caught:
        lab.driver().facts()
    assert "trusthost" in str(caught.value) and "config system api-user" in str(caught.value)
    secret_free(lab, caught.value)


def test_server_errors_are_retried_then_named(lab):
    lab.device.faults.error_rate = 1.0
    with pytest.raises(ServerError, match=r"HTTP 500.*after 3 attempts"):
        lab.driver().facts()
    assert lab.device.requests == 3


def test_dropped_connections_are_retried_then_named(lab):
    lab.device.faults.drop_rate = 1.0
    with pytest.raises(ConnectionDropped, match="after 2 attempts"):
        lab.driver(retries=2).facts()


def test_latency_beyond_the_timeout(lab):
    lab.device.faults.latency = 1.5
    with pytest.raises(Timeout, match="no answer within 0.5 s"):
        lab.driver(timeout=0.5, retries=1).facts()


def test_malformed_json_is_a_protocol_error(lab, monkeypatch):
    from lab import fortigate as emulator

    monkeypatch.setitem(emulator.MONITOR, "system/status",
                        lambda dev, req, method, path, name, data: emulator.web.Response(text="{oops"))
    with pytest.raises(ProtocolError, match="not JSON"):
        lab.driver().facts()


# -- configuration -------------------------------------------------------------------------------

def test_export_is_valid_and_follows_the_state(lab):
    driver = lab.driver()
    first = driver.export_config()
    FortiGateDriver.validate_config(first)
    assert first.startswith(b"#config-version=FGT60F-7.04-FW-build2662")
    driver.apply_settings({"rules": [RULES[0]]}, check_mode=False)
    second = driver.export_config()
    FortiGateDriver.validate_config(second)
    assert b'set comments "praxisops: allow praxis outbound"' in second and b"praxisops" not in first


@pytest.mark.parametrize("version, methods", [("7.4.4", ["POST"]), ("7.4.5", ["POST"]), ("7.6.1", ["POST"])])
def test_export_with_post_on_every_release(tmp_path, version, methods):
    box = Lab(tmp_path / "lab", firmware_version=version)
    try:
        content = box.driver().export_config()
        FortiGateDriver.validate_config(content)
        assert f"build{fg_build(version)}".encode() in content.splitlines()[0]
    finally:
        box.close()


def fg_build(version: str) -> int:
    from lab.fortigate import BUILDS
    return BUILDS[version]


def test_export_falls_back_to_get_where_post_is_refused(lab, monkeypatch):
    from lab import fortigate as emulator

    original = emulator.FortiGateFirewall.config_backup
    seen = []

    def old_release(dev, request, method, path, name, data):
        seen.append(method)
        if method == "POST":
            return emulator._json(dev.envelope(method, path, name, 405), 405)
        return original(dev, request, method, path, name, data)

    monkeypatch.setitem(emulator.MONITOR, "system/config/backup", old_release)
    FortiGateDriver.validate_config(lab.driver().export_config())
    assert seen == ["POST", "GET"]


def test_get_is_refused_from_7_4_5(tmp_path):
    box = Lab(tmp_path / "lab", firmware_version="7.4.5")
    try:
        status, _data = box.driver().http.request("GET", "/api/v2/monitor/system/config/backup",
                                                  params={"scope": "global"}, ok=(200, 405))
        assert status == 405
    finally:
        box.close()


@pytest.mark.parametrize("fault, message", [("truncate_backup", "truncated|corrupt"),
                                            ("corrupt_backup", "corrupt")])
def test_damaged_backups_are_refused(lab, fault, message):
    setattr(lab.device.faults, fault, True)
    content = lab.driver().export_config()
    with pytest.raises(ValueError, match=message):
        FortiGateDriver.validate_config(content)


GOOD = b"""#config-version=FGT60F-7.04-FW-build2662-240514:opmode=0:vdom=0:user=api-admin
#buildno=2662
config system global
    set hostname "fw01"
end
config vpn certificate local
    edit "x"
        set certificate "-----BEGIN CERTIFICATE-----
MIIB
-----END CERTIFICATE-----"
    next
end
"""


def test_validate_good_config():
    FortiGateDriver.validate_config(GOOD)


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (GOOD[: len(GOOD) - 20], "truncated"),
    (GOOD[:len(GOOD) // 2], "truncated"),
    (GOOD.replace(b"#config-version", b"#config-versio"), "config-version"),
    (GOOD.replace(b"config system global", b"config system dns"), "config system global"),
    (GOOD.replace(b"    set hostname", b"\xff\xfe set hostname"), "not UTF-8"),
    (GOOD.replace(b"    set hostname", b"    se\x00 hostname"), "NUL"),
    (GOOD.replace(b"    set hostname", b"    qqq hostname"), "line 4 is not FortiOS configuration syntax"),
    (GOOD + b"end\n", "'end' without 'config'"),
    (b'{"http_method":"POST","status":"error","http_status":405}', "config-version"),
])
def test_validate_rejects(content, message):
    with pytest.raises(ValueError, match=message):
        FortiGateDriver.validate_config(content)


def test_secrets_are_masked_in_the_export(lab):
    content = lab.driver().export_config().decode()
    masked = mask_secrets(content, FortiGateDriver.secret_patterns)
    assert "ENC ********" in masked and "ENC SH2" not in masked
    assert masked.count("********") == content.count(" ENC ")


# -- firmware ------------------------------------------------------------------------------------

def test_firmware_status_follows_the_upgrade_path(tmp_path):
    box = Lab(tmp_path / "lab", firmware_version="7.2.8", firmware_latest="7.4.7")
    try:
        status = box.driver().firmware_status()
        assert status == {"installed": "7.2.8", "available": "7.2.10", "reboot_required": True}
    finally:
        box.close()


def test_firmware_status_without_offer(tmp_path):
    box = Lab(tmp_path / "lab", firmware_version="7.4.7", firmware_latest="7.4.7")
    try:
        driver = box.driver()
        assert driver.firmware_status() == {"installed": "7.4.7", "available": None, "reboot_required": False}
        with pytest.raises(DriverError, match="no firmware update is offered"):
            driver.start_firmware_update()
    finally:
        box.close()


def test_upgrade_reboots_and_comes_back_with_the_new_version(lab):
    driver = lab.driver()
    assert driver.firmware_status()["available"] == "7.4.7"
    driver.start_firmware_update()
    facts = driver.wait_until_back(30, poll=0.1)
    assert facts["firmware_version"] == "7.4.7" and lab.device.state["firmware_version"] == "7.4.7"
    assert driver.firmware_status()["available"] is None


def test_failed_upgrade_names_the_reason_and_keeps_the_version(lab):
    lab.device.faults.firmware_fail = True
    driver = lab.driver()
    with pytest.raises(DriverError, match=r"upgrade to 7\.4\.7 failed: Failed to download.*7\.4\.4 stays"):
        driver.start_firmware_update()
    time.sleep(0.5)
    assert lab.device.up and lab.device.state["firmware_version"] == "7.4.4"


def test_reboot_never_returns_is_a_timeout(lab):
    lab.device.faults.reboot_never_returns = True
    driver = lab.driver(retries=1, timeout=1.0)
    driver.start_firmware_update()
    with pytest.raises(DriverError, match="did not come back within 3 s"):
        driver.wait_until_back(3, poll=0.2)


# -- signatures -----------------------------------------------------------------------------------

def test_signature_update_changes_once_a_day(lab):
    driver = lab.driver()
    first = driver.update_signatures()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    assert first == {"changed": True, "signature_date": today}
    assert driver.update_signatures() == {"changed": False, "signature_date": today}
    assert driver.facts()["signature_date"] == today


# -- settings ---------------------------------------------------------------------------------------

RULES = [
    {"description": "allow praxis outbound", "action": "pass", "interface": "internal", "direction": "in",
     "ipprotocol": "inet", "protocol": "any", "source_net": "192.168.10.0/24", "destination_net": "any",
     "destination_port": "", "sequence": 110, "log": False},
    {"description": "block gast to praxis", "action": "block", "interface": "internal", "direction": "in",
     "protocol": "any", "source_net": "192.168.20.0/24", "destination_net": "192.168.10.0/24", "sequence": 100,
     "log": True},
    {"description": "allow https to the server", "action": "reject", "interface": "wan1", "protocol": "TCP",
     "source_net": "any", "destination_net": "192.168.10.5", "destination_port": "443", "sequence": 120},
]
SYSLOG = [{"host": "192.0.2.10", "port": 514, "transport": "udp", "description": "log host"},
          {"host": "192.0.2.11", "port": 6514, "transport": "tcp", "description": "second"}]


def managed(lab: Lab) -> list[dict]:
    return [p for p in lab.device._ordered("firewall/policy") if p["comments"].startswith(MANAGED_PREFIX)]


def test_rules_are_created_mapped_ordered_and_idempotent(lab):
    lab.call(lab.device._cmdb, "POST", "firewall", "policy", [], {}, {
        "policyid": 0, "name": "own", "srcintf": [{"name": "wan1"}], "dstintf": [{"name": "internal"}],
        "srcaddr": [{"name": "all"}], "dstaddr": [{"name": "all"}], "service": [{"name": "ALL"}],
        "action": "deny", "comments": "made by hand"})
    driver = lab.driver()
    check = driver.apply_settings({"rules": RULES}, check_mode=True)
    assert check["changed"] and check["before"]["rules"] == {} and len(lab.device.state["tables"]
                                                                        ["firewall/policy"]) == 1
    result = driver.apply_settings({"rules": RULES}, check_mode=False)
    assert result["changed"] and result["after"] == check["after"]
    policies = managed(lab)
    assert [p["comments"] for p in policies] == [MANAGED_PREFIX + r["description"] for r in
                                                 (RULES[1], RULES[0], RULES[2])]
    block, allow, reject = policies
    assert (allow["action"], allow["nat"], allow["logtraffic"]) == ("accept", "enable", "utm")
    assert [i["name"] for i in allow["srcintf"]] == ["internal"] and allow["dstintf"][0]["name"] == "any"
    assert allow["srcaddr"][0]["name"] == "praxisops-net-192.168.10.0-24" and allow["dstaddr"][0]["name"] == "all"
    assert (block["action"], block["logtraffic"], block["send-deny-packet"]) == ("deny", "all", "disable")
    assert (reject["action"], reject["send-deny-packet"]) == ("deny", "enable")
    assert reject["service"][0]["name"] == "praxisops-tcp-443"
    service = lab.device.state["tables"]["firewall.service/custom"]["praxisops-tcp-443"]
    assert service["tcp-portrange"] == "443" and service["udp-portrange"] == ""
    address = lab.device.state["tables"]["firewall/address"]["praxisops-net-192.168.10.5-32"]
    assert address["subnet"] == "192.168.10.5 255.255.255.255"
    revision = lab.device.state["revision"]
    again = driver.apply_settings({"rules": RULES}, check_mode=False)
    assert again["changed"] is False and lab.device.state["revision"] == revision
    assert again["before"] == again["after"] == result["after"]
    assert lab.device.state["tables"]["firewall/policy"]["1"]["comments"] == "made by hand"


def test_rule_changes_updates_and_removals(lab):
    driver = lab.driver()
    driver.apply_settings({"rules": RULES}, check_mode=False)
    changed = [dict(RULES[0], action="block", sequence=130), RULES[1]]
    check = driver.apply_settings({"rules": changed}, check_mode=True)
    assert check["changed"] and len(managed(lab)) == 3
    result = driver.apply_settings({"rules": changed}, check_mode=False)
    assert result["before"]["rules"]["allow praxis outbound"]["action"] == "accept"
    assert result["after"]["rules"]["allow praxis outbound"]["action"] == "deny"
    assert [p["comments"] for p in managed(lab)] == [MANAGED_PREFIX + "block gast to praxis",
                                                     MANAGED_PREFIX + "allow praxis outbound"]
    # the objects only the removed rule used are gone, the others stay
    assert "praxisops-tcp-443" not in lab.device.state["tables"]["firewall.service/custom"]
    assert "praxisops-net-192.168.10.5-32" not in lab.device.state["tables"]["firewall/address"]
    assert "praxisops-net-192.168.10.0-24" in lab.device.state["tables"]["firewall/address"]
    assert driver.apply_settings({"rules": changed}, check_mode=False)["changed"] is False


def test_a_policy_changed_by_hand_is_put_back(lab):
    driver = lab.driver()
    driver.apply_settings({"rules": RULES[:1]}, check_mode=False)
    policy = managed(lab)[0]
    policy["action"] = "deny"
    policy["srcintf"] = [{"name": "wan1"}]
    result = driver.apply_settings({"rules": RULES[:1]}, check_mode=False)
    assert result["changed"] and result["before"]["rules"]["allow praxis outbound"]["srcintf"] == ["wan1"]
    assert managed(lab)[0]["action"] == "accept" and managed(lab)[0]["srcintf"][0]["name"] == "internal"


@pytest.mark.parametrize("rules, message", [
    ([dict(RULES[0], interface="lan")], r"interface 'lan' does not exist on this FortiGate \(it has: dmz, internal, "),
    ([dict(RULES[0], source_net="lannet")], r"settings.rules\[0\].source_net 'lannet' is not a network"),
    ([dict(RULES[0], ipprotocol="inet6")], r"settings.rules\[0\].ipprotocol"),
    ([dict(RULES[0], destination_port="443")], "needs protocol TCP"),
    ([dict(RULES[2], destination_port="https")], r"destination_port must be a port or a range"),
    ([dict(RULES[0], action="allow")], r"settings.rules\[0\].action must be pass, block or reject"),
    ([dict(RULES[0], colour="red")], r"settings.rules\[0\]: unknown keys colour"),
    ([RULES[0], RULES[0]], "used twice"),
    ([dict(RULES[0], description="")], "description is required"),
    ([dict(RULES[0], sequence="first")], "sequence must be a number"),
    ([RULES[0], dict(RULES[1], log="sometimes")], r"settings.rules\[1\].log must be true or false"),
])
def test_bad_rules_change_nothing(lab, rules, message):
    with pytest.raises(DriverError, match=message) as caught:
        lab.driver().apply_settings({"rules": rules, "syslog": SYSLOG}, check_mode=False)
    assert lab.device.state["revision"] == 1 and lab.device.state["tables"]["firewall/policy"] == {}
    secret_free(lab, caught.value)


def test_syslog_slots(lab):
    driver = lab.driver()
    check = driver.apply_settings({"syslog": SYSLOG}, check_mode=True)
    assert check["changed"] and lab.device.state["revision"] == 1
    result = driver.apply_settings({"syslog": SYSLOG}, check_mode=False)
    tables = lab.device.state["tables"]
    assert (tables["log.syslogd/setting"]["server"], tables["log.syslogd/setting"]["mode"]) == ("192.0.2.10", "udp")
    second = tables["log.syslogd2/setting"]
    assert (second["status"], second["server"], second["port"], second["mode"]) == ("enable", "192.0.2.11", 6514,
                                                                                    "reliable")
    assert tables["log.syslogd3/setting"]["status"] == "disable"
    assert result["after"]["syslog"]["syslogd2"] == {"status": "enable", "server": "192.0.2.11", "mode": "reliable",
                                           "port": 6514}
    assert driver.apply_settings({"syslog": SYSLOG}, check_mode=False)["changed"] is False
    fewer = driver.apply_settings({"syslog": SYSLOG[:1]}, check_mode=False)
    assert fewer["changed"] and tables["log.syslogd2/setting"]["status"] == "disable"
    assert b"set server \"192.0.2.10\"" in driver.export_config() or b"set server 192.0.2.10" in \
        driver.export_config()


@pytest.mark.parametrize("syslog, message", [
    ([{"host": f"192.0.2.{i}"} for i in range(5)], r"settings.syslog has 5 servers; a FortiGate forwards to at most 4"),
    ([{"host": "192.0.2.1", "transport": "tls"}], r"settings.syslog\[0\].transport must be udp or tcp"),
    ([{"host": "192.0.2.1", "port": 70000}], r"settings.syslog\[0\].port must be 1-65535"),
    ([{"host": ""}], r"settings.syslog\[0\].host is required"),
    ([{"host": "192.0.2.1"}, {"host": "192.0.2.1"}], "given twice"),
])
def test_bad_syslog_changes_nothing(lab, syslog, message):
    with pytest.raises(DriverError, match=message):
        lab.driver().apply_settings({"rules": RULES, "syslog": syslog}, check_mode=False)
    assert lab.device.state["revision"] == 1


def test_fewer_slots_on_the_device_are_refused_by_name(lab):
    del lab.device.state["tables"]["log.syslogd3/setting"]
    from lab import fortigate as emulator

    tables = dict(emulator.TABLES)
    del tables["log.syslogd3/setting"], tables["log.syslogd4/setting"]
    emulator_tables = emulator.TABLES
    emulator.TABLES = tables
    try:
        with pytest.raises(DriverError, match=r"3 servers; this FortiGate forwards to at most 2 \(log syslogd, "
                                              r"log syslogd2\)"):
            lab.driver().apply_settings({"syslog": [{"host": f"192.0.2.{i}"} for i in range(3)]}, check_mode=False)
    finally:
        emulator.TABLES = emulator_tables
    assert lab.device.state["revision"] == 1


def test_other_settings_are_unsupported(lab):
    with pytest.raises(Unsupported, match="settings vlans"):
        lab.driver().apply_settings({"vlans": [{"id": 10, "name": "x"}]}, check_mode=False)


def test_nat_outbound_option(lab):
    lab.driver(options={"nat_outbound": False}).apply_settings({"rules": RULES[:1]}, check_mode=False)
    assert managed(lab)[0]["nat"] == "disable"
    with pytest.raises(DriverError, match="options.nat_outbound must be true or false"):
        lab.driver(options={"nat_outbound": "maybe"}).apply_settings({"rules": RULES[:1]}, check_mode=False)


def test_a_refused_write_names_the_call_and_error_code(lab, monkeypatch):
    from lab import fortigate as emulator

    monkeypatch.setitem(emulator.REFERENCES, "service", "firewall/address")     # services no longer resolve
    with pytest.raises(DriverError, match=r"POST /api/v2/cmdb/firewall/policy answered HTTP 424 "
                                          r"\(failed dependency, error -3 \(entry not found\)\)"):
        lab.driver().apply_settings({"rules": RULES[2:]}, check_mode=False)


def test_long_descriptions_get_unique_policy_names():
    target = Target(site="s", name="fw", vendor="fortigate", role="firewall", address="192.0.2.1")
    long = [dict(RULES[0], description="allow the whole practice network outbound " + suffix)
            for suffix in ("one", "two")]
    rules = fg.desired_rules(target, long)
    names = [r["values"]["name"] for r in rules.values()]
    assert len(set(names)) == 2 and all(len(n) <= 35 for n in names)
