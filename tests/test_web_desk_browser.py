"""The wallboard and the agent desk in a real browser (Debian's chromium driven by Playwright),
against ``linebox run`` on the virtual board and ``linebox web``, each a process of its own.

One engine serves the module: agent 1001 (Alice, extension 203 on port 4) logs in at her
phone; the supervisor's wallboard follows her and the queue as calls ring on line 0, are
answered and end; the supervisor pauses and unpauses her; her page pops the caller's record
(a known caller, then an unknown one) with the script filled in, and the delay from the offer
(seen on the engine's console) to the pop drawn in the page is measured and must stay under
1 s (issue 14); a disposition is entered on the page, another keyed on her phone (DTMF during
wrap-up), and both are in the call records and the queue_log.
"""

from __future__ import annotations

import dataclasses
import json
import time

import pytest
from browser_helpers import (
    BROWSER_MARKS,
    WAIT_MS,
    console,
    logged_in,
    running_box,
    wait_for,
)

from firmware.cdr import CdrStore
from firmware.config import demo_config
from firmware.config.model import Contact, Destination, DestinationKind, InboundRoute
from firmware.contacts.store import ContactStore

LINE, AGENT_PORT = 0, 4
ANN = Contact("Ann Lee", numbers=("2125557001",), account="4711", fields=(("plan", "gold"),))
MAX_POP_DELAY_S = 1.0  # issue 14: the screen pop reaches the page within 1 s of the offer
DELAYS: list[float] = []

pytestmark = BROWSER_MARKS


def _config():
    demo = demo_config()
    support = dataclasses.replace(demo.queues[0], wrapup_s=30, announce_position_s=0)
    return dataclasses.replace(demo, queues=(support,),
                               routes=(InboundRoute("all", Destination(DestinationKind.QUEUE, "support")),))


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    # the engine's clock is this machine's: the page's Date.now() measures the pop's delay against it
    folder = tmp_path_factory.mktemp("deskbox")
    with ContactStore(folder / "linebox.db") as contacts:  # the screen pop's record (firmware/contacts/store.py)
        contacts.add([ANN], "us")
    with running_box(folder, _config(), roles=("admin", "supervisor", "agent"), origin=None) as running:
        yield running


def _page(box, role):
    return logged_in(box, role, landing=lambda url: not url.endswith("/login"), width=1600, height=1000,
                     all_errors=False)


def _desk(box) -> dict:
    return json.loads(console(box.sock, "show desk agent=1001")[0])["agents"][0]


def _ring_and_offer(box, number: str, hold_s: int = 25, attempts: int = 4) -> float:
    """An exchange line rings from ``number``; returns when the engine offered the call to the
    agent (``offered_at``: the wall time of the tick that rang her phone; ``linebox run`` anchors
    it to this machine's clock, the one the page's ``Date.now()`` reads). On a machine this
    loaded, a caller ID can be lost (the box then sees the caller withheld): that call is left to
    clear and the line rings again."""
    for _ in range(attempts):
        # the exchange line of a call just cleared takes a moment to be idle again
        wait_for(lambda: console(box.sock, f"call test {LINE} {number} hold={hold_s}"), "the line ringing")
        deadline = time.monotonic() + 30
        call = None
        while time.monotonic() < deadline:
            call = _desk(box)["call"]
            if call and call["phase"] == "offered":
                break
            time.sleep(0.05)
        if call and call["caller_number"] == number:
            return float(call["offered_at"])
        wait_for(lambda: len(console(box.sock, "show calls")) <= 1, "the withheld call's end", hold_s + 10)
    raise AssertionError(f"no offer from {number} in {attempts} calls: the desk says {_desk(box)}")


def _pop_delay(page, offered_at: float, uniqueid_before: str) -> float:
    _until(page, f"document.getElementById('desk').dataset.call && "
                           f"document.getElementById('desk').dataset.call !== '{uniqueid_before}'")
    popped_ms = int(page.get_attribute("#desk", "data-popped-at"))
    delay = popped_ms / 1000.0 - offered_at
    DELAYS.append(delay)
    return delay


def _port_state(box, port: int) -> str:
    rows = [row.split() for row in console(box.sock, "show ports")[1:]]
    return next(row[2] for row in rows if row and row[0] == str(port))


def _until(page, expression: str, timeout_s: float = WAIT_MS / 1000) -> None:
    """Polls ``expression`` in the page (page.wait_for_function evaluates strings, which the web
    admin's Content-Security-Policy forbids; page.evaluate is not subject to it)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {expression}")
        time.sleep(0.02)


def _state(page, text: str) -> None:
    _until(page, f"(document.querySelector('#agent-1001 .state') || {{}}).textContent === {text!r}")


def _queue_log(box) -> list[list[str]]:
    path = box.folder / "queue_log"
    return [line.split("|") for line in path.read_text(encoding="utf-8").splitlines()]


def _disposition(box, uniqueid: str):
    def stored():
        with CdrStore(box.db) as cdr:
            return cdr.disposition(uniqueid)
    return wait_for(stored, f"the disposition of {uniqueid}")


def test_wallboard_agent_page_screen_pop_script_and_dispositions(box):
    sock = box.sock
    board, board_errors = _page(box, "supervisor")
    board.goto(f"{box.url}/wallboard")
    agent, agent_errors = _page(box, "agent")
    agent.goto(f"{box.url}/agent")
    agent.wait_for_selector("#desk:not([hidden])")
    assert agent.text_content("#desk-state") == "loggedout"

    # Alice logs in at her phone: *45, her agent number, #
    console(sock, f"call test {AGENT_PORT} *451001# hold=6")
    _state(board, "available")
    _until(agent, "document.getElementById('desk-state').textContent === 'available'")

    # the supervisor pauses her from the wallboard, then unpauses her
    board.click("#agent-1001 button[data-action=pause]")
    _state(board, "paused (supervisor)")
    assert _desk(box)["pause_reason"] == "supervisor"
    board.click("#agent-1001 button[data-action=unpause]")
    _state(board, "available")
    wait_for(lambda: _desk(box)["state"] == "available", "unpaused")
    wait_for(lambda: _port_state(box, AGENT_PORT) == "idle", "her phone on-hook after the log-in")

    # a known caller: the wallboard sees the call ring, be answered and end; the page pops Ann's record
    offered_at = _ring_and_offer(box, "2125557001")
    assert _pop_delay(agent, offered_at, "") < MAX_POP_DELAY_S
    _state(board, "ringing")
    _until(board, "document.querySelector('#queue-support .waiting .value').textContent === '1'")
    assert agent.text_content("#pop-name") == "Ann Lee" and agent.text_content("#pop-account") == "4711"
    assert agent.text_content("#script") == ("Hello Ann Lee, thank you for calling support. I see account 4711; "
                                             "how can I help?")
    console(sock, f"call test {AGENT_PORT} 5 hold=5")  # she answers; hangs up after 5 s
    _state(board, "oncall")
    _until(board, "document.querySelector('#queue-support .answered .value').textContent === '1'")
    _until(board, "document.querySelector('#queue-support .waiting .value').textContent === '0'")
    _state(board, "wrapup")
    first = agent.get_attribute("#desk", "data-call")
    _until(agent, "document.getElementById('desk').dataset.phase === 'ended'")
    agent.select_option("#dispose-code", "1")
    agent.fill("#dispose-note", "fixed on the first call")
    agent.click("#dispose-form button[type=submit]")
    _until(agent, "document.getElementById('desk-message').textContent.startsWith('disposition 1')")
    stored = _disposition(box, first)
    assert (stored.code, stored.note, stored.source) == ("1", "fixed on the first call", "page")
    assert any(f[1] == first and f[4] == "DISPOSITION" and f[5:] == ["1", "resolved", "", "0", "page"]
               for f in _queue_log(box))
    console(sock, f"call test {AGENT_PORT} *49 hold=3")  # ready for the next call
    _state(board, "available")
    wait_for(lambda: _port_state(box, AGENT_PORT) == "idle", "her phone on-hook after *49")

    # an unknown caller: the page says so; the disposition is keyed on the headset during wrap-up
    offered_at = _ring_and_offer(box, "5550123")
    assert _pop_delay(agent, offered_at, first) < MAX_POP_DELAY_S
    agent.wait_for_selector("#pop-unknown:not([hidden])")
    assert agent.text_content("#script").startswith("Hello …, thank you for calling support")
    second = agent.get_attribute("#desk", "data-call")
    console(sock, f"call test {AGENT_PORT} 5 hold=4")
    _state(board, "wrapup")
    wait_for(lambda: _desk(box)["call"]["phase"] == "ended", "the call's end")
    wait_for(lambda: _port_state(box, AGENT_PORT) == "idle", "her phone on-hook")
    console(sock, f"call test {AGENT_PORT} 3# hold=4")  # "do not call", keyed on the phone
    stored = _disposition(box, second)
    assert (stored.code, stored.do_not_call, stored.source, stored.caller_number) == ("3", True, "dtmf", "5550123")
    assert any(f[1] == second and f[4] == "DISPOSITION" and f[5:] == ["3", "do not call", "", "1", "dtmf"]
               for f in _queue_log(box))
    _until(agent, "document.getElementById('disposed').textContent === '(recorded: 3)'")
    with CdrStore(box.db) as cdr:
        assert wait_for(lambda: cdr.find(second), "the call record").caller_number == "5550123"
    print(f"screen pop delay from offer: {', '.join(f'{d * 1000:.0f} ms' for d in DELAYS)}")
    assert not board_errors and not agent_errors
