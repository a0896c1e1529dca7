"""The dashboard's storage warning at 80 % of the retention's disk budget (issue 16): the web
process measures the data folder as the retention job does and shows the warning, on the page
and in /api/status, from exactly 80 %."""

import dataclasses

import pytest

from firmware.storage.retention import MB, measure
from tests.web_helpers import PASSWORD, Clock, FakeEngine, login, make_accounts, make_app, make_services
from webadmin.system import storage_figures

BUDGET_MB = 64  # the smallest budget the configuration accepts


def _fill(folder, size):
    """Recordings of ``size`` bytes in all, beside a database made by the test's stores."""
    mailbox = folder / "voicemail" / "201"
    mailbox.mkdir(parents=True, exist_ok=True)
    (mailbox / "filler.wav").write_bytes(b"\0" * size)


@pytest.fixture
def box(tmp_path):
    accounts = make_accounts(tmp_path)
    accounts.add("ada", "admin", PASSWORD, 0.0)
    services = make_services(tmp_path, accounts=accounts, engine=FakeEngine(), clock=Clock())
    config = services.store.load()
    services.store.save(dataclasses.replace(config, retention=dataclasses.replace(config.retention,
                                                                                 disk_budget_mb=BUDGET_MB)),
                        source="test")
    yield make_app(services), services, tmp_path
    services.store.close()


def test_the_warning_starts_at_exactly_80_percent_of_the_budget(box):
    _, services, folder = box
    _fill(folder, 0)
    assert not storage_figures(services.store.path, BUDGET_MB)["storage_warning"]
    threshold = -(-BUDGET_MB * MB * 80 // 100)  # the first whole byte at or above 80 %
    others = measure(services.store.path, BUDGET_MB).total  # the database's own files
    _fill(folder, threshold - 1 - others)
    assert measure(services.store.path, BUDGET_MB).total == threshold - 1
    assert not storage_figures(services.store.path, BUDGET_MB)["storage_warning"]
    _fill(folder, threshold - others)
    at = storage_figures(services.store.path, BUDGET_MB)
    assert at["storage_warning"] and at["storage_percent"] == 80.0


def test_the_dashboard_shows_the_warning_above_the_threshold_only(box):
    app, services, folder = box
    client = app.test_client()
    login(client, "ada")
    _fill(folder, 10 * MB)
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="storage-warning" class="error" hidden' in page
    assert client.get("/api/status").get_json()["system"]["storage_warning"] is False
    _fill(folder, 60 * MB)  # 60 of 64 MB and the database's own files: about 94 %
    expected = round(100 * measure(services.store.path, BUDGET_MB).total / (BUDGET_MB * MB), 1)
    page = client.get("/dashboard").get_data(as_text=True)
    assert 'id="storage-warning" class="error" >' in page and "% of the disk budget" in page
    status = client.get("/api/status").get_json()["system"]
    assert status["storage_warning"] is True and status["storage_percent"] == expected
    assert 93.0 <= expected <= 97.0
    assert status["storage_budget_mb"] == BUDGET_MB
