"""Routing: every strategy, penalties, skills and their relaxation, priority, multi-queue."""

import pytest

from firmware import FirmwareError
from firmware.acd.events import EventKind
from firmware.acd.model import (
    OfferFailure,
    QueueConfig,
    RelaxStep,
    SkillSelection,
    Strategy,
)
from tests.acd_helpers import agent, make_core, offered_to

THREE = (agent("a1"), agent("a2"), agent("a3"))


# c1@1 (ends 2), c2@3 (ends 10), c3@4 (stays), c4@5 (ends 6), c5@12: who gets each call.
STRATEGY_TABLE = [
    (Strategy.LEASTRECENT, ["a1", "a2", "a3", "a1", "a1"]),  # c5: a1 idle since 6, a2 since 10
    (Strategy.FEWESTCALLS, ["a1", "a2", "a3", "a1", "a2"]),  # c5: a2 has 1 call, a1 has 2
    (Strategy.LEASTTALKTIME, ["a1", "a2", "a3", "a1", "a1"]),  # c5: a1 talked 2 s, a2 7 s
    (Strategy.RRMEMORY, ["a1", "a2", "a3", "a1", "a2"]),  # c5: next member after a1
    (Strategy.LINEAR, ["a1", "a1", "a2", "a3", "a1"]),  # always the first free member
]


@pytest.mark.parametrize("strategy,expected", STRATEGY_TABLE, ids=[s.value for s, _ in STRATEGY_TABLE])
def test_strategy_table(strategy, expected):
    core, _ = make_core(QueueConfig("q", strategy=strategy), THREE)
    got = {}

    def arrive(call, t):
        core.call_arrived(call, ["q"], "", t)
        (pair,) = offered_to(core, t)
        got[call] = pair[1]
        core.offer_answered(call, pair[1], t)

    arrive("c1", 1)
    core.call_ended("c1", 2)
    arrive("c2", 3)
    arrive("c3", 4)
    arrive("c4", 5)
    core.call_ended("c4", 6)
    core.call_ended("c2", 10)
    arrive("c5", 12)
    assert [got[f"c{i}"] for i in range(1, 6)] == expected


def test_leastrecent_picks_longest_idle_and_breaks_ties_by_member_order():
    core, rec = make_core(QueueConfig("q"), THREE, login_at=None)
    core.agent_login("a3", 0)
    core.agent_login("a2", 0)
    core.agent_login("a1", 5)
    core.call_arrived("c1", ["q"], "", 10)
    (offer,) = core.tick(10).offers
    assert offer.agent_id == "a2"  # a2, a3 idle 10 s: a2 is listed first
    trace = rec.traces()[-1]
    assert offer.trace is trace
    assert trace.rule == "longest_idle:10.0s"
    assert [c.agent_id for c in trace.candidates] == ["a2", "a3", "a1"]


def test_random_is_uniform_over_the_tier():
    core, _ = make_core(QueueConfig("q", strategy=Strategy.RANDOM), THREE + (agent("a4", {"q": 1}),), seed=5)
    counts = {"a1": 0, "a2": 0, "a3": 0, "a4": 0}
    for i in range(3000):
        core.call_arrived(f"c{i}", ["q"], "", i)
        ((call, chosen),) = offered_to(core, i)
        counts[chosen] += 1
        core.offer_answered(call, chosen, i)
        core.call_ended(call, i + 0.5)
    assert counts["a4"] == 0  # penalty 1 never rings while penalty 0 agents are free
    for name in ("a1", "a2", "a3"):
        assert 900 <= counts[name] <= 1100  # binomial(3000, 1/3): sd 26


def test_wrandom_weights_by_penalty_without_tiers():
    """Asterisk's metric u x (1 + penalty) x 1000: penalty 0 beats penalty 1 with P = 3/4."""
    agents = (agent("a0", {"q": 0}), agent("a1", {"q": 1}))
    core, _ = make_core(QueueConfig("q", strategy=Strategy.WRANDOM), agents, seed=11)
    wins = 0
    for i in range(4000):
        core.call_arrived(f"c{i}", ["q"], "", i)
        ((call, chosen),) = offered_to(core, i)
        wins += chosen == "a0"
        core.offer_answered(call, chosen, i)
        core.call_ended(call, i + 0.5)
    assert 0.72 <= wins / 4000 <= 0.78  # sd 0.007


def test_ringall_rings_the_whole_best_tier_and_the_first_answer_cancels_the_rest():
    agents = (agent("a1"), agent("a2"), agent("a3", {"q": 1}))
    core, rec = make_core(QueueConfig("q", strategy=Strategy.RINGALL), agents)
    core.call_arrived("c1", ["q"], "", 1)
    assert offered_to(core, 1) == [("c1", "a1"), ("c1", "a2")]
    cancelled = core.offer_answered("c1", "a2", 3)
    assert [(o.call_id, o.agent_id) for o in cancelled] == [("c1", "a1")]
    assert core.agents["a1"].state.value == "available"
    assert core.agents["a1"].idle_since == 0  # a lost ring-all race keeps the place in line
    assert len(rec.kinds(EventKind.CONNECT)) == 1
    assert not rec.kinds(EventKind.RINGNOANSWER)


def test_penalty_tiers_lower_first_higher_only_when_lower_busy():
    agents = (agent("hi", {"q": 2}), agent("lo", {"q": 0}), agent("mid", {"q": 1}))
    core, _ = make_core(QueueConfig("q"), agents, login_at=None)
    core.agent_login("hi", 0)  # the longest idle, but the highest penalty
    core.agent_login("lo", 5)
    core.agent_login("mid", 5)
    for i, expected in enumerate(["lo", "mid", "hi"]):
        core.call_arrived(f"c{i}", ["q"], "", 10 + i)
        assert offered_to(core, 10 + i) == [(f"c{i}", expected)]
        core.offer_answered(f"c{i}", expected, 10 + i)


SKILLED = (
    agent("fr9", fr=9),
    agent("fr6en8", fr=6, en=8),
    agent("fr6", fr=6),
    agent("en9", en=9),
    agent("fr9en2", fr=9, en=2),
)


@pytest.mark.parametrize(
    "needs,expected,rule",
    [
        ({"fr": 5}, "fr9", "best_skill_total:9,tie_longest_idle:1.0s"),  # fr9en2 ties: member order
        ({"fr": 5, "en": 1}, "fr6en8", "best_skill_total:14"),  # beats fr9en2's 11
        ({"en": 9}, "en9", "only_candidate"),
        ({"fr": 6, "en": 8}, "fr6en8", "only_candidate"),
    ],
)
def test_best_skill_match(needs, expected, rule):
    core, rec = make_core(QueueConfig("q"), SKILLED)
    core.call_arrived("c1", ["q"], "", 1, skills=needs)
    assert offered_to(core, 1) == [("c1", expected)]
    assert rec.traces()[-1].rule == rule


def test_best_skill_tie_goes_to_the_longest_idle():
    agents = (agent("x", fr=6), agent("y", fr=6), agent("z", fr=3))
    core, rec = make_core(QueueConfig("q"), agents, login_at=None)
    core.agent_login("x", 5)
    core.agent_login("y", 2)
    core.agent_login("z", 0)
    core.call_arrived("c1", ["q"], "", 10, skills={"fr": 2})
    assert offered_to(core, 10) == [("c1", "y")]
    assert rec.traces()[-1].rule == "best_skill_total:6,tie_longest_idle:8.0s"


def test_filter_selection_lets_the_strategy_pick_among_qualified_agents():
    queue = QueueConfig("q", strategy=Strategy.LINEAR, skill_selection=SkillSelection.FILTER)
    core, _ = make_core(queue, (agent("lo", fr=2), agent("ok", fr=5), agent("best", fr=9)))
    core.call_arrived("c1", ["q"], "", 1, skills={"fr": 4})
    assert offered_to(core, 1) == [("c1", "ok")]  # first qualified member, not the best


def test_queue_required_skills_apply_when_the_call_brings_none():
    queue = QueueConfig("q", required_skills={"de": 3})
    core, _ = make_core(queue, (agent("a1"), agent("a2", de=3)))
    core.call_arrived("c1", ["q"], "", 1)
    assert offered_to(core, 1) == [("c1", "a2")]


RELAX = (RelaxStep(30.0, 3), RelaxStep(60.0, 1), RelaxStep(90.0, 0))


@pytest.mark.parametrize(
    "skills,first_offer",
    [
        ({"fr": 5}, 0.0),  # meets the requirement at once
        ({"fr": 3}, 30.0),  # level >= 3 accepted after 30 s
        ({"fr": 1}, 60.0),  # any level of the skill after 60 s
        ({}, 90.0),  # no skill at all after 90 s (max_level 0 drops the requirement)
    ],
)
def test_requirements_relax_at_each_step_edge(skills, first_offer):
    core, rec = make_core(QueueConfig("q", relax_steps=RELAX), (agent("a", **skills),))
    core.call_arrived("c1", ["q"], "", 0.0, skills={"fr": 5})
    if first_offer > 0:
        assert offered_to(core, 0.0) == []
        assert offered_to(core, first_offer - 0.001) == []
        assert core.next_wakeup() == first_offer  # the simulator is woken for the step
    assert offered_to(core, first_offer) == [("c1", "a")]
    assert rec.traces()[-1].relax_stage == sum(1 for step in RELAX if step.after_seconds <= first_offer)


def test_relaxation_runs_from_the_call_enqueue_time_and_wakes_the_simulator():
    core, _ = make_core(QueueConfig("q", relax_steps=RELAX), (agent("a", fr=3),))
    core.call_arrived("c1", ["q"], "", 100.0, skills={"fr": 5})
    core.tick(100.0)
    assert core.next_wakeup() == 130.0
    assert offered_to(core, 130.0) == [("c1", "a")]


def test_relax_steps_must_relax():
    with pytest.raises(FirmwareError, match="non-increasing"):
        make_core(QueueConfig("q", relax_steps=(RelaxStep(30, 3), RelaxStep(60, 5))), THREE)
    with pytest.raises(FirmwareError, match="increasing time"):
        make_core(QueueConfig("q", relax_steps=(RelaxStep(30, 3), RelaxStep(30, 1))), THREE)


def test_priority_moves_a_call_ahead_and_vip_callers_get_theirs():
    core, _ = make_core(QueueConfig("q"), (agent("a1"),), vip_callers={"+1999": 5})
    core.agent_pause("a1", "lunch", 0)
    core.call_arrived("old", ["q"], "+1000", 1)
    core.call_arrived("vip", ["q"], "+1999", 2)
    core.call_arrived("ivr", ["q"], "+1001", 3, priority=9)
    assert [core.position(c) for c in ("ivr", "vip", "old")] == [1, 2, 3]
    core.agent_unpause("a1", 4)
    assert offered_to(core, 4) == [("ivr", "a1")]


def test_a_call_in_two_queues_is_offered_once():
    agents = (agent("s", {"sales": 0}), agent("t", {"tech": 0}))
    core, rec = make_core((QueueConfig("sales"), QueueConfig("tech")), agents)
    core.agent_pause("s", "break", 0)
    core.call_arrived("c1", ["sales", "tech"], "", 1)
    assert offered_to(core, 1) == [("c1", "t")]
    core.agent_unpause("s", 2)  # another eligible agent frees up while t rings
    assert offered_to(core, 2) == []
    core.offer_failed("c1", "t", 3, OfferFailure.REJECTED)
    assert offered_to(core, 3) == [("c1", "s")]
    assert [e.queue for e in rec.kinds(EventKind.ENTERQUEUE)] == ["sales"]  # accounted to the primary
    assert core.position("c1", "tech") == 1


def test_multi_queue_takes_the_lowest_penalty_then_the_first_listed_queue():
    agents = (agent("x", {"a": 1}), agent("y", {"b": 0}), agent("z", {"a": 0, "b": 0}))
    core, rec = make_core((QueueConfig("a"), QueueConfig("b")), agents)
    core.call_arrived("c1", ["a", "b"], "", 1)
    assert offered_to(core, 1) == [("c1", "z")]  # penalty 0 in both: queue a listed first
    assert rec.traces()[-1].queue == "a"
    core.call_arrived("c2", ["a", "b"], "", 2)
    assert offered_to(core, 2) == [("c2", "y")]  # penalty 0 (queue b) beats x's 1 in queue a
    assert rec.traces()[-1].queue == "b"


def test_unavailable_agents_are_skipped():
    agents = tuple(agent(n) for n in ("paused", "busyphone", "out", "ringing", "free"))
    core, _ = make_core(QueueConfig("q", strategy=Strategy.LINEAR), agents, login_at=None)
    for name in ("paused", "busyphone", "ringing", "free"):
        core.agent_login(name, 0)
    core.agent_pause("paused", "coffee", 0)
    core.agent_phone_busy("busyphone", True, 0)
    core.call_arrived("c0", ["q"], "", 0)
    assert offered_to(core, 0) == [("c0", "ringing")]
    core.call_arrived("c1", ["q"], "", 1)
    assert offered_to(core, 1) == [("c1", "free")]
    core.agent_phone_busy("busyphone", False, 2)
    core.call_arrived("c2", ["q"], "", 2)
    assert offered_to(core, 2) == [("c2", "busyphone")]


def test_a_missed_call_is_not_offered_back_to_the_same_agent_within_retry():
    core, rec = make_core(QueueConfig("q", retry_seconds=5.0, ring_timeout_seconds=15.0), (agent("a1"),))
    core.call_arrived("c1", ["q"], "", 0)
    assert offered_to(core, 0) == [("c1", "a1")]
    result = core.tick(15.0)  # ring timeout
    assert [(o.call_id, o.agent_id) for o in result.cancelled] == [("c1", "a1")]
    assert result.offers == []
    assert core.next_wakeup() == 20.0
    assert offered_to(core, 19.999) == []
    assert offered_to(core, 20.0) == [("c1", "a1")]
    assert [e.ring for e in rec.kinds(EventKind.RINGNOANSWER)] == [15.0]


def test_trace_lists_candidates_with_skills_penalty_idle_and_renders_one_line():
    agents = (agent("a1", fr=7), agent("a2", {"q": 1}, fr=9), agent("a3", fr=2), agent("a4", fr=5))
    core, rec = make_core(QueueConfig("q"), agents, login_at=None)
    core.agent_login("a1", 0)
    core.agent_login("a2", 0)
    core.agent_login("a3", 0)
    core.agent_login("a4", 4)
    core.call_arrived("c9", ["q"], "", 10, skills={"fr": 4})
    offered_to(core, 10)
    trace = rec.traces()[-1]
    assert trace.chosen == ("a1",)
    assert [(c.agent_id, c.penalty, c.idle_seconds, c.levels) for c in trace.candidates] == [
        ("a1", 0, 10.0, (("fr", 7),)),
        ("a4", 0, 6.0, (("fr", 5),)),
    ]
    assert trace.excluded_skills == 1 and trace.tier_penalty == 0
    line = trace.render()
    assert "\n" not in line
    for part in ("call=c9", "queue=q", "chosen=a1", "rule=best_skill_total:7", '"fr>=4"', "no_skill=1"):
        assert part in line


def test_routing_log_line_goes_through_the_event_logger():
    import io
    import logging

    from drivers.logs import EventLogger, configure_logging

    stream = io.StringIO()
    configure_logging(stream, level=logging.INFO)
    core, _ = make_core(QueueConfig("q"), (agent("a1"),))
    core.log = EventLogger("acd")
    core.call_arrived("c1", ["q"], "", 1)
    core.tick(1)
    (line,) = stream.getvalue().splitlines()
    assert " INFO acd event=route call=c1 queue=q strategy=leastrecent " in line
