"""Is the system clock synchronised? Asked of what the machine has, in order:

1. systemd: ``timedatectl show -p NTPSynchronized --value`` (``yes``/``no``);
2. systemd-timesyncd's flag file ``/run/systemd/timesync/synchronized`` (present: synchronised
   since boot; absent says nothing);
3. the kernel: ``adjtimex(2)`` read-only (modes 0); synchronised when it does not return
   ``TIME_ERROR`` and ``STA_UNSYNC`` is clear (what any NTP client sets; timedatectl reads the same).

A machine where none of them answers gives ``synchronised=None``: the check says it cannot tell.
The doctor takes the probe as an argument, so tests pass a fake.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
TIME_ERROR = 5  # adjtimex's return value for an unsynchronised clock
STA_UNSYNC = 0x0040


@dataclass(frozen=True)
class ClockState:
    synchronised: bool | None  # None: no way to tell on this machine
    source: str  # which probe answered
    detail: str = ""


ClockProbe = Callable[[], ClockState]


class _Timex(ctypes.Structure):  # struct timex of <sys/timex.h> (Linux)
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                ("time_sec", ctypes.c_long), ("time_usec", ctypes.c_long), ("tick", ctypes.c_long),
                ("ppsfreq", ctypes.c_long), ("jitter", ctypes.c_long), ("shift", ctypes.c_int),
                ("stabil", ctypes.c_long), ("jitcnt", ctypes.c_long), ("calcnt", ctypes.c_long),
                ("errcnt", ctypes.c_long), ("stbcnt", ctypes.c_long), ("tai", ctypes.c_int),
                ("padding", ctypes.c_int * 11)]


def timedatectl() -> ClockState | None:
    try:
        done = subprocess.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"], capture_output=True,
                              text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = done.stdout.strip()
    if done.returncode != 0 or answer not in ("yes", "no"):
        return None
    return ClockState(answer == "yes", "timedatectl")


def timesync_flag(flag: Path = TIMESYNC_FLAG) -> ClockState | None:
    return ClockState(True, str(flag)) if flag.exists() else None


def kernel() -> ClockState | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        adjtimex = ctypes.CDLL(name, use_errno=True).adjtimex
    except (OSError, AttributeError):
        return None
    timex = _Timex()
    state = adjtimex(ctypes.byref(timex))
    if state < 0:
        return None
    synced = state != TIME_ERROR and not timex.status & STA_UNSYNC
    return ClockState(synced, "adjtimex", f"maximum error {timex.maxerror / 1e6:.3f} s")


def system_clock() -> ClockState:
    for probe in (timedatectl, timesync_flag, kernel):
        state = probe()
        if state is not None:
            return state
    return ClockState(None, "none", "no timedatectl answer, no timesyncd flag, no adjtimex")
