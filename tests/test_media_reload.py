"""Music classes and queue greetings follow their files without a restart (``media reload``):
only what changed is read, off the media loop, and swapped in between two ticks; new plays hear
it, a caller already on hold keeps what it hears; a file that became unreadable is skipped with a
log line; the console's ``media reload`` and ``show media`` on a running appliance."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from acd_engine_helpers import queue_config
from features_helpers import (
    LINE_1,
    LINE_2,
    band_fraction,
    far_end_heard,
    flash,
    heard,
    inbound_call,
    internal_call,
    office,
    run,
    state,
)
from test_console import Rig, wait_for
from test_media_music import tone, write_wav

from drivers.audiofile import read_audio
from drivers.logs import EventLogger
from firmware.acdengine.announcements import Prompts
from firmware.media.music import DEFAULT_CLASS, MusicLibrary
from linebox import appliance
from webadmin.engine import ConsoleEngine

LOG = EventLogger("engine")


def _library(root: Path, reads: list[Path]) -> MusicLibrary:
    def counting_read(path: Path) -> np.ndarray:
        reads.append(path)
        return read_audio(path)

    def find() -> dict[str, Path]:
        return MusicLibrary.directories_of(root / "default", root / "moh")

    return MusicLibrary(find(), counting_read, find=find)


def _touch_later(path: Path) -> None:
    """A new modification time even on a file system with coarse timestamps."""
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 2_000_000_000))


def test_only_changed_classes_are_read_and_nothing_changes_before_apply(tmp_path):
    write_wav(tmp_path / "default" / "a.wav", tone(300, 1.0))
    write_wav(tmp_path / "moh" / "jazz" / "a.wav", tone(620, 1.0))
    reads: list[Path] = []
    library = _library(tmp_path, reads)
    library.load(["jazz"])
    assert len(reads) == 2
    assert library.changes() == [] and len(reads) == 2  # nothing changed: nothing read
    write_wav(tmp_path / "moh" / "jazz" / "a.wav", tone(900, 2.0))
    _touch_later(tmp_path / "moh" / "jazz" / "a.wav")
    changes = library.changes()
    assert [change.name for change in changes] == ["jazz"] and len(reads) == 3  # default not read again
    assert band_fraction(library.samples("jazz"), 620) > 0.9  # not swapped in yet
    library.apply(changes)
    assert library.samples("jazz").size == 2 * 8000 and band_fraction(library.samples("jazz"), 900) > 0.9
    assert library.changes() == []


def test_a_class_named_before_its_folder_existed_is_found_and_a_class_emptied_falls_back(tmp_path, caplog):
    write_wav(tmp_path / "default" / "a.wav", tone(300, 1.0))
    library = _library(tmp_path, [])
    library.load(["jazz"])
    assert library.samples("jazz") is library.samples(DEFAULT_CLASS)  # no folder yet
    write_wav(tmp_path / "moh" / "jazz" / "new.wav", tone(620, 1.0))  # uploaded after the start
    library.apply(library.changes())
    assert band_fraction(library.samples("jazz"), 620) > 0.9
    (tmp_path / "moh" / "jazz" / "new.wav").unlink()
    library.apply(library.changes())
    caplog.clear()
    assert library.samples("jazz") is library.samples(DEFAULT_CLASS)
    assert "music_class_missing" in caplog.text  # logged again after the change


def test_a_file_that_became_unreadable_is_skipped_with_a_log_line(tmp_path, caplog):
    write_wav(tmp_path / "default" / "a.wav", tone(300, 1.0))
    write_wav(tmp_path / "moh" / "jazz" / "a.wav", tone(620, 1.0))
    write_wav(tmp_path / "moh" / "jazz" / "b.wav", tone(900, 1.0))
    library = _library(tmp_path, [])
    library.load(["jazz"])
    assert library.samples("jazz").size == 2 * 8000
    broken = tmp_path / "moh" / "jazz" / "b.wav"
    broken.write_bytes(broken.read_bytes()[:60])  # cut by hand: the data chunk is truncated
    library.apply(library.changes())
    assert library.samples("jazz").size == 8000 and band_fraction(library.samples("jazz"), 620) > 0.9
    unreadable = [record.fields["path"] for record in caplog.records if record.getMessage() == "music_file_unreadable"]
    assert [Path(path).name for path in unreadable] == ["b.wav"]
    broken.chmod(0)  # not even readable (as root this still reads: then the file is only cut)
    library.apply(library.changes())
    assert library.samples("jazz").size == 8000


def _greeting_prompts(tmp_path: Path) -> Prompts:
    prompts = Prompts.load(read_audio)
    prompts.learn([tmp_path], ["welcome"], read_audio, LOG)
    return prompts


def test_a_changed_greeting_is_read_again_and_sentences_with_it_are_rebuilt(tmp_path, caplog):
    write_wav(tmp_path / "welcome.wav", tone(620, 1.0))
    prompts = _greeting_prompts(tmp_path)
    before = prompts.announcement(1, None, False, before=prompts.recording("welcome"))
    assert prompts.changed_recordings([tmp_path], ["welcome"], read_audio, LOG) == {}
    write_wav(tmp_path / "welcome.wav", tone(900, 2.0))
    _touch_later(tmp_path / "welcome.wav")
    updates = prompts.changed_recordings([tmp_path], ["welcome"], read_audio, LOG)
    assert list(updates) == ["welcome"]
    assert prompts.announcement(1, None, False, before=prompts.recording("welcome")) is before  # not yet
    prompts.apply_recordings(updates)
    after = prompts.announcement(1, None, False, before=prompts.recording("welcome"))
    assert after.size > before.size + 0.9 * 8000  # the new greeting is 1 s longer
    assert band_fraction(after[:8000], 900) > 0.8
    (tmp_path / "welcome.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")  # replaced by a corrupt file
    prompts.apply_recordings(prompts.changed_recordings([tmp_path], ["welcome"], read_audio, LOG))
    assert prompts.recording("welcome") == [] and "recording_unreadable" in caplog.text
    write_wav(tmp_path / "welcome.wav", tone(500, 1.0))  # fixed: played again
    _touch_later(tmp_path / "welcome.wav")
    prompts.apply_recordings(prompts.changed_recordings([tmp_path], ["welcome"], read_audio, LOG))
    assert prompts.recording("welcome") == ["recording:welcome"]


def test_the_running_engine_plays_a_replaced_music_class_to_new_callers(tmp_path):
    music = tmp_path / "moh" / "jazz" / "track.wav"
    write_wav(music, tone(620, 4.0))
    with office(tmp_path, config=queue_config(music="jazz", announce_hold_time=False)) as app:
        inbound_call(app, LINE_1, seconds=10.0)  # the entry prompt, then music
        assert band_fraction(far_end_heard(app, LINE_1, 1000), 620) > 0.8
        write_wav(music, tone(900, 4.0))
        _touch_later(music)
        assert app.media.reload() == ["music jazz: 4.0 s"]
        run(app, 0.04)  # the swap is made between two ticks
        assert app.media.reload() == ["no music class or queue greeting changed"]
        inbound_call(app, LINE_2, seconds=10.0)
        assert band_fraction(far_end_heard(app, LINE_2, 1000), 900) > 0.8  # the new caller: the new file
        assert band_fraction(far_end_heard(app, LINE_1, 1000), 620) > 0.8  # the one on hold: what it had


def test_a_party_held_by_a_hook_flash_hears_the_default_class_as_reloaded(tmp_path, monkeypatch):
    music = tmp_path / "debian-moh" / "track.wav"  # stands in for Debian's folder, the default class
    write_wav(music, tone(620, 4.0))
    monkeypatch.setattr(appliance, "HOLD_MUSIC_DIR", music.parent)
    with office(tmp_path) as app:
        internal_call(app, "201", "202")  # ports 2 and 3
        flash(app, "202", seconds=1.0)  # 201 is held
        assert state(app, 3) == "dialtone" and band_fraction(heard(app, 2, 800), 620) > 0.8
        write_wav(music, tone(900, 4.0))
        _touch_later(music)
        assert app.media.reload() == ["music default: 4.0 s"]
        run(app, 1.0)
        assert band_fraction(heard(app, 2, 800), 620) > 0.8  # already on hold: what it had
        flash(app, "202", seconds=1.0)  # nothing dialled: back to 201
        assert state(app, 2) == state(app, 3) == "connected"
        flash(app, "202", seconds=1.0)  # held again: the file as it is now
        assert state(app, 3) == "dialtone"
        held = heard(app, 2, 800)
        assert band_fraction(held, 900) > 0.8 and band_fraction(held, 620) < 0.02


def test_the_running_engine_greets_new_callers_with_a_replaced_greeting(tmp_path):
    greeting = tmp_path / "sounds" / "welcome.wav"
    write_wav(greeting, tone(620, 2.0))
    config = queue_config(music="ringback", announce_hold_time=False, greeting="welcome")
    with office(tmp_path, config=config) as app:
        write_wav(greeting, tone(900, 2.0))
        _touch_later(greeting)
        assert app.media.reload() == ["recording welcome: 2.0 s"]
        inbound_call(app, LINE_1, seconds=4.0)  # routed, answered, the greeting plays
        heard = far_end_heard(app, LINE_1, 3000)
        assert band_fraction(heard, 900) > 0.3 and band_fraction(heard, 620) < 0.02


def test_the_console_reloads_media_and_shows_what_is_in_memory(tmp_path):
    rig = Rig(tmp_path)
    try:
        engine = ConsoleEngine(rig.socket)  # the web admin's link: the same console socket
        assert any(line.startswith(f"music {DEFAULT_CLASS}: ") for line in engine.run("show media"))
        track = tmp_path / "moh" / "jazz" / "track.wav"
        write_wav(track, tone(620, 1.0))
        assert engine.run("media reload") == ["no music class or queue greeting changed"]  # nobody plays jazz
        rig.app.store.update(lambda config: replace(config, queues=tuple(replace(queue, music="jazz")
                                                                         for queue in config.queues)))
        wait_for(lambda: "music jazz: 1.0 s" in engine.run("show media"), "jazz read for the queues")
        write_wav(track, tone(620, 2.5))
        _touch_later(track)
        assert engine.run("media reload") == ["music jazz: 2.5 s"]
        assert "music jazz: 2.5 s" in engine.run("show media")  # swapped in before the answer
    finally:
        rig.close()
    assert rig.step_error is None


def test_a_greeting_no_queue_names_any_more_is_followed_too(tmp_path):
    """Deleted after being unpicked: dropped; uploaded again and picked: the new audio, not the old."""
    write_wav(tmp_path / "welcome.wav", tone(620, 1.0))
    prompts = _greeting_prompts(tmp_path)
    (tmp_path / "welcome.wav").unlink()
    prompts.apply_recordings(prompts.changed_recordings([tmp_path], [], read_audio, LOG))
    assert prompts.recording("welcome") == []
    write_wav(tmp_path / "welcome.wav", tone(620, 1.0))
    prompts.learn([tmp_path], ["welcome"], read_audio, LOG)
    write_wav(tmp_path / "welcome.wav", tone(900, 2.0))  # uploaded again while no queue names it
    _touch_later(tmp_path / "welcome.wav")
    prompts.apply_recordings(prompts.changed_recordings([tmp_path], [], read_audio, LOG))
    prompts.learn([tmp_path], ["welcome"], read_audio, LOG)  # then picked for a queue
    assert band_fraction(prompts.sentence(prompts.recording("welcome")), 900) > 0.8
