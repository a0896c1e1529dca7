"""Rational-ratio resampling with a polyphase windowed-sinc low-pass filter.

Recordings that installers bring (44.1 kHz, 48 kHz, 16 kHz …) are converted to the box's
8 kHz. The ratio is reduced to L/M; each output sample is one dot product of a window of
input samples (``TAPS_PER_PHASE`` × max(L, M) / L of them: longer when decimating) with one
phase of a Kaiser-windowed sinc designed at L × the input rate, cut
off at the lower of the two Nyquist frequencies: flat over the telephone band (to 3.4 kHz),
nothing aliasing back into it.
"""

from __future__ import annotations

import math

import numpy as np

from dsp import DspError

# Filter length at the higher of the two rates, in taps per output phase. With the Kaiser
# window below, 48 gives a transition band narrow enough to stay flat to 3.4 kHz (the top
# of the telephone band) and reach about 90 dB of attenuation by 4.6 kHz, whose alias
# would land back on 3.4 kHz.
TAPS_PER_PHASE = 48
KAISER_BETA = 8.6  # about 90 dB stop-band attenuation
CUTOFF_FRACTION = 1.0  # cut-off at the lower Nyquist frequency (centre of the transition band)
_OUTPUT_CHUNK = 1 << 15


def _design(up: int, down: int) -> tuple[np.ndarray, int, int]:
    """The filter padded to a whole number of taps per phase, that number, and its delay."""
    per_phase = -(-TAPS_PER_PHASE * max(up, down) // up)  # longer when decimating
    length = per_phase * up - (1 - per_phase * up % 2)  # odd: an integer group delay
    cutoff = CUTOFF_FRACTION * 0.5 / max(up, down)  # cycles per sample at up × input rate
    n = np.arange(length) - (length - 1) / 2.0
    taps = 2.0 * cutoff * np.sinc(2.0 * cutoff * n) * np.kaiser(length, KAISER_BETA)
    taps = np.concatenate([taps * up, np.zeros(per_phase * up - length)])  # gain lost to zero-stuffing
    return taps, per_phase, (length - 1) // 2


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """``samples`` (1-D) at ``rate_in`` Hz to ``rate_out`` Hz, as float64."""
    if rate_in <= 0 or rate_out <= 0:
        raise DspError(f"sample rates must be positive, got {rate_in} -> {rate_out}")
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 1:
        raise DspError(f"resample needs a 1-D signal, got shape {samples.shape}")
    common = math.gcd(rate_in, rate_out)
    up, down = rate_out // common, rate_in // common
    if up == down:
        return samples.copy()
    taps, per_phase, delay = _design(up, down)
    # phases[p, k] is the tap applied to input sample (base - k) for output phase p.
    phases = taps.reshape(per_phase, up).T
    n_out = int(math.ceil(len(samples) * up / down))
    padded = np.concatenate([np.zeros(per_phase), samples, np.zeros(2 * per_phase)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, per_phase)[:, ::-1]
    out = np.empty(n_out)
    for start in range(0, n_out, _OUTPUT_CHUNK):
        index = np.arange(start, min(start + _OUTPUT_CHUNK, n_out))
        position = index * down + delay  # in the zero-stuffed domain, delay compensated
        base, phase = np.divmod(position, up)
        # windows[base + 1][k] is input sample (base - k), the one tap k of this phase meets.
        rows = np.minimum(base + 1, len(windows) - 1)
        out[start : start + len(index)] = np.einsum("ij,ij->i", windows[rows], phases[phase])
    return out
