# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Fleet benchmark, variant ``module``: praxis_device_facts as a module process.

bench_fleet.py links this file as ``praxis_device_facts.py`` into the action
plugin folder of the module variant (with ``praxis_signature_update`` beside
it). It completes the task's options exactly as the product's action plugin
does (``DeviceAction.arguments``: the task's options, then the project-wide
variables ``praxis_ledger_path``, ``praxis_output_dir``, ``praxis_run_id``,
``praxis_device_timeout``, ... and the defaults, including the facts folder
under ``praxis_output_dir``), adds the device, the practice and the vault
credentials the action plugin reads from the task variables, and then ships
``library/praxis_device_facts.py`` (AnsiballZ) to a Python process of its own,
which does the device work: the drivers, the facts file and the ledger row.

So the module gets the same options the action plugin would use, from the same
code; a project-wide variable added to the action plugin later reaches the
module too. The difference measured is only where the device work runs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

_ROOT = Path(__file__).resolve().parents[3]          # the link resolves into bench/fleet/module_action/
_PRODUCT = _ROOT / "action_plugins" / "praxis_device_facts.py"
_spec = importlib.util.spec_from_file_location("praxis_fleet_bench_product_device_facts", _PRODUCT)
_product = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_product)

MODULE = "praxis_device_facts"


class ActionModule(_product.ActionModule):
    """The product's argument handling, then the module instead of the in-process operation."""

    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = ActionBase.run(self, tmp, task_vars)
        module_args = self.module_arguments(task_vars)
        result = merge_hash(result, self._execute_module(module_name=MODULE, module_args=module_args,
                                                         task_vars=task_vars))
        self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def module_arguments(self, task_vars):
        """``arguments()`` of the action plugin plus device, site and credentials."""
        args = self.arguments(task_vars)
        host = task_vars.get("inventory_hostname", "?")
        device = args.get("device") or task_vars.get("praxis_device")
        site = args.get("site") or task_vars.get("praxis_site")
        if not device or not site:
            raise AnsibleActionFail(f"{host} is not a praxisops device: praxis_device / praxis_site missing")
        credentials = args.get("credentials")
        if credentials is None:
            name = device.get("credentials")
            if name not in task_vars:
                raise AnsibleActionFail(f"vault variable {name} of {host} is not defined")
            credentials = self._templar.template(task_vars[name])
        args.update(device=device, site=site, credentials=credentials)
        return {key: value for key, value in args.items() if value is not None}
