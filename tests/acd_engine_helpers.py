"""Helpers for the ACD-in-the-box tests (tests/test_acd_engine*.py).

The demo office (features_helpers) with every inbound call routed to the queue ``support``
(number 700); agents 1001 and 1002 normally sit at 203 (port 4) and 204 (port 5). What a
party hears is compared with the cached prompts (``best_match``: normalised correlation
against the prompt's samples) and with the music on hold the appliance loaded.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from features_helpers import PORT, best_match, dial, hang_up, heard, run

from firmware.config.demo import demo_config
from firmware.config.model import Agent, Config, Destination, DestinationKind, InboundRoute

MATCH = 0.9  # a prompt or the music is recognised in what a party heard
NO_MATCH = 0.5


def queue_config(agents: tuple[Agent, ...] | None = None, **queue_changes) -> Config:
    """The demo office, inbound calls to ``support`` changed by ``queue_changes``."""
    config = demo_config()
    support = replace(config.queues[0], **queue_changes)
    return replace(config, routes=(InboundRoute("all", Destination(DestinationKind.QUEUE, "support")),),
                   queues=(support,), agents=config.agents if agents is None else agents)


def login(app, extension: str, agent_id: str, pin: str = "") -> None:
    """The agent dials *45, types the id (and PIN) with #, hears the answer, hangs up."""
    dial(app, extension, "*45", 1.0)
    dial(app, extension, f"{agent_id}#", 1.5)
    if pin:
        dial(app, extension, f"{pin}#", 1.5)
    run(app, 1.5)
    hang_up(app, extension)


def queue_log(app) -> list[list[str]]:
    """The queue_log lines written so far, split at '|'."""
    app.queue_log.flush()
    path = Path(app.queue_log.name)
    return [line.split("|") for line in path.read_text(encoding="utf-8").splitlines()]


def events_of(app, kind: str) -> list[list[str]]:
    return [fields for fields in queue_log(app) if fields[4] == kind]


def matches(samples: np.ndarray, reference: np.ndarray) -> float:
    """How well what was heard matches a stretch of ``reference`` (1.0 = identical shape)."""
    return best_match(np.asarray(samples, dtype=np.float64), np.asarray(reference, dtype=np.float64))


def phone_heard(app, extension: str, ms: int) -> np.ndarray:
    return heard(app, PORT[extension], ms)


def contains(heard_samples: np.ndarray, prompt: np.ndarray) -> float:
    """How well the whole ``prompt`` appears somewhere in ``heard_samples`` (1.0 = as is)."""
    if len(heard_samples) < len(prompt):
        return 0.0
    return best_match(np.asarray(prompt, dtype=np.float64), np.asarray(heard_samples, dtype=np.float64))


def dial_and_hear(app, extension: str, digits: str, seconds: float) -> np.ndarray:
    """``extension`` dials ``digits``; returns what the phone heard from then for ``seconds``."""
    start = app.switch.tick
    dial(app, extension, digits, seconds)
    return heard(app, PORT[extension], (app.switch.tick - start) * 20)
