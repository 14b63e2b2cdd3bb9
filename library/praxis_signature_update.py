#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_signature_update
short_description: Daily security signature update of a firewall (NET-03)
description:
  - Starts the download of the vendor's security signatures (OPNsense IDS rules) and records the
    signature date in the ledger. Devices whose vendor has no signatures are reported as skipped.
  - Runs on the controller as an action plugin (C(action_plugins/praxis_signature_update.py)).
version_added: "1.0.0"
extends_documentation_fragment:
  - praxis_device
attributes:
  check_mode:
    support: full
    description: Reads the current signature date; downloads nothing.
  diff_mode:
    support: none
    description: The result names the signature date.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Update the security signatures
  praxis_signature_update:
    ledger: "{{ playbook_dir }}/../output/ledger.sqlite"
"""

RETURN = r"""
signature_date:
  description: Date of the signatures on the device after the run (YYYY-MM-DD).
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
      sample: net.signature_age
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
  sample: ["net.signature_update", "net.signature_age"]
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
  description: One line naming the device and the signature date.
  returned: always
  type: str
"""
