"""The echo canceller as it was before its per-block control was compiled (dsp/echo.py and
the TalkDetector of dsp/nlp.py at commit 1fd2ca5, numpy only; the adaptive filter, the noise
tracker and the NLP are the live ones, unchanged by that step): the oracle of
tests/test_echo_equivalence.py, which asserts the current canceller gives the same output to
a stated tolerance. Frozen on purpose: when the canceller's behaviour is meant to change,
delete this file and that test rather than edit them."""

from __future__ import annotations

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.echo_filter import KalmanEchoFilter
from dsp.levels import db_to_power_ratio, dbm0_to_rms
from dsp.nlp import (
    ENVELOPE_RELEASE_DB_PER_S,
    FAR_ACTIVE_DBM0,
    LEARN_ECHO_OVER_NOISE_DB,
    LOUD_HOLD_MS,
    LOUD_MARGIN_DB,
    NEAR_OVER_ECHO_DB,
    NOISE_MARGIN_DB,
    RATIO_SMOOTHING_S,
    BackgroundNoise,
    NonLinearProcessor,
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
MAX_STEP = 1.0


def _blocks(ms: float, block: int) -> int:
    return int(np.ceil(ms * SAMPLE_RATE / 1000.0 / block))


class TalkDetector:
    """Near-end talk on blocks of ``block`` samples (see the module docstring)."""

    def __init__(self, channels: int, block: int, margin_db: float = 12.0, hold_ms: float = 80.0) -> None:
        if not 0.0 < margin_db <= 40.0:
            raise DspError(f"talk detector: margin_db must be within 0..40, not {margin_db!r}")
        if not 0.0 <= hold_ms <= 1000.0:
            raise DspError(f"talk detector: hold_ms must be within 0..1000, not {hold_ms!r}")
        self.margin = db_to_power_ratio(margin_db)
        self.noise_margin = db_to_power_ratio(NOISE_MARGIN_DB)
        self.near_over_echo = db_to_power_ratio(NEAR_OVER_ECHO_DB)
        self.loud_ratio = db_to_power_ratio(-LOUD_MARGIN_DB)
        self.far_active_power = dbm0_to_rms(FAR_ACTIVE_DBM0) ** 2
        self.envelope_decay = db_to_power_ratio(-ENVELOPE_RELEASE_DB_PER_S * block / SAMPLE_RATE)
        self.learning = 1.0 - float(np.exp(-block / SAMPLE_RATE / RATIO_SMOOTHING_S))
        self.hold_blocks = _blocks(hold_ms, block)
        self.loud_blocks = _blocks(LOUD_HOLD_MS, block)
        self.log_ratio = np.zeros(channels)  # ln(residual / echo estimate) on far-end-only blocks
        self.echo_envelope = np.zeros(channels)
        # The hold and the loud permission as the block numbers they last until (one masked
        # copy per block where a countdown took a where, a maximum and a subtraction).
        self._blocks = 0  # blocks seen
        self._hold_until = np.zeros(channels, dtype=np.int64)
        self._loud_until = np.zeros(channels, dtype=np.int64)
        # Left sides of the four comparisons of a block, as power ratios (see update).
        self._factors = np.array([self.loud_ratio, self.margin, self.noise_margin, self.near_over_echo])[:, None]
        self.talk = np.zeros(channels, dtype=bool)
        self.unexplained = np.zeros(channels, dtype=bool)  # this block's residual is more than echo

    def restart(self, channels: np.ndarray) -> None:
        """Forget the learnt residual-to-echo ratio where ``channels`` (the filter restarted)."""
        np.copyto(self.log_ratio, 0.0, where=channels)

    def update(
        self,
        near_power: np.ndarray,
        residual_power: np.ndarray,
        echo_power: np.ndarray,
        far_power: np.ndarray,
        noise_power: np.ndarray,
        far_active: np.ndarray | None = None,
    ) -> np.ndarray:
        """Block mean squares (channels,) of the near end, the residual, the echo estimate,
        the loudest far-end block in the tail, and the background (``far_active``: far_power
        above FAR_ACTIVE_DBM0, if the caller has it). Returns talk (channels,)."""
        if far_active is None:
            far_active = far_power > self.far_active_power
        now = self._blocks
        self._blocks += 1
        envelope = self.echo_envelope
        envelope *= self.envelope_decay
        np.maximum(echo_power, envelope, out=envelope)
        # Four comparisons in one call: near end louder than the far end's tail (minus
        # LOUD_MARGIN_DB), residual above the expected residual echo and above the background,
        # near end above the echo estimate's envelope.
        expected = np.exp(self.log_ratio)
        expected *= echo_power
        left = np.array((far_power, expected, noise_power, envelope))
        left *= self._factors
        loud, above_expected, above_noise, above_echo = left < np.array(
            (near_power, residual_power, residual_power, near_power)
        )
        np.copyto(self._loud_until, now + self.loud_blocks, where=loud & far_active)
        self.unexplained = above_expected & above_noise & above_echo
        talk_now = self.unexplained & (self._loud_until > now)
        np.copyto(self._hold_until, now + max(self.hold_blocks, 1), where=talk_now)
        self.talk = self._hold_until > now  # talk now, or within hold_ms of it
        # Learn only where no talker shows: far end active, near end not above the echo estimate.
        learn = (far_active > (self.talk | above_echo)) & (np.minimum(echo_power, residual_power) > 0.0)
        ratio = np.log(np.maximum(residual_power, 1e-12) / np.maximum(echo_power, 1e-12))
        log_ratio = self.log_ratio
        ratio -= log_ratio
        ratio *= self.learning
        ratio += log_ratio
        np.copyto(log_ratio, ratio, where=learn)
        return self.talk


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
        smoothing = [self._smoothing] * 3 + [self._slow_smoothing] * 2
        self._weights = np.array(smoothing)[:, None]
        self._complements = np.array([1.0 - a for a in smoothing])[:, None]
        self._fresh_rows = np.array([2, 3, 1, 2, 1])  # rows of a block's mean squares (see _process_block)
        self._converged = np.zeros(c, dtype=bool)  # trusted once, and no path change since
        self._trusted = np.zeros(c, dtype=bool)  # slow powers: the foreground cancels NLP_TRUST_ERLE_DB
        self._wins = np.zeros(c, dtype=np.int64)  # blocks in a row in which the background did better
        self._far_powers = np.zeros((-(-self._filter.taps // b) + 1, c))  # per block, a ring
        self._far_at = 0  # the ring's row of the next block
        self._far_active_power = dbm0_to_rms(FAR_ACTIVE_DBM0) ** 2
        self._echo_over_noise = db_to_power_ratio(LEARN_ECHO_OVER_NOISE_DB)
        # Every comparison of the two-path control in one call: rows of _powers (times a
        # threshold as a power ratio) on the left ``<`` rows on the right (see _two_path).
        ratios = {name: db_to_power_ratio(db) for name, db in (
            ("margin", COPY_MARGIN_DB), ("min_erle", COPY_MIN_ERLE_DB), ("despite_talk", COPY_DESPITE_TALK_DB),
            ("reset", RESET_MARGIN_DB), ("trust", NLP_TRUST_ERLE_DB), ("harmful", HARMFUL_DB),
            ("reopen", REOPEN_ERLE_DB))}
        fg, bg, near, slow_fg, slow_near = range(5)
        sides = [  # (left row, factor, right row, factor): left * factor < right * factor
            (bg, ratios["margin"], fg, 1.0),  # better
            (bg, ratios["min_erle"], near, 1.0),  # cancels
            (bg, ratios["despite_talk"], fg, 1.0),  # much better
            (fg, ratios["reset"], bg, 1.0),  # reset: the background diverged
            (slow_fg, ratios["trust"], slow_near, 1.0),  # trusted (the converged latch)
            (slow_near, ratios["harmful"], slow_fg, 1.0),  # the foreground adds echo
            (near, 1.0, fg, ratios["reopen"]),  # reopen (foreground)
            (near, 1.0, bg, ratios["reopen"]),  # reopen (a background just copied to the foreground)
        ]
        self._sides = np.array([row for row, _, _, _ in sides] + [row for _, _, row, _ in sides])
        self._factors = np.array([f for _, f, _, _ in sides] + [f for _, _, _, f in sides])[:, None]
        self._actions = np.zeros((4, c), dtype=bool)  # copy, reset, reopen, restart
        self._signals = np.zeros((c, 5, b))  # far, near, foreground error, background error, echo estimate
        self._pending_far = np.zeros((c, 0))
        self._pending_near = np.zeros((c, 0))
        self._output = np.zeros((c, b))  # the latency: one block of silence first
        self._talk = TalkDetector(c, b)
        self._background = BackgroundNoise(c, b)
        generator = rng if rng is not None else np.random.default_rng(0)
        self._nlp = NonLinearProcessor(c, b, generator, comfort_noise=comfort_noise) if nlp else None

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
        # Mean squares of the five, one stacked dot product (rows: far, near, errors, echo).
        # (Each row's sum is the one a dot product of that row alone gives: checked bit for bit.)
        powers = ((signals[..., None, :] @ signals[..., :, None])[..., 0, 0] / self.block).T
        far_power, near_power, error_fg, error_bg, echo_power = powers
        far_powers = self._far_powers
        far_powers[self._far_at] = far_power
        self._far_at = (self._far_at + 1) % far_powers.shape[0]
        far_tail = np.maximum.reduce(far_powers, axis=0)
        far_active = far_tail > self._far_active_power
        # The foreground cancels NLP_TRUST_ERLE_DB over HARMFUL_SMOOTHING_S, from the powers
        # before this block (the quiet start of a talker in the last block hardly moves them).
        trusted = self._trusted

        # Learn the background wherever no talker is heard and the residual is not raw echo
        # (far end silent, or a trusted filter): with minimum tracking the residual echo then
        # hardly counts, and a far end that never pauses still leaves a level.
        echo_bins = np.fft.rfft(signals[:, 4], axis=1)  # the echo estimate's spectrum, per bin
        echo_bins = (echo_bins * echo_bins.conj()).real
        known = self._background.known
        echo_loud = (known > 0.0) & (echo_bins > self._echo_over_noise * known)
        held = (self._talk.talk | (far_active & ~trusted))[:, None] | (far_active[:, None] & echo_loud)
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
        return self._nlp.process(residual, self._background, far_active, talk | (self._talk.unexplained & trusted))

    def _two_path(self, block_powers: np.ndarray, far_active: np.ndarray, talk: np.ndarray) -> np.ndarray | None:
        """Copy, reset or restart per channel (``block_powers``: this block's mean squares, rows
        far, near, foreground error, background error, echo); returns where the background was
        reset (None: nowhere)."""
        powers = self._powers  # foreground, background, near; slow foreground, slow near
        fresh = block_powers[self._fresh_rows]  # what each row of powers smooths
        powers *= self._weights
        fresh *= self._complements
        powers += fresh
        sides = powers[self._sides]
        sides *= self._factors
        rows = len(self._sides) // 2
        better, cancels, much_better, reset, trusted, harmful, reopen_fg, reopen_bg = sides[:rows] < sides[rows:]
        wins = self._wins
        wins += 1
        wins *= better
        # Converging (start of a call, after a path change): the background is ahead, follow it
        # sooner. A latch: a talker makes the ERLE look low, so once trusted a channel stays
        # converged until the foreground does harm (below: the path changed).
        converged = self._converged
        converged |= trusted
        steady = wins >= np.where(converged, COPY_WINS, COPY_WINS_CONVERGING)
        # Much better cannot be a talker's doing (it adds the same power to both errors).
        # (On booleans ``a > b`` is ``a & ~b`` and ``a >= b`` is ``a | ~b``: one call each.)
        actions = self._actions
        copy, resets, reopen, harm = actions
        np.logical_and(far_active & cancels & steady, much_better >= talk, out=copy)
        np.copyto(resets, reset)
        # The foreground hardly cancels and no talker explains it: the path changed (or the
        # call just started); the background gets the large step of a fresh start. (A background
        # copied on this block is the foreground it judges.)
        np.logical_and(far_active > talk, np.where(copy, reopen_bg, reopen_fg), out=reopen)
        # A foreground that adds echo: no talker explains that (a talker adds the same power
        # to the input and to the error), the echo path changed. Restart from zero.
        np.logical_and(far_active, harmful, out=harm)
        self._trusted = trusted > harm  # for the next block: the slow powers after this one
        any_copy, any_reset, any_reopen, any_harm = np.logical_or.reduce(actions, axis=1).tolist()
        if not (any_copy or any_reset or any_reopen or any_harm):
            return None
        if any_copy:
            self._filter.copy_to_foreground(copy)
            np.copyto(powers[0], powers[1], where=copy)
        if any_reset:
            self._filter.copy_to_background(resets)
            np.copyto(powers[1], powers[0], where=resets)
        if any_reopen:
            self._filter.reopen(reopen)
        if any_harm:
            self._filter.restart(harm)
            converged &= ~harm
            np.copyto(powers[0], powers[2], where=harm)
            np.copyto(powers[3], powers[4], where=harm)
            self._talk.restart(harm)
        return resets.copy() if any_reset else None
