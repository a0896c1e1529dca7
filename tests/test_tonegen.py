"""Tone generation: levels to ±0.2 dB, cadences exact to the sample, blocks of any length."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dsp import DspError
from dsp.levels import dbm0_to_peak
from dsp.tonegen import ToneGenerator, render
from dsp.toneplans import CED, CNG, TONE_NAMES, ZONES, Frequency, Segment, ToneSpec, get_plan

LEVEL_TOLERANCE_DB = 0.2


def component_levels_dbm0(samples: np.ndarray, frequencies: list[float]) -> list[float]:
    """Least-squares amplitude of each sine in ``samples`` (an independent measurement)."""
    n = np.arange(len(samples))
    columns = []
    for hz in frequencies:
        columns += [np.cos(2 * np.pi * hz * n / 8000), np.sin(2 * np.pi * hz * n / 8000)]
    coefficients, *_ = np.linalg.lstsq(np.array(columns).T, samples, rcond=None)
    amplitudes = np.hypot(coefficients[0::2], coefficients[1::2])
    return [20 * np.log10(a / dbm0_to_peak(0.0)) for a in amplitudes]


def on_off_mask(spec: ToneSpec, n: int) -> np.ndarray:
    """Per sample, which segment index plays (from the spec's durations alone)."""
    lengths = [n if np.isinf(s.duration_ms) else round(s.duration_ms * 8) for s in spec.segments]
    pattern = np.repeat(np.arange(len(lengths)), lengths)
    return np.resize(pattern, n)


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("level", [-10.0, -33.0])
def test_every_frequency_of_every_tone_at_its_level(zone, level):
    plan = get_plan(zone)
    for name in TONE_NAMES:
        spec = plan.tone(name)
        x = render(spec, round(min(spec.cycle_ms, 20000) * 8), level_dbm0=level)
        mask = on_off_mask(spec, len(x))
        for index, segment in enumerate(spec.segments):
            piece = x[mask == index]
            if segment.frequency is None:
                assert np.all(piece == 0.0), (zone, name)
                continue
            components = segment.frequency.components()
            measured = component_levels_dbm0(piece, [hz for hz, _ in components])
            for (hz, relative), got in zip(components, measured, strict=True):
                expected = level + segment.gain_db + 20 * np.log10(relative)
                assert abs(got - expected) <= LEVEL_TOLERANCE_DB, (zone, name, hz, got, expected)


def test_levels_in_dbm0_convention():
    """A single tone at L dBm0 has peak 22,826 × 10^(L/20) (dsp.levels); a modulated tone at L
    has the power of one sine at L."""
    x = render(get_plan("de").dial, 8000)
    assert abs(np.max(np.abs(x)) - dbm0_to_peak(-10.0)) < 1.0
    y = render(get_plan("au").dial, 80000)
    power_db = 10 * np.log10(np.mean(y * y) / (dbm0_to_peak(0.0) ** 2 / 2))
    assert abs(power_db - (-10.0)) <= LEVEL_TOLERANCE_DB


@pytest.mark.parametrize("zone", ZONES)
def test_cadence_boundaries_are_sample_exact(zone):
    """Silence exactly where the cadence says, sound in every sample range of every burst
    (each burst starts at phase 0, so its first sample is 0 and its second is not)."""
    plan = get_plan(zone)
    for spec in (*plan.tones(), CNG):
        if spec.continuous:
            continue
        n = round(2 * spec.cycle_ms * 8) + 123
        x = render(spec, n)
        mask = on_off_mask(spec, n)
        sounding = np.array([s.frequency is not None for s in spec.segments])[mask]
        assert np.all(x[~sounding] == 0.0), spec.name
        starts = np.flatnonzero(np.diff(mask.astype(int)) != 0) + 1
        for start in starts:
            if sounding[start]:
                assert x[start] == 0.0 and x[start + 1] != 0.0, (spec.name, start)
            if start > 0 and sounding[start - 1]:
                assert np.any(x[start - 8 : start] != 0.0), (spec.name, start)


def test_one_shot_tone_stops():
    x = render(CED, 4 * 8000)
    assert np.all(x[3300 * 8 :] == 0.0) and np.all(np.abs(x[: 3300 * 8]).reshape(-1, 8).max(axis=1) > 0)
    generator = ToneGenerator(1)
    generator.play(0, CED)
    generator.process(3300 * 8 - 1)
    assert generator.playing(0)
    generator.process(1)
    assert not generator.playing(0)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(cuts=st.lists(st.integers(0, 700), min_size=1, max_size=30))
def test_blocks_of_any_length_give_the_same_signal(cuts):
    specs = [get_plan("uk").ringback, get_plan("au").congestion, get_plan("us").sit, get_plan("au").dial]
    generator = ToneGenerator(len(specs))
    for channel, spec in enumerate(specs):
        generator.play(channel, spec)
    pieces = [generator.process(n) for n in cuts]
    total = sum(cuts)
    joined = np.concatenate(pieces, axis=1) if total else np.zeros((len(specs), 0))
    for channel, spec in enumerate(specs):
        np.testing.assert_array_equal(joined[channel], render(spec, total))


def test_channels_play_different_tones_from_different_positions():
    plan = get_plan("de")
    generator = ToneGenerator(4)
    generator.play(0, plan.busy)
    head = generator.process(1234)
    generator.play(2, plan.ringback, level_dbm0=-20.0)  # starts 1234 samples later
    tail = generator.process(20000)
    np.testing.assert_array_equal(np.concatenate([head[0], tail[0]]), render(plan.busy, 21234))
    np.testing.assert_array_equal(tail[2], render(plan.ringback, 20000, level_dbm0=-20.0))
    assert np.all(tail[1] == 0.0) and np.all(tail[3] == 0.0) and np.all(head[2] == 0.0)
    generator.stop(0)
    assert np.all(generator.process(500)[0] == 0.0) and not generator.playing(0)
    generator.play(0, plan.busy)  # play again: from the beginning
    np.testing.assert_array_equal(generator.process(800)[0], render(plan.busy, 800))


def test_long_running_tone_keeps_its_frequency():
    """Hours in: phase comes from the sample index, so no drift accumulates."""
    generator = ToneGenerator(1)
    generator.play(0, get_plan("de").dial)
    generator._position[0] = 8000 * 3600 * 5  # five hours in, as process() would have left it
    x = generator.process(8000)[0]
    assert abs(component_levels_dbm0(x, [425.0])[0] + 10.0) <= LEVEL_TOLERANCE_DB


def test_three_frequency_sum_and_segment_gain():
    spec = ToneSpec(
        "chord",
        (Segment(100.0, Frequency((350.0, 440.0))), Segment(100.0, Frequency.parse("425"), gain_db=-6.0)),
        -12.0,
    )
    x = render(spec, 1600)
    assert [round(v, 2) for v in component_levels_dbm0(x[:800], [350.0, 440.0])] == [-12.0, -12.0]
    assert round(component_levels_dbm0(x[800:], [425.0])[0], 2) == -18.0


def test_bad_parameters_raise_dsp_error():
    with pytest.raises(DspError):
        ToneGenerator(0)
    generator = ToneGenerator(2)
    with pytest.raises(DspError):
        generator.play(2, CNG)
    with pytest.raises(DspError):
        generator.play(0, "busy")  # type: ignore[arg-type]
    with pytest.raises(DspError):
        generator.play(0, CNG, level_dbm0=4.0)  # louder than full scale
    with pytest.raises(DspError):
        generator.play(0, CNG, level_dbm0=float("nan"))
    with pytest.raises(DspError):
        generator.process(-1)
    with pytest.raises(DspError):
        render(ToneSpec("x", (Segment(0.01, Frequency.parse("425")),), -10.0), 10)  # < 1 sample
    assert generator.process(0).shape == (2, 0)
