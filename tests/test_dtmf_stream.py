"""The DTMF receiver as a stream processor: any block length, any number of channels,
round trips of random digit strings, and bad input rejected without side effects."""

from __future__ import annotations

import numpy as np
import pytest
from dtmf_helpers import MS, SPEECH_DIR, corpus, digit_strings, run, white_noise
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp import DspError
from dsp.dtmf import DtmfDetector, DtmfDigit, DtmfStart
from dsp.dtmfgen import DIGITS, digit_tones, generate_dtmf, tone_pair


def _events(x: np.ndarray, block: int) -> list:
    detector = DtmfDetector(x.shape[0])
    events = []
    for at in range(0, x.shape[1], block):
        events += detector.process(x[:, at : at + block])
    return events + detector.finish()


def _mixed_channels(seed: int) -> np.ndarray:
    """Three different channels: digits in noise, digits over speech, speech alone."""
    rng = np.random.default_rng(seed)
    n = 8000 * 2
    speech = np.concatenate(corpus(SPEECH_DIR)[:6])[:n]
    a = np.zeros(n)
    burst = generate_dtmf("159#", -12.0, 55, 45)
    a[700 : 700 + burst.size] = burst
    a += white_noise((n,), -30.0, seed)
    b = speech * 0.5
    burst = generate_dtmf("0*D", -15.0, 45, 60)
    start = int(rng.integers(1000, 3000))
    b[start : start + burst.size] = burst
    return np.stack([a, b, speech])


def test_the_same_events_whatever_the_block_length():
    x = _mixed_channels(seed=4)
    reference = _events(x, x.shape[1])
    per_channel = [
        "".join(e.digit for e in reference if isinstance(e, DtmfDigit) and e.channel == ch) for ch in range(3)
    ]
    assert per_channel == ["159#", "0*D", ""]
    for block in (1, 7, 160, 1000):
        assert _events(x, block) == reference, block


def test_channels_are_independent():
    x = _mixed_channels(seed=9)
    together = _events(x, 160)
    for ch in range(x.shape[0]):
        alone = _events(x[ch : ch + 1], 160)
        mine = [e for e in together if e.channel == ch]
        assert [(type(e), e.digit, e.start_sample, e.report_sample) for e in mine] == [
            (type(e), e.digit, e.start_sample, e.report_sample) for e in alone
        ]


def test_a_channel_alone_gives_the_same_events_as_among_many_busy_ones():
    """Many frames passing at once take the array path of the full tests, a few the
    frame-by-frame one (and more than 512 channels are projected in groups): the events of
    a channel must not depend on which (DTMF bursts over speech and noise)."""
    from linebox.bench.dtmf import make_audio

    x = make_audio(600, 6.0, seed=7)
    together = _events(x, 160)
    keyed = sorted({e.channel for e in together if isinstance(e, DtmfDigit)})
    assert len(keyed) > 300 and keyed[-1] >= 512
    for ch in (keyed[0], keyed[len(keyed) // 2], keyed[-1]):
        alone = _events(x[ch : ch + 1], 160)
        mine = [e for e in together if e.channel == ch]
        assert [(type(e), e.digit, e.start_sample, e.report_sample) for e in mine] == [
            (type(e), e.digit, e.start_sample, e.report_sample) for e in alone
        ]


def test_events_come_in_time_order_and_each_digit_starts_before_it_ends():
    x = _mixed_channels(seed=2)
    events = _events(x, 160)
    reports = [e.report_sample for e in events]
    assert reports == sorted(reports)
    open_digit = {}
    for e in events:
        if isinstance(e, DtmfStart):
            assert e.channel not in open_digit
            open_digit[e.channel] = e
        else:
            start = open_digit.pop(e.channel)
            assert (start.digit, start.start_sample) == (e.digit, e.start_sample)
            assert e.start_sample < e.end_sample <= e.report_sample
    assert not open_digit


@st.composite
def keyed_digits(draw):
    """A random digit string with its own level, twist, deviation and timing per digit."""
    count = draw(st.integers(1, 6))
    digits = draw(st.lists(st.sampled_from(DIGITS), min_size=count, max_size=count))
    parts = [np.zeros(draw(st.integers(0, 400)))]
    for digit in digits:
        # Both tones inside Q.24's must-detect range (-35 dBm0 per tone or louder): with a low
        # tone at -33 dBm0 and -7 dB twist the high tone sat at -40 dBm0, between Q.24's operate
        # (-35) and non-operate (-45) limits, where detection is allowed but not required.
        level = draw(st.floats(-28.0, -6.0))
        twist = draw(st.floats(-7.0, 3.0))
        on = int(draw(st.floats(42.0, 150.0)) * MS)
        off = int(draw(st.floats(42.0, 150.0)) * MS)
        low, high = digit_tones(digit)
        shift_low, shift_high = draw(st.floats(-0.012, 0.012)), draw(st.floats(-0.012, 0.012))
        high_level = min(level + twist, -3.0)
        parts.append(tone_pair(low * (1 + shift_low), high * (1 + shift_high), level, high_level, on))
        parts.append(np.zeros(off))
    noise_dbm0 = draw(st.sampled_from([None, -50.0, -55.0]))
    seed = draw(st.integers(0, 2**31))
    block = draw(st.sampled_from([1, 40, 61, 160, 999, 100000]))
    return "".join(digits), np.concatenate(parts), noise_dbm0, seed, block


@settings(max_examples=40, deadline=None)
@given(keyed_digits())
def test_round_trip_of_random_digit_strings(case):
    digits, x, noise_dbm0, seed, block = case
    if noise_dbm0 is not None:
        x = x + white_noise(x.shape, noise_dbm0, seed)
    if block == 1:
        block = 7  # sample-by-sample is covered above; keep hypothesis runs short
    found, _ = run(np.round(x)[None], block=block)
    assert digit_strings(found) == [digits]


def test_finish_reports_a_digit_still_on_and_reset_starts_over():
    x = generate_dtmf("8", -10.0, 100, 0)[None]
    detector = DtmfDetector(1)
    starts = detector.process(x)
    assert [type(e) for e in starts] == [DtmfStart]
    (digit,) = detector.finish()
    assert isinstance(digit, DtmfDigit) and digit.digit == "8" and digit.report_sample == x.shape[1]
    assert abs(digit.end_sample - x.shape[1]) <= 4 * MS
    assert detector.finish() == []
    detector.reset()
    assert detector.samples_seen == 0
    assert detector.process(x) == starts


@pytest.mark.parametrize(
    "block",
    [
        np.zeros((3, 10)),  # wrong channel count
        np.zeros(10),  # not 2-D
        np.zeros((2, 10, 1)),
        np.full((2, 10), np.nan),
        np.full((2, 10), np.inf),
        np.zeros((2, 10), dtype=complex),
        np.array([["a"] * 10] * 2),
    ],
)
def test_bad_blocks_raise_dsp_error_and_change_nothing(block):
    x = np.stack([generate_dtmf("36", -10.0, 50, 50)] * 2)
    clean = _events(x, 160)
    detector = DtmfDetector(2)
    events = detector.process(x[:, :500])
    with pytest.raises(DspError):
        detector.process(block)
    events += detector.process(x[:, 500:]) + detector.finish()
    assert events == clean


@pytest.mark.parametrize("channels", [0, -1, 2.5, "4", True])
def test_bad_channel_counts_raise_dsp_error(channels):
    with pytest.raises(DspError):
        DtmfDetector(channels)


def test_empty_blocks_are_fine():
    detector = DtmfDetector(2)
    assert detector.process(np.zeros((2, 0), dtype=np.int16)) == []
    assert detector.samples_seen == 0
