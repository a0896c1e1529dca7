"""ITU-T G.711 µ-law and A-law against tables derived here from the Recommendation.

The expected values are NOT computed the way ``dsp/g711.py`` computes them (bias arithmetic
and shifts); they are built from the structure G.711 Tables 1a and 2a print:

- µ-law (Table 2a) works on a 14-bit magnitude scale 0..8159. Its eight segments end at the
  decision values 31, 95, 223, 479, 991, 2015, 4063, 8159; each holds 16 intervals of equal
  width (2, 4, 8 … 256). Code 0 of the first segment is the interval [-1, 1] (values 0 and
  -0). The reconstruction value of every interval is its midpoint; 16-bit linear = 4 × that
  (peak ±32,124). The character signal is sign|segment|step with ALL bits inverted, the sign
  bit set for positive values after inversion (0xFF = +0, 0x7F = -0, 0x80 = +peak).
- A-law (Table 1a) works on a 13-bit scale 0..4096; segments end at 32, 64, 128 … 4096, the
  first two with steps of 2 and then 4, 8 … 128; reconstruction values are midpoints
  (1, 3 … 4032), 16-bit = 8 × (peak ±32,256). The character signal is sign|segment|step
  with the even bits inverted (XOR 0x55), the sign bit set for positive values.
- The digital milliwatt (G.711 Tables 5 and 6) is an eight-code sequence per law that
  decodes to a 1 kHz sine at 0 dBm0.

A 16-bit input x stands for the exact value x/4 (µ-law) or x/8 (A-law) on those scales; its
code must be one whose (closed) decision interval holds that value, with the input's sign,
and beyond the last decision value the largest code of that sign (overload).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dsp import DspError, g711
from dsp.levels import signal_dbm0

ULAW_SEGMENT_ENDS = (31, 95, 223, 479, 991, 2015, 4063, 8159)  # G.711 Table 2a, 14-bit scale
ALAW_SEGMENT_ENDS = (32, 64, 128, 256, 512, 1024, 2048, 4096)  # G.711 Table 1a, 13-bit scale
ULAW_SCALE = 4  # 16-bit linear units per 14-bit unit
ALAW_SCALE = 8  # 16-bit linear units per 13-bit unit
ULAW_DIGITAL_MILLIWATT = (0x1E, 0x0B, 0x0B, 0x1E, 0x9E, 0x8B, 0x8B, 0x9E)  # G.711 Table 5
ALAW_DIGITAL_MILLIWATT = (0x34, 0x21, 0x21, 0x34, 0xB4, 0xA1, 0xA1, 0xB4)  # G.711 Table 6


def _intervals(segment_ends: tuple[int, ...], first_start: int) -> list[tuple[int, int, int]]:
    """(segment, lower, upper) decision values of the 128 intervals, in step order."""
    rows = []
    start = first_start
    for segment, end in enumerate(segment_ends):
        width = (end - start) // 16
        assert width * 16 == end - start, "each segment holds 16 equal intervals"
        for step in range(16):
            rows.append((segment, start + step * width, start + (step + 1) * width))
        start = end
    return rows


def _ulaw_table() -> dict[int, tuple[bool, float, float, float]]:
    """code -> (positive, lower, upper, reconstruction) on the 14-bit scale."""
    table = {}
    for index, (segment, lower, upper) in enumerate(_intervals(ULAW_SEGMENT_ENDS, -1)):
        step = index % 16
        for positive in (True, False):
            natural = (0 if positive else 0x80) | (segment << 4) | step
            table[natural ^ 0xFF] = (positive, lower, upper, (lower + upper) / 2)
    return table


def _alaw_table() -> dict[int, tuple[bool, float, float, float]]:
    table = {}
    for index, (segment, lower, upper) in enumerate(_intervals(ALAW_SEGMENT_ENDS, 0)):
        step = index % 16
        for positive in (True, False):
            natural = (0x80 if positive else 0) | (segment << 4) | step
            table[natural ^ 0x55] = (positive, lower, upper, (lower + upper) / 2)
    return table


LAWS = {
    "ulaw": (g711.ulaw_encode, g711.ulaw_decode, _ulaw_table(), ULAW_SCALE, ULAW_SEGMENT_ENDS[-1]),
    "alaw": (g711.alaw_encode, g711.alaw_decode, _alaw_table(), ALAW_SCALE, ALAW_SEGMENT_ENDS[-1]),
}


def _expected_decode(law: str) -> np.ndarray:
    _, _, table, scale, _ = LAWS[law]
    return np.array([(1 if table[c][0] else -1) * table[c][3] * scale for c in range(256)])


def test_derived_tables_have_the_printed_landmarks():
    """The derivation itself against values printed in G.711 (guards the test's own maths)."""
    ulaw, alaw = _ulaw_table(), _alaw_table()
    assert ulaw[0xFF][3] == 0 and ulaw[0x7F][3] == 0  # +0 and -0
    assert ulaw[0x80][3] == 8031 and ulaw[0x80][2] == 8159  # Table 2a last reconstruction, last decision
    assert ulaw[0xEF][1:] == (31, 35, 33)  # first interval of segment 2: 31..35 -> 33
    assert alaw[0xD5][1:] == (0, 2, 1) and alaw[0xAA][3] == 4032  # Table 1a first and last values
    assert alaw[0xB5][1:] == (1024, 1088, 1056)  # segment 6 step 0: 1024..1088 -> 1056
    assert len({v[1:] for v in ulaw.values()}) == 128 and len({v[1:] for v in alaw.values()}) == 128


@pytest.mark.parametrize("law", sorted(LAWS))
def test_decode_every_code_point(law):
    decode = LAWS[law][1]
    decoded = decode(np.arange(256, dtype=np.uint8))
    assert decoded.dtype == np.int16
    np.testing.assert_array_equal(decoded, _expected_decode(law))


def test_decode_peaks():
    assert g711.ulaw_decode(np.array([0x80, 0x00])).tolist() == [32124, -32124]
    assert g711.alaw_decode(np.array([0xAA, 0x2A])).tolist() == [32256, -32256]
    assert g711.alaw_decode(np.array([0xD5, 0x55])).tolist() == [8, -8]  # A-law has no zero


@pytest.mark.parametrize("law", sorted(LAWS))
def test_encode_every_linear_input_lands_in_its_decision_interval(law):
    encode, _, table, scale, last_decision = LAWS[law]
    linear = np.arange(-32768, 32768)
    codes = encode(linear)
    assert codes.dtype == np.uint8
    positive = np.array([table[c][0] for c in range(256)])[codes]
    lower = np.array([table[c][1] for c in range(256)], dtype=float)[codes]
    upper = np.array([table[c][2] for c in range(256)], dtype=float)[codes]
    value = np.abs(linear) / scale  # exact value on the law's scale
    assert np.all(positive == (linear >= 0)), "sign of the code must be the sign of the input"
    inside = value <= last_decision
    assert np.all((lower <= value) & (value <= upper) | ~inside)
    # Overload: beyond the last decision value, the largest code of the input's sign.
    top_positive = max(c for c, v in table.items() if v[0] and v[2] == last_decision)
    top_negative = max(c for c, v in table.items() if not v[0] and v[2] == last_decision)
    overload = codes[~inside]
    # A-law's last decision value (4096 × 8) is the 16-bit full scale; µ-law's is not.
    assert overload.size == (0 if law == "alaw" else 2 * (32768 - 4 * last_decision) - 1)
    assert set(overload.tolist()) <= {top_positive, top_negative}


@pytest.mark.parametrize("law", sorted(LAWS))
def test_encode_of_decode_is_identity(law):
    encode, decode, *_ = LAWS[law]
    codes = np.arange(256)
    back = encode(decode(codes))
    if law == "ulaw":
        # µ-law has a +0 (0xFF) and a -0 (0x7F); both decode to 0, which encodes as +0.
        assert back[0x7F] == 0xFF
        mask = codes != 0x7F
        np.testing.assert_array_equal(back[mask], codes[mask])
    else:
        np.testing.assert_array_equal(back, codes)


def _half_step(law: str, reconstructed: np.ndarray) -> np.ndarray:
    """Half the width (16-bit units) of the interval each reconstructed value belongs to."""
    encode, _, table, scale, _ = LAWS[law]
    codes = encode(reconstructed)
    width = np.array([table[c][2] - table[c][1] for c in range(256)], dtype=float)
    return width[codes] * scale / 2


@pytest.mark.parametrize("law", sorted(LAWS))
@settings(max_examples=200, deadline=None, derandomize=True)
@given(samples=hnp.arrays(np.int16, st.integers(1, 64), elements=st.integers(-32768, 32767)))
def test_roundtrip_error_within_half_a_step(law, samples):
    encode, decode, _, scale, last_decision = LAWS[law]
    out = decode(encode(samples)).astype(float)
    x = samples.astype(float)
    error = np.abs(out - x)
    peak = np.abs(decode(np.arange(256))).max()
    in_range = np.abs(x) <= last_decision * scale
    assert np.all(error[in_range] <= _half_step(law, out[in_range]))
    assert np.all(np.abs(out[~in_range]) == peak)


@pytest.mark.parametrize("law", sorted(LAWS))
@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    samples=hnp.arrays(
        np.float64, st.tuples(st.integers(1, 3), st.integers(1, 20)), elements=st.floats(-32000.0, 32000.0)
    )
)
def test_float_input_rounds_then_roundtrips_within_half_a_step(law, samples):
    encode, decode, *_ = LAWS[law]
    out = decode(encode(samples)).astype(float)
    assert out.shape == samples.shape
    assert np.all(np.abs(out - samples) <= _half_step(law, out) + 0.5)


@pytest.mark.parametrize(
    ("law", "sequence"), [("ulaw", ULAW_DIGITAL_MILLIWATT), ("alaw", ALAW_DIGITAL_MILLIWATT)]
)
def test_digital_milliwatt_reads_zero_dbm0(law, sequence):
    decode = LAWS[law][1]
    samples = decode(np.tile(np.array(sequence), 1000))
    assert abs(signal_dbm0(samples)) <= 0.1
    # And a 1 kHz sine at 0 dBm0 (phase pi/8, the sequence's sampling points) encodes to it.
    from dsp.levels import dbm0_to_peak

    n = np.arange(8)
    sine = dbm0_to_peak(0.0) * np.sin(2 * np.pi * 1000 * n / 8000 + np.pi / 8 + np.pi)
    np.testing.assert_array_equal(LAWS[law][0](sine), np.array(sequence, dtype=np.uint8))


def test_out_of_range_integers_saturate_and_floats_clip():
    assert g711.ulaw_encode(np.array([40000, -40000, 2**40])).tolist() == [0x80, 0x00, 0x80]
    assert g711.alaw_encode(np.array([1e9, -1e9])).tolist() == [0xAA, 0x2A]


def test_bad_input_raises_dsp_error():
    with pytest.raises(DspError):
        g711.ulaw_encode(np.array(["a"]))
    with pytest.raises(DspError):
        g711.alaw_decode(np.array([1.5]))
    with pytest.raises(DspError):
        g711.ulaw_decode(np.array([256]))
    with pytest.raises(DspError):
        g711.alaw_decode(np.array([-129]))


def test_signed_byte_codes_and_shapes():
    codes = np.arange(256, dtype=np.uint8)
    np.testing.assert_array_equal(g711.ulaw_decode(codes.view(np.int8)), g711.ulaw_decode(codes))
    block = np.arange(-600, 600).reshape(3, 400)
    assert g711.ulaw_roundtrip(block).shape == (3, 400)
    assert g711.alaw_roundtrip(block).shape == (3, 400)
