"""A campaign's leads in memory: which one is due, within its calling hours, and its retries.

:class:`LeadBook` is the dialler's :class:`~firmware.campaign.dialler.LeadSource` in the box.
Time is passed in: wall-clock epoch seconds of the audio clock's tick (``CallControl.epoch``),
so retries minutes or hours later and the calling hours follow the engine's clock, never
the machine's.

Retry rules (``campaigns[].retries``): after an attempt with outcome O the lead has had
``attempts`` calls; if ``attempts >= retries.O.max_attempts`` the lead is closed with that
outcome, else it is due again ``retries.O.delay_min`` minutes later. A person an agent
took (``contact``) closes it at once; so does a number found on the do-not-call list, or
dispositioned "do not call" (:meth:`LeadBook.block`: the status stays ``dnc`` whatever a call
then in progress ends with).

Calling hours (``campaigns[].calling_hours``): a lead is called only on a day and within the
hours of the window of its time zone (its own, else the first window's), at its local time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from firmware.campaign.dialler import Lead, Outcome
from firmware.config.campaignmodel import CallingWindow, CampaignRetries, RetryRule
from firmware.schedule import WEEKDAYS, zone_info


class LeadStatus(StrEnum):
    OPEN = "open"
    DONE = "done"  # a contact was made
    CLOSED = "closed"  # retries used up (last outcome says why)
    DNC = "dnc"  # the number is on the do-not-call list


CONTACT = "contact"  # an answered call an agent took (the outcome recorded for retries)
ABANDONED = "abandoned"  # a person who heard the abandon message


@dataclass(frozen=True)
class LeadState:
    lead_id: int
    number: str
    name: str = ""
    timezone: str = ""
    attempts: int = 0
    next_due: float = 0.0
    status: LeadStatus = LeadStatus.OPEN
    last_outcome: str = ""

    def lead(self) -> Lead:
        return Lead(self.lead_id, self.number, self.name)


def within_hours(windows: tuple[CallingWindow, ...], timezone: str, epoch: float) -> bool:
    """Whether a lead in ``timezone`` may be called at ``epoch`` (module docstring)."""
    if not windows:
        return False
    window = next((w for w in windows if w.timezone == timezone), windows[0])
    local = dt.datetime.fromtimestamp(epoch, zone_info(window.timezone))
    if WEEKDAYS[local.weekday()] not in window.days:
        return False
    minute = local.hour * 60 + local.minute
    return window.hours.start_min <= minute < window.hours.end_min


def retry_rule(retries: CampaignRetries, outcome: str) -> RetryRule | None:
    """The rule for ``outcome`` (None: the outcome closes the lead)."""
    name = {Outcome.FAILED.value: "congestion"}.get(outcome, outcome)
    return getattr(retries, name, None) if name in CampaignRetries.__dataclass_fields__ else None


def after_attempt(state: LeadState, outcome: str, now: float, retries: CampaignRetries) -> LeadState:
    """The lead after one more attempt with ``outcome`` at ``now`` (module docstring)."""
    attempts = state.attempts + 1
    if outcome == CONTACT:
        return replace(state, attempts=attempts, status=LeadStatus.DONE, last_outcome=outcome)
    rule = retry_rule(retries, outcome)
    if rule is None or attempts >= rule.max_attempts:
        return replace(state, attempts=attempts, status=LeadStatus.CLOSED, last_outcome=outcome)
    return replace(state, attempts=attempts, next_due=now + rule.delay_min * 60.0, last_outcome=outcome)


class LeadBook:
    """The open leads of one campaign, in list order; hands out those due (LeadSource)."""

    def __init__(self, leads: list[LeadState], windows: tuple[CallingWindow, ...], retries: CampaignRetries) -> None:
        self.states: dict[int, LeadState] = {state.lead_id: state for state in leads}
        self.windows = windows
        self.retries = retries
        self.taken: set[int] = set()  # handed to the dialler, not yet back

    def next_lead(self, now: float) -> Lead | None:
        for state in self.states.values():
            if (state.status is LeadStatus.OPEN and state.lead_id not in self.taken and state.next_due <= now
                    and within_hours(self.windows, state.timezone, now)):
                self.taken.add(state.lead_id)
                return state.lead()
        return None

    def put_back(self, lead: Lead) -> None:
        self.taken.discard(lead.lead_id)

    def to_back(self, lead_id: int) -> None:
        """The lead goes to the end of the list (a preview skipped): the others are handed out first."""
        self.states[lead_id] = self.states.pop(lead_id)

    def attempted(self, lead_id: int, outcome: str, now: float) -> LeadState:
        """Records one attempt's outcome; returns the lead's new state (for the store)."""
        self.taken.discard(lead_id)
        before = self.states[lead_id]
        state = after_attempt(before, outcome, now, self.retries)
        if before.status is LeadStatus.DNC:
            state = replace(state, status=LeadStatus.DNC)
        self.states[lead_id] = state
        return state

    def block(self, lead_id: int) -> LeadState:
        """The lead's number is not to be called again (do-not-call); its new state (for the store)."""
        state = replace(self.states[lead_id], status=LeadStatus.DNC, last_outcome="dnc")
        self.states[lead_id] = state
        return state

    def penetration(self) -> float | None:
        """The share of the list dialled at least once (the stored report's definition, store.py)."""
        if not self.states:
            return None
        return round(sum(1 for state in self.states.values() if state.attempts > 0) / len(self.states), 4)

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in LeadStatus}
        for state in self.states.values():
            counts[state.status.value] += 1
        return counts
