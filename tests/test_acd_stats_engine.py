"""ACD statistics in the running box, end to end on the virtual board: after a scripted set
of queue calls (one answered, one abandoned) the console's ``show queues`` / ``show agents``
give the hand-computed figures (docs/acd.md "Statistics"), and at a 15-minute edge that is
also an hour and a day edge the interval rows reach the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from acd_engine_helpers import events_of, login, queue_config
from features_helpers import LINE_1, LINE_2, PORT, dial, hang_up, inbound_call, office, run, state

from firmware import FirmwareError
from firmware.acdengine.history import IntervalStore
from firmware.acdengine.stats import find_stats
from firmware.config.demo import demo_config
from firmware.console.access import EngineAccess
from firmware.console.commands import Console
from firmware.console.gateway import EngineGateway
from firmware.console.logbuffer import LogBuffer
from linebox.appliance import open_virtual_appliance

ALICE, BOB = "203", "204"  # agents 1001 (port 4) and 1002 (port 5) sit there
WRAPUP_S = 10
ORIGIN = dt.datetime(2026, 11, 25, 23, 59, 30, tzinfo=dt.UTC)  # 30 s before a 15 min, hour and day edge
EDGE = dt.datetime(2026, 11, 26, tzinfo=dt.UTC).timestamp()


def console(app) -> Console:
    """A console whose engine requests run at once (the test thread drives the loop)."""
    engine = EngineAccess(loop=app.loop, switch=app.switch, store=app.store)
    return Console(engine, LogBuffer(), EngineGateway(lambda request: request()))


def table_rows(lines: list[str]) -> list[dict[str, str]]:
    headers = lines[0].split()
    return [dict(zip(headers, line.split(), strict=True)) for line in lines[1:]]


def scripted_calls(app) -> None:
    """Alice logs in; call 1 is answered, talks about 6 s; call 2 is answered by the box during
    the 10 s of wrap-up and its caller hangs up while waiting; then the wrap-up ends."""
    login(app, ALICE, "1001")
    inbound_call(app, LINE_1, number="2125557788", seconds=4.0)
    assert state(app, PORT[ALICE]) == "ringing"
    app.world.phone(PORT[ALICE]).offhook()
    run(app, 6.0)
    hang_up(app, ALICE, seconds=0.5)
    inbound_call(app, LINE_2, number="2125550000", seconds=6.0)
    app.world.line(LINE_2).far_end_hangup()
    run(app, 5.0)


@pytest.fixture
def box(tmp_path):
    config = queue_config(wrapup_s=WRAPUP_S, announce_hold_time=False, service_level_s=20)
    app = open_virtual_appliance(tmp_path / "db.sqlite", paced=False, seed=1, origin=ORIGIN, config=config)
    try:
        run(app, 0.2)
        yield app
    finally:
        app.close()


def test_show_queues_and_agents_after_scripted_calls_then_interval_rows_at_the_edge(box, tmp_path):
    app = box
    scripted_calls(app)
    (connect,) = events_of(app, "CONNECT")
    (complete,) = events_of(app, "COMPLETEAGENT")
    (abandon,) = events_of(app, "ABANDON")
    wait_s, talk_s = float(connect[5]), float(complete[6])  # queue_log rounds to whole seconds
    assert 0 <= wait_s <= 4 and 5 <= talk_s <= 7 and 0 <= float(abandon[7]) <= 4

    lines = console(app).execute("show queues").lines
    (support,) = table_rows(lines)
    assert support["queue"] == "support" and support["waiting"] == "0" and support["longest"] == "0:00"
    assert (support["available"], support["ringing"], support["oncall"], support["wrapup"], support["paused"],
            support["loggedout"]) == ("1", "0", "0", "0", "0", "1")  # Alice free again, Bob never logged in
    assert (support["offered"], support["answered"], support["abandoned"]) == ("2", "1", "1")
    assert support["sl"] == "100.0%"  # 1 answered within 20 s of 1 answered
    assert support["sl_offered"] == "50.0%"  # 1 of answered + abandoned
    assert support["abandon_rate"] == "50.0%"
    assert abs(float(support["asa_s"]) - wait_s) <= 0.6
    assert abs(float(support["aht_s"]) - (talk_s + WRAPUP_S)) <= 0.6

    stats = find_stats(app.switch)
    figures = stats.collector.queue_stats("support")
    assert figures.asa_seconds == pytest.approx(figures.answered_wait_seconds)
    assert figures.wrapup_seconds == pytest.approx(WRAPUP_S, abs=0.021)

    agents = {row["agent"]: row for row in table_rows(console(app).execute("show agents").lines)}
    alice, bob = agents["1001"], agents["1002"]
    assert (alice["state"], alice["answered"], alice["port"]) == ("available", "1", str(PORT[ALICE]))
    talk_clock = int(alice["talk"].split(":")[0]) * 60 + int(alice["talk"].split(":")[1])
    assert abs(talk_clock - talk_s) <= 1
    occupancy = float(alice["occupancy"].rstrip("%")) / 100
    logged_in = stats.collector.agent_stats("1001")
    assert occupancy == pytest.approx(logged_in.busy_seconds / (logged_in.busy_seconds + logged_in.idle_seconds),
                                      abs=0.001)
    assert 0.4 < occupancy < 0.9  # ringing + talk + wrap-up ≈ 15 s of ≈ 24 s logged in
    assert (bob["state"], bob["answered"], bob["occupancy"], bob["port"]) == ("loggedout", "0", "-", "-")
    assert bob["since"] == f"0:{app.switch.tick // 50:02d}"  # logged out since the box started

    # ---- the edge: 23:59:30 + 30 s closes 23:45-00:00, 23:00-00:00 and the day 2026-11-25
    before_edge = app.switch.tick
    run(app, 30.0 - before_edge * 0.02 + 0.1)
    app.acd_stats.history.drain()
    store = IntervalStore(tmp_path / "db.sqlite")
    try:
        for size in (900, 3600, 86400):
            (row,) = store.rows("queue", "support", size)
            assert row.start == EDGE - size
            assert (row.counters["offered"], row.counters["answered"], row.counters["abandoned"]) == (2, 1, 1)
            assert row.counters["answered_in_sl"] == 1 and row.counters["completed"] == 1
            (alice_row,) = store.rows("agent", "1001", size)
            assert sum(alice_row.counters["state_seconds"].values()) == pytest.approx(30.0, abs=1e-6)  # box start to edge
            assert alice_row.counters["answered"] == 1
            (bob_row,) = store.rows("agent", "1002", size)
            assert bob_row.counters["state_seconds"] == {"loggedout": pytest.approx(30.0, abs=1e-6)}
        # the next 15 minutes are not closed yet: nothing written for them
        assert store.rows("queue", "support", 900, since=EDGE) == []
    finally:
        store.close()


def test_without_queues_the_console_says_so(tmp_path):
    config = demo_config()
    app = open_virtual_appliance(tmp_path / "db.sqlite", paced=False, seed=1, origin=ORIGIN,
                                 config=replace(config, queues=(), agents=(), ivr_flows=(),
                                                routes=config.routes[1:]))  # the voice menu leads to the queue
    try:
        assert app.acd_stats is None
        with pytest.raises(FirmwareError, match="no ACD on this box"):
            console(app).execute("show queues")
        with pytest.raises(FirmwareError, match="usage: show agents"):
            console(app).execute("show agents now")
    finally:
        app.close()


def test_paused_agent_and_a_waiting_caller(tmp_path):
    with office(tmp_path, config=queue_config(announce_hold_time=False)) as app:
        login(app, BOB, "1002")
        dial(app, BOB, "*47", 0.5)
        dial(app, BOB, "3", 1.0)  # reason code 3
        hang_up(app, BOB)
        paused_at = app.switch.tick
        inbound_call(app, LINE_1, seconds=5.0)
        run(app, 10.0)  # nobody to answer: the caller waits
        (enter,) = events_of(app, "ENTERQUEUE")
        now = app.acd.now()
        (support,) = table_rows(console(app).execute("show queues").lines)
        assert (support["waiting"], support["paused"], support["available"], support["loggedout"]) == ("1", "1", "0", "1")
        longest = int(support["longest"].split(":")[1])
        assert abs(longest - (now - int(enter[0]))) <= 1
        assert (support["offered"], support["answered"], support["abandoned"]) == ("1", "0", "0")
        assert (support["sl"], support["sl_offered"], support["asa_s"], support["abandon_rate"]) == ("-", "-", "-", "-")
        agents = {row["agent"]: row for row in table_rows(console(app).execute("show agents").lines)}
        bob = agents["1002"]
        assert (bob["state"], bob["pause_reason"], bob["port"]) == ("paused", "3", str(PORT[BOB]))
        since = int(bob["since"].split(":")[1])
        assert abs(since - (app.switch.tick - paused_at) * 0.02) <= 2.5  # paused at the reason digit, before hang-up


@pytest.mark.parametrize(("origin", "sizes"), [
    (dt.datetime(2026, 11, 25, 10, 14, 50, tzinfo=dt.UTC), [900]),
    (dt.datetime(2026, 11, 25, 10, 59, 50, tzinfo=dt.UTC), [900, 3600]),
    (dt.datetime(2026, 11, 25, 23, 59, 50, tzinfo=dt.UTC), [900, 3600, 86400]),
])
def test_an_edge_writes_the_intervals_it_closes(tmp_path, origin, sizes):
    app = open_virtual_appliance(tmp_path / "db.sqlite", paced=False, seed=1, origin=origin, config=queue_config())
    try:
        run(app, 9.9)
        app.acd_stats.history.drain()
        store = IntervalStore(tmp_path / "db.sqlite")
        assert [size for size in (900, 3600, 86400) if store.rows("queue", "support", size)] == []  # not yet
        run(app, 0.2)  # 10.1 s: the edge has passed
        app.acd_stats.history.drain()
        edge = origin.timestamp() + 10
        written = {size: store.rows("queue", "support", size) for size in (900, 3600, 86400)}
        assert [size for size, rows in written.items() if rows] == sizes
        for size in sizes:
            (row,) = written[size]
            assert row.start == edge - size and row.counters["offered"] == 0
            (bob,) = store.rows("agent", "1002", size)
            assert bob.counters["state_seconds"] == {"loggedout": pytest.approx(10.0, abs=1e-6)}
        store.close()
    finally:
        app.close()


def test_a_queue_removed_live_still_gets_its_last_interval_written(tmp_path):
    origin = dt.datetime(2026, 11, 25, 10, 14, 30, tzinfo=dt.UTC)  # 30 s before a 15 min edge
    config = queue_config(announce_hold_time=False)
    app = open_virtual_appliance(tmp_path / "db.sqlite", paced=False, seed=1, origin=origin, config=config)
    try:
        inbound_call(app, LINE_1, seconds=5.0)  # offered in support; nobody logged in
        app.world.line(LINE_1).far_end_hangup()
        run(app, 2.0)
        routes = (replace(config.routes[0], destination=replace(config.routes[0].destination, kind="extension",
                                                                 name="201")),)
        app.store.save(replace(config, routes=routes, queues=(), agents=(), ivr_flows=()), source="test")
        run(app, 25.0)  # past the edge
        app.acd_stats.history.drain()
        store = IntervalStore(tmp_path / "db.sqlite")
        (row,) = store.rows("queue", "support", 900)
        assert row.counters["offered"] == 1 and row.counters["abandoned"] == 1
        store.close()
    finally:
        app.close()


def test_show_routing_explains_each_decision(tmp_path):
    agents = tuple(replace(agent, skills=(("fr", 7 if agent.id == "1001" else 4),)) for agent in demo_config().agents)
    config = queue_config(agents=agents, announce_hold_time=False, required_skills=(("fr", 5),))
    app = open_virtual_appliance(tmp_path / "db.sqlite", paced=False, seed=1, origin=ORIGIN, config=config)
    try:
        assert console(app).execute("show routing").lines == ["no routing decisions yet"]
        login(app, ALICE, "1001")
        login(app, BOB, "1002")
        inbound_call(app, LINE_1, seconds=5.0)
        lines = console(app).execute("show routing").lines
        header, needs, *candidates = lines
        assert " queue support strategy leastrecent: 1001 by rule " in header
        assert needs.startswith("  needs fr>=5 (relaxation step 0), penalty tier 0, excluded: 1 for skills")
        assert candidates == ["  * 1 1001  penalty 0  idle " + candidates[0].split("idle ")[1]]
        assert candidates[0].endswith("s  fr=7")
        call = header.split(" call ")[1].split()[0]
        assert console(app).execute(f"show routing call={call}").lines == lines
        assert console(app).execute("show routing queue=support lines=1").lines == lines
        for bad, message in (("queue=nosuch", "no queue named 'nosuch'"), ("lines=0", "out of range"),
                             ("colour=red", "unknown option")):
            with pytest.raises(FirmwareError, match=message):
                console(app).execute(f"show routing {bad}")
    finally:
        app.close()
