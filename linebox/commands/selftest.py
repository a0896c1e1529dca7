"""``linebox selftest [--json]``: can the box do its job? One check per part, each pass or fail.

On the virtual board the self-test starts its own board (a card emulator and a telephone
world, unpaced, seeded), as ``linebox run --board virtual`` does, so it can run beside a
running engine. Checks, in order:

- ``board_link``: the line card's link comes up (handshake, protocol version, port map)
  within :data:`LINK_TICKS` ticks; the detail names the card, firmware and protocol;
- ``audio_fxs<N>``, each FXS port both ways: the box sends a :data:`TEST_TONE_HZ` tone at
  :data:`TEST_LEVEL_DBM0` and the phone (off hook) must hear it, then the phone sends it and
  the box must receive it; pass when the received level is within :data:`LEVEL_TOLERANCE_DB`
  and at least :data:`TONE_PURITY` of the power is at the tone's frequency;
- ``dial_tone_fxo<N>``, each exchange line: seized, the line's dial tone (the zone's: US
  350 + 440 Hz, ANSI T1.401) must reach the box;
- ``stores``: ``PRAGMA integrity_check`` of the database, no schema newer than this firmware,
  no orphaned file or row (firmware/storage/health.py; files younger than a minute are work
  in progress of a running engine);
- ``disk_space``: the box's data against ``retention.disk_budget_mb`` (fail from 80 %) and
  at least :data:`MIN_FREE_MB` free on the card.

``--json`` prints ``{"ok": …, "checks": [{"name", "ok", "detail"}]}``; exit status 0 only when
every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from board.definitions import load_board
from board.virtual.board import VirtualBoard
from board.virtual.world import make_world
from drivers.audio import TICK_SAMPLES
from drivers.link import IN_SERVICE
from drivers.logs import configure_logging
from drivers.ports import LineCard, open_line_card
from dsp import SAMPLE_RATE
from dsp.levels import dbm0_to_peak, signal_dbm0
from firmware import FirmwareError
from firmware.config.model import Retention
from firmware.config.store import ConfigStore
from firmware.storage.backup import KNOWN_SCHEMAS
from firmware.storage.health import find_orphans, integrity
from firmware.storage.retention import MB, measure
from linebox import LineboxError
from linebox.storage import board_ports, resolve_db_path

LINK_TICKS = 500  # 10 s of audio: the link's handshake takes a few ticks; its retries take seconds
TEST_TONE_HZ = 1004.0  # the usual test-tone frequency: not a submultiple of 8000 Hz, so every PCM phase is met
TEST_LEVEL_DBM0 = -10.0
TONE_TICKS = 25  # 500 ms; the first 200 ms are left out (the path's delay and start-up)
SETTLE_SAMPLES = 1600
LEVEL_TOLERANCE_DB = 1.0  # this box's limit for a digital loop through the codec path
TONE_PURITY = 0.9  # share of the received power at the test frequency
DIAL_TONE_HZ = {"us": (350.0, 440.0)}  # ANSI T1.401 precise dial tone; other zones: energy only
DIAL_TONE_TICKS = 75  # 1.5 s after seizing: the exchange's dial tone is steady by then
MIN_DIAL_TONE_DBM0 = -30.0
MIN_FREE_MB = 64
IN_PROGRESS_S = 60.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("selftest", help="check the board link, audio paths, stores and disk space")
    parser.add_argument("--board", default="virtual", help="board definition (only 'virtual' starts its own board)")
    parser.add_argument("--db", default=None, help="database path (default: $LINEBOX_DB or var/linebox.db)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the virtual board's world")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.set_defaults(handler=run)


def _bin_share(samples: np.ndarray, hz: float) -> float:
    """Share of the signal's power at ``hz`` (a single-bin DFT on a window of whole cycles, or nearly)."""
    n = np.arange(samples.size)
    phasor = np.exp(-2j * np.pi * hz * n / SAMPLE_RATE)
    at = 2.0 * abs(np.dot(samples, phasor)) ** 2 / samples.size
    total = float(np.dot(samples, samples))
    return at / total if total > 0 else 0.0


def tone_check(name: str, received: np.ndarray) -> Check:
    samples = received[SETTLE_SAMPLES:].astype(np.float64)
    level = float(signal_dbm0(samples))
    share = _bin_share(samples, TEST_TONE_HZ)
    ok = bool(abs(level - TEST_LEVEL_DBM0) <= LEVEL_TOLERANCE_DB and share >= TONE_PURITY)
    return Check(name, ok, f"{level:.2f} dBm0 (sent {TEST_LEVEL_DBM0:.0f}), {100 * share:.0f} % at "
                           f"{TEST_TONE_HZ:.0f} Hz")


class Rig:
    """The virtual board and its line card, stepped one tick at a time by the checks."""

    def __init__(self, seed: int, board: str = "virtual") -> None:
        self.definition = load_board(board)
        self.zone = "us"
        self.world = make_world(self.definition, self.zone, rng=np.random.default_rng(seed))
        self.board = VirtualBoard(self.definition, self.zone, world=self.world, paced=False, seed=seed)
        self.kinds = [str(port.kind) for port in self.definition.ports]
        self.card: LineCard = open_line_card(self.board.serial_url, self.kinds, self.zone,
                                             card_model=self.definition.card.model, clock=self.board.host_clock)
        self.board.attach_host(self.card.link)

    def step(self, out: np.ndarray | None = None) -> np.ndarray:
        frame = self.board.read_frame()
        self.card.poll()
        self.board.write_frame(out if out is not None else np.zeros((self.board.ports, TICK_SAMPLES), np.int16))
        return frame

    def close(self) -> None:
        self.card.close()
        self.board.close()


def check_link(rig: Rig) -> Check:
    for tick in range(LINK_TICKS):
        if rig.card.link.state in IN_SERVICE and rig.card.link.identity is not None:
            identity = rig.card.link.identity
            return Check("board_link", True, f"up after {tick} ticks: {identity.model} firmware "
                         f"{'.'.join(map(str, identity.firmware))} protocol {'.'.join(map(str, identity.protocol))}, "
                         f"ports {','.join(identity.port_types)}")
        rig.step()
    link = rig.card.link
    why = f" ({link.refusal})" if link.refusal else ""
    return Check("board_link", False, f"link {link.state.value}{why} after {LINK_TICKS} ticks: "
                                      "is the line card connected and powered?")


def check_fxs(rig: Rig, port: int) -> list[Check]:
    tone = dbm0_to_peak(TEST_LEVEL_DBM0) * np.sin(2 * np.pi * TEST_TONE_HZ * np.arange(TONE_TICKS * TICK_SAMPLES)
                                                  / SAMPLE_RATE)
    phone = rig.world.phone(port)
    phone.offhook()
    for index in range(TONE_TICKS):
        out = np.zeros((rig.board.ports, TICK_SAMPLES), np.int16)
        out[port] = np.round(tone[index * TICK_SAMPLES:(index + 1) * TICK_SAMPLES]).astype(np.int16)
        rig.step(out)
    to_phone = tone_check(f"audio_fxs{port}_out", rig.world.heard(port, last_ms=TONE_TICKS * 20))
    phone.say(np.concatenate([tone, tone]))  # longer than the window: the path's delay is not measured here
    received = np.concatenate([rig.step()[port] for _ in range(TONE_TICKS)])
    from_phone = tone_check(f"audio_fxs{port}_in", received)
    phone.stop_talking()
    phone.hangup()
    for _ in range(5):
        rig.step()
    return [to_phone, from_phone]


def check_fxo(rig: Rig, port: int) -> Check:
    rig.card.seize(port)
    received = np.concatenate([rig.step()[port] for _ in range(DIAL_TONE_TICKS)])[-TONE_TICKS * TICK_SAMPLES:]
    rig.card.release(port)
    for _ in range(5):
        rig.step()
    samples = received.astype(np.float64)
    level = float(signal_dbm0(samples)) if samples.any() else float("-inf")
    pair = DIAL_TONE_HZ.get(rig.zone)
    share = sum(_bin_share(samples, hz) for hz in pair) if pair else 1.0
    ok = bool(level >= MIN_DIAL_TONE_DBM0 and share >= TONE_PURITY)
    return Check(f"dial_tone_fxo{port}", ok, f"{level:.1f} dBm0, {100 * share:.0f} % at "
                 f"{'+'.join(f'{hz:.0f}' for hz in pair or ())} Hz" + ("" if ok else ": no dial tone on the line"))


def check_stores(db_path: Path, now: float) -> Check:
    if not db_path.is_file():
        return Check("stores", False, f"no database at {db_path}")
    verdict = integrity(db_path)
    if verdict != "ok":
        return Check("stores", False, f"integrity_check: {verdict}")
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        schemas = dict(conn.execute("SELECT component, MAX(version) FROM schema_version GROUP BY component"))
    except sqlite3.DatabaseError as exc:
        return Check("stores", False, f"no schema versions: {exc}")
    finally:
        conn.close()
    newer = [f"{name} {version} > {KNOWN_SCHEMAS[name]}" for name, version in schemas.items()
             if name in KNOWN_SCHEMAS and version > KNOWN_SCHEMAS[name]]
    if newer:
        return Check("stores", False, f"schema newer than this firmware: {', '.join(newer)}")
    orphans = find_orphans(db_path, since=now - IN_PROGRESS_S)
    if orphans:
        return Check("stores", False, f"{len(orphans)} orphan(s), first {orphans[0].kind} {orphans[0].what}: "
                                      "restart the engine to clean up")
    return Check("stores", True, "integrity ok, schemas " + ", ".join(f"{k} {v}" for k, v in sorted(schemas.items())))


def check_disk(db_path: Path, policy: Retention) -> Check:
    folder = db_path.parent if db_path.parent.is_dir() else Path(".")
    usage = measure(db_path, policy.disk_budget_mb)
    stats = os.statvfs(folder)
    free_mb = stats.f_bavail * stats.f_frsize / MB
    ok = bool(not usage.warning and free_mb >= MIN_FREE_MB)
    detail = usage.line() + f"; {free_mb:.0f} MB free on the card"
    if free_mb < MIN_FREE_MB:
        detail += f" (under {MIN_FREE_MB} MB)"
    return Check("disk_space", ok, detail)


def _policy(db_path: Path) -> Retention:
    if not db_path.is_file():
        return Retention()
    store = ConfigStore(db_path, boards=board_ports)
    try:
        return Retention() if store.is_empty() else store.load().retention
    finally:
        store.close()


def selftest(db_path: Path, seed: int = 1, now: float | None = None,
             before: Callable[[Rig], None] | None = None) -> list[Check]:
    """Every check (see the module). ``before``: called with the rig first (tests inject faults)."""
    rig = Rig(seed)
    checks: list[Check] = []
    try:
        if before is not None:
            before(rig)
        link = check_link(rig)
        checks.append(link)
        if link.ok:
            for port, kind in enumerate(rig.kinds):
                if kind == "fxs":
                    checks += check_fxs(rig, port)
            checks += [check_fxo(rig, port) for port, kind in enumerate(rig.kinds) if kind == "fxo"]
    finally:
        rig.close()
    checks.append(check_stores(db_path, time.time() if now is None else now))
    try:
        checks.append(check_disk(db_path, _policy(db_path)))
    except FirmwareError as exc:
        checks.append(Check("disk_space", False, f"cannot read the retention settings: {exc}"))
    return checks


def run(args: argparse.Namespace) -> int:
    if args.board != "virtual":
        raise LineboxError(f"selftest --board {args.board}: only the virtual board can be tested beside the engine "
                           "(on hardware the engine owns the line card and the codec)")
    configure_logging(sys.stderr, logging.ERROR)  # the link's start-up warnings are expected; errors show
    checks = selftest(resolve_db_path(args.db), args.seed)
    ok = all(check.ok for check in checks)
    if args.json:
        print(json.dumps({"ok": ok, "checks": [asdict(check) for check in checks]}))
    else:
        for check in checks:
            print(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    return 0 if ok else 1
