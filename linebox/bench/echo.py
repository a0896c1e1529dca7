"""``linebox bench echo``: line echo canceller throughput, in real-time channels per CPU core.

Every channel gets a far end of speech-like bursts (band-limited noise gated in syllable-
and word-length pieces at -20 dBm0), an echo of it through a hybrid (bulk delay 5-40 ms,
a few ms of decaying response, 6-12 dB echo return loss), line noise at -65 dBm0 and, now and
then, near-end talk; all channels run through one ``EchoCanceller`` (64 ms tail, NLP and
comfort noise on) in 20 ms ticks of 160 samples, as the engine's media loop does. CPU time is
process time, so the figure holds on a loaded box: ``channels x audio seconds / CPU seconds``.

``--g168`` adds the canceller's figures on the eight echo paths of ITU-T G.168 Annex D with
real speech (linebox/bench/echo_g168.py): linear ERLE per path and ERL at 1 s and 5 s of far
speech, re-convergence after a path change, double talk at five seeds, and the CPU time of one
20 ms tick at 8 and 64 channels.

``--reference oslec`` (or ``spandsp``) adds a ``reference`` object: OSLEC, the Linux kernel's
line echo canceller (linebox/bench/oslec_echo.py), or spandsp's (Debian's libspandsp2,
linebox/bench/spandsp_echo.py), and ours side by side on the same G.168 scenarios
(linebox/bench/echo_vs_reference.py), the reference's cost per sample, and (without
``--json``) a table. It takes minutes (the reference is called once per sample from Python);
without the reference the object says why and the rest of the run is unchanged.
"""

from __future__ import annotations

import argparse

import numpy as np

from dsp import SAMPLE_RATE
from dsp.echo import EchoCanceller
from dsp.levels import dbm0_to_rms
from linebox.bench.timing import cpu_seconds, run_channel_bench

TICK_SAMPLES = 160  # the engine's 20 ms tick
TAIL_MS = 64.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("echo", help="line echo canceller: real-time channels per CPU core")
    parser.add_argument("--channels", type=int, default=32, help="channels in the batch (default 32)")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio seconds per channel (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the only output)")
    parser.add_argument(
        "--g168", action="store_true", help="add ERLE, double talk and per-tick cost on G.168 Annex D paths"
    )
    parser.add_argument(
        "--reference",
        choices=["oslec", "spandsp"],
        help="add the same G.168 figures for OSLEC's or spandsp's canceller beside ours (minutes; docs/dsp.md)",
    )
    parser.set_defaults(handler=run)


def _talk(rng: np.random.Generator, n: int, level_dbm0: float) -> np.ndarray:
    """Speech-like bursts: 300-3400 Hz noise gated on and off in 100-800 ms pieces."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spectrum *= ((f > 300.0) & (f < 3400.0)) / np.maximum(f / 500.0, 1.0)
    noise = np.fft.irfft(spectrum, n)
    gate = np.zeros(n)
    at = 0
    while at < n:
        length = int(rng.integers(800, 6400))
        gate[at : at + length] = rng.random() < 0.6
        at += length
    return noise / noise.std() * dbm0_to_rms(level_dbm0) * gate


def _hybrid(rng: np.random.Generator) -> np.ndarray:
    delay = int(rng.integers(5, 41)) * SAMPLE_RATE // 1000
    n = np.arange(int(rng.integers(16, 64)))
    response = np.exp(-n / (len(n) / 4.0)) * np.cos(2 * np.pi * rng.uniform(300.0, 3000.0) * n / SAMPLE_RATE)
    response[0] += 1.0
    response *= 10.0 ** (-rng.uniform(6.0, 12.0) / 20.0) / np.sqrt(np.sum(response**2))
    return np.r_[np.zeros(delay), response]


def make_audio(channels: int, seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(far, near) int16 arrays shaped (channels, samples), whole 20 ms ticks."""
    rng = np.random.default_rng(seed)
    n = max(1, int(seconds * SAMPLE_RATE) // TICK_SAMPLES) * TICK_SAMPLES
    far = np.empty((channels, n))
    near = np.empty((channels, n))
    for ch in range(channels):
        far[ch] = _talk(rng, n, -20.0)
        echo = np.convolve(far[ch], _hybrid(rng))[:n]
        near[ch] = echo + 0.3 * _talk(rng, n, -20.0) + rng.normal(0.0, dbm0_to_rms(-65.0), n)
    return _pcm(far), _pcm(near)


def _pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def measure(channels: int, seconds: float, seed: int = 1) -> dict:
    far, near = make_audio(channels, seconds, seed)
    canceller = EchoCanceller(channels, tail_ms=TAIL_MS, rng=np.random.default_rng(seed))

    def work() -> None:
        for at in range(0, far.shape[1], TICK_SAMPLES):
            canceller.process(far[:, at : at + TICK_SAMPLES], near[:, at : at + TICK_SAMPLES])

    cpu = cpu_seconds(work)
    audio_seconds = far.shape[1] / SAMPLE_RATE
    return {
        "canceller": "echo",
        "channels": channels,
        "tail_ms": TAIL_MS,
        "audio_seconds": audio_seconds,
        "cpu_seconds": round(cpu, 4),
        "realtime_channels_per_core": round(channels * audio_seconds / cpu, 1) if cpu > 0 else None,
    }


def run(args: argparse.Namespace) -> int:
    def measure_all(channels: int, seconds: float, seed: int) -> dict:
        result = measure(channels, seconds, seed)
        if args.g168:
            from linebox.bench.echo_g168 import report  # reads the speech corpus: only when asked

            result["g168"] = report(seed)
        if args.reference:
            from linebox.bench.echo_vs_reference import reference

            result["reference"] = reference(args.reference, seed)
        return result

    if not args.reference or args.json:
        return run_channel_bench(args, measure_all)
    tables: list[str] = []

    def measure_then_table(channels: int, seconds: float, seed: int) -> dict:
        result = measure_all(channels, seconds, seed)
        tables.append(table(result.pop("reference")))
        return result

    from linebox.bench.echo_vs_reference import table

    code = run_channel_bench(args, measure_then_table)
    print(tables[0])
    return code
