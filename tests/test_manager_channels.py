"""The channel observer against the real switch over a stub card (milliseconds): the AMI call
events of internal calls, in order, with their states, dial statuses and causes."""

from __future__ import annotations

from engine_fakes import Rig

from drivers.ports import OffHook, OnHook
from firmware.manager.channels import ChannelObserver
from firmware.manager.events import EventHub


class Collector:
    number = 1

    def __init__(self) -> None:
        self.events = []

    def offer(self, event) -> None:
        self.events.append(event)

    def names(self) -> list[tuple[str, str]]:
        return [(e.name, str(e.get("Channel"))) for e in self.events]


def observed() -> tuple[Rig, ChannelObserver, Collector]:
    rig = Rig()
    hub = EventHub()
    collector = Collector()
    hub.subscribe(collector)
    observer = ChannelObserver(rig.switch.control, 6, hub)
    rig.switch.control.attach(observer)
    return rig, observer, collector


def test_an_answered_internal_call():
    rig, observer, seen = observed()
    rig.event(OffHook(2))
    rig.run(0.2)
    assert seen.events == []  # dial tone: no call, no channel yet
    rig.digits(2, "203")
    rig.run(0.2)
    caller, callee = "FXS/2-00000001", "FXS/4-00000002"
    assert seen.names()[:3] == [("Newchannel", caller), ("Newchannel", callee), ("DialBegin", caller)]
    begin = seen.events[2]
    assert (begin.get("DestChannel"), begin.get("DestChannelStateDesc"), begin.get("DialString")) == (
        callee, "Ringing", "203")
    assert (begin.get("CallerIDNum"), begin.get("DestCallerIDNum"), begin.get("DestConnectedLineNum")) == (
        "201", "203", "201")
    rig.event(OffHook(4))
    rig.run(0.2)
    names = seen.names()
    assert ("Newstate", callee) in names and ("DialEnd", caller) in names
    assert next(e for e in seen.events if e.name == "DialEnd").get("DialStatus") == "ANSWER"
    assert {c for n, c in names if n == "BridgeEnter"} == {caller, callee}
    rows = observer.snapshot(rig.loop.tick)
    assert [dict(r["fields"])["ChannelStateDesc"] for r in rows] == ["Up", "Up"]
    assert rows[0]["bridged"] == callee and observer.call_count() == 1
    rig.event(OnHook(4))
    rig.run(1.5)
    tail = [n for n in seen.names() if n[0] in ("BridgeLeave", "Hangup", "Cdr")]
    assert tail[-1][0] == "Cdr" and {c for n, c in tail if n == "Hangup"} == {caller, callee}
    assert all(tail.index(("BridgeLeave", c)) < tail.index(("Hangup", c)) for c in (caller, callee))
    hangup = next(e for e in seen.events if e.name == "Hangup")
    assert (hangup.get("Cause"), hangup.get("Cause-txt")) == (16, "Normal Clearing")
    (record,) = rig.records
    cdr = seen.events[-1]
    assert cdr.get("UniqueID") == record.uniqueid == hangup.get("Linkedid")
    assert (cdr.get("Channel"), cdr.get("DestinationChannel"), cdr.get("Disposition")) == (caller, callee, "ANSWERED")
    assert observer.channels == {}


def test_the_caller_gives_up_while_it_rings():
    rig, observer, seen = observed()
    rig.event(OffHook(2))
    rig.digits(2, "203")
    rig.run(0.5)
    rig.event(OnHook(2))
    rig.run(1.5)
    dial_end = next(e for e in seen.events if e.name == "DialEnd")
    assert dial_end.get("DialStatus") == "CANCEL" and dial_end.get("DestChannel") == "FXS/4-00000002"
    assert [n for n, _ in seen.names()].count("Hangup") == 2
    assert not any(n == "BridgeEnter" for n, _ in seen.names())
    assert seen.events[-1].name == "Cdr" and seen.events[-1].get("Disposition") == "NO ANSWER"


def test_nothing_is_made_while_nobody_listens():
    rig = Rig()
    hub = EventHub()
    observer = ChannelObserver(rig.switch.control, 6, hub)
    rig.switch.control.attach(observer)
    rig.call_between(2, 4)
    assert len(observer.channels) == 2  # followed all the same, so a client connecting later sees them
    rig.event(OnHook(4))
    rig.run(1.5)
    assert observer.channels == {}


class CountingLookups:
    """Call control as the observer sees it, counting its walks of the ports (``call_at``)."""

    def __init__(self, control) -> None:
        self.control = control
        self.lookups = 0

    def __getattr__(self, name):
        return getattr(self.control, name)

    def call_at(self, port):
        self.lookups += 1
        return self.control.call_at(port)


def test_a_steady_tick_does_not_walk_the_ports_and_a_change_does():
    rig = Rig()
    counting = CountingLookups(rig.switch.control)
    seen = Collector()
    hub = EventHub()
    hub.subscribe(seen)
    observer = ChannelObserver(counting, 6, hub)
    rig.switch.control.attach(observer)
    rig.call_between(2, 4)
    assert len(observer.channels) == 2
    counting.lookups = 0
    rig.run(1.0)  # 50 ticks of a call in progress: nothing changes
    assert counting.lookups == 0
    rig.event(OnHook(4))
    rig.run(0.2)
    assert counting.lookups >= 6  # the hang-up moved the counter: one walk of the 6 ports at least
    assert ("Hangup", "FXS/4-00000002") in seen.names() and observer.channels == {}
