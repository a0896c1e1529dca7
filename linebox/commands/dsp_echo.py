"""``linebox dsp echo --far FAR.wav --line LINE.wav -o OUT.wav``: cancel a line's echo in a
recording pair.

``FAR`` is what the box sent to the line, ``LINE`` what came back from it (echo plus the far
party), sample-aligned as the box records them (the console's frame dump, the scenario
runner); any WAV the box reads, or ``--raw`` 8 kHz signed 16-bit little-endian. Runs
``dsp.echo.EchoCanceller`` (``--tail-ms`` 64 or 128, ``--no-nlp`` for the linear part only) in
20 ms ticks as the engine does and writes what a bridged party would hear, aligned with the
input (the canceller's latency removed), as 16-bit PCM. ``--json`` prints one JSON object:
per second of the recording, the line's level, the output's level and their difference (the
canceller's echo loss where only echo came back). Two files of different lengths are cut to
the shorter one. An unreadable file is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from drivers.audiofile import read_audio, write_wav
from dsp import SAMPLE_RATE, DspError
from dsp.echo import EchoCanceller
from dsp.levels import signal_dbm0

TICK = 160  # the engine's 20 ms tick
TAILS_MS = (64, 128)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("echo", help="cancel a line's echo in a recording pair (far end, line)")
    parser.add_argument("--far", required=True, help="what the box sent to the line (WAV)")
    parser.add_argument("--line", required=True, help="what came back from the line (WAV)")
    parser.add_argument("-o", "--output", required=True, help="the cleaned line (16-bit PCM WAV)")
    parser.add_argument("--tail-ms", type=int, choices=TAILS_MS, default=64, help="echo tail (default 64)")
    parser.add_argument("--no-nlp", action="store_true", help="linear canceller only (no NLP, no comfort noise)")
    parser.add_argument("--raw", action="store_true", help="headerless 8 kHz signed 16-bit little-endian input")
    parser.add_argument("--json", action="store_true", help="print the levels per second as one JSON object")
    parser.set_defaults(handler=run)


def cancel(far: np.ndarray, line: np.ndarray, tail_ms: float, nlp: bool) -> np.ndarray:
    """The cleaned line, aligned with the input, same length (1-D arrays on the 16-bit scale)."""
    n = min(len(far), len(line))
    if n == 0:
        raise DspError("echo: the recordings hold no samples")
    canceller = EchoCanceller(1, tail_ms=tail_ms, nlp=nlp)
    padded = -(-n // TICK) * TICK + canceller.latency_samples  # flush the latency with silence
    far_in = np.zeros((1, padded))
    line_in = np.zeros((1, padded))
    far_in[0, :n], line_in[0, :n] = far[:n], line[:n]
    out = np.concatenate(
        [canceller.process(far_in[:, i : i + TICK], line_in[:, i : i + TICK]) for i in range(0, padded, TICK)],
        axis=1,
    )
    lag = canceller.latency_samples
    return out[0, lag : lag + n]


def run(args: argparse.Namespace) -> int:
    far = read_audio(args.far, raw=args.raw).astype(np.float64)
    line = read_audio(args.line, raw=args.raw).astype(np.float64)
    clean = cancel(far, line, float(args.tail_ms), nlp=not args.no_nlp)
    write_wav(args.output, np.clip(np.round(clean), -32768, 32767).astype(np.int16))
    if args.json:
        seconds = []
        for start in range(0, len(clean), SAMPLE_RATE):
            span = slice(start, start + SAMPLE_RATE)
            line_dbm0 = float(signal_dbm0(line[span]))
            out_dbm0 = float(signal_dbm0(clean[span]))
            seconds.append(
                {
                    "second": start // SAMPLE_RATE,
                    "line_dbm0": round(max(line_dbm0, -200.0), 1),
                    "output_dbm0": round(max(out_dbm0, -200.0), 1),
                    "loss_db": round(max(line_dbm0, -200.0) - max(out_dbm0, -200.0), 1),
                }
            )
        print(json.dumps({"tail_ms": args.tail_ms, "nlp": not args.no_nlp, "seconds": seconds}))
    return 0
