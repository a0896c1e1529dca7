"""The recognizer interface the IVR codes against (docs/ivr.md, "Speech recognition").

A :class:`SpeechService` knows which engine serves which language and starts one
:class:`RecognitionSession` per caller utterance. The media loop only ever calls ``feed`` (one
20 ms frame), ``end_of_utterance`` (its VAD heard the caller stop), ``cancel`` and the
non-blocking ``result``: decoding runs in the service's worker thread, never on the loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from firmware import FirmwareError

ENGINES = ("vosk", "pocketsphinx")
FRAME_SAMPLES = 160  # one 20 ms tick at 8 kHz, the media loop's frame


class SpeechError(FirmwareError):
    """The one error class of firmware/speech: a missing or corrupt model, bad audio, bad grammar."""


@dataclass(frozen=True)
class Recognition:
    text: str  # best hypothesis, lower case, words separated by one space; '' if nothing
    confidence: float  # 0..1
    words: tuple[str, ...]
    engine: str  # 'vosk' | 'pocketsphinx'


class RecognitionSession(Protocol):
    def feed(self, frame: np.ndarray) -> None:
        """One 20 ms frame: 160 int16 samples, 8 kHz, linear."""

    def end_of_utterance(self) -> None:
        """The VAD said the caller stopped speaking: finish decoding."""

    def cancel(self) -> None:
        """Drop the utterance (caller hung up, pressed a key); ``result`` stays None."""

    def result(self) -> Recognition | None:
        """Non-blocking; None until the worker has finished."""


class SpeechService(Protocol):
    def available(self, language: str) -> str | None:
        """The engine name serving ``language``, or None (the IVR falls back to DTMF only)."""

    def start(self, language: str, grammar: Sequence[str]) -> RecognitionSession:
        """A new session restricted to ``grammar`` (words or phrases); raises SpeechError."""
