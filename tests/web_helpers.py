"""Fakes and set-up shared by the web admin's tests: a real configuration store on a temporary
database, a fake engine (the console's replies) and the real account store
(firmware.accounts) at a test-sized scrypt cost."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from firmware import FirmwareError
from firmware.accounts import AccountStore, ScryptCost, check_password, check_user_name
from firmware.acdengine.history import IntervalStore
from firmware.cdr import CdrStore
from firmware.config import ConfigStore, seed_demo
from firmware.contacts.store import ContactStore
from linebox.storage import board_ports
from webadmin.app import create_app
from webadmin.audit import AuditLog
from webadmin.services import WebServices

PASSWORD = "correct horse battery"
DEMO_STATUS = {
    "ports": [{"port": n, "type": "fxo" if n < 2 else "fxs", "state": "idle", "in_service": "yes", "call": None,
               "tone": None, "name": f"port {n}"} for n in range(6)],
    "calls": [],
    "stats": {"ticks": 1500, "tick_p50_ms": "1.000", "tick_p99_ms": "2.000", "tick_max_ms": "3.000",
              "deadline_misses": 0, "calls": 0, "internal_errors": 0},
    "agents": [{"agent": "1001", "state": "ready", "since_seconds": 12.0, "answered": 3, "talk_seconds": 200.0,
                "occupancy": 0.5, "pause_reason": "", "port": 4}],
    "queues": [{"queue": "support", "waiting": 1, "longest_wait_seconds": 9.0, "agents": {"ready": 1}, "offered": 4,
                "answered": 3, "abandoned": 1, "service_level": 0.75, "service_level_offered": 0.6,
                "asa_seconds": 12.5, "aht_seconds": 80.0, "abandon_rate": 0.25}],
    "link": {"state": "up", "refused": None, "model": "LBX-2O4S", "counters": {"crc_errors": 2, "resyncs": 1}},
}


CHEAP = ScryptCost(n=16, r=1, p=1)  # the algorithm unchanged, the cost made test-sized


def check_account(name: str, password: str) -> None:
    """The account store's own rules (as ``linebox web`` passes them)."""
    check_user_name(name)
    check_password(name, password)


def make_accounts(folder: Path) -> AccountStore:
    return AccountStore(folder / "linebox.db", cost=CHEAP)


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

    def tail(self, lines: int) -> list[str]:
        if self.down:
            raise FirmwareError("no engine at var/linebox.sock: is linebox running?")
        return [f"2026-12-05T10:00:0{n}Z INFO switch event=test n={n} <b>" for n in range(min(lines, 3))]


class Clock:
    def __init__(self, now: float = 1_764_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_services(folder: Path, accounts=None, engine=None, seeded: bool = True, clock=None) -> WebServices:
    store = ConfigStore(folder / "linebox.db", boards=board_ports)
    if seeded:
        seed_demo(store)
    return WebServices(store=store, accounts=accounts or make_accounts(folder), engine=engine or FakeEngine(),
                       board=board_ports("virtual"), data_dir=folder, clock=clock or Clock(),
                       check_account=check_account, audit=AuditLog(folder / "linebox.db"),
                       cdr=CdrStore(folder / "linebox.db"),
                       intervals=IntervalStore(folder / "linebox.db"), cookie_secure=False, version="test",
                       contacts=ContactStore(folder / "linebox.db"))


def make_app(services: WebServices):
    app = create_app(services)
    app.config["TESTING"] = True
    return app


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_of(response) -> str:
    match = CSRF.search(response.get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client, name, password=PASSWORD, address="127.0.0.1"):
    token = token_of(client.get("/login"))
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token},
                       environ_base={"REMOTE_ADDR": address})


@contextmanager
def admin_client(folder: Path, others: Iterable[tuple[str, str]] = (), engine=None, clock=None) -> Iterator[tuple]:
    """A test client logged in as admin ``ada`` over seeded services in ``folder``: (client, services).
    ``others``: more accounts, (name, role), with the same password (sign them in with
    :func:`signed_in`); ``engine``, ``clock``: as :func:`make_services` takes them. The Flask
    application is ``client.application``."""
    accounts = make_accounts(folder)
    accounts.add("ada", "admin", PASSWORD, 0.0)
    for name, role in others:
        accounts.add(name, role, PASSWORD, 0.0)
    services = make_services(folder, accounts=accounts, engine=engine, clock=clock)
    client = make_app(services).test_client()
    login(client, "ada")
    try:
        yield client, services
    finally:
        services.store.close()


def signed_in(app, name: str):
    """Another test client of ``app``, logged in as ``name``."""
    client = app.test_client()
    login(client, name)
    return client


# ----------------------------------------------------------------------------- the System page's data operations

@contextmanager
def data_box(folder: Path) -> Iterator[tuple]:
    """A box in its own data ``folder`` (made here) for the full backup, restore and factory reset
    tests: (client, services, restarts, app). ``client`` is admin ``ada``'s (an installer ``ian``
    exists too); the web process's restarts are recorded in ``restarts`` instead of done."""
    folder.mkdir()
    with admin_client(folder, others=[("ian", "installer")]) as (client, services):
        restarts: list[str] = []
        services.restart_web = lambda: restarts.append("web")
        yield client, services, restarts, client.application


def data_folder(services: WebServices) -> Path:
    return services.store.path.parent


LEFTOVER_PREFIXES = (".upload", ".verify", ".restore", ".download", "pending", "replaced-", "factory-reset-")


def leftovers(folder: Path) -> list[str]:
    """What a restore or reset staged, left half done or kept aside in ``folder``, sorted by name."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(LEFTOVER_PREFIXES))


def renamed_extension(services: WebServices, name: str) -> None:
    """A configuration change after the backup (extension 202 renamed): a restore must take it back."""
    config = services.store.load()
    extension = next(e for e in config.extensions if e.number == "202")
    changed = dataclasses.replace(config, extensions=tuple(dataclasses.replace(e, name=name) if e is extension else e
                                                           for e in config.extensions))
    services.store.save(changed, source="test")


def extension_name(db_path: Path) -> str:
    """Extension 202's name in the configuration stored at ``db_path``."""
    store = ConfigStore(db_path, boards=board_ports)
    try:
        return next(e.name for e in store.load().extensions if e.number == "202")
    finally:
        store.close()
