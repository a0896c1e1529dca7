"""An append-only text log (queue_log) that retention can cut from the front while it is written.

The writer (the ACD's queue_log writer, on the media loop) calls :meth:`AppendLog.write` and
:meth:`AppendLog.flush` as on a file. :meth:`AppendLog.drop_head` keeps only the newest
lines: the kept part is copied to a temporary file without the lock (the writer goes on),
then, under the lock, the lines written meanwhile are added, the copy is fsynced and renamed
over the log, the folder fsynced and the writer's handle reopened. The writer waits only
for that last step; a crash at any point leaves the old log or the new one, whole.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from firmware import FirmwareError


class AppendLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._handle = path.open("a", encoding="utf-8")

    @property
    def name(self) -> str:
        """The path, as a file object's ``name`` (readers of the log open it by name)."""
        return str(self.path)

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def write(self, text: str) -> int:
        with self._lock:
            return self._handle.write(text)

    def flush(self) -> None:
        with self._lock:
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            self._handle.close()

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
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise FirmwareError(f"{self.path}: cannot cut its oldest lines: {exc}") from exc
        return count
