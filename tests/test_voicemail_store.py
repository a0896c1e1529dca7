"""The voicemail store (firmware/voicemail/store.py): messages saved, listed in order, marked heard,
deleted; the audio round-trips; a crash between file and row leaves nothing behind; a row whose
file is gone is dropped at open; bad input is a one-line FirmwareError that changes nothing;
concurrent saves from two threads all land."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from drivers.audiofile import encode_wav, read_audio
from firmware import FirmwareError
from firmware.config.db import connect, schema_version
from firmware.voicemail.store import COMPONENT, VoicemailStore

ROOT = Path(__file__).resolve().parent.parent
T0 = 1795651200.0  # 2026-11-26T00:00:00Z


def voice(seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-8000, 8000, int(seconds * 8000)).astype(np.int16)


@pytest.fixture
def paths(tmp_path):
    return tmp_path / "db.sqlite", tmp_path / "voicemail"


@pytest.fixture
def store(paths):
    opened = VoicemailStore(*paths)
    yield opened
    opened.close()


def wav_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_save_writes_the_file_and_the_row(store, paths):
    samples = voice(1.25)
    message = store.save("201", "2125557788", "OUTSIDE", T0, samples)
    assert message.mailbox == "201" and message.caller_number == "2125557788" and message.caller_name == "OUTSIDE"
    assert message.received == T0 and message.duration_s == pytest.approx(1.25) and not message.heard
    assert message.path == paths[1] / "201" / f"msg-{message.id:06d}.wav"
    assert np.array_equal(read_audio(message.path), samples)
    assert store.messages("201") == [message]
    assert store.message(message.id) == message
    assert store.messages("202") == []
    conn = connect(paths[0])
    try:
        assert schema_version(conn, COMPONENT) == 1
    finally:
        conn.close()


def test_audio_round_trips_as_float64(store):
    samples = voice(0.3, seed=4)
    loaded = store.load_audio(store.save("201", "", "", T0, samples))
    assert loaded.dtype == np.float64
    assert np.array_equal(loaded, samples.astype(np.float64))
    # Float input is rounded and clipped to the 16-bit scale, as every WAV the box writes.
    message = store.save("201", "", "", T0, np.array([0.4, 0.6, -1.6, 40000.0, -40000.0]))
    assert store.load_audio(message).tolist() == [0.0, 1.0, -2.0, 32767.0, -32768.0]


def test_messages_are_unheard_first_then_oldest_first(store):
    ids = {}
    for name, received in (("c", T0 + 30), ("a", T0 + 10), ("d", T0 + 40), ("b", T0 + 20)):
        ids[name] = store.save("201", "", name, received, voice()).id
    store.mark_heard(ids["a"])
    store.mark_heard(ids["d"])
    assert [m.caller_name for m in store.messages("201")] == ["b", "c", "a", "d"]
    assert [m.heard for m in store.messages("201")] == [False, False, True, True]
    assert store.unheard_count("201") == 2
    store.mark_heard(ids["a"])  # twice is harmless
    assert store.unheard_count("201") == 2


def test_delete_removes_row_and_file_and_ids_are_not_reused(store, paths):
    first = store.save("201", "", "", T0, voice())
    second = store.save("201", "", "", T0 + 1, voice())
    store.delete(second.id)
    assert not second.path.exists() and first.path.exists()
    assert store.messages("201") == [first]
    third = store.save("201", "", "", T0 + 2, voice())
    assert third.id > second.id  # a file name is never given to two messages
    assert wav_files(paths[1]) == [f"201/msg-{first.id:06d}.wav", f"201/msg-{third.id:06d}.wav"]


def test_subscribers_hear_every_change_and_may_read_the_store(store):
    seen = []
    store.subscribe(lambda mailbox: seen.append((mailbox, store.unheard_count(mailbox))))
    message = store.save("201", "", "", T0, voice())
    store.save("202", "", "", T0, voice())
    store.mark_heard(message.id)
    store.delete(message.id)
    assert seen == [("201", 1), ("202", 1), ("201", 0), ("201", 0)]


def test_a_failing_subscriber_does_not_undo_the_save(store, caplog):
    def broken(mailbox: str) -> None:
        raise RuntimeError("boom")

    calls = []
    store.subscribe(broken)
    store.subscribe(calls.append)
    with caplog.at_level(logging.ERROR, logger="linebox.voicemail"):
        message = store.save("201", "", "", T0, voice())
    assert store.messages("201") == [message] and calls == ["201"]
    assert any(r.getMessage() == "vm_subscriber_failed" for r in caplog.records)


@pytest.mark.parametrize("call, reason", [
    (lambda s: s.save("201", "", "", T0, np.zeros(0, dtype=np.int16)), "1-D samples"),
    (lambda s: s.save("201", "", "", T0, np.zeros((2, 160))), "1-D samples"),
    (lambda s: s.save("201", "", "", T0, np.array([1.0, np.nan])), "NaN"),
    (lambda s: s.save("20a", "", "", T0, voice()), "mailbox"),
    (lambda s: s.save("", "", "", T0, voice()), "mailbox"),
    (lambda s: s.save("0201", "", "", T0, voice()), "mailbox"),
    (lambda s: s.save("../201", "", "", T0, voice()), "mailbox"),
    (lambda s: s.save(201, "", "", T0, voice()), "mailbox"),
    (lambda s: s.save("201", "555\n1234", "", T0, voice()), "caller number"),
    (lambda s: s.save("201", "", "x" * 81, T0, voice()), "caller name"),
    (lambda s: s.save("201", "", "", float("nan"), voice()), "received"),
    (lambda s: s.mark_heard(999), "no message with id 999"),
    (lambda s: s.delete(999), "no message with id 999"),
    (lambda s: s.delete("1"), "message id is an integer"),
    (lambda s: s.messages("x"), "mailbox"),
    (lambda s: s.unheard_count("2"), "mailbox"),
])
def test_bad_input_is_one_line_and_changes_nothing(store, paths, call, reason):
    kept = store.save("201", "", "", T0, voice())
    seen = []
    store.subscribe(seen.append)
    before = wav_files(paths[1])
    with pytest.raises(FirmwareError) as error:
        call(store)
    assert reason in str(error.value) and "\n" not in str(error.value)
    assert store.messages("201") == [kept] and wav_files(paths[1]) == before and seen == []


def test_a_closed_store_refuses(paths):
    store = VoicemailStore(*paths)
    store.close()
    with pytest.raises(FirmwareError, match="closed"):
        store.save("201", "", "", T0, voice())
    store.close()  # twice is harmless


def test_a_failed_row_leaves_no_file(store, paths, monkeypatch):
    import firmware.voicemail.store as module

    def refuse(conn):
        raise module.sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(module, "transaction", refuse)
    with pytest.raises(FirmwareError, match="cannot record message for mailbox 201: disk I/O error"):
        store.save("201", "", "", T0, voice())
    assert wav_files(paths[1]) == [] and store.messages("201") == []


CRASH_AFTER_FILE = """
import os, sys
import numpy as np
import firmware.voicemail.store as module
store = module.VoicemailStore(sys.argv[1], sys.argv[2])
store.save("201", "1", "kept", 1.0, np.ones(800, dtype=np.int16))
def power_cut(conn):
    os._exit(9)  # the file is on disk, the row never committed
module.transaction = power_cut
store.save("201", "2", "lost", 2.0, np.ones(800, dtype=np.int16))
"""


def test_a_crash_between_file_and_row_leaves_no_message_and_no_orphan(paths, caplog):
    db, root = paths
    done = subprocess.run([sys.executable, "-c", CRASH_AFTER_FILE, str(db), str(root)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 9, done.stderr
    assert wav_files(root) == ["201/msg-000001.wav", "201/msg-000002.wav"]  # the orphan is there
    # A temporary file left by a cut before the rename is ours too; other files are left alone.
    (root / "201" / ".msg-000003.wav.x1y2").write_bytes(b"RIFF")
    (root / "201" / "greeting.wav").write_bytes(encode_wav(np.ones(8)))
    with caplog.at_level(logging.WARNING, logger="linebox.voicemail"):
        store = VoicemailStore(db, root)
    try:
        assert [m.caller_name for m in store.messages("201")] == ["kept"]
        assert wav_files(root) == ["201/greeting.wav", "201/msg-000001.wav"]
        removed = [r for r in caplog.records if r.getMessage() == "vm_orphan_removed"]
        assert len(removed) == 2
        # The id of the lost message was never committed: the next save may use it, file and all.
        again = store.save("201", "3", "next", 3.0, voice())
        assert again.path.exists() and store.unheard_count("201") == 2
    finally:
        store.close()


def test_a_row_whose_file_is_gone_is_dropped_at_open(paths, caplog):
    store = VoicemailStore(*paths)
    gone = store.save("201", "", "gone", T0, voice())
    kept = store.save("201", "", "kept", T0 + 1, voice())
    store.close()
    gone.path.unlink()
    with caplog.at_level(logging.WARNING, logger="linebox.voicemail"):
        store = VoicemailStore(*paths)
    try:
        assert store.messages("201") == [kept]
        dropped = [r for r in caplog.records if r.getMessage() == "vm_row_dropped"]
        assert len(dropped) == 1 and dropped[0].fields["id"] == gone.id
        with pytest.raises(FirmwareError, match=f"no message with id {gone.id}"):
            store.mark_heard(gone.id)
    finally:
        store.close()


def test_messages_survive_reopening(paths):
    store = VoicemailStore(*paths)
    message = store.save("201", "2125557788", "OUTSIDE", T0, voice(1.0, seed=3))
    store.mark_heard(message.id)
    store.close()
    store = VoicemailStore(*paths)
    try:
        assert store.messages("201") == [message.__class__(**{**message.__dict__, "heard": True})]
        assert np.array_equal(store.load_audio(store.messages("201")[0]), voice(1.0, seed=3))
    finally:
        store.close()


def test_a_missing_file_on_load_is_a_firmware_error(store):
    message = store.save("201", "", "", T0, voice())
    message.path.unlink()
    with pytest.raises(FirmwareError, match=f"cannot read message {message.id}"):
        store.load_audio(message)


def test_two_threads_saving_at_once_all_land(store):
    per_thread = 15
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def save_many(mailbox: str, seed: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                store.save(mailbox, str(i), f"t{seed}", T0 + i, voice(0.05, seed=seed * 100 + i))
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=save_many, args=(mailbox, seed))
               for seed, mailbox in ((1, "201"), (2, "201"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    messages = store.messages("201")
    assert len(messages) == 2 * per_thread and len({m.id for m in messages}) == 2 * per_thread
    for message in messages:
        seed = int(message.caller_name[1:]) * 100 + int(message.caller_number)
        assert np.array_equal(store.load_audio(message), voice(0.05, seed=seed).astype(np.float64))
