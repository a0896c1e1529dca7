"""``linebox dsp dtmf`` and ``linebox bench dtmf`` through the installed command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drivers.audiofile import write_wav
from dsp.dtmfgen import generate_dtmf

LINEBOX = str(Path(sys.executable).with_name("linebox"))


def _linebox(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LINEBOX, *args], capture_output=True, text=True, timeout=120)


def _keyed(digits: str) -> np.ndarray:
    x = np.concatenate([np.zeros(800), generate_dtmf(digits, -12.0, 60.0, 70.0), np.zeros(400)])
    return np.round(x).astype(np.int16)


@pytest.mark.parametrize("encoding", ["pcm16", "ulaw", "alaw"])
def test_wav_file_gives_one_json_object_per_digit(tmp_path, encoding):
    path = tmp_path / f"digits-{encoding}.wav"
    write_wav(path, _keyed("159*0#AD"), encoding=encoding)
    result = _linebox("dsp", "dtmf", str(path))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert "".join(row["digit"] for row in rows) == "159*0#AD"
    for k, row in enumerate(rows):
        assert set(row) == {"digit", "start_ms", "end_ms"}
        assert row["start_ms"] == pytest.approx(100.0 + 130.0 * k, abs=4.0)
        assert row["end_ms"] == pytest.approx(160.0 + 130.0 * k, abs=4.0)


def test_raw_file(tmp_path):
    path = tmp_path / "digits.raw"
    path.write_bytes(_keyed("42").astype("<i2").tobytes())
    result = _linebox("dsp", "dtmf", "--raw", str(path))
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["digit"] for line in result.stdout.splitlines()] == ["4", "2"]


def test_no_digit_is_empty_output(tmp_path):
    path = tmp_path / "silence.wav"
    write_wav(path, np.zeros(8000, dtype=np.int16))
    result = _linebox("dsp", "dtmf", str(path))
    assert (result.returncode, result.stdout) == (0, "")


@pytest.mark.parametrize(
    "content, raw",
    [
        (None, False),
        (b"RIFF\x00\x00\x00\x00WAVEjunk", False),
        (b"\x01\x02\x03", True),
        (b"not audio at all", False),
    ],
)
def test_unreadable_input_is_one_line_on_stderr_and_status_2(tmp_path, content, raw):
    path = tmp_path / "bad.wav"
    if content is not None:
        path.write_bytes(content)
    result = _linebox("dsp", "dtmf", *(["--raw"] if raw else []), str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and str(path) in result.stderr


def test_bench_prints_one_json_object():
    result = _linebox("bench", "dtmf", "--channels", "8", "--seconds", "0.5", "--json")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    report = json.loads(line)
    assert set(report) == {
        "detector",
        "channels",
        "audio_seconds",
        "cpu_seconds",
        "cpu_us_per_tick",
        "realtime_channels_per_core",
        "digits",
        "spandsp_cpu_seconds",
        "spandsp_cpu_us_per_tick",
        "spandsp_digits",
        "spandsp_realtime_channels_per_core",
        "vs_spandsp",
    }
    assert report["detector"] == "dtmf" and report["channels"] == 8 and report["audio_seconds"] == 0.5
    assert report["cpu_seconds"] > 0 and report["realtime_channels_per_core"] > 0
    assert report["spandsp_cpu_seconds"] > 0 and report["vs_spandsp"] > 0
    # 25 ticks of 20 ms: the cost per tick is the CPU time over them.
    assert report["cpu_us_per_tick"] == pytest.approx(
        report["cpu_seconds"] / 25 * 1e6, rel=0.01, abs=2.5
    )  # cpu_seconds is rounded to 0.1 ms


def test_bench_refuses_a_repeat_below_one():
    result = _linebox("bench", "dtmf", "--channels", "8", "--seconds", "0.5", "--repeat", "0")
    assert result.returncode != 0
    assert "--repeat" in result.stderr and result.stdout == ""


def test_bench_reference_hears_the_same_digits():
    """Both receivers do the work on the same audio: their digit counts agree within 15 %."""
    result = _linebox("bench", "dtmf", "--channels", "16", "--seconds", "10", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["spandsp_digits"] > 20
    assert abs(report["digits"] - report["spandsp_digits"]) <= 0.15 * report["spandsp_digits"]
