"""The voicemail pages in a real browser: Debian's chromium driven by Playwright, against
``linebox web`` (waitress) and ``linebox run`` on the virtual board, each a process of its own,
started by tests/browser_helpers.py. A message is in the store before the engine
starts; the installer plays it in the browser (the browser decodes the WAV the box serves),
sets the PIN, uploads a greeting (16 kHz: converted), and deletes the message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from browser_helpers import BROWSER_MARKS, PASSWORD, USERS, console, open_page, running_box, write_config

from drivers.audiofile import write_wav
from firmware.config import demo_config
from firmware.voicemail.store import VoicemailStore

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vmbox")
    write_config(folder / "linebox.db", demo_config())
    store = VoicemailStore(folder / "linebox.db", folder / "voicemail")
    store.save("201", "2125557788", "ACME", 1_800_000_000.0, np.sin(np.arange(24000) / 3) * 6000)  # 3 s
    store.close()
    with running_box(folder) as running:
        yield running


def test_the_installer_plays_sets_uploads_and_deletes(box, tmp_path):
    page, errors = open_page(box, all_errors=False)
    # First boot: the wizard makes the admin account and logs in (as tests/test_web_browser.py)
    page.goto(box.url + "/")
    page.wait_for_url("**/setup")
    page.fill("#f-token", (box.folder / "web-setup-token").read_text().strip())
    page.select_option("#f-zone", "us")
    page.fill("#f-name", USERS["admin"])
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
    assert "is not a WAV file the box reads" in page.inner_text("main")
    assert page.inner_text("#greetings") == "unavailable"
    # Delete the message
    page.click("#messages button[type=submit]")
    assert "deleted" in page.inner_text("main") and page.locator("#no-messages").count() == 1
    listing = console(box.sock, "mailbox list")
    assert listing[1].split()[2:4] == ["0", "0"] and listing[1].split()[5] == "set"
    assert not errors, errors
    assert not any(Path(box.folder, "voicemail", ".uploads").iterdir())
