"""Conformance: third-party OPNsense API clients from PyPI, which nobody here
wrote, against the OPNsense emulator over real HTTPS: pyopnsense (the client
of Home Assistant's opnsense integration) and opnsense-api2 (pydantic models
of the core answers, so a missing or misnamed field fails validation)."""

from __future__ import annotations

import time

import pytest
from opnsense_api.api.core_backup_client import CoreBackupClient
from opnsense_api.api.core_firmware_client import CoreFirmwareClient
from opnsense_api.base_client import BaseClient
from opnsense_api.pydantic.UpdateStatus import UpdateStatus
from pyopnsense import backup, diagnostics, exceptions, firewall, firmware, routes

from lab.opnsense import OPNsenseFirewall

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")

KEY = "lab-api-key-" + "c" * 68
SECRET = "lab-api-secret-" + "d" * 65


@pytest.fixture
def fw(lab_loop, lab_run_dir) -> OPNsenseFirewall:
    return lab_loop.start_device(OPNsenseFirewall, run_dir=lab_run_dir, username=KEY, password=SECRET,
                                 firmware_version="25.1.4", firmware_latest="25.1.5", firmware_seconds=0.4)


def base_url(device: OPNsenseFirewall) -> str:
    return f"https://{device.address}:{device.port}/api"


def make(cls, device: OPNsenseFirewall, secret: str = SECRET):
    # verify_cert=False: the lab certificate does not name the device address (test_opnsense.py checks the chain).
    return cls(KEY, secret, base_url(device), verify_cert=False, timeout=10)


# -- pyopnsense 0.4.0 -------------------------------------------------------------------------

def test_pyopnsense_firmware_status_and_gateways(fw):
    status = make(firmware.FirmwareClient, fw).status()
    assert status["status"] == "none"
    assert status["product"]["product_version"] == "25.1.4"
    assert status["product"]["product_conflicts"].split()[0] == "os-firewall"
    gateways = make(routes.GatewayClient, fw).status()
    assert gateways["status"] == "ok"
    assert gateways["items"][0]["name"] == "WAN_DHCP" and gateways["items"][0]["status_translated"] == "Online"


def test_pyopnsense_arp_and_ndp(fw):
    client = make(diagnostics.InterfaceClient, fw)
    arp = client.get_arp()
    assert {"mac", "ip", "intf", "expired", "expires", "permanent", "type", "manufacturer", "hostname",
            "intf_description"} <= set(arp[0])
    lan = [row for row in arp if row["intf"] == "igc1"]
    assert lan and all(row["intf_description"] == "LAN" for row in lan)
    ndp = client.get_ndp()
    assert set(ndp[0]) == {"mac", "ip", "intf", "manufacturer", "intf_description"}


def test_pyopnsense_firewall_rules(fw):
    client = make(firewall.FirewallClient, fw)
    rules = client.get_automation_rules()
    assert rules["rows"] == [] and rules["total"] == 0
    client.apply_rules()                    # answers {"status": "OK\n\n"}; the client discards it


def test_pyopnsense_wrong_secret_is_api_exception_401(fw):
    with pytest.raises(exceptions.APIException) as err:
        make(firmware.FirmwareClient, fw, secret="wrong").status()
    assert err.value.status_code == 401


def test_pyopnsense_plugin_backup_path_is_404_without_the_plugin(fw):
    """pyopnsense's BackupClient calls the os-api-backup plugin (backup/backup/download), which a
    25.1 box without that plugin does not have: 404, as the real router answers."""
    with pytest.raises(exceptions.APIException) as err:
        make(backup.BackupClient, fw).download()
    assert err.value.status_code == 404


# -- opnsense-api2 0.7.3 ------------------------------------------------------------------------

def test_opnsense_api2_firmware_status_and_info_validate(fw, lab_loop):
    # UpdateStatus types upgrade_packages as a list of strings: only valid while nothing is pending.
    lab_loop.call(lambda: fw.state.update(firmware_latest="25.1.4"))
    client = make(CoreFirmwareClient, fw)
    client._post("core/firmware/check", {})
    deadline = time.monotonic() + 5
    while client._get("core/firmware/running")["status"] == "busy" and time.monotonic() < deadline:
        time.sleep(0.05)
    status = client.core_firmware_status()
    assert isinstance(status, UpdateStatus)
    assert status.status == "none" and status.product.product_version == "25.1.4"
    assert status.product.product_conflicts.startswith("os-firewall")

    info = client.core_firmware_info()
    assert info.product_version == "25.1.4"
    assert "opnsense" in {p.name for p in info.package}
    assert info.changelog[0].version == "25.1.4" and info.changelog[0].series == "25.1"
    assert [c.date for c in info.changelog] == sorted((c.date for c in info.changelog), reverse=True)


def test_opnsense_api2_backup_download(fw):
    client = make(CoreBackupClient, fw)
    assert client.core_backup_providers()["items"]["this"]["description"] == "This Firewall"
    xml = client.core_backup_download()
    assert xml.startswith("<?xml") and f"<hostname>{fw.state['hostname']}</hostname>" in xml


# -- documented core endpoints third-party clients call, through the clients' own transport ------

def test_core_status_services_and_diagnostics(fw):
    client = make(BaseClient, fw)
    status = client._get("core/system/status")
    assert status["metadata"]["system"] == {"status": 2, "message": "No pending messages", "title": "System"}

    services = client._post("core/service/search", {"searchPhrase": "unbound"})
    assert services["total"] == 1 and services["rows"][0] == {
        "id": "unbound", "locked": 0, "running": 1, "description": "Unbound DNS", "name": "unbound"}
    assert client._post("core/service/stop/unbound", {}) == {"result": "ok"}
    assert client._post("core/service/search", {"searchPhrase": "unbound"})["rows"][0]["running"] == 0
    assert client._get("core/service/start/unbound") == {"result": "failed"}      # GET: refused
    client._post("core/service/start/unbound", {})
    all_services = client._get("core/service/search")
    assert all_services["rowCount"] == all_services["total"] >= 10

    names = client._get("diagnostics/interface/getInterfaceNames")
    assert names == {"igc0": "WAN", "igc1": "LAN", "igc2": "GUEST"}
    routes_ = client._get("diagnostics/interface/getRoutes")
    default = next(r for r in routes_ if r["destination"] == "default")
    assert default["netif"] == "igc0" and default["intf_description"] == "WAN" and "nhop#" in default
    activity = client._get("diagnostics/activity/getActivity")
    assert activity["headers"][0].startswith("last pid:")
    assert {"PID", "THR", "USERNAME", "WCPU", "COMMAND"} <= set(activity["details"][0])
    assert client._get("diagnostics/system/systemSwap")["swap"][0]["device"].startswith("/dev/")
    changelog = client._post("core/firmware/changelog/25.1.5", {})
    assert changelog["status"] == "ok" and "25.1.5" in changelog["html"]
    assert client._post("core/firmware/changelog/19.1.1", {}) == {"status": "failure"}


def test_alias_util_add_list_delete(fw):
    client = make(BaseClient, fw)
    tables = client._get("firewall/alias_util/aliases")
    assert "bogons" in tables and "praxis_blocklist" in tables
    assert tables == sorted(tables, key=str.lower)
    revision = fw.state["config_revision"]["time"]
    assert client._post("firewall/alias_util/add/praxis_blocklist", {"address": "203.0.113.7"}) == {
        "status": "done"}
    assert fw.state["aliases"]["praxis_blocklist"]["content"] == ["203.0.113.7"]
    assert fw.state["config_revision"]["time"] >= revision
    listed = client._post("firewall/alias_util/list/praxis_blocklist", {})
    assert listed["total"] == 1 and listed["rows"][0]["ip"] == "203.0.113.7"
    assert listed["rows"][0]["in_block_p"] == 0
    assert client._post("firewall/alias_util/add/praxis_blocklist", {"address": "evil.example"}) == {
        "status": "not_an_address"}
    assert client._post("firewall/alias_util/add/nosuchalias", {"address": "203.0.113.8"}) == {
        "status": "failed", "status_msg": "nonexistent alias nosuchalias"}
    client._post("firewall/alias_util/delete/praxis_blocklist", {"address": "203.0.113.7"})
    assert client._post("firewall/alias_util/list/praxis_blocklist", {})["total"] == 0
    assert fw.state["aliases"]["praxis_blocklist"]["content"] == []
