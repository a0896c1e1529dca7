"""The PocketSphinx child process starts whatever program started the box.

An installed release's ``linebox`` launcher (linebox/releases.py) was a script with no
``if __name__ == "__main__"`` guard (it has one now; any main script may still lack one); ``multiprocessing``'s ``spawn`` re-ran that script in the
child (as ``__mp_main__``), so the child ran ``linebox run`` again instead of the recognizer and
died (``speech_model_unusable``): English speech never worked in an installed box. The child is
now its own entry point and never runs the parent's main script.
"""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pocketsphinx")
TREE = Path(__file__).resolve().parents[1]

# A main script like the release launcher: top-level code, no __main__ guard, run isolated (-I).
UNGUARDED_MAIN = f"""import sys
sys.path.insert(0, {str(TREE)!r})
print("main script ran", flush=True)
from firmware.speech.sphinx_engine import SphinxProcess
engine = SphinxProcess()
print("missing:", engine.missing_words(["five", "qwxzt"]), flush=True)
engine.close()
"""


def test_the_child_starts_under_a_main_script_without_a_guard(tmp_path):
    script = tmp_path / "launcher"
    script.write_text(UNGUARDED_MAIN)
    done = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["main script ran", "missing: ['qwxzt']"], done.stdout + done.stderr[-2000:]


def test_an_installed_release_recognizes_english(tmp_path):
    """The case that failed: a release of this tree, installed with its own venv and launcher,
    runs ``linebox speech recognize`` with PocketSphinx (the test venv's packages stand for the
    box's shared runtime, as in tests/test_install_upgrade.py)."""
    import os
    import sysconfig

    from firmware.speech.say import sound_dir
    from linebox.releases import Layout, build_release, install_release

    layout = Layout(tmp_path / "root")
    version = install_release(layout, build_release(TREE, "1.0.0", tmp_path / "dist"), sys.executable,
                              Path(sysconfig.get_paths()["purelib"]))
    launcher = layout.release(version) / "venv" / "bin" / "linebox"
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "LINEBOX_DB")}
    done = subprocess.run([str(launcher), "speech", "recognize", "--lang", "en", "--grammar", "one,three,nine",
                           str(sound_dir("en") / "digits" / "3.wav"), "--json", "--data", str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"engine": "pocketsphinx"' in done.stdout and '"text": "three"' in done.stdout, done.stdout + done.stderr
