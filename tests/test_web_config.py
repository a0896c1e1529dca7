"""Configuration pages with Flask's test client: the store's own rules, errors next to fields, version check."""

from __future__ import annotations

import dataclasses
import html as htmllib
import re

import pytest

from firmware.config import Zone
from tests.web_helpers import FakeEngine, admin_client, token_of
from webadmin.sections import SECTIONS, SETTINGS

REVISION = re.compile(r'name="revision" value="(\d+)"')


@pytest.fixture
def admin(tmp_path):
    with admin_client(tmp_path, engine=FakeEngine()) as (client, services):
        services.restart_needed = lambda old, new: ["zone: the line card's timing"] if old.zone != new.zone else []
        yield client, services


def form_of(client, path):
    """The form's fields as a browser would send them back unchanged."""
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    form = {"csrf_token": token_of(page), "revision": REVISION.search(html).group(1)}
    for name, value in re.findall(r'<input id="[^"]+" name="([^"]+)" value="([^"]*)"', html):
        form[name] = value.replace("&#34;", '"').replace("&amp;", "&")
    for name, value in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        form[name] = htmllib.unescape(value)
    for name in re.findall(r'<input type="checkbox" id="[^"]+" name="([^"]+)" checked>', html):
        form[name] = "on"
    checks: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="checkbox" name="([^"]+)" value="([^"]+)" checked>', html):
        checks.setdefault(name, []).append(value)
    form.update(checks)
    for name, body in re.findall(r'<select id="[^"]+" name="([^"]+)">(.*?)</select>', html, re.S):
        selected = re.search(r'<option value="([^"]*)" selected>', body)
        form[name] = selected.group(1) if selected else ""
    return form


def free_port_5(store):
    """The demo uses every FXS port of the virtual board: extension 204 (port 5) goes, with its references."""
    def change(config):
        groups = tuple(dataclasses.replace(group, members=tuple(m for m in group.members if m != "204"))
                       for group in config.ring_groups)
        return dataclasses.replace(config, ring_groups=groups,
                                   agents=tuple(a for a in config.agents if a.extension != "204"),
                                   extensions=tuple(e for e in config.extensions if e.number != "204"))
    store.update(change, source="test")


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_list_and_form_renders(admin, section):
    client, services = admin
    assert client.get(f"/config/{section}").status_code == 200
    assert client.get(f"/config/{section}/new").status_code == 200


@pytest.mark.parametrize("section, key", [("lines", "0"), ("extensions", "201"), ("ring_groups", "office"),
                                          ("routes", "0"), ("schedules", "office"), ("queues", "support"),
                                          ("agents", "1001")])
def test_saving_a_form_unchanged_stores_the_same_configuration(admin, section, key):
    """Every field round-trips: what a page shows is what it stores."""
    client, services = admin
    before = services.store.load()
    response = client.post(f"/config/{section}/item/{key}", data=form_of(client, f"/config/{section}/item/{key}"))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert services.store.load() == before


@pytest.mark.parametrize("page", sorted(SETTINGS))
def test_every_settings_page_saved_unchanged_stores_the_same_configuration(admin, page):
    client, services = admin
    before = services.store.load()
    response = client.post(f"/config/settings/{page}", data=form_of(client, f"/config/settings/{page}"))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert services.store.load() == before


@pytest.mark.parametrize("page, changes, field, words", [
    ("features", {"feature_codes.dnd_on": "*72"}, "feature_codes-dnd_on", "*72"),
    ("dialplan", {"dialplan.inter_digit_timeout_ms": "10"}, "dialplan-inter_digit_timeout_ms", "expected an integer"),
    ("dialplan", {"dialplan.maps.internal": "[1-8"}, "dialplan-maps-internal", ""),
    ("security", {"security.after_hours_schedule": "nights"}, "security-after_hours_schedule", "nights"),
    ("acd", {"acd.auto_pause_after": "-1"}, "acd-auto_pause_after", "expected an integer"),
])
def test_settings_errors_next_to_their_field(admin, page, changes, field, words):
    client, services = admin
    revision = services.store.config_version()
    form = form_of(client, f"/config/settings/{page}")
    form.update(changes)
    response = client.post(f"/config/settings/{page}", data=form)
    html = response.get_data(as_text=True)
    error = re.search(rf'id="f-{field}-error" role="alert">([^<]*)<', html)
    assert response.status_code == 400 and error and words in error.group(1), html[html.find("error"):][:600]
    assert services.store.config_version() == revision


def test_add_an_extension_stores_it_and_asks_the_engine_to_apply(admin):
    client, services = admin
    free_port_5(services.store)
    form = form_of(client, "/config/extensions/new")
    form.update({"number": "205", "port": "5", "name": "Lab", "outbound_class": "local"})
    response = client.post("/config/extensions/new", data=form)
    assert response.status_code == 302
    extension = services.store.load().extension("205")
    assert extension is not None and extension.port == 5 and extension.name == "Lab"
    assert "config reload" in services.engine.commands
    page = client.get("/config/extensions").get_data(as_text=True)
    assert "Lab" in page and "applied" in page


@pytest.mark.parametrize("changes, field, words", [
    ({"forward.no_answer_s": "abc"}, "forward-no_answer_s", "expected an integer 5-120"),
    ({"forward.no_answer_s": "4"}, "forward-no_answer_s", "expected an integer 5-120"),
    ({"port": "0"}, "port", "port 0 is FXO, not FXS"),
    ({"port": "9"}, "port", "does not exist"),
    ({"port": "99"}, "port", "expected an integer 0-63"),
    ({"number": "202"}, "number", "already used"),
    ({"outbound_class": "galactic"}, "outbound_class", "expected one of"),
])
def test_a_bad_field_gets_its_message_next_to_it_and_nothing_is_stored(admin, changes, field, words):
    client, services = admin
    revision, before = services.store.config_version(), services.store.load()
    form = form_of(client, "/config/extensions/item/201")
    form.update(changes)
    response = client.post("/config/extensions/item/201", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    error = re.search(rf'<p class="field-error" id="f-{field}-error" role="alert">([^<]*)</p>', html)
    assert error and words in error.group(1), html[:3000]
    assert services.store.config_version() == revision and services.store.load() == before
    assert "config reload" not in services.engine.commands
    for name, value in changes.items():  # what was typed is shown again, to be corrected
        if name != "outbound_class":
            assert f'value="{value}"' in html


def test_every_bad_field_of_a_form_gets_its_own_message_at_once(admin):
    """The codec stops at the first value it cannot take; the form still shows every field's
    error, each next to its field, with the codec's and the checks' own words."""
    client, services = admin
    revision, before = services.store.config_version(), services.store.load()
    form = form_of(client, "/config/extensions/item/201")
    form.update({"port": "abc", "forward.no_answer_s": "xyz", "outbound_class": "galactic", "number": "202"})
    response = client.post("/config/extensions/item/201", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    errors = dict(re.findall(r'<p class="field-error" id="f-([^"]+)-error" role="alert">([^<]*)</p>', html))
    assert set(errors) == {"port", "forward-no_answer_s", "outbound_class", "number"}, errors
    assert "expected an integer" in errors["port"] and "expected an integer 5-120" in errors["forward-no_answer_s"]
    assert "expected one of" in errors["outbound_class"] and "already used" in errors["number"]
    assert services.store.config_version() == revision and services.store.load() == before
    assert 'value="abc"' in html and 'value="xyz"' in html  # what was typed, shown again to be corrected


def test_a_refused_number_is_judged_at_its_stored_value_so_nothing_else_is_blamed(admin):
    """The form's problems come from firmware/config/collect.py, as ``linebox config validate``'s:
    an extension number the codec refuses would leave the extension out of the other checks (and
    every reference to 201 reported missing); the form gives collect.py the stored value to judge
    instead, so only the fields typed wrong are marked."""
    client, services = admin
    revision, before = services.store.config_version(), services.store.load()
    form = form_of(client, "/config/extensions/item/201")
    form.update({"number": "2x1", "port": "abc", "outbound_class": "galactic"})
    response = client.post("/config/extensions/item/201", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    errors = dict(re.findall(r'<p class="field-error" id="f-([^"]+)-error" role="alert">([^<]*)</p>', html))
    assert set(errors) == {"number", "port", "outbound_class"}, errors
    assert "2x1" in htmllib.unescape(errors["number"]) and "expected an integer" in errors["port"]
    assert "general-problem" not in html  # no reference to 201 blamed
    assert services.store.config_version() == revision and services.store.load() == before


def test_a_new_item_with_several_bad_fields_shows_them_all(admin):
    client, services = admin
    form = form_of(client, "/config/queues/new")
    form.update({"name": "sales", "ring_s": "often", "wrapup_s": "-5", "max_wait_s": "x"})
    response = client.post("/config/queues/new", data=form)
    errors = dict(re.findall(r'<p class="field-error" id="f-([^"]+)-error" role="alert">([^<]*)</p>',
                             response.get_data(as_text=True)))
    assert response.status_code == 400 and {"ring_s", "wrapup_s", "max_wait_s"} <= set(errors), errors
    assert services.store.load().queue("sales") is None


def test_a_change_made_meanwhile_by_another_hand_is_detected_not_overwritten(admin):
    client, services = admin
    form = form_of(client, "/config/extensions/item/201")
    services.store.update(lambda c: dataclasses.replace(c, zone=Zone.CA), source="console")  # another hand
    form["name"] = "Front desk"
    response = client.post("/config/extensions/item/201", data=form)
    assert response.status_code == 400 and "changed by someone else" in response.get_data(as_text=True)
    config = services.store.load()
    assert config.zone == Zone.CA and config.extension("201").name == "Reception"


def test_deleting_what_others_refer_to_is_refused_with_the_reasons(admin):
    client, services = admin
    revision = services.store.config_version()
    form = form_of(client, "/config/extensions")
    response = client.post("/config/extensions/item/201/delete", data={"csrf_token": form["csrf_token"],
                                                                       "revision": str(revision)})
    assert response.status_code == 302
    page = client.get("/config/extensions").get_data(as_text=True)
    assert "was not deleted" in page and "does not exist" in page
    assert services.store.config_version() == revision


def test_zone_change_is_saved_and_marked_as_needing_a_restart(admin):
    client, services = admin
    form = form_of(client, "/config/settings/country")
    form["zone"] = "ca"
    assert client.post("/config/settings/country", data=form).status_code == 302
    assert services.store.load().zone == Zone.CA
    page = client.get("/config/settings/country").get_data(as_text=True)
    assert 'class="flash restart"' in page and "line card" in page


def test_engine_down_still_saves_and_says_so(admin):
    client, services = admin
    services.engine.down = True
    form = form_of(client, "/config/lines/item/1")
    form["name"] = "Fax line"
    assert client.post("/config/lines/item/1", data=form).status_code == 302
    assert services.store.load().line(1).name == "Fax line"
    assert "the engine will apply it when it runs" in client.get("/config/lines").get_data(as_text=True)


def test_unknown_items_and_sections_are_404(admin):
    client, _ = admin
    assert client.get("/config/extensions/item/999").status_code == 404
    assert client.get("/config/nothing").status_code == 404
    assert client.get("/config/routes/item/77").status_code == 404


def test_markup_typed_in_a_field_is_shown_as_text(admin):
    client, services = admin
    form = form_of(client, "/config/extensions/item/202")
    form["name"] = '<script>alert("x")</script>'
    client.post("/config/extensions/item/202", data=form)
    assert services.store.load().extension("202").name == form["name"]  # a name may hold any printable text
    for path in ("/config/extensions", "/config/extensions/item/202", "/audit"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "&lt;script&gt;alert" in html, path


def test_holidays_skills_relaxation_and_callback_are_edited_in_the_forms(admin):
    client, services = admin
    form = form_of(client, "/config/schedules/item/office")
    form["holidays"] = "2026-12-25 Christmas Day, 2027-01-01 New Year"
    assert client.post("/config/schedules/item/office", data=form).status_code == 302
    holidays = services.store.load().schedule("office").holidays
    assert [(str(h.date), h.name) for h in holidays] == [("2026-12-25", "Christmas Day"), ("2027-01-01", "New Year")]
    again = form_of(client, "/config/schedules/item/office")
    assert again["holidays"] == "2026-12-25 Christmas Day, 2027-01-01 New Year"  # shown as typed

    form = form_of(client, "/config/queues/item/support")
    form.update({"required_skills": "english:3, billing:5", "relax": "30:2, 90:0",
                 "callback.enabled": "on", "callback.max_attempts": "4", "callback.retry_s": "120"})
    assert client.post("/config/queues/item/support", data=form).status_code == 302
    queue = services.store.load().queue("support")
    assert queue.required_skills == (("english", 3), ("billing", 5))
    assert [(r.after_s, r.max_level) for r in queue.relax] == [(30, 2), (90, 0)]
    assert (queue.callback.enabled, queue.callback.max_attempts, queue.callback.retry_s) == (True, 4, 120)

    form = form_of(client, "/config/agents/item/1001")
    form["skills"] = "english:7"
    assert client.post("/config/agents/item/1001", data=form).status_code == 302
    assert services.store.load().agent("1001").skills == (("english", 7),)


def test_a_bad_holiday_and_a_bad_relaxation_are_refused_next_to_their_fields(admin):
    client, services = admin
    before = services.store.load()
    form = form_of(client, "/config/schedules/item/office")
    form["holidays"] = "2026-13-45 Nonsense"
    html = client.post("/config/schedules/item/office", data=form).get_data(as_text=True)
    assert re.search(r'id="f-holidays-error" role="alert">[^<]*2026-13-45', html), html[:2000]
    form = form_of(client, "/config/queues/item/support")
    form.update({"relax": "30", "callback.retry_s": "soon"})
    response = client.post("/config/queues/item/support", data=form)
    errors = dict(re.findall(r'<p class="field-error" id="f-([^"]+)-error" role="alert">([^<]*)</p>',
                             response.get_data(as_text=True)))
    assert response.status_code == 400 and "expected number:number" in errors["relax"], errors
    assert "expected an integer" in errors["callback-retry_s"], errors  # judged too, at the same time
    assert services.store.load() == before
