"""The echo canceller as it was before its per-tick control was vectorised (dsp/echo.py,
dsp/echo_filter.py, dsp/nlp.py at commit aa74bff, docstrings and comments dropped): the
oracle of tests/test_echo_equivalence.py, which asserts the current canceller gives the same
output. Frozen on purpose: when the canceller's behaviour is meant to change, delete this file
and that test rather than edit them."""

from __future__ import annotations

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.levels import db_to_power_ratio, dbm0_to_rms

FAR_ACTIVE_DBM0 = -50.0

LOUD_MARGIN_DB = 3.0

LOUD_HOLD_MS = 500.0

NEAR_OVER_ECHO_DB = 0.0

ENVELOPE_RELEASE_DB_PER_S = 200.0

NOISE_MARGIN_DB = 6.0

RATIO_SMOOTHING_S = 0.2

NOISE_RISE_DB_PER_S = 6.0

NOISE_SMOOTHING_S = 0.1

NOISE_FLOOR_POWER = 0.0001

def _blocks(ms: float, block: int) -> int:
    return int(np.ceil(ms * SAMPLE_RATE / 1000.0 / block))

class TalkDetector:

    def __init__(self, channels: int, block: int, margin_db: float=12.0, hold_ms: float=80.0) -> None:
        if not 0.0 < margin_db <= 40.0:
            raise DspError(f'talk detector: margin_db must be within 0..40, not {margin_db!r}')
        if not 0.0 <= hold_ms <= 1000.0:
            raise DspError(f'talk detector: hold_ms must be within 0..1000, not {hold_ms!r}')
        self.margin = db_to_power_ratio(margin_db)
        self.noise_margin = db_to_power_ratio(NOISE_MARGIN_DB)
        self.near_over_echo = db_to_power_ratio(NEAR_OVER_ECHO_DB)
        self.loud_ratio = db_to_power_ratio(-LOUD_MARGIN_DB)
        self.far_active_power = dbm0_to_rms(FAR_ACTIVE_DBM0) ** 2
        self.envelope_decay = db_to_power_ratio(-ENVELOPE_RELEASE_DB_PER_S * block / SAMPLE_RATE)
        self.learning = 1.0 - float(np.exp(-block / SAMPLE_RATE / RATIO_SMOOTHING_S))
        self.hold_blocks = _blocks(hold_ms, block)
        self.loud_blocks = _blocks(LOUD_HOLD_MS, block)
        self.log_ratio = np.zeros(channels)
        self.echo_envelope = np.zeros(channels)
        self.hold = np.zeros(channels, dtype=np.int64)
        self.loud = np.zeros(channels, dtype=np.int64)
        self.talk = np.zeros(channels, dtype=bool)
        self.unexplained = np.zeros(channels, dtype=bool)

    def restart(self, channels: np.ndarray) -> None:
        self.log_ratio = np.where(channels, 0.0, self.log_ratio)

    def update(self, near_power: np.ndarray, residual_power: np.ndarray, echo_power: np.ndarray, far_power: np.ndarray, noise_power: np.ndarray) -> np.ndarray:
        far_active = far_power > self.far_active_power
        self.echo_envelope = np.maximum(echo_power, self.echo_envelope * self.envelope_decay)
        loud = far_active & (near_power > far_power * self.loud_ratio)
        self.loud = np.where(loud, self.loud_blocks, np.maximum(self.loud - 1, 0))
        expected = echo_power * np.exp(self.log_ratio) * self.margin
        self.unexplained = (residual_power > expected) & (residual_power > noise_power * self.noise_margin) & (near_power > self.echo_envelope * self.near_over_echo)
        talk_now = self.unexplained & (self.loud > 0)
        self.hold = np.where(talk_now, self.hold_blocks, np.maximum(self.hold - 1, 0))
        self.talk = talk_now | (self.hold > 0)
        quiet_near = near_power <= self.echo_envelope * self.near_over_echo
        learn = far_active & ~self.talk & quiet_near & (echo_power > 0.0) & (residual_power > 0.0)
        ratio = np.log(np.maximum(residual_power, 1e-12) / np.maximum(echo_power, 1e-12))
        self.log_ratio = np.where(learn, self.log_ratio + self.learning * (ratio - self.log_ratio), self.log_ratio)
        return self.talk

class BackgroundNoise:

    def __init__(self, channels: int, block: int) -> None:
        if block < 2:
            raise DspError(f'background noise: block must be at least 2 samples, not {block}')
        self.block = block
        block_s = block / SAMPLE_RATE
        self.rise = db_to_power_ratio(NOISE_RISE_DB_PER_S * block_s)
        self.smoothing = float(np.exp(-block_s / NOISE_SMOOTHING_S))
        bins = block // 2 + 1
        self.smoothed = np.zeros((channels, bins))
        self.spectrum = np.full((channels, bins), np.nan)
        self._known = np.zeros((channels, bins))
        self._seen_all = False
        weights = np.full(bins, 2.0)
        weights[0] = 1.0
        if block % 2 == 0:
            weights[-1] = 1.0
        self._bin_weights = weights / (block * block)

    @property
    def power(self) -> np.ndarray:
        return self._known @ self._bin_weights

    def update(self, residual: np.ndarray, far_active: np.ndarray) -> None:
        if far_active.all():
            return
        spectrum = np.fft.rfft(residual, axis=1)
        power = (spectrum * spectrum.conj()).real
        if self._seen_all and (not far_active.any()):
            self.smoothed = self.smoothing * self.smoothed + (1.0 - self.smoothing) * power
            self.spectrum = np.maximum(np.minimum(self.spectrum * self.rise, self.smoothed), NOISE_FLOOR_POWER)
            self._known = self.spectrum
            return
        quiet = ~far_active[:, None]
        first = quiet & np.isnan(self.spectrum)
        smoothed = np.where(first, power, self.smoothing * self.smoothed + (1.0 - self.smoothing) * power)
        self.smoothed = np.where(quiet, smoothed, self.smoothed)
        rising = np.where(first, self.smoothed, self.spectrum * self.rise)
        tracked = np.maximum(np.minimum(rising, self.smoothed), NOISE_FLOOR_POWER)
        self.spectrum = np.where(quiet, tracked, self.spectrum)
        self._known = np.where(quiet, tracked, self._known)
        self._seen_all = not np.isnan(self.spectrum).any()

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal((*self.spectrum.shape, 2))

    def generate(self, rng: np.random.Generator, draws: np.ndarray | None=None) -> np.ndarray:
        if draws is None:
            draws = self.draw(rng)
        amplitude = np.sqrt(self._known / 2.0)
        return np.fft.irfft(amplitude * (draws[..., 0] + 1j * draws[..., 1]), n=self.block, axis=1)

class NonLinearProcessor:

    def __init__(self, channels: int, block: int, rng: np.random.Generator, comfort_noise: bool=True) -> None:
        self.rng = rng
        self.comfort_noise = comfort_noise
        self.gain = np.ones(channels)
        self.ramp = (np.arange(1, block + 1) / block)[None, :]

    @property
    def suppressing(self) -> np.ndarray:
        return self.gain < 0.5

    def process(self, residual: np.ndarray, background: BackgroundNoise, far_active: np.ndarray, talk: np.ndarray) -> np.ndarray:
        target = np.where(far_active & ~talk, 0.0, 1.0)
        passing = self.gain.all() and target.all()
        gain = self.gain[:, None] + (target - self.gain)[:, None] * self.ramp
        self.gain = target
        draws = background.draw(self.rng)
        if not self.comfort_noise:
            return gain * residual
        if passing:
            return residual * 1.0
        return gain * residual + (1.0 - gain) * background.generate(self.rng, draws)


BAND_LOW_HZ = 100.0

BAND_HIGH_HZ = 3600.0

OUT_OF_BAND = 0.01

INITIAL_MISALIGNMENT = 1.0

CONVERGENCE = 0.1

PERSISTENCE = 0.9999

FAR_SMOOTHING = 0.5

ERROR_SMOOTHING = 0.8

PROPORTIONATE_ALPHA = 0.0

GAIN_CAP = 1.25

REGULARISATION_DBM0 = -70.0

def _power(spectrum: np.ndarray) -> np.ndarray:
    return (spectrum * spectrum.conj()).real

def fast_size(minimum: int) -> int:
    n = max(2, minimum + minimum % 2)
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 2

class KalmanEchoFilter:

    def __init__(self, channels: int, taps: int, block: int, step: float) -> None:
        if taps < 1 or block < 1:
            raise DspError(f'echo filter: taps and block must be positive, not {taps}, {block}')
        self.channels, self.taps, self.block, self.step = (channels, taps, block, step)
        self.size = fast_size(taps + block)
        bins = self.size // 2 + 1
        self._rows = np.zeros((channels, 2, self.size))
        self._window = self._rows[:, 0]
        self._taps = self._rows[:, 1, :taps]
        self._pending: tuple[np.ndarray] | None = None
        self._error_window = np.zeros((channels, self.size))
        self._far_spectrum = np.zeros((channels, bins), dtype=complex)
        self.weights = np.zeros((channels, 2, bins), dtype=complex)
        self._far_power = np.zeros((channels, bins))
        self._error_power = np.zeros((channels, bins))
        freqs = np.arange(bins) * (SAMPLE_RATE / self.size)
        in_band = (freqs >= BAND_LOW_HZ) & (freqs <= BAND_HIGH_HZ)
        self._initial = INITIAL_MISALIGNMENT * np.where(in_band, 1.0, OUT_OF_BAND)
        self.misalignment = np.tile(self._initial, (channels, 1))
        self._regularisation = self.size * dbm0_to_rms(REGULARISATION_DBM0) ** 2
        self._share = block / self.size

    def estimate(self, far: np.ndarray) -> np.ndarray:
        b = self.block
        window = self._window
        window[:, :-b] = window[:, b:]
        window[:, -b:] = far
        if self._pending is None:
            self._far_spectrum = spectrum = np.fft.rfft(window, axis=1)
        else:
            spectra = np.fft.rfft(self._rows, axis=-1)
            self._far_spectrum = spectrum = spectra[:, 0]
            self._finish_step(spectra[:, 1])
        return np.fft.irfft(self.weights * spectrum[:, None, :], n=self.size, axis=-1)[..., -b:]

    def adapt(self, error: np.ndarray) -> None:
        spectrum = self._far_spectrum
        now = _power(spectrum)
        far_power = self._far_power
        far_power *= FAR_SMOOTHING
        far_power += (1.0 - FAR_SMOOTHING) * now
        self._error_window[:, -self.block:] = error
        error_spectrum = np.fft.rfft(self._error_window, axis=1)
        error_power = self._error_power
        error_power *= ERROR_SMOOTHING
        error_power += (1.0 - ERROR_SMOOTHING) * _power(error_spectrum)
        residual = self.misalignment * far_power * self._share
        other = np.maximum(error_power - residual, self._regularisation * self._share)
        inverse = 1.0 / (far_power + self._regularisation)
        mu = self.step * residual / (residual + other)
        gradient = np.fft.irfft(np.conj(spectrum) * error_spectrum * (mu * inverse), n=self.size, axis=1)
        gradient = gradient[:, :self.taps]
        taps = self._taps
        gains = np.abs(taps)
        gains *= (0.5 + 0.5 * PROPORTIONATE_ALPHA) / (gains.mean(axis=1, keepdims=True) + 1e-09)
        gains += 0.5 - 0.5 * PROPORTIONATE_ALPHA
        np.minimum(gains, GAIN_CAP, out=gains)
        gains *= gradient
        taps += gains
        self._pending = (PERSISTENCE * (1.0 - CONVERGENCE * mu * now * inverse),)

    def _finish_step(self, background: np.ndarray) -> None:
        decay, = self._pending
        self._pending = None
        self.weights[:, 1] = background
        self.misalignment *= decay
        self.misalignment += (1.0 - PERSISTENCE) * _power(background)

    def _flush(self) -> None:
        if self._pending is not None:
            self._finish_step(np.fft.rfft(self._taps, n=self.size, axis=1))

    def impulse_responses(self) -> np.ndarray:
        return np.fft.irfft(self.weights[:, 0], n=self.size, axis=-1)[:, :self.taps]

    def copy_to_foreground(self, channels: np.ndarray) -> None:
        self._flush()
        self.weights[channels, 0] = self.weights[channels, 1]

    def copy_to_background(self, channels: np.ndarray) -> None:
        self._flush()
        self.weights[channels, 1] = self.weights[channels, 0]
        self._taps[channels] = self.impulse_responses()[channels]

    def reopen(self, channels: np.ndarray) -> None:
        self._flush()
        self.misalignment[channels] = self._initial

    def restart(self, channels: np.ndarray) -> None:
        self._flush()
        self.weights[channels, 0] = 0.0
        self.misalignment[channels] = self._initial


MIN_TAIL_MS, MAX_TAIL_MS = (8.0, 256.0)

BLOCK_MS_CHOICES = (5.0, 10.0, 20.0)

DEFAULT_BLOCK_MS = 20.0

DEFAULT_STEP = 0.7

COPY_MARGIN_DB = 0.5

COPY_WINS = 2

COPY_WINS_CONVERGING = 1

COPY_MIN_ERLE_DB = 6.0

COPY_DESPITE_TALK_DB = 6.0

RESET_MARGIN_DB = 6.0

PATH_SMOOTHING_S = 0.06

HARMFUL_DB = 1.0

HARMFUL_SMOOTHING_S = 0.3

NLP_TRUST_ERLE_DB = 20.0

REOPEN_ERLE_DB = 3.0

MAX_STEP = 1.0

def _mean_square(x: np.ndarray) -> np.ndarray:
    return (x[..., None, :] @ x[..., :, None])[..., 0, 0] / x.shape[-1]

class EchoCanceller:

    def __init__(self, channels: int, tail_ms: float=64.0, block_ms: float=DEFAULT_BLOCK_MS, step: float=DEFAULT_STEP, nlp: bool=True, comfort_noise: bool=True, rng: np.random.Generator | None=None) -> None:
        if not isinstance(channels, int | np.integer) or channels < 1:
            raise DspError(f'echo canceller: channels must be a positive integer, not {channels!r}')
        if not MIN_TAIL_MS <= tail_ms <= MAX_TAIL_MS:
            raise DspError(f'echo canceller: tail_ms must be within {MIN_TAIL_MS:g}..{MAX_TAIL_MS:g}, not {tail_ms!r}')
        if block_ms not in BLOCK_MS_CHOICES:
            raise DspError(f'echo canceller: block_ms must be one of {BLOCK_MS_CHOICES}, not {block_ms!r}')
        if not 0.0 < step <= MAX_STEP:
            raise DspError(f'echo canceller: step must be within 0..{MAX_STEP:g}, not {step!r}')
        self.channels = int(channels)
        self.tail_ms = tail_ms
        self.step = step
        self.block = round(block_ms * SAMPLE_RATE / 1000.0)
        self.latency_samples = self.block
        c, b = (self.channels, self.block)
        self._filter = KalmanEchoFilter(c, round(tail_ms * SAMPLE_RATE / 1000.0), b, step)
        self._smoothing = float(np.exp(-b / SAMPLE_RATE / PATH_SMOOTHING_S))
        self._slow_smoothing = float(np.exp(-b / SAMPLE_RATE / HARMFUL_SMOOTHING_S))
        self._error_powers = np.zeros((c, 2))
        self._near_power = np.zeros(c)
        self._slow_powers = np.zeros((c, 2))
        self._converged = np.zeros(c, dtype=bool)
        self._wins = np.zeros(c, dtype=np.int64)
        self._far_powers = np.zeros((c, -(-self._filter.taps // b) + 1))
        self._far_active_power = dbm0_to_rms(FAR_ACTIVE_DBM0) ** 2
        self._copy_min_erle = db_to_power_ratio(COPY_MIN_ERLE_DB)
        self._copy_margin = db_to_power_ratio(COPY_MARGIN_DB)
        self._copy_despite_talk = db_to_power_ratio(COPY_DESPITE_TALK_DB)
        self._reset_margin = db_to_power_ratio(RESET_MARGIN_DB)
        self._harmful = db_to_power_ratio(HARMFUL_DB)
        self._reopen = db_to_power_ratio(REOPEN_ERLE_DB)
        self._nlp_trust = db_to_power_ratio(NLP_TRUST_ERLE_DB)
        self._pending_far = np.zeros((c, 0))
        self._pending_near = np.zeros((c, 0))
        self._output = np.zeros((c, b))
        self._talk = TalkDetector(c, b)
        self._background = BackgroundNoise(c, b)
        generator = rng if rng is not None else np.random.default_rng(0)
        self._nlp = NonLinearProcessor(c, b, generator, comfort_noise=comfort_noise) if nlp else None

    @property
    def tail_samples(self) -> int:
        return self._filter.taps

    @property
    def erle_db(self) -> np.ndarray:
        return 10.0 * np.log10((self._near_power + 1e-09) / (self._error_powers[:, 0] + 1e-09))

    def echo_path(self) -> np.ndarray:
        return self._filter.impulse_responses()

    @property
    def talk(self) -> np.ndarray:
        return self._talk.talk.copy()

    @property
    def nlp_active(self) -> np.ndarray:
        return self._nlp.suppressing if self._nlp is not None else np.zeros(self.channels, dtype=bool)

    @property
    def noise_dbm0(self) -> np.ndarray:
        with np.errstate(divide='ignore'):
            return 10.0 * np.log10(self._background.power / dbm0_to_rms(0.0) ** 2)

    def process(self, far_end: np.ndarray, near_end: np.ndarray) -> np.ndarray:
        far_end, near_end = (np.asarray(far_end), np.asarray(near_end))
        for name, signal in (('far_end', far_end), ('near_end', near_end)):
            if signal.ndim != 2 or signal.shape[0] != self.channels:
                raise DspError(f'echo canceller: {name} must be shaped ({self.channels}, n), not {signal.shape}')
            kind = signal.dtype.kind
            if kind not in 'iuf':
                raise DspError(f'echo canceller: {name} must hold numbers, not {signal.dtype}')
            if kind == 'f' and (not np.isfinite(signal).all()):
                raise DspError(f'echo canceller: {name} contains NaN or infinity')
        if far_end.shape != near_end.shape:
            raise DspError(f'echo canceller: far_end {far_end.shape} and near_end {near_end.shape} differ in shape')
        n, b = (far_end.shape[1], self.block)
        if n == b and (not self._pending_far.shape[1]):
            produced = self._output
            self._output = self._process_block(far_end.astype(np.float64), near_end.astype(np.float64))
            return produced
        far = np.concatenate([self._pending_far, far_end.astype(np.float64)], axis=1)
        near = np.concatenate([self._pending_near, near_end.astype(np.float64)], axis=1)
        count = far.shape[1] // b
        outputs = [self._output]
        for i in range(count):
            span = slice(i * b, (i + 1) * b)
            outputs.append(self._process_block(far[:, span], near[:, span]))
        self._pending_far = far[:, count * b:]
        self._pending_near = near[:, count * b:]
        produced = np.concatenate(outputs, axis=1)
        self._output = produced[:, n:]
        return produced[:, :n]

    def _process_block(self, far: np.ndarray, near: np.ndarray) -> np.ndarray:
        far_powers = self._far_powers
        far_powers[:, 1:] = far_powers[:, :-1]
        far_powers[:, 0] = _mean_square(far)
        far_tail = far_powers.max(axis=1)
        far_active = far_tail > self._far_active_power
        trusted = self._slow_powers[:, 1] > self._slow_powers[:, 0] * self._nlp_trust
        estimates = self._filter.estimate(far)
        errors = near[:, None, :] - estimates
        residual = errors[:, 0, :]
        near_power = _mean_square(near)
        error_power = _mean_square(errors)
        echo_power = _mean_square(estimates[:, 0, :])
        self._background.update(residual, self._talk.talk | far_active & ~trusted)
        talk = self._talk.update(near_power, error_power[:, 0], echo_power, far_tail, self._background.power)
        reset = self._two_path(error_power, near_power, far_active, talk)
        self._filter.adapt(errors[:, 1, :] if not reset.any() else np.where(reset[:, None], residual, errors[:, 1, :]))
        if self._nlp is None:
            return residual
        return self._nlp.process(residual, self._background, far_active, talk | self._talk.unexplained & trusted)

    def _two_path(self, error_power: np.ndarray, near_power: np.ndarray, far_active: np.ndarray, talk: np.ndarray) -> np.ndarray:
        a, slow = (self._smoothing, self._slow_smoothing)
        self._error_powers = a * self._error_powers + (1.0 - a) * error_power
        self._near_power = a * self._near_power + (1.0 - a) * near_power
        slow_powers = self._slow_powers
        slow_powers[:, 0] = slow * slow_powers[:, 0] + (1.0 - slow) * error_power[:, 0]
        slow_powers[:, 1] = slow * slow_powers[:, 1] + (1.0 - slow) * near_power
        foreground, background = (self._error_powers[:, 0], self._error_powers[:, 1])
        better = background * self._copy_margin < foreground
        self._wins = np.where(better, self._wins + 1, 0)
        cancels = background * self._copy_min_erle < self._near_power
        self._converged |= slow_powers[:, 1] > slow_powers[:, 0] * self._nlp_trust
        converging = ~self._converged
        steady = self._wins >= np.where(converging, COPY_WINS_CONVERGING, COPY_WINS)
        much_better = background * self._copy_despite_talk < foreground
        copy = far_active & cancels & steady & (~talk | much_better)
        reset = background > foreground * self._reset_margin
        harmful = far_active & (slow_powers[:, 0] > slow_powers[:, 1] * self._harmful)
        if copy.any():
            self._filter.copy_to_foreground(copy)
            self._error_powers[copy, 0] = self._error_powers[copy, 1]
        if reset.any():
            self._filter.copy_to_background(reset)
            self._error_powers[reset, 1] = self._error_powers[reset, 0]
        reopen = far_active & ~talk & (foreground * self._reopen > self._near_power)
        if reopen.any():
            self._filter.reopen(reopen)
        if harmful.any():
            self._filter.restart(harmful)
            self._converged &= ~harmful
            self._error_powers[harmful, 0] = self._near_power[harmful]
            slow_powers[harmful, 0] = slow_powers[harmful, 1]
            self._talk.restart(harmful)
        return reset
