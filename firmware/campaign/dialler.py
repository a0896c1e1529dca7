"""The dialler's core: which lead to dial, when, and which agent takes an answered call.

Pure and on a clock passed in (seconds, any origin), like the ACD's core: the engine service
(``service.py``) feeds it the engine's events at the audio clock's time and carries out its
actions on the lines; the simulator (``simulate.py``) feeds it simulated events. Both run
this same code, so the simulator measures the production pacing.

Modes (issue 15):

* ``preview``: a free agent is offered a lead (:class:`Preview`); the box dials it only when
  the agent accepts (:meth:`Dialler.preview_accept`), and an answered call goes to that agent;
  a skipped lead goes back to the list (not an attempt).
* ``progressive``: one call per free agent (``pacing.progressive_calls``).
* ``predictive``: more calls than free agents, paced (``pacing.predictive_calls``).

An answered call (a person: the answering-machine detector said human or not sure) goes to a
free agent at once (:class:`Connect`); if none is free it waits at most ``abandon_wait_s``
(2 s) for one, then it is abandoned (:class:`Abandon`: the recorded message, then the box
hangs up) and counted. A machine gets :class:`LeaveMessage` (when the campaign has a message
to leave after the beep) or is hung up, and the lead is tried again per the retry rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from firmware import FirmwareError
from firmware.campaign.pacing import (
    ABANDON_WAIT_S,
    Measurements,
    PacingInput,
    predictive_calls,
    progressive_calls,
)


class Mode(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


class Outcome(StrEnum):
    """How a dialled call ended its dialling (the classification of issue 15)."""

    HUMAN = "human"  # answered by a person (or AMD not sure): goes to an agent
    MACHINE = "machine"  # an answering machine
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"  # the network's congestion tone: all circuits busy
    DISCONNECTED = "disconnected"  # special information tone (ITU-T Q.35 / E.180): number not in service
    FAILED = "failed"  # no line, no dial tone, the call could not be placed


class AgentState(StrEnum):
    FREE = "free"
    PREVIEWING = "previewing"  # preview: looking at a lead, or waiting for the call it accepted
    TALKING = "talking"
    WRAPUP = "wrapup"
    AWAY = "away"  # logged out or paused: not counted by pacing


@dataclass(frozen=True)
class Lead:
    lead_id: int
    number: str
    name: str = ""


class LeadSource(Protocol):
    """Where the dialler's next lead comes from (the store's retry schedule; the simulator's list)."""

    def next_lead(self, now: float) -> Lead | None:
        """The next lead due at ``now`` (taken: not given again until :meth:`put_back`), or None."""
        ...

    def put_back(self, lead: Lead) -> None:
        """A lead taken but not dialled (a preview skipped, no line) is due again."""
        ...


@dataclass(frozen=True)
class Dial:
    attempt_id: int
    lead: Lead


@dataclass(frozen=True)
class Preview:
    agent_id: str
    lead: Lead


@dataclass(frozen=True)
class Connect:
    attempt_id: int
    agent_id: str


@dataclass(frozen=True)
class Abandon:
    attempt_id: int


@dataclass(frozen=True)
class HangUp:
    """A machine (no message to leave) or a call the campaign ends."""

    attempt_id: int


@dataclass(frozen=True)
class LeaveMessage:
    attempt_id: int


Action = Dial | Preview | Connect | Abandon | HangUp | LeaveMessage


@dataclass
class Attempt:
    attempt_id: int
    lead: Lead
    dialled_at: float
    agent_id: str | None = None  # preview: the agent who accepted it
    outcome: Outcome | None = None
    answered_at: float | None = None
    connected_at: float | None = None
    abandoned: bool = False


@dataclass
class Agent:
    agent_id: str
    state: AgentState = AgentState.AWAY
    since: float = 0.0
    lead: Lead | None = None  # preview
    attempt_id: int | None = None
    handle_start: float | None = None
    logged_in_s: float = 0.0
    handle_s: float = 0.0  # talk + wrap-up
    contacts: int = 0


@dataclass
class Counters:
    attempts: int = 0
    answered: int = 0  # humans
    connected: int = 0  # contacts: answered calls an agent took
    abandoned: int = 0
    machines: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class Dialler:
    """One campaign's dialler (module docstring)."""

    def __init__(self, mode: Mode, leads: LeadSource, max_abandon: float = 0.03,
                 abandon_wait_s: float = ABANDON_WAIT_S, leave_message: bool = False) -> None:
        if not 0.0 <= max_abandon <= 1.0:
            raise FirmwareError(f"max abandon rate {max_abandon} is not within 0-1")
        self.mode = Mode(mode)
        self.leads = leads
        self.max_abandon = max_abandon
        self.abandon_wait_s = abandon_wait_s
        self.leave_message = leave_message
        self.measured = Measurements()
        self.counters = Counters()
        self.agents: dict[str, Agent] = {}
        self.in_flight: dict[int, Attempt] = {}  # dialled, no outcome yet
        self.waiting: dict[int, Attempt] = {}  # answered, waiting (at most abandon_wait_s) for an agent
        self.talking: dict[int, Attempt] = {}  # connected to an agent
        self._next_id = 1

    # ------------------------------------------------------------------ agents
    def _agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise FirmwareError(f"agent {agent_id} is not in this campaign")
        return agent

    def _move(self, agent: Agent, state: AgentState, now: float) -> None:
        if agent.state is not AgentState.AWAY:
            agent.logged_in_s += max(0.0, now - agent.since)
        agent.state = state
        agent.since = now

    def agent_ready(self, agent_id: str, now: float) -> None:
        """The agent is logged in and free (after a login, an unpause, the end of wrap-up)."""
        agent = self.agents.setdefault(agent_id, Agent(agent_id, since=now))
        if agent.state in (AgentState.TALKING, AgentState.WRAPUP) and agent.handle_start is not None:
            seconds = now - agent.handle_start
            agent.handle_s += seconds
            self.measured.handled(seconds)
            agent.handle_start = None
        if agent.state is AgentState.PREVIEWING and agent.lead is not None:
            self.leads.put_back(agent.lead)
            agent.lead = None
        if agent.state is not AgentState.FREE:
            self._move(agent, AgentState.FREE, now)

    def agent_busy(self, agent_id: str, now: float) -> None:
        """A free agent is busy with something else (an inbound call of the queue): not free for pacing."""
        agent = self.agents.setdefault(agent_id, Agent(agent_id, since=now))
        if agent.state in (AgentState.FREE, AgentState.AWAY):
            self._move(agent, AgentState.WRAPUP, now)

    def agent_away(self, agent_id: str, now: float) -> None:
        """Logged out or paused; a lead it was previewing goes back to the list."""
        agent = self.agents.get(agent_id)
        if agent is None or agent.state is AgentState.AWAY:
            return
        if agent.lead is not None and agent.attempt_id is None:
            self.leads.put_back(agent.lead)
        agent.lead = None
        self._move(agent, AgentState.AWAY, now)

    def call_finished(self, attempt_id: int, now: float) -> None:
        """The agent's call ended (either side hung up): the agent goes to wrap-up."""
        attempt = self.talking.pop(attempt_id, None)
        if attempt is None or attempt.agent_id is None:
            return
        agent = self.agents.get(attempt.agent_id)
        if agent is not None and agent.state is AgentState.TALKING:
            self._move(agent, AgentState.WRAPUP, now)
            agent.attempt_id = None

    # ------------------------------------------------------------------ preview
    def preview_accept(self, agent_id: str, now: float) -> Dial:
        """The agent accepts the lead shown: the box dials it for this agent."""
        agent = self._agent(agent_id)
        if agent.state is not AgentState.PREVIEWING or agent.lead is None or agent.attempt_id is not None:
            raise FirmwareError(f"agent {agent_id} has no lead to accept")
        dial = self.place(agent.lead, now, agent_id)
        agent.attempt_id = dial.attempt_id
        return dial

    def preview_skip(self, agent_id: str, now: float) -> None:
        """The agent skips the lead shown: it goes back to the list, the agent is free again."""
        agent = self._agent(agent_id)
        if agent.state is not AgentState.PREVIEWING or agent.lead is None or agent.attempt_id is not None:
            raise FirmwareError(f"agent {agent_id} has no lead to skip")
        self.leads.put_back(agent.lead)
        agent.lead = None
        self._move(agent, AgentState.FREE, now)

    # ------------------------------------------------------------------ calls
    def place(self, lead: Lead, now: float, agent_id: str | None = None) -> Dial:
        """A call for ``lead`` is placed now (the pacing's, a preview's; a test's by hand)."""
        attempt = Attempt(self._next_id, lead, now, agent_id)
        self._next_id += 1
        self.in_flight[attempt.attempt_id] = attempt
        self.counters.attempts += 1
        return Dial(attempt.attempt_id, lead)

    def outcome(self, attempt_id: int, outcome: Outcome, now: float) -> list[Action]:
        """The dialled call's outcome is known; returns what to do with it now."""
        attempt = self.in_flight.pop(attempt_id, None)
        if attempt is None:
            return []
        attempt.outcome = Outcome(outcome)
        human = attempt.outcome is Outcome.HUMAN
        if attempt.outcome is not Outcome.FAILED:  # a call never placed says nothing of the list
            self.measured.outcome(human, now - attempt.dialled_at)
        key = str(attempt.outcome)
        self.counters.outcomes[key] = self.counters.outcomes.get(key, 0) + 1
        preview_agent = self.agents.get(attempt.agent_id) if attempt.agent_id else None
        if not human:
            if preview_agent is not None and preview_agent.state is AgentState.PREVIEWING:
                preview_agent.lead = None
                preview_agent.attempt_id = None
                self._move(preview_agent, AgentState.FREE, now)
            if attempt.outcome is Outcome.MACHINE:
                self.counters.machines += 1
                return [LeaveMessage(attempt_id) if self.leave_message else HangUp(attempt_id)]
            return []
        attempt.answered_at = now
        self.counters.answered += 1
        self.waiting[attempt_id] = attempt
        return self.step(now, 0, dial=False)

    def gone(self, attempt_id: int, outcome: Outcome, now: float) -> None:
        """The call ended by itself before the dialler acted on it (the far end hung up, the
        switch's line supervision): counted with ``outcome``, never connected or abandoned."""
        attempt = self.in_flight.pop(attempt_id, None)
        if attempt is not None:
            attempt.outcome = Outcome(outcome)
            if attempt.outcome is not Outcome.FAILED:
                self.measured.outcome(attempt.outcome is Outcome.HUMAN, now - attempt.dialled_at)
            key = str(attempt.outcome)
            self.counters.outcomes[key] = self.counters.outcomes.get(key, 0) + 1
            if attempt.outcome is Outcome.HUMAN:
                self.counters.answered += 1
            agent = self.agents.get(attempt.agent_id) if attempt.agent_id else None
            if agent is not None and agent.state is AgentState.PREVIEWING:
                agent.lead, agent.attempt_id = None, None
                self._move(agent, AgentState.FREE, now)
        self.waiting.pop(attempt_id, None)

    def _connect(self, attempt: Attempt, agent: Agent, now: float) -> Connect:
        del self.waiting[attempt.attempt_id]
        attempt.agent_id = agent.agent_id
        attempt.connected_at = now
        self.talking[attempt.attempt_id] = attempt
        agent.lead = None
        agent.attempt_id = attempt.attempt_id
        agent.handle_start = now
        agent.contacts += 1
        self._move(agent, AgentState.TALKING, now)
        self.counters.connected += 1
        return Connect(attempt.attempt_id, agent.agent_id)

    def _free_agents(self) -> Iterator[Agent]:
        """Free agents, the one free longest first."""
        return iter(sorted((a for a in self.agents.values() if a.state is AgentState.FREE),
                           key=lambda a: (a.since, a.agent_id)))

    def step(self, now: float, lines_free: int, dial: bool = True) -> list[Action]:
        """Connects waiting calls, abandons those past their wait, offers previews, and places
        the calls the pacing asks for on at most ``lines_free`` lines."""
        actions: list[Action] = []
        for attempt in sorted(self.waiting.values(), key=lambda a: a.answered_at or 0.0):
            agent = self._agent_for(attempt)
            if agent is not None:
                actions.append(self._connect(attempt, agent, now))
            elif now - (attempt.answered_at or now) >= self.abandon_wait_s:
                del self.waiting[attempt.attempt_id]
                attempt.abandoned = True
                self.counters.abandoned += 1
                actions.append(Abandon(attempt.attempt_id))
        if not dial:
            return actions
        if self.mode is Mode.PREVIEW:
            for agent in self._free_agents():
                lead = self.leads.next_lead(now)
                if lead is None:
                    break
                agent.lead = lead
                self._move(agent, AgentState.PREVIEWING, now)
                actions.append(Preview(agent.agent_id, lead))
            return actions
        count = self.calls_to_place(lines_free, now)
        for _ in range(count):
            lead = self.leads.next_lead(now)
            if lead is None:
                break
            actions.append(self.place(lead, now))
        return actions

    def _agent_for(self, attempt: Attempt) -> Agent | None:
        if attempt.agent_id is not None:  # preview: the agent who accepted it
            agent = self.agents.get(attempt.agent_id)
            return agent if agent is not None and agent.state is AgentState.PREVIEWING else None
        return next(self._free_agents(), None)

    def pacing_input(self, lines_free: int, now: float | None = None) -> PacingInput:
        states = [agent.state for agent in self.agents.values()]
        return PacingInput(
            free_agents=states.count(AgentState.FREE),
            busy_agents=states.count(AgentState.TALKING) + states.count(AgentState.WRAPUP),
            in_flight=len(self.in_flight), waiting=len(self.waiting), lines_free=max(0, lines_free),
            answered=self.counters.answered, abandoned=self.counters.abandoned,
            in_flight_ages=() if now is None else tuple(now - a.dialled_at for a in self.in_flight.values()))

    def calls_to_place(self, lines_free: int, now: float | None = None) -> int:
        state = self.pacing_input(lines_free, now)
        if self.mode is Mode.PROGRESSIVE:
            return progressive_calls(state)
        if self.mode is Mode.PREDICTIVE:
            return predictive_calls(state, self.measured, self.max_abandon, self.abandon_wait_s)
        return 0

    def next_deadline(self) -> float | None:
        """When the earliest waiting call must be abandoned (for a simulator's timer)."""
        if not self.waiting:
            return None
        return min((a.answered_at or 0.0) for a in self.waiting.values()) + self.abandon_wait_s

    # ------------------------------------------------------------------ figures
    def abandon_rate(self) -> float | None:
        return self.counters.abandoned / self.counters.answered if self.counters.answered else None

    def agent_seconds(self, now: float) -> tuple[float, float]:
        """(logged-in seconds, talk + wrap-up seconds) of all agents up to ``now``."""
        logged = handle = 0.0
        for agent in self.agents.values():
            logged += agent.logged_in_s + (now - agent.since if agent.state is not AgentState.AWAY else 0.0)
            handle += agent.handle_s + (now - agent.handle_start if agent.handle_start is not None else 0.0)
        return logged, handle
