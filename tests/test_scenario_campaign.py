"""Scenario tests of outbound campaigns on the virtual board (tests/scenarios/campaign_*.yaml):
a progressive call answered by a person ("hello", Debian's recording) through AMD to the
agent; calling hours and a busy line retried; the 2 s abandon rule and its message; an
answering machine's greeting, with and without its beep, gets the campaign's message."""

from __future__ import annotations

import numpy as np
import pytest
from scenario_helpers import SOUNDS, assert_passed, events, run, scenario_with

from drivers.audiofile import read_audio, write_wav
from linebox.sim.runner import run_scenario


def test_progressive_call_reaches_the_agent():
    report = run("campaign_progressive")
    assert_passed(report)
    (amd,) = events(report, "amd")
    assert amd["result"] == "human" and amd["cause"] == "silence_after_greeting"
    assert len(events(report, "dial")) == 1  # one free agent: one call, the second lead waits


def test_calling_hours_then_busy_retry():
    report = run("campaign_hours_retry")
    assert_passed(report)
    outcomes = [e["outcome"] for e in events(report, "attempt")]
    assert outcomes == ["busy", "human"]
    assert [e["lead"] for e in events(report, "dial")] == [1, 1]


def test_no_agent_within_two_seconds_is_abandoned_with_the_message():
    report = run("campaign_abandon")
    assert_passed(report)
    (answered,) = events(report, "far_end_answered", by="voice")
    (abandoned,) = events(report, "abandoned")
    assert 2000 <= abandoned["ms"] - answered["ms"] <= 2100  # 2 s, to the tick


@pytest.mark.slow  # 25 s simulated; the path is the beep test's but for the 15 s wait
def test_machine_gets_the_message_without_a_beep():
    report = run("campaign_machine")
    assert_passed(report)
    (amd,) = events(report, "amd")
    assert amd["result"] == "machine" and amd["cause"] == "long_greeting"


def test_machine_message_starts_when_the_beep_ends(tmp_path):
    greeting = read_audio(SOUNDS / "vm-intro.wav")
    beep = read_audio(SOUNDS / "beep.wav")
    path = tmp_path / "machine.wav"
    silence = np.zeros(2400, dtype=np.int16)  # 0.3 s between the greeting and its beep
    write_wav(path, np.concatenate([greeting, silence, beep, np.zeros(8000 * 4, dtype=np.int16)]))

    def with_beep(data):
        data["steps"][0]["outgoing"]["file"] = str(path)
        data["steps"] = [step for step in data["steps"] if "expect_speech" not in step]  # timing checked below

    report = run_scenario(scenario_with("campaign_machine", with_beep))
    assert_passed(report)
    (answered,) = [e for e in report.data["log"] if e["event"] == "outside_dialled"]
    (message,) = events(report, "call_end", cause="campaign_message_left")
    # the greeting and beep end about 3 s (answer) + 6.1 s after dialling; the message (about 1 s)
    # starts then, well before the 15 s without a beep
    beep_end_ms = answered["ms"] + 3000 + (len(greeting) + len(silence) + len(beep)) / 8
    assert beep_end_ms - 200 <= message["ms"] - 1000 <= beep_end_ms + 1500


def test_predictive_campaign_call_reaches_the_agent():
    """The same call in predictive mode: until 20 outcomes and 5 handle times are measured the
    pacing dials one call per free agent (pacing.py), so the person reaches Alice the same way."""
    def predictive(data):
        campaign = data["config"]["campaigns"][0]
        campaign["mode"] = "predictive"
        campaign["abandon_message"] = "all-circuits-busy-now"

    report = run_scenario(scenario_with("campaign_progressive", predictive))
    assert_passed(report)
    assert len(events(report, "dial", component="campaign")) == 1 and not events(report, "abandoned")
