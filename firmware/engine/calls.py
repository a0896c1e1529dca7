"""Calls and the state of each port's leg, as the switch keeps them.

A port's leg state says what the port is doing now; a :class:`Call` ties an originating
port to the port(s) it rings and carries what the call detail record needs. States are
enums with named sets, so a check reads ``state in IN_CALL`` rather than a list of flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Leg(StrEnum):
    IDLE = "idle"
    DIALTONE = "dialtone"  # FXS: off-hook, hearing dial tone, no digit yet
    DIALING = "dialing"  # FXS: collecting digits
    RINGBACK = "ringback"  # FXS or FXO: the call rings somewhere, this side hears ringback
    RINGING = "ringing"  # FXS: the phone rings for a call
    CONNECTED = "connected"
    FAILED = "failed"  # FXS: hearing busy or congestion until it hangs up
    INCOMING = "incoming"  # FXO: the exchange rings the line, caller ID being captured
    SEIZING = "seizing"  # FXO: off-hook for an outgoing call, waiting for dial tone
    DIALING_OUT = "dialing_out"  # FXO: sending the number to the exchange
    OUT_OF_SERVICE = "out_of_service"


IN_CALL = frozenset({Leg.RINGBACK, Leg.RINGING, Leg.CONNECTED, Leg.INCOMING, Leg.SEIZING, Leg.DIALING_OUT})
AVAILABLE = frozenset({Leg.IDLE})


class Direction(StrEnum):
    INTERNAL = "internal"
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass
class Call:
    call_id: int
    origin: int  # the port the call came from (a phone, or the line it came in on)
    direction: Direction
    start_tick: int
    caller_number: str = ""
    caller_name: str = ""
    caller_absence: str = ""  # why the number is missing ("O" unavailable, "P" private), for the phone
    ring_group: str = ""  # the ring group being rung, if any (its ring time and no-answer destination)
    route: str = ""  # the inbound route that matched ("" = none, or not an inbound call)
    dialled: str = ""
    destination: str = ""  # extension, group or outside number as shown in the CDR
    ringing: list[int] = field(default_factory=list)  # ports being rung now
    peer: int | None = None  # the port that answered (or the line for an outbound call)
    answer_tick: int | None = None
    end_tick: int | None = None
    hangup_cause: str = ""
    hangup_by: str = ""
    disposition: str = ""
    explanation: tuple[str, ...] = ()
    userfield: str = ""  # goes to the call record (a transferred call names the call it continues)
    # Set by a service before it sends the call to a queue (an IVR's set node); None = the
    # route's (``InboundRoute.queue_priority`` / ``queue_skills``), else the queue's defaults.
    queue_priority: int | None = None
    queue_skills: tuple[tuple[str, int], ...] | None = None
    variables: dict[str, str] = field(default_factory=dict)  # an IVR's collected values, for the agent's desk
    language: str = ""  # the language an IVR flow settled on ("" = none): voicemail after it speaks it

    def ports(self) -> list[int]:
        ports = [self.origin, *self.ringing]
        if self.peer is not None and self.peer not in ports:
            ports.append(self.peer)
        return ports


@dataclass
class PortLeg:
    port: int
    is_fxs: bool
    leg: Leg = Leg.IDLE
    call: Call | None = None
    rings: int = 0  # FXO: ring bursts of the current incoming call
    last_heard_tick: int = 0  # FXO: last tick with audio from the line above the silence level
    off_hook: bool = False  # FXS: the phone's hook as the line card last reported it
