"""Shared helpers of the caller ID tests (test_fsk.py, test_callerid*.py): line impairments.

Everything is seeded: the same arguments give the same samples.
"""

from __future__ import annotations

import numpy as np

from dsp.g711 import alaw_roundtrip, ulaw_roundtrip
from dsp.levels import dbm0_to_rms, signal_dbm0


def white_noise(n: int, level_dbm0: float, seed: int) -> np.ndarray:
    """White Gaussian noise over 0-4 kHz whose power is ``level_dbm0``."""
    return np.random.default_rng(seed).normal(0.0, dbm0_to_rms(level_dbm0), n)


def on_line(
    signal: np.ndarray,
    seed: int,
    snr_db: float | None = None,
    lead: int = 0,
    tail: int = 800,
    codec: str | None = None,
) -> np.ndarray:
    """``signal`` after ``lead`` samples of quiet and before ``tail``, with white noise
    ``snr_db`` below the signal's own power (measured where it is not silent) and through a
    G.711 ``codec`` ("ulaw"/"alaw") if given."""
    x = np.concatenate([np.zeros(lead), np.asarray(signal, dtype=np.float64), np.zeros(tail)])
    if snr_db is not None:
        active = signal[np.abs(signal) > 0]
        x = x + white_noise(len(x), float(signal_dbm0(active)) - snr_db, seed)
    if codec == "ulaw":
        x = ulaw_roundtrip(x).astype(np.float64)
    elif codec == "alaw":
        x = alaw_roundtrip(x).astype(np.float64)
    elif codec is not None:
        raise ValueError(f"unknown codec {codec!r}")
    return x


def feed_in_blocks(process, samples: np.ndarray, sizes, flush=None) -> list:
    """Feeds ``samples`` (channels, n) through ``process`` in blocks of the given sizes,
    cycling through ``sizes``, then calls ``flush``; returns everything they returned."""
    out = []
    at = 0
    k = 0
    n = samples.shape[-1]
    while at < n:
        size = sizes[k % len(sizes)]
        out.extend(process(samples[..., at : at + size]))
        at += size
        k += 1
    if flush is not None:
        out.extend(flush())
    return out
