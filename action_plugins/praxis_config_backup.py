# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller side of praxis_config_backup (documented in library/).

Encrypts with the vault secret the play was started with, so the copies
open with ``ansible-vault view`` and the password never reaches a module."""

from __future__ import annotations

import os

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_action import DeviceAction  # noqa: E402
from ansible.module_utils.praxis_backup import AnsibleVaultCipher, BackupError  # noqa: E402
from ansible.module_utils.praxis_netops import config_backup, open_store  # noqa: E402

BACKUP_SPEC = {
    "store": {"type": "dict", "required": True},  # filled from praxis_backup_store when left out
    "keep": {"type": "int", "default": 3},
    "show_diff": {"type": "bool", "default": True},
}


class ActionModule(DeviceAction):
    OPERATION = "configuration backup"
    SPEC = BACKUP_SPEC
    DEFAULT_TIMEOUT = 60.0

    def fallbacks(self, task_vars):
        return dict(super().fallbacks(task_vars), store=self.backup_store(task_vars))

    def operate(self, target, site, args, task_vars):
        if args["keep"] < 1:
            return {"failed": True, "changed": False, "msg": f"keep must be at least 1, got {args['keep']}"}
        try:
            cipher = AnsibleVaultCipher(self.vault_secrets())
            store = open_store(args["store"], identity=self.identity)
        except BackupError as exc:
            return {"failed": True, "changed": False, "msg": f"{target.host}: {exc}"}
        try:
            result = config_backup(target, store, cipher, keep=args["keep"], check_mode=self.check_mode,
                                   now=args.get("now"), ledger=args.get("ledger"), run=args["run"],
                                   history=self.ledger_path, **self.findings_context(target, site, args, task_vars))
        finally:
            store.close()
        diff_text = result.pop("diff", "")
        if self._task.diff and args["show_diff"] and diff_text:
            result["diff"] = {"prepared": diff_text}
        return result
