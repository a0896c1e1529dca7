"""The Vosk engine: one model directory per language, loaded once, one recognizer per utterance.

Vosk (Kaldi) takes the line's 8 kHz audio as it is: the model's feature pipeline resamples to
the rate it was trained at (``--allow-upsample`` in its ``conf/mfcc.conf``). A grammar becomes
Vosk's JSON phrase list, plus ``[unk]`` when the model has it, so that speech outside the
grammar can come out as nothing rather than as the nearest phrase. Confidence is the mean of
the words' posteriors. Words the model does not know are dropped (and named in the log).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from dsp import SAMPLE_RATE
from firmware.speech.api import Recognition, SpeechError
from firmware.speech.grammar import normalize_text

ENGINE = "vosk"
UNKNOWN = "[unk]"


class VoskModel:
    engine = ENGINE

    def __init__(self, path: Path) -> None:
        try:
            import vosk
        except ImportError as exc:
            raise SpeechError(f"speech: the vosk package is not installed ({exc})") from None
        vosk.SetLogLevel(-1)
        if not (path / "am" / "final.mdl").is_file():
            raise SpeechError(f"speech: {path} is not a Vosk model (no am/final.mdl)")
        try:
            self._model = vosk.Model(str(path))
        except Exception as exc:  # vosk raises a bare Exception for every load failure
            raise SpeechError(f"speech: cannot load the Vosk model in {path}: {exc}") from None
        self._vosk = vosk
        self.path = path

    def has_word(self, word: str) -> bool:
        return self._model.vosk_model_find_word(word) >= 0

    def missing_words(self, grammar: Sequence[str]) -> list[str]:
        return sorted({w for phrase in grammar for w in phrase.split() if not self.has_word(w)})

    def decoder(self, grammar: Sequence[str]) -> VoskDecoder:
        if not grammar:
            recognizer = self._vosk.KaldiRecognizer(self._model, float(SAMPLE_RATE))
        else:
            known = [p for p in grammar if all(self.has_word(w) for w in p.split())]
            if not known:
                raise SpeechError(f"speech: no phrase of the grammar is in the model's vocabulary: {list(grammar)}")
            phrases = known + ([UNKNOWN] if self.has_word(UNKNOWN) else [])
            recognizer = self._vosk.KaldiRecognizer(self._model, float(SAMPLE_RATE), json.dumps(phrases, ensure_ascii=False))
        recognizer.SetWords(True)
        return VoskDecoder(recognizer)


class VoskDecoder:
    """One utterance, streamed: ``accept`` as frames arrive, ``finish`` at its end."""

    def __init__(self, recognizer) -> None:
        self._recognizer = recognizer
        self._words: list[tuple[str, float]] = []

    def accept(self, samples: np.ndarray) -> None:
        if self._recognizer.AcceptWaveform(np.ascontiguousarray(samples, dtype="<i2").tobytes()):
            self._collect(self._recognizer.Result())  # an endpoint inside the utterance

    def finish(self) -> Recognition:
        self._collect(self._recognizer.FinalResult())
        words = [(w, c) for w, c in self._words if w != UNKNOWN]
        if not words:
            return Recognition("", 0.0, (), ENGINE)
        text = normalize_text(" ".join(w for w, _ in words))
        confidence = float(np.clip(np.mean([c for _, c in words]), 0.0, 1.0))
        return Recognition(text, confidence, tuple(text.split()), ENGINE)

    def _collect(self, result_json: str) -> None:
        result = json.loads(result_json)
        self._words += [(str(item["word"]).lower(), float(item.get("conf", 0.0))) for item in result.get("result", ())]
