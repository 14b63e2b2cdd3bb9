# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller side of praxis_signature_update (documented in library/)."""

from __future__ import annotations

import os

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_action import DeviceAction  # noqa: E402
from ansible.module_utils.praxis_netops import signature_update  # noqa: E402


class ActionModule(DeviceAction):
    OPERATION = "signature update"

    def operate(self, target, site, args, task_vars):
        return signature_update(target, check_mode=self.check_mode, now=args.get("now"), ledger=args.get("ledger"),
                                run=args["run"], **self.findings_context(target, site, args, task_vars))
