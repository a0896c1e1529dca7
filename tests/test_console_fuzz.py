"""The console against hostile input over its real socket, with a real appliance on the virtual board.

A seeded corpus of lines (random bytes, control characters, terminal escapes, NUL, over-long
lines, command words with hostile arguments, lines sent in pieces) goes to the engine's
console socket one line at a time. Every line gets exactly one reply line, ``.error ...``,
printable; the engine stays up (its media loop ticks, ``show stats`` answers); and no log
line, in the log stream or in the console's log buffer, holds a raw control character.
"""

from __future__ import annotations

import io
import logging
import random
import socket
import time

import pytest
from test_console import Rig, ask, wait_for

from drivers.logs import KeyValueFormatter
from dsp.callerid import MAX_NUMBER_DIGITS
from firmware.console import ConsoleServer, EngineAccess
from firmware.console.logbuffer import LogFilter
from firmware.console.protocol import MAX_LINE_BYTES

SEED = 20261205
CORPUS_LINES = 1000
REPLY_TIMEOUT_S = 20.0
CONTROLS = [bytes([code]) for code in (*range(0x00, 0x20), 0x7F)] + [chr(code).encode() for code in range(0x80, 0xA0)]
ESCAPES = [b"\x1b[2J", b"\x1b[1;1H", b"\x1b]0;owned\x07", b"\x1bc", b"\x9b2J", "\u009b2J".encode(), b"\x00",
           b"\x1b[31mred\x1b[0m", "\u202eevil".encode(), "\u2028".encode(), b"\x08\x08\x08", b"\x07"]
WORDS = ["help", "show", "ports", "calls", "stats", "link", "queues", "agents", "routing", "log", "tail",
         "level", "call", "test", "port", "out", "in", "dump", "frames", "config", "reload", "switch"]
HOSTILE_ARGS = [
    "1" * (MAX_NUMBER_DIGITS + 1), "1" * 24, "9" * 500, "-1", "1e9", "0x10", "６", "٣", "²", "1.5", "NaN",
    "port=-0", "hold=99999999999999999999", "hold=", "=", "==", "lines=1001", "queue=" + "q" * 200,
    "call=" + "é" * 50, "component=../../etc", "level=😀", "'; DROP TABLE cdr; --", "%s%s%n", "{0}",
    "${HOME}", "$(reboot)", "\\x1b[2J", "\\", '"', "MÜLLER", "日本語", "\u00a0", "ok", ".ok", ".error",
]


def _hostile_command(rng: random.Random) -> bytes:
    """Command words and arguments none of which is valid: every such line is refused."""
    words = rng.sample(WORDS, rng.randint(1, 3))
    args = rng.sample(HOSTILE_ARGS, rng.randint(1, 3))
    text = " ".join(words + args).encode("utf-8")
    if rng.random() < 0.5:  # a control character or escape somewhere in it
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(CONTROLS + ESCAPES) + text[at:]
    return text


def corpus(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    lines: list[bytes] = []
    while len(lines) < count:
        kind = rng.randrange(6)
        if kind == 0:
            line = bytes(rng.randrange(256) for _ in range(rng.randint(1, 120)))
        elif kind == 1:
            line = b"".join(rng.choice(CONTROLS + ESCAPES) for _ in range(rng.randint(1, 8)))
        elif kind == 2:
            line = rng.choice([b"show ports", b"port out", b"call test 0", b"log tail"]) + b" " + rng.choice(ESCAPES)
        elif kind == 3:
            line = rng.choice([b"x", b"show stats ", b"\xff"]) * rng.randint(MAX_LINE_BYTES // 3, 3 * MAX_LINE_BYTES)
        else:
            line = _hostile_command(rng)
        line = line.replace(b"\n", b"\x1b")  # one line each: the protocol's only separator is \n
        if line.rstrip(b"\r").strip(b" \t") == b"":
            line = b"\x00"  # an empty line is not a command and gets no reply: not what is tested here
        lines.append(line)
    return lines


def test_corpus_is_hostile_and_reproducible():
    first = corpus(SEED, CORPUS_LINES)
    assert first == corpus(SEED, CORPUS_LINES)
    assert sum(len(line) > MAX_LINE_BYTES for line in first) > 10
    assert sum(b"\x1b[2J" in line for line in first) > 5
    assert sum(b"\x00" in line for line in first) > 5


def _read_reply(reader) -> list[bytes]:
    """The lines of one reply, terminator included."""
    lines = []
    while True:
        line = reader.readline()
        assert line.endswith(b"\n"), f"the console closed or stalled after {lines!r}"
        lines.append(line)
        if line.startswith(b".") and not line.startswith(b".."):
            return lines


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    logger = logging.getLogger("linebox")
    old_level = logger.level
    logger.setLevel(logging.INFO)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # the technician's log, as linebox run writes it
    handler.setFormatter(KeyValueFormatter())
    logger.addHandler(handler)
    rig = Rig(tmp_path_factory.mktemp("console_fuzz"))
    rig.log_stream = stream
    yield rig
    rig.close()
    logger.removeHandler(handler)
    logger.setLevel(old_level)
    assert rig.step_error is None


def _assert_no_raw_controls(text: str, where: str) -> None:
    for number, line in enumerate(text.split("\n"), start=1):
        bad = [ch for ch in line if not ch.isprintable()]
        assert not bad, f"{where} line {number} holds raw {bad!r}: {line!r}"


def test_hostile_lines_over_the_socket_get_one_line_each_and_the_engine_stays_up(rig):
    rng = random.Random(SEED + 1)
    lines = corpus(SEED, CORPUS_LINES)
    tick = rig.app.loop.tick
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.connect(str(rig.socket))
    conn.settimeout(REPLY_TIMEOUT_S)
    reader = conn.makefile("rb")
    try:
        assert _read_reply(reader)[-1] == b".ok\n"  # the banner
        for index, line in enumerate(lines):
            payload = line + b"\n"
            if rng.random() < 0.2:  # a partial line, then its rest: the server waits for the newline
                cut = rng.randint(1, len(payload) - 1)
                conn.sendall(payload[:cut])
                time.sleep(0.002)
                conn.sendall(payload[cut:])
            else:
                conn.sendall(payload)
            reply = _read_reply(reader)
            assert len(reply) == 1 and reply[0].startswith(b".error "), (index, line[:80], reply)
            text = reply[0][:-1].decode("utf-8")
            assert text.isprintable() and len(text) < 2 * MAX_LINE_BYTES, (index, text)
            if index % 100 == 99:  # the engine still answers between hostile lines
                conn.sendall(b"show stats\n")
                assert _read_reply(reader)[-1] == b".ok\n"
    finally:
        reader.close()
        conn.close()
    assert rig.step_error is None and rig.thread.is_alive()
    wait_for(lambda: rig.app.loop.tick > tick + 5, "the media loop to go on")
    stats = ask(rig.socket, "show stats")
    assert stats and any("tick" in line for line in stats)
    log = rig.log_stream.getvalue()
    assert log.count("event=console_line_refused") >= 50  # the hostile lines did reach the log...
    assert "\\x1b[2J" in log and "\\x00" in log  # ... escaped
    _assert_no_raw_controls(log, "log")
    buffered = rig.log_buffer.recent(LogFilter(), 2000)
    assert any("console_line_refused" in line for line in buffered)
    for line in buffered:
        _assert_no_raw_controls(line, "log buffer")


def test_number_limit_is_the_caller_id_limit_at_its_edge(rig):
    longest = "5" * MAX_NUMBER_DIGITS
    placed = ask(rig.socket, f"call test 0 {longest} hold=1")
    assert placed == [f"test call: exchange line on port 0 rings from {longest}, caller clears in 1 s"]
    for number in ("5" * (MAX_NUMBER_DIGITS + 1), "5" * 24, "5" * 32):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(str(rig.socket))
        conn.settimeout(REPLY_TIMEOUT_S)
        reader = conn.makefile("rb")
        try:
            _read_reply(reader)
            for port in (0, 2):  # an exchange line rings with it as caller ID; a phone dials it
                conn.sendall(f"call test {port} {number}\n".encode())
                assert _read_reply(reader) == [
                    f".error number is {len(number)} digits long: the limit is {MAX_NUMBER_DIGITS} (the longest "
                    "number caller ID carries, EN 300 659-3)\n".encode()]
        finally:
            reader.close()
            conn.close()
    assert rig.step_error is None and rig.thread.is_alive()


class BrokenLink:
    """A link view with a bug: every read raises (as a bug in the driver or a view would)."""

    identity = None
    refusal = None
    counters: dict = {}

    @property
    def state(self):
        raise RuntimeError("link view \x1b[2J bug")

    def recent_frames(self):
        raise KeyError("frame")


def test_a_bug_in_a_command_is_one_error_line_and_the_console_goes_on(rig, tmp_path):
    app = rig.app
    engine = EngineAccess(loop=app.loop, switch=app.switch, store=app.store, link=BrokenLink())
    with ConsoleServer(tmp_path / "bug.sock", engine, rig.log_buffer) as server:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(str(server.path))
        conn.settimeout(REPLY_TIMEOUT_S)
        reader = conn.makefile("rb")
        try:
            _read_reply(reader)
            conn.sendall(b"show link\n")
            assert _read_reply(reader) == [
                b".error internal error: RuntimeError: link view \\x1b[2J bug (traceback in the log)\n"]
            conn.sendall(b"dump frames\n")
            assert _read_reply(reader) == [b".error internal error: KeyError: 'frame' (traceback in the log)\n"]
            conn.sendall(b"show stats\n")  # the same console goes on
            assert _read_reply(reader)[-1] == b".ok\n"
        finally:
            reader.close()
            conn.close()
    assert "event=console_command_failed" in rig.log_stream.getvalue()
    _assert_no_raw_controls(rig.log_stream.getvalue(), "log")
    assert rig.step_error is None and rig.thread.is_alive()
