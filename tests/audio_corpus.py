"""Real speech and music for tests, from the Debian packages the Makefile installs.

- speech: ``asterisk-core-sounds-en-wav`` (one female voice, 351 prompts, about 21 minutes,
  8 kHz 16-bit mono) in ``/usr/share/asterisk/sounds/en_US_f_Allison``;
- music: ``asterisk-moh-opsound-wav`` (five music-on-hold tracks, 8 kHz) in
  ``/usr/share/asterisk/moh``.

Every function takes a seed (or an explicit ``numpy.random.Generator``) so the same call gives
the same samples. Samples are float64 on the 16-bit scale, at the recording's own level unless
scaled with ``scale_to_dbm0``. A missing corpus is an error (``make install`` installs it),
never a skip: a test that skips silently cannot fail.

    from audio_corpus import music, scale_to_dbm0, speech   # pytest puts tests/ on sys.path
    x = scale_to_dbm0(speech(10.0, seed=1), -20.0)   # 10 s of prompts at -20 dBm0 active level
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from drivers.audiofile import read_audio
from dsp import SAMPLE_RATE
from dsp.levels import dbm0_to_rms

SPEECH_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
MUSIC_DIR = Path("/usr/share/asterisk/moh")
NOT_SPEECH = frozenset(
    {
        "ascending-2tone",
        "descending-2tone",
        "beep",
        "beeperr",
        "confbridge-join",
        "confbridge-leave",
        "tt-monkeys",
    }
)
ACTIVE_FLOOR_DBM0 = -50.0  # samples are "active" in 5 ms blocks above this level (see scale_to_dbm0)


def _wavs(folder: Path, package: str) -> list[Path]:
    paths = sorted(folder.glob("*.wav"))
    if not paths:
        raise FileNotFoundError(
            f"no WAV files in {folder}: install the Debian package {package} (make install)"
        )
    return paths


def speech_paths() -> list[Path]:
    """The spoken prompts (the package's beeps, tones and monkey screams left out)."""
    return [path for path in _wavs(SPEECH_DIR, "asterisk-core-sounds-en-wav") if path.stem not in NOT_SPEECH]


def music_paths() -> list[Path]:
    return _wavs(MUSIC_DIR, "asterisk-moh-opsound-wav")


@functools.cache
def _load(path: Path) -> np.ndarray:
    samples = read_audio(path).astype(np.float64)
    samples.setflags(write=False)
    return samples


def _generator(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def prompt(name: str) -> np.ndarray:
    """One prompt by file name without ``.wav``, e.g. ``prompt("hello")`` (read-only)."""
    path = SPEECH_DIR / f"{name}.wav"
    if path not in speech_paths():
        raise FileNotFoundError(f"no spoken prompt {path}")
    return _load(path)


def utterances(count: int, seed: int | np.random.Generator) -> list[np.ndarray]:
    """``count`` different prompts, picked at random (each is a read-only array)."""
    paths = speech_paths()
    picks = _generator(seed).choice(len(paths), size=min(count, len(paths)), replace=False)
    return [_load(paths[i]) for i in picks]


def speech(
    seconds: float, seed: int | np.random.Generator, gap_ms: tuple[float, float] = (100.0, 600.0)
) -> np.ndarray:
    """Random prompts back to back, separated by digital-silence gaps drawn from ``gap_ms``,
    cut to exactly ``seconds``."""
    rng = _generator(seed)
    paths = speech_paths()
    wanted = round(seconds * SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    total = 0
    for index in rng.permutation(len(paths)):
        if total >= wanted:
            break
        gap = np.zeros(round(rng.uniform(*gap_ms) * SAMPLE_RATE / 1000.0))
        pieces += [_load(paths[index]), gap]
        total += len(pieces[-2]) + len(gap)
    return np.concatenate(pieces)[:wanted] if pieces else np.zeros(wanted)


def music(seconds: float, seed: int | np.random.Generator) -> np.ndarray:
    """``seconds`` of one music-on-hold track from a random starting point."""
    rng = _generator(seed)
    paths = music_paths()
    track = _load(paths[rng.integers(len(paths))])
    wanted = round(seconds * SAMPLE_RATE)
    if len(track) < wanted:
        track = np.tile(track, -(-wanted // len(track)))
    start = int(rng.integers(len(track) - wanted + 1))
    return track[start : start + wanted].copy()


def active_mask(samples: np.ndarray, block_ms: float = 5.0) -> np.ndarray:
    """Per sample: inside a ``block_ms`` block whose level is above ``ACTIVE_FLOOR_DBM0``
    (a simple stand-in for the ITU-T P.56 active speech level's activity detection)."""
    block = round(block_ms * SAMPLE_RATE / 1000.0)
    count = len(samples) // block
    power = np.mean(np.square(samples[: count * block]).reshape(count, block), axis=1)
    active = np.repeat(power > dbm0_to_rms(ACTIVE_FLOOR_DBM0) ** 2, block)
    return np.concatenate([active, np.zeros(len(samples) - len(active), dtype=bool)])


def scale_to_dbm0(samples: np.ndarray, level_dbm0: float) -> np.ndarray:
    """``samples`` scaled so that their active parts (``active_mask``) have power ``level_dbm0``."""
    active = active_mask(samples)
    source = samples[active] if active.any() else samples
    rms = float(np.sqrt(np.mean(np.square(source))))
    if rms == 0.0:
        raise ValueError("cannot scale digital silence to a level")
    return samples * (dbm0_to_rms(level_dbm0) / rms)
