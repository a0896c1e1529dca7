"""What an exchange puts on the line to deliver caller ID or a message-waiting indication.

``callerid_sequence(standard, message, variant)`` returns a list of ``Segment``s for the
virtual board's simulated exchange to play in order:

- ``audio``: ``samples`` (float64, 8 kHz, 16-bit scale) to send down the line, silences
  included as zeros;
- ``line_reversal``: reverse the line polarity now (instantaneous, ``duration_ms`` 0);
- ``ring``: apply ringing for ``duration_ms`` (the first burst; the exchange then goes on
  with its own cadence);
- ``await_ack``: off-hook data only: wait up to ``duration_ms`` for the CPE's DTMF ``D``
  acknowledgement; without it the exchange sends nothing more (GR-30-CORE type II).

Variants (``VARIANTS``; ``SequenceTiming`` holds every gap, defaults inside the ranges the
standards give):

- ``bell202``/``type1`` — Telcordia GR-30-CORE on-hook: first ring, then at least 500 ms
  later the FSK burst (300 seizure + 180 mark bits) in the silent interval;
- ``bell202``/``type2`` — GR-30-CORE off-hook (caller ID on call waiting): CAS 2130 + 2750 Hz
  80 ms, wait for the ACK, then the burst with 80 mark bits and no seizure;
- ``v23``/``dtas`` — ETSI EN 300 659-1 data before ringing: line reversal, at least 100 ms,
  DT-AS 100 ms, 45-500 ms, FSK (300 seizure + 180 mark bits), 200-500 ms, ring;
- ``v23``/``rpas`` — EN 300 659-1 data before ringing with a ring-pulse alert (RP-AS,
  200-300 ms of ringing), FSK 500 ms or more after it, then ringing;
- ``v23``/``after_ring`` — EN 300 659-1 data after the first ring, in the first silence;
- ``v23``/``sin227`` — BT SIN 227: line reversal, at least 100 ms of silence, tone alert
  2130 + 2750 Hz 88-110 ms, at least 45 ms, FSK (96-315 seizure bits, 55-90 mark bits),
  at least 200 ms, then ringing;
- ``dtmf``/``before_ring`` — DTMF caller ID before the first ring, ring 200-500 ms after it;
- ``dtmf``/``reversal`` — the same after a line reversal, digits 200 ms or more after it.

With ``ring=False`` (message waiting, or the audio alone) the ring segments are left out
and so is the silence that only separates the data from a ring. ``sequence_audio`` joins the
audio of a sequence into one signal (rings and reversals contribute nothing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import Enum

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.callerid_alert import CAS_MS, DEFAULT_ALERT_DBM0, DT_AS_MS, SIN227_ALERT_MS, alert_tone
from dsp.callerid_dtmf import DTMF_LEVEL_DBM0, DTMF_OFF_MS, DTMF_ON_MS
from dsp.callerid_fsk import fsk_burst
from dsp.dtmfgen import generate_dtmf, ms_to_samples
from dsp.fsk import DEFAULT_LEVEL_DBM0


class SegmentKind(Enum):
    AUDIO = "audio"
    LINE_REVERSAL = "line_reversal"
    RING = "ring"
    AWAIT_ACK = "await_ack"


@dataclass(frozen=True, eq=False)
class Segment:
    kind: SegmentKind
    duration_ms: float
    samples: np.ndarray | None = None  # AUDIO only

    @staticmethod
    def audio(samples: np.ndarray) -> Segment:
        samples = np.asarray(samples, dtype=np.float64)
        return Segment(SegmentKind.AUDIO, len(samples) * 1000.0 / SAMPLE_RATE, samples)


@dataclass(frozen=True)
class SequenceTiming:
    """Gaps in ms; each default lies inside the range its standard allows. "unverified": the
    range is from secondary sources, not checked against the standard's own text."""

    first_ring_ms: float = 2000.0  # GR-30-CORE: first ring of the US 2 s on / 4 s off cadence
    ring_ms: float = 1000.0  # first ring after before-ring data (the zone's cadence goes on)
    ring_to_data_ms: float = 600.0  # GR-30-CORE: >= 500 ms after the first ring (ETSI after-ring: unverified)
    reversal_to_alert_ms: float = 150.0  # EN 300 659-1 and SIN 227: >= 100 ms
    alert_to_data_ms: float = 100.0  # EN 300 659-1: 45-500 ms
    sin227_alert_to_data_ms: float = 60.0  # SIN 227: >= 45 ms
    data_to_ring_ms: float = 300.0  # EN 300 659-1: 200-500 ms; SIN 227: >= 200 ms
    rp_as_ms: float = 250.0  # EN 300 659-1 ring-pulse alerting signal: 200-300 ms (unverified)
    rp_as_to_data_ms: float = 650.0  # EN 300 659-1: FSK 500 ms or more after the RP-AS (unverified)
    reversal_to_dtmf_ms: float = 250.0  # DTMF caller ID: >= 200 ms after the polarity reversal
    ack_wait_ms: float = 160.0  # GR-30-CORE type II: the CPE answers the CAS within 100 ms (unverified)
    ack_to_data_ms: float = 100.0  # GR-30-CORE type II: data 50-150 ms after the ACK (unverified)

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise DspError(f"{item.name} must be a finite number of ms >= 0, got {value!r}")


VARIANTS = {
    "bell202": ("type1", "type2"),
    "v23": ("dtas", "rpas", "after_ring", "sin227"),
    "dtmf": ("before_ring", "reversal"),
}
DEFAULT_VARIANTS = {"bell202": "type1", "v23": "dtas", "dtmf": "before_ring"}


def _silence(ms: float) -> np.ndarray:
    return np.zeros(ms_to_samples(ms))


def callerid_sequence(
    standard: str,
    message: bytes | str,
    variant: str | None = None,
    ring: bool = True,
    level_dbm0: float | None = None,
    alert_level_dbm0: float = DEFAULT_ALERT_DBM0,
    timing: SequenceTiming | None = None,
) -> list[Segment]:
    """The on-line sequence; ``message`` is the framed bytes (FSK) or the digit string (DTMF)."""
    if standard not in VARIANTS:
        raise DspError(f"unknown caller ID standard {standard!r} (choose from {', '.join(VARIANTS)})")
    variant = DEFAULT_VARIANTS[standard] if variant is None else variant
    if variant not in VARIANTS[standard]:
        raise DspError(
            f"unknown {standard} variant {variant!r} (choose from {', '.join(VARIANTS[standard])})"
        )
    t = SequenceTiming() if timing is None else timing
    if standard == "dtmf":
        if not isinstance(message, str):
            raise DspError("DTMF caller ID needs the digit string (see dtmf_callerid_digits)")
        level = DTMF_LEVEL_DBM0 if level_dbm0 is None else level_dbm0
        digits = generate_dtmf(message, level_dbm0=level, on_ms=DTMF_ON_MS, off_ms=DTMF_OFF_MS)
        lead = [Segment(SegmentKind.LINE_REVERSAL, 0.0), Segment.audio(_silence(t.reversal_to_dtmf_ms))]
        head = lead if variant == "reversal" else []
        return _with_ring(head, digits, t, ring)
    if not isinstance(message, (bytes, bytearray)) or not message:
        raise DspError("FSK caller ID needs the message bytes (see dsp.callerid)")
    level = DEFAULT_LEVEL_DBM0 if level_dbm0 is None else level_dbm0
    if standard == "bell202" and variant == "type1":
        burst = fsk_burst(bytes(message), "bell202", "on_hook", level_dbm0=level)
        if not ring:
            return [Segment.audio(burst)]
        gap = _silence(t.ring_to_data_ms)
        return [Segment(SegmentKind.RING, t.first_ring_ms), Segment.audio(np.concatenate([gap, burst]))]
    if standard == "bell202":  # type2
        burst = fsk_burst(bytes(message), "bell202", "off_hook", level_dbm0=level)
        return [
            Segment.audio(alert_tone(CAS_MS, alert_level_dbm0)),
            Segment(SegmentKind.AWAIT_ACK, t.ack_wait_ms),
            Segment.audio(np.concatenate([_silence(t.ack_to_data_ms), burst])),
        ]
    if variant == "after_ring":
        burst = fsk_burst(bytes(message), "v23", "on_hook", level_dbm0=level)
        if not ring:
            return [Segment.audio(burst)]
        gap = _silence(t.ring_to_data_ms)
        return [Segment(SegmentKind.RING, t.ring_ms), Segment.audio(np.concatenate([gap, burst]))]
    if variant == "rpas":
        burst = fsk_burst(bytes(message), "v23", "on_hook", level_dbm0=level)
        head = [Segment(SegmentKind.RING, t.rp_as_ms), Segment.audio(_silence(t.rp_as_to_data_ms))]
        return _with_ring(head, burst, t, ring)
    if variant == "sin227":
        burst = fsk_burst(bytes(message), "v23", "sin227", level_dbm0=level)
        alert = np.concatenate(
            [
                _silence(t.reversal_to_alert_ms),
                alert_tone(SIN227_ALERT_MS, alert_level_dbm0),
                _silence(t.sin227_alert_to_data_ms),
            ]
        )
        return _with_ring([Segment(SegmentKind.LINE_REVERSAL, 0.0), Segment.audio(alert)], burst, t, ring)
    burst = fsk_burst(bytes(message), "v23", "on_hook", level_dbm0=level)  # dtas
    alert = np.concatenate(
        [
            _silence(t.reversal_to_alert_ms),
            alert_tone(DT_AS_MS, alert_level_dbm0),
            _silence(t.alert_to_data_ms),
        ]
    )
    return _with_ring([Segment(SegmentKind.LINE_REVERSAL, 0.0), Segment.audio(alert)], burst, t, ring)


def _with_ring(head: list[Segment], data: np.ndarray, t: SequenceTiming, ring: bool) -> list[Segment]:
    if not ring:
        return [segment for segment in head if segment.kind is not SegmentKind.RING] + [Segment.audio(data)]
    return head + [
        Segment.audio(np.concatenate([data, _silence(t.data_to_ring_ms)])),
        Segment(SegmentKind.RING, t.ring_ms),
    ]


def sequence_audio(segments: list[Segment]) -> np.ndarray:
    """The audio segments joined (what a recorder on the line hears, ringing left out)."""
    parts = [segment.samples for segment in segments if segment.kind is SegmentKind.AUDIO]
    return np.concatenate(parts) if parts else np.zeros(0)
