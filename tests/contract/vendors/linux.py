"""Contract fixture: Linux (a Debian lab host in a network namespace, lab/netns.py, over SSH).

A real host, not an emulator: the lab faults do not apply, and it needs root
(``netns_hosts`` skips with the reason otherwise; the CI runs as root)."""

from __future__ import annotations

from ansible.module_utils.praxis_driver import Target

from tests.contract.harness import Env, Rig

VENDOR = "linux"
ROLES = ("firewall",)
FAULTS: tuple[str, ...] = ()
NO_FAULTS_REASON = "a Debian lab host is a real system: the emulator faults (lab.core.Faults) do not exist there"


def rig(env: Env, role: str) -> Rig:
    (host,) = env.request.getfixturevalue("netns_hosts")(1, group="contract")
    host_key = host.path("/etc/ssh/ssh_host_ed25519_key.pub").read_text().strip()

    def target(**overrides) -> Target:
        values = dict(site="contract", name="fw01", vendor=VENDOR, role=role, address=host.address, port=host.port,
                      model="Debian lab host", username=host.user, private_key_file=str(host.ssh_key),
                      timeout=20.0, retries=2, retry_delay=0.2, options={"host_key": host_key})
        values.update(overrides)
        return Target(**values)

    settings = {"rules": [{"description": "contract: Telnet sperren", "action": "reject", "interface": "eth0",
                           "direction": "in", "protocol": "tcp", "source_net": "any", "destination_net": "any",
                           "destination_port": "23", "sequence": 10}],
                "syslog": [{"host": "192.0.2.10", "port": 514, "transport": "udp", "description": "contract"}]}
    # the secret of a key login is the key file's passphrase; the lab key has none, so the file name stands in
    return Rig(target=target, password=str(host.ssh_key), settings=settings)
