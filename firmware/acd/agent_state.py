"""The agent state machine: logged out, available, ringing, on call, wrap-up, paused.

States and the events that move between them are an explicit table
(:data:`TRANSITIONS`); anything not in the table is refused with a ``FirmwareError`` and
changes nothing. Two things sit beside the state because they overlap with it:

* a *pending pause*: an agent who pauses while ringing, on a call or in wrap-up keeps
  working and goes to ``PAUSED`` (instead of ``AVAILABLE``) when that work ends;
* *phone busy*: the engine says the agent's phone is on another, non-ACD call. Such an
  agent is never offered a call whatever the state.

``idle_since`` is the moment the agent last became available to the ACD (login, unpause,
end of wrap-up, end of a non-ACD call, a missed or declined offer: back of the line); ``leastrecent``
routing and ties use it. Times are seconds given by the caller; nothing reads a clock.
"""

from __future__ import annotations

from enum import StrEnum

from firmware import FirmwareError
from firmware.acd.model import AgentConfig, Offer


class AgentState(StrEnum):
    LOGGED_OUT = "loggedout"
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "oncall"
    WRAP_UP = "wrapup"
    PAUSED = "paused"


class AgentEvent(StrEnum):
    LOGIN = "login"
    LOGIN_PAUSED = "login_paused"
    LOGOUT = "logout"
    PAUSE = "pause"
    UNPAUSE = "unpause"
    OFFER = "offer"
    ANSWER = "answer"
    OFFER_FAILED = "offer_failed"  # no answer, rejected, busy or cancelled
    HANGUP = "hangup"  # the connected call ended
    WRAPUP_END = "wrapup_end"  # the wrap-up time ran out or the agent ended it early


S, E = AgentState, AgentEvent

TRANSITIONS: dict[tuple[AgentState, AgentEvent], AgentState] = {
    (S.LOGGED_OUT, E.LOGIN): S.AVAILABLE,
    (S.LOGGED_OUT, E.LOGIN_PAUSED): S.PAUSED,
    (S.AVAILABLE, E.LOGOUT): S.LOGGED_OUT,
    (S.PAUSED, E.LOGOUT): S.LOGGED_OUT,
    (S.WRAP_UP, E.LOGOUT): S.LOGGED_OUT,
    (S.RINGING, E.LOGOUT): S.LOGGED_OUT,  # the ringing offer is cancelled first
    (S.AVAILABLE, E.PAUSE): S.PAUSED,
    (S.PAUSED, E.PAUSE): S.PAUSED,  # a new reason code
    (S.PAUSED, E.UNPAUSE): S.AVAILABLE,
    (S.AVAILABLE, E.OFFER): S.RINGING,
    (S.RINGING, E.ANSWER): S.ON_CALL,
    (S.RINGING, E.OFFER_FAILED): S.AVAILABLE,
    (S.ON_CALL, E.HANGUP): S.WRAP_UP,
    (S.WRAP_UP, E.WRAPUP_END): S.AVAILABLE,
}
"""(state, event) -> next state. ``AVAILABLE`` becomes ``PAUSED`` when a pause is pending."""

OTHER_BUSY = "otherbusy"

WORKING = frozenset({S.RINGING, S.ON_CALL, S.WRAP_UP})
"""States in which a pause request is deferred until the work ends."""


class Agent:
    """Run-time state of one agent."""

    __slots__ = (
        "agent_id",
        "skills",
        "penalties",
        "member_index",
        "state",
        "state_since",
        "idle_since",
        "paused_reason",
        "pending_pause",
        "phone_busy",
        "missed_in_row",
        "offer",
        "call_id",
        "call_queue",
        "talk_started",
        "logged_queues",
        "calls_taken",
        "talk_seconds",
        "login_at",
        "wrapup_deadline",
        "last_talk",
        "activity",
        "activity_since",
        "activity_queue",
        "logout_after_work",
        "removed",
    )

    def __init__(self, config: AgentConfig, member_index: dict[str, int], start: float = 0.0) -> None:
        """``start``: when the agent's clocks begin (the core's start: 0 in a simulation, the
        box's start time in the running box, so logged-out time is not counted from 1970)."""
        self.agent_id = config.agent_id
        self.skills: dict[str, int] = dict(config.skills)
        self.penalties: dict[str, int] = dict(config.queues)
        self.member_index = member_index
        self.state = AgentState.LOGGED_OUT
        self.state_since = start
        self.idle_since = start
        self.paused_reason = ""
        self.pending_pause: str | None = None
        self.phone_busy = False
        self.missed_in_row = 0
        self.offer: Offer | None = None
        self.call_id: str | None = None
        self.call_queue: str | None = None
        self.talk_started = 0.0
        self.logged_queues: tuple[str, ...] = ()
        self.calls_taken: dict[str, int] = {}
        self.talk_seconds: dict[str, float] = {}
        self.login_at = 0.0
        self.wrapup_deadline = 0.0
        self.last_talk = 0.0
        self.activity = AgentState.LOGGED_OUT.value
        self.activity_since = start
        self.activity_queue = ""
        # Set by a reconfiguration that leaves a working agent without queues (or removes the
        # agent): logged out when the call and wrap-up end; ``removed`` drops the agent then.
        self.logout_after_work = False
        self.removed = False

    @property
    def routable(self) -> bool:
        """May be offered a call now."""
        return self.state is AgentState.AVAILABLE and not self.phone_busy

    def current_activity(self) -> str:
        """The state, or ``otherbusy`` for an available agent on a non-ACD call."""
        if self.phone_busy and self.state is AgentState.AVAILABLE:
            return OTHER_BUSY
        return self.state.value

    def can(self, event: AgentEvent) -> bool:
        return (self.state, event) in TRANSITIONS

    def apply(self, event: AgentEvent, now: float, reset_idle: bool = True) -> tuple[AgentState, float]:
        """Moves along the table; returns (previous state, seconds spent in it).

        ``reset_idle=False`` keeps ``idle_since`` when the agent becomes available again
        through no doing of their own (an offer cancelled because the caller left or
        another agent answered first).
        """
        target = TRANSITIONS.get((self.state, event))
        if target is None:
            raise FirmwareError(f"acd: agent {self.agent_id} cannot {event.value} while {self.state.value}")
        if target is AgentState.AVAILABLE and self.pending_pause is not None:
            target = AgentState.PAUSED
            self.paused_reason = self.pending_pause
        if target is not AgentState.PAUSED:
            self.paused_reason = ""
        if target in (AgentState.AVAILABLE, AgentState.PAUSED, AgentState.LOGGED_OUT):
            self.pending_pause = None
        previous, spent = self.state, now - self.state_since
        self.state = target
        self.state_since = now
        if target is AgentState.AVAILABLE and reset_idle:
            self.idle_since = now
        return previous, spent
