"""The IVR's pure decisions, tested from tables: digits checks, menu matching, what a say node
speaks, and the path a call took.

Everything here is a function of its arguments: no clock, no call control.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass

from firmware import FirmwareError
from firmware.config.ivrmodel import IvrNode, MenuChoice, SayKind

DTMF_SYMBOLS = frozenset("0123456789*#ABCD")
MAX_HEARD_CHARS = 64  # a recognition's text as kept in the path and the log
USERFIELD_CHARS = 255  # Asterisk's CDR userfield is 255 characters
CONFIDENCE_THRESHOLD = 0.5
"""A spoken choice at or above this confidence is taken."""
CONFIRM_FLOOR = 0.25
"""A spoken choice between this and the threshold is confirmed ("<what you said>, if this is
correct, press 1"); below it, or without the recording to ask with, it is not understood."""
CONFIRM_KEY = "1"
CONFIDENCE_BANDS = {  # engine -> (taken at or above, confirmed at or above): each engine's scale
    "vosk": (CONFIDENCE_THRESHOLD, CONFIRM_FLOOR),  # mean word posterior
    # the answer's share of the lattice's N-best answers (firmware/speech/sphinx_engine.py): on
    # the bench, held-out and development voice sets, 96-99 % of right answers reach 0.5, 40-71 %
    # of wrong ones (docs/ivr.md)
    "pocketsphinx": (CONFIDENCE_THRESHOLD, CONFIRM_FLOOR),
}


def confidence_band(engine: str) -> tuple[float, float]:
    """(take, confirm) thresholds for a recognition by ``engine``; unknown engines: the defaults."""
    return CONFIDENCE_BANDS.get(engine, (CONFIDENCE_THRESHOLD, CONFIRM_FLOOR))


def luhn_ok(digits: str) -> bool:
    """ISO/IEC 7812-1 annex B: the last digit is the Luhn check digit of the others."""
    if len(digits) < 2 or not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def normalized(text: str) -> str:
    """Lower case, single spaces (the recognizer's and the configuration's words compare so)."""
    return " ".join(text.lower().split())


def choice_by_key(node: IvrNode, key: str) -> MenuChoice | None:
    return next((choice for choice in node.choices if choice.key and choice.key == key), None)


def grammar(node: IvrNode, language: str) -> list[str]:
    """The words and phrases a menu listens for in ``language`` (its choices', in order)."""
    phrases: list[str] = []
    for choice in node.choices:
        for choice_language, words in choice.words:
            if choice_language == language:
                phrases.extend(normalized(word) for word in words if normalized(word) not in phrases)
    return phrases


def choice_by_words(node: IvrNode, language: str, heard: str) -> tuple[MenuChoice | None, str]:
    """The choice whose word or phrase was heard: the whole text, else a phrase of a choice
    appearing in it as whole words; ambiguous (two choices' phrases heard) is no match."""
    text = normalized(heard)
    if not text:
        return None, "nothing heard"
    matches: list[tuple[MenuChoice, str]] = []
    padded = f" {text} "
    for choice in node.choices:
        for choice_language, words in choice.words:
            if choice_language != language:
                continue
            for word in words:
                phrase = normalized(word)
                if phrase == text:
                    return choice, f"heard {phrase!r}"
                if f" {phrase} " in padded and all(choice is not other for other, _ in matches):
                    matches.append((choice, phrase))
    if len(matches) == 1:
        return matches[0][0], f"heard {matches[0][1]!r} in {text!r}"
    if matches:
        return None, f"ambiguous: {', '.join(repr(phrase) for _, phrase in matches)}"
    return None, f"{text!r} is no choice"


def clean_confidence(value: float) -> float:
    """A recognizer's confidence bounded to 0..1 (NaN is 0): outside input, checked at the edge."""
    return 0.0 if not isinstance(value, (int, float)) or math.isnan(value) else min(1.0, max(0.0, float(value)))


SayFunctions = dict[SayKind, Callable[[str, str], list[str]]]


def say_words(kind: SayKind, value: str, language: str, say: SayFunctions) -> list[str]:
    """The recorded words that speak ``value`` as ``kind``; FirmwareError when ``value`` is
    not one (``'12.5x'`` as money)."""
    return say[kind](value, language)


def parse_cents(value: str) -> int:
    """``'12.50'`` / ``'12'`` / ``'-3.05'`` -> cents; FirmwareError otherwise."""
    text = value.strip()
    sign = -1 if text.startswith("-") else 1
    units, _, cents = (text[1:] if sign < 0 else text).partition(".")
    if not units.isdigit() or (cents and (not cents.isdigit() or len(cents) > 2)) or len(units) > 9:
        raise FirmwareError(f"{value!r} is not an amount like 12.50")
    return sign * (int(units) * 100 + int(cents.ljust(2, "0") if cents else 0))


def parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise FirmwareError(f"{value!r} is not a date like 2026-12-24") from exc


def parse_time(value: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value.strip())
    except ValueError as exc:
        raise FirmwareError(f"{value!r} is not a time like 14:30") from exc


def parse_number(value: str) -> int:
    text = value.strip()
    if not text.lstrip("-").isdigit() or len(text) > 10:
        raise FirmwareError(f"{value!r} is not a whole number")
    return int(text)


@dataclass(frozen=True)
class Step:
    """One step of a call's path: a node entered, or input taken there, and the rule that decided."""

    node: str
    rule: str
    input: str = ""  # "dtmf 1", "digits 4111111111111111", "speech 'support'", "timeout"
    confidence: float | None = None

    def text(self) -> str:
        heard = f" {self.input}" if self.input else ""
        confidence = f" ({self.confidence:.2f})" if self.confidence is not None else ""
        return f"{self.node}{heard}{confidence}: {self.rule}"


def compact_path(flow: str, steps: list[Step], limit: int = USERFIELD_CHARS) -> str:
    """The path as the call record keeps it: ``ivr main: hours>welcome[dtmf 1]>support>queue``,
    cut to ``limit`` characters with ``…`` when longer."""
    parts: list[str] = []
    for step in steps:
        if step.input and parts and parts[-1].split("[")[0] == step.node:
            parts[-1] += f"[{step.input}]"
        elif step.input:
            parts.append(f"{step.node}[{step.input}]")
        else:
            parts.append(step.node)
    text = f"ivr {flow}: " + ">".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"
