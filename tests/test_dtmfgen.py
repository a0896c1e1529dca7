"""DTMF generation: frequencies (ITU-T Q.23), levels per tone, twist sign, timing, errors,
and a cross-check against the independent decoder multimon-ng."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from dsp import DspError
from dsp.dtmfgen import DIGITS, HIGH_GROUP_HZ, KEYPAD, LOW_GROUP_HZ, digit_tones, generate_dtmf, tone_pair
from dsp.levels import dbm0_to_peak, dbm0_to_rms


def _tone_levels_dbm0(x: np.ndarray, low_hz: float, high_hz: float) -> tuple[float, float]:
    """Levels of the sines at ``low_hz`` and ``high_hz`` in ``x``, by a joint least-squares
    fit of cos and sin at both (exact for any length, whole cycles or not)."""
    t = np.arange(x.size) / 8000.0
    basis = np.stack([f(2 * np.pi * hz * t) for hz in (low_hz, high_hz) for f in (np.cos, np.sin)], axis=1)
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    peaks = np.hypot(coef[0::2], coef[1::2])
    low, high = 20 * np.log10(peaks / dbm0_to_peak(0.0))
    return float(low), float(high)


def test_frequency_table_is_q23():
    assert LOW_GROUP_HZ == (697.0, 770.0, 852.0, 941.0)
    assert HIGH_GROUP_HZ == (1209.0, 1336.0, 1477.0, 1633.0)
    assert KEYPAD == ("123A", "456B", "789C", "*0#D")
    assert digit_tones("1") == (697.0, 1209.0)
    assert digit_tones("0") == (941.0, 1336.0)
    assert digit_tones("#") == (941.0, 1477.0)
    assert digit_tones("d") == digit_tones("D") == (941.0, 1633.0)


@pytest.mark.parametrize("digit", list(DIGITS))
def test_each_digit_has_its_two_tones_at_the_level_per_tone(digit):
    x = generate_dtmf(digit, level_dbm0=-13.0, on_ms=100.0, off_ms=0.0)
    low, high = digit_tones(digit)
    assert _tone_levels_dbm0(x, low, high) == pytest.approx((-13.0, -13.0), abs=0.01)
    # Nothing else: the residual after removing both tones is numerically zero.
    assert np.sqrt(np.mean((x - tone_pair(low, high, -13.0, -13.0, x.size)) ** 2)) < 1e-9


@pytest.mark.parametrize("twist_db", [-8.0, -3.0, 0.0, 4.0])
def test_twist_is_high_group_level_minus_low_group_level(twist_db):
    x = generate_dtmf("9", level_dbm0=-12.0, on_ms=100.0, off_ms=0.0, twist_db=twist_db)
    assert _tone_levels_dbm0(x, 852.0, 1477.0) == pytest.approx((-12.0, -12.0 + twist_db), abs=0.01)


def test_timing_tone_then_silence_after_every_digit():
    x = generate_dtmf("12", on_ms=40.0, off_ms=60.0)
    assert x.dtype == np.float64 and x.ndim == 1 and x.size == 2 * (320 + 480)
    on = np.abs(x) > 0
    assert on[:320].sum() >= 318 and not on[320:800].any()
    assert on[800:1120].sum() >= 318 and not on[1120:].any()
    assert generate_dtmf("").size == 0


def test_tone_pair_pieces_join_without_a_phase_jump():
    whole = tone_pair(770.0, 1336.0, -10.0, -16.0, 1000)
    pieces = np.concatenate(
        [tone_pair(770.0, 1336.0, -10.0, -16.0, 333), tone_pair(770.0, 1336.0, -10.0, -16.0, 667, 333)]
    )
    assert np.allclose(whole, pieces)
    assert np.sqrt(np.mean(tone_pair(1000.0, 2000.0, -20.0, -300.0, 8000) ** 2)) == pytest.approx(
        dbm0_to_rms(-20.0), rel=1e-3
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"digits": "1E"},
        {"digits": "12 3"},
        {"digits": "1", "on_ms": -1.0},
        {"digits": "1", "off_ms": float("nan")},
        {"digits": "1", "level_dbm0": float("inf")},
        {"digits": "1", "twist_db": float("nan")},
        {"digits": "1", "level_dbm0": -3.0, "twist_db": 4.0},  # would clip
        {"digits": 5},
    ],
)
def test_bad_requests_raise_dsp_error(kwargs):
    with pytest.raises(DspError):
        generate_dtmf(**kwargs)


def test_tone_pair_rejects_impossible_frequencies():
    with pytest.raises(DspError):
        tone_pair(697.0, 4000.0, -10.0, -10.0, 100)
    with pytest.raises(DspError):
        tone_pair(0.0, 1209.0, -10.0, -10.0, 100)


def _multimon_digits(x: np.ndarray) -> str:
    """Digits multimon-ng hears in ``x`` (8 kHz), resampled to its 22,050 Hz by sox."""
    pcm = np.round(x).astype("<i2").tobytes()
    resampled = subprocess.run(
        [
            "sox",
            "-t",
            "raw",
            "-r",
            "8000",
            "-e",
            "signed",
            "-b",
            "16",
            "-c",
            "1",
            "-",
            "-t",
            "raw",
            "-r",
            "22050",
            "-e",
            "signed",
            "-b",
            "16",
            "-c",
            "1",
            "-",
        ],
        input=pcm,
        capture_output=True,
        check=True,
    ).stdout
    out = subprocess.run(
        ["multimon-ng", "-q", "-c", "-a", "DTMF", "-t", "raw", "-"],
        input=resampled,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return "".join(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("DTMF:"))


@pytest.mark.parametrize("level, twist", [(-10.0, 0.0), (-25.0, -4.0), (-6.0, 2.0)])
def test_multimon_ng_decodes_what_we_generate(level, twist):
    digits = DIGITS + "9876543210"
    x = np.concatenate([np.zeros(800), generate_dtmf(digits, level, 70.0, 70.0, twist), np.zeros(800)])
    assert _multimon_digits(x) == digits
