"""Inbound routing decisions and their explanations, from a table."""

import datetime as dt

import pytest
from config_helpers import demo, replace, utc

from firmware import FirmwareError
from firmware.config import Destination, DestinationKind, InboundRoute, RouteWhen
from firmware.routing import route_inbound

EXT, GROUP, HANGUP = DestinationKind.EXTENSION, DestinationKind.RING_GROUP, DestinationKind.HANGUP
OPEN = "2026-03-02 15:00"     # Monday 10:00 in New York
CLOSED = "2026-03-02 23:00"   # Monday 18:00 in New York
WEEKEND = "2026-03-07 15:00"  # Saturday 10:00


def routed_config():
    routes = (
        InboundRoute("vip", Destination(EXT, "204"), caller_id="1212555xxxx"),
        InboundRoute("blocked", Destination(HANGUP), line=1, caller_id="withheld"),
        InboundRoute("line 2 support", Destination(EXT, "203"), line=1, schedule="office"),
    ) + demo().routes[1:]  # the demo's business-hours and after-hours routes (not its voice menu)
    return replace(demo(), routes=routes)


@pytest.mark.parametrize("line,caller,when,kind,name,route", [
    (0, "12125551234", OPEN, EXT, "204", "vip"),
    (0, "12125551234", CLOSED, EXT, "204", "vip"),
    (1, "+1 (212) 555-1234", WEEKEND, EXT, "204", "vip"),
    (1, None, OPEN, HANGUP, "", "blocked"),
    (1, "", CLOSED, HANGUP, "", "blocked"),
    (1, "5551234", OPEN, EXT, "203", "line 2 support"),
    (1, "5551234", WEEKEND, EXT, "201", "after hours"),
    (0, "5551234", OPEN, GROUP, "office", "business hours"),
    (0, None, OPEN, GROUP, "office", "business hours"),
    (0, None, CLOSED, EXT, "201", "after hours"),
    (0, "121255512345", CLOSED, EXT, "201", "after hours"),  # one digit too many for the vip pattern
    (3, "5551234", OPEN, HANGUP, "", None),                   # an FXS port is not a line
    (9, "5551234", OPEN, HANGUP, "", None),
])
def test_route_table(line, caller, when, kind, name, route):
    decision = route_inbound(routed_config(), line, caller, utc(when))
    assert decision.destination == Destination(kind, name)
    assert decision.route == route


def test_explanation_lists_each_route_considered_and_why():
    decision = route_inbound(routed_config(), 1, "5551234", utc(WEEKEND))
    assert decision.explanation == (
        "call on port 1 (Line 2) from 5551234 at 2026-03-07T15:00+00:00",
        "routes[0] 'vip': line any: yes; caller ID 1212555xxxx wanted, got 5551234: no; time any: yes => skipped",
        "routes[1] 'blocked': line 1 wanted: yes; caller ID withheld wanted, got 5551234: no; time any: yes"
        " => skipped",
        "routes[2] 'line 2 support': line 1 wanted: yes; caller ID any: yes; schedule office open wanted, closed:"
        " Sat 2026-03-07 10:00 America/New_York is outside sat hours (closed all day): no => skipped",
        "routes[3] 'business hours': line any: yes; caller ID any: yes; schedule office open wanted, closed:"
        " Sat 2026-03-07 10:00 America/New_York is outside sat hours (closed all day): no => skipped",
        "routes[4] 'after hours': line any: yes; caller ID any: yes; schedule office closed wanted, closed:"
        " Sat 2026-03-07 10:00 America/New_York is outside sat hours (closed all day): yes"
        " => match -> extension 201",
    )
    assert decision.explain().count("\n") == 5


def test_no_route_matching_refuses_the_call_and_says_so():
    only_open = replace(demo(), routes=demo().routes[:1])
    decision = route_inbound(only_open, 0, "5551234", utc(CLOSED))
    assert decision.destination == Destination(HANGUP) and decision.route is None
    assert decision.explanation[-1] == "no route matched: refused (hangup)"
    assert len(decision.explanation) == 3


@pytest.mark.parametrize("caller,when,destination", [
    ("2125552001", OPEN, Destination(DestinationKind.IVR, "main")),
    ("2125552999", CLOSED, Destination(DestinationKind.IVR, "main")),  # the flow itself knows the hours
    ("2125553001", OPEN, Destination(GROUP, "office")),
    ("21255520011", OPEN, Destination(GROUP, "office")),
])
def test_the_demo_sends_212_555_2xxx_to_its_voice_menu(caller, when, destination):
    assert route_inbound(demo(), 0, caller, utc(when)).destination == destination


def test_unconfigured_port_is_explained():
    decision = route_inbound(demo(), 4, "5551234", utc(OPEN))
    assert decision.explanation[-1] == "port 4 is not a configured line: refused"


def test_notes_for_an_extension_with_dnd_or_forwarding():
    config = demo()
    reception = replace(config.extensions[0], dnd=True, forward=replace(config.extensions[0].forward, always="202"))
    config = replace(config, extensions=(reception,) + config.extensions[1:])
    decision = route_inbound(config, 0, None, utc(CLOSED))
    assert decision.explanation[-2:] == ("note: extension 201 has do-not-disturb on",
                                         "note: extension 201 forwards all calls to 202")


def test_route_when_closed_without_schedule_never_matches_in_a_hand_built_config():
    """Validation refuses it; routing still does not crash on it."""
    config = replace(demo(), routes=(InboundRoute("odd", Destination(EXT, "202"), schedule="nope",
                                                  when=RouteWhen.CLOSED),))
    decision = route_inbound(config, 0, None, utc(OPEN))
    assert decision.route is None
    assert "schedule nope does not exist: no" in decision.explanation[1]


def test_naive_time_is_refused():
    with pytest.raises(FirmwareError, match="aware datetime"):
        route_inbound(demo(), 0, None, dt.datetime(2026, 3, 2, 10, 0))
