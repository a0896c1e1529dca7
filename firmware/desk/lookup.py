"""The screen pop's contact: the one place the desk asks "who is this caller?".

First an account number the IVR collected (its lookup or collect node's variable named
``account``, or any collected value that is a contact's account), then the caller ID among a
contact's numbers (compared in E.164, read in the box's zone). The contacts are the contact
store's (firmware/contacts/store.py): each question is one indexed read, the same the IVR's
lookup node asks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from firmware import FirmwareError
from firmware.config.model import Contact

ACCOUNT_VARIABLE = "account"


class ContactLookup(Protocol):
    """What the desk and the IVR ask of the contacts (:class:`firmware.contacts.store.ContactStore`)."""

    def by_number(self, number: str, zone: str) -> Contact | None: ...

    def by_account(self, account: str) -> Contact | None: ...


def find_contact(contacts: ContactLookup, zone: str, number: str, variables: Mapping[str, str]) -> Contact | None:
    account = variables.get(ACCOUNT_VARIABLE, "")
    candidates = [account] if account else []
    candidates += [value for name, value in variables.items() if name != ACCOUNT_VARIABLE and value]
    for value in candidates:
        if value.isdigit():  # accounts are digits (ivrcodec.ACCOUNT_RE): other values are no account
            contact = contacts.by_account(value)
            if contact is not None:
                return contact
    return contacts.by_number(number, zone) if number else None


def contact_language(contacts: ContactLookup | None, zone: str, number: str) -> str:
    """The language of the contact whose numbers hold ``number`` ('' when none is known, or the
    store cannot be read: the caller then hears the route's, the line's or the box's language)."""
    if contacts is None or not number:
        return ""
    try:
        contact = contacts.by_number(number, zone)
    except FirmwareError:
        return ""  # an unreadable store is logged where it is read for a lookup; a language is no reason to fail
    return contact.language if contact is not None else ""
