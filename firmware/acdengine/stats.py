"""ACD statistics of the running box: live figures for the console, interval rows for the database.

:class:`AcdStats` puts a :class:`firmware.acd.stats.StatsCollector` on the live core's
listeners and follows the switch as an attached service (``Switch.attached``, after the
queue service so it sees the core's tick first). Engine time is the ACD's clock
(the tick's wall time, ``QueueService.wall_time``, epoch seconds). Every tick it checks whether a 15-minute edge
(aligned to ``utc_offset_seconds``) has passed; at an edge it calls
:meth:`AcdCore.checkpoint` so agent time so far is counted, then hands the closed intervals
to the history writer (a worker thread, :mod:`firmware.acdengine.history`): every queue and
agent for the 15 minutes just closed, plus the hour and the day when the edge ends one.
Rows are counters; definitions of the rates are in docs/acd.md ("Statistics").

The live reads (:meth:`queue_rows`, :meth:`agent_rows`) must run on the loop's thread (the
console passes them through its gateway): they checkpoint the core at the current tick and
return plain tuples; "today" is the day (UTC + ``utc_offset_seconds``) of the current tick.
Closed buckets older than two days are dropped from memory after they were written.

What survives a restart (:mod:`firmware.acdengine.persist`): the log-ins that changed are
handed to the writer at the end of each tick, the open bucket every ``checkpoint_s`` (60 s)
and at :meth:`close`; the saved state is restored when the statistics are built (at start).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from firmware import FirmwareError
from firmware.acd.agent_state import AgentState
from firmware.acd.stats import (
    DAY_SECONDS,
    HOUR_SECONDS,
    INTERVAL_SECONDS,
    AgentStats,
    QueueStats,
    StatsCollector,
)
from firmware.acdengine.decisions import RoutingHistory
from firmware.acdengine.history import (
    HistoryWriter,
    IntervalRow,
    IntervalStore,
    agent_counters,
    agent_stats_of,
    queue_counters,
    queue_stats_of,
    utc_text,
)
from firmware.acdengine.persist import CHECKPOINT_S, LoginSaver, OpenBucket, SavedState
from firmware.acdengine.service import QueueService
from firmware.engine.control import CallControlApi
from firmware.engine.services import AttachedService

# A day of 15-minute intervals: more than this closing at one edge is the clock stepped forward
# (a box without a real-time clock syncing its time), not time passing; then only the intervals
# that hold counters are written, so the media loop never walks years of empty intervals.
MAX_EDGE_BUCKETS = 96
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


class AcdStats(AttachedService):
    """Live statistics and interval rows of the ACD of one running switch."""

    def __init__(self, service: QueueService, history: HistoryWriter | None = None, utc_offset_seconds: float = 0.0,
                 saved: SavedState | None = None, checkpoint_s: float = CHECKPOINT_S) -> None:
        """``saved``: the state saved before a restart (persist.py), restored now (before the
        loop runs); with a ``history`` writer, log-ins and the open interval are saved."""
        self.service = service  # the QueueService (its core, clock and agents' ports)
        self.core = service.core
        self.collector = StatsCollector.for_config(self.core.config, utc_offset_seconds)
        self._config = self.core.config
        self.core.listeners.append(self.collector)
        self.decisions = RoutingHistory()  # the last routing traces, for `show routing`
        self.core.listeners.append(self.decisions)
        self.history = history
        self.log = service.log
        now = service.now()
        self.open_bucket = self.collector.bucket(now)
        self.checkpoint_s = checkpoint_s
        self.next_save = now + checkpoint_s
        self.logins: LoginSaver | None = None
        if history is not None:
            previous = {login.agent_id: login for login in saved.logins} if saved is not None else {}
            self.logins = LoginSaver(lambda: self.core.agents, lambda: service.agent_ports, previous)
            self.core.listeners.append(self.logins)
        if saved is not None:
            self._restore(saved, now)
        self._save_logins()

    # ------------------------------------------------------------------ attached service
    def on_tick(self, tick: int) -> None:
        if self.core.config is not self._config:  # reconfigured (live.py): new queues' service levels
            self._config = self.core.config
            self.collector.service_level_seconds.update({q.name: q.service_level_seconds for q in self._config.queues})
        now = self.service.wall_time(tick)
        self._advance(now)
        if self.logins is not None:
            if self.logins.dirty:
                self._save_logins()
            if now >= self.next_save:
                self.save_open(now)

    def _advance(self, now: float) -> None:
        """At a 15-minute edge: the intervals that closed go to the writer."""
        bucket = self.collector.bucket(now)
        if bucket <= self.open_bucket:
            return
        self.core.checkpoint(now)
        closing: range | list[int] = range(self.open_bucket, bucket)
        if len(closing) > MAX_EDGE_BUCKETS:
            held = {at for _, at in self.collector.queues} | {at for _, at in self.collector.agents}
            closing = sorted(at for at in held if self.open_bucket <= at < bucket)
            self.log.warning("clock_jump", intervals=bucket - self.open_bucket, written=len(closing))
        rows: list[IntervalRow] = []
        for closed in closing:
            rows += self.interval_rows(closed)
        self.open_bucket = bucket
        if self.history is not None:
            self.history.submit(rows)
        self._forget(bucket - KEEP_BUCKETS)

    def close(self) -> None:
        """A clean stop: every log-in and the open interval are saved (agent time up to now),
        what was handed over is written, the writer stops."""
        if self.history is None:
            return
        if self.logins is not None:
            now = self.service.now()
            self._advance(now)
            for change in self.logins.changes(everyone=True):
                self.history.submit_state(change)
            self.save_open(now)
        self.history.close()

    # ------------------------------------------------------------------ what survives a restart
    def _save_logins(self) -> None:
        if self.logins is not None and self.history is not None:
            for change in self.logins.changes():
                self.history.submit_state(change)

    def save_open(self, now: float) -> None:
        """Hands the open bucket's counters (agent time counted up to ``now``) to the writer."""
        self.next_save = now + self.checkpoint_s
        if self.history is None:
            return
        self.core.checkpoint(now)
        bucket, collector = self.open_bucket, self.collector
        queues = {name: queue_counters(stats) for (name, at), stats in collector.queues.items() if at == bucket}
        agents = {name: agent_counters(stats) for (name, at), stats in collector.agents.items() if at == bucket}
        self.history.submit_state(OpenBucket(collector.bucket_start(bucket), now, queues, agents))

    def _restore(self, saved: SavedState, now: float) -> None:
        """Counters of the saved day back in their buckets; an open interval that ended while
        the box was down written as closed (with its hour and day if they ended too); agents
        logged in again at their ports (docs/acd.md, "What a restart keeps")."""
        collector = self.collector
        opened = saved.open
        if opened is not None:
            bucket = collector.bucket(opened.start)
            if bucket > self.open_bucket:  # the clock went back: counters from the "future" are not mixed in
                self.log.warning("acd_state_ignored", reason="saved after now", saved_at=utc_text(opened.saved_at))
            else:
                closed = {collector.bucket(start) for _, _, start, _ in saved.closed}
                for kind, name, start, counters in saved.closed:
                    collector.add_bucket(kind, name, collector.bucket(start), _stats_of(kind, counters))
                if bucket not in closed:  # not written at its edge (a stop or a crash within it)
                    for name, counters in opened.queues.items():
                        collector.add_bucket("queue", name, bucket, queue_stats_of(counters))
                    for name, counters in opened.agents.items():
                        collector.add_bucket("agent", name, bucket, agent_stats_of(counters))
                if bucket < self.open_bucket and self.history is not None:
                    # Ended while the box was down: the interval, and its hour and day if they ended
                    # too (a row its edge wrote already is written again, the same).
                    self.history.submit(self.interval_rows(bucket, until_bucket=self.open_bucket))
                self.log.info("acd_state_restored", interval=utc_text(opened.start), saved_at=utc_text(opened.saved_at),
                              continued=bucket == self.open_bucket, buckets=len(closed | {bucket}))
        for login in saved.logins:
            try:
                self.service.restore_login(login)
            except FirmwareError as exc:
                self.log.warning("agent_login_not_restored", agent=login.agent_id, reason=str(exc))
                continue
            self.log.info("agent_login_restored", agent=login.agent_id, port=login.port,
                          paused=login.paused_reason or "", queues=",".join(login.queues))

    # ------------------------------------------------------------------ interval rows
    def interval_rows(self, bucket: int, until_bucket: int | None = None) -> list[IntervalRow]:
        """The rows that the end of bucket ``bucket`` closes: its 15 minutes, and the hour / day
        it ends. ``until_bucket`` (after a restart: the first bucket open now): also the hour and
        the day of ``bucket`` if they ended before that bucket began."""
        collector = self.collector
        offset = collector.utc_offset_seconds
        end = collector.bucket_start(bucket + 1)
        until = end if until_bucket is None else collector.bucket_start(until_bucket)
        periods = [(end - INTERVAL_SECONDS, INTERVAL_SECONDS)]
        for size in (HOUR_SECONDS, DAY_SECONDS):
            start = math.floor((end - 1 + offset) / size) * size - offset  # the hour / day holding the bucket
            if start + size <= until:
                periods.append((start, size))
        rows = []
        # Queues and agents removed by a reconfiguration still have counts in these buckets.
        queues = dict.fromkeys([*self.core.queues, *sorted({name for name, _ in collector.queues})])
        agents = dict.fromkeys([*self.core.agents, *sorted({name for name, _ in collector.agents})])
        for start, size in periods:
            for queue in queues:
                stats = collector.queue_stats(queue, start, start + size)
                if queue in self.core.queues or stats != QueueStats():
                    rows.append(IntervalRow("queue", queue, size, start, queue_counters(stats)))
            for agent in agents:
                stats = collector.agent_stats(agent, start, start + size)
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


def attach_stats(service: QueueService, db_path: str | Path, utc_offset_seconds: float = 0.0,
                 checkpoint_s: float = CHECKPOINT_S) -> AcdStats:
    """Statistics of ``service`` (a QueueService), interval rows to the database at ``db_path``;
    attached to the service's switch after the service. The state saved before a restart is
    read and restored here (at start, before the media loop runs) and saved from now on
    (persist.py). ``close()`` saves it and stops the writer."""
    writer = HistoryWriter(IntervalStore(db_path))
    try:
        saved = writer.state.load(utc_offset_seconds)
    except FirmwareError as exc:
        writer.log.error("acd_state_unreadable", error=str(exc))
        saved = None
    stats = AcdStats(service, writer, utc_offset_seconds, saved, checkpoint_s)
    # callbacks booked at a date: back from before the restart, and saved from now on (persist.py)
    service.callbacks.persist = writer.submit_state
    if saved is not None:
        service.callbacks.restore(saved.callbacks)
    service.sw.attached.append(stats)
    return stats


def _stats_of(kind: str, counters: dict[str, object]) -> QueueStats | AgentStats:
    return queue_stats_of(counters) if kind == "queue" else agent_stats_of(counters)
