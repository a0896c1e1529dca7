"""The DTMF receiver's compiled kernel: samples in, frame tests and digit events out.

One call of ``receive`` does all the work of a block for every channel, channel after
channel, sub-block after sub-block (``dsp/dtmf_frames.py`` explains the frames and sets
every threshold; ``dsp/dtmf.py`` the digit rules):

1. each completed 5 ms sub-block is projected onto the 8 DTMF and 3 dial-tone frequencies
   (float32, phases from the sub-block's first sample), then turned to phases counted from
   sample 0 of the stream (so sums of sub-blocks are windows), with its energy;
2. the frame ending with it (the last five sub-blocks: windows A and B) is screened with
   bounds of the tone powers (cheap, no square root); only a frame passing the screen
   gets the full tests;
3. the frame's digit code (or -1) steps the channel's digit state machine, which writes
   the events it completes.

Arrays only, allocated by the caller (``FrameTables`` and ``ReceiverState``), no fastmath:
the same input gives the same events on every machine numba supports.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from dsp.jit import inlined, kernel, projection

# Columns of the state machine's per-channel integers (``ReceiverState.digits``).
ON_DIGIT, ON_START, ON_LAST, PREVIOUS = range(4)
NO_DIGIT = -1
# Columns of an event row.
EV_CHANNEL, EV_KIND, EV_CODE, EV_START, EV_END, EV_REPORT = range(6)
EVENT_COLUMNS = 6
KIND_DIGIT, KIND_START = 0, 1

# Indices of ``FrameTables.params`` (float64): the limits in the kernel's units.
(
    P_SCREEN_FLOOR,
    P_QUIET_SCALE,
    P_FLOOR,
    P_PEAK,
    P_STEADY_PAIR,
    P_TWIST_LOW,
    P_TWIST_HIGH,
    P_TO_TOTAL,
    P_TO_TOTAL_ALL,
    P_POWER_PER_ENERGY,
    P_SLOTS_PER_RADIAN,
    P_DIAL_SCALE,
) = range(12)
P_UNITS = 12  # 8 values: per DTMF bin, the screen's factor on |A|² + |B|²
P_LIMITS = 20  # 8 values: per DTMF bin, the largest accepted phase step (radians per sub-block)
N_PARAMS = 28

SUB = 40  # samples per sub-block
RING = 5  # sub-blocks per frame
N_DTMF = 8
N_FREQ = 11  # 8 DTMF then 3 dial-tone frequencies
# Basis columns: 8 DTMF cos, 8 DTMF -sin, 3 dial-tone cos, 3 -sin, 2 unused.
LANES = 24
# A ring slot: the sub-block's samples, its values in the 16 DTMF columns, its energy.
# (The dial-tone columns are only needed by the last of the full tests: they are
# computed from the samples then, for the few frames that get that far.)
VALUES = SUB
ENERGY = VALUES + 2 * N_DTMF
RING_WIDTH = ENERGY + 8
DIAL_COLUMNS = 2 * N_DTMF  # basis columns of the dial tones: 3 cos, 3 -sin, 2 unused
_project = projection(SUB, 2, keep=True)  # the DTMF columns, keeping the samples
_project_dial_tones = projection(SUB, 1)
BASIS_PERIOD = 200  # sub-blocks: 1 s, after which whole-Hz phases repeat
BASIS_VALUES = BASIS_PERIOD * SUB * LANES
# Offsets in the kernel's float32 array: the limits (N_PARAMS) and the window-loss table,
# scratch room, the basis, the ring (each a multiple of 8 values, for aligned vectors).
CONSTANT_VALUES = 2080
SCRATCH_AT = CONSTANT_VALUES
BASIS_AT = SCRATCH_AT + 64
RING_AT = BASIS_AT + BASIS_VALUES
GAP_FRAMES = 10  # see dsp/dtmf.py


@inlined
def _tone_tests(  # pragma: no cover - compiled (numba runs it, coverage cannot see it)
    a: np.ndarray, b: np.ndarray, params: np.ndarray, inverse_gain: np.ndarray
) -> tuple[int, float]:
    """The digit code (row * 4 + column) the frame with DTMF windows ``a`` and ``b``
    (N_DTMF real parts then imaginary parts, float32) holds by all tests of
    dsp/dtmf_frames.py but the tones' share of the energy, or -1; and the two tones' power.
    In float64, from the float32 values."""
    code = 0
    p_row = 0.0
    p_col = 0.0
    for group in range(2):
        top = -1.0
        runner_up = -1.0
        best = group * 4
        zr_best = 0.0
        zi_best = 0.0
        sum_of_squares = 0.0
        for bin_ in range(group * 4, group * 4 + 4):
            ar, ai = np.float64(a[bin_]), np.float64(a[N_DTMF + bin_])
            br, bi = np.float64(b[bin_]), np.float64(b[N_DTMF + bin_])
            zr = br * ar + bi * ai  # Z = B conj(A): its angle is the phase advance in 5 ms
            zi = bi * ar - br * ai
            mag = zr * zr + zi * zi  # |Z|², compared first; square roots of the two largest only
            if mag > top:
                runner_up = top
                top = mag
                best = bin_
                zr_best = zr
                zi_best = zi
                sum_of_squares = ar * ar + ai * ai + br * br + bi * bi
            elif mag > runner_up:
                runner_up = mag
        top = math.sqrt(top)
        runner_up = math.sqrt(runner_up) if runner_up > 0.0 else runner_up
        # The cheap tests first (all must pass: the order changes no result).
        if not (top >= params[P_PEAK] * runner_up and sum_of_squares <= params[P_STEADY_PAIR] * top):
            return NO_DIGIT, 0.0
        phase_step = math.atan2(zi_best, zr_best)
        tone = top * inverse_gain[int((phase_step + math.pi) * params[P_SLOTS_PER_RADIAN])]
        if not (abs(phase_step) <= params[P_LIMITS + best] and tone >= params[P_FLOOR]):
            return NO_DIGIT, 0.0
        if group == 0:
            code = best * 4
            p_row = tone
        else:
            code += best - 4
            p_col = tone
    if not params[P_TWIST_LOW] * p_row <= p_col <= params[P_TWIST_HIGH] * p_row:
        return NO_DIGIT, 0.0
    return code, p_row + p_col


@kernel
def receive(block: np.ndarray, floats: np.ndarray, ints: np.ndarray) -> int:  # pragma: no cover - compiled
    """Feeds ``block`` (channels, n) to every channel; returns the number of event rows
    written after the state in ``ints`` (channel after channel, each in time order), or
    -1, changing nothing, when there is no room for ``event_rows(channels, n)`` of them.

    Three arrays only (each argument costs some 0.2 µs of numba's dispatch, per call):
    ``floats`` float32, from the offsets ``*_AT``: the limits (``P_*``) and the window-loss
    table, scratch room, the basis (BASIS_PERIOD, 40, LANES), the ring (channels, 5,
    RING_WIDTH): per sub-block of the last five (slot = sub-block number mod 5) its
    samples, values and energy; ``ints`` int64 (rows of EVENT_COLUMNS): the state machine
    per channel, [sub-blocks done, samples of the next one held], then the event rows."""
    channels, n = block.shape
    if ints.shape[0] - channels - 1 < event_rows(channels, n):
        return -1
    basis = floats[BASIS_AT:RING_AT].reshape((BASIS_PERIOD, SUB, LANES))
    ring = floats[RING_AT:].reshape((channels, RING, RING_WIDTH))
    state = ints
    events = ints[channels + 1 :]
    done = state[channels, 0]
    held = state[channels, 1]
    period = BASIS_PERIOD
    params = floats[:N_PARAMS]
    inverse_gain = floats[N_PARAMS:SCRATCH_AT]
    a = floats[SCRATCH_AT : SCRATCH_AT + 2 * N_DTMF]  # windows A and B of a frame under test
    b = floats[SCRATCH_AT + 2 * N_DTMF : SCRATCH_AT + 4 * N_DTMF]
    powers = floats[SCRATCH_AT + 4 * N_DTMF : SCRATCH_AT + 5 * N_DTMF]
    dial_values = floats[SCRATCH_AT + 5 * N_DTMF : SCRATCH_AT + 6 * N_DTMF]
    count = 0
    # Ring slot and basis row of the sub-block under way (no division per sub-block).
    first_slot = done % RING
    first_row = done % period
    lead = SUB - held if held > 0 else 0  # samples completing the sub-block under way
    has_held = 1 if held > 0 else 0
    complete = (held + n) // SUB  # sub-blocks this block completes
    tail = (held + n) % SUB  # samples of the next sub-block it begins
    for ch in range(channels):
        sub_block = done
        slot = first_slot
        basis_row = first_row
        digit = state[ch, ON_DIGIT]
        start = state[ch, ON_START]
        last = state[ch, ON_LAST]
        previous = state[ch, PREVIOUS]
        for k in range(complete):
            # 1. The sub-block's values in the basis columns (phases from sample 0) and energy,
            # from the block itself when it holds the whole sub-block. (Elements are indexed,
            # no array views made: a view costs two reference-count updates.)
            if k < has_held:
                for t in range(lead):
                    ring[ch, slot, held + t] = block[ch, t]
                energy = _project(
                    ring, (ch, slot, 0), basis, (basis_row, 0, 0), ring, (ch, slot, VALUES), ring, (ch, slot, 0)
                )
            else:
                at = lead + (k - has_held) * SUB
                energy = _project(
                    block, (ch, at), basis, (basis_row, 0, 0), ring, (ch, slot, VALUES), ring, (ch, slot, 0)
                )
            ring[ch, slot, ENERGY] = energy
            # 2. The frame of the last five sub-blocks (slots: oldest first): windows A (0-3)
            # and B (1-4), tapered (0.5, 1, 1, 0.5); the screen on the DTMF bins first.
            slot = slot + 1 if slot < RING - 1 else 0  # the oldest slot, the next one to fill
            basis_row = basis_row + 1 if basis_row < period - 1 else 0
            slots = (
                slot,
                slot + 1 if slot < RING - 1 else slot + 1 - RING,
                slot + 2 if slot < RING - 2 else slot + 2 - RING,
                slot + 3 if slot < RING - 3 else slot + 3 - RING,
                slot + 4 if slot < RING - 4 else slot + 4 - RING,
            )
            _window_powers(ring, ch, slots, powers)
            low = 0.0
            high = 0.0
            for f in range(N_DTMF):
                bound = np.float64(powers[f]) * params[P_UNITS + f]
                if f < 4:
                    low = max(low, bound)
                else:
                    high = max(high, bound)
            e0 = np.float64(ring[ch, slots[0], ENERGY])
            e1 = np.float64(ring[ch, slots[1], ENERGY])
            e2 = np.float64(ring[ch, slots[2], ENERGY])
            e3 = np.float64(ring[ch, slots[3], ENERGY])
            e4 = np.float64(energy)
            energy = e0 + 3.0 * e1 + 4.0 * e2 + 3.0 * e3 + e4  # 2 ENERGY_WEIGHTS
            quietest = min(min(min(e0, e1), min(e2, e3)), e4) * params[P_QUIET_SCALE]
            code = NO_DIGIT
            if min(low + high, quietest) >= energy and min(low, high) >= params[P_SCREEN_FLOOR]:
                _windows(ring, ch, slots, a, b)
                code, p_tones = _tone_tests(a, b, params, inverse_gain)
                if code != NO_DIGIT:  # last, the tones' share of the frame's power
                    oldest_row = basis_row - RING if basis_row >= RING else basis_row - RING + period
                    dial = _dial_tone_power(
                        ring, ch, slots, basis, oldest_row, dial_values, np.float64(params[P_DIAL_SCALE])
                    )
                    power = energy * params[P_POWER_PER_ENERGY]
                    if not (p_tones >= params[P_TO_TOTAL] * (power - dial) and p_tones >= params[P_TO_TOTAL_ALL] * power):
                        code = NO_DIGIT
            # 3. The digit state machine, frame by frame (dsp/dtmf.py).
            number = sub_block
            frame_end = (number + 1) * SUB
            sub_block += 1
            if code == digit and code != NO_DIGIT:
                last = number
            elif code != NO_DIGIT and code == previous:  # a new digit, at its second frame
                if digit != NO_DIGIT:
                    count = _event(events, count, ch, KIND_DIGIT, digit, start, (last + 1) * SUB, frame_end)
                # The run began with the previous frame, one hop before this one.
                digit, start, last = code, frame_end - RING * SUB - SUB, number
                count = _event(events, count, ch, KIND_START, digit, start, 0, frame_end)
            elif digit != NO_DIGIT and number - last >= GAP_FRAMES:
                count = _event(events, count, ch, KIND_DIGIT, digit, start, (last + 1) * SUB, frame_end)
                digit = NO_DIGIT
            previous = code
        # The samples of a sub-block this block begins, or adds to, without completing it.
        if complete == 0:
            for t in range(n):
                ring[ch, slot, held + t] = block[ch, t]
        else:
            for t in range(tail):
                ring[ch, slot, t] = block[ch, n - tail + t]
        state[ch, ON_DIGIT] = digit
        state[ch, ON_START] = start
        state[ch, ON_LAST] = last
        state[ch, PREVIOUS] = previous
    state[channels, 0] = done + complete
    state[channels, 1] = tail
    return count


@inlined
def _windows(ring: np.ndarray, ch: int, slots: tuple, a: np.ndarray, b: np.ndarray) -> None:  # pragma: no cover
    """Windows A and B of the DTMF bins (``a``/``b``: N_DTMF real parts, then N_DTMF
    imaginary parts) of the frame of channel ``ch``'s ring ``slots`` (oldest first),
    tapered (0.5, 1, 1, 0.5)."""
    s0, s1, s2, s3, s4 = slots
    for column in range(2 * N_DTMF):
        v0 = ring[ch, s0, VALUES + column]
        v1 = ring[ch, s1, VALUES + column]
        v2 = ring[ch, s2, VALUES + column]
        v3 = ring[ch, s3, VALUES + column]
        v4 = ring[ch, s4, VALUES + column]
        a[column] = np.float32(0.5) * (v0 + v3) + v1 + v2
        b[column] = np.float32(0.5) * (v1 + v4) + v2 + v3


@inlined
def _dial_tone_power(  # pragma: no cover - compiled
    ring: np.ndarray, ch: int, slots: tuple, basis: np.ndarray, first_row: int, values: np.ndarray, dial_scale: float
) -> float:
    """The dial-tone bins' ``|A|² + |B|²`` summed, times ``dial_scale``, of the frame of
    channel ``ch``'s ring ``slots`` (oldest first; the oldest sub-block's basis row is
    ``first_row``), from its samples."""
    a = np.zeros(2 * (N_FREQ - N_DTMF), np.float32)  # rare: a few frames in a hundred
    b = np.zeros(2 * (N_FREQ - N_DTMF), np.float32)
    weights_a = (0.5, 1.0, 1.0, 0.5, 0.0)
    weights_b = (0.0, 0.5, 1.0, 1.0, 0.5)
    row = first_row
    for k in range(RING):
        _project_dial_tones(ring, (ch, slots[k], 0), basis, (row, 0, DIAL_COLUMNS), values, (0,))
        row = row + 1 if row < basis.shape[0] - 1 else 0
        for column in range(2 * (N_FREQ - N_DTMF)):
            a[column] += np.float32(weights_a[k]) * values[column]
            b[column] += np.float32(weights_b[k]) * values[column]
    dial = 0.0
    for column in range(2 * (N_FREQ - N_DTMF)):
        dial += np.float64(a[column]) * a[column] + np.float64(b[column]) * b[column]
    return dial * dial_scale


@intrinsic
def _window_powers(typingctx: Any, ring: Any, ch: Any, slots: Any, out: Any) -> Any:
    """``out[f] = |A_f|² + |B_f|²`` (float32) of the 8 DTMF bins of the frame of channel
    ``ch``'s ring ``slots`` (oldest first): the screen's part of ``_windows``, as 8-lane
    vectors (the same float32 operations, in the same order, as a loop over the bins,
    which LLVM does not vectorize by itself)."""
    for arg, ndim in ((ring, 3), (out, 1)):
        if not (isinstance(arg, types.Array) and arg.dtype == types.float32 and arg.ndim == ndim and arg.layout == "C"):
            raise numba.core.errors.TypingError(f"_window_powers: C-contiguous float32 arrays, got {arg}")
    signature = types.void(ring, ch, slots, out)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> None:
        f32 = ir.FloatType()
        intp = context.get_value_type(types.intp)
        vector = ir.VectorType(f32, N_DTMF)
        half = ir.Constant(vector, [0.5] * N_DTMF)
        ring_type = sig.args[0]
        ring_array = context.make_array(ring_type)(context, builder, args[0])
        channel = context.cast(builder, args[1], sig.args[1], types.intp)
        slot_values = cgutils.unpack_tuple(builder, args[2], RING)

        def load(slot: Any, column: int) -> Any:
            at = cgutils.get_item_pointer(
                context, builder, ring_type, ring_array,
                [channel, context.cast(builder, slot, sig.args[2].dtype, types.intp), ir.Constant(intp, column)],
            )  # fmt: skip
            return builder.load(builder.bitcast(at, vector.as_pointer()), align=4)

        slots_ = [(load(slot, VALUES), load(slot, VALUES + N_DTMF)) for slot in slot_values]
        total = None
        for first in (0, 1):  # window A: slots 0-3, B: 1-4
            w0, w1, w2, w3 = slots_[first : first + 4]
            for part in (0, 1):  # real, imaginary
                value = builder.fadd(builder.fmul(half, builder.fadd(w0[part], w3[part])), w1[part])
                value = builder.fadd(value, w2[part])
                square = builder.fmul(value, value)
                total = square if total is None else builder.fadd(total, square)
        out_data = context.make_array(sig.args[3])(context, builder, args[3]).data
        builder.store(total, builder.bitcast(out_data, vector.as_pointer()), align=4)

    return signature, codegen


@inlined
def event_rows(channels: int, n: int) -> int:
    """Room for the events of a block of ``n`` samples: per channel, digits start at least
    2 frames apart and each ends once, so at most frames + 2 events (frames <= (n + 39) // 40)."""
    return channels * ((n + SUB - 1) // SUB + 3)


@inlined
def _event(  # pragma: no cover - compiled
    events: np.ndarray, count: int, channel: int, kind: int, code: int, start: int, end: int, report: int
) -> int:
    """Writes an event row at ``count`` (if there is room: ``receive`` sizes it) and
    returns the next row."""
    if count >= events.shape[0]:
        return count
    events[count, EV_CHANNEL] = channel
    events[count, EV_KIND] = kind
    events[count, EV_CODE] = code
    events[count, EV_START] = start
    events[count, EV_END] = end
    events[count, EV_REPORT] = report
    return count + 1
