"""The OPNsense driver with the HTTP seam replaced (``HTTPClient._once``):
answers shaped like opnsense/core's controllers, no network."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ansible.module_utils.praxis_backup import mask_secrets
from ansible.module_utils.praxis_driver import (
    FACT_KEYS, AuthFailed, DriverError, HTTPClient, ProtocolError, Target, Timeout, Unreachable, Unsupported,
    driver_class,
)
from ansible.module_utils import praxis_driver_opnsense as opn
from ansible.module_utils.praxis_driver_opnsense import MANAGED_PREFIX, OPNsenseDriver

SECRET = "api-secret-" + "x" * 40


class Turns(list):
    """Answers given one after the other; the last one stays."""


class FakeBox:
    """Routes (method, path) to canned answers; records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Any] = {}
        self.calls: list[tuple[str, str, Any]] = []

    def on(self, method: str, path: str, answer: Any) -> None:
        """answer: a JSON value, (status, JSON value), bytes, a callable(body) or Turns."""
        self.routes[(method, path)] = answer

    def handle(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        data = json.loads(body) if body else None
        self.calls.append((method, path, data))
        answer = self.routes.get((method, path.split("?")[0]))
        if answer is None:
            return 404, b'{"errorMessage":"Endpoint not found"}'
        if isinstance(answer, Turns):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if callable(answer):
            answer = answer(data)
        status = 200
        if isinstance(answer, tuple):
            status, answer = answer
        if isinstance(answer, bytes):
            return status, answer
        return status, json.dumps(answer).encode()

    def writes(self) -> list[tuple[str, str, Any]]:
        return [c for c in self.calls if c[0] == "POST" and not c[1].endswith(("searchRule", "searchDestinations"))]

    def paths(self) -> list[str]:
        return [c[1] for c in self.calls]


@pytest.fixture
def box(monkeypatch) -> FakeBox:
    fake = FakeBox()

    def once(client, method, path, body, headers):
        assert headers["Authorization"].startswith("Basic ")
        return fake.handle(method, path, body)

    monkeypatch.setattr(HTTPClient, "_once", once)
    return fake


@pytest.fixture
def driver(box) -> OPNsenseDriver:
    target = Target(site="weber", name="fw01", vendor="opnsense", role="firewall", address="192.0.2.1",
                    username="api-key", password=SECRET, retries=2, retry_delay=0.0)
    drv = OPNsenseDriver(target)
    drv.poll_interval = 0.0
    drv.sleep = lambda seconds: None
    return drv


def test_driver_is_found_by_vendor():
    assert driver_class("opnsense") is OPNsenseDriver
    assert OPNsenseDriver.vendor == "opnsense" and OPNsenseDriver.config_suffix == ".xml"


# -- facts ----------------------------------------------------------------------------------------

def facts_routes(box: FakeBox) -> None:
    box.on("GET", "/api/diagnostics/system/systemInformation", {
        "name": "fw01.praxis-weber.lan", "versions": ["OPNsense 25.1.4_1-amd64", "FreeBSD 14.2-RELEASE-p3",
                                                      "OpenSSL 3.0.16 11 Feb 2025"],
        "updates": "Click to check for updates."})
    box.on("GET", "/api/diagnostics/system/systemTime", {
        "uptime": "3 days, 04:05:06", "datetime": "Mon Mar 3 9:00:00 CET 2025", "config": "x", "loadavg": "0.1"})
    box.on("GET", "/api/diagnostics/system/systemResources", {
        "memory": {"total": "8000000000", "total_frmt": "7629", "used": 2000000000, "used_frmt": "1907"}})
    box.on("GET", "/api/diagnostics/system/systemTemperature", [
        {"device": "dev.cpu.0.temperature", "device_seq": "0", "temperature": "51.0", "type": "cpu"},
        {"device": "hw.acpi.thermal.tz0.temperature", "device_seq": "0", "temperature": "27.9", "type": "zone"}])
    box.on("GET", "/api/diagnostics/system/systemDisk", {"devices": [
        {"device": "/dev/gpt/rootfs", "type": "ufs", "blocks": "222G", "used": "3.9G", "available": "200G",
         "used_pct": 81, "mountpoint": "/"},
        {"device": "devfs", "type": "devfs", "used_pct": 100, "mountpoint": "/dev"},
        {"device": "tmpfs", "type": "tmpfs", "used_pct": "3%", "mountpoint": "/var/log"}]})
    box.on("GET", "/api/ids/settings/listRulesets", {"rows": [
        {"filename": "botcc.rules", "enabled": "1", "modified_local": "2025/03/01 3:05"},
        {"filename": "tor.rules", "enabled": "1", "modified_local": "2025/03/02 23:59"},
        {"filename": "emerging-dos.rules", "enabled": "0", "modified_local": "2025/03/09 1:00"},
        {"filename": "emerging-info.rules", "enabled": "0", "modified_local": None}], "total": 4})


def test_facts_parse_each_answer(box, driver):
    facts_routes(box)
    facts = driver.facts()
    assert facts == {
        "hostname": "fw01.praxis-weber.lan", "model": "OPNsense", "serial": None, "firmware_version": "25.1.4_1",
        "uptime_seconds": 3 * 86400 + 4 * 3600 + 5 * 60 + 6, "cpu_percent": None, "memory_percent": 25.0,
        "temperature_c": 51.0, "disks": None,
        "volumes": [{"id": "/", "status": "normal", "used_percent": 81.0},
                    {"id": "/var/log", "status": "normal", "used_percent": 3.0}],
        "signature_date": "2025-03-02",
    }
    assert len(box.calls) == 6 and all(method == "GET" for method, _path, _body in box.calls)
    assert set(facts) == set(FACT_KEYS)


def test_facts_model_from_target_and_missing_details(box, driver):
    facts_routes(box)
    box.on("GET", "/api/diagnostics/system/systemResources", {"memory": {"used": "N/A"}})
    box.routes.pop(("GET", "/api/diagnostics/system/systemTemperature"))        # 404
    box.on("GET", "/api/diagnostics/system/systemDisk", [])                       # no devices key
    box.on("GET", "/api/ids/settings/listRulesets", {"rows": [{"enabled": "1", "modified_local": None}]})
    driver.target.model = "DEC740"
    facts = driver.facts()
    assert facts["model"] == "DEC740"
    assert facts["memory_percent"] is None and facts["temperature_c"] is None
    assert facts["volumes"] is None and facts["signature_date"] is None


@pytest.mark.parametrize("text, seconds", [
    ("00:00:59", 59), ("23:59:00", 86340), ("1 day, 00:00:01", 86401), ("12 days, 01:00:00", 12 * 86400 + 3600),
    ("N/A", None), ("", None)])
def test_uptime(text, seconds):
    assert opn.parse_uptime(text) == seconds


@pytest.mark.parametrize("versions, expected", [
    (["OPNsense 25.1.4-amd64"], ("OPNsense", "25.1.4")),
    (["OPNsense 24.7.12_4-amd64", "FreeBSD"], ("OPNsense", "24.7.12_4")),
    (["OPNsense Business 25.4.2-aarch64"], ("OPNsense Business", "25.4.2")),
    ([], (None, None)), (None, (None, None))])
def test_versions(versions, expected):
    assert opn.parse_versions(versions) == expected


def test_wrong_credentials_name_the_device_not_the_secret(box, driver):
    box.on("GET", "/api/diagnostics/system/systemInformation", (401, {"status": 401,
                                                                       "message": "Authentication Failed"}))
    with pytest.raises(AuthFailed) as caught:
        driver.facts()
    message = str(caught.value)
    assert message.startswith("weber-fw01 (opnsense firewall at 192.0.2.1)")
    assert "HTTP 401" in message and SECRET not in message
    assert len(box.calls) == 1                       # not retried


# -- configuration ---------------------------------------------------------------------------------

GOOD = b"""<?xml version="1.0"?>
<opnsense>
  <theme>opnsense</theme>
  <system>
    <hostname>fw01</hostname>
    <domain>praxis-weber.lan</domain>
  </system>
  <revision><time>1741000000.1234</time></revision>
</opnsense>
"""


def test_validate_good_config():
    OPNsenseDriver.validate_config(GOOD)


@pytest.mark.parametrize("content, message", [
    (GOOD[: len(GOOD) // 2], "not well-formed XML"),
    (GOOD[:80] + b"\x00<\xff\xfe" + GOOD[84:], "not well-formed XML"),
    (b"", "empty"),
    (b"  \n", "empty"),
    (b"<?xml version=\"1.0\"?>\n<pfsense><system/></pfsense>\n", "not <opnsense>"),
    (b"<opnsense><theme>opnsense</theme></opnsense>", "no <system> section"),
    (b"<!DOCTYPE x [<!ENTITY a \"b\">]><opnsense><system/></opnsense>", "DOCTYPE"),
    (b"{\"errorMessage\":\"Endpoint not found\"}", "not well-formed XML"),
])
def test_validate_rejects(content, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        OPNsenseDriver.validate_config(content)


CONFIG_WITH_SECRETS = """<?xml version="1.0"?>
<opnsense>
  <system>
    <hostname>fw01</hostname>
    <user>
      <name>root</name>
      <descr>System Administrator</descr>
      <password>$2y$11$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234</password>
      <otp_seed>JBSWY3DPEHPK3PXP</otp_seed>
      <apikeys>
        <item>
          <key>w86XNZob/8Oq8aC5r0kbNarNtdpoQU781fyoeaOBQsBwkXUt</key>
          <secret>$6$saltsaltsaltsalt$longhashlonghashlonghashlonghashlonghashlonghashlonghashlonghash</secret>
        </item>
      </apikeys>
    </user>
  </system>
  <cert>
    <descr>Web GUI</descr>
    <crt>LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t</crt>
    <prv>LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2</prv>
  </cert>
  <ipsec>
    <mobilekey><ident>praxis</ident><pre-shared-key>TopSecretPSK!</pre-shared-key></mobilekey>
  </ipsec>
  <openvpn><openvpn-server><tls>-----BEGIN OpenVPN Static key V1-----
0123456789abcdef
-----END OpenVPN Static key V1-----</tls></openvpn-server></openvpn>
  <wireguard><server><privkey>cGF0aWVudGVuZGF0ZW4=</privkey></server></wireguard>
  <system2><ldap_bindpw><![CDATA[bind<pw>]]></ldap_bindpw></system2>
</opnsense>
"""


def test_secret_masking_of_config_xml():
    masked = mask_secrets(CONFIG_WITH_SECRETS, OPNsenseDriver.secret_patterns)
    for secret in ("$2y$11$", "JBSWY3DPEHPK3PXP", "w86XNZob", "$6$salt", "LS0tLS1CRUdJTiBQUklW", "TopSecretPSK",
                   "0123456789abcdef", "cGF0aWVudGVuZGF0ZW4", "bind<pw>"):
        assert secret not in masked, secret
    # tags and non-secret values stay readable
    for kept in ("<password>********</password>", "<secret>********</secret>", "<prv>********</prv>",
                 "<pre-shared-key>********</pre-shared-key>", "<hostname>fw01</hostname>",
                 "<descr>System Administrator</descr>", "<crt>LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t</crt>",
                 "<ident>praxis</ident>", "<ldap_bindpw>********</ldap_bindpw>"):
        assert kept in masked, kept
    assert masked.count("\n") == CONFIG_WITH_SECRETS.count("\n") - 2      # the static key's lines folded


def test_secret_patterns_name_the_secret_group():
    for pattern in OPNsenseDriver.secret_patterns:
        assert pattern.groupindex.get("secret") == 1
    # an empty element is left alone (nothing to mask, and no mask inserted between characters)
    assert mask_secrets("<password></password>", OPNsenseDriver.secret_patterns) == "<password></password>"


def test_export_returns_the_download(box, driver):
    box.on("GET", "/api/core/backup/download/this", GOOD)
    assert driver.export_config() == GOOD
    box.on("GET", "/api/core/backup/download/this", b"")
    with pytest.raises(ProtocolError, match="empty"):
        driver.export_config()


# -- settings ----------------------------------------------------------------------------------------

def rule_row(uuid: str, description: str, **values: str) -> dict[str, str]:
    row = {"uuid": uuid, "enabled": "1", "sequence": "100", "action": "pass", "interface": "lan", "direction": "in",
           "ipprotocol": "inet", "protocol": "any", "source_net": "any", "destination_net": "any",
           "destination_port": "", "log": "0", "description": description, "%action": "Pass"}
    row.update(values)
    return row


def rule_routes(box: FakeBox, rows: list[dict[str, str]]) -> None:
    box.on("POST", "/api/firewall/filter/searchRule", {"rows": rows, "rowCount": len(rows), "total": len(rows),
                                                       "current": 1})
    box.on("POST", "/api/firewall/filter/savepoint", {"status": "ok", "retention": "60", "revision": "1741.5000"})
    box.on("POST", "/api/firewall/filter/addRule", {"result": "saved", "uuid": "new-uuid"})
    box.on("POST", "/api/firewall/filter/apply/1741.5000", {"status": "OK\n\n"})
    box.on("POST", "/api/firewall/filter/cancelRollback/1741.5000", {"status": "\n\n"})
    box.on("POST", "/api/firewall/filter/revert/1741.5000", {"status": "ok"})


WANT = [{"description": "PVS to TI", "action": "pass", "interface": "lan", "protocol": "tcp",
         "destination_net": "10.9.0.10", "destination_port": 443, "sequence": 10, "log": True}]
HAVE = rule_row("u-pvs", MANAGED_PREFIX + "PVS to TI", protocol="TCP", destination_net="10.9.0.10",
                destination_port="443", sequence="10", log="1")


def test_rules_create_uses_savepoint_apply_and_confirm(box, driver):
    rule_routes(box, [rule_row("u-own", "Praxis: own rule")])
    result = driver.apply_settings({"rules": WANT}, check_mode=False)
    assert result["changed"] is True
    assert result["before"] == {"rules": {}}
    assert result["after"]["rules"]["PVS to TI"]["protocol"] == "TCP"
    assert [p for p in box.paths() if "searchRule" not in p] == [
        "/api/firewall/filter/savepoint", "/api/firewall/filter/addRule", "/api/firewall/filter/apply/1741.5000",
        "/api/firewall/filter/cancelRollback/1741.5000"]
    added = box.calls[2][2]["rule"]
    assert added["description"] == MANAGED_PREFIX + "PVS to TI" and added["enabled"] == "1"
    assert (added["protocol"], added["destination_port"], added["log"], added["sequence"]) == ("TCP", "443", "1", "10")
    assert box.calls[0][2]["searchPhrase"] == "praxisops:"


def test_rules_unchanged_write_nothing(box, driver):
    rule_routes(box, [HAVE, rule_row("u-own", "Praxis: own rule", action="block")])
    result = driver.apply_settings({"rules": WANT}, check_mode=False)
    assert result["changed"] is False
    assert result["before"] == result["after"]
    assert box.writes() == []


def test_rules_update_sends_only_the_difference(box, driver):
    rule_routes(box, [rule_row("u-pvs", MANAGED_PREFIX + "PVS to TI", protocol="TCP", destination_net="10.9.0.10",
                               destination_port="8443", sequence="10", log="1", enabled="0")])
    box.on("POST", "/api/firewall/filter/setRule/u-pvs", {"result": "saved"})
    result = driver.apply_settings({"rules": WANT}, check_mode=False)
    assert result["changed"] is True
    assert result["before"]["rules"]["PVS to TI"]["destination_port"] == "8443"
    assert result["after"]["rules"]["PVS to TI"]["destination_port"] == "443"
    sent = [c for c in box.calls if c[1] == "/api/firewall/filter/setRule/u-pvs"]
    assert sent[0][2] == {"rule": {"destination_port": "443", "enabled": "1"}}


def test_rules_delete_only_managed_ones(box, driver):
    rows = [HAVE, rule_row("u-old", MANAGED_PREFIX + "old rule"), rule_row("u-dup", MANAGED_PREFIX + "PVS to TI"),
            rule_row("u-own", "Praxis: own rule")]
    rule_routes(box, rows)
    box.on("POST", "/api/firewall/filter/delRule/u-old", {"result": "deleted"})
    box.on("POST", "/api/firewall/filter/delRule/u-dup", {"result": "deleted"})
    result = driver.apply_settings({"rules": WANT}, check_mode=False)
    assert result["changed"] is True
    assert set(result["before"]["rules"]) == {"PVS to TI", "old rule"}
    assert set(result["after"]["rules"]) == {"PVS to TI"}
    deleted = [p for p in box.paths() if "/delRule/" in p]
    assert deleted == ["/api/firewall/filter/delRule/u-old", "/api/firewall/filter/delRule/u-dup"]


def test_check_mode_reads_only(box, driver):
    rule_routes(box, [rule_row("u-old", MANAGED_PREFIX + "old rule")])
    box.on("POST", "/api/syslog/settings/searchDestinations", {"rows": []})
    result = driver.apply_settings({"rules": WANT, "syslog": [{"host": "10.0.0.5", "description": "siem"}]},
                                   check_mode=True)
    assert result["changed"] is True
    assert set(result["before"]["rules"]) == {"old rule"} and set(result["after"]["rules"]) == {"PVS to TI"}
    assert result["after"]["syslog"] == {"siem": {"host": "10.0.0.5", "port": 514, "transport": "udp"}}
    assert box.writes() == []


def test_refused_write_is_reverted_before_apply(box, driver):
    rule_routes(box, [])
    box.on("POST", "/api/firewall/filter/addRule", {"result": "failed", "validations": {
        "rule.source_net": "lan-net is not a valid source IP address or alias."}})
    with pytest.raises(DriverError) as caught:
        driver.apply_settings({"rules": [{"description": "x", "source_net": "lan-net"}]}, check_mode=False)
    message = str(caught.value)
    assert message.startswith("weber-fw01 (") and "rule.source_net: lan-net is not a valid" in message
    assert "reverted to savepoint 1741.5000" in message
    assert "/api/firewall/filter/revert/1741.5000" in box.paths()
    assert not any("/apply/" in p for p in box.paths())


def test_missing_rollback_timer_is_an_error(box, driver):
    rule_routes(box, [])
    box.on("POST", "/api/firewall/filter/cancelRollback/1741.5000", {"status": ""})
    with pytest.raises(ProtocolError, match="may have been rolled back"):
        driver.apply_settings({"rules": WANT}, check_mode=False)


def test_lost_contact_after_apply_names_the_rollback(box, driver):
    rule_routes(box, [])
    box.on("POST", "/api/firewall/filter/cancelRollback/1741.5000", (502, {"errorMessage": "gateway"}))
    with pytest.raises(DriverError) as caught:
        driver.apply_settings({"rules": WANT}, check_mode=False)
    assert "returns to savepoint 1741.5000 within 60 s by itself" in str(caught.value)
    assert SECRET not in str(caught.value)


def test_no_savepoint_means_no_rule_change(box, driver):
    rule_routes(box, [])
    box.routes.pop(("POST", "/api/firewall/filter/savepoint"))
    with pytest.raises(ProtocolError, match="offers no savepoint"):
        driver.apply_settings({"rules": WANT}, check_mode=False)
    assert not any(p.endswith(("addRule", "/apply/1741.5000")) for p in box.paths())


def test_syslog_create_update_delete_and_reconfigure(box, driver):
    box.on("POST", "/api/syslog/settings/searchDestinations", {"rows": [
        {"uuid": "d-siem", "enabled": "1", "description": MANAGED_PREFIX + "siem", "transport": "udp4",
         "hostname": "10.0.0.5", "port": "514", "%transport": "UDP(4)"},
        {"uuid": "d-old", "enabled": "1", "description": MANAGED_PREFIX + "old", "transport": "udp4",
         "hostname": "10.0.0.9", "port": "514"},
        {"uuid": "d-own", "enabled": "1", "description": "own", "transport": "udp4", "hostname": "10.0.0.1",
         "port": "514"}]})
    box.on("POST", "/api/syslog/settings/setDestination/d-siem", {"result": "saved"})
    box.on("POST", "/api/syslog/settings/addDestination", {"result": "saved", "uuid": "d-new"})
    box.on("POST", "/api/syslog/settings/delDestination/d-old", {"result": "deleted"})
    box.on("POST", "/api/syslog/service/reconfigure", {"status": "ok"})
    wanted = [{"host": "10.0.0.5", "port": 6514, "transport": "tcp", "description": "siem"},
              {"host": "2001:db8::5", "description": "v6"}]
    result = driver.apply_settings({"syslog": wanted}, check_mode=False)
    assert result["changed"] is True
    assert result["before"]["syslog"]["siem"] == {"host": "10.0.0.5", "port": 514, "transport": "udp"}
    assert result["after"]["syslog"] == {"siem": {"host": "10.0.0.5", "port": 6514, "transport": "tcp"},
                                         "v6": {"host": "2001:db8::5", "port": 514, "transport": "udp"}}
    writes = {c[1]: c[2] for c in box.writes()}
    assert writes["/api/syslog/settings/setDestination/d-siem"] == {
        "destination": {"port": "6514", "transport": "tcp4"}}
    assert writes["/api/syslog/settings/addDestination"]["destination"]["transport"] == "udp6"
    assert "/api/syslog/settings/delDestination/d-old" in writes
    assert not any("d-own" in p for p in writes)
    assert box.paths()[-1] == "/api/syslog/service/reconfigure"


@pytest.mark.parametrize("settings, message", [
    ({"rules": {"description": "x"}}, "settings.rules must be a list"),
    ({"rules": [{"action": "pass"}]}, "settings.rules[0].description is required"),
    ({"rules": [{"description": "a"}, {"description": "praxisops: a"}]}, "'a' is used twice"),
    ({"rules": [{"description": "a", "port": 1}]}, "unknown keys port"),
    ({"rules": [{"description": "a", "log": "maybe"}]}, "log must be true or false"),
    ({"syslog": [{"description": "a"}]}, "settings.syslog[0].host is required"),
    ({"syslog": [{"description": "a", "host": "h", "transport": "tls"}]}, "udp or tcp"),
    ({"syslog": [{"description": "a", "host": "h", "port": 70000}]}, "1-65535"),
])
def test_bad_settings_are_named(box, driver, settings, message):
    with pytest.raises(DriverError, match=re.escape(message)):
        driver.apply_settings(settings, check_mode=True)
    assert box.calls == []


def test_unsupported_settings(box, driver):
    with pytest.raises(Unsupported, match="settings vlans"):
        driver.apply_settings({"vlans": [{"id": 10}]}, check_mode=True)


# -- signatures ----------------------------------------------------------------------------------------

def test_signature_update(box, driver):
    old = {"rows": [{"enabled": "1", "modified_local": "2025/03/01 3:05"}]}
    new = {"rows": [{"enabled": "1", "modified_local": "2025/03/04 10:15"}]}
    box.on("GET", "/api/ids/settings/listRulesets", Turns([old, new]))
    box.on("POST", "/api/ids/service/updateRules", {"status": "OK\n\n"})
    assert driver.update_signatures() == {"changed": True, "signature_date": "2025-03-04"}
    box.on("GET", "/api/ids/settings/listRulesets", new)
    assert driver.update_signatures() == {"changed": False, "signature_date": "2025-03-04"}
    box.on("POST", "/api/ids/service/updateRules", {"status": "template error"})
    with pytest.raises(ProtocolError, match="template error"):
        driver.update_signatures()


# -- firmware ------------------------------------------------------------------------------------------

PRODUCT = {"product_version": "25.1.4", "product_latest": "25.1.5", "product_id": "opnsense"}


def firmware_routes(box: FakeBox, status: dict[str, Any]) -> None:
    box.on("POST", "/api/core/firmware/check", {"status": "ok", "msg_uuid": "m1"})
    box.on("GET", "/api/core/firmware/upgradestatus", Turns([
        {"status": "running", "log": "***GOT REQUEST TO CHECK FOR UPDATES***"},
        {"status": "done", "log": "***GOT REQUEST TO CHECK FOR UPDATES***\n***DONE***"}]))
    box.on("GET", "/api/core/firmware/status", status)


def test_firmware_minor_update(box, driver):
    firmware_routes(box, {"status": "update", "product": PRODUCT, "product_target": "opnsense",
                          "status_reboot": "1", "all_packages": {
                              "opnsense": {"name": "opnsense", "old": "25.1.4", "new": "25.1.5_1"},
                              "base": {"name": "base", "old": "25.1.4", "new": "25.1.5"}}})
    assert driver.firmware_status() == {"installed": "25.1.4", "available": "25.1.5_1", "reboot_required": True}
    box.on("POST", "/api/core/firmware/update", {"status": "ok", "msg_uuid": "m2"})
    driver.start_firmware_update()
    assert box.paths()[-2:] == ["/api/core/firmware/upgradestatus", "/api/core/firmware/update"]
    assert driver._started["log_before"] == "***GOT REQUEST TO CHECK FOR UPDATES***\n***DONE***"


def test_firmware_major_upgrade(box, driver):
    firmware_routes(box, {"status": "upgrade", "product": PRODUCT, "upgrade_major_version": "25.7",
                          "all_packages": [], "all_sets": {"base": {"name": "base", "new": "25.7"}}})
    assert driver.firmware_status() == {"installed": "25.1.4", "available": "25.7", "reboot_required": True}
    box.on("POST", "/api/core/firmware/upgrade", {"status": "failure"})
    with pytest.raises(ProtocolError, match="upgrade to 25.7 was refused"):
        driver.start_firmware_update()


def test_firmware_current_and_error(box, driver):
    firmware_routes(box, {"status": "none", "product": PRODUCT, "status_msg": "There are no updates available"})
    assert driver.firmware_status() == {"installed": "25.1.4", "available": None, "reboot_required": False}
    with pytest.raises(DriverError, match="no firmware update is pending"):
        driver.start_firmware_update()
    firmware_routes(box, {"status": "error", "status_msg": "Could not authenticate the selected mirror."})
    with pytest.raises(DriverError, match="firmware status: Could not authenticate"):
        driver.firmware_status()


def test_firmware_check_that_fails(box, driver):
    firmware_routes(box, {"status": "none"})
    box.on("GET", "/api/core/firmware/upgradestatus", {"status": "error", "log": "pkg: No address record"})
    with pytest.raises(DriverError, match="the firmware check failed: pkg: No address record"):
        driver.firmware_status()


def started(driver: OPNsenseDriver, log_before: str | None = None) -> None:
    driver._started = {"action": "update", "available": "25.1.5", "installed": "25.1.4", "log_before": log_before}


def test_wait_reports_a_failed_update(box, driver):
    started(driver)
    box.on("GET", "/api/core/firmware/upgradestatus", Turns([
        {"status": "running", "log": "***GOT REQUEST TO UPDATE***\nFetching"},
        {"status": "error", "log": "***GOT REQUEST TO UPDATE***\npkg: Cannot fetch remote packages\n"
                                   "The firmware update failed. Please check the connection to the mirror."}]))
    with pytest.raises(DriverError) as caught:
        driver.wait_until_back(60, poll=0, sleep=lambda s: None)
    assert not isinstance(caught.value, Timeout)
    assert "update to 25.1.5 failed: The firmware update failed" in str(caught.value)


def test_wait_follows_the_reboot(box, driver, monkeypatch):
    started(driver)
    facts_routes(box)
    box.on("GET", "/api/diagnostics/system/systemInformation", {"name": "fw01", "versions": ["OPNsense 25.1.5-amd64"]})
    # the log of the last check until the update job has started: not the end of the update
    answers = [(200, {"status": "done", "log": "***GOT REQUEST TO CHECK FOR UPDATES***\n***DONE***"}),
               (200, {"status": "running", "log": "***GOT REQUEST TO UPDATE***"}),
               (200, {"status": "reboot", "log": "***GOT REQUEST TO UPDATE***\n***REBOOT***"}),
               "down", "down",
               (200, {"status": "done", "log": "***GOT REQUEST TO UPDATE***\n***REBOOT***\n***DONE***"})]
    real = box.handle

    def handle(method, path, body):
        if path == "/api/core/firmware/upgradestatus":
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if answer == "down":
                raise ConnectionRefusedError(111, "Connection refused")
            return answer[0], json.dumps(answer[1]).encode()
        return real(method, path, body)

    box.handle = handle

    def once(client, method, path, body, headers):
        try:
            return box.handle(method, path, body)
        except ConnectionRefusedError as exc:      # mapped as HTTPClient._once maps it
            raise Unreachable(client.target, f"{method} {path} failed: {exc}") from exc

    monkeypatch.setattr(HTTPClient, "_once", once)
    facts = driver.wait_until_back(60, poll=0, sleep=lambda s: None)
    assert facts["firmware_version"] == "25.1.5"
    assert len(answers) == 1                          # followed the log through the reboot


def test_wait_times_out_with_the_budget(box, driver):
    started(driver)
    box.on("GET", "/api/core/firmware/upgradestatus", {"status": "reboot", "log": "***REBOOT***"})
    now = [0.0]

    def sleep(seconds):
        now[0] += max(seconds, 1.0)

    with pytest.raises(Timeout, match="did not come back within 30 s"):
        driver.wait_until_back(30, poll=5, clock=lambda: now[0], sleep=sleep)


def test_rules_read_in_full_when_the_search_shows_few_columns(box, driver):
    # searchBase of older releases answers only the listed columns; getRule gives option lists
    rule_routes(box, [{"uuid": "u-pvs", "enabled": "1", "sequence": "10", "action": "pass",
                       "description": MANAGED_PREFIX + "PVS to TI"}])

    def options(selected: str, *keys: str) -> dict[str, dict[str, Any]]:
        return {k: {"value": k.upper(), "selected": 1 if k in selected.split(",") else 0} for k in keys}

    box.on("GET", "/api/firewall/filter/getRule/u-pvs", {"rule": {
        "enabled": "1", "sequence": "10", "action": options("pass", "pass", "block", "reject"),
        "interface": options("lan", "wan", "lan", "opt1"), "direction": options("in", "in", "out"),
        "ipprotocol": options("inet", "inet", "inet6"), "protocol": options("TCP", "any", "TCP", "UDP"),
        "source_net": "any", "destination_net": "10.9.0.10", "destination_port": "443", "log": "1",
        "description": MANAGED_PREFIX + "PVS to TI"}})
    result = driver.apply_settings({"rules": WANT}, check_mode=False)
    assert result["changed"] is False
    assert "/api/firewall/filter/getRule/u-pvs" in box.paths()
    assert box.writes() == []


def test_wait_skips_the_log_of_an_earlier_failed_update(box, driver):
    earlier = "***GOT REQUEST TO UPDATE***\npkg: Cannot fetch remote packages\nThe firmware update failed."
    started(driver, log_before=earlier)
    facts_routes(box)
    box.on("GET", "/api/diagnostics/system/systemInformation", {"name": "fw01", "versions": ["OPNsense 25.1.5-amd64"]})
    box.on("GET", "/api/core/firmware/upgradestatus", Turns([
        {"status": "error", "log": earlier},
        {"status": "done", "log": "***GOT REQUEST TO UPDATE***\nNo reboot needed\n***DONE***"}]))
    facts = driver.wait_until_back(60, poll=0, sleep=lambda s: None)
    assert facts["firmware_version"] == "25.1.5"
