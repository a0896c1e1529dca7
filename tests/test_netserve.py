"""The shared threaded socket server (firmware/netserve.py) on its own: the connection limit
and its refusal, a bug in one conversation ending that connection only, close() ending the rest."""

from __future__ import annotations

import socket
import threading

import pytest

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.netserve import Connection, LineServer


class Echo:
    """Echoes lines; ``boom`` raises inside the conversation."""

    def __init__(self) -> None:
        self.ended: list[tuple[int, str]] = []
        self.done = threading.Event()

    def serve(self, connection: Connection) -> str:
        connection.sock.sendall(b"hello\n")
        while True:
            try:
                data = connection.sock.recv(100)
            except TimeoutError:
                continue
            if not data:
                return "disconnected"
            if data.strip() == b"boom":
                raise RuntimeError("a bug")
            connection.sock.sendall(data)

    def end(self, connection: Connection, reason: str) -> None:
        self.ended.append((connection.number, reason))
        self.done.set()


def server(echo: Echo, limit: int = 2) -> tuple[LineServer, int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    line_server = LineServer("test", echo.serve, echo.end, lambda: b"full\n", limit, 5.0, EventLogger("test"))
    line_server.start(listener)
    return line_server, listener.getsockname()[1]


def client(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert sock.recv(100) in (b"hello\n", b"full\n")
    return sock


def test_the_limit_refuses_one_more_with_the_protocols_words_and_a_bug_ends_one_connection(caplog):
    echo = Echo()
    line_server, port = server(echo)
    first, second = client(port), client(port)
    extra = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert extra.recv(100) == b"full\n" and extra.recv(100) == b""  # told, then closed
    assert line_server.count == 2
    with caplog.at_level("ERROR"):
        second.sendall(b"boom\n")
        assert second.recv(100) == b""  # its connection closed
        assert echo.done.wait(5)
    assert echo.ended == [(2, "internal error")]
    assert any(r.getMessage() == "test_session_failed" for r in caplog.records)
    first.sendall(b"still here\n")
    assert first.recv(100) == b"still here\n"  # the other connection goes on
    assert line_server.close() is True and line_server.close() is False
    assert first.recv(100) == b""  # close() ended it
    assert sorted(echo.ended) == [(1, "disconnected"), (2, "internal error")] and line_server.count == 0


def test_bad_limits_are_refused():
    with pytest.raises(FirmwareError, match="test server needs max_clients >= 1"):
        LineServer("test", Echo().serve, Echo().end, lambda: b"", 0, 5.0, EventLogger("test"))
