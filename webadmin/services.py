"""What the web admin is given by the composition root (``linebox web``), and the shapes it expects.

The web admin builds nothing of the box itself: the configuration store, the account store,
the engine's console link and the clock are passed in, so the pages can be tested against
fakes. The account store is ``firmware.accounts.AccountStore``; :class:`Accounts` is the
part of it the pages use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from firmware import FirmwareError
from firmware.acdengine.history import IntervalStore
from firmware.cdr import CdrStore
from firmware.config import BoardPorts, Config, ConfigStore
from firmware.contacts.store import ContactStore
from webadmin.audit import AuditLog


class Account(Protocol):
    name: str
    changed: float
    """When the account last changed (password, unlock): sessions begun before it are over."""

    @property
    def role(self) -> str: ...


class Accounts(Protocol):
    """The account store's surface used here (names, roles, scrypt hashes, lockout with time passed in)."""

    def users(self) -> Sequence[Account]: ...

    def get(self, name: str) -> Account | None: ...

    def add(self, name: str, role: str, password: str, now: float, read: Iterable[str] = (),
            write: Iterable[str] = ()) -> Account:
        """``read``/``write``: AMI classes, for role manager only (the store refuses them otherwise)."""
        ...

    def set_permissions(self, name: str, read: Iterable[str], write: Iterable[str], now: float) -> Account: ...

    def delete(self, name: str) -> None: ...

    def authenticate(self, name: str, password: str, now: float) -> Account: ...

    def set_password(self, name: str, password: str, now: float) -> None: ...


class Engine(Protocol):
    """The running engine, reached through its console socket (``firmware.console``)."""

    def run(self, command: str) -> list[str]:
        """The data lines of one console command; FirmwareError when refused or unreachable."""
        ...

    def tail(self, lines: int) -> list[str]:
        """The engine's last ``lines`` log lines; FirmwareError when unreachable."""
        ...


RestartCheck = Callable[[Config, Config], Sequence[str]]
"""What a change from the first snapshot to the second needs a restart for (empty: applies live)."""

AccountCheck = Callable[[str, str], object]
"""``check(name, password)``: FirmwareError if the account store's own rules refuse the name
(message starting ``user name``) or the password (``password``); stores nothing."""


@dataclass
class WebServices:
    store: ConfigStore
    accounts: Accounts
    engine: Engine
    board: BoardPorts
    """The running board's ports (the wizard shows them; new lines and extensions are checked against it)."""
    data_dir: Path
    """The box's data folder: the session secret and the one-time setup token live here."""
    clock: Callable[[], float]
    """Epoch seconds: sessions, lockouts, the audit log (the web process may read the clock)."""
    check_account: AccountCheck
    audit: AuditLog
    """Who changed what, when (webadmin.audit)."""
    cdr: CdrStore
    """Call records, for the reports."""
    intervals: IntervalStore
    """ACD statistics per queue and interval, for the queue reports."""
    restart_needed: RestartCheck = lambda old, new: ()
    contacts: ContactStore | None = None
    """The contact store (firmware/contacts/store.py): the contacts page and the screen pop."""
    cookie_secure: bool = True
    """Session cookies only over HTTPS (off only when served on the loopback address)."""
    version: str = ""
    restart_web: Callable[[], None] | None = None
    """Ends this process after the response, for its supervisor to start it again on replaced data
    (a restore, a factory reset); None: nothing would start it again (``linebox run``'s child)."""


class SerializedAccounts:
    """An :class:`Accounts` used by one request thread at a time (waitress serves several at once;
    a login's read-check-count must not interleave with another's)."""

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts
        self._lock = threading.Lock()

    def users(self) -> Sequence[Account]:
        with self._lock:
            return self._accounts.users()

    def get(self, name: str) -> Account | None:
        with self._lock:
            return self._accounts.get(name)

    def add(self, name: str, role: str, password: str, now: float, read: Iterable[str] = (),
            write: Iterable[str] = ()) -> Account:
        with self._lock:
            return self._accounts.add(name, role, password, now, read=read, write=write)

    def set_permissions(self, name: str, read: Iterable[str], write: Iterable[str], now: float) -> Account:
        with self._lock:
            return self._accounts.set_permissions(name, read, write, now)

    def delete(self, name: str) -> None:
        with self._lock:
            self._accounts.delete(name)

    def authenticate(self, name: str, password: str, now: float) -> Account:
        with self._lock:
            return self._accounts.authenticate(name, password, now)

    def set_password(self, name: str, password: str, now: float) -> None:
        with self._lock:
            self._accounts.set_password(name, password, now)


def new_account_errors(check: AccountCheck, name: str, password: str, password2: str) -> dict[str, str]:
    """The form errors of a new account (the wizard's admin, the accounts page): the account
    store's own rules, each next to the field it is about, and the repeated password."""
    errors: dict[str, str] = {}
    try:
        check(name, password)
    except FirmwareError as exc:
        errors["name" if str(exc).startswith("user name") else "password"] = str(exc)
    if password != password2:
        errors["password2"] = "the two passwords differ"
    return errors
