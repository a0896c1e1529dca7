"""The System page's full backup, restore and factory reset, and the dashboard's doctor card, in a
real browser (Debian's chromium driven by Playwright) against ``linebox run`` and ``linebox web``
on the virtual board, each a process of its own (issue 16).

The browser downloads a full backup (a valid archive, checked whole), has a damaged copy of it
refused with its one-line error (sent in chunks by the page's script, webadmin/static/restore.js,
as is a damaged file of several chunks) and a factory reset refused without the typed word
(nothing changes on the box either time); last, a valid backup sent by the script is verified,
the page says so, and the engine applies it at its restart; the dashboard, left open, shows a ``linebox doctor`` run made
meanwhile without being reloaded (its script follows /api/status). The restore and the reset that
go through are tested end to end on the real engine in tests/test_appliance_restart.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from browser_helpers import BROWSER_MARKS, ROOT, console, logged_in, office_config, running_box, wait_for

from firmware.config import ConfigStore
from firmware.storage.doctor_report import read_report, report_path
from firmware.storage.pending import check_archive, pending
from linebox.storage import board_ports
from webadmin.data import CHUNK_BYTES

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    with running_box(tmp_path_factory.mktemp("systembox"), office_config(), roles=("admin",)) as running:
        yield running


def _box_state(box) -> tuple[int, list[str]]:
    """What a refused operation must leave as it was: the configuration's revision and the data
    folder's files (nothing staged: no pending-*, no upload, chunk or verify leftovers, no replaced-*;
    the staging folder's files are listed, the empty folder itself is not)."""
    with ConfigStore(box.db, boards=board_ports) as store:
        revision = store.config_version()
    return revision, sorted(str(p.relative_to(box.folder)) for p in box.folder.rglob("*")
                            if not p.is_dir() and not p.name.startswith("linebox.db-"))


def _restore_in_chunks(page, path) -> list[str]:
    """Sends ``path`` with the page's restore form (its script: chunks); the URLs it POSTed."""
    posted: list[str] = []
    page.on("request", lambda request: posted.append(request.url) if request.method == "POST" else None)
    page.set_input_files("#f-backup", str(path))
    page.click("#restore-backup")
    page.wait_for_selector("#data-problem", state="visible")
    return posted


def test_full_backup_download_is_a_valid_archive_and_a_damaged_copy_is_refused(box, tmp_path):
    page, errors = logged_in(box, "admin")
    page.goto(f"{box.url}/system")
    with page.expect_download() as download:
        page.click("#backup-full")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("linebox-backup-") and saved.suffix == ".tar"
    manifest = check_archive(saved, tmp_path / "verify")  # every file's checksum: the whole archive
    assert not manifest.recordings and "linebox.db" in {entry.path for entry in manifest.entries}

    damaged = tmp_path / "damaged.tar"
    payload = saved.read_bytes()
    damaged.write_bytes(payload[:len(payload) // 2])  # a download cut in the middle
    before = _box_state(box)
    assert not page.is_visible("#restore-needs-script")  # the script runs: no note about a browser without
    posted = _restore_in_chunks(page, damaged)
    problem = page.text_content("#data-problem")
    assert problem.startswith("nothing was restored: backup:") and "\n" not in problem.strip()
    assert [url.split(box.url)[1].split("?")[0] for url in posted] == [
        "/api/restore/start", "/api/restore/chunk", "/api/restore/finish"]  # the plain form was not posted
    assert _box_state(box) == before and pending(box.db) is None  # nothing staged, nothing replaced
    assert page.url.endswith("/system") and page.is_enabled("#restore-backup")  # the page stays, for another try
    assert errors == []


def test_a_file_of_several_chunks_goes_in_order_and_a_damaged_one_changes_nothing(box, tmp_path):
    page, errors = logged_in(box, "admin")
    page.goto(f"{box.url}/system")
    noise = tmp_path / "noise.tar"
    noise.write_bytes(bytes(range(256)) * (9 * 1024 * 1024 // 256))  # 9 MiB: three chunks of at most 4 MiB
    before = _box_state(box)
    posted = _restore_in_chunks(page, noise)
    chunks = [url for url in posted if "/api/restore/chunk" in url]
    offsets = [int(url.rsplit("offset=", 1)[1]) for url in chunks]
    assert offsets == [0, CHUNK_BYTES, 2 * CHUNK_BYTES] and posted[-1].endswith("/api/restore/finish")
    assert page.text_content("#data-problem").startswith("nothing was restored: backup:")
    assert _box_state(box) == before and pending(box.db) is None
    assert errors == []


def test_factory_reset_is_refused_without_the_typed_word(box):
    page, errors = logged_in(box, "admin")
    before = _box_state(box)
    for word in ("", "yes", "RESET"):
        page.goto(f"{box.url}/system")
        page.fill("#f-confirm", word)
        page.click("#factory-reset")
        assert page.text_content("#data-problem").strip() == "type reset to confirm the factory reset; nothing changed"
    assert _box_state(box) == before
    assert errors == []


def test_the_dashboard_shows_a_doctor_run_without_reloading(box):
    page, errors = logged_in(box, "admin")
    page.goto(f"{box.url}/dashboard")
    assert page.is_visible("#doctor-never") and not page.is_visible("#doctor-last")
    page.evaluate("window.notReloaded = true")
    done = subprocess.run([sys.executable, "-m", "linebox", "doctor", "--board", "virtual", "--db", str(box.db),
                           "--skip", "clock_sync", "--json"],  # no network clock here
                          cwd=box.folder, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=300)
    result = json.loads(done.stdout)
    report = read_report(report_path(box.db))
    assert report is not None and report.ok == result["ok"] and done.returncode == (0 if result["ok"] else 1)
    failing = [check for check in result["checks"] if not check["ok"]]
    wording = (f"all {len(result['checks'])} checks pass" if result["ok"]
               else f"{len(failing)} of {len(result['checks'])} checks fail")
    wait_for(lambda: page.is_visible("#doctor-last"), "the doctor card to follow the poll", 20)
    assert page.text_content("#doctor-result") == wording and not page.is_visible("#doctor-never")
    assert page.text_content("#doctor-when").endswith(" UTC")
    assert page.get_attribute("#doctor-result", "class") == ("ok" if result["ok"] else "error")
    assert page.is_visible("#doctor-failing") == bool(failing)
    for check in failing:
        assert f"{check['name']}: {check['detail']}" in page.text_content("#doctor-failing")
    assert page.evaluate("window.notReloaded") is True  # the script changed the card, not a reload
    assert errors == []


def test_a_valid_backup_sent_in_chunks_is_restored(box, tmp_path):
    """Last in this module (the engine and the web admin restart on the restored data): the page's
    script sends the box's own backup, then goes to the System page, which says it was verified;
    the engine applies it at its start and keeps what it replaced."""
    page, errors = logged_in(box, "admin")
    page.goto(f"{box.url}/system")
    with page.expect_download() as download:
        page.click("#backup-full")
    saved = tmp_path / "backup.tar"
    download.value.save_as(saved)
    posted: list[str] = []
    page.on("request", lambda request: posted.append(request.url) if request.method == "POST" else None)
    page.set_input_files("#f-backup", str(saved))
    with page.expect_navigation(url=f"{box.url}/system"):
        page.click("#restore-backup")
    assert "verified" in page.text_content(".flash") and "the engine restarts now" in page.text_content(".flash")
    assert [url.split(box.url)[1].split("?")[0] for url in posted] == [
        "/api/restore/start", "/api/restore/chunk", "/api/restore/finish"]
    wait_for(lambda: (box.folder / "replaced-1").is_dir() and pending(box.db) is None,
             "the engine to apply the restore at its start", 120)
    wait_for(lambda: console(box.sock, "show ports"), "the engine's console after its restart", 120)
    assert errors == []
