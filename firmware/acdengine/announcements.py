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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
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


RecordingStamp = tuple[str, int, int] | None
"""The file a recording was read from: (path, size, modification time in ns); None: no file."""


@dataclass(frozen=True)
class RecordingUpdate:
    """A recording read again (:meth:`Prompts.changed_recordings`): its samples, or None when it has no
    readable file any more."""

    samples: np.ndarray | None
    stamp: RecordingStamp


def _recording_path(directories: Sequence[Path], name: str) -> Path | None:
    """The first of ``directories`` holding ``<name>.wav``."""
    for directory in directories:
        path = directory / f"{name}.wav"
        if path.is_file():
            return path
    return None


def _recording_stamp(directories: Sequence[Path], name: str) -> RecordingStamp:
    path = _recording_path(directories, name)
    if path is None:
        return None
    try:
        info = path.stat()
    except OSError:
        return None
    return str(path), info.st_size, info.st_mtime_ns


def _read_recording(directories: Sequence[Path], name: str, read: Callable[[Path], np.ndarray],
                    log: EventLogger, optional: bool) -> tuple[np.ndarray | None, RecordingStamp]:
    """The trimmed samples of recording ``name`` and the stamp of the file read, or None (logged)."""
    stamp = _recording_stamp(directories, name)
    if stamp is None:
        if not optional:
            log.warning("recording_missing", name=name, looked_in=",".join(str(d) for d in directories))
        return None, None
    path = Path(stamp[0])
    try:
        samples = trim_silence(np.asarray(read(path)))
    except (DriverError, OSError, ValueError) as exc:  # unreadable (a file cut or replaced by hand)
        log.warning("recording_unreadable", path=str(path), error=str(exc))
        return None, stamp
    log.info("recording", name=name, path=str(path), seconds=round(samples.size / 8000.0, 1))
    return samples, stamp


class Prompts:
    """Recorded words in memory and the sentences made of them (cached)."""

    def __init__(self, words: dict[str, np.ndarray]) -> None:
        missing = [name for name in (*WORDS, *NUMBER_WORDS) if name not in words]
        if missing:
            raise FirmwareError(f"acd: prompt words missing: {', '.join(missing[:5])}")
        self.words = {name: trim_silence(samples) for name, samples in words.items()}
        self._sentences: dict[tuple[str, ...], np.ndarray] = {}
        self._stamps: dict[str, RecordingStamp] = {}  # a learnt recording -> the file it was read from

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
            samples, stamp = _read_recording(directories, name, read, log, name in optional)
            if samples is not None:
                self.words[key] = samples
                self._stamps[key] = stamp

    def changed_recordings(self, directories: Sequence[Path], names: Iterable[str],
                           read: Callable[[Path], np.ndarray], log: EventLogger,
                           optional: Iterable[str] = ()) -> dict[str, RecordingUpdate]:
        """The recordings among ``names`` and ``optional`` whose file changed, appeared or went
        away since they were read (path, size, modification time), read again: off the media
        loop. An update without samples: no readable file any more (callers then hear no
        greeting, as after a restart). Nothing changes here until :meth:`apply_recordings`."""
        names = list(names)
        learnt = sorted(key[len(RECORDING_PREFIX):] for key in self.words if key.startswith(RECORDING_PREFIX))
        # Recordings learnt before but named by no queue now are looked at too: one uploaded again
        # under that name, then picked, must not play the old audio (learn() skips known names).
        quiet = {*optional, *learnt} - set(names)
        found: dict[str, RecordingUpdate] = {}
        for name in dict.fromkeys([*names, *sorted(quiet)]):
            key = f"{RECORDING_PREFIX}{name}"
            known = key in self.words
            if _recording_stamp(directories, name) == self._stamps.get(key) and known:
                continue
            samples, stamp = _read_recording(directories, name, read, log, name in quiet)
            if samples is None and not known:
                continue  # still nothing to play (logged by the read)
            found[name] = RecordingUpdate(samples, stamp)
        return found

    def apply_recordings(self, updates: Mapping[str, RecordingUpdate]) -> None:
        """Swaps re-read recordings in (on the media loop, between two ticks); sentences built
        with the old ones are forgotten, so the next caller hears the new recording."""
        for name, update in updates.items():
            key = f"{RECORDING_PREFIX}{name}"
            if update.samples is None:
                self.words.pop(key, None)
                self._stamps.pop(key, None)
            else:
                self.words[key] = update.samples
                self._stamps[key] = update.stamp
            for sentence in [each for each in self._sentences if key in each]:
                del self._sentences[sentence]

    def recordings(self) -> dict[str, float]:
        """Seconds of every learnt recording (queue greetings, queue names), by name."""
        return {key[len(RECORDING_PREFIX):]: round(samples.size / 8000.0, 1)
                for key, samples in sorted(self.words.items()) if key.startswith(RECORDING_PREFIX)}

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
