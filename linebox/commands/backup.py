"""``linebox backup create FILE [--with-recordings]`` / ``linebox backup restore FILE``: the box's data in one archive.

The archive format and the checks are in :mod:`firmware.storage.backup`. ``create`` may run
while the engine runs (SQLite's online backup). ``restore`` refuses while an engine answers
on the console socket (stop it first: ``systemctl stop linebox``), verifies the whole archive
before it replaces anything, and keeps what it replaces in ``replaced-<n>/`` next to the
database. A damaged or truncated archive is one line on stderr and nothing changes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
from pathlib import Path

from firmware import FirmwareError
from firmware.console import ConsoleClient
from firmware.console.protocol import resolve_socket_path
from firmware.storage import backup
from linebox import LineboxError
from linebox.storage import resolve_db_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("backup", help="back up or restore the box's data (database, recordings, prompts)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="write an archive of every store, recordings and prompts")
    create.add_argument("file", help="the archive to write (a tar file)")
    create.add_argument("--db", default=None, help="database path (default: $LINEBOX_DB or var/linebox.db)")
    create.add_argument("--with-recordings", action="store_true",
                        help="the voicemail recordings too (they can be large; by default the data and prompts only)")
    create.set_defaults(handler=run_create)
    restore = actions.add_parser("restore", help="verify an archive, then replace the box's data with it")
    restore.add_argument("file", help="the archive to restore")
    restore.add_argument("--db", default=None, help="database path (default: $LINEBOX_DB or var/linebox.db)")
    restore.add_argument("--socket", default=None,
                         help="console socket of the engine that must not be running "
                              "(default: $LINEBOX_CONSOLE or var/linebox.sock)")
    restore.set_defaults(handler=run_restore)


def run_create(args: argparse.Namespace) -> int:
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    manifest = backup.create(resolve_db_path(args.db), Path(args.file), created, with_recordings=args.with_recordings)
    size = sum(entry.size for entry in manifest.entries)
    print(f"backup {args.file}: {len(manifest.entries)} files, {size} bytes, "
          f"{'with' if manifest.recordings else 'without'} recordings, schemas "
          + ", ".join(f"{name} {version}" for name, version in sorted(manifest.schemas.items())))
    return 0


def engine_running(socket_path: Path) -> bool:
    client = ConsoleClient(socket_path)
    try:
        client.connect()
    except FirmwareError:
        return False
    client.close()
    return True


def run_restore(args: argparse.Namespace) -> int:
    archive = Path(args.file)
    if not archive.is_file():
        raise LineboxError(f"backup restore: no such file {archive}")
    if engine_running(resolve_socket_path(args.socket, os.environ)):
        raise LineboxError("backup restore: the engine is running; stop it first (systemctl stop linebox)")
    manifest, kept = backup.restore(archive, resolve_db_path(args.db))
    print(f"restored {archive} (made {manifest.created}, {len(manifest.entries)} files)"
          + (f"; the data it replaced are in {kept}" if kept is not None else ""))
    return 0
