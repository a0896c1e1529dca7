"""Per-frame DTMF analysis: which digit, if any, each 25 ms frame holds (ITU-T Q.24).

The signal is cut into 5 ms sub-blocks (40 samples). One matrix product per call projects
every sub-block of every channel onto cosines and sines of the eight DTMF frequencies
(ITU-T Q.23) and of three dial-tone frequencies, with phases counted from sample 0 of the
stream (the basis repeats every 200 sub-blocks = 1 s, since all frequencies are whole Hz).
Sums of four consecutive sub-blocks weighted (0.5, 1, 1, 0.5) are 20 ms DFT values with a
stepped taper whose sidelobes stay below -27 dB at the 62-73 Hz spacing of neighbouring
DTMF tones and below -50 dB at the 268 Hz between the groups.

Cost: the matrix product, one energy sum and a few array operations over all frames screen
out frames that cannot pass (bounds of the tone powers against level and energy); the full
tests below then run only on the frames left (a few percent on speech).

A frame is five sub-blocks (25 ms), hop 5 ms. Its two overlapping 20 ms windows A
(sub-blocks 0-3) and B (1-4) give, per frequency, ``Z = B * conj(A)``: the angle of ``Z``
is the phase a tone advances in 5 ms beyond the nominal frequency, i.e. the frequency
deviation (``2π·Δf·5 ms``, unambiguous up to ±100 Hz), and ``|Z|`` is the tone power
once the window's known loss at that deviation is divided out. A frame holds a digit when,
for the strongest tone of each group:

- each tone is at least ``MIN_TONE_DBM0`` (Q.24: operate down to -35 dBm0 per tone, not at
  -45 dBm0 or below);
- the twist (high-group level minus low-group level) is within -``NORMAL_TWIST_LIMIT_DB``
  .. +``REVERSE_TWIST_LIMIT_DB`` (Q.24: accept 8 dB normal / 4 dB reverse, reject 12/8);
- each frequency is within ``FREQUENCY_TOLERANCE`` (2 %) of nominal (Q.24: accept ±1.5 %,
  reject ±3.5 %);
- the two tones carry most of the frame's energy once dial tone (350-450 Hz, ITU-T E.180)
  is set aside, and a good part of it in any case (talk-off: speech and music spread their
  energy, DTMF does not);
- each is at least ``RELATIVE_PEAK_DB`` above the other tones of its group;
- each has the same level in A and B within ``STEADY_DB``, and no sub-block's energy is
  below half the frame's mean (the tone fills the frame: this is what makes frames count
  durations to about ±2.5 ms).

Pure numpy, no state beyond what ``FrameAnalyzer`` keeps per channel between calls.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.dtmfgen import HIGH_GROUP_HZ, KEYPAD, LOW_GROUP_HZ
from dsp.levels import ZERO_DBM0_PEAK, db_to_amplitude_ratio, db_to_power_ratio

SUB_BLOCK_SAMPLES = 40  # 5 ms: frame hop and duration resolution
HISTORY_SUB_BLOCKS = 4  # a frame is the newest sub-block and the 4 before it
FRAME_SAMPLES = SUB_BLOCK_SAMPLES * (HISTORY_SUB_BLOCKS + 1)  # 25 ms
BASIS_PERIOD_SUB_BLOCKS = SAMPLE_RATE // SUB_BLOCK_SAMPLES  # 1 s: whole-Hz phases repeat
WINDOW_WEIGHTS = (0.5, 1.0, 1.0, 0.5)  # stepped taper of the 20 ms windows A and B
ENERGY_WEIGHTS = (0.5, 1.5, 2.0, 1.5, 0.5)  # (A + B) / 2 on sub-block energies
DIAL_TONE_HZ = (350.0, 400.0, 450.0)  # ITU-T E.180 dial tones 350+440, 400, 425, 400+450 Hz
DTMF_HZ = LOW_GROUP_HZ + HIGH_GROUP_HZ
ANALYSIS_HZ = DTMF_HZ + DIAL_TONE_HZ
N_DTMF = len(DTMF_HZ)
N_FREQ = len(ANALYSIS_HZ)

MIN_TONE_DBM0 = -40.0  # ITU-T Q.24: detect at -35 dBm0 per tone, reject at -45 dBm0
NORMAL_TWIST_LIMIT_DB = 10.0  # ITU-T Q.24: accept 8 dB normal twist, reject 12 dB
REVERSE_TWIST_LIMIT_DB = 6.0  # ITU-T Q.24: accept 4 dB reverse twist, reject 8 dB
# ITU-T Q.24: accept ±1.5 %, reject ±3.5 %. The limit sits at 2.0 %, not mid-way, because
# musical notes fall 1.8-2.8 % from DTMF tones (G5 = 784 Hz is 770 Hz + 1.8 %, D6 = 1175 Hz
# is 1209 Hz - 2.8 %); tones at ±1.5 % measure at most ±1.9 % (edge frames, 12 dB SNR).
FREQUENCY_TOLERANCE = 0.020
TONE_TO_TOTAL_DB = -1.0  # both tones vs. the frame's energy outside the dial-tone band
TONE_TO_TOTAL_WITH_DIAL_TONE_DB = -4.5  # both tones vs. all energy (dial tone of equal level: -3 dB)
RELATIVE_PEAK_DB = 10.0  # strongest tone of a group vs. the next strongest
STEADY_DB = 2.0  # level change allowed between windows A and B (5 ms apart)
MIN_SUB_BLOCK_ENERGY_RATIO = 0.5  # weakest sub-block vs. the frame's mean (-3 dB)

_WEIGHT_SUM = sum(WINDOW_WEIGHTS) * SUB_BLOCK_SAMPLES  # 120 samples
_TONE_POWER_SCALE = _WEIGHT_SUM * _WEIGHT_SUM / 2.0  # |DFT|² of a sine / the sine's power
_ENERGY_SCALE = sum(ENERGY_WEIGHTS) * SUB_BLOCK_SAMPLES  # 240 samples
_ZERO_DBM0_POWER = ZERO_DBM0_PEAK * ZERO_DBM0_PEAK / 2.0
_MIN_GAIN = 0.05  # floor of the window-loss correction (far outside the frequency limits)
MAX_CHUNK_SAMPLES = 8000  # longer blocks are analysed 1 s at a time (bounded memory)
GAIN_SLOTS = 2048  # table of the window-loss correction over ±π: steps of 0.003 rad
_ENERGY = 2 * N_FREQ  # row of the sub-block energy, after the DFT values
_ROWS = _ENERGY + 1


def digit_table() -> np.ndarray:
    """Digit characters indexed by ``row * 4 + column`` (the frame codes)."""
    return np.array(list("".join(KEYPAD)))


@cache
def _basis() -> np.ndarray:
    """(period, 2 * N_FREQ, 40) float32: cos and -sin of each frequency interleaved, so a
    row pair is one complex DFT value; phases count from sample 0 of the stream."""
    start = np.arange(BASIS_PERIOD_SUB_BLOCKS)[:, None, None] * SUB_BLOCK_SAMPLES
    n = start + np.arange(SUB_BLOCK_SAMPLES)[None, None, :]
    freqs = np.array(ANALYSIS_HZ, dtype=np.int64)[None, :, None]
    # The phase is reduced modulo the 1 s period in integers first, so float error stays tiny.
    phase = 2.0 * np.pi * ((freqs * n) % SAMPLE_RATE) / SAMPLE_RATE
    basis = np.stack([np.cos(phase), -np.sin(phase)], axis=2).reshape(BASIS_PERIOD_SUB_BLOCKS, 2 * N_FREQ, -1)
    # Scaled by the taper's end weight w0 = 0.5, so that the sum of three overlapping pairs
    # of sub-blocks, (s0 + s1) + (s1 + s2) + (s2 + s3), is the tapered window itself.
    basis = (basis * WINDOW_WEIGHTS[0]).astype(np.float32)
    basis.setflags(write=False)
    return basis


def window_power_gain(phase_step: np.ndarray) -> np.ndarray:
    """Power gain of a window A (or B) for a tone whose phase advances ``phase_step``
    radians per sub-block more than the bin frequency's (1 at zero deviation).

    The 40-sample sub-block sum is a Dirichlet kernel, taken here as its sinc limit
    (relative error below 3e-4 within ±π per sub-block); the stepped taper adds
    ``w0 (1 + e^{3iφ}) + e^{iφ} + e^{2iφ}``, of modulus ``2 w0 cos 1.5φ + 2 cos 0.5φ``.
    """
    phi = np.asarray(phase_step)
    w0 = WINDOW_WEIGHTS[0]
    taper = (2.0 * w0 * np.cos(1.5 * phi) + 2.0 * np.cos(0.5 * phi)) / (2.0 * w0 + 2.0)
    amplitude = np.sinc(phi / (2.0 * np.pi)) * taper
    return amplitude * amplitude


def frequency_limits() -> np.ndarray:
    """Largest accepted phase step per sub-block for each DTMF frequency (radians)."""
    return 2.0 * np.pi * np.array(DTMF_HZ) * FREQUENCY_TOLERANCE * SUB_BLOCK_SAMPLES / SAMPLE_RATE


class FrameAnalyzer:
    """Turns blocks of samples into per-frame digit codes for ``channels`` channels.

    ``process(block)`` takes any number of samples (shape (channels, n), 16-bit scale)
    and returns ``(codes, first_end, frames)``: one frame per 5 ms sub-block completed by
    this block, frame ``f`` covering the 200 samples ending (exclusive) at
    ``first_end + 40 f``; ``codes`` is int8 shaped (frames, channels), the digit index
    (``row * 4 + column``, see ``digit_table``) or -1, or None when no frame of the block
    holds a digit (the common case, which costs no array).
    """

    def __init__(self, channels: int) -> None:
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
            raise DspError(f"channels must be a positive integer, got {channels!r}")
        self.channels = int(channels)
        self._basis = _basis()
        limits = frequency_limits()
        self._limits = limits.astype(np.float32)
        floor = _ZERO_DBM0_POWER * db_to_power_ratio(MIN_TONE_DBM0)
        self._floor = floor
        # Screening works in |A|² + |B|² of a bin (2 |T|² for a steady tone) and in the sum
        # of the energies of windows A and B (``_ENERGY`` row: sub-block energies weighted
        # 2 ENERGY_WEIGHTS); it divides by the largest window loss a tone within the
        # frequency limits can have in each group, so it never drops a frame that the full
        # tests would pass.
        pair_per_power = 2.0 * _TONE_POWER_SCALE
        loss = window_power_gain(limits)
        self._screen_scale = np.array([[1.0 / loss[:4].min()], [1.0 / loss[4:].min()]], dtype=np.float32)
        self._screen_floor = np.float32(floor * pair_per_power)
        self._screen_total = np.float32(
            db_to_power_ratio(TONE_TO_TOTAL_WITH_DIAL_TONE_DB) * pair_per_power / (2.0 * _ENERGY_SCALE)
        )
        self._quietest = np.float32(MIN_SUB_BLOCK_ENERGY_RATIO * SUB_BLOCK_SAMPLES / (2.0 * _ENERGY_SCALE))
        self._to_total = db_to_power_ratio(TONE_TO_TOTAL_DB)
        self._to_total_all = db_to_power_ratio(TONE_TO_TOTAL_WITH_DIAL_TONE_DB)
        self._twist_low = 1.0 / db_to_power_ratio(NORMAL_TWIST_LIMIT_DB)
        self._twist_high = db_to_power_ratio(REVERSE_TWIST_LIMIT_DB)
        steady = db_to_amplitude_ratio(STEADY_DB)  # on |A| / |B|
        self._steady_pair = np.float32(steady + 1.0 / steady)  # on (|A|² + |B|²) / |A| |B|
        # 1 / (|Z| per unit tone power) by phase step, in GAIN_SLOTS slots over ±π.
        slots = np.arange(GAIN_SLOTS)
        centres = (slots + 0.5) * (2.0 * np.pi / GAIN_SLOTS) - np.pi
        gain = np.maximum(window_power_gain(centres), _MIN_GAIN)
        self._inverse_gain = np.append(1.0 / (_TONE_POWER_SCALE * gain), 1.0 / (_TONE_POWER_SCALE * gain[-1]))
        self._inverse_gain = self._inverse_gain.astype(np.float32)
        self._gain_slots_per_radian = np.float32(GAIN_SLOTS / (2.0 * np.pi))
        self._peak = np.float32(db_to_power_ratio(RELATIVE_PEAK_DB))  # on |Z|, a power
        self._group_offset = np.array([[0], [4]])
        # Frame code of each (row bin, column bin) pair: row * 4 + column.
        self._codes = (np.arange(4)[:, None] * 4 + np.arange(-4, 4)[None, :]).astype(np.int8)
        self.reset()

    def reset(self) -> None:
        c = self.channels
        self._pending = np.zeros((c, 0), dtype=np.float32)  # < 40 samples not yet in a sub-block
        # Per sub-block: the DFT values (rows 0..2 N_FREQ - 1) and the energy (row _ENERGY)
        # of each channel; the last HISTORY_SUB_BLOCKS, then room for a call's.
        self._spectra = np.zeros((HISTORY_SUB_BLOCKS + 4, _ROWS, c), dtype=np.float32)
        self._samples = np.zeros((4 * SUB_BLOCK_SAMPLES, c), dtype=np.float32)  # float32, transposed
        self.sub_blocks_done = 0
        self.samples_seen = 0

    def process(self, block: np.ndarray) -> tuple[np.ndarray | None, int, int]:
        """Digit codes (frames, channels) of the frames completed by ``block`` (None if
        none holds a digit), the end of the first frame, the number of frames."""
        first_end = (self.sub_blocks_done + 1) * SUB_BLOCK_SAMPLES
        done = self.sub_blocks_done
        n = block.shape[1]
        if n <= MAX_CHUNK_SAMPLES:
            codes = self._process(block)
        else:
            chunks = [
                (self._process(block[:, at : at + MAX_CHUNK_SAMPLES]), self.sub_blocks_done)
                for at in range(0, n, MAX_CHUNK_SAMPLES)
            ]
            codes = None
            if any(chunk is not None for chunk, _ in chunks):
                codes = np.full((self.sub_blocks_done - done, self.channels), -1, dtype=np.int8)
                for chunk, end in chunks:
                    if chunk is not None:
                        codes[end - done - chunk.shape[0] : end - done] = chunk
        return codes, first_end, self.sub_blocks_done - done

    def _process(self, block: np.ndarray) -> np.ndarray | None:
        c = self.channels
        n = block.shape[1]
        self.samples_seen += n
        held = self._pending.shape[1]
        n_sub = (held + n) // SUB_BLOCK_SAMPLES
        used = n_sub * SUB_BLOCK_SAMPLES
        samples = block
        if held or used < n:  # glue the samples held back on, hold back the remainder
            samples = np.concatenate([self._pending, block], axis=1, dtype=np.float32, casting="unsafe")
            self._pending = samples[:, used:].copy()
            samples = samples[:, :used]
        if n_sub == 0:
            return None
        if self._samples.shape[0] < used:
            self._samples = np.empty((used, c), dtype=np.float32)
        x = self._samples[:used]
        # Transposed in the input's own type (int16: half the bytes), then cast.
        np.copyto(x, np.ascontiguousarray(samples.T), casting="unsafe")
        x = x.reshape(n_sub, SUB_BLOCK_SAMPLES, c)
        rows = HISTORY_SUB_BLOCKS + n_sub
        if self._spectra.shape[0] < rows:
            grown = np.zeros((rows, _ROWS, c), dtype=np.float32)
            grown[:HISTORY_SUB_BLOCKS] = self._spectra[:HISTORY_SUB_BLOCKS]
            self._spectra = grown
        spectra = self._spectra[:rows]
        new = spectra[HISTORY_SUB_BLOCKS:]
        phase = self.sub_blocks_done % BASIS_PERIOD_SUB_BLOCKS
        if phase + n_sub <= BASIS_PERIOD_SUB_BLOCKS:
            basis = self._basis[phase : phase + n_sub]
        else:
            basis = self._basis[(phase + np.arange(n_sub)) % BASIS_PERIOD_SUB_BLOCKS]
        np.matmul(basis, x, out=new[:, :_ENERGY])
        np.einsum("jnc,jnc->jc", x, x, out=new[:, _ENERGY])
        self.sub_blocks_done += n_sub
        codes = self._decide(spectra, n_sub)
        spectra[:HISTORY_SUB_BLOCKS] = (
            spectra[n_sub:].copy() if n_sub < HISTORY_SUB_BLOCKS else spectra[n_sub:]
        )
        return codes

    def _decide(self, s: np.ndarray, n_frames: int) -> np.ndarray | None:
        """Codes of the frames ending at sub-blocks 4.. of ``s`` (spectra and energies),
        None if no frame passes the screen."""
        # The basis carries w0 = 0.5: s0 + 2 s1 + 2 s2 + s3 is the (0.5, 1, 1, 0.5) taper
        # (and, in the energy column, twice the window's energy).
        pairs = s[:-1] + s[1:]
        windows = pairs[:-2] + pairs[1:-1]
        windows += pairs[2:]  # (frames + 1, _ROWS, C)
        squares = np.square(windows[:, : 2 * N_DTMF])
        powers = squares[:, 0::2] + squares[:, 1::2]  # |T|² of the DTMF bins
        pair = powers[:-1] + powers[1:]  # |A|² + |B|², (frames, 8, C)
        groups = pair.reshape(n_frames, 2, 4, self.channels).max(axis=2)
        groups *= self._screen_scale  # bounds of the row and column tone powers, (frames, 2, C)
        energy = windows[:-1, _ENERGY] + windows[1:, _ENERGY]  # 2 ENERGY_WEIGHTS · e
        e = s[:, _ENERGY]
        quietest = np.minimum(e[:-4], e[1:-3])
        np.minimum(quietest, e[2:-2], out=quietest)
        np.minimum(quietest, e[3:-1], out=quietest)
        np.minimum(quietest, e[4:], out=quietest)  # the weakest of each frame's five sub-blocks
        row, col = groups[:, 0], groups[:, 1]
        screen = np.minimum(row, col) >= self._screen_floor
        screen &= row + col >= self._screen_total * energy
        screen &= quietest >= self._quietest * energy
        passed = np.flatnonzero(screen)
        if not passed.size:
            return None
        frames, chans = np.divmod(passed, self.channels)
        codes = np.full((n_frames, self.channels), -1, dtype=np.int8)
        codes[frames, chans] = self._candidates(windows, pair, frames, chans, energy[frames, chans])
        return codes

    def _candidates(
        self,
        windows: np.ndarray,
        pair: np.ndarray,
        frames: np.ndarray,
        chans: np.ndarray,
        energy: np.ndarray,
    ) -> np.ndarray:
        """The full tests on the frames that passed the screen (``energy``: their sub-block
        energies weighted 2 ENERGY_WEIGHTS; ``pair``: |A|² + |B|² of every DTMF bin of every
        frame)."""
        n = frames.size
        both = windows[np.concatenate([frames, frames + 1]), :, np.concatenate([chans, chans])]
        ac = both[:n, : 2 * N_DTMF].view(np.complex64)  # window A, (n, 8) complex
        bc = both[n:, : 2 * N_DTMF].view(np.complex64)  # window B
        dial_bins = both[:, 2 * N_DTMF : _ENERGY]
        dial = np.einsum("ij,ij->i", dial_bins, dial_bins)
        dial = (dial[:n] + dial[n:]) * np.float32(1.0 / (2.0 * _TONE_POWER_SCALE))
        z = bc * ac.conj()
        mag = np.ascontiguousarray(np.abs(z).T).reshape(2, 4, -1)  # |Z| = |A| |B|, per group
        top = mag.max(axis=1)
        best = mag.argmax(axis=1)
        runner_up = np.where(mag == top[:, None], 0.0, mag).max(axis=1)
        best += self._group_offset  # bin numbers 0-7, (2, n)
        zb = z[np.arange(n), best]
        phase_step = np.arctan2(zb.imag, zb.real)
        # Tone powers: |Z| corrected for the window's loss at the measured deviation.
        slot = ((phase_step + np.float32(np.pi)) * self._gain_slots_per_radian).astype(np.intp)
        tone = top * self._inverse_gain[slot]
        # |A|² + |B|² >= 2 |A| |B| = 2 |Z|, equal when |A| = |B|: the ratio bounds |A| / |B|.
        sum_of_squares = pair[frames, best, chans]
        per_tone = np.abs(phase_step) <= self._limits[best]
        per_tone &= tone >= self._floor
        per_tone &= top >= self._peak * runner_up
        per_tone &= sum_of_squares <= self._steady_pair * top
        p_row, p_col = tone
        p_tones = p_row + p_col
        power = energy * np.float32(0.5 / _ENERGY_SCALE)  # the frame's mean power
        ok = per_tone[0] & per_tone[1]
        ok &= (p_col >= self._twist_low * p_row) & (p_col <= self._twist_high * p_row)
        ok &= p_tones >= self._to_total * (power - dial)
        ok &= p_tones >= self._to_total_all * power
        return np.where(ok, self._codes[best[0], best[1]], np.int8(-1))
