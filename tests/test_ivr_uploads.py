"""An installer's own prompts: typed text synthesised once (cached by text and voice) and stored
under a name; uploaded prompts read by the IVR before the system recordings, again when replaced."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest

from drivers.audiofile import encode_wav, read_audio
from firmware import FirmwareError
from firmware.config.demo import demo_config
from firmware.ivr import IvrPrompts
from firmware.ivr.uploads import prompt_folder, store_text_prompt, stored_prompts
from firmware.speech.prompt import active_level_dbm0


class CountingVoice:
    voice = "fake-voice"

    def __init__(self):
        self.texts = []

    def synthesize(self, text):
        self.texts.append(text)
        t = np.arange(8000) / 8000
        return 2000 * np.sin(2 * np.pi * 300 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))


def test_typed_text_is_synthesised_once_and_stored_as_a_named_prompt(tmp_path):
    voice = CountingVoice()
    path = store_text_prompt(tmp_path, "en", "welcome-acme", "Welcome to  Acme", lambda language: voice)
    assert path == prompt_folder(tmp_path, "en") / "welcome-acme.wav"
    assert abs(active_level_dbm0(read_audio(path)) - (-18.0)) < 0.5
    store_text_prompt(tmp_path, "en", "welcome-again", "Welcome to Acme", lambda language: voice)
    assert voice.texts == ["Welcome to Acme"]  # the second name came from the cache
    assert [(lang, name) for lang, name, _s in stored_prompts(tmp_path)] == [("en", "welcome-acme"),
                                                                            ("en", "welcome-again")]


@pytest.mark.parametrize("language,name,text,error", [
    ("en", "x", "", "the prompt text is empty"),
    ("en", "x", "a\x07b", "control characters"),
    ("en", "x", "x" * 1001, "longer than 1000"),
    ("en", "../x", "hello", "is not a prompt name"),
    ("EN", "x", "hello", "is not a language code"),
])
def test_refused_text_is_one_line_and_stores_nothing(tmp_path, language, name, text, error):
    with pytest.raises(FirmwareError, match=error) as caught:
        store_text_prompt(tmp_path, language, name, text, lambda language: CountingVoice())
    assert "\n" not in str(caught.value)
    assert stored_prompts(tmp_path) == []


def hello_menu():
    """The demo office with its menu naming the recorded word ``hello`` itself (the demo says it
    through its named prompt ``welcome``: tests/test_ivr_named_prompts.py)."""
    config = demo_config()
    flow = config.ivr_flows[0]
    nodes = tuple(dataclasses.replace(node, prompt=tuple(
        (language, tuple("hello" if word == "welcome" else word for word in words)) for language, words in node.prompt))
        for node in flow.nodes)
    return dataclasses.replace(config, ivr_prompts=(), ivr_flows=(dataclasses.replace(flow, nodes=nodes),))


def test_an_uploaded_prompt_is_read_before_the_system_recording_and_again_when_replaced(tmp_path):
    system = tmp_path / "system"
    system.mkdir()
    (system / "hello.wav").write_bytes(encode_wav(np.full(800, 100, dtype=np.int16)))
    own = prompt_folder(tmp_path, "en")
    own.mkdir(parents=True)
    (own / "hello.wav").write_bytes(encode_wav(np.full(800, 2000, dtype=np.int16)))
    prompts = IvrPrompts(lambda language: system, read_audio, custom=lambda language: own)
    config = hello_menu()
    prompts.learn(config)
    samples, missing = prompts.sentence("en", ["hello"])
    assert not missing and np.max(samples) == 2000  # the installer's, not the system's
    (own / "hello.wav").write_bytes(encode_wav(np.full(800, 3000, dtype=np.int16)))
    os.utime(own / "hello.wav", ns=(1, 10**18))  # a different modification time, whatever the clock
    prompts.learn(config)
    assert np.max(prompts.sentence("en", ["hello"])[0]) == 3000
