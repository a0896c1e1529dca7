"""Caller ID / MWI messages (dsp/callerid.py): byte layout, checksum, decoding, validation.

Fixtures are written out byte by byte; their checksums were computed by hand as the two's
complement of the modulo-256 sum (GR-30-CORE, EN 300 659-3), e.g. for SDMF "P":
04+09+30+39+33+30+31+32+32+34+50 = 0x1F2 -> 0xF2 -> checksum 0x100-0xF2 = 0x0E.
(The MDMF example that circulates on the web with checksum 0x7D is wrong: its bytes sum to
0x7C mod 256, so the checksum is 0x84.)
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp import DspError
from dsp.callerid import (
    Absence,
    CallerId,
    MessageType,
    checksum,
    decode_message,
    encode_caller_id,
    encode_mdmf,
    encode_mwi,
    encode_sdmf,
    frame,
)
from dsp.callerid_text import clean_name

SDMF_NUMBER = bytes.fromhex("04 12 30 39 33 30 31 32 32 34 36 30 39 35 35 35 31 32 31 32 51")
SDMF_PRIVATE = bytes.fromhex("04 09 30 39 33 30 31 32 32 34 50 0e")
SDMF_UNAVAILABLE = bytes.fromhex("04 09 30 39 33 30 31 32 32 34 4f 0f")
MDMF_FULL = bytes.fromhex(
    "80 20 01 08 30 33 32 34 30 39 30 32 02 0a 38 30 30 35 35 35 31 32 31 32 07 08 4a 4f 48 4e 20 44 4f 45 84"
)
MDMF_NAME_FIRST = bytes.fromhex(  # same parameters in another order: same checksum
    "80 20 01 08 30 33 32 34 30 39 30 32 07 08 4a 4f 48 4e 20 44 4f 45 02 0a 38 30 30 35 35 35 31 32 31 32 84"
)
ETSI_WITHHELD = bytes.fromhex("80 10 01 08 31 32 33 31 32 33 35 39 04 01 50 08 01 4f 20")  # CLI P, name O
MWI_MDMF_ON = bytes.fromhex("82 03 0b 01 ff 70")
MWI_MDMF_OFF = bytes.fromhex("82 03 0b 01 00 6f")
MWI_SDMF_ON = bytes.fromhex("06 03 42 42 42 31")
MWI_SDMF_OFF = bytes.fromhex("06 03 6f 6f 6f aa")


def test_checksum_is_twos_complement_of_the_sum():
    assert checksum(b"") == 0
    assert checksum(b"\x01") == 0xFF
    assert checksum(b"\x80\x80") == 0x00
    for fixture in (SDMF_NUMBER, SDMF_PRIVATE, MDMF_FULL, ETSI_WITHHELD, MWI_MDMF_ON, MWI_SDMF_OFF):
        assert sum(fixture) % 256 == 0
        assert checksum(fixture[:-1]) == fixture[-1]


def test_encoders_match_the_byte_fixtures():
    assert encode_sdmf(CallerId(number="6095551212", datetime="09301224")) == SDMF_NUMBER
    assert encode_sdmf(CallerId(number_absence=Absence.PRIVATE, datetime="09301224")) == SDMF_PRIVATE
    assert encode_sdmf(CallerId(number_absence="unavailable", datetime="09301224")) == SDMF_UNAVAILABLE
    assert encode_mdmf(CallerId(number="8005551212", name="JOHN DOE", datetime="03240902")) == MDMF_FULL
    assert encode_mdmf(CallerId(number_absence="P", name_absence="O", datetime="12312359")) == ETSI_WITHHELD
    assert encode_mwi(True) == MWI_MDMF_ON
    assert encode_mwi(False) == MWI_MDMF_OFF
    assert encode_mwi(True, "sdmf") == MWI_SDMF_ON
    assert encode_mwi(False, "sdmf") == MWI_SDMF_OFF
    assert encode_caller_id(CallerId(number="6095551212", datetime="09301224"), "sdmf") == SDMF_NUMBER


@pytest.mark.parametrize(
    "fixture, fmt, caller",
    [
        (SDMF_NUMBER, "sdmf", CallerId(number="6095551212", datetime="09301224")),
        (SDMF_PRIVATE, "sdmf", CallerId(number_absence=Absence.PRIVATE, datetime="09301224")),
        (MDMF_FULL, "mdmf", CallerId(number="8005551212", name="JOHN DOE", datetime="03240902")),
        (MDMF_NAME_FIRST, "mdmf", CallerId(number="8005551212", name="JOHN DOE", datetime="03240902")),
        (
            ETSI_WITHHELD,
            "mdmf",
            CallerId(number_absence=Absence.PRIVATE, name_absence=Absence.UNAVAILABLE, datetime="12312359"),
        ),
    ],
)
def test_decoding_valid_fixtures(fixture, fmt, caller):
    message = decode_message(fixture)
    assert message.ok and message.checksum_ok and message.error is None
    assert message.format == fmt
    assert message.caller == caller
    assert message.mwi is None


@pytest.mark.parametrize(
    "fixture, fmt, on",
    [
        (MWI_MDMF_ON, "mdmf_mwi", True),
        (MWI_MDMF_OFF, "mdmf_mwi", False),
        (MWI_SDMF_ON, "sdmf_mwi", True),
        (MWI_SDMF_OFF, "sdmf_mwi", False),
    ],
)
def test_decoding_message_waiting(fixture, fmt, on):
    message = decode_message(fixture)
    assert message.ok and message.format == fmt and message.mwi is on and message.caller is None


def test_mdmf_parameters_are_listed_unknown_ones_included():
    message = decode_message(frame(0x80, bytes.fromhex("02 03 31 32 33 11 01 01")))  # + call type 0x11
    assert message.ok
    assert message.parameters == ((0x02, b"123"), (0x11, b"\x01"))
    assert message.caller == CallerId(number="123")


@pytest.mark.parametrize("fixture", [SDMF_NUMBER, MDMF_FULL, ETSI_WITHHELD, MWI_MDMF_ON, MWI_SDMF_ON])
def test_bad_checksum_is_reported_as_such_and_never_as_a_number(fixture):
    for position in range(len(fixture)):
        damaged = bytearray(fixture)
        damaged[position] ^= 0x04
        message = decode_message(bytes(damaged))
        assert not message.checksum_ok
        assert message.caller is None and message.mwi is None
        assert message.error in ("bad checksum", "truncated")  # the length byte may now overshoot


@pytest.mark.parametrize("fixture", [SDMF_NUMBER, MDMF_FULL, MWI_SDMF_OFF])
def test_truncated_messages(fixture):
    for cut in range(1, len(fixture)):
        message = decode_message(fixture[:cut])
        assert not message.checksum_ok and message.error == "truncated" and message.caller is None


def test_extra_bytes_after_a_message_are_ignored():
    message = decode_message(SDMF_NUMBER + b"\x55\xff")
    assert message.ok and message.raw == SDMF_NUMBER


@pytest.mark.parametrize(
    "payload_type, payload, reason",
    [
        (0x80, bytes.fromhex("02 05 31 32"), "says 5 bytes"),  # parameter longer than the message
        (0x80, bytes.fromhex("02"), "cut"),
        (0x82, bytes.fromhex("0b 01 07"), "neither ff nor 00"),
        (0x82, bytes.fromhex("02 01 31"), "without a visual indicator"),
        (0x06, bytes.fromhex("42 42 6f"), "neither"),
        (0x04, bytes.fromhex("30 39 33 30"), "shorter"),
    ],
)
def test_malformed_payloads_with_good_checksum(payload_type, payload, reason):
    message = decode_message(frame(payload_type, payload))
    assert message.checksum_ok and not message.ok
    assert message.caller is None and message.mwi is None
    assert message.error.startswith("malformed") and reason in message.error


def test_unknown_message_type():
    message = decode_message(frame(0x89, b"hello"))
    assert message.checksum_ok and not message.ok and message.format == "unknown"


def test_received_text_is_made_safe_where_it_enters():
    """(Changed with issue 11: text used to be kept as sent, unchecked, and the box then
    failed to send it on to a phone.) Separators go, the number is what is left."""
    message = decode_message(frame(0x80, bytes.fromhex("02 0d") + b"(800)555-1212"))
    assert message.ok and message.caller.number == "8005551212"
    assert message.notes == ("number 28383030293535352d31323132 shown as 8005551212",)


def test_a_reason_for_absence_that_is_neither_o_nor_p_reads_as_unavailable():
    message = decode_message(frame(0x80, bytes.fromhex("04 01 58")))
    assert message.ok and message.caller == CallerId(number_absence=Absence.UNAVAILABLE)
    assert message.notes == ("number absence 58 is neither O nor P: unavailable",)


def test_a_parameter_sent_twice_counts_once_the_first():
    message = decode_message(frame(0x80, bytes.fromhex("02 01 31 02 01 32")))
    assert message.ok and message.caller == CallerId(number="1")
    assert message.notes == ("parameter 0x02 sent twice: the first one counts",)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"number": ""},
        {"number": "1" * 21},
        {"number": "12a4"},
        {"name": ""},
        {"name": "x" * 51},
        {"name": "BELL\x07"},
        {"name": "TWO\nLINES"},
        {"name": "NUL\x00"},
        {"datetime": "13011200"},  # month 13
        {"datetime": "01321200"},  # day 32
        {"datetime": "01012400"},  # 24 h
        {"datetime": "01011260"},  # minute 60
        {"datetime": "0101120"},
        {"number": "123", "number_absence": "private"},
        {"name": "A", "name_absence": "O"},
        {"number_absence": "withheld"},
    ],
)
def test_caller_fields_are_validated(kwargs):
    with pytest.raises(DspError):
        CallerId(**kwargs)


def test_limits_are_inclusive():
    CallerId(number="1" * 20, name="x" * 50, datetime="12312359")
    CallerId(number="+*#0", datetime="01010000")


def test_encoder_refusals():
    with pytest.raises(DspError, match="date and time"):
        encode_sdmf(CallerId(number="123"))
    with pytest.raises(DspError, match="no name"):
        encode_sdmf(CallerId(number="123", name="A", datetime="01010000"))
    with pytest.raises(DspError, match="needs a number"):
        encode_sdmf(CallerId(datetime="01010000"))
    with pytest.raises(DspError, match="at least one field"):
        encode_mdmf(CallerId())
    with pytest.raises(DspError, match="format"):
        encode_caller_id(CallerId(number="1"), "xdmf")
    with pytest.raises(DspError, match="format"):
        encode_mwi(True, "xdmf")
    with pytest.raises(DspError, match="at most 255"):
        frame(0x80, bytes(256))
    with pytest.raises(DspError):
        decode_message(b"")
    assert len(frame(0x80, bytes(255))) == 258


numbers = st.text(alphabet="0123456789*#+", min_size=1, max_size=20)
# What the box sends decodes to itself when it is already clean (received names are
# trimmed and their runs of spaces made one: dsp.callerid_text.clean_name).
names = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=50).filter(
    lambda name: clean_name(name) == name
)
datetimes = st.builds(
    lambda m, d, h, mi: f"{m:02d}{d:02d}{h:02d}{mi:02d}",
    st.integers(1, 12),
    st.integers(1, 31),
    st.integers(0, 23),
    st.integers(0, 59),
)
absences = st.sampled_from(list(Absence))


@st.composite
def callers(draw, sdmf: bool = False):
    datetime = draw(datetimes) if sdmf else draw(st.none() | datetimes)
    number, number_absence = draw(
        st.sampled_from([(True, False), (False, True)] + ([] if sdmf else [(False, False)]))
    )
    fields = {"datetime": datetime}
    if number:
        fields["number"] = draw(numbers)
    if number_absence:
        fields["number_absence"] = draw(absences)
    if not sdmf:
        which = draw(st.sampled_from(["name", "absence", "none"]))
        if which == "name":
            fields["name"] = draw(names)
        elif which == "absence":
            fields["name_absence"] = draw(absences)
        if all(value is None for value in fields.values()):
            fields["number"] = draw(numbers)
    return CallerId(**fields)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(callers())
def test_mdmf_round_trip(caller):
    message = decode_message(encode_mdmf(caller))
    assert message.ok and message.caller == caller


@settings(max_examples=200, derandomize=True, deadline=None)
@given(callers(sdmf=True))
def test_sdmf_round_trip(caller):
    message = decode_message(encode_sdmf(caller))
    assert message.ok and message.caller == caller


@settings(max_examples=300, derandomize=True, deadline=None)
@given(callers(), st.data())
def test_any_single_byte_error_is_caught(caller, data):
    """Changing any one byte changes the sum mod 256: the checksum always catches it."""
    encoded = bytearray(encode_mdmf(caller))
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] ^= data.draw(st.integers(1, 255))
    message = decode_message(bytes(encoded))
    assert not message.checksum_ok and message.caller is None


def test_message_types():
    assert [int(t) for t in MessageType] == [0x04, 0x06, 0x80, 0x82]
