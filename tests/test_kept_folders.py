"""The folders restores and resets keep aside (firmware/storage/kept.py): numbered after the
highest, only the newest KEEP_ASIDE of each kind kept, named with their size by the doctor."""

import pytest

from firmware import FirmwareError
from firmware.config import ConfigStore, seed_demo
from firmware.config.model import Retention
from firmware.storage import backup, kept
from firmware.storage.kept import KEEP_ASIDE
from linebox.doctor.host_checks import check_disk
from linebox.storage import board_ports

CREATED = "2026-12-05T00:00:00+00:00"


def test_numbered_after_the_highest_and_pruned_oldest_first(tmp_path):
    (tmp_path / "replaced-2").mkdir()
    (tmp_path / "replaced-7").mkdir()
    (tmp_path / "replaced-x").mkdir()  # not one of ours: never touched
    (tmp_path / "replaced-9").write_text("a file, not a kept folder")
    assert kept.make(tmp_path, "replaced").name == "replaced-8"
    assert kept.make(tmp_path, "factory-reset").name == "factory-reset-1"
    assert [folder.path.name for folder in kept.folders(tmp_path)] == \
        ["factory-reset-1", "replaced-2", "replaced-7", "replaced-8"]
    assert kept.prune(tmp_path, "replaced", keep=2) == ["replaced-2"]
    assert kept.prune(tmp_path, "replaced", keep=2) == []
    assert sorted(entry.name for entry in tmp_path.iterdir()) == \
        ["factory-reset-1", "replaced-7", "replaced-8", "replaced-9", "replaced-x"]


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(FirmwareError, match="keep 0"):
        kept.prune(tmp_path, "replaced", keep=0)
    with pytest.raises(FirmwareError, match="no kind 'upgrade'"):
        kept.folders(tmp_path, "upgrade")


def _box(data):
    data.mkdir()
    db = data / "linebox.db"
    store = ConfigStore(db, boards=board_ports)
    seed_demo(store)
    store.close()
    return db


def test_restores_keep_only_the_newest_replaced_folders(tmp_path):
    db = _box(tmp_path / "data")
    archive = tmp_path / "box.tar"
    backup.create(db, archive, CREATED)
    made = [backup.restore(archive, db)[1].name for _ in range(KEEP_ASIDE + 1)]
    assert made == [f"replaced-{n}" for n in range(1, KEEP_ASIDE + 2)]
    assert [folder.path.name for folder in kept.folders(db.parent)] == \
        [f"replaced-{n}" for n in range(2, KEEP_ASIDE + 2)]


def test_the_doctor_names_what_is_kept_aside_with_its_size(tmp_path):
    db = _box(tmp_path / "data")
    policy = Retention(disk_budget_mb=512)
    assert check_disk(db, policy).detail.endswith("; nothing kept aside")
    (db.parent / "factory-reset-1").mkdir()
    (db.parent / "factory-reset-1" / "backup.tar").write_bytes(b"\x00" * (3 << 20))
    (db.parent / "replaced-4").mkdir()
    (db.parent / "upgrade-backups").mkdir()
    (db.parent / "upgrade-backups" / "1.0-to-1.1.tar").write_bytes(b"\x00" * (1 << 20))
    result = check_disk(db, policy)
    assert result.ok  # outside the budget: named, not failed
    assert "kept aside: factory-reset-1, replaced-4, upgrade-backups (4.0 MB;" in result.detail
    assert f"the newest {KEEP_ASIDE} of each kind are kept" in result.detail
