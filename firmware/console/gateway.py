"""Runs a console request on the media loop's thread and waits for its result, with a timeout.

The switch, the mixer and the players belong to the media loop's thread: another thread
may only hand it work with ``MediaLoop.submit(fn)``, which runs ``fn`` at the start of the
next tick. :meth:`EngineGateway.call` submits, then waits up to ``timeout_s``. A request
either runs completely or not at all: when the wait times out before the loop has started
it, it is cancelled (the loop skips it when it gets there) and the console says so, so a
stalled engine never receives a change the technician was told had failed.

Whatever a request raises stays on the console's side: the loop's thread catches it, a
:class:`FirmwareError`, :class:`DriverError` or :class:`DspError` goes back as the command's
one-line error, anything else (a bug) is logged with its traceback and reported as
``internal error: TYPE: MESSAGE``; the media loop goes on with its tick either way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from drivers import DriverError
from drivers.logs import EventLogger
from dsp import DspError
from firmware import FirmwareError

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 2.0  # 100 ticks: far longer than any tick, short enough for a technician


class _Request(Generic[T]):
    def __init__(self, fn: Callable[[], T], log: EventLogger) -> None:
        self.fn = fn
        self.log = log
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.started = False
        self.cancelled = False
        self.result: T | None = None
        self.error: str | None = None

    def __call__(self) -> None:
        """On the loop's thread."""
        with self.lock:
            if self.cancelled:
                return
            self.started = True
        try:
            self.result = self.fn()
        except (FirmwareError, DriverError, DspError) as exc:
            self.error = str(exc)
        except Exception as exc:  # a console bug must not stop the media loop; the traceback is logged
            self.log.exception("console_request_failed")
            self.error = internal_error(exc)
        finally:
            self.done.set()


def internal_error(exc: BaseException) -> str:
    """The console's one line for a bug: what went wrong, where the rest is."""
    return f"internal error: {type(exc).__name__}: {exc} (traceback in the log)"


class EngineGateway:
    """``call(fn)``: ``fn()`` on the loop's thread, its result here (FirmwareError on failure)."""

    def __init__(self, submit: Callable[[Callable[[], None]], None], timeout_s: float = DEFAULT_TIMEOUT_S,
                 log: EventLogger | None = None) -> None:
        if timeout_s <= 0:
            raise FirmwareError(f"engine timeout must be > 0 s, got {timeout_s}")
        self._submit = submit
        self.timeout_s = timeout_s
        self._log = log or EventLogger("console")

    def call(self, fn: Callable[[], T]) -> T:
        request: _Request[T] = _Request(fn, self._log)
        self._submit(request)
        if not request.done.wait(self.timeout_s):
            with request.lock:
                if not request.started:
                    request.cancelled = True
            if request.cancelled:
                raise FirmwareError(f"the engine did not take the request within {self.timeout_s:g} s "
                                    "(media loop stalled?): nothing was done")
            request.done.wait()  # started: it is running on the loop's thread now; let it finish
        if request.error is not None:
            raise FirmwareError(request.error)
        return request.result  # type: ignore[return-value]
