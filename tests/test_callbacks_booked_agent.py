"""A callback booked by an agent's disposition goes first to that agent (firmware/acdengine/
callbacks.py with the real ACD core, call control faked): the booking agent available gets it;
paused or logged out, another agent after ``acd.callback_agent_grace_s``; the booking agent is
kept across a restart (the history store's ``acd_booked_callbacks`` row, restored)."""

from __future__ import annotations

import datetime as dt
import random
from types import SimpleNamespace

from acd_helpers import Recorder, agent

from drivers.logs import EventLogger
from firmware.acd.core import AcdCore
from firmware.acd.model import AcdConfig, OfferKind, QueueConfig
from firmware.acdengine.callbacks import Callbacks
from firmware.acdengine.history import IntervalStore
from firmware.acdengine.persist import StateStore
from firmware.config.model import AcdSettings

NOW = 1_764_000_000.0
DUE = NOW + 3600
BOOKER, OTHER = "1001", "1002"


def make_box(grace: int = 60, persist=None):
    """Callbacks on a real core: queue support, the booker logged in last (the other agent has
    been idle longer, so without the booking agent's turn the other would get it)."""
    queue = SimpleNamespace(callback=SimpleNamespace(enabled=True))
    config = SimpleNamespace(queue={"support": queue}.get, outside_prefix=lambda: "9",
                             acd=AcdSettings(callback_agent_grace_s=grace))
    control = SimpleNamespace(config=config, now=lambda: dt.datetime.fromtimestamp(NOW, dt.UTC))
    core = AcdCore(AcdConfig(queues=(QueueConfig("support"),),
                             agents=(agent(BOOKER, {"support": 0}), agent(OTHER, {"support": 0}))),
                   random.Random(1), [Recorder()], start=NOW - 7200)
    core.agent_login(OTHER, NOW - 7200)
    core.agent_login(BOOKER, NOW - 60)
    callbacks = Callbacks(control, core, EventLogger("acd-test"))
    callbacks.persist = persist
    return callbacks, core


def offers_at(callbacks, core, now):
    callbacks.on_tick(now)
    return [(offer.agent_id, offer.kind) for offer in core.tick(now).offers]


def test_the_booking_agent_available_gets_the_callback():
    callbacks, core = make_box()
    assert callbacks.book("support", "2125550101", DUE, BOOKER, "u1")
    assert offers_at(callbacks, core, DUE - 0.02) == []
    assert offers_at(callbacks, core, DUE) == [(BOOKER, OfferKind.CALLBACK)]


def test_with_no_grace_period_any_agent_gets_it():  # the control case: the longest idle agent
    callbacks, core = make_box(grace=0)
    callbacks.book("support", "2125550101", DUE, BOOKER, "u1")
    assert offers_at(callbacks, core, DUE) == [(OTHER, OfferKind.CALLBACK)]


def test_the_booking_agent_paused_then_another_agent_after_the_grace_period():
    callbacks, core = make_box(grace=90)
    callbacks.book("support", "2125550101", DUE, BOOKER, "u1")
    core.agent_pause(BOOKER, "lunch", DUE - 10)
    assert offers_at(callbacks, core, DUE) == []
    assert offers_at(callbacks, core, DUE + 89.98) == []
    assert offers_at(callbacks, core, DUE + 90) == [(OTHER, OfferKind.CALLBACK)]


def test_the_booking_agent_logged_out_then_another_agent_after_the_grace_period():
    callbacks, core = make_box()
    callbacks.book("support", "2125550101", DUE, BOOKER, "u1")
    core.agent_logout(BOOKER, DUE - 10)
    assert offers_at(callbacks, core, DUE) == []  # comes due (the grace period counts from here)
    assert offers_at(callbacks, core, DUE + 59.98) == []
    assert offers_at(callbacks, core, DUE + 60) == [(OTHER, OfferKind.CALLBACK)]


def test_the_booking_agent_unpausing_within_the_grace_period_gets_it():
    callbacks, core = make_box()
    callbacks.book("support", "2125550101", DUE, BOOKER, "u1")
    core.agent_pause(BOOKER, "lunch", DUE - 10)
    assert offers_at(callbacks, core, DUE) == []
    core.agent_unpause(BOOKER, DUE + 40)
    assert offers_at(callbacks, core, DUE + 40) == [(BOOKER, OfferKind.CALLBACK)]


def test_a_booking_agent_no_longer_in_the_queue_leaves_it_to_any_agent_at_once():
    callbacks, core = make_box()
    callbacks.book("support", "2125550101", DUE, "9999", "u1")  # removed from the configuration since
    assert offers_at(callbacks, core, DUE) == [(OTHER, OfferKind.CALLBACK)]


def test_a_restart_keeps_the_booking_agent(tmp_path):
    intervals = IntervalStore(tmp_path / "acd.sqlite")
    store = StateStore(intervals.conn)
    before, _ = make_box(persist=store.write)
    assert before.book("support", "2125550101", DUE, BOOKER, "u1")
    intervals.close()  # the box stops; a new process starts on the same database
    intervals = IntervalStore(tmp_path / "acd.sqlite")
    saved = StateStore(intervals.conn).load().callbacks
    assert [(b.key, b.agent, b.due) for b in saved] == [("u1", BOOKER, DUE)]
    after, core = make_box()
    after.restore(saved)
    assert offers_at(after, core, DUE) == [(BOOKER, OfferKind.CALLBACK)]
    intervals.close()
