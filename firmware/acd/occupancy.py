"""Who is in a queue: read-only figures over its members, pure functions.

Asterisk's ``joinempty``/``leavewhenempty`` rules (:func:`queue_empty`), the members staffing
a queue (:func:`staffed`) and one queue's live figures for the console and the web admin
(:func:`queue_figures`). :class:`~firmware.acd.core.AcdCore` passes its member lists in;
nothing here changes an agent or a call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from firmware.acd.agent_state import Agent, AgentState
from firmware.acd.model import EmptyCondition
from firmware.acd.waiting import AhtTracker, WaitingList, estimated_wait_seconds


def queue_empty(members: Sequence[Agent], queue: str, conditions: frozenset[EmptyCondition]) -> bool:
    """No member logged into ``queue`` is outside ``conditions`` (Asterisk joinempty rules)."""
    blocked = {
        AgentState.PAUSED: EmptyCondition.PAUSED in conditions,
        AgentState.RINGING: EmptyCondition.RINGING in conditions,
        AgentState.ON_CALL: EmptyCondition.INUSE in conditions,
        AgentState.WRAP_UP: EmptyCondition.WRAPUP in conditions,
        AgentState.AVAILABLE: False,
    }
    inuse = EmptyCondition.INUSE in conditions
    for agent in members:
        if agent.state is AgentState.LOGGED_OUT or queue not in agent.logged_queues:
            continue
        if blocked[agent.state] or (inuse and agent.phone_busy):
            continue
        return False
    return True


def staffed(members: Sequence[Agent], queue: str) -> int:
    """Members logged into ``queue`` and not paused."""
    return sum(1 for agent in members
               if queue in agent.logged_queues and agent.state not in (AgentState.PAUSED, AgentState.LOGGED_OUT))


def queue_figures(queue: str, members: Mapping[str, Sequence[Agent]], waiting: WaitingList,
                  aht: Mapping[str, AhtTracker], now: float) -> dict[str, object]:
    """Live figures of one queue (``AcdCore.queue_snapshot``)."""
    by_activity: dict[str, int] = {}
    for agent in members[queue]:
        activity = agent.current_activity() if queue in agent.logged_queues else AgentState.LOGGED_OUT.value
        by_activity[activity] = by_activity.get(activity, 0) + 1
    count = staffed(members[queue], queue)
    return {
        "queue": queue,
        "waiting": waiting.count(queue),
        "longest_wait_seconds": waiting.longest_wait(queue, now),
        "agents": by_activity,
        "staffed": count,
        "aht_seconds": aht[queue].value,
        "estimated_wait_new_call": estimated_wait_seconds(waiting.count(queue) + 1, aht[queue].value, count),
    }
