#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_firmware_update
short_description: Guarded firmware update of a network device (NET-04, NET-07)
description:
  - Compares the installed and the offered firmware. When an update is due, asks the practice's
    service calendar itself (business hours, holidays of the federal state, maintenance windows and
    the Mon-Fri 08:00-17:00 floor) and refuses in business hours, naming the next window, whatever
    the schedule or a C(when:) says.
  - Backs up the configuration first (same checks as M(praxis_config_backup)); starts the update;
    waits for the reboot within O(budget); verifies the new version and health; backs up the
    configuration again as the new firmware wrote it; records the result in the ledger. A device
    that does not come back in time fails that host only.
  - An update whose reboot did not come back within O(budget) is recorded as C(pending). The next
    run that reaches the device (this module or M(praxis_device_facts)) records it as updated, with
    the time it was noticed, when the device runs the target version, else as failed.
  - In check mode nothing is recorded.
  - Runs on the controller as an action plugin (C(action_plugins/praxis_firmware_update.py)).
version_added: "1.0.0"
extends_documentation_fragment:
  - praxis_device
options:
  timeout:
    default: 60
  force_reason:
    description:
      - Why the update must run outside maintenance time; logged as a warning and in the ledger.
      - Left out or null, the variable C(praxis_force_reason).
    type: str
  budget:
    description: Seconds the device may take to come back after the update.
    type: float
    default: 900
  poll:
    description: Seconds between the checks whether the device is back.
    type: float
    default: 5
  backup_store:
    description:
      - Store for the backup before the update (see M(praxis_config_backup)).
      - Left out or null, the variable C(praxis_backup_store), else C(type=local) under C(backups/) in
        C(praxis_output_dir) or in C(output/) beside the playbooks. The update never starts without it.
    type: dict
  backup_keep:
    description: Copies to keep per device.
    type: int
    default: 3
  thresholds:
    description: Health thresholds for the check after the update (see M(praxis_device_facts)).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Tells what would happen, including a refusal by the calendar; starts nothing.
  diff_mode:
    support: none
    description: The result names the old and new version.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Update the firmware in the maintenance window
  praxis_firmware_update:
    budget: 900
    backup_store: {type: local, path: /srv/praxisops/backups}
"""

RETURN = r"""
installed:
  description: The firmware version now running.
  returned: success
  type: str
available:
  description: The offered version, null when the installed one is current.
  returned: success
  type: str
previous:
  description: The version before the update.
  returned: changed
  type: str
seconds:
  description: Duration of backup, update and reboot.
  returned: changed
  type: float
refused:
  description: True when the service calendar refused the update.
  returned: when refused
  type: bool
guard:
  description: The calendar decision (allowed, reason, next_window, forced).
  returned: always
  type: dict
pending:
  description: The reboot did not come back within O(budget); the update is recorded as pending.
  returned: failure
  type: bool
firmware_update:
  description:
    - A pending update of an earlier run settled now, with C(status) (updated or failed), C(from), C(to),
      C(started_at), C(noticed_at) and C(msg).
  returned: when an earlier run left a firmware update pending
  type: dict
backup_after:
  description: The backup after the update (same keys as M(praxis_config_backup)).
  returned: changed
  type: dict
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
      sample: firmware.available
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
  sample: ["firmware.available", "firmware.pending"]
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
  description: One line naming the device and the outcome, or the next allowed window on a refusal.
  returned: always
  type: str
"""
