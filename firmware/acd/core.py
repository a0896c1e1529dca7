"""The ACD as the call engine drives it: events in, offers and exits out.

Pure logic: every method takes ``now`` (seconds, from the caller's clock: the engine's
audio clock or a simulator's virtual clock) and randomness comes from the
``random.Random`` given to the constructor, so the same code runs on the box and in
:mod:`firmware.acd.simulate`. Nothing here touches audio, ports or files.

The engine tells the core what happened:

=============================== =====================================================
``call_arrived``                a caller enters one or more queues (caller ID, priority,
                                required skills); returns whether it joined
``agent_login/logout``          an agent joins/leaves their queues
``agent_pause/unpause``         with a reason code; deferred while the agent works
``agent_phone_busy``            the agent's phone is on a non-ACD call (or free again)
``offer_answered``              the agent picked up (returns ring-all offers to stop)
``offer_failed``                no answer / rejected / busy
``call_ended``                  a connected call hung up (by the agent or the caller)
``wrapup_end``                  the agent ended wrap-up early
``caller_abandoned``            the caller hung up while waiting or ringing
``caller_pressed_key``          returns the queue's exit destination for that key
``callback_requested``          the caller leaves a number and hangs up, keeping the place
``callback_result``             the dial-out of a callback reached the caller or not
``reserve_for_agent``           only one agent may get a waiting call until a time (a
                                callback that agent booked), then any agent
``reconfigure``                 queues, agents or settings changed (no restart; see
                                :mod:`firmware.acd.reconfigure`)
=============================== =====================================================

and asks, every tick, what to do: :meth:`AcdCore.tick` returns the offers to make (call
to agent, each with its :class:`~firmware.acd.router.RouteTrace`), the offers to stop
ringing (timed out), and the calls that leave their queue (max wait, leave-when-empty)
with the destination to send them to. :meth:`AcdCore.next_wakeup` says when the next timer
falls due, so a simulator need not tick every 20 ms. Bad input raises ``FirmwareError``
before anything changes.

Beside it: :mod:`firmware.acd.occupancy` (who is in a queue), :func:`firmware.acd.router.waiting_decisions`
(the order calls are tried in) and :mod:`firmware.acd.core_reconfig` (a reconfiguration plan
applied through the public methods ``cancel_offer``, ``remove_call``, ``emit`` and ``rearm``).
"""

from __future__ import annotations

import heapq
import logging
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import replace

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.acd.agent_state import WORKING, Agent, AgentEvent, AgentState
from firmware.acd.core_reconfig import apply_plan, core_facts
from firmware.acd.core_types import (
    CALLBACK_TIMER,
    MAXWAIT_TIMER,
    RING_TIMER,
    TIMER_NAMES,
    WAKE_TIMER,
    WRAPUP_TIMER,
    ArmedTimer,
    Exit,
    ExitReason,
    JoinResult,
    SavedLogin,
    TickResult,
)
from firmware.acd.events import AcdEvent, AcdListener, EventKind
from firmware.acd.model import (
    AcdConfig,
    Destination,
    EmptyCondition,
    Offer,
    OfferFailure,
    OfferKind,
    QueueConfig,
    check_arrival,
    check_requirements,
)
from firmware.acd.occupancy import queue_empty, queue_figures
from firmware.acd.occupancy import staffed as staffed_members
from firmware.acd.reconfigure import Reconfigured, plan_reconfiguration
from firmware.acd.router import RouteDecision, Router, waiting_decisions
from firmware.acd.waiting import (
    AbandonMemory,
    AhtTracker,
    CallState,
    WaitingCall,
    WaitingList,
    estimated_wait_seconds,
    usable_caller_id,
)


class AcdCore:
    """Queues, agents and routing, driven by events with the caller's clock."""

    def __init__(
        self,
        config: AcdConfig,
        rng: random.Random,
        listeners: Sequence[AcdListener] = (),
        log: EventLogger | None = None,
        start: float = 0.0,
    ) -> None:
        """``start``: the time the core starts at (its agents' clocks begin there)."""
        self.config = config.validate()
        if not config.queues:
            raise FirmwareError("acd: at least one queue is needed")
        self.queues: dict[str, QueueConfig] = {queue.name: queue for queue in config.queues}
        self.retired_queues: dict[str, QueueConfig] = {}  # removed, still named by connected calls
        self.members: dict[str, list[Agent]] = {name: [] for name in self.queues}
        self.agents: dict[str, Agent] = {}
        for agent_config in config.agents:
            index = {}
            for queue in agent_config.queues:
                index[queue] = len(self.members[queue])
            agent = Agent(agent_config, index, start)
            for queue in agent_config.queues:
                self.members[queue].append(agent)
            self.agents[agent.agent_id] = agent
        self.router = Router(self.queues, {q: len(m) for q, m in self.members.items()}, rng)
        self.waiting = WaitingList(tuple(self.queues))
        self.calls: dict[str, WaitingCall] = {}
        self.abandons = AbandonMemory(config.abandon_resume_seconds)
        self.aht = {name: AhtTracker(q.default_aht_seconds, config.aht_smoothing) for name, q in self.queues.items()}
        self.listeners = list(listeners)
        self.log = log
        self._timers: list[tuple[float, int, int, object, float]] = []
        self._seq = 0
        self._offer_ids = 0
        self._routable = 0
        self._last_event_time = -math.inf
        self._empty_dirty = True
        self._leave_queues = [name for name, q in self.queues.items() if q.leavewhenempty is not None]

    # ----------------------------------------------------------------- plumbing

    def emit(self, event: AcdEvent) -> None:
        """Reports ``event`` to the listeners (statistics, queue_log, logs)."""
        self._last_event_time = event.time
        for listener in self.listeners:
            listener.on_event(event)

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _timer(self, when: float, kind: int, ref: object, version: float = 0.0) -> None:
        heapq.heappush(self._timers, (when, self._next_seq(), kind, ref, version))

    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise FirmwareError(f"acd: unknown agent {agent_id!r}")
        return agent

    def _call(self, call_id: str, *states: CallState) -> WaitingCall:
        call = self.calls.get(call_id)
        if call is None:
            raise FirmwareError(f"acd: unknown call {call_id!r}")
        if states and call.state not in states:
            raise FirmwareError(f"acd: call {call_id} is {call.state.value}")
        return call

    def _set_state(self, agent: Agent, event: AgentEvent, now: float, reset_idle: bool = True) -> None:
        was_routable = agent.routable
        previous_state = agent.state
        agent.apply(event, now, reset_idle)
        self._after_change(agent, was_routable, now)
        state = agent.state
        if state is AgentState.PAUSED and (previous_state is not AgentState.PAUSED or event is AgentEvent.PAUSE):
            if event is not AgentEvent.LOGIN_PAUSED:
                for queue in agent.logged_queues:
                    self.emit(AcdEvent(now, EventKind.PAUSE, queue=queue, agent=agent.agent_id, reason=agent.paused_reason))
        elif previous_state is AgentState.PAUSED and state is not AgentState.PAUSED and state is not AgentState.LOGGED_OUT:
            for queue in agent.logged_queues:
                self.emit(AcdEvent(now, EventKind.UNPAUSE, queue=queue, agent=agent.agent_id))

    def _after_change(self, agent: Agent, was_routable: bool, now: float) -> None:
        """Keeps the routing index, the empty-queue check and the activity log in step."""
        routable = agent.routable
        if routable != was_routable:
            if routable:
                self.router.add_available(agent)
                self._routable += 1
            else:
                self.router.remove_available(agent)
                self._routable -= 1
        self._empty_dirty = True
        activity = agent.current_activity()
        if activity != agent.activity:
            self.emit(_activity_event(agent, activity, now))
            work = self.calls.get(agent.call_id) if agent.call_id else None
            agent.activity = activity
            agent.activity_since = now
            agent.activity_queue = work.queues[0] if work is not None else (agent.call_queue or "")

    # ------------------------------------------------------------------- agents

    def agent_login(
        self, agent_id: str, now: float, queues: Iterable[str] | None = None, paused_reason: str | None = None
    ) -> None:
        """Logs the agent into ``queues`` (default: all their configured queues)."""
        agent = self._agent(agent_id)
        chosen = tuple(agent.penalties) if queues is None else tuple(queues)
        unknown = [queue for queue in chosen if queue not in agent.penalties]
        if unknown or not chosen:
            raise FirmwareError(f"acd: agent {agent_id} is not a member of {','.join(unknown) or 'any queue'}")
        self._log_in(agent, SavedLogin(agent_id, chosen, paused_reason, now), now, announce=True)

    def restore_agent(self, saved: SavedLogin, now: float) -> None:
        """Logs in again an agent saved before a restart (firmware/acdengine/persist.py): the saved
        queues still configured, paused with its reason, the session's counters kept. No
        ADDMEMBER or PAUSE event: the membership never ended (as Asterisk's persistent members)."""
        agent = self._agent(saved.agent_id)
        queues = tuple(queue for queue in saved.queues if queue in agent.penalties)
        if not queues:
            raise FirmwareError(f"acd: agent {saved.agent_id} is no longer a member of {','.join(saved.queues)}")
        self._log_in(agent, replace(saved, queues=queues), now, announce=False)

    def _log_in(self, agent: Agent, login: SavedLogin, now: float, announce: bool) -> None:
        if agent.state is not AgentState.LOGGED_OUT:
            raise FirmwareError(f"acd: agent {agent.agent_id} is already logged in")
        reason = login.paused_reason
        if reason is not None and ("|" in reason or "\n" in reason):
            raise FirmwareError("acd: a pause reason must not contain '|' or newlines")
        agent.logged_queues = login.queues
        agent.login_at = login.login_at
        agent.calls_taken = {queue: login.calls_taken.get(queue, 0) for queue in login.queues}
        agent.talk_seconds = {queue: login.talk_seconds.get(queue, 0.0) for queue in login.queues}
        agent.missed_in_row = 0
        if reason is not None:
            agent.paused_reason = agent.pending_pause = reason
        for queue in login.queues if announce else ():
            self.emit(AcdEvent(now, EventKind.ADDMEMBER, queue=queue, agent=agent.agent_id, reason="PAUSED" if reason else ""))
        self._set_state(agent, AgentEvent.LOGIN if reason is None else AgentEvent.LOGIN_PAUSED, now)

    def agent_logout(self, agent_id: str, now: float) -> list[Offer]:
        """Logs out (refused on a call); returns the offer to stop ringing, if any."""
        agent = self._agent(agent_id)
        if not agent.can(AgentEvent.LOGOUT):
            raise FirmwareError(f"acd: agent {agent_id} cannot log out while {agent.state.value}")
        cancelled = []
        if agent.state is AgentState.RINGING and agent.offer is not None:
            cancelled.append(self._withdraw(agent.offer, now, OfferFailure.CANCELLED))
        if agent.state is AgentState.WRAP_UP:
            self._finish_handle(agent, now)
        self._set_state(agent, AgentEvent.LOGOUT, now)
        for queue in agent.logged_queues:
            self.emit(AcdEvent(now, EventKind.REMOVEMEMBER, queue=queue, agent=agent_id))
        agent.logged_queues = ()
        agent.call_id = agent.call_queue = None
        agent.logout_after_work = False
        if agent.removed:
            del self.agents[agent_id]  # removed from the configuration while it worked
        return cancelled

    def agent_pause(self, agent_id: str, reason: str, now: float) -> None:
        """Pauses now, or when the current ring, call and wrap-up are over."""
        agent = self._agent(agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            raise FirmwareError(f"acd: agent {agent_id} is logged out")
        if "|" in reason or "\n" in reason:
            raise FirmwareError("acd: a pause reason must not contain '|' or newlines")
        if agent.state in WORKING:
            agent.pending_pause = reason
            self.emit(AcdEvent(now, EventKind.PAUSEPENDING, agent=agent_id, reason=reason))
            return
        agent.paused_reason = reason
        self._set_state(agent, AgentEvent.PAUSE, now)

    def agent_unpause(self, agent_id: str, now: float) -> None:
        agent = self._agent(agent_id)
        if agent.state in WORKING and agent.pending_pause is not None:
            agent.pending_pause = None
            self.emit(AcdEvent(now, EventKind.PAUSEPENDING, agent=agent_id))
            return
        if agent.state is not AgentState.PAUSED:
            raise FirmwareError(f"acd: agent {agent_id} is not paused")
        agent.missed_in_row = 0
        self._set_state(agent, AgentEvent.UNPAUSE, now)

    def agent_phone_busy(self, agent_id: str, busy: bool, now: float) -> None:
        """The agent's phone is on (or off) a call the ACD did not make; never offer meanwhile."""
        agent = self._agent(agent_id)
        if agent.phone_busy == busy:
            return
        was_routable = agent.routable
        agent.phone_busy = busy
        if not busy and agent.state is AgentState.AVAILABLE:
            agent.idle_since = now
        self._after_change(agent, was_routable, now)

    def wrapup_end(self, agent_id: str, now: float) -> None:
        """The agent ends wrap-up before its time."""
        agent = self._agent(agent_id)
        if agent.state is not AgentState.WRAP_UP:
            raise FirmwareError(f"acd: agent {agent_id} is not in wrap-up")
        self._end_wrapup(agent, now)

    def _finish_handle(self, agent: Agent, now: float) -> None:
        tracker = self.aht.get(agent.call_queue) if agent.call_queue is not None else None
        if tracker is not None:  # None: the queue was removed meanwhile
            tracker.add(agent.last_talk + (now - agent.state_since))

    def _end_wrapup(self, agent: Agent, now: float) -> None:
        if agent.logout_after_work:  # removed from the configuration (or every queue) while working
            self.agent_logout(agent.agent_id, now)
            return
        self._finish_handle(agent, now)
        agent.call_id = agent.call_queue = None
        self._set_state(agent, AgentEvent.WRAPUP_END, now)

    # -------------------------------------------------------------------- calls

    def call_arrived(
        self,
        call_id: str,
        queues: Sequence[str],
        caller_id: str,
        now: float,
        priority: int = 0,
        skills: dict[str, int] | None = None,
    ) -> JoinResult:
        """A caller enters ``queues`` (the first is the primary); skills default to the primary's."""
        names = check_arrival(call_id, queues, self.queues, priority)
        if call_id in self.calls:
            raise FirmwareError(f"acd: call {call_id} is already in the ACD")
        caller_id = caller_id.replace("|", " ").replace("\n", " ")
        primary = self.queues[names[0]]
        requirements = check_requirements(skills or {}, f"call {call_id}")
        accepted = tuple(name for name in names if self._may_join(self.queues[name]) == "")
        if skills is None and accepted:  # the primary is the first queue that took the call
            requirements = dict(self.queues[accepted[0]].required_skills)
        if not accepted:
            reason = self._may_join(primary)
            kind = EventKind.FULL if reason == "full" else EventKind.JOINEMPTY
            self.emit(AcdEvent(now, kind, call_id=call_id, queue=primary.name, caller_id=caller_id))
            destination = primary.timeout_destination if reason == "full" else primary.empty_destination
            return JoinResult(False, reason=reason, destination=destination)
        if usable_caller_id(caller_id):
            priority = max(priority, self.config.vip_callers.get(caller_id, priority))
        enqueue_time = now
        original = self.abandons.take(caller_id, accepted[0], now) if usable_caller_id(caller_id) else None
        if original is not None:
            enqueue_time = original
        call = WaitingCall(
            call_id,
            caller_id,
            accepted,
            priority,
            requirements,
            self.queues[accepted[0]].relax_steps,
            enqueue_time,
            now,
            self._next_seq(),
        )
        call.resumed = original is not None
        call.skills_from_queue = skills is None
        self.waiting.add(call)
        self.calls[call_id] = call
        position = call.orig_positions[accepted[0]]
        self.emit(
            AcdEvent(now, EventKind.ENTERQUEUE, call_id, accepted[0], caller_id=caller_id, orig_position=position)
        )
        self._empty_dirty = True  # a caller may join a queue that leave-when-empty must empty
        max_wait = self.queues[accepted[0]].max_wait_seconds
        if max_wait is not None:
            self._timer(now + max_wait, MAXWAIT_TIMER, call, call.seq)
        self._schedule_relax(call, now)
        return JoinResult(True, accepted, position, call.resumed)

    def _may_join(self, queue: QueueConfig) -> str:
        if queue.maxlen and self.waiting.count(queue.name) >= queue.maxlen:
            return "full"
        if queue.joinempty is not None and self._queue_empty(queue.name, queue.joinempty):
            return "joinempty"
        return ""

    def _queue_empty(self, queue: str, conditions: frozenset[EmptyCondition]) -> bool:
        return queue_empty(self.members[queue], queue, conditions)

    def _schedule_relax(self, call: WaitingCall, now: float) -> None:
        when = call.next_relax_at(now)
        if when is not None:
            self._timer(when, WAKE_TIMER, call, call.seq)

    def offer_answered(self, call_id: str, agent_id: str, now: float) -> list[Offer]:
        """The agent picked up; returns the other ring-all offers, which must stop ringing."""
        call = self._call(call_id, CallState.OFFERING)
        offer = call.offers.get(agent_id)
        if offer is None:
            raise FirmwareError(f"acd: agent {agent_id} has no offer of call {call_id}")
        cancelled = [self._withdraw(other, now, OfferFailure.CANCELLED) for other in list(call.offers.values()) if other is not offer]
        agent = self.agents[agent_id]
        call.offers.clear()
        agent.offer = None
        agent.missed_in_row = 0
        self._set_state(agent, AgentEvent.ANSWER, now)
        call.agent_id = agent_id
        call.connect_queue = offer.queue
        call.offer_id = offer.offer_id
        if offer.kind is OfferKind.CALLBACK:
            call.state = CallState.DIALING
            call.callback_attempts += 1
        else:
            self._connect(call, agent, now, now - offer.made_at)
        return cancelled

    def _connect(self, call: WaitingCall, agent: Agent, now: float, ring: float) -> None:
        queue = call.connect_queue or call.queues[0]
        call.state = CallState.CONNECTED
        call.connected_at = now
        agent.calls_taken[queue] = agent.calls_taken.get(queue, 0) + 1
        agent.talk_started = now
        self.waiting.remove(call)
        self.emit(AcdEvent(now, EventKind.CONNECT, call.call_id, call.queues[0], agent.agent_id,
                           wait=now - call.enqueue_time, ring=ring, bridged=f"{call.call_id}-{call.offer_id}",
                           orig_position=call.orig_positions[call.queues[0]]))

    def offer_failed(self, call_id: str, agent_id: str, now: float, reason: OfferFailure = OfferFailure.NO_ANSWER) -> None:
        """The agent did not answer, declined, or was busy; the call waits on."""
        call = self._call(call_id, CallState.OFFERING)
        offer = call.offers.get(agent_id)
        if offer is None:
            raise FirmwareError(f"acd: agent {agent_id} has no offer of call {call_id}")
        self._withdraw(offer, now, reason)

    def _withdraw(self, offer: Offer, now: float, reason: OfferFailure) -> Offer:
        """Ends one offer: the agent is free again; the call waits again when no offer is left."""
        call = self.calls[offer.call_id]
        agent = self.agents[offer.agent_id]
        del call.offers[offer.agent_id]
        agent.offer = None
        agent.call_id = agent.call_queue = None
        self._set_state(agent, AgentEvent.OFFER_FAILED, now, reset_idle=reason is not OfferFailure.CANCELLED)
        if reason is OfferFailure.CANCELLED:
            self.emit(AcdEvent(now, EventKind.OFFERCANCEL, call.call_id, call.queues[0], agent.agent_id, ring=now - offer.made_at))
        else:
            self.emit(
                AcdEvent(now, EventKind.RINGNOANSWER, call.call_id, call.queues[0], agent.agent_id, ring=now - offer.made_at, reason=reason.value)
            )
            call.declined[agent.agent_id] = now
            if call.reserved_for == agent.agent_id:  # the reserved agent let it ring out: anyone may take it
                call.reserved_for, call.reserved_until = None, -math.inf
            self._timer(now + self.queues[offer.queue].retry_seconds, WAKE_TIMER, None)
            if reason is OfferFailure.NO_ANSWER:
                agent.missed_in_row += 1
                limit = self.config.autopause_after_missed
                if limit and agent.missed_in_row >= limit and agent.state is AgentState.AVAILABLE:
                    agent.missed_in_row = 0
                    self.agent_pause(agent.agent_id, "autopause", now)
        if not call.offers and call.state is CallState.OFFERING:
            call.state = CallState.WAITING
            self.waiting.make_routable(call)
        return offer

    def _leave_offers(self, call: WaitingCall, now: float, ring_canceled: bool) -> list[Offer]:
        """Withdraws every offer of a call that leaves (RINGCANCELED when the caller hung up)."""
        cancelled = []
        for offer in list(call.offers.values()):
            if ring_canceled:
                self.emit(AcdEvent(now, EventKind.RINGCANCELED, call.call_id, call.queues[0], offer.agent_id, ring=now - offer.made_at))
            call.state = CallState.DONE  # so the withdrawal does not make it routable again
            cancelled.append(self._withdraw(offer, now, OfferFailure.CANCELLED))
        return cancelled

    def _leave(self, call: WaitingCall, kind: EventKind, now: float, key: str = "", reason: str = "") -> None:
        primary = call.queues[0]
        position = self.waiting.position(call, primary)
        self.waiting.remove(call)
        call.state = CallState.DONE
        del self.calls[call.call_id]
        self.emit(AcdEvent(now, kind, call.call_id, primary, wait=now - call.enqueue_time, position=position,
                           orig_position=call.orig_positions[primary], key=key, reason=reason,
                           caller_id=call.caller_id))

    def call_ended(self, call_id: str, now: float, by_agent: bool = False) -> None:
        """A connected call hung up; the agent goes to wrap-up (if the queue has one)."""
        call = self._call(call_id, CallState.CONNECTED)
        agent = self.agents[call.agent_id]
        queue = call.connect_queue or call.queues[0]
        talk = now - call.connected_at
        agent.talk_seconds[queue] = agent.talk_seconds.get(queue, 0.0) + talk
        agent.last_talk = talk
        agent.call_queue = call.queues[0]
        self.emit(AcdEvent(now, EventKind.COMPLETEAGENT if by_agent else EventKind.COMPLETECALLER, call_id,
                           call.queues[0], agent.agent_id, wait=call.connected_at - call.enqueue_time, talk=talk,
                           orig_position=call.orig_positions[call.queues[0]]))
        call.state = CallState.DONE
        del self.calls[call_id]
        wrapup = (self.queues.get(queue) or self.retired_queues[queue]).wrapup_seconds
        self._set_state(agent, AgentEvent.HANGUP, now)
        if wrapup > 0:
            agent.wrapup_deadline = now + wrapup
            self._timer(agent.wrapup_deadline, WRAPUP_TIMER, agent, agent.wrapup_deadline)
        else:
            self._end_wrapup(agent, now)

    def caller_abandoned(self, call_id: str, now: float) -> list[Offer]:
        """The caller hung up while waiting or ringing; returns the offers to stop."""
        call = self._call(call_id, CallState.WAITING, CallState.OFFERING)
        if call.callback_number is not None:
            raise FirmwareError(f"acd: call {call_id} is a callback; the caller is not on the line")
        cancelled = self._leave_offers(call, now, ring_canceled=True)
        self.abandons.remember(call.caller_id, now, call.enqueue_time, call.queues)
        self._leave(call, EventKind.ABANDON, now)
        return cancelled

    def caller_pressed_key(self, call_id: str, key: str, now: float) -> tuple[Destination | None, list[Offer]]:
        """The exit destination for ``key`` (the call leaves), or (None, []) for other keys."""
        call = self._call(call_id, CallState.WAITING, CallState.OFFERING)
        destination = self.queues[call.queues[0]].exit_keys.get(key)
        if destination is None or call.callback_number is not None:
            return None, []
        cancelled = self._leave_offers(call, now, ring_canceled=True)
        self._leave(call, EventKind.EXITWITHKEY, now, key=key)
        return destination, cancelled

    def callback_requested(self, call_id: str, number: str, now: float) -> list[Offer]:
        """The caller hangs up and keeps the place; the agent who gets it calls back."""
        call = self._call(call_id, CallState.WAITING, CallState.OFFERING)
        if not number or any(ch not in "0123456789*#+" for ch in number):
            raise FirmwareError(f"acd: callback number {number!r} is not dialable")
        if call.callback_number is not None:
            raise FirmwareError(f"acd: call {call_id} already waits for a callback")
        cancelled = []
        for offer in list(call.offers.values()):
            cancelled.append(self._withdraw(offer, now, OfferFailure.CANCELLED))
        call.callback_number = number
        self.emit(AcdEvent(now, EventKind.CALLBACKREQUEST, call_id, call.queues[0], caller_id=number))
        return cancelled

    def reserve_for_agent(self, call_id: str, agent_id: str, until: float, now: float) -> None:
        """Offers the waiting call only to ``agent_id`` (when available) until ``until``, then to
        any agent of its queues as usual; ended early if the agent misses or declines it. For a
        callback booked by an agent: that agent gets it first. FirmwareError (nothing changes)
        if the agent is unknown or no member of the call's queues."""
        call = self._call(call_id, CallState.WAITING, CallState.PARKED)
        agent = self._agent(agent_id)
        if not any(queue in agent.penalties for queue in call.queues):
            raise FirmwareError(f"acd: agent {agent_id} is not a member of {','.join(call.queues)}")
        if not math.isfinite(until):
            raise FirmwareError("acd: a reservation needs a finite end")
        call.reserved_for, call.reserved_until = agent_id, until
        if until > now:
            self._timer(until, WAKE_TIMER, None)  # then any agent: a simulator wakes up for it

    def callback_result(self, call_id: str, answered: bool, now: float) -> None:
        """The dial-out to the caller (after the agent answered the callback offer)."""
        call = self._call(call_id, CallState.DIALING)
        agent = self.agents[call.agent_id]
        if answered:
            self._connect(call, agent, now, 0.0)
            return
        agent.last_talk = 0.0
        agent.call_queue = None
        self._set_state(agent, AgentEvent.HANGUP, now)
        self._end_wrapup(agent, now)
        call.agent_id = None
        # Not listed: every queue of the call was removed meanwhile (even if one came back): no retry.
        queue = self.queues.get(call.queues[0]) if call.call_id in self.waiting else None
        retry_at = None if queue is None else queue.callback.next_attempt_at(call.callback_attempts, now)
        if retry_at is None:
            self._leave(call, EventKind.ABANDON, now, reason="callback_failed")
            return
        call.state = CallState.PARKED
        self._timer(retry_at, CALLBACK_TIMER, call, call.callback_attempts)

    # --------------------------------------------------------------------- time

    def tick(self, now: float) -> TickResult:
        """Runs the timers due by ``now``, the leave-when-empty rule, then routing."""
        result = TickResult()
        timers = self._timers
        while timers and timers[0][0] <= now:
            when, _, kind, ref, version = heapq.heappop(timers)
            # A timer runs at its own time, unless later events were already reported
            # (the engine ticks every 20 ms): time never runs backwards for listeners.
            self._fire(kind, ref, version, max(when, self._last_event_time), result)
        self.abandons.prune(now)
        if self._leave_queues and self._empty_dirty:
            self._leave_when_empty(now, result)
        result.offers.extend(self.next_decision(now))
        return result

    def _fire(self, kind: int, ref: object, version: float, now: float, result: TickResult) -> None:
        """Runs one timer at its own time ``now`` (not the tick's: events keep their true times)."""
        if kind == RING_TIMER:
            offer = ref
            call = self.calls.get(offer.call_id)
            if call is not None and call.offers.get(offer.agent_id) is offer:
                self._withdraw(offer, now, OfferFailure.NO_ANSWER)
                result.cancelled.append(offer)
        elif kind == WRAPUP_TIMER:
            agent = ref
            if agent.state is AgentState.WRAP_UP and agent.wrapup_deadline == version:
                self._end_wrapup(agent, now)
        elif kind == MAXWAIT_TIMER:
            call = ref
            if self.calls.get(call.call_id) is call and call.seq == version and call.callback_number is None:
                if call.state in (CallState.WAITING, CallState.OFFERING):
                    result.cancelled.extend(self._leave_offers(call, now, ring_canceled=False))
                    self._leave(call, EventKind.EXITWITHTIMEOUT, now)
                    queue = self.queues[call.queues[0]]
                    result.exits.append(Exit(call.call_id, queue.name, ExitReason.TIMEOUT, queue.timeout_destination))
        elif kind == CALLBACK_TIMER:
            call = ref
            if self.calls.get(call.call_id) is call and call.state is CallState.PARKED and call.callback_attempts == version:
                call.state = CallState.WAITING
                self.waiting.make_routable(call)
        elif kind == WAKE_TIMER and ref is not None:
            call = ref
            if self.calls.get(call.call_id) is call and call.state in (CallState.WAITING, CallState.OFFERING):
                self._schedule_relax(call, now)

    def _leave_when_empty(self, now: float, result: TickResult) -> None:
        self._empty_dirty = False
        empty: dict[str, bool] = {}
        for name in self._leave_queues:
            rule = self.queues[name].leavewhenempty
            if not self._queue_empty(name, rule):
                continue
            for call in list(self.waiting.in_queue(name)):
                if call.queues[0] != name or call.state is not CallState.WAITING or call.callback_number is not None:
                    continue
                others = call.queues[1:]
                if any(not empty.setdefault(q, self._queue_empty(q, rule)) for q in others):
                    continue
                self._leave(call, EventKind.EXITEMPTY, now)
                result.exits.append(Exit(call.call_id, name, ExitReason.EMPTY, self.queues[name].empty_destination))

    def next_wakeup(self) -> float | None:
        """The time of the earliest timer that still matters (None: nothing pending)."""
        timers = self._timers
        while timers and self._stale(timers[0][2], timers[0][3], timers[0][4]):
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    def _stale(self, kind: int, ref: object, version: float) -> bool:
        """A timer whose object moved on (offer answered, call gone, wrap-up ended early)."""
        if kind == RING_TIMER:
            call = self.calls.get(ref.call_id)
            return call is None or call.offers.get(ref.agent_id) is not ref
        if kind == WRAPUP_TIMER:
            return ref.state is not AgentState.WRAP_UP or ref.wrapup_deadline != version
        if ref is None:
            return False
        return self.calls.get(ref.call_id) is not ref or ref.state not in (CallState.WAITING, CallState.OFFERING, CallState.PARKED)

    def armed_timers(self, queue: str | None = None) -> tuple[ArmedTimer, ...]:
        """The timers that still matter, earliest first (then in the order they were armed);
        with ``queue``, those of that queue only (a retry cooldown's end belongs to none)."""
        armed = []
        for when, _, kind, ref, version in sorted(self._timers, key=lambda timer: timer[:2]):
            if self._stale(kind, ref, version):
                continue
            if kind == RING_TIMER:
                timer = ArmedTimer(when, TIMER_NAMES[kind], ref.call_id, ref.agent_id, ref.queue)
            elif kind == WRAPUP_TIMER:
                timer = ArmedTimer(when, TIMER_NAMES[kind], agent_id=ref.agent_id, queue=ref.call_queue or "")
            else:
                timer = ArmedTimer(when, TIMER_NAMES[kind], ref.call_id, queue=ref.queues[0]) if ref is not None \
                    else ArmedTimer(when, TIMER_NAMES[kind])
            if queue is None or timer.queue == queue:
                armed.append(timer)
        return tuple(armed)

    @property
    def routable_agents(self) -> int:
        """Agents that may be offered a call now (available, not on another call), all queues."""
        return self._routable

    def next_decision(self, now: float) -> list[Offer]:
        """Routes waiting calls (priority, then enqueue time) to available agents."""
        if not self._routable or not self.waiting.classes:
            return []
        offers: list[Offer] = []
        for decision in waiting_decisions(self.waiting.classes.values(), self.router, now, lambda: self._routable > 0):
            offers.extend(self._make_offers(decision, now))
        return offers

    def _make_offers(self, decision: RouteDecision, now: float) -> list[Offer]:
        call = decision.call
        queue = self.queues[decision.queue]
        kind = OfferKind.CALLBACK if call.callback_number is not None else OfferKind.CALL
        self.waiting.make_unroutable(call)
        call.state = CallState.OFFERING
        offers = []
        for agent in decision.agents:
            self._offer_ids += 1
            offer = Offer(
                self._offer_ids,
                call.call_id,
                agent.agent_id,
                queue.name,
                kind,
                now,
                now + queue.ring_timeout_seconds,
                decision.trace,
            )
            call.offers[agent.agent_id] = offer
            agent.offer = offer
            agent.call_id = call.call_id
            agent.call_queue = queue.name
            self._set_state(agent, AgentEvent.OFFER, now)
            self._timer(offer.ring_deadline, RING_TIMER, offer)
            offers.append(offer)
        self.emit(AcdEvent(now, EventKind.OFFER, call.call_id, call.queues[0], ",".join(decision.trace.chosen), trace=decision.trace))
        if self.log is not None and self.log.logger.isEnabledFor(logging.INFO):
            self.log.info("route", **decision.trace.fields())
        return offers

    # ------------------------------------------------------------ reconfiguration
    # What firmware/acd/core_reconfig.py applies a plan with, besides the public event API.

    def cancel_offer(self, offer: Offer, now: float) -> Offer:
        """Stops one ringing offer (OFFERCANCEL); the call waits again if it has no other."""
        return self._withdraw(offer, now, OfferFailure.CANCELLED)

    def remove_call(self, call_id: str, now: float, reason: str) -> list[Offer]:
        """Takes a waiting or ringing call out of its queues (EXITEMPTY with ``reason``); the
        offers to stop ringing."""
        call = self._call(call_id, CallState.WAITING, CallState.OFFERING, CallState.PARKED, CallState.DIALING)
        cancelled = self._leave_offers(call, now, ring_canceled=False)
        self._leave(call, EventKind.EXITEMPTY, now, reason=reason)
        return cancelled

    def rearm(self, drop: frozenset[int], now: float) -> None:
        """After the queues' settings changed: the leave-when-empty queues again, the timers of
        the kinds ``drop`` dropped and the listed calls' max-wait, relaxation and retry timers
        set from the new settings."""
        self._leave_queues = [name for name, queue in self.queues.items() if queue.leavewhenempty is not None]
        self._empty_dirty = True
        timers = [timer for timer in self._timers if timer[2] not in drop]
        heapq.heapify(timers)
        self._timers = timers
        retry_ends: set[float] = set()
        for call in self.waiting.calls.values():
            max_wait = self.queues[call.queues[0]].max_wait_seconds
            if max_wait is not None and call.callback_number is None:
                # Max wait counts from entering the queue; a call already past it exits at the next tick.
                self._timer(max(call.entered_at + max_wait, now), MAXWAIT_TIMER, call, call.seq)
            self._schedule_relax(call, now)
            if call.reserved_until > now:  # a reservation's end (reserve_for_agent)
                retry_ends.add(call.reserved_until)
            for declined_at in call.declined.values():
                retry_ends.update(declined_at + self.queues[queue].retry_seconds for queue in call.queues
                                  if declined_at + self.queues[queue].retry_seconds > now)
        for when in sorted(retry_ends):
            self._timer(when, WAKE_TIMER, None)

    def reconfigure(self, config: AcdConfig, now: float) -> Reconfigured:
        """Applies a changed configuration at once, calls and agents kept (FirmwareError if
        invalid, and nothing changes): the plan of :mod:`firmware.acd.reconfigure`, applied."""
        if not isinstance(config, AcdConfig):
            raise FirmwareError("acd: a reconfiguration needs an AcdConfig")
        config.validate()
        return apply_plan(self, plan_reconfiguration(core_facts(self), config), now)

    # ------------------------------------------------------------------ queries

    def position(self, call_id: str, queue: str | None = None) -> int:
        call = self._call(call_id, CallState.WAITING, CallState.OFFERING, CallState.PARKED, CallState.DIALING)
        return self.waiting.position(call, queue or call.queues[0])

    def staffed(self, queue: str) -> int:
        """Members logged into ``queue`` and not paused."""
        return staffed_members(self.members[queue], queue)

    def estimated_wait(self, call_id: str) -> float | None:
        """Seconds until an agent is expected for the call (see waiting.py for the formula)."""
        call = self._call(call_id, CallState.WAITING, CallState.OFFERING, CallState.PARKED)
        queue = call.queues[0]
        return estimated_wait_seconds(self.waiting.position(call, queue), self.aht[queue].value, self.staffed(queue))

    def queue_snapshot(self, queue: str, now: float) -> dict[str, object]:
        """Live figures of one queue for the console and the web admin."""
        if queue not in self.queues:
            raise FirmwareError(f"acd: no queue named {queue!r}")
        return queue_figures(queue, self.members, self.waiting, self.aht, now)

    def checkpoint(self, now: float) -> None:
        """Reports every agent's time in the current activity so far (an AGENTSTATE event
        with from = to), so statistics read at ``now`` include it; call at interval edges."""
        for agent in self.agents.values():
            if now > agent.activity_since:
                self.emit(_activity_event(agent, agent.activity, now))
                agent.activity_since = now


def _activity_event(agent: Agent, to_state: str, now: float) -> AcdEvent:
    """AGENTSTATE: the time the agent spent in its activity until ``now``, going to ``to_state``."""
    return AcdEvent(now, EventKind.AGENTSTATE, agent=agent.agent_id, from_state=agent.activity, to_state=to_state,
                    duration=now - agent.activity_since, queues=agent.logged_queues, work_queue=agent.activity_queue)

