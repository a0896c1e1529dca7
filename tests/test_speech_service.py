"""The speech service against a fake engine: work leaves the caller's thread, results come back
polled, failures become DTMF-only fallbacks and empty results, never exceptions on the loop."""

import threading

import numpy as np
import pytest

from drivers.logs import EventLogger
from firmware.speech.api import Recognition, SpeechError
from firmware.speech.grammar import normalize_grammar
from firmware.speech.service import BATCH_FRAMES, MAX_UTTERANCE_FRAMES, SpeechRecognizer


class FakeDecoder:
    def __init__(self, engine, grammar):
        self.engine, self.grammar, self.samples, self.threads = engine, grammar, [], set()

    def accept(self, samples):
        self.threads.add(threading.get_ident())
        self.samples.append(samples.copy())

    def finish(self):
        self.threads.add(threading.get_ident())
        total = int(sum(s.size for s in self.samples))
        word = self.grammar[0] if self.grammar else "anything"
        return Recognition(word, min(1.0, total / 8000), (word,), "vosk")


class FakeEngine:
    engine = "vosk"

    def __init__(self, vocabulary=("yes", "no", "sales")):
        self.vocabulary = set(vocabulary)
        self.decoders = []

    def decoder(self, grammar):
        known = [p for p in grammar if all(w in self.vocabulary for w in p.split())]
        if grammar and not known:
            raise SpeechError("no phrase known")
        self.decoders.append(FakeDecoder(self, known))
        return self.decoders[-1]

    def missing_words(self, grammar):
        return sorted({w for p in grammar for w in p.split() if w not in self.vocabulary})


def broken_loader():
    raise SpeechError("speech: cannot load the Vosk model in /x: corrupt")


@pytest.fixture
def engine():
    return FakeEngine()


@pytest.fixture
def service(engine):
    svc = SpeechRecognizer({"en": ("vosk", lambda: engine), "ko": ("vosk", broken_loader)}, EventLogger("speech-test"))
    svc.wait_loaded()
    yield svc
    svc.close()


def frames(n, value=100):
    return [np.full(160, value, dtype=np.int16) for _ in range(n)]


def test_a_session_decodes_in_the_worker_thread_and_result_is_polled(service, engine):
    session = service.start("en", ["Yes", "no"])
    for frame in frames(12):
        session.feed(frame)
    session.end_of_utterance()
    service.drain()
    result = session.result()
    assert result == Recognition("yes", 12 * 160 / 8000, ("yes",), "vosk")
    decoder = engine.decoders[0]
    assert decoder.threads and threading.get_ident() not in decoder.threads
    assert sum(s.size for s in decoder.samples) == 12 * 160
    assert len(decoder.samples) == -(-12 // BATCH_FRAMES)  # batched hand-overs


def test_result_is_none_until_the_end_of_utterance(service):
    session = service.start("en", ["yes"])
    for frame in frames(3):
        session.feed(frame)
    service.drain()
    assert session.result() is None


def test_a_caller_who_never_stops_is_ended_at_the_maximum(service, engine):
    session = service.start("en", ["yes"])
    for frame in frames(MAX_UTTERANCE_FRAMES + 40):
        session.feed(frame)
    service.drain()
    assert session.result() is not None
    assert sum(s.size for s in engine.decoders[0].samples) == MAX_UTTERANCE_FRAMES * 160


def test_cancel_drops_the_utterance(service):
    session = service.start("en", ["yes"])
    session.feed(frames(1)[0])
    session.cancel()
    session.end_of_utterance()
    service.drain()
    assert session.result() is None


def test_an_unloadable_model_means_dtmf_only_not_a_crash(service):
    service.drain()
    assert service.available("en") == "vosk"
    assert service.available("ko") is None
    assert service.available("fr") is None
    with pytest.raises(SpeechError, match="no recognizer for language 'ko'"):
        service.start("ko", ["yes"])


def test_a_language_is_not_available_while_its_model_loads_then_is(engine):
    """A box that has just started answers with DTMF-only menus until the model has loaded."""
    gate = threading.Event()

    def slow():
        gate.wait(5)
        return engine

    svc = SpeechRecognizer({"en": ("vosk", slow)}, EventLogger("speech-test"))
    try:
        assert svc.available("en") is None  # still loading: keys only
        assert svc.loading() == ["en"]
        with pytest.raises(SpeechError, match="no recognizer for language 'en'"):
            svc.start("en", ["yes"])
        gate.set()
        svc.wait_loaded()
        assert svc.available("en") == "vosk"
        assert svc.loading() == []
    finally:
        svc.close()


def test_a_model_that_fails_while_loading_is_never_available():
    gate = threading.Event()

    def slow_broken():
        gate.wait(5)
        raise SpeechError("corrupt")

    svc = SpeechRecognizer({"ko": ("vosk", slow_broken)}, EventLogger("speech-test"))
    try:
        assert svc.available("ko") is None
        gate.set()
        svc.wait_loaded()
        assert svc.available("ko") is None
        assert svc.loading() == []
    finally:
        svc.close()


def test_wait_results_makes_result_wait_for_the_worker_after_the_end(engine):
    """Unpaced runs: no None between the end of utterance and the worker's answer."""
    gate = threading.Event()

    class Slow(FakeDecoder):
        def finish(self):
            gate.wait(5)
            return super().finish()

    engine.decoder = lambda grammar: Slow(engine, list(grammar))
    svc = SpeechRecognizer({"en": ("vosk", lambda: engine)}, EventLogger("speech-test"), wait_results=True)
    try:
        svc.wait_loaded()
        session = svc.start("en", ["yes"])
        for frame in frames(3):
            session.feed(frame)
        assert session.result() is None  # not ended: answers at once
        session.end_of_utterance()
        threading.Timer(0.2, gate.set).start()
        assert session.result() == Recognition("yes", 480 / 8000, ("yes",), "vosk")
    finally:
        svc.close()


def test_a_bug_in_a_decoder_ends_the_utterance_empty_and_releases_a_waiting_loop(engine):
    class Buggy(FakeDecoder):
        def finish(self):
            raise ZeroDivisionError("bug")

    engine.decoder = lambda grammar: Buggy(engine, list(grammar))
    svc = SpeechRecognizer({"en": ("vosk", lambda: engine)}, EventLogger("speech-test"), wait_results=True)
    try:
        svc.wait_loaded()
        session = svc.start("en", ["yes"])
        session.feed(frames(1)[0])
        session.end_of_utterance()
        assert session.result() == Recognition("", 0.0, (), "vosk")
    finally:
        svc.close()


def test_a_grammar_the_model_cannot_say_gives_an_empty_result(service):
    session = service.start("en", ["zebra crossing"])
    session.feed(frames(1)[0])
    session.end_of_utterance()
    service.drain()
    assert session.result() == Recognition("", 0.0, (), "vosk")
    assert service.missing_words("en", ["Zebra crossing", "yes"]) == ["crossing", "zebra"]


@pytest.mark.parametrize("grammar", ["yes", ["yes", ""], ["a b c d e f g h i"], ["yes!"], [5], ["x" * 41]])
def test_malformed_grammars_are_refused_at_start(service, grammar):
    with pytest.raises(SpeechError):
        service.start("en", grammar)


def test_grammar_is_normalised():
    assert normalize_grammar(["  Sales ", "SALES", "customer   service"]) == ("sales", "customer service")


def test_a_frame_of_the_wrong_size_is_refused(service):
    session = service.start("en", ["yes"])
    with pytest.raises(SpeechError):
        session.feed(np.zeros(80, dtype=np.int16))


def test_an_engine_failing_mid_utterance_ends_it_empty(engine):
    class Failing(FakeDecoder):
        def finish(self):
            raise SpeechError("speech: the PocketSphinx process is gone")

    engine.decoder = lambda grammar: Failing(engine, list(grammar))
    svc = SpeechRecognizer({"en": ("pocketsphinx", lambda: engine)}, EventLogger("speech-test"))
    try:
        svc.wait_loaded()
        session = svc.start("en", ["yes"])
        session.feed(frames(1)[0])
        session.end_of_utterance()
        svc.drain()
        assert session.result() == Recognition("", 0.0, (), "pocketsphinx")
        with pytest.raises(SpeechError, match="no recognizer"):
            svc.missing_words("fr", ["yes"])
    finally:
        svc.close()
