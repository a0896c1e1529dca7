"""The dual-tone alert of caller ID: 2130 Hz + 2750 Hz, generated and detected.

The same tone pair has three names and durations:

- CAS, CPE alerting signal, before off-hook data (Telcordia GR-30-CORE type II, call
  waiting): 80 ms (75-85 ms), answered by the CPE with DTMF ``D`` (``A`` for ADSI sets)
  before the data is sent;
- DT-AS, dual-tone alerting signal, before on-hook data (ETSI EN 300 659-1): 100 ms
  (90-110 ms) after a line reversal, FSK 45-500 ms later;
- the idle-state tone alert of BT SIN 227: 88-110 ms, tones ±1.1 %, after a line reversal;
  the terminal should see 20 ms of both tones (SIN 242).

``alert_tone`` generates it (float64 on the 16-bit scale, each tone at ``level_dbm0``).

``AlertToneDetector(channels)`` is a state object fed ``(channels, samples)`` blocks of any
length. Per sample and all channels at once it correlates the signal with both tones over a
sliding ``WINDOW_MS`` window and compares each tone's power with the window's total power: a
sample is "on" when both tones are above ``min_level_dbm0``, within ``max_twist_db`` of each
other, and together carry at least ``MIN_TONE_FRACTION`` of the power (speech, music, FSK
and single tones fail that). Runs of "on" samples are tracked across blocks; a tone that
lasted ``min_on_ms`` to ``max_on_ms`` (the run less the window's overhang) is reported as one ``AlertTone`` (at its
end, which is when a CPE must answer a CAS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.dtmfgen import ms_to_samples, tone_pair
from dsp.fsk import run_lengths
from dsp.levels import db_to_power_ratio, dbm0_to_rms

ALERT_LOW_HZ = 2130.0  # GR-30-CORE CAS, EN 300 659-1 DT-AS, SIN 227 tone alert
ALERT_HIGH_HZ = 2750.0
CAS_MS = 80.0  # GR-30-CORE type II CAS
DT_AS_MS = 100.0  # EN 300 659-1 DT-AS
SIN227_ALERT_MS = 100.0  # BT SIN 227: 88-110 ms
DEFAULT_ALERT_DBM0 = -16.0  # per tone


def alert_tone(
    duration_ms: float = DT_AS_MS,
    level_dbm0: float = DEFAULT_ALERT_DBM0,
    frequency_error: float = 0.0,
    twist_db: float = 0.0,
) -> np.ndarray:
    """2130 + 2750 Hz for ``duration_ms``; ``twist_db`` = high tone level minus low tone level."""
    if not math.isfinite(frequency_error) or abs(frequency_error) > 0.1:
        raise DspError(f"frequency_error must be a small relative error, got {frequency_error!r}")
    return tone_pair(
        ALERT_LOW_HZ * (1.0 + frequency_error),
        ALERT_HIGH_HZ * (1.0 + frequency_error),
        level_dbm0,
        level_dbm0 + twist_db,
        ms_to_samples(duration_ms),
    )


@dataclass(frozen=True)
class AlertTone:
    channel: int
    start_sample: int
    end_sample: int  # one past the last sample

    @property
    def duration_ms(self) -> float:
        return (self.end_sample - self.start_sample) * 1000.0 / SAMPLE_RATE


class AlertToneDetector:
    """Detects the 2130 + 2750 Hz alert on each channel; ``process`` returns ended tones."""

    WINDOW_MS = 8.0  # 64 samples: ±1.1 % (±30 Hz) costs < 1 dB, FSK at 2100 Hz stays out of 2750
    MIN_TONE_FRACTION = 0.6

    def __init__(
        self,
        channels: int,
        min_on_ms: float = 40.0,
        max_on_ms: float = 150.0,
        min_level_dbm0: float = -40.0,
        max_twist_db: float = 6.0,
    ) -> None:
        if not isinstance(channels, (int, np.integer)) or channels < 1:
            raise DspError(f"channels must be an integer >= 1, got {channels!r}")
        if not 0 < min_on_ms <= max_on_ms:
            raise DspError(f"need 0 < min_on_ms <= max_on_ms, got {min_on_ms!r}, {max_on_ms!r}")
        for name, value in (("min_level_dbm0", min_level_dbm0), ("max_twist_db", max_twist_db)):
            if not math.isfinite(value):
                raise DspError(f"{name} must be finite, got {value!r}")
        self.channels = int(channels)
        self._window = ms_to_samples(self.WINDOW_MS)
        self._lead = int(round(self.MIN_TONE_FRACTION * self._window))
        self._min_run = ms_to_samples(min_on_ms)
        self._max_run = ms_to_samples(max_on_ms)
        self._min_power = dbm0_to_rms(min_level_dbm0) ** 2
        self._max_twist = db_to_power_ratio(max_twist_db)
        self._w = 2.0 * np.pi * np.array([ALERT_LOW_HZ, ALERT_HIGH_HZ]) / SAMPLE_RATE
        self.reset()

    def reset(self) -> None:
        c = self.channels
        self._n = 0
        self._phase = np.zeros(2)
        self._history = np.zeros((c, self._window - 1, 3), dtype=np.complex128)
        self._run = np.zeros(c, dtype=np.int64)

    def _as_block(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block)
        if block.ndim == 1 and self.channels == 1:
            block = block[None, :]
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise DspError(f"block must be shaped ({self.channels}, samples), got {block.shape}")
        if block.dtype.kind not in "iuf":
            raise DspError(f"block must hold numeric samples, got dtype {block.dtype}")
        return block.astype(np.float64, copy=False)

    def process(self, block: np.ndarray) -> list[AlertTone]:
        x = self._as_block(block)
        n = x.shape[1]
        if n == 0:
            return []
        t = np.arange(n)
        lo = np.exp(-1j * (self._phase[:, None] + self._w[:, None] * t[None, :]))  # (2, n)
        self._phase = (self._phase + self._w * n) % (2.0 * np.pi)
        new = np.stack([x * lo[0], x * lo[1], (x * x).astype(np.complex128)], axis=2)  # (c, n, 3)
        values = np.concatenate([self._history, new], axis=1)
        self._history = values[:, values.shape[1] - (self._window - 1) :]
        cumulative = np.concatenate(
            [np.zeros((self.channels, 1, 3), dtype=np.complex128), np.cumsum(values, axis=1)], axis=1
        )
        sums = cumulative[:, self._window :] - cumulative[:, : -self._window]  # (c, n, 3)
        w = self._window
        low = 2.0 * np.abs(sums[..., 0]) ** 2 / (w * w)  # tone power of each sine
        high = 2.0 * np.abs(sums[..., 1]) ** 2 / (w * w)
        total = sums[..., 2].real / w
        on = (
            (low >= self._min_power)
            & (high >= self._min_power)
            & (low <= self._max_twist * high)
            & (high <= self._max_twist * low)
            & (low + high >= self.MIN_TONE_FRACTION * total)
        )
        runs = run_lengths(on, self._run)
        previous = np.concatenate([self._run[:, None], runs[:, :-1]], axis=1)
        ended = (~on) & (previous > 0)
        tones = []
        for channel, index in zip(*np.nonzero(ended), strict=True):
            # A window is "on" once the tone fills MIN_TONE_FRACTION of it: undo that lag.
            first_on = self._n + int(index) - int(previous[channel, index])
            start = first_on - self._lead + 1
            end = self._n + int(index) - (w - self._lead)
            if self._min_run <= end - start <= self._max_run:
                tones.append(AlertTone(int(channel), start, end))
        self._run = runs[:, -1].copy()
        self._n += n
        return tones
