"""Callbacks in the box, end to end on the virtual board: a waiting caller presses *, hears
"thank you" and the line is released; when an agent is free the agent's phone rings with the
caller's number, and when the agent answers the box dials the caller on a free line."""

from __future__ import annotations

from dataclasses import replace

from acd_engine_helpers import MATCH, contains, events_of, login, queue_config
from features_helpers import (
    LINE_1,
    LINE_2,
    PORT,
    far_end_heard,
    hang_up,
    hears,
    inbound_call,
    office,
    records,
    run,
    state,
    switch_events,
    talk,
)

from board.virtual.pstn import FarEnd
from dsp.callerid_fsk import CallerIdReceiver
from dsp.dtmfgen import generate_dtmf
from firmware.config.model import QueueCallback

ALICE = "203"


def callback_queue(**changes):
    config = queue_config(announce_hold_time=False, **changes)
    support = replace(config.queues[0], callback=QueueCallback(enabled=True, max_attempts=2, retry_s=30))
    return replace(config, queues=(support,))


def press(app, line: int, key: str) -> None:
    app.world.line(line).far_end.say(generate_dtmf(key, on_ms=100.0, off_ms=100.0))


def test_callback_keeps_the_place_rings_the_agent_then_dials_the_caller(tmp_path):
    with office(tmp_path, config=callback_queue()) as app, switch_events("acd") as events:
        inbound_call(app, LINE_1, number="2125557788", seconds=5.0)
        start = app.switch.tick
        caller = app.world.line(LINE_1).far_end  # kept: the line lets it go at release
        press(app, LINE_1, "*")
        run(app, 3.0)
        thanks = app.acd.prompts.sentence(["queue-thankyou"])
        heard_by_caller = caller.heard(last_ms=(app.switch.tick - start) * 20)
        assert contains(heard_by_caller, thanks) > MATCH
        assert state(app, LINE_1) == "idle"  # released after the thank-you
        (request,) = events.named("callback_requested")
        assert request["number"] == app.switch.config.outside_prefix() + "2125557788"
        assert app.acd.core.position(request["acd_call"]) == 1  # the place is kept
        login(app, ALICE, "1001")
        run(app, 4.0)
        assert state(app, PORT[ALICE]) == "ringing"
        receiver = CallerIdReceiver(1, "bell202")
        audio = app.world.heard(PORT[ALICE], last_ms=5000).astype(float)[None, :]
        names = [(m.message.caller.number, m.message.caller.name)
                 for m in receiver.process(audio) + receiver.flush() if m.message.checksum_ok]
        assert names == [(request["number"], "support")]
        app.world.phone(PORT[ALICE]).offhook()
        run(app, 12.0)  # dialled on a free line; the far end answers after 4 s of ringback
        (line,) = [port for port in (LINE_1, LINE_2) if state(app, port) == "connected"]
        assert events.named("callback_connected")
        talk(app, line)
        talk(app, PORT[ALICE])
        run(app, 1.0)
        assert hears(app.world.heard(PORT[ALICE], last_ms=500), line) > 0.5
        assert hears(far_end_heard(app, line, 500), PORT[ALICE]) > 0.5
        hang_up(app, ALICE)
        kinds = [fields[4] for fields in events_of(app, "CONNECT") + events_of(app, "COMPLETEAGENT")]
        assert kinds == ["CONNECT", "COMPLETEAGENT"]
        assert app.acd.core.calls == {} and app.acd.callbacks.pending == {}
        causes = sorted(r.hangup_cause for r in records(app))
        assert "queue_callback" in causes


def test_unanswered_callback_offer_is_offered_again(tmp_path):
    with office(tmp_path, config=callback_queue(ring_s=5)) as app, switch_events("acd") as events:
        inbound_call(app, LINE_1, number="2125557788", seconds=5.0)
        press(app, LINE_1, "*")
        run(app, 3.0)
        login(app, ALICE, "1001")
        run(app, 1.0)
        assert state(app, PORT[ALICE]) == "ringing"
        run(app, 5.0)
        assert state(app, PORT[ALICE]) == "idle"  # ring timeout
        (missed,) = events_of(app, "RINGNOANSWER")
        assert missed[3] == "1001"
        assert len(app.acd.callbacks.pending) == 1
        (record,) = [r for r in records(app) if r.hangup_cause == "callback_not_answered"]
        assert record.src_port == PORT[ALICE]
        run(app, 5.5)  # the queue's retry (5 s): the same agent is rung again for the callback
        assert state(app, PORT[ALICE]) == "ringing"
        assert len(events.named("callback_ringing")) == 2


def test_withheld_number_cannot_ask_for_a_callback(tmp_path):
    with office(tmp_path, config=callback_queue()) as app, switch_events("acd") as events:
        app.world.line(LINE_1).ring(caller_id=None, far_end=FarEnd())  # no caller ID at all
        run(app, 10.0)
        press(app, LINE_1, "*")
        run(app, 2.0)
        assert state(app, LINE_1) == "ringback" and len(app.acd.callers) == 1  # still waiting
        assert events.named("callback_refused")[0]["reason"] == "no dialable caller ID"


def test_a_busy_caller_is_tried_again_after_the_retry_interval(tmp_path):
    config = callback_queue()
    # answer supervision: only a far end that answers counts as reached
    config = replace(config, lines=tuple(replace(line, answer_by_polarity_reversal=True) for line in config.lines))
    with office(tmp_path, config=config) as app, switch_events("acd") as events:
        inbound_call(app, LINE_1, number="2125557788", seconds=5.0)
        press(app, LINE_1, "*")
        run(app, 3.0)
        for line in (LINE_1, LINE_2):
            app.world.line(line).script_outgoing(outcome="busy")
        login(app, ALICE, "1001")
        run(app, 1.0)
        app.world.phone(PORT[ALICE]).offhook()
        run(app, 10.0)  # dialled; the exchange gives busy tone; busy-tone supervision ends the call
        (failed,) = events.named("callback_failed")
        assert failed["retry"] is True
        assert events_of(app, "CONNECT") == []
        hang_up(app, ALICE)
        run(app, 15.0)
        assert state(app, PORT[ALICE]) == "idle"  # parked until 30 s after the attempt
        run(app, 14.0)
        assert state(app, PORT[ALICE]) == "ringing"  # second attempt
