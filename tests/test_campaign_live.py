"""Campaign changes apply live (virtual board, in process): a campaign stored while the box runs
starts dialling; an edit applies to the next call while the call in progress keeps the
settings it was dialled with; ``enabled: false`` pauses it (no new call, the call in progress
goes on), ``enabled: true`` resumes it; a campaign removed stops dialling. All through the
configuration store's subscribers, as any stored change (the web admin's, the console's)."""

from __future__ import annotations

from dataclasses import replace

from acd_engine_helpers import login, queue_config
from features_helpers import LINE_1, office, run, state
from test_campaign_service import ALL_DAY

from firmware.campaign.console import campaign_lines
from firmware.campaign.store import CampaignStore
from firmware.config.campaignmodel import Campaign, CampaignMode
from firmware.config.model import Contact

ALICE = "203"  # agent 1001
NUMBERS = ("2125552001", "2125552002", "2125552003", "2125552004")


CONTACTS = tuple(Contact(name=f"Lead {n}", numbers=(number,)) for n, number in enumerate(NUMBERS, 1))


def _config():
    return queue_config()


def _campaign(**changes) -> Campaign:
    base = Campaign("renewals", "support", enabled=True, lines=(LINE_1,), calling_hours=(ALL_DAY,), amd=False,
                    no_answer_s=30)
    return replace(base, **changes)


def _store(app, *campaigns: Campaign) -> None:
    """Stores the configuration with these campaigns and lets the change reach the loop."""
    app.store.save(replace(app.store.load(), campaigns=campaigns), source="test")
    app.campaigns.worker.drain()  # the leads and recordings read on the writer thread
    run(app, 0.04)  # the loop applies it between two ticks


def _until(app, check, seconds: float) -> float:
    """Runs the box until ``check()``; the simulated seconds it took (fails after ``seconds``)."""
    for step in range(int(seconds * 10)):
        if check():
            return step / 10
        run(app, 0.1)
    raise AssertionError(f"not within {seconds} s")


def _attempts(app) -> list:
    app.campaigns.worker.drain()
    with CampaignStore(app.cdr.path) as store:
        return store.attempts("renewals")


def test_add_edit_pause_resume_and_remove_apply_live(tmp_path):
    with office(tmp_path, config=_config(), contacts=CONTACTS) as app:
        for _ in range(4):
            app.world.line(LINE_1).script_outgoing(outcome="no_answer", digits=10)
        login(app, ALICE, "1001")
        run(app, 3.0)
        assert app.campaigns.services == {} and state(app, LINE_1) == "idle"

        _store(app, _campaign())  # added: it starts without a restart
        service = app.campaigns.services["renewals"]
        _until(app, lambda: bool(service.calls), 2.0)
        (first,) = service.calls.values()
        assert first.lead.lead_id == 1 and first.settings.no_answer_s == 30

        _store(app, _campaign(enabled=False, no_answer_s=15))  # paused and edited during the call
        assert not service.running and service.campaign.no_answer_s == 15
        run(app, 20.0)  # past the new 15 s: the call in progress keeps its 30 s
        assert list(service.calls.values()) == [first] and state(app, LINE_1) != "idle"
        _until(app, lambda: not service.calls, 20.0)
        (attempt,) = _attempts(app)
        assert attempt.outcome == "no_answer" and attempt.ended - attempt.started >= 30.0
        run(app, 10.0)  # paused: Alice is free, the line idle, nothing dialled
        assert not service.calls and state(app, LINE_1) == "idle" and service.dialler.counters.attempts == 1
        assert '"running": false' in campaign_lines(app.switch.control.attached)[0]

        _store(app, _campaign(no_answer_s=15))  # resumed: the next lead, with the new ring time
        assert app.campaigns.services["renewals"] is service  # the same campaign: leads and counters kept
        _until(app, lambda: bool(service.calls), 2.0)
        (second,) = service.calls.values()
        assert second.lead.lead_id == 2 and second.settings.no_answer_s == 15
        _until(app, lambda: not service.calls, 25.0)
        attempt = _attempts(app)[1]
        assert attempt.outcome == "no_answer" and 15.0 <= attempt.ended - attempt.started < 20.0

        _until(app, lambda: bool(service.calls), 2.0)  # the third lead
        _store(app)  # removed during the call: it stops dialling, the call goes on to its end
        assert not service.running and service.calls
        _until(app, lambda: not service.calls, 25.0)
        run(app, 10.0)
        assert [a.lead_id for a in _attempts(app)] == [1, 2, 3] and state(app, LINE_1) == "idle"


def test_mode_change_applies_to_the_next_decision(tmp_path):
    """Progressive to preview live: no call placed, the free agent is shown a lead; back to
    progressive: the preview is taken back and the lead dialled."""
    with office(tmp_path, config=_config(), contacts=CONTACTS) as app:
        app.world.line(LINE_1).script_outgoing(outcome="no_answer", digits=10)
        _store(app, _campaign(mode=CampaignMode.PREVIEW))
        service = app.campaigns.services["renewals"]
        login(app, ALICE, "1001")
        _until(app, lambda: "1001" in service.previews, 3.0)
        assert not service.calls and service.dialler.counters.attempts == 0
        _store(app, _campaign(mode=CampaignMode.PROGRESSIVE))
        assert service.previews == {}  # taken back
        _until(app, lambda: bool(service.calls), 2.0)
        assert next(iter(service.calls.values())).lead.lead_id == 1


def test_a_bad_lead_file_of_a_new_campaign_is_logged_and_changes_nothing(tmp_path, caplog):
    with office(tmp_path, config=_config(), contacts=CONTACTS) as app:
        _store(app, _campaign(lead_source="csv", lead_file="missing.csv"))
        assert app.campaigns.services == {}
        (record,) = [r for r in caplog.records if r.getMessage() == "campaign_not_started"]
        assert record.fields["campaign"] == "renewals" and "missing.csv" in record.fields["reason"]
        run(app, 2.0)  # the box goes on
        assert state(app, LINE_1) == "idle"


def test_campaigns_start_with_an_acd_started_later(tmp_path):
    """A box without queues has no campaign (a campaign names a queue); the first queue stored
    starts the ACD, and with it the campaigns and the do-not-call link (its dispositions)."""
    config = _config()
    bare = replace(config, queues=(), agents=(), routes=(), ivr_flows=())
    with office(tmp_path, config=bare, contacts=CONTACTS) as app:
        assert app.acd is None and app.campaigns.services == {} and app.campaigns.link is None
        app.store.save(replace(app.store.load(), queues=config.queues, agents=config.agents,
                               campaigns=(_campaign(),)), source="test")  # a campaign needs its queue
        run(app, 0.04)  # the ACD starts on the loop; the campaigns' leads are read on their writer thread
        assert app.acd is not None and app.campaigns.worker is not None
        app.campaigns.worker.drain()
        run(app, 0.04)
        assert "renewals" in app.campaigns.services
        assert app.campaigns.link in app.acd.tracker.listeners
