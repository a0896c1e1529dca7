"""Answered calls in progress, persisted so that a crash cannot erase them.

A call's record is written when the call ends; if the engine dies first (a crash, a kill,
a power cut) that moment never comes. :class:`CallJournal` follows call control: told of
every answer (``CallControl.on_answered``: a phone answering, the far end's polarity
reversal, the end of dialling out, the queue or voicemail answering for the box, an attended
transfer), it queues the call's *open row* — the record as it would read if the call ended
then — to the CDR writer at the end of that tick (never the disk on the media loop), and
every :data:`HEARTBEAT_S` it rewrites the open rows of the answered calls it follows with
the present time as their end. Nothing is scanned per tick: a tick without an answer or a
heartbeat costs one comparison. The call's real record replaces its open row in the same
transaction when the call ends (``CdrStore.record``). At the next start, open rows left by
an earlier boot become records marked ``cut_short`` (``CdrStore.recover_open``), ending at
their last heartbeat: a cut-short call's duration is short by less than :data:`HEARTBEAT_S`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from drivers.audio import TICK_MS
from firmware.cdr import CallRecord
from firmware.engine.calls import Call
from firmware.engine.services import AttachedService

HEARTBEAT_S = 10
TICK_S = TICK_MS / 1000.0
HEARTBEAT_TICKS = round(HEARTBEAT_S / TICK_S)


class JournalCalls(Protocol):
    """What the journal needs of call control (``firmware.engine.control.CallControl``)."""

    def on_answered(self, listener: Callable[[Call], None]) -> None:
        """``listener(call)`` runs each time a call is answered."""
        ...

    def record(self, call: Call) -> CallRecord:
        """The record of ``call``; one in progress reads as if the system ended it now."""
        ...


class CallJournal(AttachedService):
    """Attached service: open rows of answered calls to ``write_open`` (``CdrWriter.open_calls``)."""

    def __init__(self, calls: JournalCalls, write_open: Callable[[Iterable[CallRecord]], None],
                 heartbeat_ticks: int = HEARTBEAT_TICKS) -> None:
        if heartbeat_ticks < 1:
            raise ValueError("heartbeat_ticks must be >= 1")
        self.control = calls
        self.write_open = write_open
        self.heartbeat_ticks = heartbeat_ticks
        self._open: dict[int, Call] = {}  # answered calls in progress, by call id
        self._due: dict[int, Call] = {}  # answered since the last tick: their open row is queued at its end
        self._last_beat = 0
        calls.on_answered(self.call_answered)

    def call_answered(self, call: Call) -> None:
        self._open[call.call_id] = call
        self._due[call.call_id] = call

    def on_tick(self, tick: int) -> None:
        if tick - self._last_beat >= self.heartbeat_ticks:
            self._last_beat = tick
            # A call ended without its listeners (``CallControl.force_end``) is forgotten here; one whose
            # answer was taken back (a service's call dialling out again) waits for its next answer.
            for ended in [key for key, call in self._open.items() if call.end_tick is not None]:
                del self._open[ended]
            due = [call for call in self._open.values() if call.answer_tick is not None]
        elif self._due:
            due = [call for call in self._due.values() if call.end_tick is None]
        else:
            return
        self._due.clear()
        if due:
            self.write_open([self.control.record(call) for call in due])

    def before_end(self, call: Call) -> None:
        self._open.pop(call.call_id, None)
        self._due.pop(call.call_id, None)
