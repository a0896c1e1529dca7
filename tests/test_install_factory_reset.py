"""``linebox factory-reset``: the data folder back to first boot, everything kept and restorable;
the web admin's first-boot wizard shows again (firmware/storage/reset.py)."""

import hashlib
import io
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest

from firmware.cdr import CallRecord, CdrStore, Disposition, HangupBy
from firmware.storage import backup
from firmware.storage.kept import KEEP_ASIDE
from firmware.storage.pending import FAILED_RESTORE
from firmware.storage.reset import factory_reset
from firmware.voicemail import VoicemailStore
from linebox.cli import main
from tests.web_helpers import PASSWORD, make_accounts, make_app, make_services
from webadmin.security import SetupToken
from webadmin.staging import StagingArea


def _populate(data):
    services = make_services(data)  # the demo office, an admin account, the web's stores
    services.accounts.add("chief", "admin", PASSWORD, now=1.78e9)
    with CdrStore(data / "linebox.db") as cdr:
        cdr.record(CallRecord(uniqueid="1780000000.1.1", start=1.78e9, end=1.78e9 + 9,
                              disposition=Disposition.ANSWERED, hangup_by=HangupBy.CALLER, answer=1.78e9 + 1))
    store = VoicemailStore(data / "linebox.db", data / "voicemail")
    store.save("201", "2125550147", "ALICE", 1.78e9, np.linspace(-1000, 1000, 16000))
    store.close()
    (data / "queue_log").write_bytes(b"1780000000|1.1.1|support|NONE|ENTERQUEUE||2125550147|1\n")
    (data / "replaced-1").mkdir()  # an earlier restore's leftovers stay where they are
    services.store.close()
    return data / "linebox.db"


def _fingerprint(folder):
    return {path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_factory_reset_empties_the_data_folder_and_keeps_all_of_it(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    db = _populate(data)
    before = {name: digest for name, digest in _fingerprint(data).items() if not name.startswith("replaced-1")}
    assert main(["factory-reset", "--yes", "--db", str(db), "--socket", str(tmp_path / "none.sock")]) == 0
    assert "factory-reset-1" in capsys.readouterr().out
    assert sorted(entry.name for entry in data.iterdir()) == ["factory-reset-1", "replaced-1"]
    kept = data / "factory-reset-1"
    moved = {name: digest for name, digest in _fingerprint(kept).items() if name != "backup.tar"}
    # Every file moved as it was (the database's bytes may differ by a checkpoint: its rows are checked below).
    assert {name for name in moved if not name.endswith(("-wal", "-shm"))} == \
        {name for name in before if not name.endswith(("-wal", "-shm"))}
    assert {name: digest for name, digest in moved.items() if not name.startswith("linebox.db")} == \
        {name: digest for name, digest in before.items() if not name.startswith("linebox.db")}
    # The archive restores the box as it was (recordings included).
    assert main(["backup", "restore", str(kept / "backup.tar"), "--db", str(db),
                 "--socket", str(tmp_path / "none.sock")]) == 0
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM cdr").fetchone() == (1,)
        assert conn.execute("SELECT COUNT(*) FROM voicemail_messages").fetchone() == (1,)
    finally:
        conn.close()


def test_after_a_reset_the_web_admin_shows_its_first_boot_wizard_again(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = _populate(data)
    factory_reset(db, "2026-12-05T00:00:00+00:00")
    services = make_services(data, accounts=make_accounts(data), seeded=False)
    try:
        SetupToken(data).issue()
        client = make_app(services).test_client()
        assert client.get("/dashboard").headers["Location"] == "/setup"
        assert "Setup token" in client.get("/setup").get_data(as_text=True)
    finally:
        services.store.close()


def test_a_second_reset_keeps_the_first(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = _populate(data)
    first = factory_reset(db, "t1")
    (data / "linebox.db").write_bytes(b"not a database")  # a damaged card: the reset goes on
    second = factory_reset(db, "t2")
    assert (first.name, second.name) == ("factory-reset-1", "factory-reset-2")
    assert (first / "backup.tar").is_file() and (second / "linebox.db").read_bytes() == b"not a database"
    assert "backup:" in (second / "backup-failed.txt").read_text()
    assert sorted(entry.name for entry in data.iterdir()) == ["factory-reset-1", "factory-reset-2", "replaced-1"]


def test_without_yes_and_without_a_terminal_nothing_changes(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    data.mkdir()
    db = _populate(data)
    before = _fingerprint(data)
    monkeypatch.setattr("sys.stdin", io.StringIO("reset\n"))  # not a terminal
    assert main(["factory-reset", "--db", str(db), "--socket", str(tmp_path / "none.sock")]) == 2
    assert "add --yes" in capsys.readouterr().err
    assert _fingerprint(data) == before


@pytest.mark.parametrize("answer, status", [("no\n", 1), ("reset\n", 0)])
def test_the_confirmation_must_be_typed(tmp_path, monkeypatch, answer, status):
    data = tmp_path / "data"
    data.mkdir()
    db = _populate(data)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stdin", Terminal(answer))
    assert main(["factory-reset", "--db", str(db), "--socket", str(tmp_path / "none.sock")]) == status
    assert (data / "factory-reset-1").exists() == (status == 0)


def _uploads_in_progress(data):
    """What the web admin keeps under ``<data>/staging/``: a full backup half sent in pieces, a
    contacts CSV awaiting its confirmation (webadmin/staging.py's own files)."""
    restore = StagingArea(data / "staging" / "restore", 1 << 30)
    token = restore.begin("chief", "s1", "box.tar", {}, 8 << 20, now=1.78e9)
    restore.append(token, "chief", "s1", 0, b"\xa5" * (4 << 20), now=1.78e9)
    StagingArea(data / "staging" / "contacts", 1 << 20).stage("chief", "s1", "c.csv", {}, b"name,number\n", 1.78e9)
    return token


def test_a_reset_drops_the_uploads_in_progress_and_keeps_the_data_restorable(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = _populate(data)
    _uploads_in_progress(data)
    (data / FAILED_RESTORE).write_bytes(b"a restore that failed at a start: the admin's to look at")
    before = {name: digest for name, digest in _fingerprint(data).items()
              if not name.startswith(("replaced-1", "staging/"))}
    kept = factory_reset(db, "2026-12-05T00:00:00+00:00")
    assert sorted(entry.name for entry in data.iterdir()) == ["factory-reset-1", "replaced-1"]
    assert not (kept / "staging").exists() and not list(kept.rglob("*.staged")) and not list(kept.rglob("*.part"))
    moved = {name for name in _fingerprint(kept) if name != "backup.tar" and not name.endswith(("-wal", "-shm"))}
    assert moved == {name for name in before if not name.endswith(("-wal", "-shm"))}  # the rest all kept
    assert (kept / FAILED_RESTORE).is_file()
    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        manifest = backup.verify(kept / "backup.tar", Path(scratch))
    assert manifest.recordings and not [entry.path for entry in manifest.entries if "staging" in entry.path]


def test_only_the_newest_reset_folders_are_kept(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = _populate(data)
    names = []
    for reset in range(KEEP_ASIDE + 2):
        (data / "queue_log").write_bytes(f"reset {reset}\n".encode())
        names.append(factory_reset(db, f"t{reset}").name)
    # Numbered after the highest, never in the gap the removed ones leave.
    assert names == [f"factory-reset-{n}" for n in range(1, KEEP_ASIDE + 3)]
    left = sorted((entry.name for entry in data.iterdir()), key=lambda name: (len(name), name))
    assert left == ["replaced-1"] + [f"factory-reset-{n}" for n in range(3, KEEP_ASIDE + 3)]
    assert (data / f"factory-reset-{KEEP_ASIDE + 2}" / "queue_log").read_bytes() == f"reset {KEEP_ASIDE + 1}\n".encode()
    assert (data / "replaced-1").is_dir()  # the other kind is not touched
