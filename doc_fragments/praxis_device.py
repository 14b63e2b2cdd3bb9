# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Options every network device module shares (module_utils/praxis_action.py)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  device:
    description:
      - The device, as the praxisops inventory puts it in C(praxis_device) (name, role, vendor,
        address, port, model, credentials, validate_certs, ca_path).
      - Default C(praxis_device) of the host.
    type: dict
  site:
    description: The practice, default C(praxis_site) of the host (id, calendar, contacts).
    type: dict
  credentials:
    description:
      - The device credentials (C(username), C(password); for OPNsense the API key and secret).
      - Default the value of the vault variable C(praxis_device.credentials) names. Never logged.
    type: dict
  timeout:
    description:
      - Seconds to wait for one answer of the device.
      - Left out or null, the variable C(praxis_device_timeout), else the default (20; 30 for settings,
        60 for backups and firmware updates).
    type: float
    default: 20
  retries:
    description:
      - Attempts in all for a request that failed transiently (refused or dropped connection, HTTP 5xx).
      - Left out or null, the variable C(praxis_device_retries), else the default.
    type: int
    default: 3
  retry_delay:
    description:
      - Seconds before the second attempt; the pause grows with each attempt.
      - Left out or null, the variable C(praxis_device_retry_delay), else the default.
    type: float
    default: 1
  options:
    description: Vendor-specific inputs, e.g. C(firmware), the provider's firmware catalog entry for the model.
    type: dict
    default: {}
  ledger:
    description:
      - The ledger the result is recorded in, the path of an SQLite file or a C(postgresql://) URL.
      - Left out or null, the variable C(praxis_ledger_url), else C(praxis_ledger_path), else C(ledger.sqlite) in
        C(praxis_output_dir) or in C(output/) beside the playbooks.
    type: str
  run:
    description:
      - An identifier of the run, stored with the ledger records.
      - Left out or null, C(awx_job_id) (set by AWX), else the variable C(praxis_run_id), else empty.
    type: str
    default: ""
  now:
    description:
      - The instant to act as, ISO-8601 with offset (dry runs and tests).
      - Left out or null, the variable C(praxis_now), else the current time.
    type: str
  identity:
    description:
      - What to do with a device whose SSH host key or TLS certificate (validation off) is not recorded yet
        in the ledger's identity store; see C(docs/device-identity.md).
      - C(strict) fails naming how to record it (C(playbooks/device_identity.yml)); C(record) records it
        (trust on first use) and shows the fingerprint as a warning.
      - A key or certificate that differs from the record fails in both modes, before any credential is sent.
      - Left out or null, the variable C(praxis_device_identity), else C(strict).
    type: str
    choices: [strict, record]
    default: strict
notes:
  - Options left out or null take the project-wide variables named with them, so roles pass their
    variables through with null defaults and no C(default()) chain is templated per device.
  - Runs on the controller as an action plugin against the device's API or SSH; the module file documents it.
  - Error messages name the device and never contain a secret.
"""
