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

How: ``dsp.dtmf_frames.FrameAnalyzer`` says for every 25 ms frame (hop 5 ms) which digit
it holds, if any; a frame only holds a digit if the tone fills it to within about 2.5 ms
at each end. Then, per channel, in numpy over all channels:

- a digit is recognised at its second consecutive frame: a tone of
  40 ms or more fills at least 3 frames, one of 23 ms or less at most 1 (Q.24);
- it lasts while frames of the same digit keep coming; ``GAP_FRAMES`` frames without it
  (50 ms) end it. A 10 ms drop-out spoils at most 7 frames and is bridged; a 40 ms pause
  spoils at least 12 and separates two digits (Q.24);
- a different digit, once recognised itself, ends the current one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsp import DspError
from dsp.dtmf_frames import FRAME_SAMPLES, SUB_BLOCK_SAMPLES, FrameAnalyzer, digit_table

# A digit is recognised at its second consecutive frame: 40 ms tones fill >= 3, 23 ms <= 1.
GAP_FRAMES = 10  # 50 ms without the digit ends it: 10 ms drop-out -> <= 7, 40 ms pause -> >= 12

_NONE = -1  # frame code: no digit
_OFF = 127  # digit state: no digit on (never equal to a frame code)
_NEVER = 1 << 62  # last frame of the digit on, when there is none


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


class DtmfDetector:
    """DTMF receiver state for ``channels`` channels (see the module docstring)."""

    def __init__(self, channels: int) -> None:
        self._frames = FrameAnalyzer(channels)
        self.channels = self._frames.channels
        self._digits = digit_table()
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next sample is sample 0 again."""
        c = self.channels
        self._frames.reset()
        # Per channel: the digit on (_OFF if none), the start sample of its tone, the number
        # of its last frame (frame k ends at sample 40 (k + 1); _NEVER when no digit is on),
        # and the code of the latest frame.
        self._digit = np.full(c, _OFF, dtype=np.int8)
        self._start = np.zeros(c, dtype=np.int64)
        self._last = np.full(c, _NEVER, dtype=np.int64)
        self._previous = np.full(c, _NONE, dtype=np.int8)
        self._previous_none = False  # True: the latest frame held no digit on any channel
        self._on = 0  # number of channels with a digit on

    @property
    def samples_seen(self) -> int:
        return self._frames.samples_seen

    def process(self, block: np.ndarray) -> list[DtmfEvent]:
        """Feed ``block`` (channels, n); return the events it completes, in time order."""
        codes, first_end, n_frames = self._frames.process(self._check(block))
        if n_frames == 0:
            return []
        first = first_end // SUB_BLOCK_SAMPLES - 1  # number of the block's first frame
        if codes is None:  # no frame holds a digit: only gaps may end the digits on
            self._previous_none = True
            if not self._on:
                return []
            ended = np.flatnonzero(self._last <= first + n_frames - 1 - GAP_FRAMES)
            events: list[DtmfEvent] = []
            if ended.size:
                no_digit = [_NONE] * n_frames
                for ch in ended.tolist():
                    self._replay(ch, no_digit, first, events)
            return self._sorted(events)
        if self._previous_none:
            self._previous[:] = _NONE
            self._previous_none = False
        valid = codes >= 0
        # A channel needs the frame-by-frame pass only if something may happen to it in
        # this block: two equal frames in a row of a digit that is not on (recognition), or
        # a gap that may grow long enough to end the digit on. For all other channels the
        # only news is the last frame of the digit on, set here for all at once.
        earlier = np.concatenate([self._previous[None], codes[:-1]])
        recognised = codes == earlier
        recognised &= codes != self._digit
        recognised &= valid
        eventful = recognised.any(axis=0)
        eventful |= self._last <= first + n_frames - 1 - GAP_FRAMES
        events = []
        replay = np.flatnonzero(eventful)
        saved_last = self._last[replay]
        # 1 + index of the last frame of the digit on in this block, 0 if none.
        seen = ((codes == self._digit) * np.arange(1, n_frames + 1)[:, None]).max(axis=0)
        np.copyto(self._last, seen + (first - 1), where=seen > 0)
        self._last[replay] = saved_last
        for ch in replay.tolist():
            self._replay(ch, codes[:, ch].tolist(), first, events)
        self._previous = codes[-1].copy()
        return self._sorted(events)

    @staticmethod
    def _sorted(events: list[DtmfEvent]) -> list[DtmfEvent]:
        if len(events) > 1:
            events.sort(key=lambda event: (event.report_sample, event.channel, isinstance(event, DtmfStart)))
        return events

    def finish(self) -> list[DtmfEvent]:
        """End of input: report the digits still on (ending at their last frame)."""
        events: list[DtmfEvent] = []
        report = self.samples_seen
        for ch in np.flatnonzero(self._digit != _OFF).tolist():
            end = (int(self._last[ch]) + 1) * SUB_BLOCK_SAMPLES
            events.append(
                DtmfDigit(ch, str(self._digits[self._digit[ch]]), int(self._start[ch]), end, report)
            )
        self._digit[:] = _OFF
        self._last[:] = _NEVER
        self._previous[:] = _NONE
        self._on = 0
        return events

    def _check(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise DspError(f"DTMF block must be shaped ({self.channels}, samples), got {block.shape}")
        if block.dtype.kind not in "iuf":
            raise DspError(f"DTMF block must hold int16 or float samples, got {block.dtype}")
        if block.dtype.kind == "f" and block.size and not np.isfinite(block).all():
            raise DspError("DTMF block holds NaN or infinite samples")
        return block

    def _replay(self, ch: int, codes: list[int], first: int, events: list[DtmfEvent]) -> None:
        """The frame-by-frame state machine of channel ``ch`` over this block's frames
        (numbered from ``first``)."""
        digit = int(self._digit[ch])
        start, last = int(self._start[ch]), int(self._last[ch])
        previous = int(self._previous[ch])
        for number, code in enumerate(codes, start=first):
            frame_end = (number + 1) * SUB_BLOCK_SAMPLES
            if code == digit:
                last = number
            recognised = code >= 0 and code != digit and code == previous
            if digit != _OFF and (recognised or number - last >= GAP_FRAMES):
                end = (last + 1) * SUB_BLOCK_SAMPLES
                events.append(DtmfDigit(ch, str(self._digits[digit]), start, end, frame_end))
                digit, last = _OFF, _NEVER
                self._on -= 1
            if recognised:
                # The run began with the previous frame, one hop before this one.
                digit, start, last = code, frame_end - FRAME_SAMPLES - SUB_BLOCK_SAMPLES, number
                events.append(DtmfStart(ch, str(self._digits[digit]), start, frame_end))
                self._on += 1
            previous = code
        self._digit[ch] = digit
        self._start[ch] = start
        self._last[ch] = last
