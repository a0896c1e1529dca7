"""Shared builders for the ACD tests: a core with recorded events, and short-hand agents."""

from __future__ import annotations

import random

from firmware.acd.core import AcdCore
from firmware.acd.events import AcdEvent, EventKind
from firmware.acd.model import AcdConfig, AgentConfig, QueueConfig


class Recorder:
    """An ACD listener that keeps every event."""

    def __init__(self) -> None:
        self.events: list[AcdEvent] = []

    def on_event(self, event: AcdEvent) -> None:
        self.events.append(event)

    def kinds(self, *kinds: EventKind) -> list[AcdEvent]:
        return [event for event in self.events if event.kind in kinds]

    def traces(self) -> list:
        return [event.trace for event in self.events if event.kind is EventKind.OFFER]


def agent(agent_id: str, queues: dict[str, int] | None = None, **skills: int) -> AgentConfig:
    return AgentConfig(agent_id, skills=skills, queues=queues if queues is not None else {"q": 0})


def make_core(
    queues: tuple[QueueConfig, ...] | QueueConfig,
    agents: tuple[AgentConfig, ...],
    login_at: float | None = 0.0,
    seed: int = 1,
    **config: object,
) -> tuple[AcdCore, Recorder]:
    """A core with every agent logged in at ``login_at`` (None: nobody logged in)."""
    if isinstance(queues, QueueConfig):
        queues = (queues,)
    recorder = Recorder()
    core = AcdCore(AcdConfig(queues=queues, agents=agents, **config), random.Random(seed), [recorder])
    if login_at is not None:
        for each in agents:
            core.agent_login(each.agent_id, login_at)
    return core, recorder


def offered_to(core: AcdCore, now: float) -> list[tuple[str, str]]:
    """(call, agent) pairs of the offers a tick makes at ``now``."""
    return [(offer.call_id, offer.agent_id) for offer in core.tick(now).offers]


def serve(core: AcdCore, call_id: str, agent_id: str, answered_at: float, ended_at: float) -> None:
    """The agent answers the offer and the call ends (caller hangs up)."""
    core.offer_answered(call_id, agent_id, answered_at)
    core.call_ended(call_id, ended_at)
