"""A phone service's jobs off the media loop, and their results handed back on it.

A service with one session per port (the voicemail mailbox, the prompt recorder) reads and
writes its store on a :class:`~firmware.engine.worker.Worker`, never on the media loop. Each
session gets a token (:meth:`SessionJobs.new_token`) when it starts; :meth:`SessionJobs.run`
sends a job for it to the worker, and the job's result comes back as ``(kind, value)``, or as
``(kind + "_error", one line)`` when the job raised :class:`FirmwareError`. At each tick the
service calls :meth:`SessionJobs.deliver`: every result that arrived, in the order the jobs
ended, goes to the session on its port if that is still the session that asked (same token);
a result for a caller who hung up, or for an earlier session on that port, is dropped.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

from firmware import FirmwareError
from firmware.engine.worker import Worker

ERROR_SUFFIX = "_error"


class HasToken(Protocol):
    @property
    def token(self) -> int: ...


S = TypeVar("S", bound=HasToken)


def failed(kind: str) -> str:
    """The kind a failed ``kind`` job's result comes back as."""
    return kind + ERROR_SUFFIX


class SessionJobs:
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
