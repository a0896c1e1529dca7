"""Dispositions leave the media loop through a worker thread that stores them in the call records.

The loop never waits for the disk: ``submit`` queues a disposition; the worker opens its own
connection to the call-record database on its thread (SQLite connections stay on the thread
that made them; the database is in WAL mode, so this writer and the call-record writer take
turns) and stores it (:meth:`firmware.cdr.CdrStore.dispose`). A refused write is logged with
the whole disposition, so nothing the agent entered is lost without a trace.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.cdr import CallDisposition, CdrStore
from firmware.engine.worker import Worker


class DispositionWriter(Worker):
    def __init__(self, open_store: Callable[[], CdrStore], log: EventLogger | None = None) -> None:
        self._open_store = open_store
        self._store: CdrStore | None = None
        self._log = log or EventLogger("desk")
        super().__init__("desk-writer", self._handle, self._log)

    def _handle(self, entry: CallDisposition) -> None:
        try:
            if self._store is None:
                self._store = self._open_store()
            self._store.dispose(entry)
        except FirmwareError as exc:
            self._log.error("disposition_not_stored", error=str(exc), **{k: v for k, v in asdict(entry).items()})

    def close(self) -> None:
        super().close()
        if self._store is not None:
            self._store.close()
