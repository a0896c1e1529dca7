"""A restore or a factory reset asked for while the engine runs: staged, then applied at its start.

The web admin runs beside the engine, which holds the database open; the data must not be
replaced under it (``linebox backup restore`` and ``linebox factory-reset`` refuse while it
runs). So the web admin *stages* the operation in the data folder and asks the engine to
restart (``engine restart``); ``linebox run`` applies it first thing at its next start, before
any store is opened, with the same code as the command line (:func:`backup.restore`,
:func:`reset.factory_reset`):

- ``pending-restore.tar``: an archive already verified whole (:func:`stage_restore` runs
  :func:`backup.verify` on it first: a damaged file is refused with one line and nothing is
  staged); at the start it is verified again and restored (what it replaces is kept in
  ``replaced-<n>/``), then removed;
- ``pending-factory-reset``: a marker; at the start the reset runs (the data are kept in
  ``factory-reset-<n>/`` with a backup archive) and the marker goes with the moved data. A
  reset wins over a restore staged with it: the reset drops the staged archive
  (:data:`~firmware.storage.reset.DROPPED`, with the web admin's uploads in progress), so
  the restore is cancelled, never applied over the reset box.

A restore that fails at the start (the file damaged since) is renamed ``pending-restore.failed.tar``
and the engine starts on the data it has: the failure is returned, for the log. The web admin's
own process, which also holds the database open, waits at its start until nothing is pending
(:func:`wait_until_applied`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from firmware import FirmwareError
from firmware.storage import backup
from firmware.storage.reset import PENDING_RESTORE, factory_reset

FAILED_RESTORE = "pending-restore.failed.tar"
PENDING_RESET = "pending-factory-reset"


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def pending(db_path: Path) -> str | None:
    """``"restore"``, ``"factory-reset"`` or None."""
    data = db_path.parent
    if (data / PENDING_RESET).exists():
        return "factory-reset"
    if (data / PENDING_RESTORE).exists():
        return "restore"
    return None


def check_archive(archive: Path, data: Path) -> backup.Manifest:
    """:func:`backup.verify` into a staging folder that is removed after: the whole file checked."""
    data.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".verify-", dir=data))
    try:
        return backup.verify(archive, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def stage_restore(archive: Path, db_path: Path) -> backup.Manifest:
    """Verifies ``archive`` whole, then moves it to ``pending-restore.tar`` (same file system:
    make it in the data folder). A damaged archive raises FirmwareError and stages nothing."""
    data = db_path.parent
    manifest = check_archive(archive, data)
    os.replace(archive, data / PENDING_RESTORE)
    _fsync_folder(data)
    return manifest


def stage_factory_reset(db_path: Path, asked: str) -> None:
    data = db_path.parent
    temporary = data / f".{PENDING_RESET}.tmp"
    with temporary.open("w", encoding="utf-8") as out:
        out.write(f"asked {asked}\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, data / PENDING_RESET)
    _fsync_folder(data)


def apply_pending(db_path: Path, created: str) -> str | None:
    """At the engine's start, before any store opens: what was done (one line), or None. A restore
    that fails leaves the data as they are and says so (the line starts ``restore failed``)."""
    data = db_path.parent
    if (data / PENDING_RESET).exists():
        kept = factory_reset(db_path, created)  # the marker moves into the kept folder with the rest
        return f"factory reset done; the former data and a backup archive are in {kept}"
    archive = data / PENDING_RESTORE
    if not archive.exists():
        return None
    try:
        manifest, kept = backup.restore(archive, db_path)
    except FirmwareError as exc:
        os.replace(archive, data / FAILED_RESTORE)
        return f"restore failed, the data are unchanged ({exc}); the file is kept as {data / FAILED_RESTORE}"
    archive.unlink()
    _fsync_folder(data)
    return (f"restored the backup made {manifest.created} ({len(manifest.entries)} files)"
            + (f"; the data it replaced are in {kept}" if kept is not None else ""))


def wait_until_applied(db_path: Path, timeout_s: float, sleep: Callable[[float], None] = time.sleep,
                       period_s: float = 0.5) -> bool:
    """True once nothing is pending (the engine applied it), False after ``timeout_s``."""
    waited = 0.0
    while pending(db_path) is not None:
        if waited >= timeout_s:
            return False
        sleep(period_s)
        waited += period_s
    return True
