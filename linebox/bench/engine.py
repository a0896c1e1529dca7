"""``linebox bench engine --ports N --json``: the media loop's per-tick processing time.

Scene: a board of N ports, half exchange lines (FXO) and half phones (FXS), every phone
in an outside call on a line, placed through the switch (``calls.py``) and bridged by the
mixer, the lines' echo cancelled (its output on the bridge). The detectors run where those
states need them, as on the box (``firmware/engine/detector_needs.py``): echo cancelling and
call progress (busy-tone disconnect supervision) on the lines, DTMF on the phones. Each port sends real recorded speech (Debian's asterisk-core-sounds,
a different offset per port; seeded noise if the package is missing) and every few
seconds a DTMF digit. The card reports nothing, so the measured time is the box's own
per-tick work: detectors, switch, players, mixer. Ticks run unpaced; each tick's time is
measured with ``perf_counter`` as the engine does (``tick_*_ms``) and the process CPU time
is reported too. ``deadline_misses`` counts ticks over the 20 ms budget. ``tick_cpu_*_ms`` is
each tick's CPU time (``thread_time``): on a box shared with other work the wall-clock
figures include the time the loop waited for a core, the CPU figures do not.

``--echo``: the lines' far parties are silent and each line returns the echo of what the box
sends it, through one of ITU-T G.168 Annex D's echo paths (model ``line % 8 + 1`` at ERL 6 dB,
``linebox/bench/echo_g168.py``) plus line noise at -65 dBm0, so the echo cancellers converge
(from the first seconds of speech) and then stay converged; without it the lines carry talkers
and no echo and the cancellers never settle. The echo is made in the scene's audio device
(one batched FFT convolution per tick, counted in the tick's time like the rest).
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

import numpy as np

from drivers.audio import TICK_SAMPLES, XrunCounters
from drivers.audiofile import read_audio
from dsp.dtmfgen import generate_dtmf
from dsp.levels import dbm0_to_rms
from firmware.engine.loop import MediaLoop
from linebox import LineboxError
from linebox.bench.calls import connect_calls, scene_config
from linebox.bench.manager_load import ManagerLoad
from linebox.bench.timing import print_json
from linebox.engine_builder import build_engine

SPEECH_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
SPEECH_SECONDS = 60
ORIGIN = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)  # the wall time of tick 0 (a Monday morning)
ECHO_ERL_DB = 6.0  # --echo: the lines' echo return loss (G.168's worst case it holds a canceller to)


class SceneAudio:
    """An AudioDevice that plays the scene: speech with a DTMF digit now and then per port."""

    def __init__(self, ports: int, seed: int) -> None:
        self.ports = ports
        self.counters = XrunCounters()
        rng = np.random.default_rng(seed)
        speech = speech_samples(SPEECH_SECONDS, rng)
        digit = np.zeros(8000 * 3)
        tone = generate_dtmf("5")
        digit[: len(tone)] = tone
        digits = np.tile(digit, len(speech) // len(digit) + 1)[: len(speech)]
        self._audio = np.clip(speech + digits, -32768, 32767).astype(np.int16)
        self._offsets = rng.integers(0, len(self._audio) - TICK_SAMPLES, size=ports)
        self._tick = 0

    def read_frame(self) -> np.ndarray:
        length = len(self._audio) - TICK_SAMPLES
        index = (self._offsets + self._tick * TICK_SAMPLES) % length
        self._tick += 1
        return self._audio[index[:, None] + np.arange(TICK_SAMPLES)]

    def write_frame(self, frame: np.ndarray) -> None:
        return None

    def close(self) -> None:
        return None


class EchoingLines(SceneAudio):
    """SceneAudio whose lines (even ports) return the echo of what was written to them last
    tick (the engine's far-end reference for this tick) plus line noise, and nothing else."""

    def __init__(self, ports: int, seed: int) -> None:
        # (Imported here: linebox/bench/echobridge.py, which echo_g168 imports, imports this module.)
        from linebox.bench.echo_g168 import BULK_DELAY_MS, LINE_NOISE_DBM0, g168_echo_path

        super().__init__(ports, seed)
        self._lines = np.arange(0, ports, 2)
        paths = [g168_echo_path(line % 8 + 1, ECHO_ERL_DB, BULK_DELAY_MS) for line in range(len(self._lines))]
        self._reach = max(len(path) for path in paths) - 1  # samples of history a path reaches back
        self._size = 1 << (self._reach + TICK_SAMPLES - 1).bit_length()  # linear convolution fits
        self._paths = np.fft.rfft(np.array([np.r_[path, np.zeros(self._size - len(path))] for path in paths]))
        self._sent = np.zeros((len(self._lines), self._size))  # what the lines were sent, newest last
        rng = np.random.default_rng(seed + 1)
        self._noise = rng.normal(0.0, dbm0_to_rms(LINE_NOISE_DBM0), (len(self._lines), 50 * TICK_SAMPLES))
        self._echo = np.zeros((len(self._lines), TICK_SAMPLES))

    def read_frame(self) -> np.ndarray:
        frame = super().read_frame()
        at = (self._tick - 1) % 50 * TICK_SAMPLES
        near = self._echo + self._noise[:, at : at + TICK_SAMPLES]
        frame[self._lines] = np.clip(np.round(near), -32768, 32767)
        return frame

    def write_frame(self, frame: np.ndarray) -> None:
        sent = self._sent
        sent[:, :-TICK_SAMPLES] = sent[:, TICK_SAMPLES:]
        sent[:, -TICK_SAMPLES:] = frame[self._lines]
        # The last TICK_SAMPLES outputs of the circular convolution are linear (size >= reach + tick).
        self._echo = np.fft.irfft(np.fft.rfft(sent) * self._paths, n=self._size)[:, -TICK_SAMPLES:]


class QuietCard:
    """A line card with nothing to report (the scene is all calls in progress)."""

    def poll(self) -> list:
        return []

    def wait_acked(self, timeout_s: float) -> bool:
        return True

    def ring(self, port: int, cadence_ms=None) -> None: ...
    def stop_ring(self, port: int) -> None: ...
    def seize(self, port: int) -> None: ...
    def release(self, port: int) -> None: ...
    def pulse_dial(self, port: int, digits: str) -> None: ...


def speech_samples(seconds: int, rng: np.random.Generator) -> np.ndarray:
    paths = sorted(SPEECH_DIR.glob("*.wav"))
    if not paths:
        return rng.normal(0.0, 2000.0, size=8000 * seconds)
    chunks, total = [], 0
    for index in rng.permutation(len(paths)):
        samples = read_audio(paths[index]).astype(np.float64)
        chunks.append(samples)
        total += len(samples)
        if total >= 8000 * seconds:
            break
    return np.concatenate(chunks)[: 8000 * seconds]


def build_scene(ports: int, seed: int, echo: bool = False) -> MediaLoop:
    """The engine (``linebox.engine_builder``) over the scene's audio, every phone bridged to a
    line (``echo``: the lines return echo, see the module docstring)."""
    port_is_fxs = [index % 2 == 1 for index in range(ports)]
    pairs = [(line, line + 1) for line in range(0, ports - 1, 2)]
    audio = EchoingLines(ports, seed) if echo else SceneAudio(ports, seed)
    engine = build_engine(scene_config(pairs), port_is_fxs, audio, QuietCard(), ORIGIN)
    connect_calls(engine, pairs)
    return engine.loop


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("engine", help="per-tick time of the media loop with every port in a call")
    parser.add_argument("--ports", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=30.0, help="audio seconds to run (default 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON object (the default output)")
    parser.add_argument("--echo", action="store_true",
                        help="the lines return G.168 echo of what they are sent (their cancellers converge)")
    parser.add_argument("--manager-clients", type=int, default=0,
                        help="manager (AMI) clients that log in and never read (linebox/bench/manager_load.py)")
    parser.add_argument("--manager-events-per-tick", type=int, default=5, help="events published to them a tick")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.ports < 2 or args.seconds <= 0:
        raise LineboxError("--ports must be at least 2 and --seconds positive")
    loop = build_scene(args.ports, args.seed, args.echo)
    load = ManagerLoad(loop, args.ports, args.manager_clients, args.manager_events_per_tick) \
        if args.manager_clients > 0 else None
    loop.run_ticks(50)  # warm-up: caches, first allocations
    loop.stats = type(loop.stats)()
    ticks = int(args.seconds * 1000 / 20)
    tick_cpu_ms = np.empty(ticks)
    started = time.process_time()
    for index in range(ticks):
        before = time.thread_time()
        if load is not None:
            load.publish()  # on the loop's thread, as the observers do: counted in the tick
        loop.step()
        tick_cpu_ms[index] = (time.thread_time() - before) * 1000.0
    cpu = time.process_time() - started
    manager = load.close() if load is not None else {}
    summary = loop.stats.summary()
    cpu_p50, cpu_p99 = np.percentile(tick_cpu_ms, [50.0, 99.0])
    print_json({
        "calls_up": len(loop.switch.calls),  # all ports//2 unless a detector took speech for a disconnect
        "ports": args.ports,
        "echo": args.echo,
        "ticks": summary.ticks,
        "tick_p50_ms": round(summary.tick_p50_ms, 3),
        "tick_p99_ms": round(summary.tick_p99_ms, 3),
        "tick_max_ms": round(summary.tick_max_ms, 3),
        "deadline_misses": summary.deadline_misses,
        "tick_cpu_p50_ms": round(float(cpu_p50), 3),
        "tick_cpu_p99_ms": round(float(cpu_p99), 3),
        "cpu_seconds": round(cpu, 3),
        "audio_seconds": ticks * 0.02,
        **manager,
    })
    return 0
