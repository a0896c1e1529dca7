"""Statistics definitions on hand-built event sequences, intervals, and live vs queue_log."""

import io

import pytest

from firmware import FirmwareError
from firmware.acd.events import AcdEvent, EventKind
from firmware.acd.model import QueueConfig
from firmware.acd.queue_log import QueueLogWriter, event_for, read_queue_log
from firmware.acd.stats import StatsCollector
from tests.acd_helpers import agent, make_core, offered_to

K = EventKind


def call_events() -> list[AcdEvent]:
    """Six calls in queue q (T = 20 s): 3 answered (10 s, 20 s, 30 s), 2 abandoned (5 s, 40 s), 1 timeout."""
    events = [AcdEvent(0.0, K.ENTERQUEUE, f"c{i}", "q") for i in range(1, 7)]
    events += [
        AcdEvent(10.0, K.CONNECT, "c1", "q", "a1", wait=10.0),
        AcdEvent(20.0, K.CONNECT, "c2", "q", "a2", wait=20.0),  # exactly T: within
        AcdEvent(30.0, K.CONNECT, "c3", "q", "a2", wait=30.0),
        AcdEvent(5.0, K.ABANDON, "c4", "q", wait=5.0),
        AcdEvent(40.0, K.ABANDON, "c5", "q", wait=40.0),
        AcdEvent(60.0, K.EXITWITHTIMEOUT, "c6", "q", wait=60.0),
        AcdEvent(110.0, K.COMPLETECALLER, "c1", "q", "a1", wait=10.0, talk=100.0),
        AcdEvent(70.0, K.COMPLETEAGENT, "c2", "q", "a2", wait=20.0, talk=50.0),
        AcdEvent(90.0, K.COMPLETECALLER, "c3", "q", "a2", wait=30.0, talk=60.0),
    ]
    return events


def agent_events() -> list[AcdEvent]:
    """a1: idle 0-10, on call 10-110, wrap-up 110-120, paused 120-200."""

    def state(t, old, new, d, work=""):
        return AcdEvent(t, K.AGENTSTATE, agent="a1", from_state=old, to_state=new, duration=d, queues=("q",), work_queue=work)

    return [
        state(10.0, "available", "oncall", 10.0),
        state(110.0, "oncall", "wrapup", 100.0, "q"),
        state(120.0, "wrapup", "paused", 10.0, "q"),
        state(200.0, "paused", "available", 80.0),
    ]


def collect(events, **kwargs) -> StatsCollector:
    stats = StatsCollector({"q": 20.0}, **kwargs)
    for event in events:
        stats.on_event(event)
    return stats


def test_service_level_definitions_and_rates():
    q = collect(call_events()).queue_stats("q")
    assert (q.offered, q.answered, q.answered_in_sl, q.abandoned, q.abandoned_in_sl, q.timeouts) == (6, 3, 2, 2, 1, 1)
    assert q.service_level == pytest.approx(2 / 3)  # A_T / A (Asterisk ServicelevelPerf)
    assert q.service_level_offered == pytest.approx(2 / 5)  # A_T / (A + B)
    assert q.service_level_short_abandons_excluded == pytest.approx(2 / 4)  # A_T / (A + B - B_T)
    assert q.service_level_perf2 == pytest.approx(3 / 5)  # (A_T + B_T) / (A + B)
    assert q.asa_seconds == pytest.approx(20.0)
    assert q.abandon_rate == pytest.approx(2 / 6)
    assert q.att_seconds == pytest.approx(210 / 3)
    assert q.longest_answered_wait_seconds == 30.0


def test_aht_and_occupancy_from_agent_time():
    stats = collect(call_events() + agent_events())
    q = stats.queue_stats("q")
    assert q.wrapup_seconds == 10.0
    assert q.aht_seconds == pytest.approx((210 + 10) / 3)
    assert q.busy_seconds == 110.0 and q.idle_seconds == 10.0
    assert q.occupancy == pytest.approx(110 / 120)
    a1 = stats.agent_stats("a1")
    assert a1.state_seconds == {"available": 10.0, "oncall": 100.0, "wrapup": 10.0, "paused": 80.0}
    assert a1.occupancy == pytest.approx(110 / 120)  # paused time counts in neither
    assert (a1.answered, a1.completed, a1.talk_seconds) == (1, 1, 100.0)
    a2 = stats.agent_stats("a2")
    assert (a2.answered, a2.completed, a2.talk_seconds, a2.occupancy) == (2, 2, 110.0, None)


def test_empty_denominators_are_undefined_not_zero():
    q = collect([]).queue_stats("q")
    assert q.service_level is None and q.asa_seconds is None and q.abandon_rate is None and q.occupancy is None


def test_agent_time_is_split_across_interval_edges():
    event = AcdEvent(1000.0, K.AGENTSTATE, agent="a1", from_state="available", to_state="oncall", duration=200.0, queues=("q",))
    stats = collect([event])
    assert stats.agent_stats("a1", 0, 900).idle_seconds == 100.0
    assert stats.agent_stats("a1", 900, 1800).idle_seconds == 100.0
    assert stats.queue_stats("q", 0, 900).idle_seconds == 100.0


def test_intervals_of_15_minutes_hours_and_days_sum_their_buckets():
    events = [AcdEvent(t, K.ENTERQUEUE, f"c{t}", "q") for t in (0.0, 899.0, 900.0, 3599.0, 3600.0, 86399.0, 86400.0)]
    stats = collect(events)
    quarter = [row.offered for _, row in stats.queue_intervals("q", 900, 0, 3600)]
    assert quarter == [2, 1, 0, 1]
    hours = stats.queue_intervals("q", 3600, 0, 7200)
    assert [(start, row.offered) for start, row in hours] == [(0, 4), (3600, 1)]
    days = stats.queue_intervals("q", 86400, 0, 172800)
    assert [row.offered for _, row in days] == [6, 1]
    with pytest.raises(FirmwareError, match="multiple of 900"):
        stats.queue_intervals("q", 1000, 0, 3600)


def test_local_day_boundaries_follow_the_utc_offset():
    events = [AcdEvent(t, K.ENTERQUEUE, f"c{t}", "q") for t in (0.0, 3599.0, 3600.0)]
    stats = collect(events, utc_offset_seconds=-3600.0)  # local midnight is 01:00 UTC
    days = stats.queue_intervals("q", 86400, 3600, 3600 + 86400)
    assert [(start, row.offered) for start, row in days] == [(3600, 1)]
    assert stats.queue_stats("q", None, 3600).offered == 2


def test_live_statistics_equal_those_rebuilt_from_the_queue_log():
    stream = io.StringIO()
    live = StatsCollector({"q": 20.0})
    core, _ = make_core(QueueConfig("q", wrapup_seconds=5.0), (agent("a1"), agent("a2")), login_at=None)
    core.listeners += [live, QueueLogWriter(stream)]
    core.agent_login("a1", 0)
    core.agent_login("a2", 0)
    t = 0
    for i in range(40):
        t += 7
        core.call_arrived(f"c{i}", ["q"], f"+1{i}", t)
        for offer in core.tick(t).offers:
            core.offer_answered(offer.call_id, offer.agent_id, t + 2)
        if i % 5 == 4 and f"c{i - 1}" in core.calls and core.calls[f"c{i - 1}"].state.value == "waiting":
            core.caller_abandoned(f"c{i - 1}", t + 1)
        for call in [c for c in core.calls.values() if c.state.value == "connected" and t - c.connected_at >= 9]:
            core.call_ended(call.call_id, t + 3, by_agent=i % 2 == 0)
        core.tick(t + 3)
    rebuilt = StatsCollector({"q": 20.0})
    for record in read_queue_log(io.StringIO(stream.getvalue())):
        event = event_for(record)
        if event is not None:
            rebuilt.on_event(event)
    a, b = live.queue_stats("q"), rebuilt.queue_stats("q")
    assert a.answered > 10 and a.abandoned > 0
    for name in ("offered", "answered", "answered_in_sl", "abandoned", "abandoned_in_sl", "completed", "talk_seconds"):
        assert getattr(a, name) == getattr(b, name), name
    assert a.asa_seconds == pytest.approx(b.asa_seconds)
    assert b.wrapup_seconds == 0.0 and a.wrapup_seconds > 0  # queue_log has no agent activity


def test_live_activity_view():
    core, _ = make_core(QueueConfig("q"), (agent("a1"),))
    stats = StatsCollector()
    core.listeners.append(stats)
    core.call_arrived("c1", ["q"], "", 5)
    offered_to(core, 5)
    assert stats.current_activity_seconds("a1", 8) == ("ringing", 3)
    core.checkpoint(10)
    assert stats.agent_stats("a1").state_seconds == {"available": 5.0, "ringing": 5.0}
