"""The box's audio interface: one 20 ms frame of every port at a time.

The line cards' codecs give one audio channel per port (8 kHz, 16-bit linear). The engine
reads a frame, int16 shaped ``(ports, 160)``, once per 20 ms tick and writes one back; the
capture side is the engine's clock. Two implementations share this protocol: the ALSA
driver for the real board (``drivers/alsa_audio.py``) and the virtual board
(``board/virtual/board.py``), so the engine cannot tell them apart.

An xrun (capture overrun or playback underrun: the engine was late and samples were lost
or a gap was played) is counted, logged, recovered from, and never raised: the engine goes
on with the next frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from drivers import DriverError
from dsp import SAMPLE_RATE

TICK_MS = 20
TICK_SAMPLES = SAMPLE_RATE * TICK_MS // 1000  # 160 samples per 20 ms tick at 8 kHz


@dataclass
class XrunCounters:
    """What went wrong on the audio path since the device was opened."""

    xruns_capture: int = 0  # overruns and short reads: captured samples lost
    xruns_playback: int = 0  # underruns and short writes: a gap was played
    recoveries: int = 0  # successful re-prepares or re-opens of the device


@runtime_checkable
class AudioDevice(Protocol):
    """Multichannel audio of the board's ports, one 20 ms frame per call."""

    ports: int
    counters: XrunCounters

    def read_frame(self) -> np.ndarray:
        """The next captured frame, int16 ``(ports, 160)``; blocks until it is there."""
        ...

    def write_frame(self, frame: np.ndarray) -> None:
        """Plays one frame, int16 ``(ports, 160)``."""
        ...

    def close(self) -> None:
        """Releases the device; safe to call twice."""
        ...


def check_frame(frame: np.ndarray, ports: int) -> np.ndarray:
    """``frame`` as a C-contiguous int16 ``(ports, 160)`` array, or one ``DriverError``."""
    if not isinstance(frame, np.ndarray):
        raise DriverError(f"audio frame must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.int16:
        raise DriverError(f"audio frame must be int16, got {frame.dtype}")
    if frame.shape != (ports, TICK_SAMPLES):
        raise DriverError(f"audio frame must be shaped ({ports}, {TICK_SAMPLES}), got {frame.shape}")
    return np.ascontiguousarray(frame)
