"""The OPNsense emulator driven with a real HTTPS client (requests), the way
the drivers talk to a real firewall: API key and secret as Basic auth, the
lab certificate as trust anchor."""

from __future__ import annotations

import datetime as dt
import re
import time
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.integration.lab.conftest import set_faults, wait_for

from lab import tls
from lab.opnsense import OPNsenseFirewall

KEY = "lab-api-key-" + "k" * 68
SECRET = "lab-api-secret-" + "s" * 65
CURRENT, LATEST = "25.1.4", "25.1.5"
REBOOT_SECONDS = 1.0


class LabCertAdapter(HTTPAdapter):
    """Verify the chain against the lab certificate; the lab addresses
    (127.29.x.y) are not in its SAN list, so only the host name check is off."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["assert_hostname"] = False
        super().init_poolmanager(*args, **kwargs)


class Client:
    def __init__(self, device: OPNsenseFirewall, cert: str, key: str = KEY, secret: str = SECRET) -> None:
        self.base = f"https://{device.address}:{device.port}"
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = cert
        self.session.mount("https://", LabCertAdapter())
        self.session.auth = (key, secret)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.base + path, timeout=5, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.session.post(self.base + path, timeout=5, **kwargs)


@pytest.fixture
def firewall(lab_loop, lab_run_dir):
    def make(**kwargs) -> tuple[OPNsenseFirewall, Client]:
        kwargs.setdefault("reboot_seconds", REBOOT_SECONDS)
        kwargs.setdefault("firmware_seconds", 0.4)
        device = lab_loop.start_device(OPNsenseFirewall, run_dir=lab_run_dir, username=KEY, password=SECRET,
                                       firmware_version=CURRENT, firmware_latest=LATEST, **kwargs)
        cert, _ = tls.ensure_certificate(lab_run_dir)
        return device, Client(device, str(cert))
    return make


def parse_xml(payload: bytes) -> ET.Element:
    # The document comes from the emulator under test in this process; expat resolves no external entities.
    return ET.fromstring(payload)  # noqa: S314






def refused(client: Client) -> bool:
    try:
        client.get("/api/core/firmware/running")
    except requests.exceptions.ConnectionError as exc:
        assert "refused" in str(exc).lower()
        return True
    return False


# -- backup -------------------------------------------------------------------------------

def test_backup_download_reflects_added_rule(firewall):
    device, client = firewall(hostname="fw01", domain="praxis-weber.lan")
    added = client.post("/api/firewall/filter/add_rule", json={"rule": {
        "description": "Praxis: PVS to TI-Konnektor", "interface": "lan", "protocol": "TCP",
        "destination_net": "10.9.0.10", "destination_port": "443", "action": "pass"}}).json()
    assert added["result"] == "saved"

    resp = client.get("/api/core/backup/download/this")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/octet-stream"
    assert resp.headers["Server"] == "OPNsense"
    match = re.fullmatch(r"attachment; filename=config-fw01\.praxis-weber\.lan-(\d{10}\.\d{4})\.xml",
                         resp.headers["Content-Disposition"])
    assert match, resp.headers["Content-Disposition"]
    assert abs(float(match.group(1)) - time.time()) < 60          # the revision the rule just made

    root = parse_xml(resp.content)
    assert root.tag == "opnsense"
    assert root.findtext("system/hostname") == "fw01"
    assert root.findtext("system/domain") == "praxis-weber.lan"
    assert root.findtext("revision/time") == match.group(1)
    assert "/api/firewall/filter/add_rule" in root.findtext("revision/description")
    rule = root.find(f"OPNsense/Firewall/Filter/rules/rule[@uuid='{added['uuid']}']")
    assert rule is not None
    assert rule.findtext("description") == "Praxis: PVS to TI-Konnektor"
    assert rule.findtext("destination_port") == "443"
    assert rule.findtext("interface") == "lan"
    passwords = [u.findtext("password") for u in root.findall("system/user")]
    assert passwords and all(re.fullmatch(r"\$2y\$\d\d\$[./A-Za-z0-9]{53}", p) for p in passwords)
    assert root.findtext("system/user/apikeys/item/key") == KEY
    assert root.findtext("OPNsense/IDS/general/enabled") == "1"
    assert root.find("OPNsense/Syslog/destinations") is not None

    # a second rule changes the backup again
    client.post("/api/firewall/filter/add_rule", json={"rule": {"description": "second"}})
    again = parse_xml(client.get("/api/core/backup/download/this").content)
    assert len(again.findall("OPNsense/Firewall/Filter/rules/rule")) == 2


def test_backup_truncated_and_corrupted(firewall, lab_loop):
    device, client = firewall()
    good = client.get("/api/core/backup/download/this").content
    assert client.get("/api/core/backup/download/this").content == good       # stable without changes
    parse_xml(good)

    set_faults(lab_loop, device, truncate_backup=True)
    short = client.get("/api/core/backup/download/this")
    assert short.status_code == 200
    assert len(short.content) == len(good) // 2 and good.startswith(short.content)
    with pytest.raises(ET.ParseError):
        parse_xml(short.content)

    set_faults(lab_loop, device, truncate_backup=False, corrupt_backup=True)
    bad = client.get("/api/core/backup/download/this")
    assert bad.status_code == 200
    assert len(bad.content) == len(good) and bad.content != good
    assert bad.content[:100] == good[:100] and bad.content[-100:] == good[-100:]
    with pytest.raises(ET.ParseError):
        parse_xml(bad.content)


# -- authentication, faults, routing ------------------------------------------------------

def test_wrong_credentials_and_refuse_auth(firewall, lab_loop):
    device, client = firewall()
    wrong = Client(device, client.session.verify, secret="not-the-secret")
    resp = wrong.get("/api/core/firmware/status")
    assert resp.status_code == 401
    assert resp.json() == {"status": 401, "message": "Authentication Failed"}

    anonymous = Client(device, client.session.verify)
    anonymous.session.auth = None
    resp = anonymous.get("/api/core/firmware/status")
    assert resp.status_code == 401 and resp.content == b""

    assert client.get("/api/core/firmware/status").status_code == 200
    set_faults(lab_loop, device, refuse_auth=True)
    refused_resp = client.get("/api/core/firmware/status")
    assert refused_resp.status_code == 401
    assert refused_resp.json()["message"] == "Authentication Failed"


def test_unknown_path_and_request_counter(firewall, lab_loop):
    device, client = firewall()
    before = lab_loop.call(lambda: device.requests)
    for path in ("/api/core/firmware/nosuchaction", "/api/nosuch/module/x", "/api/firewall/filter/set_rule"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.json() == {"errorMessage": "Endpoint not found"}
    # routing comes before authentication, as in the real dispatcher
    assert Client(device, client.session.verify, secret="x").get("/api/nosuch/x/y").status_code == 404
    assert lab_loop.call(lambda: device.requests) == before + 4


def test_latency_and_error_rate(firewall, lab_loop):
    device, client = firewall()
    set_faults(lab_loop, device, latency=0.4)
    t0 = time.monotonic()
    assert client.get("/api/diagnostics/system/system_time").status_code == 200
    assert time.monotonic() - t0 >= 0.4

    set_faults(lab_loop, device, latency=0.0, error_rate=1.0)
    for _ in range(3):
        resp = client.get("/api/diagnostics/system/system_time")
        assert resp.status_code == 500
        assert resp.json() == {"errorMessage": "Unexpected error, check log for details"}
    set_faults(lab_loop, device, error_rate=0.0)
    assert client.get("/api/diagnostics/system/system_time").status_code == 200


def test_drop_rate_closes_the_connection_without_an_answer(firewall, lab_loop):
    device, client = firewall()
    before = lab_loop.call(lambda: device.requests)
    set_faults(lab_loop, device, drop_rate=1.0)
    for call in (lambda: client.get("/api/diagnostics/system/system_time"),
                 lambda: client.post("/api/core/firmware/check", json={})):
        with pytest.raises(requests.ConnectionError):
            call()
    assert lab_loop.call(lambda: device.requests) == before       # nothing was answered
    set_faults(lab_loop, device, drop_rate=0.0)
    assert client.get("/api/diagnostics/system/system_time").status_code == 200
    assert lab_loop.call(lambda: device.requests) == before + 1


# -- firmware -----------------------------------------------------------------------------

def test_firmware_cycle(firewall, lab_loop):
    device, client = firewall()
    before = client.get("/api/core/firmware/status").json()
    assert before["status"] == "none" and before["product"]["product_check"] is None
    assert before["product"]["product_version"] == CURRENT

    assert client.post("/api/core/firmware/check").json()["status"] == "ok"
    wait_for(lambda: client.get("/api/core/firmware/upgradestatus").json()["status"] == "done")
    status = client.get("/api/core/firmware/status").json()
    assert status["status"] == "update"
    assert status["product_version"] == CURRENT
    assert status["product"]["product_latest"] == LATEST
    assert status["needs_reboot"] == "1" and status["status_reboot"] == "1"
    assert status["upgrade_needs_reboot"] == "0"
    assert "This update requires a reboot." in status["status_msg"]
    names = {p["name"] for p in status["upgrade_packages"]}
    assert {"opnsense", "base", "kernel"} <= names
    assert all(p["new_version"] == LATEST for p in status["upgrade_packages"])
    assert status["all_packages"]["opnsense"] == {"reason": "upgrade", "old": CURRENT, "new": LATEST,
                                                  "repository": "OPNsense", "name": "opnsense"}

    started = client.post("/api/core/firmware/update").json()
    assert started["status"] == "ok" and re.fullmatch(r"[0-9a-f-]{36}", started["msg_uuid"])
    seen, logs = [], []

    def reboot_announced():
        reply = client.get("/api/core/firmware/upgradestatus").json()
        seen.append(reply["status"])
        logs.append(reply["log"])
        return reply["status"] == "reboot"
    wait_for(reboot_announced, interval=0.02)
    assert "running" in seen
    running_logs = [log for state, log in zip(seen, logs, strict=True) if state == "running"]
    assert len(set(running_logs)) > 1 and len(running_logs[-1]) > len(running_logs[0])   # growing
    assert logs[-1].startswith("***GOT REQUEST TO UPDATE***") and logs[-1].endswith("***REBOOT***")

    wait_for(lambda: refused(client), timeout=3, interval=0.02)
    assert lab_loop.call(lambda: device.up) is False
    wait_for(lambda: not refused(client), timeout=REBOOT_SECONDS + 5, interval=0.1)

    after = client.get("/api/core/firmware/status").json()
    assert after["status"] == "none"
    assert after["product"]["product_version"] == LATEST
    assert client.get("/api/core/firmware/upgradestatus").json()["status"] == "done"
    probe = client.post("/api/core/firmware/status").json()                # POST probes synchronously
    assert probe["status"] == "none" and probe["status_msg"].startswith("There are no updates available")
    assert lab_loop.call(lambda: device.state["firmware_version"]) == LATEST
    assert lab_loop.call(lambda: device.summary()["firmware"]) == LATEST


def test_firmware_fail(firewall, lab_loop):
    device, client = firewall()
    set_faults(lab_loop, device, firmware_fail=True)
    assert client.post("/api/core/firmware/update").json()["status"] == "ok"
    final = wait_for(lambda: (r := client.get("/api/core/firmware/upgradestatus").json())["status"] != "running"
                     and r)
    assert final["status"] == "error"
    assert final["log"].splitlines()[-1].startswith("The firmware update failed")
    assert "***REBOOT***" not in final["log"]
    time.sleep(0.3)
    assert lab_loop.call(lambda: device.up) is True
    assert client.post("/api/core/firmware/status").json()["product_version"] == CURRENT


def test_reboot_never_returns(firewall, lab_loop):
    device, client = firewall()
    set_faults(lab_loop, device, reboot_never_returns=True)
    assert client.get("/api/core/firmware/reboot").json() == {"status": "failure"}      # POST only
    reply = client.post("/api/core/firmware/reboot").json()
    assert reply["status"] == "ok" and reply["msg_uuid"]
    wait_for(lambda: refused(client), timeout=3)
    time.sleep(REBOOT_SECONDS + 1.0)
    assert refused(client)
    assert lab_loop.call(lambda: device.up) is False


# -- IDS ------------------------------------------------------------------------------------

def test_ids_update_moves_signature_date(firewall, lab_loop):
    device, client = firewall()
    before = lab_loop.call(lambda: device.state["ids"]["rules_updated"])
    assert before < time.time() - 86400
    rows = client.get("/api/ids/settings/list_rulesets").json()["rows"]
    old = next(r for r in rows if r["filename"] == "emerging-scan.rules")
    assert old["enabled"] == "1" and old["description"] == "ET open/emerging-scan"

    assert client.get("/api/ids/service/update_rules").json() == {"status": "failed"}     # POST only
    assert client.post("/api/ids/service/updateRules").json() == {"status": "OK\n\n"}
    after = lab_loop.call(lambda: device.state["ids"]["rules_updated"])
    assert after > before and abs(after - time.time()) < 5
    new = client.get(f"/api/ids/settings/get_ruleset/{old['filename']}").json()
    now = dt.datetime.now(ZoneInfo("Europe/Berlin"))
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d{1,2}:\d\d", new["modified_local"])
    assert new["modified_local"].startswith(f"{now:%Y/%m/%d}") and new["modified_local"] != old["modified_local"]
    assert client.post("/api/ids/service/reloadRules").json()["status"] == "OK\n\n"
    assert client.get("/api/ids/service/status").json()["status"] == "running"


# -- diagnostics ------------------------------------------------------------------------------

def test_diagnostics_shapes(firewall):
    device, client = firewall(hostname="fw01", domain="praxis-weber.lan")
    info = client.get("/api/diagnostics/system/system_information").json()
    assert info["name"] == "fw01.praxis-weber.lan"
    assert info["versions"][0] == f"OPNsense {CURRENT}-amd64" and info["versions"][1].startswith("FreeBSD 14.")
    assert info["updates"] == "Click to view pending updates."        # the changelog knows LATEST

    clock = client.get("/api/diagnostics/system/system_time").json()
    assert set(clock) == {"uptime", "datetime", "boottime", "config", "loadavg"}
    assert re.fullmatch(r"\d\d:\d\d:\d\d", clock["uptime"])
    assert re.fullmatch(r"\w{3} \w{3} \d{1,2} \d{1,2}:\d\d:\d\d CES?T \d{4}", clock["datetime"])
    assert re.fullmatch(r"\d+\.\d\d, \d+\.\d\d, \d+\.\d\d", clock["loadavg"])

    samples = [client.get("/api/diagnostics/system/system_resources").json()["memory"] for _ in range(3)]
    for memory in samples:
        assert int(memory["total"]) > int(memory["used"]) > 0
        assert memory["total_frmt"] == str(int(memory["total"]) // 1024 // 1024)
    assert len({m["used"] for m in samples}) > 1                          # slightly varying

    disks = client.get("/api/diagnostics/system/system_disk").json()["devices"]
    root = next(d for d in disks if d["mountpoint"] == "/")
    assert set(root) == {"device", "type", "blocks", "used", "available", "used_pct", "mountpoint"}
    assert root["type"] in ("ufs", "zfs") and isinstance(root["used_pct"], int)

    temps = client.get("/api/diagnostics/system/system_temperature").json()
    assert temps and {t["type"] for t in temps} <= {"amd", "zone", "cpu", "platform", "other"}
    assert all(20 < float(t["temperature"]) < 90 for t in temps)
    assert all(set(t) == {"device", "device_seq", "temperature", "type_translated", "type"} for t in temps)


# -- firewall rules -----------------------------------------------------------------------------

def test_rule_crud_and_apply(firewall):
    device, client = firewall()
    invalid = client.post("/api/firewall/filter/add_rule", json={"rule": {
        "action": "allow", "source_net": "lan-net", "destination_port": "99999", "enabled": "yes"}}).json()
    assert invalid == {"result": "failed", "validations": {
        "rule.enabled": "Value should be a boolean (0,1).",
        "rule.action": "Option not in list.",
        "rule.source_net": "lan-net is not a valid source IP address or alias.",
        "rule.destination_port": "Please specify a valid portnumber, name, alias or range."}}
    assert client.get("/api/firewall/filter/add_rule").json() == {"result": "failed"}

    first = client.post("/api/firewall/filter/add_rule", json={"rule": {
        "description": "Block Gast to LAN", "interface": "opt1", "action": "block",
        "destination_net": "lan", "log": "1"}}).json()
    # PHP-style form fields work as well (rule[description]=...)
    second = client.post("/api/firewall/filter/addRule", data={
        "rule[description]": "Allow DNS", "rule[protocol]": "TCP/UDP", "rule[destination_port]": "domain"}).json()
    assert first["result"] == second["result"] == "saved"

    rule = client.get(f"/api/firewall/filter/get_rule/{first['uuid']}").json()["rule"]
    assert rule["description"] == "Block Gast to LAN"
    assert rule["sequence"] == "101"
    assert rule["action"]["block"] == {"value": "Block", "selected": 1}
    assert rule["action"]["pass"]["selected"] == 0
    assert rule["interface"]["opt1"]["selected"] == 1 and rule["interface"]["lan"]["selected"] == 0
    assert rule["destination_net"] == "lan"
    template = client.get("/api/firewall/filter/get_rule").json()["rule"]
    assert template["sequence"] == "301" and template["enabled"] == "1"
    assert client.get("/api/firewall/filter/get_rule/00000000-0000-0000-0000-000000000000").json() == []

    found = client.get("/api/firewall/filter/search_rule").json()
    assert found["total"] == found["rowCount"] == 2 and found["current"] == 1
    assert [r["uuid"] for r in found["rows"]] == [first["uuid"], second["uuid"]]          # by sequence
    assert found["rows"][0]["%action"] == "Block"
    phrase = client.post("/api/firewall/filter/search_rule", json={"searchPhrase": "dns", "current": 1,
                                                                   "rowCount": 10}).json()
    assert [r["uuid"] for r in phrase["rows"]] == [second["uuid"]]

    changed = client.post(f"/api/firewall/filter/set_rule/{second['uuid']}",
                          json={"rule": {"description": "Allow DNS to Unbound", "sequence": "50"}}).json()
    assert changed == {"result": "saved"}
    bad = client.post(f"/api/firewall/filter/set_rule/{second['uuid']}", json={"rule": {"sequence": "0"}}).json()
    assert bad == {"result": "failed", "validations": {"rule.sequence": "Sequence shall be between 1 and 999999."}}
    reordered = client.get("/api/firewall/filter/search_rule").json()["rows"]
    assert reordered[0]["description"] == "Allow DNS to Unbound"

    toggled = client.post(f"/api/firewall/filter/toggle_rule/{first['uuid']}/0").json()
    assert toggled == {"result": "Disabled", "changed": True}

    assert client.post(f"/api/firewall/filter/del_rule/{first['uuid']}").json() == {"result": "deleted"}
    assert client.post(f"/api/firewall/filter/del_rule/{first['uuid']}").json() == {"result": "not found"}
    assert client.get("/api/firewall/filter/search_rule").json()["total"] == 1

    assert client.post("/api/firewall/filter/apply").json() == {"status": "OK\n\n"}
    assert client.get("/api/firewall/filter/apply").json() == {"status": "error"}
    bad_json = client.post("/api/firewall/filter/add_rule", data=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json() == {"message": "Invalid JSON syntax", "status": 400}


# -- syslog -------------------------------------------------------------------------------------

def test_syslog_destination_crud_and_reconfigure(firewall):
    device, client = firewall()
    invalid = client.post("/api/syslog/settings/add_destination", json={"destination": {
        "hostname": "not a host", "transport": "udp", "port": "70000"}}).json()
    assert invalid == {"result": "failed", "validations": {
        "destination.transport": "Option not in list.",
        "destination.hostname": "Please specify a valid IP address or hostname.",
        "destination.port": "Please specify a valid port number (1-65535)."}}

    added = client.post("/api/syslog/settings/add_destination", json={"destination": {
        "hostname": "10.20.0.5", "transport": "tcp4", "port": "6514", "description": "Praxis SIEM",
        "level": "warn,err,crit,alert,emerg"}}).json()
    assert added["result"] == "saved"
    item = client.get(f"/api/syslog/settings/get_destination/{added['uuid']}").json()["destination"]
    assert item["hostname"] == "10.20.0.5" and item["port"] == "6514"
    assert item["transport"]["tcp4"]["selected"] == 1
    assert item["level"]["warn"] == {"value": "warn", "selected": 1} and item["level"]["info"]["selected"] == 0

    assert client.post(f"/api/syslog/settings/set_destination/{added['uuid']}",
                       json={"destination": {"port": "514", "transport": "udp4"}}).json() == {"result": "saved"}
    listing = client.get("/api/syslog/settings/search_destinations").json()
    assert listing["total"] == 1
    row = listing["rows"][0]
    assert (row["uuid"], row["port"], row["transport"], row["%transport"]) == (added["uuid"], "514", "udp4", "UDP(4)")

    backup = parse_xml(client.get("/api/core/backup/download/this").content)
    dest = backup.find(f"OPNsense/Syslog/destinations/destination[@uuid='{added['uuid']}']")
    assert dest is not None and dest.findtext("hostname") == "10.20.0.5" and dest.findtext("port") == "514"

    assert client.post("/api/syslog/service/reconfigure").json() == {"status": "ok"}
    assert client.get("/api/syslog/service/reconfigure").json() == {"status": "failed"}
    assert client.post(f"/api/syslog/settings/del_destination/{added['uuid']}").json() == {"result": "deleted"}
    assert client.get("/api/syslog/settings/search_destinations").json()["rows"] == []
