"""Callbacks: a queue caller presses a key, hangs up and keeps the place; when the turn
comes the agent's phone rings first, and when the agent answers the box dials the caller.

Only in queues with callback enabled, and only for a caller whose caller ID is a dialable
number. The caller presses :data:`CALLBACK_KEY`; the core records the request
(``callback_requested``; the queue_log writer has no line for it), the caller hears "thank
you" (``queue-thankyou``) and the box releases the line. The call keeps
its place; its offer has ``kind = CALLBACK``:

1. the agent's phone rings (``CallControl.ring_from_service``: a call whose origin is the agent's
   phone; the caller-ID number shown is the caller's, the name the queue's);
2. the agent answers: ``offer_answered``, then ``CallControl.dial_out`` dials the outside prefix and
   the number on a free line through the toll guard (the agent's extension class);
3. the far end answers (answer supervision, or the end of dialling without it):
   ``callback_result(answered=True)`` and the call is an ordinary connected ACD call;
4. the call ends before that (no line, refused, the agent gave up): ``callback_result(False)``;
   the core parks the call and retries after ``retry_s``, at most ``max_attempts`` dial-outs.

A ring timeout of the agent's phone ends the service's call (record cause
``callback_not_answered``) and the core offers the callback again as it would a call.

Callbacks at a date (:meth:`Callbacks.book`: an agent's disposition with a callback date,
firmware/desk) wait in :attr:`Callbacks.booked` until due, then join their queue as a
callback request like the one above, offered first to the agent who booked it: for
``acd.callback_agent_grace_s`` (default 60 s) only that agent may get it, if logged in and
available meanwhile (``AcdCore.reserve_for_agent``), then any agent of the queue; the agent
letting it ring out ends the wait at once. They survive a restart, the booking agent with them: each booking and each release
is handed to ``persist`` (the ACD history writer's worker thread, table
``acd_booked_callbacks``: firmware/acdengine/persist.py), and :meth:`Callbacks.restore`
puts the saved ones back at start.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from drivers.logs import EventLogger
from dsp.callerid import displayed_caller_id
from firmware import FirmwareError
from firmware.acd.core import AcdCore
from firmware.acd.model import Offer, OfferFailure
from firmware.acdengine.persist import BookedCallback, CallbackReleased, StateChange
from firmware.cdr import HangupBy
from firmware.desk.tracker import DeskTracker
from firmware.engine.calls import Call, Leg
from firmware.engine.control import CallControlApi

CALLBACK_KEY = "*"  # pressed by a waiting caller in a queue with callback enabled


class CallbackPhase(StrEnum):
    PARKED = "parked"  # waiting for its turn (or for the next attempt)
    RINGING = "ringing"  # the agent's phone rings
    DIALING = "dialing"  # the agent answered; the box dials the caller
    CONNECTED = "connected"


@dataclass
class Callback:
    acd_id: str
    queue: str
    number: str  # as dialled: outside prefix and the caller's number
    caller_number: str = ""  # as received (what the desk looks the contact and previous calls up by)
    variables: dict[str, str] = field(default_factory=dict)  # what the IVR collected before the request
    phase: CallbackPhase = CallbackPhase.PARKED
    call: Call | None = None  # the switch's call (agent's phone first, then the line)
    agent_id: str = ""
    port: int | None = None


class Callbacks:
    """The callbacks of one queue service."""

    def __init__(self, control: CallControlApi, core: AcdCore, log: EventLogger) -> None:
        self.cc = control
        self.core = core
        self.log = log
        self.pending: dict[str, Callback] = {}  # ACD call id -> callback
        self.by_call: dict[int, Callback] = {}  # switch call id -> callback being rung or dialled
        self._ended: list[tuple[Callback, float]] = []
        self.booked: list[BookedCallback] = []  # callbacks at a date, by due time
        self.persist: Callable[[StateChange], None] | None = None  # the ACD history writer (persist.py)
        self.tracker: DeskTracker | None = None  # the agent desk: a callback's screen pop, as an inbound call's
        self._booked_count = 0

    def request(self, acd_id: str, queue: str, caller_number: str, now: float,
                variables: dict[str, str] | None = None) -> list[Offer] | None:
        """Records the request; None (nothing changed) if the number cannot be dialled.
        ``variables``: what the IVR collected (the desk's screen pop shows them, as for the call)."""
        if not caller_number or not caller_number.isdigit():
            return None
        number = self.cc.config.outside_prefix() + caller_number
        cancelled = self.core.callback_requested(acd_id, number, now)
        self.pending[acd_id] = Callback(acd_id, queue, number, caller_number, dict(variables or {}))
        self.log.info("callback_requested", acd_call=acd_id, queue=queue, number=number)
        return cancelled

    def book(self, queue: str, caller_number: str, when: float, agent: str = "", key: str = "") -> bool:
        """A callback at a date an agent chose (a disposition, firmware/desk): at ``when`` the call
        joins ``queue`` as a callback request (the agent who gets it rings first, then the box
        dials). False (nothing booked) if the queue takes no callbacks or the number is not dialable.
        ``key``: the disposed call's uniqueid (booking the same call again moves its date)."""
        queue_config = self.cc.config.queue(queue)
        if queue_config is None or not queue_config.callback.enabled or not caller_number.isdigit():
            return False
        self._booked_count += 1
        now = self.cc.now().timestamp()
        entry = BookedCallback(key or f"booked-{int(now)}-{self._booked_count}", when, queue, caller_number, agent,
                               now)
        self.booked = sorted([b for b in self.booked if b.key != entry.key] + [entry], key=lambda b: (b.due, b.key))
        if self.persist is not None:
            self.persist(entry)
        self.log.info("callback_booked", key=entry.key, queue=queue, number=caller_number, agent=agent, due=when)
        return True

    def restore(self, saved: tuple[BookedCallback, ...] | list[BookedCallback]) -> None:
        """The callbacks booked before a restart (persist.py), at start, before the loop runs."""
        keys = {b.key for b in saved}
        self.booked = sorted([b for b in self.booked if b.key not in keys] + list(saved), key=lambda b: (b.due, b.key))
        if saved:
            self.log.info("callbacks_restored", booked=len(saved))

    def booked_by(self, agent: str) -> list[BookedCallback]:
        """The callbacks ``agent`` booked that are not yet due (the agent's desk lists them)."""
        return [b for b in self.booked if b.agent == agent]

    def _release_booked(self, now: float) -> None:
        while self.booked and self.booked[0].due <= now:
            entry = self.booked.pop(0)
            if self.persist is not None:
                self.persist(CallbackReleased(entry.key))
            self._booked_count += 1
            acd_id = f"booked-{int(now)}-{self._booked_count}"
            if entry.queue not in self.core.queues or not self.core.call_arrived(acd_id, [entry.queue], entry.number,
                                                                                 now).joined:
                self.log.info("callback_booked_refused", key=entry.key, queue=entry.queue, number=entry.number)
                continue
            self.request(acd_id, entry.queue, entry.number, now)
            self._reserve(acd_id, entry, now)

    def _reserve(self, acd_id: str, entry: BookedCallback, now: float) -> None:
        """The booking agent gets the callback first, for the grace period (then any agent)."""
        grace = self.cc.config.acd.callback_agent_grace_s
        if not entry.agent or grace <= 0 or acd_id not in self.pending:
            return
        try:
            self.core.reserve_for_agent(acd_id, entry.agent, now + grace, now)
        except FirmwareError as exc:  # the agent was removed or left the queue since booking
            self.log.info("callback_booked_any_agent", acd_call=acd_id, key=entry.key, agent=entry.agent,
                          reason=str(exc))
            return
        self.log.info("callback_booked_reserved", acd_call=acd_id, key=entry.key, agent=entry.agent,
                      until=now + grace)

    def ring(self, offer: Offer, port: int | None, now: float) -> None:
        callback = self.pending.get(offer.call_id)
        shown = displayed_caller_id(callback.number if callback else None, offer.queue,
                                    datetime=self.cc.now().strftime("%m%d%H%M"))
        call = None if callback is None or port is None else self.cc.ring_from_service(port, shown)
        if call is None:
            self.core.offer_failed(offer.call_id, offer.agent_id, now, OfferFailure.BUSY)
            return
        callback.phase, callback.call, callback.agent_id, callback.port = CallbackPhase.RINGING, call, offer.agent_id, port
        self.by_call[call.call_id] = callback
        if self.tracker is not None:
            self.tracker.offered(offer.agent_id, callback.acd_id, callback.queue, callback.caller_number, "",
                                 callback.variables, now, kind="callback")
        self.log.info("callback_ringing", acd_call=offer.call_id, agent=offer.agent_id, port=port)

    def stop(self, offer: Offer) -> bool:
        """A callback offer timed out or was withdrawn: True if it was one of ours."""
        callback = self.pending.get(offer.call_id)
        if callback is None or callback.phase is not CallbackPhase.RINGING or callback.agent_id != offer.agent_id:
            return False
        call = callback.call
        if self.tracker is not None:
            self.tracker.withdrawn(callback.agent_id, callback.acd_id)
        self._park(callback)
        self.cc.end_service_call(call, "callback_not_answered")
        return True

    def _park(self, callback: Callback) -> None:
        if callback.call is not None:
            self.by_call.pop(callback.call.call_id, None)
        callback.phase, callback.call, callback.agent_id, callback.port = CallbackPhase.PARKED, None, "", None

    def answered(self, call: Call, port: int, now: float) -> bool:
        callback = self.by_call.get(call.call_id)
        if callback is None or callback.phase is not CallbackPhase.RINGING or port != callback.port:
            return callback is not None
        self.core.offer_answered(callback.acd_id, callback.agent_id, now)
        callback.phase = CallbackPhase.DIALING
        if self.tracker is not None:  # the agent is on the call: the box dials the caller for them
            self.tracker.connected(callback.agent_id, callback.acd_id)
        self.log.info("callback_dialing", acd_call=callback.acd_id, agent=callback.agent_id, number=callback.number)
        self.cc.dial_out(call, callback.number)
        return True

    def on_tick(self, now: float) -> None:
        if self.booked:
            self._release_booked(now)
        if self._ended:
            ended, self._ended = self._ended, []
            for callback, when in ended:
                # the agent's phone is the origin of a callback: the agent hung up if the caller side did
                by_agent = callback.call.hangup_by == HangupBy.CALLER
                self.core.call_ended(callback.acd_id, when, by_agent=by_agent)
                self.by_call.pop(callback.call.call_id, None)
                if self.tracker is not None:  # the agent owes the call's disposition, as after an inbound call
                    self.tracker.ended(callback.agent_id, callback.acd_id)
        for callback in list(self.by_call.values()):
            call = callback.call
            if (callback.phase is CallbackPhase.DIALING and call.answer_tick is not None and call.peer is not None
                    and self.cc.state(call.peer) is Leg.CONNECTED):
                callback.phase = CallbackPhase.CONNECTED
                self.core.callback_result(callback.acd_id, True, now)
                del self.pending[callback.acd_id]
                self.log.info("callback_connected", acd_call=callback.acd_id, line=call.peer)

    def before_end(self, call: Call, now: float) -> bool:
        callback = self.by_call.get(call.call_id)
        if callback is None:
            return False
        if callback.phase is CallbackPhase.CONNECTED:
            self._ended.append((callback, now))
        elif callback.phase is CallbackPhase.DIALING:
            if self.tracker is not None:  # no one reached: nothing to dispose, the attempt is retried
                self.tracker.cleared(callback.agent_id, callback.acd_id)
            self._park(callback)
            self.core.callback_result(callback.acd_id, False, now)
            if callback.acd_id not in self.core.calls:
                del self.pending[callback.acd_id]  # the last attempt failed
            self.log.info("callback_failed", acd_call=callback.acd_id, retry=callback.acd_id in self.pending)
        elif callback.phase is CallbackPhase.RINGING:
            agent_id = callback.agent_id
            if self.tracker is not None:
                self.tracker.withdrawn(agent_id, callback.acd_id)
            self._park(callback)
            self.core.offer_failed(callback.acd_id, agent_id, now, OfferFailure.BUSY)
        return True

    def drop(self, acd_id: str, reason: str) -> None:
        """The core let a waiting callback go (its queue was removed): forget it. One being
        dialled finishes on its own (the core does not retry it)."""
        callback = self.pending.get(acd_id)
        if callback is not None and callback.phase is CallbackPhase.PARKED:
            del self.pending[acd_id]
            self.log.info("callback_dropped", acd_call=acd_id, queue=callback.queue, reason=reason)

    def owns(self, call: Call | None) -> bool:
        return call is not None and call.call_id in self.by_call
