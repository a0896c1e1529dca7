"""The campaigns page in a real browser (issue 15): Debian's chromium driven by Playwright against
``linebox web`` and ``linebox run`` on the virtual board, each a process of its own, as on the box.

An installer sets up a campaign in the YAML editor (a value over the legal limit is refused with
the field named, then the corrected one is stored), checks a lead list against a do-not-call
list (the report's counts and lines, the same as ``linebox campaign check``), and the running
engine's campaign (configured before it started) shows its live figures on the campaigns page
and the wallboard.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import replace

import playwright.sync_api as playwright_api
import pytest

from firmware.accounts import AccountStore
from firmware.campaign.hygiene import check_files
from firmware.config import ConfigStore, demo_config
from firmware.config.campaigncodec import campaign_from_dict
from linebox.storage import board_ports
from tests.browser_helpers import CHROMIUM, ROOT, WAIT_MS, console, free_port, wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium package is not installed")]

INSTALLER, ADMIN, PASSWORD = "ian", "chief", "a long office passphrase"
WINTER = {"name": "winter", "queue": "support", "mode": "preview", "enabled": True, "lead_source": "csv",
          "lead_file": "winter.csv",
          "calling_hours": [{"timezone": "America/New_York", "days": ["mon", "tue", "wed", "thu", "fri"],
                             "hours": "09:00-20:00"}]}
LEADS = ("name,number\nAnn,212-555-0101\nBob,(212) 555-0102\nAnn again,+1 212 555 0101\nNo number,\n"
         "Short,555\nCarl,212 555 0103\n")
DNC = "number\n2125550103\n"
SPRING = """\
name: spring
queue: support
mode: progressive
enabled: false
lead_source: csv
lead_file: spring.csv
calling_hours:
- {timezone: America/Chicago, days: [sat], hours: '10:00-14:00'}
max_abandon_rate: 0.05
no_answer_s: 30
"""


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    folder = tmp_path_factory.mktemp("campaignbox")
    db, sock = folder / "linebox.db", folder / "linebox.sock"
    (folder / "campaigns").mkdir()
    (folder / "campaigns" / "winter.csv").write_text("name,number\nDora,2125550190\nEd,2125550191\n")
    with ConfigStore(db, boards=board_ports) as store:
        store.save(replace(demo_config(), campaigns=(campaign_from_dict(WINTER, "campaigns[0]"),)), source="test")
    with AccountStore(db) as accounts:
        accounts.add(ADMIN, "admin", PASSWORD, time.time())
        accounts.add(INSTALLER, "installer", PASSWORD, time.time())
        accounts.add("alice", "agent", PASSWORD, time.time())  # agent 1001 Alice of the demo
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    port = free_port()
    logs = [open(folder / name, "w") for name in ("engine.log", "web.log")]  # noqa: SIM115
    # Monday 10:00 in New York: within the campaign's calling hours
    engine = subprocess.Popen([sys.executable, "-m", "linebox", "run", "--db", str(db), "--socket", str(sock),
                               "--no-web", "--no-demo-traffic", "--origin", "2026-11-23T15:00:00+00:00"],
                              cwd=folder, env=env, stdout=logs[0], stderr=subprocess.STDOUT)
    processes = [engine]
    try:
        wait_for(lambda: console(sock, "show ports"), "the engine's console")
        processes.insert(0, subprocess.Popen(
            [sys.executable, "-m", "linebox", "web", "--listen", f"127.0.0.1:{port}", "--db", str(db),
             "--socket", str(sock)], cwd=folder, env=env, stdout=logs[1], stderr=subprocess.STDOUT))
        wait_for(lambda: __import__("socket").create_connection(("127.0.0.1", port), timeout=1).close() or True,
                 "the web admin")
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            yield {"url": f"http://127.0.0.1:{port}", "db": db, "browser": browser, "folder": folder, "sock": sock}
            browser.close()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        for log in logs:
            log.close()
    assert engine.returncode == 0, (folder / "engine.log").read_text()[-3000:]


def logged_in(box, name, home="/dashboard"):
    page = box["browser"].new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(box["url"] + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url.endswith(home), page.url + page.inner_text("main")
    return page, errors


def test_1_set_up_a_campaign_refused_then_stored(box):
    page, errors = logged_in(box, INSTALLER)
    page.click("nav >> text=Campaigns")
    page.click("#new-campaign")
    page.fill("#f-campaign", SPRING)
    page.click("#save")
    assert "max_abandon_rate: expected a number 0-0.03, got 0.05" in page.inner_text("#campaign-problems")
    with ConfigStore(box["db"], boards=board_ports) as store:
        assert [c.name for c in store.load().campaigns] == ["winter"]  # nothing stored
    page.fill("#f-campaign", SPRING.replace("0.05", "0.02"))
    page.click("#save")
    page.wait_for_url("**/campaigns/")
    assert "campaign spring stored" in page.inner_text(".flash")
    assert "disabled" in page.inner_text("#campaign-spring")
    with ConfigStore(box["db"], boards=board_ports) as store:
        spring = store.load().campaigns[1]
    assert (spring.name, str(spring.mode), spring.max_abandon_rate, spring.calling_hours[0].days) == (
        "spring", "progressive", 0.02, ("sat",))
    assert not errors, errors


def test_2_the_lead_hygiene_report_is_the_clis(box):
    page, errors = logged_in(box, INSTALLER)
    page.goto(box["url"] + "/campaigns/")
    page.set_input_files("#f-leads", files=[{"name": "leads.csv", "mimeType": "text/csv", "buffer": LEADS.encode()}])
    page.set_input_files("#f-dnc", files=[{"name": "dnc.csv", "mimeType": "text/csv", "buffer": DNC.encode()}])
    page.fill("#f-country", "US")
    page.click("#check-form button[type=submit]")
    shown = {key: int(page.inner_text(f"#r-{key}")) for key in ("rows", "valid", "invalid", "duplicates", "dnc",
                                                              "callable")}
    (box["folder"] / "l.csv").write_text(LEADS)
    (box["folder"] / "d.csv").write_text(DNC)
    cli = check_files(box["folder"] / "l.csv", "US", box["folder"] / "d.csv")
    assert shown == {key: cli[key] for key in shown} == {"rows": 6, "valid": 4, "invalid": 2, "duplicates": 1,
                                                          "dnc": 1, "callable": 2}
    rows = [row.inner_text().split("\t") for row in page.locator("#lead-problems tbody tr").all()]
    assert [(line, kind) for line, kind, *_ in rows] == [(str(p["line"]), p["kind"]) for p in cli["problems"]]
    assert [(line, kind) for line, kind, *_ in rows] == [("4", "duplicate"), ("5", "invalid"), ("6", "invalid"),
                                                         ("7", "dnc")]
    page.set_input_files("#f-leads", files=[{"name": "big.csv", "mimeType": "text/csv",
                                             "buffer": b"number\n" + b"1" * (1024 * 1024)}])
    page.click("#check-form button[type=submit]")
    assert "big.csv: the file has more than 1048576 bytes" in page.inner_text("#check-error")
    assert page.locator("#report").count() == 0
    assert not errors, errors


def test_3_the_running_campaigns_figures_on_the_page_and_the_wallboard(box):
    (line,) = console(box["sock"], "show campaigns")  # the real engine's answer the pages read
    assert json.loads(line)["name"] == "winter" and json.loads(line)["running"] is True
    page, errors = logged_in(box, ADMIN)
    page.goto(box["url"] + "/campaigns/")
    row = page.inner_text("#campaign-winter")
    assert "running" in row and "(3.0 %)" in row
    assert page.inner_text("#campaign-winter .attempts") == "0"  # preview: nothing dialled without an agent
    page.goto(box["url"] + "/wallboard")
    card = page.locator("#campaign-winter")
    card.wait_for()
    assert "abandoned (max 3 %)" in card.inner_text() and "contacts per agent-hour" in card.inner_text()
    for label in ("agent productivity", "list penetration", "dispositions"):
        assert label in card.inner_text()
    assert page.inner_text("#campaign-winter .penetration .value") == "0 %"  # leads, none dialled yet
    assert not errors, errors


def _agent_state(sock) -> str:
    desk = json.loads(console(sock, "show desk agent=1001")[0])
    return desk["agents"][0]["state"]


def test_4_an_agent_skips_then_accepts_a_preview_lead(box):
    sock = box["sock"]
    for _ in range(3):  # Alice logs in at her phone (port 4): *45, her agent number, #
        console(sock, "call test 4 *451001# hold=4")
        try:
            wait_for(lambda: _agent_state(sock) != "loggedout", "agent 1001 logged in", 10)
            break
        except AssertionError:
            continue  # a digit lost on a loaded machine (audio overruns): dial again
    page, errors = logged_in(box, "alice", home="/agent")
    page.wait_for_selector("#preview:not([hidden])")
    assert page.inner_text("#preview-campaign") == "winter"
    first = page.inner_text("#preview-number")
    assert first in ("2125550190", "2125550191")  # the digits the box dials and page.inner_text("#preview-name") in ("Dora", "Ed")
    page.click("#preview-skip")
    wait_for(lambda: "skipped the lead" in page.inner_text("#desk-message"), "the skip's answer", 10)
    page.wait_for_selector("#preview:not([hidden])")
    # the next poll shows the other lead (a skipped lead goes to the end of the list): accepting
    # before it arrives would answer for the lead just skipped
    wait_for(lambda: page.inner_text("#preview-number") not in ("", first), "the next lead", 10)
    page.click("#preview-accept")
    wait_for(lambda: "dialling lead" in page.inner_text("#desk-message"), "the accept's answer", 10)
    wait_for(lambda: json.loads(console(sock, "show campaigns")[0])["attempts"] >= 1, "the lead dialled", 10)
    assert not errors, errors
