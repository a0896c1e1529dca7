"""Scenario tests of outbound campaigns on the virtual board (tests/scenarios/campaign_*.yaml):
a progressive call answered by a person ("hello", Debian's recording) through AMD to the
agent; calling hours and a busy line retried; the 2 s abandon rule and its message."""

from __future__ import annotations

from scenario_helpers import assert_passed, events, run


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
