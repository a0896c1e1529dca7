"""Streaming voice activity detection over many channels, with a guard against steady tones.

Each channel runs its own WebRTC VAD (``webrtcvad``, the Gaussian-mixture detector of the
WebRTC project; pure computation, no I/O) on frames of 10, 20 or 30 ms at 8 kHz. Its
per-frame decision goes through two more stages:

1. **Tone guard.** The WebRTC VAD calls any loud sine "speech". A frame is vetoed when the
   64 ms of signal ending with it is a steady tone or tone pair: a Hann-windowed 512-point
   DFT puts at least ``tone_purity`` of the power into one or two spectral peaks (each peak
   ±``TONE_PEAK_HALF_WIDTH`` bins, the main lobe of the Hann window), *and* those peaks'
   frequencies (parabolic interpolation on the log spectrum) moved less than
   ``TONE_DRIFT_HZ`` since the analysis ``TONE_LAG_MS`` earlier. Voiced speech can look like
   two strong harmonics in one frame, but its pitch glides; a dial tone, ringback, busy tone,
   DTMF digit, 1 kHz test tone or 2100 Hz answer tone does not. Just after a steady tone
   ends, frames far below the tone's level (the WebRTC VAD's own overhang, the window's
   splatter) are vetoed too for ``TONE_RELEASE_MS``. The analysis runs on all the frames of
   a block at once, vectorised over channels and frames.
2. **Segmentation.** A speech segment starts after ``min_speech_ms`` of consecutive speech
   frames (so the first frames of a tone, before it is recognised as steady, never start a
   segment) and ends after ``hangover_ms`` without a speech frame. Events carry the sample
   where speech really starts (first sample of the first speech frame) or ends (one past the
   last speech frame), and the sample at which the detector decided.

Per channel the detector exposes what the IVR's end-of-utterance and answering-machine
detection need: whether it is in a speech segment, how long the current speech segment or
the silence since the last speech frame has lasted, and the level of the last frame in dBm0.

Time is the sample index, counted from the first sample given to ``process``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import webrtcvad

from dsp import SAMPLE_RATE, DspError
from dsp.levels import rms_to_dbm0

FRAME_MS_CHOICES = (10, 20, 30)  # the frame lengths the WebRTC VAD accepts
MODES = (0, 1, 2, 3)  # WebRTC VAD aggressiveness: 0 = least, 3 = most likely to call a frame non-speech
LEVEL_FLOOR_DBM0 = -100.0  # reported level of digital silence
TONE_WINDOW = 512  # tone-guard analysis window: 64 ms, 15.6 Hz bins
TONE_PEAK_HALF_WIDTH = 2  # bins each side of a peak counted as that peak (Hann main lobe)
TONE_PURITY = 0.9  # share of the window's power in <= 2 peaks for a frame to be tone-like
TONE_DRIFT_HZ = 2.0  # a steady tone's peaks move less than this per TONE_LAG_MS (speech harmonics glide)
TONE_LAG_MS = 20.0  # steadiness is judged against the analysis this long before
TONE_RELEASE_MS = 100.0  # after a steady tone, frames this long ...
TONE_RELEASE_DROP_DB = 10.0  # ... this far below the tone's level are the tone's tail, not speech
INT16_MIN, INT16_MAX = -32768, 32767


class VadEventKind(enum.Enum):
    START = "start"
    END = "end"


class VadState(enum.Enum):
    SILENCE = "silence"
    SPEECH = "speech"


@dataclass(frozen=True)
class VadEvent:
    """Speech started or ended on ``channel`` at ``sample``; known at ``decided_sample``."""

    channel: int
    kind: VadEventKind
    sample: int
    decided_sample: int


@dataclass(frozen=True)
class VadFrames:
    """Per-frame results of the frames completed by one ``process`` call, shaped (channels, k)."""

    start_sample: int  # first sample of the first of the k frames
    speech: np.ndarray  # bool: WebRTC VAD said speech and the tone guard did not veto
    tone: np.ndarray  # bool: vetoed as a steady tone (or its tail)
    active: np.ndarray  # bool: inside a speech segment after this frame (the channel's state)
    level_dbm0: np.ndarray  # float: frame level, LEVEL_FLOOR_DBM0 for digital silence


class _ToneGuard:
    """Steady-tone detector over frames, vectorised over channels (see the module docstring)."""

    def __init__(self, channels: int, frame: int, frame_ms: int, purity: float) -> None:
        self.frame = frame
        self.purity = purity
        self.size = TONE_WINDOW
        self.window = np.hanning(TONE_WINDOW)
        self.history = np.zeros((channels, TONE_WINDOW - frame))
        self.lag = max(1, round(TONE_LAG_MS / frame_ms))
        # The last `lag` analyses: peak frequencies (Hz, NaN when not tone-like), oldest first.
        self.past_peaks = np.full((self.lag, channels, 2), np.nan)
        self.was_steady = np.zeros(channels, dtype=bool)
        self.since_tone = np.full(channels, 1 << 30, dtype=np.int64)  # frames since the last steady frame
        self.tone_level = np.full(channels, LEVEL_FLOOR_DBM0)  # loudest frame of the last steady run
        self.release_frames = max(1, round(TONE_RELEASE_MS / frame_ms))

    def _peaks(self, frames: np.ndarray) -> np.ndarray:
        """(channels, k, 2) frequencies in Hz of the one or two peaks holding `purity` of the
        power of the window ending with each frame; NaN where the window is not tone-like."""
        channels, count, _ = frames.shape
        stream = np.concatenate([self.history, frames.reshape(channels, -1)], axis=1)
        self.history = stream[:, stream.shape[1] - self.history.shape[1] :]
        ends = (np.arange(count) + 1) * self.frame + self.history.shape[1]
        index = ends[:, None] - self.size + np.arange(self.size)[None, :]
        power = np.square(np.abs(np.fft.rfft(stream[:, index] * self.window, axis=-1))) + 1e-9
        log_power = np.log(power)
        total = power.sum(axis=-1)
        offsets = np.arange(-TONE_PEAK_HALF_WIDTH, TONE_PEAK_HALF_WIDTH + 1)
        lanes = power.shape[-1]
        freqs, shares = [], []
        for _ in range(2):
            peak = np.clip(np.argmax(power, axis=-1), 1, lanes - 2)[..., None]
            left, centre, right = (
                np.take_along_axis(log_power, peak + d, axis=-1)[..., 0] for d in (-1, 0, 1)
            )
            curvature = left - 2.0 * centre + right
            shift = np.where(
                curvature < 0.0, 0.5 * (left - right) / np.where(curvature < 0.0, curvature, -1.0), 0.0
            )
            freqs.append((peak[..., 0] + np.clip(shift, -0.5, 0.5)) * SAMPLE_RATE / self.size)
            cols = np.clip(peak + offsets, 0, lanes - 1)
            shares.append(np.take_along_axis(power, cols, axis=-1).sum(axis=-1) / total)
            np.put_along_axis(power, cols, 0.0, axis=-1)
        single = shares[0] >= self.purity
        pair = shares[0] + shares[1] >= self.purity
        # A single tone is described by its one peak (the second "peak" is noise and wanders).
        peaks = np.stack([freqs[0], np.where(single, freqs[0], freqs[1])], axis=-1)
        return np.where(pair[..., None], peaks, np.nan)

    def veto(self, frames: np.ndarray, level_dbm0: np.ndarray) -> np.ndarray:
        """frames (channels, k, frame) float; level_dbm0 (channels, k) -> vetoed (channels, k)."""
        peaks = self._peaks(frames)
        vetoed = np.zeros(level_dbm0.shape, dtype=bool)
        for i in range(peaks.shape[1]):
            now, then = peaks[:, i, :], self.past_peaks[0]
            same = (_near(now[:, 0], then[:, 0]) & _near(now[:, 1], then[:, 1])) | (
                _near(now[:, 0], then[:, 1]) & _near(now[:, 1], then[:, 0])
            )
            self.past_peaks = np.concatenate([self.past_peaks[1:], now[None]], axis=0)
            level = level_dbm0[:, i]
            self.tone_level = np.where(
                same, np.where(self.was_steady, np.maximum(self.tone_level, level), level), self.tone_level
            )
            self.since_tone = np.where(same, 0, self.since_tone + 1)
            self.was_steady = same
            tail = (self.since_tone <= self.release_frames) & (level < self.tone_level - TONE_RELEASE_DROP_DB)
            vetoed[:, i] = same | tail
        return vetoed


def _near(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Same frequency within TONE_DRIFT_HZ (False where either is NaN)."""
    return np.abs(a - b) <= TONE_DRIFT_HZ


class VoiceActivityDetector:
    """Streaming VAD on ``channels`` channels: ``process(block (channels, n))`` -> events.

    ``frame_ms``: 10, 20 or 30. ``mode``: WebRTC VAD aggressiveness 0-3. ``hangover_ms``:
    silence after the last speech frame before a segment ends. ``min_speech_ms``: speech
    frames in a row needed to start a segment (at least two frames, so that the tone guard
    can see a tone is steady). ``tone_guard``: veto steady tones (on by default).
    """

    def __init__(
        self,
        channels: int,
        frame_ms: int = 20,
        mode: int = 3,
        hangover_ms: float = 200.0,
        min_speech_ms: float = 100.0,
        tone_guard: bool = True,
        tone_purity: float = TONE_PURITY,
    ) -> None:
        if not isinstance(channels, int | np.integer) or channels < 1:
            raise DspError(f"VAD: channels must be a positive integer, not {channels!r}")
        if frame_ms not in FRAME_MS_CHOICES:
            raise DspError(f"VAD: frame_ms must be one of {FRAME_MS_CHOICES}, not {frame_ms!r}")
        if mode not in MODES:
            raise DspError(f"VAD: mode must be one of {MODES}, not {mode!r}")
        if not 0.0 <= hangover_ms <= 60_000.0:
            raise DspError(f"VAD: hangover_ms must be within 0..60000, not {hangover_ms!r}")
        if not 2 * frame_ms <= min_speech_ms <= 10_000.0:
            raise DspError(
                f"VAD: min_speech_ms must be within {2 * frame_ms}..10000 (two frames at least), not {min_speech_ms!r}"
            )
        if not 0.5 <= tone_purity <= 1.0:
            raise DspError(f"VAD: tone_purity must be within 0.5..1, not {tone_purity!r}")
        self.channels = int(channels)
        self.frame_ms = frame_ms
        self.frame = SAMPLE_RATE * frame_ms // 1000
        self.hangover_frames = int(np.ceil(hangover_ms / frame_ms))
        self.min_speech_frames = int(np.ceil(min_speech_ms / frame_ms))
        self._vads = [webrtcvad.Vad(mode) for _ in range(self.channels)]
        self._guard = _ToneGuard(self.channels, self.frame, frame_ms, tone_purity) if tone_guard else None
        self._pending = np.zeros((self.channels, 0))
        self.samples_seen = 0
        self.frames_seen = 0
        self.state = [VadState.SILENCE] * self.channels
        self._speech_run = np.zeros(self.channels, dtype=np.int64)  # speech frames in a row
        self._silence_run = np.zeros(self.channels, dtype=np.int64)  # frames since the last speech frame
        self._segment_start = np.zeros(
            self.channels, dtype=np.int64
        )  # sample where the current segment began
        self.level_dbm0 = np.full(self.channels, LEVEL_FLOOR_DBM0)
        empty = np.zeros((self.channels, 0))
        self.last_frames = VadFrames(0, empty.astype(bool), empty.astype(bool), empty.astype(bool), empty)

    # -- per-channel state for the IVR -------------------------------------------------
    @property
    def speaking(self) -> np.ndarray:
        """(channels,) bool: inside a speech segment (hangover included)."""
        return np.array([state is VadState.SPEECH for state in self.state])

    @property
    def speech_ms(self) -> np.ndarray:
        """(channels,) duration of the current speech segment up to the last complete frame
        (hangover included); 0 outside one."""
        run = (self.frames_seen * self.frame - self._segment_start) * 1000.0 / SAMPLE_RATE
        return np.where(self.speaking, run, 0.0)

    @property
    def silence_ms(self) -> np.ndarray:
        """(channels,) time since the end of the last speech frame (or since the stream began);
        it runs during the hangover too, and is 0 while speech frames keep coming."""
        return self._silence_run * float(self.frame_ms)

    # -- processing -------------------------------------------------------------------
    def process(self, block: np.ndarray) -> list[VadEvent]:
        """Feed ``block`` (channels, n), any n, 16-bit scale; returns the events it completed."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != self.channels:
            raise DspError(f"VAD: block must be shaped ({self.channels}, n), not {block.shape}")
        if not (np.issubdtype(block.dtype, np.integer) or np.issubdtype(block.dtype, np.floating)):
            raise DspError(f"VAD: block must hold numbers, not {block.dtype}")
        if not np.all(np.isfinite(block)):
            raise DspError("VAD: block contains NaN or infinity")
        stream = np.concatenate([self._pending, block.astype(np.float64)], axis=1)
        count = stream.shape[1] // self.frame
        self._pending = stream[:, count * self.frame :]
        frames = stream[:, : count * self.frame].reshape(self.channels, count, self.frame)
        start_sample = self.frames_seen * self.frame
        self.samples_seen += block.shape[1]
        speech, tone, level = self._classify(frames)
        active, events = self._segment(speech, start_sample)
        self.last_frames = VadFrames(start_sample, speech, tone, active, level)
        if count:
            self.level_dbm0 = level[:, -1].copy()
        return events

    def _classify(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(speech, tone, level_dbm0) per frame, each (channels, k)."""
        channels, count, _ = frames.shape
        level = (
            rms_to_dbm0(np.sqrt(np.mean(np.square(frames), axis=-1))) if count else np.zeros((channels, 0))
        )
        level = np.maximum(level, LEVEL_FLOOR_DBM0)
        pcm = np.clip(np.round(frames), INT16_MIN, INT16_MAX).astype("<i2")
        said = np.array(
            [
                [self._vads[c].is_speech(pcm[c, i].tobytes(), SAMPLE_RATE) for i in range(count)]
                for c in range(channels)
            ],
            dtype=bool,
        ).reshape(channels, count)
        tone = self._guard.veto(frames, level) if self._guard is not None and count else np.zeros_like(said)
        return said & ~tone, tone, level

    def _segment(self, speech: np.ndarray, start_sample: int) -> tuple[np.ndarray, list[VadEvent]]:
        """The two-state machine per channel: SILENCE -(min_speech frames)-> SPEECH -(hangover)-> SILENCE.
        Returns the state after each frame (channels, k) and the events."""
        events: list[VadEvent] = []
        count = speech.shape[1]
        active = np.zeros(speech.shape, dtype=bool)
        for c in range(self.channels):
            state = self.state[c]
            speech_run = int(self._speech_run[c])
            silence_run = int(self._silence_run[c])
            for i in range(count):
                frame_end = start_sample + (i + 1) * self.frame
                if speech[c, i]:
                    speech_run += 1
                    silence_run = 0
                else:
                    speech_run = 0
                    silence_run += 1
                if state is VadState.SILENCE and speech_run >= self.min_speech_frames:
                    state = VadState.SPEECH
                    onset = frame_end - speech_run * self.frame
                    self._segment_start[c] = onset
                    events.append(VadEvent(c, VadEventKind.START, onset, frame_end))
                elif state is VadState.SPEECH and silence_run >= max(1, self.hangover_frames):
                    state = VadState.SILENCE
                    events.append(
                        VadEvent(c, VadEventKind.END, frame_end - silence_run * self.frame, frame_end)
                    )
                active[c, i] = state is VadState.SPEECH
            self.state[c] = state
            self._speech_run[c] = speech_run
            self._silence_run[c] = silence_run
        self.frames_seen += count
        return active, sorted(events, key=lambda event: (event.decided_sample, event.channel))
