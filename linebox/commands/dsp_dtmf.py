"""``linebox dsp dtmf [--raw] FILE``: the DTMF digits in a recording, by the box's own receiver.

FILE is a WAV file (16-bit PCM or G.711 µ-law/A-law; other rates are resampled to 8 kHz,
stereo is mixed down) or, with ``--raw``, headerless 8 kHz signed 16-bit little-endian mono.
Prints one JSON object per digit, one per line, in time order, and nothing else::

    {"digit": "5", "start_ms": 120.0, "end_ms": 171.125}

(start and end of the tone as measured by ``dsp.dtmf.DtmfDetector``, to about ±4 ms).
Exit status 0, also when there is no digit; unreadable input: one line on stderr and 2.
"""

from __future__ import annotations

import argparse
import json

from drivers.audiofile import read_audio
from dsp import SAMPLE_RATE
from dsp.dtmf import DtmfDetector, DtmfDigit

BLOCK_SAMPLES = SAMPLE_RATE  # feed the detector 1 s at a time


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dtmf", help="list the DTMF digits in a recording (JSON lines)")
    parser.add_argument("file", metavar="FILE", help="WAV file, or raw audio with --raw")
    parser.add_argument("--raw", action="store_true", help="FILE is headerless 8 kHz signed 16-bit LE mono")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    samples = read_audio(args.file, raw=args.raw)
    detector = DtmfDetector(1)
    events = []
    for at in range(0, samples.size, BLOCK_SAMPLES):
        events += detector.process(samples[None, at : at + BLOCK_SAMPLES])
    events += detector.finish()
    ms_per_sample = 1000.0 / SAMPLE_RATE
    for event in events:
        if isinstance(event, DtmfDigit):
            print(
                json.dumps(
                    {
                        "digit": event.digit,
                        "start_ms": round(event.start_sample * ms_per_sample, 3),
                        "end_ms": round(event.end_sample * ms_per_sample, 3),
                    }
                )
            )
    return 0
