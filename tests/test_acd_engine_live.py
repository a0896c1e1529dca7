"""Queue and agent changes reach the running box without a restart (firmware/acdengine/live.py):
a stored configuration is applied between two ticks, waiting callers keep their place, calls
in progress are untouched, an agent removed during a call is logged out after it; a box
started without queues starts its ACD when the first queue is stored; a change committed by
another process (``linebox config import``) is picked up by ``reload_if_changed``."""

from __future__ import annotations

from dataclasses import replace

from acd_engine_helpers import events_of, login, queue_config
from features_helpers import LINE_1, LINE_2, PORT, hang_up, inbound_call, office, run, state, switch_events

from firmware.config.demo import demo_config
from firmware.config.model import Agent, Destination, DestinationKind, InboundRoute
from firmware.config.store import ConfigStore
from linebox.storage import board_ports

ALICE, BOB = "203", "204"


def store_and_apply(app, config) -> None:
    app.store.save(config, source="test")
    run(app, 0.1)  # the loop applies it between two ticks


def with_support(config, **changes):
    return replace(config, queues=(replace(config.queues[0], **changes),))


def test_a_waiting_caller_keeps_the_place_while_queue_settings_change(tmp_path):
    config = queue_config(announce_hold_time=False)
    with office(tmp_path, config=config) as app, switch_events("acd") as events:
        inbound_call(app, LINE_1, seconds=5.0)
        (caller,) = app.acd.callers.values()
        store_and_apply(app, with_support(config, strategy="rrmemory", music="ringback"))
        assert app.acd.core.queues["support"].strategy == "rrmemory"
        assert list(app.acd.callers.values()) == [caller] and app.acd.core.position(caller.acd_id) == 1
        changes = [e["change"] for e in events.named("acd_reconfigured")]
        assert any("strategy leastrecent -> rrmemory" in line for line in changes)
        run(app, 6.0)  # the prompt is over: the new music class (ringback) plays
        assert app.switch.players.tone(LINE_1) == app.switch.plan.ringback.name
        (enter,) = events_of(app, "ENTERQUEUE")
        assert not events_of(app, "ABANDON") and not events_of(app, "EXITWITHTIMEOUT")


def test_a_shorter_max_wait_sends_a_caller_already_past_it_away_at_once(tmp_path):
    config = queue_config(announce_hold_time=False)
    overflow = Destination(DestinationKind.EXTENSION, "201")
    with office(tmp_path, config=config) as app:
        inbound_call(app, LINE_1, seconds=20.0)  # 20 s in the queue, no limit
        store_and_apply(app, with_support(config, max_wait_s=10, overflow=overflow))
        run(app, 0.5)
        (timeout,) = events_of(app, "EXITWITHTIMEOUT")
        assert timeout[2] == "support"
        assert state(app, PORT["201"]) == "ringing"


def test_an_agent_added_live_can_log_in_and_take_calls(tmp_path):
    config = queue_config(announce_hold_time=False)
    with office(tmp_path, config=config) as app:
        newcomer = Agent(id="1003", name="Carol", extension="202", queues=(("support", 0),))
        store_and_apply(app, replace(config, agents=(*config.agents, newcomer)))
        login(app, "202", "1003")
        assert app.acd.agent_ports == {"1003": PORT["202"]}
        inbound_call(app, LINE_1, seconds=5.0)
        assert state(app, PORT["202"]) == "ringing"


def test_an_agent_removed_during_a_call_is_logged_out_after_it(tmp_path):
    config = queue_config(announce_hold_time=False, wrapup_s=0)
    with office(tmp_path, config=config) as app, switch_events("acd") as events:
        login(app, ALICE, "1001")
        login(app, BOB, "1002")
        inbound_call(app, LINE_1, seconds=5.0)
        talking = next(agent for agent, port in app.acd.agent_ports.items() if state(app, port) == "ringing")
        app.world.phone(app.acd.agent_ports[talking]).offhook()
        run(app, 4.0)
        store_and_apply(app, replace(config, agents=tuple(a for a in config.agents if a.id != talking)))
        assert talking in app.acd.agent_ports  # still on the call
        assert state(app, LINE_1) == "connected"
        (removed,) = [e for e in events_of(app, "REMOVEMEMBER") if e[3] == talking]  # no longer a member
        assert removed[2] == "support"
        extension = next(ext for ext, port in PORT.items() if port == app.acd.agent_ports[talking])
        hang_up(app, extension)
        run(app, 0.5)
        assert talking not in app.acd.agent_ports
        assert len([e for e in events_of(app, "REMOVEMEMBER") if e[3] == talking]) == 1
        assert any(e.get("reason") == "removed from the configuration" for e in events.named("agent_logout"))
        inbound_call(app, LINE_2, number="2125550000", seconds=5.0)
        other = PORT[BOB] if talking == "1001" else PORT[ALICE]
        assert state(app, other) == "ringing"  # the one left takes the next call


def test_a_box_started_without_queues_starts_its_acd_when_one_is_stored(tmp_path):
    no_queue = replace(demo_config(), queues=(), agents=(), ivr_flows=(), routes=demo_config().routes[1:])
    with office(tmp_path, config=no_queue) as app:  # (the demo's voice menu leads to the queue: gone too)
        assert app.acd is None
        inbound_route = InboundRoute("all", Destination(DestinationKind.QUEUE, "support"))
        store_and_apply(app, replace(queue_config(announce_hold_time=False), routes=(inbound_route,)))
        assert app.acd is not None and app.acd_stats is not None
        login(app, ALICE, "1001")
        inbound_call(app, LINE_1, seconds=5.0)
        assert state(app, PORT[ALICE]) == "ringing"


def test_removing_every_queue_sends_waiting_callers_to_their_destination(tmp_path):
    overflow = Destination(DestinationKind.EXTENSION, "201")
    config = queue_config(announce_hold_time=False, overflow=overflow)
    with office(tmp_path, config=config) as app:
        login(app, BOB, "1002")
        app.world.phone(PORT[BOB]).offhook()  # busy with something else: the caller waits
        run(app, 0.5)
        inbound_call(app, LINE_1, seconds=5.0)
        assert len(app.acd.callers) == 1
        routes = (InboundRoute("all", Destination(DestinationKind.EXTENSION, "201")),)
        store_and_apply(app, replace(config, routes=routes, queues=(), agents=(), ivr_flows=()))
        run(app, 0.5)
        assert app.acd.callers == {} and app.acd.agent_ports == {}
        (left,) = events_of(app, "EXITEMPTY")
        assert left[2] == "support"
        assert state(app, PORT["201"]) == "ringing"


def test_a_change_made_by_another_process_is_picked_up(tmp_path):
    config = queue_config(announce_hold_time=False)
    with office(tmp_path, config=config) as app:
        other = ConfigStore(tmp_path / "db.sqlite", boards=board_ports)  # as `linebox config import` does
        try:
            other.save(with_support(config, strategy="linear"), source="import")
        finally:
            other.close()
        assert app.acd.core.queues["support"].strategy == "leastrecent"
        assert app.store.reload_if_changed() is not None
        run(app, 0.1)
        assert app.acd.core.queues["support"].strategy == "linear"
        assert app.store.reload_if_changed() is None  # nothing new
