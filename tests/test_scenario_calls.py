"""Scenario tests of the call engine: internal calls, busy, wrong number, no answer,
outbound calls and the toll guard (tests/scenarios/*.yaml through linebox.sim)."""

from __future__ import annotations

import pytest
from scenario_helpers import (
    assert_passed,
    calls,
    events,
    port,
    run,
    scenario_with,
    states,
    step_data,
    tones,
    without_timing,
)

from linebox.sim.runner import run_scenario


@pytest.fixture(scope="module")
def internal():
    return run("internal_call")


def test_internal_call_passes_its_own_expectations(internal):
    assert_passed(internal)
    assert internal.data["end"]["idle"]


def test_internal_call_states_and_tones_measured_from_the_audio(internal):
    assert states(internal, 2) == ["idle", "dialtone", "dialing", "ringback", "connected", "idle"]
    assert states(internal, 3) == ["idle", "ringing", "connected", "failed", "idle"]
    assert states(internal, 4) == ["idle"] and states(internal, 5) == ["idle"]  # nobody else rang
    assert tones(internal, 2) == ["dial", "ringback"]
    assert tones(internal, 3) == ["busy"]  # the other side hung up
    assert tones(internal, 4) == [] and tones(internal, 5) == []


def test_internal_call_shows_the_callers_id_on_the_rung_phone(internal):
    (shown,) = port(internal, 3)["caller_ids"]
    assert shown["checksum_ok"] and shown["standard"] == "bell202"
    assert (shown["number"], shown["name"]) == ("201", "Reception")
    assert shown["datetime"] == "11251000"  # Bell 202 date and time: the scenario's local 10:00
    ringing = next(s["ms"] for s in port(internal, 3)["states"] if s["state"] == "ringing")
    assert 2000 + 500 <= shown["ms"] - ringing <= 2000 + 1500  # in the first silent interval (GR-30-CORE)


def test_internal_call_passes_speech_both_ways(internal):
    to_callee, to_caller = step_data(internal, 11), step_data(internal, 13)
    for played, heard in ((step_data(internal, 10), to_callee), (step_data(internal, 12), to_caller)):
        assert heard["kind"] == "expect_speech" and heard["result"] == "passed"
        assert heard["correlation"] >= 0.99
        assert heard["at_ms"] == played["at_ms"]  # the step started right after the play, at the same tick
        assert 0 <= heard["match_ms"] - played["at_ms"] <= 60  # through the box within three ticks


def test_internal_call_record(internal):
    (record,) = calls(internal)
    (bridge,) = internal.data["bridges"]
    assert bridge["ports"] == [2, 3]
    assert record["context"] == "internal" and record["disposition"] == "ANSWERED"
    assert (record["src_extension"], record["dst_extension"], record["caller_name"]) == ("201", "202", "Reception")
    assert record["hangup_by"] == "caller" and record["hangup_cause"] == "normal_clearing"
    talked_s = (bridge["end_ms"] - bridge["start_ms"]) / 1000.0
    assert record["end"] - record["answer"] == pytest.approx(talked_s, abs=0.05)
    assert record["billsec"] == int(talked_s + 0.5)


def test_a_failed_expectation_stops_the_scenario_and_says_why():
    # Nobody answers 202 here, so the bridge the scenario expects never comes.
    unanswered = scenario_with("internal_call", lambda data: data["steps"].remove({"offhook": 3}))
    report = run_scenario(unanswered)
    assert not report.passed
    failure = report.failure
    assert failure["step"] == 7 and failure["kind"] == "expect_bridge"
    assert failure["reason"] == ("steps[7] expect_bridge: not within 1000 ms: ports 2 and 3 are not bridged "
                                 "(bridged now: none)")
    results = [step["result"] for step in report.data["steps"]]
    assert results[:7] == ["done", "passed", "done", "passed", "passed", "passed", "passed"]
    assert results[7] == "failed" and set(results[8:]) == {"not_run"}


def test_calling_a_busy_extension():
    report = run("busy_extension")
    assert_passed(report)
    assert states(report, 3) == ["idle", "dialtone", "idle"]  # 202 was never rung
    assert "busy" in tones(report, 2)
    (record,) = calls(report)
    assert (record["disposition"], record["hangup_cause"], record["dst"]) == ("BUSY", "user_busy", "202")
    assert record["answer"] is None and record["billsec"] == 0


def test_a_wrong_number_gets_congestion():
    report = run("wrong_number")
    assert_passed(report)
    assert tones(report, 4) == ["congestion"]
    assert all(states(report, p) == ["idle"] for p in (2, 3, 5))
    (record,) = calls(report)
    assert (record["disposition"], record["hangup_cause"], record["dst"]) == ("FAILED", "no_such_number", "299")


@pytest.mark.slow  # a minute of ringing simulated: about 20 s of CPU
def test_an_unanswered_call_gives_up_after_the_no_answer_time():
    report = run("no_answer")
    assert_passed(report)
    ringing = [s for s in port(report, 3)["states"] if s["state"] in ("ringing", "idle")]
    start = next(s["ms"] for s in ringing if s["state"] == "ringing")
    stop = next(s["ms"] for s in ringing if s["state"] == "idle" and s["ms"] > start)
    assert stop - start == pytest.approx(60_000, abs=40)  # RING_NO_ANSWER_S, to the tick
    (record,) = calls(report)
    assert (record["disposition"], record["hangup_by"], record["hangup_cause"]) == ("NO ANSWER", "system", "no_answer")
    assert record["end"] - record["start"] == pytest.approx(60.0, abs=0.05)


@pytest.fixture(scope="module")
def outbound():
    return run("outbound_call")


def test_outbound_call_dials_exactly_the_number_at_the_exchange(outbound):
    assert_passed(outbound)
    assert "".join(d["digit"] for d in port(outbound, 0)["exchange_digits"]) == "5551234"
    assert port(outbound, 1)["exchange_digits"] == []  # the first free line was used, only it
    # The box waited for the exchange's dial tone before dialling.
    seized_at = next(e["ms"] for e in events(outbound, "seize"))
    first_digit = port(outbound, 0)["exchange_digits"][0]["ms"]
    assert first_digit - seized_at >= 700  # dial tone recognised (about a second) before the first digit
    assert states(outbound, 0) == ["idle", "seizing", "dialing_out", "connected", "idle"]


def test_outbound_call_record_and_speech(outbound):
    assert step_data(outbound, 10)["correlation"] >= 0.99  # far end -> phone
    assert step_data(outbound, 12)["correlation"] >= 0.99  # phone -> far end
    (record,) = calls(outbound)
    assert (record["context"], record["disposition"], record["dst"]) == ("outbound", "ANSWERED", "5551234")
    assert (record["src_extension"], record["dst_port"], record["hangup_by"]) == ("203", 0, "caller")
    assert outbound.data["ports"][0]["exchange_state"] == "idle" and not outbound.data["ports"][0]["exchange_seized"]


def test_toll_guard_refuses_international_and_always_allows_emergency():
    report = run("toll_guard")
    assert_passed(report)
    refused, allowed = events(report, "toll_guard")
    assert refused["allowed"] is False and "international" in refused["reason"] and "local" in refused["reason"]
    assert allowed["allowed"] is True and "emergency" in allowed["reason"]
    # Nothing of the refused number reached any line; the emergency number did, on line 0.
    assert "".join(d["digit"] for d in port(report, 0)["exchange_digits"]) == "911"
    assert port(report, 1)["exchange_digits"] == []
    failed, emergency = calls(report)
    assert (failed["disposition"], failed["hangup_cause"], failed["dst"]) == ("FAILED", "call_rejected",
                                                                             "011441234567890")
    assert failed["dst_port"] is None
    assert (emergency["dst"], emergency["dst_port"]) == ("911", 0)


def test_same_seed_same_report():
    first, second = run("wrong_number"), run("wrong_number")
    assert without_timing(first) == without_timing(second)


def test_outbound_call_on_a_pulse_line_is_counted_right_by_the_exchange():
    report = run("outbound_pulse")
    assert_passed(report)
    digits = port(report, 0)["exchange_digits"]
    assert "".join(d["digit"] for d in digits) == "5551234"
    assert port(report, 0)["digits_heard"] == []  # pulses, not a single DTMF tone on the line
    # 10 pulses per second: 25 pulses and 6 pauses between digits take several seconds.
    assert digits[-1]["ms"] - digits[0]["ms"] >= 2500 + 6 * 300
    (record,) = calls(report)
    assert (record["dst"], record["dst_port"]) == ("5551234", 0)


def test_a_line_just_released_is_not_seized_again_at_once():
    report = run("line_guard")
    assert_passed(report)
    assert "".join(d["digit"] for d in port(report, 0)["exchange_digits"]) == "5551234"
    assert "".join(d["digit"] for d in port(report, 1)["exchange_digits"]) == "5551234"
    assert events(report, "no_dial_tone") == []  # each seizure got its dial tone
    first, second = calls(report)
    assert (first["dst_port"], second["dst_port"]) == (0, 1)
