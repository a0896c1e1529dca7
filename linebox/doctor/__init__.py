"""``linebox doctor``: can the box do its job? One check per part, each pass or fail.

On the virtual board the doctor starts its own board (a card emulator and a telephone world,
unpaced, seeded), as ``linebox run --board virtual`` does, so it can run beside a running
engine. Checks, in order (each module says what it checks and against which limit):

1. the line card and its ports (:mod:`linebox.doctor.board_checks`): ``board_link``,
   ``port_<kind><N>``, ``audio_fxs<N>_out``/``_in``, ``dial_tone_fxo<N>``; with the link
   down only ``board_link`` (failing) is reported of them. On hardware (``--board rpi``) the
   engine owns the card and the codec: ``board_link`` and ``port_<kind><N>`` come from the
   running engine's console (:mod:`linebox.doctor.engine_checks`), no audio check is run;
2. the DSP self-checks (:mod:`linebox.doctor.dsp_checks`): ``dsp_dtmf``, ``dsp_caller_id``;
3. the machine and its data (:mod:`linebox.doctor.host_checks`): ``stores``, ``disk_space``,
   ``clock_sync``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from firmware import FirmwareError
from firmware.config.model import Config, Retention
from firmware.config.store import ConfigStore
from firmware.storage.doctor_report import Check
from linebox.doctor.board_checks import LINK_TICKS, board_checks
from linebox.doctor.clock import ClockProbe, system_clock
from linebox.doctor.dsp_checks import dsp_checks
from linebox.doctor.engine_checks import Ask, engine_board_checks
from linebox.doctor.host_checks import check_clock, check_disk, check_stores
from linebox.doctor.rig import Rig
from linebox.storage import board_ports

SKIPPABLE = ("clock_sync",)
"""Checks the upgrade's doctor run leaves out (linebox/releases.py): a release can neither
break nor mend the system clock, so a wrong clock must not roll an upgrade back."""


def _config(db_path: Path) -> tuple[Config | None, str]:
    """The stored configuration (None: none yet, or unreadable: the reason)."""
    if not db_path.is_file():
        return None, ""
    try:
        store = ConfigStore(db_path, boards=board_ports)
    except FirmwareError as exc:
        return None, str(exc)
    try:
        return (None, "") if store.is_empty() else (store.load(), "")
    except FirmwareError as exc:
        return None, str(exc)
    finally:
        store.close()


def doctor(db_path: Path, now: float, seed: int = 1, clock: ClockProbe = system_clock,
           before: Callable[[Rig], None] | None = None, skip: Collection[str] = (),
           link_ticks: int = LINK_TICKS, engine: Ask | None = None) -> list[Check]:
    """Every check (see the module). ``now``: epoch seconds (files younger than a minute are a
    running engine's work in progress); ``before``: called with the rig first (tests inject faults);
    ``engine``: on hardware, the running engine's console, asked instead of a virtual board of
    the doctor's own (linebox/doctor/engine_checks.py)."""
    config, config_error = _config(db_path)
    zone = str(config.zone) if config is not None else "us"
    if engine is not None:
        checks = engine_board_checks(engine)
    else:
        rig = Rig(seed, zone=zone)
        try:
            if before is not None:
                before(rig)
            checks = board_checks(rig, link_ticks)
        finally:
            rig.close()
    standard = str(config.effective_caller_id_standard()) if config is not None else "bell202"
    checks += dsp_checks(zone, standard)
    checks.append(check_stores(db_path, now))
    if config_error:
        checks.append(Check("disk_space", False, f"cannot read the retention settings: {config_error}"))
    else:
        checks.append(check_disk(db_path, config.retention if config is not None else Retention()))
    if "clock_sync" not in skip:
        checks.append(check_clock(clock))
    return checks
