"""Caller ID text: the one definition of its limits, the rule that makes what a line sends
safe, and the rule that makes any name sendable to a phone.

Limits (ETSI EN 300 659-3 clause 5.4, calling line identity and calling party name):
``MAX_NUMBER_DIGITS`` = 20 characters of a number, ``MAX_NAME_CHARS`` = 50 characters of a
name (Telcordia GR-30-CORE displays show 15, the rest is cut by the phone). Every part of
the box that holds or checks caller ID text uses these two numbers (``dsp.callerid``
re-exports them; the DTMF caller ID receiver and the console import them from there).

What an exchange sends is checked once, where it enters (the FSK message decoder and the
DTMF caller ID parser), and made safe instead of refused; the call always goes on:

- number (``clean_number``): control characters, spaces and the separators ``- . ( ) /``
  are removed; what is left must be ``0-9 * # +``: a number with any other character
  (``ABC``, Latin-1, ...) is not a number and is shown as unavailable (``None``); an empty
  one too; a longer one is cut to its first ``MAX_NUMBER_DIGITS`` characters (the country
  and area code survive, which routing and a person reading it need most);
- name (``clean_name``): the bytes are read as UTF-8 when they are valid UTF-8 with some
  non-ASCII character in them, else as Latin-1 (ISO 8859-1, what European exchanges send
  for ``MÜLLER``), so no byte is ever an error; control and format characters are removed
  (tabs, line and paragraph breaks become a space), runs of spaces are one, the ends are
  trimmed, the rest cut to ``MAX_NAME_CHARS``. A name that is then empty is absent.

The name is kept as sent (``MÜLLER``) for the call record, the log and the console, which
show any character. A phone's caller ID can carry less: GR-30-CORE and EN 300 659-3 code
the name in ITU-T T.50 (ASCII) characters. ``name_octets(name, charset)`` makes any name
sendable: with ``"ascii"`` (what the box sends its phones) German umlauts and ß are written
as German does without them (DIN 5007-2: ``Ä`` ``AE``, ``Ö`` ``OE``, ``Ü`` ``UE``,
``ß`` ``SS``; so ``MÜLLER`` is shown ``MUELLER``), ligatures and letters with no accent
to strip by a table (``Æ`` ``AE``, ``Ø`` ``OE``, ``Ł`` ``L`` ...), other accented
letters lose the accent (``É`` ``E``), and anything else is ``?``; with ``"latin1"``
Latin-1 characters go as they are and only the others are transliterated. Both are cut to
``MAX_NAME_CHARS`` bytes. Neither ever fails.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NUMBER_DIGITS = 20  # EN 300 659-3: calling line identity, up to 20 characters
MAX_NAME_CHARS = 50  # EN 300 659-3: calling party name, up to 50 characters (GR-30 displays 15)
NUMBER_CHARACTERS = "0123456789*#+"  # GR-30-CORE / EN 300 659-3 number characters
NAME_CHARSETS = ("ascii", "latin1")

_NUMBER_SEPARATORS = re.compile(r"[\s\-.()/]+")
_SPACES = re.compile(r" {2,}")
_BREAKS = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029")
# DIN 5007-2 for the German letters; the others have no accent NFKD could strip.
_TRANSLITERATION = {
    "Ä": "AE", "Ö": "OE", "Ü": "UE", "ä": "ae", "ö": "oe", "ü": "ue", "ß": "SS", "ẞ": "SS",
    "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Ø": "OE", "ø": "oe", "Þ": "TH", "þ": "th",
    "Ð": "D", "ð": "d", "Đ": "D", "đ": "d", "Ł": "L", "ł": "l", "ı": "i", "Ŋ": "NG", "ŋ": "ng",
    "‘": "'", "’": "'", "‚": "'", "“": '"', "”": '"', "„": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "–": "-", "—": "-", "×": "x", "÷": "/", "¡": "!", "¿": "?",
}


def clean_number(text: str) -> str | None:
    """A received number made safe (see the module doc); None: not a number (unavailable)."""
    kept = _NUMBER_SEPARATORS.sub("", _without_controls(text))
    if not kept or any(ch not in NUMBER_CHARACTERS for ch in kept):
        return None
    return kept[:MAX_NUMBER_DIGITS]


def clean_name(text: str) -> str | None:
    """A received name made safe (see the module doc); None: nothing left to show."""
    spaced = "".join(" " if ch in _BREAKS or unicodedata.category(ch) == "Zs" else ch for ch in text)
    kept = _SPACES.sub(" ", _without_controls(spaced)).strip()
    return kept[:MAX_NAME_CHARS].rstrip() or None


def received_text(value: bytes) -> str:
    """Received bytes as text: UTF-8 when they are valid UTF-8 beyond ASCII, else Latin-1."""
    if value.isascii():
        return value.decode("ascii")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def is_valid_name(text: str) -> bool:
    """1 to ``MAX_NAME_CHARS`` printable characters of any script (``str.isprintable``: no
    control or format characters, no line breaks); what ``clean_name`` returns always is."""
    return isinstance(text, str) and 1 <= len(text) <= MAX_NAME_CHARS and text.isprintable()


def name_octets(name: str, charset: str = "ascii") -> bytes:
    """``name`` as a phone's caller ID can carry it (see the module doc); never fails."""
    if charset not in NAME_CHARSETS:
        raise ValueError(f"unknown name charset {charset!r} (choose from {', '.join(NAME_CHARSETS)})")
    keep_latin1 = charset == "latin1"
    out = []
    for ch in clean_name(name) or "":
        code = ord(ch)
        if 0x20 <= code <= 0x7E or (keep_latin1 and 0xA0 <= code <= 0xFF):
            out.append(ch)
        else:
            out.append(_transliterate(ch))
    return "".join(out).encode("latin-1")[:MAX_NAME_CHARS]


def _transliterate(ch: str) -> str:
    if ch in _TRANSLITERATION:
        return _TRANSLITERATION[ch]
    if unicodedata.category(ch) == "Zs":
        return " "
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if base and all(0x20 <= ord(c) <= 0x7E for c in base):
        return base
    return "?"


def _without_controls(text: str) -> str:
    """``text`` without control, format, surrogate, private-use and unassigned characters."""
    return "".join(ch for ch in text if not unicodedata.category(ch).startswith("C"))
