"""Every detector the engine runs on the ports' audio, one batched call each per tick.

- echo cancelling on the lines (FXO ports), before anything listens to them: the far end
  is what the box sent to the line on the previous tick;
- DTMF on every port (phones dialling, callers keying in an IVR);
- call-progress tones on the lines (dial tone before dialling out, busy/congestion as a
  disconnect signal);
- caller ID on the lines: FSK (Bell 202 or V.23, per the configuration) or DTMF;
- a level meter on the lines for the silence-timeout disconnect supervision.

Detectors see only the rows of the ports they serve; events come back with board port
numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dsp.callerid_dtmf import DtmfCallerIdReceiver
from dsp.callerid_fsk import CallerIdReceiver
from dsp.dtmf import DtmfDetector, DtmfStart
from dsp.echo import EchoCanceller
from dsp.levels import signal_dbm0
from dsp.progress import CallProgressDetector
from dsp.toneplans import TonePlan

SILENCE_DBM0 = -50.0  # below this a line is silent (for the silence-timeout supervision)


@dataclass(frozen=True)
class DigitHeard:
    port: int
    digit: str


@dataclass(frozen=True)
class ToneHeard:
    port: int
    tone: str
    ongoing: bool


@dataclass(frozen=True)
class CallerIdHeard:
    port: int
    caller: object  # dsp.callerid.CallerId
    checksum_ok: bool


@dataclass(frozen=True)
class LineLevels:
    heard: dict[int, bool]  # FXO port -> audio above the silence level this tick


DetectorEvent = DigitHeard | ToneHeard | CallerIdHeard


class DetectorBank:
    def __init__(self, port_is_fxs: list[bool], plan: TonePlan, caller_id_standard: str,
                 echo_cancel: bool = True) -> None:
        self.n_ports = len(port_is_fxs)
        self.lines = np.array([p for p, fxs in enumerate(port_is_fxs) if not fxs], dtype=np.int64)
        self.dtmf = DtmfDetector(self.n_ports)
        n_lines = len(self.lines)
        self.progress = CallProgressDetector(n_lines, plan) if n_lines else None
        self.echo = EchoCanceller(n_lines) if n_lines and echo_cancel else None
        self.caller_id_standard = caller_id_standard
        if not n_lines:
            self.fsk = self.dtmf_cid = None
        elif caller_id_standard == "dtmf":
            self.fsk, self.dtmf_cid = None, DtmfCallerIdReceiver(n_lines)
        else:
            fsk = "bell202" if caller_id_standard == "bell202" else "v23"
            self.fsk, self.dtmf_cid = CallerIdReceiver(n_lines, fsk), None

    def process(self, frame: np.ndarray, sent_last_tick: np.ndarray) -> tuple[list[DetectorEvent], LineLevels]:
        """``frame``: what every port sent this tick; ``sent_last_tick``: what the box sent."""
        audio = frame.astype(np.float64)
        events: list[DetectorEvent] = []
        lines = self.lines
        if len(lines):
            line_audio = audio[lines]
            if self.echo is not None:
                line_audio = self.echo.process(sent_last_tick[lines].astype(np.float64), line_audio)
                audio[lines] = line_audio
            for tone in self.progress.process(line_audio):
                events.append(ToneHeard(int(lines[tone.channel]), tone.tone, tone.ongoing))
            if self.fsk is not None:
                for received in self.fsk.process(line_audio):
                    decoded = received.message
                    # A damaged message is never taken for a number (checksum first).
                    if decoded.caller is not None and decoded.checksum_ok:
                        events.append(CallerIdHeard(int(lines[received.channel]), decoded.caller, True))
            else:
                for message in self.dtmf_cid.process(line_audio):
                    if message.parsed is not None:
                        events.append(CallerIdHeard(int(lines[message.channel]), message.parsed.caller, True))
            levels = signal_dbm0(line_audio, axis=1)
            heard = {int(port): bool(level > SILENCE_DBM0) for port, level in zip(lines, levels, strict=True)}
        else:
            heard = {}
        for event in self.dtmf.process(audio):
            if isinstance(event, DtmfStart):
                events.append(DigitHeard(event.channel, event.digit))
        return events, LineLevels(heard)
