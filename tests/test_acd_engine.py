"""The ACD inside the running box, end to end on the virtual board: a caller routed to a
queue waits with announcements and music on hold, agents' phones ring with the queue's name
as caller-ID name, the agent hears a whisper, then caller and agent talk; ring timeouts,
abandons, overflow at max wait, wrap-up, exit keys, and the queue_log lines of each."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from acd_engine_helpers import (
    MATCH,
    NO_MATCH,
    events_of,
    login,
    matches,
    phone_heard,
    queue_config,
)
from features_helpers import (
    LINE_1,
    LINE_2,
    PORT,
    dial,
    far_end_heard,
    hang_up,
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
)

from board.virtual.pstn import FarEnd
from dsp.callerid_fsk import CallerIdReceiver
from firmware.config.model import Destination, DestinationKind

ALICE, BOB = "203", "204"  # where agents 1001 and 1002 sit


def caller_id_names(samples: np.ndarray) -> list[tuple[str, str]]:
    receiver = CallerIdReceiver(1, "bell202")
    messages = receiver.process(np.asarray(samples, dtype=np.float64)[None, :]) + receiver.flush()
    return [(m.message.caller.number, m.message.caller.name) for m in messages if m.message.checksum_ok]


def test_caller_hears_entry_prompt_then_music_agent_rings_hears_whisper_then_they_talk(tmp_path):
    with office(tmp_path, config=queue_config(announce_hold_time=False)) as app, switch_events("acd") as events:
        login(app, ALICE, "1001")
        prompts = app.acd.prompts
        inbound_call(app, LINE_1, number="2125557788", seconds=5.0)
        # position 1: "your call is now first in line" while the agent's phone rings
        assert matches(far_end_heard(app, LINE_1, 1500), prompts.sentence(["queue-youarenext"])) > MATCH
        assert state(app, PORT[ALICE]) == "ringing"
        (route,) = events.named("route")
        assert route["chosen"] == "1001" and route["strategy"] == "leastrecent"
        run(app, 3.0)  # the first ring, then caller ID in the pause
        assert caller_id_names(phone_heard(app, ALICE, 6000)) == [("2125557788", "support")]
        run(app, 3.0)  # the prompt is over: music on hold
        assert matches(far_end_heard(app, LINE_1, 1000), app.acd.music.samples("default")) > MATCH
        app.world.phone(PORT[ALICE]).offhook()
        talk(app, LINE_1)
        run(app, 1.0)
        whisper = prompts.whisper("700")
        assert matches(phone_heard(app, ALICE, 800), whisper) > MATCH  # beep, seven zero zero
        assert hears(phone_heard(app, ALICE, 800), LINE_1) < 0.01  # not the caller yet
        assert matches(far_end_heard(app, LINE_1, 800), app.acd.music.samples("default")) > MATCH
        run(app, whisper.size / 8000.0)
        talk(app, PORT[ALICE])
        run(app, 1.0)
        assert hears(phone_heard(app, ALICE, 500), LINE_1) > 0.5
        assert hears(far_end_heard(app, LINE_1, 500), PORT[ALICE]) > 0.5
        hang_up(app, ALICE)
        assert state(app, LINE_1) == "idle"
        kinds = [fields[4] for fields in events_of(app, "CONNECT") + events_of(app, "COMPLETEAGENT")]
        assert kinds == ["CONNECT", "COMPLETEAGENT"]
        (record,) = [r for r in records(app) if r.src_port == LINE_1]
        assert record.disposition == "ANSWERED" and record.dst_port == PORT[ALICE]


def test_ring_timeout_moves_the_offer_to_the_next_agent(tmp_path):
    with office(tmp_path, config=queue_config(ring_s=5, announce_hold_time=False)) as app:
        login(app, ALICE, "1001")
        login(app, BOB, "1002")
        inbound_call(app, LINE_1, seconds=5.0)
        assert state(app, PORT[ALICE]) == "ringing" and state(app, PORT[BOB]) == "idle"  # longest idle
        run(app, 5.0)
        assert state(app, PORT[ALICE]) == "idle" and state(app, PORT[BOB]) == "ringing"
        (missed,) = events_of(app, "RINGNOANSWER")
        assert missed[3] == "1001" and missed[5] == "5000"  # Asterisk: ring time in ms
        app.world.phone(PORT[BOB]).offhook()
        run(app, 0.5)
        (connect,) = events_of(app, "CONNECT")
        assert connect[3] == "1002"


@pytest.mark.parametrize("ringing", [True, False])
def test_caller_hanging_up_abandons_and_stops_the_agent_ringing(tmp_path, ringing):
    with office(tmp_path, config=queue_config()) as app, switch_events("acd") as events:
        if ringing:
            login(app, ALICE, "1001")
        inbound_call(app, LINE_1, seconds=5.0)
        assert state(app, PORT[ALICE]) == ("ringing" if ringing else "idle")
        app.world.line(LINE_1).far_end_hangup()
        run(app, 2.0)
        assert state(app, LINE_1) == "idle" and state(app, PORT[ALICE]) == "idle"
        assert app.acd.callers == {} and app.acd.core.calls == {}
        (abandon,) = events_of(app, "ABANDON")
        assert abandon[2] == "support" and abandon[5] == "1"  # position 1 when the caller left
        assert events.named("queue_abandoned")
        (record,) = [r for r in records(app) if r.src_port == LINE_1]
        assert record.hangup_by == "caller"


def test_max_wait_sends_the_caller_to_the_overflow_extension(tmp_path):
    overflow = Destination(DestinationKind.EXTENSION, "201")
    with office(tmp_path, config=queue_config(max_wait_s=12, overflow=overflow)) as app:
        inbound_call(app, LINE_1, seconds=5.0)  # nobody logged in: the caller waits
        (enter,) = events_of(app, "ENTERQUEUE")
        run(app, 8.0)
        assert state(app, PORT["201"]) == "idle"
        run(app, 3.0)
        assert state(app, PORT["201"]) == "ringing"
        (timeout,) = events_of(app, "EXITWITHTIMEOUT")
        assert int(timeout[0]) - int(enter[0]) == 12  # the edge, to the second
        assert timeout[2] == "support" and timeout[5:] == ["1", "1", "12"]  # position, orig position, wait
        app.world.phone(PORT["201"]).offhook()
        talk(app, LINE_1)
        run(app, 1.0)
        assert hears(phone_heard(app, "201", 500), LINE_1) > 0.5


def test_max_wait_sends_the_caller_to_an_outside_number_on_another_line(tmp_path):
    overflow = Destination(DestinationKind.OUTSIDE, "912125551234")  # an answering service
    config = queue_config(max_wait_s=12, overflow=overflow)
    config = replace(config, security=replace(config.security, trunk_to_trunk_allowed=True))
    with office(tmp_path, config=config) as app, switch_events("acd") as events:
        app.world.line(LINE_2).script_outgoing(outcome="answer", answer_after_ms=500, digits=11,
                                               far_end=FarEnd(np.tile(sine(700.0), 60)))
        inbound_call(app, LINE_1, seconds=5.0)
        run(app, 6.0)
        assert state(app, LINE_2) == "idle"  # 11 s of waiting: still in the queue
        run(app, 10.0)
        (timeout,) = events_of(app, "EXITWITHTIMEOUT")
        assert timeout[2] == "support"
        (leaves,) = events.named("queue_leaves")
        assert leaves["destination"] == "outside 912125551234"
        assert app.world.line(LINE_2).dialled == "12125551234"  # the prefix stays in the box
        assert state(app, LINE_1) == state(app, LINE_2) == "connected"
        talk(app, LINE_1)
        run(app, 1.0)
        assert hears(far_end_heard(app, LINE_2), LINE_1) > 0.9  # the answering service hears the caller


def test_outside_overflow_is_refused_when_trunk_to_trunk_is_off_at_run_time(tmp_path):
    overflow = Destination(DestinationKind.OUTSIDE, "912125551234")
    config = queue_config(max_wait_s=5, overflow=overflow)
    allowed = replace(config, security=replace(config.security, trunk_to_trunk_allowed=True))
    with office(tmp_path, config=allowed) as app, switch_events("switch") as events:
        app.switch.apply_config(config)  # switched off after the queue was set up
        inbound_call(app, LINE_1, seconds=12.0)
        (refused,) = events.named("destination_refused")
        assert "trunk_to_trunk" in refused["reason"]
        assert app.world.line(LINE_2).dialled == "" and state(app, LINE_2) == "idle"


def test_an_agent_on_another_call_is_busy_for_the_queue(tmp_path):
    with office(tmp_path, config=queue_config()) as app:
        login(app, ALICE, "1001")
        login(app, BOB, "1002")
        internal_call(app, ALICE, "201")  # Alice, the longest idle, takes a private call
        inbound_call(app, LINE_1, seconds=5.0)
        assert state(app, PORT[BOB]) == "ringing" and state(app, PORT[ALICE]) == "connected"
        app.world.phone(PORT[BOB]).offhook()
        run(app, 0.5)
        (connect,) = events_of(app, "CONNECT")
        assert connect[3] == "1002"


def test_wrapup_keeps_the_agent_from_offers_until_it_ends(tmp_path):
    with office(tmp_path, config=queue_config(wrapup_s=20, announce_hold_time=False)) as app:
        login(app, ALICE, "1001")
        inbound_call(app, LINE_1, seconds=5.0)
        app.world.phone(PORT[ALICE]).offhook()
        run(app, 5.0)
        hang_up(app, ALICE, seconds=1.0)  # the call ends; 20 s of wrap-up from here
        (complete,) = events_of(app, "COMPLETEAGENT")
        inbound_call(app, LINE_2, number="2125550000", seconds=8.0)
        run(app, 9.0)
        assert state(app, PORT[ALICE]) == "idle"  # about 17 s of wrap-up: not offered yet
        (_, enter) = events_of(app, "ENTERQUEUE")
        assert int(enter[0]) - int(complete[0]) < 10  # the caller has waited for the wrap-up
        run(app, 4.0)
        assert state(app, PORT[ALICE]) == "ringing"  # wrap-up over (about 21 s)


def test_exit_key_sends_the_caller_to_its_destination(tmp_path):
    from dsp.dtmfgen import generate_dtmf

    exit_to = Destination(DestinationKind.EXTENSION, "202")
    with office(tmp_path, config=queue_config(exit_key="0", exit_destination=exit_to)) as app:
        inbound_call(app, LINE_1, seconds=5.0)
        app.world.line(LINE_1).far_end.say(generate_dtmf("5", on_ms=100.0, off_ms=100.0))
        run(app, 1.0)
        assert state(app, PORT["202"]) == "idle" and len(app.acd.callers) == 1  # not an exit key
        app.world.line(LINE_1).far_end.say(generate_dtmf("0", on_ms=100.0, off_ms=100.0))
        run(app, 1.0)
        assert state(app, PORT["202"]) == "ringing" and app.acd.callers == {}
        (exit_,) = events_of(app, "EXITWITHKEY")
        assert exit_[5] == "0"


def test_ringall_rings_every_agent_and_the_first_to_answer_gets_the_call(tmp_path):
    with office(tmp_path, config=queue_config(strategy="ringall")) as app:
        login(app, ALICE, "1001")
        login(app, BOB, "1002")
        inbound_call(app, LINE_1, seconds=5.0)
        assert state(app, PORT[ALICE]) == state(app, PORT[BOB]) == "ringing"
        app.world.phone(PORT[BOB]).offhook()
        run(app, 0.5)
        assert state(app, PORT[ALICE]) == "idle" and state(app, PORT[BOB]) == "connected"


def test_position_and_hold_time_announcements_and_periodic_prompt(tmp_path):
    config = queue_config(announce_position_s=30, announce_hold_time=True, periodic_announce_s=50)
    with office(tmp_path, config=config) as app, switch_events("acd") as events:
        prompts = app.acd.prompts
        login(app, ALICE, "1001")
        internal_call(app, ALICE, "201")  # staffed but busy: nobody is offered a call
        inbound_call(app, LINE_1, seconds=4.0)
        inbound_call(app, LINE_2, number="2125550000", seconds=9.0)
        first, second = events.named("queue_announce")
        # EWT = position x AHT (180 s before any call) / staffed (1): 180 s and 360 s
        assert (first["position"], first["estimated_wait_s"]) == (1, 180.0)
        assert (second["position"], second["estimated_wait_s"]) == (2, 360.0)
        heard_second = far_end_heard(app, LINE_2, 3000)
        assert matches(heard_second, prompts.announcement(2, 360.0, True)) > MATCH  # 1 call waiting, 6 minutes
        assert matches(heard_second, prompts.announcement(1, 180.0, True)) < NO_MATCH
        app.world.line(LINE_1).far_end_hangup()
        run(app, 26.0)  # 30 s after joining, the second caller hears the position again
        again = events.named("queue_announce")[-1]
        assert (again["call"], again["position"], again["estimated_wait_s"]) == (second["call"], 1, 180.0)
        run(app, 1.0)
        assert matches(far_end_heard(app, LINE_2, 1000), prompts.announcement(1, 180.0, True)) > MATCH
        run(app, 19.5)  # 50 s after joining: the periodic announcement
        assert matches(far_end_heard(app, LINE_2, 1000), prompts.sentence(["queue-periodic-announce"])) > MATCH


def test_a_queue_call_picked_up_elsewhere_leaves_the_queue(tmp_path):
    with office(tmp_path, config=queue_config()) as app, switch_events("acd") as events:
        login(app, ALICE, "1001")
        inbound_call(app, LINE_1, seconds=5.0)
        assert state(app, PORT[ALICE]) == "ringing"
        dial(app, "201", "**203#", 1.5)  # directed pickup of Alice's ringing phone
        assert state(app, PORT["201"]) == "connected" and state(app, PORT[ALICE]) == "idle"
        assert app.acd.callers == {} and app.acd.core.calls == {}
        assert events.named("queue_call_picked_up")[0]["port"] == PORT["201"]
        run(app, 20.0)  # no ring timeout, no second offer for a call that left
        assert state(app, PORT[ALICE]) == "idle" and state(app, PORT["201"]) == "connected"
        assert [fields[4] for fields in events_of(app, "RINGNOANSWER") + events_of(app, "ABANDON")] == ["ABANDON"]


def test_abandon_resume_gives_the_old_place_back(tmp_path):
    config = queue_config(announce_hold_time=False)
    config = replace(config, acd=replace(config.acd, abandon_resume_s=60))
    with office(tmp_path, config=config) as app, switch_events("acd") as events:
        inbound_call(app, LINE_1, number="2125557788", seconds=5.0)
        inbound_call(app, LINE_2, number="2125550000", seconds=5.0)
        app.world.line(LINE_1).far_end_hangup()
        run(app, 2.0)
        inbound_call(app, LINE_1, number="2125557788", seconds=5.0)  # calls again within 60 s
        joins = events.named("queue_join")
        assert [(j["position"], j["resumed"]) for j in joins] == [(1, False), (2, False), (1, True)]


def test_an_extension_dialling_the_queue_number_waits_and_reaches_an_agent(tmp_path):
    with office(tmp_path, config=queue_config(announce_hold_time=False)) as app, switch_events("acd") as events:
        login(app, ALICE, "1001")
        dial(app, "201", "700", 6.0)  # reception calls the support queue
        (join,) = events.named("queue_join")
        assert join["queue"] == "support" and join["joined"] is True
        assert state(app, PORT[ALICE]) == "ringing"
        app.world.phone(PORT[ALICE]).offhook()
        run(app, 4.0)  # the whisper, then they are bridged
        talk(app, PORT["201"])
        run(app, 1.0)
        assert hears(phone_heard(app, ALICE, 500), PORT["201"]) > 0.5
        (connect,) = events_of(app, "CONNECT")
        assert connect[2:4] == ["support", "1001"]
        hang_up(app, "201")
        run(app, 0.5)
        (complete,) = events_of(app, "COMPLETECALLER")
        assert complete[3] == "1001"


def test_the_queue_greeting_comes_before_the_position_and_follows_changes(tmp_path):
    from acd_engine_helpers import contains

    from drivers.audiofile import read_audio, write_wav

    sounds = tmp_path / "sounds"
    sounds.mkdir()
    welcome = read_audio("/usr/share/asterisk/sounds/en_US_f_Allison/vm-theperson.wav")
    write_wav(sounds / "welcome.wav", welcome)
    config = queue_config(announce_hold_time=False, greeting="welcome")
    with office(tmp_path, config=config) as app, switch_events("acd") as events:
        prompts = app.acd.prompts
        inbound_call(app, LINE_1, seconds=3.0)
        expected = prompts.sentence([*prompts.recording("welcome"), "queue-youarenext"])
        run(app, expected.size / 8000.0 + 2.0)
        heard = far_end_heard(app, LINE_1, int(expected.size / 8) + 3000)
        assert contains(heard, expected) > MATCH  # greeting, then the position, in that order
        assert events.named("queue_announce")[0]["greeting"] is True
        app.world.line(LINE_1).far_end_hangup()
        run(app, 1.0)
        # a greeting that does not exist: logged, callers hear the position only
        app.store.save(replace(config, queues=(replace(config.queues[0], greeting="nosuch"),)), source="test")
        run(app, 0.1)
        inbound_call(app, LINE_2, number="2125550000", seconds=6.0)
        assert events.named("queue_announce")[-1]["greeting"] is False
