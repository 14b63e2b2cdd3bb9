# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The nightly verification of the practices' data backups (WP-12; options documented
in library/praxis_databackup_verify.py, docs/backups.md).

Runs once on the controller (``run_once: true``): for every practice of the play
with ``backups:`` in its site file, for each of its restic repositories: the
snapshots, the age of each source host's last snapshot in the practice's working
days, the size trend, ``restic check --read-data-subset=<day>/<days of the month>``
and, only after a good check, ``forget --prune`` with the retention. Each
repository gives one ``databackup_checks`` row; the findings go to the incident
engine once per host. Check mode reads and checks, never prunes, never unlocks
and records nothing.
"""

from __future__ import annotations

import os
from typing import Any

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils import praxis_databackup as db  # noqa: E402
from ansible.module_utils.praxis_action import PraxisAction  # noqa: E402
from ansible.module_utils.praxis_findings import Judge, report  # noqa: E402
from ansible.module_utils.praxis_restic import ResticError  # noqa: E402

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "ledger": {"type": "str"},
    "now": {"type": "str"},
    "run": {"type": "str"},
    "policy": {"type": "dict"},
    "restic_options": {"type": "dict"},
    "cache_dir": {"type": "path"},
}
SOURCE_CHECKS = ("backup.stale", "backup.shrunk")


def _judges(site: dict[str, Any]) -> Any:
    """A judge of findings for one practice: one ``Judge`` per host and role, made when first needed."""
    judges: dict[tuple[str, str], Judge] = {}

    def judge(host, role, check, subject, severity, message, value, threshold):
        if (host, role) not in judges:
            judges[(host, role)] = Judge(site, host, role)
        return judges[(host, role)](check, subject, severity, message, value, threshold)
    return judge


class ActionModule(PraxisAction):
    OPERATION = "praxis_databackup_verify"
    SPEC = ARGUMENT_SPEC
    _requires_connection = False
    GLOBALS = dict(PraxisAction.GLOBALS, policy="praxis_backup_policy", restic_options="praxis_restic_options",
                   cache_dir="praxis_restic_cache_dir")

    def lookup(self, task_vars: dict[str, Any]):
        return lambda name: self.variable(task_vars, name)

    def execute(self, args: dict[str, Any], task_vars: dict[str, Any]) -> dict[str, Any]:
        now = self.now(args)
        rows: list[dict[str, Any]] = []
        findings: list[dict[str, Any]] = []
        incidents: dict[str, list[Any]] = {"opened": [], "updated": [], "escalated": [], "resolved": []}
        notes: list[str] = []
        practices = {site_id: site for site_id, site in self.play_sites(task_vars).items() if db.has_backups(site)}
        for site_id, site in practices.items():
            pol = db.policy(args.get("policy"), site)
            sources = db.sources(site)
            judge = _judges(site)

            site_findings: list[dict[str, Any]] = []
            all_readable = True
            for repo_cfg in db.repositories(site):
                verification = None
                try:
                    repo = db.open_repository(site, repo_cfg, self.lookup(task_vars), pol=pol,
                                              options=args.get("restic_options"), cache_dir=args.get("cache_dir"))
                    verification = db.Verification(repo, site=site, name=repo.name, pol=pol, now=now,
                                                   ledger=args.get("ledger"), read_ledger=self.ledger_path,
                                                   check_mode=self.check_mode, judge=judge, run=args.get("run") or "")
                    row = verification.run(sources)
                    site_findings += verification.findings
                    notes += verification.notes
                    all_readable = all_readable and verification.readable
                except ResticError as exc:    # the repository could not even be opened (vault, url)
                    all_readable = False
                    name = str(repo_cfg.get("name") or "?")
                    row = {"site": site_id, "repository": name, "checked_at": db.iso(now), "ok": False,
                           "error_kind": exc.kind, "error": str(exc), "snapshots": {}, "pruned": False,
                           "run": args.get("run") or "", "duration_s": 0}
                    site_findings.append(judge(db.host_name(site_id, db.REPOSITORY_HOST), "backup", "backup.failed",
                                               name, "critical", str(exc), exc.kind, None))
                if args.get("ledger"):
                    db.record_check(args["ledger"], row)
                rows.append(row)
            findings += site_findings
            # one call per host: the checks that ran there (none of the source checks when a repository
            # could not be read, so its open incidents are not taken for solved)
            hosts: dict[str, set[str]] = {db.host_name(site_id, db.REPOSITORY_HOST): {"backup.failed"}}
            if all_readable:
                hosts[db.host_name(site_id, db.REPOSITORY_HOST)].add("backup.check")
            for source in sources:
                hosts.setdefault(source["host"], set()).update(SOURCE_CHECKS if all_readable else ())
            for finding in site_findings:
                hosts.setdefault(finding["host"], set())
            for host, ran in hosts.items():
                answer = report(self.ledger_path, run=args.get("run") or "", site=site_id, host=host, checks=ran,
                                findings=[f for f in site_findings if f["host"] == host], now=now,
                                check_mode=self.check_mode)
                for key, items in answer.items():
                    incidents[key] += items
        changed = any(row.get("pruned") or row.get("unlocked") for row in rows) and not self.check_mode
        bad = [row for row in rows if not row["ok"]]
        verb = "checked (check mode: nothing pruned, no lock removed, nothing recorded)" if self.check_mode \
            else "verified"
        return {"changed": changed, "sites": sorted(practices), "repositories": rows, "findings": findings,
                "incidents": incidents, "notes": notes,
                "msg": f"{verb} {len(rows)} repository(ies) of {len(practices)} practice(s); {len(bad)} not ok, "
                       f"{len(findings)} finding(s)"}
