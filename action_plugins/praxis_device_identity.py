# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Controller side of praxis_device_identity (documented in library/).

Records the device's SSH host key or TLS certificate on first use and shows
its fingerprint; with ``accept`` (``praxis_identity_accept``) and a reason
(``praxis_force_reason``) replaces a changed one, logging who and why."""

from __future__ import annotations

import os

import ansible.module_utils as _ansible_module_utils

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_action import DeviceAction  # noqa: E402
from ansible.module_utils.praxis_netops import IDENTITY_ARGUMENT_SPEC, device_identity  # noqa: E402


class ActionModule(DeviceAction):
    OPERATION = "device identity"
    SPEC = IDENTITY_ARGUMENT_SPEC

    def fallbacks(self, task_vars):
        return dict(super().fallbacks(task_vars), accept=self.variable(task_vars, "praxis_identity_accept"),
                    reason=self.variable(task_vars, "praxis_force_reason"),
                    backup_store=self.variable(task_vars, "praxis_backup_store"))

    def identity_store(self, args, task_vars, accept=False, reason=""):
        # this task is the record step: unknown identities are recorded whatever praxis_device_identity says
        return super().identity_store(dict(args, identity="record"), task_vars, accept=bool(args.get("accept")),
                                      reason=args.get("reason") or "")

    def operate(self, target, site, args, task_vars):
        return device_identity(target, self.identity, backup_store=args.get("backup_store"))
