"""Recorded words (firmware/media/words.py): numbers are spoken as Asterisk speaks them in
English, and a recording's leading and trailing silence is trimmed with a margin."""

from __future__ import annotations

import numpy as np
import pytest

from firmware import FirmwareError
from firmware.media.words import TRIM_MARGIN_MS, number_words, trim_silence


@pytest.mark.parametrize(("value", "words"), [
    (0, ["digits/0"]), (7, ["digits/7"]), (13, ["digits/13"]), (20, ["digits/20"]),
    (21, ["digits/20", "digits/1"]), (40, ["digits/40"]), (99, ["digits/90", "digits/9"]),
    (100, ["digits/1", "digits/0", "digits/0"]), (205, ["digits/2", "digits/0", "digits/5"]),
])
def test_numbers_as_words(value, words):
    assert number_words(value) == words


def test_a_negative_number_cannot_be_spoken():
    with pytest.raises(FirmwareError):
        number_words(-1)


def test_silence_is_trimmed_with_the_margin_kept():
    loud = 8000.0 * np.sin(np.arange(800) * 2 * np.pi * 400 / 8000)
    samples = np.concatenate([np.zeros(4000), loud, np.zeros(4000)])
    trimmed = trim_silence(samples)
    margin = TRIM_MARGIN_MS * 8
    first_loud = int(np.flatnonzero(np.abs(loud) > 100)[0])
    assert trimmed.size == pytest.approx(loud.size + 2 * margin - first_loud, abs=8)
    assert np.abs(trimmed[:margin - 8]).max() < 1.0  # the kept margin before the sound is quiet
    assert trim_silence(np.zeros(100)).size == 100  # all silent: left as it is
