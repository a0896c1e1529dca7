"""``linebox bench dtmf``: DTMF receiver throughput, in real-time channels per CPU core.

Every channel gets its own mix of DTMF bursts (1-5 random digits at random levels and
timings, every 2-8 s, as an IVR caller keys them), speech prompts (the asterisk-core-sounds corpus when installed, else speech-shaped noise bursts)
and line noise, fed to one ``DtmfDetector`` in 20 ms blocks (160 samples), as the engine's
media loop does. CPU time is process time, so it holds on a loaded box; the result is
``channels × audio seconds / CPU seconds``. Both receivers run ``--repeat`` times, taking
turns, and each one's least CPU time counts (other work on the box only ever adds to it).
The cost per tick has a fixed part (the call into the compiled kernel, whatever the channel count)
and a part per channel: the channels one core carries in real time are measured at a
large channel count (``--channels 4096``), the cost of a small box at its own (8-64).

The same audio goes through spandsp's ``dtmf_rx`` (``spandsp_ref``, Debian's libspandsp2),
each channel's signal in one call per 10 s so none of Python's call overhead is counted
against it; ``vs_spandsp`` is our channels per core over spandsp's (goal: at least 1).
Both receivers' digit counts are printed beside, as a check that both did the work.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from drivers import DriverError
from drivers.audiofile import read_audio
from dsp import SAMPLE_RATE
from dsp.dtmf import DtmfDetector, DtmfDigit
from dsp.dtmfgen import DIGITS, generate_dtmf
from dsp.levels import dbm0_to_rms
from linebox import LineboxError
from linebox.bench.spandsp_ref import SpandspDtmf, SpandspMissing, load
from linebox.bench.timing import cpu_seconds, run_channel_bench

TICK_SAMPLES = 160  # the engine's 20 ms tick
SPEECH_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
SPEECH_FILES = 40
DISTINCT_SIGNALS = 16  # channels share these, each at its own time offset
SPANDSP_CHUNK_SAMPLES = 10 * SAMPLE_RATE  # spandsp buffers at most 128 digits between reads
BURST_EVERY_S = (2, 8)  # an IVR caller: a burst of 1-5 digits every 2-8 s, talking in between


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dtmf", help="DTMF receiver: real-time channels per CPU core")
    parser.add_argument("--channels", type=int, default=256, help="channels in the batch (default 256)")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio seconds per channel (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each receiver, the least CPU counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the only output)")
    parser.set_defaults(handler=run)


def _speech(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` samples of speech: prompts end to end, or shaped noise bursts without the corpus."""
    paths = sorted(SPEECH_DIR.glob("*.wav"))[:SPEECH_FILES]
    pieces: list[np.ndarray] = []
    total = 0
    while paths and total < n:
        try:
            piece = read_audio(paths[int(rng.integers(len(paths)))]).astype(np.float64)
        except DriverError:
            paths = []
            break
        pieces.append(piece)
        total += piece.size
    if pieces:
        return np.concatenate(pieces)[:n]
    # Fallback: 1/f-ish noise in 200 ms bursts at a talker's level.
    noise = np.cumsum(rng.normal(0.0, 1.0, n)) * 0.05 + rng.normal(0.0, 1.0, n)
    noise -= np.convolve(noise, np.ones(64) / 64, mode="same")
    gate = np.repeat(rng.random(n // 1600 + 1) < 0.6, 1600)[:n]
    return noise / noise.std() * dbm0_to_rms(-18.0) * gate


def _signal(rng: np.random.Generator, n: int) -> np.ndarray:
    """One channel: speech, noise at -50 dBm0, and DTMF bursts in between."""
    x = _speech(rng, n) * 0.5 + rng.normal(0.0, dbm0_to_rms(-50.0), n)
    at = int(rng.integers(0, BURST_EVERY_S[1] * SAMPLE_RATE))
    while at < n:
        digits = "".join(rng.choice(list(DIGITS), size=int(rng.integers(1, 6))))
        burst = generate_dtmf(
            digits,
            level_dbm0=float(rng.uniform(-25.0, -5.0)),
            on_ms=float(rng.uniform(45.0, 120.0)),
            off_ms=float(rng.uniform(45.0, 120.0)),
        )
        x[at : at + burst.size] += burst[: n - at]
        at += burst.size + int(rng.integers(BURST_EVERY_S[0] * SAMPLE_RATE, BURST_EVERY_S[1] * SAMPLE_RATE))
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def make_audio(channels: int, seconds: float, seed: int) -> np.ndarray:
    """(channels, samples) int16 of realistic line audio, whole 20 ms ticks."""
    rng = np.random.default_rng(seed)
    n = max(1, int(seconds * SAMPLE_RATE) // TICK_SAMPLES) * TICK_SAMPLES
    signals = [_signal(rng, n) for _ in range(min(channels, DISTINCT_SIGNALS))]
    audio = np.empty((channels, n), dtype=np.int16)
    for ch in range(channels):
        audio[ch] = np.roll(signals[ch % len(signals)], int(rng.integers(n)))
    return audio


def _spandsp(audio: np.ndarray) -> dict:
    """spandsp's receiver on the same audio: CPU seconds and digits heard, or why not."""
    try:
        lib = load()
    except SpandspMissing as exc:
        return {"spandsp_error": str(exc)}
    channels = audio.shape[0]
    receiver = SpandspDtmf(lib, channels)
    heard = [0]

    def work() -> None:
        for channel in range(channels):
            row = audio[channel]
            for at in range(0, row.size, SPANDSP_CHUNK_SAMPLES):
                receiver.feed(channel, row[at : at + SPANDSP_CHUNK_SAMPLES])
                heard[0] += len(receiver.digits(channel))

    cpu = cpu_seconds(work)
    receiver.close()
    return {"spandsp_cpu_seconds": round(cpu, 4), "spandsp_digits": heard[0]}


def _ours(audio: np.ndarray) -> tuple[float, int]:
    """Our receiver on the audio, in 20 ms ticks: CPU seconds and digits heard."""
    # One array per tick, as the audio driver hands the media loop a fresh (ports, 160) block.
    ticks = [
        np.ascontiguousarray(audio[:, at : at + TICK_SAMPLES])
        for at in range(0, audio.shape[1], TICK_SAMPLES)
    ]
    detector = DtmfDetector(audio.shape[0])
    heard = [0]

    def work() -> None:
        process = detector.process
        for block in ticks:
            events = process(block)
            if events:  # most ticks have none: the count costs nothing then (a generator would)
                heard[0] += sum(1 for event in events if isinstance(event, DtmfDigit))
        heard[0] += len(detector.finish())

    return cpu_seconds(work), heard[0]


def measure(channels: int, seconds: float, seed: int = 1, repeat: int = 1) -> dict:
    audio = make_audio(channels, seconds, seed)
    audio_seconds = audio.shape[1] / SAMPLE_RATE
    ticks = audio.shape[1] // TICK_SAMPLES
    cpu, digits, reference = float("inf"), 0, {}
    for _ in range(repeat):
        run_cpu, digits = _ours(audio)
        cpu = min(cpu, run_cpu)
        run_reference = _spandsp(audio)
        if "spandsp_error" in run_reference or run_reference["spandsp_cpu_seconds"] < reference.get(
            "spandsp_cpu_seconds", float("inf")
        ):
            reference = run_reference
    result = {
        "detector": "dtmf",
        "channels": channels,
        "audio_seconds": audio_seconds,
        "cpu_seconds": round(cpu, 4),
        "cpu_us_per_tick": round(cpu / ticks * 1e6, 1),
        "realtime_channels_per_core": round(channels * audio_seconds / cpu) if cpu > 0 else None,
        "digits": digits,
    }
    result.update(reference)
    spandsp_cpu = reference.get("spandsp_cpu_seconds")
    if spandsp_cpu:
        result["spandsp_cpu_us_per_tick"] = round(spandsp_cpu / ticks * 1e6, 1)
        result["spandsp_realtime_channels_per_core"] = round(channels * audio_seconds / spandsp_cpu)
        result["vs_spandsp"] = round(spandsp_cpu / cpu, 3) if cpu > 0 else None
    return result


def run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise LineboxError("bench dtmf: --repeat must be >= 1")
    return run_channel_bench(
        args, lambda channels, seconds, seed: measure(channels, seconds, seed, args.repeat)
    )
