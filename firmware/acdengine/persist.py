"""The ACD's state that survives a restart: agents' log-ins and pauses, today's counters, the open
interval, and the callbacks agents booked at a date.

Saved in the box's database (migration 2 of component ``acd_history``, the tables beside
``acd_intervals``), always through the history writer's worker thread, so the media loop
never waits for the disk:

* ``acd_logins``: one row per logged-in agent (queues, pause reason, the port they logged in
  at, log-in time, this log-in's calls and talk time per queue). :class:`LoginSaver` sees which
  agents changed (ACD events) and, at the end of the tick, hands over the rows that differ from
  what was last written: a log-in, a pause or unpause, a call taken. A logged-out agent's row
  is deleted. A pause requested during a call is saved as paused (the call does not survive).
* ``acd_open_interval``: the counters of the 15-minute bucket in progress, per queue and per
  agent, with its start and the time of the save (``acd_checkpoint``), replaced in one
  transaction every :data:`CHECKPOINT_S` of engine time and at a clean stop. Closed buckets
  are already rows of ``acd_intervals`` (written at each edge).

* ``acd_booked_callbacks`` (migration 3): one row per callback an agent booked at a date (a
  disposition with a callback date, firmware/desk), written when booked and deleted when it
  came due and joined its queue (:class:`BookedCallback`, :class:`CallbackReleased`); the
  callbacks service restores them at start, and one that came due while the box was down
  joins its queue at the first tick.

After a crash, what was committed is what is restored: every log-in change, and the counters
up to the last checkpoint (at most a minute lost). :func:`load_state` reads it all at start:
the saved log-ins, the open bucket, and the 15-minute rows of ``acd_intervals`` of that
bucket's day before it (with the open bucket: the day's counters). What the statistics do
with them is :mod:`firmware.acdengine.stats` (``AcdStats``): counters of the same day
continue, an interval still open continues, one that ended while the box was down is written
as closed. Every stored value is checked here, at the edge: a row that does not decode is
logged and skipped, never fatal.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.acd.agent_state import WORKING, Agent, AgentState
from firmware.acd.core_types import SavedLogin
from firmware.acd.events import AcdEvent, EventKind
from firmware.acd.stats import DAY_SECONDS, INTERVAL_SECONDS
from firmware.config.db import Migration, transaction

CHECKPOINT_S = 60.0  # engine seconds between two saves of the open interval's counters
MAX_QUEUES_PER_LOGIN = 64  # more than a box configures; a stored row above it is refused
AGENT_EVENTS = frozenset({EventKind.AGENTSTATE, EventKind.ADDMEMBER, EventKind.REMOVEMEMBER,
                          EventKind.PAUSE, EventKind.UNPAUSE, EventKind.PAUSEPENDING})

MIGRATION = Migration(2, "ACD state that survives a restart: log-ins and the open interval", (
    "CREATE TABLE acd_logins ("
    " agent TEXT PRIMARY KEY,"
    " queues TEXT NOT NULL,"
    " paused_reason TEXT,"
    " port INTEGER,"
    " login_at REAL NOT NULL,"
    " calls_taken TEXT NOT NULL,"
    " talk_seconds TEXT NOT NULL)",
    "CREATE TABLE acd_open_interval ("
    " kind TEXT NOT NULL CHECK (kind IN ('queue', 'agent')),"
    " name TEXT NOT NULL,"
    " counters TEXT NOT NULL,"
    " PRIMARY KEY (kind, name))",
    "CREATE TABLE acd_checkpoint ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " start REAL NOT NULL,"
    " saved_at REAL NOT NULL)",
))

CALLBACKS_MIGRATION = Migration(3, "callbacks booked at a date by an agent's disposition", (
    "CREATE TABLE acd_booked_callbacks ("
    " key TEXT PRIMARY KEY,"  # the disposed call's uniqueid: one callback per call
    " due REAL NOT NULL,"  # epoch seconds
    " queue TEXT NOT NULL,"
    " number TEXT NOT NULL,"  # the caller's number as received (digits)
    " agent TEXT NOT NULL DEFAULT '',"  # who booked it
    " booked_at REAL NOT NULL)",
    "CREATE INDEX acd_booked_callbacks_due ON acd_booked_callbacks (due)",
))
MAX_CALLBACK_NUMBER_DIGITS = 32


@dataclass(frozen=True)
class BookedCallback:
    """A callback an agent booked at a date (a disposition, firmware/desk): at ``due`` the call
    joins ``queue`` as a callback request (firmware/acdengine/callbacks.py)."""

    key: str
    due: float
    queue: str
    number: str
    agent: str = ""
    booked_at: float = 0.0


@dataclass(frozen=True)
class CallbackReleased:
    """The booked callback came due (joined its queue) or was refused: its row is deleted."""

    key: str


@dataclass(frozen=True)
class LoggedOut:
    """The agent's saved log-in is to be deleted."""

    agent_id: str


@dataclass(frozen=True)
class OpenBucket:
    """The counters of the 15-minute bucket in progress at ``saved_at``."""

    start: float  # epoch seconds of the bucket's start
    saved_at: float
    queues: Mapping[str, dict[str, object]] = field(default_factory=dict)  # QueueStats counters
    agents: Mapping[str, dict[str, object]] = field(default_factory=dict)  # AgentStats counters


@dataclass(frozen=True)
class SavedState:
    """What :func:`load_state` found."""

    logins: tuple[SavedLogin, ...] = ()
    open: OpenBucket | None = None
    closed: tuple[tuple[str, str, float, dict[str, object]], ...] = ()  # (kind, name, start, counters), 900 s rows
    callbacks: tuple[BookedCallback, ...] = ()  # booked callbacks not yet due when saved, by due time


StateChange = SavedLogin | LoggedOut | OpenBucket | BookedCallback | CallbackReleased


# ------------------------------------------------------------------ the edge: rows in, checked


def _json(text: object, what: str) -> object:
    if not isinstance(text, str):
        raise FirmwareError(f"{what} is not text")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise FirmwareError(f"{what} is not JSON: {exc}") from exc


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FirmwareError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def login_of_row(row: tuple) -> SavedLogin:
    """A row of ``acd_logins``, checked (FirmwareError naming the agent and the field)."""
    agent, queues_text, reason, port, login_at, calls_text, talk_text = row
    if not isinstance(agent, str) or not agent:
        raise FirmwareError(f"saved log-in: bad agent id {agent!r}")
    queues = _json(queues_text, f"agent {agent}: queues")
    if (not isinstance(queues, list) or not 0 < len(queues) <= MAX_QUEUES_PER_LOGIN
            or not all(isinstance(q, str) and q for q in queues) or len(set(queues)) != len(queues)):
        raise FirmwareError(f"agent {agent}: queues must be 1-{MAX_QUEUES_PER_LOGIN} distinct names")
    if reason is not None and (not isinstance(reason, str) or "|" in reason or "\n" in reason):
        raise FirmwareError(f"agent {agent}: bad pause reason {reason!r}")
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or port < 0):
        raise FirmwareError(f"agent {agent}: bad port {port!r}")
    calls = _json(calls_text, f"agent {agent}: calls_taken")
    talk = _json(talk_text, f"agent {agent}: talk_seconds")
    if not isinstance(calls, dict) or not isinstance(talk, dict):
        raise FirmwareError(f"agent {agent}: calls_taken and talk_seconds must be mappings")
    counts = {}
    for queue, count in calls.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise FirmwareError(f"agent {agent}: calls_taken of {queue} must be a count, got {count!r}")
        counts[queue] = count
    seconds = {queue: _finite(value, f"agent {agent}: talk_seconds of {queue}") for queue, value in talk.items()}
    return SavedLogin(agent, tuple(queues), reason, _finite(login_at, f"agent {agent}: login_at"), counts, seconds,
                      port)


def callback_of_row(row: tuple) -> BookedCallback:
    """A row of ``acd_booked_callbacks``, checked (FirmwareError naming the key and the field)."""
    key, due, queue, number, agent, booked_at = row
    if not isinstance(key, str) or not key or len(key) > 64:
        raise FirmwareError(f"booked callback: bad key {key!r}")
    if not isinstance(queue, str) or not queue:
        raise FirmwareError(f"booked callback {key}: bad queue {queue!r}")
    if (not isinstance(number, str) or not number.isascii() or not number.isdigit()
            or len(number) > MAX_CALLBACK_NUMBER_DIGITS):
        raise FirmwareError(f"booked callback {key}: number must be 1-{MAX_CALLBACK_NUMBER_DIGITS} digits")
    if not isinstance(agent, str):
        raise FirmwareError(f"booked callback {key}: bad agent {agent!r}")
    return BookedCallback(key, _finite(due, f"booked callback {key}: due"), queue, number, agent,
                          _finite(booked_at, f"booked callback {key}: booked_at"))


def _counters(text: object, what: str) -> dict[str, object]:
    counters = _json(text, what)
    if not isinstance(counters, dict):
        raise FirmwareError(f"{what} must be a mapping")
    for key, value in counters.items():
        if key == "state_seconds":
            if not isinstance(value, dict):
                raise FirmwareError(f"{what}: state_seconds must be a mapping")
            for state, seconds in value.items():
                _finite(seconds, f"{what}: state_seconds of {state}")
        else:
            _finite(value, f"{what}: {key}")
    return counters


# ------------------------------------------------------------------ the store (worker thread, start)


class StateStore:
    """The saved state's tables on a connection opened and migrated by ``IntervalStore``."""

    def __init__(self, conn: sqlite3.Connection, log: EventLogger | None = None) -> None:
        self.conn = conn
        self.log = log or EventLogger("acd")

    def write(self, change: StateChange) -> None:
        """One change, one transaction (the worker thread)."""
        try:
            with transaction(self.conn):
                if isinstance(change, SavedLogin):
                    self.conn.execute(
                        "INSERT OR REPLACE INTO acd_logins (agent, queues, paused_reason, port, login_at, calls_taken,"
                        " talk_seconds) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (change.agent_id, json.dumps(list(change.queues)), change.paused_reason, change.port,
                         change.login_at, json.dumps(dict(change.calls_taken), sort_keys=True),
                         json.dumps(dict(change.talk_seconds), sort_keys=True)))
                elif isinstance(change, LoggedOut):
                    self.conn.execute("DELETE FROM acd_logins WHERE agent = ?", (change.agent_id,))
                elif isinstance(change, BookedCallback):
                    self.conn.execute(
                        "INSERT OR REPLACE INTO acd_booked_callbacks (key, due, queue, number, agent, booked_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (change.key, change.due, change.queue, change.number, change.agent, change.booked_at))
                elif isinstance(change, CallbackReleased):
                    self.conn.execute("DELETE FROM acd_booked_callbacks WHERE key = ?", (change.key,))
                else:
                    self._write_open(change)
        except sqlite3.Error as exc:
            raise FirmwareError(f"acd state: cannot save {type(change).__name__}: {exc}") from exc

    def _write_open(self, bucket: OpenBucket) -> None:
        self.conn.execute("DELETE FROM acd_open_interval")
        rows = [("queue", name, json.dumps(counters, sort_keys=True)) for name, counters in bucket.queues.items()]
        rows += [("agent", name, json.dumps(counters, sort_keys=True)) for name, counters in bucket.agents.items()]
        self.conn.executemany("INSERT INTO acd_open_interval (kind, name, counters) VALUES (?, ?, ?)", rows)
        self.conn.execute("INSERT OR REPLACE INTO acd_checkpoint (id, start, saved_at) VALUES (1, ?, ?)",
                          (bucket.start, bucket.saved_at))

    def load(self, utc_offset_seconds: float = 0.0) -> SavedState:
        """Everything saved (at start, before the media loop runs). Bad rows are logged and skipped."""
        try:
            return self._load(utc_offset_seconds)
        except sqlite3.Error as exc:
            raise FirmwareError(f"acd state: cannot read: {exc}") from exc

    def _load(self, utc_offset_seconds: float) -> SavedState:
        callbacks = []
        for row in self.conn.execute("SELECT key, due, queue, number, agent, booked_at FROM acd_booked_callbacks"
                                     " ORDER BY due, key"):
            try:
                callbacks.append(callback_of_row(row))
            except FirmwareError as exc:
                self.log.warning("acd_state_skipped", what="booked callback", error=str(exc))
        return dataclasses.replace(self._load_logins(utc_offset_seconds), callbacks=tuple(callbacks))

    def _load_logins(self, utc_offset_seconds: float) -> SavedState:
        logins = []
        for row in self.conn.execute("SELECT agent, queues, paused_reason, port, login_at, calls_taken, talk_seconds"
                                     " FROM acd_logins ORDER BY rowid"):
            try:
                logins.append(login_of_row(row))
            except FirmwareError as exc:
                self.log.warning("acd_state_skipped", what="login", error=str(exc))
        checkpoint = self.conn.execute("SELECT start, saved_at FROM acd_checkpoint WHERE id = 1").fetchone()
        if checkpoint is None:
            return SavedState(tuple(logins))
        try:
            start, saved_at = _finite(checkpoint[0], "open interval start"), _finite(checkpoint[1], "saved_at")
        except FirmwareError as exc:
            self.log.warning("acd_state_skipped", what="open interval", error=str(exc))
            return SavedState(tuple(logins))
        found: dict[str, dict[str, dict[str, object]]] = {"queue": {}, "agent": {}}
        for kind, name, text in self.conn.execute("SELECT kind, name, counters FROM acd_open_interval"):
            try:
                found[kind][name] = _counters(text, f"open interval {kind} {name}")
            except FirmwareError as exc:
                self.log.warning("acd_state_skipped", what="open interval", error=str(exc))
        local_day = math.floor((start + utc_offset_seconds) / DAY_SECONDS) * DAY_SECONDS - utc_offset_seconds
        closed = []
        for kind, name, row_start, text in self.conn.execute(
                "SELECT kind, name, start, counters FROM acd_intervals WHERE size_seconds = ? AND start >= ?"
                " AND start <= ? ORDER BY start", (INTERVAL_SECONDS, local_day, start)):
            try:
                closed.append((kind, name, _finite(row_start, "interval start"), _counters(text, f"interval {kind} {name}")))
            except FirmwareError as exc:
                self.log.warning("acd_state_skipped", what="interval", error=str(exc))
        return SavedState(tuple(logins), OpenBucket(start, saved_at, found["queue"], found["agent"]), tuple(closed))


# ------------------------------------------------------------------ the loop side


def login_of(agent: Agent, port: int | None) -> SavedLogin | None:
    """What survives a restart of the agent's log-in now (None: nothing, logged out)."""
    if agent.state is AgentState.LOGGED_OUT or agent.logout_after_work:
        return None
    if agent.state in WORKING:
        paused = agent.pending_pause  # the call ends with the restart: the pause applies
    else:
        paused = agent.paused_reason if agent.state is AgentState.PAUSED else None
    return SavedLogin(agent.agent_id, agent.logged_queues, paused, agent.login_at, dict(agent.calls_taken),
                      dict(agent.talk_seconds), port)


class LoginSaver:
    """An ACD listener that notes which agents changed; :meth:`changes` (end of a tick, on the
    loop) gives the log-in rows to write, only those that differ from the last ones handed over."""

    def __init__(self, agents: Callable[[], Mapping[str, Agent]], ports: Callable[[], Mapping[str, int]],
                 saved: Mapping[str, SavedLogin] | None = None) -> None:
        self.agents = agents  # the core's agents (read only)
        self.ports = ports  # agent -> the port they logged in at (the queue service's)
        self.sent: dict[str, SavedLogin] = dict(saved or {})  # what the database holds (or will)
        self.dirty: set[str] = set(self.sent)  # rows loaded at start are checked at the first tick

    def on_event(self, event: AcdEvent) -> None:
        if event.kind in AGENT_EVENTS and event.agent != "NONE":
            if event.kind is not EventKind.AGENTSTATE or event.from_state != event.to_state:  # not a checkpoint
                self.dirty.add(event.agent)

    def changes(self, everyone: bool = False) -> list[SavedLogin | LoggedOut]:
        """The rows of the agents that changed (``everyone``: of every agent, as at a stop)."""
        agents, ports = self.agents(), self.ports()
        names = set(agents) | set(self.sent) if everyone else self.dirty
        out: list[SavedLogin | LoggedOut] = []
        for agent_id in sorted(names):
            agent = agents.get(agent_id)
            login = login_of(agent, ports.get(agent_id)) if agent is not None else None
            if login is None:
                if self.sent.pop(agent_id, None) is not None:
                    out.append(LoggedOut(agent_id))
            elif self.sent.get(agent_id) != login:
                self.sent[agent_id] = login
                out.append(login)
        self.dirty.clear()
        return out
