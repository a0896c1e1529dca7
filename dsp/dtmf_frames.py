"""Per-frame DTMF analysis: which digit, if any, each 25 ms frame holds (ITU-T Q.24).

A frame is five 5 ms sub-blocks (200 samples, hop 40). Its two overlapping 20 ms windows
A (sub-blocks 0-3) and B (1-4), tapered (0.5, 1, 1, 0.5) per sub-block, give per frequency
``Z = B * conj(A)``: the angle of ``Z`` is the phase a tone advances in 5 ms beyond the
nominal frequency, i.e. the frequency deviation (``2π·Δf·5 ms``, unambiguous up to
±100 Hz), and ``|Z|`` is the tone power once the window's known loss at that deviation is
divided out. The taper's sidelobes stay below -27 dB at the 62-73 Hz spacing of
neighbouring DTMF tones and below -50 dB at the 268 Hz between the groups. A frame holds a
digit when, for the strongest tone of each group:

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

How, in two stages, so that the cost per channel stays a small fixed amount of BLAS and
array work and the full tests run only where they can pass:

1. The screen, on every frame of every channel. One float32 matrix product per call
   projects every 40-sample sub-block onto cosines and sines of the eight DTMF
   frequencies, with phases counted from sample 0 of the stream (the basis repeats every
   200 sub-blocks = 1 s, since all frequencies are whole Hz), so sums of sub-blocks are
   windows A and B; plus one energy per sub-block. From these, bounds of the two tone
   powers (each group's strongest ``|A|² + |B|²`` divided by the largest window loss a
   tone within the frequency limits can have) are checked against the level floor and the
   frame's energy, and the weakest sub-block against the frame's mean. A frame failing the
   screen cannot pass the full tests.
2. The full tests, on the frames that passed the screen (a few percent on speech): each
   one's five sub-blocks (the receiver keeps the 160 samples before a call's first
   sub-block) are projected again, onto the DTMF and the dial-tone frequencies, by one
   small product, with phases from the frame's first sample. Up to ``_FEW_FRAMES`` such
   frames per call are tested one by one in Python floats, more as arrays: the same
   tests in the same order (``_full_test`` and ``_full_tests``).

Pure numpy, no state beyond what ``FrameAnalyzer`` keeps per channel between calls.
"""

from __future__ import annotations

import math
from functools import cache
from typing import NamedTuple

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.dtmfgen import HIGH_GROUP_HZ, KEYPAD, LOW_GROUP_HZ
from dsp.levels import ZERO_DBM0_PEAK, db_to_amplitude_ratio, db_to_power_ratio

SUB_BLOCK_SAMPLES = 40  # 5 ms: frame hop and duration resolution
HISTORY_SUB_BLOCKS = 4  # a frame is the newest sub-block and the 4 before it
HISTORY_SAMPLES = SUB_BLOCK_SAMPLES * HISTORY_SUB_BLOCKS
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
_ENERGY = 2 * N_DTMF  # screen row of the sub-block energy, after the DFT values
_SCREEN_ROWS = _ENERGY + 1
# OpenBLAS runs a product of m·n·k < 2 · 65536 · 4 multiply-adds on one thread whatever the
# core count; a bigger one wakes threads that spin on the other cores for no gain (the
# box's other core belongs to the rest of the engine). Products are cut to stay below.
_SCREEN_CHANNELS_PER_PRODUCT = 512  # 16 x 40 x 512 = 327,680
_FRAMES_PER_PRODUCT = 512  # 512 x 40 x 22 = 450,560
# Up to this many passing frames per call, the full tests run frame by frame in plain
# Python (about 7 µs each), not as the ~45 array operations of ``_full_tests`` (about
# 130 µs whatever the count: the two cost the same at 16-18 frames).
_FEW_FRAMES = 16
_ROOM_SUB_BLOCKS = 16  # room of the sliding buffers (4 ticks of 20 ms)
# With many channels, blocks of whole sub-blocks from 160 to _TICK_MAX_SAMPLES samples
# (the engine's 20 ms tick) skip the sliding sample buffer: once it outgrows the cache
# (3,200 bytes a channel), writing every channel's samples into it on every tick is
# memory-bound (1.4 ms a tick at 4096 channels, 13 MB: more than the screen's product).
# Each block goes to a buffer of its own, the previous one kept as the history, and the
# full tests copy a frame's samples from both only for the frames that passed the screen.
# Measured on the bench box (8 MB L3): the sliding buffer is faster up to 1024 channels,
# the tick path 10 % faster at 2048 and 15 % at 4096.
_TICK_MAX_SAMPLES = 640
TICK_PATH_MIN_CHANNELS = 1536


class FramePasses(NamedTuple):
    """The frames of one call that hold a digit: frame index in the call (0 = the first
    frame completed by it), channel and digit code (``row * 4 + column``)."""

    frames: np.ndarray
    channels: np.ndarray
    codes: np.ndarray


def digit_table() -> np.ndarray:
    """Digit characters indexed by ``row * 4 + column`` (the frame codes)."""
    return np.array(list("".join(KEYPAD)))


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


# |A|² + |B|² of a steady tone per unit of sub-block energy weighted 2 ENERGY_WEIGHTS, at
# the least share of the frame's power the tone pair may have.
_SCREEN_TOTAL = (
    db_to_power_ratio(TONE_TO_TOTAL_WITH_DIAL_TONE_DB) * 2.0 * _TONE_POWER_SCALE / (2.0 * _ENERGY_SCALE)
)


def _screen_units() -> np.ndarray:
    """Per DTMF bin, the factor on its |A|² + |B|² that makes the screen's tone-pair test
    read ``row + col >= energy`` (energy: sub-block energies weighted 2 ENERGY_WEIGHTS).

    |A|² + |B|² is 2 |T|² for a steady tone, with |T|² = _TONE_POWER_SCALE · loss · power;
    dividing by the largest loss a tone within the frequency limits can have in its group
    bounds the tone power from above, so the screen never drops a frame the full tests
    would pass."""
    loss = window_power_gain(frequency_limits())
    group_loss = np.repeat([loss[:4].min(), loss[4:].min()], 4)
    return 1.0 / (group_loss * _SCREEN_TOTAL)


@cache
def _screen_basis() -> np.ndarray:
    """(period, 2 * N_DTMF, 40) float32: rows 0-7 cos, 8-15 -sin of the DTMF frequencies
    (low group first), phases from sample 0 of the stream, scaled so that a window's
    squared values come out in the screen's units (``_screen_units``)."""
    start = np.arange(BASIS_PERIOD_SUB_BLOCKS)[:, None, None] * SUB_BLOCK_SAMPLES
    n = start + np.arange(SUB_BLOCK_SAMPLES)[None, None, :]
    freqs = np.array(DTMF_HZ, dtype=np.int64)[None, :, None]
    # The phase is reduced modulo the 1 s period in integers first, so float error stays tiny.
    phase = 2.0 * np.pi * ((freqs * n) % SAMPLE_RATE) / SAMPLE_RATE
    basis = np.concatenate([np.cos(phase), -np.sin(phase)], axis=1)
    # The end weight w0 = 0.5 of the taper: the sum of three overlapping pairs of
    # sub-blocks, (s0 + s1) + (s1 + s2) + (s2 + s3), is then the tapered window itself.
    scale = WINDOW_WEIGHTS[0] * np.sqrt(np.tile(_screen_units(), 2))
    basis = (basis * scale[None, :, None]).astype(np.float32)
    basis.setflags(write=False)
    return basis


@cache
def _frame_basis() -> np.ndarray:
    """(5, 40, 2 * N_FREQ) float32: each sub-block of a frame to its DFT values (columns:
    each frequency's cos and -sin interleaved, so a column pair is one complex value),
    phases from the frame's first sample, scaled by the taper's end weight w0 = 0.5 (as the
    screen's basis: three overlapping pairs of sub-blocks sum to a window)."""
    n = np.arange(FRAME_SAMPLES)
    phase = 2.0 * np.pi * np.outer(n, ANALYSIS_HZ) / SAMPLE_RATE
    kernel = np.stack([np.cos(phase), -np.sin(phase)], axis=2).reshape(FRAME_SAMPLES, 2 * N_FREQ)
    basis = (kernel * WINDOW_WEIGHTS[0]).reshape(HISTORY_SUB_BLOCKS + 1, SUB_BLOCK_SAMPLES, 2 * N_FREQ)
    basis = basis.astype(np.float32)
    basis.setflags(write=False)
    return basis


class _Work(NamedTuple):
    """Preallocated arrays of the screen for calls of ``sub_blocks`` sub-blocks."""

    sub_blocks: int
    pairs: np.ndarray
    windows: np.ndarray
    powers: np.ndarray
    pair: np.ndarray
    groups: np.ndarray
    energy: np.ndarray
    quiet2: np.ndarray
    quiet4: np.ndarray
    quietest: np.ndarray
    total: np.ndarray
    screen: np.ndarray
    test: np.ndarray


def _work(n: int, c: int) -> _Work:
    f32 = np.float32
    return _Work(
        n,
        pairs=np.empty((n + 3, _SCREEN_ROWS, c), f32),
        windows=np.empty((n + 1, _SCREEN_ROWS, c), f32),
        powers=np.empty((n + 1, N_DTMF, c), f32),
        pair=np.empty((n, N_DTMF, c), f32),
        groups=np.empty((n, 2, c), f32),
        energy=np.empty((n, c), f32),
        quiet2=np.empty((n + 3, c), f32),
        quiet4=np.empty((n + 1, c), f32),
        quietest=np.empty((n, c), f32),
        total=np.empty((n, c), f32),
        screen=np.empty((n, c), bool),
        test=np.empty((n, c), bool),
    )


class FrameAnalyzer:
    """Turns blocks of samples into the frames that hold a digit, for ``channels`` channels.

    ``process(block)`` takes any number of samples (shape (channels, n), 16-bit scale)
    and returns ``(passes, first_end, frames)``: ``frames`` frames, one per 5 ms sub-block
    completed by this block, frame ``f`` covering the 200 samples ending (exclusive) at
    ``first_end + 40 f``; ``passes`` the ones that hold a digit (``FramePasses``), or None
    when none does (the common case, which costs no array).
    """

    def __init__(self, channels: int) -> None:
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
            raise DspError(f"channels must be a positive integer, got {channels!r}")
        self.channels = int(channels)
        self._screen_basis = _screen_basis()
        self._frame_basis = _frame_basis()
        limits = frequency_limits()
        self._limits = limits.astype(np.float32)
        floor = _ZERO_DBM0_POWER * db_to_power_ratio(MIN_TONE_DBM0)
        self._floor = np.float32(floor)
        # Both groups' bounds must reach the floor: 2 |T|² of a tone at the floor, in units.
        self._screen_floor = np.float32(floor * 2.0 * _TONE_POWER_SCALE / _SCREEN_TOTAL)
        # The weakest sub-block (weight 1) vs. the frame's energy (weights 2 ENERGY_WEIGHTS).
        self._quiet_scale = np.float32(2.0 * _ENERGY_SCALE / (MIN_SUB_BLOCK_ENERGY_RATIO * SUB_BLOCK_SAMPLES))
        self._to_total = np.float32(db_to_power_ratio(TONE_TO_TOTAL_DB))
        self._to_total_all = np.float32(db_to_power_ratio(TONE_TO_TOTAL_WITH_DIAL_TONE_DB))
        self._twist_low = np.float32(1.0 / db_to_power_ratio(NORMAL_TWIST_LIMIT_DB))
        self._twist_high = np.float32(db_to_power_ratio(REVERSE_TWIST_LIMIT_DB))
        steady = db_to_amplitude_ratio(STEADY_DB)  # on |A| / |B|
        self._steady_pair = np.float32(steady + 1.0 / steady)  # on (|A|² + |B|²) / |A| |B|
        # 1 / (|Z| per unit tone power) by phase step, in GAIN_SLOTS slots over ±π.
        slots = np.arange(GAIN_SLOTS)
        centres = (slots + 0.5) * (2.0 * np.pi / GAIN_SLOTS) - np.pi
        gain = np.maximum(window_power_gain(centres), _MIN_GAIN)
        inverse_gain = np.append(1.0 / (_TONE_POWER_SCALE * gain), 1.0 / (_TONE_POWER_SCALE * gain[-1]))
        self._inverse_gain = inverse_gain.astype(np.float32)
        self._gain_slots_per_radian = np.float32(GAIN_SLOTS / (2.0 * np.pi))
        self._peak = np.float32(db_to_power_ratio(RELATIVE_PEAK_DB))  # on |Z|, a power
        # The dial-tone bins' |A|² + |B|², averaged over A and B, in tone-power units.
        dial = np.zeros(4 * N_FREQ // 2, dtype=np.float32)
        dial[N_DTMF:N_FREQ] = dial[N_FREQ + N_DTMF :] = 1.0 / (2.0 * _TONE_POWER_SCALE)
        self._dial_weights = dial
        self._power_per_energy = np.float32(0.5 / _ENERGY_SCALE)  # the frame's mean power
        self._group_offset = np.array([0, 4])
        # The same limits as Python floats, for ``_full_test``.
        self._scalar = (
            self._limits.tolist(),
            self._inverse_gain.tolist(),
            float(self._gain_slots_per_radian),
            float(self._floor),
            float(self._peak),
            float(self._steady_pair),
        )
        # Frame code of each (row, column) pair: row * 4 + column.
        self._frame_sub_blocks = np.arange(HISTORY_SUB_BLOCKS + 1)
        self._codes = (np.arange(4)[:, None] * 4 + np.arange(4)[None, :]).astype(np.int8)
        self.reset()

    def reset(self) -> None:
        c = self.channels
        # Samples as float32, a sliding buffer: from ``_at``, the HISTORY_SAMPLES before the
        # next sub-block, the samples not yet in a whole sub-block (``_held``), then room;
        # what is kept moves back to the start only when the room runs out.
        self._samples = np.zeros((c, HISTORY_SAMPLES + _ROOM_SUB_BLOCKS * SUB_BLOCK_SAMPLES), np.float32)
        self._at = 0
        self._held = 0
        self._frames_of: np.ndarray | None = None  # the buffer ``_frames`` views
        # After a block of the tick path: the last HISTORY_SAMPLES samples, a view of its
        # buffer (``_samples`` is then behind), and the two buffers it takes turns with.
        self._history: np.ndarray | None = None
        self._tick_buffers: list[np.ndarray] = []
        # Per sub-block: the screen's DFT values (rows 0..2 N_DTMF - 1) and the energy
        # (row _ENERGY) of each channel, sliding the same way: from ``_row``, the last
        # HISTORY_SUB_BLOCKS, then room.
        self._spectra = np.zeros((HISTORY_SUB_BLOCKS + _ROOM_SUB_BLOCKS, _SCREEN_ROWS, c), dtype=np.float32)
        self._row = 0
        self._work = _work(4, c)
        self.sub_blocks_done = 0
        self.samples_seen = 0

    def process(self, block: np.ndarray) -> tuple[FramePasses | None, int, int]:
        """The frames of the completed sub-blocks of ``block`` that hold a digit (None if
        none does), the end of the first frame, the number of frames."""
        first_end = (self.sub_blocks_done + 1) * SUB_BLOCK_SAMPLES
        done = self.sub_blocks_done
        n = block.shape[1]
        if n <= MAX_CHUNK_SAMPLES:
            return self._process(block), first_end, self.sub_blocks_done - done
        found = []
        for at in range(0, n, MAX_CHUNK_SAMPLES):
            before = self.sub_blocks_done
            passes = self._process(block[:, at : at + MAX_CHUNK_SAMPLES])
            if passes is not None:
                found.append(passes._replace(frames=passes.frames + (before - done)))
        merged = None
        if found:
            merged = FramePasses(*(np.concatenate(parts) for parts in zip(*found, strict=True)))
        return merged, first_end, self.sub_blocks_done - done

    def _process(self, block: np.ndarray) -> FramePasses | None:
        c = self.channels
        n = block.shape[1]
        tick = c >= TICK_PATH_MIN_CHANNELS and self._held == 0 and n % SUB_BLOCK_SAMPLES == 0
        if tick and HISTORY_SAMPLES <= n <= _TICK_MAX_SAMPLES:
            return self._process_tick(block)
        if self._history is not None:  # the sliding buffer catches up with the tick path
            np.copyto(self._samples[:, self._at : self._at + HISTORY_SAMPLES], self._history)
            self._history = None
        self.samples_seen += n
        held = self._held
        kept = HISTORY_SAMPLES + held
        if self._at + kept + n > self._samples.shape[1]:
            room = max(self._samples.shape[1], kept + n)
            if room > self._samples.shape[1]:
                moved = np.zeros((c, room + _ROOM_SUB_BLOCKS * SUB_BLOCK_SAMPLES), np.float32)
            else:
                moved = self._samples
            moved[:, :kept] = self._samples[:, self._at : self._at + kept]
            self._samples, self._at = moved, 0
        samples = self._samples[:, self._at :]
        n_sub = (held + n) // SUB_BLOCK_SAMPLES
        if n_sub == 0:
            np.copyto(samples[:, kept : kept + n], block, casting="unsafe")
            self._held = held + n
            return None
        used = n_sub * SUB_BLOCK_SAMPLES
        spectra = self._spectra_rows(n_sub)
        new = spectra[HISTORY_SUB_BLOCKS:]
        x = samples[:, HISTORY_SAMPLES : HISTORY_SAMPLES + used].reshape(c, n_sub, SUB_BLOCK_SAMPLES)
        basis = self._basis(n_sub)
        # Per group of channels, so that the samples are still in the cache for the product
        # and the energies (and the product stays on one thread, see above).
        for at in range(0, c, _SCREEN_CHANNELS_PER_PRODUCT):
            part = slice(at, at + _SCREEN_CHANNELS_PER_PRODUCT)
            np.copyto(samples[part, kept : kept + n], block[part], casting="unsafe")
            np.matmul(basis, x[part].transpose(1, 2, 0), out=new[:, :_ENERGY, part])
            np.einsum("cjn,cjn->jc", x[part], x[part], out=new[:, _ENERGY, part])
        self.sub_blocks_done += n_sub
        passes = self._screen(spectra, n_sub)
        # The last HISTORY_SUB_BLOCKS sub-blocks and samples, and the held samples, stay.
        self._row += n_sub
        self._at += used
        self._held = held + n - used
        return passes

    def _process_tick(self, block: np.ndarray) -> FramePasses | None:
        """``_process`` for a block of whole sub-blocks, none held (see _TICK_MAX_SAMPLES):
        the same products and screen, on a buffer of the block alone."""
        c = self.channels
        n = block.shape[1]
        self.samples_seen += n
        n_sub = n // SUB_BLOCK_SAMPLES
        history = self._history
        if history is None:
            history = self._samples[:, self._at : self._at + HISTORY_SAMPLES]
        buffers = self._tick_buffers
        if not buffers or buffers[0].shape[1] != n:
            buffers[:] = [np.empty((c, n), np.float32), np.empty((c, n), np.float32)]
        buffers.reverse()  # the other one may hold the history
        samples = buffers[0]
        spectra = self._spectra_rows(n_sub)
        new = spectra[HISTORY_SUB_BLOCKS:]
        x = samples.reshape(c, n_sub, SUB_BLOCK_SAMPLES)
        basis = self._basis(n_sub)
        for at in range(0, c, _SCREEN_CHANNELS_PER_PRODUCT):  # as in _process
            part = slice(at, at + _SCREEN_CHANNELS_PER_PRODUCT)
            np.copyto(samples[part], block[part], casting="unsafe")
            np.matmul(basis, x[part].transpose(1, 2, 0), out=new[:, :_ENERGY, part])
            np.einsum("cjn,cjn->jc", x[part], x[part], out=new[:, _ENERGY, part])
        self.sub_blocks_done += n_sub
        passes = self._screen(spectra, n_sub, (history, samples))
        self._row += n_sub
        self._history = samples[:, n - HISTORY_SAMPLES :]
        return passes

    def _spectra_rows(self, n_sub: int) -> np.ndarray:
        """The screen rows of the last HISTORY_SUB_BLOCKS sub-blocks and room for ``n_sub``."""
        if self._row + HISTORY_SUB_BLOCKS + n_sub > self._spectra.shape[0]:
            rows = max(self._spectra.shape[0], HISTORY_SUB_BLOCKS + n_sub)
            if rows > self._spectra.shape[0]:
                moved = np.zeros((rows, _SCREEN_ROWS, self.channels), dtype=np.float32)
            else:
                moved = self._spectra
            moved[:HISTORY_SUB_BLOCKS] = self._spectra[self._row : self._row + HISTORY_SUB_BLOCKS]
            self._spectra, self._row = moved, 0
        return self._spectra[self._row : self._row + HISTORY_SUB_BLOCKS + n_sub]

    def _basis(self, n_sub: int) -> np.ndarray:
        """The screen basis of the next ``n_sub`` sub-blocks (phases from sample 0)."""
        phase = self.sub_blocks_done % BASIS_PERIOD_SUB_BLOCKS
        if phase + n_sub <= BASIS_PERIOD_SUB_BLOCKS:
            return self._screen_basis[phase : phase + n_sub]
        return self._screen_basis[(phase + np.arange(n_sub)) % BASIS_PERIOD_SUB_BLOCKS]

    def _frame_samples(
        self, chans: np.ndarray, starts: np.ndarray, tick: tuple[np.ndarray, np.ndarray] | None
    ) -> np.ndarray:
        """(k, 200) samples of the frames starting ``starts`` samples after the history's
        first sample (the HISTORY_SAMPLES before this call's first sub-block), per channel;
        ``tick``: the history and the block of ``_process_tick``, else from ``_samples``."""
        if tick is None:
            return self._frame_view()[chans, starts + self._at]
        history, samples = tick
        # Only these channels' samples, each channel once when there are many (a channel
        # with a digit has several frames passing), then each frame's five sub-blocks.
        if chans.size > _FEW_FRAMES:
            chans_once = np.flatnonzero(np.bincount(chans, minlength=self.channels))
            row_of = np.empty(self.channels, np.intp)
            row_of[chans_once] = np.arange(chans_once.size)
            row_of = row_of[chans]
        else:
            chans_once, row_of = chans, np.arange(chans.size)
        rows = np.concatenate((history[chans_once], samples[chans_once]), axis=1)
        rows = rows.reshape(chans_once.size, -1, SUB_BLOCK_SAMPLES)
        frames = rows[row_of[:, None], (starts // SUB_BLOCK_SAMPLES)[:, None] + self._frame_sub_blocks]
        return frames.reshape(chans.size, FRAME_SAMPLES)

    def _screen(
        self, s: np.ndarray, n: int, tick: tuple[np.ndarray, np.ndarray] | None = None
    ) -> FramePasses | None:
        """The frames ending at sub-blocks 4.. of ``s`` (screen spectra and energies) that
        hold a digit, or None; frame f's samples are ``_samples[:, _at + 40 f :][:200]``."""
        width = self.channels
        w = self._work if self._work.sub_blocks == n else _work(n, width)
        self._work = w
        # The basis carries w0 = 0.5: s0 + 2 s1 + 2 s2 + s3 is the (0.5, 1, 1, 0.5) taper
        # (and, in the energy row, twice the window's energy).
        np.add(s[:-1], s[1:], out=w.pairs)
        np.add(w.pairs[:-2], w.pairs[1:-1], out=w.windows)
        np.add(w.windows, w.pairs[2:], out=w.windows)  # (frames + 1, rows, C)
        squares = np.square(w.windows[:, :_ENERGY], out=w.windows[:, :_ENERGY])
        np.add(squares[:, :N_DTMF], squares[:, N_DTMF:], out=w.powers)  # |T|², in units
        np.add(w.powers[:-1], w.powers[1:], out=w.pair)  # |A|² + |B|², (frames, 8, C)
        np.maximum.reduce(w.pair.reshape(n, 2, 4, width), axis=2, out=w.groups)  # per group
        row, col = w.groups[:, 0], w.groups[:, 1]
        np.add(w.windows[:-1, _ENERGY], w.windows[1:, _ENERGY], out=w.energy)  # 2 ENERGY_WEIGHTS · e
        e = s[:, _ENERGY]
        np.minimum(e[:-1], e[1:], out=w.quiet2)
        np.minimum(w.quiet2[:-2], w.quiet2[2:], out=w.quiet4)
        np.minimum(w.quiet4[:-1], e[4:], out=w.quietest)  # the weakest of each frame's five
        # Tone pair and weakest sub-block against the frame's energy, then each group's floor.
        np.multiply(w.quietest, self._quiet_scale, out=w.quietest)
        np.add(row, col, out=w.total)
        np.minimum(w.total, w.quietest, out=w.total)
        np.greater_equal(w.total, w.energy, out=w.screen)
        np.minimum(row, col, out=w.total)
        np.greater_equal(w.total, self._screen_floor, out=w.test)
        np.logical_and(w.screen, w.test, out=w.screen)
        passed = w.screen.reshape(-1).nonzero()[0]
        if not passed.size:
            return None
        frames, chans = np.divmod(passed, width)
        energy = w.energy.reshape(-1)[passed]
        # Each frame's 200 samples: frame f of the call starts f sub-blocks into the buffer.
        x = self._frame_samples(chans, frames * SUB_BLOCK_SAMPLES, tick)  # (k, 200)
        x = x.reshape(passed.size, HISTORY_SUB_BLOCKS + 1, SUB_BLOCK_SAMPLES).transpose(1, 0, 2)
        sub = np.empty((HISTORY_SUB_BLOCKS + 1, passed.size, 2 * N_FREQ), np.float32)
        for at in range(0, passed.size, _FRAMES_PER_PRODUCT):
            part = slice(at, at + _FRAMES_PER_PRODUCT)
            np.matmul(x[:, part], self._frame_basis, out=sub[:, part])
        pairs = sub[:-1] + sub[1:]
        middle = pairs[1] + pairs[2]
        g = np.empty((passed.size, 4 * N_FREQ), np.float32)  # windows A then B
        np.add(pairs[0], middle, out=g[:, : 2 * N_FREQ])
        np.add(middle, pairs[3], out=g[:, 2 * N_FREQ :])
        if passed.size <= _FEW_FRAMES:
            codes = np.array(
                [self._full_test(row, e) for row, e in zip(g.tolist(), energy.tolist(), strict=True)], np.int8
            )
        else:
            codes = self._full_tests(g, energy)
        held = codes >= 0
        if not held.any():
            return None
        return FramePasses(frames[held], chans[held], codes[held])

    def _frame_view(self) -> np.ndarray:
        """``_samples`` seen as (channels, start, 200): every 200 samples from every start."""
        if self._frames_of is not self._samples:
            c, width = self._samples.shape
            self._frames = np.lib.stride_tricks.as_strided(
                self._samples,
                shape=(c, width - FRAME_SAMPLES + 1, FRAME_SAMPLES),
                strides=(self._samples.strides[0], self._samples.strides[1], self._samples.strides[1]),
                writeable=False,
            )
            self._frames_of = self._samples
        return self._frames

    def _full_tests(self, g: np.ndarray, energy: np.ndarray) -> np.ndarray:
        """Digit codes (-1: none) of frames whose windows are ``g`` (k, 4 N_FREQ: A then B,
        complex values as (re, im) pairs) and whose sub-block energies weighted
        2 ENERGY_WEIGHTS are ``energy``."""
        k = g.shape[0]
        squares = np.square(g)
        powers = squares[:, 0::2] + squares[:, 1::2]  # |A|² then |B|² per frequency
        c = g.view(np.complex64)
        z = c[:, N_FREQ : N_FREQ + N_DTMF] * c[:, :N_DTMF].conj()
        mag = np.abs(z)  # |Z| = |A| |B|
        # Per group (columns: low, high), the strongest bin and the next strongest, by
        # columns (a sort or argmax along a 4-long axis costs a call per frame inside numpy).
        first, second, third, fourth = mag[:, 0::4], mag[:, 1::4], mag[:, 2::4], mag[:, 3::4]
        top_12, low_12 = np.maximum(first, second), np.minimum(first, second)
        top_34, low_34 = np.maximum(third, fourth), np.minimum(third, fourth)
        in_12 = top_12 >= top_34  # ties go to the first, as argmax
        top = np.maximum(top_12, top_34)
        runner_up = np.maximum(np.minimum(top_12, top_34), np.where(in_12, low_12, low_34))
        best = np.where(in_12, second > first, (fourth > third) + 2)
        bins = best + self._group_offset  # bin numbers 0-7, (k, 2)
        frames = np.arange(k)[:, None]
        zb = z[frames, bins]
        phase_step = np.arctan2(zb.imag, zb.real)
        # Tone powers: |Z| corrected for the window's loss at the measured deviation.
        slot = ((phase_step + np.float32(np.pi)) * self._gain_slots_per_radian).astype(np.intp)
        tone = top * self._inverse_gain[slot]
        # |A|² + |B|² >= 2 |A| |B| = 2 |Z|, equal when |A| = |B|: the ratio bounds |A| / |B|.
        sum_of_squares = powers[frames, bins] + powers[frames, bins + N_FREQ]
        dial = powers @ self._dial_weights
        ok = np.abs(phase_step) <= self._limits[bins]
        ok &= tone >= self._floor
        ok &= top >= self._peak * runner_up
        ok &= sum_of_squares <= self._steady_pair * top
        ok = ok[:, 0] & ok[:, 1]
        p_row, p_col = tone[:, 0], tone[:, 1]
        ok &= p_col >= self._twist_low * p_row
        ok &= p_col <= self._twist_high * p_row
        p_tones = p_row + p_col
        power = energy * self._power_per_energy
        ok &= p_tones >= self._to_total * (power - dial)
        ok &= p_tones >= self._to_total_all * power
        return np.where(ok, self._codes[best[:, 0], best[:, 1]], np.int8(-1))

    def _full_test(self, g: list[float], energy: float) -> int:
        """``_full_tests`` for one frame, in Python floats (the same tests, in the same order)."""
        limits, inverse_gain, slots_per_radian, floor, peak, steady_pair = self._scalar
        found = []
        for group in (0, 4):
            top = runner_up = -1.0
            best = 0
            for bin_ in range(group, group + 4):
                ar, ai = g[2 * bin_], g[2 * bin_ + 1]
                br, bi = g[2 * (N_FREQ + bin_)], g[2 * (N_FREQ + bin_) + 1]
                zr, zi = br * ar + bi * ai, bi * ar - br * ai
                mag = math.hypot(zr, zi)
                if mag > top:
                    top, runner_up, best, z = mag, top, bin_, (zr, zi, ar * ar + ai * ai + br * br + bi * bi)
                elif mag > runner_up:
                    runner_up = mag
            zr, zi, sum_of_squares = z
            phase_step = math.atan2(zi, zr)
            tone = top * inverse_gain[int((phase_step + math.pi) * slots_per_radian)]
            if not (
                abs(phase_step) <= limits[best]
                and tone >= floor
                and top >= peak * runner_up
                and sum_of_squares <= steady_pair * top
            ):
                return -1
            found.append((best - group, tone))
        (row, p_row), (col, p_col) = found
        if not float(self._twist_low) * p_row <= p_col <= float(self._twist_high) * p_row:
            return -1
        dial = sum(value * value for value in g[2 * N_DTMF : 2 * N_FREQ] + g[2 * (N_FREQ + N_DTMF) :])
        dial /= 2.0 * _TONE_POWER_SCALE
        p_tones = p_row + p_col
        power = energy * float(self._power_per_energy)
        if p_tones >= float(self._to_total) * (power - dial) and p_tones >= float(self._to_total_all) * power:
            return row * 4 + col
        return -1
