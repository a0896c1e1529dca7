"""The analog interface between the line-card emulator and the simulated telephone world.

One 20 ms tick (160 samples at 8 kHz) at a time, the card's SLICs and DAAs drive the
analog side (:class:`FxsDrive` per FXS port, :class:`FxoDrive` per FXO port) and the world
answers with what the phones and exchange lines present (:class:`WorldTick`). Hook and
ring states are sampled once per millisecond (20 values per tick), fine enough for hook
flashes, pulse dialling (10 pps: 60/40 ms break/make) and ring cadences; polarity, line
voltage and loop current are sampled at the end of the tick.

Ports are numbered 0..N-1 across the board, each ``fxs`` or ``fxo`` per the board
definition; FXS arrays are indexed by the FXS ports in board order, FXO arrays by the FXO
ports in board order, audio arrays by the board port number.

This module is the contract between the card emulator (``board/virtual/card.py``) and the
telephone world (``board/virtual/world.py``): data only, no behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

MS_PER_TICK = 20
SAMPLES_PER_TICK = 160

LINE_VOLTS_IDLE = 48.0  # on-hook battery of an idle exchange line (typ. -48 V)
LINE_VOLTS_ABSENT_MAX = 3.0  # below this the line is absent (cut, not connected)
LINE_VOLTS_IN_USE_MAX = 15.0  # 6-10 V typical when a parallel phone holds the line off-hook


@dataclass
class FxsDrive:
    """What the card's SLIC drives towards one phone this tick."""

    ringing_ms: np.ndarray  # bool (20,), ring voltage present in each ms of the tick (the card plays the commanded cadence)
    polarity: int  # +1 normal, -1 reversed
    loop_open: bool  # open-loop disconnect signal (battery removed)


@dataclass
class FxoDrive:
    """What the card's DAA does towards one exchange line this tick."""

    offhook_ms: np.ndarray  # bool (20,), hook switch state per ms (seize, release, flash, pulse dialling all show here)


@dataclass
class WorldTick:
    """What the analog world presents to the card for one 20 ms tick."""

    fxs_offhook_ms: np.ndarray  # bool (n_fxs, 20): each phone's hook state per ms (flash and pulse dialling show here)
    fxo_ring_ms: np.ndarray  # bool (n_fxo, 20): ring voltage present on each line per ms
    fxo_polarity: np.ndarray  # int8 (n_fxo,): +1/-1 tip/ring polarity at the end of the tick
    fxo_line_volts: np.ndarray  # float (n_fxo,): line voltage (≈48 idle, ≈0 absent, ≈6-10 when off-hook/in use by a parallel phone)
    fxo_loop_ma: np.ndarray  # float (n_fxo,): loop current when seized (0 after a loop-current drop / far end gone)
    audio_from_lines: np.ndarray  # int16 (n_ports, 160): what each port hears from its phone or exchange line this tick


class TelephoneWorld(Protocol):
    """The simulated phones and exchange lines behind the card's ports."""

    def advance(
        self, tick: int, fxs: Sequence[FxsDrive], fxo: Sequence[FxoDrive], audio_to_lines: np.ndarray
    ) -> WorldTick:
        """One tick: ``audio_to_lines`` int16 (n_ports, 160) is what the host sent to each port."""
        ...


def idle_world_tick(n_fxs: int, n_fxo: int, n_ports: int) -> WorldTick:
    """A quiet world: phones on hook, lines idle at normal polarity, silence."""
    return WorldTick(
        fxs_offhook_ms=np.zeros((n_fxs, MS_PER_TICK), dtype=bool),
        fxo_ring_ms=np.zeros((n_fxo, MS_PER_TICK), dtype=bool),
        fxo_polarity=np.ones(n_fxo, dtype=np.int8),
        fxo_line_volts=np.full(n_fxo, LINE_VOLTS_IDLE),
        fxo_loop_ma=np.zeros(n_fxo),
        audio_from_lines=np.zeros((n_ports, SAMPLES_PER_TICK), dtype=np.int16),
    )
