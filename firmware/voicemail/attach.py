"""Puts voicemail into a running switch: the deposit service, the *97 menu and message waiting.

``attach_voicemail`` registers :class:`~firmware.voicemail.deposit.VoicemailDeposit` for
``DestinationKind.VOICEMAIL`` in ``Switch.services``, attaches it (ticks, digits, call ends)
and adds its frame tap to the media loop; it creates the mailbox menu
(:class:`~firmware.voicemail.mailbox.MailboxMenu`: attached, its feature handler goes to
``switch.features.service_codes``) and message-waiting indication
(:class:`~firmware.voicemail.mwi.MessageWaiting`, attached). The composition root
(linebox/appliance.py) calls it once at start.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.logs import EventLogger
from firmware.config.model import DestinationKind
from firmware.voicemail.deposit import VoicemailDeposit
from firmware.voicemail.mailbox import MailboxMenu
from firmware.voicemail.mwi import MessageWaiting
from firmware.voicemail.prompts import VoicemailPrompts
from firmware.voicemail.store import VoicemailStore


@dataclass
class Voicemail:
    """The voicemail parts of a running box (closed by ``Appliance.close``)."""

    store: VoicemailStore
    deposit: VoicemailDeposit
    menu: MailboxMenu
    mwi: MessageWaiting

    def close(self) -> None:
        """Messages still queued are stored, the workers stop, then the store closes."""
        self.deposit.close()
        self.menu.close()
        self.store.close()


def attach_voicemail(switch, loop, store: VoicemailStore, prompts: VoicemailPrompts,
                     log: EventLogger | None = None) -> Voicemail:
    """Voicemail attached to ``switch`` and ``loop`` (see module docstring)."""
    log = log or EventLogger("voicemail")
    deposit = VoicemailDeposit(switch, store, prompts, log)
    switch.services = {**switch.services, DestinationKind.VOICEMAIL: deposit}
    switch.attached.append(deposit)
    loop.taps.append(deposit.tap)
    menu = MailboxMenu(switch, store, prompts, log)
    switch.attached.append(menu)
    switch.features.service_codes.update(menu.codes())
    mwi = MessageWaiting(switch, store, log)
    switch.attached.append(mwi)
    return Voicemail(store, deposit, menu, mwi)
