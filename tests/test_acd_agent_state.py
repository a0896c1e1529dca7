"""The agent state machine: the transition table, pauses, wrap-up, auto-pause, busy phones."""

import pytest

from firmware import FirmwareError
from firmware.acd.agent_state import TRANSITIONS, Agent, AgentEvent, AgentState
from firmware.acd.events import EventKind
from firmware.acd.model import AgentConfig, OfferFailure, QueueConfig
from tests.acd_helpers import agent, make_core, offered_to, serve

S, E = AgentState, AgentEvent


def fresh(state: AgentState) -> Agent:
    a = Agent(AgentConfig("x", queues={"q": 0}), {"q": 0})
    a.state = state
    return a


@pytest.mark.parametrize("state", list(AgentState))
@pytest.mark.parametrize("event", list(AgentEvent))
def test_every_state_event_pair_follows_the_table(state, event):
    a = fresh(state)
    target = TRANSITIONS.get((state, event))
    if target is None:
        with pytest.raises(FirmwareError, match=f"cannot {event.value} while {state.value}"):
            a.apply(event, 5.0)
        assert a.state is state and a.state_since == 0.0
    else:
        previous, spent = a.apply(event, 5.0)
        assert (previous, spent, a.state, a.state_since) == (state, 5.0, target, 5.0)


def test_a_pending_pause_takes_effect_when_the_work_ends():
    a = fresh(S.WRAP_UP)
    a.pending_pause = "meeting"
    a.apply(E.WRAPUP_END, 9.0)
    assert (a.state, a.paused_reason, a.pending_pause) == (S.PAUSED, "meeting", None)


def test_pause_during_a_call_waits_for_wrapup_then_unpause_returns_to_available():
    core, rec = make_core(QueueConfig("q", wrapup_seconds=10.0), (agent("a1"),))
    core.call_arrived("c1", ["q"], "", 1)
    offered_to(core, 1)
    core.offer_answered("c1", "a1", 2)
    core.agent_pause("a1", "training", 3)
    assert core.agents["a1"].state is S.ON_CALL and not rec.kinds(EventKind.PAUSE)
    core.call_ended("c1", 20)
    assert core.agents["a1"].state is S.WRAP_UP
    core.tick(30)
    assert core.agents["a1"].state is S.PAUSED
    assert [(e.time, e.reason) for e in rec.kinds(EventKind.PAUSE)] == [(30, "training")]
    core.call_arrived("c2", ["q"], "", 31)
    assert offered_to(core, 31) == []
    core.agent_unpause("a1", 40)
    assert offered_to(core, 40) == [("c2", "a1")]
    assert [e.time for e in rec.kinds(EventKind.UNPAUSE)] == [40]


def test_unpause_before_the_work_ends_cancels_the_pending_pause():
    core, _ = make_core(QueueConfig("q"), (agent("a1"),))
    core.call_arrived("c1", ["q"], "", 1)
    offered_to(core, 1)
    core.agent_pause("a1", "x", 2)
    core.agent_unpause("a1", 3)
    serve(core, "c1", "a1", 4, 5)
    assert core.agents["a1"].state is S.AVAILABLE


def test_wrapup_is_per_queue_and_can_end_early():
    queues = (QueueConfig("long", wrapup_seconds=30.0), QueueConfig("none", wrapup_seconds=0.0))
    core, _ = make_core(queues, (agent("a1", {"long": 0, "none": 0}),))
    core.call_arrived("c1", ["none"], "", 0)
    offered_to(core, 0)
    serve(core, "c1", "a1", 1, 10)
    assert core.agents["a1"].state is S.AVAILABLE
    core.call_arrived("c2", ["long"], "", 11)
    offered_to(core, 11)
    serve(core, "c2", "a1", 12, 20)
    core.call_arrived("c3", ["long"], "", 21)
    assert offered_to(core, 21) == []  # in wrap-up: no offer
    assert core.next_wakeup() == 50.0
    assert offered_to(core, 49.999) == []
    assert offered_to(core, 50.0) == [("c3", "a1")]
    serve(core, "c3", "a1", 51, 60)
    core.wrapup_end("a1", 65)
    assert core.agents["a1"].state is S.AVAILABLE
    assert core.agents["a1"].idle_since == 65
    with pytest.raises(FirmwareError, match="not in wrap-up"):
        core.wrapup_end("a1", 66)


@pytest.mark.parametrize("limit,misses,paused", [(2, 1, False), (2, 2, True), (3, 2, False), (0, 5, False)])
def test_autopause_after_consecutive_ring_no_answers(limit, misses, paused):
    core, rec = make_core(
        QueueConfig("q", retry_seconds=0.0, ring_timeout_seconds=10.0), (agent("a1"),), autopause_after_missed=limit
    )
    core.call_arrived("c1", ["q"], "", 0)
    offers = offered_to(core, 0.0)
    for miss in range(misses):
        assert offers == [("c1", "a1")]
        offers = offered_to(core, 10.0 * (miss + 1))  # ring timeout, then (maybe) the next offer
    state = core.agents["a1"]
    assert (state.state is S.PAUSED) == paused
    if paused:
        assert state.paused_reason == "autopause"
        assert [e.reason for e in rec.kinds(EventKind.PAUSE)] == ["autopause"]


def test_an_answer_or_a_rejection_does_not_count_towards_autopause():
    core, _ = make_core(QueueConfig("q", retry_seconds=0.0), (agent("a1"),), autopause_after_missed=2)
    core.call_arrived("c1", ["q"], "", 0)
    offered_to(core, 0)
    core.offer_failed("c1", "a1", 1)  # no answer: 1
    offered_to(core, 1)
    core.offer_failed("c1", "a1", 2, OfferFailure.REJECTED)  # declined: not a miss
    offered_to(core, 2)
    core.offer_answered("c1", "a1", 3)  # resets
    core.call_ended("c1", 4)
    core.call_arrived("c2", ["q"], "", 5)
    offered_to(core, 5)
    core.offer_failed("c2", "a1", 6)
    assert core.agents["a1"].state is S.AVAILABLE


def test_a_missed_offer_sends_the_agent_to_the_back_of_the_line():
    core, _ = make_core(QueueConfig("q", retry_seconds=0.0), (agent("a1"), agent("a2")), autopause_after_missed=0)
    core.call_arrived("c1", ["q"], "", 10)
    assert offered_to(core, 10) == [("c1", "a1")]
    core.offer_failed("c1", "a1", 12)
    assert core.agents["a1"].idle_since == 12
    assert offered_to(core, 12) == [("c1", "a2")]


def test_logout_while_ringing_puts_the_call_back_and_is_refused_on_a_call():
    core, rec = make_core(QueueConfig("q"), (agent("a1"), agent("a2")))
    core.call_arrived("c1", ["q"], "", 1)
    assert offered_to(core, 1) == [("c1", "a1")]
    cancelled = core.agent_logout("a1", 2)
    assert [(o.call_id, o.agent_id) for o in cancelled] == [("c1", "a1")]
    assert offered_to(core, 2) == [("c1", "a2")]
    core.offer_answered("c1", "a2", 3)
    with pytest.raises(FirmwareError, match="cannot log out while oncall"):
        core.agent_logout("a2", 4)
    assert [e.agent for e in rec.kinds(EventKind.REMOVEMEMBER)] == ["a1"]


def test_bad_agent_operations_change_nothing():
    core, rec = make_core(QueueConfig("q"), (agent("a1"),), login_at=None)
    with pytest.raises(FirmwareError, match="unknown agent"):
        core.agent_login("zz", 0)
    with pytest.raises(FirmwareError, match="not a member of nope"):
        core.agent_login("a1", 0, queues=["nope"])
    with pytest.raises(FirmwareError, match="logged out"):
        core.agent_pause("a1", "x", 0)
    with pytest.raises(FirmwareError, match="not paused"):
        core.agent_unpause("a1", 0)
    assert rec.events == [] and core.agents["a1"].state is S.LOGGED_OUT
    core.agent_login("a1", 0, paused_reason="late")
    assert core.agents["a1"].state is S.PAUSED
    assert [e.reason for e in rec.kinds(EventKind.ADDMEMBER)] == ["PAUSED"]


def test_agent_on_a_non_acd_call_is_not_offered_and_regains_idle_time_after():
    core, rec = make_core(QueueConfig("q"), (agent("a1"),))
    core.agent_phone_busy("a1", True, 5)
    core.call_arrived("c1", ["q"], "", 6)
    assert offered_to(core, 6) == []
    core.agent_phone_busy("a1", False, 9)
    assert offered_to(core, 9) == [("c1", "a1")]
    states = [(e.from_state, e.to_state, e.duration) for e in rec.kinds(EventKind.AGENTSTATE)]
    assert ("available", "otherbusy", 5) in states and ("otherbusy", "available", 4) in states


def test_agents_clocks_begin_at_the_cores_start():
    """In the box the core starts at the wall time of the engine, not at 0 (1970)."""
    import random

    from firmware.acd.core import AcdCore
    from firmware.acd.model import AcdConfig, AgentConfig, QueueConfig

    config = AcdConfig(queues=(QueueConfig("q"),), agents=(AgentConfig("1001", queues={"q": 0}),))
    core = AcdCore(config, random.Random(1), start=1_795_000_000.0)
    agent = core.agents["1001"]
    assert agent.state_since == agent.activity_since == agent.idle_since == 1_795_000_000.0
