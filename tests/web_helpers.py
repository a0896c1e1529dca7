"""Fakes and set-up shared by the web admin's tests: a real configuration store on a temporary
database, a fake engine (the console's replies) and a small account store with the real one's
rules for what the tests need (lockout after 5 failures, time passed in)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from firmware import FirmwareError
from firmware.config import ConfigStore, seed_demo
from linebox.storage import board_ports
from webadmin.app import create_app
from webadmin.services import WebServices

PASSWORD = "correct horse battery"
DEMO_STATUS = {
    "ports": [{"port": n, "type": "fxo" if n < 2 else "fxs", "state": "idle", "in_service": "yes", "call": None,
               "tone": None, "name": f"port {n}"} for n in range(6)],
    "calls": [],
    "stats": {"ticks": 1500, "tick_p50_ms": "1.000", "tick_p99_ms": "2.000", "tick_max_ms": "3.000",
              "deadline_misses": 0, "calls": 0, "internal_errors": 0},
    "agents": [],
    "link": {"state": "up", "refused": None, "model": "LBX-2O4S", "counters": {"crc_errors": 2, "resyncs": 1}},
}


@dataclass
class FakeUser:
    name: str
    role: str
    password: str
    failed: int = 0
    locked_until: float = 0.0


class FakeAccounts:
    """The account store's surface (firmware.accounts.AccountStore) for fast tests."""

    def __init__(self) -> None:
        self.by_name: dict[str, FakeUser] = {}

    def users(self):
        return list(self.by_name.values())

    def get(self, name):
        return self.by_name.get(name)

    def add(self, name, role, password, now):
        check_account(name, password)
        if name in self.by_name:
            raise FirmwareError(f"user {name!r} exists already")
        self.by_name[name] = FakeUser(name, role, password)
        return self.by_name[name]

    def authenticate(self, name, password, now):
        user = self.by_name.get(name)
        if user is None:
            raise FirmwareError("Authentication failed")
        if now < user.locked_until:
            raise FirmwareError("Authentication failed: account locked")
        if password != user.password:
            user.failed += 1
            if user.failed >= 5:
                user.failed, user.locked_until = 0, now + 15 * 60
            raise FirmwareError("Authentication failed")
        user.failed = 0
        return user


def check_account(name: str, password: str) -> None:
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,31}", name):
        raise FirmwareError(f"user name: expected a letter then up to 31 letters, digits (got {name!r})")
    if len(password) < 10:
        raise FirmwareError(f"password: must be 10 to 128 characters long (got {len(password)})")


@dataclass
class FakeEngine:
    status: dict = field(default_factory=lambda: json.loads(json.dumps(DEMO_STATUS)))
    commands: list[str] = field(default_factory=list)
    down: bool = False

    def run(self, command: str) -> list[str]:
        self.commands.append(command)
        if self.down:
            raise FirmwareError("no engine at var/linebox.sock: is linebox running?")
        if command == "show status":
            return [json.dumps(self.status)]
        if command == "config reload":
            return ["configuration revision 2 applied (calls in progress keep going)"]
        return [f"did {command}"]


class Clock:
    def __init__(self, now: float = 1_764_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_services(folder: Path, accounts=None, engine=None, seeded: bool = True, clock=None) -> WebServices:
    store = ConfigStore(folder / "linebox.db", boards=board_ports)
    if seeded:
        seed_demo(store)
    return WebServices(store=store, accounts=accounts or FakeAccounts(), engine=engine or FakeEngine(),
                       board=board_ports("virtual"), data_dir=folder, clock=clock or Clock(),
                       check_account=check_account, cookie_secure=False)


def make_app(services: WebServices):
    app = create_app(services)
    app.config["TESTING"] = True
    return app
