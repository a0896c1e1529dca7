"""System pages with Flask's test client: audit log, accounts, backup and restore, call records."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest

from firmware.cdr import CallRecord, Disposition, HangupBy
from tests.test_web_config import form_of
from tests.web_helpers import PASSWORD, admin_client, login, make_accounts, make_app, make_services, token_of
from webadmin.admin import UPLOAD_LIMIT


@pytest.fixture
def admin(tmp_path):
    with admin_client(tmp_path) as signed_in:
        yield signed_in


def test_a_saved_change_is_in_the_audit_log_with_who_what_when(admin):
    client, services = admin
    form = form_of(client, "/config/extensions/item/202")
    form["name"] = "Sales desk"
    client.post("/config/extensions/item/202", data=form)
    entry = services.audit.recent(1)[0]
    assert entry.user == "ada" and entry.action == "extensions edit" and entry.at == services.clock()
    assert "name: 'Sales' -> 'Sales desk'" in entry.detail and entry.revision == services.store.config_version()
    page = client.get("/audit").get_data(as_text=True)
    assert "Sales desk" in page and "extensions edit" in page and "login" in page


def test_an_account_made_on_the_page_can_log_in_at_once(admin, tmp_path):
    client, services = admin
    page = client.get("/accounts")
    form = {"csrf_token": token_of(page), "name": "sam", "role": "supervisor", "password": "supervising 2026",
            "password2": "supervising 2026"}
    assert client.post("/accounts", data=form).status_code == 302
    other = make_app(services).test_client()
    assert login(other, "sam", "supervising 2026").status_code == 302
    assert other.get("/reports").status_code == 200 and other.get("/config/").status_code == 403


@pytest.mark.parametrize("changes, field", [
    ({"password": "short", "password2": "short"}, "password"),
    ({"name": "-x"}, "name"),
    ({"role": "root"}, "role"),
    ({"password2": "does not match"}, "password2"),
])
def test_account_form_errors_next_to_their_field(admin, changes, field):
    client, services = admin
    page = client.get("/accounts")
    form = {"csrf_token": token_of(page), "name": "sam", "role": "agent", "password": "agent password 1",
            "password2": "agent password 1", **changes}
    response = client.post("/accounts", data=form)
    assert response.status_code == 400 and f'id="f-{field}-error"' in response.get_data(as_text=True)
    assert services.accounts.get("sam") is None


def _restore(client, data: bytes, name="backup.yaml", revision=None):
    page = client.get("/system")
    revision = revision if revision is not None else re.search(r'name="revision" value="(\d+)"',
                                                               page.get_data(as_text=True)).group(1)
    return client.post("/system/restore", data={"csrf_token": token_of(page), "revision": revision,
                                                "file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_backup_then_restore_brings_the_configuration_back(admin):
    client, services = admin
    backup = client.get("/system/backup.yaml")
    assert backup.status_code == 200 and "attachment" in backup.headers["Content-Disposition"]
    before = services.store.load()
    services.store.update(lambda c: dataclasses.replace(c, extensions=tuple(
        dataclasses.replace(e, name="changed") for e in c.extensions)), source="test")
    response = _restore(client, backup.data)
    assert response.status_code == 302
    assert services.store.load() == before
    assert services.audit.recent(1)[0].action == "restore"


@pytest.mark.parametrize("data, name, words", [
    (b"zone: [unclosed", "b.yaml", "YAML syntax error"),
    (b"zone: xx\n", "b.yaml", "board: missing (required)"),
    (b"\xff\xfe", "b.yaml", "not UTF-8"),
    (b"zone: us\n", "b.txt", "a backup is a .yaml file"),
])
def test_a_bad_backup_is_refused_with_its_problem_and_nothing_is_replaced(admin, data, name, words):
    client, services = admin
    revision = services.store.config_version()
    response = _restore(client, data, name)
    assert response.status_code == 400 and words in response.get_data(as_text=True)
    assert services.store.config_version() == revision


def test_a_backup_that_does_not_fit_the_board_lists_every_problem(admin):
    client, services = admin
    text = client.get("/system/backup.yaml").get_data(as_text=True)
    # "port: 5" followed by the line end: voicemail.smtp.port 587 must stay as it is
    text = text.replace("port: 5\n", "port: 0\n").replace("members: ['201'", "members: ['299'")
    response = _restore(client, text.encode())
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "port 0 is FXO, not FXS" in html
    assert "members[0]: extension 299 does not exist" in html


def test_a_backup_with_three_errors_lists_all_three_and_stores_nothing(admin):
    """Every problem at once, each with its field's path, as ``linebox config validate`` lists them
    (firmware/config/collect.py), not the codec's first one only."""
    client, services = admin
    text = client.get("/system/backup.yaml").get_data(as_text=True)
    before, revision = services.store.load(), services.store.config_version()
    for old, new in (("  silence_timeout_s: 120\n", "  silence_timeout_s: -5\n"),  # out of bounds
                     ("  dialling: dtmf\n", "  dialling: smoke\n"),  # not one of the choices
                     ("  call_waiting: true\n", "  call_waiting: true\n  colour: blue\n")):  # an unknown key
        assert old in text
        text = text.replace(old, new, 1)
    response = _restore(client, text.encode())
    html = response.get_data(as_text=True)
    listed = re.search(r'<ul class="error" id="restore-problems">(.*?)</ul>', html, re.S)
    problems = re.findall(r"<li>([^<]*)</li>", listed.group(1)) if listed else []
    assert response.status_code == 400
    assert [problem.split(":")[0] for problem in problems] == [
        "lines[0].silence_timeout_s", "lines[0].dialling", "extensions[0].colour"], html
    assert services.store.config_version() == revision and services.store.load() == before


def test_restore_over_a_newer_configuration_is_refused(admin):
    client, services = admin
    backup = client.get("/system/backup.yaml").data
    shown_at = str(services.store.config_version())
    services.store.update(lambda c: dataclasses.replace(c, zone="ca"), source="console")  # another hand
    response = _restore(client, backup, revision=shown_at)
    assert response.status_code == 400 and "changed by someone else" in response.get_data(as_text=True)
    assert services.store.load().zone == "ca"


def test_restore_upload_size_limit(admin):
    client, _ = admin
    assert _restore(client, b"#" * (UPLOAD_LIMIT + 10)).status_code == 413


def _record(n: int, start: float, disposition=Disposition.ANSWERED, caller="2125550199") -> CallRecord:
    answered = disposition is Disposition.ANSWERED
    return CallRecord(uniqueid=f"{start:.0f}.1.{n}", start=start, end=start + 65, answer=start + 5 if answered else None,
                      disposition=disposition, hangup_by=HangupBy.CALLER, caller_number=caller, dst="201",
                      dst_extension="201", dst_port=2)


def test_call_records_filtered_and_exported(admin):
    client, services = admin
    day = 1_764_892_800.0  # 2025-12-05 00:00 UTC
    services.cdr.record(_record(1, day + 3600))
    services.cdr.record(_record(2, day + 7200, Disposition.NO_ANSWER, caller="3035550100"))
    services.cdr.record(_record(3, day + 86_400 + 60))
    page = client.get("/reports?since=2025-12-05&until=2025-12-05").get_data(as_text=True)
    assert "2 calls" in page and "2025-12-05 01:00:00" in page
    page = client.get("/reports?disposition=NO+ANSWER").get_data(as_text=True)
    assert "1 call." in page and "3035550100" in page
    csv = client.get("/reports/calls.csv?number=2125550199").get_data(as_text=True).splitlines()
    assert len(csv) == 3 and csv[0].startswith("accountcode")


@pytest.mark.parametrize("query, field", [("since=yesterday", "since"), ("until=2025-13-01", "until"),
                                          ("disposition=LOST", "disposition"), ("number=12;DROP", "number")])
def test_bad_report_filters_are_refused_next_to_their_field(admin, query, field):
    client, _ = admin
    response = client.get(f"/reports?{query}")
    assert response.status_code == 400 and f'id="f-{field}-error"' in response.get_data(as_text=True)
    assert client.get(f"/reports/calls.csv?{query}").status_code == 400


def test_system_page_shows_the_engines_log_escaped(admin):
    client, services = admin
    html = client.get("/system").get_data(as_text=True)
    assert "event=test n=2 &lt;b&gt;" in html and "test" in html
    services.engine.down = True
    assert "no engine at" in client.get("/system").get_data(as_text=True)


def test_the_engine_restart_asks_to_confirm_then_goes_through_the_console(admin):
    client, services = admin
    services.engine.status["restart"] = "systemd"
    page = client.get("/system")
    assert 'id="restart"' in page.get_data(as_text=True)
    token = token_of(page)
    assert client.post("/system/restart", data={"confirm": "yes"}).status_code in (400, 403)  # no CSRF token
    asked = client.post("/system/restart", data={"csrf_token": token})
    assert asked.status_code == 200 and 'id="restart-confirm"' in asked.get_data(as_text=True)
    assert "engine restart" not in services.engine.commands  # nothing yet: the page asks first
    done = client.post("/system/restart", data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 302 and services.engine.commands.count("engine restart") == 1
    assert services.audit.recent(1)[0].action == "engine restart"


def test_without_systemd_the_page_says_so_and_offers_no_button(admin):
    client, services = admin
    services.engine.status["restart"] = "none"
    html = client.get("/system").get_data(as_text=True)
    assert 'id="restart-unavailable"' in html and "not started by systemd" in html and 'id="restart"' not in html
    token = token_of(client.get("/system"))
    client.post("/system/restart", data={"csrf_token": token, "confirm": "yes"})
    services.engine.down = True
    html = client.get("/system").get_data(as_text=True)
    assert 'id="restart-unavailable"' in html and "cannot be restarted from here now" in html


def test_an_installer_may_not_restart_the_engine(tmp_path):
    accounts = make_accounts(tmp_path)
    accounts.add("ada", "admin", PASSWORD, 0.0)
    accounts.add("ian", "installer", PASSWORD, 0.0)
    services = make_services(tmp_path, accounts=accounts)
    services.engine.status["restart"] = "systemd"
    client = make_app(services).test_client()
    login(client, "ian")
    page = client.get("/system")
    assert 'id="restart"' not in page.get_data(as_text=True)
    response = client.post("/system/restart", data={"csrf_token": token_of(page), "confirm": "yes"})
    assert response.status_code == 403 and "engine restart" not in services.engine.commands
    services.store.close()
