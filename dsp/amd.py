"""Answering-machine detection (AMD) for outbound calls, from the pattern of voice and silence.

After the far end answers, a person usually says one or two short words ("Hello?") and
waits; an answering machine plays a long greeting ("Hi, you've reached ... please leave a
message after the beep"). The detector follows the method and parameters of Asterisk's AMD
application (``app_amd``, configured by ``amd.conf``; defaults from its
``configs/samples/amd.conf.sample``), reimplemented here from its documentation:

- a 20 ms frame is *voice* when its mean absolute amplitude reaches ``silence_threshold``
  (16-bit scale, 0..32767; the default 256 is a frame at about -34 dBm0 of Gaussian noise,
  -35 dBm0 of a sine), else *silence* (``voice_detector="energy"``, Asterisk's way and the
  default). With ``voice_detector="webrtc"`` the WebRTC VAD (``webrtcvad``, mode 3, as in ``dsp.vad``) decides
  instead: it keeps a quiet talker's word whole where the energy threshold splits it, and
  its own short hangover joins the words of a quick "Hello, who is it?" (docs/dsp.md has
  both detectors' measured accuracy);
- a *word* is a run of voice of at least ``min_word_length_ms``; a word ends after
  ``between_words_silence_ms`` of silence; shorter voice blips (clicks, a breath) count as
  silence;
- decisions (result, cause: when), one per call, at the first frame where one holds:

  - machine, ``initial_silence``: no word yet and ``initial_silence_ms`` of silence since answer;
  - human, ``silence_after_greeting``: after a word, ``after_greeting_silence_ms`` of silence;
  - machine, ``max_words``: a word more than ``maximum_number_of_words``;
  - machine, ``max_word_length``: one word lasts ``maximum_word_length_ms``;
  - machine, ``long_greeting``: the voice since the first word adds up to ``greeting_ms``;
  - notsure, ``max_time``: ``total_analysis_time_ms`` reached without a decision.

  Silence decides only on a silent frame; on a voice frame where several machine rules hold,
  the first in this list wins. (Asterisk's AMDCAUSE names: INITIALSILENCE, HUMAN, MAXWORDS,
  MAXWORDLENGTH, LONGGREETING, TOOLONG.) amd.conf.sample says "maximum number of words in the greeting. If exceeded, then
  the result is detection as a MACHINE": the word after the maximum makes it a machine.
  Durations count whole 20 ms frames, rounded up (the 50 ms between-words rule is met after
  60 ms of silence).

Silence only (a line that answers and says nothing) is therefore ``machine`` by
``initial_silence`` at 2500 ms, as in Asterisk: many machines wait before their greeting,
people rarely stay silent that long. Steady loud noise is one long "word": ``machine`` by
``long_greeting`` (or ``max_word_length``).

A **beep detector** (``BeepDetector``) runs beside it for "leave a message after the beep":
a beep is a steady single tone between ``BEEP_MIN_HZ`` and ``BEEP_MAX_HZ`` lasting at least
``BEEP_MIN_MS``. Per frame: a Hann-windowed 160-point DFT (50 Hz bins); the frame is tonal
when the strongest peak (±1 bin) holds ``BEEP_PURITY`` of the frame's power, its level is
at least ``BEEP_MIN_DBM0`` and its frequency (parabolic interpolation) is within
``BEEP_DRIFT_HZ`` of the previous frame's, and that frequency is within the band. Speech
has several harmonics and a gliding pitch, so it rarely passes for more than a frame or two.
The beep is reported once it ends (the message should start after it), or once it has
lasted ``BEEP_MAX_MS``.

Cost per frame: one sum of 160 absolute values (or one WebRTC VAD call), one energy check
and, on frames loud enough to be a beep, one 160-point real FFT; a few scalar comparisons. Time is the frame count: ``decided_ms`` is the end of the frame that decided,
counted from the first frame fed (the moment of answer).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> AmdSettings:
        """Settings from a configuration mapping (field names as keys, missing ones default);
        an unknown key is a DspError (a typo caught), like a bad value."""
        unknown = sorted(str(key) for key in set(values) - {field.name for field in fields(cls)})
        if unknown:
            raise DspError(f"AMD: unknown setting {', '.join(unknown)}")
        return cls(**values)  # type: ignore[arg-type]


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
    if frame.dtype.kind == "f" and not np.isfinite(frame).all():
        raise DspError("AMD: a frame contains NaN or infinity")
    return frame


_WINDOW = np.hanning(FRAME_SAMPLES)
_BIN_HZ = SAMPLE_RATE / FRAME_SAMPLES  # 50 Hz
_BEEP_MIN_ENERGY = dbm0_to_rms(BEEP_MIN_DBM0) ** 2 * FRAME_SAMPLES  # a frame's sum of squares at that level


def beep_frequencies(frames: np.ndarray) -> np.ndarray:
    """(k, 160) float64 frames -> (k,) the frequency in Hz of each frame's beep-like tone, NaN
    where the frame is not one (too quiet, not pure, out of band). Quiet frames skip the DFT."""
    hz = np.full(frames.shape[0], np.nan)
    loud = np.flatnonzero(np.einsum("ij,ij->i", frames, frames) >= _BEEP_MIN_ENERGY)
    if loud.size == 0:
        return hz
    spectrum = np.fft.rfft(frames[loud] * _WINDOW, axis=-1)
    power = spectrum.real**2 + spectrum.imag**2
    peak = np.argmax(power[:, 1:-1], axis=-1) + 1
    rows = np.arange(loud.size)
    left, centre, right = power[rows, peak - 1], power[rows, peak], power[rows, peak + 1]
    pure = left + centre + right >= BEEP_PURITY * power.sum(axis=-1)
    log_left, log_centre, log_right = (np.log(x + 1e-12) for x in (left, centre, right))
    curvature = log_left - 2.0 * log_centre + log_right
    bent = curvature < 0.0
    shift = np.where(bent, 0.5 * (log_left - log_right) / np.where(bent, curvature, -1.0), 0.0)
    found = (peak + np.clip(shift, -0.5, 0.5)) * _BIN_HZ
    in_band = (found >= BEEP_MIN_HZ) & (found <= BEEP_MAX_HZ)
    hz[loud] = np.where(pure & in_band, found, np.nan)
    return hz


def beep_frequency(frame: np.ndarray) -> float:
    """``beep_frequencies`` of one (160,) float64 frame, with scalar arithmetic: a call on one
    frame costs a quarter of the vectorised one's (tests/test_amd.py checks they agree)."""
    if float(np.dot(frame, frame)) < _BEEP_MIN_ENERGY:
        return float("nan")
    spectrum = np.fft.rfft(frame * _WINDOW)
    power = spectrum.real**2 + spectrum.imag**2
    peak = int(np.argmax(power[1:-1])) + 1
    left, centre, right = (float(x) for x in power[peak - 1 : peak + 2])
    if left + centre + right < BEEP_PURITY * float(power.sum()):
        return float("nan")
    log_left, log_centre, log_right = (math.log(x + 1e-12) for x in (left, centre, right))
    curvature = log_left - 2.0 * log_centre + log_right
    shift = 0.5 * (log_left - log_right) / curvature if curvature < 0.0 else 0.0
    hz = (peak + max(-0.5, min(0.5, shift))) * _BIN_HZ
    return hz if BEEP_MIN_HZ <= hz <= BEEP_MAX_HZ else float("nan")


class BeepDetector:
    """Streaming beep detector: ``feed(frame)`` -> ``Beep`` once a beep has ended, else None."""

    def __init__(self) -> None:
        self._min_frames = _frames(int(BEEP_MIN_MS))
        self._max_frames = _frames(int(BEEP_MAX_MS))
        self._frames_seen = 0
        self._run = 0  # tonal frames in the current run
        self._gap = 0  # non-tonal frames since the run's last tonal frame
        self._run_start = 0  # frame index where the run began
        self._run_freqs: list[float] = []
        self._last_hz = float("nan")
        self._latched = False  # a tone reported at BEEP_MAX_MS is still on: ignore it until it ends

    def feed(self, frame: np.ndarray) -> Beep | None:
        return self.step(beep_frequency(_check_frame(frame).astype(np.float64)))

    def step(self, hz: float) -> Beep | None:
        """Advance one frame whose ``beep_frequencies`` value is ``hz``."""
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
        return self.step(samples, float(np.abs(samples).sum()), beep_frequency(samples))

    def step(self, samples: np.ndarray, abs_sum: float, beep_hz: float) -> AmdResult | None:
        """One frame already checked and measured: float64 ``samples``, their sum of absolute
        values, their ``beep_frequencies`` value (``AmdBank`` measures many calls at once)."""
        beep = self._beeps.step(beep_hz)
        if beep is not None and self.beep is None:
            self.beep = beep
        self.frames_seen += 1
        if self.result is None:
            self.result = self._step(self._is_voice(samples, abs_sum))
        return self.result

    def _is_voice(self, samples: np.ndarray, abs_sum: float) -> bool:
        if self._vad is None:
            return abs_sum >= self._threshold_sum
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


class AmdBank:
    """AMD for ``channels`` calls at once: ``process(block)`` with ``block`` shaped
    (channels, 160), one 20 ms frame per call, returns each channel's ``feed`` result. The
    energy and the beep DFT are computed for all channels in one go (the per-call numpy
    overhead is most of a frame's cost); each channel is its own ``AmdDetector``
    (``detectors[c]``), and ``restart(c)`` begins a new call on channel c."""

    def __init__(self, channels: int, settings: AmdSettings | None = None) -> None:
        if isinstance(channels, bool) or not isinstance(channels, int | np.integer) or channels < 1:
            raise DspError(f"AMD: channels must be a positive integer, not {channels!r}")
        self.settings = settings if settings is not None else AmdSettings()
        self.detectors = [AmdDetector(self.settings) for _ in range(int(channels))]

    def restart(self, channel: int) -> None:
        if not 0 <= channel < len(self.detectors):
            raise DspError(f"AMD: no channel {channel!r} (0..{len(self.detectors) - 1})")
        self.detectors[channel] = AmdDetector(self.settings)

    def process(self, block: np.ndarray) -> list[AmdResult | None]:
        block = np.asarray(block)
        if block.shape != (len(self.detectors), FRAME_SAMPLES):
            raise DspError(
                f"AMD: a block is shaped ({len(self.detectors)}, {FRAME_SAMPLES}), not {block.shape}"
            )
        if block.dtype.kind not in "iuf":
            raise DspError(f"AMD: a block must hold numbers, not {block.dtype}")
        frames = block.astype(np.float64)
        if block.dtype.kind == "f" and not np.isfinite(frames).all():
            raise DspError("AMD: a block contains NaN or infinity")
        sums = np.abs(frames).sum(axis=1)
        beep_hz = beep_frequencies(frames)
        return [
            detector.step(frames[c], float(sums[c]), float(beep_hz[c]))
            for c, detector in enumerate(self.detectors)
        ]


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
