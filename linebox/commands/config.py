"""``linebox config export|import|validate|show|route|dial``: the configuration database.

The database is ``--db PATH``, else ``$LINEBOX_DB``, else ``var/linebox.db`` under the
current folder (created when missing). Board names in the configuration are resolved with
``board.definitions`` here, in the composition root, because firmware may not import
board/. ``validate`` and ``import`` judge a file the same way and report it the same way
(:func:`file_findings`, :func:`report`): every problem at once, one line each starting with
its field's path (firmware/config/collect.py), or the file's name and the line and column for
a file that cannot be read as YAML (unreadable, not UTF-8, too large or too deep, a syntax
error); then notes and warnings (``warning: ...``: a queue without agents, a music class
without files), which never block. ``validate`` exits with status 1 when there is an error.
``import`` stores nothing when there is an error: after the same lines it says so on one
last line (``linebox: FILE: not imported ...``), exit status 2, the database unchanged;
otherwise it replaces the whole configuration (checked again in the transaction that writes
it) and shows the warnings. ``route`` and ``dial`` show the routing and toll decisions for a
call, with their explanations, against the stored configuration.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.logs import one_line
from firmware import FirmwareError
from firmware.config import Config, ConfigStore, to_yaml
from firmware.config.advice import config_warnings
from firmware.config.collect import Findings, document_problems
from firmware.config.yamlio import MAX_DOCUMENT_BYTES, check_size, parse_yaml
from firmware.dialplan import DialKind
from firmware.media.uploads import music_classes
from firmware.routing import route_inbound
from firmware.tollguard import is_after_hours, may_dial
from linebox.storage import board_ports, open_store, resolve_db_path  # noqa: F401 (re-exported)

EXIT_INVALID = 1  # ``validate``: the configuration has problems (2: the command itself failed)
EXIT_NOT_IMPORTED = 2  # ``import``: refused, nothing stored (as any failed command)


def _read_file(path: str) -> str:
    """The document's text; no more than the size limit (plus one byte, to know it is over) is read."""
    try:
        with Path(path).open("rb") as file:
            data = file.read(MAX_DOCUMENT_BYTES + 1)
        check_size(len(data))
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FirmwareError(f"byte {exc.start + 1} is not UTF-8 text") from exc
    except OSError as exc:
        raise FirmwareError(f"cannot read: {exc.strerror or exc}") from exc


def _document(text: str) -> Any:
    """The plain data of a YAML document; FirmwareError (one line) when it cannot be read as one."""
    raw = parse_yaml(text)
    if raw is None:
        raise FirmwareError("configuration: the document is empty")
    return raw


@dataclass
class FileFindings:
    """What ``validate`` and ``import`` found in a file: the problems (collect.py) and the warnings."""

    findings: Findings
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings.errors and self.findings.config is not None


def file_findings(store: ConfigStore, path: str) -> FileFindings:
    """Every problem of the YAML file ``path`` at once, and the warnings (:func:`document_findings`).
    A file that cannot be read is one problem naming it. Stores nothing."""
    try:
        text = _read_file(path)
    except FirmwareError as exc:
        return FileFindings(Findings(errors=[f"{path}: {exc}"]))
    return document_findings(store, text, path)


def document_findings(store: ConfigStore, text: str, name: str) -> FileFindings:
    """Every problem of a YAML document at once (firmware/config/collect.py: the codec's, then the
    store's cross-reference checks), and the warnings; YAML that cannot be read is one problem
    starting with ``name`` (the file's), then its line and column. Stores nothing."""
    try:
        raw = _document(text)
    except FirmwareError as exc:
        return FileFindings(Findings(errors=[f"{name}: {exc}"]))
    return _with_warnings(store, document_problems(raw, store.check))


def _with_warnings(store: ConfigStore, findings: Findings) -> FileFindings:
    if findings.config is None:
        return FileFindings(findings)
    data_dir = Path(store.path).parent  # the music folders are next to the database
    playable = [name for name, files in music_classes(data_dir).items() if files]
    return FileFindings(findings, config_warnings(findings.config, playable))


def report(found: FileFindings) -> None:
    """The problems, notes and warnings, one line each on stderr (the same for validate and import)."""
    for problem in found.findings.errors:
        print(one_line(problem), file=sys.stderr)
    for note in found.findings.notes:
        print(f"note: {one_line(note)}", file=sys.stderr)
    for warning in found.warnings:
        print(f"warning: {one_line(warning)}", file=sys.stderr)


def _counted(items: list[str], what: str) -> str:
    return f"{len(items)} {what}{'s' if len(items) != 1 else ''}"


def _parse_time(text: str | None) -> dt.datetime:
    """ISO 8601 with an offset; naive times are refused. Default: now (the CLI may read the clock)."""
    if text is None:
        return dt.datetime.now(dt.UTC)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise FirmwareError(f"--at: {text!r} is not an ISO 8601 time like 2026-03-02T10:15+01:00") from exc
    if when.tzinfo is None:
        raise FirmwareError(f"--at: {text!r} has no UTC offset (add e.g. +00:00 or Z)")
    return when


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("config", help="export, import and check the configuration")
    commands = parser.add_subparsers(dest="config_command", required=True, metavar="ACTION")

    def add(name: str, help_text: str, handler) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--db", help="configuration database (default: $LINEBOX_DB or var/linebox.db)")
        sub.set_defaults(handler=handler)
        return sub

    export = add("export", "write the configuration as YAML", export_config)
    export.add_argument("-o", "--output", help="YAML file to write (default: standard output)")
    imported = add("import", "replace the configuration with a YAML file (checked first)", import_config)
    imported.add_argument("file", help="YAML file")
    check = add("validate", "check a YAML file, or the stored configuration", validate_config)
    check.add_argument("file", nargs="?", help="YAML file (default: the stored configuration)")
    add("show", "summarise the stored configuration", show_config)
    route = add("route", "explain where an inbound call would go", explain_route)
    route.add_argument("--line", type=int, required=True, help="FXO port the call arrives on")
    route.add_argument("--caller-id", default="", help="caller's number (empty: withheld)")
    route.add_argument("--at", help="ISO 8601 time with offset (default: now)")
    dial = add("dial", "explain what dialling a number from an extension does", explain_dial)
    dial.add_argument("digits", help="digits as keyed, outside prefix included")
    dial.add_argument("--extension", required=True, help="extension number that dials")
    dial.add_argument("--at", help="ISO 8601 time with offset, for after-hours rules (default: now)")


def export_config(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        text = to_yaml(store.load())
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def import_document(store: ConfigStore, text: str, name: str, source: str) -> tuple[FileFindings, Config | None]:
    """Judges the YAML document ``text`` whole (:func:`document_findings`; ``name``: its file) and, if
    it has no error, replaces the stored configuration with it (checked again in the transaction
    that writes it); what was found, and the stored snapshot (None: nothing stored)."""
    found = document_findings(store, text, name)
    if not found.ok or found.findings.config is None:
        return found, None
    return found, store.save(found.findings.config, source=source)


def import_config(args: argparse.Namespace) -> int:
    """Every problem reported as ``validate`` does; nothing stored if there is an error (status 2)."""
    try:
        text = _read_file(args.file)
    except FirmwareError as exc:
        raise FirmwareError(f"{args.file}: {exc}") from exc  # one line, status 2: nothing to judge
    with open_store(args.db) as store:
        found, stored = import_document(store, text, args.file, source=f"import {one_line(args.file)}")
        report(found)
        if stored is None:
            print(f"linebox: {one_line(args.file)}: not imported ({_counted(found.findings.errors, 'error')}): "
                  "the stored configuration is unchanged", file=sys.stderr)
            return EXIT_NOT_IMPORTED
        counted = f", {_counted(found.warnings, 'warning')}" if found.warnings else ""
        print(f"linebox: imported {args.file} into {store.path} (revision {store.config_version()}{counted})")
    return 0


def validate_config(args: argparse.Namespace) -> int:
    """Every problem at once, each with its field's path (firmware/config/collect.py); warnings too.
    Exit status 1 when there is an error, 0 otherwise (warnings do not count)."""
    with open_store(args.db) as store:
        if args.file:
            found = file_findings(store, args.file)
        else:
            config = store.load()
            found = _with_warnings(store, Findings(errors=store.check(config), config=config))
    report(found)
    if found.findings.errors:
        return EXIT_INVALID
    counted = f" ({_counted(found.warnings, 'warning')})" if found.warnings else ""
    print(f"linebox: {args.file or 'stored configuration'}: ok{counted}")
    return 0


def _summary(config: Config) -> list[str]:
    lines = [
        f"board {config.board}, zone {config.zone}, language {config.effective_language()}, "
        f"caller ID {config.effective_caller_id_standard()}, outside prefix {config.outside_prefix() or '(none)'}",
    ]
    for line in config.lines:
        lines.append(f"line  port {line.port}: {line.name} {line.number or '-'} group {line.group}, "
                     f"disconnect {'/'.join(line.disconnect)}, dialling {line.dialling}")
    for ext in config.extensions:
        flags = [flag for flag, on in (("dnd", ext.dnd), ("voicemail", ext.voicemail)) if on]
        lines.append(f"ext   {ext.number} port {ext.port}: {ext.name or '-'} class {ext.outbound_class}"
                     + (f" [{', '.join(flags)}]" if flags else ""))
    for group in config.ring_groups:
        lines.append(f"group {group.name} {group.number or '-'}: {', '.join(group.members)} ({group.strategy}, "
                     f"{group.ring_s} s, then {group.no_answer})")
    for index, route in enumerate(config.routes):
        when = f"{route.schedule} {route.when}" if route.schedule else "any time"
        lines.append(f"route {index} {route.name}: line {'any' if route.line is None else route.line}, caller "
                     f"{route.caller_id or 'any'}, {when} -> {route.destination}")
    for schedule in config.schedules:
        lines.append(f"schedule {schedule.name} ({schedule.timezone}), {len(schedule.holidays)} holidays")
    security = config.security
    lines.append(f"security: trunk-to-trunk {'allowed' if security.trunk_to_trunk_allowed else 'refused'}, "
                 f"premium {'allowed' if security.allow_premium else 'refused'}, after hours "
                 f"({security.after_hours_schedule or 'no schedule'}) up to {security.after_hours_max_class}")
    return lines


def show_config(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        config = store.load()
        print(f"{store.path}: schema {store.schema_version}, revision {store.config_version()}")
    print("\n".join(_summary(config)))
    return 0


def explain_route(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        config = store.load()
    decision = route_inbound(config, args.line, args.caller_id, _parse_time(args.at))
    print(decision.explain())
    print(f"destination: {decision.destination}")
    return 0


def explain_dial(args: argparse.Namespace) -> int:
    with open_store(args.db) as store:
        config = store.load()
    extension = config.extension(args.extension)
    if extension is None:
        raise FirmwareError(f"--extension: extension {args.extension} does not exist")
    result = config.dial_plan().match(args.digits)
    meaning = " ".join(part for part in (str(result.kind or ""), result.name) if part)
    print(f"dial plan: {result.state.value}" + (f" ({meaning})" if meaning else "")
          + (f", then wait {result.timeout_ms} ms" if result.timeout_ms else ""))
    if result.kind is DialKind.FEATURE:
        print(f"feature {result.name}" + (f" with {result.number}" if result.number else ""))
        return 0
    after_hours = is_after_hours(config, _parse_time(args.at))
    decision = may_dial(config, extension, args.digits, after_hours)
    print(f"toll guard: {'allowed' if decision.allowed else 'refused'}: {decision.reason}")
    return 0 if decision.allowed else 1
