"""The reconfiguration plan alone (firmware/acd/reconfigure.py, ``plan_reconfiguration``): a pure
function of the core's facts and the new configuration, tested from tables without a core.
What applying a plan does to a running core is tests/test_acd_reconfigure.py."""

from __future__ import annotations

import copy

import pytest

from firmware.acd.agent_state import AgentState
from firmware.acd.core_types import MAXWAIT_TIMER, WAKE_TIMER
from firmware.acd.model import HANGUP, AcdConfig, AgentConfig, Destination, DestinationKind, QueueConfig
from firmware.acd.reconfigure import (
    AgentFacts,
    CallAction,
    CallFacts,
    CallMove,
    CoreFacts,
    LogOut,
    Membership,
    plan_reconfiguration,
)
from firmware.acd.waiting import CallState

S = AgentState
VOICEMAIL = Destination(DestinationKind.VOICEMAIL, "200")


def queue(name: str, **settings) -> QueueConfig:
    return QueueConfig(name, **settings)


def agent(agent_id: str, *queues: str) -> AgentConfig:
    return AgentConfig(agent_id, queues={name: 0 for name in queues})


def config(queues: tuple[QueueConfig, ...], agents: tuple[AgentConfig, ...]) -> AcdConfig:
    return AcdConfig(queues=queues, agents=agents).validate()


OLD = config((queue("a", timeout_destination=VOICEMAIL), queue("b"), queue("c")),
             (agent("1", "a", "b"), agent("2", "a"), agent("3", "b"), agent("4", "c")))


def facts(agents=(), calls=(), rr_last=None, old: AcdConfig = OLD) -> CoreFacts:
    members = {q.name: tuple(a.agent_id for a in old.agents if q.name in a.queues) for q in old.queues}
    return CoreFacts(old, tuple(agents), tuple(calls), members, rr_last or {})


def logged_in(agent_id: str, state: AgentState, *queues: str) -> AgentFacts:
    configured = tuple(next(a for a in OLD.agents if a.agent_id == agent_id).queues)
    return AgentFacts(agent_id, state, tuple(queues), configured)


def logged_out(agent_id: str) -> AgentFacts:
    return AgentFacts(agent_id, S.LOGGED_OUT, (), tuple(next(a for a in OLD.agents if a.agent_id == agent_id).queues))


def without_queue(name: str, *, agents: tuple[AgentConfig, ...] | None = None) -> AcdConfig:
    kept = tuple(q for q in OLD.queues if q.name != name)
    if agents is None:
        agents = tuple(AgentConfig(a.agent_id, queues={q: p for q, p in a.queues.items() if q != name})
                       for a in OLD.agents)
    return config(kept, agents)


def test_the_same_configuration_is_an_empty_plan():
    state = facts([logged_in("1", S.AVAILABLE, "a", "b")], [CallFacts("c1", CallState.WAITING, ("a",))])
    plan = plan_reconfiguration(state, copy.deepcopy(OLD))
    assert not plan.changed
    assert (plan.summary, plan.log_out, plan.calls, plan.memberships, plan.drop_timers) == ((), (), (), (), frozenset())


def test_a_changed_setting_drops_the_setting_timers_and_names_the_queue():
    new = config((queue("a", timeout_destination=VOICEMAIL, max_wait_seconds=60.0), queue("b"), queue("c")), OLD.agents)
    plan = plan_reconfiguration(facts([logged_in("1", S.AVAILABLE, "a", "b")]), new)
    assert plan.changed and plan.queues_changed == ("a",)
    assert (plan.queues_added, plan.queues_removed, plan.agents_changed) == ((), (), ())
    assert plan.drop_timers == frozenset({MAXWAIT_TIMER, WAKE_TIMER})
    assert plan.summary == ("queue a: max_wait_seconds none -> 60",)
    # Nothing to do for the agent but to stay as it is.
    assert plan.memberships == (Membership("1", ("a", "b")),)


# (what, calls before, new configuration, expected moves)
CALL_TABLE = [
    ("only in the removed queue: exits to its timeout destination",
     [CallFacts("c1", CallState.WAITING, ("a",))], without_queue("a"),
     (CallMove("c1", CallAction.EXIT, destination=VOICEMAIL),)),
    ("also in another queue: keeps that one; the offer through the removed one stops",
     [CallFacts("c1", CallState.OFFERING, ("a", "b"), (("1", "a"), ("3", "b")))], without_queue("a"),
     (CallMove("c1", CallAction.KEEP, ("b",), ("1",)),)),
    ("a callback being dialled back: no longer listed, the dial-out goes on",
     [CallFacts("c1", CallState.DIALING, ("a",))], without_queue("a"),
     (CallMove("c1", CallAction.UNLIST),)),
    ("a parked callback exits like a waiting call",
     [CallFacts("c1", CallState.PARKED, ("b",))], without_queue("b"),
     (CallMove("c1", CallAction.EXIT, destination=HANGUP),)),
    ("calls of the queues that stay: untouched",
     [CallFacts("c1", CallState.WAITING, ("b",)), CallFacts("c2", CallState.WAITING, ("c", "b"))], without_queue("a"),
     ()),
]


@pytest.mark.parametrize("what,calls,new,expected", CALL_TABLE, ids=[row[0] for row in CALL_TABLE])
def test_calls_of_removed_queues(what, calls, new, expected):
    plan = plan_reconfiguration(facts(calls=calls), new)
    assert plan.calls == expected
    assert plan.queues_removed == tuple(q.name for q in OLD.queues if q not in new.queues)


@pytest.mark.parametrize("chain,expected", [
    ((("a", "b"), ("b", None)), HANGUP),  # a -> b, both removed, b hangs up
    ((("a", "b"), ("b", "c")), Destination(DestinationKind.QUEUE, "c")),  # the first survivor of the chain
    ((("a", "b"), ("b", "a")), HANGUP),  # a loop of removed queues
])
def test_the_exit_destination_follows_the_chain_of_removed_queues(chain, expected):
    targets = dict(chain)
    old = config(tuple(queue(name, timeout_destination=Destination(DestinationKind.QUEUE, targets[name])
                             if targets.get(name) else HANGUP) for name in ("a", "b", "c")), ())
    new = config((queue("c"),), ())
    plan = plan_reconfiguration(facts(calls=[CallFacts("c1", CallState.WAITING, ("a",))], old=old), new)
    assert plan.calls == (CallMove("c1", CallAction.EXIT, destination=expected),)


# (what, agent before, new agents, expected log_out, memberships, forget)
AGENT_TABLE = [
    ("removed while logged out: forgotten", logged_out("2"), (agent("1", "a", "b"), agent("3", "b"), agent("4", "c")),
     (), (), ("2",)),
    ("removed while available: logged out now and dropped", logged_in("2", S.AVAILABLE, "a"),
     (agent("1", "a", "b"), agent("3", "b"), agent("4", "c")), (LogOut("2", True),), (), ()),
    ("removed on a call: no queues, logged out when the work ends", logged_in("2", S.ON_CALL, "a"),
     (agent("1", "a", "b"), agent("3", "b"), agent("4", "c")), (), (Membership("2", (), leave=("a",), removed=True),), ()),
    ("removed in wrap-up: the same", logged_in("2", S.WRAP_UP, "a"),
     (agent("1", "a", "b"), agent("3", "b"), agent("4", "c")), (), (Membership("2", (), leave=("a",), removed=True),), ()),
    ("left without a queue while ringing: logged out now, kept in the configuration", logged_in("2", S.RINGING, "a"),
     (agent("1", "a", "b"), agent("2"), agent("3", "b"), agent("4", "c")), (LogOut("2", False),), (), ()),
    ("moved from one queue to another while ringing: joins the new one", logged_in("2", S.RINGING, "a"),
     (agent("1", "a", "b"), agent("2", "c"), agent("3", "b"), agent("4", "c")), (),
     (Membership("2", ("c",), leave=("a",), join=("c",)),), ()),
    ("gains a queue while paused: joins it (ADDMEMBER PAUSED is the core's)", logged_in("3", S.PAUSED, "b"),
     (agent("1", "a", "b"), agent("2", "a"), agent("3", "b", "c"), agent("4", "c")), (),
     (Membership("3", ("b", "c"), join=("c",)),), ()),
    ("logged into one of two queues: a queue kept is not rejoined", logged_in("1", S.AVAILABLE, "b"),
     (agent("1", "a", "b", "c"), agent("2", "a"), agent("3", "b"), agent("4", "c")), (),
     (Membership("1", ("b", "c"), join=("c",)),), ()),
    ("loses one of two queues", logged_in("1", S.AVAILABLE, "a", "b"),
     (agent("1", "b"), agent("2", "a"), agent("3", "b"), agent("4", "c")), (),
     (Membership("1", ("b",), leave=("a",)),), ()),
]


@pytest.mark.parametrize("what,before,agents,log_out,memberships,forget", AGENT_TABLE, ids=[row[0] for row in AGENT_TABLE])
def test_agents(what, before, agents, log_out, memberships, forget):
    plan = plan_reconfiguration(facts([before]), config(OLD.queues, agents))
    assert (plan.log_out, plan.memberships, plan.forget) == (log_out, memberships, forget)


def test_an_offer_of_an_agent_logged_out_first_is_not_withdrawn_twice():
    # Agent 1 is removed while ringing c1 through queue a, which is removed too: the logout
    # withdraws that offer, so the call's move withdraws only agent 3's offer... which is
    # through b, kept. Nothing to withdraw.
    new = without_queue("a", agents=(agent("2", "b"), agent("3", "b"), agent("4", "c")))
    state = facts([logged_in("1", S.RINGING, "a", "b"), logged_in("3", S.RINGING, "b")],
                  [CallFacts("c1", CallState.OFFERING, ("a", "b"), (("1", "a"), ("3", "b")))])
    plan = plan_reconfiguration(state, new)
    assert plan.log_out == (LogOut("1", True),)
    assert plan.calls == (CallMove("c1", CallAction.KEEP, ("b",), ()),)


def test_additions_removals_and_changes_are_listed():
    new = config((queue("b"), queue("c", wrapup_seconds=5.0), queue("d")),
                 (agent("1", "b"), agent("3", "b"), agent("4", "c"), agent("5", "d")))
    plan = plan_reconfiguration(facts(), new)
    assert (plan.queues_added, plan.queues_removed, plan.queues_changed) == (("d",), ("a",), ("c",))
    assert (plan.agents_added, plan.agents_removed, plan.agents_changed) == (("5",), ("2",), ("1",))
    assert "queue d added" in plan.summary and "agent 2 removed" in plan.summary


@pytest.mark.parametrize("last,new_agents,expected", [
    (1, ("1", "2", "3"), 1),  # member order unchanged: the same index
    (1, ("3", "2", "1"), 1),  # agent 2 (offered last) moved: its new index
    (0, ("3", "2"), 0),  # agent 1 gone: just before the next one that stayed (2, now at 1), so 2 is next
    (-1, ("1", "2"), -1),  # nothing offered yet
])
def test_rrmemory_is_mapped_to_the_new_member_order(last, new_agents, expected):
    old = config((queue("q"),), (agent("1", "q"), agent("2", "q"), agent("3", "q")))
    new = config((queue("q", wrapup_seconds=1.0),), tuple(agent(name, "q") for name in new_agents))
    plan = plan_reconfiguration(facts(rr_last={"q": last}, old=old), new)
    assert plan.rr_last == {"q": expected}


def test_the_plan_is_pure_and_repeatable():
    state = facts([logged_in("1", S.RINGING, "a", "b"), logged_in("2", S.ON_CALL, "a"), logged_out("4")],
                  [CallFacts("c1", CallState.OFFERING, ("a", "b"), (("1", "a"),)),
                   CallFacts("c2", CallState.WAITING, ("a",))], rr_last={"a": 1})
    before = copy.deepcopy(state)
    new = without_queue("a")
    first, second = plan_reconfiguration(state, new), plan_reconfiguration(state, new)
    assert first == second
    assert state == before
    assert first.calls == (CallMove("c1", CallAction.KEEP, ("b",), ("1",)),
                           CallMove("c2", CallAction.EXIT, destination=VOICEMAIL))
    assert first.memberships == (Membership("1", ("b",), leave=("a",)), Membership("2", (), leave=("a",)))
