"""The manager interface's TCP server: one accepting thread, one thread per client (the
plumbing shared with the console's server: firmware/netserve.py).

Everything that comes in is bounded, checked once at this edge:

- clients: at most ``max_clients`` at once; one more gets a ``Response: Error`` line and is closed;
- input: lines and blocks bounded by :class:`~firmware.manager.protocol.BlockReader`;
  ``actions_per_second`` per client (a token bucket; over it, ``Response: Error``);
- a client that has not logged in within :data:`AUTH_TIMEOUT_S` is closed (Asterisk's
  ``authtimeout`` default);
- output: events wait in the session's bounded queue (session.py), then in a kernel send
  buffer of :data:`SEND_BUFFER_BYTES`; a client that lets the queue fill, or blocks a write
  for ``WRITE_TIMEOUT_S``, is disconnected with a log line. The media loop only ever appends
  to that queue.

A client's thread catches everything at its entry: a bug or a hostile client ends that
client's connection (logged), never the engine.
"""

from __future__ import annotations

import select
import socket
from collections.abc import Callable

from drivers.logs import EventLogger
from firmware.manager import ManagerError
from firmware.manager.actions import Actions
from firmware.manager.events import EventHub
from firmware.manager.protocol import GREETING, BlockReader, error
from firmware.manager.session import Session
from firmware.netserve import Connection, LineServer

IDLE_WAIT_S = 0.5  # a client thread wakes at least this often (closing, login timeout); events wake it at once
WRITE_TIMEOUT_S = 10.0
AUTH_TIMEOUT_S = 30.0  # Asterisk manager.conf authtimeout default
RECV_BYTES = 4096
SEND_BUFFER_BYTES = 64 * 1024


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as (host, port); ManagerError naming the field.
    Port 0 (any free port) is for tests; the configuration allows 1-65535."""
    host, colon, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not colon or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ManagerError(f"manager.listen: expected host:port with port 1-65535, got {text!r}")
    return host, int(port)


class _Gone(Exception):
    """The client went away or must be dropped: end its thread quietly, with this reason."""


class ManagerServer:
    def __init__(self, listen: str, actions: Actions, hub: EventHub, monotonic: Callable[[], float],
                 max_clients: int = 8, actions_per_second: float = 20.0, queue_events: int = 1000,
                 log: EventLogger | None = None, write_timeout_s: float = WRITE_TIMEOUT_S,
                 auth_timeout_s: float = AUTH_TIMEOUT_S) -> None:
        self.host, self.port = parse_listen(listen)
        self.actions = actions
        self.hub = hub
        self.monotonic = monotonic
        self.max_clients = max_clients
        self.actions_per_second = actions_per_second
        self.queue_events = queue_events
        self.write_timeout_s = write_timeout_s
        self.auth_timeout_s = auth_timeout_s
        self.log = log or EventLogger("manager")
        # accepting, the client limit, one thread per client, closing: firmware/netserve.py
        self._server = LineServer("manager", self._serve, self._ended,
                                  lambda: GREETING + error(f"Too many manager clients (at most {max_clients})"),
                                  max_clients, write_timeout_s, self.log, send_buffer_bytes=SEND_BUFFER_BYTES)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> ManagerServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(self.max_clients + 4)
        except OSError as exc:
            listener.close()
            raise ManagerError(f"manager.listen: cannot listen on {self.host}:{self.port}: "
                               f"{exc.strerror or exc}") from exc
        self.port = listener.getsockname()[1]  # the port chosen when 0 was asked (tests)
        self._server.start(listener)
        self.log.info("manager_listening", address=f"{self.host}:{self.port}", max_clients=self.max_clients)
        return self

    def close(self) -> None:
        if self._server.close():
            self.log.info("manager_closed", address=f"{self.host}:{self.port}")

    def __enter__(self) -> ManagerServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def clients(self) -> int:
        return self._server.count

    @property
    def logged_in(self) -> int:
        return sum(1 for each in self._server.connections()
                   if each.session is not None and each.session.logged_in)

    # ------------------------------------------------------------------ one client
    def _serve(self, connection: Connection) -> str:
        session = Session(connection.number, connection.address, self.queue_events)
        connection.session = session
        self.log.info("manager_connected", session=session.number, address=session.address, clients=self.clients)
        self.hub.subscribe(session)
        try:
            return self._converse(session, connection.sock)
        except _Gone as gone:
            return str(gone)

    def _ended(self, connection: Connection, reason: str) -> None:
        session: Session | None = connection.session
        if session is None:
            return
        self.hub.unsubscribe(session)
        session.close()
        level = self.log.warning if reason.startswith(("too slow", "stopped reading")) else self.log.info
        level("manager_disconnected", session=session.number, address=session.address,
              user=session.user.name if session.user else "", reason=reason, dropped_events=session.dropped)

    def _send(self, conn: socket.socket, payload: bytes) -> None:
        try:
            conn.sendall(payload)
        except TimeoutError as exc:
            raise _Gone(f"stopped reading (a write blocked {self.write_timeout_s:g} s)") from exc
        except OSError as exc:
            raise _Gone(f"disconnected ({exc.strerror or exc})") from exc

    def _converse(self, session: Session, conn: socket.socket) -> str:
        reader = BlockReader()
        connected_at = self.monotonic()
        self._send(conn, GREETING)
        while not self._server.closing.is_set():
            if session.overflowed:
                raise _Gone(f"too slow: its event queue of {self.queue_events} filled")
            if not session.logged_in and self.monotonic() - connected_at > self.auth_timeout_s:
                raise _Gone(f"no login within {self.auth_timeout_s:g} s")
            readable, _, _ = select.select([conn, session.wake_read], [], [], IDLE_WAIT_S)
            if session.wake_read in readable:
                session.woken()
            if conn in readable:
                try:
                    data = conn.recv(RECV_BYTES)
                except OSError as exc:
                    raise _Gone(f"disconnected ({exc.strerror or exc})") from exc
                if not data:
                    return "disconnected"
                for block in reader.feed(data):
                    if not session.allow_action(self.monotonic(), self.actions_per_second):
                        self._send(conn, error(f"Too many actions (at most {self.actions_per_second:g} a second)",
                                               getattr(block, "action_id", "") or
                                               (block.get("ActionID") if hasattr(block, "get") else "")))
                        continue
                    reply = self.actions.handle(session, block)
                    if reply.chunks:
                        self._send(conn, b"".join(reply.chunks))
                    if reply.close:
                        return "logoff"
            events = session.take_events()
            if events:
                self._send(conn, b"".join(item.encode() for item in events))
        return "server closing"
