"""FSK modem of caller ID: Bell 202 and ITU-T V.23 mode 2 at 1200 bit/s, asynchronous 8N1.

Standards (binary 1 = mark, 0 = space):

- Bell 202, as used by Telcordia GR-30-CORE for on-hook and off-hook data: mark 1200 Hz,
  space 2200 Hz, 1200 bit/s;
- ITU-T V.23 mode 2, as used by ETSI EN 300 659-1 (and BT SIN 227): mark 1300 Hz,
  space 2100 Hz, 1200 bit/s.

Characters are sent asynchronously, least significant bit first, each framed by one start bit
(space) and at least one stop bit (mark) (GR-30-CORE / EN 300 659-2).

Transmitter: ``fsk_modulate`` is a continuous-phase modulator. The phase is integrated
exactly over fractional bit boundaries, so a bit rate that is not a divisor of 8 kHz (6.67
samples per bit) and deliberate bit-rate or frequency errors (for tests) come out right.

Receiver: ``FskReceiver(channels, standard)`` is a state object fed blocks shaped
``(channels, samples)`` of any length (a 1-D block for one channel). Per sample, all numpy
over the whole block and all channels:

1. the signal is mixed down by complex oscillators at the mark and space frequencies and
   summed over a sliding window of one bit (a non-coherent correlator);
2. the discriminator ``d = (|M|² - |S|²) / (|M|² + |S|²)`` is +1 for mark and -1 for space,
   whatever the level; a squelch passes samples whose tone power is above ``min_level_dbm0``.

Per character, not per sample: every mark-to-space crossing of ``d`` in the block, and every
opening of the squelch on a space (a carrier that starts with a start bit), is a
candidate start bit, its time interpolated to a fraction of a sample; all are frame-checked
at once (``d`` read at the middle of the ten bits: start bit space, stop bit mark). The UART
then walks the framed candidates in time order, one character slot at a time for all
channels together (one ``searchsorted`` on channel-keyed positions), skipping candidates
inside the character just read. Each character re-times on its own start edge, so a bit-rate
error of a few percent does not accumulate, and a 160-sample tick costs a handful of numpy
calls whatever the number of channels.

Every byte carries ``quality`` (mean ``|d|`` at its ten bit centres: about 0.9 for clean
Bell 202, 0.7 for V.23 whose tones are closer together, 0.45 for noise), ``gap_bits`` (the
idle time since the previous character) and ``mark_bits`` (how long ``d`` stayed on the mark
side, above ``MARK_D``, right before the start bit: the 55 to 180 mark bits that precede a
caller ID message, where noise and speech rarely hold a mark for more than a few bits).
``dsp.callerid_fsk`` assembles messages from them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.levels import FULL_SCALE, dbm0_to_peak, dbm0_to_rms


@dataclass(frozen=True)
class FskStandard:
    name: str
    mark_hz: float
    space_hz: float
    bit_rate: float

    @property
    def samples_per_bit(self) -> float:
        return SAMPLE_RATE / self.bit_rate


BELL202 = FskStandard("bell202", mark_hz=1200.0, space_hz=2200.0, bit_rate=1200.0)  # GR-30-CORE
V23 = FskStandard("v23", mark_hz=1300.0, space_hz=2100.0, bit_rate=1200.0)  # ITU-T V.23 mode 2, EN 300 659-1
FSK_STANDARDS: tuple[FskStandard, ...] = (BELL202, V23)

DEFAULT_LEVEL_DBM0 = -13.5  # GR-30-CORE nominal transmit level
START_BIT = 0
STOP_BIT = 1
MARK_D = 0.0  # discriminator above this = mark (clean: 0.96 Bell 202, 0.75 V.23)


def fsk_standard(standard: str | FskStandard) -> FskStandard:
    """The standard of that name ("bell202", "v23"), or the standard itself."""
    if isinstance(standard, FskStandard):
        return standard
    for candidate in FSK_STANDARDS:
        if candidate.name == standard:
            return candidate
    names = ", ".join(s.name for s in FSK_STANDARDS)
    raise DspError(f"unknown FSK standard {standard!r} (choose from {names})")


def uart_bits(data: bytes, stop_bits: int = 1) -> np.ndarray:
    """The bits of ``data`` framed 8N1 (start bit, 8 data bits LSB first, ``stop_bits`` marks)."""
    if not isinstance(data, (bytes, bytearray)):
        raise DspError(f"FSK data must be bytes, got {type(data).__name__}")
    if stop_bits < 1:
        raise DspError(f"at least one stop bit is needed, got {stop_bits}")
    values = np.frombuffer(bytes(data), dtype=np.uint8)
    frames = np.empty((len(values), 9 + stop_bits), dtype=np.uint8)
    frames[:, 0] = START_BIT
    frames[:, 1:9] = (values[:, None] >> np.arange(8)) & 1
    frames[:, 9:] = STOP_BIT
    return frames.reshape(-1)


def alternating_bits(count: int) -> np.ndarray:
    """``count`` bits 0, 1, 0, 1 … (a channel seizure: 30 bytes 0x55 framed 8N1 are 300 such bits)."""
    if count < 0:
        raise DspError(f"bit count must be >= 0, got {count}")
    return (np.arange(count) % 2).astype(np.uint8)


def mark_bits(count: int) -> np.ndarray:
    if count < 0:
        raise DspError(f"bit count must be >= 0, got {count}")
    return np.ones(count, dtype=np.uint8)


def fsk_modulate(
    bits: np.ndarray,
    standard: str | FskStandard,
    level_dbm0: float = DEFAULT_LEVEL_DBM0,
    bit_rate_error: float = 0.0,
    frequency_error: float = 0.0,
    start_phase: float = 0.0,
) -> np.ndarray:
    """Continuous-phase FSK of ``bits`` (0/1) at ``level_dbm0``; float64, 8 kHz, 16-bit scale.

    ``bit_rate_error`` and ``frequency_error`` are relative (0.01 = 1 % fast / high), for
    testing receivers against GR-30-CORE / EN 300 659-1 tolerances. The output has
    ``ceil(len(bits) * samples_per_bit)`` samples.
    """
    standard = fsk_standard(standard)
    bits = np.asarray(bits)
    if bits.ndim != 1 or (bits.size and not np.isin(bits, (0, 1)).all()):
        raise DspError("FSK bits must be a 1-D array of 0 and 1")
    for name, value in (("bit_rate_error", bit_rate_error), ("frequency_error", frequency_error)):
        if not math.isfinite(value) or abs(value) >= 0.5:
            raise DspError(f"{name} must be a small relative error (|e| < 0.5), got {value!r}")
    if not math.isfinite(level_dbm0):
        raise DspError(f"level_dbm0 must be finite, got {level_dbm0!r}")
    amplitude = dbm0_to_peak(level_dbm0)
    if amplitude > FULL_SCALE:
        raise DspError(f"FSK at {level_dbm0:g} dBm0 would clip (peak {amplitude:.0f} > {FULL_SCALE:.0f})")
    samples_per_bit = standard.samples_per_bit / (1.0 + bit_rate_error)
    frequencies = np.where(bits.astype(bool), standard.mark_hz, standard.space_hz) * (1.0 + frequency_error)
    radians_per_sample = 2.0 * np.pi * frequencies / SAMPLE_RATE
    # Phase at the start of each bit: the integral of the frequency over the earlier bits.
    bit_start_phase = start_phase + np.concatenate(([0.0], np.cumsum(radians_per_sample * samples_per_bit)))
    n_samples = int(math.ceil(len(bits) * samples_per_bit - 1e-9))
    t = np.arange(n_samples, dtype=np.float64)
    bit_index = np.minimum((t / samples_per_bit).astype(np.int64), max(len(bits) - 1, 0))
    if not len(bits):
        return np.zeros(0)
    phase = bit_start_phase[bit_index] + radians_per_sample[bit_index] * (t - bit_index * samples_per_bit)
    return amplitude * np.sin(phase)


@dataclass(frozen=True)
class FskByte:
    """One character received on one channel.

    ``start_sample`` is the leading edge of its start bit (absolute sample index of the
    receiver's input); ``gap_bits`` is the idle time since the end of the previous character's
    stop bit, in bits (``inf`` for the first character); ``mark_bits`` is how long a steady
    mark preceded the start bit, in bits; ``quality`` is the mean ``|d|`` at the ten bit
    centres (1 = clean).
    """

    channel: int
    value: int
    start_sample: float
    gap_bits: float
    mark_bits: float
    quality: float


class FskReceiver:
    """Batched FSK demodulator and UART; ``process(block)`` returns the bytes it completed."""

    FRAME_BITS = 10  # start + 8 data + stop

    def __init__(
        self,
        channels: int,
        standard: str | FskStandard,
        min_level_dbm0: float = -42.0,
    ) -> None:
        if not isinstance(channels, (int, np.integer)) or channels < 1:
            raise DspError(f"channels must be an integer >= 1, got {channels!r}")
        if not math.isfinite(min_level_dbm0):
            raise DspError(f"min_level_dbm0 must be finite, got {min_level_dbm0!r}")
        self.channels = int(channels)
        self.standard = fsk_standard(standard)
        self._bit = self.standard.samples_per_bit
        self._window = int(round(self._bit))  # correlator length: one bit
        self._w_mark = 2.0 * np.pi * self.standard.mark_hz / SAMPLE_RATE
        self._w_space = 2.0 * np.pi * self.standard.space_hz / SAMPLE_RATE
        # Tone power of a sine at min_level (power = peak² / 2 = rms²).
        self._min_tone_power = dbm0_to_rms(min_level_dbm0) ** 2
        # d history long enough to finish a character whose start edge is in the history.
        self._keep = int(math.ceil(self.FRAME_BITS * self._bit)) + 4
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next block starts at sample 0 again."""
        c = self.channels
        self._n = 0  # absolute index of the next input sample
        self._phase_mark = 0.0
        self._phase_space = 0.0
        self._mix_mark = np.zeros((c, self._window - 1), dtype=np.complex128)
        self._mix_space = np.zeros((c, self._window - 1), dtype=np.complex128)
        self._d = np.zeros((c, 0))
        self._ok = np.zeros((c, 0), dtype=bool)
        self._run = np.zeros((c, 0), dtype=np.int64)  # samples of steady mark up to each sample
        self._cursor = np.full(c, -1.0)  # edges are searched at sample indices > cursor
        self._last_end = np.full(c, -np.inf)  # end of the previous character's stop bit

    @property
    def samples_seen(self) -> int:
        return self._n

    @property
    def latency_samples(self) -> float:
        """A character is reported at most this long after its start bit began."""
        return self.FRAME_BITS * self._bit + self._window + 2

    @property
    def clean_discriminator(self) -> float:
        """``|d|`` of a clean, steady tone: below 1 by the other tone's leak into one bit's window."""
        delta = self._w_space - self._w_mark
        leak = abs(np.exp(1j * delta * np.arange(self._window)).sum()) ** 2 / self._window**2
        return float((1.0 - leak) / (1.0 + leak))

    def _as_block(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block)
        if block.ndim == 1 and self.channels == 1:
            block = block[None, :]
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise DspError(f"block must be shaped ({self.channels}, samples), got {block.shape}")
        if block.dtype.kind not in "iuf":
            raise DspError(f"block must hold numeric samples, got dtype {block.dtype}")
        return block.astype(np.float64, copy=False)

    def _discriminate(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``d`` in [-1, 1] (mark > 0) and the squelch, for each new sample (index = window end)."""
        n = x.shape[1]
        t = np.arange(n)
        lo_mark = np.exp(-1j * (self._phase_mark + self._w_mark * t))
        lo_space = np.exp(-1j * (self._phase_space + self._w_space * t))
        self._phase_mark = (self._phase_mark + self._w_mark * n) % (2.0 * np.pi)
        self._phase_space = (self._phase_space + self._w_space * n) % (2.0 * np.pi)
        mark = np.concatenate([self._mix_mark, x * lo_mark], axis=1)
        space = np.concatenate([self._mix_space, x * lo_space], axis=1)
        keep = self._window - 1
        self._mix_mark = mark[:, mark.shape[1] - keep :]
        self._mix_space = space[:, space.shape[1] - keep :]
        e_mark = np.abs(_window_sums(mark, self._window)) ** 2
        e_space = np.abs(_window_sums(space, self._window)) ** 2
        total = e_mark + e_space
        # A sine of peak A gives |sum| = A·L/2 in its own correlator: tone power A²/2 = 2·|sum|²/L².
        ok = 2.0 * total / (self._window * self._window) >= self._min_tone_power
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(total > 0.0, (e_mark - e_space) / total, 0.0)
        return d, ok

    def process(self, block: np.ndarray) -> list[FskByte]:
        x = self._as_block(block)
        n = x.shape[1]
        if n == 0:
            return []
        d_new, ok_new = self._discriminate(x)
        carry = self._run[:, -1] if self._run.shape[1] else np.zeros(self.channels, dtype=np.int64)
        run_new = run_lengths((d_new > MARK_D) & ok_new, carry)
        d = np.concatenate([self._d, d_new], axis=1)
        ok = np.concatenate([self._ok, ok_new], axis=1)
        run = np.concatenate([self._run, run_new], axis=1)
        end = self._n + n  # absolute index one past the last sample
        base = end - d.shape[1]  # absolute index of d[:, 0]
        received = self._uart(d, ok, run, base, end)
        self._n = end
        self._d = d[:, -self._keep :]
        self._ok = ok[:, -self._keep :]
        self._run = run[:, -self._keep :]
        return received

    def _uart(self, d: np.ndarray, ok: np.ndarray, run: np.ndarray, base: int, end: int) -> list[FskByte]:
        c, width = d.shape
        if width < 2:
            return []
        bit = self._bit
        offsets = (np.arange(self.FRAME_BITS) + 0.5) * bit
        # Every mark-to-space crossing is a possible start bit; frame-check them all at once.
        # A carrier that comes on with a space is a start edge too (a seizure's first bit): the
        # squelch opens on the first samples of tone, when d says nothing yet; half a window
        # later d is the start bit's. The window's end is then, like a crossing's, (window - 1)
        # / 2 samples past the start bit's real start (see _emit).
        half = self._window // 2
        falling = ok[:, :-1] & (d[:, :-1] > 0.0) & (d[:, 1:] <= 0.0) & ok[:, 1:]
        opens = np.zeros_like(falling)
        n_open = max(width - 1 - half, 0)
        if n_open:
            opens[:, :n_open] = ~ok[:, :n_open] & ok[:, 1 : n_open + 1] & (d[:, 1 + half :] < 0.0)
        ch_idx, i_idx = np.nonzero(falling | opens)
        onset = opens[ch_idx, i_idx]
        i_idx = i_idx + 1  # index of the first sample at or below zero (or of tone)
        prev, cur = d[ch_idx, i_idx - 1], d[ch_idx, i_idx]
        with np.errstate(invalid="ignore", divide="ignore"):
            crossing = (i_idx - 1) + prev / (prev - cur)
        edge = np.where(onset, i_idx + (self._window - 1) / 2.0, crossing)  # local, fractional
        complete = edge + offsets[-1] + 1.0 < width
        points = np.where(complete, edge, 0.0)[:, None] + offsets[None, :]
        lo = np.minimum(np.floor(points).astype(np.int64), width - 2)  # incomplete ones: ignored
        frac = points - lo
        rows = ch_idx[:, None]
        values = d[rows, lo] * (1.0 - frac) + d[rows, lo + 1] * frac
        framed = complete & (values[:, 0] < 0.0) & (values[:, -1] > 0.0)
        # Only framed characters and edges still waiting for samples matter to the UART.
        keep = framed | ~complete
        ch_idx, i_idx, edge, values, complete = (
            ch_idx[keep],
            i_idx[keep],
            edge[keep],
            values[keep],
            complete[keep],
        )
        stride = width + 1
        keys = ch_idx * stride + i_idx  # sorted: nonzero walks rows in order
        received: list[FskByte] = []
        active = np.arange(c)
        while len(active):
            local_cursor = np.floor(self._cursor[active] - base).astype(np.int64)
            pos = np.searchsorted(keys, active * stride + np.maximum(local_cursor, 0), side="right")
            found = pos < len(keys)
            found[found] = ch_idx[pos[found]] == active[found]
            # Channels without a further character: everything up to the last sample is searched.
            self._cursor[active[~found]] = end - 1
            active, pos = active[found], pos[found]
            waiting = ~complete[pos]
            self._cursor[active[waiting]] = base + i_idx[pos[waiting]] - 1  # find it again next time
            active, pos = active[~waiting], pos[~waiting]
            if not len(active):
                break
            self._emit(active, i_idx[pos], edge[pos], values[pos], run, base, received)
            self._cursor[active] = base + edge[pos] + offsets[-1]  # middle of the stop bit
        received.sort(key=lambda b: (b.start_sample, b.channel))
        return received

    def _emit(
        self,
        channels: np.ndarray,
        i: np.ndarray,
        edge: np.ndarray,
        values: np.ndarray,
        run: np.ndarray,
        base: int,
        received: list[FskByte],
    ) -> None:
        bit = self._bit
        data = ((values[:, 1:9] > 0.0).astype(np.int64) << np.arange(8)).sum(axis=1)
        quality = np.abs(values).mean(axis=1)
        # The steady mark ends where the correlator window starts to see the start bit.
        marks = run[channels, np.maximum(i - self._window, 0)] / bit
        start = base + edge - (self._window - 1) / 2.0  # the correlator reports the window's end
        gap = (start - self._last_end[channels]) / bit
        for k, channel in enumerate(channels):
            received.append(
                FskByte(
                    channel=int(channel),
                    value=int(data[k]),
                    start_sample=float(start[k]),
                    gap_bits=float(gap[k]),
                    mark_bits=float(marks[k]),
                    quality=float(quality[k]),
                )
            )
        self._last_end[channels] = start + self.FRAME_BITS * bit


def _window_sums(values: np.ndarray, length: int) -> np.ndarray:
    """Sums over the last ``length`` samples, for each sample after the first ``length - 1``."""
    cumulative = np.cumsum(values, axis=1)
    cumulative = np.concatenate([np.zeros((values.shape[0], 1), dtype=values.dtype), cumulative], axis=1)
    return cumulative[:, length:] - cumulative[:, :-length]


def run_lengths(flags: np.ndarray, carry: np.ndarray) -> np.ndarray:
    """For each sample, how many samples in a row up to and including it are True.

    ``flags`` is ``(channels, samples)``; ``carry`` is each channel's run at the end of the
    previous block, so runs continue across blocks.
    """
    n = flags.shape[1]
    index = np.arange(n)
    last_false = np.maximum.accumulate(np.where(flags, -1, index[None, :]), axis=1)
    return np.where(last_false < 0, carry[:, None] + index + 1, index - last_false)
