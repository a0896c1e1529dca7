"""The web System page's full restore and factory reset end to end (issue 16), on the product's
processes: a real ``linebox run --board virtual`` with its web admin child, driven over HTTP as a
browser would. Outside systemd the engine executes itself again on ``engine restart``
(linebox/supervision.py), applies the staged operation before it opens its data
(firmware/storage/pending.py) and starts a new web admin on the new data.

Checked: the backup downloaded from the page holds the call records made before it; a restore
staged while the engine runs brings them (and the configuration) back after the engine restarted
by itself, the same process id, and what it replaced (later calls, a renamed extension) is kept in
``replaced-1/``; a factory reset leaves the box in its first-boot state with everything in
``factory-reset-1/`` and a backup archive that verifies; the engine ends cleanly afterwards.
The same restore with ``linebox web`` a process of its own (it executes itself again), and with
the test playing systemd (both processes end with exit status 75 and are started again).
"""

from __future__ import annotations

import dataclasses
import http.cookiejar
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from firmware.config import ConfigStore, demo_config
from firmware.storage import backup
from firmware.storage.pending import check_archive
from linebox.storage import board_ports
from linebox.supervision import RESTART_EXIT_STATUS
from tests.browser_helpers import PASSWORD, USERS, add_accounts, console, free_port, wait_for, write_config

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "2026-11-23T15:00:00+00:00"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
START_S = 90.0  # a start on this shared 2-core machine, with the pending operation applied first


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 is the answer the test looks at


class Browser:
    """Cookies and CSRF tokens, as a browser keeps them; redirects not followed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  _NoRedirect())

    def request(self, path: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(self.url + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def token(self, path: str) -> str:
        status, _, body = self.request(path)
        assert status == 200, (path, status, body[:500])
        return CSRF.search(body.decode()).group(1)

    def post(self, path: str, fields: dict[str, str], page: str = "/system") -> tuple[int, dict, bytes]:
        fields = {"csrf_token": self.token(page), **fields}
        return self.request(path, urllib.parse.urlencode(fields).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def upload(self, path: str, payload: bytes, name: str) -> tuple[int, dict, bytes]:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{self.token("/system")}\r\n'
                 .encode(),
                 f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                 f"Content-Type: application/x-tar\r\n\r\n".encode(), payload, f"\r\n--{boundary}--\r\n".encode()]
        return self.request(path, b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"})

    def upload_in_chunks(self, payload: bytes, chunk: int) -> tuple[int, dict, bytes]:
        """A full backup sent as the System page's script sends it (webadmin/static/restore.js):
        start, the chunks in order, finish."""
        headers = {"X-CSRF-Token": self.token("/system"), "Content-Type": "application/json"}
        started = json.dumps({"size": len(payload), "name": "linebox-backup.tar"}).encode()
        status, _, body = self.request("/api/restore/start", started, headers)
        assert status == 200, body[:500]
        upload = json.loads(body)["upload"]
        for offset in range(0, len(payload), chunk):
            status, _, body = self.request(f"/api/restore/chunk?upload={upload}&offset={offset}",
                                           payload[offset:offset + chunk],
                                           {**headers, "Content-Type": "application/octet-stream"})
            assert status == 200 and json.loads(body)["received"] == min(len(payload), offset + chunk), body[:500]
        return self.request("/api/restore/finish", json.dumps({"upload": upload}).encode(), headers)

    def log_in(self, name: str) -> None:
        status, headers, _ = self.post("/login", {"name": name, "password": PASSWORD}, page="/login")
        assert status == 302 and "/login" not in headers["Location"], (status, headers)  # a refusal stays on /login
        assert self.request("/dashboard")[0] == 200


def _cdr_count(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM cdr").fetchone()[0]


def _extension_name(db: Path) -> str:
    with ConfigStore(db, boards=board_ports) as store:
        return next(e.name for e in store.load().extensions if e.number == "202")


def _rename_extension(db: Path, name: str) -> None:
    with ConfigStore(db, boards=board_ports) as store:
        config = store.load()
        extensions = tuple(dataclasses.replace(e, name=name) if e.number == "202" else e for e in config.extensions)
        store.save(dataclasses.replace(config, extensions=extensions), source="test")


def _calls(sock: Path, db: Path, count: int, total: int) -> None:
    """``count`` test calls from port 1 to extension 203, each to its call record (``total`` after)."""
    for n in range(count):
        console(sock, "call test 1 203 hold=1")
        wait_for(lambda n=n: _cdr_count(db) >= total - count + n + 1, "the test call's record", 60)
    assert _cdr_count(db) == total


def _web_answers(url: str) -> bool:
    status, _, _ = Browser(url).request("/login")
    return status in (200, 302)  # 302: to the first-boot wizard, after a factory reset


def _log(folder: Path) -> str:
    return (folder.parent / "engine.log").read_text()


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _box(tmp_path: Path, separate_web: bool):
    """``linebox run`` as a developer (not under systemd) starts it: the engine with its web admin
    child, or (``separate_web``) with ``--no-web`` and ``linebox web`` a process of its own, as the
    two units run them on the box. Yields the engine, the web process (None: the child), the data
    folder, the database, the console socket and the web admin's address."""
    folder = tmp_path / "data"  # the box's data folder (a factory reset moves all of it aside)
    folder.mkdir()
    db, sock, port = folder / "linebox.db", folder / "linebox.sock", free_port()
    write_config(db, demo_config())
    add_accounts(db, "admin")
    env = {key: value for key, value in os.environ.items() if key not in ("INVOCATION_ID", "NOTIFY_SOCKET")}
    env["PYTHONPATH"] = str(ROOT)
    listen = f"127.0.0.1:{port}"
    web_options = ["--no-web"] if separate_web else ["--web-listen", listen]
    processes: list[subprocess.Popen] = []
    with (tmp_path / "engine.log").open("w") as log:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "linebox", "run", "--board", "virtual", "--db", str(db), "--socket", str(sock),
             *web_options, "--no-demo-traffic", "--no-speech", "--origin", ORIGIN],
            cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: console(sock, "show ports"), "the engine's console", START_S)
        if separate_web:
            with (tmp_path / "web.log").open("w") as log:
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "linebox", "web", "--listen", listen, "--db", str(db), "--socket", str(sock)],
                    cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT))
        wait_for(lambda: _web_answers(url), "the web admin", START_S)
        yield processes[0], (processes[1] if separate_web else None), folder, db, sock, url
    finally:
        for process in reversed(processes):
            _stop(process)


@pytest.fixture
def engine(tmp_path):
    with _box(tmp_path, separate_web=False) as (process, _, folder, db, sock, url):
        yield process, folder, db, sock, url


def _restarted(process, folder: Path, sock: Path, url: str, result: str) -> None:
    """The engine applied the staged operation (its log says ``result``) in the same process (it
    executed itself again: nobody else would start it), and both it and its web admin answer."""
    wait_for(lambda: result in _log(folder), f"the engine's log: {result}", START_S)
    assert process.poll() is None, _log(folder)[-3000:]
    wait_for(lambda: console(sock, "show ports"), "the restarted engine's console", START_S)
    wait_for(lambda: _web_answers(url), "the restarted web admin", START_S)


@pytest.mark.slow  # 77 s here: three engine starts and five real calls on a shared 2-core machine
def test_restore_and_factory_reset_from_the_web_page_restart_the_real_engine(engine, tmp_path):
    process, folder, db, sock, url = engine
    pid = process.pid
    _calls(sock, db, 2, 2)
    web = Browser(url)
    web.log_in(USERS["admin"])
    status, headers, payload = web.request("/system/backup.tar")
    assert status == 200 and headers["Content-Type"] == "application/x-tar"
    saved = tmp_path / "downloaded.tar"
    saved.write_bytes(payload)
    assert "linebox.db" in {entry.path for entry in check_archive(saved, tmp_path / "verify").entries}
    original = _extension_name(db)

    # the data change after the backup: one more call, an extension renamed
    _calls(sock, db, 1, 3)
    _rename_extension(db, "Renamed after the backup")

    status, headers, body = web.upload("/system/restore-backup", payload, "linebox-backup.tar")
    assert status == 302 and headers["Location"].endswith("/system"), (status, body[:2000])
    _restarted(process, folder, sock, url, "restored the backup made")
    assert "not under systemd" in _log(folder)  # it said it executes itself again
    assert process.pid == pid and not (folder / "pending-restore.tar").exists()
    assert _cdr_count(db) == 2 and _extension_name(db) == original
    replaced = folder / "replaced-1"
    assert _cdr_count(replaced / "linebox.db") == 3 and _extension_name(replaced / "linebox.db") == "Renamed after the backup"
    # the restarted web admin serves the restored data: the backup's account logs in
    again = Browser(url)
    again.log_in(USERS["admin"])
    status, _, page = again.request("/config/extensions")
    assert status == 200 and original in page.decode() and "Renamed after the backup" not in page.decode()
    _calls(sock, db, 1, 3)  # the restarted engine answers calls and records them

    status, headers, body = again.post("/system/factory-reset", {"confirm": "reset"})
    assert status == 302, (status, body[:2000])
    _restarted(process, folder, sock, url, "factory reset done")
    assert process.pid == pid
    kept = folder / "factory-reset-1"
    assert _cdr_count(kept / "linebox.db") == 3 and (folder / "replaced-1").is_dir()  # the box's own backups stay
    archive = kept / "backup.tar"
    check_archive(archive, tmp_path / "verify-reset")
    restored_copy = tmp_path / "from-the-reset-backup" / "linebox.db"
    backup.restore(archive, restored_copy)
    assert _cdr_count(restored_copy) == 3
    # the first-boot state: no account, so the page asks for the setup wizard; no call records
    assert _cdr_count(db) == 0
    status, headers, _ = Browser(url).request("/login")
    assert status == 302 and headers["Location"].endswith("/setup")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0, _log(folder)[-3000:]


@pytest.mark.slow  # about a minute here
def test_a_separate_web_admin_executes_itself_again_on_the_restored_data(tmp_path):
    """As on the box, the web admin a process of its own (not the engine's child), the backup sent in
    chunks as the System page's script sends it: after the restore it restarts by itself (same process id: not under systemd, it executes itself again), waits for
    the engine to apply the restore, and serves the restored data."""
    with _box(tmp_path, separate_web=True) as (engine_process, web_process, folder, db, sock, url):
        web = Browser(url)
        web.log_in(USERS["admin"])
        payload = web.request("/system/backup.tar")[2]
        original = _extension_name(db)
        _rename_extension(db, "Renamed after the backup")
        status, _, body = web.upload_in_chunks(payload, 64 * 1024)  # as the page's script, in several chunks
        assert status == 200 and json.loads(body)["next"] == "/system", body[:2000]
        _restarted(engine_process, folder, sock, url, "restored the backup made")
        again = Browser(url)
        wait_for(lambda: again.log_in(USERS["admin"]) or True, "a login on the restarted web admin", START_S)
        page = again.request("/config/extensions")[2].decode()
        assert original in page and "Renamed after the backup" not in page
        assert web_process.poll() is None and engine_process.poll() is None
        log = (tmp_path / "web.log").read_text()
        assert "executing itself again" in log and log.count("the web admin listens on") == 2, log[-3000:]


class _Unit:
    """One of the box's two units, with the test as systemd: started with INVOCATION_ID set (as
    systemd sets it), and started again when it ends with exit status 75 (RestartForceExitStatus=75)."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.command, self.env, self.cwd, self.log = command, {**env, "INVOCATION_ID": "test"}, cwd, log
        self.starts = 0
        self.process = self._start()

    def _start(self) -> subprocess.Popen:
        self.starts += 1
        with self.log.open("a") as log:
            return subprocess.Popen(self.command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def restart_after_75(self) -> None:
        status = self.process.wait(timeout=START_S)
        assert status == RESTART_EXIT_STATUS, (status, self.log.read_text()[-3000:])
        self.process = self._start()


@pytest.mark.slow  # about a minute here
def test_under_systemd_both_processes_end_with_75_and_their_units_start_them_on_the_restored_data(tmp_path):
    """The appliance's way: the engine ends with 75 after ``engine restart``, the web admin with 75
    after the restore; started again (as the units' RestartForceExitStatus=75 does), the engine
    applies the restore first and the web admin serves the restored data."""
    folder = tmp_path / "data"
    folder.mkdir()
    db, sock, port = folder / "linebox.db", folder / "linebox.sock", free_port()
    write_config(db, demo_config())
    add_accounts(db, "admin")
    env = {key: value for key, value in os.environ.items() if key not in ("INVOCATION_ID", "NOTIFY_SOCKET")}
    env["PYTHONPATH"] = str(ROOT)
    url = f"http://127.0.0.1:{port}"
    engine = _Unit([sys.executable, "-m", "linebox", "run", "--board", "virtual", "--db", str(db), "--socket",
                    str(sock), "--no-web", "--no-demo-traffic", "--no-speech", "--origin", ORIGIN],
                   env, folder, tmp_path / "engine.log")
    units = [engine]
    try:
        wait_for(lambda: console(sock, "show ports"), "the engine's console", START_S)
        web = _Unit([sys.executable, "-m", "linebox", "web", "--listen", f"127.0.0.1:{port}", "--db", str(db),
                     "--socket", str(sock)], env, folder, tmp_path / "web.log")
        units.append(web)
        wait_for(lambda: _web_answers(url), "the web admin", START_S)
        assert json.loads(console(sock, "show status")[0])["restart"] == "systemd"
        browser = Browser(url)
        browser.log_in(USERS["admin"])
        payload = browser.request("/system/backup.tar")[2]
        original = _extension_name(db)
        _rename_extension(db, "Renamed after the backup")
        status, _, body = browser.upload("/system/restore-backup", payload, "linebox-backup.tar")
        assert status == 302, body[:2000]
        engine.restart_after_75()
        web.restart_after_75()
        wait_for(lambda: "restored the backup made" in (tmp_path / "engine.log").read_text(), "the restore", START_S)
        wait_for(lambda: console(sock, "show ports"), "the engine's console", START_S)
        again = Browser(url)
        wait_for(lambda: again.log_in(USERS["admin"]) or True, "a login on the restarted web admin", START_S)
        page = again.request("/config/extensions")[2].decode()
        assert original in page and "Renamed after the backup" not in page
        assert (folder / "replaced-1" / "linebox.db").is_file() and _extension_name(db) == original
        assert engine.starts == 2 and web.starts == 2
    finally:
        for unit in reversed(units):
            _stop(unit.process)
