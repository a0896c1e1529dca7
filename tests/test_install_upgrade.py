"""Install, upgrade and rollback of real releases in a temporary root (linebox/releases.py).

Releases are built from this tree (``linebox release build``) into ``linebox-<version>.tar.gz``
and installed into ``<root>/opt/linebox/releases/<version>`` with a venv of their own (the
shared runtime's packages are this test venv's). The engine the upgrade stops and starts is the
installed release's own ``linebox run`` as a real process (READY = its ``started`` line), and
the self-test is the new release's ``linebox doctor --json --skip clock_sync`` against the box's database.
The engine and the upgrade's ``linebox dsp warm`` use the units' numba cache (``Layout.numba_cache``).
"""

import hashlib
import io
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from pathlib import Path

import pytest

from drivers.logs import EventLogger
from firmware.cdr import CallRecord, CdrStore, Disposition, HangupBy
from firmware.config.demo import seed_demo
from firmware.config.store import ConfigStore
from linebox import LineboxError
from linebox.releases import (
    COMPLETE_MARK,
    ENGINE_USER,
    UPGRADE_CHECK,
    Layout,
    NoService,
    build_release,
    command_check,
    install_release,
    prune,
    read_version,
    recover,
    switch_current,
    upgrade,
)
from linebox.storage import board_ports

TREE = Path(__file__).resolve().parents[1]
RUNTIME = Path(sysconfig.get_paths()["purelib"])  # this venv's packages stand for the box's shared runtime
PYTHON = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
READY_TIMEOUT_S = 180.0
RECORDS = 7


def _env() -> dict[str, str]:
    """An installed release must find its own code, not this checkout's."""
    return {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "LINEBOX_DB",
                                                                           "LINEBOX_CONSOLE")}


def _variant(tmp: Path, name: str, edits: dict[str, tuple[str, str]]) -> Path:
    """A copy of this tree with (old, new) text replaced in the given files: a faulty release."""
    tree = tmp / name
    shutil.copytree(TREE, tree, ignore=shutil.ignore_patterns(".git", ".venv", ".stamps", "var", "tests",
                                                               "__pycache__", "*.egg-info"))
    for relative, (old, new) in edits.items():
        path = tree / relative
        text = path.read_text()
        assert old in text, (relative, old)
        path.write_text(text.replace(old, new, 1))
    return tree


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("releases")
    dist = tmp / "dist"
    built = {version: build_release(TREE, version, dist) for version in ("1.0.0", "2.0.0")}
    # 3.0.0's self-test fails (its disk check reports a fault); 4.0.0 does not start (the
    # appliance refuses to open); 5.0.0 has a module that does not compile.
    selftest_fault = {"linebox/doctor/__init__.py": ("    return checks\n",
                                                      "    return [*checks, Check('injected_fault', False, 'a bug')]\n")}
    start_fault = {"linebox/appliance.py": ('    definition = load_board(board_name)\n    store = _open_store',
                                            '    raise BoardError("injected start-up fault")\n    store = _open_store')}
    syntax_fault = {"firmware/__init__.py": ('"""', '"""\nthis is not python\n"""')}
    built["3.0.0"] = build_release(_variant(tmp, "v3", selftest_fault), "3.0.0", dist)
    built["4.0.0"] = build_release(_variant(tmp, "v4", start_fault), "4.0.0", dist)
    built["5.0.0"] = build_release(_variant(tmp, "v5", syntax_fault), "5.0.0", dist)
    # 6.0.0's DTMF kernel does not compile (a typing error numba finds only when it compiles).
    kernel_fault = {"dsp/dtmf_kernel.py": ("    channels, n = block.shape\n",
                                           "    channels, n = block.shape\n    channels = \"x\" + channels\n")}
    built["6.0.0"] = build_release(_variant(tmp, "v6", kernel_fault), "6.0.0", dist)
    return built


def _record(number: int) -> CallRecord:
    return CallRecord(uniqueid=f"1780000000.1.{number}", start=1.78e9 + number, end=1.78e9 + number + 9,
                      disposition=Disposition.ANSWERED, hangup_by=HangupBy.CALLER, answer=1.78e9 + number + 1)


@pytest.fixture
def root():
    """A short root folder: the console socket under it must fit a UNIX socket path (108 bytes),
    which pytest's temporary folders (longer under pytest-xdist) do not always allow."""
    folder = Path(tempfile.mkdtemp(prefix="lbx-", dir="/tmp"))
    yield folder / "root"
    shutil.rmtree(folder, ignore_errors=True)


def _populate(layout: Layout) -> None:
    layout.data.mkdir(parents=True, exist_ok=True)
    config = ConfigStore(layout.db, boards=board_ports)
    seed_demo(config)
    config.close()
    with CdrStore(layout.db) as cdr:
        for number in range(RECORDS):
            cdr.record(_record(number))


def _cdr_ids(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [row[0] for row in conn.execute("SELECT uniqueid FROM cdr WHERE uniqueid LIKE '1780000000.%' "
                                               "ORDER BY uniqueid")]
    finally:
        conn.close()


def _runnable(layout: Layout) -> str:
    """The current release's version, after proving its own ``linebox`` runs."""
    version = layout.current_version()
    assert version is not None and (layout.current / COMPLETE_MARK).is_file()
    done = subprocess.run([str(layout.current / "venv" / "bin" / "linebox"), "release", "list", "--root",
                           str(layout.root)], capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"* {version}" in done.stdout
    return version


class EngineService:
    """The installed release's ``linebox run`` as a real process; ready at its ``started`` line."""

    def __init__(self, layout: Layout, log_dir: Path) -> None:
        self.layout = layout
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None
        self.starts: list[str] = []

    def start(self) -> bool:
        version = self.layout.current_version()
        log = self.log_dir / f"engine-{len(self.starts)}-{version}.log"
        self.starts.append(str(version))
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(self.layout.current / "venv" / "bin" / "linebox"), "run", "--board", "virtual", "--no-web",
                 "--no-demo-traffic", "--db", str(self.layout.db), "--socket", str(self.layout.data / "linebox.sock")],
                stdout=out, stderr=subprocess.STDOUT, env={**_env(), "NUMBA_CACHE_DIR": str(self.layout.numba_cache)},
                cwd=self.log_dir)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if b" event=started " in log.read_bytes():
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.05)
        self.stop()
        return False

    def last_log(self) -> str:
        """The end of the last start's log (for a failed start's message)."""
        logs = sorted(self.log_dir.glob("engine-*.log"), key=lambda path: path.stat().st_mtime)
        return logs[-1].read_text(errors="replace")[-3000:] if logs else "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def test_a_release_file_with_unsafe_members_is_refused(tmp_path):
    for name in ("linebox-1.0/../../etc/passwd", "/etc/linebox-1.0"):
        bad = tmp_path / "bad.tar.gz"
        with tarfile.open(bad, "w:gz") as archive:
            for member in ("linebox-1.0/RELEASE", name):
                info = tarfile.TarInfo(member)
                info.size = 4
                archive.addfile(info, io.BytesIO(b"1.0\n"))
        with pytest.raises(LineboxError, match="release file"):
            read_version(bad)
    with pytest.raises(LineboxError, match="version"):
        build_release(TREE, "../1", tmp_path)


def test_the_upgrades_warm_uses_the_units_user_and_numba_cache():
    # engine_warm compiles where, and as whom, the engine's units load the kernels.
    for unit in ("linebox.service", "linebox-web.service"):
        lines = (TREE / "systemd" / unit).read_text().splitlines()
        assert f"User={ENGINE_USER}" in lines, unit
        assert f"Environment=NUMBA_CACHE_DIR={Layout(Path('/')).numba_cache}" in lines, unit


def test_a_release_leaves_the_checkout_behind(releases):
    with tarfile.open(releases["1.0.0"]) as archive:
        names = archive.getnames()
    assert "linebox-1.0.0/RELEASE" in names and "linebox-1.0.0/linebox/cli.py" in names
    for left in (".git", ".venv", ".stamps", "var", "tests"):
        assert not [name for name in names if name.split("/")[1] == left], left


@pytest.mark.slow
def test_upgrade_succeeds_then_a_failing_self_test_and_a_failing_start_roll_back(tmp_path, root, releases):
    layout = Layout(root)
    _populate(layout)
    install_release(layout, releases["1.0.0"], PYTHON, RUNTIME)
    switch_current(layout, "1.0.0")
    engine = EngineService(layout, tmp_path)
    assert engine.start(), engine.last_log()  # the box runs 1.0.0
    check = command_check(list(UPGRADE_CHECK), layout.db)
    log = EventLogger("upgrade")
    try:
        done = upgrade(layout, releases["2.0.0"], engine, check, PYTHON, RUNTIME, log=log)
        assert done.ok and done.version == "2.0.0", done.detail
        assert _runnable(layout) == "2.0.0" and engine.starts == ["1.0.0", "2.0.0"]
        assert not layout.journal.exists() and len(_cdr_ids(layout.db)) == RECORDS

        failed = upgrade(layout, releases["3.0.0"], engine, check, PYTHON, RUNTIME, log=log)
        assert not failed.ok and failed.version == "2.0.0"
        assert "self-test failed" in failed.detail
        assert _runnable(layout) == "2.0.0" and engine.starts[-2:] == ["3.0.0", "2.0.0"]
        assert engine.process is not None and engine.process.poll() is None  # 2.0.0 runs again
        assert _cdr_ids(layout.db) == [_record(n).uniqueid for n in range(RECORDS)]
        assert list(layout.data.glob("replaced-*")), "what 3.0.0 ran on is kept aside"

        no_start = upgrade(layout, releases["4.0.0"], engine, check, PYTHON, RUNTIME, log=log)
        assert not no_start.ok and "did not report ready" in no_start.detail
        assert _runnable(layout) == "2.0.0" and engine.starts[-2:] == ["4.0.0", "2.0.0"]
        assert _cdr_ids(layout.db) == [_record(n).uniqueid for n in range(RECORDS)]

        with pytest.raises(LineboxError, match="5.0.0"):  # does not compile: refused before any change
            upgrade(layout, releases["5.0.0"], engine, check, PYTHON, RUNTIME, log=log)
        assert _runnable(layout) == "2.0.0" and engine.starts[-1] == "2.0.0" and not layout.journal.exists()
        assert not (layout.releases / "5.0.0").exists() and not list(layout.releases.glob(".partial-*"))
    finally:
        engine.stop()
    # keep=3: the failed 3.0.0 and 4.0.0 count as installed; pruning keeps current and the newest others.
    assert "2.0.0" in layout.installed() and len(prune(layout, 2)) >= 1 and layout.current_version() == "2.0.0"


def _kernel_cache(layout: Layout, version: str) -> dict[str, tuple[int, int]]:
    """The files numba cached for the kernels of release ``version``'s dsp/: name -> (mtime, size).
    numba names a source folder's cache after the folder and the SHA-1 of its absolute path."""
    folder = layout.release(version) / "dsp"
    cache = layout.numba_cache / f"dsp_{hashlib.sha1(str(folder).encode()).hexdigest()}"
    return {path.name: (path.stat().st_mtime_ns, path.stat().st_size) for path in cache.glob("*")} if cache.is_dir() else {}


@pytest.mark.slow
def test_the_upgrade_compiles_the_kernels_before_the_engine_stops_and_refuses_kernels_that_do_not(
        tmp_path, root, releases):
    layout = Layout(root)
    _populate(layout)
    install_release(layout, releases["1.0.0"], PYTHON, RUNTIME)
    switch_current(layout, "1.0.0")
    engine = EngineService(layout, tmp_path)
    assert engine.start(), engine.last_log()
    running = engine.process
    log = EventLogger("upgrade")
    started_with: list[dict[str, tuple[int, int]]] = []

    class Watched:
        """The engine, with numba's cache of the new release as the engine's start found it."""

        def stop(self) -> None:
            engine.stop()

        def start(self) -> bool:
            started_with.append(_kernel_cache(layout, "2.0.0"))
            return engine.start()

    try:
        with pytest.raises(LineboxError, match="6.0.0 refused, nothing changed: its DSP kernels do not compile: dsp warm exit 2: "
                                                 "linebox: dtmf: its kernels do not build: TypingError"):
            upgrade(layout, releases["6.0.0"], Watched(), lambda release: (True, "none"), PYTHON, RUNTIME, log=log)
        # Refused before the engine was stopped: the same 1.0.0 process runs on.
        assert engine.process is running and running.poll() is None and engine.starts == ["1.0.0"]
        assert _runnable(layout) == "1.0.0" and not layout.journal.exists()

        done = upgrade(layout, releases["2.0.0"], Watched(), lambda release: (True, "none"), PYTHON, RUNTIME, log=log)
        assert done.ok and engine.starts == ["1.0.0", "2.0.0"], done.detail
        warmed = started_with[0]
        assert any(name.startswith("dtmf_kernel.") for name in warmed), warmed  # compiled before the start
        assert any(name.startswith("echo_kernels.") for name in warmed), warmed
        # The new release's first start loaded every kernel from the cache: it wrote nothing there.
        assert _kernel_cache(layout, "2.0.0") == warmed
    finally:
        engine.stop()


@pytest.mark.slow
def test_a_kill_at_any_moment_of_an_upgrade_leaves_a_runnable_release_and_the_data(tmp_path, root, releases):
    layout = Layout(root)
    _populate(layout)
    install_release(layout, releases["1.0.0"], PYTHON, RUNTIME)
    switch_current(layout, "1.0.0")
    pristine = tmp_path / "pristine.db"
    shutil.copy2(layout.db, pristine)
    command = [sys.executable, "-m", "linebox", "release", "upgrade", str(releases["2.0.0"]), "--root",
               str(layout.root), "--service", "none", "--check", "none", "--python", PYTHON, "--runtime", str(RUNTIME)]
    env = {**os.environ, "PYTHONPATH": str(TREE)}

    def back_to_the_start() -> None:  # 1.0.0 with the pristine data, 2.0.0 not installed
        switch_current(layout, "1.0.0")
        shutil.rmtree(layout.release("2.0.0"), ignore_errors=True)
        for leftover in (layout.db.with_name("linebox.db-wal"), layout.db.with_name("linebox.db-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copy2(pristine, layout.db)

    # A first whole run compiles 2.0.0's kernels into numba's cache (the warm); later installs of
    # 2.0.0 find them there (same files, same times), so the timed run is as long as the later ones.
    assert subprocess.run(command, env=env, capture_output=True, timeout=900).returncode == 0
    back_to_the_start()
    started = time.monotonic()
    assert subprocess.run(command, env=env, capture_output=True, timeout=600).returncode == 0  # a whole run
    whole_s = time.monotonic() - started
    rng = random.Random(16)
    seen = set()
    for attempt in range(8):
        back_to_the_start()
        upgrading = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, whole_s * 1.1))
        upgrading.send_signal(signal.SIGKILL)
        upgrading.wait()
        assert _runnable(layout) in ("1.0.0", "2.0.0")  # before any recovery: old or new, runnable
        recover(layout, NoService())
        version = _runnable(layout)
        seen.add(version)
        assert not layout.journal.exists()
        assert _cdr_ids(layout.db) == [_record(n).uniqueid for n in range(RECORDS)], attempt
        # An upgrade started again after the cut goes through.
        assert subprocess.run(command, env=env, capture_output=True, timeout=600).returncode == 0
        assert _runnable(layout) == "2.0.0"
    assert "1.0.0" in seen  # some kills landed before the switch committed


# Run by the installed release's own Python: its launcher is the main script (sys.argv[0] and
# __main__.__file__) of a program that starts a multiprocessing ``spawn`` child, as a command of
# the box would. The child imports the main script again (as __mp_main__) before its target.
SPAWN_FROM_LAUNCHER = """import multiprocessing, pathlib, sys, __main__
launcher, root, touched = sys.argv[1:]
__main__.__file__ = launcher
sys.argv = [launcher, "release", "list", "--root", root]
child = multiprocessing.get_context("spawn").Process(target=pathlib.Path.touch, args=(pathlib.Path(touched),))
child.start()
child.join(120)
print("child exit", child.exitcode, flush=True)
"""


def test_the_installed_launcher_runs_and_a_spawned_child_does_not_rerun_it(tmp_path):
    """The launcher is guarded by ``if __name__ == "__main__"``: a ``spawn`` child re-imports the
    main script; unguarded, the child ran ``linebox`` again instead of its target (the speech
    worker died that way before it was changed to a subprocess)."""
    layout = Layout(tmp_path / "root")
    version = install_release(layout, build_release(TREE, "1.0.0", tmp_path / "dist"), PYTHON, RUNTIME)
    switch_current(layout, version)
    assert _runnable(layout) == "1.0.0"  # the console entry point works
    launcher = layout.current / "venv" / "bin" / "linebox"
    touched = tmp_path / "child-ran"
    done = subprocess.run([str(layout.current / "venv" / "bin" / "python"), "-I", "-c", SPAWN_FROM_LAUNCHER,
                           str(launcher), str(layout.root), str(touched)],
                          capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "child exit 0\n", done.stdout + done.stderr[-2000:]
    assert touched.is_file()
