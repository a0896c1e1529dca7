"""The ``voicemail:`` section as plain data (the YAML form) and back (config migration 16).

The same rules as :mod:`firmware.config.codec`, which calls :func:`voicemail_from_dict` and
:func:`voicemail_dict`: unknown keys, wrong types and out-of-range values are refused with a
:class:`FirmwareError` whose message starts with the field's path
(``voicemail.mailboxes[0].max_messages: expected an integer 1-9999, got 0``). Whether a
mailbox is an extension with voicemail on, and whether its operator destination exists, are
cross-references: :func:`mailbox_problems` (called by ``firmware.config.validate``).

Bounds: ``max_messages`` 1-9999 (Asterisk's ``maxmsg`` is at most 9999), ``max_message_s``
1-3600 and ``min_message_s`` 0-60 (``maxsecs``/``minsecs``), ``expiry_days`` 0-3653
(0 = kept until deleted; ten years like the retention section's).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from firmware import FirmwareError
from firmware.config import codec
from firmware.config.model import (
    Config,
    Destination,
    DestinationKind,
    MailboxSettings,
    SmtpSettings,
    VoicemailSettings,
)
from firmware.schedule import zone_info

MAX_MAILBOXES = 64  # one per extension at most (codec.MAX_EXTENSIONS)
MAX_MESSAGES = 9999
MAX_MESSAGE_S = 3600
MAX_MIN_MESSAGE_S = 60
MAX_EXPIRY_DAYS = 3653
# An address as RFC 5321 section 4.1.2 allows it, narrowed to what an installer types: a local
# part of atoms (no quoted strings), '@', a domain of labels; at most 254 characters (RFC 5321 4.5.3.1).
EMAIL_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                      r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                      r"[A-Za-z0-9])?)*")
MAX_EMAIL_CHARS = 254
HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\]")
MAX_SECRET_CHARS = 128


def _email(r: codec.Reader, key: str) -> str:
    text = r.text(key, EMAIL_RE, "an e-mail address (name@example.com)", empty=True)
    if len(text) > MAX_EMAIL_CHARS:
        raise FirmwareError(f"{r.at(key)}: at most {MAX_EMAIL_CHARS} characters, got {len(text)}")
    return text


def _operator(raw: Any, path: str) -> Destination | None:
    if raw is None:
        return None
    destination = codec.destination_from_dict(raw, path)
    if destination.kind in (DestinationKind.VOICEMAIL, DestinationKind.HANGUP):
        raise FirmwareError(f"{path}.kind: an operator is a person or a service to talk to, "
                            f"not {destination.kind}")
    return destination


def _mailbox(raw: Any, path: str) -> MailboxSettings:
    r = codec.Reader(raw, path, MailboxSettings)
    r.value("number", required=True)
    entry = MailboxSettings(
        number=r.text("number", codec.EXTENSION_RE, "an extension number"),
        operator=_operator(r.value("operator"), r.at("operator")),
        email=_email(r, "email"),
        attach=r.boolean("attach"),
        envelope=r.boolean("envelope"),
        max_messages=r.integer("max_messages", 1, MAX_MESSAGES),
        max_message_s=r.integer("max_message_s", 1, MAX_MESSAGE_S),
        min_message_s=r.integer("min_message_s", 0, MAX_MIN_MESSAGE_S),
        expiry_days=r.integer("expiry_days", 0, MAX_EXPIRY_DAYS),
        language=r.text("language", codec.LANGUAGE_RE, "a language code like en or pt_BR", empty=True),
    )
    if entry.min_message_s >= entry.max_message_s:
        raise FirmwareError(f"{r.at('min_message_s')}: must be shorter than max_message_s "
                            f"({entry.max_message_s}), got {entry.min_message_s}")
    return entry


def _smtp(raw: Any, path: str) -> SmtpSettings:
    r = codec.Reader(raw, path, SmtpSettings)
    smtp = SmtpSettings(
        host=r.text("host", HOST_RE, "a host name or address", empty=True),
        port=r.integer("port", 1, 65535),
        starttls=r.boolean("starttls"),
        user=r.text("user", empty=True, max_chars=MAX_SECRET_CHARS),
        password=r.text("password", empty=True, max_chars=MAX_SECRET_CHARS),
        from_address=_email(r, "from_address"),
    )
    if smtp.host and not smtp.from_address:
        raise FirmwareError(f"{r.at('from_address')}: needed when host is set (the envelope sender)")
    if smtp.password and not smtp.user:
        raise FirmwareError(f"{r.at('user')}: needed when a password is set")
    return smtp


def voicemail_from_dict(raw: Any, path: str) -> VoicemailSettings:
    r = codec.Reader(raw, path, VoicemailSettings)
    timezone = r.text("timezone", max_chars=64)
    try:
        zone_info(timezone)
    except FirmwareError as exc:
        raise FirmwareError(f"{r.at('timezone')}: {exc}") from exc
    mailboxes = tuple(_mailbox(item, item_path) for item_path, item in r.items("mailboxes", MAX_MAILBOXES))
    seen: set[str] = set()
    for index, entry in enumerate(mailboxes):
        if entry.number in seen:
            raise FirmwareError(f"{r.at('mailboxes')}[{index}].number: mailbox {entry.number} is listed twice")
        seen.add(entry.number)
    smtp = _smtp(r.raw["smtp"], r.at("smtp")) if "smtp" in r.raw else SmtpSettings()
    return VoicemailSettings(timezone=timezone, mailboxes=mailboxes, smtp=smtp)


def mailbox_dict(entry: MailboxSettings) -> dict[str, Any]:
    return {
        "number": entry.number,
        "operator": None if entry.operator is None else codec.destination_dict(entry.operator),
        "email": entry.email,
        "attach": entry.attach,
        "envelope": entry.envelope,
        "max_messages": entry.max_messages,
        "max_message_s": entry.max_message_s,
        "min_message_s": entry.min_message_s,
        "expiry_days": entry.expiry_days,
        "language": entry.language,
    }


def voicemail_dict(settings: VoicemailSettings) -> dict[str, Any]:
    smtp = settings.smtp
    return {
        "timezone": settings.timezone,
        "mailboxes": [mailbox_dict(entry) for entry in settings.mailboxes],
        "smtp": {"host": smtp.host, "port": smtp.port, "starttls": smtp.starttls, "user": smtp.user,
                 "password": smtp.password, "from_address": smtp.from_address},
    }


def mailbox_problems(config: Config, destination_problem: Callable[[Destination], str | None]) -> Iterator[str]:
    """Cross-references: each entry names an extension with voicemail on; its operator exists."""
    for index, entry in enumerate(config.voicemail.mailboxes):
        path = f"voicemail.mailboxes[{index}]"
        extension = config.extension(entry.number)
        if extension is None:
            yield f"{path}.number: extension {entry.number} does not exist"
        elif not extension.voicemail:
            yield f"{path}.number: extension {entry.number} has voicemail off"
        if entry.operator is not None:
            problem = destination_problem(entry.operator)
            if problem is not None:
                yield f"{path}.operator: {problem}"
        if entry.email and not config.voicemail.smtp.host:
            yield f"{path}.email: e-mail needs voicemail.smtp.host to be set"
