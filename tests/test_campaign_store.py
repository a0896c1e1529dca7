"""Campaign leads, retries, calling hours and the attempts store."""

from __future__ import annotations

import datetime as dt

import pytest

from firmware import FirmwareError
from firmware.campaign.leads import CONTACT, LeadBook, LeadState, LeadStatus, after_attempt, within_hours
from firmware.campaign.store import AttemptRecord, CampaignStore, campaign_statistics
from firmware.config.campaignmodel import CallingWindow, CampaignRetries, RetryRule
from firmware.schedule import TimeRange

NY = CallingWindow("America/New_York", ("mon", "tue", "wed", "thu", "fri"), TimeRange(9 * 60, 20 * 60))
LA = CallingWindow("America/Los_Angeles", ("sat",), TimeRange(10 * 60, 12 * 60))
RETRIES = CampaignRetries(busy=RetryRule(3, 10), no_answer=RetryRule(2, 60), disconnected=RetryRule(1, 0))


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize("when, timezone, allowed", [
    ("2026-12-07T09:00:00-05:00", "America/New_York", True),  # Monday 09:00 in New York: first minute
    ("2026-12-07T08:59:59-05:00", "America/New_York", False),
    ("2026-12-07T19:59:59-05:00", "America/New_York", True),
    ("2026-12-07T20:00:00-05:00", "America/New_York", False),  # the end is not inside
    ("2026-12-05T12:00:00-05:00", "America/New_York", False),  # Saturday
    ("2026-12-05T10:30:00-08:00", "America/Los_Angeles", True),  # Saturday in LA
    ("2026-12-07T10:30:00-08:00", "America/Los_Angeles", False),  # Monday in LA: only Saturdays
    ("2026-12-07T10:30:00-05:00", "", True),  # no time zone: the first window's
])
def test_calling_hours_at_the_leads_local_time(when, timezone, allowed):
    assert within_hours((NY, LA), timezone, epoch(when)) is allowed


def test_no_windows_no_calls():
    assert not within_hours((), "", epoch("2026-12-07T12:00:00-05:00"))


def test_retry_rules_per_outcome():
    lead = LeadState(1, "2125552001")
    busy = after_attempt(lead, "busy", 1000.0, RETRIES)
    assert (busy.attempts, busy.next_due, busy.status) == (1, 1000.0 + 600, LeadStatus.OPEN)
    busy = after_attempt(after_attempt(busy, "busy", 2000.0, RETRIES), "busy", 3000.0, RETRIES)
    assert busy.status is LeadStatus.CLOSED and busy.attempts == 3 and busy.last_outcome == "busy"
    assert after_attempt(lead, "disconnected", 0.0, RETRIES).status is LeadStatus.CLOSED  # SIT: once
    assert after_attempt(lead, CONTACT, 0.0, RETRIES).status is LeadStatus.DONE
    no_answer = after_attempt(after_attempt(lead, "no_answer", 0.0, RETRIES), "no_answer", 3600.0, RETRIES)
    assert no_answer.status is LeadStatus.CLOSED
    assert after_attempt(lead, "machine", 0.0, RETRIES).next_due == 240 * 60  # the default machine rule


def test_lead_book_hands_out_due_leads_in_hours_and_takes_retries():
    monday = epoch("2026-12-07T10:00:00-05:00")
    book = LeadBook([LeadState(1, "1"), LeadState(2, "2"), LeadState(3, "3", status=LeadStatus.DNC)], (NY,), RETRIES)
    first, second = book.next_lead(monday), book.next_lead(monday)
    assert (first.lead_id, second.lead_id) == (1, 2) and book.next_lead(monday) is None
    book.attempted(1, "busy", monday)
    assert book.next_lead(monday + 599) is None
    assert book.next_lead(monday + 600).lead_id == 1
    book.put_back(second)
    assert book.next_lead(monday + 600).lead_id == 2
    assert book.next_lead(epoch("2026-12-07T21:00:00-05:00")) is None  # after hours nothing
    assert book.counts() == {"open": 2, "done": 0, "closed": 0, "dnc": 1}
    assert book.penetration() == round(1 / 3, 4)  # lead 1 dialled once; 2 handed out, never dialled


def test_lead_book_penetration_is_the_share_dialled_at_least_once():
    book = LeadBook([LeadState(i, str(i)) for i in range(1, 5)], (NY,), RETRIES)
    assert book.penetration() == 0.0
    monday = epoch("2026-12-07T10:00:00-05:00")
    book.attempted(1, "busy", monday)
    book.attempted(1, "busy", monday + 600)  # a retry is not a second lead
    book.attempted(4, "contact", monday)
    assert book.penetration() == 0.5
    assert LeadBook([], (NY,), RETRIES).penetration() is None


def test_store_keeps_leads_and_attempts(tmp_path):
    path = tmp_path / "linebox.db"
    with CampaignStore(path) as store:
        assert store.add_leads("c", [("+12125552001", "Ann", ""), ("+12125552002", "Bob", "America/Chicago"),
                                     ("+12125552001", "Ann twice", "")]) == 2
        state = after_attempt(store.leads("c")[0], "busy", 100.0, RETRIES)
        store.save_lead("c", state)
        store.add_attempt(AttemptRecord("c", 1, "+12125552001", 50.0, "busy", ended=58.0))
        store.add_attempt(AttemptRecord("c", 2, "+12125552002", 60.0, "human", answered=70.0, connected=70.5,
                                        agent="1001", ended=200.0, disposition="1"))
        with pytest.raises(FirmwareError, match="no lead 9"):
            store.save_lead("c", LeadState(9, "x"))
    with CampaignStore(path) as again:
        assert again.leads("c")[0] == state
        assert again.leads("c")[1].timezone == "America/Chicago"
        stats = again.statistics("c")
        assert (stats["attempts"], stats["answered"], stats["contacts"], stats["abandoned"]) == (2, 1, 1, 0)
        assert stats["abandon_rate"] == 0.0 and stats["penetration"] == 0.5 and stats["dispositions"] == {"1": 1}


def test_statistics_per_agent_productivity():
    attempts = [AttemptRecord("c", i, str(i), 0.0, "human", answered=1.0, connected=1.5, agent="a") for i in range(3)]
    attempts.append(AttemptRecord("c", 9, "9", 0.0, "human", answered=1.0, abandoned=True))
    stats = campaign_statistics(attempts, [], {"a": (3600.0, 2700.0)})
    assert stats["abandon_rate"] == 0.25 and stats["contacts_per_agent_hour"] == 3.0
    assert stats["agents"]["a"] == {"contacts": 3, "logged_in_s": 3600.0, "contacts_per_hour": 3.0,
                                    "productivity": 0.75}
