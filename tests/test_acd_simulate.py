"""The discrete-event simulator (production router, virtual clock) against Erlang C and A."""

import pytest

from firmware import FirmwareError
from firmware.acd.erlang import erlang_a_metrics, erlang_c_metrics
from firmware.acd.model import Strategy
from firmware.acd.simulate import SimulationSpec, simulate

# 200 calls/h (100 per 30 min), AHT 180 s: 10 Erlangs. 1,000 simulated hours are about
# 200,000 calls; over seeds 1-6 the service level fell within 0.6 points of Erlang C
# (standard deviation about 0.35 points), so the 1-point limit is not a lucky seed.
HOURS = 1000
SEED = 1


@pytest.mark.slow  # 200,000 simulated calls: about 30 s of CPU
def test_service_level_agrees_with_erlang_c_within_one_point():
    result = simulate(SimulationSpec(agents=14, calls_per_hour=200, aht_seconds=180, hours=HOURS, seed=SEED))
    theory = erlang_c_metrics(14, 200, 180, 20)
    assert 195_000 < result.calls < 205_000
    assert result.abandoned == 0 and result.service_level == result.service_level_answered
    assert abs(result.service_level - theory.service_level) < 0.01
    assert abs(result.asa_seconds - theory.asa_seconds) < 1.0
    assert abs(result.occupancy - theory.occupancy) < 0.01


@pytest.mark.slow  # 200,000 simulated calls: about 30 s of CPU
def test_abandonment_agrees_with_erlang_a():
    spec = SimulationSpec(agents=12, calls_per_hour=200, aht_seconds=180, hours=HOURS, seed=SEED, patience_seconds=60)
    result = simulate(spec)
    theory = erlang_a_metrics(12, 200, 180, 60, 20)
    assert abs(result.abandon_rate - theory.abandon_rate) < 0.005
    assert abs(result.service_level - theory.service_level) < 0.01
    assert abs(result.service_level_answered - theory.service_level_answered) < 0.01
    assert abs(result.asa_seconds - theory.asa_seconds) < 0.5
    assert abs(result.occupancy - theory.occupancy) < 0.01


def test_runs_are_repeatable_and_seeds_differ():
    spec = SimulationSpec(agents=3, calls_per_hour=40, aht_seconds=200, hours=20, seed=5, patience_seconds=120)
    assert simulate(spec) == simulate(spec)
    other = SimulationSpec(agents=3, calls_per_hour=40, aht_seconds=200, hours=20, seed=6, patience_seconds=120)
    assert simulate(other) != simulate(spec)


@pytest.mark.parametrize("strategy", list(Strategy))
def test_every_strategy_runs_in_the_simulator(strategy):
    result = simulate(SimulationSpec(agents=4, calls_per_hour=60, aht_seconds=180, hours=10, seed=2, strategy=strategy))
    assert result.answered > 500 and 0.0 <= result.service_level <= 1.0


def test_warmup_leaves_the_first_hours_out():
    full = simulate(SimulationSpec(agents=4, calls_per_hour=60, aht_seconds=180, hours=10, seed=3))
    later = simulate(SimulationSpec(agents=4, calls_per_hour=60, aht_seconds=180, hours=10, seed=3, warmup_hours=5))
    assert 0 < later.calls < full.calls


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"agents": 0}, "agent"),
        ({"hours": 0}, "hours"),
        ({"patience_seconds": -1}, "patience"),
        ({"warmup_hours": 10}, "warm-up"),
    ],
)
def test_bad_specs_are_refused(changes, match):
    base = {"agents": 2, "calls_per_hour": 10, "aht_seconds": 60, "hours": 10, "seed": 1}
    with pytest.raises(FirmwareError, match=match):
        simulate(SimulationSpec(**{**base, **changes}))
