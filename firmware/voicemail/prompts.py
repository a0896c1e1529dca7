"""What voicemail callers and mailbox owners hear: sentences made of recorded words, per language.

The words are Debian's ``asterisk-core-sounds-{en,es,fr}-wav`` recordings (the ones Asterisk's
``VoiceMail()`` and ``VoiceMailMain()`` speak), read **once** at start by
:meth:`VoicemailPrompts.load` and kept in memory: building a sentence during a call is a
concatenation of cached arrays, never file I/O on the media loop. Each word is trimmed of
its recording's leading and trailing silence and words are joined with a short gap, the
same treatment as the ACD's prompts (both use :mod:`firmware.media.words`). Words are
named by their file stem: ``vm-intro``, ``digits/3``.

English is required (the box's fallback); Spanish and French are read when their package is
installed. A word a language's set lacks (Debian's Spanish set has no ``one-moment-please``)
is said from the English set; a language not read at all is spoken in English
(:meth:`VoicemailPrompts.speaks` says which language a caller really hears). Counts follow
each language's grammar (:func:`intro_words`, :func:`header_words`): "you have two new
messages", "tiene dos mensajes nuevos", "vous avez deux nouveaux messages".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from drivers import DriverError
from firmware import FirmwareError
from firmware.media.words import NUMBER_WORDS, PROMPT_DIR, join_words, number_words, trim_silence
from firmware.speech.say import say_number

DEFAULT_LANGUAGE = "en"
MAX_COUNT = 999  # counts said in a language's own grammar (a mailbox holds at most 9999: more is read digit by digit)

DEPOSIT_WORDS = ("vm-theperson", "vm-isunavail", "vm-intro", "beep", "vm-msgsaved", "vm-goodbye", "vm-mailboxfull")
"""VoiceMail(): "the person at extension 2 0 1 is unavailable", "please leave your message
after the tone; when done, hang up or press the pound key", the tone, "message saved", "goodbye"."""
MENU_WORDS = (
    "vm-youhave", "vm-INBOX", "vm-Old", "vm-and", "vm-no", "vm-message", "vm-messages", "vm-first", "vm-last",
    "vm-deleted", "vm-nomore", "vm-nobox", "vm-received", "vm-undeleted", "vm-saved", "beeperr",
    "one-moment-please",
    # PIN, options and greetings (Asterisk's VoiceMailMain password and options menu)
    "vm-password", "vm-incorrect", "vm-newpassword", "vm-reenterpassword", "vm-passchanged", "vm-mismatch",
    "vm-options", "vm-rec-unv", "vm-rec-busy", "vm-rec-name", "vm-sorry", "vm-tooshort",
    # the envelope's fixed words (the date and time: firmware/speech/say.py)
    "vm-from-phonenumber", "vm-unknown-caller",
)
"""VoiceMailMain() (the *97 menu): "you have 2 new messages and 1 old message", "first message",
"message deleted", "no more messages", "that mailbox does not exist" (no voicemail here)…"""
WORDS = (*DEPOSIT_WORDS, *MENU_WORDS, *NUMBER_WORDS)


def count_words(value: int, language: str, gender: str = "m") -> list[str]:
    """A count of messages: before the noun masculine in Spanish and French ("un mensaje",
    "un message"); ``gender='n'`` for a number said after it ("mensaje veintiuno")."""
    if language == DEFAULT_LANGUAGE or language not in ("es", "fr"):
        return number_words(value)
    if value > MAX_COUNT:
        return [f"digits/{digit}" for digit in str(value)]
    return say_number(value, language, gender)


def language_words(language: str) -> tuple[str, ...]:
    """Every word the voicemail says in ``language``: the fixed ones and the counts' words."""
    counts = {name for value in range(MAX_COUNT + 1) for gender in ("m", "n")
              for name in count_words(value, language, gender)}
    return (*WORDS, "vm-INBOXs", "vm-Olds", "vm-youhaveno", *sorted(counts - set(WORDS)))


def intro_words(new: int, old: int, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """The summary in ``language``'s order: "you have 2 new messages and 1 old message"; Spanish puts
    the adjective after the noun, plural with the noun ("dos mensajes nuevos", ``vm-INBOXs``)."""
    def count(n: int, adjective: str) -> list[str]:
        noun = "vm-message" if n == 1 else "vm-messages"
        if language == "es":
            return [*count_words(n, language), noun, adjective if n == 1 else f"{adjective}s"]
        return [*count_words(n, language), adjective, noun]

    if not new and not old:
        return ["vm-youhaveno", "vm-messages"] if language == "es" else ["vm-youhave", "vm-no", "vm-messages"]
    words = ["vm-youhave"]
    if new:
        words += count(new, "vm-INBOX")
    if new and old:
        words.append("vm-and")
    if old:
        words += count(old, "vm-Old")
    return words


def header_words(position: int, language: str = DEFAULT_LANGUAGE) -> list[str]:
    """"first message", else "message" N (``position`` counts from 0)."""
    if position == 0:
        return ["vm-first", "vm-message"]
    return ["vm-message", *count_words(position + 1, language, "n")]


class VoicemailPrompts:
    """Recorded words in memory per language and the sentences made of them (cached by their words)."""

    def __init__(self, words: dict[str, np.ndarray], required: Sequence[str] = WORDS,
                 others: Mapping[str, Mapping[str, np.ndarray]] | None = None) -> None:
        """``words``: the English set (every ``required`` word); ``others``: language -> its words."""
        missing = [name for name in required if name not in words]
        if missing:
            raise FirmwareError(f"voicemail: prompt words missing: {', '.join(missing[:5])}")
        self.words = {name: trim_silence(samples) for name, samples in words.items()}
        self._sets: dict[str, dict[str, np.ndarray]] = {DEFAULT_LANGUAGE: self.words}
        for language, own in (others or {}).items():
            if language != DEFAULT_LANGUAGE:
                self._sets[language] = {name: trim_silence(samples) for name, samples in own.items()}
        self._sentences: dict[tuple[str, tuple[str, ...]], np.ndarray] = {}

    @classmethod
    def load(cls, read: Callable[[Path], np.ndarray], directory: Path = PROMPT_DIR,
             names: Sequence[str] = WORDS, languages: Mapping[str, Path] | None = None) -> VoicemailPrompts:
        """Reads every word once with ``read`` (``drivers.audiofile.read_audio``): English from
        ``directory`` (all of ``names`` needed), and each of ``languages`` (language -> folder)
        best effort -- a word missing there is said in English."""
        words = {}
        for name in names:
            path = directory / f"{name}.wav"
            try:
                words[name] = read(path)
            except DriverError as exc:
                raise FirmwareError(f"voicemail: prompt {path} unreadable: {exc}") from exc
        others: dict[str, dict[str, np.ndarray]] = {}
        for language, folder in (languages or {}).items():
            own = others[language] = {}
            for name in language_words(language):
                path = folder / f"{name}.wav"
                if path.is_file():
                    try:
                        own[name] = read(path)
                    except DriverError:
                        continue  # said in English
        return cls(words, names, others)

    def speaks(self, language: str | None) -> str:
        """The language a caller asking for ``language`` hears: it, when its words were read, else English."""
        return language if language in self._sets else DEFAULT_LANGUAGE

    def languages(self) -> list[str]:
        return sorted(self._sets)

    def sentence(self, names: Sequence[str], language: str | None = None) -> np.ndarray:
        """The words one after the other with a short gap (float64, 16-bit scale; do not modify),
        each in ``language`` (None: English) when that set has it, else in English."""
        language = self.speaks(language)
        key = (language, tuple(names))
        cached = self._sentences.get(key)
        if cached is None:
            own = self._sets[language]
            chosen = {name: own[name] if name in own else self.words.get(name) for name in key[1]}
            unknown = [name for name, samples in chosen.items() if samples is None]
            if unknown:
                raise FirmwareError(f"voicemail: no recorded word {unknown[0]!r}")
            cached = self._sentences[key] = join_words(chosen, key[1])
        return cached

    def file_words(self, names: Sequence[str], language: str | None = None) -> list[str]:
        """Which set each word of a sentence is said from: ``es/vm-intro``, ``en/one-moment-please``
        (tests and the docs' tables)."""
        language = self.speaks(language)
        return [f"{language if name in self._sets[language] else DEFAULT_LANGUAGE}/{name}" for name in names]

    @staticmethod
    def digit_words(number: str) -> list[str]:
        """A mailbox or extension number spoken digit by digit ("2 0 1")."""
        return [f"digits/{digit}" for digit in number if digit.isdigit()]

    @staticmethod
    def number_words(value: int) -> list[str]:
        """A count as Asterisk speaks it in English (0-20 as words, tens + units, then digits)."""
        return number_words(value)

    def greeting(self, mailbox: str, language: str | None = None) -> np.ndarray:
        """"The person at extension <digits> is unavailable. Please leave your message after the tone…"."""
        return self.sentence(["vm-theperson", *self.digit_words(mailbox), "vm-isunavail", "vm-intro"], language)
