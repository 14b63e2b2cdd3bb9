# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""The one root of praxisops' own errors.

Every error the project raises for bad input or a state it cannot work with
(a site file, a calendar, a ledger, an operation's options, a threshold, a
Windows result, an escrow file) derives from ``PraxisError``. The actions'
common base (``praxis_action.PraxisAction``) turns any of them into a failed
result that names the host and the operation, instead of Ansible's generic
"Unexpected failure during module execution"; the message of the error says
what to fix.

Driver errors (``praxis_driver.DriverError``) are not bad input but a device
that does not answer as it should; the operations report them as results.
"""

from __future__ import annotations


class PraxisError(Exception):
    """Bad input or an unusable state; the message names the field, value or
    file and what to fix."""
