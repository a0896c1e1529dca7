"""Campaign leads and attempts in the box's SQLite database (component ``campaign``).

Tables (own migrations, :data:`MIGRATIONS`):

- ``campaign_leads``: one row per lead of a campaign: its number (as dialled), name, time zone,
  attempts so far, when it is due again (epoch seconds), status (open, done, closed, dnc) and
  its last outcome;
- ``campaign_attempts``: one row per call placed: lead, number, start, outcome (human,
  machine, busy, no_answer, congestion, disconnected, failed), answer and connect times, the
  ACD agent id of the agent who took it, abandoned, end, the agent's disposition code (set
  when the agent enters it, :meth:`CampaignStore.set_disposition`) and the call's uniqueid.

Every write is one transaction; the engine service calls these methods on a worker thread
(``firmware/engine/worker.py``), never on the media loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware import FirmwareError
from firmware.campaign.leads import LeadState, LeadStatus
from firmware.config.db import Migration, connect, migrate, transaction

COMPONENT = "campaign"
MIGRATIONS = (
    Migration(1, "campaign leads and attempts", (
        "CREATE TABLE campaign_leads ("
        " campaign TEXT NOT NULL, lead_id INTEGER NOT NULL, number TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',"
        " timezone TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0, next_due REAL NOT NULL DEFAULT 0,"
        " status TEXT NOT NULL DEFAULT 'open', last_outcome TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (campaign, lead_id))",
        "CREATE TABLE campaign_attempts ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT, campaign TEXT NOT NULL, lead_id INTEGER NOT NULL,"
        " number TEXT NOT NULL, started REAL NOT NULL, outcome TEXT NOT NULL, answered REAL, connected REAL,"
        " agent TEXT NOT NULL DEFAULT '', abandoned INTEGER NOT NULL DEFAULT 0, ended REAL,"
        " disposition TEXT NOT NULL DEFAULT '')",
        "CREATE INDEX campaign_attempts_campaign ON campaign_attempts (campaign, started)",
    )),
    # the call's uniqueid (the call record's and queue_log's): an agent's disposition finds its attempt
    Migration(2, "campaign attempts carry the call's uniqueid", (
        "ALTER TABLE campaign_attempts ADD COLUMN uniqueid TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX campaign_attempts_uniqueid ON campaign_attempts (uniqueid)",
    )),
)


@dataclass(frozen=True)
class AttemptRecord:
    campaign: str
    lead_id: int
    number: str
    started: float
    outcome: str
    answered: float | None = None
    connected: float | None = None
    agent: str = ""
    abandoned: bool = False
    ended: float | None = None
    disposition: str = ""
    uniqueid: str = ""  # the call's (call record, queue_log); empty for a call no agent took


class CampaignStore:
    """The campaign tables of one database file."""

    def __init__(self, path: str | Path) -> None:
        self.conn = connect(path)
        migrate(self.conn, COMPONENT, MIGRATIONS)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> CampaignStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_leads(self, campaign: str, leads: list[tuple[str, str, str]]) -> int:
        """Appends ``(number, name, timezone)`` leads to ``campaign`` (a number it has is skipped)."""
        with transaction(self.conn):
            known = {row[0] for row in self.conn.execute(
                "SELECT number FROM campaign_leads WHERE campaign = ?", (campaign,))}
            (last,) = self.conn.execute("SELECT COALESCE(MAX(lead_id), 0) FROM campaign_leads WHERE campaign = ?",
                                        (campaign,)).fetchone()
            added = 0
            for number, name, timezone in leads:
                if number in known:
                    continue
                known.add(number)
                last += 1
                added += 1
                self.conn.execute("INSERT INTO campaign_leads (campaign, lead_id, number, name, timezone)"
                                  " VALUES (?, ?, ?, ?, ?)", (campaign, last, number, name, timezone))
        return added

    def leads(self, campaign: str) -> list[LeadState]:
        return [LeadState(lead_id, number, name, timezone, attempts, next_due, LeadStatus(status), last)
                for lead_id, number, name, timezone, attempts, next_due, status, last in self.conn.execute(
                    "SELECT lead_id, number, name, timezone, attempts, next_due, status, last_outcome"
                    " FROM campaign_leads WHERE campaign = ? ORDER BY lead_id", (campaign,))]

    def save_lead(self, campaign: str, state: LeadState) -> None:
        with transaction(self.conn):
            cursor = self.conn.execute(
                "UPDATE campaign_leads SET attempts = ?, next_due = ?, status = ?, last_outcome = ?"
                " WHERE campaign = ? AND lead_id = ?",
                (state.attempts, state.next_due, state.status.value, state.last_outcome, campaign, state.lead_id))
            if cursor.rowcount != 1:
                raise FirmwareError(f"campaign {campaign}: no lead {state.lead_id}")

    def add_attempt(self, record: AttemptRecord) -> int:
        with transaction(self.conn):
            cursor = self.conn.execute(
                "INSERT INTO campaign_attempts (campaign, lead_id, number, started, outcome, answered, connected,"
                " agent, abandoned, ended, disposition, uniqueid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (record.campaign, record.lead_id, record.number, record.started, record.outcome, record.answered,
                 record.connected, record.agent, int(record.abandoned), record.ended, record.disposition,
                 record.uniqueid))
            return int(cursor.lastrowid or 0)

    def set_disposition(self, uniqueid: str, code: str) -> bool:
        """The agent's disposition code on the attempt of call ``uniqueid``; False if there is none."""
        if not uniqueid:
            return False
        with transaction(self.conn):
            return self.conn.execute("UPDATE campaign_attempts SET disposition = ? WHERE uniqueid = ?",
                                     (code, uniqueid)).rowcount > 0

    def attempts(self, campaign: str) -> list[AttemptRecord]:
        return [AttemptRecord(campaign, lead_id, number, started, outcome, answered, connected, agent,
                              bool(abandoned), ended, disposition, uniqueid)
                for (lead_id, number, started, outcome, answered, connected, agent, abandoned, ended, disposition,
                     uniqueid) in self.conn.execute(
                    "SELECT lead_id, number, started, outcome, answered, connected, agent, abandoned, ended,"
                    " disposition, uniqueid FROM campaign_attempts WHERE campaign = ? ORDER BY id", (campaign,))]

    def campaigns(self) -> list[str]:
        """The names of every campaign with stored leads or attempts, sorted."""
        return [name for (name,) in self.conn.execute(
            "SELECT campaign FROM campaign_leads UNION SELECT campaign FROM campaign_attempts ORDER BY 1")]

    def statistics(self, campaign: str) -> dict[str, Any]:
        """The campaign's figures from its stored attempts and leads (docs/campaigns.md)."""
        return campaign_statistics(self.attempts(campaign), self.leads(campaign))


def campaign_statistics(attempts: list[AttemptRecord], leads: list[LeadState],
                        agent_seconds: dict[str, tuple[float, float]] | None = None) -> dict[str, Any]:
    """Attempts, contacts, penetration, dispositions, abandon rate; per agent (when the logged-in
    and handle seconds are given) contacts per hour and productivity = talk + wrap-up / logged in."""
    answered = [a for a in attempts if a.answered is not None]
    contacts = [a for a in attempts if a.connected is not None]
    abandoned = sum(1 for a in attempts if a.abandoned)
    outcomes: dict[str, int] = {}
    dispositions: dict[str, int] = {}
    for attempt in attempts:
        outcomes[attempt.outcome] = outcomes.get(attempt.outcome, 0) + 1
        if attempt.disposition:
            dispositions[attempt.disposition] = dispositions.get(attempt.disposition, 0) + 1
    touched = sum(1 for lead in leads if lead.attempts > 0)
    agents: dict[str, dict[str, Any]] = {}
    total_logged = 0.0
    for agent_id, (logged, handle) in sorted((agent_seconds or {}).items()):
        count = sum(1 for a in contacts if a.agent == agent_id)
        total_logged += logged
        agents[agent_id] = {"contacts": count, "logged_in_s": round(logged, 1),
                            "contacts_per_hour": round(count / (logged / 3600.0), 2) if logged > 0 else None,
                            "productivity": round(handle / logged, 4) if logged > 0 else None}
    return {
        "attempts": len(attempts),
        "answered": len(answered),
        "contacts": len(contacts),
        "abandoned": abandoned,
        "abandon_rate": round(abandoned / len(answered), 4) if answered else None,
        "leads": len(leads),
        "penetration": round(touched / len(leads), 4) if leads else None,
        "leads_done": sum(1 for lead in leads if lead.status is not LeadStatus.OPEN),
        "outcomes": outcomes,
        "dispositions": dispositions,
        "contacts_per_agent_hour": round(len(contacts) / (total_logged / 3600.0), 2) if total_logged > 0 else None,
        "agents": agents,
    }
