"""Recorded words: where they are, how each is trimmed, how they are joined, how numbers are spoken.

The box speaks with Debian's ``asterisk-core-sounds-en-wav`` recordings (8 kHz, 16-bit, the
words Asterisk's ``app_queue``, ``VoiceMail()`` and ``VoiceMailMain()`` speak), named by their
file stem under :data:`PROMPT_DIR`: ``queue-thereare``, ``vm-intro``, ``digits/3``.

- Each word loses its recording's leading and trailing silence (:func:`trim_silence`), so
  sentences do not drag; words of one sentence are joined with :data:`GAP_MS` of silence.
- Numbers are spoken as Asterisk speaks them in English (:func:`number_words`): 0–20 as
  words, tens, tens + units; from 100 digit by digit. :data:`NUMBER_WORDS` are the
  recordings that needs.

Used by the ACD's announcements (``firmware/acdengine/announcements.py``) and voicemail's
prompts (``firmware/voicemail/prompts.py``, ``mailbox.py``); moved here from the ACD's
announcements so that voicemail does not depend on the ACD.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from dsp.levels import dbm0_to_peak
from firmware import FirmwareError

PROMPT_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")  # Debian asterisk-core-sounds-en-wav
GAP_MS = 150  # silence between words of one sentence
TRIM_BELOW_DBM0 = -40.0  # leading/trailing samples quieter than this are cut from each word
TRIM_MARGIN_MS = 30  # kept either side of the first and last loud sample
NUMBER_WORDS = tuple(f"digits/{n}" for n in (*range(20), 20, 30, 40, 50, 60, 70, 80, 90))
SAMPLES_PER_MS = 8  # the recordings are 8 kHz


def join_words(words: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """The recorded words ``names`` one after the other, ``GAP_MS`` of silence between them
    (float64, 16-bit scale); KeyError for a word not in ``words``."""
    gap = np.zeros(GAP_MS * 8, dtype=np.float64)
    parts: list[np.ndarray] = []
    for name in names:
        if parts:
            parts.append(gap)
        parts.append(words[name])
    return np.concatenate(parts) if parts else np.zeros(0)


def number_words(value: int) -> list[str]:
    """The recorded words that speak ``value`` (>= 0)."""
    if value < 0:
        raise FirmwareError(f"words: cannot speak a negative number {value}")
    if value <= 20:
        return [f"digits/{value}"]
    if value < 100:
        tens, units = divmod(value, 10)
        return [f"digits/{tens * 10}"] + ([f"digits/{units}"] if units else [])
    return [f"digits/{digit}" for digit in str(value)]


def trim_silence(samples: np.ndarray) -> np.ndarray:
    """``samples`` (float64) without the recording's leading and trailing silence."""
    x = np.asarray(samples, dtype=np.float64)
    loud = np.flatnonzero(np.abs(x) > dbm0_to_peak(TRIM_BELOW_DBM0))
    if loud.size == 0:
        return x
    margin = TRIM_MARGIN_MS * SAMPLES_PER_MS
    return x[max(0, loud[0] - margin) : loud[-1] + margin + 1].copy()
