"""``linebox bench echo-bridge --json``: the echo a phone bridged to an exchange line hears, with
the line's echo canceller on and off.

Scene: the engine as the box builds it (``linebox.engine_builder``) on a board of ``2 x 8``
ports: lines 0-7 (FXO), each in an outside call (``calls.py``) bridged by the mixer to a phone on ports 8-15 (FXS). Each phone's
user talks (Debian's recorded speech, a different offset per phone; seeded noise bursts if the
package is missing); what the box sends to a line comes back from it through one of the eight
echo path models of ITU-T G.168 Annex D (clauses D.2-D.9, ``data/g168_echo_paths.json``) at an
echo return loss of ``--erl-db`` (default 6 dB, a poorly matched hybrid), after a bulk delay,
with line noise at -65 dBm0 (:class:`EchoLineAudio`). The far party on the line is silent, so
what a phone hears is its own echo only.

``talker_echo_loss_db`` is what G.131 calls the talker echo loss as the phone's user meets
it: the power of what the phone sent over the power of what it heard back, over the run after
``CONVERGE_S`` (the canceller's convergence). It is measured twice on the same audio: every
line with ``echo_canceller: true``, then with ``false`` (the raw line on the bridge).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from drivers.audio import TICK_SAMPLES, XrunCounters
from dsp import SAMPLE_RATE
from dsp.levels import dbm0_to_rms
from linebox import LineboxError
from linebox.bench.calls import connect_calls, scene_config
from linebox.bench.engine import ORIGIN, QuietCard, speech_samples
from linebox.bench.timing import print_json
from linebox.engine_builder import Engine, build_engine

MODELS = 8  # G.168 Annex D echo path models 1-8
CONVERGE_S = 2.0  # measured from here on: G.168 expects convergence within about 1 s of far speech
LINE_NOISE_DBM0 = -65.0
BULK_DELAY_MS = 5.0  # line and codec path before the hybrid's response


def g168_echo_path(model: int, erl_db: float, delay_ms: float = BULK_DELAY_MS) -> np.ndarray:
    """Impulse response of G.168 Annex D model ``model`` (1-8) for an echo return loss of
    ``erl_db``, after ``delay_ms`` of bulk delay (h = 10^(-ERL/20) K r, on the 16-bit scale)."""
    data = json.loads(resources.files("linebox.bench").joinpath("data/g168_echo_paths.json").read_text())
    entry = data["models"].get(str(model))
    if entry is None:
        raise LineboxError(f"G.168 echo path model {model} does not exist (1-{MODELS})")
    response = 10.0 ** (-erl_db / 20.0) * entry["K"] * np.asarray(entry["r"], dtype=np.float64)
    return np.r_[np.zeros(round(delay_ms * SAMPLE_RATE / 1000.0)), response]


class EchoLineAudio:
    """An ``AudioDevice``: phones that talk, lines that return the box's audio through echo paths.

    ``talk[i]`` is what phone ``phones[i]`` sends (16-bit scale, played once, then silence);
    line ``lines[i]`` returns what the box wrote to it through ``paths[i]``, from the next tick
    on, plus seeded line noise. ``raw_echo`` and ``heard`` keep, per line and per phone, what
    each line sent to the box and what each phone was sent by it.
    """

    def __init__(self, ports: int, lines: list[int], phones: list[int], talk: list[np.ndarray],
                 paths: list[np.ndarray], seed: int) -> None:
        self.ports = ports
        self.counters = XrunCounters()
        self.lines, self.phones, self.talk, self.paths = lines, phones, talk, paths
        self._noise = np.random.default_rng(seed)
        self._history = [np.zeros(len(path) - 1) for path in paths]  # the last samples sent to each line
        self._echo = np.zeros((len(lines), TICK_SAMPLES))
        self._tick = 0
        self.raw_echo: list[np.ndarray] = []
        self.heard: list[np.ndarray] = []

    def read_frame(self) -> np.ndarray:
        frame = np.zeros((self.ports, TICK_SAMPLES))
        at = self._tick * TICK_SAMPLES
        for index, port in enumerate(self.phones):
            chunk = self.talk[index][at : at + TICK_SAMPLES]
            frame[port, : len(chunk)] = chunk
        noise = self._noise.normal(0.0, dbm0_to_rms(LINE_NOISE_DBM0), (len(self.lines), TICK_SAMPLES))
        frame[self.lines] = self._echo + noise
        self._tick += 1
        pcm = np.clip(np.rint(frame), -32768, 32767).astype(np.int16)
        self.raw_echo.append(pcm[self.lines].copy())
        return pcm

    def write_frame(self, frame: np.ndarray) -> None:
        self.heard.append(frame[self.phones].copy())
        for index, port in enumerate(self.lines):
            history = np.concatenate([self._history[index], frame[port].astype(np.float64)])
            self._echo[index] = np.convolve(history, self.paths[index], mode="valid")
            self._history[index] = history[TICK_SAMPLES:]

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class BridgeScene:
    engine: Engine
    audio: EchoLineAudio


def bridge_scene(paths: list[np.ndarray], talk: list[np.ndarray], echo_canceller: bool, seed: int) -> BridgeScene:
    """Lines 0..n-1 bridged to phones n..2n-1, line i with echo path ``paths[i]`` (module docstring)."""
    n = len(paths)
    lines, phones = list(range(n)), list(range(n, 2 * n))
    pairs = list(zip(lines, phones, strict=True))
    audio = EchoLineAudio(2 * n, lines, phones, talk, paths, seed)
    engine = build_engine(scene_config(pairs, echo_canceller), [False] * n + [True] * n, audio, QuietCard(), ORIGIN)
    connect_calls(engine, pairs)  # the canceller runs on lines in a call (detector_needs.py)
    return BridgeScene(engine, audio)


def talker_echo_loss_db(scene: BridgeScene, from_s: float) -> np.ndarray:
    """Per phone: power sent over power heard back, from ``from_s`` to the end (dB)."""
    first = int(from_s * SAMPLE_RATE / TICK_SAMPLES)
    heard = np.concatenate(scene.audio.heard[first:], axis=1).astype(np.float64)
    count = heard.shape[1]
    sent = np.stack([talk[first * TICK_SAMPLES : first * TICK_SAMPLES + count] for talk in scene.audio.talk])
    return 10.0 * np.log10(np.sum(sent**2, axis=1) / np.maximum(np.sum(heard**2, axis=1), 1e-9))


def talkers(count: int, seconds: float, seed: int) -> list[np.ndarray]:
    """``count`` different stretches of speech, ``seconds`` long (16-bit scale)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    speech = speech_samples(max(60, int(seconds) * 2), rng)
    offsets = rng.integers(0, len(speech) - n, size=count)
    return [speech[offset : offset + n] for offset in offsets]


def measure(erl_db: float, seconds: float, seed: int) -> dict:
    paths = [g168_echo_path(model, erl_db) for model in range(1, MODELS + 1)]
    talk = talkers(MODELS, seconds, seed)
    losses = {}
    for on in (True, False):
        scene = bridge_scene(paths, talk, on, seed)
        scene.engine.loop.run_ticks(int(seconds * SAMPLE_RATE / TICK_SAMPLES))
        losses[on] = talker_echo_loss_db(scene, CONVERGE_S)
    return {
        "echo_paths": "ITU-T G.168 Annex D models 1-8",
        "erl_db": erl_db,
        "bulk_delay_ms": BULK_DELAY_MS,
        "audio_seconds": seconds,
        "measured_from_s": CONVERGE_S,
        "talker_echo_loss_on_db": [round(float(value), 1) for value in losses[True]],
        "talker_echo_loss_off_db": [round(float(value), 1) for value in losses[False]],
        "talker_echo_loss_on_min_db": round(float(losses[True].min()), 1),
        "talker_echo_loss_off_max_db": round(float(losses[False].max()), 1),
        "canceller_gain_min_db": round(float((losses[True] - losses[False]).min()), 1),
    }


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("echo-bridge", help="echo a bridged phone hears, line echo canceller on vs off")
    parser.add_argument("--erl-db", type=float, default=6.0, help="echo return loss of the hybrids (default 6)")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio seconds per run (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON object (the default output)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not 0.0 <= args.erl_db <= 40.0 or not CONVERGE_S + 1.0 <= args.seconds <= 600.0:
        raise LineboxError(f"bench echo-bridge: --erl-db must be 0-40 and --seconds {CONVERGE_S + 1.0:g}-600")
    print_json(measure(args.erl_db, args.seconds, args.seed))
    return 0
