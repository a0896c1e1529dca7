"""CPU-time measurement shared by the benchmarks."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from linebox import LineboxError


def cpu_seconds(work: Callable[[], Any]) -> float:
    """Process CPU time spent in ``work()`` (not wall time: the box may be loaded)."""
    start = time.process_time()
    work()
    return time.process_time() - start


def print_json(result: dict[str, Any]) -> None:
    print(json.dumps(result))


def run_channel_bench(args, measure: Callable[[int, float, int], dict[str, Any]]) -> int:
    """The common ``run`` of the per-channel benchmarks: check the arguments, measure, print."""
    if args.channels < 1 or not args.seconds > 0:
        raise LineboxError(f"bench {args.bench}: --channels must be >= 1 and --seconds > 0")
    result = measure(args.channels, args.seconds, args.seed)
    if args.json:
        print_json(result)
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0
