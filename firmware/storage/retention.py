"""Retention: the box never fills its card. Caps by age and by size, the oldest goes first.

Four kinds of data grow with traffic (each cap is a ``retention.*`` setting of the
configuration, docs/configuration.md):

- call records (``cdr`` rows): older than ``cdr_days``, then the oldest beyond ``cdr_max_rows``;
  deleted in batches of :data:`BATCH_ROWS`, one short transaction each, so the call record
  writer never waits long for the database;
- queue_log lines: older than ``queue_log_days`` (the line's first field, epoch seconds), then
  the oldest until the file is under ``queue_log_max_mb`` (:class:`~firmware.storage.appendlog.AppendLog`);
- recordings (voicemail messages): older than ``recordings_days``, then the oldest until the
  files total under ``recordings_max_mb``; deleted through the voicemail store (the row, then
  the file: message waiting follows);
- log files in ``logs/`` next to the database: older than ``logs_days`` (modification time),
  then the oldest until under ``logs_max_mb``; the newest file (being written) is kept.

Then the whole (database with its WAL, queue_log, recordings, logs) is measured against
``disk_budget_mb``; at :data:`WARN_PERCENT` % of it a warning. ``now`` is an argument (the
engine's wall time): nothing here reads the clock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config.db import connect, transaction
from firmware.config.model import Retention
from firmware.storage.appendlog import AppendLog

DAY_S = 86_400
MB = 1024 * 1024
BATCH_ROWS = 1000
WARN_PERCENT = 80  # the warning of issue 16: at 80 % of the disk budget
LOGS_DIR = "logs"


@dataclass(frozen=True)
class Usage:
    database: int  # bytes: the database file, its WAL and shared memory
    queue_log: int
    recordings: int
    logs: int
    budget: int

    @property
    def total(self) -> int:
        return self.database + self.queue_log + self.recordings + self.logs

    @property
    def fraction(self) -> float:
        return self.total / self.budget

    @property
    def warning(self) -> bool:
        return self.total * 100 >= self.budget * WARN_PERCENT  # whole numbers: no rounding at the edge

    def line(self) -> str:
        """One line for the console's ``show storage``."""
        def mb(size: int) -> str:
            return f"{size / MB:.1f}"
        state = "WARNING" if self.warning else "ok"
        return (f"storage {state}: {mb(self.total)} of {mb(self.budget)} MB ({100 * self.fraction:.0f} %, "
                f"warning at {WARN_PERCENT} %): database {mb(self.database)}, queue_log "
                f"{mb(self.queue_log)}, recordings {mb(self.recordings)}, logs {mb(self.logs)}")


@dataclass(frozen=True)
class Trimmed:
    cdr: int = 0  # rows deleted
    queue_log: int = 0  # lines dropped
    recordings: int = 0  # messages deleted
    logs: int = 0  # files deleted


def _files_size(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except FileNotFoundError:
            pass  # removed meanwhile
    return total


def measure(db_path: Path, budget_mb: int) -> Usage:
    folder = db_path.parent
    database = _files_size([db_path, db_path.with_name(db_path.name + "-wal"), db_path.with_name(db_path.name + "-shm")])
    recordings = _files_size([p for p in (folder / "voicemail").rglob("*") if p.is_file()]) \
        if (folder / "voicemail").is_dir() else 0
    logs = _files_size(_log_files(folder))
    return Usage(database, _files_size([folder / "queue_log"]), recordings, logs, budget_mb * MB)


def _log_files(folder: Path) -> list[Path]:
    """Log files oldest first (by modification time, then name)."""
    logs = folder / LOGS_DIR
    if not logs.is_dir():
        return []
    files = [p for p in logs.iterdir() if p.is_file()]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def trim_call_records(conn: sqlite3.Connection, policy: Retention, now: float) -> int:
    deleted = 0
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'cdr'").fetchall():
            return 0  # the call record store never opened on this database
        if policy.cdr_days:
            cutoff = now - policy.cdr_days * DAY_S
            while True:
                with transaction(conn):
                    count = conn.execute("DELETE FROM cdr WHERE id IN (SELECT id FROM cdr WHERE start < ? LIMIT ?)",
                                         (cutoff, BATCH_ROWS)).rowcount
                deleted += count
                if count < BATCH_ROWS:
                    break
        excess = int(conn.execute("SELECT COUNT(*) FROM cdr").fetchone()[0]) - policy.cdr_max_rows
        while excess > 0:
            batch = min(excess, BATCH_ROWS)
            with transaction(conn):
                conn.execute("DELETE FROM cdr WHERE id IN (SELECT id FROM cdr ORDER BY start, id LIMIT ?)", (batch,))
            deleted += batch
            excess -= batch
    except sqlite3.Error as exc:
        raise FirmwareError(f"retention: cannot delete old call records: {exc}") from exc
    return deleted


def queue_log_cut(policy: Retention, now: float) -> Callable[[list[bytes]], int]:
    """How many of the oldest lines to drop: those before the age limit, then down to the size cap."""
    cutoff = now - policy.queue_log_days * DAY_S if policy.queue_log_days else None

    def cut(lines: list[bytes]) -> int:
        count = 0
        if cutoff is not None:
            for line in lines:
                stamp = line.split(b"|", 1)[0]
                if not stamp.isdigit() or int(stamp) >= cutoff:
                    break  # lines are in time order; an unreadable line stops the age cut
                count += 1
        size = sum(len(line) for line in lines[count:])
        while size > policy.queue_log_max_mb * MB and count < len(lines):
            size -= len(lines[count])
            count += 1
        return count

    return cut


def trim_recordings(conn: sqlite3.Connection, root: Path, policy: Retention, now: float,
                    delete: Callable[[int], None]) -> int:
    try:
        rows = conn.execute("SELECT id, mailbox, file, received FROM voicemail_messages ORDER BY received, id").fetchall()
    except sqlite3.OperationalError:
        return 0  # voicemail never opened on this database
    sized = [(int(i), _files_size([root / mailbox / file]), float(received)) for i, mailbox, file, received in rows]
    total = sum(size for _, size, _ in sized)
    cutoff = now - policy.recordings_days * DAY_S if policy.recordings_days else None
    deleted = 0
    for message_id, size, received in sized:
        old = cutoff is not None and received < cutoff
        if not old and total <= policy.recordings_max_mb * MB:
            break
        delete(message_id)
        total -= size
        deleted += 1
    return deleted


def trim_logs(folder: Path, policy: Retention, now: float) -> int:
    files = _log_files(folder)[:-1]  # the newest is being written
    total = _files_size(_log_files(folder))
    cutoff = now - policy.logs_days * DAY_S if policy.logs_days else None
    deleted = 0
    for path in files:
        try:
            size, mtime = path.stat().st_size, path.stat().st_mtime
            if not (cutoff is not None and mtime < cutoff) and total <= policy.logs_max_mb * MB:
                break
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise FirmwareError(f"retention: cannot remove {path}: {exc}") from exc
        total -= size
        deleted += 1
    return deleted


class Retainer:
    """Applies a :class:`Retention` policy to one data folder (call :meth:`run` from a worker thread)."""

    def __init__(self, db_path: Path, delete_message: Callable[[int], None] | None,
                 queue_log: Callable[[], AppendLog | None] = lambda: None, log: EventLogger | None = None) -> None:
        """``delete_message``: the voicemail store's delete (None: no voicemail, recordings are left);
        ``queue_log``: the queue_log being written, once the ACD has opened it."""
        self.db_path = db_path
        self.delete_message = delete_message
        self.queue_log = queue_log
        self.log = log or EventLogger("storage")
        self.usage: Usage | None = None  # the last measurement, for the console
        self._conn = connect(db_path)

    def run(self, policy: Retention, now: float) -> Trimmed:
        folder = self.db_path.parent
        queue_log = self.queue_log()
        trimmed = Trimmed(
            cdr=trim_call_records(self._conn, policy, now),
            queue_log=queue_log.drop_head(queue_log_cut(policy, now)) if queue_log is not None else 0,
            recordings=trim_recordings(self._conn, folder / "voicemail", policy, now, self.delete_message)
            if self.delete_message is not None else 0,
            logs=trim_logs(folder, policy, now),
        )
        if any((trimmed.cdr, trimmed.queue_log, trimmed.recordings, trimmed.logs)):
            self.log.info("retention", cdr=trimmed.cdr, queue_log=trimmed.queue_log, recordings=trimmed.recordings,
                          logs=trimmed.logs)
        self.usage = measure(self.db_path, policy.disk_budget_mb)
        if self.usage.warning:
            self.log.warning("storage_budget", used_mb=round(self.usage.total / MB, 1),
                             budget_mb=policy.disk_budget_mb, percent=round(100 * self.usage.fraction))
        return trimmed

    def close(self) -> None:
        self._conn.close()
