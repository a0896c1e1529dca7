"""``linebox cdr export --csv``: call detail records as Asterisk's Master.csv.

Reads the CDR table of the database (``--db PATH``, else ``$LINEBOX_DB``, else
``var/linebox.db``) and writes the records, oldest first, in the column order and quoting
of Asterisk's cdr_csv (see :mod:`firmware.cdr`), with times in ``--tz`` (default UTC).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from firmware import FirmwareError
from firmware.cdr import CdrStore, write_master_csv
from firmware.schedule import zone_info
from linebox.storage import resolve_db_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cdr", help="call detail records")
    commands = parser.add_subparsers(dest="cdr_command", required=True, metavar="ACTION")
    export = commands.add_parser("export", help="write call records as Asterisk Master.csv")
    export.add_argument("--csv", action="store_true", required=True, help="CSV in Master.csv column order")
    export.add_argument("--db", help="database (default: $LINEBOX_DB or var/linebox.db)")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.add_argument("--tz", default="UTC", help="time zone of the start/answer/end columns (default: UTC)")
    export.add_argument("--since", help="only calls that started at or after this ISO 8601 time")
    export.add_argument("--until", help="only calls that started before this ISO 8601 time")
    export.add_argument("--header", action="store_true", help="add a line of column names (Asterisk writes none)")
    export.set_defaults(handler=export_cdr)


def _epoch(option: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise FirmwareError(f"{option}: {text!r} is not an ISO 8601 time") from exc
    if when.tzinfo is None:
        raise FirmwareError(f"{option}: {text!r} has no UTC offset (add e.g. +00:00 or Z)")
    return when.timestamp()


def export_cdr(args: argparse.Namespace) -> int:
    tz = zone_info(args.tz)
    since, until = _epoch("--since", args.since), _epoch("--until", args.until)
    with CdrStore(resolve_db_path(args.db)) as store:
        records = list(store.records(since, until))
    if args.output:
        with Path(args.output).open("w", encoding="utf-8", newline="") as out:
            write_master_csv(records, out, tz, header=args.header)
    else:
        write_master_csv(records, sys.stdout, tz, header=args.header)
    return 0
