# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller side of praxis_device_facts (documented in library/)."""

from __future__ import annotations

import os

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_action import DeviceAction  # noqa: E402
from ansible.module_utils.praxis_netops import FACTS_ARGUMENT_SPEC, device_facts  # noqa: E402


class ActionModule(DeviceAction):
    OPERATION = "device facts"
    SPEC = FACTS_ARGUMENT_SPEC

    def fallbacks(self, task_vars):
        return dict(super().fallbacks(task_vars), facts_dir=self.output_path(task_vars, "facts"))

    def operate(self, target, site, args, task_vars):
        result = device_facts(target, now=args.get("now"), facts_dir=args.get("facts_dir"),
                              ledger=args.get("ledger"), run=args["run"], fail_on=args["fail_on"],
                              check_mode=self.check_mode, **self.findings_context(target, site, args, task_vars))
        if "facts" in result:
            result["ansible_facts"] = {"praxis_device_facts": result["facts"]}
        return result
