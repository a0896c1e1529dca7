"""Leads a campaign starts with: contacts or CSV, cleaned by contacts' check_leads against the
do-not-call list; the digits the box dials for an E.164 number; the ACD's agents as the dialler sees them."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
from engine_fakes import Rig
from test_campaign_service import ALL_DAY, ScriptedAudio, dialled

from drivers.audiofile import read_audio
from dsp.tonegen import render
from firmware import FirmwareError
from firmware.acd.agent_state import AgentState
from firmware.campaign.attach import AcdAgents, attach_campaigns, campaign_leads, dialled_digits
from firmware.campaign.leads import LeadStatus
from firmware.campaign.service import AgentPresence
from firmware.campaign.store import CampaignStore
from firmware.config.campaignmodel import Campaign, LeadSourceKind
from firmware.config.demo import demo_config
from firmware.config.model import Contact, Zone
from firmware.contacts.store import ContactStore
from firmware.leads import DncList

CONTACTS = (Contact("Ann", ("2125552001",)), Contact("Bob", ("212-555-2002", "2125552001")),
            Contact("Carl", ("555",)), Contact("Dora", ("2125552004",)))


def test_contacts_leads_without_duplicates_invalid_or_dnc(tmp_path):
    with DncList(tmp_path / "linebox.db") as dnc:
        dnc.add("2125552004", "us", source="test")
        numbers = sorted(dnc.numbers())
    leads = campaign_leads(Campaign("c", "support"), demo_config(), tmp_path, numbers, CONTACTS)
    assert leads == [("+12125552001", "Ann", ""), ("+12125552002", "Bob", "")]


def test_csv_leads_with_time_zones(tmp_path):
    (tmp_path / "campaigns").mkdir()
    (tmp_path / "campaigns" / "list.csv").write_text(
        "name,number,timezone\nAnn,2125552001,America/New_York\nZed,3105550100,America/Los_Angeles\n")
    campaign = Campaign("c", "support", lead_source=LeadSourceKind.CSV, lead_file="list.csv")
    assert campaign_leads(campaign, demo_config(), tmp_path, ["+13105550100"]) == [
        ("+12125552001", "Ann", "America/New_York")]


def test_missing_csv_is_one_clear_error(tmp_path):
    campaign = Campaign("c", "support", lead_source=LeadSourceKind.CSV, lead_file="none.csv")
    with pytest.raises(FirmwareError, match="campaign c: lead list .*none.csv"):
        campaign_leads(campaign, demo_config(), tmp_path, [])


@pytest.mark.parametrize("zone, number, digits", [
    (Zone.US, "+12125552001", "2125552001"),  # NANP: the 10 digits
    (Zone.US, "+4930123456", "0114930123456"),  # international from the US: 011
    (Zone.DE, "+4930123456", "030123456"),  # national with the trunk prefix 0
    (Zone.DE, "+12125552001", "0012125552001"),
])
def test_dialled_digits(zone, number, digits):
    assert dialled_digits(number, dataclasses.replace(demo_config(), zone=zone)) == digits


def test_acd_agents_free_busy_away():
    def agent(agent_id, state, phone_busy=False, queues=("support",)):
        return SimpleNamespace(agent_id=agent_id, state=state, phone_busy=phone_busy, logged_queues=set(queues))
    core = SimpleNamespace(members={"support": [
        agent("1", AgentState.AVAILABLE), agent("2", AgentState.AVAILABLE, phone_busy=True),
        agent("3", AgentState.WRAP_UP), agent("4", AgentState.PAUSED), agent("5", AgentState.AVAILABLE, queues=())]})
    assert AcdAgents(core).agent_states("support") == {
        "1": AgentPresence.FREE, "2": AgentPresence.BUSY, "3": AgentPresence.BUSY, "4": AgentPresence.AWAY,
        "5": AgentPresence.AWAY}
    assert AcdAgents(core).agent_states("sales") == {}


def test_attached_campaign_stores_its_attempts(tmp_path):
    """attach_campaigns on the real switch: leads from contacts stored, a busy attempt written by
    the writer thread, the lead's retry state with it; closing writes what is queued."""
    campaign = Campaign("c", "support", enabled=True, calling_hours=(ALL_DAY,), lines=(0,), amd=False)
    config = dataclasses.replace(demo_config(), campaigns=(campaign,))
    with ContactStore(tmp_path / "linebox.db") as contacts:  # the lead source: the contact store
        contacts.add([CONTACTS[0], Contact("Bob", ("212-555-2002",)), *CONTACTS[2:]], "us")  # a number is one contact's
    rig = Rig(config)
    audio = ScriptedAudio()
    rig.loop.audio = audio
    core = SimpleNamespace(members={"support": [SimpleNamespace(agent_id="1001", state=AgentState.AVAILABLE,
                                                                 phone_busy=False, logged_queues={"support"})]})
    running = attach_campaigns(rig.switch.control, rig.loop.taps, core, config, tmp_path / "linebox.db", [],
                               read_audio)
    service = running.services["c"]
    rig.loop.step()
    dialled(rig, service)
    audio.say(0, render(rig.switch.control.plan.busy, 8000 * 4))
    rig.run(4.0)
    running.close()
    with CampaignStore(tmp_path / "linebox.db") as store:
        (attempt,) = store.attempts("c")
        assert (attempt.lead_id, attempt.number, attempt.outcome) == (1, "2125552001", "busy")
        leads = store.leads("c")
        assert [lead.number for lead in leads] == ["2125552001", "2125552002", "2125552004"]
        assert leads[0].attempts == 1 and leads[0].status is LeadStatus.OPEN and leads[0].last_outcome == "busy"


def test_no_enabled_campaign_opens_nothing(tmp_path):

    running = attach_campaigns(None, [], None, demo_config(), tmp_path / "linebox.db", [], lambda path: None)
    assert running.services == {} and not (tmp_path / "linebox.db").exists()
    running.close()
