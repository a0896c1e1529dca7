"""The line card as the firmware sees it: typed port events and port commands.

:class:`LineCard` wraps a link to the card (``drivers/link.py``; anything with the small
:class:`CardLink` interface, so tests can feed it events directly). Commands are methods
(``ring``, ``seize``, ``pulse_dial`` ...) checked against the board's port map before they
are queued on the link; ``poll()`` returns, without blocking, the typed events since the
last call; ``wait_acked(timeout_s)`` waits until the card has applied every command sent.

Qualification happens here, on the host, against the zone's timing table
(``drivers/timing.py``); the card measures and runs the timers that need a clock:

- FXS hook: the card reports off-hook, on-hook (a break longer than ``flash_max_ms``: a
  hang-up), flashes with their measured length, and pulse digits. A flash shorter than the
  zone's ``flash_min_ms`` is a hit on the line and is ignored; a longer one than
  ``flash_max_ms`` (card configured differently) is a hang-up followed by a new off-hook.
- FXO ring: the card reports each burst (its length, the silence before it) and the end of
  a ring train. A burst shorter than ``min_ring_ms`` is ignored (debounce). The first real
  burst gives :class:`RingStart` as soon as it has lasted ``min_ring_ms`` (the card's
  ``fxo_ring_held``, protocol 1.1; so the line does not look free for the rest of the
  burst, a glare window for an outgoing seizure; from a 1.0 card: at the burst's end);
  :class:`RingQualified` follows once the
  measured on/off durations match one of the zone's cadence families over a whole period,
  within ``cadence_tolerance_pct``; the end of the train gives :class:`RingStop`.
- Loop-current drops shorter than ``cpc_min_ms`` are ignored.

Link state: ports start out of service and get :class:`PortInService` when the link comes
up (every port, once the handshake completes). A link outage (card silent, device lost) is
first **held**: for up to ``hold_s`` (``LinkConfig.hold_s``, on the link's clock) the ports
stay in service and the firmware sees nothing, because the card keeps the analog state of
its lines (a call stays connected through a host-side blip). When the link comes back
within the hold with the card's state kept (``resumed``), the host **resynchronises** from
the card's snapshot: only what really changed during the outage becomes events (a phone
hung up: :class:`OnHook`; a ring train ended: :class:`RingStop`; a line reversed:
:class:`PolarityReversal` ...). When the hold runs out, or the card reset (it lost its
lines' state), or it is refused, every port gets :class:`PortOutOfService` (with the reason)
and :class:`PortInService` again when the link returns (a refused card never brings them
in). If the card lost its state the host's wishes go back to idle: the link's session
set-up (:meth:`LineCard.session_setup`) re-sends the timing and releases every FXO line,
stops every ring and restores battery, so no line is left seized.

:class:`PortInService` means "this port starts from idle": on hook, not ringing. Whatever
is not idle follows it as events built from the card's port snapshot, after every
handshake (first connection, card reset, resumed session alike): :class:`OffHook` for a
phone off hook, :class:`RingStart` for a line in the middle of a ring train,
:class:`LineVoltage` for the line's voltage class. So the firmware, which ends a port's
calls when it goes out of service, always ends up with the hardware's state, each
condition reported once per service period. A line seized against the host's wish is
released.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from drivers import DriverError
from drivers.link import FINAL, IN_SERVICE, CardMessage, LinkConfig, LinkEvent, LinkStateChanged, SerialLink
from drivers.logs import EventLogger
from drivers.protocol import NO_PORT, FaultCode, LineState, Message, ResetCause, message, unwrap_ms
from drivers.timing import MAX_PREDIAL_MS, ZoneTiming, validate, zone_timing


class PortType(enum.StrEnum):
    FXS = "fxs"  # the box feeds a phone (SLIC)
    FXO = "fxo"  # the box is a phone on an exchange line (DAA)


class Polarity(enum.IntEnum):
    NORMAL = 1
    REVERSED = -1


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class OffHook:
    port: int
    at_ms: int | None = None  # card time, ms (unwrapped)


@dataclass(frozen=True)
class OnHook:
    port: int
    at_ms: int | None = None


@dataclass(frozen=True)
class HookFlash:
    port: int
    ms: int
    at_ms: int | None = None


@dataclass(frozen=True)
class PulseDigit:
    port: int
    digit: str
    at_ms: int | None = None


@dataclass(frozen=True)
class RingStart:
    port: int
    at_ms: int | None = None


@dataclass(frozen=True)
class RingStop:
    port: int
    at_ms: int | None = None


@dataclass(frozen=True)
class RingQualified:
    port: int
    cadence: str
    at_ms: int | None = None


@dataclass(frozen=True)
class PolarityReversal:
    port: int
    polarity: int = -1
    at_ms: int | None = None


@dataclass(frozen=True)
class LoopCurrentDrop:
    port: int
    ms: int
    at_ms: int | None = None


@dataclass(frozen=True)
class LineVoltage:
    port: int
    state: LineState
    volts: float = 0.0
    at_ms: int | None = None


@dataclass(frozen=True)
class PortOutOfService:
    port: int
    reason: str


@dataclass(frozen=True)
class PortInService:
    port: int


@dataclass(frozen=True)
class CardFault:
    port: int | None
    code: str
    at_ms: int | None = None


@dataclass(frozen=True)
class CardOverTemperature:
    port: int | None
    temp_c: int
    at_ms: int | None = None


@dataclass(frozen=True)
class CardReset:
    cause: str
    at_ms: int | None = None


PortEvent = (
    OffHook | OnHook | HookFlash | PulseDigit | RingStart | RingStop | RingQualified | PolarityReversal
    | LoopCurrentDrop | LineVoltage | PortOutOfService | PortInService | CardFault | CardOverTemperature | CardReset
)


class CardLink(Protocol):
    """What :class:`LineCard` needs from a link (``drivers.link.SerialLink`` implements it)."""

    def send(self, name: str, **fields: object) -> None: ...

    def poll_events(self) -> list[LinkEvent]: ...

    def wait_acked(self, timeout_s: float) -> bool: ...

    def set_session_setup(self, setup) -> None: ...

    def now(self) -> float: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------- qualification


def match_cadence(timing: ZoneTiming, measured: Sequence[int]) -> str | None:
    """The first cadence family whose whole period the measured on/off ms match, within tolerance."""
    for name, pattern in timing.cadences:
        if len(measured) < len(pattern):
            continue
        if all(_within(value, pattern[i % len(pattern)], timing.cadence_tolerance_pct)
               for i, value in enumerate(measured)):
            return name
    return None


def _within(value: int, nominal: int, pct: int) -> bool:
    return abs(value - nominal) <= nominal * pct / 100.0


class HookQualifier:
    """One FXS port: card hook reports to OffHook / OnHook / HookFlash / PulseDigit."""

    def __init__(self, port: int, timing: ZoneTiming) -> None:
        self.port = port
        self.timing = timing
        self.offhook = False

    def on_message(self, msg: Message, at_ms: int | None) -> list[PortEvent]:
        port = self.port
        if msg.name == "fxs_off_hook":
            return self.set_hook(True, at_ms)
        if msg.name == "fxs_on_hook":
            return self.set_hook(False, at_ms)
        if not self.offhook:
            return []  # a flash or digit needs the phone off hook; stale report
        if msg.name == "fxs_flash":
            ms = msg["ms"]
            if ms < self.timing.flash_min_ms:
                return []  # a hit on the line, not a flash
            if ms > self.timing.flash_max_ms:
                return [OnHook(port, at_ms), OffHook(port, at_ms)]
            return [HookFlash(port, ms, at_ms)]
        if msg.name == "fxs_digit":
            pulses = msg["pulses"]
            if not 1 <= pulses <= 10:
                return []
            return [PulseDigit(port, "0" if pulses == 10 else str(pulses), at_ms)]
        return []

    def set_hook(self, offhook: bool, at_ms: int | None) -> list[PortEvent]:
        if offhook == self.offhook:
            return []
        self.offhook = offhook
        return [OffHook(self.port, at_ms) if offhook else OnHook(self.port, at_ms)]


class RingQualifier:
    """One FXO port: ring bursts to RingStart / RingQualified / RingStop."""

    def __init__(self, port: int, timing: ZoneTiming) -> None:
        self.port = port
        self.timing = timing
        self.reset()

    def reset(self) -> None:
        self.started = False
        self.qualified: str | None = None
        self.measured: list[int] = []  # on, off, on, off ... of the current train (real bursts only)

    def in_progress(self, at_ms: int | None) -> list[PortEvent]:
        """The card's snapshot says a ring train is under way (it started before the session)."""
        if self.started:
            return []
        self.started = True
        return [RingStart(self.port, at_ms)]

    def on_message(self, msg: Message, at_ms: int | None) -> list[PortEvent]:
        events: list[PortEvent] = []
        if msg.name == "fxo_ring_held":
            if not self.started:  # the burst is real: it has lasted min_ring_ms
                self.started = True
                events.append(RingStart(self.port, at_ms))
        elif msg.name == "fxo_ring_on":
            if self.measured and len(self.measured) % 2 == 1:
                self.measured.append(msg["off_ms"])
                events += self._qualify(at_ms)
        elif msg.name == "fxo_ring_off":
            on_ms = msg["on_ms"]
            if on_ms < self.timing.min_ring_ms:
                if self.measured and len(self.measured) % 2 == 0:
                    self.measured.clear()  # a splash between bursts breaks the pattern
                return events
            if len(self.measured) % 2 == 1:
                self.measured.clear()  # the off period before this burst was not measured
            self.measured.append(on_ms)
            if not self.started:
                self.started = True
                events.append(RingStart(self.port, at_ms))
        elif msg.name == "fxo_ring_end":
            if self.started:
                events.append(RingStop(self.port, at_ms))
            self.reset()
        return events

    def _qualify(self, at_ms: int | None) -> list[PortEvent]:
        if self.qualified is not None:
            return []
        name = match_cadence(self.timing, self.measured)
        if name is None:
            return []
        self.qualified = name
        return [RingQualified(self.port, name, at_ms)]


# ----------------------------------------------------------------------------- the line card


class LineCard:
    """Ports 0..N-1 of one line card: commands as methods, typed events from ``poll()``."""

    def __init__(
        self,
        link: CardLink,
        port_types: Sequence[str | PortType],
        zone: str | ZoneTiming = "us",
        logger: EventLogger | None = None,
        hold_s: float | None = None,
        clock: Callable[[], float] | None = None,
        predial_ms: Mapping[int, int] | None = None,
    ) -> None:
        self.port_types = tuple(PortType(kind) for kind in port_types)
        self.hold_s = LinkConfig().hold_s if hold_s is None else hold_s
        if not isinstance(self.hold_s, int | float) or self.hold_s < 0:
            raise DriverError(f"hold time {hold_s!r} s must be a number >= 0")
        self._clock = clock if clock is not None else link.now
        self._held_since: float | None = None  # a link outage being held (link clock, s)
        self._held_reason = ""
        self._card_lost_state = False  # a card_reset arrived: its lines' state is gone
        self._resync = False  # this session resumed a held outage: the snapshot is compared, not replayed
        self.timing = validate(zone) if isinstance(zone, ZoneTiming) else zone_timing(zone)
        self._link = link
        self._log = logger or EventLogger("ports")
        self._lock = threading.Lock()
        self._in_service = [False] * len(self.port_types)
        self._predial = {p: self.timing.predial_ms for p in self._ports_of(PortType.FXO)}
        for port, ms in (predial_ms or {}).items():  # per-line overrides of the zone's pre-dial hold
            self._check_port(port, PortType.FXO, "predial_ms")
            self._check_ms("predial_ms", ms, 0, MAX_PREDIAL_MS)
            self._predial[port] = ms
        self._hooks = {p: HookQualifier(p, self.timing) for p in self._ports_of(PortType.FXS)}
        self._rings = {p: RingQualifier(p, self.timing) for p in self._ports_of(PortType.FXO)}
        self._seized = [False] * len(self.port_types)  # what the host wants on each FXO line
        self._polarity = [1] * len(self.port_types)  # last FXO polarity reported
        self._line = [None] * len(self.port_types)
        self._card_ms: int | None = None
        self._sessions = 0
        link.set_session_setup(self.session_setup)

    @property
    def ports(self) -> tuple[PortType, ...]:
        return self.port_types

    @property
    def link(self) -> CardLink:
        """The link underneath (its state, counters and wire log, for the console)."""
        return self._link

    def _ports_of(self, kind: PortType) -> list[int]:
        return [port for port, each in enumerate(self.port_types) if each == kind]

    def in_service(self, port: int) -> bool:
        self._check_port(port, None, "in_service")
        return self._in_service[port]

    def off_hook(self, port: int) -> bool:
        """The FXS phone's hook as the host last qualified it from the card's reports (this
        host-side state follows the card whatever the firmware does with the port; after a
        reconnect the card's snapshot re-reports an off-hook phone). False for an FXO port."""
        self._check_port(port, None, "off_hook")
        hook = self._hooks.get(port)
        return hook is not None and hook.offhook

    # ------------------------------------------------------------------ commands

    def _check_port(self, port: int, kind: PortType | None, command: str) -> None:
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < len(self.port_types):
            raise DriverError(f"{command}: port {port!r} does not exist (ports 0-{len(self.port_types) - 1})")
        if kind is not None and self.port_types[port] != kind:
            raise DriverError(f"{command}: port {port} is {self.port_types[port].value}, needs an {kind.value} port")

    @staticmethod
    def _check_ms(command: str, ms: int, low: int = 1, high: int = 0xFFFF) -> None:
        if not isinstance(ms, int) or isinstance(ms, bool) or not low <= ms <= high:
            raise DriverError(f"{command}: {ms!r} ms out of range {low}..{high}")

    def ring(self, port: int, cadence_ms: Sequence[int] | None = None) -> None:
        """Rings the phone with on/off ms pairs repeated (default: the zone's standard ring)."""
        self._check_port(port, PortType.FXS, "ring")
        pattern = tuple(self.timing.cadence() if cadence_ms is None else cadence_ms)
        if not 2 <= len(pattern) <= 8 or len(pattern) % 2:
            raise DriverError(f"ring: cadence needs 1 to 4 on/off pairs, got {len(pattern)} values")
        for index, value in enumerate(pattern):
            self._check_ms("ring", value, 1 if index % 2 == 0 else 0)
        self._link.send("fxs_ring", port=port, cadence_ms=pattern)

    def stop_ring(self, port: int) -> None:
        self._check_port(port, PortType.FXS, "stop_ring")
        self._link.send("fxs_stop_ring", port=port)

    def set_polarity(self, port: int, polarity: int) -> None:
        """Battery on with normal (+1) or reversed (-1) polarity; ends an open loop."""
        self._check_port(port, PortType.FXS, "set_polarity")
        if polarity not in (1, -1):
            raise DriverError(f"set_polarity: polarity {polarity!r} is not +1 or -1")
        self._link.send("fxs_polarity", port=port, polarity=int(polarity))

    def open_loop(self, port: int, ms: int) -> None:
        """Removes battery for ``ms`` (disconnect signal); 0 keeps it open until ``set_polarity``."""
        self._check_port(port, PortType.FXS, "open_loop")
        self._check_ms("open_loop", ms, 0)
        self._link.send("fxs_open_loop", port=port, ms=ms)

    def oht_window(self, port: int, ms: int) -> None:
        """On-hook transmission for ``ms``: no ringing, battery on, so caller ID can be sent."""
        self._check_port(port, PortType.FXS, "oht_window")
        self._check_ms("oht_window", ms)
        self._link.send("fxs_oht", port=port, ms=ms)

    def set_pre_dial_hold(self, port: int, ms: int | None) -> None:
        """The pre-dial hold of line ``port`` from now on (None: the zone's): sent to the card at
        once (``fxo_line_timing``) and in every later session's setup; the card applies it from
        its next dial pulse or flash."""
        self._check_port(port, PortType.FXO, "set_pre_dial_hold")
        hold = self.timing.predial_ms if ms is None else ms
        self._check_ms("predial_ms", hold, 0, MAX_PREDIAL_MS)
        with self._lock:
            self._predial[port] = hold
        self._link.send("fxo_line_timing", port=port, ring_qualify_ms=self.timing.min_ring_ms, predial_ms=hold)

    def pre_dial_hold(self, port: int) -> int:
        """The pre-dial hold of line ``port`` (ms) the card is given."""
        self._check_port(port, PortType.FXO, "pre_dial_hold")
        return self._predial[port]

    def seize(self, port: int) -> None:
        self._check_port(port, PortType.FXO, "seize")
        with self._lock:
            self._seized[port] = True
        self._link.send("fxo_seize", port=port)

    def release(self, port: int) -> None:
        self._check_port(port, PortType.FXO, "release")
        with self._lock:
            self._seized[port] = False
        self._link.send("fxo_release", port=port)

    def flash(self, port: int, ms: int | None = None) -> None:
        """Hook flash on a seized line (default: the zone's flash length)."""
        self._check_port(port, PortType.FXO, "flash")
        ms = self.timing.flash_out_ms if ms is None else ms
        self._check_ms("flash", ms)
        self._link.send("fxo_flash", port=port, ms=ms)

    def pulse_dial(self, port: int, digits: str | int) -> None:
        """Pulse-dials digits 0-9 on a seized line (0 = ten breaks), at the zone's pulse timing."""
        self._check_port(port, PortType.FXO, "pulse_dial")
        text = str(digits)
        if not text or not text.isdigit() or not text.isascii():
            raise DriverError(f"pulse_dial: {digits!r} is not a string of digits 0-9")
        for digit in text:
            self._link.send("fxo_dial", port=port, pulses=int(digit) or 10)

    def wait_acked(self, timeout_s: float) -> bool:
        """True once the card applied every command sent so far (False on timeout or link down)."""
        return self._link.wait_acked(timeout_s)

    def close(self) -> None:
        self._link.close()

    # ------------------------------------------------------------------ session set-up

    def session_setup(self, resumed: bool) -> list[Message]:
        """Commands sent first in every new session: timing, and the idle state unless resumed.

        Called by the link's thread as the session starts, before any other command goes out.
        A card that lost its state (not resumed, after an earlier session) lost its calls: the
        host's wishes go back to idle here, so that the snapshot that follows is judged by them.
        """
        timing = self.timing
        with self._lock:
            self._sessions += 1
            if not resumed and self._sessions > 1:
                self._seized = [False] * len(self.port_types)
        setup: list[Message] = []
        for port, kind in enumerate(self.port_types):
            if kind == PortType.FXS:
                setup.append(message(
                    "fxs_timing", port=port, debounce_ms=timing.hook_debounce_ms,
                    pulse_break_max_ms=timing.pulse_break_max_ms, pulse_make_max_ms=timing.pulse_make_max_ms,
                    flash_max_ms=timing.flash_max_ms))
                if not resumed:
                    setup += [message("fxs_stop_ring", port=port), message("fxs_polarity", port=port, polarity=1)]
            else:
                setup.append(message(
                    "fxo_country", port=port, impedance=int(timing.impedance),
                    ring_threshold_v=timing.ring_threshold_v, ring_debounce_ms=timing.ring_debounce_ms,
                    ring_end_ms=timing.ring_end_ms, dial_break_ms=timing.dial_break_ms,
                    dial_make_ms=timing.dial_make_ms, dial_interdigit_ms=timing.dial_interdigit_ms,
                    loop_drop_min_ms=timing.cpc_min_ms, line_debounce_ms=timing.line_debounce_ms))
                setup.append(message("fxo_line_timing", port=port, ring_qualify_ms=timing.min_ring_ms,
                                     predial_ms=self._predial[port]))
                if not resumed:
                    setup.append(message("fxo_release", port=port))
        return setup

    # ------------------------------------------------------------------ events

    def poll(self) -> list[PortEvent]:
        """Typed events since the last call, oldest first. Never blocks."""
        events: list[PortEvent] = []
        for item in self._link.poll_events():
            if isinstance(item, LinkStateChanged):
                events += self._on_link_state(item)
            elif isinstance(item, CardMessage):
                events += self._on_message(item.message)
        if self._held_since is not None and self._clock() - self._held_since >= self.hold_s:
            self._log.warning("link_outage_too_long", hold_s=self.hold_s, reason=self._held_reason)
            events += self._out_of_service(f"{self._held_reason}; link down longer than the {self.hold_s:g} s hold")
        return events

    @property
    def holding(self) -> bool:
        """A link outage is being held: the ports are still in service, the link is not."""
        return self._held_since is not None

    def _out_of_service(self, reason: str) -> list[PortEvent]:
        self._held_since = None
        events: list[PortEvent] = []
        for port in range(len(self.port_types)):
            if self._in_service[port]:
                self._in_service[port] = False
                events.append(PortOutOfService(port, reason))
        return events

    def _on_link_state(self, change: LinkStateChanged) -> list[PortEvent]:
        events: list[PortEvent] = []
        if change.new in IN_SERVICE and change.old not in IN_SERVICE:
            held = self._held_since is not None
            self._held_since = None
            self._resync = held and change.resumed and not self._card_lost_state
            self._card_lost_state = False
            if self._resync:
                # The calls went on meanwhile; the snapshot (next) is compared with what we knew.
                self._log.info("link_outage_ridden_through", reason=self._held_reason)
                return events
            if held:
                events += self._out_of_service("card lost its port state during a link outage")
            # Back from idle, as the firmware is: the card's snapshot (next) reports what is not.
            for hook in self._hooks.values():
                hook.offhook = False
            for ring in self._rings.values():
                ring.reset()
            self._line = [None] * len(self.port_types)
            if not change.resumed:
                self._card_ms = None  # the card's clock restarted
            for port in range(len(self.port_types)):
                if not self._in_service[port]:
                    self._in_service[port] = True
                    events.append(PortInService(port))
        elif change.new not in IN_SERVICE:
            self._resync = False
            lost = change.new in FINAL or self._card_lost_state or self.hold_s == 0
            if lost:
                events += self._out_of_service(change.reason)
            elif change.old in IN_SERVICE and any(self._in_service):
                self._held_since = self._clock()  # the card keeps its lines: wait for it
                self._held_reason = change.reason
                self._log.warning("link_outage_held", reason=change.reason, hold_s=self.hold_s)
        return events

    def _on_message(self, msg: Message) -> list[PortEvent]:
        at_ms = None
        if "t_ms" in msg.fields:
            self._card_ms = at_ms = unwrap_ms(self._card_ms, msg["t_ms"])
        port = msg.fields.get("port")
        name = msg.name
        if name == "card_reset":
            self._card_lost_state = True  # the calls on its lines are gone: no holding
            cause = msg["cause"]
            cause_name = ResetCause(cause).name.lower() if cause in ResetCause._value2member_map_ else str(cause)
            lost = self._out_of_service(f"card reset ({cause_name})") if self._held_since is not None else []
            return [CardReset(cause_name, at_ms), *lost]
        if name == "card_fault":
            code = msg["code"]
            return [CardFault(None if port == NO_PORT else port,
                              FaultCode(code).name.lower() if code in FaultCode._value2member_map_ else str(code),
                              at_ms)]
        if name == "card_overtemp":
            return [CardOverTemperature(None if port == NO_PORT else port, msg["temp_c"], at_ms)]
        if port is None or not 0 <= port < len(self.port_types):
            self._log.warning("event_for_unknown_port", msg=name, port=port)
            return []
        if name == "port_status":
            return self._reconcile(msg, at_ms)
        if port in self._hooks and name.startswith("fxs_"):
            return self._hooks[port].on_message(msg, at_ms)
        if port not in self._rings or not name.startswith("fxo_"):
            self._log.warning("event_for_wrong_port_type", msg=name, port=port)
            return []
        if name.startswith("fxo_ring"):
            return self._rings[port].on_message(msg, at_ms)
        if name == "fxo_polarity":
            polarity = msg["polarity"]
            if polarity == self._polarity[port]:
                return []
            self._polarity[port] = polarity
            return [PolarityReversal(port, polarity, at_ms)]
        if name == "fxo_loop_drop":
            return [LoopCurrentDrop(port, msg["ms"], at_ms)] if msg["ms"] >= self.timing.cpc_min_ms else []
        if name == "fxo_line":
            return self._line_state(port, msg["state"], msg["volts_dv"] / 10.0, at_ms)
        return []

    def _line_state(self, port: int, raw: int, volts: float, at_ms: int | None) -> list[PortEvent]:
        if raw not in LineState._value2member_map_ or raw == LineState.UNKNOWN:
            self._log.warning("bad_line_state", port=port, state=raw)
            return []
        state = LineState(raw)
        if state == self._line[port]:
            return []
        self._line[port] = state
        return [LineVoltage(port, state, volts, at_ms)]

    def _reconcile(self, msg: Message, at_ms: int | None) -> list[PortEvent]:
        """The card's snapshot after a handshake against what the host knows and wants.

        After a fresh start the host knows "idle" and each non-idle condition becomes an event.
        After a held outage (``_resync``) it knows the state of before the outage, so only what
        changed meanwhile does: a hang-up, a ring train that ended, a polarity reversal.
        """
        port = msg["port"]
        if port in self._hooks:
            return self._hooks[port].set_hook(bool(msg["hook"]), at_ms)
        events: list[PortEvent] = []
        if self._resync and msg["polarity"] != self._polarity[port]:
            events.append(PolarityReversal(port, msg["polarity"], at_ms))
        self._polarity[port] = msg["polarity"]
        with self._lock:
            wanted = self._seized[port]
        if msg["hook"] and not wanted:
            self._log.warning("line_seized_against_host", port=port, action="release")
            self._link.send("fxo_release", port=port)
        if not msg["hook"] and msg["line"] != LineState.UNKNOWN:
            events += self._line_state(port, msg["line"], msg["volts_dv"] / 10.0, at_ms)
        ring = self._rings[port]
        if msg["ringing"] and not msg["hook"]:
            events += ring.in_progress(at_ms)
        elif ring.started:  # the train ended while we could not hear it
            events.append(RingStop(port, at_ms))
            ring.reset()
        return events


def open_line_card(
    url: str,
    port_types: Iterable[str],
    zone: str | ZoneTiming = "us",
    config: LinkConfig | None = None,
    logger: EventLogger | None = None,
    card_model: str | None = None,
    clock: Callable[[], float] | None = None,
    predial_ms: Mapping[int, int] | None = None,
) -> LineCard:
    """The production wiring: a started serial link to ``url`` and the line card on top of it.

    ``port_types`` and ``card_model`` come from the board definition (``ports``,
    ``card.model``); a card reporting another model or port map is refused (link REFUSED,
    ports never in service). ``card_model=None`` accepts any model. ``clock``: the link's
    timers and the outage hold run on it (default monotonic; the unpaced virtual board's
    ``host_clock``).
    """
    types = tuple(PortType(kind).value for kind in port_types)
    config = config or LinkConfig()
    link = SerialLink(url, types, config=config, logger=logger, expected_model=card_model,
                      **({"clock": clock} if clock is not None else {}))
    card = LineCard(link, types, zone, logger=logger, hold_s=config.hold_s, predial_ms=predial_ms)
    link.start()
    return card
