"""``linebox run``: start the appliance.

The call engine and the web admin are not built yet (issues 5 and later), so this runs
what exists: a self-check of the DSP layer on the audio clock, and says what is missing.
"""

from __future__ import annotations

import argparse

import numpy as np

from dsp import g711
from dsp.levels import dbm0_to_peak, signal_dbm0

TICK_SAMPLES = 160  # one 20 ms audio period at 8 kHz


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="start the appliance")
    parser.add_argument("--board", default="virtual", help="board definition name (default: virtual)")
    parser.set_defaults(handler=run)


def _self_check() -> float:
    """A 1 kHz 0 dBm0 tone through µ-law: the digital milliwatt must read 0 dBm0."""
    t = np.arange(8 * TICK_SAMPLES) / 8000.0
    tone = dbm0_to_peak(0.0) * np.sin(2 * np.pi * 1000.0 * t)
    return float(signal_dbm0(g711.ulaw_roundtrip(tone)))


def run(args: argparse.Namespace) -> int:
    level = _self_check()
    print(f"linebox: board={args.board} dsp_self_check=ok digital_milliwatt_dbm0={level:.2f}")
    print("linebox: the call engine and web admin are not built yet; nothing else to start")
    return 0
