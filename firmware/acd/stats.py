"""Queue and agent statistics, live and per interval (15 min / hour / day), from ACD events.

The collector listens to :class:`~firmware.acd.events.AcdEvent` s (from the core, or from a
parsed queue_log via :func:`firmware.acd.queue_log.event_for`) and sums counters in
15-minute buckets (aligned to ``utc_offset_seconds``); an hour or a day is the sum of its
buckets. Call outcomes count in the bucket where the wait *ended*; ``offered`` counts at
entry. Agent time is split exactly across bucket edges.

Definitions, for a queue and a period, with T the queue's ``service_level_seconds``
(Asterisk ``servicelevel``, "within T" means wait <= T):

* A = answered (CONNECT), A_T = answered within T; B = abandoned (ABANDON), B_T =
  abandoned within T; X = other exits (timeout, exit key, leave-when-empty).
* ``service_level`` = A_T / A (answered calls only; Asterisk's ``ServicelevelPerf``).
* ``service_level_offered`` = A_T / (A + B): every abandon counts as a miss.
* ``service_level_short_abandons_excluded`` = A_T / (A + B - B_T): a caller who hung up
  within T neither helps nor hurts.
* ``service_level_perf2`` = (A_T + B_T) / (A + B): Asterisk's ``ServicelevelPerf2``,
  short abandons count as met.
* ``asa_seconds`` = sum of answered waits / A (average speed of answer).
* ``abandon_rate`` = B / (A + B + X): abandoned among calls whose wait ended.
* ``aht_seconds`` = (talk + wrap-up) / completed calls; ``att_seconds`` = talk / completed.
* ``occupancy`` = busy / (busy + idle), busy = ringing + on call + wrap-up, idle =
  available; paused, logged-out and non-ACD-call time count in neither. For a queue, busy
  is the time spent on that queue's calls and idle the idle time of agents logged into it.

A ratio with a zero denominator is None (undefined), never 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from firmware import FirmwareError
from firmware.acd.agent_state import OTHER_BUSY, AgentState
from firmware.acd.events import AcdEvent, EventKind
from firmware.acd.model import AcdConfig

INTERVAL_SECONDS = 900  # the finest bucket: 15 minutes
HOUR_SECONDS = 3600
DAY_SECONDS = 86400
BUSY_STATES = frozenset({AgentState.RINGING.value, AgentState.ON_CALL.value, AgentState.WRAP_UP.value})
IDLE_STATE = AgentState.AVAILABLE.value
MAX_SPREAD_SECONDS = 2 * DAY_SECONDS  # see _spread: the buckets an engine keeps in memory (today and yesterday)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(slots=True)
class QueueStats:
    """Counters of one queue over a period; the rates are properties."""

    offered: int = 0
    refused: int = 0  # join refused (joinempty, full)
    answered: int = 0
    answered_in_sl: int = 0
    abandoned: int = 0
    abandoned_in_sl: int = 0
    timeouts: int = 0
    exit_key: int = 0
    exit_empty: int = 0
    completed: int = 0
    ring_no_answer: int = 0
    answered_wait_seconds: float = 0.0
    abandoned_wait_seconds: float = 0.0
    longest_answered_wait_seconds: float = 0.0
    talk_seconds: float = 0.0
    wrapup_seconds: float = 0.0
    busy_seconds: float = 0.0
    idle_seconds: float = 0.0

    def add(self, other: QueueStats) -> None:
        for f in fields(self):
            if f.name == "longest_answered_wait_seconds":
                self.longest_answered_wait_seconds = max(self.longest_answered_wait_seconds, other.longest_answered_wait_seconds)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def other_exits(self) -> int:
        return self.timeouts + self.exit_key + self.exit_empty

    @property
    def service_level(self) -> float | None:
        return _ratio(self.answered_in_sl, self.answered)

    @property
    def service_level_offered(self) -> float | None:
        return _ratio(self.answered_in_sl, self.answered + self.abandoned)

    @property
    def service_level_short_abandons_excluded(self) -> float | None:
        return _ratio(self.answered_in_sl, self.answered + self.abandoned - self.abandoned_in_sl)

    @property
    def service_level_perf2(self) -> float | None:
        return _ratio(self.answered_in_sl + self.abandoned_in_sl, self.answered + self.abandoned)

    @property
    def asa_seconds(self) -> float | None:
        return _ratio(self.answered_wait_seconds, self.answered)

    @property
    def abandon_rate(self) -> float | None:
        return _ratio(self.abandoned, self.answered + self.abandoned + self.other_exits)

    @property
    def aht_seconds(self) -> float | None:
        return _ratio(self.talk_seconds + self.wrapup_seconds, self.completed)

    @property
    def att_seconds(self) -> float | None:
        return _ratio(self.talk_seconds, self.completed)

    @property
    def occupancy(self) -> float | None:
        return _ratio(self.busy_seconds, self.busy_seconds + self.idle_seconds)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in (
            "service_level",
            "service_level_offered",
            "service_level_short_abandons_excluded",
            "service_level_perf2",
            "asa_seconds",
            "abandon_rate",
            "aht_seconds",
            "att_seconds",
            "occupancy",
        ):
            out[name] = getattr(self, name)
        return out


@dataclass(slots=True)
class AgentStats:
    """One agent (or all agents summed) over a period."""

    answered: int = 0
    completed: int = 0
    ring_no_answer: int = 0
    talk_seconds: float = 0.0
    state_seconds: dict[str, float] = field(default_factory=dict)  # activity -> seconds

    def add(self, other: AgentStats) -> None:
        self.answered += other.answered
        self.completed += other.completed
        self.ring_no_answer += other.ring_no_answer
        self.talk_seconds += other.talk_seconds
        for state, seconds in other.state_seconds.items():
            self.state_seconds[state] = self.state_seconds.get(state, 0.0) + seconds

    @property
    def busy_seconds(self) -> float:
        return sum(self.state_seconds.get(state, 0.0) for state in BUSY_STATES)

    @property
    def idle_seconds(self) -> float:
        return self.state_seconds.get(IDLE_STATE, 0.0)

    @property
    def wrapup_seconds(self) -> float:
        return self.state_seconds.get(AgentState.WRAP_UP.value, 0.0)

    @property
    def paused_seconds(self) -> float:
        return self.state_seconds.get(AgentState.PAUSED.value, 0.0)

    @property
    def other_busy_seconds(self) -> float:
        return self.state_seconds.get(OTHER_BUSY, 0.0)

    @property
    def occupancy(self) -> float | None:
        return _ratio(self.busy_seconds, self.busy_seconds + self.idle_seconds)

    @property
    def aht_seconds(self) -> float | None:
        return _ratio(self.talk_seconds + self.wrapup_seconds, self.completed)

    def as_dict(self) -> dict[str, object]:
        return {
            "answered": self.answered,
            "completed": self.completed,
            "ring_no_answer": self.ring_no_answer,
            "talk_seconds": self.talk_seconds,
            "state_seconds": dict(self.state_seconds),
            "occupancy": self.occupancy,
            "aht_seconds": self.aht_seconds,
        }


class StatsCollector:
    """An ACD listener summing queue and agent counters in 15-minute buckets."""

    def __init__(
        self,
        service_level_seconds: Mapping[str, float] | None = None,
        default_service_level_seconds: float = 20.0,
        utc_offset_seconds: float = 0.0,
    ) -> None:
        self.service_level_seconds = dict(service_level_seconds or {})
        self.default_service_level_seconds = default_service_level_seconds
        self.utc_offset_seconds = utc_offset_seconds
        self.queues: dict[tuple[str, int], QueueStats] = {}
        self.agents: dict[tuple[str, int], AgentStats] = {}
        self.current: dict[str, tuple[str, float]] = {}  # agent -> (activity, since)
        self._handlers = {
            EventKind.ENTERQUEUE: self._enter,
            EventKind.JOINEMPTY: self._refused,
            EventKind.FULL: self._refused,
            EventKind.CONNECT: self._connect,
            EventKind.COMPLETECALLER: self._complete,
            EventKind.COMPLETEAGENT: self._complete,
            EventKind.ABANDON: self._abandon,
            EventKind.EXITWITHTIMEOUT: self._exit,
            EventKind.EXITWITHKEY: self._exit,
            EventKind.EXITEMPTY: self._exit,
            EventKind.RINGNOANSWER: self._ring_no_answer,
            EventKind.AGENTSTATE: self._agent_state,
        }

    @classmethod
    def for_config(cls, config: AcdConfig, utc_offset_seconds: float = 0.0) -> StatsCollector:
        return cls({q.name: q.service_level_seconds for q in config.queues}, utc_offset_seconds=utc_offset_seconds)

    # ------------------------------------------------------------------ intake

    def bucket(self, time: float) -> int:
        return math.floor((time + self.utc_offset_seconds) / INTERVAL_SECONDS)

    def bucket_start(self, bucket: int) -> float:
        return bucket * INTERVAL_SECONDS - self.utc_offset_seconds

    def _queue(self, queue: str, time: float) -> QueueStats:
        key = (queue, self.bucket(time))
        stats = self.queues.get(key)
        if stats is None:
            stats = self.queues[key] = QueueStats()
        return stats

    def _agent(self, agent: str, time: float) -> AgentStats:
        key = (agent, self.bucket(time))
        stats = self.agents.get(key)
        if stats is None:
            stats = self.agents[key] = AgentStats()
        return stats

    def add_bucket(self, kind: str, name: str, bucket: int, stats: QueueStats | AgentStats) -> None:
        """Adds counters saved earlier (a restart) to bucket ``bucket`` of queue or agent ``name``."""
        if kind == "queue" and isinstance(stats, QueueStats):
            self.queues.setdefault((name, bucket), QueueStats()).add(stats)
        elif kind == "agent" and isinstance(stats, AgentStats):
            self.agents.setdefault((name, bucket), AgentStats()).add(stats)
        else:
            raise FirmwareError(f"stats: {kind} counters of {name} do not match their kind")

    def on_event(self, event: AcdEvent) -> None:
        handler = self._handlers.get(event.kind)
        if handler is not None:
            handler(event)

    def _sl(self, queue: str) -> float:
        return self.service_level_seconds.get(queue, self.default_service_level_seconds)

    def _enter(self, event: AcdEvent) -> None:
        self._queue(event.queue, event.time).offered += 1

    def _refused(self, event: AcdEvent) -> None:
        self._queue(event.queue, event.time).refused += 1

    def _connect(self, event: AcdEvent) -> None:
        stats = self._queue(event.queue, event.time)
        stats.answered += 1
        stats.answered_wait_seconds += event.wait
        if event.wait <= self._sl(event.queue):
            stats.answered_in_sl += 1
        if event.wait > stats.longest_answered_wait_seconds:
            stats.longest_answered_wait_seconds = event.wait
        if event.agent != "NONE":
            self._agent(event.agent, event.time).answered += 1

    def _complete(self, event: AcdEvent) -> None:
        stats = self._queue(event.queue, event.time)
        stats.completed += 1
        stats.talk_seconds += event.talk
        agent = self._agent(event.agent, event.time)
        agent.completed += 1
        agent.talk_seconds += event.talk

    def _abandon(self, event: AcdEvent) -> None:
        stats = self._queue(event.queue, event.time)
        stats.abandoned += 1
        stats.abandoned_wait_seconds += event.wait
        if event.wait <= self._sl(event.queue):
            stats.abandoned_in_sl += 1

    def _exit(self, event: AcdEvent) -> None:
        stats = self._queue(event.queue, event.time)
        if event.kind is EventKind.EXITWITHTIMEOUT:
            stats.timeouts += 1
        elif event.kind is EventKind.EXITWITHKEY:
            stats.exit_key += 1
        else:
            stats.exit_empty += 1

    def _ring_no_answer(self, event: AcdEvent) -> None:
        self._queue(event.queue, event.time).ring_no_answer += 1
        self._agent(event.agent, event.time).ring_no_answer += 1

    def _agent_state(self, event: AcdEvent) -> None:
        self.current[event.agent] = (event.to_state, event.time)
        if event.duration > 0:
            self._spread(event.agent, event.from_state, event.time - event.duration, event.time, event.work_queue, event.queues)

    def _spread(self, agent: str, activity: str, start: float, end: float, work_queue: str, queues: tuple[str, ...]) -> None:
        """Adds ``[start, end)`` in ``activity`` to the agent's and queues' buckets."""
        # Time is accounted at every 15-minute edge (the engine's checkpoint), so a longer span is
        # the wall clock stepped forward (a box without a real-time clock syncing its time): only
        # the last MAX_SPREAD_SECONDS of it are spread, never years of quarter hours.
        start = max(start, end - MAX_SPREAD_SECONDS)
        busy = activity in BUSY_STATES
        idle = activity == IDLE_STATE
        wrapup = activity == AgentState.WRAP_UP.value
        while start < end:
            bucket = self.bucket(start)
            stop = min(end, self.bucket_start(bucket + 1))
            if stop <= start:  # float rounding at an edge
                stop = end
            seconds = stop - start
            stats = self._agent(agent, start)
            stats.state_seconds[activity] = stats.state_seconds.get(activity, 0.0) + seconds
            if busy and work_queue:
                queue_stats = self._queue(work_queue, start)
                queue_stats.busy_seconds += seconds
                if wrapup:
                    queue_stats.wrapup_seconds += seconds
            elif idle:
                for queue in queues:
                    self._queue(queue, start).idle_seconds += seconds
            start = stop

    # ----------------------------------------------------------------- queries

    def _range(self, start: float | None, end: float | None) -> tuple[float, float]:
        low = -math.inf if start is None else self.bucket(start)
        high = math.inf if end is None else self.bucket(end)
        return low, high

    def queue_stats(self, queue: str | None = None, start: float | None = None, end: float | None = None) -> QueueStats:
        """Sum over buckets starting in [start, end) (None: unbounded); queue None = all queues."""
        low, high = self._range(start, end)
        total = QueueStats()
        for (name, bucket), stats in self.queues.items():
            if (queue is None or name == queue) and low <= bucket < high:
                total.add(stats)
        return total

    def agent_stats(self, agent: str | None = None, start: float | None = None, end: float | None = None) -> AgentStats:
        """Sum over buckets starting in [start, end); agent None = all agents."""
        low, high = self._range(start, end)
        total = AgentStats()
        for (name, bucket), stats in self.agents.items():
            if (agent is None or name == agent) and low <= bucket < high:
                total.add(stats)
        return total

    def queue_intervals(self, queue: str, size_seconds: int, start: float, end: float) -> list[tuple[float, QueueStats]]:
        """(interval start, stats) rows of ``size_seconds`` (900, 3600 or 86400) covering [start, end)."""
        if size_seconds <= 0 or size_seconds % INTERVAL_SECONDS:
            raise FirmwareError(f"stats: interval must be a multiple of {INTERVAL_SECONDS} s")
        rows = []
        first = math.floor((start + self.utc_offset_seconds) / size_seconds) * size_seconds - self.utc_offset_seconds
        at = first
        while at < end:
            rows.append((at, self.queue_stats(queue, at, at + size_seconds)))
            at += size_seconds
        return rows

    def current_activity_seconds(self, agent: str, now: float) -> tuple[str, float]:
        """What the agent is doing and for how long (live view)."""
        activity, since = self.current.get(agent, (AgentState.LOGGED_OUT.value, now))
        return activity, now - since
