"""Contacts from a CSV file: a validation report first, then an all-or-nothing store.

The file (docs/configuration.md, "Contacts from CSV"): a header line, then one contact a
row. Columns, in any order, names in any case:

- ``name`` (required);
- ``numbers`` (required; also ``number``, ``phone``): one or more numbers separated by ``;``
  or ``|``, written as people write them (``(030) 123 456``, ``+49 30 123456``); each is
  stored in E.164 (:mod:`firmware.numbers`) read in the box's zone;
- ``account``, ``language`` (``es``, ``pt-BR``), ``notes``: optional;
- any other column is a free field of the contact (its name: a-z, 0-9, ``_``).

:func:`check_import` judges every row against the configuration's own rules for a contact
(:func:`firmware.config.ivrcodec.contact_from_dict`, the same as a YAML import) and the
zone's numbering plan, and finds duplicates -- a number or an account already used by an
earlier row or by a stored contact (asked of the contact store's indexes row by row) -- and
stores nothing: its :class:`ContactImport` has the counts and the problems with their CSV
lines (the first :data:`MAX_LISTED_PROBLEMS`). :func:`apply_import` checks again inside the
contact store's transaction (firmware/contacts/store.py) and stores the valid rows only if
there is no problem, or with ``skip_invalid`` the valid rows anyway: one transaction, all or
nothing. A running engine reads the store at each lookup: nothing to reload.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from firmware import FirmwareError
from firmware.config.ivrcodec import (
    MAX_CONTACT_FIELDS,
    MAX_CONTACT_NUMBERS,
    VARIABLE_RE,
    contact_from_dict,
)
from firmware.config.model import Contact
from firmware.contacts.csvfile import CsvTable
from firmware.contacts.store import MAX_CONTACTS, ContactStore
from firmware.numbers import to_e164

NUMBER_COLUMNS = ("numbers", "number", "phone")
KNOWN_COLUMNS = ("name", *NUMBER_COLUMNS, "account", "language", "notes")
_NUMBER_SEPARATORS = re.compile(r"[;|]")
_LANGUAGE = re.compile(r"([A-Za-z]{2})(?:[-_]([A-Za-z]{2}))?")
MAX_LISTED_PROBLEMS = 1000
"""Problems kept in a report (the counts count them all)."""
MAX_IMPORT_BYTES = 16 * 1024 * 1024
"""A contacts CSV file: 50,000 contacts with a few fields are about 5 MB."""


class ProblemKind(StrEnum):
    COLUMNS = "columns"  # the header: a required column missing, a column that cannot be a field
    INVALID = "invalid"  # a value the rules refuse (a number, a name, a language ...)
    DUPLICATE = "duplicate"  # a number or account of an earlier row or a stored contact
    LIMIT = "limit"  # more contacts than the store holds (MAX_CONTACTS)


@dataclass(frozen=True)
class Problem:
    line: int
    """The CSV line (1: the header)."""
    kind: ProblemKind
    message: str
    """One line, without the line number: ``numbers: too short for de: 5 digits, ...``."""

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True)
class ContactImport:
    """What a CSV file would change: the counts, the problems, and the contacts of the valid rows."""

    rows: int
    valid: int
    invalid: int
    duplicates: int
    problems: tuple[Problem, ...]
    contacts: tuple[Contact, ...]
    """The valid rows as contacts (numbers in E.164), in the file's order."""
    stored: int
    """Contacts stored before the import (all replaced by the file's when ``replace``)."""
    replace: bool
    encoding: str
    missing_columns: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        """A problem of the whole file (columns, limit): nothing can be stored, not even skipping rows."""
        return any(problem.kind in (ProblemKind.COLUMNS, ProblemKind.LIMIT) for problem in self.problems)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "valid": self.valid, "invalid": self.invalid, "duplicates": self.duplicates,
                "stored": self.stored, "replace": self.replace, "encoding": self.encoding,
                "missing_columns": list(self.missing_columns),
                "problems": [{"line": p.line, "kind": p.kind.value, "message": p.message} for p in self.problems]}


def _number_column(columns: Sequence[str]) -> str | None:
    return next((name for name in NUMBER_COLUMNS if name in columns), None)


def _header_problems(columns: Sequence[str]) -> tuple[list[str], list[Problem]]:
    missing = [name for name in ("name",) if name not in columns]
    if _number_column(columns) is None:
        missing.append("numbers")
    problems = [Problem(1, ProblemKind.COLUMNS, f"missing column {name!r}") for name in missing]
    numbers = [name for name in columns if name in NUMBER_COLUMNS]
    if len(numbers) > 1:
        problems.append(Problem(1, ProblemKind.COLUMNS, f"columns {' and '.join(numbers)}: use one of them"))
    fields = [name for name in columns if name not in KNOWN_COLUMNS]
    for name in fields:
        if not VARIABLE_RE.fullmatch(name):
            problems.append(Problem(1, ProblemKind.COLUMNS, f"column {name!r}: a free field's name is a-z, 0-9 "
                                    "and _, up to 32, starting with a letter"))
    if len(fields) > MAX_CONTACT_FIELDS:
        problems.append(Problem(1, ProblemKind.COLUMNS, f"{len(fields)} free-field columns, at most "
                                f"{MAX_CONTACT_FIELDS}"))
    return missing, problems


def _language(text: str) -> str:
    match = _LANGUAGE.fullmatch(text)
    if match is None:
        return text  # the configuration's rule refuses it, with its own message
    language, country = match.groups()
    return language.lower() + (f"_{country.upper()}" if country else "")


def _numbers(cell: str, zone: str) -> tuple[str, ...]:
    numbers: list[str] = []
    for written in _NUMBER_SEPARATORS.split(cell):
        if written.strip():
            try:
                number = to_e164(written, zone)
            except FirmwareError as exc:
                raise FirmwareError(f"numbers: {written.strip()!r}: {exc}") from None
            if number not in numbers:
                numbers.append(number)  # the same number written twice in one row: once
    if len(numbers) > MAX_CONTACT_NUMBERS:
        raise FirmwareError(f"numbers: {len(numbers)} numbers, at most {MAX_CONTACT_NUMBERS}")
    return tuple(numbers)


def _contact(values: dict[str, str], number_column: str, zone: str) -> Contact:
    """The row as a contact, by the configuration's own rules; FirmwareError naming the column."""
    numbers = _numbers(values[number_column], zone)
    if not values["name"]:
        raise FirmwareError("name: empty (every contact needs a name)")
    if not numbers and not values.get("account"):
        raise FirmwareError("numbers: empty, and no account (a contact is found by one or the other)")
    raw = {"name": values["name"], "numbers": list(numbers), "account": values.get("account", ""),
           "language": _language(values.get("language", "")), "notes": values.get("notes", ""),
           "fields": {name: value for name, value in values.items() if name not in KNOWN_COLUMNS and value}}
    return contact_from_dict(raw, "")


def _message(exc: FirmwareError) -> str:
    return str(exc).removeprefix(".").removeprefix(": ")


def check_import(table: CsvTable, zone: str, store: ContactStore | None = None, replace: bool = False,
                 stored: int | None = None) -> ContactImport:
    """The report of importing ``table`` into a box in ``zone`` whose contacts are ``store``
    (replaced by the file when ``replace``); stores nothing. Duplicates of stored contacts are
    found through the store's indexes, one row at a time (the stored contacts are never loaded).
    ``stored``: the count to report (inside :func:`apply_import`'s transaction, the count before)."""
    missing, problems = _header_problems(table.columns)
    count = store.count() if store is not None else 0
    stored = count if stored is None else stored
    kept = None if replace or count == 0 else store  # nothing stored stays: no duplicates to ask about
    if problems:
        return ContactImport(len(table.rows), 0, 0, 0, tuple(problems), (), stored, replace, table.encoding,
                             tuple(missing))
    number_column = _number_column(table.columns) or "numbers"
    owners: dict[str, str] = {}
    contacts: list[Contact] = []
    invalid = duplicates = 0
    for row in table.rows:
        try:
            contact = _contact(row.values, number_column, zone)
        except FirmwareError as exc:
            invalid += 1
            if len(problems) < MAX_LISTED_PROBLEMS:
                problems.append(Problem(row.line, ProblemKind.INVALID, _message(exc)))
            continue
        keys = [*contact.numbers, *([f"account {contact.account}"] if contact.account else [])]
        clashes = []
        for key in keys:
            if key in owners:
                clashes.append(f"{key} is {owners[key]}")
            elif kept is not None and (name := kept.owner(key)) is not None:
                clashes.append(f"{key} is already stored (contact {name!r})")
        if clashes:
            duplicates += 1
            if len(problems) < MAX_LISTED_PROBLEMS:
                problems.append(Problem(row.line, ProblemKind.DUPLICATE, "; ".join(clashes)))
            continue
        for key in keys:
            owners[key] = f"already on line {row.line}"
        contacts.append(contact)
    limit = store.max_contacts if store is not None else MAX_CONTACTS
    if (0 if replace else count) + len(contacts) > limit:
        problems.append(Problem(1, ProblemKind.LIMIT, f"{0 if replace else count} stored + {len(contacts)} new "
                                f"contacts: the box holds at most {limit}"))
    return ContactImport(len(table.rows), len(contacts), invalid, duplicates, tuple(problems),
                         tuple(contacts), stored, replace, table.encoding)


def refusal(report: ContactImport) -> str | None:
    """Why ``report`` cannot be stored as it is (one line), or None."""
    if report.refused:
        first = next(p for p in report.problems if p.kind in (ProblemKind.COLUMNS, ProblemKind.LIMIT))
        return f"nothing stored: {first}"
    if report.problems:
        return (f"nothing stored: {report.invalid} invalid and {report.duplicates} duplicate rows "
                f"(first: {report.problems[0]}); fix the file or skip the invalid rows")
    return None


def apply_import(store: ContactStore, table: CsvTable, zone: str, *, replace: bool = False,
                 skip_invalid: bool = False) -> ContactImport:
    """Stores the valid rows of ``table`` (after the stored contacts, or instead of them when
    ``replace``), checked again in the store's transaction: all of them or nothing (FirmwareError,
    one line). With ``skip_invalid`` the invalid and duplicate rows are left out instead."""
    reports: list[ContactImport] = []
    before = store.count()

    def check(inside: ContactStore) -> tuple[Contact, ...]:
        # inside the transaction the stored contacts are already deleted when replacing
        report = dataclasses.replace(check_import(table, zone, inside, False, before), replace=replace)
        reason = refusal(report)
        if reason is not None and (report.refused or not skip_invalid):
            raise FirmwareError(reason)
        reports.append(report)
        return report.contacts

    store.store(check, replace)
    return reports[-1]
