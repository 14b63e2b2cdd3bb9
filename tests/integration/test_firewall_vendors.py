"""The firewall vendors end to end: a ``python -m lab up --firewall mixed`` lab
(lab001 OPNsense, lab002 Sophos, lab003 FortiGate) and the real jobs run by
ansible-playbook on its firewalls: onboarding (NET-01 rules, NET-05 syslog;
a second run changes nothing), the nightly checks (NET-06, NET-03: Sophos
signatures skipped with the reason, not failed) and the monthly run (NET-02
configuration backups stored as vault-encrypted copies, the Sophos one from
its scheduled backups' landing folder; NET-04 firmware updated on the
FortiGate, Sophos firmware skipped with the reason).

The tests build on each other in file order (one lab).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.integration.ansible_run import ansible
from tests.integration.labrun import running_lab
from tests.integration.test_network_service import Service, changed_hosts, failed_hosts, secrets_of

VENDORS = {"lab001-fw01": "opnsense", "lab002-fw01": "sophos", "lab003-fw01": "fortigate"}
PORTS = {"opnsense": 8443, "sophos": 4444, "fortigate": 443}
FIREWALLS = "firewalls"
SYSLOG = [{"host": "192.0.2.10", "port": 514, "transport": "udp", "description": "praxis log host"}]
NIGHT = "2026-11-25T23:30:00+01:00"
NEXT_NIGHT = "2026-11-26T23:30:00+01:00"
MONTHLY_NIGHT = "2026-12-02T23:30:00+01:00"
REASON = "not automatable through this vendor's API"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    base = tmp_path_factory.mktemp("fwvendors")
    with running_lab(base, 3, firewall="mixed") as lab:
        (base / "out").mkdir()
        svc = Service(lab, base / "out")
        values = json.loads(svc.vars_file.read_text())
        values["network_onboard_syslog_hosts"] = SYSLOG
        svc.vars_file.write_text(json.dumps(values))
        yield svc


def no_secret(service, *outputs) -> None:
    for secret in secrets_of(service.lab):
        for output in outputs:
            assert secret not in output


def test_mixed_lab_writes_each_vendor_into_site_files_inventory_and_vault(service):
    lab = service.lab
    assert {d["name"]: d["vendor"] for d in lab.state["devices"] if d["role"] == "firewall"} == VENDORS
    vault = lab.vault()
    for host, vendor in VENDORS.items():
        site, name = host.split("-")
        doc = yaml.safe_load((lab.inventory_dir / "sites" / f"{site}.yml").read_text())
        (firewall,) = doc["devices"]["firewalls"]
        assert (firewall["name"], firewall["vendor"], firewall["port"]) == (name, vendor, PORTS[vendor])
        assert vault[firewall["credentials"]]["username"] and vault[firewall["credentials"]]["password"]
        assert firewall["credentials"] in (lab.inventory_dir / "sites" / f"{site}.yml").read_text()
        interfaces = [v["interface"] for v in doc["networks"]["vlans"]]
        assert interfaces == {"opnsense": ["lan", "opt1"], "sophos": ["LAN", "GUEST"],
                              "fortigate": ["internal", "dmz"]}[vendor]
        if vendor == "sophos":
            dropbox = Path(firewall["options"]["backup_dropbox"])
            assert dropbox.is_relative_to(lab.run_dir) and dropbox.is_dir()
            assert any(p.name.startswith(host + "_") for p in dropbox.iterdir())    # the backup at boot
        else:
            assert "options" not in firewall
    inventory = ansible("ansible-inventory", "-i", str(lab.inventory_dir), "--vault-password-file",
                        lab.vault_password_file, "--list")
    assert inventory.returncode == 0, inventory.stderr
    assert set(json.loads(inventory.stdout)["firewalls"]["hosts"]) == set(VENDORS)


def test_onboarding_applies_rules_and_syslog_on_every_vendor_and_converges(service):
    result, recap = service.play("onboard_network.yml", "-l", FIREWALLS)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert failed_hosts(recap) == set()
    assert set(changed_hosts(recap)) == set(VENDORS), recap
    for host in VENDORS:
        state = json.dumps(service.lab.device(host)["state"])
        assert "praxisops: block gaeste to praxis" in state, (host, state[:3000], result.stdout[-3000:])
        assert "192.0.2.10" in state, (host, state[:3000])
    no_secret(service, result.stdout, result.stderr)
    again, recap = service.play("onboard_network.yml", "-l", FIREWALLS, now=NEXT_NIGHT)
    assert again.returncode == 0, again.stdout[-3000:]
    assert changed_hosts(recap) == {}, again.stdout[-3000:]
    no_secret(service, again.stdout, again.stderr)


def test_nightly_checks_every_firewall_and_skips_sophos_signatures_with_the_reason(service):
    result, recap = service.play("nightly.yml", "-l", FIREWALLS)
    assert result.returncode == 0, result.stdout[-4000:]
    assert failed_hosts(recap) == set()
    health = service.ledger("SELECT DISTINCT host FROM events WHERE kind = 'health' AND status != 'failed'")
    assert {h for (h,) in health} >= set(VENDORS)
    signatures = dict(service.ledger("SELECT host, status FROM events WHERE kind = 'signatures'"))
    assert signatures["lab001-fw01"] in ("ok", "changed") and signatures["lab003-fw01"] in ("ok", "changed")
    assert signatures["lab002-fw01"] == "skipped"
    (data,) = service.ledger("SELECT data FROM events WHERE kind = 'signatures' AND host = 'lab002-fw01'")
    assert json.loads(data[0])["not_offered"]["capability"] == "signatures"
    summary = service.summary("nightly.yml")
    assert not summary["sites"].get("lab002", {}).get("failed")
    offered = summary["sites"]["lab002"]["not_offered"]
    assert {(e["host"], e["capability"]) for e in offered} >= {("lab002-fw01", "signatures")}
    assert all(REASON in e["reason"] for e in offered)
    no_secret(service, result.stdout, result.stderr)


def test_monthly_backs_up_every_vendor_updates_fortigate_and_skips_sophos_firmware(service):
    before = service.lab.device("lab003-fw01")["state"]["firmware_version"]
    result, recap = service.play("monthly.yml", "-l", FIREWALLS, now=MONTHLY_NIGHT)
    assert result.returncode == 0, result.stdout[-4000:]
    assert failed_hosts(recap) == set()
    for host in VENDORS:
        copies = service.copies(host)         # the onboarding's, and the monthly run's when it changed
        assert 1 <= len(copies) <= 3, (host, copies)
        site, name = host.split("-")
        stored = service.out / "backups" / site / name / copies[-1]
        assert stored.read_bytes().startswith(b"$ANSIBLE_VAULT;"), host
    # the Sophos copy is the newest scheduled backup of the landing folder, decrypted by the vault
    doc = yaml.safe_load((service.lab.inventory_dir / "sites" / "lab002.yml").read_text())
    dropbox = Path(doc["devices"]["firewalls"][0]["options"]["backup_dropbox"])
    newest = max((p for p in dropbox.iterdir() if p.name.startswith("lab002-fw01_")),
                 key=lambda p: (p.stat().st_mtime, p.name))
    stored = service.out / "backups" / "lab002" / "fw01" / service.copies("lab002-fw01")[-1]
    view = ansible("ansible-vault", "decrypt", "--vault-password-file", service.lab.vault_password_file,
                   "--output", str(service.out / "sophos.bak"), str(stored))
    assert view.returncode == 0 and (service.out / "sophos.bak").read_bytes() == newest.read_bytes()
    # firmware: FortiGate updated, Sophos skipped with the reason, never failed
    after = service.lab.device("lab003-fw01")["state"]["firmware_version"]
    assert after != before
    statuses = dict(service.ledger("SELECT host, status FROM events WHERE kind = 'firmware' ORDER BY id"))
    assert statuses["lab003-fw01"] == "changed" and statuses["lab002-fw01"] == "skipped"
    summary = service.summary("monthly.yml")
    offered = summary["sites"]["lab002"]["not_offered"]
    assert ("lab002-fw01", "firmware") in {(e["host"], e["capability"]) for e in offered}
    assert not summary["sites"]["lab002"].get("failed")
    no_secret(service, result.stdout, result.stderr)
