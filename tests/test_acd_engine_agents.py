"""Agents on analog headsets, end to end on the virtual board: log in (agent number and PIN
by DTMF, or straight from the agent's own extension), log out, pause with a reason code,
unpause, end wrap-up early (*49 or a hook flash after the call); each confirmed by a spoken
prompt, refusals by the error beep; the queue_log lines (ADDMEMBER, REMOVEMEMBER, PAUSE,
UNPAUSE) and what the ACD offers afterwards."""

from __future__ import annotations

from dataclasses import replace

import pytest
from acd_engine_helpers import (
    MATCH,
    contains,
    dial_and_hear,
    events_of,
    login,
    matches,
    phone_heard,
    queue_config,
)
from features_helpers import (
    LINE_1,
    LINE_2,
    PORT,
    dial,
    flash,
    hang_up,
    inbound_call,
    office,
    run,
    state,
    switch_events,
)

from firmware.acdengine.agents import ENTRY_TIMEOUT_S, PAUSE_REASON_S
from firmware.config.demo import demo_config

ALICE, BOB = "203", "204"


def with_pin(pin: str):
    agents = tuple(replace(agent, pin=pin) if agent.id == "1001" else agent for agent in demo_config().agents)
    return queue_config(agents=agents)


def sentence(app, *names: str):
    return app.acd.prompts.sentence(list(names))


def test_login_by_agent_number_is_confirmed_and_makes_the_agent_a_member(tmp_path):
    with office(tmp_path, config=queue_config()) as app:
        dial(app, ALICE, "*45", 2.0)
        assert matches(phone_heard(app, ALICE, 800), sentence(app, "agent-user")) > MATCH
        assert contains(dial_and_hear(app, ALICE, "1001#", 3.0), sentence(app, "agent-loginok")) > MATCH
        (added,) = events_of(app, "ADDMEMBER")
        assert added[2:4] == ["support", "1001"]
        assert app.acd.agent_ports == {"1001": PORT[ALICE]}
        hang_up(app, ALICE)
        inbound_call(app, LINE_1, seconds=5.0)
        assert state(app, PORT[ALICE]) == "ringing"


@pytest.mark.parametrize(("pin_typed", "logged_in"), [("4711", True), ("4712", False), ("", False)])
def test_login_with_pin(tmp_path, pin_typed, logged_in):
    with office(tmp_path, config=with_pin("4711")) as app, switch_events("acd") as events:
        dial(app, ALICE, "*45", 1.0)
        dial(app, ALICE, "1001#", 2.0)
        assert matches(phone_heard(app, ALICE, 500), sentence(app, "agent-pass")) > MATCH
        expected = "agent-loginok" if logged_in else "agent-incorrect"
        assert contains(dial_and_hear(app, ALICE, f"{pin_typed}#", 6.0), sentence(app, expected)) > MATCH
        assert bool(events_of(app, "ADDMEMBER")) is logged_in
        if not logged_in:
            (refused,) = events.named("agent_feature_refused")
            assert refused["reason"] == "wrong pin"


def test_unknown_agent_and_unfinished_entry_are_refused(tmp_path):
    with office(tmp_path, config=queue_config()) as app, switch_events("acd") as events:
        dial(app, ALICE, "*45", 1.0)
        assert contains(dial_and_hear(app, ALICE, "9999#", 6.0), sentence(app, "agent-incorrect")) > MATCH
        hang_up(app, ALICE)
        dial(app, ALICE, "*45", 1.0)
        dial(app, ALICE, "10", ENTRY_TIMEOUT_S - 2.0)
        assert app.acd.desk.entries  # still waiting for '#'
        run(app, 2.5)
        assert not app.acd.desk.entries
        assert [e["reason"] for e in events.named("agent_feature_refused")] == ["unknown agent id", "entry timeout"]
        assert events_of(app, "ADDMEMBER") == []


def test_twice_logged_in_hears_already_on(tmp_path):
    with office(tmp_path, config=queue_config()) as app, switch_events("acd") as events:
        login(app, ALICE, "1001")
        dial(app, BOB, "*45", 1.0)
        heard_by_bob = dial_and_hear(app, BOB, "1001#", 8.0)  # the same agent from another phone
        assert "already logged in" in events.named("agent_feature_refused")[-1]["reason"]
        assert contains(heard_by_bob, sentence(app, "agent-alreadyon")) > MATCH
        assert app.acd.agent_ports == {"1001": PORT[ALICE]}


def test_logout_is_confirmed_and_ends_offers(tmp_path):
    with office(tmp_path, config=queue_config()) as app, switch_events("acd") as events:
        assert contains(dial_and_hear(app, BOB, "*46", 1.0), sentence(app, "beeperr")) > MATCH  # nobody at 204
        assert events.named("agent_feature_refused")[0]["reason"] == "no agent logged in at this phone"
        login(app, ALICE, "1001")
        assert contains(dial_and_hear(app, ALICE, "*46", 2.5), sentence(app, "agent-loggedoff")) > MATCH
        hang_up(app, ALICE)
        (removed,) = events_of(app, "REMOVEMEMBER")
        assert removed[2:4] == ["support", "1001"]
        inbound_call(app, LINE_1, seconds=5.0)
        assert state(app, PORT[ALICE]) == "idle" and len(app.acd.callers) == 1


@pytest.mark.parametrize(("after_code", "reason"), [("3", "3"), ("#", ""), (None, "")])
def test_pause_with_optional_reason_then_unpause(tmp_path, after_code, reason):
    with office(tmp_path, config=queue_config()) as app:
        login(app, ALICE, "1001")
        dial(app, ALICE, "*47", 0.5)
        if after_code is not None:
            confirmation = dial_and_hear(app, ALICE, after_code, 2.0)
        else:
            confirmation = dial_and_hear(app, ALICE, "", PAUSE_REASON_S + 1.5)
        spoken = ["dictate/paused", *([f"digits/{reason}"] if reason else [])]
        assert contains(confirmation, sentence(app, *spoken)) > MATCH
        hang_up(app, ALICE)
        (pause,) = events_of(app, "PAUSE")
        assert pause[3] == "1001" and pause[5] == reason
        inbound_call(app, LINE_1, seconds=5.0)
        assert state(app, PORT[ALICE]) == "idle"  # paused: not offered
        assert contains(dial_and_hear(app, ALICE, "*48", 1.5), sentence(app, "activated")) > MATCH
        (unpause,) = events_of(app, "UNPAUSE")
        assert unpause[3] == "1001"
        hang_up(app, ALICE)
        run(app, 0.2)
        assert state(app, PORT[ALICE]) == "ringing"


def test_unpause_when_not_paused_is_refused(tmp_path):
    with office(tmp_path, config=queue_config()) as app, switch_events("acd") as events:
        login(app, ALICE, "1001")
        assert contains(dial_and_hear(app, ALICE, "*48", 1.0), sentence(app, "beeperr")) > MATCH
        assert "not paused" in events.named("agent_feature_refused")[-1]["reason"]


def _agent_talks_then_caller_hangs_up(app) -> None:
    """Alice (agent 1001) answers a queue call; the caller hangs up: wrap-up starts, and
    Alice, still off-hook, hears busy tone."""
    login(app, ALICE, "1001")
    inbound_call(app, LINE_1, seconds=5.0)
    app.world.phone(PORT[ALICE]).offhook()
    run(app, 5.0)
    app.world.line(LINE_1).far_end_hangup()
    run(app, 1.5)
    assert app.acd.in_wrapup("1001") and state(app, PORT[ALICE]) == "failed"


@pytest.mark.parametrize("how", ["feature_code", "hook_flash"])
def test_agent_ends_wrapup_early_and_takes_the_next_call(tmp_path, how):
    with office(tmp_path, config=queue_config(wrapup_s=60)) as app, switch_events("acd") as events:
        _agent_talks_then_caller_hangs_up(app)
        inbound_call(app, LINE_2, number="2125550000", seconds=3.0)
        assert state(app, PORT[ALICE]) == "failed"  # 60 s of wrap-up: the new caller waits
        start = app.switch.tick
        if how == "hook_flash":
            flash(app, ALICE, 1.5)
        else:
            hang_up(app, ALICE)
            dial(app, ALICE, "*49", 1.5)
        heard = phone_heard(app, ALICE, (app.switch.tick - start) * 20)
        assert contains(heard, sentence(app, "activated")) > MATCH
        (ready,) = events.named("agent_ready")
        assert ready["agent"] == "1001" and ready["by"] == how
        assert not app.acd.in_wrapup("1001")
        hang_up(app, ALICE)
        run(app, 0.5)
        assert state(app, PORT[ALICE]) == "ringing"  # offered the waiting call at once


def test_ready_code_outside_wrapup_is_refused(tmp_path):
    with office(tmp_path, config=queue_config(wrapup_s=60)) as app, switch_events("acd") as events:
        assert contains(dial_and_hear(app, ALICE, "*49", 1.0), sentence(app, "beeperr")) > MATCH
        assert events.named("agent_feature_refused")[-1]["reason"] == "no agent logged in at this phone"
        hang_up(app, ALICE)
        login(app, ALICE, "1001")
        assert contains(dial_and_hear(app, ALICE, "*49", 1.0), sentence(app, "beeperr")) > MATCH
        assert "not in wrap-up" in events.named("agent_feature_refused")[-1]["reason"]


def test_flash_during_the_call_is_not_taken_for_ready(tmp_path):
    with office(tmp_path, config=queue_config(wrapup_s=60)) as app, switch_events("acd") as events:
        login(app, ALICE, "1001")
        inbound_call(app, LINE_1, seconds=5.0)
        app.world.phone(PORT[ALICE]).offhook()
        run(app, 5.0)
        flash(app, ALICE, 1.0)  # a consultation: the caller is put on hold, Alice hears dial tone
        assert events.named("agent_ready") == []
        assert app.acd.core.agents["1001"].state == "oncall"
