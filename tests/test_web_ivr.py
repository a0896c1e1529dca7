"""The IVR page with Flask's test client: flows listed and edited as YAML (checked as a config
import is: errors with their line or field, nothing half-stored), prompts uploaded (converted
to 8 kHz at -18 dBm0, refused in one line with nothing stored)."""

from __future__ import annotations

import html
import io
import re

import numpy as np
import pytest

from drivers.audiofile import encode_wav, read_audio
from dsp.levels import signal_dbm0
from firmware.speech.prompt import active_level_dbm0
from tests.web_helpers import PASSWORD, admin_client, login, make_accounts, make_app, make_services, token_of


@pytest.fixture
def admin(tmp_path):
    with admin_client(tmp_path, others=[("al", "agent")]) as signed_in:
        yield signed_in


def _flow_form(client, name="main"):
    page = client.get(f"/ivr/flow/{name}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    flow = html.unescape(re.search(r'<textarea id="f-flow" name="flow"[^>]*>(.*?)</textarea>', text, re.S).group(1))
    revision = re.search(r'name="revision" value="(\d+)"', text).group(1)
    return {"csrf_token": token_of(page), "revision": revision, "flow": flow}


def test_the_page_lists_the_flows_and_links_each(admin):
    client, _ = admin
    page = client.get("/ivr").get_data(as_text=True)
    assert 'href="/ivr/flow/main"' in page and "en, es" in page


def test_a_flow_edited_as_yaml_is_stored_and_new_calls_take_it(admin):
    client, services = admin
    form = _flow_form(client)
    assert "start: hours" in form["flow"]
    form["flow"] = form["flow"].replace("timeout_s: 5", "timeout_s: 7")
    answer = client.post("/ivr/flow/main", data=form)
    assert answer.status_code == 302
    menu = services.store.load().ivr_flow("main").node("welcome")
    assert menu.timeout_s == 7
    assert services.audit.recent(1)[0].action == "ivr flow"


@pytest.mark.parametrize("change,error", [
    (lambda t: t.replace("start: hours", "start: [hours"), "line "),  # YAML syntax: its line and column
    (lambda t: t.replace("next: support", "next: nowhere", 1), "node 'nowhere' does not exist in flow main"),
    (lambda t: t.replace("timeout_s: 5", "timeout_s: 500"), "nodes[1].timeout_s: expected"),
    (lambda t: t.replace("name: '201'", "name: '299'"), "voicemail 299"),
    (lambda t: "just text", "the flow is a mapping"),
])
def test_a_refused_flow_shows_its_error_and_stores_nothing(admin, change, error):
    client, services = admin
    before, revision = services.store.load(), services.store.config_version()
    form = _flow_form(client)
    form["flow"] = change(form["flow"])
    answer = client.post("/ivr/flow/main", data=form)
    page = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 400 and "Nothing was stored" in page and error in page, page[-2000:]
    assert services.store.load() == before and services.store.config_version() == revision


def test_every_problem_of_a_flow_is_shown_at_once(admin):
    """As ``linebox config validate`` finds them (firmware/config/collect.py): a type error does
    not hide a bad reference."""
    client, services = admin
    before, revision = services.store.load(), services.store.config_version()
    form = _flow_form(client)
    form["flow"] = form["flow"].replace("timeout_s: 5", "timeout_s: 500").replace("next: support", "next: nowhere", 1)
    answer = client.post("/ivr/flow/main", data=form)
    page = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 400 and "Nothing was stored" in page
    assert "nodes[1].timeout_s: expected" in page and "node 'nowhere' does not exist in flow main" in page
    assert services.store.load() == before and services.store.config_version() == revision


def test_a_flow_changed_by_someone_else_meanwhile_is_refused(admin):
    client, services = admin
    form = _flow_form(client)
    services.store.update(lambda c: c, source="another hand")
    answer = client.post("/ivr/flow/main", data=form)
    assert answer.status_code == 400 and "changed by someone else" in answer.get_data(as_text=True)


def test_an_agent_may_not_see_the_ivr_page(tmp_path):
    accounts = make_accounts(tmp_path)
    accounts.add("ada", "admin", PASSWORD, 0.0)
    accounts.add("al", "agent", PASSWORD, 0.0)
    services = make_services(tmp_path, accounts=accounts)
    client = make_app(services).test_client()
    login(client, "al")
    assert client.get("/ivr").status_code == 403
    services.store.close()


def _upload(client, data: bytes, name="welcome-acme", language="en", filename="welcome.wav"):
    page = client.get("/ivr")
    return client.post("/ivr/prompts", data={"csrf_token": token_of(page), "name": name, "language": language,
                                             "file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def _speechlike(rate: int, seconds: float, level: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)  # syllables
    tone = np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1100 * t)
    voice = level * envelope * tone
    silence = np.zeros(rate // 2)
    return np.concatenate([silence, voice, silence])


def _wav(samples: np.ndarray, rate: int) -> bytes:
    """A 16-bit mono WAV at ``rate`` (encode_wav writes 8 kHz: patch its rate fields)."""
    data = bytearray(encode_wav(np.clip(np.round(samples), -32768, 32767).astype(np.int16)))
    data[24:28] = rate.to_bytes(4, "little")
    data[28:32] = (rate * 2).to_bytes(4, "little")
    return bytes(data)


def test_an_uploaded_wav_becomes_an_8khz_prompt_at_minus_18_dbm0(admin):
    client, services = admin
    answer = _upload(client, _wav(_speechlike(16000, 2.0, 3000.0), 16000))
    assert answer.status_code == 302
    stored = services.data_dir / "sounds" / "en" / "welcome-acme.wav"
    samples = read_audio(stored)
    assert abs(samples.size / 8000 - 2.0) < 0.15  # the half seconds of silence trimmed
    assert abs(active_level_dbm0(samples) - (-18.0)) < 0.5  # ITU-T P.56 active level
    page = client.get("/ivr").get_data(as_text=True)
    assert "welcome-acme" in page
    assert signal_dbm0(samples.astype(np.float64)) < -17.0  # plain RMS (pauses included) below the active level


@pytest.mark.parametrize("data,name,language,filename,error", [
    (b"RIFF\x10\x00\x00\x00WAVEjunkjunk", "x", "en", "bad.wav", "is not a WAV file the box reads"),
    (b"ID3\x03\x00" + bytes(100), "x", "en", "song.mp3", "is MP3"),
    (None, "../etc", "en", "a.wav", "is not a prompt name"),
    (None, "x.wav", "en", "a.wav", "is not a prompt name"),
    (None, "x", "english", "a.wav", "is not a language code"),
    (np.zeros(8000), "x", "en", "silence.wav", "the audio is silent"),
])
def test_a_refused_upload_is_one_line_and_stores_nothing(admin, data, name, language, filename, error):
    client, services = admin
    if data is None:
        data = _wav(_speechlike(8000, 1.0, 3000.0), 8000)
    elif isinstance(data, np.ndarray):
        data = _wav(data, 8000)
    answer = _upload(client, data, name=name, language=language, filename=filename)
    page = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 400 and error in page
    problems = re.search(r'<ul class="error" id="prompt-problems">(.*?)</ul>', page, re.S).group(1)
    assert problems.count("<li>") == 1 and "\n" not in problems.replace("</li>", "").strip()
    assert not (services.data_dir / "sounds").exists() or not any((services.data_dir / "sounds").rglob("*.wav"))


def test_a_strangers_favicon_request_keeps_the_login_forms_token(tmp_path):
    """A fresh browser asks /favicon.ico after the login page: that must not replace the token the
    form carries (it did: the first login in a new browser was refused as out of date)."""
    accounts = make_accounts(tmp_path)
    accounts.add("ada", "admin", PASSWORD, 0.0)
    services = make_services(tmp_path, accounts=accounts)
    client = make_app(services).test_client()
    page = client.get("/login")
    client.get("/favicon.ico")
    answer = client.post("/login", data={"csrf_token": token_of(page), "name": "ada", "password": PASSWORD})
    assert answer.status_code == 302
    services.store.close()


def test_typed_text_becomes_a_prompt_with_espeak_and_bad_text_is_refused(admin):
    client, services = admin
    page = client.get("/ivr")
    answer = client.post("/ivr/prompts/text", data={"csrf_token": token_of(page), "name": "bonjour",
                                                    "language": "fr", "text": "Bonjour et bienvenue"})
    assert answer.status_code == 302
    samples = read_audio(services.data_dir / "sounds" / "fr" / "bonjour.wav")
    assert samples.size > 4000 and abs(active_level_dbm0(samples) - (-18.0)) < 0.5
    refused = client.post("/ivr/prompts/text", data={"csrf_token": token_of(page), "name": "vide",
                                                     "language": "fr", "text": "   "})
    assert refused.status_code == 400 and "the prompt text is empty" in refused.get_data(as_text=True)
    assert not (services.data_dir / "sounds" / "fr" / "vide.wav").exists()
