#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_signature_update
short_description: Daily security signature update of a firewall (NET-03)
description:
  - Starts the download of the vendor's security signatures (OPNsense IDS rules) and records the
    signature date in the ledger. Devices whose vendor has no signatures are reported as skipped.
  - Runs on the controller as an action plugin (C(action_plugins/praxis_signature_update.py)).
version_added: "1.0.0"
extends_documentation_fragment:
  - praxis_device
attributes:
  check_mode:
    support: full
    description: Reads the current signature date; downloads nothing.
  diff_mode:
    support: none
    description: The result names the signature date.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Update the security signatures
  praxis_signature_update:
    ledger: "{{ playbook_dir }}/../output/ledger.sqlite"
"""

RETURN = r"""
signature_date:
  description: Date of the signatures on the device after the run (YYYY-MM-DD).
  returned: success
  type: str
msg:
  description: One line naming the device and the signature date.
  returned: always
  type: str
"""
