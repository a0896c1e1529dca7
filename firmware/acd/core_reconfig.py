"""How :class:`~firmware.acd.core.AcdCore` applies a reconfiguration plan: its own methods, kept here.

:func:`firmware.acd.reconfigure.plan_reconfiguration` decides (a pure function of the core's
facts and the new configuration); the core applies the plan through the methods of this
mixin, in the plan's order: logouts, the calls of removed queues, memberships, then the new
configuration with every index rebuilt from the state (router, routing classes, per-queue
order, timers). They are the core's own methods (``AcdCore`` inherits them), in a module of
their own so that ``core.py`` stays readable.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from firmware.acd.agent_state import Agent, AgentState
from firmware.acd.core_types import MAXWAIT_TIMER, WAKE_TIMER, Exit, ExitReason
from firmware.acd.events import AcdEvent, EventKind
from firmware.acd.model import HANGUP, Offer, OfferFailure, QueueConfig
from firmware.acd.reconfigure import (
    REMOVED_REASON,
    AgentFacts,
    CallAction,
    CallFacts,
    CallMove,
    CoreFacts,
    Membership,
    ReconfigurationPlan,
    Reconfigured,
)
from firmware.acd.waiting import AhtTracker

if TYPE_CHECKING:
    from firmware.acd.core import AcdCore


class ReconfigurationMixin:
    """The reconfiguration methods of :class:`~firmware.acd.core.AcdCore`."""

    def facts(self: AcdCore) -> CoreFacts:
        """The read-only facts a reconfiguration plan is computed from (copies)."""
        return CoreFacts(
            self.config,
            tuple(AgentFacts(a.agent_id, a.state, a.logged_queues, tuple(a.penalties)) for a in self.agents.values()),
            tuple(CallFacts(c.call_id, c.state, c.queues, tuple((o.agent_id, o.queue) for o in c.offers.values()))
                  for c in self.waiting.calls.values()),
            {name: tuple(agent.agent_id for agent in members) for name, members in self.members.items()},
            dict(self.router.rr_last),
        )

    def apply_reconfiguration(self: AcdCore, plan: ReconfigurationPlan, now: float) -> Reconfigured:
        """Applies ``plan``, computed from :meth:`facts` just before (nothing happened between)."""
        if not plan.changed:
            return Reconfigured()
        self.checkpoint(now)  # activity so far is accounted to the queues the agents are in now
        cancelled: list[Offer] = []
        exits: list[Exit] = []
        for agent_id in plan.forget:
            del self.agents[agent_id]
        for leaver in plan.log_out:  # first: the logouts use the old indexes
            self.agents[leaver.agent_id].removed = leaver.removed  # agent_logout drops a removed agent
            cancelled.extend(self.agent_logout(leaver.agent_id, now))
        for move in plan.calls:
            self._move_call(move, now, cancelled, exits)
        for change in plan.memberships:
            self._change_membership(change, now)
        self._install(plan, now)
        return Reconfigured(cancelled, exits, plan.summary)

    def _move_call(self: AcdCore, move: CallMove, now: float, cancelled: list[Offer], exits: list[Exit]) -> None:
        """A listed call loses queues that were removed."""
        call = self.calls[move.call_id]
        if move.action is CallAction.KEEP:
            for agent_id in move.withdraw:
                offer = call.offers.get(agent_id)
                if offer is not None:
                    cancelled.append(self._withdraw(offer, now, OfferFailure.CANCELLED))
            call.queues = move.queues  # classes and per-queue order are rebuilt by _install
        elif move.action is CallAction.UNLIST:
            self.waiting.remove(call)  # the agent is calling the caller back: that goes on, unlisted
        else:
            primary = call.queues[0]
            cancelled.extend(self._leave_offers(call, now, ring_canceled=False))
            self._leave(call, EventKind.EXITEMPTY, now, reason=REMOVED_REASON)
            exits.append(Exit(call.call_id, primary, ExitReason.REMOVED, move.destination or HANGUP))

    def _change_membership(self: AcdCore, change: Membership, now: float) -> None:
        """ADDMEMBER/REMOVEMEMBER for the queues a logged-in agent gains and loses; a working
        agent left without queues logs out when the work ends."""
        agent = self.agents[change.agent_id]
        for queue in change.leave:
            self._emit(AcdEvent(now, EventKind.REMOVEMEMBER, queue=queue, agent=agent.agent_id))
        paused = "PAUSED" if agent.state is AgentState.PAUSED else ""
        for queue in change.join:
            self._emit(AcdEvent(now, EventKind.ADDMEMBER, queue=queue, agent=agent.agent_id, reason=paused))
            agent.calls_taken.setdefault(queue, 0)
            agent.talk_seconds.setdefault(queue, 0.0)
        agent.logged_queues = change.logged_queues
        agent.logout_after_work = not change.logged_queues
        agent.removed = change.removed

    def _install(self: AcdCore, plan: ReconfigurationPlan, now: float) -> None:
        """The new configuration, members in its order, and every index rebuilt from the state."""
        config = plan.config
        queues = {queue.name: queue for queue in config.queues}
        configs = {agent.agent_id: agent for agent in config.agents}
        for agent in self.agents.values():
            agent_config = configs.get(agent.agent_id)
            agent.penalties = dict(agent_config.queues) if agent_config is not None else {}
            if agent_config is not None:
                agent.skills = dict(agent_config.skills)
        retired = {**self.retired_queues, **{name: q for name, q in self.queues.items() if name not in queues}}
        named = {agent.call_queue for agent in self.agents.values()}
        named.update(queue for call in self.calls.values() for queue in (call.connect_queue, *call.queues))
        self.retired_queues = {n: q for n, q in retired.items() if n in named and n not in queues}
        self.config = config
        self.queues = queues
        members: dict[str, list[Agent]] = {name: [] for name in queues}
        agents: dict[str, Agent] = {}
        for agent_config in config.agents:
            agent = self.agents.get(agent_config.agent_id)
            if agent is None:
                agent = Agent(agent_config, {}, now)  # a new agent is logged out; its clocks start now
            agent.member_index = {}
            for queue in agent_config.queues:
                agent.member_index[queue] = len(members[queue])
                members[queue].append(agent)
            agents[agent.agent_id] = agent
        for agent in self.agents.values():
            if agent.agent_id not in agents:  # removed while on a call: no longer a member of anything
                agent.member_index = {}
                agents[agent.agent_id] = agent
        self.agents = agents
        self.members = members
        self.router.install(queues, {name: len(each) for name, each in members.items()}, dict(plan.rr_last),
                            agents.values())
        for call in self.waiting.calls.values():
            primary = queues[call.queues[0]]
            requirements = dict(primary.required_skills) if call.skills_from_queue else call.requirements
            call.set_requirements(requirements, primary.relax_steps)
        self.waiting.rebuild(tuple(queues))
        self.aht = {name: _aht_tracker(self.aht.get(name), queue, config.aht_smoothing) for name, queue in queues.items()}
        self.abandons.window_seconds = config.abandon_resume_seconds
        self._leave_queues = [name for name, queue in queues.items() if queue.leavewhenempty is not None]
        self._empty_dirty = True
        self._reschedule(plan.drop_timers, now)

    def _reschedule(self: AcdCore, drop: frozenset[int], now: float) -> None:
        """Drops the timers of the kinds ``drop`` and sets the listed calls' max-wait,
        relaxation and retry timers from the new settings."""
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


def _aht_tracker(tracker: AhtTracker | None, queue: QueueConfig, smoothing: float) -> AhtTracker:
    """The queue's handle-time mean goes on; before any call was handled it is the new default."""
    if tracker is None:
        return AhtTracker(queue.default_aht_seconds, smoothing)
    if tracker.samples == 0:
        tracker.value = queue.default_aht_seconds
    tracker.weight = smoothing
    return tracker
