"""Call detail records: one row per call in SQLite, exported as Asterisk's ``Master.csv``.

The engine hands a finished call to :meth:`CdrStore.record` as a :class:`CallRecord`
(times already converted from engine time to epoch seconds by the caller). The row is
inserted through sqlite-utils on a connection in WAL mode with ``synchronous=FULL`` and
autocommit, so when ``record`` returns the record is committed and survives a crash or a
power cut (see :mod:`firmware.config.db`). Records are checked first: a bad record is
refused with a FirmwareError naming the field, and nothing is written.

Durations follow Asterisk: ``duration`` = end - start and ``billsec`` = end - answer
(0 when unanswered), in whole seconds rounded half up from the millisecond differences.

:func:`write_master_csv` writes the columns in the order of Asterisk's cdr_csv backend
(``build_csv_record`` in cdr/cdr_csv.c, with ``loguniqueid`` and ``loguserfield`` on):
accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start,
answer, end, duration, billsec, disposition, amaflags, uniqueid, userfield. Like
Asterisk it writes no header line, quotes every text field (doubling inner quotes), leaves
the integers unquoted, writes times as ``YYYY-MM-DD HH:MM:SS`` in the requested time zone
and leaves an absent answer time as an empty, unquoted field; existing CDR tools read it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

import sqlite_utils

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config.db import Migration, connect, migrate, transaction

COMPONENT = "cdr"

MASTER_CSV_COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
    "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield",
)
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # cdr_csv.c DATE_FORMAT "%Y-%m-%d %T"
MAX_TEXT = 200


class Disposition(StrEnum):
    ANSWERED = "ANSWERED"
    NO_ANSWER = "NO ANSWER"
    BUSY = "BUSY"
    FAILED = "FAILED"


class HangupBy(StrEnum):
    CALLER = "caller"
    CALLEE = "callee"
    SYSTEM = "system"


class AmaFlags(StrEnum):
    OMIT = "OMIT"
    BILLING = "BILLING"
    DOCUMENTATION = "DOCUMENTATION"


@dataclass(frozen=True)
class CallRecord:
    """One finished call. Ports are board port numbers; an extension implies an FXS port."""

    uniqueid: str
    start: float
    end: float
    disposition: Disposition
    hangup_by: HangupBy
    answer: float | None = None
    caller_number: str = ""
    caller_name: str = ""
    dst: str = ""
    src_port: int | None = None
    src_extension: str = ""
    dst_port: int | None = None
    dst_extension: str = ""
    context: str = ""
    hangup_cause: str = ""
    lastapp: str = ""
    lastdata: str = ""
    accountcode: str = ""
    amaflags: AmaFlags = AmaFlags.DOCUMENTATION
    userfield: str = ""

    @property
    def duration(self) -> int:
        return _whole_seconds(self.end - self.start)

    @property
    def billsec(self) -> int:
        return 0 if self.answer is None else _whole_seconds(self.end - self.answer)


def _whole_seconds(seconds: float) -> int:
    return int((round(seconds * 1000) + 500) // 1000)


_TEXT_FIELDS = ("uniqueid", "caller_number", "caller_name", "dst", "src_extension", "dst_extension", "context",
                "hangup_cause", "lastapp", "lastdata", "accountcode", "userfield")


def check_record(record: CallRecord) -> CallRecord:
    """``record`` with its enums normalised; FirmwareError naming the first bad field."""
    for name in _TEXT_FIELDS:
        value = getattr(record, name)
        if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
            raise FirmwareError(f"cdr.{name}: expected printable text up to {MAX_TEXT} characters, got {value!r}")
    if not record.uniqueid:
        raise FirmwareError("cdr.uniqueid: missing")
    for name in ("start", "end", "answer"):
        value = getattr(record, name)
        if name == "answer" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise FirmwareError(f"cdr.{name}: expected epoch seconds, got {value!r}")
    if record.end < record.start:
        raise FirmwareError(f"cdr.end: {record.end} is before start {record.start}")
    if record.answer is not None and not record.start <= record.answer <= record.end:
        raise FirmwareError(f"cdr.answer: {record.answer} is not between start {record.start} and end {record.end}")
    for name in ("src_port", "dst_port"):
        value = getattr(record, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 63):
            raise FirmwareError(f"cdr.{name}: expected a port 0-63 or none, got {value!r}")
    enums = {"disposition": Disposition, "hangup_by": HangupBy, "amaflags": AmaFlags}
    values: dict[str, Any] = {}
    for name, enum in enums.items():
        value = getattr(record, name)
        if value not in {member.value for member in enum}:
            options = ", ".join(member.value for member in enum)
            raise FirmwareError(f"cdr.{name}: expected one of {options}, got {value!r}")
        values[name] = enum(value)
    answered = values["disposition"] is Disposition.ANSWERED
    if answered != (record.answer is not None):
        raise FirmwareError("cdr.answer: an ANSWERED call needs an answer time and only an ANSWERED call has one")
    return CallRecord(**{**{f.name: getattr(record, f.name) for f in fields(record)}, **values})


def make_uniqueid(start: float, boot: int, call_id: int) -> str:
    """A call record's uniqueid: ``<start epoch seconds>.<boot>.<call id>``, e.g. ``1733400000.7.12``.

    Asterisk's is ``<epoch>.<sequence>`` with a sequence that restarts with the process; here
    the boot number (:meth:`CdrStore.start_boot`, persisted with the records) sits between,
    so two starts never give the same uniqueid even when the clock repeats (a box without a
    real-time clock after a power cut): the call id is unique within a boot.
    """
    return f"{int(start)}.{boot}.{call_id}"


CUT_SHORT = "cut_short"  # hangup cause and userfield mark of a call the engine's death cut short


def cut_short(record: CallRecord) -> CallRecord:
    """The record of a call that was in progress when the engine died, as persisted at its last
    heartbeat: it ends there, hung up by the system, marked ``cut_short`` (hangup cause and
    userfield, which Master.csv carries)."""
    userfield = CUT_SHORT if not record.userfield else f"{record.userfield} {CUT_SHORT}"[-MAX_TEXT:]
    return dataclasses.replace(record, hangup_by=HangupBy.SYSTEM, hangup_cause=CUT_SHORT, userfield=userfield)


def record_to_json(record: CallRecord) -> str:
    """One line of JSON (spool file, open rows): every field, enums as their text."""
    values = asdict(record)
    values.update({name: str(values[name]) for name in ("disposition", "hangup_by", "amaflags")})
    return json.dumps(values, ensure_ascii=True, sort_keys=True, allow_nan=False)


def record_from_json(text: str) -> CallRecord:
    """The record of :func:`record_to_json`'s line, checked; FirmwareError if it is not one."""
    try:
        values = json.loads(text)
    except ValueError as exc:
        raise FirmwareError(f"cdr: not a JSON call record: {exc}") from exc
    names = {f.name for f in fields(CallRecord)}
    if not isinstance(values, dict) or set(values) - names or not {"uniqueid", "start", "end"} <= set(values):
        raise FirmwareError(f"cdr: not a call record: {text[:80]!r}")
    try:
        record = CallRecord(**values)
    except TypeError as exc:
        raise FirmwareError(f"cdr: not a call record: {exc}") from exc
    return check_record(record)


MIGRATIONS = (
    Migration(1, "call detail records", (
        "CREATE TABLE cdr ("
        " id INTEGER PRIMARY KEY,"
        " uniqueid TEXT NOT NULL UNIQUE,"
        " start REAL NOT NULL,"
        " answer REAL,"
        " \"end\" REAL NOT NULL,"
        " duration INTEGER NOT NULL,"
        " billsec INTEGER NOT NULL,"
        " disposition TEXT NOT NULL CHECK (disposition IN ('ANSWERED', 'NO ANSWER', 'BUSY', 'FAILED')),"
        " hangup_by TEXT NOT NULL CHECK (hangup_by IN ('caller', 'callee', 'system')),"
        " hangup_cause TEXT NOT NULL DEFAULT '',"
        " caller_number TEXT NOT NULL DEFAULT '',"
        " caller_name TEXT NOT NULL DEFAULT '',"
        " dst TEXT NOT NULL DEFAULT '',"
        " src_port INTEGER,"
        " src_extension TEXT NOT NULL DEFAULT '',"
        " dst_port INTEGER,"
        " dst_extension TEXT NOT NULL DEFAULT '',"
        " context TEXT NOT NULL DEFAULT '',"
        " lastapp TEXT NOT NULL DEFAULT '',"
        " lastdata TEXT NOT NULL DEFAULT '',"
        " accountcode TEXT NOT NULL DEFAULT '',"
        " amaflags TEXT NOT NULL DEFAULT 'DOCUMENTATION',"
        " userfield TEXT NOT NULL DEFAULT '')",
        "CREATE INDEX cdr_start ON cdr (start)",
    )),
    Migration(2, "boot counter and calls in progress", (
        # One row: the number of the current start of the engine (uniqueids embed it).
        "CREATE TABLE cdr_boot (id INTEGER PRIMARY KEY CHECK (id = 1), boot INTEGER NOT NULL)",
        # Answered calls in progress, as they stood at the last heartbeat (a JSON call record).
        "CREATE TABLE cdr_open (uniqueid TEXT PRIMARY KEY, boot INTEGER NOT NULL, record TEXT NOT NULL)",
    )),
    Migration(3, "call dispositions", (
        # An agent's outcome of an ACD call (docs/user-guide.md "Agent desk"), one per call: kept
        # beside the record (written at the call's end, before wrap-up) under its uniqueid.
        "CREATE TABLE cdr_disposition ("
        " uniqueid TEXT PRIMARY KEY,"
        " entered REAL NOT NULL,"
        " queue TEXT NOT NULL,"
        " agent TEXT NOT NULL,"
        " caller_number TEXT NOT NULL DEFAULT '',"
        " code TEXT NOT NULL,"
        " label TEXT NOT NULL,"
        " note TEXT NOT NULL DEFAULT '',"
        " callback_at REAL,"  # epoch seconds, or NULL
        " do_not_call INTEGER NOT NULL DEFAULT 0 CHECK (do_not_call IN (0, 1)),"
        " source TEXT NOT NULL CHECK (source IN ('page', 'dtmf')))",
        "CREATE INDEX cdr_disposition_number ON cdr_disposition (caller_number)",
    )),
)

MAX_NOTE = 500


@dataclass(frozen=True)
class CallDisposition:
    """What the agent recorded about a call (``cdr_disposition``); checked by :func:`check_disposition`."""

    uniqueid: str
    entered: float
    queue: str
    agent: str
    code: str
    label: str
    caller_number: str = ""
    note: str = ""
    callback_at: float | None = None
    do_not_call: bool = False
    source: str = "page"  # page | dtmf


def check_disposition(entry: CallDisposition) -> CallDisposition:
    """``entry`` as given; FirmwareError naming the first bad field (nothing stored)."""
    for name in ("uniqueid", "queue", "agent", "code", "label", "caller_number"):
        value = getattr(entry, name)
        if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
            raise FirmwareError(f"disposition.{name}: expected printable text up to {MAX_TEXT} characters")
    if not entry.uniqueid or not entry.code:
        raise FirmwareError("disposition: a uniqueid and a code are needed")
    if not isinstance(entry.note, str) or len(entry.note) > MAX_NOTE or not entry.note.replace("\n", " ").isprintable():
        raise FirmwareError(f"disposition.note: expected printable text up to {MAX_NOTE} characters")
    for name in ("entered", "callback_at"):
        value = getattr(entry, name)
        if value is None and name == "callback_at":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise FirmwareError(f"disposition.{name}: expected epoch seconds, got {value!r}")
    if entry.source not in ("page", "dtmf"):
        raise FirmwareError(f"disposition.source: expected page or dtmf, got {entry.source!r}")
    return entry


class CdrStore:
    """The CDR table; may share the database file with the configuration.

    Besides finished calls it keeps the boot counter (:meth:`start_boot`) and the open rows
    of answered calls in progress (:meth:`open_calls`), from which :meth:`recover_open`
    makes cut-short records at the next start.
    """

    def __init__(self, path: str | Path, log: EventLogger | None = None) -> None:
        self.path = Path(path)
        self.log = log or EventLogger("cdr")
        self.conn = connect(self.path)
        try:
            migrate(self.conn, COMPONENT, MIGRATIONS)
        except FirmwareError:
            self.conn.close()
            raise
        self.db = sqlite_utils.Database(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> CdrStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_boot(self) -> int:
        """Counts one more start of the engine (committed) and returns its number, 1, 2, …"""
        try:
            with transaction(self.conn):
                self.conn.execute("INSERT INTO cdr_boot (id, boot) VALUES (1, 1)"
                                  " ON CONFLICT (id) DO UPDATE SET boot = boot + 1")
                boot = int(self.conn.execute("SELECT boot FROM cdr_boot WHERE id = 1").fetchone()[0])
        except sqlite3.Error as exc:
            raise FirmwareError(f"cdr: cannot count this start: {exc}") from exc
        self.log.info("cdr_boot", boot=boot)
        return boot

    def record(self, record: CallRecord) -> int:
        """Stores one call (and drops its open row); when this returns it is committed. Returns its id."""
        checked = check_record(record)
        try:
            with transaction(self.conn):
                row_id = self._insert(checked)
                self.conn.execute("DELETE FROM cdr_open WHERE uniqueid = ?", (checked.uniqueid,))
        except sqlite3.Error as exc:
            raise FirmwareError(f"cdr {checked.uniqueid}: cannot store: {exc}") from exc
        self.log.info("cdr_stored", uniqueid=checked.uniqueid, disposition=checked.disposition.value,
                      duration=checked.duration)
        return row_id

    def record_once(self, record: CallRecord) -> bool:
        """Stores ``record`` unless the very same record is stored already (a replay): True if
        it was written now. A different record under the same uniqueid is a FirmwareError."""
        checked = check_record(record)
        try:
            stored = self.find(checked.uniqueid)
            if stored == checked:
                self.conn.execute("DELETE FROM cdr_open WHERE uniqueid = ?", (checked.uniqueid,))
                return False
        except sqlite3.Error as exc:
            raise FirmwareError(f"cdr {checked.uniqueid}: cannot store: {exc}") from exc
        if stored is not None:
            raise FirmwareError(f"cdr {checked.uniqueid}: another call is stored under this uniqueid")
        self.record(checked)
        return True

    def _insert(self, checked: CallRecord) -> int:
        row = {**asdict(checked), "duration": checked.duration, "billsec": checked.billsec}
        row.update({name: str(row[name]) for name in ("disposition", "hangup_by", "amaflags")})
        columns = ", ".join(f'"{name}"' for name in row)
        marks = ", ".join("?" for _ in row)
        cursor = self.conn.execute(f"INSERT INTO cdr ({columns}) VALUES ({marks})", tuple(row.values()))
        return int(cursor.lastrowid)

    def open_calls(self, boot: int, records: Iterable[CallRecord]) -> None:
        """Writes (or updates) the open rows of answered calls in progress, in one transaction:
        each as it would be recorded if the engine died now."""
        checked = [check_record(record) for record in records]
        try:
            with transaction(self.conn):
                for record in checked:
                    self.conn.execute(
                        "INSERT INTO cdr_open (uniqueid, boot, record) VALUES (?, ?, ?)"
                        " ON CONFLICT (uniqueid) DO UPDATE SET boot = excluded.boot, record = excluded.record",
                        (record.uniqueid, boot, record_to_json(record)))
        except sqlite3.Error as exc:
            raise FirmwareError(f"cdr: cannot write {len(checked)} open call(s): {exc}") from exc

    def open_records(self) -> list[tuple[int, str, str]]:
        """The open rows: (boot, uniqueid, JSON record as of its last heartbeat), oldest call first."""
        try:
            rows = self.conn.execute("SELECT boot, uniqueid, record FROM cdr_open ORDER BY rowid").fetchall()
        except sqlite3.Error as exc:
            raise FirmwareError(f"cdr: cannot read the open calls: {exc}") from exc
        return [(int(boot), str(uniqueid), str(text)) for boot, uniqueid, text in rows]

    def recover_open(self, boot: int) -> list[CallRecord]:
        """Open rows left by starts before ``boot`` (the engine died during those calls)
        become cut-short call records (:func:`cut_short`); returns those written now. A row
        that cannot be made a record stays where it is, with an error line."""
        recovered = []
        for row_boot, uniqueid, text in self.open_records():
            if row_boot >= boot:
                continue
            try:
                short = cut_short(record_from_json(text))
                if self.record_once(short):
                    recovered.append(short)
                    self.log.warning("cdr_cut_short", uniqueid=short.uniqueid, boot=row_boot,
                                     duration=short.duration)
            except FirmwareError as exc:
                self.log.error("cdr_open_kept", uniqueid=uniqueid, boot=row_boot, error=str(exc))
        return recovered

    def dispose(self, entry: CallDisposition) -> None:
        """Stores the agent's outcome of a call (a second one for the same call replaces the
        first: the agent corrected it); committed when this returns."""
        checked = check_disposition(entry)
        row = asdict(checked)
        row["do_not_call"] = int(checked.do_not_call)
        columns = ", ".join(row)
        try:
            with transaction(self.conn):
                self.conn.execute(f"INSERT OR REPLACE INTO cdr_disposition ({columns})"
                                  f" VALUES ({', '.join('?' for _ in row)})", tuple(row.values()))
        except sqlite3.Error as exc:
            raise FirmwareError(f"cdr {checked.uniqueid}: cannot store the disposition: {exc}") from exc
        self.log.info("cdr_disposition", uniqueid=checked.uniqueid, code=checked.code, agent=checked.agent,
                      source=checked.source)

    def disposition(self, uniqueid: str) -> CallDisposition | None:
        return next(self._dispositions("SELECT * FROM cdr_disposition WHERE uniqueid = ?", [uniqueid]), None)

    def dispositions(self, caller_number: str, limit: int = 20) -> list[CallDisposition]:
        """The latest dispositions of calls from ``caller_number``, newest first."""
        return list(self._dispositions("SELECT * FROM cdr_disposition WHERE caller_number = ?"
                                       " ORDER BY entered DESC LIMIT ?", [caller_number, limit]))

    def do_not_call_numbers(self) -> list[str]:
        """Numbers an agent marked do-not-call (for the campaign dialler's DNC list), oldest first."""
        return [str(number) for (number,) in self.conn.execute(
            "SELECT caller_number FROM cdr_disposition WHERE do_not_call = 1 AND caller_number != ''"
            " GROUP BY caller_number ORDER BY MIN(entered)")]

    def calls_from(self, caller_number: str, limit: int = 20) -> list[CallRecord]:
        """The latest calls from ``caller_number``, newest first (an agent's screen pop)."""
        return list(self._rows("SELECT * FROM cdr WHERE caller_number = ? ORDER BY start DESC, id DESC LIMIT ?",
                               [caller_number, limit]))

    def _dispositions(self, sql: str, params: list) -> Iterator[CallDisposition]:
        for row in list(self.db.query(sql, params)):
            row["do_not_call"] = bool(row["do_not_call"])
            yield CallDisposition(**row)

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM cdr").fetchone()[0])

    def find(self, uniqueid: str) -> CallRecord | None:
        """The stored record of ``uniqueid``, if any."""
        return next(self._rows("SELECT * FROM cdr WHERE uniqueid = ?", [uniqueid]), None)

    def records(self, since: float | None = None, until: float | None = None) -> Iterator[CallRecord]:
        """Records whose start is in [since, until), oldest first."""
        where, params = [], []
        if since is not None:
            where.append("start >= ?")
            params.append(since)
        if until is not None:
            where.append("start < ?")
            params.append(until)
        sql = "SELECT * FROM cdr" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY start, id"
        return self._rows(sql, params)

    def _rows(self, sql: str, params: list) -> Iterator[CallRecord]:
        names = {f.name for f in fields(CallRecord)}
        for row in list(self.db.query(sql, params)):
            values = {key: value for key, value in row.items() if key in names}
            values["disposition"] = Disposition(values["disposition"])
            values["hangup_by"] = HangupBy(values["hangup_by"])
            values["amaflags"] = AmaFlags(values["amaflags"])
            yield CallRecord(**values)


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _date(epoch: float | None, tz: dt.tzinfo) -> str:
    if epoch is None:
        return ""
    return _quoted(dt.datetime.fromtimestamp(epoch, tz).strftime(DATE_FORMAT))


def clid(name: str, number: str) -> str:
    """Asterisk's CALLERID(all) form: ``"Name" <number>``, or the one that is present."""
    if name and number:
        return f'"{name}" <{number}>'
    return name or number


def channel(port: int | None, extension: str) -> str:
    """``FXS/2`` for an extension's port, ``FXO/0`` for a line; "" without a port."""
    if port is None:
        return ""
    return f"{'FXS' if extension else 'FXO'}/{port}"


def master_csv_line(record: CallRecord, tz: dt.tzinfo) -> str:
    """One Master.csv line (with its newline) for ``record``, times in ``tz``."""
    fields_out = [
        _quoted(record.accountcode),
        _quoted(record.caller_number),
        _quoted(record.dst),
        _quoted(record.context),
        _quoted(clid(record.caller_name, record.caller_number)),
        _quoted(channel(record.src_port, record.src_extension)),
        _quoted(channel(record.dst_port, record.dst_extension)),
        _quoted(record.lastapp),
        _quoted(record.lastdata),
        _date(record.start, tz),
        _date(record.answer, tz),
        _date(record.end, tz),
        str(record.duration),
        str(record.billsec),
        _quoted(str(record.disposition)),
        _quoted(str(record.amaflags)),
        _quoted(record.uniqueid),
        _quoted(record.userfield),
    ]
    assert len(fields_out) == len(MASTER_CSV_COLUMNS)
    return ",".join(fields_out) + "\n"


def write_master_csv(records: Iterable[CallRecord], out: TextIO, tz: dt.tzinfo = dt.UTC,
                     header: bool = False) -> int:
    """Writes ``records`` as Master.csv to ``out``; returns how many. ``header`` adds column names."""
    if header:
        out.write(",".join(MASTER_CSV_COLUMNS) + "\n")
    count = 0
    for record in records:
        out.write(master_csv_line(record, tz))
        count += 1
    return count
