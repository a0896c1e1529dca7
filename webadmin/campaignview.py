"""The engine's ``show campaigns`` as the web pages show it (pure: no Flask, no engine).

``show campaigns`` answers one JSON object per running campaign (firmware/campaign/console.py),
or one plain line when none runs. :func:`read_figures` turns that into ``{name: figures}``;
:func:`board_rows` joins them with the configured campaigns for the campaigns page and the
wallboard (abandon rate in percent, flagged when over the campaign's ``max_abandon_rate``);
:func:`preview_of` finds the lead a preview campaign holds for one agent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from firmware import FirmwareError


def read_figures(lines: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{campaign name: its snapshot}`` of ``show campaigns``' lines (non-JSON lines are the
    engine's "no campaign running" and are skipped); FirmwareError for a JSON line that is no
    campaign's snapshot."""
    figures: dict[str, dict[str, Any]] = {}
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            snapshot = json.loads(line)
        except ValueError as exc:
            raise FirmwareError(f"the engine's campaign figures could not be read: {exc}") from exc
        if not isinstance(snapshot, dict) or not isinstance(snapshot.get("name"), str):
            raise FirmwareError("the engine's campaign figures could not be read: a line names no campaign")
        figures[snapshot["name"]] = snapshot
    return figures


def engine_figures(engine) -> dict[str, Any]:
    """``{"campaigns": {name: figures}}`` from the engine, or ``{"error": why}``."""
    try:
        return {"campaigns": read_figures(engine.run("show campaigns"))}
    except FirmwareError as exc:
        return {"error": str(exc)}


def _percent(rate: Any) -> float | None:
    return None if not isinstance(rate, (int, float)) or isinstance(rate, bool) else round(100.0 * rate, 1)


def _counts(value: Any) -> dict[str, int]:
    """A ``{code: count}`` mapping from the engine, kept to its whole-number entries."""
    if not isinstance(value, Mapping):
        return {}
    return {str(key): count for key, count in value.items()
            if isinstance(count, int) and not isinstance(count, bool)}


def board_rows(figures: Mapping[str, Mapping[str, Any]], campaigns: Iterable[Any]) -> list[dict[str, Any]]:
    """One row per configured campaign (in the configuration's order), with its live figures
    when the engine runs it; ``alert`` when the abandon rate is over the campaign's maximum."""
    rows = []
    for campaign in campaigns:
        live = figures.get(campaign.name)
        limit = round(100.0 * campaign.max_abandon_rate, 1)
        abandon = _percent(live.get("abandon_rate")) if live else None
        rows.append({
            "name": campaign.name, "mode": str(campaign.mode), "queue": campaign.queue,
            "enabled": campaign.enabled, "running": bool(live and live.get("running")), "live": live is not None,
            "attempts": live.get("attempts", 0) if live else None,
            "answered": live.get("answered", 0) if live else None,
            "contacts": live.get("contacts", 0) if live else None,
            "abandoned": live.get("abandoned", 0) if live else None,
            "contacts_per_agent_hour": live.get("contacts_per_agent_hour") if live else None,
            # issue 15's other live figures: talk + wrap-up over logged-in time, the list dialled so far
            "productivity_percent": _percent(live.get("agent_productivity")) if live else None,
            "penetration_percent": _percent(live.get("penetration")) if live else None,
            "dispositions": _counts(live.get("dispositions")) if live else {},
            "abandon_percent": abandon, "max_abandon_percent": limit,
            "alert": abandon is not None and abandon > limit,
            "leads": dict(live.get("leads") or {}) if live else {},
            "previews": len(live.get("previews") or {}) if live else 0,
        })
    return rows


def preview_of(figures: Mapping[str, Mapping[str, Any]], agent: str) -> dict[str, Any] | None:
    """The lead a preview campaign shows ``agent`` now: ``{"campaign", "lead", "number", "name"}``, or None."""
    for name, live in figures.items():
        lead = (live.get("preview_leads") or {}).get(agent)
        if isinstance(lead, dict):
            return {"campaign": name, "lead": lead.get("lead"), "number": str(lead.get("number", "")),
                    "name": str(lead.get("name", ""))}
        lead_id = (live.get("previews") or {}).get(agent)
        if lead_id is not None:
            return {"campaign": name, "lead": lead_id, "number": "", "name": ""}
    return None
