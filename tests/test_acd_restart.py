"""The ACD's state across a restart of the whole box, end to end on the virtual board: an agent
logs in by feature code, answers a queue call and pauses with a reason; the box stops cleanly
(or is killed) and starts again on the same database. The agent is still logged in and paused
at the same phone, today's counters go on, and `linebox acd report` shows the answered call in
the interval that was open when the box stopped (docs/acd.md, "What a restart keeps")."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from acd_engine_helpers import events_of, login, queue_config
from features_helpers import LINE_1, LINE_2, PORT, dial, hang_up, inbound_call, run, state

from firmware.console.access import EngineAccess
from firmware.console.commands import Console
from firmware.console.gateway import EngineGateway
from firmware.console.logbuffer import LogBuffer
from linebox.appliance import open_virtual_appliance
from linebox.cli import main

ALICE = "203"  # agent 1001 sits there (port 4)
ORIGIN = dt.datetime(2026, 11, 25, 10, 13, 0, tzinfo=dt.UTC)  # in the 10:00-10:15 interval
EDGE = dt.datetime(2026, 11, 25, 10, 15, 0, tzinfo=dt.UTC)
ROOT = Path(__file__).resolve().parent.parent


def console(app) -> Console:
    engine = EngineAccess(loop=app.loop, switch=app.switch, store=app.store)
    return Console(engine, LogBuffer(), EngineGateway(lambda request: request()))


def table(app, command: str) -> dict[str, dict[str, str]]:
    lines = console(app).execute(command).lines
    headers = lines[0].split()
    return {line.split()[0]: dict(zip(headers, line.split(), strict=False)) for line in lines[1:]}


def first_run(app) -> None:
    """Alice logs in, answers a call (about 3 s of talk), then pauses with reason 3."""
    login(app, ALICE, "1001")
    inbound_call(app, LINE_1, number="2125557788", seconds=4.0)
    assert state(app, PORT[ALICE]) == "ringing"
    app.world.phone(PORT[ALICE]).offhook()
    run(app, 3.0)
    hang_up(app, ALICE, seconds=2.0)
    assert table(app, "show agents")["1001"]["state"] == "available"  # no wrap-up
    dial(app, ALICE, "*47", 0.5)
    dial(app, ALICE, "3", 2.0)
    hang_up(app, ALICE)
    assert table(app, "show agents")["1001"]["state"] == "paused"


def report(capsys, db: Path, *who: str) -> list[dict]:
    capsys.readouterr()
    assert main(["acd", "report", "--db", str(db), *who, "--interval", "15m", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def after_restart(app, db: Path, capsys, lost_offered: int = 0) -> None:
    """What the second start must show, then a call while Alice is paused, then the edge."""
    run(app, 0.2)
    alice = table(app, "show agents")["1001"]
    assert (alice["state"], alice["port"], alice["answered"]) == ("paused", str(PORT[ALICE]), "1")
    assert app.acd.core.agents["1001"].paused_reason == "3"
    assert not events_of(app, "ADDMEMBER")[1:]  # one ADDMEMBER in queue_log: the log-in of the first run
    support = table(app, "show queues")["support"]
    assert (support["offered"], support["answered"]) == ("1", "1")  # today's counters go on
    inbound_call(app, LINE_2, number="2125550000", seconds=4.0)
    assert state(app, PORT[ALICE]) == "idle"  # still paused: not rung
    app.world.line(LINE_2).far_end_hangup()
    run(app, 1.0)
    support = table(app, "show queues")["support"]
    assert (support["offered"], support["answered"], support["abandoned"]) == ("2", "1", "1")
    run(app, (EDGE.timestamp() - app.acd.now()) + 0.2)  # past 10:15: the interval is written
    app.acd_stats.history.drain()
    (row,) = report(capsys, db, "--queue", "support")
    assert row["start"] == "2026-11-25T10:00:00+00:00"
    assert (row["offered"], row["answered"], row["abandoned"], row["completed"]) == (2, 1, 1, 1)
    (agent_row,) = report(capsys, db, "--agent", "1001")
    assert agent_row["answered"] == 1 and agent_row["completed"] == 1 and agent_row["paused_seconds"] > 0


def test_clean_stop_and_restart_keeps_the_agent_the_counters_and_the_open_interval(tmp_path, capsys):
    db = tmp_path / "db.sqlite"
    app = open_virtual_appliance(db, paced=False, seed=1, origin=ORIGIN, config=queue_config(wrapup_s=0))
    try:
        run(app, 0.2)
        first_run(app)
        stopped_at = app.acd.now()
    finally:
        app.close()
    again = dt.datetime.fromtimestamp(stopped_at + 20, dt.UTC)  # 20 s later, same interval
    app = open_virtual_appliance(db, paced=False, seed=2, origin=again)
    try:
        after_restart(app, db, capsys)
    finally:
        app.close()


CRASHING_RUN = """
import datetime as dt, os, signal, sys
sys.path[:0] = [sys.argv[2], sys.argv[3]]
from acd_engine_helpers import queue_config
from features_helpers import run
from linebox.appliance import open_virtual_appliance
import test_acd_restart as t
app = open_virtual_appliance(sys.argv[1], paced=False, seed=1, origin=t.ORIGIN, config=queue_config(wrapup_s=0))
run(app, 0.2)
t.first_run(app)
run(app, 61.0 - app.switch.tick * 0.02)  # past the first checkpoint (60 s after start)
app.acd_stats.history.drain()  # what was handed over is committed
print(app.acd.now(), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.slow
def test_a_killed_box_comes_back_with_what_was_committed(tmp_path, capsys):
    db = tmp_path / "db.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CRASHING_RUN, str(db), str(ROOT / "tests"), str(ROOT)],
                          capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]
    killed_at = float(done.stdout.split()[-1])
    again = dt.datetime.fromtimestamp(killed_at + 5, dt.UTC)
    app = open_virtual_appliance(db, paced=False, seed=2, origin=again)
    try:
        after_restart(app, db, capsys)
    finally:
        app.close()
