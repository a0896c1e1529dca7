"""E.164 normalisation per zone (firmware/numbers.py): written forms, prefixes, lengths, edges."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware import FirmwareError
from firmware.config import Zone
from firmware.numbers import MAX_DIGITS, PLANS, ZONES, is_valid, to_e164, try_e164
from firmware.tollguard import NUMBERING

# (zone, as written, E.164): every zone, national and international forms, the length edges.
VALID = [
    ("us", "(212) 555-0100", "+12125550100"),
    ("us", "212.555.0100", "+12125550100"),
    ("us", "1-212-555-0100", "+12125550100"),
    ("us", "+1 212 555 0100", "+12125550100"),
    ("us", "011 44 20 7946 0000", "+442079460000"),
    ("us", "+33 1 45 67 89 01", "+33145678901"),
    ("ca", "416 555 0199", "+14165550199"),
    ("uk", "020 7946 0000", "+442079460000"),
    ("uk", "01632 960123", "+441632960123"),
    ("uk", "0169 77 2345", "+44169772345"),  # 9-digit NSN: the shortest
    ("uk", "07700 900123", "+447700900123"),
    ("uk", "00 1 212 555 0100", "+12125550100"),
    ("uk", "+44 (0)20 7946 0000", None),  # the "(0)" is not part of the number: refused below
    ("de", "030 123456", "+4930123456"),
    ("de", "030 12345", "+493012345"),  # 7-digit NSN
    ("de", "0 89 1234", "+49891234"),  # 6 digits: the shortest NSN
    ("de", "0170 1234 5678", "+4917012345678"),  # 11 digits: the longest NSN
    ("de", "+49 30 123456", "+4930123456"),
    ("de", "0049 30 123456", "+4930123456"),
    ("de", "0033 6 12 34 56 78", "+33612345678"),
    ("fr", "01 45 67 89 01", "+33145678901"),
    ("fr", "06.12.34.56.78", "+33612345678"),
    ("fr", "+33 6 12 34 56 78", "+33612345678"),
    ("es", "612 345 678", "+34612345678"),
    ("es", "91 123 45 67", "+34911234567"),
    ("es", "0034 912345678", "+34912345678"),
    ("it", "06 1234 5678", "+390612345678"),  # the 0 stays: part of the Italian NSN
    ("it", "02 123456", "+3902123456"),
    ("it", "312 345 6789", "+393123456789"),
    ("it", "+39 06 1234 5678", "+390612345678"),
    ("pt", "21 234 5678", "+351212345678"),
    ("pt", "912 345 678", "+351912345678"),
    ("nl", "020 123 4567", "+31201234567"),
    ("nl", "06-12345678", "+31612345678"),
    ("nl", "0800 1234", "+318001234"),
    ("nl", "0900 1234567", "+319001234567"),
    ("gr", "210 123 4567", "+302101234567"),
    ("gr", "69 1234 5678", "+306912345678"),
    ("mx", "55 1234 5678", "+525512345678"),
    ("mx", "+52 81 1234 5678", "+528112345678"),
    ("co", "601 123 4567", "+576011234567"),
    ("co", "300 123 4567", "+573001234567"),
    ("co", "009 1 212 555 0100", "+12125550100"),  # 00 + carrier 9
    ("ar", "011 4321-1234", "+541143211234"),
    ("ar", "+54 9 11 4321 1234", "+5491143211234"),  # mobile in international form
    ("cl", "2 2123 4567", "+56221234567"),
    ("cl", "9 8765 4321", "+56987654321"),
    ("br", "(11) 91234-5678", "+5511912345678"),
    ("br", "(21) 2345-6789", "+552123456789"),
    ("br", "0 21 11 91234 5678", "+5511912345678"),  # trunk 0 + carrier 21
    ("br", "011 91234 5678", "+5511912345678"),  # trunk 0, no carrier
    ("br", "0021 1 212 555 0100", "+12125550100"),  # 00 + carrier 21
    ("au", "(02) 9876 5432", "+61298765432"),
    ("au", "0412 345 678", "+61412345678"),
    ("au", "1300 123 456", "+611300123456"),
    ("au", "0011 44 20 7946 0000", "+442079460000"),
    ("au", "131 234", "+61131234"),
    ("au", "2 9876 5432", "+61298765432"),  # an NSN without its trunk 0 (local numbers have 8 digits)
    ("us", "1 (212) 555 0100", "+12125550100"),
    ("de", "+7 495 123 4567", "+74951234567"),  # another country code: E.164 structure only
    ("de", "+683 4002", "+6834002"),  # 7 digits: the shortest accepted abroad
    ("de", "+86 10 1234 5678 9", "+861012345678 9".replace(" ", "")),
    ("de", "+\u00a049 30 123456", "+4930123456"),  # a no-break space, as spreadsheets write it
]

INVALID = [
    ("us", "", "not a number: empty"),
    ("us", "  ", "not a number: empty"),
    ("us", "abc", "not a number: 'abc'"),
    ("us", "1-800-FLOWERS", "not a number"),
    ("us", "212 555 0100 x12", "not a number"),
    ("us", "++1 212 555 0100", "not a number"),
    ("us", "212+5550100", "not a number"),
    ("us", "٢١٢٥٥٥٠١٠٠", "not a number"),  # Arabic-Indic digits: isdigit() but not ASCII
    ("us", "555 0100", "too short for us: 7 digits, national numbers have 10"),
    ("us", "212 555 01000", "too long for us: 11 digits, national numbers have 10"),
    ("us", "112 555 0100", "too short for us: 9 digits"),  # a 1 is the trunk prefix
    ("us", "1 212 555 010", "too short for us: 9 digits, national numbers have 10"),
    ("us", "1 212 555 01000", "too long for us: 11 digits, national numbers have 10"),
    ("us", "212 155 0100", "not a valid number for us: 2121550100"),
    ("uk", "020 7946 000", None),  # 9 digits in the 02 range is valid by length: see VALID's 0169 77 2345
    ("uk", "01632 9601", "too short for uk: 8 digits, national numbers have 9-10"),
    ("uk", "020 7946 00000", "too long for uk: 11 digits, national numbers have 9-10"),
    ("uk", "046 1234 5678", "not a valid number for uk"),
    ("uk", "2079460000", "no trunk prefix for uk"),
    ("uk", "+44 (0)20 7946 0000", "too long for +44: 11 digits"),
    ("de", "0 12345", "too short for de: 5 digits, national numbers have 6-11"),
    ("de", "0170 1234 56789", "too long for de: 12 digits, national numbers have 6-11"),
    ("de", "1234567", "no trunk prefix for de"),
    ("de", "00", "not a number: no digits after the international prefix"),
    ("de", "+28 1234 5678", "country code +28: not assigned (ITU-T E.164)"),
    ("de", "+0 1234 5678", "country code +0: not assigned"),
    ("de", "+683 400", "too short: +683400 has 6 digits, E.164 numbers have 7-15"),
    ("de", "+86 10 1234 5678 9012", "too long: 16 digits, E.164 numbers have at most 15"),
    ("de", "+33 6 12 34 56 7", "too short for +33: 8 digits, national numbers have 9"),
    ("fr", "06 12 34 56 7", "too short for fr: 8 digits, national numbers have 9"),
    ("fr", "06 12 34 56 78 9", "too long for fr: 10 digits, national numbers have 9"),
    ("es", "412 345 678", "not a valid number for es"),
    ("es", "61 234 567", "too short for es: 8 digits, national numbers have 9"),
    ("it", "512345", "not a valid number for it"),
    ("it", "0123 4", "too short for it: 5 digits, national numbers have 6-11"),
    ("pt", "112 345 678", "not a valid number for pt"),
    ("nl", "0800 12345", "not a valid number for nl"),  # 0800 + 5: neither 4 nor 7 digits
    ("nl", "020 123 456", "not a valid number for nl"),
    ("gr", "310 123 4567", "not a valid number for gr"),
    ("mx", "01 55 1234 5678", "too long for mx: 12 digits"),  # the withdrawn 01 prefix
    ("co", "1234567", "too short for co: 7 digits, national numbers have 10"),
    ("co", "00 1 212 555 0100", "too long for co: 13 digits"),  # no carrier after 00
    ("ar", "011 15 4321 1234", "too long for ar: 12 digits"),
    ("cl", "8 765 4321", "too short for cl: 8 digits, national numbers have 9"),
    ("br", "(10) 91234-5678", "not a valid number for br"),
    ("au", "9876 5432", "not a valid number for au: 98765432"),  # a local number, no area code
    ("au", "0 9876 5432", "not a valid number for au: 98765432"),  # 09 is not in use
]


@pytest.mark.parametrize(("zone", "written", "e164"), [row for row in VALID if row[2] is not None])
def test_written_forms_become_e164(zone, written, e164):
    assert to_e164(written, zone) == e164
    assert is_valid(written, zone)
    assert to_e164(e164, zone) == e164  # E.164 is a fixed point, in every zone
    assert all(to_e164(e164, other) == e164 for other in ZONES)


@pytest.mark.parametrize(("zone", "written", "reason"), [row for row in INVALID if row[2] is not None])
def test_invalid_numbers_give_one_line_reasons(zone, written, reason):
    with pytest.raises(FirmwareError) as error:
        to_e164(written, zone)
    assert reason in str(error.value)
    assert "\n" not in str(error.value)
    assert not is_valid(written, zone)
    assert try_e164(written, zone) is None


def test_every_zone_of_the_configuration_and_the_toll_guard_has_a_plan():
    assert set(ZONES) == {zone.value for zone in Zone} == set(NUMBERING)


@pytest.mark.parametrize("zone", ZONES)
def test_plan_lengths_agree_with_patterns_and_e164_maximum(zone):
    import re
    plan = PLANS[zone]
    low, high = plan.nsn_lengths
    assert len(plan.country_code) + high <= MAX_DIGITS  # E.164 clause 6.2.1
    # the extremes of the stated lengths are reachable by the pattern, one digit beyond is not
    lengths = {n for n in range(1, MAX_DIGITS + 1)
               if any(re.fullmatch(plan.nsn, lead + "5" * (n - len(lead)))
                      for lead in ("2", "3", "4", "6", "7", "8", "9", "0", "11", "13", "69", "90", "601", "800",
                                   "1300", "119", "911"))}
    assert min(lengths) == low and max(lengths) == high


def test_unknown_zone_is_an_error_not_an_invalid_number():
    with pytest.raises(FirmwareError, match="unknown zone 'xx'"):
        is_valid("123", "xx")
    with pytest.raises(FirmwareError, match="unknown zone"):
        to_e164("123", "US")


def test_overlong_input_is_refused_before_parsing():
    with pytest.raises(FirmwareError, match="longer than 40 characters"):
        to_e164("1" * 41, "us")
    with pytest.raises(FirmwareError, match="not a number"):
        to_e164(None, "us")  # type: ignore[arg-type]


def test_withheld_caller_ids_are_not_numbers():
    for caller_id in ("P", "O", "anonymous", "Private"):
        assert try_e164(caller_id, "uk") is None


@given(text=st.text(alphabet="0123456789+ -.()/x\u00a0", max_size=30), zone=st.sampled_from(ZONES))
@settings(max_examples=400, deadline=None, derandomize=True)
def test_any_text_is_a_number_or_a_one_line_refusal_and_e164_is_a_fixed_point(text, zone):
    try:
        e164 = to_e164(text, zone)
    except FirmwareError as exc:
        assert "\n" not in str(exc) and not is_valid(text, zone)
        return
    assert e164.startswith("+") and e164[1:].isdigit() and len(e164) - 1 <= MAX_DIGITS
    assert all(to_e164(e164, other) == e164 for other in ZONES)
