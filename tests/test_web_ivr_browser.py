"""The IVR page in a real browser: Debian's chromium driven by Playwright against ``linebox web``
(waitress, a process of its own, as on the box): a flow edited with a mistake (its error shown,
nothing stored), then corrected and stored; a prompt uploaded, a corrupt one refused."""

from __future__ import annotations

import numpy as np
import pytest
from browser_helpers import BROWSER_MARKS, logged_in, running_box

from drivers.audiofile import encode_wav
from firmware.config import ConfigStore, demo_config
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
