"""Message expiry: each mailbox's messages older than its ``expiry_days`` are deleted.

Run by the retention job (``linebox/maintenance.py``, hourly, on its own thread), with
``now`` the engine's clock passed in: nothing here reads the clock. Deleting goes through
:meth:`VoicemailStore.delete` (the row, then the file; message waiting follows).
:func:`expired` decides, from values alone (table-tested); :func:`expire_messages` applies it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from drivers.logs import EventLogger
from firmware.config.model import VoicemailSettings
from firmware.voicemail.store import Message, VoicemailStore

DAY_S = 86_400


def expired(messages: Iterable[Message], expiry_days: int, now: float) -> list[Message]:
    """The messages received more than ``expiry_days`` days before ``now`` (0: none expire).
    A message exactly ``expiry_days`` old is kept: it expires after, not at, the limit."""
    if expiry_days <= 0:
        return []
    cutoff = now - expiry_days * DAY_S
    return [message for message in messages if message.received < cutoff]


def expire_messages(store: VoicemailStore, mailboxes: Iterable[str], settings: Callable[[], VoicemailSettings],
                    now: float, log: EventLogger | None = None) -> int:
    """Deletes the expired messages of ``mailboxes``; returns how many."""
    log = log or EventLogger("voicemail")
    current = settings()
    deleted = 0
    for mailbox in mailboxes:
        days = current.mailbox(mailbox).expiry_days
        for message in expired(store.messages(mailbox), days, now):
            store.delete(message.id)
            deleted += 1
            log.info("vm_expired", mailbox=mailbox, id=message.id, days=days,
                     age_days=round((now - message.received) / DAY_S, 1))
    return deleted
