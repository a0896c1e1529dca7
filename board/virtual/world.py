"""The simulated telephone world behind the virtual board's ports.

:class:`World` implements ``TelephoneWorld`` (``board/virtual/analog.py``): an analog phone
(:mod:`board.virtual.phones`) on every FXS port and an exchange line
(:mod:`board.virtual.pstn`) on every FXO port of the board definition, all in one
country zone. Once per 20 ms tick the card emulator hands it what the card drives (ring
voltage, polarity and open loop towards the phones, the hook switch towards the lines) and
what the host sent on each port; the world answers with hook states and ring voltage per
ms, polarity, line voltage, loop current, and what each port hears.

Scenario runners and tests script it: ``world.phone(2).offhook()``, ``.dial("123")``,
``world.line(0).ring(caller_id=CallerId("5551234"))``, ``.far_end_hangup()``; an action
runs from the next tick, or at a given tick with :meth:`World.at`. Time is the tick count
the card passes in; randomness (line noise) comes from the seeded
``numpy.random.Generator`` the world is built with. Faults by name: ``ring_without_callerid``,
``far_end_gone_silently``, ``line_dead`` (and ``line_restored``). ``make_world(board, zone, seed)``
builds one with the real signals of a zone (``board/virtual/signals.py``).

The exchange's DTMF receiver listens to all lines as one batch every tick, so digits the
box dials in DTMF reach the exchange (ITU-T Q.24 detector from ``dsp.dtmf``).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from itertools import count
from typing import Protocol

import numpy as np

from board import BoardError
from board.definitions import BoardDefinition
from board.virtual.analog import MS_PER_TICK, SAMPLES_PER_TICK, FxoDrive, FxsDrive, WorldTick
from board.virtual.phones import AnalogPhone, PulseTiming
from board.virtual.pstn import LineConfig, PstnLine, ZoneSignals
from board.virtual.signals import ExchangeDtmfReceiver, zone_signals

WORLD_FAULTS = ("ring_without_callerid", "far_end_gone_silently", "line_dead", "line_restored")


class DigitReceiver(Protocol):
    """Hears DTMF on the exchange lines: a block (lines, 160) in, (line index, digit) out."""

    def process(self, block: np.ndarray) -> list[tuple[int, str]]: ...


class World:
    """Phones on the FXS ports and exchange lines on the FXO ports of ``board``."""

    def __init__(
        self,
        board: BoardDefinition,
        signals: ZoneSignals,
        rng: np.random.Generator,
        digit_receiver: DigitReceiver | None = None,
        line_configs: Mapping[int, LineConfig] | None = None,
        pulse: PulseTiming | None = None,
        log_seconds: float = 60.0,
    ) -> None:
        self.board = board
        self.zone = signals.zone
        self.rng = rng
        self.n_ports = board.n_ports
        self.fxs_ports = board.fxs_ports
        self.fxo_ports = board.fxo_ports
        line_configs = dict(line_configs or {})
        for port in line_configs:
            if port not in self.fxo_ports:
                raise BoardError(f"line config for port {port}: not an FXO port of board {board.name}")
        self._phones = {p: AnalogPhone(p, pulse=pulse, log_seconds=log_seconds) for p in self.fxs_ports}
        self._lines = {
            p: PstnLine(p, signals, rng, config=line_configs.get(p), log_seconds=log_seconds) for p in self.fxo_ports
        }
        self._receiver = digit_receiver
        self._schedule: list[tuple[int, int, Callable[[], None]]] = []
        self._order = count()
        self.tick = -1  # the last tick advanced

    # -- scripting -------------------------------------------------------------------

    def phone(self, port: int) -> AnalogPhone:
        if port not in self._phones:
            raise BoardError(f"port {port} has no phone: FXS ports of board {self.board.name} are {list(self.fxs_ports)}")
        return self._phones[port]

    def line(self, port: int) -> PstnLine:
        if port not in self._lines:
            raise BoardError(f"port {port} has no exchange line: FXO ports of board {self.board.name} are {list(self.fxo_ports)}")
        return self._lines[port]

    def heard(self, port: int, since_tick: int | None = None, last_ms: int | None = None) -> np.ndarray:
        """What the host sent on ``port`` (int16), whether a phone or a line is behind it."""
        party = self._phones.get(port) or self._lines.get(port)
        if party is None:
            raise BoardError(f"port {port} does not exist on board {self.board.name} (ports 0-{self.n_ports - 1})")
        return party.heard(since_tick=since_tick, last_ms=last_ms)

    @property
    def phones(self) -> tuple[AnalogPhone, ...]:
        return tuple(self._phones.values())

    @property
    def lines(self) -> tuple[PstnLine, ...]:
        return tuple(self._lines.values())

    def at(self, tick: int, action: Callable[[], None]) -> None:
        """Runs ``action`` at the start of ``tick`` (before that tick's audio and hook states)."""
        if tick <= self.tick:
            raise BoardError(f"tick {tick} is in the past (the world is at tick {self.tick})")
        heapq.heappush(self._schedule, (tick, next(self._order), action))

    def after_ms(self, ms: int, action: Callable[[], None]) -> None:
        """Runs ``action`` at the start of the first tick at least ``ms`` from the next one."""
        self.at(self.tick + 1 + -(-ms // MS_PER_TICK), action)

    def inject(self, fault: str, port: int) -> None:
        """A named fault on an exchange line (see ``WORLD_FAULTS``)."""
        line = self.line(port)
        if fault == "ring_without_callerid":
            line.omit_next_callerid()
        elif fault == "far_end_gone_silently":
            line.far_end_gone_silently()
        elif fault == "line_dead":
            line.set_voltage("absent")
        elif fault == "line_restored":
            line.set_voltage("present")
        else:
            raise BoardError(f"unknown world fault {fault!r} (known: {', '.join(WORLD_FAULTS)})")

    # -- the tick --------------------------------------------------------------------

    def advance(
        self, tick: int, fxs: Sequence[FxsDrive], fxo: Sequence[FxoDrive], audio_to_lines: np.ndarray
    ) -> WorldTick:
        if tick <= self.tick:
            raise BoardError(f"tick {tick} does not follow tick {self.tick}")
        if len(fxs) != len(self.fxs_ports) or len(fxo) != len(self.fxo_ports):
            raise BoardError(
                f"world needs {len(self.fxs_ports)} FXS and {len(self.fxo_ports)} FXO drives, got {len(fxs)} and {len(fxo)}"
            )
        audio_to_lines = np.asarray(audio_to_lines)
        if audio_to_lines.shape != (self.n_ports, SAMPLES_PER_TICK) or audio_to_lines.dtype != np.int16:
            raise BoardError(
                f"audio_to_lines must be int16 shaped ({self.n_ports}, {SAMPLES_PER_TICK}), "
                f"got {audio_to_lines.dtype} {audio_to_lines.shape}"
            )
        self.tick = tick
        for line in self._lines.values():
            line.begin_tick(tick)
        while self._schedule and self._schedule[0][0] <= tick:
            _, _, action = heapq.heappop(self._schedule)
            action()

        n_fxs, n_fxo = len(self.fxs_ports), len(self.fxo_ports)
        out = WorldTick(
            fxs_offhook_ms=np.zeros((n_fxs, MS_PER_TICK), dtype=bool),
            fxo_ring_ms=np.zeros((n_fxo, MS_PER_TICK), dtype=bool),
            fxo_polarity=np.ones(n_fxo, dtype=np.int8),
            fxo_line_volts=np.zeros(n_fxo),
            fxo_loop_ma=np.zeros(n_fxo),
            audio_from_lines=np.zeros((self.n_ports, SAMPLES_PER_TICK), dtype=np.int16),
        )
        for i, port in enumerate(self.fxs_ports):
            offhook_ms, audio = self._phones[port].step(tick, fxs[i], audio_to_lines[port])
            out.fxs_offhook_ms[i] = offhook_ms
            out.audio_from_lines[port] = audio

        digits: dict[int, str] = {}
        if self._receiver is not None and n_fxo:
            for index, digit in self._receiver.process(audio_to_lines[list(self.fxo_ports)]):
                digits[index] = digits.get(index, "") + digit
        for i, port in enumerate(self.fxo_ports):
            result = self._lines[port].step(tick, fxo[i].offhook_ms, audio_to_lines[port], digits.get(i, ""))
            out.fxo_ring_ms[i] = result.ring_ms
            out.fxo_polarity[i] = result.polarity
            out.fxo_line_volts[i] = result.volts
            out.fxo_loop_ma[i] = result.loop_ma
            out.audio_from_lines[port] = result.audio
        return out



def make_world(
    board: BoardDefinition,
    zone: str,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
    callerid_standard: str | None = None,
    **options: object,
) -> World:
    """A world with the real exchange signals of ``zone`` and a DTMF receiver on its lines."""
    if rng is None:
        if seed is None:
            raise BoardError("make_world needs a seed or a numpy Generator (the world is deterministic)")
        rng = np.random.default_rng(seed)
    receiver = ExchangeDtmfReceiver(len(board.fxo_ports)) if board.fxo_ports else None
    return World(board, zone_signals(zone, callerid_standard), rng, digit_receiver=receiver, **options)
