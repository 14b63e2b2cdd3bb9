# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: praxis_audit
type: aggregate
short_description: Audit trail of every run (who, from where, when, what changed) in the ledger
description:
  - Records every C(ansible-playbook) run in the table C(audit_log) of the ledger, an append-only hash chain
    (see docs/audit.md, C(scripts/praxis-audit verify)).
  - When the first play starts, one C(run_start) record is written at once; who started the run
    (C(awx_user_name) and C(awx_job_id) under AWX, else the invoking user of sudo, C(SUDO_USER), else the
    local user), from where (the controller's host name, the client address of an SSH shell from
    C(SSH_CONNECTION) or C(SSH_CLIENT)), the playbooks, limit, tags, skip tags, check and diff mode, the run
    id (as the ledger rows carry it) and the extra variables with every secret masked (names containing
    password, secret, token, key, pass, credential or psk, every C(vault_) variable, vault-encrypted values,
    the password of a URL).
  - Per host, every task that changed something, failed or could not reach its host; task name, action,
    status and a diff summary (files, lines added and removed), never the diff itself. A C(no_log) task is
    recorded as C((no_log)) only, without its name or diff.
  - The records of a play are written in one transaction when the next play starts or the run ends
    (C(run_end) with the outcome per host); a run that breaks off loses at most its current play.
  - The ledger is the one of the actions; C(praxis_ledger_path), else C(ledger.sqlite) in
    C(praxis_output_dir), else C(output/ledger.sqlite) beside playbooks/, taken from the first play's
    variables. Check mode runs are recorded too (with C(check)).
  - A write waits up to C(praxis_ledger_timeout) seconds for another process's lock on the ledger.
    When the ledger cannot be written, the run goes on and a warning says so; the records stay buffered
    and are written with the next play's.
requirements:
  - enabled in ansible.cfg (C(callbacks_enabled = praxis_audit))
"""

import os

import ansible.module_utils as _ansible_module_utils
from ansible import context
from ansible.plugins.callback import CallbackBase

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_action import ledger_path, play_variables  # noqa: E402
from ansible.module_utils.praxis_audit import AuditRun  # noqa: E402
from ansible.module_utils.praxis_errors import PraxisError  # noqa: E402
from ansible.module_utils.praxis_ledger import TIMEOUT_VARIABLE, run_id, start_run  # noqa: E402


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "praxis_audit"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self.trail: AuditRun | None = None
        self.playbooks: list[str] = []
        self.sites: dict[str, str] = {}
        self.inventory = None

    def _write(self, step) -> None:
        try:
            step()
        except (PraxisError, OSError) as exc:
            self._display.warning(f"praxis_audit: audit trail not written to {self.trail.path}: {exc}")

    # -- the run -----------------------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook) -> None:
        start_run()
        path = getattr(playbook, "_file_name", "") or ""
        if path:
            path = os.path.abspath(path)
            inside = os.path.commonpath([path, os.getcwd()]) == os.getcwd()
            path = os.path.relpath(path) if inside else path   # playbooks/nightly.yml in the project
        self.playbooks.append(path or "?")

    def v2_playbook_on_play_start(self, play) -> None:
        if self.trail is not None:
            self._write(self.trail.flush)      # the previous play's records, in one transaction
            return
        manager = play.get_variable_manager()
        self.inventory = getattr(manager, "_inventory", None)
        extra = dict(manager.extra_vars or {})
        path, timeout = self._ledger(play_variables(play, manager))
        try:
            self.trail = AuditRun(path, run_id(extra.get("awx_job_id"), extra.get("praxis_run_id")), timeout=timeout)
        except PraxisError as exc:          # a bad praxis_ledger_timeout: the default, and say so
            self._display.warning(f"praxis_audit: {exc}")
            self.trail = AuditRun(path, run_id(extra.get("awx_job_id"), extra.get("praxis_run_id")))
        args = context.CLIARGS
        self._write(lambda: self.trail.start(extra_vars=extra, playbooks=self.playbooks, limit=args.get("subset"),
                                             tags=args.get("tags") or (), skip_tags=args.get("skip_tags") or (),
                                             check=bool(args.get("check")), diff=bool(args.get("diff"))))

    @staticmethod
    def _ledger(variable) -> tuple[str, object]:
        """The ledger's path and praxis_ledger_timeout, as the actions resolve them."""
        return ledger_path(variable, variable("playbook_dir")), variable(TIMEOUT_VARIABLE)

    # -- the hosts -----------------------------------------------------------------------------------
    def _site(self, host) -> str:
        name = host.get_name()
        if name not in self.sites:
            sites = sorted(g.get_name()[5:] for g in host.get_groups() if g.get_name().startswith("site_"))
            self.sites[name] = sites[0] if sites else ""
        return self.sites[name]

    def _change(self, result, status: str, ignored: bool = False) -> None:
        if self.trail is None:
            return
        task = result._task
        data = result._result or {}
        self.trail.change(host=result._host.get_name(), site=self._site(result._host), task=task.get_name(),
                          action=str(getattr(task, "action", "") or ""), status=status, result=data,
                          no_log=bool(task.no_log or data.get("_ansible_no_log") or "censored" in data),
                          ignored=ignored)

    def v2_runner_on_ok(self, result) -> None:
        if result._result.get("changed"):
            self._change(result, "changed")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._change(result, "failed", ignored=bool(ignore_errors))

    def v2_runner_on_unreachable(self, result) -> None:
        self._change(result, "unreachable")

    def v2_playbook_on_stats(self, stats) -> None:
        if self.trail is None:
            return
        hosts = {}
        for name in sorted(stats.processed):
            counts = stats.summarize(name)
            if name not in self.sites and self.inventory is not None and self.inventory.get_host(name) is not None:
                self._site(self.inventory.get_host(name))
            hosts[name] = {"site": self.sites.get(name, ""), "ok": counts["ok"], "changed": counts["changed"],
                           "failed": counts["failures"], "unreachable": counts["unreachable"],
                           "skipped": counts["skipped"], "rescued": counts["rescued"], "ignored": counts["ignored"]}
        self._write(lambda: self.trail.end(playbooks=self.playbooks, hosts=hosts))
