"""Simulated FXO hybrids and echo measurements for the echo canceller's tests.

An echo path is built like the hybrid models of ITU-T G.168 (Annex D): a bulk delay (the
line and the codec path, 0-50 ms here, inside the canceller's 64 ms tail) followed by a
dispersive response of a few ms. The response here is a direct tap plus two weaker damped
resonances (random frequencies in 300-3200 Hz, seeded), band-limited to the
telephone band (2nd-order high-pass at 200 Hz: a transformer passes no DC; low-pass at
3.4 kHz) and scaled so that band-limited (300-3400 Hz) noise loses exactly ``erl_db``
(the echo return loss).

``erle_db`` measures the echo return loss enhancement the way the tests state it: total
echo power over total residual power, summed over the 20 ms frames in which the echo is
above ``ECHO_ACTIVE_DBM0`` (speech-active frames of the far end, after the echo path).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsp import SAMPLE_RATE, g711
from dsp.levels import dbm0_to_rms, signal_dbm0

FRAME = 160  # 20 ms measurement frames
ECHO_ACTIVE_DBM0 = -50.0  # frames whose echo is louder than this count in ERLE
FAR_ACTIVE_DBM0 = -40.0  # far-end frames louder than this count as far-end speech


@dataclass(frozen=True)
class Hybrid:
    dispersion_ms: float
    delay_ms: float
    erl_db: float
    seed: int

    def response(self) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        length = round(self.dispersion_ms * SAMPLE_RATE / 1000.0)
        n = np.arange(length)
        decay = length / 4.0
        h = np.zeros(length)
        for _ in range(2):
            freq, phase, gain = (
                rng.uniform(300.0, 3200.0),
                rng.uniform(0.0, 2 * np.pi),
                rng.uniform(0.05, 0.2),
            )
            h += gain * np.exp(-n / decay) * np.cos(2 * np.pi * freq * n / SAMPLE_RATE + phase)
        h[0] += rng.choice([-1.0, 1.0])
        size = 1024
        f = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE)
        shaped = (
            np.fft.rfft(h, size) * (f / 200.0) ** 2 / (1 + (f / 200.0) ** 2) / np.sqrt(1 + (f / 3400.0) ** 8)
        )
        h = np.fft.irfft(shaped, size)[: length + 16] * np.r_[np.ones(length), np.hanning(32)[16:]]
        h = np.r_[np.zeros(round(self.delay_ms * SAMPLE_RATE / 1000.0)), h]
        probe = band_limited_noise(40_000, np.random.default_rng(0))
        gain = np.sqrt(np.mean(np.convolve(probe, h)[: len(probe)] ** 2) / np.mean(probe**2))
        return h / gain * 10.0 ** (-self.erl_db / 20.0)


HYBRIDS = (
    Hybrid(2.0, 0.0, 6.0, 0),
    Hybrid(4.0, 10.0, 6.0, 1),
    Hybrid(8.0, 30.0, 12.0, 2),
    Hybrid(4.0, 40.0, 9.0, 3),
    Hybrid(2.0, 5.0, 12.0, 4),
    Hybrid(8.0, 20.0, 8.0, 5),
    Hybrid(4.0, 50.0, 10.0, 6),
    Hybrid(2.0, 25.0, 6.0, 7),
)


def band_limited_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spectrum[(f < 300.0) | (f > 3400.0)] = 0.0
    return np.fft.irfft(spectrum, n)


def echo_of(far: np.ndarray, hybrid: Hybrid) -> np.ndarray:
    return np.convolve(far, hybrid.response())[: len(far)]


def line_input(
    echo: np.ndarray, near: np.ndarray, noise_dbm0: float, seed: int, ulaw: bool = True
) -> np.ndarray:
    """What the FXO port hears: echo + near-end signal + background noise, through the
    codec (G.711 µ-law, as on the line card) or at least rounded to 16 bits."""
    noise = np.random.default_rng(seed).normal(0.0, dbm0_to_rms(noise_dbm0), len(echo))
    pcm = np.clip(np.round(echo + near + noise), -32768, 32767).astype(np.int16)
    return (g711.ulaw_roundtrip(pcm) if ulaw else pcm).astype(np.float64)


def run_aligned(canceller, far: np.ndarray, near: np.ndarray, chunk: int = 160) -> np.ndarray:
    """Feed (channels, n) in ``chunk``-sample pieces; the output shifted back by the
    canceller's latency (the last ``latency_samples`` are zeros)."""
    pieces = [
        canceller.process(far[:, i : i + chunk], near[:, i : i + chunk])
        for i in range(0, far.shape[1], chunk)
    ]
    out = np.concatenate(pieces, axis=1)
    lag = canceller.latency_samples
    return np.concatenate([out[:, lag:], np.zeros((out.shape[0], lag))], axis=1)


def frame_levels(x: np.ndarray) -> np.ndarray:
    count = len(x) // FRAME
    return np.maximum(signal_dbm0(x[: count * FRAME].reshape(count, FRAME), axis=1), -200.0)


def convergence_start(far: np.ndarray, active_seconds: float = 1.0) -> float:
    """Time (s) at which the far end has talked for ``active_seconds`` (frames above FAR_ACTIVE_DBM0)."""
    active = np.cumsum(frame_levels(far) > FAR_ACTIVE_DBM0) * FRAME / SAMPLE_RATE
    return float((np.searchsorted(active, active_seconds) + 1) * FRAME / SAMPLE_RATE)


def erle_db(
    echo: np.ndarray, residual: np.ndarray, start_s: float = 0.0, end_s: float | None = None
) -> float:
    """Echo power over residual power on the echo-active frames within [start_s, end_s)."""
    first = int(start_s * SAMPLE_RATE) // FRAME
    last = len(echo) // FRAME if end_s is None else int(end_s * SAMPLE_RATE) // FRAME
    count = len(echo) // FRAME
    e = echo[: count * FRAME].reshape(count, FRAME)[first:last]
    r = residual[: count * FRAME].reshape(count, FRAME)[first:last]
    active = frame_levels(echo)[first:last] > ECHO_ACTIVE_DBM0
    if not active.any():
        raise ValueError("no echo-active frame in the window")
    return float(10.0 * np.log10(np.sum(e[active] ** 2) / max(np.sum(r[active] ** 2), 1e-12)))
