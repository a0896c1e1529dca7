"""How a linebox process starts again on new data or code: under systemd by ending with exit
status 75 (the units restart it: ``RestartForceExitStatus=75`` / ``Restart=on-failure``), else by
executing itself again in place (same process id, command line, environment and folder), as a
PBX restarts itself when no supervisor watches it. A developer's ``linebox run`` and a test's
engine thus restart exactly like the appliance's, with nothing else to start them again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import NoReturn

RESTART_EXIT_STATUS = 75  # EX_TEMPFAIL, "try again": the units start the process again at once


def under_systemd(environ: Mapping[str, str]) -> bool:
    """True in a process systemd started (it sets these for a unit's main process)."""
    return bool(environ.get("INVOCATION_ID") or environ.get("NOTIFY_SOCKET"))


def restarter(environ: Mapping[str, str]) -> str:
    """Who starts this process again after it asks to restart: ``"systemd"`` or ``"self"``."""
    return "systemd" if under_systemd(environ) else "self"


def execute_again() -> NoReturn:
    """Replaces this process by a fresh run of its own command line. Python opens every file and
    socket close-on-exec (PEP 446), so nothing is inherited but the standard streams."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, sys.orig_argv)
