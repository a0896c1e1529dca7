"""Caller ID from a recording or a line, whatever the standard: one report type for all.

``CallerIdReport`` is what the engine, the CLI and the tests see of a message, from any of
the receivers (``dsp.callerid_fsk.CallerIdReceiver`` for Bell 202 and V.23,
``dsp.callerid_dtmf.DtmfCallerIdReceiver`` for DTMF). ``checksum_ok`` is the FSK checksum;
DTMF has none, so there it means "complete and well formed".

``decode_recording(samples, standard)`` runs them over a whole mono recording. With
``standard="auto"`` it runs all three; since a Bell 202 receiver can also read V.23 (and
the other way round: each tone falls on the nearer side of the other pair's centre), a
message heard by both FSK receivers at the same time is kept once: the one with a good
checksum, and if both are good the one whose mark frequency is nearer the frequency of the
steady mark that precedes every message (measured over ``MARK_PROBE_MS`` before it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsp import SAMPLE_RATE, DspError
from dsp.callerid import CallerId
from dsp.callerid_dtmf import DtmfCallerIdMessage, DtmfCallerIdReceiver
from dsp.callerid_fsk import CallerIdReceiver, ReceivedMessage
from dsp.fsk import FSK_STANDARDS, fsk_standard

DECODE_STANDARDS = ("auto", "bell202", "v23", "dtmf")
MARK_PROBE_MS = 30.0  # every message follows >= 40 mark bits (33 ms): see CallerIdReceiver


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
    mark_hz = _mark_frequency(samples, int(min(candidate.start_sample, incumbent.start_sample)))
    if mark_hz is None:
        return False
    candidate_error = abs(fsk_standard(candidate.standard).mark_hz - mark_hz)
    return candidate_error < abs(fsk_standard(incumbent.standard).mark_hz - mark_hz)


def _mark_frequency(samples: np.ndarray, start: int) -> float | None:
    """Peak frequency of the steady mark just before ``start`` (None if there is no room)."""
    end = start - 8  # keep clear of the start bit
    begin = end - int(MARK_PROBE_MS * SAMPLE_RATE / 1000.0)
    if begin < 0:
        return None
    segment = samples[begin:end]
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), n=8192))
    return float(np.argmax(spectrum) * SAMPLE_RATE / 8192)
