"""A call script with the caller's fields filled in (docs/configuration.md ``queues[].desk.script``).

The placeholders were checked when the configuration was stored
(:data:`firmware.config.deskcodec.PLACEHOLDER_RE`); here each is replaced by its value, and a
value nobody knows (no contact found, no such IVR variable) by :data:`UNKNOWN`, so the agent
sees where something is missing rather than a blank.
"""

from __future__ import annotations

from collections.abc import Mapping

from firmware.config.deskcodec import PLACEHOLDER_RE
from firmware.config.model import Contact

UNKNOWN = "…"


def caller_values(contact: Contact | None, number: str, variables: Mapping[str, str], queue: str = "",
                  agent: str = "") -> dict[str, str]:
    """The values a script may name: ``name``, ``number``, ``account``, ``queue``, ``agent``,
    ``field.X`` (the contact's free fields) and ``var.X`` (what the IVR collected)."""
    values = {"number": number, "queue": queue, "agent": agent}
    account = variables.get("account", "")
    if contact is not None:
        values["name"] = contact.name
        account = contact.account or account
        values.update({f"field.{name}": text for name, text in contact.fields})
    values["account"] = account
    values.update({f"var.{name}": text for name, text in variables.items()})
    return {key: value for key, value in values.items() if value}


def fill_script(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``{placeholder}`` replaced by its value (or :data:`UNKNOWN`)."""
    return PLACEHOLDER_RE.sub(lambda match: values.get(match.group(1)) or UNKNOWN, text)
