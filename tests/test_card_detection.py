"""Card-side port hardware without the serial link: SLIC/DAA drive and detection, ms by ms, at the edges."""

import numpy as np
import pytest

from board.virtual.analog import MS_PER_TICK
from board.virtual.card_ports import FxoPort, FxsPort, FxsTiming
from drivers.protocol import FIRST_RING, FXO_PREDIAL_MS, AckStatus, LineState, message
from drivers.timing import ZONES, zone_timing

# ----------------------------------------------------------------------------- helpers


def levels(*segments):
    """Per-ms booleans from (value, ms) segments, padded to whole ticks with the last value."""
    out = np.concatenate([np.full(ms, bool(value)) for value, ms in segments])
    pad = (-len(out)) % MS_PER_TICK
    return np.concatenate([out, np.full(pad, out[-1])])


def run_hook(port: FxsPort, samples: np.ndarray, loop_open: bool = False):
    events = []
    for tick in range(len(samples) // MS_PER_TICK):
        t0 = tick * MS_PER_TICK
        chunk = samples[t0 : t0 + MS_PER_TICK]
        unchanged = bool((chunk == port.hook.raw).all())
        if not port.quiet(t0, unchanged):
            events += port.detect(t0, chunk, loop_open)
    return events


def offhook_then(*segments, settle_ms=1000):
    """An on-hook phone goes off hook at 100 ms, then follows ``segments``, then stays off hook."""
    return levels((0, 100), (1, 400), *segments, (1, settle_ms))


def pulse_segments(pulses, break_ms=60, make_ms=40):
    segments = []
    for _ in range(pulses):
        segments += [(0, break_ms), (1, make_ms)]
    return segments


# ----------------------------------------------------------------------------- FXS hook detection


def test_off_hook_is_stamped_at_its_first_edge_after_debounce():
    port = FxsPort(2)
    assert run_hook(port, levels((0, 100), (1, 500))) == [("fxs_off_hook", {"t": 100})]


@pytest.mark.parametrize(
    ("break_ms", "expected"),
    [
        (9, []),  # shorter than the 10 ms debounce: a bounce
        (10, [("fxs_digit", {"pulses": 1, "t": 510})]),
        (75, [("fxs_digit", {"pulses": 1, "t": 575})]),  # pulse_break_max_ms
        (76, [("fxs_flash", {"ms": 76, "t": 500})]),
        (800, [("fxs_flash", {"ms": 800, "t": 500})]),  # flash_max_ms
        (801, [("fxs_on_hook", {"t": 500})]),
        (5000, [("fxs_on_hook", {"t": 500})]),
    ],
)
def test_one_break_is_a_bounce_a_pulse_a_flash_or_a_hang_up(break_ms, expected):
    port = FxsPort(2)
    events = run_hook(port, offhook_then((0, break_ms)))
    assert events[0] == ("fxs_off_hook", {"t": 100})
    if break_ms > 800:  # after a hang-up the phone picks up again
        expected = expected + [("fxs_off_hook", {"t": 500 + break_ms})]
    assert events[1:] == expected


@pytest.mark.parametrize("digit", range(1, 11))
@pytest.mark.parametrize(("break_ms", "make_ms"), [(60, 40), (67, 33), (64, 36), (58, 42)])
def test_pulse_dialled_digits(digit, break_ms, make_ms):
    port = FxsPort(3)
    events = run_hook(port, offhook_then(*pulse_segments(digit, break_ms, make_ms), (1, 700),
                                         *pulse_segments(2, break_ms, make_ms)))
    digits = [fields["pulses"] for name, fields in events if name == "fxs_digit"]
    assert digits == [digit, 2]
    assert [name for name, _ in events].count("fxs_flash") == 0


def test_a_make_longer_than_the_limit_splits_digits():
    port = FxsPort(3)
    port.timing = FxsTiming(pulse_make_max_ms=150)
    events = run_hook(port, offhook_then((0, 60), (1, 149), (0, 60), (1, 151), (0, 60), (1, 400)))
    assert [f["pulses"] for n, f in events if n == "fxs_digit"] == [2, 1]


def test_hook_is_frozen_while_the_battery_is_off():
    port = FxsPort(2)
    run_hook(port, levels((1, 200)))
    assert run_hook(port, levels((0, 2000)), loop_open=True) == []


# ----------------------------------------------------------------------------- FXS drive


def ring_samples(port: FxsPort, ticks: int, first_tick: int = 0):
    return np.concatenate([port.drive((first_tick + k) * MS_PER_TICK).ringing_ms for k in range(ticks)])


def test_ring_cadence_plays_from_the_next_tick_and_repeats():
    port = FxsPort(2)
    assert port.apply(message("fxs_ring", port=2, cadence_ms=[400, 200, 400, 2000])) == AckStatus.OK
    played = ring_samples(port, 300, first_tick=7)  # 6 s
    period = levels((1, 400), (0, 200), (1, 400), (0, 2000))
    np.testing.assert_array_equal(played, np.tile(period, 3)[: len(played)])


def test_stop_ring_ring_trip_and_on_hook_transmission():
    port = FxsPort(2)
    port.apply(message("fxs_ring", port=2, cadence_ms=[1000, 0]))
    assert ring_samples(port, 2).all()
    port.apply(message("fxs_oht", port=2, ms=30))
    window = ring_samples(port, 2, first_tick=2)
    assert not window[:30].any() and window[30:].all()  # ringing resumes after the window
    port.apply(message("fxs_stop_ring", port=2))
    assert not ring_samples(port, 2, first_tick=4).any()
    port.apply(message("fxs_ring", port=2, cadence_ms=[1000, 0]))
    run_hook(port, levels((1, 100)))  # the phone answers
    assert not ring_samples(port, 2, first_tick=10).any()
    assert not port.ringing


def test_open_loop_for_a_time_and_until_polarity():
    port = FxsPort(2)
    port.apply(message("fxs_polarity", port=2, polarity=-1))
    port.apply(message("fxs_open_loop", port=2, ms=100))
    drives = [port.drive(k * MS_PER_TICK) for k in range(7)]
    assert [d.loop_open for d in drives] == [True] * 5 + [False] * 2
    assert {d.polarity for d in drives} == {-1}
    port.apply(message("fxs_open_loop", port=2, ms=0))
    assert all(port.drive(k * MS_PER_TICK).loop_open for k in range(10, 100))
    port.apply(message("fxs_polarity", port=2, polarity=1))
    assert not port.drive(2000).loop_open


@pytest.mark.parametrize(
    ("msg", "status"),
    [
        (message("fxs_ring", port=2, cadence_ms=[1000]), AckStatus.BAD_ARGUMENT),
        (message("fxs_ring", port=2, cadence_ms=[0, 1000]), AckStatus.BAD_ARGUMENT),
        (message("fxs_polarity", port=2, polarity=0), AckStatus.BAD_ARGUMENT),
        (message("fxs_oht", port=2, ms=0), AckStatus.BAD_ARGUMENT),
        (message("fxs_timing", port=2, debounce_ms=80, pulse_break_max_ms=75, pulse_make_max_ms=150,
                 flash_max_ms=800), AckStatus.BAD_ARGUMENT),
        (message("fxo_seize", port=2), AckStatus.WRONG_PORT_TYPE),
    ],
)
def test_bad_fxs_commands_change_nothing(msg, status):
    port = FxsPort(2)
    assert port.apply(msg) == status
    assert port.cadence is None and port.polarity == 1 and port.timing == FxsTiming()


# ----------------------------------------------------------------------------- FXO drive


def hook_samples(port: FxoPort, ticks: int, first_tick: int = 0):
    return np.concatenate([port.drive((first_tick + k) * MS_PER_TICK).offhook_ms for k in range(ticks)])


def test_flash_and_pulse_dialling_schedule():
    port = FxoPort(0)
    assert port.apply(message("fxo_flash", port=0, ms=100)) == AckStatus.BAD_STATE  # not seized
    port.apply(message("fxo_seize", port=0))
    port.apply(message("fxo_flash", port=0, ms=90))
    port.apply(message("fxo_dial", port=0, pulses=3))
    port.apply(message("fxo_dial", port=0, pulses=1))
    played = hook_samples(port, 200, first_tick=5)
    expected = levels((1, FXO_PREDIAL_MS), (0, 90), *pulse_segments(3), (1, 700), *pulse_segments(1),
                      (1, 4000))[: len(played)]
    np.testing.assert_array_equal(played, expected)


@pytest.mark.parametrize("asked_after_ticks", [0, 1, 24, 25, 26, 60])
@pytest.mark.parametrize("signal", ["fxo_dial", "fxo_flash"])
def test_the_first_break_waits_the_pre_dial_delay_after_the_seizure(asked_after_ticks, signal):
    """Pulses or a flash asked with the seize (or soon after) must not cut the seizure short."""
    port = FxoPort(0)
    seize_tick = 7
    port.apply(message("fxo_seize", port=0))
    played = [port.drive((seize_tick + k) * MS_PER_TICK).offhook_ms for k in range(asked_after_ticks)]
    fields = {"pulses": 2} if signal == "fxo_dial" else {"ms": 300}
    port.apply(message(signal, port=0, **fields))
    first = seize_tick + asked_after_ticks
    played += [port.drive((first + k) * MS_PER_TICK).offhook_ms for k in range(60)]
    hook = np.concatenate(played)
    first_break = int(np.argmin(hook))
    assert hook[:first_break].all() and not hook[first_break]
    # FXO_PREDIAL_MS after the seizure, or at the start of the next tick when asked later
    assert first_break == max(FXO_PREDIAL_MS, asked_after_ticks * MS_PER_TICK)
    assert np.count_nonzero(np.diff(hook.astype(int)) == -1) == (2 if signal == "fxo_dial" else 1)  # none lost


def test_release_cancels_queued_signalling():
    port = FxoPort(0)
    port.apply(message("fxo_seize", port=0))
    port.apply(message("fxo_dial", port=0, pulses=9))
    hook_samples(port, 3)
    port.apply(message("fxo_release", port=0))
    assert not hook_samples(port, 100, first_tick=3).any()
    port.apply(message("fxo_seize", port=0))
    assert hook_samples(port, 100, first_tick=103).all()


@pytest.mark.parametrize(
    ("msg", "status"),
    [
        (message("fxo_dial", port=0, pulses=11), AckStatus.BAD_ARGUMENT),
        (message("fxo_dial", port=0, pulses=0), AckStatus.BAD_ARGUMENT),
        (message("fxo_flash", port=0, ms=0), AckStatus.BAD_ARGUMENT),
        (message("fxs_ring", port=0, cadence_ms=[1, 1]), AckStatus.WRONG_PORT_TYPE),
    ],
)
def test_bad_fxo_commands_change_nothing(msg, status):
    port = FxoPort(0)
    port.apply(message("fxo_seize", port=0))
    assert port.apply(msg) == status
    assert not port.queued


# ----------------------------------------------------------------------------- FXO detection


def run_line(port: FxoPort, ring, polarity=None, volts=None, loop_ma=None, first_tick=0):
    ticks = len(ring) // MS_PER_TICK
    events = []
    for tick in range(ticks):
        t0 = (first_tick + tick) * MS_PER_TICK
        offhook = port.drive(t0).offhook_ms
        events += port.detect(
            t0, ring[t0 : t0 + MS_PER_TICK], offhook,
            1 if polarity is None else polarity[tick], 48.0 if volts is None else volts[tick],
            0.0 if loop_ma is None else loop_ma[tick],
        )
    return events


def test_ring_bursts_are_measured_edge_to_edge_and_the_train_ends_after_silence():
    port = FxoPort(1)
    ring = levels((0, 1000), (1, 2000), (0, 4000), (1, 2000), (0, 6000), (0, 100))
    events = [e for e in run_line(port, ring) if e[0].startswith("fxo_ring")]
    assert events == [
        ("fxo_ring_on", {"off_ms": FIRST_RING, "t": 1000}),
        ("fxo_ring_off", {"on_ms": 2000, "t": 3000}),
        ("fxo_ring_on", {"off_ms": 4000, "t": 7000}),
        ("fxo_ring_off", {"on_ms": 2000, "t": 9000}),
        ("fxo_ring_end", {"t": 15000}),  # ring_end_ms (6000) after the last burst
    ]


def configured(zone: str) -> FxoPort:
    """An FXO port after the host sent it the zone's country settings (as at every handshake)."""
    timing = zone_timing(zone)
    port = FxoPort(1)
    assert port.apply(message(
        "fxo_country", port=1, impedance=int(timing.impedance), ring_threshold_v=timing.ring_threshold_v,
        ring_debounce_ms=timing.ring_debounce_ms, ring_end_ms=timing.ring_end_ms, dial_break_ms=timing.dial_break_ms,
        dial_make_ms=timing.dial_make_ms, dial_interdigit_ms=timing.dial_interdigit_ms,
        loop_drop_min_ms=timing.cpc_min_ms, line_debounce_ms=timing.line_debounce_ms)) == AckStatus.OK
    return port


# Issue 10: a new call 6-7 s after an abandoned ring train was merged into it. The train now
# ends once the silence is longer than the zone's longest off period plus the cadence
# tolerance; a burst after that is the first of a new train.
@pytest.mark.parametrize("zone", sorted(ZONES))
@pytest.mark.parametrize("extra_ms", [0, 1, 2000])
def test_a_new_ring_train_after_the_old_one_ended_is_a_new_call(zone, extra_ms):
    timing = zone_timing(zone)
    longest_off = max(max(pattern[1::2]) for _, pattern in timing.cadences)
    assert timing.ring_end_ms == longest_off * (100 + timing.cadence_tolerance_pct) // 100
    silence = timing.ring_end_ms + extra_ms
    port = configured(zone)
    events = [e for e in run_line(port, levels((0, 1000), (1, 1000), (0, silence), (1, 1000), (0, 100)))
              if e[0].startswith("fxo_ring")]
    if extra_ms == 0:  # the longest silence a cadence may have: the same train goes on
        assert events[2] == ("fxo_ring_on", {"off_ms": silence, "t": 2000 + silence})
        assert "fxo_ring_end" not in [name for name, _ in events]
    else:
        assert events[2] == ("fxo_ring_end", {"t": 2000 + timing.ring_end_ms})
        assert events[3] == ("fxo_ring_on", {"off_ms": FIRST_RING, "t": 2000 + silence})


@pytest.mark.parametrize(("glitch_ms", "detected"), [(29, False), (30, True)])
def test_ring_debounce_edge(glitch_ms, detected):
    port = FxoPort(1)
    events = run_line(port, levels((0, 100), (1, glitch_ms), (0, 200)))
    assert (("fxo_ring_on", {"off_ms": FIRST_RING, "t": 100}) in events) == detected


def test_seizing_ends_the_ring_train():
    port = FxoPort(1)
    events = run_line(port, levels((0, 100), (1, 1000), (0, 400)))
    port.apply(message("fxo_seize", port=1))
    events += run_line(port, levels((1, 200)), loop_ma=[30.0] * 10, first_tick=75)
    assert [(name, fields) for name, fields in events if name.startswith("fxo_ring")] == [
        ("fxo_ring_on", {"off_ms": FIRST_RING, "t": 100}),
        ("fxo_ring_off", {"on_ms": 1000, "t": 1100}),
        ("fxo_ring_end", {"t": 1500}),  # at once, ring voltage still present on the line
    ]


def test_polarity_loop_drop_and_line_voltage():
    port = FxoPort(0)
    ticks = 60
    silence = np.zeros(ticks * MS_PER_TICK, dtype=bool)
    volts = np.array([48.0] * 10 + [8.0] * 10 + [0.0] * 40)
    polarity = np.array([1] * 30 + [-1] * 30)
    events = run_line(port, silence, polarity=polarity, volts=volts)
    assert events == [
        ("fxo_line", {"state": int(LineState.IDLE), "volts_dv": 480, "t": 0}),
        ("fxo_line", {"state": int(LineState.IN_USE), "volts_dv": 80, "t": 200}),
        ("fxo_line", {"state": int(LineState.ABSENT), "volts_dv": 0, "t": 400}),  # sent at 500 ms
        ("fxo_polarity", {"polarity": -1, "t": 619}),  # sampled at the end of the tick
    ]


@pytest.mark.parametrize(("drop_ticks", "reported"), [(17, False), (18, True)])
def test_loop_current_drop_at_its_minimum(drop_ticks, reported):
    port = FxoPort(0)
    port.apply(message("fxo_seize", port=0))
    loop = np.array([30.0] * 5 + [0.0] * drop_ticks + [30.0] * 5)
    events = run_line(port, np.zeros(len(loop) * MS_PER_TICK, dtype=bool), loop_ma=loop)
    drops = [fields for name, fields in events if name == "fxo_loop_drop"]
    assert drops == ([{"ms": 360, "t": 100}] if reported else [])  # 350 ms minimum, tick resolution


# Issue 10: the start of ringing is reported as soon as it is qualified (protocol 1.1).
@pytest.mark.parametrize(("burst_ms", "held"), [(199, False), (200, True), (2000, True)])
def test_a_ring_burst_is_held_once_it_has_lasted_the_qualify_time(burst_ms, held):
    port = FxoPort(1)
    assert port.apply(message("fxo_line_timing", port=1, ring_qualify_ms=200, predial_ms=500)) == AckStatus.OK
    events = run_line(port, levels((0, 1000), (1, burst_ms), (0, 500), (1, 300), (0, 100)))
    expected = [("fxo_ring_on", {"off_ms": FIRST_RING, "t": 1000})]
    if held:
        expected.append(("fxo_ring_held", {"t": 1200}))
    expected.append(("fxo_ring_off", {"on_ms": burst_ms, "t": 1000 + burst_ms}))
    second = 1000 + burst_ms + 500
    expected += [("fxo_ring_on", {"off_ms": 500, "t": second}), ("fxo_ring_held", {"t": second + 200}),
                 ("fxo_ring_off", {"on_ms": 300, "t": second + 300})]
    assert [e for e in events if e[0].startswith("fxo_ring")] == expected


def test_without_a_qualify_time_no_burst_is_held():
    port = FxoPort(1)
    events = run_line(port, levels((0, 100), (1, 2000), (0, 100)))
    assert "fxo_ring_held" not in [name for name, _ in events]


@pytest.mark.parametrize("predial_ms", [0, 300, 1500])
def test_the_pre_dial_hold_is_the_ports_own(predial_ms):
    port = FxoPort(0)
    assert port.apply(message("fxo_line_timing", port=0, ring_qualify_ms=0, predial_ms=predial_ms)) == AckStatus.OK
    port.apply(message("fxo_seize", port=0))
    port.apply(message("fxo_dial", port=0, pulses=1))
    hook = np.concatenate([port.drive(tick * MS_PER_TICK).offhook_ms for tick in range(100)])
    first_break = int(np.argmin(hook))
    assert first_break == predial_ms and hook[:predial_ms].all() and not hook[predial_ms:predial_ms + 60].any()
