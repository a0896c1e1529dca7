"""``linebox dsp ...``: the DSP layer's tools for installers' recordings and for tests.

Each tool is a module under ``linebox.commands`` with ``register(subparsers)``; add a new
tool's module to ``DSP_TOOLS``.
"""

from __future__ import annotations

import argparse

from linebox.commands import dsp_amd, dsp_callerid, dsp_dtmf, dsp_echo, dsp_gen, dsp_tones

DSP_TOOLS: tuple = (dsp_callerid, dsp_tones, dsp_gen, dsp_dtmf, dsp_echo, dsp_amd)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("dsp", help="signal-processing tools for audio files")
    tools = parser.add_subparsers(dest="tool", required=True, metavar="TOOL")
    for tool in DSP_TOOLS:
        tool.register(tools)
