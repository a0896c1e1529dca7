"""Leaving a message (firmware/voicemail/deposit.py) on the virtual board: the caller hears the
greeting and the tone, what they say is stored (audio, caller ID, length), ``#`` ends it with
"message saved", a too-short message is discarded, silence and the length limit end it, and calls
reach voicemail by a route, a queue's exit key and a ring group's no-answer destination."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
from acd_engine_helpers import contains, queue_config
from features_helpers import (
    LINE_1,
    LINE_2,
    band_fraction,
    far_end_heard,
    inbound_call,
    office,
    records,
    run,
    state,
    switch_events,
)

import firmware.voicemail.deposit as deposit_module
from drivers.audiofile import read_audio
from dsp.dtmfgen import generate_dtmf
from firmware.config.demo import demo_config
from firmware.config.model import (
    Destination,
    DestinationKind,
    InboundRoute,
    MailboxSettings,
    VoicemailSettings,
)
from firmware.engine.calls import Call, Direction
from firmware.media.words import PROMPT_DIR, trim_silence
from firmware.voicemail.deposit import Phase, kept_chunks

MATCH = 0.9
TO_VOICEMAIL = Destination(DestinationKind.VOICEMAIL, "201")


def voicemail_config():
    return replace(demo_config(), routes=(InboundRoute("all", TO_VOICEMAIL),))


def speech(seconds: float, word: str = "vm-intro") -> np.ndarray:
    """``seconds`` of a recorded voice (Allison), from its first loud sample."""
    samples = trim_silence(read_audio(PROMPT_DIR / f"{word}.wav"))
    while samples.size < seconds * 8000:
        samples = np.concatenate([samples, samples])
    return samples[: int(seconds * 8000)].astype(np.int16)


def deposit_of(app, line: int = LINE_1):
    found = [d for d in app.voicemail.deposit.deposits.values() if d.line_port == line]
    return found[0] if found else None


def run_until(app, done, seconds: float) -> None:
    for _ in range(int(seconds * 50)):
        if done():
            return
        app.loop.run_ticks(1)
    raise AssertionError(f"not done after {seconds} s: {app.switch.snapshot()}")


def until_recording(app, line: int = LINE_1) -> None:
    def recording() -> bool:
        deposit = deposit_of(app, line)
        return deposit is not None and deposit.phase is Phase.RECORDING

    run_until(app, recording, 20.0)


def call_in(app, line: int = LINE_1, number: str = "2125557788") -> None:
    """An outside caller rings ``line`` (caller ID ``number``); returns once voicemail has the call."""
    inbound_call(app, line, number=number, seconds=0.2)
    run_until(app, lambda: deposit_of(app, line) is not None, 15.0)


def saved(app) -> list:
    app.voicemail.deposit.drain()
    return app.voicemail.store.messages("201")


def prompt(app, *words: str) -> np.ndarray:
    return app.voicemail.deposit.prompts.sentence(list(words))


def test_a_caller_hears_the_greeting_and_the_tone_and_leaves_a_message(tmp_path):
    with office(tmp_path, voicemail_config()) as app, switch_events("voicemail") as events:
        call_in(app, LINE_1, "2125557788")
        assert deposit_of(app) is not None and deposit_of(app).phase is Phase.GREETING
        start = app.switch.tick
        until_recording(app)
        greeting_and_beep = far_end_heard(app, LINE_1, (app.switch.tick - start) * 20)
        greeting = app.voicemail.deposit.prompts.greeting("201")
        assert contains(greeting_and_beep, greeting) > MATCH
        assert contains(greeting_and_beep[-8000:], prompt(app, "beep")) > MATCH  # the tone, last
        said = speech(3.0)
        app.world.line(LINE_1).far_end.say(said)
        run(app, 3.5)
        app.world.line(LINE_1).far_end_hangup()
        run(app, 1.5)
        assert state(app, LINE_1) == "idle" and app.voicemail.deposit.deposits == {}
        [message] = saved(app)
        audio = app.voicemail.store.load_audio(message)
        assert contains(audio, said) > MATCH
        assert abs(message.duration_s - 3.0) <= 0.3
        assert message.caller_number == "2125557788" and message.caller_name == "OUTSIDE"
        [record] = records(app)
        assert (record.disposition, record.dst, record.answer is not None) == ("ANSWERED", "201", True)
        assert [e["mailbox"] for e in events.named("vm_greeting")] == ["201"]
        assert events.named("vm_saved")[0]["id"] == message.id


def test_the_message_is_dated_when_recording_starts(tmp_path):
    with office(tmp_path, voicemail_config()) as app:
        call_in(app)
        until_recording(app)
        started = app.switch.now().timestamp()
        app.world.line(LINE_1).far_end.say(speech(1.5))
        run(app, 2.0)
        app.world.line(LINE_1).far_end_hangup()
        run(app, 1.5)
        [message] = saved(app)
        assert abs(message.received - started) <= 0.04


def test_pound_ends_the_message_without_its_tone_and_the_box_says_saved(tmp_path):
    with office(tmp_path, voicemail_config()) as app, switch_events("voicemail") as events:
        call_in(app)
        until_recording(app)
        said = speech(2.0)
        far_end = app.world.line(LINE_1).far_end
        far_end.say(said)
        run(app, 2.3)
        far_end.say(generate_dtmf("#", on_ms=100.0, off_ms=100.0))
        start = app.switch.tick
        run_until(app, lambda: state(app, LINE_1) == "idle", 10.0)
        closing = far_end_heard(app, LINE_1, (app.switch.tick - start) * 20)
        assert contains(closing, prompt(app, "vm-msgsaved", "vm-goodbye")) > MATCH
        [message] = saved(app)
        audio = app.voicemail.store.load_audio(message)
        assert contains(audio, said) > MATCH and abs(message.duration_s - 2.0) <= 0.3
        # No trace of the digit (941 + 1477 Hz) in the last 300 ms of the message.
        tail = audio[-2400:]
        assert band_fraction(tail, 941.0) + band_fraction(tail, 1477.0) < 0.05
        [record] = records(app)
        assert (record.hangup_cause, record.hangup_by, record.disposition) == ("voicemail", "system", "ANSWERED")
        assert events.named("vm_recording_ended")[0]["reason"] == "key"


def test_pound_during_the_greeting_skips_to_the_tone(tmp_path):
    with office(tmp_path, voicemail_config()) as app:
        call_in(app)
        run(app, 1.0)
        assert deposit_of(app).phase is Phase.GREETING
        app.world.line(LINE_1).far_end.say(generate_dtmf("#", on_ms=100.0, off_ms=100.0))
        run(app, 0.4)
        assert deposit_of(app).phase is Phase.BEEP
        run(app, 1.0)
        assert deposit_of(app).phase is Phase.RECORDING  # the whole greeting is ~11 s


def test_other_keys_including_operator_are_ignored(tmp_path):
    with office(tmp_path, voicemail_config()) as app:
        call_in(app)
        run(app, 1.0)
        app.world.line(LINE_1).far_end.say(generate_dtmf("0", on_ms=100.0, off_ms=100.0))
        run(app, 1.0)
        assert deposit_of(app).phase is Phase.GREETING and state(app, LINE_1) == "connected"


def test_a_half_second_message_is_discarded(tmp_path):
    with office(tmp_path, voicemail_config()) as app, switch_events("voicemail") as events:
        call_in(app)
        until_recording(app)
        app.world.line(LINE_1).far_end.say(speech(0.5))
        run(app, 0.8)
        app.world.line(LINE_1).far_end_hangup()
        run(app, 1.5)
        assert saved(app) == []
        [discarded] = events.named("vm_discarded")
        assert discarded["reason"] == "too_short" and discarded["seconds"] < 1.0
        assert not (tmp_path / "voicemail" / "201").exists() or not any((tmp_path / "voicemail" / "201").iterdir())


def test_hanging_up_during_the_greeting_leaves_nothing(tmp_path):
    with office(tmp_path, voicemail_config()) as app, switch_events("voicemail") as events:
        call_in(app)
        run(app, 1.0)
        app.world.line(LINE_1).far_end_hangup()
        run(app, 1.5)
        assert saved(app) == [] and app.voicemail.deposit.deposits == {}
        assert events.named("vm_discarded")[0]["reason"] == "hung_up_before_tone"


def test_ten_seconds_of_silence_end_the_recording(tmp_path):
    with office(tmp_path, voicemail_config()) as app, switch_events("voicemail") as events:
        call_in(app)
        until_recording(app)
        said = speech(2.0)
        app.world.line(LINE_1).far_end.say(said)
        run(app, 11.0)
        assert deposit_of(app).phase is Phase.RECORDING  # 9 s of silence so far: still recording
        run(app, 1.5)
        assert deposit_of(app).phase is Phase.CLOSING
        run_until(app, lambda: state(app, LINE_1) == "idle", 8.0)
        [message] = saved(app)
        assert abs(message.duration_s - 2.0) <= 0.3  # the 10 s of silence are not kept
        assert contains(app.voicemail.store.load_audio(message), said) > MATCH
        assert events.named("vm_recording_ended")[0]["reason"] == "silence"


def test_the_length_limit_ends_the_recording_with_goodbye(tmp_path):
    # The mailbox's own max_message_s (voicemail.mailboxes, default 180 s); the rule is the same.
    config = replace(voicemail_config(), voicemail=VoicemailSettings(mailboxes=(MailboxSettings("201",
                                                                                                 max_message_s=4),)))
    with office(tmp_path, config) as app, switch_events("voicemail") as events:
        call_in(app)
        until_recording(app)
        app.world.line(LINE_1).far_end.say(speech(8.0))
        recording_from = app.switch.tick
        run_until(app, lambda: deposit_of(app).phase is Phase.CLOSING, 5.0)
        assert (app.switch.tick - recording_from) * 0.02 == pytest.approx(4.0, abs=0.05)
        start = app.switch.tick - 1
        run_until(app, lambda: state(app, LINE_1) == "idle", 5.0)
        closing = far_end_heard(app, LINE_1, (app.switch.tick - start) * 20)
        assert contains(closing, prompt(app, "vm-goodbye")) > MATCH
        assert contains(closing, prompt(app, "vm-msgsaved")) < 0.5
        [message] = saved(app)
        assert message.duration_s == pytest.approx(4.0, abs=0.05)
        assert events.named("vm_recording_ended")[0]["reason"] == "max_length"


def test_two_callers_leave_messages_at_once(tmp_path):
    with office(tmp_path, voicemail_config()) as app:
        inbound_call(app, LINE_1, number="2125550001", seconds=0.2)
        call_in(app, LINE_2, "2125550002")
        until_recording(app, LINE_1)
        until_recording(app, LINE_2)
        first, second = speech(2.0, "vm-intro"), speech(2.0, "vm-isunavail")
        app.world.line(LINE_1).far_end.say(first)
        app.world.line(LINE_2).far_end.say(second)
        run(app, 2.5)
        app.world.line(LINE_1).far_end_hangup()
        app.world.line(LINE_2).far_end_hangup()
        run(app, 1.5)
        by_caller = {m.caller_number: app.voicemail.store.load_audio(m) for m in saved(app)}
        assert contains(by_caller["2125550001"], first) > MATCH
        assert contains(by_caller["2125550002"], second) > MATCH
        assert contains(by_caller["2125550001"], second) < 0.5


def test_a_queue_exit_key_leads_to_voicemail(tmp_path):
    config = queue_config(exit_key="0", exit_destination=TO_VOICEMAIL)
    with office(tmp_path, config) as app:
        inbound_call(app, LINE_1, seconds=3.0)
        app.world.line(LINE_1).far_end.say(generate_dtmf("0", on_ms=100.0, off_ms=100.0))
        run(app, 1.0)
        assert deposit_of(app) is not None
        until_recording(app)
        said = speech(2.0)
        app.world.line(LINE_1).far_end.say(said)
        run(app, 2.5)
        app.world.line(LINE_1).far_end_hangup()
        run(app, 1.5)
        [message] = saved(app)
        assert contains(app.voicemail.store.load_audio(message), said) > MATCH


def test_a_ring_group_nobody_answers_sends_the_caller_to_voicemail(tmp_path):
    # The demo office in business hours: the ring group "office" rings 30 s, then voicemail 201.
    with office(tmp_path) as app, switch_events("switch") as events:
        inbound_call(app, LINE_1, seconds=0.2)
        run_until(app, lambda: state(app, 2) == "ringing", 15.0)
        assert deposit_of(app) is None
        run_until(app, lambda: deposit_of(app) is not None, 31.0)
        assert events.named("ring_group_no_answer") and deposit_of(app) is not None
        assert all(state(app, port) == "idle" for port in (2, 3, 4, 5))
        until_recording(app)
        said = speech(1.5)
        app.world.line(LINE_1).far_end.say(said)
        run(app, 2.0)
        app.world.line(LINE_1).far_end_hangup()
        run(app, 1.5)
        [message] = saved(app)
        assert contains(app.voicemail.store.load_audio(message), said) > MATCH


def test_a_failed_save_is_logged_and_the_box_goes_on(tmp_path, monkeypatch):
    with office(tmp_path, voicemail_config()) as app, switch_events("voicemail") as events:
        def refuse(*args, **kwargs):
            raise deposit_module.FirmwareError("voicemail: cannot write message for mailbox 201: disk full")

        monkeypatch.setattr(app.voicemail.store, "save", refuse)
        call_in(app)
        until_recording(app)
        app.world.line(LINE_1).far_end.say(speech(1.5))
        run(app, 2.0)
        app.world.line(LINE_1).far_end_hangup()
        run(app, 1.5)
        app.voicemail.deposit.drain()
        assert "disk full" in events.named("vm_save_failed")[0]["error"]
        monkeypatch.undo()
        run(app, 2.0)  # the line's guard time
        call_in(app)  # the next caller is served


def test_a_mailbox_must_be_an_extension_with_voicemail_on(tmp_path):
    with office(tmp_path, voicemail_config()) as app:
        deposit = app.voicemail.deposit
        call = Call(99, LINE_1, Direction.INBOUND, app.switch.tick)
        assert deposit.take(call, LINE_1, "202") is False  # voicemail off
        assert deposit.take(call, LINE_1, "299") is False  # no such extension
        assert deposit.deposits == {} and call.answer_tick is None and state(app, LINE_1) == "idle"


@pytest.mark.parametrize("sound, by_digit, kept", [
    ([True] * 10, False, 10),
    ([True] * 10 + [False] * 30, False, 20),  # 10 ticks of sound + 200 ms
    ([True] * 10 + [False] * 5, False, 15),
    ([False] * 20, False, 0),
    ([True] * 20 + [False] * 10 + [True] * 3, True, 28),  # the digit's 5 ticks go, then the silence
    ([True] * 5 + [True] * 5, True, 5),
])
def test_kept_chunks_trims_the_digit_and_trailing_silence(sound, by_digit, kept):
    assert kept_chunks(sound, by_digit) == kept


def test_voicemail_logs_use_the_voicemail_component(tmp_path, caplog):
    with office(tmp_path, voicemail_config()) as app, caplog.at_level(logging.INFO, logger="linebox.voicemail"):
        call_in(app)
    assert any(r.name == "linebox.voicemail" and r.getMessage() == "vm_greeting" for r in caplog.records)
