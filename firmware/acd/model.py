"""Configuration and value types of the ACD: queues, agents, skills, destinations, offers.

Everything here is immutable data checked once by :meth:`AcdConfig.validate`; the mutable
run-time state lives in :mod:`firmware.acd.agent_state` (agents) and
:mod:`firmware.acd.waiting` (calls). Vocabulary follows Asterisk's ``queues.conf``
(strategy names, ``timeout``, ``retry``, ``wrapuptime``, ``servicelevel``, ``joinempty``,
``leavewhenempty``, ``maxlen``, member penalties) so that an installer who knows Asterisk
reads the configuration without a manual; docs/acd.md defines every field.

Skills have levels 1–10; an agent who lacks a skill has level 0. A requirement maps a
skill to a minimum level; requirements relax with waiting time (:class:`RelaxStep`).
"""

from __future__ import annotations

import math
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from firmware import FirmwareError

MIN_SKILL_LEVEL = 1
MAX_SKILL_LEVEL = 10


class Strategy(StrEnum):
    """How a queue picks among its eligible agents (Asterisk ``strategy=`` names)."""

    RINGALL = "ringall"  # ring every eligible agent of the best penalty tier at once
    LEASTRECENT = "leastrecent"  # longest idle agent
    RRMEMORY = "rrmemory"  # round robin, starting after the agent offered last
    FEWESTCALLS = "fewestcalls"  # fewest calls answered from this queue since login
    LEASTTALKTIME = "leasttalktime"  # least talk time on this queue since login (linebox)
    LINEAR = "linear"  # member order, first listed first
    RANDOM = "random"  # uniform among the best penalty tier
    WRANDOM = "wrandom"  # random, weighted by penalty (Asterisk's metric), no tiers


class SkillSelection(StrEnum):
    """What skills do for a call that carries requirements."""

    BEST = "best"  # requirements filter; highest total level wins, ties longest idle
    FILTER = "filter"  # requirements only filter; the queue's strategy picks


class DestinationKind(StrEnum):
    QUEUE = "queue"
    VOICEMAIL = "voicemail"
    IVR = "ivr"
    NUMBER = "number"  # an outside number, dialled on a free FXO line
    HANGUP = "hangup"


@dataclass(frozen=True, slots=True)
class Destination:
    """Where the engine sends a caller who leaves a queue without an agent."""

    kind: DestinationKind = DestinationKind.HANGUP
    target: str = ""

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.target}" if self.target else self.kind.value


HANGUP = Destination()


class EmptyCondition(StrEnum):
    """Member conditions that make a queue count as empty (Asterisk ``joinempty`` words).

    A queue is *empty* under a set of conditions when none of its members is logged in
    and outside all of them. ``unavailable`` is always implied: a logged-out agent can
    never take a call.
    """

    PAUSED = "paused"
    INUSE = "inuse"  # on a call (queue or not)
    RINGING = "ringing"
    WRAPUP = "wrapup"


class OfferKind(StrEnum):
    CALL = "call"  # the caller is on the line: ring the agent, bridge on answer
    CALLBACK = "callback"  # the caller hung up and kept the place: ring the agent, then dial out


class OfferFailure(StrEnum):
    NO_ANSWER = "noanswer"  # ring timeout (counts towards auto-pause)
    REJECTED = "rejected"  # the agent declined
    BUSY = "busy"  # the agent's phone turned out to be busy
    CANCELLED = "cancelled"  # the call went away or another agent answered first


@dataclass(frozen=True, slots=True)
class RelaxStep:
    """After ``after_seconds`` of waiting, every required level is capped at ``max_level``.

    ``max_level=0`` drops the skill requirements entirely (any member of the queue).
    Example: ``(RelaxStep(30, 3), RelaxStep(60, 1))`` accepts level >= 3 after 30 s and
    any agent with the skill after 60 s.
    """

    after_seconds: float
    max_level: int


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """Retry rules of a callback: the agent is rung first, then the caller is dialled."""

    max_attempts: int = 3
    retry_interval_seconds: float = 300.0

    def next_attempt_at(self, attempts_made: int, last_attempt_at: float) -> float | None:
        """When to try again after ``attempts_made`` failed dial-outs, or None to give up."""
        if attempts_made >= self.max_attempts:
            return None
        return last_attempt_at + self.retry_interval_seconds


@dataclass(frozen=True)
class QueueConfig:
    """One queue. Defaults are Asterisk's where Asterisk has the setting."""

    name: str
    strategy: Strategy = Strategy.LEASTRECENT
    ring_timeout_seconds: float = 15.0  # Asterisk `timeout`: how long one offer rings
    retry_seconds: float = 5.0  # Asterisk `retry`: before re-offering to an agent who missed
    wrapup_seconds: float = 0.0  # Asterisk `wrapuptime`
    service_level_seconds: float = 20.0  # Asterisk `servicelevel`
    max_wait_seconds: float | None = None  # the Queue() timeout; None waits forever
    timeout_destination: Destination = HANGUP
    joinempty: frozenset[EmptyCondition] | None = None  # None: always join
    leavewhenempty: frozenset[EmptyCondition] | None = None  # None: never leave
    empty_destination: Destination = HANGUP
    maxlen: int = 0  # Asterisk `maxlen`: 0 = unlimited
    exit_keys: Mapping[str, Destination] = field(default_factory=dict)
    required_skills: Mapping[str, int] = field(default_factory=dict)
    relax_steps: tuple[RelaxStep, ...] = ()
    skill_selection: SkillSelection = SkillSelection.BEST
    default_aht_seconds: float = 180.0  # estimated-wait AHT before any call was handled
    callback: CallbackPolicy = CallbackPolicy()


@dataclass(frozen=True)
class AgentConfig:
    """An agent, their skill levels and their queues with per-queue penalties.

    Member order (for ``linear`` and ``rrmemory``) is the order of agents in
    :attr:`AcdConfig.agents`.
    """

    agent_id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    queues: Mapping[str, int] = field(default_factory=dict)  # queue name -> penalty (lower first)


@dataclass(frozen=True)
class AcdConfig:
    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentConfig, ...] = ()
    vip_callers: Mapping[str, int] = field(default_factory=dict)  # caller ID -> priority
    autopause_after_missed: int = 3  # consecutive ring-no-answers; 0 = never
    abandon_resume_seconds: float = 0.0  # 0 = off
    aht_smoothing: float = 0.2  # weight of the newest handle time in the estimated-wait AHT

    def queue(self, name: str) -> QueueConfig:
        for queue in self.queues:
            if queue.name == name:
                return queue
        raise FirmwareError(f"acd: no queue named {name!r}")

    def validate(self) -> AcdConfig:
        """Returns self, or raises FirmwareError naming the first bad setting. No queue at all is
        valid (a running core reconfigured to it drains); starting a core needs one."""
        names = [queue.name for queue in self.queues]
        if len(set(names)) != len(names):
            raise FirmwareError("acd: queue names must be unique")
        for queue in self.queues:
            _validate_queue(queue, set(names))
        agent_ids = [agent.agent_id for agent in self.agents]
        if len(set(agent_ids)) != len(agent_ids):
            raise FirmwareError("acd: agent ids must be unique")
        for agent in self.agents:
            _check_name(agent.agent_id, "agent id")
            for skill, level in agent.skills.items():
                _check_level(level, f"agent {agent.agent_id} skill {skill}", low=MIN_SKILL_LEVEL)
            for queue_name, penalty in agent.queues.items():
                if queue_name not in names:
                    raise FirmwareError(f"acd: agent {agent.agent_id} is in unknown queue {queue_name!r}")
                if not isinstance(penalty, int) or penalty < 0:
                    raise FirmwareError(f"acd: agent {agent.agent_id} penalty must be an integer >= 0")
        for caller, priority in self.vip_callers.items():
            if not caller or not isinstance(priority, int):
                raise FirmwareError("acd: VIP entries map a caller ID to an integer priority")
        if not isinstance(self.autopause_after_missed, int) or self.autopause_after_missed < 0:
            raise FirmwareError("acd: autopause_after_missed must be an integer >= 0")
        _check_seconds(self.abandon_resume_seconds, "abandon_resume_seconds")
        if not 0.0 < self.aht_smoothing <= 1.0:
            raise FirmwareError("acd: aht_smoothing must be in (0, 1]")
        return self


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not name or any(ch in name for ch in "|\n\r"):
        raise FirmwareError(f"acd: {what} must be a non-empty string without '|' or newlines")


def _check_seconds(value: float | None, what: str, allow_none: bool = False, positive: bool = False) -> None:
    if value is None and allow_none:
        return
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise FirmwareError(f"acd: {what} must be a finite number of seconds {'> 0' if positive else '>= 0'}")


def _check_level(level: int, what: str, low: int = 0) -> None:
    if not isinstance(level, int) or not low <= level <= MAX_SKILL_LEVEL:
        raise FirmwareError(f"acd: {what} level must be an integer {low}..{MAX_SKILL_LEVEL}")


def check_arrival(call_id: str, queues: Iterable[str], known: Container[str], priority: int) -> tuple[str, ...]:
    """A call's arrival, checked before anything changes: its id (a queue_log field), its
    queues (one or more, distinct, configured) and its priority; the queues, in order."""
    if not isinstance(call_id, str) or not call_id or "|" in call_id or "\n" in call_id or call_id == "NONE":
        raise FirmwareError("acd: a call id must be a non-empty string without '|' or newlines")
    names = tuple(queues)
    if not names or len(set(names)) != len(names):
        raise FirmwareError("acd: a call needs one or more distinct queues")
    for name in names:
        if name not in known:
            raise FirmwareError(f"acd: no queue named {name!r}")
    if not isinstance(priority, int):
        raise FirmwareError("acd: priority must be an integer")
    return names


def check_requirements(requirements: Mapping[str, int], what: str) -> dict[str, int]:
    """A call's or queue's skill requirements, checked: skill -> minimum level 1..10."""
    for skill, level in requirements.items():
        if not isinstance(skill, str) or not skill:
            raise FirmwareError(f"acd: {what} skill names must be non-empty strings")
        _check_level(level, f"{what} skill {skill}", low=MIN_SKILL_LEVEL)
    return dict(requirements)


def _validate_queue(queue: QueueConfig, names: set[str]) -> None:
    _check_name(queue.name, "queue name")
    if queue.name == "NONE":
        raise FirmwareError("acd: NONE is reserved by the queue_log format")
    if not isinstance(queue.strategy, Strategy) or not isinstance(queue.skill_selection, SkillSelection):
        raise FirmwareError(f"acd: queue {queue.name}: unknown strategy or skill selection")
    _check_seconds(queue.ring_timeout_seconds, f"queue {queue.name} ring_timeout_seconds", positive=True)
    _check_seconds(queue.retry_seconds, f"queue {queue.name} retry_seconds")
    _check_seconds(queue.wrapup_seconds, f"queue {queue.name} wrapup_seconds")
    _check_seconds(queue.service_level_seconds, f"queue {queue.name} service_level_seconds")
    _check_seconds(queue.max_wait_seconds, f"queue {queue.name} max_wait_seconds", allow_none=True, positive=True)
    _check_seconds(queue.default_aht_seconds, f"queue {queue.name} default_aht_seconds", positive=True)
    if not isinstance(queue.maxlen, int) or queue.maxlen < 0:
        raise FirmwareError(f"acd: queue {queue.name}: maxlen must be an integer >= 0")
    for key in queue.exit_keys:
        if key not in "0123456789*#" or len(key) != 1:
            raise FirmwareError(f"acd: queue {queue.name}: exit key {key!r} is not a DTMF digit")
    destinations = [queue.timeout_destination, queue.empty_destination, *queue.exit_keys.values()]
    for destination in destinations:
        if destination.kind is DestinationKind.QUEUE and destination.target not in names:
            raise FirmwareError(f"acd: queue {queue.name}: destination queue {destination.target!r} is unknown")
    check_requirements(queue.required_skills, f"queue {queue.name}")
    previous_time, previous_cap = -1.0, MAX_SKILL_LEVEL
    for step in queue.relax_steps:
        _check_seconds(step.after_seconds, f"queue {queue.name} relax step")
        _check_level(step.max_level, f"queue {queue.name} relax step max")
        # Routing relies on relaxation being monotone: an older call never needs more.
        if step.after_seconds <= previous_time or step.max_level > previous_cap:
            raise FirmwareError(
                f"acd: queue {queue.name}: relax steps must come in increasing time with non-increasing levels"
            )
        previous_time, previous_cap = step.after_seconds, step.max_level
    if not isinstance(queue.callback.max_attempts, int) or queue.callback.max_attempts < 1:
        raise FirmwareError(f"acd: queue {queue.name}: callback max_attempts must be >= 1")
    _check_seconds(queue.callback.retry_interval_seconds, f"queue {queue.name} callback retry interval")


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring ``agent_id`` for ``call_id`` (from ``queue``); the engine reports the outcome."""

    offer_id: int
    call_id: str
    agent_id: str
    queue: str
    kind: OfferKind
    made_at: float
    ring_deadline: float
    trace: Any = field(default=None, compare=False, repr=False)  # the RouteTrace that decided
