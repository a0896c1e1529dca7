"""The echo canceller against ITU-T G.168 on the eight echo paths of its Annex D (clauses
D.2-D.9) at ERL 6 and 10 dB, with real far-end speech through G.711 and line noise at -65 dBm0
(linebox/bench/echo_g168.py builds the signals and measures; here are the limits).

Limits (issue 17, from G.168's tests): convergence (test 2B style, NLP off) ERLE >= 20 dB
within 1 s and >= 30 dB within 5 s of far-end speech; re-convergence to 20 dB within 1 s after
the echo path changes (eight talkers); double talk (test 3 style): linear ERLE after a near-end burst at most
3 dB below before it; with the NLP, residual echo below -60 dBm0 in steady state and the NLP
open within 20 ms of near-end speech onset.
"""

from __future__ import annotations

import numpy as np
import pytest

from dsp import SAMPLE_RATE
from dsp.echo import EchoCanceller
from dsp.levels import signal_dbm0
from linebox.bench import echo_g168 as g168

CONVERGED_1S_DB = 20.0  # G.168 test 2B: 20 dB within 1 s of far-end signal (issue 17: as ERLE)
CONVERGED_5S_DB = 30.0  # issue 17: 30 dB within 5 s
RECONVERGED_1S_DB = 20.0  # G.168 test 2 after an echo path change (issue 17: within 1 s)
DOUBLE_TALK_LOSS_DB = 3.0  # G.168 test 3 style: no divergence, at most 3 dB of ERLE lost
RESIDUAL_WITH_NLP_DBM0 = -60.0  # issue 17: residual echo with NLP in steady state
COMFORT_NOISE_MATCH_DB = 1.0  # output in single talk with NLP vs the line's own noise
NLP_OPEN_MS = 20.0  # issue 17: the near end passes within 20 ms of its onset
NO_ECHO_LEVEL_DB = 2.0  # issue 17: with no echo, the output within this of the line's noise
NO_ECHO_TALKER_LOSS_DB = 0.1  # ... and the NLP takes no measurable part of a near-end talker
CASES = [f"model{m}_erl{erl:g}" for m, erl in g168.cases()]


SEEDS = (1, 2, 3)  # three far-end talkers (different prompts)


@pytest.fixture(scope="module")
def convergence():
    return {seed: g168.convergence(seed=seed) for seed in SEEDS}


@pytest.mark.slow  # 16 channels x 10 s of speech per seed: a few seconds of CPU each
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", CASES)
def test_linear_erle_within_1_s_and_5_s_of_far_speech(convergence, case, seed):
    figures = convergence[seed][case]
    assert figures["erle_1s_db"] >= CONVERGED_1S_DB, figures
    assert figures["erle_5s_db"] >= CONVERGED_5S_DB, figures
    assert figures["erle_steady_min_db"] >= CONVERGED_5S_DB, figures  # and stays there


RECONVERGENCE_SEEDS = (1, 2, 3, 4, 5, 6, 7, 8)  # eight talkers: one run is 16 channels x 9 s


@pytest.fixture(scope="module")
def reconvergence():
    return {seed: g168.reconvergence(seed=seed) for seed in RECONVERGENCE_SEEDS}


@pytest.mark.slow
def test_reconverges_to_20_db_within_1_s_after_a_path_switch(reconvergence):
    # Every switch m -> m+1 (8 -> 1) at both ERLs, for eight talkers (docs/dsp.md: worst 20.9 dB).
    worst = min(min(figures.values()) for figures in reconvergence.values())
    assert worst >= RECONVERGED_1S_DB, reconvergence


@pytest.mark.slow
def test_128_ms_tail_cancels_an_echo_behind_100_ms_of_bulk_delay():
    figures = g168.long_tail()
    assert min(figures["erle_5s_db"]) >= CONVERGED_5S_DB, figures
    # At 1 s the 128 ms tail now reaches the 64 ms tail's 20 dB too (docs/dsp.md: 17.4-29.4 dB
    # before the data reuse, when this limit was 17 dB).
    assert min(figures["erle_1s_db"]) >= CONVERGED_1S_DB, figures


DT_SEEDS = (1, 2, 3, 4, 5)


@pytest.mark.slow  # 16 channels x 7 s per seed and level
@pytest.mark.parametrize("talker_dbm0", [-30.0, -20.0, -10.0])
@pytest.mark.parametrize("seed", DT_SEEDS)
def test_double_talk_does_not_make_the_filter_diverge(seed, talker_dbm0):
    result = g168.double_talk(seed, talker_dbm0=talker_dbm0)
    assert result["worst_loss_db"] <= DOUBLE_TALK_LOSS_DB, result
    assert result["erle_after_min_db"] >= CONVERGED_5S_DB - DOUBLE_TALK_LOSS_DB, result


def test_the_double_talk_measure_sees_a_damaged_filter():
    # The loss above compares two echo path estimates on the same speech: it must see a bad one.
    far = g168.continuous_speech(3.0, 1)
    path = g168.g168_echo_path(3, 6.0, g168.BULK_DELAY_MS)
    good = g168.filter_erle_db(far, path, path * 0.999, 1.0, 2.0)
    damaged = g168.filter_erle_db(far, path, path * 0.9, 1.0, 2.0)
    assert good > 50.0 and abs(damaged - 20.0) < 0.5, (good, damaged)


@pytest.fixture(scope="module")
def single_talk_with_nlp():
    """Per case: the output level with NLP from 5 s of far speech on (dBm0), and the level of
    the same channel's line noise alone, through the codec (what the line gives in silence)."""
    far = g168.continuous_speech(8.0, 2)
    all_cases = g168.cases()
    echoes = [g168.echo_of(far, m, erl) for m, erl in all_cases]
    near = np.array([g168.line_input(e, 0.0, i) for i, e in enumerate(echoes)])
    out = g168.run(EchoCanceller(len(all_cases)), np.tile(far, (len(all_cases), 1)), near)
    start = int(g168.talked(far, 5.0) * SAMPLE_RATE)
    return [
        (signal_dbm0(out[k, start : len(far) - 160]), g168.line_alone_dbm0(len(far), k))
        for k in range(len(all_cases))
    ]


@pytest.mark.slow
def test_residual_echo_with_nlp_is_below_minus_60_dbm0_in_steady_state(single_talk_with_nlp):
    for case, (level, _) in zip(CASES, single_talk_with_nlp, strict=True):
        assert level <= RESIDUAL_WITH_NLP_DBM0, f"{case}: {level:.1f} dBm0 with NLP"
        # ... and it is comfort noise at the line's level, not silence (G.168 clause 3.13)
        assert level >= g168.LINE_NOISE_DBM0 - 3.0, f"{case}: {level:.1f} dBm0: the line noise was muted"


@pytest.mark.slow
def test_with_nlp_single_talk_sounds_like_the_line_alone(single_talk_with_nlp):
    # Issue 17: comfort noise matched to the line's noise level. The far end never pauses
    # here, so the whole window is comfort noise: within COMFORT_NOISE_MATCH_DB of the line's
    # own noise (through the codec: -64.7 dBm0 for its -65), neither residual echo learnt into
    # it (it was 1.0-2.6 dB above) nor a muted line.
    for case, (level, line) in zip(CASES, single_talk_with_nlp, strict=True):
        assert abs(level - line) <= COMFORT_NOISE_MATCH_DB, f"{case}: {level:.1f} dBm0 on a {line:.1f} dBm0 line"


@pytest.mark.parametrize("model", [1, 4, 7])
def test_nlp_opens_within_20_ms_of_near_end_onset(model):
    far = g168.continuous_speech(6.0, 3)
    onset = 200 * 160  # 4.0 s, on a tick boundary, while the far end talks
    talker = np.zeros_like(far)
    talker[onset:] = g168.continuous_speech(2.0, 7)[: len(far) - onset]
    # Onset: the first tick in which the talker is within 10 dB of its active level (-20 dBm0).
    first = onset + int(np.argmax(g168.frame_levels(talker[onset:]) > g168.SPEECH_DBM0 - 10.0)) * 160
    near = g168.line_input(g168.echo_of(far, model, 6.0), talker, 1)[None]
    canceller = EchoCanceller(1)
    suppressing = []
    for i in range(0, far.size, 160):
        canceller.process(far[None, i : i + 160], near[:, i : i + 160])
        suppressing.append(bool(canceller.nlp_active[0]))
    ticks = round(NLP_OPEN_MS * SAMPLE_RATE / 1000.0) // 160  # 20 ms: the onset's own tick
    assert any(suppressing[100:first // 160]), "the NLP never suppressed the echo before the talker"
    assert not suppressing[first // 160 + ticks - 1], f"NLP still closed {NLP_OPEN_MS} ms after the onset"


def test_with_nlp_a_line_without_echo_passes_its_noise_and_its_talker():
    # Issue 17: an NLP suppresses echo, not what is not echo. A far end that never pauses on a
    # line with no echo at all (the NLP fed silence there, ~75 % of the blocks suppressed: the
    # filter never trusted, the background never learnt): the output is the line's own noise
    # (through the codec), within NO_ECHO_LEVEL_DB, from 1 s on (the canceller decides there is
    # no echo after 0.5 s of far speech), and a near-end talker (-20 dBm0, the far end's level,
    # and -30, under it, where the talk detector's Geigel-style permission does not open) loses
    # nothing to the NLP. Channels: noise alone, talker -20, talker -30.
    far = g168.continuous_speech(8.0, 2)
    onset = 4 * SAMPLE_RATE
    talkers = [np.zeros_like(far) for _ in range(3)]
    for talker, level in zip(talkers[1:], (g168.SPEECH_DBM0, g168.SPEECH_DBM0 - 10.0), strict=True):
        talker[onset:] = g168.continuous_speech(4.0, 7, level)[: len(far) - onset]
    near = np.array([g168.line_input(np.zeros_like(far), talker, k) for k, talker in enumerate(talkers)])
    fars = np.tile(far, (3, 1))
    out = g168.run(EchoCanceller(3), fars, near)
    linear = g168.run(EchoCanceller(3, nlp=False), fars, near)
    for k in range(3):
        line = g168.line_alone_dbm0(len(far), k)
        level = signal_dbm0(out[k, SAMPLE_RATE:onset])
        assert abs(level - line) <= NO_ECHO_LEVEL_DB, f"channel {k}: {level:.1f} dBm0 on a {line:.1f} dBm0 line"
    for k in (1, 2):
        active = g168.frame_levels(talkers[k]) > -40.0  # the talker's frames
        frames = len(active) * 160
        taken, kept = (float(np.sum(x[k, :frames].reshape(-1, 160)[active] ** 2)) for x in (linear, out))
        loss = 10.0 * np.log10(taken / kept)
        assert loss <= NO_ECHO_TALKER_LOSS_DB, f"talker {k}: {loss:.2f} dB taken by the NLP"
