"""An inbound route's queue priority and skill requirements: the configuration (types, bounds,
cross-checks, YAML and database round trips, migration 6 of a version-5 box) and the box on
the virtual board (a premium line's caller is offered first, a French line's caller only
reaches an agent with ``fr`` >= 5, and an overflow into another queue keeps both)."""

from __future__ import annotations

import sqlite3

import pytest
from acd_engine_helpers import events_of, login
from config_helpers import demo, demo_data, lookup, open_store, outcome, replace, setting
from features_helpers import LINE_1, LINE_2, PORT, hang_up, inbound_call, office, run, state, switch_events
from test_config_migrations import V1_DATABASE

from firmware import FirmwareError
from firmware.config import (
    Agent,
    Destination,
    DestinationKind,
    InboundRoute,
    Queue,
    from_dict,
    from_yaml,
    to_dict,
    to_yaml,
    validate,
)
from firmware.config.db import connect, migrate
from firmware.config.schema import MIGRATIONS

SUPPORT = Destination(DestinationKind.QUEUE, "support")
TO_SUPPORT = {"kind": "queue", "name": "support"}
ALICE, BOB = "203", "204"  # where agents 1001 and 1002 sit


def queue_data() -> dict:
    """The demo's YAML form with its first route sent to the queue ``support``."""
    data = demo_data()
    data["routes"][0]["destination"] = dict(TO_SUPPORT)
    return data


def with_route(data: dict, index: int, **keys) -> dict:
    data["routes"][index].update(keys)
    return data


# -- configuration ---------------------------------------------------------------------------


def test_defaults_keep_the_old_behaviour_and_are_exported():
    route = InboundRoute("x", SUPPORT)
    assert (route.queue_priority, route.queue_skills) == (0, ())
    exported = to_dict(demo())["routes"][0]
    assert (exported["queue_priority"], exported["queue_skills"]) == (0, {})
    old_style = demo_data()
    for raw in old_style["routes"]:  # a file written before the keys existed
        del raw["queue_priority"], raw["queue_skills"]
    assert from_dict(old_style) == demo()


def test_priority_and_skills_are_read_in_order_and_survive_yaml_round_trips():
    data = with_route(queue_data(), 0, queue_priority=100, queue_skills={"fr": 5, "billing": 10, "de": 1})
    config = validate(from_dict(data), lookup)
    route = config.routes[0]
    assert route.queue_priority == 100
    assert route.queue_skills == (("fr", 5), ("billing", 10), ("de", 1))  # the installer's order
    text = to_yaml(config)
    assert "queue_skills:\n    fr: 5\n    billing: 10\n    de: 1\n" in text
    again = from_yaml(text)
    assert again == config and to_yaml(again) == text


@pytest.mark.parametrize("key, value, message", [
    ("queue_priority", -1, "routes[0].queue_priority: expected an integer 0-100, got -1"),
    ("queue_priority", 101, "routes[0].queue_priority: expected an integer 0-100, got 101"),
    ("queue_priority", True, "routes[0].queue_priority: expected an integer 0-100, got True"),
    ("queue_priority", "5", "routes[0].queue_priority: expected an integer 0-100, got '5'"),
    ("queue_priority", None, "routes[0].queue_priority: expected an integer 0-100, got None"),
    ("queue_skills", ["fr"], "routes[0].queue_skills: expected a mapping of skill: level, got ['fr']"),
    ("queue_skills", {"fr": 0}, "routes[0].queue_skills.fr: expected an integer 1-10, got 0"),
    ("queue_skills", {"fr": 11}, "routes[0].queue_skills.fr: expected an integer 1-10, got 11"),
    ("queue_skills", {"fr": "5"}, "routes[0].queue_skills.fr: expected an integer 1-10, got '5'"),
    ("queue_skills", {"French": 5}, "routes[0].queue_skills: key: 'French' is not a skill name"),
    ("queue_skills", {"1fr": 5}, "routes[0].queue_skills: key: '1fr' is not a skill name"),
    ("queue_skills", {f"s{i}": 1 for i in range(17)}, "routes[0].queue_skills: at most 16 entries, got 17"),
])
def test_bad_values_are_refused_naming_the_field(key, value, message):
    found = outcome(with_route(queue_data(), 0, **{key: value}))
    assert found.startswith(message) and "\n" not in found


def test_the_bounds_themselves_are_accepted():
    assert outcome(with_route(queue_data(), 0, queue_priority=0, queue_skills={"fr": 1})) == ""
    assert outcome(with_route(queue_data(), 0, queue_priority=100,
                              queue_skills={f"s{i}": 10 for i in range(16)})) == ""


@pytest.mark.parametrize("key, value", [("queue_priority", 5), ("queue_skills", {"fr": 5})])
def test_queue_settings_on_a_route_to_anything_else_are_refused(key, value):
    # routes[1] of the demo goes to extension 201
    data = with_route(queue_data(), 1, **{key: value})
    assert outcome(data) == f"routes[1].{key}: only for a queue destination"
    both = with_route(queue_data(), 1, queue_priority=5, queue_skills={"fr": 5})
    assert outcome(both) == "routes[1].queue_priority: only for a queue destination (and 1 more problem)"
    assert outcome(with_route(data, 1, destination=dict(TO_SUPPORT))) == ""


def test_a_route_with_queue_settings_needs_a_name_of_its_own():
    data = with_route(queue_data(), 1, name="business hours", destination=dict(TO_SUPPORT))
    assert outcome(data) == ""  # the same name twice without queue settings: as before
    data = with_route(data, 1, queue_priority=3)
    assert outcome(data) == ("routes[1].name: route 'business hours' is already routes[0]; a route with "
                             "queue_priority or queue_skills needs a name of its own")
    setting("routes[1].name", "premium")(data)
    assert outcome(data) == ""


def test_a_refused_change_leaves_the_store_unchanged(tmp_path):
    with open_store(tmp_path / "db.sqlite") as store:
        store.save(demo())
        before, revision = store.load(), store.config_version()
        bad = replace(demo(), routes=(replace(demo().routes[0], queue_skills=(("fr", 5),)),) + demo().routes[1:])
        with pytest.raises(FirmwareError, match=r"^routes\[0\]\.queue_skills: only for a queue destination$"):
            store.save(bad)
        assert store.load() == before and store.config_version() == revision


def test_the_store_keeps_priority_and_skills(tmp_path):
    path = tmp_path / "db.sqlite"
    config = from_dict(with_route(queue_data(), 0, queue_priority=7, queue_skills={"fr": 5, "de": 2}))
    with open_store(path) as store:
        store.save(config)
    with open_store(path) as again:
        route = again.load().routes[0]
        assert (route.queue_priority, route.queue_skills) == (7, (("fr", 5), ("de", 2)))
        row = again.conn.execute("SELECT queue_priority, queue_skills FROM routes WHERE position = 0").fetchone()
        assert row == (7, '{"fr": 5, "de": 2}')


@pytest.fixture
def v5_path(tmp_path):
    """A box at configuration schema version 5 with routes and a queue it wrote itself
    (migrations 1-5 are shipped, never edited; rows use the version-5 column lists)."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(V1_DATABASE)
    conn.close()
    conn = connect(path)
    assert migrate(conn, "config", MIGRATIONS, upto=5) == 5
    conn.execute(
        "INSERT INTO queues (name, position, number, strategy, ring_s, wrapup_s, service_level_s, max_wait_s,"
        " overflow_kind, overflow_name, join_empty, leave_empty, announce_position_s, announce_hold_time,"
        " periodic_announce_s, exit_key, exit_kind, exit_name, required_skills, relax, callback_enabled,"
        " callback_max_attempts, callback_retry_s, music) VALUES ('kunden', 0, '250', 'leastrecent', 15, 0, 20,"
        " 0, 'hangup', '', 'null', 'null', 0, 0, 0, '', 'hangup', '', '{\"deutsch\": 4}', '[]', 0, 3, 300,"
        " 'default')")
    conn.execute("INSERT INTO routes (position, name, line, caller_id, schedule, when_state, dest_kind, dest_name)"
                 " VALUES (3, 'Hotline', 1, NULL, NULL, 'open', 'queue', 'kunden')")
    conn.close()
    return path


def test_v5_database_gains_route_queue_settings_and_keeps_its_routes(v5_path):
    with open_store(v5_path) as store:
        assert store.schema_version == len(MIGRATIONS)
        versions = [row[0] for row in store.conn.execute(
            "SELECT version FROM schema_version WHERE component = 'config' ORDER BY version")]
        assert versions == list(range(1, len(MIGRATIONS) + 1))
        config = store.load()
        assert store.config_version() == 7  # a migration is not a configuration change
        assert [route.name for route in config.routes] == ["Geschaeftszeit", "Nachts", "Rest", "Hotline"]
        assert config.routes[1].line == 0 and config.routes[1].caller_id == "0301234xxx"
        hotline = config.routes[3]
        assert hotline.destination == Destination(DestinationKind.QUEUE, "kunden") and hotline.line == 1
        assert all((route.queue_priority, route.queue_skills) == (0, ()) for route in config.routes)
        store.update(lambda c: replace(c, routes=c.routes[:3] + (
            replace(hotline, queue_priority=4, queue_skills=(("franzoesisch", 6),)),)))
    with open_store(v5_path) as again:
        assert again.schema_version == len(MIGRATIONS)
        hotline = again.load().routes[3]
        assert (hotline.queue_priority, hotline.queue_skills) == (4, (("franzoesisch", 6),))
        assert again.load().queue("kunden").required_skills == (("deutsch", 4),)
        assert again.load().queue("kunden").greeting == ""  # migration 7: no greeting


# -- the box ---------------------------------------------------------------------------------


def box_config(routes: tuple[InboundRoute, ...], agents: tuple[Agent, ...] | None = None,
               queues: tuple[Queue, ...] | None = None):
    """The demo office with ``routes`` (and agents and queues when given)."""
    config = demo()
    return replace(config, routes=routes, agents=config.agents if agents is None else agents,
                   queues=config.queues if queues is None else queues)


def connect_order(app) -> list[str]:
    """The caller IDs of the queue's calls in the order agents answered them (queue_log)."""
    caller_of = {fields[1]: fields[6] for fields in events_of(app, "ENTERQUEUE")}
    return [caller_of[fields[1]] for fields in events_of(app, "CONNECT")]


def answer_and_finish(app, extension: str) -> None:
    app.world.phone(PORT[extension]).offhook()
    run(app, 4.0)  # whisper, then the bridge
    hang_up(app, extension)
    run(app, 6.0)  # the next offer rings


@pytest.mark.parametrize("priority, first", [(5, "2125550002"), (0, "2125550001")])
def test_a_premium_line_queues_ahead_of_an_earlier_caller(tmp_path, priority, first):
    routes = (InboundRoute("premium line", SUPPORT, line=LINE_2, queue_priority=priority),
              InboundRoute("all", SUPPORT))
    with office(tmp_path, config=box_config(routes)) as app, switch_events("acd") as events:
        inbound_call(app, LINE_1, number="2125550001", seconds=3.0)
        inbound_call(app, LINE_2, number="2125550002", seconds=5.0)
        joins = events.named("queue_join")
        assert [(j["priority"], j["skills"]) for j in joins] == [(0, "queue"), (priority, "queue")]
        login(app, ALICE, "1001")
        run(app, 2.0)
        assert state(app, PORT[ALICE]) == "ringing"
        trace = events.named("route")[0]
        assert trace["chosen"] == "1001"
        caller_of = {fields[1]: fields[6] for fields in events_of(app, "ENTERQUEUE")}
        assert caller_of[trace["call"]] == first
        answer_and_finish(app, ALICE)
        answer_and_finish(app, ALICE)
        second = "2125550001" if first == "2125550002" else "2125550002"
        assert connect_order(app) == [first, second]


def test_the_call_carries_the_name_of_its_route(tmp_path):
    routes = (InboundRoute("premium line", SUPPORT, line=LINE_2, queue_priority=5), InboundRoute("all", SUPPORT))
    with office(tmp_path, config=box_config(routes)) as app, switch_events("switch") as events:
        inbound_call(app, LINE_2, seconds=5.0)
        inbound_call(app, LINE_1, seconds=5.0)
        assert app.switch.legs[LINE_2].call.route == "premium line"
        assert app.switch.legs[LINE_1].call.route == "all"
        assert [e["route"] for e in events.named("route")] == ["premium line", "all"]
        assert {c.priority for c in app.acd.core.calls.values()} == {5, 0}


FRENCH_AGENTS = (
    Agent(id="1001", name="Alice", extension=ALICE, queues=(("support", 0),), skills=(("fr", 4),)),
    Agent(id="1002", name="Bob", extension=BOB, queues=(("support", 0),), skills=(("fr", 5), ("de", 9))),
)


@pytest.mark.parametrize("line, chosen, skills", [(LINE_1, "1002", "fr:5"), (LINE_2, "1001", "queue")])
def test_a_french_line_only_reaches_an_agent_with_fr_5(tmp_path, line, chosen, skills):
    routes = (InboundRoute("french", SUPPORT, line=LINE_1, queue_skills=(("fr", 5),)), InboundRoute("all", SUPPORT))
    with office(tmp_path, config=box_config(routes, agents=FRENCH_AGENTS)) as app, switch_events("acd") as events:
        login(app, ALICE, "1001")  # Alice has waited longest: leastrecent would pick her
        login(app, BOB, "1002")
        inbound_call(app, line, seconds=4.0)
        (join,) = events.named("queue_join")
        assert join["skills"] == skills and join["priority"] == 0
        trace = events.named("route")[0]
        assert trace["chosen"] == chosen
        assert trace["needs"] == ("fr>=5" if chosen == "1002" else "-")
        other = ALICE if chosen == "1002" else BOB
        assert state(app, PORT[BOB if chosen == "1002" else ALICE]) == "ringing"
        assert state(app, PORT[other]) == "idle"


def test_a_french_caller_waits_while_only_agents_without_the_skill_are_free(tmp_path):
    routes = (InboundRoute("french", SUPPORT, queue_skills=(("fr", 5),)),)
    with office(tmp_path, config=box_config(routes, agents=FRENCH_AGENTS)) as app, switch_events("acd") as events:
        login(app, ALICE, "1001")
        inbound_call(app, LINE_1, seconds=4.0)
        run(app, 10.0)
        assert state(app, PORT[ALICE]) == "idle" and not events.named("route")
        login(app, BOB, "1002")
        run(app, 1.0)
        assert state(app, PORT[BOB]) == "ringing" and state(app, PORT[ALICE]) == "idle"


def test_overflow_into_another_queue_keeps_priority_and_skills(tmp_path):
    first = replace(demo().queues[0], max_wait_s=5, overflow=Destination(DestinationKind.QUEUE, "second"),
                    announce_position_s=0)
    second = Queue(name="second", number="710", required_skills=(("de", 3),))
    agents = (replace(FRENCH_AGENTS[0], queues=(("support", 0), ("second", 0))),)
    routes = (InboundRoute("premium", SUPPORT, queue_priority=6, queue_skills=(("fr", 5),)),)
    config = box_config(routes, agents=agents, queues=(first, second))
    with office(tmp_path, config=config) as app, switch_events("acd") as events:
        login(app, ALICE, "1001")  # fr 4: never offered the call
        inbound_call(app, LINE_1, seconds=4.0)
        assert [j["queue"] for j in events.named("queue_join")] == ["support"]
        run(app, 6.0)  # max wait 5 s: on to the second queue
        joins = events.named("queue_join")
        assert [(j["queue"], j["priority"], j["skills"]) for j in joins] == [
            ("support", 6, "fr:5"), ("second", 6, "fr:5")]
        (call,) = app.acd.core.calls.values()
        assert call.priority == 6 and dict(call.requirements) == {"fr": 5}  # not the queue's de 3
        assert state(app, PORT[ALICE]) == "idle" and not events.named("route")


def test_a_call_reaching_the_queue_through_a_ring_group_has_the_defaults(tmp_path):
    group = replace(demo().ring_groups[0], members=("201",), ring_s=5, no_answer=SUPPORT)
    routes = (InboundRoute("premium", SUPPORT, line=LINE_2, queue_priority=9, queue_skills=(("fr", 5),)),
              InboundRoute("all", Destination(DestinationKind.RING_GROUP, "office")))
    config = replace(box_config(routes), ring_groups=(group,))
    with office(tmp_path, config=config) as app, switch_events("acd") as events:
        inbound_call(app, LINE_1, seconds=5.0)
        assert state(app, PORT["201"]) == "ringing" and not events.named("queue_join")
        run(app, 6.0)
        (join,) = events.named("queue_join")
        assert (join["queue"], join["priority"], join["skills"]) == ("support", 0, "queue")
        assert app.switch.legs[LINE_1].call.route == "all"
        (call,) = app.acd.core.calls.values()
        assert call.priority == 0


ROUTES = (
    InboundRoute("premium", SUPPORT, line=1, queue_priority=5),
    InboundRoute("twice", Destination(DestinationKind.EXTENSION, "201"), line=0),
    InboundRoute("twice", SUPPORT),
    InboundRoute("other", Destination(DestinationKind.QUEUE, "second")),
)


@pytest.mark.parametrize("route_name, queue, expected", [
    ("premium", "support", ROUTES[0]),
    ("premium", "second", None),  # the route goes to another queue
    ("twice", "support", ROUTES[2]),  # the one of that name that goes to the queue
    ("other", "second", ROUTES[3]),
    ("", "support", None),  # no route matched, or not an inbound call
    ("nosuch", "support", None),
])
def test_the_route_of_a_call_in_a_queue(route_name, queue, expected):
    config = replace(demo(), routes=ROUTES)
    assert config.route_to_queue(route_name, queue) is expected
