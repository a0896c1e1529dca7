"""Recording an IVR prompt by phone (firmware/ivr/recorder.py) against a fake of call control:
who may, the number, the recording ended by # (its tone cut), the playback of the levelled
recording, keep / re-record / no key, too short, hang-up; the stored file is trimmed and at
-18 dBm0 active speech (ITU-T P.56), like an upload, and the IVR reads it at once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from drivers.audiofile import read_audio
from drivers.logs import EventLogger
from dsp.levels import dbm0_to_peak
from firmware.config.demo import demo_config
from firmware.config.model import Extension, Security
from firmware.engine.calls import Leg
from firmware.engine.control import Then
from firmware.engine.worker import Worker
from firmware.ivr import IvrPrompts
from firmware.ivr.recorder import (
    CHOICE_TIMEOUT_S,
    MAX_CHOICE_PROMPTS,
    MAX_RECORDING_S,
    PromptRecorder,
    RecorderWords,
    Step,
)
from firmware.ivr.uploads import prompt_folder, store_recorded_prompt
from firmware.speech.prompt import active_level_dbm0
from firmware.speech.say import sound_dir

HELLO = Path("/usr/share/asterisk/sounds/en_US_f_Allison/hello-world.wav")
PORT = 2


class FakeControl:
    def __init__(self, config):
        self.config = config
        self.tick = 0
        self.states = {PORT: Leg.DIALTONE}
        self.until = 0
        self.played: list[np.ndarray] = []
        self.ended: list[np.ndarray] = []

    def state(self, port):
        return self.states[port]

    def set_state(self, port, state, call=None):
        self.states[port] = state

    def hear_player(self, port):
        pass

    def hear_nothing(self, port):
        pass

    def stop_audio(self, port):
        self.until = self.tick

    def play(self, port, samples):
        self.played.append(samples)
        self.until = self.tick + len(samples) // 160

    def say(self, port, samples, then):
        assert then is Then.WAIT_ON_HOOK
        self.ended.append(samples)
        self.until = self.tick + len(samples) // 160

    def playing(self, port):
        return self.until > self.tick


class SyncWorker(Worker):
    """Runs each job at once on the test's thread (deterministic)."""

    def __init__(self):  # noqa: D107 -- no thread
        pass

    def submit(self, item):
        item()

    def drain(self):
        pass

    def close(self):
        pass


@pytest.fixture(scope="module")
def words():
    return RecorderWords(read_audio)


def make(tmp_path, words, recorders=("201",)):
    config = dataclasses.replace(demo_config(), security=Security(prompt_recorders=tuple(recorders)))
    cc = FakeControl(config)
    relearned = []
    recorder = PromptRecorder(cc, words, lambda language, name, samples: store_recorded_prompt(
        tmp_path, language, name, samples), saved=lambda: relearned.append(True),
        log=EventLogger("ivr-test"), worker=SyncWorker())
    return recorder, cc, relearned


def ext(number):
    return Extension(number=number, port=PORT, name="x")


def run(recorder, cc, seconds, audio=None):
    """Ticks for ``seconds``; the phone's row of each frame from ``audio`` (else quiet)."""
    for index in range(round(seconds * 50)):
        cc.tick += 1
        frame = np.zeros((4, 160), dtype=np.int16)
        if audio is not None:
            piece = audio[index * 160:(index + 1) * 160]
            frame[PORT, :piece.size] = piece
        recorder.tap(frame)
        recorder.on_tick(cc.tick)


def speech():
    return np.round(read_audio(HELLO)).astype(np.int16)


def record(recorder, cc, name="42", audio=None):
    recorder.codes()["record_prompt"](PORT, ext("201"), None)
    run(recorder, cc, 4)  # "number, followed by the pound key"
    for key in f"{name}#":
        recorder.on_digit(PORT, key)
    run(recorder, cc, 1)  # the tone
    session = recorder.sessions[PORT]
    assert session.step is Step.RECORDING and session.name == name
    audio = speech() if audio is None else audio
    run(recorder, cc, audio.size / 8000 + 0.5, audio)
    recorder.on_digit(PORT, "#")
    run(recorder, cc, 0.02)  # the worker's answer is taken on the next tick
    return session


def test_an_extension_not_listed_is_refused_and_nothing_starts(tmp_path, words):
    recorder, cc, _ = make(tmp_path, words)
    recorder.codes()["record_prompt"](PORT, ext("202"), None)
    assert recorder.sessions == {} and len(cc.ended) == 1  # "that feature is not available on this line"
    assert np.array_equal(cc.ended[0], words.sentence(["feature-not-avail-line"]))


def test_by_default_nobody_may_record(tmp_path, words):
    assert Security().prompt_recorders == ()
    recorder, cc, _ = make(tmp_path, words, recorders=())
    recorder.codes()["record_prompt"](PORT, ext("201"), None)
    assert recorder.sessions == {}


def test_record_listen_keep_stores_a_trimmed_levelled_prompt_and_relearns(tmp_path, words):
    recorder, cc, relearned = make(tmp_path, words)
    session = record(recorder, cc)
    assert session.step is Step.REVIEW
    played = cc.played[-1]
    stored = tmp_path / "sounds" / "en" / "42.wav"
    assert not stored.exists()  # nothing stored before 1
    # what plays back is the prepared recording: -18 dBm0 active speech, then the choices
    assert abs(active_level_dbm0(played[: played.size - words.sentence(["if-correct-press", "digits/1", "vm-press",
                                                                        "digits/2", "to-rerecord-it"]).size
                                         - 4000]) + 18.0) < 0.5
    recorder.on_digit(PORT, "1")
    run(recorder, cc, 0.02)
    assert relearned == [True] and PORT not in recorder.sessions
    assert np.array_equal(cc.ended[-1], words.sentence(["vm-saved", "vm-goodbye"]))
    samples = read_audio(stored)
    assert abs(active_level_dbm0(samples) + 18.0) < 0.5  # ITU-T P.56 active level, as uploads
    # trimmed: no long silence at either end (0.5 s of quiet was recorded after the speech)
    loud = np.flatnonzero(np.abs(samples) > dbm0_to_peak(-40.0))
    assert loud[0] < 0.1 * 8000 and samples.size - loud[-1] < 0.1 * 8000
    assert samples.size < speech().size  # the '#' tone and the quiet tail are not kept


def test_the_stored_prompt_is_what_the_ivr_plays_by_name(tmp_path, words):
    recorder, cc, _ = make(tmp_path, words)
    record(recorder, cc, name="7")
    recorder.on_digit(PORT, "1")
    prompts = IvrPrompts(sound_dir, read_audio, custom=lambda language: prompt_folder(tmp_path, language))
    config = demo_config()
    flow = config.ivr_flows[0]
    node = dataclasses.replace(flow.nodes[1], prompt=(("en", ("7",)), ("es", ("vm-press",))))
    config = dataclasses.replace(config, ivr_flows=(dataclasses.replace(
        flow, nodes=(flow.nodes[0], node, *flow.nodes[2:])),))
    assert prompts.learn(config) == []
    said, missing = prompts.sentence("en", ["7"])
    assert missing == [] and abs(active_level_dbm0(said) + 18.0) < 0.5


def test_two_rerecords_and_only_the_last_is_kept(tmp_path, words):
    recorder, cc, _ = make(tmp_path, words)
    record(recorder, cc)
    recorder.on_digit(PORT, "2")  # re-record: the tone again
    assert recorder.sessions[PORT].step is Step.BEEP
    run(recorder, cc, 1)
    quiet_then_loud = np.concatenate([speech()[: 8000] // 4, speech()[:8000]])
    run(recorder, cc, 2.5, quiet_then_loud)
    recorder.on_digit(PORT, "#")
    run(recorder, cc, 0.02)
    recorder.on_digit(PORT, "1")
    stored = read_audio(tmp_path / "sounds" / "en" / "42.wav")
    assert stored.size < 2.2 * 8000  # the second recording (2 s), not the first (2.8 s)


def test_too_short_or_silent_records_again(tmp_path, words):
    recorder, cc, _ = make(tmp_path, words)
    session = record(recorder, cc, audio=np.zeros(4000, dtype=np.int16))  # 0.5 s of silence (+0.5 s)
    assert session.step is Step.BEEP  # "too short", the tone: recording again
    assert not (tmp_path / "sounds").exists()
    recorder.on_digit(PORT, "1")  # not a choice now
    assert not (tmp_path / "sounds").exists()


def test_no_key_after_the_choices_discards_after_three_prompts(tmp_path, words):
    recorder, cc, _ = make(tmp_path, words)
    record(recorder, cc)
    run(recorder, cc, MAX_CHOICE_PROMPTS * (CHOICE_TIMEOUT_S + 8))
    assert PORT not in recorder.sessions and not (tmp_path / "sounds").exists()


def test_the_recording_stops_at_its_limit(tmp_path, words):
    recorder, cc, _ = make(tmp_path, words)
    recorder.codes()["record_prompt"](PORT, ext("201"), None)
    run(recorder, cc, 4)
    for key in "9#":
        recorder.on_digit(PORT, key)
    run(recorder, cc, 1)
    loud = np.tile(speech(), int(MAX_RECORDING_S * 8000 // speech().size) + 2)
    run(recorder, cc, MAX_RECORDING_S + 0.1, loud)
    assert recorder.sessions[PORT].step is Step.REVIEW


def test_an_empty_number_is_asked_again_and_hanging_up_stores_nothing(tmp_path, words):
    recorder, cc, _ = make(tmp_path, words)
    recorder.codes()["record_prompt"](PORT, ext("201"), None)
    recorder.on_digit(PORT, "#")
    assert recorder.sessions[PORT].step is Step.NAME and recorder.sessions[PORT].name == ""
    for key in "123456789#":  # at most 8 digits are kept
        recorder.on_digit(PORT, key)
    assert recorder.sessions[PORT].name == "12345678"
    cc.states[PORT] = Leg.IDLE  # on hook
    run(recorder, cc, 0.1)
    assert recorder.sessions == {} and not (tmp_path / "sounds").exists()


def test_a_prompt_name_and_language_are_checked_at_the_edge(tmp_path):
    from firmware import FirmwareError
    with pytest.raises(FirmwareError, match="not a prompt name"):
        store_recorded_prompt(tmp_path, "en", "../x", np.ones(8000))
    with pytest.raises(FirmwareError, match="language"):
        store_recorded_prompt(tmp_path, "e/n", "42", np.ones(8000))
