"""The account store: the ``accounts`` component of the box's SQLite database.

Every change is one transaction; every refusal is an AccountsError with one line and
changes nothing. Times (``now``) are epoch seconds passed in by the caller: the logic
never reads the clock.

Lockout: :data:`MAX_FAILED_LOGINS` failed logins in a row lock the account for
:data:`LOCKOUT_SECONDS`; while locked even the right secret is refused. A good login
resets the counter; ``unlock`` clears both.

MD5 challenge logins (AMI ``Challenge``/``AuthType: MD5``) need the plain secret on the
box, as Asterisk's manager.conf keeps it. So it is opt-in per manager account
(``md5_challenge``): only such accounts keep their secret in ``challenge_secret``; all
others keep only the scrypt hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.accounts import AccountsError, LoginRefused
from firmware.accounts.model import (
    LOCKOUT_SECONDS,
    MAX_FAILED_LOGINS,
    SALT_BYTES,
    Role,
    ScryptCost,
    User,
    check_password,
    check_role,
    check_user_name,
    hash_password,
    parse_classes,
    verify_password,
)
from firmware.config.db import Migration, connect, migrate, transaction

COMPONENT = "accounts"
REFUSED = "Authentication failed"   # the same words for an unknown user and a wrong secret

MIGRATIONS = (
    Migration(1, "users with roles, scrypt hashes, lockout and AMI permission classes", (
        "CREATE TABLE accounts_user ("
        " name TEXT PRIMARY KEY,"
        " role TEXT NOT NULL CHECK (role IN ('admin', 'installer', 'supervisor', 'agent', 'manager')),"
        " password_hash TEXT NOT NULL,"
        " ami_read TEXT NOT NULL DEFAULT '',"
        " ami_write TEXT NOT NULL DEFAULT '',"
        " md5_challenge INTEGER NOT NULL DEFAULT 0 CHECK (md5_challenge IN (0, 1)),"
        " challenge_secret TEXT,"
        " failed_logins INTEGER NOT NULL DEFAULT 0,"
        " locked_until REAL NOT NULL DEFAULT 0,"
        " created REAL NOT NULL,"
        " changed REAL NOT NULL)",
    )),
)

_COLUMNS = "name, role, ami_read, ami_write, failed_logins, locked_until, created, changed, md5_challenge"


class AccountStore:
    """Users of the web admin and the manager interface; may share the box's database file."""

    def __init__(self, path: str | Path, log: EventLogger | None = None, cost: ScryptCost | None = None,
                 salt: Callable[[int], bytes] = os.urandom) -> None:
        self.path = Path(path)
        self.log = log or EventLogger("accounts")
        self.cost = cost or ScryptCost()
        self._salt = salt
        self.conn = connect(self.path)
        try:
            migrate(self.conn, COMPONENT, MIGRATIONS)
        except FirmwareError:
            self.conn.close()
            raise
        # One connection shared by the threads that log users in (the manager interface,
        # the web admin): each statement or transaction runs under this lock.
        self._lock = threading.RLock()
        # A hash to check against when the user does not exist, so that an unknown name
        # takes as long as a wrong secret.
        self._decoy = hash_password("decoy-password", b"\0" * SALT_BYTES, self.cost)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> AccountStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------

    def users(self) -> list[User]:
        rows = self._query(f"SELECT {_COLUMNS} FROM accounts_user ORDER BY name")
        return [_user(row) for row in rows]

    def get(self, name: str) -> User | None:
        rows = self._query(f"SELECT {_COLUMNS} FROM accounts_user WHERE name = ?", (name,))
        return _user(rows[0]) if rows else None

    def require(self, name: str) -> User:
        user = self.get(name)
        if user is None:
            raise AccountsError(f"user {name!r}: no such user")
        return user

    # -- changes ---------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, now: float, read: Iterable[str] = (),
            write: Iterable[str] = (), md5_challenge: bool = False) -> User:
        check_user_name(name)
        role = check_role(role)
        read_classes, write_classes = parse_classes("--read", read), parse_classes("--write", write)
        if role is not Role.MANAGER and (read_classes or write_classes or md5_challenge):
            raise AccountsError(f"user {name!r}: read/write classes and MD5 challenge are for role manager only")
        check_password(name, password)
        stored = hash_password(password, self._salt(SALT_BYTES), self.cost)
        try:
            with self._lock, transaction(self.conn):
                if self.conn.execute("SELECT 1 FROM accounts_user WHERE name = ?", (name,)).fetchone():
                    raise AccountsError(f"user {name!r}: already exists")
                self.conn.execute(
                    "INSERT INTO accounts_user (name, role, password_hash, ami_read, ami_write, md5_challenge,"
                    " challenge_secret, created, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (name, role.value, stored, _join(read_classes), _join(write_classes), int(md5_challenge),
                     password if md5_challenge else None, now, now))
        except sqlite3.Error as exc:
            raise AccountsError(f"accounts: cannot add {name!r}: {exc}") from exc
        self.log.info("user_added", user=name, role=role.value)
        return self.require(name)

    def set_password(self, name: str, password: str, now: float) -> None:
        user = self.require(name)
        check_password(name, password)
        stored = hash_password(password, self._salt(SALT_BYTES), self.cost)
        self._update(name, "password_hash = ?, challenge_secret = ?, changed = ?",
                     (stored, password if user.md5_challenge else None, now))
        self.log.info("password_changed", user=name)

    def set_permissions(self, name: str, read: Iterable[str], write: Iterable[str], now: float) -> User:
        user = self.require(name)
        if user.role is not Role.MANAGER:
            raise AccountsError(f"user {name!r}: read/write classes are for role manager only")
        self._update(name, "ami_read = ?, ami_write = ?, changed = ?",
                     (_join(parse_classes("--read", read)), _join(parse_classes("--write", write)), now))
        return self.require(name)

    def delete(self, name: str) -> None:
        self.require(name)
        self._update(name, None, ())
        self.log.info("user_deleted", user=name)

    def unlock(self, name: str, now: float) -> None:
        self.require(name)
        self._update(name, "failed_logins = 0, locked_until = 0, changed = ?", (now,))
        self.log.info("user_unlocked", user=name)

    # -- logins ----------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, now: float) -> User:
        """The user if ``password`` is theirs and they are not locked; LoginRefused if not."""
        row = self._query("SELECT password_hash FROM accounts_user WHERE name = ?", (name,))
        stored = row[0][0] if row else self._decoy
        good = verify_password(password, stored) and bool(row)
        with self._lock:
            return self._conclude(name, good, now)

    def challenge_secret_matches(self, name: str, challenge: str, key: str, now: float) -> User:
        """AMI's MD5 login: ``key`` must be md5(challenge + secret) in hex; LoginRefused if not."""
        row = self._query("SELECT challenge_secret FROM accounts_user WHERE name = ? AND md5_challenge = 1",
                          (name,))
        secret = row[0][0] if row and row[0][0] is not None else None
        good = False
        if secret is not None:
            expected = hashlib.md5((challenge + secret).encode("utf-8"), usedforsecurity=False).hexdigest()
            good = hmac.compare_digest(expected, key.strip().lower())
        with self._lock:
            return self._conclude(name, good, now)

    def _conclude(self, name: str, good: bool, now: float) -> User:
        """Counts a failed login or clears the counter (under the lock, read and write together)."""
        user = self.get(name)
        if user is None:
            self.log.warning("login_refused", user=name, reason="unknown")
            raise LoginRefused(REFUSED)
        if user.locked(now):
            self.log.warning("login_refused", user=name, reason="locked", until=user.locked_until)
            raise LoginRefused(f"{REFUSED}: account locked")
        if good:
            if user.failed_logins:
                self._update(name, "failed_logins = 0", ())
            return self.require(name)
        failed = user.failed_logins + 1
        if failed >= MAX_FAILED_LOGINS:
            self._update(name, "failed_logins = 0, locked_until = ?", (now + LOCKOUT_SECONDS,))
            self.log.warning("user_locked", user=name, failed=failed, seconds=LOCKOUT_SECONDS)
        else:
            self._update(name, "failed_logins = ?", (failed,))
            self.log.warning("login_refused", user=name, reason="secret", failed=failed)
        raise LoginRefused(REFUSED)

    # -- plumbing --------------------------------------------------------------------------

    def _query(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            with self._lock:
                return self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise AccountsError(f"accounts: {exc}") from exc

    def _update(self, name: str, assignments: str | None, params: tuple) -> None:
        sql = ("DELETE FROM accounts_user WHERE name = ?" if assignments is None
               else f"UPDATE accounts_user SET {assignments} WHERE name = ?")
        try:
            with self._lock, transaction(self.conn):
                self.conn.execute(sql, (*params, name))
        except sqlite3.Error as exc:
            raise AccountsError(f"accounts: cannot change {name!r}: {exc}") from exc


def _join(classes: frozenset[str]) -> str:
    return ",".join(sorted(classes))


def _split(text: str) -> frozenset[str]:
    return frozenset(item for item in text.split(",") if item)


def _user(row: tuple) -> User:
    name, role, read, write, failed, locked_until, created, changed, md5 = row
    return User(name=name, role=Role(role), created=float(created), changed=float(changed), read=_split(read),
                write=_split(write), failed_logins=int(failed), locked_until=float(locked_until),
                md5_challenge=bool(md5))
