"""The configuration store: SQLite as the single source of truth, checked on every write.

``ConfigStore(path, boards)`` opens (and migrates) the database. Reads: :meth:`load`
returns an immutable :class:`~firmware.config.model.Config` snapshot (cached per
revision, so calling it on every tick is cheap) and :meth:`config_version` the revision
counter (one indexed SELECT); :meth:`reload_if_changed`, polled by the running box
(``linebox run``, every second), picks up changes made by another process
(``linebox config import``) and hands them to the subscribers. Writes: :meth:`save` and
:meth:`update` check the whole new configuration (types, bounds, cross-references; see
:func:`firmware.config.validate.validate`) and replace it in ONE transaction together
with the revision bump: an invalid change raises FirmwareError naming the field and
stores nothing. Callbacks registered with :meth:`subscribe` receive each snapshot
committed through this store.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.config import schema
from firmware.config.codec import from_dict, to_dict
from firmware.config.db import connect, migrate, transaction
from firmware.config.model import BoardLookup, Config, DestinationCheck, DestinationKind
from firmware.config.validate import plain, problems, validate

Subscriber = Callable[[Config], None]


class ConfigStore:
    def __init__(self, path: str | Path, boards: BoardLookup,
                 destination_checks: Mapping[DestinationKind, DestinationCheck] | None = None,
                 log: EventLogger | None = None) -> None:
        self.path = Path(path)
        self.boards = boards
        self.destination_checks = dict(destination_checks or {})
        self.log = log or EventLogger("config")
        self._lock = threading.RLock()
        self._subscribers: list[Subscriber] = []
        self._cached: tuple[int, Config] | None = None
        self.conn = connect(self.path)
        try:
            self.schema_version = migrate(self.conn, schema.COMPONENT, schema.MIGRATIONS)
        except FirmwareError:
            self.conn.close()
            raise

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> ConfigStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------

    def config_version(self) -> int:
        """The revision counter: it changes with every committed configuration change."""
        with self._lock:
            return schema.revision(self.conn)

    def is_empty(self) -> bool:
        """True until a configuration has been saved (a fresh database)."""
        with self._lock:
            return schema.is_empty(self.conn)

    def _read(self) -> Config:
        if schema.is_empty(self.conn):
            raise FirmwareError(f"configuration database {self.path} is empty: import a configuration "
                                "(linebox config import) or start the demo")
        try:
            return from_dict(schema.read_rows(self.conn))
        except FirmwareError as exc:
            raise FirmwareError(f"configuration database {self.path} is damaged: {exc}") from exc

    def load(self) -> Config:
        """The current configuration as an immutable snapshot."""
        with self._lock:
            current = schema.revision(self.conn)
            if self._cached is not None and self._cached[0] == current:
                return self._cached[1]
            config = self._read()
            self._cached = (current, config)
            return config

    def reload_if_changed(self) -> Config | None:
        """Another process (``linebox config import``) committed a change since this store last
        read or wrote: load it, tell the subscribers as for a change made here, and return it.
        None when nothing changed (one indexed SELECT: cheap enough to poll every second)."""
        with self._lock:
            current = schema.revision(self.conn)
            if self._cached is not None and self._cached[0] == current:
                return None
            config = self._read()
            self._cached = (current, config)
            subscribers = list(self._subscribers)
        self.log.info("config_changed", revision=current, source="another process")
        for callback in subscribers:
            callback(config)
        return config

    def check(self, config: Config) -> list[str]:
        """Every problem of ``config`` (empty list: it would be accepted). Stores nothing."""
        try:
            checked = from_dict(plain(config))
        except FirmwareError as exc:
            return [str(exc)]
        return problems(checked, self.boards, self.destination_checks)

    # -- writing ---------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Calls ``callback(snapshot)`` after each change committed here; returns an unsubscribe function."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _commit(self, change: Callable[[Config | None], Config], source: str) -> Config:
        with self._lock:
            try:
                with transaction(self.conn):
                    current = None if schema.is_empty(self.conn) else self._read()
                    checked = validate(change(current), self.boards, self.destination_checks)
                    schema.write_rows(self.conn, to_dict(checked))
                    revision = schema.bump_revision(self.conn)
            except sqlite3.Error as exc:
                raise FirmwareError(f"configuration database {self.path}: {exc}") from exc
            self._cached = (revision, checked)
            subscribers = list(self._subscribers)
        self.log.info("config_changed", revision=revision, source=source)
        for callback in subscribers:
            callback(checked)
        return checked

    def save(self, config: Config, source: str = "api") -> Config:
        """Replaces the whole configuration with ``config`` if it is valid; returns the stored snapshot."""
        return self._commit(lambda current: config, source)

    def update(self, change: Callable[[Config], Config], source: str = "api") -> Config:
        """Read-modify-write in one transaction: ``change(current) -> new``; e.g. with dataclasses.replace."""

        def apply(current: Config | None) -> Config:
            if current is None:
                raise FirmwareError(f"configuration database {self.path} is empty: nothing to update")
            return change(current)

        return self._commit(apply, source)
