"""Releases on the appliance: build, install beside the running one, upgrade with rollback.

Layout under a root (``/`` on the box; a temporary folder in the tests)::

    opt/linebox/releases/<version>/   one release: its files, compiled, and venv/ (bin/linebox)
    opt/linebox/current -> releases/<version>   what the units run (switched by one rename)
    opt/linebox/upgrade-state.json    the journal of an upgrade in progress (absent otherwise)
    var/lib/linebox/                  the data (database, queue_log, voicemail...)
    var/lib/linebox/upgrade-backups/  the data as they were before each upgrade

A release file (``linebox release build``) is a ``linebox-<version>.tar.gz`` of the package's
files under ``linebox-<version>/`` with a ``RELEASE`` file naming the version; never ``.git``,
``.venv``, ``.stamps``, ``var`` or the tests. Installing it unpacks and checks it into
``releases/.partial-<version>``, makes a virtual environment whose path file names the release
(and the shared runtime's packages: ``opt/linebox/runtime``, made by board/install.sh), compiles
every module (a read-only /opt must not compile at each start: restart time), writes a
``.complete`` mark and renames the folder into place: a cut leaves a partial folder that the
next install removes, never a half release under a version's name.

Upgrade (:func:`upgrade`), each step written to the journal (fsynced) before it is taken:
install the new release (the engine still runs) -> compile its DSP kernels into numba's cache
as the engine's user (:func:`engine_warm`, the engine still runs: its first start then loads
them instead of compiling, and a kernel that does not compile refuses the upgrade, nothing
changed) -> ``stopping``: stop the engine -> back up the
database and queue_log (the engine is stopped: nothing written after the backup is lost by a
rollback) -> ``switching``: point ``current`` at the new release -> ``testing``: start the
engine (on systemd: READY within the unit's timeout) and run the self-test of the new release
-> journal removed, old releases beyond ``keep`` pruned. If the start or the self-test fails,
:func:`rollback`: stop, restore the backup (the data the new release wrote are kept in
``replaced-<n>/``), point ``current`` back, start the old release, log why.

A power cut at any moment: ``current`` is always a complete release (one rename switches
it), and :func:`recover` (run by the unit before each start, and before an upgrade) finishes
the story from the journal: ``stopping`` -> nothing was changed; ``switching``/``testing`` ->
rolled back as above (the upgrade never committed).
"""

from __future__ import annotations

import compileall
import datetime as dt
import hashlib
import io
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.storage import backup
from linebox import LineboxError

KEEP_RELEASES = 3  # the running one, the one before it (rollback), one more
VERSION = re.compile(r"[0-9][0-9A-Za-z.+_-]{0,63}")
RELEASE_FILE = "RELEASE"
COMPLETE_MARK = ".complete"
EXCLUDED = {".git", ".venv", ".stamps", "var", "tests", "__pycache__", ".pytest_cache", ".ruff_cache", "build"}
MAX_MEMBERS = 20_000
MAX_RELEASE_BYTES = 200 * 1024 * 1024  # unpacked; the package is a few MB


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def prefix(self) -> Path:
        return self.root / "opt" / "linebox"

    @property
    def releases(self) -> Path:
        return self.prefix / "releases"

    @property
    def current(self) -> Path:
        return self.prefix / "current"

    @property
    def journal(self) -> Path:
        return self.prefix / "upgrade-state.json"

    @property
    def runtime_site(self) -> Path:
        """The shared runtime's packages (numpy, flask...): board/install.sh makes this venv."""
        return self.prefix / "runtime" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"

    @property
    def data(self) -> Path:
        return self.root / "var" / "lib" / "linebox"

    @property
    def numba_cache(self) -> Path:
        """numba's cache of compiled DSP kernels: the units' ``NUMBA_CACHE_DIR`` (systemd/*.service)."""
        return self.data / "numba-cache"

    @property
    def db(self) -> Path:
        return self.data / "linebox.db"

    @property
    def backups(self) -> Path:
        return self.data / "upgrade-backups"

    def release(self, version: str) -> Path:
        return self.releases / version

    def current_version(self) -> str | None:
        if not self.current.is_symlink():
            return None
        return os.readlink(self.current).rsplit("/", 1)[-1]

    def installed(self) -> list[str]:
        if not self.releases.is_dir():
            return []
        return sorted(path.name for path in self.releases.iterdir() if (path / COMPLETE_MARK).is_file())


class Service(Protocol):
    """The engine's service: ``start`` returns True once it is ready (systemd: READY=1)."""

    def stop(self) -> None: ...

    def start(self) -> bool: ...


class SystemdService:
    """``systemctl``: a Type=notify unit's start returns when it sent READY=1, or fails."""

    def __init__(self, units: Iterable[str] = ("linebox.service", "linebox-web.service")) -> None:
        self.units = tuple(units)

    def stop(self) -> None:
        subprocess.run(["systemctl", "stop", *self.units], check=False)

    def start(self) -> bool:
        return subprocess.run(["systemctl", "start", *self.units], check=False).returncode == 0


class NoService:
    """Nothing to stop or start (an install before the units exist; tests of the file steps)."""

    def stop(self) -> None:
        pass

    def start(self) -> bool:
        return True


UPGRADE_CHECK = ("doctor", "--json", "--skip", "clock_sync")
"""The new release's self-test after an upgrade; the clock is left out: no release can break or
mend it, so a box without a time server is not rolled back for it (the dashboard shows it)."""

Check = Callable[[Path], tuple[bool, str]]
"""The self-test of a release (its folder): (passed, one line)."""


def command_check(argv: list[str], db: Path, timeout_s: float = 300.0) -> Check:
    """Runs ``<release>/venv/bin/linebox ARGV --db DB`` (the upgrade's: :data:`UPGRADE_CHECK`)."""

    def check(release: Path) -> tuple[bool, str]:
        command = [str(release / "venv" / "bin" / "linebox"), *argv, "--db", str(db)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"{' '.join(argv)}: {exc}"
        lines = (done.stdout.strip() or done.stderr.strip() or "(no output)").splitlines()
        return done.returncode == 0, f"{' '.join(argv)} exit {done.returncode}: {lines[-1][:300]}"

    return check


ENGINE_USER = "linebox"  # the units' User= (systemd/*.service)
WARM_COMMAND = ("dsp", "warm")


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def engine_warm(layout: Layout, timeout_s: float = 900.0) -> Check:
    """Runs the release's ``linebox dsp warm`` as the engine would meet its kernels: as
    :data:`ENGINE_USER` when run by root (the upgrade on the box: ``runuser``), else as the
    caller (tests, a development machine or container without that user), with the units' ``NUMBA_CACHE_DIR``
    (:attr:`Layout.numba_cache`), at a lower priority than the engine that still runs. The
    cache is keyed by each kernel's source path, which is the release's own folder (its venv's
    path file names ``releases/<version>``, not ``current``): what is compiled before the
    switch is what the new release's first start loads. A release older than the compiled
    kernels has no ``dsp warm``: nothing to do."""

    def warm(release: Path) -> tuple[bool, str]:
        if not (release / "linebox" / "commands" / "dsp_warm.py").is_file():
            return True, "no compiled kernels in this release"
        command = ["nice", "-n", "10", "env", f"NUMBA_CACHE_DIR={layout.numba_cache}",
                   str(release / "venv" / "bin" / "linebox"), *WARM_COMMAND]
        if os.geteuid() == 0 and _user_exists(ENGINE_USER):
            command = ["runuser", "-u", ENGINE_USER, "--", *command]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"{' '.join(WARM_COMMAND)}: {exc}"
        lines = (done.stdout.strip() or done.stderr.strip() or "(no output)").splitlines()
        if done.returncode != 0:  # the last line of a traceback says which kernel and why
            lines = (done.stderr.strip() or done.stdout.strip() or "(no output)").splitlines()
        return done.returncode == 0, f"{' '.join(WARM_COMMAND)} exit {done.returncode}: {lines[-1][:300]}"

    return warm


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_durably(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    _fsync_folder(path.parent)


def check_version(version: str) -> str:
    if not VERSION.fullmatch(version):
        raise LineboxError(f"release version {version!r}: digits first, then letters, digits, . + _ - (64 at most)")
    return version


# -- build ---------------------------------------------------------------------------------

def _release_files(tree: Path) -> Iterable[Path]:
    for path in sorted(tree.rglob("*")):
        parts = path.relative_to(tree).parts
        if any(part in EXCLUDED or part.endswith(".egg-info") for part in parts):
            continue
        if path.is_file() and not path.is_symlink() and path.suffix != ".pyc":
            yield path


def build_release(tree: Path, version: str, out_dir: Path) -> Path:
    """``linebox-<version>.tar.gz`` of the package at ``tree`` in ``out_dir``; its path."""
    check_version(version)
    top = f"linebox-{version}"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{top}.tar.gz"
    partial = out_dir / f".{top}.tar.gz.partial"
    with tarfile.open(partial, "w:gz") as archive:
        for path in _release_files(tree):
            archive.add(path, arcname=f"{top}/{path.relative_to(tree).as_posix()}", recursive=False)
        body = f"{version}\n".encode()
        info = tarfile.TarInfo(f"{top}/{RELEASE_FILE}")
        info.size = len(body)
        info.mode = 0o644
        archive.addfile(info, io.BytesIO(body))
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, out)
    return out


# -- install -------------------------------------------------------------------------------

def _checked_members(archive: tarfile.TarFile) -> tuple[str, list[tarfile.TarInfo]]:
    members = archive.getmembers()
    if not members or len(members) > MAX_MEMBERS:
        raise LineboxError(f"release file: {len(members)} members (1..{MAX_MEMBERS})")
    tops = {PurePosixPath(member.name).parts[0] for member in members}
    if len(tops) != 1 or not next(iter(tops)).startswith("linebox-"):
        raise LineboxError("release file: its files must all be under one linebox-<version>/ folder")
    top = tops.pop()
    total = 0
    for member in members:
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise LineboxError(f"release file: refused member {member.name!r} (absolute, .., or not a plain file)")
        total += member.size
    if total > MAX_RELEASE_BYTES:
        raise LineboxError(f"release file: {total} bytes unpacked, more than {MAX_RELEASE_BYTES}")
    return top, members


def read_version(tarball: Path) -> str:
    try:
        with tarfile.open(tarball, "r:*") as archive:
            top, _ = _checked_members(archive)
            handle = archive.extractfile(f"{top}/{RELEASE_FILE}")
            version = handle.read(100).decode().strip() if handle is not None else ""
    except (tarfile.TarError, OSError, KeyError, UnicodeDecodeError) as exc:
        raise LineboxError(f"release file {tarball}: unreadable: {exc}") from exc
    check_version(version)
    if top != f"linebox-{version}":
        raise LineboxError(f"release file: folder {top} does not match its version {version}")
    return version


def _make_venv(release: Path, staging: Path, python: str, deps_site: Path | None) -> None:
    venv = staging / "venv"
    subprocess.run([python, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    version = subprocess.run([str(venv / "bin" / "python"), "-c", "import sys; print(*sys.version_info[:2], sep='.')"],
                             check=True, capture_output=True, text=True).stdout.strip()
    site = venv / "lib" / f"python{version}" / "site-packages"
    # The release's own files first, then the shared runtime's packages (not its .pth files).
    lines = [str(release)] + ([str(deps_site)] if deps_site is not None else [])
    (site / "linebox-release.pth").write_text("\n".join(lines) + "\n")
    launcher = venv / "bin" / "linebox"
    # -I: isolated from PYTHONPATH and the user's site: the release runs its own code, whatever the caller's environment.
    # The guard: a multiprocessing "spawn" child imports the main script again (as __mp_main__) and must not rerun it.
    launcher.write_text(f"#!{release}/venv/bin/python -I\nimport sys\n\nfrom linebox.cli import main\n\n"
                        "if __name__ == \"__main__\":\n    sys.exit(main())\n")
    launcher.chmod(0o755)


def install_release(layout: Layout, tarball: Path, python: str = sys.executable,
                    deps_site: Path | None = None) -> str:
    """Installs the release file beside the others (see the module); its version. Idempotent."""
    version = read_version(tarball)
    final = layout.release(version)
    if (final / COMPLETE_MARK).is_file():
        return version
    layout.releases.mkdir(parents=True, exist_ok=True)
    staging = layout.releases / f".partial-{version}"
    shutil.rmtree(staging, ignore_errors=True)
    if final.exists():  # a folder without its mark is not a release: made by hand or cut short
        shutil.rmtree(final)
    staging.mkdir()
    try:
        with tarfile.open(tarball, "r:*") as archive:
            top, members = _checked_members(archive)
            for member in members:
                relative = PurePosixPath(member.name).relative_to(top)
                if not relative.parts:
                    continue
                target = staging.joinpath(*relative.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                if source is None:
                    raise LineboxError(f"release file: cannot read {member.name}")
                with target.open("wb") as out:
                    shutil.copyfileobj(source, out)
                # The file's own time, not the install's: numba's cache is keyed by each kernel
                # source's time and size, so a release installed again finds its kernels cached.
                os.utime(target, (member.mtime, member.mtime))
        _make_venv(final, staging, python, deps_site)
        if not compileall.compile_dir(staging, quiet=1, ddir=str(final), rx=re.compile(r"/venv/")):
            raise LineboxError(f"release {version}: a module does not compile")
        (staging / COMPLETE_MARK).write_text(f"{version}\n")
        subprocess.run(["sync", "-f", str(staging)], check=False)  # every file of the release on the card
        os.replace(staging, final)
        _fsync_folder(layout.releases)
    except (OSError, tarfile.TarError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise LineboxError(f"release {version}: install failed: {exc}") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return version


def switch_current(layout: Layout, version: str) -> None:
    """Points ``current`` at a complete release with one rename (a cut leaves old or new)."""
    if not (layout.release(version) / COMPLETE_MARK).is_file():
        raise LineboxError(f"release {version} is not installed")
    link = layout.prefix / ".current.new"
    link.unlink(missing_ok=True)
    link.symlink_to(Path("releases") / version)
    os.replace(link, layout.current)
    _fsync_folder(layout.prefix)


def numba_cache_folders(layout: Layout, release: Path) -> list[Path]:
    """The folders of numba's cache (:attr:`Layout.numba_cache`) holding kernels compiled from
    ``release``'s sources. With ``NUMBA_CACHE_DIR`` set numba keeps one folder per source
    folder, named ``<its name>_<sha1 of its absolute path>`` (numba.core.caching,
    ``_UserProvidedCacheLocator``; tests/test_release_numba_cache.py checks it against numba):
    a release's folders are its own (its path), useless once it is removed."""
    if not layout.numba_cache.is_dir() or not release.is_dir():
        return []
    found = []
    for folder, _, files in os.walk(release):
        if any(name.endswith(".py") for name in files):
            path = os.path.abspath(folder)
            hashed = hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()
            cached = layout.numba_cache / f"{os.path.basename(path)}_{hashed}"
            if cached.is_dir():
                found.append(cached)
    return found


def prune(layout: Layout, keep: int) -> list[str]:
    """Removes the oldest complete releases beyond ``keep`` (never the current one), and their
    kernels in numba's cache; their names."""
    current = layout.current_version()
    installed = sorted(layout.installed(), key=lambda name: (layout.release(name) / COMPLETE_MARK).stat().st_mtime)
    removable = [name for name in installed if name != current]
    removed = removable[:max(0, len(installed) - keep)]
    for name in removed:
        for cached in numba_cache_folders(layout, layout.release(name)):
            shutil.rmtree(cached, ignore_errors=True)
        shutil.rmtree(layout.release(name))
    for partial in layout.releases.glob(".partial-*") if layout.releases.is_dir() else ():
        shutil.rmtree(partial, ignore_errors=True)
    return removed


# -- upgrade, rollback, recovery -------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    ok: bool
    version: str  # what runs now
    detail: str


def _journal(layout: Layout, phase: str, old: str | None, new: str, backup_file: Path | None) -> None:
    _write_durably(layout.journal, json.dumps({"phase": phase, "from": old, "to": new,
                                               "backup": str(backup_file) if backup_file else None}))


def _restore_data(layout: Layout, backup_file: str | None, log: EventLogger) -> None:
    if backup_file is None:
        return
    _, kept = backup.restore(Path(backup_file), layout.db)
    if os.geteuid() == 0:  # restored by root (sudo, the unit's ExecStartPre): the engine's user must own them
        owner = layout.data.stat()
        for name in (layout.db.name, "queue_log", "cdr-spool.jsonl", *backup.FOLDERS):
            top = layout.data / name
            for path in [top, *(top.rglob("*") if top.is_dir() else ())]:
                if path.exists():
                    os.chown(path, owner.st_uid, owner.st_gid)
    log.info("upgrade_data_restored", backup=backup_file, replaced=str(kept) if kept else "")


def rollback(layout: Layout, service: Service, reason: str, log: EventLogger | None = None) -> Outcome:
    """Stops the engine, restores the journal's backup, points ``current`` back, starts it."""
    log = log or EventLogger("upgrade")
    state = json.loads(layout.journal.read_text())
    service.stop()
    _restore_data(layout, state["backup"], log)
    old = state["from"]
    if old is not None:
        switch_current(layout, old)
    layout.journal.unlink()
    _fsync_folder(layout.prefix)
    started = service.start() if old is not None else False
    log.error("upgrade_rolled_back", to=state["to"], back_to=old or "", reason=reason, started=int(started))
    return Outcome(False, old or "", f"upgrade to {state['to']} rolled back to {old}: {reason}")


def recover(layout: Layout, service: Service | None = None, log: EventLogger | None = None) -> str:
    """Finishes an upgrade a power cut or a kill interrupted (see the module); what was done."""
    log = log or EventLogger("upgrade")
    if not layout.journal.exists():
        return "nothing to recover"
    try:
        state = json.loads(layout.journal.read_text())
        phase = state["phase"]
    except (OSError, ValueError, KeyError) as exc:
        # The journal is written by rename: a torn one is impossible; a hand-edited one is refused.
        raise LineboxError(f"{layout.journal}: unreadable upgrade journal: {exc}") from exc
    if phase == "stopping":  # nothing was changed yet
        layout.journal.unlink()
        log.warning("upgrade_abandoned", to=state["to"], phase=phase)
        return f"upgrade to {state['to']} abandoned before any change"
    outcome = rollback(layout, service or NoService(), f"interrupted while {phase}", log)
    return outcome.detail


def upgrade(layout: Layout, tarball: Path, service: Service, check: Check, python: str = sys.executable,
            deps_site: Path | None = None, keep: int = KEEP_RELEASES, log: EventLogger | None = None,
            warm: Check | None = None) -> Outcome:
    """Installs ``tarball`` and switches to it, or rolls back (see the module). ``warm``: compiles
    the new release's kernels before the engine stops (default :func:`engine_warm`)."""
    log = log or EventLogger("upgrade")
    if keep < 2:
        raise LineboxError(f"keep {keep}: at least 2 releases (the new one and the one to roll back to)")
    recover(layout, service, log)
    new = install_release(layout, tarball, python, deps_site)
    old = layout.current_version()
    if old == new:
        return Outcome(True, new, f"release {new} is already running")
    warmed, detail = (warm or engine_warm(layout))(layout.release(new))
    if not warmed:  # nothing stopped, nothing switched: the old release keeps running
        log.error("upgrade_refused", new=new, reason=detail)
        raise LineboxError(f"upgrade to {new} refused, nothing changed: its DSP kernels do not compile: {detail}")
    log.info("upgrade_warmed", new=new, detail=detail)
    _journal(layout, "stopping", old, new, None)
    service.stop()
    backup_file: Path | None = None
    if layout.db.is_file():
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        backup_file = layout.backups / f"{old or 'none'}-to-{new}-{stamp}.tar"
        try:
            backup.create(layout.db, backup_file, stamp, with_recordings=False)
        except FirmwareError as exc:  # no backup, no migration: the old release starts again, unchanged
            layout.journal.unlink()
            started = service.start()
            log.error("upgrade_refused", new=new, reason=str(exc), started=int(started))
            raise LineboxError(f"upgrade to {new} refused, nothing changed: {exc}") from exc
    _journal(layout, "switching", old, new, backup_file)
    switch_current(layout, new)
    _journal(layout, "testing", old, new, backup_file)
    log.info("upgrade_testing", old=old or "", new=new)
    if not service.start():
        return rollback(layout, service, "the engine did not report ready", log)
    passed, detail = check(layout.release(new))
    if not passed:
        return rollback(layout, service, f"self-test failed: {detail}", log)
    layout.journal.unlink()
    _fsync_folder(layout.prefix)
    removed = prune(layout, keep)
    log.info("upgraded", old=old or "", new=new, pruned=",".join(removed))
    return Outcome(True, new, f"upgraded {old} -> {new}; self-test: {detail}")
