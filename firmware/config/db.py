"""SQLite connections that survive a power cut, and versioned schema migrations.

:func:`connect` opens a database in write-ahead-log mode with ``synchronous=FULL``: with
WAL, a transaction is durable once COMMIT returns, because FULL syncs the log at every
commit (SQLite documentation, "PRAGMA synchronous" and "Write-Ahead Logging"). The
connection runs in autocommit mode; writers open explicit ``BEGIN IMMEDIATE``
transactions so a multi-table change is all or nothing.

Migrations: each component (``config``, ``cdr``) owns an ordered list of
:class:`Migration` s numbered 1..N. The ``schema_version`` table records, per component,
every version applied; :func:`migrate` applies the missing ones in order, each in its own
transaction together with its ``schema_version`` row, and refuses a database written by a
newer firmware. A migration is a tuple of SQL statements or a function of the connection
(for changes that move data).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from firmware import FirmwareError

BUSY_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: tuple[str, ...] | Callable[[sqlite3.Connection], None]


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection to the database at ``path`` (its folder is created), WAL + synchronous=FULL."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise FirmwareError(f"cannot open database {path}: {exc}") from exc
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise FirmwareError(f"database {path}: cannot switch to WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise FirmwareError(f"database {path}: {exc}") from exc
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` if the block raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _ensure_version_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " component TEXT NOT NULL,"
        " version INTEGER NOT NULL,"
        " description TEXT NOT NULL,"
        " PRIMARY KEY (component, version))"
    )


def schema_version(conn: sqlite3.Connection, component: str) -> int:
    """The highest version of ``component`` applied to this database (0: none)."""
    _ensure_version_table(conn)
    row = conn.execute("SELECT MAX(version) FROM schema_version WHERE component = ?", (component,)).fetchone()
    return int(row[0] or 0)


def _apply(conn: sqlite3.Connection, component: str, migration: Migration) -> None:
    if callable(migration.apply):
        migration.apply(conn)
    else:
        for statement in migration.apply:
            conn.execute(statement)
    conn.execute("INSERT INTO schema_version (component, version, description) VALUES (?, ?, ?)",
                 (component, migration.version, migration.description))


def migrate(conn: sqlite3.Connection, component: str, migrations: Sequence[Migration],
            upto: int | None = None) -> int:
    """Applies the missing migrations of ``component`` (up to ``upto``); returns the version."""
    expected = list(range(1, len(migrations) + 1))
    if [m.version for m in migrations] != expected:
        raise FirmwareError(f"{component} migrations must be numbered 1..{len(migrations)} in order")
    target = len(migrations) if upto is None else upto
    try:
        current = schema_version(conn, component)
    except sqlite3.DatabaseError as exc:
        raise FirmwareError(f"{component} database: {exc}") from exc
    if current > len(migrations):
        raise FirmwareError(f"{component} database schema version {current} is newer than this firmware "
                            f"(knows up to {len(migrations)}); refusing to touch it")
    for migration in migrations[current:target]:
        try:
            with transaction(conn):
                # read again under the write lock: another process (the engine and the web admin
                # start together) may have applied it since ``current`` was read
                if schema_version(conn, component) < migration.version:
                    _apply(conn, component, migration)
        except sqlite3.Error as exc:
            raise FirmwareError(f"{component} migration {migration.version} ({migration.description}) "
                                f"failed: {exc}") from exc
        current = migration.version
    return current
