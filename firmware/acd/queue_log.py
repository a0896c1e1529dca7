"""Asterisk's queue_log format: a writer fed by the ACD's events, and a parser.

One line per event, fields separated by ``|``::

    epoch|callid|queue|agent|EVENT|data1|data2|...

``epoch`` is whole UNIX seconds; ``callid`` is the caller's unique id or ``NONE``; the
``agent`` field is the member's name or ``NONE``. Asterisk writes the event's parameters
after the event name and always at least one (possibly empty) field, so a line without
parameters ends in ``|``. The events and their parameters, as Asterisk documents them
("Queue Logs" in the Asterisk documentation) and as linebox writes them:

=============== ============================================== =============================
event           parameters                                     written when
=============== ============================================== =============================
ENTERQUEUE      url|callerid|origposition                      a call joins (url is empty)
CONNECT         holdtime|bridgedchanneluniqueid|ringtime       an agent answers (seconds)
COMPLETECALLER  holdtime|calltime|origposition                 the caller hung up first
COMPLETEAGENT   holdtime|calltime|origposition                 the agent hung up first
ABANDON         position|origposition|waittime                 the caller hung up waiting
EXITWITHTIMEOUT position|origposition|waittime                 max wait reached
EXITWITHKEY     key|position|origposition|waittime             exit key pressed
EXITEMPTY       position|origposition|waittime                 leave-when-empty
RINGNOANSWER    ringtime                                       an offer failed (milliseconds)
RINGCANCELED    ringtime                                       the caller left while ringing (ms)
ADDMEMBER       "" or PAUSED                                   agent login, per queue
REMOVEMEMBER    ""                                             agent logout, per queue
PAUSE           reason                                         per queue
UNPAUSE         reason (empty)                                 per queue
JOINEMPTY, FULL ""                                             join refused (as Wazo's Asterisk)
DISPOSITION     code|label|callback|dnc|source                 an agent's outcome (linebox's own:
                                                               firmware/desk/dispositions.py)
=============== ============================================== =============================

Durations are rounded to whole seconds (milliseconds for ring times). A failed callback
(every dial-out attempt unanswered) is written as ``ABANDON``: the caller was not served.
linebox's own events (offers, agent activity, callback requests) are not written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from firmware import FirmwareError
from firmware.acd.events import AcdEvent, EventKind

DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "ENTERQUEUE": ("url", "callerid", "origposition"),
    "CONNECT": ("holdtime", "bridgedchanneluniqueid", "ringtime"),
    "COMPLETECALLER": ("holdtime", "calltime", "origposition"),
    "COMPLETEAGENT": ("holdtime", "calltime", "origposition"),
    "ABANDON": ("position", "origposition", "waittime"),
    "EXITWITHTIMEOUT": ("position", "origposition", "waittime"),
    "EXITWITHKEY": ("key", "position", "origposition", "waittime"),
    "EXITEMPTY": ("position", "origposition", "waittime"),
    "RINGNOANSWER": ("ringtime",),
    "RINGCANCELED": ("ringtime",),
    "ADDMEMBER": ("paused",),
    "REMOVEMEMBER": ("",),
    "PAUSE": ("reason",),
    "UNPAUSE": ("reason",),
    "JOINEMPTY": ("",),
    "FULL": ("",),
    "DISPOSITION": ("code", "label", "callback", "dnc", "source"),  # linebox's: firmware/desk/dispositions.py
}
"""Asterisk's parameter names per event (documentation only; lines carry values)."""


@dataclass(frozen=True, slots=True)
class QueueLogRecord:
    time: int
    call_id: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...] = ("",)

    def __post_init__(self) -> None:
        if not self.data:
            object.__setattr__(self, "data", ("",))

    def field(self, name: str) -> str:
        """A parameter by its Asterisk name (``holdtime``, ``waittime``, ...)."""
        names = DATA_FIELDS.get(self.event, ())
        if name not in names:
            raise FirmwareError(f"queue_log: {self.event} has no {name} field")
        index = names.index(name)
        return self.data[index] if index < len(self.data) else ""


def format_record(record: QueueLogRecord) -> str:
    """The line for a record, without the newline."""
    fields = (record.call_id, record.queue, record.agent, record.event, *record.data)
    for value in fields:
        if "|" in value or "\n" in value or "\r" in value:
            raise FirmwareError(f"queue_log: field {value!r} contains '|' or a newline")
    return f"{int(record.time)}|" + "|".join(fields)


def parse_line(line: str) -> QueueLogRecord:
    """A record from one line; FirmwareError names what is wrong."""
    parts = line.rstrip("\r\n").split("|")
    if len(parts) < 5:
        raise FirmwareError(f"queue_log: {len(parts)} fields in {line.strip()[:60]!r}, need at least 5")
    try:
        time = int(parts[0])
    except ValueError:
        raise FirmwareError(f"queue_log: timestamp {parts[0][:20]!r} is not an integer") from None
    if not parts[4]:
        raise FirmwareError("queue_log: empty event name")
    return QueueLogRecord(time, parts[1], parts[2], parts[3], parts[4], tuple(parts[5:]))


def read_queue_log(lines: Iterable[str]) -> Iterator[QueueLogRecord]:
    """Records of a file (or any lines); blank lines are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield parse_line(line)
        except FirmwareError as exc:
            raise FirmwareError(f"{exc} (line {number})") from None


def _seconds(value: float) -> str:
    return str(int(value + 0.5))


def record_for(event: AcdEvent) -> QueueLogRecord | None:
    """The queue_log record of an ACD event, or None for linebox's own events."""
    kind = event.kind
    name = kind.value
    if kind is EventKind.ENTERQUEUE:
        data: tuple[str, ...] = ("", _clean(event.caller_id), str(event.orig_position))
    elif kind is EventKind.CONNECT:
        data = (_seconds(event.wait), event.bridged, _seconds(event.ring))
    elif kind in (EventKind.COMPLETECALLER, EventKind.COMPLETEAGENT):
        data = (_seconds(event.wait), _seconds(event.talk), str(event.orig_position))
    elif kind in (EventKind.ABANDON, EventKind.EXITWITHTIMEOUT, EventKind.EXITEMPTY):
        data = (str(event.position), str(event.orig_position), _seconds(event.wait))
    elif kind is EventKind.EXITWITHKEY:
        data = (event.key, str(event.position), str(event.orig_position), _seconds(event.wait))
    elif kind in (EventKind.RINGNOANSWER, EventKind.RINGCANCELED):
        data = (str(int(event.ring * 1000.0 + 0.5)),)
    elif kind in (EventKind.ADDMEMBER, EventKind.PAUSE, EventKind.UNPAUSE):
        data = (_clean(event.reason),)
    elif kind in (EventKind.REMOVEMEMBER, EventKind.JOINEMPTY, EventKind.FULL):
        data = ("",)
    else:
        return None
    return QueueLogRecord(int(event.time), event.call_id, event.queue, event.agent, name, data)


def _clean(text: str) -> str:
    return text.replace("|", " ").replace("\n", " ").replace("\r", " ")


def event_for(record: QueueLogRecord) -> AcdEvent | None:
    """The ACD event of a parsed record (call and member events), for historical statistics.

    Only what the line holds comes back: durations in whole seconds, no agent activity,
    so occupancy and wrap-up cannot be computed from a queue_log alone.
    """
    try:
        kind = EventKind(record.event)
    except ValueError:
        return None
    d = record.data
    base = {"time": float(record.time), "kind": kind, "call_id": record.call_id, "queue": record.queue, "agent": record.agent}
    try:
        if kind is EventKind.ENTERQUEUE:
            return AcdEvent(**base, caller_id=d[1], orig_position=int(d[2]))
        if kind is EventKind.CONNECT:
            return AcdEvent(**base, wait=float(d[0]), bridged=d[1], ring=float(d[2]))
        if kind in (EventKind.COMPLETECALLER, EventKind.COMPLETEAGENT):
            return AcdEvent(**base, wait=float(d[0]), talk=float(d[1]), orig_position=int(d[2]))
        if kind in (EventKind.ABANDON, EventKind.EXITWITHTIMEOUT, EventKind.EXITEMPTY):
            return AcdEvent(**base, position=int(d[0]), orig_position=int(d[1]), wait=float(d[2]))
        if kind is EventKind.EXITWITHKEY:
            return AcdEvent(**base, key=d[0], position=int(d[1]), orig_position=int(d[2]), wait=float(d[3]))
        if kind in (EventKind.RINGNOANSWER, EventKind.RINGCANCELED):
            return AcdEvent(**base, ring=float(d[0]) / 1000.0)
        if kind in (EventKind.ADDMEMBER, EventKind.PAUSE, EventKind.UNPAUSE):
            return AcdEvent(**base, reason=d[0])
        if kind in (EventKind.REMOVEMEMBER, EventKind.JOINEMPTY, EventKind.FULL):
            return AcdEvent(**base)
    except (IndexError, ValueError):
        raise FirmwareError(f"queue_log: bad parameters for {record.event}: {'|'.join(d)[:60]!r}") from None
    return None


class QueueLogWriter:
    """Appends queue_log lines to a text stream given by the caller; an ACD listener."""

    def __init__(self, stream: TextIO, flush: bool = True) -> None:
        self.stream = stream
        self.flush = flush

    def write(self, record: QueueLogRecord) -> None:
        self.stream.write(format_record(record) + "\n")
        if self.flush:
            self.stream.flush()

    def on_event(self, event: AcdEvent) -> None:
        record = record_for(event)
        if record is not None:
            self.write(record)
