"""Settings changed from a phone (DND, forwarding) leave the media loop through a queue; a
worker thread commits them to the configuration store.

The switch never waits for the disk: it applies a change to its own snapshot at once,
confirms it to the caller, and hands ``(number, change)`` to :meth:`ExtensionChangeWriter.submit`.
The worker runs ``update(lambda config: replace_extension(config, number, change), source)``
— the store's read-modify-write in one transaction, checked like any other change — and the
store's subscribers bring the committed snapshot back to the switch through the loop. If
the store refuses the change (or the disk fails), the error is logged and ``on_failure``
runs (the composition root reloads the stored snapshot into the switch), so the switch
never keeps a setting that was not stored. ``drain`` lets a shutdown or a test wait until
everything submitted is committed.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config.model import Config
from firmware.engine.features import ExtensionChange, replace_extension
from firmware.engine.worker import Worker

StoreUpdate = Callable[..., Config]
"""``ConfigStore.update(change, source=...)``."""


class ExtensionChangeWriter:
    def __init__(self, update: StoreUpdate, on_failure: Callable[[], None] | None = None,
                 log: EventLogger | None = None) -> None:
        self._update = update
        self.on_failure = on_failure
        self._log = log or EventLogger("features")
        self._worker = Worker("extension-changes", self._commit_item, self._log)

    def submit(self, number: str, change: ExtensionChange) -> None:
        self._worker.submit((number, change))

    def drain(self) -> None:
        self._worker.drain()

    def close(self) -> None:
        self._worker.close()

    def _commit_item(self, item: tuple[str, ExtensionChange]) -> None:
        self._commit(*item)
    def _commit(self, number: str, change: ExtensionChange) -> None:
        try:
            self._update(lambda config: replace_extension(config, number, change),
                         source=f"feature code of extension {number}")
        except FirmwareError as exc:
            self._log.error("extension_change_failed", extension=number, error=str(exc))
            self._revert()
        except Exception:  # thread entry point: log it, keep serving the next change
            self._log.exception("extension_change_failed", extension=number)
            self._revert()

    def _revert(self) -> None:
        if self.on_failure is None:
            return
        try:
            self.on_failure()
        except Exception:  # the store may be gone altogether: log it, keep the thread alive
            self._log.exception("extension_change_revert_failed")
