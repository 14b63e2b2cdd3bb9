"""Contract fixture: Sophos Firewall (lab/sophos.py SophosFirewall, SFOS XML API over HTTPS).

The configuration export reads the firewall's scheduled backups: the
emulator gets a landing folder (its FTP server's root) and a scheduled FTP
backup as a technician sets it up once, the target the option
``backup_dropbox`` pointing there. Firmware and signatures are not offered
(the driver's reasons); the firmware faults are therefore skipped."""

from __future__ import annotations

from ansible.module_utils.praxis_driver import Target

from lab.sophos import SophosFirewall
from tests.contract.harness import ALL_FAULTS, Env, Rig, emulator_rig

VENDOR = "sophos"
ROLES = ("firewall",)
FAULTS = ALL_FAULTS
NO_FAULTS_REASON = ""
USER, PASSWORD = SophosFirewall.random_credentials()
FTP_PATH = "sophos/contract-fw01"


def rig(env: Env, role: str) -> Rig:
    ftp_root = env.run_dir / "ftp"
    schedule = {"ftp_server": "127.0.0.1", "ftp_path": FTP_PATH, "ftp_username": "backup", "frequency": "Daily",
                "hour": 2, "minute": 0}

    def make_target(device):
        def target(**overrides) -> Target:
            values = dict(site="contract", name="fw01", vendor=VENDOR, role=role, address=device.address,
                          port=device.port, username=USER, password=PASSWORD,
                          ca_path=str(env.run_dir / "lab-cert.pem"), timeout=5.0, retries=2, retry_delay=0.02,
                          options={"backup_dropbox": str(ftp_root / FTP_PATH), "backup_schedule": schedule})
            values.update(overrides)
            return Target(**values)
        return target

    settings = {"syslog": [{"host": "10.20.0.5", "port": 514, "transport": "udp", "description": "contract"}],
                "rules": [{"description": "contract: allow lan out", "action": "pass", "interface": "lan",
                           "direction": "in", "protocol": "any", "source_net": "192.168.10.0/24",
                           "destination_net": "any", "destination_port": "", "sequence": 100},
                          {"description": "contract: https to server", "action": "pass", "interface": "wan",
                           "protocol": "tcp", "source_net": "any", "destination_net": "192.168.10.5",
                           "destination_port": "443", "sequence": 110}]}
    # the scheduled FTP backup as set up in the web admin (the settings run keeps it as it is)
    preset = {"BackupMode": "FTP", "BackupPrefix": "contract-fw01", "FTPServer": "127.0.0.1", "Username": "backup",
              "FtpPath": FTP_PATH, "BackupFrequency": "Daily", "Hour": "2", "Minute": "0"}
    return emulator_rig(env, SophosFirewall, make_target, PASSWORD, settings, False, username=USER,
                        reboot_seconds=0.3, ftp_root=ftp_root, backup_schedule=preset)
