"""Voicemail's remaining parts on the virtual board, end to end through the production stack:
the operator key, a full mailbox, remote entry with a PIN and its lockout, the envelope, and
changing the PIN and recording a greeting by phone. Outside callers and phones press real
DTMF; what they hear is compared with the recordings (normalised correlation)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from acd_engine_helpers import contains
from features_helpers import (
    LINE_1,
    PORT,
    dial,
    far_end_heard,
    heard,
    inbound_call,
    office,
    run,
    state,
    switch_events,
)

from drivers.audiofile import read_audio
from firmware.accounts.model import MAX_FAILED_LOGINS
from firmware.config.demo import demo_config
from firmware.config.model import (
    Destination,
    DestinationKind,
    InboundRoute,
    MailboxSettings,
    VoicemailSettings,
)
from firmware.media.words import PROMPT_DIR, trim_silence
from firmware.voicemail.greetings import GreetingKind
from firmware.voicemail.pins import PinCheck

MATCH = 0.9
PIN = "4826"


def config_with(**mailbox) -> object:
    return replace(demo_config(), routes=(InboundRoute("all", Destination(DestinationKind.VOICEMAIL, "201")),),
                   voicemail=VoicemailSettings(mailboxes=(MailboxSettings("201", **mailbox),)))


def voice(seconds: float, word: str = "vm-intro") -> np.ndarray:
    samples = trim_silence(read_audio(PROMPT_DIR / f"{word}.wav"))
    while samples.size < seconds * 8000:
        samples = np.concatenate([samples, samples])
    return samples[: int(seconds * 8000)].astype(np.int16)


def sentence(app, *words: str) -> np.ndarray:
    return app.voicemail.deposit.prompts.sentence(list(words))


def until(app, done, seconds: float) -> None:
    for _ in range(int(seconds * 50)):
        if done():
            return
        app.loop.run_ticks(1)
    raise AssertionError(f"not done after {seconds} s: {app.switch.snapshot()}")


def caller_presses(app, keys: str, seconds: float = 1.0) -> None:
    app.world.line(LINE_1).far_end.dial(keys, on_ms=100.0, off_ms=100.0)
    if not keys.endswith("#"):
        run(app, seconds)
        return
    # A PIN is checked on the voicemail's worker thread (scrypt, off the media loop): wait for
    # that check in wall time before the rest of the audio time, or a loaded machine's slower
    # worker would let the unpaced loop run ahead of it and the scenario would change.
    keyed = 0.2 * len(keys) + 0.2
    run(app, keyed)
    app.voicemail.menu.worker.drain()
    run(app, max(seconds - keyed, 0.02))


def greeting_starts(app) -> int:
    inbound_call(app, LINE_1, number="2125557788", seconds=0.2)
    until(app, lambda: any(d.line_port == LINE_1 for d in app.voicemail.deposit.deposits.values()), 15.0)
    return app.switch.tick


def test_zero_during_the_greeting_rings_the_operator(tmp_path):
    config = config_with(operator=Destination(DestinationKind.EXTENSION, "202"))
    with office(tmp_path, config) as app, switch_events("voicemail") as events:
        greeting_starts(app)
        run(app, 1.0)
        caller_presses(app, "0")
        assert state(app, PORT["202"]) == "ringing"
        assert app.voicemail.deposit.deposits == {}
        [event] = events.named("vm_operator")
        assert (event["mailbox"], event["destination"]) == ("201", "extension 202")
        app.world.phone(PORT["202"]).offhook()
        run(app, 1.0)
        assert state(app, PORT["202"]) == "connected" and state(app, LINE_1) == "connected"


def test_a_full_mailbox_says_so_and_takes_nothing(tmp_path):
    with office(tmp_path, config_with(max_messages=1)) as app, switch_events("voicemail") as events:
        app.voicemail.store.save("201", "1", "", 1.0e9, voice(2.0))
        start = greeting_starts(app)
        until(app, lambda: state(app, LINE_1) == "idle", 20.0)
        said = far_end_heard(app, LINE_1, (app.switch.tick - start) * 20)
        assert contains(said, sentence(app, "vm-mailboxfull", "vm-goodbye")) > MATCH
        assert contains(said, sentence(app, "beep")) < 0.5  # no tone: nothing is recorded
        assert [e["messages"] for e in events.named("vm_mailbox_full")] == [1]
        assert app.voicemail.store.count("201") == 1


def test_no_pin_no_entry_from_outside(tmp_path):
    with office(tmp_path, config_with()) as app, switch_events("voicemail") as events:
        start = greeting_starts(app)
        run(app, 1.0)
        caller_presses(app, "*")
        until(app, lambda: state(app, LINE_1) == "idle", 10.0)
        said = far_end_heard(app, LINE_1, (app.switch.tick - start) * 20)
        assert contains(said, sentence(app, "vm-sorry", "vm-goodbye")) > MATCH
        assert [e["result"] for e in events.named("vm_login")] == ["no_pin"]


def test_wrong_pins_from_outside_lock_the_mailbox_even_against_the_right_one(tmp_path):
    with office(tmp_path, config_with()) as app, switch_events("voicemail") as events:
        pins = app.voicemail.pins
        pins.set_pin("201", PIN, app.switch.control.epoch(app.switch.tick))
        wrong = 0
        while wrong < MAX_FAILED_LOGINS:  # three tries per call (maxlogins), so two calls
            greeting_starts(app)
            run(app, 1.0)
            caller_presses(app, "*", 3.0)  # "password"
            for _ in range(min(3, MAX_FAILED_LOGINS - wrong)):
                caller_presses(app, "1357#", 4.0)  # "login incorrect, password"
                wrong += 1
            app.voicemail.menu.worker.drain()
            run(app, 1.0)
            if state(app, LINE_1) != "idle":
                app.world.line(LINE_1).far_end_hangup()
                run(app, 1.5)
        results = [e["result"] for e in events.named("vm_login") if "attempt" in e]
        assert results == ["wrong"] * (MAX_FAILED_LOGINS - 1) + ["locked"]
        # Locked: the right PIN is refused too, and the caller is sent away.
        start = greeting_starts(app)
        run(app, 1.0)
        caller_presses(app, "*", 3.0)
        caller_presses(app, PIN + "#", 2.0)
        until(app, lambda: state(app, LINE_1) == "idle", 10.0)
        assert events.named("vm_login")[-1]["result"] == "locked"
        said = far_end_heard(app, LINE_1, (app.switch.tick - start) * 20)
        assert contains(said, sentence(app, "vm-incorrect", "vm-goodbye")) > MATCH
        assert pins.status("201").locked(app.switch.control.epoch(app.switch.tick))


def test_the_right_pin_from_outside_plays_the_messages_with_their_envelope(tmp_path):
    with office(tmp_path, config_with()) as app, switch_events("voicemail") as events:
        app.voicemail.pins.set_pin("201", PIN, 0.0)
        message = app.voicemail.store.save("201", "2125550199", "", app.switch.control.epoch(0), voice(2.0, "tt-weasels"))
        greeting_starts(app)
        run(app, 1.0)
        caller_presses(app, "*", 3.0)
        start = app.switch.tick
        caller_presses(app, PIN + "#", 30.0)
        said = far_end_heard(app, LINE_1, (app.switch.tick - start) * 20)
        assert [e["result"] for e in events.named("vm_login")] == ["ok"]
        envelope = app.voicemail.menu.envelope.audio(message.received, "2125550199", "en", "UTC")
        assert contains(said, envelope) > MATCH  # "received Saturday ... from phone number 2 1 2 ..."
        body = app.voicemail.store.load_audio(message)
        assert contains(said, body) > MATCH
        assert far_end_offset(said, envelope) < far_end_offset(said, body)  # the envelope first


def far_end_offset(audio: np.ndarray, clip: np.ndarray) -> int:
    a, c = np.asarray(audio, dtype=np.float64), np.asarray(clip, dtype=np.float64)
    size = 1 << int(np.ceil(np.log2(a.size + c.size)))
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(c, size)), size)[: a.size - c.size + 1]
    energy = np.concatenate([[0.0], np.cumsum(a * a)])
    return int(np.argmax(corr / np.sqrt(np.maximum(energy[c.size:] - energy[:-c.size], 1e-9))))


def test_the_owner_changes_the_pin_and_records_a_greeting_by_phone(tmp_path):
    with office(tmp_path, config_with()) as app, switch_events("voicemail") as events:
        pins = app.voicemail.pins
        pins.set_pin("201", PIN, 0.0)
        dial(app, "201", "*97", 3.0)  # "password"
        dial(app, "201", PIN + "#", 3.0)  # "you have no messages, goodbye" ...
        dial(app, "201", "0", 12.0)  # ... 0 during it: the options
        dial(app, "201", "5", 3.0)  # "new password"
        dial(app, "201", "7391#", 3.0)  # "please re-enter"
        dial(app, "201", "7391#", 4.0)  # "password changed", the options again
        app.voicemail.menu.worker.drain()
        assert pins.check("201", "7391", 1.0) is PinCheck.OK
        assert [e["by"] for e in events.named("vm_pin_changed")] == ["phone"]
        dial(app, "201", "1", 6.0)  # "record your unavailable message after the tone", the tone
        phone = app.world.phone(PORT["201"])
        said = voice(3.0, "tt-monkeysintro")
        phone.say(said)
        run(app, 3.5)
        dial(app, "201", "#", 2.0)
        app.voicemail.menu.worker.drain()
        greeting = app.voicemail.greetings.get("201", GreetingKind.UNAVAILABLE)
        assert greeting is not None and 2.5 < greeting.size / 8000 < 4.5
        assert contains(greeting, said[4000:20000]) > MATCH
        assert [e["kind"] for e in events.named("vm_greeting_recorded")] == ["unavailable"]
        # An outside caller now hears it (the phone is in its *97 session: busy, but no busy greeting).
        start = greeting_starts(app)
        run(app, 5.0)
        assert contains(far_end_heard(app, LINE_1, (app.switch.tick - start) * 20), said[4000:20000]) > MATCH
        assert events.named("vm_greeting")[-1]["greeting"] == "unavailable"
        assert heard(app, PORT["201"], 100).size > 0
