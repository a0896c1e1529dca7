"""Dispositions of campaign calls in the running box (virtual board, in process): the dialler
calls a lead, the person answers and is handed to Alice through the ACD, the person hangs up,
and Alice keys "do not call" (3#) on her headset in wrap-up. The code reaches the campaign's
attempt (with Alice's agent id), the number the do-not-call list, and the lead is closed as
``dnc``; a second campaign holding the same number never dials it."""

from __future__ import annotations

import json
from dataclasses import replace

from acd_engine_helpers import events_of, login, queue_config
from features_helpers import LINE_1, PORT, dial, hang_up, office, records, run, state
from test_campaign_service import ALL_DAY

from board.virtual.pstn import FarEnd
from drivers.audiofile import read_audio
from firmware.campaign.console import campaign_lines
from firmware.campaign.leads import LeadStatus
from firmware.campaign.store import CampaignStore
from firmware.config.campaignmodel import Campaign
from firmware.config.model import Contact
from firmware.leads import DncList

HELLO = "/usr/share/asterisk/sounds/en_US_f_Allison/hello.wav"
ALICE = "203"  # agent 1001
LEAD = "2125552001"


def _config():
    config = queue_config(wrapup_s=20)  # the demo's support codes: 3 = "do not call"
    first = Campaign("renewals", "support", enabled=True, lines=(LINE_1,), calling_hours=(ALL_DAY,), amd=False)
    # the same number in a second campaign on the same line: it waits while the first campaign's call
    # and Alice's wrap-up last; what keeps it from dialling once she is free again is the block
    second = Campaign("survey", "support", enabled=True, lines=(LINE_1,), calling_hours=(ALL_DAY,), amd=False)
    return replace(config, campaigns=(first, second))


CONTACTS = (Contact(name="Ann Lee", numbers=(LEAD,)),)


def test_do_not_call_keyed_in_wrapup_reaches_the_attempt_and_the_dnc_list(tmp_path):
    with office(tmp_path, config=_config(), contacts=CONTACTS) as app:
        world_line = app.world.line(LINE_1)
        world_line.script_outgoing(outcome="answer", answer_after_ms=3000, digits=10,
                                   far_end=FarEnd(read_audio(HELLO)))
        login(app, ALICE, "1001")
        for _ in range(30):  # dial tone (blind after 3 s), ten digits, 3 s of ringing, "hello"
            run(app, 1.0)
            if state(app, PORT[ALICE]) == "ringing":
                break
        assert state(app, PORT[ALICE]) == "ringing"
        app.world.phone(PORT[ALICE]).offhook()
        run(app, 3.0)
        world_line.far_end_hangup()
        run(app, 1.5)
        assert state(app, PORT[ALICE]) == "failed"  # busy tone, wrap-up: the disposition is owed
        dial(app, ALICE, "3#", 3.0)
        (line,) = events_of(app, "DISPOSITION")
        assert line[3] == "1001" and line[5:] == ["3", "do not call", "", "1", "dtmf"]
        uniqueid = line[1]
        (record,) = [r for r in records(app) if r.uniqueid == uniqueid]
        assert record.userfield == "campaign renewals lead 1"
        (snapshot, other) = [eval_json(text) for text in campaign_lines(app.switch.control.attached)]
        assert snapshot["name"] == "renewals" and snapshot["dispositions"] == {"3": 1}
        assert other["name"] == "survey" and other["dispositions"] == {} and other["leads"]["dnc"] == 1
        hang_up(app, ALICE)
        run(app, 25.0)  # wrap-up over, Alice free, line 1 idle: the survey campaign does not dial the number
        assert app.acd.core.agents["1001"].state == "available" and not app.acd.core.agents["1001"].phone_busy
        assert state(app, LINE_1) == "idle" and campaign_calls(app) == ["campaign renewals lead 1"]
        app.campaigns.worker.drain()
        with CampaignStore(app.cdr.path) as store:
            (attempt,) = store.attempts("renewals")
            assert (attempt.uniqueid, attempt.agent, attempt.disposition, attempt.outcome) == \
                (uniqueid, "1001", "3", "human")
            assert store.statistics("renewals")["dispositions"] == {"3": 1}
            assert [lead.status for lead in store.leads("renewals")] == [LeadStatus.DNC]
            assert [lead.status for lead in store.leads("survey")] == [LeadStatus.DNC]
            assert store.attempts("survey") == []
        with DncList(app.cdr.path) as dnc:
            assert dnc.numbers() == frozenset({"+1" + LEAD})


def eval_json(text: str) -> dict:
    return json.loads(text)


def campaign_calls(app) -> list[str]:
    """The call records of the calls the campaigns placed (their userfield)."""
    return [r.userfield for r in records(app) if r.userfield.startswith("campaign ")]
