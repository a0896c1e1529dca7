"""Live reconfiguration of the ACD core: queues, agents and settings change without a restart.

:meth:`AcdCore.reconfigure(config, now) <firmware.acd.core.AcdCore.reconfigure>` delegates
here, as Asterisk's ``queue reload`` or FreeSWITCH's ``callcenter_config`` do: a saved change
applies at once and no call is dropped. The new configuration is validated first; an invalid
one raises ``FirmwareError`` and changes nothing, an identical one changes nothing at all.
In short (docs/acd.md, "Live reconfiguration", is the reference):

* Queue settings apply to the next decision; waiting calls keep their place and enqueue
  time. A call's base requirements and relax steps follow its primary queue (requirements
  only if the call took them from the queue, not from the IVR). Max-wait timers follow the
  new max wait, counted from entering the queue (already past it: exit at the next tick).
  A running wrap-up keeps its end. rrmemory's memory is kept, mapped to the new member order.
* A removed queue: calls left without any queue exit (EXITEMPTY, reason ``queue_removed``;
  :attr:`ExitReason.REMOVED`) to its ``timeout_destination``; calls in other queues too just
  lose it (the next one becomes primary); offers made through it are withdrawn. Connected
  calls go on and their wrap-up uses the removed queue's time (kept in
  ``core.retired_queues`` while a call names it).
* Agents: a new one is logged out. Logged-in agents get ADDMEMBER (``PAUSED`` when paused) and
  REMOVEMEMBER for the queues they gain and lose. An agent removed, or left without a
  queue, is logged out now (a ringing offer is withdrawn: the call waits again) or, on a call
  or in wrap-up, when that work ends.

The order of work matters: logouts first (they use the old indexes), then the calls of
removed queues, then memberships, and last the new configuration with every index rebuilt
from the state (router's available sets, routing classes, per-queue order, timers).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import TYPE_CHECKING, Any

from firmware import FirmwareError
from firmware.acd.agent_state import Agent, AgentState
from firmware.acd.core_types import (
    CALLBACK_TIMER,
    MAXWAIT_TIMER,
    RING_TIMER,
    WAKE_TIMER,
    WRAPUP_TIMER,
    Exit,
    ExitReason,
)
from firmware.acd.events import AcdEvent, EventKind
from firmware.acd.model import (
    HANGUP,
    AcdConfig,
    AgentConfig,
    CallbackPolicy,
    Destination,
    DestinationKind,
    Offer,
    OfferFailure,
    QueueConfig,
    RelaxStep,
)
from firmware.acd.waiting import AhtTracker, CallState

if TYPE_CHECKING:
    from firmware.acd.core import AcdCore

REMOVED_REASON = "queue_removed"  # the reason of the EXITEMPTY event of a call whose queues were removed
ON_THE_CALL = frozenset({AgentState.ON_CALL, AgentState.WRAP_UP})  # logged out only when this ends
KEPT_TIMERS = frozenset({RING_TIMER, WRAPUP_TIMER, CALLBACK_TIMER})  # times that do not depend on the settings


@dataclass(frozen=True)
class Reconfigured:
    """What the engine must do after a reconfiguration, and what changed (for its log)."""

    cancelled: list[Offer] = field(default_factory=list)  # stop ringing these
    exits: list[Exit] = field(default_factory=list)  # send these callers to the destination
    summary: tuple[str, ...] = ()  # one human-readable line per change


def apply_config(core: AcdCore, config: AcdConfig, now: float) -> Reconfigured:
    """Applies ``config`` to the running ``core`` at ``now`` (see the module docstring)."""
    if not isinstance(config, AcdConfig):
        raise FirmwareError("acd: a reconfiguration needs an AcdConfig")
    config.validate()
    if config == core.config:
        return Reconfigured()
    working = {agent.agent_id for agent in core.agents.values() if agent.state in ON_THE_CALL}
    summary = describe_changes(core.config, config, working)
    queues = {queue.name: queue for queue in config.queues}
    agents = {agent.agent_id: agent for agent in config.agents}
    cancelled: list[Offer] = []
    exits: list[Exit] = []
    core.checkpoint(now)  # activity so far is accounted to the queues the agents are in now
    _log_out_leavers(core, agents, now, cancelled)
    _drop_removed_queues(core, queues, now, cancelled, exits)
    _update_memberships(core, agents, now)
    _install(core, config, queues, now)
    return Reconfigured(cancelled, exits, tuple(summary))


# ------------------------------------------------------------------ agents


def _staying_queues(agent: Agent, queues: Mapping[str, int]) -> tuple[str, ...]:
    """The queues a logged-in agent is in after the change: those kept, then those gained
    (configured now, not before). Empty: the agent has to log out."""
    kept = tuple(queue for queue in agent.logged_queues if queue in queues)
    return kept + tuple(queue for queue in queues if queue not in agent.penalties)


def _log_out_leavers(core: AcdCore, agents: dict[str, AgentConfig], now: float, cancelled: list[Offer]) -> None:
    """Removed agents, and logged-in agents left without a queue, who are not on a call: logged
    out now (as ``agent_logout``: a ringing offer is withdrawn and the call waits again)."""
    for agent in list(core.agents.values()):
        config = agents.get(agent.agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            if config is None:
                del core.agents[agent.agent_id]
            continue
        if agent.state in ON_THE_CALL or _staying_queues(agent, config.queues if config else {}):
            continue
        agent.removed = config is None  # agent_logout drops it
        cancelled.extend(core.agent_logout(agent.agent_id, now))


def _update_memberships(core: AcdCore, agents: dict[str, AgentConfig], now: float) -> None:
    """New skills and penalties; ADDMEMBER/REMOVEMEMBER for the queues a logged-in agent
    gains and loses. A working agent left without queues logs out when the work ends."""
    for agent in core.agents.values():
        config = agents.get(agent.agent_id)
        queues = dict(config.queues) if config is not None else {}
        if agent.state is not AgentState.LOGGED_OUT:
            staying = _staying_queues(agent, queues)
            for queue in agent.logged_queues:
                if queue not in staying:
                    core._emit(AcdEvent(now, EventKind.REMOVEMEMBER, queue=queue, agent=agent.agent_id))
            paused = "PAUSED" if agent.state is AgentState.PAUSED else ""
            for queue in staying:
                if queue not in agent.logged_queues:
                    core._emit(AcdEvent(now, EventKind.ADDMEMBER, queue=queue, agent=agent.agent_id, reason=paused))
                    agent.calls_taken.setdefault(queue, 0)
                    agent.talk_seconds.setdefault(queue, 0.0)
            agent.logged_queues = staying
            agent.logout_after_work = not staying
            agent.removed = config is None
        agent.penalties = queues
        if config is not None:
            agent.skills = dict(config.skills)


# ------------------------------------------------------------------ calls


def _drop_removed_queues(
    core: AcdCore, queues: dict[str, QueueConfig], now: float, cancelled: list[Offer], exits: list[Exit]
) -> None:
    """Takes the removed queues out of the listed calls; calls left without one exit."""
    removed = {name for name in core.queues if name not in queues}
    if not removed:
        return
    for call in list(core.waiting.calls.values()):
        if removed.isdisjoint(call.queues):
            continue
        remaining = tuple(queue for queue in call.queues if queue not in removed)
        if remaining:
            for offer in list(call.offers.values()):
                if offer.queue in removed:
                    cancelled.append(core._withdraw(offer, now, OfferFailure.CANCELLED))
            call.queues = remaining  # classes and per-queue order are rebuilt by _install
        elif call.state is CallState.DIALING:
            core.waiting.remove(call)  # the agent is calling the caller back: that goes on, unlisted
        else:
            primary = core.queues[call.queues[0]]
            cancelled.extend(core._leave_offers(call, now, ring_canceled=False))
            core._leave(call, EventKind.EXITEMPTY, now, reason=REMOVED_REASON)
            destination = surviving_destination(primary.timeout_destination, core.queues, queues)
            exits.append(Exit(call.call_id, primary.name, ExitReason.REMOVED, destination))


def surviving_destination(
    destination: Destination, old_queues: Mapping[str, QueueConfig], new_queues: Mapping[str, QueueConfig]
) -> Destination:
    """``destination``, or, if it names a queue removed too, that queue's own timeout
    destination (and so on); hang-up when no queue of the chain survives."""
    seen: set[str] = set()
    while destination.kind is DestinationKind.QUEUE and destination.target not in new_queues:
        if destination.target in seen or destination.target not in old_queues:
            return HANGUP
        seen.add(destination.target)
        destination = old_queues[destination.target].timeout_destination
    return destination


# ------------------------------------------------------------------ the new configuration


def _install(core: AcdCore, config: AcdConfig, queues: dict[str, QueueConfig], now: float) -> None:
    """The new configuration, members in its order, and every index rebuilt from the state."""
    old_members = core.members
    core.retired_queues.update((name, queue) for name, queue in core.queues.items() if name not in queues)
    named = {agent.call_queue for agent in core.agents.values()}
    named.update(queue for call in core.calls.values() for queue in (call.connect_queue, *call.queues))
    core.retired_queues = {n: q for n, q in core.retired_queues.items() if n in named and n not in queues}
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
    rr_last = {name: rr_memory(old_members.get(name, []), members[name], core.router.rr_last.get(name, -1)) for name in queues}
    core.router.install(queues, {name: len(each) for name, each in members.items()}, rr_last, agents.values())
    for call in core.waiting.calls.values():
        primary = queues[call.queues[0]]
        requirements = dict(primary.required_skills) if call.skills_from_queue else call.requirements
        call.set_requirements(requirements, primary.relax_steps)
    core.waiting.rebuild(tuple(queues))
    core.aht = {name: _aht_tracker(core.aht.get(name), queue, config.aht_smoothing) for name, queue in queues.items()}
    core.abandons.window_seconds = config.abandon_resume_seconds
    core._leave_queues = [name for name, queue in queues.items() if queue.leavewhenempty is not None]
    core._empty_dirty = True
    _reschedule(core, now)


def rr_memory(old: list[Agent], new: list[Agent], last: int) -> int:
    """rrmemory's "offered last" member index in the new order: the same agent's, or, when that
    agent left the queue, the index just before the first member that followed it and stayed."""
    if not 0 <= last < len(old) or not new:
        return -1
    index = {agent.agent_id: at for at, agent in enumerate(new)}
    if old[last].agent_id in index:
        return index[old[last].agent_id]
    for step in range(1, len(old)):
        follower = old[(last + step) % len(old)].agent_id
        if follower in index:
            return index[follower] - 1  # -1 is fine: the member at 0 comes next
    return -1


def _aht_tracker(tracker: AhtTracker | None, queue: QueueConfig, smoothing: float) -> AhtTracker:
    """The queue's handle-time mean goes on; before any call was handled it is the new default."""
    if tracker is None:
        return AhtTracker(queue.default_aht_seconds, smoothing)
    if tracker.samples == 0:
        tracker.value = queue.default_aht_seconds
    tracker.weight = smoothing
    return tracker


def _reschedule(core: AcdCore, now: float) -> None:
    """Max-wait, relaxation and retry timers of the listed calls from the new settings; ring,
    wrap-up and callback-retry timers keep their times (an offer ringing, a wrap-up running)."""
    timers = [timer for timer in core._timers if timer[2] in KEPT_TIMERS]
    heapq.heapify(timers)
    core._timers = timers
    retry_ends: set[float] = set()
    for call in core.waiting.calls.values():
        max_wait = core.queues[call.queues[0]].max_wait_seconds
        if max_wait is not None and call.callback_number is None:
            # Max wait counts from entering the queue; a call already past it exits at the next tick.
            core._timer(max(call.entered_at + max_wait, now), MAXWAIT_TIMER, call, call.seq)
        core._schedule_relax(call, now)
        for declined_at in call.declined.values():
            retry_ends.update(
                declined_at + core.queues[queue].retry_seconds
                for queue in call.queues
                if declined_at + core.queues[queue].retry_seconds > now
            )
    for when in sorted(retry_ends):
        core._timer(when, WAKE_TIMER, None)


# ------------------------------------------------------------------ summary


def describe_changes(old: AcdConfig, new: AcdConfig, working: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """One line per change, e.g. ``queue sales: strategy leastrecent -> rrmemory``, ``agent
    1003 added``, ``agent 1002 removed (after current call)`` (``working``: agents on a call
    or in wrap-up). Member order lines compare the members present before and after."""
    lines = []
    old_queues = {queue.name: queue for queue in old.queues}
    for queue in new.queues:
        before = old_queues.get(queue.name)
        if before is None:
            lines.append(f"queue {queue.name} added")
            continue
        for setting in fields(QueueConfig):
            was, now_is = getattr(before, setting.name), getattr(queue, setting.name)
            if was != now_is:
                lines.append(f"queue {queue.name}: {setting.name} {_show(was)} -> {_show(now_is)}")
        order_before = [agent.agent_id for agent in old.agents if queue.name in agent.queues]
        order_after = [agent.agent_id for agent in new.agents if queue.name in agent.queues]
        both = set(order_before) & set(order_after)
        order_before = [agent for agent in order_before if agent in both]
        order_after = [agent for agent in order_after if agent in both]
        if order_before != order_after:
            lines.append(f"queue {queue.name}: member order {','.join(order_before)} -> {','.join(order_after)}")
    new_names = {queue.name for queue in new.queues}
    lines += [f"queue {name} removed" for name in old_queues if name not in new_names]
    old_agents = {agent.agent_id: agent for agent in old.agents}
    for agent in new.agents:
        before = old_agents.get(agent.agent_id)
        if before is None:
            lines.append(f"agent {agent.agent_id} added")
            continue
        for name in ("queues", "skills"):
            was, now_is = dict(getattr(before, name)), dict(getattr(agent, name))
            if was != now_is:
                lines.append(f"agent {agent.agent_id}: {name} {_show(was)} -> {_show(now_is)}")
    new_ids = {agent.agent_id for agent in new.agents}
    for agent_id in old_agents:
        if agent_id not in new_ids:
            lines.append(f"agent {agent_id} removed" + (" (after current call)" if agent_id in working else ""))
    for setting in fields(AcdConfig):
        if setting.name not in ("queues", "agents"):
            was, now_is = getattr(old, setting.name), getattr(new, setting.name)
            if was != now_is:
                lines.append(f"{setting.name} {_show(was)} -> {_show(now_is)}")
    return lines


def _show(value: Any) -> str:
    """A setting's value as an installer reads it."""
    if value is None:
        return "none"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Destination):
        return str(value)
    if isinstance(value, CallbackPolicy):
        return f"{value.max_attempts}x{_show(value.retry_interval_seconds)}s"
    if isinstance(value, RelaxStep):
        return f"{_show(value.after_seconds)}s:{value.max_level}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return ",".join(f"{key}:{_show(item)}" for key, item in value.items()) or "-"
    if isinstance(value, frozenset):
        return ",".join(sorted(_show(item) for item in value)) or "-"
    if isinstance(value, tuple):
        return ",".join(_show(item) for item in value) or "-"
    return str(value)
