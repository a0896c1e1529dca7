"""systemd: the units pass ``systemd-analyze verify``; the engine speaks sd_notify (READY after the
first tick, WATCHDOG from the media loop only while it ticks, STOPPING on a clean stop)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from linebox import LineboxError
from linebox.sdnotify import PING_EVERY_TICKS, Notifier

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "systemd").glob("*.service"))
SYSTEMD_UNITS = Path("/usr/lib/systemd/system")


class Listener:
    """A notify socket like systemd's: datagrams collected in order."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(os.fspath(path))
        self.sock.settimeout(0.05)

    def messages(self) -> list[str]:
        got = []
        while True:
            try:
                got.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return got

    def close(self) -> None:
        self.sock.close()


def test_notifier_is_silent_without_systemd():
    notifier = Notifier.from_environ({})
    for tick in range(1, 200):
        notifier.ticked(tick)
    notifier.stopping()
    assert notifier.failures == 0


def test_notifier_ready_once_then_a_ping_every_50_ticks(tmp_path):
    listener = Listener(tmp_path / "notify")
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": str(tmp_path / "notify")})
    for tick in range(1, 3 * PING_EVERY_TICKS + 1):
        notifier.ticked(tick)
    notifier.stopping()
    notifier.close()
    assert listener.messages() == ["READY=1\nSTATUS=media loop running", "WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1",
                                   "STOPPING=1"]
    listener.close()


def test_notifier_abstract_socket_and_bad_addresses(tmp_path):
    name = f"linebox-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(1.0)
    Notifier(f"@{name}").ticked(1)
    assert sock.recv(100) == b"READY=1\nSTATUS=media loop running"
    sock.close()
    with pytest.raises(LineboxError, match="NOTIFY_SOCKET"):
        Notifier("relative/path")


def test_a_vanished_notify_socket_is_counted_not_fatal(tmp_path):
    notifier = Notifier(str(tmp_path / "gone"))
    notifier.ticked(1)
    notifier.stopping()
    assert notifier.failures == 2


def _fake_root(tmp_path: Path, units: list[Path]) -> Path:
    """A root with systemd's own units and a stub for each ExecStart program (installed on the box
    by board/install.sh, not here): verify then checks everything else in our units."""
    root = tmp_path / "root"
    shutil.copytree(SYSTEMD_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in units:
        text = unit.read_text()
        shutil.copy(unit, root / "etc/systemd/system" / unit.name)
        for program in re.findall(r"^Exec\w+=[-@:+!]*(\S+)", text, flags=re.M):
            stub = root / program.lstrip("/")
            stub.parent.mkdir(parents=True, exist_ok=True)
            stub.write_text("#!/bin/sh\n")
            stub.chmod(0o755)
    return root


@pytest.mark.skipif(shutil.which("systemd-analyze") is None or not SYSTEMD_UNITS.is_dir(),
                    reason="Debian's systemd package is not installed")
@pytest.mark.parametrize("unit", UNITS, ids=lambda unit: unit.name)
def test_unit_passes_systemd_analyze_verify(tmp_path, unit):
    root = _fake_root(tmp_path, UNITS)
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", unit.name],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == "", result.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None or not SYSTEMD_UNITS.is_dir(),
                    reason="Debian's systemd package is not installed")
def test_verify_would_catch_a_bad_unit(tmp_path):
    bad = tmp_path / "bad.service"
    bad.write_text((ROOT / "systemd/linebox.service").read_text().replace("Type=notify", "Type=notifyy"))
    root = _fake_root(tmp_path, [bad])
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", bad.name],
                            capture_output=True, text=True, timeout=60)
    assert "Failed to parse service type" in result.stderr


def test_engine_unit_is_notify_with_a_watchdog():
    text = (ROOT / "systemd/linebox.service").read_text()
    assert re.search(r"^Type=notify$", text, re.M) and re.search(r"^WatchdogSec=10s$", text, re.M)
    assert re.search(r"^NotifyAccess=main$", text, re.M) and re.search(r"^Restart=on-failure$", text, re.M)


@pytest.mark.parametrize("unit", ["linebox.service", "linebox-web.service"])
def test_both_units_start_again_after_exit_status_75(unit):
    """75 (linebox/supervision.py): the engine after ``engine restart``, the web admin after a full
    restore or factory reset from the System page; neither must be left stopped."""
    from linebox.supervision import RESTART_EXIT_STATUS
    text = (ROOT / "systemd" / unit).read_text()
    assert re.search(r"^Restart=on-failure$", text, re.M)
    assert re.search(rf"^RestartForceExitStatus={RESTART_EXIT_STATUS}$", text, re.M)
    assert not re.search(r"^SuccessExitStatus=.*\b75\b", text, re.M)


@pytest.mark.slow
def test_the_running_engine_notifies_ready_pings_and_stopping(tmp_path):
    listener = Listener(tmp_path / "notify")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NOTIFY_SOCKET": str(tmp_path / "notify")}
    child = subprocess.Popen(
        [sys.executable, "-m", "linebox", "run", "--board", "virtual", "--db", str(tmp_path / "linebox.db"),
         "--socket", str(tmp_path / "s.sock"), "--no-demo-traffic", "--origin", "2026-03-02T15:00:00+00:00"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        got: list[str] = []
        deadline = time.monotonic() + 90
        while got.count("WATCHDOG=1") < 3:
            assert time.monotonic() < deadline and child.poll() is None, got
            got += listener.messages()
        assert got[0].startswith("READY=1")
        child.send_signal(signal.SIGSTOP)  # a hung loop: no more pings
        time.sleep(0.5)
        listener.messages()
        time.sleep(2.5)
        assert listener.messages() == []
        child.send_signal(signal.SIGCONT)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=60) == 0
        assert listener.messages()[-1] == "STOPPING=1"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        listener.close()
