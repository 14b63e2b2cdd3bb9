# -*- coding: utf-8 -*-
# Copyright: praxisops contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt)
"""Service calendar of a practice (OPS-01, NET-04).

One implementation, used by the filters (filter_plugins/praxis_calendar.py),
the maintenance_window role and every module that does disruptive work
(firmware, reboots, patch installs).

Terms
-----
closed day
    A public holiday of the site's federal state (``holiday_categories``,
    ``municipality``, corrected by ``holidays.add``/``holidays.remove``) or a
    closure day of the practice (``closures``: 24 December, bridge days,
    practice holidays). A closed day has no business time, is no working day
    and lifts the hard floor; maintenance windows still apply.
business time
    The practice's business hours on a day that is not a closed day. A
    range "08:00-18:00" includes its last minute (18:00); maintenance time
    starts at 18:01, as OPS-01 writes it. Default business
    hours: Mon-Fri 08:00-18:00.
hard floor
    Mon-Fri 08:00-17:00 (17:00 included) on a day that is not a closed day
    is never maintenance time, whatever a site file says (NET-04).
maintenance time
    Neither business time nor the hard floor, and, when the site lists
    maintenance windows, inside one of them. A window "22:00-05:00" starts on
    each listed day at 22:00 and ends the next day at 05:00 (end excluded).
working day
    A day with business hours that is not a closed day (antivirus
    signature age is counted in these).

All instants are timezone-aware; local time is the site's time zone, so
daylight-saving changes are handled by zoneinfo. Hours, windows and the floor
are wall-clock times: on the spring-forward night 02:00-02:59 does not exist
(a window inside that hour does not happen, one that overlaps it is an hour
shorter); on the autumn night 02:00-02:59 happens twice and a window over it
is an hour longer in elapsed time.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any, Mapping

from ansible.module_utils.praxis_errors import PraxisError

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # pragma: no cover - Python < 3.9 is not supported
    ZoneInfo = None
    ZoneInfoNotFoundError = Exception

try:
    import holidays as _holidays
    HAS_HOLIDAYS = True
except ImportError:  # pragma: no cover - reported by CalendarError on use
    _holidays = None
    HAS_HOLIDAYS = False

STATES = ("BB", "BE", "BW", "BY", "HB", "HE", "HH", "MV", "NI", "NW", "RP", "SH", "SL", "SN", "ST", "TH")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TIMEZONE = "Europe/Berlin"
DEFAULT_BUSINESS_HOURS = {day: ["08:00-18:00"] for day in DAYS[:5]}
HOLIDAY_CATEGORIES = ("public", "catholic")
MUNICIPALITIES = {"Augsburg": "BY"}   # subdivisions of the holidays package below a state
_DAY_TEXT = re.compile(r"(?:([0-9]{4})-)?([0-9]{2})-([0-9]{2})\Z")
MAX_RANGE_DAYS = 366
# NET-04: working hours Mon-Fri 08:00-17:00 are never maintenance time.
HARD_FLOOR = (8 * 60, 17 * 60 + 1)
MINUTE = dt.timedelta(minutes=1)
HORIZON_DAYS = 21


class CalendarError(PraxisError, ValueError):
    """A site's calendar data or a timestamp is unusable; the message names it."""


def parse_timestamp(value: Any, what: str = "timestamp") -> dt.datetime:
    """ISO-8601 timestamp with offset (``Z`` allowed) -> aware datetime."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise CalendarError(f"{what} {value.isoformat()!r} has no UTC offset")
        return value
    if not isinstance(value, str) or not value.strip():
        raise CalendarError(f"{what} must be an ISO-8601 string with offset, got {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise CalendarError(f"{what} {value!r} is not an ISO-8601 timestamp") from None
    if parsed.tzinfo is None:
        raise CalendarError(f"{what} {value!r} has no UTC offset (e.g. +01:00 or Z)")
    return parsed


def _minutes(text: str, where: str, allow_24: bool = False) -> int:
    try:
        hh, mm = text.split(":")
        hours, minutes = int(hh), int(mm)
    except (ValueError, AttributeError):
        raise CalendarError(f"{where}: {text!r} is not a time HH:MM") from None
    if allow_24 and hours == 24 and minutes == 0:
        return 24 * 60
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise CalendarError(f"{where}: {text!r} is not a time HH:MM")
    return hours * 60 + minutes


@functools.lru_cache(maxsize=512)
def _holiday_table(state: str, year: int, categories: tuple[str, ...]) -> Mapping[dt.date, str]:
    """Holidays of a state or municipality (a subdivision of the holidays package)."""
    if not HAS_HOLIDAYS:
        raise CalendarError("the Python package 'holidays' is required for the service calendar")
    return dict(_holidays.country_holidays("DE", subdiv=state, years=year, categories=categories))


@functools.lru_cache(maxsize=128)
def _holiday_names(subdiv: str, categories: tuple[str, ...]) -> frozenset[str]:
    """Names the holidays package uses for a subdivision (over 28 years, so
    movable and newer holidays are all seen)."""
    names: set[str] = set()
    for year in range(2020, 2048):
        for name in _holiday_table(subdiv, year, categories).values():
            names.update(part.strip() for part in name.split(";"))
    return frozenset(names)


def parse_day(text: Any, where: str) -> tuple[int | None, int, int]:
    """'YYYY-MM-DD' -> (year, month, day); 'MM-DD' (every year) -> (None, month, day)."""
    match = _DAY_TEXT.match(text) if isinstance(text, str) else None
    if not match:
        raise CalendarError(f"{where}: {text!r} is not a day YYYY-MM-DD or MM-DD")
    year = int(match.group(1)) if match.group(1) else None
    month, day = int(match.group(2)), int(match.group(3))
    try:
        dt.date(year or 2000, month, day)
    except ValueError:
        raise CalendarError(f"{where}: {text!r} is not a day of the calendar") from None
    return year, month, day


def _day_in(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:  # 02-29 outside leap years
        return None


@functools.lru_cache(maxsize=64)
def _zone(name: str):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise CalendarError(f"timezone: unknown time zone {name!r}") from None


class SiteCalendar:
    """The calendar of one site, built from the site dict (site file fields
    ``id``, ``state``, ``timezone``, ``business_hours``,
    ``maintenance_windows``, ``holiday_categories``).

    With ``device`` (a server's ``praxis_device``), the device's own
    ``maintenance_windows`` narrow the site's: maintenance time is then the
    site's maintenance time inside one of the device's windows too."""

    def __init__(self, site: Mapping[str, Any], device: Mapping[str, Any] | None = None) -> None:
        if not isinstance(site, Mapping):
            raise CalendarError(f"site must be a mapping (the praxis_site dict), got {type(site).__name__}")
        self.site_id = str(site.get("id", "?"))
        where = f"site {self.site_id}"
        state = site.get("state")
        if state not in STATES:
            raise CalendarError(f"{where}: state {state!r} is not a German federal state code ({', '.join(STATES)})")
        self.state = state
        self.tz = _zone(site.get("timezone") or DEFAULT_TIMEZONE)
        categories = site.get("holiday_categories") or ["public"]
        for category in categories:
            if category not in HOLIDAY_CATEGORIES:
                raise CalendarError(f"{where}: holiday_categories: unknown category {category!r}")
        self.categories = tuple(sorted(set(categories) | {"public"}))
        municipality = site.get("municipality")
        if municipality is not None:
            if MUNICIPALITIES.get(municipality) is None:
                raise CalendarError(f"{where}: municipality: {municipality!r} is not known to the holidays package "
                                    f"({', '.join(MUNICIPALITIES)}); add its holidays with holidays.add")
            if MUNICIPALITIES[municipality] != state:
                raise CalendarError(f"{where}: municipality: {municipality} lies in {MUNICIPALITIES[municipality]}, "
                                    f"not in state {state}")
        self.subdiv = municipality or state
        if self.categories != ("public",):
            extra = _holiday_names(self.subdiv, self.categories) - _holiday_names(self.subdiv, ("public",))
            if not extra:
                added = ", ".join(c for c in self.categories if c != "public")
                raise CalendarError(f"{where}: holiday_categories: {added} adds no holiday in {self.subdiv}")
        self._parse_holidays(site.get("holidays") or {}, where)
        self._parse_closures(site.get("closures") or [], where)
        self._closed_cache: dict[int, dict[dt.date, tuple[str, str]]] = {}

        hours = site.get("business_hours")
        if hours is None:
            hours = DEFAULT_BUSINESS_HOURS
        if not isinstance(hours, Mapping):
            raise CalendarError(f"{where}: business_hours must be a mapping of weekday to ranges")
        self.business: list[list[tuple[int, int]]] = [[] for _day in DAYS]
        for day, ranges in hours.items():
            if day not in DAYS:
                raise CalendarError(f"{where}: business_hours: unknown weekday {day!r} (use {', '.join(DAYS)})")
            for text in ranges or []:
                field = f"{where}: business_hours.{day}"
                try:
                    start_text, end_text = str(text).split("-")
                except ValueError:
                    raise CalendarError(f"{field}: {text!r} is not a range HH:MM-HH:MM") from None
                start = _minutes(start_text, field)
                end = _minutes(end_text, field, allow_24=True)
                if end <= start:
                    raise CalendarError(f"{field}: range {text!r} ends before it starts")
                # the last minute belongs to the range: 08:00-18:00 covers 18:00
                self.business[DAYS.index(day)].append((start, min(end + 1, 24 * 60)))

        # (weekday, start minute, length minutes)
        self.windows = _parse_windows(site.get("maintenance_windows"), f"{where}: maintenance_windows")
        self.device_name: str | None = None
        self.device_windows: list[tuple[int, int, int]] = []
        if device is not None:
            if not isinstance(device, Mapping):
                raise CalendarError(f"{where}: device must be a mapping (the praxis_device dict), "
                                    f"got {type(device).__name__}")
            self.device_name = str(device.get("name", "?"))
            self.device_windows = _parse_windows(device.get("maintenance_windows"),
                                                 f"{where}: device {self.device_name}: maintenance_windows")

    def _parse_holidays(self, corrections: Mapping[str, Any], where: str) -> None:
        if not isinstance(corrections, Mapping):
            raise CalendarError(f"{where}: holidays must be a mapping with add and remove")
        self.holiday_add: list[tuple[int | None, int, int, str]] = []
        for index, entry in enumerate(corrections.get("add") or []):
            field = f"{where}: holidays.add[{index}]"
            if not isinstance(entry, Mapping) or not entry.get("name"):
                raise CalendarError(f"{field} must have date and name")
            self.holiday_add.append((*parse_day(entry.get("date"), f"{field}.date"), str(entry["name"])))
        self.holiday_remove_days: list[tuple[int | None, int, int]] = []
        self.holiday_remove_names: set[str] = set()
        known = None
        for index, entry in enumerate(corrections.get("remove") or []):
            field = f"{where}: holidays.remove[{index}]"
            if isinstance(entry, str) and entry[:1].isdigit():
                year, month, day = parse_day(entry, field)
                years = [year] if year else range(2020, 2048)
                if not any(self._table(y).get(_day_in(y, month, day)) for y in years):
                    raise CalendarError(f"{field}: {entry!r} is no holiday in {self.subdiv}, nothing to remove")
                self.holiday_remove_days.append((year, month, day))
            else:
                known = known if known is not None else _holiday_names(self.subdiv, self.categories)
                if entry not in known:
                    raise CalendarError(f"{field}: {entry!r} is no holiday in {self.subdiv} "
                                        f"(known: {', '.join(sorted(known))})")
                self.holiday_remove_names.add(entry)

    def _parse_closures(self, closures: list[Any], where: str) -> None:
        self.closures: list[tuple[tuple[int | None, int, int], tuple[int | None, int, int], str]] = []
        for index, entry in enumerate(closures):
            field = f"{where}: closures[{index}]"
            if not isinstance(entry, Mapping) or not entry.get("reason"):
                raise CalendarError(f"{field} needs a reason")
            if "date" in entry:
                if "from" in entry or "to" in entry:
                    raise CalendarError(f"{field}: give date, or from and to, not both")
                first = last = parse_day(entry["date"], f"{field}.date")
            elif "from" in entry and "to" in entry:
                first = parse_day(entry["from"], f"{field}.from")
                last = parse_day(entry["to"], f"{field}.to")
                if (first[0] is None) != (last[0] is None):
                    raise CalendarError(f"{field}: from and to must both have a year or both have none")
                if first[0] is not None:
                    start, end = dt.date(*first), dt.date(*last)  # type: ignore[arg-type]
                    if end < start:
                        raise CalendarError(f"{field}: to {entry['to']} is before from {entry['from']}")
                    if (end - start).days >= MAX_RANGE_DAYS:
                        raise CalendarError(f"{field}: {(end - start).days + 1} days; a closure is at most a year "
                                            "(a mistyped year?)")
            else:
                raise CalendarError(f"{field} needs date, or from and to")
            self.closures.append((first, last, str(entry["reason"])))

    # -- days ------------------------------------------------------------------
    def _table(self, year: int) -> Mapping[dt.date, str]:
        return _holiday_table(self.subdiv, year, self.categories)

    def _closed_days(self, year: int) -> dict[dt.date, tuple[str, str]]:
        """{day: (kind, name)} of one year: kind 'holiday' or 'closure'."""
        cached = self._closed_cache.get(year)
        if cached is not None:
            return cached
        days: dict[dt.date, tuple[str, str]] = {}
        for day, name in self._table(year).items():
            names = [part.strip() for part in name.split(";")]
            kept = [n for n in names if n not in self.holiday_remove_names]
            if kept and not any((y in (None, year)) and (m, d) == (day.month, day.day)
                                for y, m, d in self.holiday_remove_days):
                days[day] = ("holiday", "; ".join(kept))
        for y, m, d, name in self.holiday_add:
            day = _day_in(year, m, d) if y in (None, year) else None
            if day is not None:
                days[day] = ("holiday", name)
        for first, last, reason in self.closures:
            if first[0] is None:  # every year; may cross New Year (12-27 to 01-02)
                spans = []
                for y in (year - 1, year):
                    start = _day_in(y, first[1], first[2]) or dt.date(y, 3, 1)
                    end_year = y if (last[1], last[2]) >= (first[1], first[2]) else y + 1
                    end = _day_in(end_year, last[1], last[2]) or dt.date(end_year, 2, 28)
                    spans.append((start, end))
            else:
                spans = [(dt.date(*first), dt.date(*last))]  # type: ignore[arg-type]
            for start, end in spans:
                day = max(start, dt.date(year, 1, 1))
                while day <= end and day.year == year:
                    days.setdefault(day, ("closure", reason))
                    day += dt.timedelta(days=1)
        self._closed_cache[year] = days
        return days

    def holiday(self, day: dt.date) -> str | None:
        """Name of the public holiday on that day for the site, or None."""
        entry = self._closed_days(day.year).get(day)
        return entry[1] if entry and entry[0] == "holiday" else None

    def closure(self, day: dt.date) -> str | None:
        """Reason the practice is closed that day (site file: closures), or None."""
        entry = self._closed_days(day.year).get(day)
        return entry[1] if entry and entry[0] == "closure" else None

    def closed(self, day: dt.date) -> bool:
        """A public holiday or a closure day."""
        return day in self._closed_days(day.year)

    def is_working_day(self, day: dt.date) -> bool:
        """The practice has business hours that day and it is not a closed day."""
        return bool(self.business[day.weekday()]) and not self.closed(day)

    # -- instants --------------------------------------------------------------
    def local(self, when: Any) -> dt.datetime:
        return parse_timestamp(when).astimezone(self.tz)

    def business_time(self, when: Any) -> bool:
        local = self.local(when)
        if self.closed(local.date()):
            return False
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.business[local.weekday()])

    def hard_floor(self, when: Any) -> bool:
        """Mon-Fri 08:00-17:00 of a day that is not a closed day (NET-04)."""
        local = self.local(when)
        if local.weekday() >= 5 or self.closed(local.date()):
            return False
        return HARD_FLOOR[0] <= local.hour * 60 + local.minute < HARD_FLOOR[1]

    def in_window(self, when: Any) -> bool:
        """Inside the site's windows and (with a device) the device's own."""
        local = self.local(when)
        return _window_hit(self.windows, local) and _window_hit(self.device_windows, local)

    def in_site_window(self, when: Any) -> bool:
        return _window_hit(self.windows, self.local(when))

    def weekly_maintenance_minutes(self) -> int:
        """Minutes of maintenance time in an ordinary week (no holiday, no
        closure): 0 when the windows (the site's and a device's own) never
        meet the time outside business hours and the Mon-Fri floor."""
        monday = dt.datetime(2024, 1, 1)  # a Monday; wall-clock minutes, no time zone needed
        count = 0
        for minute in range(7 * 24 * 60):
            local = monday + dt.timedelta(minutes=minute)
            weekday, of_day = local.weekday(), local.hour * 60 + local.minute
            if any(start <= of_day < end for start, end in self.business[weekday]):
                continue
            if weekday < 5 and HARD_FLOOR[0] <= of_day < HARD_FLOOR[1]:
                continue
            if _window_hit(self.windows, local) and _window_hit(self.device_windows, local):
                count += 1
        return count

    def maintenance_time(self, when: Any) -> bool:
        return not self.business_time(when) and not self.hard_floor(when) and self.in_window(when)

    # -- windows ---------------------------------------------------------------
    def _boundaries(self, start_utc: dt.datetime, days: int) -> list[dt.datetime]:
        """Every instant at which any predicate may change, in [start, start+days]."""
        local_start = start_utc.astimezone(self.tz).date() - dt.timedelta(days=1)
        minutes: set[int] = {0, HARD_FLOOR[0], HARD_FLOOR[1]}
        for ranges in self.business:
            for start, end in ranges:
                minutes.update((start, end % (24 * 60)))
        for _weekday, start, length in self.windows + self.device_windows:
            minutes.update((start, (start + length) % (24 * 60)))
        points: set[dt.datetime] = set()
        for n in range(days + 2):
            day = local_start + dt.timedelta(days=n)
            for minute in minutes:
                wall = dt.datetime(day.year, day.month, day.day, minute // 60, minute % 60)
                for fold in (0, 1):
                    points.add(wall.replace(tzinfo=self.tz, fold=fold).astimezone(dt.timezone.utc))
        # whole hours catch daylight-saving changes, which happen on the hour here
        hour = start_utc.astimezone(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
        for n in range((days + 2) * 24):
            points.add(hour + dt.timedelta(hours=n))
        return sorted(points)

    def next_maintenance_window(self, when: Any, horizon_days: int = HORIZON_DAYS):
        """(start, end) of the maintenance window that contains ``when`` or, if
        ``when`` is not maintenance time, of the next one; aware datetimes in the
        site's time zone. None if there is none within ``horizon_days``."""
        now = parse_timestamp(when).astimezone(dt.timezone.utc)
        points = [p for p in self._boundaries(now, horizon_days) if p > now]
        segments = [now] + points
        start = end = None
        for begin in segments[:-1]:
            open_ = self.maintenance_time(begin)
            if open_ and start is None:
                start = begin
                if begin == now:
                    start = self._window_start(now)
            elif not open_ and start is not None:
                end = begin
                break
        if start is None:
            return None
        if end is None:
            end = segments[-1]
        return start.astimezone(self.tz), end.astimezone(self.tz)

    def _window_start(self, now: dt.datetime) -> dt.datetime:
        """Walk back to the start of the maintenance time that contains now."""
        points = [p for p in self._boundaries(now - dt.timedelta(days=HORIZON_DAYS), HORIZON_DAYS) if p <= now]
        start = now
        for point in reversed(points):
            if not self.maintenance_time(point - MINUTE):
                return point
            start = point
        return start

    def working_days_between(self, start: Any, end: Any) -> int:
        """Whole working days lying entirely between two instants (0 when end
        is not after start)."""
        first = self.local(start)
        last = self.local(end)
        if last <= first:
            return 0
        count = 0
        day = first.date() + dt.timedelta(days=1)
        while day < last.date():
            if self.is_working_day(day):
                count += 1
            day += dt.timedelta(days=1)
        return count

    def explain(self, when: Any) -> dict[str, Any]:
        """Everything a guard or a report wants to know about one instant."""
        local = self.local(when)
        window = self.next_maintenance_window(local)
        holiday = self.holiday(local.date())
        closure = self.closure(local.date())
        business = self.business_time(local)
        floor = self.hard_floor(local)
        maintenance = not business and not floor and self.in_window(local)
        if maintenance:
            reason = "maintenance time"
        elif business:
            reason = "business hours of the practice"
        elif floor:
            reason = "working hours Mon-Fri 08:00-17:00 (never maintenance time)"
        elif self.device_windows and self.in_site_window(local):
            reason = f"outside the maintenance windows of {self.device_name} (its own, within the practice's)"
        else:
            reason = "outside the practice's maintenance windows"
        return {
            "site": self.site_id,
            "device": self.device_name,
            "now": local.isoformat(),
            "business_time": business,
            "maintenance_time": maintenance,
            "reason": reason,
            "holiday": holiday,
            "closure": closure,
            "next_window": None if window is None else {"start": window[0].isoformat(), "end": window[1].isoformat()},
        }


def _parse_windows(windows: Any, field: str) -> list[tuple[int, int, int]]:
    """Maintenance windows as (weekday, start minute, length minutes)."""
    parsed: list[tuple[int, int, int]] = []
    if windows is not None and not isinstance(windows, list):
        raise CalendarError(f"{field} must be a list of windows with days, start, end")
    for index, window in enumerate(windows or []):
        where = f"{field}[{index}]"
        if not isinstance(window, Mapping):
            raise CalendarError(f"{where} must be a mapping with days, start, end")
        start = _minutes(window.get("start"), f"{where}.start")
        end = _minutes(window.get("end"), f"{where}.end", allow_24=True)
        length = end - start if end > start else end + 24 * 60 - start
        days = window.get("days")
        if not days:
            raise CalendarError(f"{where}.days must list at least one weekday")
        for day in days:
            if day not in DAYS:
                raise CalendarError(f"{where}.days: unknown weekday {day!r}")
            parsed.append((DAYS.index(day), start, length))
    return parsed


def _window_hit(windows: list[tuple[int, int, int]], local: dt.datetime) -> bool:
    """Whether a local wall-clock time lies in one of the windows (no windows: always)."""
    if not windows:
        return True
    minute = local.hour * 60 + local.minute
    for weekday, start, length in windows:
        # a window may have started today or (crossing midnight) yesterday
        for back in (0, 1):
            if (local.weekday() - back) % 7 != weekday:
                continue
            offset = minute + back * 24 * 60 - start
            if 0 <= offset < length:
                return True
    return False


# public name for callers outside this module (praxis_site: the daily backup start)
window_hit = _window_hit


def site_calendar(site: Mapping[str, Any], device: Mapping[str, Any] | None = None) -> SiteCalendar:
    return SiteCalendar(site, device)


def check_disruptive(site: Mapping[str, Any], now: Any = None, force_reason: str | None = None,
                     device: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The guard every disruptive module calls before it acts.

    Returns the explanation with ``allowed``; ``allowed`` is True in
    maintenance time, or when a technician forces it with a reason (which the
    caller must record). With ``device`` (a server's ``praxis_device``), the
    server's own ``maintenance_windows`` must allow it too.
    """
    calendar = SiteCalendar(site, device)
    when = now if now not in (None, "") else dt.datetime.now(dt.timezone.utc)
    info = calendar.explain(when)
    forced = bool(force_reason and str(force_reason).strip())
    info["forced"] = forced and not info["maintenance_time"]
    info["force_reason"] = str(force_reason).strip() if forced else None
    info["allowed"] = info["maintenance_time"] or forced
    return info


def refusal_message(info: Mapping[str, Any], action: str) -> str:
    window = info.get("next_window")
    nxt = f"; next maintenance window {window['start']} to {window['end']}" if window else ""
    device = f" ({info['device']})" if info.get("device") else ""
    return (f"{action} refused for site {info['site']}{device} at {info['now']}: {info['reason']}{nxt}. "
            "Set praxis_force_reason to override (the reason is logged).")
