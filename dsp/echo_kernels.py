"""Compiled kernels of the echo canceller: its adaptive filter's elementwise work
(dsp/echo_filter.py) and its per-block control (dsp/echo.py, and the talk detector of
dsp/nlp.py).

At a small box's channel counts (4-64) each numpy call on a (channels, bins) spectrum or a
(channels,) vector costs more in call overhead than in arithmetic: the filter's step made
some 35 passes over such arrays per block and the control some 100 calls. Here each stage is
one loop over channels and bins (or samples) that reads every operand once. The arithmetic
is the numpy code's it replaced (see the callers for the why of each quantity), in the same
order, so it gives what that gave to rounding (tests/test_echo_equivalence.py); nopython, no
fastmath (reproducible results). The FFTs stay numpy's.

Each kernel declares the argument types the canceller passes (dsp/jit.py: anything else is a
TypeError, never a compile on the media loop); :data:`KERNELS` are made ready (compiled or
loaded from numba's cache) when a canceller is built. An argument that is a row of a larger
array (a strided view) is declared of any layout (``[:, :]``): copying it to pass it
C-contiguous costs more than its strided reads (docs/dsp.md).
"""

from __future__ import annotations

import numpy as np

from dsp.jit import kernel


@kernel(
    # The far-end spectrum is a row of the filter's (channels, 2, bins) transform: a view.
    "(complex128[:, :], complex128[:, ::1], float64[:, :, ::1], float64[:, ::1], float64[::1], float64, float64,"
    " float64, float64, float64, boolean[::1], float64, float64, complex128[:, ::1], float64[:, ::1])",
)
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


@kernel(
    "(float64[:, :], float64[:, ::1], float64, float64)",  # the taps: a view of the filter's rows
)
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


@kernel(
    # The background's spectrum is a row of the filter's (channels, 2, bins) transform: a view.
    "(complex128[:, :, ::1], complex128[:, :], float64[:, ::1], float64[:, ::1], float64, float64[::1])",
)
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


@kernel(
    # The near end is a row of the canceller's (channels, 5, block) signals: a view.
    "(float64[:, ::1], float64[:, :], float64[:, :, ::1], boolean[::1], float64[:, ::1], float64, float64,"
    " boolean[::1], float64[:, ::1])",
)
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


@kernel(
    "(float64[:, :, ::1], float64[:, ::1], int64, float64, float64[:, ::1], float64[::1], boolean[::1])",
)
def block_powers(
    signals: np.ndarray,  # (channels, rows, block)
    far_powers: np.ndarray,  # (ring, channels): far-end block powers, a ring; row ``at`` written
    at: int,
    far_active_power: float,
    powers: np.ndarray,  # (rows, channels), out: each row's mean square
    far_tail: np.ndarray,  # (channels,), out: the loudest far-end block in the ring
    far_active: np.ndarray,  # (channels,) bool, out: far_tail above far_active_power
) -> None:
    """Mean squares of a block's signals (row 0 the far end), and the far end over the tail."""
    channels, rows, block = signals.shape
    for c in range(channels):
        for r in range(rows):
            total = 0.0
            for t in range(block):
                total += signals[c, r, t] * signals[c, r, t]
            powers[r, c] = total / block
        far_powers[at, c] = powers[0, c]
        loudest = far_powers[0, c]
        for i in range(1, far_powers.shape[0]):
            loudest = max(loudest, far_powers[i, c])
        far_tail[c] = loudest
        far_active[c] = loudest > far_active_power


@kernel(
    "(int64, float64[::1], float64[::1], float64[::1], float64[::1], float64[::1], boolean[::1], float64[::1],"
    " float64, float64, int64, int64, float64[::1], float64[::1], int64[::1], int64[::1], boolean[::1], boolean[::1])",
)
def talk_update(
    now: int,  # the block's number
    near_power: np.ndarray,  # (channels,) block mean squares ...
    residual_power: np.ndarray,
    echo_power: np.ndarray,
    far_power: np.ndarray,  # ... the loudest far-end block in the tail
    noise_power: np.ndarray,
    far_active: np.ndarray,  # (channels,) bool
    factors: np.ndarray,  # (4,): loud ratio, margin, noise margin, near over echo (power ratios)
    envelope_decay: float,
    learning: float,
    loud_blocks: int,
    hold_blocks: int,
    log_ratio: np.ndarray,  # (channels,) state, updated
    envelope: np.ndarray,  # (channels,) state, updated
    loud_until: np.ndarray,  # (channels,) int state, updated
    hold_until: np.ndarray,  # (channels,) int state, updated
    talk: np.ndarray,  # (channels,) bool, out
    unexplained: np.ndarray,  # (channels,) bool, out
) -> None:
    """One block of the near-end talk detector (dsp/nlp.py, TalkDetector)."""
    for c in range(near_power.shape[0]):
        env = max(echo_power[c], envelope[c] * envelope_decay)
        envelope[c] = env
        expected = np.exp(log_ratio[c]) * echo_power[c]
        loud = far_power[c] * factors[0] < near_power[c]
        above_expected = expected * factors[1] < residual_power[c]
        above_noise = noise_power[c] * factors[2] < residual_power[c]
        above_echo = env * factors[3] < near_power[c]
        if loud and far_active[c]:
            loud_until[c] = now + loud_blocks
        unexplained[c] = above_expected and above_noise and above_echo
        if unexplained[c] and loud_until[c] > now:
            hold_until[c] = now + hold_blocks
        talk[c] = hold_until[c] > now
        # Learn only where no talker shows: far end active, near end not above the echo estimate.
        if far_active[c] and not (talk[c] or above_echo) and min(echo_power[c], residual_power[c]) > 0.0:
            ratio = np.log(max(residual_power[c], 1e-12) / max(echo_power[c], 1e-12))
            log_ratio[c] = (ratio - log_ratio[c]) * learning + log_ratio[c]


@kernel(
    "(float64[:, ::1], float64[:, ::1], float64[::1], int64[::1], float64[::1], int64, int64, boolean[::1],"
    " boolean[::1], int64[::1], boolean[::1], boolean[::1], float64[::1], boolean[:, ::1])",
)
def two_path(
    block_powers: np.ndarray,  # (5, channels): far, near, foreground error, background error, echo
    powers: np.ndarray,  # (5, channels) state: foreground, background, near; slow foreground, slow near
    weights: np.ndarray,  # (5,): each row's smoothing
    fresh_rows: np.ndarray,  # (5,) int: the row of block_powers each row of powers smooths
    ratios: np.ndarray,  # (7,): margin, min ERLE, despite talk, reset, trust, harmful, reopen
    copy_wins: int,
    copy_wins_converging: int,
    far_active: np.ndarray,  # (channels,) bool
    talk: np.ndarray,  # (channels,) bool
    wins: np.ndarray,  # (channels,) int state
    converged: np.ndarray,  # (channels,) bool state
    trusted: np.ndarray,  # (channels,) bool state: for the next block
    log_ratio: np.ndarray,  # (channels,): the talk detector's, forgotten on a restart
    actions: np.ndarray,  # (4, channels) bool, out: copy, reset, reopen, restart
) -> int:
    """The two-path control of one block (dsp/echo.py): smoothed powers, the decisions, and
    their effect on the control's own state; returns a bit per action taken on any channel
    (the filter's part of them is the caller's)."""
    margin, min_erle, despite_talk, reset_ratio, trust, harmful_ratio, reopen_ratio = (
        ratios[0], ratios[1], ratios[2], ratios[3], ratios[4], ratios[5], ratios[6])
    taken = 0
    for c in range(powers.shape[1]):
        for r in range(5):
            powers[r, c] = powers[r, c] * weights[r] + block_powers[fresh_rows[r], c] * (1.0 - weights[r])
        fg, bg, near, slow_fg, slow_near = powers[0, c], powers[1, c], powers[2, c], powers[3, c], powers[4, c]
        better = bg * margin < fg
        cancels = bg * min_erle < near
        much_better = bg * despite_talk < fg
        reset = fg * reset_ratio < bg
        trusted_now = slow_fg * trust < slow_near
        harmful = slow_near * harmful_ratio < slow_fg
        reopen_fg = near < fg * reopen_ratio
        reopen_bg = near < bg * reopen_ratio
        wins[c] = (wins[c] + 1) if better else 0
        # Converging (start of a call, after a path change): follow the background sooner.
        converged[c] = converged[c] or trusted_now
        steady = wins[c] >= (copy_wins if converged[c] else copy_wins_converging)
        # Much better cannot be a talker's doing (it adds the same power to both errors).
        copy = far_active[c] and cancels and steady and (much_better or not talk[c])
        # A background copied on this block is the foreground the re-open judges.
        reopen = far_active[c] and not talk[c] and (reopen_bg if copy else reopen_fg)
        harm = far_active[c] and harmful
        trusted[c] = trusted_now and not harm
        actions[0, c], actions[1, c], actions[2, c], actions[3, c] = copy, reset, reopen, harm
        if copy:
            powers[0, c] = powers[1, c]
            taken |= 1
        if reset:
            powers[1, c] = powers[0, c]
            taken |= 2
        if reopen:
            taken |= 4
        if harm:
            converged[c] = False
            powers[0, c] = powers[2, c]
            powers[3, c] = powers[4, c]
            log_ratio[c] = 0.0
            taken |= 8
    return taken


KERNELS = (step_spectrum, add_proportionate, finish_step, error_window, block_powers, talk_update, two_path)
"""Every kernel of this module, for :func:`dsp.jit.ready`."""
