"""The console's ``mailbox`` commands (firmware/console/mailboxes.py) on the demo office:
listing, showing, deleting, the PIN (never logged), lockout, greetings from a file."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from features_helpers import office

from drivers.audiofile import write_wav
from firmware import FirmwareError
from firmware.accounts.model import MAX_FAILED_LOGINS
from firmware.console.access import EngineAccess
from firmware.console.commands import COMMANDS, Console
from firmware.console.gateway import EngineGateway
from firmware.console.logbuffer import LogBuffer
from firmware.console.mailboxes import redacted
from firmware.voicemail.greetings import GreetingKind
from firmware.voicemail.pins import PinCheck


@pytest.fixture
def box(tmp_path):
    with office(tmp_path) as app:
        engine = EngineAccess(loop=app.loop, switch=app.switch, store=app.store, voicemail=app.voicemail)
        yield app, Console(engine, LogBuffer(), EngineGateway(lambda fn: fn()))  # the test is the loop's thread


def run(console: Console, line: str) -> list[str]:
    return console.execute(line).lines


def test_list_show_delete(box):
    app, console = box
    store = app.voicemail.store
    first = store.save("201", "2125557788", "ACME", 1_800_000_000.0, np.ones(8000) * 900)
    second = store.save("201", "", "", 1_800_000_060.0, np.ones(16000) * 900)
    store.mark_heard(first.id)
    listing = run(console, "mailbox list")
    assert listing[0].split() == ["mailbox", "name", "messages", "new", "max", "pin", "greetings", "email"]
    assert listing[1].split() == ["201", "Reception", "2", "1", "100", "none", "-", "-"]
    shown = run(console, "mailbox show 201")
    assert shown[1].split()[:4] == [str(second.id), "new", "2027-01-15", "08:01:00"]  # new first
    assert shown[1].split()[5] == "withheld" and shown[2].split()[:2] == [str(first.id), "old"]
    assert run(console, f"mailbox file 201 {first.id}") == [str(first.path)]
    assert run(console, f"mailbox delete 201 {first.id}") == [f"message {first.id} of mailbox 201 deleted"]
    assert not first.path.exists() and [m.id for m in store.messages("201")] == [second.id]


@pytest.mark.parametrize(("line", "error"), [
    ("mailbox show 202", "mailbox 202: no extension 202 with voicemail on"),
    ("mailbox show 2x", "mailbox must be an extension number"),
    ("mailbox delete 201 99", "no message with id 99"),
    ("mailbox delete 201 abc", "message id must be a whole number"),
    ("mailbox pin 201 12", "a PIN is 4-10 digits"),
    ("mailbox pin 201", "usage: mailbox pin N PIN"),
    ("mailbox greeting 201 welcome /tmp/x.wav", "a greeting is one of unavailable, busy, name"),
    ("mailbox greeting 201 busy relative.wav", "must be an absolute path"),
])
def test_bad_commands_are_one_line_and_change_nothing(box, line, error):
    app, console = box
    with pytest.raises(FirmwareError) as info:
        console.execute(line)
    assert error in str(info.value) and "\n" not in str(info.value)
    assert not app.voicemail.pins.status("201").has_pin


def test_another_mailbox_message_cannot_be_deleted_through_this_one(box, tmp_path):
    app, console = box
    message = app.voicemail.store.save("202", "1", "", 1.0e9, np.ones(8000))  # another mailbox's message
    with pytest.raises(FirmwareError, match=f"no message with id {message.id} in mailbox 201"):
        console.execute(f"mailbox delete 201 {message.id}")
    assert app.voicemail.store.count("202") == 1 and message.path.exists()


def test_the_pin_is_set_hashed_and_never_logged(box, caplog):
    app, console = box
    with caplog.at_level(logging.DEBUG, logger="linebox"):
        assert run(console, "mailbox pin 201 4826") == ["PIN of mailbox 201 set"]
    logged = [str(getattr(record, "fields", {})) for record in caplog.records]
    assert not any("4826" in line for line in logged)
    assert any("mailbox pin 201 ****" in line for line in logged)
    assert redacted(["mailbox", "pin", "201", "4826"]) == "mailbox pin 201 ****"
    pins = app.voicemail.pins
    now = app.switch.control.epoch(app.switch.tick)
    for _ in range(MAX_FAILED_LOGINS):
        pins.check("201", "0000", now)
    assert run(console, "mailbox list")[1].split()[5] == "locked"
    assert run(console, "mailbox unlock 201") == ["mailbox 201 unlocked"]
    assert pins.check("201", "4826", now) is PinCheck.OK


def test_a_greeting_from_a_file_and_a_corrupt_one(box, tmp_path):
    app, console = box
    good = tmp_path / "hello.wav"
    write_wav(good, np.sin(np.arange(24000) / 4) * 6000)
    assert run(console, f"mailbox greeting 201 busy {good}") == ["busy greeting of mailbox 201 set (3.0 s)"]
    assert app.voicemail.greetings.kinds("201") == [GreetingKind.BUSY]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(FirmwareError, match="not a readable WAV"):
        console.execute(f"mailbox greeting 201 unavailable {bad}")
    assert app.voicemail.greetings.kinds("201") == [GreetingKind.BUSY]
    assert run(console, "mailbox greeting 201 busy delete") == ["busy greeting of mailbox 201 deleted"]
    assert app.voicemail.greetings.kinds("201") == []


def test_help_lists_the_mailbox_commands(box):
    _app, console = box
    text = "\n".join(run(console, "help"))
    for spec in COMMANDS:
        if spec.words[0] == "mailbox":
            assert spec.usage in text
