"""The web admin in a real browser: Debian's chromium driven by Playwright (never a downloaded browser),
against ``linebox web`` served by waitress and ``linebox run`` on the virtual board, each a process
of its own, as on the box.

One engine and one web admin serve the whole module, in the order an installer meets them:
the first-boot wizard (a wrong field, then the admin account), the dashboard following a call
live, adding an extension, a queue and an agent and seeing the running engine follow (asked on
its console), a wrong field's message, and a login lockout. Screenshots of the main pages go
to docs/webadmin/ (shown in the user guide).
"""

from __future__ import annotations

import json
import os

import pytest
from browser_helpers import (
    BROWSER_MARKS,
    PASSWORD,
    ROOT,
    USERS,
    console,
    log_in,
    office_config,
    open_page,
    running_box,
    wait_for,
)

from firmware.config import ConfigStore
from linebox.storage import board_ports

# Screenshots for docs/webadmin/ are written only when asked for (LINEBOX_SCREENSHOTS=1), so that a
# test run never changes the tree.
SHOTS = ROOT / "docs" / "webadmin" if os.environ.get("LINEBOX_SCREENSHOTS") == "1" else None
ADMIN = USERS["admin"]  # made by the first-boot wizard

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with running_box(tmp_path_factory.mktemp("webbox"), office_config()) as running:
        yield running


def shot(page, name: str) -> None:
    if SHOTS is None:
        return
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_1_first_boot_wizard(box):
    page, errors = open_page(box)
    page.goto(box.url + "/")
    assert page.url.endswith("/setup")
    assert page.locator("table.ports tbody tr").count() == 6 and "FXO" in page.inner_text("table.ports")
    token = (box.folder / "web-setup-token").read_text().strip()
    page.fill("#f-token", token)
    page.select_option("#f-zone", "us")
    page.fill("#f-name", ADMIN)
    page.fill("#f-password", "short")
    page.fill("#f-password2", "short")
    shot(page, "setup")
    page.click("button[type=submit]")
    assert "10 to 128 characters" in page.inner_text("#f-password-error")  # next to its field
    page.fill("#f-token", token)
    page.fill("#f-password", PASSWORD)
    page.fill("#f-password2", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    assert not (box.folder / "web-setup-token").exists()
    assert not errors, errors


def test_2_dashboard_shows_a_call_live_without_reloading(box):
    page, errors = open_page(box)
    log_in(page, box.url, ADMIN)
    page.wait_for_url("**/dashboard")
    assert page.locator("#ports tbody tr").count() == 6
    page.evaluate("window.notReloaded = true")
    console(box.sock, "call test 2 202 hold=20")  # a phone on port 2 dials 202
    row = page.locator("#calls tbody tr:not(.none)")
    row.first.wait_for()
    assert "2" in row.first.inner_text() and "202" in row.first.inner_text()
    page.locator('#ports tr[data-port="3"] .state').filter(has_text="connected").or_(
        page.locator('#ports tr[data-port="3"] .state').filter(has_text="ringing")).wait_for()
    assert page.evaluate("window.notReloaded") is True  # updated in place
    assert int(page.inner_text('[data-stat="ticks"]')) > 0
    shot(page, "dashboard")
    page.click('#ports tr[data-port="4"] button[value="out"]')
    assert "port 4 out of service" in page.inner_text(".flash")
    assert page.inner_text('#ports tr[data-port="4"] .service') == "no (by hand)"
    assert any("no (by hand)" in line for line in console(box.sock, "show ports") if line.startswith("4 "))
    page.click('#ports tr[data-port="4"] button[value="in"]')
    assert "port 4 in service" in page.inner_text(".flash")
    page.fill("#test-call input[name=port]", "4")
    page.fill("#test-call input[name=number]", "201")
    page.click("#test-call button[type=submit]")
    assert "refused" not in page.inner_text(".flash")
    page.locator("#calls tbody tr", has_text="201").first.wait_for()  # the button's call, shown live
    assert not errors, errors


def test_3_add_extension_queue_and_agent_and_the_engine_follows(box):
    page, errors = open_page(box)
    log_in(page, box.url, ADMIN)
    page.goto(box.url + "/config/extensions/new")
    page.fill("#f-number", "205")
    page.fill("#f-port", "5")
    page.fill("#f-name", "Lab")
    page.click("#config-form button[type=submit]")
    page.wait_for_url("**/config/extensions")
    assert "Lab" in page.inner_text("#items")
    wait_for(lambda: any("205 Lab" in line for line in console(box.sock, "show ports")),
             "the engine to show extension 205 on port 5")
    shot(page, "extensions")

    page.goto(box.url + "/config/queues/new")
    page.fill("#f-name", "sales")
    page.fill("#f-number", "710")
    page.click("#config-form button[type=submit]")
    page.wait_for_url("**/config/queues")
    page.goto(box.url + "/config/agents/new")
    page.fill("#f-id", "1005")
    page.fill("#f-name", "Eve")
    page.fill("#f-extension", "205")
    page.fill("#f-queues", "sales:0")
    page.click("#config-form button[type=submit]")
    page.wait_for_url("**/config/agents")

    def agents() -> list[str]:
        status = json.loads(console(box.sock, "show status")[0])
        return [row["agent"] for row in status["agents"] or []]

    wait_for(lambda: "1005" in agents(), "the engine's ACD to know agent 1005")
    page.goto(box.url + "/agent")
    assert "1005" in page.inner_text("#agents") and "sales" in page.inner_text("#queues")
    shot(page, "agents")
    page.goto(box.url + "/config/")
    shot(page, "configuration")
    assert not errors, errors


def test_4_wrong_field_message_next_to_it_and_nothing_stored(box):
    page, errors = open_page(box, width=390)  # a phone's screen
    log_in(page, box.url, ADMIN)
    page.goto(box.url + "/config/extensions/item/201")
    page.fill("#f-forward-no_answer_s", "3")
    page.click("#config-form button[type=submit]")
    assert "expected an integer 5-120" in page.inner_text("#f-forward-no_answer_s-error")
    assert page.input_value("#f-forward-no_answer_s") == "3"
    shot(page, "field-error-phone")
    with ConfigStore(box.db, boards=board_ports) as store:
        assert store.load().extension("201").forward.no_answer_s == 20
    assert not errors, errors


def test_5_login_lockout(box):
    page, errors = open_page(box)
    for _ in range(5):
        log_in(page, box.url, ADMIN, "not the passphrase")
        assert "Authentication failed" in page.inner_text("#login-error")
    log_in(page, box.url, ADMIN)  # the right password, but the account (and this address) are locked now
    assert "Too many failed logins" in page.inner_text("#login-error") or "locked" in page.inner_text("#login-error")
    assert "/login" in page.url
    assert not errors, errors
