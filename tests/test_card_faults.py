"""Broken hardware and bad lines, injected into the card emulator: the driver logs, recovers, never
crashes and never leaves a line seized."""

import dataclasses

import numpy as np
import pytest

from board import BoardError
from board.virtual.card import CardEmulator
from drivers import DriverError
from drivers.link import IN_SERVICE, LinkState
from drivers.ports import (
    CardFault,
    CardOverTemperature,
    CardReset,
    LineVoltage,
    OffHook,
    OnHook,
    PortInService,
    PortOutOfService,
)
from drivers.protocol import LineState, ResetCause
from tests.card_helpers import FAST, LogCapture, Rig, between, wait_for

QUIET = dataclasses.replace(FAST, keepalive_s=60.0)  # no keepalive traffic: injected faults hit the frame meant


def breaks_in(hook: np.ndarray) -> int:
    return int(np.count_nonzero(np.diff(hook.astype(int)) == -1))


@pytest.fixture
def logs():
    with LogCapture() as capture:
        yield capture


def test_corrupted_frame_is_dropped_and_retransmitted(logs):
    rig = Rig(config=QUIET)
    try:
        rig.run(2)
        rig.card.inject("bad_crc")
        rig.world.hooks[0] = between((100, 10_000))
        rig.run(10)
        assert [e for e in rig.events if isinstance(e, OffHook)] == [OffHook(2, 100)]
        assert any("CRC mismatch" in f["error"] for f in logs.events("frame_error"))
        assert rig.link.state in IN_SERVICE
    finally:
        rig.close()


def test_lost_ack_means_a_duplicate_command_that_is_not_applied_twice(logs):
    rig = Rig(config=QUIET)
    try:
        rig.line.seize(0)
        rig.line.wait_acked(5.0)
        rig.run(2)
        rig.card.inject("drop_ack")
        rig.line.pulse_dial(0, "2")
        assert rig.line.wait_acked(5.0)
        rig.run(30)
        assert breaks_in(rig.world.fxo_hook(0)) == 2
        assert rig.link.counters["retransmissions"] >= 1
        assert rig.card.counters["duplicates"] >= 1
    finally:
        rig.close()


def test_a_lost_frame_makes_the_next_one_out_of_order_and_both_arrive_in_order(logs):
    rig = Rig(config=QUIET)
    try:
        rig.run(2)
        rig.card.inject("lose_frame")
        rig.world.hooks[0] = between((100, 10_000))
        rig.world.hooks[1] = between((100, 10_000))
        rig.run(8)
        assert [e for e in rig.events if isinstance(e, OffHook)] == [OffHook(2, 100), OffHook(3, 100)]
        assert rig.link.counters["gaps"] == 1
        assert logs.events("sequence_gap")[0]["expected"] != logs.events("sequence_gap")[0]["got"]
    finally:
        rig.close()


def test_duplicate_frames_and_line_noise_are_absorbed(logs):
    rig = Rig(config=QUIET)
    try:
        rig.run(2)
        rig.card.inject("duplicate")
        rig.world.hooks[2] = between((100, 10_000))
        rig.run(8)
        rig.card.inject("garbage", size=40)
        rig.world.hooks[3] = between((300, 10_000))
        rig.run(8)
        assert [e for e in rig.events if isinstance(e, OffHook)] == [OffHook(4, 100), OffHook(5, 300)]
        assert rig.link.counters["duplicates"] >= 1
        assert logs.events("duplicate_frame")
        assert rig.link.state in IN_SERVICE
    finally:
        rig.close()


def test_card_that_stops_answering_goes_down_and_comes_back(logs):
    rig = Rig(config=FAST, hold_s=0)  # no hold: the ports leave service at once (held: test_card.py)
    try:
        rig.run(10)
        rig.card.inject("stop_answering")
        assert rig.link.wait_state({LinkState.DOWN}, 5.0)
        events = rig.run(2)
        assert events == [PortOutOfService(p, "card not answering (no ack after retries)") for p in range(6)]
        assert logs.events("card_not_answering") and logs.events("frame_dump_line")
        rig.line.seize(1)  # queued while down
        rig.card.clear("stop_answering")
        assert rig.link.wait_state(IN_SERVICE, 5.0)
        assert rig.line.wait_acked(5.0)
        snapshot_ms = (rig.tick - 1) * 20  # the card's clock when the new identify came: the last tick run
        events = rig.run(2)
        assert events == [  # a port in service starts idle: the snapshot re-reports the line voltage
            *[PortInService(p) for p in range(6)],
            LineVoltage(0, LineState.IDLE, 48.0, snapshot_ms), LineVoltage(1, LineState.IDLE, 48.0, snapshot_ms),
        ]
        assert rig.world.fxo_hook(1, rig.tick - 1).all()
        assert rig.link.identity.resumed
    finally:
        rig.close()


def test_applied_commands_whose_acks_were_lost_are_not_replayed_after_a_resume(logs):
    rig = Rig(config=QUIET)
    try:
        rig.line.seize(0)
        rig.line.wait_acked(5.0)
        rig.run(2)
        rig.card.inject("drop_ack", count=1000)
        rig.line.pulse_dial(0, "3")
        assert rig.link.wait_state({LinkState.DOWN}, 5.0)
        rig.card.clear("drop_ack")
        assert rig.link.wait_state(IN_SERVICE, 5.0)
        assert rig.line.wait_acked(5.0)
        rig.run(40)
        assert breaks_in(rig.world.fxo_hook(0)) == 3
        identified = logs.events("card_identified")[-1]
        assert identified["resumed"] == 1 and identified["replayed"] == 0
    finally:
        rig.close()


def test_card_reset_mid_call_releases_the_line_and_ports_are_reapplied(logs):
    rig = Rig(config=FAST)
    try:
        rig.line.seize(0)
        rig.line.wait_acked(5.0)
        rig.world.hooks[0] = between((0, 100_000))
        rig.run(5)
        rig.line.ring(3)
        rig.line.wait_acked(5.0)
        rig.run(2)
        assert rig.world.fxs_ringing(1, rig.tick - 1).any()
        rig.card.inject("card_reset", cause=ResetCause.WATCHDOG)
        assert wait_for(lambda: rig.link.counters["card_resets"] == 1 and rig.link.state in IN_SERVICE)
        assert rig.line.wait_acked(5.0)
        events = rig.run(3)
        assert CardReset("watchdog", 0) in events
        assert [e for e in events if isinstance(e, PortOutOfService)] == [
            PortOutOfService(p, "card reset (watchdog)") for p in range(6)]
        assert [e for e in events if isinstance(e, PortInService)] == [PortInService(p) for p in range(6)]
        assert OffHook(2, 20) in events  # still off hook: detected again by the reset card (its clock restarted)
        assert not rig.link.identity.resumed and rig.link.identity.reset_cause == "watchdog"
        assert not rig.world.fxo_hook(0, rig.tick - 3).any()  # no line left seized
        assert not rig.world.fxs_ringing(1, rig.tick - 3).any()
        assert logs.events("commands_dropped") == [] or logs.events("card_reset")
        rig.line.seize(0)  # the firmware can carry on
        rig.line.wait_acked(5.0)
        rig.run(1)
        assert rig.world.fxo_hook(0, rig.tick - 1).all()
    finally:
        rig.close()


def test_card_reset_whose_announcement_is_lost_is_found_by_the_keepalive(logs):
    rig = Rig(config=FAST)
    try:
        rig.line.seize(1)
        rig.line.wait_acked(5.0)
        rig.run(2)
        rig.card.inject("lose_frame", count=1000)  # card_reset and its retransmissions never arrive
        rig.card.inject("card_reset", cause=ResetCause.BROWN_OUT)
        assert wait_for(lambda: logs.events("card_has_no_session"))  # the answer to a keepalive ping
        rig.card.clear("lose_frame")
        assert wait_for(lambda: rig.link.state in IN_SERVICE and rig.link.identity.reset_cause == "brown_out")
        assert rig.line.wait_acked(5.0)
        assert rig.link.counters["card_resets"] == 0  # never heard of directly
        rig.run(2)
        assert rig.link.identity.reset_cause == "brown_out"
        assert not rig.world.fxo_hook(1, rig.tick - 1).any()
    finally:
        rig.close()


def test_a_handshake_lost_after_a_card_reset_does_not_make_the_next_one_a_resume(logs):
    """After a reset the card's identity never reaches the host, which tries again with a new
    session: the card must not answer "resumed" (the state the host knew is gone) just because
    it saw the first identify. Otherwise the host keeps stale state and the card's restarted
    clock reads as a wrap."""
    rig = Rig(config=FAST)
    try:
        rig.world.hooks[0] = between((100, 10**9))
        rig.run(10)
        rig.events.clear()
        rig.card.inject("lose_frame", count=100_000)  # the reset announcement, identities, snapshots
        rig.card.inject("card_reset")
        assert wait_for(lambda: logs.events("handshake_timeout"), 10.0)
        rig.card.clear("lose_frame")
        assert wait_for(lambda: rig.link.state in IN_SERVICE, 10.0) and rig.line.wait_acked(5.0)
        rig.run(3)
        assert not rig.link.identity.resumed
        hook = [e for e in rig.events if isinstance(e, (OffHook, OnHook))]
        assert len(hook) == 1 and isinstance(hook[0], OffHook) and hook[0].port == 2
        assert hook[0].at_ms < 1000  # the card's clock restarted with the reset: not read as a wrap
    finally:
        rig.close()


def test_serial_unplug_and_replug(logs):
    rig = Rig(config=FAST, hold_s=0)  # no hold: the ports leave service at once (held: test_card.py)
    try:
        rig.line.seize(0)
        rig.world.hooks[1] = between((0, 400))  # the phone hangs up while the link is down
        rig.line.wait_acked(5.0)
        rig.run(2)
        rig.card.inject("serial_unplug", seconds=0.3)
        assert rig.link.wait_state({LinkState.DOWN}, 5.0)
        events = rig.run(30)
        assert [e.port for e in events if isinstance(e, PortOutOfService)] == list(range(6))
        assert "device read failed" in events[0].reason
        rig.line.release(0)  # the firmware drops the call while the device is gone
        assert rig.link.wait_state(IN_SERVICE, 5.0) and rig.line.wait_acked(5.0)
        events = rig.run(40)
        assert [e for e in events if isinstance(e, PortInService)] == [PortInService(p) for p in range(6)]
        assert [e for e in rig.events if isinstance(e, OnHook)] == [OnHook(3, 400)]  # after flash_max_ms
        assert not rig.world.fxo_hook(0, rig.tick - 2).any()
        assert rig.link.identity.resumed and rig.link.counters["reconnects"] == 1
        assert logs.events("serial_lost") and logs.events("serial_opened")
    finally:
        rig.close()


def test_card_faults_and_refused_commands_are_reported(logs):
    rig = Rig(config=QUIET)
    try:
        rig.run(1)
        rig.card.inject("fault", code=2, port=1)
        rig.card.inject("overtemp", temp_c=97)
        rig.link.send("fxo_seize", port=9)  # past the line card's checks: the card refuses it
        rig.link.send("fxo_dial", port=0, pulses=5)  # not seized
        assert rig.line.wait_acked(5.0)
        events = rig.run(1)
        assert CardFault(1, "daa", 0) in events and CardOverTemperature(None, 97, 0) in events  # during tick 0
        refused = logs.events("command_refused")
        assert [(r["msg"], r["status"]) for r in refused] == [("fxo_seize", "BAD_PORT"), ("fxo_dial", "BAD_STATE")]
        with pytest.raises(DriverError, match="not a command the host sends"):
            rig.link.send("fxs_off_hook", port=2, t_ms=0)
    finally:
        rig.close()


def test_host_watchdog_releases_lines_when_the_host_falls_silent(logs):
    rig = Rig(config=dataclasses.replace(QUIET, watchdog_ms=300))
    try:
        rig.line.seize(0)
        rig.line.wait_acked(5.0)
        rig.run(30)  # 600 ms of card time; the last frame from the host was its ack at 100 ms
        assert not rig.world.fxo_hook(0, rig.tick - 1).any()
        assert logs.events("host_watchdog")
        assert wait_for(lambda: rig.link.counters["card_resets"] == 1 and rig.link.state in IN_SERVICE)
        assert rig.line.wait_acked(5.0)
        rig.run(1)
        assert CardReset("host_watchdog", 0) in rig.events
    finally:
        rig.close()


@pytest.mark.parametrize(
    ("card_options", "expected_ports", "error"),
    [
        ({"protocol": (2, 0)}, None,
         "protocol version mismatch: host speaks 1.1, card LB-VIRT firmware 1.0.0 speaks 2.0"),
        ({"reported_port_map": "OOSS"}, None,
         "port map mismatch: board definition has fxo,fxo,fxs,fxs,fxs,fxs, card LB-VIRT firmware 1.0.0 reports "
         "fxo,fxo,fxs,fxs"),
        ({}, ("fxs", "fxs", "fxs", "fxs", "fxo", "fxo"), "port map mismatch: board definition has fxs,fxs,fxs,fxs"),
    ],
)
def test_incompatible_card_is_refused_with_a_clear_message(logs, card_options, expected_ports, error):
    rig = Rig(config=FAST, wait_up=False, expected_ports=expected_ports, **card_options)
    try:
        assert rig.link.wait_state({LinkState.REFUSED}, 5.0)
        assert rig.link.refusal.startswith(error)
        assert logs.events("link_refused")[0]["reason"] == rig.link.refusal
        assert rig.line.poll() == []  # never in service
        with pytest.raises(DriverError, match="line card link refused: " + error.split(":")[0]):
            rig.line.seize(4 if expected_ports else 0)
    finally:
        rig.close()


def test_fault_names_and_parameters_are_checked():
    card = CardEmulator(("fxo", "fxs"))
    try:
        with pytest.raises(BoardError, match="unknown fault 'unplug'; known faults: bad_crc, drop_ack"):
            card.inject("unplug")
        with pytest.raises(BoardError, match="fault card_reset: bad parameters .* not a valid ResetCause"):
            card.inject("card_reset", cause=99)
        with pytest.raises(BoardError, match="port types must be fxs or fxo"):
            CardEmulator(("fxo", "isdn"))
    finally:
        card.close()
