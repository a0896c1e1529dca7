"""AMI framing: the greeting, ``Key: Value`` blocks ending in an empty line, CRLF.

What the Asterisk Manager Interface sends and accepts on its TCP port:

- on connect the server sends one greeting line, ``Asterisk Call Manager/<version>``;
- then messages are blocks of ``Key: Value`` lines, each ended by CRLF, the block ended by
  an empty line. A client sends ``Action:`` blocks; the server answers with ``Response:``
  blocks and sends ``Event:`` blocks. Keys are case-insensitive; a key may repeat
  (``Variable:``); the value starts after the colon and the spaces that follow it.

Input is the outside world: :class:`BlockReader` accepts CRLF or a bare LF, and bounds
what it keeps: a line longer than :data:`MAX_LINE_BYTES` or a block of more than
:data:`MAX_HEADERS` lines makes the block a :class:`BadBlock` (the rest of it is read and
dropped), so a client can never make the server hold more than one block of
``MAX_HEADERS × MAX_LINE_BYTES``. The numbers are Asterisk's own (manager.c: a 1025-byte
input buffer, ``AST_MAX_MANHEADERS`` 128), so a client that works with Asterisk fits.

Output: :func:`frame` writes a block; CR and LF inside values become spaces, so nothing a
caller or an installer typed can forge a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

AMI_VERSION = "5.0.0"  # the manager protocol version of Asterisk 16-18 (what clients expect to see)
GREETING = f"Asterisk Call Manager/{AMI_VERSION}\r\n".encode("ascii")
EOL = b"\r\n"
MAX_LINE_BYTES = 1024  # manager.c: char inbuf[1025]
MAX_HEADERS = 128  # manager.c: AST_MAX_MANHEADERS
MAX_KEY_CHARS = 64


@dataclass(frozen=True)
class Block:
    """One message: its ``Key: Value`` lines in order (keys as sent)."""

    headers: tuple[tuple[str, str], ...]

    def get(self, key: str, default: str = "") -> str:
        """The first value of ``key`` (case-insensitive), else ``default``."""
        wanted = key.lower()
        return next((value for name, value in self.headers if name.lower() == wanted), default)

    def all(self, key: str) -> list[str]:
        wanted = key.lower()
        return [value for name, value in self.headers if name.lower() == wanted]

    def has(self, key: str) -> bool:
        wanted = key.lower()
        return any(name.lower() == wanted for name, _ in self.headers)


@dataclass(frozen=True)
class BadBlock:
    """A block that broke a limit or the syntax: refused whole, with this one-line reason."""

    reason: str
    action_id: str = ""


class BlockReader:
    """Bytes in (any split), complete blocks out; bounded memory whatever is sent."""

    def __init__(self, max_line: int = MAX_LINE_BYTES, max_headers: int = MAX_HEADERS) -> None:
        self.max_line = max_line
        self.max_headers = max_headers
        self._partial = bytearray()
        self._discarding = False  # inside a line that is already too long
        self._headers: list[tuple[str, str]] = []
        self._error = ""

    def feed(self, data: bytes) -> list[Block | BadBlock]:
        out: list[Block | BadBlock] = []
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            if end < 0:
                self._append(data[start:])
                break
            self._append(data[start:end])
            start = end + 1
            if self._discarding:
                self._discarding = False
                self._partial.clear()
                continue
            line = bytes(self._partial).removesuffix(b"\r")
            self._partial.clear()
            block = self._line(line)
            if block is not None:
                out.append(block)
        return out

    def _append(self, chunk: bytes) -> None:
        if self._discarding:
            return
        if len(self._partial) + len(chunk) > self.max_line + 1:  # +1: the CR of CRLF
            self._partial.clear()
            self._discarding = True
            self._error = self._error or f"Line too long (at most {self.max_line} bytes)"
            return
        self._partial += chunk

    def _line(self, line: bytes) -> Block | BadBlock | None:
        if not line:
            if not self._headers and not self._error:
                return None  # empty lines between blocks
            headers, error = self._headers, self._error
            self._headers, self._error = [], ""
            if error:
                action_id = next((v for k, v in headers if k.lower() == "actionid"), "")
                return BadBlock(error, action_id)
            return Block(tuple(headers))
        if self._error:
            if len(self._headers) < self.max_headers:  # keep an ActionID for the refusal
                parsed = parse_header(line)
                if isinstance(parsed, tuple) and parsed[0].lower() == "actionid":
                    self._headers.append(parsed)
            return None
        if len(self._headers) >= self.max_headers:
            self._error = f"Too many headers (at most {self.max_headers})"
            return None
        parsed = parse_header(line)
        if isinstance(parsed, str):
            self._error = parsed
        else:
            self._headers.append(parsed)
        return None


def parse_header(line: bytes) -> tuple[str, str] | str:
    """``(key, value)`` of one ``Key: Value`` line, or the one-line reason it is refused."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "Header is not UTF-8 text"
    key, colon, value = text.partition(":")
    key = key.strip()
    if not colon or not key:
        return "Malformed header (expected 'Key: Value')"
    if len(key) > MAX_KEY_CHARS or not all(c.isalnum() or c in "-_" for c in key):
        return "Malformed header name"
    value = value.strip(" \t")
    if not value.isprintable():
        return "Header value has control characters"
    return key, value


def clean(value: object) -> str:
    """A value safe on one line: CR, LF and other control characters become spaces."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else " " for c in text)


def frame(headers: Iterable[tuple[str, object]]) -> bytes:
    """One block: ``Key: Value`` CRLF lines and the empty line."""
    lines = [f"{key}: {clean(value)}" for key, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


def response(status: str, action_id: str = "", message: str = "",
             fields: Sequence[tuple[str, object]] = ()) -> bytes:
    """``Response: Success|Error|Goodbye|…`` with the action's ActionID echoed (Asterisk's order:
    Response, ActionID, Message, then the action's own fields)."""
    headers: list[tuple[str, object]] = [("Response", status)]
    if action_id:
        headers.append(("ActionID", action_id))
    if message:
        headers.append(("Message", message))
    headers.extend(fields)
    return frame(headers)


def error(message: str, action_id: str = "") -> bytes:
    return response("Error", action_id, message)
