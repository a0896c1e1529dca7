"""Live reconfiguration of the ACD core: queues, agents and settings change without a restart.

Table tests per rule (docs/acd.md, "Live reconfiguration"), queue_log lines, and a seeded
random run that checks after every step that the core's incremental indexes equal those of
a freshly built core in the same state, and that both route the same way.
"""

import copy
import dataclasses
import io
import random

import pytest

from firmware import FirmwareError
from firmware.acd.agent_state import Agent, AgentState
from firmware.acd.core import AcdCore, Exit, ExitReason
from firmware.acd.core_types import ArmedTimer
from firmware.acd.events import EventKind
from firmware.acd.model import (
    HANGUP,
    AcdConfig,
    AgentConfig,
    CallbackPolicy,
    Destination,
    DestinationKind,
    EmptyCondition,
    OfferFailure,
    QueueConfig,
    RelaxStep,
    SkillSelection,
    Strategy,
)
from firmware.acd.queue_log import QueueLogWriter
from firmware.acd.reconfigure import Reconfigured, describe_changes, rr_memory, surviving_destination
from firmware.acd.stats import StatsCollector
from firmware.acd.waiting import CallState, WaitingCall
from tests.acd_helpers import agent, make_core, offered_to

K = EventKind
VOICEMAIL = Destination(DestinationKind.VOICEMAIL, "100")


def changed(core: AcdCore, **settings) -> AcdConfig:
    """The core's configuration with some top-level fields replaced."""
    return dataclasses.replace(core.config, **settings)


def with_queue(core: AcdCore, name: str, **settings) -> AcdConfig:
    queues = tuple(dataclasses.replace(q, **settings) if q.name == name else q for q in core.config.queues)
    return changed(core, queues=queues)


def after(rec, index: int, *kinds: EventKind) -> list:
    return [event for event in rec.events[index:] if event.kind in kinds]


# ------------------------------------------------------------------ validation, no-op


INVALID = [
    ("duplicate queue", lambda c: changed(c, queues=(QueueConfig("q"), QueueConfig("q")))),
    ("agent in unknown queue", lambda c: changed(c, agents=(agent("a1", {"nope": 0}),))),
    ("bad ring timeout", lambda c: with_queue(c, "q", ring_timeout_seconds=0)),
    ("tightening relax", lambda c: with_queue(c, "q", relax_steps=(RelaxStep(10, 1), RelaxStep(20, 3)))),
    ("overflow to unknown queue", lambda c: with_queue(c, "q", timeout_destination=Destination(DestinationKind.QUEUE, "x"))),
    ("bad smoothing", lambda c: changed(c, aht_smoothing=0.0)),
    ("not a config", lambda c: {"queues": ()}),
]


def busy_core():
    """Two agents in q (a1 on a call, a2 ringing), c3 waiting with a max wait."""
    core, rec = make_core(QueueConfig("q", max_wait_seconds=100.0, wrapup_seconds=5.0), (agent("a1"), agent("a2")))
    core.call_arrived("c1", ["q"], "", 1)
    core.tick(1)
    core.offer_answered("c1", "a1", 2)
    core.call_arrived("c2", ["q"], "", 3)
    core.tick(3)
    core.call_arrived("c3", ["q"], "", 4)
    core.tick(4)
    return core, rec


def fingerprint(core: AcdCore) -> tuple:
    wake = core.next_wakeup()  # first: it drops stale timers
    agents = tuple((a.agent_id, a.state, a.logged_queues, dict(a.penalties), dict(a.skills)) for a in core.agents.values())
    calls = tuple((c.call_id, c.state, c.queues, c.requirement_items) for c in core.calls.values())
    return core.config, agents, calls, core.armed_timers(), wake


@pytest.mark.parametrize("name,make", INVALID, ids=[name for name, _ in INVALID])
def test_an_invalid_config_raises_and_changes_nothing(name, make):
    core, rec = busy_core()
    before, events = fingerprint(core), len(rec.events)
    with pytest.raises(FirmwareError):
        core.reconfigure(make(core), 10)
    assert fingerprint(core) == before
    assert len(rec.events) == events


@pytest.mark.parametrize("same", ["the same object", "an equal copy"])
def test_an_identical_config_is_a_no_op(same):
    core, rec = busy_core()
    config = core.config if same == "the same object" else AcdConfig(
        queues=(QueueConfig("q", max_wait_seconds=100.0, wrapup_seconds=5.0),), agents=(agent("a1"), agent("a2"))
    )
    before, events = fingerprint(core), len(rec.events)
    assert core.reconfigure(config, 10) == Reconfigured([], [], ())
    assert fingerprint(core) == before
    assert len(rec.events) == events


# ------------------------------------------------------------------ summary lines


SUMMARY = [
    (dict(strategy=Strategy.RRMEMORY), "queue sales: strategy leastrecent -> rrmemory"),
    (dict(ring_timeout_seconds=20.0), "queue sales: ring_timeout_seconds 15 -> 20"),
    (dict(max_wait_seconds=90.5), "queue sales: max_wait_seconds none -> 90.5"),
    (dict(joinempty=frozenset({EmptyCondition.PAUSED, EmptyCondition.INUSE})), "queue sales: joinempty none -> inuse,paused"),
    (dict(leavewhenempty=frozenset()), "queue sales: leavewhenempty none -> -"),
    (dict(exit_keys={"0": VOICEMAIL}), "queue sales: exit_keys - -> 0:voicemail:100"),
    (dict(timeout_destination=VOICEMAIL), "queue sales: timeout_destination hangup -> voicemail:100"),
    (dict(required_skills={"fr": 4}), "queue sales: required_skills - -> fr:4"),
    (dict(relax_steps=(RelaxStep(30, 3), RelaxStep(60, 0))), "queue sales: relax_steps - -> 30s:3,60s:0"),
    (dict(skill_selection=SkillSelection.FILTER), "queue sales: skill_selection best -> filter"),
    (dict(callback=CallbackPolicy(2, 60.0)), "queue sales: callback 3x300s -> 2x60s"),
    (dict(maxlen=5), "queue sales: maxlen 0 -> 5"),
]


@pytest.mark.parametrize("settings,line", SUMMARY, ids=[line.split(": ")[1].split(" ")[0] for _, line in SUMMARY])
def test_each_queue_setting_change_is_one_summary_line(settings, line):
    old = AcdConfig(queues=(QueueConfig("sales"),))
    new = AcdConfig(queues=(QueueConfig("sales", **settings),))
    assert describe_changes(old, new) == [line]


def test_summary_of_agents_queues_member_order_and_settings():
    old = AcdConfig(
        queues=(QueueConfig("sales"), QueueConfig("old")),
        agents=(agent("1001", {"sales": 0}), agent("1002", {"sales": 0}), agent("1004", {"sales": 1}, en=3)),
        vip_callers={"+331": 5},
    )
    new = AcdConfig(
        queues=(QueueConfig("sales"), QueueConfig("new")),
        agents=(agent("1004", {"sales": 0, "new": 1}, en=5), agent("1001", {"sales": 0}), agent("1003", {"new": 0})),
        autopause_after_missed=5,
    )
    assert describe_changes(old, new, working={"1002"}) == [
        "queue sales: member order 1001,1004 -> 1004,1001",
        "queue new added",
        "queue old removed",
        "agent 1004: queues sales:1 -> sales:0,new:1",
        "agent 1004: skills en:3 -> en:5",
        "agent 1003 added",
        "agent 1002 removed (after current call)",
        "vip_callers +331:5 -> -",
        "autopause_after_missed 3 -> 5",
    ]
    assert describe_changes(old, new)[-3] == "agent 1002 removed"


# ------------------------------------------------------------------ queue parameters


def test_strategy_switch_applies_to_the_next_decision_and_calls_keep_their_place():
    core, rec = make_core(QueueConfig("q"), (agent("a1"), agent("a2"), agent("a3")), login_at=None)
    core.agent_login("a3", 0)
    core.agent_login("a2", 1)
    core.agent_login("a1", 2)
    for i, t in enumerate((3, 4, 5)):
        core.agent_phone_busy(f"a{i + 1}", True, t)  # nobody free: the calls wait
    core.call_arrived("c1", ["q"], "", 10)
    core.call_arrived("c2", ["q"], "", 11)
    out = core.reconfigure(with_queue(core, "q", strategy=Strategy.LINEAR), 12)
    assert out.summary == ("queue q: strategy leastrecent -> linear",)
    assert (core.position("c1"), core.position("c2")) == (1, 2)
    assert (core.calls["c1"].enqueue_time, core.calls["c2"].enqueue_time) == (10, 11)
    core.agent_phone_busy("a3", False, 13)
    assert offered_to(core, 14) == [("c1", "a3")]  # the first call first
    assert len(rec.kinds(K.ENTERQUEUE)) == 2


def test_strategy_switch_changes_who_is_chosen():
    core, _ = make_core(QueueConfig("q"), (agent("a1"), agent("a2")), login_at=None)
    core.agent_login("a2", 0)
    core.agent_login("a1", 5)  # a2 idle longest: leastrecent picks a2, linear a1
    core.reconfigure(with_queue(core, "q", strategy=Strategy.LINEAR), 6)
    core.call_arrived("c1", ["q"], "", 7)
    assert offered_to(core, 7) == [("c1", "a1")]


def requirement_core():
    """Queue q requires fr>=5; c1 took that from the queue, c2 came with IVR skills."""
    core, _ = make_core(
        QueueConfig("q", required_skills={"fr": 5}),
        (agent("a1", fr=3), agent("a2", de=8)),
        login_at=None,
    )
    core.call_arrived("c1", ["q"], "", 1)
    core.call_arrived("c2", ["q"], "", 2, skills={"de": 6})
    return core


def test_changed_required_skills_apply_to_waiting_calls_that_took_them_from_the_queue():
    core = requirement_core()
    core.reconfigure(with_queue(core, "q", required_skills={"fr": 2}), 3)
    assert core.calls["c1"].requirements == {"fr": 2}
    assert core.calls["c2"].requirements == {"de": 6}  # given by the IVR: unchanged
    core.agent_login("a1", 4)
    core.agent_login("a2", 4)
    assert sorted(offered_to(core, 5)) == [("c1", "a1"), ("c2", "a2")]


def test_changed_relax_steps_apply_to_waiting_calls_and_to_next_wakeup():
    core = requirement_core()
    assert core.next_wakeup() is None  # no relaxation configured
    core.reconfigure(with_queue(core, "q", relax_steps=(RelaxStep(30, 3),)), 10)
    assert core.next_wakeup() == 31  # c1 entered at 1: relaxes at 31
    core.agent_login("a1", 12)
    assert offered_to(core, 30.9) == []
    assert offered_to(core, 31) == [("c1", "a1")]
    assert core.calls["c2"].relax_steps == (RelaxStep(30, 3),)  # relax steps always follow the queue


def test_relax_step_already_passed_applies_at_once():
    core = requirement_core()
    core.agent_login("a1", 50)
    assert offered_to(core, 50) == []
    core.reconfigure(with_queue(core, "q", relax_steps=(RelaxStep(20, 1),)), 60)
    assert offered_to(core, 60) == [("c1", "a1")]


# (old max wait, new max wait, reconfigured at, expected exit time or None)
MAX_WAIT = [
    (100.0, 30.0, 50.0, 50.0),  # shortened below the current wait: exits at the next tick
    (100.0, 60.0, 50.0, 70.0),  # shortened, not reached yet: entered at 10, exits at 70
    (100.0, 200.0, 50.0, 210.0),  # lengthened
    (100.0, None, 50.0, None),  # removed: never exits
    (None, 45.0, 50.0, 55.0),  # added
    (None, 20.0, 50.0, 50.0),  # added, already past
]


@pytest.mark.parametrize("old,new,at,exit_at", MAX_WAIT)
def test_max_wait_timers_follow_the_new_max_wait(old, new, at, exit_at):
    core, rec = make_core(QueueConfig("q", max_wait_seconds=old, timeout_destination=VOICEMAIL), (agent("a1"),), login_at=None)
    core.call_arrived("c1", ["q"], "", 10)
    core.reconfigure(with_queue(core, "q", max_wait_seconds=new), at)
    assert core.next_wakeup() == exit_at
    assert core.armed_timers("q") == ((ArmedTimer(exit_at, "max_wait", "c1", queue="q"),) if exit_at is not None else ())
    if exit_at is None:
        assert core.tick(10_000).exits == []
        assert "c1" in core.calls
        return
    if exit_at > at:
        assert core.tick(exit_at - 0.01).exits == []
    assert core.tick(exit_at + 0.02).exits == [Exit("c1", "q", ExitReason.TIMEOUT, VOICEMAIL)]
    (event,) = rec.kinds(K.EXITWITHTIMEOUT)
    assert event.time == exit_at


def test_armed_timers_name_each_timer_that_still_matters_by_queue():
    queues = (QueueConfig("q", max_wait_seconds=100.0, wrapup_seconds=30.0, ring_timeout_seconds=15.0, retry_seconds=20.0),
              QueueConfig("r", ring_timeout_seconds=10.0))
    core, _ = make_core(queues, (agent("a1"), agent("a2"), agent("b1", {"r": 0})))
    core.call_arrived("c1", ["q"], "", 1)  # max wait until 101
    core.tick(1)  # rings a1 or a2 until 16
    first = next(a for a in ("a1", "a2") if core.agents[a].offer is not None)
    core.offer_answered("c1", first, 2)  # its ring timer no longer matters
    core.call_ended("c1", 5)  # wrap-up until 35
    core.call_arrived("c2", ["q"], "", 6)
    core.tick(6)
    second = "a2" if first == "a1" else "a1"
    core.offer_failed("c2", second, 7, OfferFailure.REJECTED)  # retry cooldown ends at 27
    core.call_arrived("c3", ["r"], "", 8)
    core.tick(8)  # rings b1 until 18
    # c1's ring and max wait went with its answer and end; c2 waits until 106 at most.
    expected_q = (ArmedTimer(35.0, "wrapup", agent_id=first, queue="q"), ArmedTimer(106.0, "max_wait", "c2", queue="q"))
    assert core.armed_timers("q") == expected_q
    assert core.armed_timers("r") == (ArmedTimer(18.0, "ring", "c3", "b1", "r"),)
    everything = core.armed_timers()
    assert everything == (ArmedTimer(18.0, "ring", "c3", "b1", "r"), ArmedTimer(27.0, "wake"), *expected_q)
    assert everything[0].when == core.next_wakeup()
    assert core.armed_timers("nope") == ()


def test_a_running_wrapup_keeps_its_end_and_the_next_uses_the_new_time():
    core, rec = make_core(QueueConfig("q", wrapup_seconds=30.0), (agent("a1"),))
    core.call_arrived("c1", ["q"], "", 1)
    core.tick(1)
    core.offer_answered("c1", "a1", 2)
    core.call_ended("c1", 10)  # wrap-up until 40
    core.reconfigure(with_queue(core, "q", wrapup_seconds=5.0), 12)
    assert core.next_wakeup() == 40
    core.tick(39)
    assert core.agents["a1"].state is AgentState.WRAP_UP
    core.tick(40)
    assert core.agents["a1"].state is AgentState.AVAILABLE
    core.call_arrived("c2", ["q"], "", 50)
    core.tick(50)
    core.offer_answered("c2", "a1", 51)
    core.call_ended("c2", 60)
    assert core.agents["a1"].wrapup_deadline == 65


def test_retry_cooldown_follows_the_new_retry_and_next_wakeup():
    core, _ = make_core(QueueConfig("q", retry_seconds=30.0), (agent("a1"),))
    core.call_arrived("c1", ["q"], "", 1)
    core.tick(1)
    core.offer_failed("c1", "a1", 5, OfferFailure.REJECTED)
    assert core.next_wakeup() == 35
    core.reconfigure(with_queue(core, "q", retry_seconds=10.0), 6)
    assert core.next_wakeup() == 15
    assert offered_to(core, 14.9) == []
    assert offered_to(core, 15) == [("c1", "a1")]


def test_leave_when_empty_set_by_a_reconfiguration_empties_at_the_next_tick():
    core, rec = make_core(QueueConfig("q", empty_destination=VOICEMAIL), (agent("a1"),))
    core.agent_pause("a1", "lunch", 1)
    core.call_arrived("c1", ["q"], "", 2)
    assert core.tick(3).exits == []
    core.reconfigure(with_queue(core, "q", leavewhenempty=frozenset({EmptyCondition.PAUSED})), 4)
    assert core.tick(4).exits == [Exit("c1", "q", ExitReason.EMPTY, VOICEMAIL)]


def test_joinempty_and_maxlen_apply_to_new_calls_only():
    core, _ = make_core(QueueConfig("q"), (agent("a1"),), login_at=None)
    core.call_arrived("c1", ["q"], "", 1)
    core.call_arrived("c2", ["q"], "", 2)
    core.reconfigure(with_queue(core, "q", maxlen=1, timeout_destination=VOICEMAIL), 3)
    assert set(core.calls) == {"c1", "c2"}  # already waiting: they stay
    refused = core.call_arrived("c3", ["q"], "", 4)
    assert (refused.joined, refused.reason, refused.destination) == (False, "full", VOICEMAIL)
    core.reconfigure(with_queue(core, "q", maxlen=0, joinempty=frozenset()), 5)
    assert core.call_arrived("c4", ["q"], "", 6).reason == "joinempty"


def test_default_aht_and_smoothing():
    core, _ = make_core((QueueConfig("q"), QueueConfig("r")), (agent("a1"),))
    core.call_arrived("c1", ["q"], "", 0)
    core.tick(0)
    core.offer_answered("c1", "a1", 0)
    core.call_ended("c1", 100)  # q: one sample of 100 s
    core.reconfigure(
        changed(core, queues=(QueueConfig("q", default_aht_seconds=60), QueueConfig("r", default_aht_seconds=60)),
                aht_smoothing=0.5),
        101,
    )
    assert (core.aht["q"].value, core.aht["r"].value) == (100.0, 60.0)  # measured mean kept
    core.call_arrived("c2", ["q"], "", 102)
    core.tick(102)
    core.offer_answered("c2", "a1", 102)
    core.call_ended("c2", 302)
    assert core.aht["q"].value == 150.0  # 100 + 0.5 x (200 - 100)


# ------------------------------------------------------------------ member order, rrmemory


def test_linear_follows_the_new_member_order():
    core, _ = make_core(QueueConfig("q", strategy=Strategy.LINEAR), (agent("a1"), agent("a2"), agent("a3")))
    out = core.reconfigure(changed(core, agents=(agent("a3"), agent("a1"), agent("a2"))), 1)
    assert out.summary == ("queue q: member order a1,a2,a3 -> a3,a1,a2",)
    core.call_arrived("c1", ["q"], "", 2)
    assert offered_to(core, 2) == [("c1", "a3")]


# (old order, offered last, new order, next offered)
RR = [
    (("a1", "a2", "a3"), "a1", ("a1", "a2", "a3"), "a2"),
    (("a1", "a2", "a3"), "a1", ("a3", "a1", "a2"), "a2"),  # memory kept on the same agent
    (("a1", "a2", "a3"), "a1", ("a2", "a3", "a1"), "a2"),  # a1 last in the new order: wraps round
    (("a1", "a2", "a3"), "a2", ("a1", "a3"), "a3"),  # the agent offered last was removed: its follower
    (("a1", "a2", "a3"), "a3", ("a2", "a1"), "a1"),  # a3 gone; it wrapped to a1, which stays
]


@pytest.mark.parametrize("old,last,new,expected", RR)
def test_rrmemory_memory_survives_and_follows_the_new_order(old, last, new, expected):
    core, _ = make_core(QueueConfig("q", strategy=Strategy.RRMEMORY), tuple(agent(a) for a in old), login_at=None)
    core.agent_login(last, 0)
    core.call_arrived("c0", ["q"], "", 1)
    assert offered_to(core, 1) == [("c0", last)]
    core.offer_answered("c0", last, 1)
    core.call_ended("c0", 2)
    core.reconfigure(changed(core, agents=tuple(agent(a) for a in new)), 3)
    for name in new:
        if core.agents[name].state is AgentState.LOGGED_OUT:
            core.agent_login(name, 4)
    core.call_arrived("c1", ["q"], "", 5)
    assert offered_to(core, 5) == [("c1", expected)]


def test_rr_memory_mapping_edges():
    members = [Agent(AgentConfig(name), {}) for name in ("a", "b", "c")]
    assert rr_memory(members, members[:0], 1) == -1  # nobody left
    assert rr_memory(members, members, -1) == -1  # nothing offered yet
    assert rr_memory(members, [members[2]], 0) == -1  # b gone too: c next, which is index 0 (-1 + 1)
    assert rr_memory(members, [members[1], members[0]], 0) == 1


def test_strategy_switch_away_and_back_keeps_rrmemory():
    core, _ = make_core(QueueConfig("q", strategy=Strategy.RRMEMORY), (agent("a1"), agent("a2"), agent("a3")))
    core.call_arrived("c1", ["q"], "", 1)
    assert offered_to(core, 1) == [("c1", "a1")]
    core.offer_answered("c1", "a1", 1)
    core.call_ended("c1", 2)
    core.reconfigure(with_queue(core, "q", strategy=Strategy.LINEAR), 3)
    core.reconfigure(with_queue(core, "q", strategy=Strategy.RRMEMORY), 4)
    core.call_arrived("c2", ["q"], "", 5)
    assert offered_to(core, 5) == [("c2", "a2")]


# ------------------------------------------------------------------ queues added and removed


def test_an_added_queue_takes_calls_at_once_and_logged_in_members_join_it():
    core, rec = make_core(QueueConfig("q"), (agent("a1"), agent("a2"), agent("a3")), login_at=None)
    core.agent_login("a1", 0)
    core.agent_login("a2", 0, paused_reason="lunch")
    mark = len(rec.events)
    new_agents = (agent("a1", {"q": 0, "new": 0}), agent("a2", {"q": 0, "new": 1}), agent("a3", {"new": 0}))
    out = core.reconfigure(changed(core, queues=(QueueConfig("q"), QueueConfig("new")), agents=new_agents), 5)
    assert "queue new added" in out.summary
    adds = [(e.queue, e.agent, e.reason) for e in after(rec, mark, K.ADDMEMBER)]
    assert adds == [("new", "a1", ""), ("new", "a2", "PAUSED")]  # a3 is logged out
    assert core.agents["a1"].logged_queues == ("q", "new")
    assert core.call_arrived("c1", ["new"], "", 6).joined
    assert offered_to(core, 6) == [("c1", "a1")]
    core.agent_login("a3", 7)
    assert core.agents["a3"].logged_queues == ("new",)


def removal_core(**settings):
    """q (timeout to voicemail) and keep; c1 in q, c2 in q and keep, c3 in keep; a1 rings c1."""
    queues = (QueueConfig("q", timeout_destination=VOICEMAIL, wrapup_seconds=20.0, **settings), QueueConfig("keep"))
    core, rec = make_core(queues, (agent("a1", {"q": 0}), agent("a2", {"keep": 0})), login_at=None)
    core.agent_login("a1", 0)
    core.call_arrived("c1", ["q"], "+331", 1)
    core.call_arrived("c2", ["q", "keep"], "", 2)
    core.call_arrived("c3", ["keep"], "", 3)
    assert offered_to(core, 3) == [("c1", "a1")]
    return core, rec


def test_removing_a_queue_exits_its_calls_and_withdraws_their_offers():
    core, rec = removal_core()
    mark = len(rec.events)
    out = core.reconfigure(changed(core, queues=(QueueConfig("keep"),), agents=(agent("a2", {"keep": 0}),)), 10)
    assert out.exits == [Exit("c1", "q", ExitReason.REMOVED, VOICEMAIL)]
    assert [(o.call_id, o.agent_id) for o in out.cancelled] == [("c1", "a1")]
    (exit_event,) = after(rec, mark, K.EXITEMPTY)
    assert (exit_event.call_id, exit_event.queue, exit_event.reason, exit_event.wait) == ("c1", "q", "queue_removed", 9)
    assert not after(rec, mark, K.RINGNOANSWER, K.RINGCANCELED)
    assert "c1" not in core.calls
    assert core.calls["c2"].queues == ("keep",)  # lost q; keep is now its primary
    assert (core.position("c2"), core.position("c3")) == (1, 2)
    assert "queue q removed" in out.summary


def test_a_call_whose_primary_queue_is_removed_takes_the_next_ones_settings():
    queues = (QueueConfig("q", required_skills={"fr": 5}), QueueConfig("r", required_skills={"de": 2}, max_wait_seconds=60.0))
    core, _ = make_core(queues, (agent("a1", {"r": 0}, de=2),), login_at=None)
    core.call_arrived("c1", ["q", "r"], "", 10)
    assert core.next_wakeup() is None  # max wait comes from the primary, q: none
    core.reconfigure(changed(core, queues=(queues[1],)), 20)
    call = core.calls["c1"]
    assert (call.queues, call.requirements) == (("r",), {"de": 2})
    assert core.next_wakeup() == 70
    core.agent_login("a1", 21)
    assert offered_to(core, 21) == [("c1", "a1")]


def test_a_call_ringing_through_a_removed_queue_waits_again_in_its_other_queue():
    queues = (QueueConfig("q"), QueueConfig("r"))
    core, rec = make_core(queues, (agent("a1", {"q": 0}), agent("a2", {"r": 0})), login_at=None)
    core.agent_login("a1", 0)
    core.call_arrived("c1", ["r", "q"], "", 1)
    assert offered_to(core, 1) == [("c1", "a1")]  # through q
    out = core.reconfigure(changed(core, queues=(queues[1],), agents=(agent("a2", {"r": 0}),)), 5)
    assert [(o.call_id, o.agent_id, o.queue) for o in out.cancelled] == [("c1", "a1", "q")]
    assert out.exits == []
    assert core.calls["c1"].state is CallState.WAITING
    core.agent_login("a2", 6)
    assert offered_to(core, 6) == [("c1", "a2")]


def test_a_connected_call_of_a_removed_queue_goes_on_with_the_old_wrapup():
    core, rec = removal_core()
    core.offer_answered("c1", "a1", 4)
    core.reconfigure(changed(core, queues=(QueueConfig("keep"),), agents=(agent("a1", {"keep": 0}),)), 10)
    assert core.calls["c1"].state is CallState.CONNECTED
    assert set(core.retired_queues) == {"q"}
    core.call_ended("c1", 30)
    assert core.agents["a1"].wrapup_deadline == 50  # q's 20 s
    (complete,) = rec.kinds(K.COMPLETECALLER)
    assert complete.queue == "q"
    assert offered_to(core, 49.9) == []
    assert offered_to(core, 50) == [("c2", "a1")]  # wrap-up over: a1 takes calls of keep
    core.reconfigure(changed(core, autopause_after_missed=2), 60)
    assert core.retired_queues == {}  # nothing names q any more


def test_removed_queue_members_get_removemember_and_stay_in_their_other_queues():
    queues = (QueueConfig("q"), QueueConfig("r"))
    core, rec = make_core(queues, (agent("a1", {"q": 0, "r": 0}),))
    mark = len(rec.events)
    core.reconfigure(changed(core, queues=(queues[1],), agents=(agent("a1", {"r": 0}),)), 5)
    assert [(e.queue, e.agent) for e in after(rec, mark, K.REMOVEMEMBER)] == [("q", "a1")]
    assert core.agents["a1"].logged_queues == ("r",)
    assert core.router.available == {"r": {"a1": core.agents["a1"]}}


def test_removing_the_last_queue_of_an_agent_logs_them_out():
    queues = (QueueConfig("q"), QueueConfig("r"))
    core, rec = make_core(queues, (agent("a1", {"q": 0}),))
    core.reconfigure(changed(core, queues=(queues[1],), agents=(agent("a1", {}),)), 5)
    assert core.agents["a1"].state is AgentState.LOGGED_OUT
    with pytest.raises(FirmwareError, match="not a member"):
        core.agent_login("a1", 6)


DESTINATIONS = [
    (VOICEMAIL, {"a": None}, VOICEMAIL),
    (Destination(DestinationKind.QUEUE, "b"), {"a": None, "b": None, "c": None}, Destination(DestinationKind.QUEUE, "b")),
    (Destination(DestinationKind.QUEUE, "b"), {"a": None, "c": None}, Destination(DestinationKind.QUEUE, "c")),  # b -> c
    (Destination(DestinationKind.QUEUE, "b"), {"a": None}, HANGUP),  # b -> c -> (removed) b: a loop
]


@pytest.mark.parametrize("destination,survivors,expected", DESTINATIONS)
def test_an_exit_never_names_a_removed_queue(destination, survivors, expected):
    old = {
        "a": QueueConfig("a", timeout_destination=destination),
        "b": QueueConfig("b", timeout_destination=Destination(DestinationKind.QUEUE, "c")),
        "c": QueueConfig("c", timeout_destination=Destination(DestinationKind.QUEUE, "b")),
    }
    assert surviving_destination(destination, old, survivors) == expected


def test_removing_every_queue_drains_the_core():
    core, rec = removal_core()
    core.agent_login("a2", 4)
    out = core.reconfigure(changed(core, queues=(), agents=()), 10)
    assert [(e.call_id, e.queue, e.destination) for e in out.exits] == [
        ("c1", "q", VOICEMAIL), ("c2", "q", VOICEMAIL), ("c3", "keep", HANGUP)
    ]
    assert (core.calls, core.agents, core.queues, core.waiting.classes) == ({}, {}, {}, {})
    assert core.next_wakeup() is None
    assert core.tick(11).offers == []
    with pytest.raises(FirmwareError, match="no queue"):
        core.call_arrived("c9", ["q"], "", 12)
    core.reconfigure(changed(core, queues=(QueueConfig("q"),), agents=(agent("a1"),)), 20)  # and back
    core.agent_login("a1", 21)
    core.call_arrived("c9", ["q"], "", 22)
    assert offered_to(core, 22) == [("c9", "a1")]


def test_a_core_starts_with_at_least_one_queue():
    with pytest.raises(FirmwareError, match="at least one queue"):
        AcdCore(AcdConfig(queues=()), random.Random(1))


def test_statistics_take_events_of_a_removed_queue():
    core, rec = removal_core()
    stats = StatsCollector.for_config(core.config)
    core.listeners.append(stats)
    core.offer_answered("c1", "a1", 4)
    new = changed(core, queues=(QueueConfig("keep"),), agents=(agent("a1", {"keep": 0}), agent("a2", {"keep": 0})))
    core.reconfigure(new, 10)
    fresh = StatsCollector.for_config(new)  # knows nothing of q
    core.listeners.append(fresh)
    core.call_ended("c1", 30)
    core.tick(60)
    core.checkpoint(70)
    assert stats.queue_stats("q").completed == 1
    assert fresh.queue_stats("q").completed == 1
    assert fresh.queue_stats("q").wrapup_seconds == 20.0


# ------------------------------------------------------------------ callbacks of removed queues


def callback_removal():
    """c1 is being dialled back by a1, c2 is parked; then q, their only queue, is removed."""
    queues = (QueueConfig("q", callback=CallbackPolicy(3, 60.0)), QueueConfig("keep"))
    core, rec = make_core(queues, (agent("a1", {"q": 0, "keep": 0}),), login_at=None)
    core.call_arrived("c1", ["q"], "", 1)
    core.callback_requested("c1", "15550001", 2)
    core.call_arrived("c2", ["q"], "", 3)
    core.callback_requested("c2", "15550002", 3)
    core.agent_login("a1", 4)
    assert offered_to(core, 4) == [("c1", "a1")]
    core.offer_answered("c1", "a1", 5)  # dialling the caller back
    new = changed(core, queues=(QueueConfig("keep"),), agents=(agent("a1", {"keep": 0}),))
    return core, rec, core.reconfigure(new, 6)


def test_a_parked_callback_of_a_removed_queue_leaves_and_the_dialling_one_goes_on():
    core, rec, out = callback_removal()
    assert [(e.call_id, e.reason) for e in out.exits] == [("c2", ExitReason.REMOVED)]
    assert core.calls["c1"].state is CallState.DIALING
    assert core.position("c1") == 0  # no longer listed anywhere
    core.callback_result("c1", True, 10)
    core.call_ended("c1", 40)
    (connect,) = rec.kinds(K.CONNECT)
    assert connect.queue == "q"
    assert core.agents["a1"].state is AgentState.AVAILABLE


def test_a_dialling_callback_of_a_removed_queue_that_fails_is_not_retried():
    core, rec, _ = callback_removal()
    core.callback_result("c1", False, 10)
    assert "c1" not in core.calls
    abandon = rec.kinds(K.ABANDON)[-1]
    assert (abandon.call_id, abandon.reason, abandon.position) == ("c1", "callback_failed", 0)
    assert core.agents["a1"].state is AgentState.AVAILABLE
    assert core.next_wakeup() is None


# ------------------------------------------------------------------ agents


def test_an_added_agent_is_logged_out_and_can_log_in():
    core, rec = make_core(QueueConfig("q"), (agent("a1"),))
    out = core.reconfigure(changed(core, agents=(agent("a1"), agent("a2", fr=4))), 10)
    assert out.summary == ("agent a2 added",)
    added = core.agents["a2"]
    assert (added.state, added.state_since, added.skills) == (AgentState.LOGGED_OUT, 10, {"fr": 4})
    assert core.members["q"] == [core.agents["a1"], added]
    core.agent_login("a2", 11)
    assert core.staffed("q") == 2


def removal_case(state: str):
    """a1 in the given state, a2 available; returns core, recorder."""
    core, rec = make_core(QueueConfig("q", wrapup_seconds=10.0, strategy=Strategy.RINGALL), (agent("a1"), agent("a2")),
                          login_at=None)
    if state == "loggedout":
        return core, rec
    core.agent_login("a1", 0)
    if state == "paused":
        core.agent_pause("a1", "lunch", 1)
    elif state in ("ringing", "oncall", "wrapup"):
        core.call_arrived("c1", ["q"], "", 1)
        assert offered_to(core, 1) == [("c1", "a1")]
        if state != "ringing":
            core.offer_answered("c1", "a1", 2)
        if state == "wrapup":
            core.call_ended("c1", 5)
    core.agent_login("a2", 6)
    return core, rec


# (state, logged out at once, summary suffix)
REMOVAL = [
    ("loggedout", True, ""),
    ("available", True, ""),
    ("paused", True, ""),
    ("ringing", True, ""),
    ("oncall", False, " (after current call)"),
    ("wrapup", False, " (after current call)"),
]


@pytest.mark.parametrize("state,at_once,suffix", REMOVAL, ids=[case[0] for case in REMOVAL])
def test_removing_an_agent(state, at_once, suffix):
    core, rec = removal_case(state)
    mark = len(rec.events)
    out = core.reconfigure(changed(core, agents=(agent("a2"),)), 7)
    assert out.summary == ("agent a1 removed" + suffix,)
    assert ("a1" not in core.agents) == at_once
    removes = [(e.queue, e.agent) for e in after(rec, mark, K.REMOVEMEMBER)]
    assert removes == ([] if state == "loggedout" else [("q", "a1")])
    assert not after(rec, mark, K.RINGNOANSWER)
    assert core.members["q"] == [core.agents["a2"]]
    if state == "ringing":
        assert [(o.call_id, o.agent_id) for o in out.cancelled] == [("c1", "a1")]
        assert offered_to(core, 8) == [("c1", "a2")]  # the call waited again
    else:
        assert out.cancelled == []
    if state == "oncall":
        core.call_ended("c1", 20)  # the call refers to a1: still works
        assert core.agents["a1"].state is AgentState.WRAP_UP
        assert core.next_wakeup() == 30
        core.tick(30)
    elif state == "wrapup":
        core.tick(15)
    if not at_once:
        assert "a1" not in core.agents
        last = rec.kinds(K.AGENTSTATE)[-1]
        assert (last.agent, last.from_state, last.to_state) == ("a1", "wrapup", "loggedout")
        assert after(rec, mark, K.REMOVEMEMBER) == [e for e in after(rec, mark, K.REMOVEMEMBER) if e.time == 7]


def test_removing_an_agent_ringing_in_a_ringall_group_withdraws_only_their_offer():
    core, rec = make_core(QueueConfig("q", strategy=Strategy.RINGALL), (agent("a1"), agent("a2"), agent("a3")))
    core.call_arrived("c1", ["q"], "", 1)
    assert sorted(offered_to(core, 1)) == [("c1", "a1"), ("c1", "a2"), ("c1", "a3")]
    out = core.reconfigure(changed(core, agents=(agent("a1"), agent("a3"))), 3)
    assert [(o.call_id, o.agent_id) for o in out.cancelled] == [("c1", "a2")]
    call = core.calls["c1"]
    assert (call.state, sorted(call.offers)) == (CallState.OFFERING, ["a1", "a3"])
    assert offered_to(core, 3) == []  # still offered once
    core.offer_answered("c1", "a3", 4)
    assert core.agents["a1"].state is AgentState.AVAILABLE


def test_a_removed_agent_readded_while_on_a_call_stays_logged_in():
    core, rec = removal_case("oncall")
    core.reconfigure(changed(core, agents=(agent("a2"),)), 7)
    core.reconfigure(changed(core, agents=(agent("a2"), agent("a1"))), 8)
    assert [(e.queue, e.agent) for e in rec.kinds(K.ADDMEMBER)][-1] == ("q", "a1")
    core.call_ended("c1", 10)
    core.tick(20)
    assert core.agents["a1"].state is AgentState.AVAILABLE
    assert core.members["q"] == [core.agents["a2"], core.agents["a1"]]


def test_queue_and_penalty_changes_of_a_logged_in_agent():
    queues = (QueueConfig("q"), QueueConfig("r"), QueueConfig("s"))
    core, rec = make_core(queues, (agent("a1", {"q": 0, "r": 0}), agent("a2", {"q": 1, "r": 0})))
    core.call_arrived("c1", ["q"], "", 1)
    assert offered_to(core, 1) == [("c1", "a1")]  # penalty 0 first
    mark = len(rec.events)
    out = core.reconfigure(changed(core, agents=(agent("a1", {"r": 0, "s": 2}), agent("a2", {"q": 0, "r": 0}))), 2)
    assert [(e.kind, e.queue, e.agent) for e in after(rec, mark, K.ADDMEMBER, K.REMOVEMEMBER)] == [
        (K.REMOVEMEMBER, "q", "a1"),
        (K.ADDMEMBER, "s", "a1"),
    ]
    assert core.agents["a1"].offer is not None  # the ringing offer stays
    assert out.cancelled == []
    assert "agent a1: queues q:0,r:0 -> r:0,s:2" in out.summary
    core.offer_answered("c1", "a1", 3)
    core.call_arrived("c2", ["q"], "", 4)
    assert offered_to(core, 4) == [("c2", "a2")]  # a2's new penalty 0; a1 no longer in q


def test_an_agent_left_without_queues_on_a_call_logs_out_after_wrapup_and_stays_configured():
    queues = (QueueConfig("q", wrapup_seconds=10.0), QueueConfig("r"))
    core, rec = make_core(queues, (agent("a1", {"q": 0, "r": 0}),), login_at=None)
    core.agent_login("a1", 0, queues=["q"])
    core.call_arrived("c1", ["q"], "", 1)
    core.tick(1)
    core.offer_answered("c1", "a1", 2)
    mark = len(rec.events)
    core.reconfigure(changed(core, agents=(agent("a1", {"r": 0}),)), 3)  # lost q; r was not logged into
    assert [(e.kind, e.queue) for e in after(rec, mark, K.REMOVEMEMBER, K.ADDMEMBER)] == [(K.REMOVEMEMBER, "q")]
    assert core.agents["a1"].state is AgentState.ON_CALL
    core.call_ended("c1", 5)
    core.tick(15)
    assert core.agents["a1"].state is AgentState.LOGGED_OUT
    core.agent_login("a1", 16)
    assert core.agents["a1"].logged_queues == ("r",)


def test_a_call_takes_its_requirements_from_the_first_queue_that_accepted_it():
    """The rule a reconfiguration keeps: a full first queue does not lend its requirements."""
    queues = (QueueConfig("q", maxlen=1, required_skills={"fr": 9}), QueueConfig("r", required_skills={"de": 1}))
    core, _ = make_core(queues, (agent("a1", {"r": 0}, de=1),), login_at=None)
    core.call_arrived("c1", ["q"], "", 1)
    assert core.call_arrived("c2", ["q", "r"], "", 2).queues == ("r",)
    assert core.calls["c2"].requirements == {"de": 1}
    core.agent_login("a1", 3)
    assert offered_to(core, 3) == [("c2", "a1")]


def test_skill_changes_apply_to_the_next_decision():
    core, _ = make_core(QueueConfig("q", required_skills={"fr": 5}), (agent("a1", fr=3),))
    core.call_arrived("c1", ["q"], "", 1)
    assert offered_to(core, 1) == []
    core.reconfigure(changed(core, agents=(agent("a1", fr=6),)), 2)
    assert offered_to(core, 2) == [("c1", "a1")]


# ------------------------------------------------------------------ settings


def test_vip_changes_apply_to_new_calls_only():
    core, _ = make_core(QueueConfig("q"), (agent("a1"),), login_at=None)
    core.call_arrived("c1", ["q"], "+331", 1)
    core.call_arrived("c2", ["q"], "+332", 2)
    core.reconfigure(changed(core, vip_callers={"+332": 5, "+333": 5}), 3)
    assert core.calls["c2"].priority == 0  # not re-prioritised
    core.call_arrived("c3", ["q"], "+333", 4)
    assert [core.position(c) for c in ("c3", "c1", "c2")] == [1, 2, 3]


def test_autopause_and_abandon_resume_apply_from_now():
    core, rec = make_core(QueueConfig("q", retry_seconds=0.0), (agent("a1"),), abandon_resume_seconds=0.0)
    core.reconfigure(changed(core, autopause_after_missed=1, abandon_resume_seconds=60.0), 1)
    core.call_arrived("c1", ["q"], "+331", 2)
    core.tick(2)
    core.offer_failed("c1", "a1", 3)
    assert core.agents["a1"].state is AgentState.PAUSED
    core.caller_abandoned("c1", 4)
    assert core.call_arrived("c2", ["q"], "+331", 30).resumed
    core.caller_abandoned("c2", 31)
    core.reconfigure(changed(core, abandon_resume_seconds=5.0), 32)
    core.tick(32)
    assert not core.call_arrived("c3", ["q"], "+331", 40).resumed


# ------------------------------------------------------------------ queue_log


def test_queue_log_lines_of_a_reconfiguration():
    queues = (QueueConfig("sales", timeout_destination=VOICEMAIL), QueueConfig("support"))
    core, _ = make_core(queues, (agent("1001", {"sales": 0}), agent("1002", {"sales": 0, "support": 0})), login_at=None)
    stream = io.StringIO()
    core.listeners.append(QueueLogWriter(stream))
    t = 1_700_000_000.0
    core.agent_login("1001", t)
    core.agent_login("1002", t, paused_reason="lunch")
    core.call_arrived("c1", ["sales"], "+331", t + 1)
    core.tick(t + 1)
    new = AcdConfig(queues=(QueueConfig("support"), QueueConfig("billing")),
                    agents=(agent("1002", {"support": 0, "billing": 0}), agent("1003", {"billing": 0})))
    core.reconfigure(new, t + 9)
    assert stream.getvalue().splitlines() == [
        "1700000000|NONE|sales|1001|ADDMEMBER|",
        "1700000000|NONE|sales|1002|ADDMEMBER|PAUSED",
        "1700000000|NONE|support|1002|ADDMEMBER|PAUSED",
        "1700000001|c1|sales|NONE|ENTERQUEUE||+331|1",
        "1700000009|NONE|sales|1001|REMOVEMEMBER|",  # 1001 removed while ringing: logged out
        "1700000009|c1|sales|NONE|EXITEMPTY|1|1|8",  # its only queue removed
        "1700000009|NONE|sales|1002|REMOVEMEMBER|",
        "1700000009|NONE|billing|1002|ADDMEMBER|PAUSED",
    ]


# ------------------------------------------------------------------ random run: indexes and decisions

SKILLS = ("en", "fr", "de")
DETERMINISTIC = [s for s in Strategy if s not in (Strategy.RANDOM, Strategy.WRANDOM)]
CONFIG_SLOTS = {"agent_id", "skills", "penalties", "member_index"}


def random_queue(rng: random.Random, name: str, names: list[str]) -> QueueConfig:
    skills = {skill: rng.randint(1, 8) for skill in rng.sample(SKILLS, rng.randint(0, 2))}
    relax = rng.choice([(), (RelaxStep(20, 3),), (RelaxStep(10, 4), RelaxStep(40, 0))])
    other = rng.choice(names)
    return QueueConfig(
        name,
        strategy=rng.choice(DETERMINISTIC),
        ring_timeout_seconds=rng.choice([5.0, 15.0]),
        retry_seconds=rng.choice([0.0, 5.0, 20.0]),
        wrapup_seconds=rng.choice([0.0, 5.0]),
        max_wait_seconds=rng.choice([None, 30.0, 90.0]),
        timeout_destination=rng.choice([HANGUP, VOICEMAIL, Destination(DestinationKind.QUEUE, other)]),
        leavewhenempty=rng.choice([None, None, frozenset({EmptyCondition.PAUSED})]),
        joinempty=rng.choice([None, None, frozenset()]),
        maxlen=rng.choice([0, 0, 6]),
        required_skills=skills,
        relax_steps=relax,
        skill_selection=rng.choice(list(SkillSelection)),
        callback=CallbackPolicy(2, 20.0),
    )


def random_config(rng: random.Random) -> AcdConfig:
    names = sorted(rng.sample(["q0", "q1", "q2", "q3"], rng.randint(1, 4)))
    queues = tuple(random_queue(rng, name, names) for name in names)
    agents = []
    for agent_id in rng.sample([f"a{i}" for i in range(8)], rng.randint(2, 8)):
        member_of = {name: rng.randint(0, 2) for name in rng.sample(names, rng.randint(0, len(names)))}
        skills = {skill: rng.randint(1, 10) for skill in rng.sample(SKILLS, rng.randint(0, 3))}
        agents.append(AgentConfig(agent_id, skills=skills, queues=member_of))
    return AcdConfig(queues=queues, agents=tuple(agents), autopause_after_missed=rng.choice([0, 2]),
                     abandon_resume_seconds=rng.choice([0.0, 30.0]), vip_callers={"+9": 3})


def mutate(rng: random.Random, config: AcdConfig) -> AcdConfig:
    """A few changes to ``config`` (sometimes a brand new one), kept valid."""
    if rng.random() < 0.15:
        return random_config(rng)
    queues = {queue.name: queue for queue in config.queues}
    agents = list(config.agents)
    for _ in range(rng.randint(1, 3)):
        what = rng.randrange(6)
        if what == 0 and len(queues) > 1:
            del queues[rng.choice(sorted(queues))]
        elif what == 1:
            name = rng.choice(["q0", "q1", "q2", "q3", "q4"])
            queues[name] = random_queue(rng, name, sorted(queues) + [name])
        elif what == 2:
            name = rng.choice(sorted(queues))
            fresh = random_queue(rng, name, sorted(queues))
            field_name = rng.choice(["strategy", "retry_seconds", "wrapup_seconds", "max_wait_seconds",
                                     "required_skills", "relax_steps", "skill_selection", "leavewhenempty"])
            queues[name] = dataclasses.replace(queues[name], **{field_name: getattr(fresh, field_name)})
        elif what == 3 and agents:
            agents.pop(rng.randrange(len(agents)))
        elif what == 4:
            agent_id = f"a{rng.randrange(10)}"
            member_of = {name: rng.randint(0, 2) for name in rng.sample(sorted(queues), rng.randint(0, len(queues)))}
            skills = {skill: rng.randint(1, 10) for skill in rng.sample(SKILLS, rng.randint(0, 3))}
            agents = [a for a in agents if a.agent_id != agent_id]
            agents.insert(rng.randint(0, len(agents)), AgentConfig(agent_id, skills=skills, queues=member_of))
        else:
            rng.shuffle(agents)
    names = set(queues)

    def keep(destination):
        return HANGUP if destination.kind is DestinationKind.QUEUE and destination.target not in names else destination

    fixed = tuple(dataclasses.replace(q, timeout_destination=keep(q.timeout_destination)) for q in queues.values())
    agents = [dataclasses.replace(a, queues={n: p for n, p in a.queues.items() if n in names}) for a in agents]
    return dataclasses.replace(config, queues=fixed, agents=tuple(agents))


def fresh_twin(core: AcdCore) -> AcdCore:
    """A core built from scratch from ``core.config``, then given the same agents' and calls'
    state (copied slot by slot); its indexes are built by adding from empty.

    This and :func:`with_timers` are the one place the tests set a core's private state
    (its routable count, sequence and offer counters, last event time, timers): a core rebuilt
    mid-life from copied state is what the property test compares the incremental one with, and
    the firmware has no such operation to make public. Everything else is read through the
    core's public surface."""
    twin = AcdCore(core.config, copy.deepcopy(core.router.rng), start=0.0)
    for agent_id, agent_now in core.agents.items():
        fresh = twin.agents.get(agent_id)
        if fresh is None:  # removed, logged out when the call ends: no longer configured
            fresh = twin.agents[agent_id] = Agent(AgentConfig(agent_id, skills=agent_now.skills), {})
            fresh.penalties = dict(agent_now.penalties)
        for slot in set(Agent.__slots__) - CONFIG_SLOTS:
            setattr(fresh, slot, copy.copy(getattr(agent_now, slot)))
    for call_id, call in core.calls.items():
        listed = call_id in core.waiting.calls
        requirements, relax_steps = call.requirements, call.relax_steps  # no longer used once connected
        if listed:  # from the primary queue's settings, as at arrival
            primary = twin.queues[call.queues[0]]
            requirements = dict(primary.required_skills) if call.skills_from_queue else call.requirements
            relax_steps = primary.relax_steps
        fresh = WaitingCall(call_id, call.caller_id, call.queues, call.priority, requirements, relax_steps,
                            call.enqueue_time, call.entered_at, call.seq)
        for slot in ("state", "offers", "declined", "callback_number", "callback_attempts", "agent_id",
                     "connect_queue", "connected_at", "offer_id", "resumed", "skills_from_queue"):
            setattr(fresh, slot, copy.copy(getattr(call, slot)))
        twin.calls[call_id] = fresh
        if listed:
            twin.waiting.add(fresh)
            if fresh.state is not CallState.WAITING:
                twin.waiting.make_unroutable(fresh)
    for each in twin.agents.values():
        if each.routable:
            twin.router.add_available(each)
            twin._routable += 1
    twin.router.rr_last = dict(core.router.rr_last)  # state, not an index: who was offered last
    twin.retired_queues = dict(core.retired_queues)
    twin.abandons = copy.deepcopy(core.abandons)
    twin._seq, twin._offer_ids, twin._last_event_time = core._seq, core._offer_ids, core._last_event_time
    return twin


def with_timers(core: AcdCore, twin: AcdCore) -> AcdCore:
    """The core's pending timers, pointing at the twin's agents and calls (a timer whose object
    moved on keeps pointing at the old object, so it stays stale in the twin too)."""

    def mapped(ref):
        if isinstance(ref, Agent) and core.agents.get(ref.agent_id) is ref:
            return twin.agents[ref.agent_id]
        if isinstance(ref, WaitingCall) and core.calls.get(ref.call_id) is ref:
            return twin.calls[ref.call_id]
        return ref

    twin._timers = [(when, seq, kind, mapped(ref), version) for when, seq, kind, ref, version in core._timers]
    return twin


def outcome(result) -> tuple:
    return (
        [(o.call_id, o.agent_id, o.queue, o.trace.rule) for o in result.offers],
        [(o.call_id, o.agent_id) for o in result.cancelled],
        result.exits,
    )


def indexes(core: AcdCore) -> dict:
    return {
        "queues": core.queues,
        "available": {q: set(agents) for q, agents in core.router.available.items()},
        "router_members": core.router.members,
        "routable": core.routable_agents,
        "members": {q: [a.agent_id for a in agents] for q, agents in core.members.items()},
        "agents": {a.agent_id: (a.member_index, a.penalties, a.skills) for a in core.agents.values()},
        "per_queue": core.waiting.per_queue,
        "classes": {sig: [entry[2].call_id for entry in c.entries] for sig, c in core.waiting.classes.items()},
        "calls": {c.call_id: (c.queues, c.requirement_items, c.relax_steps) for c in core.calls.values()},
        "leave_queues": core._leave_queues,
    }


def check(core: AcdCore, now: float) -> list:
    """The incremental state equals a rebuilt one and both cores route the same way."""
    for call in core.waiting.calls.values():
        assert (call.route_class is not None) == (call.state is CallState.WAITING)
        assert set(call.queues) <= set(core.queues)
    for each in core.agents.values():
        assert set(each.logged_queues) <= set(core.queues)
        assert each.state is AgentState.LOGGED_OUT or each.logged_queues or each.logout_after_work
    twin = fresh_twin(core)
    assert indexes(core) == indexes(twin)
    mine, theirs = core.next_decision(now), twin.next_decision(now)
    assert [(o.call_id, o.agent_id, o.queue, o.trace.rule) for o in mine] == [
        (o.call_id, o.agent_id, o.queue, o.trace.rule) for o in theirs
    ]
    return mine


def random_event(rng: random.Random, core: AcdCore, now: float, serial: list[int]) -> None:
    agents = list(core.agents.values())
    calls = list(core.calls.values())
    what = rng.choice([0, 0, 0, 3, 3, 4, 4, 4, 5, 5, 6, 7, 8, 9, 10])
    if what == 0:
        serial[0] += 1
        names = sorted(core.queues)
        queues = rng.sample(names, rng.randint(1, min(2, len(names))))
        skills = None if rng.random() < 0.6 else {rng.choice(SKILLS): rng.randint(1, 6)}
        core.call_arrived(f"c{serial[0]}", queues, rng.choice(["+1", "+2", "+9", ""]), now, skills=skills)
    elif what == 3:
        out = [a for a in agents if a.state is AgentState.LOGGED_OUT and a.penalties]
        if out:
            core.agent_login(rng.choice(out).agent_id, now, paused_reason=rng.choice([None, None, "x"]))
    elif what == 4:
        ringing = [a for a in agents if a.offer is not None]
        if ringing:
            chosen = rng.choice(ringing)
            if rng.random() < 0.6:
                core.offer_answered(chosen.offer.call_id, chosen.agent_id, now)
            else:
                core.offer_failed(chosen.offer.call_id, chosen.agent_id, now, rng.choice(list(OfferFailure)[:3]))
    elif what == 5:
        connected = [c for c in calls if c.state is CallState.CONNECTED]
        if connected:
            core.call_ended(rng.choice(connected).call_id, now, by_agent=rng.random() < 0.5)
    elif what == 6:
        waiting = [c for c in calls if c.state in (CallState.WAITING, CallState.OFFERING) and c.callback_number is None]
        if waiting:
            call = rng.choice(waiting)
            if rng.random() < 0.7:
                core.caller_abandoned(call.call_id, now)
            else:
                core.callback_requested(call.call_id, "5551", now)
    elif what == 7:
        dialing = [c for c in calls if c.state is CallState.DIALING]
        if dialing:
            core.callback_result(rng.choice(dialing).call_id, rng.random() < 0.5, now)
    elif what == 8:
        logged = [a for a in agents if a.state is not AgentState.LOGGED_OUT]
        if logged:
            chosen = rng.choice(logged)
            if chosen.state is AgentState.PAUSED:
                core.agent_unpause(chosen.agent_id, now)
            elif chosen.state is AgentState.ON_CALL:
                core.agent_pause(chosen.agent_id, "x", now)
            elif rng.random() < 0.5:
                core.agent_phone_busy(chosen.agent_id, not chosen.phone_busy, now)
            else:
                core.agent_logout(chosen.agent_id, now)
    elif what == 9:
        in_wrapup = [a for a in agents if a.state is AgentState.WRAP_UP]
        if in_wrapup:
            core.wrapup_end(rng.choice(in_wrapup).agent_id, now)
    else:
        out = core.reconfigure(mutate(rng, core.config), now)
        for exit_ in out.exits:  # an exit never names a queue that is gone
            assert exit_.destination.kind is not DestinationKind.QUEUE or exit_.destination.target in core.queues


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_events_and_reconfigurations_keep_the_indexes_consistent(seed):
    rng = random.Random(seed)
    core = AcdCore(random_config(rng), random.Random(seed))
    for agent_config in core.config.agents:
        if agent_config.queues and rng.random() < 0.7:
            core.agent_login(agent_config.agent_id, 0.0)
    now, serial, reconfigurations, offers = 0.0, [0], 0, 0
    for _ in range(500):
        now += rng.choice([0.0, 0.5, 2.0, 7.0])
        before = core.config
        random_event(rng, core, now, serial)
        reconfigurations += core.config is not before
        offers += len(check(core, now))
        wake = core.next_wakeup()
        if wake is not None and wake <= now + 5:
            now = max(now, wake)
            twin = with_timers(core, fresh_twin(core))  # leave-when-empty is checked afresh there
            result = core.tick(now)
            assert outcome(result) == outcome(twin.tick(now))
            offers += len(result.offers)
            check(core, now)
    assert reconfigurations >= 20 and offers >= 50  # the run did exercise both
