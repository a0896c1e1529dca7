"""The client end of the console socket, used by ``linebox console`` (interactive or ``-x``).

``ConsoleClient(path).connect()`` attaches and reads the banner; ``run(command, on_line,
should_stop)`` sends one command and hands each data line to ``on_line`` until the
response ends, raising :class:`FirmwareError` with the server's message for a refused
command. While a response streams (``log tail``) ``should_stop()`` is asked every
``poll_s``; when it says so, or on Ctrl-C, the client sends the stop line and reads on to
the end of the response, so the server is never left with a half-finished stream.
"""

from __future__ import annotations

import os
import select
import socket
from collections.abc import Callable
from pathlib import Path

from firmware import FirmwareError
from firmware.console.protocol import MAX_LINE_BYTES, parse_reply_line

POLL_S = 0.1
CONNECT_TIMEOUT_S = 5.0


def _never() -> bool:
    return False


class ConsoleClient:
    def __init__(self, path: str | os.PathLike, poll_s: float = POLL_S) -> None:
        self.path = Path(path)
        self.poll_s = poll_s
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        self.banner: list[str] = []

    def connect(self) -> list[str]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            sock.connect(os.fspath(self.path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            sock.close()
            raise FirmwareError(f"no engine at {self.path}: is linebox running?") from exc
        except PermissionError as exc:
            sock.close()
            raise FirmwareError(f"permission denied on {self.path}: the console is for the linebox user "
                                "and its group") from exc
        except OSError as exc:
            sock.close()
            raise FirmwareError(f"cannot attach to {self.path}: {exc.strerror or exc}") from exc
        sock.settimeout(None)
        self._sock = sock
        self.banner = []
        self._read_response(self.banner.append, _never)
        return self.banner

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> ConsoleClient:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, command: str, on_line: Callable[[str], None],
            should_stop: Callable[[], bool] = _never) -> None:
        """Sends ``command``; data lines go to ``on_line``; FirmwareError if the server refuses it."""
        if "\n" in command or "\r" in command:
            raise FirmwareError("a console command is one line")
        payload = command.encode("utf-8")
        if len(payload) > MAX_LINE_BYTES:
            raise FirmwareError(f"command longer than {MAX_LINE_BYTES} bytes")
        self._send(payload + b"\n")
        self._read_response(on_line, should_stop)

    def _send(self, payload: bytes) -> None:
        if self._sock is None:
            raise FirmwareError("the console is not attached")
        try:
            self._sock.sendall(payload)
        except OSError as exc:
            raise FirmwareError(f"the engine closed the console connection ({exc.strerror or exc})") from exc

    def _read_response(self, on_line: Callable[[str], None], should_stop: Callable[[], bool]) -> None:
        stopped = False
        while True:
            try:
                line = self._next_line(None if stopped else should_stop)
                if line is None:
                    if not stopped:
                        self._send(b"\n")  # the stop line
                        stopped = True
                    continue
                reply = parse_reply_line(line)
                if reply.end:
                    if reply.error:
                        raise FirmwareError(reply.text)
                    return
                on_line(reply.text)
            except KeyboardInterrupt:
                if stopped:
                    raise
                self._send(b"\n")
                stopped = True

    def _next_line(self, should_stop: Callable[[], bool] | None) -> str | None:
        """The next line from the server; None when ``should_stop`` said stop meanwhile."""
        sock = self._sock
        if sock is None:
            raise FirmwareError("the console is not attached")
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                raw = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return raw.decode("utf-8", errors="replace")
            if should_stop is not None:
                readable, _, _ = select.select([sock], [], [], self.poll_s)
                if not readable:
                    if should_stop():
                        return None
                    continue
            try:
                data = sock.recv(65536)
            except OSError as exc:
                raise FirmwareError(f"the engine closed the console connection ({exc.strerror or exc})") from exc
            if not data:
                raise FirmwareError("the engine closed the console connection")
            self._buffer += data
