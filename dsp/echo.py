"""Line echo canceller for FXO ports, in the spirit of ITU-T G.168.

The 2-to-4-wire hybrid of an FXO port reflects part of what the box sends (the *far end*,
G.168's Rin) back into what it receives (the *near end*, Sin), delayed by up to a few tens
of ms and smeared over a few ms. ``EchoCanceller.process(far_end, near_end)`` returns the
near end with that echo removed (G.168's Sout), for many channels at once.

**Linear filter: partitioned-block frequency-domain adaptive filter (MDF).** The echo
path is modelled by ``partitions`` FIR partitions of ``block`` taps each (the tail:
``tail_ms`` rounded up to whole blocks; 64 ms -> 7 x 80 taps = 70 ms). Each block of
``block`` samples costs one FFT of the far end, one inverse FFT of the echo estimates, one
FFT of the error and, for the update, one inverse/forward FFT pair per partition (the
gradient constraint that keeps each partition a true ``block``-tap filter), all of size
``2 * block`` and vectorised over channels and partitions with numpy's rfft. The update is
normalised per frequency bin by the far-end power over the whole tail (the frequency-domain
counterpart of NLMS), held at its recent peak (``NORMALISER_DECAY``) so that a bin whose
speech energy just faded gets no huge step from its remainder (measured: about 5 dB more
ERLE on real speech than the instantaneous power), and is half proportionate (IPNLMS with
alpha 0): partitions holding more of the echo path get a larger share of the step, which
speeds up convergence on a hybrid's sparse response (a bulk delay, then a few ms).

**Double talk.** Two defences, because a near-end talker in the error drives any adaptive
filter away from the echo path:

1. *Foreground/background filters* (two-path). The background filter adapts; the
   foreground filter produces the output and only changes by taking the background's
   coefficients when they cancel better: lower error power than the foreground's (by
   ``COPY_MARGIN_DB`` over ``PATH_SMOOTHING_S``, and in each of the last ``COPY_WINS``
   blocks), while removing at least ``COPY_MIN_ERLE_DB`` of the near end (not so while a
   talker dominates). A background that became ``RESET_MARGIN_DB`` worse is reset to the
   foreground. This needs no assumption on the echo return loss.
2. *Talk detection* (dsp/nlp.py ``TalkDetector``): residual unexplained by the echo
   estimate, while the near end was recently about as loud as the far end (the Geigel
   detector's idea used as a *permission*). During talk, and on any block whose residual is
   unexplained, the foreground only takes a background that is ``COPY_DESPITE_TALK_DB``
   better, which a talker cannot cause (it adds the same power to both errors). The
   background keeps adapting: freezing it on a detector's word would also freeze it after
   an echo-path change, which looks the same to such a detector.

A Geigel detector alone (double talk when |Sin| > 0.5 max|Rin|, G.168's 6 dB convention) was
not used: on our hybrids of 6 dB echo return loss the echo of speech crosses it, which
would freeze convergence, and it misses near-end talkers quieter than half the far end.

**Echo path change.** The background filter keeps adapting and is copied in as soon as it
cancels better. When the foreground makes things worse than no canceller at all
(``HARMFUL_DB`` over ``HARMFUL_SMOOTHING_S``, which double talk cannot cause: a talker adds
the same power to the input and to the error), both filters restart from zero.

**Non-linear processor** (dsp/nlp.py): replaces the residual by comfort noise matched to
the background while the far end talks and the near end does not.

**Latency.** The canceller works on whole blocks, so the output is the cleaned near end
delayed by exactly ``block`` samples (10 ms by default; ``latency_samples``), whatever the
lengths of the blocks given to ``process``: cutting the input differently gives the same
output. Input and output are on the 16-bit scale; the output is float64.
"""

from __future__ import annotations

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.levels import db_to_power_ratio, dbm0_to_rms
from dsp.nlp import FAR_ACTIVE_DBM0, BackgroundNoise, NonLinearProcessor, TalkDetector

MIN_TAIL_MS, MAX_TAIL_MS = 8.0, 256.0
BLOCK_MS_CHOICES = (5.0, 10.0, 20.0)  # 40, 80, 160 samples: at most one 20 ms engine tick of latency
COPY_MARGIN_DB = 0.5  # background error this much lower than the foreground's ...
COPY_WINS = 5  # ... and lower in each of this many blocks in a row ...
COPY_MIN_ERLE_DB = 6.0  # ... while removing this much of the near end: copy it to the foreground
COPY_DESPITE_TALK_DB = 6.0  # during near-end talk, only a background this much better is copied
RESET_MARGIN_DB = 6.0  # background error this much above the foreground's: it diverged, reset it
PATH_SMOOTHING_S = 0.2  # time constant of the error powers compared by the two paths
HARMFUL_DB = 1.0  # foreground error this much above the near end itself ...
HARMFUL_SMOOTHING_S = 0.3  # ... over this long: the echo path changed, restart
NORMALISER_DECAY = 0.9  # per block: the step's far-end power is a peak hold falling ~0.5 dB per 10 ms
PROPORTIONATE_ALPHA = 0.0  # IPNLMS alpha: -1 = plain NLMS, towards 1 = more proportionate
REGULARISATION_DBM0 = -70.0  # far-end level below which the update step shrinks (no division by ~0)
MAX_STEP = 1.0


def _mean_square(x: np.ndarray) -> np.ndarray:
    """Mean square over the last axis: ``np.mean(np.square(x), axis=-1)`` without its Python wrapper
    (the same pairwise sum, then the same division: the same numbers)."""
    return np.add.reduce(np.square(x), axis=-1) / x.shape[-1]


class EchoCanceller:
    """Adaptive line echo canceller on ``channels`` channels (see the module docstring).

    ``tail_ms``: longest echo path covered (bulk delay plus dispersion). ``block_ms``: 5, 10
    or 20 ms, the processing block and the added latency. ``step``: adaptation step
    (0 < step <= 1). ``nlp``: suppress the residual echo; ``comfort_noise``: fill the
    suppressed blocks with noise matched to the background (else silence). ``rng``: the
    comfort noise's generator (default: seeded 0, so runs are reproducible).
    """

    def __init__(
        self,
        channels: int,
        tail_ms: float = 64.0,
        block_ms: float = 10.0,
        step: float = 0.7,
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
        self.partitions = int(np.ceil(tail_ms * SAMPLE_RATE / 1000.0 / self.block))
        self.latency_samples = self.block
        c, p, b = self.channels, self.partitions, self.block
        bins = b + 1
        self._far_window = np.zeros((c, 2 * b))  # the last two far-end blocks
        self._error_window = np.zeros((c, 2 * b))  # zeros, then the error: the update's FFT input
        self._far_spectra = np.zeros((c, p, bins), dtype=complex)  # newest block first
        self._far_bin_powers = np.zeros((c, p, bins))  # |far_spectra|^2, kept beside them
        self._far_powers = np.zeros((c, p + 1))  # mean square of each far-end block, newest first
        self._weights = np.zeros((c, 2, p, bins), dtype=complex)  # [:, 0] foreground, [:, 1] background
        self._normaliser = np.zeros((c, bins))  # peak-held far-end power per bin over the tail
        self._smoothing = float(np.exp(-b / SAMPLE_RATE / PATH_SMOOTHING_S))
        self._slow_smoothing = float(np.exp(-b / SAMPLE_RATE / HARMFUL_SMOOTHING_S))
        self._error_powers = np.zeros((c, 2))  # smoothed error power of foreground and background
        self._near_power = np.zeros(c)  # smoothed like the error powers
        self._slow_powers = np.zeros((c, 2))  # foreground error and near end, over HARMFUL_SMOOTHING_S
        self._wins = np.zeros(c, dtype=np.int64)  # blocks in a row in which the background did better
        self._regularisation = 2.0 * b * dbm0_to_rms(REGULARISATION_DBM0) ** 2  # |X|^2 of that level per bin
        self._far_active_power = dbm0_to_rms(FAR_ACTIVE_DBM0) ** 2
        # The two-path thresholds as power ratios, computed once (not on every block).
        self._copy_min_erle = db_to_power_ratio(COPY_MIN_ERLE_DB)
        self._copy_margin = db_to_power_ratio(COPY_MARGIN_DB)
        self._copy_despite_talk = db_to_power_ratio(COPY_DESPITE_TALK_DB)
        self._reset_margin = db_to_power_ratio(RESET_MARGIN_DB)
        self._harmful = db_to_power_ratio(HARMFUL_DB)
        self._pending_far = np.zeros((c, 0))
        self._pending_near = np.zeros((c, 0))
        self._output = np.zeros((c, b))  # the latency: one block of silence first
        self._talk = TalkDetector(c, b)
        self._background = BackgroundNoise(c, b)
        generator = rng if rng is not None else np.random.default_rng(0)
        self._nlp = NonLinearProcessor(c, b, generator, comfort_noise=comfort_noise) if nlp else None

    @property
    def tail_samples(self) -> int:
        """Echo path length actually covered: ``partitions * block``."""
        return self.partitions * self.block

    @property
    def erle_db(self) -> np.ndarray:
        """(channels,) recent echo return loss enhancement of the linear filter: near-end power
        over residual power, smoothed over PATH_SMOOTHING_S (near 0 dB in double talk)."""
        return 10.0 * np.log10((self._near_power + 1e-9) / (self._error_powers[:, 0] + 1e-9))

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
            if not (np.issubdtype(signal.dtype, np.integer) or np.issubdtype(signal.dtype, np.floating)):
                raise DspError(f"echo canceller: {name} must hold numbers, not {signal.dtype}")
            if signal.dtype.kind == "f" and not np.isfinite(signal).all():  # integers always are
                raise DspError(f"echo canceller: {name} contains NaN or infinity")
        if far_end.shape != near_end.shape:
            raise DspError(
                f"echo canceller: far_end {far_end.shape} and near_end {near_end.shape} differ in shape"
            )
        n = far_end.shape[1]
        far = np.concatenate([self._pending_far, far_end.astype(np.float64)], axis=1)
        near = np.concatenate([self._pending_near, near_end.astype(np.float64)], axis=1)
        count = far.shape[1] // self.block
        outputs = [self._output]
        for i in range(count):
            span = slice(i * self.block, (i + 1) * self.block)
            outputs.append(self._process_block(far[:, span], near[:, span]))
        self._pending_far = far[:, count * self.block :]
        self._pending_near = near[:, count * self.block :]
        produced = np.concatenate(outputs, axis=1)
        self._output = produced[:, n:]
        return produced[:, :n]

    def _process_block(self, far: np.ndarray, near: np.ndarray) -> np.ndarray:
        b = self.block
        window = self._far_window  # the previous far-end block, then this one
        window[:, :b] = window[:, b:]
        window[:, b:] = far
        spectrum = np.fft.rfft(window, axis=1)
        self._far_spectra[:, 1:] = self._far_spectra[:, :-1]  # shift by one partition, newest first
        self._far_spectra[:, 0] = spectrum
        self._far_bin_powers[:, 1:] = self._far_bin_powers[:, :-1]
        self._far_bin_powers[:, 0] = np.square(np.abs(spectrum))
        self._far_powers[:, 1:] = self._far_powers[:, :-1]
        self._far_powers[:, 0] = _mean_square(far)
        far_tail = self._far_powers.max(axis=1)
        far_active = far_tail > self._far_active_power

        estimates = np.fft.irfft(
            (self._weights * self._far_spectra[:, None]).sum(axis=2), n=2 * b, axis=-1
        )[..., b:]
        errors = near[:, None, :] - estimates  # (channels, 2, block): foreground, background
        residual = errors[:, 0, :]
        near_power = _mean_square(near)
        error_power = _mean_square(errors)
        echo_power = _mean_square(estimates[:, 0, :])

        self._background.update(residual, far_active)
        talk = self._talk.update(near_power, error_power[:, 0], echo_power, far_tail, self._background.power)
        self._adapt(errors[:, 1, :])
        self._two_path(error_power, near_power, far_active, talk)
        if self._nlp is None:
            return residual
        return self._nlp.process(residual, self._background, far_active, talk)

    def _adapt(self, error: np.ndarray) -> None:
        """One normalised, proportionate, constrained gradient step of the background filter."""
        b, p = self.block, self.partitions
        background = self._weights[:, 1]
        # (channels, partitions): the partitions' norms, |w|^2 summed as re^2 + im^2 over the bins
        pairs = background.view(np.float64)
        norms = np.sqrt(np.einsum("cpk,cpk->cp", pairs, pairs))
        alpha = PROPORTIONATE_ALPHA
        shares = (1.0 - alpha) / (2.0 * p) + (1.0 + alpha) * norms / (
            2.0 * norms.sum(axis=1, keepdims=True) + 1e-12
        )
        gains = p * shares  # 1 for every partition of a plain NLMS
        far_power = np.einsum("cp,cpk->ck", gains, self._far_bin_powers)
        self._normaliser = np.maximum(far_power, self._normaliser * NORMALISER_DECAY)
        self._error_window[:, b:] = error
        error_spectrum = np.fft.rfft(self._error_window, axis=1)
        gradient = (
            np.conj(self._far_spectra)
            * (error_spectrum / (self._normaliser + self._regularisation))[:, None, :]
        )
        taps = np.fft.irfft(gradient, n=2 * b, axis=-1)[..., :b]  # the constraint: first half only
        update = np.fft.rfft(taps, n=2 * b, axis=-1)
        self._weights[:, 1] += (self.step * gains)[:, :, None] * update

    def _two_path(
        self, error_power: np.ndarray, near_power: np.ndarray, far_active: np.ndarray, talk: np.ndarray
    ) -> None:
        a, slow = self._smoothing, self._slow_smoothing
        self._error_powers = a * self._error_powers + (1.0 - a) * error_power
        self._near_power = a * self._near_power + (1.0 - a) * near_power
        slow_powers = self._slow_powers
        slow_powers[:, 0] = slow * slow_powers[:, 0] + (1.0 - slow) * error_power[:, 0]
        slow_powers[:, 1] = slow * slow_powers[:, 1] + (1.0 - slow) * near_power
        self._wins = np.where(error_power[:, 1] < error_power[:, 0], self._wins + 1, 0)
        foreground, background = self._error_powers[:, 0], self._error_powers[:, 1]
        cancels = background * self._copy_min_erle < self._near_power
        steady = self._wins >= COPY_WINS
        better = background * self._copy_margin < foreground
        # Much better cannot be a talker's doing (it adds the same power to both errors).
        much_better = background * self._copy_despite_talk < foreground
        copy = far_active & cancels & steady & ((better & ~talk & ~self._talk.unexplained) | much_better)
        reset = background > foreground * self._reset_margin
        # A foreground that adds echo: no talker explains that (a talker adds the same power
        # to the input and to the error), the echo path changed. Restart from zero.
        harmful = far_active & (slow_powers[:, 0] > slow_powers[:, 1] * self._harmful)
        if copy.any():
            self._weights[copy, 0] = self._weights[copy, 1]
            self._error_powers[copy, 0] = self._error_powers[copy, 1]
        if reset.any():
            self._weights[reset, 1] = self._weights[reset, 0]
            self._error_powers[reset, 1] = self._error_powers[reset, 0]
        if harmful.any():
            self._weights[harmful] = 0.0
            self._error_powers[harmful] = self._near_power[harmful, None]
            self._slow_powers[harmful, 0] = self._slow_powers[harmful, 1]
            self._talk.restart(harmful)
