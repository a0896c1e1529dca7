"""The appliance on the web admin (issue 16): the dashboard shows the last ``linebox doctor``
result; the System page makes and restores full backups and does a factory reset with the same
code as ``linebox backup`` and ``linebox factory-reset`` (Flask's test client)."""

from __future__ import annotations

import hashlib
import io
import re

import pytest

from firmware import FirmwareError
from firmware.storage.doctor_report import Check, make_report, report_path, write_report
from firmware.storage.pending import PENDING_RESTORE, apply_pending, check_archive, pending
from tests.web_helpers import (
    admin_client,
    data_box,
    data_folder,
    extension_name,
    leftovers,
    login,
    renamed_extension,
    token_of,
)

AT = 1_780_000_000.0  # 2026-05-28 20:26:40 UTC


@pytest.fixture
def admin(tmp_path):
    with admin_client(tmp_path) as signed_in:
        yield signed_in


def _shown(page: str, element_id: str) -> bool:
    """The element is on the page and not hidden (dashboard.js switches the doctor card's states)."""
    tag = re.search(rf'<[a-z]+ [^>]*id="{element_id}"[^>]*>', page)
    assert tag, f"no #{element_id} on the page"
    return " hidden" not in tag.group(0)


def test_the_dashboard_shows_the_last_doctor_result(admin, tmp_path):
    client, services = admin
    page = client.get("/dashboard").get_data(as_text=True)
    assert _shown(page, "doctor-never") and not _shown(page, "doctor-last") and not _shown(page, "doctor-error")
    write_report(report_path(services.store.path), make_report(AT, [
        Check("board_link", True, "up"), Check("port_fxo1", False, "no line voltage (0.0 V): the line is dead"),
        Check("dial_tone_fxo1", False, "no dial tone"), Check("clock_sync", True, "synchronised")]))
    page = client.get("/dashboard").get_data(as_text=True)
    assert "2 of 4 checks fail" in page and "2026-05-28 20:26:40 UTC" in page
    assert "<strong>port_fxo1</strong>: no line voltage" in page and "<strong>dial_tone_fxo1</strong>" in page
    assert _shown(page, "doctor-last") and _shown(page, "doctor-failing") and not _shown(page, "doctor-never")
    status = client.get("/api/status").get_json()["doctor"]
    assert status["ok"] is False and [c["name"] for c in status["failing"]] == ["port_fxo1", "dial_tone_fxo1"]
    assert status["result"] == "2 of 4 checks fail"  # the page's script shows this wording as it is
    write_report(report_path(services.store.path), make_report(AT + 60, [Check("board_link", True, "up")]))
    page = client.get("/dashboard").get_data(as_text=True)
    assert "all 1 checks pass" in page and not _shown(page, "doctor-failing") and "20:27:40" in page
    assert client.get("/api/status").get_json()["doctor"]["result"] == "all 1 checks pass"
    report_path(services.store.path).write_text("{not json")
    page = client.get("/dashboard").get_data(as_text=True)
    assert _shown(page, "doctor-error") and "not a doctor result" in page
    assert not _shown(page, "doctor-last") and not _shown(page, "doctor-never")


# ----------------------------------------------------------------------------- full backup, restore, reset

def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _post(client, path, data, **kwargs):
    page = client.get("/system")
    return client.post(path, data={"csrf_token": token_of(page), **data}, **kwargs)


def _upload(client, payload: bytes, name="linebox-backup.tar"):
    return _post(client, "/system/restore-backup", {"file": (io.BytesIO(payload), name)},
                 content_type="multipart/form-data")


@pytest.fixture
def web(tmp_path):
    """An admin's client on a box in its own data folder, with a fake supervisor for the web process."""
    with data_box(tmp_path / "data") as box:
        yield box


@pytest.mark.parametrize("recordings", [False, True])
def test_the_full_backup_download_is_the_archive_linebox_backup_create_makes(web, tmp_path, recordings):
    client, services, _, _ = web
    response = client.get("/system/backup.tar" + ("?recordings=1" if recordings else ""))
    assert response.status_code == 200 and response.mimetype == "application/x-tar"
    assert "attachment; filename=linebox-backup-" in response.headers["Content-Disposition"]
    archive = tmp_path / "download.tar"
    archive.write_bytes(response.get_data())
    response.close()
    manifest = check_archive(archive, tmp_path / "check")
    assert manifest.recordings is recordings and "linebox.db" in {entry.path for entry in manifest.entries}
    assert leftovers(data_folder(services)) == []  # the temporary archive went with the response
    assert services.audit.recent(1)[0].action == "backup download"


def test_a_restore_while_the_engine_runs_is_staged_and_applied_at_its_start(web, tmp_path):
    client, services, restarts, _ = web
    data = data_folder(services)
    payload = client.get("/system/backup.tar").get_data()
    renamed_extension(services, "Changed after the backup")
    response = _upload(client, payload)
    assert response.status_code == 302
    assert services.engine.commands[-1] == "engine restart" and restarts == ["web"]
    assert pending(services.store.path) == "restore" and leftovers(data) == [PENDING_RESTORE]
    assert extension_name(services.store.path) == "Changed after the backup"  # nothing replaced under the engine
    done = apply_pending(services.store.path, "2026-12-05T00:00:00+00:00")  # what `linebox run` does first
    assert done is not None and done.startswith("restored the backup made")
    assert extension_name(services.store.path) == "Sales" and pending(services.store.path) is None
    assert (data / "replaced-1" / "linebox.db").is_file()  # what it replaced is kept


def test_a_restore_with_the_engine_stopped_is_applied_at_once(web):
    client, services, restarts, _ = web
    payload = client.get("/system/backup.tar").get_data()
    renamed_extension(services, "Changed after the backup")
    services.engine.down = True
    response = _upload(client, payload)
    assert response.status_code == 302 and restarts == ["web"]
    assert extension_name(services.store.path) == "Sales" and pending(services.store.path) is None
    assert (data_folder(services) / "replaced-1" / "linebox.db").is_file()
    assert "engine restart" not in services.engine.commands


def _damaged(payload: bytes) -> bytes:
    middle = len(payload) // 2
    return payload[:middle] + bytes([payload[middle] ^ 0xFF]) + payload[middle + 1:]


@pytest.mark.parametrize("engine_down", [False, True])
@pytest.mark.parametrize("spoil", ["truncated", "flipped byte", "not a tar", "empty"])
def test_a_corrupt_backup_is_refused_in_one_line_and_nothing_changes(web, spoil, engine_down):
    client, services, restarts, _ = web
    payload = client.get("/system/backup.tar").get_data()
    bad = {"truncated": payload[:len(payload) // 3], "flipped byte": _damaged(payload),
           "not a tar": b"hello, this is not an archive" * 40, "empty": b""}[spoil]
    services.engine.down = engine_down
    db_before = _digest(services.store.path)
    commands_before = list(services.engine.commands)
    response = _upload(client, bad)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    problem = re.search(r'id="data-problem">([^<]*)<', page).group(1)
    assert problem.startswith("nothing was restored: backup:") and "\n" not in problem
    assert _digest(services.store.path) == db_before and leftovers(data_folder(services)) == []
    assert restarts == [] and "engine restart" not in services.engine.commands[len(commands_before):]


def test_no_file_and_a_file_over_the_limit_are_refused(web, monkeypatch):
    client, services, _, app = web
    response = _post(client, "/system/restore-backup", {}, content_type="multipart/form-data")
    assert response.status_code == 400 and "choose the backup file" in response.get_data(as_text=True)
    # the view function is the module's own: set back after the test (monkeypatch), not left for the next
    monkeypatch.setattr(app.view_functions["data.restore_backup"], "upload_limit", 4096)
    assert _upload(client, b"x" * 8192).status_code == 413
    assert leftovers(data_folder(services)) == []


def test_factory_reset_needs_the_typed_word_and_leaves_a_backup(web):
    client, services, restarts, _ = web
    data = data_folder(services)
    for word in ("", "yes", "RESET "):
        response = _post(client, "/system/factory-reset", {"confirm": word})
        assert response.status_code == 400 and "type reset to confirm" in response.get_data(as_text=True)
    assert leftovers(data) == [] and restarts == []
    response = _post(client, "/system/factory-reset", {"confirm": "reset"})  # the engine runs: staged
    assert response.status_code == 302 and services.engine.commands[-1] == "engine restart"
    assert pending(services.store.path) == "factory-reset" and restarts == ["web"]
    assert extension_name(services.store.path) == "Sales"
    done = apply_pending(services.store.path, "2026-12-05T00:00:00+00:00")
    assert done.startswith("factory reset done")
    kept = data / "factory-reset-1"
    assert (kept / "backup.tar").is_file() and check_archive(kept / "backup.tar", data.parent / "check").recordings
    assert [p.name for p in data.iterdir()] == ["factory-reset-1"]  # the first-boot state; the marker went too


def test_factory_reset_with_the_engine_stopped_is_done_at_once(web):
    client, services, restarts, _ = web
    services.engine.down = True
    response = _post(client, "/system/factory-reset", {"confirm": "reset"})
    assert response.status_code == 302 and restarts == ["web"]
    data = data_folder(services)
    assert [p.name for p in data.iterdir()] == ["factory-reset-1"]
    assert (data / "factory-reset-1" / "backup.tar").is_file()


def test_only_the_admin_reaches_the_data_operations(web):
    client, services, restarts, app = web
    installer = app.test_client()
    login(installer, "ian")
    assert installer.get("/system/backup.tar").status_code == 403
    token = token_of(installer.get("/system"))
    assert installer.post("/system/factory-reset", data={"csrf_token": token, "confirm": "reset"}).status_code == 403
    assert 'id="factory-reset-form"' not in installer.get("/system").get_data(as_text=True)
    assert 'id="factory-reset-form"' in client.get("/system").get_data(as_text=True)
    no_token = client.post("/system/factory-reset", data={"confirm": "reset"})  # CSRF: refused, nothing done
    assert no_token.status_code == 400 and pending(services.store.path) is None and restarts == []


class _NoRestartEngine:
    """An engine that answers but that nothing would start again (``engine restart`` refused)."""

    def __init__(self, engine):
        self.engine = engine

    def run(self, command):
        if command == "engine restart":
            raise FirmwareError("engine restart: this engine was not started by systemd or linebox run")
        return self.engine.run(command)

    def tail(self, lines):
        return self.engine.tail(lines)


@pytest.mark.parametrize("operation", ["restore", "factory reset"])
def test_when_the_engine_cannot_restart_nothing_stays_staged(web, operation):
    """Nothing may happen later by surprise (at some start weeks after): the staged file goes and the
    page says why, in one line; the web admin keeps running on the data it has."""
    client, services, restarts, _ = web
    payload = client.get("/system/backup.tar").get_data()
    services.engine = _NoRestartEngine(services.engine)
    if operation == "restore":
        response = _upload(client, payload)
        expected = "nothing was restored: the engine could not be restarted to apply it (engine restart: "
    else:
        response = _post(client, "/system/factory-reset", {"confirm": "reset"})
        expected = "the factory reset failed: the engine could not be restarted to apply it (engine restart: "
    problem = re.search(r'id="data-problem">([^<]*)<', response.get_data(as_text=True))
    assert problem, (response.status_code, response.get_data(as_text=True)[:3000])
    problem = problem.group(1)
    assert response.status_code in (400, 500) and problem.startswith(expected) and "\n" not in problem
    assert pending(services.store.path) is None and leftovers(data_folder(services)) == [] and restarts == []
    assert extension_name(services.store.path) == "Sales"
