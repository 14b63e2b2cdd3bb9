# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Service calendar filters (OPS-01, NET-04). The logic lives in
module_utils/praxis_calendar.py; these are thin, documented faces of it
(one .yml per filter beside this file for ansible-doc)."""

from __future__ import annotations

import os

import ansible.module_utils as _ansible_module_utils
from ansible.errors import AnsibleFilterError

_MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _MODULE_UTILS not in _ansible_module_utils.__path__:
    _ansible_module_utils.__path__.append(_MODULE_UTILS)

from ansible.module_utils.praxis_calendar import CalendarError, SiteCalendar  # noqa: E402


def _calendar(name, site):
    try:
        return SiteCalendar(site)
    except CalendarError as exc:
        raise AnsibleFilterError(f"{name}: {exc}") from None


def _call(name, site, method, *args):
    calendar = _calendar(name, site)
    try:
        return getattr(calendar, method)(*args)
    except CalendarError as exc:
        raise AnsibleFilterError(f"{name}: {exc}") from None


def praxis_business_time(timestamp, site):
    """True when the timestamp falls into the practice's business time."""
    return _call("praxis_business_time", site, "business_time", timestamp)


def praxis_maintenance_time(timestamp, site):
    """True when disruptive work may run at the timestamp."""
    return _call("praxis_maintenance_time", site, "maintenance_time", timestamp)


def praxis_next_maintenance_window(timestamp, site):
    """{'start': ISO, 'end': ISO} of the window containing or following the timestamp, or None."""
    window = _call("praxis_next_maintenance_window", site, "next_maintenance_window", timestamp)
    if window is None:
        return None
    return {"start": window[0].isoformat(), "end": window[1].isoformat()}


def praxis_calendar_state(timestamp, site):
    """Everything the calendar says about one instant (business/maintenance time, reason, holiday, next window)."""
    return _call("praxis_calendar_state", site, "explain", timestamp)


def praxis_working_days(start, end, site):
    """Whole working days of the practice lying between two timestamps."""
    return _call("praxis_working_days", site, "working_days_between", start, end)


class FilterModule:
    def filters(self):
        return {
            "praxis_business_time": praxis_business_time,
            "praxis_maintenance_time": praxis_maintenance_time,
            "praxis_next_maintenance_window": praxis_next_maintenance_window,
            "praxis_working_days": praxis_working_days,
            "praxis_calendar_state": praxis_calendar_state,
        }
