"""The call logic: what the box does when phones, lines and detectors report something.

The switch is driven by the media loop, once per tick, with the line card's events
(hook, ring, polarity, loop current, service), the detectors' events (DTMF digits,
call-progress tones, caller ID) and its own timers. It is the event dispatcher over call
control (``control.py``: legs, calls, timers, players, mixer and card behind one public
surface, leg states through the table of ``states.py``), which it builds and wires to the
features, outside calls and services. Every handler runs behind the fault boundary
(``_isolated``). It never reads a clock: ``tick`` is the audio clock (20 ms), and wall time
for schedules and call records is ``clock.wall_time(tick)`` (``wallclock.py``: anchored to
the wall clock at the media loop's edge, or ``origin + tick × 20 ms`` without one).

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
from collections.abc import Callable, Iterable

from drivers.audio import TICK_MS
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
from dsp.callerid import CallerId
from dsp.toneplans import TonePlan, ToneSpec
from firmware import FirmwareError
from firmware.cdr import CallRecord, Disposition, HangupBy
from firmware.config.model import Config, Destination, DestinationKind, DisconnectMethod
from firmware.dialplan import DialKind, DialResult, MatchState
from firmware.engine.calls import IN_CALL, Call, Direction, Leg, PortLeg
from firmware.engine.callwaiting import CallWaiting
from firmware.engine.control import CallControl, CardCommands, ticks
from firmware.engine.features import ChangeExtension, ExtensionFeatures
from firmware.engine.flash import FlashFeatures, HoldMusic
from firmware.engine.outside import OutsideCalls
from firmware.engine.services import AttachedService, Services
from firmware.engine.timers import Timers
from firmware.engine.wallclock import WallClock
from firmware.media.mixer import Mixer
from firmware.media.players import PlayerBank
from firmware.routing import route_inbound

__all__ = ["CardCommands", "Switch", "TICK_MS"]

ANSWER_AFTER_FIRST_RING_S = 7  # no caller ID and no second ring by then: answer anyway
CALLER_ID_MEMORY_S = 10  # caller ID heard this long before the first ring belongs to it
_ticks = ticks


class Switch:
    """The event dispatcher over :class:`~firmware.engine.control.CallControl` (``control``):
    card, detector and timer events in, decisions out through call control's surface."""

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
        hold_music: HoldMusic | None = None,
        services: Services | None = None,
        clock: WallClock | None = None,
        boot: int = 0,
    ) -> None:
        self.log = log or EventLogger("switch")
        self.control = CallControl(config, port_is_fxs, plan, card, players, mixer, record_call, origin, self.log,
                                   clock=clock, boot=boot)
        cc = self.control
        for kind, service in (services or {}).items():
            cc.register_service(kind, service)
        self._heard_caller_id: dict[int, tuple[int, CallerId]] = {}  # FXO port -> (tick, caller)
        self.out_by_hand: set[int] = set()  # ports taken out of service by the technician (console)
        self._out_by_link: set[int] = set()  # ports the line card reported out of service
        # Extension features (flash.py, callwaiting.py, features.py) and outside calls (outside.py),
        # each over call control; ``change_extension`` persists DND/forwarding set by feature code,
        # ``hold_music`` says what held parties hear (asked at each hold: it follows ``media reload``).
        self.outside = OutsideCalls(cc, self.log)
        self.flash = FlashFeatures(cc, hold_music, self.log)
        self.waiting = CallWaiting(cc, self.flash, self.log)
        self.flash.waiting = self.waiting
        self.features = ExtensionFeatures(cc, self.waiting, self.outside, change_extension, self.log)
        cc.on_before_end(self.flash.before_end)
        cc.on_before_end(self.waiting.before_end)
        cc.on_ringing_stopped(self.features.ringing_stopped)
        cc.on_line_released(self.outside.line_released)
        cc.set_router(self)
        # Exceptions caught at the dispatch boundary (``_isolated``): each ended one call, not the
        # engine. The console's ``show stats`` shows the count (``internal_errors``).
        self._faults = 0

    # ------------------------------------------------------------------ call control's, for readers
    @property
    def config(self) -> Config:
        return self.control.config

    @property
    def plan(self) -> TonePlan:
        return self.control.plan

    def advance_clock(self, delta: dt.timedelta) -> None:
        """Wall time forward by ``delta`` (simulations: ``CallControl.advance_clock``)."""
        self.control.advance_clock(delta)

    @property
    def card(self) -> CardCommands:
        return self.control.card

    @property
    def origin(self) -> dt.datetime:
        return self.control.origin

    @property
    def clock(self) -> WallClock:
        """The wall time of each tick (``wallclock.py``); the media loop marks it at each tick's edge."""
        return self.control.clock

    @property
    def tick(self) -> int:
        return self.control.tick

    @property
    def legs(self) -> list[PortLeg]:
        return self.control.legs

    @property
    def calls(self) -> dict[int, Call]:
        return self.control.calls

    @property
    def players(self) -> PlayerBank:
        return self.control.players

    @property
    def mixer(self) -> Mixer:
        return self.control.mixer

    @property
    def timers(self) -> Timers:
        return self.control.timers

    @property
    def attached(self) -> list[AttachedService]:
        return self.control.attached

    @property
    def services(self) -> Services:
        return self.control.services

    @services.setter
    def services(self, services: Services) -> None:
        self.control.services = dict(services)

    @property
    def dial_tone_for(self) -> Callable[[int], ToneSpec] | None:
        return self.control.dial_tone_for

    @dial_tone_for.setter
    def dial_tone_for(self, choose: Callable[[int], ToneSpec] | None) -> None:
        self.control.dial_tone_for = choose

    @property
    def faults(self) -> int:
        """Handler exceptions caught by the engine (each ended at most one call)."""
        return self._faults + self.control.faults

    @faults.setter
    def faults(self, value: int) -> None:
        self._faults = value - self.control.faults

    # ------------------------------------------------------------------ for the outside
    def apply_config(self, config: Config) -> None:
        """A new configuration snapshot: calls in progress keep going."""
        self.control.config = config

    def now(self) -> dt.datetime:
        return self.control.now()

    def uniqueid(self, call: Call) -> str:
        return self.control.uniqueid(call)

    # ------------------------------------------------------------------ fault isolation
    def _isolated(self, where: str, port: int | None, handler: Callable[..., object], *args: object) -> None:
        """Runs one event's handler; an exception ends only the call (and port) it was about."""
        try:
            handler(*args)
        except Exception as exc:  # noqa: BLE001 -- the fault boundary (STYLE.md 8): log, count, end that call
            self.contain_fault(where, port, exc)

    def contain_fault(self, where: str, port: int | None, exc: BaseException, call: Call | None = None) -> None:
        """A handler raised: logged once (with the call and port), counted, and the call it was
        about ends with cause ``internal_error`` (its record written); the port is left in a
        state that agrees with its hook. The loop and every other call go on."""
        self.faults += 1
        if call is None and port is not None and 0 <= port < len(self.legs):
            call = self.legs[port].call
        self.log.exception("internal_error", where=where, port="" if port is None else port,
                           call="" if call is None else call.call_id, error=f"{type(exc).__name__}: {exc}",
                           count=self.faults)
        try:
            if call is not None and call.end_tick is None:
                self.control.end_call(call, HangupBy.SYSTEM, "internal_error", Disposition.FAILED)
            if port is not None and 0 <= port < len(self.legs):
                self._settle(self.legs[port])
        except Exception:  # noqa: BLE001 -- the clean ending failed too: force it, never raise into the loop
            self.log.exception("internal_error_cleanup_failed", where=where, port="" if port is None else port,
                               call="" if call is None else call.call_id)
            self._force_end(call, port)

    def _settle(self, leg: PortLeg) -> None:
        """After a fault: a port with no call left is idle (on hook, or a released line) or, a
        phone still off hook, hears congestion until it hangs up."""
        if leg.leg in (Leg.IDLE, Leg.OUT_OF_SERVICE) or (leg.call is not None and leg.call.end_tick is None):
            return
        if not leg.is_fxs:
            self.control.release_line(leg.port)
        elif leg.off_hook:
            if leg.leg is not Leg.FAILED:
                self.control.fail(leg.port, "congestion")
        else:
            self.control.reset_port(leg.port)

    def _force_end(self, call: Call | None, port: int | None) -> None:
        ports = set(call.ports()) if call is not None else set()
        if port is not None and 0 <= port < len(self.legs):
            ports.add(port)
        self.control.force_end(call, sorted(ports))

    # ------------------------------------------------------------------ events in
    def advance(self, tick: int) -> None:
        """The audio clock moved on: events handled from now on happened at ``tick``."""
        self.control.tick = tick

    def on_tick(self, tick: int) -> None:
        """Timers due at ``tick``, then the features' and services' ticks (after the card's events)."""
        self.control.tick = tick
        for port, name in self.timers.due(tick):
            self._isolated(f"timer:{name}", port, self._on_timer, port, name)
        self._isolated("flash_tick", None, self.flash.on_tick, tick)
        self._isolated("call_waiting_tick", None, self.waiting.on_tick, tick)
        self._isolated("features_tick", None, self.features.on_tick, tick)
        for service in self.attached:
            self._isolated(f"service_tick:{type(service).__name__}", None, service.on_tick, tick)

    def on_port_event(self, event: PortEvent) -> None:
        port = getattr(event, "port", None)
        self._isolated(f"port_event:{type(event).__name__}", port if isinstance(port, int) else None,
                       self._port_event, event)

    def _port_event(self, event: PortEvent) -> None:
        # (scenario fix) CardReset has no port at all: reading event.port killed the media loop
        # on a card reset; the ports' out-of-service / in-service events that follow do the work.
        port = getattr(event, "port", None)
        if port is None or not 0 <= port < len(self.legs):
            return
        leg = self.legs[port]
        if leg.is_fxs and isinstance(event, (OffHook, OnHook, PortInService)):
            # followed even out of service (PortInService: "starts from idle", on hook)
            self.control.hook_changed(port, isinstance(event, OffHook))
        if isinstance(event, PortOutOfService):
            self._out_by_link.add(port)
            self._out_of_service(leg, str(getattr(event, "reason", "")))
        elif isinstance(event, PortInService):
            self._out_by_link.discard(port)
            if leg.leg is Leg.OUT_OF_SERVICE and port not in self.out_by_hand:
                self._back_in_service(port, "line_card")
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
                self.flash.on_flash(port)
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

    def ports_awaiting_digits(self) -> frozenset[int]:
        """Phones whose keys are awaited whatever their state: those with a call-waiting offer
        (its acknowledgement digit). Starting or ending an offer changes call control's state
        count, so the media loop's detector needs follow (``detector_needs.py``)."""
        return frozenset(self.waiting.offers)

    def on_digit(self, port: int, digit: str) -> None:
        self._isolated("digit", port, self._digit, port, digit)

    def _digit(self, port: int, digit: str) -> None:
        if self.waiting.on_digit(port, digit):
            return
        if any(service.on_digit(port, digit) for service in self.attached):
            return
        leg = self.legs[port]
        if not leg.is_fxs or leg.leg not in (Leg.DIALTONE, Leg.DIALING):
            return
        collector = self.control.collectors.get(port)
        if collector is None:
            return
        if leg.leg is Leg.DIALTONE:
            self.control.stop_audio(port)
            self.control.set_state(port, Leg.DIALING)
        self._dial_result(leg, collector.feed(digit))

    def on_tone(self, port: int, tone: str, ongoing: bool) -> None:
        """A call-progress tone recognised on a line (``ongoing``: it has just started)."""
        self._isolated("tone", port, self._tone, port, tone, ongoing)

    def _tone(self, port: int, tone: str, ongoing: bool) -> None:
        leg = self.legs[port]
        if leg.is_fxs or not ongoing:
            return
        if leg.leg is Leg.SEIZING and tone == "dial":
            self.outside.dial_digits(port)
        elif tone in ("busy", "congestion") and leg.leg is Leg.CONNECTED:
            self._line_supervision(leg, DisconnectMethod.BUSY_TONE, f"{tone}_tone")

    def on_caller_id(self, port: int, caller: CallerId) -> None:
        self._isolated("caller_id", port, self._caller_id_heard, port, caller)

    def _caller_id_heard(self, port: int, caller: CallerId) -> None:
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
            self.control.heard_from_line(port)

    # ------------------------------------------------------------------ phones
    def _phone_off_hook(self, leg: PortLeg) -> None:
        if self.flash.on_off_hook(leg.port):
            return
        if leg.leg is Leg.RINGING and leg.call is not None:
            self.control.answer(leg.call, leg.port)
            return
        if leg.leg is not Leg.IDLE:
            return
        if self.control.extension_on(leg.port) is None:
            self.log.warning("offhook_unconfigured_port", port=leg.port)
            self.control.fail(leg.port, "congestion")
            return
        tone = self.plan.dial if self.dial_tone_for is None else self.dial_tone_for(leg.port)
        self.control.dial_tone(leg.port, tone)
        self.log.info("offhook", port=leg.port, extension=self.control.extension_on(leg.port).number)

    def _phone_on_hook(self, leg: PortLeg) -> None:
        self.control.forget_digits(leg.port)
        if self.flash.on_hook(leg.port):
            self.log.info("onhook", port=leg.port)
            return
        call = leg.call
        if call is not None:
            hangup_by = HangupBy.CALLER if call.origin == leg.port else HangupBy.CALLEE
            self.control.end_call(call, hangup_by, "normal_clearing")
        self.control.reset_port(leg.port)
        self.log.info("onhook", port=leg.port)

    def _dial_result(self, leg: PortLeg, result: DialResult) -> None:
        self.control.cancel(leg.port, "digits")
        if result.state is MatchState.COMPLETE:
            self.control.collectors.pop(leg.port, None)
            self._dialled(leg, result)
        elif result.state is MatchState.NO_MATCH:
            self.control.collectors.pop(leg.port, None)
            self.log.info("dial_no_match", port=leg.port, digits=result.digits)
            self.control.fail(leg.port, "congestion")
        elif result.timeout_ms is not None:
            self.control.after(result.timeout_ms / 1000.0, leg.port, "digits")

    def _dialled(self, leg: PortLeg, result: DialResult) -> None:
        extension = self.control.extension_on(leg.port)
        self.log.info("dialled", port=leg.port, digits=result.digits, kind=result.kind or "", number=result.number)
        if result.kind is DialKind.FEATURE and self.features.dialled(leg.port, result):
            return
        call = self.control.new_call(leg.port, Direction.INTERNAL, extension.number, extension.name)
        call.dialled = result.digits
        if result.kind is DialKind.INTERNAL:
            self._call_internal(call, result.number or result.digits)
        elif result.kind in (DialKind.EXTERNAL, DialKind.EMERGENCY):
            call.direction = Direction.OUTBOUND
            self.outside.call(call, extension, result.digits)
        else:
            self.log.info("feature_unavailable", port=leg.port, digits=result.digits, feature=result.name)
            self.control.end_call(call, HangupBy.SYSTEM, "feature_unavailable", Disposition.FAILED)
            self.control.fail(leg.port, "congestion")

    # ------------------------------------------------------------------ internal calls
    def _call_internal(self, call: Call, number: str) -> None:
        call.destination = number
        extension = self.config.extension(number)
        if extension is not None:
            self.features.ring_extension(call, extension)
            return
        queue = next((q for q in self.config.queues if q.number and q.number == number), None)
        if queue is not None:  # an extension dialled a queue's number: the box answers, the queue takes it
            self.control.mark_answered(call)
            self.control.set_state(call.origin, Leg.RINGBACK)
            self.deliver(call, call.origin, Destination(DestinationKind.QUEUE, queue.name))
            return
        targets = self.control.targets_of(number)
        if not targets:
            self.control.caller_fails(call, "congestion", "no_such_number", Disposition.FAILED)
            return
        self._ring_group_or_targets(call, number, targets)

    def _ring_group_or_targets(self, call: Call, number: str, targets: list[int]) -> None:
        """Rings ``targets``; a ring group rings for its own ``ring_s`` (then its no-answer destination)."""
        group = next((g for g in self.config.ring_groups if number in (g.number, g.name)), None)
        if group is None:
            self.control.ring_targets(call, targets)
            return
        call.ring_group = group.name
        self.control.ring_targets(call, targets, ring_s=group.ring_s)

    def dial_out(self, call: Call, digits: str) -> None:
        """The answered phone of a service's call dials out: :meth:`OutsideCalls.dial_for_service`."""
        self.outside.dial_for_service(call, digits)

    def place_call(self, line: int, digits: str) -> Call | None:
        """A service's own call on a line (a campaign): :meth:`OutsideCalls.place`."""
        return self.outside.place(line, digits)

    # ------------------------------------------------------------------ inbound calls
    def _line_rings(self, leg: PortLeg) -> None:
        if leg.leg is Leg.IDLE:
            self.control.set_state(leg.port, Leg.INCOMING)
            self.control.new_call(leg.port, Direction.INBOUND, "", "")
            self.control.count_ring(leg.port)
            heard = self._heard_caller_id.get(leg.port)
            if heard is not None and self.tick - heard[0] <= _ticks(CALLER_ID_MEMORY_S):
                self._answer_line(leg)  # caller ID came before the first ring
            else:
                self.control.after(ANSWER_AFTER_FIRST_RING_S, leg.port, "answer_line")
            self.log.info("line_ringing", port=leg.port)
        elif leg.leg is Leg.INCOMING:
            if self.control.count_ring(leg.port) >= 2:
                self._answer_line(leg)

    def _line_stops_ringing(self, leg: PortLeg) -> None:
        """The exchange stopped ringing before the box answered: the caller gave up."""
        if leg.leg is Leg.INCOMING and leg.call is not None:
            self.control.end_call(leg.call, HangupBy.CALLER, "caller_abandoned", Disposition.NO_ANSWER)
            self.control.reset_port(leg.port)

    def _answer_line(self, leg: PortLeg) -> None:
        self.control.cancel(leg.port, "answer_line")
        call = leg.call
        heard = self._heard_caller_id.pop(leg.port, None)
        if heard is not None:
            caller = heard[1]
            call.caller_number = caller.number or ""
            call.caller_name = caller.name or ""
            call.caller_absence = caller.number_absence.value if caller.number_absence else ""
        self.control.seize(leg.port)
        self.control.set_state(leg.port, Leg.RINGBACK)
        self.control.heard_from_line(leg.port)
        decision = route_inbound(self.config, leg.port, call.caller_number or None, self.control.now())
        call.explanation = decision.explanation
        call.destination = str(decision.destination)
        call.route = decision.route or ""  # a queue reads the route's priority and skills
        self.log.info("route", call=call.call_id, port=leg.port, caller=call.caller_number or "withheld",
                      destination=str(decision.destination), route=decision.route or "none",
                      why="; ".join(decision.explanation[1:]))
        self.deliver(call, leg.port, decision.destination)

    def deliver(self, call: Call, line_port: int, destination: Destination) -> None:
        """Sends an answered inbound call to a destination (a route's, or a queue's overflow)."""
        extension = self.config.extension(destination.name) if destination.kind is DestinationKind.EXTENSION else None
        if extension is not None:
            self.features.ring_extension(call, extension)
        elif destination.kind in (DestinationKind.EXTENSION, DestinationKind.RING_GROUP):
            self._ring_group_or_targets(call, destination.name, self.control.targets_of(destination.name))
        elif destination.kind is DestinationKind.HANGUP:
            self.control.end_call(call, HangupBy.SYSTEM, "route_hangup", Disposition.FAILED)
        elif destination.kind is DestinationKind.OUTSIDE:
            self.send_outside(call, destination.name)
        else:
            service = self.services.get(destination.kind)
            if service is not None and service.take(call, line_port, destination.name):
                return
            self.log.warning("destination_unavailable", call=call.call_id, destination=str(destination),
                             reason="no such service on this box" if service is None else "service refused the call")
            self.control.caller_fails(call, "congestion", "destination_unavailable", Disposition.FAILED)

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
            self.control.mark_answered(call)  # the far end answered (answer supervision)
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
        self.control.end_call(call, hangup_by, cause)

    def check_silence(self, ports: Iterable[int]) -> None:
        """Last resort: a connected line among ``ports`` (the metered lines with the silence-timeout
        supervision: ``detector_needs.py``) that has been silent too long is released."""
        legs = self.legs
        for port in ports:
            leg = legs[port]
            if leg.is_fxs or leg.leg is not Leg.CONNECTED or leg.call is None:
                continue
            self._isolated("silence_check", leg.port, self._check_silence_of, leg)

    def _check_silence_of(self, leg: PortLeg) -> None:
        config = self.config.line(leg.port)
        if config is None or DisconnectMethod.SILENCE_TIMEOUT not in config.disconnect:
            return
        if self.tick - leg.last_heard_tick >= _ticks(config.silence_timeout_s):
            self.log.info("far_end_disconnect", call=leg.call.call_id, line=leg.port, method="silence_timeout")
            hangup_by = HangupBy.CALLER if leg.call.origin == leg.port else HangupBy.CALLEE
            self.control.end_call(leg.call, hangup_by, "silence_timeout")

    # ------------------------------------------------------------------ timers
    def _on_timer(self, port: int, name: str) -> None:
        leg = self.legs[port]
        if name == "digits":
            collector = self.control.collectors.get(port)
            if collector is not None and leg.leg in (Leg.DIALTONE, Leg.DIALING):
                self._dial_result(leg, collector.expire())
        elif name == "failed_tone" and leg.leg is Leg.FAILED:
            self.control.stop_audio(port)
        elif name == "no_answer" and leg.call is not None and leg.call.answer_tick is None:
            self._no_answer(leg.call)
        elif name == "answer_line" and leg.leg is Leg.INCOMING:
            self._answer_line(leg)
        elif name == "dial_tone_wait" and leg.leg is Leg.SEIZING:
            self.log.info("no_dial_tone", line=port, action="blind_dial")
            self.outside.dial_digits(port)
        elif name == "dialled_out" and leg.leg is Leg.DIALING_OUT:
            self.outside.digits_sent(port)
        elif name == "send_fsk":
            self.control.send_pending_caller_id(port)
        elif name == "start_ring":
            self.control.start_ring(port)
        elif name == "release_line" and leg.leg is Leg.FAILED and not leg.is_fxs:
            self.control.release_line(port)  # (scenario fix) see CallControl.caller_fails

    def _no_answer(self, call: Call) -> None:
        """Nobody answered in time: an inbound call to a ring group goes to the group's
        no-answer destination; anything else ends with busy (phone) or a released line."""
        group = self.config.ring_group(call.ring_group) if call.ring_group else None
        if (group is not None and group.no_answer.kind is not DestinationKind.HANGUP
                and not self.legs[call.origin].is_fxs):
            for port in list(call.ringing):
                self.control.stop_ringing(port)
            call.ringing = []
            call.ring_group = ""
            self.log.info("ring_group_no_answer", call=call.call_id, group=group.name,
                          destination=str(group.no_answer))
            self.deliver(call, call.origin, group.no_answer)
            return
        self.control.caller_fails(call, "busy", "no_answer", Disposition.NO_ANSWER)

    # ------------------------------------------------------------------ ports
    def _out_of_service(self, leg: PortLeg, reason: str) -> None:
        self.flash.port_lost(leg.port)
        if leg.call is not None:
            self.control.end_call(leg.call, HangupBy.SYSTEM, "out_of_service", None)
        self.control.reset_port(leg.port, Leg.OUT_OF_SERVICE)
        self.log.warning("port_out_of_service", port=leg.port, reason=reason)

    def _back_in_service(self, port: int, reason: str) -> None:
        """The port is in service again. Its hook is read again from the line card (events
        were not followed while it was out): a phone still off hook is not idle -- it hears
        congestion until it hangs up, and an agent there stays busy for the queues."""
        off_hook = self.control.is_fxs(port) and self.control.read_hook(port)
        if off_hook:
            self.control.fail(port, "congestion")
        else:
            self.control.set_state(port, Leg.IDLE)
        self.log.info("port_in_service", port=port, reason=reason, hook="off" if off_hook else "on")

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
            self._back_in_service(port, reason)

    def snapshot(self) -> list[dict]:
        """Ports and their calls, for the console and scenario reports."""
        return [
            {"port": leg.port, "type": "fxs" if leg.is_fxs else "fxo", "state": str(leg.leg),
             "call": leg.call.call_id if leg.call else None, "tone": self.control.tone(leg.port)}
            for leg in self.legs
        ]
