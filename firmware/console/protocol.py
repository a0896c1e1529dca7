"""The console's line protocol over a local UNIX stream socket (docs/console.md, "Protocol").

Text, UTF-8, one line per ``\\n`` (a ``\\r`` before it is ignored):

- the client sends one command per line (at most :data:`MAX_LINE_BYTES` bytes) of printable
  text: blanks and tabs separate words; a line with any other character that is not
  printable (C0 and C1 controls, DEL, terminal escapes, NUL) or that is not UTF-8 is refused
  whole with ``.error`` and runs nothing; an empty line is not a command and gets no response;
- the server answers each command with zero or more data lines, then one terminator line:
  ``.ok`` (done) or ``.error MESSAGE`` (refused, nothing changed; never preceded by data);
- every line the server sends is printable: a character that is not (a control character
  in a log line or a caller's name) is sent escaped (``\\x1b``, ``\\n``), as in the log;
- a data line that begins with ``.`` is sent with one more ``.`` in front ("dot-stuffing",
  as in SMTP, RFC 5321 section 4.5.2), so a line that starts with a single ``.`` is always
  a terminator;
- on connect the server greets with a banner (data lines, then ``.ok``) before any command,
  or ``.error too many consoles ...`` and closes;
- ``log tail`` streams data lines until the client sends any line (which only stops the
  stream: it is not run as a command) or disconnects; then ``.ok``.

Nothing here does I/O: the server and the client use these functions on their sockets.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from drivers.logs import escape_char, escape_text, one_line
from firmware import FirmwareError

PROTOCOL_VERSION = 1
MAX_LINE_BYTES = 1024  # a command line; longer is refused (and read to its end)
OK = ".ok"
ERROR_PREFIX = ".error "
SOCKET_ENV = "LINEBOX_CONSOLE"
DEFAULT_SOCKET = Path("var") / "linebox.sock"
SOCKET_MODE = 0o660  # least privilege: the service user and its group only
MAX_SOCKET_PATH_BYTES = 107  # sockaddr_un.sun_path is 108 bytes on Linux, NUL included


def resolve_socket_path(given: str | os.PathLike | None, environ: Mapping[str, str]) -> Path:
    """``--socket``, else ``$LINEBOX_CONSOLE``, else ``var/linebox.sock`` (relative: to the current folder)."""
    text = os.fspath(given) if given is not None else environ.get(SOCKET_ENV) or os.fspath(DEFAULT_SOCKET)
    if not text:
        raise FirmwareError("console socket path is empty")
    return Path(text)


def check_socket_path(path: Path) -> None:
    if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
        raise FirmwareError(f"console socket path {path} is longer than {MAX_SOCKET_PATH_BYTES} bytes "
                            "(a UNIX socket limit): choose a shorter --socket")


def data_line(text: str) -> bytes:
    """One data line on the wire (dot-stuffed; a newline inside ``text`` is sent as ``\\n``, any
    other character that is not printable escaped likewise)."""
    text = escape_text(text)
    if text.startswith("."):
        text = "." + text
    return (text + "\n").encode("utf-8", errors="replace")


def ok_line() -> bytes:
    return (OK + "\n").encode()


def error_line(message: str) -> bytes:
    return (ERROR_PREFIX + (one_line(message) or "error") + "\n").encode("utf-8", errors="replace")


@dataclass(frozen=True)
class Reply:
    """One server line, read by a client: data, or the end of a response."""

    text: str
    end: bool = False  # a terminator line
    error: bool = False  # the terminator was ``.error``: ``text`` is its message


def parse_reply_line(line: str) -> Reply:
    """A line as the server sent it (without its newline)."""
    if line.startswith(".."):
        return Reply(line[1:])
    if line == OK:
        return Reply("", end=True)
    if line.startswith(ERROR_PREFIX):
        return Reply(line[len(ERROR_PREFIX):], end=True, error=True)
    if line.startswith("."):
        raise FirmwareError(f"console protocol error: unexpected line {line[:60]!r}")
    return Reply(line)


class BadLine(FirmwareError):
    """A line that cannot be a command (too long: read to its end; not UTF-8; not printable): refused.

    ``text`` is the line as received (undecodable bytes as ``\\xNN``), for the log; empty for a
    line too long to keep.
    """

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message)
        self.text = text


def check_command_text(text: str) -> str | BadLine:
    """``text`` if every character is printable (or a tab), else the BadLine naming the first one."""
    for column, ch in enumerate(text, start=1):
        if not ch.isprintable() and ch != "\t":
            return BadLine(f"character {escape_char(ch)} at column {column} is not printable: "
                           "a command is printable text", text)
    return text


class LineBuffer:
    """Splits received bytes into lines; refuses a line longer than ``limit`` bytes."""

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._skipping = False  # inside a line that was too long: drop bytes up to its end

    def feed(self, data: bytes) -> list[str | BadLine]:
        """The complete lines in ``data`` (with what came before), each a str or a BadLine."""
        self._buffer += data
        lines: list[str | BadLine] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > self.limit and not self._skipping:
                    self._skipping = True
                    lines.append(BadLine(f"line longer than {self.limit} bytes"))
                if self._skipping:
                    self._buffer.clear()
                return lines
            raw = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._skipping:
                self._skipping = False
                continue
            if len(raw) > self.limit:
                lines.append(BadLine(f"line longer than {self.limit} bytes"))
                continue
            try:
                text = raw.decode("utf-8").removesuffix("\r")
            except UnicodeDecodeError as exc:
                lines.append(BadLine(f"byte {exc.start + 1} of the line is not UTF-8 text",
                                     raw.decode("utf-8", errors="backslashreplace")))
                continue
            lines.append(check_command_text(text))
