"""The console over a real UNIX socket against a real appliance on the virtual board.

The appliance's media loop is stepped by a background thread, unpaced but throttled (a few
times real time), like ``linebox run`` without the wall clock; the world (phones, exchange
lines) is scripted on the loop's thread through the same gateway the console uses. Waits
are for conditions (the engine reaching a state), never assertions about speed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from drivers.link import LinkConfig
from drivers.ports import PortInService, PortOutOfService
from firmware import FirmwareError
from firmware.config import ConfigStore
from firmware.console import ConsoleClient, ConsoleServer, EngineAccess, LogBuffer
from firmware.console.commands import COMMANDS
from firmware.console.gateway import EngineGateway
from firmware.console.protocol import ok_line
from linebox.commands.config import board_ports
from linebox.commands.console import start_console

# isort: split
from linebox.appliance import open_virtual_appliance  # after linebox.commands (a circular import otherwise)

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in New York: the demo office is open
STEP_PAUSE_S = 0.004  # between ticks: a few times real time, so the other engineers' CPU is left alone
WAIT_S = 20.0  # the longest any condition below may take to come true


class Rig:
    """A running appliance with its console server, stepped in a background thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.app = open_virtual_appliance(folder / "db.sqlite", paced=False, seed=11, origin=ORIGIN)
        self.log_buffer = LogBuffer().attach()
        self._step_lock = threading.Lock()
        self._stopping = threading.Event()
        self.step_error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="test media loop", daemon=True)
        self.thread.start()
        self.socket = folder / "linebox.sock"
        self.server = start_console(self.app, self.socket, self.log_buffer)
        self.gateway = EngineGateway(self.app.loop.submit, timeout_s=WAIT_S)

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                with self._step_lock:
                    self.app.loop.step()
                time.sleep(STEP_PAUSE_S)
        except BaseException as exc:  # the test checks this: the engine must never die
            self.step_error = exc
            raise

    @contextlib.contextmanager
    def paused(self):
        with self._step_lock:
            yield

    def on_loop(self, fn):
        """Runs ``fn`` on the media loop's thread (world scripting, switch inspection)."""
        return self.gateway.call(fn)

    def close(self) -> None:
        self.server.close()
        self._stopping.set()
        self.thread.join(timeout=10)
        self.log_buffer.detach()
        self.app.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    logger = logging.getLogger("linebox")
    old_level = logger.level
    logger.setLevel(logging.INFO)  # what configure_logging does in linebox run
    rig = Rig(tmp_path_factory.mktemp("console"))
    yield rig
    rig.close()
    logger.setLevel(old_level)
    assert rig.step_error is None
    assert not rig.socket.exists()


@pytest.fixture
def engine_ok(rig):
    """After each test: the media loop still runs, nothing is left taken out or in a call."""
    yield
    assert rig.step_error is None and rig.thread.is_alive()
    tick = rig.app.loop.tick
    wait_for(lambda: rig.app.loop.tick > tick + 5, "the media loop to go on")


def wait_for(condition, what: str, timeout_s: float = WAIT_S):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def ask(path: Path, command: str) -> list[str]:
    with ConsoleClient(path) as client:
        lines: list[str] = []
        client.run(command, lines.append)
        return lines


def rows(lines: list[str]) -> list[list[str]]:
    """A table's rows (header dropped) as lists of cells (cells are separated by 2+ spaces)."""
    return [re.split(r"\s{2,}", line) for line in lines[1:]]


def port_row(path: Path, port: int) -> list[str]:
    return rows(ask(path, "show ports"))[port]


def call_rows(path: Path) -> list[list[str]]:
    lines = ask(path, "show calls")
    return [] if lines == ["no calls"] else rows(lines)


def hang_up_everything(rig: Rig) -> None:
    world = rig.app.world

    def hang_up():
        for phone in world.phones:
            if phone.is_offhook:
                phone.hangup()
            phone.answer_on_ring(rings=10**6)  # no auto-answer left over
    rig.on_loop(hang_up)
    wait_for(lambda: call_rows(rig.socket) == [], "every call to end")
    wait_for(lambda: all(row[2] == "idle" for row in rows(ask(rig.socket, "show ports"))), "every port idle")


def internal_call(rig: Rig, caller: int, number: str, callee: int) -> str:
    """A test call answered by the phone on ``callee``; returns the call id."""
    rig.on_loop(lambda: rig.app.world.phone(callee).answer_on_ring(1))
    assert ask(rig.socket, f"call test {caller} {number} hold=600") == [
        f"test call: phone on port {caller} off hook, dials {number} in 500 ms, hangs up in 600 s"]
    row = wait_for(lambda: [r for r in call_rows(rig.socket) if r[5] == "connected"], "the call to connect")[0]
    assert row[1:3] == ["internal", f"{caller},{callee}"]
    return row[0]


# ----------------------------------------------------------------------------- the socket


def test_socket_is_private_and_greets(rig, engine_ok):
    mode = rig.socket.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o660
    with ConsoleClient(rig.socket) as client:
        assert client.banner == ["linebox console (protocol 1, board virtual): type help"]


def test_help_lists_every_command(rig, engine_ok):
    lines = ask(rig.socket, "help")
    assert len(lines) == len(COMMANDS)
    for spec, line in zip(COMMANDS, lines, strict=True):
        assert line.startswith(spec.usage) and line.endswith(spec.summary)


def test_show_ports_lists_the_board_and_its_configuration(rig, engine_ok):
    config = rig.app.store.load()
    table = rows(ask(rig.socket, "show ports"))
    assert [row[:4] for row in table] == [[str(p), "fxo" if p < 2 else "fxs", "idle", "yes"] for p in range(6)]
    for extension in config.extensions:
        assert table[extension.port][6] == f"{extension.number} {extension.name}"
    assert table[0][6] == config.line(0).name


# ----------------------------------------------------------------------------- calls


def test_internal_test_call_in_calls_ports_bridges_and_stats(rig, engine_ok):
    try:
        call = internal_call(rig, 2, "202", 3)
        calls = call_rows(rig.socket)
        assert len(calls) == 1
        number, direction, ports, caller, destination, state, duration = calls[0]
        assert (direction, ports, caller, destination, state) == ("internal", "2,3", '201 "Reception"', "202",
                                                                  "connected")
        assert re.fullmatch(r"\d+:\d\d", duration)
        table = rows(ask(rig.socket, "show ports"))
        assert table[2][2:5] == ["connected", "yes", call] and table[3][2:5] == ["connected", "yes", call]
        assert rows(ask(rig.socket, "show bridges")) == [["2", "3", call]]
        stats = dict(rows(ask(rig.socket, "show stats")))
        assert stats["calls"] == "1" and int(stats["ticks"]) > 0
        for name in ("tick_p50_ms", "tick_p99_ms", "tick_max_ms"):
            assert float(stats[name]) > 0.0
        assert float(stats["tick_p50_ms"]) <= float(stats["tick_p99_ms"]) <= float(stats["tick_max_ms"])
        assert int(stats["deadline_misses"]) >= 0 and stats["xruns_capture"] == "0"
    finally:
        hang_up_everything(rig)
    assert ask(rig.socket, "show bridges") == ["no bridges"]


def test_inbound_test_call_rings_the_office(rig, engine_ok):
    try:
        assert ask(rig.socket, "call test 0 5551234 hold=600") == [
            "test call: exchange line on port 0 rings from 5551234, caller clears in 600 s"]
        row = wait_for(lambda: [r for r in call_rows(rig.socket) if r[5] == "ringing"], "the office to ring")[0]
        assert row[1] == "inbound" and row[2].startswith("0,") and row[3] == '5551234 "LINEBOX TEST"'
        rig.on_loop(lambda: rig.app.world.line(0).far_end_hangup())  # answered by the box: connected to it
        wait_for(lambda: call_rows(rig.socket) == [], "the caller to hang up")
    finally:
        hang_up_everything(rig)


def test_call_test_refuses_a_phone_already_off_hook(rig, engine_ok):
    try:
        rig.on_loop(lambda: rig.app.world.phone(5).offhook())
        with pytest.raises(FirmwareError, match="the phone on port 5 is off hook already"):
            ask(rig.socket, "call test 5 201")
    finally:
        hang_up_everything(rig)


# ----------------------------------------------------------------------------- ports in and out


def test_port_out_ends_its_call_and_port_in_restores_it(rig, engine_ok):
    try:
        call = internal_call(rig, 2, "202", 3)
        assert ask(rig.socket, "port out 3") == [f"port 3 out of service (call {call} ended)"]
        assert port_row(rig.socket, 3)[2:4] == ["out_of_service", "no (by hand)"]
        assert call_rows(rig.socket) == []
        assert port_row(rig.socket, 2)[2] == "failed"  # the other side hears busy
        assert ask(rig.socket, "port out 3") == ["port 3 was already out of service; it stays out until 'port in 3'"]
        hang_up_everything_but(rig, 3)
        # a call to the port out of service gets busy
        assert ask(rig.socket, "call test 4 202 hold=600")
        wait_for(lambda: port_row(rig.socket, 4)[2] == "failed", "busy for a call to a port out of service")
        assert port_row(rig.socket, 4)[5] == "busy"
        hang_up_everything_but(rig, 3)
        assert ask(rig.socket, "port in 3") == ["port 3 in service"]
        assert port_row(rig.socket, 3)[2:4] == ["idle", "yes"]
        assert ask(rig.socket, "port in 3") == ["port 3 was already in service"]
    finally:
        ask(rig.socket, "port in 3")
        hang_up_everything(rig)


def hang_up_everything_but(rig: Rig, out: int) -> None:
    def hang_up():
        for phone in rig.app.world.phones:
            if phone.is_offhook:
                phone.hangup()
    rig.on_loop(hang_up)
    wait_for(lambda: all(row[2] == "idle" for row in rows(ask(rig.socket, "show ports")) if row[0] != str(out)),
             "the other ports idle")


@pytest.mark.parametrize("port", [0, 5])  # the edges: first (FXO line) and last port
def test_port_out_and_in_at_the_edges(rig, engine_ok, port):
    try:
        assert ask(rig.socket, f"port out {port}") == [f"port {port} out of service"]
        assert port_row(rig.socket, port)[2:4] == ["out_of_service", "no (by hand)"]
    finally:
        assert ask(rig.socket, f"port in {port}") == [f"port {port} in service"]
    assert port_row(rig.socket, port)[2:4] == ["idle", "yes"]


def test_port_out_by_hand_and_by_the_link_are_both_respected(rig, engine_ok):
    switch = rig.app.switch
    try:
        # out by the link, in by hand: stays out until the link is back
        rig.on_loop(lambda: switch.on_port_event(PortOutOfService(4, "test: link down")))
        assert port_row(rig.socket, 4)[2:4] == ["out_of_service", "no"]
        assert ask(rig.socket, "port in 4") == ["port 4 stays out of service: the line card has it out (see show link)"]
        rig.on_loop(lambda: switch.on_port_event(PortInService(4)))
        assert port_row(rig.socket, 4)[2:4] == ["idle", "yes"]
        # out by hand, the link goes down and comes back: still out until port in
        assert ask(rig.socket, "port out 4") == ["port 4 out of service"]
        rig.on_loop(lambda: switch.on_port_event(PortOutOfService(4, "test: link down")))
        rig.on_loop(lambda: switch.on_port_event(PortInService(4)))
        assert port_row(rig.socket, 4)[2:4] == ["out_of_service", "no (by hand)"]
        assert ask(rig.socket, "port in 4") == ["port 4 in service"]
    finally:
        rig.on_loop(lambda: switch.on_port_event(PortInService(4)))
        ask(rig.socket, "port in 4")
    assert port_row(rig.socket, 4)[2:4] == ["idle", "yes"]


# ----------------------------------------------------------------------------- the link


def test_show_link_and_dump_frames(rig, engine_ok):
    link = dict(rows(ask(rig.socket, "show link")))
    assert link["state"] == "up" and link["model"] == "LBX-2O4S" and link["protocol"] == "1.1"
    assert link["ports"] == "fxo,fxo,fxs,fxs,fxs,fxs" and link["firmware"] == "1.0.0"
    for name in ("frames_tx", "frames_rx", "retransmissions", "reconnects"):
        assert link[name].isdigit()
    assert int(link["frames_tx"]) > 0 and int(link["frames_rx"]) > 0
    frames = ask(rig.socket, "dump frames")
    assert 1 <= len(frames) <= LinkConfig().dump_frames
    for number, line in enumerate(frames, 1):
        assert re.fullmatch(rf"{number}/{len(frames)} (tx|rx) .+ a5( [0-9a-f]{{2}})+", line), line


def test_retransmissions_are_counted(rig, engine_ok):
    before = int(dict(rows(ask(rig.socket, "show link")))["retransmissions"])
    rig.on_loop(lambda: rig.app.board.inject("drop_ack"))
    wait_for(lambda: int(dict(rows(ask(rig.socket, "show link")))["retransmissions"]) > before,
             "a retransmission after a dropped ack")


def test_crc_errors_are_counted(rig, engine_ok):
    rig.on_loop(lambda: rig.app.board.inject("bad_crc"))
    wait_for(lambda: int(dict(rows(ask(rig.socket, "show link")))["crc_errors"]) >= 1, "a CRC error counted",
             timeout_s=3.0)
    assert int(dict(rows(ask(rig.socket, "show link")))["resyncs"]) >= 1


# ----------------------------------------------------------------------------- configuration and logs


def test_config_reload_applies_a_change_made_by_another_process(rig, engine_ok):
    assert ask(rig.socket, "config reload")[0].endswith("is already running")
    other = ConfigStore(rig.folder / "db.sqlite", boards=board_ports)  # like `linebox config import`
    try:
        old = other.load()
        renamed = tuple(dataclasses.replace(each, name="Support Desk") if each.number == "203" else each
                        for each in old.extensions)
        other.save(dataclasses.replace(old, extensions=renamed), source="test")
        revision = other.config_version()
    finally:
        other.close()
    assert port_row(rig.socket, 4)[6] == "203 Support"  # the engine has not seen it yet
    assert ask(rig.socket, "config reload") == [
        f"configuration revision {revision} applied (calls in progress keep going)"]
    assert port_row(rig.socket, 4)[6] == "203 Support Desk"
    assert ask(rig.socket, "config reload") == [f"configuration revision {revision} is already running"]


def test_log_level_changes_a_component_at_runtime(rig, engine_ok):
    logger = logging.getLogger("linebox.switch")
    try:
        listed = dict(rows(ask(rig.socket, "log level")))
        assert listed["switch"] == "info" and "console" in listed and "link" in listed
        assert ask(rig.socket, "log level switch DEBUG") == ["log level of switch: debug (was info)"]
        assert logger.getEffectiveLevel() == logging.DEBUG
        assert dict(rows(ask(rig.socket, "log level")))["switch"] == "debug"
        assert ask(rig.socket, "log level switch warning") == ["log level of switch: warning (was debug)"]
        assert not logger.isEnabledFor(logging.INFO)
    finally:
        logger.setLevel(logging.NOTSET)


def _tail(client: ConsoleClient, command: str, stop: threading.Event, lines: list[str], errors: list[str]):
    def run():
        try:
            client.run(command, lines.append, stop.is_set)
        except FirmwareError as exc:
            errors.append(str(exc))
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_log_tail_follows_with_filters_until_a_line_is_sent(rig, engine_ok):
    stop, lines, errors = threading.Event(), [], []
    with ConsoleClient(rig.socket) as client:
        try:
            tail = _tail(client, "log tail component=switch port=4 lines=0", stop, lines, errors)
            wait_for(lambda: rig.log_buffer.subscribers == 1, "the tail to subscribe")
            ask(rig.socket, "call test 4 204 hold=600")
            wait_for(lambda: any("event=offhook" in line for line in lines), "the off-hook line")
            stop.set()
            tail.join(timeout=WAIT_S)
            assert not tail.is_alive() and errors == []
            assert rig.log_buffer.subscribers == 0
            for line in lines:
                assert " switch event=" in line
                assert re.search(r"\b(port|line|origin)=4\b|\bports=(\d+,)*4\b", line), line
            more: list[str] = []
            client.run("show calls", more.append)  # the same console goes on after the tail
            assert more[0] == "no calls" or more[0].startswith("call ")
        finally:
            hang_up_everything(rig)


def test_log_tail_starts_with_recent_lines(rig, engine_ok):
    ask(rig.socket, "show ports")  # at least one recent console line
    stop, lines, errors = threading.Event(), [], []
    stop.set()  # stop as soon as the backlog is out
    with ConsoleClient(rig.socket) as client:
        _tail(client, "log tail lines=3", stop, lines, errors).join(timeout=WAIT_S)
    assert errors == [] and 1 <= len(lines) <= 3 + 2  # three recent lines, perhaps a new one or two
    assert all(re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z [A-Z]+ \S+ event=", line) for line in lines)


def test_two_consoles_at_once(rig, engine_ok):
    stop, lines, errors = threading.Event(), [], []
    with ConsoleClient(rig.socket) as watcher, ConsoleClient(rig.socket) as technician:
        assert rig.server.consoles >= 2
        tail = _tail(watcher, "log tail component=switch", stop, lines, errors)
        wait_for(lambda: rig.log_buffer.subscribers == 1, "the tail to subscribe")
        out: list[str] = []
        technician.run("port out 5", out.append)
        technician.run("port in 5", out.append)
        technician.run("show stats", out.append)
        assert out[:2] == ["port 5 out of service", "port 5 in service"]
        wait_for(lambda: any("event=port_in_service" in line for line in lines), "the other console to see it")
        assert any("event=port_out_of_service port=5 reason=console" in line for line in lines)
        stop.set()
        tail.join(timeout=WAIT_S)
    assert errors == []
    wait_for(lambda: rig.server.consoles == 0, "both consoles to detach")


def _still_serving(rig: Rig) -> None:
    wait_for(lambda: rig.log_buffer.subscribers == 0, "the dead console's tail to end")
    wait_for(lambda: rig.server.consoles == 0, "the dead console to detach")
    tick = rig.app.loop.tick
    wait_for(lambda: rig.app.loop.tick > tick + 10, "the engine to go on")
    assert rig.step_error is None
    assert rows(ask(rig.socket, "show stats"))[0][0] == "ticks"


def test_console_process_killed_mid_log_tail(rig, engine_ok):
    client = subprocess.Popen([sys.executable, "-m", "linebox", "console", "--socket", str(rig.socket), "-x",
                               "log tail"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: rig.log_buffer.subscribers == 1, "the killed console's tail to start")
        ask(rig.socket, "show ports")  # lines flow to it
    finally:
        client.send_signal(signal.SIGKILL)
        client.communicate(timeout=WAIT_S)
    _still_serving(rig)


def test_socket_dropped_mid_log_tail_while_lines_flow(rig, engine_ok):
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.connect(str(rig.socket))
    raw.sendall(b"log tail\n")
    wait_for(lambda: rig.log_buffer.subscribers == 1, "the tail to start")
    rig.on_loop(lambda: rig.app.world.phone(2).offhook())
    raw.close()  # gone without a stop line, with lines still flowing to it
    try:
        _still_serving(rig)
    finally:
        hang_up_everything(rig)


def _read_to_ok(raw: socket.socket) -> bytes:
    received = b""
    while not received.endswith(ok_line()):  # data lines are dot-stuffed: only the end is this line
        chunk = raw.recv(4096)  # the socket's timeout fails the test when the end never comes
        assert chunk, received
        received += chunk
    return received


def test_a_stop_line_read_with_the_log_tail_command_ends_it(rig, engine_ok):
    """A loaded engine may read the command and the stop line in one go (the web admin stops its
    tail after 20 ms of quiet): the tail must still end with its OK, not wait on a socket that
    will never be readable again (the web page hung on it)."""
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.settimeout(WAIT_S)
    raw.connect(str(rig.socket))
    try:
        _read_to_ok(raw)  # the banner
        raw.sendall(b"log tail lines=2\n\n")  # one write: one read on the engine's side
        _read_to_ok(raw)
    finally:
        raw.close()
    wait_for(lambda: rig.log_buffer.subscribers == 0, "the tail to end")
    _still_serving(rig)


def test_console_that_stops_reading_is_dropped(rig, engine_ok, tmp_path):
    engine = EngineAccess(loop=rig.app.loop, switch=rig.app.switch, store=rig.app.store)
    with ConsoleServer(tmp_path / "stuck.sock", engine, rig.log_buffer, write_timeout_s=0.2) as server:
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(str(server.path))
        flood = logging.getLogger("linebox.console_flood")  # a component exists once it has a logger
        try:
            stuck.sendall(b"log tail component=console_flood lines=0\n")
            wait_for(lambda: rig.log_buffer.subscribers == 1, "the tail to start")
            for _ in range(100):  # until the socket buffers are full and stay full: the reader reads nothing
                for n in range(200):
                    flood.warning("flood", extra={"fields": {"n": n, "padding": "x" * 1000}})
                if server.consoles == 0:
                    break
                time.sleep(0.02)
            wait_for(lambda: server.consoles == 0, "the stuck console to be dropped")
            assert rig.log_buffer.subscribers == 0
        finally:
            stuck.close()


# ----------------------------------------------------------------------------- bad input


BAD_COMMANDS = [
    ("bogus", "unknown command 'bogus': type help"),
    ("show", "unknown command 'show': did you mean one of show ports, show calls"),
    ("show ports now", "usage: show ports"),
    ("port out", "usage: port out N"),
    ("port out 6", "port 6 is out of range 0-5"),
    ("port out -1", "port must be a whole number, got '-1'"),
    ("port in x", "port must be a whole number, got 'x'"),
    ("port out 1 2", "usage: port out N"),
    ("call test 2", "usage: call test FROM_PORT NUMBER"),
    ("call test 6 201", "port 6 is out of range 0-5"),
    ("call test 2 20a", "number '20a' must be keys 0-9 * # only"),
    # the caller ID limit (dsp.callerid.MAX_NUMBER_DIGITS, 20), on an exchange line and on a phone alike
    ("call test 0 " + "1" * 24, "number is 24 digits long: the limit is 20 (the longest number caller ID carries"),
    ("call test 2 " + "1" * 21, "number is 21 digits long: the limit is 20"),
    ("call test 2 201 hold=0", "hold 0 is out of range 1-3600"),
    ("call test 2 201 hold=3601", "hold 3601 is out of range 1-3600"),
    ("call test 2 201 ring=5", "unknown option 'ring' (options: hold)"),
    ("call test 0 55*1", "an exchange line rings with a caller number of digits 0-9"),
    ("log tail level=loud", "unknown log level 'loud'"),
    ("log tail port=6", "port 6 is out of range 0-5"),
    ("log tail component=nosuch", "unknown log component 'nosuch' (components: "),
    ("log tail lines=1001", "lines 1001 is out of range 0-1000"),
    ("log tail lines", "'lines' is not key=value"),
    ("log tail port=1 port=2", "option 'port' given twice"),
    ("log level switch", "usage: log level [COMPONENT LEVEL]"),
    ("log level nosuch info", "unknown log component 'nosuch'"),
    ("log level switch loud", "unknown log level 'loud'"),
    ("config reload now", "usage: config reload"),
    ("dump frames all", "usage: dump frames"),
    ("quit now", "usage: quit"),
]


def _state(rig: Rig):
    switch = rig.app.switch
    return rig.on_loop(lambda: (switch.snapshot(), set(switch.out_by_hand), len(switch.calls), switch.config))


def test_bad_commands_get_one_line_and_change_nothing(rig, engine_ok):
    before = _state(rig)
    levels = {name: logging.getLogger(f"linebox.{name}").level for name in ("switch", "console", "link")}
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    raw.connect(str(rig.socket))
    reader = raw.makefile("rb")
    try:
        assert reader.readline().startswith(b"linebox console") and reader.readline() == b".ok\n"
        for command, message in BAD_COMMANDS:
            raw.sendall(command.encode() + b"\n")
            reply = reader.readline().decode()
            assert reply.startswith(".error ") and message in reply, (command, reply)
        raw.sendall(b"x" * 5000 + b"\n\xff\xfe\n\nhelp\n")
        assert reader.readline() == b".error line longer than 1024 bytes\n"
        assert reader.readline() == b".error byte 1 of the line is not UTF-8 text\n"
        assert reader.readline().startswith(b"help")  # the empty line got no response
    finally:
        reader.close()
        raw.close()
    assert _state(rig) == before
    assert {name: logging.getLogger(f"linebox.{name}").level for name in levels} == levels


def test_call_test_on_hardware_is_refused(rig, engine_ok, tmp_path):
    engine = EngineAccess(loop=rig.app.loop, switch=rig.app.switch, store=rig.app.store, link=None)
    with ConsoleServer(tmp_path / "hw.sock", engine, rig.log_buffer) as server:
        with pytest.raises(FirmwareError, match="call test needs the virtual board: on this board lift the "
                                                "handset on port 2 and dial 201"):
            ask(server.path, "call test 2 201")
        assert ask(server.path, "show link") == ["no line card link on this engine"]
        assert ask(server.path, "dump frames") == ["no line card link on this engine"]
        assert ask(server.path, "show ports")[0].startswith("port")  # still a console for everything else


def test_stalled_engine_times_out_and_changes_nothing(rig, engine_ok, tmp_path):
    engine = EngineAccess(loop=rig.app.loop, switch=rig.app.switch, store=rig.app.store)
    with ConsoleServer(tmp_path / "slow.sock", engine, rig.log_buffer, timeout_s=0.2) as server:
        with rig.paused():
            with pytest.raises(FirmwareError, match=r"did not take the request within 0.2 s \(media loop "
                                                    r"stalled\?\): nothing was done"):
                ask(server.path, "port out 4")
        assert port_row(server.path, 4)[2:4] == ["idle", "yes"]  # the loop ran again: the request did not


# ----------------------------------------------------------------------------- the server's socket


def test_too_many_consoles(rig, engine_ok, tmp_path):
    engine = EngineAccess(loop=rig.app.loop, switch=rig.app.switch, store=rig.app.store)
    path = tmp_path / "two.sock"
    with ConsoleServer(path, engine, rig.log_buffer, max_consoles=2) as server:
        with ConsoleClient(path), ConsoleClient(path):
            with pytest.raises(FirmwareError, match=r"too many consoles attached \(2\): try again later"):
                ConsoleClient(path).connect()
        wait_for(lambda: server.consoles == 0, "the consoles to detach")
        assert ask(path, "help")
    assert not path.exists()


def test_live_socket_is_refused_and_stale_one_replaced(rig, engine_ok, tmp_path):
    engine = EngineAccess(loop=rig.app.loop, switch=rig.app.switch, store=rig.app.store)
    with pytest.raises(FirmwareError, match="another engine already listens on the console socket"):
        ConsoleServer(rig.socket, engine, rig.log_buffer).start()
    assert ask(rig.socket, "help")  # the running one is untouched
    stale = tmp_path / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(stale))
    leftover.close()  # what a crashed engine leaves: a socket file nobody listens on
    with ConsoleServer(stale, engine, rig.log_buffer):
        assert ask(stale, "help")
    not_a_socket = tmp_path / "file.sock"
    not_a_socket.write_text("x")
    with pytest.raises(FirmwareError, match="exists and is not a socket"):
        ConsoleServer(not_a_socket, engine, rig.log_buffer).start()
    assert not_a_socket.read_text() == "x"


def test_socket_path_too_long_is_refused(rig, tmp_path):
    engine = EngineAccess(loop=rig.app.loop, switch=rig.app.switch, store=rig.app.store)
    with pytest.raises(FirmwareError, match="longer than 107 bytes"):
        ConsoleServer(tmp_path / ("x" * 120), engine, rig.log_buffer)


# ----------------------------------------------------------------------------- linebox console


def _linebox(*args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linebox", "console", *args], cwd=ROOT, capture_output=True,
                          text=True, input=stdin, timeout=WAIT_S, env={**os.environ, **(env or {})})


def test_x_runs_one_command_for_scripts(rig, engine_ok):
    done = _linebox("-x", "show ports", env={"LINEBOX_CONSOLE": str(rig.socket)})
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.splitlines()[0].split() == ["port", "type", "state", "in_service", "call", "tone", "name"]
    assert len(done.stdout.splitlines()) == 7
    refused = _linebox("--socket", str(rig.socket), "-x", "port out 9")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr == "linebox: port 9 is out of range 0-5\n"


def test_no_engine_is_one_line_and_status_2(tmp_path):
    missing = tmp_path / "var" / "linebox.sock"
    done = _linebox("--socket", str(missing), "-x", "show ports")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"linebox: no engine at {missing}: is linebox running?\n"
    default = subprocess.run([sys.executable, "-m", "linebox", "console", "-x", "help"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=WAIT_S,
                             env={**{k: v for k, v in os.environ.items() if k != "LINEBOX_CONSOLE"},
                                  "PYTHONPATH": str(ROOT)})
    assert default.returncode == 2
    assert default.stderr == "linebox: no engine at var/linebox.sock: is linebox running?\n"


def test_interactive_session(rig, engine_ok, tmp_path):
    done = _linebox("--socket", str(rig.socket), stdin="show stats\nbogus\n\nlog tail lines=1\n\nquit\n",
                    env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("linebox console (protocol 1, board virtual): type help\nlinebox> ")
    assert "\nticks " in out and "error: unknown command 'bogus': type help" in out
    assert "(following; press Enter to stop)" in done.stderr
    assert out.rstrip().endswith("bye")


def test_engine_restart_needs_a_supervisor_and_says_so_in_show_status(rig, engine_ok, tmp_path):
    """Under systemd ``linebox run`` gives the console a restart (the loop ends with exit status
    75, which the unit restarts); a developer's engine has none and refuses, changing nothing."""
    asked = []
    bare = EngineAccess(loop=rig.app.loop, switch=rig.app.switch, store=rig.app.store)
    with ConsoleServer(tmp_path / "bare.sock", bare, rig.log_buffer) as server:
        with pytest.raises(FirmwareError, match="this engine was not started by systemd"):
            ask(server.path, "engine restart")
        assert json.loads(ask(server.path, "show status")[0])["restart"] == "none"
    supervised = dataclasses.replace(bare, restart=lambda: asked.append("restart"))
    with ConsoleServer(tmp_path / "sd.sock", supervised, rig.log_buffer) as server:
        assert json.loads(ask(server.path, "show status")[0])["restart"] == "systemd"
        assert ask(server.path, "engine restart") == ["the engine stops now; systemd starts it again within seconds"]
    assert asked == ["restart"]
