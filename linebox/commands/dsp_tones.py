"""``linebox dsp tones --zone ZONE FILE``: the call-progress tones in a recording.

Runs ``dsp.progress.CallProgressDetector`` with the zone's plan over the file (any WAV the
box reads, or ``--raw`` 8 kHz signed 16-bit little-endian) and prints one JSON object per
tone found, in order of start, and nothing else::

    {"tone": "busy", "start_ms": 300.0, "end_ms": 7800.0}

``tone`` is one of dial, ringback, busy, congestion, sit, cng, ced; times are from the
start of the file, to the 20 ms frame. A tone still on at the end of the file ends there.
An unreadable file or an unknown zone is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json

from drivers.audiofile import read_audio
from dsp import SAMPLE_RATE
from dsp.progress import CallProgressDetector
from dsp.toneplans import ZONES, get_plan


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("tones", help="print the call-progress tones in a recording as JSON lines")
    parser.add_argument("--zone", required=True, metavar="ZONE", help=f"tone plan: {', '.join(ZONES)}")
    parser.add_argument("--raw", action="store_true", help="headerless 8 kHz signed 16-bit little-endian input")
    parser.add_argument("file", help="WAV file (any rate, mono or stereo, PCM or G.711)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    plan = get_plan(args.zone)  # DspError for an unknown zone, before reading anything
    samples = read_audio(args.file, raw=args.raw)
    detector = CallProgressDetector(1, plan)
    events = detector.process(samples[None, :]) + detector.flush()
    for event in sorted((e for e in events if not e.ongoing), key=lambda e: (e.start_sample, e.tone)):
        print(
            json.dumps(
                {
                    "tone": event.tone,
                    "start_ms": event.start_sample * 1000.0 / SAMPLE_RATE,
                    "end_ms": event.end_sample * 1000.0 / SAMPLE_RATE,
                }
            )
        )
    return 0
