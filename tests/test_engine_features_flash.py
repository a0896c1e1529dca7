"""Hook flash end to end on the virtual board: hold, consultation, blind and attended
transfer, three-way conference, return from consultation, recall, trunk-to-trunk rules.

Phones and far ends talk distinct tones (features_helpers.VOICE_HZ); who hears whom is
checked by spectrum, hold music by correlation with the music file the box loaded.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from features_helpers import (
    LINE_1,
    LINE_2,
    SILENT,
    VOICE_HZ,
    band_fraction,
    best_match,
    dial,
    far_end_heard,
    flash,
    hang_up,
    heard,
    hears,
    inbound_call,
    internal_call,
    office,
    records,
    rms,
    run,
    sine,
    state,
    switch_events,
    talk,
)

from board.virtual.pstn import FarEnd
from firmware.config.demo import demo_config
from firmware.config.model import Security


def _on(samples: np.ndarray, frame_ms: int = 10, threshold: float = 300.0) -> np.ndarray:
    """Per ``frame_ms`` frame: is there a signal?"""
    n = 8 * frame_ms
    frames = samples[: len(samples) // n * n].astype(np.float64).reshape(-1, n)
    return np.sqrt((frames**2).mean(axis=1)) > threshold


def test_flash_holds_the_other_party_with_music_and_gives_recall_dial_tone(tmp_path):
    with office(tmp_path) as app:
        internal_call(app, "201", "202")
        talk(app, 2)
        talk(app, 3)
        run(app, 1.0)
        assert hears(heard(app, 2), 3) > 0.9 and hears(heard(app, 3), 2) > 0.9
        app.world.phone(2).stop_talking()  # silent for a moment: the flasher's tone starts from silence
        run(app, 0.2)
        start = app.world.tick
        flash(app, "202", seconds=1.0)
        assert state(app, 3) == "dialtone" and state(app, 2) == "connected"
        flasher = app.world.heard(3, since_tick=start)
        talk(app, 2)
        run(app, 1.0)
        # The held party hears the music file from its beginning, and nothing of the flasher.
        music = app.switch.flash.hold_music
        assert music is not None and len(music) > 8000 * 30
        held = heard(app, 2, 1000)
        assert best_match(held, music[: 8000 * 10]) > 0.99
        assert rms(held) > 500
        # The flasher hears recall dial tone (350+440 Hz): three 100 ms bursts, then steady;
        # nothing of the held party.
        assert hears(heard(app, 3, 1000), 2) < SILENT
        assert band_fraction(heard(app, 3, 1000), 350) + band_fraction(heard(app, 3, 1000), 440) > 0.9
        on = _on(flasher)
        first = int(np.argmax(on))
        slots = on[first : first + 60].reshape(6, 10)[:, 2:8]  # the middle of each 100 ms slot
        assert slots[0::2].all() and not slots[1::2].any()
        assert on[first + 60 : first + 150].all()


def test_hold_tone_when_there_is_no_music(tmp_path):
    with office(tmp_path) as app:
        app.switch.flash.music = lambda: None  # as when no music could be read
        internal_call(app, "201", "202")
        talk(app, 3)
        flash(app, "202", seconds=1.0)
        held = heard(app, 2, 1000)
        on = _on(held)
        assert hears(held, 3) < SILENT
        assert 25 <= on.sum() <= 35  # one 300 ms burst of 350+440 Hz in the first second
        assert band_fraction(held, 350) + band_fraction(held, 440) > 0.9


def test_blind_transfer_held_party_hears_ringback_then_talks_to_the_target(tmp_path):
    with office(tmp_path) as app:
        internal_call(app, "201", "202")
        flash(app, "202")
        dial(app, "202", "203")
        assert state(app, 4) == "ringing" and state(app, 3) == "ringback"
        hang_up(app, "202")
        assert state(app, 3) == "idle" and state(app, 2) == "ringback" and state(app, 4) == "ringing"
        run(app, 1.0)
        ringback = heard(app, 2, 1000)
        assert band_fraction(ringback, 440) + band_fraction(ringback, 480) > 0.9
        app.world.phone(4).offhook()
        run(app, 0.5)
        assert state(app, 2) == state(app, 4) == "connected"
        talk(app, 2)
        talk(app, 4)
        run(app, 1.0)
        assert hears(heard(app, 2), 4) > 0.9 and hears(heard(app, 4), 2) > 0.9
        assert app.loop.mixer.bridged_pairs() == [(2, 4)]
        hang_up(app, "201")
        first, consultation, continued = records(app)
    assert (first.src_port, first.dst_port, first.hangup_cause) == (2, 3, "blind_transfer")
    assert first.disposition == "ANSWERED" and first.hangup_by == "callee"
    assert (consultation.src_port, consultation.dst, consultation.hangup_cause) == (3, "203", "blind_transfer")
    assert consultation.disposition == "NO ANSWER"
    assert (continued.src_port, continued.dst_port, continued.caller_number) == (2, 4, "201")
    assert continued.disposition == "ANSWERED" and continued.hangup_cause == "normal_clearing"
    assert continued.userfield == f"transfer {first.uniqueid}"
    assert continued.start >= first.end


def test_attended_transfer_after_the_target_answered(tmp_path):
    with office(tmp_path) as app:
        internal_call(app, "201", "202")
        talk(app, 2)
        flash(app, "202")
        dial(app, "202", "203")
        app.world.phone(4).offhook()
        talk(app, 4)
        run(app, 1.0)
        # Consulting: 202 and 203 talk, 201 hears only music.
        assert hears(heard(app, 3), 4) > 0.9 and hears(heard(app, 4), 3) < SILENT
        assert hears(heard(app, 2), 4) < SILENT
        hang_up(app, "202")
        run(app, 1.0)
        assert state(app, 2) == state(app, 4) == "connected"
        assert hears(heard(app, 2), 4) > 0.9 and hears(heard(app, 4), 2) > 0.9
        hang_up(app, "203")
        first, consultation, continued = records(app)
    assert first.hangup_cause == consultation.hangup_cause == "attended_transfer"
    assert consultation.disposition == "ANSWERED" and consultation.dst_port == 4
    assert (continued.src_port, continued.dst_port, continued.hangup_by) == (2, 4, "callee")
    assert continued.answer == continued.start  # the new leg starts answered
    assert continued.userfield == f"transfer {first.uniqueid}"


def _three_way(app):
    internal_call(app, "201", "202")
    flash(app, "202")
    dial(app, "202", "203")
    app.world.phone(4).offhook()
    run(app, 0.4)
    for port in (2, 3, 4):
        talk(app, port)
    flash(app, "202", seconds=1.2)


def test_three_way_conference_each_hears_the_other_two(tmp_path):
    with office(tmp_path) as app:
        _three_way(app)
        assert sorted(app.loop.mixer.bridged_pairs()) == [(2, 3), (2, 4), (3, 4)]
        for port in (2, 3, 4):
            audio = heard(app, port)
            others = [p for p in (2, 3, 4) if p != port]
            for other in others:
                assert 0.35 < hears(audio, other) < 0.65, (port, other)
            assert hears(audio, port) < SILENT, port


def test_flash_in_the_conference_drops_the_last_added_party(tmp_path):
    with office(tmp_path) as app:
        _three_way(app)
        flash(app, "202", seconds=2.0)
        assert state(app, 4) == "failed"
        dropped = heard(app, 4)
        assert band_fraction(dropped, 480) + band_fraction(dropped, 620) > 0.9  # busy tone
        assert hears(heard(app, 2), 3) > 0.9 and hears(heard(app, 3), 2) > 0.9
        assert app.loop.mixer.bridged_pairs() == [(2, 3)]
        causes = [r.hangup_cause for r in records(app)]
    assert causes == ["conference_drop"]


def test_conference_controller_hangs_up_the_others_stay_connected(tmp_path):
    with office(tmp_path) as app:
        _three_way(app)
        hang_up(app, "202")
        run(app, 1.0)
        assert app.loop.mixer.bridged_pairs() == [(2, 4)]
        assert hears(heard(app, 2), 4) > 0.9 and hears(heard(app, 4), 2) > 0.9


def test_conference_party_leaves_the_other_two_go_on(tmp_path):
    with office(tmp_path) as app:
        _three_way(app)
        hang_up(app, "201")
        run(app, 1.0)
        assert app.loop.mixer.bridged_pairs() == [(3, 4)]
        assert hears(heard(app, 3), 4) > 0.9 and state(app, 2) == "idle"
        hang_up(app, "203")
        run(app, 1.0)
        assert state(app, 3) == "failed"  # the last partner gone: busy tone


def test_flash_at_the_consultation_dial_tone_returns_to_the_held_party(tmp_path):
    with office(tmp_path) as app:
        internal_call(app, "201", "202")
        talk(app, 2)
        talk(app, 3)
        flash(app, "202")
        assert state(app, 3) == "dialtone"
        flash(app, "202", seconds=1.0)
        assert state(app, 3) == "connected" and app.loop.mixer.bridged_pairs() == [(2, 3)]
        assert hears(heard(app, 2), 3) > 0.9 and hears(heard(app, 3), 2) > 0.9


def test_flash_after_a_busy_consultation_returns_to_the_held_party(tmp_path):
    with office(tmp_path) as app:
        app.world.phone(4).offhook()  # 203 is busy (at dial tone: no call waiting either)
        internal_call(app, "201", "202")
        talk(app, 2)
        flash(app, "202")
        dial(app, "202", "203")
        assert state(app, 3) == "failed"
        busy = heard(app, 3, 500)
        assert band_fraction(busy, 480) + band_fraction(busy, 620) > 0.9
        flash(app, "202", seconds=1.0)
        assert state(app, 3) == "connected" and hears(heard(app, 3), 2) > 0.9


def test_flash_while_the_consultation_rings_cancels_it(tmp_path):
    with office(tmp_path) as app:
        internal_call(app, "201", "202")
        talk(app, 2)
        flash(app, "202")
        dial(app, "202", "203")
        assert state(app, 4) == "ringing"
        flash(app, "202", seconds=1.0)
        assert state(app, 4) == "idle" and state(app, 3) == "connected"
        assert hears(heard(app, 3), 2) > 0.9
        cancelled = records(app)[0]
    assert (cancelled.src_port, cancelled.hangup_cause, cancelled.disposition) == (3, "consultation_cancelled",
                                                                                   "NO ANSWER")


def test_hanging_up_with_a_call_on_hold_rings_back(tmp_path):
    with office(tmp_path) as app:
        internal_call(app, "201", "202")
        talk(app, 2)
        flash(app, "202")
        bursts = app.world.phone(3).ring_bursts
        hang_up(app, "202")
        assert state(app, 3) == "ringing" and state(app, 2) == "connected"
        run(app, 2.0)
        assert app.world.phone(3).ring_bursts == bursts + 1  # the phone really rings (2 s on, 4 s off)
        assert best_match(heard(app, 2, 500), app.switch.flash.hold_music[: 8000 * 10]) > 0.99
        app.world.phone(3).offhook()
        run(app, 1.0)
        assert state(app, 3) == "connected" and hears(heard(app, 3), 2) > 0.9
        assert records(app) == []  # still the one call


@pytest.mark.parametrize("allowed", [False, True])
def test_transfer_of_an_outside_call_to_an_outside_number_needs_trunk_to_trunk(tmp_path, allowed):
    config = replace(demo_config(), security=replace(Security(), trunk_to_trunk_allowed=allowed))
    with office(tmp_path, config=config) as app, switch_events() as events:
        inbound_call(app, LINE_1)
        app.world.phone(2).offhook()  # 201 answers the ring group
        run(app, 0.5)
        assert state(app, LINE_1) == state(app, 2) == "connected"
        talk(app, LINE_1)
        flash(app, "201")
        app.world.line(LINE_2).script_outgoing(outcome="answer", answer_after_ms=500, digits=10,
                                               far_end=FarEnd(np.tile(sine(VOICE_HZ[LINE_2]), 60)))
        dial(app, "201", "92125551234", seconds=6.0)
        assert state(app, 2) == state(app, LINE_2) == "connected"
        assert hears(heard(app, 2), LINE_2) > 0.9
        assert best_match(far_end_heard(app, LINE_1, 500), app.switch.flash.hold_music[: 8000 * 20]) > 0.99
        hang_up(app, "201")
        run(app, 1.0)
        if allowed:
            assert app.loop.mixer.bridged_pairs() == [(LINE_1, LINE_2)]
            assert hears(far_end_heard(app, LINE_1), LINE_2) > 0.9
            assert hears(far_end_heard(app, LINE_2), LINE_1) > 0.9
            assert events.named("attended_transfer")
        else:
            (refusal,) = events.named("transfer_refused")
            assert "trunk_to_trunk_allowed" in refusal["reason"]
            assert state(app, LINE_2) == "idle" and state(app, 2) == "ringing"  # recall
            assert state(app, LINE_1) == "connected"


def test_conference_of_two_outside_lines_is_refused_without_trunk_to_trunk(tmp_path):
    with office(tmp_path) as app, switch_events() as events:
        inbound_call(app, LINE_1)
        app.world.phone(2).offhook()
        run(app, 0.5)
        flash(app, "201")
        app.world.line(LINE_2).script_outgoing(outcome="answer", answer_after_ms=500, digits=10)
        dial(app, "201", "92125551234", seconds=6.0)
        assert state(app, LINE_2) == "connected"
        flash(app, "201", seconds=0.5)
        (refusal,) = events.named("conference_refused")
        assert "trunk_to_trunk_allowed" in refusal["reason"]
        assert app.loop.mixer.bridged_pairs() == [(LINE_2, 2)]
        refused = heard(app, 2, 400)
        assert band_fraction(refused, 480) + band_fraction(refused, 620) > 0.9  # reorder bursts


def test_held_party_hangs_up_the_consultation_is_a_plain_call(tmp_path):
    with office(tmp_path) as app, switch_events() as events:
        internal_call(app, "201", "202")
        flash(app, "202")
        hang_up(app, "201")
        assert events.named("held_party_left") and app.switch.flash.sessions == {}
        dial(app, "202", "203")
        assert state(app, 4) == "ringing"
        hang_up(app, "202")  # no transfer, no recall: the call simply ends
        assert state(app, 3) == state(app, 4) == "idle"
        causes = [r.hangup_cause for r in records(app)]
    assert causes == ["normal_clearing", "normal_clearing"]


def test_a_recall_nobody_answers_ends_the_held_call(tmp_path):
    with office(tmp_path) as app:
        internal_call(app, "201", "202")
        flash(app, "202")
        hang_up(app, "202")
        assert state(app, 3) == "ringing"
        run(app, 58.0)
        assert state(app, 3) == "ringing" and state(app, 2) == "connected"
        run(app, 2.0)  # RECALL_RING_S = 60
        assert state(app, 3) == "idle" and state(app, 2) == "failed"
        (record,) = records(app)
    assert (record.hangup_cause, record.hangup_by) == ("recall_no_answer", "system")


@pytest.mark.parametrize(("break_ms", "outcome"), [(70, "nothing"), (85, "hold"), (790, "hold"), (850, "hang-up")])
def test_only_a_break_inside_the_zone_flash_window_holds(tmp_path, break_ms, outcome):
    """US timing (drivers/timing.py): breaks up to 75 ms are dial pulses, 80-800 ms a flash, longer a hang-up."""
    with office(tmp_path) as app:
        internal_call(app, "201", "202")
        app.world.phone(3).flash(break_ms)
        run(app, 1.5)
        expected = {"nothing": ("connected", "connected"), "hold": ("dialtone", "connected"),
                    "hang-up": ("dialtone", "failed")}[outcome]
        assert (state(app, 3), state(app, 2)) == expected
        assert bool(app.switch.flash.sessions) is (outcome == "hold")
