"""CPU-time measurement shared by the benchmarks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any


def cpu_seconds(work: Callable[[], Any]) -> float:
    """Process CPU time spent in ``work()`` (not wall time: the box may be loaded)."""
    start = time.process_time()
    work()
    return time.process_time() - start


def print_json(result: dict[str, Any]) -> None:
    print(json.dumps(result))
