"""The doctor's checks of the machine and its data (no line card needed).

- ``stores``: the database's ``PRAGMA integrity_check``, no schema newer than this firmware,
  no orphaned file or row (firmware/storage/health.py; files younger than a minute are work
  in progress of a running engine). A store the engine has not made yet (no database in the
  data folder, or no schema rows of that store: the engine never ran here) is not a failure:
  the detail names it "not created yet"; a store that exists and is damaged fails;
- ``disk_space``: the box's data against ``retention.disk_budget_mb`` (fail from 80 %) and
  at least :data:`MIN_FREE_MB` free on the card; the detail names the folders restores, resets
  and upgrades keep aside, with their size (firmware/storage/kept.py: outside the budget);
- ``clock_sync``: the system clock is synchronised (call records, schedules and the time in
  caller ID depend on it); the probe is passed in (linebox/doctor/clock.py).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from firmware.config.model import Retention
from firmware.storage import kept
from firmware.storage.backup import KNOWN_SCHEMAS
from firmware.storage.doctor_report import Check
from firmware.storage.health import find_orphans, integrity
from firmware.storage.retention import MB, measure
from linebox.doctor.clock import ClockProbe

MIN_FREE_MB = 64
IN_PROGRESS_S = 60.0


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def check_stores(db_path: Path, now: float) -> Check:
    if not db_path.parent.is_dir():
        return Check("stores", False, f"no data folder {db_path.parent}")
    if not db_path.exists():  # the engine never ran here: its first start makes the stores
        return Check("stores", True, f"not created yet (no database at {db_path}; the engine makes it at its first start)")
    verdict = integrity(db_path)
    if verdict != "ok":
        return Check("stores", False, f"integrity_check: {verdict}")
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        tables = _tables(conn)
        if not tables:  # an empty database file: nothing made yet
            return Check("stores", True, "not created yet (an empty database: the engine makes the stores at its first start)")
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
    missing = sorted(set(KNOWN_SCHEMAS) - set(schemas))
    later = f"; not created yet: {', '.join(missing)}" if missing else ""
    return Check("stores", True, "integrity ok, schemas " + ", ".join(f"{k} {v}" for k, v in sorted(schemas.items()))
                 + later)


def check_disk(db_path: Path, policy: Retention) -> Check:
    folder = db_path.parent if db_path.parent.is_dir() else Path(".")
    usage = measure(db_path, policy.disk_budget_mb)
    stats = os.statvfs(folder)
    free_mb = stats.f_bavail * stats.f_frsize / MB
    ok = bool(not usage.warning and free_mb >= MIN_FREE_MB)
    detail = usage.line() + f"; {free_mb:.0f} MB free on the card"
    if free_mb < MIN_FREE_MB:
        detail += f" (under {MIN_FREE_MB} MB)"
    detail += f"; {kept.summary(folder)}"  # outside the budget: what restores and resets keep aside
    return Check("disk_space", ok, detail)


def check_clock(probe: ClockProbe) -> Check:
    state = probe()
    extra = f" ({state.detail})" if state.detail else ""
    if state.synchronised is None:
        return Check("clock_sync", False, f"cannot tell whether the clock is synchronised{extra}")
    if state.synchronised:
        return Check("clock_sync", True, f"synchronised ({state.source}){extra}")
    return Check("clock_sync", False, f"not synchronised ({state.source}){extra}: is NTP "
                                      "(systemd-timesyncd) on and is a time server reachable?")
