#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_patch_report
short_description: Write the patch report of every practice in the play
description:
  - Runs once per job on the controller (C(run_once=true)). For every practice with a Windows
    host in the play (group C(windows) in C(ansible_play_hosts_all), so C(-l site_x) limits it)
    it writes C(<output>/patches/<site>/report.md) and C(report.json) from the patch ledger,
    atomically, mode 0600 in folders 0700.
  - Per device the daily success check (last successful check, counts by state, every update
    with state, error code, installation time, pending reboot; C(held) while a hold is open);
    per update the rollout (pilot, pilot result, released when, by whom and by which rule);
    the open holds (who, why, until); the programs that update themselves (version seen and
    offered); the devices not checked in the last 24 hours; and the month's SLA against the
    practice's policy, saying plainly when the policy makes a target unreachable and why.
  - German unless the site file says C(language=en).
  - A report whose only change is the time of the run is not written again, so a second run
    changes nothing.
  - See docs/patching.md.
version_added: "1.0.0"
options:
  ledger:
    description: The ledger. Default C(praxis_ledger_path), else C(ledger.sqlite) in C(praxis_output_dir).
      A missing ledger reads as empty and is not created.
    type: path
  now:
    description: The time of the run (ISO-8601), default C(praxis_now), else the clock. It is the
      report's C(generated_at) and decides the month of the SLA.
    type: str
  output:
    description: The output folder, default C(praxis_output_dir), else C(output/) beside playbooks/.
    type: path
  policy:
    description: The provider's patch policy, default C(praxis_patch_policy); merged with each
      site file's C(patching:) key by key.
    type: dict
attributes:
  check_mode:
    support: full
    description: Writes nothing; RV(paths) lists the files a real run would write.
  diff_mode:
    support: none
    description: No diff.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Write the patch reports of the practices in this run
  praxis_patch_report:
  run_once: true
"""

RETURN = r"""
sites:
  description: Site ids whose report was rendered.
  returned: success
  type: list
  elements: str
paths:
  description: Files written (in check mode, the files a real run would write).
  returned: success
  type: list
  elements: str
msg:
  description: Summary sentence.
  returned: always
  type: str
"""
