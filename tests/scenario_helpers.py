"""Running the example scenarios of tests/scenarios/ and reading their reports.

Each scenario test module runs its scenarios once (module-scoped fixtures) and asserts on
the report: the scenario's own expectations must hold (``passed``), and the tests check
more of what was observed than the file does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from linebox.sim.runner import Report, run_scenario
from linebox.sim.scenario import Scenario, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")


def scenario(name: str) -> Scenario:
    return load_scenario(SCENARIOS / f"{name}.yaml")


def scenario_with(name: str, change) -> Scenario:
    """The example ``name`` with ``change(data)`` applied to its plain YAML data first."""
    data = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text())
    change(data)
    return parse_scenario(data, SCENARIOS, default_name=name)


def run(name: str, **kwargs: Any) -> Report:
    return run_scenario(scenario(name), **kwargs)


def assert_passed(report: Report) -> None:
    assert report.passed, f"{report.data['scenario']}: {report.failure}"


def port(report: Report, number: int) -> dict[str, Any]:
    return report.data["ports"][number]


def states(report: Report, number: int) -> list[str]:
    """The states the port went through, in order (repeats collapsed)."""
    seen: list[str] = []
    for entry in port(report, number)["states"]:
        if not seen or seen[-1] != entry["state"]:
            seen.append(entry["state"])
    return seen


def tones(report: Report, number: int) -> list[str]:
    return [entry["tone"] for entry in port(report, number)["tones_heard"]]


def events(report: Report, name: str, **fields: Any) -> list[dict[str, Any]]:
    return [e for e in report.data["log"] if e["event"] == name and all(e.get(k) == v for k, v in fields.items())]


def calls(report: Report) -> list[dict[str, Any]]:
    return report.data["calls"]


def step_data(report: Report, index: int) -> dict[str, Any]:
    return report.data["steps"][index]


def without_timing(report: Report) -> dict[str, Any]:
    return {key: value for key, value in report.data.items() if key != "timing"}
