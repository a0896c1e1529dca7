"""Looking for something in the audio a port heard: a recording, a tone's frequencies, the
stutter dial tone.

- :func:`best_match` / :class:`SpeechSearch`: a recording inside what was heard (the peak of
  the normalised cross-correlation), for ``expect_speech``;
- :class:`ToneSounding`: the first 20 ms frame, from a given time on, in which a tone's
  frequency sets sound (``dsp.progress_bank.ToneBank``: the same per-frame test the
  call-progress detector makes before it looks at the cadence). ``expect_tone`` uses it to
  tell a tone that is still on from one recognised earlier whose end the cadence analysis
  cannot see yet (a US ringback's 4 s silence looks the same as a finished ringback for 4 s);
- :func:`stutter_plan`: a tone plan in which the message-waiting (stutter) dial tone of
  Telcordia GR-506-CORE — bursts of the zone's dial-tone frequency, 100 ms on / 100 ms off,
  ten of them, then steady (``firmware.media.featuretones``) — is a cadenced tone the
  call-progress detector can recognise. A run of such bursts counts as the stutter tone
  when it lasts at least :data:`STUTTER_MIN_MS`: the three-burst recall dial and
  confirmation tones of the same rhythm (600 ms) do not.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from drivers.audiofile import read_audio
from dsp.progress_bank import FRAME, ToneBank
from dsp.toneplans import CED, CNG, Frequency, Segment, TonePlan, ToneSpec, sit_itu, sit_us

SAMPLES_PER_MS = 8
STUTTER = "stutter"
STUTTER_BURST_MS = 100.0  # GR-506-CORE: 100 ms on, 100 ms off
STUTTER_MIN_MS = 1400  # seven bursts: ten are sent; the 3-burst recall dial tone lasts 500 ms


def best_match(template: np.ndarray, heard: np.ndarray) -> tuple[float, int]:
    """(peak normalised cross-correlation, offset in samples) of ``template`` within ``heard``.

    Only full overlaps count; 1.0 means ``heard`` contains the template exactly (up to a
    gain). Computed with one FFT product; window energies with a running sum.
    """
    x = np.asarray(template, dtype=np.float64)
    h = np.asarray(heard, dtype=np.float64)
    n_x, n_h = len(x), len(h)
    norm_x = float(np.sqrt(np.dot(x, x)))
    if n_x == 0 or n_h < n_x or norm_x == 0.0:
        return 0.0, 0
    size = 1 << int(np.ceil(np.log2(n_h + n_x)))
    product = np.fft.rfft(h, size) * np.conj(np.fft.rfft(x, size))
    numerator = np.fft.irfft(product, size)[: n_h - n_x + 1]
    energy = np.concatenate(([0.0], np.cumsum(h * h)))
    window = np.sqrt(np.maximum(energy[n_x:] - energy[: n_h - n_x + 1], 0.0))
    floor = 1e-6 * norm_x  # windows of digital silence correlate with nothing
    correlation = np.where(window > floor, numerator / np.maximum(window, floor) / norm_x, 0.0)
    best = int(np.argmax(correlation))
    return float(correlation[best]), best


class SpeechSearch:
    """Incremental :func:`best_match`: each check only scans the windows not scanned yet."""

    def __init__(self, path: str) -> None:
        self.template = read_audio(path).astype(np.float64)
        self.best = 0.0
        self.best_sample: int | None = None
        self._scanned_to = 0  # first sample of the next window to scan

    def update(self, first_sample: int, heard: np.ndarray) -> None:
        n_x = len(self.template)
        start = max(self._scanned_to - first_sample, 0)
        region = heard[start:]
        if len(region) < n_x:
            return
        score, offset = best_match(self.template, region)
        if score > self.best:
            self.best, self.best_sample = score, first_sample + start + offset
        self._scanned_to = first_sample + start + len(region) - n_x + 1


def tone_frequencies(plan: TonePlan, name: str) -> tuple[Frequency, ...]:
    """The frequency sets of a tone the observer reports (every SIT variant for ``sit``)."""
    if name == STUTTER:
        return plan.dial.frequencies()[:1]
    if name == "sit":
        specs = (plan.sit, sit_itu(), sit_us())
    elif name == "cng":
        specs = (CNG,)
    elif name == "ced":
        specs = (CED,)
    else:
        specs = (plan.tone(name),)
    sets: list[Frequency] = []
    for spec in specs:
        sets += [f for f in spec.frequencies() if f not in sets]
    return tuple(sets)


class ToneSounding:
    """The first frame from ``from_ms`` on in which any of ``frequencies`` sounds (see module doc)."""

    def __init__(self, frequencies: tuple[Frequency, ...], from_ms: int) -> None:
        self.bank = ToneBank(frequencies, 1)
        self.first_sample = from_ms * SAMPLES_PER_MS
        self._fed_to = self.first_sample  # next sample to give the bank
        self.sounding_ms: int | None = None  # start of the first frame the tone sounded in

    def update(self, first_sample: int, heard: np.ndarray) -> None:
        """``heard``: the port's audio from ``first_sample`` on (what the observer keeps)."""
        if self.sounding_ms is not None:
            return
        start = self._fed_to - first_sample
        if start < 0:  # older audio is no longer kept: go on from what is
            start, self._fed_to = 0, first_sample
        usable = (len(heard) - start) // FRAME * FRAME
        if usable <= 0:
            return
        block = np.asarray(heard[start : start + usable], dtype=np.float64)[None, :]
        on, _ = self.bank.process(block)
        sounding = np.flatnonzero(on[0].any(axis=1))
        # The bank decides each frame ``delay`` frames after it (its outputs lag its input).
        first_frame = (self._fed_to - self.first_sample) // FRAME - self.bank.delay
        self._fed_to += usable
        for index in sounding:
            frame = first_frame + int(index)
            if frame >= 0:
                self.sounding_ms = (self.first_sample + frame * FRAME) // SAMPLES_PER_MS
                return


def stutter_plan(plan: TonePlan) -> TonePlan:
    """``plan`` whose cadenced tones are all the stutter bursts (so the detector built from it
    reports them as :data:`STUTTER`; its other tones are of no interest to the caller)."""
    frequency = plan.dial.frequencies()[0]
    bursts = ToneSpec(STUTTER, (Segment(STUTTER_BURST_MS, frequency), Segment(STUTTER_BURST_MS, None)),
                      plan.dial.level_dbm0)
    return replace(plan, ringback=bursts, busy=bursts, congestion=bursts)
