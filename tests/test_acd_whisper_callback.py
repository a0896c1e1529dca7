"""The ACD's whisper says the queue's name when a recording of it exists (else its number),
and a queue with callback enabled tells its callers which key asks for one."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from drivers.logs import EventLogger
from firmware.acdengine.announcements import KEY_WORDS, WORDS, Prompts
from firmware.acdengine.callbacks import CALLBACK_KEY
from firmware.media.words import GAP_MS, NUMBER_WORDS, PROMPT_DIR


def word(value: int, samples: int = 400) -> np.ndarray:
    return np.full(samples, float(value))


@pytest.fixture
def prompts():
    names = (*WORDS, *NUMBER_WORDS)
    return Prompts({name: word(1000 + index) for index, name in enumerate(names)})


def levels(samples: np.ndarray) -> list[int]:
    """The words of a sentence by their constant level (gaps dropped)."""
    out: list[int] = []
    for value in samples.astype(int):
        if value and (not out or out[-1] != value):
            out.append(value)
    return out


def level_of(prompts: Prompts, name: str) -> int:
    return int(prompts.words[name][0])


def test_whisper_says_the_queue_number_without_a_name_recording(prompts):
    heard = levels(prompts.whisper("700", "support"))
    assert heard == [level_of(prompts, n) for n in ("beep", "digits/7", "digits/0")]  # 0 0 joined: one level


def test_whisper_says_the_queue_name_when_its_recording_was_learnt(prompts, tmp_path, caplog):
    (tmp_path / "support.wav").write_bytes(b"x")
    prompts.learn([tmp_path], [], lambda path: word(77, 800), EventLogger("acd-test"), optional={"support", "sales"})
    assert prompts.recording("support") and not prompts.recording("sales")
    whisper = prompts.whisper("700", "support")
    assert levels(whisper) == [level_of(prompts, "beep"), 77]
    assert whisper.size == 400 + GAP_MS * 8 + 800
    assert "recording_missing" not in caplog.text  # an optional name is not worth a warning


def test_a_missing_greeting_is_still_a_warning(prompts, tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        prompts.learn([tmp_path], ["welcome"], lambda path: word(1), EventLogger("acd-test"))
    assert "recording_missing" in caplog.text


@pytest.mark.parametrize("key,last", [("*", "digits/star"), ("#", "digits/pound"), ("5", "digits/5")])
def test_callback_words_name_the_key(prompts, key, last):
    assert Prompts.callback_words(key) == ["vm-tocallback", "vm-press", last]
    assert KEY_WORDS[key] == last


def test_the_announcement_ends_with_the_callback_key_when_asked(prompts):
    plain = prompts.announcement(1, None, False)
    with_callback = prompts.announcement(1, None, False, after=Prompts.callback_words(CALLBACK_KEY))
    assert levels(with_callback) == levels(plain) + [level_of(prompts, n) for n in
                                                     ("vm-tocallback", "vm-press", "digits/star")]


@pytest.mark.skipif(not PROMPT_DIR.exists(), reason="asterisk-core-sounds-en-wav not installed")
def test_every_new_word_is_a_debian_recording():
    for name in ("vm-tocallback", "vm-press", "digits/star", "digits/pound"):
        assert (PROMPT_DIR / f"{name}.wav").is_file(), name
