"""Hostile caller ID on an inbound line, through the whole appliance (issue 11).

Each scenario sends a series of caller IDs that used to stop the box (``linebox run``
exited with status 2 when the switch rang a phone with them): a Latin-1 name, a 23-digit
number, ``ABC``, ``\\x07``, ``\\x00``, a trailing newline, whole raw messages, in Bell 202
(us), V.23 before the first ring (de) and DTMF (nl); and a seeded random set (any byte in
names, numbers of 0-64 characters, good checksums). Every call must ring the phone, be
answered and bridged, and leave a call record; the box stays up from one call to the next.
The broad random sweep is tests/test_callerid_hostile.py (unit level).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from scenario_helpers import SCENARIOS, assert_passed, calls, events, port

from linebox.sim.runner import run_scenario
from linebox.sim.scenario import parse_scenario


def office(zone: str) -> dict[str, Any]:
    return {
        "board": "virtual",
        "zone": zone,
        "lines": [{"port": 0, "name": "Line 1"}, {"port": 1, "name": "Line 2"}],
        "extensions": [{"number": "201", "port": 2, "name": "Desk"}],
        "routes": [{"name": "always", "destination": {"kind": "extension", "name": "201"}}],
    }


def answered_call(line: int, caller_id: dict[str, Any], show: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Steps of one inbound call with ``caller_id``: the phone rings, is answered, hangs up."""
    steps: list[dict[str, Any]] = [
        {"ring": {"port": line, "caller_id": caller_id}},
        {"expect_log": {"event": "route", "fields": {"port": line}, "timeout_ms": 9000}},
        {"expect_state": {"port": 2, "state": "ringing", "timeout_ms": 1000}},
    ]
    if show is not None:  # what the phone's own caller ID shows
        steps.append({"expect_caller_id": {"port": 2, **show, "timeout_ms": 7000}})
    return steps + [
        {"offhook": 2},
        {"expect_bridge": {"ports": [line, 2], "timeout_ms": 1000}},
        {"hangup": 2},
        {"expect_exchange": {"port": line, "seized": False, "timeout_ms": 3000}},
        {"expect_idle": 2000},
    ]


def run_calls(zone: str, calls_: list[tuple[dict[str, Any], dict[str, Any] | None]], audio: bool = False,
              seed: int = 3):
    steps: list[dict[str, Any]] = []
    for index, (caller_id, show) in enumerate(calls_):
        steps += answered_call(index % 2, caller_id, show)
    data = {
        "name": f"hostile caller ID {zone}",
        "start": "2026-11-25T10:00:00+01:00",
        "seed": seed,
        "config": office(zone),
        "observe": {"audio": audio, "log": True, "history": False},
        "steps": steps,
    }
    return run_scenario(parse_scenario(data, SCENARIOS, default_name="hostile"))


def records(report) -> list[tuple[str, str, str]]:
    return [(r["disposition"], r["caller_number"], r["caller_name"]) for r in calls(report)]


def heard(report) -> list[tuple[str, str, str]]:
    return [(e["number"], e["name"], e["absence"]) for e in events(report, "caller_id")]


@pytest.fixture(scope="module")
def bell202():
    return run_calls("us", [
        ({"number": "5551234", "name_bytes": "4d dc 4c 4c 45 52"}, None),  # MÜLLER in Latin-1
        ({"number": "12345678901234567890123", "name": "LONG NUMBER"}, None),
        ({"number": "ABC", "name": "LETTERS"}, None),
        ({"number": "555\a", "name": "BELL\a"}, None),
        ({"number_bytes": "35 35 35 00", "name": "NUL\x00"}, None),
        ({"number": "5550100\n", "name": "NEWLINE\n"}, None),
        ({"raw": "80 0c 02 03 31 32 33 07 05 4d dc 4c 4c 45"}, None),  # checksum computed: 123 MÜLLE
        ({"raw": "04 0b 31 32 32 35 31 30 30 30 41 42 43", "checksum": 0xA0}, None),  # SDMF "ABC", checksum given
        ({"raw": "80 03 04 01 58"}, None),  # reason for absence X
    ])


def test_bell202_every_hostile_caller_id_rings_is_answered_and_recorded(bell202):
    assert_passed(bell202)
    assert records(bell202) == [
        ("ANSWERED", "5551234", "MÜLLER"),
        ("ANSWERED", "12345678901234567890", "LONG NUMBER"),
        ("ANSWERED", "", "LETTERS"),
        ("ANSWERED", "555", "BELL"),
        ("ANSWERED", "555", "NUL"),
        ("ANSWERED", "5550100", "NEWLINE"),
        ("ANSWERED", "123", "MÜLLE"),
        ("ANSWERED", "", ""),
        ("ANSWERED", "", ""),
    ]
    assert heard(bell202)[2] == ("", "LETTERS", "unavailable")
    assert heard(bell202)[7] == ("", "", "unavailable")


def test_bell202_log_lines_hold_no_control_characters(bell202):
    for event in bell202.data["log"]:
        for value in event.values():
            assert not isinstance(value, str) or value.isprintable(), event


def test_a_raw_message_with_a_bad_checksum_rings_without_caller_id():
    report = run_calls("us", [({"raw": "80 05 02 03 31 32 33", "checksum": 0x00}, None)])
    assert_passed(report)
    assert heard(report) == [] and records(report) == [("ANSWERED", "", "")]


def test_v23_latin1_name_is_recorded_as_sent_and_shown_transliterated():
    report = run_calls("de", [
        ({"number": "4930901820", "name": "MÜLLER"}, {"number": "4930901820", "name": "MUELLER"}),
        ({"number": "(030) 9018-20", "name_bytes": "c3 9c 6e 61 6c 0a"}, {"number": "030901820", "name": "UEnal"}),
    ], audio=True)
    assert_passed(report)
    assert records(report) == [("ANSWERED", "4930901820", "MÜLLER"), ("ANSWERED", "030901820", "Ünal")]
    shown = [(c["number"], c["name"]) for c in port(report, 2)["caller_ids"] if c["checksum_ok"]]
    assert shown == [("4930901820", "MUELLER"), ("030901820", "UEnal")]


def test_dtmf_long_and_lettered_numbers():
    report = run_calls("nl", [
        ({"number": "12345678901234567890123"}, None),
        ({"number": "ABC"}, None),  # sent as AABCC: framed, letters inside
        ({"dtmf": "A12B4C"}, None),
    ])
    assert_passed(report)
    assert records(report) == [("ANSWERED", "12345678901234567890", ""), ("ANSWERED", "", ""), ("ANSWERED", "", "")]
    assert [absence for _, _, absence in heard(report)] == ["", "unavailable", "unavailable"]


def random_caller_ids(seed: int, count: int) -> list[dict[str, Any]]:
    """Any byte in names, numbers of 0-64 characters (digits or any byte), good checksums."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        name = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 60)))
        if rng.random() < 0.5:
            number = "".join(rng.choice("0123456789") for _ in range(rng.randrange(0, 65))).encode()
        else:
            number = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 65)))
        out.append({"number_bytes": number.hex(" "), "name_bytes": name.hex(" ")})
    return out


@pytest.mark.slow
@pytest.mark.parametrize("zone, seed", [("us", 11), ("de", 12)])
def test_random_caller_ids_every_call_is_answered_and_recorded(zone, seed):
    caller_ids = random_caller_ids(seed, 5)
    report = run_calls(zone, [(caller_id, None) for caller_id in caller_ids], seed=seed)
    assert_passed(report)
    assert [r[0] for r in records(report)] == ["ANSWERED"] * len(caller_ids)
    for number, name, _ in records(report):
        assert len(number) <= 20 and len(name) <= 50 and name.isprintable()
