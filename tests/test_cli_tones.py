"""``linebox dsp tones`` and ``linebox dsp gen``: the command-line contract, via subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drivers.audiofile import read_audio, write_wav
from dsp.dtmfgen import generate_dtmf
from dsp.levels import signal_dbm0
from dsp.tonegen import render
from dsp.toneplans import get_plan

LINEBOX = str(Path(sys.executable).with_name("linebox"))
RATE = 8000


def linebox(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LINEBOX, *args], capture_output=True, text=True, timeout=60, check=False)


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_generated_tones_are_found_in_order(tmp_path):
    """gen tone writes each tone; tones prints exactly one JSON object per tone, nothing else."""
    plan = get_plan("es")
    parts = []
    for name, seconds in (("dial", 2.0), ("busy", 2.4), ("congestion", 4.4)):
        out = tmp_path / f"{name}.wav"
        result = linebox("dsp", "gen", "tone", "--zone", "es", name, "--seconds", str(seconds), "-o", str(out))
        assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result
        samples = read_audio(out)
        assert len(samples) == round(seconds * RATE)
        np.testing.assert_array_equal(samples, np.rint(render(plan.tone(name), len(samples))).astype(np.int16))
        parts += [samples, np.zeros(RATE, dtype=np.int16)]
    recording = tmp_path / "call.wav"
    write_wav(recording, np.concatenate(parts))
    result = linebox("dsp", "tones", "--zone", "es", str(recording))
    assert result.returncode == 0 and result.stderr == ""
    found = json_lines(result.stdout)
    assert [set(item) for item in found] == [{"tone", "start_ms", "end_ms"}] * 3
    assert [item["tone"] for item in found] == ["dial", "busy", "congestion"]
    expected_ms = [(0, 2000), (3000, 5200), (6400, 10600)]  # busy/congestion: to their last burst
    for item, (start, end) in zip(found, expected_ms, strict=True):
        assert abs(item["start_ms"] - start) <= 40 and abs(item["end_ms"] - end) <= 40, found


@pytest.mark.parametrize("encoding", ["ulaw", "alaw"])
def test_g711_files_and_fax_tones(tmp_path, encoding):
    out = tmp_path / "ced.wav"
    assert linebox("dsp", "gen", "tone", "--zone", "us", "ced", "--seconds", "4", "--encoding", encoding,
                   "--level-dbm0", "-30", "-o", str(out)).returncode == 0  # fmt: skip
    assert abs(signal_dbm0(read_audio(out)[: 3300 * 8]) + 30.0) < 0.3
    result = linebox("dsp", "tones", "--zone", "us", str(out))
    assert json_lines(result.stdout) == [{"tone": "ced", "start_ms": 0.0, "end_ms": 3300.0}]


def test_raw_input_and_silence(tmp_path):
    raw = tmp_path / "sit.raw"
    samples = np.concatenate([np.zeros(RATE), render(get_plan("uk").sit, 4 * RATE)])
    np.rint(samples).astype("<i2").tofile(raw)
    result = linebox("dsp", "tones", "--zone", "uk", "--raw", str(raw))
    assert [item["tone"] for item in json_lines(result.stdout)] == ["sit"]
    quiet = tmp_path / "quiet.wav"
    write_wav(quiet, np.zeros(3 * RATE))
    result = linebox("dsp", "tones", "--zone", "uk", str(quiet))
    assert result.returncode == 0 and result.stdout == "" and result.stderr == ""


def test_gen_dtmf_writes_the_digits(tmp_path):
    out = tmp_path / "digits.wav"
    result = linebox("dsp", "gen", "dtmf", "159#", "-o", str(out))
    assert result.returncode == 0 and result.stdout == ""
    expected = np.rint(generate_dtmf("159#")).astype(np.int16)  # -10 dBm0 per tone, 50/50 ms
    np.testing.assert_array_equal(read_audio(out), expected)
    assert len(expected) == 4 * 100 * 8
    out2 = tmp_path / "slow.wav"
    assert linebox("dsp", "gen", "dtmf", "7", "--level-dbm0", "-20", "--on-ms", "80", "--off-ms", "120",
                   "-o", str(out2)).returncode == 0  # fmt: skip
    np.testing.assert_array_equal(read_audio(out2), np.rint(generate_dtmf("7", -20.0, 80.0, 120.0)).astype(np.int16))


@pytest.mark.parametrize(
    "args",
    [
        ("dsp", "tones", "--zone", "us", "{missing}"),
        ("dsp", "tones", "--zone", "us", "{garbage}"),
        ("dsp", "tones", "--zone", "zz", "{garbage}"),
        ("dsp", "gen", "tone", "--zone", "zz", "busy", "--seconds", "1", "-o", "{out}"),
        ("dsp", "gen", "tone", "--zone", "us", "busy", "--seconds", "0", "-o", "{out}"),
        ("dsp", "gen", "tone", "--zone", "us", "busy", "--seconds", "1", "--level-dbm0", "3", "-o", "{out}"),
        ("dsp", "gen", "dtmf", "12X", "-o", "{out}"),
        ("dsp", "gen", "dtmf", "1", "--on-ms", "-5", "-o", "{out}"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path, args):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not audio")
    paths = {"missing": tmp_path / "missing.wav", "garbage": garbage, "out": tmp_path / "out.wav"}
    result = linebox(*(a.format(**paths) for a in args))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("linebox: "), result.stderr
    assert not paths["out"].exists()


def test_usage_errors_exit_2():
    assert linebox("dsp", "tones", "--zone", "us").returncode == 2  # FILE missing (argparse)
    assert linebox("dsp", "gen", "tone", "--zone", "us", "howler", "--seconds", "1", "-o", "x").returncode == 2
