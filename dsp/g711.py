"""ITU-T G.711 µ-law and A-law companding, bit-exact, vectorised.

Linear samples are 16-bit two's complement. The µ-law coder works on the 14-bit value
(the 16-bit sample shifted right by 2), the A-law coder on the 13-bit value (shifted right
by 3), as in G.711 Tables 1a/2a; decoded values are scaled back to 16 bits and are the
decision-interval midpoints of those tables (µ-law peak ±32,124, A-law peak ±32,256).

Both directions go through lookup tables (65,536 entries to encode, 256 to decode) built
once per process, so a block of any shape costs one numpy ``take``.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from dsp import DspError

# µ-law: bias of 33 in 14-bit units (G.711 §3.2: the encoder adds 33 before the segment
# search), clip at 8,159 (the largest 14-bit magnitude the code can represent).
_ULAW_BIAS_14 = 33
_ULAW_CLIP_14 = 8159
# µ-law and A-law transmit codes have alternate bits inverted: µ-law all bits
# (G.711 Table 2a, "character signal"), A-law the even bits (0x55).
_ALAW_EVEN_BIT_INVERSION = 0x55


def _segment(magnitude: np.ndarray, first_segment_top: int) -> np.ndarray:
    """Segment number 0..7 of each magnitude; 8 means beyond the last segment."""
    tops = ((first_segment_top + 1) << np.arange(8)) - 1  # each segment doubles the previous
    return np.searchsorted(tops, magnitude, side="left")


@cache
def _ulaw_encode_table() -> np.ndarray:
    linear = np.arange(-32768, 32768, dtype=np.int32)
    value = linear >> 2  # 14-bit
    negative = value < 0
    # One's-complement magnitude for negative values, as in the ITU-T G.191 reference
    # coder: the decision intervals are then symmetric about -1/2 LSB, so -1..-4 code as
    # -0 (decoded 0) rather than -8, and no input is more than half a step from its code.
    magnitude = np.where(negative, -value - 1, value)
    magnitude = np.minimum(magnitude, _ULAW_CLIP_14) + _ULAW_BIAS_14
    segment = _segment(magnitude, 0x3F)
    overflow = segment >= 8  # the clipped peak: the largest code, segment 7 step 15
    segment = np.minimum(segment, 7)
    mantissa = np.where(overflow, 0x0F, (magnitude >> (segment + 1)) & 0x0F)
    code = (segment << 4) | mantissa
    # Before the all-bits inversion the sign bit is set for negative values, so a
    # transmitted µ-law code with bit 8 set is positive (G.711 Table 2a).
    code = np.where(negative, code | 0x80, code)
    return (code ^ 0xFF).astype(np.uint8)


@cache
def _ulaw_decode_table() -> np.ndarray:
    code = np.arange(256, dtype=np.int32) ^ 0xFF
    segment = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + 4 * _ULAW_BIAS_14) << segment) - 4 * _ULAW_BIAS_14
    return np.where(code & 0x80, -magnitude, magnitude).astype(np.int16)


@cache
def _alaw_encode_table() -> np.ndarray:
    linear = np.arange(-32768, 32768, dtype=np.int32)
    value = linear >> 3  # 13-bit
    negative = value < 0
    # One's-complement magnitude for negative values: -1 maps to step 0 of segment 0.
    magnitude = np.where(negative, -value - 1, value)
    segment = _segment(magnitude, 0x1F)
    overflow = segment >= 8
    segment = np.minimum(segment, 7)
    shift = np.maximum(segment, 1)
    mantissa = np.where(overflow, 0x0F, (magnitude >> shift) & 0x0F)
    code = (segment << 4) | mantissa
    code = np.where(negative, code, code | 0x80)
    return (code ^ _ALAW_EVEN_BIT_INVERSION).astype(np.uint8)


@cache
def _alaw_decode_table() -> np.ndarray:
    code = np.arange(256, dtype=np.int32) ^ _ALAW_EVEN_BIT_INVERSION
    segment = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = np.where(
        segment == 0,
        (mantissa << 4) + 8,
        ((mantissa << 4) + 0x108) << np.maximum(segment - 1, 0),
    )
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


def _as_int16_index(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.dtype.kind == "f":
        samples = np.rint(samples)
    elif samples.dtype.kind not in "iu":
        raise DspError(f"G.711 encoder needs numeric samples, got dtype {samples.dtype}")
    # Out-of-range values saturate like an overdriven converter (integers included).
    return np.clip(samples, -32768, 32767).astype(np.int32) + 32768


def _as_codes(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise DspError(f"G.711 decoder needs integer codes, got dtype {codes.dtype}")
    if codes.size and (codes.min() < -128 or codes.max() > 255):
        raise DspError(f"G.711 codes are bytes (0..255, or -128..127 signed), got {codes.min()}..{codes.max()}")
    return codes.astype(np.int32) & 0xFF


def ulaw_encode(samples: np.ndarray) -> np.ndarray:
    """16-bit linear (int or float, any shape) to µ-law codes (uint8)."""
    return _ulaw_encode_table().take(_as_int16_index(samples))


def ulaw_decode(codes: np.ndarray) -> np.ndarray:
    """µ-law codes to 16-bit linear (int16)."""
    return _ulaw_decode_table().take(_as_codes(codes))


def alaw_encode(samples: np.ndarray) -> np.ndarray:
    """16-bit linear (int or float, any shape) to A-law codes (uint8)."""
    return _alaw_encode_table().take(_as_int16_index(samples))


def alaw_decode(codes: np.ndarray) -> np.ndarray:
    """A-law codes to 16-bit linear (int16)."""
    return _alaw_decode_table().take(_as_codes(codes))


def ulaw_roundtrip(samples: np.ndarray) -> np.ndarray:
    """What a µ-law line does to linear audio (tests put G.711 in the path with this)."""
    return ulaw_decode(ulaw_encode(samples))


def alaw_roundtrip(samples: np.ndarray) -> np.ndarray:
    return alaw_decode(alaw_encode(samples))
