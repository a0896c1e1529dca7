"""Business hours: edges of ranges, midnight, holidays, time zones and daylight-saving days."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from firmware import FirmwareError
from firmware.schedule import Holiday, Schedule, TimeRange, check_open, is_open

NINE_TO_FIVE = (TimeRange.parse("09:00-17:00"),)
WEEKDAYS_ONLY = (NINE_TO_FIVE,) * 5 + ((), ())


def office(timezone: str = "UTC", holidays=()) -> Schedule:
    return Schedule(name="office", timezone=timezone, hours=WEEKDAYS_ONLY, holidays=holidays)


def local(timezone: str, text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(timezone))


# 2026-03-02 is a Monday; 2026-03-07 a Saturday.
@pytest.mark.parametrize("when,expected", [
    ("2026-03-02 08:59:59", False),
    ("2026-03-02 09:00:00", True),
    ("2026-03-02 12:00:00", True),
    ("2026-03-02 16:59:59", True),
    ("2026-03-02 17:00:00", False),
    ("2026-03-02 00:00:00", False),
    ("2026-03-06 16:59:00", True),   # Friday
    ("2026-03-07 10:00:00", False),  # Saturday
    ("2026-03-08 10:00:00", False),  # Sunday
])
def test_range_edges_start_inclusive_end_exclusive(when, expected):
    assert is_open(office(), local("UTC", when)) is expected


@pytest.mark.parametrize("when,expected", [
    ("2026-03-06 21:59:59", False),  # Friday before the night shift
    ("2026-03-06 22:00:00", True),
    ("2026-03-06 23:59:59", True),
    ("2026-03-07 00:00:00", True),   # Saturday: the tail of Friday's range
    ("2026-03-07 05:59:59", True),
    ("2026-03-07 06:00:00", False),
    ("2026-03-07 22:00:00", False),  # Saturday has no range of its own
    ("2026-03-05 02:00:00", False),  # Thursday early: Wednesday has no night range
])
def test_range_crossing_midnight(when, expected):
    night = ((),) * 4 + ((TimeRange.parse("22:00-06:00"),), (), ())
    assert is_open(Schedule("night", "UTC", night), local("UTC", when)) is expected


def test_whole_day_and_24_00():
    always = Schedule("always", "UTC", ((TimeRange.parse("00:00-24:00"),),) * 7)
    late = Schedule("late", "UTC", ((TimeRange.parse("20:00-24:00"),),) * 7)
    for minute in range(0, 24 * 60, 7):
        when = dt.datetime(2026, 3, 2, tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
        assert is_open(always, when)
        assert is_open(late, when) is (minute >= 20 * 60)
    assert is_open(always, dt.datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=dt.UTC))


def test_holiday_closes_its_whole_local_date():
    christmas = office("Europe/Berlin", (Holiday(dt.date(2026, 12, 25), "Christmas Day"),))
    state = check_open(christmas, local("Europe/Berlin", "2026-12-25 10:00"))
    assert not state.is_open and "holiday (Christmas Day)" in state.reason
    assert is_open(christmas, local("Europe/Berlin", "2026-12-24 10:00"))
    assert not is_open(christmas, local("Europe/Berlin", "2026-12-25 00:00"))
    # 23:30 UTC on the 24th is already the 25th in Berlin: closed.
    assert not is_open(office("Europe/Berlin", christmas.holidays), dt.datetime(2026, 12, 24, 23, 30, tzinfo=dt.UTC))


def test_holiday_does_not_close_the_tail_of_the_previous_nights_range():
    night = ((),) * 4 + ((TimeRange.parse("22:00-06:00"),), (), ())
    on_friday = Schedule("night", "UTC", night, (Holiday(dt.date(2026, 3, 6)),))
    assert not is_open(on_friday, local("UTC", "2026-03-06 23:00"))
    assert is_open(on_friday, local("UTC", "2026-03-07 01:00"))
    on_saturday = Schedule("night", "UTC", night, (Holiday(dt.date(2026, 3, 7)),))
    assert not is_open(on_saturday, local("UTC", "2026-03-07 01:00"))


def test_time_zones_convert_the_instant():
    new_york = office("America/New_York")
    instant = dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC)  # 09:30 in New York (EST, UTC-5)
    assert is_open(new_york, instant)
    assert not is_open(office("Asia/Tokyo"), instant)  # 23:30 in Tokyo
    assert is_open(office("UTC"), instant)


@pytest.mark.parametrize("utc_time,expected", [
    # US spring forward, Sunday 2026-03-08: the week before, 13:30 UTC is 08:30 EST (closed) ...
    ("2026-03-02 13:30", False),
    ("2026-03-02 14:00", True),
    # ... and from Monday 2026-03-09 13:30 UTC is 09:30 EDT (open), 21:00 UTC is 17:00 EDT (closed).
    ("2026-03-09 13:30", True),
    ("2026-03-09 12:59", False),
    ("2026-03-09 13:00", True),
    ("2026-03-09 20:59", True),
    ("2026-03-09 21:00", False),
])
def test_dst_change_new_york(utc_time, expected):
    instant = dt.datetime.fromisoformat(utc_time).replace(tzinfo=dt.UTC)
    assert is_open(office("America/New_York"), instant) is expected


def test_dst_change_day_itself_in_berlin():
    """2026-03-29 (Sunday) 02:00 CET jumps to 03:00 CEST; 2026-10-25 03:00 CEST falls back to 02:00 CET."""
    sunday_night = ((),) * 6 + ((TimeRange.parse("01:00-04:00"),),)
    schedule = Schedule("sunday", "Europe/Berlin", sunday_night)
    spring = dt.datetime(2026, 3, 29, tzinfo=dt.UTC)
    # UTC 00:00 = 01:00 CET open; UTC 01:00 = 03:00 CEST open; UTC 02:00 = 04:00 CEST closed.
    assert [is_open(schedule, spring + dt.timedelta(hours=h)) for h in range(4)] == [True, True, False, False]
    # Only two hours of the range exist on the wall clock that night.
    open_minutes = sum(is_open(schedule, spring - dt.timedelta(hours=2) + dt.timedelta(minutes=m))
                       for m in range(0, 8 * 60))
    assert open_minutes == 120
    autumn = dt.datetime(2026, 10, 24, 22, 0, tzinfo=dt.UTC)  # 00:00 CEST on Sunday the 25th
    open_minutes = sum(is_open(schedule, autumn + dt.timedelta(minutes=m)) for m in range(0, 8 * 60))
    assert open_minutes == 240  # 01:00-04:00 with 02:00-03:00 twice


def test_naive_datetime_is_refused():
    with pytest.raises(FirmwareError, match="aware datetime"):
        is_open(office(), dt.datetime(2026, 3, 2, 10, 0))


@pytest.mark.parametrize("text,message", [
    ("09:00", "time range"),
    ("9:00-17:00", "HH:MM"),
    ("09:00-17:60", "not a time of day"),
    ("24:00-06:00", "not a time of day"),
    ("09:00-09:00", "empty"),
    ("25:00-26:00", "not a time of day"),
    ("09:00-17:00-18:00", "time range"),
])
def test_bad_time_ranges(text, message):
    with pytest.raises(FirmwareError, match=message):
        TimeRange.parse(text)


def test_time_range_text_round_trip():
    for text in ("00:00-24:00", "09:00-17:30", "22:00-06:00", "23:59-00:00"):
        assert str(TimeRange.parse(text)) == text
    assert TimeRange.parse("22:00-06:00").crosses_midnight
    assert not TimeRange.parse("00:00-24:00").crosses_midnight


def test_explanation_names_the_range_and_zone():
    state = check_open(office("America/New_York"), dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC))
    assert state.reason == "open: Mon 2026-03-02 09:30 America/New_York is within mon 09:00-17:00"
    closed = check_open(office("America/New_York"), dt.datetime(2026, 3, 7, 14, 30, tzinfo=dt.UTC))
    assert closed.reason == "closed: Sat 2026-03-07 09:30 America/New_York is outside sat hours (closed all day)"
