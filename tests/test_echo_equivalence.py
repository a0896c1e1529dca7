"""The echo canceller's per-block control was moved into compiled kernels (dsp/echo_kernels.py:
block powers, talk detector, two-path control; issue 17): it must give what the numpy control
gave (tests/echo_reference.py, a frozen copy) on a seeded signal that takes every path of the
control: convergence, foreground copies, background resets and re-opened steps, an echo path
change that zeroes the foreground, double talk, a far end silent at first, a dead channel;
with and without NLP and comfort noise, in engine ticks and in odd-sized pieces, and with
other tails and blocks. The kernels sum in another order than numpy's pairwise sums and
BLAS dot products: equal to 1e-9, not bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import tests.echo_reference as reference
from dsp import SAMPLE_RATE
from dsp.echo import EchoCanceller
from dsp.levels import dbm0_to_rms
from linebox.bench.echo import make_audio
from tests.echo_helpers import Hybrid

SECONDS = 4.0


def _signals() -> tuple[np.ndarray, np.ndarray]:
    far, _ = make_audio(6, SECONDS, 11)  # speech-like bursts, int16
    far = far.astype(np.float64)
    n = far.shape[1]
    far[4, : int(1.5 * SAMPLE_RATE)] = 0.0  # the far end silent at first
    far[5] = 0.0
    paths = [Hybrid(6.0, 4.0 * k, 6.0 + k, k).response() for k in range(6)]
    near = np.array([np.convolve(far[k], paths[k])[:n] for k in range(6)])
    cut = 2 * SAMPLE_RATE
    near[1, cut:] = np.convolve(far[1], paths[4])[cut:n]  # the echo path changes
    span = slice(int(2.5 * SAMPLE_RATE), int(3.5 * SAMPLE_RATE))
    near[2, span] += 0.3 * far[3, span]  # near-end talkers over the far end (the background
    near[3, span] += 1.5 * far[0, span]  # follows one of them and is reset)
    near += np.random.default_rng(11).normal(0.0, dbm0_to_rms(-65.0), near.shape)
    near[5] = 0.0  # a dead line
    return far.astype(np.int16), np.clip(np.round(near), -32768, 32767).astype(np.int16)


def _run(canceller, far: np.ndarray, near: np.ndarray, pieces: list[int]) -> tuple[np.ndarray, np.ndarray]:
    outputs, states, at = [], [], 0
    for size in pieces:
        outputs.append(canceller.process(far[:, at : at + size], near[:, at : at + size]))
        at += size
        with np.errstate(divide="ignore"):
            states.append(np.concatenate([canceller.erle_db, canceller.talk, canceller.nlp_active,
                                          canceller.noise_dbm0]))
    return np.concatenate(outputs, axis=1), np.array(states)


def _pieces(n: int, odd: bool) -> list[int]:
    if not odd:
        return [160] * (n // 160)
    rng, pieces = np.random.default_rng(3), []
    while sum(pieces) < n:
        pieces.append(int(min(rng.integers(1, 500), n - sum(pieces))))
    return pieces


@pytest.mark.parametrize(
    ("options", "odd"),
    [({}, False), ({"nlp": False}, False), ({"comfort_noise": False}, False), ({}, True),
     ({"tail_ms": 128.0, "block_ms": 5.0}, False), ({"tail_ms": 32.0, "block_ms": 10.0}, True)],
)
def test_the_canceller_gives_what_it_gave_before_its_control_was_compiled(options, odd):
    far, near = _signals()
    pieces = _pieces(far.shape[1], odd)
    new = EchoCanceller(6, **options)
    old = reference.EchoCanceller(6, **options)
    out, states = _run(new, far, near, pieces)
    expected, expected_states = _run(old, far, near, pieces)
    # The same operations per element; sums in another order (see the module docstring).
    np.testing.assert_allclose(out, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(states, expected_states, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(new.echo_path(), old.echo_path(), rtol=1e-9, atol=1e-12)


def test_the_signal_takes_every_path_of_the_control(monkeypatch):
    # Without this the test above could pass on a signal where a branch never runs.
    far, near = _signals()
    calls: dict[str, int] = {}
    filter_class = reference.KalmanEchoFilter
    for name in ("copy_to_foreground", "copy_to_background", "reopen", "restart"):
        method = getattr(filter_class, name)

        def counted(self, channels, _method=method, _name=name):
            calls[_name] = calls.get(_name, 0) + int(np.count_nonzero(channels))
            return _method(self, channels)

        monkeypatch.setattr(filter_class, name, counted)
    canceller = reference.EchoCanceller(6)
    talk = suppressing = 0
    for at in range(0, far.shape[1], 160):
        canceller.process(far[:, at : at + 160], near[:, at : at + 160])
        talk += int(canceller.talk.sum())
        suppressing += int(canceller.nlp_active.sum())
    assert all(calls.get(name, 0) > 0 for name in ("copy_to_foreground", "copy_to_background", "reopen",
                                                     "restart")), calls
    assert talk > 0 and suppressing > 0
