"""The command groups of ``linebox``, in the order ``--help`` lists them.

Each module has ``register(subparsers)``; add a new group's module here.
"""

from linebox.commands import acd, bench, cdr, config, dsp, run

COMMAND_GROUPS = (run, config, cdr, dsp, acd, bench)
