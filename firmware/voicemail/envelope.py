"""The message envelope: "received <date> <time> from phone number <digits>", said before a message.

As Asterisk's ``envelope=yes``: the date and time the message was received, in the box's
language (``Config.effective_language``) with :mod:`firmware.speech.say`'s grammar for
English, Spanish and French, in the ``voicemail.timezone`` zone; then the caller's number
digit by digit, or "unknown caller" when it was withheld. :func:`envelope_words` is pure (a
table test checks it); :class:`EnvelopeSpeaker` turns the words into audio with the
language's recordings. It reads files the first time a word is needed, so it is called on
the mailbox menu's worker, never on the media loop.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np

from firmware import FirmwareError
from firmware.schedule import zone_info
from firmware.speech.api import SpeechError
from firmware.speech.say import LANGUAGES, SOUND_ROOT, SoundLibrary, say_date, say_digits, say_time, sound_dir

FALLBACK_LANGUAGE = "en"


def envelope_language(language: str) -> str:
    """The language the envelope is said in: the box's if its recordings exist, else English."""
    base = language.split("_")[0].lower()
    return base if base in LANGUAGES else FALLBACK_LANGUAGE


def envelope_words(received: float, caller_number: str, language: str, timezone: str) -> list[str]:
    """The recordings' names saying when and from whom a message came."""
    language = envelope_language(language)
    when = dt.datetime.fromtimestamp(received, zone_info(timezone))
    words = ["vm-received", *say_date(when.date(), language), *say_time(when.time(), language)]
    digits = "".join(ch for ch in caller_number if ch.isdigit() or ch in "*#")
    if digits:
        words += ["vm-from-phonenumber", *say_digits(digits, language)]
    else:
        words.append("vm-unknown-caller")
    return words


class EnvelopeSpeaker:
    """Envelope audio per language (a :class:`SoundLibrary` each, made on first use)."""

    def __init__(self, read: Callable[[Path], np.ndarray], root: Path = SOUND_ROOT) -> None:
        self._read = read
        self._root = root
        self._libraries: dict[str, SoundLibrary] = {}

    def audio(self, received: float, caller_number: str, language: str, timezone: str) -> np.ndarray:
        """The envelope as float64 samples (16-bit scale); FirmwareError if a recording is missing."""
        language = envelope_language(language)
        try:
            library = self._libraries.get(language)
            if library is None:
                library = self._libraries[language] = SoundLibrary(sound_dir(language, self._root), self._read)
            return library.audio(envelope_words(received, caller_number, language, timezone)).astype(np.float64)
        except SpeechError as exc:
            raise FirmwareError(f"voicemail: envelope: {exc}") from exc
