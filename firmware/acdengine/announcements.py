"""What queue callers and agents hear from the ACD: prompts built from recorded words.

The words are the Debian ``asterisk-core-sounds-en-wav`` recordings (8 kHz, 16-bit),
read **once** at start by :meth:`Prompts.load` and kept in memory, so building an
announcement during a call is only a concatenation of cached arrays (no file I/O on the
media loop). Every sentence is cached as well, keyed by its words.

Sentences (Asterisk's ``app_queue`` wording, from its own recordings):

- position: "your call is now first in line…" (position 1), else "there are N calls
  waiting" with N the calls ahead (position − 1);
- estimated hold time: "the estimated hold time is currently" + "less than 1 minute" or
  "N minutes" (whole minutes, rounded up, as Asterisk announces it);
- periodic: ``queue-periodic-announce``; thanks: ``queue-thankyou``;
- agent confirmations: ``agent-loginok``, ``agent-loggedoff``, ``agent-incorrect``,
  ``agent-alreadyon``, ``agent-user`` (enter your agent number), ``agent-pass`` (password),
  ``dictate/paused`` ("paused", then the reason digit), ``activated`` (unpaused, or wrap-up
  ended: ready for calls);
- the whisper to an agent who answers a queue call: a beep, then the queue's name when a
  recording of it was learnt (``<queue name>.wav`` among the installer's sounds, or a
  Debian word of that name), else the queue's number digit by digit when it has one
  (short: under two seconds for a three-digit number);
- in a queue with callback enabled, every position announcement ends with which key asks
  for a callback: "to call back" + "press" + the key (``vm-tocallback``, ``vm-press``,
  ``digits/star``).

Numbers are spoken as Asterisk speaks them in English: 0–20 as words, tens, tens + units;
from 100 digit by digit. Where the recordings are, how each word is trimmed and joined and
how numbers are spoken live in :mod:`firmware.media.words` (shared with voicemail).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from drivers import DriverError
from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.media.words import NUMBER_WORDS, PROMPT_DIR, join_words, number_words, trim_silence

WORDS = (
    "queue-thereare", "queue-callswaiting", "queue-youarenext", "queue-holdtime", "queue-minutes",
    "queue-minute", "queue-less-than", "queue-thankyou", "queue-periodic-announce", "agent-loginok",
    "agent-loggedoff", "agent-incorrect", "agent-alreadyon", "agent-user", "agent-pass", "beep", "beeperr",
    "dictate/paused", "activated", "vm-tocallback", "vm-press", "digits/star", "digits/pound",
)
KEY_WORDS = {"*": "digits/star", "#": "digits/pound", **{str(d): f"digits/{d}" for d in range(10)}}
"""The recorded word that names a DTMF key."""
RECORDING_PREFIX = "recording:"  # installer recordings (queue greetings) among the words


class Prompts:
    """Recorded words in memory and the sentences made of them (cached)."""

    def __init__(self, words: dict[str, np.ndarray]) -> None:
        missing = [name for name in (*WORDS, *NUMBER_WORDS) if name not in words]
        if missing:
            raise FirmwareError(f"acd: prompt words missing: {', '.join(missing[:5])}")
        self.words = {name: trim_silence(samples) for name, samples in words.items()}
        self._sentences: dict[tuple[str, ...], np.ndarray] = {}

    @classmethod
    def load(cls, read: Callable[[Path], np.ndarray], directory: Path = PROMPT_DIR) -> Prompts:
        """Reads every word once with ``read`` (``drivers.audiofile.read_audio``)."""
        words = {}
        for name in (*WORDS, *NUMBER_WORDS):
            path = directory / f"{name}.wav"
            try:
                words[name] = read(path)
            except DriverError as exc:
                raise FirmwareError(f"acd: prompt {path} unreadable: {exc}") from exc
        return cls(words)

    def learn(self, directories: Sequence[Path], names: Iterable[str], read: Callable[[Path], np.ndarray],
              log: EventLogger, optional: Iterable[str] = ()) -> None:
        """Reads the recordings ``names`` not known yet (queue greetings): the first of
        ``directories`` that has ``<name>.wav``. Call it off the media loop; a missing or unreadable
        recording is logged and stays unknown (callers then hear no greeting). ``optional``
        (queue names, for the whisper): read when there, a missing one is not worth a warning."""
        optional = set(optional)
        for name in [*names, *sorted(optional)]:
            key = f"{RECORDING_PREFIX}{name}"
            if key in self.words:
                continue
            for directory in directories:
                path = directory / f"{name}.wav"
                if not path.is_file():
                    continue
                try:
                    self.words[key] = trim_silence(read(path))
                except DriverError as exc:
                    log.warning("recording_unreadable", path=str(path), error=str(exc))
                    continue
                log.info("recording", name=name, path=str(path), seconds=round(self.words[key].size / 8000.0, 1))
                break
            else:
                if name not in optional:
                    log.warning("recording_missing", name=name, looked_in=",".join(str(d) for d in directories))

    def recording(self, name: str) -> list[str]:
        """The word list of a learnt recording (empty when it could not be read)."""
        key = f"{RECORDING_PREFIX}{name}"
        return [key] if key in self.words else []

    def sentence(self, names: Sequence[str]) -> np.ndarray:
        key = tuple(names)
        cached = self._sentences.get(key)
        if cached is None:
            cached = self._sentences[key] = join_words(self.words, key)
        return cached

    @staticmethod
    def position_words(position: int) -> list[str]:
        if position <= 1:
            return ["queue-youarenext"]
        return ["queue-thereare", *number_words(position - 1), "queue-callswaiting"]

    @staticmethod
    def hold_time_words(seconds: float) -> list[str]:
        minutes = max(1, math.ceil(seconds / 60.0))
        if minutes <= 1:
            return ["queue-holdtime", "queue-less-than", "digits/1", "queue-minute"]
        return ["queue-holdtime", *number_words(minutes), "queue-minutes"]

    @staticmethod
    def callback_words(key: str) -> list[str]:
        """"To call back, press <key>"."""
        return ["vm-tocallback", "vm-press", KEY_WORDS[key]]

    def announcement(self, position: int, hold_seconds: float | None, with_hold_time: bool,
                     before: Sequence[str] | None = None, after: Sequence[str] | None = None) -> np.ndarray:
        """``before`` (a greeting), the position, the estimated hold time when asked for and known,
        then ``after`` (the callback key)."""
        names = [*(before or ()), *self.position_words(position)]
        if with_hold_time and hold_seconds is not None:
            names += self.hold_time_words(hold_seconds)
        return self.sentence([*names, *(after or ())])

    def whisper(self, queue_number: str, queue_name: str = "") -> np.ndarray:
        """A beep, then the queue's name when its recording was learnt, else its number's digits."""
        name = self.recording(queue_name) if queue_name else []
        return self.sentence(["beep", *(name or [f"digits/{d}" for d in queue_number if d.isdigit()])])
