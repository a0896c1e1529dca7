"""board/install.sh in a throwaway root (``--root``): every file it writes is checked, every
command that would change the machine itself (apt-get, useradd, chown, systemctl) is printed,
not run. The release it installs is real and runs; a second run upgrades in place; the
uninstall keeps the data unless asked."""

import os
import subprocess
import sysconfig
from pathlib import Path

import pytest

from firmware.config import ConfigStore, seed_demo
from linebox.storage import board_ports

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "board" / "install.sh"
RUNTIME = sysconfig.get_paths()["purelib"]
CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 fsck.repair=yes rootwait\n"


def _env():
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "LINEBOX_DB",
                                                                           "LINEBOX_CONSOLE")}


def _install(root, *options):
    return subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--runtime-site", RUNTIME, *options],
                          capture_output=True, text=True, env=_env(), timeout=900)


def test_bad_options_are_refused_in_one_line(tmp_path):
    for options in (["--console-level", "loud"], ["--console-tty", "../sda"], ["--what"]):
        done = _install(tmp_path, *options)
        assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert list(tmp_path.iterdir()) == []


def _console(root, *options):
    done = subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--print-console", *options],
                          capture_output=True, text=True, env=_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_serial_console_is_a_setting_of_the_one_settings_file(tmp_path):
    # The reference hat's line card is on serial0 (board/rpi.yaml): the console goes to the Pi 5's debug UART.
    assert "device: /dev/serial0" in (ROOT / "board/rpi.yaml").read_text()
    assert _console(tmp_path) == "console=ttyAMA10 level=info"
    settings = tmp_path / "etc/linebox/linebox.env"
    settings.parent.mkdir(parents=True)
    settings.write_text((ROOT / "systemd/linebox.env").read_text())  # as shipped: empty = the default
    assert _console(tmp_path) == "console=ttyAMA10 level=info"
    settings.write_text(settings.read_text().replace("LINEBOX_CONSOLE_TTY=\n", "LINEBOX_CONSOLE_TTY=ttyAMA1\n")
                        .replace("LINEBOX_CONSOLE_LEVEL=info", "LINEBOX_CONSOLE_LEVEL=warning"))
    assert _console(tmp_path) == "console=ttyAMA1 level=warning"
    assert _console(tmp_path, "--console-tty", "serial0") == "console=serial0 level=warning"  # the command line wins


@pytest.mark.slow
def test_install_upgrade_and_uninstall_in_a_throwaway_root(tmp_path):
    root = tmp_path / "root"
    (root / "boot" / "firmware").mkdir(parents=True)
    (root / "boot" / "firmware" / "cmdline.txt").write_text(CMDLINE)
    (root / "boot" / "firmware" / "config.txt").write_text("[all]\narm_boost=1\n")
    done = _install(root, "--console-tty", "ttyAMA10", "--console-level", "warning")
    assert done.returncode == 0, done.stderr + done.stdout
    printed = done.stdout
    for command in ("+ apt-get install", "+ chown -R linebox:linebox /var/lib/linebox", "+ systemctl daemon-reload",
                    "+ systemctl enable --now linebox.service linebox-web.service serial-getty@ttyAMA10.service"):
        assert command in printed, command
    prefix = root / "opt" / "linebox"
    first = os.readlink(prefix / "current")
    release = prefix / first
    assert (release / ".complete").is_file() and (release / "linebox" / "cli.py").is_file()
    for left in (".git", ".venv", ".stamps", "var", "tests"):
        assert not (release / left).exists(), left
    assert list((release / "firmware" / "__pycache__").glob("*.pyc")), "modules compiled at install"
    listing = subprocess.run([str(prefix / "current" / "venv" / "bin" / "linebox"), "release", "list", "--root",
                              str(root)], capture_output=True, text=True, env=_env(), timeout=300)
    assert listing.returncode == 0 and listing.stdout.startswith("* "), listing.stderr
    # The settings file names the paths the units and the shells use.
    settings = (root / "etc/linebox/linebox.env").read_text()
    assert "LINEBOX_DB=/var/lib/linebox/linebox.db" in settings
    assert "LINEBOX_CONSOLE=/var/lib/linebox/linebox.sock" in settings
    assert "LINEBOX_CONSOLE_TTY=ttyAMA10\n" in settings and "LINEBOX_CONSOLE_LEVEL=warning\n" in settings
    assert ". /etc/linebox/linebox.env" in (root / "etc/profile.d/linebox.sh").read_text()
    for unit in ("linebox.service", "linebox-web.service"):
        text = (root / "etc/systemd/system" / unit).read_text()
        assert text == (ROOT / "systemd" / unit).read_text()
        assert "EnvironmentFile=/etc/linebox/linebox.env" in text and "/opt/linebox/current/venv/bin/linebox" in text
    journald = (root / "etc/systemd/journald.conf.d/linebox-console.conf").read_text()
    assert "ForwardToConsole=yes" in journald and "TTYPath=/dev/ttyAMA10" in journald
    assert "MaxLevelConsole=warning" in journald
    assert (root / "etc/udev/rules.d/99-linebox.rules").read_text() == (ROOT / "board/udev/99-linebox.rules").read_text()
    config = (root / "boot/firmware/config.txt").read_text()
    assert config.startswith("[all]\narm_boost=1\n") and "enable_uart=1" in config
    cmdline = (root / "boot/firmware/cmdline.txt").read_text()
    assert "console=serial0" not in cmdline and cmdline.count("console=ttyAMA10,115200") == 1
    assert "console=tty1" in cmdline and cmdline.count("\n") == 1

    (root / "var/lib/linebox/linebox.db").write_bytes(b"not a database")
    refused = _install(root, "--console-tty", "ttyAMA10", "--console-level", "warning")
    assert refused.returncode != 0 and "refused, nothing changed" in refused.stderr, refused.stderr
    assert os.readlink(prefix / "current") == first and not (prefix / "upgrade-state.json").exists()
    (root / "var/lib/linebox/linebox.db").unlink()
    store = ConfigStore(root / "var/lib/linebox/linebox.db", boards=board_ports)
    seed_demo(store)
    store.close()
    again = _install(root, "--console-tty", "ttyAMA10", "--console-level", "warning")  # an upgrade in place
    assert again.returncode == 0, again.stderr + again.stdout
    assert list((root / "var/lib/linebox/upgrade-backups").glob("*.tar")), "the data backed up before the switch"
    assert os.readlink(prefix / "current") != first and (prefix / first / ".complete").is_file()
    assert (root / "boot/firmware/config.txt").read_text() == config  # one block, replaced
    assert (root / "boot/firmware/cmdline.txt").read_text() == cmdline

    removed = subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--uninstall"], capture_output=True,
                             text=True, env=_env(), timeout=300)
    assert removed.returncode == 0, removed.stderr
    assert not prefix.exists() and not (root / "etc/systemd/system/linebox.service").exists()
    assert (root / "var/lib/linebox/linebox.db").is_file()
    assert (root / "boot/firmware/config.txt").read_text() == "[all]\narm_boost=1\n"
    purged = subprocess.run(["bash", str(SCRIPT), "--root", str(root), "--uninstall", "--purge"],
                            capture_output=True, text=True, env=_env(), timeout=300)
    assert purged.returncode == 0 and not (root / "var/lib/linebox").exists()
