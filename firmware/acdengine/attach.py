"""Puts the ACD into a running switch: the core, the queue service and the agent desk.

``attach_acd`` builds :class:`~firmware.acd.core.AcdCore` (routing trace logged as event
``route`` of component ``acd``; queue_log lines to the stream given, through
:class:`~firmware.acd.queue_log.QueueLogWriter`), registers the queue service for
``DestinationKind.QUEUE`` with call control (``firmware/engine/control.py``), attaches it
(ticks, digits, answers, call ends) and hands the agent feature codes to it. The composition root calls it once at start.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TextIO

from drivers.logs import EventLogger
from firmware.acd.core import AcdCore
from firmware.acd.queue_log import QueueLogWriter
from firmware.acdengine.agents import AgentDesk
from firmware.acdengine.announcements import Prompts
from firmware.acdengine.service import QueueService
from firmware.acdengine.setup import AcdSetup
from firmware.cdr import CallDisposition
from firmware.config.model import DestinationKind, QueueDesk
from firmware.desk.tracker import DeskTracker, agent_state_of, say_then_wait
from firmware.engine.control import CallControlApi
from firmware.media.music import MusicLibrary


def attach_acd(control: CallControlApi, setup: AcdSetup, prompts: Prompts, music: MusicLibrary,
               queue_log: TextIO | None, seed: int = 0,
               record_disposition: Callable[[CallDisposition], None] | None = None) -> QueueService:
    """The queue service, attached to the engine's call control (see module docstring).
    ``record_disposition``: where agents' dispositions go (the desk's writer thread to the call
    records, firmware/desk/writer.py); None: they are only logged and written to the queue_log."""
    log = EventLogger("acd")
    writer = QueueLogWriter(queue_log) if queue_log is not None else None
    listeners = [writer] if writer is not None else []
    core = AcdCore(setup.acd, random.Random(seed), listeners=listeners, log=log,
                   start=control.now().timestamp())
    service = QueueService(control, core, setup, prompts, music, log)
    service.desk = AgentDesk(service, log)
    service.tracker = DeskTracker(
        queue_desk=lambda name: getattr(control.config.queue(name), "desk", None) or QueueDesk(),
        agent_port=service.agent_ports.get, agent_state=agent_state_of(core),
        say=say_then_wait(control, prompts), state_of=control.state,
        record=record_disposition or (lambda entry: None), queue_log=writer.write if writer is not None else None,
        schedule_callback=service.callbacks.book,
        booked_by=lambda agent: [{"due": b.due, "queue": b.queue, "number": b.number}
                                 for b in service.callbacks.booked_by(agent)])
    service.callbacks.tracker = service.tracker  # callbacks the ACD places reach the desk too
    control.register_service(DestinationKind.QUEUE, service)
    control.attach(service)
    control.add_feature_codes(service.desk.codes())
    return service
