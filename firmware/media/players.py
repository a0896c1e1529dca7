"""What the box itself plays to each port: tones, and sample buffers (prompts, caller ID
audio, DTMF for dialling out).

One player per port: player ``p`` is heard by port ``p`` only (the engine wires it in the
mixer). A port plays either a tone from its zone's plan (``dsp.tonegen``, all ports rendered
together) or a buffer of samples, which ends by itself or, with ``loop=True`` (music on
hold), starts again from its beginning. ``render()`` is called once per tick and returns
``(ports, 160)`` for the mixer.
"""

from __future__ import annotations

import numpy as np

from dsp.tonegen import ToneGenerator
from dsp.toneplans import ToneSpec
from firmware import FirmwareError


class PlayerBank:
    def __init__(self, n_ports: int) -> None:
        self.n_ports = n_ports
        self._tones = ToneGenerator(n_ports)
        self._buffers: dict[int, tuple[np.ndarray, int, bool]] = {}  # port -> (samples, position, loop)
        self._tone_names: list[str | None] = [None] * n_ports

    def play_tone(self, port: int, spec: ToneSpec) -> None:
        self._buffers.pop(port, None)
        self._tones.play(port, spec)
        self._tone_names[port] = spec.name

    def play_samples(self, port: int, samples: np.ndarray, loop: bool = False) -> None:
        """Plays ``samples`` (16-bit scale) once (``loop``: over and over), replacing what the port played.

        A float64 array is used as is, not copied: one music-on-hold buffer serves every port.
        """
        self._stop_tone(port)
        samples = np.asarray(samples, dtype=np.float64)
        if loop and (samples.ndim != 1 or samples.size == 0):
            raise FirmwareError(f"port {port}: samples to loop must be 1-D and not empty, got shape {samples.shape}")
        self._buffers[port] = (samples, 0, loop)

    def stop(self, port: int) -> None:
        self._stop_tone(port)
        self._buffers.pop(port, None)

    def _stop_tone(self, port: int) -> None:
        if self._tone_names[port] is not None:
            self._tones.stop(port)
            self._tone_names[port] = None

    def tone(self, port: int) -> str | None:
        """The name of the tone ``port`` is hearing from the box, if any."""
        return self._tone_names[port]

    def busy(self, port: int) -> bool:
        """True while a buffer is still playing to ``port``."""
        return port in self._buffers

    def render(self, n_samples: int) -> np.ndarray:
        out = self._tones.process(n_samples)
        for port, (samples, position, loop) in list(self._buffers.items()):
            if loop:
                indices = (position + np.arange(n_samples)) % len(samples)
                out[port] = samples[indices]
                self._buffers[port] = (samples, (position + n_samples) % len(samples), True)
                continue
            chunk = samples[position : position + n_samples]
            out[port, : len(chunk)] = chunk
            if position + n_samples >= len(samples):
                del self._buffers[port]
            else:
                self._buffers[port] = (samples, position + n_samples, False)
        return out
