"""Compiled kernels of the echo canceller's adaptive filter (dsp/echo_filter.py).

At a small box's channel counts (4-64) each numpy call on a (channels, bins) spectrum costs
more in call overhead than in arithmetic, and the filter's step made some 35 passes over such
arrays per block. Here each stage is one loop over channels and bins that reads every
operand once. The arithmetic is the filter's own (see dsp/echo_filter.py for the why of each
quantity), in the same order, so it gives what the numpy version gave to rounding; nopython,
no fastmath (reproducible results). The FFTs stay numpy's.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def step_spectrum(
    spectrum: np.ndarray,  # (channels, bins) complex: the far-end window's spectrum
    error_spectrum: np.ndarray,  # (channels, bins) complex: the error block's (zero-padded)
    powers: np.ndarray,  # (2, channels, bins): smoothed far and error powers, updated
    misalignment: np.ndarray,  # (channels, bins)
    smoothing: np.ndarray,  # (2,): per-block smoothing of the far and error powers
    share: float,  # error-FFT power per unit of window-FFT power
    regularisation: float,
    step: float,
    convergence: float,
    persistence: float,
    reusing: np.ndarray,  # (channels,) bool: the error spans the earlier blocks too
    reuse_share: float,  # share on those channels (their error window holds more blocks)
    reuse_convergence: float,  # convergence on those channels
    out_step: np.ndarray,  # (channels, bins) complex: the step, before the time-domain constraint
    out_decay: np.ndarray,  # (channels, bins): the misalignment's decay factor of this step
) -> None:
    """The Kalman-style step per bin (dsp/echo_filter.py): powers smoothed, residual echo
    expected, step size, the step's spectrum and the misalignment's decay."""
    channels, bins = spectrum.shape
    keep_far, keep_error = smoothing[0], smoothing[1]
    take_far, take_error = 1.0 - keep_far, 1.0 - keep_error
    for c in range(channels):
        rate = reuse_convergence if reusing[c] else convergence
        part = reuse_share if reusing[c] else share
        floor = regularisation * part
        for k in range(bins):
            x = spectrum[c, k]
            e = error_spectrum[c, k]
            now = x.real * x.real + x.imag * x.imag
            far_power = powers[0, c, k] * keep_far + now * take_far
            error_power = powers[1, c, k] * keep_error + (e.real * e.real + e.imag * e.imag) * take_error
            powers[0, c, k] = far_power
            powers[1, c, k] = error_power
            residual = misalignment[c, k] * far_power * part
            other = max(error_power - residual, floor)
            inverse = 1.0 / (far_power + regularisation)
            mu = step * residual / (residual + other)
            scale = mu * inverse
            # conj(x) * e
            re = x.real * e.real + x.imag * e.imag
            im = x.real * e.imag - x.imag * e.real
            out_step[c, k] = complex(re * scale, im * scale)
            out_decay[c, k] = (1.0 - mu * rate * now * inverse) * persistence


@numba.njit(cache=True, nogil=True)
def add_proportionate(taps: np.ndarray, gradient: np.ndarray, alpha: float, cap: float) -> None:
    """taps += gain x gradient, per tap the IPNLMS gain (1 - a + (1 + a) |w| / mean |w|) / 2
    capped at ``cap`` (taps (channels, n), gradient (channels, >= n): its first n used)."""
    channels, n = taps.shape
    for c in range(channels):
        total = 0.0
        for t in range(n):
            total += abs(taps[c, t])
        scale = (0.5 + 0.5 * alpha) / (total / n + 1e-9)
        base = 0.5 - 0.5 * alpha
        for t in range(n):
            gain = min(abs(taps[c, t]) * scale + base, cap)
            taps[c, t] += gain * gradient[c, t]


@numba.njit(cache=True, nogil=True)
def finish_step(
    weights: np.ndarray,  # (channels, 2, bins) complex: row 1 (background) replaced
    background: np.ndarray,  # (channels, bins) complex: the background's new spectrum
    misalignment: np.ndarray,  # (channels, bins), updated
    decay: np.ndarray,  # (channels, bins)
    persistence: float,
    mean_misalignment: np.ndarray,  # (channels,) out: the misalignment's mean over the bins
) -> None:
    """The end of a step: the background's spectrum, and the misalignment decayed by the step
    and grown by (1 - persistence) of the coefficient's power (the path may drift)."""
    channels, bins = background.shape
    grow = 1.0 - persistence
    for c in range(channels):
        total = 0.0
        for k in range(bins):
            w = background[c, k]
            weights[c, 1, k] = w
            m = misalignment[c, k] * decay[c, k] + grow * (w.real * w.real + w.imag * w.imag)
            misalignment[c, k] = m
            total += m
        mean_misalignment[c] = total / bins


@numba.njit(cache=True, nogil=True)
def error_window(
    history: np.ndarray,  # (channels, span): the near end of the last span // block blocks, shifted in
    near: np.ndarray,  # (channels, block): this block's near end
    estimates: np.ndarray,  # (channels, 2, size): both sets' last inverse transforms (last span linear)
    from_foreground: np.ndarray,  # (channels,) bool: the background was just reset to the foreground
    misalignment: np.ndarray,  # (channels, bins)
    above: float,  # mean misalignment above this: the channel reuses the earlier blocks
    weight: float,  # the earlier blocks' errors' weight while reusing
    reusing: np.ndarray,  # (channels,) bool, out
    window: np.ndarray,  # (channels, size), out: zeros, then the errors of the last span samples
) -> None:
    """The step's error window: near end minus the current coefficients' echo over the last
    blocks, the earlier ones weighted ``weight`` on converging channels (zero elsewhere)."""
    channels, span = history.shape
    block = near.shape[1]
    size = window.shape[1]
    for c in range(channels):
        total = 0.0
        for k in range(misalignment.shape[1]):
            total += misalignment[c, k]
        reuse = total / misalignment.shape[1] > above
        reusing[c] = reuse
        earlier = weight if reuse else 0.0
        row = 0 if from_foreground[c] else 1
        for t in range(span - block):
            history[c, t] = history[c, t + block]
        for t in range(block):
            history[c, span - block + t] = near[c, t]
        for t in range(span):
            error = history[c, t] - estimates[c, row, size - span + t]
            window[c, size - span + t] = error if t >= span - block else error * earlier
