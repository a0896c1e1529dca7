"""The campaigns page, the campaign figures on the wallboard and the preview on the agent page,
against a fake engine (its console's answers to ``show campaigns`` and ``campaign accept|skip``)."""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import replace

import pytest
from test_web import login, token_of
from web_helpers import PASSWORD, Clock, FakeEngine, make_accounts, make_app, make_services

from firmware import FirmwareError
from firmware.acdengine.history import IntervalRow
from firmware.campaign.hygiene import check_files
from firmware.campaign.report import report_csv
from firmware.campaign.store import AttemptRecord, CampaignStore
from firmware.contacts.csvfile import MAX_CSV_BYTES
from firmware.leads import DncList
from webadmin.campaignview import board_rows, preview_of, read_figures

CAMPAIGN = """\
name: renewals
queue: support
mode: preview
enabled: true
lead_source: csv
lead_file: renewals.csv
calling_hours:
- {timezone: America/New_York, days: [mon, tue, wed, thu, fri], hours: '09:00-20:00'}
max_abandon_rate: 0.03
no_answer_s: 30
"""
LEADS = ("name,number\nAnn,212-555-0101\nBob,(212) 555-0102\nAnn again,+1 212 555 0101\nNo number,\n"
         "Short,555\nCarl,212 555 0103\n")
DNC = "number\n2125550103\n"
# the same file as the CLI reads it: rows 6, valid 4 (2 invalid), 1 duplicate, 1 do-not-call, 2 callable
EXPECTED = {"rows": 6, "valid": 4, "invalid": 2, "duplicates": 1, "dnc": 1, "callable": 2}


def snapshot(name="renewals", attempts=40, answered=20, contacts=19, abandoned=1, previews=None, running=True):
    previews = previews or {}
    return {"name": name, "mode": "preview", "running": running, "attempts": attempts, "answered": answered,
            "contacts": contacts, "abandoned": abandoned, "abandon_rate": abandoned / answered if answered else 0.0,
            "machines": 0, "outcomes": {}, "contacts_per_agent_hour": 7.5, "agent_productivity": 0.6, "calls": [],
            "leads": {"open": 10, "done": 19}, "penetration": 0.6552, "dispositions": {"1": 12, "3": 2},
            "previews": {a: lead["lead"] for a, lead in previews.items()},
            "preview_leads": previews}


class CampaignEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__()
        self.campaigns: list[dict] = []
        self.refuse: str | None = None

    def run(self, command: str) -> list[str]:
        if self.down:
            return super().run(command)  # the engine's refusal
        if command == "show campaigns":
            self.commands.append(command)
            if not self.campaigns:
                return ["no campaign running (campaigns[].enabled in the configuration; a stored change applies at once)"]
            return [json.dumps(c, sort_keys=True) for c in self.campaigns]
        if command.startswith("show desk"):
            self.commands.append(command)
            return [json.dumps({"version": 1, "agents": [{"agent": "1001", "name": "Alice", "state": "available",
                                                          "pause_reason": "", "port": 4, "call": None}]})]
        if command.startswith("campaign ") and self.refuse:
            self.commands.append(command)
            raise FirmwareError(self.refuse)
        return super().run(command)


@pytest.fixture
def box(tmp_path):
    accounts = make_accounts(tmp_path)
    for name, role in (("ada", "admin"), ("ian", "installer"), ("sue", "supervisor"), ("alice", "agent")):
        accounts.add(name, role, PASSWORD, 0.0)
    engine = CampaignEngine()
    services = make_services(tmp_path, accounts=accounts, engine=engine, clock=Clock())
    yield make_app(services), services, engine
    services.store.close()


def client_of(app, name):
    client = app.test_client()
    login(client, name)
    return client


def save_new(client, text=CAMPAIGN):
    page = client.get("/campaigns/new")
    revision = int(page.get_data(as_text=True).split('name="revision" value="')[1].split('"')[0])
    return client.post("/campaigns/new", data={"csrf_token": token_of(page), "revision": str(revision),
                                               "campaign": text})


# ----------------------------------------------------------------------------- the figures, pure

def test_read_figures_skips_the_no_campaign_line_and_refuses_garbage():
    assert read_figures(["no campaign running (...)"]) == {}
    assert read_figures([json.dumps(snapshot())])["renewals"]["attempts"] == 40
    with pytest.raises(Exception, match="could not be read"):
        read_figures(['{"name": 3}'])
    with pytest.raises(Exception, match="could not be read"):
        read_figures(["{not json"])


@pytest.mark.parametrize(("abandoned", "alert"), [(0, False), (3, False), (4, True)])
def test_abandon_alert_edges_at_the_campaigns_maximum(box, abandoned, alert):
    """3 of 100 answered is 3.0 %: at the 0.03 maximum, not over it; 4 is over (16 CFR 310.4(b)(4)(i))."""
    _, services, _ = box
    client = client_of(box[0], "ada")
    assert save_new(client).status_code == 302
    rows = board_rows({"renewals": snapshot(answered=100, abandoned=abandoned)}, services.store.load().campaigns)
    assert rows[0]["abandon_percent"] == float(abandoned) and rows[0]["max_abandon_percent"] == 3.0
    assert rows[0]["alert"] is alert


def test_preview_of_finds_the_agents_lead():
    figures = {"renewals": snapshot(previews={"1001": {"lead": 7, "number": "+12125550101", "name": "Ann"}})}
    assert preview_of(figures, "1001") == {"campaign": "renewals", "lead": 7, "number": "+12125550101",
                                           "name": "Ann"}
    assert preview_of(figures, "1002") is None


# ----------------------------------------------------------------------------- roles and set-up

def test_roles(box):
    app, _, _ = box
    for name, page, new in (("ada", 200, 200), ("ian", 200, 200), ("sue", 200, 403), ("alice", 403, 403)):
        client = client_of(app, name)
        assert client.get("/campaigns/").status_code == page, name
        assert client.get("/campaigns/new").status_code == new, name
    sue = client_of(app, "sue")
    assert 'href="/campaigns/new"' not in sue.get("/campaigns/").get_data(as_text=True)


def test_new_campaign_is_stored_through_the_configuration_and_listed_with_live_figures(box):
    app, services, engine = box
    client = client_of(app, "ian")
    response = save_new(client)
    assert response.status_code == 302
    (campaign,) = services.store.load().campaigns
    assert (campaign.name, campaign.queue, str(campaign.mode), campaign.lead_file) == (
        "renewals", "support", "preview", "renewals.csv")
    engine.campaigns = [snapshot(answered=20, abandoned=1)]
    page = client.get("/campaigns/").get_data(as_text=True)
    row = page.split('id="campaign-renewals"')[1].split("</tr>")[0]
    assert '<td class="attempts">40</td>' in row and '<td class="contacts">19</td>' in row
    assert "5.0 %" in row and 'class="abandon alert"' in row  # 1 of 20 = 5 % > 3 %


def test_the_edit_refuses_bad_campaigns_with_the_field_named_and_stores_nothing(box):
    app, services, _ = box
    client = client_of(app, "ada")
    before = services.store.config_version()
    cases = {
        CAMPAIGN.replace("max_abandon_rate: 0.03", "max_abandon_rate: 0.05"): "max_abandon_rate: expected a number 0-0.03",
        CAMPAIGN.replace("'09:00-20:00'", "'07:00-20:00'"): "calling_hours[0].hours: 07:00-20:00 is outside the legal",
        CAMPAIGN.replace("no_answer_s: 30", "no_answer_s: 10"): "no_answer_s",
        CAMPAIGN.replace("queue: support", "queue: nosuch"): "nosuch",
        "name: [unclosed": "line",
        "- a list": "the campaign is a mapping",
    }
    for text, expected in cases.items():
        response = save_new(client, text)
        body = response.get_data(as_text=True)
        assert response.status_code == 400, text
        assert expected in body, (expected, body.split('id="campaign-problems"')[1][:300])
    assert services.store.config_version() == before and services.store.load().campaigns == ()


def test_edit_replaces_the_campaign_and_a_stale_revision_is_refused(box):
    app, services, _ = box
    client = client_of(app, "ada")
    save_new(client)
    page = client.get("/campaigns/item/renewals")
    assert page.status_code == 200 and "lead_file: renewals.csv" in page.get_data(as_text=True)
    token, revision = token_of(page), services.store.config_version()
    edited = CAMPAIGN.replace("lead_file: renewals.csv", "lead_file: spring.csv")
    stale = client.post("/campaigns/item/renewals", data={"csrf_token": token, "revision": str(revision - 1),
                                                          "campaign": edited})
    assert stale.status_code == 400 and "changed by someone else" in stale.get_data(as_text=True)
    ok = client.post("/campaigns/item/renewals", data={"csrf_token": token, "revision": str(revision),
                                                       "campaign": edited})
    assert ok.status_code == 302 and services.store.load().campaigns[0].lead_file == "spring.csv"
    assert client.get("/campaigns/item/nosuch").status_code == 404
    deleted = client.post("/campaigns/item/renewals/delete",
                          data={"csrf_token": token, "revision": str(services.store.config_version())})
    assert deleted.status_code == 302 and services.store.load().campaigns == ()


# ----------------------------------------------------------------------------- lead hygiene

def check(client, leads: bytes | None, dnc: bytes | None = None, country="US"):
    token = token_of(client.get("/campaigns/"))
    data = {"csrf_token": token, "country": country}
    if leads is not None:
        data["leads"] = (io.BytesIO(leads), "leads.csv")
    if dnc is not None:
        data["dnc"] = (io.BytesIO(dnc), "dnc.csv")
    return client.post("/campaigns/check", data=data, content_type="multipart/form-data")


def figures_of(body: str) -> dict[str, int]:
    return {key: int(body.split(f'id="r-{key}">')[1].split("<")[0]) for key in EXPECTED}


def test_hygiene_report_is_the_clis(box, tmp_path):
    app, _, _ = box
    client = client_of(app, "sue")  # supervisors check lead lists too; nothing is stored
    response = check(client, LEADS.encode(), DNC.encode())
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and figures_of(body) == EXPECTED
    (tmp_path / "l.csv").write_text(LEADS)
    (tmp_path / "d.csv").write_text(DNC)
    cli = check_files(tmp_path / "l.csv", "US", tmp_path / "d.csv")
    assert {key: cli[key] for key in EXPECTED} == EXPECTED
    problems = body.split('id="lead-problems"')[1]
    for problem in cli["problems"]:  # every problem, with its CSV line
        assert f"<td>{problem['line']}</td><td>{problem['kind']}</td>" in problems
    assert "same number as line 2" in problems and "on the do-not-call list" in problems


def test_hygiene_uses_the_stored_dnc_list_as_the_cli_does(box, tmp_path):
    """The box's stored do-not-call list (what the campaigns filter with, and what "do not call"
    dispositions fill) is checked without any upload, the same as ``linebox campaign check``."""
    app, services, _ = box
    with DncList(services.cdr.path) as stored:
        stored.add("212 555 0103", "us", source="test")  # Carl
    body = check(client_of(app, "ada"), LEADS.encode()).get_data(as_text=True)
    assert figures_of(body) == EXPECTED  # the same figures as with the DNC upload
    assert "the stored do-not-call list (1 numbers)" in body
    (tmp_path / "l.csv").write_text(LEADS)
    with DncList(services.cdr.path) as stored:
        cli = check_files(tmp_path / "l.csv", "US", stored=stored.numbers())
    assert {key: cli[key] for key in EXPECTED} == EXPECTED


@pytest.mark.parametrize(("leads", "dnc", "country", "expected"), [
    (None, None, "US", "choose the lead list"),
    (b"name,number\nA,\xff\xfe\x00\x01\n", None, "US", "lead list leads.csv:"),
    (b"x" * (MAX_CSV_BYTES + 1), None, "US", f"more than {MAX_CSV_BYTES} bytes"),
    (b"name,email\nA,a@b\n", None, "US", "no number column"),
    (LEADS.encode(), b"\x00\x00", "US", "do-not-call list dnc.csv:"),
    (LEADS.encode(), None, "ZZ", "country 'ZZ'"),
])
def test_hygiene_uploads_are_checked_at_the_edge_with_one_line(box, leads, dnc, country, expected):
    client = client_of(box[0], "ada")
    response = check(client, leads, dnc, country)
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    error = html.unescape(body.split('id="check-error">')[1].split("</p>")[0])
    assert expected in error and "\n" not in error
    assert 'id="report"' not in body


def test_a_csv_of_exactly_the_limit_is_checked(box):
    """The edge: MAX_CSV_BYTES is accepted (one byte more is refused above)."""
    client = client_of(box[0], "ada")
    rows = [b"number,name\n"] + [b"2125550101,%043d\n" % n for n in range(19_060)]  # 55 bytes a row
    data = b"".join(rows)
    pad = MAX_CSV_BYTES - len(data)
    assert 0 < pad < 400
    data = data[:-1] + b"x" * pad + b"\n"  # the last name made longer
    assert len(data) == MAX_CSV_BYTES
    body = check(client, data).get_data(as_text=True)
    assert figures_of(body) == {"rows": 19_060, "valid": 19_060, "invalid": 0, "duplicates": 19_059, "dnc": 0,
                                "callable": 1}


# ----------------------------------------------------------------------------- wallboard and preview

def test_wallboard_shows_campaign_figures_coloured_over_the_maximum(box):
    app, _, engine = box
    client = client_of(app, "ada")
    save_new(client)
    engine.campaigns = [snapshot(attempts=40, contacts=19, answered=20, abandoned=1)]
    board = client.get("/api/wallboard").get_json()
    (row,) = board["campaigns"]
    assert (row["attempts"], row["contacts"], row["contacts_per_agent_hour"]) == (40, 19, 7.5)
    assert (row["abandon_percent"], row["max_abandon_percent"], row["alert"]) == (5.0, 3.0, True)
    engine.campaigns = [snapshot(answered=100, abandoned=3)]
    assert client.get("/api/wallboard").get_json()["campaigns"][0]["alert"] is False


def test_wallboard_shows_productivity_penetration_and_dispositions(box):
    """Issue 15's live figures: agent productivity (talk + wrap-up over logged-in time), the
    share of the list dialled, the dispositions per code; absent figures show as none."""
    app, _, engine = box
    client = client_of(app, "ada")
    save_new(client)
    engine.campaigns = [snapshot()]
    (row,) = client.get("/api/wallboard").get_json()["campaigns"]
    assert (row["productivity_percent"], row["penetration_percent"]) == (60.0, 65.5)
    assert row["dispositions"] == {"1": 12, "3": 2}
    bare = snapshot()
    bare.update(agent_productivity=None, penetration=None, dispositions={"1": "x", "2": True, "3": 4})
    engine.campaigns = [bare]
    (row,) = client.get("/api/wallboard").get_json()["campaigns"]
    assert (row["productivity_percent"], row["penetration_percent"], row["dispositions"]) == (None, None, {"3": 4})


def test_wallboard_without_campaigns_asks_the_engine_nothing_about_them(box):
    app, _, engine = box
    client = client_of(app, "sue")
    assert client.get("/api/wallboard").get_json()["campaigns"] == []
    assert "show campaigns" not in engine.commands


def test_agent_sees_the_preview_lead_and_accepts_or_skips_through_the_console(box):
    app, _, engine = box
    save_new(client_of(app, "ada"))
    client = client_of(app, "alice")
    assert client.get("/api/desk").get_json()["preview"] is None
    engine.campaigns = [snapshot(previews={"1001": {"lead": 7, "number": "+12125550101", "name": "Ann Lee"}})]
    assert client.get("/api/desk").get_json()["preview"] == {"campaign": "renewals", "lead": 7,
                                                             "number": "+12125550101", "name": "Ann Lee"}
    token = token_of(client.get("/agent"))
    for action in ("accept", "skip"):
        answer = client.post("/desk/preview", data={"action": action}, headers={"X-CSRF-Token": token})
        assert answer.status_code == 200 and engine.commands[-1] == f"campaign {action} 1001"
    assert client.post("/desk/preview", data={"action": "dial"}, headers={"X-CSRF-Token": token}).status_code == 400
    assert client.post("/desk/preview", data={"action": "accept"}).status_code == 400  # no CSRF token
    engine.refuse = "agent 1001 has no lead in preview"
    refused = client.post("/desk/preview", data={"action": "accept"}, headers={"X-CSRF-Token": token})
    assert refused.status_code == 400 and refused.get_json()["error"] == "agent 1001 has no lead in preview"


def test_the_page_says_when_the_engine_is_down_and_still_lists_the_campaigns(box):
    app, _, engine = box
    client = client_of(app, "ada")
    save_new(client)
    engine.down = True
    page = client.get("/campaigns/")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "is linebox running?" in body.split('id="engine-error"')[1]
    row = body.split('id="campaign-renewals"')[1].split("</tr>")[0]
    assert "enabled: not running in the engine" in row and '<td class="attempts">-</td>' in row


# ----------------------------------------------------------------------------- whole-campaign report

T0 = 900.0 * 1_994_444  # an interval edge (2026-11-18 UTC)


def _stored_campaign(services):
    """Leads and attempts of 'renewals' in the store, and agent 1001's 15-minute intervals."""
    with CampaignStore(services.cdr.path) as store:
        store.add_leads("renewals", [("2125550101", "Ann", ""), ("2125550102", "Bob", ""),
                                     ("2125550103", "Carl", ""), ("2125550104", "Dora", "")])
        for state in store.leads("renewals")[:2]:
            store.save_lead("renewals", replace(state, attempts=2 if state.lead_id == 1 else 1))
        store.add_attempt(AttemptRecord("renewals", 1, "2125550101", T0 + 100, "busy", ended=T0 + 110))
        store.add_attempt(AttemptRecord("renewals", 1, "2125550101", T0 + 400, "human", answered=T0 + 410,
                                        connected=T0 + 411, agent="1001", ended=T0 + 700, disposition="1",
                                        uniqueid="u1"))
        store.add_attempt(AttemptRecord("renewals", 2, "2125550102", T0 + 1000, "human", answered=T0 + 1010,
                                        abandoned=True, ended=T0 + 1500))

    def row(start, **seconds):
        return IntervalRow("agent", "1001", 900, start, {"answered": 0, "completed": 0, "ring_no_answer": 0,
                                                         "talk_seconds": 0.0, "state_seconds": seconds})
    services.intervals.write([
        row(T0 - 900, oncall=900.0),  # before the campaign's first attempt: not its time
        row(T0, available=600.0, oncall=300.0),
        row(T0 + 900, wrapup=300.0, paused=300.0, available=300.0, loggedout=300.0),
        row(T0 + 1800, oncall=900.0),  # after its last attempt ended
    ])


def test_report_shows_the_whole_campaigns_statistics(box):
    app, services, _ = box
    save_new(client_of(app, "ada"))
    _stored_campaign(services)
    page = client_of(app, "sue").get("/campaigns/report")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    section = body.split('id="report-renewals"')[1].split("</section>")[0]

    def fact(name):
        return html.unescape(section.split(f'class="{name}">')[1].split("<")[0])
    assert (fact("attempts"), fact("answered"), fact("contacts")) == ("3", "2", "1")
    # logged in 600 + 300 + 300 + 300 + 300 = 1800 s (logged out not counted): 1 contact / 0.5 h
    assert fact("cph") == "2.0"
    assert fact("penetration") == "50.0 % (2 of 4 leads)"
    assert fact("abandon") == "50.00 % (1 of 2 answered)"
    assert fact("productivity") == "33.3 % (0.50 agent-hours logged in)"  # (300 on call + 300 wrap-up) / 1800
    assert "<td>busy</td><td>1</td>" in section and "<td>human</td><td>2</td>" in section
    assert '<table class="dispositions">' in section and "<td>1</td><td>1</td>" in section.split("dispositions")[1]
    agent = section.split('id="agent-renewals-1001">')[1].split("</tr>")[0]
    assert agent == "<td>1001</td><td>1</td><td>0.50</td><td>2.0</td><td>33.3 %</td>"


def test_report_csv_has_the_same_figures(box):
    app, services, _ = box
    save_new(client_of(app, "ada"))
    _stored_campaign(services)
    response = client_of(app, "ada").get("/campaigns/report.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    total, agent = rows
    assert (total["campaign"], total["agent"], total["attempts"], total["contacts"]) == ("renewals", "", "3", "1")
    assert (total["penetration"], total["abandon_rate"], total["contacts_per_agent_hour"]) == ("0.5", "0.5", "2.0")
    assert (total["agent_productivity"], total["logged_in_hours"]) == ("0.3333", "0.5")
    assert total["outcomes"] == "busy=1;human=2" and total["dispositions"] == "1=1"
    assert total["first_attempt_utc"].endswith("+00:00")
    assert (agent["agent"], agent["contacts"], agent["agent_productivity"]) == ("1001", "1", "0.3333")


def test_report_of_a_campaign_without_attempts_and_of_a_deleted_one(box):
    app, services, _ = box
    client = client_of(app, "ada")
    save_new(client)
    with CampaignStore(services.cdr.path) as store:
        store.add_leads("oldie", [("2125550109", "Zed", "")])  # stored, no longer configured
    body = client.get("/campaigns/report").get_data(as_text=True)
    fresh = body.split('id="report-renewals"')[1].split("</section>")[0]
    assert 'class="attempts">0<' in fresh and 'class="cph">-<' in fresh and "no attempts yet" in fresh
    assert "(no longer configured)" in body.split('id="report-oldie"')[1].split("</h2>")[0]


def test_agents_may_not_see_the_report(box):
    client = client_of(box[0], "alice")
    assert client.get("/campaigns/report").status_code == 403
    assert client.get("/campaigns/report.csv").status_code == 403


def test_report_csv_cells_are_never_formulas():
    report = {"name": "=HYPERLINK(1)", "attempts": 0, "answered": 0, "contacts": 0, "abandoned": 0,
              "abandon_rate": None, "leads": 0, "leads_attempted": 0, "penetration": None, "logged_in_s": 0.0,
              "contacts_per_agent_hour": None, "agent_productivity": None, "outcomes": {},
              "dispositions": {"-1": 2}, "first_attempt": None, "last_attempt": None, "agents": {}}
    (row,) = list(csv.DictReader(io.StringIO(report_csv([report]))))
    assert row["campaign"] == "'=HYPERLINK(1)" and row["dispositions"] == "'-1=2" and row["abandon_rate"] == ""


def test_pause_and_resume_store_enabled_at_once(box):
    app, services, _ = box
    client = client_of(app, "ian")
    save_new(client)  # enabled: true
    page = client.get("/campaigns/")
    row = page.get_data(as_text=True).split('id="campaign-renewals"')[1].split("</tr>")[0]
    assert '<button type="submit" class="pause">Pause</button>' in row
    revision = str(services.store.config_version())

    def post(enabled, rev=None):
        return client.post("/campaigns/item/renewals/enabled",
                           data={"csrf_token": token_of(page), "revision": rev or revision, "enabled": enabled})
    assert post("2").status_code == 302 and services.store.load().campaigns[0].enabled  # refused, nothing stored
    assert post("0").status_code == 302
    (campaign,) = services.store.load().campaigns
    assert not campaign.enabled and campaign.mode == "preview"  # only enabled changed
    assert post("1").status_code == 302 and services.store.load().campaigns[0].enabled is False  # stale revision
    body = client.get("/campaigns/").get_data(as_text=True)
    assert "not resumed: the configuration was changed by someone else" in html.unescape(body)
    revision = str(services.store.config_version())
    assert 'class="pause">Resume</button>' in body and post("1").status_code == 302
    assert services.store.load().campaigns[0].enabled
    sue = client_of(app, "sue")  # supervisors see the campaigns, they do not change the configuration
    token = token_of(sue.get("/campaigns/"))
    assert sue.post("/campaigns/item/renewals/enabled", data={"csrf_token": token, "revision": revision,
                                                              "enabled": "0"}).status_code == 403
    assert services.store.load().campaigns[0].enabled


def test_a_campaign_the_engine_runs_but_does_not_dial_reads_paused(box):
    app, _, engine = box
    client = client_of(app, "ada")
    save_new(client, CAMPAIGN.replace("enabled: true", "enabled: false"))
    engine.campaigns = [snapshot(running=False)]
    row = client.get("/campaigns/").get_data(as_text=True).split('id="campaign-renewals"')[1].split("</tr>")[0]
    assert "paused (calls in progress go on)" in row and 'class="pause">Resume</button>' in row
