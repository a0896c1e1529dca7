"""``linebox bench engine --manager-clients N``: the media loop with N manager clients that never read.

The issue's worst case for the manager interface: clients that log in with every event on
and then read nothing. The manager service is attached to the bench's engine (its channel
observer and originator run every tick, as in the box), N raw TCP clients log in, and every
tick the loop's thread publishes ``events_per_tick`` events (a busy box: 5 a tick is 250
events a second) to them. Their queues fill; each is disconnected (``manager_disconnected
reason=too slow``) while the loop's tick time is measured as usual. The account store is a
temporary database with a test-size scrypt cost (logins are not what is measured).
"""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path

from firmware.accounts import AccountStore, ScryptCost
from firmware.config.model import ManagerSettings
from firmware.engine.loop import MediaLoop
from firmware.manager.events import CALL, event
from firmware.manager.service import ManagerService
from linebox import LineboxError

SECRET = "stuck-client-secret-0123"
LOGIN_WAIT_S = 10.0


class ManagerLoad:
    def __init__(self, loop: MediaLoop, ports: int, clients: int, events_per_tick: int) -> None:
        self.loop = loop
        self.events_per_tick = events_per_tick
        self._folder = tempfile.TemporaryDirectory(prefix="linebox-bench-manager-")
        accounts = AccountStore(Path(self._folder.name) / "accounts.db", cost=ScryptCost(n=16, r=1, p=1))
        accounts.add("bench", "manager", SECRET, 0.0, read=["all"], write=["all"])
        self.service = ManagerService(loop.switch.control, ports, loop.submit, accounts, time.time, time.monotonic)
        self.service.apply(ManagerSettings(enabled=True, listen="127.0.0.1:0", max_clients=max(1, clients),
                                           client_queue_events=1000))
        self.sockets = [self._stuck_client() for _ in range(clients)]
        deadline = time.monotonic() + LOGIN_WAIT_S
        while self.service.server.logged_in < clients and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.service.server.logged_in < clients:
            raise LineboxError(f"bench: only {self.service.server.logged_in} of {clients} manager clients logged in")
        self._sequence = 0

    def _stuck_client(self) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: it fills soon
        sock.connect(("127.0.0.1", self.service.port))
        sock.sendall(f"Action: Login\r\nUsername: bench\r\nSecret: {SECRET}\r\n\r\n".encode())
        return sock  # and never read again

    def publish(self) -> None:
        """On the loop's thread, before a tick: this tick's events."""
        for _ in range(self.events_per_tick):
            self._sequence += 1
            self.service.hub.publish(event("Newstate", CALL, [
                ("Channel", f"FXS/3-{self._sequence:08x}"), ("ChannelState", 6), ("ChannelStateDesc", "Up"),
                ("CallerIDNum", "2125557788"), ("CallerIDName", "OUTSIDE"), ("Uniqueid", f"{self._sequence}")]))

    def close(self) -> dict[str, int]:
        still = self.service.server.clients if self.service.server else 0
        for sock in self.sockets:
            sock.close()
        self.service.close()
        self._folder.cleanup()
        return {"manager_clients": len(self.sockets), "manager_events_per_tick": self.events_per_tick,
                "manager_clients_dropped": len(self.sockets) - still}
