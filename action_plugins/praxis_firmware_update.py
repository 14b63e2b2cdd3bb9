# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller side of praxis_firmware_update (documented in library/).

The service calendar is asked here, inside the action, before the device is
touched: an AWX schedule at the wrong time, or a missing ``when:``, cannot
start a firmware update in business hours (NET-04)."""

from __future__ import annotations

import os

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_action import DeviceAction  # noqa: E402
from ansible.module_utils.praxis_backup import AnsibleVaultCipher, BackupError  # noqa: E402
from ansible.module_utils.praxis_netops import config_backup, firmware_update, open_store  # noqa: E402
from ansible.utils.display import Display  # noqa: E402

display = Display()


class ActionModule(DeviceAction):
    OPERATION = "firmware update"
    SPEC = {
        "force_reason": {"type": "str"},
        "budget": {"type": "float", "default": 900.0},
        "poll": {"type": "float", "default": 5.0},
        "backup_store": {"type": "dict"},
        "backup_keep": {"type": "int", "default": 3},
        "thresholds": {"type": "dict", "default": {}},
    }
    DEFAULT_TIMEOUT = 60.0

    def fallbacks(self, task_vars):
        return dict(super().fallbacks(task_vars), backup_store=self.backup_store(task_vars),
                    force_reason=self.variable(task_vars, "praxis_force_reason"))

    def operate(self, target, site, args, task_vars):
        backup = None
        if args.get("backup_store"):
            def backup(driver):
                try:
                    cipher = AnsibleVaultCipher(self.vault_secrets())
                    store = open_store(args["backup_store"], identity=self.identity)
                except BackupError as exc:
                    return {"failed": True, "changed": False, "msg": str(exc)}
                try:
                    return config_backup(target, store, cipher, keep=args["backup_keep"], now=args.get("now"),
                                         ledger=args.get("ledger"), run=args["run"], driver=driver)
                finally:
                    store.close()
        result = firmware_update(target, site, now=args.get("now"), force_reason=args.get("force_reason"),
                                 budget=args["budget"], poll=args["poll"], check_mode=self.check_mode,
                                 backup=backup, ledger=args.get("ledger"), run=args["run"],
                                 history=self.ledger_path, **self.findings_context(target, site, args, task_vars))
        if result.get("guard", {}).get("forced") and result.get("changed"):
            display.warning(result["msg"])
        return result
