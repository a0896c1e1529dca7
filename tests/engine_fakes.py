"""Fakes for the engine's fast tests: a stub line card, a silent audio device and a rig that
builds the real switch and media loop over them (no pty, no virtual board: milliseconds).

Events are fed as the line card would report them (``rig.event(OffHook(2))``), digits as
the detectors would (``rig.digits(2, "202")``), and ``rig.run(seconds)`` runs the loop on
the audio clock. The demo office: lines on ports 0-1, extensions 201-204 on ports 2-5.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

import numpy as np

from drivers.audio import TICK_SAMPLES
from drivers.ports import OffHook, OnHook, PortEvent
from dsp.toneplans import get_plan
from firmware.cdr import CallRecord
from firmware.config.demo import demo_config
from firmware.config.model import Config
from firmware.engine.detectors import DetectorBank
from firmware.engine.loop import MediaLoop
from firmware.engine.switch import Switch
from firmware.media.mixer import Mixer
from firmware.media.players import PlayerBank

ORIGIN = dt.datetime(2026, 11, 25, 15, 0, tzinfo=dt.UTC)
PORT_IS_FXS = [False, False, True, True, True, True]
TICKS_PER_S = 50


@dataclass
class StubCard:
    """The line card's command surface: commands are recorded, events handed out by ``poll``;
    the host-side hook state is what the last hook event said (as ``LineCard.off_hook``)."""

    ports: int = len(PORT_IS_FXS)
    commands: list[tuple] = field(default_factory=list)
    pending: list[PortEvent] = field(default_factory=list)
    hooks: dict[int, bool] = field(default_factory=dict)

    def ring(self, port: int, cadence_ms=None) -> None:
        self.commands.append(("ring", port))

    def stop_ring(self, port: int) -> None:
        self.commands.append(("stop_ring", port))

    def seize(self, port: int) -> None:
        self.commands.append(("seize", port))

    def release(self, port: int) -> None:
        self.commands.append(("release", port))

    def pulse_dial(self, port: int, digits: str) -> None:
        self.commands.append(("pulse_dial", port, digits))

    def off_hook(self, port: int) -> bool:
        return self.hooks.get(port, False)

    def poll(self) -> list[PortEvent]:
        events, self.pending = self.pending, []
        return events

    def wait_acked(self, timeout_s: float) -> bool:
        return True


class SilentAudio:
    ports = len(PORT_IS_FXS)

    def read_frame(self) -> np.ndarray:
        return np.zeros((self.ports, TICK_SAMPLES), dtype=np.int16)

    def write_frame(self, frame: np.ndarray) -> None:
        return None

    def close(self) -> None:
        return None


class Rig:
    """The real switch and media loop over a stub card and silent audio."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config or demo_config()
        self.card = StubCard()
        self.records: list[CallRecord] = []
        plan = get_plan(str(self.config.zone))
        self.players = PlayerBank(len(PORT_IS_FXS))
        self.mixer = Mixer(len(PORT_IS_FXS), len(PORT_IS_FXS))
        self.switch = Switch(self.config, PORT_IS_FXS, plan, self.card, self.players, self.mixer,
                             self.records.append, ORIGIN)
        detectors = DetectorBank(PORT_IS_FXS, plan, str(self.config.effective_caller_id_standard()))
        clock = itertools.count()
        self.loop = MediaLoop(SilentAudio(), self.card, self.switch, detectors, self.players, self.mixer,
                              lambda: next(clock) * 1e-6)

    def event(self, event: PortEvent) -> None:
        """The card reports ``event``; it is handled at the next tick."""
        if isinstance(event, (OffHook, OnHook)):
            self.card.hooks[event.port] = isinstance(event, OffHook)
        self.card.pending.append(event)
        self.loop.step()

    def digits(self, port: int, digits: str) -> None:
        for digit in digits:
            self.switch.on_digit(port, digit)
            self.loop.step()

    def run(self, seconds: float) -> None:
        self.loop.run_ticks(int(round(seconds * TICKS_PER_S)))

    def skip(self, seconds: float) -> None:
        """Lets ``seconds`` pass for the switch alone (events and timers; no audio, no detectors):
        for waits of many seconds in a test that hears nothing."""
        for _ in range(int(round(seconds * TICKS_PER_S))):
            self.switch.advance(self.loop.tick)
            for event in self.card.poll():
                self.switch.on_port_event(event)
            self.switch.on_tick(self.loop.tick)
            self.loop.tick += 1

    def state(self, port: int) -> str:
        return self.switch.snapshot()[port]["state"]

    def call_between(self, a: int, b: int) -> None:
        """Phone ``a`` calls the extension on ``b``, which answers: connected."""
        number = self.config.extension_on_port(b).number
        self.event(OffHook(a))
        self.digits(a, number)
        self.event(OffHook(b))
        assert self.state(a) == self.state(b) == "connected"
