"""The wall clock anchored to the audio tick (firmware/engine/wallclock.py)."""

import datetime as dt

import pytest

from firmware.engine.wallclock import SLEW_RATE, TICK_S, TOLERANCE_S, WallClock

ORIGIN = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
T0 = ORIGIN.timestamp()


class FakeWall:
    """A wall clock the test sets; ``reads`` counts how often it was read."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def run(clock: WallClock, wall: FakeWall, ticks: range, lost_at: dict[int, int] | None = None,
        jitter=None) -> None:
    """The loop reads ticks ``ticks``; the audio really advances 20 ms a tick, plus ``lost_at``
    frames lost before a tick (a capture overrun: the loop's tick count falls behind)."""
    for tick in ticks:
        wall.now += (lost_at or {}).get(tick, 0) * TICK_S
        clock.mark(tick)
        wall.now += TICK_S + (jitter(tick) if jitter else 0.0)


def test_without_a_clock_wall_time_is_origin_plus_ticks_exactly():
    clock = WallClock(ORIGIN)
    for tick in (0, 1, 50, 3000, 4_320_000):
        clock.mark(tick)
        assert clock.wall_time(tick) == (ORIGIN + dt.timedelta(milliseconds=20 * tick)).timestamp()
        assert clock.datetime(tick) == ORIGIN + dt.timedelta(milliseconds=20 * tick)
    assert not clock.anchored and clock.anchors_taken == 0


def test_a_steady_box_keeps_one_anchor_and_the_clock_is_read_each_tick():
    wall = FakeWall(T0 + 100.0)
    clock = WallClock(ORIGIN, wall)
    run(clock, wall, range(0, 5000), jitter=lambda tick: 0.004 * (-1) ** tick)  # ±4 ms scheduling jitter
    assert wall.reads == 5000 and clock.anchors_taken == 1
    assert clock.wall_time(0) == T0 + 100.0
    assert clock.wall_time(4000) == pytest.approx(T0 + 100.0 + 80.0, abs=1e-6)


def test_lost_frames_shift_later_events_and_not_earlier_ones():
    """The drift of the issue: 3 s of frames lost in overruns; origin + tick × 20 ms is 3 s early
    after them, the anchored clock is within a tick of the wall clock at every tick, before and after."""
    wall = FakeWall(T0)
    clock = WallClock(ORIGIN, wall)
    lost = {1000: 50, 2000: 100}  # 1 s then 2 s of audio lost
    truth = {}
    for tick in range(3000):
        wall.now += lost.get(tick, 0) * TICK_S
        truth[tick] = wall.now
        clock.mark(tick)
        wall.now += TICK_S
    assert clock.anchors_taken == 3
    for tick in (0, 500, 999, 1000, 1500, 1999, 2000, 2999):
        assert abs(clock.wall_time(tick) - truth[tick]) <= TICK_S, tick  # asked long after, too
    assert truth[2999] - (T0 + 2999 * TICK_S) == pytest.approx(3.0, abs=1e-4)  # what the old arithmetic missed


@pytest.mark.parametrize("late_s,anchored", [(TOLERANCE_S - 0.001, False), (TOLERANCE_S + 0.001, True)])
def test_the_tolerance_is_one_tick_edges_included(late_s, anchored):
    wall = FakeWall(T0)
    clock = WallClock(ORIGIN, wall)
    clock.mark(0)
    wall.now = T0 + TICK_S + late_s
    clock.mark(1)
    assert clock.anchors_taken == (2 if anchored else 1)
    assert abs(clock.wall_time(1) - wall.now) <= TOLERANCE_S


def test_a_clock_stepped_back_is_slewed_to_and_time_never_runs_backwards():
    wall = FakeWall(T0)
    clock = WallClock(ORIGIN, wall)
    run(clock, wall, range(0, 100))
    wall.now -= 1.0  # stepped back one second
    run(clock, wall, range(100, 1200))
    times = [clock.wall_time(tick) for tick in range(0, 1200)]
    assert all(later > earlier for earlier, later in zip(times, times[1:], strict=False))
    steps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert min(steps) == pytest.approx(TICK_S * SLEW_RATE, abs=1e-5)  # slewing: 18 ms a tick, never less
    # 1 s at 2 ms a tick: caught up after 500 ticks, then on the wall clock again.
    assert clock.wall_time(1199) == pytest.approx(wall.now - TICK_S, abs=TOLERANCE_S)
    assert abs(clock.wall_time(700) - (T0 + 700 * TICK_S - 1.0)) <= TOLERANCE_S


def test_old_ticks_beyond_the_kept_anchors_are_extrapolated_from_the_oldest():
    wall = FakeWall(T0)
    clock = WallClock(ORIGIN, wall, max_anchors=2)
    run(clock, wall, range(0, 300), lost_at={100: 10, 200: 10})
    assert clock.anchors_taken == 3
    assert clock.wall_time(150) == pytest.approx(T0 + 150 * TICK_S + 0.2)
    assert clock.wall_time(50) == pytest.approx(T0 + 50 * TICK_S + 0.2)  # the first anchor is gone


def test_before_the_first_mark_and_datetimes_keep_the_origins_zone():
    zone = dt.timezone(dt.timedelta(hours=1))
    wall = FakeWall(T0 + 7.0)
    clock = WallClock(ORIGIN.astimezone(zone), wall)
    assert clock.wall_time(10) == pytest.approx(T0 + 0.2)  # not marked yet: the origin
    clock.mark(10)
    assert clock.wall_time(10) == T0 + 7.0
    assert clock.datetime(10).utcoffset() == dt.timedelta(hours=1)
    assert clock.datetime(10).timestamp() == pytest.approx(T0 + 7.0)


def test_origin_must_be_aware():
    with pytest.raises(ValueError, match="aware"):
        WallClock(dt.datetime(2026, 3, 2))
