"""The web admin's security parts that do not depend on Flask's request: secrets, tokens, throttles, roles.

- The session secret: 32 random bytes made on the first start and kept in the data folder
  (mode 0600, written atomically), so sessions survive a restart of the web admin.
- The one-time setup token: made while no admin account exists, printed on the console and
  in the journal by ``linebox web``; the first-boot wizard asks for it and it is deleted when
  the admin account is made. There is no default password.
- :class:`LoginThrottle`: failed logins per client address (the account store locks the
  account itself). Time is an argument: the caller passes ``now``.
- :data:`ROLE_PERMISSIONS`: least privilege, one table: what each role may do.
"""

from __future__ import annotations

import hmac
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from firmware.accounts import LOCKOUT_SECONDS
from webadmin import WebAdminError

SECRET_FILE = "web-secret.key"
TOKEN_FILE = "web-setup-token"
SECRET_BYTES = 32
TOKEN_BYTES = 12  # 96 bits: typed by hand from the console, unguessable
MAX_FAILED_PER_ADDRESS = 5  # failed logins from one address ...
ADDRESS_LOCK_S = LOCKOUT_SECONDS  # ... lock that address for this long (as the account store locks an account)
IDLE_TIMEOUT_S = 30 * 60  # a session unused this long is over
SESSION_MAX_S = 12 * 3600  # and none lasts longer than a working day


def _write_private(path: Path, data: bytes) -> None:
    """Atomic write readable by the service user only: temp file (0600) in the same folder, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    try:
        os.write(handle, data)
        os.fsync(handle)
    finally:
        os.close(handle)
    os.replace(temporary, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def session_secret(data_dir: Path) -> bytes:
    """The session-signing secret of this box, made on first use."""
    path = data_dir / SECRET_FILE
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        secret = b""
    except OSError as exc:
        raise WebAdminError(f"cannot read the web admin's secret {path}: {exc.strerror}") from exc
    if len(secret) != SECRET_BYTES:
        secret = secrets.token_bytes(SECRET_BYTES)
        _write_private(path, secret)
    return secret


class SetupToken:
    """The first-boot wizard's one-time token, kept in the data folder until the admin account exists."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / TOKEN_FILE

    def issue(self) -> str:
        """The token (made now if there is none yet)."""
        try:
            token = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            token = ""
        if not token:
            token = secrets.token_hex(TOKEN_BYTES)
            _write_private(self.path, token.encode("ascii"))
        return token

    def matches(self, given: str) -> bool:
        try:
            token = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return False
        return bool(token) and hmac.compare_digest(token.encode(), given.strip().encode("utf-8", "replace"))

    def consume(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class LoginThrottle:
    """Failed logins per client address: :data:`MAX_FAILED_PER_ADDRESS` in a row lock it for
    :data:`ADDRESS_LOCK_S` seconds (a guesser trying many account names from one place)."""

    max_failed: int = MAX_FAILED_PER_ADDRESS
    lock_s: float = ADDRESS_LOCK_S
    max_addresses: int = 4096  # memory bound: the oldest entries are forgotten first
    _failed: dict[str, int] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)

    def locked(self, address: str, now: float) -> bool:
        until = self._locked_until.get(address)
        if until is None:
            return False
        if now >= until:
            del self._locked_until[address]
            return False
        return True

    def failed(self, address: str, now: float) -> None:
        count = self._failed.pop(address, 0) + 1
        if count >= self.max_failed:
            self._locked_until[address] = now + self.lock_s
        else:
            self._failed[address] = count
        for table in (self._failed, self._locked_until):
            while len(table) > self.max_addresses:
                del table[next(iter(table))]

    def succeeded(self, address: str) -> None:
        self._failed.pop(address, None)


class Permission(StrEnum):
    LIVE = "live"  # the dashboard: ports, calls, link, system figures
    CONFIGURE = "configure"  # configuration pages
    CONTROL = "control"  # test calls, ports in and out of service
    ACCOUNTS = "accounts"  # the list of web accounts
    AGENT = "agent"  # an agent's own page
    SELF = "self"  # one's own password
    SUPERVISE = "supervise"  # the wallboard and changing agents' states (webadmin/desk.py)
    RESTART = "restart"  # restart the engine (admin only)
    CONTACTS = "contacts"  # the contacts: search, CSV import and export
    DATA = "data"  # full backups (accounts and recordings in them), restore, factory reset (admin only)


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    # admin: the installer with everything; installer: the box but not the accounts
    "admin": frozenset(Permission),
    "installer": frozenset({Permission.LIVE, Permission.CONFIGURE, Permission.CONTROL, Permission.SELF}),
    "supervisor": frozenset({Permission.LIVE, Permission.AGENT, Permission.SELF, Permission.SUPERVISE,
                              Permission.CONTACTS}),
    "agent": frozenset({Permission.AGENT, Permission.SELF}),
    # "manager" (AMI client accounts) and any unknown role: nothing here
}


def allowed(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())


def home_permission(role: str) -> Permission | None:
    """The page a role lands on after login."""
    for permission in (Permission.LIVE, Permission.AGENT):
        if allowed(role, permission):
            return permission
    return None


@dataclass
class RevokedSessions:
    """Sessions ended by logging out, until they would have expired anyway (a signed cookie copied
    before the logout is refused). Kept in memory: a restart of the web admin forgets them, which
    is why sessions also end when their account changes (password, unlock) and time out."""

    max_entries: int = 10_000
    _until: dict[str, float] = field(default_factory=dict)

    def revoke(self, session_id: str, until: float, now: float) -> None:
        for sid in [sid for sid, end in self._until.items() if end <= now]:
            del self._until[sid]
        self._until[session_id] = until
        while len(self._until) > self.max_entries:
            del self._until[next(iter(self._until))]

    def revoked(self, session_id: str) -> bool:
        return session_id in self._until
