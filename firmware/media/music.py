"""Music-on-hold classes: what a held party or a queue caller hears while waiting.

A *class* (Asterisk's ``musiconhold.conf`` word) is a directory of WAV files played one after
the other and looped. ``default`` is Debian's ``asterisk-moh-opsound-wav`` library; an
installer adds a class by putting files in ``moh/<class>/`` beside the box's database.
``ringback`` is built in: the caller hears the zone's ringback tone instead of music
(Asterisk's queue option ``r``), for offices that do not want callers to know they queue.

Files are read at start, when a configuration first names the class, and again when the
engine is asked to (``media reload`` on the console, sent by the web admin after an upload or
a delete): :meth:`MusicLibrary.changes` lists the class folders again and reads only the
classes whose files changed (names, sizes, modification times), off the media loop;
:meth:`MusicLibrary.apply` swaps the new buffers in between two ticks, so the next caller put
on hold hears them (a caller already hearing a class keeps the buffer it started with). The
media loop never looks at the disk. A class is kept in memory as one float64 buffer shared
by every port that plays it. On a Pi memory is the limit:
a class keeps whole files, in name order, up to ``MAX_CLASS_SECONDS`` (a file that would
pass the limit is left out; if even the first is longer, it is cut at the limit). An
unreadable file is skipped with a log line; a class without a playable file does not exist
and queues naming it play ``default`` (logged once when the class is asked for).
"""

from __future__ import annotations

import threading
import wave
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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
Stamp = tuple[tuple[str, int, int], ...]
"""A class folder's WAV files as (name, size, modification time in ns): what a reload compares."""


def folder_stamp(directory: Path | None) -> Stamp:
    """The stamp of ``directory``'s WAV files (empty when there is none or it cannot be listed)."""
    if directory is None:
        return ()
    found = []
    try:
        for path in sorted(directory.glob("*.wav")):
            try:
                info = path.stat()
            except OSError:
                continue  # removed meanwhile
            found.append((path.name, info.st_size, info.st_mtime_ns))
    except OSError:
        return ()
    return tuple(found)


@dataclass(frozen=True)
class MusicChange:
    """A class read again (:meth:`MusicLibrary.changes`), to be swapped in by :meth:`MusicLibrary.apply`."""

    name: str
    samples: np.ndarray | None  # None: no playable file any more (callers hear ``default``)
    stamp: Stamp
    was: Stamp | None  # the stamp it replaces (a class loaded meanwhile by another thread is kept)

    @property
    def seconds(self) -> float:
        return 0.0 if self.samples is None else self.samples.size / RATE


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
        except (DriverError, OSError, ValueError) as exc:  # a file that became unreadable: skipped
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
    """Loaded classes by name; ``directories`` says where each class's files are, ``find`` (when
    given) lists the class folders again for :meth:`changes` (a class added since the start)."""

    def __init__(self, directories: Mapping[str, Path], read: ReadAudio, log: EventLogger | None = None,
                 find: Callable[[], Mapping[str, Path]] | None = None) -> None:
        self.directories = dict(directories)
        self.read = read
        self.log = log or EventLogger("engine")
        self.find = find
        self._classes: dict[str, np.ndarray | None] = {}
        self._stamps: dict[str, Stamp] = {}
        self._reported: set[str] = set()
        self._reading = threading.Lock()  # load() on the store's thread, changes() on the console's

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
        with self._reading:
            for name in (DEFAULT_CLASS, *names):
                if name in self._classes or name == RINGBACK_CLASS:
                    continue
                directory = self.directories.get(name)
                self._stamps[name] = folder_stamp(directory)
                self._classes[name] = None if directory is None else load_music_class(directory, self.read, self.log)

    def changes(self) -> list[MusicChange]:
        """Every class asked for so far whose files changed since they were read, read again (off the
        media loop: this reads files). Nothing is swapped in until :meth:`apply`."""
        with self._reading:
            if self.find is not None:
                self.directories = dict(self.find())
            found = []
            for name in sorted(self._classes):
                directory = self.directories.get(name)
                stamp = folder_stamp(directory)
                was = self._stamps.get(name)
                if stamp == was:
                    continue
                samples = None if directory is None else load_music_class(directory, self.read, self.log)
                found.append(MusicChange(name, samples, stamp, was))
            return found

    def apply(self, changes: Iterable[MusicChange]) -> None:
        """Swaps re-read classes in (on the media loop, between two ticks): new plays hear them."""
        for change in changes:
            if self._stamps.get(change.name) != change.was:
                continue  # read again meanwhile by load(): that copy is as new
            self._classes[change.name] = change.samples
            self._stamps[change.name] = change.stamp
            self._reported.discard(change.name)  # missing again: logged again

    def loaded(self) -> dict[str, float | None]:
        """Seconds of music of every class asked for so far (None: no playable file)."""
        return {name: None if samples is None else round(samples.size / RATE, 1)
                for name, samples in sorted(self._classes.items())}

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
