"""Digit maps (RFC 3435 section 2.1.5 syntax) and the box's dial plan, from tables."""

import pytest

from firmware import FirmwareError
from firmware.config import Config, Zone
from firmware.dialplan import DialKind, DigitMap, MatchState, parse_alternative

NO, PART, TIMEOUT, DONE = (MatchState.NO_MATCH, MatchState.PARTIAL, MatchState.COMPLETE_ON_TIMEOUT,
                           MatchState.COMPLETE)

# RFC 3435 section 2.1.5 gives this map as its example of a PBX-style dial plan.
RFC_MAP = "(0T|00T|[1-7]xxx|8xxxxxxx|#xxxxxxx|*xx|91xxxxxxxxxx|9011x.T)"

MATCH_TABLE = [
    ("xxx", "", PART),
    ("xxx", "2", PART),
    ("xxx", "20", PART),
    ("xxx", "201", DONE),
    ("xxx", "2011", NO),
    ("[2-9]xx", "1", NO),
    ("[2-9]xx", "9", PART),
    ("[2-9]xx", "200", DONE),
    ("[1-357]", "1", DONE),
    ("[1-357]", "2", DONE),
    ("[1-357]", "3", DONE),
    ("[1-357]", "4", NO),
    ("[1-357]", "5", DONE),
    ("[1-357]", "6", NO),
    ("[1-357]", "7", DONE),
    ("[*#]xx", "*72", DONE),
    ("[*#]xx", "#1", PART),
    ("[*#]xx", "11", NO),
    ("011x.T", "01", PART),
    ("011x.T", "02", NO),
    ("011x.T", "011", TIMEOUT),
    ("011x.T", "0114412345678", TIMEOUT),
    ("011x.T", "011*", NO),
    ("xxxT", "12", PART),
    ("xxxT", "123", TIMEOUT),
    ("xxxT", "1234", NO),
    ("xx|xxx", "1", PART),
    ("xx|xxx", "12", TIMEOUT),
    ("xx|xxx", "123", DONE),
    ("x.", "", PART),
    ("x.", "5", TIMEOUT),
    ("XXT", "12", TIMEOUT),
    ("xxt", "12", TIMEOUT),
    ("Axx", "A12", DONE),
    ("axx", "A12", DONE),
    ("[A-D]", "B", NO),
    ("[ABCD]", "B", DONE),
    (RFC_MAP, "0", TIMEOUT),
    (RFC_MAP, "00", TIMEOUT),
    (RFC_MAP, "000", NO),
    (RFC_MAP, "1", PART),
    (RFC_MAP, "1234", DONE),
    (RFC_MAP, "8123456", PART),
    (RFC_MAP, "81234567", DONE),
    (RFC_MAP, "#1234567", DONE),
    (RFC_MAP, "*12", DONE),
    (RFC_MAP, "91", PART),
    (RFC_MAP, "912125551234", DONE),
    (RFC_MAP, "9012", NO),
    (RFC_MAP, "9011", TIMEOUT),
    (RFC_MAP, "901144", TIMEOUT),
    (RFC_MAP, "", PART),
    ("", "", NO),
    ("", "1", NO),
]


@pytest.mark.parametrize("text,digits,state", MATCH_TABLE)
def test_digit_map_match_table(text, digits, state):
    if text == "[A-D]":
        with pytest.raises(FirmwareError, match="range"):
            DigitMap.parse(text)
        return
    assert DigitMap.parse(text).match(digits).state is state


@pytest.mark.parametrize("text,digits,state", [row for row in MATCH_TABLE if row[0] != "[A-D]"])
def test_incremental_feed_agrees_with_whole_match(text, digits, state):
    digit_map = DigitMap.parse(text)
    cursor = digit_map.start()
    for count, digit in enumerate(digits, start=1):
        assert cursor.feed(digit).state is digit_map.match(digits[:count]).state
    assert cursor.result().state is state


def test_winner_is_the_first_full_alternative():
    digit_map = DigitMap.parse("2xx|[2-9]xx", tag=None)
    tagged = DigitMap([parse_alternative("2xx", tag="a"), parse_alternative("[2-9]xx", tag="b")])
    assert digit_map.match("201").alternative.text == "2xx"
    assert tagged.match("201").alternative.tag == "a"
    assert tagged.match("301").alternative.tag == "b"


def test_immediate_alternative_completes_even_when_longer_numbers_are_possible():
    plain = DigitMap.parse("911|9xxxxxxx")
    urgent = DigitMap.parse("911", immediate=True) | DigitMap.parse("9xxxxxxx")
    assert plain.match("911").state is TIMEOUT
    assert urgent.match("911").state is DONE
    assert urgent.match("912").state is PART


def test_fullmatch_ignores_timers():
    digit_map = DigitMap.parse("011x.T|[2-9]xxxxxx")
    assert digit_map.fullmatch("01144").text == "011x.T"
    assert digit_map.fullmatch("5551234").text == "[2-9]xxxxxx"
    assert digit_map.fullmatch("555123") is None


@pytest.mark.parametrize("text,message", [
    ("[2-9", "unclosed"),
    ("[]", "empty"),
    ("[9-2]", "bad range"),
    ("T1", "'T' must be the last"),
    ("xT.", "'T' must be the last"),
    (".x", "'.' must follow"),
    ("x..", "'.' must follow"),
    ("x|", "empty alternative"),
    ("|x", "empty alternative"),
    ("xyz", "unexpected 'y'"),
    ("[x]", "not a dial digit"),
    ("1 2", "unexpected ' '"),
])
def test_bad_digit_maps_are_refused_with_the_map_in_the_message(text, message):
    with pytest.raises(FirmwareError, match=message) as error:
        DigitMap.parse(text)
    assert repr(text) in str(error.value)


def test_feeding_a_non_digit_is_refused():
    with pytest.raises(FirmwareError, match="not one of"):
        DigitMap.parse("xxx").start().feed("E")


# -- the box's dial plan ----------------------------------------------------------------------


def us_plan():
    return Config(zone=Zone.US).dial_plan()


@pytest.mark.parametrize("digits,state,kind,name,number", [
    ("", PART, None, "", ""),
    ("2", PART, None, "", ""),
    ("201", DONE, DialKind.INTERNAL, "", "201"),
    ("0", NO, None, "", ""),
    ("911", DONE, DialKind.EMERGENCY, "", "911"),
    ("9911", DONE, DialKind.EMERGENCY, "", "911"),
    ("9", PART, None, "", ""),
    ("95551234", DONE, DialKind.EXTERNAL, "local", "5551234"),  # 1 cannot start an exchange code
    ("95552345", DONE, DialKind.EXTERNAL, "local", "5552345"),  # 555 is no area code: cannot become 10 digits
    ("92125557", TIMEOUT, DialKind.EXTERNAL, "local", "2125557"),  # 212 is an area code: could become 10 digits
    ("912125551234", DONE, DialKind.EXTERNAL, "national", "12125551234"),
    ("919005551234", DONE, DialKind.EXTERNAL, "premium", "19005551234"),
    ("918765551234", DONE, DialKind.EXTERNAL, "international", "18765551234"),
    ("9011441234567", TIMEOUT, DialKind.EXTERNAL, "international", "011441234567"),
    ("*72", PART, None, "", ""),
    ("*72201", TIMEOUT, DialKind.FEATURE, "forward_always", "201"),
    ("*72201#", DONE, DialKind.FEATURE, "forward_always", "201"),
    ("*73", DONE, DialKind.FEATURE, "forward_cancel", ""),
    ("*8", DONE, DialKind.FEATURE, "group_pickup", ""),
    ("**202", TIMEOUT, DialKind.FEATURE, "directed_pickup", "202"),
    ("*45", DONE, DialKind.FEATURE, "agent_login", ""),
    ("*1", NO, None, "", ""),
])
def test_us_dial_plan_table(digits, state, kind, name, number):
    result = us_plan().match(digits)
    assert (result.state, result.kind, result.name, result.number) == (state, kind, name, number)


def test_timers_to_arm_come_from_the_configuration():
    plan = us_plan()
    assert plan.match("9").timeout_ms == 16000
    assert plan.match("92125557").timeout_ms == 4000
    assert plan.match("201").timeout_ms is None
    assert plan.match("0").timeout_ms is None


def test_collector_completes_on_timeout_and_fails_an_incomplete_number():
    plan = us_plan()
    collector = plan.start()
    states = [collector.feed(d).state for d in "92125557"]
    assert states == [PART] * 7 + [TIMEOUT]
    done = collector.expire()
    assert (done.state, done.kind, done.name, done.number) == (DONE, DialKind.EXTERNAL, "local", "2125557")
    assert done.timeout_ms is None

    short = plan.start()
    for digit in "955":
        short.feed(digit)
    assert short.expire().state is NO


def test_collector_refuses_digits_after_the_end():
    collector = us_plan().start()
    for digit in "201":
        collector.feed(digit)
    with pytest.raises(FirmwareError, match="already complete"):
        collector.feed("1")
    failed = us_plan().start()
    failed.feed("0")
    with pytest.raises(FirmwareError, match="already no_match"):
        failed.feed("1")


def test_emergency_with_the_zone_prefix_in_germany():
    plan = Config(zone=Zone.DE).dial_plan()
    assert Config(zone=Zone.DE).outside_prefix() == "0"
    for digits in ("110", "112", "0110", "0112"):
        result = plan.match(digits)
        assert (result.state, result.kind) == (DONE, DialKind.EMERGENCY)
    national = plan.match("0030123456")
    assert (national.state, national.kind, national.name, national.number) == (
        TIMEOUT, DialKind.EXTERNAL, "national", "030123456")


# Issue 10: a 7-digit local number completes at once unless its first three digits could be a
# geographic area code (NANP: first digit 2-9, second not 9, last two not equal, 37X and 96X
# reserved); then a 10-digit local number is still possible and the inter-digit timer decides.
@pytest.mark.parametrize("digits,state,number", [
    ("95557777", DONE, "5557777"),  # 555: an easily recognizable code, never an area code
    ("95551234", DONE, "5551234"),
    ("95552345", DONE, "5552345"),
    ("94115678", DONE, "4115678"),  # N11 service code
    ("92995678", DONE, "2995678"),  # N9X kept for expansion
    ("93745678", DONE, "3745678"),  # 37X reserved
    ("99645678", DONE, "9645678"),  # 96X reserved
    ("98005678", DONE, "8005678"),  # N00 (toll-free style) is no geographic code
    ("92125557", TIMEOUT, "2125557"),  # 212 New York: 212-555-7xxx possible
    ("93805678", TIMEOUT, "3805678"),  # 380: 3 first is fine outside 37X
    ("97735678", TIMEOUT, "7735678"),  # 773 Chicago: 7 first and 7 second is a real area code
    ("92015678", TIMEOUT, "2015678"),  # 201: second digit 0
    ("99875678", TIMEOUT, "9875678"),  # 987: first 9, second 8
    ("92125551234", DONE, "2125551234"),  # the 10-digit local number completes at once
    ("95557771234", NO, ""),  # no area code 555: 10 digits after 555 match nothing
    ("96125551234", DONE, "6125551234"),
    ("99615551234", NO, ""),  # 961 reserved
])
def test_us_seven_digit_local_numbers_complete_at_once_unless_an_area_code_is_possible(digits, state, number):
    result = us_plan().match(digits)
    assert (result.state, result.number) == (state, number)
    if state is not NO:
        assert (result.kind, result.name) == (DialKind.EXTERNAL, "local")
