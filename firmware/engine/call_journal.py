"""Answered calls in progress, persisted so that a crash cannot erase them.

A call's record is written when the call ends; if the engine dies first (a crash, a kill,
a power cut) that moment never comes. :class:`CallJournal` follows the switch as an
attached service (``Switch.attached``): at the tick after a call is answered it queues the
call's *open row* — the record as it would read if the call ended then — to the CDR writer
(never the disk on the media loop), and every :data:`HEARTBEAT_S` it rewrites the open rows
of all answered calls with the present time as their end. The call's real record replaces
its open row in the same transaction when the call ends (``CdrStore.record``). At the next
start, open rows left by an earlier boot become records marked ``cut_short``
(``CdrStore.recover_open``), ending at their last heartbeat: a cut-short call's duration is
short by less than :data:`HEARTBEAT_S`.

The journal watches ``answer_tick`` rather than being told of answers, because calls are
answered in several places (a phone, the far end's polarity reversal, the end of dialling
out, the queue or voicemail answering for the box).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from drivers.audio import TICK_MS
from firmware.cdr import CallRecord
from firmware.engine.calls import Call

HEARTBEAT_S = 10
TICK_S = TICK_MS / 1000.0
HEARTBEAT_TICKS = round(HEARTBEAT_S / TICK_S)


class JournalCalls(Protocol):
    """What the journal reads of call control (``firmware.engine.control.CallControl``)."""

    calls: dict[int, Call]

    def record(self, call: Call) -> CallRecord:
        """The record of ``call``; one in progress reads as if the system ended it now."""
        ...


class CallJournal:
    """Attached service: open rows of answered calls to ``write_open`` (``CdrWriter.open_calls``)."""

    def __init__(self, calls: JournalCalls, write_open: Callable[[Iterable[CallRecord]], None],
                 heartbeat_ticks: int = HEARTBEAT_TICKS) -> None:
        if heartbeat_ticks < 1:
            raise ValueError("heartbeat_ticks must be >= 1")
        self.control = calls
        self.write_open = write_open
        self.heartbeat_ticks = heartbeat_ticks
        self._open: set[int] = set()  # call ids whose open row has been queued
        self._last_beat = 0

    def on_tick(self, tick: int) -> None:
        answered = [call for call in self.control.calls.values() if call.answer_tick is not None and call.end_tick is None]
        if tick - self._last_beat >= self.heartbeat_ticks:
            self._last_beat = tick
            due = answered
        else:
            due = [call for call in answered if call.call_id not in self._open]
        self._open = {call.call_id for call in answered}
        if due:
            self.write_open([self.control.record(call) for call in due])

    def on_digit(self, port: int, digit: str) -> bool:
        return False

    def on_flash(self, port: int) -> bool:
        return False

    def answered(self, call: Call, port: int) -> None:
        return None

    def before_end(self, call: Call) -> None:
        self._open.discard(call.call_id)
