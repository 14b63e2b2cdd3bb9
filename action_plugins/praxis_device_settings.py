# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller side of praxis_device_settings (documented in library/)."""

from __future__ import annotations

import os

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_action import DeviceAction  # noqa: E402
from ansible.module_utils.praxis_netops import device_settings  # noqa: E402


class ActionModule(DeviceAction):
    OPERATION = "device settings"
    DEFAULT_TIMEOUT = 30.0
    SPEC = {
        # holds WLAN PSKs and NAS passwords from the vault: never logged
        "settings": {"type": "dict", "required": True, "no_log": True},
    }

    def operate(self, target, site, args, task_vars):
        settings = dict(args["settings"])
        if settings.get("wlans"):
            settings["wlans"] = self.resolve_vault_refs(settings["wlans"], "psk", task_vars, "WLAN")
        if settings.get("users"):
            settings["users"] = self.resolve_vault_refs(settings["users"], "password", task_vars, "NAS user")
        result = device_settings(target, settings, check_mode=self.check_mode, now=args.get("now"),
                                 ledger=args.get("ledger"), run=args["run"])
        if not self._task.diff:
            result.pop("diff", None)
        return result
