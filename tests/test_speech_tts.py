"""Text-to-speech prompts: P.56 active level, trimming, the cache, the renderer thread, and the
real synthesisers (espeak-ng, Piper's joe voice) checked by recognising what they said."""

import threading

import numpy as np
import pytest

from drivers.audiofile import read_audio
from drivers.logs import EventLogger
from dsp.levels import dbm0_to_rms
from firmware.speech.api import SpeechError
from firmware.speech.prompt import TARGET_DBM0, active_level_dbm0, prepare_prompt
from firmware.speech.tts import (
    EspeakSynthesizer,
    PromptCache,
    PromptRenderer,
    check_text,
    default_synthesizer,
)


def tone(seconds, level_dbm0, freq=440.0):
    t = np.arange(int(seconds * 8000))
    return np.sin(2 * np.pi * freq * t / 8000) * dbm0_to_rms(level_dbm0) * np.sqrt(2)


def test_active_level_ignores_pauses():
    burst = tone(2.0, -30.0)
    gappy = np.concatenate([np.zeros(8000), burst, np.zeros(24000), burst, np.zeros(8000)])
    assert abs(active_level_dbm0(burst) - -30.0) < 0.3
    assert abs(active_level_dbm0(gappy) - -30.0) < 1.0  # whole-file power would say -33.7
    assert active_level_dbm0(np.zeros(8000)) is None


def test_prepare_prompt_trims_and_levels():
    x = np.concatenate([np.zeros(8000), tone(1.0, -35.0), np.zeros(4000), tone(1.0, -35.0), np.zeros(8000)])
    y = prepare_prompt(x)
    assert y.dtype == np.int16
    assert abs(active_level_dbm0(y) - TARGET_DBM0) < 0.05
    assert y.size < x.size - 15000  # a second of silence and more cut off the ends
    assert y.size > 2 * 8000 + 4000 - 100  # the inner pause is kept
    with pytest.raises(SpeechError, match="silent"):
        prepare_prompt(np.zeros(8000))


class CountingSynth:
    def __init__(self, voice="fake:1"):
        self.voice, self.calls, self.threads = voice, [], set()

    def synthesize(self, text):
        self.calls.append(text)
        self.threads.add(threading.get_ident())
        return tone(0.5 + 0.1 * len(text), -25.0)


def test_cache_synthesises_once_per_text_and_voice(tmp_path):
    cache = PromptCache(tmp_path)
    synth = CountingSynth()
    first = cache.render("Hello  there", synth)
    again = cache.render("Hello there", synth)
    assert synth.calls == ["Hello there"] and np.array_equal(first, again)
    assert cache.path("Hello there", "fake:1").parent == tmp_path / "speech" / "tts"
    assert np.array_equal(read_audio(cache.path("Hello there", "fake:1")), first)
    other = CountingSynth("fake:2")
    cache.render("Hello there", other)
    assert other.calls == ["Hello there"]
    assert cache.path("Hello there", "fake:1") != cache.path("Hello there", "fake:2")


@pytest.mark.parametrize("text", ["", "   ", "x" * 1001, "bell\x07", 5])
def test_bad_text_is_refused(text):
    with pytest.raises(SpeechError):
        check_text(text)


def test_renderer_works_off_the_callers_thread(tmp_path):
    synth = CountingSynth()
    renderer = PromptRenderer(PromptCache(tmp_path), lambda language: synth, EventLogger("tts-test"))
    try:
        assert renderer.lookup("Welcome", "en") is None
        renderer.request("Welcome", "en")
        renderer.request("Welcome", "en")
        renderer.drain()
        audio = renderer.lookup("Welcome", "en")
        assert audio is not None and audio.dtype == np.int16
        assert synth.calls == ["Welcome"] and threading.get_ident() not in synth.threads
    finally:
        renderer.close()


def recognised(audio, grammar):
    from firmware.speech.sphinx_engine import SphinxModel
    decoder = SphinxModel().decoder(grammar)
    silence = np.zeros(2400, dtype=np.int16)  # as a caller would hear it: a pause either side
    decoder.accept(np.concatenate([silence, audio, silence]))
    return decoder.finish().text


def test_espeak_prompt_is_8k_levelled_and_says_the_words(tmp_path):
    pytest.importorskip("pocketsphinx")
    audio = PromptCache(tmp_path).render("seven", EspeakSynthesizer("en-us"))
    assert abs(active_level_dbm0(audio) - TARGET_DBM0) < 0.05
    assert 0.2 * 8000 < audio.size < 1.5 * 8000
    assert recognised(audio, ["six", "seven", "eight"]) == "seven"
    with pytest.raises(SpeechError, match="failed"):
        EspeakSynthesizer("en-us", program=str(tmp_path / "no-espeak")).synthesize("hello")


@pytest.mark.slow  # loads the Piper voice (about 3 s) and synthesises (about real time)
def test_piper_joe_voice_works_offline_and_is_preferred_for_english(tmp_path):
    pytest.importorskip("pocketsphinx")
    synth = default_synthesizer("en")
    assert synth.voice == "piper:en_US-joe-medium"
    audio = PromptCache(tmp_path).render("operator", synth)
    assert abs(active_level_dbm0(audio) - TARGET_DBM0) < 0.05
    assert recognised(audio, ["sales", "operator", "billing"]) == "operator"
    assert default_synthesizer("fr").voice == "espeak-ng:fr"
