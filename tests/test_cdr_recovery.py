"""Call records that cannot be lost: boot numbers in uniqueids, open rows of answered calls,
retries and the spool of the CDR writer, replay at the next start."""

import json
import sqlite3
import threading

import pytest
from config_helpers import replace
from test_cdr import INBOUND, MISSED, OUTBOUND, START

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.cdr import (
    CUT_SHORT,
    CdrStore,
    Disposition,
    HangupBy,
    cut_short,
    make_uniqueid,
    record_from_json,
    record_to_json,
)
from firmware.cdr_spool import Spool, replay, spool_path
from firmware.engine.call_journal import CallJournal
from firmware.engine.calls import Call, Direction
from firmware.engine.cdr_writer import RETRY_DELAYS_S, CdrWriter, start_call_records

LOG = EventLogger("cdr-test")


def test_uniqueid_looks_like_asterisks_with_the_boot_between():
    assert make_uniqueid(1733400000.93, 7, 12) == "1733400000.7.12"


def test_the_boot_counter_counts_starts_and_survives_reopening(tmp_path):
    path = tmp_path / "linebox.db"
    with CdrStore(path) as store:
        assert [store.start_boot(), store.start_boot()] == [1, 2]
    with CdrStore(path) as store:
        assert store.start_boot() == 3


def test_same_clock_same_call_ids_after_a_restart_are_stored_not_refused(tmp_path):
    """The bug: the clock repeats after a power cut, call 1 of the new start got the uniqueid of
    call 1 of the old one and was refused (UNIQUE constraint failed)."""
    path = tmp_path / "linebox.db"
    for _ in range(2):
        with CdrStore(path) as store:
            boot = store.start_boot()
            store.record(replace(INBOUND, uniqueid=make_uniqueid(INBOUND.start, boot, 1)))
    with CdrStore(path) as store:
        assert [r.uniqueid for r in store.records()] == ["1772463600.1.1", "1772463600.2.1"]


@pytest.mark.parametrize("record", [INBOUND, MISSED, OUTBOUND, replace(INBOUND, caller_name="Zoë ☎ \"x\"")])
def test_json_round_trip(record):
    assert record_from_json(record_to_json(record)) == record
    assert record_to_json(record).isascii()


@pytest.mark.parametrize("text,message", [
    ("{not json", "not a JSON call record"),
    ("[1, 2]", "not a call record"),
    (json.dumps({"uniqueid": "1.1.1", "start": 1.0, "end": 2.0, "bogus": 1}), "not a call record"),
    (json.dumps({"uniqueid": "1.1.1", "start": 1.0, "end": 2.0}), "not a call record"),
    (record_to_json(INBOUND).replace('"ANSWERED"', '"HUNG UP"'), "cdr.disposition"),
    (record_to_json(INBOUND)[:-20], "not a JSON call record"),  # torn by a crash mid-write
])
def test_json_that_is_not_a_record_is_refused(text, message):
    with pytest.raises(FirmwareError, match=message):
        record_from_json(text)


def test_cut_short_marks_the_record():
    short = cut_short(INBOUND)
    assert (short.hangup_by, short.hangup_cause, short.userfield) == (HangupBy.SYSTEM, CUT_SHORT, CUT_SHORT)
    assert (short.start, short.answer, short.end, short.disposition) == (
        INBOUND.start, INBOUND.answer, INBOUND.end, Disposition.ANSWERED)
    assert cut_short(replace(INBOUND, userfield="transfer 1.1.1")).userfield == "transfer 1.1.1 cut_short"


def test_open_rows_of_an_earlier_boot_become_cut_short_records(tmp_path):
    path = tmp_path / "linebox.db"
    answered = replace(INBOUND, end=INBOUND.answer, hangup_by=HangupBy.SYSTEM, hangup_cause="")
    with CdrStore(path) as store:
        boot = store.start_boot()
        store.open_calls(boot, [answered])
        store.open_calls(boot, [replace(answered, end=INBOUND.answer + 10)])  # heartbeat: updated
        store.open_calls(boot, [replace(OUTBOUND, uniqueid="1.1.9", disposition=Disposition.ANSWERED,
                                        answer=OUTBOUND.start)])
        store.record(replace(OUTBOUND, uniqueid="1.1.9"))  # that call ended: its open row goes with it
        assert [row[1] for row in store.open_records()] == [INBOUND.uniqueid]
        assert store.recover_open(boot) == []  # this boot's own calls are not cut short
    with CdrStore(path) as store:
        recovered = store.recover_open(store.start_boot())
        assert recovered == [cut_short(replace(answered, end=INBOUND.answer + 10))]
        assert store.find(INBOUND.uniqueid) == recovered[0]
        assert store.open_records() == [] and store.count() == 2
        assert store.recover_open(99) == []  # done once


def test_a_damaged_open_row_is_kept_not_lost(tmp_path):
    with CdrStore(tmp_path / "linebox.db") as store:
        store.conn.execute("INSERT INTO cdr_open (uniqueid, boot, record) VALUES ('x', 1, '{torn')")
        store.open_calls(1, [INBOUND])
        assert store.recover_open(2) == [cut_short(INBOUND)]
        assert [row[1] for row in store.open_records()] == ["x"]


def test_record_once_is_idempotent_and_refuses_a_different_call(tmp_path):
    with CdrStore(tmp_path / "linebox.db") as store:
        assert store.record_once(INBOUND) is True
        assert store.record_once(INBOUND) is False
        with pytest.raises(FirmwareError, match="another call is stored under this uniqueid"):
            store.record_once(replace(INBOUND, dst="999"))
        assert store.count() == 1


class FlakyStore:
    """A CDR store whose database fails ``failures`` times (as sqlite reports a full or broken
    disk), then works; ``calls`` counts the writes tried."""

    def __init__(self, store: CdrStore, failures: int) -> None:
        self.store = store
        self.failures = failures
        self.calls = 0

    def record(self, record):
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise FirmwareError(f"cdr {record.uniqueid}: cannot store: {sqlite3.OperationalError('disk I/O error')}")
        return self.store.record(record)

    def open_calls(self, boot, records):
        if self.failures:
            raise FirmwareError("cdr: cannot write open calls: disk I/O error")
        self.store.open_calls(boot, records)


def _writer(tmp_path, flaky, sleeps):
    return CdrWriter(flaky, Spool(spool_path(tmp_path / "linebox.db")), boot=1, log=LOG, sleep=sleeps.append)


def test_a_failed_write_is_retried_with_backoff(tmp_path):
    with CdrStore(tmp_path / "linebox.db") as store:
        flaky, sleeps = FlakyStore(store, failures=len(RETRY_DELAYS_S)), []
        writer = _writer(tmp_path, flaky, sleeps)
        writer.submit(INBOUND)
        writer.close()
        assert sleeps == list(RETRY_DELAYS_S) and flaky.calls == len(RETRY_DELAYS_S) + 1
        assert list(store.records()) == [INBOUND] and writer.spooled == 0
        assert RETRY_DELAYS_S == tuple(sorted(RETRY_DELAYS_S)) and sum(RETRY_DELAYS_S) < 5.0
    assert not spool_path(tmp_path / "linebox.db").exists()


def test_a_database_that_keeps_failing_sends_records_to_the_spool_and_the_next_start_replays_it(tmp_path):
    path = tmp_path / "linebox.db"
    with CdrStore(path) as store:
        flaky, sleeps = FlakyStore(store, failures=1000), []
        writer = _writer(tmp_path, flaky, sleeps)
        for record in (INBOUND, MISSED, OUTBOUND):
            writer.submit(record)
        writer.close()
        # The first record gets every retry; while the database stays down the next get one try each.
        assert sleeps == list(RETRY_DELAYS_S) and flaky.calls == len(RETRY_DELAYS_S) + 1 + 2
        assert writer.spooled == 3 and store.count() == 0
    lines = spool_path(path).read_text().splitlines()
    assert [record_from_json(line) for line in lines] == [INBOUND, MISSED, OUTBOUND]
    with CdrStore(path) as store:
        store.record(MISSED)  # say this one was committed after all, though the commit reported an error
        writer = start_call_records(store, Spool(spool_path(path)), LOG)
        writer.close()
        assert sorted(r.uniqueid for r in store.records()) == sorted(r.uniqueid for r in (INBOUND, MISSED, OUTBOUND))
        assert store.count() == 3  # not duplicated
    assert not spool_path(path).exists()


def test_replay_keeps_what_it_cannot_store_and_is_idempotent(tmp_path):
    path = tmp_path / "linebox.db"
    spool = Spool(spool_path(path))
    for record in (INBOUND, MISSED):
        spool.append(record)
    with spool.path.open("a") as out:
        out.write(record_to_json(OUTBOUND)[:30])  # torn last line: the engine died writing it
    with CdrStore(path) as store:
        store.record(replace(MISSED, dst="777"))  # another call under MISSED's uniqueid
        result = replay(spool, store, LOG)
        assert (result.stored, result.present, result.kept) == (1, 0, 2)
        assert store.find(INBOUND.uniqueid) == INBOUND
        kept = spool.lines()
        assert kept == [record_to_json(MISSED), record_to_json(OUTBOUND)[:30]]
        again = replay(spool, store, LOG)
        assert (again.stored, again.present, again.kept) == (0, 0, 2) and store.count() == 2


def test_the_spool_is_written_before_append_returns(tmp_path, monkeypatch):
    import os

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    Spool(tmp_path / "spool.jsonl").append(INBOUND)
    assert synced and (tmp_path / "spool.jsonl").read_text() == record_to_json(INBOUND) + "\n"


def test_a_spool_that_cannot_be_written_leaves_the_record_in_the_error_line(tmp_path, caplog):
    with CdrStore(tmp_path / "linebox.db") as store:
        blocked = tmp_path / "blocked"
        blocked.write_text("a file where the spool's folder should be")
        writer = CdrWriter(FlakyStore(store, failures=1000), Spool(blocked / "spool.jsonl"), boot=1, log=LOG,
                           sleep=lambda s: None)
        with caplog.at_level("ERROR", logger="linebox.cdr-test"):
            writer.submit(INBOUND)
            writer.close()
    unsaved = [r for r in caplog.records if r.getMessage() == "cdr_unsaved"]
    assert len(unsaved) == 1 and record_from_json(unsaved[0].fields["record"]) == INBOUND


class FakeSwitch:
    """Call control as the journal sees it: answers are told (``on_answered``), calls are not scanned."""

    def __init__(self) -> None:
        self.tick = 0
        self.listeners = []

    def on_answered(self, listener) -> None:
        self.listeners.append(listener)

    def answer(self, call: Call) -> None:
        call.answer_tick = self.tick
        for listener in self.listeners:
            listener(call)

    def record(self, call: Call):
        return replace(INBOUND, uniqueid=f"1.1.{call.call_id}", end=START + 10 + self.tick * 0.02)


def test_the_journal_writes_an_answered_call_once_then_at_each_heartbeat():
    sw, written = FakeSwitch(), []
    journal = CallJournal(sw, lambda records: written.append([r.uniqueid for r in records]), heartbeat_ticks=500)
    ringing = Call(1, 0, Direction.INBOUND, 0)
    for tick in range(1, 10):
        sw.tick = tick
        journal.on_tick(tick)
    assert written == []  # not answered: nothing to persist
    other = Call(2, 1, Direction.INBOUND, 0)
    sw.tick = 10
    sw.answer(ringing)
    sw.answer(other)
    for tick in range(10, 1001):
        sw.tick = tick
        if tick == 600:
            journal.before_end(other)
            other.end_tick = tick
        journal.on_tick(tick)
    assert written == [["1.1.1", "1.1.2"], ["1.1.1", "1.1.2"], ["1.1.1"]]  # answer, tick 500, tick 1000


def test_the_journal_forgets_a_call_ended_without_its_listeners_and_waits_for_a_taken_back_answer():
    sw, written = FakeSwitch(), []
    journal = CallJournal(sw, lambda records: written.append([r.uniqueid for r in records]), heartbeat_ticks=100)
    forced, redialled = Call(1, 0, Direction.INBOUND, 0), Call(2, 1, Direction.OUTBOUND, 0)
    sw.answer(forced)
    sw.answer(redialled)
    journal.on_tick(1)
    assert written == [["1.1.1", "1.1.2"]]
    forced.end_tick = 50  # CallControl.force_end: no before_end
    redialled.answer_tick = None  # CallControl.clear_answer: dialling out again
    for tick in range(2, 201):
        journal.on_tick(tick)
    assert written == [["1.1.1", "1.1.2"]]  # heartbeats at 100 and 200 had nothing to write
    sw.tick = 201
    sw.answer(redialled)
    journal.on_tick(201)
    assert written[-1] == ["1.1.2"]


def test_the_writer_thread_is_where_records_go_the_loop_only_queues(tmp_path):
    """``submit`` returns at once even while the database is slow (the media loop never waits)."""
    release = threading.Event()

    class SlowStore(FlakyStore):
        def record(self, record):
            release.wait(5)
            return super().record(record)

    with CdrStore(tmp_path / "linebox.db") as store:
        writer = CdrWriter(SlowStore(store, 0), Spool(tmp_path / "s.jsonl"), boot=1, log=LOG)
        writer.submit(INBOUND)
        writer.submit(MISSED)
        assert store.count() == 0
        release.set()
        writer.close()
        assert store.count() == 2


@pytest.mark.parametrize("args,message", [
    (["--origin", "yesterday"], "linebox: --origin: 'yesterday' is not an ISO 8601 time\n"),
    (["--origin", "2026-03-02T15:00:00"], "linebox: --origin: '2026-03-02T15:00:00' has no UTC offset "
                                          "(add e.g. +00:00 or Z)\n"),
    (["--origin", "2026-03-02T15:00:00Z", "--board", "rpi"],
     "linebox: --origin is for the virtual board: real hardware reads its clock\n"),
])
def test_run_refuses_a_bad_origin_in_one_line(tmp_path, args, message):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    run = subprocess.run([sys.executable, "-m", "linebox", "run", "--db", str(tmp_path / "x.db"), *args],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert (run.returncode, run.stderr) == (2, message)
    assert not (tmp_path / "x.db").exists()
