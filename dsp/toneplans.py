"""National tone plans as data: what each zone's network sends and how its phones ring.

Sources: the ITU-T E.180 supplement "Various tones used in national networks" (Annex to
ITU Operational Bulletin No. 781, 2003), national specifications where they are the
reference (North America: ANSI T1.401 and Telcordia GR-506 for frequencies, cadences and
levels, Telcordia SR-2275 for the special information tone; United Kingdom: BT SIN 350;
Australia: ACIF S002), and ITU-T E.180/Q.35 for the international special information tone.

Notation (ITU-T E.180): a frequency written ``f1+f2`` is two tones heard together (a sum),
``f1*f2`` is ``f1`` amplitude-modulated by ``f2`` (components f1 and f1 ± f2). ``Frequency``
keeps that distinction; ``Frequency.parse("425*25")`` reads the notation back.

A ``ToneSpec`` is a cadence: a sequence of ``Segment`` s (a frequency or silence, for a
duration in ms, ``math.inf`` for a continuous tone) that repeats unless ``repeat`` is False,
at ``level_dbm0`` PER FREQUENCY for sums (as ``dsp.levels`` defines tone levels) and as the
total power of the modulated signal for ``f1*f2``; a segment may be ``gain_db`` quieter
(Australia's congestion tone drops every other burst).

Levels: North America per ANSI T1.401 (dial -13, audible ringing -19, busy/reorder -24 dBm0
per frequency, call waiting -13, SIT -24). E.180 leaves levels to each administration; where
no national figure is listed this box sends -10 dBm0 per frequency.

Where a source gives a choice (e.g. "400 or 425 Hz"), the plan holds the current one; zones
where busy and congestion are the same signal say so in ``TonePlan.notes``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from dsp import DspError

TONE_NAMES = ("dial", "ringback", "busy", "congestion", "callwaiting", "sit")
FAX_TONE_NAMES = ("cng", "ced")
DEFAULT_MODULATION_DEPTH = 0.9  # m of "f1*f2" when a source gives none (90 %, usual network value)
CONTINUOUS = math.inf

_NOTATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([+*])\s*(\d+(?:\.\d+)?)\s*)?$")


@dataclass(frozen=True)
class Frequency:
    """One sounding element in E.180 notation: ``hz`` summed, or ``hz[0]`` modulated."""

    hz: tuple[float, ...]
    modulation_hz: float = 0.0  # f2 of "f1*f2"; 0: no modulation
    modulation_depth: float = DEFAULT_MODULATION_DEPTH

    def __post_init__(self) -> None:
        if not self.hz or any(not (0.0 < f < 4000.0) for f in self.hz):
            raise DspError(f"tone frequencies must be within 0..4000 Hz, got {self.hz}")
        if self.modulation_hz:
            if len(self.hz) != 1:
                raise DspError("a modulated tone (f1*f2) has exactly one carrier")
            if not (0.0 < self.modulation_hz < self.hz[0]) or not (0.0 < self.modulation_depth <= 1.0):
                raise DspError(f"bad modulation {self.modulation_hz} Hz depth {self.modulation_depth}")

    @classmethod
    def parse(cls, notation: str, modulation_depth: float = DEFAULT_MODULATION_DEPTH) -> Frequency:
        """``"425"``, ``"350+440"`` (sum) or ``"425*25"`` (425 Hz modulated by 25 Hz)."""
        match = _NOTATION.match(notation)
        if not match:
            raise DspError(f"bad tone frequency {notation!r} (expected f, f1+f2 or f1*f2)")
        first, operator, second = match.groups()
        if operator == "+":
            return cls((float(first), float(second)))
        if operator == "*":
            return cls((float(first),), float(second), modulation_depth)
        return cls((float(first),))

    @property
    def notation(self) -> str:
        def text(value: float) -> str:
            return f"{value:g}"

        if self.modulation_hz:
            return f"{text(self.hz[0])}*{text(self.modulation_hz)}"
        return "+".join(text(f) for f in self.hz)

    @property
    def modulated(self) -> bool:
        return self.modulation_hz > 0.0

    def components(self) -> tuple[tuple[float, float], ...]:
        """(Hz, peak amplitude relative to one tone at the level) of every sine it contains.

        A sum has each frequency at full level. ``f1*f2`` with depth m is
        (1 + m·cos 2πf2t)·sin 2πf1t = carrier + two side tones of m/2 at f1 ± f2, scaled so
        the whole has the power of one sine at the level: 1 / sqrt(1 + m²/2).
        """
        if not self.modulated:
            return tuple((f, 1.0) for f in self.hz)
        m = self.modulation_depth
        carrier = 1.0 / math.sqrt(1.0 + m * m / 2.0)
        f1, f2 = self.hz[0], self.modulation_hz
        return ((f1, carrier), (f1 - f2, carrier * m / 2.0), (f1 + f2, carrier * m / 2.0))

    def scaled(self, factor: float) -> Frequency:
        """Every frequency (modulation included) times ``factor``: an off-frequency source."""
        return Frequency(tuple(f * factor for f in self.hz), self.modulation_hz * factor, self.modulation_depth)


@dataclass(frozen=True)
class Segment:
    """``frequency`` (None: silence) for ``duration_ms`` (``CONTINUOUS``: forever)."""

    duration_ms: float
    frequency: Frequency | None = None
    gain_db: float = 0.0  # relative to the tone's level

    def __post_init__(self) -> None:
        if not (self.duration_ms > 0):
            raise DspError(f"segment duration must be > 0 ms, got {self.duration_ms}")


@dataclass(frozen=True)
class ToneSpec:
    name: str
    segments: tuple[Segment, ...]
    level_dbm0: float
    repeat: bool = True  # False: the segments play once, then silence

    def __post_init__(self) -> None:
        if not self.segments:
            raise DspError(f"tone {self.name!r} has no segments")
        if any(math.isinf(s.duration_ms) for s in self.segments[:-1]):
            raise DspError(f"tone {self.name!r}: only the last segment may be continuous")
        if all(s.frequency is None for s in self.segments):
            raise DspError(f"tone {self.name!r} is all silence")

    @property
    def continuous(self) -> bool:
        """One frequency that never stops (dial tone in most zones)."""
        return len(self.segments) == 1 and math.isinf(self.segments[0].duration_ms)

    @property
    def cycle_ms(self) -> float:
        return sum(s.duration_ms for s in self.segments)

    def frequencies(self) -> tuple[Frequency, ...]:
        """The distinct frequencies it sounds, in order of first appearance."""
        seen: list[Frequency] = []
        for segment in self.segments:
            if segment.frequency is not None and segment.frequency not in seen:
                seen.append(segment.frequency)
        return tuple(seen)

    @property
    def notation(self) -> str:
        """E.180-style text: ``480+620 500/500`` or ``425 continuous``."""
        if self.continuous:
            return f"{self.segments[0].frequency.notation} continuous"
        parts = []
        for s in self.segments:
            label = "0" if s.frequency is None else s.frequency.notation
            parts.append(f"{label}/{s.duration_ms:g}" + (f"@{s.gain_db:+g}dB" if s.gain_db else ""))
        return ",".join(parts) + ("" if self.repeat else " once")

    def scaled(self, frequency: float = 1.0, cadence: float = 1.0) -> ToneSpec:
        """Frequencies times ``frequency``, durations times ``cadence`` (off-nominal sources)."""
        segments = tuple(
            replace(
                s,
                duration_ms=s.duration_ms * cadence,
                frequency=None if s.frequency is None else s.frequency.scaled(frequency),
            )
            for s in self.segments
        )
        return replace(self, segments=segments)

    def with_level(self, level_dbm0: float) -> ToneSpec:
        return replace(self, level_dbm0=level_dbm0)


@dataclass(frozen=True)
class TonePlan:
    zone: str
    country: str
    ring_cadence_ms: tuple[int, ...]  # ringing a phone: on, off, on, off … (repeats)
    dial: ToneSpec
    ringback: ToneSpec
    busy: ToneSpec
    congestion: ToneSpec
    callwaiting: ToneSpec
    sit: ToneSpec
    notes: str = ""
    source: str = field(default="ITU-T E.180 supplement (2003)")

    def tone(self, name: str) -> ToneSpec:
        """A tone of this zone by name, or the fax tones ``cng`` / ``ced``."""
        if name in TONE_NAMES:
            return getattr(self, name)
        if name == "cng":
            return CNG
        if name == "ced":
            return CED
        raise DspError(f"unknown tone {name!r} (valid: {', '.join(TONE_NAMES + FAX_TONE_NAMES)})")

    def tones(self) -> tuple[ToneSpec, ...]:
        return tuple(getattr(self, name) for name in TONE_NAMES)


# --- helpers that keep the table below readable --------------------------------------------


def _continuous(name: str, notation: str, level_dbm0: float) -> ToneSpec:
    return ToneSpec(name, (Segment(CONTINUOUS, Frequency.parse(notation)),), level_dbm0)


def _cadenced(name: str, notation: str, on_off_ms: tuple[float, ...], level_dbm0: float) -> ToneSpec:
    """One frequency switched on/off: ``on_off_ms`` alternates on, off, on, off …"""
    if len(on_off_ms) % 2:
        raise DspError(f"{name}: a cadence needs on/off pairs, got {on_off_ms}")
    frequency = Frequency.parse(notation)
    segments = tuple(Segment(ms, frequency if i % 2 == 0 else None) for i, ms in enumerate(on_off_ms))
    return ToneSpec(name, segments, level_dbm0)


def _sequence(name: str, steps: tuple[tuple[str | None, float], ...], level_dbm0: float) -> ToneSpec:
    """Segments of different frequencies: ``(notation or None for silence, ms)``."""
    segments = tuple(Segment(ms, None if text is None else Frequency.parse(text)) for text, ms in steps)
    return ToneSpec(name, segments, level_dbm0)


# ITU-T E.180 §6 / Q.35 special information tone: 950, 1400, 1800 Hz (±50 Hz), 330 ms each
# (±70 ms), then 1 s silence (±250 ms).
SIT_ITU_HZ = (950.0, 1400.0, 1800.0)
SIT_SEGMENT_MS = 330.0
SIT_SILENCE_MS = 1000.0
# Telcordia SR-2275 SIT, "intercept" (vacant number) pattern: low 913.8 Hz and 1370.6 Hz,
# 274 ms each, then 1776.7 Hz for 380 ms.
SIT_US_HZ = (913.8, 1370.6, 1776.7)
SIT_US_SEGMENT_MS = (274.0, 274.0, 380.0)

_EURO_LEVEL = -10.0  # dBm0 per frequency where the source lists no level (see module doc)


def sit_itu(level_dbm0: float = _EURO_LEVEL, gap_ms: float = 0.0) -> ToneSpec:
    """The E.180 special information tone (``gap_ms`` of silence between its segments)."""
    steps: list[tuple[str | None, float]] = []
    for hz in SIT_ITU_HZ:
        steps.append((f"{hz:g}", SIT_SEGMENT_MS))
        if gap_ms:
            steps.append((None, gap_ms))
    if gap_ms:
        steps.pop()
    steps.append((None, SIT_SILENCE_MS))
    return _sequence("sit", tuple(steps), level_dbm0)


def sit_us(level_dbm0: float = -24.0) -> ToneSpec:
    """The Telcordia SR-2275 intercept SIT."""
    steps = tuple((f"{hz:g}", ms) for hz, ms in zip(SIT_US_HZ, SIT_US_SEGMENT_MS, strict=True))
    return _sequence("sit", (*steps, (None, SIT_SILENCE_MS)), level_dbm0)


def _european(
    zone: str,
    country: str,
    *,
    hz: str = "425",
    ring: tuple[int, ...],
    dial: tuple[float, ...] | None = None,
    ringback: tuple[float, ...],
    busy: tuple[float, ...],
    congestion: tuple[float, ...],
    callwaiting: tuple[float, ...],
    callwaiting_hz: str | None = None,
    sit_gap_ms: float = 0.0,
    notes: str = "",
    source: str = "ITU-T E.180 supplement (2003)",
) -> TonePlan:
    """A single-frequency plan (the ETSI-style 425 Hz family and its relatives)."""
    level = _EURO_LEVEL
    return TonePlan(
        zone=zone,
        country=country,
        ring_cadence_ms=ring,
        dial=_continuous("dial", hz, level) if dial is None else _cadenced("dial", hz, dial, level),
        ringback=_cadenced("ringback", hz, ringback, level),
        busy=_cadenced("busy", hz, busy, level),
        congestion=_cadenced("congestion", hz, congestion, level),
        callwaiting=_cadenced("callwaiting", callwaiting_hz or hz, callwaiting, level),
        sit=sit_itu(level, sit_gap_ms),
        notes=notes,
        source=source,
    )


def _north_american(zone: str, country: str) -> TonePlan:
    return TonePlan(
        zone=zone,
        country=country,
        ring_cadence_ms=(2000, 4000),
        dial=_continuous("dial", "350+440", -13.0),
        ringback=_cadenced("ringback", "440+480", (2000, 4000), -19.0),
        busy=_cadenced("busy", "480+620", (500, 500), -24.0),
        congestion=_cadenced("congestion", "480+620", (250, 250), -24.0),  # "reorder"
        callwaiting=_cadenced("callwaiting", "440", (300, 9700), -13.0),
        sit=sit_us(),
        source="ANSI T1.401, Telcordia GR-506 and SR-2275",
    )


def _united_kingdom() -> TonePlan:
    level = _EURO_LEVEL
    return TonePlan(
        zone="uk",
        country="United Kingdom",
        ring_cadence_ms=(400, 200, 400, 2000),
        dial=_continuous("dial", "350+440", level),
        ringback=_cadenced("ringback", "400+450", (400, 200, 400, 2000), level),
        busy=_cadenced("busy", "400", (375, 375), level),  # "engaged"
        congestion=_cadenced("congestion", "400", (400, 350, 225, 525), level),
        callwaiting=_cadenced("callwaiting", "400", (100, 4000), level),
        sit=sit_itu(level),
        source="BT SIN 350",
    )


def _australia() -> TonePlan:
    level = _EURO_LEVEL
    burst = Frequency.parse("425")
    return TonePlan(
        zone="au",
        country="Australia",
        ring_cadence_ms=(400, 200, 400, 2000),
        dial=_continuous("dial", "425*25", level),
        ringback=_cadenced("ringback", "425*25", (400, 200, 400, 2000), level),
        busy=_cadenced("busy", "425", (375, 375), level),
        # Same cadence as busy, every other burst 10 dB quieter (ACIF S002).
        congestion=ToneSpec(
            "congestion",
            (Segment(375, burst), Segment(375), Segment(375, burst, gain_db=-10.0), Segment(375)),
            level,
        ),
        callwaiting=_cadenced("callwaiting", "425", (200, 200, 200, 4400), level),
        sit=sit_itu(level),
        source="ACIF S002, ITU-T E.180 supplement (2003)",
    )


def _build_plans() -> dict[str, TonePlan]:
    plans = [
        _north_american("us", "United States"),
        _north_american("ca", "Canada"),
        _united_kingdom(),
        _european(
            "de", "Germany", ring=(1000, 4000), ringback=(1000, 4000), busy=(480, 480),
            congestion=(240, 240), callwaiting=(200, 200, 200, 5000),
        ),
        _european(
            "fr", "France", hz="440", ring=(1500, 3500), ringback=(1500, 3500), busy=(500, 500),
            congestion=(250, 250), callwaiting=(300, 10000),
        ),
        _european(
            "es", "Spain", ring=(1500, 3000), ringback=(1500, 3000), busy=(200, 200),
            congestion=(200, 200, 200, 200, 200, 600), callwaiting=(175, 175, 175, 3500),
        ),
        _european(
            "it", "Italy", ring=(1000, 4000), dial=(200, 200, 600, 1000), ringback=(1000, 4000),
            busy=(500, 500), congestion=(200, 200), callwaiting=(400, 100, 250, 100, 150, 14000),
        ),
        _european(
            "pt", "Portugal", ring=(1000, 5000), ringback=(1000, 5000), busy=(500, 500),
            congestion=(200, 200), callwaiting=(200, 200, 200, 5000),
        ),
        _european(
            "nl", "Netherlands", ring=(1000, 4000), ringback=(1000, 4000), busy=(500, 500),
            congestion=(250, 250), callwaiting=(500, 9500),
        ),
        _european(
            "gr", "Greece", ring=(1000, 4000), dial=(200, 300, 700, 800), ringback=(1000, 4000),
            busy=(300, 300), congestion=(200, 200), callwaiting=(150, 150, 150, 8000),
        ),
        _european(
            "mx", "Mexico", ring=(2000, 4000), ringback=(1000, 4000), busy=(250, 250),
            congestion=(250, 250), callwaiting=(200, 600, 200, 10000), sit_gap_ms=30.0,
            notes="busy and congestion are the same signal (425 Hz 250/250 ms)",
        ),
        _european(
            "co", "Colombia", ring=(1000, 4000), ringback=(1000, 4000), busy=(250, 250),
            congestion=(250, 250), callwaiting=(200, 200, 200, 4400),
            notes="busy and congestion are the same signal (425 Hz 250/250 ms); the cadences of "
            "this zone are not cross-checked against a second source",
        ),
        _european(
            "ar", "Argentina", ring=(1000, 4500), ringback=(1000, 4500), busy=(300, 300),
            congestion=(200, 300), callwaiting=(200, 9000),
        ),
        _european(
            "cl", "Chile", hz="400", ring=(1000, 3000), ringback=(1000, 3000), busy=(500, 500),
            congestion=(200, 200), callwaiting=(250, 8750),
        ),
        _european(
            "br", "Brazil", ring=(1000, 4000), ringback=(1000, 4000), busy=(250, 250),
            congestion=(250, 250, 750, 250), callwaiting=(50, 1000),
        ),
        _australia(),
    ]
    return {plan.zone: plan for plan in plans}


_PLANS = MappingProxyType(_build_plans())  # read-only: plans are constants
ZONES: tuple[str, ...] = tuple(_PLANS)

# Fax and modem tones, the same everywhere.
# CNG, ITU-T T.30 §5.3.3.1: 1100 Hz (±38 Hz), 0.5 s on, 3 s off.
CNG = _cadenced("cng", "1100", (500, 3000), -10.0)
# CED / ANS, ITU-T T.30 and V.25: 2100 Hz (±15 Hz) for 2.6..4.0 s (V.25: 3.3 s ±0.7 s), once.
CED = ToneSpec("ced", (Segment(3300.0, Frequency.parse("2100")),), -10.0, repeat=False)


def get_plan(zone: str) -> TonePlan:
    """The tone plan of ``zone`` (lower-case ISO country code, e.g. ``"de"``)."""
    try:
        return _PLANS[zone]
    except (KeyError, TypeError):
        raise DspError(f"unknown tone zone {zone!r} (valid: {', '.join(ZONES)})") from None


def get_tone(zone: str, name: str) -> ToneSpec:
    return get_plan(zone).tone(name)
