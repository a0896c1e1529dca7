"""The production pacing and the dialler core against a fake lead list (no engine, no clock)."""

from __future__ import annotations

import pytest

from firmware import FirmwareError
from firmware.campaign.dialler import (
    Abandon,
    Connect,
    Dial,
    Dialler,
    HangUp,
    Lead,
    LeaveMessage,
    Mode,
    Outcome,
    Preview,
)
from firmware.campaign.pacing import (
    ABANDON_WAIT_S,
    MIN_HANDLES,
    MIN_OUTCOMES,
    Measurements,
    PacingInput,
    predictive_calls,
    progressive_calls,
)


class FakeLeads:
    def __init__(self, count: int = 1000) -> None:
        self.leads = [Lead(i, f"555{i:04d}") for i in range(1, count + 1)]
        self.back: list[Lead] = []

    def next_lead(self, now: float) -> Lead | None:
        if self.back:
            return self.back.pop()
        return self.leads.pop(0) if self.leads else None

    def put_back(self, lead: Lead) -> None:
        self.back.append(lead)


def state(**kw) -> PacingInput:
    base = dict(free_agents=0, busy_agents=0, in_flight=0, waiting=0, lines_free=50, answered=0, abandoned=0)
    base.update(kw)
    return PacingInput(**base)


def measured(answer_rate: float, answer_s: float = 15.0, handle_s: float = 120.0, n: int = 200) -> Measurements:
    m = Measurements()
    answered = round(answer_rate * n)
    for i in range(n):
        m.outcome(i < answered, answer_s if i < answered else 30.0)
    for _ in range(MIN_HANDLES):
        m.handled(handle_s)
    return m


@pytest.mark.parametrize("free, flying, waiting, lines, expected", [
    (3, 0, 0, 10, 3), (3, 1, 0, 10, 2), (3, 1, 1, 10, 1), (3, 5, 0, 10, 0), (5, 0, 0, 2, 2), (0, 0, 0, 10, 0)])
def test_progressive_one_call_per_free_agent(free, flying, waiting, lines, expected):
    assert progressive_calls(state(free_agents=free, in_flight=flying, waiting=waiting, lines_free=lines)) == expected


def test_predictive_is_progressive_until_measured():
    m = Measurements()
    for _ in range(MIN_OUTCOMES - 1):
        m.outcome(True, 10.0)
    for _ in range(MIN_HANDLES):
        m.handled(60.0)
    assert predictive_calls(state(free_agents=4), m, 0.03) == 4


def test_predictive_dials_more_than_free_agents_at_a_low_answer_rate():
    calls = predictive_calls(state(free_agents=4, busy_agents=6), measured(0.2), 0.03)
    assert calls > 4 * 2  # several calls per free agent when only one in five answers
    assert calls <= 50


def test_predictive_fewer_calls_as_the_answer_rate_rises():
    low = predictive_calls(state(free_agents=4, busy_agents=6), measured(0.2), 0.03)
    high = predictive_calls(state(free_agents=4, busy_agents=6), measured(0.6), 0.03)
    assert high < low


def test_predictive_zero_abandon_limit_is_progressive_when_nobody_is_busy():
    assert predictive_calls(state(free_agents=4), measured(0.3), 0.0) == 4


def test_predictive_never_exceeds_lines_nor_goes_below_progressive():
    assert predictive_calls(state(free_agents=4, lines_free=3), measured(0.1), 0.03) == 3
    assert predictive_calls(state(free_agents=6, in_flight=1), measured(0.9), 0.03) >= 5


def test_predictive_backs_off_when_the_campaign_is_over_its_limit():
    m = measured(0.2)
    normal = predictive_calls(state(free_agents=4, busy_agents=6, answered=100, abandoned=1), m, 0.03)
    over = predictive_calls(state(free_agents=4, busy_agents=6, answered=100, abandoned=5), m, 0.03)
    assert over < normal


def test_calls_in_flight_long_unanswered_count_less():
    m = measured(0.3, answer_s=10.0)
    young = predictive_calls(state(free_agents=3, in_flight=5, in_flight_ages=(1.0,) * 5), m, 0.03)
    old = predictive_calls(state(free_agents=3, in_flight=5, in_flight_ages=(25.0,) * 5), m, 0.03)
    assert old > young  # calls ringing past every measured answer time will not be answered


def test_measurements_answer_chance_after_an_age():
    m = Measurements()
    for seconds in (5.0, 10.0, 20.0):
        m.outcome(True, seconds)
    m.outcome(False, 30.0)
    assert list(m.answer_chances_after([0.0, 7.0, 15.0, 25.0, 40.0])) == [0.75, 2 / 3, 0.5, 0.0, 0.0]


# ---------------------------------------------------------------------- the dialler core
def test_progressive_dials_one_per_free_agent_and_connects():
    d = Dialler(Mode.PROGRESSIVE, FakeLeads())
    d.agent_ready("a", 0.0)
    d.agent_ready("b", 0.0)
    actions = d.step(0.0, 10)
    assert [type(a) for a in actions] == [Dial, Dial]
    assert d.step(1.0, 8) == []  # both agents covered
    first = actions[0].attempt_id
    assert d.outcome(first, Outcome.HUMAN, 12.0) == [Connect(first, "a")]
    assert d.outcome(actions[1].attempt_id, Outcome.BUSY, 13.0) == []
    assert [type(a) for a in d.step(13.0, 9)] == [Dial]  # b is free again: one more call


def test_answered_call_without_agent_is_abandoned_after_two_seconds():
    d = Dialler(Mode.PREDICTIVE, FakeLeads())
    d.agent_ready("a", 0.0)
    dials = [d.place(Lead(100 + i, "1"), 0.0) for i in range(2)]  # two calls for one agent
    assert d.outcome(dials[0].attempt_id, Outcome.HUMAN, 10.0) == [Connect(dials[0].attempt_id, "a")]
    assert d.outcome(dials[1].attempt_id, Outcome.HUMAN, 10.5) == []
    assert d.step(10.5 + ABANDON_WAIT_S - 0.02, 0, dial=False) == []  # 1.98 s: still waiting
    assert d.step(10.5 + ABANDON_WAIT_S, 0, dial=False) == [Abandon(dials[1].attempt_id)]
    assert d.counters.abandoned == 1 and d.abandon_rate() == 0.5


def test_waiting_call_taken_by_an_agent_freed_within_two_seconds():
    d = Dialler(Mode.PREDICTIVE, FakeLeads())
    d.agent_ready("a", 0.0)
    first, second = d.place(Lead(1, "1"), 0.0), d.place(Lead(2, "2"), 0.0)
    d.outcome(first.attempt_id, Outcome.HUMAN, 5.0)
    d.outcome(second.attempt_id, Outcome.HUMAN, 6.0)
    d.call_finished(first.attempt_id, 7.0)
    d.agent_ready("a", 7.9)
    assert d.step(7.9, 0, dial=False) == [Connect(second.attempt_id, "a")]
    assert d.counters.abandoned == 0
    assert d.measured.handle_times[-1] == pytest.approx(2.9)


def test_machine_gets_the_message_or_a_hang_up():
    for leave, expected in ((True, LeaveMessage), (False, HangUp)):
        d = Dialler(Mode.PROGRESSIVE, FakeLeads(), leave_message=leave)
        d.agent_ready("a", 0.0)
        (dial,) = d.step(0.0, 1)
        assert d.outcome(dial.attempt_id, Outcome.MACHINE, 9.0) == [expected(dial.attempt_id)]
        assert d.counters.machines == 1 and d.counters.answered == 0


def test_preview_accept_and_skip():
    leads = FakeLeads(3)
    d = Dialler(Mode.PREVIEW, leads)
    d.agent_ready("a", 0.0)
    (preview,) = d.step(0.0, 5)
    assert preview == Preview("a", Lead(1, "5550001"))
    assert d.step(1.0, 5) == []  # nothing dialled without the agent
    d.preview_skip("a", 2.0)
    assert leads.back == [Lead(1, "5550001")]
    (again,) = d.step(2.0, 5)
    assert again.lead == Lead(1, "5550001")
    dial = d.preview_accept("a", 3.0)
    assert d.outcome(dial.attempt_id, Outcome.HUMAN, 15.0) == [Connect(dial.attempt_id, "a")]
    with pytest.raises(FirmwareError, match="no lead to accept"):
        d.preview_accept("a", 16.0)


def test_preview_unanswered_frees_the_agent_for_the_next_lead():
    d = Dialler(Mode.PREVIEW, FakeLeads(3))
    d.agent_ready("a", 0.0)
    d.step(0.0, 5)
    dial = d.preview_accept("a", 1.0)
    d.outcome(dial.attempt_id, Outcome.NO_ANSWER, 31.0)
    (preview,) = d.step(31.0, 5)
    assert preview.lead.lead_id == 2


def test_agent_away_puts_its_preview_back():
    leads = FakeLeads(3)
    d = Dialler(Mode.PREVIEW, leads)
    d.agent_ready("a", 0.0)
    d.step(0.0, 5)
    d.agent_away("a", 1.0)
    assert leads.back and d.step(2.0, 5) == []


def test_bad_abandon_limit_refused():
    with pytest.raises(FirmwareError, match="within 0-1"):
        Dialler(Mode.PREDICTIVE, FakeLeads(), max_abandon=1.5)
