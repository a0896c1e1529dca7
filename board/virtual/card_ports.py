"""The line card's port hardware: SLIC (FXS) and DAA (FXO) state and the card-side detection.

Each port holds what the host commanded (ring cadence, battery, seizure, flash and dialling
schedule) and turns it into the analog drive of one 20 ms tick (``board/virtual/analog.py``),
and watches what the world presents (hook state and ring voltage per ms, polarity, line
voltage and loop current per tick) to produce the protocol's events, each stamped with the
card's clock (ms since its reset; the caller wraps it to u32).

Detection follows ``docs/protocol.md`` ("Card-side detection"):

- FXS hook: a level counts once stable for ``debounce_ms``; an off-hook after on-hook is
  reported at its first edge. A break up to ``pulse_break_max_ms`` is a dial pulse; a make
  longer than ``pulse_make_max_ms`` ends the digit; a longer break is a flash (its measured
  length) if the phone comes back within ``flash_max_ms``, otherwise an on-hook (hang-up)
  stamped at the start of the break. Ring trip: an off-hook stops the ring at once.
- FXO ring: ring voltage stable for ``ring_debounce_ms`` starts a burst (``fxo_ring_on`` with
  the silence before it), its end gives ``fxo_ring_off`` with the burst length, and
  ``ring_end_ms`` of silence (or seizing the line) ends the train.
- FXO line: polarity changes are reported per tick; the line voltage class (absent < 3 V,
  in use < 15 V, idle) once it has held ``line_debounce_ms`` (only while on hook); loop
  current below 3 mA on a seized line for ``loop_drop_min_ms`` gives one ``fxo_loop_drop``.
- FXO ring qualification (protocol 1.1): with ``ring_qualify_ms`` set (``fxo_line_timing``),
  ``fxo_ring_held`` once a burst has lasted that long, so the host knows at once that the
  line rings (not only at the burst's end).
- FXO hook switch: the first break after a seizure (a flash or a dial pulse) starts no
  earlier than the port's pre-dial hold (``predial_ms`` of ``fxo_line_timing``, default
  ``FXO_PREDIAL_MS``) after the seizure, so pulses sent with the seize are not lost to an
  exchange that has not yet seen the line seized.

Every detector starts from the state the ``port_status`` snapshot announces before any
sample (phone on hook, no ring, normal polarity, line class unknown), so a condition already
present at the first sample (a phone off hook at power-on, a line ringing or reversed) is
reported as a change like any other: the host's view is always the snapshot plus the events
that follow it.

Per tick, ports whose inputs did not change and have no timer due are skipped with one
numpy comparison; the per-ms state machines only run on ports with something happening.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

import numpy as np

from board.virtual.analog import LINE_VOLTS_ABSENT_MAX, LINE_VOLTS_IN_USE_MAX, MS_PER_TICK, FxoDrive, FxsDrive
from drivers.protocol import FIRST_RING, FXO_PREDIAL_MS, AckStatus, LineState, Message, message

LOOP_MA_MIN = 3.0  # below this a seized line has no loop current
FOREVER = 1 << 62
MAX_MS_FIELD = 0xFFFE  # u16 durations saturate here (0xFFFF means "first ring")


@dataclass
class FxsTiming:
    debounce_ms: int = 10
    pulse_break_max_ms: int = 75
    pulse_make_max_ms: int = 150
    flash_max_ms: int = 800


@dataclass
class FxoTiming:
    impedance: int = 0
    ring_threshold_v: int = 40
    ring_debounce_ms: int = 30
    ring_end_ms: int = 6000
    dial_break_ms: int = 60
    dial_make_ms: int = 40
    dial_interdigit_ms: int = 700
    loop_drop_min_ms: int = 350
    line_debounce_ms: int = 100


class HookPhase(enum.Enum):
    ON_HOOK = "on_hook"
    OFF_HOOK = "off_hook"
    BREAK = "break"  # on hook while off hook: a pulse, a flash or a hang-up, not yet known
    MAKE = "make"  # off hook after a dial pulse: another pulse or the end of the digit


class Debounced:
    """A boolean input sampled per ms that changes once stable for ``debounce_ms``.

    It starts False (on hook, no ring): after a reset a phone already off hook or a line
    already ringing is detected, and reported, like any other change.
    """

    def __init__(self) -> None:
        self.raw = False
        self.raw_edge = 0
        self.stable = False

    def sample(self, t: int, value: bool, debounce_ms: int) -> int | None:
        """Feeds one sample; returns the edge time when the stable state changes at ``t``."""
        if value != self.raw:
            self.raw = value
            self.raw_edge = t
        if self.raw != self.stable and t - self.raw_edge + 1 >= debounce_ms:
            self.stable = self.raw
            return self.raw_edge
        return None


class FxsPort:
    """One SLIC: ring cadence, battery and on-hook transmission; hook detection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reset()

    def reset(self) -> None:
        self.timing = FxsTiming()
        self.cadence: tuple[int, ...] | None = None
        self.ring_start: int | None = None  # None with a cadence: starts at the next tick
        self.polarity = 1
        self.open_ms: int | None = None  # pending open-loop length (0: indefinite)
        self.open_until = 0
        self.oht_ms: int | None = None
        self.oht_until = 0
        self.hook = Debounced()
        self.phase = HookPhase.ON_HOOK
        self.break_start = 0
        self.make_start = 0
        self.pulses = 0

    # -- host commands (card reader thread, under the card lock)

    def apply(self, msg: Message) -> AckStatus:
        name = msg.name
        if name == "fxs_ring":
            pattern = tuple(msg["cadence_ms"])
            if not 2 <= len(pattern) <= 8 or len(pattern) % 2 or min(pattern[0::2]) <= 0:
                return AckStatus.BAD_ARGUMENT
            self.cadence, self.ring_start = pattern, None
        elif name == "fxs_stop_ring":
            self.cadence = None
        elif name == "fxs_polarity":
            if msg["polarity"] not in (1, -1):
                return AckStatus.BAD_ARGUMENT
            self.polarity = msg["polarity"]
            self.open_ms, self.open_until = None, 0
        elif name == "fxs_open_loop":
            self.open_ms = msg["ms"]
        elif name == "fxs_oht":
            if msg["ms"] == 0:
                return AckStatus.BAD_ARGUMENT
            self.oht_ms = msg["ms"]
        elif name == "fxs_timing":
            timing = FxsTiming(msg["debounce_ms"], msg["pulse_break_max_ms"], msg["pulse_make_max_ms"],
                               msg["flash_max_ms"])
            if not 0 < timing.debounce_ms < timing.pulse_break_max_ms < timing.flash_max_ms:
                return AckStatus.BAD_ARGUMENT
            if timing.pulse_make_max_ms <= timing.debounce_ms:
                return AckStatus.BAD_ARGUMENT
            self.timing = timing
        else:
            return AckStatus.WRONG_PORT_TYPE
        return AckStatus.OK

    # -- one tick of drive

    def drive(self, t0: int) -> FxsDrive:
        if self.open_ms is not None:
            self.open_until = FOREVER if self.open_ms == 0 else t0 + self.open_ms
            self.open_ms = None
        if self.oht_ms is not None:
            self.oht_until, self.oht_ms = t0 + self.oht_ms, None
        loop_open = t0 < self.open_until
        if self.cadence is not None and self.hook.stable:
            self.cadence = None  # ring trip: the phone is off hook
        ringing = np.zeros(MS_PER_TICK, dtype=bool)
        if self.cadence is not None and not loop_open:
            if self.ring_start is None:
                self.ring_start = t0
            bounds = np.cumsum(self.cadence)
            phase = (np.arange(t0, t0 + MS_PER_TICK) - self.ring_start) % int(bounds[-1])
            ringing = np.searchsorted(bounds, phase, side="right") % 2 == 0
            if self.oht_until > t0:
                ringing &= np.arange(t0, t0 + MS_PER_TICK) >= self.oht_until
        return FxsDrive(ringing_ms=ringing, polarity=self.polarity, loop_open=loop_open)

    @property
    def ringing(self) -> bool:
        return self.cadence is not None

    # -- detection

    def quiet(self, t0: int, inputs_unchanged: bool) -> bool:
        """Nothing can happen this tick: no input change, no debounce or timer pending."""
        hook = self.hook
        if not inputs_unchanged or hook.raw != hook.stable:
            return False
        t_end = t0 + MS_PER_TICK - 1
        if self.phase == HookPhase.BREAK and self.break_start + self.timing.flash_max_ms <= t_end:
            return False
        if self.phase == HookPhase.MAKE and self.make_start + self.timing.pulse_make_max_ms <= t_end:
            return False
        return True

    def detect(self, t0: int, samples: np.ndarray, loop_open: bool) -> list[tuple[str, dict]]:
        """Hook samples (bool per ms) of one tick to events (name, fields with card ms ``t``)."""
        events: list[tuple[str, dict]] = []
        timing = self.timing
        for k in range(MS_PER_TICK):
            t = t0 + k
            # without battery the SLIC cannot see the loop: the hook state is frozen
            value = self.hook.raw if loop_open else bool(samples[k])
            edge = self.hook.sample(t, value, timing.debounce_ms)
            if edge is not None:
                self._transition(self.hook.stable, edge, events)
            self._timers(t, events)
        return events

    def _transition(self, offhook: bool, edge: int, events: list) -> None:
        phase = self.phase
        if phase == HookPhase.ON_HOOK and offhook:
            self.phase = HookPhase.OFF_HOOK
            self.pulses = 0
            events.append(("fxs_off_hook", {"t": edge}))
        elif phase == HookPhase.OFF_HOOK and not offhook:
            self.phase, self.break_start = HookPhase.BREAK, edge
        elif phase == HookPhase.MAKE and not offhook:
            self.phase, self.break_start = HookPhase.BREAK, edge
        elif phase == HookPhase.BREAK and offhook:
            length = edge - self.break_start
            if length <= self.timing.pulse_break_max_ms:
                self.pulses += 1
                self.phase, self.make_start = HookPhase.MAKE, edge
            else:
                self._end_digit(self.break_start, events)
                self.phase = HookPhase.OFF_HOOK
                events.append(("fxs_flash", {"ms": min(length, MAX_MS_FIELD), "t": self.break_start}))

    def _timers(self, t: int, events: list) -> None:
        if self.phase == HookPhase.BREAK and not self.hook.raw and t - self.break_start >= self.timing.flash_max_ms:
            self.pulses = 0  # an unfinished digit dies with the call
            self.phase = HookPhase.ON_HOOK
            events.append(("fxs_on_hook", {"t": self.break_start}))
        elif self.phase == HookPhase.MAKE and self.hook.raw and t - self.make_start >= self.timing.pulse_make_max_ms:
            self._end_digit(self.make_start, events)
            self.phase = HookPhase.OFF_HOOK

    def _end_digit(self, t: int, events: list) -> None:
        if self.pulses:
            events.append(("fxs_digit", {"pulses": min(self.pulses, 255), "t": t}))
            self.pulses = 0

    def snapshot(self, t: int) -> Message:
        offhook = self.phase != HookPhase.ON_HOOK  # as reported: a break is not a hang-up until it is
        return message("port_status", port=self.port, hook=int(offhook), ringing=int(self.ringing),
                       polarity=self.polarity, line=0, volts_dv=0, t_ms=t)


class FxoPort:
    """One DAA: hook switch (seize, flash, pulse dialling schedule); ring, polarity, line detection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reset()

    def reset(self) -> None:
        self.timing = FxoTiming()
        self.predial_ms = FXO_PREDIAL_MS  # fxo_line_timing (protocol 1.1) sets it per port
        self.ring_qualify_ms = 0  # 0: no fxo_ring_held
        self.held_reported = False  # fxo_ring_held already sent for the current burst
        self.seized = False
        self.seized_since: int | None = None  # ms the hook switch closed (set by the first drive after seize)
        self.queued: deque[tuple[str, int]] = deque()  # flash / dial commands not yet scheduled
        self.breaks: deque[tuple[int, int]] = deque()  # scheduled on-hook intervals [start, end)
        self.plan_end = 0  # when the last scheduled flash or digit is over
        self.ring = Debounced()
        self.in_train = False
        self.burst_start = 0
        self.last_off = 0
        self.polarity = 1  # as the snapshot announces it before any sample: a reversed line is reported
        self.line_state: LineState | None = None
        self.line_candidate: LineState | None = None
        self.line_since = 0
        self.volts = 0.0
        self.drop_start: int | None = None
        self.drop_reported = False

    def apply(self, msg: Message) -> AckStatus:
        name = msg.name
        if name == "fxo_seize":
            if not self.seized:
                self.seized, self.seized_since = True, None
        elif name == "fxo_release":
            self.seized, self.seized_since = False, None
            self.queued.clear()
            self.breaks.clear()
            self.plan_end = 0
        elif name in ("fxo_flash", "fxo_dial"):
            if not self.seized:
                return AckStatus.BAD_STATE
            value = msg["ms"] if name == "fxo_flash" else msg["pulses"]
            if value == 0 or (name == "fxo_dial" and value > 10):
                return AckStatus.BAD_ARGUMENT
            self.queued.append((name, value))
        elif name == "fxo_line_timing":
            self.ring_qualify_ms, self.predial_ms = msg["ring_qualify_ms"], msg["predial_ms"]
        elif name == "fxo_country":
            fields = {key: value for key, value in msg.fields.items() if key != "port"}
            timing = FxoTiming(**fields)
            if min(timing.dial_break_ms, timing.dial_make_ms, timing.ring_end_ms) == 0:
                return AckStatus.BAD_ARGUMENT
            self.timing = timing
        else:
            return AckStatus.WRONG_PORT_TYPE
        return AckStatus.OK

    def drive(self, t0: int) -> FxoDrive:
        if self.seized and self.seized_since is None:
            self.seized_since = t0  # a seize acknowledged before tick N closes the loop at its first ms
        earliest = t0 if self.seized_since is None else self.seized_since + self.predial_ms  # pre-dial hold
        start = max(t0, self.plan_end, earliest)
        while self.queued:
            kind, value = self.queued.popleft()
            if kind == "fxo_flash":
                self.breaks.append((start, start + value))
                start += value
            else:
                for _ in range(value):
                    self.breaks.append((start, start + self.timing.dial_break_ms))
                    start += self.timing.dial_break_ms + self.timing.dial_make_ms
                start += self.timing.dial_interdigit_ms
            self.plan_end = start
        offhook = np.full(MS_PER_TICK, self.seized, dtype=bool)
        t_end = t0 + MS_PER_TICK
        while self.breaks and self.breaks[0][1] <= t0:
            self.breaks.popleft()
        if self.seized:
            for begin, end in self.breaks:
                if begin >= t_end:
                    break
                offhook[max(begin, t0) - t0 : min(end, t_end) - t0] = False
        return FxoDrive(offhook_ms=offhook)

    def detect(self, t0: int, ring_ms: np.ndarray, offhook_ms: np.ndarray, polarity: int, volts: float,
               loop_ma: float) -> list[tuple[str, dict]]:
        events: list[tuple[str, dict]] = []
        timing = self.timing
        t_end = t0 + MS_PER_TICK - 1
        if self.seized and self.in_train:
            self.in_train = False
            events.append(("fxo_ring_end", {"t": t0}))
        samples = np.zeros(MS_PER_TICK, dtype=bool) if self.seized else ring_ms
        raw = self.ring.raw
        qualify = self.ring_qualify_ms
        busy = (
            raw != self.ring.stable
            or bool((samples != raw).any())
            or (self.in_train and not self.ring.stable and self.last_off + timing.ring_end_ms <= t_end)
            or (qualify and self.ring.stable and not self.held_reported and self.burst_start + qualify <= t_end)
        )
        if busy:
            for k in range(MS_PER_TICK):
                t = t0 + k
                # a burst on through ms t-1 (raw holds the last sample) has lasted t - burst_start ms
                if qualify and self.ring.stable and self.ring.raw and not self.held_reported \
                        and t - self.burst_start >= qualify:
                    self.held_reported = True
                    events.append(("fxo_ring_held", {"t": t}))
                edge = self.ring.sample(t, bool(samples[k]), timing.ring_debounce_ms)
                if edge is not None:
                    self._ring_edge(self.ring.stable, edge, events)
                if self.in_train and not self.ring.raw and not self.ring.stable \
                        and t - self.last_off >= timing.ring_end_ms:
                    self.in_train = False
                    events.append(("fxo_ring_end", {"t": t}))
        if polarity != self.polarity:
            self.polarity = polarity
            events.append(("fxo_polarity", {"polarity": polarity, "t": t_end}))
        whole_tick_offhook = bool(offhook_ms.all())
        if self.seized and whole_tick_offhook and loop_ma < LOOP_MA_MIN:
            if self.drop_start is None:
                self.drop_start, self.drop_reported = t0, False
            if not self.drop_reported and t_end + 1 - self.drop_start >= timing.loop_drop_min_ms:
                self.drop_reported = True
                events.append(("fxo_loop_drop", {"ms": min(t_end + 1 - self.drop_start, MAX_MS_FIELD),
                                                 "t": self.drop_start}))
        else:
            self.drop_start = None
        if not offhook_ms.any():
            self._line(t0, volts, events)
        else:
            self.line_candidate = None
        return events

    def _ring_edge(self, on: bool, edge: int, events: list) -> None:
        if on:
            off_ms = min(edge - self.last_off, MAX_MS_FIELD) if self.in_train else FIRST_RING
            self.in_train = True
            self.burst_start = edge
            self.held_reported = False
            events.append(("fxo_ring_on", {"off_ms": off_ms, "t": edge}))
        elif self.in_train:
            self.last_off = edge
            events.append(("fxo_ring_off", {"on_ms": min(edge - self.burst_start, MAX_MS_FIELD), "t": edge}))

    def _line(self, t0: int, volts: float, events: list) -> None:
        magnitude = abs(volts)
        if magnitude < LINE_VOLTS_ABSENT_MAX:
            state = LineState.ABSENT
        elif magnitude < LINE_VOLTS_IN_USE_MAX:
            state = LineState.IN_USE
        else:
            state = LineState.IDLE
        self.volts = magnitude
        if state == self.line_state:
            self.line_candidate = None
            return
        if state != self.line_candidate:
            self.line_candidate, self.line_since = state, t0
        if t0 + MS_PER_TICK - self.line_since >= self.timing.line_debounce_ms:
            self.line_state = state
            self.line_candidate = None
            events.append(("fxo_line", {"state": int(state), "volts_dv": min(int(round(magnitude * 10)), 0xFFFF),
                                        "t": self.line_since}))

    @property
    def ringing(self) -> bool:
        return self.in_train

    def snapshot(self, t: int) -> Message:
        state = self.line_state if self.line_state is not None and not self.seized else LineState.UNKNOWN
        return message("port_status", port=self.port, hook=int(self.seized), ringing=int(self.in_train),
                       polarity=self.polarity, line=int(state),
                       volts_dv=min(int(round(self.volts * 10)), 0xFFFF), t_ms=t)
