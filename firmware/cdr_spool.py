"""The spool of call records the database would not take, replayed at the next start.

When the database keeps refusing a finished call's record (disk full, I/O error, a locked
or damaged file), the CDR writer appends it here rather than dropping it: one JSON line per
record (:func:`firmware.cdr.record_to_json`), written and fsynced before ``append`` returns,
in ``cdr-spool.jsonl`` next to the database. At the next start :func:`replay` stores every
spooled record the table does not hold yet (``CdrStore.record_once``: a record already
there is not duplicated, so a replay interrupted half way is simply done again) and
rewrites the spool with only the lines it could not store (atomically: a temporary file,
fsync, rename, fsync of the folder), so nothing in it is ever lost to a log line. A line
that cannot be read back (the engine died half way through writing it) is kept too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.cdr import CallRecord, CdrStore, record_from_json, record_to_json

SPOOL_NAME = "cdr-spool.jsonl"


def spool_path(db_path: str | Path) -> Path:
    """The spool file of the database at ``db_path``: in the same folder."""
    return Path(db_path).parent / SPOOL_NAME


class Spool:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, record: CallRecord) -> None:
        """Appends ``record`` as one line; when this returns it is on the disk. FirmwareError if not."""
        line = (record_to_json(record) + "\n").encode("ascii")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise FirmwareError(f"cdr spool {self.path}: cannot append: {exc}") from exc

    def lines(self) -> list[str]:
        """The spooled lines (none if there is no spool)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise FirmwareError(f"cdr spool {self.path}: cannot read: {exc}") from exc
        return [line for line in data.decode("ascii", errors="backslashreplace").split("\n") if line.strip()]

    def keep_only(self, lines: list[str]) -> None:
        """Replaces the spool by ``lines`` (none: removes it), atomically and durably."""
        try:
            if not lines:
                self.path.unlink(missing_ok=True)
            else:
                temporary = self.path.with_name(self.path.name + ".tmp")
                with temporary.open("wb") as out:
                    out.write("".join(line + "\n" for line in lines).encode("ascii", errors="backslashreplace"))
                    out.flush()
                    os.fsync(out.fileno())
                temporary.replace(self.path)
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError as exc:
            raise FirmwareError(f"cdr spool {self.path}: cannot rewrite: {exc}") from exc


@dataclass(frozen=True)
class Replayed:
    stored: int  # records written to the table now
    present: int  # records the table already held (an earlier replay, or a commit that reported an error)
    kept: int  # lines left in the spool (unreadable, or refused again)


def replay(spool: Spool, store: CdrStore, log: EventLogger) -> Replayed:
    """Stores the spooled records the table lacks; the spool keeps only what could not be stored."""
    stored = present = 0
    kept: list[str] = []
    for number, line in enumerate(spool.lines(), start=1):
        try:
            if store.record_once(record_from_json(line)):
                stored += 1
            else:
                present += 1
        except FirmwareError as exc:
            kept.append(line)
            log.error("cdr_spool_kept", path=str(spool.path), line=number, error=str(exc))
    if stored or present or kept:
        spool.keep_only(kept)
        log.info("cdr_spool_replayed", path=str(spool.path), stored=stored, present=present, kept=len(kept))
    return Replayed(stored, present, len(kept))
