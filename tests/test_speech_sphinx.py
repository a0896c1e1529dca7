"""The real PocketSphinx engine (its bundled en-US model) on the real recorded digits of
asterisk-core-sounds-en-wav, through the service, and the telephone-band widening it needs."""

import numpy as np
import pytest

from drivers.audiofile import read_audio
from drivers.logs import EventLogger
from dsp import g711
from firmware.speech.api import SpeechError
from firmware.speech.say import sound_dir
from firmware.speech.service import SpeechRecognizer
from firmware.speech.sphinx_engine import FILL_BAND, GARBAGE_PREFIX, SphinxModel, SphinxProcess, widen

pytest.importorskip("pocketsphinx")
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(scope="module")
def model():
    return SphinxModel()


@pytest.fixture(scope="module")
def service(model):
    svc = SpeechRecognizer({"en": ("pocketsphinx", lambda: model)}, EventLogger("speech-test"))
    yield svc
    svc.close()


def digit(n: int) -> np.ndarray:
    silence = np.zeros(2400, dtype=np.int16)
    audio = np.concatenate([silence, read_audio(sound_dir("en") / "digits" / f"{n}.wav"), silence])
    return g711.ulaw_roundtrip(audio)


def recognize(service, audio, grammar):
    service.wait_loaded()  # a language is available once its model has loaded
    session = service.start("en", grammar)
    for frame in audio[: audio.size // 160 * 160].reshape(-1, 160):
        session.feed(frame)
    session.end_of_utterance()
    service.drain()
    return session.result()


def test_recorded_digits_through_mu_law(service):
    """The bench's figure (docs/ivr.md) on one voice: 9 of 10 (this voice's "six" is heard as
    "eight" at telephone bandwidth), every answer inside the grammar."""
    results = [recognize(service, digit(n), DIGITS) for n in range(10)]
    assert sum(r.text == w for r, w in zip(results, DIGITS, strict=True)) >= 9, [r.text for r in results]
    assert all(r.text in DIGITS for r in results)
    assert all(r.engine == "pocketsphinx" and 0.0 < r.confidence <= 1.0 for r in results)


def test_grammar_restricts_what_comes_out(service):
    result = recognize(service, digit(7), ["yes", "no", "operator"])
    assert result.text in ("", "yes", "no", "operator")
    assert recognize(service, digit(7), ["six", "seven"]).text == "seven"


def test_repeatable(service):
    audio = digit(5)
    assert recognize(service, audio, DIGITS) == recognize(service, audio, DIGITS)


def test_silence_gives_nothing(service):
    assert recognize(service, np.zeros(8000, dtype=np.int16), DIGITS).text == ""


def test_unknown_words(model):
    assert model.missing_words(["one", "qwxzt"]) == ["qwxzt"]
    with pytest.raises(SpeechError, match="dictionary"):
        model.decoder(["qwxzt"])


def test_widen_fills_the_top_band_from_the_line_s_fricatives():
    t = np.arange(8000)
    hiss = np.round(3000 * np.sin(2 * np.pi * 3500 * t / 8000)).astype(np.int16)  # energy near the band top
    hum = np.round(3000 * np.sin(2 * np.pi * 300 * t / 8000)).astype(np.int16)
    for signal, expect_fill in ((hiss, True), (hum, False)):
        wide = widen(signal)
        assert wide.dtype == np.int16 and wide.size == 2 * signal.size
        spectrum = np.abs(np.fft.rfft(wide.astype(float))) ** 2
        freqs = np.fft.rfftfreq(wide.size, 1 / 16000)
        top = spectrum[(freqs > FILL_BAND[0]) & (freqs < FILL_BAND[1])].sum() / spectrum.sum()
        assert (top > 0.05) == expect_fill, top
    assert np.array_equal(widen(hiss), widen(hiss))
    assert widen(np.zeros(0, dtype=np.int16)).size == 0


def test_widen_fill_follows_the_spectral_tilt():
    """The same 3.5 kHz content alone (a fricative's shape) and under a loud 500 Hz tone (a
    vowel's): the fill above 4 kHz is much louder for the first. Without the tilt weighting the
    two fills were equal (a fill in a constant ratio to the source band is removed by the
    cepstral mean, so only its frame-to-frame course informs the model)."""
    t = np.arange(8000)
    top = 3000 * np.sin(2 * np.pi * 3500 * t / 8000)
    fricative = np.round(top).astype(np.int16)
    vowel = np.round(top + 10000 * np.sin(2 * np.pi * 500 * t / 8000)).astype(np.int16)

    def fill_energy(signal):
        spectrum = np.abs(np.fft.rfft(widen(signal).astype(float))) ** 2
        freqs = np.fft.rfftfreq(2 * signal.size, 1 / 16000)
        return spectrum[(freqs > FILL_BAND[0]) & (freqs < FILL_BAND[1])].sum()

    # expected (10 / 0.3) ** (2 * 0.6), about 67 (18 dB): at least 10 dB apart
    assert fill_energy(fricative) > 10 * fill_energy(vowel)



def test_the_child_process_engine_leaves_the_media_loop_thread_running():
    """PocketSphinx holds the GIL while it decodes (a 6 s utterance in-process stalled a 1 ms
    ticker thread for about 200 ms). In its child process, the ticker (the media loop's
    stand-in) is never held up for anything like that; same answers as in-process."""
    import threading
    import time

    engine = SphinxProcess()
    svc = SpeechRecognizer({"en": ("pocketsphinx", lambda: engine)}, EventLogger("speech-test"))
    audio = np.tile(digit(7), 6)
    gaps, stop = [], threading.Event()

    def ticker():
        last = time.perf_counter()
        while not stop.is_set():
            time.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    thread = threading.Thread(target=ticker)
    try:
        assert engine.missing_words(["one", "qwxzt"]) == ["qwxzt"]
        assert recognize(svc, digit(3), DIGITS).text == "three"
        thread.start()
        result = recognize(svc, audio, DIGITS)
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
        svc.close()
    assert result.engine == "pocketsphinx"
    assert max(gaps) < 0.06, max(gaps)
    with pytest.raises(SpeechError, match="gone"):
        engine.decode(digit(1), ("one",))


def test_posterior_is_the_answer_s_share_among_the_distinct_n_best_answers():
    from firmware.speech.sphinx_engine import POSTERIOR_SCALE_NATS, posterior

    assert posterior("five", -1.0, []) == 1.0  # nothing else in the lattice
    assert posterior("five", -1.0, [("five", -1.0), ("five", -1.2)]) == 1.0  # same answer, other paths
    assert posterior("five", -1.0, [("nine", -1.0)]) == pytest.approx(0.5)  # a tie
    # a competitor one scale below: e / (e + 1) of it goes to the answer
    assert posterior("five", -1.0, [("nine", -1.0 - POSTERIOR_SCALE_NATS)]) == pytest.approx(np.e / (np.e + 1))
    # the Viterbi answer below the lattice's best path (bestpath off): still counted, low
    assert posterior("five", -1.5, [("nine", -1.0), ("five", -1.6)]) < 0.01
    assert posterior("five", float("-inf"), []) == 0.0


def test_confidence_separates_right_from_wrong_answers(service):
    """With bestpath off PocketSphinx itself says 1.0 for every answer; the N-best posterior
    does not: Allison's digits through µ-law are mostly heard right and sure, her "six" comes
    out "eight" (docs/ivr.md) below every sure answer (measured: 0.82; "five" right at 0.55,
    "two" 0.67, the seven others 1.0)."""
    results = {w: recognize(service, digit(n), DIGITS) for n, w in enumerate(DIGITS)}
    sure = [w for w, r in results.items() if r.text == w and r.confidence >= 0.9]
    assert len(sure) >= 7, {w: (r.text, r.confidence) for w, r in results.items()}
    wrong = [r for w, r in results.items() if r.text != w]
    assert wrong and all(0.0 < r.confidence < 0.9 for r in wrong), wrong


@pytest.mark.parametrize("seed", [0, 5])
def test_line_noise_is_no_answer(model, seed):
    """Loud white noise against a keyword grammar: with bestpath off the Viterbi pass matched
    these two draws to "no" (confidence 1.0, taken); the lattice's best path is empty, and so is
    the answer."""
    noise = np.round(np.random.default_rng(seed).normal(0, 300, 16000)).astype(np.int16)
    result = model.decode(noise, ("sales", "support", "billing", "operator", "balance", "orders", "repeat",
                                  "cancel", "yes", "no"))
    assert (result.text, result.confidence) == ("", 0.0)


OUT_OF_GRAMMAR = ("hello", "goodbye", "sorry", "calling", "extension", "invalid", "location", "minutes",
                  "transfer", "number", "activated", "disabled")  # Allison's recordings, in neither grammar
KEYWORDS = ("sales", "support", "billing", "operator", "balance", "orders", "repeat", "cancel", "yes", "no")


def recording(name: str) -> np.ndarray:
    silence = np.zeros(2400, dtype=np.int16)
    return g711.ulaw_roundtrip(np.concatenate([silence, read_audio(sound_dir("en") / f"{name}.wav"), silence]))


def taken(model, grammar) -> list[str]:
    """The out-of-grammar recordings the IVR would act on (an answer at its 0.5 take threshold)."""
    results = {name: model.decode(recording(name), tuple(grammar)) for name in OUT_OF_GRAMMAR}
    return [f"{n}->{r.text}" for n, r in results.items() if r.text and r.confidence >= 0.5]


def test_out_of_grammar_speech_is_rejected(model):
    """Issue 12: a human voice saying words of neither grammar. Without the phone loop (weight 0)
    9 of 12 were taken as a digit and 10 of 12 as a keyword; with it, measured 3 and 8 (the loop
    wins the rest, or lowers their confidence to the confirm band). The digits of the same voice keep their
    9 of 10 (test_recorded_digits_through_mu_law, with this model)."""
    assert len(taken(model, DIGITS)) <= 4, taken(model, DIGITS)
    assert len(taken(model, KEYWORDS)) <= 9, taken(model, KEYWORDS)
    without = SphinxModel(garbage_weight=0.0)
    assert len(taken(without, DIGITS)) >= 8 and len(taken(without, KEYWORDS)) >= 8  # what it fixes


def test_the_phone_loop_s_words_are_never_a_grammar_s(model):
    assert model.missing_words(["one", GARBAGE_PREFIX + "n"]) == [GARBAGE_PREFIX + "n"]
    with pytest.raises(SpeechError, match="dictionary"):
        model.decoder([GARBAGE_PREFIX + "s"])
