"""Real Linux lab hosts in network namespaces (lab/netns.py): reachable over
SSH with the lab key, each with its own root file system and nftables
ruleset, convergeable by Ansible, and gone without a trace when destroyed.
Skipped with the reason where they cannot run (without root)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from lab import netns

from ..ansible_run import ansible

PLAYBOOK = """\
---
- name: Lab host smoke test
  hosts: lab
  gather_facts: false
  tasks:
    - name: Marker file
      ansible.builtin.copy:
        dest: /etc/praxisops-lab-test.txt
        content: "converged by ansible\\n"
        mode: "0644"
    - name: nftables ruleset
      ansible.builtin.copy:
        dest: /etc/nftables.conf
        content: |
          #!/usr/sbin/nft -f
          flush ruleset
          table inet praxis_lab_test {
            chain input {
              type filter hook input priority 0; policy accept;
              tcp dport 22 counter accept
            }
          }
        mode: "0755"
      notify: Reload nftables
    - name: nftables started and enabled
      ansible.builtin.service:
        name: nftables
        state: started
        enabled: true
  handlers:
    - name: Reload nftables
      ansible.builtin.service:
        name: nftables
        state: reloaded
"""


@pytest.fixture(scope="module")
def hosts(netns_hosts):
    return netns_hosts(2)


def _ssh(host: netns.Host, cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(host.ssh_argv(cmd), capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, check=False)


def _recap(output: str) -> dict[str, dict[str, int]]:
    recap = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line.strip())
        if match:
            recap[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return recap


def _leftovers(host: netns.Host) -> list[str]:
    found = []
    netns_list = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    if any(line.split()[0] == host.netns for line in netns_list.splitlines() if line.strip()):
        found.append(f"netns {host.netns}")
    if Path("/sys/class/net", host.veth).exists():
        found.append(f"veth {host.veth}")
    for mountinfo in Path("/proc").glob("[0-9]*/mountinfo"):
        try:
            if str(host.host_dir) in mountinfo.read_text():
                found.append(f"mount in {mountinfo}")
        except OSError:
            pass
    for root in Path("/proc").glob("[0-9]*/root"):
        try:
            if os.readlink(root).startswith(str(host.host_dir)):
                found.append(f"process {root.parent.name}")
        except OSError:
            pass
    if host.host_dir.exists():
        found.append(f"directory {host.host_dir}")
    return found


def test_without_root_the_reason_is_clear(monkeypatch, capsys):
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    assert netns.skip_reason() == netns.ROOT_MESSAGE
    assert "lab Linux hosts need root" in netns.ROOT_MESSAGE
    with pytest.raises(netns.LabUnavailable, match="lab Linux hosts need root"):
        netns.create_hosts(1, "nobody-")
    assert netns.main(["up", "--hosts", "1", "--name", "nobody-"]) == 2
    assert "lab Linux hosts need root" in capsys.readouterr().err


@pytest.mark.root
def test_ssh_with_the_lab_key_reaches_each_host(hosts):
    assert len(hosts) == 2 and hosts[0].address != hosts[1].address
    for host in hosts:
        result = _ssh(host, "hostname; id -u; ip -4 -o addr show dev eth0")
        assert result.returncode == 0, result.stderr
        name, uid, addr = result.stdout.splitlines()
        assert name == host.hostname and uid == "0"
        assert f"inet {host.address}/30" in addr


@pytest.mark.root
def test_each_host_has_its_own_root_file_system(hosts):
    first, second = hosts
    marker = f"/root/praxisops-lab-marker-{os.getpid()}"
    result = _ssh(first, f"echo written-in-{first.name} > {marker}")
    assert result.returncode == 0, result.stderr
    assert first.path(marker).read_text() == f"written-in-{first.name}\n"
    assert first.run(f"cat {marker}").stdout == f"written-in-{first.name}\n"
    assert (first.host_dir / "upper" / marker.lstrip("/")).exists()   # in the host's own layer
    assert not Path(marker).exists()                                     # not on the machine
    assert not (netns.rootfs_cache_dir() / marker.lstrip("/")).exists()  # nor in the shared layer
    assert second.run(f"test -e {marker}", check=False).returncode == 1  # nor on the other host
    # host keys are per host
    keys = [h.run("cat /etc/ssh/ssh_host_ed25519_key.pub").stdout for h in hosts]
    assert keys[0] != keys[1]


@pytest.mark.root
def test_machine_settings_stay_untouched(hosts):
    host = hosts[0]
    before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    host.run("sysctl -qw net.ipv4.ip_forward=1")   # the host's own network namespace
    assert host.run("cat /proc/sys/net/ipv4/ip_forward").stdout.strip() == "1"
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == before
    assert host.run("sysctl -qw vm.swappiness=1", check=False).returncode != 0
    host.run("sysctl -qw net.ipv4.ip_forward=0")


@pytest.mark.root
def test_ansible_ping(hosts, tmp_path):
    inventory = netns.write_inventory(hosts, tmp_path / "inventory.yml")
    result = ansible("ansible", "-i", str(inventory), "lab", "-m", "ansible.builtin.ping")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count('"ping": "pong"') == 2


@pytest.mark.root
def test_playbook_converges_idempotently_with_a_ruleset_inside_only(hosts, tmp_path):
    inventory = netns.write_inventory(hosts, tmp_path / "inventory.yml")
    playbook = tmp_path / "smoke.yml"
    playbook.write_text(PLAYBOOK)
    first = ansible("ansible-playbook", "-i", str(inventory), str(playbook))
    assert first.returncode == 0, first.stdout + first.stderr
    assert all(r["changed"] > 0 and r["failed"] == 0 for r in _recap(first.stdout).values())
    second = ansible("ansible-playbook", "-i", str(inventory), str(playbook))
    assert second.returncode == 0, second.stdout + second.stderr
    recap = _recap(second.stdout)
    assert set(recap) == {h.hostname for h in hosts}
    assert all(r["changed"] == 0 and r["ok"] > 0 for r in recap.values()), second.stdout
    for host in hosts:
        assert host.path("/etc/praxisops-lab-test.txt").read_text() == "converged by ansible\n"
        ruleset = host.run("nft list ruleset").stdout
        assert "table inet praxis_lab_test" in ruleset and "tcp dport 22" in ruleset
    machine = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True)
    assert "praxis_lab_test" not in machine.stdout
    assert not Path("/etc/praxisops-lab-test.txt").exists()


@pytest.mark.root
def test_rsyslog_can_be_started(hosts):
    host = hosts[1]
    host.run("service rsyslog start")
    host.run("logger -t praxis-lab hello-from-the-lab")
    for _ in range(50):
        log = host.run("cat /var/log/syslog", check=False).stdout
        if "hello-from-the-lab" in log:
            break
        subprocess.run(["sleep", "0.1"], check=True)
    assert "praxis-lab: hello-from-the-lab" in log
    assert "is running" in host.run("service rsyslog status").stdout


@pytest.mark.root
def test_destroy_leaves_nothing_behind_and_is_idempotent(netns_hosts):
    prefix = f"pt{os.getpid()}-gone-"
    (host,) = netns.create_hosts(1, prefix, owner_pid=os.getpid())
    assert host.alive() and host.start_seconds is not None
    assert netns.destroy_hosts(prefix) == [host.name]
    assert _leftovers(host) == []
    assert not host.alive()
    assert netns.destroy_hosts(prefix) == []


@pytest.mark.root
def test_leftovers_of_a_crashed_run_are_removed(netns_hosts):
    dead = subprocess.Popen(["true"])
    dead.wait()
    prefix = f"pt{os.getpid()}-crash-"
    (host,) = netns.create_hosts(1, prefix, owner_pid=dead.pid)
    os.kill(host.init_pid, 9)                       # the host died with its owner
    assert host.name in netns.reap_stale_hosts()
    assert _leftovers(host) == []
    subprocess.run(["ip", "netns", "add", f"praxis-{prefix}orphan"], check=True)   # no record
    assert netns.destroy_hosts(prefix) == [f"{prefix}orphan"]
    assert not Path(f"/run/netns/praxis-{prefix}orphan").exists()
