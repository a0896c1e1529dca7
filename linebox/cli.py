"""``linebox``: one command line with subcommands, the composition root of the project.

Each command group lives in its own module under ``linebox.commands`` and adds itself to
the parser through ``register(subparsers)``; only the module of the group that runs is imported
(``linebox.commands.COMMAND_GROUPS``). Its handler takes the parsed arguments and returns the
exit status. Errors of any layer become one line on stderr and status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from board import BoardError
from drivers import DriverError
from dsp import DspError
from firmware import FirmwareError
from linebox import LineboxError
from linebox.commands import COMMAND_GROUPS, add_lazy_groups

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="linebox", description="Analog PBX/ACD appliance firmware")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_lazy_groups(subparsers, COMMAND_GROUPS, parser.prog)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (DspError, DriverError, FirmwareError, BoardError, LineboxError, OSError) as exc:
        print(f"linebox: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
