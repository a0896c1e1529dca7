"""A worker thread fed through a queue: how work leaves the media loop without waiting.

``submit(item)`` returns at once; the thread calls ``handle(item)`` for each item in order.
``drain()`` waits until everything submitted so far is handled (shutdown, tests);
``close()`` handles what is queued and stops the thread. An exception in ``handle`` is
logged with its traceback and the thread goes on with the next item: this is a thread
entry point, where broad catches belong.

:class:`SessionJobs`: a phone service with one session per port (the voicemail mailbox, the
prompt recorder) reads and writes its store on a worker, never on the media loop. Each session
gets a token (:meth:`SessionJobs.new_token`) when it starts; :meth:`SessionJobs.run` sends a
job for it to the worker, and the job's result comes back as ``(kind, value)``, or as
``(kind + "_error", one line)`` when the job raised :class:`FirmwareError`. At each tick the
service calls :meth:`SessionJobs.deliver`: every result that arrived, in the order the jobs
ended, goes to the session on its port if that is still the session that asked (same token);
a result for a caller who hung up, or for an earlier session on that port, is dropped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from drivers.logs import EventLogger
from firmware import FirmwareError

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


ERROR_SUFFIX = "_error"


class HasToken(Protocol):
    @property
    def token(self) -> int: ...


S = TypeVar("S", bound=HasToken)


def failed(kind: str) -> str:
    """The kind a failed ``kind`` job's result comes back as."""
    return kind + ERROR_SUFFIX


class SessionJobs:
    """Jobs of a service's sessions on a worker, their results handed back on the loop (module)."""

    def __init__(self, worker: Worker) -> None:
        self._worker = worker
        self._results: queue.SimpleQueue[tuple[int, int, str, object]] = queue.SimpleQueue()
        self._next_token = 1

    def new_token(self) -> int:
        """A token no earlier session of this service had."""
        token = self._next_token
        self._next_token += 1
        return token

    def run(self, port: int, token: int, kind: str, job: Callable[[], object]) -> None:
        """Runs ``job`` on the worker; its result (or its one-line error) waits for :meth:`deliver`."""

        def on_worker() -> None:
            try:
                self._results.put((port, token, kind, job()))
            except FirmwareError as exc:
                self._results.put((port, token, failed(kind), str(exc)))

        self._worker.submit(on_worker)

    def deliver(self, sessions: Mapping[int, S], handle: Callable[[S, str, object], None]) -> int:
        """On the media loop: ``handle(session, kind, value)`` for each result that arrived whose
        session is still ``sessions[port]``; the others are dropped. Returns how many were handled."""
        handled = 0
        while True:
            try:
                port, token, kind, value = self._results.get_nowait()
            except queue.Empty:
                return handled
            session = sessions.get(port)
            if session is not None and session.token == token:
                handle(session, kind, value)
                handled += 1
