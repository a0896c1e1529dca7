"""On-line caller ID sequences for the simulated exchange (dsp/callerid_sequence.py).

Each variant's timings are measured on the generated samples and checked against the
ranges of its standard (GR-30-CORE, ETSI EN 300 659-1, BT SIN 227, DTMF caller ID), then
the audio is decoded back.
"""

from __future__ import annotations

import numpy as np
import pytest

from dsp import SAMPLE_RATE, DspError
from dsp.callerid import CallerId, encode_mdmf, encode_mwi
from dsp.callerid_alert import AlertToneDetector
from dsp.callerid_decode import decode_recording
from dsp.callerid_dtmf import dtmf_callerid_digits
from dsp.callerid_sequence import (
    DEFAULT_VARIANTS,
    VARIANTS,
    SegmentKind,
    SequenceTiming,
    callerid_sequence,
    sequence_audio,
)

CALLER = CallerId(number="01234567", name="ACME LTD", datetime="11302359")
MESSAGE = encode_mdmf(CALLER)
BIT_MS = 1000.0 / 1200.0


def ms(n: int) -> float:
    return n * 1000.0 / SAMPLE_RATE


def runs(samples: np.ndarray) -> list[tuple[bool, float]]:
    """(sounding?, duration ms) for each run of silence / non-silence in ``samples``.

    A sample is silent when it and both neighbours are exactly 0 (a tone crosses zero on
    single samples), so run edges are exact to one sample (0.125 ms)."""
    nonzero = np.abs(np.concatenate([[0.0], samples, [0.0]])) > 0
    on = nonzero[:-2] | nonzero[1:-1] | nonzero[2:]
    edges = np.flatnonzero(np.diff(on.astype(np.int8))) + 1
    bounds = np.concatenate([[0], edges, [len(samples)]])
    return [(bool(on[a]), ms(b - a)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def kinds(segments) -> list[str]:
    return [s.kind.value for s in segments]


def message_of(samples: np.ndarray, standard: str):
    reports = decode_recording(samples, standard)
    assert len(reports) == 1
    return reports[0]


def alerts(samples: np.ndarray) -> list:
    """Alert tones in ``samples`` (the detector reports a tone once it has ended)."""
    return AlertToneDetector(1).process(np.concatenate([samples, np.zeros(200)])[None, :])


def test_bell202_type1_ring_then_data():
    segments = callerid_sequence("bell202", MESSAGE)
    assert kinds(segments) == ["ring", "audio"]
    assert segments[0].duration_ms == 2000.0  # the first ring of the 2 s / 4 s cadence
    (silent, gap), (sounding, burst) = runs(segments[1].samples)[:2]
    assert not silent and sounding and gap >= 500.0  # GR-30-CORE: data >= 500 ms after the ring
    expected_burst = (300 + 180 + 10 * len(MESSAGE) + 8) * BIT_MS
    assert abs(burst - expected_burst) < 1.0
    assert gap + burst < 4000.0  # fits in the 4 s silence before the second ring
    assert message_of(sequence_audio(segments), "bell202").caller == CALLER


def test_bell202_type2_cas_ack_data():
    segments = callerid_sequence("bell202", MESSAGE, "type2")
    assert kinds(segments) == ["audio", "await_ack", "audio"]
    cas = alerts(segments[0].samples)
    assert len(cas) == 1 and 75.0 <= cas[0].duration_ms <= 85.0  # GR-30-CORE CAS 80 ms
    assert segments[1].duration_ms >= 100.0  # the ACK window
    (silent, gap), (sounding, burst) = runs(segments[2].samples)[:2]
    assert 50.0 <= gap <= 150.0
    assert abs(burst - (80 + 10 * len(MESSAGE) + 8) * BIT_MS) < 1.0  # no seizure, 80 marks
    assert message_of(sequence_audio(segments), "bell202").caller == CALLER


def test_v23_dtas_before_ring():
    segments = callerid_sequence("v23", MESSAGE, "dtas")
    assert kinds(segments) == ["line_reversal", "audio", "audio", "ring"]
    alert_runs = runs(segments[1].samples)
    assert alert_runs[0][0] is False and alert_runs[0][1] >= 100.0  # >= 100 ms after the reversal
    assert alert_runs[1][0] is True and 90.0 <= alert_runs[1][1] <= 110.0  # DT-AS 100 ± 10 ms
    assert alert_runs[2][0] is False and 45.0 <= alert_runs[2][1] <= 500.0  # then FSK 45-500 ms later
    data_runs = runs(segments[2].samples)
    assert data_runs[-1][0] is False and 200.0 <= data_runs[-1][1] <= 500.0  # ring 200-500 ms after
    audio = sequence_audio(segments)
    assert len(alerts(audio)) == 1
    report = message_of(audio, "v23")
    assert report.caller == CALLER and report.standard == "v23"


def test_v23_sin227():
    segments = callerid_sequence("v23", MESSAGE, "sin227")
    assert kinds(segments) == ["line_reversal", "audio", "audio", "ring"]
    alert_runs = runs(segments[1].samples)
    assert alert_runs[0][1] >= 100.0  # silence after the reversal
    assert 88.0 <= alert_runs[1][1] <= 110.0  # idle-state tone alert
    assert alert_runs[2][1] >= 45.0
    data_runs = runs(segments[2].samples)
    assert data_runs[-1][1] >= 200.0  # ring at least 200 ms after the data
    assert message_of(sequence_audio(segments), "v23").caller == CALLER


def test_v23_rpas_and_after_ring():
    rpas = callerid_sequence("v23", MESSAGE, "rpas")
    assert kinds(rpas) == ["ring", "audio", "audio", "ring"]
    assert 200.0 <= rpas[0].duration_ms <= 300.0 and rpas[1].duration_ms >= 500.0
    after = callerid_sequence("v23", MESSAGE, "after_ring")
    assert kinds(after) == ["ring", "audio"]
    assert runs(after[1].samples)[0][1] >= 500.0
    for segments in (rpas, after):
        assert message_of(sequence_audio(segments), "v23").caller == CALLER


@pytest.mark.parametrize("variant", VARIANTS["dtmf"])
def test_dtmf_before_ring(variant):
    digits = dtmf_callerid_digits(CallerId(number="5551234"))
    segments = callerid_sequence("dtmf", digits, variant)
    expected = (["line_reversal", "audio"] if variant == "reversal" else []) + ["audio", "ring"]
    assert kinds(segments) == expected
    if variant == "reversal":
        assert segments[1].duration_ms >= 200.0  # digits >= 200 ms after the reversal
    assert 200.0 <= runs(segments[-2].samples)[-1][1] <= 500.0  # ring 200-500 ms after the digits
    report = message_of(sequence_audio(segments), "dtmf")
    assert report.caller == CallerId(number="5551234") and report.raw == digits


@pytest.mark.parametrize("standard", sorted(VARIANTS))
def test_without_ring_for_message_waiting(standard):
    for variant in VARIANTS[standard]:
        message = dtmf_callerid_digits(CallerId(number="1")) if standard == "dtmf" else encode_mwi(True)
        segments = callerid_sequence(standard, message, variant, ring=False)
        assert SegmentKind.RING.value not in kinds(segments)
        report = message_of(sequence_audio(segments), standard)
        assert report.checksum_ok
        if standard != "dtmf":
            assert report.mwi is True


def test_defaults_and_timing_overrides():
    assert DEFAULT_VARIANTS == {"bell202": "type1", "v23": "dtas", "dtmf": "before_ring"}
    slow = callerid_sequence("v23", MESSAGE, "dtas", timing=SequenceTiming(alert_to_data_ms=400.0))
    assert abs(runs(slow[1].samples)[2][1] - 400.0) < 0.2
    with pytest.raises(DspError):
        SequenceTiming(ring_ms=-1.0)


def test_levels():
    loud = sequence_audio(callerid_sequence("bell202", MESSAGE, ring=False, level_dbm0=-6.0))
    quiet = sequence_audio(callerid_sequence("bell202", MESSAGE, ring=False, level_dbm0=-26.0))
    assert abs(20 * np.log10(np.abs(loud).max() / np.abs(quiet).max()) - 20.0) < 0.01


def test_bad_requests():
    with pytest.raises(DspError, match="standard"):
        callerid_sequence("bell103", MESSAGE)
    with pytest.raises(DspError, match="variant"):
        callerid_sequence("bell202", MESSAGE, "dtas")
    with pytest.raises(DspError, match="digit string"):
        callerid_sequence("dtmf", MESSAGE)
    with pytest.raises(DspError, match="message bytes"):
        callerid_sequence("v23", "A123C")
    with pytest.raises(DspError):
        callerid_sequence("v23", b"")
