"""``linebox acd erlang|simulate`` and ``linebox bench acd``."""

import json

import pytest

from linebox.bench.acd import decision_times
from linebox.cli import main


def run_json(capsys, *argv) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_erlang_json(capsys):
    out = run_json(capsys, "acd", "erlang", "--calls-per-hour", "200", "--aht", "180", "--target-sl", "0.8",
                   "--target-seconds", "20", "--json")
    assert out["agents"] == 14
    assert out["service_level"] == pytest.approx(0.8884, abs=1e-4)
    assert out["asa_seconds"] == pytest.approx(7.84, abs=0.01)
    assert out["occupancy"] == pytest.approx(10 / 14)
    assert "abandon_rate" not in out and "erlang_a" not in out


def test_erlang_with_patience_adds_erlang_a(capsys):
    out = run_json(capsys, "acd", "erlang", "--calls-per-hour", "200", "--aht", "180", "--patience", "60", "--json")
    assert out["agents"] == 14  # the Erlang C answer stays on top
    assert out["abandon_rate"] == pytest.approx(0.0303, abs=1e-4)  # what 14 agents would see with patience 60 s
    assert out["erlang_a"]["agents"] == 12
    assert set(out["erlang_a"]) >= {"service_level", "asa_seconds", "occupancy", "abandon_rate", "service_level_answered"}


def test_erlang_text_output(capsys):
    assert main(["acd", "erlang", "--calls-per-hour", "200", "--aht", "180"]) == 0
    assert "14 agents" in capsys.readouterr().out


def test_simulate_json(capsys):
    out = run_json(capsys, "acd", "simulate", "--agents", "3", "--calls-per-hour", "40", "--aht", "180",
                   "--hours", "5", "--seed", "3", "--strategy", "rrmemory", "--patience", "90", "--json")
    assert set(out) >= {"service_level", "asa_seconds", "abandon_rate", "occupancy", "calls"}
    assert 150 < out["calls"] < 250


def test_bad_arguments_give_one_line_and_status_2(capsys):
    assert main(["acd", "erlang", "--calls-per-hour", "200", "--aht", "180", "--target-sl", "1.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "target service level" in err
    assert main(["acd", "simulate", "--agents", "0", "--calls-per-hour", "1", "--aht", "1", "--hours", "1"]) == 2


def test_bench_scene_keeps_1000_calls_waiting():
    times, waiting = decision_times(seed=7, steps=50)
    assert len(times) == 50 and waiting == 1000
