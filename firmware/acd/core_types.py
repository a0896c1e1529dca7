"""Values :class:`~firmware.acd.core.AcdCore` shares with its helper modules.

What the core hands back to the engine (:class:`TickResult`, :class:`Exit`,
:class:`JoinResult`) and the kinds of the core's timers. They live here, not in
``core.py``, so that :mod:`firmware.acd.reconfigure` can use them without importing the
core (which imports it). ``firmware.acd.core`` re-exports the result types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from firmware.acd.model import Destination, Offer


class ExitReason(StrEnum):
    TIMEOUT = "timeout"  # max wait reached (EXITWITHTIMEOUT)
    EMPTY = "empty"  # leave-when-empty (EXITEMPTY)
    REMOVED = "removed"  # every queue of the call was removed by a reconfiguration (EXITEMPTY)


@dataclass(frozen=True, slots=True)
class Exit:
    """A caller the engine must take out of the queue and send to ``destination``."""

    call_id: str
    queue: str
    reason: ExitReason
    destination: Destination


@dataclass(frozen=True, slots=True)
class JoinResult:
    joined: bool
    queues: tuple[str, ...] = ()
    position: int = 0  # in the primary queue
    resumed: bool = False  # abandon-resume gave the original place back
    reason: str = ""  # "joinempty" or "full" when refused
    destination: Destination | None = None  # where to send a refused caller


@dataclass(slots=True)
class TickResult:
    offers: list[Offer] = field(default_factory=list)
    cancelled: list[Offer] = field(default_factory=list)  # stop ringing these
    exits: list[Exit] = field(default_factory=list)


@dataclass(frozen=True)
class SavedLogin:
    """An agent's log-in as it survives a restart (firmware/acdengine/persist.py saves it,
    :meth:`AcdCore.restore_agent <firmware.acd.core.AcdCore.restore_agent>` puts it back)."""

    agent_id: str
    queues: tuple[str, ...]  # logged into, in order
    paused_reason: str | None  # None: not paused (a pause pending at the save counts as paused)
    login_at: float  # epoch seconds of the log-in
    calls_taken: Mapping[str, int] = field(default_factory=dict)  # this log-in's calls per queue (fewestcalls)
    talk_seconds: Mapping[str, float] = field(default_factory=dict)  # and talk time (fewest talk time)
    port: int | None = None  # where the agent logged in (the engine's; the core does not use it)


# Kinds of the core's timers: (when, seq, kind, ref, version) entries of one heap.
RING_TIMER = 0  # ref: the Offer; its ring timeout
WRAPUP_TIMER = 1  # ref: the Agent; version: its wrap-up deadline
MAXWAIT_TIMER = 2  # ref: the WaitingCall; version: its seq
WAKE_TIMER = 3  # ref: the WaitingCall (next relaxation step, version: seq) or None (a retry cooldown ends)
CALLBACK_TIMER = 4  # ref: the parked WaitingCall; version: its callback attempts
TIMER_NAMES = ("ring", "wrapup", "max_wait", "wake", "callback")  # by kind, as ArmedTimer names them


@dataclass(frozen=True, slots=True)
class ArmedTimer:
    """A timer of the core that still matters (:meth:`AcdCore.armed_timers
    <firmware.acd.core.AcdCore.armed_timers>`): what happens at ``when`` and to whom."""

    when: float
    kind: str  # one of TIMER_NAMES: ring (an offer's ring timeout), wrapup (its end), max_wait,
    # wake (a call's next relaxation step; with no call: a retry cooldown ends), callback (a retry)
    call_id: str = ""  # the call it is for ("" for a wrap-up or a cooldown's end)
    agent_id: str = ""  # the agent rung (ring) or in wrap-up (wrapup)
    queue: str = ""  # the offer's queue (ring), the call's primary queue, or the agent's last call's
