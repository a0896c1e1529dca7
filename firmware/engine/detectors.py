"""Every detector the engine runs on the ports' audio, one batched call each per tick.

- echo cancelling on the lines (FXO ports) whose canceller is on (``lines[].echo_canceller``),
  first, by ``cancel_echo``: the far end is what the box sent to the line on the previous
  tick, and the cleaned rows replace the raw ones in the frame the whole engine uses from
  then on (the detectors below, the mixer, the frame taps), 10 ms later than the raw audio
  (the canceller's block);
- DTMF on the phones (dialling) and on the lines (callers keying in a queue, voicemail, an IVR);
- call-progress tones on the lines, by two detectors of the zone's plan each listening only
  for what it is for (``CallProgressDetector(only=...)``): dial tone on a seized line before
  dialling out (``dial_tone``), busy/congestion on a connected line (``disconnect``) as a
  disconnect signal; that one is fed ``DISCONNECT_BATCH_TICKS`` ticks at a time);
- caller ID on the lines: FSK (Bell 202 or V.23, per the configuration) or DTMF;
- a level meter on the lines for the silence-timeout disconnect supervision.

Detectors see only the rows of the ports they serve; events come back with board port
numbers. Each runs only on the ticks some port needs it (``set_needs``, from the ports'
states: ``detector_needs.py``); one that starts again after a pause starts afresh. The
parts that follow the configuration (the call-progress detectors follow the
zone's tone plan, the caller ID receiver the standard, the canceller the lines that have one)
are replaced live: ``prepare`` builds them on any thread (it reads nothing that changes),
``apply`` swaps them in on the loop's thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dsp.callerid_dtmf import DtmfCallerIdReceiver
from dsp.callerid_fsk import CallerIdReceiver
from dsp.dtmf import DtmfDetector, DtmfStart
from dsp.echo import EchoCanceller
from dsp.levels import dbm0_to_rms, signal_dbm0
from dsp.progress import CallProgressDetector
from dsp.toneplans import TonePlan
from firmware import FirmwareError
from firmware.config.model import Config
from firmware.engine.detector_needs import ALL, DetectorNeeds

INT16_MIN, INT16_MAX = -32768, 32767
SILENCE_DBM0 = -50.0  # below this a line is silent (for the silence-timeout supervision)
CALLER_ID_HANGOVER_TICKS = 50  # the caller ID receiver runs on for 1 s after the last audio on a line awaiting it
# The disconnect tone detector is fed 4 ticks at a time: its cost is nearly all numpy's fixed
# overhead per call, so 4 ticks cost about what one did (issue 10). Its decisions are the
# same (the detector's result does not depend on block sizes: test_progress.py); only their
# reporting comes up to 60 ms later, against a busy tone recognised after 1.5 cadence cycles
# (0.6-1.6 s) and a margin of 0.36 s to the latency limits of test_progress.py.
DISCONNECT_BATCH_TICKS = 4


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


def echo_ports(config: Config, port_is_fxs: Sequence[bool]) -> frozenset[int]:
    """The FXO ports whose echo is cancelled: every line but those configured with the canceller off."""
    off = {line.port for line in config.lines if not line.echo_canceller}
    return frozenset(port for port, fxs in enumerate(port_is_fxs) if not fxs and port not in off)


DISCONNECT_TONES = ("busy", "congestion")  # the far end has gone (Switch._tone)


def _progress(n_lines: int, plan: TonePlan) -> tuple[CallProgressDetector, CallProgressDetector]:
    """The dial tone detector and the disconnect tone detector of ``plan`` on ``n_lines`` lines."""
    return (CallProgressDetector(n_lines, plan, only=("dial",)),
            CallProgressDetector(n_lines, plan, only=DISCONNECT_TONES))


CallerIdReceivers = tuple[CallerIdReceiver | None, DtmfCallerIdReceiver | None]


def _caller_id_receivers(n_lines: int, standard: str) -> CallerIdReceivers:
    if not n_lines:
        return None, None
    if standard == "dtmf":
        return None, DtmfCallerIdReceiver(n_lines)
    return CallerIdReceiver(n_lines, "bell202" if standard == "bell202" else "v23"), None


@dataclass(frozen=True)
class DetectorChange:
    """Parts built by ``DetectorBank.prepare``; None: that part stays as it is."""

    progress: tuple[CallProgressDetector, CallProgressDetector] | None = None  # dial tone, disconnect
    caller_id: tuple[str, CallerIdReceivers] | None = None
    echo: tuple[np.ndarray, EchoCanceller | None] | None = None  # rows (board ports), canceller

    @property
    def empty(self) -> bool:
        return self.progress is None and self.caller_id is None and self.echo is None


class DetectorBank:
    """``echo_on``: the FXO ports with an echo canceller (None: every FXO port)."""

    def __init__(self, port_is_fxs: list[bool], plan: TonePlan, caller_id_standard: str,
                 echo_on: Iterable[int] | None = None) -> None:
        self.n_ports = len(port_is_fxs)
        self.port_is_fxs = tuple(port_is_fxs)
        self.lines = np.array([p for p, fxs in enumerate(port_is_fxs) if not fxs], dtype=np.int64)
        self.line_ports = self.lines.tolist()
        self.phones = np.array([p for p, fxs in enumerate(port_is_fxs) if fxs], dtype=np.int64)
        self.phone_ports = self.phones.tolist()
        self.dtmf_phones = DtmfDetector(len(self.phones)) if len(self.phones) else None
        self.dtmf_lines = DtmfDetector(len(self.lines)) if len(self.lines) else None
        n_lines = len(self.lines)
        self.dial_tone, self.disconnect = _progress(n_lines, plan) if n_lines else (None, None)
        self.caller_id_standard = caller_id_standard
        self.fsk, self.dtmf_cid = _caller_id_receivers(n_lines, caller_id_standard)
        self.echo_rows, self.echo = self._canceller(self.lines if echo_on is None else echo_on)
        self.needs = ALL
        self._ran = ALL  # what ran on the last tick: a detector that did not starts afresh
        self._caller_id_rows: slice | np.ndarray = slice(None)  # rows of the lines awaiting caller ID
        self._caller_id_quiet = 0  # ticks since a line awaiting caller ID last carried audio
        # Mean square over a tick below which a line carries no caller ID (SILENCE_DBM0: detector_needs.py).
        self._caller_id_gate = dbm0_to_rms(SILENCE_DBM0) ** 2
        self._empty_levels = LineLevels({})
        self._disconnect_audio: list[np.ndarray] = []  # line audio of the ticks not yet given to it

    def set_needs(self, needs: DetectorNeeds) -> None:
        """From the next call on, run only the detectors ``needs`` names (``detector_needs.py``)."""
        self.needs = needs

    def _canceller(self, ports: Iterable[int]) -> tuple[np.ndarray, EchoCanceller | None]:
        rows = np.array(sorted({int(port) for port in ports}), dtype=np.int64)
        if any(not 0 <= port < self.n_ports or self.port_is_fxs[port] for port in rows):
            raise FirmwareError(f"echo canceller on ports {rows.tolist()}: only FXO ports have one")
        return rows, EchoCanceller(len(rows)) if len(rows) else None

    # ------------------------------------------------------------------ live changes
    def prepare(self, plan: TonePlan | None = None, caller_id_standard: str | None = None,
                echo_on: Iterable[int] | None = None) -> DetectorChange:
        """New parts for a new plan, caller ID standard or set of echo-cancelled ports (None: unchanged).

        Builds objects only (tens of ms): call it off the media loop, then ``apply`` on it.
        """
        n_lines = len(self.lines)
        return DetectorChange(
            progress=_progress(n_lines, plan) if plan is not None and n_lines else None,
            caller_id=(None if caller_id_standard is None
                       else (caller_id_standard, _caller_id_receivers(n_lines, caller_id_standard))),
            echo=None if echo_on is None else self._canceller(echo_on),
        )

    def apply(self, change: DetectorChange) -> None:
        """Swaps in the parts of ``change`` (on the loop's thread, between two ticks)."""
        if change.progress is not None:
            self.dial_tone, self.disconnect = change.progress
            self._disconnect_audio = []
        if change.caller_id is not None:
            self.caller_id_standard, (self.fsk, self.dtmf_cid) = change.caller_id
        if change.echo is not None:
            self.echo_rows, self.echo = change.echo

    def _restart(self, needs: DetectorNeeds) -> None:
        """Detectors that did not run on the last tick and run on this one forget what they had half-heard."""
        ran = self._ran
        for detector, now, before in ((self.dial_tone, needs.dial_tone, ran.dial_tone),
                                      (self.disconnect, needs.disconnect, ran.disconnect)):
            if now and not before and detector is not None:
                for channel in range(len(self.lines)):
                    detector.reset(channel)
        if not needs.disconnect:
            self._disconnect_audio = []  # the next start is afresh
        rows = needs.caller_id_lines
        self._caller_id_rows = (slice(None) if rows is None
                                else np.searchsorted(self.lines, np.array(rows, dtype=np.int64)))
        if needs.dtmf_phones and not ran.dtmf_phones and self.dtmf_phones is not None:
            self.dtmf_phones.reset()
        if needs.dtmf_lines and not ran.dtmf_lines and self.dtmf_lines is not None:
            self.dtmf_lines.reset()

    # ------------------------------------------------------------------ per tick
    def cancel_echo(self, frame: np.ndarray, sent_last_tick: np.ndarray) -> np.ndarray:
        """``frame`` (ports x 160, int16) with the echo-cancelled lines' rows cleaned: a new array
        (``frame`` itself when no line has a canceller). ``sent_last_tick``: what the box sent."""
        if self.echo is None:  # it runs on every tick, idle lines too: detector_needs.py says why
            return frame
        rows = self.echo_rows
        cleaned = self.echo.process(sent_last_tick[rows], frame[rows])
        out = frame.copy()
        out[rows] = np.clip(np.rint(cleaned), INT16_MIN, INT16_MAX)
        return out

    def process(self, frame: np.ndarray) -> tuple[list[DetectorEvent], LineLevels]:
        """``frame``: what every port sent this tick, after ``cancel_echo``; only the detectors
        ``needs`` names run (``set_needs``)."""
        needs = self.needs
        if needs is not self._ran:
            self._restart(needs)
            self._ran = needs
        events: list[DetectorEvent] = []
        lines = self.lines
        line_audio = None
        if len(lines) and (needs.dial_tone or needs.disconnect or needs.caller_id or needs.dtmf_lines
                           or needs.silence_lines):
            line_audio = frame[lines].astype(np.float64)
        if needs.dial_tone and self.dial_tone is not None:
            for tone in self.dial_tone.process(line_audio):
                if tone.tone == "dial":  # its rivals sharing a frequency are the other detector's
                    events.append(ToneHeard(int(lines[tone.channel]), tone.tone, tone.ongoing))
        if needs.disconnect and self.disconnect is not None:
            self._disconnect_audio.append(line_audio)
            if len(self._disconnect_audio) >= DISCONNECT_BATCH_TICKS:
                block = np.concatenate(self._disconnect_audio, axis=1)
                self._disconnect_audio = []
                for tone in self.disconnect.process(block):
                    if tone.tone in DISCONNECT_TONES:
                        events.append(ToneHeard(int(lines[tone.channel]), tone.tone, tone.ongoing))
        if needs.caller_id and len(lines) and self._caller_id_heard(line_audio):
            self._caller_id(line_audio, lines, events)
        elif not needs.caller_id:
            self._caller_id_quiet = CALLER_ID_HANGOVER_TICKS  # starts afresh when needed again
        if needs.dtmf_lines and self.dtmf_lines is not None:
            self._digits(self.dtmf_lines, line_audio, lines, events)
        if needs.dtmf_phones and self.dtmf_phones is not None:
            self._digits(self.dtmf_phones, frame[self.phones], self.phones, events)
        if not needs.silence_lines:
            return events, self._empty_levels
        rows = np.searchsorted(lines, needs.silence_lines)
        levels = signal_dbm0(line_audio[rows], axis=1)
        heard = dict(zip(needs.silence_lines, (levels > SILENCE_DBM0).tolist(), strict=True))  # Python ints, bools
        return events, LineLevels(heard)

    def _caller_id_heard(self, line_audio: np.ndarray) -> bool:
        """Whether a line awaiting caller ID carried audio within ``CALLER_ID_HANGOVER_TICKS``
        (a DTMF caller ID's gaps between digits, an FSK message's pause after the alerting
        signal); a receiver that did not run on the last tick starts afresh (what it had was
        silence, or another call's)."""
        awaiting = line_audio[self._caller_id_rows]
        quiet = self._caller_id_quiet
        if awaiting.size and (np.einsum("ij,ij->i", awaiting, awaiting)
                              > self._caller_id_gate * awaiting.shape[1]).any():
            if quiet >= CALLER_ID_HANGOVER_TICKS:
                if self.fsk is not None:
                    self.fsk.reset()
                if self.dtmf_cid is not None:
                    self.dtmf_cid.reset()
            self._caller_id_quiet = 0
            return True
        self._caller_id_quiet = quiet + 1
        return quiet + 1 < CALLER_ID_HANGOVER_TICKS

    def _caller_id(self, line_audio: np.ndarray, lines: np.ndarray, events: list[DetectorEvent]) -> None:
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

    @staticmethod
    def _digits(detector: DtmfDetector, audio: np.ndarray, ports: np.ndarray, events: list[DetectorEvent]) -> None:
        for event in detector.process(audio):
            if isinstance(event, DtmfStart):
                events.append(DigitHeard(int(ports[event.channel]), event.digit))
