"""Feature codes end to end on the virtual board: pickup (group, directed), do-not-disturb,
forwarding (always, busy, no answer, loops, hop limit, outside targets), persistence of
the settings in the configuration store across a restart, and configurable codes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from features_helpers import (
    LINE_1,
    LINE_2,
    VOICE_HZ,
    band_fraction,
    dial,
    extension,
    far_end_heard,
    hang_up,
    heard,
    hears,
    inbound_call,
    internal_call,
    office,
    records,
    run,
    sine,
    state,
    switch_events,
    talk,
    with_extensions,
)

from board.virtual.pstn import FarEnd
from firmware.config.demo import demo_config
from firmware.config.model import Destination, DestinationKind, InboundRoute, Security
from firmware.config.store import ConfigStore
from firmware.engine.calls import Call, Direction
from firmware.engine.features import MAX_FORWARD_HOPS
from linebox.storage import board_ports


def _confirmed(app, port: int) -> bool:
    """Three 100 ms bursts of 350+440 Hz (and nothing else) in the last second."""
    audio = heard(app, port, 1000)
    frames = audio[: len(audio) // 80 * 80].astype(np.float64).reshape(-1, 80)
    on = np.sqrt((frames**2).mean(axis=1)) > 300
    rises = int(np.count_nonzero(on[1:] & ~on[:-1]))
    return band_fraction(audio, 350) + band_fraction(audio, 440) > 0.9 and rises == 3 and 27 <= on.sum() <= 33


def _congestion(app, port: int) -> bool:
    """Reorder tone (US: 480+620 Hz like busy, at 250/250 ms: the player names it)."""
    audio = heard(app, port, 1000)
    return (state(app, port) == "failed" and app.switch.players.tone(port) == "congestion"
            and band_fraction(audio, 480) + band_fraction(audio, 620) > 0.9)


def _code(app, number: str, digits: str) -> None:
    """``number`` dials a feature code (100 ms a digit) and hears the answer tone."""
    dial(app, number, digits, seconds=0.1 * len(digits) + 0.9)


def test_group_pickup_answers_a_call_ringing_in_the_same_group(tmp_path):
    config = with_extensions(demo_config(), e202={"pickup_group": "sales"}, e203={"pickup_group": "sales"})
    with office(tmp_path, config=config) as app, switch_events() as events:
        internal_call(app, "201", "202", answer=False)
        _code(app, "204", "*8")  # 204 is in no pickup group
        assert _congestion(app, 5) and state(app, 3) == "ringing"
        _code(app, "203", "*8")
        assert state(app, 3) == "idle" and state(app, 4) == state(app, 2) == "connected"
        talk(app, 2)
        talk(app, 4)
        run(app, 1.0)
        assert hears(heard(app, 4), 2) > 0.9 and hears(heard(app, 2), 4) > 0.9
        assert events.named("pickup")[0]["feature"] == "group_pickup"
        hang_up(app, "201")
        (record,) = records(app)
    assert (record.dst, record.dst_port, record.disposition) == ("202", 4, "ANSWERED")


def test_directed_pickup_answers_the_named_extension(tmp_path):
    with office(tmp_path) as app:
        internal_call(app, "201", "203", answer=False)
        _code(app, "202", "**204#")  # 204 does not ring
        assert _congestion(app, 3)
        _code(app, "204", "**203#")
        assert state(app, 4) == "idle" and state(app, 5) == state(app, 2) == "connected"
        assert app.loop.mixer.bridged_pairs() == [(2, 5)]


def test_dnd_on_by_code_callers_hear_busy_then_off_again(tmp_path):
    with office(tmp_path) as app:
        _code(app, "202", "*78")
        assert _confirmed(app, 3) and extension(app, "202").dnd
        hang_up(app, "202")
        dial(app, "201", "202")
        busy = heard(app, 2, 1000)
        assert state(app, 2) == "failed" and band_fraction(busy, 480) + band_fraction(busy, 620) > 0.9
        assert state(app, 3) == "idle"
        hang_up(app, "201")
        _code(app, "202", "*79")
        assert _confirmed(app, 3) and not extension(app, "202").dnd
        hang_up(app, "202")
        internal_call(app, "201", "202", answer=False)
        app.extension_changes.drain()
        assert not app.store.load().extension("202").dnd
        (busy_record,) = records(app)
    assert busy_record.disposition == "BUSY" and busy_record.dst == "202"


def test_forward_always_rings_the_target_instead(tmp_path):
    with office(tmp_path) as app:
        _code(app, "202", "*72203#")
        assert _confirmed(app, 3) and extension(app, "202").forward.always == "203"
        hang_up(app, "202")
        dial(app, "201", "202")
        assert state(app, 3) == "idle" and state(app, 4) == "ringing"
        app.world.phone(4).offhook()
        run(app, 0.5)
        assert app.loop.mixer.bridged_pairs() == [(2, 4)]
        hang_up(app, "203")
        (record,) = records(app)
    assert (record.dst, record.dst_port, record.dst_extension) == ("202", 4, "203")


def test_forward_loop_stops_at_the_last_extension_reached(tmp_path):
    with office(tmp_path) as app, switch_events() as events:
        _code(app, "202", "*72203#")
        hang_up(app, "202")
        _code(app, "203", "*72202#")
        hang_up(app, "203")
        dial(app, "201", "202")  # 202 -> 203 -> (202 again): 203 rings
        assert state(app, 4) == "ringing" and state(app, 3) == "idle"
        (loop,) = events.named("forward_loop")
        assert loop["chain"] == "202>203>202"
        hang_up(app, "201")
        dial(app, "204", "203")  # 203 -> 202 -> (203 again): 202 rings
        assert state(app, 3) == "ringing" and state(app, 4) == "idle"


def test_forward_chain_follows_three_hops_and_no_more(tmp_path):
    config = with_extensions(demo_config(), e201={"forward": replace(demo_config().extensions[0].forward,
                                                                     always="202")},
                             e202={"forward": replace(demo_config().extensions[1].forward, always="203")},
                             e203={"forward": replace(demo_config().extensions[2].forward, always="204")})
    with office(tmp_path, config=config) as app, switch_events() as events:
        dial(app, "204", "201")  # 201 -> 202 -> 203 -> 204: three forwards, 204 is busy dialling
        assert len(events.named("forward")) == MAX_FORWARD_HOPS
        assert state(app, 5) == "failed" and app.switch.players.tone(5) == "busy"  # 204 called itself
        # A fourth forward is not followed (no fifth phone on the board: asked directly).
        call = Call(99, 2, Direction.INTERNAL, app.switch.tick)
        chain = ("201", "202", "203", "204")
        assert app.switch.features._forward_plan(call, extension(app, "204"), "201", chain, "always") is None
        assert events.named("forward_limit")[0]["chain"] == "201>202>203>204"


def test_forward_busy_only_when_busy(tmp_path):
    with office(tmp_path) as app:
        _code(app, "202", "*90204#")
        hang_up(app, "202")
        dial(app, "201", "202")
        assert state(app, 3) == "ringing" and state(app, 5) == "idle"  # not busy: it rings
        hang_up(app, "201")
        app.world.phone(3).offhook()  # 202 busy (dialling, so no call waiting)
        run(app, 0.3)
        dial(app, "201", "202")
        assert state(app, 5) == "ringing"


def test_forward_no_answer_after_the_configured_seconds(tmp_path):
    config = with_extensions(demo_config(), e202={"forward": replace(demo_config().extensions[1].forward,
                                                                     no_answer_s=5)})
    with office(tmp_path, config=config) as app:
        _code(app, "202", "*92204#")
        hang_up(app, "202")
        dial(app, "201", "202")
        assert state(app, 3) == "ringing"
        run(app, 3.5)
        assert state(app, 3) == "ringing" and state(app, 5) == "idle"  # ~4.5 s of 5
        run(app, 1.0)
        assert state(app, 3) == "idle" and state(app, 5) == "ringing"
        app.world.phone(5).offhook()
        run(app, 0.5)
        assert app.loop.mixer.bridged_pairs() == [(2, 5)]


def test_forward_to_an_outside_number_refused_without_trunk_to_trunk(tmp_path):
    with office(tmp_path) as app, switch_events() as events:
        _code(app, "202", "*7292125551234#", )
        assert _congestion(app, 3)
        (refusal,) = events.named("feature_refused")
        assert "trunk_to_trunk_allowed" in refusal["reason"]
        _code(app, "203", "*72203#")  # to itself
        assert _congestion(app, 4)
        app.extension_changes.drain()
        stored = app.store.load()
        assert stored.extension("202").forward.always == stored.extension("203").forward.always == ""
        assert extension(app, "202").forward.always == ""


def test_inbound_call_forwarded_outside_when_trunk_to_trunk_is_allowed(tmp_path):
    base = demo_config()
    config = replace(base, security=replace(Security(), trunk_to_trunk_allowed=True),
                     routes=(InboundRoute("all", Destination(DestinationKind.EXTENSION, "202")),))
    with office(tmp_path, config=config) as app, switch_events() as events:
        _code(app, "202", "*7292125551234#")
        assert _confirmed(app, 3)
        hang_up(app, "202")
        app.world.line(LINE_2).script_outgoing(outcome="answer", answer_after_ms=500, digits=10,
                                               far_end=FarEnd(np.tile(sine(VOICE_HZ[LINE_2]), 60)))
        inbound_call(app, LINE_1, seconds=12.0)
        assert state(app, LINE_1) == state(app, LINE_2) == "connected" and state(app, 3) == "idle"
        talk(app, LINE_1)
        run(app, 1.0)
        assert hears(far_end_heard(app, LINE_1), LINE_2) > 0.9 and hears(far_end_heard(app, LINE_2), LINE_1) > 0.9
        assert events.named("forward")[0]["target"] == "92125551234"


def test_settings_persist_across_a_restart(tmp_path):
    with office(tmp_path) as app:
        _code(app, "202", "*78")
        hang_up(app, "202")
        _code(app, "202", "*90204#")
        hang_up(app, "202")
        app.extension_changes.drain()
        stored = app.store.load().extension("202")
        assert stored.dnd and stored.forward.busy == "204"
    with office(tmp_path) as app:  # a new appliance on the same database: the stored snapshot
        assert extension(app, "202").dnd and extension(app, "202").forward.busy == "204"
        dial(app, "201", "202")  # DND: busy, so forward-busy applies
        assert state(app, 3) == "idle" and state(app, 5) == "ringing"
        hang_up(app, "201")
        _code(app, "202", "*73")  # cancel forwarding
        hang_up(app, "202")
        _code(app, "202", "*79")
        app.extension_changes.drain()
        stored = app.store.load().extension("202")
        assert not stored.dnd and stored.forward.busy == ""


def test_feature_codes_are_configurable(tmp_path):
    with office(tmp_path) as app:
        app.store.update(lambda config: replace(config, feature_codes=replace(config.feature_codes, dnd_on="*55")))
        run(app, 0.1)  # the store's subscriber hands the new snapshot to the switch through the loop
        _code(app, "202", "*78")  # the old code is nothing now
        assert _congestion(app, 3) and not extension(app, "202").dnd
        hang_up(app, "202")
        _code(app, "202", "*55")
        assert _confirmed(app, 3) and extension(app, "202").dnd
        app.extension_changes.drain()
        assert app.store.load().extension("202").dnd


def test_forward_to_a_number_the_extension_may_not_dial_is_refused(tmp_path):
    config = replace(demo_config(), security=replace(Security(), trunk_to_trunk_allowed=True))
    with office(tmp_path, config=config) as app, switch_events() as events:
        _code(app, "203", "*72912125551234#")  # 203 is local-only; 1-212-... is national
        assert _congestion(app, 4)
        (refusal,) = events.named("feature_refused")
        assert "national" in refusal["reason"] and "local" in refusal["reason"]
        hang_up(app, "203")
        _code(app, "204", "*72912125551234#")  # 204 may dial international: accepted
        assert _confirmed(app, 5) and extension(app, "204").forward.always == "912125551234"
        app.extension_changes.drain()
        assert app.store.load().extension("204").forward.always == "912125551234"
        assert app.store.load().extension("203").forward.always == ""


def test_a_setting_the_store_refuses_is_taken_back(tmp_path):
    """The switch confirms at once; if the store then refuses (here: another process removed the
    target meanwhile), the stored snapshot goes back into the switch."""
    with office(tmp_path) as app, switch_events("features") as events:
        other = ConfigStore(tmp_path / "db.sqlite", boards=board_ports)  # e.g. `linebox config import`
        other.update(lambda c: replace(c, extensions=c.extensions[:3],
                                       ring_groups=(replace(c.ring_groups[0], members=("201", "202", "203")),),
                                       agents=tuple(a for a in c.agents if a.extension != "204")))
        other.close()
        assert extension(app, "204") is not None  # the running switch has not heard of it yet
        _code(app, "202", "*72204#")
        assert _confirmed(app, 3)
        app.extension_changes.drain()
        run(app, 0.1)
        (failure,) = events.named("extension_change_failed")
        assert "204" in failure["error"]
        assert extension(app, "202").forward.always == "" and extension(app, "204") is None
        assert app.store.load().extension("202").forward.always == ""
