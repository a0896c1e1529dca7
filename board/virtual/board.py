"""The virtual board: the line-card emulator, the telephone world and the audio clock.

:class:`VirtualBoard` stands in for the whole box hardware. The host talks to its line
card over a real pseudo-terminal (``serial_url``: the emulator's stable symlink, opened by
``drivers/link.py`` exactly like ``/dev/serial0``) and reads and writes audio through it as
through ALSA: it implements ``drivers.audio.AudioDevice``.

The board IS the clock. Each ``read_frame()`` is one 20 ms tick N (docs/protocol.md,
"Virtual board timing"):

1. ``card.drives(N)``: ringing, polarity and open loop towards the phones, the hook switch
   towards the lines, from the card's port state (commands acknowledged before tick N are
   in effect);
2. ``world.advance(N, ...)`` with the frame the host wrote last (silence if it wrote none);
3. ``card.step(N, world_tick)``: detection, events to the host;
4. ``card.wait_events_acked()``: the tick ends when the host has acknowledged them, so a
   run is deterministic whatever the thread scheduling;
5. the frame returned is what every port heard during tick N.

Unpaced, the link timers of both ends (retransmission, keepalive, handshake, reconnection,
``serial_unplug`` and ``stop_answering`` durations) run on the tick clock too, once the host
is attached (:meth:`VirtualBoard.attach_host`, its link built with :attr:`host_clock`).
Before step 1 the card's clock moves to tick N and its timers run, then the host's clock,
and after each of these and after step 3 the board waits until the wire is quiet (every
byte written read and handled by the other end, no host timer due: ``card.quiescent``). A
lost frame's retransmission therefore happens after the same number of ticks on every
run, and a seeded fault storm has the same outcome every time, however fast the machine.

Paced, the board sleeps to each 20 ms boundary (the only place in the project that reads
the wall clock, and only in this mode); a host more than ``late_ticks`` behind gets an
overrun like a real card's: the ticks it missed still happen in the world, their audio is
lost, and the xrun is counted. Unpaced, ticks run as fast as the CPU allows.

Faults by name (:meth:`inject`): the card's (``bad_crc``, ``drop_ack``, ``card_reset``,
``serial_unplug`` ...), the world's (``ring_without_callerid``, ``far_end_gone_silently``,
``line_dead``, ``line_restored``, on a port), and the board's own ``audio_xrun``: the next
read reports a capture xrun and skips one frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from board import BoardError
from board.definitions import BoardDefinition
from board.virtual.analog import MS_PER_TICK, SAMPLES_PER_TICK, TelephoneWorld
from board.virtual.card import FAULTS as CARD_FAULTS
from board.virtual.card import CardEmulator
from board.virtual.world import WORLD_FAULTS, make_world
from drivers import DriverError
from drivers.audio import XrunCounters, check_frame
from drivers.link import SerialLink
from drivers.logs import EventLogger

BOARD_FAULTS = ("audio_xrun",)
TICK_SECONDS = MS_PER_TICK / 1000.0


class VirtualBoard:
    """Card emulator + telephone world + clock; an ``AudioDevice`` for the engine."""

    def __init__(
        self,
        definition: BoardDefinition,
        zone: str,
        world: TelephoneWorld | None = None,
        paced: bool = False,
        seed: int = 0,
        ack_wait_s: float = 2.0,
        late_ticks: int = 4,
        card: CardEmulator | None = None,
        logger: EventLogger | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not definition.virtual:
            raise BoardError(f"board {definition.name} is hardware, not a virtual board")
        if late_ticks < 1 or ack_wait_s <= 0:
            raise BoardError("late_ticks must be >= 1 and ack_wait_s > 0")
        self.definition = definition
        self.zone = zone
        self.ports = definition.n_ports
        self.counters = XrunCounters()
        self.paced = paced
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self.world = world if world is not None else make_world(definition, zone, rng=self._rng)
        self._log = logger or EventLogger("board", board=definition.name)
        self._ack_wait_s = ack_wait_s
        self._late_ticks = late_ticks
        self._sleep = sleep
        self._clock = clock
        self._card_now_s = 0.0  # unpaced: the link clocks of the card and of the host, in tick time
        self._host_now_s = 0.0
        self._host: SerialLink | None = None
        self.card = card or CardEmulator(
            [p.kind.value for p in definition.ports], model=definition.card.model, rng=self._rng,
            clock=None if paced else self._card_clock,
        )
        self._to_lines = np.zeros((self.ports, SAMPLES_PER_TICK), dtype=np.int16)
        self._xruns: list[int] = []  # pending overruns: how many frames each one loses
        self._epoch: float | None = None  # paced mode: wall-clock time of tick 0's start
        self.tick = 0  # the next tick to run
        self.lockstep_timeouts = 0
        self._closed = False
        if card is None:
            self.card.start()

    @property
    def host_clock(self) -> Callable[[], float]:
        """The clock for the host's link (``SerialLink(clock=)``): the tick clock when unpaced."""
        return self._host_clock if self.card.ticked else time.monotonic

    def attach_host(self, link: SerialLink) -> None:
        """Lock-step with the host's link (built with :attr:`host_clock`): see the module docstring."""
        if self.card.ticked:
            self._host = link
            link.set_settle_probe(self._quiet)

    def _card_clock(self) -> float:
        return self._card_now_s

    def _host_clock(self) -> float:
        return self._host_now_s

    def _busy_with(self) -> str | None:
        return self.card.busy_with(self._host.io_status() if self._host is not None else None)

    def _quiet(self) -> bool:
        return self._busy_with() is None

    def _settle(self, tick: int) -> None:
        deadline = time.monotonic() + self._ack_wait_s
        while (busy := self._busy_with()) is not None:
            if time.monotonic() >= deadline:
                self.lockstep_timeouts += 1
                self._log.warning("lockstep_timeout", tick=tick, waited_s=self._ack_wait_s, busy=busy)
                return
            self.card.wait_change(0.001)

    @property
    def serial_url(self) -> str:
        """What the host opens: the card emulator's pty (a symlink that survives re-plugging)."""
        return self.card.path

    # -- AudioDevice ---------------------------------------------------------------------

    def read_frame(self) -> np.ndarray:
        """Runs one tick (or more after an xrun) and returns what each port heard, int16 (ports, 160)."""
        self._check_open()
        if self.paced:
            self._pace()
        while self._xruns:
            lost = self._xruns.pop(0)
            self.counters.xruns_capture += 1
            first = self.tick
            for _ in range(lost):
                self._run_tick()
            self.counters.recoveries += 1
            self._log.warning(
                "audio_xrun", direction="capture", kind="overrun", tick=first, frames_lost=lost, count=self.counters.xruns_capture
            )
        return self._run_tick()

    def write_frame(self, frame: np.ndarray) -> None:
        """What the host sends each port; heard by the world during the next tick."""
        self._check_open()
        self._to_lines = check_frame(frame, self.ports).copy()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.card.close()

    def __enter__(self) -> VirtualBoard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- faults --------------------------------------------------------------------------

    def inject(self, fault: str, port: int | None = None, **params: object) -> None:
        """A fault by name: the card's, the world's (on ``port``) or ``audio_xrun``."""
        if fault == "audio_xrun":
            self._xruns.extend([1] * int(params.get("count", 1)))  # type: ignore[call-overload]
        elif fault in WORLD_FAULTS:
            if port is None:
                raise BoardError(f"fault {fault} needs the port of an exchange line")
            inject = getattr(self.world, "inject", None)
            if inject is None:
                raise BoardError(f"this world has no fault {fault}")
            inject(fault, port)
        elif fault in CARD_FAULTS:
            self.card.inject(fault, **({"port": port} if port is not None else {}), **params)
        else:
            known = ", ".join(BOARD_FAULTS + WORLD_FAULTS + CARD_FAULTS)
            raise BoardError(f"unknown fault {fault!r} (known: {known})")

    # -- the tick ------------------------------------------------------------------------

    def _run_tick(self) -> np.ndarray:
        tick = self.tick
        if self.card.ticked:
            self._card_now_s = tick * TICK_SECONDS
            self.card.run_timers()
            if self._host is not None:
                self._settle(tick)
                self._host_now_s = tick * TICK_SECONDS
                self._settle(tick)
        fxs, fxo = self.card.drives(tick)
        world_tick = self.world.advance(tick, fxs, fxo, self._to_lines)
        self._to_lines = np.zeros_like(self._to_lines)
        self.card.step(tick, world_tick)
        if self._host is not None:
            self._settle(tick)
        elif not self.card.wait_events_acked(self._ack_wait_s):
            self.lockstep_timeouts += 1
            self._log.warning("lockstep_timeout", tick=tick, waited_s=self._ack_wait_s)
        self.tick = tick + 1
        return np.asarray(world_tick.audio_from_lines, dtype=np.int16)

    def _pace(self) -> None:
        """Sleeps until the end of the tick about to run; a host too late gets an overrun."""
        now = self._clock()
        if self._epoch is None:
            self._epoch = now - self.tick * TICK_SECONDS
        due = self._epoch + (self.tick + 1) * TICK_SECONDS
        if now < due:
            self._sleep(due - now)
            return
        behind = int(round((now - due) / TICK_SECONDS, 6))  # whole ticks late (rounding: float clock)
        if behind >= self._late_ticks:
            self._xruns.append(behind)  # ticks the host missed: they happen, their audio is lost

    def _check_open(self) -> None:
        if self._closed:
            raise DriverError("virtual board audio is closed")
