"""Message-waiting indication: an extension whose mailbox holds unheard messages is told so,
the two ways analog phones understand.

- **Stutter dial tone**: off-hook, the extension hears the message-waiting dial tone
  (``featuretones.message_waiting_dial_tone``: Telcordia GR-506-CORE, ten 100/100 ms bursts
  then steady) instead of the zone's dial tone. The switch asks :meth:`MessageWaiting.dial_tone_for`
  (``Switch.dial_tone_for``); dialling works as with the plain tone (the first digit stops it).
- **Visual indicator** (a lamp or display on phones that have one): an on-hook FSK message
  (``dsp.callerid.encode_mwi``, MDMF type 0x82, parameter 0x0B) in the zone's caller-ID
  modulation, sent when a mailbox changes from none to some unheard messages and back. The
  line card opens an on-hook transmission window (``LineCard.oht_window``: battery on, no
  ringing) ``OHT_LEAD_MS`` before the audio starts. Bell 202 zones send the burst alone
  (GR-30-CORE on-hook data without ringing: channel seizure + marks + message); V.23 zones
  send the EN 300 659-1 DT-AS alert before it (the line reversal that may precede it is not
  sent: the switch does not reverse an FXS port's polarity). DTMF caller-ID zones have no MWI
  message: the stutter tone alone. A phone that is not idle gets the message when it is
  idle again; a phone that goes off-hook or rings during the transmission gets it again
  later. At start, mailboxes with unheard messages are indicated (the phones' lamps are
  unknown after a restart: this brings them in line).

Counts come from the store (:class:`~firmware.voicemail.store.VoicemailStore`), never on the
media loop: the initial counts are read by the constructor (the composition root's thread);
later changes arrive through ``store.subscribe`` on whatever thread changed the store (the
deposit's or the mailbox menu's worker), which reads the new count there and hands it to the
loop through a thread-safe queue drained in :meth:`on_tick`. Log component ``voicemail``:
``mwi`` (a mailbox's state changed), ``mwi_sent`` (an FSK indication went to a phone).
"""

from __future__ import annotations

import queue
from dataclasses import dataclass

import numpy as np

from drivers import DriverError
from drivers.audio import TICK_MS
from drivers.logs import EventLogger
from dsp.callerid import encode_mwi
from dsp.callerid_sequence import callerid_sequence, sequence_audio
from dsp.toneplans import ToneSpec
from firmware import FirmwareError
from firmware.config.model import CallerIdStandard
from firmware.engine.calls import Leg
from firmware.engine.control import CallControlApi
from firmware.engine.services import AttachedService
from firmware.media.featuretones import message_waiting_dial_tone

OHT_LEAD_MS = 100  # window opened this long before the audio, so the SLIC is in on-hook transmission
OHT_TAIL_MS = 200  # and kept open this long after it
# The on-hook sequence per caller-ID standard (dsp.callerid_sequence variants, without ringing).
FSK_SEQUENCE = {
    CallerIdStandard.BELL202: ("bell202", "type1"),
    CallerIdStandard.V23: ("v23", "dtas"),
    CallerIdStandard.V23_BT: ("v23", "sin227"),
}


@dataclass
class Sending:
    """An indication on its way to a phone."""

    state: bool
    audio: np.ndarray | None  # None once it has started playing
    audio_tick: int  # the audio starts at this tick
    end_tick: int  # and has been sent by this one


def mwi_audio(standard: CallerIdStandard, on: bool) -> np.ndarray | None:
    """The on-hook audio that sets a phone's indicator, or None where the standard has none (DTMF)."""
    sequence = FSK_SEQUENCE.get(standard)
    if sequence is None:
        return None
    modulation, variant = sequence
    return sequence_audio(callerid_sequence(modulation, encode_mwi(on, "mdmf"), variant, ring=False))


class MessageWaiting(AttachedService):
    """Per mailbox: unheard messages or not; per phone: the indication it was last sent."""

    def __init__(self, control: CallControlApi, store, log: EventLogger | None = None) -> None:
        self.cc = control
        self.store = store
        self.log = log or EventLogger("voicemail")
        self._changes: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self.waiting: dict[str, bool] = {}  # mailbox -> unheard messages exist
        self.indicated: dict[int, bool] = {}  # port -> state the phone was last sent (absent: off)
        self._sending: dict[int, Sending] = {}
        for extension in control.config.extensions:
            if extension.voicemail:
                self.waiting[extension.number] = store.unheard_count(extension.number) > 0
        # On-hook transmission is a line-card command (drivers.ports.LineCard.oht_window); a card
        # object without it (a stand-in) gets the stutter tone only.
        if not control.can_send_on_hook():
            self.log.warning("mwi_visual_off", reason="the line card has no on-hook transmission command")
        store.subscribe(self._stored)
        control.dial_tone_for = self.dial_tone_for

    # ------------------------------------------------------------------ off the loop
    def _stored(self, mailbox: str) -> None:
        """The store changed ``mailbox`` (on the thread that changed it): count, hand to the loop."""
        try:
            self._changes.put((mailbox, self.store.unheard_count(mailbox)))
        except FirmwareError as exc:
            self.log.error("mwi_count_failed", mailbox=mailbox, error=str(exc))

    # ------------------------------------------------------------------ the switch's questions
    def has_messages(self, number: str) -> bool:
        extension = self.cc.config.extension(number)
        return extension is not None and extension.voicemail and self.waiting.get(number, False)

    def dial_tone_for(self, port: int) -> ToneSpec:
        extension = self.cc.config.extension_on_port(port)
        if extension is not None and self.has_messages(extension.number):
            return message_waiting_dial_tone(self.cc.plan)
        return self.cc.plan.dial

    # ------------------------------------------------------------------ AttachedService
    def on_tick(self, tick: int) -> None:
        while True:
            try:
                mailbox, unheard = self._changes.get_nowait()
            except queue.Empty:
                break
            now = unheard > 0
            if self.waiting.get(mailbox, False) != now:
                self.log.info("mwi", mailbox=mailbox, waiting=now, unheard=unheard)
            self.waiting[mailbox] = now
        self._follow_sending(tick)
        for extension in self.cc.config.extensions:
            port = extension.port
            wanted = self.has_messages(extension.number)
            if port in self._sending or self.indicated.get(port, False) == wanted:
                continue
            if self.cc.state(port) is Leg.IDLE:
                self._send(port, extension.number, wanted, tick)

    # ------------------------------------------------------------------ on-hook transmission
    def _send(self, port: int, number: str, state: bool, tick: int) -> None:
        audio = mwi_audio(self.cc.config.effective_caller_id_standard(), state)
        if audio is None or not self.cc.can_send_on_hook():
            self.indicated[port] = state  # nothing to send (DTMF zone, or no card support): the stutter tone only
            return
        window_ms = OHT_LEAD_MS + round(len(audio) / 8.0) + OHT_TAIL_MS
        try:
            self.cc.on_hook_transmission(port, window_ms)
        except DriverError as exc:
            self.log.error("mwi_not_sent", port=port, extension=number, error=str(exc))
            self.indicated[port] = state  # do not retry every tick; the next change tries again
            return
        audio_tick = tick + OHT_LEAD_MS // TICK_MS
        self._sending[port] = Sending(state, audio, audio_tick, audio_tick + -(-len(audio) // 160))
        self.log.info("mwi_sent", port=port, extension=number, waiting=state)

    def _follow_sending(self, tick: int) -> None:
        for port, sending in list(self._sending.items()):
            if self.cc.state(port) is not Leg.IDLE:
                del self._sending[port]  # off-hook or ringing: sent again once idle
                continue
            if sending.audio is not None and tick >= sending.audio_tick:
                self.cc.play(port, sending.audio)
                sending.audio = None
            elif tick >= sending.end_tick:
                del self._sending[port]
                self.indicated[port] = sending.state
                self.cc.hear_nothing(port)
