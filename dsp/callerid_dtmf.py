"""DTMF caller ID (ETSI EN 300 659-1 DTMF variant, as used in Belgium, Brazil, Denmark,
Finland, Iceland, India, the Netherlands, Saudi Arabia, Sweden, Taiwan, Kuwait, Uruguay).

The exchange sends the number as a string of DTMF digits before the first ring (after a
line reversal or not), the first ring following 200-500 ms after the last digit. The string
is framed by DTMF letters; three framings are in use:

- ``"ac"``: ``A<number>C``; no number: ``B00C`` = not available, ``B10C`` = presentation
  restricted (private) — Belgium, Brazil, Denmark, Finland, Iceland, India, the
  Netherlands, Saudi Arabia, Sweden, Uruguay;
- ``"dc"``: ``D<number>C`` — Taiwan, Kuwait (no absence codes: nothing is sent);
- ``"hash"``: ``A<number>#``; no number: ``D1#`` = private, ``D2#`` = international (not
  available), ``D3#`` = not available for technical reasons — Denmark.

``dtmf_callerid_digits`` builds the string, ``parse_dtmf_callerid`` reads one back (any
framing), ``dtmf_callerid_audio`` renders it with ``dsp.dtmfgen.generate_dtmf``.
``DtmfCallerIdReceiver`` runs ``dsp.dtmf.DtmfDetector`` on any number of lines and turns its
digits into messages: per channel, a start letter (``A``, ``B``, ``D``) opens a string and an
end symbol (``C``, ``#``) closes it; a pause longer than ``MAX_DIGIT_GAP_MS`` between digits
abandons it (reported as cut short once it holds ``MIN_REPORTED_DIGITS`` digits).

What the exchange sends is made safe where it enters, by the rules of all caller ID text
(``dsp.callerid_text``): a number longer than ``MAX_NUMBER_DIGITS`` is cut to its first
digits (the receiver collects up to ``MAX_DTMF_SYMBOLS`` symbols), a string with the
framing of a number but letters inside (``A12B4C``) reads as "number unavailable". The
encoder sends the digits 0-9 of any valid number (``+`` and ``*`` have no place in a DTMF
caller ID) and, with none, the framing's "unavailable" code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.callerid import MAX_NUMBER_DIGITS, Absence, CallerId
from dsp.callerid_text import clean_number
from dsp.dtmf import DtmfDetector, DtmfDigit
from dsp.dtmfgen import generate_dtmf

DTMF_FRAMINGS = ("ac", "dc", "hash")
DTMF_ON_MS = 70.0  # typical exchange digit length (ITU-T Q.24 receivers accept >= 40 ms)
DTMF_OFF_MS = 70.0
DTMF_LEVEL_DBM0 = -10.0
MAX_DTMF_SYMBOLS = 4 * MAX_NUMBER_DIGITS  # a string longer than this is not caller ID
_ABSENCE_AC = {Absence.UNAVAILABLE: "B00C", Absence.PRIVATE: "B10C"}
_ABSENCE_HASH = {Absence.PRIVATE: "D1#", Absence.UNAVAILABLE: "D3#"}
_PATTERNS = (
    (re.compile(r"A([0-9A-D*#]*)C"), "ac"),
    (re.compile(r"D([0-9A-D*#]*)C"), "dc"),
    (re.compile(r"A([0-9A-D*]*)#"), "hash"),
)
_ABSENCE_CODES = {
    "B00C": Absence.UNAVAILABLE,
    "B10C": Absence.PRIVATE,
    "D1#": Absence.PRIVATE,
    "D2#": Absence.UNAVAILABLE,  # international call: the number is not available
    "D3#": Absence.UNAVAILABLE,
}


def dtmf_callerid_digits(caller: CallerId, framing: str = "ac") -> str:
    """The digit string for ``caller`` (only its number or number absence is sent)."""
    if framing not in DTMF_FRAMINGS:
        raise DspError(f"unknown DTMF caller ID framing {framing!r} (choose from {', '.join(DTMF_FRAMINGS)})")
    digits = "".join(ch for ch in caller.number or "" if ch.isdigit())
    if digits:
        start, end = {"ac": ("A", "C"), "dc": ("D", "C"), "hash": ("A", "#")}[framing]
        return start + digits + end
    if caller.number is None and caller.number_absence is None:
        raise DspError("DTMF caller ID needs a number or a reason for its absence")
    codes = {"ac": _ABSENCE_AC, "hash": _ABSENCE_HASH}.get(framing)
    if codes is None:
        raise DspError(f"the {framing!r} DTMF framing has no code for an absent number")
    return codes[caller.number_absence or Absence.UNAVAILABLE]


@dataclass(frozen=True)
class DtmfCallerId:
    framing: str
    digits: str
    caller: CallerId


def parse_dtmf_callerid(digits: str) -> DtmfCallerId | None:
    """The caller ID in a complete digit string, or ``None`` if it is not one."""
    if digits in _ABSENCE_CODES:
        framing = "ac" if digits.startswith("B") else "hash"
        return DtmfCallerId(framing, digits, CallerId(number_absence=_ABSENCE_CODES[digits]))
    for pattern, framing in _PATTERNS:
        match = pattern.fullmatch(digits)
        if match:
            number = clean_number(match.group(1)) if match.group(1).isdigit() else None
            if number is None:
                return DtmfCallerId(framing, digits, CallerId(number_absence=Absence.UNAVAILABLE))
            return DtmfCallerId(framing, digits, CallerId(number=number))
    return None


def dtmf_callerid_audio(
    caller: CallerId,
    framing: str = "ac",
    level_dbm0: float = DTMF_LEVEL_DBM0,
    on_ms: float = DTMF_ON_MS,
    off_ms: float = DTMF_OFF_MS,
    twist_db: float = 0.0,
) -> np.ndarray:
    """The DTMF digits of ``caller`` (each ``on_ms`` of tone and ``off_ms`` of silence)."""
    return generate_dtmf(
        dtmf_callerid_digits(caller, framing),
        level_dbm0=level_dbm0,
        on_ms=on_ms,
        off_ms=off_ms,
        twist_db=twist_db,
    )


@dataclass(frozen=True)
class DtmfCallerIdMessage:
    """A DTMF caller ID string heard on ``channel``; ``parsed`` is None if it is malformed
    or was cut short (``error`` then says which)."""

    channel: int
    digits: str
    start_sample: int
    end_sample: int
    parsed: DtmfCallerId | None
    error: str | None = None


class DtmfCollectorState(Enum):
    HUNT = "hunt"
    COLLECT = "collect"


@dataclass
class _Collector:
    state: DtmfCollectorState = DtmfCollectorState.HUNT
    digits: str = ""
    start_sample: int = 0
    end_sample: int = 0


class DtmfCallerIdReceiver:
    """DTMF caller ID strings on ``channels`` lines at once (see the module doc)."""

    MAX_DIGIT_GAP_MS = 300.0  # exchanges send digits 50-100 ms apart
    MIN_REPORTED_DIGITS = 3
    START_DIGITS = "ABD"
    END_DIGITS = "C#"

    def __init__(self, channels: int) -> None:
        self.detector = DtmfDetector(channels)
        self.channels = self.detector.channels
        self._max_gap = int(round(self.MAX_DIGIT_GAP_MS * SAMPLE_RATE / 1000.0))
        self._collectors = [_Collector() for _ in range(self.channels)]

    def reset(self) -> None:
        self.detector.reset()
        self._collectors = [_Collector() for _ in range(self.channels)]

    def process(self, block: np.ndarray) -> list[DtmfCallerIdMessage]:
        block = np.asarray(block)
        if block.ndim == 1 and self.channels == 1:
            block = block[None, :]
        out: list[DtmfCallerIdMessage] = []
        for event in self.detector.process(block):
            if isinstance(event, DtmfDigit):
                self._feed(event, out)
        now = self.detector.samples_seen
        for channel, collector in enumerate(self._collectors):
            if (
                collector.state is DtmfCollectorState.COLLECT
                and now - collector.end_sample > 2 * self._max_gap
            ):
                self._abandon(channel, out)
        return out

    def flush(self) -> list[DtmfCallerIdMessage]:
        """End of input: digits still on are ended, strings still open are cut short."""
        out: list[DtmfCallerIdMessage] = []
        for event in self.detector.finish():
            if isinstance(event, DtmfDigit):
                self._feed(event, out)
        for channel, collector in enumerate(self._collectors):
            if collector.state is DtmfCollectorState.COLLECT:
                self._abandon(channel, out)
        return out

    def _feed(self, digit: DtmfDigit, out: list[DtmfCallerIdMessage]) -> None:
        collector = self._collectors[digit.channel]
        if (
            collector.state is DtmfCollectorState.COLLECT
            and digit.start_sample - collector.end_sample > self._max_gap
        ):
            self._abandon(digit.channel, out)
            collector = self._collectors[digit.channel]
        if collector.state is DtmfCollectorState.HUNT:
            if digit.digit in self.START_DIGITS:
                collector.state = DtmfCollectorState.COLLECT
                collector.digits = digit.digit
                collector.start_sample = digit.start_sample
                collector.end_sample = digit.end_sample
            return
        collector.digits += digit.digit
        collector.end_sample = digit.end_sample
        if digit.digit in self.END_DIGITS:
            parsed = parse_dtmf_callerid(collector.digits)
            error = None if parsed is not None else "malformed"
            out.append(
                DtmfCallerIdMessage(
                    digit.channel,
                    collector.digits,
                    collector.start_sample,
                    collector.end_sample,
                    parsed,
                    error,
                )
            )
            self._collectors[digit.channel] = _Collector()
        elif len(collector.digits) >= MAX_DTMF_SYMBOLS:
            self._abandon(digit.channel, out)

    def _abandon(self, channel: int, out: list[DtmfCallerIdMessage]) -> None:
        collector = self._collectors[channel]
        if len(collector.digits) >= self.MIN_REPORTED_DIGITS:
            out.append(
                DtmfCallerIdMessage(
                    channel, collector.digits, collector.start_sample, collector.end_sample, None, "truncated"
                )
            )
        self._collectors[channel] = _Collector()
