"""systemd's notify protocol (sd_notify(3)), written directly on its datagram socket.

The engine's unit is ``Type=notify`` with ``WatchdogSec=`` (systemd/linebox.service). The
engine says ``READY=1`` after its first media-loop tick, ``WATCHDOG=1`` every
:data:`PING_EVERY_TICKS` ticks *from the media loop* (so the pings stop when the loop hangs,
and systemd restarts the engine within ``WatchdogSec``), and ``STOPPING=1`` on a clean stop.
The audio clock, not the line card, drives the loop: a dead line card stops no tick, so it
is no reason to restart. Counting ticks, not reading a clock, sets the ping rate.

Without ``$NOTIFY_SOCKET`` (not started by systemd) every call does nothing. A path starting
with ``@`` is an abstract socket (sd_notify(3)).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

from drivers.logs import EventLogger
from linebox import LineboxError

PING_EVERY_TICKS = 50  # 1 s of audio at 20 ms a tick; WatchdogSec=10s leaves nine pings of slack


class Notifier:
    def __init__(self, address: str | None) -> None:
        self.address = address
        self.ready = False
        self.failures = 0
        self.log = EventLogger("systemd")
        self._sock: socket.socket | None = None
        if address:
            if not address.startswith(("/", "@")):
                raise LineboxError(f"NOTIFY_SOCKET {address!r} is neither a path nor an abstract socket (@name)")
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Notifier:
        return cls(environ.get("NOTIFY_SOCKET") or None)

    def send(self, message: str) -> None:
        if self._sock is None or self.address is None:
            return
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            self._sock.sendto(message.encode("ascii"), target)
        except OSError as exc:  # systemd gone (shutdown): counted and logged, the engine goes on
            self.failures += 1
            self.log.warning("sd_notify_failed", socket=self.address, message=message.split("\n")[0],
                             error=exc.strerror or str(exc), failures=self.failures)

    def ticked(self, tick: int) -> None:
        """Called by the media loop's thread after each tick (``tick``: the loop's count so far)."""
        if not self.ready:
            self.ready = True
            self.send("READY=1\nSTATUS=media loop running")
        elif tick % PING_EVERY_TICKS == 0:
            self.send("WATCHDOG=1")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
