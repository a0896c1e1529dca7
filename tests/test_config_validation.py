"""Every configuration field, good and bad: each refusal is one line that starts with the field's path."""

import copy
from pathlib import Path

import pytest
from config_helpers import BIG, DELETE, demo, demo_data, lookup, outcome, setting, several

from firmware.config import (
    CallerIdStandard,
    DestinationKind,
    DisconnectMethod,
    Zone,
    from_dict,
    from_yaml,
    to_dict,
    validate,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


ROUTE_TO = {"kind": "extension", "name": "299"}

BAD = [
    # path the message must start with, mutation, fragment the message must contain
    ("colour", setting("colour", "blue"), "unknown key (known: board, zone"),
    ("linebox_config", setting("linebox_config", 2), "this firmware reads format 1"),
    ("board", setting("board", DELETE), "missing (required)"),
    ("board", setting("board", "Virtual Board"), "is not a board name"),
    ("board", setting("board", "nosuch"), "unknown board 'nosuch'"),
    ("zone", setting("zone", DELETE), "missing (required)"),
    ("zone", setting("zone", "xx"), "expected one of us, ca, uk, de, fr, es, it, pt, nl, gr, mx, co, ar, cl, br, au"),
    ("zone", setting("zone", 1), "expected one of"),
    ("language", setting("language", "english"), "is not a language code"),
    ("language", setting("language", "EN"), "is not a language code"),
    ("caller_id_standard", setting("caller_id_standard", "fsk"), "expected one of bell202, v23, v23_bt, dtmf"),
    ("lines", setting("lines", "Line 1"), "expected a list"),
    ("lines", setting("lines", [{"port": p, "name": "x"} for p in range(65)]), "at most 64 entries"),
    ("lines[0]", setting("lines[0]", "Line 1"), "expected a mapping"),
    ("lines[0].prot", setting("lines[0].prot", 0), "unknown key"),
    ("lines[0].port", setting("lines[0].port", DELETE), "missing (required)"),
    ("lines[0].port", setting("lines[0].port", "0"), "expected an integer 0-63, got '0'"),
    ("lines[0].port", setting("lines[0].port", 64), "expected an integer 0-63"),
    ("lines[0].port", setting("lines[0].port", -1), "expected an integer 0-63"),
    ("lines[0].port", setting("lines[0].port", True), "expected an integer 0-63"),
    ("lines[0].port", setting("lines[0].port", 1.0), "expected an integer 0-63"),
    ("lines[0].port", setting("lines[0].port", 9), "port 9 does not exist on board virtual (ports 0-5)"),
    ("lines[0].port", setting("lines[0].port", 3), "port 3 is FXS, not FXO, on board virtual"),
    ("lines[1].port", setting("lines[1].port", 0), "port 0 is already used by lines[0]"),
    ("lines[0].name", setting("lines[0].name", DELETE), "missing (required)"),
    ("lines[0].name", setting("lines[0].name", ""), "expected 1-40 printable characters"),
    ("lines[0].name", setting("lines[0].name", "x" * 41), "expected 1-40 printable characters"),
    ("lines[0].name", setting("lines[0].name", " Line"), "without leading or trailing spaces"),
    ("lines[0].name", setting("lines[0].name", "a\tb"), "printable"),
    ("lines[0].name", setting("lines[0].name", 7), "expected text, got 7"),
    ("lines[0].number", setting("lines[0].number", "555-1234"), "is not a phone number of 1-20 digits"),
    ("lines[0].number", setting("lines[0].number", "1" * 21), "is not a phone number"),
    ("lines[0].number", setting("lines[0].number", 5551234), "expected text"),
    ("lines[0].disconnect", setting("lines[0].disconnect", []), "at least one disconnect supervision method"),
    ("lines[0].disconnect", setting("lines[0].disconnect", "busy_tone"), "expected a list"),
    ("lines[0].disconnect[0]", setting("lines[0].disconnect", ["hangup"]), "expected one of polarity_reversal"),
    ("lines[0].disconnect[1]", setting("lines[0].disconnect", ["busy_tone", "busy_tone"]), "listed twice"),
    ("lines[0].silence_timeout_s", setting("lines[0].silence_timeout_s", 9), "expected an integer 10-3600"),
    ("lines[0].silence_timeout_s", setting("lines[0].silence_timeout_s", 3601), "expected an integer 10-3600"),
    ("lines[0].answer_by_polarity_reversal", setting("lines[0].answer_by_polarity_reversal", "yes"),
     "expected true or false"),
    ("lines[0].answer_by_polarity_reversal", setting("lines[0].answer_by_polarity_reversal", 1),
     "expected true or false"),
    ("lines[0].echo_canceller", setting("lines[0].echo_canceller", "off"), "expected true or false"),
    ("lines[0].echo_canceller", setting("lines[0].echo_canceller", 0), "expected true or false"),
    ("lines[0].pre_dial_hold_ms", setting("lines[0].pre_dial_hold_ms", -1), "expected an integer 0-10000"),
    ("lines[0].pre_dial_hold_ms", setting("lines[0].pre_dial_hold_ms", 10001), "expected an integer 0-10000"),
    ("lines[0].pre_dial_hold_ms", setting("lines[0].pre_dial_hold_ms", 500.5), "expected an integer 0-10000"),
    ("lines[0].pre_dial_hold_ms", setting("lines[0].pre_dial_hold_ms", True), "expected an integer 0-10000"),
    ("lines[0].pre_dial_hold_ms", setting("lines[0].pre_dial_hold_ms", "500"), "expected an integer 0-10000"),
    ("lines[0].language", setting("lines[0].language", "english"), "a language code like en or pt_BR"),
    ("lines[0].language", setting("lines[0].language", "EN"), "a language code like en or pt_BR"),
    ("lines[0].language", setting("lines[0].language", 5), "expected text, got 5"),
    ("routes[0].language", setting("routes[0].language", "es-MX"), "a language code like en or pt_BR"),
    ("routes[0].language", setting("routes[0].language", ""), "a language code like en or pt_BR"),
    ("lines[0].dialling", setting("lines[0].dialling", "rotary"), "expected one of dtmf, pulse"),
    ("lines[0].group", setting("lines[0].group", "main group"), "is not a name"),
    ("lines[0].group", setting("lines[0].group", ""), "is not a name"),
    ("extensions[2].port", setting("extensions[2].port", 9), "port 9 does not exist on board virtual (ports 0-5)"),
    ("extensions[0].port", setting("extensions[0].port", 0), "port 0 is FXO, not FXS, on board virtual"),
    ("extensions[1].port", setting("extensions[1].port", 2), "port 2 is already used by extensions[0]"),
    ("extensions[0].port", setting("extensions[0].port", DELETE), "missing (required)"),
    ("extensions[0].number", setting("extensions[0].number", DELETE), "missing (required)"),
    ("extensions[0].number", setting("extensions[0].number", "0201"), "is not an extension number"),
    ("extensions[0].number", setting("extensions[0].number", "2"), "is not an extension number"),
    ("extensions[0].number", setting("extensions[0].number", "1234567"), "is not an extension number"),
    ("extensions[0].number", setting("extensions[0].number", 201), "expected text"),
    ("extensions[1].number", setting("extensions[1].number", "201"), "number 201 is already used by extensions[0]"),
    ("extensions[0].number", setting("extensions[0].number", "911"), "collides with the emergency number 911"),
    ("extensions[0].number", setting("extensions[0].number", "91"), "collides with the emergency number 911"),
    ("extensions[0].number", setting("extensions[0].number", "950"), "starts with the outside-line prefix 9"),
    ("extensions[0].number", setting("extensions[0].number", "2011"),
     "2011 does not match the internal digit map '[1-8]xx' (dialplan.maps.internal)"),
    ("extensions[0].name", setting("extensions[0].name", "x" * 41), "expected 1-40 printable characters"),
    ("extensions[0].outbound_class", setting("extensions[0].outbound_class", "world"),
     "expected one of internal, local, national, international"),
    ("extensions[0].outbound_class", setting("extensions[0].outbound_class", "premium"), "expected one of"),
    ("extensions[1].trunk_group", setting("extensions[1].trunk_group", "sales"),
     'no line is in trunk group "sales" (groups: main)'),
    ("extensions[3].trunk_group",
     several(setting("lines[1].group", "sales"), setting("extensions[3].trunk_group", "Sales")),
     'no line is in trunk group "Sales" (groups: main, sales)'),
    ("extensions[0].trunk_group", several(setting("lines", []), setting("extensions[0].trunk_group", "main")),
     'no line is in trunk group "main" (no lines are configured)'),
    ("extensions[0].trunk_group", setting("extensions[0].trunk_group", "sales team"), "is not a trunk group name"),
    ("extensions[0].trunk_group", setting("extensions[0].trunk_group", "x" * 33), "is not a trunk group name"),
    ("extensions[0].trunk_group", setting("extensions[0].trunk_group", None), "expected text"),
    ("extensions[0].trunk_group", setting("extensions[0].trunk_group", 5), "expected text, got 5"),
    ("extensions[0].dnd", setting("extensions[0].dnd", 1), "expected true or false"),
    ("extensions[0].forward", setting("extensions[0].forward", "202"), "expected a mapping"),
    ("extensions[0].forward.target", setting("extensions[0].forward.target", "202"), "unknown key"),
    ("extensions[0].forward.always", setting("extensions[0].forward.always", "abc"), "is not a number of 1-20"),
    ("extensions[0].forward.always", setting("extensions[0].forward.always", "201"),
     "an extension cannot forward to itself"),
    ("extensions[0].forward.busy", setting("extensions[0].forward.busy", "95551234"),
     "forwarding to the outside number 95551234 needs security.trunk_to_trunk_allowed"),
    ("extensions[2].forward.no_answer", several(setting("security.trunk_to_trunk_allowed", True),
                                                setting("extensions[2].forward.no_answer", "9011441234567")),
     "cannot forward to 9011441234567: 011441234567 is international; extension 203 has outbound class local"),
    ("extensions[0].forward.always", several(setting("security.trunk_to_trunk_allowed", True),
                                             setting("extensions[0].forward.always", "9911")),
     "emergency numbers are not forwarding targets"),
    ("extensions[0].forward.always", several(setting("security.trunk_to_trunk_allowed", True),
                                             setting("extensions[0].forward.always", "9123")),
     "is not a valid number in zone us"),
    ("extensions[0].forward.no_answer_s", setting("extensions[0].forward.no_answer_s", 4), "expected an integer 5-120"),
    ("extensions[0].forward.no_answer_s", setting("extensions[0].forward.no_answer_s", 121),
     "expected an integer 5-120"),
    ("extensions[0].pickup_group", setting("extensions[0].pickup_group", "a b"), "is not a name"),
    ("extensions[0].call_waiting", setting("extensions[0].call_waiting", "on"), "expected true or false"),
    ("extensions[0].voicemail", setting("extensions[0].voicemail", None), "expected true or false"),
    ("ring_groups[0].name", setting("ring_groups[0].name", ""), "is not a name"),
    ("ring_groups[1].name", lambda d: d["ring_groups"].append({**copy.deepcopy(d["ring_groups"][0]), "number": ""}),
     "ring group office is already defined at ring_groups[0]"),
    ("ring_groups[0].members", setting("ring_groups[0].members", []), "at least one member"),
    ("ring_groups[0].members", setting("ring_groups[0].members", ["201"] * 17), "at most 16 entries"),
    ("ring_groups[0].members[0]", setting("ring_groups[0].members", ["299"]), "extension 299 does not exist"),
    ("ring_groups[0].members[1]", setting("ring_groups[0].members", ["201", "201"]), "extension 201 is listed twice"),
    ("ring_groups[0].members[0]", setting("ring_groups[0].members", [201]), "expected text"),
    ("ring_groups[0].number", setting("ring_groups[0].number", "201"), "number 201 is already used by extensions[0]"),
    ("ring_groups[0].number", setting("ring_groups[0].number", "6"), "is not a number of 2-6 digits"),
    ("ring_groups[0].strategy", setting("ring_groups[0].strategy", "random"), "expected one of ringall, linear"),
    ("ring_groups[0].ring_s", setting("ring_groups[0].ring_s", 4), "expected an integer 5-300"),
    ("ring_groups[0].ring_s", setting("ring_groups[0].ring_s", 301), "expected an integer 5-300"),
    ("ring_groups[0].no_answer", setting("ring_groups[0].no_answer", {"kind": "ring_group", "name": "office"}),
     "a ring group cannot overflow to itself"),
    ("ring_groups[0].no_answer", setting("ring_groups[0].no_answer", {"kind": "voicemail", "name": "202"}),
     "voicemail 202: extension 202 has voicemail off"),
    ("ring_groups[0].no_answer", setting("ring_groups[0].no_answer", {"kind": "voicemail", "name": "299"}),
     "voicemail 299: extension 299 does not exist"),
    ("ring_groups[0].no_answer.name", setting("ring_groups[0].no_answer", {"kind": "hangup", "name": "x"}),
     "a hangup destination has no name"),
    ("ring_groups[0].no_answer.kind", setting("ring_groups[0].no_answer", {"kind": "teleport"}),
     "expected one of extension, ring_group, ivr, queue, voicemail, hangup"),
    ("dialplan.outside_prefix", setting("dialplan.outside_prefix", "123"), "is not a prefix of 0-2 digits"),
    ("dialplan.outside_prefix", setting("dialplan.outside_prefix", "a"), "is not a prefix of 0-2 digits"),
    ("dialplan.outside_prefix", several(setting("zone", "au"), setting("dialplan.outside_prefix", "0")),
     "'0' then an outside number beginning 00 would dial the emergency number 000 of zone au"),
    ("dialplan.inter_digit_timeout_ms", setting("dialplan.inter_digit_timeout_ms", 999),
     "expected an integer 1000-20000"),
    ("dialplan.inter_digit_timeout_ms", setting("dialplan.inter_digit_timeout_ms", 20001),
     "expected an integer 1000-20000"),
    ("dialplan.incomplete_timeout_ms", setting("dialplan.incomplete_timeout_ms", 1999),
     "expected an integer 2000-60000"),
    ("dialplan.incomplete_timeout_ms", setting("dialplan.incomplete_timeout_ms", 3000),
     "must not be shorter than dialplan.inter_digit_timeout_ms (4000)"),
    ("dialplan.trunk_group", setting("dialplan.trunk_group", "other"),
     'no line is in trunk group "other" (groups: main)'),
    ("dialplan.trunk_group", several(setting("lines[1].group", "sales"), setting("dialplan.trunk_group", "other")),
     'no line is in trunk group "other" (groups: main, sales)'),
    ("dialplan.trunk_group", setting("dialplan.trunk_group", ""), "is not a name"),
    ("dialplan.line_selection", setting("dialplan.line_selection", "random"),
     "expected one of first_free, round_robin, got 'random'"),
    ("dialplan.line_selection", setting("dialplan.line_selection", "FIRST_FREE"), "expected one of first_free"),
    ("dialplan.line_selection", setting("dialplan.line_selection", None), "expected one of first_free"),
    ("dialplan.maps.internal", setting("dialplan.maps.internal", ""), "the internal digit map cannot be empty"),
    ("dialplan.maps.internal", setting("dialplan.maps.internal", None), "expected a digit map"),
    ("dialplan.maps.internal", setting("dialplan.maps.internal", "[1-8"), "digit map '[1-8': unclosed '['"),
    ("dialplan.maps.local", setting("dialplan.maps.local", 5), "expected a digit map"),
    ("dialplan.maps.national", setting("dialplan.maps.national", "1xxT1"), "'T' must be the last"),
    ("dialplan.maps.extra", setting("dialplan.maps.extra", "x"), "unknown key"),
    ("extensions[0].number", setting("dialplan.maps.internal", "[3-8]xx"), "201 does not match the internal digit map"),
    ("routes[0].name", setting("routes[0].name", ""), "expected 1-40 printable characters"),
    ("routes[0].destination", setting("routes[0].destination", DELETE), "missing (required)"),
    ("routes[0].destination", setting("routes[0].destination", ROUTE_TO), "extension 299 does not exist"),
    ("routes[0].destination", setting("routes[0].destination", {"kind": "ring_group", "name": "nope"}),
     "ring group nope does not exist"),
    ("routes[0].destination.name", setting("routes[0].destination", {"kind": "ivr", "name": "main menu"}),
     "'main menu' is not a name"),
    ("routes[0].destination.name", setting("routes[0].destination", {"kind": "extension", "name": "office"}),
     "is not an extension number"),
    ("routes[0].line", setting("routes[0].line", 5), "port 5 is not a configured line"),
    ("routes[0].line", setting("routes[0].line", -1), "expected an integer 0-63"),
    ("routes[0].caller_id", setting("routes[0].caller_id", "12T3"), "'T' must be the last"),
    ("routes[0].caller_id", setting("routes[0].caller_id", "xxxT"), "cannot use the timer"),
    ("routes[0].caller_id", setting("routes[0].caller_id", ""), "expected a digit map or 'withheld'"),
    ("routes[0].schedule", setting("routes[0].schedule", "weekend"), "schedule weekend does not exist"),
    ("routes[2].when", setting("routes[2].schedule", None), "'closed' needs a schedule"),
    ("routes[0].when", setting("routes[0].when", "sometimes"), "expected one of open, closed"),
    ("schedules[1].name", lambda d: d["schedules"].append(copy.deepcopy(d["schedules"][0])),
     "schedule office is already defined at schedules[0]"),
    ("schedules[0].name", setting("schedules[0].name", "office hours"), "is not a name"),
    ("schedules[0].timezone", setting("schedules[0].timezone", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
    ("schedules[0].timezone", setting("schedules[0].timezone", "../etc/passwd"), "is not a time zone name"),
    ("schedules[0].hours", setting("schedules[0].hours", ["09:00-17:00"]), "expected a mapping of weekdays"),
    ("schedules[0].hours.monday", setting("schedules[0].hours.monday", ["09:00-17:00"]), "unknown weekday"),
    ("schedules[0].hours.mon", setting("schedules[0].hours.mon", "09:00-17:00"), "expected a list"),
    ("schedules[0].hours.mon[0]", setting("schedules[0].hours.mon", ["9-5"]), "expected a time HH:MM, got '9'"),
    ("schedules[0].hours.mon[1]", setting("schedules[0].hours.mon", ["09:00-12:00", "13:00-13:00"]), "is empty"),
    ("schedules[0].hours.tue[0]", setting("schedules[0].hours.tue", [540]), "expected a time range"),
    ("schedules[0].hours.mon", setting("schedules[0].hours.mon", ["09:00-10:00"] * 9), "up to 8 ranges"),
    ("schedules[0].holidays[0].date", setting("schedules[0].holidays", [{"date": "2026-02-30"}]), "expected a date"),
    ("schedules[0].holidays[0].date", setting("schedules[0].holidays", [{"date": "2026-12-25T00:00:00"}]),
     "expected a date"),
    ("schedules[0].holidays[0].date", setting("schedules[0].holidays", [{"name": "Christmas"}]), "missing"),
    ("schedules[0].holidays[1].date",
     setting("schedules[0].holidays", [{"date": "2026-12-25", "name": ""}, {"date": "2026-12-25", "name": "x"}]),
     "2026-12-25 is already listed at schedules[0].holidays[0]"),
    ("schedules[0].holidays[0].name", setting("schedules[0].holidays", [{"date": "2026-12-25", "name": "x" * 41}]),
     "expected 1-40 printable characters"),
    ("feature_codes.dnd_on", setting("feature_codes.dnd_on", "78"), "'78' is not a feature code"),
    ("feature_codes.dnd_on", setting("feature_codes.dnd_on", "*78901"), "is not a feature code"),
    ("feature_codes.dnd_off", setting("feature_codes.dnd_off", "*78"), "*78 is already the code of dnd_on"),
    ("feature_codes.group_pickup", setting("feature_codes.group_pickup", "*7"),
     "*7 is the beginning of forward_always (*72)"),
    ("feature_codes.agent_login", setting("feature_codes.agent_login", "*721"),
     "*721 begins with forward_always (*72)"),
    ("feature_codes.teleport", setting("feature_codes.teleport", "*99"), "unknown key"),
    ("security.trunk_to_trunk_allowed", setting("security.trunk_to_trunk_allowed", "no"), "expected true or false"),
    ("security.after_hours_schedule", setting("security.after_hours_schedule", "weekend"),
     "schedule weekend does not exist"),
    ("security.after_hours_max_class", setting("security.after_hours_max_class", "premium"), "expected one of"),
    ("security.allow_premium", setting("security.allow_premium", 0), "expected true or false"),
    ("security", setting("security", None), "expected a mapping"),
]


@pytest.mark.parametrize("path,mutate,fragment", BAD, ids=[f"{i}-{row[0]}" for i, row in enumerate(BAD)])
def test_bad_value_is_refused_naming_the_field(path, mutate, fragment):
    data = demo_data()
    assert outcome(data) == ""
    mutate(data)
    message = outcome(data)
    assert message.startswith(path + ":"), message
    assert fragment in message, message
    assert "\n" not in message


GOOD = [
    setting("lines[0].silence_timeout_s", 10),
    setting("lines[0].silence_timeout_s", 3600),
    setting("lines[0].disconnect", [m.value for m in DisconnectMethod]),
    setting("lines[0].disconnect", ["silence_timeout"]),
    setting("lines[0].dialling", "pulse"),
    setting("lines[0].answer_by_polarity_reversal", True),
    setting("lines[0].echo_canceller", False),
    setting("lines[0].pre_dial_hold_ms", 0),
    setting("lines[0].pre_dial_hold_ms", 10000),
    setting("lines[0].pre_dial_hold_ms", None),
    setting("lines[0].language", "es"),
    setting("lines[0].language", None),
    setting("routes[0].language", "fr"),
    setting("routes[0].language", "pt_BR"),
    setting("lines[0].number", ""),
    setting("lines[0].number", "1" * 20),
    setting("lines[0].name", "x" * 40),
    setting("language", "pt_BR"),
    setting("language", "de"),
    several(setting("dialplan.maps.internal", "[1-8]x|[1-8]xx|[1-8]xxx|[1-8]xxxxx"),
            setting("extensions[1].number", "1234"), setting("extensions[2].number", "123456"),
            setting("extensions[3].number", "10"), setting("ring_groups[0].members", ["201", "1234", "123456", "10"]),
            setting("agents[0].extension", "123456"), setting("agents[1].extension", "10")),
    setting("extensions[0].forward.always", "600"),
    setting("extensions[0].forward.no_answer_s", 5),
    setting("extensions[0].forward.no_answer_s", 120),
    several(setting("security.trunk_to_trunk_allowed", True), setting("extensions[3].forward.always", "9011441234")),
    setting("extensions[0].pickup_group", "front-desk"),
    setting("extensions[0].trunk_group", "main"),
    setting("extensions[0].trunk_group", ""),
    several(setting("lines[1].group", "sales"), setting("extensions[1].trunk_group", "sales")),
    several(setting("lines[0].group", "a"), setting("lines[1].group", "x" * 32), setting("dialplan.trunk_group", "a"),
            setting("extensions[0].trunk_group", "x" * 32)),
    several(setting("lines", []), setting("dialplan.trunk_group", "later")),
    setting("dialplan.line_selection", "round_robin"),
    setting("dialplan.line_selection", "first_free"),
    setting("ring_groups[0].ring_s", 5),
    setting("ring_groups[0].ring_s", 300),
    setting("ring_groups[0].members", ["204"] + [str(n) for n in []]),
    setting("ring_groups[0].number", ""),
    setting("ring_groups[0].strategy", "linear"),
    setting("ring_groups[0].no_answer", {"kind": "hangup", "name": ""}),
    setting("ring_groups[0].no_answer", {"kind": "hangup"}),
    setting("ring_groups[0].no_answer", {"kind": "queue", "name": "support"}),
    setting("dialplan.outside_prefix", ""),
    setting("dialplan.outside_prefix", "8"),
    setting("dialplan.inter_digit_timeout_ms", 1000),
    several(setting("dialplan.inter_digit_timeout_ms", 20000), setting("dialplan.incomplete_timeout_ms", 20000)),
    setting("dialplan.incomplete_timeout_ms", 60000),
    setting("dialplan.maps.local", "[2-9]xxxxxx"),
    setting("routes[0].caller_id", "withheld"),
    setting("routes[0].caller_id", "1212555xxxx|1800x."),
    setting("routes[0].line", 1),
    setting("routes[0].destination", {"kind": "ivr", "name": "main"}),
    setting("routes[0].destination", {"kind": "voicemail", "name": "201"}),
    setting("routes", []),
    setting("schedules[0].hours.sat", ["22:00-06:00", "10:00-12:00"]),
    setting("schedules[0].hours.sun", ["00:00-24:00"]),
    setting("schedules[0].hours.sun", None),
    setting("schedules[0].timezone", "Europe/Lisbon"),
    setting("schedules[0].holidays", [{"date": "2026-12-25"}, {"date": "2026-01-01", "name": "New Year"}]),
    setting("feature_codes.dnd_on", "#1"),
    setting("feature_codes.voicemail", "*9999"),
    setting("security.after_hours_schedule", None),
    setting("security.after_hours_max_class", "international"),
    setting("security.allow_premium", True),
    several(setting("board", "big"), setting("lines[1].port", 3), *[setting(f"extensions[{i}].port", 15 - i)
                                                                    for i in range(4)]),
]


@pytest.mark.parametrize("mutate", GOOD)
def test_good_value_is_accepted(mutate):
    data = demo_data()
    mutate(data)
    assert outcome(data) == ""


@pytest.mark.parametrize("zone", list(Zone))
@pytest.mark.parametrize("standard", [None, *CallerIdStandard])
def test_every_zone_and_caller_id_standard(zone, standard):
    data = demo_data()
    data["zone"] = zone.value
    data["caller_id_standard"] = None if standard is None else standard.value
    assert outcome(data) == ""


def test_every_zone_default_dial_plan_is_valid_with_demo_numbers():
    """The demo numbers (201-204, 600) are clear of every zone's emergency numbers and prefix."""
    for zone in Zone:
        data = demo_data()
        data["zone"] = zone.value
        assert outcome(data) == "", zone


def test_a_document_that_is_not_a_mapping():
    assert outcome([]) == "configuration: expected a mapping, got []"
    assert outcome("zone: us") == "configuration: expected a mapping, got 'zone: us'"


def test_several_problems_are_counted_in_one_line():
    data = demo_data()
    data["extensions"][0]["port"] = 9
    data["extensions"][1]["port"] = 0
    data["routes"][0]["schedule"] = "nope"
    message = outcome(data)
    assert message.startswith("extensions[0].port: port 9 does not exist on board virtual (ports 0-5)")
    assert message.endswith("(and 2 more problems)")


def test_ivr_destinations_must_be_configured_flows_unless_a_hook_decides():
    data = demo_data()
    data["routes"][0]["destination"] = {"kind": "ivr", "name": "sales"}
    assert outcome(data) == "routes[0].destination: ivr sales: no such IVR flow"
    ivrs = {DestinationKind.IVR: lambda config, name: None if name == "sales" else "no such menu"}
    assert outcome(data, ivrs) == ""
    data["routes"][0]["destination"]["name"] = "main"
    assert outcome(data) == ""


def test_queue_destinations_must_be_configured_queues_unless_a_hook_decides():
    data = demo_data()
    data["routes"][0]["destination"] = {"kind": "queue", "name": "sales"}
    assert outcome(data) == "routes[0].destination: queue sales: no such queue"
    data["routes"][0]["destination"]["name"] = "support"
    assert outcome(data) == ""
    refuse = {DestinationKind.QUEUE: lambda config, name: "queues are switched off"}
    # the demo's voice menu also leads to the queue: a second problem
    assert outcome(data, refuse) == ("routes[0].destination: queue support: queues are switched off "
                                     "(and 1 more problem)")


def test_validate_returns_a_normalised_snapshot():
    config = validate(demo(), lookup)
    assert config == demo()
    assert validate(from_dict(to_dict(config)), lookup) == config
    assert BIG.describe() == "board big (ports 0-15)"


def doc_paths(value, prefix=""):
    """Every option's path in the notation of docs/configuration.md (``lines[].port``)."""
    if isinstance(value, dict):
        if prefix.endswith((".hours", ".queues", ".skills", ".required_skills", ".queue_skills",
                            "ivr_prompts[].text", "ivr_prompts[].recording")):  # maps of free keys (language codes)
            yield prefix
            return
        for key, item in value.items():
            yield from doc_paths(item, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        yield from doc_paths(value[0], prefix + "[]")
    else:
        yield prefix


def test_docs_describe_every_option():
    data = demo_data()
    data["schedules"][0]["holidays"] = [{"date": "2026-12-25", "name": "Christmas Day"}]
    text = DOCS.read_text(encoding="utf-8")
    missing = [path for path in doc_paths(data) if f"`{path}`" not in text]
    assert not missing, f"docs/configuration.md lacks: {missing}"


def test_docs_yaml_example_is_a_valid_configuration():
    text = DOCS.read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = from_yaml(example)
    assert validate(config, lookup) == config
    assert config.routes[0].caller_id == "withheld"
