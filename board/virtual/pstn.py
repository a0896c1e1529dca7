"""Simulated exchange lines on the FXO ports.

Each :class:`PstnLine` is the exchange's end of one subscriber line, as the box's DAA sees
it: line voltage (≈48 V idle, ≈0 V dead, ≈8 V while a parallel extension or the box holds
the loop), loop current while seized (≈25 mA), ring voltage per ms, tip/ring polarity, and
the audio the exchange and the far-end party put on the line.

Incoming calls ring with the zone's cadence, with caller ID sent as real audio where the
standard puts it (:mod:`board.virtual.alerting`); the box answers by going off-hook (ring
trip within the same ms). Outgoing calls: the box seizes, hears dial tone (removed at the
first digit), dials by DTMF or pulses (counted from its hook switch: breaks up to
``pulse_break_max_ms``), and after ``interdigit_timeout_ms`` without digits the exchange
plays the scripted outcome: ringback then answer (with a polarity reversal if the line
gives answer supervision), busy, congestion or ringing without answer. On hook for
``clear_ms`` or more clears the call; a shorter break is a hook flash.

The far end hangs up with the line's disconnect method: polarity reversal, loop-current
drop (``loop_drop_ms`` of battery removed), busy tone, or nothing at all (the "far end
gone silently" fault). A line can be dead (no voltage) or in use by a parallel phone.

Timing is exact to the millisecond: each tick is cut at every hook change and timer.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

import numpy as np

from board import BoardError
from board.virtual.alerting import AlertingProgram
from board.virtual.analog import LINE_VOLTS_IDLE, MS_PER_TICK, SAMPLES_PER_TICK
from board.virtual.media import SAMPLES_PER_MS, AudioLog, AudioQueue, to_int16
from drivers import DriverError
from drivers.audiofile import read_audio
from dsp import DspError
from dsp.callerid import CallerId
from dsp.callerid_sequence import Segment
from dsp.dtmfgen import generate_dtmf
from dsp.levels import dbm0_to_rms

LINE_VOLTS_OFFHOOK = 8.0  # typical loop voltage with a phone (or the box) off hook
LINE_VOLTS_SHARED = 6.0  # the box and a parallel phone both off hook
LOOP_MA = 25.0  # typical loop current of a short line
LOOP_MA_SHARED = 12.0


class LineState(StrEnum):
    DEAD = "dead"  # no battery on the line
    IDLE = "idle"
    ALERTING = "alerting"  # incoming call: ringing (and caller ID)
    DIAL_TONE = "dial_tone"  # the box seized: dial tone until the first digit
    DIALLING = "dialling"  # collecting digits
    PROGRESS = "progress"  # ringback, busy or congestion tone of an outgoing call
    CONNECTED = "connected"  # talking to the far end
    CLEARED = "cleared"  # the far end hung up; the box still holds the line


TRANSITIONS: Mapping[LineState, frozenset[LineState]] = MappingProxyType({
    LineState.IDLE: frozenset({LineState.ALERTING, LineState.DIAL_TONE}),
    LineState.ALERTING: frozenset({LineState.CONNECTED, LineState.IDLE}),
    LineState.DIAL_TONE: frozenset({LineState.DIALLING, LineState.IDLE}),
    LineState.DIALLING: frozenset({LineState.PROGRESS, LineState.IDLE}),
    LineState.PROGRESS: frozenset({LineState.CONNECTED, LineState.CLEARED, LineState.IDLE}),
    LineState.CONNECTED: frozenset({LineState.CLEARED, LineState.IDLE}),
    LineState.CLEARED: frozenset({LineState.IDLE}),
    LineState.DEAD: frozenset({LineState.IDLE}),
})  # plus: any state may go DEAD (battery lost), and staying in a state is no transition


class Disconnect(StrEnum):
    POLARITY_REVERSAL = "polarity_reversal"
    LOOP_CURRENT_DROP = "loop_current_drop"
    BUSY_TONE = "busy_tone"
    NONE = "none"  # far end gone without any disconnect signal


class Outcome(StrEnum):
    ANSWER = "answer"
    BUSY = "busy"
    CONGESTION = "congestion"
    NO_ANSWER = "no_answer"


class ToneSource(Protocol):
    """A call-progress tone on one line, rendered block after block with its cadence."""

    def render(self, n_samples: int) -> np.ndarray: ...


@dataclass(frozen=True)
class ZoneSignals:
    """A country's exchange signals (built by ``board.virtual.signals.zone_signals``)."""

    zone: str
    ring_cadence_ms: tuple[int, ...]
    tone: Callable[[str], ToneSource]  # "dial" | "ringback" | "busy" | "congestion"
    callerid: Callable[[CallerId, str], list[Segment]]  # (caller, standard) -> on-line sequence
    callerid_standard: str  # the zone's usual caller-ID standard
    # (a whole message: FSK bytes or DTMF digits, standard) -> on-line sequence; None: not simulated
    callerid_message: Callable[[bytes | str, str], list[Segment]] | None = None


@dataclass(frozen=True)
class LineConfig:
    number: str = ""
    disconnect: Disconnect = Disconnect.POLARITY_REVERSAL
    answer_reversal: bool = False  # the far end's answer of an outgoing call reverses polarity
    callerid_standard: str | None = None  # None: the zone's standard
    loop_drop_ms: int = 800  # battery removed for this long to signal a far-end clear
    clear_ms: int = 1000  # the box on hook this long clears the call; shorter is a flash
    pulse_break_max_ms: int = 120  # longer breaks while dialling are flashes, not pulses
    pulse_digit_gap_ms: int = 300  # a make this long ends a pulsed digit
    interdigit_timeout_ms: int = 4000  # no digit for this long: the number is complete
    noise_dbm0: float | None = None  # white noise on the line, if any

    def __post_init__(self) -> None:
        object.__setattr__(self, "disconnect", Disconnect(self.disconnect))
        for name in ("loop_drop_ms", "clear_ms", "pulse_break_max_ms", "pulse_digit_gap_ms", "interdigit_timeout_ms"):
            if getattr(self, name) < 1:
                raise BoardError(f"line config {name} must be >= 1 ms, got {getattr(self, name)}")
        if self.pulse_break_max_ms >= self.clear_ms:
            raise BoardError("line config pulse_break_max_ms must be shorter than clear_ms")


class FarEnd:
    """The party at the other end of a call: talks (a file, samples, a loop) and listens."""

    def __init__(self, samples: np.ndarray | None = None, loop: bool = False, log_seconds: float = 60.0) -> None:
        self._mouth = AudioQueue()
        self._heard = AudioLog(log_seconds)
        if samples is not None:
            (self._mouth.loop if loop else self._mouth.push)(samples)
        self.gone = False

    @classmethod
    def from_file(cls, path: str | os.PathLike, loop: bool = False, log_seconds: float = 60.0) -> FarEnd:
        try:
            return cls(read_audio(path), loop=loop, log_seconds=log_seconds)
        except DriverError as exc:
            raise BoardError(f"far end: {exc}") from None

    def say(self, samples: np.ndarray) -> None:
        self._mouth.push(samples)

    def dial(self, digits: str, level_dbm0: float = -10.0, on_ms: float = 50.0, off_ms: float = 50.0) -> None:
        """The party presses keys: DTMF (ITU-T Q.23) after what it is already saying, as a
        caller answering a menu does; the box hears it through the line like any audio."""
        try:
            tones = generate_dtmf(digits, level_dbm0=level_dbm0, on_ms=on_ms, off_ms=off_ms)
        except DspError as exc:
            raise BoardError(f"far end: cannot dial {digits!r}: {exc}") from None
        self._mouth.push(tones)

    def heard(self, since_tick: int | None = None, last_ms: int | None = None) -> np.ndarray:
        """What the box sent to this party while connected (int16)."""
        return self._heard.samples(since_tick=since_tick, last_ms=last_ms)

    def take(self, n_samples: int) -> np.ndarray:
        return self._mouth.pop(n_samples).astype(np.float64)

    def hear(self, tick: int, samples: np.ndarray) -> None:
        self._heard.append(tick, samples)


@dataclass
class OutgoingScript:
    """What happens to the next call the box dials out on a line."""

    outcome: Outcome = Outcome.ANSWER
    answer_after_ms: int = 4000  # ringback before the far end answers
    digits: int | None = None  # route as soon as this many digits are dialled
    far_end: FarEnd = field(default_factory=FarEnd)

    def __post_init__(self) -> None:
        self.outcome = Outcome(self.outcome)
        if self.answer_after_ms < 0:
            raise BoardError(f"answer_after_ms must be >= 0, got {self.answer_after_ms}")


@dataclass(frozen=True)
class LineEvent:
    ms: int  # world time: tick * 20 + ms within the tick
    name: str
    detail: str = ""


@dataclass
class LineTick:
    ring_ms: np.ndarray
    polarity: int
    volts: float
    loop_ma: float
    audio: np.ndarray


class PstnLine:
    """The exchange side of the line on one FXO port."""

    def __init__(
        self,
        port: int,
        signals: ZoneSignals,
        rng: np.random.Generator,
        config: LineConfig | None = None,
        log_seconds: float = 60.0,
    ) -> None:
        self.port = port
        self.signals = signals
        self.config = config or LineConfig()
        self._rng = rng
        self.state = LineState.IDLE
        self.polarity = 1
        self.parallel_offhook = False  # an extension phone on the same line is off hook
        self.box_offhook = False
        self._box_since_ms = 0
        self._pulses = 0
        self.dialled = ""
        self.flashes: list[int] = []  # durations of the box's hook flashes, ms
        self.events: deque[LineEvent] = deque(maxlen=2000)
        self._timers: dict[str, tuple[int, Callable[[int], None]]] = {}
        self._tone: ToneSource | None = None
        self._program: AlertingProgram | None = None
        self._alert_start_ms = 0
        self._scripts: deque[OutgoingScript] = deque()
        self._script: OutgoingScript | None = None
        self._loop_dropped = False
        self._skip_next_callerid = False
        self.far_end: FarEnd | None = None
        self._heard = AudioLog(log_seconds)
        self._now_ms = 0  # the start of the next tick, for actions scripted between ticks

    # -- scripting -------------------------------------------------------------------

    def ring(
        self,
        caller_id: CallerId | None = None,
        far_end: FarEnd | None = None,
        max_rings: int | None = None,
        callerid_segments: list[Segment] | None = None,
        callerid_message: Callable[[str], bytes | str] | None = None,
        callerid_standard: str | None = None,
    ) -> None:
        """An incoming call: rings (with caller ID) until the box answers or ``max_rings``.

        ``callerid_message`` sends a whole caller-ID message instead of ``caller_id``: called
        with the line's standard, it returns what to send (FSK message bytes, unchecked, or a
        DTMF digit string), or raises BoardError if it cannot be sent in that standard;
        ``callerid_standard`` sends this call's caller ID in another standard than the line's."""
        if self.state is not LineState.IDLE or self.box_offhook:
            raise BoardError(f"line {self.port} cannot ring: it is {self.state.value}")
        segments: list[Segment] = []
        if self._skip_next_callerid:
            self._skip_next_callerid = False
            self._log(self._now_ms, "callerid_omitted")
        elif callerid_segments is not None:
            segments = callerid_segments
        elif callerid_message is not None:
            if self.signals.callerid_message is None:
                raise BoardError(f"line {self.port}: this exchange cannot send a whole caller-ID message")
            standard = callerid_standard or self.callerid_standard
            segments = self.signals.callerid_message(callerid_message(standard), standard)
        elif caller_id is not None:
            segments = self.signals.callerid(caller_id, callerid_standard or self.callerid_standard)
        self._program = AlertingProgram(self.signals.ring_cadence_ms, segments)
        self._alert_start_ms = self._now_ms
        self.far_end = far_end or FarEnd()
        self._set_state(self._now_ms, LineState.ALERTING, caller_id.number if caller_id and caller_id.number else "")
        for index, at in enumerate(self._program.reversals_ms):
            self._timers[f"reversal{index}"] = (self._alert_start_ms + at, self._reverse)
        if max_rings is not None:
            end = self._alert_start_ms + self._program.burst_end_ms(max_rings)
            self._timers["abandon"] = (end, self._abandon)

    @property
    def callerid_standard(self) -> str:
        """The caller-ID standard this line's exchange sends (its own, or the zone's)."""
        return self.config.callerid_standard or self.signals.callerid_standard

    def abandon(self) -> None:
        """The caller of a ringing call gives up."""
        if self.state is not LineState.ALERTING:
            raise BoardError(f"line {self.port} is not ringing (it is {self.state.value})")
        self._abandon(self._now_ms)

    def script_outgoing(self, script: OutgoingScript | None = None, **kwargs: object) -> OutgoingScript:
        """Queues what happens to the next call the box dials on this line."""
        script = script or OutgoingScript(**kwargs)
        self._scripts.append(script)
        return script

    def answer(self) -> None:
        """The far end of the box's outgoing call answers now (instead of after the scripted delay)."""
        if self.state is not LineState.PROGRESS or self._script is None or self._script.outcome not in (
            Outcome.ANSWER,
            Outcome.NO_ANSWER,
        ):
            raise BoardError(f"line {self.port} has no outgoing call ringing (it is {self.state.value})")
        self._timers.pop("answer", None)
        self._far_end_answer(self._now_ms)

    def far_end_hangup(self, method: Disconnect | str | None = None) -> None:
        """The far end clears; the exchange signals it by ``method`` (default: the line's)."""
        if self.state not in (LineState.CONNECTED, LineState.PROGRESS):
            raise BoardError(f"line {self.port} has no call to hang up (it is {self.state.value})")
        self._far_end_clear(self._now_ms, Disconnect(method or self.config.disconnect))

    def set_voltage(self, condition: str) -> None:
        """``present`` (normal), ``absent`` (line dead), ``parallel_in_use`` / ``parallel_idle``."""
        if condition == "absent":
            self.far_end = None
            self._timers.clear()
            self._tone = None
            self.polarity = 1
            self._set_state(self._now_ms, LineState.DEAD)
        elif condition == "present":
            if self.state is LineState.DEAD:
                self._set_state(self._now_ms, LineState.IDLE)
                if self.box_offhook:
                    self._seize(self._now_ms)
        elif condition in ("parallel_in_use", "parallel_idle"):
            self.parallel_offhook = condition == "parallel_in_use"
            self._log(self._now_ms, "parallel", condition)
        else:
            raise BoardError(f"line condition must be present, absent, parallel_in_use or parallel_idle, got {condition!r}")

    def omit_next_callerid(self) -> None:
        """Fault ``ring_without_callerid``: the next incoming call rings without caller ID."""
        self._skip_next_callerid = True

    def far_end_gone_silently(self) -> None:
        """Fault: the far end of the current call vanishes without any disconnect signal."""
        self.far_end_hangup(Disconnect.NONE)

    def begin_tick(self, tick: int) -> None:
        """Scripted actions between ticks take effect at the start of ``tick``."""
        self._now_ms = tick * MS_PER_TICK

    # -- observation -----------------------------------------------------------------

    def heard(self, since_tick: int | None = None, last_ms: int | None = None) -> np.ndarray:
        """Everything the box sent on this line (int16), whatever the line's state."""
        return self._heard.samples(since_tick=since_tick, last_ms=last_ms)

    # -- the tick --------------------------------------------------------------------

    def step(self, tick: int, offhook_ms: np.ndarray, audio_in: np.ndarray, digits: str = "") -> LineTick:
        """One tick of the line; ``digits`` are DTMF digits the exchange's receiver heard."""
        t0 = tick * MS_PER_TICK
        offhook_ms = np.asarray(offhook_ms, dtype=bool)
        ring = np.zeros(MS_PER_TICK, dtype=bool)
        audio = np.zeros(SAMPLES_PER_TICK, dtype=np.float64)
        for digit in digits:
            self._digit(t0, digit)
        previous = np.concatenate(([self.box_offhook], offhook_ms[:-1]))
        changes = np.flatnonzero(offhook_ms != previous).tolist()
        connected_in_tick = self.state is LineState.CONNECTED
        ms = 0
        while ms < MS_PER_TICK:
            now = t0 + ms
            if changes and changes[0] == ms:
                changes.pop(0)
                self._hook_change(now, bool(offhook_ms[ms]))
            self._fire_timers(now)
            due = min((at for at, _ in self._timers.values()), default=None)
            end = MS_PER_TICK
            if changes:
                end = min(end, changes[0])
            if due is not None and due - t0 < end:
                end = max(ms + 1, due - t0)
            self._render(now, ms, end, ring, audio)
            connected_in_tick |= self.state is LineState.CONNECTED
            ms = end
        self._now_ms = t0 + MS_PER_TICK
        audio_in = np.asarray(audio_in, dtype=np.int16)
        self._heard.append(tick, audio_in)
        if connected_in_tick and self.far_end is not None and not self.far_end.gone:
            self.far_end.hear(tick, audio_in)
        if self.config.noise_dbm0 is not None and self.state is not LineState.DEAD:
            audio += self._rng.normal(0.0, dbm0_to_rms(self.config.noise_dbm0), SAMPLES_PER_TICK)
        volts, loop_ma = self._electrical()
        return LineTick(ring, self.polarity, volts, loop_ma, to_int16(audio))

    def _render(self, now: int, a: int, b: int, ring: np.ndarray, audio: np.ndarray) -> None:
        n = b - a
        span = slice(a * SAMPLES_PER_MS, b * SAMPLES_PER_MS)
        if self.state is LineState.ALERTING and self._program is not None:
            rel = now - self._alert_start_ms
            ring[a:b] = self._program.ring(rel, n)
            audio[span] = self._program.audio(rel, n)
        elif self.state is LineState.CONNECTED and self.far_end is not None and not self.far_end.gone:
            audio[span] = self.far_end.take(n * SAMPLES_PER_MS)
        elif self._tone is not None and self.box_offhook:
            audio[span] = self._tone.render(n * SAMPLES_PER_MS)

    def _electrical(self) -> tuple[float, float]:
        if self.state is LineState.DEAD:
            return 0.0, 0.0
        if not self.box_offhook:
            return (LINE_VOLTS_OFFHOOK if self.parallel_offhook else LINE_VOLTS_IDLE), 0.0
        if self._loop_dropped:
            return 0.0, 0.0
        if self.parallel_offhook:
            return LINE_VOLTS_SHARED, LOOP_MA_SHARED
        return LINE_VOLTS_OFFHOOK, LOOP_MA

    # -- hook switch -----------------------------------------------------------------

    def _hook_change(self, now: int, offhook: bool) -> None:
        held_ms = now - self._box_since_ms
        self.box_offhook = offhook
        self._box_since_ms = now
        if not offhook:
            self._timers["clear"] = (now + self.config.clear_ms, self._box_clear)
            self._timers.pop("pulse_digit", None)
            return
        if "clear" not in self._timers:
            self._seize(now)  # off hook after a full clear (or for the first time)
            return
        self._timers.pop("clear")
        if self.state in (LineState.DIAL_TONE, LineState.DIALLING) and held_ms <= self.config.pulse_break_max_ms:
            self._pulses += 1
            self._timers["pulse_digit"] = (now + self.config.pulse_digit_gap_ms, self._pulse_digit_done)
            if self.state is LineState.DIAL_TONE:
                self._stop_dial_tone(now)
        else:
            self.flashes.append(held_ms)
            self._log(now, "flash", f"{held_ms}ms")

    def _seize(self, now: int) -> None:
        self._log(now, "seize")
        if self.state is LineState.ALERTING:
            self._timers = {k: v for k, v in self._timers.items() if not k.startswith(("reversal", "abandon"))}
            self._program = None
            self._set_state(now, LineState.CONNECTED, "answered")
        elif self.state is LineState.IDLE and not self.parallel_offhook:
            self.dialled = ""
            self._tone = self.signals.tone("dial")
            self._set_state(now, LineState.DIAL_TONE)

    def _box_clear(self, now: int) -> None:
        self._log(now, "release")
        self._timers.clear()
        self._tone = None
        self._loop_dropped = False
        self._script = None
        self.far_end = None
        self.polarity = 1
        if self.state is not LineState.DEAD:
            self._set_state(now, LineState.IDLE)

    # -- digits and call progress ----------------------------------------------------

    def _stop_dial_tone(self, now: int) -> None:
        self._tone = None
        self._set_state(now, LineState.DIALLING)

    def _pulse_digit_done(self, now: int) -> None:
        digit = str(self._pulses % 10)
        self._pulses = 0
        self._accept_digit(now, digit, "pulse")

    def _digit(self, now: int, digit: str) -> None:
        if self.state in (LineState.DIAL_TONE, LineState.DIALLING) and self.box_offhook:
            self._accept_digit(now, digit, "dtmf")

    def _accept_digit(self, now: int, digit: str, method: str) -> None:
        if self.state is LineState.DIAL_TONE:
            self._stop_dial_tone(now)
        self.dialled += digit
        self._log(now, "digit", f"{digit} {method}")
        script = self._scripts[0] if self._scripts else None
        if script is not None and script.digits is not None and len(self.dialled) >= script.digits:
            self._route(now)
        else:
            self._timers["route"] = (now + self.config.interdigit_timeout_ms, self._route)

    def _route(self, now: int) -> None:
        self._timers.pop("route", None)
        self._timers.pop("pulse_digit", None)
        self._script = self._scripts.popleft() if self._scripts else OutgoingScript()
        self.far_end = self._script.far_end
        self._log(now, "route", f"{self.dialled} {self._script.outcome.value}")
        self._set_state(now, LineState.PROGRESS)
        if self._script.outcome is Outcome.ANSWER:
            self._tone = self.signals.tone("ringback")
            self._timers["answer"] = (now + self._script.answer_after_ms, self._far_end_answer)
        elif self._script.outcome is Outcome.NO_ANSWER:
            self._tone = self.signals.tone("ringback")
        else:
            self._tone = self.signals.tone(self._script.outcome.value)

    def _far_end_answer(self, now: int) -> None:
        self._tone = None
        if self.config.answer_reversal:
            self._reverse(now)
        self._set_state(now, LineState.CONNECTED, "far_end_answered")

    def _far_end_clear(self, now: int, method: Disconnect) -> None:
        self._timers.pop("answer", None)
        self._tone = None
        if self.far_end is not None:
            self.far_end.gone = True
        self._set_state(now, LineState.CLEARED, method.value)
        if method is Disconnect.POLARITY_REVERSAL:
            self._reverse(now)
        elif method is Disconnect.LOOP_CURRENT_DROP:
            self._loop_dropped = True
            self._timers["loop_restore"] = (now + self.config.loop_drop_ms, self._loop_restore)
        elif method is Disconnect.BUSY_TONE:
            self._tone = self.signals.tone("busy")

    def _loop_restore(self, now: int) -> None:
        self._loop_dropped = False

    def _reverse(self, now: int) -> None:
        self.polarity = -self.polarity
        self._log(now, "polarity", str(self.polarity))

    def _abandon(self, now: int) -> None:
        self._timers.clear()
        self._program = None
        self.far_end = None
        self.polarity = 1
        self._set_state(now, LineState.IDLE, "abandoned")

    # -- plumbing --------------------------------------------------------------------

    def _fire_timers(self, now: int) -> None:
        """Runs every timer due by ``now``, earliest first; timers are one-shot."""
        while self._timers:
            name = min(self._timers, key=lambda key: self._timers[key][0])
            at, action = self._timers[name]
            if at > now:
                return
            del self._timers[name]
            action(now)

    def _set_state(self, now: int, state: LineState, detail: str = "") -> None:
        if state is not self.state and state is not LineState.DEAD and state not in TRANSITIONS[self.state]:
            raise BoardError(f"line {self.port}: no transition from {self.state.value} to {state.value}")
        self.state = state
        self._log(now, state.value, detail)

    def _log(self, now: int, name: str, detail: str = "") -> None:
        self.events.append(LineEvent(now, name, detail))
