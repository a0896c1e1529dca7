"""The simulated phones on the FXS ports: hook switch per ms, dialling, speech, ringing."""

from __future__ import annotations

import numpy as np
import pytest

from board import BoardError
from board.definitions import load_board
from board.virtual.analog import SAMPLES_PER_TICK
from board.virtual.phones import PulseTiming
from board.virtual.world import World
from drivers.audiofile import read_audio
from dsp.dtmfgen import generate_dtmf
from tests.world_helpers import Bench, stub_signals

SPEECH = "/usr/share/asterisk/sounds/en_US_f_Allison/agent-loginok.wav"
PHONE = 3  # an FXS port of the virtual board
PHONE_INDEX = 1  # its index among the FXS ports (2, 3, 4, 5)


@pytest.fixture
def bench() -> Bench:
    world = World(load_board("virtual"), stub_signals(), np.random.default_rng(1))
    return Bench(world)


def runs(bits: np.ndarray) -> list[tuple[bool, int]]:
    """Run-length encoding: [(value, length), ...]."""
    edges = np.flatnonzero(np.diff(bits.astype(np.int8))) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [bits.size]))
    return [(bool(bits[s]), int(e - s)) for s, e in zip(starts, ends, strict=True)]


def test_offhook_and_hangup_take_effect_on_the_next_tick(bench):
    phone = bench.world.phone(PHONE)
    bench.run(2)
    phone.offhook()
    bench.run(3)
    phone.hangup()
    bench.run(2)
    assert runs(bench.fxs_hook(PHONE_INDEX)) == [(False, 40), (True, 60), (False, 40)]
    assert not phone.is_offhook


@pytest.mark.parametrize("digits", ["1", "3", "0", "907"])
def test_pulse_dialling_shape_is_exact(bench, digits):
    phone = bench.world.phone(PHONE)
    phone.offhook()
    bench.run(1)
    phone.dial(digits, method="pulse")
    bench.run(260)
    hook = bench.fxs_hook(PHONE_INDEX)[20:]
    expected: list[tuple[bool, int]] = []
    for i, digit in enumerate(digits):
        for pulse in range(int(digit) or 10):
            expected.append((False, 60))
            make = 40 + (700 if pulse == (int(digit) or 10) - 1 and i < len(digits) - 1 else 0)
            expected.append((True, make))
    observed = runs(hook)
    assert observed[:-1] == expected[:-1]
    assert observed[-1][0] is True and observed[-1][1] >= 40  # stays off hook after the last digit
    assert not phone.dialling


def test_pulse_timing_is_a_parameter():
    world = World(load_board("virtual"), stub_signals(), np.random.default_rng(1), pulse=PulseTiming(66, 34, 500))
    bench = Bench(world)
    world.phone(2).offhook()
    world.phone(2).dial("21", method="pulse")
    bench.run(40)
    assert runs(bench.fxs_hook(0)) == [(False, 66), (True, 34), (False, 66), (True, 534), (False, 66), (True, 800 - 766)]


@pytest.mark.parametrize("ms", [1, 90, 100, 250, 600, 1000])
def test_hook_flash_lasts_exactly_n_ms(bench, ms):
    phone = bench.world.phone(PHONE)
    phone.offhook()
    bench.run(1)
    phone.flash(ms)
    bench.run(60)
    assert runs(bench.fxs_hook(PHONE_INDEX)) == [(True, 20), (False, ms), (True, 1220 - 20 - ms)]


def test_dtmf_dialling_sends_the_generated_tones(bench):
    phone = bench.world.phone(PHONE)
    phone.offhook()
    phone.dial("15#", level_dbm0=-8.0, on_ms=60, off_ms=40)
    bench.run(20)
    expected = np.clip(np.rint(generate_dtmf("15#", level_dbm0=-8.0, on_ms=60, off_ms=40)), -32768, 32767)
    sent = bench.heard_from(PHONE)
    np.testing.assert_array_equal(sent[: expected.size], expected.astype(np.int16))
    assert not sent[expected.size :].any()


def test_speech_file_is_spoken_sample_exact_and_other_ports_stay_silent(bench):
    phone = bench.world.phone(PHONE)
    phone.offhook()
    phone.play(SPEECH)
    speech = read_audio(SPEECH)
    n_ticks = -(-speech.size // SAMPLES_PER_TICK) + 2
    bench.run(n_ticks)
    sent = bench.heard_from(PHONE)
    np.testing.assert_array_equal(sent[: speech.size], speech)
    for port in (0, 1, 2, 4, 5):
        assert not bench.heard_from(port).any(), f"port {port} must hear nothing"


def test_microphone_is_cut_during_breaks_and_on_hook(bench):
    phone = bench.world.phone(PHONE)
    tone = np.full(8000, 1000, dtype=np.int16)
    phone.offhook()
    phone.say(tone)
    bench.run(1)
    phone.flash(30)
    bench.run(3)
    sent = bench.heard_from(PHONE)
    hook = np.repeat(bench.fxs_hook(PHONE_INDEX), 8)
    assert (sent[hook] == 1000).all() and not sent[~hook].any()
    phone.hangup()
    bench.run(2)
    assert not bench.heard_from(PHONE)[-320:].any()


def test_phone_hears_what_the_host_sends_on_its_port_only(bench):
    rng = np.random.default_rng(5)
    sent = {port: rng.integers(-2000, 2000, 800).astype(np.int16) for port in (2, 3, 4, 5)}
    for port, samples in sent.items():
        bench.send(port, samples)
    bench.run(5)
    for port, samples in sent.items():
        np.testing.assert_array_equal(bench.world.phone(port).heard(), samples)  # on hook too (caller-ID display)
    assert bench.world.phone(3).heard(last_ms=40).size == 320
    assert bench.world.phone(3).heard(since_tick=4).size == 160


def test_ringing_is_seen_per_ms_and_auto_answer(bench):
    phone = bench.world.phone(PHONE)
    cadence = np.concatenate([np.ones(400, bool), np.zeros(200, bool), np.ones(400, bool), np.zeros(2000, bool)])
    bench.ringing[PHONE] = np.tile(cadence, 2)
    phone.answer_on_ring(rings=3, delay_ms=100)
    bench.run(160)
    np.testing.assert_array_equal(phone.ring_history()[: cadence.size], cadence)
    assert phone.ring_bursts == 3
    # third burst starts at 3000 ms (tick 150): answered 100 ms after the tick that saw it
    hook = bench.fxs_hook(PHONE_INDEX)
    assert not hook[: 3020 + 100].any() and hook[3020 + 100 :].all()


@pytest.mark.parametrize("repeat", [True, False])
def test_auto_answer_hangs_up_after_the_talk_time_and_repeats(bench, repeat):
    """An agent taking call after call: answers each call's first burst, hangs up 1 s later."""
    phone = bench.world.phone(PHONE)
    burst = np.concatenate([np.ones(400, bool), np.zeros(2600, bool)])  # a burst every 3 s
    bench.ringing[PHONE] = np.tile(burst, 3)
    phone.answer_on_ring(rings=1, hangup_after_ms=1000, repeat=repeat)
    bench.run(450)
    hook = bench.fxs_hook(PHONE_INDEX)
    # each burst seen in the tick it starts (0, 3000, 6000 ms): off hook from the next tick for 1 s
    answered = [(20, 1020), (3020, 4020), (6020, 7020)] if repeat else [(20, 1020)]
    expected = np.zeros(hook.size, bool)
    for start, end in answered:
        expected[start:end] = True
    np.testing.assert_array_equal(hook, expected)


def test_auto_answer_repeat_ends_when_a_person_takes_over(bench):
    phone = bench.world.phone(PHONE)
    bench.ringing[PHONE] = np.tile(np.concatenate([np.ones(400, bool), np.zeros(2600, bool)]), 2)
    phone.answer_on_ring(hangup_after_ms=1000, repeat=True)
    bench.run(10)
    phone.hangup()  # by hand, during the first call: no automatic hang-up or answer after it
    bench.run(440)
    hook = bench.fxs_hook(PHONE_INDEX)
    assert hook[20:200].all() and not hook[220:].any()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"repeat": True}, "repeat needs hangup_after_ms"),
    ({"hangup_after_ms": 0}, "hangup_after_ms >= 1"),
])
def test_auto_answer_refuses_a_repeat_it_cannot_do(bench, kwargs, message):
    with pytest.raises(BoardError, match=message):
        bench.world.phone(PHONE).answer_on_ring(**kwargs)


def test_polarity_and_open_loop_are_noted(bench):
    phone = bench.world.phone(PHONE)
    bench.run(2)
    bench.polarity[PHONE] = -1
    bench.run(3)
    bench.loop_open[PHONE] = True
    bench.run(1)
    bench.loop_open[PHONE] = False
    bench.run(1)
    assert phone.polarity_changes == [(2, -1)]
    assert phone.loop_open_changes == [(5, True), (6, False)]


@pytest.mark.parametrize(
    "action, message",
    [
        (lambda p: p.dial("12"), "on hook: cannot dial"),
        (lambda p: p.flash(100), "on hook: cannot flash"),
    ],
)
def test_on_hook_phone_refuses_dialling(bench, action, message):
    with pytest.raises(BoardError, match=message):
        action(bench.world.phone(PHONE))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"digits": "12*", "method": "pulse"}, "pulse dialling sends digits 0-9 only"),
        ({"digits": "12", "method": "rotary"}, "method must be 'dtmf' or 'pulse'"),
        ({"digits": "1X", "method": "dtmf"}, "cannot dial '1X'"),
    ],
)
def test_bad_dialling_is_refused_and_nothing_changes(bench, kwargs, message):
    phone = bench.world.phone(PHONE)
    phone.offhook()
    with pytest.raises(BoardError, match=message):
        phone.dial(**kwargs)
    bench.run(3)
    assert bench.fxs_hook(PHONE_INDEX).all() and not bench.heard_from(PHONE).any()


def test_unreadable_speech_file_is_one_board_error(bench, tmp_path):
    phone = bench.world.phone(PHONE)
    phone.offhook()
    with pytest.raises(BoardError, match=r"phone 3: .*nothing.wav: cannot read"):
        phone.play(tmp_path / "nothing.wav")


def test_ports_without_a_phone_are_refused(bench):
    with pytest.raises(BoardError, match=r"port 0 has no phone: FXS ports of board virtual are \[2, 3, 4, 5\]"):
        bench.world.phone(0)
