"""Timers on the audio clock: ``schedule(at_tick, key)``, ``due(now_tick)``.

A timer is identified by ``(port, name)``; scheduling the same key again replaces it, and
``cancel`` forgets it, so a stale timer never fires into a newer state.
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable


class Timers:
    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Hashable]] = []
        self._live: dict[Hashable, int] = {}  # key -> sequence number of its live entry
        self._sequence = 0

    def schedule(self, at_tick: int, key: Hashable) -> None:
        self._sequence += 1
        self._live[key] = self._sequence
        heapq.heappush(self._heap, (at_tick, self._sequence, key))

    def cancel(self, key: Hashable) -> None:
        self._live.pop(key, None)

    def pending(self, key: Hashable) -> bool:
        return key in self._live

    def due(self, now_tick: int) -> list[Hashable]:
        """Keys whose time has come, in time order; each fires once."""
        fired = []
        while self._heap and self._heap[0][0] <= now_tick:
            _, sequence, key = heapq.heappop(self._heap)
            if self._live.get(key) == sequence:
                del self._live[key]
                fired.append(key)
        return fired

    def __len__(self) -> int:
        return len(self._live)
