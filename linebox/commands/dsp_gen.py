"""``linebox dsp gen tone|dtmf``: write test signals to 8 kHz WAV files.

``gen tone --zone ZONE NAME --seconds S -o OUT.wav`` renders a tone of a zone's plan
(``dsp.toneplans``: dial, ringback, busy, congestion, callwaiting, sit, or the fax tones
cng, ced) for S seconds at the plan's level or ``--level-dbm0``.

``gen dtmf DIGITS -o OUT.wav`` writes DTMF digits (``dsp.dtmfgen``): ``--level-dbm0`` per
tone (default -10), ``--on-ms`` / ``--off-ms`` (default 50/50), ``--twist-db``.

``--encoding`` pcm16 (default), ulaw or alaw. Bad parameters are one line on stderr and
exit status 2; nothing is written then.
"""

from __future__ import annotations

import argparse
import math

from drivers.audiofile import ENCODINGS, write_wav
from dsp import SAMPLE_RATE, DspError
from dsp.dtmfgen import generate_dtmf
from dsp.levels import FULL_SCALE
from dsp.tonegen import render
from dsp.toneplans import FAX_TONE_NAMES, TONE_NAMES, ZONES, get_tone

MAX_SECONDS = 3600.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("gen", help="write a tone or DTMF digits to a WAV file")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")

    tone = kinds.add_parser("tone", help="a tone of a zone's tone plan")
    tone.add_argument("--zone", required=True, metavar="ZONE", help=f"tone plan: {', '.join(ZONES)}")
    tone.add_argument("name", choices=TONE_NAMES + FAX_TONE_NAMES, metavar="NAME", help="tone name")
    tone.add_argument("--seconds", type=float, required=True, help="length of the file")
    tone.add_argument("--level-dbm0", type=float, help="level per frequency (default: the plan's)")
    _common(tone)
    tone.set_defaults(handler=run_tone)

    dtmf = kinds.add_parser("dtmf", help="DTMF digits")
    dtmf.add_argument("digits", help="digits 0-9 * # A-D")
    dtmf.add_argument("--level-dbm0", type=float, default=-10.0, help="low-group tone level (default -10)")
    dtmf.add_argument("--on-ms", type=float, default=50.0, help="tone duration per digit (default 50)")
    dtmf.add_argument("--off-ms", type=float, default=50.0, help="silence after each digit (default 50)")
    dtmf.add_argument("--twist-db", type=float, default=0.0, help="high group minus low group level")
    _common(dtmf)
    dtmf.set_defaults(handler=run_dtmf)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoding", default="pcm16", choices=sorted(ENCODINGS), help="WAV sample encoding")
    parser.add_argument("-o", "--output", required=True, help="output WAV file")


def run_tone(args: argparse.Namespace) -> int:
    if not math.isfinite(args.seconds) or not 0 < args.seconds <= MAX_SECONDS:
        raise DspError(f"--seconds must be > 0 and <= {MAX_SECONDS:g}, got {args.seconds:g}")
    spec = get_tone(args.zone, args.name)
    samples = render(spec, int(round(args.seconds * SAMPLE_RATE)), args.level_dbm0)
    peak = float(abs(samples).max(initial=0.0))
    if peak > FULL_SCALE:
        raise DspError(f"{spec.name} at that level would clip (peak {peak:.0f} > {FULL_SCALE:.0f})")
    write_wav(args.output, samples, args.encoding)
    return 0


def run_dtmf(args: argparse.Namespace) -> int:
    if not args.digits:
        raise DspError("no digits to generate")
    samples = generate_dtmf(args.digits, args.level_dbm0, args.on_ms, args.off_ms, args.twist_db)
    write_wav(args.output, samples, args.encoding)
    return 0
