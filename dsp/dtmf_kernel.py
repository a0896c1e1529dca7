"""The DTMF receiver's compiled kernel: samples in, frame tests and digit events out.

One call of ``receive`` does all the work of a block for every channel, channel after
channel, sub-block after sub-block (``dsp/dtmf_frames.py`` explains the frames and sets
every threshold; ``dsp/dtmf.py`` the digit rules):

1. each completed 5 ms sub-block is projected onto the 8 DTMF frequencies (cos and sin,
   float32), with phases counted from sample 0 of the stream (a basis row per sub-block of
   the second after which whole-Hz phases repeat), so sums of sub-blocks are windows; its
   energy and samples are kept in the channel's ring of five sub-blocks;
2. the frame ending with it (the last five sub-blocks: windows A and B) is screened with
   bounds of the tone powers (cheap, no square root); only a frame passing the screen
   gets the full tests, and only one passing all the others is projected onto the three
   dial-tone frequencies (from its kept samples) for the last one;
3. the frame's digit code (or -1) steps the channel's digit state machine, which writes
   the events it completes.

Three arrays, allocated by the caller (``dsp.dtmf.DtmfDetector``, laid out by the ``*_AT``
offsets below), indexed as they come; no fastmath: the same input gives the same events on
every machine numba supports.
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

# Columns of the state machine's per-channel row of ``ints``.
ON_DIGIT, ON_START, ON_LAST, PREVIOUS = range(4)
NO_DIGIT = -1
# Columns of an event row.
EV_CHANNEL, EV_KIND, EV_CODE, EV_START, EV_END, EV_REPORT = range(6)
EVENT_COLUMNS = 6
KIND_DIGIT, KIND_START = 0, 1

# Indices of the limits at the start of ``floats`` (dsp/dtmf_frames.py fills them), in the kernel's units.
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
_project = projection(SUB, 2, LANES, keep=True)  # the DTMF columns, keeping the samples
_project_dial_tones = projection(SUB, 1, LANES)
BASIS_PERIOD = 200  # sub-blocks: 1 s, after which whole-Hz phases repeat
BASIS_VALUES = BASIS_PERIOD * SUB * LANES
# Offsets in the kernel's float32 array: the limits (N_PARAMS) and the window-loss table,
# scratch room, the basis, the ring (each a multiple of 8 values, for aligned vectors).
CONSTANT_VALUES = 2080
SCRATCH_AT = CONSTANT_VALUES
A_AT = SCRATCH_AT  # windows A and B of a frame under the full tests (16 values each)
B_AT = A_AT + 2 * N_DTMF
POWERS_AT = B_AT + 2 * N_DTMF  # the screen's |A|² + |B|² (8)
DIAL_VALUES_AT = POWERS_AT + N_DTMF  # a sub-block's dial-tone values (8), then its windows (6 + 6)
DIAL_A_AT = DIAL_VALUES_AT + 8
DIAL_B_AT = DIAL_A_AT + 8
BASIS_AT = SCRATCH_AT + 96
RING_AT = BASIS_AT + BASIS_VALUES
GAP_FRAMES = 10  # see dsp/dtmf.py


@inlined
def _tone_tests(floats: np.ndarray) -> tuple[int, float]:  # pragma: no cover - compiled
    """The digit code (row * 4 + column) the frame with DTMF windows A and B at ``A_AT``
    and ``B_AT`` of ``floats`` (N_DTMF real parts then imaginary parts, float32) holds by all
    tests of dsp/dtmf_frames.py but the tones' share of the energy, or -1; and the two
    tones' power. In float64, from the float32 values; the limits: ``floats[P_*]``."""
    params = floats  # the limits are the first values
    a = A_AT
    b = B_AT
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
            ar, ai = np.float64(floats[a + bin_]), np.float64(floats[a + N_DTMF + bin_])
            br, bi = np.float64(floats[b + bin_]), np.float64(floats[b + N_DTMF + bin_])
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
        tone = top * floats[N_PARAMS + int((phase_step + math.pi) * params[P_SLOTS_PER_RADIAN])]
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


# The blocks: the engine's int16 ticks, the tools' float samples (linebox doctor, the
# simulator's observer); declared read-only so that a read-only block (a file's samples) is
# taken too (numba passes a writable array where a read-only one is declared, not the reverse).
_BLOCKS = tuple(types.Array(dtype, 2, "C", readonly=True) for dtype in (types.int16, types.float64))
_STATE = (types.Array(types.float32, 1, "C"), types.Array(types.int64, 2, "C"))


@kernel(*((block, *_STATE) for block in _BLOCKS))
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
    # Everything is indexed in the three arrays as they come: no view is made (each costs
    # two reference-count updates, a fixed cost that counts at a few channels).
    params = floats  # the limits are the first values
    state = ints
    done = state[channels, 0]
    held = state[channels, 1]
    period = BASIS_PERIOD
    count = 0
    # Ring slot and basis row of the sub-block under way (no division per sub-block).
    first_slot = done % RING
    first_row = done % period
    lead = SUB - held if held > 0 else 0  # samples completing the sub-block under way
    has_held = 1 if held > 0 else 0
    complete = (held + n) // SUB  # sub-blocks this block completes
    tail = (held + n) % SUB  # samples of the next sub-block it begins
    for ch in range(channels):
        ring = RING_AT + ch * RING * RING_WIDTH  # the channel's ring: slot k at ring + k RING_WIDTH
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
            s = ring + slot * RING_WIDTH
            rows = BASIS_AT + basis_row * SUB * LANES
            if k < has_held:
                for t in range(lead):
                    floats[s + held + t] = block[ch, t]
                energy = _project(floats, (s,), floats, (rows,), floats, (s + VALUES,), floats, (s,))
            else:
                at = lead + (k - has_held) * SUB
                energy = _project(block, (ch, at), floats, (rows,), floats, (s + VALUES,), floats, (s,))
            floats[s + ENERGY] = energy
            # 2. The frame of the last five sub-blocks (slots: oldest first): windows A (0-3)
            # and B (1-4), tapered (0.5, 1, 1, 0.5); the screen on the DTMF bins first.
            slot = slot + 1 if slot < RING - 1 else 0  # the oldest slot, the next one to fill
            basis_row = basis_row + 1 if basis_row < period - 1 else 0
            slots = (  # where the frame's five sub-blocks are in ``floats``
                ring + slot * RING_WIDTH,
                ring + (slot + 1 if slot < RING - 1 else slot + 1 - RING) * RING_WIDTH,
                ring + (slot + 2 if slot < RING - 2 else slot + 2 - RING) * RING_WIDTH,
                ring + (slot + 3 if slot < RING - 3 else slot + 3 - RING) * RING_WIDTH,
                s,
            )
            _window_powers(floats, slots, POWERS_AT)
            low = 0.0
            high = 0.0
            for f in range(N_DTMF):
                bound = np.float64(floats[POWERS_AT + f]) * params[P_UNITS + f]
                if f < 4:
                    low = max(low, bound)
                else:
                    high = max(high, bound)
            e0 = np.float64(floats[slots[0] + ENERGY])
            e1 = np.float64(floats[slots[1] + ENERGY])
            e2 = np.float64(floats[slots[2] + ENERGY])
            e3 = np.float64(floats[slots[3] + ENERGY])
            e4 = np.float64(energy)
            energy = e0 + 3.0 * e1 + 4.0 * e2 + 3.0 * e3 + e4  # 2 ENERGY_WEIGHTS
            quietest = min(min(min(e0, e1), min(e2, e3)), e4) * params[P_QUIET_SCALE]
            code = NO_DIGIT
            if min(low + high, quietest) >= energy and min(low, high) >= params[P_SCREEN_FLOOR]:
                _windows(floats, slots)
                code, p_tones = _tone_tests(floats)
                if code != NO_DIGIT:  # last, the tones' share of the frame's power
                    oldest_row = basis_row - RING if basis_row >= RING else basis_row - RING + period
                    dial = _dial_tone_power(floats, slots, oldest_row) * np.float64(params[P_DIAL_SCALE])
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
                    count = _event(ints, channels + 1, count, ch, KIND_DIGIT, digit, start, (last + 1) * SUB, frame_end)
                # The run began with the previous frame, one hop before this one.
                digit, start, last = code, frame_end - RING * SUB - SUB, number
                count = _event(ints, channels + 1, count, ch, KIND_START, digit, start, 0, frame_end)
            elif digit != NO_DIGIT and number - last >= GAP_FRAMES:
                count = _event(ints, channels + 1, count, ch, KIND_DIGIT, digit, start, (last + 1) * SUB, frame_end)
                digit = NO_DIGIT
            previous = code
        # The samples of a sub-block this block begins, or adds to, without completing it.
        s = ring + slot * RING_WIDTH
        if complete == 0:
            for t in range(n):
                floats[s + held + t] = block[ch, t]
        else:
            for t in range(tail):
                floats[s + t] = block[ch, n - tail + t]
        state[ch, ON_DIGIT] = digit
        state[ch, ON_START] = start
        state[ch, ON_LAST] = last
        state[ch, PREVIOUS] = previous
    state[channels, 0] = done + complete
    state[channels, 1] = tail
    return count


@inlined
def _windows(floats: np.ndarray, slots: tuple) -> None:  # pragma: no cover - compiled
    """Windows A and B of the DTMF bins (N_DTMF real parts, then N_DTMF imaginary parts, at
    ``A_AT`` and ``B_AT``) of the frame whose ring slots (oldest first) are at ``slots`` in
    ``floats``, tapered (0.5, 1, 1, 0.5)."""
    s0, s1, s2, s3, s4 = slots
    for column in range(VALUES, VALUES + 2 * N_DTMF):
        v0 = floats[s0 + column]
        v1 = floats[s1 + column]
        v2 = floats[s2 + column]
        v3 = floats[s3 + column]
        v4 = floats[s4 + column]
        floats[A_AT + column - VALUES] = np.float32(0.5) * (v0 + v3) + v1 + v2
        floats[B_AT + column - VALUES] = np.float32(0.5) * (v1 + v4) + v2 + v3


@inlined
def _dial_tone_power(floats: np.ndarray, slots: tuple, first_row: int) -> float:  # pragma: no cover - compiled
    """The dial-tone bins' ``|A|² + |B|²`` summed, of the frame whose ring slots (oldest
    first) are at ``slots`` in ``floats`` (the oldest sub-block's basis row: ``first_row``),
    from its samples."""
    weights_a = (0.5, 1.0, 1.0, 0.5, 0.0)
    weights_b = (0.0, 0.5, 1.0, 1.0, 0.5)
    columns = 2 * (N_FREQ - N_DTMF)
    for column in range(columns):
        floats[DIAL_A_AT + column] = 0.0
        floats[DIAL_B_AT + column] = 0.0
    row = first_row
    for k in range(RING):
        rows = BASIS_AT + row * SUB * LANES + DIAL_COLUMNS
        _project_dial_tones(floats, (slots[k],), floats, (rows,), floats, (DIAL_VALUES_AT,))
        row = row + 1 if row < BASIS_PERIOD - 1 else 0
        for column in range(columns):
            value = floats[DIAL_VALUES_AT + column]
            floats[DIAL_A_AT + column] += np.float32(weights_a[k]) * value
            floats[DIAL_B_AT + column] += np.float32(weights_b[k]) * value
    dial = 0.0
    for column in range(columns):
        a = np.float64(floats[DIAL_A_AT + column])
        b = np.float64(floats[DIAL_B_AT + column])
        dial += a * a + b * b
    return dial


@intrinsic
def _window_powers(typingctx: Any, floats: Any, slots: Any, out_at: Any) -> Any:
    """``floats[out_at + f] = |A_f|² + |B_f|²`` (float32) of the 8 DTMF bins of the frame
    whose ring slots (oldest first) are at ``slots`` in ``floats``: the screen's part of
    ``_windows``, as 8-lane vectors (the same float32 operations, in the same order, as a
    loop over the bins, which LLVM does not vectorize by itself)."""
    if not (isinstance(floats, types.Array) and floats.dtype == types.float32 and floats.ndim == 1
            and floats.layout == "C"):
        raise numba.core.errors.TypingError(f"_window_powers: a C-contiguous float32 vector, got {floats}")
    signature = types.void(floats, slots, out_at)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> None:
        f32 = ir.FloatType()
        vector = ir.VectorType(f32, N_DTMF)
        half = ir.Constant(vector, [0.5] * N_DTMF)
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        intp = context.get_value_type(types.intp)

        def load(slot: Any, slot_type: Any, column: int) -> Any:
            at = builder.add(context.cast(builder, slot, slot_type, types.intp), ir.Constant(intp, column))
            return builder.load(builder.bitcast(builder.gep(data, [at]), vector.as_pointer()), align=4)

        slot_values = cgutils.unpack_tuple(builder, args[1], RING)
        slots_ = [(load(v, t, VALUES), load(v, t, VALUES + N_DTMF)) for v, t in zip(slot_values, sig.args[1], strict=True)]
        total = None
        for first in (0, 1):  # window A: slots 0-3, B: 1-4
            w0, w1, w2, w3 = slots_[first : first + 4]
            for part in (0, 1):  # real, imaginary
                value = builder.fadd(builder.fmul(half, builder.fadd(w0[part], w3[part])), w1[part])
                value = builder.fadd(value, w2[part])
                square = builder.fmul(value, value)
                total = square if total is None else builder.fadd(total, square)
        out = builder.gep(data, [context.cast(builder, args[2], sig.args[2], types.intp)])
        builder.store(total, builder.bitcast(out, vector.as_pointer()), align=4)

    return signature, codegen


@inlined
def event_rows(channels: int, n: int) -> int:
    """Room for the events of a block of ``n`` samples: per channel, digits start at least
    2 frames apart and each ends once, so at most frames + 2 events (frames <= (n + 39) // 40)."""
    return channels * ((n + SUB - 1) // SUB + 3)


@inlined
def _event(  # pragma: no cover - compiled
    ints: np.ndarray, first: int, count: int, channel: int, kind: int, code: int, start: int, end: int, report: int
) -> int:
    """Writes event row ``count`` (row ``first + count`` of ``ints``, if there is room:
    ``receive`` checks it) and returns the next one's number."""
    row = first + count
    if row >= ints.shape[0]:
        return count
    ints[row, EV_CHANNEL] = channel
    ints[row, EV_KIND] = kind
    ints[row, EV_CODE] = code
    ints[row, EV_START] = start
    ints[row, EV_END] = end
    ints[row, EV_REPORT] = report
    return count + 1
