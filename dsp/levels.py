"""Level conventions: dBm0 on 16-bit linear PCM, and dB ratios.

ITU-T G.711 puts the digital milliwatt (0 dBm0) at a sine 3.14 dB below the codec's full
scale, so a full-scale sine reads +3.14 dBm0 and 0 dBm0 is a sine of peak 22,826 out of
32,767 on 16-bit linear PCM. Tone levels are given per tone (each tone of a DTMF pair).
Noise and other signals are measured by power: a signal of RMS ``r`` has the level of a
sine of peak ``r * sqrt(2)``.
"""

from __future__ import annotations

import math

import numpy as np

FULL_SCALE_SINE_DBM0 = 3.14  # ITU-T G.711: full-scale sine relative to the digital milliwatt
FULL_SCALE = 32767.0
ZERO_DBM0_PEAK = FULL_SCALE / 10.0 ** (FULL_SCALE_SINE_DBM0 / 20.0)  # ~22,826


def db_to_power_ratio(db: float) -> float:
    return 10.0 ** (db / 10.0)


def db_to_amplitude_ratio(db: float) -> float:
    return 10.0 ** (db / 20.0)


def dbm0_to_peak(level_dbm0: float) -> float:
    """Peak amplitude (16-bit linear) of a sine at ``level_dbm0``."""
    return ZERO_DBM0_PEAK * db_to_amplitude_ratio(level_dbm0)


def dbm0_to_rms(level_dbm0: float) -> float:
    """RMS (16-bit linear) of any signal whose power is ``level_dbm0``."""
    return dbm0_to_peak(level_dbm0) / math.sqrt(2.0)


def rms_to_dbm0(rms: float | np.ndarray) -> float | np.ndarray:
    """Level of a signal with the given RMS; -inf for silence."""
    with np.errstate(divide="ignore"):
        return 20.0 * np.log10(np.asarray(rms, dtype=np.float64) * math.sqrt(2.0) / ZERO_DBM0_PEAK)


def signal_dbm0(samples: np.ndarray, axis: int = -1) -> float | np.ndarray:
    """Level of ``samples`` (16-bit linear scale) over ``axis``."""
    samples = np.asarray(samples, dtype=np.float64)
    return rms_to_dbm0(np.sqrt(np.mean(samples * samples, axis=axis)))
