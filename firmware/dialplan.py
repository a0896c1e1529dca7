"""Digit maps and the box's dial plan: when is a dialled number complete?

Digit maps follow the MGCP digit-map syntax of IETF RFC 3435 section 2.1.5 (the one SIP
phones and analog telephone adapters use):

- a digit ``0``-``9``, ``*``, ``#`` or ``A``-``D`` matches itself;
- ``x`` matches any digit 0-9; ``[2-9]``, ``[1-357]``, ``[*#]`` match one of a set;
- ``.`` after an element repeats it zero or more times (``011x.`` = 011 then any digits);
- ``T`` (only at the end of an alternative here) means "complete when the inter-digit
  timer expires";
- ``|`` separates alternatives; the whole map may be wrapped in parentheses.

Matching is incremental: :class:`MatchCursor` keeps, for each alternative, the set of
positions reachable with the digits so far (a small NFA), so each new digit costs one
step. The state after each digit is one of:

- ``COMPLETE``: an alternative matches exactly, no alternative can take more digits and
  none asks for the timer: dial now;
- ``COMPLETE_ON_TIMEOUT``: an alternative matches, but a longer number is still possible
  (or the alternative ends in ``T``): arm the inter-digit timer (RFC 3435's short timer),
  dial when it expires;
- ``PARTIAL``: nothing matches yet but more digits can: arm the long timer;
- ``NO_MATCH``: no alternative can match any more: reorder tone.

Alternatives marked *immediate* (the emergency numbers) complete as soon as they match,
whatever else could follow: an emergency call never waits for a timer.

:class:`DialPlan` combines the box's maps (emergency, feature codes, internal numbers,
and the outside-line prefix followed by the per-class external maps) into one map whose
alternatives carry a :class:`DialTag`, and :class:`DigitCollector` is what the call
engine feeds digit by digit. Time is not read here: the collector says which timer to
arm (milliseconds) and the engine calls :meth:`DigitCollector.expire` when it fires.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum, StrEnum

from firmware import FirmwareError

DIAL_DIGITS = "0123456789*#ABCD"
"""Every symbol a DTMF keypad (RFC 3435 digit maps) can send."""


class MatchState(Enum):
    NO_MATCH = "no_match"
    PARTIAL = "partial"
    COMPLETE_ON_TIMEOUT = "complete_on_timeout"
    COMPLETE = "complete"


@dataclass(frozen=True)
class Element:
    """One position of an alternative: a set of digits, optionally repeated (``.``)."""

    chars: frozenset[str]
    repeat: bool = False


@dataclass(frozen=True)
class Alternative:
    """One ``|``-separated branch of a digit map, with what it means (``tag``)."""

    text: str
    elements: tuple[Element, ...]
    timer: bool = False
    tag: object = None
    immediate: bool = False


@dataclass(frozen=True)
class MapMatch:
    state: MatchState
    alternative: Alternative | None = None


def _parse_set(text: str, start: int, source: str) -> tuple[frozenset[str], int]:
    """Parses ``[...]`` beginning after the ``[`` at ``start``; returns the set and the index after ``]``."""
    chars: set[str] = set()
    index = start
    while index < len(text) and text[index] != "]":
        char = text[index]
        if char not in DIAL_DIGITS:
            raise FirmwareError(f"digit map {source!r}: {char!r} is not a dial digit inside [...]")
        if index + 2 < len(text) and text[index + 1] == "-" and text[index + 2] != "]":
            last = text[index + 2]
            if not (char.isdigit() and last.isdigit()) or last < char:
                raise FirmwareError(f"digit map {source!r}: bad range {char}-{last}")
            chars.update(str(d) for d in range(int(char), int(last) + 1))
            index += 3
        else:
            chars.add(char)
            index += 1
    if index >= len(text):
        raise FirmwareError(f"digit map {source!r}: unclosed '['")
    if not chars:
        raise FirmwareError(f"digit map {source!r}: empty '[]'")
    return frozenset(chars), index + 1


def parse_alternative(text: str, tag: object = None, immediate: bool = False, source: str | None = None) -> Alternative:
    """One alternative (no ``|``). ``source`` is the whole map, for error messages."""
    source = text if source is None else source
    upper = text.replace("x", "X").upper()
    elements: list[Element] = []
    timer = False
    index = 0
    while index < len(upper):
        char = upper[index]
        if timer:
            raise FirmwareError(f"digit map {source!r}: 'T' must be the last element of an alternative")
        if char == "T":
            timer = True
            index += 1
        elif char == ".":
            if not elements or elements[-1].repeat:
                raise FirmwareError(f"digit map {source!r}: '.' must follow a digit, 'x' or '[...]'")
            elements[-1] = Element(elements[-1].chars, repeat=True)
            index += 1
        elif char == "X":
            elements.append(Element(frozenset("0123456789")))
            index += 1
        elif char == "[":
            chars, index = _parse_set(upper, index + 1, source)
            elements.append(Element(chars))
        elif char in DIAL_DIGITS:
            elements.append(Element(frozenset(char)))
            index += 1
        else:
            raise FirmwareError(f"digit map {source!r}: unexpected {text[index]!r}")
    if not elements:
        raise FirmwareError(f"digit map {source!r}: empty alternative")
    return Alternative(text=text, elements=tuple(elements), timer=timer, tag=tag, immediate=immediate)


def split_map(text: str) -> list[str]:
    """The alternatives of a map written as text; ``""`` is a map with no alternatives."""
    body = text.strip()
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
    if body == "":
        return []
    return body.split("|")


def _closure(alternative: Alternative, states: Iterable[int]) -> frozenset[int]:
    """Adds the positions reachable by skipping repeated (``.``) elements."""
    result = set(states)
    for position in sorted(result):
        while position < len(alternative.elements) and alternative.elements[position].repeat:
            position += 1
            result.add(position)
    return frozenset(result)


def _step(alternative: Alternative, states: frozenset[int], digit: str) -> frozenset[int]:
    moved = set()
    for position in states:
        if position < len(alternative.elements):
            element = alternative.elements[position]
            if digit in element.chars:
                moved.add(position if element.repeat else position + 1)
    return _closure(alternative, moved) if moved else frozenset()


class DigitMap:
    """A parsed digit map: an ordered tuple of alternatives (earlier ones win ties)."""

    def __init__(self, alternatives: Sequence[Alternative]) -> None:
        self.alternatives = tuple(alternatives)

    @classmethod
    def parse(cls, text: str, tag: object = None, immediate: bool = False, prefix: str = "") -> DigitMap:
        """``prefix`` (literal digits) is put in front of every alternative."""
        if not isinstance(text, str):
            raise FirmwareError(f"digit map {text!r}: expected text")
        return cls([parse_alternative(prefix + alt, tag, immediate, source=text) for alt in split_map(text)])

    def __or__(self, other: DigitMap) -> DigitMap:
        return DigitMap(self.alternatives + other.alternatives)

    def __len__(self) -> int:
        return len(self.alternatives)

    def start(self) -> MatchCursor:
        return MatchCursor(self)

    def match(self, digits: str) -> MapMatch:
        cursor = self.start()
        result = cursor.result()
        for digit in digits:
            result = cursor.feed(digit)
        return result

    def fullmatch(self, digits: str) -> Alternative | None:
        """The first alternative matching ``digits`` exactly (timers ignored), or None."""
        cursor = self.start()
        for digit in digits:
            cursor.feed(digit)
        return cursor.first_full()


class MatchCursor:
    """Incremental matching: one :meth:`feed` per digit as it arrives."""

    def __init__(self, digit_map: DigitMap) -> None:
        self.map = digit_map
        self.digits = ""
        self._states = [_closure(alt, (0,)) for alt in digit_map.alternatives]

    def feed(self, digit: str) -> MapMatch:
        digit = digit.upper()
        if len(digit) != 1 or digit not in DIAL_DIGITS:
            raise FirmwareError(f"dialled digit {digit!r} is not one of {DIAL_DIGITS}")
        self.digits += digit
        self._states = [
            _step(alt, states, digit) if states else states
            for alt, states in zip(self.map.alternatives, self._states, strict=True)
        ]
        return self.result()

    def first_full(self) -> Alternative | None:
        for alt, states in zip(self.map.alternatives, self._states, strict=True):
            if len(alt.elements) in states:
                return alt
        return None

    def result(self) -> MapMatch:
        full: list[Alternative] = []
        alive = extendable = False
        for alt, states in zip(self.map.alternatives, self._states, strict=True):
            if not states:
                continue
            alive = True
            if len(alt.elements) in states:
                full.append(alt)
            if any(position < len(alt.elements) for position in states):
                extendable = True
        if not alive or not self.digits:
            return MapMatch(MatchState.PARTIAL if alive else MatchState.NO_MATCH)
        for alt in full:
            if alt.immediate:
                return MapMatch(MatchState.COMPLETE, alt)
        if not extendable:
            for alt in full:
                if not alt.timer:
                    return MapMatch(MatchState.COMPLETE, alt)
        if full:
            return MapMatch(MatchState.COMPLETE_ON_TIMEOUT, full[0])
        return MapMatch(MatchState.PARTIAL)


class DialKind(StrEnum):
    EMERGENCY = "emergency"
    FEATURE = "feature"
    INTERNAL = "internal"
    EXTERNAL = "external"


EXTERNAL_CLASSES = ("premium", "international", "national", "local")
"""The classes of numbers reached through the outside-line prefix, most specific first: when
two classes' maps match the same digits, the earlier one names the result (as in
:mod:`firmware.tollguard`'s classification)."""


@dataclass(frozen=True)
class DialTag:
    """What an alternative of the dial plan means.

    ``name``: the number class for EXTERNAL, the feature name for FEATURE. ``strip``:
    digits to drop from the front to get the number (outside prefix or feature code).
    """

    kind: DialKind
    name: str = ""
    strip: int = 0


@dataclass(frozen=True)
class DialResult:
    state: MatchState
    digits: str
    kind: DialKind | None = None
    name: str = ""
    number: str = ""
    timeout_ms: int | None = None
    """Timer to arm now (ms): inter-digit when COMPLETE_ON_TIMEOUT, long when PARTIAL."""


class DialPlan:
    """The box's combined dial plan; build it once per configuration snapshot."""

    def __init__(
        self,
        *,
        emergency: Sequence[str],
        internal_map: str,
        external_maps: Mapping[str, str],
        outside_prefix: str,
        feature_codes: Mapping[str, str] | None = None,
        feature_arguments: Iterable[str] = (),
        inter_digit_timeout_ms: int = 4000,
        incomplete_timeout_ms: int = 15000,
    ) -> None:
        self.inter_digit_timeout_ms = inter_digit_timeout_ms
        self.incomplete_timeout_ms = incomplete_timeout_ms
        self.outside_prefix = outside_prefix
        with_argument = set(feature_arguments)
        digit_map = DigitMap([])
        for number in emergency:
            tag = DialTag(DialKind.EMERGENCY)
            digit_map |= DigitMap.parse(number, tag, immediate=True)
            if outside_prefix:
                digit_map |= DigitMap.parse(number, DialTag(DialKind.EMERGENCY, strip=len(outside_prefix)),
                                            immediate=True, prefix=outside_prefix)
        for name, code in (feature_codes or {}).items():
            tag = DialTag(DialKind.FEATURE, name, strip=len(code))
            # A feature with an argument (a forwarding target, a pickup extension) takes at
            # least one digit and ends with '#' or the inter-digit timer.
            text = f"{code}xx.#|{code}xx.T" if name in with_argument else code
            digit_map |= DigitMap.parse(text, tag)
        digit_map |= DigitMap.parse(internal_map, DialTag(DialKind.INTERNAL))
        for number_class in EXTERNAL_CLASSES:
            text = external_maps.get(number_class, "")
            tag = DialTag(DialKind.EXTERNAL, number_class, strip=len(outside_prefix))
            digit_map |= DigitMap.parse(text, tag, prefix=outside_prefix)
        self.map = digit_map

    def result(self, digits: str, match: MapMatch) -> DialResult:
        timeout = {
            MatchState.PARTIAL: self.incomplete_timeout_ms,
            MatchState.COMPLETE_ON_TIMEOUT: self.inter_digit_timeout_ms,
        }.get(match.state)
        if match.alternative is None:
            return DialResult(match.state, digits, timeout_ms=timeout)
        tag = match.alternative.tag
        assert isinstance(tag, DialTag)
        number = digits[tag.strip:]
        if tag.kind is DialKind.FEATURE:
            number = number.removesuffix("#")
        return DialResult(match.state, digits, tag.kind, tag.name, number, timeout)

    def match(self, digits: str) -> DialResult:
        return self.result(digits.upper(), self.map.match(digits))

    def start(self) -> DigitCollector:
        return DigitCollector(self)


class DigitCollector:
    """Collects one caller's digits. ``feed`` per digit; ``expire`` when the armed timer fires."""

    def __init__(self, plan: DialPlan) -> None:
        self.plan = plan
        self.cursor = plan.map.start()
        self.last = DialResult(MatchState.PARTIAL, "", timeout_ms=plan.incomplete_timeout_ms)

    @property
    def digits(self) -> str:
        return self.cursor.digits

    def feed(self, digit: str) -> DialResult:
        if self.last.state in (MatchState.COMPLETE, MatchState.NO_MATCH):
            raise FirmwareError(f"digit {digit!r} after the number was already {self.last.state.value}")
        match = self.cursor.feed(digit)
        self.last = self.plan.result(self.cursor.digits, match)
        return self.last

    def expire(self) -> DialResult:
        """The armed timer fired: a number complete on timeout is complete, anything else fails."""
        if self.last.state is MatchState.COMPLETE_ON_TIMEOUT:
            self.last = DialResult(MatchState.COMPLETE, self.last.digits, self.last.kind, self.last.name,
                                   self.last.number)
        elif self.last.state is MatchState.PARTIAL:
            self.last = DialResult(MatchState.NO_MATCH, self.last.digits)
        return self.last
