"""An installer's own prompts: uploaded recordings, checked at the edge, stored per language.

``<data>/sounds/<language>/<name>.wav`` (``<data>``: the database's folder). A flow names an
uploaded prompt like any recorded word (``prompt: {en: [welcome-acme]}``); the IVR reads it
from this folder first, then from the system recordings (:class:`firmware.ivr.prompts.IvrPrompts`).

:func:`store_prompt` is the one door: the name and language are checked against the same
patterns the flows' words are; the bytes are checked by ``firmware.media.uploads.decode_upload``
(the one check of every upload: at most :data:`MAX_UPLOAD_BYTES`, not MP3, a WAV the box reads);
the audio is converted to 8 kHz mono, its leading and trailing silence cut and its active level
set to -18 dBm0 (ITU-T P.56, firmware/speech/prompt.py); only then is it written (atomically).
Anything refused raises FirmwareError with one line and nothing is stored. :func:`check_prompt_upload`
is the same door in two steps: everything checked and converted, then written by the caller's
:meth:`PromptFile.write` once what goes with it (a named prompt's configuration change) is accepted. MP3 is refused:
no MP3 decoder is among the box's packages.

:func:`store_text_prompt` makes such a prompt from typed text instead: synthesised offline
(firmware/speech/tts.py: Piper for English, espeak-ng otherwise), through its cache (by text and
voice: the same text is synthesised once, ever), then stored under the name like an upload.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivers import DriverError
from drivers.audiofile import atomic_write_bytes, encode_wav
from firmware import FirmwareError
from firmware.config.codec import LANGUAGE_RE, NAME_RE
from firmware.media.uploads import decode_upload
from firmware.speech.prompt import prepare_prompt
from firmware.speech.tts import PromptCache, Synthesizer, default_synthesizer, default_voice_names

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


@dataclass(frozen=True)
class PromptFile:
    """A checked and converted prompt, not written yet."""

    target: Path
    wav: bytes

    def write(self) -> Path:
        """Stores it (atomically: a cut leaves the old file or the new one); its path.
        FirmwareError (one line) when the card refuses it."""
        try:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.target, self.wav)
        except (DriverError, OSError) as exc:
            raise FirmwareError(f"prompt: {self.target.name} not stored: {exc}") from exc
        return self.target


def check_prompt_upload(data_dir: Path, language: str, name: str, data: bytes, filename: str = "upload") -> PromptFile:
    """Checks and converts an uploaded prompt (module docstring); nothing is written."""
    check_language(language)
    check_prompt_name(name)
    samples = decode_upload(data, data_dir, "prompt", filename, MAX_UPLOAD_BYTES)
    return _prepared(samples, prompt_folder(data_dir, language) / f"{name}.wav", filename)


def store_prompt(data_dir: Path, language: str, name: str, data: bytes, filename: str = "upload") -> Path:
    """Checks, converts and stores an uploaded prompt (module docstring); its path."""
    return check_prompt_upload(data_dir, language, name, data, filename).write()


def store_recorded_prompt(data_dir: Path, language: str, name: str, samples: np.ndarray) -> Path:
    """A prompt recorded by phone (firmware/ivr/recorder.py): 8 kHz samples from the line, the same
    trimming and levelling as an upload, stored atomically under the name; its path."""
    check_language(language)
    check_prompt_name(name)
    return _prepared(np.asarray(samples, dtype=np.float64), prompt_folder(data_dir, language) / f"{name}.wav",
                     "recorded by phone").write()


def _prepared(samples: np.ndarray, target: Path, filename: str) -> PromptFile:
    try:
        prepared = prepare_prompt(samples)
    except FirmwareError as exc:
        raise FirmwareError(f"{exc} ({filename})") from None
    return PromptFile(target, encode_wav(prepared))


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


class TextSpeech:
    """(text, language) -> the prompt's 8 kHz samples through the cache (named prompts' text,
    firmware/ivr/prompts.py). A text already cached is read from ``<data>/speech/tts`` without
    making a voice (Piper loads in seconds); each language's voice is made once, when a text
    is first synthesised in it."""

    def __init__(self, data_dir: Path, synthesizer_for: Callable[[str], Synthesizer] = default_synthesizer,
                 voice_names: Callable[[str], tuple[str, ...]] = default_voice_names) -> None:
        self._cache = PromptCache(data_dir)
        self._synthesizer_for = synthesizer_for
        self._voice_names = voice_names
        self._voices: dict[str, Synthesizer] = {}
        self._lock = threading.Lock()  # the start-up's thread and the store's may both ask

    def cached(self, text: str, language: str) -> np.ndarray | None:
        """The prompt if a voice of ``language`` has already said ``text``, else None (no synthesis)."""
        for voice in self._voice_names(language):
            found = self._cache.cached(text, voice)
            if found is not None:
                return found
        return None

    def __call__(self, text: str, language: str) -> np.ndarray:
        """The prompt, synthesised (blocking: seconds) if no voice has said it yet."""
        found = self.cached(text, language)
        if found is not None:
            return found
        with self._lock:
            if language not in self._voices:
                self._voices[language] = self._synthesizer_for(language)
            return self._cache.render(text, self._voices[language])


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


def store_recording(data_dir: Path, name: str, data: bytes, filename: str = "upload") -> Path:
    """A queue's greeting (``queues[].greeting``): checked and converted as a prompt is, stored as
    ``<data>/sounds/<name>.wav``, where the ACD looks first (linebox/appliance.py ``prepare``)."""
    check_recording_name(name)
    samples = decode_upload(data, data_dir, "greeting", filename, MAX_UPLOAD_BYTES)
    return _prepared(samples, data_dir / SOUNDS_DIR / f"{name}.wav", filename).write()


def check_recording_name(name: str) -> str:
    """What a queue's ``greeting`` field accepts (the configuration's NAME_RE), without dots
    at the start (no hidden files, no ``..``)."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name) or name.startswith("."):
        raise FirmwareError(f"greeting: the name {name!r} is not a recording name (letters, digits, _ . -; "
                            "up to 32)")
    return name


def stored_recordings(data_dir: Path) -> list[tuple[str, float]]:
    """(name, seconds) of every uploaded greeting (``<data>/sounds/*.wav``), sorted."""
    root = data_dir / SOUNDS_DIR
    if not root.is_dir():
        return []
    return [(path.stem, round(max(0, path.stat().st_size - 44) / 16000, 1)) for path in sorted(root.glob("*.wav"))
            if NAME_RE.fullmatch(path.stem)]


def recording_path(data_dir: Path, name: str) -> Path:
    return data_dir / SOUNDS_DIR / f"{check_recording_name(name)}.wav"


def prompt_path(data_dir: Path, language: str, name: str) -> Path:
    return prompt_folder(data_dir, check_language(language)) / f"{check_prompt_name(name)}.wav"
