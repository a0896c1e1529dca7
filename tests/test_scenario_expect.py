"""Expectations of the scenario format on short scenarios run against the whole appliance:
the speech step's times and the text summary of a failure, a tone that ended with the
action, far-end DTMF, negatives over an interval, every component's log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml
from scenario_helpers import (
    SCENARIOS,
    SOUNDS,
    assert_passed,
    calls,
    events,
    port,
    run,
    scenario_with,
    states,
    step_data,
    tones,
)

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


def test_a_negative_fails_at_the_first_tick_its_thing_happens():
    report = run_text(START + """
steps:
- offhook: 2
- expect_state: {port: 2, state: dialtone, timeout_ms: 1000}
- dial: {port: 2, digits: '202'}
- expect_not_state: {port: 3, state: ringing, for_ms: 5000}
""")
    assert not report.passed
    step = step_data(report, 3)
    assert step["result"] == "failed" and step["waited_ms"] < 1000  # not at the end of the interval
    assert report.failure["reason"].startswith("steps[3] expect_not_state: within 5000 ms: port 3 ringing (at ")


def test_far_end_dtmf_reaches_a_phone_bridged_to_the_line():
    report = run_text(START + """
steps:
- ring: {port: 0, caller_id: {number: '2125559876'}}
- expect_state: {port: 3, state: ringing, timeout_ms: 8000}
- offhook: 3
- expect_bridge: {ports: [0, 3], timeout_ms: 1000}
- dial: {port: 0, digits: '12#'}
- expect_digits: {port: 3, digits: '12#', timeout_ms: 2000}
- dial: {port: 1, digits: '5'}
""")
    assert not report.passed  # the last dial: there is no call on line 1, nobody to press keys
    assert report.failure == {"step": 6, "kind": "dial",
                              "reason": "steps[6] dial: line 1 has no far-end party to dial (no call on it)"}
    assert step_data(report, 5)["result"] == "passed"


def test_the_clock_moves_only_forward_and_only_between_calls():
    report = run_text("start: 2026-11-25T10:00:00-05:00\nsteps:\n- set_clock: 2026-11-25T09:00:00-05:00\n")
    assert report.failure["reason"].startswith("steps[0] set_clock: the clock only moves forward: it is 2026-11-25T10:00:00")
    report = run_text(START + """
steps:
- set_clock: {forward_s: 3600}
- offhook: 2
- expect_state: {port: 2, state: dialtone, timeout_ms: 1000}
- dial: {port: 2, digits: '202'}
- expect_state: {port: 3, state: ringing, timeout_ms: 2000}
- set_clock: {forward_s: 60}
""")
    assert report.failure == {"step": 5, "kind": "set_clock",
                              "reason": "steps[5] set_clock: the clock moves only while no call is up (1 up)"}
    ((moved),) = report.data["clock"]
    assert moved["from"].startswith("2026-11-25T10:00:00.") and moved["to"].startswith("2026-11-25T11:00:00.")


def test_the_console_log_level_holds_during_a_run_and_is_given_back(tmp_path):
    import io
    import logging

    from drivers.logs import ROOT_LOGGER, configure_logging

    stream = io.StringIO()
    handler = configure_logging(stream, logging.WARNING, {"switch": logging.ERROR})
    root = logging.getLogger(ROOT_LOGGER)
    report = run_text(START + "steps:\n- offhook: 2\n- expect_log: {event: offhook, component: switch, timeout_ms: 500}\n")
    assert_passed(report)
    assert " INFO " not in stream.getvalue()  # captured for the report, not shown on the console
    assert root.handlers == [handler] and root.level == logging.WARNING and not root.propagate
    assert logging.getLogger(f"{ROOT_LOGGER}.switch").level == logging.ERROR


# --------------------------------------------------------------------------- the examples


@pytest.fixture(scope="module")
def paused_agent():
    return run("acd_paused_agent")


@pytest.mark.slow  # the scenario (about 35 s simulated, with a 20 s negative): about 12 s of CPU
def test_a_paused_agent_is_never_rung(paused_agent):
    assert_passed(paused_agent)
    assert "ringing" not in states(paused_agent, 5)
    assert states(paused_agent, 4).count("ringing") == 2  # Alice: the missed offer, then the answered one
    assert [e["agent"] for e in events(paused_agent, "offer_ringing")] == ["1001", "1001"]


@pytest.mark.slow  # the scenario (about 35 s simulated, with a 20 s negative): about 12 s of CPU
def test_the_queue_log_lines_of_the_paused_agent_scenario(paused_agent):
    lines = [(q["agent"], q["event"], q["data"]) for q in paused_agent.data["queue_log"]]
    assert lines[:4] == [("1001", "ADDMEMBER", [""]), ("1002", "ADDMEMBER", [""]), ("1002", "PAUSE", [""]),
                         ("NONE", "ENTERQUEUE", ["", "2125559876", "1"])]
    assert [(agent, event) for agent, event, _ in lines[4:]] == [("1001", "RINGNOANSWER"), ("1001", "CONNECT"),
                                                                  ("1001", "COMPLETECALLER")]
    enter, connect = paused_agent.data["queue_log"][3], paused_agent.data["queue_log"][5]
    assert connect["callid"] == enter["callid"] == calls(paused_agent)[0]["uniqueid"]
    assert connect["fields"]["holdtime"] == str(round((connect["ms"] - enter["ms"]) / 1000))


def test_a_holiday_then_a_weekday_in_one_scenario():
    report = run("holiday_then_weekday")
    assert_passed(report)
    (moved,) = report.data["clock"]
    assert moved["to"] == "2026-12-28T10:00:00-05:00"
    holiday, monday = events(report, "route")
    assert "is a holiday (Christmas Day)" in holiday["why"] and holiday["destination"] == "extension 201"
    assert "Mon 2026-12-28 10:00" in monday["why"] and monday["destination"] == "ring_group office"
    first, second = calls(report)
    eastern = dt.timezone(dt.timedelta(hours=-5))
    friday, monday_10 = dt.datetime(2026, 12, 25, 10, tzinfo=eastern), dt.datetime(2026, 12, 28, 10, tzinfo=eastern)
    # Each call starts when the box has seen its first ring (a 2 s burst) after 10:00 that day.
    assert 0 < first["start"] - friday.timestamp() < 5 and 0 < second["start"] - monday_10.timestamp() < 5


def test_voicemail_lights_the_lamp_and_stutters_the_dial_tone():
    report = run("voicemail_mwi")
    assert_passed(report)
    lamp_on, lamp_off = port(report, 2)["mwi"]
    saved = next(e for e in report.data["log"] if e["event"] == "vm_saved")
    assert lamp_on["lamp"] == "on" and 0 < lamp_on["ms"] - saved["ms"] <= 1000  # on hook, soon after the message
    hung_up = next(s["at_ms"] for s in report.data["steps"] if s["kind"] == "hangup")
    assert lamp_off["lamp"] == "off" and lamp_off["ms"] > hung_up  # sent once the phone is on hook again
    assert port(report, 3)["mwi"] == []
    stutter = next(t for t in port(report, 2)["tones_heard"] if t["tone"] == "stutter")
    assert 1800 <= stutter["end_ms"] - stutter["start_ms"] <= 2000  # ten 100/100 ms bursts (GR-506-CORE)
    assert tones(report, 3) == ["dial"]
    assert port(report, 2)["caller_ids"] == []  # the MWI message is not taken for a caller ID


def test_a_transfer_record_names_the_call_it_continues():
    report = run("attended_transfer")
    assert_passed(report)
    held, consultation, transferred = calls(report)
    assert (held["hangup_cause"], consultation["hangup_cause"]) == ("attended_transfer", "attended_transfer")
    assert transferred["userfield"] == f"transfer {held['uniqueid']}"
    assert (transferred["channel"], transferred["dstchannel"]) == ("FXS/3", "FXS/4")


def test_the_acd_follows_the_clock_forward():
    def next_day(data):
        data["steps"] = yaml.safe_load("""
- offhook: 4
- expect_state: {port: 4, state: dialtone, timeout_ms: 1000}
- dial: {port: 4, digits: '*45'}
- wait: 1500
- dial: {port: 4, digits: '1001#'}
- expect_queue_log: {event: ADDMEMBER, agent: '1001', timeout_ms: 3000}
- hangup: 4
- wait: 1000
- set_clock: {forward_s: 86400}
- ring: {port: 0}
- expect_queue_log: {event: ENTERQUEUE, queue: support, timeout_ms: 8000}
""")
    report = run_scenario(scenario_with("acd_paused_agent", next_day))
    assert_passed(report)
    added, entered = report.data["queue_log"]
    elapsed_s = (entered["ms"] - added["ms"]) / 1000
    assert entered["time"] - added["time"] == pytest.approx(86400 + elapsed_s, abs=1.0)
