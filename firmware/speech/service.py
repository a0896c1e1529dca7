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

Loading takes seconds (PocketSphinx starts a child process): until a language's engine has
loaded, ``available()`` answers None for it, so a box that has just started answers its calls
with DTMF-only menus meanwhile; ``speech_available`` is logged as each language becomes ready.

An utterance longer than :data:`MAX_UTTERANCE_FRAMES` is ended by the session itself (a
caller who never stops, a line with steady noise): the limit counts the audio fed (frames of
20 ms), never the wall clock, so the same audio ends at the same place. The IVR's own input
timeout still applies.

``wait_results``: for an engine that is not paced by real time (the virtual board unpaced:
simulations, scenario tests), a session's ``result()`` after its end of utterance waits for
the worker instead of answering None, so the result arrives at the same audio tick on every
run (on a real-time box the loop never waits: it polls). :meth:`SpeechRecognizer.wait_loaded`
likewise lets such a run start with every model loaded.
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
MAX_UTTERANCE_FRAMES = 500  # 10 s of audio
RESULT_WAIT_GUARD_S = 60.0  # wait_results: a worker stuck this long ends the utterance empty (a guard)


class Decoder(Protocol):
    def accept(self, samples: np.ndarray) -> None: ...
    def finish(self) -> Recognition: ...


class Engine(Protocol):
    engine: str

    def decoder(self, grammar: Sequence[str]) -> Decoder: ...
    def missing_words(self, grammar: Sequence[str]) -> list[str]: ...


EngineLoader = tuple[str, Callable[[], Engine]]  # (engine name, loader)


class SpeechRecognizer:
    def __init__(self, loaders: Mapping[str, EngineLoader], log: EventLogger, wait_results: bool = False) -> None:
        self._log = log
        self._loaders = dict(loaders)
        self._engines: dict[str, Engine] = {}  # written by the worker under the lock
        self._failed: set[str] = set()
        self._lock = threading.Lock()
        self._wait_results = wait_results
        self._worker = Worker("speech", self._handle, log)
        for language in self._loaders:
            self._worker.submit(("load", language, None))

    # ------------------------------------------------------------------ media loop side
    def available(self, language: str) -> str | None:
        """The engine serving ``language`` once it has loaded; None while loading, failed or absent."""
        with self._lock:
            loaded = language in self._engines
        return self._loaders[language][0] if loaded else None

    def loading(self) -> list[str]:
        """Languages whose engine is still loading (``show ivr``, the start-up log)."""
        with self._lock:
            return [lang for lang in self._loaders if lang not in self._engines and lang not in self._failed]

    def start(self, language: str, grammar: Sequence[str]) -> RecognitionSession:
        engine = self.available(language)
        if engine is None:
            raise SpeechError(f"speech: no recognizer for language {language!r}")
        session = Session(self._worker.submit, engine, self._wait_results, self._log)
        self._worker.submit(("open", session, (language, normalize_grammar(grammar))))
        return session

    # ------------------------------------------------------------------ blocking helpers (not on the loop)
    def drain(self) -> None:
        """Wait until every piece of work handed over so far is done (tests, the CLI)."""
        self._worker.drain()

    def wait_loaded(self) -> None:
        """Wait until every engine has loaded or failed (unpaced runs, the CLI); never on the loop."""
        self._worker.drain()

    def missing_words(self, language: str, grammar: Sequence[str]) -> list[str]:
        """The grammar's words the language's engine does not know (flow validation at save)."""
        phrases = normalize_grammar(grammar)
        answer: list = []
        done = threading.Event()
        # asked on the worker thread: an engine is used by one thread only (a child's pipe)
        self._worker.submit(("missing", language, (phrases, answer, done)))
        done.wait()
        if isinstance(answer[0], SpeechError):
            raise answer[0]
        return answer[0]

    def close(self) -> None:
        """Finish queued work, stop the thread, release the engines (a child process)."""
        self._worker.close()
        for engine in self._engines.values():
            release = getattr(engine, "close", None)
            if release is not None:
                release()

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
        elif op == "missing":
            phrases, answer, done = data
            engine = self._engines.get(target)
            try:
                if engine is None:
                    raise SpeechError(f"speech: no recognizer for language {target!r}")
                answer.append(engine.missing_words(phrases))
            except SpeechError as exc:
                answer.append(exc)
            finally:
                done.set()
        else:
            try:
                target.step(op, data, self._log)
            except SpeechError as exc:  # the engine failed mid-utterance (its child process died)
                self._log.error("speech_recognition_failed", engine=target.engine, error=str(exc))
                target.deliver(Recognition("", 0.0, (), target.engine))
            except Exception:  # a bug: the utterance ends empty (a waiting loop is released), the worker logs it
                target.deliver(Recognition("", 0.0, (), target.engine))
                raise

    def _load(self, language: str) -> None:
        name, loader = self._loaders[language]
        try:
            engine = loader()
        except SpeechError as exc:
            with self._lock:
                self._failed.add(language)
            self._log.error("speech_model_unusable", language=language, engine=name, error=str(exc))
            return
        with self._lock:
            self._engines[language] = engine
        self._log.info("speech_available", language=language, engine=name)


class Session:
    """One utterance. Media-loop methods only queue work; the worker calls ``attach``,
    ``step`` and ``deliver``."""

    def __init__(self, submit: Callable[[tuple], None], engine: str, wait_results: bool = False,
                 log: EventLogger | None = None) -> None:
        self._submit = submit
        self.engine = engine
        self._wait = wait_results
        self._log = log
        self._done = threading.Event()
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
        if self._cancelled:
            return None
        if self._wait:
            if not self._ended:
                return None  # unpaced: a result shows only after the end, at a tick the audio decides
            if not self._done.wait(RESULT_WAIT_GUARD_S):
                if self._log is not None:
                    self._log.error("speech_result_late", engine=self.engine, waited_s=RESULT_WAIT_GUARD_S)
                self.deliver(Recognition("", 0.0, (), self.engine))
        return self._result

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
        self._done.set()

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
