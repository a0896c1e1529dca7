"""The wallboard and the agent desk pages against a fake engine (its console answers): roles,
colours at the queue's targets, actions sent as console commands, the screen pop of a known
and an unknown caller with the script filled in, and the event stream."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from test_web import login, token_of
from web_helpers import PASSWORD, Clock, FakeEngine, make_accounts, make_app, make_services

from firmware.cdr import CallRecord, Disposition, HangupBy
from firmware.config.model import Contact
from firmware.desk.dispositions import make_disposition
from webadmin.deskview import queue_figures

ANN = Contact("Ann Lee", numbers=("2125550101",), account="4711", fields=(("plan", "gold"),))


def desk_answer(call: dict | None, version: int = 3) -> str:
    return json.dumps({"version": version, "agents": [
        {"agent": "1001", "name": "Alice", "state": "oncall" if call else "available", "pause_reason": "",
         "port": 4, "call": call}]})


class DeskEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__()
        self.call: dict | None = None

    def run(self, command: str) -> list[str]:
        if command.startswith("show desk"):
            self.commands.append(command)
            return [desk_answer(self.call)]
        return super().run(command)


@pytest.fixture
def box(tmp_path):
    accounts = make_accounts(tmp_path)
    for name, role in (("ada", "admin"), ("sue", "supervisor"), ("alice", "agent"), ("agent1002", "agent"), ("zed", "agent"),
                       ("ian", "installer")):
        accounts.add(name, role, PASSWORD, 0.0)
    engine = DeskEngine()
    services = make_services(tmp_path, accounts=accounts, engine=engine, clock=Clock())
    services.contacts.add([ANN], "us")
    yield make_app(services), services, engine
    services.store.close()


def _call(number="2125550101", variables=None, phase="connected"):
    return {"uniqueid": "1764000000.1.9", "queue": "support", "caller_number": number, "caller_name": "",
            "variables": variables or {}, "phase": phase, "offered_at": 1764000000.0, "disposition": ""}


def test_wallboard_is_for_supervisors_and_admins(box):
    app, _, _ = box
    for name, status in (("sue", 200), ("ada", 200), ("alice", 403), ("ian", 403)):
        client = app.test_client()
        login(client, name)
        assert client.get("/wallboard").status_code == status, name


def test_wallboard_colours_figures_past_the_queues_targets(box):
    app, services, _ = box
    client = app.test_client()
    login(client, "sue")
    board = client.get("/api/wallboard").get_json()
    (queue,) = board["queues"]
    # DEMO_STATUS: service level 75 % (< 80), abandon 25 % (> 5), ASA 12.5 s (< 20), longest wait 9 s (< 60)
    assert queue["alert"] == {"service_level": True, "abandon": True, "asa": False, "longest_wait": False}
    assert (queue["service_level_percent"], queue["abandon_percent"], queue["waiting"]) == (75.0, 25.0, 1)
    assert board["agents"][0]["agent"] == "1001"


@pytest.mark.parametrize(("figure", "value", "alert"), [
    ("service_level", 0.80, False), ("service_level", 0.799, True),
    ("abandon_rate", 0.05, False), ("abandon_rate", 0.051, True),
    ("asa_seconds", 20.0, False), ("asa_seconds", 20.1, True),
    ("longest_wait_seconds", 60.0, False), ("longest_wait_seconds", 60.5, True),
])
def test_targets_edges(box, figure, value, alert):
    _, services, _ = box
    row = {"queue": "support", "service_level": 0.9, "abandon_rate": 0.0, "asa_seconds": 1.0,
           "longest_wait_seconds": 0.0, figure: value}
    name = {"service_level": "service_level", "abandon_rate": "abandon", "asa_seconds": "asa",
            "longest_wait_seconds": "longest_wait"}[figure]
    assert queue_figures(row, services.store.load())["alert"][name] is alert


def test_supervisor_pauses_an_agent_through_the_console(box):
    app, _, engine = box
    client = app.test_client()
    token = token_of(login(client, "sue").request and client.get("/agent"))
    answer = client.post("/wallboard/agent", data={"agent": "1001", "action": "pause", "reason": "coaching"},
                         headers={"X-CSRF-Token": token})
    assert answer.status_code == 200 and engine.commands[-1] == "agent pause 1001 reason=coaching"
    bad = client.post("/wallboard/agent", data={"agent": "1001; rm", "action": "pause"},
                      headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and engine.commands[-1] == "agent pause 1001 reason=coaching"


def test_screen_pop_of_a_known_caller_with_the_script_and_history(box):
    app, services, engine = box
    earlier = CallRecord(uniqueid="1763900000.1.2", start=1763900000.0, end=1763900060.0, answer=1763900005.0,
                         disposition=Disposition.ANSWERED, hangup_by=HangupBy.CALLER, caller_number="2125550101")
    services.cdr.record(earlier)
    services.cdr.dispose(make_disposition(services.store.load().queue("support").desk, uniqueid=earlier.uniqueid,
                                          queue="support", agent="1002", caller_number="2125550101", code="1",
                                          note="fixed", callback_at=None, source="dtmf", now=1763900070.0))
    engine.call = _call()
    client = app.test_client()
    login(client, "alice")
    pop = client.get("/api/desk").get_json()
    call = pop["call"]
    assert call["contact"]["name"] == "Ann Lee" and call["contact"]["fields"] == {"plan": "gold"}
    assert call["script"] == ("Hello Ann Lee, thank you for calling support. I see account 4711; "
                              "how can I help?")
    assert [(h["uniqueid"], h["code"], h["note"]) for h in call["history"]] == [(earlier.uniqueid, "1", "fixed")]
    assert [c["code"] for c in call["codes"]] == ["1", "2", "3"]
    assert engine.commands[-1] == "show desk agent=1001"


def test_screen_pop_by_the_account_the_ivr_collected_and_of_an_unknown_caller(box):
    app, _, engine = box
    client = app.test_client()
    login(client, "alice")
    engine.call = _call(number="", variables={"account": "4711"})
    assert client.get("/api/desk").get_json()["call"]["contact"]["name"] == "Ann Lee"
    engine.call = _call(number="5550000")
    call = client.get("/api/desk").get_json()["call"]
    assert call["contact"] is None and call["script"].startswith("Hello …, thank you")


def test_an_acd_callback_pops_like_an_inbound_call_and_booked_callbacks_are_listed(box):
    """``show desk`` of a callback the ACD places (kind callback, the caller's number as received):
    the same contact, script and history as the caller's inbound call; the agent's booked callbacks."""
    app, services, engine = box
    earlier = CallRecord(uniqueid="1763900000.1.2", start=1763900000.0, end=1763900060.0, answer=None,
                         disposition=Disposition.NO_ANSWER, hangup_by=HangupBy.CALLER, caller_number="2125550101")
    services.cdr.record(earlier)
    engine.call = {**_call(phase="offered"), "uniqueid": "1764000000.1.3", "kind": "callback"}
    client = app.test_client()
    login(client, "alice")
    pop = client.get("/api/desk").get_json()
    assert pop["call"]["kind"] == "callback" and pop["call"]["contact"]["name"] == "Ann Lee"
    assert pop["call"]["script"].startswith("Hello Ann Lee,")
    assert [h["uniqueid"] for h in pop["call"]["history"]] == [earlier.uniqueid]
    assert pop["callbacks"] == []  # none booked
    booked = [{"due": 1764003600.0, "queue": "support", "number": "2125550101"}]
    engine.run = lambda command, run=engine.run: (
        [desk_answer(None).replace('"call": null', f'"call": null, "callbacks": {json.dumps(booked)}')]
        if command.startswith("show desk") else run(command))
    pop = client.get("/api/desk").get_json()
    assert pop["call"] is None and pop["callbacks"] == booked


def test_an_account_that_is_no_agents_is_refused_and_supervisors_pick_one(box):
    app, _, engine = box
    client = app.test_client()
    login(client, "zed")
    assert client.get("/api/desk").status_code == 403
    client = app.test_client()
    login(client, "agent1002")
    assert client.get("/api/desk").status_code == 200 and engine.commands[-1] == "show desk agent=1002"
    client = app.test_client()
    login(client, "sue")
    assert client.get("/api/desk?agent=1001").status_code == 200
    assert client.get("/api/desk?agent=99").status_code == 404


def test_disposition_from_the_page_goes_to_the_console_encoded(box):
    app, _, engine = box
    engine.call = _call(phase="ended")
    client = app.test_client()
    token = token_of(login(client, "alice").request and client.get("/agent"))
    answer = client.post("/desk/dispose", data={"code": "2", "note": "after lunch | ok", "callback": "1764003600"},
                         headers={"X-CSRF-Token": token})
    assert answer.status_code == 200
    assert engine.commands[-1] == ("agent dispose 1001 2 note=" + urllib.parse.quote("after lunch | ok", safe="")
                                   + " callback=1764003600")
    assert client.post("/desk/dispose", data={"code": "x"}, headers={"X-CSRF-Token": token}).status_code == 400


def test_event_stream_sends_the_pop_as_a_server_sent_event(box):
    app, _, engine = box
    engine.call = _call()
    client = app.test_client()
    login(client, "alice")
    response = client.get("/desk/events", buffered=False)
    assert response.mimetype == "text/event-stream"
    chunks = iter(response.response)
    assert next(chunks).startswith(b"retry:")
    event = next(chunks).decode()
    assert event.startswith("data: ") and json.loads(event[6:])["call"]["contact"]["name"] == "Ann Lee"
    response.close()
