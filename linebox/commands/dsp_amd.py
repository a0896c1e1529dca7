"""``linebox dsp amd [--raw] [--json] FILE``: answering-machine detection on a recording.

FILE starts at the moment the far end answered: any WAV the box reads (other rates are
resampled to 8 kHz, stereo mixed down) or, with ``--raw``, headerless 8 kHz signed 16-bit
little-endian mono. It goes through G.711 µ-law, as over a line, then ``dsp.amd`` frame by
frame (20 ms), as the engine does on an outbound call. The line is taken to be silent after
the end of the file. Prints, with ``--json``, one object::

    {"result": "machine", "cause": "long_greeting", "decided_ms": 2240, "beep_ms": 6120}

(``beep_ms``: the end of the first beep, when a message may start; null when none was
heard), else the same as one ``key=value`` line. Asterisk's AMD parameters can be changed
(``--greeting-ms 2000`` ...; defaults in docs/dsp.md), and ``--voice-detector webrtc`` uses the
WebRTC VAD instead of the energy threshold. Unreadable file or a bad parameter:
one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, fields

from drivers.audiofile import read_audio
from dsp.amd import VOICE_DETECTORS, AmdSettings, analyse
from dsp.g711 import ulaw_roundtrip


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("amd", help="answering-machine detection on a recording (human/machine)")
    parser.add_argument(
        "file", metavar="FILE", help="WAV file from the moment of answer, or raw audio with --raw"
    )
    parser.add_argument("--raw", action="store_true", help="FILE is headerless 8 kHz signed 16-bit LE mono")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    for field in fields(AmdSettings):
        if field.name == "voice_detector":
            parser.add_argument(
                "--voice-detector",
                choices=VOICE_DETECTORS,
                default=field.default,
                help=f"default {field.default}",
            )
        else:
            parser.add_argument(
                "--" + field.name.replace("_", "-"),
                type=int,
                default=field.default,
                help=f"default {field.default}",
            )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = AmdSettings(**{field.name: getattr(args, field.name) for field in fields(AmdSettings)})
    samples = read_audio(args.file, raw=args.raw)
    result, beep = analyse(ulaw_roundtrip(samples), settings)
    report = asdict(result) | {"beep_ms": None if beep is None else beep.end_ms}
    if args.json:
        print(json.dumps(report))
    else:
        print(" ".join(f"{key}={'none' if value is None else value}" for key, value in report.items()))
    return 0
