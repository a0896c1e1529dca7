"""ACD statistics of the running box: live figures for the console, interval rows for the database.

:class:`AcdStats` puts a :class:`firmware.acd.stats.StatsCollector` on the live core's
listeners and follows the switch as an attached service (``Switch.attached``, after the
queue service so it sees the core's tick first). Engine time is the ACD's clock
(``origin + tick × 20 ms``, epoch seconds). Every tick it checks whether a 15-minute edge
(aligned to ``utc_offset_seconds``) has passed; at an edge it calls
:meth:`AcdCore.checkpoint` so agent time so far is counted, then hands the closed intervals
to the history writer (a worker thread, :mod:`firmware.acdengine.history`): every queue and
agent for the 15 minutes just closed, plus the hour and the day when the edge ends one.
Rows are counters; definitions of the rates are in docs/acd.md ("Statistics").

The live reads (:meth:`queue_rows`, :meth:`agent_rows`) must run on the loop's thread (the
console passes them through its gateway): they checkpoint the core at the current tick and
return plain tuples; "today" is the day (UTC + ``utc_offset_seconds``) of the current tick.
Closed buckets older than two days are dropped from memory after they were written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from drivers.audio import TICK_MS
from firmware.acd.agent_state import AgentState
from firmware.acd.stats import DAY_SECONDS, HOUR_SECONDS, INTERVAL_SECONDS, QueueStats, StatsCollector
from firmware.acdengine.decisions import RoutingHistory
from firmware.acdengine.history import (
    HistoryWriter,
    IntervalRow,
    IntervalStore,
    agent_counters,
    queue_counters,
)
from firmware.acdengine.service import QueueService
from firmware.engine.calls import Call
from firmware.engine.control import CallControlApi

TICK_S = TICK_MS / 1000.0
KEEP_BUCKETS = 2 * DAY_SECONDS // INTERVAL_SECONDS  # buckets kept in memory: today and yesterday
AGENT_COLUMNS = ("available", "ringing", "oncall", "wrapup", "paused", "otherbusy", "loggedout")


@dataclass(frozen=True)
class QueueLive:
    queue: str
    waiting: int
    longest_wait_seconds: float
    agents: dict[str, int]  # activity (AgentState value or otherbusy) -> members
    offered: int  # today
    answered: int
    abandoned: int
    service_level: float | None  # answered within T / answered
    service_level_offered: float | None  # answered within T / (answered + abandoned)
    asa_seconds: float | None
    aht_seconds: float | None
    abandon_rate: float | None


@dataclass(frozen=True)
class AgentLive:
    agent: str
    state: str
    since_seconds: float  # in this state for
    answered: int  # today
    talk_seconds: float
    occupancy: float | None
    pause_reason: str
    port: int | None


class AcdStats:
    """Live statistics and interval rows of the ACD of one running switch."""

    def __init__(self, service: QueueService, history: HistoryWriter | None = None, utc_offset_seconds: float = 0.0) -> None:
        self.service = service  # the QueueService (its core, clock and agents' ports)
        self.core = service.core
        self.collector = StatsCollector.for_config(self.core.config, utc_offset_seconds)
        self._config = self.core.config
        self.core.listeners.append(self.collector)
        self.decisions = RoutingHistory()  # the last routing traces, for `show routing`
        self.core.listeners.append(self.decisions)
        self.history = history
        now = service.now()
        self.open_bucket = self.collector.bucket(now)

    # ------------------------------------------------------------------ attached service
    def on_tick(self, tick: int) -> None:
        if self.core.config is not self._config:  # reconfigured (live.py): new queues' service levels
            self._config = self.core.config
            self.collector.service_level_seconds.update({q.name: q.service_level_seconds for q in self._config.queues})
        now = self.service.origin_epoch + tick * TICK_S
        bucket = self.collector.bucket(now)
        if bucket <= self.open_bucket:
            return
        self.core.checkpoint(now)
        rows: list[IntervalRow] = []
        for closed in range(self.open_bucket, bucket):
            rows += self.interval_rows(closed)
        self.open_bucket = bucket
        if self.history is not None:
            self.history.submit(rows)
        self._forget(bucket - KEEP_BUCKETS)

    def on_flash(self, port: int) -> bool:
        return False

    def on_digit(self, port: int, digit: str) -> bool:
        return False

    def answered(self, call: Call, port: int) -> None:
        return None

    def before_end(self, call: Call) -> None:
        return None

    def close(self) -> None:
        """Writes what was handed over, stops the writer (the interval in progress is not written)."""
        if self.history is not None:
            self.history.close()

    # ------------------------------------------------------------------ interval rows
    def interval_rows(self, bucket: int) -> list[IntervalRow]:
        """The rows that bucket ``bucket`` closes: its 15 minutes, and the hour / day it ends."""
        collector = self.collector
        end = collector.bucket_start(bucket + 1)
        local_end = round(end + collector.utc_offset_seconds)
        sizes = [INTERVAL_SECONDS] + [size for size in (HOUR_SECONDS, DAY_SECONDS) if local_end % size == 0]
        rows = []
        # Queues and agents removed by a reconfiguration still have counts in these buckets.
        queues = dict.fromkeys([*self.core.queues, *sorted({name for name, _ in collector.queues})])
        agents = dict.fromkeys([*self.core.agents, *sorted({name for name, _ in collector.agents})])
        for size in sizes:
            start = end - size
            for queue in queues:
                stats = collector.queue_stats(queue, start, end)
                if queue in self.core.queues or stats != QueueStats():
                    rows.append(IntervalRow("queue", queue, size, start, queue_counters(stats)))
            for agent in agents:
                stats = collector.agent_stats(agent, start, end)
                if stats.state_seconds or stats.answered or stats.completed or stats.ring_no_answer:
                    rows.append(IntervalRow("agent", agent, size, start, agent_counters(stats)))
        return rows

    def _forget(self, before_bucket: int) -> None:
        collector = self.collector
        for key in [key for key in collector.queues if key[1] < before_bucket]:
            del collector.queues[key]
        for key in [key for key in collector.agents if key[1] < before_bucket]:
            del collector.agents[key]

    # ------------------------------------------------------------------ live (loop thread)
    def _today(self, now: float) -> float:
        offset = self.collector.utc_offset_seconds
        return math.floor((now + offset) / DAY_SECONDS) * DAY_SECONDS - offset

    def queue_rows(self) -> list[QueueLive]:
        now = self.service.now()
        self.core.checkpoint(now)
        today = self._today(now)
        rows = []
        for queue in self.core.queues:
            snapshot = self.core.queue_snapshot(queue, now)
            stats = self.collector.queue_stats(queue, today, None)
            rows.append(QueueLive(queue, int(snapshot["waiting"]), float(snapshot["longest_wait_seconds"] or 0.0),
                                  dict(snapshot["agents"]), stats.offered, stats.answered, stats.abandoned,
                                  stats.service_level, stats.service_level_offered, stats.asa_seconds,
                                  stats.aht_seconds, stats.abandon_rate))
        return rows

    def agent_rows(self) -> list[AgentLive]:
        now = self.service.now()
        self.core.checkpoint(now)
        today = self._today(now)
        rows = []
        for agent_id, agent in self.core.agents.items():
            stats = self.collector.agent_stats(agent_id, today, None)
            paused = agent.state is AgentState.PAUSED
            rows.append(AgentLive(agent_id, agent.current_activity(), max(0.0, now - agent.state_since),
                                  stats.answered, stats.talk_seconds, stats.occupancy,
                                  agent.paused_reason if paused else "", self.service.agent_ports.get(agent_id)))
        return rows


def find_stats(switch: CallControlApi) -> AcdStats | None:
    """The :class:`AcdStats` attached to ``switch``, if the box has an ACD."""
    for service in switch.attached:
        if isinstance(service, AcdStats):
            return service
    return None


def attach_stats(service: QueueService, db_path: str | Path, utc_offset_seconds: float = 0.0) -> AcdStats:
    """Statistics of ``service`` (a QueueService), interval rows to the database at ``db_path``;
    attached to the service's switch after the service. ``close()`` stops the writer."""
    stats = AcdStats(service, HistoryWriter(IntervalStore(db_path)), utc_offset_seconds)
    service.sw.attached.append(stats)
    return stats
