"""``linebox factory-reset [--yes]``: configuration and data back to the first-boot state.

The data are kept: a backup archive and the moved data in ``factory-reset-<n>/`` of the data
folder (:mod:`firmware.storage.reset`; the web admin's uploads in progress and a restore staged
for the next start are dropped; only the newest few reset folders are kept). It asks for confirmation (type ``reset``) unless
``--yes``; without a terminal and without ``--yes`` it refuses. Like ``backup restore`` it
refuses while an engine answers on the console socket (``systemctl stop linebox linebox-web``
first). After it, the next start has the default configuration and the web admin's first-boot
wizard, with a new setup token.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from firmware.console.protocol import resolve_socket_path
from firmware.storage.reset import CONFIRMATION, factory_reset
from linebox import LineboxError
from linebox.commands.backup import engine_running
from linebox.storage import resolve_db_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("factory-reset", help="configuration and data back to the first-boot state "
                                                         "(everything kept in a backup)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--db", default=None, help="database path (default: $LINEBOX_DB or var/linebox.db)")
    parser.add_argument("--socket", default=None,
                        help="console socket of the engine that must not be running "
                             "(default: $LINEBOX_CONSOLE or var/linebox.sock)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    db_path = resolve_db_path(args.db)
    if engine_running(resolve_socket_path(args.socket, os.environ)):
        raise LineboxError("factory-reset: the engine is running; stop it first "
                           "(systemctl stop linebox linebox-web)")
    if not args.yes:
        if not sys.stdin.isatty():
            raise LineboxError("factory-reset: no terminal to confirm on; add --yes")
        print(f"Every setting, account, call record and message in {db_path.parent} goes back to the first-boot "
              f"state (kept in a backup there). Type {CONFIRMATION!r} to go on: ", end="", flush=True)
        if sys.stdin.readline().strip() != CONFIRMATION:
            print("nothing changed")
            return 1
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    kept = factory_reset(db_path, created)
    print(f"factory reset done; the former data and a backup archive are in {kept} "
          f"(linebox backup restore {kept / 'backup.tar'} takes them back)")
    return 0
