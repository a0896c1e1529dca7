"""Line echo canceller for FXO ports, after ITU-T G.168.

The 2-to-4-wire hybrid of an FXO port reflects part of what the box sends (the *far end*,
G.168's Rin) back into what it receives (the *near end*, Sin), delayed by up to a few tens
of ms and smeared over a few ms. ``EchoCanceller.process(far_end, near_end)`` returns the
near end with that echo removed (G.168's Sout), for many channels at once: one call per
20 ms engine tick handles an array (channels, 160) with a fixed number of numpy calls (the
FFTs) and compiled kernels (dsp/echo_kernels.py: the filter's step, the block powers, the
talk detector, the two-path control), whatever the number of channels.

**Linear filter** (dsp/echo_filter.py): one frequency-domain adaptive filter over the whole
tail per channel, a sliding FFT window moved by one block per step, normalised per 8 Hz bin
and with a Kalman-style step per bin (large while the error is echo, small once converged or
while a near-end talker fills the error); while converging, each step's error spans the last
three blocks (data reuse: faster start and re-convergence after a path change).

**Two paths** (foreground/background). The background coefficients adapt; the foreground
coefficients produce the output and only change by taking the background's when they cancel
better: smoothed error power (over ``PATH_SMOOTHING_S``) lower than the foreground's by
``COPY_MARGIN_DB`` in each of the last ``COPY_WINS`` blocks, while removing at least
``COPY_MIN_ERLE_DB`` of the near end (which a near-end talker prevents: it adds the same
power to the input and to both errors). During detected talk only a background
``COPY_DESPITE_TALK_DB`` better is taken. A background ``RESET_MARGIN_DB`` worse than the
foreground (it followed a talker) is reset to the foreground. So a burst of double talk
cannot spoil the output's filter, whatever the background did meanwhile. Until a channel's
foreground has once cancelled ``NLP_TRUST_ERLE_DB`` (a latch, cleared only when the path
changes: a talker would make the ERLE look low), one better block is enough (``COPY_WINS_CONVERGING``):
while converging the background is ahead and the foreground followed it one block late.

**Echo path change.** A foreground whose error is louder than the near end itself (by
``HARMFUL_DB`` over ``HARMFUL_SMOOTHING_S``, which a talker cannot cause) models a path that
is no longer there: the foreground is zeroed (passing the line through beats adding echo) and
the background gets the step of a fresh start (the filter's ``restart``), so the canceller
re-converges about as fast as at the start of a call. A foreground that still removes less
than ``REOPEN_ERLE_DB`` while no near-end talker is detected only re-opens the step.

**Non-linear processor** (dsp/nlp.py): talk detection, residual suppression and comfort
noise matched to the line's background noise (learnt wherever no talker is heard and the
echo estimate is, per bin, at most ``LEARN_ECHO_OVER_NOISE_DB`` above that noise, so a far end that
never pauses still gets it, from its pauses, without residual echo in it). The NLP lets the near end through on detected talk, and
also at once on a residual the echo estimate cannot explain while the foreground cancels at
least ``NLP_TRUST_ERLE_DB`` (a first syllable is seldom louder than the far end, which the
talk detector's Geigel-style permission asks for, but it is never explained by the echo). On a
line without echo (the foreground's estimate ``NO_ECHO_DB`` under the near end for
``NO_ECHO_MS`` of far speech) it does not engage: the near end passes and the background is
learnt from it.

**Latency.** The canceller works on whole blocks, so the output is the cleaned near end
delayed by exactly ``block`` samples (20 ms by default, one engine tick; ``latency_samples``),
whatever the lengths of the blocks given to ``process``: cutting the input differently gives
the same output. Input and output are on the 16-bit scale; the output is float64.
"""

from __future__ import annotations

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp import echo_kernels as kernels
from dsp.echo_filter import KalmanEchoFilter
from dsp.jit import ready
from dsp.levels import db_to_power_ratio, dbm0_to_rms
from dsp.nlp import (
    FAR_ACTIVE_DBM0,
    LEARN_ECHO_OVER_NOISE_DB,
    BackgroundNoise,
    NonLinearProcessor,
    TalkDetector,
)

MIN_TAIL_MS, MAX_TAIL_MS = 8.0, 256.0
BLOCK_MS_CHOICES = (5.0, 10.0, 20.0)  # 40, 80, 160 samples: at most one 20 ms engine tick of latency
DEFAULT_BLOCK_MS = 20.0  # one engine tick: one filter step per tick (the cheapest)
DEFAULT_STEP = 0.7  # largest per-bin step (the Kalman-style control only lowers it)
COPY_MARGIN_DB = 0.5  # background error this much lower than the foreground's ...
COPY_WINS = 2  # ... and lower in each of this many blocks in a row ...
COPY_WINS_CONVERGING = 1  # ... or this many before the foreground was ever trusted ...
COPY_MIN_ERLE_DB = 6.0  # ... while removing this much of the near end: copy it to the foreground
COPY_DESPITE_TALK_DB = 6.0  # during near-end talk, only a background this much better is copied
RESET_MARGIN_DB = 6.0  # background error this much above the foreground's: it diverged, reset it
PATH_SMOOTHING_S = 0.06  # time constant of the error powers compared by the two paths
HARMFUL_DB = 1.0  # foreground error this much above the near end itself ...
HARMFUL_SMOOTHING_S = 0.3  # ... over this long: the echo path changed, restart
NLP_TRUST_ERLE_DB = 20.0  # foreground ERLE (over HARMFUL_SMOOTHING_S) above this: a residual unexplained by the echo opens the NLP
REOPEN_ERLE_DB = 3.0  # foreground ERLE below this (over PATH_SMOOTHING_S) with no talker: re-open the step
# No echo on the line: on every block of far-end activity for NO_ECHO_MS, the foreground's
# echo estimate at least NO_ECHO_DB under the near end and the background (adapting) filter
# removing less than NO_ECHO_BG_ERLE_DB of it. On a real echo the background removes several
# dB within a few blocks of far speech (measured: over 4 dB by the 9th block, then 25 dB
# median), even before the foreground takes it (it waits for COPY_MIN_ERLE_DB, which a quiet
# start of speech may delay past 0.5 s); on a line without echo it removes nothing (its
# error is the near end plus its misadjustment: 99th percentile 0.0 dB, 0.3 with a near-end
# talker), and the foreground stays at zero. The NLP then has nothing to suppress and passes
# the near end, and the background noise is learnt from it (before: with a far end that never
# pauses the filter was never trusted, the background never learnt, the NLP put out silence;
# issue 17).
NO_ECHO_DB = 20.0
NO_ECHO_BG_ERLE_DB = 2.0
NO_ECHO_MS = 500.0
MAX_STEP = 1.0


class EchoCanceller:
    """Adaptive line echo canceller on ``channels`` channels (see the module docstring).

    ``tail_ms``: longest echo path covered (bulk delay plus dispersion). ``block_ms``: 5, 10
    or 20 ms, the processing block and the added latency. ``step``: largest adaptation step
    per frequency bin (0 < step <= 1). ``nlp``: suppress the residual echo; ``comfort_noise``:
    fill the suppressed blocks with noise matched to the background (else silence). ``rng``:
    the comfort noise's generator (default: seeded 0, so runs are reproducible).
    """

    def __init__(
        self,
        channels: int,
        tail_ms: float = 64.0,
        block_ms: float = DEFAULT_BLOCK_MS,
        step: float = DEFAULT_STEP,
        nlp: bool = True,
        comfort_noise: bool = True,
        rng: np.random.Generator | None = None,
    ) -> None:
        if not isinstance(channels, int | np.integer) or channels < 1:
            raise DspError(f"echo canceller: channels must be a positive integer, not {channels!r}")
        if not MIN_TAIL_MS <= tail_ms <= MAX_TAIL_MS:
            raise DspError(
                f"echo canceller: tail_ms must be within {MIN_TAIL_MS:g}..{MAX_TAIL_MS:g}, not {tail_ms!r}"
            )
        if block_ms not in BLOCK_MS_CHOICES:
            raise DspError(f"echo canceller: block_ms must be one of {BLOCK_MS_CHOICES}, not {block_ms!r}")
        if not 0.0 < step <= MAX_STEP:
            raise DspError(f"echo canceller: step must be within 0..{MAX_STEP:g}, not {step!r}")
        self.channels = int(channels)
        self.tail_ms = tail_ms
        self.step = step
        self.block = round(block_ms * SAMPLE_RATE / 1000.0)
        self.latency_samples = self.block
        c, b = self.channels, self.block
        self._filter = KalmanEchoFilter(c, round(tail_ms * SAMPLE_RATE / 1000.0), b, step)
        self._smoothing = float(np.exp(-b / SAMPLE_RATE / PATH_SMOOTHING_S))
        self._slow_smoothing = float(np.exp(-b / SAMPLE_RATE / HARMFUL_SMOOTHING_S))
        # The two-path control's smoothed powers, one row each (one array: the whole control is
        # a few numpy calls on it, not one per quantity): foreground error, background error,
        # near end (over PATH_SMOOTHING_S), foreground error and near end over HARMFUL_SMOOTHING_S.
        self._powers = np.zeros((5, c))
        self._weights = np.array([self._smoothing] * 3 + [self._slow_smoothing] * 2)
        self._fresh_rows = np.array([2, 3, 1, 2, 1])  # the rows of a block's mean squares they smooth
        self._converged = np.zeros(c, dtype=bool)  # trusted once, and no path change since
        self._trusted = np.zeros(c, dtype=bool)  # slow powers: the foreground cancels NLP_TRUST_ERLE_DB
        self._wins = np.zeros(c, dtype=np.int64)  # blocks in a row in which the background did better
        self._far_powers = np.zeros((-(-self._filter.taps // b) + 1, c))  # per block, a ring
        self._far_at = 0  # the ring's row of the next block
        self._far_active_power = dbm0_to_rms(FAR_ACTIVE_DBM0) ** 2
        self._echo_over_noise = db_to_power_ratio(LEARN_ECHO_OVER_NOISE_DB)
        # The thresholds of the two-path control as power ratios, in the kernel's order.
        self._ratios = np.array([db_to_power_ratio(db) for db in (
            COPY_MARGIN_DB, COPY_MIN_ERLE_DB, COPY_DESPITE_TALK_DB, RESET_MARGIN_DB, NLP_TRUST_ERLE_DB,
            HARMFUL_DB, REOPEN_ERLE_DB)])
        self._block_powers = np.zeros((5, c))  # this block's mean squares: far, near, errors, echo
        self._far_tail = np.zeros(c)  # the loudest far-end block within the tail
        self._far_active = np.zeros(c, dtype=bool)
        self._no_echo_ratio = db_to_power_ratio(NO_ECHO_DB)
        self._no_echo_removed = db_to_power_ratio(-NO_ECHO_BG_ERLE_DB)
        self._no_echo_blocks = round(NO_ECHO_MS * SAMPLE_RATE / 1000.0 / b)
        self._quiet_blocks = np.zeros(c, dtype=np.int64)  # far-active blocks in a row without echo
        self._actions = np.zeros((4, c), dtype=bool)  # copy, reset, reopen, restart
        self._signals = np.zeros((c, 5, b))  # far, near, foreground error, background error, echo estimate
        self._pending_far = np.zeros((c, 0))
        self._pending_near = np.zeros((c, 0))
        self._output = np.zeros((c, b))  # the latency: one block of silence first
        self._talk = TalkDetector(c, b)
        self._background = BackgroundNoise(c, b)
        generator = rng if rng is not None else np.random.default_rng(0)
        self._nlp = NonLinearProcessor(c, b, generator, comfort_noise=comfort_noise) if nlp else None
        # Compiled (or loaded from numba's cache) now, not on the media loop's first blocks.
        ready(*kernels.KERNELS)

    @property
    def tail_samples(self) -> int:
        """Echo path length covered: ``tail_ms`` in samples."""
        return self._filter.taps

    @property
    def erle_db(self) -> np.ndarray:
        """(channels,) recent echo return loss enhancement of the linear filter: near-end power
        over residual power, smoothed over PATH_SMOOTHING_S (near 0 dB in double talk)."""
        return 10.0 * np.log10((self._powers[2] + 1e-9) / (self._powers[0] + 1e-9))

    def echo_path(self) -> np.ndarray:
        """(channels, tail_samples): the echo path the output is cleaned with (the foreground's
        impulse response: far end in, echo out), a new array."""
        return self._filter.impulse_responses()

    @property
    def talk(self) -> np.ndarray:
        """(channels,) bool: the near end holds a talker (double talk if the far end talks too)."""
        return self._talk.talk.copy()

    @property
    def nlp_active(self) -> np.ndarray:
        """(channels,) bool: the NLP is replacing the residual by comfort noise."""
        return self._nlp.suppressing if self._nlp is not None else np.zeros(self.channels, dtype=bool)

    @property
    def noise_dbm0(self) -> np.ndarray:
        """(channels,) background noise level the comfort noise is matched to, in dBm0."""
        with np.errstate(divide="ignore"):
            return 10.0 * np.log10(self._background.power / dbm0_to_rms(0.0) ** 2)

    def process(self, far_end: np.ndarray, near_end: np.ndarray) -> np.ndarray:
        """far_end: what was sent to the line; near_end: what came back (echo and the other
        party), both (channels, n), any n, same n. Returns the cleaned near end (channels, n),
        ``latency_samples`` late."""
        far_end, near_end = np.asarray(far_end), np.asarray(near_end)
        for name, signal in (("far_end", far_end), ("near_end", near_end)):
            if signal.ndim != 2 or signal.shape[0] != self.channels:
                raise DspError(
                    f"echo canceller: {name} must be shaped ({self.channels}, n), not {signal.shape}"
                )
            kind = signal.dtype.kind  # integers (signed or not) or floats, checked without numpy's slower issubdtype
            if kind not in "iuf":
                raise DspError(f"echo canceller: {name} must hold numbers, not {signal.dtype}")
            if kind == "f" and not np.isfinite(signal).all():  # integers always are
                raise DspError(f"echo canceller: {name} contains NaN or infinity")
        if far_end.shape != near_end.shape:
            raise DspError(
                f"echo canceller: far_end {far_end.shape} and near_end {near_end.shape} differ in shape"
            )
        n, b = far_end.shape[1], self.block
        if n == b and not self._pending_far.shape[1]:  # the engine's case: one whole block
            produced = self._output
            self._output = self._process_block(far_end, near_end)  # cast where they are copied
            return produced
        far = np.concatenate([self._pending_far, far_end.astype(np.float64)], axis=1)
        near = np.concatenate([self._pending_near, near_end.astype(np.float64)], axis=1)
        count = far.shape[1] // b
        outputs = [self._output]
        for i in range(count):
            span = slice(i * b, (i + 1) * b)
            outputs.append(self._process_block(far[:, span], near[:, span]))
        self._pending_far = far[:, count * b :]
        self._pending_near = near[:, count * b :]
        produced = np.concatenate(outputs, axis=1)
        self._output = produced[:, n:]
        return produced[:, :n]

    def _process_block(self, far: np.ndarray, near: np.ndarray) -> np.ndarray:
        signals = self._signals  # (channels, 5, block): far, near, errors, echo estimate
        np.copyto(signals[:, 0], far)
        np.copyto(signals[:, 1], near)
        estimates = self._filter.estimate(signals[:, 0])
        np.subtract(signals[:, 1, None], estimates, out=signals[:, 2:4])  # foreground, background
        np.copyto(signals[:, 4], estimates[:, 0])
        residual = signals[:, 2]
        # Mean squares of the five (rows: far, near, errors, echo), the far end over the tail.
        powers, far_tail, far_active = self._block_powers, self._far_tail, self._far_active
        kernels.block_powers(signals, self._far_powers, self._far_at, self._far_active_power, powers, far_tail,
                             far_active)
        self._far_at = (self._far_at + 1) % self._far_powers.shape[0]
        _, near_power, error_fg, _, echo_power = powers
        # The foreground cancels NLP_TRUST_ERLE_DB over HARMFUL_SMOOTHING_S, from the powers
        # before this block (the quiet start of a talker in the last block hardly moves them).
        trusted = self._trusted.copy()  # (the two-path control updates it for the next block)
        no_echo = self._no_echo(near_power, powers[3], echo_power, far_active)

        # Learn the background wherever no talker is heard and the residual is not raw echo
        # (far end silent, or a trusted filter) nor holds much residual echo or codec error on
        # the echo (per bin: the echo estimate at most LEARN_ECHO_OVER_NOISE_DB above the
        # background; until a bin has a background, any trusted block): a far end that never
        # pauses still leaves a level, learnt in its pauses.
        echo_bins = np.fft.rfft(signals[:, 4], axis=1)
        echo_bins = (echo_bins * echo_bins.conj()).real
        known = self._background.known
        echo_loud = (known > 0.0) & (echo_bins > self._echo_over_noise * known)
        held = (self._talk.talk | (far_active & ~(trusted | no_echo)))[:, None] | (far_active[:, None] & echo_loud)
        self._background.update(residual, held)
        talk = self._talk.update(near_power, error_fg, echo_power, far_tail, self._background.power, far_active)
        # Copy first, adapt after: the foreground only ever takes coefficients whose errors
        # were measured (not the step just taken on this block, which may hold a talker's onset).
        reset = self._two_path(powers, far_active, talk)
        # A background just reset to the foreground steps on the foreground's error.
        self._filter.adapt(signals[:, 1], reset)
        if self._nlp is None:
            return residual.copy()  # a new array: the signals are overwritten on the next block
        # The NLP opens for talk, and at once for a residual the echo estimate cannot explain
        # once the filter is trusted (it cancels NLP_TRUST_ERLE_DB): a talker's first syllable is
        # seldom louder than the far end (the "loud" permission), but it is never explained.
        # On a line without echo (NO_ECHO_DB) there is nothing to suppress: the near end passes.
        opened = talk | (self._talk.unexplained & trusted) | no_echo
        return self._nlp.process(residual, self._background, far_active, opened)

    def _no_echo(
        self, near_power: np.ndarray, error_bg: np.ndarray, echo_power: np.ndarray, far_active: np.ndarray
    ) -> np.ndarray:
        """(channels,) bool: for NO_ECHO_MS of far-end activity, the foreground's echo estimate
        (``echo_power``: its block mean square) at least NO_ECHO_DB under the near end's and the
        background's error (``error_bg``) less than NO_ECHO_BG_ERLE_DB under it."""
        negligible = (echo_power * self._no_echo_ratio <= near_power) & (error_bg > near_power * self._no_echo_removed)
        counted = self._quiet_blocks
        counted[far_active & ~negligible] = 0  # an echo: start again (a silent far end counts nothing)
        counted[far_active & negligible] += 1
        return counted >= self._no_echo_blocks

    def _two_path(self, block_powers: np.ndarray, far_active: np.ndarray, talk: np.ndarray) -> np.ndarray | None:
        """Copy, reset or restart per channel (``block_powers``: this block's mean squares, rows
        far, near, foreground error, background error, echo); returns where the background was
        reset (None: nowhere)."""
        actions = self._actions  # copy, reset, reopen, restart
        taken = kernels.two_path(
            block_powers, self._powers, self._weights, self._fresh_rows, self._ratios, COPY_WINS,
            COPY_WINS_CONVERGING, far_active, talk, self._wins, self._converged, self._trusted,
            self._talk.log_ratio, actions)
        if not taken:
            return None
        copy, resets, reopen, harm = actions
        if taken & 1:
            self._filter.copy_to_foreground(copy)
        if taken & 2:
            self._filter.copy_to_background(resets)
        if taken & 4:
            self._filter.reopen(reopen)
        if taken & 8:
            self._filter.restart(harm)
        return resets.copy() if taken & 2 else None
