"""Dispositions of campaign calls against fakes: the desk tells its listeners, the campaign
store writes the code to the attempt by the call's uniqueid (migration 2 on an older file),
the service owns only its calls and records the ACD agent id, a "do not call" code blocks
the number (E.164) in every campaign and goes to the do-not-call list, and nothing else does."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from engine_fakes import Rig
from test_campaign_service import ALL_DAY, RETRIES, Agents, dialled, setup
from test_desk import NOW, FakeDesk

from drivers.logs import EventLogger
from drivers.ports import PolarityReversal
from firmware import FirmwareError
from firmware.campaign.attach import AcdAgents, DispositionLink
from firmware.campaign.dialler import Dialler, Mode
from firmware.campaign.leads import LeadBook, LeadState, LeadStatus
from firmware.campaign.service import AgentPresence, CampaignService
from firmware.campaign.store import MIGRATIONS, AttemptRecord, CampaignStore
from firmware.cdr import CallDisposition
from firmware.config.campaignmodel import Campaign
from firmware.config.db import connect, migrate

ZONE = "us"


def disposition(uniqueid: str, code: str = "1", dnc: bool = False, number: str = "") -> CallDisposition:
    return CallDisposition(uniqueid=uniqueid, entered=NOW, queue="support", agent="1001", code=code,
                           label="x", caller_number=number, do_not_call=dnc, source="dtmf")


# ----------------------------------------------------------------------------- the desk's listeners

def test_the_desk_tells_its_listeners_each_stored_disposition_and_no_refused_one():
    fake = FakeDesk()
    heard: list[CallDisposition] = []
    fake.tracker.listeners.append(heard.append)
    fake.call("u1")
    with pytest.raises(FirmwareError):
        fake.tracker.dispose("1001", "9", "", None, "page", NOW)  # not a code of the queue
    assert heard == []
    entry = fake.tracker.dispose("1001", "3", "", None, "page", NOW)
    assert heard == [entry] and entry.do_not_call and entry.uniqueid == "u1"


# ----------------------------------------------------------------------------- the store

def test_the_attempt_of_a_call_takes_its_disposition_and_the_statistics_count_it(tmp_path):
    with CampaignStore(tmp_path / "db.sqlite") as store:
        store.add_leads("c", [("2125552001", "", ""), ("2125552002", "", "")])
        store.add_attempt(AttemptRecord("c", 1, "2125552001", NOW, "busy"))  # nobody took it: no uniqueid
        store.add_attempt(AttemptRecord("c", 2, "2125552002", NOW, "human", NOW, NOW, "1001", uniqueid="u2"))
        store.add_attempt(AttemptRecord("c", 1, "2125552001", NOW, "human", NOW, NOW, "1002", uniqueid="u3"))
        assert store.set_disposition("u2", "3") and store.set_disposition("u3", "1")
        assert not store.set_disposition("nobody", "1") and not store.set_disposition("", "1")
        assert [a.disposition for a in store.attempts("c")] == ["", "3", "1"]
        assert [a.uniqueid for a in store.attempts("c")] == ["", "u2", "u3"]
        assert store.statistics("c")["dispositions"] == {"3": 1, "1": 1}


def test_migration_2_adds_the_uniqueid_to_attempts_stored_before(tmp_path):
    path = tmp_path / "db.sqlite"
    conn = connect(path)
    migrate(conn, "campaign", MIGRATIONS, upto=1)
    conn.execute("INSERT INTO campaign_attempts (campaign, lead_id, number, started, outcome) "
                 "VALUES ('c', 1, '2125552001', 1.0, 'busy')")
    conn.close()
    with CampaignStore(path) as store:
        (old,) = store.attempts("c")
        assert old.uniqueid == "" and old.outcome == "busy"


# ----------------------------------------------------------------------------- leads

def test_a_blocked_lead_stays_dnc_whatever_its_call_in_progress_ends_with():
    book = LeadBook([LeadState(1, "2125552001"), LeadState(2, "2125552002")], (ALL_DAY,), RETRIES)
    lead = book.next_lead(1_764_086_400.0)  # 2025-11-25 16:00 UTC, in hours
    assert lead is not None and lead.lead_id == 1
    assert book.block(1).status is LeadStatus.DNC
    assert book.attempted(1, "busy", 1_764_086_500.0).status is LeadStatus.DNC  # would be retried otherwise
    assert book.next_lead(1_764_090_000.0).lead_id == 2 and book.counts()["dnc"] == 1


# ----------------------------------------------------------------------------- the service

def _to_agent(**changes):
    """A progressive call answered (polarity reversal) and handed to the (fake) queue."""
    rig, audio, queue, service, stored = setup(polarity=True, **changes)
    rig.loop.step()
    dialled(rig, service)
    rig.event(PolarityReversal(0))
    rig.run(0.2)
    assert queue.taken == [0]
    return rig, service, stored


def test_the_service_writes_the_disposition_of_its_own_call_only():
    rig, service, stored = _to_agent()
    written: list[tuple[str, str]] = []
    service.store_disposition = lambda uniqueid, code: written.append((uniqueid, code)) or True
    call = rig.switch.control.call_at(0)
    uniqueid = rig.switch.control.uniqueid(call)
    assert service.disposed(disposition("someone-else")) is None and written == []
    rig.switch.control.end_service_call(call, "test")
    rig.run(0.2)
    (attempt,) = [r for r in stored if isinstance(r, AttemptRecord)]
    assert attempt.uniqueid == uniqueid and attempt.agent == "a"  # the agent the dialler handed it to
    assert service.disposed(disposition(uniqueid, "2")) == "5550001"  # the lead's number, as dialled
    assert written == [(uniqueid, "2")] and service.snapshot()["dispositions"] == {"2": 1}


def test_the_attempt_records_the_acd_agent_who_answered_not_the_extension():
    rig, service, stored = _to_agent()
    service.agent_at = {4: "1002"}.get  # the ACD gave the call to another agent, logged in at port 4
    call = rig.switch.control.call_at(0)
    service.answered(call, 4)
    rig.switch.control.end_service_call(call, "test")
    rig.run(0.2)
    (attempt,) = [r for r in stored if isinstance(r, AttemptRecord)]
    assert attempt.agent == "1002"


def _service_with(numbers: list[str], written: list) -> CampaignService:
    spec = Campaign("c", "support", mode=Mode.PROGRESSIVE, enabled=True, calling_hours=(ALL_DAY,), retries=RETRIES)
    book = LeadBook([LeadState(i, n) for i, n in enumerate(numbers, 1)], spec.calling_hours, spec.retries)
    return CampaignService(Rig().switch.control, spec, Dialler(Mode.PROGRESSIVE, book), book,
                           Agents(a=AgentPresence.FREE), write=lambda job: job(), store_attempt=written.append,
                           store_lead=written.append)


def test_block_number_matches_leads_in_any_written_form_and_stores_them():
    written: list = []
    service = _service_with(["2125552001", "12125552002", "0119613331111", "2125552001"], written)
    assert service.block_number("+12125552001", ZONE) == [1, 4]
    assert service.block_number("+12125552001", ZONE) == []  # already blocked: nothing stored again
    assert service.block_number("+12125552002", ZONE) == [2]
    assert [(s.lead_id, s.status) for s in written] == [(1, LeadStatus.DNC), (4, LeadStatus.DNC),
                                                        (2, LeadStatus.DNC)]
    assert service.book.states[3].status is LeadStatus.OPEN


# ----------------------------------------------------------------------------- the link to the DNC list

class FakeService:
    def __init__(self, owns: dict[str, str]) -> None:
        self.owns, self.seen, self.blocked = owns, [], []

    def disposed(self, entry):
        self.seen.append(entry.uniqueid)
        return self.owns.get(entry.uniqueid)

    def block_number(self, e164, zone):
        self.blocked.append((e164, zone))
        return []


def _link():
    mine, other = FakeService({"u1": "2125552001"}), FakeService({})
    added: list = []
    jobs: list = []
    link = DispositionLink([mine, other], ZONE, jobs.append, lambda *args: added.append(args),
                           EventLogger("campaign"))
    return link, mine, other, added, jobs


def test_do_not_call_on_a_campaign_call_blocks_the_leads_number_everywhere():
    link, mine, other, added, jobs = _link()
    link(disposition("u1", "3", dnc=True, number=""))  # an outbound call has no caller ID: the lead's number
    assert mine.blocked == other.blocked == [("+12125552001", ZONE)]
    assert added == [] and len(jobs) == 1  # the list is written on the writer thread
    jobs[0]()
    assert added == [("+12125552001", ZONE, "disposition 3 call u1", NOW)]


def test_do_not_call_on_an_inbound_call_blocks_the_callers_number():
    link, mine, other, added, jobs = _link()
    link(disposition("in-7", "3", dnc=True, number="(212) 555-0101"))
    assert mine.seen == other.seen == ["in-7"] and other.blocked == [("+12125550101", ZONE)]
    jobs[0]()
    assert added[0][0] == "+12125550101"


@pytest.mark.parametrize("number", ["", "P", "12"])  # no caller ID, withheld, not a number
def test_do_not_call_without_a_valid_number_changes_nothing(number, caplog):
    link, mine, other, added, jobs = _link()
    link(disposition("in-8", "3", dnc=True, number=number))
    assert jobs == [] and mine.blocked == other.blocked == []
    assert "dnc_not_added" in caplog.text


def test_a_code_without_do_not_call_blocks_nothing():
    link, mine, other, added, jobs = _link()
    link(disposition("u1", "1"))
    assert mine.seen == ["u1"] and jobs == [] and mine.blocked == other.blocked == []


def test_acd_agents_name_the_agent_logged_in_at_a_port():
    agents = AcdAgents(SimpleNamespace(members={}), {"1001": 4, "1002": 5})
    assert (agents.agent_at(4), agents.agent_at(5), agents.agent_at(2)) == ("1001", "1002", None)
    assert AcdAgents(SimpleNamespace(members={})).agent_at(4) is None



def test_a_corrected_disposition_is_counted_once_under_its_new_code():
    rig, service, stored = _to_agent()
    uniqueid = rig.switch.control.uniqueid(rig.switch.control.call_at(0))
    service.disposed(disposition(uniqueid, "1"))
    service.disposed(disposition(uniqueid, "2"))
    assert service.snapshot()["dispositions"] == {"2": 1}


def test_a_blocked_lead_shown_in_preview_is_taken_back_and_the_next_one_shown():
    rig, audio, queue, service, stored = setup(mode=Mode.PREVIEW)
    service.book.states = {1: LeadState(1, "2125552001"), 2: LeadState(2, "2125552002")}
    rig.run(1.2)
    assert service.previews == {"a": service.book.states[1].lead()}
    assert service.block_number("+12125552001", ZONE) == [1]
    assert service.previews == {}
    with pytest.raises(FirmwareError, match="no lead to accept"):
        service.preview_accept("a")
    rig.run(1.2)
    assert service.previews == {"a": service.book.states[2].lead()} and rig.state(0) == "idle"
