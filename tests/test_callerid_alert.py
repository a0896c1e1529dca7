"""The 2130 + 2750 Hz alert (dsp/callerid_alert.py): CAS (GR-30-CORE), DT-AS (EN 300 659-1),
SIN 227 tone alert; generator and detector."""

from __future__ import annotations

import numpy as np
import pytest
from audio_corpus import music, scale_to_dbm0, speech
from callerid_helpers import feed_in_blocks, on_line, white_noise

from dsp import SAMPLE_RATE, DspError
from dsp.callerid import CallerId, encode_mdmf
from dsp.callerid_alert import (
    ALERT_HIGH_HZ,
    ALERT_LOW_HZ,
    CAS_MS,
    DT_AS_MS,
    AlertToneDetector,
    alert_tone,
)
from dsp.callerid_fsk import fsk_burst
from dsp.levels import signal_dbm0

LEAD = 400


def detect(x: np.ndarray, block: int = 160, **kw) -> list:
    detector = AlertToneDetector(1, **kw)
    return feed_in_blocks(detector.process, x[None, :], [block])


def test_generator_tones_levels_and_duration():
    x = alert_tone(100.0, level_dbm0=-16.0)
    assert len(x) == 800
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=1 << 16))
    freqs = np.fft.rfftfreq(1 << 16, 1.0 / SAMPLE_RATE)
    peaks = sorted(freqs[np.argsort(spectrum)[-200:]])
    assert abs(peaks[0] - ALERT_LOW_HZ) < 15 and abs(peaks[-1] - ALERT_HIGH_HZ) < 15
    low_only = alert_tone(100.0, -16.0, twist_db=-200.0)  # high tone 200 dB down
    assert abs(signal_dbm0(low_only) - (-16.0)) < 0.05  # each tone at the level
    assert abs(signal_dbm0(x) - (-16.0 + 10 * np.log10(2))) < 0.1
    with pytest.raises(DspError):
        alert_tone(100.0, frequency_error=0.5)


@pytest.mark.parametrize(
    "duration_ms", [CAS_MS, 75.0, 85.0, 88.0, DT_AS_MS, 110.0]
)  # GR-30, SIN 227, EN 300 659-1
@pytest.mark.parametrize("level_dbm0", [-6.0, -12.0, -18.0, -24.0, -30.0, -36.0])  # per tone
def test_detected_with_its_duration_at_every_level_and_one_percent_off(duration_ms, level_dbm0):
    for k, frequency_error in enumerate((-0.011, 0.011)):  # SIN 227: tones ±1.1 %
        tone = alert_tone(duration_ms, level_dbm0, frequency_error=frequency_error)
        x = on_line(tone, seed=k, snr_db=20.0, lead=LEAD)
        found = detect(x)
        assert len(found) == 1
        assert abs(found[0].start_sample - LEAD) <= 24  # 3 ms
        assert abs(found[0].duration_ms - duration_ms) <= 3.0


@pytest.mark.parametrize(
    "duration_ms, expected", [(20.0, 0), (35.0, 0), (45.0, 1), (140.0, 1), (160.0, 0), (1000.0, 0)]
)
def test_duration_limits(duration_ms, expected):
    """Default limits 40-150 ms: wide enough for 75-110 ms alerts, not for bursts or steady tones."""
    assert len(detect(on_line(alert_tone(duration_ms), seed=1, lead=LEAD))) == expected


@pytest.mark.parametrize("twist_db, expected", [(-5.0, 1), (5.0, 1), (-8.0, 0), (8.0, 0)])
def test_twist_limit(twist_db, expected):
    assert len(detect(on_line(alert_tone(CAS_MS, -16.0, twist_db=twist_db), seed=1, lead=LEAD))) == expected


def test_level_floor():
    assert detect(on_line(alert_tone(CAS_MS, -46.0), seed=1, lead=LEAD)) == []
    assert len(detect(on_line(alert_tone(CAS_MS, -38.0), seed=1, lead=LEAD))) == 1


@pytest.mark.parametrize("frequency_hz", [ALERT_LOW_HZ, ALERT_HIGH_HZ])
def test_a_single_tone_is_not_the_alert(frequency_hz):
    t = np.arange(int(0.1 * SAMPLE_RATE)) / SAMPLE_RATE
    tone = 5000.0 * np.sin(2 * np.pi * frequency_hz * t)
    assert detect(on_line(tone, seed=1, lead=LEAD)) == []


def test_no_false_alerts_from_speech_music_noise_and_fsk():
    message = encode_mdmf(CallerId(number="0123456789", name="X" * 20))
    for x in (
        scale_to_dbm0(speech(60.0, seed=5), -10.0),
        scale_to_dbm0(music(60.0, seed=5), -10.0),
        white_noise(8000 * 10, -10.0, seed=5),
        fsk_burst(message, "bell202", level_dbm0=-6.0),
        fsk_burst(message, "v23", level_dbm0=-6.0),  # its 2100 Hz space is 30 Hz from 2130 Hz
    ):
        assert detect(x, block=8000) == []


def test_block_length_and_multichannel_independence():
    x = on_line(alert_tone(DT_AS_MS, -20.0), seed=3, snr_db=15.0, lead=1234)
    reference = detect(x, block=len(x))
    assert len(reference) == 1
    for block in (1, 33, 160):
        assert detect(x, block=block) == reference
    lines = np.stack([np.zeros_like(x), x, np.roll(x, 500), white_noise(len(x), -20.0, seed=1)])
    detector = AlertToneDetector(4)
    found = feed_in_blocks(detector.process, lines, [160])
    assert [(t.channel, t.start_sample, t.end_sample) for t in found] == [
        (1, reference[0].start_sample, reference[0].end_sample),
        (2, reference[0].start_sample + 500, reference[0].end_sample + 500),
    ]


def test_detector_rejects_bad_arguments():
    with pytest.raises(DspError):
        AlertToneDetector(0)
    with pytest.raises(DspError):
        AlertToneDetector(1, min_on_ms=100.0, max_on_ms=50.0)
    with pytest.raises(DspError):
        AlertToneDetector(2).process(np.zeros(10))
    assert AlertToneDetector(1).process(np.zeros((1, 0))) == []
