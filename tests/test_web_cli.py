"""``linebox web`` and ``linebox run``'s web admin: addresses, and no web admin left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linebox import LineboxError
from linebox.commands.web import parse_listen, url_of

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)),
    ("192.168.1.10:80", ("192.168.1.10", 80)),
    ("[::1]:8443", ("::1", 8443)),
    ("0.0.0.0:65535", ("0.0.0.0", 65535)),
])
def test_listen_addresses(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["localhost:8080", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x",
                                  ":8080", "example.com:80"])
def test_bad_listen_addresses_refused(text):
    with pytest.raises(LineboxError, match="--listen"):
        parse_listen(text)


def test_url_of():
    assert url_of("127.0.0.1", 8080) == "http://127.0.0.1:8080/"
    assert url_of("::1", 8080) == "http://[::1]:8080/"


def test_run_refuses_a_bad_web_address_before_starting(tmp_path):
    run = subprocess.run([sys.executable, "-m", "linebox", "run", "--db", str(tmp_path / "x.db"),
                          "--web-listen", "localhost:80"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 2 and run.stderr.startswith("linebox: --listen: 'localhost:80'")
    assert not (tmp_path / "x.db").exists()


def _open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_web_admin_started_by_run_goes_when_run_is_killed(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (tmp_path / "run.log").open("wb") as log:
        run = subprocess.Popen([sys.executable, "-m", "linebox", "run", "--db", str(tmp_path / "x.db"), "--socket",
                                str(tmp_path / "s.sock"), "--no-demo-traffic", "--web-listen", f"127.0.0.1:{port}"],
                               cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not _open(port):
            assert run.poll() is None and time.monotonic() < deadline, (tmp_path / "run.log").read_text()[-2000:]
            time.sleep(0.2)
        run.send_signal(signal.SIGKILL)  # no clean stop: the web admin must notice by itself
        run.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _open(port):
            assert time.monotonic() < deadline, "the web admin outlived linebox run"
            time.sleep(0.2)
    finally:
        if run.poll() is None:
            run.kill()
