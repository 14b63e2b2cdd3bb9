#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_device_settings
short_description: Baseline settings of a network device (NET-01, NET-07)
description:
  - "Makes a vendor-neutral settings fragment true on the device: firewall rules and syslog
    forwarding (OPNsense, nftables), WPA3 WLANs (LANCOM LCOS), VLANs, port membership and PoE
    (LANCOM LCOS SX), NAS user accounts (Synology DSM, Samba)."
  - Only items praxisops manages are touched (firewall rules and syslog destinations carry the
    description prefix C(praxisops:)); a second run changes nothing.
  - Keys the vendor cannot do for the device role are listed in RV(unsupported).
  - Runs on the controller as an action plugin (C(action_plugins/praxis_device_settings.py)).
version_added: "1.0.0"
extends_documentation_fragment:
  - praxis_device
options:
  timeout:
    default: 30
  settings:
    description:
      - Keys C(rules), C(syslog), C(vlans), C(ports), C(wlans), C(users); see the role
        network_onboard for their items. PSKs and passwords come from the vault; they are never
        logged or shown in a diff.
    type: dict
    required: true
attributes:
  check_mode:
    support: full
    description: Reads and compares; writes nothing.
  diff_mode:
    support: full
    description: Before and after of the managed items, secrets masked.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Apply the baseline firewall rules
  praxis_device_settings:
    settings:
      rules:
        - {description: block guests to practice, action: block, interface: opt1,
           source_net: 192.168.20.0/24, destination_net: 192.168.10.0/24, sequence: 10}
"""

RETURN = r"""
unsupported:
  description: Settings keys the vendor cannot do for this device role.
  returned: always
  type: list
  elements: str
msg:
  description: One line naming the device and what changed.
  returned: always
  type: str
"""
