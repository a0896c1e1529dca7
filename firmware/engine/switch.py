"""The call logic: what the box does when phones, lines and detectors report something.

The switch is driven by the media loop, once per tick, with the line card's events
(hook, ring, polarity, loop current, service), the detectors' events (DTMF digits,
call-progress tones, caller ID) and its own timers. It acts through the line card's
commands, the player bank (tones, caller ID audio, DTMF to dial out) and the mixer (who
hears whom). It never reads a clock: ``tick`` is the audio clock (20 ms), and wall time
for schedules and call records is ``origin + tick × 20 ms``, with ``origin`` passed in.

Flows (docs/ARCHITECTURE.md, "The flow of a call"):

- a phone goes off-hook: dial tone, digits against the dial plan, then an internal call
  (ring the extension, caller ID to it, ringback to the caller) or an outside call (toll
  guard, first free line, seize, wait for dial tone, dial, connect: ``outside.py``,
  ``Switch.outside``, where that machinery and the line guard moved);
- a line rings: caller ID is captured (before or between rings), the line is answered,
  the inbound route is decided (and its explanation logged), the extension or ring group
  is rung while the caller hears ringback;
- either side hangs up: the call ends, the other phone hears busy tone or the line is
  released, and the call record goes to the CDR writer. A line in a call is supervised by
  the methods configured for it (polarity reversal, loop-current drop, busy tone, silence),
  so a call never stays up after the far end has gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Protocol

import numpy as np

from drivers import DriverError
from drivers.logs import EventLogger
from drivers.ports import (
    HookFlash,
    LoopCurrentDrop,
    OffHook,
    OnHook,
    PolarityReversal,
    PortEvent,
    PortInService,
    PortOutOfService,
    PulseDigit,
    RingQualified,
    RingStart,
    RingStop,
)
from dsp.callerid import CallerId, encode_caller_id
from dsp.callerid_dtmf import dtmf_callerid_digits
from dsp.callerid_sequence import callerid_sequence, sequence_audio
from dsp.toneplans import TonePlan, ToneSpec
from firmware import FirmwareError
from firmware.cdr import CallRecord, Disposition, HangupBy
from firmware.config.model import (
    CallerIdStandard,
    Config,
    Destination,
    DestinationKind,
    DisconnectMethod,
)
from firmware.dialplan import DialKind, DialResult, DigitCollector, MatchState
from firmware.engine.calls import IN_CALL, Call, Direction, Leg, PortLeg
from firmware.engine.callwaiting import CallWaiting
from firmware.engine.features import ChangeExtension, ExtensionFeatures
from firmware.engine.flash import FlashFeatures
from firmware.engine.outside import OutsideCalls
from firmware.engine.services import AttachedService, Services
from firmware.engine.timers import Timers
from firmware.media.mixer import Mixer
from firmware.media.players import PlayerBank
from firmware.routing import route_inbound

TICK_MS = 20
RING_NO_ANSWER_S = 60  # an unanswered internal or inbound call gives up after a minute
ANSWER_AFTER_FIRST_RING_S = 7  # no caller ID and no second ring by then: answer anyway
CALLER_ID_MEMORY_S = 10  # caller ID heard this long before the first ring belongs to it
FAILED_TONE_S = 30  # busy/congestion to a phone left off-hook, then silence
LINE_FAILED_TONE_S = 4  # a caller on a line who cannot be put through hears busy/congestion this long
FSK_AFTER_RING_MS = 500  # GR-30-CORE: at least 500 ms after the first ring ends


class CardCommands(Protocol):
    """What the switch asks of the line card (``drivers.ports.LineCard``)."""

    def ring(self, port: int, cadence_ms=None) -> None: ...
    def stop_ring(self, port: int) -> None: ...
    def seize(self, port: int) -> None: ...
    def release(self, port: int) -> None: ...
    def pulse_dial(self, port: int, digits: str) -> None: ...


def _ticks(seconds: float) -> int:
    return max(1, round(seconds * 1000 / TICK_MS))


class Switch:
    def __init__(
        self,
        config: Config,
        port_is_fxs: list[bool],
        plan: TonePlan,
        card: CardCommands,
        players: PlayerBank,
        mixer: Mixer,
        record_call: Callable[[CallRecord], None],
        origin: dt.datetime,
        log: EventLogger | None = None,
        change_extension: ChangeExtension | None = None,
        hold_music: np.ndarray | None = None,
        services: Services | None = None,
    ) -> None:
        if origin.tzinfo is None:
            raise ValueError("origin must be an aware datetime")
        self.config = config
        self.plan = plan
        self.card = card
        self.players = players
        self.mixer = mixer
        self.record_call = record_call
        self.services: Services = dict(services or {})  # IVR, queue, voicemail (services.py)
        self.origin = origin
        self.log = log or EventLogger("switch")
        self.legs = [PortLeg(port, is_fxs) for port, is_fxs in enumerate(port_is_fxs)]
        self.timers = Timers()
        self.tick = 0
        self.calls: dict[int, Call] = {}
        self._next_call_id = 1
        self._collectors: dict[int, DigitCollector] = {}
        self._heard_caller_id: dict[int, tuple[int, CallerId]] = {}  # FXO port -> (tick, caller)
        self._pending_fsk: dict[int, object] = {}  # FXS port -> caller ID audio for its first ring pause
        self.out_by_hand: set[int] = set()  # ports taken out of service by the technician (console)
        self._out_by_link: set[int] = set()  # ports the line card reported out of service
        # Extension features (flash.py, callwaiting.py, features.py); ``change_extension``
        # persists DND/forwarding set by feature code, ``hold_music`` is what held parties hear.
        self.flash = FlashFeatures(self, hold_music, self.log)
        self.waiting = CallWaiting(self, self.log)
        self.features = ExtensionFeatures(self, change_extension, self.log)
        # Calls placed on the exchange lines: seize, dial, bridge (outside.py).
        self.outside = OutsideCalls(self, self.log)
        # Call services that follow ticks, digits, answers and call ends (services.AttachedService).
        self.attached: list[AttachedService] = []
        # The tone an extension hears off-hook: message waiting (firmware/voicemail/mwi.py) sets it
        # to give the stutter dial tone; None: the zone's dial tone.
        self.dial_tone_for: Callable[[int], ToneSpec] | None = None

    # ------------------------------------------------------------------ time
    def now(self) -> dt.datetime:
        return self.origin + dt.timedelta(milliseconds=self.tick * TICK_MS)

    def advance_clock(self, delta: dt.timedelta) -> None:
        """Moves wall time forward by ``delta`` without running the ticks in between: a simulation
        going to another day (schedules, caller ID dates, call records and the ACD read the new
        time; timers run on ticks and are not affected). Only while no call is up: a call's
        record would have its start moved too."""
        if delta <= dt.timedelta(0):
            raise FirmwareError(f"the clock only moves forward, not by {delta}")
        if self.calls:
            raise FirmwareError(f"the clock moves only while no call is up ({len(self.calls)} up)")
        self.origin += delta

    def _epoch(self, tick: int) -> float:
        return (self.origin + dt.timedelta(milliseconds=tick * TICK_MS)).timestamp()

    def _after(self, seconds: float, port: int, name: str) -> None:
        self.timers.schedule(self.tick + _ticks(seconds), (port, name))

    def apply_config(self, config: Config) -> None:
        """A new configuration snapshot: calls in progress keep going."""
        self.config = config

    # ------------------------------------------------------------------ events in
    def on_tick(self, tick: int) -> None:
        self.tick = tick
        for port, name in self.timers.due(tick):
            self._on_timer(port, name)
        self.flash.on_tick(tick)
        self.waiting.on_tick(tick)
        self.features.on_tick(tick)
        for service in self.attached:
            service.on_tick(tick)

    def on_port_event(self, event: PortEvent) -> None:
        # (scenario fix) CardReset has no port at all: reading event.port killed the media loop
        # on a card reset; the ports' out-of-service / in-service events that follow do the work.
        port = getattr(event, "port", None)
        if port is None or not 0 <= port < len(self.legs):
            return
        leg = self.legs[port]
        if isinstance(event, PortOutOfService):
            self._out_by_link.add(port)
            self._out_of_service(leg, str(getattr(event, "reason", "")))
        elif isinstance(event, PortInService):
            self._out_by_link.discard(port)
            if leg.leg is Leg.OUT_OF_SERVICE and port not in self.out_by_hand:
                leg.leg = Leg.IDLE
                self.log.info("port_in_service", port=port)
        elif leg.leg is Leg.OUT_OF_SERVICE:
            return
        elif isinstance(event, OffHook):
            self._phone_off_hook(leg)
        elif isinstance(event, OnHook):
            self._phone_on_hook(leg)
        elif isinstance(event, PulseDigit):
            self.on_digit(port, str(event.digit))
        elif isinstance(event, HookFlash):
            self.log.info("hook_flash", port=port, ms=event.ms, leg=leg.leg)
            if not any(service.on_flash(port) for service in self.attached):
                self.flash.on_flash(leg)
        elif isinstance(event, RingStart):
            self._line_rings(leg)
        elif isinstance(event, RingQualified) and leg.leg is Leg.INCOMING:
            # (scenario fix) the card gives RingStart once per ring train, so a second RingStart
            # never came and a call without caller ID waited for the 7 s timer; RingQualified
            # arrives as the second burst starts: that is the second ring.
            self._line_rings(leg)
        elif isinstance(event, RingStop):
            self._line_stops_ringing(leg)
        elif isinstance(event, PolarityReversal):
            self._line_polarity_reversal(leg)
        elif isinstance(event, LoopCurrentDrop):
            self._line_supervision(leg, DisconnectMethod.LOOP_CURRENT_DROP, "loop_current_drop")

    def on_digit(self, port: int, digit: str) -> None:
        if self.waiting.on_digit(port, digit):
            return
        if any(service.on_digit(port, digit) for service in self.attached):
            return
        leg = self.legs[port]
        if not leg.is_fxs or leg.leg not in (Leg.DIALTONE, Leg.DIALING):
            return
        collector = self._collectors.get(port)
        if collector is None:
            return
        if leg.leg is Leg.DIALTONE:
            self.players.stop(port)
            leg.leg = Leg.DIALING
        self._dial_result(leg, collector.feed(digit))

    def on_tone(self, port: int, tone: str, ongoing: bool) -> None:
        """A call-progress tone recognised on a line (``ongoing``: it has just started)."""
        leg = self.legs[port]
        if leg.is_fxs or not ongoing:
            return
        if leg.leg is Leg.SEIZING and tone == "dial":
            self.outside.dial_digits(leg)
        elif tone in ("busy", "congestion") and leg.leg is Leg.CONNECTED:
            self._line_supervision(leg, DisconnectMethod.BUSY_TONE, f"{tone}_tone")

    def on_caller_id(self, port: int, caller: CallerId) -> None:
        leg = self.legs[port]
        if leg.is_fxs:
            return
        self._heard_caller_id[port] = (self.tick, caller)
        self.log.info("caller_id", port=port, number=caller.number or "", name=caller.name or "",
                      absence=caller.number_absence.label if caller.number_absence else "")
        if leg.leg is Leg.INCOMING:
            self._answer_line(leg)

    def on_line_audio(self, port: int, heard: bool) -> None:
        """Per tick for lines in a call: was there audio from the line above the silence level?"""
        if heard:
            self.legs[port].last_heard_tick = self.tick

    # ------------------------------------------------------------------ phones
    def _extension_of(self, port: int):
        return self.config.extension_on_port(port)

    def _phone_off_hook(self, leg: PortLeg) -> None:
        if self.flash.on_off_hook(leg):
            return
        if leg.leg is Leg.RINGING and leg.call is not None:
            self._answer(leg.call, leg.port)
            return
        if leg.leg is not Leg.IDLE:
            return
        if self._extension_of(leg.port) is None:
            self.log.warning("offhook_unconfigured_port", port=leg.port)
            self._fail(leg, "congestion")
            return
        leg.leg = Leg.DIALTONE
        tone = self.plan.dial if self.dial_tone_for is None else self.dial_tone_for(leg.port)
        self.players.play_tone(leg.port, tone)
        self.mixer.listen_player(leg.port, leg.port)
        collector = self.config.dial_plan().start()
        self._collectors[leg.port] = collector
        self._after(collector.last.timeout_ms / 1000.0, leg.port, "digits")
        self.log.info("offhook", port=leg.port, extension=self._extension_of(leg.port).number)

    def _phone_on_hook(self, leg: PortLeg) -> None:
        self._collectors.pop(leg.port, None)
        self.timers.cancel((leg.port, "digits"))
        self.timers.cancel((leg.port, "failed_tone"))
        if self.flash.on_hook(leg):
            self.log.info("onhook", port=leg.port)
            return
        call = leg.call
        if call is not None:
            hangup_by = HangupBy.CALLER if call.origin == leg.port else HangupBy.CALLEE
            self._end_call(call, hangup_by, "normal_clearing")
        self._reset_port(leg)
        self.log.info("onhook", port=leg.port)

    def _dial_result(self, leg: PortLeg, result: DialResult) -> None:
        self.timers.cancel((leg.port, "digits"))
        if result.state is MatchState.COMPLETE:
            self._collectors.pop(leg.port, None)
            self._dialled(leg, result)
        elif result.state is MatchState.NO_MATCH:
            self._collectors.pop(leg.port, None)
            self.log.info("dial_no_match", port=leg.port, digits=result.digits)
            self._fail(leg, "congestion")
        elif result.timeout_ms is not None:
            self._after(result.timeout_ms / 1000.0, leg.port, "digits")

    def _dialled(self, leg: PortLeg, result: DialResult) -> None:
        extension = self._extension_of(leg.port)
        self.log.info("dialled", port=leg.port, digits=result.digits, kind=result.kind or "", number=result.number)
        if result.kind is DialKind.FEATURE and self.features.dialled(leg, result):
            return
        call = self._new_call(leg.port, Direction.INTERNAL, extension.number, extension.name)
        call.dialled = result.digits
        if result.kind is DialKind.INTERNAL:
            self._call_internal(call, result.number or result.digits)
        elif result.kind in (DialKind.EXTERNAL, DialKind.EMERGENCY):
            call.direction = Direction.OUTBOUND
            self.outside.call(call, extension, result.digits)
        else:
            self.log.info("feature_unavailable", port=leg.port, digits=result.digits, feature=result.name)
            self._end_call(call, HangupBy.SYSTEM, "feature_unavailable", Disposition.FAILED)
            self._fail(leg, "congestion")

    def _fail(self, leg: PortLeg, tone: str) -> None:
        """A phone hears busy or congestion until it hangs up (then silence, for a while)."""
        leg.leg = Leg.FAILED
        leg.call = None
        self.players.play_tone(leg.port, self.plan.busy if tone == "busy" else self.plan.congestion)
        self.mixer.stop_listening(leg.port)
        self.mixer.listen_player(leg.port, leg.port)
        self._after(FAILED_TONE_S, leg.port, "failed_tone")

    # ------------------------------------------------------------------ internal calls
    def _call_internal(self, call: Call, number: str) -> None:
        call.destination = number
        extension = self.config.extension(number)
        if extension is not None:
            self.features.ring_extension(call, extension)
            return
        queue = next((q for q in self.config.queues if q.number and q.number == number), None)
        if queue is not None:  # an extension dialled a queue's number: the box answers, the queue takes it
            call.answer_tick = self.tick
            self.legs[call.origin].leg = Leg.RINGBACK
            self.deliver(call, call.origin, Destination(DestinationKind.QUEUE, queue.name))
            return
        targets = self._targets_of(number)
        if not targets:
            self._caller_fails(call, "congestion", "no_such_number", Disposition.FAILED)
            return
        self._ring_group_or_targets(call, number, targets)

    def _ring_group_or_targets(self, call: Call, number: str, targets: list[int]) -> None:
        """Rings ``targets``; a ring group rings for its own ``ring_s`` (then its no-answer destination)."""
        group = next((g for g in self.config.ring_groups if number in (g.number, g.name)), None)
        if group is None:
            self._ring_targets(call, targets)
            return
        call.ring_group = group.name
        self._ring_targets(call, targets, ring_s=group.ring_s)

    def _targets_of(self, number: str) -> list[int]:
        extension = self.config.extension(number)
        if extension is not None:
            return [extension.port]
        for group in self.config.ring_groups:
            if group.number == number or group.name == number:
                members = [self.config.extension(member) for member in group.members]
                return [member.port for member in members if member is not None]
        return []

    def _ring_targets(self, call: Call, targets: list[int], ring_s: float = RING_NO_ANSWER_S) -> None:
        free = [port for port in targets if self._can_ring(port)]
        if not free:
            self._caller_fails(call, "busy", "user_busy", Disposition.BUSY)
            return
        caller = self._caller_id_of(call)
        for port in free:
            target = self.legs[port]
            target.leg = Leg.RINGING
            target.call = call
            call.ringing.append(port)
            self._ring_with_caller_id(port, caller)
        origin = self.legs[call.origin]
        origin.leg = Leg.RINGBACK
        self.players.play_tone(call.origin, self.plan.ringback)
        self.mixer.listen_player(call.origin, call.origin)
        self._after(ring_s, call.origin, "no_answer")
        self.log.info("ringing", call=call.call_id, ports=",".join(map(str, free)), caller=call.caller_number)

    def _caller_id_of(self, call: Call) -> CallerId:
        """What the rung phone displays: the number, or why there is none (GR-30 'O'/'P')."""
        absence = None
        if not call.caller_number:
            absence = call.caller_absence or "O"
        return CallerId(number=call.caller_number or None, name=call.caller_name or None,
                        number_absence=absence, datetime=self.now().strftime("%m%d%H%M"))

    def ring_for(self, call: Call, port: int, caller: CallerId) -> bool:
        """Rings ``port`` for ``call`` on a call service's behalf (an ACD offer), showing ``caller``;
        the caller's side is the service's. False if the phone cannot ring now."""
        if not self._can_ring(port):
            return False
        self.legs[port].leg = Leg.RINGING
        self.legs[port].call = call
        call.ringing.append(port)
        self._ring_with_caller_id(port, caller)
        return True

    def stop_ring_for(self, call: Call, port: int) -> None:
        """Stops ringing ``port`` for ``call`` (the offer timed out or was withdrawn)."""
        if port in call.ringing and self.legs[port].call is call:
            call.ringing.remove(port)
            self._stop_ringing(port)

    def ring_from_service(self, port: int, caller: CallerId) -> Call | None:
        """Rings ``port`` for a call a service starts itself (an ACD callback: the agent's phone
        first, then ``dial_out``); the phone is the call's origin. None if it cannot ring now."""
        if not self._can_ring(port):
            return None
        call = self._new_call(port, Direction.OUTBOUND, caller.number or "", caller.name or "")
        self.ring_for(call, port, caller)
        return call

    def dial_out(self, call: Call, digits: str) -> None:
        """The answered phone of a service's call dials out: :meth:`OutsideCalls.dial_for_service`."""
        self.outside.dial_for_service(call, digits)

    def end_service_call(self, call: Call, cause: str) -> None:
        """Ends a call on a service's behalf (the box hangs up); the call record names ``cause``."""
        self._end_call(call, HangupBy.SYSTEM, cause)

    def _can_ring(self, port: int) -> bool:
        leg = self.legs[port]
        extension = self._extension_of(port)
        return leg.is_fxs and leg.leg is Leg.IDLE and extension is not None and not extension.dnd

    def _ring_with_caller_id(self, port: int, caller: CallerId) -> None:
        """Rings ``port`` and sends caller ID as the zone's standard wants it."""
        standard = self.config.effective_caller_id_standard()
        cadence = self.plan.ring_cadence_ms
        if standard is CallerIdStandard.DTMF:
            # DTMF caller ID goes before the first ring (ETSI EN 300 659-1 annex B).
            segments = callerid_sequence("dtmf", dtmf_callerid_digits(caller), ring=False)
            audio = sequence_audio(segments)
            self.players.play_samples(port, audio)
            self.mixer.listen_player(port, port)
            self.timers.schedule(self.tick + _ticks(len(audio) / 8000.0), (port, "start_ring"))
            return
        self.card.ring(port, cadence)
        # FSK in the first silent interval: Bell 202 (GR-30-CORE) or V.23 after the first ring.
        message = encode_caller_id(caller, "mdmf")
        fsk = "bell202" if standard is CallerIdStandard.BELL202 else "v23"
        variant = "type1" if fsk == "bell202" else "after_ring"
        segments = callerid_sequence(fsk, message, variant, ring=False)
        self._pending_fsk[port] = segments[-1].samples
        self.timers.schedule(self.tick + _ticks((cadence[0] + FSK_AFTER_RING_MS) / 1000.0), (port, "send_fsk"))

    def _answer(self, call: Call, port: int) -> None:
        for other in call.ringing:
            if other != port:
                self._stop_ringing(other)
        self._stop_ringing(port, keep_call=True)
        call.ringing = []
        call.peer = port
        call.answer_tick = self.tick
        self.timers.cancel((call.origin, "no_answer"))
        for each in (call.origin, port):
            self.players.stop(each)
            self.mixer.stop_listening(each)
            self.legs[each].leg = Leg.CONNECTED
            self.legs[each].call = call
        if call.origin != port:  # a service's call rung at its origin (ACD callback) has nobody yet
            self.mixer.bridge(call.origin, port)
        self.log.info("answered", call=call.call_id, port=port, origin=call.origin)
        for service in self.attached:
            service.answered(call, port)  # e.g. the ACD whispers to the agent before the bridge

    def _stop_ringing(self, port: int, keep_call: bool = False) -> None:
        self.features.ringing_stopped(port)
        self.card.stop_ring(port)
        self.players.stop(port)
        self.timers.cancel((port, "send_fsk"))
        self.timers.cancel((port, "start_ring"))
        self._pending_fsk.pop(port, None)
        if not keep_call:
            self.legs[port].leg = Leg.IDLE
            self.legs[port].call = None

    def _caller_fails(self, call: Call, tone: str, cause: str, disposition: Disposition) -> None:
        origin = self.legs[call.origin]
        if not origin.is_fxs:
            # (scenario fix) the line was seized and released in the same tick, so the exchange
            # never saw an answer: the caller kept hearing ringing while the box took the line
            # for idle (an outbound call would then seize it and answer that caller: glare).
            # Now the caller hears the tone for a while, then the line is released.
            origin.call = None  # _end_call leaves it to us
            self._end_call(call, HangupBy.SYSTEM, cause, disposition)
            self._fail(origin, tone)
            self._after(LINE_FAILED_TONE_S, origin.port, "release_line")
            return
        self._end_call(call, HangupBy.SYSTEM, cause, disposition)
        self._fail(origin, tone)

    # ------------------------------------------------------------------ inbound calls
    def _line_rings(self, leg: PortLeg) -> None:
        if leg.leg is Leg.IDLE:
            leg.leg = Leg.INCOMING
            leg.rings = 1
            call = self._new_call(leg.port, Direction.INBOUND, "", "")
            leg.call = call
            heard = self._heard_caller_id.get(leg.port)
            if heard is not None and self.tick - heard[0] <= _ticks(CALLER_ID_MEMORY_S):
                self._answer_line(leg)  # caller ID came before the first ring
            else:
                self._after(ANSWER_AFTER_FIRST_RING_S, leg.port, "answer_line")
            self.log.info("line_ringing", port=leg.port)
        elif leg.leg is Leg.INCOMING:
            leg.rings += 1
            if leg.rings >= 2:
                self._answer_line(leg)

    def _line_stops_ringing(self, leg: PortLeg) -> None:
        """The exchange stopped ringing before the box answered: the caller gave up."""
        if leg.leg is Leg.INCOMING and leg.call is not None:
            self._end_call(leg.call, HangupBy.CALLER, "caller_abandoned", Disposition.NO_ANSWER)
            self._reset_port(leg)

    def _answer_line(self, leg: PortLeg) -> None:
        self.timers.cancel((leg.port, "answer_line"))
        call = leg.call
        heard = self._heard_caller_id.pop(leg.port, None)
        if heard is not None:
            caller = heard[1]
            call.caller_number = caller.number or ""
            call.caller_name = caller.name or ""
            call.caller_absence = caller.number_absence.value if caller.number_absence else ""
        self.card.seize(leg.port)
        leg.leg = Leg.RINGBACK
        leg.last_heard_tick = self.tick
        decision = route_inbound(self.config, leg.port, call.caller_number or None, self.now())
        call.explanation = decision.explanation
        call.destination = str(decision.destination)
        call.route = decision.route or ""  # a queue reads the route's priority and skills
        self.log.info("route", call=call.call_id, port=leg.port, caller=call.caller_number or "withheld",
                      destination=str(decision.destination), route=decision.route or "none",
                      why="; ".join(decision.explanation[1:]))
        self.deliver(call, leg.port, decision.destination)

    def deliver(self, call: Call, line_port: int, destination) -> None:
        """Sends an answered inbound call to a destination (a route's, or a queue's overflow)."""
        extension = self.config.extension(destination.name) if destination.kind is DestinationKind.EXTENSION else None
        if extension is not None:
            self.features.ring_extension(call, extension)
        elif destination.kind in (DestinationKind.EXTENSION, DestinationKind.RING_GROUP):
            self._ring_group_or_targets(call, destination.name, self._targets_of(destination.name))
        elif destination.kind is DestinationKind.HANGUP:
            self._end_call(call, HangupBy.SYSTEM, "route_hangup", Disposition.FAILED)
        elif destination.kind is DestinationKind.OUTSIDE:
            self.send_outside(call, destination.name)
        else:
            service = self.services.get(destination.kind)
            if service is not None and service.take(call, line_port, destination.name):
                return
            self.log.warning("destination_unavailable", call=call.call_id, destination=str(destination),
                             reason="no such service on this box" if service is None else "service refused the call")
            self._caller_fails(call, "congestion", "destination_unavailable", Disposition.FAILED)

    def send_outside(self, call: Call, digits: str) -> None:
        """Sends ``call`` to an outside number (a destination of kind outside): :meth:`OutsideCalls.send`."""
        self.outside.send(call, digits)

    def _line_polarity_reversal(self, leg: PortLeg) -> None:
        call = leg.call
        if call is None:
            return
        config = self.config.line(leg.port)
        if (leg.leg is Leg.CONNECTED and call.direction is Direction.OUTBOUND and call.answer_tick is None
                and config is not None and config.answer_by_polarity_reversal):
            call.answer_tick = self.tick  # the far end answered (answer supervision)
            self.log.info("far_end_answered", call=call.call_id, line=leg.port)
            return
        self._line_supervision(leg, DisconnectMethod.POLARITY_REVERSAL, "polarity_reversal")

    def _line_supervision(self, leg: PortLeg, method: DisconnectMethod, cause: str) -> None:
        """A disconnect signal on a line: release it if the line is configured to trust it."""
        config = self.config.line(leg.port)
        if leg.call is None or leg.leg not in IN_CALL or config is None or method not in config.disconnect:
            return
        self.log.info("far_end_disconnect", call=leg.call.call_id, line=leg.port, method=method)
        call = leg.call
        hangup_by = HangupBy.CALLER if call.origin == leg.port else HangupBy.CALLEE
        self._end_call(call, hangup_by, cause)

    def check_silence(self) -> None:
        """Last resort: a connected line that has been silent too long is released."""
        for leg in self.legs:
            if leg.is_fxs or leg.leg is not Leg.CONNECTED or leg.call is None:
                continue
            config = self.config.line(leg.port)
            if config is None or DisconnectMethod.SILENCE_TIMEOUT not in config.disconnect:
                continue
            if self.tick - leg.last_heard_tick >= _ticks(config.silence_timeout_s):
                self.log.info("far_end_disconnect", call=leg.call.call_id, line=leg.port, method="silence_timeout")
                hangup_by = HangupBy.CALLER if leg.call.origin == leg.port else HangupBy.CALLEE
                self._end_call(leg.call, hangup_by, "silence_timeout")

    def _release_line(self, leg: PortLeg) -> None:
        self.outside.line_released(leg.port)  # (scenario fix) the line guard, outside.py
        try:
            self.card.release(leg.port)
        except DriverError as exc:
            self.log.error("release_failed", port=leg.port, error=str(exc))
        self._reset_port(leg)

    # ------------------------------------------------------------------ timers
    def _on_timer(self, port: int, name: str) -> None:
        leg = self.legs[port]
        if name == "digits":
            collector = self._collectors.get(port)
            if collector is not None and leg.leg in (Leg.DIALTONE, Leg.DIALING):
                self._dial_result(leg, collector.expire())
        elif name == "failed_tone" and leg.leg is Leg.FAILED:
            self.players.stop(port)
        elif name == "no_answer" and leg.call is not None and leg.call.answer_tick is None:
            self._no_answer(leg.call)
        elif name == "answer_line" and leg.leg is Leg.INCOMING:
            self._answer_line(leg)
        elif name == "dial_tone_wait" and leg.leg is Leg.SEIZING:
            self.log.info("no_dial_tone", line=port, action="blind_dial")
            self.outside.dial_digits(leg)
        elif name == "dialled_out" and leg.leg is Leg.DIALING_OUT:
            self.outside.digits_sent(leg)
        elif name == "send_fsk":
            samples = self._pending_fsk.pop(port, None)
            if samples is not None and leg.leg is Leg.RINGING:
                self.players.play_samples(port, samples)
                self.mixer.listen_player(port, port)
        elif name == "start_ring" and leg.leg is Leg.RINGING:
            self.card.ring(port, self.plan.ring_cadence_ms)
        elif name == "release_line" and leg.leg is Leg.FAILED and not leg.is_fxs:
            self._release_line(leg)  # (scenario fix) see _caller_fails

    def _no_answer(self, call: Call) -> None:
        """Nobody answered in time: an inbound call to a ring group goes to the group's
        no-answer destination; anything else ends with busy (phone) or a released line."""
        group = self.config.ring_group(call.ring_group) if call.ring_group else None
        if (group is not None and group.no_answer.kind is not DestinationKind.HANGUP
                and not self.legs[call.origin].is_fxs):
            for port in list(call.ringing):
                self._stop_ringing(port)
            call.ringing = []
            call.ring_group = ""
            self.log.info("ring_group_no_answer", call=call.call_id, group=group.name,
                          destination=str(group.no_answer))
            self.deliver(call, call.origin, group.no_answer)
            return
        self._caller_fails(call, "busy", "no_answer", Disposition.NO_ANSWER)

    # ------------------------------------------------------------------ call records
    def _new_call(self, origin: int, direction: Direction, number: str, name: str) -> Call:
        call = Call(self._next_call_id, origin, direction, self.tick, caller_number=number, caller_name=name)
        self._next_call_id += 1
        self.calls[call.call_id] = call
        self.legs[origin].call = call
        return call

    def _end_call(self, call: Call, hangup_by: HangupBy, cause: str,
                  disposition: Disposition | None = None) -> None:
        if call.end_tick is not None:
            return
        self.flash.before_end(call)
        self.waiting.before_end(call)
        for service in self.attached:
            service.before_end(call)
        call.end_tick = self.tick
        call.hangup_cause = cause
        call.hangup_by = hangup_by
        if disposition is None:
            disposition = Disposition.ANSWERED if call.answer_tick is not None else Disposition.NO_ANSWER
        call.disposition = disposition
        self.timers.cancel((call.origin, "no_answer"))
        for port in call.ports():
            leg = self.legs[port]
            if leg.call is not call:
                continue
            if leg.leg is Leg.RINGING:
                self._stop_ringing(port)
            elif not leg.is_fxs:
                self._release_line(leg)
            elif leg.leg is Leg.CONNECTED or leg.leg is Leg.RINGBACK:
                self._fail(leg, "busy")  # the other side hung up: busy tone until on-hook
            self.mixer.isolate(port)
            if leg.leg is Leg.FAILED:
                self.mixer.listen_player(port, port)
        del self.calls[call.call_id]
        self.record_call(self._record(call))
        self.log.info("call_end", call=call.call_id, cause=cause, disposition=disposition, hangup_by=hangup_by,
                      seconds=round((call.end_tick - call.start_tick) * TICK_MS / 1000.0, 2))

    def uniqueid(self, call: Call) -> str:
        """The call record's uniqueid of ``call`` (Asterisk style: start epoch seconds . call id)."""
        return f"{int(self._epoch(call.start_tick))}.{call.call_id}"

    def _record(self, call: Call) -> CallRecord:
        origin_extension = self._extension_of(call.origin)
        peer_extension = self._extension_of(call.peer) if call.peer is not None else None
        return CallRecord(
            uniqueid=self.uniqueid(call),
            start=self._epoch(call.start_tick),
            end=self._epoch(call.end_tick),
            answer=None if call.answer_tick is None else self._epoch(call.answer_tick),
            disposition=Disposition(call.disposition),
            hangup_by=HangupBy(call.hangup_by),
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            dst=call.destination,
            src_port=call.origin,
            src_extension=origin_extension.number if origin_extension and self.legs[call.origin].is_fxs else "",
            dst_port=call.peer,
            dst_extension=peer_extension.number if peer_extension else "",
            context=str(call.direction),
            hangup_cause=call.hangup_cause,
            userfield=call.userfield,
        )

    # ------------------------------------------------------------------ ports
    def _reset_port(self, leg: PortLeg) -> None:
        self.players.stop(leg.port)
        self.mixer.isolate(leg.port)
        self.mixer.stop_listening(leg.port)
        for name in ("digits", "failed_tone", "no_answer", "answer_line", "dial_tone_wait", "dialled_out",
                     "release_line"):
            self.timers.cancel((leg.port, name))
        if leg.leg is not Leg.OUT_OF_SERVICE:
            leg.leg = Leg.IDLE
        leg.call = None
        leg.rings = 0

    def _out_of_service(self, leg: PortLeg, reason: str) -> None:
        self.flash.port_lost(leg.port)
        if leg.call is not None:
            self._end_call(leg.call, HangupBy.SYSTEM, "out_of_service", None)
        self._reset_port(leg)
        leg.leg = Leg.OUT_OF_SERVICE
        self.log.warning("port_out_of_service", port=leg.port, reason=reason)

    def set_in_service(self, port: int, in_service: bool, reason: str = "console") -> None:
        """The technician takes a port out of service (its call ends) or back; the link cannot undo it."""
        if not isinstance(port, int) or not 0 <= port < len(self.legs):
            raise FirmwareError(f"port {port!r} does not exist (ports 0-{len(self.legs) - 1})")
        leg = self.legs[port]
        if not in_service:
            self.out_by_hand.add(port)
            if leg.leg is not Leg.OUT_OF_SERVICE:
                self._out_of_service(leg, reason)
            return
        self.out_by_hand.discard(port)
        if leg.leg is Leg.OUT_OF_SERVICE and port not in self._out_by_link:
            leg.leg = Leg.IDLE
            self.log.info("port_in_service", port=port, reason=reason)

    def snapshot(self) -> list[dict]:
        """Ports and their calls, for the console and scenario reports."""
        return [
            {"port": leg.port, "type": "fxs" if leg.is_fxs else "fxo", "state": str(leg.leg),
             "call": leg.call.call_id if leg.call else None, "tone": self.players.tone(leg.port)}
            for leg in self.legs
        ]
