"""The manager page, a form with several errors at once, and holidays/skills editing, in a real
browser: Debian's chromium driven by Playwright against ``linebox web`` and ``linebox run`` on
the virtual board, each a process of its own (as tests/test_web_browser.py starts them).

The manager interface is turned on from the page and the running engine follows: a TCP client
then reads AMI's greeting on the address typed, and logs in with the account made on the page.
"""

from __future__ import annotations

import socket

import pytest
from browser_helpers import (
    BROWSER_MARKS,
    WAIT_MS,
    console,
    free_port,
    logged_in,
    office_config,
    running_box,
    wait_for,
)

from firmware.config import ConfigStore
from linebox.storage import board_ports

SECRET = "wallboard-and-tickets-42"

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with running_box(tmp_path_factory.mktemp("webmanager"), office_config(), roles=("admin",),
                     engine_start_s=60.0) as running:
        yield running


def ami_login(port: int, user: str, secret: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        greeting = sock.recv(100)
        sock.sendall(f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n".encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += sock.recv(4096)
        return greeting + reply


def test_manager_page_turns_the_interface_on_and_makes_an_account(box):
    page, errors = logged_in(box, "admin")
    page.goto(f"{box.url}/manager/")
    assert page.text_content("#manager-state") == "off"
    page.click("#manager-settings-link")
    ami_port = free_port()
    page.check("input[name='manager.enabled']")
    page.fill("input[name='manager.listen']", f"127.0.0.1:{ami_port}")
    page.click("#config-form button[type=submit]")
    page.wait_for_selector("#manager-state")
    assert page.text_content("#manager-state") == "on" and page.text_content("#manager-listen").endswith(
        f":{ami_port}")
    greeting = wait_for(lambda: ami_login(ami_port, "nobody", SECRET), "the engine's manager interface")
    assert greeting.startswith(b"Asterisk Call Manager/5.0.0\r\n") and b"Authentication failed" in greeting

    page.fill("#f-name", "crm")
    page.fill("#f-password", SECRET)
    page.fill("#f-password2", SECRET)
    page.check("#f-read input[value=call]")
    page.check("#f-write input[value=originate]")
    page.click("#manager-account-form button[type=submit]")
    page.wait_for_selector("#manager-user-crm")
    assert "call" in page.text_content("#manager-user-crm")
    assert b"Authentication accepted" in ami_login(ami_port, "crm", SECRET)
    assert errors == []


def test_a_form_shows_every_error_at_once_next_to_its_field(box):
    page, errors = logged_in(box, "admin")
    page.goto(f"{box.url}/config/extensions/item/201")
    page.fill("#f-port", "abc")
    page.fill("#f-forward-no_answer_s", "soon")
    page.select_option("#f-outbound_class", "internal")
    page.click("#config-form button[type=submit]")
    page.wait_for_selector("#f-port-error")
    assert "expected an integer" in page.text_content("#f-port-error")
    assert "expected an integer 5-120" in page.text_content("#f-forward-no_answer_s-error")
    # each message sits in its own field's box, under the input it is about
    assert page.locator(".field.invalid").count() == 2
    assert page.locator(".field.invalid:has(#f-port) #f-port-error").count() == 1
    assert page.input_value("#f-port") == "abc"
    with ConfigStore(box.db, boards=board_ports) as store:
        assert store.load().extension("201").port == 2  # nothing stored
    assert errors == []


def test_holidays_and_skills_are_edited_and_the_engine_follows(box):
    page, errors = logged_in(box, "admin")
    page.goto(f"{box.url}/config/schedules/item/office")
    page.fill("#f-holidays", "2026-12-25 Christmas, 2027-01-01 New Year")
    page.click("#config-form button[type=submit]")
    page.wait_for_url("**/config/schedules")
    page.goto(f"{box.url}/config/queues/item/support")
    page.fill("#f-required_skills", "english:3")
    page.fill("#f-relax", "45:0")
    page.check("#f-callback-enabled")
    page.click("#config-form button[type=submit]")
    page.wait_for_url("**/config/queues")
    page.goto(f"{box.url}/config/agents/item/1001")
    page.fill("#f-skills", "english:6")
    page.click("#config-form button[type=submit]")
    page.wait_for_url("**/config/agents")
    with ConfigStore(box.db, boards=board_ports) as store:
        config = store.load()
        revision = store.config_version()
    assert [h.name for h in config.schedule("office").holidays] == ["Christmas", "New Year"]
    queue = config.queue("support")
    assert queue.required_skills == (("english", 3),) and queue.callback.enabled
    assert config.agent("1001").skills == (("english", 6),)
    # the page asked the running engine to apply it (its console says the revision runs)
    assert wait_for(lambda: "already running" in " ".join(console(box.sock, "config reload"))
                    and str(revision) in " ".join(console(box.sock, "config reload")), "the engine's revision")
    page.goto(f"{box.url}/config/schedules/item/office")
    assert page.input_value("#f-holidays") == "2026-12-25 Christmas, 2027-01-01 New Year"
    assert errors == []


def test_the_development_box_says_the_engine_restarts_itself(box):
    """``linebox run`` outside systemd executes itself again on ``engine restart`` (linebox/supervision.py):
    the page offers the restart and says who starts the engine again (the restart itself is tested
    in tests/test_appliance_restart.py)."""
    page, errors = logged_in(box, "admin")
    page.goto(f"{box.url}/system")
    assert page.locator("#restart-unavailable").count() == 0
    page.click("#restart")
    assert "the engine starts itself again (linebox run, not under systemd)" in page.text_content("#restart-confirm")
    page.click("#restart-cancel")
    assert errors == []
    assert WAIT_MS  # the same waits as the other browser tests
