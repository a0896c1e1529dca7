"""Configuration changes reach the running ACD: queues and agents change without a restart.

The configuration store calls :meth:`AcdFollower.config_stored` with every committed
snapshot, on the thread that stored it. That thread does the slow part — the ACD's setup
from the snapshot (:func:`~firmware.acdengine.setup.setup_from_config`) and ``prepare``, the
composition root's function that reads what the snapshot names for the first time (music
classes, :class:`~firmware.media.music.MusicLibrary`; queue greetings, ``Prompts.learn``) —
then hands the rest to the media loop (``submit``), where it runs between two ticks:

- no ACD yet and the snapshot has queues: ``attach`` builds it (the composition root's
  function: queue service, queue_log, statistics);
- an ACD running: :meth:`QueueService.reconfigure` (calls and agents kept, docs/acd.md
  "Live reconfiguration"); a snapshot without queues keeps the ACD running with none, so
  callers of removed queues leave for their destination and agents are logged out.

A snapshot the ACD refuses (``FirmwareError``) changes nothing and is logged
(``acd_reconfigure_failed``); the store validated it, so this means the core found a
problem the configuration checks did not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.acdengine.service import QueueService
from firmware.acdengine.setup import AcdSetup, setup_from_config
from firmware.config.model import Config

Submit = Callable[[Callable[[], None]], None]
"""Runs a function on the media loop's thread between two ticks (``MediaLoop.submit``)."""


class AcdFollower:
    def __init__(self, submit: Submit, prepare: Callable[[AcdSetup], None], attach: Callable[[AcdSetup], QueueService],
                 service: QueueService | None = None, log: EventLogger | None = None) -> None:
        self.submit = submit
        self.prepare = prepare
        self.attach = attach
        self.service = service  # the running ACD, or None until a snapshot has queues
        self.log = log or EventLogger("acd")

    def config_stored(self, config: Config) -> None:
        """A committed snapshot (any thread but the loop's)."""
        try:
            setup = setup_from_config(config)
        except FirmwareError as exc:
            self.log.error("acd_reconfigure_failed", error=str(exc))
            return
        if setup is not None:
            self.prepare(setup)  # file reads stay off the media loop
        self.submit(lambda: self.apply(setup))

    def apply(self, setup: AcdSetup | None) -> None:
        """On the media loop: the ACD of the new snapshot."""
        if self.service is None:
            if setup is not None:
                self.service = self.attach(setup)
                self.log.info("acd_reconfigured", change="ACD started: " + ", ".join(setup.queues))
            return
        if setup is None:  # every queue removed: the core keeps running with none
            setup = AcdSetup(replace(self.service.setup.acd, queues=(), agents=()))
        try:
            self.service.reconfigure(setup)
        except FirmwareError as exc:
            self.log.error("acd_reconfigure_failed", error=str(exc))
