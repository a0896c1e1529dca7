"""Callers' side: positions, estimated wait, join/leave when empty, max wait, exit keys,
callbacks that keep the place, abandon-resume."""

import pytest

from firmware import FirmwareError
from firmware.acd.core import ExitReason
from firmware.acd.events import EventKind
from firmware.acd.model import (
    CallbackPolicy,
    Destination,
    DestinationKind,
    EmptyCondition,
    OfferKind,
    QueueConfig,
)
from firmware.acd.waiting import estimated_wait_seconds
from tests.acd_helpers import agent, make_core, offered_to, serve

VOICEMAIL = Destination(DestinationKind.VOICEMAIL, "200")
OVERFLOW = Destination(DestinationKind.QUEUE, "overflow")


def test_positions_are_per_queue_and_follow_priority_then_enqueue_time():
    core, rec = make_core((QueueConfig("a"), QueueConfig("b")), (agent("x", {"a": 0}),), login_at=None)
    core.call_arrived("c1", ["a"], "", 1)
    core.call_arrived("c2", ["b", "a"], "", 2)
    core.call_arrived("c3", ["a"], "", 3, priority=1)
    assert [core.position(c, "a") for c in ("c1", "c2", "c3")] == [2, 3, 1]
    assert core.position("c2", "b") == 1
    assert [e.orig_position for e in rec.kinds(EventKind.ENTERQUEUE)] == [1, 1, 1]
    core.caller_abandoned("c3", 4)
    assert [core.position(c, "a") for c in ("c1", "c2")] == [1, 2]
    (abandon,) = rec.kinds(EventKind.ABANDON)
    assert (abandon.position, abandon.orig_position, abandon.wait) == (1, 1, 1)


def test_estimated_wait_is_position_times_smoothed_aht_over_staffed_agents():
    assert estimated_wait_seconds(3, 120.0, 2) == 180.0
    assert estimated_wait_seconds(1, 120.0, 0) is None
    queue = QueueConfig("q", default_aht_seconds=200.0, wrapup_seconds=10.0)
    core, _ = make_core(queue, (agent("a1"), agent("a2"), agent("a3")), aht_smoothing=0.5)
    core.agent_pause("a3", "lunch", 0)  # paused agents are not staffed
    for i, (call, talk) in enumerate((("c1", 90.0), ("c2", 30.0))):
        core.call_arrived(call, ["q"], "", 100 * i)
        ((_, who),) = offered_to(core, 100 * i)
        serve(core, call, who, 100 * i, 100 * i + talk)
        core.tick(100 * i + talk + 10.0)  # wrap-up ends: handle = talk + 10
    assert core.aht["q"].value == pytest.approx(100.0 + 0.5 * (40.0 - 100.0))  # first sample, then EWMA
    core.agent_pause("a1", "x", 300)
    core.agent_pause("a2", "x", 300)
    core.agent_unpause("a1", 301)
    for i in range(3):
        core.call_arrived(f"w{i}", ["q"], "", 302)
    core.agent_pause("a1", "x", 303)
    assert core.estimated_wait("w2") is None
    core.agent_unpause("a1", 304)
    core.agent_unpause("a2", 304)
    core.tick(304)  # two of the three are now ringing; positions still count them
    assert core.estimated_wait("w2") == pytest.approx(3 * 70.0 / 2)


@pytest.mark.parametrize(
    "conditions,setup,joins",
    [
        (None, "all_out", True),  # Asterisk joinempty=yes: always join
        (frozenset(), "all_out", False),  # nobody logged in: empty
        (frozenset(), "paused", True),  # a paused member still counts unless "paused" is listed
        (frozenset({EmptyCondition.PAUSED}), "paused", False),
        (frozenset({EmptyCondition.INUSE}), "busy", False),
        (frozenset({EmptyCondition.PAUSED}), "busy", True),
        (frozenset({EmptyCondition.WRAPUP}), "wrapup", False),
    ],
)
def test_joinempty_follows_asterisk_conditions(conditions, setup, joins):
    queue = QueueConfig("q", joinempty=conditions, empty_destination=VOICEMAIL, wrapup_seconds=60.0)
    core, rec = make_core(queue, (agent("a1"),), login_at=None)
    if setup != "all_out":
        core.agent_login("a1", 0)
    if setup == "paused":
        core.agent_pause("a1", "x", 0)
    if setup in ("busy", "wrapup"):
        core.call_arrived("c0", ["q"], "", 0)
        offered_to(core, 0)
        core.offer_answered("c0", "a1", 0)
        if setup == "wrapup":
            core.call_ended("c0", 1)
    result = core.call_arrived("c1", ["q"], "", 2)
    assert result.joined == joins
    if not joins:
        assert (result.reason, result.destination) == ("joinempty", VOICEMAIL)
        assert [e.kind for e in rec.events if e.call_id == "c1"] == [EventKind.JOINEMPTY]
        assert "c1" not in core.calls


def test_maxlen_refuses_with_full():
    queue = QueueConfig("q", maxlen=2, timeout_destination=OVERFLOW)
    core, rec = make_core((queue, QueueConfig("overflow")), (), login_at=None)
    assert core.call_arrived("c1", ["q"], "", 0).joined
    assert core.call_arrived("c2", ["q"], "", 0).joined
    result = core.call_arrived("c3", ["q"], "", 0)
    assert (result.joined, result.reason, result.destination) == (False, "full", OVERFLOW)
    assert rec.kinds(EventKind.FULL)[0].call_id == "c3"


def test_leavewhenempty_exits_waiting_callers_when_the_last_agent_pauses():
    queue = QueueConfig("q", leavewhenempty=frozenset({EmptyCondition.PAUSED}), empty_destination=VOICEMAIL)
    core, rec = make_core(queue, (agent("a1"),))
    core.agent_pause("a1", "x", 0)
    core.call_arrived("c1", ["q"], "", 1)
    result = core.tick(1)
    assert [(x.call_id, x.reason, x.destination) for x in result.exits] == [("c1", ExitReason.EMPTY, VOICEMAIL)]
    (event,) = rec.kinds(EventKind.EXITEMPTY)
    assert (event.position, event.orig_position) == (1, 1)
    core.call_arrived("c2", ["q"], "", 5)  # the queue is still empty: the next tick exits it too
    assert [x.call_id for x in core.tick(5).exits] == ["c2"]
    core.agent_unpause("a1", 6)
    core.call_arrived("c3", ["q"], "", 7)
    assert core.tick(7).exits == []


def test_max_wait_exits_to_the_overflow_destination_at_the_edge():
    queue = QueueConfig("q", max_wait_seconds=60.0, timeout_destination=OVERFLOW)
    core, rec = make_core((queue, QueueConfig("overflow")), (), login_at=None)
    core.call_arrived("c1", ["q"], "", 100.0)
    assert core.next_wakeup() == 160.0
    assert core.tick(159.999).exits == []
    result = core.tick(160.0)
    assert [(x.call_id, x.queue, x.reason, x.destination) for x in result.exits] == [
        ("c1", "q", ExitReason.TIMEOUT, OVERFLOW)
    ]
    (event,) = rec.kinds(EventKind.EXITWITHTIMEOUT)
    assert event.wait == 60.0
    assert core.call_arrived("c1", ["overflow"], "", 160.0).joined  # the engine re-queues it


def test_max_wait_while_ringing_withdraws_the_offer():
    queue = QueueConfig("q", max_wait_seconds=10.0, ring_timeout_seconds=30.0)
    core, _ = make_core(queue, (agent("a1"),))
    core.call_arrived("c1", ["q"], "", 0)
    offered_to(core, 0)
    result = core.tick(10.0)
    assert [o.agent_id for o in result.cancelled] == ["a1"]
    assert core.agents["a1"].state.value == "available"


def test_exit_key_returns_the_destination_and_other_keys_do_nothing():
    queue = QueueConfig("q", exit_keys={"0": VOICEMAIL})
    core, rec = make_core(queue, (), login_at=None)
    core.call_arrived("c1", ["q"], "", 0)
    assert core.caller_pressed_key("c1", "5", 3) == (None, [])
    assert core.caller_pressed_key("c1", "0", 4) == (VOICEMAIL, [])
    (event,) = rec.kinds(EventKind.EXITWITHKEY)
    assert (event.key, event.position, event.wait) == ("0", 1, 4)
    assert "c1" not in core.calls


def callback_core(**policy):
    queue = QueueConfig("q", callback=CallbackPolicy(**policy))
    return make_core(queue, (agent("a1"),), login_at=None)


def test_callback_keeps_the_place_and_is_offered_as_a_callback():
    core, rec = callback_core()
    core.call_arrived("c1", ["q"], "+1555", 0)
    core.call_arrived("c2", ["q"], "+1666", 1)
    core.callback_requested("c1", "15550001", 5)
    core.call_arrived("c3", ["q"], "+1777", 6)
    assert [core.position(c) for c in ("c1", "c2", "c3")] == [1, 2, 3]
    core.agent_login("a1", 10)
    (offer,) = core.tick(10).offers
    assert (offer.call_id, offer.kind) == ("c1", OfferKind.CALLBACK)
    core.offer_answered("c1", "a1", 12)  # the agent is ready: the engine dials the caller
    core.callback_result("c1", True, 20)
    (connect,) = rec.kinds(EventKind.CONNECT)
    assert (connect.call_id, connect.wait) == ("c1", 20)
    assert [core.position(c) for c in ("c2", "c3")] == [1, 2]


def test_callback_retries_after_the_interval_then_gives_up():
    core, rec = callback_core(max_attempts=2, retry_interval_seconds=120.0)
    core.call_arrived("c1", ["q"], "+1555", 0)
    core.callback_requested("c1", "15550001", 1)
    core.agent_login("a1", 2)
    assert offered_to(core, 2) == [("c1", "a1")]
    core.offer_answered("c1", "a1", 3)
    core.callback_result("c1", False, 30)  # attempt 1: no answer
    assert core.agents["a1"].state.value == "available"
    assert core.next_wakeup() == 150.0
    assert offered_to(core, 149.0) == []
    assert core.position("c1") == 1  # still keeps the place while parked
    assert offered_to(core, 150.0) == [("c1", "a1")]
    core.offer_answered("c1", "a1", 151)
    core.callback_result("c1", False, 180)  # attempt 2: give up
    (abandon,) = rec.kinds(EventKind.ABANDON)
    assert (abandon.call_id, abandon.reason, abandon.wait) == ("c1", "callback_failed", 180)
    assert "c1" not in core.calls


def test_callback_requests_are_checked():
    core, _ = callback_core()
    core.call_arrived("c1", ["q"], "", 0)
    with pytest.raises(FirmwareError, match="not dialable"):
        core.callback_requested("c1", "12a", 1)
    core.callback_requested("c1", "123", 1)
    with pytest.raises(FirmwareError, match="callback"):
        core.caller_abandoned("c1", 2)


def test_callback_policy_is_pure():
    policy = CallbackPolicy(max_attempts=3, retry_interval_seconds=60.0)
    assert [policy.next_attempt_at(n, 100.0) for n in (1, 2, 3)] == [160.0, 160.0, None]


@pytest.mark.parametrize(
    "caller,comeback,queue,resumed",
    [
        ("+1555", 300.0, "q", True),  # exactly at the window edge: resumes
        ("+1555", 300.001, "q", False),
        ("+1555", 10.0, "other", False),  # another queue
        ("anonymous", 10.0, "q", False),  # withheld numbers never match
    ],
)
def test_abandon_resume_window_edges(caller, comeback, queue, resumed):
    core, rec = make_core((QueueConfig("q"), QueueConfig("other")), (), login_at=None, abandon_resume_seconds=300.0)
    core.call_arrived("first", ["q"], caller, 0.0)
    core.call_arrived("second", ["q"], "+1999", 50.0)
    core.caller_abandoned("first", 100.0)
    result = core.call_arrived("again", [queue], caller, 100.0 + comeback)
    assert result.resumed == resumed
    if resumed:
        assert core.calls["again"].enqueue_time == 0.0
        assert core.position("again") == 1 and core.position("second") == 2
    else:
        assert core.calls["again"].enqueue_time == 100.0 + comeback


def test_abandon_resume_is_off_by_default_and_used_once():
    core, _ = make_core(QueueConfig("q"), (), login_at=None)
    core.call_arrived("a", ["q"], "+1555", 0)
    core.caller_abandoned("a", 10)
    assert not core.call_arrived("b", ["q"], "+1555", 20).resumed
    core2, _ = make_core(QueueConfig("q"), (), login_at=None, abandon_resume_seconds=60.0)
    core2.call_arrived("a", ["q"], "+1555", 0)
    core2.caller_abandoned("a", 10)
    assert core2.call_arrived("b", ["q"], "+1555", 20).resumed
    core2.caller_abandoned("b", 30)
    assert core2.call_arrived("c", ["q"], "+1555", 40).resumed  # the place follows the caller
    assert core2.calls["c"].enqueue_time == 0.0
    assert not core2.call_arrived("d", ["q"], "+1555", 45).resumed  # c is still waiting: nothing to take


def test_bad_calls_are_refused_before_anything_changes():
    core, rec = make_core(QueueConfig("q"), (), login_at=None)
    for call_id, queues, skills, match in [
        ("", ["q"], None, "call id"),
        ("a|b", ["q"], None, "call id"),
        ("c1", [], None, "one or more"),
        ("c1", ["q", "q"], None, "distinct"),
        ("c1", ["nope"], None, "no queue"),
        ("c1", ["q"], {"fr": 11}, "level"),
    ]:
        with pytest.raises(FirmwareError, match=match):
            core.call_arrived(call_id, queues, "", 0, skills=skills)
    assert rec.events == [] and len(core.waiting) == 0
    core.call_arrived("c1", ["q"], "", 0)
    with pytest.raises(FirmwareError, match="already"):
        core.call_arrived("c1", ["q"], "", 0)
