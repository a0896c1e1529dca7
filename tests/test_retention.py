"""Retention (firmware/storage/retention.py, appendlog.py, linebox/maintenance.py): caps by age and
by size, oldest first, the 80 % disk budget warning, and the ``retention`` settings."""

import dataclasses
import logging
import os
import threading

import numpy as np
import pytest

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.cdr import CallRecord, CdrStore, Disposition, HangupBy
from firmware.config.codec import from_dict, to_dict
from firmware.config.db import connect
from firmware.config.demo import demo_config
from firmware.config.model import Retention
from firmware.config.store import ConfigStore
from firmware.storage.appendlog import AppendLog
from firmware.storage.retention import (
    DAY_S,
    MB,
    WARN_PERCENT,
    Retainer,
    Usage,
    queue_log_cut,
    trim_call_records,
    trim_logs,
    trim_recordings,
)
from firmware.voicemail import VoicemailStore
from linebox.maintenance import RetentionKeeper
from linebox.storage import board_ports

NOW = 1_780_000_000.0
POLICY = Retention(cdr_days=30, cdr_max_rows=1000, queue_log_days=30, queue_log_max_mb=1, recordings_days=10,
                   recordings_max_mb=1, logs_days=7, logs_max_mb=1, disk_budget_mb=64)


def _record(number: int, start: float) -> CallRecord:
    return CallRecord(uniqueid=f"{int(start)}.1.{number}", start=start, end=start + 10,
                      disposition=Disposition.ANSWERED, hangup_by=HangupBy.CALLER, answer=start + 2)


def _starts(store: CdrStore) -> list[float]:
    return [row[0] for row in store.conn.execute("SELECT start FROM cdr ORDER BY start")]


def test_call_records_older_than_the_age_cap_go(tmp_path):
    with CdrStore(tmp_path / "db") as store:
        for number, age_days in enumerate((31, 30.01, 29.99, 1)):
            store.record(_record(number, NOW - age_days * DAY_S))
        assert trim_call_records(store.conn, POLICY, NOW) == 2
        assert _starts(store) == [NOW - 29.99 * DAY_S, NOW - DAY_S]


def test_call_records_beyond_the_row_cap_go_oldest_first_in_batches(tmp_path):
    with CdrStore(tmp_path / "db") as store:
        for number in range(2500):
            store.conn.execute("INSERT INTO cdr (uniqueid, start, \"end\", duration, billsec, disposition, hangup_by,"
                               " amaflags) VALUES (?, ?, ?, 0, 0, 'ANSWERED', 'caller', 'DOCUMENTATION')",
                               (f"u{number}", NOW - number, NOW - number))
        assert trim_call_records(store.conn, POLICY, NOW) == 1500
        starts = _starts(store)
        assert len(starts) == 1000 and starts[0] == NOW - 999 and starts[-1] == NOW
        assert trim_call_records(store.conn, POLICY, NOW) == 0  # at the cap: nothing more


def test_no_age_limit_keeps_old_records(tmp_path):
    with CdrStore(tmp_path / "db") as store:
        store.record(_record(1, NOW - 3000 * DAY_S))
        assert trim_call_records(store.conn, dataclasses.replace(POLICY, cdr_days=0), NOW) == 0


def _line(stamp: float, text: str = "x") -> bytes:
    return f"{int(stamp)}|1.1.1|support|NONE|{text}|\n".encode()


@pytest.mark.parametrize(("ages_days", "dropped"), [
    ((40, 31, 30.5, 29, 1), 3),
    ((29, 1), 0),
    ((), 0),
    ((40, 40), 2),
])
def test_queue_log_cut_by_age(ages_days, dropped):
    lines = [_line(NOW - age * DAY_S) for age in ages_days]
    assert queue_log_cut(POLICY, NOW)(lines) == dropped


def test_queue_log_cut_by_size_keeps_the_newest_under_the_cap():
    line = _line(NOW, "y" * 1000)
    lines = [line] * 2000  # about 2 MB, all recent
    dropped = queue_log_cut(POLICY, NOW)(lines)
    assert (2000 - dropped) * len(line) <= MB < (2000 - dropped + 1) * len(line)


def test_queue_log_cut_stops_at_an_unreadable_line():
    lines = [_line(NOW - 40 * DAY_S), b"garbage\n", _line(NOW - 40 * DAY_S)]
    assert queue_log_cut(POLICY, NOW)(lines) == 1


def test_append_log_drop_head_keeps_lines_written_meanwhile(tmp_path):
    path = tmp_path / "queue_log"
    log = AppendLog(path)
    for number in range(5):
        log.write(f"{number}|old\n")
    log.flush()
    written = threading.Event()

    def cut(lines):
        log.write("5|written while cutting\n")  # the writer goes on between the read and the swap
        log.flush()
        written.set()
        return 3

    assert log.drop_head(cut) == 3 and written.is_set()
    log.write("6|after\n")
    log.flush()
    log.close()
    assert path.read_text() == "3|old\n4|old\n5|written while cutting\n6|after\n"
    assert [p.name for p in tmp_path.iterdir()] == ["queue_log"]  # no temporary file left


def test_recordings_go_by_age_then_by_size_through_the_store(tmp_path):
    store = VoicemailStore(tmp_path / "db", tmp_path / "voicemail")
    seconds = 40  # 640 kB a message (16-bit, 8 kHz)
    old = store.save("201", "", "", NOW - 11 * DAY_S, np.ones(8000 * seconds))
    middle = store.save("202", "", "", NOW - 5 * DAY_S, np.ones(8000 * seconds))
    new = store.save("201", "", "", NOW - DAY_S, np.ones(8000 * seconds))
    deleted = []

    def delete(message_id):
        deleted.append(message_id)
        store.delete(message_id)

    # The old one by age; then 1.28 MB > 1 MB: the middle one by size.
    conn = connect(tmp_path / "db")
    assert trim_recordings(conn, tmp_path / "voicemail", POLICY, NOW, delete) == 2
    conn.close()
    assert deleted == [old.id, middle.id]
    assert [m.id for m in store.messages("201")] == [new.id] and store.messages("202") == []
    assert not old.path.exists() and not middle.path.exists() and new.path.exists()
    store.close()


def test_log_files_go_oldest_first_but_never_the_newest(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for index, age_days in enumerate((10, 8, 6, 1)):
        path = logs / f"engine.log.{index}"
        path.write_bytes(b"x" * 100)
        os.utime(path, (NOW - age_days * DAY_S, NOW - age_days * DAY_S))
    assert trim_logs(tmp_path, POLICY, NOW) == 2
    assert sorted(p.name for p in logs.iterdir()) == ["engine.log.2", "engine.log.3"]
    big = logs / "engine.log.2"
    big.write_bytes(b"x" * (2 * MB))
    os.utime(big, (NOW - DAY_S * 2, NOW - DAY_S * 2))
    assert trim_logs(tmp_path, POLICY, NOW) == 1  # over 1 MB: the older goes, the newest stays
    assert [p.name for p in logs.iterdir()] == ["engine.log.3"]
    big = logs / "engine.log.3"
    big.write_bytes(b"x" * (2 * MB))
    assert trim_logs(tmp_path, POLICY, NOW) == 0


@pytest.mark.parametrize(("used", "warning"), [
    (64 * MB * WARN_PERCENT // 100, False),  # 53687091 bytes: 79.99999 %
    (64 * MB * WARN_PERCENT // 100 + 1, True),  # the first byte at or over 80 %
    (64 * MB, True),
    (0, False),
])
def test_the_warning_starts_at_80_percent_of_the_budget(used, warning):
    usage = Usage(database=used, queue_log=0, recordings=0, logs=0, budget=64 * MB)
    assert usage.warning is warning
    assert usage.line().startswith("storage WARNING" if warning else "storage ok")


def test_retainer_warns_once_over_the_budget(tmp_path, caplog):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "big.log").write_bytes(b"x" * (60 * MB))  # the newest log: kept, but counted
    retainer = Retainer(tmp_path / "db", None, log=EventLogger("storage"))
    with caplog.at_level(logging.WARNING):
        retainer.run(POLICY, NOW)
    assert retainer.usage is not None and retainer.usage.warning
    assert any("storage_budget" in record.getMessage() for record in caplog.records)
    retainer.close()


def test_keeper_runs_a_pass_at_start_and_reports_a_line(tmp_path):
    retainer = Retainer(tmp_path / "db", None)
    keeper = RetentionKeeper(retainer, lambda: POLICY, lambda: NOW, period_s=3600).start()
    deadline = threading.Event()
    for _ in range(200):
        if keeper.passes:
            break
        deadline.wait(0.01)
    keeper.close()
    assert keeper.passes == 1
    assert keeper.status_line().startswith("storage ok: ")


# ------------------------------------------------------------------------- the settings


def test_retention_settings_round_trip_through_the_store(tmp_path):
    config = dataclasses.replace(demo_config(), retention=POLICY)
    store = ConfigStore(tmp_path / "db", boards=board_ports)
    store.save(config, source="test")
    store.close()
    again = ConfigStore(tmp_path / "db", boards=board_ports)
    assert again.load().retention == POLICY
    again.close()


def test_a_configuration_without_retention_reads_the_defaults():
    data = to_dict(demo_config())
    del data["retention"]
    assert from_dict(data).retention == Retention()


@pytest.mark.parametrize(("key", "value"), [
    ("cdr_days", -1), ("cdr_days", 3654), ("cdr_max_rows", 999), ("queue_log_max_mb", 0),
    ("recordings_max_mb", 65537), ("logs_days", "7"), ("disk_budget_mb", 63), ("unknown", 1),
])
def test_retention_settings_out_of_bounds_are_refused_by_name(key, value):
    data = to_dict(demo_config())
    data["retention"][key] = value
    with pytest.raises(FirmwareError, match=f"retention.{key}"):
        from_dict(data)


def test_append_log_reads_like_the_file_it_replaces(tmp_path):
    log = AppendLog(tmp_path / "queue_log")
    assert log.name == str(tmp_path / "queue_log") and not log.closed
    log.close()
    assert log.closed
