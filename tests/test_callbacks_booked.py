"""Callbacks booked at a date (firmware/acdengine/callbacks.py) against fakes of call control
and the ACD core: what is booked and refused, what is handed to the history writer (so it
survives a restart), the order they come due in, and a restore."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from drivers.logs import EventLogger
from firmware.acdengine.callbacks import Callbacks
from firmware.acdengine.persist import BookedCallback, CallbackReleased

NOW = 1_764_000_000.0


class FakeCore:
    def __init__(self) -> None:
        self.queues = {"support": object()}
        self.arrived: list[tuple[str, list[str], str, float]] = []
        self.requested: list[tuple[str, str]] = []
        self.reserved: list[tuple[str, str, float]] = []

    def call_arrived(self, acd_id, queues, number, now):
        self.arrived.append((acd_id, queues, number, now))
        return SimpleNamespace(joined=True)

    def callback_requested(self, acd_id, number, now):
        self.requested.append((acd_id, number))
        return []

    def reserve_for_agent(self, acd_id, agent, until, now):
        self.reserved.append((acd_id, agent, until))


def make():
    queues = {"support": SimpleNamespace(callback=SimpleNamespace(enabled=True)),
              "sales": SimpleNamespace(callback=SimpleNamespace(enabled=False))}
    config = SimpleNamespace(queue=queues.get, outside_prefix=lambda: "9",
                             acd=SimpleNamespace(callback_agent_grace_s=60))
    control = SimpleNamespace(config=config, now=lambda: dt.datetime.fromtimestamp(NOW, dt.UTC))
    core = FakeCore()
    callbacks = Callbacks(control, core, EventLogger("acd-test"))
    saved: list = []
    callbacks.persist = saved.append
    return callbacks, core, saved


def test_booked_callbacks_are_saved_and_come_due_in_order():
    callbacks, core, saved = make()
    assert callbacks.book("support", "2125550102", NOW + 600, "1001", "u2")
    assert callbacks.book("support", "2125550101", NOW + 60, "1002", "u1")
    assert [b.key for b in callbacks.booked] == ["u1", "u2"]
    assert saved == [BookedCallback("u2", NOW + 600, "support", "2125550102", "1001", NOW),
                     BookedCallback("u1", NOW + 60, "support", "2125550101", "1002", NOW)]
    assert [b.key for b in callbacks.booked_by("1001")] == ["u2"]
    callbacks.on_tick(NOW + 59)
    assert core.arrived == [] and len(callbacks.booked) == 2
    callbacks.on_tick(NOW + 60)  # due: joins the queue as the ACD's callbacks do, its row deleted
    assert [(queues, number) for _, queues, number, _ in core.arrived] == [(["support"], "2125550101")]
    assert core.requested[-1][1] == "92125550101"  # dialled with the outside prefix
    assert core.reserved == [(core.requested[-1][0], "1002", NOW + 120)]  # the booking agent first, for 60 s
    assert saved[-1] == CallbackReleased("u1") and [b.key for b in callbacks.booked] == ["u2"]


def test_booking_the_same_call_again_moves_its_date():
    callbacks, _, saved = make()
    callbacks.book("support", "2125550101", NOW + 600, "1001", "u1")
    callbacks.book("support", "2125550101", NOW + 30, "1001", "u1")
    assert [(b.key, b.due) for b in callbacks.booked] == [("u1", NOW + 30)] and len(saved) == 2


def test_what_cannot_be_called_back_is_not_booked_nor_saved():
    callbacks, _, saved = make()
    assert not callbacks.book("sales", "2125550101", NOW + 60)  # callbacks off in that queue
    assert not callbacks.book("nowhere", "2125550101", NOW + 60)
    assert not callbacks.book("support", "P", NOW + 60)  # withheld: not dialable
    assert callbacks.booked == [] and saved == []


def test_restored_callbacks_join_the_booked_ones_and_one_overdue_comes_due_at_the_first_tick():
    callbacks, core, saved = make()
    callbacks.book("support", "2125550103", NOW + 900, "1001", "u3")
    overdue = BookedCallback("u1", NOW - 3600, "support", "2125550101", "1001", NOW - 7200)
    later = BookedCallback("u2", NOW + 300, "support", "2125550102", "1002", NOW - 7200)
    callbacks.restore((overdue, later))
    assert [b.key for b in callbacks.booked] == ["u1", "u2", "u3"]
    assert len(saved) == 1  # restoring writes nothing: the rows are there
    callbacks.on_tick(NOW)
    assert [number for _, _, number, _ in core.arrived] == ["2125550101"] and saved[-1] == CallbackReleased("u1")
