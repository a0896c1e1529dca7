"""The routing decision: which agent(s) get a waiting call, and the trace of why.

Eligible agents for a call: members of one of the call's queues, logged into it,
``AVAILABLE`` (so not paused, not ringing, not on a call, not in wrap-up), phone not busy
with another call, meeting every skill requirement as relaxed for the call's waiting time
(missing skill = level 0), and not within the queue's ``retry_seconds`` of having missed or
declined this same call. A call reserved for one agent (a callback that agent booked,
:meth:`~firmware.acd.core.AcdCore.reserve_for_agent`) has only that agent eligible until the
reservation ends; while it waits for them the calls behind it are routed as usual.

Choice, in order:

1. Queue: for a call waiting in several queues, the queue whose eligible agents include
   the lowest penalty; a tie goes to the queue listed first for the call.
2. Penalty tier: in that queue only eligible agents with that lowest penalty compete
   (Asterisk semantics), except under ``wrandom`` (see :mod:`firmware.acd.strategies`).
3. Rank: a call with skill requirements in a queue with ``skill_selection=best`` takes
   the best match (highest total level on its required skills, ties by longest idle, then
   member order); otherwise the queue strategy ranks. ``ringall`` offers the call to the
   whole tier at once.

Speed: the router keeps, per queue, the agents that are available now (an index updated
on every state change), so a decision looks only at available members of the call's
queues, never at every agent.

Every decision returns a :class:`RouteTrace` (the data) with :meth:`RouteTrace.fields`
and :meth:`RouteTrace.render` for the log and the console. :func:`waiting_decisions` is the
order in which the waiting calls are tried at a tick.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from drivers.logs import format_fields
from firmware.acd.agent_state import Agent
from firmware.acd.model import QueueConfig, SkillSelection, Strategy
from firmware.acd.strategies import best_skill_key, strategy_key, uses_tiers
from firmware.acd.waiting import RouteClass, WaitingCall

TRACE_SHOWN = 5  # candidates shown in the one-line rendering


@dataclass(frozen=True, slots=True)
class CandidateInfo:
    agent_id: str
    penalty: int
    idle_seconds: float
    levels: tuple[tuple[str, int], ...]  # the agent's levels on the call's required skills
    key: tuple


@dataclass(frozen=True, slots=True)
class RouteTrace:
    """Why a call went to an agent: the candidates and the rule that decided."""

    time: float
    call_id: str
    queue: str
    strategy: str
    rule: str
    tier_penalty: int
    requirements: tuple[tuple[str, int], ...]  # as relaxed at decision time
    relax_stage: int
    candidates: tuple[CandidateInfo, ...]  # eligible agents of the chosen tier, best first
    chosen: tuple[str, ...]
    excluded_skills: int
    excluded_retry: int
    excluded_reserved: int = 0  # available agents passed over: the call is reserved for another

    def fields(self) -> dict[str, object]:
        shown = ",".join(
            f"{c.agent_id}(p{c.penalty} idle{c.idle_seconds:.1f}"
            + "".join(f" {skill}{level}" for skill, level in c.levels)
            + ")"
            for c in self.candidates[:TRACE_SHOWN]
        )
        fields: dict[str, object] = {
            "call": self.call_id,
            "queue": self.queue,
            "strategy": self.strategy,
            "rule": self.rule,
            "chosen": ",".join(self.chosen),
            "tier": self.tier_penalty,
            "needs": ",".join(f"{skill}>={level}" for skill, level in self.requirements) or "-",
            "relax": self.relax_stage,
            "candidates": len(self.candidates),
            "top": shown,
        }
        if len(self.candidates) > TRACE_SHOWN:
            fields["more"] = len(self.candidates) - TRACE_SHOWN
        if self.excluded_skills:
            fields["no_skill"] = self.excluded_skills
        if self.excluded_retry:
            fields["retry_wait"] = self.excluded_retry
        if self.excluded_reserved:
            fields["reserved_others"] = self.excluded_reserved
        return fields

    def render(self) -> str:
        """One ``key=value`` line for the console."""
        return format_fields(self.fields())


@dataclass(frozen=True, slots=True)
class RouteDecision:
    call: WaitingCall
    queue: str
    agents: tuple[Agent, ...]
    trace: RouteTrace


class Router:
    """Indexes of available agents per queue, and the decision for one call."""

    def __init__(self, queues: dict[str, QueueConfig], members: dict[str, int], rng: random.Random) -> None:
        self.queues = queues
        self.members = members  # queue -> number of configured members
        self.rng = rng
        self.available: dict[str, dict[str, Agent]] = {name: {} for name in queues}
        self.rr_last: dict[str, int] = {name: -1 for name in queues}

    def install(
        self,
        queues: dict[str, QueueConfig],
        members: dict[str, int],
        rr_last: dict[str, int],
        agents: Iterable[Agent],
    ) -> None:
        """New queues and member counts (a reconfiguration): the available index is rebuilt
        from the agents' states; ``rr_last`` is rrmemory's memory, mapped to the new order."""
        self.queues = queues
        self.members = members
        self.rr_last = {name: rr_last.get(name, -1) for name in queues}
        self.available = {name: {} for name in queues}
        for agent in agents:
            if agent.routable:
                self.add_available(agent)

    def add_available(self, agent: Agent) -> None:
        for queue in agent.logged_queues:
            self.available[queue][agent.agent_id] = agent

    def remove_available(self, agent: Agent) -> None:
        for queue in agent.logged_queues:
            self.available[queue].pop(agent.agent_id, None)

    def any_available(self, queues: tuple[str, ...]) -> bool:
        available = self.available
        for queue in queues:
            if available[queue]:
                return True
        return False

    def select(self, call: WaitingCall, now: float) -> tuple[RouteDecision | None, bool]:
        """The decision for ``call``, or (None, blocked_for_this_call_only): True when only the
        retry wait or the call's reservation for another agent kept the available agents out."""
        required = call.relaxed_requirements(now)
        declined = call.declined
        reserved = call.reserved_agent(now)
        excluded_skills = excluded_retry = excluded_reserved = 0
        best: tuple[int, int, str, list[Agent]] | None = None
        for order, queue in enumerate(call.queues):
            available = self.available[queue]
            if not available:
                continue
            retry_seconds = self.queues[queue].retry_seconds
            eligible: list[Agent] = []
            lowest = None
            agents = available.values()
            if reserved is not None:
                agents = [available[reserved]] if reserved in available else []
                excluded_reserved += len(available) - len(agents)
            for agent in agents:
                if required:
                    levels = agent.skills
                    if any(levels.get(skill, 0) < level for skill, level in required):
                        excluded_skills += 1
                        continue
                if declined and call.in_cooldown(agent.agent_id, now, retry_seconds):
                    excluded_retry += 1
                    continue
                eligible.append(agent)
                penalty = agent.penalties[queue]
                if lowest is None or penalty < lowest:
                    lowest = penalty
            if lowest is not None and (best is None or (lowest, order) < best[:2]):
                best = (lowest, order, queue, eligible)
        if best is None:
            return None, excluded_retry > 0 or excluded_reserved > 0
        tier_penalty, _, queue, eligible = best
        decision = self._rank(call, now, queue, tier_penalty, eligible, excluded_skills, excluded_retry)
        if reserved is not None:
            trace = replace(decision.trace, rule=f"reserved_for:{reserved}", excluded_reserved=excluded_reserved)
            decision = replace(decision, trace=trace)
        return decision, False

    def _rank(
        self,
        call: WaitingCall,
        now: float,
        queue: str,
        tier_penalty: int,
        eligible: list[Agent],
        excluded_skills: int,
        excluded_retry: int,
    ) -> RouteDecision:
        config = self.queues[queue]
        strategy = config.strategy
        if uses_tiers(strategy):
            eligible = [agent for agent in eligible if agent.penalties[queue] == tier_penalty]
        use_skills = (
            bool(call.requirement_items)
            and config.skill_selection is SkillSelection.BEST
            and strategy is not Strategy.RINGALL
        )
        if use_skills:
            key = best_skill_key(queue, call.requirement_items)
        else:
            key = strategy_key(strategy, queue, self.rng, self.rr_last[queue], self.members[queue])
        ranked = sorted(((key(agent), agent) for agent in eligible), key=lambda pair: pair[0])
        if strategy is Strategy.RINGALL:
            chosen = tuple(agent for _, agent in ranked)
        else:
            chosen = (ranked[0][1],)
        rule = _rule(strategy, use_skills, ranked, queue, now, len(chosen))
        if strategy is Strategy.RRMEMORY:
            self.rr_last[queue] = chosen[0].member_index[queue]
        skills = [skill for skill, _ in call.requirement_items]
        candidates = tuple(
            CandidateInfo(
                agent.agent_id,
                agent.penalties[queue],
                now - agent.idle_since,
                tuple((skill, agent.skills.get(skill, 0)) for skill in skills),
                agent_key,
            )
            for agent_key, agent in ranked
        )
        trace = RouteTrace(
            time=now,
            call_id=call.call_id,
            queue=queue,
            strategy=strategy.value,
            rule=rule,
            tier_penalty=tier_penalty,
            requirements=call.relaxed_requirements(now),
            relax_stage=call.relax_stage(now) if call.relax_steps else 0,
            candidates=candidates,
            chosen=tuple(agent.agent_id for agent in chosen),
            excluded_skills=excluded_skills,
            excluded_retry=excluded_retry,
        )
        return RouteDecision(call, queue, chosen, trace)


def _rule(strategy: Strategy, use_skills: bool, ranked: list, queue: str, now: float, chosen: int) -> str:
    """A short human phrase for the rule that decided."""
    if len(ranked) == 1:
        return "only_candidate"
    top_key, top = ranked[0]
    if use_skills:
        tie = ranked[1][0][0] == top_key[0]
        return f"best_skill_total:{-top_key[0]}" + (f",tie_longest_idle:{now - top.idle_since:.1f}s" if tie else "")
    if strategy is Strategy.RINGALL:
        return f"ringall:{chosen}"
    if strategy is Strategy.LEASTRECENT:
        return f"longest_idle:{now - top.idle_since:.1f}s"
    if strategy is Strategy.FEWESTCALLS:
        return f"fewest_calls:{top_key[0]}"
    if strategy is Strategy.LEASTTALKTIME:
        return f"least_talk:{top_key[0]:.0f}s"
    if strategy is Strategy.LINEAR:
        return f"first_member:{top.member_index[queue]}"
    if strategy is Strategy.RRMEMORY:
        return f"next_member:{top.member_index[queue]}"
    return f"{strategy.value}_draw:{top_key[0]:.3f}"


def waiting_decisions(classes: Iterable[RouteClass], router: Router, now: float,
                      anyone_left: Callable[[], bool]) -> Iterator[RouteDecision]:
    """The decisions for the waiting calls, best call first across the routing classes
    (priority, then enqueue time). The caller makes each decision's offers before it asks for
    the next (they change who is available); it stops when ``anyone_left()`` says no agent is
    available. In a class, a call that found nobody only because of retry cooldowns lets the
    next call of the class try; a call that found nobody at all ends the class (the calls
    behind it need at least as much)."""
    heads = [(route_class.entries[0][2].key, route_class, 0) for route_class in classes
             if router.any_available(route_class.queues)]
    heapq.heapify(heads)
    while heads and anyone_left():
        _, route_class, index = heapq.heappop(heads)
        entries = route_class.entries
        if index >= len(entries):
            continue
        decision, retry_only = router.select(entries[index][2], now)
        if decision is not None:
            yield decision  # its offers take the call out of the class: the same index is the next call
        elif retry_only:
            index += 1
        else:
            continue
        if index < len(entries) and router.any_available(route_class.queues):
            heapq.heappush(heads, (entries[index][2].key, route_class, index))
