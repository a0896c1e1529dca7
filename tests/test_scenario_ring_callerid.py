"""The ``ring`` step's caller ID (linebox/sim/ring_callerid.py): what an exchange may send,
read from a scenario and built into the message for the line's standard. Unit tests, no
appliance (tests/test_scenario_callerid_hostile.py runs them end to end)."""

from __future__ import annotations

from pathlib import Path

import pytest

from board import BoardError
from board.virtual.signals import message_segments
from dsp.callerid import CallerId, checksum, decode_message, encode_mdmf
from dsp.callerid_decode import decode_recording
from dsp.callerid_sequence import sequence_audio
from linebox.sim import ScenarioError
from linebox.sim.ring_callerid import RingCallerId, ring_caller_id
from linebox.sim.scenario import parse_scenario

NOW = "11251000"


def message(spec: dict, standard: str = "bell202") -> bytes | str:
    return ring_caller_id(spec, "caller_id").message(standard, NOW)


def test_plain_fields_give_the_message_the_box_itself_would_send():
    assert message({"number": "4930901820", "name": "MUELLER"}) == encode_mdmf(
        CallerId(number="4930901820", name="MUELLER"))
    assert message({"withheld": True}) == bytes.fromhex("80 06 04 01 50 08 01 50 cc")  # 0x134 -> 0x34 -> 0xcc
    assert message({"withheld": True}, "dtmf") == "B10C"
    assert message({"number": "0201234567"}, "dtmf") == "A0201234567C"
    assert message({"name": "ONLY A NAME"}, "dtmf") == "B00C"  # DTMF carries no name


def test_text_is_latin1_where_it_can_be_else_utf8_and_bytes_are_as_given():
    assert decode_message(message({"name": "MÜLLER"})).parameters == ((7, "MÜLLER".encode("latin-1")),)
    assert decode_message(message({"name": "李"})).parameters == ((7, "李".encode()),)
    assert decode_message(message({"name_bytes": "00 07 ff", "number_bytes": ""})).parameters == (
        (2, b""), (7, b"\x00\x07\xff"))


def test_numbers_of_any_length_and_characters():
    sent = decode_message(message({"number": "1" * 64}))
    assert sent.parameters == ((2, b"1" * 64),) and sent.caller.number == "1" * 20


def test_raw_gets_its_checksum_computed_unless_given():
    assert message({"raw": "80 05 02 03 31 32 33"}) == bytes.fromhex("80 05 02 03 31 32 33 e0")
    assert message({"raw": "80050203313233", "checksum": 7}) == bytes.fromhex("80 05 02 03 31 32 33 07")
    assert message({"raw": "04"}) == bytes([0x04, checksum(b"\x04")])


def test_sdmf_takes_the_scenario_clock_unless_given():
    assert message({"number": "5551234", "format": "sdmf"})[2:10] == NOW.encode()
    assert message({"number": "5551234", "format": "sdmf", "datetime": "99999999"})[2:10] == b"99999999"
    assert message({"withheld": True, "format": "sdmf"})[-2:-1] == b"P"


def test_dtmf_string_as_given():
    assert message({"dtmf": "A12B4C"}, "dtmf") == "A12B4C"


@pytest.mark.parametrize(
    "spec, standard, error",
    [
        ({"raw": "80 00"}, "dtmf", "raw is an FSK message"),
        ({"dtmf": "A1C"}, "v23", "dtmf is a DTMF string"),
        ({"number": "MÜ"}, "dtmf", "has no DTMF symbols"),
    ],
)
def test_what_the_line_cannot_send_fails_when_it_rings(spec, standard, error):
    with pytest.raises(BoardError, match=error):
        message(spec, standard)


@pytest.mark.parametrize(
    "spec, error",
    [
        ({}, "give a number, a name, withheld: true, raw or dtmf"),
        ({"number": "1", "number_bytes": "31"}, "give number or number_bytes, not both"),
        ({"raw": "80 00", "name": "X"}, "raw is a whole message: it takes no name"),
        ({"withheld": True, "name": "X"}, "a withheld caller ID has no number or name"),
        ({"name": "X", "format": "sdmf"}, "SDMF carries no name"),
        ({"name_bytes": "zz"}, "name_bytes: expected bytes in hex"),
        ({"raw": ""}, "raw: expected at least the message type byte"),
        ({"dtmf": "A1E"}, "dtmf: expected 1-128 DTMF symbols"),
        ({"number": "1", "checksum": 256}, "checksum: expected a byte 0-255"),
        ({"number": "1", "standard": "v29"}, "standard: expected one of bell202, v23, v23_bt, dtmf"),
        ({"number": "1", "colour": "red"}, "colour: unknown key"),
        ({"number": "1" * 251}, "number: expected text of at most 250"),
        ({"number": 5551234}, r"got 5551234 \(quote digit strings"),
        ({"number": "1" * 200, "name": "x" * 100}, "payload would be 304 bytes, at most 255 fit"),
    ],
)
def test_refusals_are_one_line_naming_the_field(spec, error):
    with pytest.raises(ScenarioError, match=error):
        ring_caller_id(spec, "steps[0].ring.caller_id")


def test_the_ring_step_reads_it():
    data = {"start": "2026-11-25T10:00:00-05:00",
            "steps": [{"ring": {"port": 0, "caller_id": {"name_bytes": "4d dc 4c 4c 45 52", "standard": "v23"}}}]}
    (step,) = parse_scenario(data, Path(".")).steps
    assert step.params["caller_id"] == RingCallerId(name="MÜLLER".encode("latin-1"), standard="v23")


@pytest.mark.parametrize("standard, heard_as", [("bell202", "bell202"), ("v23", "v23"), ("v23_bt", "v23"),
                                                ("dtmf", "dtmf")])
def test_every_standard_puts_the_whole_message_on_the_line(standard, heard_as):
    """The exchange's sequence for a hostile message, decoded back from its audio."""
    spec = ring_caller_id({"number": "12345678901234567890123", "name_bytes": "4d dc 4c 4c 45 52 07"}, "caller_id")
    sent = spec.message(standard, NOW)
    segments = message_segments(sent, standard)
    reports = decode_recording(sequence_audio(segments), heard_as)
    expected = sent if isinstance(sent, str) else sent.hex()
    assert [(r.standard, r.raw) for r in reports] == [(heard_as, expected)]
    caller = reports[0].caller
    assert caller.number == "12345678901234567890"  # cut to the one limit, whatever carried it
    assert caller.name == (None if heard_as == "dtmf" else "MÜLLER")  # DTMF carries no name
