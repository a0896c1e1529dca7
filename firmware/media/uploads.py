"""Uploaded audio, checked at the edge, and the music-on-hold classes' files.

:func:`decode_upload` is the one check of an uploaded recording's bytes, shared by every upload
(IVR prompts and queue greetings: firmware/ivr/uploads.py; music here): at most ``max_bytes``,
not MP3 (no MP3 decoder is among the box's packages), a WAV the box reads (PCM 8/16-bit, µ-law,
A-law, any rate, mono or stereo: ``drivers.audiofile.read_audio``, which converts it to 8 kHz
mono), not empty. Anything refused raises FirmwareError with one line; nothing is written but a
scratch copy in a temporary folder, removed before it returns.

Music classes (firmware/media/music.py): ``<data>/moh/<class>/<name>.wav``, 8 kHz 16-bit mono,
written atomically (temp file, fsync, rename). An uploaded file longer than
:data:`~firmware.media.music.MAX_CLASS_SECONDS` is refused (a class keeps at most that much).
The engine reads a class when a configuration first names it (``MusicLibrary.load``).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

from drivers import DriverError
from drivers.audiofile import atomic_write_bytes, encode_wav, read_audio
from firmware import FirmwareError
from firmware.media.music import DEFAULT_CLASS, MAX_CLASS_SECONDS, RATE, RINGBACK_CLASS

MUSIC_DIR = "moh"
MAX_MUSIC_BYTES = 32 * 1024 * 1024  # 300 s of 48 kHz 16-bit stereo is 58 MB: a longer class is cut anyway
FILE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # the config's NAME_RE family, no folders
MP3_STARTS = (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")


def decode_upload(data: bytes, scratch: Path, what: str, filename: str, max_bytes: int) -> np.ndarray:
    """The uploaded ``data`` as 8 kHz mono int16 samples (module docstring); FirmwareError one line.
    ``scratch``: an existing folder for the temporary copy; ``what`` starts the error (``prompt``)."""
    if len(data) > max_bytes:
        raise FirmwareError(f"{what}: {filename} is larger than {max_bytes // (1024 * 1024)} MB")
    if data[:3] == b"ID3" or data[:2] in MP3_STARTS:
        raise FirmwareError(f"{what}: {filename} is MP3: upload a WAV file (the box has no MP3 decoder)")
    with tempfile.TemporaryDirectory(prefix=".upload-", dir=scratch) as folder:
        raw = Path(folder) / "upload.wav"
        raw.write_bytes(data)
        try:
            samples = read_audio(raw)
        except DriverError as exc:
            reason = str(exc).split(": ", 1)[-1]
            raise FirmwareError(f"{what}: {filename} is not a WAV file the box reads: {reason}") from None
    if samples.size == 0:
        raise FirmwareError(f"{what}: {filename} holds no audio")
    return samples


def check_file_name(name: str, what: str) -> str:
    """A class or file name: letters, digits, ``_ . -``, starting with a letter or digit, up to 64."""
    if not isinstance(name, str) or not FILE_NAME_RE.fullmatch(name) or ".." in name:
        raise FirmwareError(f"{what}: {name!r} is not a name (letters, digits, _ . -; up to 64; no folders)")
    return name


def check_class_name(name: str) -> str:
    check_file_name(name, "music class")
    if name in (DEFAULT_CLASS, RINGBACK_CLASS):
        raise FirmwareError(f"music class: {name} is built in (Debian's library or the ringback tone), "
                            "choose another name")
    return name


def name_from_file(filename: str) -> str:
    """A file name for an upload left unnamed: its file's stem, other characters as ``_``
    (``My Song.wav`` -> ``My_Song``); still checked by :func:`check_file_name`."""
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(filename).stem)[:64].lstrip("._-")
    return stem or "music"


def music_root(data_dir: Path) -> Path:
    return data_dir / MUSIC_DIR


def music_file(data_dir: Path, music_class: str, name: str) -> Path:
    """The path of a class's file (both names checked: no way out of ``moh/``)."""
    return music_root(data_dir) / check_class_name(music_class) / f"{check_file_name(name, 'music file')}.wav"


def store_music(data_dir: Path, music_class: str, name: str, data: bytes, filename: str = "upload") -> float:
    """Checks, converts and stores an uploaded music file; its length in seconds."""
    target = music_file(data_dir, music_class, name)
    samples = decode_upload(data, data_dir, "music", filename, MAX_MUSIC_BYTES)
    if samples.size > MAX_CLASS_SECONDS * RATE:
        raise FirmwareError(f"music: {filename} is {samples.size / RATE:.0f} s long; a class plays at most "
                            f"{MAX_CLASS_SECONDS} s")
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, encode_wav(samples))
    return samples.size / RATE


def delete_music(data_dir: Path, music_class: str, name: str) -> bool:
    """Removes one file (and the class's folder once empty); False if there was none."""
    target = music_file(data_dir, music_class, name)
    if not target.is_file():
        return False
    target.unlink()
    try:
        target.parent.rmdir()
    except OSError:
        pass  # not empty: the class keeps its other files
    return True


def music_classes(data_dir: Path) -> dict[str, list[tuple[str, float]]]:
    """Every installer's class: its files as (name, seconds), sorted (seconds from the size: 8 kHz 16-bit)."""
    root = music_root(data_dir)
    found: dict[str, list[tuple[str, float]]] = {}
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and FILE_NAME_RE.fullmatch(p.name)):
            found[folder.name] = [(path.stem, round(max(0, path.stat().st_size - 44) / (2 * RATE), 1))
                                  for path in sorted(folder.glob("*.wav"))]
    return found
