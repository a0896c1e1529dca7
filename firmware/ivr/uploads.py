"""An installer's own prompts: uploaded recordings, checked at the edge, stored per language.

``<data>/sounds/<language>/<name>.wav`` (``<data>``: the database's folder). A flow names an
uploaded prompt like any recorded word (``prompt: {en: [welcome-acme]}``); the IVR reads it
from this folder first, then from the system recordings (:class:`firmware.ivr.prompts.IvrPrompts`).

:func:`store_prompt` is the one door: the name and language are checked against the same
patterns the flows' words are, the file against :data:`MAX_UPLOAD_BYTES`; the bytes must be a
WAV the box reads (PCM 8/16-bit, µ-law, A-law, any rate, mono or stereo: drivers/audiofile.py);
the audio is converted to 8 kHz mono, its leading and trailing silence cut and its active level
set to -18 dBm0 (ITU-T P.56, firmware/speech/prompt.py); only then is it written (atomically).
Anything refused raises FirmwareError with one line and nothing is stored. MP3 is refused:
no MP3 decoder is among the box's packages.

:func:`store_text_prompt` makes such a prompt from typed text instead: synthesised offline
(firmware/speech/tts.py: Piper for English, espeak-ng otherwise), through its cache (by text and
voice: the same text is synthesised once, ever), then stored under the name like an upload.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from drivers import DriverError
from drivers.audiofile import atomic_write_bytes, encode_wav, read_audio
from firmware import FirmwareError
from firmware.config.codec import LANGUAGE_RE
from firmware.speech.prompt import prepare_prompt
from firmware.speech.tts import PromptCache, Synthesizer, default_synthesizer

SOUNDS_DIR = "sounds"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 10 minutes of 16 kHz 16-bit mono; prepare_prompt caps at 600 s
MAX_NAME_CHARS = 64
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def prompt_folder(data_dir: Path, language: str) -> Path:
    return data_dir / SOUNDS_DIR / language


def check_prompt_name(name: str) -> str:
    """A flow word: letters, digits, ``_`` and ``-``, not starting with ``-`` or ``_`` (no folders, no dots)."""
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS or not set(name) <= NAME_CHARS \
            or not name[0].isalnum():
        raise FirmwareError(f"prompt: the name {name!r} is not a prompt name (letters, digits, _ -; "
                            f"up to {MAX_NAME_CHARS}; no dots or folders)")
    return name


def check_language(language: str) -> str:
    if not isinstance(language, str) or not LANGUAGE_RE.fullmatch(language):
        raise FirmwareError(f"prompt: the language {language!r} is not a language code like en or pt_BR")
    return language


def store_prompt(data_dir: Path, language: str, name: str, data: bytes, filename: str = "upload") -> Path:
    """Checks, converts and stores an uploaded prompt (module docstring); its path."""
    check_language(language)
    check_prompt_name(name)
    if len(data) > MAX_UPLOAD_BYTES:
        raise FirmwareError(f"prompt: {filename} is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    if data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        raise FirmwareError(f"prompt: {filename} is MP3: upload a WAV file (the box has no MP3 decoder)")
    folder = prompt_folder(data_dir, language)
    with tempfile.TemporaryDirectory(prefix=".upload-", dir=data_dir) as scratch:
        raw = Path(scratch) / "upload.wav"
        raw.write_bytes(data)
        try:
            samples = read_audio(raw)
        except DriverError as exc:
            reason = str(exc).split(": ", 1)[-1]
            raise FirmwareError(f"prompt: {filename} is not a WAV file the box reads: {reason}") from None
    try:
        prepared = prepare_prompt(samples)
    except FirmwareError as exc:
        raise FirmwareError(f"{exc} ({filename})") from None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.wav"
    atomic_write_bytes(target, encode_wav(prepared))
    return target


def store_text_prompt(data_dir: Path, language: str, name: str, text: str,
                      synthesizer_for: Callable[[str], Synthesizer] = default_synthesizer) -> Path:
    """Typed text as a stored prompt (module docstring); blocks while synthesising (seconds)."""
    check_language(language)
    check_prompt_name(name)
    prompt = PromptCache(data_dir).render(text, synthesizer_for(language))  # SpeechError: one line
    folder = prompt_folder(data_dir, language)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.wav"
    atomic_write_bytes(target, encode_wav(prompt))
    return target


def stored_prompts(data_dir: Path) -> list[tuple[str, str, float]]:
    """(language, name, seconds) of every uploaded prompt, sorted."""
    root = data_dir / SOUNDS_DIR
    found = []
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir() and LANGUAGE_RE.fullmatch(p.name)):
            for path in sorted(folder.glob("*.wav")):
                seconds = max(0, path.stat().st_size - 44) / 16000  # 8 kHz 16-bit, as stored here
                found.append((folder.name, path.stem, round(seconds, 1)))
    return found
