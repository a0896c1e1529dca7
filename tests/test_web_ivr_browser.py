"""The IVR page in a real browser: Debian's chromium driven by Playwright against ``linebox web``
(waitress, a process of its own, as on the box): a flow edited with a mistake (its error shown,
nothing stored), then corrected and stored; a prompt uploaded, a corrupt one refused; a named
prompt made of a typed text in one language and Debian's recording in another, both played in
the page (the audio elements load: their durations are those of what the engine says), and a
wrong field refused with its error beside it."""

from __future__ import annotations

import numpy as np
import pytest
from browser_helpers import BROWSER_MARKS, logged_in, running_box

from drivers.audiofile import encode_wav, read_audio
from firmware.config import ConfigStore, demo_config
from firmware.config.ivrmodel import NamedPrompt
from firmware.speech.say import sound_dir
from linebox.storage import board_ports

pytestmark = BROWSER_MARKS


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    with running_box(tmp_path_factory.mktemp("ivrweb"), demo_config(), roles=("admin",), engine=False) as running:
        yield running


def test_edit_a_flow_with_a_mistake_then_correct_it(web):
    page, errors = logged_in(web, "admin")
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
    with ConfigStore(web.db, boards=board_ports) as store:
        assert store.load().ivr_flow("main").node("welcome").timeout_s == 6
    assert not errors, errors


def test_upload_a_prompt_and_a_corrupt_one(web, tmp_path):
    page, errors = logged_in(web, "admin")
    page.goto(web.url + "/ivr")
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
    assert not (web.folder / "sounds" / "en" / "broken.wav").exists()
    assert not errors, errors


def audio_duration_s(page, src: str) -> float:
    """The duration the browser reads from the audio element playing ``src`` (it loads the file)."""
    return page.evaluate("""async (src) => {
        const audio = document.querySelector(`audio[src="${src}"]`);
        audio.preload = "auto";
        audio.load();
        await new Promise((done, failed) => {
            if (audio.readyState >= 1) { done(); return; }
            audio.addEventListener("loadedmetadata", done, {once: true});
            audio.addEventListener("error", () => failed(new Error("audio error " + audio.error.code)), {once: true});
        });
        return audio.duration;
    }""", src)


def test_a_named_prompt_from_text_and_a_recording_played_and_a_wrong_field(web):
    page, errors = logged_in(web, "admin")
    page.goto(web.url + "/ivr")
    page.fill("#n-name", "greeting")
    page.fill("#n-language", "fr")
    page.fill("#n-text", "Bonjour, et bienvenue chez Acme.")
    page.click("#named-text-form button[type=submit]")
    page.wait_for_url("**/ivr")
    assert "prompt greeting in fr stored (text)" in page.inner_text(".flash")
    debian = sound_dir("en") / "dir-welcome.wav"  # Debian's asterisk-core-sounds-en-wav
    page.fill("#nu-name", "greeting")
    page.fill("#nu-language", "en")
    page.set_input_files("#nu-file", str(debian))
    page.click("#named-upload-form button[type=submit]")
    page.wait_for_url("**/ivr")
    assert "prompt greeting in en stored (recording from dir-welcome.wav)" in page.inner_text(".flash")
    with ConfigStore(web.db, boards=board_ports) as store:
        assert store.load().named_prompt("greeting") == NamedPrompt(
            "greeting", text=(("fr", "Bonjour, et bienvenue chez Acme."),), recording=(("en", "greeting"),))
    rows = page.inner_text("#named-prompts")
    assert "greeting\tfr\t“Bonjour, et bienvenue chez Acme.”" in rows and "greeting\ten\trecording greeting" in rows
    # the players load what the engine says: the stored recording (8 kHz, trimmed) to the sample
    stored = read_audio(web.folder / "sounds" / "en" / "greeting.wav")
    assert abs(audio_duration_s(page, "/ivr/named/greeting/en.wav") - stored.size / 8000) < 0.001
    assert 0 < stored.size / 8000 <= read_audio(debian).size / 8000
    played_s = audio_duration_s(page, "/ivr/named/greeting/fr.wav")  # no engine here: the page synthesises it
    [cached] = (web.folder / "speech" / "tts").glob("*.wav")  # the French text, into the engine's cache
    spoken_s = read_audio(cached).size / 8000
    assert spoken_s > 1.0 and abs(played_s - spoken_s) < 0.001  # a sentence, not a click
    # a wrong field: its error beside it, nothing stored
    page.fill("#n-name", "greeting")
    page.fill("#n-language", "F R")
    page.fill("#n-text", "Hallo")
    page.click("#named-text-form button[type=submit]")
    assert "is not a language code" in page.inner_text("#n-language-error")
    assert "Nothing was stored" in page.inner_text("#named-problems")
    assert page.input_value("#n-text") == "Hallo"  # what was typed is kept
    with ConfigStore(web.db, boards=board_ports) as store:
        assert store.load().named_prompt("greeting").languages() == ["en", "fr"]
    assert not errors, errors
