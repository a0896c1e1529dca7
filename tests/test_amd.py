"""dsp.amd: Asterisk AMD's rules and defaults, frame-exact at their thresholds, and the beep detector.

Voice and silence here are synthetic so that every frame's class is known: "voice" is seeded
white noise far above the silence threshold, "silence" is digital silence. The rules then
decide at an exact frame; the real-recording accuracy is in test_amd_table.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from audio_corpus import speech

from dsp import DspError
from dsp.amd import (
    BEEP_MAX_HZ,
    BEEP_MIN_HZ,
    CAUSES,
    FRAME_SAMPLES,
    RESULTS,
    AmdBank,
    AmdDetector,
    AmdResult,
    AmdSettings,
    BeepDetector,
    analyse,
    beep_frequencies,
    beep_frequency,
)
from dsp.g711 import ulaw_roundtrip
from dsp.levels import dbm0_to_peak, dbm0_to_rms

VOICE_RMS = 3000.0  # mean |x| ~2400, ten times the default silence threshold


def _signal(*segments: tuple[str, int], seed: int = 1) -> np.ndarray:
    """("v", ms) voice and ("s", ms) silence segments end to end (ms multiples of 20)."""
    rng = np.random.default_rng(seed)
    parts = []
    for kind, ms in segments:
        assert ms % 20 == 0
        n = ms * 8
        parts.append(rng.normal(0.0, VOICE_RMS, n) if kind == "v" else np.zeros(n))
    return np.concatenate(parts)


def _run(signal: np.ndarray, settings: AmdSettings | None = None) -> AmdResult | None:
    """Feed ``signal`` frame by frame; the first decision, or None if none came."""
    detector = AmdDetector(settings)
    for frame in np.round(signal).astype(np.int16).reshape(-1, FRAME_SAMPLES):
        result = detector.feed(frame)
        if result is not None:
            return result
    return None


# -- parameters: Asterisk's amd.conf names and the defaults of configs/samples/amd.conf.sample --


def test_defaults_are_asterisk_amd_conf_sample():
    assert dataclasses.asdict(AmdSettings()) == {
        "initial_silence_ms": 2500,
        "greeting_ms": 1500,
        "after_greeting_silence_ms": 800,
        "total_analysis_time_ms": 5000,
        "min_word_length_ms": 100,
        "between_words_silence_ms": 50,
        "maximum_number_of_words": 2,
        "maximum_word_length_ms": 5000,
        "silence_threshold": 256,
        "voice_detector": "energy",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("initial_silence_ms", 0),
        ("initial_silence_ms", 60_001),
        ("greeting_ms", -1),
        ("after_greeting_silence_ms", 19),
        ("total_analysis_time_ms", 1.5),
        ("min_word_length_ms", "100"),
        ("between_words_silence_ms", True),
        ("maximum_number_of_words", 0),
        ("maximum_number_of_words", 101),
        ("maximum_word_length_ms", None),
        ("silence_threshold", 0),
        ("silence_threshold", 32768),
        ("voice_detector", "neural"),
    ],
)
def test_bad_setting_is_one_line_dsp_error(field, value):
    with pytest.raises(DspError) as error:
        AmdSettings(**{field: value})
    assert field in str(error.value) and "\n" not in str(error.value)


def test_settings_from_a_configuration_mapping():
    assert AmdSettings.from_mapping({}) == AmdSettings()
    assert AmdSettings.from_mapping({"greeting_ms": 2000, "voice_detector": "webrtc"}) == AmdSettings(
        greeting_ms=2000, voice_detector="webrtc"
    )
    with pytest.raises(DspError, match="unknown setting greting_ms"):
        AmdSettings.from_mapping({"greting_ms": 2000})
    with pytest.raises(DspError, match="greeting_ms must be an integer"):
        AmdSettings.from_mapping({"greeting_ms": "2000"})


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        AmdSettings().greeting_ms = 10  # type: ignore[misc]


@pytest.mark.parametrize(
    "frame",
    [np.zeros(159), np.zeros(161), np.zeros((1, 160)), np.array(["a"] * 160), np.full(160, np.nan)],
)
def test_bad_frame_is_dsp_error_and_changes_nothing(frame):
    detector = AmdDetector()
    with pytest.raises(DspError):
        detector.feed(frame)
    assert detector.frames_seen == 0


# -- the rules, at their thresholds ---------------------------------------------------------


def test_silence_only_is_machine_by_initial_silence_at_2500_ms():
    assert _run(_signal(("s", 6000))) == AmdResult("machine", "initial_silence", 2500)


def test_first_word_one_frame_before_the_initial_silence_limit_is_not_initial_silence():
    result = _run(_signal(("s", 2480), ("v", 300), ("s", 2000)))
    assert result == AmdResult("human", "silence_after_greeting", 2480 + 300 + 800)


def test_short_answer_then_800_ms_of_silence_is_human():
    assert _run(_signal(("s", 500), ("v", 600), ("s", 3000))) == AmdResult(
        "human", "silence_after_greeting", 500 + 600 + 800
    )


def test_after_greeting_silence_one_frame_short_is_not_yet_human():
    # 780 ms of silence then more speech: the greeting goes on (two words, 1200 ms of voice).
    result = _run(_signal(("s", 500), ("v", 600), ("s", 780), ("v", 600), ("s", 3000)))
    assert result == AmdResult("human", "silence_after_greeting", 500 + 600 + 780 + 600 + 800)


def test_greeting_exactly_at_the_limit_is_machine_one_frame_less_is_human():
    assert _run(_signal(("s", 400), ("v", 1500), ("s", 3000))) == AmdResult(
        "machine", "long_greeting", 400 + 1500
    )
    assert _run(_signal(("s", 400), ("v", 1480), ("s", 3000))) == AmdResult(
        "human", "silence_after_greeting", 400 + 1480 + 800
    )


def test_greeting_counts_the_voice_of_all_its_words():
    # Two words of 760 ms: 1520 ms of voice, the limit reached 20 ms into the second... at 740 ms.
    result = _run(_signal(("s", 400), ("v", 760), ("s", 300), ("v", 760), ("s", 3000)))
    assert result == AmdResult("machine", "long_greeting", 400 + 760 + 300 + 740)


def test_third_word_is_machine_by_max_words_two_words_are_human():
    words3 = _signal(("s", 300), ("v", 200), ("s", 200), ("v", 200), ("s", 200), ("v", 200), ("s", 3000))
    # The third word is a word once it has lasted min_word_length (100 ms).
    assert _run(words3) == AmdResult("machine", "max_words", 300 + 200 + 200 + 200 + 200 + 100)
    words2 = _signal(("s", 300), ("v", 200), ("s", 200), ("v", 200), ("s", 3000))
    assert _run(words2) == AmdResult("human", "silence_after_greeting", 300 + 200 + 200 + 200 + 800)


def test_between_words_silence_splits_words_at_50_ms_not_below():
    # Gaps of 40 ms (two frames, < 50 ms) do not end a word: four bursts are one word.
    joined = _signal(*[("v", 200), ("s", 40)] * 4, ("s", 3000))
    assert _run(joined, AmdSettings(greeting_ms=5000)).result == "human"
    # Gaps of 60 ms (the first whole frame count reaching 50 ms) do: the third burst is a third word.
    split = _signal(*[("v", 200), ("s", 60)] * 4, ("s", 3000))
    assert _run(split, AmdSettings(greeting_ms=5000)) == AmdResult("machine", "max_words", 260 * 2 + 100)


def test_voice_shorter_than_min_word_length_is_no_word():
    # 80 ms clicks every 500 ms never make a word: the initial silence runs on through them
    # (2500 ms are reached inside the fifth click; silence decides on the next silent frame).
    clicks = _signal(*[("s", 420), ("v", 80)] * 10)
    assert _run(clicks) == AmdResult("machine", "initial_silence", 2520)


def test_word_longer_than_maximum_word_length_is_machine():
    settings = AmdSettings(greeting_ms=10_000, maximum_word_length_ms=3000)
    assert _run(_signal(("s", 200), ("v", 4000)), settings) == AmdResult(
        "machine", "max_word_length", 200 + 3000
    )


def test_no_decision_within_total_analysis_time_is_notsure():
    settings = AmdSettings(greeting_ms=60_000, maximum_number_of_words=100)
    words = _signal(*[("v", 200), ("s", 700)] * 8)
    assert _run(words, settings) == AmdResult("notsure", "max_time", 5000)


@pytest.mark.parametrize(
    ("detector", "level_dbm0", "decided_ms"),
    [("energy", -6.0, 1500), ("energy", -20.0, 1500), ("webrtc", -6.0, 1520), ("webrtc", -20.0, 1500)],
)
def test_very_loud_noise_from_the_answer_is_one_long_greeting_machine(detector, level_dbm0, decided_ms):
    noise = np.random.default_rng(3).normal(0.0, dbm0_to_rms(level_dbm0), 6 * 8000)
    settings = AmdSettings(voice_detector=detector)
    result = _run(ulaw_roundtrip(np.clip(noise, -32768, 32767)), settings)
    assert result == AmdResult("machine", "long_greeting", decided_ms)


@pytest.mark.parametrize("detector", ["energy", "webrtc"])
def test_silence_only_is_machine_with_either_voice_detector(detector):
    line = ulaw_roundtrip(np.random.default_rng(4).normal(0.0, dbm0_to_rms(-55.0), 6 * 8000))
    result = _run(line, AmdSettings(voice_detector=detector))
    assert result == AmdResult("machine", "initial_silence", 2500)


def test_silence_threshold_is_mean_absolute_amplitude_256():
    # Alternating +-A has mean |x| = A exactly (and is a 4 kHz signal, no beep).
    def burst(amplitude: int) -> np.ndarray:
        voiced = amplitude * np.tile([1.0, -1.0], 4000 // 2)  # 500 ms
        return np.concatenate([np.zeros(2400), voiced, np.zeros(16000)])

    assert _run(burst(255)) == AmdResult("machine", "initial_silence", 2500)
    assert _run(burst(256)) == AmdResult("human", "silence_after_greeting", 300 + 500 + 800)
    assert _run(burst(1000), AmdSettings(silence_threshold=1001)).cause == "initial_silence"


def test_decision_is_returned_again_and_never_changes():
    detector = AmdDetector()
    frames = np.round(_signal(("s", 300), ("v", 300), ("s", 900), ("v", 3000))).reshape(-1, FRAME_SAMPLES)
    results = [detector.feed(frame) for frame in frames]
    first = next(k for k, r in enumerate(results) if r is not None)
    assert all(r is None for r in results[:first])
    assert {r for r in results[first:]} == {AmdResult("human", "silence_after_greeting", 1400)}
    assert (first + 1) * 20 == 1400 and detector.result == results[-1]
    assert results[-1].result in RESULTS and results[-1].cause in CAUSES


def test_analyse_pads_a_short_recording_with_silence():
    result, beep = analyse(_signal(("s", 300), ("v", 400)))  # ends before the 800 ms of silence
    assert result == AmdResult("human", "silence_after_greeting", 1500) and beep is None
    assert analyse(np.zeros(0))[0] == AmdResult("machine", "initial_silence", 2500)
    with pytest.raises(DspError):
        analyse(np.zeros((2, 160)))


# -- the beep detector -----------------------------------------------------------------------


def _tone(hz: float, ms: float, level_dbm0: float = -12.0) -> np.ndarray:
    t = np.arange(round(ms * 8)) / 8000.0
    return dbm0_to_peak(level_dbm0) * np.sin(2 * np.pi * hz * t + 0.3)


def _beeps(signal: np.ndarray) -> list:
    detector = BeepDetector()
    padded = np.concatenate([signal, np.zeros((-len(signal)) % FRAME_SAMPLES + 400 * 8)])
    return [b for b in (detector.feed(f) for f in padded.reshape(-1, FRAME_SAMPLES)) if b is not None]


@pytest.mark.parametrize("hz", [BEEP_MIN_HZ + 10, 440.0, 850.0, 1000.0, 1400.0, 1850.0, BEEP_MAX_HZ - 10])
@pytest.mark.parametrize("level_dbm0", [-3.0, -20.0, -35.0])
def test_beep_sweep_frequency_and_level_through_g711_with_noise(hz, level_dbm0):
    rng = np.random.default_rng(int(hz))
    signal = np.concatenate([np.zeros(4000), _tone(hz, 400.0, level_dbm0), np.zeros(4000)])
    signal = ulaw_roundtrip(signal + rng.normal(0.0, dbm0_to_rms(level_dbm0 - 25.0), signal.size))
    beeps = _beeps(signal)
    assert len(beeps) == 1
    assert abs(beeps[0].start_ms - 500) <= 20 and abs(beeps[0].end_ms - 900) <= 20
    assert abs(beeps[0].frequency_hz - hz) <= 15.0


@pytest.mark.parametrize("hz", [300.0, 2300.0, 3000.0])
def test_tone_outside_400_to_2000_hz_is_no_beep(hz):
    assert _beeps(np.concatenate([np.zeros(800), _tone(hz, 400.0)])) == []


def test_beep_needs_100_ms():
    assert _beeps(np.concatenate([np.zeros(800), _tone(1000.0, 80.0)])) == []
    assert len(_beeps(np.concatenate([np.zeros(800), _tone(1000.0, 120.0)]))) == 1


def test_beep_quieter_than_minus_40_dbm0_is_ignored():
    assert _beeps(np.concatenate([np.zeros(800), _tone(1000.0, 400.0, -46.0)])) == []


def test_tone_that_never_ends_is_reported_at_3_s():
    beeps = _beeps(_tone(1000.0, 5000.0))
    assert len(beeps) == 1 and beeps[0].start_ms == 0 and beeps[0].end_ms == 3000


@pytest.mark.parametrize(("seed", "gain"), [(5, 0.5), (6, 1.0), (7, 0.25)])
def test_no_beep_in_five_minutes_of_speech(seed, gain):
    # Talk-off: the asterisk-core-sounds prompts at three levels, on a G.711 line.
    signal = ulaw_roundtrip(speech(300.0, seed=seed) * gain)
    assert _beeps(signal) == []


def test_detector_hears_the_beep_after_deciding():
    greeting = _signal(("s", 300), ("v", 2000), ("s", 300))
    signal = np.concatenate([greeting, _tone(1000.0, 500.0), np.zeros(8000)])
    result, beep = analyse(signal)
    assert result == AmdResult("machine", "long_greeting", 1800)
    assert beep is not None and abs(beep.end_ms - 3100) <= 20


# -- many calls at once ----------------------------------------------------------------------


def test_vectorised_beep_frequencies_agree_with_the_one_frame_version():
    rng = np.random.default_rng(9)
    frames = [np.zeros(160), rng.normal(0.0, 3000.0, 160), speech(3.0, seed=2)[: 160 * 10]]
    for hz in (350.0, 399.0, 400.0, 401.0, 1000.0, 1999.0, 2001.0, 2600.0):
        for level in (-45.0, -38.0, -10.0):
            frames.append(_tone(hz, 20.0, level) + rng.normal(0.0, 30.0, 160))
    stacked = np.concatenate([np.reshape(f, (-1, 160)) for f in frames])
    many = beep_frequencies(stacked)
    one = np.array([beep_frequency(frame) for frame in stacked])
    assert np.array_equal(np.isnan(many), np.isnan(one))
    assert np.allclose(many[~np.isnan(many)], one[~np.isnan(one)], rtol=0.0, atol=1e-9)
    assert np.count_nonzero(~np.isnan(one)) >= 8  # at least the 400, 401, 1000, 1999 Hz tones above -40 dBm0


@pytest.mark.parametrize("detector", ["energy", "webrtc"])
def test_bank_gives_what_each_call_alone_gives(detector):
    settings = AmdSettings(voice_detector=detector)
    rng = np.random.default_rng(11)
    calls = [
        _signal(("s", 400), ("v", 600), ("s", 4000)),
        _signal(("s", 5000)),
        np.concatenate([_signal(("s", 300), ("v", 2000), ("s", 300)), _tone(1000.0, 500.0), np.zeros(8000)]),
        ulaw_roundtrip(speech(5.0, seed=3) * 0.5 + rng.normal(0.0, 20.0, 40000)),
    ]
    length = max(len(c) for c in calls)
    block = np.stack([np.concatenate([c, np.zeros(length - len(c))]) for c in calls])
    block = np.round(block[:, : length // 160 * 160]).astype(np.int16)
    bank = AmdBank(len(calls), settings)
    alone = [AmdDetector(settings) for _ in calls]
    for at in range(0, block.shape[1], 160):
        got = bank.process(block[:, at : at + 160])
        assert got == [d.feed(block[c, at : at + 160]) for c, d in enumerate(alone)]
    assert [d.beep for d in bank.detectors] == [d.beep for d in alone]
    assert [d.result.cause for d in alone[:3]] == [
        "silence_after_greeting",
        "initial_silence",
        "long_greeting",
    ]


def test_bank_checks_its_block_and_restarts_a_channel():
    bank = AmdBank(2)
    with pytest.raises(DspError):
        bank.process(np.zeros((3, 160)))
    with pytest.raises(DspError):
        bank.process(np.full((2, 160), np.inf))
    with pytest.raises(DspError):
        AmdBank(0)
    for _ in range(125):
        results = bank.process(np.zeros((2, 160)))
    assert results == [AmdResult("machine", "initial_silence", 2500)] * 2
    bank.restart(1)
    assert bank.process(np.zeros((2, 160)))[1] is None and bank.detectors[1].frames_seen == 1
    with pytest.raises(DspError):
        bank.restart(2)
