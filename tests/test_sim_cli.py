"""``linebox sim run`` through the command line, as an installer runs it (subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "tests" / "scenarios"


def linebox(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "linebox", "sim", "run", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_a_passing_scenario_exits_0_and_writes_its_report(tmp_path):
    report_file = tmp_path / "report.json"
    done = linebox(str(SCENARIOS / "wrong_number.yaml"), "--seed", "9", "--report", str(report_file))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "scenario wrong number (seed 9, zone us, start 2026-11-25T10:00:00-05:00)"
    assert lines[-1].startswith("PASS (")
    assert "expect_tone      passed after" in done.stdout
    report = json.loads(report_file.read_text())
    assert report["passed"] and report["seed"] == 9 and len(report["calls"]) == 1


def test_a_failing_expectation_exits_1_naming_the_step_and_why(tmp_path):
    path = tmp_path / "wrong_tone.yaml"
    path.write_text("""
start: 2026-11-25T10:00:00-05:00
steps:
- offhook: 2
- expect_tone: {port: 2, tone: busy, timeout_ms: 1500}
- hangup: 2
""")
    done = linebox(str(path), "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert not report["passed"]
    assert report["failure"]["step"] == 1 and report["failure"]["kind"] == "expect_tone"
    assert report["failure"]["reason"].startswith("steps[1] expect_tone: not within 1500 ms: port 2 did not hear busy "
                                                  "(tones recognised in its audio since 0.12 s: dial ")
    assert report["steps"][2]["result"] == "not_run"


def test_a_bad_scenario_file_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("start: 2026-11-25T10:00:00Z\nsteps:\n- offhook: 0\n")
    done = linebox(str(path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (f"linebox: {path}: steps[0].offhook.port: port 0 is an exchange line (fxo), "
                           f"this step needs a phone (fxs)\n")


def test_a_bad_configuration_in_a_scenario_exits_2_with_every_problem_one_a_line(tmp_path):
    path = tmp_path / "bad_config.yaml"
    path.write_text("start: 2026-11-25T10:00:00Z\nconfig:\n  board: virtual\n  zone: us\n  colour: red\n"
                    "  lines: [{port: 0, name: L, silence_timeout_s: -5}]\n  extensions: [{number: '201', port: 0}]\n"
                    "steps: [offhook: 2]\n")
    done = linebox(str(path))
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert sorted(line.split(": ")[2] for line in lines) == ["config.colour", "config.extensions[0].port",
                                                             "config.lines[0].silence_timeout_s"], done.stderr
    assert all(line.startswith(f"linebox: {path}: config.") for line in lines), done.stderr
