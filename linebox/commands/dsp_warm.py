"""``linebox dsp warm``: compiles every DSP kernel (numba; the parts of dsp/warm.py) into
numba's cache, and says how long it took.

board/install.sh, and ``linebox release upgrade`` before it switches releases, run it as the
engine's user with the units' ``NUMBA_CACHE_DIR`` (/var/lib/linebox/numba-cache), so that the
engine's first start loads the machine code instead of compiling it (docs/dsp.md, "Compiled
kernels"). Prints one JSON object: ``{"seconds": S, "cache_dir": DIR or null, "cached":
true|false, "parts": [NAME...]}``; ``cached`` is false when no cache folder can be written
(the kernels then compile in every process, after a one-line warning). Exit status 0 either
way: a box without a cache still works, only slower to start. When a part's kernels do not
build: numba's message, then one line naming the part, status 2 (the upgrade then refuses the
release).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings

from dsp import DspError
from dsp.jit import KernelCacheWarning


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("warm", help="compile the DSP kernels into numba's cache (install step)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KernelCacheWarning)
        from dsp.warm import warm  # it imports the parts' modules: importing one is what may warn

        try:
            parts = warm()
        except DspError as exc:  # numba's full message, then the one line (linebox's: the last on stderr)
            traceback.print_exception(exc.__cause__ or exc, file=sys.stderr)
            raise
    cached = not any(issubclass(w.category, KernelCacheWarning) for w in caught)
    for warning in caught:
        print(f"linebox dsp warm: {warning.message}", file=sys.stderr, flush=True)
    print(json.dumps({
        "seconds": round(time.perf_counter() - started, 3),
        "cache_dir": os.environ.get("NUMBA_CACHE_DIR"),
        "cached": cached,
        "parts": list(parts),
    }))
    return 0
