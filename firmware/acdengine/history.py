"""ACD interval statistics in the box's database: one row per queue or agent per interval.

Table ``acd_intervals`` (component ``acd_history`` of :func:`firmware.config.db.migrate`,
its own versioned migrations) in the same SQLite file as the configuration and the call
records, opened by :func:`firmware.config.db.connect` (WAL, ``synchronous=FULL``: a row is
on disk once its COMMIT returns, so a power cut right after keeps it). A row holds the
counters of :class:`~firmware.acd.stats.QueueStats` or :class:`~firmware.acd.stats.AgentStats`
as JSON; the rates (service level, ASA, AHT, abandon rate, occupancy; docs/acd.md) are
computed from the counters when read, so they are never stored twice. Interval sizes:
900 s, 3600 s and 86400 s; ``start`` is epoch seconds (UTC) of the interval's beginning.

:class:`HistoryWriter` writes batches of rows on a :class:`firmware.engine.worker.Worker`
thread: the media loop hands rows over at an interval edge and never waits for the disk.
A batch is one transaction (all the rows of an edge, or none). The same worker writes the
state that survives a restart (:mod:`firmware.acdengine.persist`), in the order handed over.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.acd.stats import DAY_SECONDS, HOUR_SECONDS, INTERVAL_SECONDS, AgentStats, QueueStats
from firmware.acdengine.persist import CALLBACKS_MIGRATION, StateChange, StateStore
from firmware.acdengine.persist import MIGRATION as STATE_MIGRATION
from firmware.config.db import Migration, connect, migrate, transaction
from firmware.engine.worker import Worker

COMPONENT = "acd_history"
SIZES_SECONDS = (INTERVAL_SECONDS, HOUR_SECONDS, DAY_SECONDS)
KINDS = ("queue", "agent")

MIGRATIONS = (
    Migration(1, "ACD interval statistics per queue and agent", (
        "CREATE TABLE acd_intervals ("
        " kind TEXT NOT NULL CHECK (kind IN ('queue', 'agent')),"
        " name TEXT NOT NULL,"
        " size_seconds INTEGER NOT NULL CHECK (size_seconds IN (900, 3600, 86400)),"
        " start REAL NOT NULL,"
        " start_utc TEXT NOT NULL,"
        " counters TEXT NOT NULL,"
        " PRIMARY KEY (kind, name, size_seconds, start))",
        "CREATE INDEX acd_intervals_by_time ON acd_intervals (size_seconds, start)",
    )),
    STATE_MIGRATION,  # 2: log-ins and the open interval (persist.py)
    CALLBACKS_MIGRATION,  # 3: callbacks booked at a date (persist.py)
)


@dataclass(frozen=True)
class IntervalRow:
    kind: str  # "queue" or "agent"
    name: str  # queue name or agent id
    size_seconds: int  # 900, 3600 or 86400
    start: float  # epoch seconds (UTC)
    counters: dict[str, object]  # QueueStats / AgentStats fields

    def validate(self) -> IntervalRow:
        if self.kind not in KINDS:
            raise FirmwareError(f"acd history: row kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.size_seconds not in SIZES_SECONDS:
            raise FirmwareError(f"acd history: interval must be 900, 3600 or 86400 s, got {self.size_seconds}")
        return self


def utc_text(epoch_seconds: float) -> str:
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).isoformat(timespec="seconds")


def queue_counters(stats: QueueStats) -> dict[str, object]:
    return {f.name: getattr(stats, f.name) for f in fields(stats)}


def agent_counters(stats: AgentStats) -> dict[str, object]:
    return {"answered": stats.answered, "completed": stats.completed, "ring_no_answer": stats.ring_no_answer,
            "talk_seconds": stats.talk_seconds, "state_seconds": dict(stats.state_seconds)}


def queue_stats_of(counters: dict[str, object]) -> QueueStats:
    known = {f.name for f in fields(QueueStats)}
    return QueueStats(**{key: value for key, value in counters.items() if key in known})  # type: ignore[arg-type]


def agent_stats_of(counters: dict[str, object]) -> AgentStats:
    return AgentStats(int(counters.get("answered", 0)), int(counters.get("completed", 0)),  # type: ignore[arg-type]
                      int(counters.get("ring_no_answer", 0)), float(counters.get("talk_seconds", 0.0)),  # type: ignore[arg-type]
                      dict(counters.get("state_seconds", {})))  # type: ignore[arg-type]


class IntervalStore:
    """The ``acd_intervals`` table of one database file (migrated when opened)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.conn = connect(self.path)
        try:
            migrate(self.conn, COMPONENT, MIGRATIONS)
        except FirmwareError:
            self.conn.close()
            raise

    def write(self, rows: Sequence[IntervalRow]) -> None:
        """All ``rows`` in one transaction; a row already there (same interval) is replaced."""
        checked = [row.validate() for row in rows]
        try:
            with transaction(self.conn):
                self.conn.executemany(
                    "INSERT OR REPLACE INTO acd_intervals (kind, name, size_seconds, start, start_utc, counters)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(row.kind, row.name, row.size_seconds, row.start, utc_text(row.start),
                      json.dumps(row.counters, sort_keys=True)) for row in checked])
        except sqlite3.Error as exc:
            raise FirmwareError(f"acd history: cannot write {len(checked)} rows to {self.path}: {exc}") from exc

    def rows(self, kind: str, name: str, size_seconds: int, since: float | None = None,
             until: float | None = None) -> list[IntervalRow]:
        """Rows of one queue or agent whose interval starts in [since, until), oldest first."""
        IntervalRow(kind, name, size_seconds, 0.0, {}).validate()
        low = -1e18 if since is None else since
        high = 1e18 if until is None else until
        try:
            found = self.conn.execute(
                "SELECT start, counters FROM acd_intervals WHERE kind = ? AND name = ? AND size_seconds = ?"
                " AND start >= ? AND start < ? ORDER BY start", (kind, name, size_seconds, low, high)).fetchall()
        except sqlite3.Error as exc:
            raise FirmwareError(f"acd history: cannot read {self.path}: {exc}") from exc
        return [IntervalRow(kind, name, size_seconds, float(start), json.loads(text)) for start, text in found]

    def names(self, kind: str) -> list[str]:
        return [name for (name,) in self.conn.execute(
            "SELECT DISTINCT name FROM acd_intervals WHERE kind = ? ORDER BY name", (kind,))]

    def queue_rows(self, queue: str, size_seconds: int, since: float | None = None,
                   until: float | None = None) -> list[tuple[float, QueueStats]]:
        return [(row.start, queue_stats_of(row.counters)) for row in self.rows("queue", queue, size_seconds, since, until)]

    def agent_rows(self, agent: str, size_seconds: int, since: float | None = None,
                   until: float | None = None) -> list[tuple[float, AgentStats]]:
        return [(row.start, agent_stats_of(row.counters)) for row in self.rows("agent", agent, size_seconds, since, until)]

    def close(self) -> None:
        self.conn.close()


class HistoryWriter:
    """Writes batches of :class:`IntervalRow` and saved-state changes on a worker thread (the
    loop never waits), in the order they were handed over."""

    def __init__(self, store: IntervalStore, log: EventLogger | None = None) -> None:
        self.store = store
        self.log = log or EventLogger("acd")
        self.state = StateStore(store.conn, self.log)
        self.worker = Worker("acd-history", self._write, self.log)

    def submit(self, rows: Sequence[IntervalRow]) -> None:
        if rows:
            self.worker.submit(tuple(rows))

    def submit_state(self, change: StateChange) -> None:
        self.worker.submit(change)

    def _write(self, item: tuple[IntervalRow, ...] | StateChange) -> None:
        if not isinstance(item, tuple):
            try:
                self.state.write(item)
            except FirmwareError as exc:
                self.log.error("acd_state_write_failed", error=str(exc))
            return
        try:
            self.store.write(item)
        except FirmwareError as exc:
            self.log.error("history_write_failed", rows=len(item), error=str(exc))
            return
        self.log.info("history_written", rows=len(item), start=utc_text(min(row.start for row in item)))

    def drain(self) -> None:
        self.worker.drain()

    def close(self) -> None:
        self.worker.close()
        self.store.close()
