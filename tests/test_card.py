"""The card emulator on a real pty, driven by the production link and LineCard: what the firmware sees."""

import os

import numpy as np
import pytest

from board.virtual.analog import MS_PER_TICK
from drivers import DriverError
from drivers.link import IN_SERVICE, LinkState, SerialLink
from drivers.ports import (
    HookFlash,
    LineVoltage,
    LoopCurrentDrop,
    OffHook,
    OnHook,
    PolarityReversal,
    PortInService,
    PortOutOfService,
    PulseDigit,
    RingQualified,
    RingStart,
    RingStop,
)
from drivers.protocol import FXO_PREDIAL_MS, LineState
from drivers.timing import zone_timing
from tests.card_helpers import (
    FAST,
    Rig,
    between,
    cadence,
    off_hook_with_breaks,
    pulses,
    wait_for,
)


@pytest.fixture
def rig():
    rig = Rig()
    yield rig
    rig.close()


def test_the_host_opens_the_pty_path_and_identifies_the_card(rig):
    assert os.path.islink(rig.card.path) and os.readlink(rig.card.path).startswith("/dev/pts/")
    identity = rig.link.identity
    assert identity.model == "LB-VIRT" and identity.port_types == rig.card.port_types
    assert identity.reset_cause == "power_on" and not identity.resumed
    events = rig.run(10)
    assert events[:6] == [PortInService(p) for p in range(6)]
    assert events[6:] == [LineVoltage(0, LineState.IDLE, 48.0, 0), LineVoltage(1, LineState.IDLE, 48.0, 0)]


def test_phone_off_hook_flash_digits_and_hang_up(rig):
    timing = zone_timing("us")
    digit_5 = pulses(2000, 5)
    digit_0 = pulses(3500, 10)
    rig.world.hooks[1] = off_hook_with_breaks(1000, 6000, [(1500, 1800), *digit_5, *digit_0])
    events = [e for e in rig.run(400) if e.port == 3 and not isinstance(e, PortInService)]
    assert events == [
        OffHook(3, 1000),
        HookFlash(3, 300, 1500),
        PulseDigit(3, "5", digit_5[-1][1]),
        PulseDigit(3, "0", digit_0[-1][1]),
        OnHook(3, 6000),
    ]
    assert rig.tick * 20 >= 6000 + timing.flash_max_ms


def test_ringing_a_phone_follows_the_cadence_and_stops_when_answered(rig):
    rig.run(5)
    rig.line.ring(2, [400, 200, 400, 2000])
    rig.line.wait_acked(5.0)
    start = rig.tick
    rig.run(150)
    played = rig.world.fxs_ringing(0, start)
    expected = np.tile(np.concatenate([np.ones(400), np.zeros(200), np.ones(400), np.zeros(2000)]), 2)[:3000]
    np.testing.assert_array_equal(played, expected.astype(bool))
    rig.world.hooks[0] = between((3500, 99999))  # answered during the next burst
    rig.run(40)
    assert OffHook(2, 3500) in rig.events
    assert not rig.world.fxs_ringing(0, rig.tick - 20).any()  # ring trip, before any stop_ring


def test_a_command_sent_during_tick_n_is_in_effect_at_tick_n_plus_1(rig):
    rig.run(3)
    rig.line.seize(0)
    rig.line.wait_acked(5.0)
    rig.run(1)
    assert rig.world.fxo_log[-1][0].offhook_ms.all()
    assert not rig.world.fxo_log[-2][0].offhook_ms.any()


def test_outgoing_call_seize_pulse_dial_flash_release(rig):
    rig.run(2)
    first = rig.tick
    rig.line.seize(1)
    rig.line.wait_acked(5.0)
    rig.run(10)  # dial tone
    rig.line.pulse_dial(1, "21")
    rig.line.flash(1, 600)
    rig.line.wait_acked(5.0)
    rig.run(150)
    rig.line.release(1)
    rig.line.wait_acked(5.0)
    rig.run(2)
    hook = rig.world.fxo_hook(1, first)
    edges = np.flatnonzero(np.diff(hook.astype(int))) + 1
    # seized at once; dialling, asked 200 ms later, starts once the line was held FXO_PREDIAL_MS
    assert hook[0] and list(edges[:1]) == [FXO_PREDIAL_MS]
    breaks, makes = edges[0:-1:2], edges[1::2]
    assert list(makes - breaks) == [60, 60, 60, 600]  # 2 pulses, 1 pulse, the flash
    assert breaks[1] - breaks[0] == 100  # 10 pulses per second
    assert breaks[2] - breaks[1] == 100 + 700  # the inter-digit pause after "2"
    assert breaks[3] - breaks[2] == 100 + 700
    assert not hook[-40:].any() and len(edges) == 9  # released


def test_incoming_ring_is_qualified_and_the_line_answered(rig):
    rig.world.rings[0] = cadence(200, 12200, [2000, 4000])
    events = rig.run(330)
    ring = [e for e in events if isinstance(e, (RingStart, RingQualified, RingStop))]
    # RingStart once the first burst has lasted min_ring_ms (200 ms), not at its end (issue 10)
    assert ring == [RingStart(0, 200 + 200), RingQualified(0, "standard", 6200)]
    rig.line.seize(0)  # answered during the second burst
    rig.line.wait_acked(5.0)
    events = rig.run(5)
    assert [e for e in events if isinstance(e, RingStop)] == [RingStop(0, 6600)]


def test_uk_double_ring_polarity_reversal_line_states_and_loop_drop():
    rig = Rig(zone="uk")
    try:
        rig.world.rings[1] = cadence(100, 3500, [400, 200, 400, 2000])
        rig.run(180)
        assert [e for e in rig.events if isinstance(e, (RingStart, RingQualified))] == [
            RingStart(1, 100 + 200), RingQualified(1, "standard", 3100)]  # 200 ms into the first burst
        rig.world.polarity[0] = -1
        rig.world.volts[1] = 7.5  # a parallel phone picked up
        rig.run(10)
        assert PolarityReversal(0, -1, 3619) in rig.events
        assert LineVoltage(1, LineState.IN_USE, 7.5, 3600) in rig.events
        rig.line.seize(0)
        rig.line.wait_acked(5.0)
        rig.run(5)
        rig.world.loop_ma[0] = 0.0  # the far end cleared: calling party control
        rig.run(20)
        drops = [e for e in rig.events if isinstance(e, LoopCurrentDrop)]
        assert drops == [LoopCurrentDrop(0, 260, 3900)]  # uk cpc_min_ms 250, tick resolution
    finally:
        rig.close()


def test_runs_are_deterministic():
    def scenario():
        rig = Rig()
        try:
            rig.world.hooks[2] = off_hook_with_breaks(300, 3000, pulses(800, 3) + [(1500, 1700)])
            rig.world.rings[0] = cadence(100, 5000, [2000, 4000])
            rig.run(60)
            rig.line.seize(1)
            rig.line.pulse_dial(1, "9")
            rig.line.ring(5)
            rig.line.wait_acked(5.0)
            rig.run(240)
            return rig.events, [d[1].offhook_ms.tobytes() for d in rig.world.fxo_log]
        finally:
            rig.close()

    first, second = scenario(), scenario()
    assert first == second
    assert len(first[0]) > 12


def test_timestamps_unwrap_across_the_card_clock_wrap():
    rig = Rig(clock_origin_ms=(1 << 32) - 500)
    try:
        rig.world.hooks[0] = between((200, 1000))
        rig.run(100)
        hook = [e for e in rig.events if isinstance(e, (OffHook, OnHook))]
        assert hook == [OffHook(2, (1 << 32) - 300), OnHook(2, (1 << 32) + 500)]
        assert rig.link.state == LinkState.UP
    finally:
        rig.close()


# ----------------------------------------------------------------------------- state present before the host knew


FOREVER_MS = 10**9


@pytest.mark.parametrize("ticks_before_host", [0, 3, 40, 150])
def test_a_phone_off_hook_and_a_ring_from_the_first_sample_are_reported_once(ticks_before_host):
    """Power-on with a phone off hook and a line ringing from ms 0; the host connects at tick 0,
    during the debounce, during the first burst, or in the silence after it."""
    rig = Rig(connect=False)
    try:
        rig.world.hooks[0] = between((0, FOREVER_MS))
        rig.world.rings[1] = cadence(0, FOREVER_MS, [2000, 4000])
        rig.run(ticks_before_host)  # nobody listens yet: the card's events go nowhere
        rig.connect()
        connected_ms = rig.tick * MS_PER_TICK
        rig.run(350 - ticks_before_host)  # to 7 s: the second burst has ended
        offhooks = [e for e in rig.events if isinstance(e, OffHook)]
        assert [e.port for e in offhooks] == [2]
        starts = [e for e in rig.events if isinstance(e, RingStart)]
        assert [e.port for e in starts] == [1]
        # min_ring_ms into the first burst, or at the snapshot when the train began before the host came
        assert starts[0].at_ms == (200 if ticks_before_host == 0 else connected_ms - MS_PER_TICK)
        qualified = [e for e in rig.events if isinstance(e, RingQualified)]
        # a whole period is measured only when the host saw it (7 s is too early otherwise)
        assert qualified == ([RingQualified(1, "standard", 6000)] if ticks_before_host < 100 else [])
        assert not [e for e in rig.events if isinstance(e, (OnHook, RingStop))]
    finally:
        rig.close()


@pytest.mark.parametrize("ticks_before_host", [0, 5])
def test_a_line_reversed_at_power_on_is_known_so_its_return_to_normal_is_reported(ticks_before_host):
    rig = Rig(connect=False)
    try:
        rig.world.polarity[0] = -1
        rig.run(ticks_before_host)
        rig.connect()
        rig.run(5)
        rig.world.polarity[0] = 1  # e.g. the exchange's answer or clear signal
        rig.run(2)
        reversals = [e for e in rig.events if isinstance(e, PolarityReversal)]
        assert reversals[-1:] == [PolarityReversal(0, 1, rig.tick * MS_PER_TICK - MS_PER_TICK - 1)]
        # the reversed state itself was an event when the host was there to see it appear
        assert reversals[:-1] == ([PolarityReversal(0, -1, MS_PER_TICK - 1)] if ticks_before_host == 0 else [])
    finally:
        rig.close()


@pytest.mark.parametrize("fault", ["serial_unplug", "stop_answering"])
def test_after_a_resumed_session_an_off_hook_phone_is_reported_again(fault):
    """Without a hold the firmware ends a port's calls when it leaves service, so PortInService
    starts it idle: a phone still off hook must be reported again, once, even though the card
    kept its state."""
    rig = Rig(config=FAST, hold_s=0)
    try:
        rig.world.hooks[0] = between((100, FOREVER_MS))
        rig.run(10)
        assert [e for e in rig.events if isinstance(e, OffHook)] == [OffHook(2, 100)]
        rig.card.inject(fault, **({"seconds": 0.2} if fault == "serial_unplug" else {}))
        assert rig.link.wait_state({LinkState.DOWN}, 5.0)
        rig.run(3)
        rig.card.clear("stop_answering")
        assert rig.link.wait_state(IN_SERVICE, 5.0) and rig.line.wait_acked(5.0)
        snapshot_ms = (rig.tick - 1) * MS_PER_TICK
        events = [e for e in rig.run(5) if getattr(e, "port", None) == 2]
        assert rig.link.identity.resumed
        assert events == [PortInService(2), OffHook(2, snapshot_ms)]
    finally:
        rig.close()


@pytest.mark.parametrize("fault", ["serial_unplug", "stop_answering"])
def test_a_short_outage_is_held_and_a_phone_still_off_hook_gives_no_event(fault):
    """With the hold (issue 11): the ports stay in service through the outage and the resumed
    session's snapshot says the phone is still off hook, as the host knew: nothing to report.
    The phone that hung up meanwhile is reported, once."""
    rig = Rig(config=FAST)
    try:
        rig.world.hooks[0] = between((100, FOREVER_MS))
        rig.world.hooks[1] = between((100, 300))
        rig.run(10)
        assert [e for e in rig.events if isinstance(e, OffHook)] == [OffHook(2, 100), OffHook(3, 100)]
        rig.card.inject(fault, **({"seconds": 0.2} if fault == "serial_unplug" else {}))
        assert rig.link.wait_state({LinkState.DOWN}, 5.0)
        rig.run(15)  # port 3 hangs up at 300 ms (an on-hook once the break passed flash_max_ms)
        rig.card.clear("stop_answering")
        assert rig.link.wait_state(IN_SERVICE, 5.0) and rig.line.wait_acked(5.0)
        rig.run(60)
        assert rig.link.identity.resumed
        after = rig.events[rig.events.index(OffHook(3, 100)) + 1:]
        assert [type(e) for e in after] == [OnHook] and after[0].port == 3
        assert all(rig.line.in_service(p) for p in range(6))
    finally:
        rig.close()


@pytest.mark.parametrize("ticks_before_host_hears", [0, 4])
def test_after_a_card_reset_an_off_hook_phone_is_reported_once_whatever_the_timing(ticks_before_host_hears):
    """The card forgets the phone in the reset and detects it again: before the new handshake
    (the snapshot says off hook) or after it (an fxs_off_hook event). One OffHook either way."""
    rig = Rig(config=FAST)
    try:
        rig.world.hooks[0] = between((100, FOREVER_MS))
        rig.run(10)
        rig.events.clear()
        if ticks_before_host_hears:
            rig.card.inject("stop_answering")
        rig.card.inject("card_reset")
        rig.run(ticks_before_host_hears)
        rig.card.clear("stop_answering")
        assert wait_for(lambda: not rig.card.in_session or rig.link.state not in IN_SERVICE)
        assert wait_for(lambda: rig.card.in_session and rig.link.state in IN_SERVICE)
        assert rig.line.wait_acked(5.0)
        rig.run(3)
        port_2 = [type(e) for e in rig.events if getattr(e, "port", None) == 2]
        assert port_2 == [PortOutOfService, PortInService, OffHook]
        assert not rig.link.identity.resumed
    finally:
        rig.close()


def test_pulses_sent_with_the_seize_all_reach_the_exchange(rig):
    rig.run(2)
    seized_tick = rig.tick
    rig.line.seize(1)
    rig.line.pulse_dial(1, "3")  # in the same tick as the seize
    rig.line.wait_acked(5.0)
    rig.run(60)
    hook = rig.world.fxo_hook(1, seized_tick)
    assert hook[:FXO_PREDIAL_MS].all()  # the exchange sees the seizure before the first break
    assert np.count_nonzero(np.diff(hook.astype(int)) == -1) == 3


def test_a_card_of_another_model_is_refused_and_no_expected_model_accepts_any():
    refused = Rig(config=FAST, wait_up=False, expected_model="LBX-2O4S")  # the emulator reports LB-VIRT
    try:
        assert refused.link.wait_state({LinkState.REFUSED}, 5.0)
        assert refused.link.refusal == \
            "card model mismatch: board definition expects LBX-2O4S, found card LB-VIRT firmware 1.0.0"
        assert refused.line.poll() == []  # never in service
    finally:
        refused.close()
    for expected in ("LB-VIRT", None):
        accepted = Rig(config=FAST, expected_model=expected)
        try:
            assert accepted.link.state in IN_SERVICE and accepted.link.refusal is None
        finally:
            accepted.close()
    with pytest.raises(DriverError, match="expected card model '' is not a model name"):
        SerialLink("loop://", ("fxo",), expected_model="")
