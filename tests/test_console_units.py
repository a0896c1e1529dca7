"""The console's pieces without an engine: line protocol, log buffer and filters, engine gateway."""

from __future__ import annotations

import logging
import threading

import pytest

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.console.commands import COMMANDS, find_command
from firmware.console.gateway import EngineGateway
from firmware.console.logbuffer import LogBuffer, LogFilter, parse_level
from firmware.console.protocol import (
    MAX_LINE_BYTES,
    BadLine,
    LineBuffer,
    Reply,
    data_line,
    error_line,
    ok_line,
    parse_reply_line,
    resolve_socket_path,
)

# ----------------------------------------------------------------------------- protocol


@pytest.mark.parametrize("text", ["", "plain", ".", ".ok", ".error x", "..", "...dots", " .space", "ok"])
def test_data_lines_survive_dot_stuffing(text):
    wire = data_line(text)
    assert wire.endswith(b"\n") and wire.count(b"\n") == 1
    assert parse_reply_line(wire[:-1].decode()) == Reply(text)


def test_terminators():
    assert parse_reply_line(ok_line()[:-1].decode()) == Reply("", end=True)
    assert parse_reply_line(error_line("port 9 does\nnot exist")[:-1].decode()) == Reply(
        "port 9 does not exist", end=True, error=True)
    with pytest.raises(FirmwareError, match="unexpected line"):
        parse_reply_line(".bogus")


def test_newlines_inside_a_data_line_stay_one_line():
    assert data_line("a\nb\rc") == b"a\\nb\\rc\n"


def test_line_buffer_splits_and_keeps_partial_lines():
    buffer = LineBuffer()
    assert buffer.feed(b"show po") == []
    assert buffer.feed(b"rts\r\nshow calls\nlog") == ["show ports", "show calls"]
    assert buffer.feed(b" tail\n") == ["log tail"]


@pytest.mark.parametrize("size", [MAX_LINE_BYTES - 1, MAX_LINE_BYTES, MAX_LINE_BYTES + 1, 5 * MAX_LINE_BYTES])
def test_line_length_limit_edges(size):
    buffer = LineBuffer()
    lines = []
    for start in range(0, size, 300):  # arrives in pieces, as from a socket
        lines += buffer.feed(b"x" * min(300, size - start))
    lines += buffer.feed(b"\nhelp\n")
    if size <= MAX_LINE_BYTES:
        assert lines == ["x" * size, "help"]
    else:
        assert len(lines) == 2 and isinstance(lines[0], BadLine) and lines[1] == "help"
        assert f"longer than {MAX_LINE_BYTES} bytes" in str(lines[0])


def test_non_utf8_line_is_refused_and_the_next_one_read():
    lines = LineBuffer().feed(b"\xff\xfe\nhelp\n")
    assert isinstance(lines[0], BadLine) and "UTF-8" in str(lines[0]) and lines[1] == "help"


CONTROLS = [chr(code) for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)) if chr(code) not in "\t\n"]


@pytest.mark.parametrize("ch", CONTROLS + ["\u2028", "\u202e", "\ufeff"])
def test_a_line_with_a_control_character_is_refused_whole(ch):
    wire = ("show ports " + ch + "x\nhelp\n").encode("utf-8")
    lines = LineBuffer().feed(wire)
    assert isinstance(lines[0], BadLine), lines
    escaped = f"\\x{ord(ch):02x}" if ord(ch) <= 0xFF else f"\\u{ord(ch):04x}"
    assert str(lines[0]) == f"character {escaped} at column 12 is not printable: a command is printable text"
    assert str(lines[0]).isprintable()
    assert lines[1] == "help"


def test_ansi_escapes_and_nul_are_refused_and_tabs_separate_words():
    lines = LineBuffer().feed(b"show\tports\r\n\x1b[2J\nport out \x00\n")
    assert lines[0] == "show\tports"
    assert [str(line).split(" at ")[0] for line in lines[1:]] == ["character \\x1b", "character \\x00"]


def test_replies_are_printable_whatever_they_carry():
    assert data_line("name \x1b[2J\x00\x9b") == b"name \\x1b[2J\\x00\\x9b\n"
    assert error_line("bad \x1b]0;t\x07 end\nmore") == b".error bad \\x1b]0;t\\x07 end more\n"
    for text in CONTROLS:
        assert data_line(text).count(b"\n") == 1 and data_line(text)[:-1].decode().isprintable()
        assert error_line(text).count(b"\n") == 1 and error_line(text)[:-1].decode().isprintable()


def test_socket_path_precedence():
    assert str(resolve_socket_path("/tmp/a.sock", {"LINEBOX_CONSOLE": "/tmp/b.sock"})) == "/tmp/a.sock"
    assert str(resolve_socket_path(None, {"LINEBOX_CONSOLE": "/tmp/b.sock"})) == "/tmp/b.sock"
    assert str(resolve_socket_path(None, {})) == "var/linebox.sock"
    assert str(resolve_socket_path(None, {"LINEBOX_CONSOLE": ""})) == "var/linebox.sock"


# ----------------------------------------------------------------------------- command table


def test_every_command_is_found_by_its_words():
    for spec in COMMANDS:
        found, rest = find_command([*(word.upper() for word in spec.words), "arg"])
        assert found == spec and rest == ["arg"]


@pytest.mark.parametrize("words, message", [
    (["bogus"], "unknown command 'bogus': type help"),
    (["show"], "did you mean one of show ports, show calls"),
    (["show", "everything"], "unknown command 'show everything'"),
])
def test_unknown_commands(words, message):
    with pytest.raises(FirmwareError, match=message):
        find_command(words)


# ----------------------------------------------------------------------------- log buffer


def _record(component: str, level: int, event: str, **fields) -> logging.LogRecord:
    record = logging.LogRecord(f"linebox.{component}", level, __file__, 1, event, None, None)
    record.fields = fields
    return record


def test_log_buffer_keeps_the_last_lines_formatted():
    buffer = LogBuffer(capacity=3)
    for n in range(5):
        buffer.handle(_record("switch", logging.INFO, "offhook", port=n))
    lines = buffer.recent(LogFilter(), 10)
    assert [line.split("port=")[1] for line in lines] == ["2", "3", "4"]
    assert " INFO switch event=offhook port=4" in lines[-1]
    assert buffer.recent(LogFilter(), 1) == lines[-1:]
    assert buffer.recent(LogFilter(), 0) == []


@pytest.mark.parametrize("log_filter, expected", [
    (LogFilter(), ["a", "b", "c", "d", "e"]),
    (LogFilter(component="link"), ["b", "c"]),  # link and its child link.x
    (LogFilter(component="lin"), []),  # a prefix of a name is not a component
    (LogFilter(min_level=logging.WARNING), ["b", "e"]),
    (LogFilter(min_level=logging.ERROR), ["e"]),
    (LogFilter(port=3), ["a", "d", "e"]),  # port=, line= and ports= lists
    (LogFilter(port=0), []),
    (LogFilter(component="switch", port=3, min_level=logging.INFO), ["a", "d", "e"]),
])
def test_log_filters(log_filter, expected):
    buffer = LogBuffer()
    buffer.handle(_record("switch", logging.INFO, "a", port=3))
    buffer.handle(_record("link", logging.WARNING, "b", port=30))
    buffer.handle(_record("link.x", logging.DEBUG, "c"))
    buffer.handle(_record("switch", logging.INFO, "d", line=3))
    buffer.handle(_record("switch", logging.ERROR, "e", ports="2,3"))
    assert [line.split("event=")[1].split()[0] for line in buffer.recent(log_filter, 100)] == expected


def test_subscription_is_bounded_and_counts_what_it_dropped():
    buffer = LogBuffer(queue_lines=3)
    subscription = buffer.subscribe(LogFilter(component="switch"))
    for n in range(5):
        buffer.handle(_record("switch", logging.INFO, "tick", n=n))
        buffer.handle(_record("engine", logging.INFO, "other"))
    lines = subscription.take(0.0)
    assert len(lines) == 4 and all("n=" in line for line in lines[:3])
    assert lines[3] == "console: 2 log lines dropped (this console read too slowly)"
    assert subscription.take(0.0) == []
    buffer.unsubscribe(subscription)
    assert buffer.subscribers == 0


def test_log_buffer_attached_to_the_linebox_logger_gets_event_logger_lines():
    buffer = LogBuffer().attach()
    logger = logging.getLogger("linebox")
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        EventLogger("console_unit").info("hello", port=4, note="two words")
        EventLogger("console_unit").debug("hidden")
    finally:
        logger.setLevel(old)
        buffer.detach()
    assert len(buffer.recent(LogFilter(component="console_unit"), 10)) == 1
    assert buffer.recent(LogFilter(port=4), 10)[0].endswith('console_unit event=hello port=4 note="two words"')


@pytest.mark.parametrize("text, level", [("debug", 10), ("INFO", 20), ("warn", 30), ("Error", 40)])
def test_levels(text, level):
    assert parse_level(text) == level


def test_unknown_level():
    with pytest.raises(FirmwareError, match="unknown log level 'loud'"):
        parse_level("loud")


# ----------------------------------------------------------------------------- gateway


class FakeLoop:
    """Holds submitted requests until the test runs them, like ticks that have not come yet."""

    def __init__(self) -> None:
        self.requests = []

    def submit(self, request) -> None:
        self.requests.append(request)

    def tick(self) -> None:
        requests, self.requests = self.requests, []
        for request in requests:
            request()


def test_gateway_returns_the_result_from_the_loop_thread():
    loop = FakeLoop()
    gateway = EngineGateway(loop.submit, timeout_s=5.0)
    seen = []
    runner = threading.Thread(target=lambda: seen.append(gateway.call(lambda: threading.current_thread().name)))
    runner.start()
    while not loop.requests:
        threading.Event().wait(0.001)
    ticker = threading.Thread(target=loop.tick, name="loop")
    ticker.start()
    ticker.join()
    runner.join()
    assert seen == ["loop"]


def test_gateway_timeout_cancels_the_request_so_nothing_happens_later():
    loop = FakeLoop()
    gateway = EngineGateway(loop.submit, timeout_s=0.05)
    changed = []
    with pytest.raises(FirmwareError, match="did not take the request within 0.05 s .*nothing was done"):
        gateway.call(lambda: changed.append("port out"))
    loop.tick()  # the loop comes back: the cancelled request must not run
    assert changed == []


def test_gateway_errors_come_back_and_the_loop_carries_on(caplog):
    loop = FakeLoop()
    gateway = EngineGateway(loop.submit, timeout_s=5.0)

    def refused():
        raise FirmwareError("port 9 does not exist")

    def bug():
        raise ZeroDivisionError("bug")

    for fn, message in ((refused, "port 9 does not exist"), (bug, "internal error: ZeroDivisionError: bug (traceback in the log)")):
        errors = []

        def ask(fn=fn, errors=errors):
            try:
                gateway.call(fn)
            except FirmwareError as exc:
                errors.append(str(exc))

        runner = threading.Thread(target=ask)
        runner.start()
        while not loop.requests:
            threading.Event().wait(0.001)
        loop.tick()  # raises nothing into the loop
        runner.join()
        assert len(errors) == 1 and message in errors[0]
    assert "console_request_failed" in caplog.text and "ZeroDivisionError" in caplog.text


def test_gateway_needs_a_positive_timeout():
    with pytest.raises(FirmwareError, match="timeout must be > 0"):
        EngineGateway(FakeLoop().submit, timeout_s=0)
