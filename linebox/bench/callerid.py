"""``linebox bench callerid``: FSK caller ID receiver throughput, in real-time lines per core.

Every line gets line noise (-60 dBm0) and, at a random time, one Bell 202 or V.23 caller ID
burst (MDMF with number, name and date) at a random level from -6 to -30 dBm0, fed to one
``CallerIdReceiver`` per standard in 20 ms blocks (160 samples) as the engine's media loop
does on its FXO ports, plus the CAS/DT-AS ``AlertToneDetector``. CPU time is process time;
the result is ``lines × audio seconds / CPU seconds`` for each receiver, and how many of the
bursts were decoded.
"""

from __future__ import annotations

import argparse

import numpy as np

from dsp import SAMPLE_RATE
from dsp.callerid import CallerId, encode_mdmf
from dsp.callerid_alert import AlertToneDetector
from dsp.callerid_fsk import CallerIdReceiver, fsk_burst
from dsp.levels import dbm0_to_rms
from linebox.bench.timing import cpu_seconds, run_channel_bench

TICK_SAMPLES = 160  # the engine's 20 ms tick
STANDARDS = ("bell202", "v23")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("callerid", help="FSK caller ID receiver: real-time lines per CPU core")
    parser.add_argument("--channels", type=int, default=16, help="lines in the batch (default 16)")
    parser.add_argument("--seconds", type=float, default=10.0, help="audio seconds per line (default 10)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object (the only output)")
    parser.set_defaults(handler=run)


def make_audio(channels: int, seconds: float, seed: int) -> tuple[np.ndarray, list[str]]:
    """(channels, samples) of line audio, whole ticks, and the standard of each line's burst."""
    rng = np.random.default_rng(seed)
    n = max(1, int(seconds * SAMPLE_RATE) // TICK_SAMPLES) * TICK_SAMPLES
    audio = rng.normal(0.0, dbm0_to_rms(-60.0), (channels, n))
    standards = []
    for ch in range(channels):
        standard = STANDARDS[ch % 2]
        caller = CallerId(number=f"{rng.integers(10**9, 10**10)}", name="BENCH MARK", datetime="06151230")
        burst = fsk_burst(encode_mdmf(caller), standard, level_dbm0=float(rng.uniform(-30.0, -6.0)))
        if burst.size < n:
            at = int(rng.integers(0, n - burst.size))
            audio[ch, at : at + burst.size] += burst
            standards.append(standard)
        else:
            standards.append("")
    return audio, standards


def measure(channels: int, seconds: float, seed: int = 1) -> dict:
    audio, standards = make_audio(channels, seconds, seed)
    audio_seconds = audio.shape[1] / SAMPLE_RATE
    result: dict = {"detector": "callerid", "channels": channels, "audio_seconds": audio_seconds}
    for standard in STANDARDS:
        receiver = CallerIdReceiver(channels, standard)
        found: list = []

        def work(receiver: CallerIdReceiver = receiver, found: list = found) -> None:
            for at in range(0, audio.shape[1], TICK_SAMPLES):
                found.extend(receiver.process(audio[:, at : at + TICK_SAMPLES]))

        cpu = cpu_seconds(work)
        decoded = sum(1 for r in found if r.message.ok and standards[r.channel] == standard)
        result[f"{standard}_cpu_seconds"] = round(cpu, 4)
        result[f"{standard}_realtime_lines_per_core"] = (
            round(channels * audio_seconds / cpu) if cpu > 0 else None
        )
        result[f"{standard}_decoded"] = f"{decoded}/{standards.count(standard)}"
    detector = AlertToneDetector(channels)

    def alerts() -> None:
        for at in range(0, audio.shape[1], TICK_SAMPLES):
            detector.process(audio[:, at : at + TICK_SAMPLES])

    cpu = cpu_seconds(alerts)
    result["alert_cpu_seconds"] = round(cpu, 4)
    result["alert_realtime_lines_per_core"] = round(channels * audio_seconds / cpu) if cpu > 0 else None
    return result


def run(args: argparse.Namespace) -> int:
    return run_channel_bench(args, measure)
