"""A small threaded stream-socket server: one accepting thread, one thread per connection,
a limit on connections. Shared by the technician console (a UNIX socket,
``firmware/console/server.py``) and the manager interface (TCP, ``firmware/manager/server.py``);
each brings its own listener and protocol, this module only the plumbing around them.

- ``start(listener)`` takes a bound, listening socket and accepts on its own thread, waking
  every :data:`ACCEPT_POLL_S` to see whether the server is closing.
- A connection gets a send timeout (``write_timeout_s``: a peer that stops reading blocks a
  write that long, then its protocol drops it), optionally a bounded kernel send buffer,
  a number (1, 2, … per server), and its own thread running ``serve(connection)``, which
  returns the reason the conversation ended.
- One connection over ``max_clients`` is sent ``refusal`` (the protocol's own words), logged
  (``<name>_refused``) and closed.
- A bug in ``serve`` ends that connection only (``<name>_session_failed`` with its
  traceback); then ``ended(connection, reason)`` runs, after the connection left the count
  and its socket was closed.
- ``close()`` stops accepting, shuts every connection down (their threads see the end of
  input) and waits for their threads.
"""

from __future__ import annotations

import errno
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from drivers.logs import EventLogger
from firmware import FirmwareError

ACCEPT_POLL_S = 0.25  # how often the accepting thread looks whether the server is closing
JOIN_S = 5.0  # how long close() waits for each thread


@dataclass(eq=False)
class Connection:
    number: int
    sock: socket.socket
    address: str  # the peer's IP address (TCP); empty for a UNIX socket
    session: Any = None  # the protocol's own state, set by its serve function
    thread: threading.Thread | None = field(default=None, repr=False)


class LineServer:
    def __init__(self, name: str, serve: Callable[[Connection], str], ended: Callable[[Connection, str], None],
                 refusal: Callable[[], bytes], max_clients: int, write_timeout_s: float,
                 log: EventLogger, send_buffer_bytes: int | None = None, refused_reason: str = "too many clients"
                 ) -> None:
        if max_clients < 1 or write_timeout_s <= 0:
            raise FirmwareError(f"{name} server needs max_clients >= 1 and write_timeout_s > 0, "
                                f"got {max_clients}, {write_timeout_s}")
        self.name = name
        self.serve = serve
        self.ended = ended
        self.refusal = refusal
        self.max_clients = max_clients
        self.write_timeout_s = write_timeout_s
        self.send_buffer_bytes = send_buffer_bytes
        self.refused_reason = refused_reason
        self.log = log
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._connections: dict[int, Connection] = {}
        self._next = 1
        self._listener: socket.socket | None = None
        self._thread = threading.Thread(target=self._accept_loop, name=f"{name} accept", daemon=True)

    # ------------------------------------------------------------------ life cycle
    def start(self, listener: socket.socket) -> None:
        listener.settimeout(ACCEPT_POLL_S)
        self._listener = listener
        self._thread.start()

    def close(self) -> bool:
        """Stops accepting and ends every connection; False if it was closed already."""
        if self.closing.is_set():
            return False
        self.closing.set()
        if self._thread.is_alive():
            self._thread.join(timeout=JOIN_S)
        if self._listener is not None:
            self._listener.close()
        for each in self.connections():
            try:
                each.sock.shutdown(socket.SHUT_RDWR)
            except OSError as exc:
                if exc.errno not in (errno.ENOTCONN, errno.EBADF):
                    self.log.warning(f"{self.name}_shutdown_failed", session=each.number, error=str(exc))
        for each in self.connections():
            if each.thread is not None:
                each.thread.join(timeout=JOIN_S)
        return True

    def connections(self) -> list[Connection]:
        with self._lock:
            return list(self._connections.values())

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._connections)

    # ------------------------------------------------------------------ accepting
    def _accept_loop(self) -> None:
        while not self.closing.is_set():
            try:
                sock, address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:
                if self.closing.is_set():
                    return
                self.log.error(f"{self.name}_accept_failed", error=str(exc))
                self.closing.wait(ACCEPT_POLL_S)
                continue
            self._admit(sock, str(address[0]) if isinstance(address, tuple) else "")

    def _admit(self, sock: socket.socket, address: str) -> None:
        sock.settimeout(self.write_timeout_s)
        if self.send_buffer_bytes is not None:
            # Linux would grow the buffer to megabytes on loopback: a peer that stops reading
            # must block our writes soon, and be dropped.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)
        with self._lock:
            full = len(self._connections) >= self.max_clients
            if not full:
                connection = Connection(self._next, sock, address)
                self._next += 1
                connection.thread = threading.Thread(target=self._run, args=(connection,),
                                                     name=f"{self.name} {connection.number}", daemon=True)
                self._connections[connection.number] = connection
        if full:
            self.log.warning(f"{self.name}_refused", address=address, reason=self.refused_reason,
                             limit=self.max_clients)
            try:
                sock.sendall(self.refusal())
            except OSError as exc:
                self.log.debug(f"{self.name}_refusal_not_sent", error=str(exc))
            sock.close()
            return
        connection.thread.start()

    def _run(self, connection: Connection) -> None:
        reason = "internal error"
        try:
            reason = self.serve(connection)
        except Exception:  # the thread entry: a bug ends this connection only, logged with its traceback
            self.log.exception(f"{self.name}_session_failed", session=connection.number)
        finally:
            with self._lock:
                self._connections.pop(connection.number, None)
            connection.sock.close()
            self.ended(connection, reason)
