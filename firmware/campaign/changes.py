"""What a stored configuration changes in the running campaigns, as a plan (pure).

:func:`plan_changes` compares the campaigns the engine runs (each as it was last applied,
and whether it is dialling) with those of a new snapshot and says what to do, in the
order :meth:`firmware.campaign.attach.Campaigns.apply` does it between two ticks:

- ``stop``: campaigns dialling that were deleted (``removed``) or set ``enabled: false``
  (``disabled``): no new call, previews taken back, calls in progress go on;
- ``reconfigure``: campaigns whose settings changed (one line per setting), running or not;
- ``resume``: stopped campaigns enabled again (their leads and counters kept);
- ``start``: enabled campaigns the engine does not run yet (their leads are read first).

An identical snapshot gives an empty plan. docs/campaigns.md, "Live changes".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from enum import Enum

from firmware.config.campaignmodel import Campaign


@dataclass(frozen=True)
class CampaignPlan:
    stop: tuple[tuple[str, str], ...] = ()  # (campaign, reason: removed | disabled)
    reconfigure: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (campaign, one line per setting changed)
    resume: tuple[str, ...] = ()
    start: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.stop or self.reconfigure or self.resume or self.start)


def _show(value: object) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return repr(value) if isinstance(value, str) else str(value)


def describe_changes(old: Campaign, new: Campaign) -> tuple[str, ...]:
    """``mode 'progressive' -> 'preview'``-style lines, one per setting that differs."""
    return tuple(f"{f.name} {_show(getattr(old, f.name))} -> {_show(getattr(new, f.name))}"
                 for f in fields(Campaign) if getattr(old, f.name) != getattr(new, f.name))


def plan_changes(running: Mapping[str, tuple[Campaign, bool]], wanted: Sequence[Campaign]) -> CampaignPlan:
    """The plan from the engine's campaigns (``name -> (as applied, dialling)``) to ``wanted``."""
    names = {campaign.name for campaign in wanted}
    stop = [(name, "removed") for name, (_, dialling) in running.items() if dialling and name not in names]
    reconfigure, resume, start = [], [], []
    for campaign in wanted:
        known = running.get(campaign.name)
        if known is None:
            if campaign.enabled:
                start.append(campaign.name)
            continue
        applied, dialling = known
        changes = describe_changes(applied, campaign)
        if changes:
            reconfigure.append((campaign.name, changes))
        if dialling and not campaign.enabled:
            stop.append((campaign.name, "disabled"))
        elif not dialling and campaign.enabled:
            resume.append(campaign.name)
    return CampaignPlan(tuple(stop), tuple(reconfigure), tuple(resume), tuple(start))
