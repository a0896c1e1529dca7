"""Cadence matching for call-progress detection: runs of frame labels against tone patterns.

A tone the detector listens for is compiled to a ``Candidate``: an alphabet (the frequency
sets it uses; symbol 0 is "none of them", 1.. index the alphabet) and a cyclic list of
``Element`` s (symbol, accepted duration range, relative level). The frame labels of one
channel, debounced (``dsp.progress``), arrive as complete ``Run`` s: symbol, first frame,
length in frames, peak level.

A ``Track`` (one per channel and candidate) keeps the longest run of consecutive runs that
fits the pattern from some phase (the set of phases still possible), the candidate's state
machine being:

    IDLE --run fits an element--> MATCHING --enough runs/time--> CONFIRMED
    MATCHING/CONFIRMED --run does not fit, or the current run outlasts every element it
        could be--> (CONFIRMED: report the end) then re-seeded from the longest suffix of
        the recent runs that fits, else IDLE

Durations: each element accepts nominal ± max(``min_tolerance_ms``, ``relative_tolerance``
× nominal), ITU-T E.180 allowing cadence tolerances of this order (±10 %) and the frame
analysis adding ±20 ms. The special information tone uses E.180's own tolerances (segments
330 ± 70 ms, widened to hold the Telcordia 274/380 ms segments; silence 1000 ± 250 ms).
Bursts of the same frequency must keep their relative level within ``level_tolerance_db``
of the pattern's (Australian congestion differs from busy only by every other burst being
10 dB down). A continuous tone is confirmed after ``continuous_confirm_ms`` of tone and
ends when it stops.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from dsp.toneplans import Frequency, ToneSpec

FRAME_MS = 20.0
NEVER = 1 << 60  # frame index that is never reached


@dataclass(frozen=True)
class CadenceSettings:
    # A new symbol must hold this many frames (80 ms) to end a run: glitches, V.25 phase
    # reversals and the up-to-30 ms gaps between SIT segments (E.180) do not cut a run.
    debounce_frames: int = 4
    min_tolerance_ms: float = 50.0
    relative_tolerance: float = 0.12
    level_tolerance_db: float = 5.0
    merge_gap_ms: float = 60.0  # silences this short inside a tone are not part of its cadence
    continuous_confirm_ms: float = 1000.0  # dial tone
    ced_confirm_ms: float = 600.0  # 2100 Hz answer tone lasts 2.6-4 s (T.30), 3.3 s (V.25)
    cng_confirm_ms: float = 1000.0  # one 0.5 s burst of 1100 Hz and 0.5 s of the silence after it
    long_cycle_ms: float = 4000.0  # cadences this slow are confirmed after one cycle
    sit_tone_ms: tuple[float, float] = (230.0, 430.0)  # E.180 330 ± 70, Telcordia 274/380, ± frame
    sit_silence_ms: tuple[float, float] = (700.0, 1300.0)  # E.180 1000 ± 250, ± frame


@dataclass(frozen=True)
class Element:
    symbol: int
    min_frames: int
    max_frames: int
    gain_db: float = 0.0
    nominal_frames: float = 0.0  # the cadence's own duration, for ranking close fits


@dataclass(frozen=True)
class Candidate:
    name: str
    alphabet: tuple[Frequency, ...]
    elements: tuple[Element, ...]  # cyclic; one element of symbol 1 and NEVER frames: continuous
    confirm_runs: int
    confirm_frames: int

    @property
    def continuous(self) -> bool:
        return len(self.elements) == 1

    @property
    def signature(self) -> tuple:
        """Equal for candidates no detector could tell apart (same alphabet and accepted runs)."""
        return (tuple(f.notation for f in self.alphabet), _canonical_rotation(self.elements))


def _accepts(element: Element) -> tuple:
    return (element.symbol, element.min_frames, element.max_frames, element.gain_db)


@dataclass(frozen=True)
class Run:
    symbol: int
    start: int  # first frame
    frames: int
    level_db: float  # highest frame level of the run (dBm0), -inf for silence

    @property
    def end(self) -> int:
        return self.start + self.frames


def _canonical_rotation(elements: tuple[Element, ...]) -> tuple[tuple, ...]:
    """What the elements accept, from the rotation that sorts first (a cycle has no start)."""
    rotations = [elements[i:] + elements[:i] for i in range(len(elements))]
    return min(tuple(_accepts(e) for e in r) for r in rotations)


def _frames(ms: float, rounding) -> int:
    return int(rounding(ms / FRAME_MS))


def compile_candidate(spec: ToneSpec, settings: CadenceSettings, kind: str = "") -> Candidate:
    """``spec`` as a pattern of frame runs. ``kind``: "sit", "cng", "ced" or "" (plan tone)."""
    alphabet = spec.frequencies()
    if spec.continuous or kind == "ced":
        confirm_ms = settings.ced_confirm_ms if kind == "ced" else settings.continuous_confirm_ms
        return Candidate(spec.name, alphabet, (Element(1, 1, NEVER),), 1, _frames(confirm_ms, math.ceil))
    steps = _merged_steps(spec, settings)
    elements = []
    for symbol, ms, gain in steps:
        if kind == "sit":
            low, high = settings.sit_silence_ms if symbol == 0 else settings.sit_tone_ms
        else:
            tolerance = max(settings.min_tolerance_ms, settings.relative_tolerance * ms)
            low, high = ms - tolerance, ms + tolerance
        elements.append(
            Element(symbol, max(1, _frames(low, math.ceil)), _frames(high, math.floor), gain, ms / FRAME_MS)
        )
    pattern = _minimal_period(tuple(elements))
    cycle_ms = sum(ms for _, ms, _ in steps) * len(pattern) / len(elements)
    if kind == "sit":
        confirm_runs, confirm_frames = sum(1 for e in pattern if e.symbol), 0  # the three tones
    elif kind == "cng":
        confirm_runs, confirm_frames = 1, _frames(settings.cng_confirm_ms, math.ceil)
    elif cycle_ms >= settings.long_cycle_ms:
        confirm_runs, confirm_frames = len(pattern), 0
    else:
        confirm_runs, confirm_frames = len(pattern) + 1, 0
    return Candidate(spec.name, alphabet, pattern, confirm_runs, confirm_frames)


def _merged_steps(spec: ToneSpec, settings: CadenceSettings) -> list[tuple[int, float, float]]:
    """(symbol, ms, gain) with short silences folded into their neighbours and equal
    neighbours joined, so the pattern is what the debounced frame labels can show."""
    alphabet = spec.frequencies()
    steps = [
        (0 if s.frequency is None else alphabet.index(s.frequency) + 1, s.duration_ms, s.gain_db)
        for s in spec.segments
    ]
    merged: list[list] = []
    for i, (symbol, ms, gain) in enumerate(steps):
        short_gap = symbol == 0 and ms < settings.merge_gap_ms and 0 < i < len(steps) - 1
        if short_gap:  # half to each side
            merged[-1][1] += ms / 2.0
            steps[i + 1] = (steps[i + 1][0], steps[i + 1][1] + ms / 2.0, steps[i + 1][2])
            continue
        if merged and merged[-1][0] == symbol and merged[-1][2] == gain:
            merged[-1][1] += ms
        else:
            merged.append([symbol, ms, gain])
    if len(merged) > 1 and merged[0][0] == merged[-1][0] and merged[0][2] == merged[-1][2]:
        merged[0][1] += merged.pop()[1]  # the cycle wraps: last and first are one run
    return [(s, ms, g) for s, ms, g in merged]


def _minimal_period(elements: tuple[Element, ...]) -> tuple[Element, ...]:
    n = len(elements)
    for period in range(1, n + 1):
        if n % period == 0 and elements == elements[:period] * (n // period):
            return elements[:period]
    return elements


class TrackState(Enum):
    IDLE = "idle"
    MATCHING = "matching"
    CONFIRMED = "confirmed"


@dataclass
class Decision:
    """What a track update means for the detector."""

    ready: bool = False  # the match is long enough to report (the detector checks rivals)
    ended_at: int | None = None  # a confirmed tone ended at this frame (exclusive)


class Track:
    """One candidate's match on one channel."""

    def __init__(self, candidate: Candidate, settings: CadenceSettings) -> None:
        self.candidate = candidate
        self.settings = settings
        self.state = TrackState.IDLE
        self.runs: list[Run] = []  # the matched runs
        self.phases: list[int] = []  # element index the NEXT run can be
        self.current_symbol = 0
        self.current_start = 0
        self.deadline = NEVER  # frame at which the current run has outlasted every element
        self.confirm_at = NEVER  # frame at which the match becomes long enough
        self.confirmed_start = 0  # first frame of the tone being reported

    @property
    def live(self) -> bool:
        """A match is in progress (its runs fit and the next run can still fit)."""
        return bool(self.phases)

    @property
    def match_start(self) -> int:
        return self.runs[0].start if self.phases else NEVER

    @property
    def tone_start(self) -> int:
        """First frame of the first tone run of the match."""
        return next((r.start for r in self.runs if r.symbol), self.match_start)

    def last_tone_end(self) -> int:
        return next((r.end for r in reversed(self.runs) if r.symbol), self.current_start)

    # --- events from the detector ------------------------------------------------------

    def run_complete(self, run: Run) -> Decision:
        """``run`` ended; the next run (``symbol`` from ``run.end``) has begun."""
        decision = Decision()
        if self.candidate.continuous:
            if run.symbol and self.state is TrackState.CONFIRMED:
                decision.ended_at = run.end
            self.state = TrackState.IDLE
            self.runs = []
            return decision
        if self.phases:
            phases = [(j + 1) % len(self.candidate.elements) for j in self.phases if self._fits(j, run, self.runs)]
            if phases:
                self.runs.append(run)
                self.phases = phases
                return self._check_ready(decision)
        if self.state is TrackState.CONFIRMED:
            decision.ended_at = self.last_tone_end()
        # The matched runs plus this one do not fit: the new match is a shorter suffix.
        self._reseed(self.runs[1:] + [run])
        return self._check_ready(decision)

    def run_started(self, symbol: int, start: int) -> Decision:
        """A run of ``symbol`` began at frame ``start``: set the deadlines it implies."""
        self.current_symbol, self.current_start = symbol, start
        self.deadline = self.confirm_at = NEVER
        decision = Decision()
        candidate = self.candidate
        if candidate.continuous:
            if symbol and self.state is TrackState.IDLE:
                self.confirm_at = start + candidate.confirm_frames + self.settings.debounce_frames - 1
            return decision
        if not self.phases:
            return decision
        fitting = [j for j in self.phases if candidate.elements[j].symbol == symbol]
        if not fitting:
            return self._broken(decision)
        # A run's end is known ``debounce_frames - 1`` frames late: wait that long too.
        slack = self.settings.debounce_frames - 1
        self.deadline = start + max(candidate.elements[j].max_frames for j in fitting) + 1 + slack
        if self.state is TrackState.MATCHING and len(self.runs) >= candidate.confirm_runs:
            matched = sum(r.frames for r in self.runs)
            if matched < candidate.confirm_frames:
                self.confirm_at = start + candidate.confirm_frames - matched + slack
        return decision

    def tick(self, frame: int) -> Decision:
        """Called when ``frame`` reaches the deadline or the confirmation time."""
        decision = Decision()
        if frame >= self.deadline:
            self.deadline = NEVER
            return self._broken(decision)
        if frame >= self.confirm_at:
            self.confirm_at = NEVER
            if self.candidate.continuous:
                self.runs = [Run(self.current_symbol, self.current_start, frame - self.current_start, -math.inf)]
                self.state = TrackState.MATCHING
            decision.ready = self.state is TrackState.MATCHING
        return decision

    def confirm(self) -> None:
        self.state = TrackState.CONFIRMED
        self.confirmed_start = self.tone_start

    def reset(self) -> None:
        self.state = TrackState.IDLE
        self.runs, self.phases = [], []
        self.current_symbol, self.deadline, self.confirm_at = 0, NEVER, NEVER

    # --- matching -----------------------------------------------------------------------

    def _broken(self, decision: Decision) -> Decision:
        """The current run cannot fit: the match is over (its runs stay for re-seeding)."""
        if self.state is TrackState.CONFIRMED:
            decision.ended_at = self.last_tone_end()
        self.state = TrackState.IDLE
        self.phases = []
        self.deadline = self.confirm_at = NEVER
        return decision

    def long_enough(self) -> bool:
        """The match has the runs and time to be reported."""
        candidate = self.candidate
        return len(self.runs) >= candidate.confirm_runs and sum(r.frames for r in self.runs) >= candidate.confirm_frames

    def fit_error(self) -> float:
        """Mean relative distance of the matched runs from the nominal cadence."""
        if not self.phases or not self.runs:
            return math.inf
        elements = self.candidate.elements
        first = (self.phases[0] - len(self.runs)) % len(elements)
        errors = [
            abs(run.frames - elements[(first + i) % len(elements)].nominal_frames)
            / max(elements[(first + i) % len(elements)].nominal_frames, 1.0)
            for i, run in enumerate(self.runs)
        ]
        return sum(errors) / len(errors)

    def _check_ready(self, decision: Decision) -> Decision:
        if self.state is TrackState.MATCHING:
            decision.ready = self.long_enough()
        return decision

    def _reseed(self, runs: list[Run]) -> None:
        """The longest suffix of ``runs`` that fits the pattern becomes the match."""
        self.state = TrackState.IDLE
        self.runs, self.phases = [], []
        elements = self.candidate.elements
        for first in range(len(runs)):
            suffix = runs[first:]
            phases = [p for p in range(len(elements)) if self._walk(p, suffix)]
            if phases:
                self.runs = list(suffix)
                self.phases = [(p + len(suffix)) % len(elements) for p in phases]
                self.state = TrackState.MATCHING
                return

    def _walk(self, phase: int, runs: list[Run]) -> bool:
        n = len(self.candidate.elements)
        return all(self._fits((phase + i) % n, run, runs[:i]) for i, run in enumerate(runs))

    def _fits(self, index: int, run: Run, before: list[Run]) -> bool:
        """Does ``run`` fit element ``index``, given the runs matched ``before`` it?"""
        elements = self.candidate.elements
        element = elements[index]
        if run.symbol != element.symbol or not element.min_frames <= run.frames <= element.max_frames:
            return False
        if not run.symbol:
            return True
        for back, previous in enumerate(reversed(before), start=1):  # last burst of the same tone
            if previous.symbol == run.symbol:
                expected = element.gain_db - elements[(index - back) % len(elements)].gain_db
                return abs(run.level_db - previous.level_db - expected) <= self.settings.level_tolerance_db
        return True
