"""The contact store: the contacts in their own SQLite tables, found by index, never loaded whole.

A contact centre's list is tens of thousands of records, so the contacts are data beside the
configuration, not part of its document (config migration 17): the tables live in the
configuration database file (a backup of it carries them) but the configuration store neither
reads nor writes them, and ``linebox config export`` leaves them out (docs/configuration.md,
"Contacts").

- ``contacts``: one row a contact (``position`` is its id and keeps the imported order);
  numbers (JSON list, E.164), account, language, notes, free fields (JSON object);
- ``contact_numbers``: each number in E.164 -> its contact (primary key: a number belongs to
  one contact); the lookup by caller ID is one indexed read;
- indexes on the account (the lookup by account) and on the name (case-insensitive: the
  search's pages, in name order); ``folded``: name, account and fields' text case-folded,
  what a search by a part of them scans;
- ``contacts_revision``: a counter bumped by every change, so a report shown before a
  confirmation can tell that the contacts changed meanwhile.

Lookups (:meth:`by_number`, :meth:`by_account`) read one contact; :meth:`search` reads one
page; :meth:`each` streams every contact in batches (the CSV export); :meth:`store` writes
an import in ONE transaction after checking it again inside it (all or nothing). The store
keeps at most :data:`MAX_CONTACTS` contacts: the product's limit, checked at import.

One connection, used under a lock from any thread (the media loop's IVR lookup, the web
admin's request threads); WAL lets readers in other processes go on during an import.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from firmware import FirmwareError
from firmware.config import schema
from firmware.config.db import connect, migrate, transaction
from firmware.config.model import Contact
from firmware.numbers import try_e164

MAX_CONTACTS = 200_000
"""The product's limit: a contact centre's list (tens of thousands) with room to spare; the
number index of 200,000 contacts with two numbers each is about 20 MB on disk."""
EXPORT_BATCH = 500  # rows read at a time while streaming an export
MAX_PAGE = 500

_COLUMNS = "position, name, numbers, account, fields, language, notes"
_JOINED_COLUMNS = ", ".join(f"c.{name.strip()}" for name in _COLUMNS.split(","))  # of ``contacts c`` in a join


def _contact(row: tuple) -> Contact:
    _, name, numbers, account, fields, language, notes = row
    return Contact(name=name, numbers=tuple(json.loads(numbers)), account=account,
                   fields=tuple(json.loads(fields).items()), language=language, notes=notes)


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere (its own ``%``, ``_`` and ``\\`` escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ContactStore:
    def __init__(self, path: str | Path, max_contacts: int = MAX_CONTACTS) -> None:
        self.path = Path(path)
        self.max_contacts = max_contacts  # MAX_CONTACTS; smaller in tests of the limit
        self._lock = threading.RLock()
        self.conn = connect(self.path)
        try:
            migrate(self.conn, schema.COMPONENT, schema.MIGRATIONS)
        except FirmwareError:
            self.conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> ContactStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, sql: str, args: Sequence[object] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self.conn.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise FirmwareError(f"contacts: cannot read {self.path}: {exc}") from exc

    # ------------------------------------------------------------------ reading
    def count(self) -> int:
        return int(self._read("SELECT COUNT(*) FROM contacts")[0][0])

    def revision(self) -> int:
        return int(self._read("SELECT value FROM contacts_revision WHERE id = 1")[0][0])

    def by_number(self, number: str, zone: str) -> Contact | None:
        """The contact with ``number`` (a caller ID as received, in any written form), compared in
        E.164 read in ``zone`` (``02079460000`` in zone uk finds ``+442079460000``)."""
        if not number:
            return None
        rows = self._read(f"SELECT {_JOINED_COLUMNS} FROM contact_numbers n JOIN contacts c ON c.position = n.contact"
                          " WHERE n.number = ?",
                          (try_e164(number, zone) or number,))
        return _contact(rows[0]) if rows else None

    def by_account(self, account: str) -> Contact | None:
        if not account:
            return None
        rows = self._read(f"SELECT {_COLUMNS} FROM contacts WHERE account = ? ORDER BY position LIMIT 1", (account,))
        return _contact(rows[0]) if rows else None

    def owner(self, key: str) -> str | None:
        """The name of the contact that has ``key`` (an E.164 number, or ``account N``), or None."""
        if key.startswith("account "):
            rows = self._read("SELECT name FROM contacts WHERE account = ? LIMIT 1", (key.removeprefix("account "),))
        else:
            rows = self._read("SELECT c.name FROM contact_numbers n JOIN contacts c ON c.position = n.contact"
                              " WHERE n.number = ?", (key,))
        return rows[0][0] if rows else None

    def search(self, query: str, zone: str, offset: int = 0, limit: int = 50) -> tuple[list[Contact], int]:
        """One page of the contacts ``query`` finds, by name (the name index gives the order, so a
        page is read without sorting the table), and how many it finds in all.

        A query that is a whole number in any written form finds its contact by the number index
        (``030 123456`` finds ``+4930123456`` in zone de); otherwise a part of the name (any
        case, any script), of the account, of a free field's text (one scan of their case-folded
        text), or 3 or more digits of a number (``555 01`` finds ``+12125550100``)."""
        limit = max(1, min(limit, MAX_PAGE))
        offset = max(0, offset)
        text = query.strip()
        if not text:
            where, args = "", []
        elif (number := try_e164(text, zone)) is not None:
            where, args = " WHERE position IN (SELECT contact FROM contact_numbers WHERE number = ?)", [number]
        else:
            where, args = " WHERE folded LIKE ? ESCAPE '\\'", [_like(text.casefold())]
            digits = "".join(ch for ch in text if ch.isdigit())
            if len(digits) >= 3 and not any(ch.isalpha() for ch in text):
                where += " OR position IN (SELECT contact FROM contact_numbers WHERE number LIKE ?)"
                args.append(f"%{digits}%")
        total = int(self._read(f"SELECT COUNT(*) FROM contacts{where}", args)[0][0])
        rows = self._read(f"SELECT {_COLUMNS} FROM contacts{where} ORDER BY name COLLATE NOCASE, position"
                          " LIMIT ? OFFSET ?",
                          [*args, limit, offset])
        return [_contact(row) for row in rows], total

    def each(self) -> Iterator[Contact]:
        """Every contact in stored order, read :data:`EXPORT_BATCH` at a time (an export streams it)."""
        after = -1
        while True:
            rows = self._read(f"SELECT {_COLUMNS} FROM contacts WHERE position > ? ORDER BY position LIMIT ?",
                              (after, EXPORT_BATCH))
            yield from (_contact(row) for row in rows)
            if len(rows) < EXPORT_BATCH:
                return
            after = rows[-1][0]

    def field_names(self) -> list[str]:
        """Every free field's name, in the order first seen (the export's extra columns)."""
        names: list[str] = []
        for (fields,) in self._read("SELECT DISTINCT fields FROM contacts WHERE fields != '{}'"):
            for name in json.loads(fields):
                if name not in names:
                    names.append(name)
        return names

    # ------------------------------------------------------------------ writing
    def store(self, check: Callable[[ContactStore], Sequence[Contact]], replace: bool) -> int:
        """Stores what ``check`` returns -- called inside the write transaction, after the stored
        contacts are deleted when ``replace``, so it judges duplicates against what will stay --
        all of it or nothing (``check`` raises FirmwareError to refuse). Returns the new revision."""
        with self._lock:
            try:
                with transaction(self.conn):
                    if replace:
                        self.conn.execute("DELETE FROM contact_numbers")
                        self.conn.execute("DELETE FROM contacts")
                    contacts = check(self)
                    if self.count() + len(contacts) > self.max_contacts:
                        raise FirmwareError(f"{self.count()} stored + {len(contacts)} new contacts: the box holds "
                                            f"at most {self.max_contacts}")
                    start = int(self.conn.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM contacts")
                                .fetchone()[0])
                    self.conn.executemany(
                        f"INSERT INTO contacts ({_COLUMNS}, folded) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        ((start + index, c.name, json.dumps(list(c.numbers)), c.account,
                          json.dumps(dict(c.fields), ensure_ascii=False), c.language, c.notes,
                          schema.folded_text(c.name, c.account, (value for _, value in c.fields)))
                         for index, c in enumerate(contacts)))
                    self.conn.executemany(
                        "INSERT INTO contact_numbers (number, contact) VALUES (?, ?)",
                        ((number, start + index) for index, c in enumerate(contacts) for number in c.numbers))
                    self.conn.execute("UPDATE contacts_revision SET value = value + 1 WHERE id = 1")
                    return self.revision()
            except sqlite3.IntegrityError as exc:
                raise FirmwareError(f"contacts: nothing stored: a number is given twice ({exc})") from exc
            except sqlite3.Error as exc:
                raise FirmwareError(f"contacts: nothing stored in {self.path}: {exc}") from exc

    def add(self, contacts: Sequence[Contact], zone: str, replace: bool = False) -> int:
        """Stores ``contacts`` (each checked by the configuration's rules for a contact), their
        numbers in E.164 read in ``zone``; a number another contact has refuses them all."""
        normalised = [dataclasses.replace(c, numbers=tuple(dict.fromkeys(try_e164(n, zone) or n for n in c.numbers)))
                      for c in contacts]
        return self.store(lambda _store: normalised, replace)
