"""Discrete-event simulation of a campaign: the production dialler and pacing on a virtual clock.

As the ACD's simulator (``firmware/acd/simulate.py``) runs the production routing core, this
runs the production :class:`~firmware.campaign.dialler.Dialler` (and through it
``pacing.py``): a heap of timed events (a dialled call's outcome, an agent's call ending, a
preview decided, an answered call's 2 s running out); after each one the dialler's ``step``
is called with the event's time and the lines free, and its actions are carried out.

The simulated world (seeded, every draw from its own stream):

* placing a call takes ``SETUP_S`` (seize, dial tone, dialling);
* with probability ``answer_rate`` a person answers after a ring of uniform ``RING_S``
  (answering machines are not modelled: ``answer_rate`` is the rate of people reached);
* else the line is busy (``BUSY_SHARE``, known ``BUSY_S`` after dialling), the number is
  disconnected (``SIT_SHARE``, a SIT after ``SIT_S``) or nobody answers (the rest, given up
  after ``NO_ANSWER_S``, the campaign's default no-answer time);
* an agent's call lasts an exponential time of mean ``aht`` (talk and wrap-up), then the
  agent is free;
* preview: the agent reads the lead for ``PREVIEW_S`` and accepts it.

Figures: ``contacts_per_agent_hour`` = calls an agent took / (agents × hours);
``abandon_rate`` = abandoned / answered (people); ``agent_utilisation`` = talk and wrap-up /
logged-in time; ``calls`` = calls placed.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import asdict, dataclass

import numpy as np

from firmware import FirmwareError
from firmware.campaign.dialler import (
    Abandon,
    Connect,
    Dial,
    Dialler,
    HangUp,
    Lead,
    LeaveMessage,
    Mode,
    Outcome,
    Preview,
)

SETUP_S = 3.0  # seize, dial tone (about 0.5 s) and ten DTMF digits at 160 ms each
RING_S = (4.0, 20.0)  # a person answers after one to four US ring cycles (6 s each)
BUSY_SHARE, BUSY_S = 0.25, 2.0  # busy tone recognised after 1.5 cycles of 1 s
SIT_SHARE, SIT_S = 0.10, 3.0  # a SIT's three segments, then the announcement
NO_ANSWER_S = 30.0
PREVIEW_S = 10.0
_OUTCOME, _HANDLE_END, _PREVIEW, _DEADLINE = range(4)


@dataclass(frozen=True)
class CampaignSimSpec:
    mode: Mode
    agents: int
    answer_rate: float
    aht_seconds: float
    hours: float
    seed: int
    lines: int | None = None  # None: enough not to limit the pacing
    max_abandon: float = 0.03

    def validate(self) -> CampaignSimSpec:
        if not isinstance(self.agents, int) or not 1 <= self.agents <= 500:
            raise FirmwareError("campaign simulate: agents must be 1-500")
        if not (math.isfinite(self.answer_rate) and 0.0 < self.answer_rate <= 1.0):
            raise FirmwareError("campaign simulate: answer rate must be in (0, 1]")
        for name in ("aht_seconds", "hours"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise FirmwareError(f"campaign simulate: {name.replace('_', ' ')} must be a positive number")
        if self.hours > 1000:
            raise FirmwareError("campaign simulate: at most 1000 hours")
        if self.lines is not None and not 1 <= self.lines <= 5000:
            raise FirmwareError("campaign simulate: lines must be 1-5000")
        if not (math.isfinite(self.max_abandon) and 0.0 <= self.max_abandon <= 1.0):
            raise FirmwareError("campaign simulate: max abandon must be within 0-1")
        Mode(self.mode)
        return self

    def line_count(self) -> int:
        # enough: every agent's share of calls in flight even at a 5 % answer rate
        return self.lines if self.lines is not None else self.agents * 20


@dataclass(frozen=True)
class CampaignSimResult:
    contacts_per_agent_hour: float
    abandon_rate: float | None
    agent_utilisation: float | None
    calls: int
    answered: int
    contacts: int
    abandoned: int

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


class _EndlessLeads:
    """Fresh numbers for ever (the simulation measures pacing, not list exhaustion)."""

    def __init__(self) -> None:
        self.next_id = 1
        self.returned: list[Lead] = []

    def next_lead(self, now: float) -> Lead | None:
        if self.returned:
            return self.returned.pop()
        lead = Lead(self.next_id, f"{self.next_id:010d}")
        self.next_id += 1
        return lead

    def put_back(self, lead: Lead) -> None:
        self.returned.append(lead)


def simulate_campaign(spec: CampaignSimSpec) -> CampaignSimResult:
    """Runs the simulation described by ``spec``; deterministic for a given seed."""
    spec.validate()
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(spec.seed).spawn(3)]
    outcome_rng, ring_rng, handle_rng = streams
    dialler = Dialler(Mode(spec.mode), _EndlessLeads(), max_abandon=spec.max_abandon)
    lines = spec.line_count()
    end = spec.hours * 3600.0
    heap: list[tuple[float, int, int, object]] = []
    seq = 0

    def push(when: float, kind: int, ref: object) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (when, seq, kind, ref))

    def draw_outcome() -> tuple[Outcome, float]:
        u = float(outcome_rng.random())
        if u < spec.answer_rate:
            return Outcome.HUMAN, SETUP_S + float(ring_rng.uniform(*RING_S))
        rest = (u - spec.answer_rate) / (1.0 - spec.answer_rate)
        if rest < BUSY_SHARE:
            return Outcome.BUSY, SETUP_S + BUSY_S
        if rest < BUSY_SHARE + SIT_SHARE:
            return Outcome.DISCONNECTED, SETUP_S + SIT_S
        return Outcome.NO_ANSWER, SETUP_S + NO_ANSWER_S

    def lines_in_use() -> int:
        return len(dialler.in_flight) + len(dialler.waiting) + len(dialler.talking)

    def carry_out(actions: list, now: float) -> None:
        for action in actions:
            if isinstance(action, Dial):
                outcome, after = draw_outcome()
                push(now + after, _OUTCOME, (action.attempt_id, outcome))
            elif isinstance(action, Preview):
                push(now + PREVIEW_S, _PREVIEW, action.agent_id)
            elif isinstance(action, Connect):
                push(now + float(handle_rng.exponential(spec.aht_seconds)), _HANDLE_END,
                     (action.attempt_id, action.agent_id))
            elif isinstance(action, (Abandon, HangUp, LeaveMessage)):
                pass  # the line is free again (the message's seconds are not modelled)
        deadline = dialler.next_deadline()
        if deadline is not None:
            push(deadline, _DEADLINE, None)

    for i in range(spec.agents):
        dialler.agent_ready(f"agent{i + 1}", 0.0)
    carry_out(dialler.step(0.0, lines), 0.0)
    while heap:
        now, _, kind, ref = heapq.heappop(heap)
        if now > end:
            break
        if kind == _OUTCOME:
            attempt_id, outcome = ref  # type: ignore[misc]
            carry_out(dialler.outcome(attempt_id, outcome, now), now)
        elif kind == _HANDLE_END:
            attempt_id, agent_id = ref  # type: ignore[misc]
            dialler.call_finished(attempt_id, now)
            dialler.agent_ready(agent_id, now)
        elif kind == _PREVIEW:
            agent = dialler.agents[str(ref)]
            if agent.lead is not None and agent.attempt_id is None:
                carry_out([dialler.preview_accept(agent.agent_id, now)], now)
        carry_out(dialler.step(now, lines - lines_in_use()), now)
    logged, handle = dialler.agent_seconds(end)
    counters = dialler.counters
    return CampaignSimResult(
        contacts_per_agent_hour=counters.connected / (spec.agents * spec.hours),
        abandon_rate=dialler.abandon_rate(),
        agent_utilisation=handle / logged if logged > 0 else None,
        calls=counters.attempts,
        answered=counters.answered,
        contacts=counters.connected,
        abandoned=counters.abandoned,
    )
