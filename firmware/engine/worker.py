"""A worker thread fed through a queue: how work leaves the media loop without waiting.

``submit(item)`` returns at once; the thread calls ``handle(item)`` for each item in order.
``drain()`` waits until everything submitted so far is handled (shutdown, tests);
``close()`` handles what is queued and stops the thread. An exception in ``handle`` is
logged with its traceback and the thread goes on with the next item: this is a thread
entry point, where broad catches belong.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from drivers.logs import EventLogger

_STOP = object()


class Worker:
    def __init__(self, name: str, handle: Callable[[Any], None], log: EventLogger) -> None:
        self._handle = handle
        self._log = log
        self._name = name
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: Any) -> None:
        self._queue.put(item)

    def drain(self) -> None:
        self._queue.join()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self._handle(item)
            except Exception:  # thread entry point: log it, keep serving the next item
                self._log.exception("worker_item_failed", worker=self._name)
            finally:
                self._queue.task_done()
