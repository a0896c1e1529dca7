"""Talk-off (speech or music imitating a digit): linebox requires not one false digit on
real speech and music.

Corpus: every prompt of asterisk-core-sounds-en-wav (sub-folders included, about 25 min of
one female voice) and every track of asterisk-moh-opsound-wav (about 18 min of music),
each as recorded, 6 dB hotter (clipped at 16 bits), and through G.711 A-law and µ-law.
The recordings run end to end as the channels of one detector, in 1 s blocks.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from dtmf_helpers import MUSIC_DIR, SPEECH_DIR, companded, corpus, run, stack_channels

CHANNELS = 96
VARIANTS = {
    "as recorded": lambda x: companded(x, "linear"),
    "6 dB hotter": lambda x: companded(x * 2.0, "linear"),
    "A-law": lambda x: companded(x, "alaw"),
    "6 dB hotter, A-law": lambda x: companded(x * 2.0, "alaw"),
    "µ-law": lambda x: companded(x, "ulaw"),
}


@cache
def _corpus(name: str) -> np.ndarray:
    if name == "speech":
        return stack_channels(corpus(SPEECH_DIR, recursive=True), CHANNELS)
    return stack_channels(corpus(MUSIC_DIR), CHANNELS)


def test_the_corpus_is_all_there():
    """The talk-off test means something only if the corpus is complete."""
    assert _corpus("speech").size / 8000 / 60 > 24.0
    assert _corpus("music").size / 8000 / 60 > 17.0


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("name", ["speech", "music"])
def test_no_false_digit_on_speech_or_music(name, variant):
    x = VARIANTS[variant](_corpus(name))
    digits, starts = run(x, block=8000)
    false = [d for channel in digits for d in channel]
    assert false == [] and starts == [], false[:10]


def test_digits_between_speech_are_still_found():
    """The same detector is not simply deaf: one digit per second (60 ms at -20 dBm0 per
    tone) keyed into running speech, replacing it while it lasts, all come through."""
    from dsp.dtmfgen import DIGITS, generate_dtmf

    speech = _corpus("speech")[:8, : 8000 * 20].copy()
    seconds = speech.shape[1] // 8000 - 1
    expected = []
    for ch in range(speech.shape[0]):
        keyed = ""
        for k in range(seconds):
            digit = DIGITS[(ch + 5 * k) % len(DIGITS)]
            tone = generate_dtmf(digit, -20.0, 60, 0)
            start = k * 8000 + 4000 + 97 * ch
            speech[ch, start : start + tone.size] = tone
            keyed += digit
        expected.append(keyed)
    digits, _ = run(companded(speech, "linear"), block=160)
    assert ["".join(d.digit for d in channel) for channel in digits] == expected
