"""Tone plans: the data against the figures of ITU-T E.180 and the national specifications."""

from __future__ import annotations

import dataclasses
import math

import pytest

from dsp import DspError
from dsp.toneplans import (
    CED,
    CNG,
    CONTINUOUS,
    FAX_TONE_NAMES,
    SIT_ITU_HZ,
    SIT_US_HZ,
    TONE_NAMES,
    ZONES,
    Frequency,
    Segment,
    ToneSpec,
    get_plan,
    get_tone,
)

EXPECTED_ZONES = ("us", "ca", "uk", "de", "fr", "es", "it", "pt", "nl", "gr", "mx", "co", "ar", "cl", "br", "au")


def cadence(spec: ToneSpec) -> list[tuple[str | None, float]]:
    return [(None if s.frequency is None else s.frequency.notation, s.duration_ms) for s in spec.segments]


def test_zones_are_the_sixteen_required():
    assert ZONES == EXPECTED_ZONES
    for zone in ZONES:
        assert get_plan(zone).zone == zone


@pytest.mark.parametrize("bad", ["xx", "US", "", None, 3])
def test_unknown_zone_lists_the_valid_ones(bad):
    with pytest.raises(DspError) as error:
        get_plan(bad)
    message = str(error.value)
    assert "\n" not in message and all(zone in message for zone in ZONES)


def test_unknown_tone_name():
    with pytest.raises(DspError, match="valid: dial"):
        get_plan("de").tone("howler")
    assert get_tone("de", "cng") is CNG and get_tone("us", "ced") is CED


@pytest.mark.parametrize("zone", EXPECTED_ZONES)
def test_every_zone_has_every_tone_in_range(zone):
    plan = get_plan(zone)
    for name in TONE_NAMES + FAX_TONE_NAMES:
        spec = plan.tone(name)
        assert spec.name == name
        for segment in spec.segments:
            assert segment.duration_ms > 0
            if segment.frequency is not None:
                for hz, _ in segment.frequency.components():
                    assert 300.0 <= hz <= 3400.0  # the telephone band (ITU-T G.711 / G.712)
        assert -30.0 <= spec.level_dbm0 <= -3.0
    assert len(plan.ring_cadence_ms) % 2 == 0 and all(ms > 0 for ms in plan.ring_cadence_ms)


@pytest.mark.parametrize("zone", ["us", "ca"])
def test_north_american_plan(zone):
    """ANSI T1.401 / Telcordia GR-506: frequencies, cadences and levels per frequency."""
    plan = get_plan(zone)
    assert plan.dial.continuous and plan.dial.frequencies()[0].hz == (350.0, 440.0)
    assert plan.dial.level_dbm0 == -13.0
    assert cadence(plan.ringback) == [("440+480", 2000), (None, 4000)] and plan.ringback.level_dbm0 == -19.0
    assert cadence(plan.busy) == [("480+620", 500), (None, 500)] and plan.busy.level_dbm0 == -24.0
    assert cadence(plan.congestion) == [("480+620", 250), (None, 250)]
    assert [f.hz[0] for f in plan.sit.frequencies()] == list(SIT_US_HZ)
    assert [s.duration_ms for s in plan.sit.segments[:3]] == [274, 274, 380]  # SR-2275 intercept
    assert plan.ring_cadence_ms == (2000, 4000)


def test_united_kingdom_plan():
    """BT SIN 350."""
    plan = get_plan("uk")
    assert plan.dial.frequencies()[0].notation == "350+440"
    assert cadence(plan.ringback) == [("400+450", 400), (None, 200), ("400+450", 400), (None, 2000)]
    assert cadence(plan.busy) == [("400", 375), (None, 375)]
    assert cadence(plan.congestion) == [("400", 400), (None, 350), ("400", 225), (None, 525)]
    assert plan.ring_cadence_ms == (400, 200, 400, 2000)


def test_european_and_latin_american_figures():
    """ITU-T E.180 supplement figures, zone by zone (single frequency, on/off in ms)."""
    expected = {
        # zone: (Hz, ringback, busy, congestion, ring cadence)
        "de": ("425", (1000, 4000), (480, 480), (240, 240), (1000, 4000)),
        "fr": ("440", (1500, 3500), (500, 500), (250, 250), (1500, 3500)),
        "es": ("425", (1500, 3000), (200, 200), (200, 200, 200, 200, 200, 600), (1500, 3000)),
        "it": ("425", (1000, 4000), (500, 500), (200, 200), (1000, 4000)),
        "pt": ("425", (1000, 5000), (500, 500), (200, 200), (1000, 5000)),
        "nl": ("425", (1000, 4000), (500, 500), (250, 250), (1000, 4000)),
        "gr": ("425", (1000, 4000), (300, 300), (200, 200), (1000, 4000)),
        "mx": ("425", (1000, 4000), (250, 250), (250, 250), (2000, 4000)),
        "ar": ("425", (1000, 4500), (300, 300), (200, 300), (1000, 4500)),
        "cl": ("400", (1000, 3000), (500, 500), (200, 200), (1000, 3000)),
        "br": ("425", (1000, 4000), (250, 250), (250, 250, 750, 250), (1000, 4000)),
    }
    for zone, (hz, ringback, busy, congestion, ring) in expected.items():
        plan = get_plan(zone)
        for spec, on_off in ((plan.ringback, ringback), (plan.busy, busy), (plan.congestion, congestion)):
            assert [s.duration_ms for s in spec.segments] == list(on_off), (zone, spec.name)
            assert {f.notation for f in spec.frequencies()} == {hz}, (zone, spec.name)
        assert plan.ring_cadence_ms == ring, zone
    assert cadence(get_plan("it").dial) == [("425", 200), (None, 200), ("425", 600), (None, 1000)]
    assert cadence(get_plan("gr").dial) == [("425", 200), (None, 300), ("425", 700), (None, 800)]
    for zone in ("de", "es", "pt", "nl", "mx", "co", "ar", "br"):
        assert get_plan(zone).dial.notation == "425 continuous"
    assert get_plan("fr").dial.notation == "440 continuous" and get_plan("cl").dial.notation == "400 continuous"


def test_australian_plan_uses_modulation_and_level_steps():
    """ACIF S002: dial and ringing are 425 Hz modulated by 25 Hz; congestion drops every
    other burst by 10 dB (and is otherwise the busy cadence)."""
    plan = get_plan("au")
    dial = plan.dial.frequencies()[0]
    assert dial.modulated and dial.notation == "425*25" and plan.dial.continuous
    assert cadence(plan.ringback) == [("425*25", 400), (None, 200), ("425*25", 400), (None, 2000)]
    assert cadence(plan.busy) == [("425", 375), (None, 375)]
    assert [s.duration_ms for s in plan.congestion.segments] == [375, 375, 375, 375]
    assert [s.gain_db for s in plan.congestion.segments if s.frequency] == [0.0, -10.0]


def test_special_information_tone_itu():
    """ITU-T E.180 / Q.35: 950, 1400, 1800 Hz, 330 ms each, then 1 s of silence."""
    assert SIT_ITU_HZ == (950.0, 1400.0, 1800.0)
    for zone in ZONES:
        sit = get_plan(zone).sit
        tones = [s for s in sit.segments if s.frequency is not None]
        assert sit.segments[-1].frequency is None
        if zone in ("us", "ca"):
            continue
        assert [s.frequency.hz[0] for s in tones] == list(SIT_ITU_HZ)
        assert all(s.duration_ms == 330 for s in tones) and sit.segments[-1].duration_ms == 1000
        assert all(s.duration_ms <= 30 for s in sit.segments[1:-1] if s.frequency is None)  # E.180 gaps


def test_fax_tones():
    """CNG: 1100 Hz 0.5 s on / 3 s off (T.30); CED: 2100 Hz, once, 3.3 s (V.25: 3.3 ± 0.7 s)."""
    assert cadence(CNG) == [("1100", 500), (None, 3000)] and CNG.repeat
    assert cadence(CED) == [("2100", 3300)] and not CED.repeat and not CED.continuous


def test_busy_and_congestion_differ_unless_the_plan_says_they_are_one_signal():
    for zone in ZONES:
        plan = get_plan(zone)
        same = cadence(plan.busy) == cadence(plan.congestion) and all(
            a.gain_db == b.gain_db for a, b in zip(plan.busy.segments, plan.congestion.segments, strict=False)
        )
        assert same == ("same signal" in plan.notes), zone


@pytest.mark.parametrize(
    ("text", "hz", "modulation"),
    [("425", (425.0,), 0.0), ("350+440", (350.0, 440.0), 0.0), ("425*25", (425.0,), 25.0), ("913.8", (913.8,), 0.0)],
)
def test_frequency_notation_round_trips(text, hz, modulation):
    frequency = Frequency.parse(text)
    assert frequency.hz == hz and frequency.modulation_hz == modulation
    assert frequency.notation == text and Frequency.parse(frequency.notation) == frequency


@pytest.mark.parametrize("bad", ["", "abc", "425+", "425*", "425/500", "0", "5000", "350+440+480", "25*425"])
def test_bad_frequency_notation(bad):
    with pytest.raises(DspError):
        Frequency.parse(bad)


@pytest.mark.parametrize("depth", [0.3, 0.9, 1.0])
def test_modulated_components_have_one_tones_power(depth):
    """f1*f2 = (1 + m cos 2πf2t) sin 2πf1t: carrier and side tones m/2 at f1 ± f2; scaled so the
    total power equals one sine at the level."""
    components = Frequency.parse("425*25", modulation_depth=depth).components()
    assert [hz for hz, _ in components] == [425.0, 400.0, 450.0]
    carrier, lower, upper = (a for _, a in components)
    assert lower == upper == pytest.approx(carrier * depth / 2)
    assert sum(a * a for _, a in components) == pytest.approx(1.0)


def test_scaling_and_levels():
    busy = get_plan("us").busy
    off = busy.scaled(frequency=1.01, cadence=2.0).with_level(-33.0)
    assert off.frequencies()[0].hz == pytest.approx((480 * 1.01, 620 * 1.01))
    assert [s.duration_ms for s in off.segments] == [1000, 1000] and off.level_dbm0 == -33.0
    au = get_plan("au").dial.scaled(frequency=0.95).frequencies()[0]
    assert au.hz[0] == pytest.approx(425 * 0.95) and au.modulation_hz == pytest.approx(25 * 0.95)
    assert busy.cycle_ms == 1000 and math.isinf(get_plan("de").dial.cycle_ms)


def test_plans_are_immutable_data():
    plan = get_plan("de")
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.busy = plan.congestion  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.busy.level_dbm0 = 0.0  # type: ignore[misc]
    assert get_plan("de") is plan


@pytest.mark.parametrize(
    "build",
    [
        lambda: Segment(0.0),
        lambda: ToneSpec("x", (), -10.0),
        lambda: ToneSpec("x", (Segment(100.0),), -10.0),  # all silence
        lambda: ToneSpec("x", (Segment(CONTINUOUS, Frequency.parse("425")), Segment(100.0)), -10.0),
        lambda: Frequency((425.0, 450.0), modulation_hz=25.0),
        lambda: Frequency((425.0,), modulation_hz=25.0, modulation_depth=1.5),
    ],
)
def test_malformed_specs_are_refused(build):
    with pytest.raises(DspError):
        build()
