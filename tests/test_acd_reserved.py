"""A waiting call reserved for one agent (``AcdCore.reserve_for_agent``: a callback that agent
booked): only that agent gets it until the reservation ends, then any agent of the queue; the
calls behind it are routed meanwhile; a missed offer ends the reservation."""

from __future__ import annotations

from dataclasses import replace

import pytest
from acd_helpers import agent, make_core, offered_to

from firmware import FirmwareError
from firmware.acd.model import OfferKind, QueueConfig, Strategy

GRACE = 60.0


def callback(core, call_id="cb", at=100.0, reserved_for="a1", grace=GRACE):
    """A callback request joining queue q at ``at``, reserved for ``reserved_for``."""
    assert core.call_arrived(call_id, ["q"], "2125550100", at).joined
    core.callback_requested(call_id, "92125550100", at)
    core.reserve_for_agent(call_id, reserved_for, at + grace, at)


def three_agents(strategy=Strategy.LEASTRECENT):
    # a2 and a3 have been idle longer than a1: without the reservation leastrecent picks a2
    core, rec = make_core(QueueConfig("q", strategy=strategy, retry_seconds=5.0),
                          (agent("a1"), agent("a2"), agent("a3")), login_at=None)
    core.agent_login("a2", 0.0)
    core.agent_login("a3", 1.0)
    core.agent_login("a1", 50.0)
    return core, rec


def test_the_reserved_agent_available_gets_it_before_agents_idle_longer():
    core, rec = three_agents()
    callback(core)
    offers = core.tick(100.0).offers
    assert [(o.call_id, o.agent_id, o.kind) for o in offers] == [("cb", "a1", OfferKind.CALLBACK)]
    trace = rec.traces()[-1]
    assert trace.rule == "reserved_for:a1" and trace.excluded_reserved == 2
    assert trace.fields()["reserved_others"] == 2


def test_without_a_reservation_the_longest_idle_agent_gets_it():  # the control case
    core, _ = three_agents()
    assert core.call_arrived("cb", ["q"], "2125550100", 100.0).joined
    core.callback_requested("cb", "92125550100", 100.0)
    assert offered_to(core, 100.0) == [("cb", "a2")]


def test_a_paused_reserved_agent_holds_it_for_the_grace_period_then_any_agent():
    core, _ = three_agents()
    core.agent_pause("a1", "lunch", 90.0)
    callback(core)
    assert core.next_wakeup() == 100.0 + GRACE
    assert offered_to(core, 100.0) == []
    assert offered_to(core, 100.0 + GRACE - 0.02) == []  # the last tick of the grace period
    assert offered_to(core, 100.0 + GRACE) == [("cb", "a2")]  # edge: the reservation has ended


def test_the_reserved_agent_back_within_the_grace_period_gets_it():
    core, _ = three_agents()
    core.agent_logout("a1", 90.0)
    callback(core)
    assert offered_to(core, 120.0) == []
    core.agent_login("a1", 130.0)
    assert offered_to(core, 130.0) == [("cb", "a1")]


def test_a_logged_out_reserved_agent_then_another_agent_after_the_grace_period():
    core, _ = three_agents()
    core.agent_logout("a1", 90.0)
    callback(core)
    assert offered_to(core, 159.98) == []
    assert offered_to(core, 160.0) == [("cb", "a2")]


def test_calls_behind_a_reserved_callback_are_routed_meanwhile():
    core, _ = three_agents()
    core.agent_pause("a1", "lunch", 90.0)
    callback(core)
    assert core.call_arrived("c2", ["q"], "2125550111", 101.0).joined  # same queue, same routing class
    assert offered_to(core, 101.0) == [("c2", "a2")]


def test_the_reserved_agent_letting_it_ring_out_ends_the_reservation():
    core, _ = three_agents()
    callback(core)
    assert offered_to(core, 100.0) == [("cb", "a1")]
    result = core.tick(115.0)  # ring timeout 15 s: no answer
    assert [(o.call_id, o.agent_id) for o in result.cancelled] == [("cb", "a1")]
    assert [(o.call_id, o.agent_id) for o in result.offers] == [("cb", "a2")]  # not after the grace period


def test_ringall_rings_only_the_reserved_agent():
    core, _ = three_agents(Strategy.RINGALL)
    callback(core)
    assert offered_to(core, 100.0) == [("cb", "a1")]


def test_the_reserved_agent_answers_and_the_callback_dials_out():
    core, _ = three_agents()
    callback(core)
    offered_to(core, 100.0)
    assert core.offer_answered("cb", "a1", 103.0) == []
    core.callback_result("cb", True, 110.0)
    assert core.agents["a1"].call_id == "cb"


@pytest.mark.parametrize(("agent_id", "message"), [
    ("nobody", "unknown agent 'nobody'"),
    ("b1", "agent b1 is not a member of q"),
])
def test_a_reservation_for_an_agent_who_cannot_take_it_is_refused_and_nothing_changes(agent_id, message):
    core, _ = make_core((QueueConfig("q"), QueueConfig("other")),
                        (agent("a1"), agent("b1", {"other": 0})), login_at=0.0)
    assert core.call_arrived("cb", ["q"], "2125550100", 100.0).joined
    core.callback_requested("cb", "92125550100", 100.0)
    with pytest.raises(FirmwareError, match=message):
        core.reserve_for_agent("cb", agent_id, 160.0, 100.0)
    assert offered_to(core, 100.0) == [("cb", "a1")]
    with pytest.raises(FirmwareError, match="unknown call"):
        core.reserve_for_agent("gone", "a1", 160.0, 100.0)


@pytest.mark.parametrize(("change", "then"), [
    ({"retry_seconds": 7.0}, [("cb", "a2")]),
    ({"strategy": Strategy.RINGALL}, [("cb", "a2"), ("cb", "a3")]),  # after the reservation: everyone free
])
def test_a_reconfiguration_keeps_the_reservation_and_its_end(change, then):
    core, _ = three_agents()
    core.agent_pause("a1", "lunch", 90.0)
    callback(core)
    core.reconfigure(replace(core.config, queues=(replace(core.config.queues[0], **change),)), 110.0)
    assert core.next_wakeup() == 100.0 + GRACE
    assert offered_to(core, 120.0) == []
    assert offered_to(core, 100.0 + GRACE) == then
