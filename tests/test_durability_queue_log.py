"""queue_log lines are fsynced like every committed record, without the media loop waiting for
the card (firmware/storage/appendlog.py): a syncer thread of the log's own fsyncs what the
writer flushed; close syncs what is left."""

import os
import threading
import time

import pytest

from firmware import FirmwareError
from firmware.storage.appendlog import AppendLog

WAIT_S = 10.0


class Recorder:
    """An fsync stand-in: records the file size each call saw; can block or fail on demand."""

    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.fail = False

    def __call__(self, descriptor: int) -> None:
        self.entered.set()
        assert self.release.wait(WAIT_S)
        if self.fail:
            raise OSError(5, "Input/output error")
        self.sizes.append(os.fstat(descriptor).st_size)


def _until(condition) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "the syncer thread did not catch up"
        time.sleep(0.001)


def test_flushed_lines_are_fsynced_by_the_syncer_thread(tmp_path):
    sync = Recorder()
    log = AppendLog(tmp_path / "queue_log", sync=sync)
    for number in range(3):
        log.write(f"{number}|line\n")
    assert log.lines_written == 3 and log.lines_synced == 0  # written, not flushed: nothing synced
    log.flush()
    _until(lambda: log.lines_synced == 3)
    assert sync.sizes and sync.sizes[-1] == (tmp_path / "queue_log").stat().st_size  # every byte was in the fsync
    log.close()


def test_close_syncs_what_is_left_before_it_returns(tmp_path):
    sync = Recorder()
    log = AppendLog(tmp_path / "queue_log", sync=sync)
    log.write("1|a\n2|b\n")  # no flush: close must still make them durable
    log.close()
    assert log.lines_synced == log.lines_written == 2
    assert sync.sizes[-1] == len(b"1|a\n2|b\n")


def test_the_writer_never_waits_for_a_slow_fsync(tmp_path):
    sync = Recorder()
    log = AppendLog(tmp_path / "queue_log", sync=sync)
    sync.release.clear()  # the card takes its time
    log.write("1|a\n")
    log.flush()
    assert sync.entered.wait(WAIT_S)  # the syncer is inside the fsync now
    writer = threading.Thread(target=lambda: (log.write("2|b\n"), log.flush()))
    writer.start()
    writer.join(WAIT_S)
    assert not writer.is_alive(), "the writer waited for the fsync"
    assert log.lines_synced == 0
    sync.release.set()
    _until(lambda: log.lines_synced == 2)
    log.close()


def test_a_failed_fsync_is_counted_and_retried_at_the_next_flush(tmp_path):
    sync = Recorder()
    sync.fail = True
    log = AppendLog(tmp_path / "queue_log", sync=sync)
    log.write("1|a\n")
    log.flush()
    _until(lambda: log.sync_failures == 1)
    assert log.lines_synced == 0
    sync.fail = False
    log.write("2|b\n")
    log.flush()
    _until(lambda: log.lines_synced == 2)
    log.close()


def test_sync_now_reports_a_failed_fsync(tmp_path):
    sync = Recorder()
    log = AppendLog(tmp_path / "queue_log", sync=sync)
    sync.fail = True
    log.write("1|a\n")
    with pytest.raises(FirmwareError, match="fsync failed"):
        log.sync_now()
    sync.fail = False
    log.close()
    assert log.lines_synced == 1


def test_lines_kept_by_a_cut_from_the_front_are_synced(tmp_path):
    sync = Recorder()
    sync.release.clear()  # the syncer never finishes on its own: only the cut's fsync counts
    log = AppendLog(tmp_path / "queue_log", sync=sync)
    for number in range(4):
        log.write(f"{number}|line\n")
    assert log.drop_head(lambda lines: 2) == 2
    assert log.lines_synced == 4
    sync.release.set()
    log.close()
    assert (tmp_path / "queue_log").read_bytes() == b"2|line\n3|line\n"
