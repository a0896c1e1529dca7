"""Voicemail's smaller parts, each alone: the envelope's words, expiry, greetings (by file and
upload), the ``voicemail:`` configuration section, and e-mail notification against a real
SMTP server (aiosmtpd) started by the test."""

from __future__ import annotations

import datetime as dt
import email
import socket
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from drivers.audiofile import encode_wav, read_audio
from firmware import FirmwareError
from firmware.config.codec import from_dict, to_dict
from firmware.config.demo import demo_config
from firmware.config.model import (
    Destination,
    DestinationKind,
    MailboxSettings,
    SmtpSettings,
    VoicemailSettings,
)
from firmware.config.validate import problems
from firmware.voicemail.envelope import EnvelopeSpeaker, envelope_words
from firmware.voicemail.expiry import DAY_S, expire_messages, expired
from firmware.voicemail.greetings import GreetingKind, Greetings, read_upload
from firmware.voicemail.notify import Notifier
from firmware.voicemail.store import Message, VoicemailStore

# 2026-12-05 14:07 UTC, a Saturday
RECEIVED = dt.datetime(2026, 12, 5, 14, 7, tzinfo=dt.UTC).timestamp()


# ---------------------------------------------------------------- the envelope


@pytest.mark.parametrize(("language", "timezone", "number", "words"), [
    ("en", "UTC", "2125557788",
     ["vm-received", "digits/day-6", "digits/mon-11", "digits/h-5", "digits/20", "digits/20", "digits/6",
      "digits/2", "digits/oh", "digits/7", "digits/p-m", "vm-from-phonenumber",
      *[f"digits/{d}" for d in "2125557788"]]),
    ("en", "America/New_York", "", [  # 09:07 local, same day
        "vm-received", "digits/day-6", "digits/mon-11", "digits/h-5", "digits/20", "digits/20", "digits/6",
        "digits/9", "digits/oh", "digits/7", "digits/a-m", "vm-unknown-caller"]),
    ("fr", "Europe/Paris", "15", [  # 15:07, 24-hour clock in French
        "vm-received", "digits/day-6", "digits/5", "digits/mon-11", "digits/2", "digits/thousand", "digits/20",
        "digits/6",
        "digits/15", "hours", "digits/7", "vm-from-phonenumber", "digits/1", "digits/5"]),
])
def test_envelope_words(language, timezone, number, words):
    assert envelope_words(RECEIVED, number, language, timezone) == words


def test_envelope_of_an_unsupported_language_is_english_and_every_word_is_recorded():
    assert envelope_words(RECEIVED, "7", "de", "UTC") == envelope_words(RECEIVED, "7", "en", "UTC")
    speaker = EnvelopeSpeaker(read_audio)
    for language in ("en", "es", "fr"):
        audio = speaker.audio(RECEIVED, "2125557788", language, "UTC")
        # a real sentence read from Debian's recordings (ten digits said one by one: 8-25 s)
        assert 5.0 < audio.size / 8000 < 30.0, language


# ---------------------------------------------------------------- expiry


def message(message_id: int, age_days: float, now: float) -> Message:
    return Message(message_id, "201", "", "", now - age_days * DAY_S, 1.0, Path("x"), False)


@pytest.mark.parametrize(("days", "ages", "gone"), [
    (0, [1000.0], []),  # 0: kept for ever
    (30, [29.9, 30.0, 30.0001, 400.0], [3, 4]),  # exactly 30 days old is kept; a moment more goes
    (1, [0.5, 2.0], [2]),
])
def test_expired_from_a_table(days, ages, gone):
    now = 2_000_000_000.0
    messages = [message(i + 1, age, now) for i, age in enumerate(ages)]
    assert [m.id for m in expired(messages, days, now)] == gone


def test_expire_messages_deletes_through_the_store(tmp_path):
    store = VoicemailStore(tmp_path / "db.sqlite", tmp_path / "voicemail")
    now = RECEIVED + 40 * DAY_S
    old = store.save("201", "1", "", RECEIVED, np.ones(8000) * 1000)
    new = store.save("201", "2", "", now - DAY_S, np.ones(8000) * 1000)
    kept = store.save("202", "3", "", RECEIVED, np.ones(8000) * 1000)  # 202 keeps for ever
    settings = VoicemailSettings(mailboxes=(MailboxSettings("201", expiry_days=30),))
    assert expire_messages(store, ["201", "202"], lambda: settings, now) == 1
    assert [m.id for m in store.messages("201")] == [new.id] and not old.path.exists()
    assert [m.id for m in store.messages("202")] == [kept.id]
    assert store.count("201") == 1
    store.close()


# ---------------------------------------------------------------- greetings


def test_greetings_are_kept_in_memory_and_read_back_at_open(tmp_path):
    greetings = Greetings(tmp_path)
    voice = (np.sin(np.arange(16000) / 5) * 8000).astype(np.int16)
    assert greetings.save("201", "unavailable", voice) == 2.0
    assert np.array_equal(greetings.get("201", GreetingKind.UNAVAILABLE), voice)
    assert greetings.get("201", GreetingKind.BUSY) is None
    again = Greetings(tmp_path)
    assert np.array_equal(again.get("201", GreetingKind.UNAVAILABLE), voice)
    assert again.kinds("201") == [GreetingKind.UNAVAILABLE]
    assert again.delete("201", "unavailable") and not (tmp_path / "201" / "greeting-unavailable.wav").exists()


@pytest.mark.parametrize(("kind", "seconds", "error"), [
    ("name", 11.0, "name greeting is 0.5-10 s long"), ("busy", 0.2, "0.5-120 s"), ("busy", 121.0, "0.5-120 s"),
    ("welcome", 2.0, "a greeting is one of"),
])
def test_a_refused_greeting_changes_nothing(tmp_path, kind, seconds, error):
    greetings = Greetings(tmp_path)
    with pytest.raises(FirmwareError, match=error):
        greetings.save("201", kind, np.ones(int(seconds * 8000)))
    assert not (tmp_path / "201").exists() or not any((tmp_path / "201").iterdir())


def test_an_upload_at_44k1_stereo_is_converted_to_8k(tmp_path):
    rate = 44100
    t = np.arange(rate * 2) / rate
    tone = (np.sin(2 * np.pi * 440 * t) * 10000).astype("<i2")
    stereo = np.repeat(tone, 2).tobytes()
    header = (b"RIFF" + (36 + len(stereo)).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
              + (1).to_bytes(2, "little") + (2).to_bytes(2, "little") + rate.to_bytes(4, "little")
              + (rate * 4).to_bytes(4, "little") + (4).to_bytes(2, "little") + (16).to_bytes(2, "little")
              + b"data" + len(stereo).to_bytes(4, "little"))
    path = tmp_path / "upload.wav"
    path.write_bytes(header + stereo)
    samples = read_upload(path, "unavailable")
    assert samples.dtype == np.int16 and abs(samples.size - 16000) <= 2  # 2 s at 8 kHz
    spectrum = np.abs(np.fft.rfft(samples.astype(float)))
    assert abs(np.argmax(spectrum) * 8000 / samples.size - 440) < 2


@pytest.mark.parametrize("data", [b"", b"RIFF\x00\x00\x00\x00WAVE", b"hello world, not audio",
                                  encode_wav(np.ones(8000))[:60]])
def test_a_corrupt_upload_is_one_line_of_error(tmp_path, data):
    path = tmp_path / "upload.wav"
    path.write_bytes(data)
    with pytest.raises(FirmwareError) as info:
        read_upload(path, "busy")
    assert "\n" not in str(info.value) and "not a readable WAV" in str(info.value)


# ---------------------------------------------------------------- the configuration section


def with_voicemail(**changes):
    return replace(demo_config(), voicemail=replace(VoicemailSettings(), **changes))


def test_the_section_round_trips():
    config = with_voicemail(timezone="Europe/Paris", mailboxes=(MailboxSettings(
        "201", operator=Destination(DestinationKind.EXTENSION, "200"), email="ann@example.com", max_messages=5,
        max_message_s=60, min_message_s=2, expiry_days=30),),
        smtp=SmtpSettings(host="mail.example.com", port=2525, starttls=False, user="box", password="s3 cret",
                          from_address="pbx@example.com"))
    assert from_dict(to_dict(config)) == config


@pytest.mark.parametrize(("section", "error"), [
    ({"timezone": "Mars/Olympus"}, "voicemail.timezone: unknown time zone"),
    ({"mailboxes": [{"number": "201", "max_messages": 0}]}, "voicemail.mailboxes[0].max_messages: expected an integer 1-9999"),
    ({"mailboxes": [{"number": "201", "min_message_s": 5, "max_message_s": 5}]},
     "voicemail.mailboxes[0].min_message_s: must be shorter"),
    ({"mailboxes": [{"number": "201", "email": "not an address"}]}, "voicemail.mailboxes[0].email: 'not an address' is not"),
    ({"mailboxes": [{"number": "201", "operator": {"kind": "voicemail", "name": "201"}}]},
     "voicemail.mailboxes[0].operator.kind: an operator is"),
    ({"mailboxes": [{"number": "201"}, {"number": "201"}]}, "voicemail.mailboxes[1].number: mailbox 201 is listed twice"),
    ({"mailboxes": [{"number": "201", "pin": "1234"}]}, "voicemail.mailboxes[0].pin: unknown key"),
    ({"smtp": {"host": "mail.example.com"}}, "voicemail.smtp.from_address: needed when host is set"),
    ({"smtp": {"port": 0}}, "voicemail.smtp.port: expected an integer 1-65535"),
])
def test_bad_values_name_the_field(section, error):
    data = to_dict(demo_config())
    data["voicemail"] = section
    with pytest.raises(FirmwareError) as info:
        from_dict(data)
    assert str(info.value).startswith(error.split(":")[0]) and error in str(info.value)


def test_cross_references_are_checked():
    config = with_voicemail(mailboxes=(
        MailboxSettings("202", operator=Destination(DestinationKind.EXTENSION, "999")),
        MailboxSettings("201", email="ann@example.com"),
    ))
    found = problems(config, lambda board: None)
    assert "voicemail.mailboxes[0].number: extension 202 has voicemail off" in found
    assert "voicemail.mailboxes[0].operator: extension 999 does not exist" in found
    assert "voicemail.mailboxes[1].email: e-mail needs voicemail.smtp.host to be set" in found


# ---------------------------------------------------------------- e-mail, against a real SMTP server


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], bytes]] = []
        self.got = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's handler name)
        self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        self.got.set()
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stored_message(tmp_path) -> tuple[VoicemailStore, Message]:
    store = VoicemailStore(tmp_path / "db.sqlite", tmp_path / "voicemail")
    voice = np.sin(np.arange(16000) / 3) * 5000
    return store, store.save("201", "2125557788", "ACME CORP", RECEIVED, voice)


def smtp_settings(port: int, attach: bool = True) -> VoicemailSettings:
    return VoicemailSettings(mailboxes=(MailboxSettings("201", email="ann@example.com", attach=attach),),
                             smtp=SmtpSettings(host="127.0.0.1", port=port, starttls=False,
                                               from_address="pbx@example.com"))


def test_a_new_message_is_mailed_with_its_wav(tmp_path):
    controller_module = pytest.importorskip("aiosmtpd.controller")
    inbox = Inbox()
    port = free_port()
    server = controller_module.Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    store, msg = stored_message(tmp_path)
    notifier = Notifier(lambda: smtp_settings(port), retry_delays_s=(0.05,))
    try:
        notifier.submit(msg)
        notifier.drain()
    finally:
        notifier.close()
        server.stop()
    [(sender, recipients, raw)] = inbox.mails
    assert (sender, recipients) == ("pbx@example.com", ["ann@example.com"])
    mail = email.message_from_bytes(raw)
    assert mail["Subject"] == "New voicemail in mailbox 201 from ACME CORP <2125557788>"
    [attachment] = [part for part in mail.walk() if part.get_content_type() == "audio/wav"]
    assert attachment.get_filename() == f"msg-{msg.id:06d}.wav"
    assert attachment.get_payload(decode=True) == msg.path.read_bytes()  # the stored file, byte for byte
    assert notifier.sent == 1 and notifier.failed == 0
    store.close()


def test_a_server_that_is_down_is_tried_again_then_given_up(tmp_path):
    controller_module = pytest.importorskip("aiosmtpd.controller")
    port = free_port()  # nobody listens here yet
    store, msg = stored_message(tmp_path)
    attempts: list[int] = []
    inbox = Inbox()
    server = controller_module.Controller(inbox, hostname="127.0.0.1", port=port)

    def settings() -> VoicemailSettings:
        attempts.append(1)
        if len(attempts) == 3:  # the server comes up before the second try
            server.start()
        return smtp_settings(port, attach=False)

    notifier = Notifier(settings, retry_delays_s=(0.05, 0.05))
    try:
        notifier.submit(msg)
        notifier.drain()
    finally:
        notifier.close()
        server.stop()
    assert notifier.sent == 1 and len(inbox.mails) == 1  # first try refused, second delivered
    assert "audio/wav" not in inbox.mails[0][2].decode()

    down = Notifier(lambda: smtp_settings(free_port()), retry_delays_s=(0.01, 0.01))
    down.submit(msg)
    down.drain()
    down.close()
    assert (down.sent, down.failed) == (0, 1)  # three tries, then given up (logged)
    store.close()


def test_no_address_or_no_server_sends_nothing(tmp_path):
    sent: list = []
    store, msg = stored_message(tmp_path)
    for settings in (VoicemailSettings(), replace(smtp_settings(25), smtp=SmtpSettings())):
        notifier = Notifier(lambda s=settings: s, send=lambda mail, smtp: sent.append(mail))
        notifier.submit(msg)
        notifier.drain()
        notifier.close()
    assert sent == []
    store.close()
