"""Wall time of an audio tick: the clock anchored at the media loop's edge.

The engine counts 20 ms ticks of the audio clock; nothing in its logic reads a clock. Call
records, the queue_log and ACD statistics still need the wall time at which an event
happened. ``origin + tick × 20 ms`` drifts away from it as soon as the loop loses ticks
(a capture overrun drops frames the loop never counts, a missed deadline makes the board
skip ahead): after a busy minute, answer and end times were seconds early.

:class:`WallClock` fixes that with anchors. The media loop calls :meth:`WallClock.mark`
with each tick right after reading its frame, the one place where a clock is read (the
function ``read_wall`` is passed in by the composition root, e.g. ``time.time``). Between
anchors wall time advances 20 ms a tick; a new anchor is taken only when the clock read
disagrees with that by more than :data:`TOLERANCE_S` (one tick), so a steady box keeps
one anchor and a slow one gets an anchor at each slip. :meth:`wall_time` of any tick
(the present one or one minutes old, like a call's start) answers from the anchor in
force at that tick, so no event is off by more than a tick from the clock read at it.

Wall time never runs backwards (a call's end is never before its answer): a clock read
that is late moves the anchor at once (the ticks really happened later), one that is
early (the clock was stepped back, or the loop has caught up with a backlog) is followed
by slewing: wall time then runs at :data:`SLEW_RATE` of the audio clock until it meets
the clock again.

Without ``read_wall`` (unpaced or simulated runs, a box told its origin) wall time is
``origin + tick × 20 ms`` exactly, as before: deterministic.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections import deque
from collections.abc import Callable

from drivers.audio import TICK_MS

TICK_S = TICK_MS / 1000.0
TOLERANCE_S = TICK_S  # a clock read more than a tick away from the anchor's line takes a new anchor
SLEW_RATE = 0.9  # wall seconds per audio second while catching up with a clock stepped back
MAX_ANCHORS = 65536  # anchors kept (a tick older than the oldest is extrapolated from it)


class WallClock:
    """Tick -> epoch seconds. ``read_wall``: the clock read by :meth:`mark` (None: arithmetic)."""

    def __init__(self, origin: dt.datetime, read_wall: Callable[[], float] | None = None,
                 max_anchors: int = MAX_ANCHORS) -> None:
        if origin.tzinfo is None:
            raise ValueError("origin must be an aware datetime")
        self.origin = origin
        self._read_wall = read_wall
        # Anchors: (tick, wall seconds at that tick, wall seconds per tick from there on).
        self._ticks: deque[int] = deque(maxlen=max_anchors)
        self._anchors: deque[tuple[float, float]] = deque(maxlen=max_anchors)
        self.anchors_taken = 0  # how many times the clock disagreed (a figure for stats and tests)

    @property
    def anchored(self) -> bool:
        return self._read_wall is not None

    def mark(self, tick: int) -> None:
        """The media loop has just read tick ``tick``'s frame: compare with the wall clock."""
        if self._read_wall is None:
            return
        wall = float(self._read_wall())
        if not self._ticks:
            self._anchor(tick, wall, TICK_S)
            return
        predicted = self.wall_time(tick)
        _, rate = self._anchors[-1]
        if wall > predicted + TOLERANCE_S or (rate < TICK_S and wall >= predicted):
            self._anchor(tick, wall, TICK_S)  # late (ticks lost), or a slew has met the clock
        elif wall < predicted - TOLERANCE_S and rate == TICK_S:
            self._anchor(tick, predicted, TICK_S * SLEW_RATE)  # early: slew, never step back

    def _anchor(self, tick: int, wall: float, rate: float) -> None:
        if self._ticks and self._ticks[-1] >= tick:  # a tick marked again: its anchor is replaced
            while self._ticks and self._ticks[-1] >= tick:
                self._ticks.pop()
                self._anchors.pop()
        self._ticks.append(tick)
        self._anchors.append((wall, rate))
        self.anchors_taken += 1

    def advance(self, delta: dt.timedelta) -> None:
        """Moves wall time forward by ``delta`` from now on and for every tick (a simulation going
        to another day without running the ticks in between; a box's own clock is the wall)."""
        self.origin += delta
        seconds = delta.total_seconds()
        self._anchors = deque(((wall + seconds, rate) for wall, rate in self._anchors), maxlen=self._anchors.maxlen)

    def wall_time(self, tick: int) -> float:
        """Epoch seconds at which ``tick`` happened (a future tick: as the clock runs now)."""
        if not self._ticks:
            return (self.origin + dt.timedelta(milliseconds=tick * TICK_MS)).timestamp()
        if tick >= self._ticks[-1]:  # the present (every tick asks for it): no search of the deque
            wall, rate = self._anchors[-1]
            return wall + (tick - self._ticks[-1]) * rate
        index = max(0, bisect.bisect_right(self._ticks, tick) - 1)
        wall, rate = self._anchors[index]
        return wall + (tick - self._ticks[index]) * rate

    def datetime(self, tick: int) -> dt.datetime:
        """:meth:`wall_time` as an aware datetime in the origin's time zone."""
        if not self._ticks:
            return self.origin + dt.timedelta(milliseconds=tick * TICK_MS)
        return dt.datetime.fromtimestamp(self.wall_time(tick), self.origin.tzinfo)
