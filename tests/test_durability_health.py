"""The stores' health checks and start-up clean-up (firmware/storage/health.py), and the loss
count of the kill bench (linebox/bench/durability.py), on real files in a temporary folder."""

import os
import sqlite3

import numpy as np
import pytest

from drivers.logs import EventLogger
from firmware.acdengine.history import IntervalStore
from firmware.cdr import CdrStore
from firmware.cdr_spool import spool_path
from firmware.config.store import ConfigStore
from firmware.storage.health import clean_up, find_orphans, integrity
from firmware.voicemail import VoicemailStore
from linebox.bench.durability import Committed, committed, percentile, rows_lost
from linebox.storage import board_ports


def _stores(db):
    """Every store of the box opened once on ``db`` (makes all tables)."""
    config = ConfigStore(db, boards=board_ports)
    cdr = CdrStore(db)
    intervals = IntervalStore(db)
    voicemail = VoicemailStore(db, db.parent / "voicemail")
    return config, cdr, intervals, voicemail


def test_every_store_connection_is_wal_with_full_sync(tmp_path):
    db = tmp_path / "linebox.db"
    config, cdr, intervals, voicemail = _stores(db)
    try:
        for conn in (config.conn, cdr.conn, intervals.conn):
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        for store in (config, cdr, intervals, voicemail):
            store.close()


def test_a_clean_folder_has_no_orphans_and_passes_integrity(tmp_path):
    db = tmp_path / "linebox.db"
    stores = _stores(db)
    stores[3].save("201", "2125550147", "ALICE", 1.0e9, np.ones(8000))
    for store in stores:
        store.close()
    assert find_orphans(db) == []
    assert integrity(db) == "ok"


def test_orphans_of_every_kind_are_found(tmp_path):
    db = tmp_path / "linebox.db"
    config, cdr, intervals, voicemail = _stores(db)
    kept = voicemail.save("201", "", "", 1.0e9, np.ones(8000))
    gone = voicemail.save("201", "", "", 1.0e9, np.ones(8000))
    cdr.start_boot()
    cdr.conn.execute("INSERT INTO cdr_open (uniqueid, boot, record) VALUES ('1.1.1', 1, '{}')")
    cdr.start_boot()  # boot 2: boot 1's open row is a stuck call
    for store in (config, cdr, intervals, voicemail):
        store.close()
    gone.path.unlink()
    (kept.path.parent / "msg-000099.wav").write_bytes(b"RIFF")
    (kept.path.parent / ".msg-000100.wav.abc123").write_bytes(b"RI")
    spool_path(db).write_text('{"torn"\n')
    (tmp_path / "queue_log").write_bytes(b"1|2|NONE|NONE|CONFIGRELOAD|\n1|3|sup")
    kinds = sorted(orphan.kind for orphan in find_orphans(db))
    assert kinds == ["open_call", "spooled_record", "temp_file", "torn_queue_log", "vm_file_without_row",
                     "vm_row_without_file"]


def test_files_newer_than_this_start_are_work_in_progress(tmp_path):
    db = tmp_path / "linebox.db"
    for store in _stores(db):
        store.close()
    folder = tmp_path / "voicemail" / "201"
    folder.mkdir(parents=True)
    temp = folder / ".msg-000001.wav.x1"
    temp.write_bytes(b"RI")
    os.utime(temp, (1000.0, 1000.0))
    assert [orphan.kind for orphan in find_orphans(db, since=999.0)] == []
    assert [orphan.kind for orphan in find_orphans(db, since=1001.0)] == ["temp_file"]


def test_clean_up_cuts_a_torn_queue_log_line_and_removes_the_spool_temp_file(tmp_path):
    db = tmp_path / "linebox.db"
    for store in _stores(db):
        store.close()
    queue_log = tmp_path / "queue_log"
    queue_log.write_bytes(b"1|2|NONE|NONE|CONFIGRELOAD|\n1|3|sup")
    temp = spool_path(db).with_name(spool_path(db).name + ".tmp")
    temp.write_text("half")
    assert clean_up(db, EventLogger("storage")) == 2
    assert queue_log.read_bytes() == b"1|2|NONE|NONE|CONFIGRELOAD|\n"
    assert not temp.exists()
    assert clean_up(db, EventLogger("storage")) == 0  # nothing left: a second start changes nothing
    assert find_orphans(db) == []


def test_voicemail_store_cleans_its_orphans_at_open(tmp_path):
    """The orphans a cut between file and row leaves are gone once the store has opened again."""
    db = tmp_path / "linebox.db"
    config, cdr, intervals, voicemail = _stores(db)
    message = voicemail.save("201", "", "", 1.0e9, np.ones(8000))
    for store in (config, cdr, intervals, voicemail):
        store.close()
    (message.path.parent / "msg-000099.wav").write_bytes(b"RIFF")
    (message.path.parent / ".msg-000100.wav.abc123").write_bytes(b"RI")
    assert len(find_orphans(db)) == 2
    VoicemailStore(db, tmp_path / "voicemail").close()
    assert find_orphans(db) == []


def test_integrity_names_a_damaged_file(tmp_path):
    db = tmp_path / "linebox.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(str(i) * 200,) for i in range(200)])
    conn.commit()
    conn.close()
    data = bytearray(db.read_bytes())
    data[4096:4096 + 12] = b"\xff" * 12  # the second page's b-tree header overwritten
    db.write_bytes(bytes(data))
    assert integrity(db) != "ok"


def test_rows_lost_counts_what_a_later_read_lacks(tmp_path):
    db = tmp_path / "linebox.db"
    config, cdr, intervals, voicemail = _stores(db)
    voicemail.save("201", "", "", 1.0e9, np.ones(8000))
    cdr.conn.execute("INSERT INTO cdr_open (uniqueid, boot, record) VALUES ('1.1.1', 1, '{}')")
    (tmp_path / "queue_log").write_bytes(b"a|b\nc|d\ne|")
    before = committed(db)
    assert before.queue_log == b"a|b\nc|d\n" and before.open_calls == {"1.1.1"} and len(before.voicemail) == 1
    assert sum(rows_lost(before, committed(db)).values()) == 0
    voicemail.close()
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM voicemail_messages")
    conn.execute("DELETE FROM cdr_open")
    conn.execute("UPDATE revision SET value = value - 1")
    conn.commit()
    conn.close()
    (tmp_path / "queue_log").write_bytes(b"a|b\n")
    lost = rows_lost(before, committed(db))
    assert lost == {"cdr": 0, "open_calls": 1, "voicemail": 1, "acd_intervals": 0, "config_revision": 1,
                    "queue_log": 2}
    for store in (config, cdr, intervals):
        store.close()


def test_an_open_call_that_became_a_record_is_kept():
    before = Committed(frozenset(), frozenset({"9.2.1"}), frozenset(), frozenset(), 3, b"")
    after = Committed(frozenset({"9.2.1"}), frozenset(), frozenset(), frozenset(), 3, b"")
    assert sum(rows_lost(before, after).values()) == 0
    assert before.union(after).cdr == {"9.2.1"}


@pytest.mark.parametrize(("values", "fraction", "expected"), [
    ([1.0], 0.99, 1.0),
    ([3.0, 1.0, 2.0], 0.5, 2.0),
    ([float(i) for i in range(1, 21)], 0.99, 20.0),
    ([float(i) for i in range(1, 101)], 0.99, 99.0),
])
def test_percentile_is_nearest_rank(values, fraction, expected):
    assert percentile(values, fraction) == expected


def test_stores_open_their_database_only_through_the_one_helper():
    """Every store's connection comes from firmware.config.db.connect (WAL, synchronous=FULL); the
    other sqlite3.connect calls only read (checks, the kill bench) or write a copy (backup)."""
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    callers = {str(path.relative_to(root)) for package in ("firmware", "linebox", "webadmin", "drivers", "board")
               for path in (root / package).rglob("*.py") if "sqlite3.connect(" in path.read_text(encoding="utf-8")}
    assert callers <= {"firmware/config/db.py", "firmware/storage/backup.py", "firmware/storage/health.py",
                       "linebox/doctor/host_checks.py", "linebox/bench/durability.py"}, callers
