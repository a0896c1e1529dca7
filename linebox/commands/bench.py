"""``linebox bench NAME --json``: throughput measurements, one module per benchmark.

Speed is measured here, never asserted in timed tests. Each benchmark module under
``linebox.bench`` has ``register(subparsers)`` and prints one JSON object; only the module of
the benchmark that runs is imported.
"""

from __future__ import annotations

import argparse

from linebox.bench import BENCHMARKS
from linebox.commands import add_lazy_groups


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="measure throughput (JSON output)")
    benches = parser.add_subparsers(dest="bench", required=True, metavar="NAME")
    add_lazy_groups(benches, BENCHMARKS, parser.prog)
