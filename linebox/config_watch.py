"""Picks up configuration changes made by another process while the box runs.

``linebox config import`` (and later the web admin, if it runs apart) writes the database
directly; the running box's store does not see those commits by itself. A daemon thread
polls :meth:`ConfigStore.reload_if_changed` every ``interval_s`` (one indexed SELECT), and
the store hands a new snapshot to its subscribers: the switch, the campaigns and the ACD (queues and
agents change without a restart). This thread only sleeps on wall time; the engine's logic
still runs on the audio clock.
"""

from __future__ import annotations

import threading

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config.store import ConfigStore

POLL_INTERVAL_S = 1.0


class ConfigWatcher:
    def __init__(self, store: ConfigStore, interval_s: float = POLL_INTERVAL_S, log: EventLogger | None = None) -> None:
        self.store = store
        self.interval_s = interval_s
        self.log = log or EventLogger("config")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="config-watch", daemon=True)

    def start(self) -> ConfigWatcher:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.store.reload_if_changed()
            except FirmwareError as exc:  # a damaged database: keep running on the last good snapshot
                self.log.error("config_reload_failed", error=str(exc))
            except Exception:  # thread entry point: log it, keep watching
                self.log.exception("config_reload_failed")
