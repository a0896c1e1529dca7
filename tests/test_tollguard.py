"""Toll-fraud protection: number classes per zone, outbound permission, trunk-to-trunk."""

import pytest
from config_helpers import replace

from firmware.config import Config, Extension, OutboundClass, Security, Zone
from firmware.dialplan import DialKind, MatchState
from firmware.tollguard import NUMBERING, NumberClass, classify, may_bridge_trunks, may_dial

L, N, INTL, P, U = (NumberClass.LOCAL, NumberClass.NATIONAL, NumberClass.INTERNATIONAL, NumberClass.PREMIUM,
                    NumberClass.UNKNOWN)

# One or more sample numbers per zone and class, as sent to the line (no outside prefix).
SAMPLES = {
    "us": {L: ["5551234", "2125551234", "411", "0"], N: ["12125551234", "18005551234"],
           INTL: ["011441234567", "18765551234", "18095551234"], P: ["19005551234", "9005551234"],
           U: ["1234", "1555", "12"]},
    "ca": {L: ["4165551234"], N: ["16045551234"], INTL: ["01133123456789", "12425551234"], P: ["19765551234"],
           U: ["99"]},
    "uk": {L: ["2345678", "101", "111"], N: ["02079460000", "07700900123", "01632960123"],
           INTL: ["0033123456789"], P: ["09012345678", "118500", "08712345678"], U: ["0", "12"]},
    "de": {L: ["2345678", "115", "116117"], N: ["030123456", "01701234567"], INTL: ["0044201234567"],
           P: ["09001234567", "11833", "01371234567"], U: ["0", "1"]},
    "fr": {L: ["0145678901", "0512345678"], N: ["0612345678", "0912345678"], INTL: ["0044201234567"],
           P: ["0892123456", "3949", "118712"], U: ["01234", "06123456789"]},
    "es": {L: ["912345678", "831234567"], N: ["612345678", "900123456"], INTL: ["0033123456789"],
           P: ["806123456", "905123456", "11822"], U: ["512345678"]},
    "it": {L: ["0612345678", "021234567"], N: ["3123456789", "800123456"], INTL: ["0033123456789"],
           P: ["8921234", "1254"], U: ["512345"]},
    "pt": {L: ["212345678"], N: ["912345678", "808123456"], INTL: ["0033123456789"], P: ["601234567", "1820"],
           U: ["412345678"]},
    "nl": {L: ["2345678", "234567"], N: ["0201234567", "0612345678"], INTL: ["0033123456789"],
           P: ["09001234", "09061234567", "1888"], U: ["01"]},
    "gr": {L: ["2101234567"], N: ["6912345678", "8001234567"], INTL: ["0033123456789"], P: ["9011234567", "11888"],
           U: ["3101234567"]},
    "mx": {L: ["5512345678", "8112345678"], INTL: ["0033123456789"], P: ["9001234567"], U: ["12345678"]},
    "co": {L: ["6011234567"], N: ["3001234567", "018001234567"], INTL: ["009441234567"], P: ["019001234567"],
           U: ["1234567"]},
    "ar": {L: ["43211234", "4321123"], N: ["01143211234", "0111543211234", "1543211234"], INTL: ["0033123456789"],
           P: ["06001234567"], U: ["1234"]},
    "cl": {L: ["221234567"], N: ["912345678", "6001234567"], INTL: ["0033123456789"], P: ["700123456"],
           U: ["12345678"]},
    "br": {L: ["32123456", "912345678"], N: ["0211123456789", "08001234567"], INTL: ["0021441234567"],
           P: ["09001234567"], U: ["123"]},
    "au": {L: ["92345678"], N: ["0212345678", "0412345678", "1300123456", "131234"],
           INTL: ["0011441234567", "0018441234567"], P: ["1900123456"], U: ["000123", "0512345678"]},
}
CASES = [(zone, cls, number) for zone, classes in SAMPLES.items() for cls, numbers in classes.items()
         for number in numbers]
EMERGENCY = [(zone, number) for zone, numbering in NUMBERING.items() for number in numbering.emergency]


def test_every_zone_has_a_numbering_table_and_samples():
    assert sorted(NUMBERING) == sorted(z.value for z in Zone) == sorted(SAMPLES)
    for zone, classes in SAMPLES.items():
        expected = {L, INTL, P, U} | ({N} if NUMBERING[zone].national else set())
        assert set(classes) == expected, zone


@pytest.mark.parametrize("zone,number_class,number", CASES)
def test_classification_per_zone(zone, number_class, number):
    assert classify(zone, number) is number_class


@pytest.mark.parametrize("zone,number", EMERGENCY)
def test_emergency_numbers_classify_as_emergency(zone, number):
    assert classify(zone, number) is NumberClass.EMERGENCY


def test_non_digits_and_overlong_numbers_are_unknown():
    assert classify("us", "555*123") is U
    assert classify("us", "") is U
    assert classify("us", "011" + "4" * 18) is U  # 21 digits: beyond any E.164 number


def extension(outbound: OutboundClass, number: str = "201") -> Extension:
    return Extension(number=number, port=2, outbound_class=outbound)


def zone_config(zone: str, **security) -> Config:
    return Config(zone=Zone(zone), extensions=(extension(OutboundClass.INTERNAL),),
                  security=Security(**security))


@pytest.mark.parametrize("zone,number", EMERGENCY)
@pytest.mark.parametrize("outbound", list(OutboundClass))
@pytest.mark.parametrize("after_hours", [False, True])
def test_emergency_always_allowed_bare_and_with_prefix(zone, number, outbound, after_hours):
    config = zone_config(zone, after_hours_max_class=OutboundClass.INTERNAL)
    prefix = config.outside_prefix()
    for dialled in (number, prefix + number):
        decision = may_dial(config, extension(outbound), dialled, after_hours)
        assert decision.allowed, decision.reason
        assert decision.number_class is NumberClass.EMERGENCY
        assert decision.number == number


RANK = [OutboundClass.INTERNAL, OutboundClass.LOCAL, OutboundClass.NATIONAL, OutboundClass.INTERNATIONAL]


@pytest.mark.parametrize("zone,number_class,number", [c for c in CASES if c[1] in (L, N, INTL)])
@pytest.mark.parametrize("outbound", RANK)
def test_outbound_class_ladder(zone, number_class, number, outbound):
    config = zone_config(zone)
    decision = may_dial(config, extension(outbound), config.outside_prefix() + number, after_hours=False)
    allowed = RANK.index(outbound) >= RANK.index(OutboundClass(number_class.value))
    assert decision.allowed is allowed, decision.reason
    assert decision.number_class is number_class
    assert decision.number == number


@pytest.mark.parametrize("cap", RANK)
@pytest.mark.parametrize("outbound", RANK)
def test_after_hours_cap(cap, outbound):
    config = zone_config("us", after_hours_max_class=cap)
    numbers = {OutboundClass.LOCAL: "95551234", OutboundClass.NATIONAL: "912125551234",
               OutboundClass.INTERNATIONAL: "9011441234567"}
    for needed, dialled in numbers.items():
        expected = RANK.index(needed) <= min(RANK.index(cap), RANK.index(outbound))
        decision = may_dial(config, extension(outbound), dialled, after_hours=True)
        assert decision.allowed is expected, decision.reason
        in_hours = may_dial(config, extension(outbound), dialled, after_hours=False)
        assert in_hours.allowed is (RANK.index(needed) <= RANK.index(outbound))


@pytest.mark.parametrize("allow_premium,outbound,after_hours,allowed", [
    (False, OutboundClass.INTERNATIONAL, False, False),
    (True, OutboundClass.NATIONAL, False, False),
    (True, OutboundClass.INTERNATIONAL, False, True),
    (True, OutboundClass.INTERNATIONAL, True, False),
])
def test_premium_needs_permission_international_class_and_office_hours(allow_premium, outbound, after_hours,
                                                                        allowed):
    config = zone_config("us", allow_premium=allow_premium, after_hours_max_class=OutboundClass.INTERNATIONAL)
    decision = may_dial(config, extension(outbound), "919005551234", after_hours)
    assert decision.allowed is allowed, decision.reason
    assert decision.number_class is P


def test_internal_numbers_and_refusals_explain_themselves():
    config = replace(zone_config("us"), extensions=(extension(OutboundClass.INTERNAL), extension(
        OutboundClass.INTERNAL, "202")))
    internal = may_dial(config, config.extensions[0], "202", after_hours=False)
    assert (internal.allowed, internal.number_class) == (True, NumberClass.INTERNAL)
    no_prefix = may_dial(config, config.extensions[0], "5551234", after_hours=False)
    assert not no_prefix.allowed and "outside-line prefix 9" in no_prefix.reason
    invalid = may_dial(config, config.extensions[0], "91234", after_hours=False)
    assert not invalid.allowed and invalid.number_class is U and "not a valid number in zone us" in invalid.reason
    national = may_dial(config, extension(OutboundClass.LOCAL), "912125551234", after_hours=False)
    assert national.reason == "12125551234 is national; extension 201 has outbound class local"


def test_trunk_to_trunk_is_off_by_default():
    assert Security().trunk_to_trunk_allowed is False
    assert may_bridge_trunks(Config()).allowed is False
    assert "trunk_to_trunk_allowed" in may_bridge_trunks(Config()).reason
    assert may_bridge_trunks(Config(security=Security(trunk_to_trunk_allowed=True))).allowed is True


@pytest.mark.parametrize("zone,number_class,number", [c for c in CASES if c[1] is not U])
def test_dial_plan_completes_each_sample_with_the_same_class(zone, number_class, number):
    """Default dial plan of each zone: prefix + number completes (never early), with the tollguard's class."""
    config = Config(zone=Zone(zone))
    dialled = config.outside_prefix() + number
    collector = config.dial_plan().start()
    for digit in dialled[:-1]:
        assert collector.feed(digit).state in (MatchState.PARTIAL, MatchState.COMPLETE_ON_TIMEOUT), dialled
    result = collector.feed(dialled[-1])
    if result.state is MatchState.COMPLETE_ON_TIMEOUT:
        result = collector.expire()
    assert (result.state, result.kind, result.name, result.number) == (
        MatchState.COMPLETE, DialKind.EXTERNAL, number_class.value, number)


@pytest.mark.parametrize("zone,number", EMERGENCY)
def test_dial_plan_completes_emergency_at_once(zone, number):
    config = Config(zone=Zone(zone))
    for dialled in (number, config.outside_prefix() + number):
        result = config.dial_plan().match(dialled)
        assert (result.state, result.kind, result.number) == (MatchState.COMPLETE, DialKind.EMERGENCY, number)
