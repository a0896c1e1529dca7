"""Whole-campaign statistics for the reports: from the campaign store and the ACD's intervals.

:func:`campaign_report` joins, for one campaign, its stored attempts and leads
(:func:`firmware.campaign.store.campaign_statistics`: attempts, answered, contacts,
penetration of the list, outcomes, dispositions, abandon rate) with its agents' time from the
ACD's 15-minute agent intervals (``acd_intervals``, :mod:`firmware.acdengine.history`) over
the campaign's period (the first attempt's start to the last attempt's end, in whole
intervals): per agent the logged-in seconds (every ACD state but logged out, pauses
included) and the handle seconds (on a call + wrap-up), hence contacts per agent-hour and
agent productivity = (talk + wrap-up) / logged-in time, per agent and for all of them.

The ACD measures agents, not campaigns: an agent of the campaign's queue who also took
inbound calls in that period has that work counted too (for a queue that serves only the
campaign the figures are the campaign's), and the interval still open (the last 15 minutes)
is not stored yet. Pure but for the two stores passed in; time is what the stores hold.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from firmware.acd.agent_state import AgentState
from firmware.acd.stats import INTERVAL_SECONDS, AgentStats
from firmware.campaign.store import CampaignStore, campaign_statistics

HANDLE_STATES = (AgentState.ON_CALL.value, AgentState.WRAP_UP.value)  # talk + wrap-up
CSV_COLUMNS = ("campaign", "agent", "attempts", "answered", "contacts", "abandoned", "abandon_rate", "leads",
               "leads_attempted", "penetration", "logged_in_hours", "contacts_per_agent_hour", "agent_productivity",
               "outcomes", "dispositions", "first_attempt_utc", "last_attempt_utc")


class AgentIntervals(Protocol):
    """``IntervalStore.agent_rows``: one agent's interval statistics, oldest first."""

    def agent_rows(self, agent: str, size_seconds: int, since: float | None = None,
                   until: float | None = None) -> list[tuple[float, AgentStats]]: ...


def agent_seconds(stats: Iterable[AgentStats]) -> tuple[float, float]:
    """(logged-in seconds, talk + wrap-up seconds) of an agent's intervals."""
    logged = handle = 0.0
    for each in stats:
        for state, seconds in each.state_seconds.items():
            if state != AgentState.LOGGED_OUT.value:
                logged += seconds
            if state in HANDLE_STATES:
                handle += seconds
    return logged, handle


def campaign_report(store: CampaignStore, intervals: AgentIntervals | None, name: str,
                    agents: Sequence[str] = ()) -> dict[str, Any]:
    """The statistics of campaign ``name`` over its whole life (module docstring). ``agents``:
    the agents of its queue (those who took its calls are added)."""
    attempts = store.attempts(name)
    leads = store.leads(name)
    first = min((a.started for a in attempts), default=None)
    last = max((a.ended if a.ended is not None else a.started for a in attempts), default=None)
    seconds: dict[str, tuple[float, float]] = {}
    if intervals is not None and first is not None and last is not None:
        since = math.floor(first / INTERVAL_SECONDS) * INTERVAL_SECONDS
        for agent in sorted(set(agents) | {a.agent for a in attempts if a.agent}):
            rows = intervals.agent_rows(agent, INTERVAL_SECONDS, since, last)
            if rows:
                seconds[agent] = agent_seconds(stats for _, stats in rows)
    figures = campaign_statistics(attempts, leads, seconds)
    logged = sum(value[0] for value in seconds.values())
    handle = sum(value[1] for value in seconds.values())
    figures.update({
        "name": name,
        "leads_attempted": sum(1 for lead in leads if lead.attempts > 0),
        "logged_in_s": round(logged, 1),
        "agent_productivity": round(handle / logged, 4) if logged > 0 else None,
        "first_attempt": first,
        "last_attempt": last,
    })
    return figures


def _counts(counts: dict[str, int]) -> str:
    return ";".join(f"{key}={value}" for key, value in sorted(counts.items()))


def _utc(epoch: float | None) -> str:
    return "" if epoch is None else dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    # a spreadsheet runs a cell starting with = + - @ as a formula (campaign names and codes are text)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def report_csv(reports: Sequence[dict[str, Any]]) -> str:
    """One row per campaign (``agent`` empty) followed by one row per agent of it (:data:`CSV_COLUMNS`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(CSV_COLUMNS)
    for report in reports:
        writer.writerow([_cell(value) for value in (
            report["name"], "", report["attempts"], report["answered"], report["contacts"], report["abandoned"],
            report["abandon_rate"], report["leads"], report["leads_attempted"], report["penetration"],
            round(report["logged_in_s"] / 3600.0, 3), report["contacts_per_agent_hour"], report["agent_productivity"],
            _counts(report["outcomes"]), _counts(report["dispositions"]), _utc(report["first_attempt"]),
            _utc(report["last_attempt"]))])
        for agent, figures in report["agents"].items():
            writer.writerow([_cell(value) for value in (
                report["name"], agent, "", "", figures["contacts"], "", "", "", "", "",
                round(figures["logged_in_s"] / 3600.0, 3), figures["contacts_per_hour"], figures["productivity"],
                "", "", "", "")])
    return out.getvalue()
