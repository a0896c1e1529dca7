"""Retention on a thread of its own: at start, then every hour, never on the media loop.

The policy is the stored configuration's ``retention`` section, read at each pass (a change
applies at the next pass); ``now`` is the engine's wall time, passed in by the appliance. A
pass that fails is logged and tried again at the next period: retention must never stop
the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config.model import Retention
from firmware.storage.retention import Retainer

PERIOD_S = 3600.0


class RetentionKeeper:
    def __init__(self, retainer: Retainer, policy: Callable[[], Retention], now: Callable[[], float],
                 period_s: float = PERIOD_S, log: EventLogger | None = None,
                 also: Callable[[float], None] | None = None) -> None:
        """``also(now)``: another job of each pass (voicemail's per-mailbox expiry)."""
        self.retainer = retainer
        self.also = also
        self.policy = policy
        self.now = now
        self.period_s = period_s
        self.log = log or EventLogger("storage")
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> RetentionKeeper:
        self._thread.start()
        return self

    def status_line(self) -> str:
        usage = self.retainer.usage
        return usage.line() if usage is not None else "storage: not measured yet"

    def _run(self) -> None:
        while True:
            try:
                now = self.now()
                self.retainer.run(self.policy(), now)
                if self.also is not None:
                    self.also(now)
            except FirmwareError as exc:
                self.log.error("retention_failed", error=str(exc))
            except Exception as exc:  # noqa: BLE001 (a thread's entry point: log it, keep the engine)
                self.log.exception("retention_failed", error=repr(exc))
            self.passes += 1
            if self._stop.wait(self.period_s):
                return

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.retainer.close()
