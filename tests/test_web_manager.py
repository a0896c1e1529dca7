"""The manager page with Flask's test client: the ``manager`` settings through the configuration's
own save path (every error at once, next to its field), manager accounts with their AMI classes
in the account store (made, changed, removed; the store's rules), the audit log."""

from __future__ import annotations

import re

import pytest

from tests.test_web_config import REVISION, form_of
from tests.web_helpers import admin_client, token_of

ERROR = re.compile(r'<p class="field-error" id="f-([^"]+)-error" role="alert">([^<]*)</p>')
SECRET = "wallboard-and-tickets-42"


@pytest.fixture
def admin(tmp_path):
    with admin_client(tmp_path) as signed_in:  # its engine: a FakeEngine
        yield signed_in


def test_the_settings_are_saved_through_the_configuration_and_applied(admin):
    client, services = admin
    assert services.store.load().manager.enabled is False
    form = form_of(client, "/manager/settings")
    form.update({"manager.enabled": "on", "manager.listen": "0.0.0.0:5039", "manager.max_clients": "4"})
    response = client.post("/manager/settings", data=form)
    assert response.status_code == 302 and response.headers["Location"].endswith("/manager/")
    manager = services.store.load().manager
    assert (manager.enabled, manager.listen, manager.max_clients) == (True, "0.0.0.0:5039", 4)
    assert "config reload" in services.engine.commands
    page = client.get("/manager/").get_data(as_text=True)
    assert '<td id="manager-state">on</td>' in page and "0.0.0.0:5039" in page
    assert "settings: manager.enabled: False -&gt; True" in client.get("/audit").get_data(as_text=True)


def test_bad_settings_are_all_refused_at_once_next_to_their_fields(admin):
    client, services = admin
    revision, before = services.store.config_version(), services.store.load()
    form = form_of(client, "/manager/settings")
    form.update({"manager.listen": "nowhere", "manager.max_clients": "many", "manager.actions_per_second": "0"})
    response = client.post("/manager/settings", data=form)
    errors = dict(ERROR.findall(response.get_data(as_text=True)))
    assert response.status_code == 400
    assert set(errors) == {"manager-listen", "manager-max_clients", "manager-actions_per_second"}, errors
    assert "host:port" in errors["manager-listen"] and "expected an integer" in errors["manager-max_clients"]
    assert services.store.config_version() == revision and services.store.load() == before


def test_manager_accounts_are_made_changed_and_removed_with_the_stores_rules(admin):
    client, services = admin
    page = client.get("/manager/")
    token = token_of(page)
    made = client.post("/manager/accounts", data={"csrf_token": token, "name": "crm", "password": SECRET,
                                                  "password2": SECRET, "read": ["call", "agent"],
                                                  "write": ["originate"]})
    assert made.status_code == 302
    crm = services.accounts.get("crm")
    assert str(crm.role) == "manager" and crm.read == {"call", "agent"} and crm.write == {"originate"}
    listed = client.get("/manager/").get_data(as_text=True)
    assert 'id="manager-user-crm"' in listed and "agent, call" in listed
    assert 'id="manager-user-ada"' not in listed  # only manager accounts here

    refused = client.post("/manager/accounts", data={"csrf_token": token, "name": "panel", "password": "short",
                                                     "password2": "other", "read": ["telepathy"]})
    errors = dict(ERROR.findall(refused.get_data(as_text=True)))
    assert refused.status_code == 400 and {"password", "password2"} <= set(errors), errors
    assert services.accounts.get("panel") is None
    bad_class = client.post("/manager/accounts", data={"csrf_token": token, "name": "panel", "password": SECRET,
                                                       "password2": SECRET, "read": ["telepathy"]})
    assert "unknown class &#39;telepathy&#39;" in dict(ERROR.findall(bad_class.get_data(as_text=True)))["read"]
    assert services.accounts.get("panel") is None

    changed = client.post("/manager/accounts/crm", data={"csrf_token": token, "action": "classes",
                                                         "read": ["cdr"], "write": []})
    assert changed.status_code == 302
    crm = services.accounts.get("crm")
    assert crm.read == {"cdr"} and crm.write == frozenset()
    assert client.post("/manager/accounts/ada", data={"csrf_token": token, "action": "delete"}).status_code == 302
    assert services.accounts.get("ada") is not None  # not a manager account: never removed here
    assert client.post("/manager/accounts/crm", data={"csrf_token": token, "action": "delete"}).status_code == 302
    assert services.accounts.get("crm") is None
    audit = client.get("/audit").get_data(as_text=True)
    assert "manager account add" in audit and "manager account delete" in audit


def test_a_post_without_the_csrf_token_changes_nothing(admin):
    client, services = admin
    response = client.post("/manager/accounts", data={"name": "crm", "password": SECRET, "password2": SECRET})
    assert response.status_code in (400, 403) and services.accounts.get("crm") is None
    assert REVISION  # the settings form carries the revision like every configuration form
