"""Who answers, against the lab's emulators over real SSH (asyncssh servers,
driven by paramiko and netmiko) and real TLS: host keys and certificates are
recorded on first use, checked strictly later, and a device that presents
another one (``set_host_key``: a device swap) gets no password; every
connection failure reaches the caller as its own error class."""

from __future__ import annotations

import ssl

import pytest
from ansible.module_utils import praxis_ledger
from ansible.module_utils.praxis_driver import (
    AuthFailed, ConnectionDropped, ConnectionRefused, HostKeyMismatch, IdentityUnknown, Target, Timeout,
    TLSMismatch, TLSUntrusted,
)
from ansible.module_utils.praxis_driver_lancom import DRIVER
from ansible.module_utils.praxis_driver_opnsense import OPNsenseDriver
from ansible.module_utils.praxis_identity import IdentityStore, fingerprint, hex_form, probe
from ansible.module_utils.praxis_netops import device_identity

from lab import tls
from lab.lancom import LCOSAccessPoint, LCOSSXSwitch
from lab.opnsense import OPNsenseFirewall
from tests.integration.lab.conftest import set_faults

PASSWORD = "Lab-Passw0rd-Identity"
KINDS = {"ap": LCOSAccessPoint, "switch": LCOSSXSwitch}


def ssh_target(device, store, **kwargs) -> Target:
    values = dict(site="test", name=device.name, vendor="lancom", role=device.role, address=device.address,
                  port=device.port, username=device.username, password=PASSWORD, timeout=3, retries=1,
                  retry_delay=0.05, identity=store)
    values.update(kwargs)
    return Target(**values)


def logins(lab_loop, device) -> int:
    return lab_loop.call(lambda: device.login_attempts)


@pytest.mark.parametrize("kind", ["ap", "switch"])
def test_host_key_recorded_then_checked_and_a_swapped_device_gets_no_password(lab_loop, lab_run_dir, tmp_path,
                                                                              kind):
    device = lab_loop.start_device(KINDS[kind], password=PASSWORD, reboot_seconds=1, run_dir=lab_run_dir)
    ledger = str(tmp_path / "ledger.sqlite")

    # no record, strict: refused before the login
    with pytest.raises(IdentityUnknown, match="playbooks/device_identity.yml"):
        DRIVER(ssh_target(device, IdentityStore(ledger, "strict"))).facts()
    assert logins(lab_loop, device) == 0

    # onboarding: recorded on first use, the fingerprint is the one the device has
    store = IdentityStore(ledger, "record")
    with DRIVER(ssh_target(device, store)) as driver:
        assert driver.facts()["hostname"] == device.name
    presented = lab_loop.call(device.host_key_fingerprint)
    assert praxis_ledger.identity(ledger, f"test-{device.name}", "ssh")["fingerprint"] == presented
    assert any(presented in w for w in store.warnings)

    # later runs: strict and known
    with DRIVER(ssh_target(device, IdentityStore(ledger, "strict"))) as driver:
        assert driver.facts()["hostname"] == device.name
    before = logins(lab_loop, device)

    # the device is swapped: new key; strict or record, it fails before the password is sent
    lab_loop.call(device.set_host_key)
    for mode in ("strict", "record"):
        with pytest.raises(HostKeyMismatch) as err:
            DRIVER(ssh_target(device, IdentityStore(ledger, mode), retries=3)).facts()
        assert "replaced or reset" in str(err.value) and lab_loop.call(device.host_key_fingerprint) in str(err.value)
        assert PASSWORD not in str(err.value)
    assert logins(lab_loop, device) == before

    # accepted with a reason: the next strict run passes
    accepted = device_identity(ssh_target(device, None), IdentityStore(ledger, "record", accept=True,
                                                                       reason="ticket 4711", accepted_by="anna"))
    assert accepted["changed"] and accepted["identities"][0]["status"] == "accepted", accepted
    with DRIVER(ssh_target(device, IdentityStore(ledger, "strict"))) as driver:
        assert driver.facts()["hostname"] == device.name
    current = praxis_ledger.identity(ledger, f"test-{device.name}", "ssh")
    assert current["accepted_by"] == "anna" and current["accepted_reason"] == "ticket 4711"


@pytest.mark.parametrize("kind", ["ap", "switch"])
def test_each_connection_failure_is_its_own_error(lab_loop, lab_run_dir, tmp_path, kind):
    device = lab_loop.start_device(KINDS[kind], password=PASSWORD, reboot_seconds=1, run_dir=lab_run_dir)
    store = IdentityStore(str(tmp_path / "ledger.sqlite"), "record")

    set_faults(lab_loop, device, refuse_auth=True)
    with pytest.raises(AuthFailed, match="refused"):
        DRIVER(ssh_target(device, store)).facts()

    # the session is closed right after the login: a drop, not "authentication failed"
    set_faults(lab_loop, device, refuse_auth=False, drop_rate=1.0)
    with pytest.raises(ConnectionDropped, match="not a login problem") as err:
        DRIVER(ssh_target(device, store)).facts()
    assert not isinstance(err.value, AuthFailed) and "Authentication" not in str(err.value)

    set_faults(lab_loop, device, drop_rate=0.0, latency=2.0)
    with pytest.raises(Timeout, match="no answer within 1 s"):
        DRIVER(ssh_target(device, store, timeout=1)).facts()
    set_faults(lab_loop, device, latency=0.0)

    lab_loop.run(device.stop())
    with pytest.raises(ConnectionRefused, match="connection refused on port"):
        DRIVER(ssh_target(device, store)).facts()


# -- HTTPS devices with the factory certificate ------------------------------------------------------

@pytest.fixture(scope="module")
def firewall(lab_loop, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("identity-tls")
    device = lab_loop.start_device(OPNsenseFirewall, run_dir=run_dir, username="key", password=PASSWORD,
                                   hostname="fw01", domain="praxis.lan", reboot_seconds=0.5)
    cert, _key = tls.ensure_certificate(run_dir)
    return device, fingerprint(ssl.PEM_cert_to_DER_cert(cert.read_text())), run_dir


def tls_target(device, **kwargs) -> Target:
    values = dict(site="test", name="fw01", vendor="opnsense", role="firewall", address=device.address,
                  port=device.port, username="key", password=PASSWORD, validate_certs=False, timeout=3,
                  retries=1, retry_delay=0.05)
    values.update(kwargs)
    return Target(**values)


def test_certificate_pinned_on_first_use_and_checked_before_credentials(lab_loop, firewall, tmp_path):
    device, cert_fp, _run_dir = firewall
    ledger = str(tmp_path / "ledger.sqlite")
    start = logins(lab_loop, device)

    with pytest.raises(IdentityUnknown, match="pinned nowhere|no TLS certificate is recorded"):
        OPNsenseDriver(tls_target(device, identity=IdentityStore(ledger, "strict"))).facts()
    assert logins(lab_loop, device) == start

    store = IdentityStore(ledger, "record")
    assert OPNsenseDriver(tls_target(device, identity=store)).facts()["hostname"]
    assert any(cert_fp in w and "first use" in w for w in store.warnings)
    assert probe(tls_target(device), "tls") == ("x509", cert_fp)
    assert OPNsenseDriver(tls_target(device, identity=IdentityStore(ledger, "strict"))).facts()["hostname"]
    after = logins(lab_loop, device)

    # another certificate than the recorded one, or than the site file's pin: nothing is sent
    praxis_ledger.record_identity(ledger, host="test-fw01", kind="tls", algorithm="x509",
                                  fingerprint=fingerprint(b"the certificate of the old device"),
                                  accepted_by="t", accepted_reason="old device")
    with pytest.raises(TLSMismatch, match="intercepting"):
        OPNsenseDriver(tls_target(device, identity=IdentityStore(ledger, "strict"))).facts()
    with pytest.raises(TLSMismatch, match="pinned in the site file"):
        OPNsenseDriver(tls_target(device, tls_fingerprint=fingerprint(b"other"))).facts()
    assert logins(lab_loop, device) == after

    # the site file's pin, in the hex form browsers show, is enough without any store
    pinned = tls_target(device, tls_fingerprint=cert_fp)
    assert OPNsenseDriver(pinned).facts()["hostname"]
    assert hex_form(cert_fp).count(":") == 31


def test_tls_failures_are_classified(lab_loop, firewall, tmp_path):
    device, cert_fp, _run_dir = firewall
    # validation on without the lab's CA: not trusted (not "unreachable")
    with pytest.raises(TLSUntrusted, match="not trusted"):
        OPNsenseDriver(tls_target(device, validate_certs=True)).facts()
    set_faults(lab_loop, device, refuse_auth=True)
    with pytest.raises(AuthFailed):
        OPNsenseDriver(tls_target(device, tls_fingerprint=cert_fp)).facts()
    set_faults(lab_loop, device, refuse_auth=False)
    lab_loop.run(device.stop())
    try:
        with pytest.raises(ConnectionRefused, match="connection refused on port"):
            OPNsenseDriver(tls_target(device, tls_fingerprint=cert_fp)).facts()
    finally:
        lab_loop.run(device.start())
