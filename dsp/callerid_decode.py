"""Caller ID from a recording or a line, whatever the standard: one report type for all.

``CallerIdReport`` is what the engine, the CLI and the tests see of a message, from any of
the receivers (``dsp.callerid_fsk.CallerIdReceiver`` for Bell 202 and V.23,
``dsp.callerid_dtmf.DtmfCallerIdReceiver`` for DTMF). ``checksum_ok`` is the FSK checksum;
DTMF has none, so there it means "complete and well formed".

``decode_recording(samples, standard)`` runs them over a whole mono recording. With
``standard="auto"`` it runs all three; since a Bell 202 receiver can also read V.23 (and
the other way round: each tone falls on the nearer side of the other pair's centre), a
message heard by both FSK receivers at the same time is kept once: the one with a good
checksum, and if both are good the one whose FSK of the decoded bytes matches the recording
better (the first ``MATCH_BITS`` of the message, rebuilt in each standard and correlated
with what was heard in pieces of ``MATCH_PIECE_BITS``, phase-blind: 100 Hz apart, the other
standard's tones turn by more than a cycle over a piece). It is measured over the message
itself, so a message with no mark before it is judged as well as one with 180 mark bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsp import DspError
from dsp.callerid import CallerId
from dsp.callerid_dtmf import DtmfCallerIdMessage, DtmfCallerIdReceiver
from dsp.callerid_fsk import CallerIdReceiver, ReceivedMessage
from dsp.fsk import FSK_STANDARDS, fsk_modulate, fsk_standard, uart_bits

DECODE_STANDARDS = ("auto", "bell202", "v23", "dtmf")
MATCH_BITS = 120  # the type, length and ten bytes: a bit rate 1 % off drifts 1.2 bits over them
MATCH_PIECE_BITS = 20  # 16.7 ms: 100 Hz off turns 1.7 cycles


@dataclass(frozen=True)
class CallerIdReport:
    channel: int
    standard: str  # "bell202" | "v23" | "dtmf"
    format: str  # "sdmf" | "mdmf" | "sdmf_mwi" | "mdmf_mwi" | "unknown" | "dtmf_ac" | "dtmf_dc" | "dtmf_hash"
    start_sample: float
    end_sample: float
    checksum_ok: bool
    caller: CallerId | None
    mwi: bool | None
    error: str | None
    raw: str  # the message bytes in hex, or the DTMF digits


def report_fsk(received: ReceivedMessage) -> CallerIdReport:
    message = received.message
    return CallerIdReport(
        channel=received.channel,
        standard=received.standard,
        format=message.format,
        start_sample=received.start_sample,
        end_sample=received.end_sample,
        checksum_ok=message.checksum_ok,
        caller=message.caller,
        mwi=message.mwi,
        error=message.error,
        raw=message.raw.hex(),
    )


def report_dtmf(received: DtmfCallerIdMessage) -> CallerIdReport:
    parsed = received.parsed
    return CallerIdReport(
        channel=received.channel,
        standard="dtmf",
        format=f"dtmf_{parsed.framing}" if parsed is not None else "dtmf",
        start_sample=float(received.start_sample),
        end_sample=float(received.end_sample),
        checksum_ok=parsed is not None,
        caller=parsed.caller if parsed is not None else None,
        mwi=None,
        error=received.error,
        raw=received.digits,
    )


def decode_recording(samples: np.ndarray, standard: str = "auto") -> list[CallerIdReport]:
    """Every caller ID / MWI message in a mono 8 kHz recording, in time order."""
    if standard not in DECODE_STANDARDS:
        raise DspError(f"unknown caller ID standard {standard!r} (choose from {', '.join(DECODE_STANDARDS)})")
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise DspError(f"a recording must be mono (1-D), got shape {samples.shape}")
    block = samples.astype(np.float64)[None, :]
    reports: list[CallerIdReport] = []
    fsk_names = [s.name for s in FSK_STANDARDS] if standard == "auto" else [standard]
    fsk_reports = []
    for name in fsk_names:
        if name == "dtmf":
            continue
        receiver = CallerIdReceiver(1, name)
        received = receiver.process(block) + receiver.flush()
        fsk_reports.append([report_fsk(r) for r in received])
    reports.extend(_merge_fsk(fsk_reports, block[0]))
    if standard in ("auto", "dtmf"):
        dtmf = DtmfCallerIdReceiver(1)
        reports.extend(report_dtmf(r) for r in dtmf.process(block) + dtmf.flush())
    reports.sort(key=lambda r: (r.start_sample, r.channel))
    return reports


def _merge_fsk(per_standard: list[list[CallerIdReport]], samples: np.ndarray) -> list[CallerIdReport]:
    kept: list[CallerIdReport] = []
    for reports in per_standard:
        for report in reports:
            rival = next((k for k in kept if _overlap(k, report)), None)
            if rival is None:
                kept.append(report)
            elif _better(report, rival, samples):
                kept[kept.index(rival)] = report
    return kept


def _overlap(a: CallerIdReport, b: CallerIdReport) -> bool:
    return a.channel == b.channel and a.start_sample < b.end_sample and b.start_sample < a.end_sample


def _better(candidate: CallerIdReport, incumbent: CallerIdReport, samples: np.ndarray) -> bool:
    if candidate.checksum_ok != incumbent.checksum_ok:
        return candidate.checksum_ok
    return _match(candidate, samples) > _match(incumbent, samples)


def _match(report: CallerIdReport, samples: np.ndarray) -> float:
    """How well the report's bytes, sent in its standard, explain the recording (0-1)."""
    bits = uart_bits(bytes.fromhex(report.raw))[:MATCH_BITS]
    start = int(round(report.start_sample))
    if start < 0 or not len(bits):
        return 0.0
    sine = fsk_modulate(bits, report.standard)
    cosine = fsk_modulate(bits, report.standard, start_phase=np.pi / 2.0)
    heard = samples[start : start + len(sine)]
    n = len(heard)
    if n == 0:
        return 0.0
    piece = int(MATCH_PIECE_BITS * fsk_standard(report.standard).samples_per_bit)
    score = 0.0
    for at in range(0, n, piece):
        x = heard[at : at + piece]
        score += abs(complex(np.dot(x, cosine[at : at + piece]), np.dot(x, sine[at : at + piece])))
    norm = float(np.sqrt(np.dot(heard, heard) * np.dot(sine[:n], sine[:n]))) or 1.0
    return score / norm
