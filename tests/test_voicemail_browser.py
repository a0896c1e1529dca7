"""The voicemail pages in a real browser: Debian's chromium driven by Playwright, against
``linebox web`` (waitress) and ``linebox run`` on the virtual board, each a process of its own,
started as tests/test_web_browser.py starts them. A message is in the store before the engine
starts; the installer plays it in the browser (the browser decodes the WAV the box serves),
sets the PIN, uploads a greeting (16 kHz: converted), and deletes the message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import playwright.sync_api as playwright_api
import pytest
from test_web_browser import CHROMIUM, ROOT, WAIT_MS, console, free_port, wait_for

from drivers.audiofile import write_wav
from firmware.config import ConfigStore, demo_config
from firmware.voicemail.store import VoicemailStore
from linebox.storage import board_ports

ADMIN, PASSWORD = "chief", "a long office passphrase"

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium package is not installed")]


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vmbox")
    db, sock = folder / "linebox.db", folder / "linebox.sock"
    with ConfigStore(db, boards=board_ports) as store:
        store.save(demo_config(), source="test")
    store = VoicemailStore(db, folder / "voicemail")
    store.save("201", "2125557788", "ACME", 1_800_000_000.0, np.sin(np.arange(24000) / 3) * 6000)  # 3 s
    store.close()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    port = free_port()
    logs = [open(folder / name, "w") for name in ("engine.log", "web.log")]  # noqa: SIM115
    engine = subprocess.Popen([sys.executable, "-m", "linebox", "run", "--db", str(db), "--socket", str(sock),
                               "--no-web", "--no-demo-traffic", "--origin", "2026-11-23T15:00:00+00:00"],
                              cwd=folder, env=env, stdout=logs[0], stderr=subprocess.STDOUT)
    web = subprocess.Popen([sys.executable, "-m", "linebox", "web", "--listen", f"127.0.0.1:{port}", "--db", str(db),
                            "--socket", str(sock)], cwd=folder, env=env, stdout=logs[1], stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: console(sock, "show ports"), "the engine's console")
        wait_for(lambda: __import__("socket").create_connection(("127.0.0.1", port), timeout=1).close() or True,
                 "the web admin")
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            yield {"url": f"http://127.0.0.1:{port}", "sock": sock, "folder": folder, "browser": browser}
            browser.close()
    finally:
        for process in (web, engine):
            process.terminate()
            process.wait(timeout=20)
        for log in logs:
            log.close()


def test_the_installer_plays_sets_uploads_and_deletes(box, tmp_path):
    context = box["browser"].new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # First boot: the wizard makes the admin account and logs in (as tests/test_web_browser.py)
    page.goto(box["url"] + "/")
    page.wait_for_url("**/setup")
    page.fill("#f-token", (box["folder"] / "web-setup-token").read_text().strip())
    page.select_option("#f-zone", "us")
    page.fill("#f-name", ADMIN)
    page.fill("#f-password", PASSWORD)
    page.fill("#f-password2", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    page.click("nav >> text=Voicemail")
    page.wait_for_url("**/voicemail")
    page.click("#mailboxes >> text=201")
    page.wait_for_url("**/voicemail/201")
    assert "2125557788" in page.inner_text("#messages")
    # The browser loads and decodes the WAV the box serves: its length is the message's.
    seconds = page.evaluate("""() => new Promise(done => {
        const audio = document.querySelector('#messages audio');
        audio.preload = 'auto';
        audio.onloadedmetadata = () => done(audio.duration);
        audio.onerror = () => done(-1);
        audio.load();
    })""")
    assert abs(seconds - 3.0) < 0.05
    # PIN
    page.fill("#f-pin", "4826")
    page.fill("#f-pin2", "4826")
    page.click("#pin-form button[type=submit]")
    assert "PIN of mailbox 201 set" in page.inner_text("main")
    assert page.inner_text("#pin-state") == "set"
    # Greeting: 2 s at 16 kHz, stored at 8 kHz
    upload = tmp_path / "hello.wav"
    write_wav(upload, np.sin(np.arange(16000) / 4) * 5000)  # 8 kHz writer: 2 s
    data = bytearray(upload.read_bytes())
    data[24:28], data[28:32] = (4000).to_bytes(4, "little"), (8000).to_bytes(4, "little")  # now 4 kHz: 4 s
    upload.write_bytes(bytes(data))
    page.set_input_files("#f-file", str(upload))
    page.select_option("#f-kind", "unavailable")
    page.click("#greeting-form button[value=upload]")
    assert "unavailable greeting of mailbox 201 set (4.0 s)" in page.inner_text("main")
    # A corrupt file: one line, nothing more stored
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not a wav file at all")
    page.set_input_files("#f-file", str(bad))
    page.select_option("#f-kind", "busy")
    page.click("#greeting-form button[value=upload]")
    assert "not a readable WAV file" in page.inner_text("main")
    assert page.inner_text("#greetings") == "unavailable"
    # Delete the message
    page.click("#messages button[type=submit]")
    assert "deleted" in page.inner_text("main") and page.locator("#no-messages").count() == 1
    listing = console(box["sock"], "mailbox list")
    assert listing[1].split()[2:4] == ["0", "0"] and listing[1].split()[5] == "set"
    assert not errors, errors
    assert not any(Path(box["folder"], "voicemail", ".uploads").iterdir())
