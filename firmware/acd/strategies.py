"""Ranking of eligible agents by queue strategy (Asterisk vocabulary); lower key wins.

Penalty tiers (Asterisk semantics): only the eligible agents with the lowest penalty are
ranked; higher penalties are tried only when no lower one is eligible. ``wrandom`` is the
exception, as in Asterisk: every eligible agent draws ``u x (1 + penalty) x 1000`` with
``u`` uniform in [0, 1) and the lowest draw wins, so a penalty lowers the odds.

Keys, per strategy (``idle`` is ``idle_since``, ``index`` the member order):

========== ==================================================================
ringall    every agent of the tier rings at once (no key)
leastrecent (idle, index): longest idle first
rrmemory   ((index - last - 1) mod members): the next member after the one
           offered last from this queue, wrapping round
fewestcalls (calls answered from this queue since login, idle, index)
leasttalktime (talk seconds on this queue since login, idle, index)
linear     (index): first member listed
random     (u): uniform among the tier
wrandom    (u x (1 + penalty) x 1000) over all eligible agents
best skill (-total level on the call's required skills, idle, index)
========== ==================================================================
"""

from __future__ import annotations

import random
from collections.abc import Callable

from firmware.acd.agent_state import Agent
from firmware.acd.model import Strategy

KeyFunction = Callable[[Agent], tuple]


def strategy_key(
    strategy: Strategy,
    queue: str,
    rng: random.Random,
    rr_last_index: int,
    members: int,
) -> KeyFunction:
    """The sort key of ``strategy`` for agents of ``queue`` (lower is offered first)."""
    if strategy is Strategy.LEASTRECENT or strategy is Strategy.RINGALL:
        return lambda agent: (agent.idle_since, agent.member_index[queue])
    if strategy is Strategy.RRMEMORY:
        size = max(members, 1)
        return lambda agent: ((agent.member_index[queue] - rr_last_index - 1) % size,)
    if strategy is Strategy.FEWESTCALLS:
        return lambda agent: (agent.calls_taken.get(queue, 0), agent.idle_since, agent.member_index[queue])
    if strategy is Strategy.LEASTTALKTIME:
        return lambda agent: (agent.talk_seconds.get(queue, 0.0), agent.idle_since, agent.member_index[queue])
    if strategy is Strategy.LINEAR:
        return lambda agent: (agent.member_index[queue],)
    if strategy is Strategy.RANDOM:
        return lambda agent: (rng.random(),)
    if strategy is Strategy.WRANDOM:
        return lambda agent: (rng.random() * (1 + agent.penalties[queue]) * 1000.0,)
    raise ValueError(strategy)


def best_skill_key(queue: str, required: tuple[tuple[str, int], ...]) -> KeyFunction:
    """Best match: the highest total level on the call's required skills, then longest idle."""
    skills = [skill for skill, _ in required]

    def key(agent: Agent) -> tuple:
        levels = agent.skills
        return (-sum(levels.get(skill, 0) for skill in skills), agent.idle_since, agent.member_index[queue])

    return key


def uses_tiers(strategy: Strategy) -> bool:
    return strategy is not Strategy.WRANDOM
