"""``linebox bench amd``: answering-machine detection's CPU cost per 20 ms frame.

One ``AmdDetector`` per call, fed one 160-sample frame at a time as the engine's media loop
does after an outbound call is answered. The signal is a person's "hello" or a machine's
greeting and beep (the asterisk-core-sounds prompts when installed, else speech-shaped noise
bursts) with line noise, so both the voice/silence logic and the beep detector's FFT run on
every frame. The detector keeps being fed after its decision (the beep detector runs until
the message is left), so every frame costs the same work. CPU time is process time; the
least of ``--repeat`` runs counts. For each voice detector (``energy``, Asterisk's threshold;
``webrtc``, the WebRTC VAD): ``frame_us``, microseconds per frame; ``channels_per_core``,
calls one core could analyse at once in real time (20 ms / frame cost); ``results``, the
decisions. ``energy_bank``: the same calls as one ``AmdBank`` (one block of every call's
frame per tick, energy and beep DFT computed for all calls at once), cost per call-frame.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from drivers import DriverError
from drivers.audiofile import read_audio
from dsp import SAMPLE_RATE
from dsp.amd import FRAME_MS, FRAME_SAMPLES, VOICE_DETECTORS, AmdBank, AmdDetector, AmdSettings
from dsp.levels import dbm0_to_rms
from linebox import LineboxError
from linebox.bench.timing import cpu_seconds, print_json

PROMPTS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
CALLS = ("hello", "vm-intro", "vm-nobodyavail", "beep")
NOISE_DBM0 = -55.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("amd", help="answering-machine detection: CPU time per 20 ms frame")
    parser.add_argument("--calls", type=int, default=50, help="calls analysed (default 50)")
    parser.add_argument("--seconds", type=float, default=6.0, help="audio seconds per call (default 6)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs, the least CPU time counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the only output)")
    parser.set_defaults(handler=run)


def _signal(rng: np.random.Generator, seconds: float) -> np.ndarray:
    n = round(seconds * SAMPLE_RATE)
    pieces = []
    for name in CALLS:
        try:
            pieces.append(read_audio(PROMPTS / f"{name}.wav").astype(np.float64))
        except DriverError:
            pieces.append(rng.normal(0.0, 2000.0, SAMPLE_RATE) * np.hanning(SAMPLE_RATE))
        pieces.append(np.zeros(SAMPLE_RATE // 2))
    speech = np.concatenate(pieces)
    start = int(rng.integers(speech.size))
    speech = np.tile(np.roll(speech, -start), -(-n // speech.size))[:n]
    noisy = speech + rng.normal(0.0, dbm0_to_rms(NOISE_DBM0), n)
    frames = n // FRAME_SAMPLES
    return np.clip(np.round(noisy[: frames * FRAME_SAMPLES]), -32768, 32767).astype(np.int16)


def measure(calls: int, seconds: float, seed: int, repeat: int) -> dict:
    rng = np.random.default_rng(seed)
    signals = [_signal(rng, seconds).reshape(-1, FRAME_SAMPLES) for _ in range(calls)]
    frame_count = sum(len(frames) for frames in signals)
    report: dict = {"benchmark": "amd", "calls": calls, "frames": frame_count}
    costs, results = {}, {}
    for voice_detector in VOICE_DETECTORS:
        settings = AmdSettings(voice_detector=voice_detector)
        decided: list[str] = []

        def work(settings: AmdSettings = settings, decided: list[str] = decided) -> None:
            decided.clear()
            for frames in signals:
                detector = AmdDetector(settings)
                for frame in frames:
                    detector.feed(frame)
                decided.append(detector.result.result if detector.result else "none")

        best = min(cpu_seconds(work) for _ in range(repeat))
        costs[voice_detector] = best * 1e6 / frame_count
        results[voice_detector] = {name: decided.count(name) for name in sorted(set(decided))}
    # The same calls as one AmdBank, a block of every call's frame per tick (energy detector).
    ticks = min(len(frames) for frames in signals)
    blocks = np.stack([frames[:ticks] for frames in signals], axis=1)  # (ticks, calls, 160)

    def bank_work() -> None:
        bank = AmdBank(calls)
        for block in blocks:
            bank.process(block)

    costs["energy_bank"] = min(cpu_seconds(bank_work) for _ in range(repeat)) * 1e6 / (ticks * calls)
    report["frame_us"] = {name: round(us, 2) for name, us in costs.items()}
    report["channels_per_core"] = {name: round(FRAME_MS * 1000.0 / us, 1) for name, us in costs.items()}
    report["results"] = results
    return report


def run(args: argparse.Namespace) -> int:
    if args.calls < 1 or not args.seconds >= 0.1 or args.repeat < 1:
        raise LineboxError("bench amd: --calls and --repeat must be >= 1 and --seconds >= 0.1")
    result = measure(args.calls, args.seconds, args.seed, args.repeat)
    if args.json:
        print_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
