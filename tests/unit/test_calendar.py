"""Service calendar (OPS-01, NET-04): tables of instants and a property test."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ansible.module_utils.praxis_calendar import (
    STATES, CalendarError, SiteCalendar, check_disruptive, parse_timestamp, refusal_message,
)

BAVARIA = {"id": "huber", "state": "BY"}
NRW_WED_CLOSED = {
    "id": "schmidt", "state": "NW",
    "business_hours": {"mon": ["08:00-18:00"], "tue": ["08:00-18:00"], "wed": ["08:00-13:00"],
                       "thu": ["08:00-18:00"], "fri": ["08:00-18:00"]},
}
BERLIN_NIGHTS = {
    "id": "wagner", "state": "BE",
    "maintenance_windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "22:00", "end": "05:00"},
                            {"days": ["sat"], "start": "07:00", "end": "12:00"}],
}
# a site that misconfigures its windows: open all day, every day
ALWAYS_WINDOW = {
    "id": "misconfigured", "state": "BY",
    "business_hours": {"mon": ["08:00-09:00"]},
    "maintenance_windows": [{"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                             "start": "00:00", "end": "24:00"}],
}


@pytest.mark.parametrize(("site", "instant", "business", "maintenance"), [
    # 17:59 / 18:00 / 18:01 on a Tuesday (OPS-01: maintenance from 18:01)
    (BAVARIA, "2026-11-24T17:59:00+01:00", True, False),
    (BAVARIA, "2026-11-24T18:00:00+01:00", True, False),
    (BAVARIA, "2026-11-24T18:00:59+01:00", True, False),
    (BAVARIA, "2026-11-24T18:01:00+01:00", False, True),
    (BAVARIA, "2026-11-24T07:59:00+01:00", False, True),
    (BAVARIA, "2026-11-24T08:00:00+01:00", True, False),
    # the same instants in UTC
    (BAVARIA, "2026-11-24T17:00:00Z", True, False),
    (BAVARIA, "2026-11-24T17:01:00Z", False, True),
    # weekend
    (BAVARIA, "2026-11-28T10:00:00+01:00", False, True),
    (BAVARIA, "2026-11-29T14:00:00+01:00", False, True),
    # Epiphany (Tue 6 Jan 2026) is a holiday in Bavaria, not in North Rhine-Westphalia
    (BAVARIA, "2026-01-06T10:00:00+01:00", False, True),
    (NRW_WED_CLOSED, "2026-01-06T10:00:00+01:00", True, False),
    # Corpus Christi (Thu 4 Jun 2026): Bavaria yes, Berlin no
    (BAVARIA, "2026-06-04T11:00:00+02:00", False, True),
    ({"id": "berlin", "state": "BE"}, "2026-06-04T11:00:00+02:00", True, False),
    # nationwide: Labour Day (Fri 1 May 2026), Christmas (Fri 25 Dec 2026)
    (NRW_WED_CLOSED, "2026-05-01T10:00:00+02:00", False, True),
    (BERLIN_NIGHTS, "2026-12-25T23:00:00+01:00", False, True),
    # Wednesday closure: 13:00 still open, afternoon closed but under the hard floor until 17:00
    (NRW_WED_CLOSED, "2026-11-25T13:00:00+01:00", True, False),
    (NRW_WED_CLOSED, "2026-11-25T13:01:00+01:00", False, False),
    (NRW_WED_CLOSED, "2026-11-25T17:00:00+01:00", False, False),
    (NRW_WED_CLOSED, "2026-11-25T17:01:00+01:00", False, True),
    # windows crossing midnight
    (BERLIN_NIGHTS, "2026-11-27T21:59:00+01:00", False, False),
    (BERLIN_NIGHTS, "2026-11-27T22:00:00+01:00", False, True),
    (BERLIN_NIGHTS, "2026-11-28T04:59:00+01:00", False, True),   # Friday's window, on Saturday
    (BERLIN_NIGHTS, "2026-11-28T05:00:00+01:00", False, False),
    (BERLIN_NIGHTS, "2026-11-28T07:00:00+01:00", False, True),
    (BERLIN_NIGHTS, "2026-11-30T02:00:00+01:00", False, False),  # no window starts on Sunday
    (BERLIN_NIGHTS, "2026-12-01T02:00:00+01:00", False, True),   # Monday's window
    # hard floor holds for a misconfigured site
    (ALWAYS_WINDOW, "2026-11-24T10:00:00+01:00", False, False),
    (ALWAYS_WINDOW, "2026-11-24T17:00:00+01:00", False, False),
    (ALWAYS_WINDOW, "2026-11-24T17:01:00+01:00", False, True),
    (ALWAYS_WINDOW, "2026-11-24T07:59:00+01:00", False, True),
    (ALWAYS_WINDOW, "2026-01-06T10:00:00+01:00", False, True),   # holiday lifts the floor
    # daylight saving: spring forward (29 Mar 2026), fall back (25 Oct 2026)
    (BAVARIA, "2026-03-29T01:59:00+01:00", False, True),
    (BAVARIA, "2026-03-29T03:00:00+02:00", False, True),
    (BAVARIA, "2026-03-30T07:59:00+02:00", False, True),
    (BAVARIA, "2026-03-30T06:00:00Z", True, False),              # 08:00 CEST
    (BAVARIA, "2026-03-30T06:59:00Z", True, False),
    (BAVARIA, "2026-03-27T17:00:00Z", True, False),              # 18:00 CET, Friday before
    (BAVARIA, "2026-10-26T07:00:00Z", True, False),              # 08:00 CET after fall back
    (BAVARIA, "2026-10-26T06:59:00Z", False, True),
    (BAVARIA, "2026-10-23T16:01:00Z", False, True),              # 18:01 CEST
])
def test_business_and_maintenance_time(site, instant, business, maintenance):
    calendar = SiteCalendar(site)
    assert calendar.business_time(instant) is business
    assert calendar.maintenance_time(instant) is maintenance


@pytest.mark.parametrize(("site", "instant", "start", "end"), [
    (BAVARIA, "2026-11-24T10:00:00+01:00", "2026-11-24T18:01:00+01:00", "2026-11-25T08:00:00+01:00"),
    # inside a window: the window that contains the instant
    (BAVARIA, "2026-11-24T23:00:00+01:00", "2026-11-24T18:01:00+01:00", "2026-11-25T08:00:00+01:00"),
    # Friday evening to Monday morning across the spring change
    (BAVARIA, "2026-03-27T12:00:00+01:00", "2026-03-27T18:01:00+01:00", "2026-03-30T08:00:00+02:00"),
    # and across the autumn change
    (BAVARIA, "2026-10-23T12:00:00+02:00", "2026-10-23T18:01:00+02:00", "2026-10-26T08:00:00+01:00"),
    # Epiphany Tuesday joins Monday evening and Wednesday morning
    (BAVARIA, "2026-01-05T10:00:00+01:00", "2026-01-05T18:01:00+01:00", "2026-01-07T08:00:00+01:00"),
    # Wednesday closure: after the floor
    (NRW_WED_CLOSED, "2026-11-25T14:00:00+01:00", "2026-11-25T17:01:00+01:00", "2026-11-26T08:00:00+01:00"),
    # custom windows: Saturday 10:00 -> Saturday window running
    (BERLIN_NIGHTS, "2026-11-28T10:00:00+01:00", "2026-11-28T07:00:00+01:00", "2026-11-28T12:00:00+01:00"),
    # Saturday 13:00 -> Monday night
    (BERLIN_NIGHTS, "2026-11-28T13:00:00+01:00", "2026-11-30T22:00:00+01:00", "2026-12-01T05:00:00+01:00"),
    # Tue 10:00 (the instant in the firmware refusal of NET-04)
    (BERLIN_NIGHTS, "2026-11-24T10:00:00+01:00", "2026-11-24T22:00:00+01:00", "2026-11-25T05:00:00+01:00"),
])
def test_next_maintenance_window(site, instant, start, end):
    window = SiteCalendar(site).next_maintenance_window(instant)
    assert window is not None
    assert (window[0].isoformat(), window[1].isoformat()) == (start, end)


def test_no_window_within_horizon():
    site = {"id": "never", "state": "BY",
            "business_hours": {d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}
    assert SiteCalendar(site).next_maintenance_window("2026-11-24T10:00:00+01:00") is None


@pytest.mark.parametrize(("site", "start", "end", "days"), [
    # Fri -> Wed; Mon whole; Tue 6 Jan is a holiday in Bavaria only
    (BAVARIA, "2026-01-02T10:00:00+01:00", "2026-01-07T09:00:00+01:00", 1),
    (NRW_WED_CLOSED, "2026-01-02T10:00:00+01:00", "2026-01-07T09:00:00+01:00", 2),
    (BAVARIA, "2026-11-23T10:00:00+01:00", "2026-11-24T09:00:00+01:00", 0),
    (BAVARIA, "2026-11-20T10:00:00+01:00", "2026-11-27T10:00:00+01:00", 4),
    (BAVARIA, "2026-11-27T10:00:00+01:00", "2026-11-20T10:00:00+01:00", 0),   # end before start
    (BAVARIA, "2026-12-23T12:00:00+01:00", "2027-01-04T12:00:00+01:00", 5),   # 24, 28-31 Dec
])
def test_working_days(site, start, end, days):
    assert SiteCalendar(site).working_days_between(start, end) == days


@pytest.mark.parametrize(("site", "message"), [
    ({"id": "x", "state": "XX"}, "state 'XX' is not a German federal state"),
    ({"id": "x", "state": "BY", "timezone": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"id": "x", "state": "BY", "business_hours": {"mo": ["08:00-18:00"]}}, "unknown weekday 'mo'"),
    ({"id": "x", "state": "BY", "business_hours": {"mon": ["18:00-08:00"]}}, "ends before it starts"),
    ({"id": "x", "state": "BY", "business_hours": {"mon": ["8-18"]}}, "'8' is not a time HH:MM"),
    ({"id": "x", "state": "BY", "maintenance_windows": [{"days": [], "start": "22:00", "end": "05:00"}]},
     "maintenance_windows[0].days must list"),
    ({"id": "x", "state": "BY", "maintenance_windows": [{"days": ["mon"], "start": "25:00", "end": "05:00"}]},
     "maintenance_windows[0].start: '25:00' is not a time"),
    ("not a dict", "site must be a mapping"),
])
def test_bad_calendar_data(site, message):
    with pytest.raises(CalendarError, match=None) as info:
        SiteCalendar(site)
    assert message in str(info.value)


@pytest.mark.parametrize(("value", "message"), [
    ("2026-11-24T10:00:00", "has no UTC offset"),
    ("tomorrow", "is not an ISO-8601 timestamp"),
    ("", "must be an ISO-8601 string"),
    (None, "must be an ISO-8601 string"),
    (dt.datetime(2026, 1, 1, 10, 0), "has no UTC offset"),
])
def test_bad_timestamps(value, message):
    with pytest.raises(CalendarError) as info:
        parse_timestamp(value, "praxis_now")
    assert message in str(info.value)
    assert "praxis_now" in str(info.value)


def test_guard_refuses_and_names_next_window():
    info = check_disruptive(BERLIN_NIGHTS, "2026-11-24T10:00:00+01:00")
    assert info["allowed"] is False and info["forced"] is False
    message = refusal_message(info, "firmware update")
    assert "firmware update refused for site wagner" in message
    assert "2026-11-24T22:00:00+01:00" in message


def test_guard_force_reason():
    info = check_disruptive(BAVARIA, "2026-11-24T10:00:00+01:00", force_reason="  critical CVE, owner agreed ")
    assert info["allowed"] is True and info["forced"] is True
    assert info["force_reason"] == "critical CVE, owner agreed"
    blank = check_disruptive(BAVARIA, "2026-11-24T10:00:00+01:00", force_reason="   ")
    assert blank["allowed"] is False and blank["force_reason"] is None


def test_guard_in_maintenance_time_is_not_forced():
    info = check_disruptive(BAVARIA, "2026-11-24T22:00:00+01:00", force_reason="not needed")
    assert info["allowed"] is True and info["forced"] is False


# -- property: NET-04's working hours are never maintenance time ----------------------
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
hhmm = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
windows = st.lists(st.fixed_dictionaries({
    "days": st.lists(st.sampled_from(DAY_NAMES), min_size=1, max_size=7, unique=True),
    "start": hhmm, "end": hhmm}), max_size=3)
hours = st.dictionaries(st.sampled_from(DAY_NAMES),
                        st.lists(st.sampled_from(["08:00-09:00", "10:00-12:00", "13:00-13:30", "20:00-22:00"]),
                                 max_size=2), max_size=7)
instants = st.datetimes(min_value=dt.datetime(2024, 1, 1), max_value=dt.datetime(2030, 12, 31),
                        timezones=st.just(ZoneInfo("Europe/Berlin")))


@settings(max_examples=400, deadline=None)
@given(state=st.sampled_from(STATES), maintenance_windows=windows, business_hours=hours, instant=instants)
def test_working_hours_never_maintenance_time(state, maintenance_windows, business_hours, instant):
    site = {"id": "p", "state": state, "maintenance_windows": maintenance_windows, "business_hours": business_hours}
    calendar = SiteCalendar(site)
    local = instant.astimezone(ZoneInfo("Europe/Berlin"))
    working_day = local.weekday() < 5 and calendar.holiday(local.date()) is None
    minute = local.hour * 60 + local.minute
    if working_day and 8 * 60 <= minute <= 17 * 60:
        assert not calendar.maintenance_time(instant)


@settings(max_examples=60, deadline=None)
@given(state=st.sampled_from(STATES), maintenance_windows=windows, instant=instants)
# the spring-forward night: 02:00 does not exist on 31 March 2024, so the window
# edges move to 03:00 and the minute before them is 01:59 (found by Hypothesis)
@example(state="BB", maintenance_windows=[{"days": ["mon"], "start": "00:00", "end": "00:00"},
                                          {"days": ["mon", "tue", "wed", "sun"], "start": "02:00", "end": "00:00"}],
         instant=dt.datetime(2024, 3, 28, 0, 0, tzinfo=ZoneInfo("Europe/Berlin")))
@example(state="BB", maintenance_windows=[{"days": ["mon"], "start": "00:00", "end": "00:00"},
                                          {"days": ["mon", "tue", "wed", "sun"], "start": "00:00", "end": "02:00"}],
         instant=dt.datetime(2024, 3, 28, 0, 0, tzinfo=ZoneInfo("Europe/Berlin")))
def test_next_window_is_maintenance_time_throughout_its_edges(state, maintenance_windows, instant):
    calendar = SiteCalendar({"id": "p", "state": state, "maintenance_windows": maintenance_windows})
    window = calendar.next_maintenance_window(instant)
    if window is None:
        return
    # the minute before an edge in elapsed time: arithmetic on aware local times is
    # wall-clock arithmetic and lands in the hour that does not exist at a DST change
    start, end = (edge.astimezone(dt.timezone.utc) for edge in window)
    minute = dt.timedelta(minutes=1)
    assert start < end
    assert calendar.maintenance_time(start)
    assert calendar.maintenance_time(end - minute)
    assert not calendar.maintenance_time(end)
    if start > instant:
        assert not calendar.maintenance_time(start - minute)


# -- closures and holiday corrections ----------------------------------------------------
CLOSING = dict(BAVARIA, closures=[
    {"date": "12-24", "reason": "Heiligabend"},
    {"date": "12-31", "reason": "Silvester"},
    {"date": "2026-05-15", "reason": "Brückentag"},
    {"from": "2026-08-03", "to": "2026-08-14", "reason": "Praxisurlaub"},
    {"from": "12-28", "to": "01-02", "reason": "zwischen den Jahren"},
])


@pytest.mark.parametrize(("site", "instant", "business", "maintenance"), [
    # by default 24 and 31 December are ordinary days: business time, the floor holds
    (BAVARIA, "2026-12-24T10:00:00+01:00", True, False),
    (BAVARIA, "2026-12-31T16:00:00+01:00", True, False),
    # closed: maintenance time all day, the floor does not apply
    (CLOSING, "2026-12-24T10:00:00+01:00", False, True),
    (CLOSING, "2027-12-24T10:00:00+01:00", False, True),              # every year
    (CLOSING, "2026-12-31T16:00:00+01:00", False, True),
    (CLOSING, "2026-05-15T09:00:00+02:00", False, True),              # bridge day after Ascension
    (CLOSING, "2027-05-14T09:00:00+02:00", True, False),              # a one-off closure does not recur
    (CLOSING, "2026-08-03T08:00:00+02:00", False, True),              # first day of the range
    (CLOSING, "2026-08-14T17:00:00+02:00", False, True),              # last day, included
    (CLOSING, "2026-08-17T10:00:00+02:00", True, False),              # back at work
    (CLOSING, "2027-01-01T10:00:00+01:00", False, True),              # New Year (holiday anyway)
    (CLOSING, "2027-01-02T10:00:00+01:00", False, True),              # Saturday inside the range
    (CLOSING, "2026-01-02T10:00:00+01:00", False, True),              # range from the year before
    (CLOSING, "2026-01-05T10:00:00+01:00", True, False),              # after it
    # a closure day still keeps to the site's maintenance windows
    (dict(BERLIN_NIGHTS, closures=[{"date": "12-24", "reason": "Heiligabend"}]),
     "2026-12-24T10:00:00+01:00", False, False),
    (dict(BERLIN_NIGHTS, closures=[{"date": "12-24", "reason": "Heiligabend"}]),
     "2026-12-24T22:30:00+01:00", False, True),
    # Assumption Day (Sat 15 Aug 2026 -> 2029 is a Wednesday): not a holiday by default in Bavaria
    (BAVARIA, "2029-08-15T10:00:00+02:00", True, False),
    (dict(BAVARIA, holiday_categories=["public", "catholic"]), "2029-08-15T10:00:00+02:00", False, True),
    # Augsburg: Friedensfest (Wed 8 Aug 2029) and Assumption Day
    (dict(BAVARIA, municipality="Augsburg"), "2029-08-08T10:00:00+02:00", False, True),
    (dict(BAVARIA, municipality="Augsburg"), "2029-08-15T10:00:00+02:00", False, True),
    # the same by hand, and a municipality that does not keep Corpus Christi (Thu 4 Jun 2026)
    (dict(BAVARIA, holidays={"add": [{"date": "08-08", "name": "Friedensfest"}]}),
     "2029-08-08T10:00:00+02:00", False, True),
    (dict(BAVARIA, holidays={"remove": ["Fronleichnam"]}), "2026-06-04T11:00:00+02:00", True, False),
    (dict(BAVARIA, holidays={"remove": ["01-06"]}), "2026-01-06T10:00:00+01:00", True, False),
    (dict(BAVARIA, holidays={"remove": ["2026-01-06"]}), "2027-01-06T10:00:00+01:00", False, True),
])
def test_closures_and_holiday_corrections(site, instant, business, maintenance):
    calendar = SiteCalendar(site)
    assert calendar.business_time(instant) is business
    assert calendar.maintenance_time(instant) is maintenance


def test_closure_days_are_not_working_days_and_are_explained():
    calendar = SiteCalendar(CLOSING)
    # Wed 23 Dec 2026 to Mon 4 Jan 2027: 24 and 28-31 Dec are closed, 25/26 Dec and 1 Jan holidays
    assert calendar.working_days_between("2026-12-22T12:00:00+01:00", "2027-01-05T12:00:00+01:00") == 2
    info = calendar.explain("2026-08-05T10:00:00+02:00")
    assert info["closure"] == "Praxisurlaub" and info["holiday"] is None and info["maintenance_time"] is True
    assert info["next_window"]["start"] == "2026-07-31T18:01:00+02:00"
    assert info["next_window"]["end"] == "2026-08-17T08:00:00+02:00"
    assert SiteCalendar(dict(BAVARIA, municipality="Augsburg")).holiday(dt.date(2026, 8, 8)) == \
        "Augsburger Hohes Friedensfest"


@pytest.mark.parametrize(("site", "message"), [
    (dict(BAVARIA, closures=[{"reason": "x"}]), "closures[0] needs date, or from and to"),
    (dict(BAVARIA, closures=[{"from": "12-27", "to": "2027-01-02", "reason": "x"}]),
     "closures[0]: from and to must both have a year"),
    (dict(BAVARIA, closures=[{"from": "2026-01-01", "to": "2027-06-01", "reason": "x"}]),
     "closures[0]: 517 days; a closure is at most a year"),
    (dict(BAVARIA, closures=[{"date": "02-30", "reason": "x"}]), "closures[0].date: '02-30' is not a day"),
    (dict(BAVARIA, holidays={"remove": ["Heiligabend"]}), "holidays.remove[0]: 'Heiligabend' is no holiday in BY"),
    (dict(BAVARIA, municipality="München"), "municipality: 'München' is not known"),
])
def test_bad_closures_and_corrections(site, message):
    with pytest.raises(CalendarError) as info:
        SiteCalendar(site)
    assert message in str(info.value)


# -- maintenance windows over the daylight-saving hour (pinned, see docs/site-file.md) -----------
def elapsed(start, end):
    """Elapsed time (subtracting two aware times of one zone is wall-clock arithmetic)."""
    return end.astimezone(dt.timezone.utc) - start.astimezone(dt.timezone.utc)


def test_spring_forward_window_inside_the_missing_hour_does_not_happen():
    # Sunday 29 March 2026: 01:59 CET is followed by 03:00 CEST
    calendar = SiteCalendar({"id": "dst", "state": "BY",
                             "maintenance_windows": [{"days": ["sun"], "start": "02:00", "end": "03:00"}]})
    assert not calendar.maintenance_time("2026-03-29T01:59:00+01:00")
    assert not calendar.maintenance_time("2026-03-29T03:00:00+02:00")
    start, end = calendar.next_maintenance_window("2026-03-28T12:00:00+01:00")
    assert (start.isoformat(), end.isoformat()) == ("2026-04-05T02:00:00+02:00", "2026-04-05T03:00:00+02:00")


def test_spring_forward_window_over_the_missing_hour_is_shorter():
    calendar = SiteCalendar({"id": "dst", "state": "BY",
                             "maintenance_windows": [{"days": ["sun"], "start": "01:30", "end": "03:30"}]})
    start, end = calendar.next_maintenance_window("2026-03-28T12:00:00+01:00")
    assert (start.isoformat(), end.isoformat()) == ("2026-03-29T01:30:00+01:00", "2026-03-29T03:30:00+02:00")
    assert elapsed(start, end) == dt.timedelta(hours=1)   # two hours on the wall clock, one elapsed


def test_fall_back_window_over_the_repeated_hour_is_longer():
    # Sunday 25 October 2026: 02:00-02:59 happens first in CEST, then again in CET
    calendar = SiteCalendar({"id": "dst", "state": "BY",
                             "maintenance_windows": [{"days": ["sun"], "start": "02:00", "end": "03:00"}]})
    assert calendar.maintenance_time("2026-10-25T02:30:00+02:00")
    assert calendar.maintenance_time("2026-10-25T02:30:00+01:00")
    start, end = calendar.next_maintenance_window("2026-10-24T12:00:00+02:00")
    assert (start.isoformat(), end.isoformat()) == ("2026-10-25T02:00:00+02:00", "2026-10-25T03:00:00+01:00")
    assert elapsed(start, end) == dt.timedelta(hours=2)


# -- a server's own maintenance windows narrow the site's ------------------------------
# BERLIN_NIGHTS: Mon-Fri 22:00-05:00 and Sat 07:00-12:00; the server only Wed 23:00-02:00
SERVER = {"name": "srv01", "role": "server", "maintenance_windows": [
    {"days": ["wed"], "start": "23:00", "end": "02:00"}]}


WED = {"start": "2026-11-25T23:00:00+01:00", "end": "2026-11-26T02:00:00+01:00"}
NEXT_WED = {"start": "2026-12-02T23:00:00+01:00", "end": "2026-12-03T02:00:00+01:00"}


@pytest.mark.parametrize(("instant", "site_allows", "server_allows", "window"), [
    ("2026-11-24T23:30:00+01:00", True, False, WED),      # Tue night: the site's window, not the server's
    ("2026-11-25T23:30:00+01:00", True, True, WED),       # Wed night: both
    ("2026-11-26T01:59:00+01:00", True, True, WED),       # the server's window crosses midnight
    ("2026-11-26T02:00:00+01:00", True, False, NEXT_WED),  # ... and ends at 02:00
    ("2026-11-28T08:00:00+01:00", True, False, NEXT_WED),  # Saturday morning: the site's only
    ("2026-11-25T12:00:00+01:00", False, False, WED),     # business hours: never
])
def test_server_windows_and_the_sites_maintenance_time_must_both_allow(instant, site_allows, server_allows, window):
    assert check_disruptive(BERLIN_NIGHTS, instant)["allowed"] is site_allows
    info = check_disruptive(BERLIN_NIGHTS, instant, device=SERVER)
    assert info["allowed"] is server_allows
    assert info["device"] == "srv01"
    assert info["next_window"] == window
    if site_allows and not server_allows:
        assert info["reason"] == "outside the maintenance windows of srv01 (its own, within the practice's)"
        message = refusal_message(info, "reboot")
        assert message.startswith("reboot refused for site wagner (srv01) at ")


def test_device_without_own_windows_changes_nothing():
    for instant in ("2026-11-24T23:30:00+01:00", "2026-11-24T10:00:00+01:00"):
        plain = check_disruptive(BERLIN_NIGHTS, instant)
        with_device = check_disruptive(BERLIN_NIGHTS, instant, device={"name": "fw01", "role": "firewall"})
        assert with_device["allowed"] is plain["allowed"]
        assert with_device["next_window"] == plain["next_window"]


def test_server_windows_are_checked_like_the_sites():
    with pytest.raises(CalendarError) as info:
        SiteCalendar(BERLIN_NIGHTS, {"name": "srv01", "maintenance_windows": [{"days": ["wed"], "start": "25:00",
                                                                              "end": "02:00"}]})
    assert "device srv01: maintenance_windows[0].start" in str(info.value)
    with pytest.raises(CalendarError) as info:
        SiteCalendar(BERLIN_NIGHTS, {"name": "srv01", "maintenance_windows": {"days": ["wed"]}})
    assert "device srv01: maintenance_windows must be a list" in str(info.value)


def test_weekly_maintenance_minutes():
    assert SiteCalendar(BERLIN_NIGHTS).weekly_maintenance_minutes() == 5 * 7 * 60 + 5 * 60
    assert SiteCalendar(BERLIN_NIGHTS, SERVER).weekly_maintenance_minutes() == 3 * 60
    never = {"name": "srv02", "maintenance_windows": [{"days": ["sun"], "start": "12:00", "end": "13:00"}]}
    assert SiteCalendar(BERLIN_NIGHTS, never).weekly_maintenance_minutes() == 0
