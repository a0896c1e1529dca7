"""Named prompts (``ivr_prompts``: text or recording per language, config migration 18): read and
written with one-line errors, stored in SQLite, cross-checked against flows, and resolved by the
IVR's prompts before uploads and system recordings (text synthesised once, through the cache)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from drivers.audiofile import encode_wav, read_audio
from firmware import FirmwareError
from firmware.config.codec import from_dict, to_dict
from firmware.config.demo import demo_config
from firmware.config.ivrmodel import NamedPrompt
from firmware.config.store import ConfigStore
from firmware.config.validate import validate
from firmware.ivr import IvrPrompts
from firmware.ivr.uploads import TextSpeech, prompt_folder
from firmware.speech.prompt import active_level_dbm0
from linebox.appliance import board_ports

WELCOME = NamedPrompt("welcome", text=(("en", "Welcome to Acme."),), recording=(("es", "hello"),))


def with_prompts(*prompts, word="welcome"):
    """The demo office with its menu's English and Spanish prompts starting with ``word``."""
    config = demo_config()
    flow = config.ivr_flows[0]
    nodes = list(flow.nodes)
    index = next(i for i, node in enumerate(nodes) if node.id == "welcome")
    node = nodes[index]
    nodes[index] = dataclasses.replace(node, prompt=tuple((language, (word, *words)) for language, words in node.prompt))
    return dataclasses.replace(config, ivr_prompts=prompts,
                               ivr_flows=(dataclasses.replace(flow, nodes=tuple(nodes)), *config.ivr_flows[1:]))


def test_round_trip_yaml_and_database(tmp_path):
    config = with_prompts(WELCOME)
    data = to_dict(config)
    assert data["ivr_prompts"] == [{"name": "welcome", "text": {"en": "Welcome to Acme."},
                                    "recording": {"es": "hello"}}]
    assert from_dict(data).ivr_prompts == (WELCOME,)
    store = ConfigStore(tmp_path / "c.db", boards=board_ports)
    store.save(config)
    assert store.load().ivr_prompts == (WELCOME,)
    store.close()


@pytest.mark.parametrize("entry,error", [
    ({"name": "../x", "text": {"en": "Hi"}}, r"ivr_prompts\[0\].name: .* is not a prompt name"),
    ({"name": "a/b", "text": {"en": "Hi"}}, r"ivr_prompts\[0\].name: .* is not a prompt name"),
    ({"name": "w", "text": {"EN!": "Hi"}}, r"ivr_prompts\[0\].text: key: .* language code"),
    ({"name": "w", "text": {"en": "x" * 1001}}, r"ivr_prompts\[0\].text.en: expected 1-1000"),
    ({"name": "w", "text": {"en": "a\x07b"}}, r"ivr_prompts\[0\].text.en: expected 1-1000 printable"),
    ({"name": "w", "recording": {"en": "../../etc/passwd"}}, r"ivr_prompts\[0\].recording.en: .* recorded word"),
    ({"name": "w", "text": {"en": "Hi"}, "recording": {"en": "hello"}}, r"ivr_prompts\[0\].text.en: en has a "
                                                                         "recording too"),
    ({"name": "w"}, r"ivr_prompts\[0\]: a prompt needs a text or a recording"),
    ({"name": "w", "text": {"en": "Hi"}, "voice": "x"}, r"ivr_prompts\[0\].voice: unknown key"),
])
def test_bad_entries_are_one_line_errors(entry, error):
    data = to_dict(demo_config())
    data["ivr_prompts"] = [entry]
    with pytest.raises(FirmwareError, match=error) as caught:
        from_dict(data)
    assert "\n" not in str(caught.value)


def test_cross_checks_twice_named_and_a_language_a_flow_needs():
    with pytest.raises(FirmwareError, match=r"ivr_prompts\[1\].name: prompt welcome is already defined"):
        validate(with_prompts(WELCOME, WELCOME), board_ports)
    english_only = NamedPrompt("welcome", text=(("en", "Welcome."),))
    with pytest.raises(FirmwareError, match=r"ivr_flows\[0\].nodes\[1\].prompt.es\[0\]: prompt welcome has no text "
                                            r"or recording in es \(it has en\)"):
        validate(with_prompts(english_only), board_ports)
    assert validate(with_prompts(WELCOME), board_ports).ivr_prompts == (WELCOME,)


class CountingVoice:
    def __init__(self, voice="fake"):
        self.voice = voice
        self.texts = []

    def synthesize(self, text):
        self.texts.append(text)
        t = np.arange(8000) / 8000
        return 2000 * np.sin(2 * np.pi * 300 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))


def prompts_for(tmp_path, voice):
    system = tmp_path / "system"
    (system / "digits").mkdir(parents=True, exist_ok=True)
    for word in ("hello", "vm-press", "digits/1", "digits/2", "digits/0", "invalid", "please-try-again"):
        (system / f"{word}.wav").write_bytes(encode_wav(np.full(800, 100, dtype=np.int16)))
    made = []

    def synthesizer_for(language):
        made.append(language)
        return voice

    prompts = IvrPrompts(lambda language: system, read_audio, custom=lambda language: prompt_folder(tmp_path, language),
                         synthesize=TextSpeech(tmp_path, synthesizer_for, lambda language: (voice.voice,)))
    return prompts, made


def test_the_ivr_speaks_a_named_prompts_text_synthesised_once_and_its_recording(tmp_path):
    voice = CountingVoice()
    prompts, made = prompts_for(tmp_path, voice)
    assert prompts.learn(with_prompts(WELCOME)) == []
    said, missing = prompts.sentence("en", ["welcome"])
    assert missing == [] and abs(active_level_dbm0(said) + 18.0) < 0.5  # synthesised, levelled
    spanish, _ = prompts.sentence("es", ["welcome"])
    assert np.max(spanish) == 100  # the recording it names (hello)
    prompts.learn(with_prompts(WELCOME))
    assert voice.texts == ["Welcome to Acme."] and made == ["en"]  # once, the voice made once
    # the words changed in one place: the next learn speaks the new text
    changed = NamedPrompt("welcome", text=(("en", "Welcome to Acme, now open on Sundays."),),
                          recording=(("es", "hello"),))
    assert prompts.learn(with_prompts(changed)) == []
    assert voice.texts[-1] == "Welcome to Acme, now open on Sundays."


def test_a_named_prompt_comes_before_an_upload_of_the_same_name_and_goes_when_removed(tmp_path):
    own = prompt_folder(tmp_path, "en")
    own.mkdir(parents=True)
    (own / "hello.wav").write_bytes(encode_wav(np.full(800, 3000, dtype=np.int16)))
    prompts, _ = prompts_for(tmp_path, CountingVoice())
    named = NamedPrompt("hello", text=(("en", "Hi there."),), recording=(("es", "vm-press"),))
    prompts.learn(with_prompts(named, word="hello"))
    assert np.min(prompts.sentence("en", ["hello"])[0]) < 0  # the synthesised text, not the (constant) upload
    prompts.learn(with_prompts(word="hello"))  # no longer named
    assert np.all(prompts.sentence("en", ["hello"])[0] == 3000)  # the upload again


def test_a_text_that_cannot_be_synthesised_is_a_problem_not_a_crash(tmp_path):
    class Broken:
        voice = "broken"

        def synthesize(self, text):
            from firmware.speech.api import SpeechError
            raise SpeechError("tts: espeak-ng failed")

    prompts, _ = prompts_for(tmp_path, Broken())
    problems = prompts.learn(with_prompts(WELCOME))
    assert problems == ["en/welcome: tts: espeak-ng failed"]
    assert prompts.sentence("en", ["welcome"])[1] == ["welcome"]  # left out when played (ivr_prompt_missing)


def test_the_start_up_reads_text_from_the_cache_only_and_a_restart_makes_no_voice(tmp_path):
    """First start: the text is not synthesised on the start-up path (left for the worker, not a
    problem); the worker's learn synthesises it into <data>/speech/tts. A restart (a new
    IvrPrompts and TextSpeech on the same folder) reads it from the cache without making a voice."""
    voice = CountingVoice()
    prompts, made = prompts_for(tmp_path, voice)
    config = with_prompts(WELCOME)
    assert prompts.learn(config, synthesize=False) == []
    assert prompts.unsynthesised() == 1 and made == [] and voice.texts == []
    assert prompts.sentence("en", ["welcome"])[1] == ["welcome"]  # not yet: left out, the call goes on
    assert prompts.sentence("es", ["welcome"])[1] == []  # the recording is read at once
    assert prompts.learn(config) == []  # the worker's learn
    assert prompts.unsynthesised() == 0 and made == ["en"] and voice.texts == ["Welcome to Acme."]
    said = prompts.sentence("en", ["welcome"])[0]
    restarted, made_again = prompts_for(tmp_path, voice)
    assert restarted.learn(config, synthesize=False) == []
    assert restarted.unsynthesised() == 0 and made_again == []  # no voice made: the cache held it
    assert np.array_equal(restarted.sentence("en", ["welcome"])[0], said)
    assert voice.texts == ["Welcome to Acme."]


def test_text_speech_finds_a_cached_prompt_under_any_of_its_voices_without_making_one(tmp_path):
    preferred, fallback = CountingVoice("piper:x"), CountingVoice("espeak-ng:en-us")
    made = []
    first = TextSpeech(tmp_path, lambda language: made.append(language) or fallback,
                       lambda language: ("piper:x", "espeak-ng:en-us"))
    assert first.cached("Hello.", "en") is None and made == []
    spoken = first("Hello.", "en")  # the preferred voice did not load here: the fallback said it
    again = TextSpeech(tmp_path, lambda language: made.append(language) or preferred,
                       lambda language: ("piper:x", "espeak-ng:en-us"))
    assert np.array_equal(again("Hello.", "en"), spoken) and made == ["en"] and preferred.texts == []
