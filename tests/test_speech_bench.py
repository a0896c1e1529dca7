"""``linebox bench speech``: the line path it simulates, and the whole bench (slow)."""

import json

import numpy as np
import pytest

from dsp import g711
from dsp.levels import signal_dbm0
from linebox.bench.speech import (
    DEV_ESPEAK,
    DEV_ESPEAK_RATE,
    DEV_FLITE,
    DEV_PIPER,
    DIGITS,
    ESPEAK_VOICES,
    FLITE_VOICES,
    HELDOUT_ESPEAK,
    HELDOUT_FLITE,
    KEYWORDS,
    LEAD_S,
    LEVELS_DBM0,
    NOISE_DBM0,
    OUT_OF_GRAMMAR,
    cough,
    line_path,
)
from linebox.cli import main


def test_line_path_levels_noise_and_companding():
    rng = np.random.default_rng(1)
    speech = np.round(3000 * np.sin(np.arange(8000) * 0.3)).astype(np.int16)
    for law, roundtrip in (("ulaw", g711.ulaw_roundtrip), ("alaw", g711.alaw_roundtrip)):
        out = line_path(speech, law, rng)
        lead = out[: int(LEAD_S * 8000)]
        assert abs(signal_dbm0(lead) - NOISE_DBM0) < 2.0  # the line noise, through G.711
        body = out[int(LEAD_S * 8000): int(LEAD_S * 8000) + 8000]
        assert LEVELS_DBM0[0] - 0.5 <= signal_dbm0(body) <= LEVELS_DBM0[1] + 0.5
        assert np.array_equal(roundtrip(out), out)  # already companded: a fixed point


def test_out_of_grammar_set_shares_no_word_with_either_grammar():
    words = {w for phrase in OUT_OF_GRAMMAR for w in phrase.split()}
    assert not words & (set(DIGITS) | set(KEYWORDS))


def test_cough_burst_is_seeded_low_heavy_and_decays():
    a, b = cough(np.random.default_rng(3), 0.4), cough(np.random.default_rng(3), 0.4)
    assert np.array_equal(a, b) and a.size == 3200 and np.max(np.abs(a)) == 8000
    spectrum = np.abs(np.fft.rfft(a.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(a.size, 1 / 8000)
    assert spectrum[freqs < 1000].sum() > 10 * spectrum[freqs > 2000].sum()  # tilted to the low band
    quarter = a.size // 4
    assert np.abs(a[:quarter]).mean() > 4 * np.abs(a[-quarter:]).mean()  # dies away


def test_development_voices_are_neither_bench_nor_held_out():
    """Settings are tuned on --dev only: none of its voices (at its rate) is in the other sets."""
    flite_elsewhere = {(v, 1.0) for v in FLITE_VOICES} | set(HELDOUT_FLITE)
    assert not set(DEV_FLITE) & flite_elsewhere
    assert not set(DEV_ESPEAK) & (set(ESPEAK_VOICES) | set(HELDOUT_ESPEAK))
    assert all(rate != 175 for _, rate in DEV_ESPEAK_RATE)  # espeak-ng's default rate: the other sets'
    assert DEV_PIPER  # Piper's joe is in neither of the other sets


@pytest.mark.slow  # about a minute: 200 recognitions plus flite/espeak-ng synthesis
def test_bench_speech_json(capsys, tmp_path):
    assert main(["bench", "speech", "--json", "--data", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["engine"] == "pocketsphinx"
    assert result["digits_utterances"] == 100 and result["keywords_utterances"] == 100
    # Issue 12's goal: 0.95 on both, rtf <= 0.1. Measured 0.95 / 0.99 / 0.048 (seed 1; seeds 2
    # and 3: 0.95 / 0.99, 0.95 / 0.98; docs/ivr.md).
    assert result["digits_accuracy"] >= 0.95
    assert result["keywords_accuracy"] >= 0.98
    assert result["rtf"] <= 0.1
    # Issue 12, out of grammar: words and phrases of neither grammar and two noise bursts, put to
    # both grammars: the share the IVR would act on was 0.69 without the phone loop, measured
    # 0.58 with it (seed 1; seeds 2 and 3: 0.59, 0.58; docs/ivr.md). A ceiling between the two.
    assert result["oog_utterances"] == 248
    assert result["oog_false_accept"] <= 0.63
    assert result["oog_answered"] <= 0.85  # measured 0.78; 0.98 before: nearly everything got an answer


@pytest.mark.slow  # about a minute: 280 recognitions plus synthesis
def test_bench_speech_heldout_voices(capsys, tmp_path):
    """The voices never used to choose the engine's settings: measured 0.90 digits, 0.99
    keywords (0.85 / 0.96 before the tilt-weighted fill and topn 16, 0.81 / 0.96 before bestpath
    went off; docs/ivr.md). Floors against a regression."""
    assert main(["bench", "speech", "--json", "--heldout", "--data", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["digits_utterances"] == 140 and result["keywords_utterances"] == 140
    assert result["digits_accuracy"] >= 0.89
    assert result["keywords_accuracy"] >= 0.98
    assert result["rtf"] <= 0.1
    # the confidence separates: right answers' median above the IVR's 0.5, wrong ones' below 1
    assert result["confidence_right_median"] >= 0.9 > result["confidence_wrong_median"]
