"""Backups of the box's data: one tar archive with a manifest of SHA-256 checksums; restore
only after the whole archive is verified.

Archive (``linebox backup create FILE``), members in this order:

- ``linebox.db``: SQLite's online backup (``Connection.backup``) of the database, a consistent
  copy of every store (configuration, call records, ACD history and state, voicemail rows)
  taken while the engine may be writing;
- ``queue_log`` (its complete lines) and ``cdr-spool.jsonl`` if there is one;
- the box's own prompts and music (``sounds/…``, ``moh/…``);
- with recordings (``--with-recordings``) only: every voicemail file the copied database names
  (``voicemail/<mailbox>/…``); a message deleted between the copy and the read of its file is
  dropped from the copied database too, so every row of the archive has its file;
- ``manifest.json`` last: format, version, creation time, whether recordings are in, each
  store's schema version, and every other member's path, size and SHA-256.

Restore (:func:`verify` then :func:`restore`): every member is extracted into a staging
folder beside the data and checked against the manifest (no member missing, none extra,
sizes and checksums equal, plain relative paths only), the database passes
``PRAGMA integrity_check``, no store's schema is newer than this firmware, and, with
recordings, every voicemail row of the archive's database has its file in the archive. Only
then are the present data moved to ``replaced-<n>/`` in the data folder (kept: only the
newest few such folders, firmware/storage/kept.py) and the staged files renamed into place. An archive without recordings leaves the present
``voicemail/`` folder where it is (a hard-linked copy goes to ``replaced-<n>/``): its
messages stay with the rows that name them. Any failure before that point removes the staging folder
and changes nothing; the error is one line.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from firmware import FirmwareError
from firmware.acdengine import history
from firmware.cdr import COMPONENT as CDR_COMPONENT
from firmware.cdr import MIGRATIONS as CDR_MIGRATIONS
from firmware.cdr_spool import SPOOL_NAME
from firmware.config import schema
from firmware.storage import kept as kept_folders
from firmware.storage.health import QUEUE_LOG, VOICEMAIL_DIR
from firmware.voicemail import store as voicemail_store

FORMAT = "linebox-backup"
VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "linebox.db"
FOLDERS = (VOICEMAIL_DIR, "sounds", "moh")  # recordings and the box's own prompts and music
KNOWN_SCHEMAS = {
    schema.COMPONENT: len(schema.MIGRATIONS),
    CDR_COMPONENT: len(CDR_MIGRATIONS),
    history.COMPONENT: len(history.MIGRATIONS),
    voicemail_store.COMPONENT: len(voicemail_store.MIGRATIONS),
}
MAX_MEMBERS = 100_000
MAX_MANIFEST_BYTES = 32 * 1024 * 1024
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Entry:
    path: str  # relative, POSIX
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    created: str
    schemas: dict[str, int]
    entries: tuple[Entry, ...]
    recordings: bool = True  # voicemail files are in (archives made before the choice all had them)

    def to_json(self) -> bytes:
        return json.dumps({"format": FORMAT, "version": VERSION, "created": self.created, "schemas": self.schemas,
                           "recordings": self.recordings,
                           "files": [entry.__dict__ for entry in self.entries]}, indent=1).encode()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _schemas(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT component, MAX(version) FROM schema_version GROUP BY component").fetchall()
    except sqlite3.DatabaseError as exc:
        raise FirmwareError(f"backup: the database has no schema versions: {exc}") from exc
    finally:
        conn.close()
    return {str(component): int(version) for component, version in rows}


def _snapshot_database(db_path: Path, out: Path) -> None:
    """SQLite's online backup: a consistent copy while writers go on (pages copied in steps)."""
    try:
        source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        raise FirmwareError(f"backup: cannot open {db_path}: {exc}") from exc
    target = sqlite3.connect(out)
    try:
        source.backup(target, pages=256)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file in the archive
    except sqlite3.Error as exc:
        raise FirmwareError(f"backup: cannot copy {db_path}: {exc}") from exc
    finally:
        target.close()
        source.close()


def _complete_lines(path: Path, out: Path) -> None:
    data = path.read_bytes()
    out.write_bytes(data[:data.rfind(b"\n") + 1])


def _named_recordings(db: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return {(mailbox, file) for mailbox, file in conn.execute("SELECT mailbox, file FROM voicemail_messages")}
    except sqlite3.OperationalError:  # no voicemail table yet
        return set()
    finally:
        conn.close()


def _voicemail(data: Path, snapshot: Path) -> Iterator[tuple[str, Path]]:
    """The voicemail files the copied database names; rows whose file is gone since the copy
    (a message deleted meanwhile) are deleted from the copy, so every row has its file."""
    gone = []
    for mailbox, file in sorted(_named_recordings(snapshot)):
        path = data / VOICEMAIL_DIR / mailbox / file
        if path.is_file():
            yield f"{VOICEMAIL_DIR}/{mailbox}/{file}", path
        else:
            gone.append((mailbox, file))
    if gone:
        conn = sqlite3.connect(snapshot)
        try:
            with conn:
                conn.executemany("DELETE FROM voicemail_messages WHERE mailbox = ? AND file = ?", gone)
        finally:
            conn.close()


def _recordings(data: Path) -> Iterator[tuple[str, Path]]:
    """The box's own prompts and music."""
    for folder in FOLDERS[1:]:
        root = data / folder
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                yield path.relative_to(data).as_posix(), path


def create(db_path: Path, out: Path, created: str, with_recordings: bool = False) -> Manifest:
    """Writes the archive of the data beside ``db_path`` to ``out`` (atomically); its manifest.
    ``with_recordings``: the voicemail files too."""
    data = db_path.parent
    if not db_path.is_file():
        raise FirmwareError(f"backup: no database at {db_path}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=out.parent) as staging_name:
        staging = Path(staging_name)
        members: list[tuple[str, Path]] = [(DATABASE, staging / DATABASE)]
        _snapshot_database(db_path, staging / DATABASE)
        if (data / QUEUE_LOG).is_file():
            _complete_lines(data / QUEUE_LOG, staging / QUEUE_LOG)
            members.append((QUEUE_LOG, staging / QUEUE_LOG))
        if (data / SPOOL_NAME).is_file():
            _complete_lines(data / SPOOL_NAME, staging / SPOOL_NAME)
            members.append((SPOOL_NAME, staging / SPOOL_NAME))
        if with_recordings:
            members += list(_voicemail(data, staging / DATABASE))
        members += list(_recordings(data))
        entries = tuple(Entry(name, path.stat().st_size, _sha256(path)) for name, path in members)
        manifest = Manifest(created, _schemas(staging / DATABASE), entries, with_recordings)
        partial = staging / "archive.tar"
        with tarfile.open(partial, "w") as archive:
            for name, path in members:
                archive.add(path, arcname=name, recursive=False)
            body = manifest.to_json()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(body)
            archive.addfile(info, io.BytesIO(body))
        with partial.open("rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(partial, out)
        _fsync_folder(out.parent)
    return manifest


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _member_path(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or name != path.as_posix():
        raise FirmwareError(f"backup: member {name!r} is not a plain relative path")
    if path.parts[0] not in (DATABASE, QUEUE_LOG, SPOOL_NAME, MANIFEST, *FOLDERS):
        raise FirmwareError(f"backup: unexpected member {name!r}")
    return path


def _parse_manifest(raw: bytes) -> Manifest:
    try:
        data = json.loads(raw)
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise FirmwareError(f"backup: not a {FORMAT} version {VERSION} archive "
                                f"(format {data.get('format')!r}, version {data.get('version')!r})")
        entries = tuple(Entry(str(item["path"]), int(item["size"]), str(item["sha256"])) for item in data["files"])
        schemas = {str(key): int(value) for key, value in data["schemas"].items()}
        recordings = data.get("recordings", True)
        if not isinstance(recordings, bool):
            raise FirmwareError(f"backup: the manifest's recordings is {recordings!r}, not true or false")
        return Manifest(str(data["created"]), schemas, entries, recordings)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FirmwareError(f"backup: the manifest is not valid: {exc}") from exc


def verify(archive_path: Path, staging: Path) -> Manifest:
    """Extracts ``archive_path`` into ``staging`` and checks all of it (see the module); its manifest."""
    try:
        with tarfile.open(archive_path, "r:") as archive:
            members = archive.getmembers()
            if len(members) > MAX_MEMBERS:
                raise FirmwareError(f"backup: {len(members)} members, more than {MAX_MEMBERS}")
            names = [member.name for member in members]
            if names.count(MANIFEST) != 1 or len(set(names)) != len(names):
                raise FirmwareError("backup: the archive needs exactly one manifest and no repeated member")
            manifest_member = archive.getmember(MANIFEST)
            if not manifest_member.isfile() or manifest_member.size > MAX_MANIFEST_BYTES:
                raise FirmwareError("backup: the manifest is not a plain file of a sane size")
            manifest = _parse_manifest(archive.extractfile(manifest_member).read())  # type: ignore[union-attr]
            expected = {entry.path: entry for entry in manifest.entries}
            present = set(names) - {MANIFEST}
            if present != set(expected):
                missing, extra = sorted(set(expected) - present), sorted(present - set(expected))
                raise FirmwareError(f"backup: members do not match the manifest (missing {missing[:3]}, "
                                    f"extra {extra[:3]})")
            if DATABASE not in expected:
                raise FirmwareError("backup: the archive holds no database")
            for member in members:
                if member.name == MANIFEST:
                    continue
                relative = _member_path(member.name)
                if not member.isfile():
                    raise FirmwareError(f"backup: member {member.name!r} is not a plain file")
                entry = expected[member.name]
                target = staging.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                digest, size = hashlib.sha256(), 0
                with target.open("wb") as out:
                    while chunk := source.read(CHUNK):  # type: ignore[union-attr]
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                if size != entry.size or digest.hexdigest() != entry.sha256:
                    raise FirmwareError(f"backup: {member.name} does not match its checksum: the archive is damaged")
    except (tarfile.TarError, EOFError) as exc:
        raise FirmwareError(f"backup: {archive_path} is not a readable archive (truncated or damaged): {exc}") from exc
    _check_database(staging / DATABASE, manifest)
    if manifest.recordings:
        missing = [f"{mailbox}/{file}" for mailbox, file in sorted(_named_recordings(staging / DATABASE))
                   if not (staging / VOICEMAIL_DIR / mailbox / file).is_file()]
        if missing:
            raise FirmwareError(f"backup: {len(missing)} voicemail message(s) without their recording in the "
                                f"archive, first {missing[0]}")
    elif (staging / VOICEMAIL_DIR).exists():
        raise FirmwareError("backup: the manifest says no recordings, but the archive holds voicemail files")
    return manifest


def _check_database(db: Path, manifest: Manifest) -> None:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            verdict = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise FirmwareError(f"backup: the database in the archive is damaged: {exc}") from exc
    if verdict != [("ok",)]:
        raise FirmwareError(f"backup: the database in the archive fails its integrity check: {verdict[0][0]}")
    schemas = _schemas(db)
    if schemas != manifest.schemas:
        raise FirmwareError(f"backup: the database's schema versions {schemas} differ from the manifest's")
    for component, version in schemas.items():
        known = KNOWN_SCHEMAS.get(component)
        if known is not None and version > known:
            raise FirmwareError(f"backup: the {component} schema is version {version}, newer than this firmware "
                                f"(knows up to {known}): restore it with a newer firmware")


def _present(data: Path, db_name: str, recordings: bool) -> list[str]:
    names = [db_name, db_name + "-wal", db_name + "-shm", QUEUE_LOG, SPOOL_NAME,
             *(FOLDERS if recordings else FOLDERS[1:])]
    return [name for name in names if (data / name).exists()]


def restore(archive_path: Path, db_path: Path) -> tuple[Manifest, Path | None]:
    """Verifies the archive, then replaces the data beside ``db_path`` with it. Returns the manifest
    and the folder where the replaced data were kept (None: there were none)."""
    data = db_path.parent
    data.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data))
    try:
        manifest = verify(archive_path, staging)
        present = _present(data, db_path.name, manifest.recordings)
        kept_voicemail = not manifest.recordings and (data / VOICEMAIL_DIR).is_dir()
        kept: Path | None = None
        if present or kept_voicemail:
            kept = kept_folders.make(data, "replaced")
            if kept_voicemail:  # stays in place; a copy (hard links: no space) beside what is replaced
                shutil.copytree(data / VOICEMAIL_DIR, kept / VOICEMAIL_DIR, copy_function=os.link)
            for name in present:
                os.replace(data / name, kept / name)
        for item in sorted(staging.iterdir()):
            os.replace(item, data / (db_path.name if item.name == DATABASE else item.name))
        _fsync_folder(data)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if kept is not None:  # only the newest few: firmware/storage/kept.py
        kept_folders.prune(data, "replaced")
    return manifest, kept
