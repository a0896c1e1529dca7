"""The command groups of ``linebox``, in the order ``--help`` lists them.

Each module has ``register(subparsers)``; add a new group's module here.
"""

from linebox.commands import (
                              acd,
                              backup,
                              bench,
                              campaign,
                              cdr,
                              config,
                              console,
                              contacts,
                              dsp,
                              linecard,
                              run,
                              selftest,
                              sim,
                              speech,
                              users,
                              web,
)

COMMAND_GROUPS = (run, console, config, cdr, dsp, acd, linecard, bench, sim, backup, selftest, users, web, speech, campaign)
COMMAND_GROUPS += (contacts,)
