"""What a scenario run observed, tick by tick: states, bridges, the log, and what was heard.

After every tick of the media loop the runner calls :meth:`Observer.after_tick`, which
records:

- each port's state as the switch reports it (``Switch.snapshot()``: leg state, call, and
  the tone the box says it is playing there — ``box_tone``, the player's word, not a
  measurement);
- the port pairs the mixer bridges (``Mixer.bridged_pairs()``);
- the digits each exchange line received (``PstnLine.dialled`` of the simulated exchange:
  its Q.24 DTMF receiver and its pulse counter);
- the log events of every component (the switch's route decisions with their explanations,
  the ACD's agent logins, voicemail's saved messages ...), INFO and up whatever the console
  shows, with the simulated time they happened at: a handler on the ``linebox`` logger for
  the run, which passes on to the console only what its levels wanted;
- the queue_log lines the ACD wrote (read back from the file, split into Asterisk's fields).

And every ``AUDIO_BLOCK_TICKS`` ticks, what each phone and each line *heard* from the box
(the audio the simulated world received, ``World.heard``) is analysed with the same dsp
receivers the box uses, so tones, digits and caller ID in the report are measured from
the audio, not taken from the box's intentions:

- call-progress tones on every port: ``dsp.progress.CallProgressDetector`` with the zone's
  tone plan (a tone is reported once its cadence is recognised: about 1 s into a steady
  tone, 1.5 cycles of busy, one whole cycle of ringback);
- DTMF on every port: ``dsp.dtmf.DtmfDetector`` (ITU-T Q.24);
- caller ID and message-waiting messages on the phones: ``dsp.callerid_fsk.CallerIdReceiver``
  (Bell 202 or V.23, as configured) or ``dsp.callerid_dtmf.DtmfCallerIdReceiver``;
- the message-waiting (stutter) dial tone on the phones: a second call-progress detector
  whose cadenced tone is the 100/100 ms bursts (:func:`linebox.sim.audiocheck.stutter_plan`),
  reported as the tone ``stutter`` when a run of bursts at least ``STUTTER_MIN_MS`` long ends.

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

from drivers.audio import TICK_MS
from drivers.logs import ROOT_LOGGER
from dsp.callerid_dtmf import DtmfCallerIdReceiver
from dsp.callerid_fsk import CallerIdReceiver
from dsp.dtmf import DtmfDetector, DtmfStart
from dsp.progress import CallProgressDetector
from dsp.toneplans import TonePlan
from firmware.acd.queue_log import DATA_FIELDS, parse_line
from linebox.sim.audiocheck import SAMPLES_PER_MS, STUTTER, STUTTER_MIN_MS, stutter_plan

AUDIO_BLOCK_TICKS = 5  # audio is analysed in 100 ms blocks (the detectors are cheaper per block)
KEEP_AUDIO_S = 60


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
    mwi: list[dict[str, Any]] = field(default_factory=list)  # FXS: decoded message-waiting messages {ms, lamp}
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
    """On the ``linebox`` logger during a run: keeps every component's INFO and higher events,
    stamped with simulated time, and passes each record on to where it went before the run
    (the console's handlers, the parent logger) only if the console's levels wanted it."""

    def __init__(self, clock, sink: list[dict[str, Any]], console: _ConsoleRoute) -> None:
        super().__init__(logging.NOTSET)
        self._clock = clock
        self._sink = sink
        self._console = console

    def emit(self, record: logging.LogRecord) -> None:
        component = record.name.removeprefix(ROOT_LOGGER).lstrip(".")
        if record.levelno >= logging.INFO:
            fields = getattr(record, "fields", None) or {}
            self._sink.append({"ms": self._clock(), "component": component, "event": str(record.msg),
                               **{key: _plain(value) for key, value in fields.items()}})
        self._console.forward(component, record)


@dataclass
class _ConsoleRoute:
    """How the ``linebox`` logger was set before the run, to put back and to forward to."""

    level: int
    propagate: bool
    handlers: list[logging.Handler]
    effective: int  # the level the logger's children inherited
    child_levels: dict[str, int]  # component -> the level set on it (where one was set)

    def forward(self, component: str, record: logging.LogRecord) -> None:
        if record.levelno < self.child_levels.get(component, self.effective):
            return  # the console did not want this line (the capture asked for it)
        for handler in self.handlers:
            if record.levelno >= handler.level:
                handler.handle(record)
        if self.propagate:
            logging.getLogger().handle(record)


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
        self._console: _ConsoleRoute | None = None
        self.queue_log: list[dict[str, Any]] = []  # the ACD's queue_log lines, as they were written
        self._queue_log_file = None  # our own reading handle of the appliance's queue_log
        self._queue_log_rest = b""  # the start of a line not written whole yet
        self.plan = plan
        self.stutter: CallProgressDetector | None = None
        n = len(self.ports)
        if audio:
            self.progress = CallProgressDetector(n, plan)
            if self.fxs:  # the message-waiting dial tone, on the phones (audiocheck.stutter_plan)
                self.stutter = CallProgressDetector(len(self.fxs), stutter_plan(plan))
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
        """Starts capturing the log of every component (INFO events, whatever the console's level)."""
        if not self.log_on:
            return
        root = logging.getLogger(ROOT_LOGGER)
        children = {name.removeprefix(ROOT_LOGGER + "."): logger for name, logger in logging.Logger.manager.loggerDict.items()
                    if name.startswith(ROOT_LOGGER + ".") and isinstance(logger, logging.Logger)}
        self._console = _ConsoleRoute(root.level, root.propagate, list(root.handlers), root.getEffectiveLevel(),
                                      {name: logger.level for name, logger in children.items() if logger.level})
        for handler in self._console.handlers:
            root.removeHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
        for name, level in self._console.child_levels.items():
            if level > logging.INFO:
                children[name].setLevel(logging.INFO)
        self._capture = _LogCapture(lambda: self.now_ms, self.events, self._console)
        root.addHandler(self._capture)

    def stop(self) -> None:
        """Analyses the audio still pending and gives the loggers back their settings."""
        self.pull_audio()
        if self.audio_on:
            for event in self.progress.flush():  # tones still on end with the scenario
                self._tone_event(event)
            if self.stutter is not None:
                for event in self.stutter.flush():
                    self._stutter_event(event)
        if self._capture is not None:
            root = logging.getLogger(ROOT_LOGGER)
            root.removeHandler(self._capture)
            console = self._console
            for handler in console.handlers:
                root.addHandler(handler)
            root.setLevel(console.level)
            root.propagate = console.propagate
            for name, level in console.child_levels.items():
                logging.getLogger(f"{ROOT_LOGGER}.{name}").setLevel(level)
            self._capture = None
        self.poll_queue_log()
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
        self.poll_queue_log()
        if self.audio_on and self.app.board.tick - self._pulled_tick >= AUDIO_BLOCK_TICKS:
            self.pull_audio()

    def state(self, port: int) -> str:
        return self._last_states[port][0]

    def box_tone(self, port: int) -> str | None:
        """The tone the box says it plays on the port now (its player's word, not a measurement)."""
        return self._last_states[port][2]

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
        if self.stutter is not None:
            for event in self.stutter.process(block[self.fxs]):
                self._stutter_event(event)
        for event in self.dtmf.process(block):
            if isinstance(event, DtmfStart):
                self.ports[event.channel].digits.append((event.start_sample // SAMPLES_PER_MS, event.digit))
        if self.cid_fsk is not None:
            for received in self.cid_fsk.process(block[self.fxs]):
                decoded = received.message
                port, ms = self.fxs[received.channel], int(received.start_sample) // SAMPLES_PER_MS
                if decoded.mwi is not None:  # a message-waiting message (GR-30-CORE / EN 300 659-3)
                    self.ports[port].mwi.append({"ms": ms, "lamp": "on" if decoded.mwi else "off"})
                else:
                    self._caller_id(port, ms, decoded.caller, bool(decoded.checksum_ok))
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

    def _stutter_event(self, event) -> None:
        """A run of 100/100 ms bursts on a phone: the stutter dial tone if it lasted long enough."""
        if event.tone != STUTTER or event.ongoing:
            return
        start_ms, end_ms = event.start_sample // SAMPLES_PER_MS, event.end_sample // SAMPLES_PER_MS
        if end_ms - start_ms >= STUTTER_MIN_MS:
            self.ports[self.fxs[event.channel]].tones.append({"tone": STUTTER, "start_ms": start_ms, "end_ms": end_ms})

    def poll_queue_log(self) -> None:
        """Reads the queue_log lines the ACD wrote since the last poll (the file appears with the
        first queue; it is flushed here, on the loop's thread, which is the one that writes it)."""
        writer = self.app.queue_log
        if writer is None:
            return
        if self._queue_log_file is None:
            self._queue_log_file = open(writer.name, "rb")  # noqa: SIM115 (closed by close())
        if not writer.closed:
            writer.flush()
        *lines, self._queue_log_rest = (self._queue_log_rest + self._queue_log_file.read()).split(b"\n")
        for raw in lines:  # whole lines only: the rest is read again with what follows it
            line = raw.decode("utf-8")
            if not line.strip():
                continue
            record = parse_line(line)
            names = DATA_FIELDS.get(record.event, ())
            self.queue_log.append({
                "ms": self.now_ms, "time": record.time, "callid": record.call_id, "queue": record.queue,
                "agent": record.agent, "event": record.event, "data": list(record.data),
                "fields": {name: value for name, value in zip(names, record.data, strict=False) if name},
            })

    def close(self) -> None:
        if self._queue_log_file is not None:
            self._queue_log_file.close()
            self._queue_log_file = None

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
