# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The quarterly restore test of the practices' data backups (WP-12; options documented
in library/praxis_restore_test.py, docs/backups.md).

Runs once on the controller (``run_once: true``): draws ``count`` practices among
those of the play with backups and an offsite repository (with ``seed``, recorded),
and for each restores a sample of files and the dump of the practice server's latest
snapshot from the offsite repository into a scratch folder, compares every file's
sha256 with the one streamed from the snapshot, checks the dump's header, removes
the scratch folder (always) and records the evidence in ``restore_tests``. A failed
test is a ``restore.failed`` finding. Check mode draws the practices and says what
would be restored; it restores and records nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils import praxis_databackup as db  # noqa: E402
from ansible.module_utils.praxis_action import PraxisAction  # noqa: E402
from ansible.module_utils.praxis_audit import who  # noqa: E402
from ansible.module_utils.praxis_findings import Judge, report  # noqa: E402
from ansible.module_utils.praxis_restic import ResticError  # noqa: E402

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "ledger": {"type": "str"},
    "now": {"type": "str"},
    "run": {"type": "str"},
    "policy": {"type": "dict"},
    "restic_options": {"type": "dict"},
    "cache_dir": {"type": "path"},
    "count": {"type": "int", "default": 1},
    "seed": {"type": "str"},
    "files": {"type": "int"},
    "scratch": {"type": "path"},
}


def offsite(site: dict[str, Any]) -> dict[str, Any] | None:
    return next((repo for repo in db.repositories(site) if repo.get("kind") == "offsite"), None)


def server_source(site: dict[str, Any]) -> dict[str, Any] | None:
    return next((source for source in db.sources(site) if source["server"]), None)


class ActionModule(PraxisAction):
    OPERATION = "praxis_restore_test"
    SPEC = ARGUMENT_SPEC
    _requires_connection = False
    GLOBALS = dict(PraxisAction.GLOBALS, policy="praxis_backup_policy", restic_options="praxis_restic_options",
                   cache_dir="praxis_restic_cache_dir", count="praxis_restore_test_count",
                   seed="praxis_restore_test_seed", scratch="praxis_restore_scratch")

    def fallbacks(self, task_vars: dict[str, Any]) -> dict[str, Any]:
        values = super().fallbacks(task_vars)
        if values.get("scratch") is None:
            values["scratch"] = self.output_path(task_vars, "restore-scratch")
        return values

    def execute(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        now = self.now(args)
        if args["count"] < 1:
            raise db.DatabackupError(f"count (praxis_restore_test_count) must be 1 or more, got {args['count']}")
        if args.get("files") is not None and args["files"] < 1:
            raise db.DatabackupError(f"files must be 1 or more, got {args['files']}")
        candidates = {site_id: site for site_id, site in self.play_sites(task_vars).items()
                      if db.has_backups(site) and offsite(site) and server_source(site)}
        seed = db.make_seed(args.get("seed"))
        chosen = db.choose_sites(candidates, args["count"], seed)
        by = who(task_vars)["by"]
        tests: list[dict[str, Any]] = []
        findings: list[dict[str, Any]] = []
        incidents: dict[str, list[Any]] = {"opened": [], "updated": [], "escalated": [], "resolved": []}
        for site_id in chosen:
            site = candidates[site_id]
            pol = db.policy(args.get("policy"), site)
            repo_cfg, source = offsite(site), server_source(site)
            quarter = db.quarter_of(db.local_day(site, now))
            if self.check_mode:
                tests.append({"site": site_id, "repository": repo_cfg.get("name"), "host": source["host"],
                              "quarter": quarter, "ok": None, "error": None,
                              "note": "check mode: would restore a sample and the dump; nothing restored"})
                continue
            started, clock = dt.datetime.now(dt.timezone.utc), time.monotonic()
            try:
                repo = db.open_repository(site, repo_cfg, lambda name: self.variable(task_vars, name), pol=pol,
                                          options=args.get("restic_options"), cache_dir=args.get("cache_dir"))
                result = db.restore_test(repo, site=site, source=source, seed=seed,
                                         files=args.get("files") or pol["restore_files"], scratch_base=args["scratch"])
            except ResticError as exc:
                result = {"site": site_id, "repository": str(repo_cfg.get("name")), "host": source["host"],
                          "snapshot_id": "", "snapshot_time": None, "files": [], "dump": None, "ok": False,
                          "error": str(exc), "error_kind": exc.kind, "scratch_removed": True}
            finished = dt.datetime.now(dt.timezone.utc)
            row = dict(result, quarter=quarter, seed=seed, chosen_sites=chosen, started_at=db.iso(started),
                       finished_at=db.iso(finished), duration_s=round(time.monotonic() - clock, 3), by=by,
                       run=args.get("run") or "")
            if args.get("ledger"):
                db.record_restore_test(args["ledger"], row)
            tests.append(row)
            found = []
            if not row["ok"]:
                role = "server"
                found.append(Judge(site, source["host"], role)("restore.failed", row["repository"], "critical",
                                                               row["error"] or "restore test failed",
                                                               row.get("error_kind"), None))
            findings += found
            answer = report(self.ledger_path, run=args.get("run") or "", site=site_id, host=source["host"],
                            checks=["restore.failed"], findings=found, now=now, check_mode=self.check_mode)
            for key, items in answer.items():
                incidents[key] += items
        failed = [t for t in tests if t.get("ok") is False]
        verb = "would test" if self.check_mode else "tested"
        return {"changed": bool(tests) and not self.check_mode, "seed": seed, "candidates": sorted(candidates),
                "chosen": chosen, "tests": tests, "findings": findings, "incidents": incidents,
                "msg": f"{verb} {len(chosen)} of {len(candidates)} practice(s) with an offsite backup (seed {seed}); "
                       f"{len(failed)} failed"}
