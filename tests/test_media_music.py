"""Music-on-hold classes: a directory of WAV files read once into one looped buffer, capped
for a Pi's memory; unreadable files skipped; a missing class falls back to ``default``;
queue callers hear their queue's class, or the ringback tone for ``ringback``."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from acd_engine_helpers import MATCH, matches, queue_config
from features_helpers import LINE_1, band_fraction, far_end_heard, inbound_call, office, switch_events

from drivers.audiofile import read_audio
from drivers.logs import EventLogger
from dsp.toneplans import get_plan
from firmware.media.music import DEFAULT_CLASS, MusicLibrary, load_music_class


def write_wav(path: Path, samples: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.asarray(samples, dtype="<i2").tobytes())


def tone(hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * 8000)) / 8000.0
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


LOG = EventLogger("engine")


def test_class_is_its_files_in_name_order_up_to_the_limit(tmp_path):
    write_wav(tmp_path / "b.wav", tone(500, 2.0))
    write_wav(tmp_path / "a.wav", tone(300, 1.0))
    write_wav(tmp_path / "c.wav", tone(700, 1.0))
    buffer = load_music_class(tmp_path, read_audio, LOG, max_seconds=3.0)
    assert buffer.size == 3 * 8000  # a (1 s) + b (2 s); c would pass 3 s
    assert band_fraction(buffer[:8000], 300) > 0.9 and band_fraction(buffer[8000:], 500) > 0.9
    assert load_music_class(tmp_path, read_audio, LOG, max_seconds=4.0).size == 4 * 8000  # the edge: c fits


def test_a_first_file_longer_than_the_limit_is_cut(tmp_path):
    write_wav(tmp_path / "long.wav", tone(400, 5.0))
    assert load_music_class(tmp_path, read_audio, LOG, max_seconds=2.0).size == 2 * 8000


def test_unreadable_files_are_skipped_and_an_empty_class_does_not_exist(tmp_path, caplog):
    (tmp_path / "broken.wav").write_bytes(b"RIFF....not a wav")
    write_wav(tmp_path / "ok.wav", tone(300, 1.0))
    assert load_music_class(tmp_path, read_audio, LOG).size == 8000
    assert "music_file_unreadable" in caplog.text
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_music_class(empty, read_audio, LOG) is None


def test_library_falls_back_to_default_and_reads_nothing_when_asked(tmp_path, caplog):
    write_wav(tmp_path / "default" / "x.wav", tone(300, 1.0))
    write_wav(tmp_path / "custom" / "jazz" / "y.wav", tone(600, 1.0))
    (tmp_path / "custom" / "notes.txt").write_text("not a class")
    directories = MusicLibrary.directories_of(tmp_path / "default", tmp_path / "custom")
    assert set(directories) == {DEFAULT_CLASS, "jazz"}
    reads: list[Path] = []

    def counting_read(path: Path) -> np.ndarray:
        reads.append(path)
        return read_audio(path)

    library = MusicLibrary(directories, counting_read)
    library.load(["jazz", "nosuch"])
    assert len(reads) == 2
    assert band_fraction(library.samples("jazz"), 600) > 0.9
    assert library.samples("nosuch") is library.samples(DEFAULT_CLASS)
    assert caplog.text.count("music_class_missing") == 1
    library.samples("nosuch")
    assert caplog.text.count("music_class_missing") == 1  # logged once
    library.load(["jazz"])
    assert len(reads) == 2  # loaded classes are not read again


def test_queue_callers_hear_their_queues_music_class(tmp_path):
    write_wav(tmp_path / "moh" / "jazz" / "track.wav", tone(620, 4.0))
    with office(tmp_path, config=queue_config(music="jazz", announce_hold_time=False)) as app:
        inbound_call(app, LINE_1, seconds=10.0)  # the entry prompt, then music
        heard = far_end_heard(app, LINE_1, 1000)
        assert matches(heard, app.acd.music.samples("jazz")) > MATCH
        assert band_fraction(heard, 620) > 0.8


@pytest.mark.parametrize("music", ["ringback", "nosuch"])
def test_ringback_class_and_missing_class(tmp_path, music):
    with office(tmp_path, config=queue_config(music=music, announce_hold_time=False)) as app, \
            switch_events("engine") as events:
        inbound_call(app, LINE_1, seconds=14.0)  # the entry prompt, then 4 s of waiting
        heard = far_end_heard(app, LINE_1, 4000)
        if music == "ringback":
            ringback = get_plan("us").ringback
            assert app.switch.players.tone(LINE_1) == ringback.name
            assert band_fraction(heard, 440) + band_fraction(heard, 480) > 0.8
        else:
            assert matches(heard, app.acd.music.samples(DEFAULT_CLASS)) > MATCH
            assert [e["music"] for e in events.named("music_class_missing")] == ["nosuch"]
