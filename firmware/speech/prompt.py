"""Custom prompts made fit for the line: 8 kHz, trimmed, levelled to -18 dBm0 active speech.

The level is the *active speech level* of ITU-T P.56 (method B): the power over the samples
where the speech envelope is above a threshold, the threshold being found where the active
level stands :data:`P56_MARGIN_DB` above it. The envelope is the rectified signal smoothed
twice with a 30 ms time constant, held 200 ms (P.56's hangover); it is computed here on
1 ms blocks, which is well inside those constants. The hangover counts in the active time,
as in P.56, so a lone 1 s tone reads about 1 dB under its own level.
"""

from __future__ import annotations

import numpy as np

from dsp import SAMPLE_RATE
from dsp.levels import rms_to_dbm0
from firmware.media.words import trim_silence
from firmware.speech.api import SpeechError

TARGET_DBM0 = -18.0
P56_MARGIN_DB = 15.9  # ITU-T P.56 method B: the margin M between active level and threshold
P56_TIME_CONSTANT_S = 0.03
P56_HANGOVER_S = 0.2
BLOCK = SAMPLE_RATE // 1000  # 1 ms
MAX_PROMPT_S = 600


def active_level_dbm0(samples: np.ndarray) -> float | None:
    """The active speech level (ITU-T P.56 method B) in dBm0; None for silence."""
    x = np.asarray(samples, dtype=np.float64)
    blocks = x.size // BLOCK
    if blocks == 0 or not np.any(x):
        return None
    magnitude = np.abs(x[: blocks * BLOCK]).reshape(blocks, BLOCK).mean(axis=1)
    g = np.exp(-1.0 / (P56_TIME_CONSTANT_S * 1000))  # per 1 ms block
    p = q = 0.0
    envelope = np.empty(blocks)
    for i, m in enumerate(magnitude):  # two first-order smoothers in cascade (P.56, 3.2)
        p = g * p + (1 - g) * m
        q = g * q + (1 - g) * p
        envelope[i] = q
    energy = (x[: blocks * BLOCK].reshape(blocks, BLOCK) ** 2).sum(axis=1)
    hang = int(P56_HANGOVER_S * 1000)
    previous: tuple[float, float] | None = None
    for threshold_db in np.arange(-20.0, 91.0, 1.0):  # thresholds in dB on the 16-bit scale
        above = envelope >= 10 ** (threshold_db / 20)
        if not above.any():
            break
        # hangover: a block counts as active up to 200 ms after the envelope was above
        active = np.convolve(above.astype(float), np.ones(hang + 1))[:blocks] > 0
        level_db = 10 * np.log10(energy[active].sum() / (active.sum() * BLOCK))
        difference = level_db - threshold_db
        if difference <= P56_MARGIN_DB:
            if previous is None:
                return float(rms_to_dbm0(10 ** (level_db / 20)))
            prev_level, prev_difference = previous
            share = (prev_difference - P56_MARGIN_DB) / (prev_difference - difference)
            level = prev_level + share * (level_db - prev_level)
            return float(rms_to_dbm0(10 ** (level / 20)))
        previous = (level_db, difference)
    if previous is None:
        return None
    return float(rms_to_dbm0(10 ** (previous[0] / 20)))


def prepare_prompt(samples: np.ndarray, target_dbm0: float = TARGET_DBM0) -> np.ndarray:
    """8 kHz audio as a prompt: leading/trailing silence cut, active level at ``target_dbm0``."""
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise SpeechError(f"prompt: audio must be mono, got shape {x.shape}")
    if x.size > MAX_PROMPT_S * SAMPLE_RATE:
        raise SpeechError(f"prompt: longer than {MAX_PROMPT_S} s")
    trimmed = trim_silence(x)
    level = active_level_dbm0(trimmed)
    if level is None:
        raise SpeechError("prompt: the audio is silent")
    scaled = trimmed * 10 ** ((target_dbm0 - level) / 20)
    return np.clip(np.round(scaled), -32768, 32767).astype(np.int16)
