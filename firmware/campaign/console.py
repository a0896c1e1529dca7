"""The technician's console and the web admin's view of the running campaigns.

``show campaigns``: one JSON object per campaign (the service's live figures: attempts,
contacts, abandon rate, contacts per agent-hour, agent productivity, dispositions per code,
leads, previews waiting), for the wallboard and reports; ``campaign accept|skip AGENT
[campaign=NAME]``: the preview decision of an agent (the agent page sends it). Both run on the loop's thread
through the console's gateway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from firmware import FirmwareError
from firmware.campaign.service import CampaignService

AGENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


def campaign_services(attached: Iterable[object]) -> list[CampaignService]:
    """The campaigns attached to call control (``CallControlApi.attached``)."""
    return [service for service in attached if isinstance(service, CampaignService)]


def campaign_lines(attached: Iterable[object]) -> list[str]:
    services = campaign_services(attached)
    if not services:
        return ["no campaign running (campaigns[].enabled in the configuration; a stored change applies at once)"]
    return [json.dumps(service.snapshot(), sort_keys=True) for service in services]


def preview_decision(attached: Iterable[object], agent: str, accept: bool, campaign: str | None = None) -> str:
    """The agent's accept (the box dials the lead shown) or skip; one line saying what was done."""
    if not AGENT_RE.fullmatch(agent):
        raise FirmwareError(f"agent {agent[:40]!r}: expected an agent id (letters, digits, _ . -; up to 32)")
    services = [s for s in campaign_services(attached) if campaign is None or s.campaign.name == campaign]
    if not services:
        raise FirmwareError(f"no campaign {campaign} running" if campaign else "no campaign running")
    for service in services:
        if agent in service.previews:
            if accept:
                lead = service.preview_accept(agent)
                return f"campaign {service.campaign.name}: dialling lead {lead.lead_id} for agent {agent}"
            service.preview_skip(agent)
            return f"campaign {service.campaign.name}: agent {agent} skipped the lead"
    raise FirmwareError(f"agent {agent} has no lead in preview")
