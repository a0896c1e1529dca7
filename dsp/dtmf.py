"""DTMF receiver for many channels at once, to ITU-T Q.24.

``DtmfDetector(channels).process(block)`` takes blocks shaped ``(channels, n)`` of any
length ``n`` (int16 or float on the 16-bit scale, 8 kHz) and returns the events those
samples complete, in time order:

- ``DtmfStart(channel, digit, start_sample, report_sample)`` as soon as a digit is
  recognised: at most 35 ms after its tone began (Q.24 asks for 40 ms tones to be
  detected, so nothing can be sure earlier; the engine uses it to cut a prompt short);
- ``DtmfDigit(channel, digit, start_sample, end_sample, report_sample)`` when the digit
  is over (50 ms of no tone, or another digit recognised), or at ``finish()``.

Sample numbers count from the first sample fed to the detector (per channel: all
channels advance together). ``start_sample`` .. ``end_sample`` (exclusive) is the tone
as measured, to about ±4 ms; ``report_sample`` is the number of samples the detector had
seen when it decided, so ``report_sample - start_sample`` is the reporting delay.

How: ``dsp.dtmf_frames`` says which 25 ms frames (hop 5 ms) hold a digit, and which; a
frame only holds a digit if the tone fills it to within about 2.5 ms at each end. Then,
per channel, frame by frame:

- a digit is recognised at its second consecutive frame: a tone of
  40 ms or more fills at least 3 frames, one of 23 ms or less at most 1 (Q.24);
- it lasts while frames of the same digit keep coming; ``GAP_FRAMES`` frames without it
  (50 ms) end it. A 10 ms drop-out spoils at most 7 frames and is bridged; a 40 ms pause
  spoils at least 12 and separates two digits (Q.24);
- a different digit, once recognised itself, ends the current one.

Both run in one compiled call per block for all channels (``dsp.dtmf_kernel.receive``,
numba): the cost is a few microseconds per call plus a fraction of one per channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsp import DspError
from dsp import dtmf_kernel as kernel
from dsp.dtmf_frames import SUB_BLOCK_SAMPLES, digit_table, frame_tables
from dsp.jit import ready

GAP_FRAMES = kernel.GAP_FRAMES  # 50 ms without the digit ends it: 10 ms drop-out -> <= 7, 40 ms pause -> >= 12
# Longer blocks go to the kernel in pieces of this many samples, so that the event rows
# it may write (channels x (frames + 3)) stay a small array.
CHUNK_SAMPLES = 640
_INT16 = np.dtype(np.int16)


@dataclass(frozen=True)
class DtmfStart:
    """A digit has been recognised; its tone is still on."""

    channel: int
    digit: str
    start_sample: int
    report_sample: int


@dataclass(frozen=True)
class DtmfDigit:
    """A digit, from the start to the end of its tone (``end_sample`` exclusive)."""

    channel: int
    digit: str
    start_sample: int
    end_sample: int
    report_sample: int


DtmfEvent = DtmfStart | DtmfDigit


def warm_up() -> None:
    """Compiles the receiver's kernel for its declared block types (int16, float64), so that
    numba caches them (``linebox dsp warm``, run at install as the engine's user), and runs
    a block of each through it."""
    detector = DtmfDetector(1)
    detector.process(np.zeros((1, SUB_BLOCK_SAMPLES), np.int16))
    detector.process(np.zeros((1, SUB_BLOCK_SAMPLES), np.float64))


class DtmfDetector:
    """DTMF receiver state for ``channels`` channels (see the module docstring)."""

    def __init__(self, channels: int) -> None:
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
            raise DspError(f"channels must be a positive integer, got {channels!r}")
        self.channels = int(channels)
        self._tables = frame_tables()
        self._digits = [str(d) for d in digit_table()]
        self._event_rows = self.channels * (CHUNK_SAMPLES // SUB_BLOCK_SAMPLES + 4)
        self._kernel = kernel.receive
        self._shapes: set[tuple[int, ...]] = set()  # block shapes checked once (see process)
        self.reset()
        # The kernel is compiled (or loaded from numba's cache) now, for the block types it
        # declares, not on the first block: the engine builds its detectors before its first tick.
        ready(kernel.receive)

    def reset(self) -> None:
        """Forget everything: the next sample is sample 0 again."""
        c = self.channels
        # The kernel's limits and tables, then the last five sub-blocks of each channel:
        # samples, values, energy.
        self._floats = np.zeros(kernel.RING_AT + c * kernel.RING * kernel.RING_WIDTH, np.float32)
        constants = self._tables.constants
        self._floats[: constants.size] = constants
        self._floats[kernel.BASIS_AT : kernel.RING_AT] = self._tables.basis.reshape(-1)
        # Per channel: the digit on (or none), its start sample, its last frame; the code of
        # the latest frame (frame k ends at sample 40 (k + 1)). Then: sub-blocks done,
        # samples of the next one held. Then the rows of the events of a call.
        self._ints = np.zeros((c + 1 + self._event_rows, kernel.EVENT_COLUMNS), np.int64)
        self._ints[:c, kernel.ON_DIGIT] = kernel.NO_DIGIT
        self._ints[:c, kernel.PREVIOUS] = kernel.NO_DIGIT

    @property
    def samples_seen(self) -> int:
        done, held = self._ints[self.channels, :2].tolist()
        return done * SUB_BLOCK_SAMPLES + held

    def process(self, block: np.ndarray) -> list[DtmfEvent]:
        """Feed ``block`` (channels, n); return the events it completes, in time order."""
        if not (  # the engine's case, in a few 0.1 µs: int16, C-contiguous, a shape seen before
            block.__class__ is np.ndarray
            and block.dtype is _INT16
            and block.shape in self._shapes
            and block.flags.c_contiguous
        ):
            block = self._check(block)
            if block.shape[1] > CHUNK_SAMPLES:
                events: list[DtmfEvent] = []
                for at in range(0, block.shape[1], CHUNK_SAMPLES):
                    events += self.process(block[:, at : at + CHUNK_SAMPLES])
                return events
            self._shapes.add(block.shape)  # (channels, n <= CHUNK_SAMPLES): at most that many
        count = self._kernel(block, self._floats, self._ints)
        if count == 0:
            return []
        if count < 0:  # cannot happen: _event_rows is enough for CHUNK_SAMPLES
            raise DspError("DTMF receiver: no room for the events of a block")
        found = self._ints[self.channels + 1 : self.channels + 1 + count]
        if count > 1:  # time order; at one sample, by channel, a digit's end before a start
            found = found[np.lexsort((found[:, kernel.EV_KIND], found[:, kernel.EV_CHANNEL], found[:, kernel.EV_REPORT]))]
        digits = self._digits
        return [
            DtmfStart(channel, digits[code], start, report)
            if kind == kernel.KIND_START
            else DtmfDigit(channel, digits[code], start, end, report)
            for channel, kind, code, start, end, report in found.tolist()
        ]

    def finish(self) -> list[DtmfEvent]:
        """End of input: report the digits still on (ending at their last frame)."""
        report = self.samples_seen
        state = self._ints[: self.channels]
        on = np.flatnonzero(state[:, kernel.ON_DIGIT] != kernel.NO_DIGIT)
        events: list[DtmfEvent] = [
            DtmfDigit(channel, self._digits[digit], start, (last + 1) * SUB_BLOCK_SAMPLES, report)
            for channel, (digit, start, last, *_) in zip(on.tolist(), state[on].tolist(), strict=True)
        ]
        state[:, kernel.ON_DIGIT] = kernel.NO_DIGIT
        state[:, kernel.PREVIOUS] = kernel.NO_DIGIT
        return events

    def _check(self, block: np.ndarray) -> np.ndarray:
        """``block`` as the kernel takes it: C-contiguous int16 or float64 (its two declared types)."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise DspError(f"DTMF block must be shaped ({self.channels}, samples), got {block.shape}")
        if block.dtype.kind not in "iuf":
            raise DspError(f"DTMF block must hold int16 or float samples, got {block.dtype}")
        if block.dtype.kind == "f" and block.size and not np.isfinite(block).all():
            raise DspError("DTMF block holds NaN or infinite samples")
        return np.ascontiguousarray(block, dtype=block.dtype if block.dtype == np.int16 else np.float64)
