"""The driver registry (docs/drivers.md): declarations, what reads it, and
the static files generated from it (schema, docs table)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ansible.module_utils import praxis_driver
from ansible.module_utils.praxis_driver import (
    CAPABILITIES, DRIVER_MODULES, ROLES, SETTINGS_KEYS, Driver, Target, Unsupported, registry, vendor_record,
)
from ansible.module_utils.praxis_netops import build_target, config_backup, signature_update
from ansible.module_utils.praxis_site import _vendor_rules

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import site_schema  # noqa: E402


def test_every_driver_module_is_registered_with_a_full_declaration():
    records = registry()
    assert [r.module for r in records.values()] == list(DRIVER_MODULES)
    assert praxis_driver.VENDORS == tuple(records)
    for vendor, record in records.items():
        assert record.title and record.protocol in ("https", "ssh") and 0 < record.default_port < 65536
        assert set(record.roles) <= set(ROLES) and record.roles
        for role in record.roles:
            cls = record.driver_for(role)
            assert issubclass(cls, Driver) and cls.vendor == vendor
            assert set(cls.not_offered) <= set(CAPABILITIES)
            assert set(record.settings_supported(role)) <= set(SETTINGS_KEYS)
    assert vendor_record("lancom").driver_for("switch").__name__ == "LCOSSXDriver"
    assert vendor_record("synology").not_offered("nas")["config_export"]


def test_unknown_vendor_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown vendor 'cisco'; known: opnsense, lancom"):
        vendor_record("cisco")


def test_library_module_carries_every_driver():
    text = (ROOT / "library" / "praxis_device_facts.py").read_text()
    for name in DRIVER_MODULES:
        assert name in text, f"library/praxis_device_facts.py does not import {name}"


def test_no_capability_detection_by_overridden_methods():
    for path in [*(ROOT / "module_utils").glob("*.py"), *(ROOT / "action_plugins").glob("*.py")]:
        text = path.read_text()
        assert "is Driver." not in text and "is not Driver." not in text and "__func__" not in text, path


def test_schema_matches_the_registry():
    current = (ROOT / "schema" / "site.schema.json").read_text()
    assert site_schema.render(site_schema.generate(json.loads(current))) == current, "run make schema"
    props = json.loads(current)["$defs"]["network_device"]["properties"]
    assert props["vendor"]["enum"] == list(registry())
    assert props["options"]["type"] == "object"


def test_docs_table_matches_the_registry():
    text = (ROOT / "docs" / "drivers.md").read_text()
    assert site_schema.vendor_table() in text, "docs/drivers.md: paste the table vendor_table() prints"
    readme = (ROOT / "README.md").read_text()
    assert site_schema.readme_vendor_table() in readme, \
        "README.md: paste the table readme_vendor_table() prints"


def _site(**networks):
    return {"networks": networks, "devices": {
        "firewalls": [{"name": "fw01", "vendor": "opnsense", "options": {"backup_dropbox": True}}],
        "access_points": [{"name": "ap01", "vendor": "lancom", "options": {"restart_timeout": 30}}],
        "nas": [{"name": "nas01", "vendor": "synology"}],
    }}


def test_site_options_and_settings_are_checked_against_the_declaration(monkeypatch):
    problems = _vendor_rules(_site())
    assert problems == ["devices.firewalls[0].options.backup_dropbox: unknown option for vendor opnsense; "
                        "known: none"]
    # an access point vendor that cannot apply WLANs: refused naming the field
    lcos = vendor_record("lancom").driver_for("access_point")
    monkeypatch.setattr(lcos, "settings_supported", {"access_point": ("syslog",)})
    problems = _vendor_rules(_site(wlans=[{"ssid": "Praxis", "vlan": 10, "psk": "vault_x"}]))
    assert "networks.wlans: access points of vendor lancom cannot apply wlans (devices.access_points[0], ap01; " \
           "it can apply: syslog)" in problems


def test_site_options_reach_the_target():
    device = {"name": "fw01", "role": "firewall", "vendor": "linux", "address": "10.0.0.1",
              "options": {"host_key": "ssh-ed25519 AAAA"}}
    target = build_target(device, "huber", {}, connection={"options": {"known_hosts_file": "/k"}})
    assert target.options == {"host_key": "ssh-ed25519 AAAA", "known_hosts_file": "/k"}


class _NoSignatures(Driver):
    vendor, title, roles, protocol, default_port = "fake", "Fake", ("nas",), "https", 443
    not_offered = {"signatures": "the fake has none", "config_export": "no export in the fake"}

    def facts(self):
        raise AssertionError("not called")


def _target():
    return Target(site="huber", name="nas01", vendor="fake", role="nas", address="10.0.0.2", password="s3cret-pw")


def test_not_offered_capability_is_skipped_with_the_reason():
    result = signature_update(_target(), opener=_NoSignatures)
    assert result["skipped"] is True and not result.get("failed") and result["changed"] is False
    assert result["not_offered"] == {"capability": "signatures", "reason": "the fake has none"}
    assert "the fake has none" in result["msg"]
    backup = config_backup(_target(), store=None, cipher=None, opener=_NoSignatures)
    assert backup["skipped"] is True and backup["not_offered"]["reason"] == "no export in the fake"


class _NothingOffered(_NoSignatures):
    not_offered = {"signatures": "the fake has none", "config_export": "no export in the fake",
                   "firmware": "no firmware in the fake", "settings": "no settings in the fake"}


@pytest.mark.parametrize("check_mode", [False, True])
def test_not_offered_results_are_recorded_in_the_ledger_as_skipped(tmp_path, check_mode):
    """The monthly report reads them (praxis_monthly: "not automatable through this vendor's API");
    a dry run records nothing."""
    import sqlite3

    from ansible.module_utils.praxis_netops import device_settings, firmware_update

    ledger = str(tmp_path / "ledger.sqlite")
    site = {"id": "huber", "state": "BY", "timezone": "Europe/Berlin"}
    kwargs = {"ledger": ledger, "run": "r1", "opener": _NothingOffered, "check_mode": check_mode}
    results = {
        "signatures": signature_update(_target(), **kwargs),
        "backup": config_backup(_target(), store=None, cipher=None, **kwargs),
        "firmware": firmware_update(_target(), site, force_reason="test", **kwargs),
        "settings": device_settings(_target(), {"users": []}, **kwargs),
    }
    for kind, result in results.items():
        assert result["skipped"] is True and not result.get("failed"), (kind, result)
    rows = []
    if (tmp_path / "ledger.sqlite").exists():
        with sqlite3.connect(ledger) as conn:
            rows = conn.execute("SELECT kind, status, data FROM events ORDER BY id").fetchall()
    if check_mode:
        assert rows == []
        return
    assert {kind: (status, json.loads(data)["not_offered"]) for kind, status, data in rows} == {
        "signatures": ("skipped", {"capability": "signatures", "reason": "the fake has none"}),
        "backup": ("skipped", {"capability": "config_export", "reason": "no export in the fake"}),
        "firmware": ("skipped", {"capability": "firmware", "reason": "no firmware in the fake"}),
        "settings": ("skipped", {"capability": "settings", "reason": "no settings in the fake"}),
    }


def test_unsupported_carries_the_declared_reason():
    with pytest.raises(Unsupported, match="signature update is not offered by fake nass: the fake has none"):
        _NoSignatures(_target()).update_signatures()


def test_run_summary_lists_not_offered_with_the_reason():
    from tests.unit.test_identity import _callback, _Result

    callback = _callback()
    callback.v2_runner_on_skipped(_Result("huber-nas01", {"skipped": True, "not_offered": {
        "capability": "config_export", "reason": "no export in the fake"}}))
    data = callback.summary()
    assert data["sites"]["huber"]["not_offered"] == [{"host": "huber-nas01", "task": "identity",
                                                      "capability": "config_export",
                                                      "reason": "no export in the fake"}]
    assert data["counts"]["failed"] == 0
    assert "## Not offered" in callback.markdown(data) and "no export in the fake" in callback.markdown(data)


def test_lab_emulator_registry_refuses_a_missing_module():
    from lab import server

    assert server.firewall_vendor("mixed", 4) == "sophos" and server.firewall_vendor("mixed", 3) == "opnsense"
    assert server.emulator("firewall", "opnsense").__name__ == "OPNsenseFirewall"
    with pytest.raises(server.EmulatorError, match="no lab emulator for vendor cisco"):
        server.emulator("firewall", "cisco")
    if not (ROOT / "lab" / "sophos.py").exists():
        with pytest.raises(server.EmulatorError, match="no lab emulator for vendor sophos"):
            server.emulators(2, "mixed")


# every driver's syslog entries go through praxis_driver.syslog_server: the same refusals,
# naming the same field, whatever the vendor (OPNsense, LANCOM, Sophos and FortiGate)
SYSLOG_PARSERS = {
    "opnsense": ("praxis_driver_opnsense", "desired_syslog"),
    "lancom": ("praxis_driver_lancom", "_syslog_wanted"),
    "sophos": ("praxis_driver_sophos", "desired_syslog"),
    "fortigate": ("praxis_driver_fortigate", "desired_syslog"),
}


@pytest.mark.parametrize("vendor", sorted(SYSLOG_PARSERS))
@pytest.mark.parametrize(("entry", "message"), [
    ({"host": "192.0.2.9", "port": 0, "description": "log"}, "settings.syslog[0].port must be 1-65535, got 0"),
    ({"host": "192.0.2.9", "port": "x", "description": "log"}, "settings.syslog[0].port must be a number"),
    ({"host": "192.0.2.9", "port": 70000, "description": "log"}, "settings.syslog[0].port must be 1-65535"),
    ({"host": "", "description": "log"}, "settings.syslog[0].host is required"),
    ({"host": "192.0.2.9", "transport": "relp", "description": "log"},
     "settings.syslog[0].transport must be udp or tcp"),
    ({"host": "192.0.2.9", "facility": "local0", "description": "log"}, "settings.syslog[0]: unknown keys facility"),
])
def test_every_driver_refuses_the_same_bad_syslog_entry(vendor, entry, message):
    import importlib
    module_name, function = SYSLOG_PARSERS[vendor]
    module = importlib.import_module(f"ansible.module_utils.{module_name}")
    target = praxis_driver.Target(site="s", name="fw01", vendor=vendor, role="firewall", address="192.0.2.1")
    with pytest.raises(praxis_driver.DriverError, match=message.replace("[", r"\[").replace("]", r"\]")):
        getattr(module, function)(target, [entry])


def test_a_syslog_entry_gets_its_defaults():
    target = praxis_driver.Target(site="s", name="fw01", vendor="opnsense", role="firewall", address="192.0.2.1")
    assert praxis_driver.syslog_server(target, {"host": " log.example "}, "settings.syslog[0]") == \
        {"host": "log.example", "port": 514, "transport": "udp"}
