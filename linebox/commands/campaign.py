"""``linebox campaign simulate|check``: the pacing simulator and a lead list's hygiene report.

``simulate`` runs the production dialler and pacing (``firmware/campaign/``) on simulated
traffic with a virtual clock; ``check`` validates a lead CSV for a country (numbers,
duplicates, do-not-call list: ``--dnc FILE``, else the box's stored list) with
``firmware.leads.check_leads``. docs/campaigns.md.
"""

from __future__ import annotations

import argparse
import json
import math

from firmware.campaign.dialler import Mode
from firmware.campaign.hygiene import check_files
from firmware.campaign.simulate import CampaignSimSpec, simulate_campaign
from firmware.leads import DncList
from linebox import LineboxError
from linebox.storage import resolve_db_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("campaign", help="outbound campaigns: pacing simulator, lead hygiene")
    tools = parser.add_subparsers(dest="tool", required=True, metavar="TOOL")

    sim = tools.add_parser("simulate", help="discrete-event simulation with the production pacing")
    sim.add_argument("--mode", choices=[m.value for m in Mode], required=True)
    sim.add_argument("--agents", type=int, required=True)
    sim.add_argument("--answer-rate", type=float, required=True, help="share of calls a person answers, 0-1")
    sim.add_argument("--aht", type=float, required=True, help="average handle time (talk + wrap-up), seconds")
    sim.add_argument("--hours", type=float, required=True, help="simulated hours")
    sim.add_argument("--seed", type=int, default=1)
    sim.add_argument("--lines", type=int, help="lines the campaign may use (default: enough not to limit it)")
    sim.add_argument("--max-abandon", type=float, default=0.03, help="maximum abandon rate (default 0.03)")
    sim.add_argument("--json", action="store_true", help="one JSON object")
    sim.set_defaults(handler=run_simulate)

    check = tools.add_parser("check", help="a lead list's hygiene report: valid, duplicates, do-not-call")
    check.add_argument("leads", help="lead list CSV")
    check.add_argument("--country", required=True, help="the numbers' country (ISO 3166 code, e.g. US)")
    check.add_argument("--dnc", help="do-not-call list CSV (default: the box's stored do-not-call list)")
    check.add_argument("--db", help="the box's database, whose stored do-not-call list is used without --dnc "
                                    "(default: $LINEBOX_DB or var/linebox.db)")
    check.add_argument("--json", action="store_true", help="one JSON object")
    check.set_defaults(handler=run_check)


def _number(value: float | int | None) -> float | int | None:
    if value is None or isinstance(value, int):
        return value
    return round(value, 4) if math.isfinite(value) else None


def run_simulate(args: argparse.Namespace) -> int:
    spec = CampaignSimSpec(Mode(args.mode), args.agents, args.answer_rate, args.aht, args.hours, args.seed,
                           lines=args.lines, max_abandon=args.max_abandon)
    result = simulate_campaign(spec).as_dict()
    if args.json:
        print(json.dumps({key: _number(value) for key, value in result.items()}))
    else:
        for key, value in result.items():
            print(f"{key}: {_number(value)}")
    return 0


def stored_dnc(db: str | None) -> frozenset[str]:
    """The box's stored do-not-call numbers (E.164); none when its database does not exist yet."""
    path = resolve_db_path(db)
    if not path.is_file():
        if db:  # named on purpose: a wrong path is an error, not an empty list
            raise LineboxError(f"--db {db}: no such database")
        return frozenset()
    with DncList(path) as dnc:
        return dnc.numbers()


def run_check(args: argparse.Namespace) -> int:
    stored = stored_dnc(args.db) if args.dnc is None else frozenset()
    report = check_files(args.leads, args.country, args.dnc, stored)
    if args.json:
        print(json.dumps(report))
        return 0
    for key in ("rows", "valid", "invalid", "duplicates", "dnc", "callable"):
        print(f"{key}: {report[key]}")
    for problem in report["problems"]:
        print(f"line {problem['line']}: {problem['kind']}: {problem['message']}")
    return 0
