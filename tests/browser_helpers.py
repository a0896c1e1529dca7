"""Set-up shared by the browser tests: ``linebox run`` on the virtual board and ``linebox web``
(waitress), each a process of its own as on the box, Debian's chromium driven by Playwright
(never a downloaded browser: a test dependency in setup.py, so never skipped but for a missing
chromium), and pages logged in as a role.

A test module's fixture enters :func:`running_box` with its configuration and the roles it logs
in as, and yields the :class:`Box`; a test opens pages with
:func:`open_page` or :func:`logged_in`, and asks the running engine with :func:`console`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import playwright.sync_api as playwright_api
import pytest

from firmware.accounts import AccountStore
from firmware.config import ConfigStore, demo_config
from firmware.config.model import Config
from firmware.console import ConsoleClient
from linebox.storage import board_ports

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
WAIT_MS = 20_000  # Playwright's wait for anything a page does
ORIGIN = "2026-11-23T15:00:00+00:00"  # the engine's audio clock starts here (a Monday, office hours)
PASSWORD = "a long office passphrase"
USERS = {"admin": "chief", "supervisor": "sue", "agent": "alice"}  # one account a role
BROWSER_MARKS = [pytest.mark.slow,
                 pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium package is not installed")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def console(sock: Path, command: str) -> list[str]:
    """One command on the running engine's console; its reply lines."""
    lines: list[str] = []
    with ConsoleClient(sock) as client:
        client.run(command, lines.append)
    return lines


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = 20.0) -> Any:
    """``condition()``'s first true value; an exception counts as not yet (a process still starting)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = condition()
        except Exception as exc:  # noqa: BLE001 - a process still starting: try again until the deadline
            value, last = None, exc
        else:
            last = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f" ({last})" if last else ""))
        time.sleep(0.1)


def write_config(db: Path, config: Config) -> None:
    with ConfigStore(db, boards=board_ports) as store:
        store.save(config, source="test")


def office_config() -> Config:
    """The demo office with port 5 free (the virtual board's last FXS port), for a new extension."""
    demo = demo_config()
    return dataclasses.replace(
        demo,
        ring_groups=tuple(dataclasses.replace(g, members=tuple(m for m in g.members if m != "204"))
                          for g in demo.ring_groups),
        agents=tuple(a for a in demo.agents if a.extension != "204"),
        extensions=tuple(e for e in demo.extensions if e.number != "204"))


def add_accounts(db: Path, *roles: str) -> None:
    """One web account for each role, named as in :data:`USERS`, all with :data:`PASSWORD`."""
    with AccountStore(db) as accounts:
        for role in roles:
            accounts.add(USERS[role], role, PASSWORD, time.time())


@dataclass(frozen=True)
class Box:
    url: str  # the web admin's
    folder: Path  # the processes' working folder: database, socket, logs
    db: Path
    sock: Path  # the engine's console
    browser: playwright_api.Browser


def _web(folder: Path, port: int, env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "linebox", "web", "--listen", f"127.0.0.1:{port}",
                             "--db", str(folder / "linebox.db"), "--socket", str(folder / "linebox.sock")],
                            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)


def _engine(folder: Path, origin: str | None, env: dict[str, str], log) -> subprocess.Popen:
    args = [sys.executable, "-m", "linebox", "run", "--db", str(folder / "linebox.db"),
            "--socket", str(folder / "linebox.sock"), "--no-web", "--no-demo-traffic"]
    if origin is not None:
        args += ["--origin", origin]
    return subprocess.Popen(args, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=_ahead_of_the_other_tests)


def _ahead_of_the_other_tests() -> None:
    """The engine here is paced by the wall clock (a browser drives it), while ``make test`` runs
    other test files on every core: a starved engine loses audio frames (``audio_xrun``), and with
    them an agent's keyed digits, which is the machine's fault, not the product's. The engine runs
    at a higher priority when the tests may raise it (root, as in CI), else as it is."""
    try:
        os.nice(-5)
    except OSError:
        pass


def _keep_logs(folder: Path, names: list[str]) -> None:
    """Copies the logs to $LINEBOX_KEEP_LOGS/<folder's name>/ when it is set (a failure's post-mortem;
    pytest keeps the temporary folder of its last few runs too)."""
    keep = os.environ.get("LINEBOX_KEEP_LOGS")
    if keep:
        (Path(keep) / folder.name).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(folder / name, Path(keep) / folder.name / name)


def _tails(folder: Path, names: list[str]) -> str:
    return "\n".join(f"--- {name}:\n{(folder / name).read_text()[-3000:]}" for name in names)


@contextmanager
def running_box(folder: Path, config: Config | None = None, *, roles: tuple[str, ...] = (), engine: bool = True,
                origin: str | None = ORIGIN, engine_start_s: float = 20.0) -> Iterator[Box]:
    """The box's processes on ``folder``/linebox.db and a headless chromium; ``config`` is stored
    first (else the caller has stored one) and an account made for each of ``roles``.

    The web admin starts once the engine's console answers (the engine has opened and migrated the
    database: two processes migrating the same new database at once race). ``engine=False``: the
    web admin alone (its engine socket answers nothing). ``origin=None``: the engine's clock is this
    machine's (for delays measured against the page's ``Date.now()``). On leaving, both processes
    are stopped and the engine must have exited cleanly (its log's end is the failure's message).
    """
    if config is not None:
        write_config(folder / "linebox.db", config)
    if roles:
        add_accounts(folder / "linebox.db", *roles)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    port = free_port()
    names = ["engine.log", "web.log"] if engine else ["web.log"]
    logs = {name: open(folder / name, "w") for name in names}  # noqa: SIM115 - closed below
    processes: list[subprocess.Popen] = []
    try:
        try:
            if engine:
                processes.append(_engine(folder, origin, env, logs["engine.log"]))
                wait_for(lambda: console(folder / "linebox.sock", "show ports"), "the engine's console",
                         engine_start_s)
            processes.append(_web(folder, port, env, logs["web.log"]))
            wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True,
                     "the web admin")
        except AssertionError as exc:  # a process that did not start: its log says why
            raise AssertionError(f"{exc}\n{_tails(folder, names)}") from None
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            yield Box(url=f"http://127.0.0.1:{port}", folder=folder, db=folder / "linebox.db",
                      sock=folder / "linebox.sock", browser=browser)
            browser.close()
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=20)
        for log in logs.values():
            log.close()
        _keep_logs(folder, names)
    if engine:
        assert processes[0].returncode == 0, _tails(folder, ["engine.log"])


def open_page(box: Box, *, width: int = 1280, height: int = 900,
              all_errors: bool = True) -> tuple[playwright_api.Page, list[str]]:
    """A page in a fresh browser context, and the list its errors go to: script errors, and with
    ``all_errors`` also the console's errors (refused scripts or styles: CSP) and missing assets."""
    page = box.browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    if all_errors:
        # a form answered with 400 or a refused login (401) is a page the test expects, so the
        # browser's note about it is not counted
        page.on("console", lambda message: errors.append(message.text) if message.type == "error"
                and "the server responded with a status of 40" not in message.text else None)
        page.on("response", lambda response: errors.append(f"{response.status} {response.url}")
                if "/static/" in response.url and response.status >= 400 else None)
    return page, errors


def log_in(page: playwright_api.Page, url: str, name: str, password: str = PASSWORD) -> None:
    """Fills and sends the login form (no wait: a refused login stays on /login)."""
    page.goto(f"{url}/login")  # a fresh browser asks /favicon.ico too (which must not reset the form's token)
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def logged_in(box: Box, role: str, *, landing: str | Callable[[str], bool] = "**/dashboard",
              **page_options: Any) -> tuple[playwright_api.Page, list[str]]:
    """A new page (:func:`open_page`'s options) logged in as the account of ``role``, once it is at
    ``landing`` (a URL pattern or test, as ``page.wait_for_url`` takes)."""
    page, errors = open_page(box, **page_options)
    log_in(page, box.url, USERS[role])
    try:
        page.wait_for_url(landing)
    except playwright_api.TimeoutError:
        raise AssertionError(f"{USERS[role]} not logged in: {page.url} {page.content()[:3000]}") from None
    return page, errors
