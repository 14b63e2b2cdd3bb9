"""Contract fixture: LANCOM (lab/lancom.py: LCOS access point, LCOS SX switch over SSH)."""

from __future__ import annotations

import os
import tempfile

from ansible.module_utils.praxis_driver import Target
from ansible.module_utils.praxis_identity import IdentityStore

from lab.lancom import LCOSAccessPoint, LCOSSXSwitch, firmware_image
from tests.contract.harness import ALL_FAULTS, Env, Rig, emulator_rig

VENDOR = "lancom"
ROLES = ("access_point", "switch")
FAULTS = ALL_FAULTS
NO_FAULTS_REASON = ""
CLASSES = {"access_point": LCOSAccessPoint, "switch": LCOSSXSwitch}
# model, newer version, date, image suffix
FIRMWARE = {"access_point": ("LANCOM LN-1700", "10.80.0100", "20.05.2025", "upx"),
            "switch": ("LANCOM GS-4530XP", "5.30.0012", "10.02.2025", "stk")}
SETTINGS = {
    "access_point": {"wlans": [{"ssid": "Praxis-Contract", "vlan": 10, "encryption": "wpa3",
                                "psk": "contract-psk-123456"}]},
    "switch": {"vlans": [{"id": 10, "name": "Praxis"}, {"id": 20, "name": "Gast"}],
               "ports": [{"port": "1/0/5", "vlans": [10], "pvid": 10, "poe": True}]},
}


def rig(env: Env, role: str) -> Rig:
    cls = CLASSES[role]
    username, password = cls.random_credentials()
    identity = IdentityStore(os.path.join(tempfile.mkdtemp(prefix="praxis-contract-"), "ledger.sqlite"), "record")
    model, version, date, suffix = FIRMWARE[role]

    def make_target(device):
        url = env.fw_server(f"contract-{device.name}-{version}.{suffix}", firmware_image(model, version, date))

        def target(**overrides) -> Target:
            values = dict(site="contract", name=device.name, vendor=VENDOR, role=role, address=device.address,
                          port=device.port, username=username, password=password, timeout=5.0, retries=2,
                          retry_delay=0.05, identity=identity,
                          options={"firmware": {"version": version, "url": url, "date": date},
                                   "restart_timeout": 10})
            values.update(overrides)
            return Target(**values)
        return target

    return emulator_rig(env, cls, make_target, password, SETTINGS[role], True, username=username,
                        reboot_seconds=0.5)
