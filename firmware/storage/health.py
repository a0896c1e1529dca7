"""What a crash may leave in the box's data folder, found and (at start-up) cleaned.

The data folder holds the database (``linebox.db``, WAL mode), ``queue_log``, the call
record spool and ``voicemail/<mailbox>/msg-<id>.wav``. A kill or a power cut at any moment
may leave only these, each handled at start-up:

=========================  ================================================================
left behind                cleaned by
=========================  ================================================================
SQLite's WAL/SHM files     SQLite itself, at the first connection (the WAL is replayed)
a voicemail file, no row   ``VoicemailStore`` at open (the row is committed after the file)
a voicemail row, no file   ``VoicemailStore`` at open (dropped, logged)
a temporary file           ``VoicemailStore`` (``.msg-*.wav.*``); :func:`clean_up` (spool's)
an open call row           ``CdrStore.recover_open`` at start (a cut-short call record)
a spooled call record      ``firmware.cdr_spool.replay`` at start
a torn queue_log line      :func:`clean_up` (the partial last line is cut off)
=========================  ================================================================

:func:`find_orphans` counts what is left of these after start-up (a file newer than
``since``, the present start, is work in progress, not an orphan); :func:`integrity` is
SQLite's ``PRAGMA integrity_check`` on a connection of its own.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.cdr_spool import spool_path
from firmware.voicemail.store import FILE_RE, MAILBOX_RE, TEMP_RE

QUEUE_LOG = "queue_log"
VOICEMAIL_DIR = "voicemail"


@dataclass(frozen=True)
class Orphan:
    kind: str  # vm_file_without_row, vm_row_without_file, temp_file, open_call, spooled_record, torn_queue_log
    what: str  # the file, row or uniqueid


def data_paths(db_path: Path) -> tuple[Path, Path, Path]:
    """(voicemail folder, queue_log, call record spool) of the database at ``db_path``."""
    folder = db_path.parent
    return folder / VOICEMAIL_DIR, folder / QUEUE_LOG, spool_path(db_path)


def integrity(db_path: Path) -> str:
    """``ok``, or SQLite's first complaint (one line)."""
    try:
        conn = sqlite3.connect(db_path, timeout=10)
    except sqlite3.Error as exc:
        return f"cannot open: {exc}"
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()
    return "ok" if rows == [("ok",)] else "; ".join(str(row[0]) for row in rows[:3])


def _rows(conn: sqlite3.Connection, sql: str) -> list[tuple]:
    try:
        return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # the table is not made yet (a store never opened)
        return []


def _newer(path: Path, since: float | None) -> bool:
    try:
        return since is not None and path.stat().st_mtime >= since
    except FileNotFoundError:
        return True  # gone meanwhile: it was work in progress


def find_orphans(db_path: Path, since: float | None = None) -> list[Orphan]:
    """What start-up clean-up should have removed or recovered (see the module); [] when clean."""
    voicemail, queue_log, spool = data_paths(db_path)
    orphans: list[Orphan] = []
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        messages = _rows(conn, "SELECT mailbox, file FROM voicemail_messages")
        boot_rows = _rows(conn, "SELECT boot FROM cdr_boot")
        open_rows = _rows(conn, "SELECT uniqueid, boot FROM cdr_open")
    finally:
        conn.close()
    named = {voicemail / mailbox / file for mailbox, file in messages}
    orphans += [Orphan("vm_row_without_file", str(path)) for path in sorted(named) if not path.is_file()]
    if voicemail.is_dir():
        for folder in sorted(p for p in voicemail.iterdir() if p.is_dir() and MAILBOX_RE.fullmatch(p.name)):
            for path in sorted(folder.iterdir()):
                if _newer(path, since):
                    continue
                if TEMP_RE.fullmatch(path.name):
                    orphans.append(Orphan("temp_file", str(path)))
                elif FILE_RE.fullmatch(path.name) and path not in named:
                    orphans.append(Orphan("vm_file_without_row", str(path)))
    boot = int(boot_rows[0][0]) if boot_rows else 0
    orphans += [Orphan("open_call", str(uniqueid)) for uniqueid, row_boot in open_rows if int(row_boot) < boot]
    spool_temp = spool.with_name(spool.name + ".tmp")
    if spool_temp.exists() and not _newer(spool_temp, since):
        orphans.append(Orphan("temp_file", str(spool_temp)))
    if spool.exists() and spool.stat().st_size and not _newer(spool, since):
        orphans.append(Orphan("spooled_record", str(spool)))
    if queue_log.exists() and _torn_tail(queue_log) and not _newer(queue_log, since):
        orphans.append(Orphan("torn_queue_log", str(queue_log)))
    return orphans


def _torn_tail(path: Path) -> int:
    """How many bytes after the last newline (a line the writer did not finish)."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb") as handle:
        back = min(size, 4096)
        handle.seek(size - back)
        tail = handle.read(back)
    newline = tail.rfind(b"\n")
    if newline < 0:
        return back if back < size else size  # one very long torn line: cut it all
    return len(tail) - newline - 1


def clean_up(db_path: Path, log: EventLogger) -> int:
    """Start-up clean-up of what the stores do not clean themselves; returns the items removed.

    Runs before the stores open: a torn last queue_log line is cut off (fsynced), the call
    record spool's temporary file (a rewrite cut before its rename) is removed.
    """
    _, queue_log, spool = data_paths(db_path)
    removed = 0
    try:
        if queue_log.exists():
            torn = _torn_tail(queue_log)
            if torn:
                with queue_log.open("r+b") as handle:
                    handle.truncate(queue_log.stat().st_size - torn)
                    handle.flush()
                    os.fsync(handle.fileno())
                log.warning("queue_log_torn_line_cut", file=str(queue_log), bytes=torn)
                removed += 1
        spool_temp = spool.with_name(spool.name + ".tmp")
        if spool_temp.exists():
            spool_temp.unlink()
            log.warning("temp_file_removed", file=str(spool_temp))
            removed += 1
    except OSError as exc:
        raise FirmwareError(f"storage clean-up in {db_path.parent}: {exc}") from exc
    return removed
