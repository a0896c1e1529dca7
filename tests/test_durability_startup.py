"""Start-up time (issue 16): ``linebox`` imports only the module of the command that runs, and
``linebox run`` imports no web framework or speech engine before it answers calls."""

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from linebox.bench import BENCHMARKS
from linebox.commands import COMMAND_GROUPS
from linebox.commands.dsp import DSP_TOOLS

ROOT = Path(__file__).resolve().parents[1]
NOT_ON_THE_START_PATH = ("flask", "werkzeug", "waitress", "vosk", "pocketsphinx", "piper", "webadmin",
                         "linebox.bench", "linebox.sim", "linebox.commands.acd", "linebox.commands.speech",
                         "linebox.commands.selftest", "linebox.commands.doctor", "linebox.doctor",
                         "linebox.commands.dsp")


def _modules_after(argv: list[str]) -> set[str]:
    code = ("import sys\nfrom linebox.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, cwd=ROOT, timeout=300)
    return set(done.stderr.split())


def test_run_imports_neither_the_other_groups_nor_web_or_speech_engines():
    loaded = _modules_after(["run", "--help"])
    assert "linebox.commands.run" in loaded and "linebox.appliance" in loaded
    early = sorted(name for name in loaded if name.startswith(NOT_ON_THE_START_PATH))
    assert early == [], early


def test_help_lists_every_group_and_imports_none():
    loaded = _modules_after(["--help"])
    assert not [name for name, module, _ in COMMAND_GROUPS if module in loaded]


@pytest.mark.parametrize("table", [COMMAND_GROUPS, BENCHMARKS, DSP_TOOLS], ids=["commands", "bench", "dsp"])
def test_each_row_names_a_module_that_registers_that_name(table):
    names = [name for name, _, _ in table]
    assert len(set(names)) == len(names)
    for name, module, help_text in table:
        parser = argparse.ArgumentParser()
        subparsers = parser.add_subparsers()
        importlib.import_module(module).register(subparsers)
        assert list(subparsers.choices) == [name], module
        assert help_text and len(help_text) < 100


def test_a_group_parses_its_own_options_and_errors(capsys):
    from linebox.cli import main
    with pytest.raises(SystemExit) as stop:
        main(["bench", "durability", "--kills", "many"])
    assert stop.value.code == 2
    assert "linebox bench durability: error: argument --kills" in capsys.readouterr().err


def test_hold_music_files_that_cannot_fit_are_not_decoded(tmp_path):
    """Start-up time: Debian's default class is 5 files of ~3.5 min and a class keeps 300 s, so
    4 of the 5 were decoded for nothing (~0.3 s of every start). The header says they do not fit;
    the buffer is the same as when every file is decoded."""
    import numpy as np

    from drivers.audiofile import read_audio, write_wav
    from drivers.logs import EventLogger
    from firmware.media.music import load_music_class

    for name, seconds in (("a.wav", 2), ("b.wav", 4), ("c.wav", 1)):
        write_wav(tmp_path / name, np.full(8000 * seconds, 1000.0))
    (tmp_path / "d.wav").write_bytes(b"RIFF but not a wave file")  # unreadable header: decoded (and refused)
    decoded = []

    def read(path):
        decoded.append(path.name)
        return read_audio(path)

    music = load_music_class(tmp_path, read, EventLogger("test"), max_seconds=3.5)
    assert decoded == ["a.wav", "c.wav", "d.wav"]
    assert music is not None and music.size == 8000 * 3
