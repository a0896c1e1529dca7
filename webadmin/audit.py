"""The audit log of the web admin: who changed what, and when, in the box's SQLite database.

One row per stored change (configuration saves, restores, accounts made) and per login
refused or accepted: time (epoch seconds, passed in), user, client address, action, detail,
and the configuration revision it produced. Its own component (``webadmin_audit``) with its
own migrations in the shared database file; shown on the Audit page.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from firmware.config.db import Migration, connect, migrate, transaction
from webadmin import WebAdminError

COMPONENT = "webadmin_audit"
MIGRATIONS = (
    Migration(1, "the web admin's audit log", (
        "CREATE TABLE web_audit ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " at REAL NOT NULL,"
        " user TEXT NOT NULL,"
        " address TEXT NOT NULL,"
        " action TEXT NOT NULL,"
        " detail TEXT NOT NULL,"
        " revision INTEGER)",
        "CREATE INDEX web_audit_at ON web_audit (at)",
    )),
)
MAX_DETAIL_CHARS = 2000


@dataclass(frozen=True)
class AuditEntry:
    at: float
    user: str
    address: str
    action: str
    detail: str
    revision: int | None


class AuditLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self.conn = connect(self.path)
        try:
            migrate(self.conn, COMPONENT, MIGRATIONS)
        except Exception:
            self.conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def record(self, at: float, user: str, address: str, action: str, detail: str = "",
               revision: int | None = None) -> None:
        try:
            with self._lock, transaction(self.conn):
                self.conn.execute("INSERT INTO web_audit (at, user, address, action, detail, revision) "
                                  "VALUES (?, ?, ?, ?, ?, ?)",
                                  (at, user[:64], address[:64], action[:64], detail[:MAX_DETAIL_CHARS], revision))
        except sqlite3.Error as exc:
            raise WebAdminError(f"audit log {self.path}: {exc}") from exc

    def recent(self, limit: int = 200) -> list[AuditEntry]:
        with self._lock:
            rows = self.conn.execute("SELECT at, user, address, action, detail, revision FROM web_audit "
                                     "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [AuditEntry(*row) for row in rows]
