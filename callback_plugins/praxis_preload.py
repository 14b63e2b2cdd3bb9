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
  - It prints and changes nothing. A driver whose library is missing is simply not preloaded
    and fails later with its own message.
requirements:
  - enabled in ansible.cfg (C(callbacks_enabled = praxis_preload))
"""

import importlib
import os

import ansible.module_utils as _ansible_module_utils
from ansible.plugins.callback import CallbackBase

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
PRELOAD = ("praxis_netops", "praxis_driver_opnsense", "praxis_driver_synology", "praxis_driver_lancom",
           "praxis_driver_linux", "praxis_action")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "praxis_preload"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_start(self, playbook) -> None:
        if _MODULE_UTILS not in _ansible_module_utils.__path__:
            _ansible_module_utils.__path__.append(_MODULE_UTILS)
        for name in PRELOAD:
            try:
                importlib.import_module(f"ansible.module_utils.{name}")
            except ImportError as exc:
                self._display.vvv(f"praxis_preload: {name} not preloaded: {exc}")
        try:
            import netmiko  # noqa: F401 - LCOS SX driver imports it per session otherwise
        except ImportError:
            pass
