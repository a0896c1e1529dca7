"""The agent desk in the running box (virtual board, in process): a disposition keyed on the
headset during wrap-up reaches the call records and the queue_log; the console's desk view
follows offer, answer and end; a supervisor's pause; a callback booked by a disposition."""

from __future__ import annotations

import json
from dataclasses import replace

from acd_engine_helpers import MATCH, contains, events_of, login, phone_heard, queue_config
from features_helpers import LINE_1, LINE_2, PORT, dial, hang_up, inbound_call, office, records, run, state

from dsp.dtmfgen import generate_dtmf
from firmware.acdengine.history import IntervalStore
from firmware.acdengine.persist import StateStore
from firmware.cdr import CdrStore
from firmware.config.model import Contact, QueueCallback
from firmware.console import desk
from webadmin.deskview import screen_pop

ALICE = "203"  # agent 1001


def _desk(app) -> dict:
    return json.loads(desk.desk_on_loop(app.switch, "1001"))["agents"][0]


def _call_then_caller_hangs_up(app, wrapup: bool = True) -> str:
    login(app, ALICE, "1001")
    inbound_call(app, LINE_1, number="2125550101", seconds=5.0)
    offered = _desk(app)
    assert offered["call"]["phase"] == "offered" and offered["call"]["caller_number"] == "2125550101"
    app.world.phone(PORT[ALICE]).offhook()
    run(app, 5.0)
    assert _desk(app)["call"]["phase"] == "connected"
    app.world.line(LINE_1).far_end_hangup()
    run(app, 1.5)
    ended = _desk(app)
    assert ended["state"] == ("wrapup" if wrapup else "available") and ended["call"]["phase"] == "ended"
    assert state(app, PORT[ALICE]) == "failed"
    return ended["call"]["uniqueid"]


def test_disposition_by_dtmf_in_wrapup_is_stored_with_the_call_record_and_queue_log(tmp_path):
    with office(tmp_path, config=queue_config(wrapup_s=60)) as app:
        uniqueid = _call_then_caller_hangs_up(app)
        start = app.switch.tick
        dial(app, ALICE, "7#", 1.5)  # not a code: error beep, may key again
        assert contains(phone_heard(app, ALICE, (app.switch.tick - start) * 20),
                        app.acd.prompts.sentence(["beeperr"])) > MATCH
        assert not events_of(app, "DISPOSITION")
        dial(app, ALICE, "3#", 3.0)
        (line,) = events_of(app, "DISPOSITION")
        assert line[1:4] == [uniqueid, "support", "1001"] and line[5:] == ["3", "do not call", "", "1", "dtmf"]
        app.dispositions.drain()
        (record,) = [r for r in records(app) if r.uniqueid == uniqueid]
        assert record.disposition == "ANSWERED"
        stored = app.cdr.disposition(uniqueid)
        assert (stored.code, stored.do_not_call, stored.source, stored.caller_number) == \
            ("3", True, "dtmf", "2125550101")
        assert _desk(app)["call"]["disposition"] == "3"


def test_page_disposition_through_the_console_books_a_callback(tmp_path):
    config = queue_config(wrapup_s=60)
    config = replace(config, queues=(replace(config.queues[0], callback=QueueCallback(enabled=True)),))
    with office(tmp_path, config=config) as app:
        uniqueid = _call_then_caller_hangs_up(app)
        when = app.acd.now() + 3600
        answer = desk.dispose_on_loop(app.switch, "1001", "2", "call after lunch", when)
        (booked,) = app.acd.callbacks.booked
        assert uniqueid in answer and (booked.key, booked.due, booked.queue, booked.number, booked.agent) == (
            uniqueid, when, "support", "2125550101", "1001")
        assert _desk(app)["callbacks"] == [{"due": when, "queue": "support", "number": "2125550101"}]
        app.dispositions.drain()
        assert CdrStore(app.cdr.path).disposition(uniqueid).note == "call after lunch"


def test_a_booked_callback_rings_the_agent_at_its_time(tmp_path):
    config = queue_config(wrapup_s=0)
    config = replace(config, queues=(replace(config.queues[0], callback=QueueCallback(enabled=True)),))
    with office(tmp_path, config=config) as app:
        _call_then_caller_hangs_up(app, wrapup=False)
        hang_up(app, ALICE)
        desk.dispose_on_loop(app.switch, "1001", "2", "", app.acd.now() + 4.0)
        run(app, 2.0)
        assert state(app, PORT[ALICE]) == "idle"  # not yet
        run(app, 3.0)
        assert state(app, PORT[ALICE]) == "ringing" and not app.acd.callbacks.booked
        enters = events_of(app, "ENTERQUEUE")  # the caller's call, then the booked callback
        assert len(enters) == 2 and enters[-1][1].startswith("booked-") and enters[-1][6] == "2125550101"


def saved_callbacks(app) -> tuple:
    """The booked callbacks as another connection reads them from the database."""
    other = IntervalStore(app.cdr.path)
    try:
        return StateStore(other.conn).load().callbacks
    finally:
        other.close()


def test_a_booked_callback_survives_a_restart_and_rings_the_agent_when_due(tmp_path):
    """Booked, then the box stops (the booking is a row of acd_booked_callbacks, written by the
    ACD history writer); started again, the callback is back on the desk and, when due, joins
    the queue as the ACD's callbacks do: the agent's phone rings first."""
    config = queue_config(wrapup_s=0)
    config = replace(config, queues=(replace(config.queues[0], callback=QueueCallback(enabled=True)),))
    with office(tmp_path, config=config) as app:
        uniqueid = _call_then_caller_hangs_up(app, wrapup=False)
        hang_up(app, ALICE)
        due = app.acd.now() + 30.0
        desk.dispose_on_loop(app.switch, "1001", "2", "", due)
        app.acd_stats.history.drain()
        assert [b.key for b in saved_callbacks(app)] == [uniqueid]  # committed at once, before any clean stop
    with office(tmp_path, config=config) as again:  # the same database: a restart
        (booked,) = again.acd.callbacks.booked
        assert (booked.key, booked.due, booked.number, booked.agent) == (uniqueid, due, "2125550101", "1001")
        assert _desk(again)["callbacks"] == [{"due": due, "queue": "support", "number": "2125550101"}]
        assert _desk(again)["state"] == "available"  # the log-in survived too
        run(again, due - again.acd.now() + 1.0)
        assert state(again, PORT[ALICE]) == "ringing" and not again.acd.callbacks.booked
        assert _desk(again)["callbacks"] == []
        again.acd_stats.history.drain()
        assert saved_callbacks(again) == ()  # released: the row is gone


def _press(app, line: int, key: str) -> None:
    app.world.line(line).far_end.say(generate_dtmf(key, on_ms=100.0, off_ms=100.0))


def _callback_office(tmp_path, busy_lines: bool = False):
    config = queue_config(wrapup_s=30, announce_hold_time=False)
    support = replace(config.queues[0], callback=QueueCallback(enabled=True, max_attempts=2, retry_s=30))
    config = replace(config, queues=(support,))
    if busy_lines:  # answer supervision: only a far end that answers counts as reached
        config = replace(config, lines=tuple(replace(line, answer_by_polarity_reversal=True) for line in config.lines))
    return office(tmp_path, config=config, contacts=(ANN_CALLER,))


ANN_CALLER = Contact("Ann Caller", ("2125557788",), "4711", (("plan", "gold"),))


def _ask_for_a_callback(app) -> None:
    inbound_call(app, LINE_1, number="2125557788", seconds=5.0)
    _press(app, LINE_1, "*")
    run(app, 3.0)
    assert state(app, LINE_1) == "idle"  # thanked and released: the ACD calls back
    login(app, ALICE, "1001")
    run(app, 1.0)
    assert state(app, PORT[ALICE]) == "ringing"


def _pop(app) -> dict:
    """The agent page's document, as the web admin builds it from ``show desk`` and the stores."""
    row = _desk(app)
    number = row["call"]["caller_number"] if row["call"] else ""
    app.cdr_writer.drain()
    with CdrStore(app.cdr.path) as cdr:
        calls, entries = cdr.calls_from(number, 10), cdr.dispositions(number, 10)
    return screen_pop(row, app.switch.config, app.contacts, calls, entries)


def test_an_acd_callback_pops_the_callers_record_on_the_desk_like_an_inbound_call(tmp_path):
    with _callback_office(tmp_path) as app:
        inbound_call(app, LINE_1, number="2125557788", seconds=6.0)  # an earlier call, given up waiting
        app.world.line(LINE_1).far_end_hangup()
        run(app, 2.0)
        (abandoned,) = [r.uniqueid for r in records(app)]
        _ask_for_a_callback(app)
        offered = _pop(app)["call"]
        assert (offered["phase"], offered["caller_number"], offered["queue"]) == ("offered", "2125557788", "support")
        assert _desk(app)["call"]["kind"] == "callback"
        assert offered["contact"] == {"name": "Ann Caller", "account": "4711", "numbers": ["+12125557788"],
                                      "fields": {"plan": "gold"}}
        (earlier,) = offered["history"]  # the caller's earlier call (abandoned); not the callback's own
        assert earlier["uniqueid"] == abandoned and offered["uniqueid"] != abandoned
        assert offered["script"] == "Hello Ann Caller, thank you for calling support. I see account 4711; how can I help?"
        app.world.phone(PORT[ALICE]).offhook()
        run(app, 1.0)
        assert _desk(app)["call"]["phase"] == "connected"  # on the call: the box dials the caller
        run(app, 11.0)
        assert any(state(app, line) == "connected" for line in (LINE_1, LINE_2))
        hang_up(app, ALICE)
        run(app, 1.0)
        ended = _desk(app)
        assert ended["call"]["phase"] == "ended" and ended["state"] == "wrapup"
        answer = desk.dispose_on_loop(app.switch, "1001", "1", "called back", None)
        assert ended["call"]["uniqueid"] in answer
        app.dispositions.drain()
        stored = CdrStore(app.cdr.path).disposition(ended["call"]["uniqueid"])
        assert (stored.code, stored.caller_number, stored.note) == ("1", "2125557788", "called back")


def test_an_acd_callback_that_reaches_nobody_leaves_the_desk_and_a_missed_ring_is_withdrawn(tmp_path):
    with _callback_office(tmp_path, busy_lines=True) as app:
        for line in (LINE_1, LINE_2):
            app.world.line(line).script_outgoing(outcome="busy")
        _ask_for_a_callback(app)
        assert _desk(app)["call"]["kind"] == "callback"
        app.world.phone(PORT[ALICE]).offhook()
        run(app, 10.0)  # dialled; busy: the attempt failed and is parked for a retry
        assert _desk(app)["call"] is None  # nothing to dispose of
        hang_up(app, ALICE)
        run(app, 30.0)
        assert state(app, PORT[ALICE]) == "ringing" and _desk(app)["call"]["phase"] == "offered"  # the retry
        run(app, app.switch.config.queues[0].ring_s + 1.0)  # the agent lets it ring out: withdrawn
        assert state(app, PORT[ALICE]) == "idle" and _desk(app)["call"] is None


def test_supervisor_pauses_and_logs_out_an_agent_through_the_console(tmp_path):
    with office(tmp_path, config=queue_config()) as app:
        login(app, ALICE, "1001")
        before = json.loads(desk.desk_on_loop(app.switch, None))["version"]
        assert desk.change_on_loop(app.switch, "pause", "1001", "lunch") == "agent 1001 paused (lunch)"
        row = _desk(app)
        assert (row["state"], row["pause_reason"]) == ("paused", "lunch")
        assert json.loads(desk.desk_on_loop(app.switch, None))["version"] > before
        assert events_of(app, "PAUSE")[-1][5] == "lunch"
        desk.change_on_loop(app.switch, "logout", "1001")
        assert _desk(app)["state"] == "loggedout"


def _booked_by_alice_while_bob_idles_longer(app) -> None:
    """Alice takes a call; Bob logs in meanwhile (so, Alice's idle time starting at the call's
    end, Bob has been idle longer: leastrecent would pick him); Alice books a callback in 4 s."""
    login(app, ALICE, "1001")
    inbound_call(app, LINE_1, number="2125550101", seconds=5.0)
    app.world.phone(PORT[ALICE]).offhook()
    run(app, 2.0)
    login(app, "204", "1002")
    app.world.line(LINE_1).far_end_hangup()
    run(app, 1.5)
    hang_up(app, ALICE)
    run(app, 0.5)
    desk.dispose_on_loop(app.switch, "1001", "2", "", app.acd.now() + 4.0)
    run(app, 5.0)


def test_a_booked_callback_rings_the_booking_agent_before_an_agent_idle_longer(tmp_path):
    config = queue_config(wrapup_s=0)
    config = replace(config, queues=(replace(config.queues[0], callback=QueueCallback(enabled=True)),))
    with office(tmp_path, config=config) as app:
        _booked_by_alice_while_bob_idles_longer(app)
        assert (state(app, PORT[ALICE]), state(app, PORT["204"])) == ("ringing", "idle")


def test_with_no_grace_period_the_booked_callback_goes_to_the_agent_idle_longest(tmp_path):  # the control
    config = queue_config(wrapup_s=0)
    config = replace(config, queues=(replace(config.queues[0], callback=QueueCallback(enabled=True)),),
                     acd=replace(config.acd, callback_agent_grace_s=0))
    with office(tmp_path, config=config) as app:
        _booked_by_alice_while_bob_idles_longer(app)
        assert (state(app, PORT[ALICE]), state(app, PORT["204"])) == ("idle", "ringing")
