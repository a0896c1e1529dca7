"""Shared by the line-card tests: a tiny scripted telephone world and a rig (emulated card on a real pty,
the production serial link and LineCard on top, driven tick by tick in lock-step).

The stand-in world only does what the card tests need: each phone's hook state and each
line's ring voltage follow scripts (functions of the ms), line voltage, polarity and loop
current are plain settable arrays. The real telephone world lives in board/virtual/world.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from board.virtual.analog import MS_PER_TICK, SAMPLES_PER_TICK, FxoDrive, FxsDrive, WorldTick
from board.virtual.card import CardEmulator
from drivers.link import IN_SERVICE, LinkConfig, SerialLink
from drivers.ports import LineCard

VIRTUAL_PORTS = ("fxo", "fxo", "fxs", "fxs", "fxs", "fxs")

# Generous enough for a loaded 2-core machine: a stall of a second must not look like a dead card.
STEADY = LinkConfig(ack_timeout_s=0.25, max_retries=5, keepalive_s=0.5, reconnect_min_s=0.02,
                    reconnect_max_s=0.2, idle_flush_s=0.02, read_timeout_s=0.01)
# For fault tests: a silent card is noticed in ack_timeout * (max_retries + 1) = 0.24 s.
FAST = LinkConfig(ack_timeout_s=0.06, max_retries=3, keepalive_s=0.1, reconnect_min_s=0.02,
                  reconnect_max_s=0.1, idle_flush_s=0.02, read_timeout_s=0.01)

Script = Callable[[np.ndarray], np.ndarray]


def never(ms: np.ndarray) -> np.ndarray:
    return np.zeros(ms.shape, dtype=bool)


def between(*spans: tuple[int, int]) -> Script:
    """True during any of the [start, end) ms spans."""

    def script(ms: np.ndarray) -> np.ndarray:
        out = np.zeros(ms.shape, dtype=bool)
        for start, end in spans:
            out |= (ms >= start) & (ms < end)
        return out

    return script


def pulses(start: int, count: int, break_ms: int = 60, make_ms: int = 40) -> list[tuple[int, int]]:
    """The on-hook breaks of one pulse-dialled digit starting at ``start``."""
    return [(start + k * (break_ms + make_ms), start + k * (break_ms + make_ms) + break_ms) for k in range(count)]


def off_hook_with_breaks(start: int, end: int, breaks: Sequence[tuple[int, int]]) -> Script:
    """Off hook from ``start`` to ``end`` except during ``breaks``."""
    up = between((start, end))
    down = between(*breaks)
    return lambda ms: up(ms) & ~down(ms)


def cadence(start: int, end: int, pattern: Sequence[int]) -> Script:
    """Ring voltage following on/off ``pattern`` from ``start`` until ``end``."""
    bounds = np.cumsum(pattern)

    def script(ms: np.ndarray) -> np.ndarray:
        phase = (ms - start) % int(bounds[-1])
        on = np.searchsorted(bounds, phase, side="right") % 2 == 0
        return on & (ms >= start) & (ms < end)

    return script


class StubWorld:
    """Implements ``TelephoneWorld`` from scripts; records every drive it received."""

    def __init__(self, port_types: Sequence[str]) -> None:
        self.n_ports = len(port_types)
        self.n_fxs = sum(kind == "fxs" for kind in port_types)
        self.n_fxo = self.n_ports - self.n_fxs
        self.hooks: list[Script] = [never] * self.n_fxs
        self.rings: list[Script] = [never] * self.n_fxo
        self.polarity = np.ones(self.n_fxo, dtype=np.int8)
        self.volts = np.full(self.n_fxo, 48.0)
        self.loop_ma = np.full(self.n_fxo, 30.0)  # when seized
        self.fxs_log: list[list[FxsDrive]] = []
        self.fxo_log: list[list[FxoDrive]] = []

    def advance(self, tick: int, fxs: Sequence[FxsDrive], fxo: Sequence[FxoDrive], audio_to_lines: np.ndarray) -> WorldTick:
        ms = np.arange(tick * MS_PER_TICK, (tick + 1) * MS_PER_TICK)
        self.fxs_log.append(list(fxs))
        self.fxo_log.append(list(fxo))
        seized = np.array([bool(drive.offhook_ms[-1]) for drive in fxo], dtype=bool)
        return WorldTick(
            fxs_offhook_ms=np.array([script(ms) for script in self.hooks], dtype=bool).reshape(self.n_fxs, MS_PER_TICK),
            fxo_ring_ms=np.array([script(ms) for script in self.rings], dtype=bool).reshape(self.n_fxo, MS_PER_TICK),
            fxo_polarity=self.polarity.copy(),
            fxo_line_volts=np.where(seized, 8.0, self.volts),
            fxo_loop_ma=np.where(seized, self.loop_ma, 0.0),
            audio_from_lines=np.zeros((self.n_ports, SAMPLES_PER_TICK), dtype=np.int16),
        )

    def fxo_hook(self, fxo_index: int, first_tick: int = 0) -> np.ndarray:
        """The hook switch of one FXO port per ms, from ``first_tick`` on."""
        return np.concatenate([drives[fxo_index].offhook_ms for drives in self.fxo_log[first_tick:]])

    def fxs_ringing(self, fxs_index: int, first_tick: int = 0) -> np.ndarray:
        return np.concatenate([drives[fxs_index].ringing_ms for drives in self.fxs_log[first_tick:]])


class Rig:
    """An emulated card on a pty, the production link and LineCard, and a StubWorld, in lock-step."""

    def __init__(self, port_types: Sequence[str] = VIRTUAL_PORTS, zone: str = "us", config: LinkConfig = STEADY,
                 expected_ports: Sequence[str] | None = None, wait_up: bool = True, expected_model: str | None = None,
                 connect: bool = True, hold_s: float | None = None, **card_options) -> None:
        card_options.setdefault("ack_timeout_s", config.ack_timeout_s)
        card_options.setdefault("max_retries", config.max_retries)
        self.card = CardEmulator(port_types, **card_options)
        self.card.start()
        types = tuple(expected_ports or port_types)
        self.link = SerialLink(self.card.path, types, config, expected_model=expected_model)
        self.line = LineCard(self.link, types, zone, hold_s=hold_s)
        self.world = StubWorld(port_types)
        self.tick = 0
        self.events: list = []
        if connect:
            self.connect(wait_up)

    def connect(self, wait_up: bool = True) -> None:
        """Starts the host link (``connect=False`` lets ticks run on a card nobody talks to yet)."""
        self.link.start()
        if wait_up:
            assert self.link.wait_state(IN_SERVICE, 10.0), self.link.state
            assert self.line.wait_acked(10.0)

    def run(self, ticks: int) -> list:
        """``ticks`` lock-step ticks; returns the port events they produced."""
        new = []
        for _ in range(ticks):
            fxs, fxo = self.card.drives(self.tick)
            world_tick = self.world.advance(self.tick, fxs, fxo, np.zeros((self.world.n_ports, SAMPLES_PER_TICK)))
            self.card.step(self.tick, world_tick)
            assert self.card.wait_events_acked(10.0)
            new += self.line.poll()
            self.line.wait_acked(10.0)
            self.tick += 1
        self.events += new
        return new

    def close(self) -> None:
        self.line.close()
        self.card.close()


class LogCapture(logging.Handler):
    """Collects ``linebox`` log lines as (event, fields) whatever the logging configuration."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[tuple[str, dict]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((str(record.msg), dict(getattr(record, "fields", None) or {})))

    def events(self, name: str) -> list[dict]:
        return [fields for event, fields in self.lines if event == name]

    def __enter__(self) -> LogCapture:
        root = logging.getLogger("linebox")
        self._old_level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        root = logging.getLogger("linebox")
        root.removeHandler(self)
        root.setLevel(self._old_level)


def wait_for(condition: Callable[[], object], timeout_s: float = 5.0) -> bool:
    """Polls ``condition`` until it holds (for things the link thread does in the background)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return bool(condition())
