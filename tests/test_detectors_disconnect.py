"""The disconnect tone detector as the engine runs it (firmware/engine/detectors.py): fed
``DISCONNECT_BATCH_TICKS`` ticks at a time (issue 10: its cost is per call), busy and
congestion are still reported within the latency limits test_progress.py sets for the
detector fed tick by tick, and speech is never taken for either."""

from __future__ import annotations

import numpy as np
import pytest
from audio_corpus import speech

from drivers.audio import TICK_SAMPLES
from dsp.tonegen import render
from dsp.toneplans import get_plan
from firmware.engine.detector_needs import DetectorNeeds
from firmware.engine.detectors import DISCONNECT_BATCH_TICKS, DetectorBank, ToneHeard

RATE = 8000
LEAD = 2437  # silence before the tone: not on a tick boundary
DISCONNECT_ONLY = DetectorNeeds(False, True, False, (), False, False, ())
PORTS = [False, False, True, True]  # lines 0 and 1, phones 2 and 3


def run(plan, line_audio: list[np.ndarray]) -> tuple[list[tuple[int, ToneHeard]], int]:
    """Feed both lines tick by tick; (tick, event) of every event, and the disconnect detector's calls."""
    bank = DetectorBank(PORTS, plan, "bell202")
    bank.set_needs(DISCONNECT_ONLY)
    calls = []
    process = bank.disconnect.process
    bank.disconnect.process = lambda audio: (calls.append(audio.shape[1]), process(audio))[1]
    length = max(len(x) for x in line_audio)
    frame = np.zeros((len(PORTS), TICK_SAMPLES), dtype=np.int16)
    heard = []
    for tick in range(length // TICK_SAMPLES):
        for line, audio in enumerate(line_audio):
            chunk = audio[tick * TICK_SAMPLES : (tick + 1) * TICK_SAMPLES]
            frame[line] = np.clip(np.rint(np.pad(chunk, (0, TICK_SAMPLES - len(chunk)))), -32768, 32767)
        heard += [(tick, event) for event in bank.process(frame)[0]]
    assert calls and set(calls) == {DISCONNECT_BATCH_TICKS * TICK_SAMPLES}
    return heard, len(calls)


@pytest.mark.parametrize("zone,tone,limit_s", [
    ("us", "busy", 2.0), ("us", "congestion", 1.0), ("de", "busy", 2 * 0.96),  # test_progress.py's limits
])
def test_disconnect_tones_are_reported_within_the_detectors_latency_limits(zone, tone, limit_s):
    plan = get_plan(zone)
    signal = np.concatenate([np.zeros(LEAD), render(plan.tone(tone), 4 * RATE)])
    quiet = np.zeros(len(signal))
    heard, calls = run(plan, [quiet, signal])
    assert calls == len(signal) // TICK_SAMPLES // DISCONNECT_BATCH_TICKS
    ongoing = [(tick, event) for tick, event in heard if event.ongoing]
    assert [(event.port, event.tone) for _, event in ongoing] == [(1, tone)]
    tick = ongoing[0][0]
    assert ((tick + 1) * TICK_SAMPLES - LEAD) / RATE <= limit_s


def test_speech_on_a_connected_line_is_no_disconnect_tone():
    plan = get_plan("us")
    talk = speech(20.0, np.random.default_rng(7))
    heard, _ = run(plan, [talk, np.roll(talk, 5 * RATE)])
    assert heard == []
