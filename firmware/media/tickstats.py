"""Per-tick processing time of the media loop: p50/p99/max and missed deadlines.

The loop has 20 ms per tick; a tick whose processing takes longer is a missed deadline
(audio glitches on every port). The times are measured with a clock passed in (the
engine passes ``time.perf_counter``); the statistics keep a window of recent ticks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TICK_BUDGET_MS = 20.0  # one audio period of 160 samples at 8 kHz


@dataclass(frozen=True)
class TickSummary:
    ticks: int
    tick_p50_ms: float
    tick_p99_ms: float
    tick_max_ms: float
    deadline_misses: int


class TickStats:
    def __init__(self, window: int = 3000, budget_ms: float = TICK_BUDGET_MS) -> None:
        self.budget_ms = budget_ms
        self._recent = np.zeros(window, dtype=np.float64)
        self._count = 0
        self._misses = 0
        self._max_ms = 0.0

    def record(self, elapsed_ms: float) -> None:
        self._recent[self._count % len(self._recent)] = elapsed_ms
        self._count += 1
        self._max_ms = max(self._max_ms, elapsed_ms)
        if elapsed_ms > self.budget_ms:
            self._misses += 1

    def summary(self) -> TickSummary:
        window = self._recent[: min(self._count, len(self._recent))]
        if window.size == 0:
            return TickSummary(0, 0.0, 0.0, 0.0, 0)
        p50, p99 = np.percentile(window, [50.0, 99.0])
        return TickSummary(self._count, float(p50), float(p99), self._max_ms, self._misses)
