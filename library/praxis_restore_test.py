#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_restore_test
short_description: Restore test of the practices' data backups, with evidence
description:
  - Runs once per job on the controller (C(run_once=true)), quarterly. Draws C(count) practices among
    those of the play with C(backups:), an offsite repository (C(kind=offsite)) and a server source,
    with C(seed) (given, else a fresh random one); the seed and the choice are recorded.
  - For each practice, the latest snapshot of the practice server in the offsite repository; a sample of
    C(files) files (drawn with the seed) and the dump file restored into a scratch folder; every file's
    sha256 compared with the one streamed from the snapshot (C(restic dump)); the dump's first bytes
    compared with its C(header); the scratch folder removed, also on failure.
  - The evidence (quarter, seed, choice, snapshot, files and results, dump, duration, who) is one
    C(restore_tests) row per practice; a failed test is a C(restore.failed) finding. A full scratch
    disk is a clear error; the folder is cleaned up and the test recorded as failed.
  - See docs/backups.md.
version_added: "1.0.0"
options:
  ledger:
    description: The ledger. Default C(praxis_ledger_url), else C(praxis_ledger_path), else C(ledger.sqlite)
      in C(praxis_output_dir).
    type: str
  now:
    description: The time of the run (ISO-8601), default C(praxis_now), else the clock; decides the quarter.
    type: str
  run:
    description: The run id recorded with each row.
    type: str
  policy:
    description: The provider's C(praxis_backup_policy).
    type: dict
  restic_options:
    description: restic C(-o key=value) options, default C(praxis_restic_options).
    type: dict
  cache_dir:
    description: restic's cache folder, default C(praxis_restic_cache_dir).
    type: path
  count:
    description: How many practices are tested, default C(praxis_restore_test_count).
    type: int
    default: 1
  seed:
    description: The seed of the draw, default C(praxis_restore_test_seed), else a random one (recorded).
    type: str
  files:
    description: Files sampled besides the dump, default the policy's C(restore_files) (20).
    type: int
  scratch:
    description: The folder the scratch copies are made in, default C(praxis_restore_scratch), else
      C(restore-scratch) in C(praxis_output_dir).
    type: path
attributes:
  check_mode:
    support: full
    description: Draws the practices and says what would be restored; restores and records nothing.
  diff_mode:
    support: none
    description: No diff.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Restore test of one practice drawn at random
  praxis_restore_test:
    count: 1
  run_once: true
"""

RETURN = r"""
seed:
  description: The seed of the draw.
  returned: success
  type: str
candidates:
  description: Practices with an offsite backup of a server.
  returned: success
  type: list
  elements: str
chosen:
  description: The practices drawn.
  returned: success
  type: list
  elements: str
tests:
  description: One entry per practice, the fields of its C(restore_tests) row.
  returned: success
  type: list
  elements: dict
findings:
  description: C(restore.failed) findings.
  returned: success
  type: list
  elements: dict
incidents:
  description: The incident engine's answer.
  returned: success
  type: dict
msg:
  description: Summary sentence.
  returned: always
  type: str
"""
