"""Numbers, digits, dates, times and money spoken in each language with recorded words.

Each function returns the names of recordings as they exist in Debian's
``asterisk-core-sounds-{en,es,fr}-wav`` (``digits/5``, ``digits/hundred``, ``digits/mon-0``);
:class:`SoundLibrary` turns names into 8 kHz int16 audio. Only words that exist in each
language's set are used (tests/test_say.py checks every name produced against the disk), so
where a recording is missing the nearest recorded form is said, as listed here:

- English: 0–20 as words, tens + units, "hundred", "thousand", "million"; years in pairs
  ("nineteen oh five", "twenty twenty-six"; 2000–2009 as "two thousand five"); dates as weekday,
  month, ordinal day ("digits/h-5"), year; times on the 12-hour clock with "oh", "o'clock", a.m./p.m.
- Spanish: gender agreement ``gender`` 'm' before a masculine noun (un, veintiún, treinta y un),
  'f' before a feminine one (una, veintiuna), 'n' counting alone (uno, veintiuno); "cien" alone
  and "ciento" before more (``digits/hundred`` / ``digits/100-and``); "veinti" + un/una from
  ``digits/20-and`` since only "veintiuno" is recorded whole; 21–29 and the hundreds are recorded
  whole; the hundreds exist only masculine (doscientos), so they are said so for both genders;
  "mil" alone for 1000, "un millón" / "N millones".
- French: "et un" in 21…61 and "soixante et onze"; 70–79 as soixante + dix…dix-neuf; 80 as
  "quatre-vingts", 81–99 as quatre-vingt + un…dix-neuf (no "et"); "cent", "mille" alone for
  100 and 1000; feminine "une" is not recorded, "un" is said for both genders.
- Money: only the dollar is recorded in the core sets ("digits/dollars"); cents are said as
  "and N" (the core sets have no "cents" word).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from firmware.media.words import join_words, trim_silence
from firmware.speech.api import SpeechError

SOUND_ROOT = Path("/usr/share/asterisk/sounds")  # Debian asterisk-core-sounds-*-wav
# Each language's folder, first existing wins: Debian links es/ and fr/ through alternatives;
# the English set is installed as en_US_f_Allison (the en/ link exists only on some installs).
LANGUAGE_DIRS = {"en": ("en", "en_US_f_Allison"), "es": ("es", "es_MX_f_Allison"),
                 "fr": ("fr", "fr_CA_f_June")}
LANGUAGES = tuple(LANGUAGE_DIRS)
GENDERS = ("m", "f", "n")
MAX_NUMBER = 999_999_999  # the largest number every language's recordings can say
CURRENCIES = ("USD",)  # currencies whose name is recorded in the core sets


def sound_dir(language: str, root: Path = SOUND_ROOT) -> Path:
    """The folder holding ``language``'s recordings under ``root``."""
    _check_language(language)
    for name in LANGUAGE_DIRS[language]:
        if (root / name / "digits").is_dir():
            return root / name
    raise SpeechError(f"say: no recordings for language {language!r} under {root} "
                      f"(install asterisk-core-sounds-{language}-wav)")


class SoundLibrary:
    """Recorded words of one language as audio; each word read once, trimmed, kept."""

    def __init__(self, directory: Path, read: Callable[[Path], np.ndarray]) -> None:
        self._directory = directory
        self._read = read
        self._words: dict[str, np.ndarray] = {}

    def exists(self, name: str) -> bool:
        return (self._directory / f"{name}.wav").is_file()

    def audio(self, names: Sequence[str]) -> np.ndarray:
        """The words ``names`` joined with the usual gap, 8 kHz int16."""
        for name in names:
            if name not in self._words:
                path = self._directory / f"{name}.wav"
                if ".." in Path(name).parts or not path.is_file():
                    raise SpeechError(f"say: no recording {name!r} in {self._directory}")
                self._words[name] = trim_silence(self._read(path))
        joined = join_words(self._words, names)
        return np.clip(np.round(joined), -32768, 32767).astype(np.int16)


def say_number(value: int, language: str, gender: str = "m") -> list[str]:
    """The words saying the integer ``value`` (|value| <= MAX_NUMBER)."""
    _check_language(language)
    if gender not in GENDERS:
        raise SpeechError(f"say: gender must be one of {', '.join(GENDERS)}, not {gender!r}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpeechError(f"say: a number must be an integer, not {value!r}")
    if abs(value) > MAX_NUMBER:
        raise SpeechError(f"say: {value} is beyond the largest number said ({MAX_NUMBER})")
    if value < 0:
        return ["digits/minus", *say_number(-value, language, gender)]
    return {"en": _en, "es": _es, "fr": _fr}[language](value, gender)


def say_digits(text: str, language: str) -> list[str]:
    """Each character of ``text`` (0-9, * and #) said one by one."""
    _check_language(language)
    names = []
    for char in text:
        if char in "0123456789":
            names.append(f"digits/{char}")
        elif char in "*#":
            names.append("digits/star" if char == "*" else "digits/pound")
        else:
            raise SpeechError(f"say: cannot say the character {char!r} as a digit")
    return names


def say_date(d: datetime.date, language: str) -> list[str]:
    """Weekday, day, month and year in the language's order."""
    _check_language(language)
    weekday = f"digits/day-{(d.weekday() + 1) % 7}"  # the recordings number Sunday 0
    month = f"digits/mon-{d.month - 1}"
    if language == "en":
        return [weekday, month, *_en_ordinal(d.day), *_en_year(d.year)]
    if language == "es":  # "sábado cinco de diciembre de dos mil veintiséis"
        return [weekday, *_es(d.day, "n"), "digits/es-de", month, "digits/es-de", *_es(d.year, "n")]
    day = ["digits/h-1"] if d.day == 1 else _fr(d.day, "m")  # "premier", then cardinals
    return [weekday, *day, month, *_fr(d.year, "m")]


def say_time(t: datetime.time, language: str) -> list[str]:
    """Hours and minutes: 12-hour clock with a.m./p.m. in English and Spanish, 24-hour in French."""
    _check_language(language)
    hour12 = t.hour % 12 or 12
    half = "digits/a-m" if t.hour < 12 else "digits/p-m"
    if language == "en":
        if t.minute == 0:
            minutes = ["digits/oclock"]
        elif t.minute < 10:
            minutes = ["digits/oh", f"digits/{t.minute}"]
        else:
            minutes = _en(t.minute, "m")
        return [*_en(hour12, "m"), *minutes, half]
    if language == "es":  # "la una y veinte", "las tres en punto": hours are feminine (horas)
        minutes = ["digits/oclock"] if t.minute == 0 else ["digits/and", *_es(t.minute, "n")]
        return [*_es(hour12, "f"), *minutes, half]
    minutes = _fr(t.minute, "m") if t.minute else []  # "quatorze heures vingt"
    return [*_fr(t.hour, "m"), "hours", *minutes]


def say_money(cents: int, currency: str, language: str) -> list[str]:
    """An amount in cents of ``currency``: "five dollars and twenty"."""
    _check_language(language)
    if currency.upper() not in CURRENCIES:
        raise SpeechError(f"say: no recording names the currency {currency!r} "
                          f"(recorded: {', '.join(CURRENCIES)})")
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise SpeechError(f"say: an amount must be an integer number of cents, not {cents!r}")
    sign = ["digits/minus"] if cents < 0 else []
    units, rest = divmod(abs(cents), 100)
    name = "letters/dollar" if units == 1 and language == "en" else "digits/dollars"
    names = [*sign, *say_number(units, language, "m"), name]
    if rest:
        names += ["vm-and", *say_number(rest, language, "m")]
    return names


def _check_language(language: str) -> None:
    if language not in LANGUAGE_DIRS:
        raise SpeechError(f"say: language must be one of {', '.join(LANGUAGES)}, not {language!r}")


# ----------------------------------------------------------------------------- English

def _en(n: int, gender: str) -> list[str]:
    if n <= 20:
        return [f"digits/{n}"]
    if n < 100:
        tens, units = divmod(n, 10)
        return [f"digits/{tens * 10}"] + ([f"digits/{units}"] if units else [])
    for size, word in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            head, rest = divmod(n, size)
            return [*_en(head, gender), f"digits/{word}"] + (_en(rest, gender) if rest else [])
    raise AssertionError(n)


def _en_ordinal(n: int) -> list[str]:
    if n <= 20 or n % 10 == 0:
        return [f"digits/h-{n}"]
    return [f"digits/{n // 10 * 10}", f"digits/h-{n % 10}"]


def _en_year(year: int) -> list[str]:
    century, rest = divmod(year, 100)
    if year < 1000 or 2000 <= year <= 2009 or century % 10 == 0 and rest == 0:
        return _en(year, "m")  # "two thousand five", "two thousand"
    if rest == 0:
        return [*_en(century, "m"), "digits/hundred"]  # "nineteen hundred"
    if rest < 10:
        return [*_en(century, "m"), "digits/oh", f"digits/{rest}"]  # "nineteen oh five"
    return [*_en(century, "m"), *_en(rest, "m")]


# ----------------------------------------------------------------------------- Spanish

def _es_one(gender: str) -> str:
    return {"m": "digits/1M", "f": "digits/1F", "n": "digits/1"}[gender]


def _es(n: int, gender: str) -> list[str]:
    if n == 1:
        return [_es_one(gender)]
    if n == 21 and gender != "n":
        return ["digits/20-and", _es_one(gender)]  # veintiún / veintiuna
    if n < 30:
        return [f"digits/{n}"]
    if n < 100:
        tens, units = divmod(n, 10)
        return [f"digits/{tens * 10}"] + (["digits/and", *_es(units, gender)] if units else [])
    if n == 100:
        return ["digits/hundred"]  # cien
    if n < 1000:
        head, rest = divmod(n, 100)
        first = "digits/100-and" if head == 1 else f"digits/{head * 100}"  # ciento, doscientos…
        return [first] + (_es(rest, gender) if rest else [])
    if n < 1_000_000:
        head, rest = divmod(n, 1000)
        # "mil" alone; before "mil" the apocope of the masculine (veintiún mil) or the feminine
        lead = [] if head == 1 else _es(head, "m" if gender == "n" else gender)
        return [*lead, "digits/thousand"] + (_es(rest, gender) if rest else [])
    head, rest = divmod(n, 1_000_000)
    lead = ["digits/1M", "digits/million"] if head == 1 else [*_es(head, "m"), "digits/millions"]
    return lead + (_es(rest, gender) if rest else [])


# ----------------------------------------------------------------------------- French

def _fr(n: int, gender: str) -> list[str]:
    if n <= 20:
        return [f"digits/{n}"]
    if n < 70:
        tens, units = divmod(n, 10)
        unit = {0: [], 1: ["digits/et", "digits/1"]}.get(units, [f"digits/{units}"])
        return [f"digits/{tens * 10}", *unit]
    if n < 80:  # soixante-dix … soixante-dix-neuf, "soixante et onze"
        return ["digits/60", *(["digits/et"] if n == 71 else []), f"digits/{n - 60}"]
    if n < 100:  # quatre-vingts, quatre-vingt-un … quatre-vingt-dix-neuf
        return ["digits/80"] + ([f"digits/{n - 80}"] if n > 80 else [])
    for size, word in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            head, rest = divmod(n, size)
            lead = [] if head == 1 and size < 1_000_000 else _fr(head, gender)  # "cent", "mille"
            return [*lead, f"digits/{word}"] + (_fr(rest, gender) if rest else [])
    raise AssertionError(n)
