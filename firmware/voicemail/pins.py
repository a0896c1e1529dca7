"""Mailbox PINs: stored hashed, with a lockout after repeated wrong PINs.

One SQLite component (``voicemail_pins``) in the box's database. A PIN is hashed with the
account store's scrypt (:func:`firmware.accounts.model.hash_password`, a random salt per
PIN, the cost stored with the hash): the box never keeps a PIN it could say back. The
lockout is the accounts' rule (:data:`~firmware.accounts.model.MAX_FAILED_LOGINS` wrong PINs
in a row lock the mailbox for :data:`~firmware.accounts.model.LOCKOUT_SECONDS`; while locked
even the right PIN is refused; a right PIN resets the count).

Time is an argument: ``now`` is the engine's clock (epoch seconds of the audio clock,
``CallControl.epoch(tick)``), passed in by the caller; nothing here reads the clock.

There is no default PIN: a mailbox without one cannot be entered from an outside line (the
phone's own extension may enter it, as Asterisk's ``VoiceMailMain(s)`` from a trusted
phone). Checking a PIN costs a scrypt (tens of milliseconds on a Pi): callers run it on a
worker, never on the media loop.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from firmware import FirmwareError
from firmware.accounts.model import (
    LOCKOUT_SECONDS,
    MAX_FAILED_LOGINS,
    SALT_BYTES,
    ScryptCost,
    hash_password,
    verify_password,
)
from firmware.config.db import Migration, connect, migrate, transaction
from firmware.voicemail.store import check_mailbox

COMPONENT = "voicemail_pins"
MIN_PIN_DIGITS = 4  # Yeastar's and most PBXs' shortest voicemail PIN
MAX_PIN_DIGITS = 10
PIN_RE = re.compile(r"[0-9]+")

MIGRATIONS = (
    Migration(1, "mailbox PIN hashes and lockout", (
        "CREATE TABLE voicemail_pin ("
        " mailbox TEXT PRIMARY KEY,"
        " pin_hash TEXT NOT NULL,"
        " failed INTEGER NOT NULL DEFAULT 0,"
        " locked_until REAL NOT NULL DEFAULT 0,"
        " changed REAL NOT NULL)",
    )),
)


class PinCheck(StrEnum):
    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"  # too many wrong PINs: refused until the lockout ends
    NO_PIN = "no_pin"  # no PIN set: cannot be entered from outside


@dataclass(frozen=True)
class PinStatus:
    has_pin: bool
    failed: int
    locked_until: float

    def locked(self, now: float) -> bool:
        return now < self.locked_until


def check_pin(mailbox: str, pin: object) -> str:
    """``pin`` if it is an acceptable new PIN for ``mailbox``; FirmwareError (one line) if not."""
    if not isinstance(pin, str) or not PIN_RE.fullmatch(pin) or not MIN_PIN_DIGITS <= len(pin) <= MAX_PIN_DIGITS:
        raise FirmwareError(f"voicemail: a PIN is {MIN_PIN_DIGITS}-{MAX_PIN_DIGITS} digits")
    if pin == mailbox:
        raise FirmwareError("voicemail: the PIN must not be the mailbox number")
    if len(set(pin)) == 1:
        raise FirmwareError("voicemail: the PIN must not be one digit repeated")
    return pin


class PinBook:
    """The PINs of every mailbox (thread-safe: one lock, one connection)."""

    def __init__(self, db_path: Path | str, cost: ScryptCost | None = None,
                 salt: Callable[[int], bytes] = os.urandom) -> None:
        self.db_path = Path(db_path)
        self.cost = cost or ScryptCost()
        self._salt = salt
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = connect(self.db_path)
        try:
            migrate(self._conn, COMPONENT, MIGRATIONS)
        except FirmwareError:
            self._conn.close()
            raise

    def set_pin(self, mailbox: str, pin: str, now: float) -> None:
        """Sets (or changes) the PIN; the failure count and any lockout are cleared."""
        check_mailbox(mailbox)
        check_pin(mailbox, pin)
        stored = hash_password(pin, self._salt(SALT_BYTES), self.cost)
        self._write("INSERT INTO voicemail_pin (mailbox, pin_hash, failed, locked_until, changed)"
                    " VALUES (?, ?, 0, 0, ?) ON CONFLICT (mailbox) DO UPDATE SET pin_hash = excluded.pin_hash,"
                    " failed = 0, locked_until = 0, changed = excluded.changed", (mailbox, stored, float(now)))

    def clear_pin(self, mailbox: str) -> None:
        """Removes the PIN: the mailbox can then be entered only from its own extension."""
        check_mailbox(mailbox)
        self._write("DELETE FROM voicemail_pin WHERE mailbox = ?", (mailbox,))

    def unlock(self, mailbox: str) -> None:
        check_mailbox(mailbox)
        self._write("UPDATE voicemail_pin SET failed = 0, locked_until = 0 WHERE mailbox = ?", (mailbox,))

    def status(self, mailbox: str) -> PinStatus:
        check_mailbox(mailbox)
        with self._lock:
            row = self._read(mailbox)
        return PinStatus(False, 0, 0.0) if row is None else PinStatus(True, int(row[1]), float(row[2]))

    def check(self, mailbox: str, pin: str, now: float) -> PinCheck:
        """Checks ``pin`` and counts a wrong one (the count and the lockout are stored at once)."""
        check_mailbox(mailbox)
        with self._lock:
            row = self._read(mailbox)
            if row is None:
                return PinCheck.NO_PIN
            stored, failed, locked_until = row[0], int(row[1]), float(row[2])
            if now < locked_until:
                return PinCheck.LOCKED
            if isinstance(pin, str) and verify_password(pin, stored):
                self._update(mailbox, 0, 0.0)
                return PinCheck.OK
            failed += 1
            if failed >= MAX_FAILED_LOGINS:
                self._update(mailbox, 0, now + LOCKOUT_SECONDS)
                return PinCheck.LOCKED
            self._update(mailbox, failed, 0.0)
            return PinCheck.WRONG

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ----- helpers -----

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise FirmwareError("voicemail: the PIN store is closed")
        return self._conn

    def _read(self, mailbox: str) -> tuple | None:
        try:
            return self._open().execute("SELECT pin_hash, failed, locked_until FROM voicemail_pin WHERE mailbox = ?",
                                        (mailbox,)).fetchone()
        except sqlite3.Error as exc:
            raise FirmwareError(f"voicemail: cannot read {self.db_path}: {exc}") from exc

    def _update(self, mailbox: str, failed: int, locked_until: float) -> None:
        conn = self._open()
        try:
            with transaction(conn):
                conn.execute("UPDATE voicemail_pin SET failed = ?, locked_until = ? WHERE mailbox = ?",
                             (failed, locked_until, mailbox))
        except sqlite3.Error as exc:
            raise FirmwareError(f"voicemail: cannot write {self.db_path}: {exc}") from exc

    def _write(self, sql: str, args: tuple) -> None:
        with self._lock:
            conn = self._open()
            try:
                with transaction(conn):
                    conn.execute(sql, args)
            except sqlite3.Error as exc:
                raise FirmwareError(f"voicemail: cannot write {self.db_path}: {exc}") from exc
