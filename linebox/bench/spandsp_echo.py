"""spandsp's line echo canceller (Debian's libspandsp2) through ctypes: the open-source
reference that ``linebox bench echo --reference spandsp`` and tests/test_echo_spandsp.py run
beside the box's canceller (dsp/echo.py) on the same signals.

spandsp's API is one call per sample: ``echo_can_update(state, tx, rx)`` takes what was sent
to the line (tx, G.168's Rin) and what came back (rx, Sin) and returns the cleaned rx (Sout),
int16 in and out, no latency. ``echo_can_init(taps, mode)`` takes the tail in samples (512 for
64 ms, 1024 for 128 ms) and the adaption mode bits of spandsp 0.0.6's ``spandsp/echo.h``.

**What Debian's build is** (libspandsp2 0.0.6+dfsg, checked on the binary, see docs/dsp.md):
Steve Underwood's single-filter NLMS canceller (three rotating tap sets restored on a
Geigel-style double-talk onset, a narrowband detector), not OSLEC's two-path code, and it
still has debugging ``printf`` calls: two lines on stdout *per sample*. :class:`SpandspEcho`
therefore sends file descriptor 1 to /dev/null while it runs (C stdio flushed before it is
given back), so the output of the caller is not flooded; the cost of the prints stays in the
library's CPU time, as it would in any program using this build.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntFlag

import numpy as np

from linebox import LineboxError
from linebox.bench.spandsp_ref import SpandspMissing
from linebox.bench.spandsp_ref import load as load_library

SAMPLE_RATE = 8000
TAPS_PER_MS = SAMPLE_RATE // 1000
TAIL_MS_CHOICES = (64.0, 128.0)


class Mode(IntFlag):
    """Adaption mode bits of spandsp 0.0.6 (``spandsp/echo.h``)."""

    ADAPTION = 0x01
    NLP = 0x02
    CNG = 0x04
    CLIP = 0x08
    SUPPRESSOR = 0x10
    TX_HPF = 0x20
    RX_HPF = 0x40
    DISABLE = 0x80


LINEAR = Mode.ADAPTION  # what the linear figures use: adaption on, NLP off, no HPF
WITH_NLP = Mode.ADAPTION | Mode.NLP | Mode.CNG  # NLP with comfort noise

_UPDATE = ctypes.CFUNCTYPE(ctypes.c_int16, ctypes.c_void_p, ctypes.c_int16, ctypes.c_int16)


def load() -> ctypes.CDLL:
    """libspandsp with the echo canceller's prototypes set; SpandspMissing if it is absent."""
    lib = load_library()
    try:
        init = lib.echo_can_init
    except AttributeError as exc:
        raise SpandspMissing("libspandsp has no echo_can_init: not spandsp 0.0.6 (Debian's libspandsp2)") from exc
    # echo_can_state_t *echo_can_init(int len, int adaption_mode)
    init.restype = ctypes.c_void_p
    init.argtypes = [ctypes.c_int, ctypes.c_int]
    # int16_t echo_can_update(echo_can_state_t *ec, int16_t tx, int16_t rx)
    lib.echo_can_update.restype = ctypes.c_int16
    lib.echo_can_update.argtypes = [ctypes.c_void_p, ctypes.c_int16, ctypes.c_int16]
    # int16_t echo_can_hpf_tx(echo_can_state_t *ec, int16_t tx)
    lib.echo_can_hpf_tx.restype = ctypes.c_int16
    lib.echo_can_hpf_tx.argtypes = [ctypes.c_void_p, ctypes.c_int16]
    # void echo_can_adaption_mode(echo_can_state_t *ec, int adaption_mode); void echo_can_flush(...)
    lib.echo_can_adaption_mode.restype = None
    lib.echo_can_adaption_mode.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.echo_can_flush.restype = None
    lib.echo_can_flush.argtypes = [ctypes.c_void_p]
    lib.echo_can_free.restype = ctypes.c_int
    lib.echo_can_free.argtypes = [ctypes.c_void_p]
    return lib


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
    if tail_ms not in TAIL_MS_CHOICES:
        raise LineboxError(f"spandsp echo: tail_ms must be one of {TAIL_MS_CHOICES}, not {tail_ms!r}")
    return int(tail_ms) * TAPS_PER_MS


class SpandspEcho:
    """One spandsp echo canceller per channel (``taps`` long, adaption ``mode``)."""

    def __init__(self, lib: ctypes.CDLL, channels: int, tail_ms: float = 64.0, mode: Mode = LINEAR) -> None:
        self._lib = lib
        self.taps = tail_taps(tail_ms)
        self._states = [lib.echo_can_init(self.taps, int(mode)) for _ in range(channels)]
        if not all(self._states):
            self.close()
            raise SpandspMissing("echo_can_init returned NULL")
        self._update = _UPDATE(("echo_can_update", lib))

    def process(self, far: np.ndarray, near: np.ndarray) -> np.ndarray:
        """(channels, n) sent and received, 16-bit scale: the cleaned received, int16."""
        tx = np.clip(np.rint(far), -32768, 32767).astype(np.int16)
        rx = np.clip(np.rint(near), -32768, 32767).astype(np.int16)
        out = np.empty(tx.shape, dtype=np.int16)
        update = self._update
        with quiet_stdout():
            for ch, state in enumerate(self._states):
                out[ch] = [update(state, t, r) for t, r in zip(tx[ch].tolist(), rx[ch].tolist(), strict=True)]
        return out

    def close(self) -> None:
        for state in self._states:
            if state:
                self._lib.echo_can_free(state)
        self._states = []


def throughput(lib: ctypes.CDLL, samples: int = 80_000, tail_ms: float = 64.0, seed: int = 1) -> dict:
    """spandsp's cost per sample, fairly: the CPU of ``samples`` calls of echo_can_update on
    speech-like noise and its echo, minus that of as many calls, with the same ctypes prototype
    and arguments, of ``echo_can_hpf_tx`` (which returns its input when the TX HPF is off: the
    Python loop and the ctypes call, no work). The two loops alternate three times; the medians
    are taken. The difference is the C function's own time, printf to /dev/null included."""
    rng = np.random.default_rng(seed)
    far = np.convolve(rng.standard_normal(samples) * 2000.0, [1.0, 0.5, 0.2])[:samples]
    near = np.r_[np.zeros(40), 0.4 * far[:-40]] + rng.normal(0.0, 5.0, samples)
    tx = np.clip(np.rint(far), -32768, 32767).astype(np.int16).tolist()
    rx = np.clip(np.rint(near), -32768, 32767).astype(np.int16).tolist()
    state = lib.echo_can_init(tail_taps(tail_ms), int(LINEAR))
    update = _UPDATE(("echo_can_update", lib))
    noop = _UPDATE(("echo_can_hpf_tx", lib))  # SysV x86-64/ARM64: the third argument is ignored
    totals: dict[str, list[float]] = {"update": [], "noop": []}
    try:
        with quiet_stdout():
            for _ in range(3):
                for name, function in (("update", update), ("noop", noop)):
                    start = time.process_time()
                    for t, r in zip(tx, rx, strict=True):
                        function(state, t, r)
                    totals[name].append(time.process_time() - start)
    finally:
        lib.echo_can_free(state)
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
