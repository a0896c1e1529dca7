"""What voicemail callers and mailbox owners hear: sentences made of recorded words.

The words are Debian's ``asterisk-core-sounds-en-wav`` recordings (the ones Asterisk's
``VoiceMail()`` and ``VoiceMailMain()`` speak), read **once** at start by
:meth:`VoicemailPrompts.load` and kept in memory: building a sentence during a call is a
concatenation of cached arrays, never file I/O on the media loop. Each word is trimmed of
its recording's leading and trailing silence and words are joined with a short gap, the
same treatment as the ACD's prompts (both use :mod:`firmware.media.words`). Words are
named by their file stem: ``vm-intro``, ``digits/3``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from drivers import DriverError
from firmware import FirmwareError
from firmware.media.words import NUMBER_WORDS, PROMPT_DIR, join_words, number_words, trim_silence

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


class VoicemailPrompts:
    """Recorded words in memory and the sentences made of them (cached by their words)."""

    def __init__(self, words: dict[str, np.ndarray], required: Sequence[str] = WORDS) -> None:
        missing = [name for name in required if name not in words]
        if missing:
            raise FirmwareError(f"voicemail: prompt words missing: {', '.join(missing[:5])}")
        self.words = {name: trim_silence(samples) for name, samples in words.items()}
        self._sentences: dict[tuple[str, ...], np.ndarray] = {}

    @classmethod
    def load(cls, read: Callable[[Path], np.ndarray], directory: Path = PROMPT_DIR,
             names: Sequence[str] = WORDS) -> VoicemailPrompts:
        """Reads every word once with ``read`` (``drivers.audiofile.read_audio``)."""
        words = {}
        for name in names:
            path = directory / f"{name}.wav"
            try:
                words[name] = read(path)
            except DriverError as exc:
                raise FirmwareError(f"voicemail: prompt {path} unreadable: {exc}") from exc
        return cls(words, names)

    def sentence(self, names: Sequence[str]) -> np.ndarray:
        """The words one after the other with a short gap (float64, 16-bit scale; do not modify)."""
        key = tuple(names)
        cached = self._sentences.get(key)
        if cached is None:
            unknown = [name for name in key if name not in self.words]
            if unknown:
                raise FirmwareError(f"voicemail: no recorded word {unknown[0]!r}")
            cached = self._sentences[key] = join_words(self.words, key)
        return cached

    @staticmethod
    def digit_words(number: str) -> list[str]:
        """A mailbox or extension number spoken digit by digit ("2 0 1")."""
        return [f"digits/{digit}" for digit in number if digit.isdigit()]

    @staticmethod
    def number_words(value: int) -> list[str]:
        """A count as Asterisk speaks it in English (0-20 as words, tens + units, then digits)."""
        return number_words(value)

    def greeting(self, mailbox: str) -> np.ndarray:
        """"The person at extension <digits> is unavailable. Please leave your message after the tone…"."""
        return self.sentence(["vm-theperson", *self.digit_words(mailbox), "vm-isunavail", "vm-intro"])
