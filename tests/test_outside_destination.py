"""Destinations of kind ``outside``: an inbound caller sent out on another line.

Configuration: accepted in every place a destination appears (routes, ring-group no
answer, queue overflow and exit), refused without trunk-to-trunk, for emergency, internal,
unknown and (without allow_premium) premium numbers, for malformed digits; exported,
imported and stored unchanged; mapped to the ACD core and back. Engine (the virtual
board rig of tests/features_helpers.py): a call on line 1 routed outside seizes line 2,
the exchange receives the number, both sides hear each other and the call record names
the number; refused at run time when trunk-to-trunk has been switched off meanwhile.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from config_helpers import demo, demo_data, lookup, open_store, outcome, setting
from features_helpers import (
    LINE_1,
    LINE_2,
    PORT,
    VOICE_HZ,
    band_fraction,
    far_end_heard,
    hears,
    inbound_call,
    office,
    records,
    run,
    sine,
    state,
    switch_events,
    talk,
)

from board.virtual.pstn import FarEnd
from firmware import FirmwareError
from firmware.acd.model import Destination as AcdDestination
from firmware.acd.model import DestinationKind as AcdKind
from firmware.cdr import Disposition
from firmware.config import from_dict, from_yaml, to_dict, to_yaml, validate
from firmware.config.acd import OUTSIDE_TARGET, acd_config, acd_destination, config_destination
from firmware.config.model import Destination, DestinationKind, InboundRoute, RingGroup, Zone
from firmware.config.outside import may_send_outside
from firmware.tollguard import NumberClass

MOBILE = "912125551234"  # the outside prefix 9 and a national number (1 + NPA + number)
SENT = "12125551234"  # what goes to the line
OUTSIDE = {"kind": "outside", "name": MOBILE}
T2T = setting("security.trunk_to_trunk_allowed", True)
T2T_WHY = "needs security.trunk_to_trunk_allowed (an inbound call sent to an outside number joins two exchange lines)"

# Every place a destination can appear, as (path, mutation of the demo's YAML form).
PLACES = {
    "routes[0].destination": lambda data, d: data["routes"][0].update(destination=d),
    "ring_groups[0].no_answer": lambda data, d: data["ring_groups"][0].update(no_answer=d),
    "queues[0].overflow": lambda data, d: data["queues"][0].update(overflow=d),
    "queues[0].exit_destination": lambda data, d: data["queues"][0].update(exit_key="0", exit_destination=d),
}


def with_destination(path: str, destination: dict, trunk_to_trunk: bool = True, **security) -> dict:
    data = demo_data()
    PLACES[path](data, destination)
    data["security"].update(trunk_to_trunk_allowed=trunk_to_trunk, **security)
    return data


def at(config, path: str) -> Destination:
    return {
        "routes[0].destination": lambda: config.routes[0].destination,
        "ring_groups[0].no_answer": lambda: config.ring_groups[0].no_answer,
        "queues[0].overflow": lambda: config.queues[0].overflow,
        "queues[0].exit_destination": lambda: config.queues[0].exit_destination,
    }[path]()


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize("path", PLACES)
def test_every_place_accepts_an_outside_number_with_trunk_to_trunk(path):
    config = validate(from_dict(with_destination(path, OUTSIDE)), lookup)
    assert at(config, path) == Destination(DestinationKind.OUTSIDE, MOBILE)


@pytest.mark.parametrize("path", PLACES)
def test_every_place_refuses_an_outside_number_without_trunk_to_trunk(path):
    assert outcome(with_destination(path, OUTSIDE, trunk_to_trunk=False)) == f"{path}: outside {MOBILE} {T2T_WHY}"


def test_the_default_security_refuses_it():
    data = demo_data()
    data["routes"][0]["destination"] = OUTSIDE
    assert outcome(data) == f"routes[0].destination: outside {MOBILE} {T2T_WHY}"
    T2T(data)
    assert outcome(data) == ""


@pytest.mark.parametrize("number, fragment", [
    ("9911", "outside 9911: 911 is an emergency number in zone us: never a destination"),
    ("911", "outside 911: 911 is an emergency number in zone us: never a destination"),
    ("201", "outside 201: 201 is an internal number: use an extension or ring_group destination"),
    ("600", "outside 600: 600 is an internal number"),
    ("12125551234", "'12125551234' does not start with the outside-line prefix 9"),
    ("9", "outside 9: no number follows the outside-line prefix 9"),
    ("91234", "'1234' is not a valid number in zone us"),
    ("919005551234", "19005551234 is a premium-rate number and security.allow_premium is off"),
])
@pytest.mark.parametrize("path", PLACES)
def test_numbers_the_toll_guard_refuses_are_no_destination(path, number, fragment):
    message = outcome(with_destination(path, {"kind": "outside", "name": number}))
    assert message.startswith(f"{path}: outside {number}") and fragment in message


@pytest.mark.parametrize("zone, prefix, number", [
    ("uk", "0", "0999"), ("uk", "0", "0112"), ("au", "9", "9000"), ("au", "9", "000"), ("de", "0", "0110"), ("fr", "0", "015"),
])
def test_emergency_numbers_of_other_zones_are_refused(zone, prefix, number):
    data = with_destination("routes[0].destination", {"kind": "outside", "name": number})
    data["zone"] = zone
    data["dialplan"]["outside_prefix"] = prefix
    data["dialplan"]["maps"] = {"internal": "[1-8]xx"}
    message = outcome(data)
    assert message.startswith(f"routes[0].destination: outside {number}: ") and "emergency number" in message


@pytest.mark.parametrize("number, allowed, number_class", [
    ("95551234", True, NumberClass.LOCAL),  # 7 digits
    (MOBILE, True, NumberClass.NATIONAL),
    ("9011442071234567", True, NumberClass.INTERNATIONAL),
    ("918765550123", True, NumberClass.INTERNATIONAL),  # a Caribbean NPA
    ("919005551234", False, NumberClass.PREMIUM),
    ("9911", False, NumberClass.EMERGENCY),
    ("202", False, NumberClass.INTERNAL),
    ("5551234", False, NumberClass.UNKNOWN),  # no prefix
])
def test_the_toll_guard_verdict_on_a_destination(number, allowed, number_class):
    """No extension dials: every class but premium is allowed, whatever the after-hours cap."""
    config = replace(demo(), security=replace(demo().security, trunk_to_trunk_allowed=True))
    decision = may_send_outside(config, number)
    assert (decision.allowed, decision.number_class) == (allowed, number_class), decision.reason
    if allowed:
        assert decision.number == number[1:]  # without the outside prefix


def test_premium_needs_allow_premium():
    data = with_destination("routes[0].destination", {"kind": "outside", "name": "919005551234"}, allow_premium=True)
    assert outcome(data) == ""
    config = validate(from_dict(data), lookup)
    assert may_send_outside(config, "919005551234").number_class is NumberClass.PREMIUM


def test_a_zone_without_a_prefix_takes_the_number_as_it_is():
    data = with_destination("routes[0].destination", {"kind": "outside", "name": "02125551234"})
    data["dialplan"]["outside_prefix"] = ""
    assert outcome(data) == ""  # 0 + 10 digits: operator-assisted national, US
    data = with_destination("routes[0].destination", {"kind": "outside", "name": "911"})
    data["dialplan"]["outside_prefix"] = ""
    assert "emergency number" in outcome(data)


def test_without_lines_there_is_nowhere_to_send_the_call():
    data = with_destination("routes[0].destination", OUTSIDE)
    data["lines"] = []
    data["routes"] = [{"name": "all", "destination": OUTSIDE}]  # routes naming lines would fail first
    assert outcome(data) == (f"routes[0].destination: outside {MOBILE}: no lines are configured "
                             "(the call would have no line to leave on)")


@pytest.mark.parametrize("name, fragment", [
    ("9-212-555-1234", "is not an outside number (digits only, 1-22, outside prefix included)"),
    ("9 2125551234", "is not an outside number"),
    ("", "is not an outside number"),
    ("*72", "is not an outside number"),
    ("9" * 23, "is not an outside number"),
    ("٩١٢١٢٥٥٥١٢٣٤", "is not an outside number"),  # Arabic-Indic digits are digits to str.isdigit
    (912125551234, "expected text, got 912125551234"),
])
def test_malformed_numbers_are_refused_by_the_codec(name, fragment):
    message = outcome(with_destination("ring_groups[0].no_answer", {"kind": "outside", "name": name}))
    assert message.startswith("ring_groups[0].no_answer.name: ") and fragment in message


def test_the_longest_number_fits():
    """A prefix of 2 digits and the toll guard's 20 digits: 22 digits pass the codec."""
    longest = "99" + "011" + "4" * 17
    assert len(longest) == 22
    data = with_destination("routes[0].destination", {"kind": "outside", "name": longest})
    data["dialplan"]["outside_prefix"] = "99"
    assert outcome(data) == ""  # 011 + 17 digits: 20 digits, international
    data["routes"][0]["destination"]["name"] = longest + "4"
    assert outcome(data).startswith("routes[0].destination.name: ")


def test_a_refused_configuration_changes_nothing_in_the_store(tmp_path):
    with open_store(tmp_path / "db.sqlite") as store:
        before = store.save(demo())
        version = store.config_version()
        bad = replace(before, routes=(InboundRoute("mobile", Destination(DestinationKind.OUTSIDE, MOBILE)),))
        with pytest.raises(FirmwareError, match=r"^routes\[0\]\.destination: outside 912125551234 needs"):
            store.update(lambda config: bad)
        assert store.load() == before and store.config_version() == version


# ---------------------------------------------------------------------------- export, import, storage
def outside_everywhere() -> dict:
    data = demo_data()
    T2T(data)
    data["routes"][0]["destination"] = OUTSIDE
    data["ring_groups"][0]["no_answer"] = {"kind": "outside", "name": "95551234"}
    data["queues"][0].update(overflow={"kind": "outside", "name": "9011442071234567"}, exit_key="#",
                             exit_destination={"kind": "outside", "name": MOBILE})
    return data


def test_yaml_round_trip():
    config = validate(from_dict(outside_everywhere()), lookup)
    text = to_yaml(config)
    assert "kind: outside" in text and f"name: '{MOBILE}'" in text  # quoted: digits stay text
    assert from_yaml(text) == config
    assert to_dict(from_dict(to_dict(config))) == to_dict(config)


def test_a_number_with_a_leading_zero_survives_yaml():
    data = with_destination("routes[0].destination", {"kind": "outside", "name": "02125551234"})
    data["dialplan"]["outside_prefix"] = ""
    config = validate(from_dict(data), lookup)
    assert from_yaml(to_yaml(config)).routes[0].destination.name == "02125551234"


def test_sqlite_round_trip(tmp_path):
    config = validate(from_dict(outside_everywhere()), lookup)
    with open_store(tmp_path / "db.sqlite") as store:
        store.save(config)
    with open_store(tmp_path / "db.sqlite") as store:
        loaded = store.load()
    assert loaded == config
    assert loaded.queues[0].overflow == Destination(DestinationKind.OUTSIDE, "9011442071234567")


# ---------------------------------------------------------------------------- the ACD core
def test_outside_goes_to_the_core_as_a_marked_number_and_back():
    outside = Destination(DestinationKind.OUTSIDE, MOBILE)
    core = acd_destination(outside)
    assert core == AcdDestination(AcdKind.NUMBER, OUTSIDE_TARGET + MOBILE)
    assert config_destination(core) == outside
    extension = acd_destination(Destination(DestinationKind.EXTENSION, "202"))
    assert extension == AcdDestination(AcdKind.NUMBER, "202")  # extensions keep their plain number
    assert config_destination(extension) == Destination(DestinationKind.EXTENSION, "202")


def test_queue_destinations_reach_the_core():
    core = acd_config(validate(from_dict(outside_everywhere()), lookup))
    (support,) = core.queues
    assert support.timeout_destination == support.empty_destination == AcdDestination(
        AcdKind.NUMBER, "outside:9011442071234567")
    assert support.exit_keys == {"#": AcdDestination(AcdKind.NUMBER, f"outside:{MOBILE}")}
    assert config_destination(support.exit_keys["#"]) == Destination(DestinationKind.OUTSIDE, MOBILE)


def test_a_marked_number_without_digits_is_refused():
    with pytest.raises(FirmwareError, match="names no outside number"):
        config_destination(AcdDestination(AcdKind.NUMBER, OUTSIDE_TARGET))


# ---------------------------------------------------------------------------- the engine
def routed_outside(trunk_to_trunk: bool = True):
    base = demo()
    return replace(base, security=replace(base.security, trunk_to_trunk_allowed=trunk_to_trunk),
                   routes=(InboundRoute("mobile", Destination(DestinationKind.OUTSIDE, MOBILE)),))


def answers_on_line_2(app) -> None:
    app.world.line(LINE_2).script_outgoing(outcome="answer", answer_after_ms=500, digits=len(SENT),
                                           far_end=FarEnd(np.tile(sine(VOICE_HZ[LINE_2]), 60)))


def test_inbound_call_routed_to_an_outside_number_goes_out_on_the_other_line(tmp_path):
    with office(tmp_path, config=routed_outside()) as app, switch_events() as events:
        answers_on_line_2(app)
        inbound_call(app, LINE_1, seconds=12.0)
        assert app.world.line(LINE_2).dialled == SENT  # the exchange got the number, no prefix
        assert state(app, LINE_1) == state(app, LINE_2) == "connected"
        assert all(state(app, port) == "idle" for port in PORT.values())  # no phone involved
        talk(app, LINE_1)
        run(app, 1.0)
        assert hears(far_end_heard(app, LINE_1), LINE_2) > 0.9  # the caller hears the mobile
        assert hears(far_end_heard(app, LINE_2), LINE_1) > 0.9  # and the mobile the caller
        (selection,) = events.named("line_selection")
        assert selection["group"] == "main" and selection["line"] == LINE_2
        (seize,) = events.named("seize")
        assert seize["line"] == LINE_2 and seize["number"] == SENT
        assert not events.named("destination_refused")
        app.world.line(LINE_2).far_end_hangup()
        run(app, 2.0)
        assert state(app, LINE_1) == state(app, LINE_2) == "idle"
        (record,) = records(app)
        assert record.dst == SENT and record.src_port == LINE_1 and record.dst_port == LINE_2
        assert record.disposition == Disposition.ANSWERED and record.context == "inbound"
        assert record.caller_number == "2125557788"


def test_the_caller_hears_ringback_while_the_box_dials(tmp_path):
    with office(tmp_path, config=routed_outside()) as app:
        app.world.line(LINE_2).script_outgoing(outcome="no_answer", digits=len(SENT))
        inbound_call(app, LINE_1, seconds=5.5)
        assert state(app, LINE_2) in ("seizing", "dialing_out")
        audio = far_end_heard(app, LINE_1, 1000)
        assert app.switch.players.tone(LINE_1) == "ringback"
        assert band_fraction(audio, 440) + band_fraction(audio, 480) > 0.5


def test_refused_at_run_time_when_trunk_to_trunk_was_switched_off(tmp_path):
    with office(tmp_path, config=routed_outside()) as app, switch_events() as events:
        snapshot = app.switch.config
        app.switch.apply_config(replace(snapshot, security=replace(snapshot.security, trunk_to_trunk_allowed=False)))
        answers_on_line_2(app)
        inbound_call(app, LINE_1, seconds=7.0)
        (refused,) = events.named("destination_refused")
        assert refused["destination"] == f"outside {MOBILE}" and "trunk_to_trunk_allowed" in refused["reason"]
        assert not events.named("seize") and app.world.line(LINE_2).dialled == ""
        assert state(app, LINE_2) == "idle"
        assert state(app, LINE_1) == "failed" and app.switch.players.tone(LINE_1) == "congestion"
        run(app, 5.0)  # the caller hears congestion for a while, then the line is released
        assert state(app, LINE_1) == "idle"
        (record,) = records(app)
        assert record.dst == SENT and record.disposition == Disposition.FAILED
        assert record.hangup_cause == "destination_refused"


def test_refused_at_run_time_when_the_number_became_premium_only(tmp_path):
    """A snapshot built in Python (never validated) naming a premium number: refused by the toll guard."""
    with office(tmp_path, config=routed_outside()) as app, switch_events() as events:
        premium = Destination(DestinationKind.OUTSIDE, "919005551234")
        app.switch.apply_config(replace(app.switch.config, routes=(InboundRoute("p", premium),)))
        inbound_call(app, LINE_1, seconds=7.0)
        (refused,) = events.named("destination_refused")
        assert "premium" in refused["reason"] and not events.named("seize")
        assert state(app, LINE_1) == "failed"


def test_no_free_line_means_congestion(tmp_path):
    with office(tmp_path, config=routed_outside()) as app, switch_events() as events:
        app.switch.set_in_service(LINE_2, False)
        inbound_call(app, LINE_1, seconds=7.0)
        (selection,) = events.named("line_selection")
        assert selection["line"] is None and "out of service" in selection["why"]
        assert state(app, LINE_1) == "failed" and app.switch.players.tone(LINE_1) == "congestion"
        run(app, 5.0)
        (record,) = records(app)
        assert record.hangup_cause == "no_circuit_available" and record.dst == SENT


def test_unanswered_ring_group_sends_the_caller_outside(tmp_path):
    base = routed_outside()
    group = RingGroup(name="sales", number="610", members=("202", "203"), ring_s=5,
                      no_answer=Destination(DestinationKind.OUTSIDE, MOBILE))
    config = replace(base, ring_groups=(*base.ring_groups, group),
                     routes=(InboundRoute("all", Destination(DestinationKind.RING_GROUP, "sales")),))
    with office(tmp_path, config=config) as app, switch_events() as events:
        answers_on_line_2(app)
        inbound_call(app, LINE_1, seconds=7.0)
        assert [state(app, PORT[n]) for n in ("202", "203")] == ["ringing", "ringing"]
        run(app, 9.0)  # past the group's 5 s, then dialling
        (moved,) = events.named("ring_group_no_answer")
        assert moved["destination"] == f"outside {MOBILE}"
        assert [state(app, PORT[n]) for n in ("202", "203")] == ["idle", "idle"]
        assert app.world.line(LINE_2).dialled == SENT
        assert state(app, LINE_1) == state(app, LINE_2) == "connected"
        talk(app, LINE_1)
        run(app, 1.0)
        assert hears(far_end_heard(app, LINE_1), LINE_2) > 0.9 and hears(far_end_heard(app, LINE_2), LINE_1) > 0.9


def test_other_zones_config_is_checked_with_the_zone_table():
    """The same number is national in the US and unknown in Germany (prefix 0 there)."""
    config = replace(routed_outside(), zone=Zone.DE)
    assert not may_send_outside(config, MOBILE).allowed
