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

How: ``dsp.dtmf_frames.FrameAnalyzer`` says which 25 ms frames (hop 5 ms) hold a digit,
and which; a frame only holds a digit if the tone fills it to within about 2.5 ms at each
end. Then, per channel, frame by frame, only for the few channels with a frame holding a
digit or a digit on (plain Python over the analyzer's sparse result):

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
from dsp.dtmf_frames import FRAME_SAMPLES, SUB_BLOCK_SAMPLES, FrameAnalyzer, FramePasses, digit_table

# A digit is recognised at its second consecutive frame: 40 ms tones fill >= 3, 23 ms <= 1.
GAP_FRAMES = 10  # 50 ms without the digit ends it: 10 ms drop-out -> <= 7, 40 ms pause -> >= 12

_NONE = -1  # frame code: no digit
# With more frames holding a digit than this in a block, the channels whose every frame
# holds the digit they have on are found with arrays first (no frame-by-frame pass).
_MANY_PASSES = 32


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
        self._digits = [str(d) for d in digit_table()]
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next sample is sample 0 again."""
        self._frames.reset()
        # Channels with a digit on: [digit code, start sample of its tone, number of its
        # last frame] (frame k ends at sample 40 (k + 1)).
        self._on: dict[int, list[int]] = {}
        self._on_code = np.full(self.channels, _NONE, np.int8)  # the digit on per channel, or none
        # Channels whose latest frame held a digit: its code (all others: none).
        self._previous: dict[int, int] = {}

    @property
    def samples_seen(self) -> int:
        return self._frames.samples_seen

    def process(self, block: np.ndarray) -> list[DtmfEvent]:
        """Feed ``block`` (channels, n); return the events it completes, in time order."""
        passes, first_end, n_frames = self._frames.process(self._check(block))
        if n_frames == 0:
            return []
        first = first_end // SUB_BLOCK_SAMPLES - 1  # number of the block's first frame
        if passes is None and not self._on:
            self._previous.clear()
            return []
        final = first + n_frames - 1
        steady: list[int] = []
        if passes is not None and passes.codes.size > _MANY_PASSES:
            passes, steady = self._steady(passes, n_frames)
            for channel in steady:  # every frame of the block holds the digit on: it goes on
                self._on[channel][2] = final
        # Each channel's frame codes in this block, for the channels with a frame holding a digit.
        codes: dict[int, list[int]] = {}
        if passes is not None:
            for frame, channel, code in zip(
                passes.frames.tolist(), passes.channels.tolist(), passes.codes.tolist(), strict=True
            ):
                mine = codes.get(channel)
                if mine is None:
                    mine = codes[channel] = [_NONE] * n_frames
                mine[frame] = code
        events: list[DtmfEvent] = []
        # A digit on with no frame in this block ends if the gap reaches GAP_FRAMES in it.
        for channel in [ch for ch, (_, _, last) in self._on.items() if final - last >= GAP_FRAMES]:
            if channel not in codes:
                digit, start, last = self._on.pop(channel)
                self._on_code[channel] = _NONE
                report = (last + GAP_FRAMES + 1) * SUB_BLOCK_SAMPLES
                end = (last + 1) * SUB_BLOCK_SAMPLES
                events.append(DtmfDigit(channel, self._digits[digit], start, end, report))
        previous = self._previous
        self._previous = {channel: self._on[channel][0] for channel in steady}
        for channel, mine in codes.items():
            self._replay(channel, mine, first, previous.get(channel, _NONE), events)
        if len(events) > 1:
            events.sort(key=lambda event: (event.report_sample, event.channel, isinstance(event, DtmfStart)))
        return events

    def _steady(self, passes: FramePasses, n_frames: int) -> tuple[FramePasses, list[int]]:
        """The passes of the channels not all of whose frames hold the digit they have on,
        and those channels (nothing happens to them but their digit going on)."""
        continuing = passes.codes == self._on_code[passes.channels]
        if not continuing.any():
            return passes, []
        whole = np.bincount(passes.channels[continuing], minlength=self.channels) == n_frames
        if not whole.any():
            return passes, []
        rest = ~whole[passes.channels]
        return FramePasses(*(part[rest] for part in passes)), np.flatnonzero(whole).tolist()

    def finish(self) -> list[DtmfEvent]:
        """End of input: report the digits still on (ending at their last frame)."""
        report = self.samples_seen
        events: list[DtmfEvent] = [
            DtmfDigit(channel, self._digits[digit], start, (last + 1) * SUB_BLOCK_SAMPLES, report)
            for channel, (digit, start, last) in sorted(self._on.items())
        ]
        self._on.clear()
        self._on_code[:] = _NONE
        self._previous.clear()
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

    def _replay(self, ch: int, codes: list[int], first: int, previous: int, events: list[DtmfEvent]) -> None:
        """The frame-by-frame state machine of channel ``ch`` over this block's frames
        (numbered from ``first``); ``previous``: the code of the frame before them."""
        state = self._on.get(ch)
        digit, start, last = state if state is not None else (_NONE, 0, 0)
        for number, code in enumerate(codes, start=first):
            if code == _NONE:
                if digit != _NONE and number - last >= GAP_FRAMES:
                    end = (last + 1) * SUB_BLOCK_SAMPLES
                    events.append(
                        DtmfDigit(ch, self._digits[digit], start, end, (number + 1) * SUB_BLOCK_SAMPLES)
                    )
                    digit = _NONE
            elif code == digit:
                last = number
            elif code == previous:  # a new digit, recognised at its second frame
                frame_end = (number + 1) * SUB_BLOCK_SAMPLES
                if digit != _NONE:
                    end = (last + 1) * SUB_BLOCK_SAMPLES
                    events.append(DtmfDigit(ch, self._digits[digit], start, end, frame_end))
                # The run began with the previous frame, one hop before this one.
                digit, start, last = code, frame_end - FRAME_SAMPLES - SUB_BLOCK_SAMPLES, number
                events.append(DtmfStart(ch, self._digits[digit], start, frame_end))
            elif digit != _NONE and number - last >= GAP_FRAMES:
                end = (last + 1) * SUB_BLOCK_SAMPLES
                events.append(
                    DtmfDigit(ch, self._digits[digit], start, end, (number + 1) * SUB_BLOCK_SAMPLES)
                )
                digit = _NONE
            previous = code
        if digit == _NONE:
            self._on.pop(ch, None)
        else:
            self._on[ch] = [digit, start, last]
        self._on_code[ch] = digit
        if previous != _NONE:
            self._previous[ch] = previous
