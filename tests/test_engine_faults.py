"""Fault isolation (issue 11): an exception raised while handling one port's event, digit,
timer or one service is caught at that boundary, logged once with the call and port,
counted, and ends that call cleanly with its record; the loop and every other call go on.
Only the loop's own machinery stops the engine. Fast: stub card, no pty."""

from __future__ import annotations

import logging

import pytest
from engine_fakes import Rig

from drivers.ports import HookFlash, OffHook, OnHook
from firmware.cdr import Disposition, HangupBy
from firmware.config.model import DestinationKind


class Boom(RuntimeError):
    pass


class RaisingService:
    """An attached service whose handler raises for one port (or on every tick)."""

    def __init__(self, port: int | None = None, on_tick: bool = False) -> None:
        self.port = port
        self.raise_on_tick = on_tick
        self.ticks = 0

    def on_tick(self, tick: int) -> None:
        self.ticks += 1
        if self.raise_on_tick:
            raise Boom("tick")

    def on_digit(self, port: int, digit: str) -> bool:
        if port == self.port:
            raise Boom(f"digit {digit}")
        return False

    def on_flash(self, port: int) -> bool:
        if port == self.port:
            raise Boom("flash")
        return False

    def answered(self, call, port: int) -> None:
        return None

    def before_end(self, call) -> None:
        return None


def internal_errors(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "internal_error"]


def test_a_raising_digit_handler_ends_that_call_only(caplog):
    rig = Rig()
    rig.call_between(2, 3)
    rig.call_between(4, 5)
    rig.switch.attached.append(RaisingService(port=2))
    with caplog.at_level(logging.ERROR, logger="linebox"):
        rig.switch.on_digit(2, "5")
    rig.run(0.1)
    assert rig.switch.faults == 1
    [record] = [r for r in rig.records if r.hangup_cause == "internal_error"]
    assert (record.src_port, record.dst_port) == (2, 3)
    assert record.disposition is Disposition.FAILED and record.hangup_by is HangupBy.SYSTEM
    # the two phones of that call are still off hook: busy / congestion until they hang up
    assert rig.state(2) == "failed" and rig.state(3) == "failed"
    # the other call goes on, bridged
    assert rig.state(4) == rig.state(5) == "connected"
    assert (4, 5) in rig.mixer.bridged_pairs() or (5, 4) in rig.mixer.bridged_pairs()
    [line] = internal_errors(caplog)
    fields = line.fields
    assert fields["port"] == 2 and fields["call"] == int(record.uniqueid.split(".")[-1])
    assert fields["where"] == "digit" and "Boom" in fields["error"]
    # the phones hang up: ports idle again, and a new call works
    rig.event(OnHook(2))
    rig.event(OnHook(3))
    assert rig.state(2) == rig.state(3) == "idle"
    rig.switch.attached.clear()
    rig.call_between(2, 3)


def test_a_raising_port_event_handler_ends_that_call(caplog):
    rig = Rig()
    rig.call_between(2, 3)
    rig.switch.attached.append(RaisingService(port=3))
    with caplog.at_level(logging.ERROR, logger="linebox"):
        rig.event(HookFlash(3, 500))
    assert rig.switch.faults == 1
    assert [r.hangup_cause for r in rig.records] == ["internal_error"]
    assert internal_errors(caplog)[0].fields["where"] == "port_event:HookFlash"
    rig.run(1.0)  # the loop keeps running
    assert rig.loop.tick > 50


def test_a_raising_service_tick_is_counted_and_the_loop_goes_on(caplog):
    rig = Rig()
    rig.call_between(2, 3)
    bad = RaisingService(on_tick=True)
    rig.switch.attached.append(bad)
    with caplog.at_level(logging.ERROR, logger="linebox"):
        rig.run(0.2)
    assert bad.ticks == 10 and rig.switch.faults == 10
    assert rig.state(2) == rig.state(3) == "connected"  # no call is named: none is ended


def test_a_raising_call_service_take_ends_the_inbound_call_with_its_record(caplog):
    from dataclasses import replace

    from drivers.ports import RingStart
    from firmware.config.model import Destination

    class RaisingQueue:
        def take(self, call, line_port, name):
            raise Boom("take")

    rig = Rig()
    # the demo's business-hours route (routes[0] is its voice menu, for callers from 212-555-2xxx)
    route = replace(rig.config.routes[1], destination=Destination(DestinationKind.QUEUE, "support"))
    rig.switch.apply_config(replace(rig.config, routes=(route, *rig.config.routes[2:])))
    rig.switch.services = {DestinationKind.QUEUE: RaisingQueue()}
    rig.call_between(4, 5)
    with caplog.at_level(logging.ERROR, logger="linebox"):
        rig.event(RingStart(0))
        rig.skip(8.0)  # no caller ID: answered after 7 s, routed to the queue, whose take raises
    assert rig.switch.faults == 1
    [record] = rig.records
    assert record.hangup_cause == "internal_error" and record.src_port == 0
    assert ("release", 0) in rig.card.commands and rig.state(0) == "idle"
    assert rig.state(4) == rig.state(5) == "connected"


def test_a_failing_timer_is_isolated(caplog, monkeypatch):
    rig = Rig()
    rig.event(OffHook(2))
    rig.digits(2, "2")  # not complete yet: the inter-digit timer is armed
    original = rig.switch._dial_result

    def broken(leg, result):
        raise Boom("timer")

    monkeypatch.setattr(rig.switch, "_dial_result", broken)
    with caplog.at_level(logging.ERROR, logger="linebox"):
        rig.skip(17.0)  # the dial plan's inter-digit timeout is 16 s
    monkeypatch.setattr(rig.switch, "_dial_result", original)
    assert rig.switch.faults == 1
    assert internal_errors(caplog)[0].fields["where"] == "timer:digits"
    assert rig.state(2) == "failed"  # off hook, no call: congestion until on-hook
    assert rig.players.tone(2) == "congestion"


def test_machinery_failure_stops_the_engine_with_one_line(caplog):
    rig = Rig()

    def broken_read():
        raise OSError("device gone")

    rig.loop.audio.read_frame = broken_read
    with caplog.at_level(logging.ERROR, logger="linebox"), pytest.raises(OSError):
        rig.loop.step()
    [line] = [r for r in caplog.records if r.getMessage() == "engine_stopped"]
    assert line.fields["part"] == "audio_read" and "device gone" in line.fields["error"]


def test_show_stats_counts_internal_errors():
    from firmware.console.views import stats_rows

    rig = Rig()
    rig.call_between(2, 3)
    rig.switch.attached.append(RaisingService(port=2))
    rig.switch.on_digit(2, "1")
    assert dict(stats_rows(rig.loop, rig.switch))["internal_errors"] == 1


def test_an_answer_in_the_tick_the_ring_time_ends_is_an_answer():
    """Card events go before the timers of the same tick (loop.py): the phone answered during
    the last 20 ms of the ring time, so the call is answered, not given up."""
    rig = Rig()
    rig.event(OffHook(2))
    rig.digits(2, "20")
    due = rig.switch.tick + 60 * 50  # the last digit comes at this tick: RING_NO_ANSWER_S from it
    rig.digits(2, "3")
    assert rig.state(4) == "ringing"
    rig.skip((due - rig.loop.tick) / 50)
    assert rig.loop.tick == due and rig.state(4) == "ringing"
    rig.event(OffHook(4))  # handled at tick ``due``, with the no-answer timer
    assert rig.state(2) == rig.state(4) == "connected" and rig.records == []
