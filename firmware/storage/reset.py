"""Factory reset: the data folder back to its first-boot state, everything kept aside.

``factory_reset(db_path)`` makes ``factory-reset-<n>/`` in the data folder, writes there a
verified backup archive of everything (``backup.tar``, recordings included: ``linebox backup
restore`` takes it back; a database too damaged to copy leaves ``backup-failed.txt`` saying
why instead, and the reset goes on: that is when a reset is needed most), then moves every other entry of the data folder into it (one rename
each: nothing copied, nothing deleted). What is left is an empty data folder, as on the first
boot: the next start makes a new database with the default configuration, and with no admin
account the web admin shows its first-boot wizard and a new setup token. Earlier reset folders,
restore leftovers (``replaced-<n>``) and upgrade backups stay where they are.

The engine must be stopped first (the caller checks): its open files would keep writing into
the moved database.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from firmware import FirmwareError
from firmware.storage import backup

CONFIRMATION = "reset"
"""The word typed to confirm a factory reset (``linebox factory-reset``, the web admin's System page)."""

KEPT = re.compile(r"factory-reset-\d+|replaced-\d+|upgrade-backups")
"""Entries of the data folder a reset leaves in place (the box's own backups)."""


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def factory_reset(db_path: Path, created: str) -> Path:
    """Resets the data folder of ``db_path`` (see the module); the folder where all of it is kept."""
    data = db_path.parent
    if not data.is_dir():
        raise FirmwareError(f"factory reset: no data folder {data}")
    number = 1
    while (data / f"factory-reset-{number}").exists():
        number += 1
    kept = data / f"factory-reset-{number}"
    kept.mkdir()
    if db_path.is_file():  # an archive that `linebox backup restore` takes back
        try:
            backup.create(db_path, kept / "backup.tar", created, with_recordings=True)
        except FirmwareError as exc:  # a damaged database: the reset goes on, the moved files are the backup
            (kept / "backup-failed.txt").write_text(f"{exc}\n")
    moving = sorted(entry for entry in data.iterdir() if not KEPT.fullmatch(entry.name))  # with SQLite's -wal/-shm
    for entry in moving:
        os.replace(entry, kept / entry.name)
    _fsync_folder(kept)
    _fsync_folder(data)
    return kept
