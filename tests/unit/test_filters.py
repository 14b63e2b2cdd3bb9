"""Calendar filters: results and errors that name the filter and the value."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("praxis_calendar_filters", ROOT / "filter_plugins" / "praxis_calendar.py")
filters_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(filters_module)
FILTERS = filters_module.FilterModule().filters()
SITE = {"id": "huber", "state": "BY"}


@pytest.mark.parametrize(("name", "args", "expected"), [
    ("praxis_business_time", ("2026-11-24T10:00:00+01:00", SITE), True),
    ("praxis_business_time", ("2026-11-24T18:01:00+01:00", SITE), False),
    ("praxis_maintenance_time", ("2026-11-24T18:01:00+01:00", SITE), True),
    ("praxis_maintenance_time", ("2026-01-06T10:00:00+01:00", SITE), True),
    ("praxis_next_maintenance_window", ("2026-11-24T10:00:00+01:00", SITE),
     {"start": "2026-11-24T18:01:00+01:00", "end": "2026-11-25T08:00:00+01:00"}),
    ("praxis_working_days", ("2026-11-20T10:00:00+01:00", "2026-11-27T10:00:00+01:00", SITE), 4),
])
def test_filter_results(name, args, expected):
    assert FILTERS[name](*args) == expected


def test_calendar_state_has_every_key():
    state = FILTERS["praxis_calendar_state"]("2026-01-06T10:00:00+01:00", SITE)
    assert state["holiday"] == "Heilige Drei Könige"
    assert state["maintenance_time"] is True and state["business_time"] is False
    assert set(state) == {"site", "now", "business_time", "maintenance_time", "reason", "holiday", "closure", "device",
                          "next_window"}


@pytest.mark.parametrize(("name", "args", "message"), [
    ("praxis_business_time", ("2026-11-24 10:00", SITE),
     "praxis_business_time: timestamp '2026-11-24 10:00' has no UTC"),
    ("praxis_maintenance_time", ("2026-11-24T10:00:00+01:00", {"id": "x", "state": "DE"}),
     "praxis_maintenance_time: site x: state 'DE'"),
    ("praxis_next_maintenance_window", ("soon", SITE), "praxis_next_maintenance_window: timestamp 'soon'"),
    ("praxis_working_days", ("2026-11-24T10:00:00+01:00", 5, SITE), "praxis_working_days: timestamp must be"),
    ("praxis_calendar_state", ("2026-11-24T10:00:00+01:00", None), "praxis_calendar_state: site must be a mapping"),
])
def test_filter_errors(name, args, message):
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS[name](*args)
    assert message in str(info.value)
