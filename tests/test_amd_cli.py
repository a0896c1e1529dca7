"""``linebox dsp amd`` and ``linebox bench amd`` through the installed command."""

from __future__ import annotations

import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from drivers.audiofile import read_audio, write_wav
from dsp.levels import dbm0_to_peak

LINEBOX = str(Path(sys.executable).with_name("linebox"))
PROMPTS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")


def _linebox(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([LINEBOX, *args], capture_output=True, text=True, timeout=120)


def _greeting() -> np.ndarray:
    return read_audio(PROMPTS / "vm-intro.wav").astype(np.float64)


def _machine_call(tmp_path: Path) -> Path:
    """vm-intro (5.6 s) after a 500 ms pick-up pause, then a 1 kHz beep of 400 ms."""
    greeting = _greeting()
    t = np.arange(3200) / 8000.0
    beep = dbm0_to_peak(-12.0) * np.sin(2 * np.pi * 1000.0 * t)
    signal = np.concatenate([np.zeros(4000), greeting, np.zeros(2400), beep, np.zeros(8000)])
    path = tmp_path / "machine.wav"
    write_wav(path, np.round(signal).astype(np.int16), encoding="ulaw")
    return path


def test_machine_greeting_and_beep_as_json(tmp_path):
    path = _machine_call(tmp_path)
    result = _linebox("dsp", "amd", "--json", str(path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"result", "cause", "decided_ms", "beep_ms"}
    assert report["result"] == "machine" and report["cause"] == "long_greeting"
    assert 500 + 1500 <= report["decided_ms"] <= 500 + 2500
    beep_end_ms = (4000 + _greeting().size + 2400 + 3200) / 8.0
    assert report["beep_ms"] is not None and abs(report["beep_ms"] - beep_end_ms) <= 40


def test_person_at_16_khz_is_resampled_and_human(tmp_path):
    hello = read_audio(PROMPTS / "hello.wav").astype(np.float64)
    at_16k = np.repeat(np.concatenate([np.zeros(3200), hello, np.zeros(16000)]), 2)  # crude 2x: fine for AMD
    path = tmp_path / "hello16k.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.round(at_16k).astype("<i2").tobytes())
    result = _linebox("dsp", "amd", str(path))
    assert result.returncode == 0, result.stderr
    words = dict(item.split("=") for item in result.stdout.split())
    assert (
        words["result"] == "human"
        and words["cause"] == "silence_after_greeting"
        and words["beep_ms"] == "none"
    )


def test_raw_silence_is_machine_by_initial_silence(tmp_path):
    path = tmp_path / "silence.raw"
    path.write_bytes(np.zeros(8000, dtype="<i2").tobytes())
    result = _linebox("dsp", "amd", "--raw", "--json", str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "result": "machine",
        "cause": "initial_silence",
        "decided_ms": 2500,
        "beep_ms": None,
    }


def test_parameters_change_the_decision(tmp_path):
    path = _machine_call(tmp_path)
    result = _linebox(
        "dsp", "amd", "--json", "--greeting-ms", "20000", "--maximum-number-of-words", "100", str(path)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cause"] == "max_time"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dsp", "amd", "/nonexistent/call.wav"], "cannot read"),
        (["dsp", "amd", "--greeting-ms", "0", "FILE"], "greeting_ms must be within"),
        (["dsp", "amd", "FILE_NOT_WAV"], "call.txt"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path, args, message):
    wav = _machine_call(tmp_path)
    text = tmp_path / "call.txt"
    text.write_text("not a recording\n")
    args = [str(wav) if a == "FILE" else str(text) if a == "FILE_NOT_WAV" else a for a in args]
    result = _linebox(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bench_amd_json():
    result = _linebox("bench", "amd", "--json", "--calls", "4", "--seconds", "2", "--repeat", "1")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["benchmark"] == "amd" and report["frames"] == 4 * 100
    for detector in ("energy", "webrtc"):
        assert report["frame_us"][detector] > 0 and report["channels_per_core"][detector] > 0
        assert sum(report["results"][detector].values()) == 4
