"""The virtual board end to end: card emulator + telephone world + clock, with the real host
driver (``drivers/ports.py`` over ``drivers/link.py``) on the real pseudo-terminal.

Each rig waits (wall clock, bounded) until the host's link is up and every port is in
service BEFORE the first tick, then runs unpaced: lock-step acknowledgements make every
event land in the tick it happened, so event logs are exact and repeatable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pytest

from board import BoardError
from board.definitions import load_board
from board.virtual.board import VirtualBoard
from board.virtual.pstn import Disconnect, LineConfig
from board.virtual.world import make_world
from drivers import DriverError
from drivers.audio import AudioDevice
from drivers.link import IN_SERVICE, LinkConfig
from drivers.ports import (
    CardReset,
    HookFlash,
    LineCard,
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
    open_line_card,
)
from dsp.callerid import CallerId
from dsp.callerid_decode import decode_recording
from dsp.toneplans import get_plan

FAST_LINK = LinkConfig(ack_timeout_s=0.05, keepalive_s=0.5, reconnect_min_s=0.01)


@dataclass
class Rig:
    board: VirtualBoard
    host: LineCard
    events: list = field(default_factory=list)
    frames: list = field(default_factory=list)

    def run(self, ticks: int, keep_frames: bool = False) -> None:
        for _ in range(ticks):
            frame = self.board.read_frame()
            if keep_frames:
                self.frames.append(frame)
            self.events += self.host.poll()

    def command(self, action) -> None:
        """A host command during the current tick, in effect from the next one."""
        action(self.host)
        assert self.host.wait_acked(2.0), "the card did not acknowledge the command"

    def of(self, kind, port: int | None = None) -> list:
        return [e for e in self.events if isinstance(e, kind) and (port is None or e.port == port)]


def start_rig(zone: str = "us", seed: int = 1, world=None, ticks_before_host: int = 0, before_host=None) -> Rig:
    """The board and the host; ``before_host(board)`` then ``ticks_before_host`` ticks run with no host."""
    definition = load_board("virtual")
    board = VirtualBoard(definition, zone, world=world, seed=seed)
    if before_host is not None:
        before_host(board)
    for _ in range(ticks_before_host):
        board.read_frame()  # nobody is connected: the card's events go nowhere
    host = open_line_card(board.serial_url, [p.kind.value for p in definition.ports], zone=zone, config=FAST_LINK,
                          card_model=definition.card.model, clock=board.host_clock)
    board.attach_host(host.link)  # link timers on the tick clock, in lock-step
    rig = Rig(board, host)
    deadline = time.monotonic() + 10.0
    while len(rig.of(PortInService)) < definition.n_ports:
        assert time.monotonic() < deadline, "the host link never came up"
        rig.events += host.poll()
        time.sleep(0.005)
    assert host.wait_acked(2.0)  # the session set-up (timing, releases) is applied before tick 0
    rig.events += host.poll()
    rig.events = [e for e in rig.events if not isinstance(e, PortInService)]  # what the snapshot said stays
    return rig


@pytest.fixture
def rig():
    rig = start_rig()
    yield rig
    rig.host.close()
    rig.board.close()


def test_the_board_is_an_audio_device(rig):
    assert isinstance(rig.board, AudioDevice)
    assert rig.board.ports == 6
    frame = rig.board.read_frame()
    assert frame.dtype == np.int16 and frame.shape == (6, 160)


def test_phone_hook_reaches_the_host(rig):
    phone = rig.board.world.phone(2)
    rig.run(2)
    phone.offhook()
    rig.run(5)
    assert [(e.port, e.at_ms) for e in rig.of(OffHook)] == [(2, 40)]
    phone.flash(300)
    rig.run(30)
    flashes = rig.of(HookFlash, 2)
    assert [(e.ms, e.at_ms) for e in flashes] == [(300, 140)]  # the break started at tick 7
    phone.dial("5", method="pulse")
    rig.run(60)
    assert [e.digit for e in rig.of(PulseDigit, 2)] == ["5"]
    phone.hangup()
    rig.run(60)
    assert len(rig.of(OnHook, 2)) == 1
    assert not rig.of(OffHook, 3) and not rig.of(OffHook, 4)


def test_host_rings_a_phone_with_the_zone_cadence_and_it_answers(rig):
    phone = rig.board.world.phone(3)
    rig.run(3)
    rig.command(lambda host: host.ring(3))
    start_tick = rig.board.tick
    rig.run(400)
    cadence = get_plan("us").ring_cadence_ms
    pattern = np.resize(np.concatenate([np.full(v, i % 2 == 0) for i, v in enumerate(cadence)]), 8000)
    np.testing.assert_array_equal(phone.ring_history(since_tick=start_tick), pattern)
    assert not phone.ring_history()[: start_tick * 20].any()
    phone.answer_on_ring(rings=1)
    rig.run(400)
    assert rig.of(OffHook, 3), "the host sees the phone answer"
    assert not rig.of(OffHook, 2)


def test_line_rings_the_host_qualifies_it_and_caller_id_is_on_the_audio(rig):
    rig.run(10)  # the card's ring detector starts from the line's idle state
    rig.board.world.line(0).ring(caller_id=CallerId(number="5551234", name="JANE DOE"))
    rig.run(400, keep_frames=True)
    # US 2 s on / 4 s off from 200 ms: RingStart once the first burst has lasted min_ring_ms
    # (issue 10: not at its end), RingQualified when the second starts (a whole period measured).
    assert [(e.port, e.at_ms) for e in rig.of(RingStart)] == [(0, 200 + 200)]
    assert [(e.port, e.cadence, e.at_ms) for e in rig.of(RingQualified)] == [(0, "standard", 6200)]
    assert not rig.of(RingStart, 1)
    line_audio = np.concatenate([f[0] for f in rig.frames])
    reports = decode_recording(line_audio)
    assert [(r.caller.number, r.caller.name) for r in reports] == [("5551234", "JANE DOE")]
    assert not np.concatenate([f[1] for f in rig.frames]).any(), "line 1 stays silent"


def test_audio_is_routed_per_port_both_ways(rig):
    frame = np.arange(6, dtype=np.int16)[:, None].repeat(160, axis=1) * 100 + 100
    rig.board.write_frame(frame)
    rig.run(1)
    for port in (2, 3, 4, 5):
        assert (rig.board.world.phone(port).heard(last_ms=20) == 100 * port + 100).all()
    for port in (0, 1):
        assert (rig.board.world.line(port).heard(last_ms=20) == 100 * port + 100).all()
    rig.run(1)
    assert not rig.board.world.phone(4).heard(last_ms=20).any(), "nothing written: silence"
    phone = rig.board.world.phone(4)
    phone.offhook()
    phone.say(np.full(320, -1234, dtype=np.int16))
    rig.run(2, keep_frames=True)
    assert (rig.frames[0][4] == -1234).all() and (rig.frames[1][4] == -1234).all()
    assert not np.delete(rig.frames[0], 4, axis=0).any()


def test_outgoing_call_pulse_dialled_then_far_end_clears_by_polarity_reversal():
    definition = load_board("virtual")
    world = make_world(definition, "us", seed=2, line_configs={1: LineConfig(disconnect=Disconnect.POLARITY_REVERSAL)})
    rig = start_rig(world=world)
    try:
        line = world.line(1)
        line.script_outgoing(digits=2, answer_after_ms=1000)
        rig.command(lambda host: host.seize(1))
        rig.run(20)
        assert line.state.value == "dial_tone"
        rig.command(lambda host: host.pulse_dial(1, "42"))
        rig.run(150)
        assert line.dialled == "42" and line.state.value == "connected"
        line.far_end_hangup()
        rig.run(5)
        assert [e.port for e in rig.of(PolarityReversal)] == [1]
        rig.command(lambda host: host.release(1))
        rig.run(60)
        assert line.state.value == "idle"
    finally:
        rig.host.close()
        rig.board.close()


def test_pulses_dialled_in_the_same_tick_as_the_seize_all_reach_the_exchange():
    definition = load_board("virtual")
    world = make_world(definition, "us", seed=2)
    rig = start_rig(world=world)
    try:
        line = world.line(1)
        line.script_outgoing(digits=3, answer_after_ms=500)
        rig.run(2)
        rig.command(lambda host: (host.seize(1), host.pulse_dial(1, "105")))
        rig.run(5000 // 20)  # 500 ms pre-dial, 16 pulses, two inter-digit pauses, then the answer
        assert line.dialled == "105" and line.state.value == "connected"
    finally:
        rig.host.close()
        rig.board.close()


@pytest.mark.parametrize("ticks_before_host", [0, 150])
def test_a_phone_off_hook_and_a_ring_from_tick_0_reach_the_host_once(ticks_before_host):
    """The box starts with a phone off hook and a call ringing in; its host connects at once,
    or 3 s later (in the silence after the first ring)."""

    def power_on(board: VirtualBoard) -> None:
        board.world.phone(2).offhook()
        board.world.line(0).ring()

    rig = start_rig(ticks_before_host=ticks_before_host, before_host=power_on)
    try:
        connected_ms = rig.board.tick * 20
        rig.run(3)
        assert [e.port for e in rig.of(OffHook)] == [2]
        if ticks_before_host:  # the ring is already under way: known at the handshake
            assert rig.of(RingStart) == [RingStart(0, connected_ms - 20)]
        rig.run(150)
        assert [e.port for e in rig.of(OffHook)] == [2]
        assert [e.port for e in rig.of(RingStart)] == [0]
        assert rig.of(RingStart)[0].at_ms <= max(2000, connected_ms)  # the first ring is counted
    finally:
        rig.host.close()
        rig.board.close()


def test_line_voltage_and_loop_current_drop_reach_the_host():
    definition = load_board("virtual")
    world = make_world(definition, "us", seed=3, line_configs={0: LineConfig(disconnect=Disconnect.LOOP_CURRENT_DROP)})
    rig = start_rig(world=world)
    try:
        world.line(1).set_voltage("parallel_in_use")
        rig.run(20)
        world.line(1).set_voltage("parallel_idle")
        world.inject("line_dead", 1)
        rig.run(20)
        states = [(e.port, e.state.name) for e in rig.of(LineVoltage, 1)]
        assert states == [(1, "IN_USE"), (1, "ABSENT")]
        line = world.line(0)
        line.script_outgoing(digits=1, answer_after_ms=200)
        rig.command(lambda host: host.seize(0))
        rig.run(10)  # dial tone first, as a real exchange needs
        rig.command(lambda host: host.pulse_dial(0, "7"))
        rig.run(80)
        assert line.dialled == "7" and line.state.value == "connected"
        line.far_end_hangup()
        rig.run(60)
        drops = rig.of(LoopCurrentDrop, 0)
        assert len(drops) == 1 and drops[0].ms >= 200
    finally:
        rig.host.close()
        rig.board.close()


def test_audio_xrun_fault_skips_one_frame(rig):
    phone = rig.board.world.phone(5)
    phone.offhook()
    ramp = np.repeat(np.arange(1, 11, dtype=np.int16), 160)  # tick k of speech = value k
    phone.say(ramp)
    rig.run(2, keep_frames=True)
    rig.board.inject("audio_xrun")
    rig.run(2, keep_frames=True)
    assert [int(f[5][0]) for f in rig.frames] == [1, 2, 4, 5]
    counters = rig.board.counters
    assert (counters.xruns_capture, counters.xruns_playback, counters.recoveries) == (0 + 1, 0, 1)


def wait_in_service(rig: Rig, ports: int, seconds: float = 10.0) -> None:
    """Wall clock, bounded: the host reconnects on its own after a fault."""
    deadline = time.monotonic() + seconds
    while len(rig.of(PortInService)) < ports:
        assert time.monotonic() < deadline, "the host did not come back"
        rig.events += rig.host.poll()
        time.sleep(0.005)


def test_serial_unplug_and_card_reset_through_the_board(rig):
    rig.run(5)
    rig.board.inject("serial_unplug", seconds=0.1)  # on the tick clock: 5 ticks
    held = False
    for _ in range(100):  # 2 s of ticks, under the 3 s hold
        rig.run(1)
        held |= rig.host.holding
        if rig.host.link.state in IN_SERVICE and not rig.host.holding:
            break
    assert held and rig.host.link.state in IN_SERVICE  # the pty came back at the same path: reopened
    assert not rig.of(PortOutOfService)  # the outage was shorter than the hold: ports stayed in service
    assert rig.host.link.counters["reconnects"] == 1
    assert rig.host.wait_acked(2.0)
    rig.board.world.phone(5).offhook()
    rig.run(3)
    assert [e.port for e in rig.of(OffHook)] == [5]

    rig.events.clear()
    rig.board.inject("card_reset")
    deadline = time.monotonic() + 10.0
    while not rig.of(CardReset) or len(rig.of(PortInService)) < 6:
        assert time.monotonic() < deadline, "no re-handshake after the card reset"
        rig.run(1)
        time.sleep(0.005)
    assert rig.host.wait_acked(2.0)
    rig.run(5)
    assert [e.port for e in rig.of(OffHook)] == [5]  # back in service idle: phone 5 reported again, once
    rig.board.world.phone(4).offhook()
    rig.run(3)
    assert [e.port for e in rig.of(OffHook)] == [5, 4]


def scripted_session(seed: int) -> tuple[list, int]:
    """1000 unpaced ticks of mixed activity; returns the host's event log and an audio digest."""
    rig = start_rig(seed=seed)
    try:
        world = rig.board.world
        world.line(0).ring(caller_id=CallerId(number="5551234"))
        world.phone(2).offhook()
        world.at(50, lambda: world.phone(2).dial("31", method="pulse"))
        world.at(100, lambda: world.phone(3).answer_on_ring(rings=2))
        world.at(400, lambda: world.phone(2).flash(250))
        world.at(600, lambda: world.phone(2).hangup())
        digest = 0
        for tick in range(1000):
            if tick == 120:
                rig.command(lambda host: host.ring(3))
            if tick == 500:
                rig.command(lambda host: host.seize(1))
            frame = rig.board.read_frame()
            digest = hash((digest, frame.tobytes()))
            rig.events += rig.host.poll()
        return rig.events, digest
    finally:
        rig.host.close()
        rig.board.close()


def test_unpaced_runs_are_deterministic():
    first_events, first_digest = scripted_session(seed=9)
    second_events, second_digest = scripted_session(seed=9)
    assert len(first_events) >= 10
    kinds = {type(e).__name__ for e in first_events}
    assert {"OffHook", "PulseDigit", "HookFlash", "OnHook", "RingStart", "RingQualified", "LineVoltage"} <= kinds
    assert first_events == second_events
    assert first_digest == second_digest


# -- without a host --------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def test_paced_mode_sleeps_to_each_tick_and_a_late_host_gets_an_overrun():
    fake = FakeClock()
    with VirtualBoard(load_board("virtual"), "us", paced=True, seed=1, sleep=fake.sleep, clock=fake.clock) as board:
        board.read_frame()
        board.read_frame()
        assert fake.sleeps == [0.02, 0.02]
        fake.now += 0.005  # the engine worked 5 ms
        board.read_frame()
        assert fake.sleeps[-1] == 0.015
        fake.now += 0.1  # 100 ms late: 4 ticks missed
        board.read_frame()
        assert board.counters.xruns_capture == 1 and board.tick == 3 + 4 + 1
        assert board.world.tick == 7
        board.read_frame()  # back on time: the missed ticks were run, the clock is in step
        assert fake.sleeps[-1] == 0.02 and board.counters.xruns_capture == 1
        fake.now += 0.079  # late, but within the 4 periods of buffer: no overrun
        board.read_frame()
        assert board.counters.xruns_capture == 1 and board.tick == 10


def test_unpaced_mode_never_reads_the_clock():
    def forbidden() -> float:
        raise AssertionError("unpaced mode read the wall clock")

    with VirtualBoard(load_board("virtual"), "us", seed=1, clock=forbidden, sleep=lambda s: forbidden()) as board:
        for _ in range(10):
            board.read_frame()
        assert board.tick == 10


def test_faults_are_routed_by_name_and_unknown_ones_refused():
    with VirtualBoard(load_board("virtual"), "us", seed=1) as board:
        board.inject("line_dead", port=1)
        board.read_frame()
        assert board.world.line(1).state.value == "dead"
        board.inject("ring_without_callerid", port=0)
        board.inject("card_reset")
        with pytest.raises(BoardError, match="fault line_dead needs the port"):
            board.inject("line_dead")
        with pytest.raises(BoardError, match="unknown fault 'meteor' \\(known: audio_xrun, ring_without_callerid"):
            board.inject("meteor")


def test_bad_boards_frames_and_closed_device():
    with pytest.raises(BoardError, match="board rpi is hardware, not a virtual board"):
        VirtualBoard(load_board("rpi"), "us")
    board = VirtualBoard(load_board("virtual"), "us", seed=1)
    with pytest.raises(DriverError, match=r"shaped \(6, 160\)"):
        board.write_frame(np.zeros((2, 160), dtype=np.int16))
    board.close()
    board.close()
    with pytest.raises(DriverError, match="closed"):
        board.read_frame()
