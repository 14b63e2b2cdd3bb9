"""Contract fixture: Synology DSM (lab/synology.py SynologyNAS over HTTPS, certificate pinned)."""

from __future__ import annotations

import ssl

from ansible.module_utils.praxis_driver import Target
from ansible.module_utils.praxis_identity import fingerprint

from lab import tls
from lab.synology import SynologyNAS
from tests.contract.harness import ALL_FAULTS, Env, Rig, emulator_rig

VENDOR = "synology"
ROLES = ("nas",)
FAULTS = ALL_FAULTS
NO_FAULTS_REASON = ""
USER, PASSWORD = SynologyNAS.random_credentials()


def rig(env: Env, role: str) -> Rig:
    cert, _key = tls.ensure_certificate(env.run_dir)
    pin = fingerprint(ssl.PEM_cert_to_DER_cert(cert.read_text()))

    def make_target(device):
        def target(**overrides) -> Target:
            values = dict(site="contract", name="nas01", vendor=VENDOR, role=role, address=device.address,
                          port=device.port, username=USER, password=PASSWORD, validate_certs=False,
                          tls_fingerprint=pin, timeout=5.0, retries=2, retry_delay=0.02)
            values.update(overrides)
            return Target(**values)
        return target

    settings = {"users": [{"name": "empfang", "description": "Empfang", "email": "", "password": "Empf4ng-Contract",
                           "state": "present"}]}
    return emulator_rig(env, SynologyNAS, make_target, PASSWORD, settings, True, username=USER,
                        reboot_seconds=0.3)
