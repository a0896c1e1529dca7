"""Voicemail messages: a WAV file per message under a folder per mailbox, a row per message.

Layout: ``<root>/<mailbox>/msg-<id>.wav`` (8 kHz 16-bit mono PCM, ``drivers.audiofile``) and
table ``voicemail_messages`` (component ``voicemail`` of :func:`firmware.config.db.migrate`)
in the box's database, opened by :func:`firmware.config.db.connect` (WAL, ``synchronous=FULL``:
a row is on disk once its COMMIT returns).

Crash safety — a message is either fully there (file and row) or absent:

- :meth:`VoicemailStore.save` writes the file first (temporary file, fsync, rename, fsync
  of the folder), then commits the row. A power cut between the two leaves a file no row
  names: :meth:`VoicemailStore.__init__` removes such orphans (and half-written temporary
  files) when the store opens.
- :meth:`VoicemailStore.delete` removes the row first, then the file: a cut in between
  leaves an orphan file, removed at the next open.
- A row whose file has gone (a card swapped, a file removed by hand) is dropped at open,
  with a log line, so a caller is never offered a message that cannot be played.

Every method takes one lock (the deposit's worker and the mailbox menu's worker share the
store) and raises :class:`firmware.FirmwareError` with a one-line reason; a refused call
changes nothing. Subscribers are called with the mailbox after every change, outside the
lock, so they may read the store again (message-waiting indication does).
"""

from __future__ import annotations

import math
import re
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivers import DriverError
from drivers.audiofile import atomic_write_bytes, encode_wav, read_audio
from drivers.logs import EventLogger
from dsp import SAMPLE_RATE
from firmware import FirmwareError
from firmware.config.db import Migration, connect, migrate, transaction

COMPONENT = "voicemail"
MAILBOX_RE = re.compile(r"[1-9][0-9]{1,5}")  # a mailbox is an extension number (config codec EXTENSION_RE)
FILE_RE = re.compile(r"msg-([0-9]+)\.wav")
TEMP_RE = re.compile(r"\.msg-[0-9]+\.wav\..*")  # what atomic_write_bytes leaves if cut before its rename
MAX_TEXT = 80  # caller name/number as stored; caller ID names are at most 15 characters (GR-30 / EN 300 659)

MIGRATIONS = (
    Migration(1, "voicemail messages", (
        "CREATE TABLE voicemail_messages ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " mailbox TEXT NOT NULL,"
        " caller_number TEXT NOT NULL,"
        " caller_name TEXT NOT NULL,"
        " received REAL NOT NULL,"
        " duration_s REAL NOT NULL,"
        " file TEXT NOT NULL,"
        " heard INTEGER NOT NULL DEFAULT 0 CHECK (heard IN (0, 1)))",
        "CREATE INDEX voicemail_by_mailbox ON voicemail_messages (mailbox, heard, received)",
    )),
)

_COLUMNS = "id, mailbox, caller_number, caller_name, received, duration_s, file, heard"


@dataclass(frozen=True)
class Message:
    id: int
    mailbox: str
    caller_number: str  # "" if withheld
    caller_name: str
    received: float  # epoch seconds (the engine's audio clock, passed in)
    duration_s: float
    path: Path  # the WAV file (8 kHz 16-bit mono)
    heard: bool


def check_mailbox(mailbox: object) -> str:
    if not isinstance(mailbox, str) or not MAILBOX_RE.fullmatch(mailbox):
        raise FirmwareError(f"voicemail: mailbox must be an extension number of 2-6 digits, got {mailbox!r}")
    return mailbox


def _check_text(what: str, value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT or not value.isprintable():
        raise FirmwareError(f"voicemail: {what} must be printable text of at most {MAX_TEXT} characters, "
                            f"got {value!r}")
    return value


def _check_samples(samples: object) -> np.ndarray:
    array = np.asarray(samples)
    if array.ndim != 1 or array.size == 0 or not np.issubdtype(array.dtype, np.number):
        raise FirmwareError(f"voicemail: a message needs 1-D samples, got shape {array.shape} of {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise FirmwareError("voicemail: message samples contain NaN or infinity")
    return array


class VoicemailStore:
    """The messages of every mailbox: rows in ``db_path``, audio under ``root``."""

    def __init__(self, db_path: Path | str, root: Path | str, log: EventLogger | None = None) -> None:
        self.db_path = Path(db_path)
        self.root = Path(root)
        self.log = log or EventLogger(COMPONENT)
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[str], None]] = []
        self._counts: dict[str, int] = {}  # mailbox -> messages, in memory: the deposit reads it on the loop
        self._conn: sqlite3.Connection | None = connect(self.db_path)
        try:
            migrate(self._conn, COMPONENT, MIGRATIONS)
            self.root.mkdir(parents=True, exist_ok=True)
            self._reconcile()
            self._counts = {mailbox: int(count) for mailbox, count in self._conn.execute(
                "SELECT mailbox, COUNT(*) FROM voicemail_messages GROUP BY mailbox")}
        except (OSError, sqlite3.Error) as exc:
            self._conn.close()
            raise FirmwareError(f"voicemail: cannot open the store at {self.root}: {exc}") from exc
        except FirmwareError:
            self._conn.close()
            raise

    # ----- opening: make files and rows agree -----

    def _reconcile(self) -> None:
        conn = self._open()
        rows = conn.execute("SELECT id, mailbox, file FROM voicemail_messages").fetchall()
        named: set[Path] = set()
        for message_id, mailbox, file in rows:
            path = self.root / mailbox / file
            if path.is_file():
                named.add(path)
                continue
            with transaction(conn):
                conn.execute("DELETE FROM voicemail_messages WHERE id = ?", (message_id,))
            self.log.warning("vm_row_dropped", id=message_id, mailbox=mailbox, file=str(path),
                             reason="file missing")
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir() and MAILBOX_RE.fullmatch(p.name)):
            for path in sorted(folder.iterdir()):
                ours = FILE_RE.fullmatch(path.name) or TEMP_RE.fullmatch(path.name)
                if ours and path.is_file() and path not in named:
                    path.unlink()
                    self.log.warning("vm_orphan_removed", mailbox=folder.name, file=str(path))

    # ----- the API -----

    def subscribe(self, callback: Callable[[str], None]) -> None:
        """``callback(mailbox)`` after every save, mark_heard and delete."""
        with self._lock:
            self._subscribers.append(callback)

    def save(self, mailbox: str, caller_number: str, caller_name: str, received: float,
             samples: np.ndarray) -> Message:
        """Stores a message: the file first (atomic, fsynced), then its row."""
        check_mailbox(mailbox)
        _check_text("caller number", caller_number)
        _check_text("caller name", caller_name)
        if isinstance(received, bool) or not isinstance(received, (int, float)) or not math.isfinite(received):
            raise FirmwareError(f"voicemail: received time must be finite epoch seconds, got {received!r}")
        audio = _check_samples(samples)
        data = encode_wav(audio)
        with self._lock:
            conn = self._open()
            message_id = self._next_id(conn)
            folder = self.root / mailbox
            path = folder / f"msg-{message_id:06d}.wav"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(path, data)
            except (OSError, DriverError) as exc:
                raise FirmwareError(f"voicemail: cannot write message for mailbox {mailbox}: {exc}") from exc
            duration = round(audio.size / SAMPLE_RATE, 4)
            try:
                with transaction(conn):
                    conn.execute(
                        f"INSERT INTO voicemail_messages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                        (message_id, mailbox, caller_number, caller_name, float(received), duration, path.name))
            except sqlite3.Error as exc:
                path.unlink(missing_ok=True)
                raise FirmwareError(f"voicemail: cannot record message for mailbox {mailbox}: {exc}") from exc
            message = Message(message_id, mailbox, caller_number, caller_name, float(received), duration, path,
                              False)
            self._counts[mailbox] = self._counts.get(mailbox, 0) + 1
        self._notify(mailbox)
        return message

    def messages(self, mailbox: str) -> list[Message]:
        """The mailbox's messages: unheard first, each group oldest first."""
        check_mailbox(mailbox)
        with self._lock:
            rows = self._query(f"SELECT {_COLUMNS} FROM voicemail_messages WHERE mailbox = ?"
                               " ORDER BY heard, received, id", (mailbox,))
        return [self._message(row) for row in rows]

    def message(self, message_id: int) -> Message:
        """One message by id (FirmwareError if there is none)."""
        with self._lock:
            return self._message(self._row(message_id))

    def count(self, mailbox: str) -> int:
        """How many messages the mailbox holds (from memory: cheap enough for the media loop)."""
        with self._lock:
            return self._counts.get(mailbox, 0)

    def unheard_count(self, mailbox: str) -> int:
        check_mailbox(mailbox)
        with self._lock:
            rows = self._query("SELECT COUNT(*) FROM voicemail_messages WHERE mailbox = ? AND heard = 0", (mailbox,))
        return int(rows[0][0])

    def mark_heard(self, message_id: int) -> None:
        with self._lock:
            mailbox = self._row(message_id)[1]
            self._write("UPDATE voicemail_messages SET heard = 1 WHERE id = ?", (message_id,))
        self._notify(mailbox)

    def delete(self, message_id: int) -> None:
        """Removes the row, then the file (a cut in between leaves an orphan, removed at open)."""
        with self._lock:
            row = self._row(message_id)
            self._write("DELETE FROM voicemail_messages WHERE id = ?", (message_id,))
            self._counts[row[1]] = max(0, self._counts.get(row[1], 0) - 1)
            path = self.root / row[1] / row[6]
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:  # the row is gone: the next open removes the orphan
                self.log.warning("vm_file_not_removed", id=message_id, file=str(path), reason=str(exc))
        self._notify(row[1])

    def load_audio(self, message: Message) -> np.ndarray:
        """The message's samples as float64 on the 16-bit scale."""
        try:
            return read_audio(message.path).astype(np.float64)
        except DriverError as exc:
            raise FirmwareError(f"voicemail: cannot read message {message.id}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ----- helpers (called with the lock held) -----

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise FirmwareError("voicemail: the store is closed")
        return self._conn

    def _next_id(self, conn: sqlite3.Connection) -> int:
        """The id the next row gets: ids are never reused (AUTOINCREMENT), so a file name is unique."""
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'voicemail_messages'").fetchone()
        return int(row[0] if row else 0) + 1

    def _query(self, sql: str, args: tuple) -> list[tuple]:
        try:
            return self._open().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise FirmwareError(f"voicemail: cannot read {self.db_path}: {exc}") from exc

    def _write(self, sql: str, args: tuple) -> None:
        conn = self._open()
        try:
            with transaction(conn):
                conn.execute(sql, args)
        except sqlite3.Error as exc:
            raise FirmwareError(f"voicemail: cannot write {self.db_path}: {exc}") from exc

    def _row(self, message_id: int) -> tuple:
        if isinstance(message_id, bool) or not isinstance(message_id, int):
            raise FirmwareError(f"voicemail: a message id is an integer, got {message_id!r}")
        rows = self._query(f"SELECT {_COLUMNS} FROM voicemail_messages WHERE id = ?", (message_id,))
        if not rows:
            raise FirmwareError(f"voicemail: no message with id {message_id}")
        return rows[0]

    def _message(self, row: tuple) -> Message:
        message_id, mailbox, number, name, received, duration, file, heard = row
        return Message(int(message_id), mailbox, number, name, float(received), float(duration),
                       self.root / mailbox / file, bool(heard))

    def _notify(self, mailbox: str) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(mailbox)
            except Exception:  # a subscriber's fault must not undo or hide a stored message
                self.log.exception("vm_subscriber_failed", mailbox=mailbox)
