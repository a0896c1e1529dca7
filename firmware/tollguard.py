"""Toll-fraud protection: what class is a number, and may this extension dial it?

Numbers are classified per country zone from the table :data:`NUMBERING` (digit maps in
the syntax of :mod:`firmware.dialplan`, matched in this order, first match wins):

1. ``emergency``: the zone's emergency numbers (exact). ALWAYS allowed, from every
   extension, at every hour, with or without the outside-line prefix.
2. ``premium``: premium-rate and directory-enquiry ranges (the classic fraud targets).
3. ``international``: the international prefix, plus NANP area codes that are
   international-rate although dialled as 1+NPA (the Caribbean "one-ring scam" codes).
4. ``national``: long-distance, mobile and non-geographic numbers.
5. ``local``: local numbers (in closed numbering plans, where every call is dialled in
   full, "local" means the country's geographic fixed-line numbers).

Anything else is ``unknown`` and refused. The table is code, not configuration: editing
the dial plan changes when a number is complete, never which class it is, so a careless
digit map cannot open international dialling. The sources of each zone's entries (ITU-T
E.164 national numbering plans as published by the regulators, the NANP administrator's
list of Caribbean NPAs) are summarised in docs/configuration.md.

An extension's outbound class (internal < local < national < international) is the
highest class it may dial; after hours (the security schedule closed) it is capped at
``security.after_hours_max_class``. Premium numbers need ``security.allow_premium`` and an
international-class extension, and never after hours. Trunk-to-trunk bridging (transfer
or forwarding of an outside call to an outside number) needs
``security.trunk_to_trunk_allowed``, false by default.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from firmware import FirmwareError
from firmware.dialplan import DigitMap
from firmware.schedule import check_open

if TYPE_CHECKING:
    from firmware.config.model import Config, Extension


class NumberClass(StrEnum):
    EMERGENCY = "emergency"
    INTERNAL = "internal"
    LOCAL = "local"
    NATIONAL = "national"
    INTERNATIONAL = "international"
    PREMIUM = "premium"
    UNKNOWN = "unknown"


OUTBOUND_RANK = MappingProxyType({
    NumberClass.INTERNAL: 0,
    NumberClass.LOCAL: 1,
    NumberClass.NATIONAL: 2,
    NumberClass.INTERNATIONAL: 3,
})
"""Outbound classes an extension can hold, from the most to the least restricted."""

MAX_EXTERNAL_DIGITS = 20
"""ITU-T E.164 numbers have at most 15 digits; 20 leaves room for prefixes and carrier codes."""


@dataclass(frozen=True)
class ZoneNumbering:
    emergency: tuple[str, ...]
    local: str
    national: str
    international: str
    premium: str

    def maps(self) -> dict[str, str]:
        return {"local": self.local, "national": self.national,
                "international": self.international, "premium": self.premium}


def _caribbean() -> str:
    """NANP area codes dialled as 1+NPA but billed as international (NANPA list)."""
    npas = ("242", "246", "264", "268", "284", "345", "441", "473", "649", "658", "664", "721",
            "758", "767", "784", "809", "829", "849", "868", "869", "876")
    return "|".join(f"1{npa}[2-9]xxxxxx" for npa in npas)


def _nanp_ten_digit_local() -> str:
    """10-digit local numbers: a geographic area code (NPA), then NXX-XXXX.

    NANP rules for geographic NPAs: first digit 2-9; no 9 as the second digit (N9X is kept
    for the expansion to 4-digit codes); the last two digits not equal (those are the
    easily recognizable codes: N11 service codes, 555, 800 ...); 37X and 96X reserved.
    So a 7-digit number that starts with 555 or 411 cannot become a 10-digit one and is
    complete at once, while one that starts with a possible area code (212-5557) waits
    for the inter-digit timer in this mixed 7/10-digit plan.
    """
    alternatives = []
    for second in range(9):
        first = {7: "[24-9]", 6: "[2-8]"}.get(second, "[2-9]")  # 37X and 96X are reserved
        third = "".join(str(d) for d in range(10) if d != second)
        alternatives.append(f"{first}{second}[{third}][2-9]xxxxxx")
    return "|".join(alternatives)


_NANP = ZoneNumbering(
    emergency=("911",),
    local="[2-9]xxxxxx|" + _nanp_ten_digit_local() + "|[2-8]11|0",
    national="1[2-9]xx[2-9]xxxxxx|0[2-9]xx[2-9]xxxxxx",
    international="011xxxx.T|01[2-9]xxxx.T|101xxxxxx.T|" + _caribbean(),
    premium="1900[2-9]xxxxxx|1976[2-9]xxxxxx|900[2-9]xxxxxx|976[2-9]xxxxxx",
)

NUMBERING: Mapping[str, ZoneNumbering] = MappingProxyType({
    "us": _NANP,
    "ca": _NANP,
    "uk": ZoneNumbering(
        emergency=("999", "112"),
        local="[2-9]xxxxx|[2-9]xxxxxx|[2-9]xxxxxxx|1xx",
        national="0[1-9]xxxxxxxx|0[1-9]xxxxxxxxx",
        international="00xxxxx.T",
        premium="09xxxxxxxxx|087xxxxxxxx|118xxx",
    ),
    "de": ZoneNumbering(
        emergency=("110", "112"),
        local="[2-9]xxx.T|115|116xxx",
        national="0[1-9]xxxxx.T",
        international="00xxxxx.T",
        premium="0900xxxxxxx|0137xxxxxxx|118xx|118xxx|019xxxx.T",
    ),
    "fr": ZoneNumbering(
        emergency=("15", "17", "18", "112", "114", "115", "119"),
        local="0[1-5]xxxxxxxx",
        national="0[6-9]xxxxxxxx",
        international="00xxxxx.T",
        premium="08[1-9]xxxxxxx|118xxx|3xxx",
    ),
    "es": ZoneNumbering(
        emergency=("112", "091", "092", "061", "062", "080"),
        local="[89][1-8]xxxxxxx",
        national="[67]xxxxxxxx|[89]0xxxxxxx",
        international="00xxxxx.T",
        premium="80[3-7]xxxxxx|90[5-7]xxxxxx|118xx",
    ),
    "it": ZoneNumbering(
        emergency=("112", "113", "115", "118", "1530"),
        local="0xxxxxx.T",
        national="3xxxxxxxx|3xxxxxxxxx|80[03]xxxxxx|84[0-8]xxxxxx",
        international="00xxxxx.T",
        premium="89[2-9]xxxx.T|12xx|144xxxx.T|166xxxx.T",
    ),
    "pt": ZoneNumbering(
        emergency=("112", "117"),
        local="2xxxxxxxx",
        national="9[1236]xxxxxxx|30xxxxxxx|70[78]xxxxxx|80[08]xxxxxx",
        international="00xxxxx.T",
        premium="6[0-9]xxxxxxx|76[01]xxxxxx|18xx",
    ),
    "nl": ZoneNumbering(
        emergency=("112",),
        local="[2-9]xxxxx|[2-9]xxxxxx",
        national="0[1-9]xxxxxxxx",
        international="00xxxxx.T",
        premium="090[069]xxxx|090[069]xxxxxxx|18xx",
    ),
    "gr": ZoneNumbering(
        emergency=("112", "100", "108", "166", "199"),
        local="2xxxxxxxxx",
        national="69xxxxxxxx|80[0-9]xxxxxxx|70xxxxxxxx",
        international="00xxxxx.T",
        premium="90[19]xxxxxxx|118xx",
    ),
    "mx": ZoneNumbering(
        emergency=("911",),
        local="[2-8]xxxxxxxxx",
        national="",
        international="00xxxxx.T",
        premium="900xxxxxxx",
    ),
    "co": ZoneNumbering(
        emergency=("123", "112", "119", "125"),
        local="60[1-8]xxxxxxx",
        national="3xxxxxxxxx|01800xxxxxxx",
        international="00xxxxx.T",
        premium="01900xxxxxxx",
    ),
    "ar": ZoneNumbering(
        emergency=("911", "100", "101", "107"),
        local="[2-9]xxxxxx|[2-9]xxxxxxx",
        national="0[1-57-9]xxxxxxxxx|0[1-57-9]xxxxxxxxxxx|0800xxxxxxx|15xxxxxx|15xxxxxxx|15xxxxxxxx",
        international="00xxxxx.T",
        premium="06xxxxxxxxx",
    ),
    "cl": ZoneNumbering(
        emergency=("131", "132", "133", "134", "137"),
        local="[2-7]xxxxxxxx",
        national="9xxxxxxxx|600xxxxxxx|800xxxxxx",
        international="00xxxxx.T",
        premium="700xxxxxx",
    ),
    "br": ZoneNumbering(
        emergency=("190", "191", "192", "193", "197", "198", "199"),
        local="[2-5]xxxxxxx|9xxxxxxxx",
        national="0xx[1-9][1-9]xxxxxxxx|0xx[1-9][1-9]xxxxxxxxx|0[38]00xxxxxxx",
        international="00xxxxxx.T",
        premium="0900xxxxxxx",
    ),
    "au": ZoneNumbering(
        emergency=("000", "112", "106"),
        local="[2-9]xxxxxxx",
        national="0[2-478]xxxxxxxx|1[38]00xxxxxx|13xxxx",
        international="0011xxxx.T|0018xxxx.T",
        premium="190xxxxxxx",
    ),
})

_CLASS_ORDER = (NumberClass.PREMIUM, NumberClass.INTERNATIONAL, NumberClass.NATIONAL, NumberClass.LOCAL)


def _classifier(numbering: ZoneNumbering) -> DigitMap:
    maps = numbering.maps()
    digit_map = DigitMap([])
    for number_class in _CLASS_ORDER:
        digit_map |= DigitMap.parse(maps[number_class.value], tag=number_class)
    return digit_map


_CLASSIFIERS: Mapping[str, DigitMap] = MappingProxyType({zone: _classifier(n) for zone, n in NUMBERING.items()})


def classify(zone: str, number: str) -> NumberClass:
    """The class of an external ``number`` (digits as sent to the line, no outside prefix)."""
    numbering = NUMBERING.get(zone)
    if numbering is None:
        raise ValueError(f"unknown zone {zone!r}")
    if number in numbering.emergency:
        return NumberClass.EMERGENCY
    if not number.isdigit() or len(number) > MAX_EXTERNAL_DIGITS:
        return NumberClass.UNKNOWN
    alternative = _CLASSIFIERS[zone].fullmatch(number)
    return NumberClass.UNKNOWN if alternative is None else NumberClass(alternative.tag)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    number_class: NumberClass | None = None
    number: str = ""
    """What to dial: the external number without the outside prefix, or the internal number."""


def emergency_number(zone: str, dialled: str, outside_prefix: str) -> str | None:
    """The emergency number ``dialled`` reaches (bare or after the prefix), else None."""
    emergency = NUMBERING[zone].emergency
    if dialled in emergency:
        return dialled
    if outside_prefix and dialled.startswith(outside_prefix) and dialled[len(outside_prefix):] in emergency:
        return dialled[len(outside_prefix):]
    return None


def is_after_hours(config: Config, when: dt.datetime) -> bool:
    """True when ``security.after_hours_schedule`` is set and closed at ``when`` (aware)."""
    name = config.security.after_hours_schedule
    if name is None:
        return False
    schedule = config.schedule(name)
    if schedule is None:
        raise FirmwareError(f"security.after_hours_schedule: schedule {name} does not exist")
    return not check_open(schedule, when).is_open


def may_dial(config: Config, extension: Extension, dialled: str, after_hours: bool) -> Decision:
    """May ``extension`` call ``dialled`` (digits as keyed, outside prefix included)?"""
    zone = str(config.zone)
    prefix = config.outside_prefix()
    emergency = emergency_number(zone, dialled, prefix)
    if emergency is not None:
        return Decision(True, f"{emergency} is an emergency number in zone {zone}: always allowed",
                        NumberClass.EMERGENCY, emergency)
    if dialled in config.internal_numbers():
        return Decision(True, f"{dialled} is an internal number", NumberClass.INTERNAL, dialled)
    if prefix and not dialled.startswith(prefix):
        return Decision(False, f"{dialled!r} is not an internal number and does not start with the "
                        f"outside-line prefix {prefix}", NumberClass.UNKNOWN, dialled)
    number = dialled[len(prefix):]
    number_class = classify(zone, number)
    if number_class is NumberClass.UNKNOWN:
        return Decision(False, f"{number!r} is not a valid number in zone {zone}", number_class, number)
    security = config.security
    granted = NumberClass(str(extension.outbound_class))
    if after_hours and OUTBOUND_RANK[NumberClass(str(security.after_hours_max_class))] < OUTBOUND_RANK[granted]:
        granted = NumberClass(str(security.after_hours_max_class))
        hours = f"after hours extension {extension.number} is limited to {granted.value}"
    else:
        hours = f"extension {extension.number} has outbound class {granted.value}"
    if number_class is NumberClass.PREMIUM:
        if not security.allow_premium:
            return Decision(False, f"{number} is a premium-rate number and security.allow_premium is off",
                            number_class, number)
        if after_hours:
            return Decision(False, f"{number} is a premium-rate number: never allowed after hours",
                            number_class, number)
        if granted is not NumberClass.INTERNATIONAL:
            return Decision(False, f"{number} is a premium-rate number; {hours} (premium needs international)",
                            number_class, number)
        return Decision(True, f"{number} is a premium-rate number; premium allowed and {hours}",
                        number_class, number)
    if OUTBOUND_RANK[number_class] > OUTBOUND_RANK[granted]:
        return Decision(False, f"{number} is {number_class.value}; {hours}", number_class, number)
    return Decision(True, f"{number} is {number_class.value}; {hours}", number_class, number)


def may_bridge_trunks(config: Config) -> Decision:
    """May an outside call be transferred or forwarded to another outside line?"""
    if config.security.trunk_to_trunk_allowed:
        return Decision(True, "security.trunk_to_trunk_allowed is on")
    return Decision(False, "trunk-to-trunk transfer and forwarding are off (security.trunk_to_trunk_allowed)")
