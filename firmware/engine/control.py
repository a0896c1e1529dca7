"""Call control: the one owner of the ports' legs, the calls, the engine's timers, the
players, the mixer and the line card, behind a small public surface.

Everything that drives calls -- the switch's event handlers, the extension features
(``flash.py``, ``callwaiting.py``, ``features.py``), outside calls (``outside.py``) and the
call services (the ACD, voicemail; next the IVR and campaigns) -- does it through
:class:`CallControl`'s methods; none of them touches a leg, the mixer or the players
directly. Services type against :class:`CallControlApi` (a ``typing.Protocol``) so a test
can hand them a fake.

The surface (docs/ARCHITECTURE.md, "Call control"):

- time: ``tick``, ``now()``, ``epoch(tick)``, ``after(seconds, port, name)`` (a timer the
  switch dispatches), ``cancel(port, name)``;
- lookups: ``state(port)``, ``call_at(port)``, ``is_fxs(port)``, ``off_hook(port)``,
  ``extension_on(port)``, ``calls``, ``uniqueid(call)``, ``playing(port)``, ``tone(port)``;
- states: ``set_state(port, state, call=...)`` through the transition table
  (``states.py``: an illegal change is a FirmwareError naming the port and both states);
- calls: ``new_call``, ``answer``, ``end_call``, ``fail`` (a phone hears busy or
  congestion until it hangs up), ``caller_fails``, ``reset_port``, ``release_line``;
- ringing: ``can_ring``, ``ring_targets`` (ringback to the caller, a no-answer timer),
  ``ring`` (one phone, with caller ID), ``stop_ringing``, ``targets_of``;
- media: ``play_tone``, ``play``, ``stop_audio``, ``hear_player``, ``hear_nothing``,
  ``bridge``, ``conference``, ``isolate``, ``say`` (a prompt, then what next: one
  implementation of "say this, then wait for on-hook");
- routing: ``deliver`` and ``dial_out`` (the switch's, installed with ``set_router``),
  ``register_service``, ``attach`` (services that follow ticks, digits, answers, call ends),
  ``add_feature_codes``;
- listeners: ``on_before_end``, ``on_ringing_stopped``, ``on_line_released``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Protocol

import numpy as np

from drivers import DriverError
from drivers.audio import TICK_MS
from drivers.logs import EventLogger
from dsp.callerid import CallerId, displayed_caller_id, encode_caller_id
from dsp.callerid_dtmf import dtmf_callerid_digits
from dsp.callerid_sequence import callerid_sequence, sequence_audio
from dsp.toneplans import TonePlan, ToneSpec
from firmware import FirmwareError
from firmware.cdr import CallRecord, Disposition, HangupBy, make_uniqueid
from firmware.config.model import CallerIdStandard, Config, Destination, DestinationKind, Extension
from firmware.dialplan import DigitCollector
from firmware.engine.calls import Call, Direction, Leg, PortLeg
from firmware.engine.services import AttachedService, CallService
from firmware.engine.states import check_transition
from firmware.engine.timers import Timers
from firmware.engine.wallclock import WallClock
from firmware.media.mixer import Mixer
from firmware.media.players import PlayerBank

RING_NO_ANSWER_S = 60  # an unanswered internal or inbound call gives up after a minute
FAILED_TONE_S = 30  # busy/congestion to a phone left off-hook, then silence
LINE_FAILED_TONE_S = 4  # a caller on a line who cannot be put through hears busy/congestion this long
FSK_AFTER_RING_MS = 500  # GR-30-CORE: at least 500 ms after the first ring ends
PORT_TIMERS = ("digits", "failed_tone", "no_answer", "answer_line", "dial_tone_wait", "dialled_out", "release_line")


def ticks(seconds: float) -> int:
    """Whole ticks of the audio clock in ``seconds`` (at least one)."""
    return max(1, round(seconds * 1000 / TICK_MS))


class CardCommands(Protocol):
    """What call control asks of the line card (``drivers.ports.LineCard``)."""

    def ring(self, port: int, cadence_ms=None) -> None: ...
    def stop_ring(self, port: int) -> None: ...
    def can_send_on_hook(self) -> bool:
        """Whether the line card can send audio to an on-hook phone (message waiting's FSK)."""
        return getattr(self.card, "oht_window", None) is not None

    def on_hook_transmission(self, port: int, ms: int) -> None:
        """Battery on, no ringing, for ``ms``: on-hook audio can reach the phone (``LineCard.oht_window``)."""
        self.card.oht_window(port, ms)  # type: ignore[attr-defined]

    def seize(self, port: int) -> None: ...
    def release(self, port: int) -> None: ...
    def pulse_dial(self, port: int, digits: str) -> None: ...


class Then(StrEnum):
    """What follows a prompt (:meth:`CallControl.say`)."""

    WAIT_ON_HOOK = "wait_on_hook"  # nothing more to do: the phone hears the prompt, then silence until on-hook
    DIGITS = "digits"  # digits go to the attached services (a menu, an agent's entry) while it plays
    CONTINUE = "continue"  # the state is the caller's business (a queue caller, a voicemail caller)


class Router(Protocol):
    """The switch's routing, installed in call control (``set_router``)."""

    def deliver(self, call: Call, line_port: int, destination: Destination) -> None: ...
    def dial_out(self, call: Call, digits: str) -> None: ...
    def place_call(self, line: int, digits: str) -> Call | None: ...


_KEEP = object()  # set_state: leave the port's call as it is


class CallControlApi(Protocol):
    """What a call service needs of the engine (the ACD, voicemail): the typed surface
    services are written against; :class:`CallControl` implements it, tests fake it."""

    tick: int
    changes: int  # bumped by every change of a port's state or call (observers skip a tick without one)
    config: Config
    plan: TonePlan
    origin: dt.datetime
    dial_tone_for: Callable[[int], ToneSpec] | None
    attached: list[AttachedService]

    def now(self) -> dt.datetime: ...
    def epoch(self, tick: int) -> float:
        """Epoch seconds at which ``tick`` happened (the wall clock anchored at the loop's edge)."""
        ...
    def state(self, port: int) -> Leg: ...
    def call_at(self, port: int) -> Call | None: ...
    def uniqueid(self, call: Call) -> str: ...
    def set_state(self, port: int, state: Leg, call: object = _KEEP) -> None: ...
    def answer_line(self, call: Call, port: int) -> None: ...
    def mark_answered(self, call: Call) -> None: ...
    def ring(self, call: Call, port: int, caller: CallerId) -> bool: ...
    def stop_ring_for(self, call: Call, port: int) -> None: ...
    def ring_from_service(self, port: int, caller: CallerId) -> Call | None: ...
    def end_service_call(self, call: Call, cause: str) -> None: ...
    def new_call(self, origin: int, direction: Direction, number: str, name: str) -> Call: ...
    def is_fxs(self, port: int) -> bool: ...
    def deliver(self, call: Call, line_port: int, destination: Destination) -> None: ...
    def dial_out(self, call: Call, digits: str) -> None: ...
    def place_call(self, line: int, digits: str) -> Call | None: ...
    def play(self, port: int, samples: np.ndarray, loop: bool = False) -> None: ...
    def play_tone(self, port: int, tone: ToneSpec) -> None: ...
    def stop_audio(self, port: int) -> None: ...
    def playing(self, port: int) -> bool: ...
    def hear_nothing(self, port: int) -> None: ...
    def hear_player(self, port: int) -> None: ...
    def can_send_on_hook(self) -> bool: ...
    def on_hook_transmission(self, port: int, ms: int) -> None: ...
    def bridge(self, a: int, b: int) -> None: ...
    def isolate(self, port: int) -> None: ...
    def say(self, port: int, samples: np.ndarray, then: Then = Then.WAIT_ON_HOOK) -> None: ...
    def register_service(self, kind: DestinationKind, service: CallService) -> None: ...
    def attach(self, service: AttachedService) -> None: ...
    def add_feature_codes(self, codes: Mapping[str, Callable]) -> None: ...


class CallControl:
    """Legs, calls, timers, players, mixer and card of one box (see module docstring)."""

    def __init__(self, config: Config, port_is_fxs: list[bool], plan: TonePlan, card: CardCommands,
                 players: PlayerBank, mixer: Mixer, record_call: Callable[[CallRecord], None],
                 origin: dt.datetime, log: EventLogger, clock: WallClock | None = None, boot: int = 0) -> None:
        if origin.tzinfo is None:
            raise ValueError("origin must be an aware datetime")
        # Bumped by every change of a port's state or call, a call's end and the configuration:
        # the media loop recomputes which detectors run (``detector_needs.py``) only when it
        # moved, and the manager's channel observer walks the ports only then.
        self.changes = 0
        self._config = config
        self.plan = plan
        self.card = card
        self.players = players
        self.mixer = mixer
        self.record_call = record_call
        self.origin = origin
        # Wall time of a tick, anchored at the media loop's edge (wallclock.py); ``boot``: this
        # start's number, in every uniqueid (firmware.cdr.make_uniqueid).
        self.clock = clock or WallClock(origin)
        self.boot = boot
        self.log = log
        self.legs = [PortLeg(port, is_fxs) for port, is_fxs in enumerate(port_is_fxs)]
        self.timers = Timers()
        self.tick = 0
        self.calls: dict[int, Call] = {}
        self._next_call_id = 1
        self.collectors: dict[int, DigitCollector] = {}
        self._pending_fsk: dict[int, np.ndarray] = {}  # FXS port -> caller ID audio for its first ring pause
        self.services: dict[DestinationKind, CallService] = {}  # IVR, queue, voicemail (services.py)
        self.attached: list[AttachedService] = []
        self.feature_codes: dict[str, Callable] = {}  # codes handled by services (agents, voicemail)
        # The tone an extension hears off-hook (message waiting sets it for the stutter dial tone).
        self.dial_tone_for: Callable[[int], ToneSpec] | None = None
        self._router: Router | None = None
        self._before_end: list[Callable[[Call], None]] = []
        self._answered: list[Callable[[Call], None]] = []
        self._ringing_stopped: list[Callable[[int], None]] = []
        self._line_released: list[Callable[[int], None]] = []
        self.faults = 0  # listener exceptions caught while ending calls (added to the switch's count)

    @property
    def config(self) -> Config:
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        self._config = config
        self.changes += 1

    # ------------------------------------------------------------------ wiring
    def set_router(self, router: Router) -> None:
        self._router = router

    def on_before_end(self, listener: Callable[[Call], None]) -> None:
        """``listener(call)`` runs as a call ends, before its ports are touched."""
        self._before_end.append(listener)

    def on_answered(self, listener: Callable[[Call], None]) -> None:
        """``listener(call)`` runs each time a call is answered (``mark_answered``), however it was."""
        self._answered.append(listener)

    def on_ringing_stopped(self, listener: Callable[[int], None]) -> None:
        self._ringing_stopped.append(listener)

    def on_line_released(self, listener: Callable[[int], None]) -> None:
        self._line_released.append(listener)

    def register_service(self, kind: DestinationKind, service: CallService) -> None:
        self.services[kind] = service

    def attach(self, service: AttachedService) -> None:
        self.attached.append(service)

    def add_feature_codes(self, codes: Mapping[str, Callable]) -> None:
        self.feature_codes.update(codes)

    # ------------------------------------------------------------------ time
    def now(self) -> dt.datetime:
        return self.clock.datetime(self.tick)

    def epoch(self, tick: int) -> float:
        return self.clock.wall_time(tick)

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
        self.clock.advance(delta)

    def after(self, seconds: float, port: int, name: str) -> None:
        """The switch's timer ``name`` for ``port`` fires in ``seconds`` (replacing one pending)."""
        self.timers.schedule(self.tick + ticks(seconds), (port, name))

    def cancel(self, port: int, name: str) -> None:
        self.timers.cancel((port, name))

    # ------------------------------------------------------------------ lookups
    def _leg(self, port: int) -> PortLeg:
        if not isinstance(port, int) or not 0 <= port < len(self.legs):
            raise FirmwareError(f"port {port!r} does not exist (ports 0-{len(self.legs) - 1})")
        return self.legs[port]

    def state(self, port: int) -> Leg:
        return self._leg(port).leg

    def call_at(self, port: int) -> Call | None:
        return self._leg(port).call

    def is_fxs(self, port: int) -> bool:
        return self._leg(port).is_fxs

    def off_hook(self, port: int) -> bool:
        return self._leg(port).off_hook

    def extension_on(self, port: int) -> Extension | None:
        return self.config.extension_on_port(port)

    def uniqueid(self, call: Call) -> str:
        """The call record's uniqueid of ``call``: start epoch seconds . boot . call id."""
        return make_uniqueid(self.epoch(call.start_tick), self.boot, call.call_id)

    def playing(self, port: int) -> bool:
        return self.players.busy(port)

    def tone(self, port: int) -> str | None:
        return self.players.tone(port)

    # ------------------------------------------------------------------ states
    def set_state(self, port: int, state: Leg, call: object = _KEEP) -> None:
        """Moves ``port`` to ``state`` through the transition table (``states.py``); ``call``
        (a Call or None) replaces the port's call when given."""
        leg = self._leg(port)
        check_transition(port, leg.leg, state, leg.is_fxs, leg.off_hook)
        leg.leg = state
        if call is not _KEEP:
            leg.call = call  # type: ignore[assignment]
        self.changes += 1

    def set_call(self, port: int, call: Call | None) -> None:
        """The port now belongs to ``call`` (a flash session moving a phone between its calls)."""
        self._leg(port).call = call
        self.changes += 1

    def heard_from_line(self, port: int) -> None:
        """Audio (or what stands for it: hold music) from a line this tick: not silent."""
        self._leg(port).last_heard_tick = self.tick

    def count_ring(self, port: int) -> int:
        """One more ring burst on line ``port`` for its incoming call: the count so far."""
        leg = self._leg(port)
        leg.rings += 1
        return leg.rings

    def read_hook(self, port: int) -> bool:
        """The phone's hook as the line card has it now (``LineCard.off_hook``: the host-side
        state of the card's hook reports, followed whatever the port's service state); a card
        without that query: the last hook event seen here. The leg follows it."""
        query = getattr(self.card, "off_hook", None)
        off_hook = bool(query(port)) if query is not None else self._leg(port).off_hook
        self._leg(port).off_hook = off_hook
        return off_hook

    def hook_changed(self, port: int, off_hook: bool) -> None:
        """The line card reported the phone's hook (followed even out of service)."""
        self._leg(port).off_hook = off_hook

    # ------------------------------------------------------------------ media
    def play_tone(self, port: int, tone: ToneSpec) -> None:
        """``port`` hears ``tone`` (and nothing else it heard from its player before)."""
        self.players.play_tone(port, tone)
        self.mixer.listen_player(port, port)

    def play(self, port: int, samples: np.ndarray, loop: bool = False) -> None:
        """``port`` hears ``samples`` (looped: hold music)."""
        self.players.play_samples(port, samples, loop=loop)
        self.mixer.listen_player(port, port)

    def stop_audio(self, port: int) -> None:
        self.players.stop(port)

    def hear_player(self, port: int) -> None:
        self.mixer.listen_player(port, port)

    def hear_nothing(self, port: int) -> None:
        """``port`` no longer hears its player (its bridge, if any, stays)."""
        self.mixer.stop_listening(port)

    def bridge(self, a: int, b: int) -> None:
        self.mixer.bridge(a, b)

    def conference(self, ports: list[int]) -> None:
        self.mixer.conference(ports)

    def isolate(self, port: int) -> None:
        """``port`` hears nobody and nobody hears it (its player stays)."""
        self.mixer.isolate(port)

    def say(self, port: int, samples: np.ndarray, then: Then = Then.WAIT_ON_HOOK) -> None:
        """``port`` hears a prompt; then (``WAIT_ON_HOOK``) silence until the phone hangs up --
        the one implementation of "say this, then wait for on-hook" -- or (``DIGITS``) its digits
        go to the attached services, or (``CONTINUE``) the state stays the caller's."""
        if then is Then.WAIT_ON_HOOK:
            self.cancel(port, "digits")
            self.collectors.pop(port, None)
            self.set_state(port, Leg.FAILED, call=None)
        elif then is Then.DIGITS:
            self.set_state(port, Leg.DIALING, call=None)
        self.players.play_samples(port, samples)
        self.mixer.stop_listening(port)
        self.mixer.listen_player(port, port)

    # ------------------------------------------------------------------ dialling
    def dial_tone(self, port: int, tone: ToneSpec) -> None:
        """The phone on ``port`` hears ``tone`` and its digits go to a new dial-plan collector."""
        self.set_state(port, Leg.DIALTONE, call=None)
        self.play_tone(port, tone)
        collector = self.config.dial_plan().start()
        self.collectors[port] = collector
        self.after(collector.last.timeout_ms / 1000.0, port, "digits")

    def forget_digits(self, port: int) -> None:
        """Digits of ``port`` are no longer collected (and its failed tone no longer timed)."""
        self.collectors.pop(port, None)
        self.cancel(port, "digits")
        self.cancel(port, "failed_tone")

    # ------------------------------------------------------------------ calls
    def new_call(self, origin: int, direction: Direction, number: str, name: str) -> Call:
        call = Call(self._next_call_id, origin, direction, self.tick, caller_number=number, caller_name=name)
        self._next_call_id += 1
        self.calls[call.call_id] = call
        self._leg(origin).call = call
        self.changes += 1
        return call

    def fail(self, port: int, tone: str) -> None:
        """A phone hears busy or congestion until it hangs up (then silence, for a while)."""
        self.set_state(port, Leg.FAILED, call=None)
        self.players.play_tone(port, self.plan.busy if tone == "busy" else self.plan.congestion)
        self.mixer.stop_listening(port)
        self.mixer.listen_player(port, port)
        self.after(FAILED_TONE_S, port, "failed_tone")

    def caller_fails(self, call: Call, tone: str, cause: str, disposition: Disposition) -> None:
        """The call cannot be put through: it ends, its caller hears ``tone`` (a line: for a while,
        then the line is released)."""
        origin = self._leg(call.origin)
        if not origin.is_fxs:
            # (scenario fix) the line was seized and released in the same tick, so the exchange
            # never saw an answer: the caller kept hearing ringing while the box took the line
            # for idle (an outbound call would then seize it and answer that caller: glare).
            # Now the caller hears the tone for a while, then the line is released.
            origin.call = None  # end_call leaves it to us
            self.end_call(call, HangupBy.SYSTEM, cause, disposition)
            self.fail(origin.port, tone)
            self.after(LINE_FAILED_TONE_S, origin.port, "release_line")
            return
        self.end_call(call, HangupBy.SYSTEM, cause, disposition)
        if origin.off_hook:
            self.fail(origin.port, tone)

    def end_service_call(self, call: Call, cause: str) -> None:
        """Ends a call on a service's behalf (the box hangs up); the call record names ``cause``."""
        self.end_call(call, HangupBy.SYSTEM, cause)

    def end_call(self, call: Call, hangup_by: HangupBy, cause: str, disposition: Disposition | None = None) -> None:
        """Ends ``call``: listeners first, then each of its ports (ringing stops, a line is
        released, a phone still off hook hears busy, one on hook is idle), then its record."""
        if call.end_tick is not None:
            return
        for listener in [*self._before_end, *(service.before_end for service in self.attached)]:
            try:
                listener(call)
            except Exception as exc:  # noqa: BLE001 -- the fault boundary: the call still ends, below
                self.faults += 1
                self.log.exception("internal_error", where="before_end", call=call.call_id, port=call.origin,
                                   error=f"{type(exc).__name__}: {exc}")
        call.end_tick = self.tick
        call.hangup_cause = cause
        call.hangup_by = hangup_by
        self.changes += 1  # a call ended (observers that skip steady ticks must see it)
        if disposition is None:
            disposition = Disposition.ANSWERED if call.answer_tick is not None else Disposition.NO_ANSWER
        call.disposition = disposition
        self.cancel(call.origin, "no_answer")
        for port in call.ports():
            leg = self.legs[port]
            if leg.call is not call:
                continue
            if leg.leg is Leg.RINGING:
                self.stop_ringing(port)
            elif not leg.is_fxs:
                self.release_line(port)
            elif leg.leg in (Leg.CONNECTED, Leg.RINGBACK):
                if leg.off_hook:
                    self.fail(port, "busy")  # the other side hung up: busy tone until on-hook
                else:
                    self.reset_port(port)  # this phone hung up (its on-hook ends the call)
            self.mixer.isolate(port)
            if leg.leg is Leg.FAILED:
                self.mixer.listen_player(port, port)
        del self.calls[call.call_id]
        self.record_call(self.record(call))
        self.log.info("call_end", call=call.call_id, cause=cause, disposition=disposition, hangup_by=hangup_by,
                      seconds=round((call.end_tick - call.start_tick) * TICK_MS / 1000.0, 2))

    def record(self, call: Call) -> CallRecord:
        """The record of ``call``; one in progress reads as if the system ended it now (cdr journal)."""
        origin_extension = self.extension_on(call.origin)
        peer_extension = self.extension_on(call.peer) if call.peer is not None else None
        return CallRecord(
            uniqueid=self.uniqueid(call),
            start=self.epoch(call.start_tick),
            end=self.epoch(self.tick if call.end_tick is None else call.end_tick),
            answer=None if call.answer_tick is None else self.epoch(call.answer_tick),
            disposition=Disposition(call.disposition or (Disposition.NO_ANSWER if call.answer_tick is None
                                                         else Disposition.ANSWERED)),
            hangup_by=HangupBy(call.hangup_by or HangupBy.SYSTEM),
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

    def answer(self, call: Call, port: int) -> None:
        """The phone on ``port`` answers ``call``: other phones stop ringing, the two are bridged."""
        for other in call.ringing:
            if other != port:
                self.stop_ringing(other)
        self.stop_ringing(port, keep_call=True)
        call.ringing = []
        call.peer = port
        self.mark_answered(call)
        self.cancel(call.origin, "no_answer")
        for each in (call.origin, port):
            self.players.stop(each)
            self.mixer.stop_listening(each)
            self.set_state(each, Leg.CONNECTED, call=call)
        if call.origin != port:  # a service's call rung at its origin (ACD callback) has nobody yet
            self.mixer.bridge(call.origin, port)
        self.log.info("answered", call=call.call_id, port=port, origin=call.origin)
        for service in self.attached:
            service.answered(call, port)  # e.g. the ACD whispers to the agent before the bridge

    def mark_answered(self, call: Call) -> None:
        """``call`` is answered now -- by a phone (``answer``), the far end (polarity reversal, the
        end of dialling out), the box for a service (``answer_line``, a queue dialled from an
        extension) or an attended transfer: the one place an answer is set, and the listeners
        (``on_answered``: the call journal) hear of it."""
        call.answer_tick = self.tick
        for listener in self._answered:
            listener(call)

    def clear_answer(self, call: Call) -> None:
        """``call`` is not answered any more (a service's answered call dialling out again: its
        answer is the far end's, to come)."""
        call.answer_tick = None

    def answer_line(self, call: Call, port: int) -> None:
        """A service answers the caller on line ``port`` itself (voicemail): connected to the box,
        so busy-tone and silence supervision of the line apply; the call counts as answered."""
        if call.answer_tick is None:
            self.mark_answered(call)
        self.set_state(port, Leg.CONNECTED)
        self.mixer.isolate(port)

    def reset_port(self, port: int, state: Leg = Leg.IDLE) -> None:
        """The port has nothing to do: silence, no timers, no call; ``state`` idle (or out of service)."""
        leg = self._leg(port)
        self.players.stop(port)
        self.mixer.isolate(port)
        self.mixer.stop_listening(port)
        for name in PORT_TIMERS:
            self.cancel(port, name)
        if leg.leg is not Leg.OUT_OF_SERVICE or state is Leg.OUT_OF_SERVICE:
            self.set_state(port, state)
        leg.call = None
        leg.rings = 0
        self.changes += 1

    def release_line(self, port: int) -> None:
        """The box hangs the line on ``port`` up."""
        for listener in self._line_released:
            listener(port)
        try:
            self.card.release(port)
        except DriverError as exc:
            self.log.error("release_failed", port=port, error=str(exc))
        self.reset_port(port)

    def can_send_on_hook(self) -> bool:
        """Whether the line card can send audio to an on-hook phone (message waiting's FSK)."""
        return getattr(self.card, "oht_window", None) is not None

    def on_hook_transmission(self, port: int, ms: int) -> None:
        """Battery on, no ringing, for ``ms``: on-hook audio can reach the phone (``LineCard.oht_window``)."""
        self.card.oht_window(port, ms)  # type: ignore[attr-defined]

    def seize(self, port: int) -> None:
        self.card.seize(port)

    def pulse_dial(self, port: int, digits: str) -> None:
        self.card.pulse_dial(port, digits)

    # ------------------------------------------------------------------ routing (the switch's)
    def deliver(self, call: Call, line_port: int, destination: Destination) -> None:
        """Sends an answered inbound call to a destination (a route's, or a queue's overflow)."""
        if self._router is None:
            raise FirmwareError("call control has no router (the switch installs it)")
        self._router.deliver(call, line_port, destination)

    def dial_out(self, call: Call, digits: str) -> None:
        """The answered phone of a service's call dials ``digits`` on a line (toll guard applies)."""
        if self._router is None:
            raise FirmwareError("call control has no router (the switch installs it)")
        self._router.dial_out(call, digits)

    def place_call(self, line: int, digits: str) -> Call | None:
        """A service's own call on exchange line ``line`` (an outbound campaign): seized, dialled
        after the dial tone, then connected to the box unanswered; the service listens to the
        line (a frame tap), sets the answer (``mark_answered``) and ends it. None: not free."""
        if self._router is None:
            raise FirmwareError("call control has no router (the switch installs it)")
        return self._router.place_call(line, digits)

    # ------------------------------------------------------------------ ringing
    def can_ring(self, port: int) -> bool:
        leg = self._leg(port)
        extension = self.extension_on(port)
        return (leg.is_fxs and leg.leg is Leg.IDLE and not leg.off_hook and extension is not None
                and not extension.dnd)

    def targets_of(self, number: str) -> list[int]:
        """The ports an internal number rings: an extension's, or a ring group's members'."""
        extension = self.config.extension(number)
        if extension is not None:
            return [extension.port]
        for group in self.config.ring_groups:
            if group.number == number or group.name == number:
                members = [self.config.extension(member) for member in group.members]
                return [member.port for member in members if member is not None]
        return []

    def ring_targets(self, call: Call, targets: list[int], ring_s: float = RING_NO_ANSWER_S) -> None:
        """Rings the free ones of ``targets`` for ``call``; its caller hears ringback until an
        answer or ``ring_s`` (the switch's ``no_answer`` timer). None free: busy."""
        free = [port for port in targets if self.can_ring(port)]
        if not free:
            self.caller_fails(call, "busy", "user_busy", Disposition.BUSY)
            return
        caller = self.caller_id_of(call)
        for port in free:
            self.set_state(port, Leg.RINGING, call=call)
            call.ringing.append(port)
            self.ring_with_caller_id(port, caller)
        self.set_state(call.origin, Leg.RINGBACK)
        self.play_tone(call.origin, self.plan.ringback)
        self.after(ring_s, call.origin, "no_answer")
        self.log.info("ringing", call=call.call_id, ports=",".join(map(str, free)), caller=call.caller_number)

    def caller_id_of(self, call: Call) -> CallerId:
        """What the rung phone displays: the number, or why there is none (GR-30 'O'/'P');
        total: whatever the call holds, it is shown as well as it can be, never an error."""
        return displayed_caller_id(call.caller_number, call.caller_name, call.caller_absence,
                                   self.now().strftime("%m%d%H%M"))

    def ring(self, call: Call, port: int, caller: CallerId) -> bool:
        """Rings ``port`` for ``call`` showing ``caller`` (the caller's side is the asker's:
        an ACD offer, a recall). False if the phone cannot ring now."""
        if not self.can_ring(port):
            return False
        self.set_state(port, Leg.RINGING, call=call)
        if port not in call.ringing:
            call.ringing.append(port)
        self.ring_with_caller_id(port, caller)
        return True

    def stop_ring_for(self, call: Call, port: int) -> None:
        """Stops ringing ``port`` for ``call`` (the offer timed out or was withdrawn)."""
        if port in call.ringing and self.legs[port].call is call:
            call.ringing.remove(port)
            self.stop_ringing(port)

    def ring_from_service(self, port: int, caller: CallerId) -> Call | None:
        """Rings ``port`` for a call a service starts itself (an ACD callback: the agent's phone
        first, then ``dial_out``); the phone is the call's origin. None if it cannot ring now."""
        if not self.can_ring(port):
            return None
        call = self.new_call(port, Direction.OUTBOUND, caller.number or "", caller.name or "")
        self.ring(call, port, caller)
        return call

    def ring_with_caller_id(self, port: int, caller: CallerId) -> None:
        """Rings ``port`` and sends caller ID as the zone's standard wants it."""
        standard = self.config.effective_caller_id_standard()
        cadence = self.plan.ring_cadence_ms
        if standard is CallerIdStandard.DTMF:
            # DTMF caller ID goes before the first ring (ETSI EN 300 659-1 annex B).
            segments = callerid_sequence("dtmf", dtmf_callerid_digits(caller), ring=False)
            audio = sequence_audio(segments)
            self.play(port, audio)
            self.timers.schedule(self.tick + ticks(len(audio) / 8000.0), (port, "start_ring"))
            return
        self.card.ring(port, cadence)
        # FSK in the first silent interval: Bell 202 (GR-30-CORE) or V.23 after the first ring.
        message = encode_caller_id(caller, "mdmf")
        fsk = "bell202" if standard is CallerIdStandard.BELL202 else "v23"
        variant = "type1" if fsk == "bell202" else "after_ring"
        segments = callerid_sequence(fsk, message, variant, ring=False)
        self._pending_fsk[port] = segments[-1].samples
        self.timers.schedule(self.tick + ticks((cadence[0] + FSK_AFTER_RING_MS) / 1000.0), (port, "send_fsk"))

    def send_pending_caller_id(self, port: int) -> None:
        """The first ring is over: the caller ID audio kept for it goes out (timer ``send_fsk``)."""
        samples = self._pending_fsk.pop(port, None)
        if samples is not None and self.legs[port].leg is Leg.RINGING:
            self.play(port, samples)

    def start_ring(self, port: int) -> None:
        """DTMF caller ID is out: the ringing starts (timer ``start_ring``)."""
        if self.legs[port].leg is Leg.RINGING:
            self.card.ring(port, self.plan.ring_cadence_ms)

    def stop_ringing(self, port: int, keep_call: bool = False) -> None:
        for listener in self._ringing_stopped:
            listener(port)
        self.card.stop_ring(port)
        self.players.stop(port)
        self.cancel(port, "send_fsk")
        self.cancel(port, "start_ring")
        self._pending_fsk.pop(port, None)
        if not keep_call:
            self.set_state(port, Leg.IDLE, call=None)

    def force_end(self, call: Call | None, ports: list[int]) -> None:
        """Last resort after a failed clean ending (the fault boundary): the call is recorded
        and its ports silenced, without listeners or the transition table."""
        if call is not None and call.call_id in self.calls:
            del self.calls[call.call_id]
            if call.end_tick is None:
                call.end_tick, call.hangup_cause, call.hangup_by = self.tick, "internal_error", HangupBy.SYSTEM
                call.disposition = Disposition.FAILED
            try:
                self.record_call(self.record(call))
            except Exception:  # noqa: BLE001 -- the record could not be built: say so, go on
                self.log.exception("internal_error_record_lost", call=call.call_id)
        for port in ports:
            leg = self.legs[port]
            self.players.stop(port)
            self.mixer.isolate(port)
            self.mixer.stop_listening(port)
            if leg.leg is not Leg.OUT_OF_SERVICE:
                leg.leg = Leg.FAILED if leg.is_fxs and leg.off_hook else Leg.IDLE
            leg.call = None
        self.changes += 1

    # ------------------------------------------------------------------ snapshots
    def bridged_pairs(self) -> list[tuple[int, int]]:
        return list(self.mixer.bridged_pairs())
