"""Contract fixture: OPNsense (lab/opnsense.py OPNsenseFirewall over HTTPS)."""

from __future__ import annotations

from ansible.module_utils.praxis_driver import Target

from lab.opnsense import OPNsenseFirewall
from tests.contract.harness import ALL_FAULTS, Env, Rig, emulator_rig

VENDOR = "opnsense"
ROLES = ("firewall",)
FAULTS = ALL_FAULTS
NO_FAULTS_REASON = ""
KEY, SECRET = OPNsenseFirewall.random_credentials()


def rig(env: Env, role: str) -> Rig:
    def make_target(device):
        def target(**overrides) -> Target:
            values = dict(site="contract", name="fw01", vendor=VENDOR, role=role, address=device.address,
                          port=device.port, username=KEY, password=SECRET,
                          ca_path=str(env.run_dir / "lab-cert.pem"), timeout=5.0, retries=2, retry_delay=0.02)
            values.update(overrides)
            return Target(**values)
        return target

    settings = {"syslog": [{"host": "10.20.0.5", "port": 514, "transport": "udp", "description": "contract"}],
                "rules": [{"description": "contract: allow lan out", "action": "pass", "interface": "lan",
                           "direction": "in", "ipprotocol": "inet", "protocol": "any", "source_net": "lan",
                           "destination_net": "any", "destination_port": "", "sequence": 100}]}
    return emulator_rig(env, OPNsenseFirewall, make_target, SECRET, settings, True, username=KEY,
                        reboot_seconds=0.3, firmware_seconds=0.2, firmware_version="25.1.4",
                        firmware_latest="25.1.5")
