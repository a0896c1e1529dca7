"""The ringing of an incoming call as a timeline: caller-ID sequence, then the cadence.

An exchange alerts a line with its country's ring cadence (on/off pairs in ms, repeated)
and sends caller ID where the standard puts it: Telcordia GR-30-CORE between the first and
second ring, ETSI EN 300 659-1 and BT SIN 227 before the first ring (after a line reversal
and an alerting signal), DTMF caller ID before the first ring. The sequence is the list of
``dsp.callerid_sequence.Segment`` s the caller-ID layer builds (audio, line reversal,
ring); this module lays it out on the sample clock and then continues the zone's cadence
in phase with the last ring of the sequence, which stands for the first burst of a cadence
cycle (the caller-ID layer makes it as long as the zone's first burst): once the sequence
is over, ring voltage follows the cadence pattern timed from the start of that ring. A
sequence without a ring (or none at all) is followed by the cadence at once.

Audio positions are exact to the sample; ring voltage is per ms (a ring segment that
starts mid-millisecond starts at the next whole ms). Everything is precomputed as arrays
once per call, so a tick is two slices.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from board import BoardError
from board.virtual.media import SAMPLES_PER_MS
from dsp.callerid_sequence import Segment, SegmentKind


class AlertingProgram:
    """Ring voltage, audio and line reversals of one incoming call, from its start (ms 0)."""

    def __init__(self, cadence_ms: Sequence[int], segments: Sequence[Segment] = ()) -> None:
        cadence = [int(v) for v in cadence_ms]
        if not cadence or len(cadence) % 2 or any(v <= 0 for v in cadence) or list(cadence_ms) != cadence:
            raise BoardError(f"ring cadence must be on/off pairs of positive whole ms, got {list(cadence_ms)}")
        self.cadence_ms = tuple(cadence)
        self._pattern = np.concatenate([np.full(v, i % 2 == 0, dtype=bool) for i, v in enumerate(cadence)])
        self.period_ms = int(self._pattern.size)

        rings: list[tuple[int, int]] = []  # (start ms, length ms)
        audio_parts: list[tuple[int, np.ndarray]] = []  # (start sample, samples)
        reversals: list[int] = []
        at = 0  # samples from the start of the call
        for index, segment in enumerate(segments):
            if not isinstance(segment, Segment):
                raise BoardError(f"caller-ID segment {index} is not a Segment: {segment!r}")
            if segment.kind is SegmentKind.AUDIO:
                samples = np.asarray(segment.samples, dtype=np.float64)
                if samples.ndim != 1:
                    raise BoardError(f"caller-ID segment {index}: audio must be 1-D, got shape {samples.shape}")
                audio_parts.append((at, samples))
                at += samples.size
            elif segment.kind is SegmentKind.RING:
                length = int(round(segment.duration_ms))
                if length <= 0:
                    raise BoardError(f"caller-ID segment {index}: a ring must last >= 1 ms, got {segment.duration_ms}")
                start = -(-at // SAMPLES_PER_MS)
                rings.append((start, length))
                at = (start + length) * SAMPLES_PER_MS
            elif segment.kind is SegmentKind.LINE_REVERSAL:
                reversals.append(-(-at // SAMPLES_PER_MS))
            else:
                raise BoardError(f"caller-ID segment {index}: {segment.kind.value} (off-hook caller ID) is not simulated")
        self.intro_ms = -(-at // SAMPLES_PER_MS)
        self._intro_ring = np.zeros(self.intro_ms, dtype=bool)
        for start, length in rings:
            self._intro_ring[start : start + length] = True
        self._intro_audio = np.zeros(self.intro_ms * SAMPLES_PER_MS)
        for start, samples in audio_parts:
            self._intro_audio[start : start + samples.size] = samples
        self.reversals_ms = tuple(reversals)
        self.cadence_phase_ms = rings[-1][0] if rings else self.intro_ms  # where a cadence cycle starts

    def ring(self, start_ms: int, n_ms: int) -> np.ndarray:
        """Ring voltage (bool) for ms ``start_ms .. start_ms + n_ms`` of the call."""
        t = np.arange(start_ms, start_ms + n_ms)
        out = np.zeros(n_ms, dtype=bool)
        intro = t < self.intro_ms
        out[intro] = self._intro_ring[t[intro]]
        cadence = ~intro
        out[cadence] = self._pattern[(t[cadence] - self.cadence_phase_ms) % self.period_ms]
        return out

    def audio(self, start_ms: int, n_ms: int) -> np.ndarray:
        """Line audio (float, 16-bit scale) for the same span; silence after the sequence."""
        first = start_ms * SAMPLES_PER_MS
        out = np.zeros(n_ms * SAMPLES_PER_MS)
        if first < self._intro_audio.size:
            piece = self._intro_audio[first : first + out.size]
            out[: piece.size] = piece
        return out

    def burst_end_ms(self, burst: int) -> int:
        """When the ``burst``-th ring burst (1-based) of the call ends, in ms from its start."""
        if burst < 1:
            raise BoardError(f"burst number must be >= 1, got {burst}")
        ring = self.ring(0, self.intro_ms + (burst + 1) * self.period_ms)
        padded = np.concatenate(([False], ring, [False])).astype(np.int8)
        return int(np.flatnonzero(np.diff(padded) == -1)[burst - 1])
