"""spandsp's DTMF receiver (Debian's libspandsp2) through ctypes: the reference that
``linebox bench dtmf`` measures the box's receiver against, in the same process and run.

Only what the benchmark needs: a receiver state per channel, fed each channel's whole
signal in one call (spandsp's best case: no per-call overhead counted against it), and the
digits it heard. The library is optional: without it the benchmark says so and carries on.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

LIBRARY_NAMES = ("libspandsp.so.2", "spandsp")  # Debian 12: libspandsp2 0.0.6
MAX_DIGITS = 128  # spandsp's receiver buffers at most this many digits between reads


class SpandspMissing(Exception):
    """libspandsp could not be loaded."""


def load() -> ctypes.CDLL:
    for name in LIBRARY_NAMES:
        path = ctypes.util.find_library(name) if "." not in name else name
        if not path:
            continue
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        # dtmf_rx_state_t *dtmf_rx_init(dtmf_rx_state_t *s, digits_rx_callback_t cb, void *user)
        lib.dtmf_rx_init.restype = ctypes.c_void_p
        lib.dtmf_rx_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        # int dtmf_rx(dtmf_rx_state_t *s, const int16_t amp[], int samples)
        lib.dtmf_rx.restype = ctypes.c_int
        lib.dtmf_rx.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        # size_t dtmf_rx_get(dtmf_rx_state_t *s, char *digits, int max)
        lib.dtmf_rx_get.restype = ctypes.c_size_t
        lib.dtmf_rx_get.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.dtmf_rx_free.restype = ctypes.c_int
        lib.dtmf_rx_free.argtypes = [ctypes.c_void_p]
        return lib
    raise SpandspMissing("libspandsp (Debian package libspandsp2) is not installed")


class SpandspDtmf:
    """One spandsp DTMF receiver per channel."""

    def __init__(self, lib: ctypes.CDLL, channels: int) -> None:
        self._lib = lib
        self._states = [lib.dtmf_rx_init(None, None, None) for _ in range(channels)]
        if not all(self._states):
            raise SpandspMissing("dtmf_rx_init returned NULL")
        self._buffer = ctypes.create_string_buffer(MAX_DIGITS + 1)

    def feed(self, channel: int, samples: np.ndarray) -> None:
        """Feeds one channel's int16 samples (contiguous) in one call."""
        row = np.ascontiguousarray(samples, dtype=np.int16)
        self._lib.dtmf_rx(self._states[channel], row.ctypes.data, row.size)

    def digits(self, channel: int) -> str:
        got = self._lib.dtmf_rx_get(self._states[channel], self._buffer, MAX_DIGITS)
        return self._buffer.raw[:got].decode("ascii")

    def close(self) -> None:
        for state in self._states:
            self._lib.dtmf_rx_free(state)
        self._states = []
