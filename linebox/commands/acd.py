"""``linebox acd erlang|simulate|report``: staffing calculations, traffic simulation, and the box's history.

``erlang`` prints the fewest agents that meet a service-level target under Erlang C,
and with ``--patience`` also under Erlang A. ``simulate`` runs the production routing core
on synthetic Poisson traffic with a virtual clock. ``report`` reads the interval rows the
running box wrote (table ``acd_intervals``, firmware/acdengine/history.py) for one queue
or one agent.
Definitions: docs/acd.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import sys

from firmware import FirmwareError
from firmware.acd.erlang import erlang_a_metrics, erlang_a_staffing, erlang_c_staffing
from firmware.acd.model import Strategy
from firmware.acd.simulate import SimulationSpec, simulate
from firmware.acdengine.history import IntervalStore, utc_text
from linebox.storage import resolve_db_path

INTERVALS = {"15m": 900, "1h": 3600, "1d": 86400}
REPORT_COLUMNS = ("start", "end", "offered", "answered", "abandoned", "answered_in_sl", "service_level",
                  "service_level_offered", "asa_seconds", "aht_seconds", "abandon_rate", "occupancy")
AGENT_COLUMNS = ("start", "end", "answered", "completed", "ring_no_answer", "talk_seconds", "aht_seconds",
                 "occupancy", "available_seconds", "busy_seconds", "paused_seconds", "logged_in_seconds")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("acd", help="ACD staffing (Erlang C/A) and simulation")
    tools = parser.add_subparsers(dest="tool", required=True, metavar="TOOL")

    erlang = tools.add_parser("erlang", help="agents needed for a service-level target")
    _traffic_arguments(erlang)
    erlang.add_argument("--target-sl", type=float, default=0.8, help="service-level target, 0..1 (default 0.8)")
    erlang.add_argument("--patience", type=float, help="mean caller patience in seconds: adds Erlang A")
    erlang.add_argument("--json", action="store_true", help="one JSON object")
    erlang.set_defaults(handler=run_erlang)

    sim = tools.add_parser("simulate", help="discrete-event simulation with the production router")
    sim.add_argument("--agents", type=int, required=True)
    _traffic_arguments(sim)
    sim.add_argument("--hours", type=float, required=True, help="simulated hours")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--strategy", choices=[s.value for s in Strategy], default=Strategy.LEASTRECENT.value)
    sim.add_argument("--patience", type=float, help="mean caller patience in seconds (exponential)")
    sim.add_argument("--warmup-hours", type=float, default=0.0, help="hours left out of the figures")
    sim.add_argument("--json", action="store_true", help="one JSON object")
    sim.set_defaults(handler=run_simulate)

    report = tools.add_parser("report", help="a queue's or an agent's interval statistics written by the running box")
    report.add_argument("--db", help="database (default: $LINEBOX_DB or var/linebox.db)")
    who = report.add_mutually_exclusive_group(required=True)
    who.add_argument("--queue", help="a queue's intervals")
    who.add_argument("--agent", help="an agent's intervals (agent id)")
    report.add_argument("--interval", choices=list(INTERVALS), default="15m", help="interval size (default 15m)")
    report.add_argument("--since", help="first interval start, ISO 8601 (no zone: UTC)")
    report.add_argument("--until", help="intervals starting before this, ISO 8601 (no zone: UTC)")
    fmt = report.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="one JSON array of interval objects")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header line")
    report.set_defaults(handler=run_report)


def _traffic_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls-per-hour", type=float, required=True)
    parser.add_argument("--aht", type=float, required=True, help="average handle time, seconds")
    parser.add_argument("--target-seconds", type=float, default=20.0, help="service-level threshold T (default 20)")


def _json_number(value: float | int | None) -> float | int | None:
    if value is None or isinstance(value, int):
        return value
    return value if math.isfinite(value) else None


def erlang_report(args: argparse.Namespace) -> dict[str, object]:
    """The JSON object of ``linebox acd erlang`` (documented in docs/acd.md)."""
    c = erlang_c_staffing(args.calls_per_hour, args.aht, args.target_sl, args.target_seconds)
    report: dict[str, object] = {
        "model": "erlang_c",
        "agents": c.agents,
        "service_level": c.service_level,
        "asa_seconds": c.asa_seconds,
        "occupancy": c.occupancy,
        "wait_probability": c.wait_probability,
        "traffic_erlangs": c.traffic_erlangs,
    }
    if args.patience is not None:
        at_c = erlang_a_metrics(c.agents, args.calls_per_hour, args.aht, args.patience, args.target_seconds)
        report["abandon_rate"] = at_c.abandon_rate
        a = erlang_a_staffing(args.calls_per_hour, args.aht, args.patience, args.target_sl, args.target_seconds)
        report["erlang_a"] = {key: _json_number(value) for key, value in a.as_dict().items()}
    return {key: _json_number(value) if not isinstance(value, (dict, str)) else value for key, value in report.items()}


def run_erlang(args: argparse.Namespace) -> int:
    report = erlang_report(args)
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"Erlang C: {report['agents']} agents for {report['traffic_erlangs']:.2f} Erlangs: "
        f"service level {report['service_level']:.1%} within {args.target_seconds:g} s, "
        f"ASA {report['asa_seconds']:.1f} s, occupancy {report['occupancy']:.1%}"
    )
    if "erlang_a" in report:
        a = report["erlang_a"]
        print(f"  with patience {args.patience:g} s the same staff abandon {report['abandon_rate']:.1%}")
        print(
            f"Erlang A: {a['agents']} agents: service level {a['service_level']:.1%} of offered calls, "
            f"abandon {a['abandon_rate']:.1%}, ASA {a['asa_seconds']:.1f} s, occupancy {a['occupancy']:.1%}"
        )
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    spec = SimulationSpec(
        agents=args.agents,
        calls_per_hour=args.calls_per_hour,
        aht_seconds=args.aht,
        hours=args.hours,
        seed=args.seed,
        strategy=Strategy(args.strategy),
        patience_seconds=args.patience,
        target_seconds=args.target_seconds,
        warmup_hours=args.warmup_hours,
    )
    result = simulate(spec).as_dict()
    if args.json:
        print(json.dumps({key: _json_number(value) for key, value in result.items()}))
        return 0

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.1%}"

    asa = "n/a" if result["asa_seconds"] is None else f"{result['asa_seconds']:.1f} s"
    print(
        f"{result['calls']} calls: service level {pct(result['service_level'])} within {args.target_seconds:g} s, "
        f"ASA {asa}, abandoned {pct(result['abandon_rate'])}, occupancy {pct(result['occupancy'])}"
    )
    return 0


def _instant(option: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise FirmwareError(f"{option} {text!r} is not an ISO 8601 date or time (e.g. 2026-11-25T09:00)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _open_history(db_path) -> tuple[IntervalStore, str]:
    path = resolve_db_path(db_path)
    if not path.exists():
        raise FirmwareError(f"no database at {path}")
    return IntervalStore(path), str(path)


def _found(store: IntervalStore, path: str, kind: str, name: str, found: list) -> list:
    if not found and name not in store.names(kind):
        known = ", ".join(store.names(kind)) or "none yet"
        raise FirmwareError(f"no statistics for {kind} {name!r} in {path} ({kind}s: {known})")
    return found


def report_rows(db_path, queue: str, size_seconds: int, since: float | None, until: float | None) -> list[dict]:
    """The report's rows (``REPORT_COLUMNS`` first, then every counter), oldest first."""
    store, path = _open_history(db_path)
    try:
        found = _found(store, path, "queue", queue, store.queue_rows(queue, size_seconds, since, until))
    finally:
        store.close()
    rows = []
    for start, stats in found:
        figures = stats.as_dict()
        row: dict[str, object] = {"start": utc_text(start), "end": utc_text(start + size_seconds)}
        row.update({name: figures[name] for name in REPORT_COLUMNS[2:]})
        row.update({name: value for name, value in figures.items() if name not in row})
        rows.append(row)
    return rows


def agent_report_rows(db_path, agent: str, size_seconds: int, since: float | None, until: float | None) -> list[dict]:
    """An agent's rows (``AGENT_COLUMNS`` first, then seconds per activity), oldest first.
    Logged-in time is every activity but logged out; busy = ringing + on call + wrap-up."""
    store, path = _open_history(db_path)
    try:
        found = _found(store, path, "agent", agent, store.agent_rows(agent, size_seconds, since, until))
    finally:
        store.close()
    rows = []
    for start, stats in found:
        logged_in = sum(seconds for state, seconds in stats.state_seconds.items() if state != "loggedout")
        row: dict[str, object] = {
            "start": utc_text(start), "end": utc_text(start + size_seconds), "answered": stats.answered,
            "completed": stats.completed, "ring_no_answer": stats.ring_no_answer, "talk_seconds": stats.talk_seconds,
            "aht_seconds": stats.aht_seconds, "occupancy": stats.occupancy, "available_seconds": stats.idle_seconds,
            "busy_seconds": stats.busy_seconds, "paused_seconds": stats.paused_seconds, "logged_in_seconds": logged_in,
        }
        row["state_seconds"] = dict(sorted(stats.state_seconds.items()))
        rows.append(row)
    return rows


def run_report(args: argparse.Namespace) -> int:
    since, until = _instant("--since", args.since), _instant("--until", args.until)
    if since is not None and until is not None and until <= since:
        raise FirmwareError("--until must be after --since")
    size = INTERVALS[args.interval]
    if args.agent is not None:
        rows, columns, who = agent_report_rows(args.db, args.agent, size, since, until), AGENT_COLUMNS, f"agent {args.agent}"
        shown = AGENT_COLUMNS[:1] + AGENT_COLUMNS[2:]
        headers = ("start", "answered", "completed", "rna", "talk_s", "aht_s", "occupancy", "available_s", "busy_s",
                   "paused_s", "logged_in_s")
    else:
        rows, columns, who = report_rows(args.db, args.queue, size, since, until), REPORT_COLUMNS, f"queue {args.queue}"
        shown = ("start", "offered", "answered", "abandoned", "service_level", "service_level_offered", "asa_seconds",
                 "aht_seconds", "abandon_rate", "occupancy")
        headers = ("start", "offered", "answered", "abandoned", "sl", "sl_offered", "asa_s", "aht_s", "abandon_rate",
                   "occupancy")
    if args.json:
        print(json.dumps([{key: _json_number(value) if isinstance(value, float) else value
                           for key, value in row.items()} for row in rows]))
        return 0
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row[name] is None else row[name] for name in columns])
        return 0
    if not rows:
        print(f"no {args.interval} intervals of {who} in that period")
        return 0

    def cell(name: str, value: object) -> str:
        if value is None:
            return "-"
        if name in ("service_level", "service_level_offered", "abandon_rate", "occupancy"):
            return f"{value:.1%}"
        if isinstance(value, float):
            return f"{value:.1f}"
        return str(value)

    cells = [list(headers)] + [[cell(name, row[name]) for name in shown] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(headers))]
    for line in cells:
        print("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())
    return 0
