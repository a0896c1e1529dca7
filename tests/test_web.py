"""The web admin's frame with Flask's test client: login, sessions, CSRF, roles, lockout, headers, the wizard."""

from __future__ import annotations

import re

import pytest

from firmware.accounts import LOCKOUT_SECONDS
from tests.web_helpers import (
    PASSWORD,
    Clock,
    FakeEngine,
    login,
    make_accounts,
    make_app,
    make_services,
    token_of,
)
from webadmin.app import SECURITY_HEADERS
from webadmin.security import IDLE_TIMEOUT_S, SECRET_FILE, TOKEN_FILE, SetupToken


@pytest.fixture
def box(tmp_path):
    accounts = make_accounts(tmp_path)
    for name, role in (("ada", "admin"), ("ian", "installer"), ("sue", "supervisor"), ("al", "agent"),
                       ("max", "manager")):
        accounts.add(name, role, PASSWORD, 0.0)
    clock = Clock()
    services = make_services(tmp_path, accounts=accounts, engine=FakeEngine(), clock=clock)
    app = make_app(services)
    yield app, services, clock
    services.store.close()


# ----------------------------------------------------------------------------- login and sessions

def test_unauthenticated_pages_redirect_to_login(box):
    app, _, _ = box
    client = app.test_client()
    for path in ("/", "/dashboard", "/config/", "/config/extensions", "/agent"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path
    assert client.get("/api/status").status_code == 401


def test_login_then_logout(box):
    app, _, _ = box
    client = app.test_client()
    response = login(client, "ada")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    page = client.get("/dashboard")
    assert client.post("/logout", data={"csrf_token": token_of(page)}).status_code == 302
    assert client.get("/dashboard").status_code == 302


def test_favicon_without_the_cookie_leaves_the_session_alone(box):
    """Chromium asks for /favicon.ico without the SameSite=Strict cookie: answering it with a new
    session would replace the browser's cookie and void the login form's CSRF token."""
    app, _, _ = box
    client = app.test_client()
    token = token_of(client.get("/login"))
    stranger = app.test_client()  # the favicon request, without the login page's cookie
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = stranger.get(path)
        assert response.status_code == 200 and response.mimetype == "image/svg+xml", path
        assert "Set-Cookie" not in response.headers, path
    response = client.post("/login", data={"name": "ada", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_wrong_password_refused_with_message(box):
    app, _, _ = box
    client = app.test_client()
    response = login(client, "ada", "wrong password!")
    assert response.status_code == 401
    assert "Authentication failed" in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 302


def test_account_locked_after_five_failures_even_with_the_right_password(box):
    app, _, clock = box
    client = app.test_client()
    for _ in range(5):
        assert login(client, "ada", "wrong password!", address="10.0.0.9").status_code == 401
    response = login(client, "ada", address="10.0.0.10")  # another address: the account itself is locked
    assert response.status_code == 401 and "locked" in response.get_data(as_text=True)
    clock.now += LOCKOUT_SECONDS - 1
    assert login(client, "ada", address="10.0.0.10").status_code == 401  # still locked a second before
    clock.now += 1
    assert login(client, "ada", address="10.0.0.10").status_code == 302


def test_address_locked_after_five_failures_whatever_the_account(box):
    app, _, clock = box
    client = app.test_client()
    for name in ("ada", "ian", "sue", "nobody", "al"):
        login(client, name, "wrong password!", address="10.0.0.7")
    response = login(client, "max", address="10.0.0.7")
    assert response.status_code == 401 and "Too many failed logins" in response.get_data(as_text=True)
    assert login(client, "ian", address="10.0.0.8").status_code == 302  # another address is not locked
    clock.now += LOCKOUT_SECONDS - 1
    assert login(app.test_client(), "ian", address="10.0.0.7").status_code == 401  # a second before the end
    clock.now += 2
    assert login(app.test_client(), "ian", address="10.0.0.7").status_code == 302


def test_session_ends_after_idle_timeout(box):
    app, _, clock = box
    client = app.test_client()
    login(client, "ada")
    clock.now += IDLE_TIMEOUT_S - 1
    assert client.get("/dashboard").status_code == 200
    clock.now += IDLE_TIMEOUT_S + 1
    response = client.get("/dashboard")
    assert response.status_code == 302 and "expired=1" in response.headers["Location"]


def test_removed_account_or_changed_role_ends_the_session(box):
    app, services, _ = box
    client = app.test_client()
    login(client, "ian")
    assert client.get("/config/extensions").status_code == 200
    services.accounts.delete("ian")
    services.accounts.add("ian", "agent", PASSWORD, 0.0)
    assert client.get("/config/extensions").status_code == 302
    login(client, "sue")
    services.accounts.delete("sue")
    assert client.get("/dashboard").status_code == 302


def test_open_redirect_refused(box):
    app, _, _ = box
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        client = app.test_client()  # a login rotates the session's CSRF token
        token = token_of(client.get("/login"))
        response = client.post("/login", data={"name": "ada", "password": PASSWORD, "csrf_token": token,
                                               "next": target})
        assert response.headers["Location"] == "/", target


def test_session_cookie_flags(tmp_path):
    services = make_services(tmp_path)
    services.cookie_secure = True
    services.accounts.add("ada", "admin", PASSWORD, 0.0)
    client = make_app(services).test_client()
    response = login(client, "ada")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    services.store.close()


# ----------------------------------------------------------------------------- CSRF, headers, limits

def test_post_without_or_with_a_wrong_csrf_token_is_refused_and_changes_nothing(box):
    app, services, _ = box
    client = app.test_client()
    login(client, "ada")
    revision = services.store.config_version()
    form = {"number": "209", "port": "5", "name": "x", "outbound_class": "local", "forward.no_answer_s": "20",
            "revision": str(revision)}
    assert client.post("/config/extensions/new", data=form).status_code == 400
    assert client.post("/config/extensions/new", data={**form, "csrf_token": "forged"}).status_code == 400
    assert client.post("/login", data={"name": "ada", "password": PASSWORD}).status_code == 400
    assert services.store.config_version() == revision
    assert client.post("/dashboard/port", data={"port": "3", "action": "out"}).status_code == 400
    assert "port out 3" not in services.engine.commands


def test_security_headers_on_every_response(box):
    app, _, _ = box
    client = app.test_client()
    for response in (client.get("/login"), client.get("/dashboard"), client.get("/static/style.css"),
                     client.get("/nowhere")):
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


def test_pages_have_no_inline_script_and_nothing_from_the_internet(box):
    app, _, _ = box
    client = app.test_client()
    login(client, "ada")
    for path in ("/login", "/dashboard", "/config/", "/config/extensions", "/config/extensions/item/201",
                 "/config/settings/country", "/agent"):
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", html), path
        assert not re.search(r"(src|href)=\"(https?:)?//", html), path
        assert " style=" not in html and "<style" not in html, path


def test_request_body_limit(box):
    app, _, _ = box
    client = app.test_client()
    login(client, "ada")
    response = client.post("/config/extensions/new", data={"name": "x" * 70_000})
    assert response.status_code == 413


# ----------------------------------------------------------------------------- roles: role x page

PAGES = {
    ("GET", "/dashboard"): {"admin", "installer", "supervisor"},
    ("GET", "/api/status"): {"admin", "installer", "supervisor"},
    ("GET", "/config/"): {"admin", "installer"},
    ("GET", "/config/settings/country"): {"admin", "installer"},
    ("GET", "/config/settings/dialplan"): {"admin", "installer"},
    ("GET", "/config/settings/security"): {"admin", "installer"},
    ("GET", "/config/settings/features"): {"admin", "installer"},
    ("GET", "/config/settings/acd"): {"admin", "installer"},
    ("GET", "/config/lines"): {"admin", "installer"},
    ("GET", "/config/extensions"): {"admin", "installer"},
    ("GET", "/config/extensions/new"): {"admin", "installer"},
    ("GET", "/config/extensions/item/201"): {"admin", "installer"},
    ("GET", "/config/ring_groups"): {"admin", "installer"},
    ("GET", "/config/routes"): {"admin", "installer"},
    ("GET", "/config/routes/item/0"): {"admin", "installer"},
    ("GET", "/config/schedules"): {"admin", "installer"},
    ("GET", "/config/queues"): {"admin", "installer"},
    ("GET", "/config/agents"): {"admin", "installer"},
    ("POST", "/dashboard/port"): {"admin", "installer"},
    ("POST", "/dashboard/test-call"): {"admin", "installer"},
    ("POST", "/config/extensions/item/204/delete"): {"admin", "installer"},
    ("GET", "/agent"): {"admin", "supervisor", "agent"},
    ("GET", "/reports"): {"admin", "installer", "supervisor"},
    ("GET", "/reports/calls.csv"): {"admin", "installer", "supervisor"},
    ("GET", "/reports/queues"): {"admin", "installer", "supervisor"},
    ("GET", "/audit"): {"admin", "installer"},
    ("GET", "/system"): {"admin", "installer"},
    ("GET", "/system/backup.yaml"): {"admin", "installer"},
    ("POST", "/system/restore"): {"admin", "installer"},
    ("GET", "/system/backup.tar"): {"admin"},
    ("POST", "/system/restore-backup"): {"admin"},
    ("POST", "/api/restore/start"): {"admin"},
    ("POST", "/api/restore/chunk"): {"admin"},
    ("POST", "/api/restore/finish"): {"admin"},
    ("POST", "/system/factory-reset"): {"admin"},
    ("GET", "/accounts"): {"admin"},
    ("GET", "/password"): {"admin", "installer", "supervisor", "agent"},
    ("POST", "/accounts"): {"admin"},
    ("GET", "/manager/"): {"admin"},
    ("GET", "/manager/settings"): {"admin"},
    ("POST", "/manager/accounts"): {"admin"},
    ("POST", "/system/restart"): {"admin"},
    ("GET", "/contacts/"): {"admin", "supervisor"},
    ("GET", "/contacts/export.csv"): {"admin", "supervisor"},
    ("POST", "/contacts/import"): {"admin", "supervisor"},
    ("GET", "/media"): {"admin", "installer"},
    ("POST", "/media/music"): {"admin", "installer"},
    ("POST", "/media/greetings"): {"admin", "installer"},
    ("POST", "/media/queues/support/greeting"): {"admin", "installer"},
    ("GET", "/campaigns/"): {"admin", "installer", "supervisor"},
    ("GET", "/campaigns/new"): {"admin", "installer"},
    ("POST", "/campaigns/new"): {"admin", "installer"},
    ("POST", "/campaigns/check"): {"admin", "installer", "supervisor"},
    ("GET", "/campaigns/report"): {"admin", "installer", "supervisor"},
    ("POST", "/campaigns/item/renewals/enabled"): {"admin", "installer"},
    ("GET", "/campaigns/report.csv"): {"admin", "installer", "supervisor"},
}
USERS = {"admin": "ada", "installer": "ian", "supervisor": "sue", "agent": "al", "manager": "max"}


@pytest.mark.parametrize("role", sorted(USERS))
def test_role_by_page(box, role):
    app, services, _ = box
    client = app.test_client()
    login(client, USERS[role])
    refused = []
    for (method, path), roles in PAGES.items():
        if method == "GET":
            response = client.get(path)
        else:
            token = token_of(client.get("/login"))
            response = client.post(path, data={"csrf_token": token, "port": "3", "action": "in", "number": "201",
                                               "revision": str(services.store.config_version())})
        # a form answered with its field errors (400) was let in; refused is 403
        permitted = response.status_code in (200, 302, 400) and not response.headers.get(
            "Location", "").startswith("/login")
        assert permitted == (role in roles), f"{role} {method} {path}: {response.status_code}"
        if not permitted:
            assert response.status_code == 403
            refused.append(path)
    assert role == "admin" or refused  # every role but the admin is refused something


# ----------------------------------------------------------------------------- first-boot wizard

@pytest.fixture
def fresh(tmp_path):
    services = make_services(tmp_path, seeded=False)
    app = make_app(services)
    token = SetupToken(tmp_path).issue()
    yield app, services, token
    services.store.close()


def wizard_form(client, token, **changes):
    page = client.get("/setup")
    form = {"csrf_token": token_of(page), "revision": "0", "token": token, "zone": "de",
            "caller_id_standard": "", "language": "", "name": "chief", "password": PASSWORD,
            "password2": PASSWORD}
    form.update(changes)
    return form


def test_without_an_admin_every_page_leads_to_the_wizard(fresh):
    app, _, _ = fresh
    client = app.test_client()
    for path in ("/", "/login", "/dashboard", "/config/extensions"):
        assert client.get(path).headers["Location"] == "/setup", path
    page = client.get("/setup").get_data(as_text=True)
    assert "Setup token" in page and "FXO" in page and "FXS" in page


def test_wizard_refuses_a_wrong_token_and_stores_nothing(fresh):
    app, services, _ = fresh
    client = app.test_client()
    response = client.post("/setup", data=wizard_form(client, "not-the-token"))
    assert response.status_code == 400 and 'id="f-token-error"' in response.get_data(as_text=True)
    assert services.store.is_empty() and not services.accounts.users()


@pytest.mark.parametrize("changes, field", [
    ({"password": "short", "password2": "short"}, "f-password-error"),
    ({"password2": "something else entirely"}, "f-password2-error"),
    ({"name": "9lives"}, "f-name-error"),
    ({"zone": "xx"}, "f-zone-error"),
    ({"caller_id_standard": "morse"}, "f-caller_id_standard-error"),
])
def test_wizard_field_errors_next_to_their_field(fresh, changes, field):
    app, services, token = fresh
    client = app.test_client()
    response = client.post("/setup", data=wizard_form(client, token, **changes))
    assert response.status_code == 400 and f'id="{field}"' in response.get_data(as_text=True)
    assert services.store.is_empty() and not services.accounts.users()


def test_wizard_makes_the_admin_sets_the_country_and_burns_the_token(fresh, tmp_path):
    app, services, token = fresh
    client = app.test_client()
    response = client.post("/setup", data=wizard_form(client, token))
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    assert services.store.load().zone == "de" and services.store.load().board == "virtual"
    assert [(user.name, user.role) for user in services.accounts.users()] == [("chief", "admin")]
    assert not (tmp_path / TOKEN_FILE).exists()
    assert client.get("/dashboard").status_code == 200  # logged in as the new admin
    assert client.get("/setup").headers["Location"] == "/login"


def test_wizard_only_from_the_local_network(fresh):
    app, _, token = fresh
    client = app.test_client()
    response = client.get("/setup", environ_base={"REMOTE_ADDR": "93.184.216.34"})
    assert response.status_code == 403


def test_secret_key_made_once_and_kept(tmp_path):
    services = make_services(tmp_path)
    first = make_app(services).config["SECRET_KEY"]
    assert (tmp_path / SECRET_FILE).stat().st_mode & 0o777 == 0o600
    assert make_app(services).config["SECRET_KEY"] == first and len(first) == 32
    services.store.close()


def test_agents_page_shows_live_agents_and_queues(box):
    app, _, _ = box
    client = app.test_client()
    login(client, "al")
    html = client.get("/agent").get_data(as_text=True)
    assert "1001" in html and "ready" in html and "support" in html and "75%" in html and "25%" in html


# ----------------------------------------------------------------------------- live actions

def test_dashboard_actions_go_to_the_engine_console_and_its_answer_is_shown(box):
    app, services, _ = box
    client = app.test_client()
    login(client, "ian")
    token = token_of(client.get("/dashboard"))
    assert client.post("/dashboard/port", data={"csrf_token": token, "port": "4", "action": "out"}).status_code == 302
    assert client.post("/dashboard/port", data={"csrf_token": token, "port": "4", "action": "in"}).status_code == 302
    client.post("/dashboard/test-call", data={"csrf_token": token, "port": "2", "number": "202"})
    client.post("/dashboard/port", data={"csrf_token": token, "port": "4; rm", "action": "out"})
    client.post("/dashboard/test-call", data={"csrf_token": token, "port": "2", "number": "202 hold=9"})
    assert services.engine.commands[-4:] == ["port out 4", "port in 4", "call test 2 202", "port out ?"]
    assert "did port out ?" in client.get("/dashboard").get_data(as_text=True)


def test_dashboard_and_status_when_the_engine_is_down(box):
    app, services, _ = box
    services.engine.down = True
    client = app.test_client()
    login(client, "sue")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "no engine at" in html and client.get("/api/status").get_json()["engine"]["error"].startswith("no engine")


def test_api_status_shape(box):
    app, _, _ = box
    client = app.test_client()
    login(client, "sue")
    status = client.get("/api/status").get_json()
    assert status["engine"]["link"]["counters"]["crc_errors"] == 2 and len(status["engine"]["ports"]) == 6
    assert set(status["system"]) == {"cpu_load_per_core", "memory_used_percent", "disk_used_percent", "disk_free_mb",
                                     "storage_used_mb", "storage_budget_mb", "storage_percent", "storage_warning",
                                     "storage_warn_percent"}  # the data against the disk budget (issue 16)


# ----------------------------------------------------------------------------- logout and passwords

def test_a_session_cookie_copied_before_logout_is_refused_after_it(box):
    app, _, _ = box
    client = app.test_client()
    login(client, "ada")
    copied = client.get_cookie("linebox_session").value
    client.post("/logout", data={"csrf_token": token_of(client.get("/dashboard"))})
    thief = app.test_client()
    thief.set_cookie("linebox_session", copied)
    assert thief.get("/dashboard").status_code == 302


def test_changing_ones_password_ends_the_other_sessions(box):
    app, services, clock = box
    desk, phone = app.test_client(), app.test_client()
    login(desk, "sue")
    login(phone, "sue")
    clock.now += 60
    page = desk.get("/password")
    response = desk.post("/password", data={"csrf_token": token_of(page), "current": PASSWORD,
                                            "password": "a brand new phrase", "password2": "a brand new phrase"})
    assert response.status_code == 302
    assert desk.get("/dashboard").status_code == 200  # this session goes on
    assert phone.get("/dashboard").status_code == 302  # the other one is over
    assert login(app.test_client(), "sue", "a brand new phrase").status_code == 302
    assert services.audit.recent(5)[0].action in ("login", "password change")


@pytest.mark.parametrize("changes, field", [({"current": "not it at all"}, "current"),
                                            ({"password": "short", "password2": "short"}, "password"),
                                            ({"password2": "something else"}, "password2")])
def test_password_change_errors(box, changes, field):
    app, services, _ = box
    client = app.test_client()
    login(client, "sue")
    form = {"csrf_token": token_of(client.get("/password")), "current": PASSWORD, "password": "a brand new phrase",
            "password2": "a brand new phrase", **changes}
    response = client.post("/password", data=form)
    assert response.status_code == 400 and f'id="f-{field}-error"' in response.get_data(as_text=True)
    assert login(app.test_client(), "sue").status_code == 302  # the old password still works


def test_the_browsers_favicon_request_keeps_the_login_forms_token(box):
    """A fresh browser asks for /favicon.ico right after the login page: that anonymous request
    must not give the session a new CSRF token, or the first login is refused."""
    app, _, _ = box
    client = app.test_client()
    token = token_of(client.get("/login"))
    assert client.get("/favicon.ico").status_code == 200  # served as a static file, without a session
    response = client.post("/login", data={"name": "ada", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/"
