"""``linebox dsp echo``: a recording pair (far end, line) through the canceller."""

from __future__ import annotations

import json

import numpy as np
import pytest

from drivers.audiofile import read_audio, write_wav
from linebox.bench import echo_g168 as g168
from linebox.cli import main


def _pair(tmp_path, seconds: float = 4.0):
    far = g168.continuous_speech(seconds, 2)
    line = g168.line_input(g168.echo_of(far, 5, 6.0), 0.0, 1)
    paths = tmp_path / "far.wav", tmp_path / "line.wav"
    write_wav(paths[0], far.astype(np.int16))
    write_wav(paths[1], line.astype(np.int16))
    return far, line, paths


def test_cancels_the_echo_of_a_recording_pair(tmp_path, capsys):
    far, line, (far_path, line_path) = _pair(tmp_path)
    out_path = tmp_path / "out.wav"
    args = ["dsp", "echo", "--far", str(far_path), "--line", str(line_path), "-o", str(out_path), "--no-nlp"]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    out = read_audio(out_path)
    assert len(out) == len(line)
    assert result["tail_ms"] == 64 and result["nlp"] is False and len(result["seconds"]) == 4
    # G.168-style figure on the last second: the linear canceller has converged (> 20 dB).
    assert result["seconds"][-1]["loss_db"] >= 20.0, result
    assert result["seconds"][0]["loss_db"] < result["seconds"][-1]["loss_db"]


def test_128_ms_tail_and_nlp(tmp_path, capsys):
    _, line, (far_path, line_path) = _pair(tmp_path)
    out_path = tmp_path / "out.wav"
    args = ["dsp", "echo", "--far", str(far_path), "--line", str(line_path), "-o", str(out_path)]
    assert main([*args, "--tail-ms", "128", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["tail_ms"] == 128 and result["nlp"] is True
    assert result["seconds"][-1]["output_dbm0"] <= -55.0, result  # echo gone, comfort noise left


def test_bad_input_is_one_line_and_status_2(tmp_path, capsys):
    out_path = tmp_path / "out.wav"
    missing = str(tmp_path / "nothing.wav")
    assert main(["dsp", "echo", "--far", missing, "--line", missing, "-o", str(out_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not out_path.exists()
    with pytest.raises(SystemExit) as exit_info:  # argparse's own usage error: status 2
        main(["dsp", "echo", "--far", missing, "--line", missing, "-o", str(out_path), "--tail-ms", "100"])
    assert exit_info.value.code == 2
