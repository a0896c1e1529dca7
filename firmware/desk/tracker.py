"""The engine side of the agent desk: each agent's call as the desk shows it, wrap-up keys,
dispositions to the call records and the queue_log, and callbacks at a date.

:class:`DeskTracker` is told by the queue service (``firmware/acdengine/service.py``) when an
offer rings an agent, is withdrawn, is answered and ends -- and by its callbacks
(``firmware/acdengine/callbacks.py``) the same of a callback the ACD places (kind ``callback``,
with the caller's number as received, so the screen pop shows the caller's record and previous
calls as for an inbound call). It runs on the media loop's thread;
what it stores leaves through ``record`` (a worker thread: :mod:`firmware.desk.writer`) and
``queue_log`` (the ACD's queue_log stream). ``version`` grows with every change, so a reader
(the console's ``show desk``, polled by the web admin) sees at once that something happened.

After a queue call ends, the agent owes its disposition while the queue has codes: the call
stays on the desk (phase ``ended``) until a disposition is entered or the next call is offered.
While it is owed, keys on the agent's phone are the disposition's when they begin with a digit
and the phone is off-hook outside a call (hearing the busy tone after the caller hung up, or
lifted again for dial tone): the code, then ``#``. An accepted code is confirmed by its digits
and "thank you"; a wrong one by the error beep, and the agent may key again
(:mod:`firmware.desk.keys`). ``*`` and feature codes (``*49``) go to the dial plan as usual.

Each stored disposition is then handed to ``listeners`` (on the loop's thread): the outbound
campaigns write it to their attempt and act on "do not call" (``firmware/campaign/attach.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.acd.agent_state import AgentState
from firmware.acd.queue_log import QueueLogRecord
from firmware.cdr import CallDisposition
from firmware.config.model import QueueDesk
from firmware.desk.dispositions import make_disposition, queue_log_record
from firmware.desk.keys import KeyEntry, KeyResult
from firmware.engine.calls import Leg
from firmware.engine.control import Then

KEY_STATES = frozenset({Leg.FAILED, Leg.DIALTONE})
"""Where the owed disposition takes the agent's keys (off-hook, outside a call)."""


@dataclass
class DeskCall:
    """An agent's current (or last, disposition owed) queue call, as the desk shows it."""

    uniqueid: str
    queue: str
    caller_number: str
    caller_name: str
    variables: dict[str, str]
    phase: str  # offered | connected | ended
    offered_at: float
    disposition: str = ""  # the code, once entered
    kind: str = "inbound"  # inbound | callback (the ACD calls the caller back: firmware/acdengine/callbacks.py)


@dataclass
class DeskTracker:
    queue_desk: Callable[[str], QueueDesk]  # a queue's desk settings (the running configuration)
    agent_port: Callable[[str], int | None]
    agent_state: Callable[[str], tuple[str, str]]  # (state, pause reason)
    say: Callable[[int, list[str]], None]  # words to the agent's phone, then silence until on-hook
    state_of: Callable[[int], Leg]
    record: Callable[[CallDisposition], None]
    queue_log: Callable[[QueueLogRecord], None] | None = None
    # (queue, number, when, agent, call uniqueid) -> taken (the ACD's callbacks: firmware/acdengine/callbacks.py)
    schedule_callback: Callable[[str, str, float, str, str], bool] | None = None
    # the callbacks an agent booked, not yet due, as the desk lists them
    booked_by: Callable[[str], list[dict]] | None = None
    log: EventLogger = field(default_factory=lambda: EventLogger("desk"))
    # told every stored disposition, on the loop's thread (the outbound campaigns: firmware/campaign/attach.py)
    listeners: list[Callable[[CallDisposition], None]] = field(default_factory=list)
    calls: dict[str, DeskCall] = field(default_factory=dict)  # agent id -> call
    entries: dict[str, KeyEntry] = field(default_factory=dict)  # agent id -> keys being typed
    version: int = 0

    def changed(self) -> None:
        self.version += 1

    # ------------------------------------------------------------------ from the queue service
    def offered(self, agent: str, uniqueid: str, queue: str, number: str, name: str, variables: dict[str, str],
                now: float, kind: str = "inbound") -> None:
        """An offer rings ``agent``: a caller waiting, or (``kind`` callback) the ACD calling back
        ``number``, the caller's number as received, so the screen pop finds the same record."""
        self.calls[agent] = DeskCall(uniqueid, queue, number, name, dict(variables), "offered", now, kind=kind)
        self.entries.pop(agent, None)
        self.changed()

    def withdrawn(self, agent: str, uniqueid: str) -> None:
        call = self.calls.get(agent)
        if call is not None and call.uniqueid == uniqueid and call.phase == "offered":
            del self.calls[agent]
            self.changed()

    def cleared(self, agent: str, uniqueid: str) -> None:
        """The agent's call went away without a conversation (a callback's dial-out that reached
        nobody): off the desk, no disposition owed."""
        call = self.calls.get(agent)
        if call is not None and call.uniqueid == uniqueid:
            del self.calls[agent]
            self.changed()

    def forget(self, uniqueid: str) -> None:
        """The caller left before an agent answered (hung up, exit key, timeout): no agent's call."""
        for agent, call in list(self.calls.items()):
            if call.uniqueid == uniqueid and call.phase == "offered":
                del self.calls[agent]
                self.changed()

    def connected(self, agent: str, uniqueid: str) -> None:
        call = self.calls.get(agent)
        if call is not None and call.uniqueid == uniqueid:
            call.phase = "connected"
            self.changed()

    def ended(self, agent: str, uniqueid: str) -> None:
        call = self.calls.get(agent)
        if call is None or call.uniqueid != uniqueid:
            return
        if self.queue_desk(call.queue).dispositions:
            call.phase = "ended"
        else:
            del self.calls[agent]
        self.changed()

    def owes(self, agent: str) -> DeskCall | None:
        call = self.calls.get(agent)
        return call if call is not None and call.phase == "ended" and not call.disposition else None

    # ------------------------------------------------------------------ dispositions
    def dispose(self, agent: str, code: str, note: str, callback_at: float | None, source: str,
                now: float) -> CallDisposition:
        """The agent's disposition of their last call; FirmwareError (nothing stored) if refused."""
        call = self.calls.get(agent)
        if call is None or call.phase != "ended":
            raise FirmwareError(f"agent {agent} has no ended call to record a disposition for")
        desk = self.queue_desk(call.queue)
        entry = make_disposition(desk, uniqueid=call.uniqueid, queue=call.queue, agent=agent,
                                 caller_number=call.caller_number, code=code, note=note, callback_at=callback_at,
                                 source=source, now=now)
        self.record(entry)
        if self.queue_log is not None:
            self.queue_log(queue_log_record(entry))
        call.disposition = code
        self.entries.pop(agent, None)
        for listener in self.listeners:
            listener(entry)
        booked = False
        if entry.callback_at is not None and self.schedule_callback is not None and entry.caller_number:
            booked = self.schedule_callback(call.queue, entry.caller_number, entry.callback_at, agent, call.uniqueid)
        self.log.info("disposition", call=call.uniqueid, agent=agent, queue=call.queue, code=code,
                      source=source, callback=entry.callback_at, callback_booked=booked, dnc=entry.do_not_call)
        self.changed()
        return entry

    def on_digit(self, agent: str, port: int, digit: str, now: float) -> bool:
        """A key on the agent's phone: True if it belonged to the owed disposition."""
        call = self.owes(agent)
        if call is None or self.state_of(port) not in KEY_STATES:
            return False
        entry = self.entries.get(agent)
        if entry is None:
            if not digit.isdigit():
                return False  # '*' starts a feature code (*49 ready), '#' alone means nothing here
            entry = self.entries[agent] = KeyEntry({code.code for code in self.queue_desk(call.queue).dispositions})
        result, code = entry.key(digit)
        if result is KeyResult.MORE:
            return True
        if result is KeyResult.ACCEPTED:
            try:
                self.dispose(agent, code, "", None, "dtmf", now)
            except FirmwareError as exc:
                self.log.warning("disposition_refused", agent=agent, code=code, reason=str(exc))
                self.say(port, ["beeperr"])
                return True
            self.say(port, [*(f"digits/{d}" for d in code), "queue-thankyou"])
            return True
        self.log.info("disposition_refused", agent=agent, call=call.uniqueid, reason="unknown code",
                      tries=entry.refusals)
        if result is KeyResult.GAVE_UP:
            self.entries.pop(agent, None)
        self.say(port, ["beeperr"])
        return True

    # ------------------------------------------------------------------ for the console
    def rows(self, agents: list[str]) -> list[dict]:
        """Each agent's desk as plain data (the console's ``show desk``)."""
        rows = []
        for agent in agents:
            state, reason = self.agent_state(agent)
            call = self.calls.get(agent)
            rows.append({
                "agent": agent, "state": state, "pause_reason": reason, "port": self.agent_port(agent),
                "call": None if call is None else {
                    "uniqueid": call.uniqueid, "queue": call.queue, "caller_number": call.caller_number,
                    "caller_name": call.caller_name, "variables": dict(call.variables), "phase": call.phase,
                    "offered_at": call.offered_at, "disposition": call.disposition, "kind": call.kind},
                "callbacks": self.booked_by(agent) if self.booked_by is not None else [],
            })
        return rows


def agent_state_of(core) -> Callable[[str], tuple[str, str]]:
    """(state, pause reason) of an agent of an :class:`~firmware.acd.core.AcdCore`."""

    def state(agent: str) -> tuple[str, str]:
        each = core.agents.get(agent)
        if each is None:
            return str(AgentState.LOGGED_OUT), ""
        return str(each.state), each.paused_reason if each.state is AgentState.PAUSED else ""

    return state


def say_then_wait(control, prompts) -> Callable[[int, list[str]], None]:
    """Recorded words (``Prompts.sentence``) to a port through call control, then silence until on-hook."""

    def say(port: int, words: list[str]) -> None:
        control.stop_audio(port)
        control.say(port, prompts.sentence(words), Then.WAIT_ON_HOOK)

    return say
