"""Lead hygiene for outbound campaigns: valid numbers, no duplicates, no do-not-call numbers.

Before a campaign dials a lead list, :func:`check_leads` reads every row's number in the
box's zone (:mod:`firmware.numbers`, E.164), and sorts each row into exactly one of:

- ``invalid``: the number is missing or not a valid number for the country;
- ``duplicates``: a valid number (in any written form) an earlier row already has;
- ``dnc``: a valid, first-seen number on the do-not-call list (a Robinson list);
- callable: the rest, the leads the campaign may dial.

So ``rows == valid + invalid`` and ``callable == valid - duplicates - dnc``. Every problem
names the row's CSV line.

The do-not-call list is :class:`DncList`, a table of E.164 numbers in the box's SQLite
database (component ``dnc``), filled from a CSV file (:meth:`DncList.import_table`), by
hand (:meth:`DncList.add`), or when a call is dispositioned "do not call".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from firmware import FirmwareError
from firmware.config.db import Migration, connect, migrate, transaction
from firmware.contacts.csvfile import CsvRow, CsvTable
from firmware.numbers import plan_for, to_e164, try_e164

NUMBER_COLUMNS = ("number", "phone", "numbers", "telephone", "mobile")
"""The column a lead's number is read from: the first of these the file has (names in any case)."""
MAX_LISTED_PROBLEMS = 1000
"""Problems kept in a report (the counts count them all)."""
MAX_SOURCE_CHARS = 80


class LeadProblemKind(StrEnum):
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    DNC = "dnc"


@dataclass(frozen=True)
class Lead:
    """A callable lead: its CSV line, its number in E.164, and its whole row (for the script)."""

    line: int
    number: str
    row: Mapping[str, str]


@dataclass(frozen=True)
class LeadProblem:
    line: int
    kind: LeadProblemKind
    number: str
    """The number as written in the file."""
    message: str
    """One line: ``too short for de: 5 digits ...``, ``same number as line 4``, ``on the do-not-call list``."""

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class LeadReport:
    rows: int
    valid: int
    invalid: int
    duplicates: int
    dnc: int
    callable: int
    leads: tuple[Lead, ...]
    """The callable leads, in the file's order."""
    problems: tuple[LeadProblem, ...]
    """Every row left out and why (the first :data:`MAX_LISTED_PROBLEMS`)."""

    def counts(self) -> dict[str, int]:
        """``{"rows", "valid", "invalid", "duplicates", "dnc", "callable"}`` (the issue's JSON)."""
        return {"rows": self.rows, "valid": self.valid, "invalid": self.invalid, "duplicates": self.duplicates,
                "dnc": self.dnc, "callable": self.callable}

    def as_dict(self) -> dict[str, Any]:
        """The counts, then ``problems``: ``[{"line", "kind", "number", "message"}]``."""
        return {**self.counts(), "problems": [{"line": p.line, "kind": p.kind.value, "number": p.number,
                                               "message": p.message} for p in self.problems]}


def number_column(columns: Iterable[str]) -> str:
    """The column of ``columns`` that holds the numbers (:data:`NUMBER_COLUMNS`), as spelt there;
    FirmwareError when there is none."""
    spelt = {name.strip().lower(): name for name in columns}
    for name in NUMBER_COLUMNS:
        if name in spelt:
            return spelt[name]
    raise FirmwareError(f"no number column (one of {', '.join(NUMBER_COLUMNS)}; the file has "
                        f"{', '.join(sorted(spelt)) or 'none'})")


def check_leads(rows: Sequence[Mapping[str, str] | CsvRow], zone: str, dnc_numbers: Collection[str],
                column: str | None = None) -> LeadReport:
    """The hygiene report of a lead list for a box in ``zone`` (pure: reads and stores nothing).

    ``rows``: the rows of a CSV file, either dicts (``csv.DictReader``'s; row ``i`` is taken to
    be on line ``i + 2``, under a one-line header) or :class:`~firmware.contacts.csvfile.CsvRow`
    (from :func:`~firmware.contacts.csvfile.read_table`, with their real lines, blank lines and
    quoted line breaks counted). ``dnc_numbers``: the do-not-call numbers (``DncList.numbers()``;
    any written form is read in ``zone``). ``column``: the number column (default: found by
    :func:`number_column`). FirmwareError for an unknown zone or no number column.
    """
    plan_for(zone)  # an unknown zone is refused even for an empty list
    dnc = {try_e164(number, zone) or number for number in dnc_numbers}
    items = [(row.line, row.values) if isinstance(row, CsvRow) else (index + 2, row)
             for index, row in enumerate(rows)]
    if column is None:
        column = number_column(items[0][1].keys()) if items else NUMBER_COLUMNS[0]
    seen: dict[str, int] = {}
    leads: list[Lead] = []
    problems: list[LeadProblem] = []
    invalid = duplicates = on_dnc = 0
    for line, values in items:
        written = str(values.get(column) or "").strip()
        try:
            number = to_e164(written, zone)
        except FirmwareError as exc:
            invalid += 1
            problems.append(LeadProblem(line, LeadProblemKind.INVALID, written, str(exc)))
            continue
        if number in seen:
            duplicates += 1
            problems.append(LeadProblem(line, LeadProblemKind.DUPLICATE, written,
                                        f"{number}: same number as line {seen[number]}"))
            continue
        seen[number] = line
        if number in dnc:
            on_dnc += 1
            problems.append(LeadProblem(line, LeadProblemKind.DNC, written, f"{number}: on the do-not-call list"))
            continue
        leads.append(Lead(line, number, dict(values)))
    valid = len(items) - invalid
    return LeadReport(len(items), valid, invalid, duplicates, on_dnc, len(leads), tuple(leads),
                      tuple(problems[:MAX_LISTED_PROBLEMS]))


# -- the do-not-call list ------------------------------------------------------------------------

COMPONENT = "dnc"
MIGRATIONS = (
    Migration(1, "do-not-call list", (
        "CREATE TABLE dnc_numbers ("
        " number TEXT PRIMARY KEY,"  # E.164
        " source TEXT NOT NULL DEFAULT '',"  # where it came from: a file, a disposition, a person
        " added REAL NOT NULL DEFAULT 0)",  # epoch seconds, given by the caller (0: not known)
    )),
)


@dataclass(frozen=True)
class DncImport:
    rows: int
    added: int
    already: int
    """Valid numbers that were on the list already (or earlier in the file)."""
    invalid: int
    problems: tuple[LeadProblem, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "added": self.added, "already": self.already, "invalid": self.invalid,
                "problems": [{"line": p.line, "number": p.number, "message": p.message} for p in self.problems]}


class DncList:
    """The do-not-call numbers in SQLite (the box's database; its own table and migrations).

    Numbers go in and are checked in any written form, read in the zone given, and are kept
    in E.164. Thread-safe as the connection is (one statement or transaction at a time)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        migrate(self._conn, COMPONENT, MIGRATIONS)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> DncList:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _execute(self, sql: str, parameters: tuple = ()) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, parameters)
        except sqlite3.Error as exc:
            raise FirmwareError(f"do-not-call list {self.path}: {exc}") from exc

    def add(self, number: str, zone: str, source: str = "", when: float = 0.0) -> bool:
        """Puts ``number`` on the list; True if it was not on it. FirmwareError (one line) for a
        number that is not valid in ``zone``."""
        e164 = to_e164(number, zone)
        cursor = self._execute("INSERT OR IGNORE INTO dnc_numbers (number, source, added) VALUES (?, ?, ?)",
                               (e164, source[:MAX_SOURCE_CHARS], when))
        return cursor.rowcount == 1

    def remove(self, number: str, zone: str) -> bool:
        """Takes ``number`` off the list; True if it was on it."""
        return self._execute("DELETE FROM dnc_numbers WHERE number = ?", (to_e164(number, zone),)).rowcount == 1

    def contains(self, number: str, zone: str) -> bool:
        """Is ``number`` (any written form) on the list? False for what is not a valid number."""
        e164 = try_e164(number, zone)
        return e164 is not None and self._execute(
            "SELECT 1 FROM dnc_numbers WHERE number = ?", (e164,)).fetchone() is not None

    def numbers(self) -> frozenset[str]:
        """Every number on the list, in E.164 (what :func:`check_leads` takes)."""
        return frozenset(row[0] for row in self._execute("SELECT number FROM dnc_numbers"))

    def count(self) -> int:
        return int(self._execute("SELECT COUNT(*) FROM dnc_numbers").fetchone()[0])

    def import_table(self, table: CsvTable, zone: str, source: str, when: float = 0.0) -> DncImport:
        """Adds the valid numbers of a CSV file (its number column, :func:`number_column`) in one
        transaction. Invalid numbers are reported with their lines and left out: they could not
        match a number dialled anyway."""
        column = number_column(table.columns)
        problems: list[LeadProblem] = []
        numbers: list[str] = []
        for row in table.rows:
            written = row.values.get(column, "")
            try:
                numbers.append(to_e164(written, zone))
            except FirmwareError as exc:
                problems.append(LeadProblem(row.line, LeadProblemKind.INVALID, written, str(exc)))
        added = 0
        try:
            with transaction(self._conn):
                for number in numbers:
                    added += self._conn.execute(
                        "INSERT OR IGNORE INTO dnc_numbers (number, source, added) VALUES (?, ?, ?)",
                        (number, source[:MAX_SOURCE_CHARS], when)).rowcount
        except sqlite3.Error as exc:
            raise FirmwareError(f"do-not-call list {self.path}: {exc}") from exc
        return DncImport(len(table.rows), added, len(numbers) - added, len(problems),
                         tuple(problems[:MAX_LISTED_PROBLEMS]))
