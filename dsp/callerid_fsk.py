"""Caller ID over FSK: the data burst on the line, and a batched receiver of whole messages.

A burst is (Telcordia GR-30-CORE for Bell 202; ETSI EN 300 659-1 for V.23):

    channel seizure | mark | message bytes (8N1) | a few trailing mark bits

- channel seizure: alternating 0/1 bits, 300 of them on-hook (GR-30-CORE: 30 bytes 0x55;
  EN 300 659-1: 300 bits); none for off-hook (type II / call waiting) data;
- mark: continuous 1s, 180 bits on-hook (GR-30-CORE; EN 300 659-1: 180 ± 25 bits),
  80 bits off-hook (GR-30-CORE type II), 55 to 90 bits for BT SIN 227;
- the message as framed by ``dsp.callerid``.

``BurstTiming`` holds the bit counts; ``BURSTS`` names the ones the standards use.

``CallerIdReceiver(channels, standard)`` wraps ``dsp.fsk.FskReceiver`` and assembles
messages per channel. A message starts with a known message type byte; its second byte
gives the length; it ends after the checksum. Where a message may start:

- after a steady mark of at least ``min_mark_bits`` (40: GR-30-CORE and EN 300 659-1 send
  55 to 180): the receiver collects from there (state ``COLLECT``) and reports what it
  got, a damaged message included;
- as widely deployed receivers also read them, messages whose mark is short or missing:
  right after a channel seizure (at least ``MIN_SEIZURE_BYTES`` characters 0x55, with at
  most one other character between, from a seizure that ends inside a character), after
  a mark of at least ``MIN_SHORT_MARK_BITS``, or as the first character after a pause of
  more than ``MAX_GAP_BITS`` (a message with no seizure and a short mark). Such a start is
  only a candidate: every character that arrives is checked against the candidates whose
  length it completes, and one is reported only if its checksum is good, its payload well
  formed and its bytes clean FSK.
  A message's checksum, length and structure are what keep noise and speech out here, as
  the long mark does for the others.

A carrier that begins with a space is read from its first bit (``FskReceiver`` takes the
squelch opening on a space as a start edge), so on a quiet line the receiver's characters
lie where a seizure's do. A seizure that ends inside a character with no mark after it
runs its last bits into the message's first character, which no asynchronous receiver can
tell apart (the mark is there to prevent that). The same holds for a message with no mark
when line noise loud enough to open the squelch before the seizure has set the receiver's
characters elsewhere in it.

Characters more than ``MAX_GAP_BITS`` apart, or a silence of that length, cut the message
short. Messages with a good checksum are always reported; a damaged one (bad checksum, cut
short) is reported with ``checksum_ok=False`` only if it started after a long mark and its
bytes were clean FSK (mean byte quality at least ``QUALITY_FRACTION`` of a clean signal's),
so noise and speech that happen to start with a plausible byte are not reported as damaged
messages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from dsp import DspError
from dsp.callerid import MAX_PAYLOAD, MESSAGE_FORMATS, DecodedMessage, decode_message, message_length
from dsp.fsk import (
    DEFAULT_LEVEL_DBM0,
    FskByte,
    FskReceiver,
    FskStandard,
    alternating_bits,
    fsk_modulate,
    fsk_standard,
    mark_bits,
    uart_bits,
)


@dataclass(frozen=True)
class BurstTiming:
    seizure_bits: int
    mark_bits: int
    trailing_mark_bits: int = 8  # lets the receiver finish the checksum's stop bit before silence

    def __post_init__(self) -> None:
        for name in ("seizure_bits", "mark_bits", "trailing_mark_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise DspError(f"{name} must be an integer >= 0, got {value!r}")


BURSTS = {
    "on_hook": BurstTiming(seizure_bits=300, mark_bits=180),  # GR-30-CORE type I; EN 300 659-1
    "off_hook": BurstTiming(seizure_bits=0, mark_bits=80),  # GR-30-CORE type II (after the CAS and ACK)
    "sin227": BurstTiming(seizure_bits=300, mark_bits=80),  # BT SIN 227: 96-315 seizure, 55-90 mark bits
}


def burst_timing(timing: str | BurstTiming) -> BurstTiming:
    if isinstance(timing, BurstTiming):
        return timing
    if timing not in BURSTS:
        raise DspError(f"unknown burst timing {timing!r} (choose from {', '.join(BURSTS)})")
    return BURSTS[timing]


def burst_bits(message: bytes, timing: str | BurstTiming = "on_hook") -> np.ndarray:
    """The bit sequence of a burst: seizure, mark, the message 8N1, trailing mark."""
    timing = burst_timing(timing)
    if not message:
        raise DspError("an FSK burst needs a message")
    return np.concatenate(
        [
            alternating_bits(timing.seizure_bits),
            mark_bits(timing.mark_bits),
            uart_bits(bytes(message)),
            mark_bits(timing.trailing_mark_bits),
        ]
    )


def fsk_burst(
    message: bytes,
    standard: str | FskStandard,
    timing: str | BurstTiming = "on_hook",
    level_dbm0: float = DEFAULT_LEVEL_DBM0,
    bit_rate_error: float = 0.0,
    frequency_error: float = 0.0,
    start_phase: float = 0.0,
) -> np.ndarray:
    """The audio of one caller ID / MWI data burst (float64, 8 kHz, 16-bit scale)."""
    return fsk_modulate(
        burst_bits(message, timing),
        standard,
        level_dbm0=level_dbm0,
        bit_rate_error=bit_rate_error,
        frequency_error=frequency_error,
        start_phase=start_phase,
    )


@dataclass(frozen=True)
class ReceivedMessage:
    """A message heard on ``channel`` between ``start_sample`` (the type byte's start bit)
    and ``end_sample`` (the end of its last character)."""

    channel: int
    standard: str
    start_sample: float
    end_sample: float
    message: DecodedMessage
    quality: float  # mean byte quality (discriminator at the bit centres)


class AssemblerState(Enum):
    HUNT = "hunt"
    COLLECT = "collect"


SEIZURE_BYTE = 0x55  # alternating bits framed 8N1 (GR-30-CORE: 30 bytes 0x55)


@dataclass
class _Assembly:
    state: AssemblerState = AssemblerState.HUNT
    data: bytearray = field(default_factory=bytearray)
    qualities: list[float] = field(default_factory=list)
    start_sample: float = 0.0
    end_sample: float = 0.0
    run: list[FskByte] = field(default_factory=list)  # characters since the last pause
    candidates: dict[int, list[int]] = field(default_factory=dict)  # run length at its end -> starts


class CallerIdReceiver:
    """FSK caller ID / MWI messages on ``channels`` lines at once; see the module doc."""

    MAX_GAP_BITS = 20.0  # idle marks allowed between the characters of one message
    QUALITY_FRACTION = 0.75  # of a clean signal's discriminator, to report a damaged message
    MIN_SEIZURE_BYTES = 8  # 80 bits: BT SIN 227 sends 96 or more, GR-30-CORE and EN 300 659-1 300
    MIN_SHORT_MARK_BITS = 4.0  # noise and speech: no message type byte after a mark this long
    MAX_RUN = 3 * MAX_PAYLOAD  # characters kept for candidates: a seizure and the longest message

    def __init__(
        self,
        channels: int,
        standard: str | FskStandard,
        min_mark_bits: float = 40.0,
        min_level_dbm0: float = -42.0,
    ) -> None:
        if not math.isfinite(min_mark_bits) or min_mark_bits < 1:
            raise DspError(f"min_mark_bits must be >= 1, got {min_mark_bits!r}")
        self.standard = fsk_standard(standard)
        self.fsk = FskReceiver(channels, self.standard, min_level_dbm0=min_level_dbm0)
        self.channels = self.fsk.channels
        self.min_mark_bits = float(min_mark_bits)
        self._bit = self.standard.samples_per_bit
        self._min_quality = self.QUALITY_FRACTION * self.fsk.clean_discriminator
        self._assemblies = [_Assembly() for _ in range(self.channels)]

    def reset(self) -> None:
        self.fsk.reset()
        self._assemblies = [_Assembly() for _ in range(self.channels)]

    def process(self, block: np.ndarray) -> list[ReceivedMessage]:
        """Feeds one block (``(channels, samples)``); returns the messages completed in it."""
        out: list[ReceivedMessage] = []
        for byte in self.fsk.process(block):
            self._feed(byte, out)
        # A message whose next character is overdue is cut short.
        now = self.fsk.samples_seen
        for channel, assembly in enumerate(self._assemblies):
            overdue = assembly.end_sample + self.MAX_GAP_BITS * self._bit
            if assembly.state is AssemblerState.COLLECT and now > overdue + self.fsk.latency_samples:
                self._finish(channel, out)
        return out

    def flush(self) -> list[ReceivedMessage]:
        """End of input: returns any message still being collected, as cut short."""
        out: list[ReceivedMessage] = []
        for channel, assembly in enumerate(self._assemblies):
            if assembly.state is AssemblerState.COLLECT:
                self._finish(channel, out)
        return out

    def _feed(self, byte: FskByte, out: list[ReceivedMessage]) -> None:
        assembly = self._assemblies[byte.channel]
        if byte.gap_bits > self.MAX_GAP_BITS:
            if assembly.state is AssemblerState.COLLECT:
                self._finish(byte.channel, out)
                assembly = self._assemblies[byte.channel]
            assembly.run, assembly.candidates = [], {}
        if assembly.state is AssemblerState.HUNT:
            if byte.value in MESSAGE_FORMATS and byte.mark_bits >= self.min_mark_bits:
                assembly.state = AssemblerState.COLLECT
                assembly.data = bytearray([byte.value])
                assembly.qualities = [byte.quality]
                assembly.start_sample = byte.start_sample
                assembly.end_sample = byte.start_sample + FskReceiver.FRAME_BITS * self._bit
            else:
                self._hunt(byte, assembly, out)
            return
        assembly.data.append(byte.value)
        assembly.qualities.append(byte.quality)
        assembly.end_sample = byte.start_sample + FskReceiver.FRAME_BITS * self._bit
        total = message_length(bytes(assembly.data))
        if total is not None and len(assembly.data) >= total:
            self._finish(byte.channel, out)

    def _hunt(self, byte: FskByte, assembly: _Assembly, out: list[ReceivedMessage]) -> None:
        """Messages with a short or no mark: candidates checked as their last byte arrives."""
        run = assembly.run
        if len(run) >= self.MAX_RUN:
            del run[: len(run) - self.MAX_RUN + 1]
            assembly.candidates = {}
        run.append(byte)
        start = len(run) - 2  # the type byte before this length byte
        if start >= 0 and run[start].value in MESSAGE_FORMATS and self._may_start(run, start):
            assembly.candidates.setdefault(start + byte.value + 3, []).append(start)
        for first in assembly.candidates.pop(len(run), []):
            chars = run[first:]
            message = decode_message(bytes(b.value for b in chars))
            quality = float(np.mean([b.quality for b in chars]))
            if message.ok and quality >= self._min_quality:
                end = chars[-1].start_sample + FskReceiver.FRAME_BITS * self._bit
                out.append(ReceivedMessage(byte.channel, self.standard.name, chars[0].start_sample, end,
                                           message, quality))
                assembly.run, assembly.candidates = [], {}
                return

    def _may_start(self, run: list[FskByte], index: int) -> bool:
        """A message may start at ``run[index]``: after a pause or a short mark, or a seizure."""
        if index == 0 or run[index].mark_bits >= self.MIN_SHORT_MARK_BITS:
            return True
        if SEIZURE_BYTE not in (run[index - 1].value, run[index - 2].value if index >= 2 else None):
            return False
        lead = run[max(0, index - self.MIN_SEIZURE_BYTES - 1) : index]
        return sum(b.value == SEIZURE_BYTE for b in lead) >= self.MIN_SEIZURE_BYTES

    def _finish(self, channel: int, out: list[ReceivedMessage]) -> None:
        assembly = self._assemblies[channel]
        message = decode_message(bytes(assembly.data))
        quality = float(np.mean(assembly.qualities))
        if message.checksum_ok or (quality >= self._min_quality and len(assembly.data) >= 2):
            out.append(
                ReceivedMessage(
                    channel=channel,
                    standard=self.standard.name,
                    start_sample=assembly.start_sample,
                    end_sample=assembly.end_sample,
                    message=message,
                    quality=quality,
                )
            )
        self._assemblies[channel] = _Assembly()
