# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: praxis_preload
type: aggregate
short_description: Load the device operation code once, before the workers start
description:
  - Ansible runs every host-task in a worker process forked from the controller. The network
    device operations (action plugins C(praxis_*)) need the service calendar with its holiday
    tables, the backup vault and the vendor drivers with paramiko and netmiko, about one second
    of imports. Loaded in each worker, that second would be paid again for every device and task.
  - This callback imports that code once in the controller process when a playbook starts, so
    every forked worker finds it loaded (bench/fleet measures the difference).
  - Likewise the Jinja filter and test plugins, which a worker otherwise loads from every
    plugin file (about 0.1 s) the first time a task's template uses a filter such as
    C(default). They are loaded at the start of each play, after the play's roles and
    plugin folders are known (a no-op when nothing was added since the last play); a folder
    added later clears Ansible's cache and the workers load the plugins themselves, as
    without this callback.
  - It also makes the run id of the invocation (C(praxis_ledger.start_run)) before any worker is
    forked, so every worker records the same id in the ledger when neither C(awx_job_id) nor
    C(praxis_run_id) is set.
  - It prints and changes nothing. A driver whose library is missing is simply not preloaded
    and fails later with its own message.
requirements:
  - enabled in ansible.cfg (C(callbacks_enabled = praxis_preload))
"""

import importlib
import os

import ansible.module_utils as _ansible_module_utils
from ansible.plugins.callback import CallbackBase
from ansible.plugins.loader import filter_loader, test_loader

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(__file__))), "module_utils")
# praxis_netops and praxis_action; the driver modules are read from praxis_driver.DRIVER_MODULES
PRELOAD = ("praxis_netops", "praxis_action")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "praxis_preload"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook) -> None:
        if _MODULE_UTILS not in _ansible_module_utils.__path__:
            _ansible_module_utils.__path__.append(_MODULE_UTILS)
        try:
            from ansible.module_utils.praxis_ledger import start_run

            start_run()
        except ImportError as exc:
            self._display.vvv(f"praxis_preload: no run id generated: {exc}")
        try:
            from ansible.module_utils.praxis_driver import DRIVER_MODULES
        except ImportError as exc:
            self._display.vvv(f"praxis_preload: no driver preloaded: {exc}")
            DRIVER_MODULES = ()  # noqa: N806
        for name in (*PRELOAD, *DRIVER_MODULES):
            try:
                importlib.import_module(f"ansible.module_utils.{name}")
            except ImportError as exc:
                self._display.vvv(f"praxis_preload: {name} not preloaded: {exc}")
        try:
            import netmiko  # noqa: F401 - LCOS SX driver imports it per session otherwise
        except ImportError:
            pass

    def v2_playbook_on_play_start(self, play) -> None:
        for loader in (filter_loader, test_loader):
            try:
                for _plugin in loader.all():
                    pass
            except Exception as exc:  # noqa: BLE001 - a broken plugin file is the worker's error to report
                self._display.vvv(f"praxis_preload: {loader.type} plugins not preloaded: {exc}")
