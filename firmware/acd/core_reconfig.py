"""How a reconfiguration plan is applied to an :class:`~firmware.acd.core.AcdCore`.

:func:`firmware.acd.reconfigure.plan_reconfiguration` decides, a pure function of the core's
facts (:func:`core_facts`) and the new configuration; :func:`apply_plan` carries the plan out,
in its order: logouts, the calls of removed queues, memberships, then the new configuration
with every index rebuilt from the state (members, router, routing classes, per-queue order,
handle-time means) and the timers set again. It works through the core's public surface only:
its event API (``agent_logout``, ``checkpoint``), ``cancel_offer``, ``remove_call``, ``emit``
and ``rearm``, and its state objects (agents, calls, waiting list, router).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from firmware.acd.agent_state import Agent, AgentState
from firmware.acd.core_types import Exit, ExitReason
from firmware.acd.events import AcdEvent, EventKind
from firmware.acd.model import HANGUP, Offer, QueueConfig
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


def core_facts(core: AcdCore) -> CoreFacts:
    """The read-only facts a reconfiguration plan is computed from (copies)."""
    return CoreFacts(
        core.config,
        tuple(AgentFacts(a.agent_id, a.state, a.logged_queues, tuple(a.penalties)) for a in core.agents.values()),
        tuple(CallFacts(c.call_id, c.state, c.queues, tuple((o.agent_id, o.queue) for o in c.offers.values()))
              for c in core.waiting.calls.values()),
        {name: tuple(agent.agent_id for agent in members) for name, members in core.members.items()},
        dict(core.router.rr_last),
    )


def apply_plan(core: AcdCore, plan: ReconfigurationPlan, now: float) -> Reconfigured:
    """Applies ``plan``, computed from :func:`core_facts` just before (nothing happened between)."""
    if not plan.changed:
        return Reconfigured()
    core.checkpoint(now)  # activity so far is accounted to the queues the agents are in now
    cancelled: list[Offer] = []
    exits: list[Exit] = []
    for agent_id in plan.forget:
        del core.agents[agent_id]
    for leaver in plan.log_out:  # first: the logouts use the old indexes
        core.agents[leaver.agent_id].removed = leaver.removed  # agent_logout drops a removed agent
        cancelled.extend(core.agent_logout(leaver.agent_id, now))
    for move in plan.calls:
        _move_call(core, move, now, cancelled, exits)
    for change in plan.memberships:
        _change_membership(core, change, now)
    _install(core, plan, now)
    return Reconfigured(cancelled, exits, plan.summary)


def _move_call(core: AcdCore, move: CallMove, now: float, cancelled: list[Offer], exits: list[Exit]) -> None:
    """A listed call loses queues that were removed."""
    call = core.calls[move.call_id]
    if move.action is CallAction.KEEP:
        for agent_id in move.withdraw:
            offer = call.offers.get(agent_id)
            if offer is not None:
                cancelled.append(core.cancel_offer(offer, now))
        call.queues = move.queues  # classes and per-queue order are rebuilt by _install
    elif move.action is CallAction.UNLIST:
        core.waiting.remove(call)  # the agent is calling the caller back: that goes on, unlisted
    else:
        primary = call.queues[0]
        cancelled.extend(core.remove_call(call.call_id, now, REMOVED_REASON))
        exits.append(Exit(call.call_id, primary, ExitReason.REMOVED, move.destination or HANGUP))


def _change_membership(core: AcdCore, change: Membership, now: float) -> None:
    """ADDMEMBER/REMOVEMEMBER for the queues a logged-in agent gains and loses; a working
    agent left without queues logs out when the work ends."""
    agent = core.agents[change.agent_id]
    for queue in change.leave:
        core.emit(AcdEvent(now, EventKind.REMOVEMEMBER, queue=queue, agent=agent.agent_id))
    paused = "PAUSED" if agent.state is AgentState.PAUSED else ""
    for queue in change.join:
        core.emit(AcdEvent(now, EventKind.ADDMEMBER, queue=queue, agent=agent.agent_id, reason=paused))
        agent.calls_taken.setdefault(queue, 0)
        agent.talk_seconds.setdefault(queue, 0.0)
    agent.logged_queues = change.logged_queues
    agent.logout_after_work = not change.logged_queues
    agent.removed = change.removed


def _install(core: AcdCore, plan: ReconfigurationPlan, now: float) -> None:
    """The new configuration, members in its order, and every index rebuilt from the state."""
    config = plan.config
    queues = {queue.name: queue for queue in config.queues}
    configs = {agent.agent_id: agent for agent in config.agents}
    for agent in core.agents.values():
        agent_config = configs.get(agent.agent_id)
        agent.penalties = dict(agent_config.queues) if agent_config is not None else {}
        if agent_config is not None:
            agent.skills = dict(agent_config.skills)
    retired = {**core.retired_queues, **{name: q for name, q in core.queues.items() if name not in queues}}
    named = {agent.call_queue for agent in core.agents.values()}
    named.update(queue for call in core.calls.values() for queue in (call.connect_queue, *call.queues))
    core.retired_queues = {n: q for n, q in retired.items() if n in named and n not in queues}
    core.config = config
    core.queues = queues
    members: dict[str, list[Agent]] = {name: [] for name in queues}
    agents: dict[str, Agent] = {}
    for agent_config in config.agents:
        agent = core.agents.get(agent_config.agent_id)
        if agent is None:
            agent = Agent(agent_config, {}, now)  # a new agent is logged out; its clocks start now
        agent.member_index = {}
        for queue in agent_config.queues:
            agent.member_index[queue] = len(members[queue])
            members[queue].append(agent)
        agents[agent.agent_id] = agent
    for agent in core.agents.values():
        if agent.agent_id not in agents:  # removed while on a call: no longer a member of anything
            agent.member_index = {}
            agents[agent.agent_id] = agent
    core.agents = agents
    core.members = members
    core.router.install(queues, {name: len(each) for name, each in members.items()}, dict(plan.rr_last),
                        agents.values())
    for call in core.waiting.calls.values():
        primary = queues[call.queues[0]]
        requirements = dict(primary.required_skills) if call.skills_from_queue else call.requirements
        call.set_requirements(requirements, primary.relax_steps)
    core.waiting.rebuild(tuple(queues))
    core.aht = {name: _aht_tracker(core.aht.get(name), queue, config.aht_smoothing) for name, queue in queues.items()}
    core.abandons.window_seconds = config.abandon_resume_seconds
    core.rearm(plan.drop_timers, now)


def _aht_tracker(tracker: AhtTracker | None, queue: QueueConfig, smoothing: float) -> AhtTracker:
    """The queue's handle-time mean goes on; before any call was handled it is the new default."""
    if tracker is None:
        return AhtTracker(queue.default_aht_seconds, smoothing)
    if tracker.samples == 0:
        tracker.value = queue.default_aht_seconds
    tracker.weight = smoothing
    return tracker
