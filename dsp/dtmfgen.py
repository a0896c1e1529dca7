"""DTMF signal generation (ITU-T Q.23 frequencies, ITU-T Q.24 levels and timing).

A DTMF digit is the sum of two sines, one from the low group (697, 770, 852, 941 Hz, the
keypad rows) and one from the high group (1209, 1336, 1477, 1633 Hz, the columns),
ITU-T Q.23 §2. Levels are per tone in dBm0 (``dsp.levels``), so a digit at -10 dBm0 has
two tones of -10 dBm0 each.

Twist sign convention (used throughout linebox): ``twist_db`` is the high-group tone level
minus the low-group tone level. Q.24 calls a weaker high group "normal twist" (what a line
does to a digit: it loses more at high frequencies), so normal twist is a NEGATIVE
``twist_db`` here (-8.0 = 8 dB normal twist) and reverse twist is positive (+4.0 = 4 dB
reverse twist). With twist, the low-group tone keeps ``level_dbm0`` and the high-group tone
is at ``level_dbm0 + twist_db``.

Output is float64 on the 16-bit linear scale at 8 kHz, not rounded; a request whose peak
would exceed 16-bit full scale raises ``DspError`` instead of clipping.
"""

from __future__ import annotations

import math

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.levels import FULL_SCALE, dbm0_to_peak

LOW_GROUP_HZ: tuple[float, ...] = (697.0, 770.0, 852.0, 941.0)  # ITU-T Q.23 rows
HIGH_GROUP_HZ: tuple[float, ...] = (1209.0, 1336.0, 1477.0, 1633.0)  # ITU-T Q.23 columns
KEYPAD: tuple[str, ...] = ("123A", "456B", "789C", "*0#D")  # rows low group, columns high group
DIGITS = "".join(KEYPAD)


def digit_tones(digit: str) -> tuple[float, float]:
    """The (low-group Hz, high-group Hz) pair of one digit; lower-case a-d accepted."""
    if not isinstance(digit, str) or len(digit) != 1:
        raise DspError(f"DTMF digit must be one character, got {digit!r}")
    key = digit.upper()
    for row, keys in enumerate(KEYPAD):
        column = keys.find(key)
        if column >= 0:
            return LOW_GROUP_HZ[row], HIGH_GROUP_HZ[column]
    raise DspError(f"invalid DTMF digit {digit!r} (valid: 0-9 * # A-D)")


def ms_to_samples(duration_ms: float, name: str = "duration_ms") -> int:
    """Whole samples at 8 kHz nearest to ``duration_ms`` (>= 0, finite)."""
    if not math.isfinite(duration_ms) or duration_ms < 0:
        raise DspError(f"{name} must be a finite number >= 0, got {duration_ms!r}")
    return int(round(duration_ms * SAMPLE_RATE / 1000.0))


def tone_pair(
    low_hz: float,
    high_hz: float,
    low_dbm0: float,
    high_dbm0: float,
    n_samples: int,
    start_sample: int = 0,
) -> np.ndarray:
    """Sum of two sines of any frequencies and independent levels, ``n_samples`` long.

    Each sine has phase 0 at sample 0 of an unbounded time axis and this call returns
    samples ``start_sample .. start_sample + n_samples - 1`` of it, so a tone can be made
    in pieces (e.g. around a drop-out) without a phase jump. Not clipped.
    """
    for name, value in (("low_hz", low_hz), ("high_hz", high_hz)):
        if not math.isfinite(value) or not 0.0 < value < SAMPLE_RATE / 2:
            raise DspError(f"{name} must be between 0 and {SAMPLE_RATE // 2} Hz, got {value!r}")
    for name, value in (("low_dbm0", low_dbm0), ("high_dbm0", high_dbm0)):
        if not math.isfinite(value):
            raise DspError(f"{name} must be a finite level in dBm0, got {value!r}")
    if n_samples < 0 or start_sample < 0:
        raise DspError(f"sample counts must be >= 0, got n_samples={n_samples} start_sample={start_sample}")
    t = np.arange(start_sample, start_sample + n_samples, dtype=np.float64) / SAMPLE_RATE
    return dbm0_to_peak(low_dbm0) * np.sin(2.0 * np.pi * low_hz * t) + dbm0_to_peak(high_dbm0) * np.sin(
        2.0 * np.pi * high_hz * t
    )


def generate_dtmf(
    digits: str,
    level_dbm0: float = -10.0,
    on_ms: float = 50.0,
    off_ms: float = 50.0,
    twist_db: float = 0.0,
) -> np.ndarray:
    """The digits as DTMF, each ``on_ms`` of tone followed by ``off_ms`` of silence.

    ``level_dbm0`` is the low-group tone level; the high-group tone is at
    ``level_dbm0 + twist_db`` (negative twist = high group weaker = Q.24 normal twist).
    The silence follows every digit, the last one included. Returns float64 1-D samples
    at 8 kHz on the 16-bit scale; an empty string gives an empty array.
    """
    if not isinstance(digits, str):
        raise DspError(f"digits must be a string, got {type(digits).__name__}")
    tones = [digit_tones(digit) for digit in digits]
    on_samples = ms_to_samples(on_ms, "on_ms")
    off_samples = ms_to_samples(off_ms, "off_ms")
    if not math.isfinite(twist_db):
        raise DspError(f"twist_db must be finite, got {twist_db!r}")
    if not math.isfinite(level_dbm0):
        raise DspError(f"level_dbm0 must be finite, got {level_dbm0!r}")
    high_dbm0 = level_dbm0 + twist_db
    peak = dbm0_to_peak(level_dbm0) + dbm0_to_peak(high_dbm0)
    if tones and on_samples and peak > FULL_SCALE:
        raise DspError(
            f"DTMF at {level_dbm0:g} dBm0 with {twist_db:+g} dB twist would clip "
            f"(peak {peak:.0f} > {FULL_SCALE:.0f})"
        )
    out = np.zeros(len(tones) * (on_samples + off_samples), dtype=np.float64)
    for index, (low_hz, high_hz) in enumerate(tones):
        start = index * (on_samples + off_samples)
        out[start : start + on_samples] = tone_pair(low_hz, high_hz, level_dbm0, high_dbm0, on_samples)
    return out
