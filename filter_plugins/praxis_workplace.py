# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Windows workplace decisions (WP-01, WP-06, WP-11) as filters. The logic
lives in module_utils/praxis_workplace.py; these are thin, documented faces
of it (one .yml per filter beside this file for ansible-doc)."""

from __future__ import annotations

import os

import ansible.module_utils as _ansible_module_utils
from ansible.errors import AnsibleFilterError

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_errors import PraxisError  # noqa: E402
from ansible.module_utils.praxis_workplace import (  # noqa: E402
    health_findings, inventory_record, prereq_verdict,
)


def _call(name, function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except PraxisError as exc:
        raise AnsibleFilterError(f"{name}: {exc}") from None


def praxis_win_prereq(facts, limits=None):
    """WP-01 verdict {fit, reasons, checks} for praxis_win_facts' facts."""
    return _call("praxis_win_prereq", prereq_verdict, facts, limits)


def praxis_win_health_findings(health, site, limits=None, now=None, server=None, services=None,
                               ignore_services=None, ignore_events=None, host="?"):
    """WP-06 findings (praxis_findings shape) for praxis_win_health's health, worst first."""
    return _call("praxis_win_health_findings", health_findings, health, site, limits, now, server=server,
                 services=services, ignore_services=ignore_services, ignore_events=ignore_events, host=host)


def praxis_win_inventory(facts):
    """One WP-11 inventory row from praxis_win_facts' facts."""
    return _call("praxis_win_inventory", inventory_record, facts)


class FilterModule:
    def filters(self):
        return {
            "praxis_win_prereq": praxis_win_prereq,
            "praxis_win_health_findings": praxis_win_health_findings,
            "praxis_win_inventory": praxis_win_inventory,
        }
