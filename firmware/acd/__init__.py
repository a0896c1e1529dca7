"""The ACD: queues, agents, skills-based routing, statistics, queue_log, staffing, simulation.

Pure logic, driven by events with time given by the caller (see :mod:`firmware.acd.core`),
so the call engine and the discrete-event simulator run the same code. docs/acd.md
defines the strategies, skills, statistics and queue_log events.

Modules: ``model`` (configuration and values), ``agent_state`` (agent state machine),
``waiting`` (waiting calls, positions, callbacks, abandon-resume, estimated wait),
``strategies`` and ``router`` (the decision and its trace), ``core`` (the event API) with
``core_types`` (its results and timer kinds) and ``reconfigure`` (live configuration changes),
``events``, ``stats``, ``queue_log``, ``erlang`` (Erlang C/A) and ``simulate``.
"""

from firmware.acd.core import AcdCore, Exit, ExitReason, JoinResult, TickResult
from firmware.acd.events import AcdEvent, EventKind
from firmware.acd.model import (
    AcdConfig,
    AgentConfig,
    CallbackPolicy,
    Destination,
    DestinationKind,
    EmptyCondition,
    Offer,
    OfferFailure,
    OfferKind,
    QueueConfig,
    RelaxStep,
    SkillSelection,
    Strategy,
)
from firmware.acd.reconfigure import Reconfigured
from firmware.acd.router import RouteTrace

__all__ = [
    "AcdConfig",
    "AcdCore",
    "AcdEvent",
    "AgentConfig",
    "CallbackPolicy",
    "Destination",
    "DestinationKind",
    "EmptyCondition",
    "EventKind",
    "Exit",
    "ExitReason",
    "JoinResult",
    "Offer",
    "OfferFailure",
    "OfferKind",
    "QueueConfig",
    "Reconfigured",
    "RelaxStep",
    "RouteTrace",
    "SkillSelection",
    "Strategy",
    "TickResult",
]
