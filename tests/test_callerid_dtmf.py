"""DTMF caller ID (dsp/callerid_dtmf.py): digit strings, audio, and the batched receiver."""

from __future__ import annotations

import numpy as np
import pytest
from callerid_helpers import feed_in_blocks, on_line, white_noise
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp import DspError
from dsp.callerid import MAX_NUMBER_DIGITS, Absence, CallerId
from dsp.callerid_dtmf import (
    DtmfCallerIdReceiver,
    dtmf_callerid_audio,
    dtmf_callerid_digits,
    parse_dtmf_callerid,
)
from dsp.dtmfgen import generate_dtmf

PRIVATE = CallerId(number_absence=Absence.PRIVATE)
UNAVAILABLE = CallerId(number_absence=Absence.UNAVAILABLE)


@pytest.mark.parametrize(
    "caller, framing, digits",
    [
        (CallerId(number="5551234"), "ac", "A5551234C"),
        (UNAVAILABLE, "ac", "B00C"),  # "00": number not available
        (PRIVATE, "ac", "B10C"),  # "10": presentation restricted
        (CallerId(number="0612345678"), "dc", "D0612345678C"),  # Taiwan, Kuwait
        (CallerId(number="33123456"), "hash", "A33123456#"),  # Denmark
        (PRIVATE, "hash", "D1#"),
        (UNAVAILABLE, "hash", "D3#"),
    ],
)
def test_digit_strings(caller, framing, digits):
    assert dtmf_callerid_digits(caller, framing) == digits
    parsed = parse_dtmf_callerid(digits)
    assert parsed is not None and parsed.framing == framing and parsed.caller == caller


def test_international_absence_reads_as_unavailable():
    assert parse_dtmf_callerid("D2#").caller == UNAVAILABLE


@pytest.mark.parametrize("digits", ["", "A", "A12", "12C", "A12B", "B01C", "D4#"])
def test_not_caller_id(digits):
    assert parse_dtmf_callerid(digits) is None


@pytest.mark.parametrize("digits", ["AC", "A1#C", "A12B4C", "AABC", "D*1C", "A1*#"])
def test_framed_but_not_a_number_reads_as_unavailable(digits):
    """(Changed with issue 11: these were ignored; the framing says caller ID was sent.)"""
    parsed = parse_dtmf_callerid(digits)
    assert parsed is not None and parsed.caller == UNAVAILABLE


@pytest.mark.parametrize("length", [20, 21, 23, 64])
def test_a_long_number_is_cut_to_the_one_limit(length):
    parsed = parse_dtmf_callerid("A" + "7" * length + "C")
    assert parsed.caller == CallerId(number="7" * MAX_NUMBER_DIGITS)


def test_any_valid_number_is_sent_as_its_digits():
    assert dtmf_callerid_digits(CallerId(number="+4412")) == "A4412C"
    assert dtmf_callerid_digits(CallerId(number="*#+")) == "B00C"  # no digit: unavailable
    assert dtmf_callerid_digits(CallerId(number="*#+"), "hash") == "D3#"


def test_refusals():
    with pytest.raises(DspError, match="no code"):
        dtmf_callerid_digits(PRIVATE, "dc")
    with pytest.raises(DspError, match="framing"):
        dtmf_callerid_digits(CallerId(number="1"), "xy")
    with pytest.raises(DspError, match="needs a number"):
        dtmf_callerid_digits(CallerId(name="X"))


def receive(x: np.ndarray, block: int = 160) -> list:
    receiver = DtmfCallerIdReceiver(1)
    return feed_in_blocks(receiver.process, x[None, :], [block], receiver.flush)


@pytest.mark.parametrize("level_dbm0", [-6.0, -12.0, -18.0, -24.0, -30.0])
@pytest.mark.parametrize("twist_db", [-4.0, 0.0, 4.0])
def test_round_trip_levels_twist_noise_g711(level_dbm0, twist_db):
    caller = CallerId(number="0123456789")
    for k, codec in enumerate(("ulaw", "alaw")):
        audio = dtmf_callerid_audio(caller, level_dbm0=level_dbm0, twist_db=twist_db)
        got = receive(on_line(audio, seed=k, snr_db=18.0, lead=300 + 77 * k, codec=codec))
        assert [(m.digits, m.parsed.caller if m.parsed else None) for m in got] == [("A0123456789C", caller)]


@pytest.mark.parametrize("framing", ["ac", "dc", "hash"])
def test_every_framing_over_the_air(framing):
    callers = [CallerId(number="987")] + ([PRIVATE, UNAVAILABLE] if framing != "dc" else [])
    for caller in callers:
        got = receive(on_line(dtmf_callerid_audio(caller, framing), seed=1, lead=500))
        assert len(got) == 1 and got[0].parsed.caller == caller and got[0].parsed.framing == framing


def test_timing_and_offsets():
    audio = dtmf_callerid_audio(CallerId(number="42"))
    got = receive(on_line(audio, seed=2, lead=1000))
    assert abs(got[0].start_sample - 1000) <= 40  # the detector measures tones to about ±3 ms
    assert abs(got[0].end_sample - (1000 + 4 * 1120 - 560)) <= 40  # 4 digits of 70 + 70 ms


def test_cut_short_and_junk():
    audio = dtmf_callerid_audio(CallerId(number="0123456789"))
    cut = receive(on_line(audio[: 7 * 1120], seed=3, tail=8000))  # A0123456, no end symbol
    assert len(cut) == 1 and cut[0].parsed is None and cut[0].error == "truncated"
    assert cut[0].digits == "A012345"
    junk = receive(on_line(generate_dtmf("B12#", on_ms=70.0, off_ms=70.0), seed=3))
    assert len(junk) == 1 and junk[0].parsed is None and junk[0].error == "malformed"
    # framed as a number with a letter inside: caller ID was sent, the number is unavailable
    letter = receive(on_line(generate_dtmf("A12B#", on_ms=70.0, off_ms=70.0), seed=3))
    assert len(letter) == 1 and letter[0].parsed.caller == UNAVAILABLE and letter[0].error is None
    assert receive(on_line(generate_dtmf("12345#", on_ms=70.0, off_ms=70.0), seed=3)) == []  # no start letter


def test_pause_longer_than_the_limit_splits_the_string():
    x = np.concatenate([generate_dtmf("A123"), np.zeros(8000), generate_dtmf("456C")])
    got = receive(on_line(x, seed=4))
    assert [(m.digits, m.error) for m in got] == [("A123", "truncated")]


def test_block_length_and_multichannel_independence():
    audio = on_line(dtmf_callerid_audio(CallerId(number="31415")), seed=5, snr_db=20.0, lead=800)
    reference = receive(audio, block=len(audio))
    assert [m.digits for m in reference] == ["A31415C"]
    for block in (1, 40, 160, 999):
        got = receive(audio, block=block)
        assert [(m.digits, m.start_sample, m.end_sample) for m in got] == [
            (m.digits, m.start_sample, m.end_sample) for m in reference
        ]
    lines = np.stack(
        [white_noise(len(audio), -25.0, seed=1), audio, np.roll(audio, 1600), np.zeros(len(audio))]
    )
    receiver = DtmfCallerIdReceiver(4)
    got = feed_in_blocks(receiver.process, lines, [160], receiver.flush)
    assert sorted((m.channel, m.digits) for m in got) == [(1, "A31415C"), (2, "A31415C")]


@settings(max_examples=15, derandomize=True, deadline=None)
@given(st.text(alphabet="0123456789", min_size=1, max_size=20), st.floats(-30.0, -6.0), st.integers(0, 4000))
def test_random_numbers(number, level_dbm0, lead):
    caller = CallerId(number=number)
    got = receive(
        on_line(dtmf_callerid_audio(caller, level_dbm0=level_dbm0), seed=lead, snr_db=18.0, lead=lead),
        block=4000,
    )
    assert [m.parsed.caller for m in got] == [caller]
