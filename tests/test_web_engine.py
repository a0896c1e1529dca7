"""The engine side of the web admin: the console's ``show status`` JSON line on a real appliance,
and the web admin's console link (webadmin.engine) over the real socket."""

from __future__ import annotations

import json
import logging

import pytest

from tests.test_console import Rig, wait_for
from webadmin.engine import ConsoleEngine, engine_status
from webadmin.system import system_figures


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    logger = logging.getLogger("linebox")
    old_level = logger.level
    logger.setLevel(logging.INFO)
    rig = Rig(tmp_path_factory.mktemp("webengine"))
    yield rig
    rig.close()
    logger.setLevel(old_level)
    assert rig.step_error is None


def test_show_status_is_one_json_line_with_ports_calls_stats_link_and_agents(rig):
    engine = ConsoleEngine(rig.socket)
    lines = engine.run("show status")
    assert len(lines) == 1
    status = json.loads(lines[0])
    ports = status["ports"]
    assert [row["port"] for row in ports] == list(range(6))
    assert [row["type"] for row in ports] == ["fxo", "fxo", "fxs", "fxs", "fxs", "fxs"]
    assert ports[2]["name"] == "201 Reception" and ports[2]["in_service"] == "yes"
    assert status["stats"]["ticks"] > 0 and "tick_p99_ms" in status["stats"]
    assert status["link"]["state"] == "up" and "crc_errors" in status["link"]["counters"]
    assert {row["agent"] for row in status["agents"]} == {"1001", "1002"}
    assert [row["queue"] for row in status["queues"]] == ["support"] and status["queues"][0]["waiting"] == 0


def test_a_call_in_progress_appears_in_the_status(rig):
    engine = ConsoleEngine(rig.socket)
    engine.run("call test 2 202 hold=2")
    status = wait_for(lambda: (s := engine_status(engine))["calls"] and s, "the call in the status")
    call = status["calls"][0]
    assert call["ports"].startswith("2") and call["destination"] == "202"
    assert status["ports"][2]["call"] == call["call"]
    wait_for(lambda: not engine_status(engine)["calls"], "the test call to end")


def test_engine_not_running_is_an_error_not_a_crash(tmp_path):
    assert "no engine" in engine_status(ConsoleEngine(tmp_path / "none.sock"))["error"]


def test_system_figures_from_proc(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "loadavg").write_text("0.50 0.40 0.30 1/100 1234\n")
    (proc / "meminfo").write_text("MemTotal:       1000000 kB\nMemAvailable:    250000 kB\n")
    figures = system_figures(tmp_path, proc)
    assert figures["memory_used_percent"] == 75.0
    assert figures["cpu_load_per_core"] is not None and figures["disk_free_mb"] >= 0
    assert system_figures(tmp_path, tmp_path / "missing")["cpu_load_per_core"] is None


def test_log_tail_returns_the_backlog_and_stops(rig):
    engine = ConsoleEngine(rig.socket)
    lines = engine.tail(20)
    assert 0 < len(lines) <= 20 and all(" event=" in line for line in lines)
    assert engine.run("show status")  # the console is free again
