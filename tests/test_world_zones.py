"""The exchange with the real zone signals: every zone's cadence, caller ID as real audio
where its standard puts it (decoded back by the caller-ID receivers), the call-progress
tones sample-exact from the zone's tone plan, and DTMF dialled out heard by the exchange."""

from __future__ import annotations

import numpy as np
import pytest

from board import BoardError
from board.definitions import load_board
from board.virtual.pstn import Disconnect, FarEnd, LineConfig, LineState
from board.virtual.signals import ZONE_CALLERID, ExchangeDtmfReceiver, zone_signals
from board.virtual.world import World, make_world
from dsp.callerid import CallerId
from dsp.callerid_decode import decode_recording
from dsp.dtmfgen import generate_dtmf
from dsp.tonegen import render
from dsp.toneplans import ZONES, get_plan
from tests.world_helpers import Bench

LINE = 0
CALLER = CallerId(number="5551234", name="JANE DOE", datetime="11251730")


def bench_for(zone: str, standard: str | None = None, **config) -> Bench:
    configs = {LINE: LineConfig(**config)} if config else None
    world = World(
        load_board("virtual"),
        zone_signals(zone, standard),
        np.random.default_rng(3),
        digit_receiver=ExchangeDtmfReceiver(2),
        line_configs=configs,
    )
    return Bench(world)


def bursts(ring: np.ndarray) -> list[tuple[int, int]]:
    padded = np.concatenate(([False], ring, [False])).astype(np.int8)
    starts = np.flatnonzero(np.diff(padded) == 1)
    ends = np.flatnonzero(np.diff(padded) == -1)
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def cadence_bursts(cadence: tuple[int, ...], start: int, until: int) -> list[tuple[int, int]]:
    out, at = [], start
    while at < until:
        for i in range(0, len(cadence), 2):
            if at < until:
                out.append((at, min(at + cadence[i], until)))
            at += cadence[i] + cadence[i + 1]
    return out


@pytest.mark.parametrize("zone", ZONES)
def test_incoming_call_with_caller_id_per_zone_standard(zone):
    """Caller ID decodes to the caller, sits where its standard puts it, then the cadence goes on."""
    standard = ZONE_CALLERID[zone]
    cadence = get_plan(zone).ring_cadence_ms
    bench = bench_for(zone)
    bench.world.line(LINE).ring(caller_id=CALLER)
    total_ms = 16000
    bench.run(total_ms // 20)
    ring = bench.fxo_ring(LINE)
    audio = bench.heard_from(LINE)
    polarity = bench.per_tick("fxo_polarity", LINE)

    reports = decode_recording(audio)
    assert len(reports) == 1, reports
    report = reports[0]
    assert report.checksum_ok and report.caller.number == "5551234"
    if standard != "dtmf":
        assert report.caller.name == "JANE DOE" and report.caller.datetime == "11251730"
    expected_standard = {"bell202": "bell202", "v23": "v23", "v23_bt": "v23", "dtmf": "dtmf"}[standard]
    assert report.standard == expected_standard

    active = np.flatnonzero(np.abs(audio) > 0)
    audio_start_ms, audio_end_ms = active[0] / 8, (active[-1] + 1) / 8
    found = bursts(ring)
    if standard == "bell202":
        # GR-30-CORE: data in the first silent interval, >= 500 ms after the first ring.
        first_end = found[0][1]
        assert found[0] == (0, cadence[0])
        assert audio_start_ms >= first_end + 500 and audio_end_ms <= found[1][0]
        assert (polarity == 1).all()
        assert found == cadence_bursts(cadence, 0, total_ms)
    else:
        # EN 300 659-1 / SIN 227 / DTMF CLIP: all data before the first ring.
        assert audio_end_ms <= found[0][0]
        if standard in ("v23", "v23_bt"):
            reversed_at = int(np.argmax(polarity == -1))
            assert (polarity[reversed_at:] == -1).all() and reversed_at * 20 + 20 <= audio_start_ms + 20
            assert audio_start_ms >= 100, "line reversal at least 100 ms before the alert"
        # the sequence's ring is the first burst of the zone's cadence, which goes on in phase
        assert found == cadence_bursts(cadence, found[0][0], total_ms)
        assert found[0][0] - audio_end_ms <= 500, "EN 300 659-1: ringing 200-500 ms after the data"


@pytest.mark.parametrize("zone", ZONES)
def test_ring_without_callerid_rings_the_zone_cadence_sample_exact(zone):
    cadence = get_plan(zone).ring_cadence_ms
    bench = bench_for(zone)
    bench.run(7)
    bench.world.inject("ring_without_callerid", LINE)
    bench.world.line(LINE).ring(caller_id=CALLER)
    bench.run(600)
    ring = bench.fxo_ring(LINE)
    assert bursts(ring) == cadence_bursts(cadence, 140, 12140)
    assert not bench.heard_from(LINE).any()


@pytest.mark.parametrize("zone", ZONES)
def test_progress_tones_are_the_zone_plan_sample_exact(zone):
    plan = get_plan(zone)
    bench = bench_for(zone, disconnect=Disconnect.BUSY_TONE)
    line = bench.world.line(LINE)
    line.script_outgoing(outcome="answer", answer_after_ms=3000, digits=1, far_end=FarEnd())
    bench.run(2)
    bench.seize(LINE)  # off hook from ms 40
    bench.run(50)
    heard = bench.heard_from(LINE)
    expected = np.rint(render(plan.tone("dial"), 960 * 8)).astype(np.int16)
    np.testing.assert_array_equal(heard[40 * 8 : 1000 * 8], expected)

    bench.seize(LINE, np.array([False] * 60 + [True] * 40))  # pulse "1" from 1040 ms: routed at 1400
    bench.run(200)
    heard = bench.heard_from(LINE)
    assert not heard[1040 * 8 : 1400 * 8].any(), "dial tone stops at the first digit"
    ringback = np.rint(render(plan.tone("ringback"), 3000 * 8)).astype(np.int16)
    np.testing.assert_array_equal(heard[1400 * 8 : 4400 * 8], ringback)
    assert line.state is LineState.CONNECTED

    bench.run(1)
    line.far_end_hangup()  # busy tone from the start of the next tick
    clear_ms = len(bench.ticks) * 20
    bench.run(150)
    busy = np.rint(render(plan.tone("busy"), 3000 * 8)).astype(np.int16)
    np.testing.assert_array_equal(bench.heard_from(LINE)[clear_ms * 8 : (clear_ms + 3000) * 8], busy)


@pytest.mark.parametrize("zone", ["us", "uk", "de", "au"])
def test_congestion_outcome_is_the_zone_congestion_tone(zone):
    bench = bench_for(zone)
    bench.world.line(LINE).script_outgoing(outcome="congestion", digits=1)
    bench.seize(LINE, np.array([True] * 20 + [False] * 60 + [True] * 40))  # seize, pulse "1": routed at 380 ms
    bench.run(120)
    congestion = np.rint(render(get_plan(zone).tone("congestion"), 1000 * 8)).astype(np.int16)
    np.testing.assert_array_equal(bench.heard_from(LINE)[380 * 8 : 1380 * 8], congestion)


def test_dtmf_dialled_by_the_box_reaches_the_exchange():
    bench = bench_for("us")
    line = bench.world.line(LINE)
    line.script_outgoing(digits=4, answer_after_ms=100)
    bench.seize(LINE)
    bench.run(10)
    bench.send(LINE, generate_dtmf("2#09", level_dbm0=-12.0, on_ms=60, off_ms=60))
    bench.run(40)
    assert line.dialled == "2#09"
    assert line.state is LineState.CONNECTED
    assert bench.world.line(1).dialled == ""


def test_make_world_and_unknown_zone_or_standard():
    world = make_world(load_board("virtual"), "uk", seed=5)
    assert world.zone == "uk" and world.line(0).signals.callerid_standard == "v23_bt"
    with pytest.raises(BoardError, match="unknown tone zone 'xx'"):
        zone_signals("xx")
    with pytest.raises(BoardError, match="unknown caller-ID standard 'fax'"):
        zone_signals("us", "fax")
    with pytest.raises(BoardError, match="the exchange plays dial, ringback, busy, congestion, not 'sit'"):
        zone_signals("us").tone("sit")


def test_line_configured_for_another_standard_sends_it():
    bench = bench_for("us", callerid_standard="dtmf")
    bench.world.line(LINE).ring(caller_id=CallerId(number="0612345678"))
    bench.run(200)
    reports = decode_recording(bench.heard_from(LINE))
    assert [(r.standard, r.caller.number) for r in reports] == [("dtmf", "0612345678")]
