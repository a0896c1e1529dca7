"""``linebox sim run SCENARIO.yaml [--json] [--seed N] [--report FILE]``: run a scenario.

The scenario (docs/scenarios.md) runs against the whole appliance on the virtual board,
unpaced, in a temporary folder (the box's own database is never touched). Without
``--json`` a short summary is printed (one line per step, then the verdict); with it, the
full JSON report. Exit status: 0 every expectation held, 1 one failed (the summary and the
report's ``failure`` say which and why), 2 the scenario file is wrong (one line naming the
field) or the box could not start.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from drivers.logs import configure_logging
from linebox.sim import ScenarioError
from linebox.sim.runner import Report, run_scenario
from linebox.sim.scenario import load_scenario

EXIT_FAILED = 1
EXIT_BAD_SCENARIO = 2
LOG_LEVELS = ("debug", "info", "warning", "error")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sim", help="run call scenarios against the virtual board")
    commands = parser.add_subparsers(dest="sim_command", required=True, metavar="ACTION")
    run = commands.add_parser("run", help="run a scenario file and report what happened")
    run.add_argument("scenario", help="scenario file (YAML, see docs/scenarios.md)")
    run.add_argument("--json", action="store_true", help="print the full JSON report")
    run.add_argument("--seed", type=int, help="seed of the simulated world (default: the scenario's)")
    run.add_argument("--report", help="also write the JSON report to this file")
    run.add_argument("--log-level", choices=LOG_LEVELS, default="error",
                     help="console log level on stderr (default: error)")
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    configure_logging(sys.stderr, getattr(logging, args.log_level.upper()))
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        for line in str(exc).splitlines():  # one a line: a configuration's problems are all reported
            print(f"linebox: {line}", file=sys.stderr)
        return EXIT_BAD_SCENARIO
    if args.seed is not None and args.seed < 0:
        print("linebox: --seed: must be >= 0", file=sys.stderr)
        return EXIT_BAD_SCENARIO
    report = run_scenario(scenario, seed=args.seed)
    text = report.as_json()
    if args.report:
        Path(args.report).write_text(text + "\n", encoding="utf-8")
    if args.json:
        print(text)
    else:
        print("\n".join(summary_lines(report)))
    return 0 if report.passed else EXIT_FAILED


def summary_lines(report: Report) -> list[str]:
    data = report.data
    lines = [f"scenario {data['scenario']} (seed {data['seed']}, zone {data['zone']}, start {data['start']})"]
    for step in data["steps"]:
        at = f"{step['at_ms'] / 1000:8.2f} s" if "at_ms" in step else " " * 10
        waited = f" after {step['waited_ms'] / 1000:.2f} s" if step.get("waited_ms") else ""
        detail = f": {step['detail']}" if step.get("detail") else ""
        lines.append(f"{at}  [{step['step']:>3}] {step['kind']:<16} {step['result']}{waited}{detail}")
    calls = data["calls"]
    lines.append(f"{len(calls)} call record(s): " + ", ".join(
        f"{c['context']} {c['src_port']}->{c['dst_port']} {c['disposition']}" for c in calls[:10])
        + (" ..." if len(calls) > 10 else ""))
    simulated = data["simulated_ms"] / 1000.0
    wall = data["timing"]["wall_s"]
    verdict = "PASS" if report.passed else f"FAIL at step {data['failure']['step']}: {data['failure']['reason']}"
    lines.append(f"{verdict} ({simulated:.1f} s simulated in {wall:.1f} s)")
    return lines
