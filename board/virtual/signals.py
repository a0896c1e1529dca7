"""What a simulated exchange sends down a line, per country zone, and how it hears digits.

This is the telephone world's one door into the DSP layer:

- ring cadence and call-progress tones (dial, ringback, busy, congestion) from
  ``dsp.toneplans`` (ITU-T E.180 supplement and national specs), rendered by
  ``dsp.tonegen``;
- caller ID as the exchange's on-line sequence from ``dsp.callerid_sequence``: a list of
  timed ``Segment`` s (audio, line reversal, ring) played in order before or between rings.
  The message is MDMF (``dsp.callerid``) for FSK standards and an ``A<number>C`` string
  (``dsp.callerid_dtmf``) for DTMF caller ID;
- the exchange's DTMF receiver (``dsp.dtmf.DtmfDetector``, ITU-T Q.24), run on all lines
  as one batch, so digits the box dials out reach the exchange.

Which caller-ID standard a zone's exchanges send is the simulated network's own data
(``ZONE_CALLERID``): Telcordia GR-30-CORE Bell 202 FSK after the first ring in North and
Latin America, ETSI EN 300 659-1 V.23 FSK before the first ring (line reversal and DT-AS)
in most of Europe and Australia, BT SIN 227 in the UK, DTMF before the first ring in the
Netherlands and Brazil. A line may be configured to send another one; what the box expects
is its own configuration, and a mismatch is a scenario worth testing.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from board import BoardError
from board.virtual.pstn import ZoneSignals
from dsp import DspError
from dsp.callerid import CallerId, encode_caller_id
from dsp.callerid_dtmf import dtmf_callerid_digits
from dsp.callerid_sequence import Segment, SequenceTiming, callerid_sequence
from dsp.dtmf import DtmfDetector, DtmfStart
from dsp.tonegen import ToneGenerator
from dsp.toneplans import ToneSpec, get_plan

# standard name (as the box's configuration names it) -> (dsp standard, sequence variant)
CALLERID_STANDARDS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "bell202": ("bell202", "type1"),  # GR-30-CORE on-hook, after the first ring
    "v23": ("v23", "dtas"),  # EN 300 659-1: line reversal, DT-AS, FSK, then ringing
    "v23_bt": ("v23", "sin227"),  # BT SIN 227: line reversal, tone alert, FSK, then ringing
    "dtmf": ("dtmf", "before_ring"),  # EN 300 659-1 DTMF variant: A<number>C before ringing
})

ZONE_CALLERID: Mapping[str, str] = MappingProxyType({
    "us": "bell202", "ca": "bell202", "mx": "bell202", "co": "bell202", "ar": "bell202", "cl": "bell202",
    "uk": "v23_bt",
    "de": "v23", "fr": "v23", "es": "v23", "it": "v23", "pt": "v23", "gr": "v23", "au": "v23",
    "nl": "dtmf", "br": "dtmf",
})

PROGRESS_TONES = ("dial", "ringback", "busy", "congestion")


class PlanTone:
    """One line's call-progress tone from a zone's tone plan, rendered block after block."""

    def __init__(self, spec: ToneSpec) -> None:
        self._generator = ToneGenerator(1)
        self._generator.play(0, spec)

    def render(self, n_samples: int) -> np.ndarray:
        return self._generator.process(n_samples)[0]


def callerid_segments(caller: CallerId, standard: str, first_ring_ms: float = 2000.0) -> list[Segment]:
    """The exchange's on-line caller-ID sequence for ``caller`` in ``standard``; its ring
    lasts ``first_ring_ms`` (the zone's first burst), the cadence goes on after it."""
    dsp_standard, _ = _standard(standard)
    try:
        message = dtmf_callerid_digits(caller) if dsp_standard == "dtmf" else encode_caller_id(caller, "mdmf")
    except DspError as exc:
        raise BoardError(f"caller ID {standard}: {exc}") from None
    return message_segments(message, standard, first_ring_ms)


def message_segments(message: bytes | str, standard: str, first_ring_ms: float = 2000.0) -> list[Segment]:
    """The same sequence for a message given whole, as any exchange might send it: the bytes
    of an FSK message (unchecked: any type, length and checksum) or a DTMF digit string."""
    dsp_standard, variant = _standard(standard)
    if (dsp_standard == "dtmf") != isinstance(message, str):
        wanted = "a DTMF digit string" if dsp_standard == "dtmf" else "the bytes of an FSK message"
        raise BoardError(f"caller ID {standard} sends {wanted}, got {type(message).__name__}")
    try:
        timing = SequenceTiming(first_ring_ms=first_ring_ms, ring_ms=first_ring_ms)
        return callerid_sequence(dsp_standard, message, variant, timing=timing)
    except DspError as exc:
        raise BoardError(f"caller ID {standard}: {exc}") from None


def _standard(standard: str) -> tuple[str, str]:
    if standard not in CALLERID_STANDARDS:
        raise BoardError(f"unknown caller-ID standard {standard!r} (choose from {', '.join(CALLERID_STANDARDS)})")
    return CALLERID_STANDARDS[standard]


def zone_signals(zone: str, callerid_standard: str | None = None) -> ZoneSignals:
    """The exchange signals of ``zone``; caller ID in the zone's usual standard unless given."""
    try:
        plan = get_plan(zone)
    except DspError as exc:
        raise BoardError(str(exc)) from None
    standard = callerid_standard or ZONE_CALLERID[zone]
    if standard not in CALLERID_STANDARDS:
        raise BoardError(f"unknown caller-ID standard {standard!r} (choose from {', '.join(CALLERID_STANDARDS)})")

    def tone(name: str) -> PlanTone:
        if name not in PROGRESS_TONES:
            raise BoardError(f"the exchange plays {', '.join(PROGRESS_TONES)}, not {name!r}")
        return PlanTone(plan.tone(name))

    first_ring_ms = float(plan.ring_cadence_ms[0])

    def callerid(caller: CallerId, line_standard: str) -> list[Segment]:
        return callerid_segments(caller, line_standard, first_ring_ms)

    def callerid_message(message: bytes | str, line_standard: str) -> list[Segment]:
        return message_segments(message, line_standard, first_ring_ms)

    return ZoneSignals(zone, tuple(plan.ring_cadence_ms), tone, callerid, standard, callerid_message)


class ExchangeDtmfReceiver:
    """The exchange's digit receiver on ``lines`` lines: a digit counts when recognised."""

    def __init__(self, lines: int) -> None:
        self._detector = DtmfDetector(lines)

    def process(self, block: np.ndarray) -> list[tuple[int, str]]:
        return [(e.channel, e.digit) for e in self._detector.process(block) if isinstance(e, DtmfStart)]
