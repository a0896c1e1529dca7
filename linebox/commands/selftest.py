"""``linebox selftest``: the former name of ``linebox doctor`` (linebox/commands/doctor.py), kept
so that scripts and an older release's upgrade check (``selftest --json``) keep working: the
same options, the same checks, the same output."""

from __future__ import annotations

import argparse

from linebox.commands.doctor import add_parser


def register(subparsers: argparse._SubParsersAction) -> None:
    add_parser(subparsers, "selftest")
