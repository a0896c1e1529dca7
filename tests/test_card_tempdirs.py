"""The card emulator's temporary folders: an emulator killed with SIGKILL leaves its folder; the
next emulator removes it, and never the folder of an emulator that is still alive."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from board.virtual.card import CardEmulator
from board.virtual.tempdirs import OWNER_FILE, PREFIX, make_card_dir, process_alive, sweep_orphans


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_folder_records_its_owner_and_is_swept_only_once_the_owner_is_gone(tmp_path):
    mine = make_card_dir(str(tmp_path))
    assert Path(mine).name.startswith(PREFIX)
    assert int((Path(mine) / OWNER_FILE).read_text()) == os.getpid()
    orphan = make_card_dir(str(tmp_path))
    (Path(orphan) / OWNER_FILE).write_text(f"{dead_pid()}\n")
    unknown = tmp_path / f"{PREFIX}nopid"  # no owner recorded: not ours to judge
    unknown.mkdir()
    other = tmp_path / "someone-else"
    other.mkdir()
    (other / OWNER_FILE).write_text(f"{dead_pid()}\n")
    assert sweep_orphans(str(tmp_path)) == [orphan]
    assert not Path(orphan).exists()
    assert Path(mine).exists() and unknown.exists() and other.exists()
    assert sweep_orphans(str(tmp_path)) == []


def test_liveness():
    assert process_alive(os.getpid())
    assert not process_alive(dead_pid())


def test_an_emulator_killed_with_sigkill_leaves_a_folder_the_next_one_removes(tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path), PYTHONPATH=os.pathsep.join(sys.path))
    script = ("import sys, time\nfrom board.virtual.card import CardEmulator\n"
              "card = CardEmulator(['fxo', 'fxs'])\ncard.start()\nprint(card.path, flush=True)\ntime.sleep(60)\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env, text=True)
    try:
        folder = Path(child.stdout.readline().strip()).parent
        assert folder.is_dir() and folder.parent == tmp_path
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    assert folder.is_dir()  # SIGKILL: nothing could clean up
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp_path)
    import tempfile
    tempfile.tempdir = None  # re-read TMPDIR
    try:
        with CardEmulator(["fxo", "fxs"]) as card:
            assert not folder.exists()
            assert Path(card.path).parent.is_dir()
        assert not Path(card.path).parent.exists()  # a clean close removes its own folder
    finally:
        if old is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old
        tempfile.tempdir = None
