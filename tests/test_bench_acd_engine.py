"""``linebox bench acd-engine``: the JSON it prints, that the ACD really works during the run
(offers, answers, callers waiting, two voicemail recordings), the baseline beside it, and
refused arguments. No speed is asserted."""

from __future__ import annotations

import json
import random

import pytest

from drivers.ports import OffHook, OnHook, RingQualified, RingStart
from firmware.acdengine.service import Phase
from firmware.engine.calls import Leg
from firmware.voicemail.deposit import Phase as DepositPhase
from linebox.bench.acdengine import VOICEMAIL_LINES, CallCentreCard, Layout, build_acd_scene
from linebox.cli import main

SHORT = ["bench", "acd-engine", "--seconds", "2", "--lines", "6", "--agents", "2", "--json"]
TIMES = ("tick_p50_ms", "tick_p99_ms", "tick_max_ms", "cpu_seconds")


def test_short_run_prints_engine_figures_acd_counts_and_baseline(capsys):
    assert main(SHORT) == 0
    result = json.loads(capsys.readouterr().out)
    expected = {"ports", "lines", "voicemail_lines", "agents", "audio_seconds", "ticks", *TIMES,
                "deadline_misses", "callers_waiting_mean", "offers", "answered",
                *(f"baseline_{key}" for key in (*TIMES, "deadline_misses")),
                "acd_overhead_p50_ms", "acd_overhead_p99_ms", "acd_overhead_cpu_seconds"}
    assert set(result) == expected
    assert result["ports"] == 6 + VOICEMAIL_LINES + 2
    assert (result["lines"], result["agents"], result["ticks"], result["audio_seconds"]) == (6, 2, 100, 2.0)
    # Offers and answers happen during the measured run (the warm-up ends as an agent leaves wrap-up).
    assert result["offers"] > 0
    assert 0 < result["answered"] <= result["offers"]
    # 6 queue callers, 2 agents: at least 4 hear music or announcements at any time.
    assert 4 <= result["callers_waiting_mean"] <= 6
    for key in (*TIMES, *(f"baseline_{key}" for key in TIMES)):
        assert isinstance(result[key], float) and result[key] > 0, key
    assert result["tick_p50_ms"] <= result["tick_p99_ms"] <= result["tick_max_ms"]
    assert result["acd_overhead_p50_ms"] == pytest.approx(
        result["tick_p50_ms"] - result["baseline_tick_p50_ms"], abs=0.0015)


def test_the_scene_has_queue_callers_agents_on_calls_and_two_recordings(tmp_path):
    layout = Layout(lines=6, agents=2)
    scene = build_acd_scene(layout, seed=3, folder=tmp_path)
    try:
        scene.warm_up()
        service, switch = scene.service, scene.loop.switch
        assert set(service.agent_ports.values()) == set(layout.phone_ports)
        assert {caller.line_port for caller in service.callers.values()} <= set(range(6))
        assert scene.waiting() >= 4
        assert scene.counter.answered >= 1  # agents answered through the switch (OffHook) before wrap-up
        assert scene.wrapup_ending()
        assert all(caller.phase is not Phase.CONNECTED or caller.agent_port in layout.phone_ports
                   for caller in service.callers.values())
        recording = [d for d in scene.voicemail.deposit.deposits.values() if d.phase is DepositPhase.RECORDING]
        assert sorted(d.line_port for d in recording) == list(layout.voicemail_ports)
        assert all(len(d.chunks) > 0 for d in recording)  # the tap copies the callers' frames
        for port in layout.voicemail_ports:
            assert switch.legs[port].leg is Leg.CONNECTED  # the box answered and records
    finally:
        for close in scene.close:
            close()


def test_card_answers_rung_phones_hangs_up_and_rings_released_lines_again():
    layout = Layout(lines=2, agents=1)
    card = CallCentreCard(layout, random.Random(1))
    first = [event for _ in range(60) for event in card.poll()]  # the first callers ring within 1 s
    assert sorted(e.port for e in first if isinstance(e, RingStart)) == [0, 1, 2, 3]
    assert sorted(e.port for e in first if isinstance(e, RingQualified)) == [0, 1, 2, 3]
    phone = layout.phone_ports[0]
    card.ring(phone)
    answered = [event for _ in range(80) for event in card.poll()]  # picked up within 1.5 s
    assert answered == [OffHook(phone)]
    hung_up = [event for _ in range(510) for event in card.poll()]  # talk 4-10 s
    assert hung_up == [OnHook(phone)]
    card.ring(phone)
    card.stop_ring(phone)  # answered elsewhere: this phone never goes off-hook
    card.release(1)
    later = [event for _ in range(110) for event in card.poll()]
    assert later == [RingStart(1), RingQualified(1, "standard")]


@pytest.mark.parametrize("bad", [["--lines", "0"], ["--agents", "0"], ["--agents", "100"], ["--seconds", "0"]])
def test_bad_arguments_are_refused_with_one_line(bad, capsys):
    assert main(["bench", "acd-engine", *bad, "--json"]) != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().count("\n") == 0
    assert "bench acd-engine" in captured.err
