"""Music-on-hold classes: what a held party or a queue caller hears while waiting.

A *class* (Asterisk's ``musiconhold.conf`` word) is a directory of WAV files played one after
the other and looped. ``default`` is Debian's ``asterisk-moh-opsound-wav`` library; an
installer adds a class by putting files in ``moh/<class>/`` beside the box's database.
``ringback`` is built in: the caller hears the zone's ringback tone instead of music
(Asterisk's queue option ``r``), for offices that do not want callers to know they queue.

Files are read **once** (at start, or when a configuration first names the class) by the
thread that loads the configuration, never by the media loop, and kept in memory as one
float64 buffer per class shared by every port that plays it. On a Pi memory is the limit:
a class keeps whole files, in name order, up to ``MAX_CLASS_SECONDS`` (a file that would
pass the limit is left out; if even the first is longer, it is cut at the limit). An
unreadable file is skipped with a log line; a class without a playable file does not exist
and queues naming it play ``default`` (logged once when the class is asked for).
"""

from __future__ import annotations

import wave
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from drivers import DriverError
from drivers.logs import EventLogger

DEFAULT_CLASS = "default"
RINGBACK_CLASS = "ringback"  # the zone's ringback tone, not a directory
MAX_CLASS_SECONDS = 300  # about 19 MB of float64 samples per class at 8 kHz
RATE = 8000

ReadAudio = Callable[[Path], np.ndarray]
"""Reads a WAV file as 8 kHz samples (``drivers.audiofile.read_audio``); DriverError if it cannot."""


def load_music_class(directory: Path, read: ReadAudio, log: EventLogger,
                     max_seconds: float = MAX_CLASS_SECONDS) -> np.ndarray | None:
    """The files of ``directory`` as one buffer (see module docstring), or None if none plays."""
    limit = int(max_seconds * RATE)
    parts: list[np.ndarray] = []
    total = 0
    for path in sorted(directory.glob("*.wav")):
        estimate = _header_samples(path)
        if parts and estimate is not None and total + estimate > limit + RATE:
            continue  # would not fit: not decoded (start-up time: Debian's default class is 5 files of ~3.5 min)
        try:
            samples = np.asarray(read(path), dtype=np.float64)
        except DriverError as exc:
            log.warning("music_file_unreadable", path=str(path), error=str(exc))
            continue
        if samples.ndim != 1 or samples.size == 0:
            log.warning("music_file_unreadable", path=str(path), error="no samples")
            continue
        if not parts and samples.size > limit:
            parts.append(samples[:limit])
            total = limit
            break
        if total + samples.size > limit:
            continue
        parts.append(samples)
        total += samples.size
    if not parts:
        return None
    log.info("music_class", directory=str(directory), files=len(parts), seconds=round(total / RATE, 1))
    return np.concatenate(parts)


def _header_samples(path: Path) -> int | None:
    """The file's length in 8 kHz samples from its WAV header alone, or None (not plain PCM WAV,
    unreadable): then the file is decoded and measured exactly. Only used to skip files that
    cannot fit, with a second of margin, so the choice is the same as after decoding."""
    try:
        with wave.open(str(path), "rb") as header:
            return header.getnframes() * RATE // max(1, header.getframerate())
    except (OSError, EOFError, wave.Error):
        return None


class MusicLibrary:
    """Loaded classes by name; ``directories`` says where each class's files are."""

    def __init__(self, directories: Mapping[str, Path], read: ReadAudio, log: EventLogger | None = None) -> None:
        self.directories = dict(directories)
        self.read = read
        self.log = log or EventLogger("engine")
        self._classes: dict[str, np.ndarray | None] = {}
        self._reported: set[str] = set()

    @staticmethod
    def directories_of(default_dir: Path, custom_root: Path | None) -> dict[str, Path]:
        """``default`` plus every sub-directory of ``custom_root`` (when it exists)."""
        found = {DEFAULT_CLASS: default_dir}
        if custom_root is not None and custom_root.is_dir():
            for path in sorted(custom_root.iterdir()):
                if path.is_dir() and path.name not in (DEFAULT_CLASS, RINGBACK_CLASS):
                    found[path.name] = path
        return found

    def load(self, names: Iterable[str]) -> None:
        """Reads the classes named (and ``default``) that are not loaded yet. Call it off the media loop."""
        for name in (DEFAULT_CLASS, *names):
            if name in self._classes or name == RINGBACK_CLASS:
                continue
            directory = self.directories.get(name)
            self._classes[name] = None if directory is None else load_music_class(directory, self.read, self.log)

    def samples(self, name: str) -> np.ndarray | None:
        """The buffer of class ``name``; ``default`` if that class has none; None if neither has
        music (the caller then hears the hold tone). Never reads a file."""
        own = self._classes.get(name)
        if own is not None:
            return own
        if name != DEFAULT_CLASS and name not in self._reported:
            self._reported.add(name)
            self.log.warning("music_class_missing", music=name, fallback=DEFAULT_CLASS)
        return self._classes.get(DEFAULT_CLASS)
