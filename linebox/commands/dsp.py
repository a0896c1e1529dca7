"""``linebox dsp ...``: the DSP layer's tools for installers' recordings and for tests.

Each tool is a module under ``linebox.commands`` with ``register(subparsers)``; add a new
tool's row (name, module path, one-line help) to ``DSP_TOOLS``. Only the tool that runs is
imported.
"""

from __future__ import annotations

import argparse

from linebox.commands import add_lazy_groups

DSP_TOOLS: tuple[tuple[str, str, str], ...] = (
    ("callerid", "linebox.commands.dsp_callerid", "caller ID / message waiting: encode or decode audio"),
    ("tones", "linebox.commands.dsp_tones", "print the call-progress tones in a recording as JSON lines"),
    ("gen", "linebox.commands.dsp_gen", "write a tone or DTMF digits to a WAV file"),
    ("dtmf", "linebox.commands.dsp_dtmf", "list the DTMF digits in a recording (JSON lines)"),
    ("echo", "linebox.commands.dsp_echo", "cancel a line's echo in a recording pair (far end, line)"),
    ("amd", "linebox.commands.dsp_amd", "answering-machine detection on a recording (human/machine)"),
    ("warm", "linebox.commands.dsp_warm", "compile the DSP kernels into numba's cache (install step)"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dsp", help="signal-processing tools for audio files")
    tools = parser.add_subparsers(dest="tool", required=True, metavar="TOOL")
    add_lazy_groups(tools, DSP_TOOLS, parser.prog)
