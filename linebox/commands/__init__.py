"""The command groups of ``linebox``: one table, in the order ``--help`` lists them.

Each row is (group name, module path, one-line help). The module has ``register(subparsers)``;
add a new group with its module and one row here. Only the module of the command that runs is
imported (:func:`add_lazy_groups`): ``linebox run`` does not pay for the imports of every other
group, which was most of the engine's restart time (issue 16).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib import import_module

COMMAND_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("run", "linebox.commands.run", "start the appliance"),
    ("console", "linebox.commands.console", "attach to the running engine (like asterisk -r)"),
    ("config", "linebox.commands.config", "export, import and check the configuration"),
    ("cdr", "linebox.commands.cdr", "call detail records"),
    ("dsp", "linebox.commands.dsp", "signal-processing tools for audio files"),
    ("acd", "linebox.commands.acd", "ACD staffing (Erlang C/A) and simulation"),
    ("linecard", "linebox.commands.linecard", "line-card UART tools: decode frames, probe a card"),
    ("bench", "linebox.commands.bench", "measure throughput (JSON output)"),
    ("sim", "linebox.commands.sim", "run call scenarios against the virtual board"),
    ("backup", "linebox.commands.backup", "back up or restore the box's data (database, recordings, prompts)"),
    ("doctor", "linebox.commands.doctor", "self-test: line card and ports, audio paths, DSP, stores, disk, clock"),
    ("selftest", "linebox.commands.selftest", "the former name of doctor (the same checks)"),
    ("users", "linebox.commands.users", "web admin and manager (AMI) accounts"),
    ("web", "linebox.commands.web", "serve the web admin (its own process)"),
    ("speech", "linebox.commands.speech", "speech recognition models: try, install, list"),
    ("release", "linebox.commands.release", "build, install and upgrade releases (rollback on failure)"),
    ("factory-reset", "linebox.commands.factory_reset",
     "configuration and data back to the first-boot state (everything kept in a backup)"),
    ("campaign", "linebox.commands.campaign", "outbound campaigns: pacing simulator, lead hygiene"),
    ("contacts", "linebox.commands.contacts", "contacts: import and export CSV, search; the do-not-call list"),
)

_NO_OPTIONS = "\0"  # a stub takes every word after its name as it is, options included


class _Deferred:
    """A stub's handler: imports the group's module, parses its words with the module's own
    parser (its usage and errors as if it had been registered from the start) and runs it."""

    def __init__(self, prog: str, name: str, module: str, dest: str) -> None:
        self.prog = prog
        self.name = name
        self.module = module
        self.dest = dest  # the attribute naming the chosen group (``command``, ``bench``), as registered

    def __call__(self, stub_args: argparse.Namespace) -> int:
        parser = argparse.ArgumentParser(prog=self.prog)
        subparsers = parser.add_subparsers(dest=self.dest, required=True, metavar="COMMAND")
        import_module(self.module).register(subparsers)
        args = parser.parse_args([self.name, *stub_args.words])
        return int(args.handler(args) or 0)


def add_lazy_groups(subparsers: argparse._SubParsersAction, groups: Sequence[tuple[str, str, str]],
                    prog: str) -> None:
    """Adds a stub per (name, module, help) row; the module is imported only when its group runs.
    ``prog`` is the command line up to these groups (``linebox``, ``linebox bench``)."""
    for name, module, help_text in groups:
        stub = subparsers.add_parser(name, help=help_text, add_help=False, prefix_chars=_NO_OPTIONS)
        stub.add_argument("words", nargs=argparse.REMAINDER)
        stub.set_defaults(handler=_Deferred(prog, name, module, subparsers.dest))
