"""The simulated exchange lines on the FXO ports: ringing, caller-ID timing, calls both ways,
disconnect signals, line voltage, faults. The exchange's tones are stand-in sines here
(``tests/world_helpers.stub_signals``) so that each tone is recognisable by frequency;
``tests/test_world_zones.py`` runs the real zone signals."""

from __future__ import annotations

import numpy as np
import pytest

from board import BoardError
from board.definitions import load_board
from board.virtual.alerting import AlertingProgram
from board.virtual.analog import FxoDrive, FxsDrive
from board.virtual.pstn import Disconnect, FarEnd, LineConfig, LineState, OutgoingScript
from board.virtual.world import World
from dsp.callerid import CallerId
from dsp.callerid_sequence import Segment, SegmentKind
from dsp.toneplans import ZONES, get_plan
from tests.world_helpers import TONE_HZ, Bench, stub_signals

LINE = 1  # an FXO port of the virtual board, index 1 among the FXO ports
LINE_INDEX = 1


def make_bench(cadence=(2000, 4000), segments=None, seed=1, **config) -> Bench:
    configs = {LINE: LineConfig(**config)} if config else None
    world = World(load_board("virtual"), stub_signals(cadence, segments), np.random.default_rng(seed), line_configs=configs)
    return Bench(world)


def cadence_pattern(cadence: tuple[int, ...], total_ms: int) -> np.ndarray:
    one = np.concatenate([np.full(v, i % 2 == 0) for i, v in enumerate(cadence)])
    return np.resize(one, total_ms)


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / 8000.0)[np.argmax(spectrum)])


# -- ringing ---------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ZONES)
def test_every_zone_cadence_is_reproduced_sample_exact(zone):
    cadence = get_plan(zone).ring_cadence_ms
    bench = make_bench(cadence=cadence)
    bench.run(3)
    bench.world.line(LINE).ring()
    period = sum(cadence)
    n_ticks = -(-(3 * period) // 20)
    bench.run(n_ticks)
    ring = bench.fxo_ring(LINE_INDEX)
    assert not ring[:60].any()
    np.testing.assert_array_equal(ring[60:], cadence_pattern(cadence, n_ticks * 20))
    assert not bench.fxo_ring(0).any(), "the other line must not ring"


def test_ring_program_cadence_continues_in_phase_after_a_ring_in_the_sequence():
    """GR-30 style: caller ID between the first and second ring; the second ring is on time."""
    fsk = np.full(3000, 500.0)
    segments = [Segment(SegmentKind.RING, 2000), Segment.audio(np.zeros(4000)), Segment.audio(fsk)]
    program = AlertingProgram((2000, 4000), segments)
    assert program.cadence_phase_ms == 0
    ring = program.ring(0, 18000)
    np.testing.assert_array_equal(ring, cadence_pattern((2000, 4000), 18000))
    audio = program.audio(0, 18000)
    assert not audio[: 2500 * 8].any()
    assert (audio[2500 * 8 : 2500 * 8 + 3000] == 500.0).all()
    assert not audio[2500 * 8 + 3000 :].any()
    assert [program.burst_end_ms(n) for n in (1, 2, 3)] == [2000, 8000, 14000]


def test_ring_program_before_first_ring_sequence():
    """ETSI/BT style: line reversal, alerting tone, FSK, then the cadence starts."""
    segments = [
        Segment(SegmentKind.LINE_REVERSAL, 0.0),
        Segment.audio(np.full(800, 100.0)),
        Segment.audio(np.zeros(480)),
        Segment.audio(np.full(1203, 200.0)),  # not a whole ms: audio stays sample-exact
        Segment(SegmentKind.LINE_REVERSAL, 0.0),
        Segment.audio(np.zeros(1600)),
    ]
    program = AlertingProgram((400, 200, 400, 2000), segments)
    assert program.reversals_ms == (0, 311)  # 2483 samples = 310.4 ms: the next whole ms
    assert program.intro_ms == 511  # 4083 samples
    assert program.cadence_phase_ms == program.intro_ms
    audio = program.audio(0, 600)
    assert (audio[:800] == 100).all() and not audio[800:1280].any() and (audio[1280:2483] == 200).all()
    assert not audio[2483:].any()
    ring = program.ring(0, program.intro_ms + 3000)
    assert not ring[: program.intro_ms].any()
    np.testing.assert_array_equal(ring[program.intro_ms :], cadence_pattern((400, 200, 400, 2000), 3000))
    assert [program.burst_end_ms(n) for n in (1, 2, 3)] == [511 + 400, 511 + 1000, 511 + 3400]


def test_ring_program_cadence_follows_the_last_ring_of_the_sequence():
    """EN 300 659-1 RP-AS style: a short ring pulse, FSK, a first ring, then the cadence."""
    segments = [
        Segment(SegmentKind.RING, 250),
        Segment.audio(np.full(8000, 50.0)),  # 1 s of "FSK"
        Segment(SegmentKind.RING, 1000),
    ]
    program = AlertingProgram((1000, 4000), segments)
    assert program.cadence_phase_ms == 1250
    ring = program.ring(0, 11250)
    expected = np.zeros(11250, bool)
    expected[:250] = expected[1250:2250] = expected[6250:7250] = True
    np.testing.assert_array_equal(ring, expected)
    assert [program.burst_end_ms(n) for n in (1, 2, 3, 4)] == [250, 2250, 7250, 12250]


def test_off_hook_caller_id_is_not_simulated():
    with pytest.raises(BoardError, match="await_ack .* is not simulated"):
        AlertingProgram((2000, 4000), [Segment(SegmentKind.AWAIT_ACK, 160.0)])


@pytest.mark.parametrize(
    "cadence, message",
    [((), "on/off pairs"), ((400, 200, 400), "on/off pairs"), ((400, 0), "on/off pairs"), ((400.5, 200), "whole ms")],
)
def test_bad_cadences_are_refused(cadence, message):
    with pytest.raises(BoardError, match=message):
        AlertingProgram(cadence)


def test_callerid_audio_is_on_the_line_between_rings():
    fsk = (1000 * np.sin(np.arange(4000) * 2 * np.pi * 1200 / 8000)).astype(np.int16)
    segments = [Segment(SegmentKind.RING, 2000), Segment.audio(np.zeros(4000)), Segment.audio(fsk)]
    bench = make_bench(segments=segments)
    bench.world.line(LINE).ring(caller_id=CallerId(number="5551234"))
    bench.run(400)
    heard = bench.heard_from(LINE)
    np.testing.assert_array_equal(heard[2500 * 8 : 2500 * 8 + 4000], fsk)
    assert not heard[: 2500 * 8].any() and not heard[2500 * 8 + 4000 :].any()
    np.testing.assert_array_equal(bench.fxo_ring(LINE_INDEX), cadence_pattern((2000, 4000), 8000))


def test_ring_without_callerid_fault_sends_no_audio_once():
    segments = [Segment(SegmentKind.LINE_REVERSAL, 0.0), Segment.audio(np.full(800, 900)), Segment.audio(np.zeros(800))]
    bench = make_bench(segments=segments)
    line = bench.world.line(LINE)
    bench.world.inject("ring_without_callerid", LINE)
    line.ring(caller_id=CallerId(number="5551234"), max_rings=1)
    bench.run(310)
    assert not bench.heard_from(LINE).any()
    assert (bench.per_tick("fxo_polarity", LINE_INDEX) == 1).all()
    np.testing.assert_array_equal(bench.fxo_ring(LINE_INDEX)[:2000], np.ones(2000, bool))
    assert line.state is LineState.IDLE  # caller gave up after one ring
    line.ring(caller_id=CallerId(number="5551234"))  # the fault was one-shot
    bench.run(10)
    assert bench.per_tick("fxo_polarity", LINE_INDEX)[-10] == -1
    assert (bench.heard_from(LINE)[-1600:-800] == 900).all()


def test_max_rings_then_the_caller_gives_up():
    bench = make_bench()
    line = bench.world.line(LINE)
    line.ring(max_rings=2)
    bench.run(500)
    ring = bench.fxo_ring(LINE_INDEX)
    assert ring[:2000].all() and not ring[2000:6000].any() and ring[6000:8000].all() and not ring[8000:].any()
    assert line.state is LineState.IDLE


# -- incoming call: answer, audio both ways, disconnect ---------------------------------


def answered_call(**config) -> tuple[Bench, FarEnd]:
    bench = make_bench(**config)
    far = FarEnd(np.full(16000, 777, dtype=np.int16))
    bench.world.line(LINE).ring(caller_id=CallerId(number="5551234"), far_end=far)
    bench.run(10)
    plan = np.zeros(13, bool)  # off hook at ms 13 of the next tick
    plan = np.concatenate([plan, np.ones(7, bool)])
    bench.seize(LINE, plan)
    bench.run(1)
    return bench, far


def test_answer_trips_the_ring_at_the_same_ms_and_connects_both_ways():
    bench, far = answered_call()
    ring = bench.fxo_ring(LINE_INDEX)
    assert ring[:213].all() and not ring[213:].any()
    line = bench.world.line(LINE)
    assert line.state is LineState.CONNECTED
    heard = bench.heard_from(LINE)
    assert not heard[: 213 * 8].any() and (heard[213 * 8 :] == 777).all()
    bench.send(LINE, np.full(800, -55, dtype=np.int16))
    bench.run(5)
    assert (far.heard()[-800:] == -55).all()
    assert (bench.per_tick("fxo_loop_ma", LINE_INDEX)[-5:] == 25.0).all()
    assert (bench.per_tick("fxo_line_volts", LINE_INDEX)[-5:] == 8.0).all()
    assert not bench.heard_from(0).any(), "the other line hears nothing"


def test_disconnect_by_polarity_reversal():
    bench, far = answered_call(disconnect=Disconnect.POLARITY_REVERSAL)
    bench.run(2)
    bench.world.line(LINE).far_end_hangup()
    bench.run(3)
    polarity = bench.per_tick("fxo_polarity", LINE_INDEX)
    assert (polarity[:13] == 1).all() and (polarity[13:] == -1).all()
    assert not bench.heard_from(LINE)[-3 * 160 :].any(), "the far end is silent after hanging up"
    assert bench.world.line(LINE).state is LineState.CLEARED
    bench.release(LINE)
    bench.run(51)
    assert bench.world.line(LINE).state is LineState.IDLE
    assert bench.per_tick("fxo_polarity", LINE_INDEX)[-1] == 1


@pytest.mark.parametrize("drop_ms", [200, 600, 800])
def test_disconnect_by_loop_current_drop(drop_ms):
    bench, _ = answered_call(disconnect=Disconnect.LOOP_CURRENT_DROP, loop_drop_ms=drop_ms)
    bench.world.line(LINE).far_end_hangup()
    bench.run(60)
    loop = bench.per_tick("fxo_loop_ma", LINE_INDEX)[11:]
    assert (loop[: drop_ms // 20] == 0.0).all() and (loop[drop_ms // 20 :] == 25.0).all()
    assert (bench.per_tick("fxo_polarity", LINE_INDEX) == 1).all()


def test_disconnect_by_busy_tone():
    bench, _ = answered_call(disconnect=Disconnect.BUSY_TONE)
    bench.world.line(LINE).far_end_hangup()
    bench.run(50)
    tail = bench.heard_from(LINE)[-8000:]
    assert abs(dominant_hz(tail) - TONE_HZ["busy"]) < 2
    assert (bench.per_tick("fxo_polarity", LINE_INDEX) == 1).all()


def test_far_end_gone_silently_gives_no_signal_at_all():
    bench, far = answered_call(disconnect=Disconnect.POLARITY_REVERSAL)
    bench.world.inject("far_end_gone_silently", LINE)
    bench.run(100)
    assert (bench.per_tick("fxo_polarity", LINE_INDEX) == 1).all()
    assert (bench.per_tick("fxo_loop_ma", LINE_INDEX)[11:] == 25.0).all()
    assert not bench.heard_from(LINE)[-100 * 160 :].any()
    assert far.gone


def test_disconnect_method_can_be_chosen_per_hangup():
    bench, _ = answered_call(disconnect=Disconnect.BUSY_TONE)
    bench.world.line(LINE).far_end_hangup(method="polarity_reversal")
    bench.run(2)
    assert bench.per_tick("fxo_polarity", LINE_INDEX)[-1] == -1


# -- outgoing call ---------------------------------------------------------------------


def test_seize_gives_dial_tone_and_pulse_digits_are_counted():
    bench = make_bench()
    line = bench.world.line(LINE)
    script = line.script_outgoing(outcome="answer", answer_after_ms=1000, far_end=FarEnd(np.full(8000, 321)))
    bench.seize(LINE)
    bench.run(25)
    assert line.state is LineState.DIAL_TONE
    assert abs(dominant_hz(bench.heard_from(LINE)[-2400:]) - TONE_HZ["dial"]) < 2
    pulses = []
    for digit in "42":
        for _ in range(int(digit)):
            pulses += [False] * 60 + [True] * 40
        pulses += [True] * 700
    bench.seize(LINE, np.array(pulses))
    bench.run(len(pulses) // 20 + 1)
    assert line.dialled == "42"
    assert line.state is LineState.DIALLING
    bench.run(260)  # 4 s inter-digit timeout, then 1 s of ringback, then the answer
    assert line.state is LineState.CONNECTED
    assert script.far_end is line.far_end
    assert (bench.heard_from(LINE)[-160:] == 321).all()
    names = [(e.name, e.detail) for e in line.events]
    assert names[-3:] == [("route", "42 answer"), ("progress", ""), ("connected", "far_end_answered")]


def test_outgoing_outcomes_play_the_right_tone():
    for outcome, tone in (("busy", "busy"), ("congestion", "congestion"), ("no_answer", "ringback")):
        bench = make_bench()
        line = bench.world.line(LINE)
        line.script_outgoing(outcome=outcome, digits=1)
        bench.seize(LINE)
        bench.run(5)
        bench.seize(LINE, np.array([False] * 60 + [True] * 40))  # pulse "1"
        bench.run(100)
        assert line.dialled == "1" and line.state is LineState.PROGRESS
        assert abs(dominant_hz(bench.heard_from(LINE)[-8000:]) - TONE_HZ[tone]) < 2, outcome


def test_answer_supervision_by_polarity_reversal():
    bench = make_bench(answer_reversal=True)
    line = bench.world.line(LINE)
    line.script_outgoing(OutgoingScript(answer_after_ms=500, digits=1))
    bench.seize(LINE)
    bench.run(5)
    bench.seize(LINE, np.array([False] * 60 + [True] * 40))  # "1" from 100 ms: digit done at 160 + 300 ms
    bench.run(50)
    polarity = bench.per_tick("fxo_polarity", LINE_INDEX)
    assert (polarity[:48] == 1).all() and (polarity[48:] == -1).all()  # answered at 460 + 500 ms = tick 48
    assert line.state is LineState.CONNECTED
    line.far_end_hangup()  # polarity reversal disconnect: back to normal
    bench.run(1)
    assert bench.per_tick("fxo_polarity", LINE_INDEX)[-1] == 1


def test_far_end_answers_when_told_and_plays_a_speech_file():
    speech_path = "/usr/share/asterisk/sounds/en_US_f_Allison/vm-goodbye.wav"
    from drivers.audiofile import read_audio

    speech = read_audio(speech_path)
    bench = make_bench()
    line = bench.world.line(LINE)
    with pytest.raises(BoardError, match="line 1 has no outgoing call ringing"):
        line.answer()
    line.script_outgoing(outcome="no_answer", digits=1, far_end=FarEnd.from_file(speech_path))
    bench.seize(LINE, np.array([True] * 20 + [False] * 60 + [True] * 40))  # routed at 380 ms
    bench.run(50)
    assert line.state is LineState.PROGRESS
    line.answer()  # from the start of tick 50
    bench.run(-(-speech.size // 160) + 2)
    np.testing.assert_array_equal(bench.heard_from(LINE)[1000 * 8 : 1000 * 8 + speech.size], speech)
    assert bench.world.heard(LINE).size == bench.heard_from(LINE).size
    with pytest.raises(BoardError, match="far end: .*cannot read"):
        FarEnd.from_file("/nonexistent.wav")


class ScriptedReceiver:
    """A DTMF receiver stand-in: reports given digits at given ticks, on given lines."""

    def __init__(self, at: dict[int, list[tuple[int, str]]]) -> None:
        self.at = at
        self.tick = -1
        self.shapes = []

    def process(self, block):
        self.tick += 1
        self.shapes.append(block.shape)
        return self.at.get(self.tick, [])


def test_dtmf_digits_from_the_receiver_are_collected_on_their_line():
    receiver = ScriptedReceiver({10: [(LINE_INDEX, "5")], 12: [(LINE_INDEX, "1"), (0, "9")]})
    world = World(load_board("virtual"), stub_signals(), np.random.default_rng(1), digit_receiver=receiver)
    bench = Bench(world)
    bench.seize(LINE)
    bench.run(20)
    assert world.line(LINE).dialled == "51"
    assert world.line(0).dialled == ""  # line 0 is not seized: digits are ignored
    assert world.line(LINE).state is LineState.DIALLING
    assert set(receiver.shapes) == {(2, 160)}


def test_flash_on_a_call_is_noted_and_a_long_break_clears():
    bench, _ = answered_call()
    line = bench.world.line(LINE)
    bench.seize(LINE, np.array([False] * 300 + [True]))
    bench.run(20)
    assert line.flashes == [300] and line.state is LineState.CONNECTED
    bench.seize(LINE, np.array([False] * 999 + [True]))
    bench.run(60)
    assert line.flashes == [300, 999] and line.state is LineState.CONNECTED
    bench.release(LINE)
    bench.run(50)
    assert line.state is LineState.CONNECTED
    bench.run(1)
    assert line.state is LineState.IDLE


# -- line voltage ----------------------------------------------------------------------


def test_line_voltage_states():
    bench = make_bench()
    line = bench.world.line(LINE)
    bench.run(1)
    assert bench.per_tick("fxo_line_volts", LINE_INDEX)[-1] == 48.0
    line.set_voltage("parallel_in_use")
    bench.run(1)
    assert bench.per_tick("fxo_line_volts", LINE_INDEX)[-1] == 8.0
    bench.seize(LINE)
    bench.run(1)
    assert bench.per_tick("fxo_line_volts", LINE_INDEX)[-1] == 6.0
    assert bench.per_tick("fxo_loop_ma", LINE_INDEX)[-1] == 12.0
    assert line.state is LineState.IDLE, "no dial tone on a line a parallel phone holds"
    line.set_voltage("parallel_idle")
    bench.release(LINE)
    bench.run(60)
    bench.world.inject("line_dead", LINE)
    bench.run(1)
    assert bench.per_tick("fxo_line_volts", LINE_INDEX)[-1] == 0.0
    with pytest.raises(BoardError, match="cannot ring: it is dead"):
        line.ring()
    bench.seize(LINE)
    bench.run(5)
    assert bench.per_tick("fxo_loop_ma", LINE_INDEX)[-1] == 0.0 and not bench.heard_from(LINE)[-800:].any()
    bench.world.inject("line_restored", LINE)
    bench.run(2)
    assert line.state is LineState.DIAL_TONE and bench.per_tick("fxo_loop_ma", LINE_INDEX)[-1] == 25.0


def test_line_dead_mid_call_drops_everything():
    bench, far = answered_call()
    bench.world.inject("line_dead", LINE)
    bench.run(3)
    assert bench.world.line(LINE).state is LineState.DEAD
    assert (bench.per_tick("fxo_loop_ma", LINE_INDEX)[-3:] == 0).all()
    assert not bench.heard_from(LINE)[-480:].any()


# -- determinism, noise, errors --------------------------------------------------------


def test_line_noise_is_seeded_and_at_its_level():
    runs = []
    for _ in range(2):
        bench = make_bench(seed=42, noise_dbm0=-50.0)
        bench.run(100)
        runs.append(bench.heard_from(LINE))
    np.testing.assert_array_equal(runs[0], runs[1])
    from dsp.levels import signal_dbm0

    assert abs(signal_dbm0(runs[0]) - -50.0) < 0.3
    other = make_bench(seed=43, noise_dbm0=-50.0)
    other.run(100)
    assert not np.array_equal(other.heard_from(LINE), runs[0])


@pytest.mark.parametrize(
    "action, message",
    [
        (lambda w: w.line(2), r"port 2 has no exchange line: FXO ports of board virtual are \[0, 1\]"),
        (lambda w: w.inject("lightning", 0), "unknown world fault 'lightning'"),
        (lambda w: w.line(0).far_end_hangup(), "line 0 has no call to hang up"),
        (lambda w: w.inject("far_end_gone_silently", 0), "line 0 has no call to hang up"),
        (lambda w: w.line(0).abandon(), "line 0 is not ringing"),
        (lambda w: w.line(0).set_voltage("high"), "line condition must be"),
        (lambda w: w.line(0).script_outgoing(outcome="maybe"), "'maybe' is not a valid Outcome"),
    ],
)
def test_bad_scripting_is_refused(action, message):
    bench = make_bench()
    with pytest.raises((BoardError, ValueError), match=message):
        action(bench.world)


def test_bad_line_configs_are_refused():
    with pytest.raises(BoardError, match="clear_ms must be >= 1"):
        LineConfig(clear_ms=0)
    with pytest.raises(BoardError, match="line config for port 3: not an FXO port"):
        World(load_board("virtual"), stub_signals(), np.random.default_rng(1), line_configs={3: LineConfig()})


def test_ticks_must_advance_and_drives_must_match_the_board():
    bench = make_bench()
    bench.run(2)
    world = bench.world
    with pytest.raises(BoardError, match="tick 1 does not follow tick 1"):
        world.advance(1, [], [], np.zeros((6, 160), np.int16))
    with pytest.raises(BoardError, match="world needs 4 FXS and 2 FXO drives"):
        world.advance(2, [], [], np.zeros((6, 160), np.int16))
    with pytest.raises(BoardError, match=r"audio_to_lines must be int16 shaped \(6, 160\), got float64"):
        fxs = [FxsDrive(np.zeros(20, bool), 1, False)] * 4
        world.advance(2, fxs, [FxoDrive(np.zeros(20, bool))] * 2, np.zeros((6, 160)))
    with pytest.raises(BoardError, match="tick 1 is in the past"):
        world.at(1, lambda: None)


def test_actions_run_at_their_tick():
    bench = make_bench()
    seen = []
    bench.world.at(5, lambda: seen.append(bench.world.tick))
    bench.world.after_ms(70, lambda: seen.append(bench.world.tick))  # from tick 0: 4 ticks later
    bench.run(8)
    assert seen == [4, 5]
