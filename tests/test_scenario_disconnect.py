"""Scenario tests of disconnect supervision: each signal the far end may use (polarity
reversal, loop-current drop, busy tone, silence), and the far end gone without any signal,
which only the silence timeout ends."""

from __future__ import annotations

import pytest
from scenario_helpers import assert_passed, calls, events, port, run, scenario_with, states, tones

from linebox.sim.runner import run_scenario


@pytest.mark.parametrize("method, detect_ms", [
    ("polarity_reversal", 100),  # the card reports the reversal in the tick it happens
    ("loop_current_drop", 400),  # a drop must last cpc_min_ms before it counts
    ("busy_tone", 2200),  # recognised after 1.5 cycles of 0.5 s on / 0.5 s off
])
def test_each_disconnect_signal_releases_the_line(method, detect_ms):
    report = run(f"disconnect_{method}")
    assert_passed(report)
    hangup = next(s for s in report.data["steps"] if s["kind"] == "far_end_hangup")
    (seen,) = events(report, "far_end_disconnect")
    assert seen["method"] == method and seen["line"] == 0
    assert 0 <= seen["ms"] - hangup["at_ms"] <= detect_ms
    assert states(report, 0) == ["idle", "incoming", "ringback", "connected", "idle"]
    assert "busy" in tones(report, 2)  # 201 is told the other side has gone
    assert not port(report, 0)["exchange_seized"]
    (record,) = calls(report)
    assert (record["hangup_by"], record["hangup_cause"], record["disposition"]) == ("caller", method, "ANSWERED")


def test_silence_timeout_ends_a_call_when_nothing_else_does():
    report = run("disconnect_silence_timeout")
    assert_passed(report)
    spoke = next(s for s in report.data["steps"] if s["kind"] == "expect_speech")
    silent_from = spoke["at_ms"] + spoke["waited_ms"]  # the far end's words have been heard by then
    (seen,) = events(report, "far_end_disconnect")
    assert seen["method"] == "silence_timeout"
    # 10 s of silence after the last word (the recording ends well before silent_from).
    assert 10_000 - 1500 <= seen["ms"] - silent_from <= 10_000 + 200
    (record,) = calls(report)
    assert record["hangup_cause"] == "silence_timeout"


@pytest.fixture(scope="module")
def gone():
    return run("far_end_gone")


def test_far_end_gone_silently_the_call_still_ends(gone):
    assert_passed(gone)
    injected = next(s for s in gone.data["steps"] if s["kind"] == "inject")
    (seen,) = events(gone, "far_end_disconnect")
    assert seen["method"] == "silence_timeout"
    # silence_timeout_s 15, counted from the far end's last word (said before the fault).
    assert 13_000 <= seen["ms"] - injected["at_ms"] <= 15_200
    assert not gone.data["ports"][0]["exchange_seized"]
    (record,) = calls(gone)
    assert (record["hangup_cause"], record["caller_number"]) == ("silence_timeout", "")


def test_without_silence_timeout_a_silent_far_end_keeps_the_line_forever(gone):
    """The complaint the silence timeout answers: the same fault on a line trusting only
    signals leaves the call up (the scenario must fail at the expectation that it ends)."""
    def signals_only(data):
        data["config"]["lines"][0]["disconnect"] = ["polarity_reversal", "loop_current_drop", "busy_tone"]

    report = run_scenario(scenario_with("far_end_gone", signals_only))
    assert not report.passed
    assert report.failure["kind"] == "expect_state"
    assert "port 0 is connected, not idle" in report.failure["reason"]
    assert report.data["ports"][0]["exchange_seized"]  # the line is still held
    assert report.data["end"]["calls_open"]
