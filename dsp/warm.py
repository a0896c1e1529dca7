"""Every DSP part with compiled kernels (numba), built once through its public API so that
numba compiles them, or loads them from its cache, for the argument types each kernel
declares (dsp/jit.py: building a part makes its kernels ready).

``linebox dsp warm`` runs :func:`warm` at install and before an upgrade switches releases, as
the engine's user with the units' ``NUMBA_CACHE_DIR``: the engine's first start then loads the
machine code instead of compiling it (seconds on a Pi). A new kernel module must be reached
from a part listed here: tests/test_dsp_warm.py fails for a dsp module that imports numba and
has a kernel that :func:`warm` leaves uncompiled.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dsp import SAMPLE_RATE, DspError

TICK_SAMPLES = SAMPLE_RATE // 50  # one engine tick: 20 ms


def _dtmf() -> None:
    from dsp.dtmf import warm_up

    warm_up()  # its declared block types: int16 (the engine's) and float64 (the tools')


def _echo() -> None:
    from dsp.echo import EchoCanceller

    # Building it compiles or loads its kernels' declared signatures (dsp.jit.ready); one
    # engine tick through it as the engine passes it (int16 rows) proves they take it.
    canceller = EchoCanceller(2)
    tick = np.zeros((2, TICK_SAMPLES), np.int16)
    canceller.process(tick, tick)


PARTS: tuple[tuple[str, Callable[[], None]], ...] = (
    ("dtmf", _dtmf),  # dsp/dtmf_kernel.py
    ("echo", _echo),  # dsp/echo_kernels.py (the canceller, its filter and its talk detector)
)
"""The parts, by name, and how each is built: imported only when warmed (importing a kernel
module is what may warn that no cache can be written)."""


def warm() -> tuple[str, ...]:
    """Builds every part of :data:`PARTS`; their names. DspError naming the part whose kernels
    do not build (its cause: numba's full message), for instance a typing error in a kernel."""
    for name, build in PARTS:
        try:
            build()
        except Exception as exc:  # whatever numba raises (typing, lowering, no cache locator...)
            lines = str(exc).strip().splitlines()
            raise DspError(f"{name}: its kernels do not build: {type(exc).__name__}: {lines[0] if lines else ''}") from exc
    return tuple(name for name, _ in PARTS)
