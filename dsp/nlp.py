"""Near-end talk detection, non-linear processor (NLP) and comfort noise for dsp/echo.py.

After the linear canceller a residual echo some 20-30 dB below the echo is still audible on
a quiet line. ITU-T G.168 (clause 3.13 and the NLP tests of clause 6.4.2) lets an echo
canceller follow its linear filter with a *non-linear processor*: while only the far end
talks, the residual is replaced by comfort noise at the level and spectrum of the line's
background noise, so the listener hears neither the echo nor the noise switching on and off.
Everything here works per block of ``block`` samples and is vectorised over channels.

**TalkDetector** says when the near end holds a talker (double talk when the far end talks
too). A block is near-end talk when all of:

- the residual is not explained by echo: its power is above ``margin_db`` over the residual
  expected from the echo estimate (echo-estimate power times the residual-to-echo ratio
  learnt on the far-end-only blocks), and above the background noise by ``NOISE_MARGIN_DB``;
- the near end is louder than the echo estimate's envelope by ``NEAR_OVER_ECHO_DB``;
- within the last ``LOUD_HOLD_MS`` the near end was *loud*: louder than the loudest far-end
  block in the echo tail minus ``LOUD_MARGIN_DB``. This is the Geigel detector's idea (G.168
  convention: a hybrid loses at least 6 dB, so a near end louder than the far end minus
  6 dB is a talker), used as a permission on block powers with a 3 dB margin: on hybrids of
  6 dB the echo of speech crossed the 6 dB line. It is what tells a talker from an echo the
  filter does not model yet (start of a call, or after the echo path changed): those are
  not loud, so they neither open the NLP nor count as talk.

Talk is held for ``hold_ms`` so syllable gaps are not chopped. During talk the canceller in
dsp/echo.py keeps its foreground filter (see there).

**NonLinearProcessor** replaces the residual by comfort noise on blocks where the far end is
active (any far-end power within the echo tail) and no near-end talk is detected; the gain
moves linearly across one block (no clicks): ``out = g * e + (1 - g) * noise``. The
background spectrum (``block``-point DFT bins) is tracked on the blocks the canceller allows
(no talker, and the far end silent, or the linear filter trusted and, per bin, its echo
estimate within ``LEARN_ECHO_OVER_NOISE_DB`` of the background; see dsp/echo.py) by a minimum tracker that
follows a falling level at once and a rising one at ``NOISE_RISE_DB_PER_S``. Noise is generated per block with random phases and that spectrum,
from the ``numpy.random.Generator`` given to the constructor (drawn for every channel on
every block, so a channel's noise does not depend on the other channels' signals).
"""

from __future__ import annotations

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp import echo_kernels as kernels
from dsp.jit import ready
from dsp.levels import db_to_power_ratio, dbm0_to_rms

FAR_ACTIVE_DBM0 = -50.0  # far end louder than this within the tail: there may be echo
LOUD_MARGIN_DB = 3.0  # near end above the loudest far-end block in the tail minus this: loud
LOUD_HOLD_MS = 500.0  # a loud near end within this long makes unexplained residual a talker
NEAR_OVER_ECHO_DB = 0.0  # near end this far above the echo estimate's envelope
ENVELOPE_RELEASE_DB_PER_S = 200.0  # how fast that envelope falls
NOISE_MARGIN_DB = 6.0  # a residual within this of the background is no talker
RATIO_SMOOTHING_S = 0.2  # time constant of the residual-to-echo ratio (in dB) learnt on far-end-only blocks
NOISE_RISE_DB_PER_S = 20.0  # how fast the background estimate may climb on the blocks it learns from (minimum tracking)
# While the far end talks, a bin of the background is learnt only on blocks where the echo
# estimate's power in that bin is at most this far above the background's: there the residual
# echo (the filter removes 20-40 dB, less below 250 Hz) and the codec's error on the echo
# (G.711 µ-law: ~38 dB under the signal) are well under the line's noise. (Learning on every
# block of far speech, the minimum tracker rose between the speech's pauses to the residual
# echo and the echo's codec error: comfort noise 1-2.6 dB above the line's noise on the G.168
# cases; gated on the whole band at 10 dB, 0.3-0.7 dB above on some, all of it below 250 Hz,
# 3-5 dB there; issue 17.)
LEARN_ECHO_OVER_NOISE_DB = 0.0
NOISE_SMOOTHING_S = 0.1  # time constant of the per-bin power smoothing before the minimum (5 blocks of 20 ms: less low bias)
NOISE_FLOOR_POWER = 1e-4  # per-bin floor of the estimate (about -120 dBm0): never exactly zero


def _blocks(ms: float, block: int) -> int:
    return int(np.ceil(ms * SAMPLE_RATE / 1000.0 / block))


class TalkDetector:
    """Near-end talk on blocks of ``block`` samples (see the module docstring)."""

    def __init__(self, channels: int, block: int, margin_db: float = 12.0, hold_ms: float = 80.0) -> None:
        ready(*kernels.KERNELS)  # compiled (or loaded from numba's cache) now, not on the media loop
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
        # The hold and the loud permission as the block numbers they last until.
        self._blocks = 0  # blocks seen
        self._hold_until = np.zeros(channels, dtype=np.int64)
        self._loud_until = np.zeros(channels, dtype=np.int64)
        # Left sides of the four comparisons of a block, as power ratios (dsp/echo_kernels.py).
        self._factors = np.array([self.loud_ratio, self.margin, self.noise_margin, self.near_over_echo])
        self.talk = np.zeros(channels, dtype=bool)
        self.unexplained = np.zeros(channels, dtype=bool)  # this block's residual is more than echo

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
        kernels.talk_update(
            now, near_power, residual_power, echo_power, far_power, noise_power, far_active, self._factors,
            self.envelope_decay, self.learning, self.loud_blocks, max(self.hold_blocks, 1), self.log_ratio,
            self.echo_envelope, self._loud_until, self._hold_until, self.talk, self.unexplained)
        return self.talk


class BackgroundNoise:
    """Per-bin background power of the residual, tracked on the blocks the caller allows
    (minimum tracking), and comfort noise with that spectrum."""

    def __init__(self, channels: int, block: int) -> None:
        if block < 2:
            raise DspError(f"background noise: block must be at least 2 samples, not {block}")
        self.block = block
        block_s = block / SAMPLE_RATE
        self.rise = db_to_power_ratio(NOISE_RISE_DB_PER_S * block_s)
        self.smoothing = float(np.exp(-block_s / NOISE_SMOOTHING_S))
        bins = block // 2 + 1
        self.smoothed = np.zeros((channels, bins))
        self.spectrum = np.full((channels, bins), np.nan)  # per-bin power; NaN: not seen yet
        self._known = np.zeros((channels, bins))  # the spectrum with 0 where not seen yet
        self._seen_all = False  # no NaN left in spectrum
        weights = np.full(bins, 2.0)
        weights[0] = 1.0
        if block % 2 == 0:
            weights[-1] = 1.0
        self._bin_weights = weights / (block * block)  # per-bin power -> mean square

    @property
    def known(self) -> np.ndarray:
        """(channels, bins) per-bin background power (``block``-point DFT), 0 where not seen
        yet; the tracker's own array (read it, do not keep it across ``update``)."""
        return self._known

    @property
    def power(self) -> np.ndarray:
        """(channels,) estimated background mean square (16-bit scale squared); 0 until seen."""
        return self._known @ self._bin_weights

    def update(self, residual: np.ndarray, held: np.ndarray) -> None:
        """residual (channels, block); held (channels,) or (channels, bins) bool: do not learn
        there (the echo canceller holds a channel on talk or while the far end is active and
        its filter is not trusted, and a bin where the echo estimate is above the background)."""
        if held.all():
            return  # nothing to learn from on any channel (what follows would change nothing)
        spectrum = np.fft.rfft(residual, axis=1)
        power = (spectrum * spectrum.conj()).real
        if self._seen_all and not held.any():
            # Every channel learns and every bin was seen: what the masks below give, in a
            # third of the numpy calls (the common case, once per engine tick).
            smoothed, spectrum = self.smoothed, self.spectrum  # in place: no new arrays
            smoothed *= self.smoothing
            power *= 1.0 - self.smoothing
            smoothed += power
            spectrum *= self.rise
            np.minimum(spectrum, smoothed, out=spectrum)
            np.maximum(spectrum, NOISE_FLOOR_POWER, out=spectrum)
            self._known = spectrum
            return
        quiet = ~held if held.ndim == 2 else ~held[:, None]
        first = quiet & np.isnan(self.spectrum)
        smoothed = np.where(first, power, self.smoothing * self.smoothed + (1.0 - self.smoothing) * power)
        self.smoothed = np.where(quiet, smoothed, self.smoothed)
        rising = np.where(first, self.smoothed, self.spectrum * self.rise)
        tracked = np.maximum(np.minimum(rising, self.smoothed), NOISE_FLOOR_POWER)
        self.spectrum = np.where(quiet, tracked, self.spectrum)
        self._known = np.where(quiet, tracked, self._known)  # tracked is finite where quiet
        self._seen_all = not np.isnan(self.spectrum).any()

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """The random numbers of one block of noise (``generate`` draws them itself)."""
        return rng.standard_normal((*self.spectrum.shape, 2))

    def generate(self, rng: np.random.Generator, draws: np.ndarray | None = None) -> np.ndarray:
        """One block (channels, block) of noise with the tracked spectrum and random phases."""
        if draws is None:
            draws = self.draw(rng)
        amplitude = np.sqrt(self._known / 2.0)
        # The draws' pairs read as complex numbers (real, imaginary): draws[..., 0] + 1j * draws[..., 1]
        # without the three calls.
        return np.fft.irfft(amplitude * draws.view(np.complex128)[..., 0], n=self.block, axis=1)


class NonLinearProcessor:
    """Residual-echo suppressor with comfort noise, on blocks of ``block`` samples."""

    def __init__(
        self, channels: int, block: int, rng: np.random.Generator, comfort_noise: bool = True
    ) -> None:
        self.rng = rng
        self.comfort_noise = comfort_noise
        self._passing = np.ones(channels, dtype=bool)  # the gain is 1 (else 0) at the end of the last block
        self._flags = [True] * channels  # the same as a list
        self.ramp = (np.arange(1, block + 1) / block)[None, :]

    @property
    def suppressing(self) -> np.ndarray:
        """(channels,) bool: the last block was (being) replaced by comfort noise."""
        return ~self._passing

    def process(
        self, residual: np.ndarray, background: BackgroundNoise, far_active: np.ndarray, talk: np.ndarray
    ) -> np.ndarray:
        """residual (channels, block): the linear canceller's output; far_active, talk
        (channels,) bool. Returns the output block."""
        passes = far_active <= talk  # the target gain is 1: the far end is silent, or a talker
        draws = background.draw(self.rng)  # drawn on every block, for every channel
        was_passing = self._passing
        self._passing = passes
        flags = passes.tolist()  # (a Python list compares faster than numpy on a few channels)
        moved = flags != self._flags
        self._flags = flags
        if self.comfort_noise and not moved:
            # No gain moves on this block (the common case): each channel's output is its
            # residual (gain 1) or the noise (gain 0), what the cross-fade below gives then.
            if all(flags):
                return residual * 1.0  # a new array, without making the noise
            return np.where(passes[:, None], residual, background.generate(self.rng, draws))
        before, target = was_passing * 1.0, passes * 1.0
        gain = before[:, None] + (target - before)[:, None] * self.ramp
        if not self.comfort_noise:
            return gain * residual
        return gain * residual + (1.0 - gain) * background.generate(self.rng, draws)
