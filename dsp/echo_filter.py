"""The linear part of the line echo canceller (dsp/echo.py): a frequency-domain adaptive
filter with a Kalman-style step, vectorised over channels.

**Structure.** One FFT window of ``size`` samples slides over the far end by one block of
``block`` samples per call (overlap-save with hop ``block``). The echo path is one filter of
``taps`` coefficients (the whole tail, bulk delay included) held as its ``size``-point
spectrum; ``size`` is the smallest even 5-smooth number (a fast size for numpy's pocketfft)
of at least ``taps + ERROR_BLOCKS x block``, so the circular convolution's last three blocks
of outputs are linear ones (64 ms tail, 20 ms block: 512 + 480 -> 1000; the step's error may
span three blocks, see ERROR_BLOCKS). Per block this costs four numpy FFT
calls on all channels at once: the far-end window and the last step's constrained
coefficients in one call (the coefficients' transform waits for the next block), the two
echo estimates, the error, the gradient -- no Python loop over channels or partitions; the
elementwise work between them (the step below, the proportionate update, the error window)
is compiled (dsp/echo_kernels.py).

Why one long window and not a partitioned (MDF) filter: the update is normalised per
frequency bin by the far end's power in that bin; with 1000-point bins (8 Hz) this whitens
speech almost completely, so every bin converges at the same rate whatever the talker's
spectrum. With 160-sample partitions (50 Hz bins) the same normalisation leaves most of
speech's spectral spread, and measured on G.168's echo paths with real speech the MDF
reached only 12-20 dB after 1 s where this reaches 24-33 dB.

**Step control (Kalman-style).** A fixed step is either slow at the start or noisy at the
end (on a G.711 line the echo is only some 35 dB above the codec's own noise). Following the
idea of the frequency-domain adaptive Kalman filter (Enzner and Vary, 2006), each bin keeps
``misalignment``: an estimate of the power of the error of its coefficient. Then

- residual echo expected in the bin: ``R = misalignment x far power x block / size``;
- everything else in the error (line noise, codec noise, a near-end talker):
  ``Psi = max(smoothed |E|^2 - R, floor)``;
- step in the bin: ``mu = step x R / (R + Psi)``: near ``step`` while the error is mostly
  echo (start of a call), falling as the filter converges, and small while a near-end talker
  fills the error (double talk);
- the misalignment shrinks by ``CONVERGENCE x mu x (far power now / smoothed far power)``
  per block and grows by ``1 - PERSISTENCE`` of the coefficient's own power (the echo path
  may drift).

**Proportionate step over the taps.** The gradient is constrained in the time domain, where
each tap's step is scaled by an IPNLMS-style gain (alpha ``PROPORTIONATE_ALPHA``): ``1 - alpha
+ (1 + alpha) |w_n| / mean |w|``, normalised to mean 1 and capped at ``GAIN_CAP``. A hybrid's
echo path is sparse in a 64 ms tail (a bulk delay, then 8-16 ms of response), so the taps
outside it get a smaller step and add less noise; the cap keeps the per-bin normalisation
(which assumes equal taps) stable. Measured on G.168's paths with speech: worst 1 s ERLE
14.7 -> 21.8 dB (seed 2) and 16.5 -> 20.2 dB (seed 3), steady state 2-4 dB better; caps
above 1.5 made it worse, uncapped it diverged.

``restart`` zeroes the foreground and puts the misalignment back to its initial value (the
background re-adapts from where it is, with the step of a fresh start): the canceller calls
it when the echo path changed.
"""

from __future__ import annotations

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp import echo_kernels as kernels
from dsp.jit import ready
from dsp.levels import dbm0_to_rms

# Prior of the misalignment outside the telephone band: the echo passes the codec's receive and
# send filters (ITU-T G.712, 300-3400 Hz passband), so out of band the path is far weaker (7 of
# the 8 G.168 Annex D paths are 30 dB down above 3.7 kHz; model 8 only 12-16 dB down below
# 150 Hz, hence the low edge at 100 Hz). A smaller initial misalignment there means a smaller
# step on bins that speech hardly excites: less noise while converging (measured on G.168's
# paths, docs/dsp.md: worst 1 s ERLE over seeds 1-3 20.4 -> 21.5 dB; after a path change,
# seed 1 19.8 -> 22.2 dB; the high edge at 3500 Hz left one 128 ms case at 29.5 dB after 5 s).
BAND_LOW_HZ = 100.0
BAND_HIGH_HZ = 3600.0
OUT_OF_BAND = 0.01  # initial misalignment out of band, relative to INITIAL_MISALIGNMENT (-20 dB)
INITIAL_MISALIGNMENT = 1.0  # |coefficient error|^2 per bin at the start: a 0 dB echo path unknown
CONVERGENCE = 0.1  # misalignment shrinks by this x mu per fully excited block (measured, see module doc)
# Data reuse while converging (an affine-projection-like second look at the last data): each
# step's error spans the last ERROR_BLOCKS blocks, all recomputed with the current coefficients
# (the earlier blocks' errors, weighted REUSE_WEIGHT, taken again), and the misalignment shrinks
# by REUSE_CONVERGENCE x mu. Only while the channel's mean misalignment is above REUSE_ABOVE of
# its initial value (-15 dB): once converged the longer error only adds noise. Measured on
# G.168's paths, worst over seeds 1-8 (docs/dsp.md): after an echo path change 16.1 -> 20.9 dB
# within 1 s (two blocks: 18.4); weight 1 made a fresh start overshoot (16.6 dB at 1 s), reuse
# kept after convergence lost 2-7 dB of steady state.
ERROR_BLOCKS = 3
REUSE_WEIGHT = 0.7
REUSE_CONVERGENCE = 0.2
REUSE_ABOVE = 0.03
PERSISTENCE = 0.9999  # per block: the echo path is believed to drift by 1e-4 of its power
FAR_SMOOTHING = 0.5  # per block: smoothing of the far-end power per bin (the window moves by 22 %)
ERROR_SMOOTHING = 0.8  # per block: smoothing of the error power per bin (time constant ~90 ms)
PROPORTIONATE_ALPHA = 0.0  # IPNLMS alpha per tap: -1 = plain, towards 1 = step follows |coefficient|
GAIN_CAP = 1.25  # largest proportionate gain: mostly the taps far from the path get a smaller step
REGULARISATION_DBM0 = -70.0  # far end below this level in a bin: the step there shrinks


def fast_size(minimum: int) -> int:
    """The smallest even number >= ``minimum`` with no prime factor above 5."""
    n = max(2, minimum + (minimum % 2))
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 2


class KalmanEchoFilter:
    """Two sets of coefficients per channel -- [0] foreground (produces the output), [1]
    background (adapts) -- over one sliding far-end window (see the module docstring)."""

    def __init__(self, channels: int, taps: int, block: int, step: float) -> None:
        ready(*kernels.KERNELS)  # compiled (or loaded from numba's cache) now, not on the media loop
        if taps < 1 or block < 1:
            raise DspError(f"echo filter: taps and block must be positive, not {taps}, {block}")
        self.channels, self.taps, self.block, self.step = channels, taps, block, step
        self.size = fast_size(taps + ERROR_BLOCKS * block)
        bins = self.size // 2 + 1
        # Row 0: the far end, newest block last; row 1: the background's coefficients (time
        # domain, zero-padded). Both go through one forward transform per block (see estimate).
        self._rows = np.zeros((channels, 2, self.size))
        self._window = self._rows[:, 0]
        self._taps = self._rows[:, 1, :taps]  # a view: written in place
        self._pending = False  # a step's end (_finish_step) waits for the next transform
        self._error_window = np.zeros((channels, self.size))  # zeros, then the error block
        self._far_spectrum = np.zeros((channels, bins), dtype=complex)
        self.weights = np.zeros((channels, 2, bins), dtype=complex)
        # Work arrays written in place on every block (numpy's out=): transforms, products.
        self._spectra = np.zeros((channels, 2, bins), dtype=complex)  # far window, background taps
        self._products = np.zeros((channels, 2, bins), dtype=complex)  # weights x far spectrum, then |X|^2
        self._estimates = np.zeros((channels, 2, self.size))
        self._error_spectrum = np.zeros((channels, bins), dtype=complex)
        self._step = np.zeros((channels, bins), dtype=complex)
        self._decay = np.ones((channels, bins))  # the misalignment's decay of the last step
        self._gradient = np.zeros((channels, self.size))
        # Smoothed per-bin powers of the far end [0] and of the error [1].
        self._powers = np.zeros((2, channels, bins))
        self._smoothing = np.array([FAR_SMOOTHING, ERROR_SMOOTHING])
        self._mean_misalignment = np.zeros(channels)
        self._no_channels = np.zeros(channels, dtype=bool)
        self._near = np.zeros((channels, ERROR_BLOCKS * block))  # the near end of the last blocks
        self._reusing = np.zeros(channels, dtype=bool)  # this step's error spans ERROR_BLOCKS blocks
        freqs = np.arange(bins) * (SAMPLE_RATE / self.size)
        in_band = (freqs >= BAND_LOW_HZ) & (freqs <= BAND_HIGH_HZ)
        self._initial = INITIAL_MISALIGNMENT * np.where(in_band, 1.0, OUT_OF_BAND)  # (bins,)
        self.misalignment = np.tile(self._initial, (channels, 1))
        self._regularisation = self.size * dbm0_to_rms(REGULARISATION_DBM0) ** 2
        self._share = block / self.size  # error-FFT power per unit of window-FFT power, per block
        self._reuse_share = self._share * (1.0 + (ERROR_BLOCKS - 1) * REUSE_WEIGHT**2)
        self._reuse_above = REUSE_ABOVE * float(self._initial.mean())

    def estimate(self, far: np.ndarray) -> np.ndarray:
        """Take the next far-end block (channels, block); return the echo estimates of both
        coefficient sets for it, (channels, 2, block)."""
        b = self.block
        window = self._window
        window[:, :-b] = window[:, b:]
        window[:, -b:] = far
        if not self._pending:
            self._far_spectrum = spectrum = np.fft.rfft(window, axis=1)
        else:
            # The last step's coefficients are transformed with the new far-end window: one
            # call for both (numpy's per-call overhead is a large part of a transform's cost).
            spectra = np.fft.rfft(self._rows, axis=-1, out=self._spectra)
            self._far_spectrum = spectrum = spectra[:, 0]
            self._finish_step(spectra[:, 1])
        products = np.multiply(self.weights, spectrum[:, None, :], out=self._products)
        return np.fft.irfft(products, n=self.size, axis=-1, out=self._estimates)[..., -b:]

    def adapt(self, near: np.ndarray, from_foreground: np.ndarray | None = None) -> None:
        """One step of the background set from the near end of the last block (channels, block):
        its error over the last ERROR_BLOCKS blocks, with the coefficients of the last estimate
        (the foreground's on channels where ``from_foreground``, a bool mask: a background just
        reset to the foreground)."""
        reusing = self._reusing
        kernels.error_window(
            self._near, near, self._estimates, self._no_channels if from_foreground is None else from_foreground,
            self.misalignment, self._reuse_above, REUSE_WEIGHT, reusing, self._error_window)
        error_spectrum = np.fft.rfft(self._error_window, axis=1, out=self._error_spectrum)
        step, decay = self._step, self._decay
        kernels.step_spectrum(
            self._far_spectrum, error_spectrum, self._powers, self.misalignment, self._smoothing,
            self._share, self._regularisation, self.step, CONVERGENCE, PERSISTENCE,
            reusing, self._reuse_share, REUSE_CONVERGENCE, step, decay)
        gradient = np.fft.irfft(step, n=self.size, axis=1, out=self._gradient)
        # The constraint: a filter of ``taps`` coefficients (the kernel reads the first ``taps``).
        kernels.add_proportionate(self._taps, gradient, PROPORTIONATE_ALPHA, GAIN_CAP)
        # The new coefficients' spectrum and the misalignment's update wait for the next block's
        # transform (estimate), or for anyone who reads them (_flush).
        self._pending = True

    def _finish_step(self, background: np.ndarray) -> None:
        """The end of the last step: the background's spectrum and the misalignment."""
        self._pending = False
        kernels.finish_step(self.weights, background, self.misalignment, self._decay, PERSISTENCE, self._mean_misalignment)

    def _flush(self) -> None:
        if self._pending:
            self._finish_step(np.fft.rfft(self._taps, n=self.size, axis=1))

    def impulse_responses(self) -> np.ndarray:
        """(channels, taps): the foreground's echo path estimate, on the 16-bit scale."""
        return np.fft.irfft(self.weights[:, 0], n=self.size, axis=-1)[:, : self.taps]

    def copy_to_foreground(self, channels: np.ndarray) -> None:
        self._flush()
        self.weights[channels, 0] = self.weights[channels, 1]

    def copy_to_background(self, channels: np.ndarray) -> None:
        self._flush()
        self.weights[channels, 1] = self.weights[channels, 0]
        # Only those channels' inverse transforms (each row's is the same alone or in a batch).
        self._taps[channels] = np.fft.irfft(self.weights[channels, 0], n=self.size, axis=-1)[:, : self.taps]

    def reopen(self, channels: np.ndarray) -> None:
        """The echo path may have changed on ``channels`` (bool mask): the step of a fresh start."""
        self._flush()
        self.misalignment[channels] = self._initial

    def restart(self, channels: np.ndarray) -> None:
        """The foreground does harm on ``channels`` (bool mask): zero it, and give the background
        the step of a fresh start (initial misalignment) from where it is."""
        self._flush()
        self.weights[channels, 0] = 0.0
        self.misalignment[channels] = self._initial
