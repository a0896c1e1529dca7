"""What the ACD tells its listeners: one :class:`AcdEvent` per thing that happened.

Event kinds carry Asterisk's queue_log names where Asterisk has the event (the
queue_log writer turns those into lines, :mod:`firmware.acd.queue_log`); the others are
linebox's own and only reach the statistics and the log:

* ``OFFER``: a routing decision (with its trace),
* ``OFFERCANCEL``: a ring-all loser or an offer withdrawn because the call left,
* ``AGENTSTATE``: an agent changed activity (the state, or ``otherbusy`` for an available
  agent whose phone is on a non-ACD call); ``duration`` is the time spent in the old one,
* ``CALLBACKREQUEST``: the caller left a number and hung up, keeping the place,
* ``PAUSEPENDING``: an agent who works asked for a pause (``reason``), or cancelled it
  (``reason`` empty); it applies when the ring, call and wrap-up are over.

Call events carry the call's primary (first listed) queue: a call waiting in several
queues is accounted to that one queue, whichever queue's agent took it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class EventKind(StrEnum):
    ENTERQUEUE = "ENTERQUEUE"
    JOINEMPTY = "JOINEMPTY"
    FULL = "FULL"
    CONNECT = "CONNECT"
    COMPLETECALLER = "COMPLETECALLER"
    COMPLETEAGENT = "COMPLETEAGENT"
    ABANDON = "ABANDON"
    EXITWITHTIMEOUT = "EXITWITHTIMEOUT"
    EXITWITHKEY = "EXITWITHKEY"
    EXITEMPTY = "EXITEMPTY"
    RINGNOANSWER = "RINGNOANSWER"
    RINGCANCELED = "RINGCANCELED"
    ADDMEMBER = "ADDMEMBER"
    REMOVEMEMBER = "REMOVEMEMBER"
    PAUSE = "PAUSE"
    UNPAUSE = "UNPAUSE"
    OFFER = "OFFER"
    OFFERCANCEL = "OFFERCANCEL"
    AGENTSTATE = "AGENTSTATE"
    CALLBACKREQUEST = "CALLBACKREQUEST"
    PAUSEPENDING = "PAUSEPENDING"


OUTCOME_KINDS = frozenset(
    {
        EventKind.CONNECT,
        EventKind.ABANDON,
        EventKind.EXITWITHTIMEOUT,
        EventKind.EXITWITHKEY,
        EventKind.EXITEMPTY,
    }
)
"""The events that end a call's wait (exactly one per call that entered a queue)."""


@dataclass(frozen=True, slots=True)
class AcdEvent:
    """One thing that happened, at ``time`` seconds (epoch seconds on the box)."""

    time: float
    kind: EventKind
    call_id: str = "NONE"
    queue: str = "NONE"
    agent: str = "NONE"
    caller_id: str = ""
    wait: float = 0.0  # seconds from enqueue (the original one after abandon-resume)
    talk: float = 0.0  # seconds connected (COMPLETE*)
    ring: float = 0.0  # seconds the offer rang
    position: int = 0
    orig_position: int = 0
    key: str = ""  # EXITWITHKEY
    reason: str = ""  # PAUSE/UNPAUSE reason code, offer failure, ...
    bridged: str = ""  # CONNECT: the offer that connected
    from_state: str = ""  # AGENTSTATE
    to_state: str = ""  # AGENTSTATE
    duration: float = 0.0  # AGENTSTATE: seconds spent in from_state
    queues: tuple[str, ...] = ()  # AGENTSTATE: the queues the agent is logged into
    work_queue: str = ""  # AGENTSTATE: primary queue of the call the agent works on
    trace: Any = None  # OFFER: the RouteTrace


class AcdListener(Protocol):
    def on_event(self, event: AcdEvent) -> None: ...
