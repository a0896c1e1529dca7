"""The console server: a local UNIX socket inside the engine process, one thread per console
(the accepting and per-connection plumbing is shared with the manager: firmware/netserve.py).

``ConsoleServer(socket_path, engine, log_buffer).start()`` binds the socket and returns;
``close()`` detaches every console and removes the socket. Protocol: :mod:`firmware.console.protocol`.

- Least privilege: the socket is created with mode 0660 (the service user and its group),
  with no moment at a wider mode: it is bound inside a fresh private (0700) folder next to
  its final path, set to 0660 there, then linked into place (the private folder is removed).
  A stale socket left by a crashed engine is replaced; a live one (another engine answers)
  is refused.
- Several consoles at once (up to ``max_consoles``; one more is told so and closed).
- Nothing here blocks the engine: every request that touches the switch goes through the
  :class:`EngineGateway` with its timeout, log lines reach a console through a bounded
  queue, and a console that stops reading is dropped after ``write_timeout_s``. A console
  that disconnects, even in the middle of ``log tail``, only ends its own thread.
"""

from __future__ import annotations

import os
import select
import socket
import stat
import tempfile
from pathlib import Path

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.console.access import EngineAccess
from firmware.console.commands import Console, Follow, Quit
from firmware.console.gateway import DEFAULT_TIMEOUT_S, EngineGateway, internal_error
from firmware.console.logbuffer import LogBuffer, Subscription
from firmware.console.protocol import (
    MAX_SOCKET_PATH_BYTES,
    PROTOCOL_VERSION,
    SOCKET_MODE,
    BadLine,
    LineBuffer,
    check_socket_path,
    data_line,
    error_line,
    ok_line,
)
from firmware.netserve import Connection, LineServer

FOLLOW_POLL_S = 0.1  # ``log tail``: latency of a new line and of the stop line
WRITE_TIMEOUT_S = 10.0  # a console that reads nothing for this long is dropped
MAX_CONSOLES = 8
MAX_LOGGED_CHARS = 120  # of a refused line: enough to see what was sent, not a flood at 115200 baud
PRIVATE_PREFIX = ".console-"
PRIVATE_OVERHEAD = len("/" + PRIVATE_PREFIX + "12345678/s")  # the private folder's name and the socket in it


class _ClientGone(Exception):
    """The console went away (disconnected, or stopped reading): end its session quietly."""


class _Session:
    def __init__(self, conn: socket.socket, number: int) -> None:
        self.conn = conn
        self.number = number
        self.lines = LineBuffer()
        self.pending: list[str | BadLine] = []

    def send(self, payload: bytes) -> None:
        try:
            self.conn.sendall(payload)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _ClientGone("disconnected") from exc
        except TimeoutError as exc:
            raise _ClientGone("stopped reading") from exc
        except OSError as exc:
            raise _ClientGone(f"socket error: {exc}") from exc

    def receive(self) -> bool:
        """Reads what has arrived into ``pending``; False when the console has disconnected."""
        try:
            data = self.conn.recv(4096)
        except TimeoutError:
            return True
        except (ConnectionResetError, OSError):
            return False
        if not data:
            return False
        self.pending += self.lines.feed(data)
        return True


class ConsoleServer:
    def __init__(
        self,
        socket_path: str | os.PathLike,
        engine: EngineAccess,
        log_buffer: LogBuffer,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_consoles: int = MAX_CONSOLES,
        write_timeout_s: float = WRITE_TIMEOUT_S,
        log: EventLogger | None = None,
    ) -> None:
        self.path = Path(socket_path)
        check_socket_path(self.path)
        self.engine = engine
        self.log_buffer = log_buffer
        self.max_consoles = max_consoles
        self.write_timeout_s = write_timeout_s
        self.log = log or EventLogger("console")
        # accepting, the console limit, one thread per console, closing: firmware/netserve.py
        self._server = LineServer(
            "console", self._serve, self._ended,
            lambda: error_line(f"too many consoles attached ({max_consoles}): try again later"),
            max_consoles, write_timeout_s, self.log, refused_reason="too many consoles")
        self.console = Console(engine, log_buffer, EngineGateway(engine.loop.submit, timeout_s, self.log), self.log)
        self._inode: tuple[int, int] | None = None

    # ----------------------------------------------------------------- life cycle

    def start(self) -> ConsoleServer:
        self._server.start(self._bind())
        self.log.info("console_listening", socket=str(self.path), mode=oct(SOCKET_MODE))
        return self

    def close(self) -> None:
        """Detaches every console, stops listening and removes the socket (if it is still ours)."""
        if self._server.close():
            self._remove_socket()

    def __enter__(self) -> ConsoleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def consoles(self) -> int:
        """Consoles attached now."""
        return self._server.count

    # ----------------------------------------------------------------- the socket

    def _bind(self) -> socket.socket:
        path = self.path
        try:
            path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        except OSError as exc:
            raise FirmwareError(f"cannot create the folder of the console socket {path}: {exc.strerror}") from exc
        if len(os.fsencode(path.parent)) + PRIVATE_OVERHEAD > MAX_SOCKET_PATH_BYTES:
            raise FirmwareError(f"the folder of the console socket {path} is too long for a UNIX socket "
                                f"(at most {MAX_SOCKET_PATH_BYTES - PRIVATE_OVERHEAD} bytes): choose a shorter --socket")
        self._clear_stale(path)
        private = Path(tempfile.mkdtemp(prefix=PRIVATE_PREFIX, dir=path.parent))  # mode 0700
        temporary = private / "s"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(os.fspath(temporary))
            os.chmod(temporary, SOCKET_MODE)
            listener.listen(self.max_consoles + 2)
            os.link(temporary, path)  # unlike rename, never replaces a socket another engine made meanwhile
            done = path.stat()
            self._inode = (done.st_dev, done.st_ino)
        except FileExistsError as exc:
            listener.close()
            raise FirmwareError(f"another engine created the console socket {path} at the same time") from exc
        except OSError as exc:
            listener.close()
            raise FirmwareError(f"cannot listen on the console socket {path}: {exc.strerror or exc}") from exc
        finally:
            if temporary.exists():
                temporary.unlink()
            private.rmdir()
        return listener

    @staticmethod
    def _clear_stale(path: Path) -> None:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise FirmwareError(f"{path} exists and is not a socket: remove it or choose another --socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(os.fspath(path))
        except ConnectionRefusedError:
            path.unlink()  # left by an engine that did not stop cleanly: nobody listens
            return
        except OSError as exc:
            raise FirmwareError(f"cannot check the existing console socket {path}: {exc.strerror or exc}") from exc
        finally:
            probe.close()
        raise FirmwareError(f"another engine already listens on the console socket {path}")

    def _remove_socket(self) -> None:
        if self._inode is None:
            return
        try:
            now = self.path.stat()
            if (now.st_dev, now.st_ino) == self._inode:
                self.path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            self.log.warning("console_socket_not_removed", socket=str(self.path), error=str(exc))

    # ----------------------------------------------------------------- one console

    def _serve(self, connection: Connection) -> str:
        session = _Session(connection.sock, connection.number)
        connection.session = session
        self.log.info("console_attached", session=session.number, consoles=self.consoles)
        try:
            return self._converse(session)
        except _ClientGone as gone:
            return str(gone)

    def _ended(self, connection: Connection, reason: str) -> None:
        self.log.info("console_detached", session=connection.number, reason=reason)

    def _banner(self) -> list[str]:
        board = f", board {self.engine.board}" if self.engine.board else ""
        return [f"linebox console (protocol {PROTOCOL_VERSION}{board}): type help"]

    def _converse(self, session: _Session) -> str:
        for line in self._banner():
            session.send(data_line(line))
        session.send(ok_line())
        while not self._server.closing.is_set():
            if not session.pending:
                if not session.receive():
                    return "disconnected"
                continue
            line = session.pending.pop(0)
            if isinstance(line, BadLine):
                # the line goes to the log escaped (drivers/logs.py), so its escapes cannot reach a terminal
                self.log.info("console_line_refused", session=session.number, reason=str(line),
                              line=line.text[:MAX_LOGGED_CHARS])
                session.send(error_line(str(line)))
                continue
            if not line.strip():
                continue  # not a command (a late stop line): no response
            try:
                response = self.console.execute(line, session.number)
            except FirmwareError as exc:
                session.send(error_line(str(exc)))
                continue
            except Exception as exc:  # one command's bug: this command fails, the console and engine go on
                self.log.exception("console_command_failed", session=session.number)
                session.send(error_line(internal_error(exc)))
                continue
            if isinstance(response, Follow):
                if not self._follow(session, response):
                    return "disconnected during log tail"
            else:
                session.send(b"".join(data_line(text) for text in response.lines) + ok_line())
                if isinstance(response, Quit):
                    return "quit"
        return "server closing"

    def _follow(self, session: _Session, follow: Follow) -> bool:
        """Streams log lines until the console sends a line (True) or goes away (False)."""
        subscription: Subscription = self.log_buffer.subscribe(follow.log_filter)
        try:
            self._send_log(session, follow.backlog)
            while not self._server.closing.is_set():
                if session.pending:
                    # the stop line: not a command. It may have come in the same read as the command
                    # (a loaded server reads late; the web admin stops after 20 ms), so it is looked for
                    # before waiting on the socket, which would then never become readable
                    session.pending.pop(0)
                    break
                readable, _, _ = select.select([session.conn], [], [], FOLLOW_POLL_S)
                if readable and not session.receive():
                    return False
                self._send_log(session, subscription.take(0.0))
        finally:
            self.log_buffer.unsubscribe(subscription)
        self._send_log(session, subscription.take(0.0))
        session.send(ok_line())
        return True

    @staticmethod
    def _send_log(session: _Session, lines: list[str]) -> None:
        if lines:
            session.send(b"".join(data_line(part) for line in lines for part in line.split("\n")))

