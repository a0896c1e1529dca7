"""Call records leave the media loop through a queue; a worker thread commits them.

The loop never waits for the disk: ``submit`` puts the record on a queue, the worker stores
it (``firmware.cdr.CdrStore.record`` commits before returning) and ``drain`` lets a
shutdown or a test wait until everything submitted is committed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from drivers.logs import EventLogger
from firmware.cdr import CallRecord

_STOP = object()


class CdrWriter:
    def __init__(self, store_record: Callable[[CallRecord], int], log: EventLogger | None = None) -> None:
        self._store_record = store_record
        self._log = log or EventLogger("cdr")
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="cdr-writer", daemon=True)
        self._thread.start()

    def submit(self, record: CallRecord) -> None:
        self._queue.put(record)

    def drain(self) -> None:
        self._queue.join()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            record = self._queue.get()
            try:
                if record is _STOP:
                    return
                self._store_record(record)
            except Exception:  # thread entry point: log it, keep serving the next record
                self._log.exception("cdr_write_failed", call=getattr(record, "uniqueid", "?"))
            finally:
                self._queue.task_done()
