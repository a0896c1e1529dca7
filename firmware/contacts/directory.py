"""The contacts as a CSV file, and searching them (by name, number or account)."""

from __future__ import annotations

from collections.abc import Sequence

from firmware.config.model import Contact
from firmware.contacts.csvfile import write_table
from firmware.numbers import try_e164

BASE_COLUMNS = ("name", "numbers", "account", "language", "notes")
MAX_QUERY_CHARS = 64


def contacts_csv(contacts: Sequence[Contact]) -> str:
    """CSV text of ``contacts``: the columns the import reads (numbers joined with ``; ``), then
    every free field in the order first seen; importing it again gives the same contacts."""
    fields: list[str] = []
    for contact in contacts:
        for name, _ in contact.fields:
            if name not in fields:
                fields.append(name)
    rows = []
    for contact in contacts:
        own = dict(contact.fields)
        rows.append([contact.name, "; ".join(contact.numbers), contact.account, contact.language, contact.notes,
                     *(own.get(name, "") for name in fields)])
    return write_table([*BASE_COLUMNS, *fields], rows)


def matches(contact: Contact, query: str, zone: str) -> bool:
    """Does ``query`` find ``contact``? A substring of its name (any case), account or a free
    field's text; or of one of its numbers: a query that is a whole number in any written form
    is compared in E.164 (``030 123456`` finds ``+4930123456`` in zone de), else its digits are
    looked for in the E.164 numbers (``555 01`` finds ``+12125550100``)."""
    text = query.strip().casefold()
    if not text:
        return True
    if text in contact.name.casefold() or text in contact.account or \
            any(text in value.casefold() for _, value in contact.fields):
        return True
    stored = [try_e164(each, zone) or each for each in contact.numbers]  # E.164, also numbers stored before
    number = try_e164(query, zone)
    if number is not None:
        return number in stored
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) < 3 or any(ch.isalpha() for ch in text):
        return False
    return any(digits in each for each in stored)


def search(contacts: Sequence[Contact], query: str, zone: str, limit: int = 100) -> list[Contact]:
    """The first ``limit`` contacts ``query`` finds (:func:`matches`), in stored order."""
    query = query[:MAX_QUERY_CHARS]
    found = []
    for contact in contacts:
        if matches(contact, query, zone):
            found.append(contact)
            if len(found) == limit:
                break
    return found
