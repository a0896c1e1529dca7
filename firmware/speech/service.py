"""The speech service: engines loaded once in one worker thread, sessions fed from the media loop.

:class:`SpeechRecognizer` implements :class:`firmware.speech.api.SpeechService`. It is given
one engine loader per language (the composition root builds them: an installed Vosk model
per language, PocketSphinx for English without one) and loads them all in its worker thread
as it starts, so neither the first call nor the media loop waits on a model load. Every
decoding step runs on that thread: a session's ``feed`` only hands a copy of the frame over
(batched by :data:`BATCH_FRAMES`), and the result comes back as an attribute the media loop
polls each tick. A model that fails to load is logged and its language then answers
``available() is None``: the IVR goes on with DTMF only; a recognition that fails ends with
an empty result, never an exception on the loop.

An utterance longer than :data:`MAX_UTTERANCE_FRAMES` is ended by the session itself (a
caller who never stops, a line with steady noise): the IVR's own input timeout still applies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np

from drivers.logs import EventLogger
from firmware.engine.worker import Worker
from firmware.speech.api import FRAME_SAMPLES, Recognition, RecognitionSession, SpeechError
from firmware.speech.grammar import normalize_grammar

BATCH_FRAMES = 5  # 100 ms of audio per hand-over to the worker
MAX_UTTERANCE_FRAMES = 500  # 10 s


class Decoder(Protocol):
    def accept(self, samples: np.ndarray) -> None: ...
    def finish(self) -> Recognition: ...


class Engine(Protocol):
    engine: str

    def decoder(self, grammar: Sequence[str]) -> Decoder: ...
    def missing_words(self, grammar: Sequence[str]) -> list[str]: ...


EngineLoader = tuple[str, Callable[[], Engine]]  # (engine name, loader)


class SpeechRecognizer:
    def __init__(self, loaders: Mapping[str, EngineLoader], log: EventLogger) -> None:
        self._log = log
        self._loaders = dict(loaders)
        self._engines: dict[str, Engine] = {}
        self._failed: set[str] = set()
        self._lock = threading.Lock()
        self._worker = Worker("speech", self._handle, log)
        for language in self._loaders:
            self._worker.submit(("load", language, None))

    # ------------------------------------------------------------------ media loop side
    def available(self, language: str) -> str | None:
        with self._lock:
            if language in self._failed or language not in self._loaders:
                return None
        return self._loaders[language][0]

    def start(self, language: str, grammar: Sequence[str]) -> RecognitionSession:
        engine = self.available(language)
        if engine is None:
            raise SpeechError(f"speech: no recognizer for language {language!r}")
        session = Session(self._worker.submit, engine)
        self._worker.submit(("open", session, (language, normalize_grammar(grammar))))
        return session

    # ------------------------------------------------------------------ blocking helpers (not on the loop)
    def drain(self) -> None:
        """Wait until every piece of work handed over so far is done (tests, the CLI)."""
        self._worker.drain()

    def missing_words(self, language: str, grammar: Sequence[str]) -> list[str]:
        """The grammar's words the language's engine does not know (flow validation at save)."""
        phrases = normalize_grammar(grammar)
        self._worker.drain()
        engine = self._engines.get(language)
        if engine is None:
            raise SpeechError(f"speech: no recognizer for language {language!r}")
        return engine.missing_words(phrases)

    def close(self) -> None:
        self._worker.close()

    # ------------------------------------------------------------------ worker thread
    def _handle(self, item: tuple) -> None:
        op, target, data = item
        if op == "load":
            self._load(target)
        elif op == "open":
            session = target
            language, grammar = data
            engine = self._engines.get(language)
            if engine is None:
                session.deliver(Recognition("", 0.0, (), session.engine))
                return
            try:
                session.attach(engine.decoder(grammar))
            except SpeechError as exc:
                self._log.warning("speech_grammar_refused", language=language, error=str(exc))
                session.deliver(Recognition("", 0.0, (), engine.engine))
        else:
            target.step(op, data, self._log)

    def _load(self, language: str) -> None:
        name, loader = self._loaders[language]
        try:
            self._engines[language] = loader()
        except SpeechError as exc:
            with self._lock:
                self._failed.add(language)
            self._log.error("speech_model_unusable", language=language, engine=name, error=str(exc))
            return
        self._log.info("speech_engine_loaded", language=language, engine=name)


class Session:
    """One utterance. Media-loop methods only queue work; the worker calls ``attach``,
    ``step`` and ``deliver``."""

    def __init__(self, submit: Callable[[tuple], None], engine: str) -> None:
        self._submit = submit
        self.engine = engine
        self._pending: list[np.ndarray] = []
        self._frames = 0
        self._ended = False
        self._cancelled = False
        self._decoder: Decoder | None = None
        self._result: Recognition | None = None

    def feed(self, frame: np.ndarray) -> None:
        if self._ended:
            return
        samples = np.asarray(frame)
        if samples.shape != (FRAME_SAMPLES,):
            raise SpeechError(f"speech: a frame is {FRAME_SAMPLES} samples, got shape {samples.shape}")
        self._pending.append(samples.astype(np.int16, copy=True))
        self._frames += 1
        if len(self._pending) >= BATCH_FRAMES:
            self._flush()
        if self._frames >= MAX_UTTERANCE_FRAMES:
            self.end_of_utterance()

    def end_of_utterance(self) -> None:
        if not self._ended:
            self._ended = True
            self._flush()
            self._submit(("end", self, None))

    def cancel(self) -> None:
        self._ended = self._cancelled = True
        self._pending = []
        self._submit(("cancel", self, None))

    def result(self) -> Recognition | None:
        return None if self._cancelled else self._result

    def _flush(self) -> None:
        if self._pending:
            batch = np.concatenate(self._pending)
            self._pending = []
            self._submit(("audio", self, batch))

    # ------------------------------------------------------------------ worker thread
    def attach(self, decoder: Decoder) -> None:
        self._decoder = decoder

    def deliver(self, recognition: Recognition) -> None:
        self._decoder = None
        if self._result is None:
            self._result = recognition

    def step(self, op: str, data: np.ndarray | None, log: EventLogger) -> None:
        if self._decoder is None or self._result is not None:
            return  # refused at open, cancelled, or already finished
        if op == "cancel":
            self._decoder = None
        elif op == "audio":
            self._decoder.accept(data)
        elif op == "end":
            recognition = self._decoder.finish()
            log.info("speech_recognized", engine=recognition.engine, text=recognition.text,
                     confidence=round(recognition.confidence, 3))
            self.deliver(recognition)
