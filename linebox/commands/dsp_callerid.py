"""``linebox dsp callerid encode|decode``: caller ID and message-waiting audio files.

``encode`` writes what a line carries to deliver one message (see ``dsp.callerid_sequence``,
rings and line reversals left out because they are not audio), between 100 ms of silence:

- ``bell202`` (type1, default): channel seizure (300 bits), 180 mark bits, the message, 8 mark
  bits; ``--variant type2``: CAS 2130 + 2750 Hz 80 ms, 100 ms of silence, 80 mark bits, the
  message (the CPE's ACK would fall in the silence);
- ``v23`` (dtas, default): 150 ms of silence, DT-AS 2130 + 2750 Hz 100 ms, 100 ms of silence,
  seizure (300 bits), 180 mark bits, the message; ``sin227``: 150 ms, tone alert 100 ms,
  60 ms, seizure, 80 mark bits, the message; ``after_ring``: seizure, mark, message;
  ``rpas``: 650 ms of silence (after the ring pulse), then as ``after_ring``;
- ``dtmf``: the digits (``A<number>C`` by default), 70 ms on / 70 ms off each.

``decode`` prints one JSON object per message found, in time order::

    {"standard": "bell202", "format": "mdmf", "number": "8005551212", "name": "JOHN DOE",
     "datetime": "03240902", "number_absence": null, "name_absence": null, "mwi": null,
     "checksum_ok": true, "error": null, "start_ms": 400.0}

Absent fields are null; a damaged message has ``checksum_ok: false``, its ``error`` and no
caller fields. Exit status 0 if a message was found, 1 if none, 2 for unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from drivers.audiofile import ENCODINGS, read_audio, write_wav
from dsp import SAMPLE_RATE, DspError
from dsp.callerid import Absence, CallerId, encode_caller_id, encode_mwi
from dsp.callerid_decode import DECODE_STANDARDS, CallerIdReport, decode_recording
from dsp.callerid_dtmf import DTMF_FRAMINGS, dtmf_callerid_digits
from dsp.callerid_sequence import DEFAULT_VARIANTS, VARIANTS, callerid_sequence, sequence_audio

PADDING_MS = 100.0
EXIT_NOTHING_FOUND = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("callerid", help="caller ID / message waiting: encode or decode audio")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    encode = actions.add_parser("encode", help="write the caller ID audio of one message to a WAV file")
    encode.add_argument("--standard", required=True, choices=sorted(VARIANTS))
    encode.add_argument("--number", help="calling number (digits, * # +)")
    encode.add_argument("--name", help="calling name (MDMF only)")
    encode.add_argument("--datetime", help="date and time MMDDHHMM")
    encode.add_argument("--format", default="mdmf", choices=("mdmf", "sdmf"), help="FSK message format")
    encode.add_argument("--number-absence", choices=[a.label for a in Absence], help="instead of --number")
    encode.add_argument("--name-absence", choices=[a.label for a in Absence], help="instead of --name")
    encode.add_argument(
        "--mwi", choices=("on", "off"), help="a message waiting indication instead of caller ID"
    )
    encode.add_argument(
        "--variant",
        help="delivery variant: "
        + "; ".join(f"{s}: {', '.join(v)} (default {DEFAULT_VARIANTS[s]})" for s, v in VARIANTS.items()),
    )
    encode.add_argument("--dtmf-framing", default="ac", choices=DTMF_FRAMINGS, help="DTMF string framing")
    encode.add_argument("--level", type=float, help="FSK or DTMF level in dBm0 (default -13.5 FSK, -10 DTMF)")
    encode.add_argument("--encoding", default="pcm16", choices=sorted(ENCODINGS), help="WAV sample encoding")
    encode.add_argument("-o", "--output", required=True, help="output WAV file")
    encode.set_defaults(handler=run_encode)

    decode = actions.add_parser("decode", help="print the caller ID messages in a recording as JSON lines")
    decode.add_argument("--standard", default="auto", choices=DECODE_STANDARDS)
    decode.add_argument(
        "--raw", action="store_true", help="headerless 8 kHz signed 16-bit little-endian input"
    )
    decode.add_argument("file", help="WAV file (any rate, mono or stereo, PCM or G.711)")
    decode.set_defaults(handler=run_decode)


def _caller(args: argparse.Namespace) -> CallerId:
    return CallerId(
        number=args.number,
        name=args.name,
        datetime=args.datetime,
        number_absence=args.number_absence,
        name_absence=args.name_absence,
    )


def encode_audio(args: argparse.Namespace) -> np.ndarray:
    """The samples ``encode`` writes for these arguments."""
    has_caller_fields = any(
        value is not None
        for value in (args.number, args.name, args.datetime, args.number_absence, args.name_absence)
    )
    if args.mwi is not None and has_caller_fields:
        raise DspError("--mwi sends a message waiting indication: it takes no caller fields")
    if args.standard == "dtmf":
        if args.mwi is not None or args.name or args.name_absence or args.datetime:
            raise DspError("DTMF caller ID carries only the number (or the reason it is absent)")
        message: bytes | str = dtmf_callerid_digits(_caller(args), args.dtmf_framing)
    elif args.mwi is not None:
        message = encode_mwi(args.mwi == "on", args.format)
    else:
        if not has_caller_fields:
            raise DspError("give --number (or --number-absence), --name, --datetime, or --mwi")
        message = encode_caller_id(_caller(args), args.format)
    segments = callerid_sequence(args.standard, message, args.variant, ring=False, level_dbm0=args.level)
    padding = np.zeros(int(PADDING_MS * SAMPLE_RATE / 1000.0))
    return np.concatenate([padding, sequence_audio(segments), padding])


def run_encode(args: argparse.Namespace) -> int:
    samples = encode_audio(args)
    write_wav(args.output, samples, args.encoding)
    print(f"{args.output}: {len(samples) / SAMPLE_RATE:.3f} s of {args.standard} caller ID")
    return 0


def report_json(report: CallerIdReport) -> dict:
    caller = report.caller
    return {
        "standard": report.standard,
        "format": report.format,
        "number": caller.number if caller else None,
        "name": caller.name if caller else None,
        "datetime": caller.datetime if caller else None,
        "number_absence": caller.number_absence.label if caller and caller.number_absence else None,
        "name_absence": caller.name_absence.label if caller and caller.name_absence else None,
        "mwi": report.mwi,
        "checksum_ok": report.checksum_ok,
        "error": report.error,
        "start_ms": round(report.start_sample * 1000.0 / SAMPLE_RATE, 1),
    }


def run_decode(args: argparse.Namespace) -> int:
    samples = read_audio(args.file, raw=args.raw)
    reports = decode_recording(samples, args.standard)
    for report in reports:
        print(json.dumps(report_json(report)))
    if not reports:
        print(f"linebox: no caller ID found in {args.file}", file=sys.stderr)
        return EXIT_NOTHING_FOUND
    return 0
