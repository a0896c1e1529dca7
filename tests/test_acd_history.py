"""The ACD interval store (table ``acd_intervals``, component ``acd_history``) and
``linebox acd report``: rows read back as written, a SIGKILL right after a commit keeps the
row (WAL + synchronous=FULL), bad rows and bad report arguments are one-line errors that
change nothing, and the report's text / JSON / CSV carry hand-computed rates."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from firmware import FirmwareError
from firmware.acdengine.history import COMPONENT, MIGRATIONS, HistoryWriter, IntervalRow, IntervalStore
from firmware.config.db import connect, schema_version
from linebox.cli import main

ROOT = Path(__file__).resolve().parent.parent
START = 1795651200.0  # 2026-11-26T00:00:00Z
# 4 offered: 3 answered (2 within T, waits 5 + 10 + 30 s), 1 abandoned within T; talk 300 s,
# wrap-up 30 s over 3 completed calls; busy 330 s, idle 270 s.
COUNTERS = {"offered": 4, "answered": 3, "answered_in_sl": 2, "abandoned": 1, "abandoned_in_sl": 1,
            "completed": 3, "answered_wait_seconds": 45.0, "longest_answered_wait_seconds": 30.0,
            "talk_seconds": 300.0, "wrapup_seconds": 30.0, "busy_seconds": 330.0, "idle_seconds": 270.0}
EXPECTED = {"service_level": 2 / 3, "service_level_offered": 0.5, "asa_seconds": 15.0, "aht_seconds": 110.0,
            "abandon_rate": 0.25, "occupancy": 0.55}


def rows_of(size: int, count: int, queue: str = "support") -> list[IntervalRow]:
    return [IntervalRow("queue", queue, size, START + i * size, dict(COUNTERS)) for i in range(count)]


def test_rows_read_back_and_rates_come_from_the_counters(tmp_path):
    store = IntervalStore(tmp_path / "db.sqlite")
    try:
        store.write(rows_of(900, 3) + [IntervalRow("agent", "1001", 900, START, {"answered": 2, "completed": 2,
                                       "ring_no_answer": 1, "talk_seconds": 200.0,
                                       "state_seconds": {"oncall": 200.0, "available": 600.0}})])
        read = store.queue_rows("support", 900, since=START + 900)
        assert [start for start, _ in read] == [START + 900, START + 1800]
        figures = read[0][1].as_dict()
        for name, value in EXPECTED.items():
            assert figures[name] == pytest.approx(value)
        ((_, agent),) = store.agent_rows("1001", 900)
        assert agent.answered == 2 and agent.occupancy == pytest.approx(0.25)
        store.write(rows_of(900, 1))  # the same interval again replaces it
        assert len(store.queue_rows("support", 900)) == 3
        assert schema_version(store.conn, COMPONENT) == len(MIGRATIONS)
    finally:
        store.close()


@pytest.mark.parametrize("row, message", [
    (IntervalRow("queue", "support", 600, START, {}), "interval must be 900, 3600 or 86400"),
    (IntervalRow("trunk", "support", 900, START, {}), "row kind must be one of"),
])
def test_a_bad_row_refuses_the_whole_batch(tmp_path, row, message):
    store = IntervalStore(tmp_path / "db.sqlite")
    try:
        with pytest.raises(FirmwareError, match=message):
            store.write(rows_of(900, 1) + [row])
        assert store.queue_rows("support", 900) == []
    finally:
        store.close()


def test_a_newer_schema_is_refused(tmp_path):
    conn = connect(tmp_path / "db.sqlite")
    schema_version(conn, COMPONENT)
    conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)", (COMPONENT, len(MIGRATIONS) + 1, "future"))
    conn.close()
    with pytest.raises(FirmwareError, match="newer than this firmware"):
        IntervalStore(tmp_path / "db.sqlite")


def test_the_writer_thread_commits_in_order(tmp_path):
    writer = HistoryWriter(IntervalStore(tmp_path / "db.sqlite"))
    writer.submit(rows_of(3600, 2))
    writer.submit([])
    writer.close()
    store = IntervalStore(tmp_path / "db.sqlite")
    try:
        assert [start for start, _ in store.queue_rows("support", 3600)] == [START, START + 3600]
    finally:
        store.close()


KILLED_WRITER = """
import sys, time
from firmware.acdengine.history import IntervalRow, IntervalStore
store = IntervalStore(sys.argv[1])
store.write([IntervalRow("queue", "support", 900, 1795651200.0, {"offered": 7})])
print("committed", flush=True)
time.sleep(60)
"""


def test_a_sigkill_right_after_the_commit_keeps_the_row(tmp_path):
    db = tmp_path / "db.sqlite"
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(db)], cwd=ROOT, stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stdout.readline().strip() == "committed"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    store = IntervalStore(db)
    try:
        ((start, stats),) = store.queue_rows("support", 900)
        assert start == START and stats.offered == 7
    finally:
        store.close()


# ----------------------------------------------------------------------------- linebox acd report

@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "db.sqlite"
    store = IntervalStore(path)
    store.write(rows_of(900, 4) + rows_of(3600, 1) + rows_of(900, 1, queue="sales"))
    store.close()
    return path


def report(capsys, *args: str) -> tuple[int, str, str]:
    status = main(["acd", "report", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_report_json_has_every_interval_and_the_hand_computed_rates(db, capsys):
    status, out, _ = report(capsys, "--db", str(db), "--queue", "support", "--interval", "15m",
                            "--since", "2026-11-26T00:15", "--until", "2026-11-26T00:45:00+00:00", "--json")
    assert status == 0
    rows = json.loads(out)
    assert [(row["start"], row["end"]) for row in rows] == [("2026-11-26T00:15:00+00:00", "2026-11-26T00:30:00+00:00"),
                                                            ("2026-11-26T00:30:00+00:00", "2026-11-26T00:45:00+00:00")]
    for name, value in EXPECTED.items():
        assert rows[0][name] == pytest.approx(value)
    assert rows[0]["offered"] == 4 and rows[0]["abandoned"] == 1 and rows[0]["answered_in_sl"] == 2


def test_report_csv_and_text(db, capsys):
    status, out, _ = report(capsys, "--db", str(db), "--queue", "support", "--interval", "1h", "--csv")
    assert status == 0
    header, *rows = list(csv.reader(io.StringIO(out)))
    assert header[:6] == ["start", "end", "offered", "answered", "abandoned", "answered_in_sl"]
    assert len(rows) == 1
    row = dict(zip(header, rows[0], strict=True))
    assert row["start"] == "2026-11-26T00:00:00+00:00" and row["end"] == "2026-11-26T01:00:00+00:00"
    assert float(row["service_level"]) == pytest.approx(2 / 3) and float(row["aht_seconds"]) == 110.0
    status, out, _ = report(capsys, "--db", str(db), "--queue", "support", "--interval", "15m")
    lines = out.splitlines()
    assert lines[0].split() == ["start", "offered", "answered", "abandoned", "sl", "sl_offered", "asa_s", "aht_s",
                                "abandon_rate", "occupancy"]
    assert lines[1].split() == ["2026-11-26T00:00:00+00:00", "4", "3", "1", "66.7%", "50.0%", "15.0", "110.0",
                                "25.0%", "55.0%"]
    assert len(lines) == 5
    status, out, _ = report(capsys, "--db", str(db), "--queue", "support", "--interval", "1d")
    assert status == 0 and out == "no 1d intervals of queue support in that period\n"


@pytest.mark.parametrize("args, message", [
    (("--queue", "billing"), "no statistics for queue 'billing'"),
    (("--queue", "support", "--since", "yesterday"), "--since 'yesterday' is not an ISO 8601"),
    (("--queue", "support", "--since", "2026-11-26T01:00", "--until", "2026-11-26T00:00"), "--until must be after"),
])
def test_report_errors_are_one_line(db, capsys, args, message):
    status, out, err = report(capsys, "--db", str(db), *args)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_report_on_a_missing_database_creates_nothing(tmp_path, capsys):
    status, _, err = report(capsys, "--db", str(tmp_path / "none.sqlite"), "--queue", "support")
    assert status == 2 and "no database at" in err
    assert list(tmp_path.iterdir()) == []


# An agent's 15 minutes: 2 answered and completed, 1 missed; talk 240 s, wrap-up 60 s, ringing 20 s,
# available 280 s, paused 300 s (so busy 320 s, occupancy 320 / 600, AHT (240 + 60) / 2).
AGENT_COUNTERS = {"answered": 2, "completed": 2, "ring_no_answer": 1, "talk_seconds": 240.0,
                  "state_seconds": {"oncall": 240.0, "wrapup": 60.0, "ringing": 20.0, "available": 280.0,
                                    "paused": 300.0}}


def test_agent_report_has_the_hand_computed_figures(db, capsys):
    store = IntervalStore(db)
    store.write([IntervalRow("agent", "1001", 900, START, AGENT_COUNTERS)])
    store.close()
    status, out, _ = report(capsys, "--db", str(db), "--agent", "1001", "--json")
    assert status == 0
    (row,) = json.loads(out)
    assert row["start"] == "2026-11-26T00:00:00+00:00" and row["answered"] == 2 and row["ring_no_answer"] == 1
    assert row["aht_seconds"] == pytest.approx(150.0) and row["occupancy"] == pytest.approx(320 / 600)
    assert row["busy_seconds"] == 320.0 and row["available_seconds"] == 280.0 and row["paused_seconds"] == 300.0
    assert row["logged_in_seconds"] == 900.0 and row["state_seconds"]["paused"] == 300.0
    status, out, _ = report(capsys, "--db", str(db), "--agent", "1001")
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["start", "answered", "completed", "rna"]
    assert lines[1].split() == ["2026-11-26T00:00:00+00:00", "2", "2", "1", "240.0", "150.0", "53.3%", "280.0",
                                "320.0", "300.0", "900.0"]
    status, out, _ = report(capsys, "--db", str(db), "--agent", "1001", "--csv")
    header, values = list(csv.reader(io.StringIO(out)))
    assert header[:3] == ["start", "end", "answered"] and values[2] == "2"


def test_agent_report_errors(db, capsys):
    status, out, err = report(capsys, "--db", str(db), "--agent", "9999")
    assert status == 2 and out == "" and "no statistics for agent '9999'" in err
    assert err.count("\n") == 1
    with pytest.raises(SystemExit) as usage:  # argparse: a queue or an agent, not both
        report(capsys, "--db", str(db), "--agent", "1001", "--queue", "support")
    assert usage.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
