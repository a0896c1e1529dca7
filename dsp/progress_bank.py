"""Frame analysis for call-progress detection: which tone frequencies sound in each 20 ms.

For every frequency set a tone plan uses (one ``dsp.toneplans.Frequency``: a single tone, a
sum ``f1+f2`` or a modulated ``f1*f2`` with its carrier and side tones), each 20 ms frame
(160 samples at 8 kHz, aligned to sample 0) is tested on windows of whole frames:

1. Least-squares fit of the window by sines at the set's component frequencies (exact
   even when two components are only 25 Hz apart), for a small grid of relative frequency
   offsets (e.g. -1 %, 0, +1 %) so a source a little off-frequency is captured whole; the
   best offset wins. The fit's energy is rᵀ(AᵀA)⁻¹r, r the window's correlations with
   the cosines and sines A of the components, and its sine amplitudes are (AᵀA)⁻¹r.
2. Energy ratio: fitted energy / total window energy >= ``min_ratio``. A tone is nearly
   all of its window; speech and music spread their energy over many frequencies.
3. Level: fitted power >= ``min_level_dbm0``.
4. Shape: the components of a sum are within ``max_twist_db`` of each other (a single
   frequency does not pass for a pair); the side tones of a modulated tone carry together
   at least ``min_sideband_db`` relative to the carrier (a plain 425 Hz is not "425*25"),
   each at most half the carrier's power and within ``max_sideband_imbalance_db`` of each
   other, as amplitude modulation makes them (a shifted tone smears over all three).

The correlations come from one matrix product per block: every frame's DFT at every
frequency the bank needs (a sliding DFT), the window's being the frames' rotated by the
phase each frame starts at in the window. So a window costs a few complex additions, not
its length in multiplications, and all channels and frames go through at once.

A frame is then "on" for a set when some window that contains the whole frame passed 1-4
and the frame itself carries at least ``frame_share`` of that window's tone power. A window
straddling the start of a burst has a low ratio (a sine present in only a fraction q of
the window fits with q of its energy), but a later window lies inside the burst; a window
straddling its end still passes, and the frame-power test then cuts at the burst's end.
So on/off edges are exact to about a quarter of a frame, at the price of a decision delay
of (longest window in frames - 1): ``process`` returns frames ``delay`` frames behind its
input (the first ``delay`` outputs are before sample 0).

The window is ``window_cycles`` periods of the set's lowest frequency (rounded up to whole
frames, and long enough to separate its closest components); a frequency error of r costs
the fit sinc²(r × cycles) of the energy, so ±1 % passes with ~5 % lost while ±5 % loses
more than 80 % and fails step 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.levels import dbm0_to_peak
from dsp.toneplans import Frequency

FRAME = 160  # samples per frame: 20 ms at 8 kHz, the engine's tick
_ZERO_DBM0_POWER = dbm0_to_peak(0.0) ** 2 / 2.0  # mean square of a 0 dBm0 sine
_MAX_FRAMES = 20_000  # channels × frames analysed at once (bounds memory)
_BOUND_MARGIN = 1e-6  # relative margin of the screen's bound over the fit's rounding


@dataclass(frozen=True)
class BankSettings:
    window_cycles: float = 24.0  # periods of the lowest component per analysis window
    max_frequency_error: float = 0.01  # the offset grid spans ±1 % (the tolerance to accept)
    max_residual_cycles: float = 0.125  # grid fine enough that no tone is > 1/8 cycle off
    min_ratio: float = 0.8  # tone energy / window energy
    min_level_dbm0: float = -45.0  # floor: -33 dBm0 tones, and the -10 dB bursts of AU congestion
    frame_share: float = 0.25  # frame power / tone power in the window, -6 dB
    max_twist_db: float = 10.0  # between the components of a sum
    min_sideband_db: float = -14.0  # side tones (both) vs carrier: modulation depth >= 0.28
    max_sideband_imbalance_db: float = 6.0  # between the two side tones of f1*f2


class _SetAnalysis:
    """One frequency set: its window, offset grid, and the columns it uses."""

    def __init__(self, frequency: Frequency, settings: BankSettings) -> None:
        components = frequency.components()
        self.hz = np.array([f for f, _ in components])
        self.modulated = frequency.modulated
        self.count = len(self.hz)
        lowest = float(self.hz.min())
        window = settings.window_cycles * SAMPLE_RATE / lowest
        if self.count > 1:
            spacing = float(np.min(np.diff(np.sort(self.hz))))
            if spacing <= 0:
                raise DspError(f"frequency set {frequency.notation} repeats a frequency")
            window = max(window, 1.5 * SAMPLE_RATE / spacing)
        # Whole frames, so that the last window holding a frame starts exactly with it.
        self.frames = max(1, math.ceil(window / FRAME))
        self.length = self.frames * FRAME
        cycles = self.length * lowest / SAMPLE_RATE
        step = settings.max_residual_cycles * 2.0 / cycles  # grid step in relative frequency
        per_side = max(1, math.ceil(settings.max_frequency_error / step))
        self.offsets = np.arange(-per_side, per_side + 1) * (settings.max_frequency_error / per_side)
        # Radian frequencies, (offsets, components), and (AᵀA)⁻¹ of each offset's columns.
        self.omega = 2.0 * np.pi * np.outer(1.0 + self.offsets, self.hz) / SAMPLE_RATE
        n = np.arange(self.length)
        inverses = []
        for omega in self.omega:
            columns = np.empty((self.length, 2 * self.count))
            columns[:, 0::2] = np.cos(np.outer(n, omega))
            columns[:, 1::2] = np.sin(np.outer(n, omega))
            inverses.append(np.linalg.inv(columns.T @ columns))
        self.gram_inverse = np.stack(inverses)  # (offsets, 2K, 2K)
        self.columns = np.zeros(self.omega.shape, dtype=np.int64)  # set by the bank


class ToneBank:
    """Per-frame tests of a fixed list of frequency sets, for ``channels`` channels.

    All sets are computed together: their offsets, components and window lengths are
    padded to the largest (padding masked out), so a block costs a fixed number of array
    operations whatever the number of sets.
    """

    def __init__(self, frequencies: Sequence[Frequency], channels: int, settings: BankSettings | None = None):
        if not frequencies:
            raise DspError("a tone bank needs at least one frequency set")
        self.settings = settings or BankSettings()
        self.frequencies = tuple(frequencies)
        self.sets = [_SetAnalysis(f, self.settings) for f in self.frequencies]
        self.channels = channels
        self._pack()
        self._span = int(self._frames.max())  # the longest window, in frames
        self.delay = self._span - 1  # frames of lookahead (see module doc)
        # Per channel: the DFTs and energies of the last ``delay`` frames, and the window
        # results of the last ``delay`` frames, not yet decided.
        self._spectra = np.zeros((channels, self.delay, len(self._omega)), dtype=complex)
        self._energy = np.zeros((channels, self.delay))
        self._passed = np.zeros((channels, self.delay, len(self.sets)), dtype=bool)
        self._tone_power = np.zeros((channels, self.delay, len(self.sets)))
        s = self.settings
        self._min_power = _ZERO_DBM0_POWER * 10.0 ** (s.min_level_dbm0 / 10.0)
        self._twist = 10.0 ** (-s.max_twist_db / 10.0)
        self._sideband = 10.0 ** (s.min_sideband_db / 10.0)
        self._balance = 10.0 ** (-s.max_sideband_imbalance_db / 10.0)

    def _pack(self) -> None:
        """Padded (sets, offsets, components) tables of every set."""
        sets = self.sets
        offsets = max(len(a.offsets) for a in sets)
        components = max(a.count for a in sets)
        span = max(a.frames for a in sets)
        omegas: list[float] = []
        self._columns = np.zeros((len(sets), offsets, components), dtype=np.int64)
        self._present = np.zeros((len(sets), components), dtype=bool)
        self._gram_inverse = np.zeros((len(sets), offsets, 2 * components, 2 * components))
        twiddle = np.zeros((span, len(sets), offsets, components), dtype=complex)
        for s, analysis in enumerate(sets):
            self._present[s, : analysis.count] = True
            for o in range(offsets):
                source = min(o, len(analysis.offsets) - 1)  # padding repeats the last offset
                for k in range(analysis.count):
                    key = round(float(analysis.omega[source, k]), 12)
                    if key not in omegas:
                        omegas.append(key)
                    self._columns[s, o, k] = omegas.index(key)
                    for i in range(analysis.frames):  # frame i of the set's window (0 oldest)
                        twiddle[span - analysis.frames + i, s, o, k] = np.exp(-1j * key * FRAME * i)
                width = 2 * analysis.count
                self._gram_inverse[s, o, :width, :width] = analysis.gram_inverse[source]
        self._omega = np.array(omegas)
        self._offset_index = np.arange(offsets)
        self._twiddle = twiddle
        self._frames = np.array([a.frames for a in sets])
        self._length = self._frames * FRAME
        self._modulated = np.array([a.modulated for a in sets])
        self._sum = np.array([a.count > 1 and not a.modulated for a in sets])
        # The largest eigenvalue of each (AᵀA)⁻¹ (padding is zero), with a margin for rounding:
        # rᵀ(AᵀA)⁻¹r <= λmax |r|², the screen of ``_window_test``.
        self._present_weights = self._present.astype(np.float64)
        self._bound = np.linalg.eigvalsh(self._gram_inverse).max(axis=2) * (1.0 + _BOUND_MARGIN)
        n = np.arange(FRAME)
        self._dft = np.concatenate([np.cos(np.outer(n, self._omega)), -np.sin(np.outer(n, self._omega))], axis=1)

    def reset(self, channel: int) -> None:
        self._spectra[channel] = 0.0
        self._energy[channel] = 0.0
        self._passed[channel] = False
        self._tone_power[channel] = 0.0

    def process(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``samples``: (channels, 160 × F). Returns, for the F frames ``delay`` frames behind,
        ``on`` (channels, F, sets) and the tone level in dBm0 (-inf where off)."""
        total = samples.shape[1] // FRAME
        on = np.zeros((self.channels, total, len(self.sets)), dtype=bool)
        level = np.full(on.shape, -np.inf)
        step = max(1, _MAX_FRAMES // self.channels)
        for first in range(0, total, step):
            count = min(step, total - first)
            chunk = samples[:, first * FRAME : (first + count) * FRAME].reshape(self.channels, count, FRAME)
            on[:, first : first + count], level[:, first : first + count] = self._chunk(chunk)
        return on, level

    def _chunk(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        count = frames.shape[1]
        width = len(self._omega)
        # (ch, F, 2W): every frame's DFT at every frequency, as one 2-D product (numpy's stacked
        # product over channels costs half as much again)
        products = (frames.reshape(-1, FRAME) @ self._dft).reshape(self.channels, count, -1)
        spectra = np.concatenate([self._spectra, products[..., :width] + 1j * products[..., width:]], axis=1)
        energy = np.concatenate([self._energy, np.einsum("cfn,cfn->cf", frames, frames)], axis=1)
        self._spectra, self._energy = spectra[:, count:].copy(), energy[:, count:].copy()
        passed, tone_power = self._window_test(spectra, energy, count)
        if passed is None and not self._passed.any():  # no window passed, none pending: all off
            return np.zeros((self.channels, count, len(self.sets)), dtype=bool), \
                np.full((self.channels, count, len(self.sets)), -np.inf)
        if passed is None:
            passed = np.zeros((self.channels, count, len(self.sets)), dtype=bool)
            tone_power = np.zeros(passed.shape)  # read only where a window passed
        return self._decide(passed, tone_power, energy[:, :count] / FRAME)

    def _window_test(self, spectra: np.ndarray, energy: np.ndarray,
                     count: int) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
        """Tests 1-4 on the windows ending with each of the ``count`` new frames, all sets;
        (None, None) when the screen shows that no window can pass test 2 or 3."""
        span = self._span
        gathered = spectra[:, :, self._columns]  # (ch, delay + F, sets, offsets, K)
        correlation = gathered[:, :count] * self._twiddle[0]
        for i in range(1, span):  # the window's frame i (0 oldest), zero-weighted before a set's window
            correlation += gathered[:, i : i + count] * self._twiddle[i]
        totals = np.concatenate([np.zeros((self.channels, 1)), np.cumsum(energy, axis=1)], axis=1)
        ends = np.arange(count)[:, None] + span  # one past each window's last frame
        window_energy = totals[:, ends] - totals[:, ends - self._frames]  # (ch, F, sets)
        # The screen: the fit's energy rᵀ(AᵀA)⁻¹r is at most λmax |r|², and |r|² is the sum of the
        # components' |correlation|². Speech nearly never comes near (its energy is spread), so a
        # block where no window's bound reaches tests 2 and 3 is decided without the fit.
        squares = correlation.real * correlation.real + correlation.imag * correlation.imag
        bound = (np.einsum("cfsok,sk->cfso", squares, self._present_weights) * self._bound).max(axis=3)
        if not ((bound >= self.settings.min_ratio * window_energy)
                & (bound >= self._min_power * self._length)).any():
            return None, None
        # Window correlations with cos and sin: Σx·cos = Re, Σx·sin = -Im of Σx·e^{-jωn}.
        r = np.empty((*correlation.shape[:-1], 2 * correlation.shape[-1]))
        r[..., 0::2], r[..., 1::2] = correlation.real, -correlation.imag
        amplitudes = np.einsum("soij,cfsoj->cfsoi", self._gram_inverse, r)
        fitted = np.einsum("cfsoi,cfsoi->cfso", r, amplitudes)
        # The best offset's fit (the first of equals), picked by a one-hot product: take_along_axis
        # costs more in index building than the arithmetic here (issue 10).
        best = np.argmax(fitted, axis=3)
        chosen = best[..., None] == self._offset_index  # (ch, F, sets, offsets), one True each
        fitted = fitted.max(axis=3)
        squares = amplitudes * amplitudes
        power = np.einsum("cfso,cfsok->cfsk", chosen, squares[..., 0::2] + squares[..., 1::2]) / 2.0  # (ch, F, sets, K)
        tone_power = fitted / self._length
        passed = (fitted >= self.settings.min_ratio * window_energy) & (tone_power >= self._min_power)
        # Sums: every component within the twist of the strongest.
        weakest = np.min(np.where(self._present, power, np.inf), axis=3)
        strongest = np.max(power, axis=3)
        passed &= ~self._sum | (weakest >= self._twist * strongest)
        # Amplitude modulation of depth m <= 1: two equal side tones of (m/2)^2 <= 1/4 of the
        # carrier power each. A shifted tone smears across the three and fails this.
        if self._modulated.any():
            carrier, lower, upper = power[..., 0], power[..., 1], power[..., 2]
            shaped = (lower + upper >= self._sideband * carrier) & (np.maximum(lower, upper) <= 0.5 * carrier)
            shaped &= np.minimum(lower, upper) >= self._balance * np.maximum(lower, upper)
            passed &= ~self._modulated | shaped
        return passed, tone_power

    def _decide(
        self, passed: np.ndarray, tone_power: np.ndarray, frame_power: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decide the frames ``delay`` behind, each from the windows that hold all of it."""
        count = passed.shape[1]
        passed = np.concatenate([self._passed, passed], axis=1)
        tone_power = np.concatenate([self._tone_power, tone_power], axis=1)
        self._passed, self._tone_power = passed[:, count:].copy(), tone_power[:, count:].copy()
        best = np.zeros((self.channels, count, len(self.sets)))
        share = self.settings.frame_share * tone_power
        for ahead in range(self._span):  # windows ending ``ahead`` frames after the frame
            ok = passed[:, ahead : ahead + count] & (frame_power[:, :, None] >= share[:, ahead : ahead + count])
            ok &= ahead < self._frames  # only windows of the set's length that hold the frame
            best = np.where(ok, np.maximum(best, tone_power[:, ahead : ahead + count]), best)
        on = best > 0.0
        with np.errstate(divide="ignore"):
            level = np.where(on, 10.0 * np.log10(np.maximum(best, 1e-300) / _ZERO_DBM0_POWER), -np.inf)
        return on, level
