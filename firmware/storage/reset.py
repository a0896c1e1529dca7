"""Factory reset: the data folder back to its first-boot state, the data kept aside.

``factory_reset(db_path)`` makes ``factory-reset-<n>/`` in the data folder, writes there a
verified backup archive of everything (``backup.tar``, recordings included: ``linebox backup
restore`` takes it back; a database too damaged to copy leaves ``backup-failed.txt`` saying
why instead, and the reset goes on: that is when a reset is needed most), then moves every other
entry of the data folder into it (one rename each: nothing copied). What is left is an empty data
folder, as on the first boot: the next start makes a new database with the default configuration,
and with no admin account the web admin shows its first-boot wizard and a new setup token.

Two entries are not data and are dropped instead of kept (:data:`DROPPED`): ``staging/``, the web
admin's uploads in progress (webadmin/staging.py: a contacts CSV awaiting its confirmation, the
pieces of a full backup being sent, up to 1 GiB; each belongs to a session the reset ends), and
``pending-restore.tar``, a restore staged for the engine's next start (firmware/storage/pending.py)
that the reset cancels: applied after it, it would undo the reset. Both are copies of files sent
from a browser. They are moved into the new folder with the rest (the data folder is clean at
once) and then removed from it.

Earlier reset folders, restore leftovers (``replaced-<n>``) and upgrade backups stay where they
are, except that only the newest :data:`~firmware.storage.kept.KEEP_ASIDE` reset folders are kept
(firmware/storage/kept.py): the oldest beyond them are removed once the new one is complete.

The engine must be stopped first (the caller checks): its open files would keep writing into
the moved database.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from firmware import FirmwareError
from firmware.storage import backup, kept

CONFIRMATION = "reset"
"""The word typed to confirm a factory reset (``linebox factory-reset``, the web admin's System page)."""

KEPT = re.compile(r"factory-reset-\d+|replaced-\d+|upgrade-backups")
"""Entries of the data folder a reset leaves in place (the box's own backups)."""

STAGING = "staging"
"""The web admin's uploads in progress (webadmin/staging.py's areas are folders under it)."""
PENDING_RESTORE = "pending-restore.tar"
"""A restore staged for the engine's next start (firmware/storage/pending.py)."""
DROPPED = (STAGING, PENDING_RESTORE)
"""Entries of the data folder a reset removes (see the module)."""


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def factory_reset(db_path: Path, created: str) -> Path:
    """Resets the data folder of ``db_path`` (see the module); the folder where the data are kept."""
    data = db_path.parent
    if not data.is_dir():
        raise FirmwareError(f"factory reset: no data folder {data}")
    folder = kept.make(data, "factory-reset")
    if db_path.is_file():  # an archive that `linebox backup restore` takes back
        try:
            backup.create(db_path, folder / "backup.tar", created, with_recordings=True)
        except FirmwareError as exc:  # a damaged database: the reset goes on, the moved files are the backup
            (folder / "backup-failed.txt").write_text(f"{exc}\n")
    moving = sorted(entry for entry in data.iterdir() if not KEPT.fullmatch(entry.name))  # with SQLite's -wal/-shm
    for entry in moving:
        os.replace(entry, folder / entry.name)
    _fsync_folder(folder)
    _fsync_folder(data)
    for name in DROPPED:  # a piece still being written when the reset ran: what is left stays in `folder`
        dropped = folder / name
        if dropped.is_dir() and not dropped.is_symlink():
            shutil.rmtree(dropped, ignore_errors=True)
        elif dropped.exists() or dropped.is_symlink():
            dropped.unlink(missing_ok=True)
    kept.prune(data, "factory-reset")
    return folder
