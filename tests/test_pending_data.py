"""A restore or factory reset staged by the web admin and applied at the engine's start
(firmware/storage/pending.py): refused whole when damaged, applied once, a late failure leaves
the data as they are."""

import pytest

from firmware import FirmwareError
from firmware.config import ConfigStore, seed_demo
from firmware.storage import backup
from firmware.storage.pending import (
    FAILED_RESTORE,
    PENDING_RESTORE,
    apply_pending,
    pending,
    stage_factory_reset,
    stage_restore,
    wait_until_applied,
)
from linebox.storage import board_ports

CREATED = "2026-12-05T00:00:00+00:00"


@pytest.fixture
def box(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    db = data / "linebox.db"
    store = ConfigStore(db, boards=board_ports)
    seed_demo(store)
    store.close()
    archive = data / "upload.tar"
    backup.create(db, archive, CREATED)
    return db, archive


def test_nothing_pending_is_nothing_done(box):
    db, _ = box
    assert pending(db) is None and apply_pending(db, CREATED) is None


def test_a_damaged_archive_is_not_staged(box):
    db, archive = box
    archive.write_bytes(archive.read_bytes()[:2000])
    with pytest.raises(FirmwareError, match="backup"):
        stage_restore(archive, db)
    assert pending(db) is None and not list(db.parent.glob(".verify-*"))


def test_a_restore_damaged_after_staging_fails_at_the_start_and_changes_nothing(box):
    db, archive = box
    stage_restore(archive, db)
    staged = db.parent / PENDING_RESTORE
    staged.write_bytes(staged.read_bytes()[:3000])
    before = db.read_bytes()
    done = apply_pending(db, CREATED)
    assert done.startswith("restore failed, the data are unchanged") and db.read_bytes() == before
    assert pending(db) is None and (db.parent / FAILED_RESTORE).is_file()  # not tried again at every start
    assert not list(db.parent.glob("replaced-*"))


def test_a_staged_reset_wins_and_runs_once(box):
    db, archive = box
    stage_restore(archive, db)
    stage_factory_reset(db, CREATED)
    assert pending(db) == "factory-reset"
    assert apply_pending(db, CREATED).startswith("factory reset done")
    assert pending(db) is None and apply_pending(db, CREATED) is None
    assert [p.name for p in db.parent.iterdir()] == ["factory-reset-1"]
    # The staged restore is cancelled: dropped with the reset, never applied over the reset box.
    assert not list((db.parent / "factory-reset-1").rglob(PENDING_RESTORE))


def test_a_staged_restore_still_applies_and_leaves_the_uploads_in_progress(box):
    db, archive = box
    upload = db.parent / "staging" / "restore" / "a1b2.staged"  # another session's upload under way
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"\x00" * 4096)
    stage_restore(archive, db)
    assert apply_pending(db, CREATED).startswith("restored the backup made")
    assert pending(db) is None and upload.read_bytes() == b"\x00" * 4096
    assert not (db.parent / "replaced-1" / "staging").exists()


def test_the_web_admin_waits_for_the_engine_to_apply_it(box):
    db, archive = box
    stage_restore(archive, db)
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        if len(slept) == 3:
            apply_pending(db, CREATED)

    assert wait_until_applied(db, 10.0, sleep=sleep) and len(slept) == 3
    stage_factory_reset(db, CREATED)
    assert not wait_until_applied(db, 2.0, sleep=lambda s: None, period_s=0.5)  # nobody applies it: gives up
