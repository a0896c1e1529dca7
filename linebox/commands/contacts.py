"""``linebox contacts import|export|search``: the contact store (firmware/contacts/store.py) and CSV.

``import FILE`` reads the file at the trust boundary (firmware.contacts.csvfile), prints the
validation report (rows, valid, invalid, duplicates, and every problem with its CSV line)
and stores the valid rows all together, or nothing when there is a problem (exit status 2);
``--skip-invalid`` stores the valid rows anyway, ``--dry-run`` only reports, ``--replace``
replaces the stored contacts instead of adding to them, ``--json`` prints the report as
JSON. Storing is one transaction of the contact store, which a running engine reads at each
lookup (nothing to reload). ``export`` streams the contacts as CSV (the import's columns);
``search QUERY`` finds contacts by name, account, field or number (compared in E.164).
``dnc import FILE|add|remove|check NUMBER``: the do-not-call list of outbound campaigns
(firmware.leads.DncList, in the same database), numbers read in the box's zone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from drivers.logs import one_line
from firmware import FirmwareError
from firmware.contacts.csvfile import MAX_CSV_BYTES, read_table
from firmware.contacts.directory import MAX_QUERY_CHARS, export_csv
from firmware.contacts.importer import MAX_IMPORT_BYTES, ContactImport, apply_import, check_import, refusal
from firmware.contacts.store import MAX_CONTACTS, ContactStore
from firmware.leads import DncList
from firmware.numbers import to_e164
from linebox.storage import open_store, resolve_db_path

EXIT_PROBLEMS = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("contacts", help="import, export and search the contacts (CSV)")
    actions = parser.add_subparsers(dest="contacts_action", required=True, metavar="ACTION")

    imported = actions.add_parser("import", help="check a CSV file of contacts and store its rows")
    imported.add_argument("file", help="CSV file: name, numbers, account, language, notes, free fields")
    imported.add_argument("--dry-run", action="store_true", help="report only, store nothing")
    imported.add_argument("--skip-invalid", action="store_true",
                          help="store the valid rows even when others are invalid or duplicates")
    imported.add_argument("--replace", action="store_true", help="replace the stored contacts instead of adding")
    imported.add_argument("--json", action="store_true", help="print the report as JSON")
    imported.set_defaults(handler=import_contacts)

    export = actions.add_parser("export", help="write the contacts as CSV")
    export.add_argument("-o", "--output", help="CSV file to write (default: standard output)")
    export.set_defaults(handler=export_contacts)

    find = actions.add_parser("search", help="find contacts by name, number (any written form) or account")
    find.add_argument("query")
    find.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    find.add_argument("--json", action="store_true", help="print the contacts as JSON")
    find.set_defaults(handler=search_contacts)

    dnc = actions.add_parser("dnc", help="the do-not-call list of outbound campaigns")
    dnc_actions = dnc.add_subparsers(dest="dnc_action", required=True, metavar="ACTION")
    dnc_import = dnc_actions.add_parser("import", help="add the numbers of a CSV file (a number or phone column)")
    dnc_import.add_argument("file")
    dnc_import.add_argument("--json", action="store_true", help="print the report as JSON")
    dnc_import.set_defaults(handler=dnc_import_file)
    dnc_subs = [dnc_import]
    for name, help_text, handler in (("add", "put a number on the list", dnc_add),
                                     ("remove", "take a number off the list", dnc_remove),
                                     ("check", "is a number on the list? (exit status 1: no)", dnc_check)):
        sub = dnc_actions.add_parser(name, help=help_text)
        sub.add_argument("number", help="in any written form, read in the box's zone")
        sub.set_defaults(handler=handler)
        dnc_subs.append(sub)

    for sub in (imported, export, find, *dnc_subs):
        sub.add_argument("--db", help="configuration database (default: $LINEBOX_DB or var/linebox.db)")


def read_file(path: str, limit: int = MAX_CSV_BYTES) -> bytes:
    """The file's bytes; no more than the limit (plus one byte, to know it is over) is read."""
    try:
        with Path(path).open("rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise FirmwareError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise FirmwareError(f"{path}: larger than {limit} bytes (the limit)")
    return data


def report_lines(report: ContactImport) -> list[str]:
    """The report for a person: the counts, then one line per problem."""
    mode = f"replacing {report.stored} stored" if report.replace else f"adding to {report.stored} stored"
    lines = [f"rows {report.rows}, valid {report.valid}, invalid {report.invalid}, duplicates {report.duplicates} "
             f"({mode}; {report.encoding})"]
    lines += [f"  {problem} [{problem.kind}]" for problem in report.problems]
    return lines


def import_contacts(args: argparse.Namespace) -> int:
    try:
        table = read_table(read_file(args.file, MAX_IMPORT_BYTES), MAX_IMPORT_BYTES, MAX_CONTACTS)
    except FirmwareError as exc:
        raise FirmwareError(f"{one_line(args.file)}: {one_line(str(exc))}") from exc
    zone = _zone(args)
    with ContactStore(resolve_db_path(args.db)) as store:
        if args.dry_run:
            report, stored = check_import(table, zone, store, args.replace), False
            reason = refusal(report)
        else:
            try:
                report = apply_import(store, table, zone, replace=args.replace, skip_invalid=args.skip_invalid)
                stored, reason = True, None
            except FirmwareError as exc:
                report, stored = check_import(table, zone, store, args.replace), False
                reason = refusal(report) or one_line(str(exc))
        revision = store.revision()
    if args.json:
        print(json.dumps({**report.as_dict(), "stored": stored, "revision": revision}, ensure_ascii=False))
    else:
        print("\n".join(report_lines(report)))
        if stored:
            print(f"linebox: stored {report.valid} contacts (contacts revision {revision})")
    if reason is not None and not stored:
        print(f"linebox: {reason}", file=sys.stderr)
        return EXIT_PROBLEMS
    return 0


def export_contacts(args: argparse.Namespace) -> int:
    with ContactStore(resolve_db_path(args.db)) as store:
        if args.output:
            with Path(args.output).open("w", encoding="utf-8", newline="") as out:
                out.writelines(export_csv(store))
        else:
            sys.stdout.writelines(export_csv(store))
    return 0


def search_contacts(args: argparse.Namespace) -> int:
    zone = _zone(args)
    with ContactStore(resolve_db_path(args.db)) as store:
        found, _ = store.search(args.query[:MAX_QUERY_CHARS], zone, 0, max(1, args.limit))
    if args.json:
        print(json.dumps([{"name": c.name, "numbers": list(c.numbers), "account": c.account,
                           "language": c.language, "notes": c.notes, "fields": dict(c.fields)} for c in found],
                         ensure_ascii=False))
    else:
        for contact in found:
            print(f"{contact.name}\t{', '.join(contact.numbers) or '-'}\t{contact.account or '-'}")
    return 0


def _zone(args: argparse.Namespace) -> str:
    with open_store(args.db) as store:
        return str(store.load().zone)


def dnc_import_file(args: argparse.Namespace) -> int:
    try:
        table = read_table(read_file(args.file))
    except FirmwareError as exc:
        raise FirmwareError(f"{one_line(args.file)}: {one_line(str(exc))}") from exc
    zone = _zone(args)
    with DncList(resolve_db_path(args.db)) as dnc:
        report = dnc.import_table(table, zone, source=f"import {one_line(args.file)}"[:80], when=time.time())
        total = dnc.count()
    if args.json:
        print(json.dumps({**report.as_dict(), "total": total}, ensure_ascii=False))
    else:
        print(f"rows {report.rows}, added {report.added}, already listed {report.already}, invalid {report.invalid}"
              f" ({total} numbers on the list)")
        for problem in report.problems:
            print(f"  {problem}")
    return 0


def dnc_add(args: argparse.Namespace) -> int:
    zone = _zone(args)
    with DncList(resolve_db_path(args.db)) as dnc:
        added = dnc.add(args.number, zone, source="linebox contacts dnc add", when=time.time())
    print(f"{to_e164(args.number, zone)} {'added to' if added else 'was already on'} the do-not-call list")
    return 0


def dnc_remove(args: argparse.Namespace) -> int:
    zone = _zone(args)
    with DncList(resolve_db_path(args.db)) as dnc:
        removed = dnc.remove(args.number, zone)
    print(f"{to_e164(args.number, zone)} {'removed from' if removed else 'was not on'} the do-not-call list")
    return 0


def dnc_check(args: argparse.Namespace) -> int:
    zone = _zone(args)
    number = to_e164(args.number, zone)
    with DncList(resolve_db_path(args.db)) as dnc:
        listed = dnc.contains(number, zone)
    print(f"{number} {'is' if listed else 'is not'} on the do-not-call list")
    return 0 if listed else 1
