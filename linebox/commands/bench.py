"""``linebox bench NAME --json``: throughput measurements, one module per benchmark.

Speed is measured here, never asserted in timed tests. Each benchmark module under
``linebox.bench`` has ``register(subparsers)`` and prints one JSON object.
"""

from __future__ import annotations

import argparse

from linebox.bench import BENCHMARKS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="measure throughput (JSON output)")
    benches = parser.add_subparsers(dest="bench", required=True, metavar="NAME")
    for benchmark in BENCHMARKS:
        benchmark.register(benches)
