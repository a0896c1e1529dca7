"""The outbound campaigns' part of the configuration (``campaigns:``, issue 15): frozen
dataclasses like the rest of :mod:`firmware.config.model`, which holds them in
:class:`~firmware.config.model.Config`. What the fields mean: docs/campaigns.md; their
bounds: :mod:`firmware.config.campaigncodec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from firmware.schedule import TimeRange


class CampaignMode(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    PREDICTIVE = "predictive"


class LeadSourceKind(StrEnum):
    CONTACTS = "contacts"  # every number of the contact store (firmware/contacts/store.py)
    CSV = "csv"  # a CSV file under the box's data folder (docs/campaigns.md: its columns)


@dataclass(frozen=True)
class RetryRule:
    """How often and how soon a lead is tried again after one outcome."""

    max_attempts: int
    delay_min: int


@dataclass(frozen=True)
class CampaignRetries:
    """Per outcome of an attempt; a person reached (an agent took the call) is never retried."""

    busy: RetryRule = RetryRule(5, 10)
    no_answer: RetryRule = RetryRule(3, 120)
    machine: RetryRule = RetryRule(3, 240)
    congestion: RetryRule = RetryRule(5, 5)
    disconnected: RetryRule = RetryRule(1, 0)  # SIT: the number is not in service
    abandoned: RetryRule = RetryRule(3, 60)  # a person who heard the abandon message


@dataclass(frozen=True)
class CallingWindow:
    """When leads in ``timezone`` may be called: ``days`` (mon-sun) and ``hours`` (within 08:00-21:00)."""

    timezone: str
    days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    hours: TimeRange = TimeRange(9 * 60, 20 * 60)


@dataclass(frozen=True)
class Campaign:
    """An outbound campaign (docs/campaigns.md)."""

    name: str
    queue: str
    """The ACD queue whose agents take its calls (its script and disposition codes serve the campaign)."""
    mode: CampaignMode = CampaignMode.PROGRESSIVE
    enabled: bool = False
    lead_source: LeadSourceKind = LeadSourceKind.CONTACTS
    lead_file: str = ""
    """The CSV's file name under ``<data>/campaigns/`` (lead_source csv)."""
    country: str = ""
    """The leads' country for number validation (ISO 3166 alpha-2; '' = the zone's)."""
    lines: tuple[int, ...] = ()
    """The FXO ports it may use; () = every line."""
    calling_hours: tuple[CallingWindow, ...] = ()
    retries: CampaignRetries = CampaignRetries()
    max_abandon_rate: float = 0.03
    no_answer_s: int = 30
    amd: bool = True
    machine_message: str = ""
    """A recording left after the machine's beep ('' = hang up)."""
    abandon_message: str = ""
    """The recording an abandoned call hears (required for predictive)."""
