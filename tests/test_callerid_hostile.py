"""Caller ID from the outside world, hostile or just unlucky (issue 11): whatever a message
with a good checksum holds, the decoder makes it safe (dsp/callerid_text.py) and what it
returns can always be encoded again for a phone, in every standard. The broad random sweep
is here, at the unit level; tests/test_scenario_callerid_hostile.py sends a handful
through the whole appliance.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp.callerid import (
    MAX_NAME_CHARS,
    MAX_NUMBER_DIGITS,
    Absence,
    CallerId,
    checksum,
    decode_message,
    displayed_caller_id,
    encode_caller_id,
    frame,
)
from dsp.callerid_dtmf import dtmf_callerid_digits, parse_dtmf_callerid
from dsp.callerid_text import MAX_NAME_CHARS as TEXT_MAX_NAME_CHARS
from dsp.callerid_text import MAX_NUMBER_DIGITS as TEXT_MAX_NUMBER_DIGITS
from dsp.callerid_text import clean_name, clean_number, name_octets


def mdmf(number: bytes | None = None, name: bytes | None = None, datetime: bytes | None = None) -> bytes:
    payload = b""
    for kind, value in ((0x01, datetime), (0x02, number), (0x07, name)):
        if value is not None:
            payload += bytes([kind, len(value)]) + value
    return frame(0x80, payload)


def shown_on_phone(caller: CallerId) -> list[bytes | str]:
    """What the box sends a phone for ``caller``, in every standard it speaks (never raises)."""
    when = caller.datetime or "01010000"
    shown = displayed_caller_id(caller.number, caller.name, caller.number_absence, when)
    out: list[bytes | str] = [encode_caller_id(shown, "mdmf"), encode_caller_id(shown, "mdmf", "latin1"),
                              encode_caller_id(CallerId(number=shown.number, number_absence=shown.number_absence,
                                                        datetime=when), "sdmf")]
    out += [dtmf_callerid_digits(shown, framing) for framing in ("ac", "hash")]
    return out


def test_one_definition_of_the_limits():
    assert (MAX_NUMBER_DIGITS, MAX_NAME_CHARS) == (TEXT_MAX_NUMBER_DIGITS, TEXT_MAX_NAME_CHARS) == (20, 50)
    assert MAX_NUMBER_DIGITS is TEXT_MAX_NUMBER_DIGITS  # the same object, not a copy


@pytest.mark.parametrize(
    "number, name, shown_number, absence, shown_name, phone_name",
    [
        (b"5551234", "MÜLLER".encode("latin-1"), "5551234", None, "MÜLLER", b"MUELLER"),
        (b"5551234", "MÜLLER".encode(), "5551234", None, "MÜLLER", b"MUELLER"),
        (b"1" * 23, b"LONG", "1" * MAX_NUMBER_DIGITS, None, "LONG", b"LONG"),
        (b"ABC", b"ABC", None, Absence.UNAVAILABLE, "ABC", b"ABC"),
        (b"555\x07", b"BELL\x07", "555", None, "BELL", b"BELL"),
        (b"\x00555", b"N\x00UL", "555", None, "NUL", b"NUL"),
        (b"5551234\n", b"NEWLINE\n", "5551234", None, "NEWLINE", b"NEWLINE"),
        (b"", b"", None, Absence.UNAVAILABLE, None, None),
        (b"+1 (212) 555-0100", b"\x1b[2JCLEAR", "+12125550100", None, "[2JCLEAR", b"[2JCLEAR"),
        (b"\xff\xfe", "Ærøskøbing Ørsted".encode("latin-1"), None, Absence.UNAVAILABLE, "Ærøskøbing Ørsted",
         b"AEroeskoebing OErsted"),
        (b"0", "Žofie Dvořáková".encode(), "0", None, "Žofie Dvořáková", b"Zofie Dvorakova"),
        (b"0", "李小龙".encode(), "0", None, "李小龙", b"???"),
        (b"0", b"TAB\tSEP\r\nX", "0", None, "TAB SEP X", b"TAB SEP X"),
    ],
)
def test_hostile_fields_are_made_safe_and_sent_on(number, name, shown_number, absence, shown_name, phone_name):
    message = decode_message(mdmf(number, name))
    assert message.ok
    caller = message.caller
    assert (caller.number, caller.number_absence, caller.name) == (shown_number, absence, shown_name)
    mdmf_out = shown_on_phone(caller)[0]
    sent = decode_message(mdmf_out)
    assert sent.ok and sent.caller.number == shown_number
    assert (sent.caller.name.encode("latin-1") if sent.caller.name else None) == phone_name


def test_over_long_name_is_cut_to_the_limit_and_so_is_its_transliteration():
    message = decode_message(mdmf(b"1", "Ü".encode("latin-1") * 80))
    assert message.caller.name == "Ü" * MAX_NAME_CHARS
    assert name_octets(message.caller.name) == b"UE" * (MAX_NAME_CHARS // 2)


def test_latin1_charset_keeps_latin1_names_as_sent():
    assert name_octets("MÜLLER", "latin1") == "MÜLLER".encode("latin-1")
    assert name_octets("Dvořák", "latin1") == "Dvorák".encode("latin-1")


def test_displayed_caller_id_is_total():
    assert displayed_caller_id("1" * 30, "Ü\x07nal", "X", "99999999") == CallerId(
        number="1" * MAX_NUMBER_DIGITS, name="Ünal")
    assert displayed_caller_id("", "", "", None) == CallerId(number_absence=Absence.UNAVAILABLE)
    assert displayed_caller_id("", None, "P", "01010000") == CallerId(
        number_absence=Absence.PRIVATE, datetime="01010000")
    assert displayed_caller_id("ABC", "\n\n", None) == CallerId(number_absence=Absence.UNAVAILABLE)


def test_clean_rules_are_idempotent_on_examples():
    for text in ("  A  B  ", "x\x00y", "Ü" * 60, "\u2028line\u2029", "\xa0nbsp\xa0"):
        once = clean_name(text)
        assert once is None or clean_name(once) == once
    for text in ("12-34", "(0)30 1234", "+" + "9" * 40, "12a"):
        once = clean_number(text)
        assert once is None or clean_number(once) == once


any_bytes = st.binary(min_size=0, max_size=64)
names = st.binary(min_size=0, max_size=120) | st.text(min_size=0, max_size=60).map(lambda t: t.encode("utf-8"))
numbers = (st.text(alphabet="0123456789", min_size=0, max_size=64).map(str.encode)
           | st.binary(min_size=0, max_size=64))


@settings(max_examples=1500, derandomize=True, deadline=None)
@given(numbers, names, st.none() | any_bytes)
def test_any_mdmf_caller_id_with_a_good_checksum_can_be_shown(number, name, datetime):
    """Every byte value in names, numbers of 0-64 characters, good checksums: decoded, made
    safe, encoded again in every standard: nothing raises, and what comes back is valid."""
    message = decode_message(mdmf(number, name, datetime))
    assert message.ok, message.error
    caller = message.caller
    assert caller.number is None or (1 <= len(caller.number) <= MAX_NUMBER_DIGITS)
    assert caller.name is None or (1 <= len(caller.name) <= MAX_NAME_CHARS and caller.name.isprintable())
    ascii_mdmf, latin1_mdmf, sdmf, *dtmf = shown_on_phone(caller)
    for sent, allowed in ((ascii_mdmf, range(0x20, 0x7F)), (latin1_mdmf, [*range(0x20, 0x7F), *range(0xA0, 0x100)])):
        again = decode_message(sent)
        assert again.ok and again.caller is not None
        for kind, value in again.parameters:
            assert kind != 0x07 or all(b in allowed for b in value)
    assert decode_message(sdmf).ok and all(parse_dtmf_callerid(d) is not None for d in dtmf)


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.binary(min_size=0, max_size=255))
def test_any_sdmf_or_raw_payload_with_a_good_checksum_never_raises(payload):
    for message_type in (0x04, 0x06, 0x80, 0x82, 0x11):
        message = decode_message(frame(message_type, payload))
        assert message.checksum_ok
        if message.caller is not None:
            shown_on_phone(message.caller)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.binary(min_size=2, max_size=258))
def test_any_bytes_at_all_never_raise(data):
    message = decode_message(data + bytes([checksum(data)]))
    if message.caller is not None:
        shown_on_phone(message.caller)


@settings(max_examples=500, derandomize=True, deadline=None)
@given(st.sampled_from("AD"), st.text(alphabet="0123456789*#ABCD", max_size=80), st.sampled_from("C#"))
def test_any_dtmf_string_is_read_safely(start, middle, end):
    parsed = parse_dtmf_callerid(start + middle + end)
    if parsed is not None:
        number = parsed.caller.number
        assert number is None or (number.isdigit() and len(number) <= MAX_NUMBER_DIGITS)
        shown_on_phone(parsed.caller)
