"""The Media page in a real browser: Debian's chromium driven by Playwright, against ``linebox web``
(waitress) and ``linebox run`` on the virtual board, each a process of its own (tests/browser_helpers.py).

The installer uploads a music class that a queue already names (a real WAV of Debian's music
library) and a queue greeting (a real Asterisk recording), plays both in the browser (it decodes
the WAV the box serves, and plays it), picks the greeting for the queue, is refused a corrupt file
in one line, and deletes both. After each change the running engine has the new files in memory
without a restart (asked on its console: ``show media``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from browser_helpers import BROWSER_MARKS, console, logged_in, office_config, running_box, wait_for

from drivers.audiofile import read_audio

pytestmark = [mark for mark in BROWSER_MARKS if mark.name != "slow"]  # about 35 s with its set-up: not slow

MUSIC = Path("/usr/share/asterisk/moh/manolo_camp-morning_coffee.wav")  # asterisk-moh-opsound-wav
GREETING = Path("/usr/share/asterisk/sounds/en_US_f_Allison/queue-thankyou.wav")  # asterisk-core-sounds-en-wav
PLAYED = """audio => new Promise(done => {
    audio.preload = 'auto';
    audio.muted = true;  // a muted page may play without a click (the browser's autoplay rule)
    audio.onerror = () => done({error: audio.error ? audio.error.code : -1});
    audio.ontimeupdate = () => { if (audio.currentTime > 0.3) { audio.pause(); done({duration: audio.duration}); } };
    audio.load();
    audio.play().catch(error => done({error: String(error)}));
})"""


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    for path in (MUSIC, GREETING):
        if not path.is_file():
            pytest.skip(f"{path} is not installed (see the Makefile's APT_PACKAGES)")
    office = office_config()
    config = dataclasses.replace(office, queues=tuple(dataclasses.replace(queue, music="jazz")
                                                      for queue in office.queues))
    with running_box(tmp_path_factory.mktemp("mediabox"), config, roles=("admin",)) as running:
        yield running


def _in_memory(box, line: str) -> bool:
    return line in console(box.sock, "show media")


def test_music_and_greetings_uploaded_played_picked_and_deleted_live(box, tmp_path):
    page, errors = logged_in(box, "admin")
    page.goto(box.url + "/media")
    assert "queue support names music class jazz, which has no files" in page.inner_text("#music-missing")
    assert _in_memory(box, "music jazz: no playable file")
    # Music: a class the queue names, uploaded; the engine reads it at once
    page.fill("#m-class", "jazz")
    page.set_input_files("#m-file", str(MUSIC))
    page.click("#music-form button[type=submit]")
    seconds = read_audio(MUSIC).size / 8000
    assert f"music jazz: {MUSIC.name} stored ({seconds:.1f} s); new callers hear the change now" in \
        page.inner_text("main")
    assert page.locator("#music-missing").count() == 0
    assert _in_memory(box, f"music jazz: {seconds:.1f} s")
    played = page.locator("#music audio").evaluate(PLAYED)
    assert abs(played.get("duration", -1) - seconds) < 0.05, played
    # A corrupt file: one line, nothing stored, the engine not disturbed
    bad = tmp_path / "broken.wav"
    bad.write_bytes(MUSIC.read_bytes()[:30_000][:44] + b"\x00")  # a header, then cut: data truncated
    page.fill("#m-class", "jazz")
    page.set_input_files("#m-file", str(bad))
    page.click("#music-form button[type=submit]")
    problems = page.locator("#media-problems li").all_inner_texts()
    assert len(problems) == 1 and problems[0].startswith("music: broken.wav is not a WAV file the box reads"), problems
    assert page.locator("#music tbody tr").count() == 1
    # A queue greeting: uploaded, played, picked for the queue, then the engine has it
    page.fill("#g-name", "welcome")
    page.set_input_files("#g-file", str(GREETING))
    page.click("#greeting-form button[type=submit]")
    assert "greeting welcome stored: pick it for a queue below; new callers hear the change now" in \
        page.inner_text("main")
    stored = read_audio(box.folder / "sounds" / "welcome.wav").size / 8000  # trimmed of its silence
    played = page.locator("#greetings audio").evaluate(PLAYED)
    assert abs(played.get("duration", -1) - stored) < 0.05, played
    page.select_option("select[aria-label='greeting of queue support']", "welcome")
    page.click("#queue-greetings button[type=submit]")
    assert "queue support: greeting welcome; new callers hear it" in page.inner_text("main")
    wait_for(lambda: _in_memory(box, f"recording welcome: {stored:.1f} s"), "the engine reading the greeting")
    # A greeting in use is kept; once unpicked it is deleted
    page.click("#greetings button[type=submit]")
    assert "greeting welcome is the greeting of queue support" in page.inner_text("#media-problems")
    page.select_option("select[aria-label='greeting of queue support']", "")
    page.click("#queue-greetings button[type=submit]")
    page.click("#greetings button[type=submit]")
    assert "greeting welcome deleted; new callers hear the change now" in page.inner_text("main")
    assert not (box.folder / "sounds" / "welcome.wav").exists()
    assert not _in_memory(box, f"recording welcome: {stored:.1f} s")
    # Music deleted: the engine drops it at once (its callers hear default again)
    page.click("#music button[type=submit]")
    assert "new callers hear the change now" in page.inner_text("main")
    assert "which has no files" in page.inner_text("#music-missing")
    assert _in_memory(box, "music jazz: no playable file")
    assert errors == []
