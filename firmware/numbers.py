"""Telephone numbers in E.164 form: normalised and validated per the box's zone.

ITU-T E.164 (11/2010) numbers are a country code (1-3 digits, clause 6.2.1) followed by
the national significant number (NSN), at most 15 digits in all (clause 6.2.1, figure 2),
written ``+CCNSN`` in the international format of ITU-T E.123 (02/2001, clause 2). This
module turns the ways people and lines write a number into that form, so that a contact's
stored number, a lead's number and a caller ID as received compare equal:

- separators are dropped: spaces, dashes, dots, slashes and parentheses (E.123 clause 7);
- ``+`` or the zone's international prefix (``00``; ``011`` in NANP; ``0011``/``0018`` in
  Australia; ``00`` + a carrier code in Brazil and Colombia) starts the country code;
- otherwise the number is national: the trunk prefix (``0``; ``1`` in NANP, where it may
  also be left out because no area code starts with 0 or 1) is dropped, and the NSN is
  checked against the zone's national plan (its lengths and leading digits).

A number in another zone's country code is checked with that zone's plan (a box in Germany
storing a French number checks 9 digits); other country codes are checked for E.164's
structure only (an assigned code, 7-15 digits in all).

Local numbers without an area code (a 7-digit NANP number, a German number without its
0 + area code) cannot be normalised without knowing the site's area code: they are
refused as too short. The plans come from each regulator's national numbering plan as
notified to the ITU (ITU-T E.129 notifications); their sources are listed in
docs/configuration.md ("Telephone numbers").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from firmware import FirmwareError

MAX_DIGITS = 15
"""ITU-T E.164 clause 6.2.1: at most 15 digits, country code included."""

MIN_FOREIGN_DIGITS = 7
"""The shortest international numbers in use (a 3-digit country code + a 4-digit NSN, e.g. +683)."""

MAX_INPUT_CHARS = 40
"""A written number longer than this is refused before it is parsed (a trust boundary)."""

_SEPARATORS = re.compile(r"[\s\-./()\u00a0]")
_WRITTEN = re.compile(r"\+?[0-9]+")

# ITU-T E.164 assigned country codes (ITU Operational Bulletin list): the 1- and 2-digit
# codes; every other code has 3 digits. The 2-digit prefixes 28, 83 and 89 are spare.
_ONE_DIGIT_CODES = frozenset({"1", "7"})
_TWO_DIGIT_CODES = frozenset(
    "20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 "
    "60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98".split())
_SPARE_PREFIXES = frozenset({"0", "28", "83", "89"})


@dataclass(frozen=True)
class NationalPlan:
    """One country's numbering as this module needs it.

    ``international`` and ``trunk`` are regular expressions matched at the start of the
    digits; ``nsn`` the national significant numbers (a full match); ``nsn_lengths`` their
    shortest and longest length, for the one-line error; ``trunk_optional`` says a national
    number may be written without the trunk prefix (NANP, where no NSN starts with 0 or 1;
    Brazil, where numbers are usually written (area code) number; Australia, where
    13/1300/1800 numbers have none and local numbers have 8 digits, one less than an NSN).
    """

    country_code: str
    international: str
    trunk: str
    nsn: str
    nsn_lengths: tuple[int, int]
    leading: str
    """What the NSN pattern wants, in words, for the error message."""
    trunk_optional: bool = False

    def lengths_text(self) -> str:
        low, high = self.nsn_lengths
        return str(low) if low == high else f"{low}-{high}"


_NANP = NationalPlan(
    # NANP numbering plan (NANPA): NPA-NXX-XXXX, N = 2-9; 011 international, 1 trunk prefix
    country_code="1", international="011", trunk="1", trunk_optional=True,
    nsn=r"[2-9][0-9]{2}[2-9][0-9]{6}", nsn_lengths=(10, 10),
    leading="an area code and an exchange code that start with 2-9")

PLANS: Mapping[str, NationalPlan] = MappingProxyType({
    "us": _NANP,
    "ca": _NANP,
    # Ofcom National Telephone Numbering Plan: 0 + 9 or 10 digits; 04 and 06 are unused
    "uk": NationalPlan("44", "00", "0", r"[12357-9][0-9]{8,9}", (9, 10), "1, 2, 3, 5, 7, 8 or 9"),
    # BNetzA: area code (without 0) + subscriber number at most 11 digits; mobile 15x-17x 10-11
    "de": NationalPlan("49", "00", "0", r"[1-9][0-9]{5,10}", (6, 11), "1-9 after the trunk prefix 0"),
    # ARCEP plan: 10 digits 0Z ABPQ MCDU, so a 9-digit NSN, Z = 1-9
    "fr": NationalPlan("33", "00", "0", r"[1-9][0-9]{8}", (9, 9), "1-9 after the trunk prefix 0"),
    # CNMC plan: closed, 9 digits, no trunk prefix; 6/7 mobile, 8/9 fixed and non-geographic
    "es": NationalPlan("34", "00", "", r"[5-9][0-9]{8}", (9, 9), "5, 6, 7, 8 or 9"),
    # AGCOM plan: no trunk prefix, the fixed numbers' 0 is part of the NSN (6-11 digits);
    # mobile 3 + 8-9 digits; non-geographic 8xx
    "it": NationalPlan("39", "00", "", r"0[0-9]{5,10}|3[0-9]{8,9}|8[0-9]{5,9}", (6, 11), "0, 3 or 8"),
    # ANACOM plan: closed, 9 digits; 2 fixed, 9 mobile, 3/6/7/8 non-geographic
    "pt": NationalPlan("351", "00", "", r"[2-9][0-9]{8}", (9, 9), "2-9"),
    # ACM (Nummerplan): 0 + 9 digits; 0800 and 0900/0906/0909 also 0 + 7 digits (and 10)
    "nl": NationalPlan("31", "00", "0", r"[1-9][0-9]{8}|(?:800|90[069])[0-9]{4}(?:[0-9]{3})?", (7, 10),
                       "1-9 (9 digits), or 800/900/906/909 (7 or 10 digits)"),
    # EETT plan: closed, 10 digits; 2 fixed, 69 mobile, 70/80/90 non-geographic
    "gr": NationalPlan("30", "00", "", r"2[0-9]{9}|(?:69|[789]0)[0-9]{8}", (10, 10), "2, 69, 70, 80 or 90"),
    # IFT: 10 digits, no trunk prefix since 3 August 2019 (01/044/045 withdrawn)
    "mx": NationalPlan("52", "00", "", r"[1-9][0-9]{9}", (10, 10), "1-9"),
    # CRC Resolution 5826/2019: 10 digits since 2021, 60X fixed, 3 mobile; international 00 + carrier (5, 7, 9)
    "co": NationalPlan("57", "00[579]", "", r"60[1-8][0-9]{7}|3[0-9]{9}", (10, 10), "601-608 or 3"),
    # ENACOM: area code + number = 10 digits after the trunk prefix 0; mobiles in
    # international form take a 9 first (+54 9 11 ...)
    "ar": NationalPlan("54", "00", "0", r"9?[1-3][0-9]{9}|800[0-9]{7}", (10, 11),
                       "an area code 1-3 (10 digits), or 9 + 10 digits for a mobile in international form"),
    # Subtel: closed, 9 digits since 2016 (2 Santiago, 3-7 regions, 9 mobile)
    "cl": NationalPlan("56", "00", "", r"[2-9][0-9]{8}", (9, 9), "2-9"),
    # Anatel: area code (two digits 1-9) + 8 (fixed) or 9 (mobile, 9 first) digits; trunk 0 +
    # a 2-digit carrier code; international 00 + a carrier code
    "br": NationalPlan("55", "00[1-9][0-9]", "0(?:[1-9][0-9])?", r"[1-9]{2}9?[0-9]{8}|[3589]00[0-9]{7}", (10, 11),
                       "a two-digit area code 11-99, or 0300/0500/0800/0900", trunk_optional=True),
    # ACMA Telecommunications Numbering Plan: 0 + 9 digits; 13/1300/1800 without a trunk prefix
    "au": NationalPlan("61", "001[18]", "0", r"[2-478][0-9]{8}|1[38]00[0-9]{6}|13[0-9]{4}", (6, 10),
                       "2, 3, 4, 7 or 8 (9 digits), or 13/1300/1800", trunk_optional=True),
})
ZONES: tuple[str, ...] = tuple(PLANS)

_BY_COUNTRY_CODE: Mapping[str, NationalPlan] = MappingProxyType({plan.country_code: plan for plan in PLANS.values()})


def plan_for(zone: str) -> NationalPlan:
    """The national plan of ``zone`` (a lower-case zone of the configuration, e.g. ``"de"``)."""
    plan = PLANS.get(zone)
    if plan is None:
        raise FirmwareError(f"unknown zone {zone!r} (zones: {', '.join(ZONES)})")
    return plan


def _digits(number: str) -> str:
    """The written number without separators: digits, with one leading ``+`` at most."""
    if not isinstance(number, str):
        raise FirmwareError("not a number")
    if len(number) > MAX_INPUT_CHARS:
        raise FirmwareError(f"not a number: longer than {MAX_INPUT_CHARS} characters")
    compact = _SEPARATORS.sub("", number)
    if not compact:
        raise FirmwareError("not a number: empty")
    if not _WRITTEN.fullmatch(compact) or not compact.isascii():
        raise FirmwareError(f"not a number: {number.strip()!r}")
    return compact


def _split_country_code(digits: str) -> tuple[str, str]:
    """(country code, NSN) of the digits after ``+`` (ITU-T E.164 assigned codes)."""
    for size in (1, 2):
        if digits[:size] in _SPARE_PREFIXES:
            raise FirmwareError(f"country code +{digits[:size]}: not assigned (ITU-T E.164)")
    if digits[:1] in _ONE_DIGIT_CODES:
        return digits[:1], digits[1:]
    if digits[:2] in _TWO_DIGIT_CODES:
        return digits[:2], digits[2:]
    return digits[:3], digits[3:]


def _check_nsn(nsn: str, plan: NationalPlan, where: str) -> str:
    low, high = plan.nsn_lengths
    digits = f"{len(nsn)} digit{'' if len(nsn) == 1 else 's'}"
    if len(nsn) < low:
        raise FirmwareError(f"too short for {where}: {digits}, national numbers have {plan.lengths_text()}")
    if len(nsn) > high:
        raise FirmwareError(f"too long for {where}: {digits}, national numbers have {plan.lengths_text()}")
    if not re.fullmatch(plan.nsn, nsn):
        raise FirmwareError(f"not a valid number for {where}: {nsn} (national numbers start with {plan.leading})")
    return f"+{plan.country_code}{nsn}"


def _international(digits: str) -> str:
    if len(digits) > MAX_DIGITS:
        raise FirmwareError(f"too long: {len(digits)} digits, E.164 numbers have at most {MAX_DIGITS}")
    if not digits:
        raise FirmwareError("not a number: no digits after the international prefix")
    code, nsn = _split_country_code(digits)
    plan = _BY_COUNTRY_CODE.get(code)
    if plan is not None:
        return _check_nsn(nsn, plan, f"+{code}")
    if len(digits) < MIN_FOREIGN_DIGITS:
        raise FirmwareError(f"too short: +{digits} has {len(digits)} digits, E.164 numbers have "
                            f"{MIN_FOREIGN_DIGITS}-{MAX_DIGITS}")
    return f"+{digits}"


def to_e164(number: str, zone: str) -> str:
    """``number`` as written (spaces, dashes, dots, parentheses; ``+``, the international or
    the trunk prefix) in E.164 form, ``+`` and digits, read in ``zone``'s national plan.

    Raises FirmwareError with a one-line reason: ``not a number``, ``too short for de: 5
    digits, national numbers have 6-11``, ``country code +28: not assigned (ITU-T E.164)``...
    """
    plan = plan_for(zone)
    digits = _digits(number)
    if digits.startswith("+"):
        return _international(digits[1:])
    international = re.match(plan.international, digits)
    if international:
        return _international(digits[international.end():])
    if plan.trunk:
        trunk = re.match(plan.trunk, digits)
        if trunk is None and not plan.trunk_optional:
            raise FirmwareError(f"no trunk prefix for {zone}: national numbers are written "
                                f"{plan.trunk[0]}… (or +{plan.country_code}…); a local number needs its area code")
        if trunk is not None:
            if re.fullmatch(plan.nsn, digits[trunk.end():]):
                return _check_nsn(digits[trunk.end():], plan, zone)
            # no NSN starts with a trunk prefix: the error names what follows the trunk digit
            return _check_nsn(digits[1:], plan, zone)
    return _check_nsn(digits, plan, zone)


def is_valid(number: str, zone: str) -> bool:
    """True when ``number`` reads as a valid E.164 number in ``zone`` (see :func:`to_e164`)."""
    plan_for(zone)  # an unknown zone is the caller's error, not an invalid number
    try:
        to_e164(number, zone)
    except FirmwareError:
        return False
    return True


def try_e164(number: str, zone: str) -> str | None:
    """:func:`to_e164`, or None for what is not a valid number (a withheld caller ID, ``P``, ``O``)."""
    plan_for(zone)
    try:
        return to_e164(number, zone)
    except FirmwareError:
        return None
