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
from firmware.desk.lookup import ContactLookup
from firmware.engine.control import CallControlApi
from firmware.voicemail.deposit import VoicemailDeposit
from firmware.voicemail.envelope import EnvelopeSpeaker
from firmware.voicemail.greetings import Greetings
from firmware.voicemail.mailbox import MailboxMenu
from firmware.voicemail.mwi import MessageWaiting
from firmware.voicemail.notify import Notifier
from firmware.voicemail.pins import PinBook
from firmware.voicemail.prompts import VoicemailPrompts
from firmware.voicemail.store import VoicemailStore


@dataclass
class Voicemail:
    """The voicemail parts of a running box (closed by ``Appliance.close``)."""

    store: VoicemailStore
    deposit: VoicemailDeposit
    menu: MailboxMenu
    mwi: MessageWaiting
    pins: PinBook | None = None
    greetings: Greetings | None = None
    notifier: Notifier | None = None

    def close(self) -> None:
        """Messages still queued are stored, the workers stop, then the stores close."""
        self.deposit.close()
        self.menu.close()
        if self.notifier is not None:
            self.notifier.close()
        if self.pins is not None:
            self.pins.close()
        self.store.close()


def attach_voicemail(control: CallControlApi, loop, store: VoicemailStore, prompts: VoicemailPrompts,
                     log: EventLogger | None = None, pins: PinBook | None = None, greetings: Greetings | None = None,
                     envelope: EnvelopeSpeaker | None = None, notifier: Notifier | None = None,
                     contacts: ContactLookup | None = None) -> Voicemail:
    """Voicemail attached to the engine's call control and ``loop`` (see module docstring)."""
    log = log or EventLogger("voicemail")
    deposit = VoicemailDeposit(control, store, prompts, log, greetings, contacts=contacts)
    control.register_service(DestinationKind.VOICEMAIL, deposit)
    control.attach(deposit)
    loop.taps.append(deposit.tap)
    menu = MailboxMenu(control, store, prompts, log, pins=pins, greetings=greetings, envelope=envelope,
                       contacts=contacts)
    control.attach(menu)
    control.add_feature_codes(menu.codes())
    loop.taps.append(menu.tap)
    deposit.enter_mailbox = menu.enter_remote
    if notifier is not None:
        deposit.on_saved.append(notifier.submit)
    mwi = MessageWaiting(control, store, log)
    control.attach(mwi)
    return Voicemail(store, deposit, menu, mwi, pins, greetings, notifier)
