"""Shared helpers for the DTMF tests: building test signals and running the detector.

Signals are float64 on the 16-bit scale at 8 kHz. Many test cases run as the channels of
one ``DtmfDetector`` (that is what it is built for), each channel padded to one length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from drivers.audiofile import read_audio
from dsp.dtmf import DtmfDetector, DtmfDigit, DtmfStart
from dsp.dtmfgen import digit_tones, tone_pair
from dsp.g711 import alaw_roundtrip, ulaw_roundtrip
from dsp.levels import dbm0_to_rms

MS = 8  # samples per millisecond at 8 kHz
LEAD_MS = 60.0  # silence before the first tone of a test signal
SPEECH_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
MUSIC_DIR = Path("/usr/share/asterisk/moh")


@dataclass
class Tone:
    """One tone burst of a test signal, placed at ``start`` samples."""

    digit: str
    start: int
    length: int
    low_dbm0: float = -10.0
    high_dbm0: float = -10.0
    low_offset: float = 0.0  # relative frequency deviation, 0.015 = +1.5 %
    high_offset: float = 0.0

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass
class Case:
    """A test signal: tone bursts on silence, plus what may be added underneath."""

    tones: list[Tone] = field(default_factory=list)
    length: int = 0

    def add(self, tone: Tone) -> Case:
        self.tones.append(tone)
        self.length = max(self.length, tone.end)
        return self

    def render(self, total: int) -> np.ndarray:
        x = np.zeros(total)
        for t in self.tones:
            low, high = digit_tones(t.digit)
            x[t.start : t.end] += tone_pair(
                low * (1 + t.low_offset),
                high * (1 + t.high_offset),
                t.low_dbm0,
                t.high_dbm0,
                t.length,
                t.start,
            )
        return x


def single(digit: str, on_ms: float = 60.0, offset: int = 0, **kw: float) -> Case:
    """One tone of ``on_ms`` starting ``offset`` samples after the lead-in."""
    return Case().add(Tone(digit, int(LEAD_MS * MS) + offset, int(round(on_ms * MS)), **kw))


def render_all(cases: Sequence[Case], tail_ms: float = 120.0) -> np.ndarray:
    """(len(cases), samples) float64: every case on its own channel, padded with silence."""
    total = max(c.length for c in cases) + int(tail_ms * MS)
    return np.stack([c.render(total) for c in cases])


def companded(x: np.ndarray, codec: str) -> np.ndarray:
    """``x`` through a G.711 coder and decoder (``codec`` "ulaw", "alaw" or "linear")."""
    pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    if codec == "ulaw":
        return ulaw_roundtrip(pcm).astype(np.float64)
    if codec == "alaw":
        return alaw_roundtrip(pcm).astype(np.float64)
    return pcm.astype(np.float64)


def white_noise(shape: tuple[int, ...], level_dbm0: float, seed: int) -> np.ndarray:
    """Gaussian white noise (flat 0-4 kHz) of power ``level_dbm0``."""
    return np.random.default_rng(seed).normal(0.0, dbm0_to_rms(level_dbm0), shape)


def run(x: np.ndarray, block: int = 160) -> tuple[list[list[DtmfDigit]], list[DtmfStart]]:
    """Digits per channel (after ``finish``) and all start events, feeding ``block`` samples."""
    x = np.atleast_2d(x)
    detector = DtmfDetector(x.shape[0])
    events = []
    for at in range(0, x.shape[1], block):
        events += detector.process(x[:, at : at + block])
    events += detector.finish()
    digits: list[list[DtmfDigit]] = [[] for _ in range(x.shape[0])]
    for event in events:
        if isinstance(event, DtmfDigit):
            digits[event.channel].append(event)
    return digits, [e for e in events if isinstance(e, DtmfStart)]


def digit_strings(digits: list[list[DtmfDigit]]) -> list[str]:
    return ["".join(d.digit for d in channel) for channel in digits]


def corpus(folder: Path, recursive: bool = False) -> list[np.ndarray]:
    """Every WAV file of a folder as float64 8 kHz samples; a missing corpus is an error."""
    paths = sorted(folder.rglob("*.wav") if recursive else folder.glob("*.wav"))
    if not paths:
        raise FileNotFoundError(f"no WAV files in {folder}: run make install (Debian sound packages)")
    return [read_audio(p).astype(np.float64) for p in paths]


def stack_channels(signals: list[np.ndarray], channels: int) -> np.ndarray:
    """Signals end to end, cut into ``channels`` rows of equal length (zero-padded)."""
    x = np.concatenate(signals)
    per = -(-x.size // channels)
    return np.pad(x, (0, per * channels - x.size)).reshape(channels, per)
