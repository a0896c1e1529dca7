"""The folders a restore and a factory reset keep aside in the data folder, and their bound.

A restore (firmware/storage/backup.py, also an upgrade's rollback) keeps the data it replaces in
``replaced-<n>/``; a factory reset (firmware/storage/reset.py) keeps the data, with a backup
archive, in ``factory-reset-<n>/``. Retention (firmware/storage/retention.py) does not trim them
and they are not part of ``retention.disk_budget_mb``: each can be as large as the box's whole
data. So that repeated restores or resets cannot fill the card, only the newest
:data:`KEEP_ASIDE` folders of each kind are kept: when a new one is made, the oldest beyond that
are removed. The newest has the highest number (a new one is numbered after the highest, never
in a gap left by a removed one). ``linebox doctor`` names what is kept aside, with its size
(:func:`summary`; the upgrades' ``upgrade-backups/`` too, which this module does not prune).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from firmware import FirmwareError

KEEP_ASIDE = 3  # per kind: the last reset or restore and two before it
KINDS = ("factory-reset", "replaced")
UPGRADE_BACKUPS = "upgrade-backups"  # linebox/releases.py: the data before each upgrade, not pruned here
_NAME = re.compile(r"(factory-reset|replaced)-([1-9][0-9]{0,8})")


@dataclass(frozen=True)
class Folder:
    kind: str  # one of KINDS
    number: int
    path: Path


def folders(data: Path, kind: str | None = None) -> list[Folder]:
    """The kept folders in ``data`` (of ``kind``, or all), oldest first (by kind, then number)."""
    if kind is not None and kind not in KINDS:
        raise FirmwareError(f"kept folders: no kind {kind!r} (one of {', '.join(KINDS)})")
    if not data.is_dir():
        return []
    found = []
    for entry in data.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match and entry.is_dir() and kind in (None, match[1]):
            found.append(Folder(match[1], int(match[2]), entry))
    return sorted(found, key=lambda folder: (folder.kind, folder.number))


def make(data: Path, kind: str) -> Path:
    """A new empty folder ``<kind>-<n>`` in ``data``, numbered after the highest of its kind."""
    present = folders(data, kind)
    path = data / f"{kind}-{present[-1].number + 1 if present else 1}"
    path.mkdir()
    return path


def prune(data: Path, kind: str, keep: int = KEEP_ASIDE) -> list[str]:
    """Removes the oldest folders of ``kind`` beyond the newest ``keep``; their names. A folder that
    cannot be removed whole stays (what is left of it is still named by :func:`summary`)."""
    if keep < 1:
        raise FirmwareError(f"kept folders: keep {keep}: at least the newest one is kept")
    present = folders(data, kind)
    removed = present[:max(0, len(present) - keep)]
    for folder in removed:
        shutil.rmtree(folder.path, ignore_errors=True)
    return [folder.path.name for folder in removed]


def _size(path: Path) -> int:
    total = 0
    for item in path.rglob("*"):
        try:
            if item.is_file() and not item.is_symlink():
                total += item.stat().st_size
        except OSError:
            pass  # removed meanwhile
    return total


def summary(data: Path) -> str:
    """One line for the doctor's disk check: ``kept aside: factory-reset-2, replaced-1 (812.0 MB;
    the newest 3 of each kind are kept, ...)``, or ``nothing kept aside``."""
    paths = [folder.path for folder in folders(data)]
    upgrades = data / UPGRADE_BACKUPS
    if upgrades.is_dir() and any(upgrades.iterdir()):  # bounded by nothing here: named so that it is seen
        paths.append(upgrades)
    if not paths:
        return "nothing kept aside"
    size = sum(_size(path) for path in paths)
    names = ", ".join(path.name for path in paths)
    return (f"kept aside: {names} ({size / (1024 * 1024):.1f} MB; the newest {KEEP_ASIDE} of each kind are kept, "
            f"one no longer needed may be deleted by hand)")
