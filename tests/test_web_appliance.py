"""The appliance on the web admin (issue 16): the dashboard shows the last ``linebox doctor``
result; the System page makes and restores full backups and does a factory reset with the same
code as ``linebox backup`` and ``linebox factory-reset`` (Flask's test client)."""

from __future__ import annotations

import pytest

from firmware.storage.doctor_report import Check, make_report, report_path, write_report
from tests.test_web import login
from tests.web_helpers import PASSWORD, make_accounts, make_app, make_services

AT = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC


@pytest.fixture
def admin(tmp_path):
    accounts = make_accounts(tmp_path)
    accounts.add("ada", "admin", PASSWORD, 0.0)
    services = make_services(tmp_path, accounts=accounts)
    client = make_app(services).test_client()
    login(client, "ada")
    yield client, services
    services.store.close()


def test_the_dashboard_shows_the_last_doctor_result(admin, tmp_path):
    client, services = admin
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="doctor-never"' in page
    write_report(report_path(services.store.path), make_report(AT, [
        Check("board_link", True, "up"), Check("port_fxo1", False, "no line voltage (0.0 V): the line is dead"),
        Check("dial_tone_fxo1", False, "no dial tone"), Check("clock_sync", True, "synchronised")]))
    page = client.get("/dashboard").get_data(as_text=True)
    assert "2 of 4 checks fail" in page and "2026-05-28 20:26:40 UTC" in page
    assert "<strong>port_fxo1</strong>: no line voltage" in page and "<strong>dial_tone_fxo1</strong>" in page
    status = client.get("/api/status").get_json()["doctor"]
    assert status["ok"] is False and [c["name"] for c in status["failing"]] == ["port_fxo1", "dial_tone_fxo1"]
    write_report(report_path(services.store.path), make_report(AT + 60, [Check("board_link", True, "up")]))
    page = client.get("/dashboard").get_data(as_text=True)
    assert "all 1 checks pass" in page and 'id="doctor-failing"' not in page and "20:27:40" in page
    report_path(services.store.path).write_text("{not json")
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="doctor-error"' in page and "not a doctor result" in page
