"""``linebox bench durability --json``: the engine killed (SIGKILL) at random moments, restarted each time.

The engine under test is a real process (``linebox.bench.durability_engine``: the production
stack on the virtual board, unpaced, with traffic that writes call records, queue_log lines,
ACD statistics, voicemail messages and configuration changes). ``--kills`` times, at a moment
drawn from a seeded generator (mostly while calls flow, one in four during start-up:
migrations, recovery of open calls, the spool's replay), it is killed with SIGKILL and
started again. Measured:

- ``rows_lost``: rows seen committed just before a kill (read by this process on its own
  connection: call records, open calls, voicemail messages, ACD interval rows, the
  configuration's revision, complete queue_log lines) that are missing once the engine is
  answering again (an open call counts as kept when it became a call record);
- ``integrity``: SQLite's ``PRAGMA integrity_check`` after every restart (``ok`` or the first
  complaint);
- ``orphans``: files without rows, rows without files, temporary files, spooled records and
  torn queue_log lines still there once the engine answers again (start-up clean-up missed them);
- ``stuck_calls``: open calls of an earlier start neither recorded nor closed after a restart;
- ``restart_*_s``: from the process start to the first call it answers (the first ``route`` log
  line: both lines ring at the first tick, and the box answers after the caller ID, about 2.5 s
  of audio time in). The modules' compiled code is kept between starts (``.pycache`` in the
  data folder), as an installed release has it.

A SIGKILL loses what the process holds, not what the kernel holds: this proves the software's
half (what is committed stays, start-up repairs what a cut leaves), not the SD card's.
``synchronous=FULL`` and fsynced file writes are the other half (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware.storage.health import data_paths, find_orphans, integrity
from linebox import LineboxError
from linebox.bench.timing import print_json

READY_TIMEOUT_S = 90.0  # a loaded machine may take long to import numpy and open the stores
READY_EVENT = b" event=route "  # the switch answered an exchange line and routed its call
POLL_S = 0.02


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("durability", help="kill the engine (SIGKILL) at random moments: rows lost, "
                                                      "integrity, orphans, restart time")
    parser.add_argument("--json", action="store_true", help="one JSON object (the default output)")
    parser.add_argument("--kills", type=int, default=20, help="how many times to kill the engine (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the kill moments and of the traffic")
    parser.add_argument("--dir", default=None, help="data folder (default: a temporary folder, removed after)")
    parser.set_defaults(handler=run)


@dataclass(frozen=True)
class Committed:
    """What is committed in the data folder at one moment (read on a connection of our own)."""

    cdr: frozenset[str]  # uniqueids of call records
    open_calls: frozenset[str]  # uniqueids of calls in progress (cdr_open)
    voicemail: frozenset[int]  # message ids
    intervals: frozenset[tuple]  # ACD interval rows (kind, name, size, start)
    revision: int  # the configuration's revision
    queue_log: bytes  # complete lines

    def union(self, later: Committed) -> Committed:
        """Everything committed at either moment (``later`` read after this one)."""
        return Committed(self.cdr | later.cdr, self.open_calls | later.open_calls, self.voicemail | later.voicemail,
                         self.intervals | later.intervals, max(self.revision, later.revision),
                         later.queue_log if len(later.queue_log) >= len(self.queue_log) else self.queue_log)

    def rows(self) -> int:
        return (len(self.cdr) + len(self.open_calls) + len(self.voicemail) + len(self.intervals) + 1
                + self.queue_log.count(b"\n"))


def _query(conn: sqlite3.Connection, sql: str) -> list[tuple]:
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # the table is not made yet
        return []


def committed(db_path: Path) -> Committed:
    _, queue_log, _ = data_paths(db_path)
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        conn.execute("BEGIN")  # one read snapshot for every table
        cdr = frozenset(row[0] for row in _query(conn, "SELECT uniqueid FROM cdr"))
        open_calls = frozenset(row[0] for row in _query(conn, "SELECT uniqueid FROM cdr_open"))
        voicemail = frozenset(row[0] for row in _query(conn, "SELECT id FROM voicemail_messages"))
        intervals = frozenset(_query(conn, "SELECT kind, name, size_seconds, start FROM acd_intervals"))
        revision = _query(conn, "SELECT value FROM revision")
        conn.execute("COMMIT")
    finally:
        conn.close()
    lines = queue_log.read_bytes() if queue_log.exists() else b""
    return Committed(cdr, open_calls, voicemail, intervals, int(revision[0][0]) if revision else 0,
                     lines[:lines.rfind(b"\n") + 1])


def rows_lost(before: Committed, after: Committed) -> dict[str, int]:
    """Per kind, rows of ``before`` that ``after`` lacks (an open call may have become a record)."""
    kept_lines = after.queue_log.startswith(before.queue_log)
    return {
        "cdr": len(before.cdr - after.cdr),
        "open_calls": len(before.open_calls - after.cdr - after.open_calls),
        "voicemail": len(before.voicemail - after.voicemail),
        "acd_intervals": len(before.intervals - after.intervals),
        "config_revision": int(after.revision < before.revision),
        "queue_log": 0 if kept_lines else before.queue_log.count(b"\n"),
    }


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (the value at rank ceil(fraction × n))."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class EngineProcess:
    """One start of the engine under test, its output in ``<folder>/engine-<n>.log``."""

    def __init__(self, folder: Path, db_path: Path, seed: int, number: int) -> None:
        self.log_path = folder / f"engine-{number}.log"
        self.ready_cpu_s: float | None = None
        # Compiled modules kept between starts, as an installed release has them (pip and
        # board/install.sh compile every module): without them each restart compiles ~250
        # source files again, about a third of the start-up CPU, which the appliance never pays.
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(Path(__file__).resolve().parents[2]), PYTHONPYCACHEPREFIX=str(folder / ".pycache"))
        with self.log_path.open("wb") as out:
            self.started = time.monotonic()
            self.wall_started = time.time()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "linebox.bench.durability_engine", "--db", str(db_path), "--seed", str(seed)],
                cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT)

    def cpu_seconds(self) -> float | None:
        """CPU time the process has used so far (Linux /proc: user + system), None elsewhere.
        Unlike the wall time it hardly depends on what else the machine runs."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (proc(5))

    def wait_ready(self) -> float:
        """Seconds from the start to the first answered call; LineboxError if it dies or times out.
        ``ready_cpu_s`` is then the CPU time the process used to get there."""
        while True:
            if READY_EVENT in self.log_path.read_bytes():
                self.ready_cpu_s = self.cpu_seconds()
                return time.monotonic() - self.started
            if self.process.poll() is not None:
                raise LineboxError(f"the engine exited ({self.process.returncode}) before answering a call: "
                                   f"{self._tail()}")
            if time.monotonic() - self.started > READY_TIMEOUT_S:
                self.kill()
                raise LineboxError(f"the engine answered no call within {READY_TIMEOUT_S:.0f} s: {self._tail()}")
            time.sleep(POLL_S)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=READY_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()
        return int(self.process.returncode)

    def _tail(self) -> str:
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return lines[-1] if lines else "(no output)"


@dataclass
class Tally:
    kills: int = 0
    kills_during_start: int = 0
    rows_checked: int = 0
    queue_log_lines_checked: int = 0  # of rows_checked: queue_log lines (fsynced by their writer)
    rows_lost: int = 0
    integrity: str = "ok"
    orphans: int = 0
    stuck_calls: int = 0

    def check(self, db_path: Path, before: Committed, since: float) -> None:
        after = committed(db_path)
        self.rows_checked += before.rows()
        self.queue_log_lines_checked += before.queue_log.count(b"\n")
        self.rows_lost += sum(rows_lost(before, after).values())
        verdict = integrity(db_path)
        if verdict != "ok":
            self.integrity = verdict
        found = find_orphans(db_path, since=since)
        self.stuck_calls += sum(orphan.kind == "open_call" for orphan in found)
        self.orphans += sum(orphan.kind != "open_call" for orphan in found)


def run_kills(folder: Path, kills: int, seed: int, sleep: Callable[[float], None] = time.sleep) -> dict[str, object]:
    """Kills the engine ``kills`` times (see the module) in ``folder``; the report as a dict."""
    rng = random.Random(seed)
    db_path = folder / "linebox.db"
    tally = Tally()
    restarts: list[float] = []
    restart_cpu: list[float] = []
    engine = EngineProcess(folder, db_path, seed, 1)
    cold_start = engine.wait_ready()
    ready = True
    pending: Committed | None = None  # committed before the kills since the last check
    try:
        while tally.kills < kills:
            # Most kills while calls flow; one in four in the next start-up (migrations, recovery, replay).
            sleep(rng.uniform(0.2, 8.0) if ready else rng.uniform(0.05, 1.0))
            before = committed(db_path)
            pending = before if pending is None else pending.union(before)
            engine.kill()
            tally.kills += 1
            tally.kills_during_start += not ready
            engine = EngineProcess(folder, db_path, seed + tally.kills, tally.kills + 1)
            ready = tally.kills == kills or rng.random() >= 0.25
            if ready:
                restarts.append(engine.wait_ready())
                if engine.ready_cpu_s is not None:
                    restart_cpu.append(engine.ready_cpu_s)
                tally.check(db_path, pending, engine.wall_started)
                pending = None
    finally:
        status = engine.stop()
    if status != 0:
        raise LineboxError(f"the engine's last start did not stop cleanly ({status})")
    return {
        "kills": tally.kills,
        "kills_during_start": tally.kills_during_start,
        "rows_checked": tally.rows_checked,
        "queue_log_lines_checked": tally.queue_log_lines_checked,
        "rows_lost": tally.rows_lost,
        "integrity": tally.integrity,
        "orphans": tally.orphans,
        "stuck_calls": tally.stuck_calls,
        "cold_start_s": round(cold_start, 3),
        "restarts_measured": len(restarts),
        "restart_p50_s": round(percentile(restarts, 0.50), 3),
        "restart_p99_s": round(percentile(restarts, 0.99), 3),
        "restart_max_s": round(max(restarts), 3),
        # CPU seconds of the engine from its start to the first answered call: the load-independent figure.
        "restart_cpu_p50_s": round(percentile(restart_cpu, 0.50), 3) if restart_cpu else None,
        "restart_cpu_p99_s": round(percentile(restart_cpu, 0.99), 3) if restart_cpu else None,
        "load_average_1m": round(os.getloadavg()[0], 2),  # restart times are CPU-bound: read them with this
        "seed": seed,
    }


def run(args: argparse.Namespace) -> int:
    if not 1 <= args.kills <= 1000:
        raise LineboxError(f"--kills must be 1..1000, got {args.kills}")
    if args.dir is not None:
        folder = Path(args.dir)
        folder.mkdir(parents=True, exist_ok=True)
        print_json(run_kills(folder, args.kills, args.seed))
        return 0
    with tempfile.TemporaryDirectory(prefix="linebox-durability-") as name:
        print_json(run_kills(Path(name), args.kills, args.seed))
    return 0
