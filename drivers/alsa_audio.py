"""The real board's audio: multichannel ALSA capture and playback through pyalsaaudio.

The line cards' codec appears to ALSA as one multichannel PCM: interleaved S16_LE frames
at 8 kHz, one channel per port, in periods of 160 frames (20 ms, one engine tick). The
board definition maps ports to ALSA channels (``channel_map[port] = channel``); channels
without a port are ignored on capture and get silence on playback.

Capture is the engine's clock: ``read_frame()`` blocks until the next period is there.

Xruns. An overrun (the engine was late, the capture ring overflowed) shows as a read of
``-EPIPE`` and a short read as fewer frames than asked; an underrun as a write of ``-EPIPE``
(pyalsaaudio >= 0.11) or an ``ALSAAudioError`` saying "Broken pipe" (older versions) and a
short write as fewer frames written. Each is counted in :class:`XrunCounters`, logged as
one line, and recovered from: pyalsaaudio re-prepares a stream in the XRUN state on the
next read or write, so the driver simply retries; after ``max_retries`` failed attempts, or
on any other ALSA error (device gone, bad state), it closes and re-opens the PCM. A device
that cannot be re-opened is a ``DriverError``. Samples lost in an overrun are lost: the
frame returned is the next complete one, never a patched one.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence
from typing import Protocol

import alsaaudio
import numpy as np

from drivers import DriverError
from drivers.audio import TICK_SAMPLES, XrunCounters, check_frame
from drivers.logs import EventLogger
from dsp import SAMPLE_RATE

BYTES_PER_SAMPLE = 2  # S16_LE
CAPTURE = "capture"
PLAYBACK = "playback"


class Pcm(Protocol):
    """The part of ``alsaaudio.PCM`` the driver uses (tests pass fakes)."""

    def read(self) -> tuple[int, bytes]: ...

    def write(self, data: bytes) -> int: ...

    def close(self) -> None: ...


PcmFactory = Callable[[str, str, int], Pcm]  # (CAPTURE|PLAYBACK, device name, channels) -> PCM


def open_alsa_pcm(direction: str, device: str, channels: int, periods: int = 4) -> Pcm:
    """An ``alsaaudio.PCM`` at 8 kHz S16_LE with 160-frame periods, checked after opening."""
    kind = alsaaudio.PCM_CAPTURE if direction == CAPTURE else alsaaudio.PCM_PLAYBACK
    try:
        pcm = alsaaudio.PCM(
            type=kind,
            mode=alsaaudio.PCM_NORMAL,
            rate=SAMPLE_RATE,
            channels=channels,
            format=alsaaudio.PCM_FORMAT_S16_LE,
            periodsize=TICK_SAMPLES,
            periods=periods,
            device=device,
        )
    except alsaaudio.ALSAAudioError as exc:
        raise DriverError(f"ALSA {direction} device {device!r}: cannot open: {exc}") from exc
    info = pcm.info()
    wanted = {"rate": SAMPLE_RATE, "channels": channels, "period_size": TICK_SAMPLES, "format_name": "S16_LE"}
    for key, value in wanted.items():
        if info.get(key) != value:
            pcm.close()
            raise DriverError(f"ALSA {direction} device {device!r}: {key} is {info.get(key)!r}, need {value!r}")
    return pcm


def _is_broken_pipe(exc: Exception) -> bool:
    return "broken pipe" in str(exc).lower()


class AlsaAudio:
    """:class:`drivers.audio.AudioDevice` over ALSA; see the module docstring."""

    def __init__(
        self,
        capture_device: str,
        playback_device: str,
        ports: int,
        channels: int | None = None,
        channel_map: Sequence[int] | None = None,
        prefill_periods: int = 1,
        max_retries: int = 3,
        pcm_factory: PcmFactory | None = None,
        logger: EventLogger | None = None,
    ) -> None:
        if ports < 1:
            raise DriverError(f"ports must be >= 1, got {ports}")
        self.channels = ports if channels is None else channels
        channel_map = list(range(ports)) if channel_map is None else list(channel_map)
        if len(channel_map) != ports:
            raise DriverError(f"channel_map has {len(channel_map)} entries for {ports} ports")
        if len(set(channel_map)) != ports or not all(0 <= c < self.channels for c in channel_map):
            raise DriverError(f"channel_map {channel_map} must name {ports} distinct channels in 0..{self.channels - 1}")
        if prefill_periods < 0 or max_retries < 1:
            raise DriverError("prefill_periods must be >= 0 and max_retries >= 1")
        self.ports = ports
        self.counters = XrunCounters()
        self.capture_device = capture_device
        self.playback_device = playback_device
        self._channel_map = np.asarray(channel_map, dtype=np.intp)
        self._prefill_periods = prefill_periods
        self._max_retries = max_retries
        self._open = pcm_factory or open_alsa_pcm
        self._log = logger or EventLogger("audio")
        self._frame_bytes = TICK_SAMPLES * self.channels * BYTES_PER_SAMPLE
        self._pending = bytearray()  # captured bytes not yet returned (after a short read)
        self._capture: Pcm | None = None
        self._playback: Pcm | None = None
        self._closed = False
        self._capture = self._open(CAPTURE, capture_device, self.channels)
        try:
            self._playback = self._open(PLAYBACK, playback_device, self.channels)
            self._prefill()
        except DriverError:
            self._capture.close()
            raise

    # -- capture -------------------------------------------------------------------------

    def read_frame(self) -> np.ndarray:
        """The next 20 ms of every port, int16 ``(ports, 160)``."""
        self._check_open()
        failures = 0
        recovering = False
        while len(self._pending) < self._frame_bytes:
            if failures >= self._max_retries:
                self._reopen_capture("retries_exhausted")
                failures, recovering = 0, False
            try:
                count, data = self._capture.read()
            except alsaaudio.ALSAAudioError as exc:
                self._capture_xrun("error", error=str(exc))
                self._reopen_capture(str(exc))
                failures, recovering = 0, False
                continue
            if count < 0:
                self._capture_xrun("overrun" if count == -errno.EPIPE else "error", code=count)
                self._pending.clear()  # the samples before the gap are no longer contiguous
                failures += 1
                recovering = True
                continue
            if count < TICK_SAMPLES:
                self._capture_xrun("short_read", frames=count)
                failures += 1
                recovering = True
            self._pending += data[: count * self.channels * BYTES_PER_SAMPLE]
        if recovering:
            self.counters.recoveries += 1
            self._log.info("audio_recovered", direction=CAPTURE, method="prepare")
        raw = bytes(self._pending[: self._frame_bytes])
        del self._pending[: self._frame_bytes]
        interleaved = np.frombuffer(raw, dtype="<i2").reshape(TICK_SAMPLES, self.channels)
        return np.ascontiguousarray(interleaved[:, self._channel_map].T, dtype=np.int16)

    def _capture_xrun(self, kind: str, **fields: object) -> None:
        self.counters.xruns_capture += 1
        self._log.warning("audio_xrun", direction=CAPTURE, kind=kind, count=self.counters.xruns_capture, **fields)

    def _reopen_capture(self, reason: str) -> None:
        self._close_pcm(self._capture)
        self._capture = None
        self._pending.clear()
        self._capture = self._open(CAPTURE, self.capture_device, self.channels)
        self.counters.recoveries += 1
        self._log.warning("audio_reopened", direction=CAPTURE, device=self.capture_device, reason=reason)

    # -- playback ------------------------------------------------------------------------

    def write_frame(self, frame: np.ndarray) -> None:
        """Plays 20 ms of every port, int16 ``(ports, 160)``."""
        self._check_open()
        frame = check_frame(frame, self.ports)
        interleaved = np.zeros((TICK_SAMPLES, self.channels), dtype="<i2")
        interleaved[:, self._channel_map] = frame.T
        self._write_bytes(interleaved.tobytes())

    def _write_bytes(self, data: bytes) -> None:
        frame_size = self.channels * BYTES_PER_SAMPLE
        failures = 0
        recovering = False
        while data:
            if failures >= self._max_retries:
                self._reopen_playback("retries_exhausted")
                failures, recovering = 0, False
            try:
                written = self._playback.write(data)
            except alsaaudio.ALSAAudioError as exc:
                if _is_broken_pipe(exc):
                    self._playback_xrun("underrun")
                    failures += 1
                    recovering = True
                else:
                    self._playback_xrun("error", error=str(exc))
                    self._reopen_playback(str(exc))
                    failures, recovering = 0, False
                continue
            frames_left = len(data) // frame_size
            if written < 0:
                self._playback_xrun("underrun" if written == -errno.EPIPE else "error", code=written)
                failures += 1
                recovering = True
                continue
            if written < frames_left:
                self._playback_xrun("short_write", frames=written)
                failures += 1
                recovering = True
            data = data[written * frame_size :]
        if recovering:
            self.counters.recoveries += 1
            self._log.info("audio_recovered", direction=PLAYBACK, method="prepare")

    def _playback_xrun(self, kind: str, **fields: object) -> None:
        self.counters.xruns_playback += 1
        self._log.warning("audio_xrun", direction=PLAYBACK, kind=kind, count=self.counters.xruns_playback, **fields)

    def _reopen_playback(self, reason: str) -> None:
        self._close_pcm(self._playback)
        self._playback = None
        self._playback = self._open(PLAYBACK, self.playback_device, self.channels)
        self.counters.recoveries += 1
        self._log.warning("audio_reopened", direction=PLAYBACK, device=self.playback_device, reason=reason)
        self._prefill()

    def _prefill(self) -> None:
        """Silence ahead of the first frame, so playback does not underrun at once."""
        if not self._prefill_periods:
            return
        try:
            self._playback.write(bytes(self._frame_bytes * self._prefill_periods))
        except alsaaudio.ALSAAudioError as exc:
            raise DriverError(f"ALSA playback device {self.playback_device!r}: cannot start: {exc}") from exc

    # -- life cycle ----------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise DriverError("audio device is closed")

    def _close_pcm(self, pcm: Pcm | None) -> None:
        if pcm is None:
            return
        try:
            pcm.close()
        except alsaaudio.ALSAAudioError as exc:
            self._log.warning("audio_close_failed", error=str(exc))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_pcm(self._capture)
        self._close_pcm(self._playback)
        self._capture = self._playback = None
