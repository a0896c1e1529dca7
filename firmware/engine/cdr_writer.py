"""Call records leave the media loop through a queue; a worker thread commits them.

The loop never waits for the disk: ``submit`` queues a finished call's record, the worker
stores it (``firmware.cdr.CdrStore.record`` commits before returning), and ``drain`` lets a
shutdown or a test wait until everything submitted is committed.

A record is never lost to a database error: a refused write is tried again after
:data:`RETRY_DELAYS_S` (backoff on this thread, the loop goes on), and if the database
still refuses it the record is appended to the spool file (``firmware.cdr_spool``), which
the next start replays. While the database keeps failing, later records get one try each
before the spool (no backoff), so the queue does not pile up behind a dead disk. Should the
spool fail too (the disk is gone), the record's full JSON is in the error line.

``open_calls`` queues the open rows of answered calls in progress (:class:`CallJournal`);
those are one try each: a missed heartbeat only makes a cut-short record a little shorter.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.cdr import CallRecord, CdrStore, record_to_json
from firmware.cdr_spool import Spool, replay
from firmware.engine.worker import Worker

RETRY_DELAYS_S = (0.1, 0.5, 2.0)  # waits between the four tries of a record (2.6 s in all)


class RecordStore(Protocol):
    """What the writer needs of the database (``firmware.cdr.CdrStore``)."""

    def record(self, record: CallRecord) -> int: ...
    def open_calls(self, boot: int, records: Iterable[CallRecord]) -> None: ...


@dataclass(frozen=True)
class _OpenCalls:
    records: tuple[CallRecord, ...]


class CdrWriter(Worker):
    def __init__(self, store: RecordStore, spool: Spool, boot: int, log: EventLogger | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S) -> None:
        self._store = store
        self._spool = spool
        self.boot = boot
        self._sleep = sleep
        self._retry_delays_s = retry_delays_s
        self._failing = False  # the last record went to the spool: the next gets one try
        self.retries = 0  # figures for the stats and tests
        self.spooled = 0
        super().__init__("cdr-writer", self._handle, log or EventLogger("cdr"))

    def open_calls(self, records: Iterable[CallRecord]) -> None:
        """Queues the open rows of answered calls in progress (written or updated together)."""
        self.submit(_OpenCalls(tuple(records)))

    def _handle(self, item: CallRecord | _OpenCalls) -> None:
        if isinstance(item, _OpenCalls):
            try:
                self._store.open_calls(self.boot, item.records)
            except FirmwareError as exc:
                self._log.warning("cdr_open_failed", calls=len(item.records), error=str(exc))
            return
        self._store_record(item)

    def _store_record(self, record: CallRecord) -> None:
        delays = () if self._failing else self._retry_delays_s
        error: FirmwareError | None = None
        for attempt in range(len(delays) + 1):
            if attempt:
                self.retries += 1
                self._sleep(delays[attempt - 1])
            try:
                self._store.record(record)
            except FirmwareError as exc:
                error = exc
                self._log.warning("cdr_store_failed", uniqueid=record.uniqueid, attempt=attempt + 1, error=str(exc))
                continue
            self._failing = False
            return
        self._failing = True
        try:
            self._spool.append(record)
        except FirmwareError as exc:
            self._log.error("cdr_unsaved", uniqueid=record.uniqueid, error=str(exc), record=record_to_json(record))
            return
        self.spooled += 1
        self._log.error("cdr_spooled", uniqueid=record.uniqueid, path=str(self._spool.path), error=str(error))


def start_call_records(store: CdrStore, spool: Spool, log: EventLogger | None = None) -> CdrWriter:
    """At the engine's start: count this boot, replay the spool, turn the open rows of earlier
    boots into cut-short records (in that order: a spooled record is a call's real end and
    replaces its open row); then the writer of this boot's records."""
    log = log or EventLogger("cdr")
    boot = store.start_boot()
    replay(spool, store, log)
    store.recover_open(boot)
    return CdrWriter(store, spool, boot, log)
