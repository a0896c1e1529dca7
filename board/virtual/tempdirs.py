"""The card emulator's temporary folders (``/tmp/linebox-card-XXXX``): made with an owner, swept when orphaned.

Each emulator keeps its pty symlink in a folder of its own, removed by ``close()``. A
process killed with SIGKILL cannot remove it, so every folder holds the owner's pid
(``owner.pid``) and each new emulator first removes the folders whose owner is gone. A
folder is left alone when its owner is alive, when it belongs to another user, or when it
has no readable pid (not ours to judge).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable

PREFIX = "linebox-card-"
OWNER_FILE = "owner.pid"


def process_alive(pid: int) -> bool:
    """True while a process ``pid`` exists (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def make_card_dir(parent: str | None = None) -> str:
    """A new folder for one emulator, with this process's pid written in it."""
    path = tempfile.mkdtemp(prefix=PREFIX, dir=parent)
    with open(os.path.join(path, OWNER_FILE), "w", encoding="ascii") as out:
        out.write(f"{os.getpid()}\n")
    return path


def sweep_orphans(parent: str | None = None, alive: Callable[[int], bool] = process_alive) -> list[str]:
    """Removes the emulator folders in ``parent`` (default: the temp dir) whose owner died; returns them."""
    parent = parent or tempfile.gettempdir()
    removed = []
    try:
        names = os.listdir(parent)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(PREFIX):
            continue
        path = os.path.join(parent, name)
        try:
            if os.lstat(path).st_uid != os.getuid() or not os.path.isdir(path) or os.path.islink(path):
                continue
            with open(os.path.join(path, OWNER_FILE), encoding="ascii") as source:
                pid = int(source.read().strip())
        except (OSError, ValueError):
            continue
        if pid <= 0 or alive(pid):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed
