"""Call detail records: checks, storage, crash safety and the Asterisk Master.csv layout."""

import csv
import io
import os
import signal
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from config_helpers import replace

from firmware import FirmwareError
from firmware.cdr import (
    MASTER_CSV_COLUMNS,
    CallRecord,
    CdrStore,
    Disposition,
    HangupBy,
    master_csv_line,
    write_master_csv,
)

ROOT = Path(__file__).resolve().parent.parent
START = 1772463600.0  # 2026-03-02 15:00:00 UTC

INBOUND = CallRecord(
    uniqueid="1772463600.1", start=START, answer=START + 5.4, end=START + 65.6,
    disposition=Disposition.ANSWERED, hangup_by=HangupBy.CALLER, caller_number="2125551234",
    caller_name='Ann "Shop" Lee', dst="600", src_port=0, dst_port=2, dst_extension="201", context="inbound",
    hangup_cause="normal_clearing", lastapp="Dial", lastdata="ring_group office",
)
MISSED = CallRecord(
    uniqueid="1772467200.2", start=START + 3600, end=START + 3630, disposition=Disposition.NO_ANSWER,
    hangup_by=HangupBy.CALLER, caller_number="", dst="201", src_port=1, dst_port=2, dst_extension="201",
    context="inbound",
)
OUTBOUND = CallRecord(
    uniqueid="1772470800.3", start=START + 7200, end=START + 7201, disposition=Disposition.BUSY,
    hangup_by=HangupBy.SYSTEM, caller_number="202", caller_name="Sales", dst="95551234", src_port=3,
    src_extension="202", dst_port=1, context="outbound", hangup_cause="user_busy",
)


def test_durations_follow_asterisk_rounded_half_up():
    assert (INBOUND.duration, INBOUND.billsec) == (66, 60)
    assert (MISSED.duration, MISSED.billsec) == (30, 0)
    half = replace(INBOUND, answer=START, end=START + 0.5)
    assert (half.duration, half.billsec) == (1, 1)
    under = replace(INBOUND, answer=START, end=START + 0.499)
    assert (under.duration, under.billsec) == (0, 0)


def test_master_csv_columns_are_asterisks_order():
    assert MASTER_CSV_COLUMNS == (
        "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp", "lastdata",
        "start", "answer", "end", "duration", "billsec", "disposition", "amaflags", "uniqueid", "userfield")


def test_master_csv_lines_exactly():
    utc = ZoneInfo("UTC")
    assert master_csv_line(INBOUND, utc) == (
        '"","2125551234","600","inbound","""Ann ""Shop"" Lee"" <2125551234>","FXO/0","FXS/2","Dial",'
        '"ring_group office","2026-03-02 15:00:00","2026-03-02 15:00:05","2026-03-02 15:01:05",66,60,'
        '"ANSWERED","DOCUMENTATION","1772463600.1",""\n')
    assert master_csv_line(MISSED, utc) == (
        '"","","201","inbound","","FXO/1","FXS/2","","","2026-03-02 16:00:00",,"2026-03-02 16:00:30",30,0,'
        '"NO ANSWER","DOCUMENTATION","1772467200.2",""\n')
    assert master_csv_line(OUTBOUND, ZoneInfo("America/New_York")) == (
        '"","202","95551234","outbound","""Sales"" <202>","FXS/3","FXO/1","","","2026-03-02 12:00:00",,'
        '"2026-03-02 12:00:01",1,0,"BUSY","DOCUMENTATION","1772470800.3",""\n')


def test_master_csv_reads_back_with_a_csv_reader():
    out = io.StringIO()
    assert write_master_csv([INBOUND, MISSED, OUTBOUND], out, header=True) == 3
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == MASTER_CSV_COLUMNS
    assert all(len(row) == 18 for row in rows)
    parsed = dict(zip(MASTER_CSV_COLUMNS, rows[1], strict=True))
    assert parsed["clid"] == '"Ann "Shop" Lee" <2125551234>'
    assert (parsed["src"], parsed["disposition"], parsed["billsec"]) == ("2125551234", "ANSWERED", "60")
    assert rows[2][MASTER_CSV_COLUMNS.index("answer")] == ""


def test_store_and_read_back(tmp_path):
    with CdrStore(tmp_path / "linebox.db") as store:
        ids = [store.record(r) for r in (OUTBOUND, INBOUND, MISSED)]
        assert len(set(ids)) == 3 and store.count() == 3
        assert list(store.records()) == [INBOUND, MISSED, OUTBOUND]
        assert list(store.records(since=START + 1, until=START + 7200)) == [MISSED]
        row = store.conn.execute("SELECT duration, billsec, disposition FROM cdr WHERE uniqueid = ?",
                                 (INBOUND.uniqueid,)).fetchone()
        assert row == (66, 60, "ANSWERED")
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2


@pytest.mark.parametrize("change,message", [
    ({"end": START - 1}, "cdr.end: "),
    ({"answer": START + 100}, "cdr.answer: "),
    ({"answer": None}, "cdr.answer: an ANSWERED call needs an answer time"),
    ({"disposition": "NO ANSWER"}, "cdr.answer: an ANSWERED call needs"),
    ({"disposition": "HUNG UP"}, "cdr.disposition: expected one of ANSWERED, NO ANSWER, BUSY, FAILED"),
    ({"hangup_by": "nobody"}, "cdr.hangup_by: expected one of caller, callee, system"),
    ({"amaflags": "BILL"}, "cdr.amaflags: expected one of OMIT, BILLING, DOCUMENTATION"),
    ({"uniqueid": ""}, "cdr.uniqueid: missing"),
    ({"caller_name": "a\nb"}, "cdr.caller_name: expected printable text"),
    ({"dst": 600}, "cdr.dst: expected printable text"),
    ({"start": float("nan")}, "cdr.start: expected epoch seconds"),
    ({"start": True}, "cdr.start: expected epoch seconds"),
    ({"src_port": 64}, "cdr.src_port: expected a port 0-63"),
])
def test_bad_records_are_refused_and_nothing_is_written(tmp_path, change, message):
    with CdrStore(tmp_path / "linebox.db") as store:
        with pytest.raises(FirmwareError, match="^" + message.replace("(", r"\(")):
            store.record(replace(INBOUND, **change))
        assert store.count() == 0


def test_duplicate_uniqueid_is_refused(tmp_path):
    with CdrStore(tmp_path / "linebox.db") as store:
        store.record(INBOUND)
        with pytest.raises(FirmwareError, match="cannot store: UNIQUE constraint failed"):
            store.record(replace(INBOUND, dst="202"))
        assert store.count() == 1


def test_record_survives_sigkill_right_after_commit(tmp_path):
    path = tmp_path / "linebox.db"
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from test_cdr import INBOUND\n"
        "from firmware.cdr import CdrStore\n"
        f"store = CdrStore({str(path)!r})\n"
        "store.record(INBOUND)\n"
        "print('committed', flush=True)\n"
        "time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert child.stdout.readline().strip() == "committed"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    # Killed before any checkpoint: the record is only in the write-ahead log, and is read from it.
    assert Path(f"{path}-wal").stat().st_size > 0
    with CdrStore(path) as store:
        assert list(store.records()) == [INBOUND]


def test_cli_export_csv(tmp_path):
    path = tmp_path / "linebox.db"
    with CdrStore(path) as store:
        for record in (INBOUND, MISSED, OUTBOUND):
            store.record(record)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LINEBOX_DB", None)
    run = subprocess.run([sys.executable, "-m", "linebox", "cdr", "export", "--csv", "--db", str(path),
                          "--tz", "America/New_York", "--since", "2026-03-02T15:30:00Z"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    tz = ZoneInfo("America/New_York")
    assert run.stdout == master_csv_line(MISSED, tz) + master_csv_line(OUTBOUND, tz)
    bad = subprocess.run([sys.executable, "-m", "linebox", "cdr", "export", "--csv", "--db", str(path),
                          "--tz", "Mars/Base"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert (bad.returncode, bad.stderr) == (2, "linebox: unknown time zone 'Mars/Base'\n")
