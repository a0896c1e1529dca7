"""Expectations of the scenario format on short scenarios run against the whole appliance:
the speech step's times and the text summary of a failure, a tone that ended with the
action, far-end DTMF, negatives over an interval, every component's log."""

from __future__ import annotations

from pathlib import Path

import yaml
from scenario_helpers import SCENARIOS, SOUNDS, assert_passed, step_data

from linebox.commands.sim import summary_lines
from linebox.sim.runner import run_scenario
from linebox.sim.scenario import parse_scenario

HELLO = str(SOUNDS / "hello.wav")
START = "start: 2026-11-25T10:00:00-05:00\n"  # a Wednesday, business hours in New York


def run_text(text: str):
    return run_scenario(parse_scenario(yaml.safe_load(text), Path(SCENARIOS)))


INTERNAL_ANSWERED = START + """
steps:
- offhook: 2
- expect_state: {port: 2, state: dialtone, timeout_ms: 1000}
- dial: {port: 2, digits: '202'}
- expect_tone: {port: 2, tone: ringback, timeout_ms: 8000}
- offhook: 3
- expect_bridge: {ports: [2, 3], timeout_ms: 1000}
"""


def test_a_failed_speech_step_is_summarised_as_a_failure():
    report = run_text(START + f"""
steps:
- offhook: 2
- expect_speech: {{port: 2, file: {HELLO}, timeout_ms: 300}}
""")
    assert not report.passed
    speech = step_data(report, 1)
    assert speech["result"] == "failed" and speech["match_ms"] is None
    assert speech["at_ms"] == step_data(report, 0)["at_ms"]  # when the step started, not a match time
    lines = summary_lines(report)
    assert lines[-1].startswith("FAIL at step 1: steps[1] expect_speech: not within 300 ms: port 2 did not hear")
    assert lines[2].split()[0] == f"{speech['at_ms'] / 1000:.2f}"


def test_a_passing_speech_step_prints_when_it_started():
    report = run_text(INTERNAL_ANSWERED + f"""
- play: {{port: 3, file: {HELLO}}}
- wait: 500
- expect_speech: {{port: 2, file: {HELLO}, timeout_ms: 3000}}
""")
    assert_passed(report)
    played, waited, speech = (step_data(report, i) for i in (6, 7, 8))
    assert speech["at_ms"] == waited["at_ms"] + 500  # the step began after the wait
    assert played["at_ms"] <= speech["match_ms"] < speech["at_ms"]  # heard before the step began
    line = next(text for text in summary_lines(report) if "[  8] expect_speech" in text)
    assert line.split()[0] == f"{speech['at_ms'] / 1000:.2f}"


def test_a_ringback_that_ended_with_the_answer_is_not_heard_after_it():
    # US ringback is 2 s on, 4 s off: 3 s after the answer its cadence still looks on.
    report = run_text(INTERNAL_ANSWERED + "- expect_tone: {port: 2, tone: ringback, timeout_ms: 3000}\n")
    assert not report.passed
    assert report.failure["step"] == 6
    assert "port 2 did not hear ringback" in report.failure["reason"]


def test_a_tone_still_on_after_an_unrelated_action_is_heard():
    report = run_text(START + """
steps:
- offhook: 2
- expect_tone: {port: 2, tone: dial, timeout_ms: 2000}
- offhook: 3
- expect_tone: {port: 2, tone: dial, timeout_ms: 1000}
""")
    assert_passed(report)
    assert "still sounding" in step_data(report, 3)["detail"]
