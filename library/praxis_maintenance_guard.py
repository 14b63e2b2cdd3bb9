#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
#
# Documentation only, as for the modules of ansible-core that are action plugins: the action
# plugin of the same name (action_plugins/) runs the task on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: praxis_maintenance_guard
short_description: Decide whether disruptive work may run on a practice now
description:
  - Evaluates the practice's service calendar (business hours, public holidays of the
    federal state, maintenance windows, the Mon-Fri 08:00-17:00 hard floor of NET-04)
    for one instant and tells whether disruptive work (firmware, reboots, patch installs)
    may run.
  - Runs on the controller as an action plugin; never contacts the host.
  - A technician may override a refusal with O(force_reason); the result then has
    RV(forced=true) and the reason, which the audit log records.
version_added: "1.0.0"
options:
  site:
    description: The site, normally C(praxis_site) from the praxisops inventory.
    type: dict
    required: true
  device:
    description:
      - The device the work is for, normally C(praxis_device). A server's own
        C(maintenance_windows) then narrow the site's; the work is allowed only in the
        site's maintenance time inside one of the server's windows.
      - Devices without own windows (every role but servers) change nothing.
    type: dict
  now:
    description: The instant to judge, ISO-8601 with UTC offset. Default the current time.
    type: str
  force_reason:
    description: Why disruptive work must run outside maintenance time. Empty means no override.
    type: str
  action:
    description: What is about to happen, for the message.
    type: str
    default: disruptive work
attributes:
  check_mode:
    support: full
    description: Read-only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
author: praxisops contributors
"""

EXAMPLES = r"""
- name: Check the service calendar before a firmware update
  praxis_maintenance_guard:
    site: "{{ praxis_site }}"
    now: "{{ praxis_now | default(omit) }}"
    force_reason: "{{ praxis_force_reason | default(omit) }}"
    action: firmware update
  register: guard

- name: Reboot a server only inside its own window and the practice's maintenance time
  praxis_maintenance_guard:
    site: "{{ praxis_site }}"
    device: "{{ praxis_device }}"
    action: reboot
  register: guard
"""

RETURN = r"""
allowed:
  description: Whether the work may run (maintenance time, or forced with a reason).
  returned: success
  type: bool
maintenance_time:
  description: Whether the instant is maintenance time.
  returned: success
  type: bool
business_time:
  description: Whether the instant is business time of the practice.
  returned: success
  type: bool
reason:
  description: Why the instant is or is not maintenance time.
  returned: success
  type: str
  sample: business hours of the practice
holiday:
  description: Name of the public holiday that day, or null.
  returned: success
  type: str
next_window:
  description: Start and end (ISO-8601, site time) of the window containing or following the instant.
  returned: success
  type: dict
  sample: {"start": "2026-11-24T18:01:00+01:00", "end": "2026-11-25T08:00:00+01:00"}
now:
  description: The instant judged, in the site's time zone.
  returned: success
  type: str
site:
  description: Site id.
  returned: success
  type: str
device:
  description: Name of the device of O(device), or null.
  returned: success
  type: str
forced:
  description: True when the work runs outside maintenance time because of O(force_reason).
  returned: success
  type: bool
force_reason:
  description: The reason given, or null.
  returned: success
  type: str
msg:
  description: One sentence for the technician, naming the next window on a refusal.
  returned: always
  type: str
"""
