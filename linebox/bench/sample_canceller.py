"""A C line echo canceller with a one-call-per-sample API, driven through ctypes: what spandsp's
(linebox/bench/spandsp_echo.py) and OSLEC's (linebox/bench/oslec_echo.py) have in common.

Both are ``create(taps, mode) -> state``, ``update(state, tx, rx) -> clean rx`` (int16, no
latency), ``free(state)``, and a transmit high-pass ``hpf_tx(state, tx)`` that returns ``tx``
unchanged when its mode bit is off: the no-op that :func:`cost_per_sample` uses to measure the
Python loop and the ctypes call without the canceller's work.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import numpy as np

from linebox import LineboxError

SAMPLE_RATE = 8000
TAIL_MS_CHOICES = (64.0, 128.0)
UPDATE = ctypes.CFUNCTYPE(ctypes.c_int16, ctypes.c_void_p, ctypes.c_int16, ctypes.c_int16)


@dataclass(frozen=True)
class SampleApi:
    """The C functions of one canceller. ``noisy``: the library prints on stdout while it works."""

    create: Callable[[int, int], int | None]
    update: Callable[[int, int, int], int]
    noop: Callable[[int, int, int], int]  # same prototype as update, does nothing
    free: Callable[[int], object]
    noisy: bool = False


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """File descriptor 1 to /dev/null for the duration (C stdio flushed before it comes back)."""
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        libc.fflush(None)
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def tail_taps(tail_ms: float) -> int:
    """Taps of a tail: 512 for 64 ms, 1024 for 128 ms (8 kHz)."""
    if tail_ms not in TAIL_MS_CHOICES:
        raise LineboxError(f"reference echo canceller: tail_ms must be one of {TAIL_MS_CHOICES}, not {tail_ms!r}")
    return int(tail_ms) * SAMPLE_RATE // 1000


class SampleCanceller:
    """One C canceller per channel, ``tail_ms`` long, adaption ``mode`` (the library's bits)."""

    def __init__(self, api: SampleApi, channels: int, tail_ms: float, mode: int) -> None:
        self._api = api
        self.taps = tail_taps(tail_ms)
        self._states = [api.create(self.taps, int(mode)) for _ in range(channels)]
        if not all(self._states):
            self.close()
            raise LineboxError("reference echo canceller: its create function returned NULL")

    def process(self, far: np.ndarray, near: np.ndarray) -> np.ndarray:
        """(channels, n) sent and received, 16-bit scale: the cleaned received, int16."""
        tx = np.clip(np.rint(far), -32768, 32767).astype(np.int16)
        rx = np.clip(np.rint(near), -32768, 32767).astype(np.int16)
        out = np.empty(tx.shape, dtype=np.int16)
        update = self._api.update
        with quiet_stdout() if self._api.noisy else nullcontext():
            for ch, state in enumerate(self._states):
                out[ch] = [update(state, t, r) for t, r in zip(tx[ch].tolist(), rx[ch].tolist(), strict=True)]
        return out

    def close(self) -> None:
        for state in self._states:
            if state:
                self._api.free(state)
        self._states = []


def cost_per_sample(api: SampleApi, mode: int, tail_ms: float = 64.0, samples: int = 80_000, seed: int = 1) -> dict:
    """The canceller's own cost per sample: the CPU of ``samples`` calls of ``update`` on
    speech-band noise and its echo, minus that of as many calls of ``noop`` with the same ctypes
    prototype and arguments (the Python loop and the call, no work). The two loops alternate
    three times and the medians are taken."""
    rng = np.random.default_rng(seed)
    far = np.convolve(rng.standard_normal(samples) * 2000.0, [1.0, 0.5, 0.2])[:samples]
    near = np.r_[np.zeros(40), 0.4 * far[:-40]] + rng.normal(0.0, 5.0, samples)
    tx = np.clip(np.rint(far), -32768, 32767).astype(np.int16).tolist()
    rx = np.clip(np.rint(near), -32768, 32767).astype(np.int16).tolist()
    state = api.create(tail_taps(tail_ms), int(mode))
    if not state:
        raise LineboxError("reference echo canceller: its create function returned NULL")
    totals: dict[str, list[float]] = {"update": [], "noop": []}
    try:
        with quiet_stdout() if api.noisy else nullcontext():
            for _ in range(3):
                for name, function in (("update", api.update), ("noop", api.noop)):
                    start = time.process_time()
                    for t, r in zip(tx, rx, strict=True):
                        function(state, t, r)
                    totals[name].append(time.process_time() - start)
    finally:
        api.free(state)
    per_sample = {name: float(np.median(values)) / samples * 1e6 for name, values in totals.items()}
    own = max(per_sample["update"] - per_sample["noop"], 1e-9)
    return {
        "tail_ms": tail_ms,
        "samples": samples,
        "us_per_sample_through_ctypes": round(per_sample["update"], 3),
        "us_per_sample_ctypes_overhead": round(per_sample["noop"], 3),
        "us_per_sample_c": round(own, 3),
        "realtime_channels_per_core_c": round(1e6 / SAMPLE_RATE / own, 1),
        "realtime_channels_per_core_through_ctypes": round(1e6 / SAMPLE_RATE / per_sample["update"], 1),
    }
