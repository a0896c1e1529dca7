"""The ``outgoing`` step's many calls: a seeded mix of outcomes and a range of answer times
(linebox.sim.runner.draw_outgoing), and what the scenario parser accepts for them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from linebox.sim import ScenarioError
from linebox.sim.runner import draw_outgoing
from linebox.sim.scenario import parse_scenario

HEAD = "start: 2026-11-25T10:00:00-05:00\nsteps:\n"


def parse_step(text: str) -> dict:
    (step,) = parse_scenario(yaml.safe_load(HEAD + text), None).steps
    return dict(step.params)


def test_one_outcome_and_one_time_are_every_call():
    assert draw_outgoing("busy", 2500, 3, np.random.default_rng(1)) == [("busy", 2500)] * 3


def test_the_same_seed_draws_the_same_calls_and_another_seed_others():
    mix = {"answer": 5.0, "busy": 2.0, "no_answer": 3.0}
    first = draw_outgoing(mix, (1000, 6000), 50, np.random.default_rng([15, 7]))
    assert first == draw_outgoing(mix, (1000, 6000), 50, np.random.default_rng([15, 7]))
    assert first != draw_outgoing(mix, (1000, 6000), 50, np.random.default_rng([16, 7]))


def test_the_mix_follows_its_weights_and_the_range_its_ends():
    calls = 4000
    drawn = draw_outgoing({"answer": 5.0, "busy": 2.0, "no_answer": 3.0, "congestion": 0.0}, (1000, 1004), calls,
                          np.random.default_rng(3))
    for name, share in (("answer", 0.5), ("busy", 0.2), ("no_answer", 0.3)):
        count = sum(1 for outcome, _ in drawn if outcome == name)
        sigma = math.sqrt(calls * share * (1 - share))  # binomial: 4 sigma holds for all but 1 seed in 15000
        assert abs(count - calls * share) <= 4 * sigma, (name, count)
    assert not any(outcome == "congestion" for outcome, _ in drawn)  # weight 0: never
    assert {wait for _, wait in drawn} == {1000, 1001, 1002, 1003, 1004}  # both ends included


def test_the_parser_reads_a_mix_a_range_and_a_count():
    params = parse_step("- outgoing: {port: 1, calls: 60, outcome: {answer: 5, busy: 2}, answer_after_ms: [1000, 4000]}\n")
    assert params["outcome"] == {"answer": 5.0, "busy": 2.0, "congestion": 0.0, "no_answer": 0.0}
    assert (params["answer_after_ms"], params["calls"]) == ((1000, 4000), 60)
    assert parse_step("- outgoing: 0\n")["outcome"] == "answer" and parse_step("- outgoing: 0\n")["calls"] == 1


@pytest.mark.parametrize(("text", "message"), [
    ("{port: 0, outcome: {answer: 0}}", "steps[0].outgoing.outcome: at least one weight must be above 0"),
    ("{port: 0, outcome: {answered: 1}}", "steps[0].outgoing.outcome.answered: unknown key"),
    ("{port: 0, outcome: {busy: -1}}", "steps[0].outgoing.outcome.busy: expected a number 0 to 1000"),
    ("{port: 0, answer_after_ms: [4000, 1000]}", "steps[0].outgoing.answer_after_ms: the range [4000, 1000] runs backwards"),
    ("{port: 0, answer_after_ms: [1000]}", "steps[0].outgoing.answer_after_ms: expected a list of 2-2 items"),
    ("{port: 0, calls: 0}", "steps[0].outgoing.calls: expected an integer 1-1000"),
    ("{port: 2, repeat: true}", "steps[0].outgoing.repeat: unknown key"),
])
def test_the_parser_refuses_a_bad_mix_range_or_count(text, message):
    with pytest.raises(ScenarioError) as caught:
        parse_step(f"- outgoing: {text}\n")
    assert message in str(caught.value)


def test_answer_on_ring_reads_the_hang_up_and_the_repeat():
    params = parse_step("- answer_on_ring: {port: 4, delay_ms: 200, hangup_after_ms: 4000, repeat: true}\n")
    assert params == {"port": 4, "rings": 1, "delay_ms": 200, "hangup_after_ms": 4000, "repeat": True}
    with pytest.raises(ScenarioError, match="hangup_after_ms: expected an integer 20-"):
        parse_step("- answer_on_ring: {port: 4, hangup_after_ms: 5}\n")
