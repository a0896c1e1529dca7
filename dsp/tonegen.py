"""Rendering tone specs (``dsp.toneplans.ToneSpec``) to samples, for any number of channels.

``ToneGenerator(channels)`` holds, per channel, the tone being played and how many samples
of it have been produced. ``process(n)`` returns the next ``n`` samples of every channel as
one ``(channels, n)`` array: every output sample is computed from its own sample index
since ``play()``, so the signal does not depend on how it is cut into blocks (phase
continuity across blocks of any length, cadence boundaries exact to the sample) and nothing
accumulates rounding error over hours. Each segment starts its sines at phase 0, so every
burst of a cadence begins at a zero crossing (no click).

All channels are computed together: the cadences are padded to a common number of segments
and looked up with array indexing, the sines are one ``numpy.sin`` over
``(channels, n, components)``. ``render(spec, n)`` is the one-channel shortcut for files
and tests.

Levels follow ``dsp.levels`` (sine peak 22,826 = 0 dBm0): each frequency of a sum at the
tone's level, a modulated tone (``f1*f2``) with the total power of the level. Output is
float64 on the 16-bit scale, not rounded or clipped.
"""

from __future__ import annotations

import math

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.levels import db_to_amplitude_ratio, dbm0_to_peak
from dsp.toneplans import ToneSpec

MAX_COMPONENTS = 3  # sines per segment: a sum of up to three, or a carrier and two side tones
_NEVER = np.iinfo(np.int64).max // 4  # "no end" for continuous segments


def _ms_to_samples(duration_ms: float) -> int:
    return _NEVER if math.isinf(duration_ms) else int(round(duration_ms * SAMPLE_RATE / 1000.0))


class _Program:
    """One tone compiled to sample boundaries and per-segment (Hz, peak) tables."""

    def __init__(self, spec: ToneSpec, level_dbm0: float) -> None:
        lengths = [_ms_to_samples(s.duration_ms) for s in spec.segments]
        if any(n <= 0 for n in lengths):
            raise DspError(f"tone {spec.name!r} has a segment shorter than one sample")
        self.ends = np.cumsum(np.array(lengths, dtype=np.int64))
        self.cycle = int(self.ends[-1])
        self.repeat = spec.repeat and self.cycle < _NEVER
        self.hz = np.zeros((len(lengths), MAX_COMPONENTS))
        self.peak = np.zeros((len(lengths), MAX_COMPONENTS))
        for i, segment in enumerate(spec.segments):
            if segment.frequency is None:
                continue
            components = segment.frequency.components()
            if len(components) > MAX_COMPONENTS:
                raise DspError(f"tone {spec.name!r}: at most {MAX_COMPONENTS} frequencies at once")
            scale = dbm0_to_peak(level_dbm0) * db_to_amplitude_ratio(segment.gain_db)
            for k, (hz, relative) in enumerate(components):
                if not 0.0 < hz < SAMPLE_RATE / 2:
                    raise DspError(f"tone {spec.name!r}: {hz:g} Hz is outside 0..4000 Hz")
                self.hz[i, k] = hz
                self.peak[i, k] = scale * relative


class ToneGenerator:
    """Per-channel tone players rendered together, block by block."""

    def __init__(self, channels: int) -> None:
        if not isinstance(channels, int) or channels < 1:
            raise DspError(f"channels must be a positive integer, got {channels!r}")
        self.channels = channels
        self._programs: list[_Program | None] = [None] * channels
        self._position = np.zeros(channels, dtype=np.int64)  # samples since play()
        self._tables: tuple[np.ndarray, ...] | None = None  # padded arrays, rebuilt on change

    def play(self, channel: int, spec: ToneSpec, level_dbm0: float | None = None) -> None:
        """Start ``spec`` on ``channel`` from its beginning (at its own level unless given)."""
        self._check_channel(channel)
        if not isinstance(spec, ToneSpec):
            raise DspError(f"play() needs a ToneSpec, got {type(spec).__name__}")
        level = spec.level_dbm0 if level_dbm0 is None else float(level_dbm0)
        if not math.isfinite(level) or level > 3.14:
            raise DspError(f"tone level must be finite and at most +3.14 dBm0 (full scale), got {level}")
        self._programs[channel] = _Program(spec, level)
        self._position[channel] = 0
        self._tables = None

    def stop(self, channel: int) -> None:
        self._check_channel(channel)
        self._programs[channel] = None
        self._tables = None

    def playing(self, channel: int) -> bool:
        """True while ``channel`` has a tone that still sounds (a one-shot tone ends)."""
        self._check_channel(channel)
        program = self._programs[channel]
        return program is not None and (program.repeat or self._position[channel] < program.cycle)

    def process(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` of every channel, shape ``(channels, n_samples)``."""
        if not isinstance(n_samples, (int, np.integer)) or n_samples < 0:
            raise DspError(f"n_samples must be a non-negative integer, got {n_samples!r}")
        out = np.zeros((self.channels, int(n_samples)))
        active = [i for i, p in enumerate(self._programs) if p is not None]
        if not active or n_samples == 0:
            self._position += n_samples
            return out
        if self._tables is None:
            self._tables = self._build_tables(active)
        rows, ends, starts, cycle, repeat, hz, peak = self._tables
        t = self._position[rows, None] + np.arange(n_samples, dtype=np.int64)  # (a, n)
        in_cycle = np.where(repeat[:, None], t % cycle[:, None], t)
        # Segment index = how many boundaries are behind (a handful per channel).
        segment = np.sum(in_cycle[:, :, None] >= ends[:, None, :], axis=2)
        local = in_cycle - np.take_along_axis(starts, segment, axis=1)  # samples into the segment
        index = segment[:, :, None]
        freq = np.take_along_axis(hz[:, None, :, :], index[..., None], axis=2)[:, :, 0, :]
        amp = np.take_along_axis(peak[:, None, :, :], index[..., None], axis=2)[:, :, 0, :]
        cycles = np.mod(freq * (local[:, :, None] / SAMPLE_RATE), 1.0)
        out[rows] = np.sum(amp * np.sin(2.0 * np.pi * cycles), axis=2)
        self._position += n_samples
        return out

    def _build_tables(self, active: list[int]) -> tuple[np.ndarray, ...]:
        programs = [self._programs[i] for i in active]
        width = max(len(p.ends) for p in programs) + 1  # + one silent segment past the end
        ends = np.full((len(active), width), _NEVER * 2, dtype=np.int64)
        starts = np.zeros((len(active), width + 1), dtype=np.int64)
        hz = np.zeros((len(active), width + 1, MAX_COMPONENTS))
        peak = np.zeros_like(hz)
        for a, p in enumerate(programs):
            count = len(p.ends)
            ends[a, :count] = p.ends
            starts[a, 1 : count + 1] = p.ends
            hz[a, :count] = p.hz
            peak[a, :count] = p.peak
        cycle = np.array([p.cycle for p in programs], dtype=np.int64)
        repeat = np.array([p.repeat for p in programs])
        return np.array(active), ends, starts, cycle, repeat, hz, peak

    def _check_channel(self, channel: int) -> None:
        if not isinstance(channel, (int, np.integer)) or not 0 <= channel < self.channels:
            raise DspError(f"channel must be 0..{self.channels - 1}, got {channel!r}")


def render(spec: ToneSpec, n_samples: int, level_dbm0: float | None = None) -> np.ndarray:
    """The first ``n_samples`` of ``spec`` as a 1-D float64 array (16-bit scale)."""
    generator = ToneGenerator(1)
    generator.play(0, spec, level_dbm0)
    return generator.process(n_samples)[0]
