"""Backup and restore (firmware/storage/backup.py, ``linebox backup``): a consistent archive with
checksums; a damaged, truncated or foreign archive is refused in one line and changes nothing."""

import hashlib
import io
import json
import sqlite3
import tarfile
import threading

import numpy as np
import pytest

from firmware import FirmwareError
from firmware.acdengine.history import IntervalStore
from firmware.cdr import CallRecord, CdrStore, Disposition, HangupBy
from firmware.config.demo import seed_demo
from firmware.config.store import ConfigStore
from firmware.storage import backup
from firmware.storage.health import integrity
from firmware.voicemail import VoicemailStore
from linebox.cli import main
from linebox.storage import board_ports

CREATED = "2026-12-05T18:00:00+00:00"


def _record(number: int) -> CallRecord:
    return CallRecord(uniqueid=f"1780000000.1.{number}", start=1.78e9 + number, end=1.78e9 + number + 9,
                      disposition=Disposition.ANSWERED, hangup_by=HangupBy.CALLER, answer=1.78e9 + number + 1)


def _populate(data):
    db = data / "linebox.db"
    config = ConfigStore(db, boards=board_ports)
    seed_demo(config)
    config.close()
    with CdrStore(db) as cdr:
        for number in range(5):
            cdr.record(_record(number))
    IntervalStore(db).close()
    store = VoicemailStore(db, data / "voicemail")
    store.save("201", "2125550147", "ALICE", 1.78e9, np.linspace(-1000, 1000, 16000))
    store.close()
    (data / "queue_log").write_bytes(b"1780000000|1.1.1|support|NONE|ENTERQUEUE||2125550147|1\n17800")
    (data / "sounds").mkdir()
    (data / "sounds" / "welcome.wav").write_bytes(b"RIFF-welcome")
    return db


def _fingerprint(folder):
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _cdr_ids(db):
    conn = sqlite3.connect(db)
    try:
        return [row[0] for row in conn.execute("SELECT uniqueid FROM cdr ORDER BY uniqueid")]
    finally:
        conn.close()


def test_create_then_restore_into_an_empty_box(tmp_path):
    db = _populate(tmp_path / "box")
    archive = tmp_path / "out" / "box.tar"
    manifest = backup.create(db, archive, CREATED, with_recordings=True)
    paths = [entry.path for entry in manifest.entries]
    assert paths[0] == "linebox.db"
    assert set(paths) == {"linebox.db", "queue_log", "voicemail/201/msg-000001.wav", "sounds/welcome.wav"}
    assert manifest.schemas == backup.KNOWN_SCHEMAS
    with tarfile.open(archive) as tar:
        assert tar.getnames()[-1] == "manifest.json"
        assert tar.extractfile("queue_log").read().endswith(b"|1\n")  # the torn last line is left out

    fresh = tmp_path / "fresh" / "linebox.db"
    restored, kept = backup.restore(archive, fresh)
    assert kept is None and restored.created == CREATED
    assert _cdr_ids(fresh) == _cdr_ids(db) and len(_cdr_ids(fresh)) == 5
    assert integrity(fresh) == "ok"
    assert (fresh.parent / "voicemail" / "201" / "msg-000001.wav").read_bytes() == \
        (db.parent / "voicemail" / "201" / "msg-000001.wav").read_bytes()
    config = ConfigStore(fresh, boards=board_ports)
    assert [ext.number for ext in config.load().extensions] == ["201", "202", "203", "204"]
    config.close()
    assert not list(fresh.parent.glob(".restore-*"))


def test_restore_keeps_what_it_replaces(tmp_path):
    db = _populate(tmp_path / "box")
    archive = tmp_path / "box.tar"
    backup.create(db, archive, CREATED, with_recordings=True)
    with CdrStore(db) as cdr:
        cdr.record(_record(99))  # made after the backup
    before = _fingerprint(db.parent)
    _, kept = backup.restore(archive, db)
    assert kept == db.parent / "replaced-1"
    assert len(_cdr_ids(db)) == 5
    assert len(_cdr_ids(kept / "linebox.db")) == 6
    assert {name: digest for name, digest in _fingerprint(kept).items()} == before


def test_backup_while_call_records_are_written_is_consistent(tmp_path):
    db = _populate(tmp_path / "box")
    stop = threading.Event()

    def writer():
        with CdrStore(db) as cdr:
            number = 100
            while not stop.is_set():
                cdr.record(_record(number))
                number += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        backup.create(db, tmp_path / "live.tar", CREATED, with_recordings=True)
    finally:
        stop.set()
        thread.join()
    restored = tmp_path / "r" / "linebox.db"
    backup.restore(tmp_path / "live.tar", restored)
    assert integrity(restored) == "ok" and len(_cdr_ids(restored)) >= 5


def _damaged_cases(archive):
    data = archive.read_bytes()
    with tarfile.open(archive) as tar:
        db_offset = tar.getmember("linebox.db").offset_data
        manifest_offset = tar.getmember("manifest.json").offset_data
    flipped = bytearray(data)
    flipped[db_offset + 200] ^= 0xFF
    yield "flipped byte", bytes(flipped), "does not match its checksum"
    for cut in (100, db_offset + 50, len(data) // 2, manifest_offset - 100, manifest_offset + 10):
        yield f"truncated at {cut}", data[:cut], "truncated or damaged|does not match|manifest"
    yield "empty", b"", "not a readable archive"
    yield "not tar", b"hello" * 400, "not a readable archive"


def _tar_with(members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, body in members:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def _manifest(entries, schemas=None):
    return json.dumps({"format": "linebox-backup", "version": 1, "created": CREATED,
                       "schemas": schemas if schemas is not None else {},
                       "files": [{"path": name, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
                                 for name, body in entries]}).encode()


def test_damaged_or_truncated_archives_change_nothing(tmp_path):
    db = _populate(tmp_path / "box")
    archive = tmp_path / "good.tar"
    backup.create(db, archive, CREATED, with_recordings=True)
    before = _fingerprint(db.parent)
    for name, body, message in _damaged_cases(archive):
        bad = tmp_path / "bad.tar"
        bad.write_bytes(body)
        with pytest.raises(FirmwareError, match=message) as caught:
            backup.restore(bad, db)
        assert "\n" not in str(caught.value), name
        assert _fingerprint(db.parent) == before, name
        assert not list(db.parent.glob(".restore-*")) and not list(db.parent.glob("replaced-*")), name


def test_foreign_archives_are_refused(tmp_path):
    db = _populate(tmp_path / "box")
    good_db = tmp_path / "copy.db"
    backup.create(db, tmp_path / "good.tar", CREATED, with_recordings=True)
    with tarfile.open(tmp_path / "good.tar") as tar:
        good_db.write_bytes(tar.extractfile("linebox.db").read())
    db_bytes = good_db.read_bytes()
    schemas = backup.KNOWN_SCHEMAS
    newer = {**schemas, "cdr": schemas["cdr"] + 1}
    conn = sqlite3.connect(good_db)
    conn.execute("INSERT INTO schema_version VALUES ('cdr', ?, 'from the future')", (newer["cdr"],))
    conn.commit()
    conn.close()
    newer_db = good_db.read_bytes()
    cases = [
        ([("linebox.db", db_bytes)], None, "exactly one manifest"),
        ([("linebox.db", db_bytes), ("manifest.json", b"{not json")], None, "manifest is not valid"),
        ([("linebox.db", db_bytes), ("../evil", b"x")], [("linebox.db", db_bytes), ("../evil", b"x")],
         "not a plain relative path"),
        ([("linebox.db", db_bytes), ("etc/passwd", b"x")], [("linebox.db", db_bytes), ("etc/passwd", b"x")],
         "unexpected member"),
        ([("linebox.db", db_bytes), ("queue_log", b"x\n")], [("linebox.db", db_bytes)], "do not match the manifest"),
        ([("queue_log", b"x\n")], [("queue_log", b"x\n")], "no database"),
        ([("linebox.db", newer_db)], [("linebox.db", newer_db)], "newer than this firmware"),
        ([("linebox.db", b"x" * 4096)], [("linebox.db", b"x" * 4096)], "damaged"),
    ]
    before = _fingerprint(db.parent)
    for members, listed, message in cases:
        body = members if listed is None else [*members, ("manifest.json", _manifest(
            listed, schemas if "newer" not in message else newer))]
        bad = tmp_path / "foreign.tar"
        bad.write_bytes(_tar_with(body))
        with pytest.raises(FirmwareError, match=message):
            backup.restore(bad, db)
        assert _fingerprint(db.parent) == before, message
    assert not (tmp_path / "evil").exists()


def test_cli_refuses_a_bad_archive_in_one_line(tmp_path, capsys):
    db = _populate(tmp_path / "box")
    before = _fingerprint(db.parent)
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"\x00" * 100)
    assert main(["backup", "restore", str(bad), "--db", str(db), "--socket", str(tmp_path / "none.sock")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("linebox: backup:") and err.count("\n") == 1
    assert _fingerprint(db.parent) == before


def test_cli_create_and_restore(tmp_path, capsys):
    db = _populate(tmp_path / "box")
    archive = tmp_path / "b.tar"
    assert main(["backup", "create", str(archive), "--db", str(db), "--with-recordings"]) == 0
    assert "4 files" in capsys.readouterr().out
    target = tmp_path / "other" / "linebox.db"
    assert main(["backup", "restore", str(archive), "--db", str(target), "--socket", str(tmp_path / "n.sock")]) == 0
    assert len(_cdr_ids(target)) == 5


def test_without_recordings_the_archive_holds_no_voicemail_and_restore_keeps_the_present_files(tmp_path, capsys):
    db = _populate(tmp_path / "box")
    archive = tmp_path / "small.tar"
    assert main(["backup", "create", str(archive), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "3 files" in out and "without recordings" in out
    with tarfile.open(archive) as tar:
        assert not [name for name in tar.getnames() if name.startswith("voicemail")]
        assert json.loads(tar.extractfile("manifest.json").read())["recordings"] is False
    message = db.parent / "voicemail" / "201" / "msg-000001.wav"
    recording = message.read_bytes()
    _, kept = backup.restore(archive, db)
    assert message.read_bytes() == recording  # left in place, with the row that names it
    assert (kept / "voicemail" / "201" / "msg-000001.wav").read_bytes() == recording  # and a copy beside
    assert len(_cdr_ids(db)) == 5


def test_with_recordings_restore_refuses_a_message_without_its_file(tmp_path):
    db = _populate(tmp_path / "box")
    archive = tmp_path / "full.tar"
    manifest = backup.create(db, archive, CREATED, with_recordings=True)
    assert manifest.recordings
    # The same archive with the recording left out of the members and the manifest: consistent
    # checksums, but a voicemail row without its file.
    with tarfile.open(archive) as tar:
        members = {name: tar.extractfile(name).read() for name in tar.getnames()}
    data = json.loads(members.pop("manifest.json"))
    members.pop("voicemail/201/msg-000001.wav")
    data["files"] = [item for item in data["files"] if not item["path"].startswith("voicemail/")]
    bad = tmp_path / "bad.tar"
    bad.write_bytes(_tar_with([*members.items(), ("manifest.json", json.dumps(data).encode())]))
    before = _fingerprint(db.parent)
    with pytest.raises(FirmwareError, match="without their recording"):
        backup.restore(bad, db)
    assert _fingerprint(db.parent) == before


def test_a_message_deleted_while_the_backup_runs_leaves_no_row_without_its_file(tmp_path):
    db = _populate(tmp_path / "box")
    (db.parent / "voicemail" / "201" / "msg-000001.wav").unlink()  # gone between the copy and the read
    archive = tmp_path / "full.tar"
    backup.create(db, archive, CREATED, with_recordings=True)
    fresh = tmp_path / "fresh" / "linebox.db"
    backup.restore(archive, fresh)  # would refuse a row without its file
    conn = sqlite3.connect(fresh)
    try:
        assert conn.execute("SELECT COUNT(*) FROM voicemail_messages").fetchone() == (0,)
    finally:
        conn.close()


@pytest.mark.parametrize("recordings", [False, True])  # False: the upgrade's backup (linebox/releases.py)
def test_staged_uploads_are_neither_backed_up_nor_replaced_by_a_restore(tmp_path, recordings):
    """``<data>/staging/`` holds the web admin's uploads in progress (a full backup sent in
    chunks, a contacts CSV waiting for its confirmation): work of a session, not the box's data.
    No archive carries them, and a restore leaves them where they are (not in ``replaced-<n>``)."""
    db = _populate(tmp_path / "box")
    staged = {db.parent / "staging" / "restore" / "a1b2.staged": b"\x00" * 4096,
              db.parent / "staging" / "contacts" / "c3d4.staged": b"name,number\nAda,201\n"}
    for path, body in staged.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    archive = tmp_path / "box.tar"
    manifest = backup.create(db, archive, CREATED, with_recordings=recordings)
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert not [name for name in names if "staging" in name or name.endswith(".staged")], names
    assert not [entry.path for entry in manifest.entries if "staging" in entry.path]
    _, kept = backup.restore(archive, db)
    assert {path: path.read_bytes() for path in staged} == staged
    assert kept is not None and not (kept / "staging").exists()
