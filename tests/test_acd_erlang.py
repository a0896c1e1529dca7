"""Erlang B/C/A against independent computations, textbook figures and invariants."""

import math
from fractions import Fraction

import numpy as np
import pytest

from firmware import FirmwareError
from firmware.acd.erlang import (
    erlang_a_metrics,
    erlang_a_staffing,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    erlang_c_staffing,
)


def exact_erlang_c(n: int, a: Fraction) -> Fraction:
    """Textbook closed form with factorials, in exact rationals (independent of the recursion)."""
    top = a**n / math.factorial(n) * Fraction(n) / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


def exact_erlang_b(n: int, a: Fraction) -> Fraction:
    return (a**n / math.factorial(n)) / sum(a**k / math.factorial(k) for k in range(n + 1))


@pytest.mark.parametrize("n,a", [(1, "0.5"), (3, "2"), (14, "10"), (30, "27.5"), (60, "41")])
def test_recursion_matches_the_factorial_formulas(n, a):
    traffic = Fraction(a)
    assert erlang_b(n, float(traffic)) == pytest.approx(float(exact_erlang_b(n, traffic)), rel=1e-12)
    assert erlang_c(n, float(traffic)) == pytest.approx(float(exact_erlang_c(n, traffic)), rel=1e-12)


def test_small_textbook_case_exactly():
    assert erlang_c(3, 2.0) == pytest.approx(4 / 9, abs=1e-15)  # A = 2 Erlangs, 3 servers


def test_call_centre_example_100_calls_per_30_minutes():
    """100 calls per 30 min, AHT 3 min, 80 % in 20 s: 10 Erlangs, 14 agents (13 reach only 79.6 %)."""
    result = erlang_c_staffing(200, 180, 0.8, 20)
    assert result.agents == 14
    assert result.traffic_erlangs == pytest.approx(10.0)
    assert result.wait_probability == pytest.approx(0.1741, abs=1e-4)
    assert result.service_level == pytest.approx(0.8884, abs=1e-4)
    assert result.asa_seconds == pytest.approx(7.84, abs=0.01)
    assert result.occupancy == pytest.approx(10 / 14)
    assert erlang_c_metrics(13, 200, 180, 20).service_level == pytest.approx(0.7956, abs=1e-4)
    # The formulas, recomputed here from the exact Erlang C.
    c = float(exact_erlang_c(14, Fraction(10)))
    assert result.service_level == pytest.approx(1 - c * math.exp(-4 * 20 / 180), rel=1e-12)
    assert result.asa_seconds == pytest.approx(c * 180 / 4, rel=1e-12)


@pytest.mark.parametrize("target", [0.5, 0.8, 0.9, 0.95, 0.99])
def test_staffing_is_the_fewest_agents_meeting_the_target(target):
    result = erlang_c_staffing(1000, 240, target, 15)
    assert result.service_level >= target
    assert erlang_c_metrics(result.agents - 1, 1000, 240, 15).service_level < target


def test_large_loads_are_numerically_stable():
    result = erlang_c_staffing(360_000, 180, 0.8, 20)  # 18,000 Erlangs: factorials would overflow
    assert 18_000 < result.agents < 18_100
    assert 0.8 <= result.service_level < 0.85 and math.isfinite(result.asa_seconds)
    assert 0.0 < erlang_b(5000, 4900.0) < 1.0
    idle = erlang_c_metrics(2000, 200, 180, 20)  # 2,000 agents for 10 Erlangs: B underflows, no NaN
    assert idle.wait_probability < 1e-300 and idle.service_level == 1.0 and idle.asa_seconds < 1e-300
    assert erlang_a_metrics(2000, 200, 180, 60, 20).service_level == pytest.approx(1.0)


def test_unstable_queue_reports_no_service():
    result = erlang_c_metrics(10, 200, 180, 20)  # exactly 10 Erlangs on 10 agents
    assert (result.wait_probability, result.service_level, result.asa_seconds) == (1.0, 0.0, math.inf)


@pytest.mark.parametrize(
    "args",
    [(0, 180, 0.8, 20), (200, -1, 0.8, 20), (200, 180, 1.0, 20), (200, 180, 0.0, 20), (200, 180, 0.8, -1)],
)
def test_bad_inputs_are_refused(args):
    with pytest.raises(FirmwareError):
        erlang_c_staffing(*args)


def ctmc_m_m_n_m(agents: int, lam: float, mu: float, theta: float, size: int = 400) -> np.ndarray:
    """Stationary law of the truncated M/M/n+M chain by a linear solve (independent method)."""
    q = np.zeros((size, size))
    for j in range(size):
        if j + 1 < size:
            q[j, j + 1] = lam
        if j > 0:
            q[j, j - 1] = min(j, agents) * mu + max(j - agents, 0) * theta
        q[j, j] = -q[j].sum()
    a = q.T.copy()
    a[-1] = 1.0  # one balance equation is redundant: replace it by "probabilities sum to 1"
    b = np.zeros(size)
    b[-1] = 1.0
    return np.linalg.solve(a, b)


@pytest.mark.parametrize("agents,patience", [(8, 60.0), (12, 60.0), (14, 300.0), (3, 30.0)])
def test_erlang_a_stationary_figures_match_a_direct_solve(agents, patience):
    lam, mu, theta = 200 / 3600, 1 / 180, 1 / patience
    pi = ctmc_m_m_n_m(agents, lam, mu, theta)
    j = np.arange(len(pi))
    queue = np.maximum(j - agents, 0)
    result = erlang_a_metrics(agents, 200, 180, patience, 20)
    assert result.wait_probability == pytest.approx(pi[agents:].sum(), abs=1e-9)
    assert result.abandon_rate == pytest.approx(theta * (pi * queue).sum() / lam, abs=1e-9)
    assert result.mean_wait_seconds == pytest.approx((pi * queue).sum() / lam, rel=1e-7)
    served_load = (pi * np.minimum(j, agents)).sum() / agents
    assert result.occupancy == pytest.approx(served_load, rel=1e-7)


def test_erlang_a_abandon_rate_two_ways():
    """P(abandon) from the per-position service odds equals theta x E[wait of all callers]."""
    for agents in (9, 11, 13):
        result = erlang_a_metrics(agents, 200, 180, 90, 20)
        assert result.abandon_rate == pytest.approx(result.mean_wait_seconds / 90, rel=1e-9)


def test_erlang_a_tends_to_erlang_c_as_patience_grows():
    c = erlang_c_metrics(12, 200, 180, 20)
    a = erlang_a_metrics(12, 200, 180, 1e9, 20)
    assert a.abandon_rate < 1e-6
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.asa_seconds == pytest.approx(c.asa_seconds, rel=1e-5)
    assert a.wait_probability == pytest.approx(c.wait_probability, abs=1e-6)


def test_erlang_a_service_level_bounds_and_monotonicity():
    previous = 0.0
    for agents in range(4, 18):
        result = erlang_a_metrics(agents, 200, 180, 60, 20)
        assert previous <= result.service_level <= 1.0 - result.abandon_rate + 1e-12
        assert result.service_level >= 1.0 - result.wait_probability  # who does not wait is within T
        previous = result.service_level
    zero = erlang_a_metrics(10, 200, 180, 60, 0)
    assert zero.service_level == pytest.approx(1.0 - zero.wait_probability)


def test_erlang_a_staffing_needs_fewer_agents_with_impatient_callers_and_is_minimal():
    a = erlang_a_staffing(200, 180, 60, 0.8, 20)
    assert a.agents == 12 and a.service_level >= 0.8
    assert erlang_a_metrics(11, 200, 180, 60, 20).service_level < 0.8
    big = erlang_a_staffing(36000, 180, 120, 0.8, 20)  # 1,800 Erlangs
    assert big.service_level >= 0.8 > erlang_a_metrics(big.agents - 1, 36000, 180, 120, 20).service_level
