"""Audio plumbing of the simulated telephone world: what a party says, and what it heard.

An :class:`AudioQueue` holds what a phone's microphone or a far-end caller will send next,
consumed 160 samples (one 20 ms tick) at a time and padded with silence when it runs out.
An :class:`AudioLog` keeps what a party heard, tick by tick, for the last ``max_seconds``
(bounded, so hours of unpaced simulation do not fill the memory), readable as one array.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from board import BoardError
from board.virtual.analog import MS_PER_TICK, SAMPLES_PER_TICK

SAMPLES_PER_MS = SAMPLES_PER_TICK // MS_PER_TICK


def to_int16(samples: np.ndarray) -> np.ndarray:
    """16-bit scale samples (float or int) rounded and clipped to int16."""
    samples = np.asarray(samples)
    if samples.dtype == np.int16:
        return samples
    return np.clip(np.rint(samples.astype(np.float64)), -32768, 32767).astype(np.int16)


class AudioQueue:
    """Samples waiting to be sent, one tick at a time."""

    def __init__(self) -> None:
        self._chunks: deque[np.ndarray] = deque()
        self._offset = 0  # samples of the first chunk already sent
        self._looping: np.ndarray | None = None

    def push(self, samples: np.ndarray) -> None:
        samples = to_int16(samples).ravel()
        if samples.size:
            self._chunks.append(samples)

    def loop(self, samples: np.ndarray) -> None:
        """Plays ``samples`` over and over once the queue is empty (until :meth:`clear`)."""
        samples = to_int16(samples).ravel()
        if not samples.size:
            raise BoardError("cannot loop an empty sound")
        self._looping = samples

    def clear(self) -> None:
        self._chunks.clear()
        self._offset = 0
        self._looping = None

    @property
    def pending_samples(self) -> int:
        return sum(chunk.size for chunk in self._chunks) - self._offset

    @property
    def busy(self) -> bool:
        return bool(self._chunks) or self._looping is not None

    def pop_tick(self) -> np.ndarray:
        return self.pop(SAMPLES_PER_TICK)

    def pop(self, n_samples: int) -> np.ndarray:
        """The next ``n_samples`` (int16), silence where the queue runs dry."""
        out = np.zeros(n_samples, dtype=np.int16)
        filled = 0
        while filled < n_samples:
            if not self._chunks:
                if self._looping is None:
                    break
                self._chunks.append(self._looping)
            chunk = self._chunks[0]
            n = min(n_samples - filled, chunk.size - self._offset)
            out[filled : filled + n] = chunk[self._offset : self._offset + n]
            filled += n
            self._offset += n
            if self._offset == chunk.size:
                self._chunks.popleft()
                self._offset = 0
        return out


class AudioLog:
    """The last ``max_seconds`` of one party's audio, tick by tick."""

    def __init__(self, max_seconds: float = 60.0) -> None:
        if max_seconds <= 0:
            raise BoardError(f"max_seconds must be > 0, got {max_seconds}")
        self._ticks: deque[tuple[int, np.ndarray]] = deque(maxlen=max(1, int(max_seconds * 1000 / MS_PER_TICK)))

    def append(self, tick: int, samples: np.ndarray) -> None:
        self._ticks.append((tick, samples))

    def clear(self) -> None:
        self._ticks.clear()

    @property
    def first_tick(self) -> int | None:
        return self._ticks[0][0] if self._ticks else None

    def samples(self, since_tick: int | None = None, last_ms: int | None = None) -> np.ndarray:
        """int16 1-D: the audio from ``since_tick`` on (or the last ``last_ms``), oldest first."""
        chosen = list(self._ticks)
        if since_tick is not None:
            chosen = [(t, s) for t, s in chosen if t >= since_tick]
        if last_ms is not None:
            keep = -(-last_ms // MS_PER_TICK)  # whole ticks covering last_ms
            chosen = chosen[-keep:] if keep else []
        if not chosen:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate([s for _, s in chosen])
