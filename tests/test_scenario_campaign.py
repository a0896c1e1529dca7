"""Scenario tests of outbound campaigns on the virtual board (tests/scenarios/campaign_*.yaml):
a progressive call answered by a person ("hello", Debian's recording) through AMD to the
agent; calling hours and a busy line retried; the 2 s abandon rule and its message; an
answering machine's greeting, with and without its beep, gets the campaign's message; a
preview skipped then accepted; do-not-call filtering and a do-not-call disposition by DTMF,
for a campaign call and for an inbound call with no campaign running; predictive dialling
ahead of the agents over a 60-lead list within the 3 % abandon limit."""

from __future__ import annotations

import numpy as np
import pytest
from scenario_helpers import SOUNDS, assert_passed, events, port, run, scenario_with

from drivers.audiofile import read_audio, write_wav
from linebox.sim import ScenarioError
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


@pytest.mark.slow  # about 6 simulated minutes of two lines and two agents (2-3 min of wall time)
def test_predictive_dials_ahead_of_the_agents_within_the_abandon_limit():
    """60 leads, far ends answering half the time (seeded), two agents: the pacing dials one
    call per free agent until it has measured 20 outcomes, then places calls while its agents
    are still busy; the abandon rate over the run stays at or under 3 % (16 CFR
    310.4(b)(4)(i)) and every abandoned call got the message before the box hung up."""
    report = run("campaign_predictive")
    assert_passed(report)
    dials = events(report, "dial", component="campaign")
    attempts = events(report, "attempt", component="campaign")
    assert sorted(a["lead"] for a in attempts) == list(range(1, 61))  # the whole list, each once
    over = [d for d in dials if d["over_dialled"]]
    assert all(d["in_progress"] > d["free_agents"] for d in over)
    assert len(over) >= 3  # not a fluke of one decision
    # not before the pacing trusts its measurements (pacing.MIN_OUTCOMES)
    assert sum(1 for a in attempts if a["ms"] <= over[0]["ms"]) >= 20
    humans = [a for a in attempts if a["outcome"] == "human"]
    abandoned = events(report, "abandoned", component="campaign")
    assert len(humans) >= 25 and len(abandoned) <= 0.03 * len(humans)
    to_agent = events(report, "to_agent", component="campaign")
    assert len(to_agent) + len(abandoned) == len(humans)  # every person reached an agent or the message
    ended = [c for c in report.data["calls"] if c["hangup_cause"] == "campaign_abandoned"]
    assert len(ended) == len(abandoned) and not events(report, "campaign_recording_missing")


def dialled(report, line: int = 0) -> str:
    """Every digit the exchange received on ``line``, in order."""
    return "".join(d["digit"] for d in port(report, line)["exchange_digits"])


def test_preview_skip_then_accept():
    report = run("campaign_preview")
    assert_passed(report)
    shown = [(e["agent"], e["lead"]) for e in events(report, "preview")]
    assert shown[:2] == [("1001", 1), ("1001", 2)]  # the skipped lead went to the end of the list
    (dial,) = events(report, "dial", component="campaign")
    (skipped,) = events(report, "preview_skipped")
    assert dial["lead"] == 2 and dial["ms"] > skipped["ms"]  # nothing dialled before the agent accepted
    assert dialled(report) == "2125552002"  # Ann (lead 1) never
    (cdr,) = [c for c in report.data["calls"] if c["userfield"] == "campaign renewals lead 2"]
    assert cdr["dst_port"] == 4  # the agent who accepted it took it


def test_preview_decision_of_an_agent_without_a_lead_fails_the_step():
    def early(data):
        steps = data["steps"]
        at = next(i for i, step in enumerate(steps) if "preview" in step)
        data["steps"] = steps[:at - 3] + [{"preview": {"agent": "1002", "decision": "accept"}}]

    report = run_scenario(scenario_with("campaign_preview", early))
    assert not report.passed and "agent 1002 has no lead in preview" in report.failure["reason"]


def test_dnc_number_is_never_dialled_and_the_dtmf_disposition_blocks_the_next():
    report = run("campaign_dnc")
    assert_passed(report)
    assert dialled(report) == "2125552002"  # Bob only: Ann is on the stored list
    assert [e["lead"] for e in events(report, "dial", component="campaign")] == [1]
    (added,) = events(report, "dnc_added")
    assert added["number"] == "+12125552002" and added["campaign_call"] is True


def test_without_the_dnc_list_the_same_campaign_dials_ann_first():
    """The control: what keeps Ann out above is the do-not-call list, nothing else."""
    def no_dnc(data):
        del data["dnc"]
        data["steps"] = [step for step in data["steps"] if "expect_digits" not in step][:10]

    report = run_scenario(scenario_with("campaign_dnc", no_dnc))
    assert dialled(report).startswith("2125552001")


def test_dnc_disposition_with_no_campaign_running_joins_the_list():
    report = run("campaign_dnc_inbound")
    assert_passed(report)
    (added,) = events(report, "dnc_added")
    assert added["number"] == "+12125559876" and added["campaign_call"] is False
    assert not events(report, "dial", component="campaign")


@pytest.mark.parametrize(("dnc", "message"), [
    (["555"], "dnc[0]: '555' is not a valid number in zone us"),
    ([2125552001], "dnc[0]: 2125552001 is not a valid number"),
    ("2125552001", "dnc: expected a list"),
])
def test_scenario_dnc_list_is_checked_when_read(dnc, message):
    def bad(data):
        data["dnc"] = dnc

    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        scenario_with("campaign_dnc", bad)
