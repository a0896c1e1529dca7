"""Call-progress tone detection: dial, ringback, busy, congestion, SIT, fax CNG and CED.

``CallProgressDetector(channels, plan)`` listens, on every channel, for the dial, ringback,
busy and congestion tones of a zone's plan (``dsp.toneplans``), for both special
information tones (ITU-T E.180 950/1400/1800 Hz and Telcordia 913.8/1370.6/1776.7 Hz),
and for the fax tones CNG (1100 Hz, 0.5 s on / 3 s off, ITU-T T.30) and CED/ANS (2100 Hz,
ITU-T T.30 and V.25, with or without V.25 phase reversals). A tone is recognised by its
frequencies AND its cadence:

1. ``dsp.progress_bank``: per 20 ms frame and frequency set, is that set sounding (energy
   ratio, level, frequency within about ±2 %, component balance)?
2. Per tone, each frame becomes a symbol (0: none of the tone's sets, i: its i-th set);
   a change of symbol counts only after ``debounce_frames`` frames (a glitch of up to 60
   ms, a V.25 phase reversal or the up-to-30 ms gaps of a SIT do not cut a run).
3. ``dsp.progress_cadence``: the runs are matched against the tone's cadence.

Tones whose cadences could both explain the same runs (Spain: busy 200/200 ms is part of
congestion 200/200/200/200/200/600) are only reported once the other one has failed, or,
when both are long enough to report, under the one closer to its nominal cadence; two
tones of a plan that are the same signal (Mexico's busy and congestion) are reported under
the first name. Only one tone of a given frequency set is reported at a time on a channel.

``process(block)`` takes a block of any length shaped ``(channels, n)`` and returns
``ToneEvent`` s: one when a tone is recognised (``end_sample`` None: it is on now, started
at ``start_sample``) and one when it has ended (same ``start_sample``, ``end_sample`` set).
Samples are counted from the first sample given to the detector (frames are 20 ms aligned
to it); a start is reported about 1 s into a continuous tone (0.6 s for CED), after about
1.5 cycles of a fast cadence, after one cycle of a slow one (ringback), after the three
segments of a SIT; an end once the cadence has visibly stopped. ``flush()`` ends the
stream: it reports the end of every tone still on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from dsp import DspError
from dsp.progress_bank import FRAME, BankSettings, ToneBank
from dsp.progress_cadence import (
    NEVER,
    CadenceSettings,
    Candidate,
    Decision,
    Run,
    Track,
    TrackState,
    compile_candidate,
)
from dsp.toneplans import CED, CNG, TonePlan, sit_itu, sit_us

TONES = ("dial", "ringback", "busy", "congestion", "sit", "cng", "ced")


@dataclass(frozen=True)
class ToneEvent:
    channel: int
    tone: str
    start_sample: int
    end_sample: int | None = None  # None: the tone is on (just recognised)

    @property
    def ongoing(self) -> bool:
        return self.end_sample is None


@dataclass(frozen=True)
class DetectorSettings:
    bank: BankSettings = field(default_factory=BankSettings)
    cadence: CadenceSettings = field(default_factory=CadenceSettings)


def _candidates(plan: TonePlan, settings: CadenceSettings) -> list[Candidate]:
    specs = [
        (plan.dial, ""),
        (plan.ringback, ""),
        (plan.busy, ""),
        (plan.congestion, ""),
        (plan.sit, "sit"),
        (sit_itu(), "sit"),  # both SIT variants everywhere (duplicates of the plan's drop out)
        (sit_us(), "sit"),
        (CNG, "cng"),
        (CED, "ced"),
    ]
    candidates: list[Candidate] = []
    signatures = set()
    for spec, kind in specs:
        candidate = compile_candidate(spec, settings, kind)
        if candidate.signature not in signatures:  # same signal, first name wins
            signatures.add(candidate.signature)
            candidates.append(candidate)
    # A continuous tone is only a continuous tone once it has outlasted every burst of a
    # cadenced tone of the same frequencies (a 1.5 s ringback burst is not a dial tone).
    for i, candidate in enumerate(candidates):
        if candidate.continuous:
            longest = [
                e.max_frames + 1
                for other in candidates
                if not other.continuous and set(other.alphabet) & set(candidate.alphabet)
                for e in other.elements
                if e.symbol
            ]
            if longest and max(longest) > candidate.confirm_frames:
                candidates[i] = replace(candidate, confirm_frames=max(longest))
    return candidates


def _listening_for(candidates: list[Candidate], names: Sequence[str]) -> list[Candidate]:
    """The candidates named ``names`` and every one sharing a frequency with them: those decide
    alone (rivals and the continuous-tone rule look only at candidates sharing a frequency, and
    the bank tests each frequency set on its own), so the named tones are told as the whole
    plan would tell them."""
    unknown = sorted(set(names) - set(TONES))
    if unknown or not names:
        raise DspError(f"tones {unknown} are not in this plan (known: {', '.join(TONES)})")
    named = [c for c in candidates if c.name in names]  # a tone the same as another is reported by that one's name
    heard = {f for c in named for f in c.alphabet}
    return [c for c in candidates if c in named or heard & set(c.alphabet)]


class CallProgressDetector:
    """Call-progress tones of one zone's plan on ``channels`` channels; ``only``: just these
    tones (and those sharing a frequency with them), e.g. busy and congestion for the
    disconnect supervision of a connected line: fewer frequencies, less work per frame."""

    def __init__(self, channels: int, plan: TonePlan, settings: DetectorSettings | None = None,
                 only: Sequence[str] | None = None) -> None:
        if not isinstance(channels, int) or channels < 1:
            raise DspError(f"channels must be a positive integer, got {channels!r}")
        if not isinstance(plan, TonePlan):
            raise DspError(f"plan must be a TonePlan, got {type(plan).__name__}")
        self.channels = channels
        self.plan = plan
        self.settings = settings or DetectorSettings()
        self.candidates = _candidates(plan, self.settings.cadence)
        if only is not None:
            self.candidates = _listening_for(self.candidates, only)
        frequencies = []
        for candidate in self.candidates:
            frequencies += [f for f in candidate.alphabet if f not in frequencies]
        self._bank = ToneBank(frequencies, channels, self.settings.bank)
        self._alphabets = [np.array([frequencies.index(f) for f in c.alphabet]) for c in self.candidates]
        self._rivals = [
            [j for j, other in enumerate(self.candidates) if j != i and set(other.alphabet) & set(c.alphabet)]
            for i, c in enumerate(self.candidates)
        ]
        self._start_stream()

    @property
    def tones(self) -> tuple[str, ...]:
        """Names this detector can report (a plan's duplicate tones appear once)."""
        return tuple(dict.fromkeys(c.name for c in self.candidates))

    def _start_stream(self) -> None:
        shape = (self.channels, len(self.candidates))
        self._leftover = np.zeros((self.channels, 0))
        self._frame = -self._bank.delay  # index of the next frame the bank decides
        self._stable = np.zeros(shape, dtype=np.int64)  # symbol of the current run
        self._stable_start = np.zeros(shape, dtype=np.int64)
        self._stable_level = np.full(shape, -np.inf)
        self._pending = np.full(shape, -1, dtype=np.int64)  # candidate new symbol
        self._pending_start = np.zeros(shape, dtype=np.int64)
        self._pending_count = np.zeros(shape, dtype=np.int64)
        self._pending_level = np.full(shape, -np.inf)
        self._due = np.full(shape, NEVER, dtype=np.int64)  # next deadline/confirmation frame
        self._tracks = [[Track(c, self.settings.cadence) for c in self.candidates] for _ in range(self.channels)]

    def reset(self, channel: int) -> None:
        """Forget ``channel``'s past (a new call on it); no events are reported."""
        if not isinstance(channel, (int, np.integer)) or not 0 <= channel < self.channels:
            raise DspError(f"channel must be 0..{self.channels - 1}, got {channel!r}")
        self._bank.reset(channel)
        start = max(self._frame, 0)
        self._stable[channel], self._stable_start[channel], self._stable_level[channel] = 0, start, -np.inf
        self._pending[channel], self._pending_count[channel] = -1, 0
        self._due[channel] = NEVER
        for track in self._tracks[channel]:
            track.reset()

    def process(self, block: np.ndarray) -> list[ToneEvent]:
        """Feed ``block`` (channels, n) of 16-bit-scale samples; return the events it caused."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise DspError(f"block must be shaped (channels={self.channels}, samples), got {block.shape}")
        if block.dtype.kind not in "iuf":
            raise DspError(f"block must hold numbers, got dtype {block.dtype}")
        samples = np.concatenate([self._leftover, block.astype(np.float64)], axis=1)
        if not np.all(np.isfinite(samples)):
            raise DspError("block holds NaN or infinite samples")
        usable = samples.shape[1] // FRAME * FRAME
        self._leftover = samples[:, usable:]
        if usable == 0:
            return []
        on, level = self._bank.process(samples[:, :usable])
        return self._frames(on, level)

    def flush(self) -> list[ToneEvent]:
        """End of the stream: report the end of every tone still on, then start afresh."""
        silence = np.zeros((self.channels, FRAME * (self._bank.delay + self.settings.cadence.debounce_frames + 1)))
        events = self.process(silence)
        for channel, tracks in enumerate(self._tracks):
            for track in tracks:
                if track.state is TrackState.CONFIRMED:
                    events.append(self._end_event(channel, track, track.last_tone_end()))
                    track.reset()
        for channel in range(self.channels):
            self._bank.reset(channel)
        self._start_stream()
        return events

    # --- per frame ------------------------------------------------------------------------

    def _frames(self, on: np.ndarray, level: np.ndarray) -> list[ToneEvent]:
        symbols, levels = self._symbols(on, level)
        if self._quiet(symbols, levels):
            return []
        events: list[ToneEvent] = []
        debounce = self.settings.cadence.debounce_frames
        for f in range(symbols.shape[1]):
            frame = self._frame
            self._frame += 1
            if frame < 0:
                continue  # the bank's lookahead before the first sample
            symbol, lvl = symbols[:, f], levels[:, f]
            same = symbol == self._stable
            self._stable_level = np.where(same, np.maximum(self._stable_level, lvl), self._stable_level)
            continuing = ~same & (symbol == self._pending)
            new = ~same & ~continuing
            self._pending_count = np.where(same, 0, np.where(continuing, self._pending_count + 1, 1))
            self._pending_level = np.where(continuing, np.maximum(self._pending_level, lvl), lvl)
            self._pending = np.where(same, -1, symbol)
            self._pending_start = np.where(new, frame, self._pending_start)
            switched = self._pending_count >= debounce
            touched: list[tuple[int, int, Decision]] = []
            for channel, index in zip(*np.nonzero(switched), strict=True):
                touched += self._switch(int(channel), int(index))
            for channel, index in zip(*np.nonzero(self._due <= frame), strict=True):
                track = self._tracks[channel][index]
                touched.append((int(channel), int(index), track.tick(frame)))
                self._due[channel, index] = min(track.deadline, track.confirm_at)
            if touched:
                events += self._decide(touched, frame)
        return events

    def _quiet(self, symbols: np.ndarray, levels: np.ndarray) -> bool:
        """The whole block in one step when nothing happens in it (the usual case: speech, or
        a tone holding steady): every candidate's symbol stays its stable run's and no track
        is due. The state then ends as the per-frame loop of ``_frames`` would leave it."""
        count = symbols.shape[1]
        last = self._frame + count - 1
        if self._frame < 0 or not count or self.settings.cadence.debounce_frames < 1:
            return False  # (with no debouncing, every frame switches runs)
        if (self._due <= last).any() or (symbols != self._stable[:, None]).any():
            return False
        self._stable_level = np.maximum(self._stable_level, levels.max(axis=1))
        self._pending[...], self._pending_count[...] = -1, 0
        self._pending_level = levels[:, -1].copy()
        self._frame += count
        return True

    def _symbols(self, on: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate: 0 or 1 + index of its loudest sounding set, and that level."""
        channels, frames, _ = on.shape
        symbols = np.zeros((channels, frames, len(self.candidates)), dtype=np.int64)
        levels = np.full(symbols.shape, -np.inf)
        if not on.any():  # nothing sounds (the usual case on a line in a call): no set to weigh
            return symbols, levels
        for index, alphabet in enumerate(self._alphabets):
            candidate_level = np.where(on[:, :, alphabet], level[:, :, alphabet], -np.inf)
            loudest = np.argmax(candidate_level, axis=2)
            sounding = np.any(on[:, :, alphabet], axis=2)
            symbols[:, :, index] = np.where(sounding, loudest + 1, 0)
            levels[:, :, index] = np.max(candidate_level, axis=2)
        return symbols, levels

    def _switch(self, channel: int, index: int) -> list[tuple[int, int, Decision]]:
        """The pending symbol held long enough: the stable run ends, a new one begins."""
        track = self._tracks[channel][index]
        start = int(self._pending_start[channel, index])
        decisions = []
        old_start = int(self._stable_start[channel, index])
        old_symbol = int(self._stable[channel, index])
        if start > old_start:
            run = Run(old_symbol, old_start, start - old_start, float(self._stable_level[channel, index]))
            decisions.append((channel, index, track.run_complete(run)))
        new_symbol = int(self._pending[channel, index])
        self._stable[channel, index] = new_symbol
        self._stable_start[channel, index] = start
        self._stable_level[channel, index] = self._pending_level[channel, index]
        self._pending[channel, index], self._pending_count[channel, index] = -1, 0
        decisions.append((channel, index, track.run_started(new_symbol, start)))
        self._due[channel, index] = min(track.deadline, track.confirm_at)
        return decisions

    def _decide(self, touched: list[tuple[int, int, Decision]], frame: int) -> list[ToneEvent]:
        events = []
        for channel, index, decision in touched:  # ends first: they free rivals
            if decision.ended_at is not None:
                events.append(self._end_event(channel, self._tracks[channel][index], decision.ended_at))
        for channel, index, decision in touched:
            track = self._tracks[channel][index]
            if not decision.ready or track.state is not TrackState.MATCHING:
                continue
            if self._blocked(channel, index):
                if track.candidate.continuous:  # retry on the next frame while it lasts
                    track.confirm_at = frame + 1
                    self._due[channel, index] = min(track.deadline, track.confirm_at)
                continue
            track.confirm()
            events.append(ToneEvent(channel, track.candidate.name, track.tone_start * FRAME))
        return events

    def _blocked(self, channel: int, index: int) -> bool:
        """Another tone of the same frequencies is on, or explains the same runs as well.

        A rival whose match began earlier explains more: wait for it to fail. One that began
        with the same run: wait until it too has enough runs to be reported, then the closer
        fit to the nominal cadence wins (the earlier tone of the plan on a tie).
        """
        track = self._tracks[channel][index]
        for rival_index in self._rivals[index]:
            rival = self._tracks[channel][rival_index]
            if rival.state is TrackState.CONFIRMED:
                return True
            if track.candidate.continuous or rival.candidate.continuous or not rival.live:
                continue
            if rival.match_start < track.match_start:
                return True
            if rival.match_start == track.match_start:
                if not rival.long_enough():
                    return True
                if (rival.fit_error(), rival_index) < (track.fit_error(), index):
                    return True
        return False

    def _end_event(self, channel: int, track: Track, end_frame: int) -> ToneEvent:
        start = track.confirmed_start
        return ToneEvent(channel, track.candidate.name, start * FRAME, max(end_frame, start) * FRAME)
