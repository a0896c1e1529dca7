"""The echo canceller's parts (dsp/echo_filter.py, dsp/nlp.py): the shortcuts taken for speed
give what the plain computation gives."""

from __future__ import annotations

import numpy as np

from dsp.echo_filter import KalmanEchoFilter
from dsp.nlp import BackgroundNoise


def test_deferred_coefficient_transform_gives_what_an_immediate_one_gives():
    # The background's new spectrum waits for the next block's transform; anyone touching the
    # coefficients in between (here reopen on no channel, which only flushes) gets it at once.
    rng = np.random.default_rng(3)
    path = rng.normal(0.0, 0.1, 40)
    deferred, immediate = (KalmanEchoFilter(2, 512, 160, 0.7) for _ in range(2))
    far = rng.normal(0.0, 3000.0, (2, 160 * 30))
    near = np.array([np.convolve(row, path)[: row.size] for row in far])
    for i in range(0, far.shape[1], 160):
        block = far[:, i : i + 160]
        first, second = deferred.estimate(block), immediate.estimate(block)
        np.testing.assert_allclose(first, second, rtol=0.0, atol=1e-9)
        np.testing.assert_allclose(deferred.misalignment, immediate.misalignment, rtol=1e-12)
        deferred.adapt(near[:, i : i + 160])
        immediate.adapt(near[:, i : i + 160])
        immediate.reopen(np.zeros(2, dtype=bool))
    assert np.abs(immediate.weights[:, 1]).max() > 0.0  # it did learn


def test_background_noise_shortcut_gives_what_the_masked_update_gives():
    # All channels learning (the shortcut) or one of them held (the masked path): the learning
    # channel's spectrum is the same.
    rng = np.random.default_rng(5)
    both, one = BackgroundNoise(2, 160), BackgroundNoise(2, 160)
    for step in range(40):
        residual = rng.normal(0.0, 30.0 + step, (2, 160))
        both.update(residual, np.array([False, False]))
        one.update(residual, np.array([False, step > 0]))
    np.testing.assert_allclose(both.spectrum[0], one.spectrum[0], rtol=1e-12)
    assert both.power[0] == one.power[0] and both.power[1] != one.power[1]
