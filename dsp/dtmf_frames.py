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

How (``dsp/dtmf_kernel.py`` runs it, compiled, one call per block for every channel):
each 5 ms sub-block is projected onto the 8 DTMF and 3 dial-tone frequencies with phases
counted from sample 0 of the stream, so sums of sub-blocks are the windows A and B, and
its energy is kept. Then, per frame:

1. the screen: bounds of the two tone powers (each group's strongest ``|A|² + |B|²``
   divided by the largest window loss a tone within the frequency limits can have) are
   checked against the level floor and the frame's energy, and the weakest sub-block
   against the frame's mean. A frame failing the screen cannot pass the full tests, which
   are dearer (a square root per bin, two arc tangents);
2. the full tests above, on the frames that passed the screen (a few percent on speech).

This module holds the limits and the tables the kernel reads (``frame_tables``), in the
kernel's units: ``FrameTables``.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp import dtmf_kernel as k
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
GAIN_SLOTS = 2048  # table of the window-loss correction over ±π: steps of 0.003 rad


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


class FrameTables(NamedTuple):
    """What ``dtmf_kernel.receive`` reads, built once (``frame_tables``), read-only."""

    basis: np.ndarray  # (1 s of sub-blocks, 40, LANES) float32: per sub-block, the DFT columns
    constants: np.ndarray  # the limits at the kernel's P_* indices, then the window-loss table


@cache
def frame_tables() -> FrameTables:
    """The kernel's tables and limits (the same for every receiver)."""
    # Each sub-block's columns: cos and -sin of the 8 DTMF then the 3 dial-tone frequencies,
    # phases from sample 0 of the stream (the basis repeats every 200 sub-blocks = 1 s, as
    # all frequencies are whole Hz), so sums of sub-blocks are windows; the phase is reduced
    # modulo the period in integers first, so float error stays tiny.
    n = np.arange(BASIS_PERIOD_SUB_BLOCKS)[:, None, None] * SUB_BLOCK_SAMPLES + np.arange(SUB_BLOCK_SAMPLES)[None, :, None]
    columns = ((0, DTMF_HZ), (2 * N_DTMF, DIAL_TONE_HZ))
    basis = np.zeros((BASIS_PERIOD_SUB_BLOCKS, SUB_BLOCK_SAMPLES, k.LANES), np.float32)
    for first, hz in columns:
        freqs = np.array(hz, dtype=np.int64)[None, None, :]
        phase = 2.0 * np.pi * ((freqs * n) % SAMPLE_RATE) / SAMPLE_RATE
        basis[:, :, first : first + len(hz)] = np.cos(phase)
        basis[:, :, first + len(hz) : first + 2 * len(hz)] = -np.sin(phase)
    # 1 / (|Z| per unit tone power) by phase step, in GAIN_SLOTS slots over ±π (and one
    # more for a step of exactly +π).
    slots = np.arange(GAIN_SLOTS)
    centres = (slots + 0.5) * (2.0 * np.pi / GAIN_SLOTS) - np.pi
    gain = np.maximum(window_power_gain(centres), _MIN_GAIN)
    inverse_gain = np.append(1.0 / (_TONE_POWER_SCALE * gain), 1.0 / (_TONE_POWER_SCALE * gain[-1]))
    floor = _ZERO_DBM0_POWER * db_to_power_ratio(MIN_TONE_DBM0)
    steady = db_to_amplitude_ratio(STEADY_DB)  # on |A| / |B|
    params = np.zeros(k.N_PARAMS)
    # Both groups' bounds must reach the floor: 2 |T|² of a tone at the floor, in units.
    params[k.P_SCREEN_FLOOR] = floor * 2.0 * _TONE_POWER_SCALE / _SCREEN_TOTAL
    # The weakest sub-block (weight 1) vs. the frame's energy (weights 2 ENERGY_WEIGHTS).
    params[k.P_QUIET_SCALE] = 2.0 * _ENERGY_SCALE / (MIN_SUB_BLOCK_ENERGY_RATIO * SUB_BLOCK_SAMPLES)
    params[k.P_FLOOR] = floor
    params[k.P_PEAK] = db_to_power_ratio(RELATIVE_PEAK_DB)  # on |Z|, a power
    params[k.P_STEADY_PAIR] = steady + 1.0 / steady  # on (|A|² + |B|²) / |A| |B|
    params[k.P_TWIST_LOW] = 1.0 / db_to_power_ratio(NORMAL_TWIST_LIMIT_DB)
    params[k.P_TWIST_HIGH] = db_to_power_ratio(REVERSE_TWIST_LIMIT_DB)
    params[k.P_TO_TOTAL] = db_to_power_ratio(TONE_TO_TOTAL_DB)
    params[k.P_TO_TOTAL_ALL] = db_to_power_ratio(TONE_TO_TOTAL_WITH_DIAL_TONE_DB)
    params[k.P_POWER_PER_ENERGY] = 0.5 / _ENERGY_SCALE  # the frame's mean power
    params[k.P_SLOTS_PER_RADIAN] = GAIN_SLOTS / (2.0 * np.pi)
    params[k.P_DIAL_SCALE] = 1.0 / (2.0 * _TONE_POWER_SCALE)  # |A|² + |B|² averaged, in tone power
    params[k.P_UNITS : k.P_UNITS + N_DTMF] = _screen_units()
    params[k.P_LIMITS : k.P_LIMITS + N_DTMF] = frequency_limits()
    constants = np.concatenate([params, inverse_gain])
    if constants.size > k.CONSTANT_VALUES or basis.shape != (k.BASIS_PERIOD, SUB_BLOCK_SAMPLES, k.LANES):
        raise DspError("DTMF tables do not fit the kernel's layout")  # a programming error
    tables = FrameTables(basis, constants)
    for table in tables:
        table.setflags(write=False)
    return tables
