"""Call records leave the media loop through a queue; a worker thread commits them.

The loop never waits for the disk: ``submit`` queues the record, the worker stores it
(``firmware.cdr.CdrStore.record`` commits before returning), and ``drain`` lets a shutdown
or a test wait until everything submitted is committed.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.logs import EventLogger
from firmware.cdr import CallRecord
from firmware.engine.worker import Worker


class CdrWriter(Worker):
    def __init__(self, store_record: Callable[[CallRecord], int], log: EventLogger | None = None) -> None:
        super().__init__("cdr-writer", store_record, log or EventLogger("cdr"))
