"""The contacts as a CSV file, streamed from the contact store a batch at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from firmware.config.model import Contact
from firmware.contacts.csvfile import write_table
from firmware.contacts.store import ContactStore

BASE_COLUMNS = ("name", "numbers", "account", "language", "notes")
MAX_QUERY_CHARS = 64
CHUNK_ROWS = 500  # contacts per piece of CSV text handed to the writer (a response, a file)


def _row(contact: Contact, fields: list[str]) -> list[str]:
    own = dict(contact.fields)
    return [contact.name, "; ".join(contact.numbers), contact.account, contact.language, contact.notes,
            *(own.get(name, "") for name in fields)]


def csv_chunks(contacts: Iterable[Contact], fields: list[str]) -> Iterator[str]:
    """CSV text of ``contacts`` in pieces: the columns the import reads (numbers joined with
    ``; ``), then the free ``fields``; importing it again gives the same contacts. Only one
    piece is in memory at a time, whatever the number of contacts."""
    header = True
    batch: list[list[str]] = []
    for contact in contacts:
        batch.append(_row(contact, fields))
        if len(batch) == CHUNK_ROWS:
            yield _text(batch, fields, header)
            header, batch = False, []
    if batch or header:
        yield _text(batch, fields, header)


def _text(rows: list[list[str]], fields: list[str], header: bool) -> str:
    text = write_table([*BASE_COLUMNS, *fields], rows)
    return text if header else text.split("\r\n", 1)[1]


def export_csv(store: ContactStore) -> Iterator[str]:
    """The store's contacts as CSV pieces (:func:`csv_chunks`)."""
    return csv_chunks(store.each(), store.field_names())


def contacts_csv(contacts: Iterable[Contact]) -> str:
    """All of ``contacts`` as one CSV text (small lists; the store streams with :func:`export_csv`)."""
    contacts = list(contacts)
    fields: list[str] = []
    for contact in contacts:
        fields += [name for name, _ in contact.fields if name not in fields]
    return "".join(csv_chunks(contacts, fields))
