"""Personal greetings: unavailable, busy and name, one WAV file each per mailbox, kept in memory.

Files: ``<root>/<mailbox>/greeting-<kind>.wav`` (8 kHz 16-bit mono; the message store's
start-up clean-up leaves them alone: it removes only ``msg-*`` files). All greetings are read
once when :class:`Greetings` opens and kept in memory (as int16: a minute is 960 kB), so the
deposit picks one on the media loop with a dictionary look-up, never a disk read. A save
writes the file atomically (temporary file, fsync, rename) before the memory copy changes.

Which greeting a caller hears (``firmware/voicemail/deposit.py``): the busy one when the
mailbox's phone is in a call and a busy greeting exists, else the unavailable one; without
either, the standard greeting, with the recorded name in place of the digits when there is one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

import numpy as np

from drivers import DriverError
from drivers.audiofile import atomic_write_bytes, encode_wav, read_audio
from drivers.logs import EventLogger
from dsp import SAMPLE_RATE
from firmware import FirmwareError
from firmware.voicemail.store import MAILBOX_RE, check_mailbox

MIN_GREETING_S = 0.5
MAX_GREETING_S = 120.0  # Asterisk voicemail.conf ``maxgreet`` is unlimited by default; two minutes here
MAX_NAME_S = 10.0  # a recorded name is a name


class GreetingKind(StrEnum):
    UNAVAILABLE = "unavailable"
    BUSY = "busy"
    NAME = "name"


def greeting_limit_s(kind: GreetingKind) -> float:
    return MAX_NAME_S if kind is GreetingKind.NAME else MAX_GREETING_S


def check_kind(kind: object) -> GreetingKind:
    try:
        return GreetingKind(kind)
    except ValueError:
        raise FirmwareError(f"voicemail: a greeting is one of {', '.join(k.value for k in GreetingKind)}, "
                            f"got {kind!r}") from None


def check_greeting(kind: GreetingKind, samples: object) -> np.ndarray:
    """The samples as int16 if they make a greeting of ``kind``; FirmwareError (one line) if not."""
    array = np.asarray(samples)
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.number):
        raise FirmwareError(f"voicemail: a greeting needs 1-D samples, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise FirmwareError("voicemail: greeting samples contain NaN or infinity")
    seconds = array.size / SAMPLE_RATE
    limit = greeting_limit_s(kind)
    if not MIN_GREETING_S <= seconds <= limit:
        raise FirmwareError(f"voicemail: a {kind} greeting is {MIN_GREETING_S}-{limit:g} s long, "
                            f"got {seconds:.1f} s")
    return np.clip(np.round(array), -32768, 32767).astype(np.int16)


def _path(root: Path, mailbox: str, kind: GreetingKind) -> Path:
    return root / mailbox / f"greeting-{kind}.wav"


class Greetings:
    """Every mailbox's personal greetings (thread-safe; reads are memory look-ups)."""

    def __init__(self, root: Path | str, read: Callable[[Path], np.ndarray] = read_audio,
                 log: EventLogger | None = None) -> None:
        self.root = Path(root)
        self.log = log or EventLogger("voicemail")
        self._lock = threading.Lock()
        self._audio: dict[tuple[str, GreetingKind], np.ndarray] = {}
        if not self.root.is_dir():
            return
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and MAILBOX_RE.fullmatch(p.name)):
            for kind in GreetingKind:
                path = _path(self.root, folder.name, kind)
                if not path.is_file():
                    continue
                try:
                    self._audio[(folder.name, kind)] = check_greeting(kind, read(path))
                except (DriverError, FirmwareError) as exc:  # a bad file: the standard greeting plays
                    self.log.warning("vm_greeting_unreadable", mailbox=folder.name, kind=str(kind), error=str(exc))

    def get(self, mailbox: str, kind: GreetingKind) -> np.ndarray | None:
        """The greeting's samples (int16; do not modify), or None."""
        with self._lock:
            return self._audio.get((mailbox, kind))

    def kinds(self, mailbox: str) -> list[GreetingKind]:
        with self._lock:
            return [kind for kind in GreetingKind if (mailbox, kind) in self._audio]

    def save(self, mailbox: str, kind: GreetingKind | str, samples: np.ndarray) -> float:
        """Stores a greeting (replacing the old one); returns its length in seconds."""
        check_mailbox(mailbox)
        kind = check_kind(kind)
        audio = check_greeting(kind, samples)
        path = _path(self.root, mailbox, kind)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, encode_wav(audio.astype(np.float64)))
        except (OSError, DriverError) as exc:
            raise FirmwareError(f"voicemail: cannot write the {kind} greeting of {mailbox}: {exc}") from exc
        with self._lock:
            self._audio[(mailbox, kind)] = audio
        return round(audio.size / SAMPLE_RATE, 2)

    def delete(self, mailbox: str, kind: GreetingKind | str) -> bool:
        """Removes a greeting; False if there was none."""
        check_mailbox(mailbox)
        kind = check_kind(kind)
        path = _path(self.root, mailbox, kind)
        with self._lock:
            had = self._audio.pop((mailbox, kind), None) is not None
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise FirmwareError(f"voicemail: cannot remove {path}: {exc}") from exc
        return had


def read_upload(path: Path, kind: GreetingKind | str) -> np.ndarray:
    """A greeting from an uploaded file, checked at the edge: any WAV the box reads (converted
    to 8 kHz mono by :func:`drivers.audiofile.read_audio`) of the kind's length; FirmwareError
    with one line if it is not one."""
    kind = check_kind(kind)
    try:
        samples = read_audio(path)
    except DriverError as exc:
        raise FirmwareError(f"voicemail: the uploaded greeting is not a readable WAV file ({exc})") from exc
    return check_greeting(kind, samples)
