"""The IVR page in a real browser: Debian's chromium driven by Playwright against ``linebox web``
(waitress, a process of its own, as on the box): a flow edited with a mistake (its error shown,
nothing stored), then corrected and stored; a prompt uploaded, a corrupt one refused."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import playwright.sync_api as playwright_api  # noqa: E402  (a test dependency in setup.py: never skipped)
import pytest

from drivers.audiofile import encode_wav
from firmware.accounts import AccountStore
from firmware.config import ConfigStore, seed_demo
from linebox.storage import board_ports
from tests.test_web_browser import CHROMIUM, ROOT, free_port, page_of, wait_for

ADMIN, PASSWORD = "chief", "a long office passphrase"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium package is not installed")]


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    import socket

    folder = tmp_path_factory.mktemp("ivrweb")
    db = folder / "linebox.db"
    with ConfigStore(db, boards=board_ports) as store:
        seed_demo(store)
    accounts = AccountStore(db)
    accounts.add(ADMIN, "admin", PASSWORD, 0.0)
    accounts.close()
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(folder / "web.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "linebox", "web", "--listen", f"127.0.0.1:{port}",
                                    "--db", str(db), "--socket", str(folder / "none.sock")],
                                   cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True, "the web admin")
            with playwright_api.sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
                yield {"url": f"http://127.0.0.1:{port}", "browser": browser, "folder": folder, "db": db}
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=20)


def _log_in(page, url):
    page.goto(f"{url}/login")  # a fresh browser: it asks /favicon.ico too (which must not reset the form's token)
    page.fill("input[name=name]", ADMIN)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")


def test_edit_a_flow_with_a_mistake_then_correct_it(web):
    page, errors = page_of(web)
    _log_in(page, web["url"])
    page.click("nav >> text=IVR")
    page.click("#flows >> text=main")
    text = page.input_value("#f-flow")
    page.fill("#f-flow", text.replace("next: support", "next: nowhere", 1))
    page.click("#flow-form button[type=submit]")
    assert "node 'nowhere' does not exist in flow main" in page.inner_text("#flow-problems")
    page.fill("#f-flow", text.replace("timeout_s: 5", "timeout_s: 6"))
    page.click("#flow-form button[type=submit]")
    page.wait_for_url("**/ivr")
    assert "flow main stored" in page.inner_text(".flash")
    with ConfigStore(web["db"], boards=board_ports) as store:
        assert store.load().ivr_flow("main").node("welcome").timeout_s == 6
    assert not errors, errors


def test_upload_a_prompt_and_a_corrupt_one(web, tmp_path):
    page, errors = page_of(web)
    _log_in(page, web["url"])
    page.goto(web["url"] + "/ivr")
    t = np.arange(8000) / 8000
    good = tmp_path / "welcome.wav"
    good.write_bytes(encode_wav((3000 * np.sin(2 * np.pi * 440 * t) * (0.5 + 0.5 * np.sin(6 * np.pi * t)))
                                .astype(np.int16)))
    page.fill("#f-name", "welcome-acme")
    page.set_input_files("#f-file", str(good))
    page.click("#prompt-form button[type=submit]")
    page.wait_for_url("**/ivr")
    assert "prompt en/welcome-acme stored" in page.inner_text(".flash")
    assert "welcome-acme" in page.inner_text("#prompts")
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    page.fill("#f-name", "broken")
    page.set_input_files("#f-file", str(bad))
    page.click("#prompt-form button[type=submit]")
    assert "is not a WAV file the box reads" in page.inner_text("#prompt-problems")
    assert not (web["folder"] / "sounds" / "en" / "broken.wav").exists()
    assert not errors, errors
