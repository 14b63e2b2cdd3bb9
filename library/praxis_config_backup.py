#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_config_backup
short_description: Encrypted, verified configuration backup of a network device (NET-02, NET-07)
description:
  - Exports the device's full configuration through its driver (OPNsense C(config.xml), LCOS
    script, LCOS SX running-config, nftables ruleset or Samba configuration of a Linux device).
  - Checks that the export parses as the vendor's format, writes it ansible-vault encrypted
    (open a copy with C(ansible-vault view)) and atomically to the store, reads it back, decrypts
    it and compares the checksum; only then updates C(manifest.json) and removes copies beyond
    O(keep). A truncated or corrupt download fails the host and leaves the stored copies as they were.
  - When the configuration has not changed since the newest copy, nothing is written; the result
    says the check ran.
  - With C(--diff), shows the change against the previous copy with password hashes, keys and
    PSKs masked.
  - Encrypts with the vault secret the play runs with (C(--vault-password-file), C(--vault-id)).
  - Runs on the controller as an action plugin (C(action_plugins/praxis_config_backup.py)).
version_added: "1.0.0"
extends_documentation_fragment:
  - praxis_device
options:
  timeout:
    default: 60
  store:
    description:
      - "Where the copies go: C(type=local) with C(path) (the role's default), or C(type=sftp) with C(host),
        C(port), C(username), C(private_key_file), C(path), C(known_hosts), C(host_key_checking)."
      - "Copies are stored as C(<path>/<site>/<device>/<UTC time>-<sha256 prefix><suffix>.vault)."
      - Left out or null, the variable C(praxis_backup_store), else C(type=local) under C(backups/) in
        C(praxis_output_dir) or in C(output/) beside the playbooks.
    type: dict
  keep:
    description: Number of copies to keep per device (NET-02 asks for three).
    type: int
    default: 3
  show_diff:
    description: Whether to show the masked diff with C(--diff).
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Exports and compares; writes and removes nothing.
  diff_mode:
    support: full
    description: Masked unified diff against the previous copy.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Back up the configuration
  praxis_config_backup:
    store: {type: local, path: /srv/praxisops/backups}
    keep: 3
    ledger: "{{ playbook_dir }}/../output/ledger.sqlite"
"""

RETURN = r"""
path:
  description: The copy that holds the current configuration, relative to the store.
  returned: success
  type: str
sha256:
  description: Checksum of the plain configuration.
  returned: success
  type: str
kept:
  description: The copies kept, oldest first.
  returned: success
  type: list
  elements: str
removed:
  description: The copies removed by the rotation.
  returned: success
  type: list
  elements: str
store:
  description: Description of the store (never a credential).
  returned: success
  type: str
findings:
  description:
    - What is wrong, as findings of one shape for every check (docs/findings.md), worst first; empty when
      nothing is.
  returned: always
  type: list
  elements: dict
  contains:
    site: {description: "The practice id.", type: str, sample: huber}
    host: {description: "The inventory host (C(<site>-<device>)).", type: str, sample: huber-nas01}
    check:
      description: "The check, a dotted id C(<area>.<what>) (docs/findings.md lists them)."
      type: str
      sample: backup.config
    subject:
      description: What inside the host (disk, volume, service, event); empty for the host itself.
      type: str
    severity: {description: "C(warning) or C(critical).", type: str, sample: warning}
    priority: {description: "C(high), C(medium) or C(low) (OPS-06 rules and the site file's priorities).", type: str}
    message: {description: "One line for the technician.", type: str}
    value: {description: "The measured value (null when not a number).", type: raw}
    threshold: {description: "The limit it crossed (null when not a number).", type: raw}
    first_seen: {description: "Filled in by the incident engine; null from the check.", type: str}
    last_seen: {description: "Filled in by the incident engine; null from the check.", type: str}
checks:
  description:
    - The check ids that ran for the host in this task; a check that did not run is neither confirmed nor
      resolved by the incident engine.
  returned: always
  type: list
  elements: str
  sample: ["backup.config"]
incidents:
  description:
    - The incident engine's answer to the findings (what is new, worse or resolved since the last run).
    - Empty lists without a ledger; in check mode the engine records nothing.
  returned: when the task ran its checks
  type: dict
  contains:
    opened: {description: "Findings that are new.", type: list, elements: dict}
    updated: {description: "Findings seen again.", type: list, elements: dict}
    escalated: {description: "Findings that became worse (severity or priority).", type: list, elements: dict}
    resolved: {description: "Findings of checks that ran and found the problem gone.", type: list, elements: dict}
msg:
  description: One line naming the device and what happened.
  returned: always
  type: str
"""
