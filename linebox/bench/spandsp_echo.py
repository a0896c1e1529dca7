"""spandsp's line echo canceller (Debian's libspandsp2) through ctypes: one of the open-source
references that ``linebox bench echo --reference`` and tests/test_echo_spandsp.py run beside
the box's canceller (dsp/echo.py) on the same signals.

spandsp 0.0.6's API (``spandsp/echo.h``): ``echo_can_init(taps, mode)``,
``echo_can_update(state, tx, rx)`` -> cleaned rx (int16, one call per sample, no latency),
``echo_can_hpf_tx``, ``echo_can_free``; the mode bits are :class:`Mode`.

**What Debian's build is** (libspandsp2 0.0.6+dfsg, checked on the binary, docs/dsp.md):
Steve Underwood's single-filter NLMS canceller (three rotating tap sets, restored on a
Geigel-style double-talk onset; a narrowband detector), *not* OSLEC's two-path code, and it
still has debugging ``printf`` calls: two lines on stdout per sample. Its calls are therefore
made with file descriptor 1 sent to /dev/null (linebox/bench/sample_canceller.py); the cost of
the prints stays in its CPU time, as in any program that uses this build.
"""

from __future__ import annotations

import ctypes
from enum import IntFlag

from linebox.bench.sample_canceller import UPDATE, SampleApi, SampleCanceller
from linebox.bench.spandsp_ref import SpandspMissing
from linebox.bench.spandsp_ref import load as load_library


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


LINEAR = Mode.ADAPTION  # the linear figures: adaption on, NLP off, no high-pass filters
WITH_NLP = Mode.ADAPTION | Mode.NLP | Mode.CNG  # NLP with comfort noise


def load() -> SampleApi:
    """spandsp's echo canceller functions; SpandspMissing if libspandsp2 is absent."""
    lib = load_library()
    if not hasattr(lib, "echo_can_init"):
        raise SpandspMissing("libspandsp has no echo_can_init: not spandsp 0.0.6 (Debian's libspandsp2)")
    # echo_can_state_t *echo_can_init(int len, int adaption_mode)
    lib.echo_can_init.restype = ctypes.c_void_p
    lib.echo_can_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.echo_can_free.restype = ctypes.c_int
    lib.echo_can_free.argtypes = [ctypes.c_void_p]
    return SampleApi(
        create=lib.echo_can_init,
        # int16_t echo_can_update(echo_can_state_t *ec, int16_t tx, int16_t rx)
        update=UPDATE(("echo_can_update", lib)),
        # int16_t echo_can_hpf_tx(echo_can_state_t *ec, int16_t tx): tx when TX_HPF is off;
        # called with the update's prototype (the third argument is ignored: SysV x86-64/AArch64)
        noop=UPDATE(("echo_can_hpf_tx", lib)),
        free=lib.echo_can_free,
        noisy=True,
    )


class SpandspEcho(SampleCanceller):
    """One spandsp echo canceller per channel (64 or 128 ms tail, adaption ``mode``)."""

    def __init__(self, api: SampleApi, channels: int, tail_ms: float = 64.0, mode: Mode = LINEAR) -> None:
        super().__init__(api, channels, tail_ms, int(mode))
