"""An agent's outcome of a call, checked against the queue's codes, and its queue_log line.

The queue_log gets linebox's own event ``DISPOSITION`` (Asterisk has none; its ``QueueLog()``
application writes custom events the same way, and reporting tools skip names they do not
know)::

    epoch|uniqueid|queue|agent|DISPOSITION|code|label|callback|dnc|source

``callback`` is the callback time in whole epoch seconds or empty, ``dnc`` 1 when the code
marks the number do-not-call, ``source`` ``page`` or ``dtmf``. The note stays in the call
records only (free text has no place in a ``|``-separated line).
"""

from __future__ import annotations

from firmware import FirmwareError
from firmware.acd.queue_log import QueueLogRecord
from firmware.cdr import MAX_NOTE, CallDisposition, check_disposition
from firmware.config.model import QueueDesk

QUEUE_LOG_EVENT = "DISPOSITION"
MAX_CALLBACK_AHEAD_S = 366 * 86400  # a callback date more than a year ahead is a typo


def make_disposition(desk: QueueDesk, *, uniqueid: str, queue: str, agent: str, caller_number: str, code: str,
                     note: str, callback_at: float | None, source: str, now: float) -> CallDisposition:
    """The checked disposition; FirmwareError (one line, nothing stored) when it is not one."""
    chosen = desk.disposition(code)
    if chosen is None:
        known = ", ".join(f"{each.code} {each.label}" for each in desk.dispositions) or "none configured"
        raise FirmwareError(f"disposition {code!r} is not a code of queue {queue} ({known})")
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise FirmwareError(f"the note is {len(note)} characters long: at most {MAX_NOTE}")
    if callback_at is not None:
        if not chosen.callback:
            raise FirmwareError(f"disposition {code} ({chosen.label}) takes no callback date")
        if not now < callback_at <= now + MAX_CALLBACK_AHEAD_S:
            raise FirmwareError("the callback date must be in the future, within a year")
    return check_disposition(CallDisposition(
        uniqueid=uniqueid, entered=now, queue=queue, agent=agent, code=code, label=chosen.label,
        caller_number=caller_number, note=note, callback_at=callback_at, do_not_call=chosen.do_not_call,
        source=source))


def queue_log_record(entry: CallDisposition) -> QueueLogRecord:
    callback = "" if entry.callback_at is None else str(int(entry.callback_at))
    label = entry.label.replace("|", " ")
    return QueueLogRecord(int(entry.entered), entry.uniqueid, entry.queue, entry.agent, QUEUE_LOG_EVENT,
                          (entry.code, label, callback, "1" if entry.do_not_call else "0", entry.source))
