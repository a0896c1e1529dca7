"""Scenario tests of line faults: a card reset mid-call and a pulled serial cable. After
either, no line may stay seized, the call must be recorded, and the box must work again."""

from __future__ import annotations

from scenario_helpers import assert_passed, calls, events, run, states


def test_card_reset_mid_call_leaves_no_line_seized():
    report = run("card_reset")
    assert_passed(report)
    reset = next(s for s in report.data["steps"] if s["kind"] == "inject")
    (ended,) = events(report, "call_end", cause="out_of_service")
    assert 0 <= ended["ms"] - reset["at_ms"] <= 100
    out = events(report, "port_out_of_service")
    back = events(report, "port_in_service")
    assert sorted(e["port"] for e in out) == sorted(e["port"] for e in back) == [0, 1, 2, 3, 4, 5]
    assert all("card reset" in e["reason"] for e in out)
    for line in report.data["ports"][:2]:
        assert line["exchange_state"] == "idle" and not line["exchange_seized"]
    outbound, internal = calls(report)
    assert (outbound["context"], outbound["hangup_by"], outbound["hangup_cause"]) == ("outbound", "system",
                                                                                       "out_of_service")
    assert (internal["context"], internal["disposition"]) == ("internal", "ANSWERED")  # working again


def test_serial_unplug_takes_the_ports_out_of_service_and_back():
    report = run("serial_unplug")
    assert_passed(report)
    for number in range(6):
        assert "out_of_service" in states(report, number)
        assert states(report, number)[-1] == "idle"
    unplug = next(s for s in report.data["steps"] if s["kind"] == "inject")
    back = min(e["ms"] for e in events(report, "port_in_service"))
    assert back > unplug["at_ms"]
    assert not report.data["ports"][1]["exchange_seized"]
    first, second = calls(report)
    assert (first["hangup_cause"], first["caller_number"]) == ("out_of_service", "2125553000")
    assert (second["context"], second["disposition"]) == ("internal", "ANSWERED")
