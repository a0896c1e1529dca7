"""The queue form's join_empty / leave_empty and the queue's ``desk:`` block (disposition codes,
call script, wallboard targets), with Flask's test client: stored through the configuration's own
checks, every refused field's message next to it at once, nothing stored on any error."""

from __future__ import annotations

import html
import re

import pytest

from firmware.acd.model import EmptyCondition
from firmware.config.model import DispositionCode
from tests.test_web_config import form_of
from tests.web_helpers import admin_client

QUEUE = "/config/queues/item/support"


@pytest.fixture
def admin(tmp_path):
    with admin_client(tmp_path) as signed_in:
        yield signed_in


def _errors(response) -> dict[str, str]:
    return {name: html.unescape(text) for name, text in
            re.findall(r'<p class="field-error" id="f-([^"]+)-error" role="alert">([^<]*)</p>',
                       response.get_data(as_text=True))}


def test_the_queue_form_sent_back_unchanged_changes_nothing(admin):
    client, services = admin
    before = services.store.load()
    form = form_of(client, QUEUE)
    assert form["desk.dispositions"] == "1: resolved\n2: call back [callback]\n3: do not call [do-not-call]"
    assert form["desk.script"] == before.queue("support").desk.script
    assert "join_empty" not in form and "leave_empty" not in form  # null: no box ticked
    assert client.post(QUEUE, data=form).status_code == 302
    assert services.store.load() == before


@pytest.mark.parametrize("ticked,stored", [
    ([], None),  # off: callers always join
    (["on"], ()),  # on: refused when no agent is logged in (Asterisk's joinempty)
    (["on", "paused", "wrapup"], (EmptyCondition.PAUSED, EmptyCondition.WRAPUP)),
    (["inuse"], (EmptyCondition.INUSE,)),  # a state ticked turns the rule on
])
def test_join_empty_and_leave_empty_from_their_boxes(admin, ticked, stored):
    client, services = admin
    form = form_of(client, QUEUE)
    form["join_empty"] = ticked
    form["leave_empty"] = ticked
    assert client.post(QUEUE, data=form).status_code == 302
    queue = services.store.load().queue("support")
    assert queue.join_empty == stored and queue.leave_empty == stored
    again = form_of(client, QUEUE)
    expected = [] if stored is None else ["on", *(str(state) for state in stored)]
    assert again.get("join_empty", []) == expected and again.get("leave_empty", []) == expected


def test_the_desk_block_is_edited_on_the_queue_form(admin):
    client, services = admin
    form = form_of(client, QUEUE)
    form.update({
        "desk.dispositions": "10: sale\r\n\r\n11: call me later [callback]\r\n12: remove me [do-not-call]\r\n"
                             "13: a [bracket] in a label",
        "desk.script": "Hello {name},\r\nyour balance is {field.balance}.",
        "desk.targets.service_level_min_percent": "90", "desk.targets.abandon_max_percent": "3",
        "desk.targets.asa_max_s": "15", "desk.targets.longest_wait_max_s": "45",
    })
    assert client.post(QUEUE, data=form).status_code == 302
    desk = services.store.load().queue("support").desk
    assert desk.dispositions == (DispositionCode("10", "sale"), DispositionCode("11", "call me later", callback=True),
                                 DispositionCode("12", "remove me", do_not_call=True),
                                 DispositionCode("13", "a [bracket] in a label"))
    assert desk.script == "Hello {name},\nyour balance is {field.balance}."
    targets = desk.targets
    assert (targets.service_level_min_percent, targets.abandon_max_percent, targets.asa_max_s,
            targets.longest_wait_max_s) == (90, 3, 15, 45)
    assert form_of(client, QUEUE)["desk.dispositions"] == (
        "10: sale\n11: call me later [callback]\n12: remove me [do-not-call]\n13: a [bracket] in a label")


@pytest.mark.parametrize("field,typed,error", [
    ("desk.dispositions", "1: ok\n12a: typo", "entry 2, code: '12a' is not 1-4 digits"),
    ("desk.dispositions", "1: ok\n1: again", "entry 2, code: 1 is listed twice"),
    ("desk.dispositions", "4: both [callback] [do-not-call]",
     "entry 1: a code cannot both ask for a callback and mark the number do-not-call"),
    ("desk.dispositions", "1: ok\nno colon here", "line 2: expected CODE: label, e.g. 2: call back [callback]"),
    ("desk.script", "Hi {nmae}", "unknown placeholder {nmae} (known: name, number, account, queue, agent, "
                                 "field.NAME, var.NAME)"),
    ("desk.script", "Hi {name", "an unmatched brace (placeholders are written {name})"),
    ("desk.targets.abandon_max_percent", "101", "expected an integer 0-100, got 101"),
    ("join_empty", ["on", "asleep"], "expected one of paused, inuse, ringing, wrapup, got 'asleep'"),
    ("leave_empty", ["paused", "paused"], "paused is listed twice"),
])
def test_a_bad_value_is_refused_next_to_its_field_and_nothing_is_stored(admin, field, typed, error):
    client, services = admin
    before, revision = services.store.load(), services.store.config_version()
    form = form_of(client, QUEUE)
    form[field] = typed
    response = client.post(QUEUE, data=form)
    assert response.status_code == 400
    errors = _errors(response)
    assert errors == {field.replace(".", "-"): error}, errors
    assert services.store.load() == before and services.store.config_version() == revision
    if isinstance(typed, str):
        assert html.escape(typed, quote=False) in response.get_data(as_text=True)  # shown again to be corrected


def test_every_bad_field_of_the_queue_form_is_shown_at_once(admin):
    client, services = admin
    before = services.store.load()
    form = form_of(client, QUEUE)
    form.update({"desk.dispositions": "x1: bad", "desk.script": "{nope}", "join_empty": ["on", "asleep"],
                 "desk.targets.asa_max_s": "0", "max_wait_s": "soon"})
    response = client.post(QUEUE, data=form)
    assert response.status_code == 400
    assert set(_errors(response)) == {"desk-dispositions", "desk-script", "join_empty", "desk-targets-asa_max_s",
                                      "max_wait_s"}
    assert services.store.load() == before


def test_a_new_queue_starts_with_an_empty_desk_and_both_rules_off(admin):
    client, services = admin
    form = form_of(client, "/config/queues/new")
    assert form["desk.dispositions"] == "" and form["desk.script"] == ""
    form.update({"name": "sales", "desk.dispositions": "1: sold", "join_empty": ["on"]})
    assert client.post("/config/queues/new", data=form).status_code == 302
    queue = services.store.load().queue("sales")
    assert queue.desk.dispositions == (DispositionCode("1", "sold"),) and queue.join_empty == ()
    assert queue.leave_empty is None
