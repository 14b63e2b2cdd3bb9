#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_databackup_verify
short_description: Verify the restic repositories of the practices' data backups, prune after a good check
description:
  - Runs once per job on the controller (C(run_once=true)). For every practice of the play whose site
    file has C(backups:), for each of its restic repositories (C(controller_url), else C(url)), with the
    password and environment from the vault variables the site file names (never in argv or output).
  - Reads the snapshots; for each source host the age of its last snapshot in the practice's working
    days (C(backup.stale)), the restore size of its snapshots, each measured once and kept in the ledger
    (C(backup.shrunk) against the median of the seven before).
  - Runs C(restic check --read-data-subset=n/N) (n the day of the month, N the days of the month, so
    every pack is read within a month) and, only when the check succeeded, C(restic forget --prune) with
    the retention (C(--keep-daily/weekly/monthly), C(--group-by host,tags)). A repository whose check
    failed (C(backup.check)) or that could not be read (C(backup.failed)) is never pruned.
  - A lock older than C(praxis_backup_policy.stale_lock_hours) is removed with C(restic unlock) and
    recorded; a younger one is left alone.
  - One C(databackup_checks) row per repository; the findings go to the incident engine.
  - See docs/backups.md.
version_added: "1.0.0"
options:
  ledger:
    description: The ledger. Default C(praxis_ledger_url), else C(praxis_ledger_path), else C(ledger.sqlite)
      in C(praxis_output_dir).
    type: str
  now:
    description: The time of the run (ISO-8601), default C(praxis_now), else the clock.
    type: str
  run:
    description: The run id recorded with each row, default AWX's job id or the generated one.
    type: str
  policy:
    description: The provider's C(praxis_backup_policy) (retention, shrink_percent, stale_lock_hours,
      stale_working_days, critical_working_days, timeout_s, restore_files); the site's
      C(backups.retention) overrides the retention.
    type: dict
  restic_options:
    description: restic C(-o key=value) options for every repository, default C(praxis_restic_options)
      (for example C(sftp.command)).
    type: dict
  cache_dir:
    description: restic's cache folder on the controller, default C(praxis_restic_cache_dir), else restic's own.
    type: path
attributes:
  check_mode:
    support: full
    description: Reads and checks; never prunes, never removes a lock, records nothing, and says so.
  diff_mode:
    support: none
    description: No diff.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Verify the data backups of the practices in this run
  praxis_databackup_verify:
  run_once: true
"""

RETURN = r"""
sites:
  description: Site ids with backups that were verified.
  returned: success
  type: list
  elements: str
repositories:
  description: One entry per repository, the fields of its C(databackup_checks) row (no secret).
  returned: success
  type: list
  elements: dict
findings:
  description: The findings of the run.
  returned: success
  type: list
  elements: dict
incidents:
  description: The incident engine's answer (opened, updated, escalated, resolved).
  returned: success
  type: dict
notes:
  description: What check mode left out.
  returned: success
  type: list
  elements: str
msg:
  description: Summary sentence.
  returned: always
  type: str
"""
