"""``linebox doctor [--board virtual|rpi] [--json]``: the box's self-test (:mod:`linebox.doctor`).

``--json`` prints ``{"ok": …, "checks": [{"name", "ok", "detail"}]}``; exit status 0 only when
every check passes, 1 otherwise. Every run also leaves its result (time, ok, checks) in
``doctor.json`` beside the database (:mod:`firmware.storage.doctor_report`), which the web
admin's dashboard shows. ``linebox selftest`` is the same command under its former name.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from drivers.logs import configure_logging
from firmware.console import ConsoleClient
from firmware.console.protocol import resolve_socket_path
from firmware.storage.doctor_report import make_report, report_path, write_report
from linebox.doctor import SKIPPABLE, doctor
from linebox.doctor.engine_checks import Ask
from linebox.storage import resolve_db_path

HELP = "self-test: line card and ports, audio paths, DSP, stores, disk space, clock"


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help=HELP)
    parser.add_argument("--board", default="virtual", choices=("virtual", "rpi"),
                        help="virtual (default): a virtual board of the doctor's own; rpi: the line card as the "
                             "running engine sees it (no audio checks: the engine owns the codec)")
    parser.add_argument("--db", default=None, help="database path (default: $LINEBOX_DB or var/linebox.db)")
    parser.add_argument("--socket", default=None,
                        help="--board rpi: the running engine's console socket (default: $LINEBOX_CONSOLE or "
                             "var/linebox.sock)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the virtual board's world")
    parser.add_argument("--skip", action="append", default=[], choices=SKIPPABLE,
                        help="leave a check out (the upgrade's run leaves out clock_sync: no release mends a clock)")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.set_defaults(handler=run)


def register(subparsers: argparse._SubParsersAction) -> None:
    add_parser(subparsers, "doctor")


def console_asker(socket: Path) -> Ask:
    """The running engine's console: one connection per command."""
    def ask(command: str) -> list[str]:
        lines: list[str] = []
        with ConsoleClient(socket) as client:
            client.run(command, lines.append)
        return lines
    return ask


def run(args: argparse.Namespace) -> int:
    configure_logging(sys.stderr, logging.ERROR)  # the link's start-up warnings are expected; errors show
    db_path = resolve_db_path(args.db)
    engine = None if args.board == "virtual" else console_asker(resolve_socket_path(args.socket, os.environ))
    now = time.time()  # the command line is the edge: it reads the clock and passes it in
    report = make_report(now, doctor(db_path, now, seed=args.seed, skip=args.skip, engine=engine))
    if db_path.parent.is_dir():
        write_report(report_path(db_path), report)
    if args.json:
        print(json.dumps(report.document()))
    else:
        for check in report.checks:
            print(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    return 0 if report.ok else 1
