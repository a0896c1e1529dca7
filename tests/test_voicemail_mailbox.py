"""The *97 mailbox menu (firmware/voicemail/mailbox.py) end to end on the virtual board.

Messages are put into the real store (``VoicemailStore.save`` with the samples of recorded
WAVs); 201 (voicemail on in the demo office) dials *97; what its phone hears is compared with
the prompts' own sentences and with the messages' audio (normalised correlation).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from acd_engine_helpers import MATCH, NO_MATCH, contains
from features_helpers import ORIGIN, PORT, dial, hang_up, heard, office, run, state, switch_events

from drivers.audiofile import read_audio
from firmware import FirmwareError
from firmware.config.demo import demo_config
from firmware.config.model import MailboxSettings, VoicemailSettings
from firmware.media.words import PROMPT_DIR
from firmware.voicemail.mailbox import MailboxMenu, header_words, intro_words
from firmware.voicemail.prompts import VoicemailPrompts
from firmware.voicemail.store import VoicemailStore

RECORDINGS = ("tt-weasels", "tt-monkeysintro", "tt-somethingwrong")  # what the callers "said"
SILENCE = 30.0  # rms below this: nothing played (16-bit scale)


@pytest.fixture(scope="module")
def prompts() -> VoicemailPrompts:
    return VoicemailPrompts.load(read_audio)


@pytest.fixture(scope="module")
def voices() -> list[np.ndarray]:
    return [read_audio(PROMPT_DIR / f"{name}.wav").astype(np.float64) for name in RECORDINGS]


@contextmanager
def mailbox_office(tmp_path: Path, prompts, envelope: bool = False):
    """The demo office as the appliance wires it (linebox/appliance.py: ``attach_voicemail``);
    yields (app, store, menu). The menu speaks the same recordings as ``prompts``. The envelope
    (on by default in service) is off unless asked for: tests of the menu's keys hear less."""
    config = replace(demo_config(), voicemail=VoicemailSettings(mailboxes=(MailboxSettings("201",
                                                                                           envelope=envelope),)))
    with office(tmp_path, config) as app:
        menu = app.voicemail.menu
        assert isinstance(menu, MailboxMenu) and menu in app.switch.attached
        assert app.switch.features.service_codes["voicemail"] == menu.codes()["voicemail"]
        assert menu.prompts.words.keys() >= prompts.words.keys()
        yield app, app.voicemail.store, menu


def leave(store: VoicemailStore, samples: np.ndarray, minutes: int, mailbox: str = "201", heard: bool = False):
    message = store.save(mailbox, "2125557788", "OUTSIDE", ORIGIN.timestamp() + 60 * minutes, samples)
    if heard:
        store.mark_heard(message.id)
    return message


def listen(app, seconds: float, digits: str = "") -> np.ndarray:
    """201 dials ``digits`` (off-hook first if needed); what it heard during ``seconds``."""
    start = app.switch.tick
    dial(app, "201", digits, seconds) if digits else run(app, seconds)
    return heard(app, PORT["201"], (app.switch.tick - start) * 20)


def offset_of(audio: np.ndarray, clip: np.ndarray) -> int:
    """Where ``clip`` best matches in ``audio`` (normalised correlation, sample index)."""
    a = np.asarray(audio, dtype=np.float64)
    c = np.asarray(clip, dtype=np.float64)
    size = 1 << int(np.ceil(np.log2(a.size + c.size)))
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(c, size)), size)[: a.size - c.size + 1]
    energy = np.concatenate([[0.0], np.cumsum(a * a)])
    window = energy[c.size:] - energy[:-c.size]
    return int(np.argmax(corr / np.sqrt(np.maximum(window, 1e-9))))


def rms(samples: np.ndarray) -> float:
    x = np.asarray(samples, dtype=np.float64)
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


# ---------------------------------------------------------------- wording (pure)


@pytest.mark.parametrize(("new", "old", "words"), [
    (0, 0, ["vm-youhave", "vm-no", "vm-messages"]),
    (1, 0, ["vm-youhave", "digits/1", "vm-INBOX", "vm-message"]),
    (2, 1, ["vm-youhave", "digits/2", "vm-INBOX", "vm-messages", "vm-and", "digits/1", "vm-Old", "vm-message"]),
    (0, 3, ["vm-youhave", "digits/3", "vm-Old", "vm-messages"]),
    (21, 0, ["vm-youhave", "digits/20", "digits/1", "vm-INBOX", "vm-messages"]),
])
def test_summary_wording_is_asterisks(new, old, words):
    assert intro_words(new, old) == words


def test_message_headers():
    assert header_words(0) == ["vm-first", "vm-message"]
    assert header_words(1) == ["vm-message", "digits/2"]
    assert header_words(11) == ["vm-message", "digits/12"]


# ---------------------------------------------------------------- on the board


def test_summary_then_new_messages_oldest_first_then_old_then_goodbye(tmp_path, prompts, voices):
    with mailbox_office(tmp_path, prompts) as (app, store, _menu):
        old = leave(store, voices[2], minutes=1, heard=True)
        first = leave(store, voices[0], minutes=2)
        second = leave(store, voices[1], minutes=3)
        with switch_events("voicemail") as events:
            audio = listen(app, 36.0, "*97")
        assert contains(audio, prompts.sentence(intro_words(2, 1))) > MATCH
        starts = []
        for position, message in enumerate((first, second, old)):
            assert contains(audio, prompts.sentence(header_words(position))) > MATCH
            voice = store.load_audio(message)
            assert contains(audio, voice) > MATCH, f"message {position} not played"
            starts.append(offset_of(audio, voice))
        assert starts == sorted(starts), "new messages (oldest first) come before old ones"
        assert contains(audio, prompts.sentence(["vm-nomore", "vm-goodbye"])) > MATCH
        assert state(app, PORT["201"]) == "failed"  # silence until on-hook
        assert rms(heard(app, PORT["201"], 1000)) < SILENCE
        menu_events = events.named("vm_session")
        assert menu_events == [{"port": PORT["201"], "mailbox": "201", "new": 2, "old": 1}]
        assert [e["id"] for e in events.named("vm_played")] == [first.id, second.id, old.id]
        run(app, 0.2)
        _menu.worker.drain()
        assert store.unheard_count("201") == 0  # played to the end: old now
        assert len(store.messages("201")) == 3


def test_empty_mailbox(tmp_path, prompts):
    with mailbox_office(tmp_path, prompts) as (app, _store, _menu):
        audio = listen(app, 6.0, "*97")
        assert contains(audio, prompts.sentence(["vm-youhave", "vm-no", "vm-messages", "vm-goodbye"])) > MATCH
        assert state(app, PORT["201"]) == "failed"


def test_extension_without_voicemail_is_refused(tmp_path, prompts, voices):
    with mailbox_office(tmp_path, prompts) as (app, store, _menu):
        leave(store, voices[0], minutes=1, mailbox="202")  # a message there changes nothing
        with switch_events("voicemail") as events:
            start = app.switch.tick
            dial(app, "202", "*97", 6.0)
            audio = heard(app, PORT["202"], (app.switch.tick - start) * 20)
        assert contains(audio, prompts.sentence(["vm-nobox"])) > MATCH
        assert contains(audio, store.load_audio(store.messages("202")[0])[:8000]) < NO_MATCH
        refused = events.named("vm_session")
        assert len(refused) == 1 and refused[0]["refused"] is True and "voicemail is off" in refused[0]["reason"]
        assert store.unheard_count("202") == 1


def test_seven_deletes_the_message_and_its_file(tmp_path, prompts, voices):
    with mailbox_office(tmp_path, prompts) as (app, store, menu):
        first = leave(store, voices[0], minutes=1)
        second = leave(store, voices[1], minutes=2)
        listen(app, 6.0, "*97")  # summary, "first message", into the recording
        assert menu.sessions[PORT["201"]].step.value == "body"
        with switch_events("voicemail") as events:
            audio = listen(app, 8.0, "7")
        assert contains(audio, prompts.sentence(["vm-deleted"])) > MATCH
        assert contains(audio, prompts.sentence(header_words(1))) > MATCH  # on to the next
        assert contains(audio, store.load_audio(second)[:16000]) > MATCH
        assert [e["id"] for e in events.named("vm_deleted")] == [first.id]
        menu.worker.drain()
        assert [m.id for m in store.messages("201")] == [second.id]
        assert not first.path.exists() and second.path.exists()


def test_nine_skips_and_keeps_it_as_old_hanging_up_keeps_the_rest_new(tmp_path, prompts, voices):
    with mailbox_office(tmp_path, prompts) as (app, store, menu):
        first = leave(store, voices[0], minutes=1)
        second = leave(store, voices[1], minutes=2)
        listen(app, 4.5, "*97")
        audio = listen(app, 2.5, "9")
        assert contains(audio, prompts.sentence(header_words(1))) > MATCH
        hang_up(app, "201")  # during the second message
        assert PORT["201"] not in menu.sessions
        menu.worker.drain()
        messages = {m.id: m for m in store.messages("201")}
        assert messages[first.id].heard and not messages[second.id].heard
        assert store.unheard_count("201") == 1


def test_hash_is_next_five_repeats_four_goes_back_star_leaves(tmp_path, prompts, voices):
    with mailbox_office(tmp_path, prompts) as (app, store, menu):
        leave(store, voices[0], minutes=1)
        second = leave(store, voices[1], minutes=2)
        third = leave(store, voices[2], minutes=3)
        listen(app, 4.5, "*97")
        listen(app, 2.0, "#")
        session = menu.sessions[PORT["201"]]
        assert session.index == 1
        audio = listen(app, 5.0, "5")  # the second again, from its header
        assert contains(audio, prompts.sentence(header_words(1))) > MATCH
        assert contains(audio, store.load_audio(second)[:16000]) > MATCH
        audio = listen(app, 2.0, "4")
        assert contains(audio, prompts.sentence(header_words(0))) > MATCH and session.index == 0
        audio = listen(app, 2.0, "*")
        assert contains(audio, prompts.sentence(["vm-goodbye"])) > MATCH
        assert PORT["201"] not in menu.sessions and state(app, PORT["201"]) == "failed"
        menu.worker.drain()
        # the first skipped with #, the second played to its end (repeated): old; the third never reached
        assert [m.id for m in store.messages("201") if not m.heard] == [third.id]


def test_mailbox_is_read_off_the_media_loop(tmp_path, prompts, voices):
    """While the worker is held up the phone hears silence and the loop keeps running."""
    with mailbox_office(tmp_path, prompts) as (app, store, menu):
        leave(store, voices[0], minutes=1)
        release = threading.Event()
        menu.worker.submit(lambda: release.wait(10))  # the worker is busy with something else
        audio = listen(app, 2.0, "*97")
        # The mailbox's PIN status is read first, on the worker as well ("checking", then "loading").
        assert rms(audio[-4000:]) < SILENCE and menu.sessions[PORT["201"]].step.value == "checking"
        release.set()
        menu.worker.drain()
        audio = listen(app, 5.0)
        assert contains(audio, prompts.sentence(intro_words(1, 0))) > MATCH


def test_store_failure_ends_the_session_with_the_error_beep(tmp_path, prompts):
    with mailbox_office(tmp_path, prompts) as (app, store, menu):
        store.close()  # every store call now fails with FirmwareError
        with pytest.raises(FirmwareError):
            store.messages("201")
        with switch_events("voicemail") as events:
            audio = listen(app, 3.0, "*97")
        assert contains(audio, prompts.sentence(["beeperr"])) > MATCH
        assert events.named("vm_error") and PORT["201"] not in menu.sessions
