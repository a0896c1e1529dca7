"""The ACD inside the running box: queue callers, agents on analog headsets, announcements.

:mod:`firmware.acd` is the pure core (routing, statistics, queue_log); this package drives it
from the call engine: ``service`` (the queue call service and offers to agents' phones),
``agents`` (agent feature codes), ``callbacks`` (keep the place, the agent rung first, then
the caller dialled), ``announcements`` (prompts from recorded words, cached),
``setup`` (engine-side settings: queue numbers and announcements, agent seats and PINs) and
``attach`` (wiring into a switch). docs/acd.md, "The ACD in the box", describes the flow.
"""

from firmware.acdengine.announcements import Prompts
from firmware.acdengine.attach import attach_acd
from firmware.acdengine.service import QueueService
from firmware.acdengine.setup import AcdSetup, AgentSeat, QueueSettings

__all__ = ["AcdSetup", "AgentSeat", "Prompts", "QueueService", "QueueSettings", "attach_acd"]
