"""The whole appliance on the virtual board with its manager interface on, for tests with real
AMI clients (panoramisk, pyst2) over TCP.

The media loop runs on its own thread (:class:`LoopDriver`): one tick every 20 ms while the
test waits (the box's real pace, so clients' actions are served as on a box), and as fast as
the CPU allows while the test scripts the telephone world (``advance``). World actions go
through the loop's thread (``on_loop``), as the engine owns the world's clock.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from acd_engine_helpers import queue_config
from features_helpers import ORIGIN, TICKS_PER_S
from panoramisk import Manager as AsyncManager

from firmware.accounts import AccountStore, ScryptCost
from firmware.config.model import Config, ManagerSettings
from firmware.console.access import EngineAccess
from firmware.console.commands import Console
from firmware.console.gateway import EngineGateway
from firmware.console.logbuffer import LogBuffer
from linebox.appliance import Appliance, open_virtual_appliance
from linebox.manager_setup import start_manager

CHEAP = ScryptCost(n=16, r=1, p=1)
SECRET = "wallboard-and-tickets-42"
T0 = ORIGIN.timestamp()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LoopDriver:
    def __init__(self, app: Appliance, idle_tick_s: float = 0.02) -> None:
        self.app = app
        self.idle_tick_s = idle_tick_s
        self._budget = 0
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="test media loop", daemon=True)
        self._gateway = EngineGateway(app.loop.submit, timeout_s=10.0)

    def start(self) -> LoopDriver:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                with self._lock:
                    fast = self._budget > 0
                    if fast:
                        self._budget -= 1
                self.app.loop.step()
                if fast:
                    with self._lock:
                        if self._budget == 0:
                            self._done.set()
                else:
                    time.sleep(self.idle_tick_s)
        except BaseException as exc:  # the test sees it (the loop must never stop on a client's account)
            self.error = exc
            self._done.set()

    def advance(self, seconds: float) -> None:
        """Runs ``seconds`` of audio time as fast as possible, then back to the real pace."""
        with self._lock:
            self._done.clear()
            self._budget = max(1, round(seconds * TICKS_PER_S))
        self._done.wait(120)
        assert self.error is None, self.error

    def on_loop(self, fn: Callable[[], Any]) -> Any:
        return self._gateway.call(fn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def manager_config(port: int, config: Config | None = None, **changes: Any) -> Config:
    config = config or queue_config(announce_hold_time=False)
    return replace(config, manager=ManagerSettings(enabled=True, listen=f"127.0.0.1:{port}", **changes))


@contextmanager
def manager_box(tmp_path: Path, config: Config | None = None, read: str = "call,agent,system,reporting,cdr",
                write: str = "call,agent,system,originate,reporting,command", **changes: Any
                ) -> Iterator[tuple[Appliance, LoopDriver, Any, int]]:
    """The appliance with a manager account ``crm`` and the server on a free port, the loop running."""
    port = free_port()
    db = tmp_path / "db.sqlite"
    accounts = AccountStore(db, cost=CHEAP)
    accounts.add("crm", "manager", SECRET, T0, read=[read], write=[write], md5_challenge=True)
    app = open_virtual_appliance(db, paced=False, seed=1, origin=ORIGIN, config=manager_config(port, config, **changes))
    console = Console(EngineAccess(loop=app.loop, switch=app.switch, store=app.store), LogBuffer(),
                      EngineGateway(app.loop.submit))
    service = start_manager(app, db, accounts=accounts, console=console)
    app.loop.run_ticks(10)
    driver = LoopDriver(app).start()
    try:
        yield app, driver, service, port
    finally:
        driver.close()
        service.close()
        app.close()


def wait_for(predicate: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class PanoramiskClient:
    """panoramisk (PyPI's asyncio AMI client) logged in as ``crm``, keeping every event it receives."""

    def __init__(self, port: int) -> None:
        self.events: list = []
        self.manager = AsyncManager(loop=asyncio.get_running_loop(), host="127.0.0.1", port=port, username="crm",
                                    secret=SECRET, ping_delay=3600, reconnect_timeout=3600)
        self.manager.register_event("*", lambda manager, message: self.events.append(message))

    async def connect(self) -> None:
        await self.manager.connect()
        for _ in range(200):
            if self.manager.authenticated:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("panoramisk did not log in")

    def named(self, *names: str) -> list:
        return [e for e in self.events if e.event in names]

    async def until(self, name: str, seconds: float = 10.0, **fields: str):
        for _ in range(int(seconds / 0.02)):
            found = [e for e in self.named(name) if all(e.get(k) == v for k, v in fields.items())]
            if found:
                return found[0]
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {name} {fields}; got {[e.event for e in self.events]}")
