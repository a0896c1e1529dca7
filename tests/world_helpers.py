"""Helpers for the telephone-world tests: a stand-in card that drives the world directly.

:class:`Bench` advances a :class:`board.virtual.world.World` tick by tick without the card
emulator or the host: the test says what the card drives (ringing towards phones, the
box's hook switch on each line, audio towards each port) and the bench keeps every
``WorldTick`` for inspection, concatenated along time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from board.virtual.analog import MS_PER_TICK, SAMPLES_PER_TICK, FxoDrive, FxsDrive, WorldTick
from board.virtual.pstn import ZoneSignals
from board.virtual.world import World
from dsp.callerid import CallerId
from dsp.callerid_sequence import Segment
from dsp.levels import dbm0_to_peak

TONE_HZ = {"dial": 350.0, "ringback": 440.0, "busy": 480.0, "congestion": 620.0}


class SineTone:
    """A continuous sine, one per tone name: enough to tell the exchange's tones apart."""

    def __init__(self, hz: float, level_dbm0: float = -13.0) -> None:
        self.hz = hz
        self.peak = dbm0_to_peak(level_dbm0)
        self.n = 0

    def render(self, n_samples: int) -> np.ndarray:
        t = np.arange(self.n, self.n + n_samples) / 8000.0
        self.n += n_samples
        return self.peak * np.sin(2 * np.pi * self.hz * t)


def stub_signals(cadence_ms: tuple[int, ...] = (2000, 4000), segments: list[Segment] | None = None) -> ZoneSignals:
    """Exchange signals for world mechanics tests: sine tones, a given cadence and CID sequence."""

    def callerid(caller: CallerId, standard: str) -> list[Segment]:
        return list(segments or [])

    return ZoneSignals("us", tuple(cadence_ms), lambda name: SineTone(TONE_HZ[name]), callerid, "bell202")


@dataclass
class Bench:
    world: World
    box_offhook: dict[int, np.ndarray] = field(default_factory=dict)  # FXO port -> per-ms plan (bool)
    ringing: dict[int, np.ndarray] = field(default_factory=dict)  # FXS port -> per-ms ring plan (bool)
    polarity: dict[int, int] = field(default_factory=dict)
    loop_open: dict[int, bool] = field(default_factory=dict)
    audio_to: dict[int, np.ndarray] = field(default_factory=dict)  # port -> samples from the next tick on
    ticks: list[WorldTick] = field(default_factory=list)
    first_tick: int = 0
    _hook_state: dict[int, bool] = field(default_factory=dict)

    def seize(self, port: int, plan_ms: np.ndarray | None = None) -> None:
        """The box's hook switch on an FXO line: off hook from the next tick, or a per-ms plan."""
        self.box_offhook[port] = np.ones(1, dtype=bool) if plan_ms is None else np.asarray(plan_ms, dtype=bool)

    def release(self, port: int) -> None:
        self.box_offhook[port] = np.zeros(1, dtype=bool)

    def send(self, port: int, samples: np.ndarray) -> None:
        self.audio_to[port] = np.asarray(samples, dtype=np.int16)

    def run(self, n_ticks: int) -> None:
        world = self.world
        for _ in range(n_ticks):
            tick = world.tick + 1
            fxs = []
            for port in world.fxs_ports:
                plan = self.ringing.get(port)
                ringing = np.zeros(MS_PER_TICK, dtype=bool)
                if plan is not None:
                    ringing[:] = _take(plan, MS_PER_TICK, self.ringing, port)
                fxs.append(FxsDrive(ringing, self.polarity.get(port, 1), self.loop_open.get(port, False)))
            fxo = []
            for port in world.fxo_ports:
                plan = self.box_offhook.get(port)
                state = self._hook_state.get(port, False)
                if plan is None:
                    hook = np.full(MS_PER_TICK, state)
                else:
                    hook = _take(plan, MS_PER_TICK, self.box_offhook, port)
                self._hook_state[port] = bool(hook[-1])
                fxo.append(FxoDrive(hook))
            audio = np.zeros((world.n_ports, SAMPLES_PER_TICK), dtype=np.int16)
            for port, samples in list(self.audio_to.items()):
                piece = samples[:SAMPLES_PER_TICK]
                audio[port, : piece.size] = piece
                self.audio_to[port] = samples[SAMPLES_PER_TICK:]
            self.ticks.append(world.advance(tick, fxs, fxo, audio))

    # -- what the card saw, concatenated over the ticks run --------------------------

    def fxo_ring(self, index: int) -> np.ndarray:
        return np.concatenate([t.fxo_ring_ms[index] for t in self.ticks])

    def fxs_hook(self, index: int) -> np.ndarray:
        return np.concatenate([t.fxs_offhook_ms[index] for t in self.ticks])

    def heard_from(self, port: int) -> np.ndarray:
        return np.concatenate([t.audio_from_lines[port] for t in self.ticks])

    def per_tick(self, name: str, index: int) -> np.ndarray:
        return np.array([getattr(t, name)[index] for t in self.ticks])


def _take(plan: np.ndarray, n: int, store: dict, port: int) -> np.ndarray:
    """The next ``n`` values of a plan; its last value holds once it runs out."""
    out = np.empty(n, dtype=bool)
    k = min(n, plan.size)
    out[:k] = plan[:k]
    out[k:] = plan[-1]
    store[port] = plan[k:] if plan.size > n else plan[-1:]
    return out
