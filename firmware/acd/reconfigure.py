"""Live reconfiguration of the ACD core, as a plan: queues, agents and settings change without a restart.

:func:`plan_reconfiguration` is a pure function: from the running core's read-only facts
(:class:`CoreFacts`, taken by :meth:`AcdCore.facts() <firmware.acd.core.AcdCore.facts>`) and
the new configuration it computes a :class:`ReconfigurationPlan` — queues and agents added,
removed and changed, the agents to log out, the callers whose queues go away (fewer queues,
offers withdrawn, or an exit to a destination), the membership events, rrmemory's memory in
the new member order and the kinds of timers to drop. :meth:`AcdCore.reconfigure
<firmware.acd.core.AcdCore.reconfigure>` validates the configuration, asks for the plan and
applies it through its public methods (:func:`firmware.acd.core_reconfig.apply_plan`), as Asterisk's
``queue reload`` or FreeSWITCH's ``callcenter_config`` do: a saved change applies at once and
no call is dropped. An invalid configuration raises ``FirmwareError`` and changes nothing; an
identical one gives an empty plan. In short (docs/acd.md, "Live reconfiguration", is the
reference):

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

The order of work matters, and the plan is computed for it: logouts first (they use the old
indexes), then the calls of removed queues, then memberships, and last the new configuration
with every index rebuilt from the state (router's available sets, routing classes, per-queue
order, timers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from enum import Enum, StrEnum
from typing import Any, Protocol

from firmware.acd.agent_state import AgentState
from firmware.acd.core_types import MAXWAIT_TIMER, WAKE_TIMER, Exit
from firmware.acd.model import (
    HANGUP,
    AcdConfig,
    CallbackPolicy,
    Destination,
    DestinationKind,
    Offer,
    QueueConfig,
    RelaxStep,
)
from firmware.acd.waiting import CallState

REMOVED_REASON = "queue_removed"  # the reason of the EXITEMPTY event of a call whose queues were removed
ON_THE_CALL = frozenset({AgentState.ON_CALL, AgentState.WRAP_UP})  # logged out only when this ends
DROPPED_TIMERS = frozenset({MAXWAIT_TIMER, WAKE_TIMER})  # rescheduled from the new settings; ring,
# wrap-up and callback-retry timers keep their times (an offer ringing, a wrap-up running)


@dataclass(frozen=True)
class Reconfigured:
    """What the engine must do after a reconfiguration, and what changed (for its log)."""

    cancelled: list[Offer] = field(default_factory=list)  # stop ringing these
    exits: list[Exit] = field(default_factory=list)  # send these callers to the destination
    summary: tuple[str, ...] = ()  # one human-readable line per change


# ------------------------------------------------------------------ facts (read from the core)


@dataclass(frozen=True)
class AgentFacts:
    """One agent of the running core, as the plan needs it."""

    agent_id: str
    state: AgentState
    logged_queues: tuple[str, ...] = ()
    configured: tuple[str, ...] = ()  # the queues of its configuration until now (penalties)


@dataclass(frozen=True)
class CallFacts:
    """One listed call (waiting, ringing, parked or being dialled back)."""

    call_id: str
    state: CallState
    queues: tuple[str, ...]
    offers: tuple[tuple[str, str], ...] = ()  # (agent, queue) of each offer ringing


@dataclass(frozen=True)
class CoreFacts:
    """What the plan reads from the running core; nothing in it is changed."""

    config: AcdConfig
    agents: tuple[AgentFacts, ...] = ()  # in the core's order (events come out in it)
    calls: tuple[CallFacts, ...] = ()  # the listed calls, in the waiting list's order
    members: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # queue -> agent ids, member order
    rr_last: Mapping[str, int] = field(default_factory=dict)  # rrmemory: member index offered last


# ------------------------------------------------------------------ the plan


class CallAction(StrEnum):
    KEEP = "keep"  # waits on in the queues that remain
    UNLIST = "unlist"  # a callback being dialled: the dial-out goes on, no longer listed
    EXIT = "exit"  # no queue left: leaves (EXITEMPTY, queue_removed) for ``destination``


@dataclass(frozen=True)
class CallMove:
    """A listed call that loses one or more queues."""

    call_id: str
    action: CallAction
    queues: tuple[str, ...] = ()  # KEEP: the queues that remain, in order
    withdraw: tuple[str, ...] = ()  # KEEP: agents whose offer (made through a removed queue) stops
    destination: Destination | None = None  # EXIT: where the caller goes


@dataclass(frozen=True)
class LogOut:
    agent_id: str
    removed: bool  # no longer configured: dropped from the core once logged out


@dataclass(frozen=True)
class Membership:
    """A logged-in agent who stays logged in (for now): the queues after the change."""

    agent_id: str
    logged_queues: tuple[str, ...]  # empty: on a call or in wrap-up, logged out when that ends
    leave: tuple[str, ...] = ()  # REMOVEMEMBER
    join: tuple[str, ...] = ()  # ADDMEMBER
    removed: bool = False  # no longer configured


@dataclass(frozen=True)
class ReconfigurationPlan:
    """What a reconfiguration does, computed before anything changes."""

    config: AcdConfig
    changed: bool = False  # False: the same configuration, nothing to do
    summary: tuple[str, ...] = ()
    queues_added: tuple[str, ...] = ()
    queues_removed: tuple[str, ...] = ()
    queues_changed: tuple[str, ...] = ()
    agents_added: tuple[str, ...] = ()
    agents_removed: tuple[str, ...] = ()
    agents_changed: tuple[str, ...] = ()
    forget: tuple[str, ...] = ()  # logged-out agents no longer configured: dropped now
    log_out: tuple[LogOut, ...] = ()  # logged out now (a ringing offer is withdrawn)
    calls: tuple[CallMove, ...] = ()
    memberships: tuple[Membership, ...] = ()
    rr_last: Mapping[str, int] = field(default_factory=dict)  # per queue of the new configuration
    drop_timers: frozenset[int] = frozenset()  # timer kinds rescheduled from the new settings


class _HasId(Protocol):
    @property
    def agent_id(self) -> str: ...


def plan_reconfiguration(facts: CoreFacts, config: AcdConfig) -> ReconfigurationPlan:
    """The plan that takes a core with ``facts`` to the (validated) ``config``; pure."""
    old = facts.config
    if config == old:
        return ReconfigurationPlan(old)
    old_queues = {queue.name: queue for queue in old.queues}
    queues = {queue.name: queue for queue in config.queues}
    agents = {agent.agent_id: dict(agent.queues) for agent in config.agents}
    old_agents = {agent.agent_id: agent for agent in old.agents}
    working = {agent.agent_id for agent in facts.agents if agent.state in ON_THE_CALL}
    forget, log_out, memberships = [], [], []
    for agent in facts.agents:
        new_queues = agents.get(agent.agent_id)
        if agent.state is AgentState.LOGGED_OUT:
            if new_queues is None:
                forget.append(agent.agent_id)
            continue
        staying = _staying_queues(agent, new_queues or {})
        if agent.state not in ON_THE_CALL and not staying:
            log_out.append(LogOut(agent.agent_id, new_queues is None))
            continue
        memberships.append(Membership(
            agent.agent_id, staying,
            leave=tuple(queue for queue in agent.logged_queues if queue not in staying),
            join=tuple(queue for queue in staying if queue not in agent.logged_queues),
            removed=new_queues is None))
    leaving = {each.agent_id for each in log_out}
    removed = {name for name in old_queues if name not in queues}
    moves = [move for call in facts.calls
             if (move := _move(call, removed, leaving, old_queues, queues)) is not None]
    new_members = {name: [agent for agent in config.agents if name in agent.queues] for name in queues}
    rr_last = {name: rr_memory([_Id(each) for each in facts.members.get(name, ())], new_members[name],
                               facts.rr_last.get(name, -1)) for name in queues}
    return ReconfigurationPlan(
        config,
        changed=True,
        summary=tuple(describe_changes(old, config, working)),
        queues_added=tuple(name for name in queues if name not in old_queues),
        queues_removed=tuple(sorted(removed, key=list(old_queues).index)),
        queues_changed=tuple(name for name, queue in queues.items() if name in old_queues and old_queues[name] != queue),
        agents_added=tuple(agent_id for agent_id in agents if agent_id not in old_agents),
        agents_removed=tuple(agent_id for agent_id in old_agents if agent_id not in agents),
        agents_changed=tuple(agent.agent_id for agent in config.agents
                             if agent.agent_id in old_agents and old_agents[agent.agent_id] != agent),
        forget=tuple(forget),
        log_out=tuple(log_out),
        calls=tuple(moves),
        memberships=tuple(memberships),
        rr_last=rr_last,
        drop_timers=DROPPED_TIMERS,
    )


@dataclass(frozen=True)
class _Id:
    agent_id: str


def _staying_queues(agent: AgentFacts, queues: Mapping[str, int]) -> tuple[str, ...]:
    """The queues a logged-in agent is in after the change: those kept, then those gained
    (configured now, not before). Empty: the agent has to log out."""
    kept = tuple(queue for queue in agent.logged_queues if queue in queues)
    return kept + tuple(queue for queue in queues if queue not in agent.configured)


def _move(call: CallFacts, removed: set[str], leaving: set[str], old_queues: Mapping[str, QueueConfig],
          queues: Mapping[str, QueueConfig]) -> CallMove | None:
    """What happens to a listed call when ``removed`` queues go (None: nothing)."""
    if removed.isdisjoint(call.queues):
        return None
    remaining = tuple(queue for queue in call.queues if queue not in removed)
    if remaining:
        # Offers of agents logged out first are withdrawn by the logout already.
        withdraw = tuple(agent for agent, queue in call.offers if queue in removed and agent not in leaving)
        return CallMove(call.call_id, CallAction.KEEP, remaining, withdraw)
    if call.state is CallState.DIALING:
        return CallMove(call.call_id, CallAction.UNLIST)
    primary = old_queues[call.queues[0]]
    return CallMove(call.call_id, CallAction.EXIT,
                    destination=surviving_destination(primary.timeout_destination, old_queues, queues))


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


def rr_memory(old: Sequence[_HasId], new: Sequence[_HasId], last: int) -> int:
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
