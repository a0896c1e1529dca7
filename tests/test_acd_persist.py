"""What of the ACD survives a restart (firmware/acdengine/persist.py and AcdStats' restore), fast:
a real AcdCore, a real SQLite file in tmp_path and the real history writer, a fake of the queue
service (its clock, agents' ports and the port check). The whole box is test_acd_restart.py."""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from dataclasses import dataclass, field

import pytest
from acd_helpers import Recorder, agent

from drivers.logs import EventLogger
from firmware import FirmwareError
from firmware.acd.agent_state import AgentState
from firmware.acd.core import AcdCore
from firmware.acd.core_types import SavedLogin
from firmware.acd.events import EventKind
from firmware.acd.model import AcdConfig, QueueConfig
from firmware.acdengine.history import MIGRATIONS, HistoryWriter, IntervalRow, IntervalStore
from firmware.acdengine.persist import (
    BookedCallback,
    CallbackReleased,
    LoggedOut,
    LoginSaver,
    OpenBucket,
    StateStore,
    login_of,
)
from firmware.acdengine.stats import AcdStats
from firmware.config.db import connect, migrate, schema_version

DAY_START = dt.datetime(2026, 11, 25, tzinfo=dt.UTC).timestamp()
TEN = DAY_START + 10 * 3600  # 10:00, a 15-minute, hour edge
PORT = 4
CONFIG = AcdConfig(queues=(QueueConfig("q", wrapup_seconds=0.0), QueueConfig("r")),
                   agents=(agent("a1", {"q": 0, "r": 0}), agent("a2")))


@dataclass
class FakeService:
    """The queue service's surface that AcdStats uses: clock, agents' ports, restore_login."""

    core: AcdCore
    origin_epoch: float
    ports_with_extension: frozenset[int] = frozenset({3, 4, 5})
    tick: int = 0
    agent_ports: dict[str, int] = field(default_factory=dict)
    log: EventLogger = field(default_factory=lambda: EventLogger("acd"))

    def now(self) -> float:
        return self.wall_time(self.tick)

    def wall_time(self, tick: int) -> float:
        return self.origin_epoch + tick * 0.02

    def restore_login(self, saved: SavedLogin) -> None:
        if saved.port not in self.ports_with_extension or saved.port in self.agent_ports.values():
            raise FirmwareError(f"acd: agent {saved.agent_id}: port {saved.port} has no extension or has another agent")
        self.core.restore_agent(saved, self.now())
        self.agent_ports[saved.agent_id] = saved.port


class Box:
    """One run of the ACD's statistics on the database ``db``, started at ``origin``."""

    def __init__(self, db, origin: float, config: AcdConfig = CONFIG, ports=frozenset({3, 4, 5})) -> None:
        self.recorder = Recorder()
        self.core = AcdCore(config, random.Random(1), [self.recorder], start=origin)
        self.service = FakeService(self.core, origin, ports)
        self.writer = HistoryWriter(IntervalStore(db))
        self.saved = self.writer.state.load()
        self.stats = AcdStats(self.service, self.writer, 0.0, self.saved)

    def at(self, when: float) -> float:
        """Runs the ticks up to ``when`` (statistics see every tick, as attached to the switch)."""
        target = round((when - self.service.origin_epoch) / 0.02)
        while self.service.tick < target:
            self.service.tick += 1
            self.core.tick(self.service.now())
            self.stats.on_tick(self.service.tick)
        return self.service.now()

    def login(self, agent_id: str, when: float, port: int = PORT) -> None:
        self.core.agent_login(agent_id, self.at(when))
        self.service.agent_ports[agent_id] = port

    def answered_call(self, call_id: str, arrives: float, talk_s: float = 20.0) -> None:
        now = self.at(arrives)
        self.core.call_arrived(call_id, ["q"], "2125551234", now)
        offer, = self.core.tick(now).offers
        self.core.offer_answered(call_id, offer.agent_id, self.at(arrives + 2))
        self.core.call_ended(call_id, self.at(arrives + 2 + talk_s))

    def stop(self, when: float) -> None:
        self.at(when)
        self.stats.close()

    def crash(self) -> None:
        """What was handed to the writer is committed; nothing is saved at the stop."""
        self.writer.close()

    def today(self):
        return self.stats.collector.queue_stats("q", DAY_START, None)

    def rows(self, db, size: int) -> list:
        self.writer.drain()
        store = IntervalStore(db)
        try:
            return store.rows("queue", "q", size)
        finally:
            store.close()


def first_run(db) -> Box:
    """a1 logs in at 10:00:05, answers a call (20 s talk), pauses with reason 7 at 10:01:00."""
    box = Box(db, TEN)
    box.login("a1", TEN + 5)
    box.answered_call("c1", TEN + 10)
    box.core.agent_pause("a1", "7", box.at(TEN + 60))
    return box


def test_clean_stop_then_restart_in_the_same_interval_continues_it(tmp_path):
    db = tmp_path / "db.sqlite"
    first_run(db).stop(TEN + 120)
    box = Box(db, TEN + 300)
    a1 = box.core.agents["a1"]
    assert (a1.state, a1.paused_reason, a1.logged_queues) == (AgentState.PAUSED, "7", ("q", "r"))
    assert box.service.agent_ports == {"a1": PORT}
    assert a1.calls_taken == {"q": 1, "r": 0} and a1.talk_seconds["q"] == pytest.approx(20.0)
    assert a1.login_at == pytest.approx(TEN + 5, abs=0.02)
    assert not box.recorder.kinds(EventKind.ADDMEMBER, EventKind.PAUSE)  # the membership never ended
    today = box.today()
    assert (today.offered, today.answered, today.completed) == (1, 1, 1)
    assert box.stats.collector.agent_stats("a1", DAY_START, None).answered == 1
    assert box.rows(db, 900) == []  # the interval is still open: nothing written yet
    box.core.agent_unpause("a1", box.at(TEN + 310))
    box.answered_call("c2", TEN + 320)
    box.stop(TEN + 900 + 1)
    (row,) = box.rows(db, 900)
    assert row.start == TEN and (row.counters["offered"], row.counters["answered"]) == (2, 2)
    assert box.rows(db, 3600) == []  # 10:00-11:00 is still open


def test_restart_after_the_interval_ended_writes_it_closed_and_keeps_today(tmp_path):
    db = tmp_path / "db.sqlite"
    first_run(db).stop(TEN + 120)
    box = Box(db, TEN + 20 * 60)  # 10:20: the 10:00 bucket ended meanwhile, the hour did not
    (row,) = box.rows(db, 900)
    assert row.start == TEN and (row.counters["offered"], row.counters["answered"], row.counters["completed"]) == (1, 1, 1)
    assert box.rows(db, 3600) == [] and box.rows(db, 86400) == []
    assert box.today().answered == 1  # same day: today's counters go on
    box.stop(TEN + 3600 + 1)  # the hour edge: the hour holds the restored bucket too
    (hour,) = box.rows(db, 3600)
    assert hour.start == TEN and hour.counters["answered"] == 1


def test_restart_the_next_day_writes_the_interval_its_hour_and_day_and_starts_today_at_zero(tmp_path):
    db = tmp_path / "db.sqlite"
    first_run(db).stop(TEN + 120)
    box = Box(db, DAY_START + 86400 + 9 * 3600)
    for size, start in ((900, TEN), (3600, TEN), (86400, DAY_START)):
        (row,) = box.rows(db, size)
        assert row.start == start and (row.counters["offered"], row.counters["answered"]) == (1, 1), size
    assert box.stats.collector.queue_stats("q", DAY_START + 86400, None).offered == 0
    assert box.core.agents["a1"].state is AgentState.PAUSED  # a log-in is kept whatever the day
    box.stop(DAY_START + 86400 + 9 * 3600 + 5)


def test_a_crash_keeps_the_log_ins_as_they_happened_and_the_counters_of_the_last_checkpoint(tmp_path):
    db = tmp_path / "db.sqlite"
    box = first_run(db)  # the checkpoint at 10:01:00 (60 s after start) has the first call
    box.core.agent_unpause("a1", box.at(TEN + 70))
    box.answered_call("c2", TEN + 80)  # after the checkpoint: lost with the crash
    box.core.agent_pause("a1", "9", box.at(TEN + 110))  # a pause is handed over at the end of its tick
    box.at(TEN + 110.02)
    box.crash()
    again = Box(db, TEN + 200)
    a1 = again.core.agents["a1"]
    assert (a1.state, a1.paused_reason, again.service.agent_ports) == (AgentState.PAUSED, "9", {"a1": PORT})
    assert a1.calls_taken["q"] == 2  # written with the log-in row when the call was taken
    today = again.today()
    assert (today.offered, today.answered) == (1, 1)  # the counters of the 10:01:00 checkpoint
    again.stop(TEN + 210)


@pytest.mark.parametrize("restart_after_s,hour_rows", [(930, 0), (2 * 3600, 1)])
def test_a_crash_after_an_edge_uses_the_interval_written_there_not_the_older_checkpoint(tmp_path, restart_after_s,
                                                                                      hour_rows):
    db = tmp_path / "db.sqlite"
    box = first_run(db)
    box.core.agent_unpause("a1", box.at(TEN + 850))
    box.answered_call("c2", TEN + 860, talk_s=5.0)  # after the 10:14 checkpoint, before the edge
    box.at(TEN + 900 + 10)  # the edge wrote the 10:00 bucket whole
    box.crash()
    again = Box(db, TEN + restart_after_s)
    (row,) = [row for row in again.rows(db, 900) if row.start == TEN]
    assert row.counters["answered"] == 2  # not replaced by the checkpoint's 1
    hours = again.rows(db, 3600)  # 10:00-11:00 ended while the box was down: written now
    assert len(hours) == hour_rows and all(hour.counters["answered"] == 2 for hour in hours)
    if restart_after_s < 3600:
        assert again.today().answered == 2  # counted once
    again.stop(TEN + restart_after_s + 1)


def test_a_clock_gone_back_does_not_mix_in_counters_from_the_future(tmp_path):
    db = tmp_path / "db.sqlite"
    first_run(db).stop(TEN + 120)
    box = Box(db, TEN - 3600)
    assert box.today().offered == 0 and box.rows(db, 900) == []
    assert box.core.agents["a1"].state is AgentState.PAUSED
    box.stop(TEN - 3600 + 1)


@pytest.mark.parametrize("what,config,ports", [
    ("agent no longer configured", AcdConfig(queues=CONFIG.queues, agents=(agent("a2"),)), frozenset({3, 4, 5})),
    ("none of its queues left", AcdConfig(queues=CONFIG.queues, agents=(agent("a1", {}), agent("a2"))),
     frozenset({3, 4, 5})),
    ("its port has no extension now", CONFIG, frozenset({3, 5})),
])
def test_a_log_in_that_cannot_come_back_is_dropped(tmp_path, what, config, ports):
    db = tmp_path / "db.sqlite"
    first_run(db).stop(TEN + 120)
    box = Box(db, TEN + 300, config, ports)
    assert box.service.agent_ports == {}
    assert all(each.state is AgentState.LOGGED_OUT for each in box.core.agents.values())
    box.writer.drain()
    assert StateStore(box.writer.store.conn).load().logins == ()  # its row is deleted at once
    box.stop(TEN + 301)


def test_a_log_in_to_queues_partly_removed_comes_back_to_those_left(tmp_path):
    db = tmp_path / "db.sqlite"
    first_run(db).stop(TEN + 120)
    config = AcdConfig(queues=CONFIG.queues, agents=(agent("a1", {"r": 0}), agent("a2")))
    box = Box(db, TEN + 300, config)
    assert box.core.agents["a1"].logged_queues == ("r",)
    box.stop(TEN + 301)


# ------------------------------------------------------------------ the saver: what is written, when


def test_the_saver_writes_a_row_only_when_what_survives_changed():
    core = AcdCore(CONFIG, random.Random(1), start=TEN)
    ports = {"a1": PORT}
    saver = LoginSaver(lambda: core.agents, lambda: ports)
    core.listeners.append(saver)
    assert saver.changes() == []
    core.agent_login("a1", TEN)
    (login,) = saver.changes()
    assert login == SavedLogin("a1", ("q", "r"), None, TEN, {"q": 0, "r": 0}, {"q": 0.0, "r": 0.0}, PORT)
    core.checkpoint(TEN + 30)  # activity accounting only: nothing to write
    assert saver.changes() == []
    core.call_arrived("c1", ["q"], "", TEN + 40)
    core.tick(TEN + 40)
    assert saver.changes() == []  # ringing: nothing that survives changed
    core.offer_answered("c1", "a1", TEN + 41)
    (taken,) = saver.changes()
    assert taken.calls_taken == {"q": 1, "r": 0}
    core.agent_pause("a1", "4", TEN + 42)  # pending while on the call: saved as paused
    assert saver.changes()[0].paused_reason == "4"
    core.agent_unpause("a1", TEN + 43)  # the pending pause cancelled
    assert saver.changes()[0].paused_reason is None
    core.agent_pause("a1", "4", TEN + 44)
    assert saver.changes()[0].paused_reason == "4"
    core.call_ended("c1", TEN + 50)
    (ended,) = saver.changes()
    assert ended.paused_reason == "4" and ended.talk_seconds["q"] == pytest.approx(9.0)
    core.agent_logout("a1", TEN + 60)
    assert saver.changes() == [LoggedOut("a1")]
    assert saver.changes(everyone=True) == []


def test_login_of_a_working_agent_without_a_pending_pause_is_not_paused():
    core = AcdCore(CONFIG, random.Random(1), start=TEN)
    core.agent_login("a1", TEN, paused_reason="2")
    assert login_of(core.agents["a1"], PORT).paused_reason == "2"
    core.agent_unpause("a1", TEN + 1)
    assert login_of(core.agents["a1"], PORT).paused_reason is None
    assert login_of(core.agents["a2"], None) is None


def test_restore_agent_refuses_what_it_cannot_restore_and_changes_nothing():
    core = AcdCore(CONFIG, random.Random(1), start=TEN)
    with pytest.raises(FirmwareError, match="no longer a member"):
        core.restore_agent(SavedLogin("a2", ("gone",), None, TEN), TEN)
    with pytest.raises(FirmwareError, match="unknown agent"):
        core.restore_agent(SavedLogin("zz", ("q",), None, TEN), TEN)
    core.agent_login("a1", TEN)
    with pytest.raises(FirmwareError, match="already logged in"):
        core.restore_agent(SavedLogin("a1", ("q",), None, TEN), TEN)
    assert core.agents["a2"].state is AgentState.LOGGED_OUT


# ------------------------------------------------------------------ the store: round trip, the edge, migration


def test_store_round_trip(tmp_path):
    intervals = IntervalStore(tmp_path / "db.sqlite")
    store = StateStore(intervals.conn)
    login = SavedLogin("a1", ("q", "r"), "lunch", TEN, {"q": 3}, {"q": 61.5}, 4)
    store.write(login)
    store.write(SavedLogin("a2", ("q",), None, TEN + 1, {}, {}, 5))
    store.write(LoggedOut("a2"))
    bucket = OpenBucket(TEN + 900, TEN + 960, {"q": {"offered": 2, "answered": 1}},
                        {"a1": {"answered": 1, "state_seconds": {"available": 12.5}}})
    store.write(bucket)
    intervals.write([IntervalRow("queue", "q", 900, TEN, {"offered": 5}),  # the same day, before: loaded
                     IntervalRow("queue", "q", 900, TEN - 86400, {"offered": 9}),  # the day before: not
                     IntervalRow("queue", "q", 3600, TEN, {"offered": 5})])  # an hour row: not
    saved = store.load()
    assert saved.logins == (login,)
    assert saved.open == bucket
    assert saved.closed == (("queue", "q", TEN, {"offered": 5}),)
    intervals.close()


BAD_LOGINS = [
    ("queues not JSON", ("a1", "[q", None, 4, TEN, "{}", "{}")),
    ("no queue", ("a1", "[]", None, 4, TEN, "{}", "{}")),
    ("queue twice", ("a1", '["q", "q"]', None, 4, TEN, "{}", "{}")),
    ("reason with a bar", ("a1", '["q"]', "a|b", 4, TEN, "{}", "{}")),
    ("negative port", ("a1", '["q"]', None, -1, TEN, "{}", "{}")),
    ("login_at not a number", ("a1", '["q"]', None, 4, "yesterday", "{}", "{}")),
    ("login_at infinite", ("a1", '["q"]', None, 4, float("inf"), "{}", "{}")),
    ("negative count", ("a1", '["q"]', None, 4, TEN, '{"q": -1}', "{}")),
    ("talk not a number", ("a1", '["q"]', None, 4, TEN, "{}", '{"q": "long"}')),
    ("counters not a mapping", ("a1", '["q"]', None, 4, TEN, "[]", "{}")),
]


@pytest.mark.parametrize("what,row", BAD_LOGINS, ids=[what for what, _ in BAD_LOGINS])
def test_a_bad_saved_row_is_skipped_with_a_warning_and_the_rest_loads(tmp_path, caplog, what, row):
    intervals = IntervalStore(tmp_path / "db.sqlite")
    store = StateStore(intervals.conn)
    store.write(SavedLogin("a2", ("q",), None, TEN, {}, {}, 5))
    intervals.conn.execute("INSERT INTO acd_logins VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    intervals.conn.execute("INSERT INTO acd_checkpoint VALUES (1, ?, ?)", (TEN, TEN + 60))
    intervals.conn.execute("INSERT INTO acd_open_interval VALUES ('queue', 'q', ?)", (json.dumps({"offered": "x"}),))
    intervals.conn.execute("INSERT INTO acd_open_interval VALUES ('queue', 'r', ?)", (json.dumps({"offered": 1}),))
    with caplog.at_level("WARNING"):
        saved = store.load()
    assert [login.agent_id for login in saved.logins] == ["a2"]
    assert dict(saved.open.queues) == {"r": {"offered": 1}}
    assert sum("acd_state_skipped" in record.getMessage() for record in caplog.records) == 2
    intervals.close()


def test_migration_2_adds_the_state_tables_to_a_version_1_database(tmp_path):
    path = tmp_path / "db.sqlite"
    conn = connect(path)
    migrate(conn, "acd_history", MIGRATIONS, upto=1)
    conn.execute("INSERT INTO acd_intervals VALUES ('queue', 'q', 900, ?, 'x', '{}')", (TEN,))
    conn.close()
    intervals = IntervalStore(path)
    assert schema_version(intervals.conn, "acd_history") == 3  # 2, then 3 (booked callbacks)
    assert len(intervals.rows("queue", "q", 900)) == 1
    assert StateStore(intervals.conn).load().logins == ()
    intervals.close()
    with sqlite3.connect(path) as raw:
        tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"acd_logins", "acd_open_interval", "acd_checkpoint", "acd_booked_callbacks"} <= tables


def test_a_clock_stepped_years_forward_writes_the_intervals_with_counters_not_every_empty_one(tmp_path):
    """A box without a real-time clock that syncs its time jumps decades: the edge writes the
    interval that held the call and, of the jumped span, at most the last two days (the paused
    agent's time), not 30 years of quarter hours — at once, on the media loop."""
    db = tmp_path / "db.sqlite"
    box = first_run(db)
    box.service.origin_epoch += 30 * 365 * 86400.0  # the next tick is 30 years later
    box.service.tick += 1
    box.stats.on_tick(box.service.tick)
    rows = box.rows(db, 900)
    assert rows[0].start == TEN and rows[0].counters["answered"] == 1
    assert sum(row.counters["answered"] for row in rows) == 1
    assert len(rows) <= 1 + 2 * 96 + 1  # the call's interval and two days of the jump
    assert rows[-1].start >= box.service.now() - 2 * 86400 - 900
    box.stop(box.service.now() + 1)


# -- callbacks booked at a date (migration 3) ----------------------------------------------------


def test_booked_callbacks_round_trip_by_due_time_and_release(tmp_path):
    intervals = IntervalStore(tmp_path / "db.sqlite")
    store = StateStore(intervals.conn)
    late = BookedCallback("u2", TEN + 7200, "q", "2125550102", "a1", TEN)
    early = BookedCallback("u1", TEN + 3600, "q", "2125550101", "a2", TEN)
    store.write(late)
    store.write(early)
    assert store.load().callbacks == (early, late)  # even without a checkpoint or log-ins
    store.write(BookedCallback("u2", TEN + 60, "q", "2125550102", "a1", TEN + 1))  # the same call booked again
    assert [(b.key, b.due) for b in store.load().callbacks] == [("u2", TEN + 60), ("u1", TEN + 3600)]
    store.write(CallbackReleased("u2"))
    store.write(CallbackReleased("nobody"))  # nothing to delete: no error
    assert store.load().callbacks == (early,)
    intervals.close()


BAD_CALLBACKS = [
    ("empty key", ("", TEN, "q", "2125550101", "", TEN)),
    ("due not a number", ("k", "tomorrow", "q", "2125550101", "", TEN)),
    ("due infinite", ("k", float("inf"), "q", "2125550101", "", TEN)),
    ("no queue", ("k", TEN, "", "2125550101", "", TEN)),
    ("number with letters", ("k", TEN, "q", "212555O101", "", TEN)),
    ("number too long", ("k", TEN, "q", "1" * 33, "", TEN)),
    ("booked_at not a number", ("k", TEN, "q", "2125550101", "", "noon")),
]


@pytest.mark.parametrize("what,row", BAD_CALLBACKS, ids=[what for what, _ in BAD_CALLBACKS])
def test_a_bad_booked_callback_row_is_skipped_with_a_warning(tmp_path, caplog, what, row):
    intervals = IntervalStore(tmp_path / "db.sqlite")
    store = StateStore(intervals.conn)
    good = BookedCallback("good", TEN, "q", "2125550101", "a1", TEN)
    store.write(good)
    intervals.conn.execute("INSERT INTO acd_booked_callbacks VALUES (?, ?, ?, ?, ?, ?)", row)
    with caplog.at_level("WARNING"):
        assert store.load().callbacks == (good,)
    assert sum("acd_state_skipped" in record.getMessage() for record in caplog.records) == 1
    intervals.close()
