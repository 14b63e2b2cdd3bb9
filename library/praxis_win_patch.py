#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_win_patch
short_description: Search and install Windows and program updates by the practice's patch ring (WP-08, WP-09, WP-10)
description:
  - Runs on the controller for every Windows host and drives the maintained modules on the host
    (C(ansible.windows.win_updates), C(ansible.windows.win_reboot),
    C(chocolatey.chocolatey.win_chocolatey_facts), C(chocolatey.chocolatey.win_chocolatey)); every
    decision is made on the controller by C(module_utils/praxis_patch.py) and kept in the patch
    tables of the ledger. See docs/patching.md.
  - O(mode=check) (nightly) searches Microsoft updates of every category and, when the policy's
    C(third_party.enabled), the outdated programs; records the updates in scope, the ones no longer
    offered (installed) and the day's check, releases what the ring releases, and returns findings
    (C(patch.check) when the search failed, C(patch.failed), C(patch.overdue), C(patch.reboot_pending))
    for the incident engine. A host without Chocolatey gives a warning, not a failure.
  - O(mode=install) (the install job) asks the host's maintenance time first (the site's calendar;
    a server with its own C(maintenance_windows) within the site's). Outside it nothing is touched, the
    refusal is logged and the task is skipped naming the next window. Inside it the pilot installs
    everything in scope, the other hosts what is released to the practice and not held; a reboot
    pending from an earlier window is done first; a reboot is done only when the window leaves the
    policy's C(reboot_minutes), else the updates stay pending and RV(reboot_deferred_to) names the next
    window. Programs are upgraded one by one, held ones with removal taken back to the previous version.
  - A connection that drops during the installation (WinRM drops during updates and reboots) is
    retried up to the policy's C(install_retries) times, then recorded as failed, never as success.
  - The task fails when an update or program failed to install, or when the findings are O(fail_on) or
    worse.
version_added: "1.0.0"
options:
  mode:
    description: C(check) (the nightly search) or C(install) (the install job, in maintenance time only).
    type: str
    default: check
    choices: [check, install]
  policy:
    description:
      - The provider's patch policy, merged key by key with the site file's C(patching:) (docs/patching.md);
        every value checked, errors name the field.
      - Default the variable C(praxis_patch_policy), else the project's defaults.
    type: dict
  force_reason:
    description:
      - A technician's reason to install outside maintenance time; logged and shown as a warning.
      - Default the variable C(praxis_force_reason).
    type: str
  updates_module:
    description: Module (or action) that searches and installs Microsoft updates; default the variable
      C(praxis_patch_updates_module), else C(ansible.windows.win_updates).
    type: str
    default: ansible.windows.win_updates
  packages_facts_module:
    description: Module that reports the programs (installed and outdated); default the variable
      C(praxis_patch_packages_facts_module), else C(chocolatey.chocolatey.win_chocolatey_facts).
    type: str
    default: chocolatey.chocolatey.win_chocolatey_facts
  packages_module:
    description: Module that upgrades a program; default the variable C(praxis_patch_packages_module), else
      C(chocolatey.chocolatey.win_chocolatey).
    type: str
    default: chocolatey.chocolatey.win_chocolatey
  reboot_module:
    description: Module (or action) that reboots the host; default the variable C(praxis_patch_reboot_module),
      else C(ansible.windows.win_reboot).
    type: str
    default: ansible.windows.win_reboot
  ledger:
    description: The ledger. Default C(praxis_ledger_path), else C(ledger.sqlite) in C(praxis_output_dir).
    type: path
  run:
    description: Run id recorded with the ledger event; default C(awx_job_id), else C(praxis_run_id).
    type: str
    default: ""
  now:
    description: The instant to act as (ISO-8601), default C(praxis_now), else the clock.
    type: str
  site:
    description: The site; default C(praxis_site) of the host.
    type: dict
  fail_on:
    description: Fail the host when its patch findings are this bad or worse (C(none) never).
    type: str
    default: critical
    choices: [none, warning, critical]
attributes:
  check_mode:
    support: full
    description: The search runs (read-only) and the ledger is read; nothing is installed, rebooted or
      recorded. RV(would_install) lists what a real run would install.
  diff_mode:
    support: none
    description: No diff.
notes:
  - The pilot is the host C(<site id>-<site pilot>); a host of the group C(servers) is a server (own ring
    when the policy's C(servers.own_ring)); the host's own C(maintenance_windows) come from C(praxis_device).
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Search the updates of the PC (nightly)
  praxis_win_patch:
    mode: check

- name: Install the released updates in the maintenance window
  praxis_win_patch:
    mode: install
"""

RETURN = r"""
mode:
  description: The mode that ran.
  returned: always
  type: str
status:
  description: The worst severity of the host's patch findings (ok, warning, critical).
  returned: when the host was not refused
  type: str
findings:
  description: The host's patch findings (docs/findings.md).
  returned: when the host was not refused
  type: list
  elements: dict
checks:
  description: The checks this run decided (the incident engine resolves what they no longer find).
  returned: when the host was not refused
  type: list
  elements: str
incidents:
  description: What the incident engine opened, updated, escalated or resolved.
  returned: when the host was not refused
  type: dict
counts:
  description: The host's updates by state after the check.
  returned: O(mode=check)
  type: dict
offered:
  description: Keys of the updates in scope the host is offered.
  returned: O(mode=check)
  type: list
  elements: str
released:
  description: Updates the check released to the practice ({key, rule}).
  returned: O(mode=check)
  type: list
  elements: dict
packages:
  description: The policy's programs installed on the host with their versions; null when not checked.
  returned: O(mode=check)
  type: dict
installed:
  description: Keys installed by this run.
  returned: O(mode=install)
  type: list
  elements: str
pending_reboot:
  description: Keys installed that wait for the host's reboot.
  returned: O(mode=install)
  type: list
  elements: str
failed_updates:
  description: Keys that failed to install (a lost connection included).
  returned: O(mode=install)
  type: list
  elements: str
removed:
  description: Keys of held programs taken back to their previous version.
  returned: O(mode=install)
  type: list
  elements: str
remove_manual:
  description: Held Microsoft updates already installed; win_updates cannot uninstall them.
  returned: O(mode=install)
  type: list
  elements: str
waiting:
  description: Updates waiting for their release to the practice ({key, release_due}).
  returned: O(mode=install)
  type: list
  elements: dict
held:
  description: Updates held ({key, reason, by}).
  returned: O(mode=install)
  type: list
  elements: dict
self_updating:
  description: Programs that update themselves; reported, never installed.
  returned: O(mode=install)
  type: list
  elements: dict
window:
  description: The maintenance time at the run (allowed, reason, next_window, window_end, reboot, forced).
  returned: O(mode=install)
  type: dict
reboot_deferred_to:
  description: Start of the window in which the deferred reboot is done.
  returned: when a needed reboot did not fit into the window
  type: str
connection_lost:
  description: The dropped connection after the retries.
  returned: when the connection was lost
  type: str
refused:
  description: True when the install was refused outside maintenance time (the task is skipped).
  returned: when refused
  type: bool
would_install:
  description: In check mode, the keys a real install run would install.
  returned: check mode, O(mode=install)
  type: list
  elements: str
msg:
  description: Summary sentence.
  returned: always
  type: str
"""
