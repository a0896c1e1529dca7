"""What a scenario run observed, tick by tick: states, bridges, the log, and what was heard.

After every tick of the media loop the runner calls :meth:`Observer.after_tick`, which
records:

- each port's state as the switch reports it (``Switch.snapshot()``: leg state, call, and
  the tone the box says it is playing there — ``box_tone``, the player's word, not a
  measurement);
- the port pairs the mixer bridges (``Mixer.bridged_pairs()``);
- the digits each exchange line received (``PstnLine.dialled`` of the simulated exchange:
  its Q.24 DTMF receiver and its pulse counter);
- the switch's log events (route decisions with their explanations, disconnects ...), with
  the simulated time they happened at.

And every ``AUDIO_BLOCK_TICKS`` ticks, what each phone and each line *heard* from the box
(the audio the simulated world received, ``World.heard``) is analysed with the same dsp
receivers the box uses, so tones, digits and caller ID in the report are measured from
the audio, not taken from the box's intentions:

- call-progress tones on every port: ``dsp.progress.CallProgressDetector`` with the zone's
  tone plan (a tone is reported once its cadence is recognised: about 1 s into a steady
  tone, 1.5 cycles of busy, one whole cycle of ringback);
- DTMF on every port: ``dsp.dtmf.DtmfDetector`` (ITU-T Q.24);
- caller ID on the phones: ``dsp.callerid_fsk.CallerIdReceiver`` (Bell 202 or V.23, as
  configured) or ``dsp.callerid_dtmf.DtmfCallerIdReceiver``.

Time in the report is simulated milliseconds since tick 0 (``ms``); audio events carry the
time of their first sample. The last minute of audio of every port is kept for the speech
expectation (:func:`linebox.sim.expect.best_match`).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drivers.logs import ROOT_LOGGER
from dsp.callerid_dtmf import DtmfCallerIdReceiver
from dsp.callerid_fsk import CallerIdReceiver
from dsp.dtmf import DtmfDetector, DtmfStart
from dsp.progress import CallProgressDetector
from dsp.toneplans import TonePlan

TICK_MS = 20
SAMPLES_PER_MS = 8
AUDIO_BLOCK_TICKS = 5  # audio is analysed in 100 ms blocks (the detectors are cheaper per block)
KEEP_AUDIO_S = 60
CAPTURED_COMPONENTS = ("switch",)


@dataclass
class PortLog:
    """Everything observed on one port."""

    port: int
    kind: str  # "fxs" or "fxo"
    states: list[dict[str, Any]] = field(default_factory=list)  # {ms, state, call, box_tone}
    tones: list[dict[str, Any]] = field(default_factory=list)  # {tone, start_ms, end_ms}
    digits: list[tuple[int, str]] = field(default_factory=list)  # (ms, digit): DTMF heard in the audio
    exchange_digits: list[tuple[int, str]] = field(default_factory=list)  # FXO: what the exchange received
    caller_ids: list[dict[str, Any]] = field(default_factory=list)  # FXS: decoded caller ID
    audio: deque[tuple[int, np.ndarray]] = field(default_factory=deque)  # (first sample, block)

    def state_at(self, ms: int) -> str:
        """The state the port was in at ``ms`` (idle before the first record)."""
        state = "idle"
        for entry in self.states:
            if entry["ms"] > ms:
                break
            state = entry["state"]
        return state


class _LogCapture(logging.Handler):
    """Keeps the events of the captured components, stamped with simulated time."""

    def __init__(self, clock, sink: list[dict[str, Any]], forward_from: dict[str, int]) -> None:
        super().__init__(logging.DEBUG)
        self._clock = clock
        self._sink = sink
        self._forward_from = forward_from  # component -> level the console wanted before the run

    def emit(self, record: logging.LogRecord) -> None:
        component = record.name.removeprefix(ROOT_LOGGER).lstrip(".")
        fields = getattr(record, "fields", None) or {}
        self._sink.append({"ms": self._clock(), "component": component, "event": str(record.msg),
                           **{key: _plain(value) for key, value in fields.items()}})
        threshold = self._forward_from.get(component)
        if threshold is not None and record.levelno >= threshold:
            logging.getLogger(ROOT_LOGGER).handle(record)  # what the console would have shown anyway


def _plain(value: Any) -> Any:
    if isinstance(value, (bool, int, float)) or value is None:
        return value
    return str(value)


class Observer:
    """Watches an ``Appliance`` (see :mod:`linebox.appliance`) during a scenario run."""

    def __init__(self, app, plan: TonePlan, caller_id_standard: str, audio: bool = True, log: bool = True,
                 history: bool = True) -> None:
        self.app = app
        self.world = app.world
        self.switch = app.switch
        snapshot = self.switch.snapshot()
        self.ports = [PortLog(entry["port"], entry["type"]) for entry in snapshot]
        self.fxs = [p.port for p in self.ports if p.kind == "fxs"]
        self.fxo = [p.port for p in self.ports if p.kind == "fxo"]
        self.audio_on = audio
        self.log_on = log
        self.history_on = history  # off: only the current states and bridges are kept (soak runs)
        self.events: list[dict[str, Any]] = []
        self.bridges: list[dict[str, Any]] = []  # {ports: [a, b], start_ms, end_ms}
        self._open_bridges: dict[tuple[int, int], dict[str, Any]] = {}
        self._last_states: list[tuple[str, Any, Any]] = [("", None, None)] * len(self.ports)
        self._dialled = {port: "" for port in self.fxo}
        self._pulled_tick = 0  # world ticks whose audio has been analysed
        self._capture: _LogCapture | None = None
        self._saved_levels: dict[str, tuple[int, bool]] = {}
        n = len(self.ports)
        if audio:
            self.progress = CallProgressDetector(n, plan)
            self.dtmf = DtmfDetector(n)
            self.callerid_standard = caller_id_standard
            if not self.fxs:
                self.cid_fsk = self.cid_dtmf = None
            elif caller_id_standard == "dtmf":
                self.cid_fsk, self.cid_dtmf = None, DtmfCallerIdReceiver(len(self.fxs))
            else:
                fsk = "bell202" if caller_id_standard == "bell202" else "v23"
                self.cid_fsk, self.cid_dtmf = CallerIdReceiver(len(self.fxs), fsk), None
        self.end_ms = 0
        self._keep_blocks = KEEP_AUDIO_S * 1000 // (TICK_MS * AUDIO_BLOCK_TICKS)

    # -- lifetime ------------------------------------------------------------------------

    def start(self) -> None:
        """Starts capturing the switch's log (INFO events, whatever the console's level)."""
        if not self.log_on:
            return
        forward: dict[str, int] = {}
        for component in CAPTURED_COMPONENTS:
            logger = logging.getLogger(f"{ROOT_LOGGER}.{component}")
            self._saved_levels[component] = (logger.level, logger.propagate)
            effective = logger.getEffectiveLevel()
            if effective > logging.INFO:
                # The console did not want INFO lines: capture them without showing them.
                forward[component] = effective
                logger.propagate = False
            logger.setLevel(logging.INFO)
        self._capture = _LogCapture(lambda: self.now_ms, self.events, forward)
        for component in CAPTURED_COMPONENTS:
            logging.getLogger(f"{ROOT_LOGGER}.{component}").addHandler(self._capture)

    def stop(self) -> None:
        """Analyses the audio still pending and gives the loggers back their settings."""
        self.pull_audio()
        if self.audio_on:
            for event in self.progress.flush():  # tones still on end with the scenario
                self._tone_event(event)
        if self._capture is not None:
            for component, (level, propagate) in self._saved_levels.items():
                logger = logging.getLogger(f"{ROOT_LOGGER}.{component}")
                logger.removeHandler(self._capture)
                logger.setLevel(level)
                logger.propagate = propagate
            self._capture = None
        self.end_ms = self.now_ms

    @property
    def now_ms(self) -> int:
        """Simulated time: the end of the last tick the board ran."""
        return self.app.board.tick * TICK_MS

    # -- per tick ------------------------------------------------------------------------

    def after_tick(self) -> None:
        now = self.now_ms
        for entry in self.switch.snapshot():
            key = (entry["state"], entry["call"], entry["tone"])
            port = entry["port"]
            if key != self._last_states[port]:
                self._last_states[port] = key
                if self.history_on:
                        self.ports[port].states.append({"ms": now, "state": entry["state"], "call": entry["call"],
                                                    "box_tone": entry["tone"]})
        pairs = set(self.switch.mixer.bridged_pairs())
        for pair in pairs - self._open_bridges.keys():
            entry = {"ports": list(pair), "start_ms": now, "end_ms": None}
            self._open_bridges[pair] = entry
            if self.history_on:
                self.bridges.append(entry)
        for pair in self._open_bridges.keys() - pairs:
            self._open_bridges.pop(pair)["end_ms"] = now
        for port in self.fxo:
            dialled = self.world.line(port).dialled
            before = self._dialled[port]
            if dialled != before:
                new = dialled[len(before):] if dialled.startswith(before) else dialled
                self.ports[port].exchange_digits.extend((now, digit) for digit in new)
                self._dialled[port] = dialled
        if self.audio_on and self.app.board.tick - self._pulled_tick >= AUDIO_BLOCK_TICKS:
            self.pull_audio()

    def state(self, port: int) -> str:
        return self._last_states[port][0]

    def bridged_now(self) -> set[tuple[int, int]]:
        return set(self._open_bridges)

    # -- audio ---------------------------------------------------------------------------

    def pull_audio(self) -> None:
        """Analyses what every port heard since the last pull."""
        if not self.audio_on:
            return
        ticks = self.app.board.tick - self._pulled_tick
        if ticks <= 0:
            return
        first_sample = self._pulled_tick * TICK_MS * SAMPLES_PER_MS
        block = np.stack([self.world.heard(p.port, last_ms=ticks * TICK_MS) for p in self.ports])
        self._pulled_tick += ticks
        for port in self.ports:
            port.audio.append((first_sample, block[port.port]))
            while len(port.audio) > self._keep_blocks:
                port.audio.popleft()
        for event in self.progress.process(block):
            self._tone_event(event)
        for event in self.dtmf.process(block):
            if isinstance(event, DtmfStart):
                self.ports[event.channel].digits.append((event.start_sample // SAMPLES_PER_MS, event.digit))
        if self.cid_fsk is not None:
            for received in self.cid_fsk.process(block[self.fxs]):
                decoded = received.message
                self._caller_id(self.fxs[received.channel], int(received.start_sample) // SAMPLES_PER_MS,
                                decoded.caller, bool(decoded.checksum_ok))
        elif self.cid_dtmf is not None:
            for message in self.cid_dtmf.process(block[self.fxs]):
                caller = message.parsed.caller if message.parsed is not None else None
                self._caller_id(self.fxs[message.channel], message.start_sample // SAMPLES_PER_MS, caller,
                                message.parsed is not None, digits=message.digits)

    def _tone_event(self, event) -> None:
        tones = self.ports[event.channel].tones
        start_ms = event.start_sample // SAMPLES_PER_MS
        if event.ongoing:
            tones.append({"tone": event.tone, "start_ms": start_ms, "end_ms": None})
            return
        for entry in reversed(tones):
            if entry["tone"] == event.tone and entry["start_ms"] == start_ms:
                entry["end_ms"] = event.end_sample // SAMPLES_PER_MS
                return

    def _caller_id(self, port: int, ms: int, caller, ok: bool, digits: str | None = None) -> None:
        entry: dict[str, Any] = {"ms": ms, "checksum_ok": ok, "standard": self.callerid_standard}
        if caller is not None:
            entry.update(number=caller.number, name=caller.name, datetime=caller.datetime,
                         number_absence=caller.number_absence.label if caller.number_absence else None,
                         name_absence=caller.name_absence.label if caller.name_absence else None)
        if digits is not None:
            entry["dtmf"] = digits
        self.ports[port].caller_ids.append(entry)

    def heard_since(self, port: int, ms: int) -> tuple[int, np.ndarray]:
        """(first sample, audio) the port heard from ``ms`` on, within the last minute."""
        start = ms * SAMPLES_PER_MS
        blocks = [(first, samples) for first, samples in self.ports[port].audio if first + len(samples) > start]
        if not blocks:
            return start, np.zeros(0, dtype=np.int16)
        first = blocks[0][0]
        audio = np.concatenate([samples for _, samples in blocks])
        if first < start:
            audio, first = audio[start - first:], start
        return first, audio
