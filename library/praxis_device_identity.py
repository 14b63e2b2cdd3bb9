#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_device_identity
short_description: Record, show and check who answers at a device's address
description:
  - Reads the SSH host key (LANCOM LCOS and LCOS SX, Linux) or, where TLS validation is off, the TLS
    certificate (OPNsense, Synology DSM) the device presents, without logging in, and compares its
    SHA-256 fingerprint with the one recorded in the ledger's identity store.
  - Not recorded yet, it is recorded (trust on first use) and the fingerprint is shown, for the
    technician to compare with the device (C(ssh-keygen -l) format C(SHA256:...)).
  - Recorded and different, the task fails, naming what this may mean (device replaced or reset, or
    someone intercepting) and how to accept a planned replacement; with O(accept) and O(reason) the new
    fingerprint replaces the record, and who accepted it and why is stored with it.
  - The SSH host key of an SFTP backup server (O(backup_store)) without C(known_hosts) is handled the same way.
  - See C(docs/device-identity.md). Runs on the controller as an action plugin
    (C(action_plugins/praxis_device_identity.py)).
version_added: "1.0.0"
extends_documentation_fragment:
  - praxis_device
options:
  accept:
    description:
      - Replace a recorded identity that differs (a planned device replacement or factory reset).
      - Left out or null, the variable C(praxis_identity_accept), else false.
    type: bool
    default: false
  reason:
    description:
      - Why a changed identity is accepted (ticket); required with O(accept), stored with the record.
      - Left out or null, the variable C(praxis_force_reason).
    type: str
  backup_store:
    description:
      - The backup store; an C(sftp) store without C(known_hosts) gets its server's key checked and recorded too.
      - Left out or null, the variable C(praxis_backup_store).
    type: dict
attributes:
  check_mode:
    support: full
    description: Reads and compares; records and replaces nothing.
  diff_mode:
    support: none
    description: The result lists each identity and what was done with it.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Record and show the device's identity
  praxis_device_identity:

- name: Accept the key of a replaced access point (playbooks/device_identity.yml)
  praxis_device_identity:
    accept: true
    reason: ticket 4711, access point replaced
"""

RETURN = r"""
identities:
  description: What the device presented and what was done.
  returned: always
  type: list
  elements: dict
  contains:
    host: {description: Inventory host name (C(sftp-<host>) for the backup server)., type: str}
    kind: {description: C(ssh) or C(tls)., type: str}
    algorithm: {description: Key algorithm (C(ssh-ed25519)) or C(x509)., type: str}
    fingerprint: {description: C(SHA256:<base64>) as C(ssh-keygen -l) prints it., type: str}
    status:
      description: C(known), C(recorded), C(accepted), C(would record), C(would accept), C(pinned in the site file).
      type: str
msg:
  description: One line per identity naming the device, the fingerprint and the status.
  returned: always
  type: str
"""
