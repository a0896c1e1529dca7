"""ITU-T Q.24 sweeps of the DTMF receiver, edges included, with hard pass/fail limits.

Every case is one channel of one multi-channel detector run; each sweep runs on linear
PCM and again through G.711 µ-law and A-law, which must give the same digits.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from dtmf_helpers import (
    LEAD_MS,
    MS,
    Case,
    Tone,
    companded,
    digit_strings,
    render_all,
    run,
    single,
    white_noise,
)

from dsp.dtmfgen import DIGITS, generate_dtmf, tone_pair

CODECS = ("linear", "ulaw", "alaw")
ALIGNMENTS = range(0, 40, 3)  # tone starts at every phase of the detector's 5 ms grid


def assert_digits(cases: list[Case], expected: list[str], codec: str, labels: list) -> list:
    digits, _ = run(companded(render_all(cases), codec))
    got = digit_strings(digits)
    wrong = [
        (label, want, have) for label, want, have in zip(labels, expected, got, strict=True) if want != have
    ]
    assert not wrong, f"{len(wrong)} of {len(cases)} wrong ({codec}), first: {wrong[:5]}"
    return digits


# --- frequency: Q.24 detect within ±1.5 %, reject at ±3.5 % and beyond -------------------

ACCEPT_OFFSETS = (-0.015, -0.01, 0.0, 0.01, 0.015)
# Up to ±6 % a tone stays at least 3.5 % away from every DTMF frequency (further out it
# approaches the neighbouring tone of the group, a different digit).
REJECT_OFFSETS = (-0.06, -0.05, -0.04, -0.035, 0.035, 0.04, 0.05, 0.06)


@pytest.mark.parametrize("codec", CODECS)
def test_frequency_within_1_5_percent_is_detected_in_either_and_both_groups(codec):
    cases, labels = [], []
    for digit, low, high in itertools.product(DIGITS, ACCEPT_OFFSETS, ACCEPT_OFFSETS):
        cases.append(single(digit, 45, offset=len(cases) % 40, low_offset=low, high_offset=high))
        labels.append((digit, low, high))
    assert_digits(cases, [label[0] for label in labels], codec, labels)


@pytest.mark.parametrize("codec", CODECS)
def test_frequency_off_by_3_5_percent_or_more_is_rejected_in_either_group(codec):
    cases, labels = [], []
    for digit, offset in itertools.product(DIGITS, REJECT_OFFSETS):
        for low, high in ((offset, 0.0), (0.0, offset), (offset, offset), (offset, -offset)):
            cases.append(single(digit, 60, offset=len(cases) % 40, low_offset=low, high_offset=high))
            labels.append((digit, low, high))
    assert_digits(cases, [""] * len(cases), codec, labels)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("level", [-3.0, -35.0])
def test_frequency_edges_at_the_level_edges(codec, level):
    cases, labels = [], []
    for digit, low, high in itertools.product(DIGITS, (-0.015, 0.015), (-0.015, 0.015)):
        cases.append(
            single(
                digit,
                40,
                offset=len(cases) % 40,
                low_offset=low,
                high_offset=high,
                low_dbm0=level,
                high_dbm0=level,
            )
        )
        labels.append((digit, low, high))
    assert_digits(cases, [label[0] for label in labels], codec, labels)


# --- duration: detect 40 ms and longer, reject 23 ms and shorter --------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_tones_of_40_ms_and_longer_are_detected_at_every_alignment(codec):
    cases, labels = [], []
    for digit, on_ms, offset in itertools.product(DIGITS, (40.0, 41.0, 45.0, 60.0, 200.0), ALIGNMENTS):
        cases.append(single(digit, on_ms, offset))
        labels.append((digit, on_ms, offset))
    assert_digits(cases, [label[0] for label in labels], codec, labels)


@pytest.mark.parametrize("codec", CODECS)
def test_tones_of_23_ms_and_shorter_are_rejected_at_every_alignment(codec):
    cases, labels = [], []
    for digit, on_ms, offset in itertools.product(DIGITS, (23.0, 20.0, 15.0, 10.0, 5.0), ALIGNMENTS):
        cases.append(single(digit, on_ms, offset))
        labels.append((digit, on_ms, offset))
    assert_digits(cases, [""] * len(cases), codec, labels)


def _two_tones(first: str, second: str, on_ms: float, pause_ms: float, offset: int, **kw: float) -> Case:
    start = int(LEAD_MS * MS) + offset
    on, pause = int(on_ms * MS), int(pause_ms * MS)
    return Case().add(Tone(first, start, on, **kw)).add(Tone(second, start + on + pause, on, **kw))


@pytest.mark.parametrize("codec", CODECS)
def test_a_40_ms_pause_separates_two_digits_even_the_same_digit(codec):
    cases, expected, labels = [], [], []
    for digit, offset in itertools.product(DIGITS, ALIGNMENTS):
        other = DIGITS[(DIGITS.index(digit) + 5) % len(DIGITS)]
        for second in (digit, other):
            cases.append(_two_tones(digit, second, 40.0, 40.0, offset))
            expected.append(digit + second)
            labels.append((digit, second, offset))
    assert_digits(cases, expected, codec, labels)


@pytest.mark.parametrize("codec", CODECS)
def test_a_10_ms_drop_out_inside_a_tone_does_not_split_it(codec):
    cases, expected, labels = [], [], []
    for digit, offset, on_ms in itertools.product(DIGITS, ALIGNMENTS, (40.0, 60.0)):
        cases.append(_two_tones(digit, digit, on_ms, 10.0, offset))
        expected.append(digit)
        labels.append((digit, offset, on_ms))
    assert_digits(cases, expected, codec, labels)


# --- twist: detect 8 dB normal / 4 dB reverse, reject 12 dB normal / 8 dB reverse ----------

# twist_db = high-group level minus low-group level (negative: normal twist).
ACCEPT_TWIST_DB = (-8.0, -6.0, -3.0, 0.0, 2.0, 4.0)
REJECT_TWIST_DB = (-12.0, -14.0, -20.0, 8.0, 10.0, 14.0)


@pytest.mark.parametrize("codec", CODECS)
def test_twist_up_to_8_db_normal_and_4_db_reverse_is_detected(codec):
    cases, labels = [], []
    for digit, twist, low in itertools.product(DIGITS, ACCEPT_TWIST_DB, (-10.0, -20.0)):
        cases.append(single(digit, 40, offset=len(cases) % 40, low_dbm0=low, high_dbm0=low + twist))
        labels.append((digit, twist, low))
    assert_digits(cases, [label[0] for label in labels], codec, labels)


@pytest.mark.parametrize("codec", CODECS)
def test_twist_of_12_db_normal_or_8_db_reverse_and_beyond_is_rejected(codec):
    cases, labels = [], []
    for digit, twist, low in itertools.product(DIGITS, REJECT_TWIST_DB, (-10.0, -20.0)):
        cases.append(single(digit, 60, offset=len(cases) % 40, low_dbm0=low, high_dbm0=low + twist))
        labels.append((digit, twist, low))
    assert_digits(cases, [""] * len(cases), codec, labels)


def test_generate_dtmf_twist_sign_matches_the_detector_limits():
    """generate_dtmf's twist_db is high minus low: -8 (normal) detected, -12 rejected."""
    x = [
        np.concatenate([np.zeros(480), generate_dtmf("5", -10.0, 60, 60, twist)])
        for twist in (-8.0, 4.0, -12.0, 8.0)
    ]
    digits, _ = run(np.stack(x))
    assert digit_strings(digits) == ["5", "5", "", ""]


# --- level: detect -3 .. -35 dBm0 per tone, reject -45 dBm0 and below -----------------------


@pytest.mark.parametrize("codec", CODECS)
def test_levels_from_minus_3_to_minus_35_dbm0_are_detected(codec):
    cases, labels = [], []
    for digit, level in itertools.product(DIGITS, (-3.0, -6.0, -10.0, -20.0, -30.0, -33.0, -35.0)):
        cases.append(single(digit, 40, offset=len(cases) % 40, low_dbm0=level, high_dbm0=level))
        labels.append((digit, level))
    assert_digits(cases, [label[0] for label in labels], codec, labels)


@pytest.mark.parametrize("codec", CODECS)
def test_levels_of_minus_45_dbm0_and_below_are_rejected(codec):
    cases, labels = [], []
    for digit, level in itertools.product(DIGITS, (-45.0, -48.0, -55.0, -70.0)):
        cases.append(single(digit, 100, offset=len(cases) % 40, low_dbm0=level, high_dbm0=level))
        labels.append((digit, level))
    assert_digits(cases, [""] * len(cases), codec, labels)


# --- noise and dial tone -------------------------------------------------------------------


def _sequences(levels: tuple[float, ...], copies: int, on_ms: float = 40.0) -> tuple[np.ndarray, list[float]]:
    """All 16 digits (on_ms on, on_ms off) per channel, ``copies`` channels per level."""
    lead = np.zeros(int(LEAD_MS * MS))
    rows, row_levels = [], []
    for level in levels:
        for _ in range(copies):
            rows.append(np.concatenate([lead, generate_dtmf(DIGITS, level, on_ms, on_ms)]))
            row_levels.append(level)
    return np.stack(rows), row_levels


@pytest.mark.parametrize("codec", CODECS)
def test_every_digit_is_detected_at_12_db_snr(codec):
    """White noise over 0-4 kHz 12 dB below the per-tone level, 12 seeds per level."""
    x, levels = _sequences((-3.0, -10.0, -20.0, -35.0), copies=12)
    noise = np.stack([white_noise(x.shape[1:], level - 12.0, seed) for seed, level in enumerate(levels)])
    digits, starts = run(companded(x + noise, codec))
    assert digit_strings(digits) == [DIGITS] * len(levels)
    # Tone k starts at the lead-in plus k periods of 80 ms; reported within 40 ms, found to 4 ms.
    tone_starts = [int(LEAD_MS * MS) + k * 80 * MS for k in range(len(DIGITS))]
    for channel in digits:
        assert max(abs(d.start_sample - t) for d, t in zip(channel, tone_starts, strict=True)) <= 4 * MS
    by_channel = [[s.report_sample for s in starts if s.channel == ch] for ch in range(len(levels))]
    assert all(
        max(r - t for r, t in zip(reports, tone_starts, strict=True)) <= 40 * MS for reports in by_channel
    )


@pytest.mark.parametrize("codec", CODECS)
def test_dial_tone_at_the_same_level_underneath_does_not_stop_detection(codec):
    """350 + 440 Hz, each tone at the DTMF per-tone level (up to -9 dBm0: four tones at
    that level just fit 16 bits), at several phases."""
    x, levels = _sequences((-9.0, -15.0, -25.0, -35.0), copies=6)
    dial = np.stack(
        [tone_pair(350.0, 440.0, level, level, x.shape[1], 97 * i) for i, level in enumerate(levels)]
    )
    digits, _ = run(companded(x + dial, codec))
    assert digit_strings(digits) == [DIGITS] * len(levels)


def test_dial_tone_alone_and_noise_alone_give_no_digit():
    n = 8000
    x = np.stack(
        [tone_pair(350.0, 440.0, -3.0, -3.0, n), white_noise((n,), -10.0, 3), white_noise((n,), -40.0, 4)]
    )
    digits, _ = run(x)
    assert digit_strings(digits) == ["", "", ""]


# --- timing of the reports -----------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_start_is_reported_within_40_ms_and_start_and_end_within_4_ms(codec):
    cases, labels = [], []
    for digit, on_ms, offset in itertools.product(DIGITS, (40.0, 47.0, 90.0), ALIGNMENTS):
        cases.append(single(digit, on_ms, offset))
        labels.append((digit, on_ms, offset))
    digits, starts = run(companded(render_all(cases), codec))
    assert [len(d) for d in digits] == [1] * len(cases)
    assert sorted(s.channel for s in starts) == list(range(len(cases)))
    tones = [case.tones[0] for case in cases]
    delays = [s.report_sample - tones[s.channel].start for s in starts]
    assert max(delays) <= 40 * MS, max(delays) / MS
    start_errors = [d[0].start_sample - t.start for d, t in zip(digits, tones, strict=True)]
    end_errors = [d[0].end_sample - t.end for d, t in zip(digits, tones, strict=True)]
    assert max(map(abs, start_errors)) <= 4 * MS
    assert max(map(abs, end_errors)) <= 4 * MS
    for d, s in zip(digits, sorted(starts, key=lambda s: s.channel), strict=True):
        assert (d[0].digit, d[0].start_sample) == (s.digit, s.start_sample)
        assert d[0].report_sample > s.report_sample


def test_the_early_report_comes_out_of_the_call_that_completes_it():
    """Fed one sample at a time, the start event is returned by the call that delivers
    sample ``report_sample - 1`` (the detector holds nothing back), within 40 ms."""
    from dsp.dtmf import DtmfDetector, DtmfStart

    start = 333
    x = np.zeros(start + 50 * MS + 100 * MS)
    x[start : start + 50 * MS] = generate_dtmf("7", -20.0, 50, 0)
    detector = DtmfDetector(1)
    seen = []
    for i in range(x.size):
        for event in detector.process(x[None, i : i + 1]):
            seen.append((i, event))
    first = [(i, e) for i, e in seen if isinstance(e, DtmfStart)]
    assert len(first) == 1
    i, event = first[0]
    assert event.digit == "7" and i == event.report_sample - 1
    assert event.report_sample - start <= 40 * MS
