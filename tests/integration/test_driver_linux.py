"""The Linux driver against a real Debian lab host (lab/netns.py): facts,
nftables rules, syslog forwarding, Samba users and configuration export over
SSH with paramiko. Skipped with the reason where lab hosts cannot run."""

from __future__ import annotations

import time

import paramiko
import pytest

from ansible.module_utils import praxis_ledger
from ansible.module_utils.praxis_driver import AuthFailed, HostKeyMismatch, IdentityUnknown, Target
from ansible.module_utils.praxis_identity import IdentityStore
from ansible.module_utils.praxis_driver_linux import NFT_FILE, SYSLOG_FILE, LinuxDriver, render_rules
from lab import netns

pytestmark = pytest.mark.root

USER_PASSWORD = "Smb-Lab-Secret-42"
RULES = [
    {"description": "Telnet sperren", "action": "reject", "interface": "eth0", "direction": "in",
     "protocol": "tcp", "source_net": "any", "destination_net": "any", "destination_port": "23", "sequence": 10},
    {"description": "Web aus dem Praxisnetz", "action": "pass", "interface": "eth0", "direction": "in",
     "protocol": "tcp", "source_net": "10.231.0.0/16", "destination_net": "any", "destination_port": "80,443",
     "sequence": 20},
    {"description": "kein SMB nach draussen", "action": "block", "interface": "eth0", "direction": "out",
     "protocol": "tcp", "destination_net": "192.0.2.0/24", "destination_port": "445", "sequence": 30},
]


@pytest.fixture(scope="module")
def host(netns_hosts) -> netns.Host:
    (lab_host,) = netns_hosts(1, group="linuxdrv")
    return lab_host


def make_target(host: netns.Host, role: str, **kwargs) -> Target:
    host_key = host.path("/etc/ssh/ssh_host_ed25519_key.pub").read_text().strip()
    values = dict(site="lab", name=role, vendor="linux", role=role, address=host.address, port=host.port,
                  model="Debian lab host", username=host.user, private_key_file=str(host.ssh_key),
                  timeout=20, retries=2, retry_delay=0.2, options={"host_key": host_key})
    values.update(kwargs)
    return Target(**values)


def on_host(host: netns.Host, cmd: str) -> str:
    return host.run(cmd).stdout


def test_facts(host):
    with LinuxDriver(make_target(host, "nas")) as driver:
        facts = driver.facts()
    assert facts["hostname"] == host.hostname and facts["model"] == "Debian lab host"
    debian = on_host(host, "cat /etc/debian_version").strip()
    kernel = on_host(host, "uname -r").strip()
    assert facts["firmware_version"] == f"Debian {debian} / {kernel}"
    assert facts["uptime_seconds"] >= 0
    assert 0 <= facts["cpu_percent"] <= 100 and 0 < facts["memory_percent"] < 100
    assert facts["disks"] is None                      # no smartctl on the lab host
    assert "/" in [v["id"] for v in facts["volumes"]]
    assert all(0 <= v["used_percent"] <= 100 and v["status"] == "normal" for v in facts["volumes"])
    assert facts["signature_date"] is None


def test_nft_rules_converge(host):
    target = make_target(host, "firewall")
    with LinuxDriver(target) as driver:
        checked = driver.apply_settings({"rules": RULES}, check_mode=True)
        assert checked["changed"] is True
        assert on_host(host, f"test -e {NFT_FILE} && echo yes || echo no").strip() == "no"

        result = driver.apply_settings({"rules": RULES}, check_mode=False)
        assert result["changed"] is True

        again = driver.apply_settings({"rules": RULES}, check_mode=False)
        assert again["changed"] is False and again["before"]["rules"] == render_rules(RULES)

    table = on_host(host, "nft list table inet praxisops")
    assert 'iifname "eth0" tcp dport 23 reject comment "Telnet sperren"' in table
    assert 'ip saddr 10.231.0.0/16 tcp dport { 80, 443 } accept comment "Web aus dem Praxisnetz"' in table
    assert 'oifname "eth0" ip daddr 192.0.2.0/24 tcp dport 445 drop' in table
    assert on_host(host, f"stat -c %a {NFT_FILE}").strip() == "644"
    assert f'include "{NFT_FILE}"' in on_host(host, "cat /etc/nftables.conf")
    # The boot path (init script: nft -f /etc/nftables.conf) loads the same table.
    on_host(host, "service nftables restart")
    assert 'comment "Telnet sperren"' in on_host(host, "nft list table inet praxisops")

    changed = RULES[:1]
    with LinuxDriver(target) as driver:
        assert driver.apply_settings({"rules": changed}, check_mode=True)["changed"] is True
        assert "Web aus dem Praxisnetz" in on_host(host, "nft list table inet praxisops")   # untouched
        assert driver.apply_settings({"rules": changed}, check_mode=False)["changed"] is True
    assert "Web aus dem Praxisnetz" not in on_host(host, "nft list table inet praxisops")


def test_export_and_validate(host):
    with LinuxDriver(make_target(host, "firewall")) as driver:
        driver.apply_settings({"rules": RULES[:1]}, check_mode=False)
        ruleset = driver.export_config()
    assert b"table inet praxisops {" in ruleset
    LinuxDriver.validate_config(ruleset)
    with pytest.raises(ValueError):
        LinuxDriver.validate_config(ruleset[: len(ruleset) // 2])

    with LinuxDriver(make_target(host, "nas")) as driver:
        smb = driver.export_config()
    assert b"[global]" in smb and b"Load smb config files" not in smb
    LinuxDriver.validate_config(smb)


def test_syslog_forwarding(host):
    forward = [{"host": host.gateway, "port": 5514, "transport": "tcp", "description": "Log-Sammler"}]
    with LinuxDriver(make_target(host, "firewall")) as driver:
        result = driver.apply_settings({"syslog": forward}, check_mode=False)
        assert result["changed"] is True
        assert driver.apply_settings({"syslog": forward}, check_mode=False)["changed"] is False
    conf = on_host(host, f"cat {SYSLOG_FILE}")
    assert f'target="{host.gateway}" port="5514" protocol="tcp"' in conf and "# Log-Sammler" in conf
    assert on_host(host, f"stat -c %a {SYSLOG_FILE}").strip() == "644"
    assert "is running" in on_host(host, "service rsyslog status")

    with LinuxDriver(make_target(host, "firewall")) as driver:
        assert driver.apply_settings({"syslog": []}, check_mode=False)["changed"] is True
    assert on_host(host, f"test -e {SYSLOG_FILE} && echo yes || echo no").strip() == "no"


def test_samba_user(host):
    user = {"name": "empfang", "description": "Empfang", "email": "empfang@praxis.example",
            "password": USER_PASSWORD, "state": "present"}
    target = make_target(host, "nas")
    with LinuxDriver(target) as driver:
        assert driver.apply_settings({"users": [user]}, check_mode=True)["changed"] is True
        assert "empfang" not in on_host(host, "pdbedit -L")
        result = driver.apply_settings({"users": [user]}, check_mode=False)
        again = driver.apply_settings({"users": [user]}, check_mode=False)
    assert result["changed"] is True and again["changed"] is False
    assert USER_PASSWORD not in repr(result) and USER_PASSWORD not in repr(again)
    assert "empfang:" in on_host(host, "pdbedit -L")
    entry = on_host(host, "getent passwd empfang").strip().split(":")
    assert entry[4] == "Empfang,,,,empfang@praxis.example" and entry[6] == "/usr/sbin/nologin"
    # The password reached Samba: a session with it succeeds, one with another password fails.
    on_host(host, "service smbd start")
    try:
        # the init script returns before smbd listens: wait for the port, at most 20 s
        for _ in range(40):
            listing = host.run(f"PASSWD={USER_PASSWORD} smbclient -L 127.0.0.1 -U empfang", check=False)
            if "CONNECTION_REFUSED" not in listing.stderr:
                break
            time.sleep(0.5)
        assert listing.returncode == 0 and "IPC$" in listing.stdout, listing.stderr
        wrong = host.run("PASSWD=Wrong-Password-1 smbclient -L 127.0.0.1 -U empfang", check=False)
        assert wrong.returncode != 0 and "LOGON_FAILURE" in wrong.stdout + wrong.stderr
    finally:
        host.run("service smbd stop", check=False)

    with LinuxDriver(target) as driver:
        gone = driver.apply_settings({"users": [{"name": "empfang", "state": "absent"}]}, check_mode=False)
    assert gone["changed"] is True
    assert "empfang" not in on_host(host, "pdbedit -L")
    assert host.run("getent passwd empfang", check=False).returncode == 2


def test_wrong_key_is_auth_failed(host, tmp_path):
    other = tmp_path / "other_key"
    paramiko.RSAKey.generate(2048).write_private_key_file(str(other))
    with pytest.raises(AuthFailed) as err:
        LinuxDriver(make_target(host, "firewall", private_key_file=str(other))).facts()
    assert err.value.kind == "auth" and "lab-firewall" in str(err.value)


def test_unknown_host_key_is_refused(host, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    target = make_target(host, "firewall", options={"known_hosts_file": str(empty)})
    with pytest.raises(IdentityUnknown, match="nothing was sent"):
        LinuxDriver(target).facts()
    # with the identity store: recorded on first use, then a different key is a mismatch
    ledger = str(tmp_path / "ledger.sqlite")
    target = make_target(host, "firewall", options={"known_hosts_file": str(empty)},
                         identity=IdentityStore(ledger, "record"))
    assert LinuxDriver(target).facts()["hostname"]
    praxis_ledger.record_identity(ledger, host="lab-firewall", kind="ssh", algorithm="ssh-ed25519",
                                  fingerprint="SHA256:" + "A" * 43, accepted_by="t", accepted_reason="other host")
    target = make_target(host, "firewall", options={"known_hosts_file": str(empty)},
                         identity=IdentityStore(ledger, "strict"))
    with pytest.raises(HostKeyMismatch, match="replaced or reset"):
        LinuxDriver(target).facts()
