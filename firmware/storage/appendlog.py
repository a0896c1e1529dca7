"""An append-only text log (queue_log) that retention can cut from the front while it is written.

The writer (the ACD's queue_log writer, on the media loop) calls :meth:`AppendLog.write` and
:meth:`AppendLog.flush` as on a file. :meth:`AppendLog.drop_head` keeps only the newest
lines: the kept part is copied to a temporary file without the lock (the writer goes on),
then, under the lock, the lines written meanwhile are added, the copy is fsynced and renamed
over the log, the folder fsynced and the writer's handle reopened. The writer waits only
for that last step; a crash at any point leaves the old log or the new one, whole.

Durability: every line is fsynced, like the other committed records (docs/ARCHITECTURE.md,
"Durability"). The media loop must not wait for a card's fsync (tens of milliseconds on an SD
card, longer than a tick), so :meth:`flush` hands the lines to the kernel and wakes a syncer
thread of the log's own, which fsyncs a duplicate of the file descriptor outside the lock
(the writer goes on) and then counts the lines as synced (:attr:`lines_synced`). A line is on
the card at most one fsync after its event; :meth:`close` syncs what is left before it returns.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from drivers.logs import EventLogger
from firmware import FirmwareError

Sync = Callable[[int], None]
"""Makes a file descriptor's data durable (``os.fsync``; tests pass a recorder)."""


class AppendLog:
    def __init__(self, path: Path, sync: Sync = os.fsync, log: EventLogger | None = None) -> None:
        self.path = path
        self.sync = sync
        self.log = log or EventLogger("storage")
        self.lines_written = 0  # complete lines handed to the file object
        self.lines_synced = 0  # of those, how many an fsync has made durable
        self.sync_failures = 0
        self._lock = threading.Lock()
        self._handle = path.open("a", encoding="utf-8")
        self._pending = threading.Event()  # lines flushed to the kernel, not yet fsynced
        self._stopping = False
        self._syncer = threading.Thread(target=self._sync_loop, name="queue_log-sync", daemon=True)
        self._syncer.start()

    @property
    def name(self) -> str:
        """The path, as a file object's ``name`` (readers of the log open it by name)."""
        return str(self.path)

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def write(self, text: str) -> int:
        with self._lock:
            self.lines_written += text.count("\n")
            return self._handle.write(text)

    def flush(self) -> None:
        """Hands the lines to the kernel and asks the syncer thread to fsync them (no wait)."""
        with self._lock:
            self._handle.flush()
        self._pending.set()

    def sync_now(self) -> None:
        """Flushes and fsyncs in the caller's thread (close, tests); FirmwareError if it fails."""
        with self._lock:
            if self._handle.closed:
                return
            self._handle.flush()
            descriptor = os.dup(self._handle.fileno())
            lines = self.lines_written
        self._sync_descriptor(descriptor, lines)

    def close(self) -> None:
        """Syncs what is written, stops the syncer thread, closes the file."""
        self._stopping = True
        self._pending.set()
        if self._syncer.is_alive() and threading.current_thread() is not self._syncer:
            self._syncer.join()
        try:
            self.sync_now()
        finally:
            with self._lock:
                self._handle.close()

    def _sync_descriptor(self, descriptor: int, lines: int) -> None:
        try:
            self.sync(descriptor)
        except OSError as exc:
            self.sync_failures += 1
            raise FirmwareError(f"{self.path}: fsync failed: {exc}") from exc
        finally:
            os.close(descriptor)
        with self._lock:
            self.lines_synced = max(self.lines_synced, lines)

    def _sync_loop(self) -> None:
        while True:
            self._pending.wait()
            self._pending.clear()
            if self._stopping:
                return
            try:
                self.sync_now()
            except FirmwareError as exc:  # logged; the next flush tries again (the card may come back)
                self.log.error("queue_log_sync_failed", error=str(exc))

    def drop_head(self, cut: Callable[[list[bytes]], int]) -> int:
        """Drops the first ``cut(lines)`` complete lines (``lines`` as bytes with their newline,
        oldest first); returns how many were dropped."""
        with self._lock:
            self._handle.flush()
        data = self.path.read_bytes()
        complete = data[:data.rfind(b"\n") + 1]
        lines = complete.splitlines(keepends=True)
        count = cut(lines)
        if count <= 0:
            return 0
        kept_from = sum(len(line) for line in lines[:count])
        temporary = self.path.with_name(f".{self.path.name}.trim")
        try:
            with temporary.open("wb") as out:
                out.write(complete[kept_from:])
                with self._lock:
                    self._handle.flush()
                    with self.path.open("rb") as source:
                        source.seek(len(complete))
                        out.write(source.read())  # what the writer added since the read
                    out.flush()
                    os.fsync(out.fileno())
                    os.replace(temporary, self.path)
                    folder = os.open(self.path.parent, os.O_RDONLY)
                    try:
                        os.fsync(folder)
                    finally:
                        os.close(folder)
                    self._handle.close()
                    self._handle = self.path.open("a", encoding="utf-8")
                    self.lines_synced = self.lines_written  # the copy holds every line, fsynced
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise FirmwareError(f"{self.path}: cannot cut its oldest lines: {exc}") from exc
        return count
