"""The console's ``mailbox`` commands: voicemail boxes, their messages, PINs and greetings.

They read and change the voicemail stores (``firmware.voicemail``: thread-safe, one lock
each) from the console's thread, never the media loop's; the configuration (which extensions
have a mailbox, their settings) is read from the configuration store. The web admin's
voicemail pages run these same commands over the console socket (docs/console.md).

A PIN given on the command line is never logged: :func:`redacted` is what the console logs.
Times shown are UTC; ``now`` for a PIN change or a lockout is the engine's clock, read through
the gateway on the loop's thread (the engine's time is the audio clock's).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware import FirmwareError
from firmware.console import views
from firmware.voicemail.greetings import GreetingKind, check_kind, read_upload
from firmware.voicemail.store import check_mailbox

SECRET_COMMANDS = {("mailbox", "pin"): 3}  # words kept in the log; the rest (the PIN) is starred


@dataclass(frozen=True)
class MailboxSpec:
    words: tuple[str, ...]
    usage: str
    summary: str
    method: str


MAILBOX_COMMANDS = (
    MailboxSpec(("mailbox", "list"), "mailbox list", "voicemail boxes: messages (new), PIN, lockout, greetings, e-mail",
                "mailbox_list"),
    MailboxSpec(("mailbox", "show"), "mailbox show N", "mailbox N's messages: id, new, received (UTC), length, caller",
                "mailbox_show"),
    MailboxSpec(("mailbox", "delete"), "mailbox delete N MSG", "delete message MSG of mailbox N (file and row)",
                "mailbox_delete"),
    MailboxSpec(("mailbox", "file"), "mailbox file N MSG", "the WAV file of message MSG of mailbox N (its path)",
                "mailbox_file"),
    MailboxSpec(("mailbox", "pin"), "mailbox pin N PIN", "set mailbox N's PIN (4-10 digits; stored hashed; not logged)",
                "mailbox_pin"),
    MailboxSpec(("mailbox", "unlock"), "mailbox unlock N", "end mailbox N's PIN lockout", "mailbox_unlock"),
    MailboxSpec(("mailbox", "greeting"), "mailbox greeting N KIND FILE|delete",
                "set (from a WAV file: converted to 8 kHz) or delete the unavailable, busy or name greeting",
                "mailbox_greeting"),
)
MAILBOX_CHANGES = frozenset({"mailbox_delete", "mailbox_pin", "mailbox_unlock", "mailbox_greeting"})


def redacted(words: list[str]) -> str:
    """The command line as logged: a PIN replaced by stars."""
    keep = SECRET_COMMANDS.get(tuple(word.lower() for word in words[:2]))
    if keep is None:
        return " ".join(words)
    return " ".join([*words[:keep], *("****" for _ in words[keep:])])


def _utc(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


class MailboxCommands:
    """Runs the ``mailbox`` commands against a running box's voicemail (``firmware.voicemail.Voicemail``)."""

    def __init__(self, voicemail, config: Callable[[], object], now: Callable[[], float]) -> None:
        """``voicemail``: the running box's voicemail (None: the box has none); ``config``: the
        stored configuration; ``now``: the engine's clock (epoch seconds)."""
        self.voicemail = voicemail
        self.config = config
        self.now = now

    def _voicemail(self):
        if self.voicemail is None:
            raise FirmwareError("this box runs without voicemail (see the start-up log: voicemail_off)")
        return self.voicemail

    def _mailbox(self, text: str) -> str:
        check_mailbox(text)
        extension = self.config().extension(text)
        if extension is None or not extension.voicemail:
            raise FirmwareError(f"mailbox {text}: no extension {text} with voicemail on")
        return text

    def _message(self, mailbox: str, text: str):
        if not text.isascii() or not text.isdigit():
            raise FirmwareError(f"message id must be a whole number, got {text!r}")
        message = self._voicemail().store.message(int(text))
        if message.mailbox != mailbox:
            raise FirmwareError(f"voicemail: no message with id {text} in mailbox {mailbox}")
        return message

    def run(self, method: str, args: list[str], usage: str) -> list[str]:
        counts = {"mailbox_list": (0,), "mailbox_show": (1,), "mailbox_delete": (2,), "mailbox_file": (2,),
                  "mailbox_pin": (2,), "mailbox_unlock": (1,), "mailbox_greeting": (3,)}
        if len(args) not in counts[method]:
            raise FirmwareError(f"usage: {usage}")
        return getattr(self, method)(*args)

    # ----------------------------------------------------------------- commands

    def mailbox_list(self) -> list[str]:
        vm = self._voicemail()
        config = self.config()
        now = self.now()
        rows = []
        for extension in (e for e in config.extensions if e.voicemail):
            number = extension.number
            total, new = vm.store.count(number), vm.store.unheard_count(number)
            pin = "-"
            if vm.pins is not None:
                status = vm.pins.status(number)
                pin = ("locked" if status.locked(now) else "set") if status.has_pin else "none"
            greetings = ",".join(str(k) for k in vm.greetings.kinds(number)) if vm.greetings is not None else ""
            settings = config.voicemail.mailbox(number)
            rows.append((number, extension.name or "-", str(total), str(new), f"{settings.max_messages}", pin,
                         greetings or "-", settings.email or "-"))
        return views.table(("mailbox", "name", "messages", "new", "max", "pin", "greetings", "email"), rows)

    def mailbox_show(self, mailbox: str) -> list[str]:
        mailbox = self._mailbox(mailbox)
        messages = self._voicemail().store.messages(mailbox)
        if not messages:
            return [f"mailbox {mailbox}: no messages"]
        rows = [(str(m.id), "old" if m.heard else "new", _utc(m.received), f"{m.duration_s:.1f}",
                 m.caller_number or "withheld", m.caller_name or "-") for m in messages]
        return views.table(("id", "state", "received_utc", "seconds", "caller", "name"), rows)

    def mailbox_delete(self, mailbox: str, message_id: str) -> list[str]:
        mailbox = self._mailbox(mailbox)
        message = self._message(mailbox, message_id)
        self._voicemail().store.delete(message.id)
        return [f"message {message.id} of mailbox {mailbox} deleted"]

    def mailbox_file(self, mailbox: str, message_id: str) -> list[str]:
        mailbox = self._mailbox(mailbox)
        return [str(self._message(mailbox, message_id).path)]

    def mailbox_pin(self, mailbox: str, pin: str) -> list[str]:
        mailbox = self._mailbox(mailbox)
        pins = self._voicemail().pins
        if pins is None:
            raise FirmwareError("this box keeps no mailbox PINs")
        pins.set_pin(mailbox, pin, self.now())
        return [f"PIN of mailbox {mailbox} set"]

    def mailbox_unlock(self, mailbox: str) -> list[str]:
        mailbox = self._mailbox(mailbox)
        pins = self._voicemail().pins
        if pins is None:
            raise FirmwareError("this box keeps no mailbox PINs")
        pins.unlock(mailbox)
        return [f"mailbox {mailbox} unlocked"]

    def mailbox_greeting(self, mailbox: str, kind: str, source: str) -> list[str]:
        mailbox = self._mailbox(mailbox)
        which: GreetingKind = check_kind(kind)
        greetings = self._voicemail().greetings
        if greetings is None:
            raise FirmwareError("this box keeps no personal greetings")
        if source == "delete":
            had = greetings.delete(mailbox, which)
            return [f"{which} greeting of mailbox {mailbox} {'deleted' if had else 'was not set'}"]
        path = Path(source)
        if not path.is_absolute():
            raise FirmwareError(f"greeting file must be an absolute path, got {source!r}")
        seconds = greetings.save(mailbox, which, read_upload(path, which))
        return [f"{which} greeting of mailbox {mailbox} set ({seconds:.1f} s)"]
