"""The one place where the call engine is wired: switch, detectors, players, mixer, media loop.

``linebox run`` (:mod:`linebox.appliance`), the scenario runner (through the appliance) and
every benchmark (``linebox bench engine`` and ``acd-engine``) build their engine here, so what
is measured and what is tested is what runs on the box. The caller brings the hardware (an
``AudioDevice`` and one line card object, the same for the switch and the loop), a
configuration snapshot, the ports' kinds and the wall time of tick 0; services (the ACD,
voicemail) are attached to the returned engine by the caller.

Live configuration changes (:meth:`Engine.config_stored`, a subscriber of the configuration
store): the switch takes every snapshot; the parts built from the zone and the caller ID
standard — the tone plan and the detectors that follow it (call progress, caller ID
receiver) — and the set of lines with an echo canceller are rebuilt when a snapshot changes
them; a line's pre-dial hold (``lines[].pre_dial_hold_ms``) is sent to the line card
(``LineCard.set_pre_dial_hold``). The new parts are built on the storing thread (tens of ms) and swapped in on the media
loop's thread between two ticks (``loop.submit``); calls in progress keep going, tones
already playing finish with the old plan. What needs a restart is listed in
:data:`RESTART_NEEDED` (docs/configuration.md, "Live changes").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from drivers import DriverError
from drivers.audio import AudioDevice
from drivers.logs import EventLogger
from dsp.toneplans import TonePlan, get_plan
from firmware.cdr import CallRecord
from firmware.config.model import Config
from firmware.engine.detectors import DetectorBank, echo_ports
from firmware.engine.features import ChangeExtension
from firmware.engine.flash import HoldMusic
from firmware.engine.loop import MediaLoop
from firmware.engine.switch import Switch
from firmware.engine.wallclock import WallClock
from firmware.media.mixer import Mixer
from firmware.media.players import PlayerBank
from linebox import LineboxError

# Settings read once at start, by the line card driver: the zone's line-card timing (hook,
# flash and pulse qualification, ring cadences, DAA impedance and ring threshold) is sent to
# the card when its session starts. A change is stored and logged (restart_needed) and applies
# at the next start; everything else in a snapshot applies at once.
RESTART_NEEDED = ("zone: the line card's timing (hook, flash, pulse and ring qualification, line impedance)",)


@dataclass(frozen=True)
class ZoneParts:
    """What the engine builds from a snapshot's zone and caller ID standard, and its echo lines."""

    zone: str
    caller_id_standard: str
    echo_ports: frozenset[int]

    @classmethod
    def of(cls, config: Config, port_is_fxs: Sequence[bool]) -> ZoneParts:
        return cls(str(config.zone), str(config.effective_caller_id_standard()),
                   echo_ports(config, port_is_fxs))


@dataclass
class Engine:
    """The wired engine (module docstring). ``loop.step()`` runs one tick."""

    switch: Switch
    detectors: DetectorBank
    players: PlayerBank
    mixer: Mixer
    loop: MediaLoop
    port_is_fxs: tuple[bool, ...]
    built: ZoneParts  # what the engine runs with (or will, once the last submitted change is applied)
    log: EventLogger
    _lock: threading.Lock
    # Line port -> its own pre-dial hold (``lines[].pre_dial_hold_ms``; absent: the zone's), as last sent.
    pre_dial_holds: dict[int, int] = field(default_factory=dict)

    @property
    def plan(self) -> TonePlan:
        return self.switch.plan

    def config_stored(self, config: Config) -> None:
        """A committed snapshot (a store subscriber, any thread): parts built here, applied on the loop.

        The lock keeps snapshots stored by two threads at once in one order, here and on the loop.
        """
        with self._lock:
            old, new = self.built, ZoneParts.of(config, self.port_is_fxs)
            self.built = new
            plan = get_plan(new.zone) if new.zone != old.zone else None
            change = self.detectors.prepare(
                plan, new.caller_id_standard if new.caller_id_standard != old.caller_id_standard else None,
                new.echo_ports if new.echo_ports != old.echo_ports else None)
            if new.zone != old.zone:
                self.log.warning("restart_needed", setting="zone", old=old.zone, new=new.zone,
                                 applies_now="tone plan, call-progress and caller ID detectors",
                                 at_next_start="line card timing")

            holds = pre_dial_holds(config)
            changed_holds = {port: holds.get(port) for port in set(holds) | set(self.pre_dial_holds)
                             if holds.get(port) != self.pre_dial_holds.get(port)}
            self.pre_dial_holds = holds

            def apply() -> None:
                self.switch.apply_config(config)
                self._send_pre_dial_holds(changed_holds)
                if plan is not None:
                    self.switch.control.plan = plan
                if not change.empty:
                    self.detectors.apply(change)
                    self.log.info("engine_rebuilt", zone=new.zone, caller_id_standard=new.caller_id_standard,
                                  echo_ports=",".join(str(port) for port in sorted(new.echo_ports)) or "none")

            self.loop.submit(apply)

    def _send_pre_dial_holds(self, holds: dict[int, int | None]) -> None:
        """A line's pre-dial hold changed live: the card has it from its next dial (None: the zone's again)."""
        send = getattr(self.loop.card, "set_pre_dial_hold", None)  # the line card driver; bench cards have none
        if send is None:
            return
        for port, ms in sorted(holds.items()):
            try:
                send(port, ms)
            except DriverError as exc:
                self.log.error("pre_dial_hold_not_sent", port=port, ms="zone" if ms is None else ms, error=str(exc))
                continue
            self.log.info("pre_dial_hold", port=port, ms="zone" if ms is None else ms)


def pre_dial_holds(config: Config) -> dict[int, int]:
    """Line port -> the pre-dial hold configured for it (``lines[].pre_dial_hold_ms``), lines that have one."""
    return {line.port: line.pre_dial_hold_ms for line in config.lines if line.pre_dial_hold_ms is not None}


def build_engine(
    config: Config,
    port_is_fxs: Sequence[bool],
    audio: AudioDevice,
    card,
    origin,
    record_call: Callable[[CallRecord], None] = lambda record: None,
    *,
    hold_music: HoldMusic | None = None,
    change_extension: ChangeExtension | None = None,
    sync_commands: bool = False,
    measure: Callable[[], float] = time.perf_counter,
    clock: WallClock | None = None,
    boot: int = 0,
) -> Engine:
    """The engine over ``audio`` and ``card`` (one object for the switch's commands and the loop's
    events), for the ports' kinds ``port_is_fxs`` and the snapshot ``config``; ``origin``: the
    wall time of tick 0; ``record_call``: where call records go; ``sync_commands``: the loop waits
    for the card to apply each tick's commands (the virtual board, for repeatable runs); ``clock``:
    the wall time of each tick (``wallclock.py``; ``origin + tick × 20 ms`` without one);
    ``boot``: this start's number, in every call record's uniqueid."""
    kinds = tuple(bool(fxs) for fxs in port_is_fxs)
    if audio.ports != len(kinds):
        raise LineboxError(f"audio device has {audio.ports} ports, the board {len(kinds)}")
    parts = ZoneParts.of(config, kinds)
    plan = get_plan(parts.zone)
    players = PlayerBank(len(kinds))
    mixer = Mixer(len(kinds), len(kinds))
    switch = Switch(config, list(kinds), plan, card, players, mixer, record_call, origin,
                    log=EventLogger("switch"), change_extension=change_extension, hold_music=hold_music,
                    clock=clock, boot=boot)
    detectors = DetectorBank(list(kinds), plan, parts.caller_id_standard, echo_on=parts.echo_ports)
    loop = MediaLoop(audio, card, switch, detectors, players, mixer, measure, sync_commands=sync_commands)
    return Engine(switch, detectors, players, mixer, loop, kinds, parts, EventLogger("engine"), threading.Lock(),
                  pre_dial_holds(config))
