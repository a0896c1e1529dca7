"""Discrete-event simulation of one queue, running the production ACD core on a virtual clock.

Traffic: Poisson arrivals (exponential inter-arrival times, mean ``3600 / calls_per_hour``),
exponential handle (talk) times with mean ``aht_seconds``, and, when ``patience_seconds``
is given, exponential patience: a caller still waiting (or ringing) when the patience runs
out abandons. Agents answer every offer at once (ring time 0), so the model is M/M/n
(Erlang C) or M/M/n+M (Erlang A) and the results can be checked against
:mod:`firmware.acd.erlang`.

The loop is a heap of timed events (arrival, call end, patience expiry, and the core's own
timers from :meth:`AcdCore.next_wakeup`); after each event the core's :meth:`AcdCore.tick`
is called with the event's time and the offers it returns are answered. Results come from
the production :class:`~firmware.acd.stats.StatsCollector`, over calls whose wait ended
after the warm-up:

* ``service_level`` = answered within T / (answered + abandoned) (``service_level_offered``
  of stats.py; with no abandonment it equals answered within T / answered);
* ``asa_seconds``, ``abandon_rate``, ``occupancy`` as defined in stats.py;
* ``calls`` = calls that entered the queue after the warm-up.

Everything random is drawn from streams spawned from one seed, so a run is repeatable.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import asdict, dataclass

import numpy as np

from firmware import FirmwareError
from firmware.acd.core import AcdCore
from firmware.acd.model import AcdConfig, AgentConfig, QueueConfig, Strategy
from firmware.acd.stats import StatsCollector
from firmware.acd.waiting import CallState

QUEUE = "sim"
_ARRIVAL, _END, _PATIENCE, _WAKE = range(4)
_BLOCK = 4096


@dataclass(frozen=True)
class SimulationSpec:
    agents: int
    calls_per_hour: float
    aht_seconds: float
    hours: float
    seed: int
    strategy: Strategy = Strategy.LEASTRECENT
    patience_seconds: float | None = None
    target_seconds: float = 20.0
    warmup_hours: float = 0.0

    def validate(self) -> SimulationSpec:
        if not isinstance(self.agents, int) or self.agents < 1:
            raise FirmwareError("simulate: at least one agent")
        for name in ("calls_per_hour", "aht_seconds", "hours"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise FirmwareError(f"simulate: {name.replace('_', ' ')} must be a positive number")
        if self.patience_seconds is not None and (not math.isfinite(self.patience_seconds) or self.patience_seconds <= 0):
            raise FirmwareError("simulate: patience must be a positive number of seconds")
        if not 0 <= self.warmup_hours < self.hours:
            raise FirmwareError("simulate: warm-up must be shorter than the run")
        if self.target_seconds < 0:
            raise FirmwareError("simulate: target seconds must be >= 0")
        return self


@dataclass(frozen=True)
class SimulationResult:
    service_level: float | None
    service_level_answered: float | None
    asa_seconds: float | None
    abandon_rate: float | None
    occupancy: float | None
    calls: int
    answered: int
    abandoned: int

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


class _Exponential:
    """Exponential draws from a numpy Generator, fetched in blocks (fast per draw)."""

    def __init__(self, generator: np.random.Generator, mean: float) -> None:
        self.generator = generator
        self.mean = mean
        self.block: list[float] = []

    def __call__(self) -> float:
        if not self.block:
            self.block = (self.generator.exponential(self.mean, _BLOCK)).tolist()
            self.block.reverse()
        return self.block.pop()


def simulation_config(spec: SimulationSpec) -> AcdConfig:
    queue = QueueConfig(QUEUE, strategy=spec.strategy, service_level_seconds=spec.target_seconds)
    agents = tuple(AgentConfig(f"agent{i + 1}", queues={QUEUE: 0}) for i in range(spec.agents))
    return AcdConfig(queues=(queue,), agents=agents, autopause_after_missed=0)


def simulate(spec: SimulationSpec) -> SimulationResult:
    """Runs the simulation described by ``spec``; deterministic for a given seed."""
    spec.validate()
    streams = np.random.SeedSequence(spec.seed).spawn(4)
    inter_arrival = _Exponential(np.random.default_rng(streams[0]), 3600.0 / spec.calls_per_hour)
    handle = _Exponential(np.random.default_rng(streams[1]), spec.aht_seconds)
    patience = _Exponential(np.random.default_rng(streams[2]), spec.patience_seconds or 1.0)
    router_rng = random.Random(int(np.random.default_rng(streams[3]).integers(2**63)))
    config = simulation_config(spec)
    stats = StatsCollector.for_config(config)
    core = AcdCore(config, router_rng, listeners=[stats])
    for agent in config.agents:
        core.agent_login(agent.agent_id, 0.0)
    end = spec.hours * 3600.0
    heap: list[tuple[float, int, int, str]] = []
    seq = 0
    calls = core.calls
    waiting_states = (CallState.WAITING, CallState.OFFERING)
    use_patience = spec.patience_seconds is not None
    heapq.heappush(heap, (inter_arrival(), 0, _ARRIVAL, ""))
    wake_at = math.inf
    next_id = 0
    while heap:
        now, _, kind, call_id = heapq.heappop(heap)
        if now > end:
            break
        if kind == _ARRIVAL:
            next_id += 1
            call_id = str(next_id)
            core.call_arrived(call_id, (QUEUE,), "", now)
            seq += 1
            heapq.heappush(heap, (now + inter_arrival(), seq, _ARRIVAL, ""))
            if use_patience:
                seq += 1
                heapq.heappush(heap, (now + patience(), seq, _PATIENCE, call_id))
        elif kind == _END:
            core.call_ended(call_id, now)
        elif kind == _PATIENCE:
            call = calls.get(call_id)
            if call is None or call.state not in waiting_states:
                continue
            core.caller_abandoned(call_id, now)
        elif kind == _WAKE:
            wake_at = math.inf
        result = core.tick(now)
        for offer in result.offers:
            call = calls.get(offer.call_id)
            if call is None or call.state is not CallState.OFFERING:
                continue  # a ring-all sibling already answered
            core.offer_answered(offer.call_id, offer.agent_id, now)
            seq += 1
            heapq.heappush(heap, (now + handle(), seq, _END, offer.call_id))
        wake = core.next_wakeup()
        if wake is not None and wake < wake_at:
            wake_at = wake
            seq += 1
            heapq.heappush(heap, (max(wake, now), seq, _WAKE, ""))
    core.checkpoint(end)
    warmup = spec.warmup_hours * 3600.0
    queue = stats.queue_stats(QUEUE, start=warmup if warmup > 0 else None)
    agents = stats.agent_stats(start=warmup if warmup > 0 else None)
    return SimulationResult(
        service_level=queue.service_level_offered,
        service_level_answered=queue.service_level,
        asa_seconds=queue.asa_seconds,
        abandon_rate=queue.abandon_rate,
        occupancy=agents.occupancy,
        calls=queue.offered,
        answered=queue.answered,
        abandoned=queue.abandoned,
    )
