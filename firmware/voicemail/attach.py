"""Puts voicemail into a running switch: the deposit service, the *97 menu and message waiting.

``attach_voicemail`` registers :class:`~firmware.voicemail.deposit.VoicemailDeposit` for
``DestinationKind.VOICEMAIL`` with the engine's call control (``firmware/engine/control.py``),
attaches it (ticks, digits, call ends) and adds its frame tap to the media loop; it creates
the mailbox menu (:class:`~firmware.voicemail.mailbox.MailboxMenu`: attached, its feature
handler added to call control's feature codes) and message-waiting indication
(:class:`~firmware.voicemail.mwi.MessageWaiting`, attached). The composition root
(linebox/appliance.py) calls it once at start.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.logs import EventLogger
from firmware.config.model import DestinationKind
from firmware.engine.control import CallControlApi
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


def attach_voicemail(control: CallControlApi, loop, store: VoicemailStore, prompts: VoicemailPrompts,
                     log: EventLogger | None = None) -> Voicemail:
    """Voicemail attached to the engine's call control and ``loop`` (see module docstring)."""
    log = log or EventLogger("voicemail")
    deposit = VoicemailDeposit(control, store, prompts, log)
    control.register_service(DestinationKind.VOICEMAIL, deposit)
    control.attach(deposit)
    loop.taps.append(deposit.tap)
    menu = MailboxMenu(control, store, prompts, log)
    control.attach(menu)
    control.add_feature_codes(menu.codes())
    mwi = MessageWaiting(control, store, log)
    control.attach(mwi)
    return Voicemail(store, deposit, menu, mwi)
