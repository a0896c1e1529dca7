"""The soak: 2500 calls of a seeded random mix run unpaced (tests/scenarios/soak.yaml).
Afterwards nothing may be left: no call in the switch, every port idle, nothing bridged,
no line seized, no thread, and the box's memory flat after the warm-up.

2500 calls, about 35 simulated minutes, 2 lines and 4 phones. Run time: about 6 minutes on a
quiet 2-core machine (365 s of set-up on 2026-12-05), over its 4-minute budget: the engine's
per-tick cost (issue 10) is what it spends."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from scenario_helpers import assert_passed, run

pytestmark = pytest.mark.slow  # minutes: 2500 calls

CALLS = 2500
BOX_OBJECTS_SLACK = 50  # objects of the box's own classes: the same after the warm-up as at the end, give or take
RSS_GROWTH_KIB = 8 * 1024  # resident set after the warm-up to the end (measured about 0.3 MiB)


@pytest.fixture(scope="module")
def soak():
    threads_before = threading.active_count()
    report = run("soak")
    waited = 0.0
    while threading.active_count() > threads_before and waited < 5.0:
        time.sleep(0.05)  # let the closed appliance's threads finish (bounded wait, not a timing check)
        waited += 0.05
    return report, threads_before, threading.active_count()


def test_every_call_started_ended_with_one_record(soak):
    report, _, _ = soak
    assert_passed(report)
    (summary,) = report.data["traffic"]
    assert summary["ok"] and sum(summary["started"].values()) == CALLS
    assert summary["cdrs"] == len(report.data["calls"]) == CALLS
    kinds = Counter(call["context"] for call in report.data["calls"])
    assert kinds == Counter(summary["started"])
    assert summary["started"]["inbound"] >= 0.08 * CALLS and summary["started"]["outbound"] >= 0.03 * CALLS
    assert summary["events"]["stuck_hangups"] == 0  # no phone had to be rescued from a stuck state


def test_the_mix_covered_every_outcome_and_disconnect_signal(soak):
    report, _, _ = soak
    outcomes = Counter((c["context"], c["disposition"]) for c in report.data["calls"])
    for context in ("internal", "inbound", "outbound"):
        assert outcomes[(context, "ANSWERED")] > 0, context
    assert outcomes[("internal", "BUSY")] and outcomes[("inbound", "BUSY")] and outcomes[("internal", "NO ANSWER")]
    assert outcomes[("outbound", "FAILED")]  # the toll guard refused the international number
    causes = {c["hangup_cause"] for c in report.data["calls"] if c["context"] == "inbound"}
    assert {"polarity_reversal", "loop_current_drop", "normal_clearing", "user_busy"} <= causes


def test_nothing_is_left_afterwards(soak):
    report, threads_before, threads_after = soak
    end = report.data["end"]
    assert end["idle"] and end["calls_open"] == [] and end["bridges"] == []
    assert set(end["states"].values()) == {"idle"}
    for line in report.data["ports"][:2]:
        assert line["exchange_state"] == "idle" and not line["exchange_seized"]
    assert threads_after == threads_before  # the card, link and CDR writer threads are gone


def test_memory_is_flat_after_the_warm_up(soak):
    report, _, _ = soak
    memory = report.data["traffic"][0]["memory"]
    warm, half, end = memory["after_warmup"], memory["halfway"], memory["end"]
    assert end["live_calls"] == 0
    assert end["live_call_records"] <= 1  # the CDR writer thread's last record, held until the next one
    for checkpoint in (half, end):
        assert abs(checkpoint["box_objects"] - warm["box_objects"]) <= BOX_OBJECTS_SLACK, memory
    assert end["rss_kib"] - warm["rss_kib"] <= RSS_GROWTH_KIB
