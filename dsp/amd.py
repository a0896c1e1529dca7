"""Answering-machine detection (AMD) for outbound calls, from the pattern of voice and silence.

After the far end answers, a person usually says one or two short words ("Hello?") and
waits; an answering machine plays a long greeting ("Hi, you've reached ... please leave a
message after the beep"). The detector follows the method and parameters of Asterisk's AMD
application (``app_amd``, configured by ``amd.conf``; defaults from its
``configs/samples/amd.conf.sample``), reimplemented here from its documentation:

- a 20 ms frame is *voice* when its mean absolute amplitude reaches ``silence_threshold``
  (16-bit scale, 0..32767; the default 256 is a frame at about -34 dBm0 of Gaussian noise,
  -35 dBm0 of a sine), else *silence* (``voice_detector="energy"``, Asterisk's way and the default). With
  ``voice_detector="webrtc"`` the WebRTC VAD (``webrtcvad``, mode 3, as in ``dsp.vad``) decides
  instead: it keeps a quiet talker's word whole where the energy threshold splits it, and
  its own short hangover joins the words of a quick "Hello, who is it?" (docs/dsp.md has
  both detectors' measured accuracy);
- a *word* is a run of voice of at least ``min_word_length_ms``; a word ends after
  ``between_words_silence_ms`` of silence; shorter voice blips (clicks, a breath) count as
  silence;
- decisions, checked in frame order (the first that holds wins):

  ====================== ========= =============================================================
  cause                  result    when
  ====================== ========= =============================================================
  ``initial_silence``    machine   no word yet and ``initial_silence_ms`` of silence since answer
  ``silence_after_greeting`` human after at least one word, ``after_greeting_silence_ms`` of
                                   silence since the last word
  ``max_word_length``    machine   one word lasts ``maximum_word_length_ms``
  ``long_greeting``      machine   the voice since the first word adds up to ``greeting_ms``
  ``max_words``          machine   more than ``maximum_number_of_words`` words
  ``max_time``           notsure   ``total_analysis_time_ms`` reached without a decision
  ====================== ========= =============================================================

  (Asterisk's AMDCAUSE names: INITIALSILENCE, HUMAN, MAXWORDLENGTH, LONGGREETING, MAXWORDS,
  TOOLONG.) amd.conf.sample says "maximum number of words in the greeting. If exceeded, then
  the result is detection as a MACHINE": the word after the maximum makes it a machine.

Silence only (a line that answers and says nothing) is therefore ``machine`` by
``initial_silence`` at 2500 ms, as in Asterisk: many machines wait before their greeting,
people rarely stay silent that long. Steady loud noise is one long "word": ``machine`` by
``long_greeting`` (or ``max_word_length``).

A **beep detector** (``BeepDetector``) runs beside it for "leave a message after the beep":
a beep is a steady single tone between ``BEEP_MIN_HZ`` and ``BEEP_MAX_HZ`` lasting at least
``BEEP_MIN_MS``. Per frame: a Hann-windowed 160-point DFT (50 Hz bins); the frame is tonal
when the strongest peak (±1 bin) holds ``BEEP_PURITY`` of the frame's power, its level is
at least ``BEEP_MIN_DBM0`` and its frequency (parabolic interpolation) is within
``BEEP_DRIFT_HZ`` of the previous frame's. Speech has several harmonics and a gliding
pitch, so it rarely passes for more than a frame or two. The beep is reported once it ends
(the message should start after it), or once it has lasted ``BEEP_MAX_MS``.

Cost per frame: one mean of 160 absolute values, one 160-point real FFT and a few scalar
comparisons. Time is the frame count: ``decided_ms`` is the end of the frame that decided,
counted from the first frame fed (the moment of answer).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import webrtcvad

from dsp import SAMPLE_RATE, DspError
from dsp.levels import dbm0_to_rms

FRAME_MS = 20  # the engine's media tick
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 160

HUMAN = "human"
MACHINE = "machine"
NOTSURE = "notsure"
RESULTS = (HUMAN, MACHINE, NOTSURE)
CAUSES = (
    "initial_silence",
    "silence_after_greeting",
    "max_word_length",
    "long_greeting",
    "max_words",
    "max_time",
)

VOICE_DETECTORS = ("energy", "webrtc")
WEBRTC_MODE = 3  # the WebRTC VAD's most aggressive mode (least likely to call noise speech)

# Beep: answering machines' beeps are steady tones of a few hundred ms, mostly 400-2000 Hz.
BEEP_MIN_HZ = 400.0
BEEP_MAX_HZ = 2000.0
BEEP_MIN_MS = 100.0
BEEP_MAX_MS = 3000.0  # a tone this long is reported without waiting for its end
BEEP_PURITY = 0.85  # share of the frame's power in the peak ±1 bin (Hann main lobe at 50 Hz bins)
BEEP_DRIFT_HZ = 10.0  # frame to frame; a steady tone moves ~0 Hz, voiced speech glides
BEEP_MIN_DBM0 = -40.0  # quieter tones are ignored (line noise, far echo)
_BEEP_GAP_FRAMES = 1  # one non-tonal frame inside a tone (a G.711 or noise blip) is bridged

# Bounds for the settings: the scale of a telephone call's first seconds.
_MAX_MS = 60_000
_MAX_WORDS = 100
_INT16_MAX = 32767


@dataclass(frozen=True)
class AmdSettings:
    """Asterisk's AMD parameters (amd.conf names, in ms), with amd.conf.sample's defaults."""

    initial_silence_ms: int = 2500  # amd.conf initial_silence: longer silence before a word -> machine
    greeting_ms: int = 1500  # amd.conf greeting: longer greeting -> machine
    after_greeting_silence_ms: int = 800  # amd.conf after_greeting_silence: then this silence -> human
    total_analysis_time_ms: int = 5000  # amd.conf total_analysis_time: no decision by then -> notsure
    min_word_length_ms: int = 100  # amd.conf min_word_length: shorter voice is not a word
    between_words_silence_ms: int = 50  # amd.conf between_words_silence: silence that ends a word
    maximum_number_of_words: int = 2  # amd.conf maximum_number_of_words: more words -> machine
    maximum_word_length_ms: int = 5000  # amd.conf maximum_word_length: one longer word -> machine
    silence_threshold: int = 256  # amd.conf silence_threshold: mean |sample| below it is silence
    voice_detector: str = "energy"  # not in Asterisk: "webrtc" classifies frames with the WebRTC VAD

    def __post_init__(self) -> None:
        if self.voice_detector not in VOICE_DETECTORS:
            raise DspError(
                f"AMD: voice_detector must be one of {', '.join(VOICE_DETECTORS)}, not {self.voice_detector!r}"
            )
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "voice_detector":
                continue
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise DspError(f"AMD: {field.name} must be an integer, not {value!r}")
        _check_range("initial_silence_ms", self.initial_silence_ms, FRAME_MS, _MAX_MS)
        _check_range("greeting_ms", self.greeting_ms, FRAME_MS, _MAX_MS)
        _check_range("after_greeting_silence_ms", self.after_greeting_silence_ms, FRAME_MS, _MAX_MS)
        _check_range("total_analysis_time_ms", self.total_analysis_time_ms, FRAME_MS, _MAX_MS)
        _check_range("min_word_length_ms", self.min_word_length_ms, FRAME_MS, _MAX_MS)
        _check_range("between_words_silence_ms", self.between_words_silence_ms, FRAME_MS, _MAX_MS)
        _check_range("maximum_number_of_words", self.maximum_number_of_words, 1, _MAX_WORDS)
        _check_range("maximum_word_length_ms", self.maximum_word_length_ms, FRAME_MS, _MAX_MS)
        _check_range("silence_threshold", self.silence_threshold, 1, _INT16_MAX)


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise DspError(f"AMD: {name} must be within {low}..{high}, not {value!r}")


def _frames(ms: int) -> int:
    """A duration in whole frames, rounded up (a 50 ms rule is met after 3 frames, 60 ms)."""
    return -(-ms // FRAME_MS)


@dataclass(frozen=True)
class AmdResult:
    """The decision: ``result`` in RESULTS, ``cause`` in CAUSES, made at ``decided_ms``."""

    result: str
    cause: str
    decided_ms: int


@dataclass(frozen=True)
class Beep:
    """A steady tone from ``start_ms`` to ``end_ms`` at about ``frequency_hz``."""

    start_ms: int
    end_ms: int
    frequency_hz: float


def _check_frame(frame: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.shape != (FRAME_SAMPLES,):
        raise DspError(f"AMD: a frame is {FRAME_SAMPLES} samples (20 ms at 8 kHz), not shape {frame.shape}")
    if frame.dtype.kind not in "iuf":
        raise DspError(f"AMD: a frame must hold numbers, not {frame.dtype}")
    return frame


class BeepDetector:
    """Streaming beep detector: ``feed(frame)`` -> ``Beep`` once a beep has ended, else None."""

    def __init__(self) -> None:
        self._window = np.hanning(FRAME_SAMPLES)
        self._bin_hz = SAMPLE_RATE / FRAME_SAMPLES
        self._low_bin = int(BEEP_MIN_HZ // self._bin_hz)
        self._high_bin = int(-(-BEEP_MAX_HZ // self._bin_hz))
        self._min_energy = dbm0_to_rms(BEEP_MIN_DBM0) ** 2 * FRAME_SAMPLES  # sum of squares at that level
        self._min_frames = _frames(int(BEEP_MIN_MS))
        self._max_frames = _frames(int(BEEP_MAX_MS))
        self._frames_seen = 0
        self._run = 0  # tonal frames in the current run
        self._gap = 0  # non-tonal frames since the run's last tonal frame
        self._run_start = 0  # frame index where the run began
        self._run_freqs: list[float] = []
        self._last_hz = float("nan")
        self._latched = False  # a tone reported at BEEP_MAX_MS is still on: ignore it until it ends

    def _tone_hz(self, frame: np.ndarray) -> float:
        """The frame's tone frequency in Hz, or NaN if the frame is not a beep-like tone."""
        if float(np.dot(frame, frame)) < self._min_energy:  # too quiet to be a beep: no FFT
            return float("nan")
        spectrum = np.fft.rfft(frame * self._window)
        power = spectrum.real**2 + spectrum.imag**2
        total = float(power.sum())
        peak = int(np.argmax(power[1:-1])) + 1
        if not self._low_bin <= peak <= self._high_bin:
            return float("nan")
        if float(power[peak - 1 : peak + 2].sum()) < BEEP_PURITY * total:
            return float("nan")
        left, centre, right = np.log(power[peak - 1 : peak + 2] + 1e-12)
        curvature = left - 2.0 * centre + right
        shift = 0.5 * (left - right) / curvature if curvature < 0.0 else 0.0
        hz = (peak + max(-0.5, min(0.5, shift))) * self._bin_hz
        return hz if BEEP_MIN_HZ <= hz <= BEEP_MAX_HZ else float("nan")

    def feed(self, frame: np.ndarray) -> Beep | None:
        return self.feed_float(_check_frame(frame).astype(np.float64))

    def feed_float(self, frame: np.ndarray) -> Beep | None:
        """``feed`` for a frame already checked and converted to float64."""
        hz = self._tone_hz(frame)
        index = self._frames_seen
        self._frames_seen += 1
        if self._latched:
            if not np.isnan(hz) and abs(hz - self._last_hz) <= BEEP_DRIFT_HZ:
                return None
            self._latched = False
            self._last_hz = float("nan")
        steady = not np.isnan(hz) and (self._run == 0 or abs(hz - self._last_hz) <= BEEP_DRIFT_HZ)
        if steady:
            if self._run == 0:
                self._run_start = index
                self._run_freqs = []
            self._run += 1 + self._gap  # a bridged gap belongs to the tone
            self._gap = 0
            self._last_hz = hz
            self._run_freqs.append(hz)
            if self._run >= self._max_frames:
                beep = self._close()
                self._latched, self._last_hz = True, hz
                return beep
            return None
        if self._run and self._gap < _BEEP_GAP_FRAMES:
            self._gap += 1
            return None
        beep = self._close() if self._run >= self._min_frames else None
        self._reset()
        if not np.isnan(hz):  # a tone at a new frequency starts its own run
            self._run, self._run_start, self._run_freqs, self._last_hz = 1, index, [hz], hz
        return beep

    def _close(self) -> Beep:
        beep = Beep(
            start_ms=self._run_start * FRAME_MS,
            end_ms=(self._run_start + self._run) * FRAME_MS,
            frequency_hz=round(float(np.median(self._run_freqs)), 1),
        )
        self._reset()
        return beep

    def _reset(self) -> None:
        self._run = 0
        self._gap = 0
        self._run_freqs = []
        self._last_hz = float("nan")


class AmdDetector:
    """Streaming AMD for one call: ``feed(frame)`` per 20 ms frame from the moment of answer.

    Returns None until decided, then the same ``AmdResult`` for every later frame (a
    decision never changes). The beep detector keeps running after the decision:
    ``beep`` is the first beep heard (or None), for "leave a message after the beep".
    """

    def __init__(self, settings: AmdSettings | None = None) -> None:
        self.settings = settings if settings is not None else AmdSettings()
        s = self.settings
        self._initial_silence = _frames(s.initial_silence_ms)
        self._greeting = _frames(s.greeting_ms)
        self._after_greeting_silence = _frames(s.after_greeting_silence_ms)
        self._total = _frames(s.total_analysis_time_ms)
        self._min_word = _frames(s.min_word_length_ms)
        self._between_words = _frames(s.between_words_silence_ms)
        self._max_word = _frames(s.maximum_word_length_ms)
        # mean |x| >= threshold  <=>  sum |x| >= threshold * frame length (no division per frame)
        self._threshold_sum = float(s.silence_threshold) * FRAME_SAMPLES
        self._vad = webrtcvad.Vad(WEBRTC_MODE) if s.voice_detector == "webrtc" else None
        self._beeps = BeepDetector()
        self.frames_seen = 0
        self.words = 0
        self.voice_frames = 0  # voice since the first word began (the greeting's length)
        self._voice_run = 0  # voice frames in a row
        self._silence_run = 0  # frames since the last frame of a word (short blips included)
        self._in_word = False
        self.result: AmdResult | None = None
        self.beep: Beep | None = None

    def feed(self, frame: np.ndarray) -> AmdResult | None:
        samples = _check_frame(frame).astype(np.float64)
        beep = self._beeps.feed_float(samples)
        if beep is not None and self.beep is None:
            self.beep = beep
        self.frames_seen += 1
        if self.result is None:
            self.result = self._step(self._is_voice(samples))
        return self.result

    def _is_voice(self, samples: np.ndarray) -> bool:
        if self._vad is None:
            return float(np.abs(samples).sum()) >= self._threshold_sum
        pcm = np.clip(np.round(samples), -32768, 32767).astype("<i2")
        return bool(self._vad.is_speech(pcm.tobytes(), SAMPLE_RATE))

    @property
    def beep_ms(self) -> int | None:
        """End of the first beep (when a message may start), or None."""
        return None if self.beep is None else self.beep.end_ms

    def _decide(self, result: str, cause: str) -> AmdResult:
        return AmdResult(result, cause, self.frames_seen * FRAME_MS)

    def _step(self, voice: bool) -> AmdResult | None:
        if voice:
            self._voice_run += 1
            if self.words:
                self.voice_frames += 1
            if self._in_word or self._voice_run >= self._min_word:
                self._silence_run = 0
            else:
                self._silence_run += 1  # a blip shorter than a word, outside words, is silence so far
            if self._voice_run >= self._min_word and not self._in_word:
                self._in_word = True
                if not self.words:
                    self.voice_frames = self._voice_run  # the greeting starts with its first word
                self.words += 1
                if self.words > self.settings.maximum_number_of_words:
                    return self._decide(MACHINE, "max_words")
            if self._voice_run >= self._max_word:
                return self._decide(MACHINE, "max_word_length")
            if self.words and self.voice_frames >= self._greeting:
                return self._decide(MACHINE, "long_greeting")
        else:
            self._voice_run = 0
            self._silence_run += 1
            if self._in_word and self._silence_run >= self._between_words:
                self._in_word = False
            # Silence decides only on a silent frame: voice may be the start of a word.
            if not self.words and self._silence_run >= self._initial_silence:
                return self._decide(MACHINE, "initial_silence")
            if self.words and self._silence_run >= self._after_greeting_silence:
                return self._decide(HUMAN, "silence_after_greeting")
        if self.frames_seen >= self._total:
            return self._decide(NOTSURE, "max_time")
        return None


def analyse(samples: np.ndarray, settings: AmdSettings | None = None) -> tuple[AmdResult, Beep | None]:
    """Run a whole recording (8 kHz, 16-bit scale, from the moment of answer) through a fresh
    ``AmdDetector`` frame by frame: (decision, first beep). The line is taken to go silent
    after the recording's end, so a decision always comes (at the latest after
    ``total_analysis_time_ms``); the beep detector sees the whole recording."""
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise DspError(f"AMD: a recording is 1-D, not shape {samples.shape}")
    detector = AmdDetector(settings)
    total = _frames(detector.settings.total_analysis_time_ms) * FRAME_SAMPLES
    frames = -(-max(samples.size, total) // FRAME_SAMPLES)
    padded = np.zeros(frames * FRAME_SAMPLES, dtype=np.float64)
    padded[: samples.size] = samples
    for frame in padded.reshape(frames, FRAME_SAMPLES):
        detector.feed(frame)
    if detector.result is None:  # unreachable: total_analysis_time bounds the decision
        raise DspError("AMD: no decision")
    return detector.result, detector.beep
