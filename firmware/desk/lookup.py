"""The screen pop's contact: the one place the desk asks "who is this caller?".

First an account number the IVR collected (its lookup or collect node's variable named
``account``, or any collected value that is a contact's account), then the caller ID among a
contact's numbers. The contacts come from the configuration (``contacts:``); should they
move to a store of their own, only this function changes.
"""

from __future__ import annotations

from collections.abc import Mapping

from firmware.config.model import Config, Contact

ACCOUNT_VARIABLE = "account"


def find_contact(config: Config, number: str, variables: Mapping[str, str]) -> Contact | None:
    account = variables.get(ACCOUNT_VARIABLE, "")
    candidates = [account] if account else []
    candidates += [value for name, value in variables.items() if name != ACCOUNT_VARIABLE and value]
    for value in candidates:
        contact = config.contact_by_account(value)
        if contact is not None:
            return contact
    return config.contact_by_number(number) if number else None
