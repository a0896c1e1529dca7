"""Simulated analog phones on the FXS ports.

A phone is a hook switch, a microphone and an earpiece. Its hook state is programmed at
millisecond resolution (the card samples it once per ms): going off-hook, hanging up, a
hook flash of N ms, and pulse dialling, where each digit d is d breaks of the loop (10 for
0) at 10 pulses per second, 60 ms break / 40 ms make, with an inter-digit pause (pulse
dialling is set by national specifications; 10 pps 60/40 is the common one, some countries
use 66/33: the timing is a parameter). DTMF digits are sent as audio
(``dsp.dtmfgen``, ITU-T Q.23 frequencies, Q.24 levels), as is speech played from a file.
The microphone only reaches the line while the loop is closed: during a break or on hook
the phone sends silence, sample-exact per millisecond.

The phone hears everything the card sends it, on hook too (a caller-ID display listens
during the on-hook transmission window), and notes what the card's SLIC does: ringing
(per ms, counting ring bursts), polarity reversals and open-loop disconnect signals. It
can answer by itself after N ring bursts.

Actions take effect from the next tick the world advances; they never read a clock.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass

import numpy as np

from board import BoardError
from board.virtual.analog import MS_PER_TICK, SAMPLES_PER_TICK, FxsDrive
from board.virtual.media import SAMPLES_PER_MS, AudioLog, AudioQueue
from drivers import DriverError
from drivers.audiofile import read_audio
from dsp import DspError
from dsp.dtmfgen import generate_dtmf


@dataclass(frozen=True)
class PulseTiming:
    """Loop-disconnect dialling: 10 pps, 60 ms break / 40 ms make by default."""

    break_ms: int = 60
    make_ms: int = 40
    interdigit_ms: int = 700

    def __post_init__(self) -> None:
        for name in ("break_ms", "make_ms", "interdigit_ms"):
            if getattr(self, name) < 1:
                raise BoardError(f"pulse timing {name} must be >= 1 ms, got {getattr(self, name)}")


class HookPlan:
    """The hook switch as a program of (off_hook, duration_ms) steps; ``None`` = steady."""

    def __init__(self) -> None:
        self.offhook = False  # the state the switch is in now
        self._steps: deque[tuple[bool, int | None]] = deque()

    @property
    def final_offhook(self) -> bool:
        """Where the switch ends when the program has run."""
        return self._steps[-1][0] if self._steps else self.offhook

    @property
    def busy(self) -> bool:
        return bool(self._steps)

    def add(self, offhook: bool, duration_ms: int | None) -> None:
        self._steps.append((offhook, duration_ms))

    def clear(self) -> None:
        self._steps.clear()

    def next_tick(self) -> np.ndarray:
        out = np.empty(MS_PER_TICK, dtype=bool)
        filled = 0
        while filled < MS_PER_TICK:
            if not self._steps:
                out[filled:] = self.offhook
                break
            state, remaining = self._steps[0]
            self.offhook = state
            if remaining is None:
                self._steps.popleft()
                continue
            n = min(remaining, MS_PER_TICK - filled)
            out[filled : filled + n] = state
            filled += n
            if n == remaining:
                self._steps.popleft()
            else:
                self._steps[0] = (state, remaining - n)
        return out


class AnalogPhone:
    """One phone on one FXS port; scripted by tests and scenario runners."""

    def __init__(self, port: int, pulse: PulseTiming | None = None, log_seconds: float = 60.0) -> None:
        self.port = port
        self.pulse = pulse or PulseTiming()
        self._hook = HookPlan()
        self._mouth = AudioQueue()
        self._heard = AudioLog(log_seconds)
        self._rings = deque(maxlen=max(1, int(log_seconds * 1000 / MS_PER_TICK)))
        self.ring_bursts = 0  # rising edges of ring voltage seen since the phone was made
        self.ringing = False  # ring voltage present in the last ms of the last tick
        self.polarity = 1
        self.loop_open = False
        self.polarity_changes: list[tuple[int, int]] = []  # (tick, new polarity)
        self.loop_open_changes: list[tuple[int, bool]] = []  # (tick, open?)
        self._answer_after_bursts: int | None = None
        self._answer_delay_ticks = 0
        self._answer_at_tick: int | None = None
        self._auto: tuple[int, int | None, bool] | None = None  # answer_on_ring's (rings, hangup_after_ms, repeat)
        self._hangup_at_tick: int | None = None
        self.tick = -1  # the last tick this phone took part in

    # -- actions ---------------------------------------------------------------------

    @property
    def is_offhook(self) -> bool:
        """The hook state once pending hook actions (pulses, flashes) have run."""
        return self._hook.final_offhook

    def offhook(self) -> None:
        """Lifts the handset (after any pending hook action); ends an answer_on_ring."""
        self._by_hand()
        self._hook.add(True, None)

    def hangup(self) -> None:
        """Back on hook (after any pending dialling); stops talking; ends an answer_on_ring."""
        self._by_hand()
        self._hook.add(False, None)
        self._mouth.clear()

    def _by_hand(self) -> None:
        """A person takes over: an answer_on_ring's automatic hang-up and repeat stop."""
        self._hangup_at_tick = None
        if self._auto is not None and self._auto[2]:
            self._auto = None
            self._answer_after_bursts = None

    def flash(self, ms: int) -> None:
        """A hook flash: the loop opened for ``ms`` milliseconds, then closed again."""
        self._require_offhook("flash")
        if ms < 1:
            raise BoardError(f"flash must last >= 1 ms, got {ms}")
        self._hook.add(False, int(ms))
        self._hook.add(True, None)

    def dial(
        self,
        digits: str,
        method: str = "dtmf",
        level_dbm0: float = -10.0,
        on_ms: float = 50.0,
        off_ms: float = 50.0,
        twist_db: float = 0.0,
    ) -> None:
        """Dials ``digits``: ``method`` ``dtmf`` (audio) or ``pulse`` (loop breaks)."""
        self._require_offhook("dial")
        if method == "dtmf":
            try:
                tones = generate_dtmf(digits, level_dbm0=level_dbm0, on_ms=on_ms, off_ms=off_ms, twist_db=twist_db)
            except DspError as exc:
                raise BoardError(f"phone {self.port}: cannot dial {digits!r}: {exc}") from None
            self._mouth.push(tones)
        elif method == "pulse":
            if not digits or not digits.isdigit():
                raise BoardError(f"phone {self.port}: pulse dialling sends digits 0-9 only, got {digits!r}")
            for digit in digits:
                for _ in range(int(digit) or 10):
                    self._hook.add(False, self.pulse.break_ms)
                    self._hook.add(True, self.pulse.make_ms)
                self._hook.add(True, self.pulse.interdigit_ms)
            self._hook.add(True, None)
        else:
            raise BoardError(f"phone {self.port}: dialling method must be 'dtmf' or 'pulse', got {method!r}")

    def play(self, path: str | os.PathLike) -> None:
        """Speaks a recorded file (any WAV the box reads) into the line."""
        try:
            samples = read_audio(path)
        except DriverError as exc:
            raise BoardError(f"phone {self.port}: {exc}") from None
        self._mouth.push(samples)

    def say(self, samples: np.ndarray) -> None:
        """Sends ``samples`` (8 kHz, 16-bit scale) after what is already queued."""
        self._mouth.push(samples)

    def loop(self, samples: np.ndarray) -> None:
        """Sends ``samples`` over and over once the queue is empty, until hang-up or stop."""
        self._mouth.loop(samples)

    def stop_talking(self) -> None:
        self._mouth.clear()

    @property
    def talking(self) -> bool:
        return self._mouth.busy

    @property
    def dialling(self) -> bool:
        return self._hook.busy

    def answer_on_ring(self, rings: int = 1, delay_ms: int = 0, hangup_after_ms: int | None = None,
                       repeat: bool = False) -> None:
        """Goes off-hook by itself ``delay_ms`` after the ``rings``-th ring burst from now; with
        ``hangup_after_ms``, back on hook that long after answering; with ``repeat`` (which
        needs ``hangup_after_ms``), answers every later call the same way (an agent taking
        call after call) until :meth:`offhook` or :meth:`hangup` is called by hand."""
        if rings < 1 or delay_ms < 0 or (hangup_after_ms is not None and hangup_after_ms < 1):
            raise BoardError(f"answer_on_ring needs rings >= 1, delay_ms >= 0 and hangup_after_ms >= 1, "
                             f"got {rings}, {delay_ms}, {hangup_after_ms}")
        if repeat and hangup_after_ms is None:
            raise BoardError("answer_on_ring: repeat needs hangup_after_ms (the phone must hang up to ring again)")
        self._answer_after_bursts = self.ring_bursts + rings
        self._answer_delay_ticks = -(-delay_ms // MS_PER_TICK)
        self._auto = (rings, hangup_after_ms, repeat)

    def _require_offhook(self, action: str) -> None:
        if not self._hook.final_offhook:
            raise BoardError(f"phone {self.port} is on hook: cannot {action}")

    # -- observation -----------------------------------------------------------------

    def heard(self, since_tick: int | None = None, last_ms: int | None = None) -> np.ndarray:
        """What the card sent this phone (int16, on hook too), oldest first."""
        return self._heard.samples(since_tick=since_tick, last_ms=last_ms)

    def ring_history(self, since_tick: int | None = None) -> np.ndarray:
        """Ring voltage per ms (bool) for the ticks kept, from ``since_tick`` on."""
        chosen = [r for t, r in self._rings if since_tick is None or t >= since_tick]
        return np.concatenate(chosen) if chosen else np.zeros(0, dtype=bool)

    # -- the tick --------------------------------------------------------------------

    def step(self, tick: int, drive: FxsDrive, audio_in: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One tick: returns (off-hook per ms (20,) bool, microphone audio (160,) int16)."""
        self.tick = tick
        if self._answer_at_tick is not None and tick >= self._answer_at_tick:
            self._answer_at_tick = None
            if not self._hook.final_offhook:
                self._hook.add(True, None)
                if self._auto is not None and self._auto[1] is not None:
                    self._hangup_at_tick = tick + -(-self._auto[1] // MS_PER_TICK)
        if self._hangup_at_tick is not None and tick >= self._hangup_at_tick:
            self._hangup_at_tick = None
            self._hook.add(False, None)
            self._mouth.clear()
            if self._auto is not None and self._auto[2]:  # repeat: ready for the next call's rings
                self._answer_after_bursts = self.ring_bursts + self._auto[0]
        offhook_ms = self._hook.next_tick()
        if offhook_ms.any():
            audio_out = self._mouth.pop_tick()
            if not offhook_ms.all():
                audio_out = audio_out * np.repeat(offhook_ms, SAMPLES_PER_MS)
        else:
            audio_out = np.zeros(SAMPLES_PER_TICK, dtype=np.int16)
        self._heard.append(tick, np.array(audio_in, dtype=np.int16))
        self._observe_drive(tick, drive)
        return offhook_ms, audio_out

    def _observe_drive(self, tick: int, drive: FxsDrive) -> None:
        ringing = np.asarray(drive.ringing_ms, dtype=bool)
        self._rings.append((tick, ringing.copy()))
        previous = np.concatenate(([self.ringing], ringing[:-1]))
        bursts = int(np.count_nonzero(ringing & ~previous))
        if bursts:
            self.ring_bursts += bursts
            if self._answer_after_bursts is not None and self.ring_bursts >= self._answer_after_bursts:
                self._answer_after_bursts = None
                self._answer_at_tick = tick + 1 + self._answer_delay_ticks
        self.ringing = bool(ringing[-1])
        if drive.polarity != self.polarity:
            self.polarity = drive.polarity
            self.polarity_changes.append((tick, drive.polarity))
        if bool(drive.loop_open) != self.loop_open:
            self.loop_open = bool(drive.loop_open)
            self.loop_open_changes.append((tick, self.loop_open))
