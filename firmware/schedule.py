"""Business hours: weekly opening ranges per weekday, holidays by date, in a named time zone.

A :class:`Schedule` is open at an instant when, on the local wall clock of its time zone
(IANA name, resolved with the standard library's ``zoneinfo``):

- the local calendar date is not one of its holidays (a holiday closes its whole date,
  00:00 to 24:00), and
- the local time falls in one of the ranges of that weekday (``start <= t < end``), or in
  the after-midnight tail of a range of the previous weekday that crosses midnight
  (``22:00-06:00``). ``24:00`` is allowed as an end: ``00:00-24:00`` is the whole day.

Nothing here reads the clock: callers pass *aware* datetimes (the engine converts its
audio-clock time to an aware UTC datetime); a naive datetime is refused, because its
meaning depends on where the box is. Daylight-saving changes are handled by converting
the instant to the zone: on a spring-forward day the missing local hour simply never
occurs, and on a fall-back day the repeated hour is evaluated on its wall-clock value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from firmware import FirmwareError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, order=True)
class TimeRange:
    """Minutes after local midnight; ``end_min <= start_min`` means it ends the next day."""

    start_min: int
    end_min: int

    @classmethod
    def parse(cls, text: str) -> TimeRange:
        """``"09:00-17:30"``; ``"22:00-06:00"`` crosses midnight; ``24:00`` only as an end."""
        if not isinstance(text, str) or text.count("-") != 1:
            raise FirmwareError(f"expected a time range like '09:00-17:00', got {text!r}")
        start_text, end_text = text.split("-")
        start = _parse_clock(start_text, allow_24=False)
        end = _parse_clock(end_text, allow_24=True)
        if start == end:
            raise FirmwareError(f"time range {text!r} is empty: start and end are equal")
        return cls(start, end)

    @property
    def crosses_midnight(self) -> bool:
        return self.end_min < self.start_min

    def __str__(self) -> str:
        return f"{_format_clock(self.start_min)}-{_format_clock(self.end_min)}"


def _parse_clock(text: str, allow_24: bool) -> int:
    parts = text.strip().split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise FirmwareError(f"expected a time HH:MM, got {text!r}")
    hours, minutes = int(parts[0]), int(parts[1])
    if hours == 24 and minutes == 0 and allow_24:
        return MINUTES_PER_DAY
    if hours > 23 or minutes > 59:
        raise FirmwareError(f"{text!r} is not a time of day (00:00-23:59{', or 24:00 as an end' if allow_24 else ''})")
    return hours * 60 + minutes


def _format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Holiday:
    date: dt.date
    name: str = ""


@dataclass(frozen=True)
class Schedule:
    """``hours``: 7 tuples of ranges, Monday first. ``timezone``: IANA name, e.g. ``Europe/Berlin``."""

    name: str
    timezone: str = "UTC"
    hours: tuple[tuple[TimeRange, ...], ...] = field(default_factory=lambda: ((),) * 7)
    holidays: tuple[Holiday, ...] = ()


def zone_info(name: str) -> ZoneInfo:
    """The time zone called ``name``; FirmwareError if the system's tz database lacks it."""
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        raise FirmwareError(f"{name!r} is not a time zone name (e.g. Europe/Berlin)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FirmwareError(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True)
class OpenState:
    """The answer and why: ``reason`` is one line for the routing explanation."""

    is_open: bool
    reason: str
    local_time: dt.datetime


def check_open(schedule: Schedule, when: dt.datetime) -> OpenState:
    if when.tzinfo is None or when.utcoffset() is None:
        raise FirmwareError(f"schedule {schedule.name}: needs an aware datetime (with a time zone), got {when}")
    local = when.astimezone(zone_info(schedule.timezone))
    stamp = f"{local:%a %Y-%m-%d %H:%M} {schedule.timezone}"
    for holiday in schedule.holidays:
        if holiday.date == local.date():
            label = f" ({holiday.name})" if holiday.name else ""
            return OpenState(False, f"closed: {stamp} is a holiday{label}", local)
    minute = local.hour * 60 + local.minute
    weekday = local.weekday()
    for time_range in schedule.hours[weekday]:
        end = MINUTES_PER_DAY if time_range.crosses_midnight else time_range.end_min
        if time_range.start_min <= minute < end:
            return OpenState(True, f"open: {stamp} is within {WEEKDAYS[weekday]} {time_range}", local)
    previous = (weekday - 1) % 7
    for time_range in schedule.hours[previous]:
        if time_range.crosses_midnight and minute < time_range.end_min:
            return OpenState(True, f"open: {stamp} is within {WEEKDAYS[previous]} {time_range}", local)
    today = ", ".join(str(r) for r in schedule.hours[weekday]) or "closed all day"
    return OpenState(False, f"closed: {stamp} is outside {WEEKDAYS[weekday]} hours ({today})", local)


def is_open(schedule: Schedule, when: dt.datetime) -> bool:
    """True when ``schedule`` is open at the aware instant ``when``."""
    return check_open(schedule, when).is_open
