"""Call waiting on the analog extensions (``Extension.call_waiting``).

A call for an extension that is busy in a two-party call — and in no flash session, and
not itself a consultation call — is offered as a waiting call: the caller hears ringback,
and the extension hears the zone's call-waiting tone (``TonePlan.callwaiting``) over its
conversation. Where the zone's caller ID is FSK, the waiting caller's identity is sent as
off-hook caller ID, Telcordia GR-30-CORE type II ("caller ID on call waiting"):

1. the voice path is muted both ways, so the conversation partner hears neither the alert
   nor the phone's acknowledgement, and the phone's FSK receiver hears no speech;
2. SAS, the first burst of the call-waiting tone (440 Hz, 300 ms in North America),
   immediately followed by the CAS, 2130 + 2750 Hz for 80 ms (``dsp.callerid_sequence``);
3. a type II phone acknowledges with DTMF ``D``; GR-30 gives it 100 ms from the end of the
   CAS, the box waits ``ACK_WINDOW_MS`` to allow for the audio path and the DTMF detector;
4. only if acknowledged, the FSK burst (MDMF, 80 mark bits, no channel seizure), 100 ms
   after the ACK; without an acknowledgement no data is sent (GR-30: a phone that does not
   answer cannot display it);
5. the voice path comes back and the call-waiting tone repeats with the zone's cadence
   (one burst every 10 s in North America) until the call is answered or goes away.

V.23 zones get the same sequence with V.23 FSK, which is the structure of ETSI
EN 300 659-2 off-hook data (dual-tone alert, TE acknowledgement ``D``, FSK); its timings
here are GR-30's and were not checked against the ETSI text. DTMF caller-ID zones get the
tone alone.

States of an offer (explicit, per extension port)::

    ALERTING --alert over--> AWAIT_ACK --'D'--> SENDING --data over--> TONE
                                  `--no ACK in the window-----------> TONE

A flash answers the waiting call (``flash.py``: the first call goes on hold); hanging up
rings the phone with it; the caller giving up, or nobody answering for
``WAITING_RING_S``, withdraws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from drivers.audio import TICK_MS
from drivers.logs import EventLogger
from dsp import SAMPLE_RATE
from dsp.callerid import CallerId, displayed_caller_id, encode_caller_id
from dsp.callerid_alert import CAS_MS, alert_tone
from dsp.callerid_fsk import fsk_burst
from dsp.callerid_sequence import SegmentKind, SequenceTiming, callerid_sequence
from firmware.config.model import CallerIdStandard
from firmware.engine.calls import Call, Leg
from firmware.engine.control import CallControl
from firmware.engine.flash import FlashFeatures, other_party
from firmware.engine.timers import Timers
from firmware.media.featuretones import callwaiting_burst

ACK_WINDOW_MS = 300.0  # GR-30-CORE: ACK within 100 ms of the CAS end; + audio path and DTMF detection
WAITING_RING_S = 60  # as an unanswered call: the caller gets busy tone after a minute
ACK_DIGIT = "D"  # GR-30-CORE type II acknowledgement


class OfferState(StrEnum):
    ALERTING = "alerting"  # SAS + CAS playing, voice path muted
    AWAIT_ACK = "await_ack"  # waiting for the phone's DTMF D
    SENDING = "sending"  # the FSK burst
    TONE = "tone"  # voice path back; the call-waiting tone repeats


@dataclass
class Offer:
    port: int
    call: Call  # the waiting call
    state: OfferState
    started_tick: int
    data: np.ndarray | None = None  # FSK audio to send once the phone acknowledges
    muted: bool = False


def _ticks_ms(ms: float) -> int:
    return max(1, int(np.ceil(ms / TICK_MS)))


class CallWaiting:
    """Waiting-call offers on the extension ports (through call control; ``flash`` says which
    ports are in a hold, consultation or conference session)."""

    def __init__(self, control: CallControl, flash: FlashFeatures, log: EventLogger) -> None:
        self.cc = control
        self.flash = flash
        self.log = log
        self.offers: dict[int, Offer] = {}
        self.timers = Timers()
        self._timer_handlers = {
            "alert_end": self._alert_over,
            "ack": self._restore,
            "data_end": self._restore,
            "repeat": self._repeat,
        }

    # ------------------------------------------------------------------ queries
    def pending(self, port: int) -> Call | None:
        offer = self.offers.get(port)
        return None if offer is None else offer.call

    def state(self, port: int) -> OfferState | None:
        offer = self.offers.get(port)
        return None if offer is None else offer.state

    def can_offer(self, port: int, call: Call) -> bool:
        extension = self.cc.extension_on(port)
        flash = self.flash
        return (extension is not None and extension.call_waiting and self.cc.is_fxs(port)
                and self.cc.state(port) is Leg.CONNECTED
                and port not in self.offers and flash.is_two_party(port) and not flash.involved(port)
                and call.origin not in flash.sessions and call.origin != port)

    # ------------------------------------------------------------------ offering
    def offer(self, call: Call, port: int) -> None:
        self.cc.set_state(call.origin, Leg.RINGBACK)
        self.cc.play_tone(call.origin, self.cc.plan.ringback)
        self.cc.after(WAITING_RING_S, call.origin, "no_answer")
        offer = Offer(port, call, OfferState.TONE, self.cc.tick)
        self.offers[port] = offer
        standard = self.cc.config.effective_caller_id_standard()
        if standard is CallerIdStandard.DTMF:
            self._tone(offer)
        else:
            caller = displayed_caller_id(call.caller_number, call.caller_name, call.caller_absence,
                                         self.cc.now().strftime("%m%d%H%M"))
            alert, offer.data = self._sequence(standard, caller)
            offer.state = OfferState.ALERTING
            self._mute(offer)
            self.cc.play(port, alert)
            self._schedule(port, "alert_end", len(alert) * 1000.0 / SAMPLE_RATE)
        self.log.info("call_waiting", port=port, call=call.call_id, caller=call.caller_number or "withheld",
                      caller_id=str(standard) if offer.data is not None else "none")

    def _sequence(self, standard: CallerIdStandard, caller: CallerId) -> tuple[np.ndarray, np.ndarray]:
        """(SAS + CAS, silence + FSK burst) for the zone's FSK standard."""
        message = encode_caller_id(caller, "mdmf")
        sas = callwaiting_burst(self.cc.plan)
        if standard is CallerIdStandard.BELL202:
            segments = callerid_sequence("bell202", message, "type2")
            audio = [s.samples for s in segments if s.kind is SegmentKind.AUDIO]
            return np.concatenate([sas, audio[0]]), audio[1]
        lead = np.zeros(int(round(SequenceTiming().ack_to_data_ms * SAMPLE_RATE / 1000.0)))
        burst = fsk_burst(message, "v23", "off_hook")
        return np.concatenate([sas, alert_tone(CAS_MS)]), np.concatenate([lead, burst])

    def _tone(self, offer: Offer) -> None:
        offer.state = OfferState.TONE
        self.cc.play_tone(offer.port, self.cc.plan.callwaiting)

    def _schedule(self, port: int, name: str, ms: float) -> None:
        self.timers.schedule(self.cc.tick + _ticks_ms(ms), (port, name))

    def _mute(self, offer: Offer) -> None:
        offer.muted = True
        self.cc.isolate(offer.port)

    def _unmute(self, offer: Offer) -> None:
        if not offer.muted:
            return
        offer.muted = False
        call = self.cc.call_at(offer.port)
        if self.cc.state(offer.port) is Leg.CONNECTED and call is not None:
            party = other_party(call, offer.port)
            if party is not None:
                self.cc.bridge(offer.port, party)

    # ------------------------------------------------------------------ events
    def on_tick(self, tick: int) -> None:
        for port, name in self.timers.due(tick):
            offer = self.offers.get(port)
            if offer is not None:
                self._timer_handlers[name](offer)

    def on_digit(self, port: int, digit: str) -> bool:
        """The phone's acknowledgement of the CAS: True if the digit was consumed."""
        offer = self.offers.get(port)
        if offer is None or offer.state not in (OfferState.ALERTING, OfferState.AWAIT_ACK):
            return False
        if digit != ACK_DIGIT or offer.state is OfferState.ALERTING or offer.data is None:
            return True  # nothing else is dialled while the alert is on
        self.timers.cancel((port, "ack"))
        offer.state = OfferState.SENDING
        self.cc.play(port, offer.data)
        self._schedule(port, "data_end", len(offer.data) * 1000.0 / SAMPLE_RATE)
        self.log.info("call_waiting_ack", port=port, call=offer.call.call_id)
        return True

    def _alert_over(self, offer: Offer) -> None:
        if offer.state is not OfferState.ALERTING:
            return
        offer.state = OfferState.AWAIT_ACK
        self._schedule(offer.port, "ack", ACK_WINDOW_MS)

    def _restore(self, offer: Offer) -> None:
        """Caller ID done (or not acknowledged): voice back, the tone repeats with its cadence."""
        if offer.state not in (OfferState.AWAIT_ACK, OfferState.SENDING):
            return
        if offer.state is OfferState.AWAIT_ACK:
            self.log.info("call_waiting_no_ack", port=offer.port, call=offer.call.call_id)
        offer.state = OfferState.TONE
        self.cc.stop_audio(offer.port)
        self._unmute(offer)
        cycle_ms = self.cc.plan.callwaiting.cycle_ms
        elapsed_ms = (self.cc.tick - offer.started_tick) * TICK_MS
        self._schedule(offer.port, "repeat", max(TICK_MS, cycle_ms - elapsed_ms))

    def _repeat(self, offer: Offer) -> None:
        if offer.state is OfferState.TONE and self.cc.state(offer.port) is Leg.CONNECTED:
            self._tone(offer)

    # ------------------------------------------------------------------ ending
    def _cancel_timers(self, port: int) -> None:
        for name in self._timer_handlers:
            self.timers.cancel((port, name))

    def take(self, port: int) -> Call | None:
        """Withdraws the offer at ``port`` (to answer it, ring it or forward it); returns the call."""
        offer = self.offers.pop(port, None)
        if offer is None:
            return None
        self._cancel_timers(port)
        if self.cc.state(port) is Leg.CONNECTED:
            self.cc.stop_audio(port)
            self._unmute(offer)
        return offer.call

    def before_end(self, call: Call) -> None:
        """``call`` is ending: a waiting call that goes away, or the active call of a port with an offer."""
        for port, offer in list(self.offers.items()):
            if offer.call is call:
                self.take(port)
                self.log.info("call_waiting_withdrawn", port=port, call=call.call_id)
            elif self.cc.call_at(port) is call:
                # The conversation ends under the offer: the alert stops (the port will hear busy
                # tone); the offer stays, for a flash to answer or a hang-up to ring.
                self._cancel_timers(port)
                self.cc.stop_audio(port)
                offer.muted = False
                offer.state = OfferState.TONE
