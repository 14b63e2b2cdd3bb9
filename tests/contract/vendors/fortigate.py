"""Contract fixture: FortiGate (lab/fortigate.py FortiGateFirewall, FortiOS REST API over HTTPS)."""

from __future__ import annotations

from ansible.module_utils.praxis_driver import Target

from lab.fortigate import FortiGateFirewall
from tests.contract.harness import ALL_FAULTS, Env, Rig, emulator_rig

VENDOR = "fortigate"
ROLES = ("firewall",)
FAULTS = ALL_FAULTS
NO_FAULTS_REASON = ""
USER, TOKEN = FortiGateFirewall.random_credentials()


def rig(env: Env, role: str) -> Rig:
    def make_target(device):
        def target(**overrides) -> Target:
            values = dict(site="contract", name="fw01", vendor=VENDOR, role=role, address=device.address,
                          port=device.port, username=USER, password=TOKEN,
                          ca_path=str(env.run_dir / "lab-cert.pem"), timeout=5.0, retries=2, retry_delay=0.02)
            values.update(overrides)
            return Target(**values)
        return target

    settings = {"syslog": [{"host": "10.20.0.5", "port": 514, "transport": "udp", "description": "contract"}],
                "rules": [{"description": "contract: allow lan out", "action": "pass", "interface": "internal",
                           "direction": "in", "protocol": "any", "source_net": "192.168.10.0/24",
                           "destination_net": "any", "destination_port": "", "sequence": 100},
                          {"description": "contract: https to server", "action": "pass", "interface": "wan1",
                           "protocol": "tcp", "source_net": "any", "destination_net": "192.168.10.5",
                           "destination_port": "443", "sequence": 110}]}
    return emulator_rig(env, FortiGateFirewall, make_target, TOKEN, settings, True, username=USER,
                        reboot_seconds=0.3, firmware_seconds=0.2, firmware_version="7.4.4",
                        firmware_latest="7.4.7")
