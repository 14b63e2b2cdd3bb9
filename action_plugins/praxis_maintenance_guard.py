# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller-side face of the service calendar guard (documented in
library/praxis_maintenance_guard.py). Runs on the controller: no module
process per host."""

from __future__ import annotations

import os

import ansible.module_utils as _ansible_module_utils
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_calendar import (  # noqa: E402
    CalendarError, check_disruptive, refusal_message,
)

display = Display()

ARGUMENT_SPEC = {
    "site": {"type": "dict", "required": True},
    "device": {"type": "dict"},
    "now": {"type": "str"},
    "force_reason": {"type": "str"},
    "action": {"type": "str", "default": "disruptive work"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            info = check_disruptive(args["site"], args.get("now"), args.get("force_reason"), args.get("device"))
        except CalendarError as exc:
            result.update(failed=True, msg=f"praxis_maintenance_guard: {exc}")
            return result
        result.update(info)
        result["changed"] = False
        action = args["action"]
        if info["forced"]:
            result["msg"] = (f"{action} forced outside maintenance time for site {info['site']} "
                             f"({info['reason']}); reason given: {info['force_reason']}")
            display.warning(f"{task_vars.get('inventory_hostname', '?')}: {result['msg']}")
        elif info["allowed"]:
            window = info["next_window"]
            result["msg"] = f"{action} allowed: maintenance time until {window['end'] if window else '?'}"
        else:
            result["msg"] = refusal_message(info, action)
        return result
